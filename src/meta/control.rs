//! Control-plane changes: every change to who may do what (tenants, users, keys, limits,
//! topics, the keyring) and to buckets and their settings, as one value. A change is
//! applied to the store by [`ControlChange::apply`], the same way whether it was made on
//! this instance or read from the log the instances of a cluster share, so that every
//! instance that applies the same changes in the same order ends in the same state; the
//! caches kept in front of the store follow through [`ControlListener`].

use super::{
    AuditEntry, BucketConfigKind, BucketRecord, Error, KeyRecord, KeyringKey, LockConfig, Quota, Rates, Result, Store, TenantRecord, TopicRule, UserRecord,
    Versioning, Visibility,
};

use serde::{Deserialize, Serialize};

/// One control-plane change, as the shared log carries it (secrets only sealed).
/// Externally tagged: serde's internally tagged enums cannot carry the records' `i128` times.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ControlChange {
    /// Creates a tenant (`AlreadyExists` if it does).
    TenantCreate {
        /// The new tenant.
        record: TenantRecord,
    },
    /// Sets a tenant's quota.
    TenantQuota {
        /// The tenant.
        name: String,
        /// Its new quota.
        quota: Quota,
    },
    /// Deletes a tenant that owns nothing.
    TenantDelete {
        /// The tenant.
        name: String,
    },
    /// Creates a user.
    UserCreate {
        /// The new user.
        record: UserRecord,
    },
    /// Deletes a user with its keys.
    UserDelete {
        /// Its tenant.
        tenant: String,
        /// Its name.
        name: String,
    },
    /// Stores an access key: created, enabled or disabled (its secret sealed under the
    /// master key the instances share).
    KeyPut {
        /// The key as it now is.
        record: KeyRecord,
    },
    /// Deletes an access key.
    KeyDelete {
        /// Its id.
        access_key: String,
    },
    /// Creates a bucket's record (its storage was created by the instance that took the
    /// request).
    BucketCreate {
        /// The new bucket.
        record: BucketRecord,
    },
    /// Deletes an empty bucket's record and settings.
    BucketDelete {
        /// The bucket.
        name: String,
    },
    /// Gives a bucket to a tenant and sets its visibility.
    BucketUpdate {
        /// The bucket.
        name: String,
        /// Its tenant.
        tenant: String,
        /// Its visibility.
        visibility: Visibility,
    },
    /// Sets a bucket's quota.
    BucketQuota {
        /// The bucket.
        name: String,
        /// Its new quota.
        quota: Quota,
    },
    /// Sets a bucket's versioning state.
    BucketVersioning {
        /// The bucket.
        name: String,
        /// Its new state.
        versioning: Versioning,
        /// Whether its engine stores unversioned objects at their key (so enabling
        /// versioning makes each current object a version).
        at_key: bool,
    },
    /// Sets a bucket's Object Lock configuration.
    BucketLock {
        /// The bucket.
        name: String,
        /// Its configuration.
        lock: LockConfig,
    },
    /// Sets (or with `None` removes) one of a bucket's configuration documents.
    BucketConfig {
        /// The bucket.
        bucket: String,
        /// Which document.
        kind: BucketConfigKind,
        /// The document, validated by the instance that took the request.
        document: Option<String>,
    },
    /// Sets a bucket's ACL: its visibility and its other grants.
    BucketAcl {
        /// The bucket.
        bucket: String,
        /// Its visibility.
        visibility: Visibility,
        /// Its other grants (JSON), if any.
        grants: Option<String>,
    },
    /// Stores a topic rule, replacing the bucket's rule for the same topic.
    TopicPut {
        /// The rule.
        rule: TopicRule,
    },
    /// Deletes a topic rule.
    TopicDelete {
        /// Its bucket.
        bucket: String,
        /// Its topic.
        topic: String,
    },
    /// Sets (or with `None` removes) the rate limit override of a subject
    /// (`tenant:NAME`, `key:ACCESSKEY`).
    Limits {
        /// The subject's id.
        subject: String,
        /// Its override.
        rates: Option<Rates>,
    },
    /// Creates a keyring key (`AlreadyExists` if it does: two racing creations cannot
    /// both win, and the loser's material is never used).
    KeyringCreate {
        /// The new key, its first version wrapped.
        key: KeyringKey,
    },
    /// Adds a version to a keyring key, if it still has the versions the rotation saw.
    KeyringRotate {
        /// The key's id.
        id: String,
        /// The number of versions it had (a rotation made meanwhile wins; this one fails).
        had: usize,
        /// The new version, wrapped.
        wrapped: String,
    },
    /// Enables or disables a keyring key.
    KeyringEnable {
        /// The key's id.
        id: String,
        /// Its new state.
        enabled: bool,
    },
}

/// What applying a change found, for the caller and the caches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// Done; nothing to report.
    Done,
    /// A bucket creation found the bucket existing: this is it (nothing changed).
    BucketExists(BucketRecord),
    /// The bucket as the change left it.
    Bucket(BucketRecord),
    /// The tenant as the change left it.
    Tenant(TenantRecord),
    /// The keyring key as the change left it.
    Keyring(KeyringKey),
    /// The access keys deleted with a user.
    KeysDeleted(Vec<String>),
}

/// A cache in front of the store, told of every change applied (here or read from the
/// shared log) so that it follows the store.
pub trait ControlListener: Send + Sync {
    /// `change` was applied with `outcome`.
    fn applied(&self, change: &ControlChange, outcome: &Applied);
}

impl ControlChange {
    /// Applies the change to `store`, recording `audit` with it (on the instance that
    /// took the request; `None` when replaying another's).
    ///
    /// # Errors
    /// The store's, as the matching store method gives it.
    pub fn apply(&self, store: &dyn Store, audit: Option<&AuditEntry>) -> Result<Applied> {
        let done = |r: Result<()>| r.map(|()| Applied::Done);
        match self {
            Self::TenantCreate { record } => done(store.tenant_create(record, audit)),
            Self::TenantQuota { name, quota } => store.tenant_set_quota(name, *quota, audit).map(Applied::Tenant),
            Self::TenantDelete { name } => done(store.tenant_delete(name, audit)),
            Self::UserCreate { record } => done(store.user_create(record, audit)),
            Self::UserDelete { tenant, name } => store.user_delete(tenant, name, audit).map(Applied::KeysDeleted),
            Self::KeyPut { record } => done(store.key_put(record, audit)),
            Self::KeyDelete { access_key } => done(store.key_delete(access_key, audit)),
            Self::BucketCreate { record } => Ok(store.bucket_create(record, audit)?.map_or(Applied::Done, Applied::BucketExists)),
            Self::BucketDelete { name } => done(store.bucket_delete(name, audit)),
            Self::BucketUpdate { name, tenant, visibility } => store.bucket_update(name, tenant, *visibility, audit).map(Applied::Bucket),
            Self::BucketQuota { name, quota } => store.bucket_set_quota(name, *quota, audit).map(Applied::Bucket),
            Self::BucketVersioning { name, versioning, at_key } => store.bucket_set_versioning(name, *versioning, *at_key, audit).map(Applied::Bucket),
            Self::BucketLock { name, lock } => store.bucket_set_lock(name, *lock, audit).map(Applied::Bucket),
            Self::BucketConfig { bucket, kind, document } => done(store.bucket_config_set(bucket, *kind, document.as_deref(), audit)),
            Self::BucketAcl { bucket, visibility, grants } => done(store.bucket_acl_set(bucket, *visibility, grants.as_deref(), audit)),
            Self::TopicPut { rule } => done(store.topic_put(rule, audit)),
            Self::TopicDelete { bucket, topic } => done(store.topic_delete(bucket, topic, audit)),
            Self::Limits { subject, rates } => done(store.limits_set(subject, rates.as_ref(), audit)),
            Self::KeyringCreate { key } => {
                if store.keyring_get(&key.id)?.is_some() {
                    return Err(Error::AlreadyExists);
                }
                store.keyring_put(key, audit)?;
                Ok(Applied::Keyring(key.clone()))
            }
            Self::KeyringRotate { id, had, wrapped } => {
                let mut key = store.keyring_get(id)?.ok_or(Error::NotFound)?;
                if key.versions.len() != *had {
                    return Err(Error::InvalidState(format!("keyring key {id} was rotated meanwhile: rotate it again")));
                }
                key.versions.push(wrapped.clone());
                store.keyring_put(&key, audit)?;
                Ok(Applied::Keyring(key))
            }
            Self::KeyringEnable { id, enabled } => {
                let mut key = store.keyring_get(id)?.ok_or(Error::NotFound)?;
                key.enabled = *enabled;
                store.keyring_put(&key, audit)?;
                Ok(Applied::Keyring(key))
            }
        }
    }

    /// The bucket a change concerns, if it concerns one.
    #[must_use]
    pub fn bucket(&self) -> Option<&str> {
        match self {
            Self::BucketCreate { record } => Some(&record.name),
            Self::BucketDelete { name }
            | Self::BucketUpdate { name, .. }
            | Self::BucketQuota { name, .. }
            | Self::BucketVersioning { name, .. }
            | Self::BucketLock { name, .. } => Some(name),
            Self::BucketConfig { bucket, .. } | Self::BucketAcl { bucket, .. } | Self::TopicDelete { bucket, .. } => Some(bucket),
            Self::TopicPut { rule } => Some(&rule.bucket),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_travel_as_json_with_their_nanosecond_times() {
        let record = TenantRecord { name: "corp".into(), created_ns: 1_796_174_108_796_534_636, quota: Quota::default() };
        let change = ControlChange::TenantCreate { record };
        let json = serde_json::to_string(&change).unwrap();
        assert!(json.starts_with(r#"{"tenant_create":{"record":{"name":"corp","created_ns":1796174108796534636"#), "{json}");
        assert_eq!(serde_json::from_str::<ControlChange>(&json).unwrap(), change);
    }

    #[test]
    fn a_keyring_rotation_that_lost_a_race_fails_and_keeps_the_winner() {
        let dir = tempfile::tempdir().unwrap();
        let store = super::super::SledStore::open(dir.path()).unwrap();
        let key = KeyringKey { id: "k".into(), created_ns: 0, enabled: true, versions: vec!["v1".into()] };
        ControlChange::KeyringCreate { key: key.clone() }.apply(&store, None).unwrap();
        assert!(matches!(ControlChange::KeyringCreate { key }.apply(&store, None), Err(Error::AlreadyExists)));
        let rotate = |wrapped: &str| ControlChange::KeyringRotate { id: "k".into(), had: 1, wrapped: wrapped.into() }.apply(&store, None);
        assert!(matches!(rotate("v2"), Ok(Applied::Keyring(k)) if k.versions == ["v1", "v2"]));
        assert!(matches!(rotate("v2-lost"), Err(Error::InvalidState(_))));
        assert_eq!(store.keyring_get("k").unwrap().unwrap().versions, ["v1", "v2"]);
    }
}

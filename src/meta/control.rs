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

/// What the control log has decided at one of its entries: every tenant, user, access key,
/// bucket and bucket setting, topic rule, limit override and keyring key. A checkpoint of a
/// cluster's log carries it, so that an instance joining late, or one left behind the
/// log's compacted start, needs the checkpoint and the entries after it rather than the
/// whole history. What is each instance's own is left out: the objects and bytes a bucket
/// holds in this index, a key's last use.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlState {
    /// Every tenant.
    pub tenants: Vec<TenantRecord>,
    /// Every user.
    pub users: Vec<UserRecord>,
    /// Every access key (secrets sealed).
    pub keys: Vec<KeyRecord>,
    /// Every bucket, its usage zero.
    pub buckets: Vec<BucketRecord>,
    /// Every bucket's configuration documents (its ACL grants among them).
    pub bucket_config: Vec<(String, BucketConfigKind, String)>,
    /// Every topic rule.
    pub topics: Vec<TopicRule>,
    /// Every rate limit override, by subject.
    pub limits: Vec<(String, Rates)>,
    /// The keyring, its versions wrapped.
    pub keyring: Vec<KeyringKey>,
}

impl ControlState {
    /// The control state `store` holds.
    ///
    /// # Errors
    /// The store's.
    pub fn of(store: &dyn Store) -> Result<Self> {
        Ok(Self {
            tenants: store.tenant_list()?,
            users: store.user_list()?,
            keys: store.key_list()?.into_iter().map(|k| KeyRecord { last_used_ns: 0, ..k }).collect(),
            buckets: store.bucket_list()?.into_iter().map(|b| BucketRecord { objects: 0, bytes: 0, ..b }).collect(),
            bucket_config: store.bucket_config_list()?,
            topics: store.topic_list()?,
            limits: store.limits_all()?,
            keyring: store.keyring_list()?,
        })
    }

    /// The changes that turn `here` (a store's state) into this one, in an order the store
    /// accepts: what is created or set first (tenants before their users, users before
    /// their keys, buckets before their settings), what is gone last (keys and settings
    /// before their users and buckets, those before their tenants). `at_key`: whether a
    /// bucket's engine stores unversioned objects at their key (see
    /// [`ControlChange::BucketVersioning`]). Records are compared by what the log sets of
    /// them, not by when an instance made them (each makes its root tenant itself).
    #[must_use]
    pub fn changes_from(&self, here: &Self, at_key: impl Fn(&str) -> bool) -> Vec<ControlChange> {
        use std::collections::{BTreeMap, BTreeSet};
        type C = ControlChange;
        let mut changes = Vec::new();

        let tenants: BTreeMap<&str, &TenantRecord> = here.tenants.iter().map(|t| (t.name.as_str(), t)).collect();
        for t in &self.tenants {
            match tenants.get(t.name.as_str()) {
                None => changes.push(C::TenantCreate { record: t.clone() }),
                Some(h) if h.quota != t.quota => changes.push(C::TenantQuota { name: t.name.clone(), quota: t.quota }),
                Some(_) => {}
            }
        }
        // A user whose role changed is made again; its keys, deleted with it, are put back.
        let users: BTreeMap<(&str, &str), &UserRecord> = here.users.iter().map(|u| ((u.tenant.as_str(), u.name.as_str()), u)).collect();
        let mut remade = BTreeSet::new();
        for u in &self.users {
            match users.get(&(u.tenant.as_str(), u.name.as_str())) {
                Some(h) if h.role == u.role => continue,
                Some(_) => {
                    changes.push(C::UserDelete { tenant: u.tenant.clone(), name: u.name.clone() });
                    remade.insert((u.tenant.as_str(), u.name.as_str()));
                }
                None => {}
            }
            changes.push(C::UserCreate { record: u.clone() });
        }
        let keys: BTreeMap<&str, &KeyRecord> = here.keys.iter().map(|k| (k.access_key.as_str(), k)).collect();
        for k in &self.keys {
            let same = keys.get(k.access_key.as_str()).is_some_and(|h| KeyRecord { last_used_ns: k.last_used_ns, ..(*h).clone() } == *k);
            if !same || remade.contains(&(k.tenant.as_str(), k.user.as_str())) {
                changes.push(C::KeyPut { record: k.clone() });
            }
        }
        let buckets: BTreeMap<&str, &BucketRecord> = here.buckets.iter().map(|b| (b.name.as_str(), b)).collect();
        for b in &self.buckets {
            let Some(h) = buckets.get(b.name.as_str()) else {
                changes.push(C::BucketCreate { record: BucketRecord { objects: 0, bytes: 0, ..b.clone() } });
                continue;
            };
            let name = || b.name.clone();
            if (h.tenant.as_str(), h.visibility) != (b.tenant.as_str(), b.visibility) {
                changes.push(C::BucketUpdate { name: name(), tenant: b.tenant.clone(), visibility: b.visibility });
            }
            if h.quota != b.quota {
                changes.push(C::BucketQuota { name: name(), quota: b.quota });
            }
            if h.versioning != b.versioning {
                changes.push(C::BucketVersioning { name: name(), versioning: b.versioning, at_key: at_key(&b.name) });
            }
            // A lock, once set, is never removed (as in S3).
            if let Some(lock) = b.object_lock.filter(|l| h.object_lock != Some(*l)) {
                changes.push(C::BucketLock { name: name(), lock });
            }
        }
        let kept: BTreeSet<&str> = self.buckets.iter().map(|b| b.name.as_str()).collect();
        let documents: BTreeMap<(&str, BucketConfigKind), &str> = here.bucket_config.iter().map(|(b, k, d)| ((b.as_str(), *k), d.as_str())).collect();
        let wanted: BTreeMap<(&str, BucketConfigKind), &str> = self.bucket_config.iter().map(|(b, k, d)| ((b.as_str(), *k), d.as_str())).collect();
        for (&(bucket, kind), &document) in &wanted {
            if documents.get(&(bucket, kind)) != Some(&document) {
                changes.push(C::BucketConfig { bucket: bucket.to_owned(), kind, document: Some(document.to_owned()) });
            }
        }
        for &(bucket, kind) in documents.keys().filter(|k| kept.contains(k.0) && !wanted.contains_key(k)) {
            changes.push(C::BucketConfig { bucket: bucket.to_owned(), kind, document: None });
        }
        let topics: BTreeMap<(&str, &str), &TopicRule> = here.topics.iter().map(|t| ((t.bucket.as_str(), t.topic.as_str()), t)).collect();
        for t in self.topics.iter().filter(|t| topics.get(&(t.bucket.as_str(), t.topic.as_str())) != Some(t)) {
            changes.push(C::TopicPut { rule: t.clone() });
        }
        let limits: BTreeMap<&str, &Rates> = here.limits.iter().map(|(s, r)| (s.as_str(), r)).collect();
        for (subject, rates) in self.limits.iter().filter(|(s, r)| limits.get(s.as_str()) != Some(&r)) {
            changes.push(C::Limits { subject: subject.clone(), rates: Some(*rates) });
        }
        let keyring: BTreeMap<&str, &KeyringKey> = here.keyring.iter().map(|k| (k.id.as_str(), k)).collect();
        for k in &self.keyring {
            let Some(h) = keyring.get(k.id.as_str()) else {
                changes.push(C::KeyringCreate { key: k.clone() });
                continue;
            };
            for (had, wrapped) in k.versions.iter().enumerate().skip(h.versions.len()) {
                changes.push(C::KeyringRotate { id: k.id.clone(), had, wrapped: wrapped.clone() });
            }
            if h.enabled != k.enabled {
                changes.push(C::KeyringEnable { id: k.id.clone(), enabled: k.enabled });
            }
        }

        // What is gone, dependents first.
        let gone_keys: BTreeSet<&str> = self.keys.iter().map(|k| k.access_key.as_str()).collect();
        for k in here.keys.iter().filter(|k| !gone_keys.contains(k.access_key.as_str())) {
            changes.push(C::KeyDelete { access_key: k.access_key.clone() });
        }
        let kept_topics: BTreeSet<(&str, &str)> = self.topics.iter().map(|t| (t.bucket.as_str(), t.topic.as_str())).collect();
        for &(bucket, topic) in topics.keys().filter(|k| !kept_topics.contains(k)) {
            changes.push(C::TopicDelete { bucket: bucket.to_owned(), topic: topic.to_owned() });
        }
        let kept_limits: BTreeSet<&str> = self.limits.iter().map(|(s, _)| s.as_str()).collect();
        for &subject in limits.keys().filter(|s| !kept_limits.contains(*s)) {
            changes.push(C::Limits { subject: subject.to_owned(), rates: None });
        }
        for b in here.buckets.iter().filter(|b| !kept.contains(b.name.as_str())) {
            changes.push(C::BucketDelete { name: b.name.clone() });
        }
        let kept_users: BTreeSet<(&str, &str)> = self.users.iter().map(|u| (u.tenant.as_str(), u.name.as_str())).collect();
        for &(tenant, name) in users.keys().filter(|k| !kept_users.contains(k)) {
            changes.push(C::UserDelete { tenant: tenant.to_owned(), name: name.to_owned() });
        }
        let kept_tenants: BTreeSet<&str> = self.tenants.iter().map(|t| t.name.as_str()).collect();
        for &name in tenants.keys().filter(|n| !kept_tenants.contains(*n)) {
            changes.push(C::TenantDelete { name: name.to_owned() });
        }
        changes
    }
}

#[cfg(test)]
mod tests {
    use super::super::{ReadMode, Role, WriteMode};
    use super::*;

    #[test]
    fn changes_travel_as_json_with_their_nanosecond_times() {
        let record = TenantRecord { name: "corp".into(), created_ns: 1_796_174_108_796_534_636, quota: Quota::default() };
        let change = ControlChange::TenantCreate { record };
        let json = serde_json::to_string(&change).unwrap();
        assert!(json.starts_with(r#"{"tenant_create":{"record":{"name":"corp","created_ns":1796174108796534636"#), "{json}");
        assert_eq!(serde_json::from_str::<ControlChange>(&json).unwrap(), change);
    }

    /// Builds a store by `changes`, each of which must apply.
    fn store_of(dir: &std::path::Path, changes: Vec<ControlChange>) -> super::super::SledStore {
        let store = super::super::SledStore::open(dir).unwrap();
        for change in changes {
            change.apply(&store, None).unwrap_or_else(|e| panic!("{change:?}: {e}"));
        }
        store
    }

    #[test]
    fn a_state_is_reached_from_another_by_the_changes_between_them() {
        type C = ControlChange;
        let tenant =
            |name: &str, max_objects| C::TenantCreate { record: TenantRecord { name: name.into(), created_ns: 1, quota: Quota { max_bytes: 0, max_objects } } };
        let user = |tenant: &str, name: &str, role| C::UserCreate { record: UserRecord { tenant: tenant.into(), name: name.into(), role, created_ns: 2 } };
        let key = |ak: &str, tenant: &str, user: &str, enabled| C::KeyPut {
            record: KeyRecord {
                access_key: ak.into(),
                tenant: tenant.into(),
                user: user.into(),
                secret_sealed: "s".into(),
                enabled,
                created_ns: 3,
                last_used_ns: 0,
            },
        };
        let bucket = |name: &str, tenant: &str| C::BucketCreate {
            record: BucketRecord {
                name: name.into(),
                created_ns: 4,
                tenant: tenant.into(),
                objects: 0,
                bytes: 0,
                visibility: Visibility::Private,
                quota: Quota::default(),
                origin: String::new(),
                versioning: Versioning::default(),
                object_lock: None,
            },
        };
        let config = |bucket: &str, kind, document: &str| C::BucketConfig { bucket: bucket.into(), kind, document: Some(document.into()) };
        let topic = |bucket: &str, topic: &str, max_size| C::TopicPut {
            rule: TopicRule {
                bucket: bucket.into(),
                topic: topic.into(),
                write: WriteMode::SingleAuth,
                read: ReadMode::Auth,
                content_addressed: false,
                max_size,
                content_types: vec![],
            },
        };
        let limit = |subject: &str, read_requests| C::Limits { subject: subject.into(), rates: Some(Rates { read_requests, ..Rates::default() }) };
        let keyring = |id: &str, versions: &[&str]| C::KeyringCreate {
            key: KeyringKey { id: id.into(), created_ns: 5, enabled: true, versions: versions.iter().map(|v| (*v).to_owned()).collect() },
        };

        let there_dir = tempfile::tempdir().unwrap();
        let there = store_of(
            there_dir.path(),
            vec![
                tenant("corp", 10),
                tenant("new", 0),
                user("corp", "ann", Role::Admin),
                user("corp", "bob", Role::Reader),
                user("new", "nia", Role::Writer),
                key("AK-ann", "corp", "ann", true),
                key("AK-bob", "corp", "bob", false),
                key("AK-nia", "new", "nia", true),
                bucket("shared", "corp"),
                bucket("fresh", "new"),
                C::BucketUpdate { name: "shared".into(), tenant: "new".into(), visibility: Visibility::PublicRead },
                C::BucketQuota { name: "shared".into(), quota: Quota { max_bytes: 9, max_objects: 0 } },
                C::BucketVersioning { name: "shared".into(), versioning: Versioning::Enabled, at_key: false },
                C::BucketLock { name: "shared".into(), lock: LockConfig::default() },
                config("shared", BucketConfigKind::Cors, "cors-2"),
                config("fresh", BucketConfigKind::Tagging, "tags"),
                topic("shared", "snap", 7),
                topic("fresh", "log", 0),
                limit("tenant:corp", 50),
                keyring("k1", &["w1", "w2"]),
                keyring("k2", &["x1"]),
                C::KeyringEnable { id: "k2".into(), enabled: false },
            ],
        );
        let here_dir = tempfile::tempdir().unwrap();
        let here = store_of(
            here_dir.path(),
            vec![
                tenant("corp", 0),
                tenant("old", 0),
                user("corp", "ann", Role::Admin),
                user("corp", "bob", Role::Admin),
                user("old", "olu", Role::Writer),
                key("AK-ann", "corp", "ann", true),
                key("AK-bob", "corp", "bob", true),
                key("AK-olu", "old", "olu", true),
                bucket("shared", "corp"),
                bucket("gone", "old"),
                config("shared", BucketConfigKind::Cors, "cors-1"),
                config("shared", BucketConfigKind::Policy, "policy"),
                config("gone", BucketConfigKind::Tagging, "tags"),
                topic("shared", "snap", 1),
                topic("shared", "dropped", 0),
                topic("gone", "log", 0),
                limit("tenant:corp", 10),
                limit("key:AK-olu", 1),
                keyring("k1", &["w1"]),
                keyring("k2", &["x1"]),
            ],
        );
        here.key_put(&KeyRecord { last_used_ns: 99, ..here.key_get("AK-ann").unwrap().unwrap() }, None).unwrap();

        let target = ControlState::of(&there).unwrap();
        let changes = target.changes_from(&ControlState::of(&here).unwrap(), |_| false);
        for change in &changes {
            change.apply(&here, None).unwrap_or_else(|e| panic!("{change:?}: {e}"));
        }
        assert_eq!(ControlState::of(&here).unwrap(), target);
        assert!(!changes.iter().any(|c| matches!(c, C::KeyPut { record } if record.access_key == "AK-ann")), "a key's last use is not a change: {changes:?}");
        assert!(target.changes_from(&ControlState::of(&here).unwrap(), |_| false).is_empty(), "reached: nothing more to change");
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

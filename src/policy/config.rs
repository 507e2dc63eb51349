//! Each bucket's S3 configuration (policy, CORS, tags, ACL, ownership, Block Public
//! Access, lifecycle), validated and compiled once when it is written (and at start), kept in memory:
//! a request's decision reads compiled rules and never parses a document.

use super::acl::{Ownership, PublicAccessBlock};
use crate::config::AccessDefaults;
use crate::meta::{AclGrant, BucketConfigKind, ControlChange, ControlListener, Store};

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

/// Why a configuration document is not stored.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The document is not valid for its kind (the reason, for the client).
    #[error("{0}")]
    Invalid(String),
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] crate::meta::Error),
}

/// One tag of a bucket.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Tag {
    /// Its key.
    pub key: String,
    /// Its value.
    pub value: String,
}

/// The most tags a bucket may carry (AWS's limit).
pub const MAX_BUCKET_TAGS: usize = 50;

/// Checks a bucket's tag set as S3 does (`InvalidTag` reasons) and gives its stored form.
///
/// # Errors
/// The reason a tag set is refused.
pub fn tags_document(tags: &[Tag]) -> Result<String, String> {
    if tags.len() > MAX_BUCKET_TAGS {
        return Err(format!("Bucket tag count cannot be greater than {MAX_BUCKET_TAGS}"));
    }
    let mut seen = std::collections::HashSet::new();
    for t in tags {
        if t.key.is_empty() || t.key.chars().count() > 128 {
            return Err("The TagKey you have provided is invalid".into());
        }
        if t.value.chars().count() > 256 {
            return Err("The TagValue you have provided is invalid".into());
        }
        if t.key.starts_with("aws:") {
            return Err("System tags cannot be added/updated by requester".into());
        }
        if !seen.insert(t.key.as_str()) {
            return Err("Cannot provide multiple Tags with the same key".into());
        }
    }
    serde_json::to_string(tags).map_err(|e| e.to_string())
}

/// A bucket's configuration, compiled.
#[derive(Debug, Default)]
pub struct BucketConfig {
    /// The bucket's tags, in the order they were set.
    pub tags: Vec<Tag>,
    /// The bucket's ACL grants besides its owner's and its public-read (its visibility).
    pub acl_grants: Vec<AclGrant>,
    /// Its object ownership, if it set one.
    pub ownership: Option<Ownership>,
    /// Its Block Public Access flags, if it set them.
    pub public_access_block: Option<PublicAccessBlock>,
    /// Its bucket policy, compiled.
    pub policy: Option<super::document::BucketPolicy>,
    /// The bucket's CORS rules, if it has any.
    pub cors: Option<crate::policy::cors::CorsRules>,
    /// The bucket's lifecycle rules, if it has any.
    pub lifecycle: Option<crate::lifecycle::Lifecycle>,
    /// The bucket's default encryption, if it set one.
    pub encryption: Option<BucketEncryption>,
}

/// A bucket's default encryption (`PutBucketEncryption`), applied to writes that ask for none.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BucketEncryption {
    /// `AES256` (SSE-S3) or `aws:kms`.
    pub algorithm: String,
    /// The SSE-KMS key, if named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    /// `BucketKeyEnabled`, as set (kept and answered; every object has its own data key).
    #[serde(default)]
    pub bucket_key_enabled: bool,
}

/// Parses a stored JSON document (`None`: removed).
fn stored<T: serde::de::DeserializeOwned>(document: Option<&str>) -> Result<Option<T>, String> {
    document.map(serde_json::from_str).transpose().map_err(|e| e.to_string())
}

impl BucketConfig {
    /// Compiles the stored document of `kind` into `self` (`None`: the setting is removed).
    fn apply(&mut self, bucket: &str, kind: BucketConfigKind, document: Option<&str>) -> Result<(), String> {
        match kind {
            BucketConfigKind::Tagging => self.tags = stored(document)?.unwrap_or_default(),
            BucketConfigKind::Acl => self.acl_grants = stored(document)?.unwrap_or_default(),
            BucketConfigKind::Ownership => self.ownership = stored(document)?,
            BucketConfigKind::PublicAccessBlock => self.public_access_block = stored(document)?,
            BucketConfigKind::Policy => self.policy = document.map(|d| super::document::BucketPolicy::parse(d, bucket)).transpose()?,
            BucketConfigKind::Lifecycle => self.lifecycle = document.map(crate::lifecycle::Lifecycle::from_document).transpose()?,
            BucketConfigKind::Encryption => self.encryption = stored(document)?,
            BucketConfigKind::Cors => {
                self.cors = document.map(crate::policy::cors::CorsRules::from_document).transpose().map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    }
}

/// Every bucket's compiled configuration, cached from the store, following each
/// control-plane change applied (as a [`crate::meta::ControlListener`]): a change is
/// checked first ([`BucketConfigs::check`]), then made through the control plane.
pub struct BucketConfigs {
    store: Arc<dyn Store>,
    defaults: AccessDefaults,
    by_bucket: RwLock<HashMap<String, Arc<BucketConfig>>>,
    /// What most buckets have: nothing (shared, so a lookup allocates nothing).
    empty: Arc<BucketConfig>,
    /// Serialises changes, so the cache ends as the store does when two race.
    changing: Mutex<()>,
}

impl BucketConfigs {
    /// Every bucket's configuration, as stored. A stored document that no longer compiles
    /// stops the start: ignoring it could drop a Deny.
    ///
    /// # Errors
    /// The store's failure, or the bucket and reason of a document that does not compile.
    pub fn load(store: Arc<dyn Store>, defaults: AccessDefaults) -> Result<Self, ConfigError> {
        let configs = Self { store, defaults, by_bucket: RwLock::new(HashMap::new()), empty: Arc::default(), changing: Mutex::new(()) };
        configs.reload_all()?;
        Ok(configs)
    }

    /// Re-reads every document from the store (at start, and after a rebuild).
    ///
    /// # Errors
    /// As [`BucketConfigs::load`].
    pub fn reload_all(&self) -> Result<(), ConfigError> {
        let mut by_bucket: HashMap<String, BucketConfig> = HashMap::new();
        for (bucket, kind, document) in self.store.bucket_config_list()? {
            by_bucket
                .entry(bucket.clone())
                .or_default()
                .apply(&bucket, kind, Some(&document))
                .map_err(|why| ConfigError::Invalid(format!("bucket {bucket}: stored {} setting: {why}", kind.name())))?;
        }
        *self.by_bucket.write().unwrap_or_else(PoisonError::into_inner) = by_bucket.into_iter().map(|(b, c)| (b, Arc::new(c))).collect();
        Ok(())
    }

    /// The compiled configuration of `bucket` (empty for most buckets).
    #[must_use]
    pub fn of(&self, bucket: &str) -> Arc<BucketConfig> {
        self.by_bucket.read().unwrap_or_else(PoisonError::into_inner).get(bucket).map_or_else(|| Arc::clone(&self.empty), Arc::clone)
    }

    /// The gateway's defaults (`[access]`).
    #[must_use]
    pub const fn defaults(&self) -> AccessDefaults {
        self.defaults
    }

    /// The object ownership `bucket` lives under (its own, or the gateway's default).
    #[must_use]
    pub fn ownership(&self, bucket: &str) -> Ownership {
        self.of(bucket).ownership.unwrap_or(self.defaults.object_ownership)
    }

    /// The Block Public Access flags `bucket` lives under (its own, or the gateway's default).
    #[must_use]
    pub fn public_access_block(&self, bucket: &str) -> PublicAccessBlock {
        self.of(bucket).public_access_block.unwrap_or(self.defaults.block_public_access)
    }

    /// The change setting a bucket's ACL (its visibility and its other grants, in one
    /// transaction).
    ///
    /// # Errors
    /// `Invalid` if the grants do not encode.
    pub fn acl_change(bucket: &str, acl: &super::acl::Acl) -> Result<ControlChange, ConfigError> {
        let grants = (!acl.grants.is_empty()).then(|| serde_json::to_string(&acl.grants)).transpose().map_err(|e| ConfigError::Invalid(e.to_string()))?;
        Ok(ControlChange::BucketAcl { bucket: bucket.to_owned(), visibility: acl.visibility(), grants })
    }

    /// The stored document of `kind` for `bucket`.
    ///
    /// # Errors
    /// The store's failure.
    pub fn document(&self, bucket: &str, kind: BucketConfigKind) -> crate::meta::Result<Option<String>> {
        self.store.bucket_config_get(bucket, kind)
    }

    /// The change storing (or with `None` removing) the document of `kind` for `bucket`,
    /// once the document compiles.
    ///
    /// # Errors
    /// `Invalid` with the reason a document does not compile.
    pub fn check(bucket: &str, kind: BucketConfigKind, document: Option<&str>) -> Result<ControlChange, ConfigError> {
        BucketConfig::default().apply(bucket, kind, document).map_err(ConfigError::Invalid)?;
        Ok(ControlChange::BucketConfig { bucket: bucket.to_owned(), kind, document: document.map(str::to_owned) })
    }

    fn reload(&self, bucket: &str) -> Result<(), ConfigError> {
        let _changing = self.changing.lock().unwrap_or_else(PoisonError::into_inner);
        let mut config = BucketConfig::default();
        let mut any = false;
        for kind in BucketConfigKind::ALL {
            if let Some(document) = self.store.bucket_config_get(bucket, kind)? {
                any = true;
                config.apply(bucket, kind, Some(&document)).map_err(ConfigError::Invalid)?;
            }
        }
        let mut map = self.by_bucket.write().unwrap_or_else(PoisonError::into_inner);
        if any {
            map.insert(bucket.to_owned(), Arc::new(config));
        } else {
            map.remove(bucket);
        }
        Ok(())
    }
}

impl ControlListener for BucketConfigs {
    fn applied(&self, change: &ControlChange, _: &crate::meta::Applied) {
        let (ControlChange::BucketConfig { bucket, .. } | ControlChange::BucketAcl { bucket, .. } | ControlChange::BucketDelete { name: bucket }) = change
        else {
            return;
        };
        // A document stored compiles (it was checked before it was submitted); one that
        // does not (from a newer version) leaves the bucket's previous configuration.
        if let Err(e) = self.reload(bucket) {
            tracing::error!(bucket = %bucket, error = %e, "a bucket's configuration could not be reloaded after a change");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(k: &str, v: &str) -> Tag {
        Tag { key: k.into(), value: v.into() }
    }

    #[test]
    fn bucket_tag_sets_are_checked_as_s3_does() {
        assert!(tags_document(&[tag("team", "data"), tag("env", "")]).is_ok());
        assert!(tags_document(&[tag("a", "1"), tag("a", "2")]).unwrap_err().contains("same key"));
        assert!(tags_document(&[tag("", "1")]).unwrap_err().contains("TagKey"));
        assert!(tags_document(&[tag(&"k".repeat(129), "1")]).unwrap_err().contains("TagKey"));
        assert!(tags_document(&[tag("k", &"v".repeat(257))]).unwrap_err().contains("TagValue"));
        assert!(tags_document(&[tag("aws:x", "1")]).unwrap_err().contains("System tags"));
        let many: Vec<Tag> = (0..51).map(|i| tag(&format!("k{i}"), "v")).collect();
        assert!(tags_document(&many).unwrap_err().contains("50"));
    }

    #[test]
    fn the_cache_follows_the_store_and_refuses_what_does_not_compile() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(crate::meta::SledStore::open(dir.path()).unwrap());
        let record = crate::meta::BucketRecord {
            name: "b".into(),
            created_ns: 0,
            tenant: "t".into(),
            objects: 0,
            bytes: 0,
            visibility: crate::meta::Visibility::Private,
            quota: crate::meta::Quota::default(),
            origin: String::new(),
            versioning: crate::meta::Versioning::Unversioned,
            object_lock: None,
        };
        store.bucket_create(&record, None).unwrap();
        let configs = BucketConfigs::load(Arc::clone(&store), AccessDefaults::default()).unwrap();
        assert!(configs.of("b").tags.is_empty());
        let doc = tags_document(&[tag("team", "data")]).unwrap();
        // A change is checked, applied by the control plane, and followed by the cache.
        let set = |bucket: &str, document: Option<&str>| -> Result<(), ConfigError> {
            let change = BucketConfigs::check(bucket, BucketConfigKind::Tagging, document)?;
            let outcome = change.apply(store.as_ref(), None)?;
            configs.applied(&change, &outcome);
            Ok(())
        };
        set("b", Some(&doc)).unwrap();
        assert_eq!(configs.of("b").tags, vec![tag("team", "data")]);
        assert!(matches!(set("b", Some("not json")), Err(ConfigError::Invalid(_))));
        assert_eq!(configs.document("b", BucketConfigKind::Tagging).unwrap(), Some(doc), "a refused document changes nothing");
        assert_eq!(
            BucketConfigs::load(Arc::clone(&store), AccessDefaults::default()).unwrap().of("b").tags,
            vec![tag("team", "data")],
            "compiled again at start"
        );
        set("b", None).unwrap();
        assert!(configs.of("b").tags.is_empty());
        assert!(matches!(set("missing", Some("[]")), Err(ConfigError::Store(crate::meta::Error::NoSuchBucket))));
    }
}

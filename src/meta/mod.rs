//! Metadata: the typed records tollgate keeps and the [`Store`] trait that holds them.
//!
//! Only this module knows the store is sled ([`SledStore`]); everything else sees the
//! trait and the records, so a store can be swapped without touching the S3 layer.

mod chain;
mod control;
pub mod merkle;
mod records;
mod sled_store;

pub use chain::*;
pub use control::*;
pub use records::*;
pub use sled_store::SledStore;

use std::collections::BTreeSet;

/// Errors of the metadata store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The bucket an object or upload operation names does not exist (404 `NoSuchBucket`).
    #[error("no such bucket")]
    NoSuchBucket,
    /// The write's [`Precondition`] does not hold of the current object (412 `PreconditionFailed`).
    #[error("precondition failed")]
    PreconditionFailed,
    /// A bucket deletion found objects or uploads still in it (409 `BucketNotEmpty`).
    #[error("bucket is not empty")]
    BucketNotEmpty,
    /// The multipart upload was completed or aborted meanwhile, or never existed (404 `NoSuchUpload`).
    #[error("no such upload")]
    NoSuchUpload,
    /// A precondition needed the key to exist (`If-Match`), and it does not.
    #[error("no such key")]
    NoSuchKey,
    /// A tenant or user of that name exists already (409 from the admin API).
    #[error("already exists")]
    AlreadyExists,
    /// The record a change names (tenant, user, access key, topic rule...) does not exist
    /// (404 from the admin API).
    #[error("not found")]
    NotFound,
    /// A tenant to delete still owns something; says what (409 from the admin API).
    #[error("still in use: {0}")]
    InUse(&'static str),
    /// A commit would take a bucket or its tenant beyond its [`Quota`]; says which and how
    /// (S3 `QuotaExceeded`).
    #[error("quota exceeded: {0}")]
    QuotaExceeded(String),
    /// A change the store never makes (a versioned bucket made unversioned); answered as 400.
    #[error("{0}")]
    Invalid(String),
    /// Object Lock protects the version from that change (403 `AccessDenied`); says why.
    #[error("{0}")]
    Locked(String),
    /// The bucket's state forbids the change (409 `InvalidBucketState`); says why.
    #[error("{0}")]
    InvalidState(String),
    /// The store itself failed (I/O, a transaction or the flush task); answered as 500.
    #[error("metadata store: {0}")]
    Storage(String),
    /// The metadata store's disk is full.
    #[error("metadata store: disk full: {0}")]
    StorageFull(String),
    /// A stored record does not decode, or the store's schema version is not this
    /// build's; answered as 500.
    #[error("corrupt metadata record: {0}")]
    Corrupt(String),
}

/// The result of a metadata store operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What must hold of the current object for a write to proceed; checked inside the
/// same transaction as the write, so concurrent conditional writers cannot both win.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Precondition {
    /// No condition: the write proceeds whatever the key holds.
    #[default]
    None,
    /// `If-None-Match: *`: the key must not exist.
    Absent,
    /// `If-Match: *`: the key must exist.
    Present,
    /// `If-Match: "etag"`: the key must exist with this ETag (unquoted).
    ETagIs(String),
    /// `If-None-Match: "etag"`: the key must not hold this ETag (it may be missing).
    ETagIsNot(String),
    /// The key must hold exactly this record (a background repair must not undo a
    /// write made since it looked).
    Is(Box<ObjectRecord>),
    /// A conditional delete's: the current object must have every given attribute
    /// (`If-Match`'s ETag, `x-amz-if-match-size`, `x-amz-if-match-last-modified-time` in
    /// whole seconds); a missing key holds unless `exists` (any `If-Match`) is asked.
    Matches {
        /// The key must exist (any `If-Match` was given).
        exists: bool,
        /// The ETag the object must have, unquoted; `None`: any.
        etag: Option<String>,
        /// The size the object must have, in bytes; `None`: any.
        size: Option<u64>,
        /// The last-modified time the object must have, seconds since the Unix epoch; `None`: any.
        modified_secs: Option<i64>,
    },
}

impl Precondition {
    /// Whether the precondition holds of `current` (`None`: the key does not exist).
    #[must_use]
    pub fn holds(&self, current: Option<&ObjectRecord>) -> bool {
        match (self, current) {
            (Self::None, _) | (Self::Absent, None) | (Self::Present, Some(_)) => true,
            (Self::ETagIs(etag), Some(cur)) => cur.etag == *etag,
            (Self::ETagIsNot(_), None) => true,
            (Self::ETagIsNot(etag), Some(cur)) => cur.etag != *etag,
            (Self::Is(rec), Some(cur)) => **rec == *cur,
            (Self::Matches { exists, .. }, None) => !exists,
            (Self::Matches { etag, size, modified_secs, .. }, Some(cur)) => {
                etag.as_ref().is_none_or(|e| cur.etag == *e)
                    && size.is_none_or(|s| cur.size == s)
                    && modified_secs.is_none_or(|t| i64::try_from(cur.last_modified_ns.div_euclid(1_000_000_000)).ok() == Some(t))
            }
            _ => false,
        }
    }

    /// Whether the precondition holds of `current`, and if not, the error S3 answers: a
    /// key that `If-Match` needs and that does not exist is `NoSuchKey` (404), any other
    /// failure `PreconditionFailed` (412).
    pub fn check(&self, current: Option<&ObjectRecord>) -> Result<()> {
        if self.holds(current) {
            Ok(())
        } else if current.is_none() && matches!(self, Self::Present | Self::ETagIs(_) | Self::Matches { exists: true, .. }) {
            Err(Error::NoSuchKey)
        } else {
            Err(Error::PreconditionFailed)
        }
    }
}

/// A proof manifest to record with a change, complete but for what only the store knows:
/// its place in the tenant's chain (`seq`, `prev`), filled in under the tenant's write lock
/// so concurrent writers of one tenant form one linear chain, and in a versioned bucket the
/// version id it assigns (`version_id`). The store appends it to the tenant's proof log,
/// whose tree head the next group commit signs.
pub type ProofDraft = Manifest;

/// What an object commit finishes, removed in the same transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completes<'a> {
    /// A plain write: nothing else is removed.
    Nothing,
    /// A multipart upload and its parts (completion); `NoSuchUpload` if it is gone.
    Upload(&'a str),
    /// Likewise, and the completion is remembered (a [`CompletedUpload`] of the committed
    /// record and `parts`, the digest of the completed part list) while the object is the
    /// key's current one, for a repeated completion.
    Multipart {
        /// The upload id.
        upload: &'a str,
        /// Lower-case hex SHA-256 of the completed part list (see [`CompletedUpload::parts`]).
        parts: &'a str,
    },
    /// A [`PendingWrite`], by id.
    Pending(&'a str),
}

/// One object entry returned by a listing scan.
pub type ObjectEntry = (String, ObjectRecord);

/// The metadata store. Every method is a short, synchronous, in-memory-fast operation
/// except [`Store::flush`], which makes all earlier writes durable. Every method that
/// changes state takes the audit entry describing the change, written in the same
/// transaction.
pub trait Store: Send + Sync + 'static {
    /// The bucket of that name, if it exists.
    fn bucket_get(&self, name: &str) -> Result<Option<BucketRecord>>;
    /// Creates the bucket; returns the existing record instead if the name is taken.
    fn bucket_create(&self, record: &BucketRecord, audit: Option<&AuditEntry>) -> Result<Option<BucketRecord>>;
    /// Deletes an empty bucket (`BucketNotEmpty` otherwise), atomically with respect to
    /// concurrent object commits, which update the bucket's usage in their transaction.
    fn bucket_delete(&self, name: &str, audit: Option<&AuditEntry>) -> Result<()>;
    /// Changes a bucket's owner and visibility (usage counters are kept).
    fn bucket_update(&self, name: &str, tenant: &str, visibility: Visibility, audit: Option<&AuditEntry>) -> Result<BucketRecord>;
    /// Every bucket, by name.
    fn bucket_list(&self) -> Result<Vec<BucketRecord>>;
    /// Sets a bucket's quota; returns the updated record.
    fn bucket_set_quota(&self, name: &str, quota: Quota, audit: Option<&AuditEntry>) -> Result<BucketRecord>;

    /// The current object under `key`, if any.
    fn object_get(&self, bucket: &str, key: &str) -> Result<Option<ObjectRecord>>;
    /// Writes `record` under `key` if `precondition` holds (against the key's current
    /// object), as a new version in a versioned bucket; says what the record was given and
    /// released. What it `completes` is removed in the same transaction.
    // One argument per thing the transaction writes; a wrapper struct would only rename them.
    #[allow(clippy::too_many_arguments)]
    fn object_commit(
        &self,
        bucket: &str,
        key: &str,
        record: &ObjectRecord,
        precondition: &Precondition,
        completes: Completes<'_>,
        audit: Option<&AuditEntry>,
        proof: Option<&ProofDraft>,
    ) -> Result<Committed>;
    /// Removes the key's current object (in a versioned bucket: puts a delete marker on
    /// top of it); says what it released. The proof (of the deletion) is recorded only if
    /// there was a current object.
    fn object_delete(&self, bucket: &str, key: &str, precondition: &Precondition, audit: Option<&AuditEntry>, proof: Option<&ProofDraft>) -> Result<Deleted>;
    /// Sets a bucket's versioning (`Enabled` or `Suspended`; never back to unversioned).
    /// Enabling it the first time makes each current object its key's null version
    /// (`at_key`: whose bytes are at its key, whatever segments its record names).
    fn bucket_set_versioning(&self, name: &str, versioning: Versioning, at_key: bool, audit: Option<&AuditEntry>) -> Result<BucketRecord>;
    /// The version `version_id` of `key` in a versioned bucket, if it exists.
    fn version_get(&self, bucket: &str, key: &str, version_id: &str) -> Result<Option<VersionRecord>>;
    /// Removes one version of `key` for good; its previous version becomes current if it
    /// was the latest. Returns the removed version (none if there was no such version).
    /// A version under legal hold or a retention unexpired at `now_ns` is refused
    /// (`Locked`), whoever asks: GOVERNANCE retention only yields to `bypass_governance`
    /// (a caller allowed to bypass it who asked to), COMPLIANCE never.
    // The lock's two inputs make it one argument over the rest.
    #[allow(clippy::too_many_arguments)]
    fn version_delete(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
        now_ns: i128,
        bypass_governance: bool,
        audit: Option<&AuditEntry>,
        proof: Option<&ProofDraft>,
    ) -> Result<Option<VersionRecord>>;
    /// Versions (and delete markers) of `bucket` whose key starts with `prefix`: keys in
    /// byte order, each key's versions newest first, strictly after `after` (a key, and a
    /// version id of it: its later versions; none: the key's versions are all skipped).
    fn version_scan<'a>(
        &'a self,
        bucket: &str,
        prefix: &str,
        after: Option<(&str, Option<&str>)>,
    ) -> Box<dyn Iterator<Item = Result<(String, VersionRecord)>> + 'a>;
    /// Every version (and delete marker) of a versioned bucket with its commit sequence
    /// number, keys in byte order, each key's versions newest first (for the metadata mirror).
    fn version_entries<'a>(&'a self, bucket: &str) -> Box<dyn Iterator<Item = Result<(String, u64, VersionRecord)>> + 'a>;
    /// Puts back one version of `key` as it was committed as `n` (a rebuild from the
    /// metadata mirror): it becomes current if it is the key's newest, it counts in the
    /// usage, and later commits are numbered after it.
    fn version_import(&self, bucket: &str, key: &str, n: u64, version: &VersionRecord) -> Result<()>;
    /// Points an entry at new segments (its bytes moved by a migration: same size and
    /// digests, so no new version, proof or usage), if it is still `expected`.
    fn object_relocate(&self, bucket: &str, key: &str, expected: &ObjectRecord, segments: Vec<Segment>, audit: Option<&AuditEntry>) -> Result<()>;
    /// Replaces the tags of an existing object (the current one, or its version
    /// `version`); returns false if there is no such object.
    fn object_set_tags(&self, bucket: &str, key: &str, version: Option<&str>, tags: Vec<(String, String)>, audit: Option<&AuditEntry>) -> Result<bool>;
    /// Changes an existing object version's record (the current one, or version
    /// `version`) with `update` in one transaction, which `update`'s error aborts; returns
    /// false if there is no such object.
    fn version_update(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        update: &(dyn Fn(&mut ObjectRecord) -> Result<()> + Sync),
        audit: Option<&AuditEntry>,
    ) -> Result<bool>;
    /// Enables Object Lock on a bucket whose versioning is enabled (`InvalidState`
    /// otherwise) and sets its default retention; returns the updated record.
    fn bucket_set_lock(&self, name: &str, lock: LockConfig, audit: Option<&AuditEntry>) -> Result<BucketRecord>;
    /// Objects of `bucket` whose key starts with `prefix`, in byte order, from the first
    /// key `>= from` (or the bucket's first key).
    fn object_scan<'a>(&'a self, bucket: &str, prefix: &str, from: Option<&str>) -> Box<dyn Iterator<Item = Result<ObjectEntry>> + 'a>;
    /// [`Store::object_scan`] with only what a listing shows of each object.
    fn object_summary_scan<'a>(&'a self, bucket: &str, prefix: &str, from: Option<&str>) -> Box<dyn Iterator<Item = Result<(String, ObjectSummary)>> + 'a>;

    /// Records a new multipart upload under its id (`NoSuchBucket` if the bucket is gone).
    fn upload_create(&self, id: &str, record: &UploadRecord, audit: Option<&AuditEntry>) -> Result<()>;
    /// The multipart upload of that id, if it is still in progress.
    fn upload_get(&self, id: &str) -> Result<Option<UploadRecord>>;
    /// Removes the upload and its parts; returns the removed parts (their blobs are now
    /// unreferenced).
    fn upload_delete(&self, id: &str, audit: Option<&AuditEntry>) -> Result<Vec<PartRecord>>;
    /// All uploads of a bucket, ordered by (key, upload id).
    fn upload_list(&self, bucket: &str) -> Result<Vec<(String, UploadRecord)>>;
    /// Records a part; returns the part it replaced.
    fn part_put(&self, upload_id: &str, record: &PartRecord, audit: Option<&AuditEntry>) -> Result<Option<PartRecord>>;
    /// Parts of an upload, ordered by part number.
    fn part_list(&self, upload_id: &str) -> Result<Vec<PartRecord>>;
    /// The completion remembered for the key's current object, if it was made by one
    /// (see [`Completes::Multipart`]).
    fn completed_get(&self, bucket: &str, key: &str) -> Result<Option<CompletedUpload>>;

    /// Records a write on its way to a backend (see [`PendingWrite`]).
    fn pending_put(&self, id: &str, write: &PendingWrite) -> Result<()>;
    /// Every pending write, by id.
    fn pending_list(&self) -> Result<Vec<(String, PendingWrite)>>;
    /// Forgets a pending write (the backend refused it, or does not hold it); no error if
    /// it is already gone.
    fn pending_remove(&self, id: &str) -> Result<()>;

    /// Every blob id referenced by an object or a pending part (for orphan clean-up).
    fn referenced_blobs(&self) -> Result<BTreeSet<String>>;

    /// Creates a tenant (`AlreadyExists` if the name is taken).
    fn tenant_create(&self, record: &TenantRecord, audit: Option<&AuditEntry>) -> Result<()>;
    /// The tenant of that name, if it exists.
    fn tenant_get(&self, name: &str) -> Result<Option<TenantRecord>>;
    /// Every tenant, by name.
    fn tenant_list(&self) -> Result<Vec<TenantRecord>>;
    /// Sets a tenant's quota; returns the updated record.
    fn tenant_set_quota(&self, name: &str, quota: Quota, audit: Option<&AuditEntry>) -> Result<TenantRecord>;
    /// `(objects, bytes)` stored in the tenant's buckets.
    fn tenant_usage(&self, name: &str) -> Result<(u64, u64)>;
    /// Replaces what the other instances of a cluster store, `(objects, bytes)` by bucket
    /// (their heartbeats say): quota checks count it with this instance's own usage.
    fn usage_elsewhere_set(&self, by_bucket: std::collections::HashMap<String, (u64, u64)>) -> Result<()>;
    /// `(objects, bytes)` the other instances of a cluster store in `bucket`.
    fn usage_elsewhere(&self, bucket: &str) -> (u64, u64);
    /// Records what every tenant and bucket stores now as a sample of the usage history
    /// taken at `at_ns`, and forgets the samples taken before `forget_before_ns`; returns
    /// how many it forgot.
    fn usage_sample(&self, at_ns: i128, forget_before_ns: i128) -> Result<u64>;
    /// The usage history's samples taken at or after `since_ns`, oldest first.
    fn usage_history(&self, since_ns: i128) -> Result<Vec<UsageSample>>;
    /// Deletes a tenant that owns no bucket and no user (`InUse` otherwise).
    fn tenant_delete(&self, name: &str, audit: Option<&AuditEntry>) -> Result<()>;

    /// Creates a user in its tenant (`NotFound` without the tenant, `AlreadyExists` if the
    /// name is taken there).
    fn user_create(&self, record: &UserRecord, audit: Option<&AuditEntry>) -> Result<()>;
    /// The user `name` of `tenant`, if it exists.
    fn user_get(&self, tenant: &str, name: &str) -> Result<Option<UserRecord>>;
    /// Every user, by tenant and name.
    fn user_list(&self) -> Result<Vec<UserRecord>>;
    /// Deletes a user and all its keys; returns the deleted access key ids.
    fn user_delete(&self, tenant: &str, name: &str, audit: Option<&AuditEntry>) -> Result<Vec<String>>;

    /// Creates or replaces an access key.
    fn key_put(&self, record: &KeyRecord, audit: Option<&AuditEntry>) -> Result<()>;
    /// The access key of that id, if it exists.
    fn key_get(&self, access_key: &str) -> Result<Option<KeyRecord>>;
    /// Every access key, by id.
    fn key_list(&self) -> Result<Vec<KeyRecord>>;
    /// Deletes an access key (`NotFound` if there is none).
    fn key_delete(&self, access_key: &str, audit: Option<&AuditEntry>) -> Result<()>;

    /// Appends an entry that describes no other change (a denial).
    fn audit_append(&self, entry: &AuditEntry) -> Result<()>;
    /// Entries with `from_ns <= time < to_ns`, oldest first.
    fn audit_scan<'a>(&'a self, from_ns: i128, to_ns: i128) -> Box<dyn Iterator<Item = Result<AuditEntry>> + 'a>;
    /// Removes entries older than `before_ns`; returns how many.
    fn audit_prune(&self, before_ns: i128) -> Result<usize>;
    /// Removes the oldest entries beyond `max_entries`; returns how many are left and
    /// how many were removed.
    fn audit_trim(&self, max_entries: usize) -> Result<(usize, usize)>;

    /// The manifest of that id, if it is kept (not pruned).
    fn proof_get(&self, id: &str) -> Result<Option<Manifest>>;
    /// Every manifest of a key, oldest first.
    fn proof_of_object(&self, bucket: &str, key: &str) -> Result<Vec<Manifest>>;
    /// Every manifest recording a body with this SHA-256 (lower-case hex).
    fn proof_by_sha256(&self, sha256: &str) -> Result<Vec<Manifest>>;
    /// A tenant's chain from `from_seq` on, in order.
    fn proof_chain<'a>(&'a self, tenant: &str, from_seq: u64) -> Box<dyn Iterator<Item = Result<Manifest>> + 'a>;
    /// The head of a tenant's chain; `None` before its first manifest.
    fn proof_head(&self, tenant: &str) -> Result<Option<ChainHead>>;
    /// Publishes a signing key's public half (base64) under its id; old ones are kept.
    fn proof_key_put(&self, key_id: &str, public_key: &str) -> Result<()>;
    /// Every published signing key: `(key id, base64 public key)`.
    fn proof_keys(&self) -> Result<Vec<(String, String)>>;
    /// A tenant's checkpoints (each standing in for a pruned run), by first seq.
    fn proof_checkpoints(&self, tenant: &str) -> Result<Vec<Checkpoint>>;
    /// Prunes every manifest of each object whose latest manifest is a deletion that
    /// `expired` accepts. Each maximal run of pruned seqs of a tenant, merged with the
    /// checkpoints next to it, is replaced by one checkpoint (drafted here, dated and
    /// signed by `sign`) in the same transaction. Returns how many manifests were removed.
    fn proof_prune(&self, expired: &dyn Fn(&Manifest) -> bool, sign: &dyn Fn(&mut Checkpoint)) -> Result<u64>;

    /// A bucket's configuration document of `kind`, if set.
    fn bucket_config_get(&self, bucket: &str, kind: BucketConfigKind) -> Result<Option<String>>;
    /// Sets (or with `None` removes) a bucket's configuration document of `kind`
    /// (`NoSuchBucket` if the bucket does not exist). Deleting the bucket removes them all.
    fn bucket_config_set(&self, bucket: &str, kind: BucketConfigKind, document: Option<&str>, audit: Option<&AuditEntry>) -> Result<()>;
    /// Sets a bucket's ACL: its public-read grant as `visibility` (the same truth the admin
    /// API's visibility shows) and its other grants as the `Acl` document (`None`: none), in
    /// one transaction.
    fn bucket_acl_set(&self, bucket: &str, visibility: Visibility, grants: Option<&str>, audit: Option<&AuditEntry>) -> Result<()>;
    /// Every bucket's configuration documents (to compile them at start).
    fn bucket_config_list(&self) -> Result<Vec<(String, BucketConfigKind, String)>>;

    /// Creates or replaces a topic rule.
    fn topic_put(&self, rule: &TopicRule, audit: Option<&AuditEntry>) -> Result<()>;
    /// Removes a topic rule (`NotFound` if there is none).
    fn topic_delete(&self, bucket: &str, topic: &str, audit: Option<&AuditEntry>) -> Result<()>;
    /// Every topic rule, by bucket and topic.
    fn topic_list(&self) -> Result<Vec<TopicRule>>;

    /// Stored rate-limit overrides: subject id (`tenant:T`, `key:K`) → rates.
    fn limits_all(&self) -> Result<Vec<(String, Rates)>>;
    /// Sets (or with `None` removes) the override of a subject.
    fn limits_set(&self, subject: &str, rates: Option<&Rates>, audit: Option<&AuditEntry>) -> Result<()>;

    /// A key of the keyring, by id.
    fn keyring_get(&self, id: &str) -> Result<Option<KeyringKey>>;
    /// Every key of the keyring, by id.
    fn keyring_list(&self) -> Result<Vec<KeyringKey>>;
    /// Creates or replaces a key of the keyring.
    fn keyring_put(&self, key: &KeyringKey, audit: Option<&AuditEntry>) -> Result<()>;

    /// A small named value of the gateway's own (such as how far the metadata mirror got).
    fn setting_get(&self, name: &str) -> Result<Option<String>>;
    /// Sets a named value of the gateway's own (see [`Store::setting_get`]).
    fn setting_put(&self, name: &str, value: &str) -> Result<()>;
    /// Restores manifests recorded elsewhere (a rebuild), in chain order; a tenant's chain
    /// head follows its highest seq. Those whose seq `logged` gives for their tenant join
    /// its log while they follow one another (the first one's predecessor is the log's
    /// genesis); the others are kept without a leaf.
    fn proof_import(&self, manifests: &[Manifest], logged: &dyn Fn(&str, u64) -> bool) -> Result<()>;
    /// Restores a checkpoint recorded elsewhere.
    fn checkpoint_import(&self, checkpoint: &Checkpoint) -> Result<()>;

    /// Bytes the store takes on disk.
    fn size_on_disk(&self) -> Result<u64>;

    /// Makes every write made so far durable (group-committed across callers).
    fn flush(&self) -> futures::future::BoxFuture<'_, Result<()>>;
    /// Where a tenant's proof log stands (none before its first manifest with proofs on).
    fn proof_log(&self, tenant: &str) -> Result<Option<LogInfo>>;
    /// The tenant and leaf index of a manifest in its tenant's log (none for manifests from
    /// before the log, and pruned ones).
    fn proof_leaf(&self, id: &str) -> Result<Option<(String, u64)>>;
    /// The inclusion proof (hex hashes, bottom up, RFC 9162 2.1.3) of `leaf` in the tree of
    /// the tenant's first `tree_size` leaves; `NotFound` if the log is not that big.
    fn proof_inclusion(&self, tenant: &str, leaf: u64, tree_size: u64) -> Result<Vec<String>>;
    /// The consistency proof (RFC 9162 2.1.4) between the tenant's trees of `first` and
    /// `second` leaves; `NotFound` if the log is not that big.
    fn proof_consistency(&self, tenant: &str, first: u64, second: u64) -> Result<Vec<String>>;
    /// The tenant's signed tree head of `tree_size` leaves, or its latest.
    fn proof_tree_head(&self, tenant: &str, tree_size: Option<u64>) -> Result<Option<TreeHead>>;
    /// Sets what signs tree heads (once) and signs every log ahead of its last head; from
    /// then on each [`Store::flush`] signs one head per tenant whose log grew.
    fn proof_set_head_signer(&self, signer: HeadSigner) -> Result<Vec<TreeHead>>;
    /// Signs now one head for each tenant whose log grew since its last one (what a flush
    /// does; for a gateway without fsync, or a caller that needs a head now).
    fn proof_sign_heads(&self) -> Result<Vec<TreeHead>>;
}

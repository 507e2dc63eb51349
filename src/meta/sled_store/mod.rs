//! The sled implementation of [`Store`].
//!
//! Trees and key encodings:
//! - `buckets`:  bucket name → [`BucketRecord`]
//! - `objects`:  bucket `0x00` key → [`ObjectRecord`] (bucket names never contain NUL, so a
//!   bucket's keys form one contiguous range in byte order)
//! - `uploads`:  upload id → [`UploadRecord`]
//! - `upload_keys`: bucket `0x00` key `0x00` upload id → `[]` (ordered listing of uploads)
//! - `parts`:    upload id `0x00` part number (big endian u32) → [`PartRecord`]
//! - `completed`: bucket `0x00` key → [`CompletedUpload`] (the completion that made the
//!   key's current object; every other commit or deletion of the key removes it)
//! - `tenants`:  tenant name → [`TenantRecord`]
//! - `users`:    tenant `0x00` user name → [`UserRecord`]
//! - `keys`:     access key id → [`KeyRecord`]
//! - `proofs`:   proof id → [`Manifest`]
//! - `proof_index`: `c` tenant `0x00` seq (BE u64) → id (the chain);
//!   `o` bucket `0x00` key `0x00` n (BE u64) → id (by object); `s` sha256 `0x00` id → `[]`;
//!   and each tenant's proof log (RFC 9162 Merkle tree): `g` tenant → its state (genesis
//!   chain head, size, frontier); `n` tenant `0x00` level (u8) `0x00` index (BE u64) → the
//!   32-byte hash of every complete subtree (level 0: the leaves), kept when manifests are
//!   pruned; `t` tenant `0x00` size (BE u64) → [`TreeHead`] (signed heads); `l` id → the
//!   manifest's leaf index (BE u64) and its tenant
//! - `proof_heads`: tenant → [`ChainHead`]
//! - `proof_keys`: key id → public key (base64)
//! - `proof_checkpoints`: tenant `0x00` first seq (BE u64) → [`Checkpoint`]
//! - `topics`:   bucket `0x00` topic → [`TopicRule`]
//! - `keyring`:  key id → [`KeyringKey`] (its versions wrapped)
//! - `bucket_config`: bucket `0x00` kind name → the document (text) of that [`BucketConfigKind`]
//! - `limits`:   subject (`tenant:T`, `key:K`) → [`Rates`]
//! - `versions`: bucket `0x00` escaped key `0x00 0x00` !n (BE u64) → [`VersionRecord`]: every
//!   version of every key of a versioned bucket, the current one too, newest first (`n`:
//!   the commit's sequence number, which the version id starts with; `0x00` in a key is
//!   escaped as `0x00 0xff`, so keys keep their byte order)
//! - `null_versions`: bucket `0x00` key → n (BE u64) of the key's null version
//! - `pending`:  id → [`PendingWrite`] (writes a backend has not answered yet)
//! - `audit`:    time (ns, big endian u64) and a unique id (big endian u64) → [`AuditEntry`]
//! - `usage_history`: time (ns, big endian u64) → [`UsageSample`]
//! - `schema`:   `"version"` → schema version
//!
//! One file per record family: `buckets.rs`, `objects.rs` (and pending writes), `versions.rs`,
//! `uploads.rs` (and parts, completions), `identities.rs` (tenants, users, keys),
//! `proofs.rs`, `audit.rs`, `settings.rs` (topic rules, bucket configuration documents,
//! rate-limit overrides, named values), `usage.rs` (the usage history); over `kv.rs` (JSON values, composite keys, transactions that abort with a store
//! [`Error`]) and `writes.rs` (the per-tenant write locks and usage).

use super::*;

mod audit;
mod buckets;
mod identities;
mod kv;
mod objects;
mod proofs;
mod settings;
mod uploads;
mod usage;
mod versions;
mod writes;

use audit::versioned_row;
use kv::*;
use proofs::*;
use uploads::*;
use versions::*;
use writes::*;

use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};
use sled::{Db, Transactional, Tree};

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

const SCHEMA_VERSION: &[u8] = b"1";

/// The metadata [`Store`] on a sled database in one directory, one tree per record family.
pub struct SledStore {
    db: Db,
    buckets: Tree,
    objects: Tree,
    versions: Tree,
    null_versions: Tree,
    uploads: Tree,
    upload_keys: Tree,
    parts: Tree,
    completed: Tree,
    pending: Tree,
    tenants: Tree,
    users: Tree,
    keys: Tree,
    audit: Tree,
    proofs: Tree,
    proof_index: Tree,
    proof_heads: Tree,
    proof_keys: Tree,
    proof_checkpoints: Tree,
    topics: Tree,
    keyring: Tree,
    bucket_config: Tree,
    limits: Tree,
    settings: Tree,
    usage_history: Tree,
    group_flush: GroupFlush,
    writes: TenantWrites,
    /// Tenants whose proof log grew since their last signed tree head.
    log_dirty: std::sync::Mutex<BTreeSet<String>>,
    /// Signs tree heads (set once proofs are on).
    head_signer: std::sync::OnceLock<HeadSigner>,
    /// Each tenant's latest signed tree head, as read or signed.
    latest_heads: std::sync::RwLock<HashMap<String, TreeHead>>,
    /// What the other instances of a cluster store, as their last heartbeats said.
    elsewhere: std::sync::RwLock<Elsewhere>,
}

/// Usage stored through the other instances of a cluster, by bucket and by tenant:
/// `(objects, bytes)`, added to this instance's own in quota checks.
#[derive(Default)]
struct Elsewhere {
    buckets: HashMap<String, (u64, u64)>,
    tenants: HashMap<String, (u64, u64)>,
}

/// Group commit for [`Store::flush`]: concurrent writers share one `fsync`.
///
/// Each caller takes a ticket after its write; whoever holds the lock flushes on behalf of
/// every ticket issued before the flush began, so a caller whose ticket is already covered
/// returns without a flush of its own. The flush runs on a blocking thread: sled's
/// `flush_async` was seen to deadlock against transactions running on the tokio workers.
#[derive(Default)]
struct GroupFlush {
    tickets: std::sync::atomic::AtomicU64,
    flushed: tokio::sync::Mutex<u64>,
}

impl GroupFlush {
    /// `before` runs once per flush, after the group is closed and before its `fsync`
    /// (the tree heads of the group are signed there, and made durable with it).
    async fn flush(&self, db: &Db, before: impl FnOnce() -> Result<()>) -> Result<()> {
        use std::sync::atomic::Ordering::SeqCst;
        let ticket = self.tickets.fetch_add(1, SeqCst) + 1;
        let mut flushed = self.flushed.lock().await;
        if *flushed >= ticket {
            return Ok(());
        }
        let covers = self.tickets.load(SeqCst);
        before()?;
        let db = db.clone();
        tokio::task::spawn_blocking(move || db.flush()).await.map_err(|e| Error::Storage(format!("flush task failed: {e}")))??;
        *flushed = covers;
        Ok(())
    }
}

impl From<sled::Error> for Error {
    fn from(e: sled::Error) -> Self {
        match e {
            sled::Error::Io(io) if io.kind() == std::io::ErrorKind::StorageFull => Self::StorageFull(io.to_string()),
            e => Self::Storage(e.to_string()),
        }
    }
}

/// How long [`open_db`] waits for the database's file lock.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Opens the sled database in `dir`. sled releases its file lock from its own threads a
/// little after the last handle is dropped (spacejam/sled#1289), so an open in the same
/// process right after a close (a migration run after another) waits for it, briefly; a
/// lock another process holds still fails, after [`LOCK_WAIT`].
/// The page cache of a store opened with [`SledStore::open`].
pub const DEFAULT_CACHE_BYTES: u64 = 64 << 20;

fn open_db(dir: &Path, cache_bytes: u64) -> Result<Db> {
    let config = sled::Config::new().path(dir).cache_capacity(cache_bytes);
    let deadline = std::time::Instant::now() + LOCK_WAIT;
    loop {
        match config.open() {
            // sled reports the lock as a plain I/O error with this message.
            Err(sled::Error::Io(e)) if e.to_string().contains("could not acquire lock") && std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            r => return Ok(r?),
        }
    }
}

impl SledStore {
    /// Opens (or creates) the store in `dir`, with the default page cache.
    pub fn open(dir: &Path) -> Result<Self> {
        Self::open_with_cache(dir, DEFAULT_CACHE_BYTES)
    }

    /// Opens (or creates) the store in `dir`, its page cache bounded to `cache_bytes`
    /// (`storage.metadata_cache_mib`).
    pub fn open_with_cache(dir: &Path, cache_bytes: u64) -> Result<Self> {
        let db = open_db(dir, cache_bytes)?;
        let schema = db.open_tree("schema")?;
        match schema.get("version")? {
            None => {
                schema.insert("version", SCHEMA_VERSION)?;
            }
            Some(v) if v.as_ref() == SCHEMA_VERSION => {}
            Some(v) => {
                return Err(Error::Corrupt(format!("unsupported schema version {}", String::from_utf8_lossy(&v))));
            }
        }
        Self {
            buckets: db.open_tree("buckets")?,
            objects: db.open_tree("objects")?,
            versions: db.open_tree("versions")?,
            null_versions: db.open_tree("null_versions")?,
            uploads: db.open_tree("uploads")?,
            upload_keys: db.open_tree("upload_keys")?,
            parts: db.open_tree("parts")?,
            completed: db.open_tree("completed")?,
            pending: db.open_tree("pending")?,
            tenants: db.open_tree("tenants")?,
            users: db.open_tree("users")?,
            keys: db.open_tree("keys")?,
            audit: db.open_tree("audit")?,
            proofs: db.open_tree("proofs")?,
            proof_index: db.open_tree("proof_index")?,
            proof_heads: db.open_tree("proof_heads")?,
            proof_keys: db.open_tree("proof_keys")?,
            proof_checkpoints: db.open_tree("proof_checkpoints")?,
            topics: db.open_tree("topics")?,
            keyring: db.open_tree("keyring")?,
            bucket_config: db.open_tree("bucket_config")?,
            limits: db.open_tree("limits")?,
            settings: db.open_tree("settings")?,
            usage_history: db.open_tree("usage_history")?,
            group_flush: GroupFlush::default(),
            writes: TenantWrites::new(HashMap::new()),
            log_dirty: std::sync::Mutex::default(),
            head_signer: std::sync::OnceLock::new(),
            latest_heads: std::sync::RwLock::default(),
            elsewhere: std::sync::RwLock::default(),
            db,
        }
        .with_tenant_usage()
    }

    /// Sums each tenant's buckets' usage counters (which every object transaction keeps
    /// exact) into the in-memory tenant usage.
    fn with_tenant_usage(mut self) -> Result<Self> {
        let mut usage = TenantUsage::new();
        for b in self.bucket_list()? {
            let u = usage.entry(b.tenant).or_default();
            *u = (u.0 + b.objects, u.1 + b.bytes);
        }
        self.writes = TenantWrites::new(usage);
        Ok(self)
    }
}

/// Each method is implemented in the file of its record family, as the inherent method of
/// the same name.
impl Store for SledStore {
    fn bucket_get(&self, name: &str) -> Result<Option<BucketRecord>> {
        SledStore::bucket_get(self, name)
    }

    fn bucket_create(&self, record: &BucketRecord, audit: Option<&AuditEntry>) -> Result<Option<BucketRecord>> {
        SledStore::bucket_create(self, record, audit)
    }

    fn bucket_delete(&self, name: &str, audit: Option<&AuditEntry>) -> Result<()> {
        SledStore::bucket_delete(self, name, audit)
    }

    fn bucket_update(&self, name: &str, tenant: &str, visibility: Visibility, audit: Option<&AuditEntry>) -> Result<BucketRecord> {
        SledStore::bucket_update(self, name, tenant, visibility, audit)
    }

    fn bucket_list(&self) -> Result<Vec<BucketRecord>> {
        SledStore::bucket_list(self)
    }

    fn bucket_set_quota(&self, name: &str, quota: Quota, audit: Option<&AuditEntry>) -> Result<BucketRecord> {
        SledStore::bucket_set_quota(self, name, quota, audit)
    }

    fn object_get(&self, bucket: &str, key: &str) -> Result<Option<ObjectRecord>> {
        SledStore::object_get(self, bucket, key)
    }

    fn object_commit(
        &self,
        bucket: &str,
        key: &str,
        record: &ObjectRecord,
        precondition: &Precondition,
        completes: Completes<'_>,
        audit: Option<&AuditEntry>,
        proof: Option<&ProofDraft>,
    ) -> Result<Committed> {
        SledStore::object_commit(self, bucket, key, record, precondition, completes, audit, proof)
    }

    fn object_delete(&self, bucket: &str, key: &str, precondition: &Precondition, audit: Option<&AuditEntry>, proof: Option<&ProofDraft>) -> Result<Deleted> {
        SledStore::object_delete(self, bucket, key, precondition, audit, proof)
    }

    fn bucket_set_versioning(&self, name: &str, versioning: Versioning, at_key: bool, audit: Option<&AuditEntry>) -> Result<BucketRecord> {
        SledStore::bucket_set_versioning(self, name, versioning, at_key, audit)
    }

    fn version_get(&self, bucket: &str, key: &str, version_id: &str) -> Result<Option<VersionRecord>> {
        SledStore::version_get(self, bucket, key, version_id)
    }

    fn version_delete(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
        now_ns: i128,
        bypass_governance: bool,
        audit: Option<&AuditEntry>,
        proof: Option<&ProofDraft>,
    ) -> Result<Option<VersionRecord>> {
        SledStore::version_delete(self, bucket, key, version_id, (now_ns, bypass_governance), audit, proof)
    }

    fn version_scan<'a>(
        &'a self,
        bucket: &str,
        prefix: &str,
        after: Option<(&str, Option<&str>)>,
    ) -> Box<dyn Iterator<Item = Result<(String, VersionRecord)>> + 'a> {
        SledStore::version_scan(self, bucket, prefix, after)
    }

    fn version_entries<'a>(&'a self, bucket: &str) -> Box<dyn Iterator<Item = Result<(String, u64, VersionRecord)>> + 'a> {
        SledStore::version_entries(self, bucket)
    }

    fn version_import(&self, bucket: &str, key: &str, n: u64, version: &VersionRecord) -> Result<()> {
        SledStore::version_import(self, bucket, key, n, version)
    }

    fn object_relocate(&self, bucket: &str, key: &str, expected: &ObjectRecord, segments: Vec<Segment>, audit: Option<&AuditEntry>) -> Result<()> {
        SledStore::object_relocate(self, bucket, key, expected, segments, audit)
    }

    fn object_set_tags(&self, bucket: &str, key: &str, version: Option<&str>, tags: Vec<(String, String)>, audit: Option<&AuditEntry>) -> Result<bool> {
        SledStore::object_set_tags(self, bucket, key, version, tags, audit)
    }

    fn version_update(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        update: &(dyn Fn(&mut ObjectRecord) -> Result<()> + Sync),
        audit: Option<&AuditEntry>,
    ) -> Result<bool> {
        SledStore::version_update(self, bucket, key, version, update, audit)
    }

    fn bucket_set_lock(&self, name: &str, lock: LockConfig, audit: Option<&AuditEntry>) -> Result<BucketRecord> {
        SledStore::bucket_set_lock(self, name, lock, audit)
    }

    fn object_scan<'a>(&'a self, bucket: &str, prefix: &str, from: Option<&str>) -> Box<dyn Iterator<Item = Result<ObjectEntry>> + 'a> {
        self.scan_objects(bucket, prefix, from)
    }

    fn object_summary_scan<'a>(&'a self, bucket: &str, prefix: &str, from: Option<&str>) -> Box<dyn Iterator<Item = Result<(String, ObjectSummary)>> + 'a> {
        self.scan_objects(bucket, prefix, from)
    }

    fn upload_create(&self, id: &str, record: &UploadRecord, audit: Option<&AuditEntry>) -> Result<()> {
        SledStore::upload_create(self, id, record, audit)
    }

    fn upload_get(&self, id: &str) -> Result<Option<UploadRecord>> {
        SledStore::upload_get(self, id)
    }

    fn upload_delete(&self, id: &str, audit: Option<&AuditEntry>) -> Result<Vec<PartRecord>> {
        SledStore::upload_delete(self, id, audit)
    }

    fn upload_list(&self, bucket: &str) -> Result<Vec<(String, UploadRecord)>> {
        SledStore::upload_list(self, bucket)
    }

    fn part_put(&self, upload_id: &str, record: &PartRecord, audit: Option<&AuditEntry>) -> Result<Option<PartRecord>> {
        SledStore::part_put(self, upload_id, record, audit)
    }

    fn part_list(&self, upload_id: &str) -> Result<Vec<PartRecord>> {
        SledStore::part_list(self, upload_id)
    }

    fn completed_get(&self, bucket: &str, key: &str) -> Result<Option<CompletedUpload>> {
        SledStore::completed_get(self, bucket, key)
    }

    fn referenced_blobs(&self) -> Result<BTreeSet<String>> {
        SledStore::referenced_blobs(self)
    }

    fn tenant_create(&self, record: &TenantRecord, audit: Option<&AuditEntry>) -> Result<()> {
        SledStore::tenant_create(self, record, audit)
    }

    fn tenant_get(&self, name: &str) -> Result<Option<TenantRecord>> {
        SledStore::tenant_get(self, name)
    }

    fn tenant_list(&self) -> Result<Vec<TenantRecord>> {
        SledStore::tenant_list(self)
    }

    fn tenant_set_quota(&self, name: &str, quota: Quota, audit: Option<&AuditEntry>) -> Result<TenantRecord> {
        SledStore::tenant_set_quota(self, name, quota, audit)
    }

    fn tenant_usage(&self, name: &str) -> Result<(u64, u64)> {
        SledStore::tenant_usage(self, name)
    }

    fn usage_elsewhere_set(&self, by_bucket: HashMap<String, (u64, u64)>) -> Result<()> {
        let mut tenants: HashMap<String, (u64, u64)> = HashMap::new();
        for (bucket, (objects, bytes)) in &by_bucket {
            if let Some(b) = self.bucket_get(bucket)? {
                let t = tenants.entry(b.tenant).or_default();
                *t = (t.0 + objects, t.1 + bytes);
            }
        }
        *self.elsewhere.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Elsewhere { buckets: by_bucket, tenants };
        Ok(())
    }

    fn usage_elsewhere(&self, bucket: &str) -> (u64, u64) {
        SledStore::usage_elsewhere(self, Some(bucket), None)
    }

    fn usage_sample(&self, at_ns: i128, forget_before_ns: i128) -> Result<u64> {
        SledStore::usage_sample(self, at_ns, forget_before_ns)
    }

    fn usage_history(&self, since_ns: i128) -> Result<Vec<UsageSample>> {
        SledStore::usage_history(self, since_ns)
    }

    fn tenant_delete(&self, name: &str, audit: Option<&AuditEntry>) -> Result<()> {
        SledStore::tenant_delete(self, name, audit)
    }

    fn user_create(&self, record: &UserRecord, audit: Option<&AuditEntry>) -> Result<()> {
        SledStore::user_create(self, record, audit)
    }

    fn user_get(&self, tenant: &str, name: &str) -> Result<Option<UserRecord>> {
        SledStore::user_get(self, tenant, name)
    }

    fn user_list(&self) -> Result<Vec<UserRecord>> {
        SledStore::user_list(self)
    }

    fn user_delete(&self, tenant: &str, name: &str, audit: Option<&AuditEntry>) -> Result<Vec<String>> {
        SledStore::user_delete(self, tenant, name, audit)
    }

    fn key_put(&self, record: &KeyRecord, audit: Option<&AuditEntry>) -> Result<()> {
        SledStore::key_put(self, record, audit)
    }

    fn key_get(&self, access_key: &str) -> Result<Option<KeyRecord>> {
        SledStore::key_get(self, access_key)
    }

    fn key_list(&self) -> Result<Vec<KeyRecord>> {
        SledStore::key_list(self)
    }

    fn key_delete(&self, access_key: &str, audit: Option<&AuditEntry>) -> Result<()> {
        SledStore::key_delete(self, access_key, audit)
    }

    fn audit_append(&self, entry: &AuditEntry) -> Result<()> {
        SledStore::audit_append(self, entry)
    }

    fn audit_scan<'a>(&'a self, from_ns: i128, to_ns: i128) -> Box<dyn Iterator<Item = Result<AuditEntry>> + 'a> {
        SledStore::audit_scan(self, from_ns, to_ns)
    }

    fn audit_prune(&self, before_ns: i128) -> Result<usize> {
        SledStore::audit_prune(self, before_ns)
    }

    fn audit_trim(&self, max_entries: usize) -> Result<(usize, usize)> {
        SledStore::audit_trim(self, max_entries)
    }

    fn proof_get(&self, id: &str) -> Result<Option<Manifest>> {
        SledStore::proof_get(self, id)
    }

    fn proof_of_object(&self, bucket: &str, key: &str) -> Result<Vec<Manifest>> {
        SledStore::proof_of_object(self, bucket, key)
    }

    fn proof_by_sha256(&self, sha256: &str) -> Result<Vec<Manifest>> {
        SledStore::proof_by_sha256(self, sha256)
    }

    fn proof_chain<'a>(&'a self, tenant: &str, from_seq: u64) -> Box<dyn Iterator<Item = Result<Manifest>> + 'a> {
        SledStore::proof_chain(self, tenant, from_seq)
    }

    fn proof_head(&self, tenant: &str) -> Result<Option<ChainHead>> {
        SledStore::proof_head(self, tenant)
    }

    fn proof_key_put(&self, key_id: &str, public_key: &str) -> Result<()> {
        SledStore::proof_key_put(self, key_id, public_key)
    }

    fn proof_keys(&self) -> Result<Vec<(String, String)>> {
        SledStore::proof_keys(self)
    }

    fn proof_checkpoints(&self, tenant: &str) -> Result<Vec<Checkpoint>> {
        SledStore::proof_checkpoints(self, tenant)
    }

    fn proof_prune(&self, expired: &dyn Fn(&Manifest) -> bool, sign: &dyn Fn(&mut Checkpoint)) -> Result<u64> {
        SledStore::proof_prune(self, expired, sign)
    }

    fn bucket_config_get(&self, bucket: &str, kind: BucketConfigKind) -> Result<Option<String>> {
        SledStore::bucket_config_get(self, bucket, kind)
    }

    fn bucket_config_set(&self, bucket: &str, kind: BucketConfigKind, document: Option<&str>, audit: Option<&AuditEntry>) -> Result<()> {
        SledStore::bucket_config_set(self, bucket, kind, document, audit)
    }

    fn bucket_acl_set(&self, bucket: &str, visibility: Visibility, grants: Option<&str>, audit: Option<&AuditEntry>) -> Result<()> {
        SledStore::bucket_acl_set(self, bucket, visibility, grants, audit)
    }

    fn bucket_config_list(&self) -> Result<Vec<(String, BucketConfigKind, String)>> {
        SledStore::bucket_config_list(self)
    }

    fn topic_put(&self, rule: &TopicRule, audit: Option<&AuditEntry>) -> Result<()> {
        SledStore::topic_put(self, rule, audit)
    }

    fn topic_delete(&self, bucket: &str, topic: &str, audit: Option<&AuditEntry>) -> Result<()> {
        SledStore::topic_delete(self, bucket, topic, audit)
    }

    fn topic_list(&self) -> Result<Vec<TopicRule>> {
        SledStore::topic_list(self)
    }

    fn keyring_get(&self, id: &str) -> Result<Option<KeyringKey>> {
        SledStore::keyring_get(self, id)
    }

    fn keyring_list(&self) -> Result<Vec<KeyringKey>> {
        SledStore::keyring_list(self)
    }

    fn keyring_put(&self, key: &KeyringKey, audit: Option<&AuditEntry>) -> Result<()> {
        SledStore::keyring_put(self, key, audit)
    }

    fn limits_all(&self) -> Result<Vec<(String, Rates)>> {
        SledStore::limits_all(self)
    }

    fn limits_set(&self, subject: &str, rates: Option<&Rates>, audit: Option<&AuditEntry>) -> Result<()> {
        SledStore::limits_set(self, subject, rates, audit)
    }

    fn pending_put(&self, id: &str, write: &PendingWrite) -> Result<()> {
        SledStore::pending_put(self, id, write)
    }

    fn pending_list(&self) -> Result<Vec<(String, PendingWrite)>> {
        SledStore::pending_list(self)
    }

    fn pending_remove(&self, id: &str) -> Result<()> {
        SledStore::pending_remove(self, id)
    }

    fn setting_get(&self, name: &str) -> Result<Option<String>> {
        SledStore::setting_get(self, name)
    }

    fn setting_put(&self, name: &str, value: &str) -> Result<()> {
        SledStore::setting_put(self, name, value)
    }

    fn proof_import(&self, manifests: &[Manifest], logged: &dyn Fn(&str, u64) -> bool) -> Result<()> {
        SledStore::proof_import(self, manifests, logged)
    }

    fn checkpoint_import(&self, c: &Checkpoint) -> Result<()> {
        SledStore::checkpoint_import(self, c)
    }

    fn size_on_disk(&self) -> Result<u64> {
        Ok(self.db.size_on_disk()?)
    }

    fn flush(&self) -> futures::future::BoxFuture<'_, Result<()>> {
        Box::pin(self.group_flush.flush(&self.db, || self.proof_sign_heads().map(drop)))
    }

    fn proof_log(&self, tenant: &str) -> Result<Option<LogInfo>> {
        SledStore::proof_log(self, tenant)
    }

    fn proof_leaf(&self, id: &str) -> Result<Option<(String, u64)>> {
        SledStore::proof_leaf(self, id)
    }

    fn proof_inclusion(&self, tenant: &str, leaf: u64, tree_size: u64) -> Result<Vec<String>> {
        SledStore::proof_inclusion(self, tenant, leaf, tree_size)
    }

    fn proof_consistency(&self, tenant: &str, first: u64, second: u64) -> Result<Vec<String>> {
        SledStore::proof_consistency(self, tenant, first, second)
    }

    fn proof_tree_head(&self, tenant: &str, tree_size: Option<u64>) -> Result<Option<TreeHead>> {
        SledStore::proof_tree_head(self, tenant, tree_size)
    }

    fn proof_set_head_signer(&self, signer: HeadSigner) -> Result<Vec<TreeHead>> {
        SledStore::proof_set_head_signer(self, signer)
    }

    fn proof_sign_heads(&self) -> Result<Vec<TreeHead>> {
        SledStore::proof_sign_heads(self)
    }
}

#[cfg(test)]
mod tests;

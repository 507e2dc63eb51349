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
//!   `o` bucket `0x00` key `0x00` n (BE u64) → id (by object); `s` sha256 `0x00` id → `[]`
//! - `proof_heads`: tenant → [`ChainHead`]
//! - `proof_keys`: key id → public key (base64)
//! - `proof_checkpoints`: tenant `0x00` first seq (BE u64) → [`Checkpoint`]
//! - `topics`:   bucket `0x00` topic → [`TopicRule`]
//! - `limits`:   subject (`tenant:T`, `key:K`) → [`Rates`]
//! - `pending`:  id → [`PendingWrite`] (writes a backend has not answered yet)
//! - `audit`:    time (ns, big endian u64) and a unique id (big endian u64) → [`AuditEntry`]
//! - `schema`:   `"version"` → schema version

use super::*;

use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};
use sled::{Db, Transactional, Tree};

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

const SCHEMA_VERSION: &[u8] = b"1";

pub struct SledStore {
    db: Db,
    buckets: Tree,
    objects: Tree,
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
    limits: Tree,
    settings: Tree,
    group_flush: GroupFlush,
    writes: TenantWrites,
}

/// Objects and bytes stored by each tenant (of those hashed to one shard of [`TenantWrites`]).
type TenantUsage = HashMap<String, (u64, u64)>;

/// How many locks [`TenantWrites`] spreads the tenants over.
const WRITE_SHARDS: usize = 64;

/// The locks of object writes, one per shard of tenants (by hash of the tenant's name),
/// so that writes of different tenants do not wait for each other. A tenant's shard lock
/// guards:
/// - the tenant's usage (the sum of its buckets' counters, computed at open and kept in
///   step with every commit, for O(1) quota checks): a quota check and the commit it
///   admits cannot interleave with another write of the tenant;
/// - the head of the tenant's proof chain: a manifest is placed after the head (`seq`,
///   `prev`) and signed under the lock but before the transaction, which only checks that
///   the head did not move (see [`SealedProof`]);
/// - the counters of the tenant's buckets, which each object transaction updates.
///
/// sled runs every transaction of the process under one global lock: what a transaction
/// does is kept to reads and inserts of bytes prepared outside it.
struct TenantWrites {
    shards: Vec<std::sync::Mutex<TenantUsage>>,
}

/// The shard locks of some tenants, held.
struct LockedTenants<'a> {
    guards: Vec<(usize, std::sync::MutexGuard<'a, TenantUsage>)>,
}

impl TenantWrites {
    fn new(usage: TenantUsage) -> Self {
        let mut shards: Vec<TenantUsage> = (0..WRITE_SHARDS).map(|_| HashMap::new()).collect();
        for (tenant, u) in usage {
            shards[Self::shard(&tenant)].insert(tenant, u);
        }
        Self { shards: shards.into_iter().map(std::sync::Mutex::new).collect() }
    }

    fn shard(tenant: &str) -> usize {
        use std::hash::{Hash, Hasher};
        let mut h = std::hash::DefaultHasher::new();
        tenant.hash(&mut h);
        // The remainder is below WRITE_SHARDS: it fits any usize.
        usize::try_from(h.finish() % WRITE_SHARDS as u64).unwrap_or_default()
    }

    /// Locks the shards of `tenants`, in shard order (so two writers locking two tenants
    /// each cannot deadlock), each shard once.
    fn lock<'t>(&self, tenants: impl IntoIterator<Item = &'t str>) -> LockedTenants<'_> {
        let mut shards: Vec<usize> = tenants.into_iter().map(Self::shard).collect();
        shards.sort_unstable();
        shards.dedup();
        let guards = shards.into_iter().map(|i| (i, self.shards[i].lock().unwrap_or_else(std::sync::PoisonError::into_inner))).collect();
        LockedTenants { guards }
    }
}

impl LockedTenants<'_> {
    fn shard_of(&mut self, tenant: &str) -> &mut TenantUsage {
        let shard = TenantWrites::shard(tenant);
        let (_, guard) = self.guards.iter_mut().find(|(i, _)| *i == shard).expect("the tenant's shard is locked");
        guard
    }

    /// `(objects, bytes)` of a locked tenant.
    fn usage(&mut self, tenant: &str) -> (u64, u64) {
        self.shard_of(tenant).get(tenant).copied().unwrap_or_default()
    }

    /// Applies replacing an object of `old` size by one of `new` size to a locked tenant's usage.
    fn apply(&mut self, tenant: &str, old: Option<u64>, new: Option<u64>) {
        let u = self.shard_of(tenant).entry(tenant.to_owned()).or_default();
        if let Some(size) = old {
            *u = (u.0.saturating_sub(1), u.1.saturating_sub(size));
        }
        if let Some(size) = new {
            *u = (u.0 + 1, u.1 + size);
        }
    }

    /// Moves a bucket's `(objects, bytes)` from one locked tenant's usage to another's.
    fn transfer(&mut self, from: &str, to: &str, (objects, bytes): (u64, u64)) {
        let u = self.shard_of(from).entry(from.to_owned()).or_default();
        *u = (u.0.saturating_sub(objects), u.1.saturating_sub(bytes));
        let u = self.shard_of(to).entry(to.to_owned()).or_default();
        *u = (u.0 + objects, u.1 + bytes);
    }
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
    async fn flush(&self, db: &Db) -> Result<()> {
        use std::sync::atomic::Ordering::SeqCst;
        let ticket = self.tickets.fetch_add(1, SeqCst) + 1;
        let mut flushed = self.flushed.lock().await;
        if *flushed >= ticket {
            return Ok(());
        }
        let covers = self.tickets.load(SeqCst);
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

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| Error::Corrupt(e.to_string()))
}

fn encode<T: serde::Serialize>(value: &T) -> Vec<u8> {
    // Records are plain data: serializing them cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

fn object_key(bucket: &str, key: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(bucket.len() + 1 + key.len());
    k.extend_from_slice(bucket.as_bytes());
    k.push(0);
    k.extend_from_slice(key.as_bytes());
    k
}

fn upload_key(bucket: &str, key: &str, id: &str) -> Vec<u8> {
    let mut k = object_key(bucket, key);
    k.push(0);
    k.extend_from_slice(id.as_bytes());
    k
}

fn part_key(upload_id: &str, number: u32) -> Vec<u8> {
    let mut k = Vec::with_capacity(upload_id.len() + 5);
    k.extend_from_slice(upload_id.as_bytes());
    k.push(0);
    k.extend_from_slice(&number.to_be_bytes());
    k
}

fn part_prefix(upload_id: &str) -> Vec<u8> {
    let mut k = upload_id.as_bytes().to_vec();
    k.push(0);
    k
}

/// Runs a sled transaction whose closure aborts with a store [`Error`].
fn flatten<T>(r: std::result::Result<T, TransactionError<Error>>) -> Result<T> {
    r.map_err(|e| match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => e.into(),
    })
}

fn abort<T>(e: Error) -> std::result::Result<T, ConflictableTransactionError<Error>> {
    Err(ConflictableTransactionError::Abort(e))
}

fn tx_decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> std::result::Result<T, ConflictableTransactionError<Error>> {
    decode(bytes).map_err(ConflictableTransactionError::Abort)
}

/// Applies the usage change of replacing `old` by `new` to the bucket record.
fn update_usage(
    buckets: &TransactionalTree,
    bucket: &str,
    old: Option<&ObjectRecord>,
    new: Option<&ObjectRecord>,
) -> std::result::Result<(), ConflictableTransactionError<Error>> {
    let Some(raw) = buckets.get(bucket.as_bytes())? else {
        return abort(Error::NoSuchBucket);
    };
    let mut rec: BucketRecord = tx_decode(&raw)?;
    if let Some(new) = new
        && let Err(why) = rec.quota.admits(rec.objects, rec.bytes, old.map(|o| o.size), new.size)
    {
        return abort(Error::QuotaExceeded(format!("bucket {bucket}: {why}")));
    }
    if let Some(old) = old {
        rec.objects = rec.objects.saturating_sub(1);
        rec.bytes = rec.bytes.saturating_sub(old.size);
    }
    if let Some(new) = new {
        rec.objects += 1;
        rec.bytes += new.size;
    }
    buckets.insert(bucket.as_bytes(), encode(&rec))?;
    Ok(())
}

fn time_key(ns: i128) -> [u8; 8] {
    u64::try_from(ns.max(0)).unwrap_or(u64::MAX).to_be_bytes()
}

/// Writes the audit entry (if any) inside a transaction.
fn tx_audit(tree: &TransactionalTree, entry: Option<&(Vec<u8>, Vec<u8>)>) -> std::result::Result<(), ConflictableTransactionError<Error>> {
    if let Some((k, v)) = entry {
        tree.insert(k.as_slice(), v.as_slice())?;
    }
    Ok(())
}

fn index_key(kind: u8, parts: &[&[u8]]) -> Vec<u8> {
    let mut k = vec![kind];
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            k.push(0);
        }
        k.extend_from_slice(p);
    }
    k
}

/// The proof index rows of a manifest: its place in its tenant's chain, among the
/// manifests of its object (`object_n` orders them) and by body digest.
fn proof_index_rows(m: &Manifest, object_n: u64) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut rows = vec![
        (index_key(b'c', &[m.tenant.as_bytes(), &m.seq.to_be_bytes()]), m.id.as_bytes().to_vec()),
        (index_key(b'o', &[m.bucket.as_bytes(), m.key.as_bytes(), &object_n.to_be_bytes()]), m.id.as_bytes().to_vec()),
    ];
    if !m.sha256.is_empty() {
        rows.push((index_key(b's', &[m.sha256.as_bytes(), m.id.as_bytes()]), Vec::new()));
    }
    rows
}

/// A proof manifest placed after its tenant's chain head and signed, as the bytes its
/// transaction inserts. Sealed under the tenant's write lock but outside the transaction
/// (sled's global lock), where the signature, the hash and the JSON would hold up every
/// writer of the process.
struct SealedProof {
    tenant: String,
    /// The raw head the manifest follows (none: the chain's first).
    follows: Option<sled::IVec>,
    head: Vec<u8>,
    id: String,
    manifest: Vec<u8>,
    index_rows: Vec<(Vec<u8>, Vec<u8>)>,
}

/// What one try of an object transaction did.
enum Attempt<T> {
    Committed(T),
    /// What its proof was sealed against changed (the tenant's chain head moved, or the
    /// object it records the deletion of appeared): nothing was written; seal and try again.
    Stale,
}

/// Whether the chain head `sealed` follows is still its tenant's head.
fn tx_chain_holds(heads: &TransactionalTree, sealed: Option<&SealedProof>) -> std::result::Result<bool, ConflictableTransactionError<Error>> {
    match sealed {
        Some(s) => Ok(heads.get(s.tenant.as_bytes())? == s.follows),
        None => Ok(true),
    }
}

/// Appends a sealed proof to its tenant's chain inside a transaction (after
/// [`tx_chain_holds`]).
fn tx_proof(
    proofs: &TransactionalTree,
    index: &TransactionalTree,
    heads: &TransactionalTree,
    sealed: Option<&SealedProof>,
) -> std::result::Result<(), ConflictableTransactionError<Error>> {
    let Some(s) = sealed else { return Ok(()) };
    heads.insert(s.tenant.as_bytes(), s.head.as_slice())?;
    proofs.insert(s.id.as_bytes(), s.manifest.as_slice())?;
    for (k, v) in &s.index_rows {
        index.insert(k.as_slice(), v.as_slice())?;
    }
    Ok(())
}

/// How long [`open_db`] waits for the database's file lock.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Opens the sled database in `dir`. sled releases its file lock from its own threads a
/// little after the last handle is dropped (spacejam/sled#1289), so an open in the same
/// process right after a close (a migration run after another) waits for it, briefly; a
/// lock another process holds still fails, after [`LOCK_WAIT`].
fn open_db(dir: &Path) -> Result<Db> {
    let config = sled::Config::new().path(dir).cache_capacity(64 * 1024 * 1024);
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
    fn proofs_of_ids(&self, ids: impl Iterator<Item = sled::Result<sled::IVec>>) -> Result<Vec<Manifest>> {
        let mut out = Vec::new();
        for id in ids {
            if let Some(raw) = self.proofs.get(id?)? {
                out.push(decode(&raw)?);
            }
        }
        Ok(out)
    }

    /// The audit key and value of `entry`: time first, so the tree is a time-ordered log.
    fn audit_row(&self, entry: Option<&AuditEntry>) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        let Some(e) = entry else { return Ok(None) };
        let mut k = time_key(e.time_ns).to_vec();
        k.extend_from_slice(&self.db.generate_id()?.to_be_bytes());
        Ok(Some((k, encode(e))))
    }

    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Self> {
        let db = open_db(dir)?;
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
            limits: db.open_tree("limits")?,
            settings: db.open_tree("settings")?,
            group_flush: GroupFlush::default(),
            writes: TenantWrites::new(HashMap::new()),
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

    /// Reads `bucket` and locks the writes of its owner (and of the tenants `also`). The
    /// owner may change until the lock is held, so the bucket is read again under it, until
    /// the two agree.
    fn lock_bucket_owner(&self, bucket: &str, also: &[&str]) -> Result<(Option<BucketRecord>, LockedTenants<'_>)> {
        loop {
            let before = self.bucket_get(bucket)?;
            let locked = self.writes.lock(before.iter().map(|b| b.tenant.as_str()).chain(also.iter().copied()));
            let now = self.bucket_get(bucket)?;
            if now.as_ref().map(|b| &b.tenant) == before.as_ref().map(|b| &b.tenant) {
                return Ok((now, locked));
            }
        }
    }

    /// Refuses a write that would take the bucket's tenant past its quota. Called with
    /// the tenant locked, so its usage cannot change before the commit.
    fn check_tenant_quota(&self, locked: &mut LockedTenants<'_>, bucket: Option<&BucketRecord>, okey: &[u8], new_size: u64) -> Result<()> {
        // A missing bucket is reported by the transaction.
        let Some(b) = bucket else { return Ok(()) };
        let Some(t) = self.tenant_get(&b.tenant)? else {
            return Ok(());
        };
        if t.quota.is_unlimited() {
            return Ok(());
        }
        let old: Option<ObjectRecord> = self.objects.get(okey)?.map(|v| decode(&v)).transpose()?;
        let (objects, bytes) = locked.usage(&b.tenant);
        t.quota.admits(objects, bytes, old.map(|o| o.size), new_size).map_err(|why| Error::QuotaExceeded(format!("tenant {}: {why}", t.name)))
    }

    /// Places `draft` after its tenant's current chain head and signs it (see
    /// [`SealedProof`]); called with the tenant locked.
    fn seal(&self, draft: &ProofDraft<'_>, object_n: u64) -> Result<SealedProof> {
        let follows = self.proof_heads.get(draft.manifest.tenant.as_bytes())?;
        let head: ChainHead = follows.as_deref().map(decode).transpose()?.unwrap_or_default();
        let mut m = draft.manifest.clone();
        m.seq = head.seq + 1;
        m.prev = head.hash;
        (draft.sign)(&mut m);
        Ok(SealedProof {
            follows,
            head: encode(&ChainHead { seq: m.seq, hash: m.hash() }),
            index_rows: proof_index_rows(&m, object_n),
            manifest: encode(&m),
            id: m.id,
            tenant: m.tenant,
        })
    }

    fn part_keys(&self, upload_id: &str) -> Result<Vec<(sled::IVec, PartRecord)>> {
        self.parts
            .scan_prefix(part_prefix(upload_id))
            .map(|r| {
                let (k, v) = r?;
                Ok((k, decode(&v)?))
            })
            .collect()
    }
}

fn user_key(tenant: &str, name: &str) -> Vec<u8> {
    object_key(tenant, name)
}

impl Store for SledStore {
    fn bucket_get(&self, name: &str) -> Result<Option<BucketRecord>> {
        self.buckets.get(name)?.map(|v| decode(&v)).transpose()
    }

    fn bucket_create(&self, record: &BucketRecord, audit: Option<&AuditEntry>) -> Result<Option<BucketRecord>> {
        let row = self.audit_row(audit)?;
        let value = encode(record);
        flatten((&self.buckets, &self.audit).transaction(|(buckets, audit)| {
            if let Some(raw) = buckets.get(record.name.as_bytes())? {
                return Ok(Some(tx_decode(&raw)?));
            }
            buckets.insert(record.name.as_bytes(), value.as_slice())?;
            tx_audit(audit, row.as_ref())?;
            Ok(None)
        }))
    }

    fn bucket_delete(&self, name: &str, audit: Option<&AuditEntry>) -> Result<()> {
        let has_uploads = self.upload_keys.scan_prefix(object_key(name, "")).next().is_some();
        let row = self.audit_row(audit)?;
        flatten((&self.buckets, &self.audit).transaction(|(buckets, audit)| {
            let Some(raw) = buckets.get(name.as_bytes())? else {
                return abort(Error::NoSuchBucket);
            };
            let rec: BucketRecord = tx_decode(&raw)?;
            if rec.objects > 0 || has_uploads {
                return abort(Error::BucketNotEmpty);
            }
            buckets.remove(name.as_bytes())?;
            tx_audit(audit, row.as_ref())?;
            Ok(())
        }))
    }

    fn bucket_update(&self, name: &str, tenant: &str, visibility: Visibility, audit: Option<&AuditEntry>) -> Result<BucketRecord> {
        let row = self.audit_row(audit)?;
        // A change of owner moves the bucket's usage between tenants: both are locked.
        let (_, mut locked) = self.lock_bucket_owner(name, &[tenant])?;
        let (rec, old_tenant) = flatten((&self.buckets, &self.tenants, &self.audit).transaction(|(buckets, tenants, audit)| {
            let Some(raw) = buckets.get(name.as_bytes())? else {
                return abort(Error::NoSuchBucket);
            };
            if tenants.get(tenant.as_bytes())?.is_none() {
                return abort(Error::NotFound);
            }
            let mut rec: BucketRecord = tx_decode(&raw)?;
            let old_tenant = std::mem::replace(&mut rec.tenant, tenant.to_owned());
            rec.visibility = visibility;
            buckets.insert(name.as_bytes(), encode(&rec))?;
            tx_audit(audit, row.as_ref())?;
            Ok((rec, old_tenant))
        }))?;
        if old_tenant != rec.tenant {
            locked.transfer(&old_tenant, &rec.tenant, (rec.objects, rec.bytes));
        }
        Ok(rec)
    }

    fn bucket_list(&self) -> Result<Vec<BucketRecord>> {
        self.buckets.iter().values().map(|v| decode(&v?)).collect()
    }

    fn bucket_set_quota(&self, name: &str, quota: Quota, audit: Option<&AuditEntry>) -> Result<BucketRecord> {
        let row = self.audit_row(audit)?;
        flatten((&self.buckets, &self.audit).transaction(|(buckets, audit)| {
            let Some(raw) = buckets.get(name.as_bytes())? else {
                return abort(Error::NoSuchBucket);
            };
            let mut rec: BucketRecord = tx_decode(&raw)?;
            rec.quota = quota;
            buckets.insert(name.as_bytes(), encode(&rec))?;
            tx_audit(audit, row.as_ref())?;
            Ok(rec)
        }))
    }

    fn object_get(&self, bucket: &str, key: &str) -> Result<Option<ObjectRecord>> {
        self.objects.get(object_key(bucket, key))?.map(|v| decode(&v)).transpose()
    }

    fn object_commit(
        &self,
        bucket: &str,
        key: &str,
        record: &ObjectRecord,
        precondition: &Precondition,
        completes: Completes<'_>,
        audit: Option<&AuditEntry>,
        proof: Option<&ProofDraft<'_>>,
    ) -> Result<Option<ObjectRecord>> {
        let parts = match completes {
            Completes::Upload(id) | Completes::Multipart { upload: id, .. } => self.part_keys(id)?,
            Completes::Nothing | Completes::Pending(_) => Vec::new(),
        };
        let okey = object_key(bucket, key);
        let value = encode(record);
        let completion = match completes {
            Completes::Multipart { upload, parts } => Some(encode(&CompletedUpload {
                upload_id: upload.to_owned(),
                parts: parts.to_owned(),
                etag: record.etag.clone(),
                last_modified_ns: record.last_modified_ns,
                proof_id: record.proof_id.clone(),
            })),
            _ => None,
        };
        let row = self.audit_row(audit)?;
        let trees = (
            &self.buckets,
            &self.objects,
            &self.uploads,
            &self.upload_keys,
            &self.parts,
            &self.completed,
            &self.pending,
            &self.audit,
            &self.proofs,
            &self.proof_index,
            &self.proof_heads,
        );
        let (bucket_rec, mut locked) = self.lock_bucket_owner(bucket, &[])?;
        self.check_tenant_quota(&mut locked, bucket_rec.as_ref(), &okey, record.size)?;
        loop {
            // Taken under the lock, so that the order of an object's manifests is the order of its commits.
            let object_n = self.db.generate_id()?;
            let sealed = proof.map(|draft| self.seal(draft, object_n)).transpose()?;
            let attempt =
                flatten(trees.transaction(|(buckets, objects, uploads, upload_keys, parts_tree, completed, pending, audit, proofs, index, heads)| {
                    if !tx_chain_holds(heads, sealed.as_ref())? {
                        return Ok(Attempt::Stale);
                    }
                    let old: Option<ObjectRecord> = match objects.get(&okey)? {
                        Some(raw) => Some(tx_decode(&raw)?),
                        None => None,
                    };
                    if let Err(e) = precondition.check(old.as_ref()) {
                        return abort(e);
                    }
                    match completes {
                        Completes::Nothing => {}
                        Completes::Upload(id) | Completes::Multipart { upload: id, .. } => {
                            if uploads.remove(id.as_bytes())?.is_none() {
                                return abort(Error::NoSuchUpload);
                            }
                            upload_keys.remove(upload_key(bucket, key, id))?;
                            for (k, _) in &parts {
                                parts_tree.remove(k)?;
                            }
                        }
                        Completes::Pending(id) => {
                            pending.remove(id.as_bytes())?;
                        }
                    }
                    match &completion {
                        Some(c) => completed.insert(okey.as_slice(), c.as_slice())?,
                        None => completed.remove(okey.as_slice())?,
                    };
                    update_usage(buckets, bucket, old.as_ref(), Some(record))?;
                    objects.insert(okey.as_slice(), value.as_slice())?;
                    tx_audit(audit, row.as_ref())?;
                    tx_proof(proofs, index, heads, sealed.as_ref())?;
                    Ok(Attempt::Committed(old))
                }))?;
            let Attempt::Committed(old) = attempt else { continue };
            if let Some(b) = bucket_rec {
                locked.apply(&b.tenant, old.as_ref().map(|o| o.size), Some(record.size));
            }
            return Ok(old);
        }
    }

    fn object_delete(
        &self,
        bucket: &str,
        key: &str,
        precondition: &Precondition,
        audit: Option<&AuditEntry>,
        proof: Option<&ProofDraft<'_>>,
    ) -> Result<Option<ObjectRecord>> {
        let okey = object_key(bucket, key);
        let row = self.audit_row(audit)?;
        let trees = (&self.buckets, &self.objects, &self.completed, &self.audit, &self.proofs, &self.proof_index, &self.proof_heads);
        let (bucket_rec, mut locked) = self.lock_bucket_owner(bucket, &[])?;
        loop {
            let object_n = self.db.generate_id()?;
            // A deletion is proved only if there is something to delete: no signature for the rest.
            let sealed = match proof {
                Some(draft) if self.objects.contains_key(okey.as_slice())? => Some(self.seal(draft, object_n)?),
                _ => None,
            };
            let attempt = flatten(trees.transaction(|(buckets, objects, completed, audit, proofs, index, heads)| {
                if !tx_chain_holds(heads, sealed.as_ref())? {
                    return Ok(Attempt::Stale);
                }
                let Some(raw) = objects.get(okey.as_slice())? else {
                    tx_audit(audit, row.as_ref())?;
                    if buckets.get(bucket.as_bytes())?.is_none() {
                        return abort(Error::NoSuchBucket);
                    }
                    return match precondition.check(None) {
                        Ok(()) => Ok(Attempt::Committed(None)),
                        Err(e) => abort(e),
                    };
                };
                if proof.is_some() && sealed.is_none() {
                    return Ok(Attempt::Stale);
                }
                tx_audit(audit, row.as_ref())?;
                let old: ObjectRecord = tx_decode(&raw)?;
                if let Err(e) = precondition.check(Some(&old)) {
                    return abort(e);
                }
                objects.remove(okey.as_slice())?;
                completed.remove(okey.as_slice())?;
                update_usage(buckets, bucket, Some(&old), None)?;
                tx_proof(proofs, index, heads, sealed.as_ref())?;
                Ok(Attempt::Committed(Some(old)))
            }))?;
            let Attempt::Committed(old) = attempt else { continue };
            if let (Some(b), Some(o)) = (&bucket_rec, &old) {
                locked.apply(&b.tenant, Some(o.size), None);
            }
            return Ok(old);
        }
    }

    fn object_relocate(&self, bucket: &str, key: &str, expected: &ObjectRecord, segments: Vec<Segment>, audit: Option<&AuditEntry>) -> Result<()> {
        let okey = object_key(bucket, key);
        let row = self.audit_row(audit)?;
        flatten((&self.objects, &self.audit).transaction(|(objects, audit)| {
            let current: Option<ObjectRecord> = objects.get(okey.as_slice())?.map(|raw| tx_decode(&raw)).transpose()?;
            if current.as_ref() != Some(expected) {
                return abort(Error::PreconditionFailed);
            }
            let rec = ObjectRecord { segments: segments.clone(), ..expected.clone() };
            objects.insert(okey.as_slice(), encode(&rec))?;
            tx_audit(audit, row.as_ref())?;
            Ok(())
        }))
    }

    fn object_set_tags(&self, bucket: &str, key: &str, tags: Vec<(String, String)>, audit: Option<&AuditEntry>) -> Result<bool> {
        let okey = object_key(bucket, key);
        let row = self.audit_row(audit)?;
        flatten((&self.objects, &self.audit).transaction(|(objects, audit)| {
            let Some(raw) = objects.get(okey.as_slice())? else {
                return Ok(false);
            };
            let mut rec: ObjectRecord = tx_decode(&raw)?;
            rec.tags.clone_from(&tags);
            objects.insert(okey.as_slice(), encode(&rec))?;
            tx_audit(audit, row.as_ref())?;
            Ok(true)
        }))
    }

    fn object_scan<'a>(&'a self, bucket: &str, prefix: &str, from: Option<&str>) -> Box<dyn Iterator<Item = Result<ObjectEntry>> + 'a> {
        let base = object_key(bucket, "");
        let strip = base.len();
        let scan_prefix = object_key(bucket, prefix);
        let start = match from {
            Some(from) if from > prefix => object_key(bucket, from),
            _ => scan_prefix.clone(),
        };
        Box::new(self.objects.range(start..).take_while(move |r| r.as_ref().map_or(true, |(k, _)| k.starts_with(&scan_prefix))).map(move |r| {
            let (k, v) = r?;
            let key = String::from_utf8(k[strip..].to_vec()).map_err(|e| Error::Corrupt(e.to_string()))?;
            Ok((key, decode(&v)?))
        }))
    }

    fn upload_create(&self, id: &str, record: &UploadRecord, audit: Option<&AuditEntry>) -> Result<()> {
        let value = encode(record);
        let ukey = upload_key(&record.bucket, &record.key, id);
        let row = self.audit_row(audit)?;
        flatten((&self.buckets, &self.uploads, &self.upload_keys, &self.audit).transaction(|(buckets, uploads, upload_keys, audit)| {
            if buckets.get(record.bucket.as_bytes())?.is_none() {
                return abort(Error::NoSuchBucket);
            }
            uploads.insert(id.as_bytes(), value.as_slice())?;
            upload_keys.insert(ukey.as_slice(), &[])?;
            tx_audit(audit, row.as_ref())?;
            Ok(())
        }))
    }

    fn upload_get(&self, id: &str) -> Result<Option<UploadRecord>> {
        self.uploads.get(id)?.map(|v| decode(&v)).transpose()
    }

    fn upload_delete(&self, id: &str, audit: Option<&AuditEntry>) -> Result<Vec<PartRecord>> {
        let parts = self.part_keys(id)?;
        let row = self.audit_row(audit)?;
        flatten((&self.uploads, &self.upload_keys, &self.parts, &self.audit).transaction(|(uploads, upload_keys, parts_tree, audit)| {
            let Some(raw) = uploads.remove(id.as_bytes())? else {
                return abort(Error::NoSuchUpload);
            };
            let rec: UploadRecord = tx_decode(&raw)?;
            upload_keys.remove(upload_key(&rec.bucket, &rec.key, id))?;
            for (k, _) in &parts {
                parts_tree.remove(k)?;
            }
            tx_audit(audit, row.as_ref())?;
            Ok(())
        }))?;
        Ok(parts.into_iter().map(|(_, p)| p).collect())
    }

    fn upload_list(&self, bucket: &str) -> Result<Vec<(String, UploadRecord)>> {
        let mut out = Vec::new();
        for r in self.upload_keys.scan_prefix(object_key(bucket, "")) {
            let (k, _) = r?;
            let Some(pos) = k.iter().rposition(|b| *b == 0) else {
                continue;
            };
            let id = String::from_utf8_lossy(&k[pos + 1..]).into_owned();
            if let Some(rec) = self.upload_get(&id)? {
                out.push((id, rec));
            }
        }
        Ok(out)
    }

    fn part_put(&self, upload_id: &str, record: &PartRecord, audit: Option<&AuditEntry>) -> Result<Option<PartRecord>> {
        let pkey = part_key(upload_id, record.number);
        let value = encode(record);
        let row = self.audit_row(audit)?;
        flatten((&self.uploads, &self.parts, &self.audit).transaction(|(uploads, parts, audit)| {
            if uploads.get(upload_id.as_bytes())?.is_none() {
                return abort(Error::NoSuchUpload);
            }
            tx_audit(audit, row.as_ref())?;
            match parts.insert(pkey.as_slice(), value.as_slice())? {
                Some(old) => Ok(Some(tx_decode(&old)?)),
                None => Ok(None),
            }
        }))
    }

    fn part_list(&self, upload_id: &str) -> Result<Vec<PartRecord>> {
        Ok(self.part_keys(upload_id)?.into_iter().map(|(_, p)| p).collect())
    }

    fn completed_get(&self, bucket: &str, key: &str) -> Result<Option<CompletedUpload>> {
        self.completed.get(object_key(bucket, key))?.map(|v| decode(&v)).transpose()
    }

    fn referenced_blobs(&self) -> Result<BTreeSet<String>> {
        let mut set = BTreeSet::new();
        for v in self.objects.iter().values() {
            let rec: ObjectRecord = decode(&v?)?;
            set.extend(rec.segments.into_iter().map(|s| s.blob));
        }
        for v in self.parts.iter().values() {
            let rec: PartRecord = decode(&v?)?;
            set.insert(rec.blob);
        }
        Ok(set)
    }

    fn tenant_create(&self, record: &TenantRecord, audit: Option<&AuditEntry>) -> Result<()> {
        let row = self.audit_row(audit)?;
        let value = encode(record);
        flatten((&self.tenants, &self.audit).transaction(|(tenants, audit)| {
            if tenants.get(record.name.as_bytes())?.is_some() {
                return abort(Error::AlreadyExists);
            }
            tenants.insert(record.name.as_bytes(), value.as_slice())?;
            tx_audit(audit, row.as_ref())?;
            Ok(())
        }))
    }

    fn tenant_get(&self, name: &str) -> Result<Option<TenantRecord>> {
        self.tenants.get(name)?.map(|v| decode(&v)).transpose()
    }

    fn tenant_list(&self) -> Result<Vec<TenantRecord>> {
        self.tenants.iter().values().map(|v| decode(&v?)).collect()
    }

    fn tenant_set_quota(&self, name: &str, quota: Quota, audit: Option<&AuditEntry>) -> Result<TenantRecord> {
        let row = self.audit_row(audit)?;
        flatten((&self.tenants, &self.audit).transaction(|(tenants, audit)| {
            let Some(raw) = tenants.get(name.as_bytes())? else {
                return abort(Error::NotFound);
            };
            let mut rec: TenantRecord = tx_decode(&raw)?;
            rec.quota = quota;
            tenants.insert(name.as_bytes(), encode(&rec))?;
            tx_audit(audit, row.as_ref())?;
            Ok(rec)
        }))
    }

    fn tenant_usage(&self, name: &str) -> Result<(u64, u64)> {
        Ok(self.writes.lock([name]).usage(name))
    }

    fn tenant_delete(&self, name: &str, audit: Option<&AuditEntry>) -> Result<()> {
        if self.users.scan_prefix(user_key(name, "")).next().is_some() {
            return Err(Error::InUse("the tenant still has users"));
        }
        if self.bucket_list()?.iter().any(|b| b.tenant == name) {
            return Err(Error::InUse("the tenant still owns buckets"));
        }
        let row = self.audit_row(audit)?;
        flatten((&self.tenants, &self.audit).transaction(|(tenants, audit)| {
            if tenants.remove(name.as_bytes())?.is_none() {
                return abort(Error::NotFound);
            }
            tx_audit(audit, row.as_ref())?;
            Ok(())
        }))
    }

    fn user_create(&self, record: &UserRecord, audit: Option<&AuditEntry>) -> Result<()> {
        let row = self.audit_row(audit)?;
        let ukey = user_key(&record.tenant, &record.name);
        let value = encode(record);
        flatten((&self.tenants, &self.users, &self.audit).transaction(|(tenants, users, audit)| {
            if tenants.get(record.tenant.as_bytes())?.is_none() {
                return abort(Error::NotFound);
            }
            if users.get(ukey.as_slice())?.is_some() {
                return abort(Error::AlreadyExists);
            }
            users.insert(ukey.as_slice(), value.as_slice())?;
            tx_audit(audit, row.as_ref())?;
            Ok(())
        }))
    }

    fn user_get(&self, tenant: &str, name: &str) -> Result<Option<UserRecord>> {
        self.users.get(user_key(tenant, name))?.map(|v| decode(&v)).transpose()
    }

    fn user_list(&self) -> Result<Vec<UserRecord>> {
        self.users.iter().values().map(|v| decode(&v?)).collect()
    }

    fn user_delete(&self, tenant: &str, name: &str, audit: Option<&AuditEntry>) -> Result<Vec<String>> {
        let keys: Vec<String> = self.key_list()?.into_iter().filter(|k| k.tenant == tenant && k.user == name).map(|k| k.access_key).collect();
        let row = self.audit_row(audit)?;
        let ukey = user_key(tenant, name);
        flatten((&self.users, &self.keys, &self.audit).transaction(|(users, key_tree, audit)| {
            if users.remove(ukey.as_slice())?.is_none() {
                return abort(Error::NotFound);
            }
            for k in &keys {
                key_tree.remove(k.as_bytes())?;
            }
            tx_audit(audit, row.as_ref())?;
            Ok(())
        }))?;
        Ok(keys)
    }

    fn key_put(&self, record: &KeyRecord, audit: Option<&AuditEntry>) -> Result<()> {
        let row = self.audit_row(audit)?;
        let value = encode(record);
        let ukey = user_key(&record.tenant, &record.user);
        flatten((&self.users, &self.keys, &self.audit).transaction(|(users, keys, audit)| {
            if users.get(ukey.as_slice())?.is_none() {
                return abort(Error::NotFound);
            }
            keys.insert(record.access_key.as_bytes(), value.as_slice())?;
            tx_audit(audit, row.as_ref())?;
            Ok(())
        }))
    }

    fn key_get(&self, access_key: &str) -> Result<Option<KeyRecord>> {
        self.keys.get(access_key)?.map(|v| decode(&v)).transpose()
    }

    fn key_list(&self) -> Result<Vec<KeyRecord>> {
        self.keys.iter().values().map(|v| decode(&v?)).collect()
    }

    fn key_delete(&self, access_key: &str, audit: Option<&AuditEntry>) -> Result<()> {
        let row = self.audit_row(audit)?;
        flatten((&self.keys, &self.audit).transaction(|(keys, audit)| {
            if keys.remove(access_key.as_bytes())?.is_none() {
                return abort(Error::NotFound);
            }
            tx_audit(audit, row.as_ref())?;
            Ok(())
        }))
    }

    fn audit_append(&self, entry: &AuditEntry) -> Result<()> {
        if let Some((k, v)) = self.audit_row(Some(entry))? {
            self.audit.insert(k, v)?;
        }
        Ok(())
    }

    fn audit_scan<'a>(&'a self, from_ns: i128, to_ns: i128) -> Box<dyn Iterator<Item = Result<AuditEntry>> + 'a> {
        let (from, to) = (time_key(from_ns), time_key(to_ns));
        Box::new(self.audit.range(from..to).values().map(|v| decode(&v?)))
    }

    fn audit_prune(&self, before_ns: i128) -> Result<usize> {
        let mut n = 0;
        for k in self.audit.range(..time_key(before_ns)).keys() {
            self.audit.remove(k?)?;
            n += 1;
        }
        Ok(n)
    }

    fn audit_trim(&self, max_entries: usize) -> Result<(usize, usize)> {
        let count = self.audit.len();
        let excess = count.saturating_sub(max_entries);
        for k in self.audit.iter().keys().take(excess) {
            self.audit.remove(k?)?;
        }
        Ok((count - excess, excess))
    }

    fn proof_get(&self, id: &str) -> Result<Option<Manifest>> {
        self.proofs.get(id)?.map(|v| decode(&v)).transpose()
    }

    fn proof_of_object(&self, bucket: &str, key: &str) -> Result<Vec<Manifest>> {
        let mut prefix = index_key(b'o', &[bucket.as_bytes(), key.as_bytes()]);
        prefix.push(0);
        // A key containing NUL could share the prefix: keep exact matches only.
        let mut found = self.proofs_of_ids(self.proof_index.scan_prefix(prefix).values())?;
        found.retain(|m| m.bucket == bucket && m.key == key);
        Ok(found)
    }

    fn proof_by_sha256(&self, sha256: &str) -> Result<Vec<Manifest>> {
        let mut prefix = index_key(b's', &[sha256.as_bytes()]);
        prefix.push(0);
        let strip = prefix.len();
        let ids = self.proof_index.scan_prefix(prefix).keys().map(move |k| k.map(|k| sled::IVec::from(&k[strip..])));
        self.proofs_of_ids(ids)
    }

    fn proof_chain<'a>(&'a self, tenant: &str, from_seq: u64) -> Box<dyn Iterator<Item = Result<Manifest>> + 'a> {
        let mut prefix = index_key(b'c', &[tenant.as_bytes()]);
        prefix.push(0);
        let mut start = prefix.clone();
        start.extend_from_slice(&from_seq.to_be_bytes());
        Box::new(self.proof_index.range(start..).take_while(move |r| r.as_ref().map_or(true, |(k, _)| k.starts_with(&prefix))).map(move |r| {
            let (_, id) = r?;
            let raw = self.proofs.get(&id)?.ok_or_else(|| Error::Corrupt("chain names a missing manifest".into()))?;
            decode(&raw)
        }))
    }

    fn proof_head(&self, tenant: &str) -> Result<Option<ChainHead>> {
        self.proof_heads.get(tenant)?.map(|v| decode(&v)).transpose()
    }

    fn proof_key_put(&self, key_id: &str, public_key: &str) -> Result<()> {
        self.proof_keys.insert(key_id, public_key.as_bytes())?;
        Ok(())
    }

    fn proof_keys(&self) -> Result<Vec<(String, String)>> {
        self.proof_keys
            .iter()
            .map(|r| {
                let (k, v) = r?;
                Ok((String::from_utf8_lossy(&k).into_owned(), String::from_utf8_lossy(&v).into_owned()))
            })
            .collect()
    }

    fn proof_checkpoints(&self, tenant: &str) -> Result<Vec<Checkpoint>> {
        self.proof_checkpoints.scan_prefix(index_key(b'k', &[tenant.as_bytes(), &[]])).values().map(|v| decode(&v?)).collect()
    }

    fn proof_prune(&self, expired: &dyn Fn(&Manifest) -> bool, sign: &dyn Fn(&mut Checkpoint)) -> Result<u64> {
        // Every manifest by object, with its by-object index key, oldest first.
        let mut objects: HashMap<(String, String), Vec<(sled::IVec, Manifest)>> = HashMap::new();
        for r in self.proof_index.scan_prefix([b'o']) {
            let (k, id) = r?;
            let Some(raw) = self.proofs.get(&id)? else {
                continue;
            };
            let m: Manifest = decode(&raw)?;
            objects.entry((m.bucket.clone(), m.key.clone())).or_default().push((k, m));
        }
        // What goes, per tenant and seq.
        let mut doomed: BTreeMap<String, BTreeMap<u64, (sled::IVec, Manifest)>> = BTreeMap::new();
        for versions in objects.into_values() {
            if versions.last().is_some_and(|(_, m)| m.op == "delete" && expired(m)) {
                for (k, m) in versions {
                    doomed.entry(m.tenant.clone()).or_default().insert(m.seq, (k, m));
                }
            }
        }
        let mut removed = 0u64;
        for (tenant, seqs) in doomed {
            let mut checkpoints: BTreeMap<u64, Checkpoint> = self.proof_checkpoints(&tenant)?.into_iter().map(|c| (c.first_seq, c)).collect();
            let mut runs: Vec<Vec<(sled::IVec, Manifest)>> = Vec::new();
            for (seq, entry) in seqs {
                match runs.last_mut() {
                    Some(run) if run.last().is_some_and(|(_, m)| m.seq + 1 == seq) => run.push(entry),
                    _ => runs.push(vec![entry]),
                }
            }
            for run in runs {
                let (first, last) = (&run[0].1, &run[run.len() - 1].1);
                let before = checkpoints.values().find(|c| c.last_seq + 1 == first.seq).map(|c| c.first_seq);
                let before = before.and_then(|s| checkpoints.remove(&s));
                let after = checkpoints.remove(&(last.seq + 1));
                let mut cp = Checkpoint {
                    v: MANIFEST_VERSION,
                    tenant: tenant.clone(),
                    first_seq: before.as_ref().map_or(first.seq, |c| c.first_seq),
                    last_seq: after.as_ref().map_or(last.seq, |c| c.last_seq),
                    first_prev: before.as_ref().map_or_else(|| first.prev.clone(), |c| c.first_prev.clone()),
                    last_hash: after.as_ref().map_or_else(|| last.hash(), |c| c.last_hash.clone()),
                    created: String::new(),
                    key_id: String::new(),
                    sig: String::new(),
                };
                sign(&mut cp);
                let cp_key = |seq: u64| index_key(b'k', &[tenant.as_bytes(), &seq.to_be_bytes()]);
                let replaced: Vec<Vec<u8>> = before.iter().chain(after.iter()).map(|c| cp_key(c.first_seq)).collect();
                let value = encode(&cp);
                flatten((&self.proofs, &self.proof_index, &self.proof_checkpoints).transaction(|(proofs, index, cps)| {
                    for (object_key, m) in &run {
                        proofs.remove(m.id.as_bytes())?;
                        index.remove(object_key)?;
                        index.remove(index_key(b'c', &[m.tenant.as_bytes(), &m.seq.to_be_bytes()]))?;
                        if !m.sha256.is_empty() {
                            index.remove(index_key(b's', &[m.sha256.as_bytes(), m.id.as_bytes()]))?;
                        }
                    }
                    for k in &replaced {
                        cps.remove(k.as_slice())?;
                    }
                    cps.insert(cp_key(cp.first_seq), value.as_slice())?;
                    Ok(())
                }))?;
                removed += run.len() as u64;
                checkpoints.insert(cp.first_seq, cp);
            }
        }
        Ok(removed)
    }

    fn topic_put(&self, rule: &TopicRule, audit: Option<&AuditEntry>) -> Result<()> {
        let row = self.audit_row(audit)?;
        let value = encode(rule);
        flatten((&self.topics, &self.audit).transaction(|(topics, audit)| {
            topics.insert(object_key(&rule.bucket, &rule.topic), value.as_slice())?;
            tx_audit(audit, row.as_ref())?;
            Ok(())
        }))
    }

    fn topic_delete(&self, bucket: &str, topic: &str, audit: Option<&AuditEntry>) -> Result<()> {
        let row = self.audit_row(audit)?;
        flatten((&self.topics, &self.audit).transaction(|(topics, audit)| {
            if topics.remove(object_key(bucket, topic))?.is_none() {
                return abort(Error::NotFound);
            }
            tx_audit(audit, row.as_ref())?;
            Ok(())
        }))
    }

    fn topic_list(&self) -> Result<Vec<TopicRule>> {
        self.topics.iter().values().map(|v| decode(&v?)).collect()
    }

    fn limits_all(&self) -> Result<Vec<(String, Rates)>> {
        self.limits
            .iter()
            .map(|r| {
                let (k, v) = r?;
                Ok((String::from_utf8_lossy(&k).into_owned(), decode(&v)?))
            })
            .collect()
    }

    fn limits_set(&self, subject: &str, rates: Option<&Rates>, audit: Option<&AuditEntry>) -> Result<()> {
        let row = self.audit_row(audit)?;
        let value = rates.map(encode);
        flatten((&self.limits, &self.audit).transaction(|(limits, audit)| {
            match &value {
                Some(v) => limits.insert(subject.as_bytes(), v.as_slice())?,
                None => limits.remove(subject.as_bytes())?,
            };
            tx_audit(audit, row.as_ref())?;
            Ok(())
        }))
    }

    fn pending_put(&self, id: &str, write: &PendingWrite) -> Result<()> {
        self.pending.insert(id.as_bytes(), encode(write))?;
        Ok(())
    }

    fn pending_list(&self) -> Result<Vec<(String, PendingWrite)>> {
        self.pending
            .iter()
            .map(|kv| {
                let (k, v) = kv?;
                Ok((String::from_utf8_lossy(&k).into_owned(), decode(&v)?))
            })
            .collect()
    }

    fn pending_remove(&self, id: &str) -> Result<()> {
        self.pending.remove(id.as_bytes())?;
        Ok(())
    }

    fn setting_get(&self, name: &str) -> Result<Option<String>> {
        Ok(self.settings.get(name)?.map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    fn setting_put(&self, name: &str, value: &str) -> Result<()> {
        self.settings.insert(name, value.as_bytes())?;
        Ok(())
    }

    fn proof_import(&self, manifests: &[Manifest]) -> Result<()> {
        for m in manifests {
            let object_n = self.db.generate_id()?;
            self.proofs.insert(m.id.as_bytes(), encode(m))?;
            for (k, v) in proof_index_rows(m, object_n) {
                self.proof_index.insert(k, v)?;
            }
            let ahead = self.proof_head(&m.tenant)?.is_none_or(|h| h.seq < m.seq);
            if ahead {
                self.proof_heads.insert(m.tenant.as_bytes(), encode(&ChainHead { seq: m.seq, hash: m.hash() }))?;
            }
        }
        Ok(())
    }

    fn checkpoint_import(&self, c: &Checkpoint) -> Result<()> {
        self.proof_checkpoints.insert(index_key(b'k', &[c.tenant.as_bytes(), &c.first_seq.to_be_bytes()]), encode(c))?;
        Ok(())
    }

    fn size_on_disk(&self) -> Result<u64> {
        Ok(self.db.size_on_disk()?)
    }

    fn flush(&self) -> futures::future::BoxFuture<'_, Result<()>> {
        Box::pin(self.group_flush.flush(&self.db))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, SledStore) {
        let dir = tempfile::tempdir().unwrap();
        let s = SledStore::open(dir.path()).unwrap();
        (dir, s)
    }

    #[test]
    fn a_store_reopens_after_a_close_and_waits_for_a_held_lock_before_failing() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..30 {
            let s = SledStore::open(dir.path()).unwrap_or_else(|e| panic!("open {i}: {e}"));
            s.setting_put("n", &i.to_string()).unwrap();
            s.db.flush().unwrap();
        }
        let held = SledStore::open(dir.path()).unwrap();
        let started = std::time::Instant::now();
        let e = SledStore::open(dir.path()).err().expect("a second open while the first lives fails");
        assert!(e.to_string().contains("lock"), "{e}");
        assert!(started.elapsed() >= LOCK_WAIT, "{:?}", started.elapsed());
        drop(held);
    }

    fn bucket(name: &str) -> BucketRecord {
        BucketRecord {
            name: name.into(),
            created_ns: 0,
            tenant: "t".into(),
            objects: 0,
            bytes: 0,
            visibility: Visibility::Private,
            quota: Quota::default(),
            origin: String::new(),
        }
    }

    fn object(etag: &str, size: u64) -> ObjectRecord {
        ObjectRecord {
            size,
            etag: etag.into(),
            last_modified_ns: 0,
            segments: vec![Segment { blob: format!("blob-{etag}"), size }],
            multipart: false,
            attrs: ObjectAttrs::default(),
            checksums: Checksums::default(),
            tags: vec![],
            owner: String::new(),
            sha256: String::new(),
            proof_id: String::new(),
            checksum_type: None,
            parts: Vec::new(),
        }
    }

    #[test]
    fn a_full_disk_under_sled_is_told_apart() {
        let full = Error::from(sled::Error::Io(std::io::Error::from_raw_os_error(28)));
        assert!(matches!(full, Error::StorageFull(_)), "{full:?}");
        let other = Error::from(sled::Error::Io(std::io::Error::from_raw_os_error(5)));
        assert!(matches!(other, Error::Storage(_)), "{other:?}");
    }

    #[test]
    fn commit_checks_preconditions_and_keeps_usage_exact() {
        let (_d, s) = store();
        assert_eq!(s.bucket_create(&bucket("b"), None).unwrap(), None);
        assert!(s.bucket_create(&bucket("b"), None).unwrap().is_some());
        s.object_commit("b", "k", &object("e1", 10), &Precondition::Absent, Completes::Nothing, None, None).unwrap();
        assert!(matches!(s.object_commit("b", "k", &object("e2", 5), &Precondition::Absent, Completes::Nothing, None, None), Err(Error::PreconditionFailed)));
        assert!(matches!(
            s.object_commit("b", "k", &object("e2", 5), &Precondition::ETagIs("zz".into()), Completes::Nothing, None, None),
            Err(Error::PreconditionFailed)
        ));
        let old = s.object_commit("b", "k", &object("e2", 5), &Precondition::ETagIs("e1".into()), Completes::Nothing, None, None).unwrap();
        assert_eq!(old.unwrap().etag, "e1");
        let b = s.bucket_get("b").unwrap().unwrap();
        assert_eq!((b.objects, b.bytes), (1, 5));
        assert!(matches!(s.bucket_delete("b", None), Err(Error::BucketNotEmpty)));
        // A repair holding a stale record must not remove what replaced it.
        let stale = Precondition::Is(Box::new(object("e1", 10)));
        assert!(matches!(s.object_delete("b", "k", &stale, None, None), Err(Error::PreconditionFailed)));
        let current = Precondition::Is(Box::new(s.object_get("b", "k").unwrap().unwrap()));
        assert!(s.object_delete("b", "k", &current, None, None).unwrap().is_some());
        assert!(matches!(s.object_delete("b", "k", &current, None, None), Err(Error::PreconditionFailed)));
        s.object_commit("b", "k", &object("e2", 5), &Precondition::None, Completes::Nothing, None, None).unwrap();
        assert!(s.object_delete("b", "k", &Precondition::None, None, None).unwrap().is_some());
        assert!(s.object_delete("b", "k", &Precondition::None, None, None).unwrap().is_none());
        let b = s.bucket_get("b").unwrap().unwrap();
        assert_eq!((b.objects, b.bytes), (0, 0));
        s.bucket_delete("b", None).unwrap();
        assert!(matches!(s.object_commit("b", "k", &object("e3", 1), &Precondition::None, Completes::Nothing, None, None), Err(Error::NoSuchBucket)));
    }

    /// Concurrent committers on a multi-threaded runtime all get their flush; commits and
    /// flushes interleaving must never wedge (sled's own `flush_async` did, under load).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_commits_and_flushes_complete() {
        let (dir, s) = store();
        let s = std::sync::Arc::new(s);
        s.bucket_create(&bucket("b"), None).unwrap();
        let tasks: Vec<_> = (0..64)
            .map(|i| {
                let s = s.clone();
                tokio::spawn(async move {
                    for j in 0..8 {
                        let key = format!("k{i}-{j}");
                        s.object_commit("b", &key, &object(&key, 1), &Precondition::None, Completes::Nothing, None, None).unwrap();
                        s.flush().await.unwrap();
                    }
                })
            })
            .collect();
        let all = futures::future::join_all(tasks);
        for r in tokio::time::timeout(std::time::Duration::from_secs(60), all).await.expect("commits wedged") {
            r.unwrap();
        }
        assert_eq!(s.bucket_get("b").unwrap().unwrap().objects, 64 * 8);
        drop(s);
        let reopened = SledStore::open(dir.path()).unwrap();
        assert_eq!(reopened.object_scan("b", "", None).count(), 64 * 8);
    }

    fn draft(op: &str, tenant: &str, bucket: &str, key: &str) -> Manifest {
        Manifest {
            v: 1,
            id: format!("{op} {bucket}/{key}"),
            op: op.into(),
            tenant: tenant.into(),
            bucket: bucket.into(),
            key: key.into(),
            size: 1,
            sha256: String::new(),
            etag: String::new(),
            content_type: String::new(),
            principal: String::new(),
            created: String::new(),
            seq: 0,
            prev: String::new(),
            key_id: String::new(),
            sig: String::new(),
        }
    }

    /// Writers of two tenants commit at once while a bucket changes owner back and forth:
    /// each tenant's chain stays one linear chain and each tenant's usage stays the sum of
    /// its buckets' counters.
    #[test]
    fn concurrent_writers_keep_chains_linear_and_usage_exact() {
        let (_d, s) = store();
        for t in ["t1", "t2"] {
            let tenant = TenantRecord { name: t.into(), created_ns: 0, quota: Quota::default() };
            s.tenant_create(&tenant, None).unwrap();
            s.bucket_create(&BucketRecord { tenant: t.into(), ..bucket(&format!("b-{t}")) }, None).unwrap();
        }
        s.bucket_create(&BucketRecord { tenant: "t1".into(), ..bucket("moving") }, None).unwrap();
        let sign = |m: &mut Manifest| m.sig = format!("signed {}", m.seq);
        std::thread::scope(|scope| {
            for writer in 0..6 {
                let s = &s;
                scope.spawn(move || {
                    let b = ["b-t1", "b-t2", "moving"][writer % 3];
                    for i in 0..20 {
                        let key = format!("k{writer}-{i}");
                        let tenant = s.bucket_get(b).unwrap().unwrap().tenant;
                        let proof = ProofDraft { manifest: draft("put", &tenant, b, &key), sign: &sign };
                        s.object_commit(b, &key, &object(&key, 3), &Precondition::None, Completes::Nothing, None, Some(&proof)).unwrap();
                        if i % 2 == 1 {
                            s.object_delete(b, &key, &Precondition::None, None, Some(&ProofDraft { manifest: draft("delete", &tenant, b, &key), sign: &sign }))
                                .unwrap();
                        }
                    }
                });
            }
            scope.spawn(|| {
                for i in 0..40 {
                    s.bucket_update("moving", ["t1", "t2"][i % 2], Visibility::Private, None).unwrap();
                }
            });
        });
        for t in ["t1", "t2"] {
            let chain: Vec<Manifest> = s.proof_chain(t, 1).map(Result::unwrap).collect();
            for (n, pair) in chain.windows(2).enumerate() {
                assert_eq!((pair[0].seq, pair[1].seq), (n as u64 + 1, n as u64 + 2), "{t}");
                assert_eq!(pair[1].prev, pair[0].hash(), "{t} at {}", pair[1].seq);
                assert_eq!(pair[1].sig, format!("signed {}", pair[1].seq));
            }
            let head = s.proof_head(t).unwrap().unwrap();
            assert_eq!((head.seq, head.hash.as_str()), (chain.len() as u64, chain.last().unwrap().hash().as_str()));
            let (objects, bytes) = s.bucket_list().unwrap().iter().filter(|b| b.tenant == t).fold((0, 0), |(o, b), r| (o + r.objects, b + r.bytes));
            assert_eq!(s.tenant_usage(t).unwrap(), (objects, bytes), "{t}");
        }
        let total: u64 = ["t1", "t2"].iter().map(|t| s.proof_head(t).unwrap().unwrap().seq).sum();
        assert_eq!(total, 6 * (20 + 10));
        assert_eq!(s.bucket_list().unwrap().iter().map(|b| b.objects).sum::<u64>(), 6 * 10);
    }

    #[test]
    fn scan_is_ordered_and_bounded_by_bucket_and_prefix() {
        let (_d, s) = store();
        s.bucket_create(&bucket("a"), None).unwrap();
        s.bucket_create(&bucket("ab"), None).unwrap();
        for k in ["x/2", "x/1", "y", "x/10", ""] {
            if !k.is_empty() {
                s.object_commit("a", k, &object(k, 1), &Precondition::None, Completes::Nothing, None, None).unwrap();
            }
        }
        s.object_commit("ab", "x/0", &object("o", 1), &Precondition::None, Completes::Nothing, None, None).unwrap();
        let keys: Vec<String> = s.object_scan("a", "x/", None).map(|r| r.unwrap().0).collect();
        assert_eq!(keys, ["x/1", "x/10", "x/2"]);
        let keys: Vec<String> = s.object_scan("a", "", Some("x/10")).map(|r| r.unwrap().0).collect();
        assert_eq!(keys, ["x/10", "x/2", "y"]);
    }

    #[test]
    fn completing_an_upload_removes_it_with_its_parts() {
        let (_d, s) = store();
        s.bucket_create(&bucket("b"), None).unwrap();
        let up = UploadRecord {
            bucket: "b".into(),
            key: "k".into(),
            initiated_ns: 0,
            attrs: ObjectAttrs::default(),
            tags: vec![],
            checksum_algorithm: None,
            checksum_type: None,
            owner: String::new(),
        };
        s.upload_create("u1", &up, None).unwrap();
        let part = PartRecord { number: 1, blob: "p1".into(), size: 3, etag: "e".into(), last_modified_ns: 0, checksums: Checksums::default() };
        assert!(s.part_put("u1", &part, None).unwrap().is_none());
        assert_eq!(s.upload_list("b").unwrap().len(), 1);
        assert!(s.referenced_blobs().unwrap().contains("p1"));
        assert!(matches!(s.bucket_delete("b", None), Err(Error::BucketNotEmpty)));
        s.object_commit("b", "k", &object("m", 3), &Precondition::None, Completes::Upload("u1"), None, None).unwrap();
        assert!(s.upload_get("u1").unwrap().is_none());
        assert!(s.part_list("u1").unwrap().is_empty());
        assert!(s.upload_list("b").unwrap().is_empty());
        assert!(matches!(s.object_commit("b", "k", &object("m", 3), &Precondition::None, Completes::Upload("u1"), None, None), Err(Error::NoSuchUpload)));
    }

    #[test]
    fn a_completion_is_remembered_until_its_key_is_written_or_deleted() {
        let (_d, s) = store();
        s.bucket_create(&bucket("b"), None).unwrap();
        let up = UploadRecord {
            bucket: "b".into(),
            key: "k".into(),
            initiated_ns: 0,
            attrs: ObjectAttrs::default(),
            tags: vec![],
            checksum_algorithm: None,
            checksum_type: None,
            owner: String::new(),
        };
        let complete = |id: &str| {
            s.upload_create(id, &up, None).unwrap();
            let rec = ObjectRecord { multipart: true, last_modified_ns: 7, proof_id: format!("p-{id}"), ..object(id, 3) };
            s.object_commit("b", "k", &rec, &Precondition::None, Completes::Multipart { upload: id, parts: "digest" }, None, None).unwrap();
            rec
        };
        let rec = complete("u1");
        let done = s.completed_get("b", "k").unwrap().unwrap();
        assert_eq!((done.upload_id.as_str(), done.parts.as_str(), done.etag.as_str(), done.proof_id.as_str()), ("u1", "digest", "u1", "p-u1"));
        assert!(done.made(&rec));
        assert!(!done.made(&ObjectRecord { last_modified_ns: 8, ..rec }));
        // Another completion of the key replaces it; any other write removes it.
        complete("u2");
        assert_eq!(s.completed_get("b", "k").unwrap().unwrap().upload_id, "u2");
        s.object_commit("b", "k", &object("e", 1), &Precondition::None, Completes::Nothing, None, None).unwrap();
        assert!(s.completed_get("b", "k").unwrap().is_none());
        complete("u3");
        assert!(s.object_delete("b", "k", &Precondition::None, None, None).unwrap().is_some());
        assert!(s.completed_get("b", "k").unwrap().is_none());
        s.bucket_delete("b", None).unwrap();
    }

    #[test]
    fn a_pending_write_is_listed_until_its_commit_or_removal() {
        let (_d, s) = store();
        s.bucket_create(&bucket("b"), None).unwrap();
        let audit = AuditEntry {
            time_ns: 1,
            request_id: "r".into(),
            principal: "p".into(),
            user: String::new(),
            tenant: "t".into(),
            source: String::new(),
            operation: "PutObject".into(),
            bucket: "b".into(),
            key: "k".into(),
            outcome: "ok".into(),
            bytes: 3,
            count: 1,
        };
        let write = PendingWrite { bucket: "b".into(), key: "k".into(), record: object("", 3), audit };
        s.pending_put("w1", &write).unwrap();
        s.pending_put("w2", &PendingWrite { key: "k2".into(), ..write.clone() }).unwrap();
        assert_eq!(s.pending_list().unwrap(), vec![("w1".to_owned(), write.clone()), ("w2".to_owned(), PendingWrite { key: "k2".into(), ..write })]);
        // The commit removes its pending write in the same transaction.
        s.object_commit("b", "k", &object("e", 3), &Precondition::None, Completes::Pending("w1"), None, None).unwrap();
        assert_eq!(s.pending_list().unwrap().len(), 1);
        assert_eq!(s.object_get("b", "k").unwrap().unwrap().etag, "e");
        s.pending_remove("w2").unwrap();
        s.pending_remove("w2").unwrap();
        assert!(s.pending_list().unwrap().is_empty());
        assert!(s.object_get("b", "k2").unwrap().is_none());
    }
}

//! The gateway's metadata, mirrored into the upstream so a lost metadata database can be
//! rebuilt from it. Under `{meta_bucket}/.tollgate/{instance}/`:
//!
//! - `proofs/{tenant}/{first seq}-{last seq}.jsonl`: each tenant's manifests, in batches;
//! - `checkpoints/{tenant}.json`: the tenant's checkpoints (pruned runs);
//! - `heads/{tenant}/{tree size}.json`: the tenant's latest signed tree head at each pass
//!   (a proof log head an auditor can hold the gateway to, kept off the gateway's disk),
//!   written after the manifests it covers and no others, so that a rebuild checks the
//!   mirrored manifests against it ([`super::mirror_log`]); and `heads/{tenant}/genesis.json`,
//!   the chain head the tenant's log began after, so that a rebuilt log is the same;
//! - `audit/{first ns}-{last ns}.jsonl`: audit entries, in batches;
//! - `versions/{bucket}.jsonl`: every version and delete marker of a versioned bucket
//!   (its record: retention, legal hold, tags, where its bytes are), with its commit
//!   sequence number, rewritten when the bucket's versions changed;
//! - `sealed/{bucket}.jsonl`: the record of each encrypted object of an unversioned
//!   bucket (its wrapped data key, nonce prefix, parts: what reading it needs, which its
//!   manifest does not say), rewritten when they changed;
//! - `state.json`: tenants, users, access keys (secrets sealed by the master key, which is
//!   not mirrored), buckets, their configuration documents (policies, ACL grants, CORS,
//!   tags, ownership, Block Public Access), topics, the keyring (each key wrapped by the
//!   master key, which is not mirrored) and the proof signing keys' public halves.
//!
//! Each instance sharing an upstream writes under its own name; what is per instance
//! (chains, audit, quotas' usage) stays so after a rebuild.

use super::client::Call;
use super::{UpstreamBackend, xml};
use crate::backend::Error;
use crate::backend::engine::SharedPageAt;
use crate::meta::{
    AuditEntry, BucketConfigKind, BucketRecord, Checkpoint, KeyRecord, Manifest, ObjectAttrs, ObjectRecord, Precondition, TenantRecord, TopicRule, UserRecord,
    VersionRecord,
};

use std::collections::BTreeMap;

use bytes::Bytes;
use http::Method;
use serde::{Deserialize, Serialize};

/// Where the mirror goes.
#[derive(Debug, Clone)]
pub struct MirrorTarget {
    /// The upstream bucket holding the mirror (`upstream.meta_bucket`).
    pub bucket: String,
    /// This gateway's name: its mirror is under `.tollgate/{instance}/`.
    pub instance: String,
}

impl MirrorTarget {
    pub(super) fn root(&self) -> String {
        format!(".tollgate/{}/", self.instance)
    }
}

/// Audit entries are mirrored once this old: an entry is appended when its request ends
/// but dated when it began, so the newest ones may still gain older neighbours.
const AUDIT_SETTLE_NS: i128 = 120 * 1_000_000_000;

/// One line of `versions/{bucket}.jsonl`.
#[derive(Debug, Serialize, Deserialize)]
struct MirroredVersion {
    key: String,
    /// The commit's sequence number: the version's place among its key's versions.
    n: u64,
    version: VersionRecord,
}

/// One line of `sealed/{bucket}.jsonl`.
#[derive(Debug, Serialize, Deserialize)]
struct MirroredSealed {
    key: String,
    record: ObjectRecord,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    tenants: Vec<TenantRecord>,
    users: Vec<UserRecord>,
    keys: Vec<KeyRecord>,
    buckets: Vec<BucketRecord>,
    /// Each bucket's configuration documents (absent from mirrors older than them).
    #[serde(default)]
    bucket_config: Vec<(String, BucketConfigKind, String)>,
    topics: Vec<TopicRule>,
    proof_keys: Vec<(String, String)>,
    /// The keyring, each key's versions wrapped by a key derived from the master key
    /// (which is not mirrored): a mirror alone opens nothing (absent from older mirrors).
    #[serde(default)]
    keyring: Vec<crate::meta::KeyringKey>,
}

/// What one mirror pass wrote.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MirrorReport {
    /// Proof manifests newly mirrored.
    pub manifests: u64,
    /// Audit entries newly mirrored.
    pub audit_entries: u64,
    /// Signed tree heads newly mirrored (at most one per tenant and pass).
    pub tree_heads: u64,
    /// Upstream objects written: manifest and audit batches, checkpoints, tree heads, versions, `state.json`.
    pub objects_written: u64,
}

/// What a rebuild restored.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RestoreReport {
    /// Tenants created (those the store had already are left as they are).
    pub tenants: u64,
    /// Users created (those the store had already are left as they are).
    pub users: u64,
    /// Access keys restored.
    pub keys: u64,
    /// Buckets restored, their usage counted anew from the objects indexed.
    pub buckets: u64,
    /// Bucket configuration documents restored.
    pub bucket_config: u64,
    /// Topic rules restored.
    pub topics: u64,
    /// Keyring keys restored (still wrapped: they open with the master key only).
    pub keyring_keys: u64,
    /// Proof manifests imported, every tenant's chain.
    pub manifests: u64,
    /// Proof checkpoints imported (runs of pruned manifests).
    pub checkpoints: u64,
    /// Audit entries imported.
    pub audit_entries: u64,
    /// Object records rebuilt from the latest manifest of each key not deleted (in
    /// unversioned buckets, and versioned ones without mirrored versions).
    pub objects_indexed: u64,
    /// Versions and delete markers of versioned buckets restored from their mirrored records.
    pub versions: u64,
    /// Encrypted objects whose latest manifest has no mirrored record (written after the
    /// last mirror pass): left out of the index, as their bytes cannot be read without it
    /// (`reconcile` reports them as unindexed).
    pub sealed_unrestored: u64,
    /// Manifests imported that no mirrored signed tree head vouches for (mirrored after
    /// the last head, or of a chain the rebuilt log does not hold whole); every other one
    /// was checked against a mirrored head before anything was restored.
    pub manifests_unvouched: u64,
}

fn jsonl<T: Serialize>(items: &[T]) -> Result<Bytes, Error> {
    let mut out = Vec::new();
    for i in items {
        serde_json::to_writer(&mut out, i).map_err(|e| Error::Unavailable(e.to_string()))?;
        out.push(b'\n');
    }
    Ok(Bytes::from(out))
}

pub(super) fn parse_jsonl<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<Vec<T>, Error> {
    body.split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).map_err(|e| Error::Unavailable(format!("a mirrored record does not parse: {e}"))))
        .collect()
}

impl UpstreamBackend {
    async fn put_meta(&self, t: &MirrorTarget, name: &str, body: Bytes) -> Result<(), Error> {
        self.put_shared(t, &format!("{}{name}", t.root()), body).await
    }

    /// The object `key` of the metadata bucket, if there is one.
    pub(super) async fn get_meta(&self, t: &MirrorTarget, key: &str) -> Result<Option<Bytes>, Error> {
        let resp = self.client.send(&Call::new(Method::GET, &t.bucket, key), Bytes::new()).await?;
        if resp.status() == http::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        self.client.xml(resp).await.map(Some)
    }

    /// Every key under `prefix` of the upstream bucket `bucket`, in order.
    pub(super) async fn list_meta(&self, bucket: &str, prefix: &str) -> Result<Vec<String>, Error> {
        let mut keys = Vec::new();
        let mut token = None;
        loop {
            let at = SharedPageAt { prefix, delimiter: None, after: "", token: token.as_deref() };
            let (page, next) = self.list_meta_page(bucket, &at).await?;
            keys.extend(page.into_iter().map(|(key, _)| key));
            match next {
                Some(next) => token = Some(next),
                None => return Ok(keys),
            }
        }
    }

    /// One page (up to 1,000) of the keys of the upstream bucket `bucket` that `at` says,
    /// in order, each with its ETag; the token of the next page, if any.
    pub(super) async fn list_meta_page(&self, bucket: &str, at: &SharedPageAt<'_>) -> Result<(Vec<(String, String)>, Option<String>), Error> {
        // URL-encoded, so that any key survives the XML.
        let mut call = Call::new(Method::GET, bucket, "").query("list-type", "2").query("encoding-type", "url").query("prefix", at.prefix);
        for (name, value) in [("delimiter", at.delimiter), ("start-after", Some(at.after).filter(|a| !a.is_empty())), ("continuation-token", at.token)] {
            if let Some(value) = value {
                call = call.query(name, value);
            }
        }
        let resp = self.client.send(&call, Bytes::new()).await?;
        let page: xml::ListResult = xml::parse(&self.client.xml(resp).await?)?;
        let encoded = page.encoding_type.as_deref() == Some("url");
        let keys = page
            .contents
            .into_iter()
            .map(|o| Ok((if encoded { super::list::url_decode(&o.key)? } else { o.key }, o.etag)))
            .collect::<Result<Vec<_>, Error>>()?;
        Ok((keys, page.next_continuation_token.filter(|_| page.is_truncated)))
    }

    /// The folders (`{prefix}{name}/`) right under `prefix` of the upstream bucket
    /// `bucket`, in order.
    pub(super) async fn list_meta_folders(&self, bucket: &str, prefix: &str) -> Result<Vec<String>, Error> {
        let mut folders = Vec::new();
        let mut token = None;
        loop {
            let mut call =
                Call::new(Method::GET, bucket, "").query("list-type", "2").query("encoding-type", "url").query("prefix", prefix).query("delimiter", "/");
            if let Some(token) = &token {
                call = call.query("continuation-token", String::as_str(token));
            }
            let resp = self.client.send(&call, Bytes::new()).await?;
            let page: xml::ListResult = xml::parse(&self.client.xml(resp).await?)?;
            let encoded = page.encoding_type.as_deref() == Some("url");
            for p in page.common_prefixes {
                folders.push(if encoded { super::list::url_decode(&p.prefix)? } else { p.prefix });
            }
            match page.next_continuation_token {
                Some(next) if page.is_truncated => token = Some(next),
                _ => return Ok(folders),
            }
        }
    }

    /// Writes what is new since the last pass; `settled_only`: audit entries only once
    /// [`AUDIT_SETTLE_NS`] old (false when nothing is in flight: on shutdown).
    pub(super) async fn mirror(&self, t: &MirrorTarget, settled_only: bool) -> Result<MirrorReport, Error> {
        let store = &self.index.store;
        let mut report = MirrorReport::default();
        // Every log's latest head signed (a gateway without fsync signs only on demand).
        store.proof_sign_heads()?;
        let tenants = store.tenant_list()?;
        for tenant in &tenants {
            let cursor_name = format!("mirror.proofs.{}", tenant.name);
            let done: u64 = store.setting_get(&cursor_name)?.and_then(|v| v.parse().ok()).unwrap_or(0);
            // The manifests the latest signed head covers, mirrored with it: so each
            // mirrored head vouches for every manifest mirrored with it or before (what a
            // rebuild checks), and those committed since wait for the next pass's head.
            let head = store.proof_tree_head(&tenant.name, None)?;
            let covered = match (&head, store.proof_log(&tenant.name)?) {
                (Some(h), Some(log)) => log.genesis.seq + h.tree_size - 1,
                _ => u64::MAX,
            };
            let batch: Vec<Manifest> =
                store.proof_chain(&tenant.name, done + 1).take_while(|m| !m.as_ref().is_ok_and(|m| m.seq > covered)).collect::<Result<_, _>>()?;
            if let (Some(first), Some(last)) = (batch.first(), batch.last()) {
                self.put_meta(t, &format!("proofs/{}/{:020}-{:020}.jsonl", tenant.name, first.seq, last.seq), jsonl(&batch)?).await?;
                store.setting_put(&cursor_name, &last.seq.to_string())?;
                report.manifests += batch.len() as u64;
                report.objects_written += 1;
            }
            let heads_name = format!("mirror.heads.{}", tenant.name);
            let mirrored: u64 = store.setting_get(&heads_name)?.and_then(|v| v.parse().ok()).unwrap_or(0);
            if let Some(head) = head.filter(|h| h.tree_size > mirrored) {
                let genesis_name = format!("mirror.genesis.{}", tenant.name);
                if store.setting_get(&genesis_name)?.is_none()
                    && let Some(log) = store.proof_log(&tenant.name)?
                {
                    let genesis = serde_json::to_vec(&log.genesis).map_err(|e| Error::Unavailable(e.to_string()))?;
                    self.put_meta(t, &format!("heads/{}", super::mirror_log::genesis_name(&tenant.name)), Bytes::from(genesis)).await?;
                    store.setting_put(&genesis_name, "1")?;
                    report.objects_written += 1;
                }
                let body = serde_json::to_vec(&head).map_err(|e| Error::Unavailable(e.to_string()))?;
                self.put_meta(t, &format!("heads/{}/{:020}.json", tenant.name, head.tree_size), Bytes::from(body)).await?;
                store.setting_put(&heads_name, &head.tree_size.to_string())?;
                report.tree_heads += 1;
                report.objects_written += 1;
            }
            let checkpoints = store.proof_checkpoints(&tenant.name)?;
            let seen_name = format!("mirror.checkpoints.{}", tenant.name);
            let fingerprint = checkpoints.iter().map(|c| format!("{}-{}", c.first_seq, c.last_seq)).collect::<Vec<_>>().join(",");
            if !checkpoints.is_empty() && store.setting_get(&seen_name)?.as_deref() != Some(fingerprint.as_str()) {
                let body = serde_json::to_vec(&checkpoints).map_err(|e| Error::Unavailable(e.to_string()))?;
                self.put_meta(t, &format!("checkpoints/{}.json", tenant.name), Bytes::from(body)).await?;
                store.setting_put(&seen_name, &fingerprint)?;
                report.objects_written += 1;
            }
        }
        let from: i128 = store.setting_get("mirror.audit")?.and_then(|v| v.parse().ok()).unwrap_or(0);
        let to = crate::audit::now_ns() - if settled_only { AUDIT_SETTLE_NS } else { 0 };
        if to > from {
            let entries: Vec<AuditEntry> = store.audit_scan(from, to).collect::<Result<_, _>>()?;
            if let (Some(first), Some(last)) = (entries.first(), entries.last()) {
                self.put_meta(t, &format!("audit/{:020}-{:020}.jsonl", first.time_ns, last.time_ns), jsonl(&entries)?).await?;
                report.audit_entries += entries.len() as u64;
                report.objects_written += 1;
            }
            store.setting_put("mirror.audit", &to.to_string())?;
        }
        for bucket in store.bucket_list()?.iter().filter(|b| !b.versioning.is_unversioned()) {
            let lines: Vec<MirroredVersion> =
                store.version_entries(&bucket.name).map(|r| r.map(|(key, n, version)| MirroredVersion { key, n, version })).collect::<Result<_, _>>()?;
            let body = jsonl(&lines)?;
            let fingerprint = hex_simd::encode_to_string(<sha2::Sha256 as sha2::Digest>::digest(&body), hex_simd::AsciiCase::Lower);
            let seen_name = format!("mirror.versions.{}", bucket.name);
            if store.setting_get(&seen_name)?.as_deref() != Some(fingerprint.as_str()) {
                self.put_meta(t, &format!("versions/{}.jsonl", bucket.name), body).await?;
                store.setting_put(&seen_name, &fingerprint)?;
                report.objects_written += 1;
            }
        }
        for bucket in store.bucket_list()?.iter().filter(|b| b.versioning.is_unversioned()) {
            let lines: Vec<MirroredSealed> = store
                .object_scan(&bucket.name, "", None)
                .filter(|r| r.as_ref().map_or(true, |(_, rec)| rec.sealing.is_some()))
                .map(|r| r.map(|(key, record)| MirroredSealed { key, record }))
                .collect::<Result<_, _>>()?;
            let body = jsonl(&lines)?;
            let fingerprint = hex_simd::encode_to_string(<sha2::Sha256 as sha2::Digest>::digest(&body), hex_simd::AsciiCase::Lower);
            let seen_name = format!("mirror.sealed.{}", bucket.name);
            let seen = store.setting_get(&seen_name)?;
            // A bucket that never held an encrypted object writes nothing.
            if seen.as_deref() != Some(fingerprint.as_str()) && (seen.is_some() || !lines.is_empty()) {
                self.put_meta(t, &format!("sealed/{}.jsonl", bucket.name), body).await?;
                store.setting_put(&seen_name, &fingerprint)?;
                report.objects_written += 1;
            }
        }
        let state = State {
            tenants,
            users: store.user_list()?,
            keys: store.key_list()?,
            buckets: store.bucket_list()?,
            bucket_config: store.bucket_config_list()?,
            topics: store.topic_list()?,
            proof_keys: store.proof_keys()?,
            keyring: store.keyring_list()?,
        };
        let body = serde_json::to_vec(&state).map_err(|e| Error::Unavailable(e.to_string()))?;
        let fingerprint = hex_simd::encode_to_string(<sha2::Sha256 as sha2::Digest>::digest(&body), hex_simd::AsciiCase::Lower);
        if store.setting_get("mirror.state")?.as_deref() != Some(fingerprint.as_str()) {
            self.put_meta(t, "state.json", Bytes::from(body)).await?;
            store.setting_put("mirror.state", &fingerprint)?;
            report.objects_written += 1;
        }
        self.index.sync().await?;
        Ok(report)
    }

    /// Restores a metadata store that holds no object from the mirror: records, manifests,
    /// checkpoints, audit, every version of the versioned buckets, and the rest of the
    /// object index as the manifests left it (the latest version of each key that was not
    /// deleted). Records the store has already (a cluster's control log gave them, and is
    /// newer than the mirror) are kept as they are. Refused if a bucket holds objects.
    pub(super) async fn restore(&self, t: &MirrorTarget) -> Result<RestoreReport, Error> {
        let store = &self.index.store;
        if store.bucket_list()?.iter().any(|b| b.objects > 0) {
            return Err(Error::InvalidRequest("the metadata store holds objects: a rebuild only fills an empty index".into()));
        }
        let root = t.root();
        let mut report = RestoreReport::default();
        let state: State = match self.get_meta(t, &format!("{root}state.json")).await? {
            Some(body) => serde_json::from_slice(&body).map_err(|e| Error::Unavailable(format!("state.json does not parse: {e}")))?,
            None => {
                return Err(Error::InvalidRequest(format!("nothing mirrored under {}/{root}", t.bucket)));
            }
        };
        let relog = self.check_mirrored_log(t, &state.proof_keys).await?;
        report.manifests_unvouched = relog.unvouched;
        for r in &state.tenants {
            if store.tenant_get(&r.name)?.is_none() {
                store.tenant_create(r, None)?;
                report.tenants += 1;
            }
        }
        for r in &state.users {
            if store.user_get(&r.tenant, &r.name)?.is_none() {
                store.user_create(r, None)?;
                report.users += 1;
            }
        }
        for r in &state.keys {
            if store.key_get(&r.access_key)?.is_none() {
                store.key_put(r, None)?;
                report.keys += 1;
            }
        }
        for r in &state.buckets {
            let fresh = BucketRecord { objects: 0, bytes: 0, ..r.clone() };
            store.bucket_create(&fresh, None)?;
            report.buckets += 1;
        }
        for (bucket, kind, document) in &state.bucket_config {
            if store.bucket_config_get(bucket, *kind)?.is_none() {
                store.bucket_config_set(bucket, *kind, Some(document), None)?;
                report.bucket_config += 1;
            }
        }
        let topics = store.topic_list()?;
        for r in state.topics.iter().filter(|r| !topics.iter().any(|t| t.bucket == r.bucket && t.topic == r.topic)) {
            store.topic_put(r, None)?;
            report.topics += 1;
        }
        for k in &state.keyring {
            if store.keyring_get(&k.id)?.is_none() {
                store.keyring_put(k, None)?;
                report.keyring_keys += 1;
            }
        }
        for (id, pk) in &state.proof_keys {
            store.proof_key_put(id, pk)?;
        }
        // Manifests, per tenant, in chain order (file names sort by first seq).
        let mut latest: BTreeMap<(String, String), Manifest> = BTreeMap::new();
        for key in self.list_meta(&t.bucket, &format!("{root}proofs/")).await? {
            let Some(body) = self.get_meta(t, &key).await? else {
                continue;
            };
            let batch: Vec<Manifest> = parse_jsonl(&body)?;
            store.proof_import(&batch, &|tenant, seq| relog.logs(tenant, seq))?;
            report.manifests += batch.len() as u64;
            for m in batch {
                let slot = latest.entry((m.bucket.clone(), m.key.clone())).or_insert_with(|| m.clone());
                if (m.tenant == slot.tenant && m.seq >= slot.seq) || (m.tenant != slot.tenant && m.created >= slot.created) {
                    *slot = m;
                }
            }
        }
        for key in self.list_meta(&t.bucket, &format!("{root}checkpoints/")).await? {
            let Some(body) = self.get_meta(t, &key).await? else {
                continue;
            };
            let checkpoints: Vec<Checkpoint> = serde_json::from_slice(&body).map_err(|e| Error::Unavailable(format!("{key} does not parse: {e}")))?;
            for c in &checkpoints {
                store.checkpoint_import(c)?;
                report.checkpoints += 1;
            }
        }
        for key in self.list_meta(&t.bucket, &format!("{root}audit/")).await? {
            let Some(body) = self.get_meta(t, &key).await? else {
                continue;
            };
            for e in parse_jsonl::<AuditEntry>(&body)? {
                store.audit_append(&e)?;
                report.audit_entries += 1;
            }
        }
        // Versioned buckets: every version and marker as recorded, where mirrored.
        let mut versions_restored = std::collections::BTreeSet::new();
        for r in state.buckets.iter().filter(|b| !b.versioning.is_unversioned()) {
            let Some(body) = self.get_meta(t, &format!("{root}versions/{}.jsonl", r.name)).await? else {
                tracing::warn!(bucket = %r.name, "no versions mirrored for a versioned bucket: its current objects come from the manifests");
                continue;
            };
            for line in parse_jsonl::<MirroredVersion>(&body)? {
                store.version_import(&r.name, &line.key, line.n, &line.version)?;
                report.versions += 1;
            }
            versions_restored.insert(r.name.clone());
        }
        // Unversioned buckets' encrypted objects: their records as mirrored.
        let mut sealed = std::collections::HashMap::new();
        for r in state.buckets.iter().filter(|b| b.versioning.is_unversioned()) {
            if let Some(body) = self.get_meta(t, &format!("{root}sealed/{}.jsonl", r.name)).await? {
                for line in parse_jsonl::<MirroredSealed>(&body)? {
                    sealed.insert((r.name.clone(), line.key), line.record);
                }
            }
        }
        for ((bucket, key), m) in latest {
            if m.op != "put" || versions_restored.contains(&bucket) || store.bucket_get(&bucket)?.is_none() {
                continue;
            }
            if !m.encryption.is_empty() {
                match sealed.remove(&(bucket.clone(), key.clone())).filter(|rec| rec.proof_id == m.id) {
                    Some(rec) => {
                        store.object_commit(&bucket, &key, &rec, &Precondition::None, crate::meta::Completes::Nothing, None, None)?;
                        report.objects_indexed += 1;
                    }
                    None => {
                        tracing::warn!(bucket = %bucket, key = %key, "an encrypted object's record was not mirrored yet: left out of the rebuilt index");
                        report.sealed_unrestored += 1;
                    }
                }
                continue;
            }
            let rec = ObjectRecord {
                size: m.size,
                etag: m.etag.clone(),
                multipart: m.etag.contains('-'),
                sha256: m.sha256.clone(),
                proof_id: m.id.clone(),
                ..ObjectRecord::new(
                    ObjectAttrs { content_type: (!m.content_type.is_empty()).then(|| m.content_type.clone()), ..ObjectAttrs::default() },
                    Vec::new(),
                    m.principal.clone(),
                    0,
                )
            };
            store.object_commit(&bucket, &key, &rec, &Precondition::None, crate::meta::Completes::Nothing, None, None)?;
            report.objects_indexed += 1;
        }
        // Continue mirroring after what was restored, not from the start.
        for tenant in store.tenant_list()? {
            if let Some(h) = store.proof_head(&tenant.name)? {
                store.setting_put(&format!("mirror.proofs.{}", tenant.name), &h.seq.to_string())?;
            }
        }
        store.setting_put("mirror.audit", &(crate::audit::now_ns() - AUDIT_SETTLE_NS).to_string())?;
        store.flush().await?;
        Ok(report)
    }
}

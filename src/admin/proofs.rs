//! The proof API under `/_tollgate/proofs/`. Who may read a manifest follows who may
//! read its object (anonymous callers included, for public-read buckets).
//!
//! | method and path                     | returns                                              |
//! |-------------------------------------|------------------------------------------------------|
//! | `GET /pubkey`                       | the current key id and every public key, by id       |
//! | `GET /object/{bucket}/{key}`        | every manifest of the key, oldest first              |
//! | `GET /log/{tenant}[?size=N]`        | the tenant's latest signed tree head (or the one of N leaves) |
//! | `GET /log/{tenant}/consistency?first=M&second=N` | the consistency proof between the trees of M and N leaves, and the head of N |
//! | `GET /object/{bucket}/{key}?version_id=V` | the manifests of one version of the key (its write, its removal) |
//! | `GET /id/{proof id}`                | one manifest                                         |
//! | `GET /sha256/{hex}`                 | every manifest of a body with that digest            |
//! | `GET /chain/{tenant}?from=N`        | the tenant's chain from seq N, the checkpoints of pruned runs, its head (admins) |
//! | `POST /verify?sha256=hex` or bytes  | matching manifests, each with signature (its own, or its log's signed head: `proved_by`) and chain checks |
//!
//! Each manifest served (by object, id or digest) that is a leaf of its tenant's proof log
//! carries a `log` member: `leaf_index`, `inclusion_path` (hex, bottom up) and the
//! `tree_head` it leads to (the tenant's latest signed head), so the whole answer, saved to
//! a file, is what `tollgate proof verify FILE --manifest` checks offline. The log's
//! endpoints answer the tenant's users (and root).
//!
//! Also the admin API's pruning of old manifests (`POST /_tollgate/admin/prune-proofs`).

use super::{AdminApi, AdminRequest, ApiError, ApiResult, bad};
use crate::auth::Principal;
use crate::meta::{Checkpoint, Manifest, Store, TreeHead};
use crate::names::form_value;
use crate::policy::{Access, decide};
use crate::proof::Prover;
use crate::proof::manifest;

use std::sync::Arc;

use http_body_util::BodyExt;
use serde_json::json;
use sha2::Digest as _;

/// Path prefix of the proof API: manifests, public keys and tenant chains.
pub const PREFIX: &str = crate::names::PROOFS_PREFIX;
const CHAIN_PAGE: usize = 10_000;

/// The proof API: serves manifests and chains to whoever may see them, and the public keys to anyone.
pub struct ProofApi {
    store: Arc<dyn Store>,
    prover: Option<Arc<Prover>>,
    /// Block Public Access may hide a public bucket's proofs too.
    configs: Arc<crate::policy::config::BucketConfigs>,
}

fn not_found() -> ApiError {
    ApiError::no_such("proof")
}

impl ProofApi {
    /// A proof API over `store`'s manifests (`prover` `None`: proofs are off and there is no key to serve).
    #[must_use]
    pub fn new(store: Arc<dyn Store>, prover: Option<Arc<Prover>>, configs: Arc<crate::policy::config::BucketConfigs>) -> Self {
        Self { store, prover, configs }
    }
}

/// A manifest as `p` may see it: one recorded before manifests named their writer by
/// pseudonym holds an access key id, which only the tenant's admins see (for others it is
/// replaced by its pseudonym, and that copy's signature no longer verifies).
fn shown_to(p: &Principal, mut m: Manifest) -> Manifest {
    if !p.administers(&m.tenant) {
        m.principal = crate::proof::pseudonym(&m.principal);
    }
    m
}

impl ProofApi {
    /// Whether `p` may read the object a manifest records.
    fn may_read(&self, p: &Principal, m: &Manifest) -> Result<bool, ApiError> {
        match self.store.bucket_get(&m.bucket)? {
            Some(b) if b.tenant == m.tenant => {
                Ok(decide(p, Access::PublicRead, Some(&b), self.configs.public_access_block(&b.name).ignore_public_acls).is_ok())
            }
            // The bucket is gone or changed hands: the recording tenant's users only.
            _ => Ok(p.sees_tenant(&m.tenant)),
        }
    }

    fn readable(&self, p: &Principal, found: Vec<Manifest>) -> Result<Vec<Manifest>, ApiError> {
        let mut out = Vec::with_capacity(found.len());
        for m in found {
            if self.may_read(p, &m)? {
                out.push(shown_to(p, m));
            }
        }
        Ok(out)
    }

    /// The tenant's latest signed tree head, if it has at least `size` leaves; signed now if
    /// the log grew past the last one (a gateway without fsync has no group commits).
    fn head_covering(&self, tenant: &str, size: u64) -> Result<Option<TreeHead>, ApiError> {
        let covers = |h: &Option<TreeHead>| h.as_ref().is_some_and(|h| h.tree_size >= size);
        let head = self.store.proof_tree_head(tenant, None)?;
        if covers(&head) {
            return Ok(head);
        }
        self.store.proof_sign_heads()?;
        let head = self.store.proof_tree_head(tenant, None)?;
        Ok(head.filter(|h| h.tree_size >= size))
    }

    /// A manifest as served: its JSON and, if it is a leaf of its tenant's log, `log` (its
    /// leaf index, inclusion proof and the signed tree head the proof leads to).
    fn with_log(&self, m: Manifest) -> Result<serde_json::Value, ApiError> {
        let mut v = json!(m);
        if let Some((tenant, leaf)) = self.store.proof_leaf(&m.id)?
            && let Some(head) = self.head_covering(&tenant, leaf + 1)?
        {
            let path = self.store.proof_inclusion(&tenant, leaf, head.tree_size)?;
            v["log"] = json!({"leaf_index": leaf, "inclusion_path": path, "tree_head": head});
        }
        Ok(v)
    }

    fn all_with_log(&self, found: Vec<Manifest>) -> ApiResult {
        Ok(serde_json::Value::Array(found.into_iter().map(|m| self.with_log(m)).collect::<Result<_, _>>()?))
    }

    /// Whether a signed tree head of `m`'s tenant includes it (a logged manifest's proof).
    fn included(&self, m: &Manifest, key_for: impl Fn(&str) -> Option<ed25519_dalek::VerifyingKey>) -> Result<bool, ApiError> {
        let Some((tenant, leaf)) = self.store.proof_leaf(&m.id)? else { return Ok(false) };
        let Some(head) = self.head_covering(&tenant, leaf + 1)? else { return Ok(false) };
        let path = self.store.proof_inclusion(&tenant, leaf, head.tree_size)?;
        Ok(key_for(&head.key_id).is_some_and(|k| manifest::verify_inclusion(m, leaf, &path, &head, &k).is_ok()))
    }

    /// Signature and chain checks of one manifest against the store: its own signature, or
    /// for a logged manifest its signed tree head's (`proved_by` says which).
    fn check(&self, m: &Manifest) -> Result<serde_json::Value, ApiError> {
        let keys = self.store.proof_keys()?;
        let key_for = |id: &str| manifest::published_key(&keys, id);
        let signature_valid = if m.logged() { self.included(m, key_for)? } else { key_for(&m.key_id).is_some_and(|k| m.verify(&k).is_ok()) };
        // Its neighbours in the chain are manifests, or checkpoints of pruned runs.
        let checkpoints = self.store.proof_checkpoints(&m.tenant)?;
        let at = |seq: u64| -> Result<Option<Manifest>, ApiError> { Ok(self.store.proof_chain(&m.tenant, seq).next().transpose()?.filter(|x| x.seq == seq)) };
        let hash_before = if m.seq <= 1 {
            Some(String::new())
        } else if let Some(c) = checkpoints.iter().find(|c| c.last_seq + 1 == m.seq) {
            Some(c.last_hash.clone())
        } else {
            at(m.seq - 1)?.map(|p| p.hash())
        };
        let linked_after = if let Some(c) = checkpoints.iter().find(|c| c.first_seq == m.seq + 1) {
            c.first_prev == m.hash()
        } else {
            match at(m.seq + 1)? {
                Some(next) => next.prev == m.hash(),
                None => self.store.proof_head(&m.tenant)?.is_some_and(|h| h.seq == m.seq),
            }
        };
        let chain_intact = hash_before.as_deref() == Some(m.prev.as_str()) && at(m.seq)?.as_ref() == Some(m) && linked_after;
        let proved_by = if m.logged() { "log" } else { "signature" };
        Ok(json!({"manifest": m, "signature_valid": signature_valid, "proved_by": proved_by, "chain_intact": chain_intact}))
    }

    pub(super) async fn handle(&self, p: &Principal, method: &http::Method, path: &str, query: &str, body: s3s::Body) -> ApiResult {
        let segments: Vec<&str> = path.splitn(3, '/').collect();
        match (method.as_str(), segments.as_slice()) {
            ("GET", ["pubkey"]) => {
                let keys: serde_json::Map<String, serde_json::Value> = self.store.proof_keys()?.into_iter().map(|(id, pk)| (id, json!(pk))).collect();
                Ok(json!({"current": self.prover.as_ref().map(|p| p.key_id()), "keys": keys}))
            }
            ("GET", ["object", bucket, key]) => {
                let key = percent_decode(key)?;
                let mut found = self.store.proof_of_object(bucket, &key)?;
                // A key's manifests are few: filtered here rather than indexed by version.
                if let Some(v) = form_value(query, "version_id") {
                    found.retain(|m| m.version_id == v);
                }
                let found = self.readable(p, found)?;
                if found.is_empty() {
                    return Err(not_found());
                }
                self.all_with_log(found)
            }
            ("GET", ["id", id]) => {
                let m = self.store.proof_get(id)?.ok_or_else(not_found)?;
                if !self.may_read(p, &m)? {
                    return Err(not_found());
                }
                self.with_log(shown_to(p, m))
            }
            ("GET", ["sha256", hex]) => self.all_with_log(self.readable(p, self.store.proof_by_sha256(&hex.to_ascii_lowercase())?)?),
            ("GET", ["log", tenant]) => {
                if !p.sees_tenant(tenant) {
                    return Err(ApiError::Denied);
                }
                let head = match form_value(query, "size") {
                    Some(n) => self.store.proof_tree_head(tenant, Some(n.parse().map_err(|_| bad("size must be a number"))?))?,
                    None => self.head_covering(tenant, self.store.proof_log(tenant)?.map_or(1, |l| l.tree_size))?,
                };
                Ok(json!({"tree_head": head.ok_or_else(|| ApiError::no_such("tree head"))?}))
            }
            ("GET", ["log", tenant, "consistency"]) => {
                if !p.sees_tenant(tenant) {
                    return Err(ApiError::Denied);
                }
                let size = |name: &str| -> Result<u64, ApiError> {
                    form_value(query, name).ok_or_else(|| bad(format!("give ?{name}=")))?.parse().map_err(|_| bad(format!("{name} must be a number")))
                };
                let (first, second) = (size("first")?, size("second")?);
                let path = match self.store.proof_consistency(tenant, first, second) {
                    Err(crate::meta::Error::NotFound) => {
                        return Err(bad(format!("no consistency proof from {first} to {second} leaves: the log of {tenant} is smaller, or first > second")));
                    }
                    r => r?,
                };
                Ok(json!({"first": first, "second": second, "path": path, "tree_head": self.store.proof_tree_head(tenant, Some(second))?}))
            }
            ("GET", ["chain", tenant]) => {
                if !p.administers(tenant) {
                    return Err(ApiError::Denied);
                }
                let from: u64 = form_value(query, "from").map(|v| v.parse()).transpose().map_err(|_| bad("from must be a number"))?.unwrap_or(1);
                let chain: Vec<Manifest> = self.store.proof_chain(tenant, from.max(1)).take(CHAIN_PAGE).collect::<Result<_, _>>()?;
                let checkpoints: Vec<Checkpoint> = self.store.proof_checkpoints(tenant)?.into_iter().filter(|c| c.last_seq >= from).collect();
                Ok(json!({"head": self.store.proof_head(tenant)?, "manifests": chain, "checkpoints": checkpoints}))
            }
            ("POST", ["verify"]) => {
                let sha = match form_value(query, "sha256") {
                    Some(h) => h.to_ascii_lowercase(),
                    None => hash_body(body).await?,
                };
                let found = self.readable(p, self.store.proof_by_sha256(&sha)?)?;
                let checks = found.iter().map(|m| self.check(m)).collect::<Result<Vec<_>, _>>()?;
                Ok(json!({"sha256": sha, "matches": checks}))
            }
            _ => Err(ApiError::NotFound(format!("no proof endpoint {method} {PREFIX}{path}"))),
        }
    }
}

impl AdminApi {
    /// Prunes the manifests of objects deleted longer ago than `?older_than_secs=` (default:
    /// the configured retention).
    pub(super) async fn prune_proofs(&self, req: &AdminRequest<'_>) -> ApiResult {
        let prover = self.prover.clone().ok_or_else(|| bad("proofs are disabled"))?;
        let secs: u64 = match form_value(req.query, "older_than_secs") {
            Some(v) => v.parse().map_err(|_| bad("older_than_secs must be a number"))?,
            None if self.proof_retention_days > 0 => self.proof_retention_days.saturating_mul(86_400),
            None => return Err(bad("no proofs.deleted_retention_days configured: give ?older_than_secs=")),
        };
        let store = Arc::clone(&self.store);
        let removed = tokio::task::spawn_blocking(move || prover.prune(store.as_ref(), std::time::Duration::from_secs(secs)))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))??;
        Ok(json!({"removed": removed}))
    }
}

fn percent_decode(s: &str) -> Result<String, ApiError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or_else(|| bad("bad percent-encoding"))?;
            let v = u8::from_str_radix(std::str::from_utf8(hex).map_err(|_| bad("bad percent-encoding"))?, 16).map_err(|_| bad("bad percent-encoding"))?;
            out.push(v);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| bad("key is not UTF-8"))
}

/// SHA-256 of a request body, streamed (any size, never buffered whole).
async fn hash_body(mut body: s3s::Body) -> Result<String, ApiError> {
    let mut sha = sha2::Sha256::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| bad(format!("body: {e}")))?;
        if let Some(data) = frame.data_ref() {
            sha.update(data);
        }
    }
    Ok(hex_simd::encode_to_string(sha.finalize(), hex_simd::AsciiCase::Lower))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_of_keys() {
        assert_eq!(percent_decode("a%20b%2Bc/%C3%A9").unwrap(), "a b+c/é");
        assert!(percent_decode("%zz").is_err());
        assert!(percent_decode("%4").is_err());
    }
}

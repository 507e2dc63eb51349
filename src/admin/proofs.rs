//! The proof API under `/_tollgate/proofs/`. Who may read a manifest follows who may
//! read its object (anonymous callers included, for public-read buckets).
//!
//! | method and path                     | returns                                              |
//! |-------------------------------------|------------------------------------------------------|
//! | `GET /pubkey`                       | the current key id and every public key, by id       |
//! | `GET /object/{bucket}/{key}`        | every manifest of the key, oldest first              |
//! | `GET /object/{bucket}/{key}?version_id=V` | the manifests of one version of the key (its write, its removal) |
//! | `GET /id/{proof id}`                | one manifest                                         |
//! | `GET /sha256/{hex}`                 | every manifest of a body with that digest            |
//! | `GET /chain/{tenant}?from=N`        | the tenant's chain from seq N, the checkpoints of pruned runs, its head (admins) |
//! | `POST /verify?sha256=hex` or bytes  | matching manifests, each with signature and chain checks |
//!
//! Also the admin API's pruning of old manifests (`POST /_tollgate/admin/prune-proofs`).

use super::{AdminApi, AdminRequest, ApiError, ApiResult, bad};
use crate::auth::Principal;
use crate::meta::{Checkpoint, Manifest, Store};
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

    /// Signature and chain checks of one manifest against the store.
    fn check(&self, m: &Manifest) -> Result<serde_json::Value, ApiError> {
        let keys = self.store.proof_keys()?;
        let signature_valid =
            keys.iter().find(|(id, _)| *id == m.key_id).and_then(|(_, pk)| manifest::parse_public_key(pk)).is_some_and(|k| m.verify(&k).is_ok());
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
        Ok(json!({"manifest": m, "signature_valid": signature_valid, "chain_intact": chain_intact}))
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
                Ok(json!(found))
            }
            ("GET", ["id", id]) => {
                let m = self.store.proof_get(id)?.ok_or_else(not_found)?;
                if !self.may_read(p, &m)? {
                    return Err(not_found());
                }
                Ok(json!(shown_to(p, m)))
            }
            ("GET", ["sha256", hex]) => Ok(json!(self.readable(p, self.store.proof_by_sha256(&hex.to_ascii_lowercase())?)?)),
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

//! Proofs of what was stored: streaming digests ([`hashing`]), chained manifests proved by
//! each tenant's signed log ([`manifest`], [`merkle`]), and the gateway's signing key
//! ([`Prover`]).

pub mod cli;
pub mod combine;
pub mod hashing;
pub mod manifest;
/// The log's Merkle tree algorithms (RFC 9162), owned by `meta` with the records they hash.
pub use crate::meta::merkle;

use crate::meta::Store;
use manifest::Manifest;

use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use ed25519_dalek::SigningKey;
use zeroize::Zeroizing;

/// The gateway's Ed25519 signing key. Kept (base64 seed, mode 0600) in a file; to rotate,
/// replace the file: old public keys stay published under their ids.
pub struct Prover {
    key: SigningKey,
    key_id: String,
}

impl std::fmt::Debug for Prover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prover").field("key_id", &self.key_id).finish_non_exhaustive()
    }
}

/// What a manifest records about one change.
pub struct Change<'a> {
    /// `put` or `delete`.
    pub op: &'a str,
    /// Tenant owning the bucket: the manifest joins this tenant's chain.
    pub tenant: &'a str,
    /// Bucket of the object.
    pub bucket: &'a str,
    /// Object key.
    pub key: &'a str,
    /// Bytes stored (0 for a delete).
    pub size: u64,
    /// Lower-case hex SHA-256 of the body (empty for a delete).
    pub sha256: &'a str,
    /// ETag without quotes (empty for a delete).
    pub etag: &'a str,
    /// Content type as stored (empty if none was given, and for a delete).
    pub content_type: &'a str,
    /// Access key id of the caller (empty when anonymous).
    pub principal: &'a str,
    /// How the bytes are encrypted at rest ([`crate::meta::Sealing::described`]); empty: not.
    pub encryption: &'a str,
}

impl Prover {
    /// Loads the key from `file`, or generates it there.
    pub fn load(file: &Path) -> io::Result<Self> {
        let seed: Zeroizing<[u8; 32]> = match std::fs::read_to_string(file) {
            Ok(text) => {
                if std::fs::metadata(file)?.permissions().mode() & 0o077 != 0 {
                    return Err(io::Error::new(io::ErrorKind::PermissionDenied, format!("{} is readable by others: chmod 600 it", file.display())));
                }
                let raw = Zeroizing::new(
                    base64_simd::STANDARD.decode_to_vec(text.trim()).map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "signing key is not base64"))?,
                );
                Zeroizing::new(raw.as_slice().try_into().map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "signing key must be 32 bytes"))?)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let mut seed = Zeroizing::new([0u8; 32]);
                getrandom::fill(seed.as_mut()).map_err(|e| io::Error::other(e.to_string()))?;
                let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(file)?;
                io::Write::write_all(&mut f, base64_simd::STANDARD.encode_to_string(seed.as_ref()).as_bytes())?;
                f.sync_all()?;
                seed
            }
            Err(e) => return Err(e),
        };
        let key = SigningKey::from_bytes(&seed);
        let key_id = manifest::key_id(&key.verifying_key());
        Ok(Self { key, key_id })
    }

    /// The id of the signing key: the one its public key is published under.
    #[must_use]
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The public key, base64.
    #[must_use]
    pub fn public_key(&self) -> String {
        base64_simd::STANDARD.encode_to_string(self.key.verifying_key().as_bytes())
    }

    /// A manifest for `change`, not yet placed in the chain. It is never signed on its own:
    /// the tree head of its tenant's log that includes it is.
    #[must_use]
    pub fn draft(&self, c: &Change<'_>) -> Manifest {
        Manifest {
            v: crate::meta::LOGGED_MANIFEST_VERSION,
            id: manifest::new_id(),
            op: c.op.to_owned(),
            tenant: c.tenant.to_owned(),
            bucket: c.bucket.to_owned(),
            key: c.key.to_owned(),
            size: c.size,
            sha256: c.sha256.to_owned(),
            etag: c.etag.to_owned(),
            content_type: c.content_type.to_owned(),
            principal: pseudonym(c.principal),
            created: rfc3339_now(),
            seq: 0,
            prev: String::new(),
            key_id: self.key_id.clone(),
            sig: String::new(),
            version_id: String::new(),
            encryption: c.encryption.to_owned(),
        }
    }

    /// What signs the tree heads of the store's proof logs (see [`Store::proof_set_head_signer`]).
    #[must_use]
    pub fn head_signer(self: &std::sync::Arc<Self>) -> crate::meta::HeadSigner {
        let me = std::sync::Arc::clone(self);
        Box::new(move |h: &mut crate::meta::TreeHead| {
            h.created = rfc3339_now();
            h.sign(&me.key);
        })
    }

    /// Prunes the manifests of objects deleted more than `older_than` ago, leaving signed
    /// checkpoints (see [`Store::proof_prune`]); returns how many were removed.
    pub fn prune(&self, store: &dyn Store, older_than: std::time::Duration) -> Result<u64, crate::meta::Error> {
        // A retention longer than the calendar goes back expires nothing (and never panics).
        let Some(cutoff) = time::OffsetDateTime::now_utc().checked_sub(time::Duration::try_from(older_than).unwrap_or(time::Duration::MAX)) else {
            return Ok(0);
        };
        let expired = |m: &Manifest| time::OffsetDateTime::parse(&m.created, &time::format_description::well_known::Rfc3339).is_ok_and(|t| t <= cutoff);
        let sign = |c: &mut manifest::Checkpoint| {
            c.created = rfc3339_now();
            c.sign(&self.key);
        };
        store.proof_prune(&expired, &sign)
    }
}

fn rfc3339_now() -> String {
    time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}
/// How a manifest names its writer: `sha256:` and the first 32 hex digits of the
/// SHA-256 of the access key id (empty for the gateway itself). Stable, so a tenant's
/// admins can match it against their keys and the audit log, but a manifest served to
/// anyone who may read the object does not hand out a key id.
#[must_use]
pub fn pseudonym(access_key: &str) -> String {
    use sha2::Digest as _;
    if access_key.is_empty() || access_key.starts_with("sha256:") {
        return access_key.to_owned();
    }
    let digest = sha2::Sha256::digest(access_key.as_bytes());
    format!("sha256:{}", &hex_simd::encode_to_string(digest, hex_simd::AsciiCase::Lower)[..32])
}

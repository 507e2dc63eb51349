//! The records of the proof chains: manifests and checkpoints, and the canonical JSON and
//! hash that link a tenant's manifests into a chain (the store keeps each chain's head).
//! Signing and verifying them is the `proof` module's.

use serde::{Deserialize, Serialize};
use sha2::Digest as _;

/// Format version of checkpoints, tree heads and the log's genesis leaf, and of the
/// manifests each signed on its own (every manifest recorded before the proof log stopped
/// signing them).
pub const MANIFEST_VERSION: u32 = 1;

/// Format version of a manifest proved by its tenant's proof log alone: not signed on its
/// own (`sig` empty), its leaf included in a tree head signed by `key_id`. Signing one tree
/// head per group commit instead of one manifest per object is what the log is for.
pub const LOGGED_MANIFEST_VERSION: u32 = 2;

/// The record of one stored (or deleted) object version.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    /// Format version: [`MANIFEST_VERSION`] (signed on its own) or
    /// [`LOGGED_MANIFEST_VERSION`] (proved by its inclusion in a signed tree head).
    pub v: u32,
    /// 128-bit random, base32 (lower case, no padding).
    pub id: String,
    /// `put` or `delete`.
    pub op: String,
    /// The tenant owning the bucket, whose chain the manifest is in.
    pub tenant: String,
    /// The bucket of the object.
    pub bucket: String,
    /// The object key.
    pub key: String,
    /// Body length, in bytes (0 for deletes).
    pub size: u64,
    /// Lower-case hex SHA-256 of the full body (empty for deletes).
    pub sha256: String,
    /// The object's ETag, unquoted (empty for deletes).
    pub etag: String,
    /// The object's `Content-Type`; empty if none was given.
    pub content_type: String,
    /// Access key id of the writer.
    pub principal: String,
    /// RFC 3339, UTC.
    pub created: String,
    /// Position in the tenant's chain, from 1.
    pub seq: u64,
    /// Hex SHA-256 of the previous manifest of the tenant (canonical JSON, signature
    /// included); empty for the first.
    pub prev: String,
    /// Id of the signing key: the first 16 hex characters of its public key's SHA-256. For
    /// a logged manifest, the key signing the gateway's tree heads when it was recorded (a
    /// later head proving it may be signed by a key rotated in since).
    pub key_id: String,
    /// Base64 Ed25519 signature of the canonical JSON without `sig`; empty in a logged
    /// manifest (its tree head is signed instead).
    #[serde(default)]
    pub sig: String,
    /// The version the change made (a put: the new version; a delete: its delete marker)
    /// or removed (a deletion of one version), in a versioned bucket; empty otherwise.
    /// Omitted when empty, so manifests of unversioned buckets, and those from before
    /// versioning, keep their canonical JSON, hash and signature.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version_id: String,
    /// How the object's bytes are encrypted at rest: `AES256` (SSE-S3), `aws:kms:{key id}`
    /// or `SSE-C`; never key material. Omitted when empty (stored in the clear), so older
    /// manifests keep their canonical JSON.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub encryption: String,
}

/// A manifest's fields in the canonical (sorted) order, so that serializing it gives the
/// canonical JSON directly: signing and chaining each take it on the path of every write,
/// where building a [`Value`] and sorting its keys cost several times as much.
#[derive(Serialize)]
struct SortedManifest<'a> {
    bucket: &'a str,
    content_type: &'a str,
    created: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    encryption: &'a str,
    etag: &'a str,
    id: &'a str,
    key: &'a str,
    key_id: &'a str,
    op: &'a str,
    prev: &'a str,
    principal: &'a str,
    seq: u64,
    sha256: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    sig: Option<&'a str>,
    size: u64,
    tenant: &'a str,
    v: u32,
    #[serde(skip_serializing_if = "str::is_empty")]
    version_id: &'a str,
}

impl Manifest {
    fn sorted(&self, with_sig: bool) -> String {
        let m = SortedManifest {
            bucket: &self.bucket,
            content_type: &self.content_type,
            created: &self.created,
            encryption: &self.encryption,
            etag: &self.etag,
            id: &self.id,
            key: &self.key,
            key_id: &self.key_id,
            op: &self.op,
            prev: &self.prev,
            principal: &self.principal,
            seq: self.seq,
            sha256: &self.sha256,
            sig: with_sig.then_some(self.sig.as_str()),
            size: self.size,
            tenant: &self.tenant,
            v: self.v,
            version_id: &self.version_id,
        };
        // Plain strings and integers: serializing them cannot fail.
        serde_json::to_string(&m).unwrap_or_default()
    }

    /// The canonical JSON that is signed: every field but `sig`.
    #[must_use]
    pub fn signed_bytes(&self) -> String {
        self.sorted(false)
    }

    /// The canonical JSON of the whole manifest (what the next one's `prev` hashes).
    #[must_use]
    pub fn canonical_json(&self) -> String {
        self.sorted(true)
    }

    /// Whether it is proved by its tenant's log ([`LOGGED_MANIFEST_VERSION`]) rather than
    /// by a signature of its own.
    #[must_use]
    pub fn logged(&self) -> bool {
        self.v == LOGGED_MANIFEST_VERSION
    }

    /// Hex SHA-256 of [`Manifest::canonical_json`].
    #[must_use]
    pub fn hash(&self) -> String {
        hex_simd::encode_to_string(sha2::Sha256::digest(self.canonical_json().as_bytes()), hex_simd::AsciiCase::Lower)
    }
}

/// Stands in for a run of pruned manifests `first_seq..=last_seq` of a tenant's chain, so
/// the chain stays verifiable across the gap: the manifest before the run hashes to
/// `first_prev`, the one after it has `prev == last_hash`. Signed like a manifest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Checkpoint {
    /// Format version: [`MANIFEST_VERSION`].
    pub v: u32,
    /// The tenant whose chain it is in.
    pub tenant: String,
    /// Seq of the first pruned manifest.
    pub first_seq: u64,
    /// Seq of the last pruned manifest.
    pub last_seq: u64,
    /// `prev` of the manifest at `first_seq`.
    pub first_prev: String,
    /// Hash of the manifest at `last_seq`.
    pub last_hash: String,
    /// RFC 3339, UTC: when the run was pruned.
    pub created: String,
    /// Id of the signing key, as in a manifest.
    pub key_id: String,
    /// Base64 Ed25519 signature of the canonical JSON without `sig`.
    #[serde(default)]
    pub sig: String,
}

/// The head of a tenant's proof chain.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainHead {
    /// Seq of the latest manifest.
    pub seq: u64,
    /// Hash of the manifest at `seq`.
    pub hash: String,
}

/// A signed tree head: the size and root of a tenant's proof log (RFC 9162 Merkle tree)
/// at one moment, signed by the gateway. Signed once per group commit for each tenant whose
/// log grew, not once per object; every manifest is proved against one by an inclusion
/// proof, and any two of a tenant's by a consistency proof.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TreeHead {
    /// Format version: [`MANIFEST_VERSION`].
    pub v: u32,
    /// The tenant whose log it is.
    pub tenant: String,
    /// Number of leaves.
    pub tree_size: u64,
    /// Hex `MTH` of the leaves (SHA-256 of the empty string for an empty log).
    pub root_hash: String,
    /// RFC 3339, UTC: when it was signed.
    pub created: String,
    /// Id of the signing key, as in a manifest.
    pub key_id: String,
    /// Base64 Ed25519 signature of the canonical JSON without `sig`.
    #[serde(default)]
    pub sig: String,
}

/// Signs a tree head (fills `created`, `key_id` and `sig`).
pub type HeadSigner = Box<dyn Fn(&mut TreeHead) + Send + Sync>;

/// Where a tenant's proof log stands.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogInfo {
    /// Number of leaves.
    pub tree_size: u64,
    /// Hex root hash of the leaves.
    pub root_hash: String,
    /// The chain head the log began after (leaf 0 commits to it): manifest `seq` is leaf
    /// `seq - genesis.seq`.
    pub genesis: ChainHead,
}

/// The data of a tenant log's first leaf (leaf 0): the tenant's chain head when the log
/// began (seq 0 and an empty hash for a tenant that had none), so the log extends the
/// `seq`/`prev` chain rather than starting over. Canonical JSON (sorted keys).
#[must_use]
pub fn genesis_leaf(tenant: &str, head: &ChainHead) -> String {
    #[derive(Serialize)]
    struct Genesis<'a> {
        chain_hash: &'a str,
        chain_seq: u64,
        tenant: &'a str,
        #[serde(rename = "type")]
        kind: &'a str,
        v: u32,
    }
    let g = Genesis { chain_hash: &head.hash, chain_seq: head.seq, tenant, kind: "genesis", v: MANIFEST_VERSION };
    serde_json::to_string(&g).unwrap_or_default()
}

//! Proof manifests: canonical JSON, Ed25519 signatures, and the per-tenant hash chain.
//! Everything here is pure, so a third party can check a manifest offline with only the
//! public key (`tollgate proof verify`).

use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Digest as _;

/// Manifest format version.
pub const VERSION: u32 = 1;

/// The record of one stored (or deleted) object version.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    pub v: u32,
    /// 128-bit random, base32 (lower case, no padding).
    pub id: String,
    /// `put` or `delete`.
    pub op: String,
    pub tenant: String,
    pub bucket: String,
    pub key: String,
    pub size: u64,
    /// Lower-case hex SHA-256 of the full body (empty for deletes).
    pub sha256: String,
    pub etag: String,
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
    pub key_id: String,
    /// Base64 Ed25519 signature of the canonical JSON without `sig`.
    #[serde(default)]
    pub sig: String,
}

/// Errors of manifest checks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("manifest is not valid JSON: {0}")]
    Malformed(String),
    #[error("signature does not verify")]
    BadSignature,
    #[error("manifest signed with unknown key {0}")]
    UnknownKey(String),
    #[error("chain broken at seq {seq}: {why}")]
    BrokenChain { seq: u64, why: String },
}

/// Serializes a JSON value with object keys sorted and no insignificant white space.
#[must_use]
pub fn canonical(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(&map[k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

fn hex(b: impl AsRef<[u8]>) -> String {
    hex_simd::encode_to_string(b, hex_simd::AsciiCase::Lower)
}

/// A new proof id: 128 random bits in base32.
#[must_use]
pub fn new_id() -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).expect("the OS random source is available");
    let n = u128::from_be_bytes(b);
    (0..26).map(|i| ALPHABET[((n >> (i * 5)) & 31) as usize] as char).collect()
}

/// The key id of a public key: the first 16 hex characters of its SHA-256.
#[must_use]
pub fn key_id(key: &VerifyingKey) -> String {
    hex(sha2::Sha256::digest(key.as_bytes()))[..16].to_owned()
}

impl Manifest {
    /// The canonical JSON that is signed: every field but `sig`.
    #[must_use]
    pub fn signed_bytes(&self) -> String {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Some(o) = v.as_object_mut() {
            o.remove("sig");
        }
        canonical(&v)
    }

    /// The canonical JSON of the whole manifest (what the next one's `prev` hashes).
    #[must_use]
    pub fn canonical_json(&self) -> String {
        canonical(&serde_json::to_value(self).unwrap_or(Value::Null))
    }

    /// Hex SHA-256 of [`Manifest::canonical_json`].
    #[must_use]
    pub fn hash(&self) -> String {
        hex(sha2::Sha256::digest(self.canonical_json().as_bytes()))
    }

    /// Sets `key_id` and `sig`.
    pub fn sign(&mut self, key: &SigningKey) {
        self.key_id = key_id(&key.verifying_key());
        let sig = key.sign(self.signed_bytes().as_bytes());
        self.sig = base64_simd::STANDARD.encode_to_string(sig.to_bytes());
    }

    /// Checks the signature against `key`.
    pub fn verify(&self, key: &VerifyingKey) -> Result<(), VerifyError> {
        let raw = base64_simd::STANDARD.decode_to_vec(&self.sig).map_err(|_| VerifyError::BadSignature)?;
        let sig = Signature::from_slice(&raw).map_err(|_| VerifyError::BadSignature)?;
        key.verify(self.signed_bytes().as_bytes(), &sig).map_err(|_| VerifyError::BadSignature)
    }

    pub fn parse(json: &[u8]) -> Result<Self, VerifyError> {
        serde_json::from_slice(json).map_err(|e| VerifyError::Malformed(e.to_string()))
    }
}

/// Parses a public key given as base64 or hex.
pub fn parse_public_key(s: &str) -> Option<VerifyingKey> {
    let s = s.trim();
    let raw = base64_simd::STANDARD.decode_to_vec(s).ok().filter(|r| r.len() == 32).or_else(|| hex_simd::decode_to_vec(s).ok())?;
    VerifyingKey::from_bytes(&raw.try_into().ok()?).ok()
}

/// Checks a tenant's chain: consecutive `seq` from `start`, each `prev` the hash of the
/// one before (the first `prev` must be `start_prev`), each signature valid under a key
/// that `key_for` knows.
pub fn verify_chain<'a>(
    manifests: impl IntoIterator<Item = &'a Manifest>,
    start: u64,
    start_prev: &str,
    key_for: impl Fn(&str) -> Option<VerifyingKey>,
) -> Result<u64, VerifyError> {
    let mut expect_seq = start;
    let mut prev = start_prev.to_owned();
    for m in manifests {
        if m.seq != expect_seq {
            return Err(VerifyError::BrokenChain { seq: m.seq, why: format!("expected seq {expect_seq}") });
        }
        if m.prev != prev {
            return Err(VerifyError::BrokenChain { seq: m.seq, why: "prev does not match the previous manifest".into() });
        }
        let key = key_for(&m.key_id).ok_or_else(|| VerifyError::UnknownKey(m.key_id.clone()))?;
        m.verify(&key).map_err(|_| VerifyError::BrokenChain { seq: m.seq, why: "signature does not verify".into() })?;
        prev = m.hash();
        expect_seq += 1;
    }
    Ok(expect_seq - start)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn manifest(seq: u64, prev: &str) -> Manifest {
        Manifest {
            v: VERSION,
            id: new_id(),
            op: "put".into(),
            tenant: "t".into(),
            bucket: "b".into(),
            key: "k".into(),
            size: 3,
            sha256: "ab".into(),
            etag: "e".into(),
            content_type: String::new(),
            principal: "AK".into(),
            created: "2026-01-01T00:00:00Z".into(),
            seq,
            prev: prev.into(),
            key_id: String::new(),
            sig: String::new(),
        }
    }

    fn chain(n: u64, k: &SigningKey) -> Vec<Manifest> {
        let mut out: Vec<Manifest> = Vec::new();
        for seq in 1..=n {
            let prev = out.last().map(Manifest::hash).unwrap_or_default();
            let mut m = manifest(seq, &prev);
            m.sign(k);
            out.push(m);
        }
        out
    }

    #[test]
    fn canonical_json_sorts_keys_and_drops_white_space() {
        let v: Value = serde_json::from_str(r#"{ "b": [1, {"z": 1, "a": "x"}], "a": null }"#).unwrap();
        assert_eq!(canonical(&v), r#"{"a":null,"b":[1,{"a":"x","z":1}]}"#);
    }

    #[test]
    fn signatures_verify_offline_and_catch_edits() {
        let k = key(1);
        let mut m = manifest(1, "");
        m.sign(&k);
        m.verify(&k.verifying_key()).unwrap();
        let json = serde_json::to_vec(&m).unwrap();
        Manifest::parse(&json).unwrap().verify(&k.verifying_key()).unwrap();
        let mut edited = m.clone();
        edited.size = 4;
        assert_eq!(edited.verify(&k.verifying_key()), Err(VerifyError::BadSignature));
        assert_eq!(m.verify(&key(2).verifying_key()), Err(VerifyError::BadSignature));
        let pk = base64_simd::STANDARD.encode_to_string(k.verifying_key().as_bytes());
        assert_eq!(parse_public_key(&pk), Some(k.verifying_key()));
    }

    #[test]
    fn chain_verification_finds_deleted_reordered_and_edited_manifests() {
        let k = key(3);
        let pk = k.verifying_key();
        let keys = |id: &str| (id == key_id(&pk)).then_some(pk);
        let c = chain(5, &k);
        assert_eq!(verify_chain(&c, 1, "", keys).unwrap(), 5);

        let mut deleted = c.clone();
        deleted.remove(2);
        assert!(matches!(verify_chain(&deleted, 1, "", keys), Err(VerifyError::BrokenChain { seq: 4, .. })));

        let mut reordered = c.clone();
        reordered.swap(1, 2);
        assert!(verify_chain(&reordered, 1, "", keys).is_err());

        let mut edited = c.clone();
        edited[3].size = 99;
        assert!(matches!(verify_chain(&edited, 1, "", keys), Err(VerifyError::BrokenChain { seq: 4, .. })));

        // Re-signing an edited manifest still breaks the link to the next one.
        let mut resigned = c.clone();
        resigned[1].size = 99;
        resigned[1].sign(&k);
        assert!(matches!(verify_chain(&resigned, 1, "", keys), Err(VerifyError::BrokenChain { seq: 3, .. })));

        // A suffix verifies from a checkpoint (seq and hash of the last pruned one).
        assert_eq!(verify_chain(&c[2..], 3, &c[1].hash(), keys).unwrap(), 3);
    }

    #[test]
    fn ids_are_128_bit_and_distinct() {
        let a = new_id();
        assert_eq!(a.len(), 26);
        assert_ne!(a, new_id());
    }
}

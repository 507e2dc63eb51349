//! Proof manifests: canonical JSON, Ed25519 signatures, and the per-tenant hash chain.
//! Everything here is pure, so a third party can check a manifest offline with only the
//! public key (`tollgate proof verify`).

use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use serde::Serialize;
use serde_json::Value;
use sha2::Digest as _;

pub use crate::meta::{Checkpoint, MANIFEST_VERSION as VERSION, Manifest, TreeHead};

/// Errors of manifest checks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The manifest does not parse as one; the parser's message.
    #[error("manifest is not valid JSON: {0}")]
    Malformed(String),
    /// The signature does not verify under the key given.
    #[error("signature does not verify")]
    BadSignature,
    /// Signed by a key id no known public key has.
    #[error("manifest signed with unknown key {0}")]
    UnknownKey(String),
    /// The chain is broken at `seq`: a gap, a wrong link or a bad signature, as `why` says.
    #[error("chain broken at seq {seq}: {why}")]
    BrokenChain {
        /// The `seq` of the manifest or checkpoint where the walk stopped.
        seq: u64,
        /// What is wrong there.
        why: String,
    },
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

/// What a signed record (manifest or checkpoint) signs: its canonical JSON without `sig`.
fn unsigned_canonical<T: Serialize>(record: &T) -> String {
    let mut v = serde_json::to_value(record).unwrap_or(Value::Null);
    if let Some(o) = v.as_object_mut() {
        o.remove("sig");
    }
    canonical(&v)
}

/// `(key_id, base64 signature)` of `bytes`.
fn sign_bytes(key: &SigningKey, bytes: &str) -> (String, String) {
    let sig = key.sign(bytes.as_bytes());
    (key_id(&key.verifying_key()), base64_simd::STANDARD.encode_to_string(sig.to_bytes()))
}

fn check_signature(key: &VerifyingKey, sig_b64: &str, bytes: &str) -> Result<(), VerifyError> {
    let raw = base64_simd::STANDARD.decode_to_vec(sig_b64).map_err(|_| VerifyError::BadSignature)?;
    let sig = Signature::from_slice(&raw).map_err(|_| VerifyError::BadSignature)?;
    key.verify(bytes.as_bytes(), &sig).map_err(|_| VerifyError::BadSignature)
}

impl Checkpoint {
    /// Sets `key_id` and `sig`.
    pub fn sign(&mut self, key: &SigningKey) {
        self.key_id = key_id(&key.verifying_key());
        (self.key_id, self.sig) = sign_bytes(key, &unsigned_canonical(self));
    }

    /// Checks the signature against `key`.
    pub fn verify(&self, key: &VerifyingKey) -> Result<(), VerifyError> {
        check_signature(key, &self.sig, &unsigned_canonical(self))
    }
}

impl TreeHead {
    /// Sets `key_id` and `sig`.
    pub fn sign(&mut self, key: &SigningKey) {
        self.key_id = key_id(&key.verifying_key());
        (self.key_id, self.sig) = sign_bytes(key, &unsigned_canonical(self));
    }

    /// Checks the signature against `key`.
    pub fn verify(&self, key: &VerifyingKey) -> Result<(), VerifyError> {
        check_signature(key, &self.sig, &unsigned_canonical(self))
    }
}

impl Manifest {
    /// Sets `key_id` and `sig`.
    pub fn sign(&mut self, key: &SigningKey) {
        self.key_id = key_id(&key.verifying_key());
        (self.key_id, self.sig) = sign_bytes(key, &self.signed_bytes());
    }

    /// Checks the signature against `key`.
    pub fn verify(&self, key: &VerifyingKey) -> Result<(), VerifyError> {
        check_signature(key, &self.sig, &self.signed_bytes())
    }

    /// Reads a manifest from its JSON, without checking its signature.
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

/// Walks a tenant's chain in order, page by page: consecutive `seq`, each `prev` the hash
/// of the one before, each signature valid under a key that `key_for` knows; a pruned run
/// is crossed by its checkpoint, itself signed and linked at both ends.
pub struct ChainWalk<F> {
    /// The `seq` the next manifest (or checkpoint's first) must have.
    pub next_seq: u64,
    /// The hash the next manifest's (or checkpoint's) `prev` must be: the last manifest's, or a checkpoint's `last_hash`.
    pub prev: String,
    /// Manifests verified so far.
    pub manifests: u64,
    /// Manifests crossed by checkpoints (pruned) so far.
    pub pruned: u64,
    key_for: F,
}

impl<F: Fn(&str) -> Option<VerifyingKey>> ChainWalk<F> {
    /// A walk from `start` (1 for a whole chain), whose first `prev` must be `start_prev`.
    pub fn new(start: u64, start_prev: &str, key_for: F) -> Self {
        Self { next_seq: start, prev: start_prev.to_owned(), manifests: 0, pruned: 0, key_for }
    }

    fn broken(seq: u64, why: impl Into<String>) -> VerifyError {
        VerifyError::BrokenChain { seq, why: why.into() }
    }

    /// Checks the next manifest: its `seq`, its link to the previous one and its signature.
    pub fn manifest(&mut self, m: &Manifest) -> Result<(), VerifyError> {
        if m.seq != self.next_seq {
            return Err(Self::broken(m.seq, format!("expected seq {}", self.next_seq)));
        }
        if m.prev != self.prev {
            return Err(Self::broken(m.seq, "prev does not match the previous manifest"));
        }
        let key = (self.key_for)(&m.key_id).ok_or_else(|| VerifyError::UnknownKey(m.key_id.clone()))?;
        m.verify(&key).map_err(|_| Self::broken(m.seq, "signature does not verify"))?;
        self.prev = m.hash();
        self.next_seq += 1;
        self.manifests += 1;
        Ok(())
    }

    /// Crosses a pruned run with its checkpoint: it must start at the next `seq`, follow the previous link and be signed.
    pub fn checkpoint(&mut self, c: &Checkpoint) -> Result<(), VerifyError> {
        if c.first_seq != self.next_seq || c.last_seq < c.first_seq {
            return Err(Self::broken(c.first_seq, format!("checkpoint of {}..={} where seq {} was expected", c.first_seq, c.last_seq, self.next_seq)));
        }
        if c.first_prev != self.prev {
            return Err(Self::broken(c.first_seq, "checkpoint does not follow the previous manifest"));
        }
        let key = (self.key_for)(&c.key_id).ok_or_else(|| VerifyError::UnknownKey(c.key_id.clone()))?;
        c.verify(&key).map_err(|_| Self::broken(c.first_seq, "checkpoint signature does not verify"))?;
        self.prev.clone_from(&c.last_hash);
        self.pruned += c.last_seq - c.first_seq + 1;
        self.next_seq = c.last_seq + 1;
        Ok(())
    }

    /// Walks `manifests` (in order), crossing gaps with `checkpoints`, including a pruned
    /// run after the last manifest.
    pub fn walk<'a>(&mut self, manifests: impl IntoIterator<Item = &'a Manifest>, checkpoints: &[Checkpoint]) -> Result<(), VerifyError> {
        let cross = |walk: &mut Self| -> Result<(), VerifyError> {
            while let Some(c) = checkpoints.iter().find(|c| c.first_seq == walk.next_seq) {
                walk.checkpoint(c)?;
            }
            Ok(())
        };
        for m in manifests {
            cross(self)?;
            self.manifest(m)?;
        }
        cross(self)
    }
}

/// Checks a tenant's chain from `start` (see [`ChainWalk`]); returns how many manifests.
pub fn verify_chain<'a>(
    manifests: impl IntoIterator<Item = &'a Manifest>,
    checkpoints: &[Checkpoint],
    start: u64,
    start_prev: &str,
    key_for: impl Fn(&str) -> Option<VerifyingKey>,
) -> Result<u64, VerifyError> {
    let mut walk = ChainWalk::new(start, start_prev, key_for);
    walk.walk(manifests, checkpoints)?;
    Ok(walk.manifests)
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
            version_id: String::new(),
            encryption: String::new(),
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
    fn manifest_json_is_the_canonical_form_of_its_value() {
        let mut m = manifest(7, "ab");
        m.key = "dir/ü \"quoted\" \\ \u{1} \u{7f} 🦀".into();
        m.content_type = "text/plain; charset=\"utf-8\"".into();
        m.size = u64::MAX;
        m.sign(&key(9));
        let value = serde_json::to_value(&m).unwrap();
        assert_eq!(m.canonical_json(), canonical(&value));
        assert_eq!(m.signed_bytes(), unsigned_canonical(&m));
        assert_eq!(Manifest::parse(m.canonical_json().as_bytes()).unwrap(), m);
    }

    /// A manifest signed before manifests had `version_id` (signed outside tollgate, with
    /// the seed [7; 32]): it still parses, keeps its exact canonical JSON (so its hash, the
    /// next one's `prev`, is unchanged) and verifies.
    #[test]
    fn a_manifest_from_before_version_ids_keeps_its_form_and_verifies() {
        let old = r#"{"bucket":"b","content_type":"text/plain","created":"2026-01-01T00:00:00Z","etag":"e","id":"aaaaaaaaaaaaaaaaaaaaaaaaaa","key":"k","key_id":"fe812c12f3ab4ce6","op":"put","prev":"","principal":"sha256:00","seq":1,"sha256":"ab","sig":"jYav3pxZUw4Su/Sq68nEnjcsJ3sU8TH25XrLSr52T+5+PMauxgGscDnDK2yDxqfaMZUdaDhOOEuEOiA6vdSiCw==","size":3,"tenant":"t","v":1}"#;
        let m = Manifest::parse(old.as_bytes()).unwrap();
        assert_eq!(m.version_id, "");
        assert_eq!(m.canonical_json(), old);
        assert_eq!(serde_json::to_string(&m).unwrap().len(), old.len(), "no version_id written when empty");
        let pk = parse_public_key("6kpsY+KcUgq+9VB7Ey7F+ZVHdq6+vnuSQh7qaRRG0iw=").unwrap();
        assert_eq!(key_id(&pk), m.key_id);
        m.verify(&pk).unwrap();
    }

    #[test]
    fn the_version_id_is_signed() {
        let k = key(6);
        let mut m = manifest(1, "");
        m.version_id = "00000000000000070123456789abcdef".into();
        m.sign(&k);
        assert!(m.signed_bytes().ends_with(r#","v":1,"version_id":"00000000000000070123456789abcdef"}"#), "{}", m.signed_bytes());
        assert_eq!(m.canonical_json(), canonical(&serde_json::to_value(&m).unwrap()));
        let back = Manifest::parse(m.canonical_json().as_bytes()).unwrap();
        assert_eq!(back, m);
        back.verify(&k.verifying_key()).unwrap();
        // Another version's id, or none, breaks the signature.
        let mut edited = m.clone();
        edited.version_id = "null".into();
        assert_eq!(edited.verify(&k.verifying_key()), Err(VerifyError::BadSignature));
        edited.version_id.clear();
        assert_eq!(edited.verify(&k.verifying_key()), Err(VerifyError::BadSignature));
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
        assert_eq!(verify_chain(&c, &[], 1, "", keys).unwrap(), 5);

        let mut deleted = c.clone();
        deleted.remove(2);
        assert!(matches!(verify_chain(&deleted, &[], 1, "", keys), Err(VerifyError::BrokenChain { seq: 4, .. })));

        let mut reordered = c.clone();
        reordered.swap(1, 2);
        assert!(verify_chain(&reordered, &[], 1, "", keys).is_err());

        let mut edited = c.clone();
        edited[3].size = 99;
        assert!(matches!(verify_chain(&edited, &[], 1, "", keys), Err(VerifyError::BrokenChain { seq: 4, .. })));

        // Re-signing an edited manifest still breaks the link to the next one.
        let mut resigned = c.clone();
        resigned[1].size = 99;
        resigned[1].sign(&k);
        assert!(matches!(verify_chain(&resigned, &[], 1, "", keys), Err(VerifyError::BrokenChain { seq: 3, .. })));

        // A suffix verifies from a checkpoint (seq and hash of the last pruned one).
        assert_eq!(verify_chain(&c[2..], &[], 3, &c[1].hash(), keys).unwrap(), 3);
    }

    fn checkpoint(c: &[Manifest], first: usize, last: usize, k: &SigningKey) -> Checkpoint {
        let mut cp = Checkpoint {
            v: VERSION,
            tenant: "t".into(),
            first_seq: c[first].seq,
            last_seq: c[last].seq,
            first_prev: c[first].prev.clone(),
            last_hash: c[last].hash(),
            created: "2026-01-01T00:00:00Z".into(),
            key_id: String::new(),
            sig: String::new(),
        };
        cp.sign(k);
        cp
    }

    #[test]
    fn checkpoints_bridge_pruned_runs_and_are_checked_like_manifests() {
        let k = key(4);
        let pk = k.verifying_key();
        let keys = |id: &str| (id == key_id(&pk)).then_some(pk);
        let c = chain(8, &k);
        // Prune seq 2..=3 and 7..=8 (a trailing run): manifests 1, 4, 5, 6 remain.
        let kept: Vec<Manifest> = [0, 3, 4, 5].iter().map(|&i| c[i].clone()).collect();
        let cps = [checkpoint(&c, 1, 2, &k), checkpoint(&c, 6, 7, &k)];
        let mut walk = ChainWalk::new(1, "", keys);
        walk.walk(&kept, &cps).unwrap();
        assert_eq!((walk.manifests, walk.pruned, walk.next_seq), (4, 4, 9));
        // The whole chain pruned is still a chain.
        assert_eq!(verify_chain([], &[checkpoint(&c, 0, 7, &k)], 1, "", keys).unwrap(), 0);

        // Without the checkpoint the gap is found.
        assert!(matches!(verify_chain(&kept, &cps[1..], 1, "", keys), Err(VerifyError::BrokenChain { seq: 4, .. })));
        // A forged checkpoint (edited, or signed by another key) is refused.
        let mut forged = cps.clone();
        forged[0].last_seq = 4;
        assert!(verify_chain(&kept, &forged, 1, "", keys).is_err());
        let mut other = cps.clone();
        other[0] = checkpoint(&c, 1, 2, &key(5));
        assert!(verify_chain(&kept, &other, 1, "", keys).is_err());
        // A checkpoint that hides an edited manifest does not link.
        let mut edited = c.clone();
        edited[1].size = 99;
        edited[1].sign(&k);
        let lying = [checkpoint(&edited, 1, 1, &k), checkpoint(&c, 2, 2, &k)];
        let kept: Vec<Manifest> = [0, 3].iter().map(|&i| c[i].clone()).collect();
        assert!(matches!(verify_chain(&kept, &lying, 1, "", keys), Err(VerifyError::BrokenChain { seq: 3, .. })));
    }

    #[test]
    fn ids_are_128_bit_and_distinct() {
        let a = new_id();
        assert_eq!(a.len(), 26);
        assert_ne!(a, new_id());
    }
}

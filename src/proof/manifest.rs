//! Proof manifests: canonical JSON, Ed25519 signatures, the per-tenant hash chain and the
//! proofs of inclusion in a tenant's signed log. Everything here is pure, so a third party
//! can check a manifest offline with only the public key (`tollgate proof verify`).

use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use serde::Serialize;
use serde_json::Value;
use sha2::Digest as _;

use crate::meta::merkle;
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
    /// A logged manifest has no signature of its own: its inclusion in a signed tree head
    /// ([`verify_inclusion`]) proves it.
    #[error("the manifest is not signed on its own: it is proved by its inclusion in its tenant's signed log")]
    Logged,
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
    /// Sets `key_id` and `sig`, as the gateway did before its log proved manifests.
    #[cfg(test)]
    pub fn sign(&mut self, key: &SigningKey) {
        self.key_id = key_id(&key.verifying_key());
        (self.key_id, self.sig) = sign_bytes(key, &self.signed_bytes());
    }

    /// Checks the manifest's own signature against `key` (a logged manifest has none:
    /// [`VerifyError::Logged`]).
    pub fn verify(&self, key: &VerifyingKey) -> Result<(), VerifyError> {
        if self.logged() {
            return Err(VerifyError::Logged);
        }
        check_signature(key, &self.sig, &self.signed_bytes())
    }

    /// Reads a manifest from its JSON, without checking its signature.
    pub fn parse(json: &[u8]) -> Result<Self, VerifyError> {
        serde_json::from_slice(json).map_err(|e| VerifyError::Malformed(e.to_string()))
    }
}

/// The public key published under `id` among `keys` (id, base64 key), as the proof API
/// and the mirror list them.
pub fn published_key(keys: &[(String, String)], id: &str) -> Option<VerifyingKey> {
    keys.iter().find(|(k, _)| k == id).and_then(|(_, pk)| parse_public_key(pk))
}

/// Parses a public key given as base64 or hex.
pub fn parse_public_key(s: &str) -> Option<VerifyingKey> {
    let s = s.trim();
    let raw = base64_simd::STANDARD.decode_to_vec(s).ok().filter(|r| r.len() == 32).or_else(|| hex_simd::decode_to_vec(s).ok())?;
    VerifyingKey::from_bytes(&raw.try_into().ok()?).ok()
}

fn broken(seq: u64, why: impl Into<String>) -> VerifyError {
    VerifyError::BrokenChain { seq, why: why.into() }
}

/// Hex hashes, as proofs are served, to hashes.
pub fn parse_hashes(hex: &[String]) -> Result<Vec<merkle::Hash>, String> {
    hex.iter().map(|h| merkle::from_hex(h).ok_or_else(|| format!("{h} is not a SHA-256 in hex"))).collect()
}

/// Checks a signed tree head against `key`: signed by it, and its root a hash.
pub fn verify_head(head: &TreeHead, key: &VerifyingKey) -> Result<merkle::Hash, String> {
    if key_id(key) != head.key_id {
        return Err(format!("the tree head of {} was signed with key {}, not {}", head.tenant, head.key_id, key_id(key)));
    }
    head.verify(key).map_err(|_| format!("the tree head of {} ({} leaves) has a bad signature", head.tenant, head.tree_size))?;
    merkle::from_hex(&head.root_hash).ok_or_else(|| format!("the tree head's root {} is not a SHA-256", head.root_hash))
}

/// Checks that `m` (its canonical JSON as the leaf) is leaf `leaf_index` of the tree `head`
/// names, by the inclusion proof `path` (hex, bottom up), `head` being of `m`'s tenant and
/// signed by `key`: what proves a logged manifest.
pub fn verify_inclusion(m: &Manifest, leaf_index: u64, path: &[String], head: &TreeHead, key: &VerifyingKey) -> Result<(), String> {
    let root = verify_head(head, key)?;
    if head.tenant != m.tenant {
        return Err(format!("the tree head is of tenant {}, the manifest of {}", head.tenant, m.tenant));
    }
    let leaf = merkle::leaf_hash(m.canonical_json().as_bytes());
    merkle::verify_inclusion(&leaf, leaf_index, head.tree_size, &parse_hashes(path)?, &root)
        .map_err(|e| format!("the manifest is not leaf {leaf_index} of the signed tree of {} leaves: {e}", head.tree_size))
}

/// Walks a tenant's chain in order, page by page: consecutive `seq`, each `prev` the hash
/// of the one before, each signature valid under a key that `key_for` knows; a pruned run
/// is crossed by its checkpoint, itself signed and linked at both ends. Logged manifests
/// have no signature to check: the next signed manifest or checkpoint vouches for them
/// through its `prev` link, and if none follows, the walker must prove the last one's
/// inclusion in a signed tree head ([`ChainWalk::unvouched`]), which vouches for them all.
pub struct ChainWalk<F> {
    /// The `seq` the next manifest (or checkpoint's first) must have.
    pub next_seq: u64,
    /// The hash the next manifest's (or checkpoint's) `prev` must be: the last manifest's, or a checkpoint's `last_hash`.
    pub prev: String,
    /// Manifests verified so far.
    pub manifests: u64,
    /// Manifests crossed by checkpoints (pruned) so far.
    pub pruned: u64,
    /// The last manifest walked, with how many logged manifests up to it no signature has
    /// vouched for yet.
    unvouched: Option<(Manifest, u64)>,
    key_for: F,
}

impl<F: Fn(&str) -> Option<VerifyingKey>> ChainWalk<F> {
    /// A walk from `start` (1 for a whole chain), whose first `prev` must be `start_prev`.
    pub fn new(start: u64, start_prev: &str, key_for: F) -> Self {
        Self { next_seq: start, prev: start_prev.to_owned(), manifests: 0, pruned: 0, unvouched: None, key_for }
    }

    /// Checks the next manifest: its `seq`, its link to the previous one and its signature.
    pub fn manifest(&mut self, m: &Manifest) -> Result<(), VerifyError> {
        if m.seq != self.next_seq {
            return Err(broken(m.seq, format!("expected seq {}", self.next_seq)));
        }
        if m.prev != self.prev {
            return Err(broken(m.seq, "prev does not match the previous manifest"));
        }
        if m.logged() {
            let run = self.unvouched.take().map_or(0, |(_, n)| n);
            self.unvouched = Some((m.clone(), run + 1));
        } else {
            let key = (self.key_for)(&m.key_id).ok_or_else(|| VerifyError::UnknownKey(m.key_id.clone()))?;
            m.verify(&key).map_err(|_| broken(m.seq, "signature does not verify"))?;
            self.unvouched = None;
        }
        self.prev = m.hash();
        self.next_seq += 1;
        self.manifests += 1;
        Ok(())
    }

    /// Crosses a pruned run with its checkpoint: it must start at the next `seq`, follow the previous link and be signed.
    pub fn checkpoint(&mut self, c: &Checkpoint) -> Result<(), VerifyError> {
        if c.first_seq != self.next_seq || c.last_seq < c.first_seq {
            return Err(broken(c.first_seq, format!("checkpoint of {}..={} where seq {} was expected", c.first_seq, c.last_seq, self.next_seq)));
        }
        if c.first_prev != self.prev {
            return Err(broken(c.first_seq, "checkpoint does not follow the previous manifest"));
        }
        let key = (self.key_for)(&c.key_id).ok_or_else(|| VerifyError::UnknownKey(c.key_id.clone()))?;
        c.verify(&key).map_err(|_| broken(c.first_seq, "checkpoint signature does not verify"))?;
        self.unvouched = None;
        self.prev.clone_from(&c.last_hash);
        self.pruned += c.last_seq - c.first_seq + 1;
        self.next_seq = c.last_seq + 1;
        Ok(())
    }

    /// The last manifest walked, and how many logged manifests up to it (itself included)
    /// no signature vouches for yet; none if every manifest walked is vouched for. Its
    /// inclusion in a signed tree head ([`verify_inclusion`]) proves it and, through the
    /// `prev` links, all of them.
    #[must_use]
    pub fn unvouched(&self) -> Option<(&Manifest, u64)> {
        self.unvouched.as_ref().map(|(m, n)| (m, *n))
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
/// Logged manifests at its end, which only an inclusion proof vouches for, are refused.
pub fn verify_chain<'a>(
    manifests: impl IntoIterator<Item = &'a Manifest>,
    checkpoints: &[Checkpoint],
    start: u64,
    start_prev: &str,
    key_for: impl Fn(&str) -> Option<VerifyingKey>,
) -> Result<u64, VerifyError> {
    let mut walk = ChainWalk::new(start, start_prev, key_for);
    walk.walk(manifests, checkpoints)?;
    if let Some((m, _)) = walk.unvouched() {
        return Err(broken(m.seq, "logged manifests that no signature vouches for: prove the last one's inclusion"));
    }
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

    /// Two manifests signed before the log, then three logged ones, and the log over them
    /// (its genesis leaf first, as a tenant's log starts) with a head signed by `k`.
    fn logged_chain(k: &SigningKey) -> (Vec<Manifest>, Vec<merkle::Hash>, TreeHead) {
        let mut c = chain(2, k);
        for seq in 3..=5 {
            let mut m = manifest(seq, &c[c.len() - 1].hash());
            (m.v, m.key_id) = (crate::meta::LOGGED_MANIFEST_VERSION, key_id(&k.verifying_key()));
            c.push(m);
        }
        let genesis = crate::meta::genesis_leaf("t", &crate::meta::ChainHead::default());
        let leaves: Vec<merkle::Hash> =
            std::iter::once(merkle::leaf_hash(genesis.as_bytes())).chain(c.iter().map(|m| merkle::leaf_hash(m.canonical_json().as_bytes()))).collect();
        let mut head = TreeHead {
            v: VERSION,
            tenant: "t".into(),
            tree_size: leaves.len() as u64,
            root_hash: merkle::to_hex(&merkle::naive_root(&leaves)),
            created: "2026-01-01T00:00:00Z".into(),
            key_id: String::new(),
            sig: String::new(),
        };
        head.sign(k);
        (c, leaves, head)
    }

    #[test]
    fn logged_manifests_are_vouched_for_by_what_follows_them_or_by_their_inclusion() {
        let k = key(5);
        let pk = k.verifying_key();
        let keys = |id: &str| (id == key_id(&pk)).then_some(pk);
        let (c, leaves, head) = logged_chain(&k);
        assert_eq!(c[4].verify(&pk), Err(VerifyError::Logged), "no signature of its own to check");

        // The walk takes their links and leaves the last three to be proved by inclusion.
        let mut walk = ChainWalk::new(1, "", keys);
        walk.walk(&c, &[]).unwrap();
        let (last, n) = walk.unvouched().unwrap();
        assert_eq!((last.seq, n, walk.manifests), (5, 3, 5));
        assert!(matches!(verify_chain(&c, &[], 1, "", keys), Err(VerifyError::BrokenChain { seq: 5, .. })), "not proved by a signature alone");
        let path =
            |leaf: u64| -> Vec<String> { merkle::inclusion_proof(leaves.as_slice(), leaf, head.tree_size).unwrap().iter().map(merkle::to_hex).collect() };
        verify_inclusion(last, 5, &path(5), &head, &pk).unwrap();
        // A signed checkpoint after them vouches for them through its link.
        assert_eq!(verify_chain(&c[..3], &[checkpoint(&c, 3, 4, &k)], 1, "", keys).unwrap(), 3);

        // An edit of a logged manifest breaks the link after it, or (the last) its inclusion.
        let mut edited = c.clone();
        edited[2].size = 9;
        assert!(matches!(verify_chain(&edited, &[], 1, "", keys), Err(VerifyError::BrokenChain { seq: 4, .. })));
        assert!(verify_inclusion(&Manifest { size: 9, ..c[4].clone() }, 5, &path(5), &head, &pk).unwrap_err().contains("not leaf 5"));
        // Every leaf's proof verifies, at its own index only, under the head's key only.
        for (i, m) in c.iter().enumerate() {
            let leaf = i as u64 + 1;
            verify_inclusion(m, leaf, &path(leaf), &head, &pk).unwrap();
            assert!(verify_inclusion(m, leaf, &path(leaf), &head, &key(6).verifying_key()).unwrap_err().contains("signed with key"));
            assert!(verify_inclusion(m, leaf ^ 1, &path(leaf), &head, &pk).is_err());
        }
        let mut forged_head = head.clone();
        forged_head.tree_size -= 1;
        assert!(verify_inclusion(&c[0], 1, &path(1), &forged_head, &pk).unwrap_err().contains("bad signature"));
        let other_tenant = Manifest { tenant: "u".into(), ..c[4].clone() };
        assert!(verify_inclusion(&other_tenant, 5, &path(5), &head, &pk).unwrap_err().contains("tenant"));

        // A manifest signed before the log cannot pass as logged: stripped of its signature
        // it fails it; relabelled as logged it no longer hashes to the next one's link.
        let mut stripped = c.clone();
        stripped[1].sig.clear();
        assert!(matches!(verify_chain(&stripped, &[], 1, "", keys), Err(VerifyError::BrokenChain { seq: 2, .. })));
        stripped[1].v = crate::meta::LOGGED_MANIFEST_VERSION;
        assert!(matches!(verify_chain(&stripped, &[], 1, "", keys), Err(VerifyError::BrokenChain { seq: 3, .. })));
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

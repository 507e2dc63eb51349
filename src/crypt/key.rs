//! Data keys, key-encryption keys and the SSE-C key digest.

use std::fmt;

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use super::CryptError;

/// Length in bytes of a wrapped data key: nonce (12) || encrypted key (32) || tag (16).
pub const WRAPPED_LEN: usize = NONCE_LEN + 32 + 16;

/// Fills `buf` from the system CSPRNG.
pub(crate) fn fill_random(buf: &mut [u8]) {
    // The OS generator failing is unrecoverable and must never degrade to weak keys.
    SystemRandom::new().fill(buf).expect("system random generator failed");
}

/// AES-256-GCM key for one cipher, built from raw key bytes.
pub(crate) fn aead_key(bytes: &[u8; 32]) -> LessSafeKey {
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, bytes).expect("32-byte AES-256 key"))
}

/// The per-object 256-bit data key that encrypts the object's frames. Zeroized on drop.
#[derive(Clone)]
pub struct DataKey(Zeroizing<[u8; 32]>);

impl DataKey {
    /// A fresh random data key.
    pub fn generate() -> DataKey {
        let mut k = Zeroizing::new([0u8; 32]);
        fill_random(&mut k[..]);
        DataKey(k)
    }

    /// A data key from raw bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> DataKey {
        DataKey(Zeroizing::new(bytes))
    }

    /// The raw key bytes.
    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(..)")
    }
}

/// A key-encryption key: wraps data keys. Zeroized on drop.
#[derive(Clone)]
pub struct Kek(Zeroizing<[u8; 32]>);

impl Kek {
    /// A KEK from raw bytes (a keyring key, or an SSE-C customer key).
    pub fn from_bytes(bytes: [u8; 32]) -> Kek {
        Kek(Zeroizing::new(bytes))
    }

    /// Derives a KEK from the gateway master key: HMAC-SHA256(master, "tollgate kek v1\0" || label).
    pub fn derive(master: &[u8], label: &str) -> Kek {
        let mut ctx = hmac::Context::with_key(&hmac::Key::new(hmac::HMAC_SHA256, master));
        ctx.update(b"tollgate kek v1\0");
        ctx.update(label.as_bytes());
        let mut k = Zeroizing::new([0u8; 32]);
        k.copy_from_slice(ctx.sign().as_ref());
        Kek(k)
    }

    /// Key material derived from this key for `label`: the same wherever this key is.
    #[must_use]
    pub fn derive_key(&self, label: &str) -> DataKey {
        let mut ctx = hmac::Context::with_key(&hmac::Key::new(hmac::HMAC_SHA256, &self.0[..]));
        ctx.update(b"tollgate derived key v1\0");
        ctx.update(label.as_bytes());
        let mut k = [0u8; 32];
        k.copy_from_slice(ctx.sign().as_ref());
        DataKey::from_bytes(k)
    }

    /// [`key_digest`] keyed by this key: recognises an SSE-C key without storing it.
    pub fn digest_of(&self, customer_key: &[u8]) -> String {
        key_digest(&self.0[..], customer_key)
    }

    /// Wraps `dk` bound to `context` (the AAD): random nonce (12) || AES-256-GCM(dk) (32) || tag (16).
    pub fn wrap(&self, dk: &DataKey, context: &[u8]) -> Vec<u8> {
        let mut out = vec![0u8; WRAPPED_LEN];
        fill_random(&mut out[..NONCE_LEN]);
        let nonce = Nonce::try_assume_unique_for_key(&out[..NONCE_LEN]).expect("12-byte nonce");
        let (body, tag) = out[NONCE_LEN..].split_at_mut(32);
        body.copy_from_slice(dk.bytes());
        let t = aead_key(&self.0).seal_in_place_separate_tag(nonce, Aad::from(context), body).expect("32-byte input fits");
        tag.copy_from_slice(t.as_ref());
        out
    }

    /// Unwraps a key made by [`Kek::wrap`]; fails on a wrong KEK, wrong context or malformed input.
    pub fn unwrap(&self, wrapped: &[u8], context: &[u8]) -> Result<DataKey, CryptError> {
        if wrapped.len() != WRAPPED_LEN {
            return Err(CryptError::Unwrap);
        }
        let nonce = Nonce::try_assume_unique_for_key(&wrapped[..NONCE_LEN]).map_err(|_| CryptError::Unwrap)?;
        let mut buf = Zeroizing::new([0u8; 48]);
        buf.copy_from_slice(&wrapped[NONCE_LEN..]);
        let plain = aead_key(&self.0).open_in_place(nonce, Aad::from(context), &mut buf[..]).map_err(|_| CryptError::Unwrap)?;
        let mut k = [0u8; 32];
        k.copy_from_slice(plain);
        Ok(DataKey::from_bytes(k))
    }
}

impl fmt::Debug for Kek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Kek(..)")
    }
}

/// Lowercase hex of HMAC-SHA256(master, "tollgate sse-c v1\0" || customer_key): recognises an SSE-C key
/// on later requests without storing the key itself.
pub fn key_digest(master: &[u8], customer_key: &[u8]) -> String {
    let mut ctx = hmac::Context::with_key(&hmac::Key::new(hmac::HMAC_SHA256, master));
    ctx.update(b"tollgate sse-c v1\0");
    ctx.update(customer_key);
    hex(ctx.sign().as_ref())
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derive_kat() {
        // python3: hmac.new(b'master secret', b'tollgate kek v1\x00' + b'gateway', hashlib.sha256).hexdigest()
        let k = Kek::derive(b"master secret", "gateway");
        assert_eq!(hex(&k.0[..]), "efc02790575ae446a3a478e74a0baeccddd8e0ba99815aaab9e98dc00f175e17");
        assert_ne!(hex(&Kek::derive(b"master secret", "other").0[..]), hex(&k.0[..]));
    }

    #[test]
    fn key_digest_kat() {
        let ck: Vec<u8> = (0u8..32).collect();
        assert_eq!(key_digest(b"master secret", &ck), "f80fac5364349723684115d406e2b9184fa5232d0a200760fdbe628d97fd7ea0");
    }

    #[test]
    fn wrap_unwrap() {
        let kek = Kek::from_bytes([7; 32]);
        let dk = DataKey::generate();
        let w = kek.wrap(&dk, b"bucket/key");
        assert_eq!(w.len(), 60);
        assert_ne!(kek.wrap(&dk, b"bucket/key"), w, "fresh nonce per wrap");
        assert_eq!(kek.unwrap(&w, b"bucket/key").unwrap().bytes(), dk.bytes());
        assert!(matches!(kek.unwrap(&w, b"bucket/other"), Err(CryptError::Unwrap)));
        assert!(matches!(Kek::from_bytes([8; 32]).unwrap(&w, b"bucket/key"), Err(CryptError::Unwrap)));
        assert!(matches!(kek.unwrap(&w[..59], b"bucket/key"), Err(CryptError::Unwrap)));
        let mut bad = w.clone();
        bad[20] ^= 1;
        assert!(matches!(kek.unwrap(&bad, b"bucket/key"), Err(CryptError::Unwrap)));
    }

    #[test]
    fn debug_is_redacted() {
        assert_eq!(format!("{:?}", DataKey::from_bytes([1; 32])), "DataKey(..)");
        assert_eq!(format!("{:?}", Kek::from_bytes([1; 32])), "Kek(..)");
    }

    #[test]
    fn generate_differs() {
        assert_ne!(DataKey::generate().bytes(), DataKey::generate().bytes());
    }
}

//! Access keys and their secrets.

use super::{Principal, ROOT_TENANT};

use std::collections::HashMap;
use std::fmt;
use std::sync::RwLock;

use s3s::S3Result;
use s3s::auth::{S3Auth, SecretKey};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// A secret access key: never printed (Debug is redacted), wiped from memory on drop,
/// compared in constant time.
#[derive(Clone)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    #[must_use]
    pub fn new(s: impl Into<String>) -> Self {
        Self(Zeroizing::new(s.into()))
    }

    /// The secret itself, for signing and signature checks only.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// A fresh random secret: 40 characters of base64 (240 bits).
    #[must_use]
    pub fn generate() -> Self {
        let mut b = Zeroizing::new([0u8; 30]);
        getrandom::fill(b.as_mut()).expect("the OS random source is available");
        Self::new(base64_simd::STANDARD.encode_to_string(b.as_ref()))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl Eq for Secret {}

/// A fresh access key id: `TG` and 18 upper-case base32 characters.
#[must_use]
pub fn generate_access_key() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut b = [0u8; 18];
    getrandom::fill(&mut b).expect("the OS random source is available");
    let mut s = String::from("TG");
    s.extend(b.iter().map(|x| ALPHABET[usize::from(x % 32)] as char));
    s
}

struct KeyEntry {
    secret: Secret,
    principal: Principal,
}

/// The access keys the gateway accepts, resolving a key id to its secret (for s3s's
/// signature check) and to the principal it acts for.
#[derive(Default)]
pub struct KeyStore {
    keys: RwLock<HashMap<String, KeyEntry>>,
}

impl KeyStore {
    /// A store holding only the root key.
    #[must_use]
    pub fn with_root(access_key: &str, secret: Secret) -> Self {
        let store = Self::default();
        let principal = Principal {
            tenant: ROOT_TENANT.to_owned(),
            user: "root".to_owned(),
            access_key: access_key.to_owned(),
            root: true,
        };
        store
            .keys
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(access_key.to_owned(), KeyEntry { secret, principal });
        store
    }

    /// The principal acting with `access_key`, if the key is known.
    #[must_use]
    pub fn principal(&self, access_key: &str) -> Option<Principal> {
        let keys = self.keys.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        keys.get(access_key).map(|e| e.principal.clone())
    }
}

#[async_trait::async_trait]
impl S3Auth for KeyStore {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        let keys = self.keys.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        match keys.get(access_key) {
            Some(e) => Ok(SecretKey::from(e.secret.expose())),
            None => Err(s3s::s3_error!(InvalidAccessKeyId, "The AWS Access Key Id you provided does not exist in our records.")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_and_compared_by_value() {
        let s = Secret::new("wJalrXUtnFEMI");
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
        assert_eq!(s, Secret::new("wJalrXUtnFEMI"));
        assert_ne!(s, Secret::new("wJalrXUtnFEMJ"));
        assert_ne!(Secret::generate(), Secret::generate());
        assert_eq!(Secret::generate().expose().len(), 40);
    }

    #[test]
    fn access_keys_look_like_aws_ones() {
        let k = generate_access_key();
        assert_eq!(k.len(), 20);
        assert!(k.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()));
    }

    #[tokio::test]
    async fn unknown_keys_are_invalid_access_key_id() {
        let ks = KeyStore::with_root("ROOT", Secret::new("s"));
        assert_eq!(ks.get_secret_key("ROOT").await.unwrap().expose(), "s");
        let err = ks.get_secret_key("NOPE").await.unwrap_err();
        assert_eq!(*err.code(), s3s::S3ErrorCode::InvalidAccessKeyId);
        assert!(ks.principal("ROOT").unwrap().root);
    }
}

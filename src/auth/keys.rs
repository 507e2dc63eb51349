//! Access keys and their secrets.

use super::{Identity, MasterKey, Principal, ROOT_TENANT};
use crate::meta::{self, Applied, ControlChange, ControlListener, KeyRecord, Role, Store};

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, RwLock};

use s3s::S3Result;
use s3s::auth::{S3Auth, SecretKey};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// A secret access key: never printed (Debug is redacted), wiped from memory on drop,
/// compared in constant time.
#[derive(Clone)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a secret read from configuration, a request or the unsealed store.
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
    identity: Identity,
    /// When `last_used` was last written to the store (it is persisted at most once a minute).
    persisted_ns: i128,
}

/// A key just created: the only time its secret is shown.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NewKey {
    /// The access key ID clients send in their signatures.
    pub access_key: String,
    /// The secret, in clear: stored sealed, it cannot be read back later.
    pub secret_key: String,
    /// The tenant whose buckets the key acts on.
    pub tenant: String,
    /// The user, within that tenant, the key belongs to.
    pub user: String,
}

/// How often the last-used time of a key is written back.
const LAST_USED_PERIOD_NS: i128 = 60_000_000_000;

/// The access keys the gateway accepts: the root key (from configuration) and the keys
/// of users, kept in the metadata store with sealed secrets and cached here, decrypted,
/// for the signature check. Changes are control-plane changes: the cache follows each
/// one applied (as a [`ControlListener`]), so a disabled or deleted key is refused at once.
pub struct KeyStore {
    store: Arc<dyn Store>,
    master: MasterKey,
    cache: RwLock<HashMap<String, KeyEntry>>,
}

fn poisoned<T>(e: std::sync::PoisonError<T>) -> T {
    e.into_inner()
}

impl KeyStore {
    /// Loads every enabled key of the store, and the root key.
    pub fn open(store: Arc<dyn Store>, master: MasterKey, root_key: &str, root_secret: Secret) -> Result<Self, meta::Error> {
        let ks = Self { store, master, cache: RwLock::new(HashMap::new()) };
        let root = Identity { tenant: ROOT_TENANT.to_owned(), user: "root".to_owned(), access_key: root_key.to_owned(), role: Role::Admin, root: true };
        ks.cache.write().unwrap_or_else(poisoned).insert(root_key.to_owned(), KeyEntry { secret: root_secret, identity: root, persisted_ns: i128::MAX });
        ks.load_stored()?;
        Ok(ks)
    }

    /// Takes in the enabled keys of the store that are not known yet (at start, and after
    /// a rebuild restored keys); returns how many.
    pub fn load_stored(&self) -> Result<usize, meta::Error> {
        let mut added = 0;
        for rec in self.store.key_list()? {
            if !rec.enabled || self.cache.read().unwrap_or_else(poisoned).contains_key(&rec.access_key) {
                continue;
            }
            if let Some(entry) = self.entry(&rec)? {
                self.cache.write().unwrap_or_else(poisoned).insert(rec.access_key.clone(), entry);
                added += 1;
            }
        }
        Ok(added)
    }

    fn entry(&self, rec: &KeyRecord) -> Result<Option<KeyEntry>, meta::Error> {
        let Some(user) = self.store.user_get(&rec.tenant, &rec.user)? else {
            return Ok(None);
        };
        let Some(secret) = self.master.open(&rec.secret_sealed) else {
            tracing::error!(access_key = %rec.access_key, "secret does not open with the master key; key disabled");
            return Ok(None);
        };
        let identity = Identity { tenant: rec.tenant.clone(), user: rec.user.clone(), access_key: rec.access_key.clone(), role: user.role, root: false };
        Ok(Some(KeyEntry { secret, identity, persisted_ns: rec.last_used_ns }))
    }

    /// The principal acting with `access_key`, if the key is known and enabled; records
    /// its use.
    #[must_use]
    pub fn principal(&self, access_key: &str) -> Option<Principal> {
        let now = crate::clock::now_ns();
        let (identity, stale) = {
            let cache = self.cache.read().unwrap_or_else(poisoned);
            let e = cache.get(access_key)?;
            (e.identity.clone(), now - e.persisted_ns > LAST_USED_PERIOD_NS)
        };
        if stale {
            self.persist_last_used(access_key, now);
        }
        Some(Principal::Key(identity))
    }

    fn persist_last_used(&self, access_key: &str, now: i128) {
        if let Some(e) = self.cache.write().unwrap_or_else(poisoned).get_mut(access_key) {
            e.persisted_ns = now;
        }
        match self.store.key_get(access_key) {
            Ok(Some(mut rec)) => {
                rec.last_used_ns = now;
                if let Err(e) = self.store.key_put(&rec, None) {
                    tracing::warn!(error = %e, "could not record key use");
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "could not record key use"),
        }
    }

    /// A new key for a user: its record (the secret sealed), to store as a
    /// [`ControlChange::KeyPut`], and what to show once.
    #[must_use]
    pub fn new_key(&self, tenant: &str, user: &str) -> (KeyRecord, NewKey) {
        let access_key = generate_access_key();
        let secret = Secret::generate();
        let rec = KeyRecord {
            access_key: access_key.clone(),
            tenant: tenant.to_owned(),
            user: user.to_owned(),
            secret_sealed: self.master.seal(&secret),
            enabled: true,
            created_ns: crate::clock::now_ns(),
            last_used_ns: 0,
        };
        (rec, NewKey { access_key, secret_key: secret.expose().to_owned(), tenant: tenant.to_owned(), user: user.to_owned() })
    }

    /// The stored record of a key (its secret sealed).
    pub fn get(&self, access_key: &str) -> Result<Option<KeyRecord>, meta::Error> {
        self.store.key_get(access_key)
    }

    /// Caches `rec` as it now is: enabled (its secret opened), or gone.
    fn follow(&self, rec: &KeyRecord) {
        let entry = if rec.enabled { self.entry(rec) } else { Ok(None) };
        let mut cache = self.cache.write().unwrap_or_else(poisoned);
        match entry {
            Ok(Some(entry)) => {
                cache.insert(rec.access_key.clone(), entry);
            }
            Ok(None) => {
                cache.remove(&rec.access_key);
            }
            Err(e) => {
                // Refused until the next change of the key: safer than a stale secret.
                cache.remove(&rec.access_key);
                tracing::error!(access_key = %rec.access_key, error = %e, "a changed key could not be read back; it is refused");
            }
        }
    }
}

impl ControlListener for KeyStore {
    fn applied(&self, change: &ControlChange, outcome: &Applied) {
        match (change, outcome) {
            (ControlChange::KeyPut { record }, _) => self.follow(record),
            (ControlChange::KeyDelete { access_key }, _) => {
                self.cache.write().unwrap_or_else(poisoned).remove(access_key);
            }
            (_, Applied::KeysDeleted(keys)) => {
                let mut cache = self.cache.write().unwrap_or_else(poisoned);
                for k in keys {
                    cache.remove(k);
                }
            }
            _ => {}
        }
    }
}

#[async_trait::async_trait]
impl S3Auth for KeyStore {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        let cache = self.cache.read().unwrap_or_else(poisoned);
        match cache.get(access_key) {
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
    async fn keys_are_sealed_cached_and_revoked_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(meta::SledStore::open(&dir.path().join("meta")).unwrap());
        let master = || MasterKey::load(None, &dir.path().join("mk")).unwrap();
        let ks = KeyStore::open(Arc::clone(&store), master(), "ROOT", Secret::new("s")).unwrap();
        assert_eq!(ks.get_secret_key("ROOT").await.unwrap().expose(), "s");
        let err = ks.get_secret_key("NOPE").await.unwrap_err();
        assert_eq!(*err.code(), s3s::S3ErrorCode::InvalidAccessKeyId);
        assert!(ks.principal("ROOT").unwrap().is_root());

        store.tenant_create(&meta::TenantRecord { name: "acme".into(), created_ns: 0, quota: meta::Quota::default() }, None).unwrap();
        store.user_create(&meta::UserRecord { tenant: "acme".into(), name: "ann".into(), role: Role::Writer, created_ns: 0 }, None).unwrap();
        // Changes reach the cache as the control plane applies them.
        let apply = |change: ControlChange| {
            let outcome = change.apply(store.as_ref(), None).unwrap();
            ks.applied(&change, &outcome);
        };
        let (rec, k) = ks.new_key("acme", "ann");
        apply(ControlChange::KeyPut { record: rec.clone() });
        assert_eq!(ks.get_secret_key(&k.access_key).await.unwrap().expose(), k.secret_key);
        let Some(Principal::Key(p)) = ks.principal(&k.access_key) else { panic!("a user's key is a key principal") };
        assert_eq!((p.tenant.as_str(), p.user.as_str(), p.role, p.root), ("acme", "ann", Role::Writer, false));
        let stored = store.key_get(&k.access_key).unwrap().unwrap();
        assert!(!stored.secret_sealed.contains(&k.secret_key));

        // A restart finds the key again through the master key.
        let ks2 = KeyStore::open(Arc::clone(&store), master(), "ROOT", Secret::new("s")).unwrap();
        assert_eq!(ks2.get_secret_key(&k.access_key).await.unwrap().expose(), k.secret_key);

        apply(ControlChange::KeyPut { record: KeyRecord { enabled: false, ..rec.clone() } });
        assert!(ks.get_secret_key(&k.access_key).await.is_err());
        assert!(ks.principal(&k.access_key).is_none());
        apply(ControlChange::KeyPut { record: rec });
        assert!(ks.principal(&k.access_key).is_some());
        apply(ControlChange::UserDelete { tenant: "acme".into(), name: "ann".into() });
        assert!(ks.get_secret_key(&k.access_key).await.is_err());
        assert!(store.key_get(&k.access_key).unwrap().is_none());
    }
}

//! The master key that seals secret access keys at rest (ChaCha20-Poly1305).

use super::Secret;

use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use zeroize::Zeroizing;

const NONCE_LEN: usize = 12;

/// A 256-bit key, wiped on drop, never printed.
pub struct MasterKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

fn decode_key(text: &str) -> io::Result<MasterKey> {
    let raw =
        Zeroizing::new(base64_simd::STANDARD.decode_to_vec(text.trim()).map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "master key is not base64"))?);
    let key: [u8; 32] = raw.as_slice().try_into().map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "master key must be 32 bytes (base64)"))?;
    Ok(MasterKey(Zeroizing::new(key)))
}

impl MasterKey {
    /// A key derived from the master key for one use (`label`), so that no other use
    /// holds the master key itself.
    #[must_use]
    pub fn derive(&self, label: &str) -> crate::crypt::Kek {
        crate::crypt::Kek::derive(&self.0[..], label)
    }

    /// The key from `TOLLGATE_MASTER_KEY` (base64), else from `file`, else generated into
    /// `file` (mode 0600). A key file readable by group or others is refused.
    pub fn load(env_value: Option<&str>, file: &Path) -> io::Result<Self> {
        if let Some(v) = env_value {
            return decode_key(v);
        }
        match std::fs::metadata(file) {
            Ok(meta) => {
                if meta.permissions().mode() & 0o077 != 0 {
                    return Err(io::Error::new(io::ErrorKind::PermissionDenied, format!("{} is readable by others: chmod 600 it", file.display())));
                }
                decode_key(&Zeroizing::new(std::fs::read_to_string(file)?))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let mut key = Zeroizing::new([0u8; 32]);
                getrandom::fill(key.as_mut()).map_err(|e| io::Error::other(e.to_string()))?;
                let text = Zeroizing::new(base64_simd::STANDARD.encode_to_string(key.as_ref()));
                let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(file)?;
                io::Write::write_all(&mut f, text.as_bytes())?;
                f.sync_all()?;
                Ok(Self(key))
            }
            Err(e) => Err(e),
        }
    }

    fn cipher(&self) -> ChaCha20Poly1305 {
        ChaCha20Poly1305::new(Key::from_slice(self.0.as_ref()))
    }

    /// Encrypts a secret: base64 of a random nonce and the ciphertext.
    #[must_use]
    pub fn seal(&self, secret: &Secret) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).expect("the OS random source is available");
        let ct = self.cipher().encrypt(Nonce::from_slice(&nonce), secret.expose().as_bytes()).expect("encryption of a short secret cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        base64_simd::STANDARD.encode_to_string(out)
    }

    /// Decrypts a sealed secret; `None` if it was sealed with another key or altered.
    #[must_use]
    pub fn open(&self, sealed: &str) -> Option<Secret> {
        let raw = base64_simd::STANDARD.decode_to_vec(sealed).ok()?;
        if raw.len() < NONCE_LEN {
            return None;
        }
        let (nonce, ct) = raw.split_at(NONCE_LEN);
        let plain = Zeroizing::new(self.cipher().decrypt(Nonce::from_slice(nonce), ct).ok()?);
        Some(Secret::new(String::from_utf8(plain.to_vec()).ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_with_their_key_and_hide_the_plain_text() {
        let dir = tempfile::tempdir().unwrap();
        let k = MasterKey::load(None, &dir.path().join("mk")).unwrap();
        let sealed = k.seal(&Secret::new("super-secret-value"));
        assert!(!sealed.contains("super-secret"));
        assert_eq!(k.open(&sealed).unwrap(), Secret::new("super-secret-value"));
        let again = MasterKey::load(None, &dir.path().join("mk")).unwrap();
        assert_eq!(again.open(&sealed).unwrap(), Secret::new("super-secret-value"));
        let other = MasterKey::load(None, &dir.path().join("other")).unwrap();
        assert!(other.open(&sealed).is_none());
        assert_eq!(format!("{k:?}"), "MasterKey(<redacted>)");
    }

    #[test]
    fn a_world_readable_key_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mk");
        MasterKey::load(None, &path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(MasterKey::load(None, &path).unwrap_err().kind(), io::ErrorKind::PermissionDenied);
    }
}

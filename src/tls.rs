//! HTTPS on the listener (`[tls]`): the certificate and key are read from PEM files into a
//! rustls configuration offering HTTP/2 and HTTP/1.1 by ALPN, and read again on SIGHUP or
//! when the files change. A reload swaps the configuration new handshakes use; connections
//! already open keep theirs, so none is dropped. A reload that fails (a half-written file,
//! a key that does not match) keeps the configuration in force and says why.

use crate::config::TlsConfig;

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Why a certificate and key cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file cannot be read or holds nothing usable.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// rustls refused the pair (for example, a key that is not the certificate's).
    #[error("certificate and key refused: {0}")]
    Refused(#[from] rustls::Error),
}

/// The TLS configuration new connections are accepted with, reloadable.
pub struct Acceptor {
    cert: PathBuf,
    key: PathBuf,
    current: RwLock<Loaded>,
}

struct Loaded {
    config: Arc<ServerConfig>,
    /// The files' modification times when they were read, to notice a change.
    stamps: (Option<SystemTime>, Option<SystemTime>),
}

impl Acceptor {
    /// Reads the certificate and key `config` names; `None` when TLS is off.
    pub fn from_config(config: &TlsConfig) -> Result<Option<Arc<Self>>, TlsError> {
        let (Some(cert), Some(key)) = (&config.cert, &config.key) else { return Ok(None) };
        let current = RwLock::new(load(cert, key)?);
        Ok(Some(Arc::new(Self { cert: cert.clone(), key: key.clone(), current })))
    }

    /// The configuration for a new connection's handshake.
    #[must_use]
    pub fn config(&self) -> Arc<ServerConfig> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner).config)
    }

    /// Reads the files again and serves them to new connections; on failure the
    /// configuration in force stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        let loaded = load(&self.cert, &self.key)?;
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = loaded;
        tracing::info!(cert = %self.cert.display(), "TLS certificate reloaded");
        Ok(())
    }

    /// Whether a file changed since it was last read.
    fn changed(&self) -> bool {
        stamps(&self.cert, &self.key) != self.current.read().unwrap_or_else(PoisonError::into_inner).stamps
    }

    /// Reloads on SIGHUP and, every `check` (unless zero), when the files changed, until
    /// `stopped`.
    pub async fn watch(self: Arc<Self>, check: Duration, mut stopped: tokio::sync::watch::Receiver<bool>) {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hangup = match signal(SignalKind::hangup()) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch SIGHUP: TLS reloads on file changes only");
                None
            }
        };
        let mut tick = (!check.is_zero()).then(|| tokio::time::interval(check));
        loop {
            let hup = async {
                match hangup.as_mut() {
                    Some(h) => h.recv().await,
                    None => std::future::pending().await,
                }
            };
            let tick = async {
                match tick.as_mut() {
                    Some(t) => t.tick().await,
                    None => std::future::pending().await,
                }
            };
            let asked = tokio::select! {
                _ = hup => true,
                _ = tick => false,
                _ = stopped.changed() => return,
            };
            if (asked || self.changed())
                && let Err(e) = self.reload()
            {
                tracing::error!(error = %e, "TLS reload failed: the certificate in force stays");
            }
        }
    }
}

fn stamps(cert: &Path, key: &Path) -> (Option<SystemTime>, Option<SystemTime>) {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    (modified(cert), modified(key))
}

fn load(cert: &Path, key: &Path) -> Result<Loaded, TlsError> {
    // Taken before reading, so that a write landing during the read is seen as a change.
    let stamps = stamps(cert, key);
    let file_error = |path: &Path, reason: String| TlsError::File { path: path.to_owned(), reason };
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| file_error(cert, e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(cert, e.to_string()))?;
    if chain.is_empty() {
        return Err(file_error(cert, "no certificate in it".into()));
    }
    let private = PrivateKeyDer::from_pem_file(key).map_err(|e| file_error(key, e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config =
        ServerConfig::builder_with_provider(provider).with_safe_default_protocol_versions()?.with_no_client_auth().with_single_cert(chain, private)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Loaded { config: Arc::new(config), stamps })
}

/// The TLS configuration of a client of the gateway (`tollgate admin`, `tollgate proof`):
/// the system's roots, or only the certificates of `ca_bundle` (PEM) when given, as
/// `aws --ca-bundle` and `curl --cacert` do.
pub fn client_connector(ca_bundle: Option<&Path>) -> Result<hyper_rustls::HttpsConnectorBuilder<hyper_rustls::builderstates::WantsSchemes>, TlsError> {
    let Some(bundle) = ca_bundle else {
        return hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .map_err(|e| TlsError::File { path: "the system's root certificates".into(), reason: e.to_string() });
    };
    let file_error = |reason: String| TlsError::File { path: bundle.to_owned(), reason };
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(bundle).map_err(|e| file_error(e.to_string()))? {
        roots.add(cert.map_err(|e| file_error(e.to_string()))?).map_err(|e| file_error(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(file_error("no certificate in it".into()));
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls").join(name)
    }

    fn config(cert: &str, key: &str) -> TlsConfig {
        TlsConfig { cert: Some(fixture(cert)), key: Some(fixture(key)), ..TlsConfig::default() }
    }

    #[test]
    fn off_without_a_certificate() {
        assert!(Acceptor::from_config(&TlsConfig::default()).unwrap().is_none());
    }

    #[test]
    fn loads_a_pair_and_offers_h2_and_http11() {
        let a = Acceptor::from_config(&config("server1.pem", "server1.key")).unwrap().unwrap();
        assert_eq!(a.config().alpn_protocols, [b"h2".to_vec(), b"http/1.1".to_vec()]);
        assert!(!a.changed());
    }

    #[test]
    fn refuses_a_key_of_another_certificate_and_a_missing_file() {
        assert!(matches!(Acceptor::from_config(&config("server1.pem", "server2.key")), Err(TlsError::Refused(_))));
        assert!(matches!(Acceptor::from_config(&config("server1.pem", "absent.key")), Err(TlsError::File { .. })));
        assert!(matches!(Acceptor::from_config(&config("server1.key", "server1.key")), Err(TlsError::File { .. })), "no certificate");
    }

    #[test]
    fn a_failed_reload_keeps_the_configuration_in_force() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
        std::fs::copy(fixture("server1.pem"), &cert).unwrap();
        std::fs::copy(fixture("server1.key"), &key).unwrap();
        let a = Acceptor::from_config(&TlsConfig { cert: Some(cert.clone()), key: Some(key.clone()), ..TlsConfig::default() }).unwrap().unwrap();
        let before = a.config();
        std::fs::write(&cert, "half a certificate").unwrap();
        assert!(a.reload().is_err());
        assert!(Arc::ptr_eq(&before, &a.config()), "the configuration in force stays");
        std::fs::copy(fixture("server2.pem"), &cert).unwrap();
        std::fs::copy(fixture("server2.key"), &key).unwrap();
        a.reload().unwrap();
        assert!(!Arc::ptr_eq(&before, &a.config()));
    }
}

//! Configuration: a TOML file (every setting documented in `conf/tollgate.toml`), then
//! environment variables, then command-line flags, each overriding the one before.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("invalid config file {path}: {source}")]
    Parse { path: PathBuf, source: toml::de::Error },
    #[error("invalid value of {name}: {value:?}")]
    Env { name: &'static str, value: String },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Directory of the metadata database and the blobs.
    pub data_dir: PathBuf,
    /// Region reported to clients and expected in signatures.
    pub region: String,
    /// Base domains for virtual-hosted-style requests (`bucket.domain`); empty: path style only.
    pub domains: Vec<String>,
    pub log: LogConfig,
    pub storage: StorageConfig,
    pub server: ServerConfig,
    pub root: RootConfig,
    pub auth: AuthConfig,
    pub audit: AuditConfig,
    pub proofs: ProofConfig,
    pub limits: crate::limits::LimitsConfig,
    pub topics: TopicsConfig,
}

/// `[topics]`: per-prefix permissions (see `policy::topics`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TopicsConfig {
    /// Multipart uploads into a topic not completed within this many seconds are aborted
    /// by a background job (run every `audit.prune_interval_secs`); 0: never.
    pub upload_expiry_secs: u64,
    /// Topics created (or updated) at start, besides those set at run time.
    pub rules: Vec<crate::meta::TopicRule>,
}

impl Default for TopicsConfig {
    fn default() -> Self {
        Self { upload_expiry_secs: 86_400, rules: Vec::new() }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProofConfig {
    /// Record a signed, chained manifest of every stored and deleted object version.
    pub enabled: bool,
    /// Ed25519 signing key (base64 seed, mode 0600); generated if missing. Default
    /// `{data_dir}/proof-signing.key`. Replace the file to rotate: old public keys stay
    /// published.
    pub signing_key_file: Option<PathBuf>,
    /// Seconds between two background scrubs (re-hashing stored objects); 0: never.
    pub scrub_interval_secs: u64,
    /// Bytes per second a scrub may read.
    pub scrub_bytes_per_sec: u64,
    /// Days after which the manifests of a deleted object (its versions and its deletion)
    /// are pruned, leaving a signed checkpoint in the chain; 0: kept forever.
    pub deleted_retention_days: u64,
}

impl Default for ProofConfig {
    fn default() -> Self {
        Self { enabled: true, signing_key_file: None, scrub_interval_secs: 86_400, scrub_bytes_per_sec: 64 << 20, deleted_retention_days: 0 }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// File holding the base64 master key that seals secret keys at rest; generated
    /// (mode 0600) if missing. Default `{data_dir}/master.key`. `TOLLGATE_MASTER_KEY`
    /// (base64) takes precedence over any file.
    pub master_key_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditConfig {
    /// Days an audit entry is kept; 0 keeps entries forever.
    pub retention_days: u64,
    /// Seconds between two prunings of expired entries.
    pub prune_interval_secs: u64,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self { retention_days: 90, prune_interval_secs: 3600 }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `text` or `json`.
    pub format: LogFormat,
    /// A tracing filter, such as `info` or `tollgate=debug,info`; `RUST_LOG` overrides it.
    pub level: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// Sync object bytes and metadata to disk before acknowledging a write.
    pub fsync: bool,
    /// Largest object or part accepted, in bytes.
    pub max_object_size: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Seconds a client may take to send its request headers.
    pub header_timeout_secs: u64,
    /// Seconds a request body may stall (no bytes received) before the request fails.
    pub body_idle_timeout_secs: u64,
    /// Seconds in-flight requests get to finish on shutdown.
    pub shutdown_grace_secs: u64,
    /// Largest request header block, in bytes.
    pub max_header_bytes: usize,
    /// Largest XML request body (DeleteObjects, CompleteMultipartUpload, ...), in bytes.
    pub max_xml_body_bytes: usize,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RootConfig {
    /// Access key of the bootstrap administrator; with `secret_key`. If unset, credentials
    /// are generated on first start and kept in `{data_dir}/root-credentials` (mode 0600).
    pub access_key: Option<String>,
    pub secret_key: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 9000)),
            data_dir: PathBuf::from("./data"),
            region: "us-east-1".into(),
            domains: Vec::new(),
            log: LogConfig::default(),
            storage: StorageConfig::default(),
            server: ServerConfig::default(),
            root: RootConfig::default(),
            auth: AuthConfig::default(),
            audit: AuditConfig::default(),
            proofs: ProofConfig::default(),
            limits: crate::limits::LimitsConfig::default(),
            topics: TopicsConfig::default(),
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        // s3s logs refused requests at ERROR; tollgate logs each outcome itself.
        Self { format: LogFormat::Text, level: "info,s3s=off".into() }
    }
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self { fsync: true, max_object_size: 5 << 40 }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            header_timeout_secs: 30,
            body_idle_timeout_secs: 60,
            shutdown_grace_secs: 30,
            max_header_bytes: 64 << 10,
            max_xml_body_bytes: 2 << 20,
        }
    }
}

impl ServerConfig {
    #[must_use]
    pub fn body_idle_timeout(&self) -> Duration {
        Duration::from_secs(self.body_idle_timeout_secs)
    }
}

fn env_parse<T: std::str::FromStr>(name: &'static str, slot: &mut T) -> Result<(), Error> {
    if let Ok(value) = std::env::var(name) {
        *slot = value.parse().map_err(|_| Error::Env { name, value })?;
    }
    Ok(())
}

impl Config {
    /// The file at `path` (or the defaults), with environment overrides applied.
    pub fn load(path: Option<&Path>) -> Result<Self, Error> {
        let mut cfg = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|source| Error::Read { path: p.into(), source })?;
                toml::from_str(&text).map_err(|source| Error::Parse { path: p.into(), source })?
            }
            None => Self::default(),
        };
        cfg.apply_env()?;
        cfg.validate()?;
        Ok(cfg)
    }

    fn apply_env(&mut self) -> Result<(), Error> {
        env_parse("TOLLGATE_LISTEN", &mut self.listen)?;
        env_parse("TOLLGATE_DATA_DIR", &mut self.data_dir)?;
        env_parse("TOLLGATE_REGION", &mut self.region)?;
        if let Ok(v) = std::env::var("TOLLGATE_DOMAINS") {
            self.domains = v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect();
        }
        if let Ok(v) = std::env::var("TOLLGATE_LOG_FORMAT") {
            self.log.format = match v.as_str() {
                "text" => LogFormat::Text,
                "json" => LogFormat::Json,
                _ => return Err(Error::Env { name: "TOLLGATE_LOG_FORMAT", value: v }),
            };
        }
        env_parse("TOLLGATE_LOG_LEVEL", &mut self.log.level)?;
        env_parse("TOLLGATE_FSYNC", &mut self.storage.fsync)?;
        env_parse("TOLLGATE_MAX_OBJECT_SIZE", &mut self.storage.max_object_size)?;
        env_parse("TOLLGATE_AUDIT_RETENTION_DAYS", &mut self.audit.retention_days)?;
        env_parse("TOLLGATE_PROOFS", &mut self.proofs.enabled)?;
        env_parse("TOLLGATE_LIMITS", &mut self.limits.enabled)?;
        if let Ok(v) = std::env::var("TOLLGATE_ROOT_ACCESS_KEY") {
            self.root.access_key = Some(v);
        }
        if let Ok(v) = std::env::var("TOLLGATE_ROOT_SECRET_KEY") {
            self.root.secret_key = Some(v);
        }
        Ok(())
    }

    pub fn validate(&self) -> Result<(), Error> {
        if let Some(bad) = self.topics.rules.iter().find(|r| !crate::policy::topics::valid_topic_name(&r.topic)) {
            return Err(Error::Invalid(format!("topic {:?}: a topic is a key prefix like inbox or a/b, without leading or trailing /", bad.topic)));
        }
        match (&self.root.access_key, &self.root.secret_key) {
            (Some(_), None) | (None, Some(_)) => {
                return Err(Error::Invalid("root access_key and secret_key must be given together".into()));
            }
            (Some(a), Some(s)) if a.len() < 3 || s.len() < 8 => {
                return Err(Error::Invalid("root access key needs >= 3 characters and secret key >= 8".into()));
            }
            _ => {}
        }
        if let Some(d) = self.domains.iter().find(|d| d.contains('/')) {
            return Err(Error::Invalid(format!("domain {d:?} must be a host name, not a URL")));
        }
        if self.audit.prune_interval_secs == 0 {
            return Err(Error::Invalid("audit.prune_interval_secs must be at least 1".into()));
        }
        if self.server.body_idle_timeout_secs == 0 || self.server.header_timeout_secs == 0 {
            return Err(Error::Invalid("timeouts must be at least one second".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_config_file_parses_to_the_defaults() {
        let text = include_str!("../conf/tollgate.toml");
        let cfg: Config = toml::from_str(text).unwrap();
        let def = Config::default();
        assert_eq!(cfg.listen, def.listen);
        assert_eq!(cfg.data_dir, def.data_dir);
        assert_eq!(cfg.storage.fsync, def.storage.fsync);
        assert_eq!(cfg.storage.max_object_size, def.storage.max_object_size);
        assert_eq!(cfg.server.body_idle_timeout_secs, def.server.body_idle_timeout_secs);
        assert_eq!(cfg.log.format, def.log.format);
        assert_eq!(cfg.audit.retention_days, def.audit.retention_days);
        assert_eq!(cfg.proofs.enabled, def.proofs.enabled);
        assert_eq!(cfg.proofs.scrub_interval_secs, def.proofs.scrub_interval_secs);
        assert_eq!(cfg.proofs.scrub_bytes_per_sec, def.proofs.scrub_bytes_per_sec);
        assert_eq!(cfg.auth.master_key_file, def.auth.master_key_file);
    }

    #[test]
    fn unknown_settings_and_half_credentials_are_refused() {
        assert!(toml::from_str::<Config>("lisen = \"x\"").is_err());
        let mut cfg = Config::default();
        cfg.root.access_key = Some("abc".into());
        assert!(cfg.validate().is_err());
    }
}

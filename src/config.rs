//! Configuration: a TOML file (every setting documented in `conf/tollgate.toml`), then
//! environment variables, then command-line flags, each overriding the one before.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub use crate::auth::RootConfig;
use crate::obs::{LogConfig, LogFormat};

/// Why the configuration could not be loaded; the command (`serve`, `migrate`) prints it and exits.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file given with `--config` cannot be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The config file.
        path: PathBuf,
        /// The I/O error reading it.
        source: std::io::Error,
    },
    /// The file is not valid TOML, has an unknown setting or a value of the wrong type.
    #[error("invalid config file {path}: {source}")]
    Parse {
        /// The config file.
        path: PathBuf,
        /// Where and why parsing failed.
        source: toml::de::Error,
    },
    /// An environment variable overriding a setting does not parse as that setting's type.
    #[error("invalid value of {name}: {value:?}")]
    Env {
        /// The variable, such as `TOLLGATE_LISTEN`.
        name: &'static str,
        /// Its value, as given.
        value: String,
    },
    /// Settings that parse but do not make sense together (checked by [`Config::validate`]).
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// The whole configuration: the top-level settings of `conf/tollgate.toml` and one field per `[section]`.
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
    /// `[log]`: log format and filter.
    pub log: LogConfig,
    /// `[storage]`: durability and object size limit.
    pub storage: StorageConfig,
    /// `[server]`: HTTP timeouts and request size limits.
    pub server: ServerConfig,
    /// `[root]`: the bootstrap administrator's credentials.
    pub root: RootConfig,
    /// `[auth]`: where the master key sealing secret keys is kept.
    pub auth: AuthConfig,
    /// `[audit]`: retention of the audit log.
    pub audit: AuditConfig,
    /// `[proofs]`: signed manifests, scrubbing and their retention.
    pub proofs: ProofConfig,
    /// `[limits]`: request and byte rate limits.
    pub limits: crate::limits::LimitsConfig,
    /// `[topics]`: per-prefix permissions inside buckets.
    pub topics: TopicsConfig,
    /// `[access]`: object ownership and Block Public Access of buckets that set none.
    pub access: AccessDefaults,
    /// `[jobs]`: background jobs' retries, deadlines and intervals.
    pub jobs: JobsConfig,
    /// Where object bytes go: `local` (files under `data_dir`) or `upstream` (an S3 service).
    pub backend: BackendKind,
    /// `[upstream]`: the S3 service the upstream backend forwards to (and `tollgate migrate` moves to or from).
    pub upstream: UpstreamConfig,
    /// `[console]`: the web console at `/_tollgate/console/`.
    pub console: ConsoleConfig,
    /// `[tls]`: HTTPS on the listener.
    pub tls: TlsConfig,
    /// `[encryption]`: encryption at rest.
    pub encryption: EncryptionConfig,
}

/// `[encryption]`: encryption at rest of object bytes (SSE-S3, SSE-KMS, SSE-C and buckets'
/// default encryption are always available; these settings widen them).
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EncryptionConfig {
    /// Encrypt every new object (SSE-S3 unless the request asks for SSE-C), whatever the
    /// client or the bucket asks: the storage behind the gateway sees only ciphertext.
    /// `TOLLGATE_ENCRYPTION_ALWAYS` (true/false) overrides the file.
    pub always: bool,
    /// Accept SSE-C keys over plain HTTP from a loopback client (S3 requires HTTPS, as
    /// the key travels in headers; tests and a same-host proxy terminating TLS need this).
    pub sse_c_plain_http_on_loopback: bool,
}

/// `[tls]`: HTTPS on `listen` (rustls; HTTP/1.1 and HTTP/2 by ALPN). Off while `cert` is unset.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file of the certificate chain, the server's certificate first.
    pub cert: Option<PathBuf>,
    /// PEM file of the private key (PKCS#8, PKCS#1 or SEC1).
    pub key: Option<PathBuf>,
    /// Seconds between two checks of the files for a change (then reloaded, as on SIGHUP,
    /// without dropping a connection); 0: on SIGHUP only.
    pub reload_check_secs: u64,
    /// A second listener serving `/health`, `/ready` and `/metrics` only, in plain HTTP,
    /// for health checks that do not speak TLS; it must be a loopback address.
    pub plain_health_listen: Option<SocketAddr>,
}

impl Default for TlsConfig {
    fn default() -> Self {
        Self { cert: None, key: None, reload_check_secs: 10, plain_health_listen: None }
    }
}

/// `[access]`: what a bucket's S3 access configuration is until it sets its own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccessDefaults {
    /// Object ownership of buckets that set none (`BucketOwnerEnforced`, as AWS since
    /// 2023: ACLs disabled until a bucket asks for `ObjectWriter` or `BucketOwnerPreferred`).
    pub object_ownership: crate::meta::Ownership,
    /// Block Public Access of buckets that set none (all off by default, so the admin
    /// API's public-read visibility works as before).
    pub block_public_access: crate::meta::PublicAccessBlock,
}

/// Which backend holds object bytes (the `backend` setting, `tollgate migrate --from/--to`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// Files under `data_dir` (`blobs/`).
    #[default]
    Local,
    /// Another S3 service, configured in `[upstream]`.
    Upstream,
}

impl BackendKind {
    /// The name used in the config file and on the command line: `local` or `upstream`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Upstream => "upstream",
        }
    }
}

impl std::str::FromStr for BackendKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "local" => Ok(Self::Local),
            "upstream" => Ok(Self::Upstream),
            other => Err(format!("unknown backend {other:?}: local or upstream")),
        }
    }
}

/// `[upstream]`: the S3 service the upstream backend forwards to.
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UpstreamConfig {
    /// Base URL, such as `https://s3.eu-west-1.amazonaws.com` or `http://127.0.0.1:9000`.
    pub endpoint: String,
    /// Region the upstream signs in.
    pub region: String,
    /// Upstream credentials; `TOLLGATE_UPSTREAM_ACCESS_KEY` / `TOLLGATE_UPSTREAM_SECRET_KEY`
    /// override them, then `secret_key_file` is read if no secret is given.
    pub access_key: String,
    /// The secret key matching `access_key`; empty: read from `secret_key_file`.
    pub secret_key: String,
    /// File holding the upstream secret key, read when no secret is given otherwise.
    pub secret_key_file: Option<PathBuf>,
    /// Path-style addressing (`endpoint/bucket/key`); false: virtual-hosted (`bucket.host`).
    pub path_style: bool,
    /// Mapping. Empty: each gateway bucket is the upstream bucket `{bucket_prefix}{bucket}`.
    /// Set: every gateway bucket lives under the prefix `{tenant}/{bucket}/` of this one
    /// upstream bucket (which must exist).
    pub bucket: String,
    /// Prefix of the upstream bucket names when `bucket` is empty; unused otherwise.
    pub bucket_prefix: String,
    /// Milliseconds to open a connection.
    pub connect_timeout_ms: u64,
    /// Seconds the upstream may stay silent: before answering a request, or while a body
    /// it should be reading waits.
    pub timeout_secs: u64,
    /// Retries of idempotent requests (GET, HEAD, list, DELETE) that failed to connect,
    /// timed out or got a 5xx, with exponential backoff and jitter.
    pub retries: u32,
    /// First backoff, in milliseconds (doubled at each retry, capped at 2 s).
    pub retry_base_ms: u64,
    /// Seconds an idle pooled connection is kept.
    pub pool_idle_secs: u64,
    /// Upstream bucket receiving the gateway's proof manifests and audit entries, under
    /// `.tollgate/{instance}/`, so `tollgate admin rebuild` can restore them; empty: off.
    pub meta_bucket: String,
    /// Name of this gateway instance in `meta_bucket` (instances sharing an upstream must
    /// use distinct names).
    pub instance: String,
    /// Seconds between two uploads of new metadata to `meta_bucket`.
    pub mirror_interval_secs: u64,
    /// Seconds between two heartbeats of this instance in `meta_bucket`, where the
    /// instances sharing it see each other (`tollgate admin cluster`); one silent for
    /// three intervals is counted gone.
    pub heartbeat_secs: u64,
    /// Each instance enforces its share of every rate limit (the rate divided by the live
    /// instances its heartbeats count), so that a cluster behind an even load balancer
    /// holds the configured rate in total; false: each instance enforces the whole rate.
    pub share_limits: bool,
    /// Milliseconds between two reads of the cluster's control log in `meta_bucket`
    /// (tenants, users, keys, limits, topics, the keyring, buckets and their settings,
    /// shared by the instances): a change made on one instance is in force on the others
    /// within this and an upstream round trip.
    pub control_poll_ms: u64,
    /// Entries of the control log between two checkpoints of it: the log keeps about
    /// twice this many, and an instance joining, or left behind its start, loads the
    /// newest checkpoint and the entries after it; 0: never checkpointed (the log grows
    /// by one object per change, and a joining instance reads it all).
    pub control_checkpoint_every: u64,
}

impl std::fmt::Debug for UpstreamConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamConfig")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key", &self.access_key)
            .field("secret_key", &"<redacted>")
            .field("bucket", &self.bucket)
            .field("bucket_prefix", &self.bucket_prefix)
            .field("meta_bucket", &self.meta_bucket)
            .field("instance", &self.instance)
            .finish_non_exhaustive()
    }
}

impl Default for UpstreamConfig {
    fn default() -> Self {
        Self {
            endpoint: String::new(),
            region: "us-east-1".into(),
            access_key: String::new(),
            secret_key: String::new(),
            secret_key_file: None,
            path_style: true,
            bucket: String::new(),
            bucket_prefix: String::new(),
            connect_timeout_ms: 3000,
            timeout_secs: 30,
            retries: 3,
            retry_base_ms: 50,
            pool_idle_secs: 60,
            meta_bucket: String::new(),
            instance: "default".into(),
            mirror_interval_secs: 10,
            heartbeat_secs: 5,
            share_limits: true,
            control_poll_ms: 500,
            control_checkpoint_every: 1000,
        }
    }
}

impl UpstreamConfig {
    /// Points at `url`; credentials in the URL (`http://KEY:SECRET@host:port`) are taken
    /// out of it.
    pub fn set_url(&mut self, url: &str) -> Result<(), Error> {
        let invalid = || Error::Invalid(format!("upstream URL {url:?} is not http(s)://[key:secret@]host[:port]"));
        let (scheme, rest) = url.split_once("://").filter(|(s, _)| *s == "http" || *s == "https").ok_or_else(invalid)?;
        let (userinfo, host) = match rest.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, rest),
        };
        if host.is_empty() {
            return Err(invalid());
        }
        if let Some((key, secret)) = userinfo.and_then(|u| u.split_once(':')) {
            self.access_key = key.to_owned();
            self.secret_key = secret.to_owned();
        }
        self.endpoint = format!("{scheme}://{host}");
        Ok(())
    }

    /// The secret key: given, or read from `secret_key_file`.
    pub fn secret(&self) -> Result<String, Error> {
        match (&self.secret_key_file, self.secret_key.is_empty()) {
            (Some(path), true) => std::fs::read_to_string(path).map(|s| s.trim().to_owned()).map_err(|source| Error::Read { path: path.clone(), source }),
            _ => Ok(self.secret_key.clone()),
        }
    }
}

/// `[topics]`: per-prefix permissions (see `policy::topics`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TopicsConfig {
    /// Multipart uploads into a topic not completed within this many seconds are aborted
    /// by a background job (run every `jobs.upload_expiry_interval_secs`); 0: never.
    pub upload_expiry_secs: u64,
    /// Topics created (or updated) at start, besides those set at run time.
    pub rules: Vec<crate::meta::TopicRule>,
}

impl Default for TopicsConfig {
    fn default() -> Self {
        Self { upload_expiry_secs: 86_400, rules: Vec::new() }
    }
}

/// `[jobs]`: the background job scheduler (`crate::jobs`) and the jobs of its own.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobsConfig {
    /// Attempts after a failed run before waiting for the next interval.
    pub retries: u32,
    /// First retry after this many milliseconds, doubling (with jitter) per attempt.
    pub retry_base_ms: u64,
    /// On shutdown, running jobs get this long to finish before they are cancelled.
    pub shutdown_deadline_secs: u64,
    /// Multipart uploads outside topics not completed within this many seconds are
    /// aborted (topics have `topics.upload_expiry_secs`); 0: never.
    pub upload_expiry_secs: u64,
    /// Seconds between two runs of the multipart expiry.
    pub upload_expiry_interval_secs: u64,
    /// Seconds between two reconciliations of stored bytes and the index; 0: never.
    pub reconcile_interval_secs: u64,
    /// Bytes and entries younger than this are left alone by the reconciliation (a write
    /// in flight has its bytes stored before its entry).
    pub reconcile_min_age_secs: u64,
    /// Seconds between two runs of the lifecycle job (buckets' lifecycle rules); 0: only
    /// on demand.
    pub lifecycle_interval_secs: u64,
    /// The length of a lifecycle day, in seconds (86,400; shorter only for tests, as Ceph
    /// RGW's debug interval).
    pub lifecycle_day_secs: u64,
    /// The most removals and aborts one lifecycle run makes; the next run goes on from there.
    pub lifecycle_max_actions: usize,
    /// Seconds between two runs of the `rewrap` job, which moves SSE-KMS objects' data
    /// keys onto the current version of their keyring key after a rotation; 0: only on demand.
    pub rewrap_interval_secs: u64,
    /// The most data keys one `rewrap` run re-wraps; the next run goes on from there.
    pub rewrap_max: u64,
    /// Seconds between two samples of every tenant's and bucket's usage (the usage
    /// history); 0: only on demand.
    pub usage_history_interval_secs: u64,
    /// Samples of the usage history older than this many days are forgotten.
    pub usage_history_days: u64,
}

impl Default for JobsConfig {
    fn default() -> Self {
        Self {
            retries: 3,
            retry_base_ms: 1000,
            shutdown_deadline_secs: 10,
            upload_expiry_secs: 7 * 86_400,
            upload_expiry_interval_secs: 3600,
            reconcile_interval_secs: 6 * 3600,
            reconcile_min_age_secs: 3600,
            lifecycle_interval_secs: 3600,
            lifecycle_day_secs: 86_400,
            lifecycle_max_actions: 10_000,
            rewrap_interval_secs: 3600,
            rewrap_max: 100_000,
            usage_history_interval_secs: 3600,
            usage_history_days: 30,
        }
    }
}

/// `[proofs]`: signed, hash-chained manifests of stored and deleted object versions.
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

/// `[console]`: the web console served at `/_tollgate/console/`, and its sign-in sessions.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsoleConfig {
    /// Serve the console; off: every path under `/_tollgate/console/` is 404.
    pub enabled: bool,
    /// Seconds a session lives without a request before it ends.
    pub idle_timeout_secs: u64,
    /// Seconds a session lives at most, however busy.
    pub max_session_secs: u64,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        Self { enabled: true, idle_timeout_secs: 1800, max_session_secs: 43_200 }
    }
}

/// `[auth]`: the master key that encrypts secret access keys at rest.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// File holding the base64 master key that seals secret keys at rest; generated
    /// (mode 0600) if missing. Default `{data_dir}/master.key`. `TOLLGATE_MASTER_KEY`
    /// (base64) takes precedence over any file.
    pub master_key_file: Option<PathBuf>,
}

/// `[audit]`: how long audit entries are kept and how many at most.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditConfig {
    /// Days an audit entry is kept; 0 keeps entries forever.
    pub retention_days: u64,
    /// Seconds between two prunings of expired entries (and trims to `max_entries`).
    pub prune_interval_secs: u64,
    /// Entries kept at most; each pruning removes the oldest beyond it. 0: no cap.
    pub max_entries: usize,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self { retention_days: 90, prune_interval_secs: 3600, max_entries: 10_000_000 }
    }
}

/// `[storage]`: durability of writes and the largest object accepted.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// Sync object bytes and metadata to disk before acknowledging a write.
    pub fsync: bool,
    /// Largest object or part accepted, in bytes.
    pub max_object_size: u64,
    /// The metadata store's page cache, in MiB: most of the gateway's memory beyond its
    /// buffers in flight. 32 keeps the peak resident set over the benchmark matrix under
    /// 128 MiB; a bigger metadata set reads more of its pages from disk.
    pub metadata_cache_mib: u64,
}

/// `[server]`: HTTP timeouts, shutdown grace and request size limits.
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
    /// Largest file of a browser form upload (POST object), in bytes: s3s holds the file in
    /// memory before its signature is checked, so this bounds what an unsigned form costs.
    pub max_form_file_bytes: u64,
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
            access: AccessDefaults::default(),
            jobs: JobsConfig::default(),
            backend: BackendKind::Local,
            upstream: UpstreamConfig::default(),
            console: ConsoleConfig::default(),
            tls: TlsConfig::default(),
            encryption: EncryptionConfig::default(),
        }
    }
}

impl StorageConfig {
    /// `metadata_cache_mib` in bytes.
    #[must_use]
    pub const fn metadata_cache_bytes(&self) -> u64 {
        self.metadata_cache_mib.saturating_mul(1 << 20)
    }
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self { fsync: true, max_object_size: 5 << 40, metadata_cache_mib: 32 }
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
            max_form_file_bytes: 32 << 20,
        }
    }
}

impl ServerConfig {
    /// `body_idle_timeout_secs` as a duration: how long an upload may stall before `RequestTimeout`.
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
                _ => {
                    return Err(Error::Env { name: "TOLLGATE_LOG_FORMAT", value: v });
                }
            };
        }
        env_parse("TOLLGATE_LOG_LEVEL", &mut self.log.level)?;
        env_parse("TOLLGATE_FSYNC", &mut self.storage.fsync)?;
        env_parse("TOLLGATE_MAX_OBJECT_SIZE", &mut self.storage.max_object_size)?;
        env_parse("TOLLGATE_AUDIT_RETENTION_DAYS", &mut self.audit.retention_days)?;
        env_parse("TOLLGATE_PROOFS", &mut self.proofs.enabled)?;
        env_parse("TOLLGATE_ENCRYPTION_ALWAYS", &mut self.encryption.always)?;
        env_parse("TOLLGATE_LIMITS", &mut self.limits.enabled)?;
        env_parse("TOLLGATE_CONSOLE", &mut self.console.enabled)?;
        if let Ok(v) = std::env::var("TOLLGATE_TLS_CERT") {
            self.tls.cert = Some(v.into());
        }
        if let Ok(v) = std::env::var("TOLLGATE_TLS_KEY") {
            self.tls.key = Some(v.into());
        }
        if let Ok(v) = std::env::var("TOLLGATE_ROOT_ACCESS_KEY") {
            self.root.access_key = Some(v);
        }
        if let Ok(v) = std::env::var("TOLLGATE_ROOT_SECRET_KEY") {
            self.root.secret_key = Some(v);
        }
        if let Ok(v) = std::env::var("TOLLGATE_UPSTREAM") {
            self.backend = BackendKind::Upstream;
            self.upstream.set_url(&v)?;
        }
        let up = &mut self.upstream;
        for (name, slot) in [
            ("TOLLGATE_UPSTREAM_ACCESS_KEY", &mut up.access_key),
            ("TOLLGATE_UPSTREAM_SECRET_KEY", &mut up.secret_key),
            ("TOLLGATE_UPSTREAM_REGION", &mut up.region),
            ("TOLLGATE_UPSTREAM_BUCKET", &mut up.bucket),
            ("TOLLGATE_UPSTREAM_BUCKET_PREFIX", &mut up.bucket_prefix),
            ("TOLLGATE_UPSTREAM_META_BUCKET", &mut up.meta_bucket),
            ("TOLLGATE_UPSTREAM_INSTANCE", &mut up.instance),
        ] {
            if let Ok(v) = std::env::var(name) {
                *slot = v;
            }
        }
        Ok(())
    }

    /// Refuses settings that parse but cannot work together (root credentials given by
    /// halves, URL-shaped domains, an upstream backend without endpoint, zero intervals).
    ///
    /// # Errors
    /// [`Error::Invalid`], saying which setting to fix.
    pub fn validate(&self) -> Result<(), Error> {
        if let Some(bad) = self.topics.rules.iter().find(|r| !crate::names::valid_topic_name(&r.topic)) {
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
        if self.backend == BackendKind::Upstream {
            let up = &self.upstream;
            if !(up.endpoint.starts_with("http://") || up.endpoint.starts_with("https://")) {
                return Err(Error::Invalid("backend = \"upstream\" needs upstream.endpoint (http:// or https://)".into()));
            }
            if up.timeout_secs == 0 || up.connect_timeout_ms == 0 || up.mirror_interval_secs == 0 || up.heartbeat_secs == 0 || up.control_poll_ms == 0 {
                return Err(Error::Invalid("upstream timeouts, mirror_interval_secs, heartbeat_secs and control_poll_ms must be positive".into()));
            }
            if up.instance.is_empty() || up.instance.contains('/') {
                return Err(Error::Invalid("upstream.instance must be a non-empty name without '/'".into()));
            }
        }
        match (&self.tls.cert, &self.tls.key, self.tls.plain_health_listen) {
            (Some(_), None, _) | (None, Some(_), _) => return Err(Error::Invalid("tls.cert and tls.key must be given together".into())),
            (None, None, Some(_)) => return Err(Error::Invalid("tls.plain_health_listen needs TLS on the listener (tls.cert, tls.key)".into())),
            (_, _, Some(a)) if !a.ip().is_loopback() => {
                return Err(Error::Invalid(format!("tls.plain_health_listen {a} must be a loopback address (plain HTTP)")));
            }
            _ => {}
        }
        if self.jobs.upload_expiry_interval_secs == 0 {
            return Err(Error::Invalid("jobs.upload_expiry_interval_secs must be at least 1".into()));
        }
        if self.jobs.lifecycle_day_secs == 0 || self.jobs.lifecycle_max_actions == 0 {
            return Err(Error::Invalid("jobs.lifecycle_day_secs and jobs.lifecycle_max_actions must be at least 1".into()));
        }
        if self.audit.prune_interval_secs == 0 {
            return Err(Error::Invalid("audit.prune_interval_secs must be at least 1".into()));
        }
        if self.console.idle_timeout_secs == 0 || self.console.max_session_secs == 0 {
            return Err(Error::Invalid("console.idle_timeout_secs and console.max_session_secs must be at least 1".into()));
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
        assert_eq!(cfg.storage.metadata_cache_mib, def.storage.metadata_cache_mib);
        assert_eq!(cfg.server.body_idle_timeout_secs, def.server.body_idle_timeout_secs);
        assert_eq!(cfg.log.format, def.log.format);
        assert_eq!(cfg.audit.retention_days, def.audit.retention_days);
        assert_eq!(cfg.proofs.enabled, def.proofs.enabled);
        assert_eq!(cfg.proofs.scrub_interval_secs, def.proofs.scrub_interval_secs);
        assert_eq!(cfg.proofs.scrub_bytes_per_sec, def.proofs.scrub_bytes_per_sec);
        assert_eq!(cfg.auth.master_key_file, def.auth.master_key_file);
        assert_eq!(cfg.backend, def.backend);
        let (c, dc) = (&cfg.console, &def.console);
        assert_eq!((c.enabled, c.idle_timeout_secs, c.max_session_secs), (dc.enabled, dc.idle_timeout_secs, dc.max_session_secs));
        let (t, dt) = (&cfg.tls, &def.tls);
        assert_eq!((&t.cert, &t.key, t.reload_check_secs, t.plain_health_listen), (&dt.cert, &dt.key, dt.reload_check_secs, dt.plain_health_listen));
        let (u, d) = (&cfg.upstream, &def.upstream);
        assert_eq!((u.timeout_secs, u.retries, u.retry_base_ms, u.connect_timeout_ms), (d.timeout_secs, d.retries, d.retry_base_ms, d.connect_timeout_ms));
        assert_eq!((u.path_style, &u.region, &u.instance, u.mirror_interval_secs), (d.path_style, &d.region, &d.instance, d.mirror_interval_secs));
        assert_eq!(
            (u.heartbeat_secs, u.share_limits, u.control_poll_ms, u.control_checkpoint_every),
            (d.heartbeat_secs, d.share_limits, d.control_poll_ms, d.control_checkpoint_every)
        );
    }

    #[test]
    fn tls_needs_both_files_and_a_loopback_health_listener() {
        let with = |cert: Option<&str>, key: Option<&str>, health: Option<&str>| Config {
            tls: TlsConfig {
                cert: cert.map(Into::into),
                key: key.map(Into::into),
                plain_health_listen: health.map(|h| h.parse().unwrap()),
                ..TlsConfig::default()
            },
            ..Config::default()
        };
        assert!(with(Some("c.pem"), Some("k.pem"), Some("127.0.0.1:9001")).validate().is_ok());
        assert!(with(Some("c.pem"), Some("k.pem"), Some("[::1]:9001")).validate().is_ok());
        assert!(with(Some("c.pem"), None, None).validate().is_err(), "a certificate without its key");
        assert!(with(None, Some("k.pem"), None).validate().is_err());
        assert!(with(None, None, Some("127.0.0.1:9001")).validate().is_err(), "a health listener without TLS");
        let e = with(Some("c.pem"), Some("k.pem"), Some("0.0.0.0:9001")).validate().unwrap_err();
        assert!(e.to_string().contains("loopback"), "{e}");
    }

    #[test]
    fn upstream_urls_carry_credentials_out_of_the_endpoint() {
        let mut u = UpstreamConfig::default();
        u.set_url("http://AK:S3CR3T@127.0.0.1:9100").unwrap();
        assert_eq!((u.endpoint.as_str(), u.access_key.as_str(), u.secret_key.as_str()), ("http://127.0.0.1:9100", "AK", "S3CR3T"));
        assert!(!format!("{u:?}").contains("S3CR3T"), "the secret is redacted");
        u.set_url("https://s3.amazonaws.com").unwrap();
        assert_eq!(u.endpoint, "https://s3.amazonaws.com");
        assert!(u.set_url("ftp://x").is_err());
        assert!(u.set_url("http://").is_err());
        let mut cfg = Config { backend: BackendKind::Upstream, ..Config::default() };
        assert!(cfg.validate().is_err(), "upstream without an endpoint");
        cfg.upstream.endpoint = "http://h:1".into();
        assert!(cfg.validate().is_ok());
    }

    #[test]
    fn unknown_settings_and_half_credentials_are_refused() {
        assert!(toml::from_str::<Config>("lisen = \"x\"").is_err());
        let mut cfg = Config::default();
        cfg.root.access_key = Some("abc".into());
        assert!(cfg.validate().is_err());
    }
}

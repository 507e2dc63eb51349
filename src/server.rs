//! The HTTP server: accepts connections on an already-bound listener, serves the S3
//! front (s3s) and the operational endpoints, and shuts down gracefully.

use crate::admin::{AdminApi, AdminParts, Routes, proofs::ProofApi};
use crate::auth::{self, KeyStore, MasterKey};
use crate::backend::Engine;
use crate::backend::control::ControlPlane;
use crate::backend::local::{LocalBackend, LocalOptions};
use crate::backend::placement::{Backends, HOLDING_BACKEND, Placement};
use crate::backend::upstream::client::ClientOptions;
use crate::backend::upstream::{Mapping, Member, MirrorTarget, UpstreamBackend, UpstreamOptions};
use crate::config::{BackendKind, Config};
use crate::context::{RequestContext, Transport};
use crate::jobs::{RetryPolicy, Scheduler, workers};
use crate::limits::xml_body::{Seen, XmlBody, is_config_request};
use crate::limits::{Limiter, MeteredBody};
use crate::meta::{SledStore, Store, TenantRecord};
use crate::obs::{self, Readiness, Unready, metrics::Metrics};
use crate::ops::RequestKind;
use crate::policy::Policy;
use crate::policy::config::BucketConfigs;
use crate::policy::topics::Topics;
use crate::proof::Prover;
use crate::s3::Gateway;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::service::{S3Service, S3ServiceBuilder};
use tokio::net::{TcpListener, TcpStream};
use tracing::Instrument;

/// Startup failures.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The metadata store cannot be opened or read (another process may hold it).
    #[error("metadata store: {0}")]
    Meta(#[from] crate::meta::Error),
    /// The data directory or a key file cannot be created or read.
    #[error("data directory: {0}")]
    Io(#[from] std::io::Error),
    /// A storage engine cannot be opened.
    #[error("storage: {0}")]
    Backend(#[from] crate::backend::Error),
    /// The configuration cannot work with the data: bad domains, no usable upstream, or
    /// objects held by another backend than the configured one.
    #[error("configuration: {0}")]
    Config(String),
}

/// Everything a running gateway holds.
pub struct App {
    /// The configuration the gateway was started with.
    pub config: Config,
    store: Arc<dyn Store>,
    /// Access keys: the console checks a secret at sign-in and signs as the session's key.
    keys: Arc<KeyStore>,
    /// The web console's sessions (`None`: the console is off).
    console: Option<crate::console::Console>,
    backends: Arc<Backends>,
    jobs: Arc<Scheduler>,
    pub(crate) metrics: Arc<Metrics>,
    limiter: Arc<Limiter>,
    denials: Arc<crate::audit::DenialLog>,
    s3: S3Service,
    /// The buckets' compiled configuration (CORS, for preflights and answers' headers).
    configs: Arc<BucketConfigs>,
    /// The virtual-host domains, to find the bucket a browser's request addresses as s3s does.
    domains: Option<s3s::host::MultiDomain>,
    /// Root credentials generated at this start (to be shown once).
    pub generated_root: Option<(String, auth::Secret)>,
    /// Root access key id.
    pub root_access_key: String,
    /// This instance as its heartbeats describe it, when it shares a metadata bucket: its
    /// last one, at shutdown, says it left.
    member: Option<Member>,
    /// This process's `HostId` (and `x-amz-id-2`): opaque, the same for every answer of one
    /// run, so that a report quoting it names the instance that answered.
    host_id: String,
    /// The control plane, which may lag a cluster's when its log cannot be read.
    control: Arc<ControlPlane>,
}

impl App {
    /// Opens the data directory and builds the service.
    pub fn open(config: Config) -> Result<Self, Error> {
        std::fs::create_dir_all(&config.data_dir)?;
        let store: Arc<dyn Store> = Arc::new(SledStore::open_with_cache(&config.data_dir.join("meta"), config.storage.metadata_cache_bytes())?);
        check_holding_backend(store.as_ref(), config.backend)?;
        let prover = if config.proofs.enabled {
            let file = config.proofs.signing_key_file.clone().unwrap_or_else(|| config.data_dir.join("proof-signing.key"));
            let prover = Prover::load(&file)?;
            store.proof_key_put(prover.key_id(), &prover.public_key())?;
            let prover = Arc::new(prover);
            // Also signs the heads of logs a crash left ahead of their last signed head.
            store.proof_set_head_signer(prover.head_signer())?;
            Some(prover)
        } else {
            None
        };
        let backends = open_backends(&config, &store, prover.as_ref())?;
        let up = &config.upstream;
        // Instances sharing a metadata bucket share the control plane through it.
        let clustered = backends.upstream_opened() && !up.meta_bucket.is_empty();
        let (root_key, root_secret, generated) = auth::root_credentials(&config.root, &config.data_dir)?;
        if store.tenant_get(auth::ROOT_TENANT)?.is_none() {
            store.tenant_create(
                &TenantRecord { name: auth::ROOT_TENANT.into(), created_ns: crate::clock::now_ns(), quota: crate::meta::Quota::default() },
                None,
            )?;
        }
        let master_file = config.auth.master_key_file.clone().unwrap_or_else(|| config.data_dir.join("master.key"));
        let master = MasterKey::load(std::env::var("TOLLGATE_MASTER_KEY").ok().as_deref(), &master_file)?;
        let seal_keys = Arc::new(crate::backend::sealed::GatewayKeys::new(
            master.derive("sse-s3"),
            master.derive("sse-s3 versions"),
            master.derive("sse-c digest"),
            master.derive("keyring"),
            Arc::clone(&store),
            !clustered,
        ));
        let control_mac = master.derive("control log");
        let sse = Arc::new(crate::s3::sse::SseKeys::new(Arc::clone(&seal_keys), config.encryption));
        let keys = Arc::new(KeyStore::open(Arc::clone(&store), master, &root_key, root_secret.clone())?);

        let metrics = Arc::new(Metrics::default());
        let topics = Arc::new(Topics::load(Arc::clone(&store))?);
        for rule in &config.topics.rules {
            topics.put(rule, None)?;
        }
        let configs = Arc::new(BucketConfigs::load(Arc::clone(&store), config.access).map_err(|e| Error::Config(e.to_string()))?);
        let member = clustered.then(|| Member {
            instance: up.instance.clone(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            started_ns: crate::clock::now_ns(),
            heartbeat_ns: 0,
            heartbeat_secs: up.heartbeat_secs,
            left: false,
            control_applied: 0,
            usage: Default::default(),
        });
        let limiter = Arc::new(Limiter::new(config.limits.clone(), store.as_ref())?);
        let cluster_log = member.is_some().then(|| Arc::clone(&backends));
        let control = Arc::new(ControlPlane::new(
            Arc::clone(&store),
            cluster_log,
            &up.instance,
            Duration::from_millis(up.control_poll_ms),
            control_mac,
            up.control_checkpoint_every,
        )?);
        control.listen(&keys);
        control.listen(&topics);
        control.listen(&configs);
        control.listen(&limiter);
        let job_parts = workers::Parts {
            store: Arc::clone(&store),
            backend: Arc::clone(&backends),
            topics: Arc::clone(&topics),
            prover: prover.clone(),
            metrics: Arc::clone(&metrics),
            configs: Arc::clone(&configs),
            member: member.clone(),
            limiter: up.share_limits.then(|| Arc::clone(&limiter)),
            seal_keys: Arc::clone(&seal_keys),
            control: Arc::clone(&control),
        };
        let retry = RetryPolicy { retries: config.jobs.retries, base: Duration::from_millis(config.jobs.retry_base_ms) };
        let jobs = Arc::new(Scheduler::new(workers::configured(&config, &job_parts), retry, Arc::clone(&metrics)));
        let mut b = S3ServiceBuilder::new(Gateway::new(
            Arc::clone(&backends),
            config.region.clone(),
            Arc::clone(&metrics),
            Arc::clone(&topics),
            Arc::clone(&configs),
            Arc::clone(&store),
            config.jobs.lifecycle_day_secs,
            sse,
            Arc::clone(&control),
        ));
        b.set_auth(ArcAuth(Arc::clone(&keys), Arc::clone(&control)));
        let denials = Arc::new(crate::audit::DenialLog::default());
        b.set_access(Policy::new(
            Arc::clone(&keys),
            Arc::clone(&store),
            Arc::clone(&limiter),
            Arc::clone(&metrics),
            (Arc::clone(&topics), Arc::clone(&configs)),
            config.storage.max_object_size,
            (Arc::clone(&control), Arc::clone(&backends)),
        ));
        b.set_route(Routes {
            admin: AdminApi::new(AdminParts {
                store: Arc::clone(&store),
                keys: Arc::clone(&keys),
                backend: Arc::clone(&backends),
                limiter: Arc::clone(&limiter),
                topics: Arc::clone(&topics),
                configs: Arc::clone(&configs),
                prover: prover.clone(),
                proof_retention_days: config.proofs.deleted_retention_days,
                jobs: Arc::clone(&jobs),
                denials: Arc::clone(&denials),
                seal_keys: Arc::clone(&seal_keys),
                control: Arc::clone(&control),
            }),
            proofs: ProofApi::new(Arc::clone(&store), prover.clone(), Arc::clone(&configs)),
        });
        b.set_validation(crate::names::BucketNames::new(Arc::clone(&store)));
        let mut domains = None;
        if !config.domains.is_empty() {
            let host = s3s::host::MultiDomain::new(&config.domains).map_err(|e| Error::Config(e.to_string()))?;
            b.set_host(host);
            domains = Some(s3s::host::MultiDomain::new(&config.domains).map_err(|e| Error::Config(e.to_string()))?);
        }
        let mut s3_config = s3s::config::S3Config::default();
        s3_config.xml_max_body_size = config.server.max_xml_body_bytes;
        // s3s holds a form's file in memory before the signature and access checks: bounded
        // by its own setting (an object's limit, 5 TiB by default, would let an unsigned
        // form exhaust memory).
        s3_config.post_object_max_file_size = config.server.max_form_file_bytes.min(config.storage.max_object_size);
        b.set_config(Arc::new(s3s::config::StaticConfigProvider::new(Arc::new(s3_config))));
        Ok(Self {
            s3: b.build(),
            store,
            keys,
            console: config.console.enabled.then(|| {
                crate::console::Console::new(Duration::from_secs(config.console.idle_timeout_secs), Duration::from_secs(config.console.max_session_secs))
            }),
            backends,
            jobs,
            metrics,
            limiter,
            denials,
            configs,
            domains,
            generated_root: generated.then(|| (root_key.clone(), root_secret)),
            root_access_key: root_key,
            host_id: host_id(),
            member,
            control,
            config,
        })
    }

    /// Makes all metadata durable (on shutdown).
    pub async fn flush(&self) -> Result<(), crate::meta::Error> {
        self.store.flush().await
    }
}

/// The backends holding the gateway's buckets: the configured one, and the other if
/// `tollgate migrate --bucket` moved a bucket there.
fn open_backends(config: &Config, store: &Arc<dyn Store>, prover: Option<&Arc<Prover>>) -> Result<Arc<Backends>, Error> {
    let placement = Placement::load(store.as_ref(), config.backend)?;
    let mut local: Option<Arc<dyn Engine>> = None;
    if placement.uses(BackendKind::Local) {
        local = Some(Arc::new(local_backend(config, Arc::clone(store), prover.cloned())?));
    }
    let mut upstream: Option<Arc<dyn Engine>> = None;
    if placement.uses(BackendKind::Upstream) && !config.upstream.endpoint.is_empty() {
        upstream = Some(Arc::new(upstream_backend(config, Arc::clone(store), prover.cloned())?));
    }
    let backends =
        Backends::new(Arc::clone(store), placement, local, upstream).map_err(|e| Error::Config(format!("{e}: configure [upstream] (or --upstream URL)")))?;
    Ok(Arc::new(backends))
}

/// The local-disk backend `config` describes.
pub fn local_backend(config: &Config, store: Arc<dyn Store>, prover: Option<Arc<Prover>>) -> Result<LocalBackend, Error> {
    let opts =
        LocalOptions { fsync: config.storage.fsync, max_object_size: config.storage.max_object_size, body_idle_timeout: config.server.body_idle_timeout() };
    Ok(LocalBackend::open(&config.data_dir, store, opts, prover)?)
}

/// The upstream backend `config` describes.
pub fn upstream_backend(config: &Config, store: Arc<dyn Store>, prover: Option<Arc<Prover>>) -> Result<UpstreamBackend, Error> {
    let up = &config.upstream;
    let secret = up.secret().map_err(|e| Error::Config(e.to_string()))?;
    let mapping = if up.bucket.is_empty() { Mapping::Buckets { prefix: up.bucket_prefix.clone() } } else { Mapping::Prefix { bucket: up.bucket.clone() } };
    Ok(UpstreamBackend::open(
        store,
        prover,
        UpstreamOptions {
            client: ClientOptions {
                endpoint: up.endpoint.clone(),
                region: up.region.clone(),
                access_key: up.access_key.clone(),
                secret_key: auth::Secret::new(secret),
                path_style: up.path_style,
                connect_timeout: Duration::from_millis(up.connect_timeout_ms),
                timeout: Duration::from_secs(up.timeout_secs),
                retries: up.retries,
                retry_base: Duration::from_millis(up.retry_base_ms),
                pool_idle: Duration::from_secs(up.pool_idle_secs),
            },
            mapping,
            max_object_size: config.storage.max_object_size,
            body_idle_timeout: config.server.body_idle_timeout(),
            fsync: config.storage.fsync,
            mirror: (!up.meta_bucket.is_empty()).then(|| MirrorTarget { bucket: up.meta_bucket.clone(), instance: up.instance.clone() }),
            spool_dir: config.data_dir.join("spool"),
        },
    )?)
}

/// Refuses to serve with a backend that does not hold the objects (the configuration
/// changed without `tollgate migrate`); records the backend on first start.
fn check_holding_backend(store: &dyn Store, configured: BackendKind) -> Result<(), Error> {
    match store.setting_get(HOLDING_BACKEND)? {
        None => Ok(store.setting_put(HOLDING_BACKEND, configured.name())?),
        Some(held) if held == configured.name() => Ok(()),
        Some(held) => Err(Error::Config(format!(
            "the objects are held by the {held} backend, but backend = \"{}\": run `tollgate migrate --from {held} --to {}` first (or set backend = \"{held}\")",
            configured.name(),
            configured.name()
        ))),
    }
}

/// The keys' signature check; a key not known here is looked for in the cluster's control
/// log once (it may have been created on another instance a moment ago).
struct ArcAuth(Arc<KeyStore>, Arc<ControlPlane>);

#[async_trait::async_trait]
impl s3s::auth::S3Auth for ArcAuth {
    async fn get_secret_key(&self, access_key: &str) -> s3s::S3Result<s3s::auth::SecretKey> {
        match self.0.get_secret_key(access_key).await {
            Err(e) if self.1.clustered() && *e.code() == s3s::S3ErrorCode::InvalidAccessKeyId => {
                self.1.refresh().await;
                self.0.get_secret_key(access_key).await
            }
            found => found,
        }
    }
}

/// A request id: 16 random upper-case hex digits, as AWS's look (never a counter, which
/// would tell a caller how busy the gateway is).
fn request_id() -> String {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).expect("the OS random source is available");
    hex_simd::encode_to_string(b, hex_simd::AsciiCase::Upper)
}

/// A per-process `HostId`: base64 of 24 random bytes (AWS's are opaque base64 too).
fn host_id() -> String {
    let mut b = [0u8; 24];
    getrandom::fill(&mut b).expect("the OS random source is available");
    base64_simd::STANDARD.encode_to_string(b)
}

/// The codes whose error document names the resource (`<Resource>`, the request path), as
/// S3's do: what does not exist, what may not be touched, and bucket name conflicts.
fn names_resource(code: &str) -> bool {
    code.starts_with("NoSuch") || matches!(code, "AccessDenied" | "BucketNotEmpty" | "BucketAlreadyExists" | "BucketAlreadyOwnedByYou" | "InvalidBucketName")
}

fn escape_text(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Completes an S3 XML error document with what S3 puts in every one: `RequestId` (the
/// `x-amz-request-id` header), `HostId` (the `x-amz-id-2` header) and, for errors about a
/// resource, `Resource`. `None` if `body` is not an error document or lacks nothing.
///
/// Done here, on the serialized answer, rather than on [`s3s::S3Error`]s before s3s writes
/// them: the errors of s3s itself (signature, parsing, routing) never pass through tollgate
/// code, and s3s's serializer writes neither `HostId` nor `Resource`. Error answers are
/// small and fully buffered (`Body::bytes`), so rewriting one costs a copy of a few hundred
/// bytes, and only on errors.
fn complete_error_document(body: &[u8], request_id: &str, host_id: &str, resource: &str) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(body).ok()?;
    let trimmed = text.trim_end();
    let rest = trimmed.strip_prefix("<?xml").map_or(Some(trimmed), |r| r.find("?>").map(|i| r[i + 2..].trim_start()))?;
    if !rest.starts_with("<Error>") || !trimmed.ends_with("</Error>") {
        return None;
    }
    let code = rest.find("<Code>").and_then(|i| rest[i + 6..].find("</Code>").map(|j| &rest[i + 6..i + 6 + j])).unwrap_or("");
    let mut added = String::new();
    if names_resource(code) && !rest.contains("<Resource>") {
        added.push_str(&format!("<Resource>{}</Resource>", escape_text(resource)));
    }
    if !rest.contains("<RequestId>") {
        added.push_str(&format!("<RequestId>{}</RequestId>", escape_text(request_id)));
    }
    if !rest.contains("<HostId>") {
        added.push_str(&format!("<HostId>{}</HostId>", escape_text(host_id)));
    }
    if added.is_empty() {
        return None;
    }
    let end = trimmed.len() - "</Error>".len();
    Some([&trimmed.as_bytes()[..end], added.as_bytes(), b"</Error>"].concat())
}

/// Completes the error document of `resp` (see [`complete_error_document`]), if it is one.
fn complete_error_answer(resp: &mut http::Response<s3s::Body>, request_id: &str, host_id: &str, resource: &str) {
    if resp.status().as_u16() < 400 {
        return;
    }
    let Some(body) = resp.body().bytes() else { return };
    if let Some(done) = complete_error_document(&body, request_id, host_id, resource) {
        if resp.headers().contains_key(http::header::CONTENT_LENGTH) {
            resp.headers_mut().insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(done.len()));
        }
        *resp.body_mut() = s3s::Body::from(bytes::Bytes::from(done));
    }
}

/// The client's fault behind s3s's 501 on a POST, if its message shows one.
fn form_fault(resp: &http::Response<s3s::Body>) -> Option<crate::auth::screen::Refusal> {
    let body = resp.body().bytes()?;
    let says = |what: &str| body.windows(what.len()).any(|w| w == what.as_bytes());
    let (code, message) = if says("x-amz-algorithm") {
        ("InvalidArgument", "The form's x-amz-algorithm must be AWS4-HMAC-SHA256.")
    } else if says("Unknown operation") {
        ("MalformedPOSTRequest", "The body of your POST request is not well-formed multipart/form-data.")
    } else {
        return None;
    };
    Some(crate::auth::screen::Refusal { status: http::StatusCode::BAD_REQUEST, code, message: message.into(), details: Vec::new() })
}

/// An S3 XML error answer made by the server itself (before s3s).
fn refusal_response(refusal: &crate::auth::screen::Refusal, request_id: &str) -> http::Response<s3s::Body> {
    http::Response::builder()
        .status(refusal.status)
        .header(http::header::CONTENT_TYPE, "application/xml")
        .body(s3s::Body::from(refusal.to_xml(request_id)))
        .unwrap_or_default()
}

/// The refusal of a configuration document over `limit` bytes.
fn too_big(limit: u64) -> crate::auth::screen::Refusal {
    crate::auth::screen::Refusal {
        status: http::StatusCode::BAD_REQUEST,
        code: "MaxMessageLengthExceeded",
        message: format!("Your request was too big: configuration documents are at most {limit} bytes (server.max_xml_body_bytes)."),
        details: Vec::new(),
    }
}

/// The client's fault behind s3s's internal error on a configuration document, if its body
/// shows one: too large, or not the body `x-amz-content-sha256` declared.
fn client_fault_of(seen: &std::sync::Mutex<Seen>, declared_sha256: Option<&str>, limit: u64) -> Option<crate::auth::screen::Refusal> {
    let seen = seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if seen.exceeded {
        return Some(too_big(limit));
    }
    declared_sha256.filter(|d| seen.contradicts(d)).map(|_| crate::auth::screen::Refusal {
        status: http::StatusCode::BAD_REQUEST,
        code: "XAmzContentSHA256Mismatch",
        message: "The provided 'x-amz-content-sha256' header does not match what was computed.".into(),
        details: Vec::new(),
    })
}

/// The answer to a browser's preflight (`OPTIONS` on a bucket or object): counted against the
/// address's anonymous request rate (it carries no credentials), then answered from the
/// bucket's CORS rules ([`crate::cors_http::preflight`]). `OPTIONS` on the service root
/// names no bucket: 400, as S3.
fn preflight(app: &App, peer: SocketAddr, req: &http::Request<Incoming>, request_id: &str) -> http::Response<s3s::Body> {
    if let Err(throttled) = app.limiter.admit(&crate::auth::Principal::Anonymous, peer.ip(), crate::limits::Class::Read) {
        return slow_down(throttled, request_id);
    }
    let Some((bucket, has_key)) = crate::cors_http::addressed(app.domains.as_ref().map(|d| d as &dyn s3s::host::S3Host), req.headers(), req.uri()) else {
        let refusal = crate::auth::screen::Refusal {
            status: http::StatusCode::BAD_REQUEST,
            code: "BadRequest",
            message: "Insufficient information. A bucket is needed.".into(),
            details: Vec::new(),
        };
        return refusal_response(&refusal, request_id);
    };
    let answer = crate::cors_http::preflight(&app.configs, app.store.as_ref(), &bucket, has_key, req.headers());
    let mut resp = match &answer.refusal {
        None => http::Response::builder().status(http::StatusCode::OK).body(s3s::Body::empty()).unwrap_or_default(),
        Some(refusal) => refusal_response(refusal, request_id),
    };
    resp.headers_mut().extend(answer.headers);
    resp
}

/// The answer to an address that spent its budget of unauthenticated failures.
fn slow_down(throttled: crate::limits::Throttled, request_id: &str) -> http::Response<s3s::Body> {
    let retry = throttled.retry_after.as_secs() + u64::from(throttled.retry_after.subsec_nanos() > 0);
    let refusal = crate::auth::screen::Refusal {
        status: http::StatusCode::SERVICE_UNAVAILABLE,
        code: "SlowDown",
        message: "Please reduce your request rate.".into(),
        details: Vec::new(),
    };
    let mut resp = refusal_response(&refusal, request_id);
    resp.headers_mut().insert(http::header::RETRY_AFTER, http::HeaderValue::from(retry.max(1)));
    resp
}

/// Removes a `Range` header S3 would ignore: one it cannot parse, or a multi-range one
/// (S3 serves one range at most, and answers the whole object to anything else). A header
/// the signature covers stays (dropping it would break the signature): s3s refuses it
/// with `400 InvalidArgument`.
fn drop_ignored_range(req: &mut http::Request<Incoming>) {
    if !matches!(*req.method(), http::Method::GET | http::Method::HEAD) {
        return;
    }
    let ignored = req.headers().get(http::header::RANGE).is_some_and(|v| match v.to_str() {
        Ok(s) => s.contains(',') || s3s::dto::Range::parse(s).is_err(),
        Err(_) => true,
    });
    if crate::auth::screen::signs_header(req.uri().query().unwrap_or(""), req.headers(), "range") {
        return;
    }
    let open_ended = req.headers().get(http::header::RANGE).and_then(|v| v.to_str().ok()).and_then(open_ended_range);
    if let Some(v) = open_ended.and_then(|r| http::HeaderValue::from_str(&r).ok()) {
        req.headers_mut().insert(http::header::RANGE, v);
    } else if ignored {
        req.headers_mut().remove(http::header::RANGE);
    }
}

/// `bytes=N-` for `bytes=N-M` whose end is too large a number to parse (a range to the end
/// of the object, RFC 9110 clamps it), if N itself is one.
fn open_ended_range(range: &str) -> Option<String> {
    let (first, last) = range.strip_prefix("bytes=")?.split_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (digits(first) && digits(last) && first.parse::<i64>().is_ok() && last.parse::<i64>().is_err()).then(|| format!("bytes={first}-"))
}

/// Whether a request announces a body (which an early refusal leaves unread).
fn has_body(headers: &http::HeaderMap) -> bool {
    headers.contains_key(http::header::TRANSFER_ENCODING) || declared_length(headers, "content-length").is_some_and(|n| n > 0)
}

/// Serves one request: the web console's own (which makes its gateway requests through
/// [`handle_inner`]), or any other.
async fn handle(app: Arc<App>, peer: SocketAddr, transport: Transport, req: http::Request<Incoming>) -> Result<http::Response<s3s::Body>, Infallible> {
    let head = req.method() == http::Method::HEAD;
    let mut resp = route(app, peer, transport, req).await;
    // An answer to HEAD has no body, errors included: HTTP/1.1 drops one, but over HTTP/2
    // DATA on a HEAD stream is a protocol error that makes clients reset the stream.
    if head {
        *resp.body_mut() = s3s::Body::empty();
    }
    Ok(resp)
}

/// Sends a request to the console, the S3 front or the gateway's own endpoints.
async fn route(app: Arc<App>, peer: SocketAddr, transport: Transport, mut req: http::Request<Incoming>) -> http::Response<s3s::Body> {
    req.extensions_mut().insert(transport);
    let path = req.uri().path();
    if transport.health_only && !matches!(own_endpoint(path), Some(RequestKind::Health | RequestKind::Ready | RequestKind::Metrics)) {
        let mut resp = http::Response::new(s3s::Body::from("This listener serves /health, /ready and /metrics only.\n".to_owned()));
        *resp.status_mut() = http::StatusCode::NOT_FOUND;
        return resp;
    }
    if path.strip_prefix(crate::console::PREFIX.trim_end_matches('/')).is_some_and(|rest| rest.is_empty() || rest.starts_with('/')) {
        return crate::console::serve(&app, peer, req).await;
    }
    handle_inner(app, peer, req).await
}

/// Serves a request to the S3 front or the gateway's endpoints (admin, proofs, health, metrics).
async fn handle_inner(app: Arc<App>, peer: SocketAddr, mut req: http::Request<Incoming>) -> http::Response<s3s::Body> {
    let request_id = request_id();
    let admission = Arc::new(std::sync::OnceLock::new());
    let operation = Arc::new(std::sync::OnceLock::new());
    let context = RequestContext {
        request_id: request_id.clone(),
        peer,
        secure: req.extensions().get::<Transport>().is_some_and(|t| t.tls),
        admission: Arc::clone(&admission),
        operation: Arc::clone(&operation),
        granted_by: Arc::default(),
        object_grant: Arc::default(),
        authenticated: Arc::default(),
    };
    req.extensions_mut().insert(context.clone());
    drop_ignored_range(&mut req);
    let bytes_in = declared_length(req.headers(), "x-amz-decoded-content-length").or_else(|| declared_length(req.headers(), "content-length"));
    let own_endpoint = own_endpoint(req.uri().path());
    let expects_continue = req.headers().get(http::header::EXPECT).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let body_announced = has_body(req.headers());
    let is_post = *req.method() == http::Method::POST;
    let config_document = body_announced && is_config_request(req.method(), req.uri().query().unwrap_or(""), req.headers());
    let xml_limit = app.config.server.max_xml_body_bytes as u64;
    let seen = Arc::new(std::sync::Mutex::new(Seen::default()));
    let declared_sha256 = req.headers().get("x-amz-content-sha256").and_then(|v| v.to_str().ok()).map(str::to_owned);
    // The request path; a bucket's without the slash SDKs add (`/bucket/` is `/bucket`).
    let resource = {
        let path = req.uri().path();
        let bucket_only = path.strip_suffix('/').filter(|p| p.len() > 1 && !p[1..].contains('/'));
        bucket_only.unwrap_or(path).to_owned()
    };
    // A browser's request (it names its origin), and the bucket it addresses: the CORS
    // rules decide the preflight's answer and the headers of every other answer.
    let origin = req.headers().get(http::header::ORIGIN).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let addressed = match (&origin, own_endpoint) {
        (Some(_), None) => crate::cors_http::addressed(app.domains.as_ref().map(|d| d as &dyn s3s::host::S3Host), req.headers(), req.uri()),
        _ => None,
    };
    let is_preflight = *req.method() == http::Method::OPTIONS && own_endpoint.is_none();
    let method = req.method().as_str().to_owned();
    let span = tracing::info_span!("request", id = %request_id, method = %req.method(), path = %req.uri().path(), peer = %peer);
    async move {
        let _in_flight = app.metrics.start_request();
        let started = std::time::Instant::now();
        // Refused before authentication (an address over its failure budget, or
        // authentication parameters AWS would refuse).
        let mut pre_refused = false;
        let mut resp = match obs::route(app.as_ref(), &app.metrics, &req).await {
            Some(resp) => resp,
            None => {
                if let Some(throttled) = app.limiter.blocked(peer.ip()) {
                    pre_refused = true;
                    slow_down(throttled, &request_id)
                } else if is_preflight {
                    preflight(&app, peer, &req, &request_id)
                } else if let Err(refusal) = crate::auth::screen::screen(req.uri().query().unwrap_or(""), req.headers(), &app.config.region)
                    .and_then(|()| crate::auth::screen::screen_form(req.method(), req.headers()))
                {
                    tracing::info!(code = refusal.code, reason = %refusal.message, "request refused before authentication");
                    pre_refused = true;
                    refusal_response(&refusal, &request_id)
                } else if config_document && bytes_in.is_some_and(|n| n > xml_limit) {
                    refusal_response(&too_big(xml_limit), &request_id)
                } else {
                    let (limited, admission) = (app.config.limits.enabled, Arc::clone(&admission));
                    // A form upload's file name, for its key's `${filename}` (see crate::post).
                    let boundary = if is_post { crate::post::form_boundary(req.headers()) } else { None };
                    let form_file = crate::post::FormFile::default();
                    req.extensions_mut().insert(form_file.clone());
                    let req = req.map(|body| crate::post::FormTap::new(body, boundary.as_deref(), form_file));
                    let req = req.map(|body| match (config_document, limited) {
                        (true, true) => s3s::Body::http_body(MeteredBody::new(XmlBody::new(body, xml_limit, Arc::clone(&seen)), admission)),
                        (true, false) => s3s::Body::http_body(XmlBody::new(body, xml_limit, Arc::clone(&seen))),
                        (false, true) => s3s::Body::http_body(MeteredBody::new(body, admission)),
                        (false, false) => s3s::Body::http_body(body),
                    });
                    match app.s3.call(req).await {
                        Ok(resp) if config_document && resp.status() == http::StatusCode::INTERNAL_SERVER_ERROR => {
                            client_fault_of(&seen, declared_sha256.as_deref(), xml_limit).map_or(resp, |refusal| refusal_response(&refusal, &request_id))
                        }
                        // s3s answers a POST it cannot read as a form (or as any operation),
                        // or a form naming another signing algorithm, 501, as if the gateway
                        // lacked something: it is the request's fault.
                        Ok(resp) if is_post && resp.status() == http::StatusCode::NOT_IMPLEMENTED => match form_fault(&resp) {
                            Some(refusal) => refusal_response(&refusal, &request_id),
                            None => resp,
                        },
                        Ok(resp) => resp,
                        Err(e) => {
                            tracing::warn!(error = ?e, "request aborted");
                            http::Response::builder().status(http::StatusCode::INTERNAL_SERVER_ERROR).body(s3s::Body::empty()).unwrap_or_default()
                        }
                    }
                }
            }
        };
        if is_post {
            crate::post::complete_refusal(&mut resp, &request_id);
            crate::post::complete_answer(&mut resp);
        }
        complete_error_answer(&mut resp, &request_id, &app.host_id, &resource);
        if !is_preflight && let (Some(origin), Some((bucket, _))) = (&origin, &addressed) {
            crate::cors_http::decorate(&app.configs, bucket, origin, &method, resp.headers_mut());
        }
        if let Ok(v) = http::HeaderValue::from_str(&request_id) {
            resp.headers_mut().insert("x-amz-request-id", v);
        }
        if let Ok(v) = http::HeaderValue::from_str(&app.host_id) {
            resp.headers_mut().insert("x-amz-id-2", v);
        }
        if (expects_continue || body_announced) && !resp.status().is_success() {
            // A refusal, perhaps before the body was read (or asked for): the client may
            // or may not send the rest now, so the connection cannot be trusted for another
            // request (botocore skips the body after a refused 100-continue, and hyper
            // sometimes read the next request's first bytes as it).
            resp.headers_mut().insert(http::header::CONNECTION, http::HeaderValue::from_static("close"));
        }
        if let Some(a) = admission.get() {
            if let Some((limit, remaining, reset)) = a.headers {
                let h = resp.headers_mut();
                h.insert("ratelimit-limit", limit.into());
                h.insert("ratelimit-remaining", remaining.into());
                h.insert("ratelimit-reset", reset.into());
            }
            if !a.bytes.is_empty() {
                resp = resp.map(|body| s3s::Body::http_body(MeteredBody::new(body, admission)));
            }
        }
        let status = resp.status().as_u16();
        let own_endpoint = own_endpoint.or(is_preflight.then_some(RequestKind::Preflight));
        let kind = operation.get().copied().map(RequestKind::S3).or(own_endpoint).unwrap_or(RequestKind::Unidentified);
        // A preflight refused by the CORS rules is no failed authentication (a browser sends
        // no credentials): the address's anonymous rate counts preflights instead.
        if pre_refused || (status == 403 && !context.is_authenticated() && !is_preflight) {
            app.unauthenticated_refusal(peer.ip(), kind, &request_id);
        }
        let bytes_out = declared_length(resp.headers(), "content-length");
        app.metrics.request_done(kind, status, started.elapsed(), bytes_in.unwrap_or(0), bytes_out.unwrap_or(0));
        let ms = started.elapsed().as_secs_f64() * 1e3;
        if status >= 500 {
            tracing::warn!(status, ms, "served");
        } else if status >= 400 {
            tracing::info!(status, ms, "served");
        } else {
            tracing::debug!(status, ms, "served");
        }
        resp
    }
    .instrument(span)
    .await
}

fn declared_length(headers: &http::HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.parse().ok()
}

/// Which of the gateway's own endpoints a path is (the S3 operations are identified by the
/// access check).
fn own_endpoint(path: &str) -> Option<RequestKind> {
    match path {
        "/health" => Some(RequestKind::Health),
        "/ready" => Some(RequestKind::Ready),
        "/metrics" => Some(RequestKind::Metrics),
        p if p.starts_with(crate::admin::PREFIX) => Some(RequestKind::Admin),
        p if p.starts_with(crate::admin::proofs::PREFIX) => Some(RequestKind::Proofs),
        _ => None,
    }
}

#[async_trait::async_trait]
impl Readiness for App {
    /// Whether the gateway can serve: its metadata store takes a durable write (synced, so
    /// a full or failing disk shows) and its backend answers. Otherwise, what failed, by part.
    async fn ready(&self) -> Result<(), Unready> {
        let written = self.store.setting_put("ready.probe", &crate::clock::now_ns().to_string());
        let synced = match written {
            Ok(()) => self.store.flush().await,
            Err(e) => Err(e),
        };
        let failed = Unready {
            backend: self.backends.ready().await.err().map(|e| e.to_string()),
            control: self.control.staleness(),
            metadata: synced.err().map(|e| format!("not writable: {e}")),
        };
        if failed.backend.is_none() && failed.metadata.is_none() && failed.control.is_none() { Ok(()) } else { Err(failed) }
    }

    fn metadata_size(&self) -> u64 {
        self.store.size_on_disk().unwrap_or(0)
    }
}

impl crate::console::Host for App {
    fn console(&self) -> Option<&crate::console::Console> {
        self.console.as_ref()
    }

    fn keys(&self) -> &KeyStore {
        &self.keys
    }

    fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    fn region(&self) -> &str {
        &self.config.region
    }

    fn sign_in_blocked(&self, source: std::net::IpAddr) -> bool {
        self.limiter.blocked(source).is_some()
    }

    /// A refused sign-in (wrong secret, unknown or disabled key) counts as any
    /// unauthenticated refusal: counted, charged to the address's failure budget, audited.
    fn sign_in_failed(&self, source: std::net::IpAddr) {
        self.unauthenticated_refusal(source, RequestKind::Console, &request_id());
    }

    fn forward(self: Arc<Self>, peer: SocketAddr, req: http::Request<Incoming>) -> std::pin::Pin<Box<dyn Future<Output = http::Response<s3s::Body>> + Send>> {
        Box::pin(handle_inner(self, peer, req))
    }
}

impl App {
    /// Records a request refused without a verified signature: counted, charged to the
    /// source address's failure budget, and audited with the others of its address and
    /// minute (see [`crate::audit::DenialLog`]).
    fn unauthenticated_refusal(&self, source: std::net::IpAddr, request: RequestKind, request_id: &str) {
        self.metrics.unauthenticated_denial();
        self.limiter.charge_failure(source);
        self.denials.record(self.store.as_ref(), source, request, request_id, crate::clock::now_ns());
    }
}

/// Writes the unauthenticated denials of past minutes every few seconds, until `stopped`.
async fn flush_denials(app: Arc<App>, mut stopped: tokio::sync::watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_secs(10));
    loop {
        tokio::select! {
            _ = tick.tick() => {
                app.denials.flush(app.store.as_ref(), crate::clock::now_ns(), false);
            }
            _ = stopped.changed() => return,
        }
    }
}

/// Where the server listens.
pub struct Listeners {
    /// S3, admin, proofs and console: HTTPS when `[tls]` is set.
    pub main: TcpListener,
    /// `tls.plain_health_listen`: `/health`, `/ready` and `/metrics` only, in plain HTTP.
    pub health: Option<TcpListener>,
}

impl From<TcpListener> for Listeners {
    fn from(main: TcpListener) -> Self {
        Self { main, health: None }
    }
}

/// The next connection on `listener`; never, without one.
async fn accept_on(listener: Option<&TcpListener>) -> std::io::Result<(TcpStream, SocketAddr)> {
    match listener {
        Some(l) => l.accept().await,
        None => std::future::pending().await,
    }
}

/// Serves `listeners` until `shutdown` completes, then lets in-flight requests finish
/// (up to the configured grace period) and flushes the metadata.
pub async fn run(listeners: impl Into<Listeners>, app: App, shutdown: impl Future<Output = ()>) -> std::io::Result<()> {
    let Listeners { main: listener, health } = listeners.into();
    let tls = crate::tls::Acceptor::from_config(&app.config.tls).map_err(|e| std::io::Error::other(format!("cannot serve TLS: {e}")))?;
    // Before any request can touch their keys.
    app.backends.finish_pending().await.map_err(|e| std::io::Error::other(format!("cannot finish the writes pending since the last stop: {e}")))?;
    let app = Arc::new(app);
    let mut conn_builder = ConnBuilder::new(TokioExecutor::new());
    conn_builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(app.config.server.header_timeout_secs))
        .max_buf_size(app.config.server.max_header_bytes.max(8192));
    conn_builder.http2().timer(TokioTimer::new());
    let conn_builder = Arc::new(conn_builder);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let (stop_jobs, jobs_stopped) = tokio::sync::watch::channel(false);
    let jobs = app.jobs.start(&jobs_stopped);
    let denial_flusher = tokio::spawn(flush_denials(Arc::clone(&app), jobs_stopped.clone()));
    if let Some(tls) = &tls {
        tokio::spawn(Arc::clone(tls).watch(Duration::from_secs(app.config.tls.reload_check_secs), jobs_stopped.clone()));
    }
    let mut shutdown = std::pin::pin!(shutdown);
    tracing::info!(addr = %listener.local_addr()?, tls = tls.is_some(), "listening");
    if let Some(h) = &health {
        tracing::info!(addr = %h.local_addr()?, "listening for health checks (plain HTTP)");
    }
    let handshake_timeout = Duration::from_secs(app.config.server.header_timeout_secs);
    loop {
        let (accepted, on_health) = tokio::select! {
            accepted = listener.accept() => (accepted, false),
            accepted = accept_on(health.as_ref()) => (accepted, true),
            () = shutdown.as_mut() => break,
        };
        let (stream, peer) = match accepted {
            Ok(conn) => conn,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::error!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Without TCP_NODELAY small responses wait on delayed ACKs (~40 ms).
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "set_nodelay failed");
        }
        let tls = tls.as_ref().filter(|_| !on_health).map(|t| t.config());
        let transport = Transport { tls: tls.is_some(), health_only: on_health };
        let app = Arc::clone(&app);
        let service = service_fn(move |req| handle(Arc::clone(&app), peer, transport, req));
        let (builder, watcher) = (Arc::clone(&conn_builder), graceful.watcher());
        tokio::spawn(async move {
            let served = match tls {
                None => watcher.watch(builder.serve_connection(TokioIo::new(stream), service).into_owned()).await,
                // The handshake runs here, not in the accept loop, bounded like a request's headers.
                Some(config) => match tokio::time::timeout(handshake_timeout, tokio_rustls::TlsAcceptor::from(config).accept(stream)).await {
                    Ok(Ok(stream)) => watcher.watch(builder.serve_connection(TokioIo::new(stream), service).into_owned()).await,
                    Ok(Err(e)) => return tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                    Err(_) => return tracing::debug!(%peer, "TLS handshake timed out"),
                },
            };
            if let Err(e) = served {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    tracing::info!("shutting down: finishing in-flight requests");
    let _ = stop_jobs.send(true);
    let grace = Duration::from_secs(app.config.server.shutdown_grace_secs);
    let requests_done = async {
        if tokio::time::timeout(grace, graceful.shutdown()).await.is_err() {
            tracing::warn!(grace_secs = grace.as_secs(), "in-flight requests did not finish in time");
        }
    };
    tokio::join!(requests_done, jobs.finish(Duration::from_secs(app.config.jobs.shutdown_deadline_secs)));
    let _ = denial_flusher.await;
    app.denials.flush(app.store.as_ref(), crate::clock::now_ns(), true);
    if let Some(m) = &app.member {
        let left = Member { heartbeat_ns: crate::clock::now_ns(), left: true, ..m.clone() };
        if let Err(e) = app.backends.heartbeat(&left).await {
            tracing::warn!(error = %e, "could not tell the cluster this instance left: it is counted gone after its heartbeats stop");
        }
    }
    // Last, so that it has the proofs and audit entries of every request served.
    match app.backends.mirror_metadata(false).await {
        Ok(Some(r)) => tracing::info!(manifests = r.manifests, audit_entries = r.audit_entries, "final metadata mirror pass"),
        Ok(None) => {}
        Err(e) => tracing::error!(error = %e, "final metadata mirror pass failed"),
    }
    if let Err(e) = app.flush().await {
        tracing::error!(error = %e, "final metadata flush failed");
    }
    tracing::info!("stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::complete_error_document;

    fn complete(body: &str) -> Option<String> {
        complete_error_document(body.as_bytes(), "RID", "HID", "/b/k&1").map(|v| String::from_utf8(v).unwrap())
    }

    #[test]
    fn error_documents_get_what_they_lack() {
        let s3s = r#"<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>m</Message></Error>"#;
        assert_eq!(
            complete(s3s).unwrap(),
            r#"<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>m</Message><Resource>/b/k&amp;1</Resource><RequestId>RID</RequestId><HostId>HID</HostId></Error>"#
        );
        // A code about no resource gets no Resource; a RequestId present is kept.
        let own = "<Error><Code>SlowDown</Code><Message>m</Message><RequestId>RID</RequestId></Error>";
        assert_eq!(complete(own).unwrap(), "<Error><Code>SlowDown</Code><Message>m</Message><RequestId>RID</RequestId><HostId>HID</HostId></Error>");
        let whole = "<Error><Code>SlowDown</Code><RequestId>R</RequestId><HostId>H</HostId></Error>";
        assert_eq!(complete(whole), None);
        // Not an error document: left alone.
        assert_eq!(complete(r#"{"error":"x"}"#), None);
        assert_eq!(complete("<ListBucketResult></ListBucketResult>"), None);
        assert_eq!(complete(""), None);
    }
}

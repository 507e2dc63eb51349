//! The upstream's HTTP client: pooled keep-alive connections (HTTP, or HTTPS through
//! rustls with the system's roots), SigV4 with `UNSIGNED-PAYLOAD` so bodies stream and are
//! never buffered, retries with exponential backoff and jitter for idempotent requests,
//! and a liveness watchdog instead of a total timeout: a 5 GiB upload may take minutes, a
//! silent upstream may not.

use super::body::Progress;
use crate::backend::Error;
use crate::backend::s3util::uri_encode;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use s3s::StdError;

/// A request body sent upstream.
pub type UpBody = http_body_util::combinators::UnsyncBoxBody<Bytes, StdError>;

/// The connection settings of an upstream.
pub struct ClientOptions {
    /// The service URL with its scheme (`https://s3.eu-west-1.amazonaws.com`).
    pub endpoint: String,
    /// The region requests are signed for.
    pub region: String,
    /// The gateway's own access key id at the upstream.
    pub access_key: String,
    /// The secret of `access_key`.
    pub secret_key: crate::auth::Secret,
    /// Name the bucket in the path (`endpoint/bucket/key`) rather than the host
    /// (`bucket.endpoint/key`).
    pub path_style: bool,
    /// How long a new connection may take to open.
    pub connect_timeout: Duration,
    /// How long the upstream may stay silent: before answering, or mid-transfer.
    pub timeout: Duration,
    /// Retries after the first attempt (idempotent requests, and any that never connected).
    pub retries: u32,
    /// The first retry's backoff; each next one doubles it, with jitter, up to 2 s.
    pub retry_base: Duration,
    /// How long an idle pooled connection is kept open.
    pub pool_idle: Duration,
}

/// Why a client cannot be set up from its options.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The endpoint is not `http://...` or `https://...`.
    #[error("the upstream endpoint needs a scheme")]
    NoScheme,
    /// An HTTPS endpoint, and the system has no root certificates to check it with.
    #[error("no TLS root certificates (install ca-certificates): {0}")]
    NoRootCertificates(std::io::Error),
    /// rustls refused the TLS configuration.
    #[error(transparent)]
    Tls(#[from] rustls::Error),
}

/// A signing, retrying HTTP client of one upstream, shared by every request.
pub struct Client {
    http: HyperClient<hyper_rustls::HttpsConnector<HttpConnector>, UpBody>,
    scheme: String,
    authority: String,
    region: String,
    identity: aws_smithy_runtime_api::client::identity::Identity,
    path_style: bool,
    timeout: Duration,
    retries: u32,
    retry_base: Duration,
}

/// One request to the upstream: an upstream bucket (empty: the service), a key (empty:
/// the bucket), sub-resources and headers.
#[derive(Debug, Clone)]
pub struct Call {
    /// The HTTP method.
    pub method: Method,
    /// The upstream bucket; empty for a service request (ListBuckets).
    pub bucket: String,
    /// The upstream key, unencoded; empty for a bucket request.
    pub key: String,
    /// Query parameters and sub-resources (`uploads`, `tagging`), unencoded.
    pub query: Vec<(String, String)>,
    /// Request headers; the signature's are added when it is sent.
    pub headers: HeaderMap,
}

impl Call {
    /// A request without query parameters or headers.
    pub fn new(method: Method, bucket: &str, key: &str) -> Self {
        Self { method, bucket: bucket.to_owned(), key: key.to_owned(), query: Vec::new(), headers: HeaderMap::new() }
    }

    /// Adds a query parameter (`value` empty for a bare sub-resource: `?uploads`).
    #[must_use]
    pub fn query(mut self, name: &str, value: impl Into<String>) -> Self {
        self.query.push((name.to_owned(), value.into()));
        self
    }

    /// Adds a header; values that are not valid header text are dropped (they came from
    /// a parsed client request, so they were valid there).
    #[must_use]
    pub fn header(mut self, name: &'static str, value: impl AsRef<str>) -> Self {
        if let Ok(v) = HeaderValue::from_str(value.as_ref()) {
            self.headers.append(name, v);
        }
        self
    }

    /// Adds a header if there is a value; `None` adds nothing.
    #[must_use]
    pub fn header_opt(self, name: &'static str, value: Option<impl AsRef<str>>) -> Self {
        match value {
            Some(v) => self.header(name, v),
            None => self,
        }
    }

    /// GET, HEAD and DELETE may be sent twice with the same effect.
    fn idempotent(&self) -> bool {
        matches!(self.method, Method::GET | Method::HEAD | Method::DELETE)
    }
}

impl Client {
    /// A client of `opts.endpoint`; connections are opened on first use. Fails on an
    /// endpoint without a scheme, or an HTTPS one when the system has no root certificates.
    pub fn new(opts: ClientOptions) -> Result<Self, SetupError> {
        let (scheme, authority) = opts.endpoint.trim_end_matches('/').split_once("://").ok_or(SetupError::NoScheme)?;
        let mut http = HttpConnector::new();
        http.set_nodelay(true);
        http.set_connect_timeout(Some(opts.connect_timeout));
        http.enforce_http(false);
        let tls = if scheme == "https" {
            hyper_rustls::HttpsConnectorBuilder::new().with_native_roots().map_err(SetupError::NoRootCertificates)?
        } else {
            // A plain-HTTP upstream needs no roots: a machine without any still works.
            let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()?
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth();
            hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(config)
        };
        let https = tls.https_or_http().enable_http1().wrap_connector(http);
        let client = HyperClient::builder(TokioExecutor::new()).pool_idle_timeout(opts.pool_idle).pool_timer(hyper_util::rt::TokioTimer::new()).build(https);
        let identity = aws_credential_types::Credentials::new(opts.access_key, opts.secret_key.expose().to_owned(), None, None, "tollgate-upstream").into();
        Ok(Self {
            http: client,
            scheme: scheme.to_owned(),
            authority: authority.to_owned(),
            region: opts.region,
            identity,
            path_style: opts.path_style,
            timeout: opts.timeout,
            retries: opts.retries,
            retry_base: opts.retry_base,
        })
    }

    /// The region requests are signed for (CreateBucket names it as the location).
    pub fn region(&self) -> &str {
        &self.region
    }

    fn url(&self, call: &Call) -> String {
        let key = uri_encode(&call.key, true);
        let mut url = match (call.bucket.is_empty(), self.path_style) {
            (true, _) => format!("{}://{}/", self.scheme, self.authority),
            (false, true) => format!("{}://{}/{}/{key}", self.scheme, self.authority, uri_encode(&call.bucket, false)),
            (false, false) => format!("{}://{}.{}/{key}", self.scheme, call.bucket, self.authority),
        };
        if !call.query.is_empty() {
            let mut q: Vec<String> = call
                .query
                .iter()
                .map(|(k, v)| if v.is_empty() { uri_encode(k, false) } else { format!("{}={}", uri_encode(k, false), uri_encode(v, false)) })
                .collect();
            q.sort();
            url.push('?');
            url.push_str(&q.join("&"));
        }
        url
    }

    /// Builds and signs the request of `call`.
    fn signed(&self, call: &Call, body: UpBody) -> Result<Request<UpBody>, Error> {
        use aws_sigv4::http_request::{PercentEncodingMode, SignableBody, SignableRequest, SigningSettings, UriPathNormalizationMode, sign};
        let url = self.url(call);
        let mut req =
            Request::builder().method(call.method.clone()).uri(&url).body(body).map_err(|e| Error::Unavailable(format!("bad upstream request: {e}")))?;
        *req.headers_mut() = call.headers.clone();
        req.headers_mut().insert("x-amz-content-sha256", HeaderValue::from_static("UNSIGNED-PAYLOAD"));
        let mut settings = SigningSettings::default();
        // S3 signs the path as sent: encoded once, never normalized.
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&self.identity)
            .region(&self.region)
            .name("s3")
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .map_err(|e| Error::Unavailable(format!("cannot sign: {e}")))?
            .into();
        // Values as UTF-8, not only ASCII (`to_str`): a non-ASCII x-amz-meta-* header left out
        // of the signature would be refused by the upstream as unsigned.
        let headers: Vec<(&str, &str)> = req.headers().iter().filter_map(|(k, v)| Some((k.as_str(), std::str::from_utf8(v.as_bytes()).ok()?))).collect();
        let signable = SignableRequest::new(call.method.as_str(), &url, headers.into_iter(), SignableBody::UnsignedPayload)
            .map_err(|e| Error::Unavailable(format!("cannot sign: {e}")))?;
        let (instructions, _) = sign(signable, &params).map_err(|e| Error::Unavailable(format!("cannot sign: {e}")))?.into_parts();
        instructions.apply_to_request_http1x(&mut req);
        Ok(req)
    }

    /// Sends a request with a small body (empty for most), retrying on connection failures
    /// and, for idempotent requests, on timeouts and 5xx answers. Returns the final
    /// answer, whatever its status.
    pub async fn send(&self, call: &Call, body: Bytes) -> Result<Response<Incoming>, Error> {
        let mut attempt = 0;
        loop {
            let req = self.signed(call, full(body.clone()))?;
            let result = tokio::time::timeout(self.timeout, self.http.request(req)).await;
            // A failed connection never reached the upstream: any request may be re-sent.
            let retry = attempt < self.retries
                && match &result {
                    Ok(Ok(resp)) => call.idempotent() && is_retryable_status(resp.status()),
                    Ok(Err(e)) => e.is_connect() || call.idempotent(),
                    Err(_) => call.idempotent(),
                };
            if !retry {
                return match result {
                    Ok(Ok(resp)) => Ok(resp),
                    Ok(Err(e)) => Err(Error::Unavailable(format!("{} {}: {e}", call.method, self.authority))),
                    Err(_) => Err(Error::Unavailable(format!("{} {}: no answer within {:?}", call.method, self.authority, self.timeout))),
                };
            }
            let delay = crate::retry::backoff(self.retry_base, attempt, Duration::from_secs(2));
            tracing::info!(attempt, delay_ms = delay.as_millis() as u64, method = %call.method, "retrying an upstream request");
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    /// Sends a request with a streamed body (never retried: the body is consumed). The
    /// upstream must keep reading: if it stalls for the timeout while the body has bytes
    /// for it, or does not answer that long after the body ended, the request fails.
    pub async fn send_body(&self, call: &Call, body: UpBody, progress: Arc<Progress>) -> Result<Response<Incoming>, Error> {
        let req = self.signed(call, body)?;
        tokio::select! {
            result = self.http.request(req) => result.map_err(|e| Error::Unavailable(format!("{} {}: {e}", call.method, self.authority))),
            () = progress.stalled(self.timeout) => Err(Error::Unavailable(format!("{} {}: the upstream stopped reading for {:?}", call.method, self.authority, self.timeout))),
        }
    }

    /// The answer if it is a success, else the upstream's S3 error.
    pub async fn ok(&self, resp: Response<Incoming>) -> Result<Response<Incoming>, Error> {
        if resp.status().is_success() {
            return Ok(resp);
        }
        Err(self.error_of(resp).await)
    }

    /// The whole (small) body of a successful answer: XML results.
    pub async fn xml(&self, resp: Response<Incoming>) -> Result<Bytes, Error> {
        let resp = self.ok(resp).await?;
        let body = self.read_small(resp).await?;
        // CopyObject and CompleteMultipartUpload may fail after a 200 has been sent.
        if super::xml::is_error(&body) {
            return Err(super::xml::error(StatusCode::INTERNAL_SERVER_ERROR, &body));
        }
        Ok(body)
    }

    async fn read_small(&self, resp: Response<Incoming>) -> Result<Bytes, Error> {
        let limited = http_body_util::Limited::new(resp.into_body(), 16 << 20);
        match tokio::time::timeout(self.timeout, limited.collect()).await {
            Ok(Ok(c)) => Ok(c.to_bytes()),
            Ok(Err(e)) => Err(Error::Unavailable(format!("reading an upstream answer: {e}"))),
            Err(_) => Err(Error::Unavailable("the upstream stopped sending its answer".into())),
        }
    }

    /// The S3 error an unsuccessful answer carries (HEAD answers have no body: their
    /// status decides).
    pub async fn error_of(&self, resp: Response<Incoming>) -> Error {
        let status = resp.status();
        match status {
            StatusCode::NOT_MODIFIED => return Error::NotModified(Box::new(crate::backend::s3util::not_modified_headers(resp.headers()))),
            StatusCode::PRECONDITION_FAILED => return Error::PreconditionFailed,
            _ => {}
        }
        let body = self.read_small(resp).await.unwrap_or_default();
        super::xml::error(status, &body)
    }
}

fn full(bytes: Bytes) -> UpBody {
    http_body_util::Full::new(bytes).map_err(|never| match never {}).boxed_unsync()
}

fn is_retryable_status(s: StatusCode) -> bool {
    matches!(s, StatusCode::INTERNAL_SERVER_ERROR | StatusCode::BAD_GATEWAY | StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT)
}

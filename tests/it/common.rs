//! The test harness: a real gateway on port 0 with a temporary data directory, an
//! aws-sdk-s3 client pointed at it, and a raw HTTP client for what SDKs will not send.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tollgate::config::Config;
use tollgate::server::{self, App};

pub const ACCESS_KEY: &str = "TGTESTROOTKEY0000001";
pub const SECRET_KEY: &str = "test-secret-key-0123456789abcdefghijklmn";

pub struct Gateway {
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    /// The local-disk gateway this one forwards to, when the suite runs through an
    /// upstream (`TOLLGATE_TEST_UPSTREAM=tollgate`).
    pub upstream: Option<Box<Gateway>>,
    /// Serving HTTPS (`[tls]`): its endpoint is `https://`, trusted through [`test_ca`].
    pub tls: bool,
    /// The plain-HTTP health listener (`tls.plain_health_listen`), if configured.
    pub health: Option<std::net::SocketAddr>,
}

/// The CA of the test certificates in `tests/fixtures/tls` (for 127.0.0.1 and localhost).
pub fn test_ca() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls/ca.pem")
}

/// A change to a gateway's configuration.
type ConfigTweak = Box<dyn FnOnce(&mut Config)>;

/// Upstreams of stopped gateways, by their data directory, for a restart.
static PARKED: std::sync::Mutex<Vec<(std::path::PathBuf, Box<Gateway>)>> = std::sync::Mutex::new(Vec::new());

/// Which storage the suite's gateways use: `TOLLGATE_TEST_UPSTREAM` unset (local disk),
/// `tollgate` (forwarding to a second, local-disk gateway, buckets one to one under the
/// name prefix `gw-`; prefix mapping has its own tests in `upstream`) or `moto` (forwarding to the moto server at `TOLLGATE_TEST_MOTO_URL`,
/// buckets one to one under a per-gateway name prefix).
pub fn upstream_mode() -> Option<String> {
    std::env::var("TOLLGATE_TEST_UPSTREAM").ok().filter(|m| !m.is_empty())
}

/// The prefix of a gateway's buckets on moto: named after its data directory, so that a
/// restarted gateway finds its buckets.
pub fn moto_bucket_prefix(data_dir: &std::path::Path) -> String {
    let digest = <sha2::Sha256 as sha2::Digest>::digest(data_dir.to_string_lossy().as_bytes());
    format!("m{}-", hex_simd::encode_to_string(&digest[..4], hex_simd::AsciiCase::Lower))
}

impl Gateway {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Starts a gateway whose config `tweak` may adjust.
    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self::start_in(dir, tweak).await
    }

    pub async fn start_in(dir: tempfile::TempDir, tweak: impl FnOnce(&mut Config)) -> Self {
        let mut upstream = None;
        let mut through: Option<ConfigTweak> = None;
        match upstream_mode().as_deref() {
            None => {}
            Some("tollgate") => {
                let parked = {
                    let mut parked = PARKED.lock().unwrap();
                    parked.iter().position(|(d, _)| d == dir.path()).map(|i| parked.remove(i).1)
                };
                let inner = match parked {
                    Some(up) => *up,
                    None => Self::start_local_in(tempfile::tempdir().unwrap(), |_| {}).await,
                };
                let endpoint = inner.endpoint();
                upstream = Some(Box::new(inner));
                through = Some(Box::new(move |cfg: &mut Config| {
                    cfg.backend = tollgate::config::BackendKind::Upstream;
                    cfg.upstream.endpoint = endpoint;
                    cfg.upstream.access_key = ACCESS_KEY.into();
                    cfg.upstream.secret_key = SECRET_KEY.into();
                    cfg.upstream.bucket_prefix = "gw-".into();
                }));
            }
            Some("moto") => {
                let endpoint = std::env::var("TOLLGATE_TEST_MOTO_URL").expect("TOLLGATE_TEST_UPSTREAM=moto needs TOLLGATE_TEST_MOTO_URL");
                let prefix = moto_bucket_prefix(dir.path());
                through = Some(Box::new(move |cfg: &mut Config| {
                    cfg.backend = tollgate::config::BackendKind::Upstream;
                    cfg.upstream.endpoint = endpoint;
                    cfg.upstream.access_key = "moto".into();
                    cfg.upstream.secret_key = "moto-secret".into();
                    cfg.upstream.bucket_prefix = prefix;
                }));
            }
            Some(other) => panic!("unknown TOLLGATE_TEST_UPSTREAM={other} (tollgate or moto)"),
        }
        let mut gw = Self::start_local_in(dir, |cfg| {
            if let Some(f) = through {
                f(cfg);
            }
            tweak(cfg);
        })
        .await;
        gw.upstream = upstream;
        gw
    }

    /// The directory where object bytes land on disk: this gateway's, or its local
    /// upstream's. Tests that inspect stored bytes need one (they are not run against moto).
    pub fn storage_dir(&self) -> &std::path::Path {
        match (&self.upstream, upstream_mode()) {
            (Some(up), _) => up.dir.path(),
            (None, None) => self.dir.path(),
            (None, Some(m)) => panic!("this test inspects stored bytes on disk; it cannot run with TOLLGATE_TEST_UPSTREAM={m}"),
        }
    }

    /// A gateway on the local-disk backend (whatever the suite's mode), with `tweak`.
    pub async fn start_local_in(dir: tempfile::TempDir, tweak: impl FnOnce(&mut Config)) -> Self {
        let mut cfg = Config { data_dir: dir.path().to_owned(), ..Config::default() };
        cfg.root.access_key = Some(ACCESS_KEY.into());
        cfg.root.secret_key = Some(SECRET_KEY.into());
        tweak(&mut cfg);
        let tls = cfg.tls.cert.is_some();
        let health = match cfg.tls.plain_health_listen {
            Some(a) => Some(tokio::net::TcpListener::bind(a).await.unwrap()),
            None => None,
        };
        let health_addr = health.as_ref().map(|l| l.local_addr().unwrap());
        let app = App::open(cfg).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            server::run(server::Listeners { main: listener, health }, app, async move {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        Self { addr, dir, stop: Some(stop), task: Some(task), upstream: None, tls, health: health_addr }
    }

    /// Stops the gateway gracefully and returns its data directory (its upstream, if any,
    /// keeps running for the next gateway started in that directory).
    pub async fn stop(mut self) -> tempfile::TempDir {
        if let Some(up) = self.upstream.take() {
            PARKED.lock().unwrap().push((self.dir.path().to_owned(), up));
        }
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        std::mem::replace(&mut self.dir, dir)
    }

    pub fn endpoint(&self) -> String {
        format!("{}://{}", if self.tls { "https" } else { "http" }, self.addr)
    }

    pub fn client(&self) -> Client {
        self.client_with(ACCESS_KEY, SECRET_KEY)
    }

    pub fn client_with(&self, access_key: &str, secret_key: &str) -> Client {
        client_for(&self.endpoint(), access_key, secret_key)
    }

    /// An S3 client of the storage behind the gateway and the name `bucket` has there
    /// (`None` on the local backend).
    pub fn behind(&self, bucket: &str) -> Option<(Client, String)> {
        match upstream_mode().as_deref() {
            None => None,
            Some("moto") => {
                let url = std::env::var("TOLLGATE_TEST_MOTO_URL").unwrap();
                Some((client_for(&url, "moto", "moto-secret"), format!("{}{bucket}", moto_bucket_prefix(self.dir.path()))))
            }
            Some(_) => Some((self.upstream.as_ref().unwrap().client(), format!("gw-{bucket}"))),
        }
    }

    /// A fresh bucket.
    pub async fn bucket(&self, name: &str) -> String {
        self.client().create_bucket().bucket(name).send().await.unwrap();
        name.to_owned()
    }
}

/// An aws-sdk-s3 client for `endpoint` (path style, us-east-1; an `https://` one trusts
/// only [`test_ca`]).
pub fn client_for(endpoint: &str, access_key: &str, secret_key: &str) -> Client {
    use aws_smithy_http_client::tls;
    let http = if endpoint.starts_with("https://") {
        let trust = tls::TrustStore::empty().with_native_roots(false).with_pem_certificate(std::fs::read(test_ca()).unwrap());
        aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::Ring))
            .tls_context(tls::TlsContext::builder().with_trust_store(trust).build().unwrap())
            .build_https()
    } else {
        aws_smithy_http_client::Builder::new().build_http()
    };
    let creds = Credentials::new(access_key, secret_key, None, None, "test");
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(creds)
        .force_path_style(true)
        .http_client(http)
        .build();
    Client::from_conf(conf)
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// A raw HTTP/1.1 response.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Signs a request (SigV4 header auth, `UNSIGNED-PAYLOAD`) and returns its headers.
pub fn sign(method: &str, url: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    sign_with(method, url, extra, "UNSIGNED-PAYLOAD")
}

/// Signs a request (SigV4 header auth) with `payload` as its `x-amz-content-sha256` (a hex
/// digest, `UNSIGNED-PAYLOAD` or a streaming mode) and `extra` headers signed too, whose
/// values may be raw UTF-8; returns every header to send.
pub fn sign_with(method: &str, url: &str, extra: &[(&str, &str)], payload: &str) -> Vec<(String, String)> {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    use aws_sigv4::sign::v4;
    let identity = aws_credential_types::Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "test").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("s3")
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let mut headers: Vec<(String, String)> = extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    headers.push(("x-amz-content-sha256".into(), payload.into()));
    let signable = SignableRequest::new(method, url, headers.iter().map(|(k, v)| (k.as_str(), v.as_str())), SignableBody::Precomputed(payload.into())).unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    headers.extend(instructions.headers().map(|(k, v)| (k.to_owned(), v.to_owned())));
    headers
}

/// Sends `head` (request line and headers, without the final blank line) then `body`,
/// and reads the response. `declared_len` lets a test announce more than it sends;
/// `stall` keeps the connection open without sending more (a slow client).
pub async fn raw(addr: SocketAddr, method: &str, path: &str, headers: &[(String, String)], body: &[u8], declared_len: Option<usize>) -> RawResponse {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
    for (k, v) in headers {
        if k.eq_ignore_ascii_case("host") {
            continue;
        }
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("content-length: {}\r\n\r\n", declared_len.unwrap_or(body.len())));
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    if declared_len.is_some_and(|d| d > body.len()) {
        // Cut the body short: the client goes away.
        s.shutdown().await.unwrap();
    }
    read_response(&mut s).await
}

pub async fn read_response(s: &mut TcpStream) -> RawResponse {
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut buf)).await;
    let text_end = buf.windows(4).position(|w| w == b"\r\n\r\n").map_or(buf.len(), |p| p + 4);
    let head = String::from_utf8_lossy(&buf[..text_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|c| c.parse().ok()).unwrap_or(0);
    let headers = lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned())).collect();
    RawResponse { status, headers, body: buf[text_end..].to_vec() }
}

/// The S3 error code of an SDK error.
pub fn code<E: aws_sdk_s3::error::ProvideErrorMetadata>(e: &E) -> String {
    e.code().unwrap_or("<none>").to_owned()
}

/// The HTTP status of an SDK error.
pub fn status<E, R>(e: &aws_sdk_s3::error::SdkError<E, R>) -> u16
where
    R: HasStatus + std::fmt::Debug,
{
    e.raw_response().map_or(0, HasStatus::status_u16)
}

pub trait HasStatus {
    fn status_u16(&self) -> u16;
}

impl HasStatus for aws_smithy_runtime_api::http::Response {
    fn status_u16(&self) -> u16 {
        self.status().as_u16()
    }
}

/// Deterministic pseudo-random bytes.
pub fn data(len: usize, seed: u8) -> Vec<u8> {
    let mut x: u32 = 0x9E37_79B9 ^ u32::from(seed);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}

pub fn sha_hex(b: &[u8]) -> String {
    use sha2::Digest as _;
    hex_simd::encode_to_string(sha2::Sha256::digest(b), hex_simd::AsciiCase::Lower)
}

pub fn md5_hex(b: &[u8]) -> String {
    use s3s::crypto::Checksum;
    let mut h = s3s::crypto::Md5::new();
    h.update(b);
    hex_simd::encode_to_string(h.finalize(), hex_simd::AsciiCase::Lower)
}

/// A header of an SDK error's raw answer.
pub fn error_header<E, R: std::fmt::Debug>(e: &aws_sdk_s3::error::SdkError<E, aws_smithy_runtime_api::http::Response<R>>, name: &str) -> Option<String> {
    e.raw_response().and_then(|r| r.headers().get(name)).map(str::to_owned)
}

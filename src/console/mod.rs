//! The web console under `/_tollgate/console/`: static pages embedded in the binary, and a
//! sign-in that turns an access key and its secret into a server-side session.
//!
//! The console has no authorization of its own. Its pages call `/_tollgate/console/api/{path}`
//! with the session cookie; the gateway signs that request with the session's key (SigV4,
//! unsigned payload) and serves it as `/{path}` through the same server path as any S3,
//! admin or proof request: signature check, access check (policy, topics, ACLs), limits,
//! quotas, audit, metrics. So the console can do exactly what its key can, and nothing is
//! decided twice. (The alternative, presigning every request for the browser, would hand
//! the browser bearer URLs that outlive a sign-out; here a sign-out or a disabled key ends
//! the console's access at the next request.) Share links are the one thing presigned,
//! on purpose: they are meant to leave the browser.
//!
//! | method and path        | what                                                          |
//! |------------------------|---------------------------------------------------------------|
//! | `GET /`, `/assets/{f}` | the pages (CSP `default-src 'self'`, no inline script)        |
//! | `POST /session`        | `{"access_key","secret_key"}` → cookie, `{"csrf", who}`       |
//! | `GET /session`         | `{"csrf", who}` of the cookie's session (401 without one)     |
//! | `DELETE /session`      | sign-out                                                      |
//! | `POST /presign`        | `{"bucket","key","expires_secs"}` → a presigned GET URL       |
//! | any `/api/{path}`      | the request `/{path}`, signed with the session's key          |
//!
//! Every request but a `GET`/`HEAD` carries the session's CSRF token in `x-tollgate-csrf`.

use crate::auth::{KeyStore, Principal, Secret};
use crate::context::Transport;
use crate::meta::Store;

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use s3s::auth::S3Auth;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

/// Path prefix of the console; its first segment is [`crate::names::RESERVED_SEGMENT`], never a bucket name.
pub const PREFIX: &str = "/_tollgate/console/";
/// The console's API: the rest of the path is the gateway request made as the session's key.
const API: &str = "api/";
/// The session cookie's name.
pub const COOKIE: &str = "tollgate_console";
/// The request header carrying the session's CSRF token.
pub const CSRF_HEADER: &str = "x-tollgate-csrf";
/// Sessions kept at most (each needs a valid secret to make, so this only bounds memory).
const MAX_SESSIONS: usize = 10_000;
/// Largest body of a console JSON request (sign-in, presign).
const MAX_BODY: usize = 8 << 10;
/// Longest share link, as S3's presigned URLs (7 days).
const MAX_PRESIGN_SECS: u64 = 604_800;

/// The Content-Security-Policy of every console answer: nothing but the gateway's own
/// scripts and styles, no inline script, no framing.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";
/// The policy of what the API proxies (objects, listings): never a document that runs anything.
const PROXIED_CSP: &str = "default-src 'none'; sandbox";

/// The embedded pages: name under `assets/` (empty: the page itself), type, bytes.
const ASSETS: &[(&str, &str, &[u8])] = &[
    ("", "text/html; charset=utf-8", include_bytes!("assets/index.html")),
    ("console.css", "text/css; charset=utf-8", include_bytes!("assets/console.css")),
    ("app.js", "text/javascript; charset=utf-8", include_bytes!("assets/app.js")),
    ("api.js", "text/javascript; charset=utf-8", include_bytes!("assets/api.js")),
    ("objects.js", "text/javascript; charset=utf-8", include_bytes!("assets/objects.js")),
    ("upload.js", "text/javascript; charset=utf-8", include_bytes!("assets/upload.js")),
    ("proof.js", "text/javascript; charset=utf-8", include_bytes!("assets/proof.js")),
    ("versions.js", "text/javascript; charset=utf-8", include_bytes!("assets/versions.js")),
    ("admin.js", "text/javascript; charset=utf-8", include_bytes!("assets/admin.js")),
    ("ops.js", "text/javascript; charset=utf-8", include_bytes!("assets/ops.js")),
    ("ui.js", "text/javascript; charset=utf-8", include_bytes!("assets/ui.js")),
];

/// What the console needs of the gateway that serves it (the server's `App`): the console
/// sits above nothing but this, so it cannot decide anything the gateway would not.
pub trait Host: Send + Sync + 'static {
    /// The console's sessions; `None`: the console is turned off.
    fn console(&self) -> Option<&Console>;
    /// The access keys, to check a secret and to sign as a session's key.
    fn keys(&self) -> &KeyStore;
    /// The metadata store, for the audit entries of sign-ins and sign-outs.
    fn store(&self) -> &dyn Store;
    /// The region requests are signed for.
    fn region(&self) -> &str;
    /// Whether the address spent its budget of failed authentications.
    fn sign_in_blocked(&self, source: IpAddr) -> bool;
    /// Records a failed sign-in as a failed authentication of the address.
    fn sign_in_failed(&self, source: IpAddr);
    /// Serves a signed gateway request as any other (access check, limits, audit, metrics).
    fn forward(self: Arc<Self>, peer: SocketAddr, req: http::Request<Incoming>) -> Pin<Box<dyn Future<Output = http::Response<s3s::Body>> + Send>>;
}

/// One signed-in browser.
#[derive(Debug, Clone)]
struct Session {
    access_key: String,
    csrf: String,
    created_ns: i128,
    seen_ns: i128,
}

/// The console's sessions (in memory: a restart signs everyone out) and their lifetimes.
pub struct Console {
    sessions: Mutex<HashMap<String, Session>>,
    idle_ns: i128,
    max_ns: i128,
}

/// Why a console request is refused: its status and the words shown.
struct Refused(StatusCode, String);

impl Refused {
    fn new(status: StatusCode, msg: impl Into<String>) -> Self {
        Self(status, msg.into())
    }
}

fn random_token() -> String {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).expect("the OS random source is available");
    base64_simd::URL_SAFE_NO_PAD.encode_to_string(b)
}

impl Console {
    /// Sessions ending after `idle` without a request, or `max` after sign-in.
    #[must_use]
    pub fn new(idle: Duration, max: Duration) -> Self {
        Self { sessions: Mutex::new(HashMap::new()), idle_ns: idle.as_nanos() as i128, max_ns: max.as_nanos() as i128 }
    }

    fn create(&self, access_key: &str, now: i128) -> (String, Session) {
        let mut sessions = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        sessions.retain(|_, s| self.alive(s, now));
        if sessions.len() >= MAX_SESSIONS {
            // The least recently used one goes.
            if let Some(oldest) = sessions.iter().min_by_key(|(_, s)| s.seen_ns).map(|(id, _)| id.clone()) {
                sessions.remove(&oldest);
            }
        }
        let id = random_token();
        let session = Session { access_key: access_key.to_owned(), csrf: random_token(), created_ns: now, seen_ns: now };
        sessions.insert(id.clone(), session.clone());
        (id, session)
    }

    fn alive(&self, s: &Session, now: i128) -> bool {
        now - s.seen_ns <= self.idle_ns && now - s.created_ns <= self.max_ns
    }

    fn end(&self, id: &str) {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner).remove(id);
    }

    /// The session of `headers`' cookie, if it lives and its key is still enabled (checked
    /// on every request: disabling or deleting the key ends its sessions at once).
    fn current(&self, headers: &HeaderMap, keys: &KeyStore, now: i128) -> Result<(String, Session, Principal), Refused> {
        let id = cookie(headers).ok_or_else(|| Refused::new(StatusCode::UNAUTHORIZED, "Not signed in."))?;
        let access_key = {
            let mut sessions = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
            let Some(s) = sessions.get(&id) else {
                return Err(Refused::new(StatusCode::UNAUTHORIZED, "Your session has ended: sign in again."));
            };
            if !self.alive(s, now) {
                sessions.remove(&id);
                return Err(Refused::new(StatusCode::UNAUTHORIZED, "Your session expired: sign in again."));
            }
            s.access_key.clone()
        };
        // The key is asked outside the sessions' lock (it may record the key's use in the store).
        let principal = keys.principal(&access_key);
        let mut sessions = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(principal) = principal else {
            sessions.remove(&id);
            return Err(Refused::new(StatusCode::UNAUTHORIZED, "The access key of this session is disabled or deleted: the session has ended."));
        };
        // Signed out meanwhile: the session is gone.
        let s = sessions.get_mut(&id).ok_or_else(|| Refused::new(StatusCode::UNAUTHORIZED, "Your session has ended: sign in again."))?;
        s.seen_ns = now;
        Ok((id, s.clone(), principal))
    }

    /// How many sessions are kept (tests).
    #[must_use]
    pub fn len(&self) -> usize {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Whether no session is kept.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The session id in the request's `Cookie` headers.
fn cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, v)| v.to_owned())
        .filter(|v| !v.is_empty())
}

/// Whether the browser reached the gateway over HTTPS: the gateway's own TLS, or a
/// TLS-terminating proxy in front saying so in `X-Forwarded-Proto`. It only adds the
/// cookie's `Secure` and makes share links `https`, so a client claiming it gains nothing.
fn over_tls<B>(req: &http::Request<B>) -> bool {
    req.extensions().get::<Transport>().is_some_and(|t| t.tls)
        || req.uri().scheme_str() == Some("https")
        || req.headers().get("x-forwarded-proto").and_then(|v| v.to_str().ok()).is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

fn session_cookie(id: &str, max_age: Option<u64>, secure: bool) -> String {
    let mut c = format!("{COOKIE}={id}; Path=/_tollgate/console; HttpOnly; SameSite=Strict");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        c.push_str("; Secure");
    }
    c
}

fn security_headers(h: &mut HeaderMap, csp: &'static str) {
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(csp));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
}

fn json_answer(status: StatusCode, value: &Value) -> http::Response<s3s::Body> {
    let mut resp = http::Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-store")
        .body(s3s::Body::from(value.to_string()))
        .unwrap_or_default();
    security_headers(resp.headers_mut(), CSP);
    resp
}

fn refused(r: &Refused) -> http::Response<s3s::Body> {
    json_answer(r.0, &json!({ "error": r.1 }))
}

fn who(p: &Principal) -> Value {
    let i = p.identity();
    json!({
        "access_key": p.access_key(),
        "tenant": p.tenant(),
        "user": p.user(),
        "role": i.map(|i| i.role),
        "root": p.is_root(),
    })
}

fn asset(name: &str, head: bool) -> Option<http::Response<s3s::Body>> {
    let (_, ctype, bytes) = ASSETS.iter().find(|(n, _, _)| *n == name)?;
    let body = if head { s3s::Body::empty() } else { s3s::Body::from(bytes::Bytes::from_static(bytes)) };
    let mut resp = http::Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, *ctype)
        .header(header::CONTENT_LENGTH, bytes.len())
        .header(header::CACHE_CONTROL, "no-cache")
        .body(body)
        .unwrap_or_default();
    security_headers(resp.headers_mut(), CSP);
    Some(resp)
}

/// A console JSON request must come from the console's own page: typed `application/json`
/// (which no cross-site form can send, and no cross-origin script without a preflight the
/// gateway never grants) and, when the browser names its origin, from the gateway's own.
/// So another site cannot sign a browser in with its own key (login CSRF).
fn from_own_page(headers: &HeaderMap, tls: bool) -> Result<(), Refused> {
    let json = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.trim().to_ascii_lowercase().starts_with("application/json"));
    if !json {
        return Err(Refused::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "The console's requests are JSON (Content-Type: application/json)."));
    }
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
        let own = [format!("http://{host}"), format!("https://{host}")];
        if !own.iter().any(|o| o.eq_ignore_ascii_case(origin)) || (tls && origin.starts_with("http:")) {
            return Err(Refused::new(StatusCode::FORBIDDEN, "This request comes from another site's page."));
        }
    }
    Ok(())
}

async fn read_json(body: Incoming) -> Result<Value, Refused> {
    let bytes = http_body_util::Limited::new(body, MAX_BODY)
        .collect()
        .await
        .map_err(|_| Refused::new(StatusCode::PAYLOAD_TOO_LARGE, "The request body is too large."))?
        .to_bytes();
    serde_json::from_slice(&bytes).map_err(|e| Refused::new(StatusCode::BAD_REQUEST, format!("The request body is not valid JSON: {e}")))
}

fn field<'a>(v: &'a Value, name: &str) -> Result<&'a str, Refused> {
    v.get(name).and_then(Value::as_str).ok_or_else(|| Refused::new(StatusCode::BAD_REQUEST, format!("`{name}` is missing.")))
}

/// Serves a request under [`PREFIX`] (or the prefix without its slash: a redirect to it).
pub async fn serve<H: Host>(app: &Arc<H>, peer: SocketAddr, req: http::Request<Incoming>) -> http::Response<s3s::Body> {
    let Some(console) = app.console() else {
        return refused(&Refused::new(StatusCode::NOT_FOUND, "The console is turned off (console.enabled = false)."));
    };
    let path = req.uri().path().to_owned();
    let Some(rest) = path.strip_prefix(PREFIX) else {
        return http::Response::builder().status(StatusCode::PERMANENT_REDIRECT).header(header::LOCATION, PREFIX).body(s3s::Body::empty()).unwrap_or_default();
    };
    let now = crate::clock::now_ns();
    let method = req.method().clone();
    let head = method == Method::HEAD;
    if matches!(method, Method::GET | Method::HEAD) {
        if rest.is_empty() || rest == "index.html" {
            return asset("", head).unwrap_or_default();
        }
        if let Some(name) = rest.strip_prefix("assets/") {
            return asset(name, head).unwrap_or_else(|| refused(&Refused::new(StatusCode::NOT_FOUND, "No such console file.")));
        }
    }
    let result = match (&method, rest) {
        (&Method::POST, "session") => sign_in(app.as_ref(), console, peer, req, now).await,
        (_, "session") | (_, "presign") => match console.current(req.headers(), app.keys(), now) {
            Err(r) => Err(r),
            Ok((id, session, principal)) => {
                if method != Method::GET && method != Method::HEAD && !csrf_ok(req.headers(), &session) {
                    Err(csrf_refusal())
                } else {
                    match (&method, rest) {
                        (&Method::GET, "session") => Ok(json_answer(StatusCode::OK, &json!({ "csrf": session.csrf, "who": who(&principal) }))),
                        (&Method::DELETE, "session") => {
                            console.end(&id);
                            audit(app.as_ref(), &principal, peer, crate::audit::GatewayOp::ConsoleSignOut);
                            let mut resp = json_answer(StatusCode::OK, &json!({ "signed_out": true }));
                            if let Ok(v) = HeaderValue::from_str(&session_cookie("", Some(0), over_tls(&req))) {
                                resp.headers_mut().insert(header::SET_COOKIE, v);
                            }
                            Ok(resp)
                        }
                        (&Method::POST, "presign") => presign(app.as_ref(), &session, req).await,
                        _ => Err(Refused::new(StatusCode::METHOD_NOT_ALLOWED, format!("{method} is not allowed here."))),
                    }
                }
            }
        },
        (_, r) if r.starts_with(API) => proxy(app, console, peer, req, now).await,
        _ => Err(Refused::new(StatusCode::NOT_FOUND, "No such console page.")),
    };
    result.unwrap_or_else(|r| refused(&r))
}

fn csrf_ok(headers: &HeaderMap, session: &Session) -> bool {
    headers.get(CSRF_HEADER).is_some_and(|v| bool::from(v.as_bytes().ct_eq(session.csrf.as_bytes())))
}

fn csrf_refusal() -> Refused {
    Refused::new(StatusCode::FORBIDDEN, "The request lacks this session's CSRF token: reload the console.")
}

fn audit(app: &impl Host, p: &Principal, peer: SocketAddr, op: crate::audit::GatewayOp) {
    let mut entry = crate::audit::entry_for(p, None, op, "", "", crate::audit::Outcome::Ok, 0);
    entry.source = peer.to_string();
    if let Err(e) = app.store().audit_append(&entry) {
        tracing::error!(error = %e, "audit append failed");
    }
}

/// Checks the key's secret and opens a session (always a new one: a cookie the browser
/// already had is ended, so a planted session id is never promoted).
async fn sign_in(app: &impl Host, console: &Console, peer: SocketAddr, req: http::Request<Incoming>, now: i128) -> Result<http::Response<s3s::Body>, Refused> {
    if app.sign_in_blocked(peer.ip()) {
        return Err(Refused::new(StatusCode::SERVICE_UNAVAILABLE, "Too many failed sign-ins from this address: wait a minute and try again."));
    }
    let secure = over_tls(&req);
    from_own_page(req.headers(), secure)?;
    if let Some(old) = cookie(req.headers()) {
        console.end(&old);
    }
    let body = read_json(req.into_body()).await?;
    let (access_key, secret) = (field(&body, "access_key")?.trim(), field(&body, "secret_key")?);
    let known = app.keys().get_secret_key(access_key).await.ok();
    let matches = known.as_ref().is_some_and(|k| bool::from(k.expose().as_bytes().ct_eq(secret.as_bytes())));
    let principal = if matches { app.keys().principal(access_key) } else { None };
    let Some(principal) = principal else {
        app.sign_in_failed(peer.ip());
        return Err(Refused::new(StatusCode::FORBIDDEN, "Sign-in refused: the access key is unknown or disabled, or the secret is wrong."));
    };
    let (id, session) = console.create(access_key, now);
    audit(app, &principal, peer, crate::audit::GatewayOp::ConsoleSignIn);
    let mut resp = json_answer(StatusCode::OK, &json!({ "csrf": session.csrf, "who": who(&principal) }));
    let max_age = u64::try_from(console.max_ns / 1_000_000_000).unwrap_or(0);
    if let Ok(v) = HeaderValue::from_str(&session_cookie(&id, Some(max_age), secure)) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(resp)
}

/// S3's URI encoding: everything but unreserved characters, and `/` when `keep_slash`.
#[must_use]
pub fn uri_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn signing_params<'a>(
    identity: &'a aws_smithy_runtime_api::client::identity::Identity,
    region: &'a str,
    settings: aws_sigv4::http_request::SigningSettings,
) -> Result<aws_sigv4::http_request::SigningParams<'a>, Refused> {
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(identity)
        .region(region)
        .name("s3")
        .time(SystemTime::now())
        .settings(settings)
        .build()
        .map_err(|e| Refused::new(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot sign: {e}")))?;
    Ok(params.into())
}

/// S3's way of signing: the path as sent (encoded once), never normalized.
fn s3_settings() -> aws_sigv4::http_request::SigningSettings {
    let mut settings = aws_sigv4::http_request::SigningSettings::default();
    settings.percent_encoding_mode = aws_sigv4::http_request::PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = aws_sigv4::http_request::UriPathNormalizationMode::Disabled;
    settings
}

async fn secret_of(keys: &KeyStore, access_key: &str) -> Result<Secret, Refused> {
    keys.get_secret_key(access_key)
        .await
        .map(|s| Secret::new(s.expose()))
        .map_err(|_| Refused::new(StatusCode::UNAUTHORIZED, "The access key of this session is disabled or deleted: the session has ended."))
}

fn host_of(headers: &HeaderMap) -> Result<String, Refused> {
    headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| Refused::new(StatusCode::BAD_REQUEST, "The request has no Host header."))
}

/// A share link: a GET of one object presigned with the session's key, valid for the
/// chosen time. Whoever holds it reads the object as that key could, until it expires or
/// the key is disabled.
async fn presign(app: &impl Host, session: &Session, req: http::Request<Incoming>) -> Result<http::Response<s3s::Body>, Refused> {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SignatureLocation, sign};
    let host = host_of(req.headers())?;
    let scheme = if over_tls(&req) { "https" } else { "http" };
    from_own_page(req.headers(), scheme == "https")?;
    let body = read_json(req.into_body()).await?;
    let (bucket, key) = (field(&body, "bucket")?, field(&body, "key")?);
    let expires = body.get("expires_secs").and_then(Value::as_u64).unwrap_or(3600);
    if !(1..=MAX_PRESIGN_SECS).contains(&expires) {
        return Err(Refused::new(StatusCode::BAD_REQUEST, format!("A share link lasts from 1 second to {MAX_PRESIGN_SECS} seconds (7 days).")));
    }
    if bucket.is_empty() || key.is_empty() {
        return Err(Refused::new(StatusCode::BAD_REQUEST, "A share link needs a bucket and a key."));
    }
    let secret = secret_of(app.keys(), &session.access_key).await?;
    let url = format!("{scheme}://{host}/{}/{}", uri_encode(bucket, false), uri_encode(key, true));
    let identity = aws_credential_types::Credentials::new(&session.access_key, secret.expose(), None, None, "tollgate-console").into();
    let mut settings = s3_settings();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(Duration::from_secs(expires));
    let params = signing_params(&identity, app.region(), settings)?;
    let signable = SignableRequest::new("GET", &url, std::iter::once(("host", host.as_str())), SignableBody::UnsignedPayload)
        .map_err(|e| Refused::new(StatusCode::BAD_REQUEST, format!("cannot sign: {e}")))?;
    let (instructions, _) = sign(signable, &params).map_err(|e| Refused::new(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot sign: {e}")))?.into_parts();
    let query: Vec<String> = instructions.params().iter().map(|(k, v)| format!("{}={}", uri_encode(k, false), uri_encode(v, false))).collect();
    let expires_ns = crate::clock::now_ns() + i128::from(expires) * 1_000_000_000;
    Ok(json_answer(StatusCode::OK, &json!({ "url": format!("{url}?{}", query.join("&")), "expires_ns": expires_ns.to_string() })))
}

/// Whether a browser's header goes on to the gateway request (what S3 reads from a
/// request, never the browser's cookie, nor credentials or signing headers of its own).
fn forwarded(name: &header::HeaderName) -> bool {
    let n = name.as_str();
    if n.starts_with("x-amz-") {
        return !matches!(n, "x-amz-date" | "x-amz-content-sha256" | "x-amz-security-token" | "x-amz-decoded-content-length");
    }
    matches!(
        n,
        "content-type"
            | "content-length"
            | "content-md5"
            | "content-disposition"
            | "content-encoding"
            | "content-language"
            | "cache-control"
            | "expires"
            | "range"
            | "if-match"
            | "if-none-match"
            | "if-modified-since"
            | "if-unmodified-since"
    )
}

/// Makes `/{path}` as the session's key: the browser's request, re-addressed, stripped of
/// the cookie and signed, served by the gateway as any signed request.
async fn proxy<H: Host>(
    app: &Arc<H>,
    console: &Console,
    peer: SocketAddr,
    req: http::Request<Incoming>,
    now: i128,
) -> Result<http::Response<s3s::Body>, Refused> {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, sign};
    let (_, session, _) = console.current(req.headers(), app.keys(), now)?;
    let safe = matches!(*req.method(), Method::GET | Method::HEAD);
    if !safe && !csrf_ok(req.headers(), &session) {
        return Err(csrf_refusal());
    }
    let inner_path = format!("/{}", req.uri().path().strip_prefix(PREFIX).and_then(|p| p.strip_prefix(API)).unwrap_or(""));
    if inner_path.starts_with("/_tollgate/console") {
        return Err(Refused::new(StatusCode::BAD_REQUEST, "The console's API does not call itself."));
    }
    let host = host_of(req.headers())?;
    let path_and_query = match req.uri().query() {
        Some(q) => format!("{inner_path}?{q}"),
        None => inner_path.clone(),
    };
    let (mut parts, body) = req.into_parts();
    let mut headers = HeaderMap::new();
    for (name, value) in &parts.headers {
        if forwarded(name) {
            headers.append(name.clone(), value.clone());
        }
    }
    headers.insert(header::HOST, HeaderValue::from_str(&host).map_err(|_| Refused::new(StatusCode::BAD_REQUEST, "bad Host header"))?);
    headers.insert("x-amz-content-sha256", HeaderValue::from_static("UNSIGNED-PAYLOAD"));
    let secret = secret_of(app.keys(), &session.access_key).await?;
    let identity = aws_credential_types::Credentials::new(&session.access_key, secret.expose(), None, None, "tollgate-console").into();
    let params = signing_params(&identity, app.region(), s3_settings())?;
    let url = format!("http://{host}{path_and_query}");
    let signed_headers: Vec<(String, String)> = headers
        .iter()
        .filter(|(n, _)| *n != header::CONTENT_LENGTH)
        .filter_map(|(n, v)| v.to_str().ok().map(|v| (n.as_str().to_owned(), v.to_owned())))
        .collect();
    let signable =
        SignableRequest::new(parts.method.as_str(), &url, signed_headers.iter().map(|(n, v)| (n.as_str(), v.as_str())), SignableBody::UnsignedPayload)
            .map_err(|e| Refused::new(StatusCode::BAD_REQUEST, format!("cannot sign this request: {e}")))?;
    let (instructions, _) = sign(signable, &params).map_err(|e| Refused::new(StatusCode::BAD_REQUEST, format!("cannot sign this request: {e}")))?.into_parts();
    for (name, value) in instructions.headers() {
        if let (Ok(n), Ok(v)) = (header::HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) {
            headers.insert(n, v);
        }
    }
    parts.uri = path_and_query.parse().map_err(|_| Refused::new(StatusCode::BAD_REQUEST, "The path is not a valid request path."))?;
    parts.headers = headers;
    // The request is the console's own making: only how the browser's came is carried.
    let transport = parts.extensions.get::<Transport>().copied();
    parts.extensions = http::Extensions::new();
    if let Some(t) = transport {
        parts.extensions.insert(t);
    }
    let mut resp = Arc::clone(app).forward(peer, http::Request::from_parts(parts, body)).await;
    // What the gateway answers is data, never a page of the console: a stored HTML object
    // must not run as the console (sandboxed, no script, downloaded rather than shown).
    let h = resp.headers_mut();
    security_headers(h, PROXIED_CSP);
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if !h.get(header::CONTENT_DISPOSITION).and_then(|v| v.to_str().ok()).is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("attachment")) {
        h.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment"));
    }
    h.remove(header::SET_COOKIE);
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_end_when_idle_or_old() {
        let c = Console::new(Duration::from_secs(10), Duration::from_secs(100));
        let (_, s) = c.create("AK", 0);
        assert!(c.alive(&s, 10_000_000_000));
        assert!(!c.alive(&s, 10_000_000_001), "idle for longer than 10 s");
        let busy = Session { seen_ns: 100_000_000_001, ..s };
        assert!(!c.alive(&busy, 100_000_000_001), "older than 100 s even though busy");
    }

    #[test]
    fn the_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("a=1; tollgate_console=XYZ; b=2"));
        assert_eq!(cookie(&h).as_deref(), Some("XYZ"));
        h.insert(header::COOKIE, HeaderValue::from_static("tollgate_console="));
        assert_eq!(cookie(&h), None);
    }

    #[test]
    fn cookies_are_http_only_strict_and_secure_over_tls() {
        assert_eq!(session_cookie("ID", Some(60), true), "tollgate_console=ID; Path=/_tollgate/console; HttpOnly; SameSite=Strict; Max-Age=60; Secure");
        assert!(!session_cookie("ID", None, false).contains("Secure"));
    }

    #[test]
    fn json_requests_come_from_the_consoles_own_page() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("gw:9000"));
        assert_eq!(from_own_page(&h, false).unwrap_err().0, StatusCode::UNSUPPORTED_MEDIA_TYPE, "a form's text/plain or nothing");
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        assert!(from_own_page(&h, false).is_ok(), "no Origin: not a cross-site browser request");
        h.insert(header::ORIGIN, HeaderValue::from_static("http://gw:9000"));
        assert!(from_own_page(&h, false).is_ok());
        h.insert(header::ORIGIN, HeaderValue::from_static("https://evil.example"));
        assert_eq!(from_own_page(&h, false).unwrap_err().0, StatusCode::FORBIDDEN);
    }

    #[test]
    fn uri_encoding_is_s3s() {
        assert_eq!(uri_encode("a b/c(1)!*'~", true), "a%20b/c%281%29%21%2A%27~");
        assert_eq!(uri_encode("a/b", false), "a%2Fb");
        assert_eq!(uri_encode("é", true), "%C3%A9");
    }

    #[test]
    fn every_asset_is_embedded_and_has_no_inline_script() {
        for (name, ctype, bytes) in ASSETS {
            assert!(!bytes.is_empty(), "{name} is empty");
            if ctype.starts_with("text/html") {
                let text = std::str::from_utf8(bytes).unwrap();
                // Every <script> names a file of its own (the CSP refuses inline code anyway).
                for tag in text.split("<script").skip(1) {
                    assert!(tag.split('>').next().unwrap().contains("src="), "inline script in {name}");
                }
                assert!(!text.contains("onclick=") && !text.contains("onload="), "inline handler in {name}");
                assert!(!text.contains("http://") && !text.contains("https://"), "third-party address in {name}");
            }
        }
    }
}

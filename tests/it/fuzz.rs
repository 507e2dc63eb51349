//! Property-based hostile input against a real in-process gateway (proptest).
//!
//! Each test starts one local-disk gateway (limits off, so no 503 SlowDown) on its own tokio
//! runtime, then sends it generated requests over raw TCP, so that bytes no client library
//! would send get through: SigV4 `Authorization` headers, presigned query strings,
//! aws-chunked bodies, `Range` headers, XML bodies, POST object forms and object keys, each
//! a valid request mutated. After every case:
//! - no answer has a status of 500 or more, and every request gets an answer;
//! - no thread of the gateway's runtime panicked (a panic hook records them);
//! - `GET /health` still answers 200.
//!
//! Some families check more (a valid request must succeed, a range must select the right
//! bytes, an accepted key must read back byte-identical).
//!
//! Cases per property: `TOLLGATE_FUZZ_CASES` (default 48: the module takes about ten seconds
//! in debug). A longer campaign, and the replay of one with the seed its failure names:
//!
//! ```text
//! TOLLGATE_FUZZ_CASES=5000 cargo nextest run --test it fuzz::
//! PROPTEST_RNG_SEED=12345 TOLLGATE_FUZZ_CASES=5000 cargo nextest run --test it fuzz::range_headers
//! ```
//!
//! A failure is shrunk (for at most a minute) and reported with the request as sent. A
//! campaign that should list every kind of failure rather than stop at the first one:
//!
//! ```text
//! TOLLGATE_FUZZ_EXPLORE=1 TOLLGATE_FUZZ_CASES=10000 cargo nextest run --no-fail-fast --test it fuzz:: --no-capture
//! ```
//!
//! (no shrinking there: each kind is shown with the first input that met it).

use crate::common::*;

use std::collections::BTreeMap;
use std::sync::{Mutex, Once};
use std::time::{Duration, SystemTime};

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config as RunnerConfig, RngSeed, TestCaseError, TestError, TestRunner};
use tokio::io::AsyncWriteExt;

// ---------------------------------------------------------------------------------------
// The harness
// ---------------------------------------------------------------------------------------

/// Cases per property (`TOLLGATE_FUZZ_CASES`).
fn cases() -> u32 {
    std::env::var("TOLLGATE_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(48)
}

/// Runs `test` on `cases()` inputs from `strategy` against `h`'s gateway (each case checked
/// by [`Harness::case`]); a failure panics with the shrunk input.
///
/// `TOLLGATE_FUZZ_EXPLORE=1` (for campaigns) does not stop at the first failure: it runs
/// every case without shrinking, then fails with one example of each kind of failure.
fn run<S: Strategy>(h: &Harness, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S::Value: std::fmt::Debug,
{
    let mut config = RunnerConfig {
        cases: cases(),
        // No regression files in the source tree; a seed replays a campaign instead.
        failure_persistence: None,
        max_shrink_time: 60_000,
        max_shrink_iters: 2_000,
        ..RunnerConfig::default()
    };
    // A seed of our own (unless PROPTEST_RNG_SEED gives one), to be named in a failure.
    let seed = match config.rng_seed {
        RngSeed::Fixed(seed) => seed,
        RngSeed::Random => {
            let mut b = [0u8; 8];
            getrandom::fill(&mut b).unwrap();
            u64::from_le_bytes(b)
        }
    };
    config.rng_seed = RngSeed::Fixed(seed);
    let replay = format!("replay: PROPTEST_RNG_SEED={seed} TOLLGATE_FUZZ_CASES={}", cases());
    let mut runner = TestRunner::new(config);
    if std::env::var("TOLLGATE_FUZZ_EXPLORE").is_ok_and(|v| v == "1") {
        let mut kinds: BTreeMap<String, (u32, String)> = BTreeMap::new();
        for _ in 0..cases() {
            let input = strategy.new_tree(&mut runner).unwrap().current();
            let shown = format!("{input:#?}");
            if let Err(e) = h.case(|| test(input)) {
                let e = e.to_string();
                let kind = failure_kind(&e);
                let entry = kinds.entry(kind).or_insert_with(|| (0, format!("{shown}\n{e}")));
                entry.0 += 1;
            }
        }
        if !kinds.is_empty() {
            h.summary("(failed)");
            let report: Vec<String> = kinds.into_iter().map(|(k, (n, example))| format!("=== {k} ({n} cases); for example:\n{example}")).collect();
            panic!("{} kinds of failure ({replay}):\n{}", report.len(), report.join("\n\n"));
        }
        return;
    }
    match runner.run(&strategy, |input| h.case(|| test(input))) {
        Ok(()) => {}
        Err(TestError::Fail(reason, input)) => {
            h.summary("(failed)");
            panic!("minimal failing input ({replay}): {input:#?}\n{reason}")
        }
        Err(e) => panic!("{e} ({replay})"),
    }
}

/// What kind of failure a message tells (for grouping): its first line without the request
/// id, the S3 error code, and where a panic was.
fn failure_kind(message: &str) -> String {
    let first = message.lines().next().unwrap_or("");
    // What was checked (numbers, e.g. byte offsets, do not make another kind), then the status.
    let (what, rest) = first.rsplit_once(": status ").unwrap_or((first, ""));
    let mut kind = String::new();
    for c in what.chars() {
        if !c.is_ascii_digit() {
            kind.push(c);
        } else if !kind.ends_with('#') {
            kind.push('#');
        }
    }
    let status = rest.split(' ').next().unwrap_or("");
    let code = message.split_once("<Code>").and_then(|(_, r)| r.split_once("</Code>")).map_or("", |(c, _)| c);
    let panic_at = message.split_once("panicked at ").and_then(|(_, r)| r.split_once('\n')).map_or("", |(l, _)| l);
    format!("{kind}: status {status} {code} {panic_at}")
}

/// Panics on the gateways' runtime threads (named `fuzz-gw-<family>`), by thread name.
static PANICS: Mutex<Vec<String>> = Mutex::new(Vec::new());
static HOOK: Once = Once::new();

fn record_panics() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if let Some(name) = std::thread::current().name().filter(|n| n.starts_with("fuzz-gw-")) {
                PANICS.lock().unwrap_or_else(|e| e.into_inner()).push(format!("{name}: {info}"));
            }
            previous(info);
        }));
    });
}

/// Header names and values (values as bytes: anything may be in them).
type Headers = Vec<(String, Vec<u8>)>;

/// A request as bytes: anything may be in its target and header values.
#[derive(Clone)]
struct Req {
    method: String,
    target: Vec<u8>,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

impl Req {
    fn new(method: &str, target: impl Into<Vec<u8>>) -> Self {
        Self { method: method.into(), target: target.into(), headers: Vec::new(), body: Vec::new() }
    }

    fn header(mut self, name: &str, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    fn set_header(&mut self, name: &str, value: impl Into<Vec<u8>>) {
        let value = value.into();
        match self.headers.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case(name)) {
            Some(h) => h.1 = value,
            None => self.headers.push((name.into(), value)),
        }
    }

    fn get_header(&self, name: &str) -> Option<&[u8]> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_slice())
    }

    fn bytes(&self, host: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.body.len() + 1024);
        out.extend_from_slice(self.method.as_bytes());
        out.push(b' ');
        out.extend_from_slice(&self.target);
        out.extend_from_slice(format!(" HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\ncontent-length: {}\r\n", self.body.len()).as_bytes());
        for (k, v) in &self.headers {
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(v);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        out
    }

    /// The request for a report: escaped, long values and bodies cut.
    fn describe(&self) -> String {
        let mut s = format!("{} {}\n", self.method, cut(&self.target, 600));
        for (k, v) in &self.headers {
            s.push_str(&format!("{k}: {}\n", cut(v, 600)));
        }
        s.push_str(&format!("[body, {} bytes] {}", self.body.len(), cut(&self.body, 1200)));
        s
    }
}

fn cut(b: &[u8], max: usize) -> String {
    let shown = b.get(..max).unwrap_or(b).escape_ascii().to_string();
    if b.len() > max { format!("{shown}...[{} bytes]", b.len()) } else { shown }
}

/// One gateway on its own runtime, and the statuses it answered (for the summary).
struct Harness {
    name: String,
    rt: tokio::runtime::Runtime,
    gw: Option<Gateway>,
    statuses: Mutex<BTreeMap<u16, u32>>,
}

const BUCKET: &str = "fuzz";

impl Harness {
    fn start(family: &str) -> Self {
        record_panics();
        let name = format!("fuzz-gw-{family}");
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).thread_name(&name).enable_all().build().unwrap();
        let gw = rt.block_on(async {
            let gw = Gateway::start_with(|c| c.limits.enabled = false).await;
            gw.bucket(BUCKET).await;
            gw
        });
        Self { name, rt, gw: Some(gw), statuses: Mutex::new(BTreeMap::new()) }
    }

    fn gw(&self) -> &Gateway {
        self.gw.as_ref().unwrap()
    }

    fn host(&self) -> String {
        self.gw().addr.to_string()
    }

    fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// Sends `req` on a new connection and reads the answer (status 0: none in 20 s, or
    /// the connection closed without one).
    fn send(&self, req: &Req) -> RawResponse {
        let addr = self.gw().addr;
        let bytes = req.bytes(&self.host());
        let resp = self.block_on(async move {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            // The server may answer and close before reading everything: read anyway.
            let _ = s.write_all(&bytes).await;
            tokio::time::timeout(Duration::from_secs(20), read_response(&mut s)).await
        });
        let resp = resp.unwrap_or(RawResponse { status: 0, headers: Vec::new(), body: b"(no answer within 20 s)".to_vec() });
        *self.statuses.lock().unwrap().entry(resp.status).or_default() += 1;
        resp
    }

    /// Sends `req` and checks the answer: some status below 500.
    fn send_ok(&self, req: &Req) -> Result<RawResponse, TestCaseError> {
        let resp = self.send(req);
        if !(100..500).contains(&resp.status) {
            return Err(failure(req, &resp, "status 5xx or no answer"));
        }
        Ok(resp)
    }

    /// Panics recorded on this gateway's threads since the last call.
    fn take_panics(&self) -> Vec<String> {
        let mut all = PANICS.lock().unwrap_or_else(|e| e.into_inner());
        let (mine, others) = std::mem::take(&mut *all).into_iter().partition(|p| p.starts_with(&format!("{}:", self.name)));
        *all = others;
        mine
    }

    /// Runs one case, then checks that no thread of the gateway panicked and that
    /// `/health` still answers 200.
    fn case(&self, f: impl FnOnce() -> Result<(), TestCaseError>) -> Result<(), TestCaseError> {
        // A case that failed early left its panics behind: they are reported with it.
        self.take_panics();
        let outcome = f();
        let panics = self.take_panics();
        if !panics.is_empty() {
            let also = outcome.err().map_or_else(String::new, |e| format!("\n(the case also failed: {e})"));
            return Err(TestCaseError::fail(format!("the gateway panicked: {panics:#?}{also}")));
        }
        outcome?;
        let health = Req::new("GET", "/health");
        let resp = self.send(&health);
        if resp.status != 200 {
            return Err(failure(&health, &resp, "GET /health after the case"));
        }
        Ok(())
    }

    /// Headers signed with SigV4 (root credentials, the given payload hash), host left out
    /// (the sender writes it). The path is taken as it is (S3: single encoding, no
    /// normalization).
    fn sign(&self, method: &str, target: &str, headers: &[(&str, &str)], payload: &str) -> Option<Vec<(String, Vec<u8>)>> {
        let mut all: Vec<(&str, &str)> = headers.to_vec();
        all.push(("x-amz-content-sha256", payload));
        let (signed, _) = sigv4(method, &format!("http://{}{target}", self.host()), &all, payload, None)?;
        Some(signed)
    }

    /// A presigned target (path and query) for `method` on `target`.
    fn presign(&self, method: &str, target: &str, expires: Duration) -> Option<String> {
        let (_, uri) = sigv4(method, &format!("http://{}{target}", self.host()), &[], "UNSIGNED-PAYLOAD", Some(expires))?;
        Some(uri)
    }

    /// PUT through the SDK (setup).
    fn put(&self, key: &str, body: &[u8]) {
        let c = self.gw().client();
        self.block_on(c.put_object().bucket(BUCKET).key(key).body(body.to_vec().into()).send()).unwrap();
    }

    fn summary(&self, extra: &str) {
        eprintln!("{}: {} cases, statuses {:?} {extra}", self.name, cases(), self.statuses.lock().unwrap());
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(gw) = self.gw.take() {
            if std::thread::panicking() {
                // A failed property: no graceful stop (it could wait on what failed); the
                // gateway's own drop tells it to stop, and the runtime's drop ends its tasks.
                drop(gw);
            } else {
                self.rt.block_on(gw.stop());
            }
        }
    }
}

fn failure(req: &Req, resp: &RawResponse, what: &str) -> TestCaseError {
    TestCaseError::fail(format!(
        "{what}: status {} {}\n--- request ---\n{}\n--- response body ---\n{}",
        resp.status,
        resp.header("x-amz-request-id").unwrap_or(""),
        req.describe(),
        cut(&resp.body, 2000)
    ))
}

/// SigV4 through aws-sigv4: the signed headers (without host) and the request target
/// (with the presigning query, if `presign`).
fn sigv4(method: &str, url: &str, headers: &[(&str, &str)], payload: &str, presign: Option<Duration>) -> Option<(Headers, String)> {
    use aws_sigv4::http_request::{PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation, SigningSettings, UriPathNormalizationMode, sign};
    use aws_sigv4::sign::v4;
    let identity = aws_credential_types::Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "fuzz").into();
    let mut settings = SigningSettings::default();
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    if let Some(expires) = presign {
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(expires);
    }
    let params =
        v4::SigningParams::builder().identity(&identity).region("us-east-1").name("s3").time(SystemTime::now()).settings(settings).build().ok()?.into();
    let body = if presign.is_some() { SignableBody::UnsignedPayload } else { SignableBody::Precomputed(payload.into()) };
    let signable = SignableRequest::new(method, url, headers.iter().copied(), body).ok()?;
    let (instructions, _) = sign(signable, &params).ok()?.into_parts();
    let mut req = http::Request::builder().method(method).uri(url).body(()).ok()?;
    for (k, v) in headers {
        req.headers_mut().append(http::HeaderName::from_bytes(k.as_bytes()).ok()?, http::HeaderValue::from_str(v).ok()?);
    }
    instructions.apply_to_request_http1x(&mut req);
    let signed = req.headers().iter().filter(|(k, _)| *k != http::header::HOST).map(|(k, v)| (k.to_string(), v.as_bytes().to_vec())).collect();
    let target = req.uri().path_and_query().map_or_else(|| "/".to_owned(), ToString::to_string);
    Some((signed, target))
}

fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(msg);
    let inner = inner.finalize();
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner);
    let mut out = [0u8; 32];
    out.copy_from_slice(&outer.finalize());
    out
}

fn hex(b: &[u8]) -> String {
    hex_simd::encode_to_string(b, hex_simd::AsciiCase::Lower)
}

pub(crate) fn b64(b: &[u8]) -> String {
    base64_simd::STANDARD.encode_to_string(b)
}

fn sha256_hex(b: &[u8]) -> String {
    hex(&<sha2::Sha256 as sha2::Digest>::digest(b))
}

fn md5_b64(b: &[u8]) -> String {
    let hexed = md5_hex(b);
    b64(&hex_simd::decode_to_vec(hexed.as_bytes()).unwrap())
}

/// CRC-32 (IEEE), for `x-amz-checksum-crc32`.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// `YYYYMMDDTHHMMSSZ` now.
pub(crate) fn amz_date_now() -> String {
    let now = time::OffsetDateTime::now_utc();
    now.format(time::macros::format_description!("[year][month][day]T[hour][minute][second]Z")).unwrap()
}

/// Percent-encodes everything but unreserved characters (and `/` if `keep_slash`).
fn pct(s: &[u8], keep_slash: bool) -> String {
    let mut out = String::new();
    for &b in s {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn pct_decode(s: &str, plus_is_space: bool) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => match b.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok()).and_then(|h| u8::from_str_radix(h, 16).ok()) {
                Some(v) => {
                    out.push(v);
                    i += 3;
                    continue;
                }
                None => out.push(b'%'),
            },
            b'+' if plus_is_space => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    out
}

/// Bytes shown escaped in a failing input (not as a list of numbers).
#[derive(Clone)]
struct Text(Vec<u8>);

impl From<Text> for Vec<u8> {
    fn from(t: Text) -> Self {
        t.0
    }
}

impl std::ops::Deref for Text {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "b\"{}\"", self.0.escape_ascii())
    }
}

/// Where in `len` bytes a fraction points.
fn at(frac: f64, len: usize) -> usize {
    ((frac * len as f64) as usize).min(len)
}

// ---------------------------------------------------------------------------------------
// Shared generators
// ---------------------------------------------------------------------------------------

/// Header-value bytes: anything but CR and LF.
fn value_bytes(max: usize) -> impl Strategy<Value = Text> {
    prop::collection::vec(any::<u8>().prop_filter("no CR/LF", |b| *b != b'\r' && *b != b'\n'), 0..max).prop_map(Text)
}

/// A hostile token: empty, printable, unicode, non-ASCII bytes, or very long.
fn garbage() -> impl Strategy<Value = Text> {
    prop_oneof![
        Just(Vec::new()),
        "[ -~]{0,24}".prop_map(String::into_bytes),
        "[a-zA-Z0-9/=,;:_-]{0,40}".prop_map(String::into_bytes),
        any::<String>().prop_map(|s| s.replace(['\r', '\n'], "").into_bytes()),
        prop::collection::vec(0x80u8..=0xff, 1..12),
        value_bytes(32).prop_map(|t| t.0),
        (1usize..20_000, "[A-Za-z0-9/]").prop_map(|(n, c)| c.repeat(n).into_bytes()),
        (60_000usize..80_000).prop_map(|n| vec![b'a'; n]),
    ]
    .prop_map(Text)
}

/// A hostile date: wrong formats and impossible values.
fn bad_date() -> impl Strategy<Value = Text> {
    prop_oneof![
        Just(b"".to_vec()),
        Just(b"20261301".to_vec()),
        Just(b"2026-12-01".to_vec()),
        Just(b"20261201T".to_vec()),
        Just(b"20261301T250000Z".to_vec()),
        Just(b"99991231T235959Z".to_vec()),
        Just(b"00000101T000000Z".to_vec()),
        Just(b"-0001231T000000Z".to_vec()),
        Just(b"20260229T000000Z".to_vec()),
        "[0-9]{0,20}".prop_map(String::into_bytes),
        "[0-9TZ:+-]{0,20}".prop_map(String::into_bytes),
        garbage().prop_map(|t| t.0),
    ]
    .prop_map(Text)
}

/// A hostile number as text.
fn bad_number() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("-1".to_owned()),
        Just("0".to_owned()),
        Just("604801".to_owned()),
        Just(u64::MAX.to_string()),
        Just("18446744073709551616".to_owned()),
        Just("99999999999999999999999999999".to_owned()),
        Just("1e3".to_owned()),
        Just(" 5".to_owned()),
        Just("0x10".to_owned()),
        Just("+7".to_owned()),
        any::<i64>().prop_map(|n| n.to_string()),
        "[ -~]{0,12}",
    ]
}

// ---------------------------------------------------------------------------------------
// 1. SigV4 Authorization headers
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum AuthMutation {
    Truncate(f64),
    /// Components of `Credential=..., SignedHeaders=..., Signature=...` in another order.
    Reorder(Vec<usize>),
    DuplicateSignedHeaders(Text),
    Scope {
        access: Option<Text>,
        date: Option<Text>,
        region: Option<Text>,
        service: Option<Text>,
        terminator: Option<Text>,
        extra_parts: usize,
    },
    Component(usize, Text),
    Signature(Text),
    Algorithm(Text),
    Insert(f64, Text),
    FlipByte(f64, u8),
    Random(Text),
    AmzDate(Text),
    ContentSha(Text),
    TwoAuthorizations(Text),
    SigV2(Text),
    Separators(Text),
}

fn auth_mutation() -> impl Strategy<Value = AuthMutation> {
    let opt = || prop::option::of(garbage());
    prop_oneof![
        (0.0..1.0f64).prop_map(AuthMutation::Truncate),
        Just(vec![0usize, 1, 2]).prop_shuffle().prop_map(AuthMutation::Reorder),
        prop_oneof![Just(b"host;x-amz-date".to_vec()), garbage().prop_map(|t| t.0)].prop_map(|v| AuthMutation::DuplicateSignedHeaders(Text(v))),
        (opt(), prop::option::of(bad_date()), opt(), opt(), opt(), 0usize..4).prop_map(|(access, date, region, service, terminator, extra_parts)| {
            AuthMutation::Scope { access, date, region, service, terminator, extra_parts }
        }),
        (0usize..3, garbage()).prop_map(|(i, v)| AuthMutation::Component(i, v)),
        prop_oneof![
            Just(b"abc".to_vec()),
            "[0-9a-f]{63}".prop_map(String::into_bytes),
            "[g-z]{64}".prop_map(String::into_bytes),
            "[0-9A-F]{64}".prop_map(String::into_bytes),
            garbage().prop_map(|t| t.0)
        ]
        .prop_map(|v| AuthMutation::Signature(Text(v))),
        prop_oneof![
            Just(b"AWS4-HMAC-SHA512".to_vec()),
            Just(b"AWS4-ECDSA-P256-SHA256".to_vec()),
            Just(b"aws4-hmac-sha256".to_vec()),
            garbage().prop_map(|t| t.0)
        ]
        .prop_map(|v| AuthMutation::Algorithm(Text(v))),
        (0.0..1.0f64, garbage()).prop_map(|(f, v)| AuthMutation::Insert(f, v)),
        (0.0..1.0f64, 1u8..=255).prop_map(|(f, x)| AuthMutation::FlipByte(f, x)),
        value_bytes(300).prop_map(AuthMutation::Random),
        bad_date().prop_map(AuthMutation::AmzDate),
        prop_oneof![
            Just(b"STREAMING-AWS4-HMAC-SHA256-PAYLOAD".to_vec()),
            Just(b"STREAMING-UNSIGNED-PAYLOAD-TRAILER".to_vec()),
            "[0-9a-f]{64}".prop_map(String::into_bytes),
            garbage().prop_map(|t| t.0)
        ]
        .prop_map(|v| AuthMutation::ContentSha(Text(v))),
        garbage().prop_map(AuthMutation::TwoAuthorizations),
        garbage().prop_map(AuthMutation::SigV2),
        prop_oneof![Just(b",".to_vec()), Just(b", ".to_vec()), Just(b" ,".to_vec()), Just(b";".to_vec()), Just(b"".to_vec()), Just(b"  ".to_vec())]
            .prop_map(|v| AuthMutation::Separators(Text(v))),
    ]
}

/// `AWS4-HMAC-SHA256 Credential=AK/date/region/s3/aws4_request, SignedHeaders=..., Signature=...`
/// split into its algorithm and components.
fn split_auth(v: &[u8]) -> (Vec<u8>, Vec<Vec<u8>>) {
    let s = String::from_utf8_lossy(v).into_owned();
    let (alg, rest) = s.split_once(' ').unwrap_or((&s, ""));
    (alg.as_bytes().to_vec(), rest.split(", ").map(|c| c.as_bytes().to_vec()).collect())
}

fn join_auth(alg: &[u8], parts: &[Vec<u8>], sep: &[u8]) -> Vec<u8> {
    let mut out = alg.to_vec();
    out.push(b' ');
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(sep);
        }
        out.extend_from_slice(p);
    }
    out
}

fn mutate_auth(req: &mut Req, m: &AuthMutation) {
    let auth = req.get_header("authorization").unwrap_or_default().to_vec();
    let (alg, mut parts) = split_auth(&auth);
    let new = match m {
        AuthMutation::Truncate(f) => auth[..at(*f, auth.len())].to_vec(),
        AuthMutation::Reorder(order) => join_auth(&alg, &order.iter().filter_map(|i| parts.get(*i).cloned()).collect::<Vec<_>>(), b", "),
        AuthMutation::DuplicateSignedHeaders(v) => {
            let mut dup = b"SignedHeaders=".to_vec();
            dup.extend_from_slice(v);
            parts.insert(1, dup);
            join_auth(&alg, &parts, b", ")
        }
        AuthMutation::Scope { access, date, region, service, terminator, extra_parts } => {
            let cred = String::from_utf8_lossy(parts[0].strip_prefix(b"Credential=").unwrap_or(&parts[0])).into_owned();
            let mut fields: Vec<Vec<u8>> = cred.split('/').map(|f| f.as_bytes().to_vec()).collect();
            for (i, v) in [access, date, region, service, terminator].into_iter().enumerate() {
                if let (Some(v), Some(f)) = (v, fields.get_mut(i)) {
                    *f = v.to_vec();
                }
            }
            fields.truncate(5usize.saturating_sub(*extra_parts % 2 * *extra_parts));
            if *extra_parts == 1 {
                fields.push(b"extra".to_vec());
            }
            let mut c = b"Credential=".to_vec();
            c.extend_from_slice(&fields.join(&b'/'));
            parts[0] = c;
            join_auth(&alg, &parts, b", ")
        }
        AuthMutation::Component(i, v) => {
            if let Some(p) = parts.get_mut(*i) {
                let name_len = p.iter().position(|b| *b == b'=').map_or(0, |n| n + 1);
                p.truncate(name_len);
                p.extend_from_slice(v);
            }
            join_auth(&alg, &parts, b", ")
        }
        AuthMutation::Signature(v) => {
            let mut p = b"Signature=".to_vec();
            p.extend_from_slice(v);
            if let Some(last) = parts.last_mut() {
                *last = p;
            }
            join_auth(&alg, &parts, b", ")
        }
        AuthMutation::Algorithm(v) => join_auth(v, &parts, b", "),
        AuthMutation::Insert(f, v) => {
            let mut a = auth.clone();
            let i = at(*f, a.len());
            a.splice(i..i, v.iter().copied());
            a
        }
        AuthMutation::FlipByte(f, x) => {
            let mut a = auth.clone();
            if !a.is_empty() {
                let i = at(*f, a.len() - 1);
                a[i] ^= x;
                if a[i] == b'\r' || a[i] == b'\n' {
                    a[i] = b'?';
                }
            }
            a
        }
        AuthMutation::Random(v) => v.to_vec(),
        AuthMutation::AmzDate(v) => {
            req.set_header("x-amz-date", v.clone());
            auth
        }
        AuthMutation::ContentSha(v) => {
            req.set_header("x-amz-content-sha256", v.clone());
            auth
        }
        AuthMutation::TwoAuthorizations(v) => {
            req.headers.push(("authorization".into(), v.to_vec()));
            auth
        }
        AuthMutation::SigV2(v) => {
            let mut a = format!("AWS {ACCESS_KEY}:").into_bytes();
            a.extend_from_slice(v);
            a
        }
        AuthMutation::Separators(sep) => join_auth(&alg, &parts, sep),
    };
    req.set_header("authorization", new);
}

/// What a request's SigV4 header auth says, read leniently (components in any order,
/// whitespace around them, names in any case): the algorithm, the components, `x-amz-date`
/// and `x-amz-content-sha256`.
type AuthMeaning = (Vec<u8>, BTreeMap<String, Vec<u8>>, Option<Vec<u8>>, Option<Vec<u8>>);

fn auth_meaning(req: &Req) -> AuthMeaning {
    let auth = req.get_header("authorization").unwrap_or_default();
    let (alg, rest) = match auth.iter().position(|b| *b == b' ') {
        Some(i) => (auth[..i].to_vec(), &auth[i + 1..]),
        None => (auth.to_vec(), &b""[..]),
    };
    let mut components = BTreeMap::new();
    for part in rest.split(|b| *b == b',') {
        let part = part.trim_ascii();
        let (name, value) = match part.iter().position(|b| *b == b'=') {
            Some(i) => (&part[..i], &part[i + 1..]),
            None => (part, &b""[..]),
        };
        let name = String::from_utf8_lossy(name.trim_ascii()).to_ascii_lowercase();
        // A name given twice with different values: neither counts.
        if components.insert(name.clone(), value.trim_ascii().to_vec()).is_some_and(|old| old != value.trim_ascii()) {
            components.insert(name, b"(ambiguous)".to_vec());
        }
    }
    (alg, components, req.get_header("x-amz-date").map(<[u8]>::to_vec), req.get_header("x-amz-content-sha256").map(<[u8]>::to_vec))
}

#[derive(Debug, Clone, Copy)]
enum AuthTarget {
    GetObject,
    PutObject,
    ListBucket,
    HeadObject,
    ListBuckets,
}

#[test]
fn sigv4_authorization_headers() {
    let h = Harness::start("sigv4");
    h.put("obj", b"hello");
    // The harness's signing works: an untouched request reads the object.
    let headers = h.sign("GET", "/fuzz/obj", &[], "UNSIGNED-PAYLOAD").unwrap();
    let ok = h.send(&Req { method: "GET".into(), target: b"/fuzz/obj".to_vec(), headers, body: Vec::new() });
    assert_eq!((ok.status, ok.body.as_slice()), (200, &b"hello"[..]), "{}", ok.text());

    let target = prop_oneof![
        Just(AuthTarget::GetObject),
        Just(AuthTarget::PutObject),
        Just(AuthTarget::ListBucket),
        Just(AuthTarget::HeadObject),
        Just(AuthTarget::ListBuckets)
    ];
    let forged = std::sync::atomic::AtomicU32::new(0);
    run(&h, (target, prop::collection::vec(auth_mutation(), 1..4)), |(target, mutations)| {
        let (method, path, body): (&str, &str, &[u8]) = match target {
            AuthTarget::GetObject => ("GET", "/fuzz/obj", b""),
            AuthTarget::PutObject => ("PUT", "/fuzz/written", b"body bytes"),
            AuthTarget::ListBucket => ("GET", "/fuzz?list-type=2&prefix=o", b""),
            AuthTarget::HeadObject => ("HEAD", "/fuzz/obj", b""),
            AuthTarget::ListBuckets => ("GET", "/", b""),
        };
        let headers = h.sign(method, path, &[], "UNSIGNED-PAYLOAD").unwrap();
        let mut req = Req { method: method.into(), target: path.into(), headers, body: body.to_vec() };
        let original = auth_meaning(&req);
        for m in &mutations {
            mutate_auth(&mut req, m);
        }
        let resp = h.send_ok(&req)?;
        // Nothing here is public: a request that no longer carries its own signature must not
        // get through (a second Authorization header after the real one is left open).
        let two = mutations.iter().any(|m| matches!(m, AuthMutation::TwoAuthorizations(_)));
        if !two && auth_meaning(&req) != original {
            forged.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if (200..300).contains(&resp.status) {
                return Err(failure(&req, &resp, "a request whose signature does not hold must not succeed"));
            }
        }
        Ok(())
    });
    h.summary(&format!("({} forged requests refused)", forged.load(std::sync::atomic::Ordering::Relaxed)));
}

// ---------------------------------------------------------------------------------------
// 2. Presigned query strings
// ---------------------------------------------------------------------------------------

const PRESIGN_PARAMS: [&str; 7] = ["X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature", "x-id"];

#[derive(Debug, Clone)]
enum QueryMutation {
    Expires(String),
    Date(Text),
    /// A credential of this many `/`-separated parts (from the real one, then garbage).
    CredentialParts(usize, Text),
    Signature(Text),
    Set(usize, Text),
    Remove(usize),
    Duplicate(usize, Option<Text>),
    PercentGarbage(usize, f64, &'static str),
    LowerCaseName(usize),
    Raw(Text),
    AlsoHeaderAuth,
}

/// Query-string bytes: printable ASCII (sent as is) or percent-encoded anything.
fn query_bytes(v: &[u8]) -> Vec<u8> {
    v.iter().flat_map(|&b| if b.is_ascii_graphic() && b != b'&' && b != b'#' { vec![b] } else { format!("%{b:02X}").into_bytes() }).collect()
}

fn query_mutation() -> impl Strategy<Value = QueryMutation> {
    let idx = 0usize..PRESIGN_PARAMS.len();
    prop_oneof![
        bad_number().prop_map(QueryMutation::Expires),
        bad_date().prop_map(QueryMutation::Date),
        (0usize..7, garbage()).prop_map(|(n, g)| QueryMutation::CredentialParts(n, g)),
        prop_oneof![
            Just(b"abc".to_vec()),
            "[0-9a-f]{63}".prop_map(String::into_bytes),
            "[0-9a-f]{64}".prop_map(String::into_bytes),
            "[g-z]{64}".prop_map(String::into_bytes),
            garbage().prop_map(|t| t.0)
        ]
        .prop_map(|v| QueryMutation::Signature(Text(v))),
        (idx.clone(), garbage()).prop_map(|(i, v)| QueryMutation::Set(i, v)),
        idx.clone().prop_map(QueryMutation::Remove),
        (idx.clone(), prop::option::of(garbage())).prop_map(|(i, v)| QueryMutation::Duplicate(i, v)),
        (idx.clone(), 0.0..1.0f64, prop::sample::select(vec!["%", "%G1", "%zz", "%FF", "%00", "%C3%28", "%%", "%2", "%E2%82", "%ED%A0%80", "+", "%0D%0A"]))
            .prop_map(|(i, f, g)| QueryMutation::PercentGarbage(i, f, g)),
        idx.prop_map(QueryMutation::LowerCaseName),
        value_bytes(64).prop_map(QueryMutation::Raw),
        Just(QueryMutation::AlsoHeaderAuth),
    ]
}

fn mutate_query(pairs: &mut Vec<(Vec<u8>, Vec<u8>)>, raw_tail: &mut Vec<u8>, header_auth: &mut bool, m: &QueryMutation) {
    let find = |pairs: &Vec<(Vec<u8>, Vec<u8>)>, name: &str| pairs.iter().position(|(k, _)| k.eq_ignore_ascii_case(name.as_bytes()));
    let set = |pairs: &mut Vec<(Vec<u8>, Vec<u8>)>, name: &str, v: Vec<u8>| match find(pairs, name) {
        Some(i) => pairs[i].1 = v,
        None => pairs.push((name.as_bytes().to_vec(), v)),
    };
    match m {
        QueryMutation::Expires(v) => set(pairs, "X-Amz-Expires", query_bytes(v.as_bytes())),
        QueryMutation::Date(v) => set(pairs, "X-Amz-Date", query_bytes(v)),
        QueryMutation::CredentialParts(n, g) => {
            let real = find(pairs, "X-Amz-Credential").map(|i| pairs[i].1.clone()).unwrap_or_default();
            let real = String::from_utf8_lossy(&pct_decode(&String::from_utf8_lossy(&real), false)).into_owned();
            let mut parts: Vec<Vec<u8>> = real.split('/').map(|p| p.as_bytes().to_vec()).collect();
            parts.resize(*n, g.to_vec());
            set(pairs, "X-Amz-Credential", query_bytes(&parts.join(&b'/')));
        }
        QueryMutation::Signature(v) => set(pairs, "X-Amz-Signature", query_bytes(v)),
        QueryMutation::Set(i, v) => set(pairs, PRESIGN_PARAMS[*i], query_bytes(v)),
        QueryMutation::Remove(i) => pairs.retain(|(k, _)| !k.eq_ignore_ascii_case(PRESIGN_PARAMS[*i].as_bytes())),
        QueryMutation::Duplicate(i, v) => {
            if let Some(j) = find(pairs, PRESIGN_PARAMS[*i]) {
                let (k, old) = pairs[j].clone();
                pairs.push((k, v.as_deref().map_or(old, query_bytes)));
            }
        }
        QueryMutation::PercentGarbage(i, f, g) => {
            if let Some(j) = find(pairs, PRESIGN_PARAMS[*i]) {
                let v = &mut pairs[j].1;
                let at = at(*f, v.len());
                v.splice(at..at, g.bytes());
            }
        }
        QueryMutation::LowerCaseName(i) => {
            if let Some(j) = find(pairs, PRESIGN_PARAMS[*i]) {
                pairs[j].0.make_ascii_lowercase();
            }
        }
        QueryMutation::Raw(v) => {
            raw_tail.push(b'&');
            raw_tail.extend_from_slice(v);
        }
        QueryMutation::AlsoHeaderAuth => *header_auth = true,
    }
}

#[test]
fn presigned_query_strings() {
    let h = Harness::start("presign");
    h.put("obj", b"presigned body");
    let t = h.presign("GET", "/fuzz/obj", Duration::from_secs(600)).unwrap();
    let ok = h.send(&Req::new("GET", t));
    assert_eq!((ok.status, ok.body.as_slice()), (200, &b"presigned body"[..]), "{}", ok.text());

    let forged = std::sync::atomic::AtomicU32::new(0);
    run(&h, (any::<bool>(), prop::collection::vec(query_mutation(), 1..4)), |(put, mutations)| {
        let (method, path) = if put { ("PUT", "/fuzz/presigned-put") } else { ("GET", "/fuzz/obj") };
        let target = h.presign(method, path, Duration::from_secs(600)).unwrap();
        let (path_part, query) = target.split_once('?').unwrap_or((&target, ""));
        let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.as_bytes().to_vec(), v.as_bytes().to_vec())
            })
            .collect();
        let meaning = |pairs: &[(Vec<u8>, Vec<u8>)]| -> std::collections::BTreeSet<(Vec<u8>, Vec<u8>)> {
            let decode = |b: &[u8]| pct_decode(&String::from_utf8_lossy(b), true);
            pairs.iter().map(|(k, v)| (decode(k).to_ascii_lowercase(), decode(v))).collect()
        };
        let original = meaning(&pairs);
        let mut raw_tail = Vec::new();
        let mut header_auth = false;
        for m in &mutations {
            mutate_query(&mut pairs, &mut raw_tail, &mut header_auth, m);
        }
        let changed = meaning(&pairs) != original || raw_tail.iter().any(|b| *b != b'&');
        let mut t = path_part.as_bytes().to_vec();
        t.push(b'?');
        for (i, (k, v)) in pairs.iter().enumerate() {
            if i > 0 {
                t.push(b'&');
            }
            t.extend_from_slice(k);
            t.push(b'=');
            t.extend_from_slice(v);
        }
        t.extend_from_slice(&raw_tail);
        let mut req = Req::new(method, t);
        if put {
            req.body = b"written through a presigned url".to_vec();
        }
        if header_auth {
            req.headers = h.sign(method, path, &[], "UNSIGNED-PAYLOAD").unwrap();
        }
        let resp = h.send_ok(&req)?;
        // Nothing here is public: a presigned URL changed in any signed part must not work.
        if changed && !header_auth {
            forged.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if (200..300).contains(&resp.status) {
                return Err(failure(&req, &resp, "a presigned URL whose signature does not hold must not work"));
            }
        }
        Ok(())
    });
    h.summary(&format!("({} forged URLs refused)", forged.load(std::sync::atomic::Ordering::Relaxed)));
}

// ---------------------------------------------------------------------------------------
// 3. aws-chunked bodies
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum SizeLine {
    Correct,
    Hex(u64),
    Text(String),
    Huge,
    Negative,
    Extension(String),
    Uppercase,
    Padded,
}

#[derive(Debug, Clone)]
struct ChunkSpec {
    len: usize,
    size_line: SizeLine,
    crlf_after_size: bool,
    crlf_after_data: bool,
    /// Its signature (if signed) is wrong in one digit.
    bad_signature: bool,
}

#[derive(Debug, Clone)]
enum Trailer {
    None,
    Crc32,
    WrongCrc32,
    Text(Text),
    NoColon,
    Many(usize),
    NoFinalCrlf,
}

#[derive(Debug, Clone)]
enum DecodedLength {
    Correct,
    Off(i64),
    Text(String),
    Missing,
}

#[derive(Debug, Clone, Copy)]
enum ChunkMode {
    UnsignedTrailer,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD` with made-up chunk signatures.
    SignedChunks,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD` with the right chunk signatures (of the data as
    /// sent, whatever the size lines say).
    SignedValid,
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER` without `Content-Encoding: aws-chunked`.
    NoContentEncoding,
}

#[derive(Debug, Clone)]
struct ChunkedCase {
    mode: ChunkMode,
    chunks: Vec<ChunkSpec>,
    final_line: SizeLine,
    trailer: Trailer,
    decoded: DecodedLength,
    /// Keep this fraction of the body (the HTTP framing stays right).
    truncate: Option<f64>,
    seed: u8,
}

fn size_line(correct_weight: u32) -> impl Strategy<Value = SizeLine> {
    prop_oneof![
        correct_weight => Just(SizeLine::Correct),
        1 => any::<u64>().prop_map(SizeLine::Hex),
        1 => (0u64..5000).prop_map(SizeLine::Hex),
        1 => prop_oneof!["[ -~]{0,20}", "[0-9a-fA-F]{17,40}", Just("0x10".to_owned()), Just(String::new())].prop_map(SizeLine::Text),
        1 => Just(SizeLine::Huge),
        1 => Just(SizeLine::Negative),
        1 => prop_oneof![Just("chunk-signature=".to_owned()), "chunk-signature=[0-9a-f]{0,70}", "[ -~]{0,30}", Just("a=b;c=d".to_owned())].prop_map(SizeLine::Extension),
        1 => Just(SizeLine::Uppercase),
        1 => Just(SizeLine::Padded),
    ]
}

fn chunked_case() -> impl Strategy<Value = ChunkedCase> {
    let chunk = (0usize..3000, size_line(12), prop::bool::weighted(0.95), prop::bool::weighted(0.95), prop::bool::weighted(0.1)).prop_map(
        |(len, size_line, crlf_after_size, crlf_after_data, bad_signature)| ChunkSpec { len, size_line, crlf_after_size, crlf_after_data, bad_signature },
    );
    let trailer = prop_oneof![
        3 => Just(Trailer::Crc32),
        1 => Just(Trailer::None),
        1 => Just(Trailer::WrongCrc32),
        1 => value_bytes(80).prop_map(Trailer::Text),
        1 => Just(Trailer::NoColon),
        1 => (2usize..2000).prop_map(Trailer::Many),
        1 => Just(Trailer::NoFinalCrlf),
    ];
    let decoded = prop_oneof![
        4 => Just(DecodedLength::Correct),
        1 => prop_oneof![-5i64..5, Just(i64::MIN), Just(i64::MAX), any::<i64>()].prop_map(DecodedLength::Off),
        1 => bad_number().prop_map(DecodedLength::Text),
        1 => Just(DecodedLength::Missing),
    ];
    let mode = prop_oneof![
        5 => Just(ChunkMode::UnsignedTrailer),
        3 => Just(ChunkMode::SignedValid),
        1 => Just(ChunkMode::SignedChunks),
        1 => Just(ChunkMode::NoContentEncoding)
    ];
    let hostile = (mode, prop::collection::vec(chunk, 0..5), size_line(12), trailer, decoded, prop::option::weighted(0.15, 0.0..1.0f64), any::<u8>())
        .prop_map(|(mode, chunks, final_line, trailer, decoded, truncate, seed)| ChunkedCase { mode, chunks, final_line, trailer, decoded, truncate, seed });
    let valid_chunk =
        (1usize..3000).prop_map(|len| ChunkSpec { len, size_line: SizeLine::Correct, crlf_after_size: true, crlf_after_data: true, bad_signature: false });
    let valid = (prop::collection::vec(valid_chunk, 0..4), any::<bool>(), any::<u8>()).prop_map(|(chunks, signed, seed)| ChunkedCase {
        mode: if signed { ChunkMode::SignedValid } else { ChunkMode::UnsignedTrailer },
        chunks,
        final_line: SizeLine::Correct,
        trailer: if signed { Trailer::None } else { Trailer::Crc32 },
        decoded: DecodedLength::Correct,
        truncate: None,
        seed,
    });
    prop_oneof![1 => valid, 3 => hostile]
}

/// Chunk signatures of `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`, each chained to the one before
/// (the first to the request's signature).
struct ChunkSigner {
    key: [u8; 32],
    date: String,
    previous: String,
}

impl ChunkSigner {
    fn new(amz_date: &str, seed: &str) -> Self {
        let mut k = hmac_sha256(format!("AWS4{SECRET_KEY}").as_bytes(), amz_date.get(..8).unwrap_or("").as_bytes());
        for part in ["us-east-1", "s3", "aws4_request"] {
            k = hmac_sha256(&k, part.as_bytes());
        }
        Self { key: k, date: amz_date.to_owned(), previous: seed.to_owned() }
    }

    fn next(&mut self, chunk: &[u8]) -> String {
        let scope = format!("{}/us-east-1/s3/aws4_request", self.date.get(..8).unwrap_or(""));
        let to_sign = format!("AWS4-HMAC-SHA256-PAYLOAD\n{}\n{scope}\n{}\n{}\n{}", self.date, self.previous, sha256_hex(b""), sha256_hex(chunk));
        self.previous = hex(&hmac_sha256(&self.key, to_sign.as_bytes()));
        self.previous.clone()
    }
}

fn render_size(line: &SizeLine, len: usize, mode: ChunkMode, signature: Option<String>) -> Vec<u8> {
    let mut s = match line {
        SizeLine::Correct | SizeLine::Extension(_) => format!("{len:x}"),
        SizeLine::Hex(n) => format!("{n:x}"),
        SizeLine::Text(t) => t.clone(),
        SizeLine::Huge => "ffffffffffffffffffffffff".to_owned(),
        SizeLine::Negative => format!("-{len:x}"),
        SizeLine::Uppercase => format!("{len:X}"),
        SizeLine::Padded => format!("000000{len:x}"),
    };
    if let SizeLine::Extension(e) = line {
        s.push(';');
        s.push_str(e);
    } else if let Some(sig) = signature {
        s.push_str(";chunk-signature=");
        s.push_str(&sig);
    } else if matches!(mode, ChunkMode::SignedChunks) {
        s.push_str(";chunk-signature=");
        s.push_str(&"0".repeat(64));
    }
    s.into_bytes()
}

impl ChunkedCase {
    /// Whether nothing is wrong with the request: it must then succeed.
    fn valid(&self) -> bool {
        let ok_line = |l: &SizeLine| matches!(l, SizeLine::Correct | SizeLine::Uppercase);
        let framed = match self.mode {
            ChunkMode::UnsignedTrailer => matches!(self.trailer, Trailer::Crc32),
            ChunkMode::SignedValid => matches!(self.trailer, Trailer::None),
            _ => false,
        };
        framed
            && self.chunks.iter().all(|c| c.len > 0 && ok_line(&c.size_line) && c.crlf_after_size && c.crlf_after_data && !c.bad_signature)
            && ok_line(&self.final_line)
            && matches!(self.decoded, DecodedLength::Correct)
            && self.truncate.is_none()
    }

    /// The data the body encodes.
    fn decoded(&self) -> Vec<u8> {
        self.chunks.iter().enumerate().flat_map(|(i, c)| data(c.len, self.seed.wrapping_add(i as u8))).collect()
    }

    /// The body as sent and the data it encodes (chunks signed by `signer`, if any).
    fn render(&self, mut signer: Option<ChunkSigner>) -> (Vec<u8>, Vec<u8>) {
        let mut body = Vec::new();
        let mut decoded = Vec::new();
        for (i, c) in self.chunks.iter().enumerate() {
            let d = data(c.len, self.seed.wrapping_add(i as u8));
            let sig = signer
                .as_mut()
                .map(|s| s.next(&d))
                .map(|sig| if c.bad_signature { format!("{}{}", if sig.starts_with('0') { '1' } else { '0' }, &sig[1..]) } else { sig });
            body.extend_from_slice(&render_size(&c.size_line, c.len, self.mode, sig));
            if c.crlf_after_size {
                body.extend_from_slice(b"\r\n");
            }
            body.extend_from_slice(&d);
            if c.crlf_after_data {
                body.extend_from_slice(b"\r\n");
            }
            decoded.extend_from_slice(&d);
        }
        let sig = signer.as_mut().map(|s| s.next(b""));
        body.extend_from_slice(&render_size(&self.final_line, 0, self.mode, sig));
        body.extend_from_slice(b"\r\n");
        let crc = b64(&crc32(&decoded).to_be_bytes());
        match &self.trailer {
            Trailer::None => {}
            Trailer::Crc32 => body.extend_from_slice(format!("x-amz-checksum-crc32:{crc}\r\n").as_bytes()),
            Trailer::WrongCrc32 => body.extend_from_slice(b"x-amz-checksum-crc32:AAAAAA==\r\n"),
            Trailer::Text(t) => {
                body.extend_from_slice(t);
                body.extend_from_slice(b"\r\n");
            }
            Trailer::NoColon => body.extend_from_slice(format!("x-amz-checksum-crc32 {crc}\r\n").as_bytes()),
            Trailer::Many(n) => {
                for i in 0..*n {
                    body.extend_from_slice(format!("x-amz-meta-t{i}:v\r\n").as_bytes());
                }
            }
            Trailer::NoFinalCrlf => {
                body.extend_from_slice(format!("x-amz-checksum-crc32:{crc}").as_bytes());
                return (self.cut(body), decoded);
            }
        }
        body.extend_from_slice(b"\r\n");
        (self.cut(body), decoded)
    }

    fn cut(&self, mut body: Vec<u8>) -> Vec<u8> {
        if let Some(f) = self.truncate {
            body.truncate(at(f, body.len()));
        }
        body
    }
}

#[test]
fn aws_chunked_bodies() {
    let h = Harness::start("chunked");
    let valid_count = std::sync::atomic::AtomicU32::new(0);
    let forged_count = std::sync::atomic::AtomicU32::new(0);
    run(&h, chunked_case(), |case| {
        let decoded = case.decoded();
        let decoded_len = match &case.decoded {
            DecodedLength::Correct => Some(decoded.len().to_string()),
            DecodedLength::Off(d) => Some((decoded.len() as i64).saturating_add(*d).to_string()),
            DecodedLength::Text(t) => Some(t.clone()),
            DecodedLength::Missing => None,
        };
        let payload = match case.mode {
            ChunkMode::SignedChunks | ChunkMode::SignedValid => "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
            _ => "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        };
        let mut headers: Vec<(&str, &str)> = Vec::new();
        if !matches!(case.mode, ChunkMode::NoContentEncoding) {
            headers.push(("content-encoding", "aws-chunked"));
        }
        if let Some(d) = &decoded_len {
            headers.push(("x-amz-decoded-content-length", d));
        }
        if !matches!(case.trailer, Trailer::None) {
            headers.push(("x-amz-trailer", "x-amz-checksum-crc32"));
        }
        // Header values aws-sigv4 will not sign (control characters) go unsigned.
        let Some(signed) = h.sign("PUT", "/fuzz/chunked", &headers, payload).or_else(|| h.sign("PUT", "/fuzz/chunked", &[], payload)) else {
            return Ok(());
        };
        let signer = match case.mode {
            ChunkMode::SignedValid => {
                let header = |name: &str| signed.iter().find(|(k, _)| k == name).map(|(_, v)| String::from_utf8_lossy(v).into_owned()).unwrap_or_default();
                let seed = header("authorization").rsplit_once("Signature=").map(|(_, s)| s.to_owned()).unwrap_or_default();
                Some(ChunkSigner::new(&header("x-amz-date"), &seed))
            }
            _ => None,
        };
        let (body, decoded) = case.render(signer);
        let mut req = Req { method: "PUT".into(), target: b"/fuzz/chunked".to_vec(), headers: signed, body };
        if let Some(d) = &decoded_len {
            req.set_header("x-amz-decoded-content-length", d.as_bytes());
        }
        let resp = h.send_ok(&req)?;
        let forged = matches!(case.mode, ChunkMode::SignedValid)
            && (case.chunks.iter().any(|c| c.bad_signature || matches!(c.size_line, SizeLine::Extension(_)))
                || matches!(case.final_line, SizeLine::Extension(_)));
        if forged {
            forged_count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if (200..300).contains(&resp.status) {
                return Err(failure(&req, &resp, "a chunk without its right signature must not be stored"));
            }
        }
        if case.valid() {
            valid_count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if resp.status != 200 {
                return Err(failure(&req, &resp, "a valid aws-chunked upload must succeed"));
            }
            let get = Req {
                method: "GET".into(),
                target: b"/fuzz/chunked".to_vec(),
                headers: h.sign("GET", "/fuzz/chunked", &[], "UNSIGNED-PAYLOAD").unwrap(),
                body: Vec::new(),
            };
            let back = h.send_ok(&get)?;
            if back.status != 200 || back.body != decoded {
                return Err(failure(&req, &back, "the object uploaded aws-chunked must read back as its decoded bytes"));
            }
        }
        Ok(())
    });
    let (valid, forged) = (valid_count.load(std::sync::atomic::Ordering::Relaxed), forged_count.load(std::sync::atomic::Ordering::Relaxed));
    h.summary(&format!("({valid} valid uploads checked, {forged} with a forged chunk refused)"));
}

// ---------------------------------------------------------------------------------------
// 4. Range headers
// ---------------------------------------------------------------------------------------

const RANGED_LEN: u64 = 1000;

fn range_number() -> impl Strategy<Value = u64> {
    prop_oneof![0u64..1100, Just(0), Just(RANGED_LEN - 1), Just(RANGED_LEN), Just(u64::MAX), Just(u64::MAX - 1), Just(i64::MAX as u64), any::<u64>()]
}

fn range_spec() -> impl Strategy<Value = String> {
    prop_oneof![
        (range_number(), range_number()).prop_map(|(a, b)| format!("{a}-{b}")),
        range_number().prop_map(|a| format!("{a}-")),
        range_number().prop_map(|b| format!("-{b}")),
        Just("-0".to_owned()),
        Just("0-0".to_owned()),
        Just("-".to_owned()),
        Just(String::new()),
        "[0-9]{19,40}-[0-9]{0,40}",
        "[0-9 ,=-]{0,16}",
    ]
}

fn range_header() -> impl Strategy<Value = Vec<u8>> {
    let unit = prop_oneof![6 => Just("bytes="), 1 => Just("Bytes="), 1 => Just("bytes ="), 1 => Just("items="), 1 => Just(""), 1 => Just("bytes= ")];
    prop_oneof![
        4 => prop_oneof![
            (range_number(), range_number()).prop_map(|(a, b)| format!("bytes={a}-{b}").into_bytes()),
            range_number().prop_map(|a| format!("bytes={a}-").into_bytes()),
            range_number().prop_map(|b| format!("bytes=-{b}").into_bytes()),
        ],
        4 => (unit, prop::collection::vec(range_spec(), 1..4), prop::sample::select(vec![",", ", ", " , ", ",,"]))
            .prop_map(|(u, specs, sep)| format!("{u}{}", specs.join(sep)).into_bytes()),
        1 => value_bytes(60).prop_map(|t| t.0),
        1 => any::<String>().prop_map(|s| s.replace(['\r', '\n'], "").into_bytes()),
    ]
}

/// The bytes a well-formed single range selects of the object (RFC 9110 14.1.2), if any.
fn satisfiable(range: &[u8]) -> Option<(usize, usize)> {
    let spec = std::str::from_utf8(range).ok()?.strip_prefix("bytes=")?;
    let (first, last) = spec.split_once('-')?;
    let number = |s: &str| {
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) { s.parse::<u64>().ok() } else { None }
    };
    let (s, e) = match (first, last) {
        ("", n) => {
            let n = number(n)?;
            (RANGED_LEN.saturating_sub(n), RANGED_LEN - 1)
        }
        (f, "") => (number(f)?, RANGED_LEN - 1),
        (f, l) => (number(f)?, number(l)?.min(RANGED_LEN - 1)),
    };
    if first.is_empty() && number(last)? == 0 {
        return None;
    }
    (s < RANGED_LEN && s <= e).then_some((s as usize, e as usize))
}

#[test]
fn range_headers() {
    let h = Harness::start("range");
    let content = data(RANGED_LEN as usize, 4);
    h.put("ranged", &content);
    run(&h, (range_header().prop_map(Text), any::<bool>(), prop::bool::weighted(0.2)), |(range, head, part_number)| {
        let method = if head { "HEAD" } else { "GET" };
        let target = if part_number { "/fuzz/ranged?partNumber=1" } else { "/fuzz/ranged" };
        let mut req = Req { method: method.into(), target: target.into(), headers: h.sign(method, target, &[], "UNSIGNED-PAYLOAD").unwrap(), body: Vec::new() };
        let range = range.0;
        req.set_header("range", range.clone());
        let resp = h.send_ok(&req)?;
        let body_ok = |want: &[u8]| head || resp.body == want;
        if let Some((s, e)) = satisfiable(&range).filter(|_| !part_number && !head)
            && (resp.status != 206 || !body_ok(&content[s..=e]))
        {
            return Err(failure(&req, &resp, &format!("a satisfiable range must answer 206 with bytes {s}-{e}")));
        }
        match resp.status {
            200 if !body_ok(&content) => Err(failure(&req, &resp, "200 must carry the whole object")),
            206 => {
                let cr = resp.header("content-range").unwrap_or("").to_owned();
                let parsed = cr.strip_prefix("bytes ").and_then(|r| {
                    let (span, total) = r.split_once('/')?;
                    let (s, e) = span.split_once('-')?;
                    Some((s.parse::<usize>().ok()?, e.parse::<usize>().ok()?, total.parse::<u64>().ok()?))
                });
                match parsed {
                    Some((s, e, RANGED_LEN)) if s <= e && (e as u64) < RANGED_LEN && body_ok(&content[s..=e]) => Ok(()),
                    _ => Err(failure(&req, &resp, &format!("206 with Content-Range {cr:?} and a body of {} bytes", resp.body.len()))),
                }
            }
            _ => Ok(()),
        }?;
        Ok(())
    });
    h.summary("");
}

// ---------------------------------------------------------------------------------------
// 5. XML bodies
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
enum XmlTarget {
    DeleteObjects,
    CompleteMultipartUpload,
    PutObjectTagging,
    PutBucketAcl,
}

#[derive(Debug, Clone)]
enum XmlMutation {
    Truncate(f64),
    Insert(f64, Text),
    Snippet(f64, &'static str),
    Doctype(&'static str),
    /// Wrap the document's root (or, if `inner`, its first child) in `depth` elements.
    Nest {
        depth: usize,
        inner: bool,
    },
    HugeText(usize),
    /// The root's content repeated.
    Repeat(usize),
    FlipByte(f64, u8),
    Declaration(&'static str),
}

const SNIPPETS: [&str; 22] = [
    "&xxe;",
    "&lol9;",
    "&#0;",
    "&#xFFFFFFFF;",
    "&#x110000;",
    "&#55296;",
    "&lt;",
    "&",
    "<",
    ">",
    "]]>",
    "<![CDATA[x]]>",
    "<![CDATA[",
    "<!-- c -->",
    "<?pi x?>",
    "</Delete>",
    "<Object>",
    "<Key/>",
    "\u{feff}",
    "\0",
    "<a xmlns:x=\"urn:x\" x:b=\"c\"/>",
    "<Key attr=\"&xxe;\">",
];

const DOCTYPES: [&str; 4] = [
    "<!DOCTYPE r [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>",
    "<!DOCTYPE r [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\"><!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\"><!ENTITY lol9 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">]>",
    "<!DOCTYPE r SYSTEM \"http://127.0.0.1:1/x.dtd\">",
    "<!DOCTYPE",
];

fn xml_mutation() -> impl Strategy<Value = XmlMutation> {
    prop_oneof![
        (0.0..1.0f64).prop_map(XmlMutation::Truncate),
        (0.0..1.0f64, prop::collection::vec(any::<u8>(), 1..16)).prop_map(|(f, b)| XmlMutation::Insert(f, Text(b))),
        (0.0..1.0f64, prop::sample::select(SNIPPETS.to_vec())).prop_map(|(f, s)| XmlMutation::Snippet(f, s)),
        prop::sample::select(DOCTYPES.to_vec()).prop_map(XmlMutation::Doctype),
        (prop_oneof![1usize..50, 1000usize..5000, 50_000usize..150_000], any::<bool>()).prop_map(|(depth, inner)| XmlMutation::Nest { depth, inner }),
        prop_oneof![1usize..5000, 1_000_000usize..1_100_000, 2_090_000usize..2_110_000].prop_map(XmlMutation::HugeText),
        prop_oneof![0usize..3, 999usize..1003, 5000usize..6000].prop_map(XmlMutation::Repeat),
        (0.0..1.0f64, 1u8..=255).prop_map(|(f, x)| XmlMutation::FlipByte(f, x)),
        prop::sample::select(vec![
            "<?xml version=\"1.0\" encoding=\"UTF-16\"?>",
            "<?xml version=\"1.1\"?>",
            "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>",
            "<?xml ?>",
            "<?xml version=\"1.0\" standalone=\"no\"?>",
        ])
        .prop_map(XmlMutation::Declaration),
    ]
}

/// The root's start tag's end and its end tag's start.
fn root_span(doc: &[u8]) -> Option<(usize, usize)> {
    let open_end = doc.iter().position(|b| *b == b'>')? + 1;
    let close_start = doc.iter().rposition(|b| *b == b'<')?;
    (open_end <= close_start).then_some((open_end, close_start))
}

fn mutate_xml(doc: &mut Vec<u8>, m: &XmlMutation) {
    match m {
        XmlMutation::Truncate(f) => doc.truncate(at(*f, doc.len())),
        XmlMutation::Insert(f, b) => {
            let i = at(*f, doc.len());
            doc.splice(i..i, b.iter().copied());
        }
        XmlMutation::Snippet(f, s) => {
            let i = at(*f, doc.len());
            doc.splice(i..i, s.bytes());
        }
        XmlMutation::Doctype(d) => {
            doc.splice(0..0, d.bytes());
        }
        XmlMutation::Nest { depth, inner } => {
            let (open, close) = (b"<a>".repeat(*depth), b"</a>".repeat(*depth));
            match root_span(doc).filter(|_| *inner) {
                Some((s, e)) => {
                    doc.splice(e..e, close);
                    doc.splice(s..s, open);
                }
                None => {
                    doc.extend_from_slice(&close);
                    doc.splice(0..0, open);
                }
            }
        }
        XmlMutation::HugeText(n) => {
            // Into the first text node (after the first `>` that is followed by text).
            let i = doc.windows(2).position(|w| w[0] == b'>' && w[1] != b'<').map_or(doc.len(), |p| p + 1);
            doc.splice(i..i, std::iter::repeat_n(b'x', *n));
        }
        XmlMutation::Repeat(n) => {
            if let Some((s, e)) = root_span(doc) {
                let inner = doc[s..e].to_vec();
                // At most a few MiB in all: past the XML limit is tested, not the network.
                let n = (*n).min((4 << 20) / inner.len().max(1));
                let more: Vec<u8> = inner.repeat(n);
                doc.splice(e..e, more);
            }
        }
        XmlMutation::FlipByte(f, x) => {
            if !doc.is_empty() {
                let i = at(*f, doc.len() - 1);
                doc[i] ^= x;
            }
        }
        XmlMutation::Declaration(d) => {
            doc.splice(0..0, d.bytes());
        }
    }
}

#[test]
fn xml_bodies() {
    let h = Harness::start("xml");
    h.put("tagged", b"t");
    h.put("victim", b"v");
    let owner = ACCESS_KEY;
    run(
        &h,
        (
            prop_oneof![
                Just(XmlTarget::DeleteObjects),
                Just(XmlTarget::CompleteMultipartUpload),
                Just(XmlTarget::PutObjectTagging),
                Just(XmlTarget::PutBucketAcl)
            ],
            prop::collection::vec(xml_mutation(), 0..4),
            prop_oneof![4 => Just(0u8), 1 => Just(1), 1 => Just(2)],
        ),
        |(target, mutations, md5_mode)| {
            let (method, path, mut doc) = match target {
                XmlTarget::DeleteObjects => (
                    "POST",
                    "/fuzz?delete".to_owned(),
                    b"<Delete><Quiet>false</Quiet><Object><Key>victim</Key></Object><Object><Key>a&amp;b</Key></Object></Delete>".to_vec(),
                ),
                XmlTarget::CompleteMultipartUpload => {
                    let c = h.gw().client();
                    let (upload, etag) = h.block_on(async {
                        let up = c.create_multipart_upload().bucket(BUCKET).key("mpu").send().await.unwrap();
                        let id = up.upload_id().unwrap().to_owned();
                        let part =
                            c.upload_part().bucket(BUCKET).key("mpu").upload_id(&id).part_number(1).body(b"part one".to_vec().into()).send().await.unwrap();
                        (id, part.e_tag().unwrap().to_owned())
                    });
                    (
                        "POST",
                        format!("/fuzz/mpu?uploadId={}", pct(upload.as_bytes(), false)),
                        format!("<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{etag}</ETag></Part></CompleteMultipartUpload>").into_bytes(),
                    )
                }
                XmlTarget::PutObjectTagging => (
                    "PUT",
                    "/fuzz/tagged?tagging".to_owned(),
                    b"<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag><Tag><Key>k2</Key><Value></Value></Tag></TagSet></Tagging>".to_vec(),
                ),
                XmlTarget::PutBucketAcl => (
                    "PUT",
                    "/fuzz?acl".to_owned(),
                    format!(
                        "<AccessControlPolicy xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Owner><ID>{owner}</ID></Owner><AccessControlList><Grant>\
                         <Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"CanonicalUser\"><ID>{owner}</ID></Grantee>\
                         <Permission>FULL_CONTROL</Permission></Grant></AccessControlList></AccessControlPolicy>"
                    )
                    .into_bytes(),
                ),
            };
            for m in &mutations {
                mutate_xml(&mut doc, m);
            }
            let md5 = match md5_mode {
                0 => Some(md5_b64(&doc)),
                1 => None,
                _ => Some("1B2M2Y8AsgTpgAmY7PhCfg==".to_owned()),
            };
            let extra: Vec<(&str, &str)> = md5.iter().map(|m| ("content-md5", m.as_str())).collect();
            let signed = h.sign(method, &path, &extra, &sha256_hex(&doc)).unwrap();
            let req = Req { method: method.into(), target: path.into_bytes(), headers: signed, body: doc };
            h.send_ok(&req)?;
            Ok(())
        },
    );
    h.summary("");
}

// ---------------------------------------------------------------------------------------
// 6. POST object forms
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum PolicyMutation {
    None,
    /// Not base64 any more.
    Base64(f64, &'static str),
    /// Valid base64 of this JSON.
    Json(String),
    /// The real policy with its JSON cut.
    JsonTruncated(f64),
}

#[derive(Debug, Clone)]
enum FormMutation {
    Drop(usize),
    Duplicate(usize),
    Huge(usize, usize),
    Value(usize, Text),
    FileFirst,
    PartHeaders(usize, Text),
    NoClosingBoundary,
    Truncate(f64),
    BoundaryInBody(String),
    ContentType(Text),
    /// The boundary unquoted in `Content-Type`, whatever it holds.
    Unquoted,
}

#[derive(Debug, Clone)]
struct FormCase {
    boundary: String,
    policy: PolicyMutation,
    /// Sign the mutated policy (so the check gets past the signature).
    resign: bool,
    mutations: Vec<FormMutation>,
}

const FORM_FIELDS: usize = 7;

fn policy_json() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("{}".to_owned()),
        Just("[]".to_owned()),
        Just("null".to_owned()),
        Just(r#"{"expiration":5,"conditions":{}}"#.to_owned()),
        Just(r#"{"expiration":"not a date","conditions":[]}"#.to_owned()),
        Just(r#"{"expiration":"2099-01-01T00:00:00.000Z","conditions":[["content-length-range",-1,1e400]]}"#.to_owned()),
        Just(r#"{"expiration":"2099-01-01T00:00:00.000Z","conditions":[["content-length-range",18446744073709551615,0]]}"#.to_owned()),
        Just(r#"{"expiration":"2099-01-01T00:00:00.000Z","conditions":[["starts-with"],["eq","$key"],["bogus","a","b"],{"a":1,"b":2}]}"#.to_owned()),
        Just(r#"{"expiration":"1970-01-01T00:00:00.000Z","conditions":[]}"#.to_owned()),
        Just(r#"{"expiration":"+99999-01-01T00:00:00.000Z","conditions":[]}"#.to_owned()),
        (1usize..100_000).prop_map(|n| format!(r#"{{"expiration":"2099-01-01T00:00:00.000Z","conditions":{}{}}}"#, "[".repeat(n), "]".repeat(n))),
        "[ -~]{0,80}",
        any::<String>(),
    ]
}

fn form_case() -> impl Strategy<Value = FormCase> {
    let boundary = prop_oneof![
        4 => "[A-Za-z0-9'+_.-]{1,70}",
        // Characters a boundary may have only in quotes (RFC 2046).
        2 => "[A-Za-z0-9'()+_,./:=? -]{1,69}[A-Za-z0-9]",
        1 => Just(String::new()),
        1 => "[ -~]{0,100}",
        1 => "[a-z]{71,300}",
        1 => any::<String>().prop_map(|s| s.replace(['\r', '\n'], "")),
    ];
    let policy = prop_oneof![
        4 => Just(PolicyMutation::None),
        1 => (0.0..1.0f64, prop::sample::select(vec!["!", "=", "==x", "%", "\u{e9}", " ", "-_"])).prop_map(|(f, s)| PolicyMutation::Base64(f, s)),
        2 => policy_json().prop_map(PolicyMutation::Json),
        1 => (0.0..1.0f64).prop_map(PolicyMutation::JsonTruncated),
    ];
    let field = 0usize..FORM_FIELDS;
    let mutation = prop_oneof![
        field.clone().prop_map(FormMutation::Drop),
        field.clone().prop_map(FormMutation::Duplicate),
        (field.clone(), prop_oneof![1000usize..10_000, 1_000_000usize..1_100_000]).prop_map(|(i, n)| FormMutation::Huge(i, n)),
        (field.clone(), garbage()).prop_map(|(i, v)| FormMutation::Value(i, v)),
        Just(FormMutation::FileFirst),
        (field, value_bytes(60)).prop_map(|(i, v)| FormMutation::PartHeaders(i, v)),
        Just(FormMutation::NoClosingBoundary),
        Just(FormMutation::Unquoted),
        (0.0..1.0f64).prop_map(FormMutation::Truncate),
        "[ -~]{0,20}".prop_map(FormMutation::BoundaryInBody),
        prop_oneof![
            Just(b"multipart/form-data".to_vec()),
            Just(b"multipart/form-data; boundary=".to_vec()),
            Just(b"multipart/form-data; boundary=\"\"".to_vec()),
            Just(b"multipart/mixed; boundary=x".to_vec()),
            Just(b"application/x-www-form-urlencoded".to_vec()),
            garbage().prop_map(|t| t.0)
        ]
        .prop_map(|v| FormMutation::ContentType(Text(v))),
    ];
    (boundary, policy, any::<bool>(), prop::collection::vec(mutation, 0..3)).prop_map(|(boundary, policy, resign, mutations)| FormCase {
        boundary,
        policy,
        resign,
        mutations,
    })
}

/// A POST policy signature (SigV4: the policy's base64 signed with the day's key).
pub(crate) fn post_signature(date: &str, policy_b64: &str) -> String {
    let day = &date[..8];
    let k = hmac_sha256(format!("AWS4{SECRET_KEY}").as_bytes(), day.as_bytes());
    let k = hmac_sha256(&k, b"us-east-1");
    let k = hmac_sha256(&k, b"s3");
    let k = hmac_sha256(&k, b"aws4_request");
    hex(&hmac_sha256(&k, policy_b64.as_bytes()))
}

struct FormPart {
    headers: Vec<u8>,
    value: Vec<u8>,
}

fn form_part(name: &str, value: &[u8]) -> FormPart {
    FormPart { headers: format!("Content-Disposition: form-data; name=\"{name}\"").into_bytes(), value: value.to_vec() }
}

#[test]
fn post_object_forms() {
    let h = Harness::start("post");
    let accepted = std::sync::atomic::AtomicU32::new(0);
    run(&h, form_case(), |case| {
        let date = amz_date_now();
        let credential = format!("{ACCESS_KEY}/{}/us-east-1/s3/aws4_request", &date[..8]);
        let real_policy = format!(
            r#"{{"expiration":"2099-01-01T00:00:00.000Z","conditions":[{{"bucket":"{BUCKET}"}},["starts-with","$key","form/"],{{"x-amz-algorithm":"AWS4-HMAC-SHA256"}},{{"x-amz-credential":"{credential}"}},{{"x-amz-date":"{date}"}},["content-length-range",0,10485760]]}}"#
        );
        let real_b64 = b64(real_policy.as_bytes());
        let policy_b64 = match &case.policy {
            PolicyMutation::None => real_b64.clone(),
            PolicyMutation::Base64(f, s) => {
                let mut p = real_b64.clone();
                p.insert_str(at(*f, p.len()), s);
                p
            }
            PolicyMutation::Json(j) => b64(j.as_bytes()),
            PolicyMutation::JsonTruncated(f) => b64(&real_policy.as_bytes()[..at(*f, real_policy.len())]),
        };
        let signature = post_signature(&date, if case.resign { &policy_b64 } else { &real_b64 });
        let mut parts = vec![
            form_part("key", b"form/${filename}"),
            form_part("x-amz-algorithm", b"AWS4-HMAC-SHA256"),
            form_part("x-amz-credential", credential.as_bytes()),
            form_part("x-amz-date", date.as_bytes()),
            form_part("policy", policy_b64.as_bytes()),
            form_part("x-amz-signature", signature.as_bytes()),
            FormPart {
                headers: b"Content-Disposition: form-data; name=\"file\"; filename=\"up.txt\"\r\nContent-Type: text/plain".to_vec(),
                value: b"posted file body".to_vec(),
            },
        ];
        let token = case.boundary.bytes().all(|b| b.is_ascii_alphanumeric() || b"'+_.-".contains(&b));
        let mut content_type =
            if token { format!("multipart/form-data; boundary={}", case.boundary) } else { format!("multipart/form-data; boundary=\"{}\"", case.boundary) }
                .into_bytes();
        let mut closing = true;
        let mut truncate = None;
        let mut body_boundary = case.boundary.clone();
        for m in &case.mutations {
            match m {
                FormMutation::Drop(i) => {
                    if *i < parts.len() {
                        parts.remove(*i);
                    }
                }
                FormMutation::Duplicate(i) => {
                    if let Some(p) = parts.get(*i) {
                        let copy = FormPart { headers: p.headers.clone(), value: p.value.clone() };
                        parts.push(copy);
                    }
                }
                FormMutation::Huge(i, n) => {
                    if let Some(p) = parts.get_mut(*i) {
                        p.value.extend(std::iter::repeat_n(b'h', *n));
                    }
                }
                FormMutation::Value(i, v) => {
                    if let Some(p) = parts.get_mut(*i) {
                        p.value = v.to_vec();
                    }
                }
                FormMutation::FileFirst => {
                    if let Some(file) = parts.pop() {
                        parts.insert(0, file);
                    }
                }
                FormMutation::PartHeaders(i, v) => {
                    if let Some(p) = parts.get_mut(*i) {
                        p.headers = v.to_vec();
                    }
                }
                FormMutation::NoClosingBoundary => closing = false,
                FormMutation::Truncate(f) => truncate = Some(*f),
                FormMutation::BoundaryInBody(b) => body_boundary.clone_from(b),
                FormMutation::ContentType(v) => content_type = v.to_vec(),
                FormMutation::Unquoted => content_type = format!("multipart/form-data; boundary={}", case.boundary).into_bytes(),
            }
        }
        let mut body = Vec::new();
        for p in &parts {
            body.extend_from_slice(format!("--{body_boundary}\r\n").as_bytes());
            body.extend_from_slice(&p.headers);
            body.extend_from_slice(b"\r\n\r\n");
            body.extend_from_slice(&p.value);
            body.extend_from_slice(b"\r\n");
        }
        if closing {
            body.extend_from_slice(format!("--{body_boundary}--\r\n").as_bytes());
        }
        if let Some(f) = truncate {
            body.truncate(at(f, body.len()));
        }
        let req = Req::new("POST", "/fuzz").header("content-type", content_type).body(body);
        let resp = h.send_ok(&req)?;
        if resp.status < 300 {
            accepted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        let untouched = case.mutations.is_empty() && matches!(case.policy, PolicyMutation::None) && token && (1..=70).contains(&case.boundary.len());
        if untouched && !(200..300).contains(&resp.status) {
            return Err(failure(&req, &resp, "an untouched POST object form must succeed"));
        }
        Ok(())
    });
    h.summary(&format!("({} forms accepted)", accepted.load(std::sync::atomic::Ordering::Relaxed)));
}

// ---------------------------------------------------------------------------------------
// 7. Object keys
// ---------------------------------------------------------------------------------------

fn key_segment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("../".to_owned()),
        Just("/./".to_owned()),
        Just("./".to_owned()),
        Just("..".to_owned()),
        Just(".".to_owned()),
        Just("/".to_owned()),
        Just("//".to_owned()),
        Just("%00".to_owned()),
        Just("\0".to_owned()),
        Just("%".to_owned()),
        Just("+".to_owned()),
        Just(" ".to_owned()),
        Just("?".to_owned()),
        Just("#".to_owned()),
        Just("\\".to_owned()),
        Just("\u{ffff}".to_owned()),
        Just("\u{10ffff}".to_owned()),
        Just("\u{feff}".to_owned()),
        prop::char::range('\u{1}', '\u{1f}').prop_map(String::from),
        Just("\u{7f}".to_owned()),
        any::<char>().prop_map(String::from),
        "[a-z0-9]{1,10}",
        "[ -~]{1,10}",
        (1000usize..1100).prop_map(|n| "k".repeat(n)),
        (300usize..400).prop_map(|n| "\u{e9}".repeat(n)),
    ]
}

#[derive(Debug, Clone)]
enum KeyPath {
    /// Every byte that is not unreserved percent-encoded: the server must see the key.
    Encoded,
    /// The key sent as is, with percent-encoding garbage put in at this place.
    Raw(f64, &'static str),
}

#[test]
fn object_keys() {
    let h = Harness::start("keys");
    let accepted = std::sync::atomic::AtomicU32::new(0);
    let path_mode = prop_oneof![
        3 => Just(KeyPath::Encoded),
        1 => (0.0..1.0f64, prop::sample::select(vec!["%", "%zz", "%G0", "%C3", "%C3%28", "%FF", "%00", "%2", "%2F..%2F", "%ED%A0%80", "%F4%90%80%80", "%E2%82"]))
            .prop_map(|(f, g)| KeyPath::Raw(f, g)),
    ];
    run(&h, (prop::collection::vec(key_segment(), 1..6), path_mode, any::<u8>()), |(segments, mode, seed)| {
        let key = segments.concat();
        let target = match &mode {
            KeyPath::Encoded => format!("/{BUCKET}/{}", pct(key.as_bytes(), true)),
            KeyPath::Raw(f, g) => {
                // As is, but for what cannot be in a request line (it would not reach S3 at all).
                let mut k: String = key
                    .chars()
                    .map(|c| if c.is_ascii_graphic() && c != '?' && c != '#' { c.to_string() } else { pct(c.to_string().as_bytes(), false) })
                    .collect();
                k.insert_str(at(*f, k.len()).min(k.len()), g);
                while !k.is_char_boundary(k.len()) {
                    k.pop();
                }
                format!("/{BUCKET}/{k}")
            }
        };
        let req_for = |method: &str, target: &str, body: &[u8]| -> Req {
            let headers = h.sign(method, target, &[], "UNSIGNED-PAYLOAD").unwrap_or_default();
            Req { method: method.into(), target: target.as_bytes().to_vec(), headers, body: body.to_vec() }
        };
        let in_range = |req: &Req, resp: &RawResponse| -> Result<(), TestCaseError> {
            if (200..500).contains(&resp.status) && !(300..400).contains(&resp.status) {
                Ok(())
            } else {
                Err(failure(req, resp, "keys are answered 2xx or 4xx"))
            }
        };
        let body = data(usize::from(seed) * 7, seed);
        let put = req_for("PUT", &target, &body);
        let resp = h.send_ok(&put)?;
        in_range(&put, &resp)?;
        if resp.status >= 300 {
            return Ok(());
        }
        accepted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let get = req_for("GET", &target, b"");
        let got = h.send_ok(&get)?;
        if got.status != 200 || got.body != body {
            return Err(failure(&get, &got, &format!("an accepted key must read back byte-identical ({} bytes put)", body.len())));
        }
        let head = req_for("HEAD", &target, b"");
        let headed = h.send_ok(&head)?;
        if headed.status != 200 || headed.header("content-length") != Some(body.len().to_string().as_str()) {
            return Err(failure(&head, &headed, "HEAD of an accepted key"));
        }
        if let KeyPath::Encoded = mode {
            let list_target = format!("/{BUCKET}?list-type=2&encoding-type=url&prefix={}", pct(key.as_bytes(), false));
            let list = req_for("GET", &list_target, b"");
            let listed = h.send_ok(&list)?;
            let text = listed.text();
            let found = text
                .split("<Key>")
                .skip(1)
                .filter_map(|s| s.split_once("</Key>"))
                .any(|(k, _)| pct_decode(k, false) == key.as_bytes() || pct_decode(k, true) == key.as_bytes());
            if listed.status != 200 || !found {
                return Err(failure(&list, &listed, &format!("an accepted key is listed under its own prefix: {key:?}")));
            }
        }
        let del = req_for("DELETE", &target, b"");
        let deleted = h.send_ok(&del)?;
        in_range(&del, &deleted)?;
        if !(200..300).contains(&deleted.status) {
            return Err(failure(&del, &deleted, "DELETE of an accepted key"));
        }
        let gone = h.send_ok(&get)?;
        if gone.status != 404 {
            return Err(failure(&get, &gone, "GET after DELETE"));
        }
        Ok(())
    });
    h.summary(&format!("({} keys accepted and read back)", accepted.load(std::sync::atomic::Ordering::Relaxed)));
}

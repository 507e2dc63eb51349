//! loadgen: a small S3 load generator for benchmarking tollgate (and, for
//! reference, s3s-fs). Path-style requests, SigV4 header signing, one pooled
//! keep-alive HTTP/1.1 client with TCP_NODELAY.
//!
//! Benchmark mode: `--workload put|get|list|mixed` for `--duration` seconds
//! and/or `--ops` operations at `--concurrency` in-flight requests. Several
//! `--endpoint`s (a cluster's instances): operations go to each in turn.
//! File mode: `--file PATH` streams one file as one PUT, `--download-to PATH`
//! streams one GET to disk (both use `--key`).

mod sigv4;

use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use bytes::{Bytes, BytesMut};
use clap::{Parser, ValueEnum};
use http_body::{Body, Frame, SizeHint};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, CONTENT_LENGTH, HOST};
use hyper::{Method, Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::io::{AsyncRead, AsyncWriteExt, ReadBuf};

use sigv4::{EMPTY_SHA256, Signer, UNSIGNED_PAYLOAD};

type ReqBody = UnsyncBoxBody<Bytes, std::io::Error>;
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How many failed requests are described on stderr.
const MAX_REPORTED_ERRORS: usize = 5;

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum Workload {
    Put,
    Get,
    List,
    /// ListObjectVersions of the prefix.
    ListVersions,
    /// 70% GET, 20% PUT, 10% LIST.
    Mixed,
}

impl Workload {
    fn name(self) -> &'static str {
        match self {
            Workload::Put => "put",
            Workload::Get => "get",
            Workload::List => "list",
            Workload::ListVersions => "list-versions",
            Workload::Mixed => "mixed",
        }
    }
}

#[derive(Parser, Debug)]
#[command(name = "loadgen", about = "S3 load generator (SigV4, path-style)")]
struct Args {
    /// Server base URL (http only, path-style). Repeat it, or separate URLs with commas,
    /// to spread the operations over several servers (a cluster's instances) in turn:
    /// setup (bucket, versioning, policy) and file mode use the first.
    #[arg(long, value_delimiter = ',', default_value = "http://127.0.0.1:9000")]
    endpoint: Vec<String>,
    #[arg(long)]
    access_key: String,
    #[arg(long)]
    secret_key: String,
    #[arg(long, default_value = "us-east-1")]
    region: String,
    #[arg(long, default_value = "loadgen")]
    bucket: String,
    #[arg(long, value_enum, default_value_t = Workload::Put)]
    workload: Workload,
    /// Object size: bytes, or with a suffix (4KiB, 64MiB, 1GiB, 4K, 10MB, ...).
    #[arg(long, default_value = "4KiB", value_parser = parse_size)]
    size: u64,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Stop after this many seconds (default 10 when --ops is not given).
    #[arg(long)]
    duration: Option<f64>,
    /// Stop after this many operations (successful or failed).
    #[arg(long)]
    ops: Option<u64>,
    /// Key space: objects `<prefix>00000000` .. `<prefix>{keys-1}`.
    #[arg(long, default_value_t = 100)]
    keys: u64,
    /// Key prefix (also the LIST prefix).
    #[arg(long, default_value = "lg/")]
    prefix: String,
    /// `max-keys` for LIST requests.
    #[arg(long, default_value_t = 1000)]
    list_max_keys: u32,
    /// Do not PUT the key space before a get/list/mixed run (it must exist).
    #[arg(long)]
    no_populate: bool,
    /// Turn the bucket's versioning on after creating it (every PUT then makes a version).
    #[arg(long)]
    versioning: bool,
    /// Give the bucket a policy of this many statements before the run (0: none), each a
    /// Deny that every request evaluates in full (action, resource, then an IP condition
    /// that does not match), so the figures show a policy's cost per request.
    #[arg(long, default_value_t = 0)]
    policy_statements: usize,
    /// A LIST operation reads every page of the prefix (following the continuation token,
    /// or the key and version-id markers), not only the first.
    #[arg(long)]
    paginate: bool,
    /// Per-request timeout in seconds (a timeout counts as an error).
    #[arg(long, default_value_t = 60.0)]
    timeout: f64,
    /// Tokio worker threads (default: number of CPUs).
    #[arg(long)]
    threads: Option<usize>,
    /// Print one JSON line instead of the text report.
    #[arg(long)]
    json: bool,
    /// Also report the CPU time (user + system, all threads) this process, the server
    /// under test on this machine, spent per successful request of the measured phase.
    /// Repeat it (or separate pids with commas) for several servers: their CPU times add.
    #[arg(long, value_delimiter = ',')]
    server_pid: Vec<u32>,
    /// Like --server-pid, reported apart (`upstream_cpu_ms_per_op`): the processes behind
    /// the servers under test (an upstream on this machine).
    #[arg(long, value_delimiter = ',')]
    upstream_pid: Vec<u32>,
    /// File mode: upload this file (streamed from disk) as one PUT of --key.
    #[arg(long)]
    file: Option<PathBuf>,
    /// File mode: download --key with one GET, streaming to this path.
    #[arg(long)]
    download_to: Option<PathBuf>,
    /// Object key for file mode.
    #[arg(long, default_value = "loadgen-file")]
    key: String,
}

fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, suffix) = s.split_at(split);
    let n: u64 = num.parse().map_err(|_| format!("invalid size `{s}`"))?;
    let mult: u64 = match suffix.trim() {
        "" | "B" | "b" => 1,
        "K" | "k" | "KiB" | "Ki" | "kib" | "KIB" => 1 << 10,
        "M" | "m" | "MiB" | "Mi" | "mib" | "MIB" => 1 << 20,
        "G" | "g" | "GiB" | "Gi" | "gib" | "GIB" => 1 << 30,
        "KB" | "kB" | "kb" => 1_000,
        "MB" | "mb" => 1_000_000,
        "GB" | "gb" => 1_000_000_000,
        other => {
            return Err(format!("unknown size suffix `{other}` (use B, KiB, MiB, GiB, KB, MB, GB)"));
        }
    };
    n.checked_mul(mult).ok_or_else(|| format!("size `{s}` overflows"))
}

fn human_size(n: u64) -> String {
    const UNITS: [(&str, u64); 3] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    for (u, m) in UNITS {
        if n >= m && n.is_multiple_of(m) {
            return format!("{}{u}", n / m);
        }
    }
    format!("{n}B")
}

/// One server the requests go to.
struct Target {
    /// scheme://authority, no trailing slash.
    base: String,
    host: String,
}

/// Shared request context: client, signer, endpoints, error reporting.
struct Ctx {
    client: Client<HttpConnector, ReqBody>,
    signer: Signer,
    /// At least one; operations take them in turn (see [`Ctx::pick`]).
    targets: Vec<Target>,
    /// The operations begun, for the round robin over `targets`.
    turn: AtomicUsize,
    bucket: String,
    timeout: Duration,
    reported: AtomicUsize,
}

enum OpError {
    Status(StatusCode, String),
    Other(String),
}

impl std::fmt::Display for OpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpError::Status(s, body) => write!(f, "HTTP {s}: {body}"),
            OpError::Other(e) => f.write_str(e),
        }
    }
}

/// A target of a [`Ctx`]: signs requests for it.
struct Via<'a> {
    ctx: &'a Ctx,
    target: &'a Target,
}

impl Via<'_> {
    /// A signed request to the target.
    fn request(&self, method: Method, path: &str, query: &str, payload_hash: &str, body: ReqBody, len: Option<u64>) -> Request<ReqBody> {
        let target = self.target;
        let signed = self.ctx.signer.sign(method.as_str(), &target.host, path, query, payload_hash, SystemTime::now());
        let uri = if query.is_empty() { format!("{}{path}", target.base) } else { format!("{}{path}?{query}", target.base) };
        let mut b = Request::builder()
            .method(method)
            .uri(uri.parse::<Uri>().expect("valid request URI"))
            .header(HOST, &target.host)
            .header("x-amz-date", signed.amz_date)
            .header("x-amz-content-sha256", payload_hash)
            .header(AUTHORIZATION, signed.authorization);
        if let Some(len) = len {
            b = b.header(CONTENT_LENGTH, len);
        }
        b.body(body).expect("valid request")
    }
}

impl Ctx {
    /// The target of the next operation: each in turn.
    fn pick(&self) -> usize {
        self.turn.fetch_add(1, Ordering::Relaxed) % self.targets.len()
    }

    /// Requests to target `t`.
    fn to(&self, t: usize) -> Via<'_> {
        Via { ctx: self, target: &self.targets[t] }
    }

    fn object_path(&self, key: &str) -> String {
        sigv4::encode_path(&format!("/{}/{key}", self.bucket))
    }

    async fn send(&self, req: Request<ReqBody>) -> Result<Response<Incoming>, OpError> {
        match tokio::time::timeout(self.timeout, self.client.request(req)).await {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(e)) => Err(OpError::Other(format!("request failed: {}", error_chain(&e)))),
            Err(_) => Err(OpError::Other("request timed out (headers)".into())),
        }
    }

    /// Read the whole response body, counting bytes; keep at most `keep` bytes.
    async fn drain(&self, resp: Response<Incoming>, keep: usize) -> Result<(StatusCode, u64, Vec<u8>), OpError> {
        let status = resp.status();
        let mut body = resp.into_body();
        let mut n = 0u64;
        let mut kept = Vec::new();
        let fut = async {
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|e| OpError::Other(format!("body read failed: {}", error_chain(&e))))?;
                if let Ok(data) = frame.into_data() {
                    n += data.len() as u64;
                    if kept.len() < keep {
                        let take = (keep - kept.len()).min(data.len());
                        kept.extend_from_slice(&data[..take]);
                    }
                }
            }
            Ok::<_, OpError>(())
        };
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(r) => r?,
            Err(_) => return Err(OpError::Other("request timed out (body)".into())),
        }
        Ok((status, n, kept))
    }

    /// Send, drain, and turn a non-2xx into an error. Returns body bytes.
    async fn exchange(&self, req: Request<ReqBody>) -> Result<u64, OpError> {
        let resp = self.send(req).await?;
        let ok = resp.status().is_success();
        let (status, n, kept) = self.drain(resp, if ok { 0 } else { 2048 }).await?;
        if ok { Ok(n) } else { Err(OpError::Status(status, String::from_utf8_lossy(&kept).into_owned())) }
    }

    fn report(&self, what: &str, e: &OpError) {
        let i = self.reported.fetch_add(1, Ordering::Relaxed);
        if i < MAX_REPORTED_ERRORS {
            eprintln!("loadgen: error: {what}: {e}");
        } else if i == MAX_REPORTED_ERRORS {
            eprintln!("loadgen: (further errors not shown)");
        }
    }

    async fn put(&self, key: &str, payload: &Bytes) -> Result<u64, OpError> {
        let body = Full::new(payload.clone()).map_err(|never| match never {}).boxed_unsync();
        let req = self.to(self.pick()).request(Method::PUT, &self.object_path(key), "", UNSIGNED_PAYLOAD, body, Some(payload.len() as u64));
        self.exchange(req).await?;
        Ok(payload.len() as u64)
    }

    async fn get(&self, key: &str, expect: u64) -> Result<u64, OpError> {
        let req = self.to(self.pick()).request(Method::GET, &self.object_path(key), "", EMPTY_SHA256, empty(), None);
        let n = self.exchange(req).await?;
        if n != expect {
            return Err(OpError::Other(format!("GET {key}: got {n} bytes, expected {expect}")));
        }
        Ok(n)
    }

    /// One LIST (ListObjectsV2, or ListObjectVersions with `versions`) of `prefix`: its
    /// first page, or with `paginate` every page (all from the same target).
    async fn list(&self, prefix: &str, max_keys: u32, versions: bool, paginate: bool) -> Result<u64, OpError> {
        let t = self.pick();
        let mk = max_keys.to_string();
        let path = sigv4::encode_path(&format!("/{}", self.bucket));
        // The markers of the next page: continuation token, or key and version id.
        let mut next: Vec<(&str, String)> = Vec::new();
        loop {
            let mut params: Vec<(&str, &str)> = vec![("prefix", prefix), ("max-keys", &mk)];
            params.push(if versions { ("versions", "") } else { ("list-type", "2") });
            params.extend(next.iter().map(|(k, v)| (*k, v.as_str())));
            let query = sigv4::canonical_query(&params);
            let req = self.to(t).request(Method::GET, &path, &query, EMPTY_SHA256, empty(), None);
            let resp = self.send(req).await?;
            let ok = resp.status().is_success();
            let (status, _, body) = self.drain(resp, if paginate || !ok { usize::MAX } else { 0 }).await?;
            if !ok {
                return Err(OpError::Status(status, String::from_utf8_lossy(&body).into_owned()));
            }
            let body = String::from_utf8_lossy(&body);
            if !paginate || xml_value(&body, "IsTruncated") != Some("true") {
                // LIST moves no object data; its response bytes are not counted.
                return Ok(0);
            }
            next = if versions {
                let key = xml_value(&body, "NextKeyMarker").unwrap_or_default().to_owned();
                let version = xml_value(&body, "NextVersionIdMarker").unwrap_or_default().to_owned();
                vec![("key-marker", key), ("version-id-marker", version)]
            } else {
                vec![("continuation-token", xml_value(&body, "NextContinuationToken").unwrap_or_default().to_owned())]
            };
        }
    }

    /// PUTs a bucket subresource (`versioning=`, `policy=`) with `body`.
    async fn put_bucket_setting(&self, subresource: &str, body: Bytes) -> Result<(), OpError> {
        let hash = sigv4::hex(&<sha2::Sha256 as sha2::Digest>::digest(&body));
        let path = sigv4::encode_path(&format!("/{}", self.bucket));
        let len = body.len() as u64;
        let req = self.to(0).request(Method::PUT, &path, subresource, &hash, Full::new(body).map_err(|never| match never {}).boxed_unsync(), Some(len));
        self.exchange(req).await.map(drop)
    }

    /// Turns the bucket's versioning on.
    async fn enable_versioning(&self) -> Result<(), OpError> {
        self.put_bucket_setting("versioning=", Bytes::from_static(b"<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>")).await
    }

    /// Gives the bucket a policy of `statements` Deny statements that match no request of
    /// the run but are evaluated in full by each.
    async fn set_policy(&self, statements: usize) -> Result<(), OpError> {
        let statement = |i: usize| {
            format!(
                r#"{{"Sid":"S{i}","Effect":"Deny","Principal":"*","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::{}/*","Condition":{{"IpAddress":{{"aws:SourceIp":"10.{}.0.0/16"}}}}}}"#,
                self.bucket,
                i % 256
            )
        };
        let all: Vec<String> = (0..statements).map(statement).collect();
        let policy = format!(r#"{{"Version":"2012-10-17","Statement":[{}]}}"#, all.join(","));
        self.put_bucket_setting("policy=", Bytes::from(policy)).await
    }

    async fn create_bucket(&self) -> Result<(), OpError> {
        let path = sigv4::encode_path(&format!("/{}", self.bucket));
        let req = self.to(0).request(Method::PUT, &path, "", EMPTY_SHA256, empty(), Some(0));
        match self.exchange(req).await {
            Ok(_) => Ok(()),
            Err(OpError::Status(StatusCode::CONFLICT, body)) if body.contains("BucketAlreadyOwnedByYou") || body.contains("BucketAlreadyExists") => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// The text of the first `<name>` element of an XML answer (no entities in the values read).
fn xml_value<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let start = xml.find(&format!("<{name}>"))? + name.len() + 2;
    let len = xml[start..].find(&format!("</{name}>"))?;
    Some(&xml[start..start + len])
}

fn empty() -> ReqBody {
    Empty::<Bytes>::new().map_err(|never| match never {}).boxed_unsync()
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(src) = cur {
        s.push_str(": ");
        s.push_str(&src.to_string());
        cur = src.source();
    }
    s
}

fn key_name(prefix: &str, i: u64) -> String {
    format!("{prefix}{i:08}")
}

/// xorshift64*: cheap per-worker randomness for key and op choice.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        ((self.next() >> 32) * n) >> 32
    }
}

#[derive(Default)]
struct WorkerStats {
    ok: u64,
    errors: u64,
    bytes: u64,
    /// Latency of each successful request, microseconds.
    lat_us: Vec<u64>,
}

/// A request body that streams a file from disk in 1 MiB chunks.
struct FileBody {
    file: tokio::fs::File,
    remaining: u64,
}

const FILE_CHUNK: usize = 1 << 20;

impl Body for FileBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        let want = (self.remaining.min(FILE_CHUNK as u64)) as usize;
        let mut buf = BytesMut::zeroed(want);
        let mut rb = ReadBuf::new(&mut buf[..]);
        match Pin::new(&mut self.file).poll_read(cx, &mut rb) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
            Poll::Ready(Ok(())) => {
                let n = rb.filled().len();
                if n == 0 {
                    return Poll::Ready(Some(Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "file shorter than its size"))));
                }
                buf.truncate(n);
                self.remaining -= n as u64;
                Poll::Ready(Some(Ok(Frame::data(buf.freeze()))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

fn main() {
    let args = Args::parse();
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    rt.enable_all();
    if let Some(t) = args.threads {
        rt.worker_threads(t.max(1));
    }
    let rt = rt.build().expect("tokio runtime");
    let code = rt.block_on(async move {
        match run(args).await {
            Ok(code) => code,
            Err(e) => {
                eprintln!("loadgen: {e}");
                2
            }
        }
    });
    std::process::exit(code);
}

async fn run(args: Args) -> Result<i32, BoxError> {
    let mut targets = Vec::with_capacity(args.endpoint.len());
    for endpoint in &args.endpoint {
        let uri: Uri = endpoint.trim_end_matches('/').parse()?;
        if uri.scheme_str() != Some("http") {
            return Err("only http:// endpoints are supported".into());
        }
        let host = uri.authority().ok_or("endpoint needs a host")?.as_str().to_owned();
        targets.push(Target { base: format!("http://{host}"), host });
    }
    if targets.is_empty() {
        return Err("--endpoint is required".into());
    }
    if args.concurrency == 0 {
        return Err("--concurrency must be at least 1".into());
    }

    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector.set_keepalive(Some(Duration::from_secs(60)));
    let client = Client::builder(TokioExecutor::new()).pool_max_idle_per_host(args.concurrency * 2).pool_idle_timeout(Duration::from_secs(90)).build(connector);

    let ctx = Arc::new(Ctx {
        client,
        signer: Signer::new(&args.access_key, &args.secret_key, &args.region, "s3"),
        targets,
        turn: AtomicUsize::new(0),
        bucket: args.bucket.clone(),
        timeout: Duration::from_secs_f64(args.timeout),
        reported: AtomicUsize::new(0),
    });

    ctx.create_bucket().await.map_err(|e| format!("create bucket {}: {e}", args.bucket))?;
    if args.versioning {
        ctx.enable_versioning().await.map_err(|e| format!("enable versioning of {}: {e}", args.bucket))?;
    }
    if args.policy_statements > 0 {
        ctx.set_policy(args.policy_statements).await.map_err(|e| format!("set the policy of {}: {e}", args.bucket))?;
    }

    if args.file.is_some() || args.download_to.is_some() {
        return file_mode(&ctx, &args).await;
    }

    if args.keys == 0 {
        return Err("--keys must be at least 1".into());
    }
    let size = args.size;
    // One payload shared by every PUT in flight (cheap refcounted clones).
    let payload = Bytes::from(make_payload(size));

    if args.workload != Workload::Put && !args.no_populate {
        let t0 = Instant::now();
        populate(&ctx, &args, &payload).await?;
        eprintln!("loadgen: populated {} x {} under {}/{} in {:.1}s", args.keys, human_size(size), args.bucket, args.prefix, t0.elapsed().as_secs_f64());
    }

    let duration = match (args.duration, args.ops) {
        (None, None) => Some(10.0),
        (d, _) => d,
    };
    let ops_limit = args.ops;
    let issued = Arc::new(AtomicU64::new(0));
    let seed0 = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1);

    let server_cpu_before = cpu_of(&args.server_pid)?;
    let upstream_cpu_before = cpu_of(&args.upstream_pid)?;
    let start = Instant::now();
    let deadline = duration.map(|d| start + Duration::from_secs_f64(d));
    let mut handles = Vec::with_capacity(args.concurrency);
    for w in 0..args.concurrency {
        let ctx = ctx.clone();
        let payload = payload.clone();
        let issued = issued.clone();
        let prefix = args.prefix.clone();
        let (workload, keys, list_max_keys, paginate) = (args.workload, args.keys, args.list_max_keys, args.paginate);
        handles.push(tokio::spawn(async move {
            let mut rng = Rng::new(seed0 ^ (w as u64 + 1).wrapping_mul(0xA076_1D64_78BD_642F));
            let mut st = WorkerStats::default();
            loop {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    break;
                }
                let n = issued.fetch_add(1, Ordering::Relaxed);
                if ops_limit.is_some_and(|limit| n >= limit) {
                    break;
                }
                let op = match workload {
                    Workload::Mixed => match rng.below(10) {
                        0..=6 => Workload::Get,
                        7..=8 => Workload::Put,
                        _ => Workload::List,
                    },
                    other => other,
                };
                let key = match op {
                    // Plain PUT runs walk the key space in order; others pick at random.
                    Workload::Put if workload == Workload::Put => key_name(&prefix, n % keys),
                    _ => key_name(&prefix, rng.below(keys)),
                };
                let t0 = Instant::now();
                let res = match op {
                    Workload::Put => ctx.put(&key, &payload).await,
                    Workload::Get => ctx.get(&key, size).await,
                    Workload::List | Workload::Mixed => ctx.list(&prefix, list_max_keys, false, paginate).await,
                    Workload::ListVersions => ctx.list(&prefix, list_max_keys, true, paginate).await,
                };
                let el = t0.elapsed();
                match res {
                    Ok(b) => {
                        st.ok += 1;
                        st.bytes += b;
                        st.lat_us.push(el.as_micros() as u64);
                    }
                    Err(e) => {
                        st.errors += 1;
                        ctx.report(&format!("{} {key}", op.name()), &e);
                    }
                }
            }
            st
        }));
    }
    let mut total = WorkerStats::default();
    for h in handles {
        let st = h.await?;
        total.ok += st.ok;
        total.errors += st.errors;
        total.bytes += st.bytes;
        total.lat_us.extend(st.lat_us);
    }
    let elapsed = start.elapsed().as_secs_f64();
    let per_op = |pids: &[u32], before: Option<Duration>| -> Result<Option<f64>, BoxError> {
        Ok(match (cpu_of(pids)?, before) {
            (Some(after), Some(before)) if total.ok > 0 => Some((after - before).as_secs_f64() * 1000.0 / total.ok as f64),
            _ => None,
        })
    };
    let server_cpu_ms_per_op = per_op(&args.server_pid, server_cpu_before)?;
    let upstream_cpu_ms_per_op = per_op(&args.upstream_pid, upstream_cpu_before)?;
    total.lat_us.sort_unstable();
    let pct = |p: f64| -> f64 {
        if total.lat_us.is_empty() {
            return 0.0;
        }
        // Nearest-rank percentile.
        let rank = ((p / 100.0) * total.lat_us.len() as f64).ceil() as usize;
        total.lat_us[rank.clamp(1, total.lat_us.len()) - 1] as f64 / 1000.0
    };
    let mean_ms = if total.lat_us.is_empty() { 0.0 } else { total.lat_us.iter().sum::<u64>() as f64 / total.lat_us.len() as f64 / 1000.0 };
    let max_ms = total.lat_us.last().copied().unwrap_or(0) as f64 / 1000.0;
    let ops_s = total.ok as f64 / elapsed;
    let mib_s = total.bytes as f64 / (1024.0 * 1024.0) / elapsed;
    let (p50, p99) = (pct(50.0), pct(99.0));

    if args.json {
        let mut extra = server_cpu_ms_per_op.map(|ms| format!(",\"server_cpu_ms_per_op\":{ms:.3}")).unwrap_or_default();
        if let Some(ms) = upstream_cpu_ms_per_op {
            extra.push_str(&format!(",\"upstream_cpu_ms_per_op\":{ms:.3}"));
        }
        if ctx.targets.len() > 1 {
            extra.push_str(&format!(",\"endpoints\":{}", ctx.targets.len()));
        }
        println!(
            "{{\"workload\":\"{}\",\"size\":{},\"concurrency\":{},\"ops\":{},\"errors\":{},\"elapsed_s\":{:.3},\"ops_per_s\":{:.2},\"mib_per_s\":{:.2},\"p50_ms\":{:.3},\"p99_ms\":{:.3},\"mean_ms\":{:.3},\"max_ms\":{:.3},\"bytes\":{}{extra}}}",
            args.workload.name(),
            size,
            args.concurrency,
            total.ok,
            total.errors,
            elapsed,
            ops_s,
            mib_s,
            p50,
            p99,
            mean_ms,
            max_ms,
            total.bytes
        );
    } else {
        println!("workload     {}", args.workload.name());
        println!("size         {} ({size} B)", human_size(size));
        println!("concurrency  {}", args.concurrency);
        println!("ops          {}", total.ok);
        println!("errors       {}", total.errors);
        println!("elapsed      {elapsed:.3} s");
        println!("ops/s        {ops_s:.1}");
        println!("MiB/s        {mib_s:.2}");
        println!("p50          {p50:.3} ms");
        println!("p99          {p99:.3} ms");
        println!("mean         {mean_ms:.3} ms");
        println!("max          {max_ms:.3} ms");
        if ctx.targets.len() > 1 {
            println!("endpoints    {} (in turn)", ctx.targets.len());
        }
        if let Some(ms) = server_cpu_ms_per_op {
            println!("server CPU   {ms:.3} ms/op");
        }
        if let Some(ms) = upstream_cpu_ms_per_op {
            println!("upstream CPU {ms:.3} ms/op");
        }
    }
    Ok(if total.errors > 0 { 1 } else { 0 })
}

/// The CPU time (user + system, all threads) process `pid` has used so far, from
/// `/proc/PID/stat` (Linux), to the kernel's USER_HZ tick of 10 ms.
fn process_cpu(pid: u32) -> Result<Duration, BoxError> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name in parentheses may hold spaces; fields count on after it, from
    // field 3 (state): utime and stime are fields 14 and 15.
    let fields: Vec<&str> = stat.rsplit_once(')').ok_or("malformed /proc stat")?.1.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i - 3).and_then(|f| f.parse::<u64>().ok()).ok_or("malformed /proc stat");
    Ok(Duration::from_millis((ticks(14)? + ticks(15)?) * 10))
}

/// The CPU time `pids` have used so far, together; `None` for no pid.
fn cpu_of(pids: &[u32]) -> Result<Option<Duration>, BoxError> {
    if pids.is_empty() {
        return Ok(None);
    }
    let mut sum = Duration::ZERO;
    for &pid in pids {
        sum += process_cpu(pid)?;
    }
    Ok(Some(sum))
}

/// Deterministic, non-repeating-looking payload (not all zeros, so nothing
/// on the path can cheat by compressing or deduplicating trivially).
fn make_payload(size: u64) -> Vec<u8> {
    let mut v = vec![0u8; size as usize];
    let mut rng = Rng::new(0x5EED);
    for chunk in v.chunks_mut(8) {
        let r = rng.next().to_le_bytes();
        chunk.copy_from_slice(&r[..chunk.len()]);
    }
    v
}

/// PUT every key of the key space, `concurrency` at a time. Any error aborts.
async fn populate(ctx: &Arc<Ctx>, args: &Args, payload: &Bytes) -> Result<(), BoxError> {
    let next = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let mut handles = Vec::new();
    for _ in 0..args.concurrency.min(args.keys as usize) {
        let (ctx, payload, next, failed) = (ctx.clone(), payload.clone(), next.clone(), failed.clone());
        let (prefix, keys) = (args.prefix.clone(), args.keys);
        handles.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= keys || failed.load(Ordering::Relaxed) > 0 {
                    break;
                }
                let key = key_name(&prefix, i);
                if let Err(e) = ctx.put(&key, &payload).await {
                    failed.fetch_add(1, Ordering::Relaxed);
                    ctx.report(&format!("populate put {key}"), &e);
                }
            }
        }));
    }
    for h in handles {
        h.await?;
    }
    if failed.load(Ordering::Relaxed) > 0 {
        return Err("pre-population failed".into());
    }
    ctx.reported.store(0, Ordering::Relaxed);
    Ok(())
}

/// One streamed PUT of `--file` and/or one streamed GET to `--download-to`.
async fn file_mode(ctx: &Arc<Ctx>, args: &Args) -> Result<i32, BoxError> {
    let path = ctx.object_path(&args.key);
    if let Some(src) = &args.file {
        let file = tokio::fs::File::open(src).await?;
        let len = file.metadata().await?.len();
        let body = FileBody { file, remaining: len }.boxed_unsync();
        let req = ctx.to(0).request(Method::PUT, &path, "", UNSIGNED_PAYLOAD, body, Some(len));
        let t0 = Instant::now();
        ctx.exchange(req).await.map_err(|e| format!("PUT {}: {e}", args.key))?;
        let s = t0.elapsed().as_secs_f64();
        report_file("upload", args, len, s);
    }
    if let Some(dst) = &args.download_to {
        let req = ctx.to(0).request(Method::GET, &path, "", EMPTY_SHA256, empty(), None);
        let t0 = Instant::now();
        let resp = ctx.send(req).await.map_err(|e| format!("GET {}: {e}", args.key))?;
        if !resp.status().is_success() {
            let (status, _, kept) = ctx.drain(resp, 2048).await.map_err(|e| e.to_string())?;
            return Err(format!("GET {}: HTTP {status}: {}", args.key, String::from_utf8_lossy(&kept)).into());
        }
        let mut out = tokio::fs::File::create(dst).await?;
        let mut body = resp.into_body();
        let mut n = 0u64;
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame?.into_data() {
                n += data.len() as u64;
                out.write_all(&data).await?;
            }
        }
        out.flush().await?;
        let s = t0.elapsed().as_secs_f64();
        report_file("download", args, n, s);
    }
    Ok(0)
}

fn report_file(what: &str, args: &Args, bytes: u64, secs: f64) {
    let mib_s = bytes as f64 / (1024.0 * 1024.0) / secs;
    if args.json {
        println!("{{\"workload\":\"{what}\",\"key\":\"{}\",\"bytes\":{bytes},\"elapsed_s\":{secs:.3},\"mib_per_s\":{mib_s:.2}}}", args.key);
    } else {
        println!("{what:<9} {} {} B in {secs:.3} s ({mib_s:.1} MiB/s)", args.key, bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert_eq!(parse_size("4KiB").unwrap(), 4096);
        assert_eq!(parse_size("64MiB").unwrap(), 64 << 20);
        assert_eq!(parse_size("1G").unwrap(), 1 << 30);
        assert_eq!(parse_size("10MB").unwrap(), 10_000_000);
        assert!(parse_size("4XB").is_err());
        assert!(parse_size("KiB").is_err());
        assert_eq!(human_size(64 << 20), "64MiB");
        assert_eq!(human_size(4097), "4097B");
    }

    #[test]
    fn process_cpu_counts_this_process_working() {
        let before = process_cpu(std::process::id()).unwrap();
        let spin = Instant::now();
        let mut x = 0u64;
        while spin.elapsed() < Duration::from_millis(200) {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        let used = process_cpu(std::process::id()).unwrap() - before;
        assert!(used >= Duration::from_millis(100), "{used:?} for 200 ms of spinning");
        assert!(process_cpu(u32::MAX).is_err());
    }

    #[test]
    fn endpoints_and_pids_take_lists_and_repeats() {
        let a = Args::try_parse_from(["loadgen", "--access-key", "a", "--secret-key", "s"]).unwrap();
        assert_eq!(a.endpoint, ["http://127.0.0.1:9000"]);
        assert!(a.server_pid.is_empty() && a.upstream_pid.is_empty());
        let a = Args::try_parse_from([
            "loadgen",
            "--access-key",
            "a",
            "--secret-key",
            "s",
            "--endpoint",
            "http://h:1,http://h:2",
            "--endpoint",
            "http://h:3",
            "--server-pid",
            "1,2",
            "--server-pid",
            "3",
            "--upstream-pid",
            "4",
        ])
        .unwrap();
        assert_eq!(a.endpoint, ["http://h:1", "http://h:2", "http://h:3"]);
        assert_eq!((a.server_pid, a.upstream_pid), (vec![1, 2, 3], vec![4]));
    }

    #[test]
    fn rng_below_in_range() {
        let mut r = Rng::new(1);
        for _ in 0..10_000 {
            assert!(r.below(7) < 7);
        }
    }
}

//! Clusters: instances sharing an upstream metadata bucket see each other through their
//! heartbeats there (`tollgate admin cluster`); one that stops says it left, one that falls
//! silent is counted gone after three of its heartbeat intervals; each live instance
//! enforces its share of the rate limits; and they share one control plane through the
//! log kept there: a change made on any instance is in force on all within the bound the
//! README states. Each test sets up its own upstream: a local-disk tollgate, or buckets of
//! its own on moto when the suite runs through moto.

use crate::common::*;
use crate::tenancy::root_conn;

use std::time::{Duration, Instant};

use serde_json::Value;
use tollgate::admin::client::{call, request};
use tollgate::config::{BackendKind, Config};

/// The upstream a test's cluster shares: a local-disk tollgate of its own, or with
/// `TOLLGATE_TEST_UPSTREAM=moto` the moto server, where the test's buckets (the metadata
/// bucket included) go under a prefix of its own.
struct Upstream {
    endpoint: String,
    addr: std::net::SocketAddr,
    keys: (String, String),
    /// The prefix of the members' buckets upstream.
    prefix: String,
    /// The metadata bucket the members share.
    meta: String,
    client: aws_sdk_s3::Client,
    /// The local-disk gateway serving as the upstream; `None` on moto.
    local: Option<Gateway>,
}

impl Upstream {
    async fn start() -> Self {
        let (endpoint, keys, prefix, local) = match upstream_mode().as_deref() {
            Some("moto") => {
                let url = std::env::var("TOLLGATE_TEST_MOTO_URL").expect("TOLLGATE_TEST_UPSTREAM=moto needs TOLLGATE_TEST_MOTO_URL");
                let dir = tempfile::tempdir().unwrap();
                (url, ("moto".to_owned(), "moto-secret".to_owned()), moto_bucket_prefix(dir.path()), None)
            }
            _ => {
                let local = Gateway::start_local_in(tempfile::tempdir().unwrap(), |_| {}).await;
                (local.endpoint(), (ACCESS_KEY.to_owned(), SECRET_KEY.to_owned()), "cl-".to_owned(), Some(local))
            }
        };
        let addr = endpoint.trim_start_matches("http://").parse().unwrap();
        let client = client_for(&endpoint, &keys.0, &keys.1);
        let meta = format!("{prefix}cluster-meta");
        client.create_bucket().bucket(&meta).send().await.unwrap();
        Self { endpoint, addr, keys, prefix, meta, client, local }
    }

    /// A member of the cluster on this upstream reached at `endpoint`, sharing the master
    /// key in `master` (a cluster's instances must: key secrets are sealed under it).
    fn member_through(&self, endpoint: String, instance: &'static str, master: Option<std::path::PathBuf>) -> impl FnOnce(&mut Config) + use<> {
        let (keys, prefix, meta) = (self.keys.clone(), self.prefix.clone(), self.meta.clone());
        move |c: &mut Config| {
            c.auth.master_key_file = master;
            c.backend = BackendKind::Upstream;
            c.upstream.endpoint = endpoint;
            (c.upstream.access_key, c.upstream.secret_key) = keys;
            c.upstream.bucket_prefix = prefix;
            c.upstream.meta_bucket = meta;
            c.upstream.instance = instance.into();
            c.upstream.heartbeat_secs = 1;
        }
    }

    fn member(&self, instance: &'static str, master: Option<std::path::PathBuf>) -> impl FnOnce(&mut Config) + use<> {
        self.member_through(self.endpoint.clone(), instance, master)
    }

    /// A member (see [`Self::member`]) configured further by `tweak`.
    fn member_with(&self, instance: &'static str, master: &std::path::Path, tweak: fn(&mut Config)) -> impl FnOnce(&mut Config) + use<> {
        let member = self.member(instance, Some(master.to_owned()));
        move |c: &mut Config| {
            member(c);
            tweak(c);
        }
    }
}

/// A member whose key read rate is 20/s, shared between the live instances.
fn member_of(upstream: &Upstream, instance: &'static str) -> impl FnOnce(&mut Config) + use<> {
    let member = upstream.member(instance, None);
    |c: &mut Config| {
        member(c);
        c.limits.key.read_requests = 20;
    }
}

/// The read rate `gw` enforces for `key` now (`RateLimit-Limit` of an admitted GET), if any.
async fn read_limit(gw: &Gateway, c: &aws_sdk_s3::Client, bucket: &str) -> Option<String> {
    use aws_sdk_s3::presigning::PresigningConfig;
    let url = c.get_object().bucket(bucket).key("k").presigned(PresigningConfig::expires_in(Duration::from_secs(60)).unwrap()).await.unwrap();
    let path = url.uri().strip_prefix(&gw.endpoint()).unwrap().to_owned();
    let r = raw(gw.addr, "GET", &path, &[], b"", None).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    r.header("ratelimit-limit").map(str::to_owned)
}

/// Polls until `gw` enforces `want` as the read rate; fails after 10 s.
async fn until_limit(gw: &Gateway, c: &aws_sdk_s3::Client, bucket: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let seen = read_limit(gw, c, bucket).await;
        if seen.as_deref() == Some(want) {
            return;
        }
        assert!(Instant::now() < deadline, "read limit {seen:?}, waiting for {want}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The state of each instance `gw` sees, by name.
async fn states(gw: &Gateway) -> Vec<(String, String)> {
    let v = call(&root_conn(gw), "GET", "cluster", None).await.unwrap();
    v.as_array().unwrap().iter().map(|m| (m["instance"].as_str().unwrap().to_owned(), m["state"].as_str().unwrap().to_owned())).collect()
}

/// Polls until `gw` sees `want`; fails after 10 s with what it saw last.
async fn until_seen(gw: &Gateway, want: &[(&str, &str)]) {
    let want: Vec<(String, String)> = want.iter().map(|(i, s)| ((*i).to_owned(), (*s).to_owned())).collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let seen = states(gw).await;
        if seen == want {
            return;
        }
        assert!(Instant::now() < deadline, "saw {seen:?}, waiting for {want:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn instances_sharing_a_metadata_bucket_see_each_other_come_and_go() {
    let upstream = Upstream::start().await;
    let a = Gateway::start_local_in(tempfile::tempdir().unwrap(), member_of(&upstream, "a")).await;
    let b = Gateway::start_local_in(tempfile::tempdir().unwrap(), member_of(&upstream, "b")).await;
    until_seen(&a, &[("a", "live"), ("b", "live")]).await;
    until_seen(&b, &[("a", "live"), ("b", "live")]).await;
    let rows = call(&root_conn(&a), "GET", "cluster", None).await.unwrap();
    let first = &rows[0];
    assert_eq!(first["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(first["heartbeat_secs"], 1);
    assert!(first["heartbeat_age_secs"].as_f64().unwrap() < 3.0, "{first}");

    // Two live instances: each enforces half of a key's read rate (20/s)...
    let (ak, sk) = crate::tenancy::user(&a, "corp", "ann", "admin").await;
    let ann = a.client_with(&ak, &sk);
    let bucket = format!("cl-limits-{}", std::process::id());
    ann.create_bucket().bucket(&bucket).send().await.unwrap();
    ann.put_object().bucket(&bucket).key("k").body(b"x".to_vec().into()).send().await.unwrap();
    until_limit(&a, &ann, &bucket, "10").await;
    let metrics = raw(a.addr, "GET", "/metrics", &[], b"", None).await;
    assert!(String::from_utf8_lossy(&metrics.body).contains("tollgate_cluster_live_instances 2"), "the live count is a metric");

    // A graceful stop says so at once, and the survivor takes the whole rate again.
    b.stop().await;
    until_seen(&a, &[("a", "live"), ("b", "left")]).await;
    until_limit(&a, &ann, &bucket, "20").await;

    // An instance that stops beating without a word (killed, cut off) is gone after three
    // of its intervals: here a heartbeat written by hand, 5 s old, of an instance beating
    // every second.
    let now = tollgate::clock::now_ns();
    let ghost = serde_json::json!({"instance": "ghost", "version": "0", "started_ns": now - 60_000_000_000i128,
        "heartbeat_ns": now - 5_000_000_000i128, "heartbeat_secs": 1, "left": false});
    upstream.client.put_object().bucket(&upstream.meta).key(".tollgate-members/ghost.json").body(ghost.to_string().into_bytes().into()).send().await.unwrap();
    until_seen(&a, &[("a", "live"), ("b", "left"), ("ghost", "gone")]).await;

    // The heartbeat is a job like the others, listed and run on demand.
    let ran: Value = call(&root_conn(&a), "POST", "jobs/heartbeat/run", None).await.unwrap();
    assert_eq!(ran["changed"], 1, "{ran}");
}

#[tokio::test]
async fn a_gateway_without_a_metadata_bucket_is_in_no_cluster() {
    let gw = Gateway::start_local_in(tempfile::tempdir().unwrap(), |_| {}).await;
    let e = call(&root_conn(&gw), "GET", "cluster", None).await.unwrap_err();
    assert!(e.starts_with("400") && e.contains("no cluster"), "{e}");
}

/// The documented bound within which a control change made on one instance is in force
/// on every other (README, "Several instances as one service").
const BOUND: Duration = Duration::from_secs(2);

/// Polls `probe` until it is true; fails after `within` (plus a second of grace for a
/// loaded test machine, reported apart) naming `what`. Returns how long it took.
async fn within<F: std::future::Future<Output = bool>>(within: Duration, what: &str, mut probe: impl FnMut() -> F) -> Duration {
    let start = Instant::now();
    loop {
        if probe().await {
            let took = start.elapsed();
            assert!(took <= within + Duration::from_secs(1), "{what} took {took:?}, beyond the bound {within:?}");
            return took;
        }
        assert!(start.elapsed() < Duration::from_secs(15), "{what}: never within 15 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether `gw` accepts the key (a signed ListBuckets succeeds).
async fn accepts(gw: &Gateway, ak: &str, sk: &str) -> bool {
    gw.client_with(ak, sk).list_buckets().send().await.is_ok()
}

/// Three instances and their upstream; the master key file they share.
async fn three() -> (Upstream, Vec<Gateway>, tempfile::TempDir) {
    let upstream = Upstream::start().await;
    let shared = tempfile::tempdir().unwrap();
    let master = shared.path().join("master.key");
    let mut members = Vec::new();
    for name in ["a", "b", "c"] {
        members.push(Gateway::start_local_in(tempfile::tempdir().unwrap(), upstream.member(name, Some(master.clone()))).await);
    }
    (upstream, members, shared)
}

#[tokio::test]
async fn three_instances_share_one_control_plane() {
    let (_upstream, gws, _shared) = three().await;
    let (a, b, c) = (&gws[0], &gws[1], &gws[2]);

    // A key created on a works on b and c at once: a key not known here is looked for in
    // the log before it is refused.
    let (ak, sk) = crate::tenancy::user(a, "corp", "ann", "admin").await;
    for gw in [b, c] {
        assert!(accepts(gw, &ak, &sk).await, "a key created elsewhere, used at once");
    }
    // And within the bound without being asked for (the log is tailed).
    let (bk, bs) = crate::tenancy::user(a, "corp", "bea", "reader").await;
    let took = within(BOUND, "a key created elsewhere", || async {
        call(&root_conn(c), "GET", "keys", None).await.unwrap().as_array().unwrap().iter().any(|k| k["access_key"] == bk.as_str())
    })
    .await;
    eprintln!("key in force on c after {took:?}");
    assert!(accepts(c, &bk, &bs).await);

    // Buckets and their settings too: created through a and used through c at once;
    // tagged through a, read through c.
    let ann_a = a.client_with(&ak, &sk);
    ann_a.create_bucket().bucket("cl-shared").send().await.unwrap();
    c.client_with(&ak, &sk).head_bucket().bucket("cl-shared").send().await.expect("a bucket created elsewhere, used at once");
    let tags = aws_sdk_s3::types::Tagging::builder().tag_set(aws_sdk_s3::types::Tag::builder().key("team").value("data").build().unwrap()).build().unwrap();
    ann_a.put_bucket_tagging().bucket("cl-shared").tagging(tags).send().await.unwrap();
    let ann_c = c.client_with(&ak, &sk);
    within(BOUND, "a bucket's tags set elsewhere", || async {
        ann_c.get_bucket_tagging().bucket("cl-shared").send().await.is_ok_and(|t| t.tag_set().first().is_some_and(|t| t.value() == "data"))
    })
    .await;
    ann_c.put_object().bucket("cl-shared").key("k").body(b"written through c".to_vec().into()).send().await.unwrap();
    let got = ann_a.get_object().bucket("cl-shared").key("k").send().await.unwrap().body.collect().await.unwrap().into_bytes();
    assert_eq!(&got[..], b"written through c");

    // A key disabled on b is refused by a and c within the bound.
    call(&root_conn(b), "POST", &format!("keys/{ak}/disable"), None).await.unwrap();
    for gw in [a, c] {
        within(BOUND, "a key disabled elsewhere", || async { !accepts(gw, &ak, &sk).await }).await;
    }

    // Two conflicting changes made at once on two instances: exactly one wins.
    let body = || Some(serde_json::json!({"name": "raced"}));
    let (root_a, root_b) = (root_conn(a), root_conn(b));
    let (ra, rb) = tokio::join!(call(&root_a, "POST", "tenants", body()), call(&root_b, "POST", "tenants", body()));
    let outcomes = [&ra, &rb];
    assert_eq!(outcomes.iter().filter(|r| r.is_ok()).count(), 1, "one creation wins: {ra:?} {rb:?}");
    assert!(outcomes.iter().any(|r| r.as_ref().is_err_and(|e| e.starts_with("409"))), "the other is a conflict: {ra:?} {rb:?}");

    // Keyring keys are shared (sealed): created on a, rotated on b, used on c.
    call(&root_conn(a), "POST", "keyring/shared-key", None).await.unwrap();
    within(BOUND, "a keyring key created elsewhere", || async {
        call(&root_conn(b), "POST", "keyring/shared-key/rotate", None).await.is_ok_and(|k| k["versions"] == 2)
    })
    .await;
    let (wk, ws) = crate::tenancy::user(c, "corp", "wes", "writer").await;
    let wes = c.client_with(&wk, &ws);
    within(BOUND, "a keyring key rotated elsewhere, used for a write", || async {
        wes.put_object()
            .bucket("cl-shared")
            .key("sealed")
            .body(b"secret".to_vec().into())
            .server_side_encryption(aws_sdk_s3::types::ServerSideEncryption::AwsKms)
            .ssekms_key_id("shared-key")
            .send()
            .await
            .is_ok()
    })
    .await;
    // Read back through the instance that wrote it, and through another, which reads the
    // record the writer shared of how it is sealed.
    for reader in [c, a] {
        let got = reader.client_with(&wk, &ws).get_object().bucket("cl-shared").key("sealed").send().await.unwrap();
        assert_eq!(got.ssekms_key_id(), Some("shared-key"));
        assert_eq!(&got.body.collect().await.unwrap().into_bytes()[..], b"secret");
    }
    // Conditions are judged by the client's ETag (the record's), not by the ciphertext's
    // the upstream holds, through a reader that did not write it, as a ranged download
    // with If-Match (boto3's, aws-cli's) asks.
    let etag = c.client_with(&wk, &ws).head_object().bucket("cl-shared").key("sealed").send().await.unwrap().e_tag().unwrap().to_owned();
    let ranged = a.client_with(&wk, &ws).get_object().bucket("cl-shared").key("sealed").range("bytes=1-3").if_match(&etag).send().await.unwrap();
    assert_eq!(&ranged.body.collect().await.unwrap().into_bytes()[..], b"ecr");
    let e = a.client_with(&wk, &ws).get_object().bucket("cl-shared").key("sealed").if_match("\"0123\"").send().await.unwrap_err();
    assert_eq!(status(&e), 412, "{e:?}");
    let e = a.client_with(&wk, &ws).get_object().bucket("cl-shared").key("sealed").if_none_match(&etag).send().await.unwrap_err();
    assert_eq!(status(&e), 304, "{e:?}");
    // So are a copy's: the source is read by the shared record, its conditions judged by it.
    let wes_a = a.client_with(&wk, &ws);
    let copy = || wes_a.copy_object().bucket("cl-shared").key("sealed-copy").copy_source("cl-shared/sealed");
    copy().copy_source_if_match(&etag).send().await.expect("x-amz-copy-source-if-match of the client's ETag");
    let got = wes_a.get_object().bucket("cl-shared").key("sealed-copy").send().await.unwrap();
    assert_eq!(&got.body.collect().await.unwrap().into_bytes()[..], b"secret");
    let e = copy().copy_source_if_match("\"0123\"").send().await.unwrap_err();
    assert_eq!(status(&e), 412, "{e:?}");
    let e = copy().copy_source_if_none_match(&etag).send().await.unwrap_err();
    assert_eq!(status(&e), 412, "{e:?}");
    // And a conditional delete's: by the client's ETag and size, not the ciphertext's.
    let put = wes.put_object().bucket("cl-shared").key("sealed-then-deleted-if").body(b"conditional".to_vec().into());
    let put = put.server_side_encryption(aws_sdk_s3::types::ServerSideEncryption::Aes256).send().await.unwrap();
    let delete = || wes_a.delete_object().bucket("cl-shared").key("sealed-then-deleted-if");
    let e = delete().if_match(&etag).send().await.unwrap_err();
    assert_eq!(status(&e), 412, "another object's ETag: {e:?}");
    let e = delete().if_match(put.e_tag().unwrap()).if_match_size(12).send().await.unwrap_err();
    assert_eq!(status(&e), 412, "a wrong size: {e:?}");
    delete().if_match(put.e_tag().unwrap()).if_match_size(11).send().await.expect("the client's ETag and size, through a non-writer");
    assert!(wes_a.head_object().bucket("cl-shared").key("sealed-then-deleted-if").send().await.is_err());

    // A delete through an instance that did not write the object removes its shared record.
    let shared_records = || async {
        let listed = _upstream.client.list_objects_v2().bucket(&_upstream.meta).prefix(".tollgate-objects/").send().await.unwrap();
        listed.contents().iter().map(|o| o.key().unwrap().to_owned()).collect::<Vec<_>>()
    };
    let before = shared_records().await;
    let put = c.client_with(&wk, &ws).put_object().bucket("cl-shared").key("sealed-then-deleted").body(b"gone".to_vec().into());
    put.server_side_encryption(aws_sdk_s3::types::ServerSideEncryption::Aes256).send().await.unwrap();
    assert_eq!(shared_records().await.len(), before.len() + 1, "the write shared its record");
    a.client_with(&wk, &ws).delete_object().bucket("cl-shared").key("sealed-then-deleted").send().await.unwrap();
    assert_eq!(shared_records().await, before, "the delete removed it, and only it");

    // Without that record (lost, or never written: sealed past this version), another
    // instance refuses rather than serve the stored ciphertext as the object.
    let records = _upstream.client.list_objects_v2().bucket(&_upstream.meta).prefix(".tollgate-objects/").send().await.unwrap();
    for o in records.contents() {
        _upstream.client.delete_object().bucket(&_upstream.meta).key(o.key().unwrap()).send().await.unwrap();
    }
    let e = a.client_with(&wk, &ws).get_object().bucket("cl-shared").key("sealed").send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "InvalidRequest", "{e:?}");

    // Proof chains stay per instance; one command walks them all.
    use tollgate::proof::cli::{ChainCommand, ProofCommand};
    let others = vec![b.endpoint(), c.endpoint()];
    let walk = ProofCommand::Chain(ChainCommand::Verify { tenant: "corp".into(), instances: others });
    tollgate::proof::cli::run(&root_conn(a), walk).await.expect("every instance's chain of the tenant verifies");
    let c_chain = request(&root_conn(c), "GET", "/_tollgate/proofs/chain/corp", Vec::new()).await.unwrap();
    assert!(c_chain["manifests"].as_array().is_some_and(|m| m.len() >= 2), "c keeps the chain of what was written through it: {c_chain}");

    // Whoever writes to the metadata bucket without the master key cannot add a change:
    // an entry forged at the next place is refused by every instance, and later ones apply.
    let log = _upstream.client.list_objects_v2().bucket(&_upstream.meta).prefix(".tollgate-control/").send().await.unwrap();
    let last = log.contents().last().unwrap().key().unwrap().to_owned();
    let next: u64 = last.trim_start_matches(".tollgate-control/").trim_end_matches(".json").parse::<u64>().unwrap() + 1;
    let entry = serde_json::json!({"id": "x", "instance": "a", "at_ns": 0,
        "change": {"tenant_create": {"record": {"name": "forged", "created_ns": 0, "quota": {}}}}});
    let forged = serde_json::json!({"entry": entry.to_string(), "mac": "0".repeat(64)});
    let key = format!(".tollgate-control/{next:020}.json");
    _upstream.client.put_object().bucket(&_upstream.meta).key(key).body(forged.to_string().into_bytes().into()).send().await.unwrap();
    call(&root_conn(a), "POST", "tenants", Some(serde_json::json!({"name": "genuine"}))).await.unwrap();
    for gw in [b, c] {
        within(BOUND, "a change after a forged entry", || async {
            call(&root_conn(gw), "GET", "tenants", None).await.unwrap().to_string().contains("genuine")
        })
        .await;
    }
    for gw in [a, b, c] {
        assert!(!call(&root_conn(gw), "GET", "tenants", None).await.unwrap().to_string().contains("forged"), "a forged entry was applied");
    }

    // Every instance applied the same log, and says how far it is.
    let rows = call(&root_conn(a), "GET", "cluster", None).await;
    let rows = rows.unwrap();
    assert!(rows.as_array().unwrap().iter().all(|m| m["control_applied"].as_u64().is_some()), "{rows}");
}

/// A TCP relay to `to` that can be cut (every connection dropped, new ones refused) and
/// mended: an instance's road to the upstream.
struct Relay {
    addr: std::net::SocketAddr,
    cut: std::sync::Arc<tokio::sync::watch::Sender<bool>>,
}

impl Relay {
    async fn start(to: std::net::SocketAddr) -> Relay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let cut = std::sync::Arc::new(tokio::sync::watch::channel(false).0);
        let watch = std::sync::Arc::clone(&cut);
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else { return };
                if *watch.borrow() {
                    continue;
                }
                let mut cut = watch.subscribe();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(to).await else { return };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut.wait_for(|c| *c) => {}
                    }
                });
            }
        });
        Relay { addr, cut }
    }

    fn set_cut(&self, cut: bool) {
        self.cut.send_replace(cut);
    }
}

/// Whether `gw`'s `/ready` answers 200.
async fn ready(gw: &Gateway) -> bool {
    raw(gw.addr, "GET", "/ready", &[], b"", None).await.status == 200
}

#[tokio::test]
async fn an_instance_catches_up_after_a_restart_and_when_its_upstream_is_back() {
    let upstream = Upstream::start().await;
    let shared = tempfile::tempdir().unwrap();
    let master = shared.path().join("master.key");
    let relay = Relay::start(upstream.addr).await;
    let a = Gateway::start_local_in(tempfile::tempdir().unwrap(), upstream.member("a", Some(master.clone()))).await;
    let b_config = |master: std::path::PathBuf| {
        let member = upstream.member_through(format!("http://{}", relay.addr), "b", Some(master));
        move |c: &mut Config| {
            member(c);
            c.upstream.timeout_secs = 2;
            c.upstream.retries = 0;
        }
    };
    let b = Gateway::start_local_in(tempfile::tempdir().unwrap(), b_config(master.clone())).await;
    within(BOUND, "b reads the log", || ready(&b)).await;

    // b stops; changes are made meanwhile on a; b restarted finds them.
    let b_dir = b.stop().await;
    let (ak, sk) = crate::tenancy::user(&a, "late", "lou", "writer").await;
    let b = Gateway::start_local_in(b_dir, b_config(master.clone())).await;
    within(BOUND, "a key created while b was down", || accepts(&b, &ak, &sk)).await;

    // Cut from the upstream, b reports it is not ready, refuses control changes, and
    // keeps serving what it knows.
    relay.set_cut(true);
    within(Duration::from_secs(12), "b says it is not ready", || async { !ready(&b).await }).await;
    let refused = call(&root_conn(&b), "POST", "tenants", Some(serde_json::json!({"name": "offline"}))).await.unwrap_err();
    assert!(refused.starts_with("503"), "{refused}");
    let (mk, ms) = crate::tenancy::user(&a, "late", "mia", "writer").await;

    // Mended, it catches up and is ready again.
    relay.set_cut(false);
    within(Duration::from_secs(12), "b ready again", || ready(&b)).await;
    within(BOUND, "a key created while b was cut off", || accepts(&b, &mk, &ms)).await;
    assert!(accepts(&b, &ak, &sk).await);
}

#[tokio::test]
async fn a_tenant_rate_limit_holds_across_the_cluster() {
    let (_upstream, gws, _shared) = three().await;
    let (ak, sk) = crate::tenancy::user(&gws[0], "metered", "mo", "admin").await;
    let mo = gws[0].client_with(&ak, &sk);
    mo.create_bucket().bucket("cl-rate").send().await.unwrap();
    mo.put_object().bucket("cl-rate").key("k").body(b"x".to_vec().into()).send().await.unwrap();
    // Set once, on one instance: each of the three then enforces a third. 60/s rather than
    // the issue's 300: three debug-built instances on a 2-core machine serve about 300
    // GETs/s in all, and the load must exceed the limit for the test to prove anything.
    const RATE: f64 = 60.0;
    call(&root_conn(&gws[1]), "PUT", "limits/tenant/metered", Some(serde_json::json!({"read_requests": 60}))).await.unwrap();
    for gw in &gws {
        let client = gw.client_with(&ak, &sk);
        within(Duration::from_secs(5), "the tenant's share on every instance", || async { read_limit(gw, &client, "cl-rate").await.as_deref() == Some("20") })
            .await;
    }
    // Refilled: each instance's burst is one second of its share.
    tokio::time::sleep(Duration::from_millis(1100)).await;

    // Clients spread evenly over the instances, as behind a round-robin load balancer.
    use aws_sdk_s3::presigning::PresigningConfig;
    let mut urls = Vec::new();
    for gw in &gws {
        let url = gw
            .client_with(&ak, &sk)
            .get_object()
            .bucket("cl-rate")
            .key("k")
            .presigned(PresigningConfig::expires_in(Duration::from_secs(60)).unwrap())
            .await
            .unwrap();
        urls.push(url.uri().parse::<http::Uri>().unwrap());
    }
    // Kept-alive connections, so that the load exceeds 300/s on a small test machine.
    let http = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http::<http_body_util::Empty<bytes::Bytes>>();
    let run = Duration::from_secs(3);
    let start = Instant::now();
    let mut tasks = Vec::new();
    // Many clients: an admitted GET waits on the upstream (moto's can take a second when
    // other tests load it), a refused one does not, so the refusals keep the load above the
    // limit however slow the admitted ones are.
    for i in 0..64 {
        let (http, uri) = (http.clone(), urls[i % urls.len()].clone());
        tasks.push(tokio::spawn(async move {
            use http_body_util::BodyExt;
            let (mut admitted, mut refused) = (0u64, 0u64);
            while start.elapsed() < run {
                let resp = http.get(uri.clone()).await.unwrap();
                let status = resp.status().as_u16();
                resp.into_body().collect().await.unwrap();
                match status {
                    200 => admitted += 1,
                    503 => refused += 1,
                    other => panic!("GET answered {other}"),
                }
            }
            (admitted, refused)
        }));
    }
    let (mut admitted, mut refused) = (0, 0);
    for t in tasks {
        let (a, r) = t.await.unwrap();
        admitted += a;
        refused += r;
    }
    let secs = start.elapsed().as_secs_f64();
    // What the cluster may admit: RATE per second, plus each instance's one-second burst.
    let allowed = RATE * secs + RATE;
    eprintln!("admitted {admitted}, refused {refused} in {secs:.2} s: {:.0}/s, allowed {allowed:.0}", admitted as f64 / secs);
    assert!(refused > 0, "the load exceeded the limit (else this proves nothing)");
    assert!(admitted as f64 <= allowed * 1.1, "admitted {admitted} in {secs:.2} s, beyond {RATE}/s (+10 %) and the bursts");
    assert!(admitted as f64 >= RATE * secs * 0.9, "admitted {admitted} in {secs:.2} s: the cluster should admit about {RATE}/s");
}

/// What `gw` says the other instances store in `bucket` (objects).
async fn stored_elsewhere(gw: &Gateway, bucket: &str) -> u64 {
    let usage = call(&root_conn(gw), "GET", "usage", None).await.unwrap();
    let buckets = usage.as_array().unwrap().iter().flat_map(|t| t["buckets"].as_array().unwrap().iter());
    buckets.filter(|b| b["bucket"] == bucket).map(|b| b["elsewhere"]["objects"].as_u64().unwrap_or(0)).sum()
}

/// Puts `n` one-byte objects named `{prefix}{i}` through `client`; returns how many were
/// taken before the first refusal, which must be `QuotaExceeded`.
async fn fill(client: &aws_sdk_s3::Client, bucket: &str, prefix: &str, n: usize, pause: Duration) -> usize {
    for i in 0..n {
        if let Err(e) = client.put_object().bucket(bucket).key(format!("{prefix}{i}")).body(b"x".to_vec().into()).send().await {
            assert_eq!(code(&e), "QuotaExceeded", "{e:?}");
            return i;
        }
        tokio::time::sleep(pause).await;
    }
    n
}

#[tokio::test]
async fn a_quota_counts_what_every_instance_stores() {
    let (_upstream, gws, _shared) = three().await;
    let (ak, sk) = crate::tenancy::user(&gws[0], "quota", "qi", "admin").await;
    let clients: Vec<_> = gws.iter().map(|gw| gw.client_with(&ak, &sk)).collect();
    for bucket in ["cl-quota", "cl-race"] {
        clients[0].create_bucket().bucket(bucket).send().await.unwrap();
        call(&root_conn(&gws[0]), "PUT", &format!("quotas/bucket/{bucket}"), Some(serde_json::json!({"max_objects": 30}))).await.unwrap();
    }

    // Ten objects through a; once b has a's heartbeat, it takes only twenty more.
    assert_eq!(fill(&clients[0], "cl-quota", "a", 10, Duration::ZERO).await, 10);
    within(Duration::from_secs(3), "b counts what a stores", || async { stored_elsewhere(&gws[1], "cl-quota").await == 10 }).await;
    assert_eq!(fill(&clients[1], "cl-quota", "b", 40, Duration::ZERO).await, 20, "the quota counts the cluster's objects");
    within(Duration::from_secs(3), "c counts what a and b store", || async { stored_elsewhere(&gws[2], "cl-quota").await == 30 }).await;
    assert_eq!(fill(&clients[2], "cl-quota", "c", 1, Duration::ZERO).await, 0);

    // Writers racing on all three at 20 writes/s: the overshoot is at most what the others
    // take between two heartbeats (1 s here: 20 each), the README's bound.
    let (x, y, z) = tokio::join!(
        fill(&clients[0], "cl-race", "a", 30, Duration::from_millis(50)),
        fill(&clients[1], "cl-race", "b", 30, Duration::from_millis(50)),
        fill(&clients[2], "cl-race", "c", 30, Duration::from_millis(50)),
    );
    let total = x + y + z;
    eprintln!("racing writers took {x} + {y} + {z} = {total} objects under a quota of 30");
    assert!(total >= 30, "the quota admits its 30");
    assert!(total <= 30 + 2 * 20 + 2, "overshoot {} beyond the bound", total - 30);
}

/// Uploads `body` as part `number` of `upload_id` through `client`; returns its ETag.
async fn part_through(client: &aws_sdk_s3::Client, bucket: &str, key: &str, upload_id: &str, number: i32, body: Vec<u8>) -> String {
    let part = client.upload_part().bucket(bucket).key(key).upload_id(upload_id).part_number(number).body(body.into()).send().await;
    part.unwrap_or_else(|e| panic!("part {number}: {e:?}")).e_tag().unwrap().to_owned()
}

fn completed(etags: &[String]) -> aws_sdk_s3::types::CompletedMultipartUpload {
    let parts = etags.iter().enumerate().map(|(i, e)| aws_sdk_s3::types::CompletedPart::builder().part_number(i as i32 + 1).e_tag(e).build());
    aws_sdk_s3::types::CompletedMultipartUpload::builder().set_parts(Some(parts.collect())).build()
}

#[tokio::test]
async fn a_multipart_upload_takes_its_parts_on_every_instance() {
    let (upstream, gws, _shared) = three().await;
    let (ak, sk) = crate::tenancy::user(&gws[0], "corp", "mia", "admin").await;
    let [a, b, c] = [0, 1, 2].map(|i| gws[i].client_with(&ak, &sk));
    a.create_bucket().bucket("cl-parts").send().await.unwrap();
    let (first, second) = (vec![b'1'; 5 << 20], b"the last part".to_vec());
    let whole = [first.clone(), second.clone()].concat();

    // Started on a, a part through b and one through c, listed on a, completed on b, read on c.
    let id = a.create_multipart_upload().bucket("cl-parts").key("spread").send().await.unwrap().upload_id().unwrap().to_owned();
    let etags = vec![part_through(&b, "cl-parts", "spread", &id, 1, first.clone()).await, part_through(&c, "cl-parts", "spread", &id, 2, second.clone()).await];
    let listed = a.list_parts().bucket("cl-parts").key("spread").upload_id(&id).send().await.unwrap();
    let seen: Vec<(i32, i64)> = listed.parts().iter().map(|p| (p.part_number().unwrap(), p.size().unwrap())).collect();
    assert_eq!(seen, vec![(1, 5 << 20), (2, second.len() as i64)], "every instance's parts are listed");
    b.complete_multipart_upload().bucket("cl-parts").key("spread").upload_id(&id).multipart_upload(completed(&etags)).send().await.unwrap();
    let got = c.get_object().bucket("cl-parts").key("spread").send().await.unwrap().body.collect().await.unwrap().into_bytes();
    assert!(got[..] == whole[..], "the object assembled from parts taken on three instances");
    // Finished: no instance knows the upload any more, the one that started it included.
    for client in [&a, &c] {
        let e = client.list_parts().bucket("cl-parts").key("spread").upload_id(&id).send().await.unwrap_err();
        assert_eq!(code(e.as_service_error().unwrap()), "NoSuchUpload", "{e:?}");
    }
    let left = upstream.client.list_objects_v2().bucket(&upstream.meta).prefix(".tollgate-uploads/").send().await.unwrap();
    assert_eq!(left.key_count(), Some(0), "a finished upload's shared records are removed");

    // Sealed (SSE-S3): the upload's key goes with its record, so any instance seals a part.
    let sse = aws_sdk_s3::types::ServerSideEncryption::Aes256;
    let started = a.create_multipart_upload().bucket("cl-parts").key("sealed").server_side_encryption(sse).send().await.unwrap();
    let id = started.upload_id().unwrap().to_owned();
    let etags = vec![part_through(&b, "cl-parts", "sealed", &id, 1, first.clone()).await, part_through(&a, "cl-parts", "sealed", &id, 2, second.clone()).await];
    c.complete_multipart_upload().bucket("cl-parts").key("sealed").upload_id(&id).multipart_upload(completed(&etags)).send().await.unwrap();
    for reader in [&c, &a] {
        let got = reader.get_object().bucket("cl-parts").key("sealed").send().await.unwrap();
        assert_eq!(got.server_side_encryption(), Some(&aws_sdk_s3::types::ServerSideEncryption::Aes256));
        assert!(got.body.collect().await.unwrap().into_bytes()[..] == whole[..], "sealed parts taken on two instances open as one object, anywhere");
    }
    let range = a.get_object().bucket("cl-parts").key("sealed").range("bytes=5242878-5242881").send().await.unwrap();
    assert_eq!(&range.body.collect().await.unwrap().into_bytes()[..], b"11th", "a range across the parts, read elsewhere");

    // Aborted on another instance than the one that started it.
    let id = b.create_multipart_upload().bucket("cl-parts").key("dropped").send().await.unwrap().upload_id().unwrap().to_owned();
    part_through(&c, "cl-parts", "dropped", &id, 1, second.clone()).await;
    a.abort_multipart_upload().bucket("cl-parts").key("dropped").upload_id(&id).send().await.unwrap();
    let e = b.list_parts().bucket("cl-parts").key("dropped").upload_id(&id).send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "NoSuchUpload", "{e:?}");

    // Listed through every instance, wherever started; once completed or aborted anywhere,
    // listed by none.
    let listed = |client: &aws_sdk_s3::Client| {
        let list = client.list_multipart_uploads().bucket("cl-parts");
        async move { list.send().await.unwrap().uploads().iter().map(|u| (u.key().unwrap().to_owned(), u.upload_id().unwrap().to_owned())).collect::<Vec<_>>() }
    };
    let on_a = a.create_multipart_upload().bucket("cl-parts").key("listed/a").send().await.unwrap().upload_id().unwrap().to_owned();
    let on_b = b.create_multipart_upload().bucket("cl-parts").key("listed/b").send().await.unwrap().upload_id().unwrap().to_owned();
    let both = vec![("listed/a".to_owned(), on_a.clone()), ("listed/b".to_owned(), on_b.clone())];
    for client in [&a, &b, &c] {
        assert_eq!(listed(client).await, both, "uploads started on a and b, and no other");
    }
    let etags = vec![part_through(&b, "cl-parts", "listed/a", &on_a, 1, second.clone()).await];
    c.complete_multipart_upload().bucket("cl-parts").key("listed/a").upload_id(&on_a).multipart_upload(completed(&etags)).send().await.unwrap();
    a.abort_multipart_upload().bucket("cl-parts").key("listed/b").upload_id(&on_b).send().await.unwrap();
    for client in [&a, &b, &c] {
        assert_eq!(listed(client).await, vec![], "finished elsewhere");
    }

    // A record forged in the metadata bucket (no master key) is not taken for an upload.
    let forged_id = "forged-upload";
    let record = serde_json::json!({"bucket": "cl-parts", "key": "x", "initiated_ns": 0, "attrs": {}, "acl": []});
    let forged = serde_json::json!({"entry": record.to_string(), "mac": "0".repeat(64)});
    let path = {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(forged_id.as_bytes());
        format!(".tollgate-uploads/{}/upload.json", digest[..20].iter().map(|b| format!("{b:02x}")).collect::<String>())
    };
    upstream.client.put_object().bucket(&upstream.meta).key(path).body(forged.to_string().into_bytes().into()).send().await.unwrap();
    let e = c.list_parts().bucket("cl-parts").key("x").upload_id(forged_id).send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "NoSuchUpload", "{e:?}");
}

#[tokio::test]
async fn what_one_instance_did_is_seen_at_once_by_the_others() {
    let (_upstream, gws, _shared) = three().await;
    let (ak, sk) = crate::tenancy::user(&gws[0], "corp", "noa", "admin").await;
    let [a, b, c] = [0, 1, 2].map(|i| gws[i].client_with(&ak, &sk));

    // A bucket made on a is in b's ListBuckets at once (the listing reads the log first).
    a.create_bucket().bucket("cl-seen").send().await.unwrap();
    let listed = b.list_buckets().send().await.unwrap();
    assert!(listed.buckets().iter().any(|x| x.name() == Some("cl-seen")), "{listed:?}");

    // A keyring key made on a seals a write through c at once.
    call(&root_conn(&gws[0]), "POST", "keyring/made-on-a", None).await.unwrap();
    let kms = aws_sdk_s3::types::ServerSideEncryption::AwsKms;
    let put = c.put_object().bucket("cl-seen").key("kms").body(b"k".to_vec().into()).server_side_encryption(kms).ssekms_key_id("made-on-a");
    put.send().await.expect("a keyring key made elsewhere, used at once");

    // An object sealed through c is copied through another instance by the record c shared
    // (into plaintext or sealed again); without that record the copy is refused, as the
    // store would copy the ciphertext as the object.
    let sse_s3 = aws_sdk_s3::types::ServerSideEncryption::Aes256;
    c.put_object().bucket("cl-seen").key("sealed").body(b"secret".to_vec().into()).server_side_encryption(sse_s3.clone()).send().await.unwrap();
    for (copy, sse) in [("copy-plain", None), ("copy-sealed", Some(sse_s3))] {
        a.copy_object().bucket("cl-seen").key(copy).copy_source("cl-seen/sealed").set_server_side_encryption(sse).send().await.unwrap();
        let got = b.get_object().bucket("cl-seen").key(copy).send().await.unwrap();
        assert_eq!(&got.body.collect().await.unwrap().into_bytes()[..], b"secret", "{copy}");
    }
    let records = _upstream.client.list_objects_v2().bucket(&_upstream.meta).prefix(".tollgate-objects/").send().await.unwrap();
    for o in records.contents() {
        _upstream.client.delete_object().bucket(&_upstream.meta).key(o.key().unwrap()).send().await.unwrap();
    }
    let e = a.copy_object().bucket("cl-seen").key("copy").copy_source("cl-seen/sealed").send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "InvalidRequest", "{e:?}");
    let e = a.head_object().bucket("cl-seen").key("copy").send().await.unwrap_err();
    assert!(e.as_service_error().is_some_and(|e| e.is_not_found()), "no copy was made: {e:?}");

    // Objects written through a and c and deleted through b, and an upload started on a and
    // completed on b, leave the bucket empty for a, which deletes it; c, which counted
    // objects in it, follows.
    a.put_object().bucket("cl-seen").key("plain").body(b"p".to_vec().into()).send().await.unwrap();
    let id = a.create_multipart_upload().bucket("cl-seen").key("mp").send().await.unwrap().upload_id().unwrap().to_owned();
    let etag = part_through(&b, "cl-seen", "mp", &id, 1, b"one part".to_vec()).await;
    b.complete_multipart_upload().bucket("cl-seen").key("mp").upload_id(&id).multipart_upload(completed(&[etag])).send().await.unwrap();
    for key in ["plain", "kms", "sealed", "mp", "copy-plain", "copy-sealed"] {
        b.delete_object().bucket("cl-seen").key(key).send().await.unwrap();
    }
    a.delete_bucket().bucket("cl-seen").send().await.expect("a bucket emptied through another instance can be deleted");
    within(BOUND, "a bucket deleted elsewhere, gone on the instance that wrote into it", || async {
        c.head_bucket().bucket("cl-seen").send().await.is_err_and(|e| e.as_service_error().is_some_and(|e| e.is_not_found()))
    })
    .await;
}

/// The numbers of the objects under `prefix` of the cluster's metadata bucket (the
/// control log's entries or checkpoints), in order.
async fn numbered(upstream: &Upstream, prefix: &str) -> Vec<u64> {
    let listed = upstream.client.list_objects_v2().bucket(&upstream.meta).prefix(prefix).send().await.unwrap();
    listed.contents().iter().filter_map(|o| o.key()?.strip_prefix(prefix)?.strip_suffix(".json")?.parse().ok()).collect()
}

/// Whether `gw` knows the state the checkpoint test left on the cluster.
async fn in_checkpointed_state(gw: &Gateway, gone: &[(String, String)], made: &[(String, String)]) -> bool {
    for (ak, sk) in gone {
        if accepts(gw, ak, sk).await {
            return false;
        }
    }
    for (ak, sk) in made {
        if !accepts(gw, ak, sk).await {
            return false;
        }
    }
    let (ak, sk) = &made[0];
    let bucket_gone = gw.client_with(ak, sk).head_bucket().bucket("cl-doomed").send().await.is_err();
    let limit = call(&root_conn(gw), "GET", "limits/tenant/new", None).await.unwrap();
    bucket_gone && limit["override"]["read_requests"].as_u64().is_some_and(|n| n >= 100)
}

#[tokio::test]
async fn the_control_log_is_compacted_behind_checkpoints_that_late_instances_load() {
    let upstream = Upstream::start().await;
    let shared = tempfile::tempdir().unwrap();
    let master = shared.path().join("master.key");
    let member = |name| upstream.member_with(name, &master, |c| c.upstream.control_checkpoint_every = 4);
    let a = Gateway::start_local_in(tempfile::tempdir().unwrap(), member("a")).await;
    let b = Gateway::start_local_in(tempfile::tempdir().unwrap(), member("b")).await;

    // b knows two keys and a bucket, and stops. Meanwhile the bucket is deleted, one key
    // deleted and the other disabled, new users made, and the log compacted past where b
    // left it.
    let (ok, os) = crate::tenancy::user(&a, "old", "olu", "admin").await;
    let (dk, ds) = crate::tenancy::user(&a, "old", "dan", "writer").await;
    a.client_with(&ok, &os).create_bucket().bucket("cl-doomed").send().await.unwrap();
    within(BOUND, "b knows the keys and the bucket", || async {
        accepts(&b, &dk, &ds).await && b.client_with(&ok, &os).head_bucket().bucket("cl-doomed").send().await.is_ok()
    })
    .await;
    let b_dir = b.stop().await;
    let left_at = numbered(&upstream, ".tollgate-control/").await.last().copied().unwrap();
    let root = root_conn(&a);
    a.client_with(&ok, &os).delete_bucket().bucket("cl-doomed").send().await.unwrap();
    call(&root, "DELETE", &format!("keys/{ok}"), None).await.unwrap();
    call(&root, "POST", &format!("keys/{dk}/disable"), None).await.unwrap();
    let mut made = Vec::new();
    for i in 0..3 {
        made.push(crate::tenancy::user(&a, "new", &format!("n{i}"), "reader").await);
    }
    // Changes go on (a limit override set again and again) until the log no longer holds
    // the entry after b's last: a polls every 500 ms and checkpoints every 4 entries.
    let start = Instant::now();
    for rate in 100.. {
        call(&root, "PUT", "limits/tenant/new", Some(serde_json::json!({"read_requests": rate}))).await.unwrap();
        if numbered(&upstream, ".tollgate-control/").await.first().is_some_and(|&first| first > left_at + 1) {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "the log was not compacted: {:?}", numbered(&upstream, ".tollgate-control/").await);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let checkpoints = numbered(&upstream, ".tollgate-control-checkpoints/").await;
    let entries = numbered(&upstream, ".tollgate-control/").await;
    assert!((1..=2).contains(&checkpoints.len()), "older checkpoints are removed: {checkpoints:?}");
    assert!(entries.first().is_some_and(|&first| first > checkpoints[0]), "entries a kept checkpoint covers are removed: {entries:?} {checkpoints:?}");
    eprintln!("log after compaction: entries {entries:?}, checkpoints {checkpoints:?}; b left at {left_at}");

    // b restarted loads the newest checkpoint: the deleted key, the disabled key and the
    // deleted bucket are gone there too, what was made meanwhile is known.
    let gone = [(ok, os), (dk, ds)];
    let b = Gateway::start_local_in(b_dir, member("b")).await;
    within(BOUND, "b behind the log's start reaches the cluster's state", || in_checkpointed_state(&b, &gone, &made)).await;
    // So does an instance joining now, from nothing.
    let c = Gateway::start_local_in(tempfile::tempdir().unwrap(), member("c")).await;
    within(BOUND, "a new instance reaches the cluster's state", || in_checkpointed_state(&c, &gone, &made)).await;
    // And changes go on through all three.
    let (nk, ns) = crate::tenancy::user(&c, "new", "late", "reader").await;
    for gw in [&a, &b] {
        within(BOUND, "a change made after the checkpoint", || accepts(gw, &nk, &ns)).await;
    }
}

#[tokio::test]
async fn a_lifecycle_expiry_removes_an_encrypted_objects_shared_record() {
    let upstream = Upstream::start().await;
    let shared = tempfile::tempdir().unwrap();
    let master = shared.path().join("master.key");
    let member = |name| {
        upstream.member_with(name, &master, |c| {
            c.jobs.lifecycle_day_secs = 1;
            c.jobs.lifecycle_interval_secs = 0;
        })
    };
    let a = Gateway::start_local_in(tempfile::tempdir().unwrap(), member("a")).await;
    let b = Gateway::start_local_in(tempfile::tempdir().unwrap(), member("b")).await;
    let (ak, sk) = crate::tenancy::user(&a, "corp", "lea", "admin").await;
    let lea = a.client_with(&ak, &sk);
    lea.create_bucket().bucket("cl-expiring").send().await.unwrap();
    let records = || async {
        let listed = upstream.client.list_objects_v2().bucket(&upstream.meta).prefix(".tollgate-objects/").send().await.unwrap();
        listed.contents().len()
    };
    for key in ["tmp/sealed", "keep/sealed"] {
        let put = lea.put_object().bucket("cl-expiring").key(key).body(b"short-lived".to_vec().into());
        put.server_side_encryption(aws_sdk_s3::types::ServerSideEncryption::Aes256).send().await.unwrap();
    }
    assert_eq!(records().await, 2);
    // The rule is set through b; a, which wrote the objects, expires what it matches.
    use aws_sdk_s3::types::{BucketLifecycleConfiguration, ExpirationStatus, LifecycleExpiration, LifecycleRule, LifecycleRuleFilter};
    let rule = LifecycleRule::builder()
        .id("tmp")
        .status(ExpirationStatus::Enabled)
        .filter(LifecycleRuleFilter::builder().prefix("tmp/").build())
        .expiration(LifecycleExpiration::builder().days(1).build())
        .build()
        .unwrap();
    let config = BucketLifecycleConfiguration::builder().rules(rule).build().unwrap();
    b.client_with(&ak, &sk).put_bucket_lifecycle_configuration().bucket("cl-expiring").lifecycle_configuration(config).send().await.unwrap();
    let start = Instant::now();
    while lea.head_object().bucket("cl-expiring").key("tmp/sealed").send().await.is_ok() {
        assert!(start.elapsed() < Duration::from_secs(15), "the object did not expire");
        call(&root_conn(&a), "POST", "jobs/lifecycle/run", None).await.unwrap();
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(records().await, 1, "the expiry removed the expired object's record, and only it");
    let kept = b.client_with(&ak, &sk).get_object().bucket("cl-expiring").key("keep/sealed").send().await.unwrap();
    assert_eq!(&kept.body.collect().await.unwrap().into_bytes()[..], b"short-lived");
}

/// An object written through the instance that stores it encrypted is read there by its
/// own record only while the upstream holds those bytes: deleted or replaced through
/// another instance, it is answered there as everywhere (no stale HEAD, no body cut
/// short), and the record is removed.
#[tokio::test]
async fn the_writer_of_an_encrypted_object_sees_it_deleted_or_replaced_elsewhere() {
    use aws_sdk_s3::types::ServerSideEncryption::Aes256;
    let upstream = Upstream::start().await;
    let shared = tempfile::tempdir().unwrap();
    let master = shared.path().join("master.key");
    let a = Gateway::start_local_in(tempfile::tempdir().unwrap(), upstream.member_with("a", &master, |c| c.jobs.reconcile_min_age_secs = 0)).await;
    let b = Gateway::start_local_in(tempfile::tempdir().unwrap(), upstream.member("b", Some(master))).await;
    let (ak, sk) = crate::tenancy::user(&a, "corp", "lea", "admin").await;
    let (lea_a, lea_b) = (a.client_with(&ak, &sk), b.client_with(&ak, &sk));
    lea_a.create_bucket().bucket("cl-replaced").send().await.unwrap();
    within(BOUND, "the bucket, through b", || async { lea_b.head_bucket().bucket("cl-replaced").send().await.is_ok() }).await;
    let sealed = |c: &aws_sdk_s3::Client, key: &str, body: &[u8]| {
        c.put_object().bucket("cl-replaced").key(key).body(body.to_vec().into()).server_side_encryption(Aes256).send()
    };
    let read = |key: &'static str| {
        let got = lea_a.get_object().bucket("cl-replaced").key(key).send();
        async move {
            let got = got.await?;
            let sse = got.server_side_encryption().cloned();
            Ok::<_, aws_sdk_s3::error::SdkError<_, _>>((got.body.collect().await.unwrap().into_bytes(), sse))
        }
    };
    let old = sealed(&lea_a, "deleted", b"written by a").await.unwrap();
    for key in ["replaced-sealed", "replaced-plain", "replaced-then-copied"] {
        sealed(&lea_a, key, b"written by a").await.unwrap();
    }
    // Listings describe the plaintext through the writer and through another, page by page.
    for c in [&lea_a, &lea_b] {
        let (mut token, mut seen) = (None, Vec::new());
        loop {
            let page = c.list_objects_v2().bucket("cl-replaced").max_keys(2).set_continuation_token(token).send().await.unwrap();
            seen.extend(page.contents().iter().map(|o| (o.key().unwrap().to_owned(), o.size(), o.e_tag().unwrap().to_owned())));
            token = page.next_continuation_token().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        let keys = ["deleted", "replaced-plain", "replaced-sealed", "replaced-then-copied"];
        let want: Vec<_> = keys.iter().map(|k| ((*k).to_owned(), Some(12), old.e_tag().unwrap().to_owned())).collect();
        assert_eq!(seen, want, "SSE-S3 objects of one body: one ETag, its MD5");
        // With a delimiter, beside the prefixes it folds.
        let folded = c.list_objects_v2().bucket("cl-replaced").prefix("replaced-").delimiter("-").send().await.unwrap();
        let prefixes: Vec<_> = folded.common_prefixes().iter().map(|p| p.prefix().unwrap()).collect();
        assert_eq!(prefixes, ["replaced-then-"]);
        let sizes: Vec<_> = folded.contents().iter().map(|o| (o.key().unwrap(), o.size())).collect();
        assert_eq!(sizes, [("replaced-plain", Some(12)), ("replaced-sealed", Some(12))]);
    }
    // GetObjectAttributes describes the plaintext through the writer and through another.
    for c in [&lea_a, &lea_b] {
        let attrs = c.get_object_attributes().bucket("cl-replaced").key("deleted").object_attributes(aws_sdk_s3::types::ObjectAttributes::ObjectSize);
        let attrs = attrs.object_attributes(aws_sdk_s3::types::ObjectAttributes::Etag).send().await.unwrap();
        assert_eq!((attrs.object_size(), attrs.e_tag().map(|e| e.trim_matches('"'))), (Some(12), old.e_tag().map(|e| e.trim_matches('"'))));
    }

    // A record shared by an older version, at the digest of its bucket and key rather
    // than in its bucket's folder, is read still.
    let digest = |s: &str| hex_simd::encode_to_string(&<sha2::Sha256 as sha2::Digest>::digest(s.as_bytes())[..20], hex_simd::AsciiCase::Lower);
    let (current, older) = (
        format!(".tollgate-objects/{}/replaced-sealed", digest("cl-replaced")),
        format!(".tollgate-objects/{}.json", digest("object cl-replaced\nreplaced-sealed")),
    );
    let record = upstream.client.get_object().bucket(&upstream.meta).key(&current).send().await.unwrap().body.collect().await.unwrap().into_bytes();
    upstream.client.put_object().bucket(&upstream.meta).key(&older).body(record.to_vec().into()).send().await.unwrap();
    upstream.client.delete_object().bucket(&upstream.meta).key(&current).send().await.unwrap();
    let got = lea_b.get_object().bucket("cl-replaced").key("replaced-sealed").send().await.unwrap();
    assert_eq!(&got.body.collect().await.unwrap().into_bytes()[..], b"written by a");

    // Deleted through b: a's HEAD and GET are 404, not its record's answer.
    lea_b.delete_object().bucket("cl-replaced").key("deleted").send().await.unwrap();
    let e = lea_a.head_object().bucket("cl-replaced").key("deleted").send().await.unwrap_err();
    assert_eq!(status(&e), 404, "{e:?}");
    let e = lea_a.get_object().bucket("cl-replaced").key("deleted").send().await.unwrap_err();
    assert_eq!(status(&e), 404, "{e:?}");

    // Replaced encrypted through b: a answers b's object, and judges conditions by it.
    let new = sealed(&lea_b, "replaced-sealed", b"replaced through b").await.unwrap();
    let head = lea_a.head_object().bucket("cl-replaced").key("replaced-sealed").send().await.unwrap();
    assert_eq!((head.e_tag(), head.content_length()), (new.e_tag(), Some(18)));
    let got = lea_a.get_object().bucket("cl-replaced").key("replaced-sealed").if_none_match(old.e_tag().unwrap()).send().await.unwrap();
    assert_eq!(&got.body.collect().await.unwrap().into_bytes()[..], b"replaced through b");
    let e = lea_a.get_object().bucket("cl-replaced").key("replaced-sealed").if_match(old.e_tag().unwrap()).send().await.unwrap_err();
    assert_eq!(status(&e), 412, "{e:?}");
    assert_eq!(read("replaced-sealed").await.unwrap(), (bytes::Bytes::from_static(b"replaced through b"), Some(Aes256)));

    // Replaced in the clear through b: a lists and reads the plain object.
    lea_b.put_object().bucket("cl-replaced").key("replaced-plain").body(b"plain now".to_vec().into()).send().await.unwrap();
    let listed = lea_a.list_objects_v2().bucket("cl-replaced").prefix("replaced-plain").send().await.unwrap();
    assert_eq!(listed.contents()[0].size(), Some(9), "listed as the upstream holds it, not as a's record said");
    assert_eq!(read("replaced-plain").await.unwrap(), (bytes::Bytes::from_static(b"plain now"), None));

    // A copy through a reads what b stored, not what a's record describes.
    sealed(&lea_b, "replaced-then-copied", b"copied from b's").await.unwrap();
    lea_a.copy_object().bucket("cl-replaced").key("copy").copy_source("cl-replaced/replaced-then-copied").send().await.unwrap();
    assert_eq!(read("copy").await.unwrap().0, bytes::Bytes::from_static(b"copied from b's"));

    // One replaced and never read through a: its reconcile job removes its record.
    sealed(&lea_a, "reconciled", b"written by a").await.unwrap();
    sealed(&lea_b, "reconciled", b"replaced through b").await.unwrap();
    let ran = call(&root_conn(&a), "POST", "jobs/reconcile/run", None).await.unwrap();
    assert_eq!(ran["changed"], 1, "{ran}");

    // a removed its stale records: its usage counts only what it still stores (the copy).
    let usage = call(&root_conn(&a), "GET", "usage", None).await.unwrap();
    let buckets = usage.as_array().unwrap().iter().flat_map(|t| t["buckets"].as_array().unwrap().iter());
    let counted: Vec<u64> = buckets.filter(|b| b["bucket"] == "cl-replaced").map(|b| b["objects"].as_u64().unwrap()).collect();
    assert_eq!(counted, [1], "{usage}");

    // A delete removes the record at either place (the older one was left above).
    lea_b.delete_object().bucket("cl-replaced").key("replaced-sealed").send().await.unwrap();
    let left = upstream.client.list_objects_v2().bucket(&upstream.meta).prefix(".tollgate-objects/").send().await.unwrap();
    let left: Vec<_> = left.contents().iter().filter_map(|o| o.key()).collect();
    assert!(!left.contains(&current.as_str()) && !left.contains(&older.as_str()), "{left:?}");
}

/// An object's ACL is its writer's record: once the object is replaced through another
/// instance (under the bucket's default, private), the old grant lets no one read the new
/// bytes through the writer, nor through the other.
#[tokio::test]
async fn an_object_acl_grant_ends_when_the_object_is_replaced_elsewhere() {
    use aws_sdk_s3::types::{ObjectCannedAcl, ObjectOwnership};
    let upstream = Upstream::start().await;
    let shared = tempfile::tempdir().unwrap();
    let master = shared.path().join("master.key");
    let a = Gateway::start_local_in(tempfile::tempdir().unwrap(), upstream.member("a", Some(master.clone()))).await;
    let b = Gateway::start_local_in(tempfile::tempdir().unwrap(), upstream.member("b", Some(master))).await;
    let (ak, sk) = crate::tenancy::user(&a, "corp", "ola", "admin").await;
    let (ola_a, ola_b) = (a.client_with(&ak, &sk), b.client_with(&ak, &sk));
    ola_a.create_bucket().bucket("cl-acl").object_ownership(ObjectOwnership::ObjectWriter).send().await.unwrap();
    within(BOUND, "the bucket, through b", || async { ola_b.head_bucket().bucket("cl-acl").send().await.is_ok() }).await;
    let anonymous = |gw: &Gateway, method: &'static str| {
        let addr = gw.addr;
        async move { raw(addr, method, "/cl-acl/doc", &[], b"", None).await.status }
    };
    ola_a.put_object().bucket("cl-acl").key("doc").acl(ObjectCannedAcl::PublicRead).body(b"public".to_vec().into()).send().await.unwrap();
    assert_eq!((anonymous(&a, "GET").await, anonymous(&a, "HEAD").await), (200, 200), "public through its writer");
    ola_b.put_object().bucket("cl-acl").key("doc").body(b"private now".to_vec().into()).send().await.unwrap();
    assert_eq!((anonymous(&a, "GET").await, anonymous(&a, "HEAD").await), (403, 403), "the grant was the replaced object's");
    assert_eq!(anonymous(&b, "GET").await, 403);
    let got = ola_a.get_object().bucket("cl-acl").key("doc").send().await.unwrap();
    assert_eq!(&got.body.collect().await.unwrap().into_bytes()[..], b"private now", "its tenant reads it through either");

    // The writer neither answers nor changes the replaced object's ACL as its successor's;
    // the instance that wrote the successor does.
    ola_a.put_object().bucket("cl-acl").key("doc2").acl(ObjectCannedAcl::PublicRead).body(b"public".to_vec().into()).send().await.unwrap();
    ola_b.put_object().bucket("cl-acl").key("doc2").body(b"private now".to_vec().into()).send().await.unwrap();
    let e = ola_a.get_object_acl().bucket("cl-acl").key("doc2").send().await.unwrap_err();
    assert_eq!(status(&e), 404, "{e:?}");
    let e = ola_a.put_object_acl().bucket("cl-acl").key("doc2").acl(ObjectCannedAcl::PublicRead).send().await.unwrap_err();
    assert_eq!(status(&e), 404, "not accepted as if kept: {e:?}");
    assert_eq!(ola_b.get_object_acl().bucket("cl-acl").key("doc2").send().await.unwrap().grants().len(), 1, "private");
}

/// A bucket policy's Deny on an object's tag holds through every instance: the tags of an
/// object stored at its key are the upstream's, whichever instance wrote or re-tagged it
/// (through an instance whose index did not hold them, the Deny used to be evaded).
#[tokio::test]
async fn a_deny_on_an_object_tag_holds_through_every_instance() {
    use aws_sdk_s3::types::{Tag, Tagging};
    let upstream = Upstream::start().await;
    let shared = tempfile::tempdir().unwrap();
    let master = shared.path().join("master.key");
    let a = Gateway::start_local_in(tempfile::tempdir().unwrap(), upstream.member("a", Some(master.clone()))).await;
    let b = Gateway::start_local_in(tempfile::tempdir().unwrap(), upstream.member("b", Some(master))).await;
    let (ak, sk) = crate::tenancy::user(&a, "corp", "ivy", "admin").await;
    let (wk, ws) = crate::tenancy::user(&a, "corp", "wes", "writer").await;
    let (ivy_a, ivy_b) = (a.client_with(&ak, &sk), b.client_with(&ak, &sk));
    let (wes_a, wes_b) = (a.client_with(&wk, &ws), b.client_with(&wk, &ws));
    ivy_a.create_bucket().bucket("cl-tagged").send().await.unwrap();
    let policy = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Sid": "NoSecrets", "Effect": "Deny", "Principal": "*",
        "Action": "s3:GetObject", "Resource": "arn:aws:s3:::cl-tagged/*",
        "Condition": {"StringEquals": {"s3:ExistingObjectTag/class": "secret"}}}]});
    ivy_a.put_bucket_policy().bucket("cl-tagged").policy(policy.to_string()).send().await.unwrap();
    within(BOUND, "b knows the policy and the writer's key", || async {
        ivy_b.get_bucket_policy().bucket("cl-tagged").send().await.is_ok() && accepts(&b, &wk, &ws).await
    })
    .await;
    let put = |c: &aws_sdk_s3::Client, key: &'static str, tagging: Option<&'static str>| {
        c.put_object().bucket("cl-tagged").key(key).set_tagging(tagging.map(str::to_owned)).body(b"text".to_vec().into()).send()
    };
    put(&ivy_a, "secret", Some("class=secret")).await.unwrap();
    put(&ivy_a, "open", None).await.unwrap();
    let read = |c: &aws_sdk_s3::Client, key: &'static str| c.get_object().bucket("cl-tagged").key(key).send();
    assert_eq!(status(&read(&wes_a, "secret").await.unwrap_err()), 403, "denied through its writer");
    assert_eq!(status(&read(&wes_b, "secret").await.unwrap_err()), 403, "denied through the other instance");
    assert!(read(&wes_b, "open").await.is_ok(), "an object without the tag is read through either");
    let copy = wes_b.copy_object().bucket("cl-tagged").key("leaked").copy_source("cl-tagged/secret").send().await;
    assert_eq!(status(&copy.unwrap_err()), 403, "a copy reads its source: denied too");

    // Tagged through b, the object a wrote is denied through a, whose index never saw the tag.
    let secret = Tagging::builder().tag_set(Tag::builder().key("class").value("secret").build().unwrap()).build().unwrap();
    ivy_b.put_object_tagging().bucket("cl-tagged").key("open").tagging(secret).send().await.unwrap();
    assert_eq!(status(&read(&wes_a, "open").await.unwrap_err()), 403, "the upstream's tags decide, not a's record");
    assert_eq!(status(&read(&wes_b, "open").await.unwrap_err()), 403);
    // Untagged again through a, it is read through both.
    ivy_a.delete_object_tagging().bucket("cl-tagged").key("open").send().await.unwrap();
    assert!(read(&wes_a, "open").await.is_ok() && read(&wes_b, "open").await.is_ok());
}

/// A request whose decision asks the upstream for an object's tags is charged to its rate
/// limits before the lookup: a throttled client makes the gateway ask the upstream
/// nothing. A DeleteObjects asks for its keys' tags a few at a time and is still decided
/// key by key.
#[tokio::test]
async fn a_throttled_request_asks_the_upstream_for_no_tags() {
    let upstream = Upstream::start().await;
    let a = Gateway::start_local_in(tempfile::tempdir().unwrap(), member_of(&upstream, "a")).await;
    let (ak, sk) = crate::tenancy::user(&a, "corp", "ivy", "admin").await;
    let ivy = a.client_with(&ak, &sk);
    ivy.create_bucket().bucket("cl-throttled").send().await.unwrap();
    let policy = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*",
        "Action": ["s3:GetObject", "s3:DeleteObject"], "Resource": "arn:aws:s3:::cl-throttled/*",
        "Condition": {"StringEquals": {"s3:ExistingObjectTag/class": "secret"}}}]});
    ivy.put_bucket_policy().bucket("cl-throttled").policy(policy.to_string()).send().await.unwrap();
    for (key, tagging) in [("doc", None), ("plain", None), ("secret", Some("class=secret"))] {
        ivy.put_object().bucket("cl-throttled").key(key).set_tagging(tagging.map(str::to_owned)).body(b"text".to_vec().into()).send().await.unwrap();
    }
    // The upstream's count of tag lookups answered (a local-disk upstream's metrics).
    let lookups = || async {
        let local = upstream.local.as_ref()?;
        let text = raw(local.addr, "GET", "/metrics", &[], b"", None).await.text();
        let series = r#"tollgate_requests_total{operation="GetObjectTagging",status="200"} "#;
        Some(text.lines().find_map(|l| l.strip_prefix(series)).map_or(0.0, |v| v.trim().parse::<f64>().unwrap()))
    };
    let before = lookups().await;
    let once = {
        let c = ivy.config().to_builder().retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled()).build();
        aws_sdk_s3::Client::from_conf(c)
    };
    // All at once: however slow the upstream answers, they reach the limiter together.
    let gets = futures::future::join_all((0..60).map(|_| once.get_object().bucket("cl-throttled").key("doc").send())).await;
    let (mut served, mut throttled) = (0u32, 0u32);
    for get in gets {
        match get {
            Ok(_) => served += 1,
            Err(e) if status(&e) == 503 => throttled += 1,
            Err(e) => panic!("a GET failed otherwise than throttled: {e:?}"),
        }
    }
    assert!(throttled >= 15, "60 GETs at once against 20/s are throttled ({served} served)");
    if let (Some(before), Some(after)) = (before, lookups().await) {
        assert!(after - before <= f64::from(served), "{} tag lookups for {served} GETs served, {throttled} throttled", after - before);
    }

    // The SDK's retries wait out the throttling.
    let delete = |keys: &[&str]| {
        let objects = keys.iter().map(|k| aws_sdk_s3::types::ObjectIdentifier::builder().key(*k).build().unwrap()).collect();
        ivy.delete_objects().bucket("cl-throttled").delete(aws_sdk_s3::types::Delete::builder().set_objects(Some(objects)).build().unwrap()).send()
    };
    assert_eq!(status(&delete(&["doc", "plain", "secret"]).await.unwrap_err()), 403, "a Deny on one key refuses the whole request");
    assert!(ivy.head_object().bucket("cl-throttled").key("doc").send().await.is_ok(), "nothing was deleted");
    let deleted = delete(&["doc", "plain"]).await.unwrap();
    assert_eq!(deleted.deleted().len(), 2, "{deleted:?}");
    assert_eq!(status(&ivy.head_object().bucket("cl-throttled").key("plain").send().await.unwrap_err()), 404);
}

//! Cluster membership (`tollgate admin cluster`): instances sharing an upstream metadata
//! bucket see each other through their heartbeats there; one that stops says it left, one
//! that falls silent is counted gone after three of its heartbeat intervals; each live
//! instance enforces its share of the rate limits. Each test
//! sets up its own upstream (a local-disk tollgate), whatever the suite's mode.

use crate::common::*;
use crate::tenancy::root_conn;

use std::time::{Duration, Instant};

use serde_json::Value;
use tollgate::admin::client::call;
use tollgate::config::{BackendKind, Config};

const META: &str = "cluster-meta";

fn member_of(upstream: &Gateway, instance: &'static str) -> impl FnOnce(&mut Config) {
    let endpoint = upstream.endpoint();
    move |c: &mut Config| {
        c.backend = BackendKind::Upstream;
        c.upstream.endpoint = endpoint;
        c.upstream.access_key = ACCESS_KEY.into();
        c.upstream.secret_key = SECRET_KEY.into();
        c.upstream.bucket_prefix = "cl-".into();
        c.upstream.meta_bucket = META.into();
        c.upstream.instance = instance.into();
        c.upstream.heartbeat_secs = 1;
        c.limits.key.read_requests = 20;
    }
}

/// The read rate `gw` enforces for `key` now (`RateLimit-Limit` of an admitted GET).
async fn read_limit(gw: &Gateway, c: &aws_sdk_s3::Client, bucket: &str) -> String {
    use aws_sdk_s3::presigning::PresigningConfig;
    let url = c.get_object().bucket(bucket).key("k").presigned(PresigningConfig::expires_in(Duration::from_secs(60)).unwrap()).await.unwrap();
    let path = url.uri().strip_prefix(&gw.endpoint()).unwrap().to_owned();
    let r = raw(gw.addr, "GET", &path, &[], b"", None).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    r.header("ratelimit-limit").unwrap().to_owned()
}

/// Polls until `gw` enforces `want` as the read rate; fails after 10 s.
async fn until_limit(gw: &Gateway, c: &aws_sdk_s3::Client, bucket: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let seen = read_limit(gw, c, bucket).await;
        if seen == want {
            return;
        }
        assert!(Instant::now() < deadline, "read limit {seen}, waiting for {want}");
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
    let upstream = Gateway::start_local_in(tempfile::tempdir().unwrap(), |_| {}).await;
    upstream.client().create_bucket().bucket(META).send().await.unwrap();
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
    upstream.client().put_object().bucket(META).key(".tollgate-members/ghost.json").body(ghost.to_string().into_bytes().into()).send().await.unwrap();
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

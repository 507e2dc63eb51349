//! Rate limits and quotas through a real client.

use crate::common::*;
use crate::tenancy::{root_conn, user};

use std::time::{Duration, Instant};

use aws_sdk_s3::Client;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use serde_json::json;
use tollgate::admin::client::call;
use tollgate::limits::Rates;

/// A client that gives up at the first error, so the test sees each SlowDown.
fn no_retry(gw: &Gateway, ak: &str, sk: &str) -> Client {
    let c = client_for(&gw.endpoint(), ak, sk);
    Client::from_conf(c.config().to_builder().retry_config(RetryConfig::disabled()).build())
}

fn header<E>(e: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>, name: &str) -> Option<String> {
    e.raw_response().and_then(|r| r.headers().get(name)).map(str::to_owned)
}

#[tokio::test]
async fn a_tenant_over_its_limit_gets_slowdown_and_another_tenant_does_not() {
    let gw = Gateway::start_with(|c| c.limits.tenant = Rates { read_requests: 5, ..Rates::default() }).await;
    let (ak_a, sk_a) = user(&gw, "alpha", "w", "admin").await;
    let (ak_b, sk_b) = user(&gw, "beta", "w", "admin").await;
    let (a, b) = (no_retry(&gw, &ak_a, &sk_a), no_retry(&gw, &ak_b, &sk_b));
    a.create_bucket().bucket("alpha-bucket").send().await.unwrap();
    b.create_bucket().bucket("beta-bucket").send().await.unwrap();

    let mut refused = None;
    for i in 0..20 {
        if let Err(e) = a.head_bucket().bucket("alpha-bucket").send().await {
            refused = Some((i, e));
            break;
        }
    }
    let (i, e) = refused.expect("alpha is throttled within 20 quick reads");
    assert!(i >= 4, "the burst of 5 is allowed (refused at request {i})");
    assert_eq!(status(&e), 503);
    let retry_after: u64 = header(&e, "retry-after").expect("Retry-After on SlowDown").parse().unwrap();
    assert!((1..=2).contains(&retry_after), "Retry-After {retry_after}");
    assert_eq!(header(&e, "ratelimit-limit").as_deref(), Some("5"));
    assert_eq!(header(&e, "ratelimit-remaining").as_deref(), Some("0"));
    let e = a.list_objects_v2().bucket("alpha-bucket").send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "SlowDown");
    // Writes have their own limits (none here).
    a.put_object().bucket("alpha-bucket").key("k").body(b"x".to_vec().into()).send().await.unwrap();
    // Beta's share is untouched while alpha is throttled.
    for _ in 0..5 {
        b.head_bucket().bucket("beta-bucket").send().await.unwrap();
    }

    // An override through the admin API applies to the very next request.
    let root = root_conn(&gw);
    let v = call(&root, "PUT", "limits/tenant/alpha", Some(json!({"read_requests": 1000}))).await.unwrap();
    assert_eq!(v["effective"]["read_requests"], 1000);
    for _ in 0..20 {
        a.head_bucket().bucket("alpha-bucket").send().await.unwrap();
    }
    // Removing it restores the configured default.
    let v = call(&root, "DELETE", "limits/tenant/alpha", None).await.unwrap();
    assert_eq!(v["effective"]["read_requests"], 5);
    assert!(v["override"].is_null());

    // Throttled requests are audited.
    let log = call(&root, "GET", "audit?tenant=alpha&outcome=throttled", None).await.unwrap();
    assert!(!log.as_array().unwrap().is_empty(), "no throttled entry in {log}");
}

#[tokio::test]
async fn responses_carry_ratelimit_headers_and_the_sdk_retry_recovers() {
    let gw = Gateway::start_with(|c| c.limits.key = Rates { read_requests: 3, write_requests: 20, ..Rates::default() }).await;
    let (ak, sk) = user(&gw, "alpha", "w", "admin").await;
    // The SDK's standard retry (3 attempts, jittered backoff) absorbs SlowDown with no user
    // action: 30 PUTs at once against 20 per second all succeed. (At once: one after the
    // other, a loaded machine may never reach 20 per second.)
    let c = client_for(&gw.endpoint(), &ak, &sk);
    c.create_bucket().bucket("paced").send().await.unwrap();
    let puts = (0..30).map(|i| {
        let c = c.clone();
        tokio::spawn(async move { c.put_object().bucket("paced").key(format!("k{i}")).body(b"x".to_vec().into()).send().await })
    });
    for put in futures::future::join_all(puts).await {
        put.unwrap().unwrap();
    }
    let throttled = call(&root_conn(&gw), "GET", "audit?outcome=throttled", None).await.unwrap();
    assert!(!throttled.as_array().unwrap().is_empty(), "the limit was never hit: the test proves nothing");
    tokio::time::sleep(Duration::from_secs(1)).await;
    // A presigned GET, fetched raw, shows the headers of an admitted request.
    let url = c.get_object().bucket("paced").key("k0").presigned(PresigningConfig::expires_in(Duration::from_secs(60)).unwrap()).await.unwrap();
    let path = url.uri().strip_prefix(&gw.endpoint()).unwrap().to_owned();
    let r = raw(gw.addr, "GET", &path, &[], b"", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("ratelimit-limit"), Some("3"));
    assert_eq!(r.header("ratelimit-remaining"), Some("2"));
    assert!(r.header("ratelimit-reset").is_some());
}

#[tokio::test]
async fn a_byte_limit_slows_an_upload_without_failing_it() {
    let gw = Gateway::start_with(|c| c.limits.key = Rates { write_bytes: 64 << 10, ..Rates::default() }).await;
    let (ak, sk) = user(&gw, "alpha", "w", "admin").await;
    let c = client_for(&gw.endpoint(), &ak, &sk);
    c.create_bucket().bucket("slow").send().await.unwrap();
    let body = data(192 << 10, 7);
    let started = Instant::now();
    c.put_object().bucket("slow").key("big").body(body.clone().into()).send().await.unwrap();
    let took = started.elapsed();
    // A burst of 64 KiB, then 128 KiB at 64 KiB/s.
    assert!(took >= Duration::from_millis(1800), "192 KiB at 64 KiB/s took only {took:?}");
    let got = c.get_object().bucket("slow").key("big").send().await.unwrap().body.collect().await.unwrap().into_bytes();
    assert_eq!(got.as_ref(), body.as_slice());
}

#[tokio::test]
async fn quotas_hold_exactly_under_concurrent_uploads_and_across_restarts() {
    let gw = Gateway::start().await;
    let (ak, sk) = user(&gw, "alpha", "w", "admin").await;
    let root = root_conn(&gw);
    let c = client_for(&gw.endpoint(), &ak, &sk);
    c.create_bucket().bucket("quota-one").send().await.unwrap();
    c.create_bucket().bucket("quota-two").send().await.unwrap();
    call(&root, "PUT", "quotas/tenant/alpha", Some(json!({"max_bytes": 5000}))).await.unwrap();

    // 20 racing 1000-byte uploads into two buckets: exactly 5 fit.
    let puts = (0..20).map(|i| {
        let c = c.clone();
        async move {
            let bucket = if i % 2 == 0 { "quota-one" } else { "quota-two" };
            c.put_object().bucket(bucket).key(format!("k{i}")).body(vec![1u8; 1000].into()).send().await
        }
    });
    let results = futures::future::join_all(puts).await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(ok, 5, "exactly 5 x 1000 bytes fit in 5000");
    for e in results.into_iter().filter_map(Result::err) {
        assert_eq!(status(&e), 403);
        assert_eq!(code(e.as_service_error().unwrap()), "QuotaExceeded");
    }
    let usage = |v: &serde_json::Value| (v[0]["objects"].as_u64().unwrap(), v[0]["bytes"].as_u64().unwrap());
    assert_eq!(usage(&call(&root, "GET", "usage?tenant=alpha", None).await.unwrap()), (5, 5000));

    // Find one stored key; overwriting it with the same size is no growth and allowed.
    let listed = c.list_objects_v2().bucket("quota-one").send().await.unwrap();
    let (bucket, key) = match listed.contents().first() {
        Some(o) => ("quota-one", o.key().unwrap().to_owned()),
        None => ("quota-two", c.list_objects_v2().bucket("quota-two").send().await.unwrap().contents()[0].key().unwrap().to_owned()),
    };
    c.put_object().bucket(bucket).key(&key).body(vec![2u8; 1000].into()).send().await.unwrap();
    let e = c.put_object().bucket(bucket).key(&key).body(vec![2u8; 1001].into()).send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "QuotaExceeded");
    // Copies and multipart completions are held to the quota too.
    let e = c.copy_object().bucket("quota-one").key("copy").copy_source(format!("{bucket}/{key}")).send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "QuotaExceeded");
    let up = c.create_multipart_upload().bucket("quota-one").key("mp").send().await.unwrap();
    let id = up.upload_id().unwrap();
    let part = c.upload_part().bucket("quota-one").key("mp").upload_id(id).part_number(1).body(vec![3u8; 100].into()).send().await.unwrap();
    let done = CompletedMultipartUpload::builder().parts(CompletedPart::builder().part_number(1).e_tag(part.e_tag().unwrap()).build()).build();
    let e = c.complete_multipart_upload().bucket("quota-one").key("mp").upload_id(id).multipart_upload(done).send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "QuotaExceeded");
    c.abort_multipart_upload().bucket("quota-one").key("mp").upload_id(id).send().await.unwrap();

    // A delete frees room; a bucket quota applies within the tenant's.
    c.delete_object().bucket(bucket).key(&key).send().await.unwrap();
    call(&root, "PUT", "quotas/bucket/quota-two", Some(json!({"max_objects": 1}))).await.unwrap();
    let two_count = c.list_objects_v2().bucket("quota-two").send().await.unwrap().key_count().unwrap_or(0);
    let e = c.put_object().bucket("quota-two").key("new").body(vec![1u8; 10].into()).send().await;
    assert_eq!(e.is_ok(), two_count == 0, "quota-two holds {two_count} objects with a quota of 1");
    c.put_object().bucket("quota-one").key("after-delete").body(vec![1u8; 900].into()).send().await.unwrap();
    let before = usage(&call(&root, "GET", "usage?tenant=alpha", None).await.unwrap());

    // Usage and quotas survive a restart exactly.
    let dir = gw.stop().await;
    let gw = Gateway::start_in(dir, |_| {}).await;
    let root = root_conn(&gw);
    let v = call(&root, "GET", "usage?tenant=alpha", None).await.unwrap();
    assert_eq!(usage(&v), before);
    assert_eq!(v[0]["quota"]["max_bytes"], 5000);
    let c = client_for(&gw.endpoint(), &ak, &sk);
    let room = 5000 - before.1;
    c.put_object().bucket("quota-one").key("fits").body(vec![1u8; usize::try_from(room).unwrap()].into()).send().await.unwrap();
    let e = c.put_object().bucket("quota-one").key("one-more").body(vec![1u8; 1].into()).send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "QuotaExceeded");

    // Giving a bucket to another tenant moves its usage with it.
    user(&gw, "beta", "w", "admin").await;
    let moved = c.list_objects_v2().bucket("quota-two").send().await.unwrap();
    let moved_bytes: i64 = moved.contents().iter().filter_map(|o| o.size()).sum();
    let moved = (u64::try_from(moved.key_count().unwrap_or(0)).unwrap(), u64::try_from(moved_bytes).unwrap());
    assert!(moved.0 > 0, "quota-two holds something to move");
    let alpha_before = usage(&call(&root, "GET", "usage?tenant=alpha", None).await.unwrap());
    call(&root, "PUT", "buckets/quota-two", Some(json!({"tenant": "beta"}))).await.unwrap();
    let alpha_after = usage(&call(&root, "GET", "usage?tenant=alpha", None).await.unwrap());
    assert_eq!((alpha_before.0 - alpha_after.0, alpha_before.1 - alpha_after.1), moved);
    assert_eq!(usage(&call(&root, "GET", "usage?tenant=beta", None).await.unwrap()), moved);
    // ... and alpha has room again under its quota.
    c.put_object().bucket("quota-one").key("one-more").body(vec![1u8; 1].into()).send().await.unwrap();
}

#[tokio::test]
async fn only_root_sets_tenant_limits_and_quotas() {
    let gw = Gateway::start().await;
    let (ak, sk) = user(&gw, "alpha", "boss", "admin").await;
    let admin = crate::tenancy::conn(&gw, &ak, &sk);
    let e = call(&admin, "PUT", "limits/tenant/alpha", Some(json!({"read_requests": 0}))).await.unwrap_err();
    assert!(e.contains("403"), "{e}");
    let e = call(&admin, "PUT", "quotas/tenant/alpha", Some(json!({"max_bytes": 0}))).await.unwrap_err();
    assert!(e.contains("403"), "{e}");
    // A tenant admin manages its own keys' limits.
    let v = call(&admin, "PUT", &format!("limits/key/{ak}"), Some(json!({"write_requests": 7}))).await.unwrap();
    assert_eq!(v["effective"]["write_requests"], 7);
    let e = call(&admin, "GET", "limits/tenant/beta", None).await.unwrap_err();
    assert!(e.contains("404") || e.contains("403"), "{e}");
}

#[tokio::test]
async fn with_the_limiter_off_nothing_is_limited_or_metered() {
    let gw = Gateway::start_with(|c| {
        c.limits.enabled = false;
        c.limits.key = Rates { read_requests: 1, write_bytes: 1, ..Rates::default() };
    })
    .await;
    let (ak, sk) = user(&gw, "alpha", "w", "admin").await;
    let c = no_retry(&gw, &ak, &sk);
    c.create_bucket().bucket("free").send().await.unwrap();
    // A 64 KiB body at "1 byte/s" would take a day if metered.
    c.put_object().bucket("free").key("k").body(vec![1u8; 64 << 10].into()).send().await.unwrap();
    for _ in 0..10 {
        c.head_object().bucket("free").key("k").send().await.unwrap();
    }
}

#[tokio::test]
async fn the_usage_history_samples_tenants_and_buckets_and_shows_an_admin_its_own() {
    let gw = Gateway::start().await;
    let root = root_conn(&gw);
    let (ak, sk) = user(&gw, "hist", "ann", "admin").await;
    let (bk, bs) = user(&gw, "other", "bob", "admin").await;
    let c = client_for(&gw.endpoint(), &ak, &sk);
    c.create_bucket().bucket("hist-b").send().await.unwrap();
    let ran = call(&root, "POST", "jobs/usage_history/run", None).await.unwrap();
    assert_eq!(ran["changed"], 1, "{ran}");
    c.put_object().bucket("hist-b").key("k").body(vec![1u8; 100].into()).send().await.unwrap();
    call(&root, "POST", "jobs/usage_history/run", None).await.unwrap();

    let history = call(&root, "GET", "usage/history", None).await.unwrap();
    let samples = history.as_array().unwrap();
    assert_eq!(samples.len(), 2, "{history}");
    assert_eq!(samples[0]["tenants"]["hist"]["bytes"], 0);
    assert_eq!(samples[1]["tenants"]["hist"], json!({"objects": 1, "bytes": 100}));
    assert_eq!(samples[1]["buckets"]["hist-b"], json!({"tenant": "hist", "objects": 1, "bytes": 100}));
    assert!(samples[0]["at_ms"].as_i64().unwrap() <= samples[1]["at_ms"].as_i64().unwrap());
    // From a time on.
    let since = samples[1]["at_ns"].as_str().unwrap();
    let later = call(&root, "GET", &format!("usage/history?since_ns={since}"), None).await.unwrap();
    assert_eq!(later.as_array().unwrap().len(), 1, "{later}");

    // Another tenant's admin sees its own tenant and buckets only.
    let theirs = call(&crate::tenancy::conn(&gw, &bk, &bs), "GET", "usage/history", None).await.unwrap();
    assert_eq!(theirs[1]["tenants"], json!({"other": {"objects": 0, "bytes": 0}}), "{theirs}");
    assert_eq!(theirs[1]["buckets"], json!({}), "{theirs}");
    let e = call(&crate::tenancy::conn(&gw, &bk, &bs), "GET", "usage/history?tenant=hist", None).await.unwrap_err();
    assert!(e.starts_with("403"), "{e}");
}

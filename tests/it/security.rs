//! A hostile client's probes, answered as AWS S3 answers them: headers outside the
//! signature, presigned limits, floods of refused requests, client faults that must not
//! be 5xx, ranges S3 ignores, and small leaks.

use crate::common::*;
use crate::tenancy::root_conn;

use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use serde_json::Value;
use tollgate::admin::client::call;

fn path_and_query(uri: &str) -> String {
    let u: http::Uri = uri.parse().unwrap();
    u.path_and_query().unwrap().to_string()
}

/// A presigned PUT of `bucket/key`: its path and query, and the headers it was signed with.
async fn presigned_put(gw: &Gateway, bucket: &str, key: &str) -> (String, Vec<(String, String)>) {
    let put = gw.client().put_object().bucket(bucket).key(key).presigned(PresigningConfig::expires_in(Duration::from_secs(300)).unwrap()).await.unwrap();
    (path_and_query(put.uri()), put.headers().map(|(k, v)| (k.to_owned(), v.to_owned())).collect())
}

fn with(mut headers: Vec<(String, String)>, name: &str, value: &str) -> Vec<(String, String)> {
    headers.push((name.into(), value.into()));
    headers
}

#[tokio::test]
async fn headers_outside_the_signature_are_refused_and_change_nothing() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("unsigned").await;
    c.put_object().bucket(&b).key("secret").body(b"private bytes".to_vec().into()).send().await.unwrap();

    let (url, signed) = presigned_put(&gw, &b, "dst").await;
    for (name, value) in [("x-amz-copy-source", format!("{b}/secret")), ("x-amz-meta-evil", "1".into()), ("x-amz-tagging", "a=b".into())] {
        let r = raw(gw.addr, "PUT", &url, &with(signed.clone(), name, &value), b"", None).await;
        assert_eq!(r.status, 403, "{name}: {}", r.text());
        assert!(r.text().contains("<Code>AccessDenied</Code>") && r.text().contains(&format!("<HeadersNotSigned>{name}</HeadersNotSigned>")), "{}", r.text());
        assert_eq!(status(&c.head_object().bucket(&b).key("dst").send().await.unwrap_err()), 404, "{name}: nothing was stored");
    }
    // Used as signed, the URL still works.
    let r = raw(gw.addr, "PUT", &url, &signed, b"mine", None).await;
    assert_eq!(r.status, 200, "{}", r.text());

    // Header auth: a header added after signing.
    let endpoint = format!("{}/{b}/hdr", gw.endpoint());
    let headers = with(sign("PUT", &endpoint, &[]), "x-amz-meta-added", "1");
    let r = raw(gw.addr, "PUT", &format!("/{b}/hdr"), &headers, b"x", None).await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(r.text().contains("x-amz-meta-added"));
    let headers = sign("PUT", &endpoint, &[("x-amz-meta-signed", "1")]);
    assert_eq!(raw(gw.addr, "PUT", &format!("/{b}/hdr"), &headers, b"x", None).await.status, 200, "a signed x-amz-meta header is fine");
}

#[tokio::test]
async fn presigned_limits_region_and_one_mechanism() {
    let gw = Gateway::start().await;
    let b = gw.bucket("presign-limits").await;
    let (url, signed) = presigned_put(&gw, &b, "k").await;
    assert!(url.contains("X-Amz-Expires=300"));

    let r = raw(gw.addr, "PUT", &url.replace("X-Amz-Expires=300", "X-Amz-Expires=604801"), &signed, b"x", None).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("AuthorizationQueryParametersError") && r.text().contains("604800"), "{}", r.text());

    let r = raw(gw.addr, "PUT", &url.replace("%2Fus-east-1%2F", "%2Feu-west-1%2F"), &signed, b"x", None).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("<Region>us-east-1</Region>"), "{}", r.text());

    let header_signed = sign("PUT", &format!("{}/{b}/k", gw.endpoint()), &[]);
    let moved: Vec<(String, String)> = header_signed.iter().map(|(k, v)| (k.clone(), v.replace("/us-east-1/", "/eu-west-1/"))).collect();
    let r = raw(gw.addr, "PUT", &format!("/{b}/k"), &moved, b"x", None).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("AuthorizationHeaderMalformed") && r.text().contains("<Region>us-east-1</Region>"), "{}", r.text());
    let other_service: Vec<(String, String)> = header_signed.iter().map(|(k, v)| (k.clone(), v.replace("/s3/aws4_request", "/ec2/aws4_request"))).collect();
    assert_eq!(raw(gw.addr, "PUT", &format!("/{b}/k"), &other_service, b"x", None).await.status, 400);

    let auth = header_signed.iter().find(|(k, _)| k == "authorization").unwrap().clone();
    let r = raw(gw.addr, "PUT", &url, &with(signed.clone(), &auth.0, &auth.1), b"x", None).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("InvalidArgument") && r.text().contains("Only one auth mechanism"), "{}", r.text());

    let r = raw(gw.addr, "PUT", &url.replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA512"), &signed, b"x", None).await;
    assert_eq!(r.status, 400, "an unsupported algorithm is the client's fault: {}", r.text());
    assert_eq!(status(&gw.client().head_object().bucket(&b).key("k").send().await.unwrap_err()), 404);
}

#[tokio::test]
async fn refused_unauthenticated_requests_are_audited_together_and_throttled() {
    let gw = Gateway::start_with(|c| c.limits.unauthenticated_failures = 20).await;
    let b = gw.bucket("flood").await;
    let mut statuses = Vec::new();
    for i in 0..60 {
        let r = if i % 2 == 0 {
            raw(gw.addr, "GET", &format!("/{b}/k"), &[], b"", None).await
        } else {
            let mut h = sign("GET", &format!("{}/{b}/k", gw.endpoint()), &[]);
            for (k, v) in &mut h {
                if k == "authorization" {
                    *v = v.replace(ACCESS_KEY, "TGNOSUCHKEY000000000");
                }
            }
            raw(gw.addr, "GET", &format!("/{b}/k"), &h, b"", None).await
        };
        statuses.push(r.status);
    }
    assert!(statuses.iter().all(|s| *s == 403 || *s == 503), "{statuses:?}");
    assert!(statuses.contains(&503), "the address spent its failure budget: {statuses:?}");
    assert_eq!(statuses.iter().take(20).filter(|s| **s == 403).count(), 20, "the burst is answered normally");
    // A signed caller from the same address is still refused until the budget refills...
    tokio::time::sleep(Duration::from_millis(1100)).await;
    gw.client().head_bucket().bucket(&b).send().await.expect("...and served once it has");

    let denied = call(&root_conn(&gw), "GET", "audit?outcome=denied", None).await.unwrap();
    let entries = denied.as_array().unwrap();
    assert!(!entries.is_empty() && entries.len() <= 4, "one entry per address and minute: {denied}");
    let counted: u64 = entries.iter().map(|e| e["count"].as_u64().unwrap_or(1)).sum();
    assert_eq!(counted, 60, "every refusal is counted: {denied}");
    assert!(entries.iter().all(|e| e["principal"] == "" && e["source"] == "127.0.0.1"), "{denied}");
    let metrics = reqwest_like_get(&gw, "/metrics").await;
    assert!(metrics.contains("tollgate_unauthenticated_denials_total 60"), "{metrics}");
}

async fn reqwest_like_get(gw: &Gateway, path: &str) -> String {
    raw(gw.addr, "GET", path, &[], b"", None).await.text()
}

#[tokio::test]
async fn client_faults_are_4xx_not_5xx() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("faults").await;
    c.put_object().bucket(&b).key("keep").body(b"x".to_vec().into()).send().await.unwrap();
    let wrong = "0".repeat(64);

    // An object body that is not the one whose hash was signed.
    let url = format!("{}/{b}/k", gw.endpoint());
    let signed = sign_with("PUT", &url, &[], &wrong);
    let r = raw(gw.addr, "PUT", &format!("/{b}/k"), &signed, b"not those bytes", None).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("XAmzContentSHA256Mismatch"), "{}", r.text());
    assert_eq!(status(&c.head_object().bucket(&b).key("k").send().await.unwrap_err()), 404);

    // The same for a configuration document, which s3s reads whole.
    let url = format!("{}/{b}?delete", gw.endpoint());
    let body = b"<Delete><Object><Key>keep</Key></Object></Delete>";
    let signed = sign_with("POST", &url, &[], &wrong);
    let r = raw(gw.addr, "POST", &format!("/{b}?delete"), &signed, body, None).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("XAmzContentSHA256Mismatch"), "{}", r.text());
    c.head_object().bucket(&b).key("keep").send().await.expect("nothing was deleted");

    // A configuration document over the limit, declared or streamed.
    let huge = vec![b' '; (2 << 20) + 10];
    let r = raw(gw.addr, "POST", &format!("/{b}?delete"), &sign("POST", &url, &[]), &huge, None).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("MaxMessageLengthExceeded"), "{}", r.text());
    c.head_object().bucket(&b).key("keep").send().await.unwrap();
}

#[tokio::test]
async fn ranges_are_ignored_clamped_or_refused_as_s3_does() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("ranges").await;
    c.put_object().bucket(&b).key("ten").body(b"0123456789".to_vec().into()).send().await.unwrap();
    let url = format!("{}/{b}/ten", gw.endpoint());
    // Ranges S3 ignores, added to a presigned GET (which signs only the host, as curl
    // users send them).
    let get = c.get_object().bucket(&b).key("ten").presigned(PresigningConfig::expires_in(Duration::from_secs(300)).unwrap()).await.unwrap();
    for range in ["bytes=abc", "bytes=0-1,4-5", "items=0-1", "bytes=--1"] {
        let r = raw(gw.addr, "GET", &path_and_query(get.uri()), &[("range".into(), range.into())], b"", None).await;
        assert_eq!((r.status, r.body.as_slice()), (200, &b"0123456789"[..]), "{range}: {}", r.text());
    }
    // A signed one cannot be dropped: refused rather than served wrong.
    let r = raw(gw.addr, "GET", &format!("/{b}/ten"), &sign("GET", &url, &[("range", "bytes=abc")]), b"", None).await;
    assert_eq!(r.status, 400, "{}", r.text());
    for (range, status, body) in [("bytes=5-1000", 206, &b"56789"[..]), ("bytes=-3", 206, b"789"), ("bytes=-0", 416, b""), ("bytes=10-", 416, b"")] {
        let r = raw(gw.addr, "GET", &format!("/{b}/ten"), &sign("GET", &url, &[("range", range)]), b"", None).await;
        assert_eq!(r.status, status, "{range}: {}", r.text());
        if status != 416 {
            assert_eq!(r.body, body, "{range}");
        }
    }
}

#[tokio::test]
async fn request_ids_are_random() {
    let gw = Gateway::start().await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let r = raw(gw.addr, "GET", "/", &sign("GET", &format!("{}/", gw.endpoint()), &[]), b"", None).await;
        ids.push(u64::from_str_radix(r.header("x-amz-request-id").unwrap(), 16).unwrap());
    }
    assert!(ids.windows(2).all(|w| w[0].abs_diff(w[1]) > 1 << 16), "{ids:x?}");
}

#[tokio::test]
async fn scrub_reports_are_roots_alone() {
    let gw = Gateway::start().await;
    let (ak, sk) = crate::tenancy::user(&gw, "sa", "admin", "admin").await;
    let admin = crate::tenancy::conn(&gw, &ak, &sk);
    let e = call(&admin, "GET", "scrub", None).await.unwrap_err();
    assert!(e.contains("403"), "{e}");
    let _: Value = call(&root_conn(&gw), "GET", "scrub", None).await.unwrap();
}

/// The payload mode of aws-chunked bodies with unsigned chunks and a trailing checksum.
pub const STREAMING_TRAILER: &str = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";

/// CRC32 (IEEE), base64: the trailing checksum of an aws-chunked body.
pub fn crc32_b64(data: &[u8]) -> String {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    base64_simd::STANDARD.encode_to_string((!crc).to_be_bytes())
}

#[tokio::test]
async fn an_aws_chunked_body_must_match_its_declared_length() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("chunked").await;
    let data = vec![b'z'; 3000];
    let body = {
        let mut v = format!("{:x}\r\n", data.len()).into_bytes();
        v.extend_from_slice(&data);
        v.extend_from_slice(format!("\r\n0\r\nx-amz-checksum-crc32:{}\r\n\r\n", crc32_b64(&data)).as_bytes());
        v
    };
    for (declared, ok) in [(100usize, false), (5000, false), (3000, true)] {
        let key = format!("k{declared}");
        let url = format!("{}/{b}/{key}", gw.endpoint());
        let decl = declared.to_string();
        let headers = sign_with(
            "PUT",
            &url,
            &[("content-encoding", "aws-chunked"), ("x-amz-decoded-content-length", &decl), ("x-amz-trailer", "x-amz-checksum-crc32")],
            STREAMING_TRAILER,
        );
        let r = raw(gw.addr, "PUT", &format!("/{b}/{key}"), &headers, &body, None).await;
        if ok {
            assert_eq!(r.status, 200, "{}", r.text());
            let got = c.get_object().bucket(&b).key(&key).send().await.unwrap().body.collect().await.unwrap().into_bytes();
            assert_eq!(got.as_ref(), data.as_slice());
        } else {
            assert_eq!(r.status, 400, "declared {declared}: {}", r.text());
            assert_eq!(status(&c.head_object().bucket(&b).key(&key).send().await.unwrap_err()), 404, "declared {declared}: nothing stored");
        }
    }
}

#[tokio::test]
async fn declared_sizes_over_a_limit_are_refused_before_the_body() {
    let gw = Gateway::start_with(|c| c.storage.max_object_size = 1 << 20).await;
    let b = gw.bucket("declared").await;
    let url = format!("{}/{b}/big", gw.endpoint());
    // Only the headers are sent: the answer must not wait for a body.
    let started = std::time::Instant::now();
    let r = raw(gw.addr, "PUT", &format!("/{b}/big"), &sign("PUT", &url, &[]), b"", Some(6_000_000_000_000)).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("EntityTooLarge"), "{}", r.text());
    assert_eq!(r.header("connection"), Some("close"));
    assert!(started.elapsed() < Duration::from_secs(5));

    call(&root_conn(&gw), "PUT", &format!("quotas/bucket/{b}"), Some(serde_json::json!({"max_bytes": 1000}))).await.unwrap();
    let url = format!("{}/{b}/q", gw.endpoint());
    let r = raw(gw.addr, "PUT", &format!("/{b}/q"), &sign("PUT", &url, &[]), b"", Some(5000)).await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(r.text().contains("QuotaExceeded"), "{}", r.text());
    assert_eq!(r.header("connection"), Some("close"));
    gw.client().put_object().bucket(&b).key("small").body(vec![1u8; 500].into()).send().await.expect("within the quota");
}

#[tokio::test]
async fn open_topics_take_writes_only_into_users_spaces() {
    let gw = Gateway::start().await;
    let root = root_conn(&gw);
    let (_owner_key, _) = crate::tenancy::user(&gw, "mail", "alice", "admin").await;
    let (zed_key, zed_secret) = crate::tenancy::user(&gw, "other", "zed", "writer").await;
    let b = gw.bucket("mailbox").await;
    call(&root, "PUT", &format!("buckets/{b}"), Some(serde_json::json!({"tenant": "mail"}))).await.unwrap();
    call(&root, "PUT", &format!("topics/{b}/inbox"), Some(serde_json::json!({"write": "append-open", "read": "auth"}))).await.unwrap();
    let zed = gw.client_with(&zed_key, &zed_secret);
    zed.put_object().bucket(&b).key("inbox/alice/1").body(b"hi".to_vec().into()).send().await.expect("a mailbox of a user");
    let e = zed.put_object().bucket(&b).key("inbox/nosuchuser/1").body(b"hi".to_vec().into()).send().await.unwrap_err();
    assert_eq!(status(&e), 403);
}

#[tokio::test]
async fn manifests_served_to_anyone_name_no_access_key() {
    let gw = Gateway::start().await;
    let b = gw.bucket("public-proofs").await;
    gw.client().put_object().bucket(&b).key("k").body(b"x".to_vec().into()).send().await.unwrap();
    call(&root_conn(&gw), "PUT", &format!("buckets/{b}"), Some(serde_json::json!({"visibility": "public-read"}))).await.unwrap();
    let r = raw(gw.addr, "GET", &format!("/_tollgate/proofs/object/{b}/k"), &[], b"", None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(!r.text().contains(ACCESS_KEY), "{}", r.text());
    assert!(r.text().contains("\"principal\":\"sha256:"), "{}", r.text());
}

/// A concrete request for each admin endpoint, on tenant `ta`'s resources. An endpoint
/// without a case here fails the matrix: every route needs a decision.
fn concrete(e: &tollgate::admin::Endpoint, bucket: &str, key: &str) -> (String, Option<Value>) {
    use serde_json::json;
    let path = match e.path {
        "tenants" | "users" | "keys" | "buckets" | "usage" | "usage/history" | "audit" | "topics" | "prune-proofs" | "mirror" | "rebuild" | "cluster"
        | "jobs" | "scrub" | "keyring" => e.path.to_owned(),
        "tenants/{tenant}" => "tenants/tz".into(),
        "users/{tenant}/{user}" => "users/ta/victim".into(),
        "keys/{key}/enable" => format!("keys/{key}/enable"),
        "keys/{key}/disable" => format!("keys/{key}/disable"),
        "keys/{key}" => format!("keys/{key}"),
        "buckets/{bucket}" | "quotas/bucket/{bucket}" => e.path.replace("{bucket}", bucket),
        "quotas/tenant/{tenant}" => "quotas/tenant/ta".into(),
        "limits/{kind}/{name}" => format!("limits/key/{key}"),
        "topics/{bucket}/{topic..}" => format!("topics/{bucket}/t"),
        "jobs/{job}/run" => "jobs/audit_retention/run".into(),
        "keyring/{id}" | "keyring/{id}/rotate" => e.path.replace("{id}", "matrix"),
        other => panic!("the access matrix has no case for admin endpoint {} {other}", e.method),
    };
    let body = match (e.method, e.path) {
        ("POST", "tenants") => Some(json!({"name": "tnew"})),
        ("POST", "users") => Some(json!({"tenant": "ta", "name": "u2", "role": "reader"})),
        ("POST", "keys") => Some(json!({"tenant": "ta", "user": "u1"})),
        ("PUT", "buckets/{bucket}") => Some(json!({"visibility": "private"})),
        ("PUT", p) if p.starts_with("quotas/") => Some(json!({"max_bytes": 0})),
        ("PUT", "limits/{kind}/{name}") => Some(json!({})),
        ("PUT", "topics/{bucket}/{topic..}") => Some(json!({"write": "append-open", "read": "auth"})),
        ("PUT", "keyring/{id}") => Some(json!({"enabled": true})),
        _ => None,
    };
    (path, body)
}

#[tokio::test]
async fn every_admin_endpoint_decides_who_may_call_it() {
    use tollgate::admin::{ENDPOINTS, Who};
    let gw = Gateway::start_with(|c| c.limits.unauthenticated_failures = 0).await;
    let root = root_conn(&gw);
    let (a_admin, a_secret) = crate::tenancy::user(&gw, "ta", "boss", "admin").await;
    let (a_writer, a_writer_secret) = crate::tenancy::user(&gw, "ta", "writer", "writer").await;
    let (a_reader, a_reader_secret) = crate::tenancy::user(&gw, "ta", "reader", "reader").await;
    let (victim_key, _) = crate::tenancy::user(&gw, "ta", "victim", "reader").await;
    crate::tenancy::user(&gw, "ta", "u1", "reader").await;
    let (b_admin, b_secret) = crate::tenancy::user(&gw, "tb", "boss", "admin").await;
    call(&root, "POST", "tenants", Some(serde_json::json!({"name": "tz"}))).await.unwrap();
    let bucket = gw.bucket("matrix-ta").await;
    call(&root, "PUT", &format!("buckets/{bucket}"), Some(serde_json::json!({"tenant": "ta"}))).await.unwrap();

    let status_of = |r: Result<Value, String>| match r {
        Ok(_) => 200,
        Err(e) => {
            e.split_whitespace().find_map(|w| w.trim_matches(|c: char| !c.is_ascii_digit()).parse::<u16>().ok().filter(|n| (100..600).contains(n))).unwrap_or(0)
        }
    };
    // Refused callers first, then the allowed ones (whose calls may change things).
    for e in ENDPOINTS {
        let (path, body) = concrete(e, &bucket, &victim_key);
        let full = format!("/_tollgate/admin/{path}");
        let anon = raw(gw.addr, e.method, &full, &[], body.as_ref().map(|b| b.to_string()).unwrap_or_default().as_bytes(), None).await;
        assert_eq!(anon.status, 403, "anonymous {} {path}: {}", e.method, anon.text());
        for (ak, sk, who) in [(&a_writer, &a_writer_secret, "writer"), (&a_reader, &a_reader_secret, "reader")] {
            let s = status_of(call(&crate::tenancy::conn(&gw, ak, sk), e.method, &path, body.clone()).await);
            assert_eq!(s, 403, "a {who} of ta: {} {path}", e.method);
        }
        let other = call(&crate::tenancy::conn(&gw, &b_admin, &b_secret), e.method, &path, body.clone()).await;
        match e.who {
            Who::AnyAdmin => {
                let v = other.unwrap_or_else(|err| panic!("tb's admin {} {path}: {err}", e.method));
                let text = v.to_string();
                if path == "audit" {
                    // Its own refused attempts name ta's resources: what matters is whose entries.
                    assert!(v.as_array().unwrap().iter().all(|entry| entry["tenant"] == "tb"), "tb's admin sees ta's audit: {text}");
                } else {
                    assert!(
                        !text.contains(&bucket) && !text.contains(&victim_key) && !text.contains("\"ta\""),
                        "tb's admin sees ta in {} {path}: {text}",
                        e.method
                    );
                }
            }
            Who::Root | Who::TenantAdmin => {
                let s = status_of(other);
                assert!(s == 403 || s == 404, "tb's admin {} {path}: {s}", e.method);
            }
        }
    }
    for e in ENDPOINTS {
        let (path, body) = concrete(e, &bucket, &victim_key);
        let s = status_of(call(&crate::tenancy::conn(&gw, &a_admin, &a_secret), e.method, &path, body.clone()).await);
        if e.who == Who::Root {
            assert_eq!(s, 403, "ta's admin {} {path}", e.method);
        } else {
            assert!(s != 403 && s != 0, "ta's admin {} {path}: {s}", e.method);
        }
    }
    for e in ENDPOINTS {
        let (path, body) = concrete(e, &bucket, &victim_key);
        let s = status_of(call(&root, e.method, &path, body).await);
        assert!(s != 403 && s != 0, "root {} {path}: {s}", e.method);
        assert!(!(s == 404 && ["GET", "POST"].contains(&e.method) && !path.contains('/')), "root {} {path}: every listed endpoint has a handler", e.method);
    }
}

#[tokio::test]
async fn the_audit_log_can_be_read_by_time() {
    let gw = Gateway::start().await;
    let b = gw.bucket("audit-times").await;
    let now = i64::try_from(tollgate::audit::now_ns()).unwrap();
    let all = call(&root_conn(&gw), "GET", &format!("audit?bucket={b}&since_ns=0&until_ns={}", now + 60_000_000_000), None).await.unwrap();
    assert_eq!(all.as_array().unwrap().len(), 1, "{all}");
    let none = call(&root_conn(&gw), "GET", &format!("audit?bucket={b}&until_ns={}", now - 60_000_000_000), None).await.unwrap();
    assert!(none.as_array().unwrap().is_empty(), "{none}");
}

#[tokio::test]
async fn form_fields_outside_the_post_policy_are_refused() {
    use crate::fuzz::{amz_date_now, b64, post_signature};
    let gw = Gateway::start().await;
    let b = gw.bucket("forms").await;
    let date = amz_date_now();
    let credential = format!("{ACCESS_KEY}/{}/us-east-1/s3/aws4_request", &date[..8]);
    let policy = b64(serde_json::json!({
        "expiration": "2099-01-01T00:00:00.000Z",
        "conditions": [
            {"bucket": b}, ["starts-with", "$key", "form/"], {"x-amz-algorithm": "AWS4-HMAC-SHA256"},
            {"x-amz-credential": credential}, {"x-amz-date": date}
        ]
    })
    .to_string()
    .as_bytes());
    let signature = post_signature(&date, &policy);
    let form = |extra: &[(&str, &str)]| {
        let mut fields = vec![
            ("key", "form/k"),
            ("x-amz-algorithm", "AWS4-HMAC-SHA256"),
            ("x-amz-credential", credential.as_str()),
            ("x-amz-date", date.as_str()),
            ("policy", policy.as_str()),
            ("x-amz-signature", signature.as_str()),
        ];
        fields.extend_from_slice(extra);
        let mut body = Vec::new();
        for (name, value) in fields {
            body.extend_from_slice(format!("--XyZ\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes());
        }
        body.extend_from_slice(
            b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f.txt\"\r\nContent-Type: text/plain\r\n\r\nposted\r\n--XyZ--\r\n",
        );
        body
    };
    let ct = vec![("content-type".to_owned(), "multipart/form-data; boundary=XyZ".to_owned())];
    for extra in [("x-amz-meta-evil", "1"), ("x-amz-copy-source", "forms/other"), ("x-amz-tagging", "<Tagging/>")] {
        let r = raw(gw.addr, "POST", &format!("/{b}"), &ct, &form(&[extra]), None).await;
        assert_eq!(r.status, 403, "{}: {}", extra.0, r.text());
        assert!(r.text().contains("Invalid according to Policy: Extra input fields: "), "{}", r.text());
        assert_eq!(status(&gw.client().head_object().bucket(&b).key("form/k").send().await.unwrap_err()), 404);
    }
    let r = raw(gw.addr, "POST", &format!("/{b}"), &ct, &form(&[]), None).await;
    assert!(r.status / 100 == 2, "the form as signed: {}", r.text());
    gw.client().head_object().bucket(&b).key("form/k").send().await.unwrap();
}

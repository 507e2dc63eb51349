use crate::common::*;

use std::path::Path;
use std::time::Duration;

/// Files in a directory tree (blobs on disk).
fn count_files(dir: &Path) -> usize {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.flatten().map(|e| if e.path().is_dir() { count_files(&e.path()) } else { 1 }).sum()
}

#[tokio::test]
async fn keys_that_are_not_file_names_all_work() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("keys").await;
    let long = "k".repeat(1024);
    let keys = ["a/../b", "../escape", "a//b", "dir/", "dir/file", "dir", "./x", "sp ace+plus%pct", "ctl\u{1}\u{7f}", "日本/é", long.as_str()];
    for (i, k) in keys.iter().enumerate() {
        c.put_object().bucket(&b).key(*k).body(vec![i as u8; i + 1].into()).send().await.unwrap_or_else(|e| panic!("{k:?}: {e:?}"));
    }
    for (i, k) in keys.iter().enumerate() {
        let got = c.get_object().bucket(&b).key(*k).send().await.unwrap().body.collect().await.unwrap().into_bytes();
        assert_eq!(got.as_ref(), vec![i as u8; i + 1].as_slice(), "{k:?}");
    }
    // Control characters cannot appear in XML 1.0: such keys are listed URL-encoded,
    // as S3 advises.
    let listed = c.list_objects_v2().bucket(&b).encoding_type(aws_sdk_s3::types::EncodingType::Url).send().await.unwrap();
    assert_eq!(listed.contents().len(), keys.len());
    assert!(listed.contents().iter().any(|o| o.key() == Some("ctl%01%7F")));
    // Nothing was written outside the data directory.
    assert!(!gw.dir.path().parent().unwrap().join("escape").exists());

    let e = c.put_object().bucket(&b).key("k".repeat(1025)).body(b"x".to_vec().into()).send().await.unwrap_err();
    assert_eq!(status(&e), 400);
    assert_eq!(code(e.as_service_error().unwrap()), "KeyTooLongError");
}

#[tokio::test]
async fn malformed_xml_is_refused_and_deletes_nothing() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("xml").await;
    c.put_object().bucket(&b).key("keep").body(b"x".to_vec().into()).send().await.unwrap();
    for body in [&b"<Delete><Object><Key>keep</Key></Object>"[..], b"not xml at all", b"<Delete><Object><Key>keep</Key></Object></Nope>", b""] {
        let url = format!("{}/{b}?delete", gw.endpoint());
        let r = raw(gw.addr, "POST", &format!("/{b}?delete"), &sign("POST", &url, &[]), body, None).await;
        assert_eq!(r.status, 400, "{}", r.text());
        assert!(r.text().contains("<Code>"), "an S3 XML error: {}", r.text());
    }
    let url = format!("{}/{b}/nope?uploadId=zzz", gw.endpoint());
    let r = raw(gw.addr, "POST", &format!("/{b}/nope?uploadId=zzz"), &sign("POST", &url, &[]), b"<CompleteMultipartUpload><Part>", None).await;
    assert!(r.status == 400 || r.status == 404, "{} {}", r.status, r.text());
    c.head_object().bucket(&b).key("keep").send().await.unwrap();
}

#[tokio::test]
async fn a_body_shorter_than_its_content_length_stores_nothing() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("short").await;
    let url = format!("{}/{b}/cut", gw.endpoint());
    let r = raw(gw.addr, "PUT", &format!("/{b}/cut"), &sign("PUT", &url, &[]), &[7u8; 1000], Some(100_000)).await;
    assert_ne!(r.status, 200);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let e = c.head_object().bucket(&b).key("cut").send().await.unwrap_err();
    assert_eq!(status(&e), 404);
    assert_eq!(count_files(&gw.storage_dir().join("tmp")), 0, "no partial blob left in tmp/");
    assert_eq!(count_files(&gw.storage_dir().join("blobs")), 0);
}

#[tokio::test]
async fn a_stalled_upload_times_out_and_stores_nothing() {
    let gw = Gateway::start_with(|c| c.server.body_idle_timeout_secs = 1).await;
    let c = gw.client();
    let b = gw.bucket("stall").await;
    let url = format!("{}/{b}/slow", gw.endpoint());
    let headers = sign("PUT", &url, &[]);
    let mut s = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    let mut head = format!("PUT /{b}/slow HTTP/1.1\r\nhost: {}\r\ncontent-length: 1000\r\n", gw.addr);
    for (k, v) in &headers {
        if k != "host" {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    head.push_str("\r\n");
    use tokio::io::AsyncWriteExt;
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&[1u8; 10]).await.unwrap();
    // Send nothing more: the server answers RequestTimeout on its own.
    let r = tokio::time::timeout(Duration::from_secs(10), read_response(&mut s)).await.unwrap();
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("RequestTimeout"), "{}", r.text());
    let e = c.head_object().bucket(&b).key("slow").send().await.unwrap_err();
    assert_eq!(status(&e), 404);
    assert_eq!(count_files(&gw.storage_dir().join("tmp")), 0);
}

/// A client that sent `Expect: 100-continue` and got a refusal instead of `100 Continue`
/// holds its body back (botocore does); the server must not then read the client's next
/// request as that body: it closes the connection.
#[tokio::test]
async fn a_refusal_before_100_continue_closes_the_connection() {
    use tokio::io::AsyncWriteExt;
    let gw = Gateway::start().await;
    let b = gw.bucket("expect").await;
    let mut s = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    // Anonymous: refused before the body is read.
    let head = format!("PUT /{b}/k HTTP/1.1\r\nhost: {}\r\nexpect: 100-continue\r\ncontent-length: 2\r\n\r\n", gw.addr);
    s.write_all(head.as_bytes()).await.unwrap();
    let r = tokio::time::timeout(Duration::from_secs(10), read_response(&mut s)).await.expect("the server closes the connection after its answer");
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(r.headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("connection") && v.eq_ignore_ascii_case("close")), "{:?}", r.headers);
}

#[tokio::test]
async fn oversized_objects_are_refused() {
    let gw = Gateway::start_with(|c| c.storage.max_object_size = 64 << 10).await;
    let c = gw.client();
    let b = gw.bucket("limits").await;
    let e = c.put_object().bucket(&b).key("big").body(vec![0u8; 200 << 10].into()).send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "EntityTooLarge");
    c.put_object().bucket(&b).key("ok").body(vec![0u8; 64 << 10].into()).send().await.unwrap();
    let e = c.head_object().bucket(&b).key("big").send().await.unwrap_err();
    assert_eq!(status(&e), 404);
}

#[tokio::test]
async fn health_and_readiness() {
    let gw = Gateway::start().await;
    let r = raw(gw.addr, "GET", "/health", &[], b"", None).await;
    assert_eq!(r.status, 200);
    let r = raw(gw.addr, "GET", "/ready", &[], b"", None).await;
    assert_eq!(r.status, 200);
    assert!(r.text().contains("ready"));
    // Every response carries a request id.
    assert!(r.header("x-amz-request-id").is_some());
    // The container health check's probe agrees, and fails once the gateway is gone.
    let addr = gw.addr.to_string();
    tollgate::obs::probe(&addr, "/ready").await.unwrap();
    tollgate::obs::probe(&addr, "/health").await.unwrap();
    assert!(tollgate::obs::probe(&addr, "/no-such-path").await.is_err());
    gw.stop().await;
    assert!(tollgate::obs::probe(&addr, "/ready").await.is_err());
}

/// The value of one sample line of a Prometheus text exposition.
fn sample(text: &str, series: &str) -> f64 {
    text.lines().find_map(|l| l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' '))).map_or(0.0, |v| v.trim().parse().unwrap())
}

#[tokio::test]
async fn metrics_move_with_requests() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("metered").await;
    let scrape = || async { raw(gw.addr, "GET", "/metrics", &[], b"", None).await };
    let before = scrape().await;
    assert_eq!(before.status, 200);
    assert!(before.header("content-type").unwrap().starts_with("application/openmetrics-text"));
    let before = before.text();
    let put_ok = r#"tollgate_requests_total{operation="PutObject",status="200"}"#;
    let get_missing = r#"tollgate_requests_total{operation="GetObject",status="404"}"#;
    let anonymous = r#"tollgate_denied_requests_total{reason="anonymous"}"#;

    for i in 0..3 {
        c.put_object().bucket(&b).key(format!("k{i}")).body(vec![7u8; 1000].into()).send().await.unwrap();
    }
    let _ = c.get_object().bucket(&b).key("missing").send().await;
    assert_eq!(raw(gw.addr, "GET", &format!("/{b}/k0"), &[], b"", None).await.status, 403);

    let after = scrape().await.text();
    assert_eq!(sample(&after, put_ok) - sample(&before, put_ok), 3.0);
    assert_eq!(sample(&after, get_missing) - sample(&before, get_missing), 1.0);
    assert_eq!(sample(&after, anonymous) - sample(&before, anonymous), 1.0);
    let bytes_in = r#"tollgate_body_bytes_total{direction="in"}"#;
    assert!(sample(&after, bytes_in) - sample(&before, bytes_in) >= 3000.0);
    assert!(sample(&after, r#"tollgate_backend_duration_seconds_count{operation="PutObject"}"#) >= 3.0);
    assert!(sample(&after, "tollgate_metadata_size_bytes") > 0.0);
    // Every sample line is `name{labels} value`, and no label carries a bucket or key.
    for line in after.lines().filter(|l| !l.starts_with('#')) {
        let (_, value) = line.rsplit_once(' ').unwrap();
        value.parse::<f64>().unwrap_or_else(|_| panic!("bad sample line {line}"));
        assert!(!line.contains(&b) && !line.contains("k0"), "high-cardinality label in {line}");
    }
}

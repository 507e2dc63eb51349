//! HTTPS on the listener (`[tls]`): S3 and the admin API over TLS for clients trusting the
//! gateway's CA (and refused by those that do not), `aws:SecureTransport` true over it,
//! HTTP/2 by ALPN, a certificate replaced on disk served to new connections while an open
//! one goes on, and the plain-HTTP health listener answering health checks only.

use crate::common::*;
use crate::tenancy::{conn, user};

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tollgate::admin::client::call;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls").join(name)
}

/// A TLS connection to `gw` trusting the test CA, offering `alpn`.
async fn connect(gw: &Gateway, alpn: &[&[u8]]) -> TlsStream<TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(test_ca()).unwrap();
    for cert in rustls_pemfile_certs(&pem) {
        roots.add(cert).unwrap();
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let tcp = TcpStream::connect(gw.addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp).await.unwrap()
}

fn rustls_pemfile_certs(pem: &[u8]) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::pem_slice_iter(pem).map(Result::unwrap).collect()
}

/// Which test server certificate a connection was given (its subject's common name).
fn served_certificate(stream: &TlsStream<TcpStream>) -> &'static str {
    let der = stream.get_ref().1.peer_certificates().unwrap()[0].as_ref();
    let has = |name: &str| der.windows(name.len()).any(|w| w == name.as_bytes());
    match (has("tollgate test server 1"), has("tollgate test server 2")) {
        (true, false) => "server 1",
        (false, true) => "server 2",
        _ => panic!("not a test server certificate"),
    }
}

/// One HTTP/1.1 request on a kept-alive connection: its status and body.
async fn http1<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(stream: &mut S, path: &str) -> (u16, Vec<u8>) {
    stream.write_all(format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "connection closed before a response: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
        if let Some(at) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&got[..head_end]).to_ascii_lowercase();
    let status = head[9..12].parse().unwrap();
    let length: usize = head.lines().find_map(|l| l.strip_prefix("content-length:")).map_or(0, |v| v.trim().parse().unwrap());
    while got.len() < head_end + length {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "connection closed in a body");
        got.extend_from_slice(&buf[..n]);
    }
    (status, got[head_end..head_end + length].to_vec())
}

#[tokio::test]
async fn s3_and_the_admin_api_over_https_for_clients_trusting_the_ca() {
    let gw = Gateway::start_with(|c| {
        c.tls.cert = Some(fixture("server1.pem"));
        c.tls.key = Some(fixture("server1.key"));
    })
    .await;
    assert!(gw.endpoint().starts_with("https://"));
    let c = gw.client();
    let b = gw.bucket("over-tls").await;
    c.put_object().bucket(&b).key("k").body(b"sealed in transit".to_vec().into()).send().await.unwrap();
    let got = c.get_object().bucket(&b).key("k").send().await.unwrap().body.collect().await.unwrap().into_bytes();
    assert_eq!(&got[..], b"sealed in transit");

    // The admin API through `tollgate admin`'s client, given the CA (--ca-bundle).
    let (ak, sk) = user(&gw, "tls-corp", "ann", "admin").await;
    let ann = gw.client_with(&ak, &sk);
    let mine = format!("tls-corp-{}", std::process::id());
    ann.create_bucket().bucket(&mine).send().await.unwrap();
    ann.put_object().bucket(&mine).key("public/page").body(b"hello".to_vec().into()).send().await.unwrap();
    // AWS's "TLS only" pattern: deny what comes in plain, allow anyone over TLS. Over the
    // gateway's TLS, aws:SecureTransport is true: the owner is not denied and an anonymous
    // GET is allowed.
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
             "Resource": [format!("arn:aws:s3:::{mine}"), format!("arn:aws:s3:::{mine}/*")],
             "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
            {"Sid": "PublicOverTls", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
             "Resource": format!("arn:aws:s3:::{mine}/public/*"),
             "Condition": {"Bool": {"aws:SecureTransport": "true"}}}
        ]
    });
    ann.put_bucket_policy().bucket(&mine).policy(policy.to_string()).send().await.unwrap();
    ann.get_object().bucket(&mine).key("public/page").send().await.unwrap();
    let mut anonymous = connect(&gw, &[b"http/1.1"]).await;
    assert_eq!(http1(&mut anonymous, &format!("/{mine}/public/page")).await, (200, b"hello".to_vec()));
    let users = call(&conn(&gw, &ak, &sk), "GET", "users", None).await.unwrap();
    assert!(users.to_string().contains("ann"), "{users}");

    // A client that does not trust the CA is refused by its own TLS check.
    let untrusting = {
        use aws_smithy_http_client::tls;
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::Ring))
            .tls_context(tls::TlsContext::builder().with_trust_store(tls::TrustStore::empty()).build().unwrap())
            .build_https();
        let conf = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .endpoint_url(gw.endpoint())
            .credentials_provider(aws_sdk_s3::config::Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "test"))
            .force_path_style(true)
            .http_client(http)
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    };
    let e = untrusting.list_buckets().send().await.unwrap_err();
    assert!(format!("{e:?}").to_lowercase().contains("cert"), "{e:?}");

    // Plain HTTP to the TLS listener gets no HTTP answer.
    let mut plain = TcpStream::connect(gw.addr).await.unwrap();
    plain.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), plain.read_to_end(&mut answer)).await;
    assert!(!answer.starts_with(b"HTTP/"), "{}", String::from_utf8_lossy(&answer));
}

#[tokio::test]
async fn http2_by_alpn_a_new_certificate_without_dropping_connections_and_the_health_listener() {
    let certs = tempfile::tempdir().unwrap();
    let (cert, key) = (certs.path().join("cert.pem"), certs.path().join("key.pem"));
    std::fs::copy(fixture("server1.pem"), &cert).unwrap();
    std::fs::copy(fixture("server1.key"), &key).unwrap();
    let gw = Gateway::start_with(|c| {
        c.tls.cert = Some(cert.clone());
        c.tls.key = Some(key.clone());
        c.tls.reload_check_secs = 1;
        c.tls.plain_health_listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;

    // HTTP/2 chosen by ALPN: after the client's preface, the server's first frame is its SETTINGS.
    let mut h2 = connect(&gw, &[b"h2", b"http/1.1"]).await;
    assert_eq!(h2.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    h2.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00").await.unwrap();
    let mut frame = [0u8; 9];
    h2.read_exact(&mut frame).await.unwrap();
    assert_eq!(frame[3], 0x4, "a SETTINGS frame");

    let mut kept = connect(&gw, &[b"http/1.1"]).await;
    assert_eq!(served_certificate(&kept), "server 1");
    assert_eq!(http1(&mut kept, "/health").await.0, 200);

    // The files change (key first: a check between the two writes sees a mismatched pair,
    // keeps the certificate in force and tries again).
    std::fs::copy(fixture("server2.key"), &key).unwrap();
    std::fs::copy(fixture("server2.pem"), &cert).unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if served_certificate(&connect(&gw, &[b"http/1.1"]).await) == "server 2" {
            break;
        }
        assert!(Instant::now() < deadline, "the new certificate was not served");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(http1(&mut kept, "/health").await.0, 200, "a connection open across the reload goes on");

    // The plain-HTTP health listener: health checks only.
    let health = gw.health.expect("a health listener");
    let mut plain = TcpStream::connect(health).await.unwrap();
    assert_eq!(http1(&mut plain, "/health").await.0, 200);
    assert_eq!(http1(&mut plain, "/ready").await.0, 200);
    let (status, body) = http1(&mut plain, "/some-bucket/some-key").await;
    assert_eq!((status, String::from_utf8_lossy(&body).into_owned()), (404, "This listener serves /health, /ready and /metrics only.\n".to_owned()));
}

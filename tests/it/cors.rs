//! CORS (issue 23, item 4): the configuration round trip and its validation, the browser's
//! preflight answered from the rules, and the `Access-Control-*` headers of actual answers,
//! errors included.

use crate::common::*;
use crate::tenancy::user;

use aws_sdk_s3::types::{CorsConfiguration, CorsRule};
use tokio::io::AsyncWriteExt;

fn cors_rule(id: Option<&str>, origins: &[&str], methods: &[&str], headers: &[&str], expose: &[&str], max_age: Option<i32>) -> CorsRule {
    let mut b = CorsRule::builder();
    for o in origins {
        b = b.allowed_origins(*o);
    }
    for m in methods {
        b = b.allowed_methods(*m);
    }
    for h in headers {
        b = b.allowed_headers(*h);
    }
    for e in expose {
        b = b.expose_headers(*e);
    }
    b.set_id(id.map(str::to_owned)).set_max_age_seconds(max_age).build().unwrap()
}

fn config(rules: Vec<CorsRule>) -> CorsConfiguration {
    CorsConfiguration::builder().set_cors_rules(Some(rules)).build().unwrap()
}

/// The rules the preflight and answer tests use: an app origin that may write, any
/// subdomain of example.com that may read, anyone that may HEAD.
fn web_rules() -> CorsConfiguration {
    config(vec![
        cors_rule(Some("app"), &["https://app.example.com"], &["PUT", "POST", "GET"], &["Content-Type", "x-amz-*"], &["ETag"], Some(600)),
        cors_rule(None, &["http://*.example.com"], &["GET"], &[], &[], None),
        cors_rule(None, &["*"], &["HEAD"], &["*"], &[], None),
    ])
}

/// An unsigned request with `headers` (a browser's), to `path`, with `host` as its Host.
async fn browser(addr: std::net::SocketAddr, method: &str, host: Option<&str>, path: &str, headers: &[(&str, &str)]) -> RawResponse {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let host = host.map_or_else(|| addr.to_string(), str::to_owned);
    let mut head = format!("{method} {path} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("content-length: 0\r\n\r\n");
    s.write_all(head.as_bytes()).await.unwrap();
    read_response(&mut s).await
}

async fn preflight(gw: &Gateway, path: &str, origin: &str, method: &str, headers: Option<&str>) -> RawResponse {
    let mut h = vec![("origin", origin), ("access-control-request-method", method)];
    if let Some(v) = headers {
        h.push(("access-control-request-headers", v));
    }
    browser(gw.addr, "OPTIONS", None, path, &h).await
}

/// Rules round-trip exactly, invalid ones are refused as S3 refuses them (nothing stored),
/// readers read them, only admins change them, and they survive a restart.
#[tokio::test]
async fn cors_configuration_round_trips_and_is_validated() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("cors-config").await;

    let e = c.get_bucket_cors().bucket(&b).send().await.unwrap_err();
    assert_eq!(status(&e), 404);
    assert_eq!(code(e.as_service_error().unwrap()), "NoSuchCORSConfiguration");

    c.put_bucket_cors().bucket(&b).cors_configuration(web_rules()).send().await.unwrap();
    let got = c.get_bucket_cors().bucket(&b).send().await.unwrap();
    assert_eq!(got.cors_rules(), web_rules().cors_rules(), "answered exactly as set");

    let refused: Vec<(CorsConfiguration, &str, &str)> = vec![
        (config(vec![cors_rule(None, &["*"], &["GET", "PATCH"], &[], &[], None)]), "InvalidRequest", "Unsupported method is PATCH"),
        (config(vec![cors_rule(None, &["http://*.*.example.com"], &["GET"], &[], &[], None)]), "InvalidRequest", "more than one wildcard"),
        (config(vec![cors_rule(None, &["*"], &["GET"], &["x-*-*"], &[], None)]), "InvalidRequest", "more than one wildcard"),
        (config(vec![cors_rule(None, &["*"], &["GET"], &[], &["x-*"], None)]), "InvalidRequest", "ExposeHeader"),
        (config((0..101).map(|_| cors_rule(None, &["*"], &["GET"], &[], &[], None)).collect()), "MalformedXML", "100"),
    ];
    for (bad, want_code, says) in refused {
        let e = c.put_bucket_cors().bucket(&b).cors_configuration(bad).send().await.unwrap_err();
        assert_eq!(status(&e), 400, "{want_code} {says}");
        let se = e.as_service_error().unwrap();
        assert_eq!(code(se), want_code, "{says}");
        assert!(aws_sdk_s3::error::ProvideErrorMetadata::message(se).unwrap_or("").contains(says), "{se:?}");
    }
    assert_eq!(c.get_bucket_cors().bucket(&b).send().await.unwrap().cors_rules(), web_rules().cors_rules(), "a refused document changes nothing");

    let (ak, sk) = user(&gw, "acme", "reader", "reader").await;
    let reader = gw.client_with(&ak, &sk);
    let (bk, bs) = user(&gw, "acme", "boss", "admin").await;
    let admin = gw.client_with(&bk, &bs);
    let acme = format!("acme-cors-{}", std::process::id());
    admin.create_bucket().bucket(&acme).send().await.unwrap();
    admin.put_bucket_cors().bucket(&acme).cors_configuration(web_rules()).send().await.unwrap();
    assert_eq!(reader.get_bucket_cors().bucket(&acme).send().await.unwrap().cors_rules().len(), 3);
    let e = reader.put_bucket_cors().bucket(&acme).cors_configuration(web_rules()).send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "AccessDenied");
    let e = reader.delete_bucket_cors().bucket(&acme).send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "AccessDenied");

    let dir = gw.stop().await;
    let gw = Gateway::start_in(dir, |_| {}).await;
    let c = gw.client();
    assert_eq!(c.get_bucket_cors().bucket(&b).send().await.unwrap().cors_rules(), web_rules().cors_rules(), "kept across a restart");
    let r = preflight(&gw, &format!("/{b}/k"), "https://app.example.com", "PUT", None).await;
    assert_eq!(r.status, 200, "compiled again at start: {}", r.text());

    c.delete_bucket_cors().bucket(&b).send().await.unwrap();
    let e = c.get_bucket_cors().bucket(&b).send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "NoSuchCORSConfiguration");
    let e = c.put_bucket_cors().bucket("no-such-bucket-cors").cors_configuration(web_rules()).send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "NoSuchBucket");
}

/// A preflight is answered from the first matching rule; refused with S3's codes otherwise.
#[tokio::test]
async fn preflight_is_answered_from_the_rules() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("cors-preflight").await;
    let obj = format!("/{b}/dir/file.txt");

    let r = preflight(&gw, &obj, "https://app.example.com", "PUT", None).await;
    assert_eq!(r.status, 403, "no rules yet: {}", r.text());
    assert!(r.text().contains("<Code>AccessForbidden</Code>") && r.text().contains("CORS is not enabled"), "{}", r.text());
    assert_eq!(r.header("access-control-allow-origin"), None);
    let r = preflight(&gw, "/no-such-bucket-cors/k", "https://app.example.com", "PUT", None).await;
    assert_eq!(r.status, 404);
    assert!(r.text().contains("<Code>NoSuchBucket</Code>"), "{}", r.text());

    c.put_bucket_cors().bucket(&b).cors_configuration(web_rules()).send().await.unwrap();

    let r = preflight(&gw, &obj, "https://app.example.com", "PUT", Some("Content-Type, X-Amz-Meta-Owner")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("access-control-allow-origin"), Some("https://app.example.com"));
    assert_eq!(r.header("access-control-allow-methods"), Some("PUT, POST, GET"));
    assert_eq!(r.header("access-control-allow-headers"), Some("content-type, x-amz-meta-owner"));
    assert_eq!(r.header("access-control-expose-headers"), Some("ETag"));
    assert_eq!(r.header("access-control-max-age"), Some("600"));
    assert_eq!(r.header("access-control-allow-credentials"), Some("true"));
    assert_eq!(r.header("vary"), Some("Origin, Access-Control-Request-Headers, Access-Control-Request-Method"));
    assert!(r.header("x-amz-request-id").is_some());
    // The bucket itself too (a POST form upload's target).
    assert_eq!(preflight(&gw, &format!("/{b}"), "https://app.example.com", "POST", None).await.status, 200);

    // A header the rule does not allow, a method it does not allow, another origin.
    for (origin, method, headers) in [
        ("https://app.example.com", "PUT", Some("content-type, authorization")),
        ("https://app.example.com", "DELETE", None),
        ("https://app.example.com.evil.test", "PUT", None),
        ("http://app.example.com", "PUT", None),
    ] {
        let r = preflight(&gw, &obj, origin, method, headers).await;
        assert_eq!(r.status, 403, "{origin} {method} {headers:?}");
        let text = r.text();
        assert!(text.contains("<Code>AccessForbidden</Code>") && text.contains("CORSResponse: This CORS request is not allowed"), "{text}");
        assert!(text.contains(&format!("<Method>{method}</Method>")) && text.contains("<ResourceType>OBJECT</ResourceType>"), "{text}");
        assert_eq!(r.header("access-control-allow-origin"), None);
        assert!(r.header("vary").is_some_and(|v| v.starts_with("Origin")));
    }

    // The wildcard origin rule: any subdomain, echoed.
    let r = preflight(&gw, &obj, "http://a.b.example.com", "GET", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("access-control-allow-origin"), Some("http://a.b.example.com"));
    assert_eq!(r.header("access-control-allow-methods"), Some("GET"));
    assert_eq!(r.header("access-control-max-age"), None);
    // The `*` rule: `*` answered, without credentials; any header allowed.
    let r = preflight(&gw, &obj, "https://anyone.test", "HEAD", Some("x-custom")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert_eq!(r.header("access-control-allow-credentials"), None);
    assert_eq!(r.header("access-control-allow-headers"), Some("x-custom"));

    // What a preflight must say.
    let r = browser(gw.addr, "OPTIONS", None, &obj, &[("access-control-request-method", "PUT")]).await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("Origin request header needed"), "{}", r.text());
    let r = browser(gw.addr, "OPTIONS", None, &obj, &[("origin", "https://app.example.com")]).await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("Access-Control-Request-Method"), "{}", r.text());
}

/// Virtual-host style addresses the bucket by its Host, for preflights and answers alike.
#[tokio::test]
async fn virtual_host_requests_find_their_bucket() {
    let gw = Gateway::start_with(|c| c.domains = vec!["s3.test".into()]).await;
    let c = gw.client();
    let b = gw.bucket("cors-vhost").await;
    c.put_bucket_cors().bucket(&b).cors_configuration(web_rules()).send().await.unwrap();
    let host = format!("{b}.s3.test");
    let h = [("origin", "https://app.example.com"), ("access-control-request-method", "PUT")];
    let r = browser(gw.addr, "OPTIONS", Some(&host), "/some/key", &h).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("access-control-allow-origin"), Some("https://app.example.com"));
    // An anonymous GET: refused (the bucket is private), and readable by the page.
    let r = browser(gw.addr, "GET", Some(&host), "/some/key", &[("origin", "https://app.example.com")]).await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(r.header("access-control-allow-origin"), Some("https://app.example.com"));
}

/// Answers to a browser carry the headers of the rule matching its origin and method,
/// errors included; nothing without an `Origin`, nothing on a bucket without rules.
#[tokio::test]
async fn answers_carry_the_matching_rules_headers() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("cors-answers").await;
    let path = format!("/{b}/k");
    let url = format!("{}{path}", gw.endpoint());
    let app = ("origin", "https://app.example.com");

    // No rules: nothing, whatever the origin.
    let r = raw(gw.addr, "PUT", &path, &sign("PUT", &url, &[app]), b"hello", None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!((r.header("access-control-allow-origin"), r.header("vary")), (None, None));

    c.put_bucket_cors().bucket(&b).cors_configuration(web_rules()).send().await.unwrap();

    let r = raw(gw.addr, "PUT", &path, &sign("PUT", &url, &[app]), b"hello", None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("access-control-allow-origin"), Some("https://app.example.com"));
    assert_eq!(r.header("access-control-allow-credentials"), Some("true"));
    assert_eq!(r.header("access-control-expose-headers"), Some("ETag"));
    assert_eq!(r.header("access-control-allow-methods"), Some("PUT, POST, GET"));
    assert!(r.header("vary").is_some_and(|v| v.contains("Origin")));

    let r = raw(gw.addr, "GET", &path, &sign("GET", &url, &[app]), b"", None).await;
    assert_eq!((r.status, r.body.as_slice()), (200, &b"hello"[..]));
    assert_eq!(r.header("access-control-allow-origin"), Some("https://app.example.com"));

    // Errors: a missing key, and an anonymous read of the private bucket.
    let missing = format!("{}/{b}/missing", gw.endpoint());
    let r = raw(gw.addr, "GET", &format!("/{b}/missing"), &sign("GET", &missing, &[app]), b"", None).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.header("access-control-allow-origin"), Some("https://app.example.com"));
    let r = browser(gw.addr, "GET", None, &path, &[app]).await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(r.text().contains("<Code>AccessDenied</Code>"), "{}", r.text());
    assert_eq!(r.header("access-control-allow-origin"), Some("https://app.example.com"));

    // A DELETE no rule allows for the origin: no Allow-Origin, but the answer varies on it.
    let r = raw(gw.addr, "DELETE", &path, &sign("DELETE", &url, &[app]), b"", None).await;
    assert_eq!(r.status, 204);
    assert_eq!(r.header("access-control-allow-origin"), None);
    assert!(r.header("vary").is_some_and(|v| v.contains("Origin")));
    // HEAD from anywhere: the `*` rule.
    let r = raw(gw.addr, "HEAD", &path, &sign("HEAD", &url, &[("origin", "https://x.test")]), b"", None).await;
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert_eq!(r.header("access-control-allow-credentials"), None);

    // No Origin: no CORS headers at all.
    let r = raw(gw.addr, "GET", &path, &sign("GET", &url, &[]), b"", None).await;
    assert_eq!(r.header("access-control-allow-origin"), None);
    assert_eq!(r.header("vary"), None);
}

/// Preflights count against the address's anonymous request rate; refused ones are not
/// failed authentications (they do not spend the address's failure budget).
#[tokio::test]
async fn preflights_are_limited_per_address_not_charged_as_failures() {
    let gw = Gateway::start_with(|c| {
        c.limits.anonymous = tollgate::meta::Rates { read_requests: 5, ..tollgate::meta::Rates::default() };
        c.limits.unauthenticated_failures = 3;
    })
    .await;
    let b = gw.bucket("cors-limits").await;
    let path = format!("/{b}/k");
    // Refused preflights (no rules), quickly: more than the failure budget of 3 pass as
    // 403s, until the rate of 5 a second answers SlowDown.
    let mut refused_at = None;
    for i in 0..40 {
        let r = preflight(&gw, &path, "https://app.example.com", "PUT", None).await;
        if r.status == 503 {
            assert!(r.text().contains("<Code>SlowDown</Code>"), "{}", r.text());
            refused_at = Some(i);
            break;
        }
        assert_eq!(r.status, 403, "preflight {i}: {}", r.text());
    }
    let i = refused_at.expect("preflights are throttled within 40 quick ones");
    assert!(i >= 5, "the burst of 5 is allowed (refused at preflight {i})");
    // A signed request of the same address is not blocked: the refusals spent no failure budget.
    let url = format!("{}{path}", gw.endpoint());
    let r = raw(gw.addr, "PUT", &path, &sign("PUT", &url, &[]), b"x", None).await;
    assert_eq!(r.status, 200, "{}", r.text());
}

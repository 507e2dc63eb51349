use crate::common::*;

use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;

#[tokio::test]
async fn wrong_secrets_and_unknown_keys_are_refused() {
    let gw = Gateway::start().await;
    gw.bucket("authz").await;
    let e = gw.client_with(ACCESS_KEY, "wrong-secret-0000000000").list_buckets().send().await.unwrap_err();
    assert_eq!(status(&e), 403);
    assert_eq!(code(e.as_service_error().unwrap()), "SignatureDoesNotMatch");
    let e = gw.client_with("TGUNKNOWNKEY00000000", SECRET_KEY).list_buckets().send().await.unwrap_err();
    assert_eq!(status(&e), 403);
    assert_eq!(code(e.as_service_error().unwrap()), "InvalidAccessKeyId");
    let r = raw(gw.addr, "GET", "/authz", &[], b"", None).await;
    assert_eq!(r.status, 403, "anonymous requests are denied");
    assert!(r.text().contains("AccessDenied"));
}

fn path_and_query(uri: &str) -> String {
    let u: http::Uri = uri.parse().unwrap();
    u.path_and_query().unwrap().to_string()
}

#[tokio::test]
async fn presigned_get_and_put_work_and_expire() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("presign").await;

    let put = c.put_object().bucket(&b).key("up").presigned(PresigningConfig::expires_in(Duration::from_secs(300)).unwrap()).await.unwrap();
    let headers: Vec<(String, String)> = put.headers().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
    let r = raw(gw.addr, "PUT", &path_and_query(put.uri()), &headers, b"presigned body", None).await;
    assert_eq!(r.status, 200, "{}", r.text());

    let get = c.get_object().bucket(&b).key("up").presigned(PresigningConfig::expires_in(Duration::from_secs(300)).unwrap()).await.unwrap();
    let r = raw(gw.addr, "GET", &path_and_query(get.uri()), &[], b"", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"presigned body");

    // Tampering with the signed URL breaks it.
    let tampered = path_and_query(get.uri()).replace("/up?", "/other?");
    let r = raw(gw.addr, "GET", &tampered, &[], b"", None).await;
    assert_eq!(r.status, 403);

    let short = c.get_object().bucket(&b).key("up").presigned(PresigningConfig::expires_in(Duration::from_secs(1)).unwrap()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let r = raw(gw.addr, "GET", &path_and_query(short.uri()), &[], b"", None).await;
    assert_eq!(r.status, 403, "expired: {}", r.text());
    assert!(r.text().contains("AccessDenied") || r.text().contains("Expired"), "{}", r.text());
}

#[tokio::test]
async fn root_credentials_are_generated_once_with_mode_0600() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let cfg = tollgate::config::RootConfig::default();
    let (k1, s1, generated) = tollgate::auth::root_credentials(&cfg, dir.path()).unwrap();
    assert!(generated);
    let mode = std::fs::metadata(dir.path().join("root-credentials")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let (k2, s2, again) = tollgate::auth::root_credentials(&cfg, dir.path()).unwrap();
    assert!(!again);
    assert_eq!((k1, s1), (k2, s2));
}

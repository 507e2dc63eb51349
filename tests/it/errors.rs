//! Error answers as S3 gives them: every error document carries `RequestId` (the
//! `x-amz-request-id` header), `HostId` (the `x-amz-id-2` header) and, for errors about a
//! resource, `Resource`; a bucket that does not exist is `404 NoSuchBucket` for anyone;
//! `x-amz-expected-bucket-owner` is checked.

use crate::common::*;
use crate::tenancy::user;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::operation::{RequestId, RequestIdExt};
use aws_sdk_s3::presigning::PresigningConfig;
use std::time::Duration;

/// The text of element `name` in an XML document (the first one).
fn element(body: &str, name: &str) -> Option<String> {
    let (open, close) = (format!("<{name}>"), format!("</{name}>"));
    let start = body.find(&open)? + open.len();
    let end = body[start..].find(&close)? + start;
    Some(body[start..end].to_owned())
}

fn body_of<E>(e: &SdkError<E, HttpResponse>) -> String {
    String::from_utf8_lossy(e.raw_response().expect("a response").body().bytes().unwrap_or_default()).into_owned()
}

fn header_of<E>(e: &SdkError<E, HttpResponse>, name: &str) -> Option<String> {
    e.raw_response()?.headers().get(name).map(str::to_owned)
}

/// Checks an error document: its `RequestId` is the `x-amz-request-id` header (and what
/// the SDK reports), its `HostId` the `x-amz-id-2` header; returns (HostId, Resource).
fn ids<E>(e: &SdkError<E, HttpResponse>) -> (String, Option<String>)
where
    E: RequestId + RequestIdExt,
    SdkError<E, HttpResponse>: RequestId + RequestIdExt,
{
    let body = body_of(e);
    let request_id = header_of(e, "x-amz-request-id").expect("x-amz-request-id");
    assert_eq!(element(&body, "RequestId").as_deref(), Some(request_id.as_str()), "{body}");
    assert_eq!(e.request_id(), Some(request_id.as_str()));
    let host_id = element(&body, "HostId").unwrap_or_else(|| panic!("no HostId in {body}"));
    assert!(!host_id.is_empty());
    assert_eq!(header_of(e, "x-amz-id-2").as_deref(), Some(host_id.as_str()), "{body}");
    assert_eq!(e.extended_request_id(), Some(host_id.as_str()));
    (host_id, element(&body, "Resource"))
}

/// Fails before the fix: s3s writes Code and Message only (no RequestId, HostId or
/// Resource), and no response carried `x-amz-id-2`.
#[tokio::test]
async fn error_documents_carry_request_id_host_id_and_resource() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("errs").await;

    let e = c.get_object().bucket(&b).key("no/such-key").send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "NoSuchKey");
    let (host_id, resource) = ids(&e);
    assert_eq!(resource.as_deref(), Some("/errs/no/such-key"));

    let e = c.list_objects_v2().bucket("no-such-bucket").send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "NoSuchBucket");
    let (again, resource) = ids(&e);
    assert_eq!(again, host_id, "HostId is stable");
    assert_eq!(resource.as_deref(), Some("/no-such-bucket"));

    // Refused by another tenant: AccessDenied names the resource too.
    let (ak, sk) = user(&gw, "other", "w", "writer").await;
    let e = gw.client_with(&ak, &sk).get_object().bucket(&b).key("k").send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "AccessDenied");
    assert_eq!(ids(&e).1.as_deref(), Some("/errs/k"));

    // An error of s3s itself (the signature check) gets the ids as well.
    let e = gw.client_with(ACCESS_KEY, "not-the-secret").list_objects_v2().bucket(&b).send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "SignatureDoesNotMatch");
    assert_eq!(ids(&e).0, host_id);

    // Request ids differ per request.
    let e1 = c.get_object().bucket(&b).key("x").send().await.unwrap_err();
    let e2 = c.get_object().bucket(&b).key("x").send().await.unwrap_err();
    assert_ne!(e1.request_id(), e2.request_id());
}

/// A HEAD error has no body (the SDK reads the status), but both ids are in its headers.
/// Fails before the fix: no `x-amz-id-2`.
#[tokio::test]
async fn head_errors_carry_both_ids_in_headers_and_no_body() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("head-errs").await;
    let e = c.head_object().bucket(&b).key("missing").send().await.unwrap_err();
    assert_eq!(status(&e), 404);
    assert!(body_of(&e).is_empty(), "{}", body_of(&e));
    let request_id = header_of(&e, "x-amz-request-id").expect("x-amz-request-id");
    assert_eq!(e.request_id(), Some(request_id.as_str()));
    let host_id = header_of(&e, "x-amz-id-2").expect("x-amz-id-2");
    assert_eq!(e.extended_request_id(), Some(host_id.as_str()));

    let e = c.head_bucket().bucket("no-such-bucket").send().await.unwrap_err();
    assert_eq!(status(&e), 404);
    assert_eq!(header_of(&e, "x-amz-id-2").as_deref(), Some(host_id.as_str()));

    // The GET of the same object says the same HostId in its body.
    let e = c.get_object().bucket(&b).key("missing").send().await.unwrap_err();
    assert_eq!(ids(&e).0, host_id);
}

fn path_and_query(uri: &str) -> String {
    let u: http::Uri = uri.parse().unwrap();
    u.path_and_query().unwrap().to_string()
}

/// A bucket that does not exist is 404 NoSuchBucket whoever asks; 403 is only for a
/// bucket that exists and is not the caller's. Fails before the fix: the access check
/// refused the anonymous and the under-privileged callers first (403).
#[tokio::test]
async fn a_missing_bucket_is_404_for_anyone() {
    let gw = Gateway::start().await;
    let b = gw.bucket("exists-private").await;
    let (rk, rs) = user(&gw, "t", "reader", "reader").await;
    let reader = gw.client_with(&rk, &rs);

    // Anonymous.
    for (method, path) in [("GET", "/no-such-bucket/k"), ("GET", "/no-such-bucket"), ("HEAD", "/no-such-bucket"), ("DELETE", "/no-such-bucket")] {
        let r = raw(gw.addr, method, path, &[], b"", None).await;
        assert_eq!(r.status, 404, "anonymous {method} {path}: {}", r.text());
        if method != "HEAD" {
            assert_eq!(element(&r.text(), "Code").as_deref(), Some("NoSuchBucket"), "{}", r.text());
        }
    }
    let r = raw(gw.addr, "PUT", "/no-such-bucket/k", &[], b"anonymous bytes", None).await;
    assert_eq!((r.status, element(&r.text(), "Code")), (404, Some("NoSuchBucket".to_owned())), "{}", r.text());

    // Signed by a reader, for operations a reader may not do.
    let e = reader.delete_bucket().bucket("no-such-bucket").send().await.unwrap_err();
    assert_eq!((status(&e), code(e.as_service_error().unwrap())), (404, "NoSuchBucket".to_owned()));
    let e = reader.put_object().bucket("no-such-bucket").key("k").body(b"x".to_vec().into()).send().await.unwrap_err();
    assert_eq!((status(&e), code(e.as_service_error().unwrap())), (404, "NoSuchBucket".to_owned()));

    // Presigned by a reader.
    let put = reader.put_object().bucket("no-such-bucket").key("k").presigned(PresigningConfig::expires_in(Duration::from_secs(300)).unwrap()).await.unwrap();
    let headers: Vec<(String, String)> = put.headers().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
    let r = raw(gw.addr, "PUT", &path_and_query(put.uri()), &headers, b"presigned", None).await;
    assert_eq!((r.status, element(&r.text(), "Code")), (404, Some("NoSuchBucket".to_owned())), "{}", r.text());

    // A bucket that exists and is not the caller's stays 403.
    let r = raw(gw.addr, "GET", &format!("/{b}/k"), &[], b"", None).await;
    assert_eq!(r.status, 403, "{}", r.text());
    let e = reader.get_object().bucket(&b).key("k").send().await.unwrap_err();
    assert_eq!((status(&e), code(e.as_service_error().unwrap())), (403, "AccessDenied".to_owned()));
    // Nothing was created by the refused writes.
    let names: Vec<String> = gw.client().list_buckets().send().await.unwrap().buckets().iter().filter_map(|b| b.name().map(str::to_owned)).collect();
    assert_eq!(names, [b]);
}

/// `x-amz-expected-bucket-owner` (and `x-amz-source-expected-bucket-owner` of a copy):
/// present and not the bucket owner's canonical id (the `Owner` ID of ListBuckets and
/// GetBucketAcl) is 403 AccessDenied. Fails before the fix: the header was ignored.
#[tokio::test]
async fn a_wrong_expected_bucket_owner_is_access_denied() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("owned").await;
    c.put_object().bucket(&b).key("k").body(b"x".to_vec().into()).send().await.unwrap();
    let owner = c.get_bucket_acl().bucket(&b).send().await.unwrap().owner().unwrap().id().unwrap().to_owned();
    assert_eq!(c.list_buckets().send().await.unwrap().owner().unwrap().id(), Some(owner.as_str()));
    let wrong = "111122223333";

    c.get_object().bucket(&b).key("k").expected_bucket_owner(&owner).send().await.unwrap();
    c.head_bucket().bucket(&b).expected_bucket_owner(&owner).send().await.unwrap();

    let e = c.get_object().bucket(&b).key("k").expected_bucket_owner(wrong).send().await.unwrap_err();
    assert_eq!((status(&e), code(e.as_service_error().unwrap())), (403, "AccessDenied".to_owned()));
    let e = c.head_bucket().bucket(&b).expected_bucket_owner(wrong).send().await.unwrap_err();
    assert_eq!(status(&e), 403);
    let e = c.put_object().bucket(&b).key("k2").body(b"y".to_vec().into()).expected_bucket_owner(wrong).send().await.unwrap_err();
    assert_eq!((status(&e), code(e.as_service_error().unwrap())), (403, "AccessDenied".to_owned()));
    assert_eq!(status(&c.head_object().bucket(&b).key("k2").send().await.unwrap_err()), 404, "nothing stored");
    let e = c.list_objects_v2().bucket(&b).expected_bucket_owner(wrong).send().await.unwrap_err();
    assert_eq!(status(&e), 403);

    // A copy: the source's owner is checked too.
    let e = c.copy_object().bucket(&b).key("copy").copy_source(format!("{b}/k")).expected_source_bucket_owner(wrong).send().await.unwrap_err();
    assert_eq!((status(&e), code(e.as_service_error().unwrap())), (403, "AccessDenied".to_owned()));
    c.copy_object()
        .bucket(&b)
        .key("copy")
        .copy_source(format!("{b}/k"))
        .expected_source_bucket_owner(&owner)
        .expected_bucket_owner(&owner)
        .send()
        .await
        .unwrap();

    // A missing bucket is still 404, whatever owner is expected.
    let e = c.get_object().bucket("no-such-bucket").key("k").expected_bucket_owner(wrong).send().await.unwrap_err();
    assert_eq!(status(&e), 404);
}

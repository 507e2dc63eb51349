//! Error answers as S3 gives them: every error document carries `RequestId` (the
//! `x-amz-request-id` header), `HostId` (the `x-amz-id-2` header) and, for errors about a
//! resource, `Resource`; a bucket that does not exist is `404 NoSuchBucket` for anyone;
//! `x-amz-expected-bucket-owner` is checked.

use crate::common::*;
use crate::tenancy::user;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::operation::{RequestId, RequestIdExt};

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

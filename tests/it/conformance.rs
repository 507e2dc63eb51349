//! Details real clients and SDK retries hit, answered as AWS S3 answers them.

use crate::common::*;

use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use tokio::io::AsyncWriteExt;

fn path_and_query(uri: &str) -> String {
    let u: http::Uri = uri.parse().unwrap();
    u.path_and_query().unwrap().to_string()
}

/// Sends `body` with `Transfer-Encoding: chunked` (no Content-Length), in chunks of `chunk`.
async fn send_chunked(gw: &Gateway, method: &str, path: &str, headers: &[(String, String)], body: &[u8], chunk: usize) -> RawResponse {
    let mut s = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nhost: {}\r\nconnection: close\r\ntransfer-encoding: chunked\r\n", gw.addr);
    for (k, v) in headers {
        if !k.eq_ignore_ascii_case("host") {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).await.unwrap();
    for part in body.chunks(chunk) {
        s.write_all(format!("{:x}\r\n", part.len()).as_bytes()).await.unwrap();
        s.write_all(part).await.unwrap();
        s.write_all(b"\r\n").await.unwrap();
    }
    s.write_all(b"0\r\n\r\n").await.unwrap();
    read_response(&mut s).await
}

#[tokio::test]
async fn a_presigned_put_with_http_chunked_body_is_stored() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("chunked-te").await;
    let data = data(300_000, 7);
    let put = c.put_object().bucket(&b).key("te").presigned(PresigningConfig::expires_in(Duration::from_secs(300)).unwrap()).await.unwrap();
    let headers: Vec<(String, String)> = put.headers().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
    let r = send_chunked(&gw, "PUT", &path_and_query(put.uri()), &headers, &data, 10_000).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let got = c.get_object().bucket(&b).key("te").send().await.unwrap();
    assert_eq!(got.e_tag(), Some(format!("\"{}\"", md5_hex(&data)).as_str()));
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), data.as_slice());
}

#[tokio::test]
async fn non_ascii_metadata_and_content_encoding_come_back_as_sent() {
    let gw = Gateway::start().await;
    let b = gw.bucket("meta-utf8").await;
    let url = format!("{}/{b}/m", gw.endpoint());
    let value = "h\u{e9}llo w\u{f6}rld \u{65e5}\u{672c}";
    let headers = sign("PUT", &url, &[("x-amz-meta-name", value), ("content-encoding", "gzip")]);
    let r = raw(gw.addr, "PUT", &format!("/{b}/m"), &headers, b"data", None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = raw(gw.addr, "HEAD", &format!("/{b}/m"), &sign("HEAD", &url, &[]), b"", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-amz-meta-name"), Some(value), "{:?}", r.headers);
    assert_eq!(r.header("content-encoding"), Some("gzip"));
}

#[tokio::test]
async fn aws_chunked_is_not_stored_as_a_content_encoding() {
    use crate::security::{STREAMING_TRAILER, crc32_b64};
    let gw = Gateway::start().await;
    let b = gw.bucket("enc").await;
    let data = b"compressed, say".to_vec();
    let mut body = format!("{:x}\r\n", data.len()).into_bytes();
    body.extend_from_slice(&data);
    body.extend_from_slice(format!("\r\n0\r\nx-amz-checksum-crc32:{}\r\n\r\n", crc32_b64(&data)).as_bytes());
    let url = format!("{}/{b}/gz", gw.endpoint());
    let len = data.len().to_string();
    let headers = sign_with(
        "PUT",
        &url,
        &[("content-encoding", "gzip, aws-chunked"), ("x-amz-decoded-content-length", &len), ("x-amz-trailer", "x-amz-checksum-crc32")],
        STREAMING_TRAILER,
    );
    let r = raw(gw.addr, "PUT", &format!("/{b}/gz"), &headers, &body, None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let head = gw.client().head_object().bucket(&b).key("gz").send().await.unwrap();
    assert_eq!(head.content_encoding(), Some("gzip"));
}

#[tokio::test]
async fn tags_round_trip_are_counted_and_limited() {
    use aws_sdk_s3::types::{Tag, Tagging};
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("tags").await;
    c.put_object().bucket(&b).key("t").tagging("a=&b%20c=d%2Be%3Df%2F%40").body(b"x".to_vec().into()).send().await.unwrap();
    let tags = c.get_object_tagging().bucket(&b).key("t").send().await.unwrap();
    let mut got: Vec<(String, String)> = tags.tag_set().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect();
    got.sort();
    assert_eq!(got, [("a".to_owned(), String::new()), ("b c".to_owned(), "d+e=f/@".to_owned())]);
    assert_eq!(c.get_object().bucket(&b).key("t").send().await.unwrap().tag_count(), Some(2));
    let url = format!("{}/{b}/t", gw.endpoint());
    let head = raw(gw.addr, "HEAD", &format!("/{b}/t"), &sign("HEAD", &url, &[]), b"", None).await;
    assert_eq!(head.header("x-amz-tagging-count"), Some("2"));

    let tag = |k: String, v: String| Tag::builder().key(k).value(v).build().unwrap();
    let too_many = Tagging::builder().set_tag_set(Some((0..11).map(|i| tag(format!("k{i}"), "v".into())).collect())).build().unwrap();
    let long_key = Tagging::builder().tag_set(tag("k".repeat(129), "v".into())).build().unwrap();
    let long_value = Tagging::builder().tag_set(tag("k".into(), "v".repeat(257))).build().unwrap();
    for (what, tagging) in [("11 tags", too_many), ("a 129-character key", long_key), ("a 257-character value", long_value)] {
        let e = c.put_object_tagging().bucket(&b).key("t").tagging(tagging).send().await.unwrap_err();
        assert_eq!((status(&e), code(e.as_service_error().unwrap())), (400, "InvalidTag".to_owned()), "{what}");
    }
    let e = c.put_object().bucket(&b).key("u").tagging("k=a%26b").body(b"x".to_vec().into()).send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "InvalidTag", "& is not a tag character");
    let header: Vec<String> = (0..11).map(|i| format!("k{i}=v")).collect();
    let e = c.put_object().bucket(&b).key("u").tagging(header.join("&")).body(b"x".to_vec().into()).send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "InvalidTag");
    let fine = Tagging::builder().tag_set(tag("k".repeat(128), "v".repeat(256))).build().unwrap();
    c.put_object_tagging().bucket(&b).key("t").tagging(fine).send().await.expect("the limits themselves are allowed");
}

#[tokio::test]
async fn part_numbers_and_copy_ranges_past_the_object_are_refused_as_s3_does() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("parts").await;
    c.put_object().bucket(&b).key("plain").body(b"0123456789".to_vec().into()).send().await.unwrap();
    let e = c.get_object().bucket(&b).key("plain").part_number(2).send().await.unwrap_err();
    assert_eq!((status(&e), code(e.as_service_error().unwrap())), (400, "InvalidPartNumber".to_owned()));

    let up = c.create_multipart_upload().bucket(&b).key("dst").send().await.unwrap();
    let e = c
        .upload_part_copy()
        .bucket(&b)
        .key("dst")
        .upload_id(up.upload_id().unwrap())
        .part_number(1)
        .copy_source(format!("{b}/plain"))
        .copy_source_range("bytes=5-10")
        .send()
        .await
        .unwrap_err();
    assert_eq!((status(&e), code(e.as_service_error().unwrap())), (416, "InvalidRange".to_owned()));

    // Ranges on an empty object are never satisfiable.
    c.put_object().bucket(&b).key("empty").body(Vec::new().into()).send().await.unwrap();
    let e = c.get_object().bucket(&b).key("empty").range("bytes=0-0").send().await.unwrap_err();
    assert_eq!(status(&e), 416);
    let whole = c.get_object().bucket(&b).key("empty").send().await.unwrap();
    assert_eq!(whole.content_length(), Some(0));
}

#[tokio::test]
async fn response_overrides_are_refused_to_anonymous_callers() {
    let gw = Gateway::start().await;
    let b = gw.bucket("overrides").await;
    gw.client().put_object().bucket(&b).key("k").body(b"x".to_vec().into()).send().await.unwrap();
    tollgate::admin::client::call(&crate::tenancy::root_conn(&gw), "PUT", &format!("buckets/{b}"), Some(serde_json::json!({"visibility": "public-read"})))
        .await
        .unwrap();
    assert_eq!(raw(gw.addr, "GET", &format!("/{b}/k"), &[], b"", None).await.status, 200);
    let r = raw(gw.addr, "GET", &format!("/{b}/k?response-content-type=text/html"), &[], b"", None).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("InvalidRequest"), "{}", r.text());
    let signed = gw.client().get_object().bucket(&b).key("k").response_content_type("text/html").send().await.unwrap();
    assert_eq!(signed.content_type(), Some("text/html"), "signed callers may override");
}

#[tokio::test]
async fn a_checksum_in_a_presigned_url_is_checked_against_the_body() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("presigned-sum").await;
    let body = b"the body the signer meant".to_vec();
    let sum = crate::security::crc32_b64(&body);
    let put = c.put_object().bucket(&b).key("k").checksum_crc32(&sum).presigned(PresigningConfig::expires_in(Duration::from_secs(300)).unwrap()).await.unwrap();
    let uri = path_and_query(put.uri());
    let headers: Vec<(String, String)> = put.headers().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
    let (query_carries_it, headers_carry_it) =
        (uri.to_ascii_lowercase().contains("x-amz-checksum-crc32="), headers.iter().any(|(k, _)| k == "x-amz-checksum-crc32"));
    assert!(query_carries_it || headers_carry_it, "{uri} {headers:?}");
    // Move it into the query, as the JavaScript SDK presigns it, if this SDK sent a header.
    let (uri, headers) = if query_carries_it {
        (uri, headers)
    } else {
        let signed = presign_with_query_checksum(&gw, &b, "k", &sum);
        (signed, Vec::new())
    };
    let r = raw(gw.addr, "PUT", &uri, &headers, b"other bytes, same length!", None).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("BadDigest"), "{}", r.text());
    assert_eq!(status(&c.head_object().bucket(&b).key("k").send().await.unwrap_err()), 404, "nothing stored");
    let r = raw(gw.addr, "PUT", &uri, &headers, &body, None).await;
    assert_eq!(r.status, 200, "{}", r.text());
}

/// A presigned PUT URL whose query carries `x-amz-checksum-crc32` (signed with it).
fn presign_with_query_checksum(gw: &Gateway, bucket: &str, key: &str, sum: &str) -> String {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign};
    let identity = aws_credential_types::Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "test").into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(Duration::from_secs(300));
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("s3")
        .time(std::time::SystemTime::now())
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let url = format!("{}/{bucket}/{key}?x-amz-checksum-crc32={}", gw.endpoint(), sum.replace('+', "%2B").replace('/', "%2F").replace('=', "%3D"));
    let signable = SignableRequest::new("PUT", &url, std::iter::empty(), SignableBody::UnsignedPayload).unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut req = http::Request::builder().method("PUT").uri(&url).body(()).unwrap();
    instructions.apply_to_request_http1x(&mut req);
    path_and_query(&req.uri().to_string())
}

#[tokio::test]
async fn torrents_are_answered_as_for_an_object_without_one() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("torrents").await;
    c.put_object().bucket(&b).key("k").body(b"x".to_vec().into()).send().await.unwrap();
    let e = c.get_object_torrent().bucket(&b).key("k").send().await.unwrap_err();
    assert_eq!((status(&e), code(e.as_service_error().unwrap())), (404, "NoSuchKey".to_owned()));
    let e = c.get_object_torrent().bucket("no-such-bucket-here").key("k").send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "NoSuchBucket");
}

#[tokio::test]
async fn a_copy_answers_with_the_checksums_of_its_source() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("copy-sums").await;
    let put = c
        .put_object()
        .bucket(&b)
        .key("src")
        .checksum_algorithm(aws_sdk_s3::types::ChecksumAlgorithm::Crc64Nvme)
        .body(b"checksummed".to_vec().into())
        .send()
        .await
        .unwrap();
    let sum = put.checksum_crc64_nvme().expect("the PUT's CRC64NVME").to_owned();
    let copied = c.copy_object().bucket(&b).key("dst").copy_source(format!("{b}/src")).send().await.unwrap();
    assert_eq!(copied.copy_object_result().and_then(|r| r.checksum_crc64_nvme()), Some(sum.as_str()));
}

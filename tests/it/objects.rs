use crate::common::*;

use aws_sdk_s3::primitives::{ByteStream, DateTime};
use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumMode, Delete, MetadataDirective, ObjectIdentifier, Tag, Tagging};

#[tokio::test]
async fn put_get_head_keep_attributes_and_metadata() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("objs").await;
    let body = data(100_000, 1);
    let expires = DateTime::from_secs(2_000_000_000);
    let put = c
        .put_object()
        .bucket(&b)
        .key("dir/file.bin")
        .body(body.clone().into())
        .content_type("application/x-test")
        .content_encoding("identity")
        .content_disposition("attachment; filename=\"f.bin\"")
        .cache_control("max-age=60")
        .content_language("en")
        .expires(expires)
        .metadata("color", "blue")
        .metadata("Shape", "round")
        .send()
        .await
        .unwrap();
    assert_eq!(put.e_tag().unwrap(), format!("\"{}\"", md5_hex(&body)));

    let get = c.get_object().bucket(&b).key("dir/file.bin").send().await.unwrap();
    assert_eq!(get.content_type(), Some("application/x-test"));
    assert_eq!(get.content_encoding(), Some("identity"));
    assert_eq!(get.content_disposition(), Some("attachment; filename=\"f.bin\""));
    assert_eq!(get.cache_control(), Some("max-age=60"));
    assert_eq!(get.content_language(), Some("en"));
    assert_eq!(get.expires_string(), Some("Wed, 18 May 2033 03:33:20 GMT"));
    assert_eq!(get.metadata().unwrap().get("color").map(String::as_str), Some("blue"));
    assert_eq!(get.metadata().unwrap().get("shape").map(String::as_str), Some("round"));
    assert_eq!(get.content_length(), Some(100_000));
    assert_eq!(get.body.collect().await.unwrap().into_bytes().as_ref(), body.as_slice());

    let head = c.head_object().bucket(&b).key("dir/file.bin").send().await.unwrap();
    assert_eq!(head.content_length(), Some(100_000));
    assert_eq!(head.e_tag(), put.e_tag());

    let get = c
        .get_object()
        .bucket(&b)
        .key("dir/file.bin")
        .response_content_type("text/plain")
        .response_cache_control("no-cache")
        .response_content_disposition("inline")
        .send()
        .await
        .unwrap();
    assert_eq!(get.content_type(), Some("text/plain"));
    assert_eq!(get.cache_control(), Some("no-cache"));
    assert_eq!(get.content_disposition(), Some("inline"));

    let e = c.get_object().bucket(&b).key("nope").send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "NoSuchKey");
    let e = c.get_object().bucket("no-such-bucket").key("k").send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "NoSuchBucket");
    let e = c.head_object().bucket(&b).key("nope").send().await.unwrap_err();
    assert_eq!(status(&e), 404);
}

#[tokio::test]
async fn empty_and_large_streamed_objects_round_trip() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("sizes").await;
    c.put_object().bucket(&b).key("empty").body(Vec::new().into()).send().await.unwrap();
    let g = c.get_object().bucket(&b).key("empty").send().await.unwrap();
    assert_eq!(g.content_length(), Some(0));
    assert!(g.body.collect().await.unwrap().into_bytes().is_empty());

    let big = data(9 << 20, 7);
    c.put_object().bucket(&b).key("big").body(big.clone().into()).send().await.unwrap();
    let got = c.get_object().bucket(&b).key("big").send().await.unwrap().body.collect().await.unwrap().into_bytes();
    assert_eq!(got.len(), big.len());
    assert!(got.as_ref() == big.as_slice());
}

#[tokio::test]
async fn ranges_are_served_with_206_and_invalid_ones_with_416() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("ranges").await;
    let body = data(1000, 2);
    c.put_object().bucket(&b).key("r").body(body.clone().into()).send().await.unwrap();
    for (range, from, to) in [("bytes=0-9", 0, 10), ("bytes=990-", 990, 1000), ("bytes=-5", 995, 1000), ("bytes=500-5000", 500, 1000)] {
        let g = c.get_object().bucket(&b).key("r").range(range).send().await.unwrap();
        assert_eq!(g.content_range(), Some(format!("bytes {}-{}/1000", from, to - 1).as_str()), "{range}");
        assert_eq!(g.body.collect().await.unwrap().into_bytes().as_ref(), &body[from..to]);
    }
    let e = c.get_object().bucket(&b).key("r").range("bytes=1000-").send().await.unwrap_err();
    assert_eq!(status(&e), 416);
    assert_eq!(code(e.as_service_error().unwrap()), "InvalidRange");
}

#[tokio::test]
async fn read_conditionals_answer_304_and_412() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("conds").await;
    let put = c.put_object().bucket(&b).key("k").body(b"v1".to_vec().into()).send().await.unwrap();
    let etag = put.e_tag().unwrap().to_owned();

    let g = c.get_object().bucket(&b).key("k").if_match(&etag).send().await.unwrap();
    assert_eq!(g.e_tag(), Some(etag.as_str()));
    let e = c.get_object().bucket(&b).key("k").if_match("\"0000\"").send().await.unwrap_err();
    assert_eq!(status(&e), 412);
    let e = c.get_object().bucket(&b).key("k").if_none_match(&etag).send().await.unwrap_err();
    assert_eq!(status(&e), 304);
    c.get_object().bucket(&b).key("k").if_none_match("\"0000\"").send().await.unwrap();

    let past = DateTime::from_secs(1_000_000_000);
    let future = DateTime::from_secs(4_000_000_000);
    let e = c.get_object().bucket(&b).key("k").if_modified_since(future).send().await.unwrap_err();
    assert_eq!(status(&e), 304);
    c.get_object().bucket(&b).key("k").if_modified_since(past).send().await.unwrap();
    let e = c.get_object().bucket(&b).key("k").if_unmodified_since(past).send().await.unwrap_err();
    assert_eq!(status(&e), 412);
    let e = c.head_object().bucket(&b).key("k").if_none_match(&etag).send().await.unwrap_err();
    assert_eq!(status(&e), 304);
}

#[tokio::test]
async fn digests_are_verified_and_nothing_is_stored_on_mismatch() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("digests").await;

    // Content-MD5 of "hello" is XUFAKrxLKna5cZ2REBfFkg==.
    let e = c.put_object().bucket(&b).key("md5").body(b"hellO".to_vec().into()).content_md5("XUFAKrxLKna5cZ2REBfFkg==").send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "BadDigest");
    let e = c.put_object().bucket(&b).key("md5").body(b"hello".to_vec().into()).content_md5("not-base64!").send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "InvalidDigest");
    c.put_object().bucket(&b).key("md5").body(b"hello".to_vec().into()).content_md5("XUFAKrxLKna5cZ2REBfFkg==").send().await.unwrap();

    let e = c.put_object().bucket(&b).key("crc").body(b"hello".to_vec().into()).checksum_crc32("AAAAAA==").send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "BadDigest");
    let e = c.head_object().bucket(&b).key("crc").send().await.unwrap_err();
    assert_eq!(status(&e), 404, "a refused body must leave nothing behind");

    // The SDK computes the checksums itself (sent in an aws-chunked trailer).
    for alg in [ChecksumAlgorithm::Crc32, ChecksumAlgorithm::Crc32C, ChecksumAlgorithm::Sha1, ChecksumAlgorithm::Sha256, ChecksumAlgorithm::Crc64Nvme] {
        let key = format!("alg-{}", alg.as_str());
        c.put_object().bucket(&b).key(&key).body(b"hello world".to_vec().into()).checksum_algorithm(alg.clone()).send().await.unwrap();
        let h = c.head_object().bucket(&b).key(&key).checksum_mode(ChecksumMode::Enabled).send().await.unwrap();
        let got = match alg {
            ChecksumAlgorithm::Crc32 => h.checksum_crc32(),
            ChecksumAlgorithm::Crc32C => h.checksum_crc32_c(),
            ChecksumAlgorithm::Sha1 => h.checksum_sha1(),
            ChecksumAlgorithm::Sha256 => h.checksum_sha256(),
            _ => h.checksum_crc64_nvme(),
        };
        assert!(got.is_some(), "{key} checksum returned");
        // The SDK validates the returned checksum against the body on GET.
        let g = c.get_object().bucket(&b).key(&key).checksum_mode(ChecksumMode::Enabled).send().await.unwrap();
        assert_eq!(g.body.collect().await.unwrap().into_bytes().as_ref(), b"hello world");
    }
    let h = c.head_object().bucket(&b).key("alg-CRC32").send().await.unwrap();
    assert!(h.checksum_crc32().is_none(), "checksums only when asked for");
}

#[tokio::test]
async fn deletes_are_idempotent_and_batch_deletes_report_per_key() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("dels").await;
    for k in ["a", "b", "c"] {
        c.put_object().bucket(&b).key(k).body(b"x".to_vec().into()).send().await.unwrap();
    }
    c.delete_object().bucket(&b).key("a").send().await.unwrap();
    c.delete_object().bucket(&b).key("a").send().await.unwrap();

    let ids = |keys: &[&str], version: Option<&str>| {
        keys.iter().map(|k| ObjectIdentifier::builder().key(*k).set_version_id(version.map(str::to_owned)).build().unwrap()).collect::<Vec<_>>()
    };
    let out =
        c.delete_objects().bucket(&b).delete(Delete::builder().set_objects(Some(ids(&["b", "missing"], Some("null")))).build().unwrap()).send().await.unwrap();
    assert_eq!(out.deleted().len(), 2);
    assert!(out.errors().is_empty());
    let out = c
        .delete_objects()
        .bucket(&b)
        .delete(Delete::builder().set_objects(Some(ids(&["c"], Some("bogus-version")))).quiet(false).build().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(out.errors().len(), 1);
    assert_eq!(out.errors()[0].key(), Some("c"));
    let out = c.delete_objects().bucket(&b).delete(Delete::builder().set_objects(Some(ids(&["c"], None))).quiet(true).build().unwrap()).send().await.unwrap();
    assert!(out.deleted().is_empty(), "quiet mode reports only errors");
    let listed = c.list_objects_v2().bucket(&b).send().await.unwrap();
    assert_eq!(listed.key_count(), Some(0));
}

#[tokio::test]
async fn copies_follow_directives_and_source_conditions() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("copy-src").await;
    let d = gw.bucket("copy-dst").await;
    let put = c
        .put_object()
        .bucket(&b)
        .key("src")
        .body(b"payload".to_vec().into())
        .content_type("text/x-src")
        .metadata("m", "1")
        .tagging("t=1")
        .send()
        .await
        .unwrap();

    let out = c.copy_object().bucket(&d).key("same-meta").copy_source(format!("{b}/src")).send().await.unwrap();
    assert_eq!(out.copy_object_result().unwrap().e_tag(), put.e_tag());
    let h = c.head_object().bucket(&d).key("same-meta").send().await.unwrap();
    assert_eq!(h.content_type(), Some("text/x-src"));
    assert_eq!(h.metadata().unwrap().get("m").map(String::as_str), Some("1"));
    let tags = c.get_object_tagging().bucket(&d).key("same-meta").send().await.unwrap();
    assert_eq!(tags.tag_set().len(), 1);

    c.copy_object()
        .bucket(&b)
        .key("replaced")
        .copy_source(format!("{b}/src"))
        .metadata_directive(MetadataDirective::Replace)
        .content_type("text/x-new")
        .metadata("n", "2")
        .send()
        .await
        .unwrap();
    let h = c.head_object().bucket(&b).key("replaced").send().await.unwrap();
    assert_eq!(h.content_type(), Some("text/x-new"));
    assert!(h.metadata().unwrap().get("m").is_none());
    let body = c.get_object().bucket(&b).key("replaced").send().await.unwrap().body.collect().await.unwrap().into_bytes();
    assert_eq!(body.as_ref(), b"payload");

    // Deleting the source leaves the copy intact.
    c.delete_object().bucket(&b).key("src").send().await.unwrap();
    let body = c.get_object().bucket(&d).key("same-meta").send().await.unwrap().body.collect().await.unwrap().into_bytes();
    assert_eq!(body.as_ref(), b"payload");

    let e = c.copy_object().bucket(&b).key("x").copy_source(format!("{b}/src")).send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "NoSuchKey");
    let e = c.copy_object().bucket(&b).key("x").copy_source(format!("{b}/replaced")).copy_source_if_match("\"nope\"").send().await.unwrap_err();
    assert_eq!(status(&e), 412);
    let e = c.copy_object().bucket(&b).key("x").copy_source(format!("{b}/replaced")).copy_source_if_none_match(h.e_tag().unwrap()).send().await.unwrap_err();
    assert_eq!(status(&e), 412);
    let e = c.copy_object().bucket(&b).key("replaced").copy_source(format!("{b}/replaced")).send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "InvalidRequest");
}

#[tokio::test]
async fn tagging_round_trips() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("tags").await;
    c.put_object().bucket(&b).key("k").body(b"x".to_vec().into()).tagging("a=1&b=two%20words").send().await.unwrap();
    let t = c.get_object_tagging().bucket(&b).key("k").send().await.unwrap();
    let pairs: Vec<(&str, &str)> = t.tag_set().iter().map(|t| (t.key(), t.value())).collect();
    assert_eq!(pairs, [("a", "1"), ("b", "two words")]);
    let g = c.get_object().bucket(&b).key("k").send().await.unwrap();
    assert_eq!(g.tag_count(), Some(2));

    let tagging = Tagging::builder().tag_set(Tag::builder().key("z").value("9").build().unwrap()).build().unwrap();
    c.put_object_tagging().bucket(&b).key("k").tagging(tagging).send().await.unwrap();
    let t = c.get_object_tagging().bucket(&b).key("k").send().await.unwrap();
    assert_eq!(t.tag_set().len(), 1);
    c.delete_object_tagging().bucket(&b).key("k").send().await.unwrap();
    assert!(c.get_object_tagging().bucket(&b).key("k").send().await.unwrap().tag_set().is_empty());

    let e = c.put_object().bucket(&b).key("k2").body(b"x".to_vec().into()).tagging("a=1&a=2").send().await.unwrap_err();
    assert_eq!(status(&e), 400);
    let tagging = Tagging::builder().tag_set(Tag::builder().key("z").value("9").build().unwrap()).build().unwrap();
    let e = c.put_object_tagging().bucket(&b).key("missing").tagging(tagging).send().await.unwrap_err();
    assert_eq!(status(&e), 404);
}

#[tokio::test]
async fn put_body_streams_from_a_file() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("files").await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f");
    let body = data(3 << 20, 3);
    std::fs::write(&path, &body).unwrap();
    c.put_object().bucket(&b).key("f").body(ByteStream::from_path(&path).await.unwrap()).send().await.unwrap();
    let got = c.get_object().bucket(&b).key("f").send().await.unwrap().body.collect().await.unwrap().into_bytes();
    assert!(got.as_ref() == body.as_slice());
}

/// A write asking for DSSE-KMS (two layers) is refused (501) and stores nothing: tollgate
/// does not do it, and never stores in the clear what was asked to be encrypted.
#[tokio::test]
async fn writes_asking_for_dsse_kms_are_refused_not_stored_in_the_clear() {
    use aws_sdk_s3::types::ServerSideEncryption;
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("sse-refused").await;
    let dsse = ServerSideEncryption::AwsKmsDsse;
    let e = c.put_object().bucket(&b).key("k").server_side_encryption(dsse.clone()).body(b"x".to_vec().into()).send().await.unwrap_err();
    assert_eq!(status(&e), 501);
    let e = c.put_object().bucket(&b).key("k").ssekms_key_id("k1").body(b"x".to_vec().into()).send().await.unwrap_err();
    assert_eq!(status(&e), 400, "a KMS key without aws:kms");
    assert!(c.head_object().bucket(&b).key("k").send().await.is_err(), "nothing stored");
    let e = c.create_multipart_upload().bucket(&b).key("m").server_side_encryption(dsse.clone()).send().await.unwrap_err();
    assert_eq!(status(&e), 501);
    c.put_object().bucket(&b).key("src").body(b"x".to_vec().into()).send().await.unwrap();
    let e = c.copy_object().bucket(&b).key("dst").copy_source(format!("{b}/src")).server_side_encryption(dsse).send().await.unwrap_err();
    assert_eq!(status(&e), 501);
    assert!(c.head_object().bucket(&b).key("dst").send().await.is_err());
}

//! Encryption at rest: SSE-S3, SSE-C, bucket default encryption and the gateway-wide
//! setting, through the SDK, with the stored bytes checked to be ciphertext.

use crate::common::*;

use aws_sdk_s3::Client;
use aws_sdk_s3::types::{
    CompletedMultipartUpload, CompletedPart, ObjectAttributes, ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
    ServerSideEncryptionRule,
};

/// An SSE-C key with its base64 and the base64 of its MD5, as the headers carry them.
struct CustomerKey {
    key: String,
    md5: String,
}

fn customer_key(seed: u8) -> CustomerKey {
    let raw = [seed; 32];
    let md5 = hex_simd::decode_to_vec(md5_hex(&raw).as_bytes()).unwrap();
    CustomerKey { key: base64_simd::STANDARD.encode_to_string(raw), md5: base64_simd::STANDARD.encode_to_string(md5) }
}

/// A gateway accepting SSE-C keys from its loopback test clients over plain HTTP.
async fn gateway() -> Gateway {
    Gateway::start_with(|cfg| cfg.encryption.sse_c_plain_http_on_loopback = true).await
}

async fn get(c: &Client, b: &str, k: &str) -> Vec<u8> {
    c.get_object().bucket(b).key(k).send().await.unwrap().body.collect().await.unwrap().into_bytes().to_vec()
}

async fn get_with(c: &Client, b: &str, k: &str, ck: &CustomerKey) -> Vec<u8> {
    let got = c.get_object().bucket(b).key(k).sse_customer_algorithm("AES256").sse_customer_key(&ck.key).sse_customer_key_md5(&ck.md5).send().await;
    got.unwrap().body.collect().await.unwrap().into_bytes().to_vec()
}

/// Every stored copy of `plain` is ciphertext: on the local disk no file holds its first
/// kilobyte; behind an upstream the object at the key is not it.
async fn assert_stored_sealed(gw: &Gateway, bucket: &str, key: &str, plain: &[u8]) {
    if let Some((upstream, name)) = gw.behind(bucket) {
        let stored = upstream.get_object().bucket(&name).key(key).send().await.unwrap().body.collect().await.unwrap().into_bytes();
        assert!(stored.len() > plain.len(), "the upstream holds frames with their tags");
        assert!(!stored.windows(64).any(|w| w == &plain[..64]), "the upstream must not see the plaintext");
        return;
    }
    let needle = &plain[..1024.min(plain.len())];
    let mut dirs = vec![gw.storage_dir().to_owned()];
    let mut files = 0;
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                files += 1;
                assert!(!bytes.windows(needle.len()).any(|w| w == needle), "{} holds the plaintext", path.display());
            }
        }
    }
    assert!(files > 0);
}

#[tokio::test]
async fn sse_s3_objects_are_stored_sealed_and_read_back_by_any_range() {
    let gw = gateway().await;
    let c = gw.client();
    let b = gw.bucket("sealed").await;
    let body = data(200_000, 3);
    let put = c.put_object().bucket(&b).key("k").body(body.clone().into()).server_side_encryption(ServerSideEncryption::Aes256).send().await.unwrap();
    assert_eq!(put.server_side_encryption(), Some(&ServerSideEncryption::Aes256));
    assert_eq!(put.e_tag().unwrap().trim_matches('"'), md5_hex(&body), "an SSE-S3 object's ETag is its MD5, as on S3");
    let head = c.head_object().bucket(&b).key("k").send().await.unwrap();
    assert_eq!(head.server_side_encryption(), Some(&ServerSideEncryption::Aes256));
    assert_eq!(head.content_length(), Some(200_000));
    assert_eq!(get(&c, &b, "k").await, body);
    // Ranges on and around the 64 KiB frame edges.
    for (start, end) in [(0, 0), (0, 65_535), (65_535, 65_536), (65_536, 65_536), (65_000, 140_000), (131_072, 199_999), (199_999, 199_999)] {
        let got = c.get_object().bucket(&b).key("k").range(format!("bytes={start}-{end}")).send().await.unwrap();
        assert_eq!(got.content_length(), Some(end - start + 1));
        let bytes = got.body.collect().await.unwrap().into_bytes();
        assert_eq!(&bytes[..], &body[start as usize..=end as usize], "range {start}-{end}");
    }
    let listed = c.list_objects_v2().bucket(&b).send().await.unwrap();
    assert_eq!(listed.contents()[0].size(), Some(200_000), "listings show the plaintext's size");
    assert_eq!(listed.contents()[0].e_tag().unwrap().trim_matches('"'), md5_hex(&body));
    let attrs = c.get_object_attributes().bucket(&b).key("k").object_attributes(ObjectAttributes::ObjectSize).object_attributes(ObjectAttributes::Etag);
    let attrs = attrs.send().await.unwrap();
    assert_eq!(attrs.object_size(), Some(200_000), "GetObjectAttributes describes the plaintext");
    assert_eq!(attrs.e_tag().unwrap().trim_matches('"'), md5_hex(&body));
    // The proof is of the plaintext.
    let url = format!("{}/{b}/k", gw.endpoint());
    let r = raw(gw.addr, "HEAD", &format!("/{b}/k"), &sign("HEAD", &url, &[]), b"", None).await;
    assert_eq!(r.header("x-tollgate-sha256"), Some(sha_hex(&body).as_str()));
    assert_stored_sealed(&gw, &b, "k", &body).await;

    let empty = c.put_object().bucket(&b).key("empty").server_side_encryption(ServerSideEncryption::Aes256).send().await.unwrap();
    assert_eq!(empty.e_tag().unwrap().trim_matches('"'), md5_hex(b""));
    assert!(get(&c, &b, "empty").await.is_empty());

    // A conditional delete is judged by the client's ETag and size, not the stored
    // ciphertext's (an upstream holds that one).
    let etag = put.e_tag().unwrap();
    let e = c.delete_object().bucket(&b).key("k").if_match("\"0123456789abcdef0123456789abcdef\"").send().await.unwrap_err();
    assert_eq!(status(&e), 412, "{e:?}");
    let e = c.delete_object().bucket(&b).key("k").if_match(etag).if_match_size(200_001).send().await.unwrap_err();
    assert_eq!(status(&e), 412, "{e:?}");
    c.delete_object().bucket(&b).key("k").if_match(etag).if_match_size(200_000).send().await.expect("the client's ETag and size");
    assert!(c.head_object().bucket(&b).key("k").send().await.is_err());
}

#[tokio::test]
async fn sse_c_needs_the_customers_key_for_every_read() {
    let gw = gateway().await;
    let c = gw.client();
    let b = gw.bucket("customer").await;
    let (key, other) = (customer_key(1), customer_key(2));
    let body = data(100_000, 5);
    let put = c
        .put_object()
        .bucket(&b)
        .key("k")
        .body(body.clone().into())
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&key.key)
        .sse_customer_key_md5(&key.md5)
        .send()
        .await
        .unwrap();
    assert_eq!(put.sse_customer_key_md5(), Some(key.md5.as_str()));
    assert_ne!(put.e_tag().unwrap().trim_matches('"'), md5_hex(&body), "an SSE-C ETag is no MD5 of the data");
    assert_eq!(get_with(&c, &b, "k", &key).await, body);

    let e = c.get_object().bucket(&b).key("k").send().await.unwrap_err();
    assert_eq!((status(&e), code(e.as_service_error().unwrap()).as_str()), (400, "InvalidRequest"), "no key");
    let e = c.get_object().bucket(&b).key("k").sse_customer_algorithm("AES256").sse_customer_key(&other.key).sse_customer_key_md5(&other.md5).send().await;
    assert_eq!(status(&e.unwrap_err()), 403, "another key");
    let e = c.head_object().bucket(&b).key("k").send().await.unwrap_err();
    assert_eq!(status(&e), 400, "a HEAD needs the key too");
    let head =
        c.head_object().bucket(&b).key("k").sse_customer_algorithm("AES256").sse_customer_key(&key.key).sse_customer_key_md5(&key.md5).send().await.unwrap();
    assert_eq!(head.sse_customer_algorithm(), Some("AES256"));
    let attributes = || c.get_object_attributes().bucket(&b).key("k").object_attributes(ObjectAttributes::ObjectSize);
    let e = attributes().send().await.unwrap_err();
    assert_eq!(status(&e), 400, "GetObjectAttributes needs the key too");
    let attrs = attributes().sse_customer_algorithm("AES256").sse_customer_key(&key.key).sse_customer_key_md5(&key.md5).send().await.unwrap();
    assert_eq!(attrs.object_size(), Some(100_000));

    // Bad keys are refused before anything is stored.
    let e = c.put_object().bucket(&b).key("bad").sse_customer_algorithm("AES256").sse_customer_key(&key.key).sse_customer_key_md5(&other.md5).send().await;
    assert_eq!(code(e.unwrap_err().as_service_error().unwrap()), "InvalidArgument", "MD5 of another key");
    let short = base64_simd::STANDARD.encode_to_string([1u8; 16]);
    let short_md5 = base64_simd::STANDARD.encode_to_string(hex_simd::decode_to_vec(md5_hex(&[1u8; 16]).as_bytes()).unwrap());
    let e = c.put_object().bucket(&b).key("bad").sse_customer_algorithm("AES256").sse_customer_key(short).sse_customer_key_md5(short_md5).send().await;
    assert_eq!(code(e.unwrap_err().as_service_error().unwrap()), "InvalidArgument", "a 16-byte key");
    assert_eq!(status(&c.head_object().bucket(&b).key("bad").send().await.unwrap_err()), 404);
    assert_stored_sealed(&gw, &b, "k", &body).await;

    // A key given for an object not sealed under one is refused, as S3 refuses it.
    c.put_object().bucket(&b).key("plain").body(b"plain".to_vec().into()).send().await.unwrap();
    let e = c.get_object().bucket(&b).key("plain").sse_customer_algorithm("AES256").sse_customer_key(&key.key).sse_customer_key_md5(&key.md5).send().await;
    let e = e.unwrap_err();
    assert_eq!((status(&e), code(e.as_service_error().unwrap()).as_str()), (400, "InvalidRequest"), "a key for a plaintext object");
    let e = c.head_object().bucket(&b).key("plain").sse_customer_algorithm("AES256").sse_customer_key(&key.key).sse_customer_key_md5(&key.md5).send().await;
    assert_eq!(status(&e.unwrap_err()), 400, "HEAD too");
}

#[tokio::test]
async fn sse_c_keys_travel_only_over_https_unless_loopback_plain_http_is_allowed() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("plainhttp").await;
    let key = customer_key(3);
    let e = c.put_object().bucket(&b).key("k").sse_customer_algorithm("AES256").sse_customer_key(&key.key).sse_customer_key_md5(&key.md5).send().await;
    assert_eq!(code(e.unwrap_err().as_service_error().unwrap()), "InvalidRequest");
    assert_eq!(status(&c.head_object().bucket(&b).key("k").send().await.unwrap_err()), 404);
}

#[tokio::test]
async fn bucket_default_encryption_seals_writes_that_ask_for_none() {
    let gw = gateway().await;
    let c = gw.client();
    let b = gw.bucket("defaulted").await;
    let e = c.get_bucket_encryption().bucket(&b).send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "ServerSideEncryptionConfigurationNotFoundError");
    let rule = |alg: ServerSideEncryption| {
        ServerSideEncryptionConfiguration::builder()
            .rules(
                ServerSideEncryptionRule::builder()
                    .apply_server_side_encryption_by_default(ServerSideEncryptionByDefault::builder().sse_algorithm(alg).build().unwrap())
                    .build(),
            )
            .build()
            .unwrap()
    };
    let e = c.put_bucket_encryption().bucket(&b).server_side_encryption_configuration(rule(ServerSideEncryption::AwsKmsDsse)).send().await.unwrap_err();
    assert_eq!(status(&e), 501, "DSSE-KMS is answered NotImplemented, never stored");
    c.put_bucket_encryption().bucket(&b).server_side_encryption_configuration(rule(ServerSideEncryption::Aes256)).send().await.unwrap();
    let got = c.get_bucket_encryption().bucket(&b).send().await.unwrap();
    let rules = got.server_side_encryption_configuration().unwrap().rules();
    assert_eq!(rules[0].apply_server_side_encryption_by_default().unwrap().sse_algorithm(), &ServerSideEncryption::Aes256);

    let body = data(70_000, 7);
    let put = c.put_object().bucket(&b).key("k").body(body.clone().into()).send().await.unwrap();
    assert_eq!(put.server_side_encryption(), Some(&ServerSideEncryption::Aes256));
    assert_eq!(get(&c, &b, "k").await, body);
    assert_stored_sealed(&gw, &b, "k", &body).await;

    c.delete_bucket_encryption().bucket(&b).send().await.unwrap();
    let clear = data(150_000, 64);
    let plain = c.put_object().bucket(&b).key("plain").body(clear.clone().into()).send().await.unwrap();
    assert_eq!(plain.server_side_encryption(), None);
    let e = c.put_object().bucket(&b).key("kms").server_side_encryption(ServerSideEncryption::AwsKms).ssekms_key_id("nosuchkey").send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "KMS.NotFoundException");
    assert_eq!(status(&c.head_object().bucket(&b).key("kms").send().await.unwrap_err()), 404, "nothing stored");
}

#[tokio::test]
async fn the_gateway_wide_setting_seals_every_object() {
    let gw = Gateway::start_with(|cfg| cfg.encryption.always = true).await;
    let c = gw.client();
    let b = gw.bucket("always").await;
    let body = data(10_000, 9);
    let put = c.put_object().bucket(&b).key("k").body(body.clone().into()).send().await.unwrap();
    assert_eq!(put.server_side_encryption(), Some(&ServerSideEncryption::Aes256));
    assert_eq!(get(&c, &b, "k").await, body);
    assert_stored_sealed(&gw, &b, "k", &body).await;
}

#[tokio::test]
async fn copies_move_between_every_pair_of_modes() {
    let gw = gateway().await;
    let c = gw.client();
    let b = gw.bucket("copies").await;
    let (k1, k2) = (customer_key(11), customer_key(12));
    let body = data(150_000, 13);
    c.put_object().bucket(&b).key("plain").body(body.clone().into()).send().await.unwrap();

    // plain -> SSE-S3 (sealed on the way), SSE-S3 -> SSE-C (the key re-wrapped).
    let out = c.copy_object().bucket(&b).key("s3").copy_source(format!("{b}/plain")).server_side_encryption(ServerSideEncryption::Aes256).send().await.unwrap();
    assert_eq!(out.server_side_encryption(), Some(&ServerSideEncryption::Aes256));
    assert_eq!(get(&c, &b, "s3").await, body);
    let copy_c = |from: &str, to: &str, key: &CustomerKey| {
        c.copy_object()
            .bucket(&b)
            .key(to)
            .copy_source(format!("{b}/{from}"))
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&key.key)
            .sse_customer_key_md5(&key.md5)
    };
    copy_c("s3", "c", &k1).send().await.unwrap();
    assert_eq!(get_with(&c, &b, "c", &k1).await, body);
    assert_eq!(status(&c.get_object().bucket(&b).key("c").send().await.unwrap_err()), 400);

    // SSE-C -> SSE-C under another key, in place.
    let e = copy_c("c", "c", &k2).send().await.unwrap_err();
    assert_eq!(status(&e), 400, "the source's key is needed");
    copy_c("c", "c", &k2)
        .copy_source_sse_customer_algorithm("AES256")
        .copy_source_sse_customer_key(&k1.key)
        .copy_source_sse_customer_key_md5(&k1.md5)
        .send()
        .await
        .unwrap();
    assert_eq!(get_with(&c, &b, "c", &k2).await, body);
    assert_eq!(
        status(
            &c.get_object()
                .bucket(&b)
                .key("c")
                .sse_customer_algorithm("AES256")
                .sse_customer_key(&k1.key)
                .sse_customer_key_md5(&k1.md5)
                .send()
                .await
                .unwrap_err()
        ),
        403
    );

    // SSE-C -> SSE-S3 and SSE-S3 -> plain (both read and written again).
    let out = c
        .copy_object()
        .bucket(&b)
        .key("back")
        .copy_source(format!("{b}/c"))
        .copy_source_sse_customer_algorithm("AES256")
        .copy_source_sse_customer_key(&k2.key)
        .copy_source_sse_customer_key_md5(&k2.md5)
        .server_side_encryption(ServerSideEncryption::Aes256)
        .send()
        .await
        .unwrap();
    assert_eq!(out.copy_object_result().unwrap().e_tag().unwrap().trim_matches('"'), md5_hex(&body));
    assert_eq!(get(&c, &b, "back").await, body);
    let out = c.copy_object().bucket(&b).key("clear").copy_source(format!("{b}/back")).send().await.unwrap();
    assert_eq!(out.server_side_encryption(), None);
    assert_eq!(get(&c, &b, "clear").await, body);
}

async fn multipart(c: &Client, b: &str, k: &str, parts: &[Vec<u8>], ck: Option<&CustomerKey>) -> String {
    let mut create = c.create_multipart_upload().bucket(b).key(k);
    create = match ck {
        Some(ck) => create.sse_customer_algorithm("AES256").sse_customer_key(&ck.key).sse_customer_key_md5(&ck.md5),
        None => create.server_side_encryption(ServerSideEncryption::Aes256),
    };
    let up = create.send().await.unwrap();
    let id = up.upload_id().unwrap().to_owned();
    let mut done = CompletedMultipartUpload::builder();
    for (i, p) in parts.iter().enumerate() {
        let n = i32::try_from(i + 1).unwrap();
        let mut part = c.upload_part().bucket(b).key(k).upload_id(&id).part_number(n).body(p.clone().into());
        if let Some(ck) = ck {
            part = part.sse_customer_algorithm("AES256").sse_customer_key(&ck.key).sse_customer_key_md5(&ck.md5);
        }
        let e = part.send().await.unwrap();
        let etag = e.e_tag().unwrap().trim_matches('"');
        // As S3 answers: an SSE-S3 part's ETag is its plaintext's MD5; an SSE-C part's is no MD5 of the data.
        assert_eq!(etag == md5_hex(p), ck.is_none(), "part {n}'s ETag {etag}");
        done = done.parts(CompletedPart::builder().part_number(n).e_tag(e.e_tag().unwrap()).build());
    }
    let done = done.build();
    let listed = c.list_parts().bucket(b).key(k).upload_id(&id).send().await.unwrap();
    let listed: Vec<_> = listed.parts().iter().map(|p| (p.e_tag().unwrap().to_owned(), p.size().unwrap())).collect();
    let given: Vec<_> = done.parts().iter().zip(parts).map(|(p, body)| (p.e_tag().unwrap().to_owned(), body.len() as i64)).collect();
    assert_eq!(listed, given, "ListParts shows the ETags and plaintext sizes UploadPart answered");
    let out = c.complete_multipart_upload().bucket(b).key(k).upload_id(&id).multipart_upload(done).send().await.unwrap();
    out.e_tag().unwrap().to_owned()
}

/// S3's ETag of a multipart object whose parts have ETags `etags`: the MD5 of their MD5s, then `-{parts}`.
fn multipart_etag(etags: &[String]) -> String {
    let md5s: Vec<u8> = etags.iter().flat_map(|e| hex_simd::decode_to_vec(e.as_bytes()).unwrap()).collect();
    format!("\"{}-{}\"", md5_hex(&md5s), etags.len())
}

#[tokio::test]
async fn multipart_uploads_are_sealed_part_by_part() {
    let gw = gateway().await;
    let c = gw.client();
    let b = gw.bucket("mpsealed").await;
    let parts = vec![data(5 << 20, 1), data(5 << 20, 2), data(70_000, 3)];
    let whole: Vec<u8> = parts.concat();
    let etag = multipart(&c, &b, "s3", &parts, None).await;
    assert_eq!(etag, multipart_etag(&parts.iter().map(|p| md5_hex(p)).collect::<Vec<_>>()), "S3's ETag of the plaintext parts");
    assert_eq!(get(&c, &b, "s3").await, whole);
    let head = c.head_object().bucket(&b).key("s3").send().await.unwrap();
    assert_eq!(head.e_tag(), Some(etag.as_str()));
    assert_eq!((head.content_length(), head.server_side_encryption()), (Some(whole.len() as i64), Some(&ServerSideEncryption::Aes256)));
    // A range across the first part boundary, and part 2 alone.
    let (start, end) = ((5 << 20) - 100, (5 << 20) + 100);
    let got = c.get_object().bucket(&b).key("s3").range(format!("bytes={start}-{end}")).send().await.unwrap();
    assert_eq!(&got.body.collect().await.unwrap().into_bytes()[..], &whole[start..=end]);
    let got = c.get_object().bucket(&b).key("s3").part_number(2).send().await.unwrap();
    assert_eq!(got.body.collect().await.unwrap().into_bytes().to_vec(), parts[1]);
    let url = format!("{}/{b}/s3", gw.endpoint());
    let r = raw(gw.addr, "HEAD", &format!("/{b}/s3"), &sign("HEAD", &url, &[]), b"", None).await;
    assert_eq!(r.header("x-tollgate-sha256"), Some(sha_hex(&whole).as_str()), "the proof is of the plaintext");
    assert_stored_sealed(&gw, &b, "s3", &whole).await;

    let ck = customer_key(21);
    multipart(&c, &b, "c", &parts, Some(&ck)).await;
    assert_eq!(get_with(&c, &b, "c", &ck).await, whole);
    assert_eq!(status(&c.get_object().bucket(&b).key("c").send().await.unwrap_err()), 400);

    // A part copied out of a sealed object into a plain upload is plaintext there.
    let up = c.create_multipart_upload().bucket(&b).key("copied").send().await.unwrap();
    let id = up.upload_id().unwrap();
    let e = c
        .upload_part_copy()
        .bucket(&b)
        .key("copied")
        .upload_id(id)
        .part_number(1)
        .copy_source(format!("{b}/s3"))
        .copy_source_range("bytes=100-5242979")
        .send()
        .await
        .unwrap();
    let done = CompletedMultipartUpload::builder()
        .parts(CompletedPart::builder().part_number(1).e_tag(e.copy_part_result().unwrap().e_tag().unwrap()).build())
        .build();
    c.complete_multipart_upload().bucket(&b).key("copied").upload_id(id).multipart_upload(done).send().await.unwrap();
    assert_eq!(get(&c, &b, "copied").await, &whole[100..=5_242_979]);
}

#[tokio::test]
async fn a_body_failing_its_digest_is_refused_and_nothing_sealed_is_kept() {
    let gw = gateway().await;
    let c = gw.client();
    let b = gw.bucket("digests").await;
    let body = data(100_000, 8);
    let wrong_md5 = base64_simd::STANDARD.encode_to_string([0u8; 16]);
    let e = c.put_object().bucket(&b).key("k").body(body.into()).content_md5(wrong_md5).server_side_encryption(ServerSideEncryption::Aes256).send().await;
    assert_eq!(code(e.unwrap_err().as_service_error().unwrap()), "BadDigest");
    assert_eq!(status(&c.head_object().bucket(&b).key("k").send().await.unwrap_err()), 404);
}

#[tokio::test]
async fn an_altered_frame_fails_the_read() {
    if upstream_mode().is_some() {
        return; // the bytes are altered on the local disk
    }
    let gw = gateway().await;
    let c = gw.client();
    let b = gw.bucket("tampered").await;
    let (small, big) = (data(200_000, 4), data(1_500_000, 5));
    for (key, body) in [("small", &small), ("big", &big)] {
        c.put_object().bucket(&b).key(key).body(body.clone().into()).server_side_encryption(ServerSideEncryption::Aes256).send().await.unwrap();
    }
    // Flip one byte of each object's blob: in the middle of the small one (the second
    // largest file on disk), three quarters into the big one (the largest).
    let mut blobs = Vec::new();
    let mut dirs = vec![gw.storage_dir().to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.to_string_lossy().contains("blobs") {
                blobs.push((std::fs::metadata(&path).unwrap().len(), path));
            }
        }
    }
    blobs.sort();
    for ((len, path), (n, d)) in blobs.iter().rev().zip([(3, 4), (1, 2)]) {
        let mut bytes = std::fs::read(path).unwrap();
        bytes[usize::try_from(len * n / d).unwrap()] ^= 1;
        std::fs::write(path, bytes).unwrap();
    }
    // The first chunk read holds the small object's altered frame: the answer is an
    // error status, before any byte.
    let e = c.get_object().bucket(&b).key("small").send().await.unwrap_err();
    assert_eq!(status(&e), 500, "{e:?}");
    // The big one's is further on: the answer has begun, its body fails there.
    let got = c.get_object().bucket(&b).key("big").send().await.unwrap();
    assert!(got.body.collect().await.is_err(), "an altered frame must not be served");
    // A range in an untouched frame still reads.
    let got = c.get_object().bucket(&b).key("small").range("bytes=0-99").send().await.unwrap();
    assert_eq!(&got.body.collect().await.unwrap().into_bytes()[..], &small[..100]);
}

#[tokio::test]
async fn scrub_opens_what_the_gateway_sealed_and_counts_what_customers_did() {
    let gw = gateway().await;
    let c = gw.client();
    let b = gw.bucket("scrubsealed").await;
    let ck = customer_key(31);
    c.put_object().bucket(&b).key("s3").body(data(150_000, 1).into()).server_side_encryption(ServerSideEncryption::Aes256).send().await.unwrap();
    let put = c.put_object().bucket(&b).key("c").body(data(150_000, 2).into()).sse_customer_algorithm("AES256").sse_customer_key(&ck.key);
    put.sse_customer_key_md5(&ck.md5).send().await.unwrap();
    multipart(&c, &b, "mp", &[data(5 << 20, 3), data(1000, 4)], None).await;
    let root = crate::tenancy::root_conn(&gw);
    let report = tollgate::admin::client::call(&root, "POST", "scrub", None).await.unwrap();
    assert_eq!(report["objects"], 3);
    assert_eq!(report["sealed_by_customers"], 1);
    assert!(report["mismatches"].as_array().unwrap().is_empty(), "{report}");
}

/// The stored bytes decrypt without the gateway, as the README's format says: with
/// `tools/decrypt.py`, the master key file (SSE-S3) or the customer's key (SSE-C).
#[tokio::test]
async fn stored_objects_decrypt_with_the_documented_script() {
    if upstream_mode().is_some() {
        return; // reads the blobs on the local disk
    }
    let gw = gateway().await;
    let c = gw.client();
    let b = gw.bucket("byhand").await;
    let blobs = |gw: &Gateway| -> Vec<std::path::PathBuf> {
        let mut found = Vec::new();
        for d in std::fs::read_dir(gw.storage_dir().join("blobs")).unwrap().flatten() {
            found.extend(std::fs::read_dir(d.path()).unwrap().flatten().map(|f| f.path()));
        }
        found
    };
    let decrypt = |args: &[&str]| {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tools/decrypt.py");
        let out = std::process::Command::new("python3").arg(script).args(args).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    };
    let body = data(200_000, 41);
    c.put_object().bucket(&b).key("s3").body(body.clone().into()).server_side_encryption(ServerSideEncryption::Aes256).send().await.unwrap();
    let [stored] = blobs(&gw).try_into().unwrap();
    let master = gw.storage_dir().join("master.key");
    assert_eq!(decrypt(&["--master-key-file", master.to_str().unwrap(), stored.to_str().unwrap()]), body);

    let ck = customer_key(42);
    let put = c.put_object().bucket(&b).key("c").body(body.clone().into()).sse_customer_algorithm("AES256").sse_customer_key(&ck.key);
    put.sse_customer_key_md5(&ck.md5).send().await.unwrap();
    let sealed_c = blobs(&gw).into_iter().find(|p| *p != stored).unwrap();
    assert_eq!(decrypt(&["--customer-key", &ck.key, sealed_c.to_str().unwrap()]), body);

    // After a rotation of the SSE-S3 key, new objects still decrypt with the master key alone.
    let root = crate::tenancy::root_conn(&gw);
    tollgate::admin::client::call(&root, "POST", "keyring/@sse-s3/rotate", None).await.unwrap();
    let before = blobs(&gw);
    c.put_object().bucket(&b).key("s3v1").body(body.clone().into()).server_side_encryption(ServerSideEncryption::Aes256).send().await.unwrap();
    let rotated = blobs(&gw).into_iter().find(|p| !before.contains(p)).unwrap();
    assert!(std::fs::read(&rotated).unwrap().windows(2).any(|w| w == b"v1"), "the header names the key's version");
    assert_eq!(decrypt(&["--master-key-file", master.to_str().unwrap(), rotated.to_str().unwrap()]), body);
}

/// `tollgate admin keyring rotate @sse-s3`: new SSE-S3 objects are sealed under the new
/// version, and the rewrap job moves older objects' data keys onto it; every object reads
/// back with its ETag, and the SSE-S3 key cannot be disabled.
#[tokio::test]
async fn the_sse_s3_key_rotates_and_older_objects_are_rewrapped_onto_it() {
    use tollgate::admin::client::call;
    let gw = gateway().await;
    let c = gw.client();
    let root = crate::tenancy::root_conn(&gw);
    let b = gw.bucket("s3rotate").await;
    let body = data(150_000, 61);
    let put = |key: &'static str| c.put_object().bucket(&b).key(key).body(body.clone().into()).server_side_encryption(ServerSideEncryption::Aes256).send();
    put("v0").await.unwrap();
    let parts = [data(5 << 20, 62), data(1000, 63)];
    let mp_etag = multipart(&c, &b, "mp", &parts, None).await;
    let clear = data(150_000, 64);
    let plain = c.put_object().bucket(&b).key("plain").body(clear.clone().into()).send().await.unwrap();

    assert_eq!(call(&root, "POST", "keyring/@sse-s3/rotate", None).await.unwrap()["versions"], 1);
    put("v1").await.unwrap();
    assert_eq!(call(&root, "POST", "keyring/@sse-s3/rotate", None).await.unwrap()["versions"], 2);
    put("v2").await.unwrap();
    let listed = call(&root, "GET", "keyring", None).await.unwrap();
    assert!(listed.to_string().contains(r#""id":"@sse-s3""#), "{listed}");
    let disable = call(&root, "PUT", "keyring/@sse-s3", Some(serde_json::json!({"enabled": false}))).await;
    assert!(disable.is_err(), "the SSE-S3 key cannot be disabled");

    let run = call(&root, "POST", "jobs/rewrap/run", None).await.unwrap();
    assert_eq!(run["detail"]["rewrapped"], 3, "v0, v1 and mp onto version 2: {run}");
    assert_eq!(run["detail"]["sealed"], 4, "{run}");
    let again = call(&root, "POST", "jobs/rewrap/run", None).await.unwrap();
    assert_eq!(again["detail"]["rewrapped"], 0, "{again}");
    for key in ["v0", "v1", "v2"] {
        assert_eq!(get(&c, &b, key).await, body, "{key}");
        let head = c.head_object().bucket(&b).key(key).send().await.unwrap();
        assert_eq!(head.e_tag().map(|e| e.trim_matches('"').to_owned()), Some(md5_hex(&body)), "{key}");
        assert_eq!(head.server_side_encryption(), Some(&ServerSideEncryption::Aes256));
    }
    assert_eq!(get(&c, &b, "mp").await, parts.concat());
    assert_eq!(c.head_object().bucket(&b).key("mp").send().await.unwrap().e_tag(), Some(mp_etag.as_str()));
    assert_eq!(get(&c, &b, "plain").await, clear);
    assert_eq!(c.head_object().bucket(&b).key("plain").send().await.unwrap().e_tag(), plain.e_tag());
    assert_stored_sealed(&gw, &b, "v2", &body).await;
    let scrub = call(&root, "POST", "scrub", None).await.unwrap();
    assert!(scrub["mismatches"].as_array().unwrap().is_empty(), "{scrub}");
}

#[tokio::test]
async fn sse_kms_seals_under_keyring_keys_that_rotate_and_disable() {
    use tollgate::admin::client::call;
    let gw = gateway().await;
    let c = gw.client();
    let root = crate::tenancy::root_conn(&gw);
    let b = gw.bucket("kms").await;
    let body = data(150_000, 51);
    let kms_put = |key: &str, id: Option<&str>| {
        c.put_object()
            .bucket(&b)
            .key(key)
            .body(body.clone().into())
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .set_ssekms_key_id(id.map(str::to_owned))
    };

    // No key named: the default key, made at its first use.
    let put = kms_put("default", None).send().await.unwrap();
    assert_eq!((put.server_side_encryption(), put.ssekms_key_id()), (Some(&ServerSideEncryption::AwsKms), Some("default")));
    assert_ne!(put.e_tag().unwrap().trim_matches('"'), md5_hex(&body));
    assert_eq!(get(&c, &b, "default").await, body);
    assert_stored_sealed(&gw, &b, "default", &body).await;

    // A key of the keyring, named by id or ARN, with an encryption context.
    call(&root, "POST", "keyring/app", None).await.unwrap();
    let context = base64_simd::STANDARD.encode_to_string(br#"{"project":"tollgate"}"#);
    // With an S3 Bucket Key asked for: answered back, as S3 does.
    let put =
        kms_put("app", Some("arn:aws:kms:us-east-1:111122223333:key/app")).ssekms_encryption_context(&context).bucket_key_enabled(true).send().await.unwrap();
    assert_eq!(put.bucket_key_enabled(), Some(true));
    let head = c.head_object().bucket(&b).key("app").send().await.unwrap();
    assert_eq!((head.server_side_encryption(), head.ssekms_key_id()), (Some(&ServerSideEncryption::AwsKms), Some("app")));
    assert_eq!(head.bucket_key_enabled(), Some(true));
    assert_eq!(c.head_object().bucket(&b).key("default").send().await.unwrap().bucket_key_enabled(), None, "none asked, none answered");
    assert_eq!(get(&c, &b, "app").await, body);
    let bad_context = kms_put("bad", Some("app")).ssekms_encryption_context("not json").send().await.unwrap_err();
    assert_eq!(code(bad_context.as_service_error().unwrap()), "InvalidArgument");
    let listed = call(&root, "GET", "keyring", None).await.unwrap();
    assert!(listed.to_string().contains(r#""id":"app""#) && !listed.to_string().contains("versions\":["), "{listed}");

    // Disabled: neither reads nor writes; enabled again: both.
    call(&root, "PUT", "keyring/app", Some(serde_json::json!({"enabled": false}))).await.unwrap();
    let e = c.get_object().bucket(&b).key("app").send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "KMS.DisabledException");
    assert_eq!(code(kms_put("app2", Some("app")).send().await.unwrap_err().as_service_error().unwrap()), "KMS.DisabledException");
    call(&root, "PUT", "keyring/app", Some(serde_json::json!({"enabled": true}))).await.unwrap();
    assert_eq!(get(&c, &b, "app").await, body);

    // Rotated: new objects use version 2; the rewrap job moves the older one's data key
    // onto it, and it still reads.
    let rotated = call(&root, "POST", "keyring/app/rotate", None).await.unwrap();
    assert_eq!(rotated["versions"], 2);
    kms_put("after", Some("app")).send().await.unwrap();
    let run = call(&root, "POST", "jobs/rewrap/run", None).await.unwrap();
    assert_eq!(run["detail"]["rewrapped"], 1, "{run}");
    let again = call(&root, "POST", "jobs/rewrap/run", None).await.unwrap();
    assert_eq!(again["detail"]["rewrapped"], 0, "{again}");
    assert_eq!(get(&c, &b, "app").await, body);
    assert_eq!(c.head_object().bucket(&b).key("app").send().await.unwrap().bucket_key_enabled(), Some(true), "kept by the re-wrap");
    assert_eq!(get(&c, &b, "after").await, body);

    // A copy from SSE-S3 to SSE-KMS re-wraps; a multipart upload seals part by part.
    c.put_object().bucket(&b).key("s3").body(body.clone().into()).server_side_encryption(ServerSideEncryption::Aes256).send().await.unwrap();
    let copy =
        c.copy_object().bucket(&b).key("s3-to-kms").copy_source(format!("{b}/s3")).server_side_encryption(ServerSideEncryption::AwsKms).ssekms_key_id("app");
    assert_eq!(copy.send().await.unwrap().ssekms_key_id(), Some("app"));
    assert_eq!(get(&c, &b, "s3-to-kms").await, body);
    let up = c.create_multipart_upload().bucket(&b).key("mp").server_side_encryption(ServerSideEncryption::AwsKms).ssekms_key_id("app").send().await.unwrap();
    let id = up.upload_id().unwrap();
    let parts = [data(5 << 20, 52), data(1000, 53)];
    let mut done = CompletedMultipartUpload::builder();
    for (i, p) in parts.iter().enumerate() {
        let n = i32::try_from(i + 1).unwrap();
        let e = c.upload_part().bucket(&b).key("mp").upload_id(id).part_number(n).body(p.clone().into()).send().await.unwrap();
        done = done.parts(CompletedPart::builder().part_number(n).e_tag(e.e_tag().unwrap()).build());
    }
    c.complete_multipart_upload().bucket(&b).key("mp").upload_id(id).multipart_upload(done.build()).send().await.unwrap();
    assert_eq!(get(&c, &b, "mp").await, parts.concat());
    let scrub = call(&root, "POST", "scrub", None).await.unwrap();
    assert!(scrub["mismatches"].as_array().unwrap().is_empty(), "{scrub}");
}

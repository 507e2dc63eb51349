//! GetObjectAttributes, and the checksums of multipart objects (COMPOSITE and FULL_OBJECT)
//! in CompleteMultipartUpload, HEAD/GET with checksum mode, ListParts and GetObjectAttributes.
//! Expected values are computed here from the bytes, independently of the gateway's math:
//! the CRC of the whole body directly, a composite as the hash of the raw part checksums.

use crate::common::*;

use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumMode, ChecksumType, CompletedMultipartUpload, CompletedPart, ObjectAttributes, StorageClass};

const MIB: usize = 1 << 20;

/// base64 of one algorithm's digest of `data`, computed by s3s's hashers.
fn checksum(alg: &str, data: &[u8]) -> String {
    let mut h = s3s::checksum::ChecksumHasher::default();
    match alg {
        "CRC32" => h.crc32 = Some(Default::default()),
        "CRC32C" => h.crc32c = Some(Default::default()),
        "CRC64NVME" => h.crc64nvme = Some(Default::default()),
        "SHA1" => h.sha1 = Some(Default::default()),
        _ => h.sha256 = Some(Default::default()),
    }
    h.update(data);
    let c = h.finalize();
    c.checksum_crc32.or(c.checksum_crc32c).or(c.checksum_crc64nvme).or(c.checksum_sha1).or(c.checksum_sha256).unwrap()
}

fn b64(s: &str) -> Vec<u8> {
    base64_simd::STANDARD.decode_to_vec(s).unwrap()
}

fn all_attributes() -> Vec<ObjectAttributes> {
    vec![ObjectAttributes::Etag, ObjectAttributes::Checksum, ObjectAttributes::ObjectParts, ObjectAttributes::StorageClass, ObjectAttributes::ObjectSize]
}

/// Starts an upload of `parts` under `key` with `alg` and `ty`, each part sent with its
/// checksum computed by the SDK; returns the upload id and the completed parts (with their
/// checksums, as the SDKs send them).
async fn upload(
    c: &aws_sdk_s3::Client,
    b: &str,
    key: &str,
    alg: ChecksumAlgorithm,
    ty: Option<ChecksumType>,
    parts: &[&Vec<u8>],
) -> (String, CompletedMultipartUpload) {
    let id = c
        .create_multipart_upload()
        .bucket(b)
        .key(key)
        .checksum_algorithm(alg.clone())
        .set_checksum_type(ty)
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_owned();
    let mut done = Vec::new();
    for (i, body) in parts.iter().enumerate() {
        let n = i32::try_from(i + 1).unwrap();
        let r =
            c.upload_part().bucket(b).key(key).upload_id(&id).part_number(n).checksum_algorithm(alg.clone()).body((*body).clone().into()).send().await.unwrap();
        done.push(
            CompletedPart::builder()
                .part_number(n)
                .e_tag(r.e_tag().unwrap())
                .set_checksum_crc32(r.checksum_crc32().map(str::to_owned))
                .set_checksum_crc32_c(r.checksum_crc32_c().map(str::to_owned))
                .set_checksum_crc64_nvme(r.checksum_crc64_nvme().map(str::to_owned))
                .set_checksum_sha1(r.checksum_sha1().map(str::to_owned))
                .set_checksum_sha256(r.checksum_sha256().map(str::to_owned))
                .build(),
        );
    }
    (id, CompletedMultipartUpload::builder().set_parts(Some(done)).build())
}

#[tokio::test]
async fn full_object_crc32_of_a_multipart_object_is_the_crc_of_its_bytes() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("attrs-full").await;
    let (p1, p2) = (data(5 * MIB, 7), data(4321, 8));
    let whole = [p1.as_slice(), &p2].concat();
    let crc = checksum("CRC32", &whole);
    let (id, parts) = upload(&c, &b, "obj", ChecksumAlgorithm::Crc32, Some(ChecksumType::FullObject), &[&p1, &p2]).await;

    let listed = c.list_parts().bucket(&b).key("obj").upload_id(&id).send().await.unwrap();
    assert_eq!(listed.checksum_type(), Some(&ChecksumType::FullObject));
    assert_eq!(listed.parts()[0].checksum_crc32(), Some(checksum("CRC32", &p1).as_str()));
    assert_eq!(listed.parts()[1].checksum_crc32(), Some(checksum("CRC32", &p2).as_str()));

    // A completion naming another checksum for a part is refused, and the upload stays.
    let mut wrong = parts.clone();
    wrong.parts = wrong.parts.map(|mut v| {
        v[1] = CompletedPart::builder().part_number(2).e_tag(v[1].e_tag().unwrap()).checksum_crc32("AAAAAA==").build();
        v
    });
    let e = c.complete_multipart_upload().bucket(&b).key("obj").upload_id(&id).multipart_upload(wrong).send().await.unwrap_err();
    assert_eq!((status(&e), code(&e).as_str()), (400, "InvalidPart"));
    // So is one declaring another full-object CRC.
    let e =
        c.complete_multipart_upload().bucket(&b).key("obj").upload_id(&id).multipart_upload(parts.clone()).checksum_crc32("AAAAAA==").send().await.unwrap_err();
    assert_eq!((status(&e), code(&e).as_str()), (400, "BadDigest"));

    let done = c
        .complete_multipart_upload()
        .bucket(&b)
        .key("obj")
        .upload_id(&id)
        .multipart_upload(parts)
        .checksum_crc32(&crc)
        .checksum_type(ChecksumType::FullObject)
        .send()
        .await
        .unwrap();
    assert_eq!(done.checksum_crc32(), Some(crc.as_str()));
    assert_eq!(done.checksum_type(), Some(&ChecksumType::FullObject));

    let head = c.head_object().bucket(&b).key("obj").checksum_mode(ChecksumMode::Enabled).send().await.unwrap();
    assert_eq!(head.checksum_crc32(), Some(crc.as_str()));
    assert_eq!(head.checksum_type(), Some(&ChecksumType::FullObject));
    assert!(c.head_object().bucket(&b).key("obj").send().await.unwrap().checksum_crc32().is_none(), "only when asked for");
    // The SDK checks a full-object CRC against the body it reads.
    let got = c.get_object().bucket(&b).key("obj").checksum_mode(ChecksumMode::Enabled).send().await.unwrap();
    assert_eq!(got.checksum_crc32(), Some(crc.as_str()));
    assert!(got.body.collect().await.unwrap().into_bytes().as_ref() == whole.as_slice());
    let ranged = c.get_object().bucket(&b).key("obj").range("bytes=0-9").checksum_mode(ChecksumMode::Enabled).send().await.unwrap();
    assert!(ranged.checksum_crc32().is_none(), "no whole-object checksum for a range");

    let a = c.get_object_attributes().bucket(&b).key("obj").set_object_attributes(Some(all_attributes())).send().await.unwrap();
    assert_eq!(a.e_tag().map(|e| e.trim_matches('"')), Some(done.e_tag().unwrap().trim_matches('"')));
    assert_eq!(a.object_size(), Some(whole.len() as i64));
    assert_eq!(a.storage_class(), Some(&StorageClass::Standard));
    let sum = a.checksum().unwrap();
    assert_eq!(sum.checksum_crc32(), Some(crc.as_str()));
    assert_eq!(sum.checksum_type(), Some(&ChecksumType::FullObject));
    let op = a.object_parts().unwrap();
    assert_eq!(op.total_parts_count(), Some(2));
    let listed: Vec<_> = op.parts().iter().map(|p| (p.part_number(), p.size(), p.checksum_crc32().map(str::to_owned))).collect();
    assert_eq!(listed, [(Some(1), Some(5 * MIB as i64), Some(checksum("CRC32", &p1))), (Some(2), Some(4321), Some(checksum("CRC32", &p2)))]);

    // Parts are paged.
    let page = c.get_object_attributes().bucket(&b).key("obj").object_attributes(ObjectAttributes::ObjectParts).max_parts(1).send().await.unwrap();
    let op = page.object_parts().unwrap();
    assert_eq!((op.is_truncated(), op.parts().len(), op.next_part_number_marker()), (Some(true), 1, Some("1")));
    assert!(page.e_tag().is_none() && page.object_size().is_none(), "only what was asked for");
    let rest = c.get_object_attributes().bucket(&b).key("obj").object_attributes(ObjectAttributes::ObjectParts).part_number_marker("1").send().await.unwrap();
    let op = rest.object_parts().unwrap();
    assert_eq!((op.is_truncated(), op.parts().len(), op.parts()[0].part_number()), (Some(false), 1, Some(2)));
}

#[tokio::test]
async fn composite_checksums_hash_the_part_checksums() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("attrs-composite").await;
    let (p1, p2, p3) = (data(5 * MIB, 1), data(5 * MIB, 2), data(10, 3));
    // SHA-256 without a type: composite, S3's default for it.
    let (id, parts) = upload(&c, &b, "obj", ChecksumAlgorithm::Sha256, None, &[&p1, &p2, &p3]).await;
    let raw: Vec<u8> = [&p1, &p2, &p3].iter().flat_map(|p| b64(&checksum("SHA256", p))).collect();
    let composite = checksum("SHA256", &raw);
    assert_eq!(c.list_parts().bucket(&b).key("obj").upload_id(&id).send().await.unwrap().checksum_type(), Some(&ChecksumType::Composite));
    let done = c.complete_multipart_upload().bucket(&b).key("obj").upload_id(&id).multipart_upload(parts).send().await.unwrap();
    assert_eq!(done.checksum_sha256(), Some(format!("{composite}-3").as_str()));
    assert_eq!(done.checksum_type(), Some(&ChecksumType::Composite));
    let head = c.head_object().bucket(&b).key("obj").checksum_mode(ChecksumMode::Enabled).send().await.unwrap();
    assert_eq!(head.checksum_sha256(), Some(format!("{composite}-3").as_str()));
    assert_eq!(head.checksum_type(), Some(&ChecksumType::Composite));
    let a = c
        .get_object_attributes()
        .bucket(&b)
        .key("obj")
        .object_attributes(ObjectAttributes::Checksum)
        .object_attributes(ObjectAttributes::ObjectParts)
        .send()
        .await
        .unwrap();
    assert_eq!(a.checksum().unwrap().checksum_sha256(), Some(composite.as_str()));
    assert_eq!(a.checksum().unwrap().checksum_type(), Some(&ChecksumType::Composite));
    assert_eq!(a.object_parts().unwrap().total_parts_count(), Some(3));
    assert_eq!(a.object_parts().unwrap().parts()[2].checksum_sha256(), Some(checksum("SHA256", &p3).as_str()));

    // CRC32C, composite too; the Complete request may declare it, with or without -N.
    let (q1, q2) = (data(5 * MIB, 4), data(77, 5));
    let (id, parts) = upload(&c, &b, "crc32c", ChecksumAlgorithm::Crc32C, Some(ChecksumType::Composite), &[&q1, &q2]).await;
    let raw: Vec<u8> = [&q1, &q2].iter().flat_map(|p| b64(&checksum("CRC32C", p))).collect();
    let composite = checksum("CRC32C", &raw);
    let done = c.complete_multipart_upload().bucket(&b).key("crc32c").upload_id(&id).multipart_upload(parts).checksum_crc32_c(&composite).send().await.unwrap();
    assert_eq!(done.checksum_crc32_c(), Some(format!("{composite}-2").as_str()));
}

#[tokio::test]
async fn object_attributes_of_single_and_unchecked_objects() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("attrs-plain").await;
    let body = b"hello attributes".to_vec();
    let put = c.put_object().bucket(&b).key("one").body(body.clone().into()).checksum_algorithm(ChecksumAlgorithm::Crc32C).send().await.unwrap();
    let a = c.get_object_attributes().bucket(&b).key("one").set_object_attributes(Some(all_attributes())).send().await.unwrap();
    assert_eq!(a.e_tag().map(|e| e.trim_matches('"')), Some(put.e_tag().unwrap().trim_matches('"')));
    assert_eq!(a.object_size(), Some(body.len() as i64));
    assert_eq!(a.storage_class(), Some(&StorageClass::Standard));
    assert_eq!(a.checksum().unwrap().checksum_crc32_c(), Some(checksum("CRC32C", &body).as_str()));
    assert_eq!(a.checksum().unwrap().checksum_type(), Some(&ChecksumType::FullObject));
    assert!(a.object_parts().is_none(), "a single-part object has no parts");
    assert!(a.last_modified().is_some());

    // A multipart object uploaded without a checksum: its part count, no part list.
    let id = c.create_multipart_upload().bucket(&b).key("mp").send().await.unwrap().upload_id().unwrap().to_owned();
    let mut done = Vec::new();
    for (n, part) in [(1, data(5 * MIB, 9)), (2, data(3, 10))] {
        let r = c.upload_part().bucket(&b).key("mp").upload_id(&id).part_number(n).body(part.into()).send().await.unwrap();
        done.push(CompletedPart::builder().part_number(n).e_tag(r.e_tag().unwrap()).build());
    }
    c.complete_multipart_upload()
        .bucket(&b)
        .key("mp")
        .upload_id(&id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(done)).build())
        .send()
        .await
        .unwrap();
    let a = c.get_object_attributes().bucket(&b).key("mp").set_object_attributes(Some(all_attributes())).send().await.unwrap();
    assert_eq!(a.object_size(), Some(5 * MIB as i64 + 3));
    assert_eq!(a.object_parts().unwrap().total_parts_count(), Some(2));
    assert!(a.object_parts().unwrap().parts().is_empty(), "parts are listed only for objects with a checksum");

    let e = c.get_object_attributes().bucket(&b).key("missing").object_attributes(ObjectAttributes::Etag).send().await.unwrap_err();
    assert_eq!(status(&e), 404);
    assert_eq!(code(&e), "NoSuchKey");
}

#[tokio::test]
async fn checksum_types_are_checked_at_creation() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("attrs-types").await;
    let e = c
        .create_multipart_upload()
        .bucket(&b)
        .key("k")
        .checksum_algorithm(ChecksumAlgorithm::Sha256)
        .checksum_type(ChecksumType::FullObject)
        .send()
        .await
        .unwrap_err();
    assert_eq!((status(&e), code(&e).as_str()), (400, "InvalidRequest"));
    let e = c.create_multipart_upload().bucket(&b).key("k").checksum_type(ChecksumType::Composite).send().await.unwrap_err();
    assert_eq!(status(&e), 400);
    // CRC64NVME is full-object only, and its default.
    let (id, parts) = upload(&c, &b, "nvme", ChecksumAlgorithm::Crc64Nvme, None, &[&data(5 * MIB, 11), &data(100, 12)]).await;
    let whole = [data(5 * MIB, 11), data(100, 12)].concat();
    let done = c.complete_multipart_upload().bucket(&b).key("nvme").upload_id(&id).multipart_upload(parts).send().await.unwrap();
    assert_eq!(done.checksum_crc64_nvme(), Some(checksum("CRC64NVME", &whole).as_str()));
    assert_eq!(done.checksum_type(), Some(&ChecksumType::FullObject));
}

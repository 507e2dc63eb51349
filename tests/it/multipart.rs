use crate::common::*;

use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};

const MIB: usize = 1 << 20;

fn parts(list: &[(i32, &str)]) -> CompletedMultipartUpload {
    CompletedMultipartUpload::builder().set_parts(Some(list.iter().map(|(n, e)| CompletedPart::builder().part_number(*n).e_tag(*e).build()).collect())).build()
}

#[tokio::test]
async fn multipart_upload_complete_and_part_reads() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("mpu").await;
    let up = c.create_multipart_upload().bucket(&b).key("obj").content_type("video/x-test").metadata("m", "v").send().await.unwrap();
    let id = up.upload_id().unwrap().to_owned();
    let p1 = data(5 * MIB, 1);
    let p2 = data(5 * MIB, 2);
    let p3 = data(1234, 3);
    let mut etags = Vec::new();
    for (n, body) in [(1, &p1), (2, &p2), (3, &p3)] {
        let r = c.upload_part().bucket(&b).key("obj").upload_id(&id).part_number(n).body(body.clone().into()).send().await.unwrap();
        assert_eq!(r.e_tag().unwrap(), format!("\"{}\"", md5_hex(body)));
        etags.push(r.e_tag().unwrap().to_owned());
    }
    let listed = c.list_parts().bucket(&b).key("obj").upload_id(&id).max_parts(2).send().await.unwrap();
    assert_eq!(listed.parts().len(), 2);
    assert_eq!(listed.is_truncated(), Some(true));
    let rest = c.list_parts().bucket(&b).key("obj").upload_id(&id).part_number_marker(listed.next_part_number_marker().unwrap()).send().await.unwrap();
    assert_eq!(rest.parts().len(), 1);
    assert_eq!(rest.parts()[0].size(), Some(1234));
    let uploads = c.list_multipart_uploads().bucket(&b).send().await.unwrap();
    assert_eq!(uploads.uploads().len(), 1);
    assert_eq!(uploads.uploads()[0].upload_id(), Some(id.as_str()));

    let done = c
        .complete_multipart_upload()
        .bucket(&b)
        .key("obj")
        .upload_id(&id)
        .multipart_upload(parts(&[(1, &etags[0]), (2, &etags[1]), (3, &etags[2])]))
        .send()
        .await
        .unwrap();
    let mut md5s = Vec::new();
    for body in [&p1, &p2, &p3] {
        md5s.extend(hex_simd::decode_to_vec(md5_hex(body)).unwrap());
    }
    assert_eq!(done.e_tag().unwrap(), format!("\"{}-3\"", md5_hex(&md5s)));

    let head = c.head_object().bucket(&b).key("obj").send().await.unwrap();
    assert_eq!(head.content_length(), Some((10 * MIB + 1234) as i64));
    assert_eq!(head.content_type(), Some("video/x-test"));
    assert_eq!(head.metadata().unwrap().get("m").map(String::as_str), Some("v"));

    let whole = c.get_object().bucket(&b).key("obj").send().await.unwrap().body.collect().await.unwrap().into_bytes();
    assert!(whole.as_ref() == [p1.as_slice(), &p2, &p3].concat().as_slice());

    let part2 = c.get_object().bucket(&b).key("obj").part_number(2).send().await.unwrap();
    assert_eq!(part2.parts_count(), Some(3));
    assert_eq!(part2.content_length(), Some(5 * MIB as i64));
    assert_eq!(part2.content_range(), Some(format!("bytes {}-{}/{}", 5 * MIB, 10 * MIB - 1, 10 * MIB + 1234).as_str()));
    assert!(part2.body.collect().await.unwrap().into_bytes().as_ref() == p2.as_slice());
    // A range across the part boundary.
    let across = c.get_object().bucket(&b).key("obj").range(format!("bytes={}-{}", 5 * MIB - 2, 5 * MIB + 1)).send().await.unwrap();
    assert_eq!(across.body.collect().await.unwrap().into_bytes().as_ref(), [&p1[5 * MIB - 2..], &p2[..2]].concat().as_slice());

    let e = c.get_object().bucket(&b).key("obj").part_number(4).send().await.unwrap_err();
    assert_eq!(status(&e), 400, "a part number past the parts is InvalidPartNumber, as AWS answers");
    assert!(c.list_multipart_uploads().bucket(&b).send().await.unwrap().uploads().is_empty());
}

#[tokio::test]
async fn completion_errors() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("mpu-errors").await;
    let id = c.create_multipart_upload().bucket(&b).key("k").send().await.unwrap().upload_id().unwrap().to_owned();
    let small = c.upload_part().bucket(&b).key("k").upload_id(&id).part_number(1).body(b"small".to_vec().into()).send().await.unwrap();
    let last = c.upload_part().bucket(&b).key("k").upload_id(&id).part_number(2).body(b"last".to_vec().into()).send().await.unwrap();
    let (e1, e2) = (small.e_tag().unwrap(), last.e_tag().unwrap());

    let e = c.complete_multipart_upload().bucket(&b).key("k").upload_id(&id).multipart_upload(parts(&[(1, e1), (2, e2)])).send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "EntityTooSmall");
    let e = c.complete_multipart_upload().bucket(&b).key("k").upload_id(&id).multipart_upload(parts(&[(2, e2), (1, e1)])).send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "InvalidPartOrder");
    let e = c.complete_multipart_upload().bucket(&b).key("k").upload_id(&id).multipart_upload(parts(&[(1, "\"0000\"")])).send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "InvalidPart");
    let e = c.complete_multipart_upload().bucket(&b).key("k").upload_id(&id).multipart_upload(parts(&[(3, e1)])).send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "InvalidPart");
    let e = c.upload_part().bucket(&b).key("k").upload_id(&id).part_number(10_001).body(b"x".to_vec().into()).send().await.unwrap_err();
    assert_eq!(status(&e), 400);
    let e = c.upload_part().bucket(&b).key("other-key").upload_id(&id).part_number(1).body(b"x".to_vec().into()).send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "NoSuchUpload");

    // A single small part is fine: the last part may be small.
    c.complete_multipart_upload().bucket(&b).key("k").upload_id(&id).multipart_upload(parts(&[(2, e2)])).send().await.unwrap();
    let got = c.get_object().bucket(&b).key("k").send().await.unwrap().body.collect().await.unwrap().into_bytes();
    assert_eq!(got.as_ref(), b"last");
    let e = c.list_parts().bucket(&b).key("k").upload_id(&id).send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "NoSuchUpload");
}

#[tokio::test]
async fn abort_and_part_copy() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("mpu-copy").await;
    let src = data(6 * MIB, 9);
    c.put_object().bucket(&b).key("src").body(src.clone().into()).send().await.unwrap();

    let id = c.create_multipart_upload().bucket(&b).key("gone").send().await.unwrap().upload_id().unwrap().to_owned();
    c.upload_part().bucket(&b).key("gone").upload_id(&id).part_number(1).body(b"x".to_vec().into()).send().await.unwrap();
    c.abort_multipart_upload().bucket(&b).key("gone").upload_id(&id).send().await.unwrap();
    let e = c.upload_part().bucket(&b).key("gone").upload_id(&id).part_number(2).body(b"x".to_vec().into()).send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "NoSuchUpload");

    let id = c.create_multipart_upload().bucket(&b).key("copied").send().await.unwrap().upload_id().unwrap().to_owned();
    let r1 = c
        .upload_part_copy()
        .bucket(&b)
        .key("copied")
        .upload_id(&id)
        .part_number(1)
        .copy_source(format!("{b}/src"))
        .copy_source_range(format!("bytes=0-{}", 5 * MIB - 1))
        .send()
        .await
        .unwrap();
    let r2 = c
        .upload_part_copy()
        .bucket(&b)
        .key("copied")
        .upload_id(&id)
        .part_number(2)
        .copy_source(format!("{b}/src"))
        .copy_source_range(format!("bytes={}-{}", 5 * MIB, 6 * MIB - 1))
        .send()
        .await
        .unwrap();
    let e = c
        .upload_part_copy()
        .bucket(&b)
        .key("copied")
        .upload_id(&id)
        .part_number(3)
        .copy_source(format!("{b}/src"))
        .copy_source_range(format!("bytes=0-{}", 6 * MIB))
        .send()
        .await
        .unwrap_err();
    assert_eq!((status(&e), code(e.as_service_error().unwrap())), (416, "InvalidRange".to_owned()), "a source range past the source's end");
    let e1 = r1.copy_part_result().unwrap().e_tag().unwrap().to_owned();
    let e2 = r2.copy_part_result().unwrap().e_tag().unwrap().to_owned();
    c.complete_multipart_upload().bucket(&b).key("copied").upload_id(&id).multipart_upload(parts(&[(1, &e1), (2, &e2)])).send().await.unwrap();
    let got = c.get_object().bucket(&b).key("copied").send().await.unwrap().body.collect().await.unwrap().into_bytes();
    assert!(got.as_ref() == src.as_slice());
}

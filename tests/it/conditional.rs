use crate::common::*;

use aws_sdk_s3::primitives::{DateTime, DateTimeFormat};
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};

#[tokio::test]
async fn conditional_puts_answer_412() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("cond-writes").await;
    let v1 = c.put_object().bucket(&b).key("k").body(b"1".to_vec().into()).if_none_match("*").send().await.unwrap();
    let e = c.put_object().bucket(&b).key("k").body(b"2".to_vec().into()).if_none_match("*").send().await.unwrap_err();
    assert_eq!(status(&e), 412);
    assert_eq!(code(e.as_service_error().unwrap()), "PreconditionFailed");
    let e = c.put_object().bucket(&b).key("k").body(b"2".to_vec().into()).if_match("\"stale\"").send().await.unwrap_err();
    assert_eq!(status(&e), 412);
    c.put_object().bucket(&b).key("k").body(b"2".to_vec().into()).if_match(v1.e_tag().unwrap()).send().await.unwrap();
    let got = c.get_object().bucket(&b).key("k").send().await.unwrap().body.collect().await.unwrap().into_bytes();
    assert_eq!(got.as_ref(), b"2");
}

#[tokio::test]
async fn concurrent_conditional_writers_exactly_one_wins() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("race").await;
    let base = c.put_object().bucket(&b).key("snap").body(b"base".to_vec().into()).send().await.unwrap();
    let etag = base.e_tag().unwrap().to_owned();
    let mut create = Vec::new();
    let mut replace = Vec::new();
    for i in 0..12u8 {
        let c = c.clone();
        let b1 = b.clone();
        create.push(tokio::spawn(async move { c.put_object().bucket(&b1).key("new").body(vec![i; 64].into()).if_none_match("*").send().await.is_ok() }));
        let c = gw.client();
        let b2 = b.clone();
        let etag = etag.clone();
        replace.push(tokio::spawn(async move { c.put_object().bucket(&b2).key("snap").body(vec![i; 64].into()).if_match(etag).send().await.is_ok() }));
    }
    let mut created = 0;
    for h in create {
        created += usize::from(h.await.unwrap());
    }
    let mut replaced = 0;
    for h in replace {
        replaced += usize::from(h.await.unwrap());
    }
    assert_eq!(created, 1, "If-None-Match: * lets exactly one writer create");
    assert_eq!(replaced, 1, "If-Match on one ETag lets exactly one writer replace");
}

#[tokio::test]
async fn conditional_multipart_completion() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("cond-mpu").await;
    c.put_object().bucket(&b).key("k").body(b"exists".to_vec().into()).send().await.unwrap();
    let up = c.create_multipart_upload().bucket(&b).key("k").send().await.unwrap();
    let id = up.upload_id().unwrap();
    let p = c.upload_part().bucket(&b).key("k").upload_id(id).part_number(1).body(b"part".to_vec().into()).send().await.unwrap();
    let done = CompletedMultipartUpload::builder().parts(CompletedPart::builder().part_number(1).e_tag(p.e_tag().unwrap()).build()).build();
    let e = c.complete_multipart_upload().bucket(&b).key("k").upload_id(id).multipart_upload(done.clone()).if_none_match("*").send().await.unwrap_err();
    assert_eq!(status(&e), 412);
    // The upload survives a failed precondition and can still complete.
    c.complete_multipart_upload().bucket(&b).key("k").upload_id(id).multipart_upload(done).send().await.unwrap();
    let got = c.get_object().bucket(&b).key("k").send().await.unwrap().body.collect().await.unwrap().into_bytes();
    assert_eq!(got.as_ref(), b"part");
}

#[tokio::test]
async fn not_modified_answers_carry_etag_and_last_modified() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("cond-304").await;
    let put = c.put_object().bucket(&b).key("k").body(b"v1".to_vec().into()).send().await.unwrap();
    let etag = put.e_tag().unwrap().to_owned();
    let head = c.head_object().bucket(&b).key("k").send().await.unwrap();
    let modified = head.last_modified().unwrap().fmt(DateTimeFormat::HttpDate).unwrap();
    let future = DateTime::from_secs(4_000_000_000);

    let e = c.get_object().bucket(&b).key("k").if_none_match(&etag).send().await.unwrap_err();
    assert_eq!(status(&e), 304);
    assert_eq!(error_header(&e, "etag").as_deref(), Some(etag.as_str()));
    assert_eq!(error_header(&e, "last-modified").as_deref(), Some(modified.as_str()));
    let e = c.get_object().bucket(&b).key("k").if_modified_since(future).send().await.unwrap_err();
    assert_eq!(status(&e), 304);
    assert_eq!(error_header(&e, "etag").as_deref(), Some(etag.as_str()));
    assert_eq!(error_header(&e, "last-modified").as_deref(), Some(modified.as_str()));
    let e = c.head_object().bucket(&b).key("k").if_none_match(&etag).send().await.unwrap_err();
    assert_eq!(status(&e), 304);
    assert_eq!(error_header(&e, "etag").as_deref(), Some(etag.as_str()));
    assert_eq!(error_header(&e, "last-modified").as_deref(), Some(modified.as_str()));
    let e = c.head_object().bucket(&b).key("k").if_modified_since(future).send().await.unwrap_err();
    assert_eq!(status(&e), 304);
    assert_eq!(error_header(&e, "etag").as_deref(), Some(etag.as_str()));
}

#[tokio::test]
async fn if_match_on_a_missing_key_is_no_such_key() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("cond-missing").await;
    let e = c.put_object().bucket(&b).key("absent").body(b"x".to_vec().into()).if_match("\"0123456789abcdef0123456789abcdef\"").send().await.unwrap_err();
    assert_eq!(status(&e), 404);
    assert_eq!(code(e.as_service_error().unwrap()), "NoSuchKey");
    let e = c.put_object().bucket(&b).key("absent").body(b"x".to_vec().into()).if_match("*").send().await.unwrap_err();
    assert_eq!(status(&e), 404);
    assert_eq!(code(e.as_service_error().unwrap()), "NoSuchKey");
    c.head_object().bucket(&b).key("absent").send().await.unwrap_err();
    // An object that exists with another ETag is still a 412.
    c.put_object().bucket(&b).key("present").body(b"x".to_vec().into()).send().await.unwrap();
    let e = c.put_object().bucket(&b).key("present").body(b"y".to_vec().into()).if_match("\"0123456789abcdef0123456789abcdef\"").send().await.unwrap_err();
    assert_eq!(status(&e), 412);
}

#[tokio::test]
async fn if_none_match_with_an_etag_on_writes_refuses_that_version() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("cond-inm-etag").await;
    let v1 = c.put_object().bucket(&b).key("k").body(b"1".to_vec().into()).send().await.unwrap();
    let e = c.put_object().bucket(&b).key("k").body(b"2".to_vec().into()).if_none_match(v1.e_tag().unwrap()).send().await.unwrap_err();
    assert_eq!((status(&e), code(e.as_service_error().unwrap())), (412, "PreconditionFailed".to_owned()));
    let got = c.get_object().bucket(&b).key("k").send().await.unwrap().body.collect().await.unwrap().into_bytes();
    assert_eq!(got.as_ref(), b"1", "nothing was written");
    c.put_object()
        .bucket(&b)
        .key("k")
        .body(b"3".to_vec().into())
        .if_none_match("\"0123456789abcdef0123456789abcdef\"")
        .send()
        .await
        .expect("another ETag: the write proceeds");
    c.put_object().bucket(&b).key("new").body(b"4".to_vec().into()).if_none_match(v1.e_tag().unwrap()).send().await.expect("a missing key holds no ETag");
}

#[tokio::test]
async fn conditional_delete_object() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("cond-delete").await;
    let v1 = c.put_object().bucket(&b).key("k").body(b"12345".to_vec().into()).send().await.unwrap();
    let etag = v1.e_tag().unwrap().to_owned();
    let e = c.delete_object().bucket(&b).key("k").if_match("\"0123456789abcdef0123456789abcdef\"").send().await.unwrap_err();
    assert_eq!(status(&e), 412);
    assert_eq!(code(e.as_service_error().unwrap()), "PreconditionFailed");
    c.head_object().bucket(&b).key("k").send().await.expect("a failed conditional delete deletes nothing");
    c.delete_object().bucket(&b).key("k").if_match(&etag).send().await.unwrap();
    c.head_object().bucket(&b).key("k").send().await.unwrap_err();
    let e = c.delete_object().bucket(&b).key("k").if_match(&etag).send().await.unwrap_err();
    assert_eq!(status(&e), 404);
    assert_eq!(code(e.as_service_error().unwrap()), "NoSuchKey");
    let e = c.delete_object().bucket(&b).key("k").if_match("*").send().await.unwrap_err();
    assert_eq!(status(&e), 404);
    // If-Match: * deletes whatever exists.
    c.put_object().bucket(&b).key("any").body(b"a".to_vec().into()).send().await.unwrap();
    c.delete_object().bucket(&b).key("any").if_match("*").send().await.unwrap();
    c.head_object().bucket(&b).key("any").send().await.unwrap_err();
}

#[tokio::test]
async fn delete_object_by_size_and_last_modified_time() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("cond-delete-size").await;
    c.put_object().bucket(&b).key("k").body(b"12345".to_vec().into()).send().await.unwrap();
    let modified = *c.head_object().bucket(&b).key("k").send().await.unwrap().last_modified().unwrap();
    let e = c.delete_object().bucket(&b).key("k").if_match_size(4).send().await.unwrap_err();
    assert_eq!(status(&e), 412);
    let earlier = DateTime::from_secs(modified.secs() - 10);
    let e = c.delete_object().bucket(&b).key("k").if_match_last_modified_time(earlier).send().await.unwrap_err();
    assert_eq!(status(&e), 412);
    c.head_object().bucket(&b).key("k").send().await.expect("nothing deleted");
    c.delete_object().bucket(&b).key("k").if_match_size(5).if_match_last_modified_time(modified).send().await.unwrap();
    c.head_object().bucket(&b).key("k").send().await.unwrap_err();
    // Without If-Match, a missing key is deleted as any delete is (204).
    c.delete_object().bucket(&b).key("k").if_match_size(5).send().await.unwrap();
}

#[tokio::test]
async fn delete_objects_checks_each_object_conditions() {
    use aws_sdk_s3::types::{Delete, ObjectIdentifier};
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("cond-delete-many").await;
    let mut etags = Vec::new();
    for k in ["a", "b", "c", "d", "e"] {
        etags.push(c.put_object().bucket(&b).key(k).body(k.as_bytes().to_vec().into()).send().await.unwrap().e_tag().unwrap().to_owned());
    }
    let modified = *c.head_object().bucket(&b).key("e").send().await.unwrap().last_modified().unwrap();
    let id = |k: &str| ObjectIdentifier::builder().key(k);
    let delete = Delete::builder()
        .objects(id("a").e_tag(&etags[0]).build().unwrap())
        .objects(id("b").e_tag("\"0123456789abcdef0123456789abcdef\"").build().unwrap())
        .objects(id("c").size(1).build().unwrap())
        .objects(id("d").size(7).build().unwrap())
        .objects(id("e").last_modified_time(DateTime::from_secs(modified.secs() - 10)).build().unwrap())
        .objects(id("missing").e_tag(&etags[0]).build().unwrap())
        .build()
        .unwrap();
    let out = c.delete_objects().bucket(&b).delete(delete).send().await.unwrap();
    let mut deleted: Vec<&str> = out.deleted().iter().filter_map(|d| d.key()).collect();
    deleted.sort_unstable();
    assert_eq!(deleted, ["a", "c"]);
    let mut errors: Vec<(&str, &str)> = out.errors().iter().map(|e| (e.key().unwrap(), e.code().unwrap())).collect();
    errors.sort_unstable();
    assert_eq!(errors, [("b", "PreconditionFailed"), ("d", "PreconditionFailed"), ("e", "PreconditionFailed"), ("missing", "NoSuchKey")]);
    for (k, exists) in [("a", false), ("b", true), ("c", false), ("d", true), ("e", true)] {
        assert_eq!(c.head_object().bucket(&b).key(k).send().await.is_ok(), exists, "{k}");
    }
}

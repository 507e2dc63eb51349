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

/// Uploads two parts (5 MiB, then 3 bytes) of a new upload of `key`; returns the upload id
/// and the parts' ETags.
async fn two_parts(c: &aws_sdk_s3::Client, b: &str, key: &str, seed: u8) -> (String, Vec<(i32, String)>) {
    let id = c.create_multipart_upload().bucket(b).key(key).send().await.unwrap().upload_id().unwrap().to_owned();
    let mut etags = Vec::new();
    for (n, body) in [(1, data(5 * MIB, seed)), (2, b"end".to_vec())] {
        let r = c.upload_part().bucket(b).key(key).upload_id(&id).part_number(n).body(body.into()).send().await.unwrap();
        etags.push((n, r.e_tag().unwrap().to_owned()));
    }
    (id, etags)
}

fn as_parts(etags: &[(i32, String)]) -> CompletedMultipartUpload {
    parts(&etags.iter().map(|(n, e)| (*n, e.as_str())).collect::<Vec<_>>())
}

/// A completion repeated after it succeeded (an SDK retry whose first answer was lost)
/// answers as the first time, as AWS does, until the object is overwritten or deleted;
/// another part list, another key or an upload never completed stay `NoSuchUpload`.
#[tokio::test]
async fn a_repeated_completion_answers_as_the_first_until_the_object_changes() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("mpu-again").await;
    let (id, etags) = two_parts(&c, &b, "k", 4).await;
    let complete = |id: &str, list: CompletedMultipartUpload| c.complete_multipart_upload().bucket(&b).key("k").upload_id(id).multipart_upload(list).send();
    let first = complete(&id, as_parts(&etags)).await.unwrap();
    let expected = [data(5 * MIB, 4).as_slice(), b"end"].concat();
    for _ in 0..2 {
        let again = complete(&id, as_parts(&etags)).await.unwrap_or_else(|e| panic!("a repeated completion: {e:?}"));
        assert_eq!(again.e_tag(), first.e_tag());
        assert_eq!((again.bucket(), again.key(), again.location()), (first.bucket(), first.key(), first.location()));
    }
    let got = c.get_object().bucket(&b).key("k").send().await.unwrap();
    assert_eq!(got.e_tag(), first.e_tag());
    assert!(got.body.collect().await.unwrap().into_bytes().as_ref() == expected.as_slice());
    // Not the same completion: another part list, another key.
    let e = complete(&id, as_parts(&etags[..1])).await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "NoSuchUpload");
    let e = complete(&id, as_parts(&[(1, etags[0].1.clone()), (2, etags[0].1.clone())])).await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "NoSuchUpload");
    let e = c.complete_multipart_upload().bucket(&b).key("other").upload_id(&id).multipart_upload(as_parts(&etags)).send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "NoSuchUpload");
    // Overwritten: the completion is no longer the object.
    c.put_object().bucket(&b).key("k").body(b"new".to_vec().into()).send().await.unwrap();
    let e = complete(&id, as_parts(&etags)).await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "NoSuchUpload");
    let got = c.get_object().bucket(&b).key("k").send().await.unwrap().body.collect().await.unwrap().into_bytes();
    assert_eq!(got.as_ref(), b"new");
    // Deleted: likewise.
    let (id, etags) = two_parts(&c, &b, "k", 5).await;
    complete(&id, as_parts(&etags)).await.unwrap();
    complete(&id, as_parts(&etags)).await.unwrap();
    c.delete_object().bucket(&b).key("k").send().await.unwrap();
    let e = complete(&id, as_parts(&etags)).await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "NoSuchUpload");
    let e = c.head_object().bucket(&b).key("k").send().await.unwrap_err();
    assert_eq!(status(&e), 404);
}

/// Two completions of one upload at once (a retry racing its first attempt) both succeed
/// with the same ETag, and the object stays whole.
#[tokio::test]
async fn concurrent_completions_of_one_upload_both_succeed() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("mpu-race").await;
    for round in 0..3u8 {
        let (id, etags) = two_parts(&c, &b, "k", round).await;
        let complete = || c.complete_multipart_upload().bucket(&b).key("k").upload_id(&id).multipart_upload(as_parts(&etags)).send();
        let (one, two) = tokio::join!(complete(), complete());
        let (one, two) = (one.unwrap_or_else(|e| panic!("round {round}: {e:?}")), two.unwrap_or_else(|e| panic!("round {round}: {e:?}")));
        assert_eq!(one.e_tag(), two.e_tag());
        let got = c.get_object().bucket(&b).key("k").send().await.unwrap();
        assert_eq!(got.e_tag(), one.e_tag());
        assert!(got.body.collect().await.unwrap().into_bytes().as_ref() == [data(5 * MIB, round).as_slice(), b"end"].concat().as_slice());
    }
}

/// A request body that sends `first`, then waits for `gate` before the rest: an upload
/// that finishes only when the test says so.
struct Gated {
    first: Option<bytes::Bytes>,
    rest: Option<bytes::Bytes>,
    gate: Option<tokio::sync::oneshot::Receiver<()>>,
    len: u64,
}

impl http_body::Body for Gated {
    type Data = bytes::Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        use std::future::Future;
        use std::task::Poll;
        if let Some(b) = self.first.take() {
            return Poll::Ready(Some(Ok(http_body::Frame::data(b))));
        }
        if let Some(gate) = &mut self.gate {
            if std::pin::Pin::new(gate).poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.gate = None;
        }
        Poll::Ready(self.rest.take().map(|b| Ok(http_body::Frame::data(b))))
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.len)
    }
}

impl Gated {
    /// `body`, its first `sent` bytes at once and the rest when `gate` opens.
    fn new(body: &[u8], sent: usize, gate: tokio::sync::oneshot::Receiver<()>) -> Self {
        Self {
            first: Some(bytes::Bytes::copy_from_slice(&body[..sent])),
            rest: Some(bytes::Bytes::copy_from_slice(&body[sent..])),
            gate: Some(gate),
            len: body.len() as u64,
        }
    }
}

/// Uploads a gated body as part `number` of `key`.
fn gated_part(
    c: &aws_sdk_s3::Client,
    b: &str,
    key: &str,
    id: &str,
    number: i32,
    body: Gated,
) -> impl std::future::Future<
    Output = Result<aws_sdk_s3::operation::upload_part::UploadPartOutput, aws_sdk_s3::error::SdkError<aws_sdk_s3::operation::upload_part::UploadPartError>>,
> {
    c.upload_part()
        .bucket(b)
        .key(key)
        .upload_id(id)
        .part_number(number)
        .content_length(body.len as i64)
        .body(aws_sdk_s3::primitives::ByteStream::from_body_1_x(body))
        .send()
}

fn blob_count(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir.join("blobs")).map_or(0, |rd| rd.flatten().map(|d| std::fs::read_dir(d.path()).map_or(0, Iterator::count)).sum())
}

/// One part number uploaded twice at once (a retry racing its first attempt, with other
/// bytes): the upload that finished last is the part, in ListParts, for the completion and
/// in the object; the other's bytes are released (no blob left behind on disk).
#[tokio::test]
async fn a_part_uploaded_twice_at_once_is_the_one_that_finished_last() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("mpu-twice").await;
    let id = c.create_multipart_upload().bucket(&b).key("k").send().await.unwrap().upload_id().unwrap().to_owned();
    let (slow, fast) = (data(6 * MIB, 7), data(5 * MIB + 17, 8));
    let (open, gate) = tokio::sync::oneshot::channel();
    let half = slow.len() / 2;
    let slow_upload = gated_part(&c, &b, "k", &id, 1, Gated::new(&slow, half, gate));
    let fast_then_open = async {
        // The slow upload is under way (its first half sent) when the fast one starts.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let r = c.upload_part().bucket(&b).key("k").upload_id(&id).part_number(1).body(fast.clone().into()).send().await.unwrap();
        open.send(()).unwrap();
        r
    };
    let (slow_done, fast_done) = tokio::join!(slow_upload, fast_then_open);
    let slow_done = slow_done.unwrap();
    let (slow_etag, fast_etag) = (slow_done.e_tag().unwrap().to_owned(), fast_done.e_tag().unwrap().to_owned());
    assert_eq!(slow_etag, format!("\"{}\"", md5_hex(&slow)));
    assert_eq!(fast_etag, format!("\"{}\"", md5_hex(&fast)));

    let listed = c.list_parts().bucket(&b).key("k").upload_id(&id).send().await.unwrap();
    let listed: Vec<(Option<i32>, Option<&str>, Option<i64>)> = listed.parts().iter().map(|p| (p.part_number(), p.e_tag(), p.size())).collect();
    assert_eq!(listed, [(Some(1), Some(slow_etag.as_str()), Some(slow.len() as i64))]);
    let e = c.complete_multipart_upload().bucket(&b).key("k").upload_id(&id).multipart_upload(parts(&[(1, &fast_etag)])).send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "InvalidPart");
    c.complete_multipart_upload().bucket(&b).key("k").upload_id(&id).multipart_upload(parts(&[(1, &slow_etag)])).send().await.unwrap();
    let got = c.get_object().bucket(&b).key("k").send().await.unwrap().body.collect().await.unwrap().into_bytes();
    assert!(got.as_ref() == slow.as_slice(), "the object is the part that finished last");

    if upstream_mode().as_deref() != Some("moto") {
        // The faster upload's bytes are released: one blob, the object's, is left.
        let dir = gw.storage_dir().to_owned();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while blob_count(&dir) != 1 && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(blob_count(&dir), 1, "only the object's blob is left");
    }
}

/// A part's second upload finishing while the upload is being completed with its first
/// (a retry racing its first attempt, the client completing on the first answer): the
/// completion and the late part never mix. Either the completion came first (the object
/// is the first upload's bytes, the late part is refused) or the late part did (the
/// completion naming the replaced part fails with InvalidPart, and one naming the late
/// part makes the object); the object reads back whole, and no blob is left but its own.
#[tokio::test]
async fn a_part_replaced_while_its_upload_completes_never_mixes() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("mpu-mix").await;
    for round in 0..3u8 {
        let id = c.create_multipart_upload().bucket(&b).key("k").send().await.unwrap().upload_id().unwrap().to_owned();
        let (first, late) = (data(24 * MIB, round), data(6 * MIB, round + 100));
        let r = c.upload_part().bucket(&b).key("k").upload_id(&id).part_number(1).body(first.clone().into()).send().await.unwrap();
        let first_etag = r.e_tag().unwrap().to_owned();
        let (open, gate) = tokio::sync::oneshot::channel();
        // All but the last byte of the late upload is in before the completion starts.
        let late_upload = gated_part(&c, &b, "k", &id, 1, Gated::new(&late, late.len() - 1, gate));
        let complete_then_open = async {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            let completion = c.complete_multipart_upload().bucket(&b).key("k").upload_id(&id).multipart_upload(parts(&[(1, &first_etag)])).send();
            let opener = async {
                tokio::time::sleep(std::time::Duration::from_millis(20 * u64::from(round))).await;
                open.send(()).unwrap();
            };
            tokio::join!(completion, opener).0
        };
        let (late_done, completed) = tokio::join!(late_upload, complete_then_open);
        let expected = match (completed, late_done) {
            (Ok(_), Err(e)) => {
                assert_eq!(code(e.as_service_error().unwrap()), "NoSuchUpload", "round {round}");
                first.clone()
            }
            (Err(e), Ok(late_part)) => {
                assert_eq!(code(e.as_service_error().unwrap()), "InvalidPart", "round {round}");
                let late_etag = late_part.e_tag().unwrap();
                c.complete_multipart_upload().bucket(&b).key("k").upload_id(&id).multipart_upload(parts(&[(1, late_etag)])).send().await.unwrap();
                late.clone()
            }
            (completed, late_done) => panic!("round {round}: completion {completed:?}, late part {late_done:?}"),
        };
        let got = c.get_object().bucket(&b).key("k").send().await.unwrap().body.collect().await.unwrap().into_bytes();
        assert!(got.as_ref() == expected.as_slice(), "round {round}: the object is one upload's bytes, whole");
        if upstream_mode().as_deref() != Some("moto") {
            let dir = gw.storage_dir().to_owned();
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while blob_count(&dir) != 1 && std::time::Instant::now() < deadline {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            assert_eq!(blob_count(&dir), 1, "round {round}: only the object's blob is left");
        }
    }
}

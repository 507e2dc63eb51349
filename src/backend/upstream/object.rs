//! Objects through the upstream: write, read, attributes, remove, copy, tagging.

use super::body::{IdleLimited, Outcome, Progress, Upload};
use super::client::Call;
use super::{Place, UpstreamBackend, xml};
use crate::backend::s3util::*;
use crate::backend::{BlobWrite, Error, Incoming, ObjectCopy, Readout, Received, Stored, Verified};
use crate::meta::{Checksums, ObjectAttrs, ObjectRecord, Precondition, Segment};

use bytes::Bytes;
use http::{HeaderMap, Method};
use http_body_util::BodyExt;
use s3s::dto::*;

/// Adds the attribute headers of a write (`Content-Type`, `x-amz-meta-*`, ...).
pub(super) fn with_attrs(mut call: Call, a: &ObjectAttrs) -> Call {
    call = call
        .header_opt("content-type", a.content_type.as_ref())
        .header_opt("content-encoding", a.content_encoding.as_ref())
        .header_opt("content-disposition", a.content_disposition.as_ref())
        .header_opt("content-language", a.content_language.as_ref())
        .header_opt("cache-control", a.cache_control.as_ref())
        .header_opt("expires", a.expires.as_ref())
        .header_opt("x-amz-website-redirect-location", a.website_redirect_location.as_ref());
    for (k, v) in &a.user_metadata {
        if let (Ok(name), Ok(value)) = (http::HeaderName::from_bytes(format!("x-amz-meta-{k}").as_bytes()), http::HeaderValue::from_str(v)) {
            call.headers.append(name, value);
        }
    }
    call
}

/// The headers of a read's conditions, and of a copy source's.
const READ_CONDITION_HEADERS: [&str; 4] = ["if-match", "if-none-match", "if-modified-since", "if-unmodified-since"];
pub(super) const COPY_SOURCE_CONDITION_HEADERS: [&str; 4] =
    ["x-amz-copy-source-if-match", "x-amz-copy-source-if-none-match", "x-amz-copy-source-if-modified-since", "x-amz-copy-source-if-unmodified-since"];

/// Sends conditions `c` under `names` (in the order of [`READ_CONDITION_HEADERS`]).
pub(super) fn with_conditions(call: Call, names: [&'static str; 4], c: &ReadConditions<'_>) -> Call {
    call.header_opt(names[0], c.if_match.map(etag_header))
        .header_opt(names[1], c.if_none_match.map(etag_header))
        .header_opt(names[2], c.if_modified_since.map(http_date))
        .header_opt(names[3], c.if_unmodified_since.map(http_date))
}

/// Adds the checksums a client declared in headers, so the upstream keeps them too.
pub(super) fn with_checksums(call: Call, c: &Checksums) -> Call {
    call.header_opt("x-amz-checksum-crc32", c.crc32.as_ref())
        .header_opt("x-amz-checksum-crc32c", c.crc32c.as_ref())
        .header_opt("x-amz-checksum-crc64nvme", c.crc64nvme.as_ref())
        .header_opt("x-amz-checksum-sha1", c.sha1.as_ref())
        .header_opt("x-amz-checksum-sha256", c.sha256.as_ref())
}

fn etag_header(e: &ETagCondition) -> String {
    match e {
        ETagCondition::Any => "*".to_owned(),
        ETagCondition::ETag(t) => format!("\"{}\"", t.value()),
    }
}

/// A body with its length: as declared, or learned by spooling it (HTTP chunked).
pub(super) async fn sized(
    b: &UpstreamBackend,
    declared: Result<u64, Error>,
    body: Option<StreamingBlob>,
) -> Result<(Option<StreamingBlob>, u64, Option<super::spool::Spooled>), Error> {
    match declared {
        Ok(length) => Ok((body, length, None)),
        Err(Error::MissingContentLength) => {
            let (body, length, spooled) = super::spool::spool(&b.spool_dir, body, b.max_object_size, b.body_idle_timeout).await?;
            Ok((Some(body), length, Some(spooled)))
        }
        Err(e) => Err(e),
    }
}

/// Streams a body to the upstream with `call`, hashed and checked on the way.
/// Returns the upstream's answer headers and the body's digests; if the body fails a
/// check, the upstream request is cut short and the client gets the check's error.
pub(super) async fn send_upload(
    b: &UpstreamBackend,
    check: BodyCheck,
    call: Call,
    body: Option<StreamingBlob>,
    length: u64,
    outcome: std::sync::Arc<Outcome>,
) -> Result<(HeaderMap, crate::proof::hashing::BodyDigests), Error> {
    if length > b.max_object_size {
        return Err(Error::EntityTooLarge);
    }
    let progress = Progress::new();
    let upload = Upload::new(body, check, length, b.body_idle_timeout, std::sync::Arc::clone(&progress), std::sync::Arc::clone(&outcome));
    let call = call.header("content-length", length.to_string());
    let sent = if length == 0 {
        // An empty body may never be polled by the connection: check it here, then send.
        let drained: Vec<_> = futures::StreamExt::collect(upload).await;
        if drained.iter().any(Result::is_err) { Err(Error::IncompleteBody("the body did not verify".into())) } else { b.client.send(&call, Bytes::new()).await }
    } else {
        let stream = futures::StreamExt::map(upload, |r| r.map(http_body::Frame::data));
        b.client.send_body(&call, http_body_util::StreamBody::new(stream).boxed_unsync(), progress).await
    };
    let client_fault = || outcome.found();
    let resp = match sent {
        Ok(resp) => resp,
        Err(e) => {
            return Err(match client_fault() {
                Some(Err(client)) => client,
                _ => e,
            });
        }
    };
    let resp = match b.client.ok(resp).await {
        Ok(r) => r,
        Err(e) => {
            return Err(match client_fault() {
                Some(Err(client)) => client,
                _ => e,
            });
        }
    };
    match client_fault() {
        Some(Ok(digests)) => Ok((resp.headers().clone(), digests)),
        Some(Err(e)) => Err(e),
        None => Err(Error::Unavailable("the upstream answered before the whole body was sent".into())),
    }
}

pub(super) fn header_str<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// The ETag of an answer, unquoted.
pub(super) fn etag_of(h: &HeaderMap) -> String {
    header_str(h, "etag").unwrap_or("").trim_matches('"').to_owned()
}

/// Stores a body at its key upstream, streamed, hashed and checked on the way; tells
/// `verified` as soon as the body was read whole and passed its checks.
pub(super) async fn write(b: &UpstreamBackend, target: &BlobWrite<'_>, incoming: Incoming, verified: Verified) -> Result<Stored, Error> {
    let place = b.place(target.bucket)?;
    let Incoming { body, length, check } = incoming;
    let (body, length, _spooled) = sized(b, length.ok_or(Error::MissingContentLength), body).await?;
    (target.admits)(length)?;
    // A blob is new: the precondition is the index's to check, against the current version.
    let blob = (!target.at_key).then(crate::backend::s3util::new_blob_id);
    let (if_match, if_none_match) = if blob.is_some() { (None, None) } else { upstream_conditions(target.precondition) };
    let at = blob.as_deref().map_or_else(|| place.key(target.key), |id| place.blob(id));
    let mut call = with_attrs(Call::new(Method::PUT, &place.bucket, &at), target.attrs);
    call = with_checksums(call, check.declared())
        .header_opt("content-md5", check.declared_md5())
        .header_opt("x-amz-tagging", target.tagging)
        .header_opt("if-match", if_match)
        .header_opt("if-none-match", if_none_match);
    let outcome = std::sync::Arc::new(Outcome::default());
    let tell = async {
        if let Some(digests) = outcome.verified().await {
            let _ = verified.send(Received { size: length, digests });
        }
    };
    let (sent, ()) = tokio::join!(send_upload(b, check, call, body, length, std::sync::Arc::clone(&outcome)), tell);
    let (headers, digests) = sent?;
    let segments = blob.map(|blob| vec![Segment { blob, size: length }]).unwrap_or_default();
    Ok(Stored { size: length, etag: etag_of(&headers), checksums: digests.checksums, sha256: digests.sha256, segments })
}

/// The conditional headers of a write's precondition as sent upstream: only `*` goes as
/// `If-None-Match` (S3 services refuse an ETag there: the gateway checks one itself, under
/// the key's turn, against what it recorded).
fn upstream_conditions(p: &Precondition) -> (Option<String>, Option<String>) {
    match p {
        Precondition::Present => (Some("*".to_owned()), None),
        Precondition::ETagIs(e) => (Some(format!("\"{e}\"")), None),
        Precondition::Absent => (None, Some("*".to_owned())),
        _ => (None, None),
    }
}

/// The ETag of the object the upstream holds if it has the size and bytes (read back
/// once) of a write pending since the gateway stopped.
pub(super) async fn holds_pending(b: &UpstreamBackend, w: &crate::meta::PendingWrite) -> Result<Option<String>, Error> {
    let place = match b.place(&w.bucket) {
        Ok(place) => place,
        Err(Error::NoSuchBucket) => return Ok(None),
        Err(e) => return Err(e),
    };
    let head = match b.call(Call::new(Method::HEAD, &place.bucket, &place.key(&w.key))).await.map_err(missing_key) {
        Ok(resp) => resp,
        Err(Error::NoSuchKey) => return Ok(None),
        Err(e) => return Err(e),
    };
    if let Some(sealing) = &w.record.sealing {
        // Sealed bytes hash to no recorded digest (those are the plaintext's): they are the
        // write's if their length is and they begin with its header, whose nonce prefix and
        // wrapped key are this write's alone; the frames' tags stand for the rest.
        let length = header_str(head.headers(), "content-length").and_then(|v| v.parse::<u64>().ok());
        let expected = crate::backend::sealed::written_header(sealing)?;
        if length != Some(crate::backend::sealed::stored_size(&w.record)) {
            return Ok(None);
        }
        let start = download(b, &place.bucket, &place.key(&w.key), Some(0..expected.len() as u64)).await?;
        let start = futures::TryStreamExt::try_fold(start, Vec::new(), |mut got, chunk| async move {
            got.extend_from_slice(&chunk);
            Ok(got)
        })
        .await
        .map_err(|e| Error::Unavailable(e.to_string()))?;
        return Ok((start == expected).then(|| etag_of(head.headers())));
    }
    let etag = etag_of(head.headers());
    if hash_back(b, &place.bucket, &place.key(&w.key)).await? != (w.record.size, w.record.sha256.clone()) {
        return Ok(None);
    }
    Ok(Some(etag))
}

/// The object description an upstream answer carries in its headers.
fn describe(h: &HeaderMap) -> ObjectRead {
    let s = |n: &str| header_str(h, n).map(str::to_owned);
    let mut user_metadata: Vec<(String, String)> =
        h.iter().filter_map(|(k, v)| Some((k.as_str().strip_prefix("x-amz-meta-")?.to_owned(), metadata_value(v.as_bytes())?))).collect();
    user_metadata.sort();
    ObjectRead {
        content_length: header_str(h, "content-length").and_then(|v| v.parse().ok()),
        content_range: s("content-range"),
        etag: etag_of(h),
        last_modified: header_str(h, "last-modified").and_then(parse_http_date),
        attrs: ObjectAttrs {
            content_type: s("content-type"),
            content_encoding: s("content-encoding"),
            content_disposition: s("content-disposition"),
            content_language: s("content-language"),
            cache_control: s("cache-control"),
            expires: s("expires"),
            website_redirect_location: s("x-amz-website-redirect-location"),
            user_metadata,
        },
        parts_count: header_str(h, "x-amz-mp-parts-count").and_then(|v| v.parse().ok()),
        tag_count: header_str(h, "x-amz-tagging-count").and_then(|v| v.parse().ok()),
        checksums: Checksums {
            crc32: s("x-amz-checksum-crc32"),
            crc32c: s("x-amz-checksum-crc32c"),
            crc64nvme: s("x-amz-checksum-crc64nvme"),
            sha1: s("x-amz-checksum-sha1"),
            sha256: s("x-amz-checksum-sha256"),
        },
        checksum_type: s("x-amz-checksum-type"),
    }
}

/// A GetObject or HeadObject forwarded upstream (`method`), with its range and conditions:
/// the upstream's answer, what it says of the object with what the index adds, and the
/// index's record of the same version.
async fn read_upstream(
    b: &UpstreamBackend,
    method: Method,
    bucket: &str,
    key: &str,
    r: &ReadRequest<'_>,
) -> Result<(http::Response<hyper::body::Incoming>, ObjectRead, Option<ObjectRecord>), Error> {
    let place = b.place(bucket)?;
    let mut call = with_conditions(Call::new(method, &place.bucket, &place.key(key)), READ_CONDITION_HEADERS, &r.conditions)
        .header_opt("x-amz-checksum-mode", r.checksum_mode.map(ChecksumMode::as_str));
    if let Some(range) = r.range {
        call = call.header("range", range_header(range));
    }
    if let Some(n) = r.part_number {
        call = call.query("partNumber", n.to_string());
    }
    let resp = b.call(call).await.map_err(missing_key).map_err(|e| match e {
        // Some upstreams answer a part number past the object's parts as an unsatisfiable range.
        Error::Upstream { status: 416, .. } if r.part_number.is_some() && r.range.is_none() => Error::InvalidPartNumber,
        e => e,
    })?;
    let mut read = describe(resp.headers());
    let rec = recorded(b, bucket, key, &read.etag);
    merge_checksums(&mut read, rec.as_ref(), r.checksum_mode);
    if read.tag_count.is_none() {
        // An upstream may not say on HEAD: the index knows for what the gateway wrote.
        read.tag_count = rec.as_ref().and_then(|r| i32::try_from(r.tags.len()).ok()).filter(|n| *n > 0);
    }
    Ok((resp, read, rec))
}

fn range_header(r: &Range) -> String {
    match r {
        Range::Int { first, last: Some(last) } => format!("bytes={first}-{last}"),
        Range::Int { first, last: None } => format!("bytes={first}-"),
        Range::Suffix { length } => format!("bytes=-{length}"),
    }
}

/// What the index adds to an upstream object it recorded (same ETag): proof headers, and
/// checksums computed on the way in that the upstream may not keep.
fn recorded(b: &UpstreamBackend, bucket: &str, key: &str, etag: &str) -> Option<ObjectRecord> {
    b.store.object_get(bucket, key).ok().flatten().filter(|r| r.etag == etag)
}

/// Picks the index's checksums for a whole-object read asked with checksum mode: computed
/// by the gateway on the same bytes (a multipart object's per its upload's type, which an
/// upstream may not support), they replace the upstream's.
fn merge_checksums(d: &mut ObjectRead, rec: Option<&ObjectRecord>, mode: Option<&ChecksumMode>) {
    if d.content_range.is_none()
        && mode.is_some_and(|m| m.as_str() == ChecksumMode::ENABLED)
        && d.parts_count.is_none()
        && let Some(r) = rec.filter(|r| !r.checksums.is_empty())
    {
        d.checksums = r.checksums.clone();
        d.checksum_type = Some(r.checksum_type.clone().unwrap_or_else(|| crate::proof::combine::FULL_OBJECT.to_owned()));
    }
}

pub(super) async fn read(b: &UpstreamBackend, bucket: &str, key: &str, r: &ReadRequest<'_>, with_body: bool) -> Result<Readout, Error> {
    let method = if with_body { Method::GET } else { Method::HEAD };
    let (resp, read, record) = read_upstream(b, method, bucket, key, r).await?;
    let partial = resp.status() == http::StatusCode::PARTIAL_CONTENT;
    let body = with_body.then(|| StreamingBlob::wrap(IdleLimited::new(http_body_util::BodyDataStream::new(resp.into_body()), b.timeout)));
    Ok(Readout { read, record, body, partial })
}

/// GetObjectAttributes: from the index record when the gateway wrote the version the
/// upstream holds (same ETag), else from the upstream's HEAD (size, ETag, checksums asked
/// with checksum mode, the part count of a multipart ETag).
pub(super) async fn attributes(b: &UpstreamBackend, bucket: &str, key: &str) -> Result<ObjectRecord, Error> {
    let place = b.place(bucket)?;
    let head = b.call(Call::new(Method::HEAD, &place.bucket, &place.key(key)).header("x-amz-checksum-mode", "ENABLED")).await.map_err(missing_key)?;
    let read = describe(head.headers());
    // What the gateway wrote there (a sealed object by the ciphertext's ETag it keeps).
    let written = b.store.object_get(bucket, key).ok().flatten().filter(|r| r.etag == read.etag || (!r.stored_etag.is_empty() && r.stored_etag == read.etag));
    Ok(match written {
        Some(rec) => rec,
        None => {
            let composite = [&read.checksums.crc32, &read.checksums.crc32c, &read.checksums.sha1, &read.checksums.sha256]
                .iter()
                .any(|v| v.as_ref().is_some_and(|v| v.contains('-')));
            let checksum_type = read.checksum_type.clone().or_else(|| composite.then(|| crate::proof::combine::COMPOSITE.to_owned()));
            ObjectRecord {
                size: read.content_length.and_then(|n| u64::try_from(n).ok()).unwrap_or(0),
                multipart: read.etag.contains('-'),
                etag: read.etag,
                checksums: read.checksums,
                checksum_type,
                // Its user metadata, which says if another instance sealed it.
                ..ObjectRecord::new(
                    read.attrs,
                    Vec::new(),
                    String::new(),
                    read.last_modified.map_or(0, |t| time::OffsetDateTime::from(t).unix_timestamp_nanos()),
                )
            }
        }
    })
}

/// A 404 from a key read is `NoSuchKey` (HEAD answers carry no code).
pub(super) fn missing_key(e: Error) -> Error {
    match e {
        Error::Upstream { status: 404, code, .. } if code == "NoSuchKey" || code.is_empty() => Error::NoSuchKey,
        e => e,
    }
}

/// Reads the upstream object `at` of upstream bucket `upstream_bucket` back, whole or a
/// non-empty `range` of it (for reads from the index, scrub, and to hash what the upstream
/// assembled).
pub(super) async fn download(
    b: &UpstreamBackend,
    upstream_bucket: &str,
    at: &str,
    range: Option<std::ops::Range<u64>>,
) -> Result<crate::backend::scrub::ByteStream, Error> {
    download_if(b, upstream_bucket, at, range, None).await
}

/// [`download`], only while the upstream's ETag of `at` is `etag` (if given): other bytes
/// there (replaced past the reader) are none of its, and answered `NoSuchKey` as gone.
pub(super) async fn download_if(
    b: &UpstreamBackend,
    upstream_bucket: &str,
    at: &str,
    range: Option<std::ops::Range<u64>>,
    etag: Option<&str>,
) -> Result<crate::backend::scrub::ByteStream, Error> {
    let call = Call::new(Method::GET, upstream_bucket, at)
        .header_opt("range", range.map(|r| format!("bytes={}-{}", r.start, r.end.saturating_sub(1))))
        .header_opt("if-match", etag.map(|e| format!("\"{e}\"")));
    let resp = b.call(call).await.map_err(|e| match e {
        Error::Upstream { status: 412, .. } if etag.is_some() => Error::NoSuchKey,
        e => missing_key(e),
    })?;
    Ok(Box::pin(IdleLimited::new(http_body_util::BodyDataStream::new(resp.into_body()), b.timeout)))
}

/// The size and SHA-256 of the upstream object `at` of upstream bucket `upstream_bucket`,
/// read back once.
pub(super) async fn hash_back(b: &UpstreamBackend, upstream_bucket: &str, at: &str) -> Result<(u64, String), Error> {
    sha256_of(download(b, upstream_bucket, at, None).await?).await.map_err(|e| Error::Unavailable(e.to_string()))
}

/// Removes one key upstream if `precondition` holds; removing a missing key succeeds, as
/// in S3, unless `If-Match` asked for it.
pub(super) async fn remove(b: &UpstreamBackend, bucket: &str, key: &str, precondition: &Precondition) -> Result<(), Error> {
    let place = b.place(bucket)?;
    check_delete(b, &place, key, precondition).await?;
    // The upstream checks the ETag again, against writers of other instances (`*` is not
    // sent: the check above made it, and some stores compare it as an ETag).
    let etag = match precondition {
        Precondition::Matches { etag: Some(e), .. } => Some(format!("\"{e}\"")),
        _ => None,
    };
    match b.call(Call::new(Method::DELETE, &place.bucket, &place.key(key)).header_opt("if-match", etag.as_ref())).await {
        Ok(_) => Ok(()),
        Err(Error::Upstream { status: 404, .. }) if precondition.holds(None) => Ok(()),
        Err(e) => Err(missing_key(e)),
    }
}

/// Checks a delete's conditions against the object as the upstream holds it (the
/// upstream's ETag, size and Last-Modified, as reads and listings show them).
async fn check_delete(b: &UpstreamBackend, place: &Place, key: &str, precondition: &Precondition) -> Result<(), Error> {
    if *precondition == Precondition::None {
        return Ok(());
    }
    let current = match b.call(Call::new(Method::HEAD, &place.bucket, &place.key(key))).await.map_err(missing_key) {
        Ok(resp) => Some(upstream_version(resp.headers())),
        Err(Error::NoSuchKey) => None,
        Err(e) => return Err(e),
    };
    Ok(precondition.check(current.as_ref())?)
}

/// What an upstream HEAD answer says of an object's version, as a record (ETag, size,
/// Last-Modified; nothing else).
fn upstream_version(h: &HeaderMap) -> ObjectRecord {
    let modified = header_str(h, "last-modified").and_then(parse_http_date).map_or(0, |t| time::OffsetDateTime::from(t).unix_timestamp());
    ObjectRecord {
        size: header_str(h, "content-length").and_then(|v| v.parse().ok()).unwrap_or(0),
        etag: etag_of(h),
        ..ObjectRecord::new(ObjectAttrs::default(), Vec::new(), String::new(), i128::from(modified) * 1_000_000_000)
    }
}

/// The source of a copy, located upstream, as `x-amz-copy-source` (where the index's
/// record of it says: a version's blob, else its key), with the copy-source conditions
/// the upstream is to check: none for a blob (the object layer checked them against the
/// version's record), the request's for a key.
pub(super) fn copy_source<'c>(
    b: &UpstreamBackend,
    bucket: &str,
    key: &str,
    source: Option<&ObjectRecord>,
    conditions: &ReadConditions<'c>,
) -> Result<(String, ReadConditions<'c>), Error> {
    let place = b.place(bucket)?;
    let (place, at) = match source {
        Some(s) => b.locate(bucket, key, s)?,
        None => {
            let at = place.key(key);
            (place, at)
        }
    };
    let in_blob = at != place.key(key);
    let header = format!("/{}/{}", uri_encode(&place.bucket, false), uri_encode(&at, true));
    let conditions = if in_blob {
        ReadConditions { if_match: None, if_none_match: None, if_modified_since: None, if_unmodified_since: None }
    } else {
        ReadConditions { ..*conditions }
    };
    Ok((header, conditions))
}

/// Copies server-side upstream, to the key or (not `at_key`) to a new blob; `source`: the
/// index's record of the source, if the gateway wrote it.
pub(super) async fn copy(b: &UpstreamBackend, c: &ObjectCopy<'_>, source: Option<&ObjectRecord>, at_key: bool) -> Result<ObjectRecord, Error> {
    let (source_header, conditions) = copy_source(b, c.source_bucket, c.source_key, source, &c.conditions)?;
    let place = b.place(c.bucket)?;
    let blob = (!at_key).then(crate::backend::s3util::new_blob_id);
    let at = blob.as_deref().map_or_else(|| place.key(c.key), |id| place.blob(id));
    let mut call =
        with_conditions(Call::new(Method::PUT, &place.bucket, &at).header("x-amz-copy-source", &source_header), COPY_SOURCE_CONDITION_HEADERS, &conditions);
    if let Some(a) = &c.attrs {
        call = with_attrs(call.header("x-amz-metadata-directive", "REPLACE"), a);
    }
    if c.tags.is_some() {
        call = call.header("x-amz-tagging-directive", "REPLACE").header_opt("x-amz-tagging", c.tagging);
    }
    let resp = b.client.send(&call, Bytes::new()).await?;
    let result: xml::ETagResult = xml::parse(&b.client.xml(resp).await.map_err(missing_key)?)?;
    let etag = result.etag.trim_matches('"').to_owned();
    // The same bytes as the source: its recorded digest if the index knows that version,
    // else read back once.
    let known = source.filter(|s| s.etag == etag && !s.sha256.is_empty());
    let (size, sha256) = match known {
        Some(s) => (s.size, s.sha256.clone()),
        None => hash_back(b, &place.bucket, &at).await?,
    };
    let segments = blob.map(|blob| vec![Segment { blob, size }]).unwrap_or_default();
    if let Some(s) = known {
        return Ok(ObjectRecord { etag, segments, ..s.clone() });
    }
    Ok(ObjectRecord {
        size,
        multipart: etag.contains('-'),
        etag,
        segments,
        sha256,
        ..ObjectRecord::new(ObjectAttrs::default(), Vec::new(), String::new(), now_ns())
    })
}

pub(super) async fn tags(b: &UpstreamBackend, bucket: &str, key: &str) -> Result<Vec<(String, String)>, Error> {
    let place = b.place(bucket)?;
    let resp = b.client.send(&Call::new(Method::GET, &place.bucket, &place.key(key)).query("tagging", ""), Bytes::new()).await?;
    let body = b.client.xml(resp).await.map_err(missing_key)?;
    let tagging: xml::Tagging = xml::parse(&body)?;
    Ok(tagging.tag_set.tag.into_iter().map(|t| (t.key, t.value)).collect())
}

pub(super) async fn set_tags(b: &UpstreamBackend, bucket: &str, key: &str, tags: &[(String, String)]) -> Result<(), Error> {
    let place = b.place(bucket)?;
    let call = Call::new(if tags.is_empty() { Method::DELETE } else { Method::PUT }, &place.bucket, &place.key(key)).query("tagging", "");
    let body = if tags.is_empty() { Bytes::new() } else { Bytes::from(xml::tagging_body(tags)) };
    let resp = b.client.send(&call, body).await?;
    b.client.ok(resp).await.map_err(missing_key)?;
    Ok(())
}

//! Object operations: put, get, head, delete (one and many), copy.

use super::*;
use crate::auth::Principal;
use crate::meta::{Completes, ObjectRecord, Segment};

use std::ops::Range as ByteRange;

use s3s::S3Response;
use s3s::dto::*;

use crate::backend::Error;

pub(super) async fn put_object(b: &LocalBackend, mut req: S3Request<PutObjectInput>) -> Result<S3Response<PutObjectOutput>, Error> {
    let input = &mut req.input;
    check_key(&input.key)?;
    b.bucket(&input.bucket)?;
    let precondition = write_precondition(input.if_match.as_ref(), input.if_none_match.as_ref())?;
    // Fail fast before reading the body; the transaction re-checks authoritatively.
    precondition.check(b.store.object_get(&input.bucket, &input.key)?.as_ref())?;
    let tags = parse_tagging_header(input.tagging.as_deref())?;
    let attrs = attrs_from_input!(input);
    let expect = expected_from_input!(input);
    let body = input.body.take();
    let body = declared_body(&req.headers, body);
    let (pending, digests) = b.ingest(&req, body, expect).await?;
    let segment = b.blobs.install(pending).await?;
    let record = ObjectRecord {
        size: segment.size,
        etag: digests.md5_hex(),
        last_modified_ns: now_ns(),
        segments: vec![segment],
        multipart: false,
        attrs,
        checksums: digests.checksums,
        tags,
        owner: Principal::of(&req).access_key,
        sha256: digests.sha256,
        proof_id: String::new(),
        checksum_type: None,
        parts: Vec::new(),
    };
    let audit = crate::audit::entry(&req, "PutObject", &req.input.bucket, &req.input.key, record.size);
    let record = commit(b, &req.input.bucket, &req.input.key, record, &precondition, None, &audit).await?;
    let mut headers = http::HeaderMap::new();
    proof_headers(&mut headers, &record);
    let c = record.checksums;
    Ok(S3Response::with_headers(
        PutObjectOutput {
            e_tag: Some(etag(&record.etag)),
            checksum_crc32: c.crc32,
            checksum_crc32c: c.crc32c,
            checksum_crc64nvme: c.crc64nvme,
            checksum_sha1: c.sha1,
            checksum_sha256: c.sha256,
            ..Default::default()
        },
        headers,
    ))
}

/// Makes `record` visible under `key` (if `precondition` holds), then releases the blobs of
/// the object it replaced. On failure the new record's blobs are released instead.
pub(super) async fn commit(
    b: &LocalBackend,
    bucket: &str,
    key: &str,
    record: ObjectRecord,
    precondition: &crate::meta::Precondition,
    upload: Option<&str>,
    audit: &crate::meta::AuditEntry,
) -> Result<ObjectRecord, Error> {
    let segments = record.segments.clone();
    match b.index.commit(bucket, key, record, precondition, upload.map_or(Completes::Nothing, Completes::Upload), audit).await {
        Ok((record, old)) => {
            if let Some(old) = old {
                b.blobs.remove(old.segments.iter().map(|s| s.blob.as_str()));
            }
            Ok(record)
        }
        Err(e) => {
            if upload.is_none() {
                b.blobs.remove(segments.iter().map(|s| s.blob.as_str()));
            }
            Err(e)
        }
    }
}

/// Evaluates read preconditions with S3's precedence: a true `If-Match` overrides a false
/// `If-Unmodified-Since`, a false `If-None-Match` overrides a true `If-Modified-Since`.
fn check_read_conditions(rec: &ObjectRecord, c: &ReadConditions<'_>) -> Result<(), Error> {
    let current = ETag::Strong(rec.etag.clone());
    // HTTP dates have second precision: compare whole seconds.
    let modified = i64::try_from(rec.last_modified_ns / 1_000_000_000).unwrap_or(i64::MAX);
    let secs = |t: &Timestamp| time::OffsetDateTime::from(t.clone()).unix_timestamp();
    match c.if_match {
        Some(ETagCondition::Any) => {}
        Some(ETagCondition::ETag(e)) => {
            if !current.strong_cmp(e) {
                return Err(Error::PreconditionFailed);
            }
        }
        None => {
            if let Some(t) = c.if_unmodified_since
                && modified > secs(t)
            {
                return Err(Error::PreconditionFailed);
            }
        }
    }
    match c.if_none_match {
        Some(ETagCondition::Any) => return Err(not_modified(rec)),
        Some(ETagCondition::ETag(e)) => {
            if current.weak_cmp(e) {
                return Err(not_modified(rec));
            }
        }
        None => {
            if let Some(t) = c.if_modified_since
                && modified <= secs(t)
            {
                return Err(not_modified(rec));
            }
        }
    }
    Ok(())
}

/// What part of an object a read returns.
struct Selection {
    range: ByteRange<u64>,
    content_range: Option<String>,
    parts_count: Option<i32>,
}

fn select(rec: &ObjectRecord, range: Option<&Range>, part_number: Option<i32>) -> Result<Selection, Error> {
    let size = rec.size;
    match (range, part_number) {
        (Some(_), Some(_)) => Err(Error::InvalidRequest("Cannot specify both Range header and partNumber query parameter".into())),
        (None, Some(n)) => {
            let parts = if rec.multipart { rec.segments.len() } else { 1 };
            let idx = usize::try_from(n).ok().filter(|n| (1..=parts).contains(n)).ok_or(Error::InvalidPartNumber)?;
            let (start, len) = if rec.multipart {
                let start: u64 = rec.segments[..idx - 1].iter().map(|s| s.size).sum();
                (start, rec.segments[idx - 1].size)
            } else {
                (0, size)
            };
            let end = start + len;
            Ok(Selection {
                range: start..end,
                content_range: Some(format!("bytes {start}-{}/{size}", end.saturating_sub(1))),
                parts_count: Some(i32::try_from(parts).unwrap_or(i32::MAX)),
            })
        }
        (Some(r), None) => {
            let range = r.check(size).map_err(|_| Error::InvalidRange)?;
            let content_range = Some(format!("bytes {}-{}/{size}", range.start, range.end - 1));
            Ok(Selection { range, content_range, parts_count: None })
        }
        (None, None) => Ok(Selection { range: 0..size, content_range: None, parts_count: None }),
    }
}

/// The checksums to return, with their type: only when asked, and only for a whole object
/// (a multipart object's are composite or full-object, per its upload).
fn returned_checksums(rec: &ObjectRecord, mode: Option<&ChecksumMode>, sel: &Selection) -> (Checksums, Option<String>) {
    let whole = sel.range.start == 0 && sel.range.end == rec.size && (!rec.multipart || sel.parts_count.is_none());
    if whole && !rec.checksums.is_empty() && mode.is_some_and(|m| m.as_str() == ChecksumMode::ENABLED) {
        (rec.checksums.clone(), Some(rec.checksum_type.clone().unwrap_or_else(|| crate::proof::combine::FULL_OBJECT.to_owned())))
    } else {
        (Checksums::default(), None)
    }
}

fn tag_count(rec: &ObjectRecord) -> Option<i32> {
    (!rec.tags.is_empty()).then(|| i32::try_from(rec.tags.len()).unwrap_or(i32::MAX))
}

/// The record a GetObject or HeadObject reads, the part of it selected, and what the
/// answer says about it, once the request's conditions hold.
fn read_selected(
    b: &LocalBackend,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
    r: &ReadRequest<'_>,
) -> Result<(ObjectRecord, Selection, ObjectRead), Error> {
    only_null_version(version_id)?;
    let rec = b.object(bucket, key)?;
    check_read_conditions(&rec, &r.conditions)?;
    let sel = select(&rec, r.range, r.part_number)?;
    let (checksums, checksum_type) = returned_checksums(&rec, r.checksum_mode, &sel);
    let read = ObjectRead {
        checksums,
        checksum_type,
        content_length: Some(i64::try_from(sel.range.end - sel.range.start).unwrap_or(i64::MAX)),
        content_range: sel.content_range.clone(),
        etag: rec.etag.clone(),
        last_modified: Some(timestamp(rec.last_modified_ns)),
        attrs: rec.attrs.clone(),
        parts_count: sel.parts_count,
        tag_count: tag_count(&rec),
    };
    Ok((rec, sel, read))
}

pub(super) async fn get_object(b: &LocalBackend, req: S3Request<GetObjectInput>) -> Result<S3Response<GetObjectOutput>, Error> {
    let input = req.input;
    let (rec, sel, read) = read_selected(b, &input.bucket, &input.key, input.version_id.as_deref(), &read_request!(input))?;
    let body = b.blobs.read(&rec.segments, sel.range);
    let tag_count = read.tag_count;
    let output = object_read_output!(GetObjectOutput, input, read, body: Some(StreamingBlob::wrap(body)), tag_count: tag_count);
    let mut resp = S3Response::new(output);
    proof_headers(&mut resp.headers, &rec);
    raw_metadata_headers(&mut resp.headers, &rec.attrs.user_metadata);
    Ok(resp)
}

pub(super) async fn head_object(b: &LocalBackend, req: S3Request<HeadObjectInput>) -> Result<S3Response<HeadObjectOutput>, Error> {
    let input = req.input;
    let (rec, sel, read) = read_selected(b, &input.bucket, &input.key, input.version_id.as_deref(), &read_request!(input))?;
    let partial = sel.content_range.is_some();
    let tag_count = read.tag_count;
    let output = object_read_output!(HeadObjectOutput, input, read);
    let mut resp = S3Response::new(output);
    proof_headers(&mut resp.headers, &rec);
    raw_metadata_headers(&mut resp.headers, &rec.attrs.user_metadata);
    tag_count_header(&mut resp.headers, tag_count);
    if partial {
        resp.status = Some(http::StatusCode::PARTIAL_CONTENT);
    }
    Ok(resp)
}

/// Deletes one key if `precondition` holds; deleting a missing key succeeds, as in S3,
/// unless `If-Match` asked for it.
async fn delete_key(
    b: &LocalBackend,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
    precondition: &crate::meta::Precondition,
    audit: &crate::meta::AuditEntry,
) -> Result<(), Error> {
    only_null_version(version_id)?;
    check_key(key)?;
    if let Some(old) = b.index.delete(bucket, key, precondition, audit).await? {
        b.blobs.remove(old.segments.iter().map(|s| s.blob.as_str()));
    }
    Ok(())
}

pub(super) async fn delete_object(b: &LocalBackend, req: S3Request<DeleteObjectInput>) -> Result<S3Response<DeleteObjectOutput>, Error> {
    let audit = crate::audit::entry(&req, "DeleteObject", &req.input.bucket, &req.input.key, 0);
    let input = req.input;
    let precondition = delete_precondition(input.if_match.as_ref(), input.if_match_size, input.if_match_last_modified_time.as_ref())?;
    delete_key(b, &input.bucket, &input.key, input.version_id.as_deref(), &precondition, &audit).await?;
    Ok(S3Response::with_status(DeleteObjectOutput::default(), http::StatusCode::NO_CONTENT))
}

pub(super) async fn delete_objects(b: &LocalBackend, req: S3Request<DeleteObjectsInput>) -> Result<S3Response<DeleteObjectsOutput>, Error> {
    let mut audit = crate::audit::entry(&req, "DeleteObjects", &req.input.bucket, "", 0);
    let input = req.input;
    b.bucket(&input.bucket)?;
    let (objects, quiet) = delete_request(input.delete)?;
    let mut outcomes = Vec::with_capacity(objects.len());
    for obj in objects {
        audit.key.clone_from(&obj.key);
        let r = match entry_precondition(&obj) {
            Ok(precondition) => delete_key(b, &input.bucket, &obj.key, obj.version_id.as_deref(), &precondition, &audit).await,
            Err(e) => Err(e),
        };
        outcomes.push((obj, r));
    }
    Ok(S3Response::new(delete_objects_output(outcomes, quiet)))
}

/// The source object of a copy, after its `x-amz-copy-source-if-*` conditions.
pub(super) fn copy_source(b: &LocalBackend, source: &CopySource, conditions: &ReadConditions<'_>) -> Result<(String, String, ObjectRecord), Error> {
    let (bucket, key) = copy_source_location(source)?;
    let rec = b.object(bucket, key)?;
    // For copies a failed If-None-Match / If-Modified-Since is 412, not 304.
    check_read_conditions(&rec, conditions).map_err(|e| if matches!(e, Error::NotModified(_)) { Error::PreconditionFailed } else { e })?;
    Ok((bucket.to_string(), key.to_string(), rec))
}

pub(super) async fn copy_object(b: &LocalBackend, mut req: S3Request<CopyObjectInput>) -> Result<S3Response<CopyObjectOutput>, Error> {
    let input = &mut req.input;
    check_key(&input.key)?;
    let (src_bucket, src_key, src) = copy_source(b, &input.copy_source, &copy_source_conditions!(input))?;
    b.bucket(&input.bucket)?;
    let replace_meta = input.metadata_directive.as_ref().is_some_and(|d| d.as_str() == MetadataDirective::REPLACE);
    let replace_tags = input.tagging_directive.as_ref().is_some_and(|d| d.as_str() == TaggingDirective::REPLACE);
    if src_bucket == input.bucket && src_key == input.key && !replace_meta && !replace_tags {
        return Err(Error::InvalidRequest("This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.".into()));
    }
    let attrs = if replace_meta { attrs_from_input!(input) } else { src.attrs.clone() };
    let tags = if replace_tags { parse_tagging_header(input.tagging.as_deref())? } else { src.tags.clone() };
    let mut segments: Vec<Segment> = Vec::with_capacity(src.segments.len());
    for seg in &src.segments {
        match b.blobs.link(seg).await {
            Ok(s) => segments.push(s),
            Err(e) => {
                b.blobs.remove(segments.iter().map(|s| s.blob.as_str()));
                return Err(e);
            }
        }
    }
    let record = ObjectRecord {
        size: src.size,
        etag: src.etag.clone(),
        last_modified_ns: now_ns(),
        segments,
        multipart: src.multipart,
        attrs,
        checksums: src.checksums.clone(),
        tags,
        owner: Principal::of(&req).access_key,
        // The same bytes (hard links): the source's digest, which scrub re-checks.
        sha256: src.sha256.clone(),
        proof_id: String::new(),
        checksum_type: src.checksum_type.clone(),
        parts: src.parts.clone(),
    };
    let audit = crate::audit::entry(&req, "CopyObject", &req.input.bucket, &req.input.key, record.size);
    let record = commit(b, &req.input.bucket, &req.input.key, record, &crate::meta::Precondition::None, None, &audit).await?;
    Ok(copied_output(&record))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::ObjectAttrs;
    use std::time::{Duration, UNIX_EPOCH};

    fn rec(etag: &str, segs: &[u64], multipart: bool) -> ObjectRecord {
        ObjectRecord {
            size: segs.iter().sum(),
            etag: etag.into(),
            last_modified_ns: 1_000 * 1_000_000_000,
            segments: segs.iter().map(|s| Segment { blob: String::new(), size: *s }).collect(),
            multipart,
            attrs: ObjectAttrs::default(),
            checksums: Checksums::default(),
            tags: vec![],
            owner: String::new(),
            checksum_type: None,
            parts: Vec::new(),
            sha256: String::new(),
            proof_id: String::new(),
        }
    }

    #[test]
    fn part_selection_maps_to_segments() {
        let r = rec("e-3", &[5, 5, 2], true);
        let s = select(&r, None, Some(2)).unwrap();
        assert_eq!(s.range, 5..10);
        assert_eq!(s.content_range.as_deref(), Some("bytes 5-9/12"));
        assert_eq!(s.parts_count, Some(3));
        assert!(matches!(select(&r, None, Some(4)), Err(Error::InvalidPartNumber)));
        assert!(matches!(select(&r, None, Some(0)), Err(Error::InvalidPartNumber)));
        let single = rec("e", &[7], false);
        assert_eq!(select(&single, None, Some(1)).unwrap().range, 0..7);
    }

    #[test]
    fn ranges_follow_rfc_9110() {
        let r = rec("e", &[10], false);
        let sel = |h: &str| select(&r, Some(&Range::parse(h).unwrap()), None);
        assert_eq!(sel("bytes=2-4").unwrap().range, 2..5);
        assert_eq!(sel("bytes=7-").unwrap().range, 7..10);
        assert_eq!(sel("bytes=-3").unwrap().range, 7..10);
        assert_eq!(sel("bytes=5-100").unwrap().range, 5..10);
        assert!(matches!(sel("bytes=10-"), Err(Error::InvalidRange)));
    }

    #[test]
    fn read_conditions_follow_s3_precedence() {
        let r = rec("abc", &[1], false);
        let m = ETagCondition::ETag(ETag::Strong("abc".into()));
        let other = ETagCondition::ETag(ETag::Strong("zzz".into()));
        let early = Timestamp::from(UNIX_EPOCH + Duration::from_secs(10));
        let late = Timestamp::from(UNIX_EPOCH + Duration::from_secs(5000));
        let c = |im, inm, ims, ius| ReadConditions { if_match: im, if_none_match: inm, if_modified_since: ims, if_unmodified_since: ius };
        assert!(check_read_conditions(&r, &c(Some(&m), None, None, Some(&early))).is_ok());
        assert!(matches!(check_read_conditions(&r, &c(Some(&other), None, None, None)), Err(Error::PreconditionFailed)));
        assert!(matches!(check_read_conditions(&r, &c(None, None, None, Some(&early))), Err(Error::PreconditionFailed)));
        assert!(matches!(check_read_conditions(&r, &c(None, Some(&m), None, None)), Err(Error::NotModified(_))));
        assert!(check_read_conditions(&r, &c(None, Some(&other), Some(&late), None)).is_ok());
        assert!(matches!(check_read_conditions(&r, &c(None, None, Some(&late), None)), Err(Error::NotModified(_))));
        assert!(check_read_conditions(&r, &c(None, None, Some(&early), None)).is_ok());
    }
}

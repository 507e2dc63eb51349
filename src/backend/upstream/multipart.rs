//! Multipart uploads through the upstream: the upload and its parts live upstream (parts
//! streamed through, hashed and checked on the way); the index records the upload under
//! the upstream's id, and each part, for listings, topic rules and completion checks.

use super::client::Call;
use super::object::{
    COPY_SOURCE_CONDITION_HEADERS, body_length, copy_source_header, etag_of, hash_back, missing_key, send_upload, unrecorded, with_attrs, with_conditions,
};
use super::{UpstreamBackend, xml};
use crate::auth::Principal;
use crate::backend::Error;
use crate::backend::s3util::*;
use crate::meta::{Completes, ObjectRecord, PartRecord, Precondition, UploadRecord};

use bytes::Bytes;
use http::Method;
use s3s::dto::*;
use s3s::{S3Request, S3Response};

pub(super) async fn create_multipart_upload(
    b: &UpstreamBackend,
    mut req: S3Request<CreateMultipartUploadInput>,
) -> Result<S3Response<CreateMultipartUploadOutput>, Error> {
    let input = &mut req.input;
    check_key(&input.key)?;
    let place = b.place(&input.bucket)?;
    let tags = parse_tagging_header(input.tagging.as_deref())?;
    let (algorithm, checksum_type) = upload_checksum(input.checksum_algorithm.take().as_ref(), input.checksum_type.take().as_ref())?;
    let record = UploadRecord {
        bucket: input.bucket.clone(),
        key: input.key.clone(),
        initiated_ns: now_ns(),
        attrs: attrs_from_input!(input),
        tags,
        checksum_algorithm: algorithm.clone(),
        checksum_type: checksum_type.clone(),
        owner: Principal::of(&req).access_key,
    };
    let call = with_attrs(Call::new(Method::POST, &place.bucket, &place.key(&record.key)).query("uploads", ""), &record.attrs)
        .header_opt("x-amz-tagging", req.input.tagging.as_ref())
        .header_opt("x-amz-checksum-algorithm", algorithm.as_ref())
        .header_opt("x-amz-checksum-type", checksum_type.as_ref());
    let resp = b.client.send(&call, Bytes::new()).await?;
    let started: xml::Initiated = xml::parse(&b.client.xml(resp).await?)?;
    if started.upload_id.is_empty() {
        return Err(Error::Unavailable("the upstream started an upload without an id".into()));
    }
    let audit = crate::audit::entry(&req, "CreateMultipartUpload", &record.bucket, &record.key, 0);
    b.store.upload_create(&started.upload_id, &record, Some(&audit))?;
    b.index.sync().await?;
    Ok(S3Response::new(CreateMultipartUploadOutput {
        bucket: Some(record.bucket),
        key: Some(record.key),
        upload_id: Some(started.upload_id),
        checksum_algorithm: algorithm.map(ChecksumAlgorithm::from),
        checksum_type: checksum_type.map(ChecksumType::from),
        ..Default::default()
    }))
}

fn part_call(place: &super::Place, key: &str, upload_id: &str, number: u32) -> Call {
    Call::new(Method::PUT, &place.bucket, &place.key(key)).query("partNumber", number.to_string()).query("uploadId", upload_id)
}

/// Records a part the upstream stored. Under the key's lock, which a completion holds from
/// reading the parts until it is recorded: a part is recorded before (the completion sees
/// it) or after (refused, `NoSuchUpload`), whatever the upstream made of the race.
async fn record_part(b: &UpstreamBackend, bucket: &str, key: &str, upload_id: &str, part: &PartRecord, audit: &crate::meta::AuditEntry) -> Result<(), Error> {
    {
        let _lock = b.locks.lock(bucket, key).await;
        b.store.part_put(upload_id, part, Some(audit))?;
    }
    b.index.sync().await
}

pub(super) async fn upload_part(b: &UpstreamBackend, mut req: S3Request<UploadPartInput>) -> Result<S3Response<UploadPartOutput>, Error> {
    let number = part_number(req.input.part_number)?;
    let declared = body_length(&req, req.input.content_length);
    let input = &mut req.input;
    let up = b.upload(&input.bucket, &input.key, &input.upload_id)?;
    let place = b.place(&input.bucket)?;
    let mut expect = expected_from_input!(input);
    // The upload's checksum is computed for every part, declared or not (completion needs it).
    expect.algorithm = expect.algorithm.or(up.checksum_algorithm);
    let body = input.body.take();
    let body = declared_body(&req.headers, body);
    let (body, length, _spooled) = super::object::sized(b, declared, body).await?;
    let input = &req.input;
    let call = super::object::with_checksums(part_call(&place, &input.key, &input.upload_id, number), &expect.checksums)
        .header_opt("content-md5", expect.content_md5.as_ref());
    let (headers, digests) = match send_upload(b, BodyCheck::new(&req, expect)?, call, body, length, Default::default()).await {
        Ok(sent) => sent,
        // The upload was completed or aborted while the part streamed: whatever the upstream
        // made of that (moto answers 500), the part has no upload. A completion in flight
        // holds the key's lock until it is recorded.
        Err(e) if !matches!(e, Error::Upstream { status: 400..500, .. }) => {
            drop(b.locks.lock(&req.input.bucket, &req.input.key).await);
            if b.store.upload_get(&req.input.upload_id)?.is_none() {
                tracing::info!(error = %e, "a part's upload went away while it streamed");
                return Err(Error::NoSuchUpload);
            }
            return Err(e);
        }
        Err(e) => return Err(e),
    };
    let part = PartRecord { number, blob: String::new(), size: length, etag: etag_of(&headers), last_modified_ns: now_ns(), checksums: digests.checksums };
    let audit = crate::audit::entry(&req, "UploadPart", &req.input.bucket, &req.input.key, part.size);
    record_part(b, &req.input.bucket, &req.input.key, &req.input.upload_id, &part, &audit).await?;
    let c = part.checksums;
    Ok(S3Response::new(UploadPartOutput {
        e_tag: Some(etag(&part.etag)),
        checksum_crc32: c.crc32,
        checksum_crc32c: c.crc32c,
        checksum_crc64nvme: c.crc64nvme,
        checksum_sha1: c.sha1,
        checksum_sha256: c.sha256,
        ..Default::default()
    }))
}

pub(super) async fn upload_part_copy(b: &UpstreamBackend, req: S3Request<UploadPartCopyInput>) -> Result<S3Response<UploadPartCopyOutput>, Error> {
    let input = &req.input;
    let number = part_number(input.part_number)?;
    b.upload(&input.bucket, &input.key, &input.upload_id)?;
    let place = b.place(&input.bucket)?;
    let (src_bucket, src_key, source) = copy_source_header(b, &input.copy_source)?;
    // The part's size: the range, checked against the source's size.
    let src_place = b.place(&src_bucket)?;
    let head = b.call(Call::new(Method::HEAD, &src_place.bucket, &src_place.key(&src_key))).await.map_err(missing_key)?;
    let src_size = super::object::header_str(head.headers(), "content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    let range = copy_range(input.copy_source_range.as_deref(), src_size)?;
    let call = with_conditions(
        part_call(&place, &input.key, &input.upload_id, number)
            .header("x-amz-copy-source", &source)
            .header_opt("x-amz-copy-source-range", input.copy_source_range.as_ref()),
        COPY_SOURCE_CONDITION_HEADERS,
        &copy_source_conditions!(input),
    );
    let resp = b.client.send(&call, Bytes::new()).await?;
    let result: xml::ETagResult = xml::parse(&b.client.xml(resp).await?)?;
    let part = PartRecord {
        number,
        blob: String::new(),
        size: range.end - range.start,
        etag: result.etag.trim_matches('"').to_owned(),
        last_modified_ns: now_ns(),
        checksums: crate::meta::Checksums::default(),
    };
    let audit = crate::audit::entry(&req, "UploadPartCopy", &input.bucket, &input.key, part.size);
    record_part(b, &input.bucket, &input.key, &input.upload_id, &part, &audit).await?;
    Ok(S3Response::new(UploadPartCopyOutput {
        copy_part_result: Some(CopyPartResult { e_tag: Some(etag(&part.etag)), last_modified: Some(timestamp(part.last_modified_ns)), ..Default::default() }),
        ..Default::default()
    }))
}

pub(super) async fn complete_multipart_upload(
    b: &UpstreamBackend,
    req: S3Request<CompleteMultipartUploadInput>,
) -> Result<S3Response<CompleteMultipartUploadOutput>, Error> {
    let mut audit = crate::audit::entry(&req, "CompleteMultipartUpload", &req.input.bucket, &req.input.key, 0);
    let input = req.input;
    let requested = input.multipart_upload.and_then(|m| m.parts).unwrap_or_default();
    let (bucket, key, upload_id) = (input.bucket, input.key, input.upload_id);
    // An upload completed already: a repeat of that completion is answered from its record
    // (the upstream's completion is not repeated).
    let repeated = || b.index.completed(&bucket, &key, &upload_id, &requested).map(|rec| completed_output(bucket.clone(), key.clone(), &rec));
    let up = match b.upload(&bucket, &key, &upload_id) {
        Err(Error::NoSuchUpload) => return repeated(),
        r => r?,
    };
    let place = b.place(&bucket)?;
    let precondition = write_precondition(input.if_match.as_ref(), input.if_none_match.as_ref())?;
    let _lock = b.locks.lock(&bucket, &key).await;
    if b.store.upload_get(&upload_id)?.is_none() {
        // A concurrent completion of this upload finished while this one waited.
        return repeated();
    }
    let stored = b.store.part_list(&upload_id)?;
    let chosen = chosen_parts(&requested, &stored)?;
    let digest = part_list_digest(chosen.iter().map(|p| (p.number, p.etag.as_str())));
    let (checksums, checksum_type, parts) = completed_checksum(&up, &requested, &chosen, &declared_checksums!(input))?;
    precondition.check(b.store.object_get(&bucket, &key)?.as_ref())?;
    let body: Vec<(u32, String)> = chosen.iter().map(|p| (p.number, format!("\"{}\"", p.etag))).collect();
    let call = Call::new(Method::POST, &place.bucket, &place.key(&key)).query("uploadId", upload_id.as_str());
    let resp = b.client.send(&call, Bytes::from(xml::complete_body(&body))).await?;
    let done: xml::ETagResult = xml::parse(&b.client.xml(resp).await?)?;
    // The SHA-256 of the whole object: what the upstream assembled, read back once.
    let (size, sha256) = hash_back(b, &bucket, &key).await?;
    let expected: u64 = chosen.iter().map(|p| p.size).sum();
    if size != expected {
        tracing::warn!(%bucket, %key, size, expected, "the upstream assembled an object of another size than its parts");
    }
    let rec = ObjectRecord {
        size,
        etag: done.etag.trim_matches('"').to_owned(),
        last_modified_ns: now_ns(),
        segments: Vec::new(),
        multipart: true,
        attrs: up.attrs,
        checksums,
        tags: up.tags,
        owner: up.owner,
        sha256,
        proof_id: String::new(),
        checksum_type,
        parts,
    };
    audit.bytes = rec.size;
    let completes = Completes::Multipart { upload: &upload_id, parts: &digest };
    let rec = match b.index.commit(&bucket, &key, rec, &Precondition::None, completes, &audit).await {
        Ok((rec, _)) => rec,
        Err(e) => return Err(unrecorded(b, &place, &bucket, &key, &audit, e).await),
    };
    Ok(completed_output(bucket, key, &rec))
}

/// Aborts an upload upstream (an upload it no longer knows is gone already) and forgets it.
async fn abort(b: &UpstreamBackend, up: &UploadRecord, upload_id: &str, audit: &crate::meta::AuditEntry) -> Result<(), Error> {
    let place = b.place(&up.bucket)?;
    match b.call(Call::new(Method::DELETE, &place.bucket, &place.key(&up.key)).query("uploadId", upload_id)).await {
        Ok(_) | Err(Error::Upstream { status: 404, .. }) => {}
        Err(e) => return Err(e),
    }
    b.store.upload_delete(upload_id, Some(audit))?;
    b.index.sync().await
}

pub(super) async fn abort_multipart_upload(
    b: &UpstreamBackend,
    req: S3Request<AbortMultipartUploadInput>,
) -> Result<S3Response<AbortMultipartUploadOutput>, Error> {
    let audit = crate::audit::entry(&req, "AbortMultipartUpload", &req.input.bucket, &req.input.key, 0);
    let input = &req.input;
    let up = b.upload(&input.bucket, &input.key, &input.upload_id)?;
    abort(b, &up, &input.upload_id, &audit).await?;
    Ok(S3Response::with_status(AbortMultipartUploadOutput::default(), http::StatusCode::NO_CONTENT))
}

pub(super) async fn expire(b: &UpstreamBackend, upload_id: &str) -> Result<(), Error> {
    let Some(up) = b.store.upload_get(upload_id)? else {
        return Ok(());
    };
    let gateway = crate::auth::Principal::anonymous();
    let audit = crate::audit::entry_for(&gateway, None, "ExpireMultipartUpload", &up.bucket, &up.key, "ok", 0);
    abort(b, &up, upload_id, &audit).await
}

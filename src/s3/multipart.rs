//! Multipart uploads: create, upload parts, complete, abort, and their listings (answered
//! from the index). A completion repeated after it succeeded (an SDK retry) is answered as
//! the first was.

use super::Gateway;
use super::answer::completed_output;
use super::request::*;
use super::sse;
use crate::auth::Principal;
use crate::backend::s3util::*;
use crate::backend::{Error, Incoming, NewPart, UploadCompletion};
use crate::meta::ObjectAttrs;
use crate::meta::{PartRecord, UploadRecord};

use s3s::dto::*;
use s3s::{S3Request, S3Response};

/// The upload `id` of `bucket`/`key`, as this instance's index has it or, in a cluster, as
/// the instance that started it shared it (brought into the index); with `parts`, with
/// every part shared since, wherever it was taken.
pub(super) async fn known_upload(g: &Gateway, bucket: &str, key: &str, id: &str, parts: bool) -> Result<UploadRecord, Error> {
    if let Some(shared) = g.control.uploads() {
        shared.adopt(g.store.as_ref(), id, parts).await?;
    }
    g.backends.of(bucket).index().upload(bucket, key, id)
}

/// Shares a part just recorded with the cluster, if in one.
pub(super) async fn share_part(g: &Gateway, upload_id: &str, part: &PartRecord) -> Result<(), Error> {
    match g.control.uploads() {
        Some(shared) => shared.publish_part(upload_id, part).await,
        None => Ok(()),
    }
}

/// Drops a finished upload's shared records, if in a cluster.
async fn forget_shared(g: &Gateway, upload_id: &str) {
    if let Some(shared) = g.control.uploads() {
        shared.forget(upload_id).await;
    }
}

pub(super) async fn create_multipart_upload(
    g: &Gateway,
    mut req: S3Request<CreateMultipartUploadInput>,
) -> Result<S3Response<CreateMultipartUploadOutput>, Error> {
    let backend = g.backends.of(&req.input.bucket);
    check_key(&req.input.key)?;
    let bucket = backend.index().bucket(&req.input.bucket)?;
    let terms = super::request::write_checks(g, &bucket, Principal::of(&req).writing_tenant(), &req.input)?;
    let (seal, customer) = sse::requested_seal(g, &req)?;
    let (sealing, escrow_key) = match seal.as_ref().map(crate::backend::sealed::Seal::new_key).transpose()? {
        // An SSE-C upload's key stays openable by the gateway until completion (which
        // reads the object back for its digest without the customer's key).
        Some((key, sealing)) => (Some(sealing), if customer { g.sse.escrow(&key) } else { String::new() }),
        None => (None, String::new()),
    };
    let input = &mut req.input;
    let tags = parse_tagging_header(input.tagging.as_deref())?;
    let (algorithm, checksum_type) = upload_checksum(input.checksum_algorithm.take().as_ref(), input.checksum_type.take().as_ref())?;
    let mut record = UploadRecord {
        bucket: input.bucket.clone(),
        key: input.key.clone(),
        initiated_ns: now_ns(),
        attrs: ObjectAttrs::from(&mut *input),
        tags,
        checksum_algorithm: algorithm.clone(),
        checksum_type: checksum_type.clone(),
        owner: Principal::of(&req).access_key().to_owned(),
        location: String::new(),
        retention: terms.retention,
        legal_hold: terms.legal_hold,
        acl: terms.acl,
        sealing,
        escrow_key,
    };
    let id = backend.start_upload(&mut record, req.input.tagging.as_deref()).await?;
    // Shared before it is recorded here: an upload this index holds is always in the
    // cluster's listing unless finished (see `SharedUploads::adopt_bucket`).
    if let Some(shared) = g.control.uploads() {
        shared.publish(&id, &record).await?;
    }
    let audit = crate::audit::entry(&req, crate::ops::Operation::CreateMultipartUpload, &record.bucket, &record.key, 0);
    g.store.upload_create(&id, &record, Some(&audit))?;
    backend.index().sync().await?;
    let mut output = CreateMultipartUploadOutput {
        bucket: Some(record.bucket),
        key: Some(record.key),
        upload_id: Some(id),
        checksum_algorithm: algorithm.map(ChecksumAlgorithm::from),
        checksum_type: checksum_type.map(ChecksumType::from),
        ..Default::default()
    };
    sse::answer_sse!(output, record.sealing.as_ref());
    Ok(S3Response::new(output))
}

pub(super) async fn upload_part(g: &Gateway, mut req: S3Request<UploadPartInput>) -> Result<S3Response<UploadPartOutput>, Error> {
    let number = part_number(req.input.part_number)?;
    let keys = sse::request_keys(g, &req)?;
    let length = declared_length(&req.headers, req.input.content_length);
    let backend = g.backends.of(&req.input.bucket);
    let input = &mut req.input;
    let upload = known_upload(g, &input.bucket, &input.key, &input.upload_id, false).await?;
    // The parts of a version that will be locked say their digest, as AWS requires.
    let default_retention = backend.index().bucket(&input.bucket)?.object_lock.is_some_and(|l| l.default_retention.is_some());
    if (upload.retention.is_some() || upload.legal_hold || default_retention) && !super::lock::has_integrity_header(&req.headers) {
        return Err(Error::InvalidRequest("Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests with Object Lock parameters".into()));
    }
    let input = &mut req.input;
    let mut expect = Expected::from(&mut *input);
    // The upload's checksum is computed for every part, declared or not (completion needs it).
    expect.algorithm = expect.algorithm.or_else(|| upload.checksum_algorithm.clone());
    let body = declared_body(&req.headers, input.body.take());
    let check = BodyCheck::new(&req, expect)?;
    let key = keys.upload_key(&upload)?;
    let part = NewPart {
        upload: &upload,
        upload_id: &req.input.upload_id,
        number,
        incoming: Incoming { body, length, check },
        audit: crate::audit::entry(&req, crate::ops::Operation::UploadPart, &req.input.bucket, &req.input.key, 0),
        key,
    };
    let part = backend.upload_part(part).await?;
    share_part(g, &req.input.upload_id, &part).await?;
    let c = part.checksums;
    let mut output = UploadPartOutput {
        e_tag: Some(etag(&part.etag)),
        checksum_crc32: c.crc32,
        checksum_crc32c: c.crc32c,
        checksum_crc64nvme: c.crc64nvme,
        checksum_sha1: c.sha1,
        checksum_sha256: c.sha256,
        ..Default::default()
    };
    sse::answer_sse!(output, upload.sealing.as_ref());
    Ok(S3Response::new(output))
}

pub(super) async fn complete_multipart_upload(
    g: &Gateway,
    req: S3Request<CompleteMultipartUploadInput>,
) -> Result<S3Response<CompleteMultipartUploadOutput>, Error> {
    let audit = crate::audit::entry(&req, crate::ops::Operation::CompleteMultipartUpload, &req.input.bucket, &req.input.key, 0);
    let mut input = req.input;
    let backend = g.backends.of(&input.bucket);
    let requested = input.multipart_upload.take().and_then(|m| m.parts).unwrap_or_default();
    let precondition = write_precondition(input.if_match.as_ref(), input.if_none_match.as_ref())?;
    // In a cluster, the parts taken by other instances are brought in first.
    let data_key = match known_upload(g, &input.bucket, &input.key, &input.upload_id, true).await {
        Ok(upload) => g.sse.completion_key(&upload)?,
        Err(Error::NoSuchUpload) => None,
        Err(e) => return Err(e),
    };
    let completion = UploadCompletion {
        bucket: &input.bucket,
        key: &input.key,
        upload_id: &input.upload_id,
        requested: &requested,
        declared: &declared_checksums(&input),
        precondition,
        audit,
        data_key,
    };
    match backend.complete(completion).await {
        Ok(record) => {
            forget_shared(g, &input.upload_id).await;
            super::objects::share_sealed(g, &input.bucket, &input.key, &record).await?;
            Ok(completed_output(input.bucket, input.key, &record, g.store.as_ref()))
        }
        // The upload is gone: completed already (a repeat is answered as it was), or not.
        Err(Error::NoSuchUpload) => {
            let record = backend.index().completed(&input.bucket, &input.key, &input.upload_id, &requested)?;
            Ok(completed_output(input.bucket, input.key, &record, g.store.as_ref()))
        }
        Err(e) => Err(e),
    }
}

pub(super) async fn abort_multipart_upload(g: &Gateway, req: S3Request<AbortMultipartUploadInput>) -> Result<S3Response<AbortMultipartUploadOutput>, Error> {
    let audit = crate::audit::entry(&req, crate::ops::Operation::AbortMultipartUpload, &req.input.bucket, &req.input.key, 0);
    let input = &req.input;
    let backend = g.backends.of(&input.bucket);
    let upload = known_upload(g, &input.bucket, &input.key, &input.upload_id, false).await?;
    backend.abort(&upload, &input.upload_id, &audit).await?;
    forget_shared(g, &input.upload_id).await;
    Ok(S3Response::with_status(AbortMultipartUploadOutput::default(), http::StatusCode::NO_CONTENT))
}

pub(super) async fn list_parts(g: &Gateway, req: S3Request<ListPartsInput>) -> Result<S3Response<ListPartsOutput>, Error> {
    let input = req.input;
    let up = known_upload(g, &input.bucket, &input.key, &input.upload_id, true).await?;
    let b = g.backends.of(&input.bucket).index();
    let max = usize::try_from(input.max_parts.unwrap_or(1000).clamp(0, 1000)).unwrap_or(1000);
    let marker = input.part_number_marker.unwrap_or(0);
    let after: Vec<PartRecord> = b.store.part_list(&input.upload_id)?.into_iter().filter(|p| i64::from(p.number) > i64::from(marker)).collect();
    let truncated = after.len() > max;
    let page: Vec<Part> = after
        .into_iter()
        .take(max)
        .map(|p| Part {
            part_number: Some(i32::try_from(p.number).unwrap_or(i32::MAX)),
            e_tag: Some(etag(&p.etag)),
            size: Some(i64::try_from(p.size).unwrap_or(i64::MAX)),
            last_modified: Some(timestamp(p.last_modified_ns)),
            checksum_crc32: p.checksums.crc32,
            checksum_crc32c: p.checksums.crc32c,
            checksum_crc64nvme: p.checksums.crc64nvme,
            checksum_sha1: p.checksums.sha1,
            checksum_sha256: p.checksums.sha256,
        })
        .collect();
    let own = owner(&b.bucket(&input.bucket)?.tenant);
    Ok(S3Response::new(ListPartsOutput {
        bucket: Some(input.bucket),
        key: Some(input.key),
        upload_id: Some(input.upload_id),
        part_number_marker: Some(marker),
        next_part_number_marker: page.last().and_then(|p| p.part_number).filter(|_| truncated),
        max_parts: Some(i32::try_from(max).unwrap_or(1000)),
        is_truncated: Some(truncated),
        parts: Some(page),
        owner: Some(own.clone()),
        initiator: Some(Initiator { id: own.id.clone(), display_name: own.display_name }),
        storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
        checksum_algorithm: up.checksum_algorithm.map(ChecksumAlgorithm::from),
        checksum_type: up.checksum_type.map(ChecksumType::from),
        ..Default::default()
    }))
}

pub(super) async fn list_multipart_uploads(g: &Gateway, req: S3Request<ListMultipartUploadsInput>) -> Result<S3Response<ListMultipartUploadsOutput>, Error> {
    let input = req.input;
    let b = g.backends.of(&input.bucket).index();
    let bucket = b.bucket(&input.bucket)?;
    if let Some(shared) = g.control.uploads() {
        shared.adopt_bucket(g.store.as_ref(), &input.bucket).await?;
    }
    let own = owner(&bucket.tenant);
    let prefix = input.prefix.clone().unwrap_or_default();
    let delimiter = input.delimiter.clone().filter(|d| !d.is_empty());
    let max = usize::try_from(input.max_uploads.unwrap_or(1000).clamp(0, 1000)).unwrap_or(1000);
    let key_marker = input.key_marker.clone().unwrap_or_default();
    let id_marker = input.upload_id_marker.clone().unwrap_or_default();
    let mut uploads = Vec::new();
    let mut prefixes: Vec<String> = Vec::new();
    let mut truncated = false;
    let mut next = (None, None);
    for (id, u) in b.store.upload_list(&input.bucket)? {
        if !u.key.starts_with(&prefix) {
            continue;
        }
        let after_marker = u.key > key_marker || (u.key == key_marker && !id_marker.is_empty() && id > id_marker);
        if !key_marker.is_empty() && !after_marker {
            continue;
        }
        if let Some(d) = &delimiter
            && let Some(pos) = u.key[prefix.len()..].find(d.as_str())
        {
            let cp = u.key[..prefix.len() + pos + d.len()].to_owned();
            if prefixes.last() != Some(&cp) {
                if uploads.len() + prefixes.len() == max {
                    truncated = true;
                    break;
                }
                prefixes.push(cp);
            }
            continue;
        }
        if uploads.len() + prefixes.len() == max {
            truncated = true;
            break;
        }
        next = (Some(u.key.clone()), Some(id.clone()));
        uploads.push(MultipartUpload {
            key: Some(u.key),
            upload_id: Some(id),
            initiated: Some(timestamp(u.initiated_ns)),
            owner: Some(own.clone()),
            initiator: Some(Initiator { id: own.id.clone(), display_name: own.display_name.clone() }),
            storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
            checksum_algorithm: u.checksum_algorithm.map(ChecksumAlgorithm::from),
            ..Default::default()
        });
    }
    Ok(S3Response::new(ListMultipartUploadsOutput {
        bucket: Some(input.bucket),
        prefix: Some(prefix),
        delimiter,
        key_marker: input.key_marker,
        upload_id_marker: input.upload_id_marker,
        next_key_marker: if truncated { next.0 } else { None },
        next_upload_id_marker: if truncated { next.1 } else { None },
        max_uploads: Some(i32::try_from(max).unwrap_or(1000)),
        is_truncated: Some(truncated),
        uploads: (!uploads.is_empty()).then_some(uploads),
        common_prefixes: (!prefixes.is_empty()).then(|| prefixes.into_iter().map(|p| CommonPrefix { prefix: Some(p) }).collect()),
        ..Default::default()
    }))
}

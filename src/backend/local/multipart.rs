//! Multipart uploads. Parts are blobs of their own; completion writes no bytes: the
//! object's segments are the chosen parts, so completing a 5 GiB upload is one metadata
//! transaction.

use super::object::copy_source;
use super::*;
use crate::auth::Principal;
use crate::meta::{Completes, ObjectRecord, PartRecord, Segment, UploadRecord};

use s3s::S3Response;
use s3s::dto::*;

use crate::backend::Error;

pub(super) async fn create_multipart_upload(
    b: &LocalBackend,
    mut req: S3Request<CreateMultipartUploadInput>,
) -> Result<S3Response<CreateMultipartUploadOutput>, Error> {
    let input = &mut req.input;
    if input.key.len() > 1024 {
        return Err(Error::KeyTooLong);
    }
    b.bucket(&input.bucket)?;
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
    let id = blobs::new_id();
    let audit = crate::audit::entry(&req, "CreateMultipartUpload", &record.bucket, &record.key, 0);
    b.store.upload_create(&id, &record, Some(&audit))?;
    b.sync().await?;
    Ok(S3Response::new(CreateMultipartUploadOutput {
        bucket: Some(record.bucket),
        key: Some(record.key),
        upload_id: Some(id),
        checksum_algorithm: algorithm.map(ChecksumAlgorithm::from),
        checksum_type: checksum_type.map(ChecksumType::from),
        ..Default::default()
    }))
}

/// Per-upload locks (upload ids are random, unique across the process's backends): a part
/// is recorded, replacing and releasing the part of its number, either before a
/// completion of its upload reads the parts or after the completion committed, never in
/// between — else the completion could make an object of a part whose blob the replacing
/// part just released, and leave the replacing part's record behind. Only the recording
/// waits, not the part's bytes, and only for a completion of the same upload.
#[derive(Default)]
struct UploadLocks(std::sync::Mutex<std::collections::HashMap<String, std::sync::Arc<tokio::sync::Mutex<()>>>>);

static UPLOAD_LOCKS: std::sync::LazyLock<UploadLocks> = std::sync::LazyLock::new(UploadLocks::default);

/// Holds an upload's lock; the entry goes away with its last holder or waiter.
struct UploadGuard {
    id: String,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl UploadLocks {
    fn map(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, std::sync::Arc<tokio::sync::Mutex<()>>>> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

async fn lock_upload(id: &str) -> UploadGuard {
    let slot = std::sync::Arc::clone(UPLOAD_LOCKS.map().entry(id.to_owned()).or_default());
    UploadGuard { id: id.to_owned(), guard: Some(slot.lock_owned().await) }
}

impl Drop for UploadGuard {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut map = UPLOAD_LOCKS.map();
        // Only the map holds it now: nobody waits for this upload.
        if map.get(&self.id).is_some_and(|slot| std::sync::Arc::strong_count(slot) == 1) {
            map.remove(&self.id);
        }
    }
}

/// Records a part whose blob is installed; releases the blob it replaces (or its own
/// blob if the upload went away meanwhile).
async fn record_part(b: &LocalBackend, upload_id: &str, part: &PartRecord, audit: &crate::meta::AuditEntry) -> Result<(), Error> {
    let _lock = lock_upload(upload_id).await;
    match b.store.part_put(upload_id, part, Some(audit)) {
        Ok(old) => {
            b.sync().await?;
            if let Some(old) = old {
                b.blobs.remove([old.blob.as_str()]);
            }
            Ok(())
        }
        Err(e) => {
            b.blobs.remove([part.blob.as_str()]);
            Err(e.into())
        }
    }
}

pub(super) async fn upload_part(b: &LocalBackend, mut req: S3Request<UploadPartInput>) -> Result<S3Response<UploadPartOutput>, Error> {
    let input = &mut req.input;
    let number = part_number(input.part_number)?;
    let upload_id = input.upload_id.clone();
    let up = b.upload(&input.bucket, &input.key, &upload_id)?;
    let mut expect = expected_from_input!(input);
    // The upload's checksum is computed for every part, declared or not (completion needs it).
    expect.algorithm = expect.algorithm.or(up.checksum_algorithm);
    let body = input.body.take();
    let body = declared_body(&req.headers, body);
    let (pending, digests) = b.ingest(&req, body, expect).await?;
    let segment = b.blobs.install(pending).await?;
    let part = PartRecord { number, blob: segment.blob, size: segment.size, etag: digests.md5_hex(), last_modified_ns: now_ns(), checksums: digests.checksums };
    let audit = crate::audit::entry(&req, "UploadPart", &req.input.bucket, &req.input.key, part.size);
    record_part(b, &upload_id, &part, &audit).await?;
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

pub(super) async fn upload_part_copy(b: &LocalBackend, req: S3Request<UploadPartCopyInput>) -> Result<S3Response<UploadPartCopyOutput>, Error> {
    let input = &req.input;
    let number = part_number(input.part_number)?;
    let up = b.upload(&input.bucket, &input.key, &input.upload_id)?;
    let (_, _, src) = copy_source(b, &input.copy_source, &copy_source_conditions!(input))?;
    // The upload's checksum, for completion.
    let mut set = ChecksumSet::default();
    if let Some(alg) = &up.checksum_algorithm {
        set.add(alg);
    }
    let range = copy_range(input.copy_source_range.as_deref(), src.size)?;
    let body = futures::StreamExt::map(b.blobs.read(&src.segments, range), |r| r.map_err(|e| Box::new(e) as s3s::StdError));
    let (pending, hasher) = b.blobs.write(Box::pin(body), BodyHasher::new(set), b.opts.max_object_size).await?;
    let digests = hasher.finish();
    let segment = b.blobs.install(pending).await?;
    let part = PartRecord { number, blob: segment.blob, size: segment.size, etag: digests.md5_hex(), last_modified_ns: now_ns(), checksums: digests.checksums };
    let audit = crate::audit::entry(&req, "UploadPartCopy", &input.bucket, &input.key, part.size);
    record_part(b, &input.upload_id, &part, &audit).await?;
    Ok(S3Response::new(UploadPartCopyOutput {
        copy_part_result: Some(CopyPartResult { e_tag: Some(etag(&part.etag)), last_modified: Some(timestamp(part.last_modified_ns)), ..Default::default() }),
        ..Default::default()
    }))
}

pub(super) async fn complete_multipart_upload(
    b: &LocalBackend,
    req: S3Request<CompleteMultipartUploadInput>,
) -> Result<S3Response<CompleteMultipartUploadOutput>, Error> {
    let mut audit = crate::audit::entry(&req, "CompleteMultipartUpload", &req.input.bucket, &req.input.key, 0);
    let input = req.input;
    let requested = input.multipart_upload.and_then(|m| m.parts).unwrap_or_default();
    let (bucket, key, upload_id) = (input.bucket, input.key, input.upload_id);
    // An upload completed already: a repeat of that completion is answered as it was.
    let repeated = || b.index.completed(&bucket, &key, &upload_id, &requested).map(|rec| completed_output(bucket.clone(), key.clone(), &rec));
    let precondition = write_precondition(input.if_match.as_ref(), input.if_none_match.as_ref())?;
    let _lock = lock_upload(&upload_id).await;
    let up = match b.upload(&bucket, &key, &upload_id) {
        Err(Error::NoSuchUpload) => return repeated(),
        r => r?,
    };
    let stored = b.store.part_list(&upload_id)?;
    let chosen = chosen_parts(&requested, &stored)?;
    let (checksums, checksum_type, parts) = completed_checksum(&up, &requested, &chosen, &declared_checksums!(input))?;
    let etag_value = multipart_etag(&chosen)?;
    let digest = part_list_digest(chosen.iter().map(|p| (p.number, p.etag.as_str())));
    // The SHA-256 of the whole object: its parts read in order, streamed, once.
    let segments: Vec<Segment> = chosen.iter().map(|p| Segment { blob: p.blob.clone(), size: p.size }).collect();
    let size: u64 = chosen.iter().map(|p| p.size).sum();
    let (_, sha256) = sha256_of(b.blobs.read(&segments, 0..size)).await?;
    let record = ObjectRecord {
        size,
        etag: etag_value,
        last_modified_ns: now_ns(),
        segments,
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
    audit.bytes = record.size;
    let completes = Completes::Multipart { upload: &upload_id, parts: &digest };
    let record = match b.index.commit(&bucket, &key, record, &precondition, completes, &audit).await {
        Ok((record, old)) => {
            if let Some(old) = old {
                b.blobs.remove(old.segments.iter().map(|s| s.blob.as_str()));
            }
            record
        }
        // A concurrent completion of this upload committed first (the parts are its).
        Err(Error::NoSuchUpload) => return repeated(),
        Err(e) => return Err(e),
    };
    // Parts uploaded but not named in the completion are discarded.
    b.blobs.remove(stored.iter().filter(|s| !record.segments.iter().any(|seg| seg.blob == s.blob)).map(|s| s.blob.as_str()));
    Ok(completed_output(bucket, key, &record))
}

pub(super) async fn abort_multipart_upload(
    b: &LocalBackend,
    req: S3Request<AbortMultipartUploadInput>,
) -> Result<S3Response<AbortMultipartUploadOutput>, Error> {
    let audit = crate::audit::entry(&req, "AbortMultipartUpload", &req.input.bucket, &req.input.key, 0);
    let input = req.input;
    b.upload(&input.bucket, &input.key, &input.upload_id)?;
    let parts = b.store.upload_delete(&input.upload_id, Some(&audit))?;
    b.sync().await?;
    b.blobs.remove(parts.iter().map(|p| p.blob.as_str()));
    Ok(S3Response::with_status(AbortMultipartUploadOutput::default(), http::StatusCode::NO_CONTENT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_ranges_are_checked_against_the_source() {
        assert_eq!(copy_range(None, 10).unwrap(), 0..10);
        assert_eq!(copy_range(Some("bytes=2-5"), 10).unwrap(), 2..6);
        assert!(copy_range(Some("bytes=5-10"), 10).is_err());
        assert!(copy_range(Some("bytes=5-2"), 10).is_err());
        assert!(copy_range(Some("5-6"), 10).is_err());
    }

    #[test]
    fn part_numbers_are_bounded() {
        assert!(part_number(0).is_err());
        assert!(part_number(10_001).is_err());
        assert_eq!(part_number(10_000).unwrap(), 10_000);
    }
}

//! Multipart uploads. Parts are blobs of their own; completion writes no bytes: the
//! object's segments are the chosen parts, so completing a 5 GiB upload is one metadata
//! transaction.

use super::object::copy_source;
use super::*;
use crate::backend::s3util::*;
use crate::meta::{Completes, Segment};
use crate::proof::hashing::{BodyHasher, ChecksumSet};

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

pub(super) async fn upload_part(b: &LocalBackend, p: NewPart<'_>) -> Result<PartRecord, Error> {
    let (pending, digests) = b.ingest(p.incoming).await?;
    install_part(b, p.upload_id, p.number, pending, digests, p.audit).await
}

pub(super) async fn upload_part_copy(b: &LocalBackend, p: PartCopy<'_>) -> Result<PartRecord, Error> {
    let src = copy_source(b, p.source_bucket, p.source_key, &p.conditions)?;
    // The upload's checksum, for completion.
    let mut set = ChecksumSet::default();
    if let Some(alg) = &p.upload.checksum_algorithm {
        set.add(alg);
    }
    let range = copy_range(p.range, src.size)?;
    let body = futures::StreamExt::map(b.blobs.read(&src.segments, range), |r| r.map_err(|e| Box::new(e) as s3s::StdError));
    let (pending, hasher) = b.blobs.write(Box::pin(body), BodyHasher::new(set), b.opts.max_object_size).await?;
    install_part(b, p.upload_id, p.number, pending, hasher.finish(), p.audit).await
}

/// Installs a part's written blob and records it (the audit entry gets its size).
async fn install_part(
    b: &LocalBackend,
    upload_id: &str,
    number: u32,
    pending: blobs::PendingBlob,
    digests: BodyDigests,
    mut audit: AuditEntry,
) -> Result<PartRecord, Error> {
    let segment = b.blobs.install(pending).await?;
    let part = PartRecord { number, blob: segment.blob, size: segment.size, etag: digests.md5_hex(), last_modified_ns: now_ns(), checksums: digests.checksums };
    audit.bytes = part.size;
    record_part(b, upload_id, &part, &audit).await?;
    Ok(part)
}

pub(super) async fn complete(b: &LocalBackend, c: UploadCompletion<'_>) -> Result<ObjectRecord, Error> {
    let _lock = lock_upload(c.upload_id).await;
    let up = b.upload(c.bucket, c.key, c.upload_id)?;
    let stored = b.store.part_list(c.upload_id)?;
    let plan = plan_completion(&up, c.requested, &stored, c.declared)?;
    let etag = multipart_etag(&plan.chosen)?;
    // The SHA-256 of the whole object: its parts read in order, streamed, once.
    let segments: Vec<Segment> = plan.chosen.iter().map(|p| Segment { blob: p.blob.clone(), size: p.size }).collect();
    let (_, sha256) = sha256_of(b.blobs.read(&segments, 0..plan.size)).await?;
    let record = ObjectRecord {
        size: plan.size,
        etag,
        last_modified_ns: now_ns(),
        segments,
        multipart: true,
        attrs: up.attrs,
        checksums: plan.checksums,
        tags: up.tags,
        owner: up.owner,
        sha256,
        proof_id: String::new(),
        checksum_type: plan.checksum_type,
        parts: plan.parts,
    };
    let mut audit = c.audit;
    audit.bytes = record.size;
    let completes = Completes::Multipart { upload: c.upload_id, parts: &plan.digest };
    // A concurrent completion of this upload may have committed first: `NoSuchUpload`.
    let (record, old) = b.index.commit(c.bucket, c.key, record, &c.precondition, completes, &audit).await?;
    if let Some(old) = old {
        b.blobs.remove(old.segments.iter().map(|s| s.blob.as_str()));
    }
    // Parts uploaded but not named in the completion are discarded.
    b.blobs.remove(stored.iter().filter(|s| !record.segments.iter().any(|seg| seg.blob == s.blob)).map(|s| s.blob.as_str()));
    Ok(record)
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

//! Multipart uploads. Parts are blobs of their own; completion writes no bytes: the
//! object's segments are the chosen parts, so completing a 5 GiB upload is one read (for
//! its SHA-256) and one metadata transaction.

use super::*;
use crate::backend::s3util::*;
use crate::meta::Segment;
use crate::proof::hashing::{BodyHasher, ChecksumSet};

pub(super) async fn write_part(b: &LocalBackend, number: u32, incoming: Incoming) -> Result<PartRecord, Error> {
    let (pending, digests) = b.ingest(incoming).await?;
    install_part(b, number, pending, digests).await
}

pub(super) async fn copy_part(b: &LocalBackend, p: &PartCopy<'_>, source: &ObjectRecord) -> Result<PartRecord, Error> {
    // The upload's checksum, for completion.
    let mut set = ChecksumSet::default();
    if let Some(alg) = &p.upload.checksum_algorithm {
        set.add(alg);
    }
    let range = copy_range(p.range, source.size)?;
    let body = futures::StreamExt::map(b.blobs.read(&source.segments, range), |r| r.map_err(|e| Box::new(e) as s3s::StdError));
    let (pending, hasher) = b.blobs.write(Box::pin(body), BodyHasher::new(set), b.opts.max_object_size).await?;
    install_part(b, p.number, pending, hasher.finish()).await
}

/// Installs a part's written blob; returns its record.
async fn install_part(b: &LocalBackend, number: u32, pending: blobs::PendingBlob, digests: BodyDigests) -> Result<PartRecord, Error> {
    let segment = b.blobs.install(pending).await?;
    Ok(PartRecord {
        number,
        blob: segment.blob,
        size: segment.size,
        etag: digests.md5_hex(),
        last_modified_ns: now_ns(),
        checksums: digests.checksums,
        stored_size: 0,
        stored_etag: String::new(),
    })
}

/// The object of the chosen parts: their blobs in order, so no byte is written; its
/// SHA-256 is read from them once, streamed.
pub(super) async fn compose(b: &LocalBackend, chosen: &[&PartRecord], size: u64) -> Result<Stored, Error> {
    let etag = multipart_etag(chosen)?;
    let segments: Vec<Segment> = chosen.iter().map(|p| Segment { blob: p.blob.clone(), size: p.size }).collect();
    let (_, sha256) = sha256_of(b.blobs.read(&segments, 0..size)).await?;
    Ok(Stored { size, etag, checksums: crate::meta::Checksums::default(), sha256, segments })
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

//! Objects on local disk: a body written to a new blob, a copy linking the source's blobs.

use super::LocalBackend;
use crate::backend::s3util::now_ns;
use crate::backend::{Error, Incoming, Stored};
use crate::meta::{ObjectRecord, Segment};

/// Writes a body to a new blob, verified and installed (not yet referenced).
pub(super) async fn write(b: &LocalBackend, incoming: Incoming) -> Result<Stored, Error> {
    let (pending, digests) = b.ingest(incoming).await?;
    let segment = b.blobs.install(pending).await?;
    Ok(Stored { size: segment.size, etag: digests.md5_hex(), checksums: digests.checksums, sha256: digests.sha256, segments: vec![segment] })
}

/// The source's bytes as new links (hard links: no byte is copied), described by the
/// source's record; its digest stays true, and scrub re-checks it.
pub(super) async fn copy(b: &LocalBackend, source: &ObjectRecord) -> Result<ObjectRecord, Error> {
    let mut segments: Vec<Segment> = Vec::with_capacity(source.segments.len());
    for seg in &source.segments {
        match b.blobs.link(seg).await {
            Ok(s) => segments.push(s),
            Err(e) => {
                b.blobs.remove(segments.iter().map(|s| s.blob.as_str()));
                return Err(e);
            }
        }
    }
    Ok(ObjectRecord { segments, last_modified_ns: now_ns(), ..source.clone() })
}

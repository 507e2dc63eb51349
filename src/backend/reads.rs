//! Reads answered from the index (for engines keeping blobs): S3's read conditions, the
//! range or part selected, and what the answer says of the object.

use super::engine::{Engine, Readout};
use super::s3util::*;
use super::scrub::ByteStream;
use crate::backend::Error;
use crate::meta::{Checksums, ObjectRecord};

use std::ops::Range as ByteRange;
use std::sync::Arc;

/// Why a read of a sealed object without the means to open its key is refused.
pub(super) const SEALED_NEEDS_KEY: &str =
    "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.";

use s3s::dto::*;

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
            // The parts' plaintext sizes (a sealed object's segments hold ciphertext).
            let sizes: Vec<u64> = if rec.parts.is_empty() { rec.segments.iter().map(|s| s.size).collect() } else { rec.parts.iter().map(|p| p.size).collect() };
            let parts = if rec.multipart { sizes.len() } else { 1 };
            let idx = usize::try_from(n).ok().filter(|n| (1..=parts).contains(n)).ok_or(Error::InvalidPartNumber)?;
            let (start, len) = if rec.multipart { (sizes[..idx - 1].iter().sum(), sizes[idx - 1]) } else { (0, size) };
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
fn read_selected(rec: ObjectRecord, r: &ReadRequest<'_>) -> Result<(ObjectRecord, Selection, ObjectRead), Error> {
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

/// A GetObject or HeadObject of `key`'s version `rec` (from the index), with the bytes the
/// engine reads of it.
pub(super) async fn read(engine: &Arc<dyn Engine>, bucket: &str, key: &str, rec: ObjectRecord, r: &ReadRequest<'_>, with_body: bool) -> Result<Readout, Error> {
    // A sealed object's key is checked first, as S3 does: even a HEAD needs an SSE-C key.
    let data_key = match &rec.sealing {
        Some(sealing) => Some(r.keys.ok_or(Error::InvalidRequest(SEALED_NEEDS_KEY.into()))?.open(sealing)?),
        None => {
            super::sealed::refuse_customer_key(r.keys)?;
            None
        }
    };
    let (rec, sel, read) = read_selected(rec, r)?;
    let body = match (with_body, &data_key) {
        (false, _) => None,
        (true, Some(data_key)) => {
            Some(first_chunk_ahead(super::sealed::open_sealed(Arc::clone(engine), bucket, key, &rec, data_key, sel.range.clone()).await?).await?)
        }
        (true, None) => Some(first_chunk_ahead(engine.open(bucket, key, &rec, sel.range.clone()).await?).await?),
    };
    Ok(Readout { read, record: Some(rec), body, partial: sel.content_range.is_some() })
}

/// A body whose first chunk has been read: a read failing before its first byte (a
/// missing blob, an altered first frame) is answered with an error status, not a `200`
/// cut short, and a small object's head and bytes leave in one write.
async fn first_chunk_ahead(mut body: ByteStream) -> Result<StreamingBlob, Error> {
    use futures::StreamExt;
    Ok(match body.next().await {
        None => StreamingBlob::wrap(futures::stream::empty::<std::io::Result<bytes::Bytes>>()),
        Some(Err(e)) => return Err(Error::Io(e)),
        Some(Ok(first)) => StreamingBlob::wrap(futures::stream::once(std::future::ready(Ok(first))).chain(body)),
    })
}

/// Checks a copy's source against its `x-amz-copy-source-if-*` conditions.
pub(super) fn copy_source(rec: ObjectRecord, conditions: &ReadConditions<'_>) -> Result<ObjectRecord, Error> {
    // For copies a failed If-None-Match / If-Modified-Since is 412, not 304.
    check_read_conditions(&rec, conditions).map_err(|e| if matches!(e, Error::NotModified(_)) { Error::PreconditionFailed } else { e })?;
    Ok(rec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::{ObjectAttrs, Segment};
    use std::time::{Duration, UNIX_EPOCH};

    fn rec(etag: &str, segs: &[u64], multipart: bool) -> ObjectRecord {
        ObjectRecord {
            size: segs.iter().sum(),
            etag: etag.into(),
            segments: segs.iter().map(|s| Segment { blob: String::new(), size: *s }).collect(),
            multipart,
            ..ObjectRecord::new(ObjectAttrs::default(), vec![], String::new(), 1_000 * 1_000_000_000)
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

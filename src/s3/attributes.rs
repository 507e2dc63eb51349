//! GetObjectAttributes: what an object's record says of its ETag, checksums, parts,
//! storage class and size.

use super::Gateway;
use crate::backend::Error;
use crate::backend::s3util::{etag, timestamp};
use crate::meta::ObjectRecord;

use s3s::dto::*;
use s3s::{S3Request, S3Response};

pub(super) async fn get_object_attributes(g: &Gateway, req: S3Request<GetObjectAttributesInput>) -> Result<S3Response<GetObjectAttributesOutput>, Error> {
    let keys = super::sse::request_keys(g, &req)?;
    let input = req.input;
    let wanted = WantedAttributes::of(&input)?;
    let rec = match g.backends.of(&input.bucket).attributes(&input.bucket, &input.key, input.version_id.as_deref()).await {
        // Stored encrypted through another instance of a cluster: described by its record.
        Err(Error::SealedElsewhere) => match g.control.objects() {
            Some(shared) => shared.fetch(&input.bucket, &input.key).await?.ok_or(Error::SealedElsewhere)?,
            None => return Err(Error::SealedElsewhere),
        },
        rec => rec?,
    };
    // As for a HEAD, an SSE-C object is described only to who brings its key.
    if let Some(sealing) = rec.sealing.as_ref().filter(|s| s.mode == crate::meta::SseMode::Customer) {
        crate::backend::sealed::OpenKey::open(&keys, sealing)?;
    }
    Ok(S3Response::new(object_attributes(&rec, &wanted, &input)))
}

/// The attributes a GetObjectAttributes asks for (`x-amz-object-attributes`, one header
/// or several, each a comma-separated list).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WantedAttributes {
    pub etag: bool,
    pub checksum: bool,
    pub object_parts: bool,
    pub storage_class: bool,
    pub object_size: bool,
}

impl WantedAttributes {
    pub(crate) fn of(input: &GetObjectAttributesInput) -> Result<Self, Error> {
        let mut w = Self::default();
        for name in input.object_attributes.iter().flat_map(|a| a.as_str().split(',')).map(str::trim).filter(|n| !n.is_empty()) {
            match name {
                ObjectAttributes::ETAG => w.etag = true,
                ObjectAttributes::CHECKSUM => w.checksum = true,
                ObjectAttributes::OBJECT_PARTS => w.object_parts = true,
                ObjectAttributes::STORAGE_CLASS => w.storage_class = true,
                ObjectAttributes::OBJECT_SIZE => w.object_size = true,
                _ => return Err(Error::InvalidArgument("Invalid attribute name specified.".into())),
            }
        }
        if w == Self::default() {
            return Err(Error::InvalidArgument(
                "The x-amz-object-attributes header specifying the attributes to be retrieved is either missing or empty".into(),
            ));
        }
        Ok(w)
    }
}

/// The GetObjectAttributes answer for an object's index record. A composite checksum is
/// given without its `-{parts}` (the part count is `TotalPartsCount`); parts are listed
/// (paged by `max-parts` / `part-number-marker`) only for an object with a checksum, as
/// S3 does for general purpose buckets.
pub(crate) fn object_attributes(rec: &ObjectRecord, wanted: &WantedAttributes, input: &GetObjectAttributesInput) -> GetObjectAttributesOutput {
    let checksum = (wanted.checksum && !rec.checksums.is_empty()).then(|| {
        let bare = |v: &Option<String>| {
            v.as_deref().map(|v| if rec.checksum_type.as_deref() == Some("COMPOSITE") { v.rsplit_once('-').map_or(v, |(b, _)| b) } else { v }.to_owned())
        };
        Checksum {
            checksum_crc32: bare(&rec.checksums.crc32),
            checksum_crc32c: bare(&rec.checksums.crc32c),
            checksum_crc64nvme: bare(&rec.checksums.crc64nvme),
            checksum_sha1: bare(&rec.checksums.sha1),
            checksum_sha256: bare(&rec.checksums.sha256),
            checksum_type: Some(ChecksumType::from(rec.checksum_type.clone().unwrap_or_else(|| crate::proof::combine::FULL_OBJECT.to_owned()))),
        }
    });
    let object_parts = (wanted.object_parts && rec.multipart).then(|| object_parts(rec, input));
    GetObjectAttributesOutput {
        e_tag: wanted.etag.then(|| etag(&rec.etag)),
        last_modified: Some(timestamp(rec.last_modified_ns)),
        object_size: wanted.object_size.then(|| i64::try_from(rec.size).unwrap_or(i64::MAX)),
        storage_class: wanted.storage_class.then(|| StorageClass::from_static(StorageClass::STANDARD)),
        checksum,
        object_parts,
        ..Default::default()
    }
}

fn object_parts(rec: &ObjectRecord, input: &GetObjectAttributesInput) -> GetObjectAttributesParts {
    // Records older than `parts` know their parts' sizes from their segments (local disk),
    // or only their count, from the ETag's `-{parts}`.
    let parts: Vec<crate::meta::ObjectPartRecord> = if rec.parts.is_empty() {
        let numbered = (1u32..).zip(&rec.segments);
        numbered.map(|(number, s)| crate::meta::ObjectPartRecord { number, size: s.size, checksums: crate::meta::Checksums::default() }).collect()
    } else {
        rec.parts.clone()
    };
    let total = if parts.is_empty() { rec.etag.rsplit_once('-').and_then(|(_, n)| n.parse().ok()).unwrap_or(0) } else { parts.len() };
    let max = usize::try_from(input.max_parts.unwrap_or(1000).clamp(0, 1000)).unwrap_or(1000);
    let marker = input.part_number_marker.unwrap_or(0);
    let mut page = Vec::new();
    let mut truncated = false;
    if !rec.checksums.is_empty() {
        let after: Vec<_> = parts.into_iter().filter(|p| i64::from(p.number) > i64::from(marker)).collect();
        truncated = after.len() > max;
        page = after
            .into_iter()
            .take(max)
            .map(|p| ObjectPart {
                part_number: Some(i32::try_from(p.number).unwrap_or(i32::MAX)),
                size: Some(i64::try_from(p.size).unwrap_or(i64::MAX)),
                checksum_crc32: p.checksums.crc32,
                checksum_crc32c: p.checksums.crc32c,
                checksum_crc64nvme: p.checksums.crc64nvme,
                checksum_sha1: p.checksums.sha1,
                checksum_sha256: p.checksums.sha256,
            })
            .collect();
    }
    GetObjectAttributesParts {
        total_parts_count: Some(i32::try_from(total).unwrap_or(i32::MAX)),
        part_number_marker: Some(marker),
        next_part_number_marker: page.last().and_then(|p| p.part_number).filter(|_| truncated),
        max_parts: Some(i32::try_from(max).unwrap_or(1000)),
        is_truncated: Some(truncated),
        parts: (!page.is_empty()).then_some(page),
    }
}

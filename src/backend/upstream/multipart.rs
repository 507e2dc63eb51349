//! Multipart uploads through the upstream: the upload and its parts live upstream (parts
//! streamed through, hashed and checked on the way); the object layer records the upload
//! under the upstream's id, and each part, for listings, topic rules and completion checks.

use super::client::Call;
use super::object::{COPY_SOURCE_CONDITION_HEADERS, copy_source, etag_of, hash_back, missing_key, send_upload, with_attrs, with_conditions};
use super::{UpstreamBackend, xml};
use crate::backend::s3util::*;
use crate::backend::{Error, Incoming, PartCopy, Stored};
use crate::meta::{ObjectRecord, PartRecord, UploadRecord};

use bytes::Bytes;
use http::Method;

/// The header carrying [`crate::backend::sealed::SEALED_MARKER`].
const SEALED_HEADER: &str = "x-amz-meta-tollgate-sealed";

/// Starts the upload upstream; its id is the upstream's.
pub(super) async fn start(b: &UpstreamBackend, up: &UploadRecord, tagging: Option<&str>) -> Result<String, Error> {
    let place = b.place(&up.bucket)?;
    let call = with_attrs(Call::new(Method::POST, &place.bucket, &place.of_upload(up)).query("uploads", ""), &up.attrs)
        .header_opt("x-amz-tagging", tagging)
        // Each part is sealed: the object is marked as sealed ones are.
        .header_opt(SEALED_HEADER, up.sealing.as_ref().map(|_| "1"))
        .header_opt("x-amz-checksum-algorithm", up.checksum_algorithm.as_ref())
        .header_opt("x-amz-checksum-type", up.checksum_type.as_ref());
    let resp = b.client.send(&call, Bytes::new()).await?;
    let started: xml::Initiated = xml::parse(&b.client.xml(resp).await?)?;
    if started.upload_id.is_empty() {
        return Err(Error::Unavailable("the upstream started an upload without an id".into()));
    }
    Ok(started.upload_id)
}

fn part_call(place: &super::Place, up: &UploadRecord, upload_id: &str, number: u32) -> Call {
    Call::new(Method::PUT, &place.bucket, &place.of_upload(up)).query("partNumber", number.to_string()).query("uploadId", upload_id)
}

pub(super) async fn write_part(b: &UpstreamBackend, up: &UploadRecord, upload_id: &str, number: u32, incoming: Incoming) -> Result<PartRecord, Error> {
    let place = b.place(&up.bucket)?;
    let Incoming { body, length, check } = incoming;
    let (body, length, _spooled) = super::object::sized(b, length.ok_or(Error::MissingContentLength), body).await?;
    let call = super::object::with_checksums(part_call(&place, up, upload_id, number), check.declared()).header_opt("content-md5", check.declared_md5());
    let (headers, digests) = send_upload(b, check, call, body, length, Default::default()).await?;
    Ok(PartRecord {
        number,
        blob: String::new(),
        size: length,
        etag: etag_of(&headers),
        last_modified_ns: now_ns(),
        checksums: digests.checksums,
        stored_size: 0,
        stored_etag: String::new(),
    })
}

/// Copies a range of an object into a part upstream; `source`: the index's record of the
/// source, if the gateway wrote it (a version's is in a blob).
pub(super) async fn copy_part(b: &UpstreamBackend, p: &PartCopy<'_>, source: Option<&ObjectRecord>) -> Result<PartRecord, Error> {
    let place = b.place(&p.upload.bucket)?;
    let (source_header, conditions) = copy_source(b, p.source_bucket, p.source_key, source, &p.conditions)?;
    // The part's size: the range, checked against the source's size.
    let src_size = match source {
        Some(s) => s.size,
        None => {
            let src_place = b.place(p.source_bucket)?;
            let head = b.call(Call::new(Method::HEAD, &src_place.bucket, &src_place.key(p.source_key))).await.map_err(missing_key)?;
            super::object::header_str(head.headers(), "content-length").and_then(|v| v.parse().ok()).unwrap_or(0)
        }
    };
    let range = copy_range(p.range, src_size)?;
    let call = with_conditions(
        part_call(&place, p.upload, p.upload_id, p.number).header("x-amz-copy-source", &source_header).header_opt("x-amz-copy-source-range", p.range),
        COPY_SOURCE_CONDITION_HEADERS,
        &conditions,
    );
    let resp = b.client.send(&call, Bytes::new()).await?;
    let result: xml::ETagResult = xml::parse(&b.client.xml(resp).await?)?;
    Ok(PartRecord {
        number: p.number,
        blob: String::new(),
        size: range.end - range.start,
        etag: result.etag.trim_matches('"').to_owned(),
        last_modified_ns: now_ns(),
        checksums: crate::meta::Checksums::default(),
        stored_size: 0,
        stored_etag: String::new(),
    })
}

/// Completes the upload upstream with the chosen parts; the SHA-256 of the whole object is
/// what the upstream assembled, read back once.
pub(super) async fn compose(b: &UpstreamBackend, up: &UploadRecord, upload_id: &str, chosen: &[&PartRecord], size: u64) -> Result<Stored, Error> {
    let place = b.place(&up.bucket)?;
    let body: Vec<(u32, String)> = chosen.iter().map(|p| (p.number, format!("\"{}\"", p.etag))).collect();
    let at = place.of_upload(up);
    let call = Call::new(Method::POST, &place.bucket, &at).query("uploadId", upload_id);
    let resp = b.client.send(&call, Bytes::from(xml::complete_body(&body))).await?;
    let done: xml::ETagResult = xml::parse(&b.client.xml(resp).await?)?;
    let (stored_size, sha256) = hash_back(b, &place.bucket, &at).await?;
    if stored_size != size {
        tracing::warn!(bucket = %up.bucket, key = %up.key, size = stored_size, expected = size, "the upstream assembled an object of another size than its parts");
    }
    let segments = if up.location.is_empty() { Vec::new() } else { vec![crate::meta::Segment { blob: up.location.clone(), size: stored_size }] };
    Ok(Stored { size: stored_size, etag: done.etag.trim_matches('"').to_owned(), checksums: crate::meta::Checksums::default(), sha256, segments })
}

/// Aborts an upload upstream (an upload it no longer knows is gone already).
pub(super) async fn abort(b: &UpstreamBackend, up: &UploadRecord, upload_id: &str) -> Result<(), Error> {
    let place = b.place(&up.bucket)?;
    match b.call(Call::new(Method::DELETE, &place.bucket, &place.of_upload(up)).query("uploadId", upload_id)).await {
        Ok(_) | Err(Error::Upstream { status: 404, .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

//! Multipart uploads through the upstream: the upload and its parts live upstream (parts
//! streamed through, hashed and checked on the way); the index records the upload under
//! the upstream's id, and each part, for listings, topic rules and completion checks.

use super::client::Call;
use super::object::{COPY_SOURCE_CONDITION_HEADERS, copy_source_header, etag_of, hash_back, missing_key, send_upload, unrecorded, with_attrs, with_conditions};
use super::{UpstreamBackend, xml};
use crate::backend::s3util::*;
use crate::backend::{Error, Incoming, NewPart, PartCopy, UploadCompletion};
use crate::meta::{Completes, ObjectRecord, PartRecord, Precondition, UploadRecord};

use bytes::Bytes;
use http::Method;

/// Starts the upload upstream; its id is the upstream's.
pub(super) async fn start(b: &UpstreamBackend, up: &UploadRecord, tagging: Option<&str>) -> Result<String, Error> {
    let place = b.place(&up.bucket)?;
    let call = with_attrs(Call::new(Method::POST, &place.bucket, &place.key(&up.key)).query("uploads", ""), &up.attrs)
        .header_opt("x-amz-tagging", tagging)
        .header_opt("x-amz-checksum-algorithm", up.checksum_algorithm.as_ref())
        .header_opt("x-amz-checksum-type", up.checksum_type.as_ref());
    let resp = b.client.send(&call, Bytes::new()).await?;
    let started: xml::Initiated = xml::parse(&b.client.xml(resp).await?)?;
    if started.upload_id.is_empty() {
        return Err(Error::Unavailable("the upstream started an upload without an id".into()));
    }
    Ok(started.upload_id)
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

pub(super) async fn upload_part(b: &UpstreamBackend, p: NewPart<'_>) -> Result<PartRecord, Error> {
    let (bucket, key) = (&p.upload.bucket, &p.upload.key);
    let place = b.place(bucket)?;
    let Incoming { body, length, check } = p.incoming;
    let (body, length, _spooled) = super::object::sized(b, length.ok_or(Error::MissingContentLength), body).await?;
    let call = super::object::with_checksums(part_call(&place, key, p.upload_id, p.number), check.declared()).header_opt("content-md5", check.declared_md5());
    let (headers, digests) = match send_upload(b, check, call, body, length, Default::default()).await {
        Ok(sent) => sent,
        // The upload was completed or aborted while the part streamed: whatever the upstream
        // made of that (moto answers 500), the part has no upload. A completion in flight
        // holds the key's lock until it is recorded.
        Err(e) if !matches!(e, Error::Upstream { status: 400..500, .. }) => {
            drop(b.locks.lock(bucket, key).await);
            if b.store.upload_get(p.upload_id)?.is_none() {
                tracing::info!(error = %e, "a part's upload went away while it streamed");
                return Err(Error::NoSuchUpload);
            }
            return Err(e);
        }
        Err(e) => return Err(e),
    };
    let part =
        PartRecord { number: p.number, blob: String::new(), size: length, etag: etag_of(&headers), last_modified_ns: now_ns(), checksums: digests.checksums };
    let mut audit = p.audit;
    audit.bytes = part.size;
    record_part(b, bucket, key, p.upload_id, &part, &audit).await?;
    Ok(part)
}

pub(super) async fn upload_part_copy(b: &UpstreamBackend, p: PartCopy<'_>) -> Result<PartRecord, Error> {
    let (bucket, key) = (&p.upload.bucket, &p.upload.key);
    let place = b.place(bucket)?;
    let source = copy_source_header(b, p.source_bucket, p.source_key)?;
    // The part's size: the range, checked against the source's size.
    let src_place = b.place(p.source_bucket)?;
    let head = b.call(Call::new(Method::HEAD, &src_place.bucket, &src_place.key(p.source_key))).await.map_err(missing_key)?;
    let src_size = super::object::header_str(head.headers(), "content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    let range = copy_range(p.range, src_size)?;
    let call = with_conditions(
        part_call(&place, key, p.upload_id, p.number).header("x-amz-copy-source", &source).header_opt("x-amz-copy-source-range", p.range),
        COPY_SOURCE_CONDITION_HEADERS,
        &p.conditions,
    );
    let resp = b.client.send(&call, Bytes::new()).await?;
    let result: xml::ETagResult = xml::parse(&b.client.xml(resp).await?)?;
    let part = PartRecord {
        number: p.number,
        blob: String::new(),
        size: range.end - range.start,
        etag: result.etag.trim_matches('"').to_owned(),
        last_modified_ns: now_ns(),
        checksums: crate::meta::Checksums::default(),
    };
    let mut audit = p.audit;
    audit.bytes = part.size;
    record_part(b, bucket, key, p.upload_id, &part, &audit).await?;
    Ok(part)
}

pub(super) async fn complete(b: &UpstreamBackend, c: UploadCompletion<'_>) -> Result<ObjectRecord, Error> {
    let (bucket, key, upload_id) = (c.bucket, c.key, c.upload_id);
    let up = b.upload(bucket, key, upload_id)?;
    let place = b.place(bucket)?;
    let _lock = b.locks.lock(bucket, key).await;
    if b.store.upload_get(upload_id)?.is_none() {
        // A concurrent completion of this upload finished while this one waited.
        return Err(Error::NoSuchUpload);
    }
    let stored = b.store.part_list(upload_id)?;
    let plan = plan_completion(&up, c.requested, &stored, c.declared)?;
    c.precondition.check(b.store.object_get(bucket, key)?.as_ref())?;
    let body: Vec<(u32, String)> = plan.chosen.iter().map(|p| (p.number, format!("\"{}\"", p.etag))).collect();
    let call = Call::new(Method::POST, &place.bucket, &place.key(key)).query("uploadId", upload_id);
    let resp = b.client.send(&call, Bytes::from(xml::complete_body(&body))).await?;
    let done: xml::ETagResult = xml::parse(&b.client.xml(resp).await?)?;
    // The SHA-256 of the whole object: what the upstream assembled, read back once.
    let (size, sha256) = hash_back(b, bucket, key).await?;
    if size != plan.size {
        tracing::warn!(%bucket, %key, size, expected = plan.size, "the upstream assembled an object of another size than its parts");
    }
    let rec = ObjectRecord {
        size,
        etag: done.etag.trim_matches('"').to_owned(),
        last_modified_ns: now_ns(),
        segments: Vec::new(),
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
    audit.bytes = rec.size;
    let completes = Completes::Multipart { upload: upload_id, parts: &plan.digest };
    match b.index.commit(bucket, key, rec, &Precondition::None, completes, &audit).await {
        Ok((rec, _)) => Ok(rec),
        Err(e) => Err(unrecorded(b, &place, bucket, key, &audit, e).await),
    }
}

/// Aborts an upload upstream (an upload it no longer knows is gone already) and forgets it.
pub(super) async fn abort(b: &UpstreamBackend, up: &UploadRecord, upload_id: &str, audit: &crate::meta::AuditEntry) -> Result<(), Error> {
    let place = b.place(&up.bucket)?;
    match b.call(Call::new(Method::DELETE, &place.bucket, &place.key(&up.key)).query("uploadId", upload_id)).await {
        Ok(_) | Err(Error::Upstream { status: 404, .. }) => {}
        Err(e) => return Err(e),
    }
    b.store.upload_delete(upload_id, Some(audit))?;
    b.index.sync().await
}

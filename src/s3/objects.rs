//! Object operations: put, get, head, delete (one and many).

use super::Gateway;
use super::answer::*;
use super::request::*;
use super::sse;
use crate::auth::Principal;
use crate::backend::s3util::*;
use crate::backend::{Error, Incoming, NewObject};
use crate::meta::Precondition;
use crate::meta::{ObjectAttrs, ObjectRecord};

use futures::StreamExt;
use http::HeaderMap;
use s3s::dto::*;
use s3s::{S3Request, S3Response};

pub(super) async fn put_object(g: &Gateway, mut req: S3Request<PutObjectInput>) -> Result<S3Response<PutObjectOutput>, Error> {
    let backend = g.backends.of(&req.input.bucket);
    let index = backend.index();
    check_key(&req.input.key)?;
    let bucket = index.bucket(&req.input.bucket)?;
    let terms = super::request::write_checks(g, &bucket, Principal::of(&req).writing_tenant(), &req.input)?;
    let default_retention = bucket.object_lock.is_some_and(|l| l.default_retention.is_some());
    if (terms.retention.is_some() || terms.legal_hold || default_retention) && !super::lock::has_integrity_header(&req.headers) {
        return Err(Error::InvalidRequest("Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests with Object Lock parameters".into()));
    }
    let (seal, _) = sse::requested_seal(g, &req)?;
    let input = &mut req.input;
    let precondition = write_precondition(input.if_match.as_ref(), input.if_none_match.as_ref())?;
    // Fail fast before reading the body; the commit re-checks authoritatively.
    precondition.check(index.store.object_get(&input.bucket, &input.key)?.as_ref())?;
    let tags = parse_tagging_header(input.tagging.as_deref())?;
    let length = declared_length(&req.headers, input.content_length);
    let attrs = ObjectAttrs::from(&mut *input);
    let expect = Expected::from(&mut *input);
    let body = declared_body(&req.headers, input.body.take());
    let check = BodyCheck::new(&req, expect)?;
    // s3s serves a browser form upload as this PutObject: its audit entry names PostObject.
    let op = req.extensions.get::<crate::context::RequestContext>().and_then(|c| c.operation.get().copied());
    let posted = op == Some(crate::ops::Operation::PostObject);
    let object = NewObject {
        audit: crate::audit::entry(
            &req,
            if posted { crate::ops::Operation::PostObject } else { crate::ops::Operation::PutObject },
            &req.input.bucket,
            &req.input.key,
            0,
        ),
        record: ObjectRecord {
            retention: terms.retention,
            legal_hold: terms.legal_hold,
            acl: terms.acl,
            ..new_record(attrs, tags, Principal::of(&req).access_key().to_owned())
        },
        bucket: req.input.bucket,
        key: req.input.key,
        precondition,
        tagging: req.input.tagging,
        incoming: Incoming { body, length, check },
        seal: seal.as_ref().map(crate::backend::sealed::Seal::new_key).transpose()?,
    };
    let (bucket, key) = (object.bucket.clone(), object.key.clone());
    let record = backend.put(object).await?;
    share_sealed(g, &bucket, &key, &record).await?;
    let mut headers = HeaderMap::new();
    proof_headers(&mut headers, &record, g.store.as_ref());
    let version_id = answered_version(&record);
    let expiration = g.expiration(&bucket, &key, &record);
    let c = record.checksums;
    let mut output = PutObjectOutput {
        expiration,
        e_tag: Some(etag(&record.etag)),
        checksum_crc32: c.crc32,
        checksum_crc32c: c.crc32c,
        checksum_crc64nvme: c.crc64nvme,
        checksum_sha1: c.sha1,
        checksum_sha256: c.sha256,
        version_id,
        ..Default::default()
    };
    sse::answer_sse!(output, record.sealing.as_ref());
    let mut resp = S3Response::with_headers(output, headers);
    if posted {
        resp.extensions.insert(crate::post::PostedObject { bucket, key, etag: format!("\"{}\"", record.etag) });
    }
    Ok(resp)
}

/// The headers every read answer carries beside its output: raw UTF-8 metadata values and,
/// for a version the gateway wrote, its proof.
fn read_headers(g: &Gateway, out: &crate::backend::Readout) -> HeaderMap {
    let mut headers = HeaderMap::new();
    raw_metadata_headers(&mut headers, &out.read.attrs.user_metadata);
    if let Some(rec) = &out.record {
        proof_headers(&mut headers, rec, g.store.as_ref());
    }
    headers
}

/// Reads an object (its bytes only `with_body`); in a cluster, one stored encrypted through
/// another instance is read as that instance's shared record describes it.
async fn read_object(
    g: &Gateway,
    bucket: &str,
    key: &str,
    version: Option<&str>,
    request: &ReadRequest<'_>,
    with_body: bool,
) -> Result<crate::backend::Readout, Error> {
    let backend = g.backends.of(bucket);
    let read = backend.read(bucket, key, version, request, with_body).await;
    let Some(shared) = g.control.objects().filter(|_| version.is_none()) else { return read };
    let sealed_elsewhere = match &read {
        Err(Error::SealedElsewhere) => true,
        // The store judged the conditions by the ETag of what it holds: for bytes sealed
        // through another instance, the ciphertext's. They are judged again by the record.
        Err(Error::PreconditionFailed | Error::NotModified(_)) => backend.sealed_elsewhere(bucket, key).await,
        _ => false,
    };
    if !sealed_elsewhere {
        return read;
    }
    match shared.fetch(bucket, key).await? {
        Some(record) => backend.read_as(bucket, key, record, request, with_body).await,
        None => Err(Error::SealedElsewhere),
    }
}

/// In a cluster, the record another instance shared of the object at `bucket`/`key`, if
/// the bytes there are sealed and this index has no record of them.
async fn sealed_elsewhere(g: &Gateway, bucket: &str, key: &str) -> Result<Option<ObjectRecord>, Error> {
    match g.control.objects() {
        Some(shared) if g.backends.of(bucket).sealed_elsewhere(bucket, key).await => Ok(shared.fetch(bucket, key).await?),
        _ => Ok(None),
    }
}

/// Shares the record of an object just stored encrypted with the other instances of a
/// cluster, which read its ciphertext by it (stored at the key: versions stay the writer's).
pub(super) async fn share_sealed(g: &Gateway, bucket: &str, key: &str, record: &ObjectRecord) -> Result<(), Error> {
    match g.control.objects() {
        Some(shared) if record.sealing.is_some() && record.version_id.is_empty() && g.backends.of(bucket).stores_at_key(bucket)? => {
            shared.publish(bucket, key, record).await
        }
        _ => Ok(()),
    }
}

pub(super) async fn get_object(g: &Gateway, req: S3Request<GetObjectInput>) -> Result<S3Response<GetObjectOutput>, Error> {
    let keys = sse::request_keys(g, &req)?;
    let mut input = req.input;
    let request = ReadRequest { keys: Some(&keys), ..ReadRequest::from(&input) };
    let out = read_object(g, &input.bucket, &input.key, input.version_id.as_deref(), &request, true).await?;
    let sealing = out.record.as_ref().and_then(|r| r.sealing.clone());
    let headers = read_headers(g, &out);
    let tag_count = out.read.tag_count;
    let version_id = out.record.as_ref().and_then(answered_version);
    let lock = out.record.as_ref().map(super::lock::read_lock).unwrap_or_default();
    let expiration = out.record.as_ref().filter(|_| input.version_id.is_none()).and_then(|r| g.expiration(&input.bucket, &input.key, r));
    let mut output = GetObjectOutput::answering(out.read, Overrides::from(&mut input));
    (output.object_lock_mode, output.object_lock_retain_until_date, output.object_lock_legal_hold_status) = lock;
    output.expiration = expiration;
    output.body = out.body;
    output.tag_count = tag_count;
    sse::answer_sse!(output, sealing.as_ref());
    output.version_id = version_id;
    Ok(S3Response::with_headers(output, headers))
}

pub(super) async fn head_object(g: &Gateway, req: S3Request<HeadObjectInput>) -> Result<S3Response<HeadObjectOutput>, Error> {
    let keys = sse::request_keys(g, &req)?;
    let mut input = req.input;
    let request = ReadRequest { keys: Some(&keys), ..ReadRequest::from(&input) };
    let out = read_object(g, &input.bucket, &input.key, input.version_id.as_deref(), &request, false).await?;
    let sealing = out.record.as_ref().and_then(|r| r.sealing.clone());
    let mut headers = read_headers(g, &out);
    tag_count_header(&mut headers, out.read.tag_count);
    let partial = out.partial;
    let version_id = out.record.as_ref().and_then(answered_version);
    let lock = out.record.as_ref().map(super::lock::read_lock).unwrap_or_default();
    let expiration = out.record.as_ref().filter(|_| input.version_id.is_none()).and_then(|r| g.expiration(&input.bucket, &input.key, r));
    let mut output = HeadObjectOutput::answering(out.read, Overrides::from(&mut input));
    (output.object_lock_mode, output.object_lock_retain_until_date, output.object_lock_legal_hold_status) = lock;
    output.expiration = expiration;
    output.version_id = version_id;
    sse::answer_sse!(output, sealing.as_ref());
    let mut resp = S3Response::with_headers(output, headers);
    if partial {
        resp.status = Some(http::StatusCode::PARTIAL_CONTENT);
    }
    Ok(resp)
}

/// tollgate makes no torrents: every object is answered as AWS answers one it has no
/// torrent of (404 NoSuchKey), after the access check and the bucket's existence.
pub(super) async fn get_object_torrent(_g: &Gateway, _req: S3Request<GetObjectTorrentInput>) -> Result<S3Response<GetObjectTorrentOutput>, Error> {
    Err(Error::NoSuchKey)
}

/// Deletes one key if `precondition` holds (a delete marker in a versioned bucket), or
/// one version of it for good.
async fn delete_key(
    g: &Gateway,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
    precondition: &Precondition,
    bypass_governance: bool,
    audit: &crate::meta::AuditEntry,
) -> Result<Removal, Error> {
    check_key(key)?;
    let backend = g.backends.of(bucket).as_ref();
    if let Some(id) = version_id {
        let removed = backend.delete_version(bucket, key, id, bypass_governance, audit).await?;
        if id == crate::meta::NULL_VERSION {
            g.control.forget_deleted(backend, bucket, key, removed.as_ref().and_then(|v| v.object.as_ref())).await;
        }
        return Ok(Removal { version_id: Some(id.to_owned()), delete_marker: removed.is_some_and(|v| v.object.is_none()) });
    }
    let deleted = match backend.delete(bucket, key, precondition, audit).await {
        // The store judged the conditions by the ETag and size of what it holds: for bytes
        // sealed through another instance, the ciphertext's. They are judged again by the
        // record that instance shared, and the delete names those bytes by their stored ETag.
        Err(Error::PreconditionFailed) => match sealed_elsewhere(g, bucket, key).await? {
            Some(record) if !record.stored_etag.is_empty() => {
                precondition.check(Some(&record))?;
                let stored = Precondition::Matches { exists: true, etag: Some(record.stored_etag), size: None, modified_secs: None };
                backend.delete(bucket, key, &stored, audit).await?
            }
            _ => return Err(Error::PreconditionFailed),
        },
        deleted => deleted?,
    };
    if deleted.marker.is_none() {
        g.control.forget_deleted(backend, bucket, key, deleted.released.as_ref()).await;
    }
    Ok(Removal { delete_marker: deleted.marker.is_some(), version_id: deleted.marker })
}

pub(super) async fn delete_object(g: &Gateway, req: S3Request<DeleteObjectInput>) -> Result<S3Response<DeleteObjectOutput>, Error> {
    let audit = crate::audit::entry(&req, crate::ops::Operation::DeleteObject, &req.input.bucket, &req.input.key, 0);
    let backend = g.backends.of(&req.input.bucket);
    let bypass = super::lock::may_bypass(&req, req.input.bypass_governance_retention, &backend.index().bucket(&req.input.bucket)?);
    let input = req.input;
    let precondition = delete_precondition(input.if_match.as_ref(), input.if_match_size, input.if_match_last_modified_time.as_ref())?;
    let removal = delete_key(g, &input.bucket, &input.key, input.version_id.as_deref(), &precondition, bypass, &audit).await?;
    let output = DeleteObjectOutput { delete_marker: removal.delete_marker.then_some(true), version_id: removal.version_id, ..Default::default() };
    Ok(S3Response::with_status(output, http::StatusCode::NO_CONTENT))
}

pub(super) async fn delete_objects(g: &Gateway, req: S3Request<DeleteObjectsInput>) -> Result<S3Response<DeleteObjectsOutput>, Error> {
    let audit = crate::audit::entry(&req, crate::ops::Operation::DeleteObjects, &req.input.bucket, "", 0);
    let bucket_rec = g.backends.of(&req.input.bucket).index().bucket(&req.input.bucket)?;
    let bypass = super::lock::may_bypass(&req, req.input.bypass_governance_retention, &bucket_rec);
    let input = req.input;
    let backend = g.backends.of(&input.bucket).as_ref();
    let (objects, quiet) = delete_request(input.delete)?;
    let bucket = &input.bucket;
    let outcomes: Vec<(ObjectIdentifier, Result<Removal, Error>)> = futures::stream::iter(objects)
        .map(|obj| {
            let mut audit = audit.clone();
            audit.key.clone_from(&obj.key);
            async move {
                let r = match entry_precondition(&obj) {
                    Ok(precondition) => delete_key(g, bucket, &obj.key, obj.version_id.as_deref(), &precondition, bypass, &audit).await,
                    Err(e) => Err(e),
                };
                (obj, r)
            }
        })
        .buffered(backend.deletes_at_once(bucket))
        .collect()
        .await;
    Ok(S3Response::new(delete_objects_output(outcomes, quiet)))
}

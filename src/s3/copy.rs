//! Server-side copies: CopyObject and UploadPartCopy. Both ends must be held by the same
//! engine (neither can read the other's bytes).

use super::Gateway;
use super::answer::copied_output;
use super::request::*;
use super::sse;
use crate::auth::Principal;
use crate::backend::s3util::*;
use crate::backend::{Error, ObjectCopy, PartCopy};
use crate::meta::ObjectAttrs;

use s3s::dto::*;
use s3s::{S3Request, S3Response};

/// The bucket and key a copy reads, once both ends are known to be on one engine.
fn source<'s>(g: &Gateway, source: &'s CopySource, bucket: &str) -> Result<(&'s str, &'s str, Option<&'s str>), Error> {
    if let CopySource::Bucket { bucket: from, .. } = source {
        g.backends.check_copy(from, bucket)?;
    }
    copy_source_location(source)
}

/// In a cluster, the record another instance shared of a copy's source this index has
/// none of (one stored encrypted through that instance), if any.
async fn shared_source(g: &Gateway, bucket: &str, key: &str, version: Option<&str>) -> Result<Option<crate::meta::ObjectRecord>, Error> {
    let backend = g.backends.of(bucket);
    match g.control.objects() {
        Some(shared) if version.is_none() && backend.stores_at_key(bucket)? => {
            // This index's record of bytes since replaced through another instance is not theirs.
            if g.store.object_get(bucket, key)?.is_some_and(|r| r.sealing.is_some()) {
                backend.record_current(bucket, key).await?;
            }
            match g.store.object_get(bucket, key)? {
                None => shared.fetch(bucket, key).await,
                Some(_) => Ok(None),
            }
        }
        _ => Ok(None),
    }
}

pub(super) async fn copy_object(g: &Gateway, mut req: S3Request<CopyObjectInput>) -> Result<S3Response<CopyObjectOutput>, Error> {
    let (seal, asks_customer) = sse::requested_seal(g, &req)?;
    let source_keys = sse::copy_source_keys(g, &req)?;
    let asks_encryption = req.input.server_side_encryption.is_some() || asks_customer;
    let copy_source = req.input.copy_source.clone();
    let (source_bucket, source_key, source_version) = source(g, &copy_source, &req.input.bucket)?;
    let audit = crate::audit::entry(&req, crate::ops::Operation::CopyObject, &req.input.bucket, &req.input.key, 0);
    let owner = Principal::of(&req).access_key().to_owned();
    let writer = Principal::of(&req).writing_tenant().map(str::to_owned);
    let input = &mut req.input;
    check_key(&input.key)?;
    let replace_meta = input.metadata_directive.as_ref().is_some_and(|d| d.as_str() == MetadataDirective::REPLACE);
    let replace_tags = input.tagging_directive.as_ref().is_some_and(|d| d.as_str() == TaggingDirective::REPLACE);
    // A copy of a key onto itself changes nothing unless it replaces something, or copies
    // an older version (a restore).
    if source_bucket == input.bucket && source_key == input.key && source_version.is_none() && !replace_meta && !replace_tags && !asks_encryption {
        return Err(Error::InvalidRequest("This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.".into()));
    }
    let bucket = g.backends.of(&input.bucket).index().bucket(&input.bucket)?;
    let terms = super::request::write_checks(g, &bucket, writer.as_deref(), &*input)?;
    let attrs = replace_meta.then(|| ObjectAttrs::from(&mut *input));
    let tags = if replace_tags { Some(parse_tagging_header(input.tagging.as_deref())?) } else { None };
    let input = &req.input;
    let shared_source = shared_source(g, source_bucket, source_key, source_version).await?;
    let copy = ObjectCopy {
        source_bucket,
        source_key,
        source_version,
        conditions: ReadConditions::from(input),
        bucket: &input.bucket,
        key: &input.key,
        attrs,
        tags,
        tagging: input.tagging.as_deref().filter(|_| replace_tags),
        owner,
        audit,
        terms,
        seal: seal.as_ref(),
        source_keys: &source_keys,
        shared_source,
    };
    let record = g.backends.of(&input.bucket).copy(copy).await?;
    super::objects::share_sealed(g, &input.bucket, &input.key, &record).await?;
    Ok(copied_output(&record, source_version, g.store.as_ref()))
}

pub(super) async fn upload_part_copy(g: &Gateway, req: S3Request<UploadPartCopyInput>) -> Result<S3Response<UploadPartCopyOutput>, Error> {
    let input = &req.input;
    let (source_bucket, source_key, source_version) = source(g, &input.copy_source, &input.bucket)?;
    let number = part_number(input.part_number)?;
    let backend = g.backends.of(&input.bucket);
    let upload = super::multipart::known_upload(g, &input.bucket, &input.key, &input.upload_id, false).await?;
    let keys = sse::request_keys(g, &req)?;
    let source_keys = sse::copy_source_keys(g, &req)?;
    let shared_source = shared_source(g, source_bucket, source_key, source_version).await?;
    let part = backend
        .upload_part_copy(PartCopy {
            upload: &upload,
            upload_id: &input.upload_id,
            number,
            source_bucket,
            source_key,
            source_version,
            conditions: ReadConditions::from(input),
            range: input.copy_source_range.as_deref(),
            audit: crate::audit::entry(&req, crate::ops::Operation::UploadPartCopy, &input.bucket, &input.key, 0),
            key: keys.upload_key(&upload)?,
            source_keys: &source_keys,
            shared_source,
        })
        .await?;
    super::multipart::share_part(g, &input.upload_id, &part).await?;
    let mut output = UploadPartCopyOutput {
        copy_source_version_id: source_version.map(str::to_owned),
        copy_part_result: Some(CopyPartResult { e_tag: Some(etag(&part.etag)), last_modified: Some(timestamp(part.last_modified_ns)), ..Default::default() }),
        ..Default::default()
    };
    sse::answer_sse!(output, upload.sealing.as_ref());
    Ok(S3Response::new(output))
}

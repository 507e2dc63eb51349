//! Object tagging: read, replace, remove (validated here, kept where the engine keeps them).

use super::Gateway;
use super::request::validate_tags;
use crate::backend::Error;

use s3s::dto::*;
use s3s::{S3Request, S3Response};

pub(super) async fn get_object_tagging(g: &Gateway, req: S3Request<GetObjectTaggingInput>) -> Result<S3Response<GetObjectTaggingOutput>, Error> {
    let input = &req.input;
    let (version_id, tags) = g.backends.of(&input.bucket).tags(&input.bucket, &input.key, input.version_id.as_deref()).await?;
    let tag_set = tags.into_iter().map(|(k, v)| Tag { key: Some(k), value: Some(v) }).collect();
    Ok(S3Response::new(GetObjectTaggingOutput { tag_set, version_id }))
}

pub(super) async fn put_object_tagging(g: &Gateway, req: S3Request<PutObjectTaggingInput>) -> Result<S3Response<PutObjectTaggingOutput>, Error> {
    let audit = crate::audit::entry(&req, crate::ops::Operation::PutObjectTagging, &req.input.bucket, &req.input.key, 0);
    let input = req.input;
    let tags: Vec<(String, String)> = input.tagging.tag_set.into_iter().map(|t| (t.key.unwrap_or_default(), t.value.unwrap_or_default())).collect();
    validate_tags(&tags)?;
    let version_id = g.backends.of(&input.bucket).set_tags(&input.bucket, &input.key, input.version_id.as_deref(), tags, &audit).await?;
    Ok(S3Response::new(PutObjectTaggingOutput { version_id }))
}

pub(super) async fn delete_object_tagging(g: &Gateway, req: S3Request<DeleteObjectTaggingInput>) -> Result<S3Response<DeleteObjectTaggingOutput>, Error> {
    let audit = crate::audit::entry(&req, crate::ops::Operation::DeleteObjectTagging, &req.input.bucket, &req.input.key, 0);
    let input = &req.input;
    let version_id = g.backends.of(&input.bucket).set_tags(&input.bucket, &input.key, input.version_id.as_deref(), Vec::new(), &audit).await?;
    Ok(S3Response::with_status(DeleteObjectTaggingOutput { version_id }, http::StatusCode::NO_CONTENT))
}

//! Object tagging, ACLs and the bucket settings tollgate does not store. tollgate's access
//! model is tenants and topics, not ACLs: the ACL calls answer the owner's FULL_CONTROL grant
//! (s3cmd and others ask for it) and accept only the canned `private` ACL; reads of policy,
//! CORS, lifecycle, encryption, tagging and website settings answer "not configured".

use super::*;

use s3s::S3Response;
use s3s::dto::*;

use crate::backend::{BucketSetting, Error};

pub(super) async fn get_object_tagging(b: &LocalBackend, req: S3Request<GetObjectTaggingInput>) -> Result<S3Response<GetObjectTaggingOutput>, Error> {
    let rec = b.object(&req.input.bucket, &req.input.key)?;
    let tag_set = rec.tags.into_iter().map(|(k, v)| Tag { key: Some(k), value: Some(v) }).collect();
    Ok(S3Response::new(GetObjectTaggingOutput { tag_set, version_id: None }))
}

pub(super) async fn put_object_tagging(b: &LocalBackend, req: S3Request<PutObjectTaggingInput>) -> Result<S3Response<PutObjectTaggingOutput>, Error> {
    let audit = crate::audit::entry(&req, "PutObjectTagging", &req.input.bucket, &req.input.key, 0);
    let input = req.input;
    let tags: Vec<(String, String)> = input
        .tagging
        .tag_set
        .into_iter()
        .map(|t| (t.key.unwrap_or_default(), t.value.unwrap_or_default()))
        .collect();
    validate_tags(&tags)?;
    set_tags(b, &input.bucket, &input.key, tags, &audit).await?;
    Ok(S3Response::new(PutObjectTaggingOutput::default()))
}

pub(super) async fn delete_object_tagging(b: &LocalBackend, req: S3Request<DeleteObjectTaggingInput>) -> Result<S3Response<DeleteObjectTaggingOutput>, Error> {
    let audit = crate::audit::entry(&req, "DeleteObjectTagging", &req.input.bucket, &req.input.key, 0);
    set_tags(b, &req.input.bucket, &req.input.key, Vec::new(), &audit).await?;
    Ok(S3Response::with_status(DeleteObjectTaggingOutput::default(), http::StatusCode::NO_CONTENT))
}

async fn set_tags(b: &LocalBackend, bucket: &str, key: &str, tags: Vec<(String, String)>, audit: &crate::meta::AuditEntry) -> Result<(), Error> {
    if !b.store.object_set_tags(bucket, key, tags, Some(audit))? {
        b.bucket(bucket)?;
        return Err(Error::NoSuchKey);
    }
    b.sync_meta().await
}

fn owner_acl(tenant: &str) -> (Owner, Vec<Grant>) {
    let own = owner(tenant);
    let grant = Grant {
        grantee: Some(Grantee {
            type_: Type::from_static(Type::CANONICAL_USER),
            id: own.id.clone(),
            display_name: own.display_name.clone(),
            email_address: None,
            uri: None,
        }),
        permission: Some(Permission::from_static(Permission::FULL_CONTROL)),
    };
    (own, vec![grant])
}

pub(super) async fn get_bucket_acl(b: &LocalBackend, req: S3Request<GetBucketAclInput>) -> Result<S3Response<GetBucketAclOutput>, Error> {
    let bucket = b.bucket(&req.input.bucket)?;
    let (own, grants) = owner_acl(&bucket.tenant);
    Ok(S3Response::new(GetBucketAclOutput { owner: Some(own), grants: Some(grants) }))
}

pub(super) async fn get_object_acl(b: &LocalBackend, req: S3Request<GetObjectAclInput>) -> Result<S3Response<GetObjectAclOutput>, Error> {
    b.object(&req.input.bucket, &req.input.key)?;
    let bucket = b.bucket(&req.input.bucket)?;
    let (own, grants) = owner_acl(&bucket.tenant);
    Ok(S3Response::new(GetObjectAclOutput { owner: Some(own), grants: Some(grants), ..Default::default() }))
}

fn only_private(acl: Option<&str>) -> Result<(), Error> {
    match acl {
        None | Some("private") => Ok(()),
        Some(_) => Err(Error::NotImplemented("only the canned ACL 'private' is supported; bucket visibility is set through the admin API")),
    }
}

pub(super) async fn put_object_acl(b: &LocalBackend, req: S3Request<PutObjectAclInput>) -> Result<S3Response<PutObjectAclOutput>, Error> {
    b.object(&req.input.bucket, &req.input.key)?;
    only_private(req.input.acl.as_ref().map(ObjectCannedACL::as_str))?;
    Ok(S3Response::new(PutObjectAclOutput::default()))
}

pub(super) async fn put_bucket_acl(b: &LocalBackend, req: S3Request<PutBucketAclInput>) -> Result<S3Response<PutBucketAclOutput>, Error> {
    b.bucket(&req.input.bucket)?;
    only_private(req.input.acl.as_ref().map(BucketCannedACL::as_str))?;
    Ok(S3Response::new(PutBucketAclOutput::default()))
}

/// Answers a read of a bucket setting tollgate never stores: the bucket must exist, and
/// then the setting is absent, as on an AWS bucket where it was never configured.
fn unconfigured<T>(b: &LocalBackend, bucket: &str, setting: BucketSetting) -> Result<T, Error> {
    b.bucket(bucket)?;
    Err(Error::Unconfigured(setting))
}

pub(super) async fn get_bucket_policy(b: &LocalBackend, req: S3Request<GetBucketPolicyInput>) -> Result<S3Response<GetBucketPolicyOutput>, Error> {
    unconfigured(b, &req.input.bucket, BucketSetting::Policy)
}

pub(super) async fn get_bucket_cors(b: &LocalBackend, req: S3Request<GetBucketCorsInput>) -> Result<S3Response<GetBucketCorsOutput>, Error> {
    unconfigured(b, &req.input.bucket, BucketSetting::Cors)
}

pub(super) async fn get_bucket_lifecycle_configuration(
    b: &LocalBackend,
    req: S3Request<GetBucketLifecycleConfigurationInput>,
) -> Result<S3Response<GetBucketLifecycleConfigurationOutput>, Error> {
    unconfigured(b, &req.input.bucket, BucketSetting::Lifecycle)
}

pub(super) async fn get_bucket_encryption(b: &LocalBackend, req: S3Request<GetBucketEncryptionInput>) -> Result<S3Response<GetBucketEncryptionOutput>, Error> {
    unconfigured(b, &req.input.bucket, BucketSetting::Encryption)
}

pub(super) async fn get_bucket_tagging(b: &LocalBackend, req: S3Request<GetBucketTaggingInput>) -> Result<S3Response<GetBucketTaggingOutput>, Error> {
    unconfigured(b, &req.input.bucket, BucketSetting::Tagging)
}

pub(super) async fn get_bucket_website(b: &LocalBackend, req: S3Request<GetBucketWebsiteInput>) -> Result<S3Response<GetBucketWebsiteOutput>, Error> {
    unconfigured(b, &req.input.bucket, BucketSetting::Website)
}

//! The bucket settings tollgate does not store: reads of policy, CORS, lifecycle,
//! encryption, tagging and website settings answer "not configured".

use super::Gateway;
use crate::backend::{BucketSetting, Error};

use s3s::dto::*;
use s3s::{S3Request, S3Response};

/// Answers a read of a bucket setting tollgate never stores: the bucket must exist, and
/// then the setting is absent, as on an AWS bucket where it was never configured.
fn unconfigured<T>(g: &Gateway, bucket: &str, setting: BucketSetting) -> Result<T, Error> {
    g.backends.of(bucket).index().bucket(bucket)?;
    Err(Error::Unconfigured(setting))
}

pub(super) async fn get_bucket_policy(g: &Gateway, req: S3Request<GetBucketPolicyInput>) -> Result<S3Response<GetBucketPolicyOutput>, Error> {
    unconfigured(g, &req.input.bucket, BucketSetting::Policy)
}

pub(super) async fn get_bucket_cors(g: &Gateway, req: S3Request<GetBucketCorsInput>) -> Result<S3Response<GetBucketCorsOutput>, Error> {
    unconfigured(g, &req.input.bucket, BucketSetting::Cors)
}

pub(super) async fn get_bucket_lifecycle_configuration(
    g: &Gateway,
    req: S3Request<GetBucketLifecycleConfigurationInput>,
) -> Result<S3Response<GetBucketLifecycleConfigurationOutput>, Error> {
    unconfigured(g, &req.input.bucket, BucketSetting::Lifecycle)
}

pub(super) async fn get_bucket_encryption(g: &Gateway, req: S3Request<GetBucketEncryptionInput>) -> Result<S3Response<GetBucketEncryptionOutput>, Error> {
    unconfigured(g, &req.input.bucket, BucketSetting::Encryption)
}

pub(super) async fn get_bucket_tagging(g: &Gateway, req: S3Request<GetBucketTaggingInput>) -> Result<S3Response<GetBucketTaggingOutput>, Error> {
    unconfigured(g, &req.input.bucket, BucketSetting::Tagging)
}

pub(super) async fn get_bucket_website(g: &Gateway, req: S3Request<GetBucketWebsiteInput>) -> Result<S3Response<GetBucketWebsiteOutput>, Error> {
    unconfigured(g, &req.input.bucket, BucketSetting::Website)
}

//! Bucket configuration: the documents tollgate keeps (tags, policy, CORS, lifecycle,
//! default encryption), and reads of the settings it does not store (website), which
//! answer "not configured".

use super::Gateway;
use crate::backend::{BucketSetting, Error};
use crate::lifecycle::{Lifecycle, LifecycleError};
use crate::meta::BucketConfigKind;
use crate::ops::Operation;
use crate::policy::config::{BucketConfigs, BucketEncryption, ConfigError, Tag as BucketTag, tags_document};
use crate::policy::cors::{CorsError, CorsRule, CorsRules};

use s3s::dto::*;
use s3s::{S3Request, S3Response};

/// Answers a read of a bucket setting tollgate never stores: the bucket must exist, and
/// then the setting is absent, as on an AWS bucket where it was never configured.
fn unconfigured<T>(g: &Gateway, bucket: &str, setting: BucketSetting) -> Result<T, Error> {
    g.backends.of(bucket).index().bucket(bucket)?;
    Err(Error::Unconfigured(setting))
}

pub(super) async fn get_bucket_policy(g: &Gateway, req: S3Request<GetBucketPolicyInput>) -> Result<S3Response<GetBucketPolicyOutput>, Error> {
    match &g.configs.of(&req.input.bucket).policy {
        Some(policy) => Ok(S3Response::new(GetBucketPolicyOutput { policy: Some(policy.text().to_owned()) })),
        None => unconfigured(g, &req.input.bucket, BucketSetting::Policy),
    }
}

pub(super) async fn put_bucket_policy(g: &Gateway, req: S3Request<PutBucketPolicyInput>) -> Result<S3Response<PutBucketPolicyOutput>, Error> {
    let bucket = &req.input.bucket;
    g.backends.of(bucket).index().bucket(bucket)?;
    if req.input.confirm_remove_self_bucket_access == Some(true) {
        return Err(Error::NotImplemented("ConfirmRemoveSelfBucketAccess is not supported: the bucket's tenant admins and root always keep access"));
    }
    let policy = crate::policy::document::BucketPolicy::parse(&req.input.policy, bucket).map_err(|why| Error::InvalidConfig(BucketConfigKind::Policy, why))?;
    if policy.is_public() && g.configs.public_access_block(bucket).block_public_policy {
        return Err(Error::AccessDenied("Access Denied: the bucket's Block Public Access settings refuse public policies (BlockPublicPolicy)".into()));
    }
    set_config(g, &req, Operation::PutBucketPolicy, bucket, BucketConfigKind::Policy, Some(&req.input.policy)).await?;
    Ok(S3Response::new(PutBucketPolicyOutput::default()))
}

pub(super) async fn delete_bucket_policy(g: &Gateway, req: S3Request<DeleteBucketPolicyInput>) -> Result<S3Response<DeleteBucketPolicyOutput>, Error> {
    set_config(g, &req, Operation::DeleteBucketPolicy, &req.input.bucket, BucketConfigKind::Policy, None).await?;
    Ok(S3Response::new(DeleteBucketPolicyOutput::default()))
}

pub(super) async fn get_bucket_policy_status(
    g: &Gateway,
    req: S3Request<GetBucketPolicyStatusInput>,
) -> Result<S3Response<GetBucketPolicyStatusOutput>, Error> {
    let Some(policy) = &g.configs.of(&req.input.bucket).policy else {
        return unconfigured(g, &req.input.bucket, BucketSetting::Policy);
    };
    Ok(S3Response::new(GetBucketPolicyStatusOutput { policy_status: Some(PolicyStatus { is_public: Some(policy.is_public()) }) }))
}

pub(super) async fn get_bucket_cors(g: &Gateway, req: S3Request<GetBucketCorsInput>) -> Result<S3Response<GetBucketCorsOutput>, Error> {
    let config = g.configs.of(&req.input.bucket);
    let Some(cors) = &config.cors else {
        return unconfigured(g, &req.input.bucket, BucketSetting::Cors);
    };
    let cors_rules = cors
        .rules()
        .iter()
        .map(|r| CORSRule {
            id: r.id.clone(),
            allowed_origins: r.allowed_origins.clone(),
            allowed_methods: r.allowed_methods.clone(),
            allowed_headers: (!r.allowed_headers.is_empty()).then(|| r.allowed_headers.clone()),
            expose_headers: (!r.expose_headers.is_empty()).then(|| r.expose_headers.clone()),
            max_age_seconds: r.max_age_seconds,
        })
        .collect();
    Ok(S3Response::new(GetBucketCorsOutput { cors_rules: Some(cors_rules) }))
}

pub(super) async fn put_bucket_cors(g: &Gateway, req: S3Request<PutBucketCorsInput>) -> Result<S3Response<PutBucketCorsOutput>, Error> {
    let rules = req
        .input
        .cors_configuration
        .cors_rules
        .iter()
        .map(|r| CorsRule {
            id: r.id.clone(),
            allowed_origins: r.allowed_origins.clone(),
            allowed_methods: r.allowed_methods.clone(),
            allowed_headers: r.allowed_headers.clone().unwrap_or_default(),
            expose_headers: r.expose_headers.clone().unwrap_or_default(),
            max_age_seconds: r.max_age_seconds,
        })
        .collect();
    let rules = CorsRules::new(rules).map_err(|e| match e {
        CorsError::Invalid(why) => Error::InvalidRequest(why),
        CorsError::Malformed(why) => Error::InvalidConfig(BucketConfigKind::Cors, why),
    })?;
    set_config(g, &req, Operation::PutBucketCors, &req.input.bucket, BucketConfigKind::Cors, Some(&rules.document())).await?;
    Ok(S3Response::new(PutBucketCorsOutput::default()))
}

pub(super) async fn delete_bucket_cors(g: &Gateway, req: S3Request<DeleteBucketCorsInput>) -> Result<S3Response<DeleteBucketCorsOutput>, Error> {
    set_config(g, &req, Operation::DeleteBucketCors, &req.input.bucket, BucketConfigKind::Cors, None).await?;
    Ok(S3Response::new(DeleteBucketCorsOutput::default()))
}

pub(super) async fn get_bucket_lifecycle_configuration(
    g: &Gateway,
    req: S3Request<GetBucketLifecycleConfigurationInput>,
) -> Result<S3Response<GetBucketLifecycleConfigurationOutput>, Error> {
    match &g.configs.of(&req.input.bucket).lifecycle {
        Some(lifecycle) => Ok(S3Response::new(GetBucketLifecycleConfigurationOutput { rules: Some(lifecycle.to_dto()), ..Default::default() })),
        None => unconfigured(g, &req.input.bucket, BucketSetting::Lifecycle),
    }
}

pub(super) async fn put_bucket_lifecycle_configuration(
    g: &Gateway,
    req: S3Request<PutBucketLifecycleConfigurationInput>,
) -> Result<S3Response<PutBucketLifecycleConfigurationOutput>, Error> {
    let Some(config) = &req.input.lifecycle_configuration else {
        return Err(Error::InvalidConfig(BucketConfigKind::Lifecycle, "The request has no LifecycleConfiguration".into()));
    };
    let lifecycle = Lifecycle::from_dto(config).map_err(|e| match e {
        LifecycleError::Malformed(why) => Error::InvalidConfig(BucketConfigKind::Lifecycle, why),
        LifecycleError::InvalidArgument(why) => Error::InvalidArgument(why),
        LifecycleError::InvalidRequest(why) => Error::InvalidRequest(why),
        LifecycleError::NotImplemented(why) => Error::NotImplemented(why),
    })?;
    let bucket = &req.input.bucket;
    set_config(g, &req, Operation::PutBucketLifecycleConfiguration, bucket, BucketConfigKind::Lifecycle, Some(&lifecycle.document())).await?;
    Ok(S3Response::new(PutBucketLifecycleConfigurationOutput::default()))
}

pub(super) async fn delete_bucket_lifecycle(g: &Gateway, req: S3Request<DeleteBucketLifecycleInput>) -> Result<S3Response<DeleteBucketLifecycleOutput>, Error> {
    set_config(g, &req, Operation::DeleteBucketLifecycle, &req.input.bucket, BucketConfigKind::Lifecycle, None).await?;
    Ok(S3Response::new(DeleteBucketLifecycleOutput::default()))
}

pub(super) async fn get_bucket_encryption(g: &Gateway, req: S3Request<GetBucketEncryptionInput>) -> Result<S3Response<GetBucketEncryptionOutput>, Error> {
    let Some(e) = g.configs.of(&req.input.bucket).encryption.clone() else {
        return unconfigured(g, &req.input.bucket, BucketSetting::Encryption);
    };
    let rule = ServerSideEncryptionRule {
        apply_server_side_encryption_by_default: Some(ServerSideEncryptionByDefault {
            sse_algorithm: ServerSideEncryption::from(e.algorithm),
            kms_master_key_id: e.kms_key_id,
        }),
        bucket_key_enabled: Some(e.bucket_key_enabled),
    };
    Ok(S3Response::new(GetBucketEncryptionOutput { server_side_encryption_configuration: Some(ServerSideEncryptionConfiguration { rules: vec![rule] }) }))
}

pub(super) async fn put_bucket_encryption(g: &Gateway, req: S3Request<PutBucketEncryptionInput>) -> Result<S3Response<PutBucketEncryptionOutput>, Error> {
    let bucket = &req.input.bucket;
    g.backends.of(bucket).index().bucket(bucket)?;
    let [rule] = req.input.server_side_encryption_configuration.rules.as_slice() else {
        return Err(Error::InvalidConfig(BucketConfigKind::Encryption, "The configuration must hold exactly one Rule".into()));
    };
    let Some(default) = &rule.apply_server_side_encryption_by_default else {
        return Err(Error::InvalidConfig(BucketConfigKind::Encryption, "The Rule has no ApplyServerSideEncryptionByDefault".into()));
    };
    let algorithm = default.sse_algorithm.as_str();
    match algorithm {
        ServerSideEncryption::AES256 if default.kms_master_key_id.is_some() => {
            return Err(Error::InvalidArgument("a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or aws:kms:dsse".into()));
        }
        ServerSideEncryption::AES256 => {}
        ServerSideEncryption::AWS_KMS => {
            // The key must be one the keyring has (or will make: the default).
            g.sse_kms_check(default.kms_master_key_id.as_deref()).await?;
        }
        ServerSideEncryption::AWS_KMS_DSSE => return Err(Error::NotImplemented("DSSE-KMS (two layers of encryption) is not supported: use aws:kms or AES256")),
        other => return Err(Error::InvalidConfig(BucketConfigKind::Encryption, format!("The SSEAlgorithm {other} is not valid"))),
    }
    let kms_key_id = default.kms_master_key_id.as_deref().map(crate::backend::sealed::kms_key_id).transpose()?.map(str::to_owned);
    let encryption = BucketEncryption { algorithm: algorithm.to_owned(), kms_key_id, bucket_key_enabled: rule.bucket_key_enabled.unwrap_or(false) };
    let document = serde_json::to_string(&encryption).map_err(|e| Error::InvalidConfig(BucketConfigKind::Encryption, e.to_string()))?;
    set_config(g, &req, Operation::PutBucketEncryption, bucket, BucketConfigKind::Encryption, Some(&document)).await?;
    Ok(S3Response::new(PutBucketEncryptionOutput::default()))
}

pub(super) async fn delete_bucket_encryption(
    g: &Gateway,
    req: S3Request<DeleteBucketEncryptionInput>,
) -> Result<S3Response<DeleteBucketEncryptionOutput>, Error> {
    set_config(g, &req, Operation::DeleteBucketEncryption, &req.input.bucket, BucketConfigKind::Encryption, None).await?;
    Ok(S3Response::new(DeleteBucketEncryptionOutput::default()))
}

/// The gateway error of a configuration change of `kind` that failed.
pub(super) fn config_error(kind: BucketConfigKind) -> impl Fn(ConfigError) -> Error {
    move |e| match e {
        ConfigError::Invalid(why) => Error::InvalidConfig(kind, why),
        ConfigError::Store(e) => e.into(),
    }
}

/// Validates, stores (or with `None` removes) and audits a bucket's document of `kind`.
pub(super) async fn set_config<T>(
    g: &Gateway,
    req: &S3Request<T>,
    op: Operation,
    bucket: &str,
    kind: BucketConfigKind,
    document: Option<&str>,
) -> Result<(), Error> {
    let change = BucketConfigs::check(bucket, kind, document).map_err(config_error(kind))?;
    g.change(change, crate::audit::entry(req, op, bucket, "", 0)).await.map(drop)
}

pub(super) async fn get_bucket_tagging(g: &Gateway, req: S3Request<GetBucketTaggingInput>) -> Result<S3Response<GetBucketTaggingOutput>, Error> {
    let config = g.configs.of(&req.input.bucket);
    if config.tags.is_empty() {
        return unconfigured(g, &req.input.bucket, BucketSetting::Tagging);
    }
    let tag_set = config.tags.iter().map(|t| Tag { key: Some(t.key.clone()), value: Some(t.value.clone()) }).collect();
    Ok(S3Response::new(GetBucketTaggingOutput { tag_set }))
}

pub(super) async fn put_bucket_tagging(g: &Gateway, req: S3Request<PutBucketTaggingInput>) -> Result<S3Response<PutBucketTaggingOutput>, Error> {
    let tags: Vec<BucketTag> =
        req.input.tagging.tag_set.iter().map(|t| BucketTag { key: t.key.clone().unwrap_or_default(), value: t.value.clone().unwrap_or_default() }).collect();
    let document = tags_document(&tags).map_err(|why| Error::InvalidConfig(BucketConfigKind::Tagging, why))?;
    // An empty set leaves the bucket untagged, as S3 answers it afterwards.
    let document = (!tags.is_empty()).then_some(document);
    set_config(g, &req, Operation::PutBucketTagging, &req.input.bucket, BucketConfigKind::Tagging, document.as_deref()).await?;
    Ok(S3Response::new(PutBucketTaggingOutput::default()))
}

pub(super) async fn delete_bucket_tagging(g: &Gateway, req: S3Request<DeleteBucketTaggingInput>) -> Result<S3Response<DeleteBucketTaggingOutput>, Error> {
    set_config(g, &req, Operation::DeleteBucketTagging, &req.input.bucket, BucketConfigKind::Tagging, None).await?;
    Ok(S3Response::new(DeleteBucketTaggingOutput::default()))
}

pub(super) async fn get_bucket_website(g: &Gateway, req: S3Request<GetBucketWebsiteInput>) -> Result<S3Response<GetBucketWebsiteOutput>, Error> {
    unconfigured(g, &req.input.bucket, BucketSetting::Website)
}

//! The S3 layer: one [`Gateway`] implementing [`s3s::S3`] over the object layer
//! ([`crate::backend::Objects`]). Everything S3-level is decided here, once for every
//! engine: request validation, preconditions, tags and attributes, topic-filtered
//! listings, audit entries, and the answers with their headers. The object layer commits
//! what an engine ([`crate::backend::Engine`]) stores; an engine only moves bytes.
//!
//! One file per operation group: [`buckets`], [`objects`], [`copy`], [`multipart`],
//! [`listing`], [`tagging`], [`acl`], [`attributes`], [`settings`]; what a request says is
//! read in [`request`], shared answers are built in [`answer`]. A new S3 feature gets
//! a file of its own here, and an engine method only if it needs bytes moved differently.
//!
//! Access is decided before any of this runs ([`crate::policy`]); every call is timed for
//! the metrics.

mod acl;
mod answer;
mod attributes;
mod buckets;
mod copy;
mod listing;
mod lock;
mod multipart;
mod objects;
mod request;
mod settings;
pub mod sse;
mod tagging;

use crate::backend::placement::Backends;
use crate::meta::Store;
use crate::obs::metrics::Metrics;
use crate::ops::{Operation, OperationInput};
use crate::policy::config::BucketConfigs;
use crate::policy::topics::Topics;

use std::future::Future;
use std::sync::Arc;

/// The S3 service of the gateway.
pub struct Gateway {
    backends: Arc<Backends>,
    /// The gateway's region (`region`): every bucket's.
    region: String,
    metrics: Arc<Metrics>,
    topics: Arc<Topics>,
    /// Every bucket's S3 configuration (tags, ...), compiled.
    configs: Arc<BucketConfigs>,
    store: Arc<dyn Store>,
    /// The length of a lifecycle day (`jobs.lifecycle_day_secs`), for `x-amz-expiration`.
    lifecycle_day_secs: u64,
    /// The keys and settings of encryption at rest.
    sse: Arc<sse::SseKeys>,
    /// Where bucket creations, deletions and settings go (shared by a cluster).
    control: Arc<crate::backend::control::ControlPlane>,
}

impl Gateway {
    /// A gateway over `backends`; `region` is every bucket's, `topics` filter listings.
    #[must_use]
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        backends: Arc<Backends>,
        region: String,
        metrics: Arc<Metrics>,
        topics: Arc<Topics>,
        configs: Arc<BucketConfigs>,
        store: Arc<dyn Store>,
        lifecycle_day_secs: u64,
        sse: Arc<sse::SseKeys>,
        control: Arc<crate::backend::control::ControlPlane>,
    ) -> Self {
        Self { backends, region, metrics, topics, configs, store, lifecycle_day_secs, sse, control }
    }

    /// Makes a control-plane change (through the cluster's log, in a cluster), audited.
    async fn change(&self, change: crate::meta::ControlChange, audit: crate::meta::AuditEntry) -> Result<crate::meta::Applied, crate::backend::Error> {
        self.control.submit(change, Some(audit)).await
    }

    /// The `x-amz-expiration` of `rec`, the current version of `key`, if a lifecycle rule
    /// of its bucket will expire it.
    fn expiration(&self, bucket: &str, key: &str, rec: &crate::meta::ObjectRecord) -> Option<String> {
        let config = self.configs.of(bucket);
        let (at, rule) = config.lifecycle.as_ref()?.expiry(key, rec.size, &rec.tags, rec.last_modified_ns, self.lifecycle_day_secs)?;
        Some(crate::lifecycle::expiration_header(at, rule))
    }

    /// Refuses an SSE-KMS key the keyring does not have, or has disabled (none: the default
    /// key). In a cluster, a key not known here is looked for in the control log first.
    async fn sse_kms_check(&self, key: Option<&str>) -> Result<(), crate::backend::Error> {
        let check = || self.sse.keys().sse_kms(key.unwrap_or(crate::backend::sealed::DEFAULT_KMS_KEY), "").map(drop);
        match check() {
            Err(crate::backend::Error::BadRequest { code: "KMS.NotFoundException", .. }) if self.control.clustered() => {
                self.control.refresh().await;
                check()
            }
            checked => checked,
        }
    }

    /// A request let in by an object's ACL grant only: the grant is this index's record's,
    /// which for an object kept at its key upstream holds only while the upstream holds
    /// the bytes it describes (another instance of a cluster, or a writer past the
    /// gateway, may have replaced them, under another ACL). Else the record goes, as a
    /// repair, and the request is refused as it is without the grant.
    async fn object_grant_holds<T>(&self, req: &s3s::S3Request<T>) -> Result<(), crate::backend::Error> {
        let Some((bucket, key)) = req.extensions.get::<crate::context::RequestContext>().and_then(|cx| cx.object_grant.get()) else { return Ok(()) };
        if self.backends.of(bucket).record_current(bucket, key).await? {
            return Ok(());
        }
        tracing::info!(bucket, key, "an object ACL grant refused: the object was replaced past this instance");
        Err(crate::backend::Error::AccessDenied("Access Denied".into()))
    }

    /// Runs an operation, timing it for the metrics.
    async fn timed<T>(&self, operation: Operation, call: impl Future<Output = Result<T, crate::backend::Error>>) -> s3s::S3Result<T> {
        let started = std::time::Instant::now();
        let result = call.await.map_err(s3s::S3Error::from);
        let failed = result.as_ref().err().is_some_and(|e| e.status_code().is_some_and(|s| s.is_server_error()));
        self.metrics.backend_call(operation, started.elapsed(), failed);
        result
    }
}

/// Implements [`s3s::S3`] for the gateway from one list of operations, each a function of
/// its group file; their [`crate::backend::Error`]s map to S3 errors through one table.
macro_rules! s3_operations {
    ($($group:ident :: $op:ident ($input:ident) -> $output:ident;)*) => {
        #[async_trait::async_trait]
        impl s3s::S3 for Gateway {
            $(
                #[tracing::instrument(level = "debug", skip_all)]
                async fn $op(&self, req: s3s::S3Request<s3s::dto::$input>) -> s3s::S3Result<s3s::S3Response<s3s::dto::$output>> {
                    self.timed(<s3s::dto::$input as OperationInput>::OPERATION, async {
                        self.object_grant_holds(&req).await?;
                        $group::$op(self, req).await
                    })
                    .await
                }
            )*
        }
    };
}

s3_operations! {
    buckets::list_buckets(ListBucketsInput) -> ListBucketsOutput;
    buckets::create_bucket(CreateBucketInput) -> CreateBucketOutput;
    buckets::delete_bucket(DeleteBucketInput) -> DeleteBucketOutput;
    buckets::head_bucket(HeadBucketInput) -> HeadBucketOutput;
    buckets::get_bucket_location(GetBucketLocationInput) -> GetBucketLocationOutput;
    buckets::get_bucket_versioning(GetBucketVersioningInput) -> GetBucketVersioningOutput;
    buckets::put_bucket_versioning(PutBucketVersioningInput) -> PutBucketVersioningOutput;
    objects::put_object(PutObjectInput) -> PutObjectOutput;
    objects::get_object(GetObjectInput) -> GetObjectOutput;
    objects::head_object(HeadObjectInput) -> HeadObjectOutput;
    objects::get_object_torrent(GetObjectTorrentInput) -> GetObjectTorrentOutput;
    objects::delete_object(DeleteObjectInput) -> DeleteObjectOutput;
    objects::delete_objects(DeleteObjectsInput) -> DeleteObjectsOutput;
    attributes::get_object_attributes(GetObjectAttributesInput) -> GetObjectAttributesOutput;
    copy::copy_object(CopyObjectInput) -> CopyObjectOutput;
    copy::upload_part_copy(UploadPartCopyInput) -> UploadPartCopyOutput;
    listing::list_objects(ListObjectsInput) -> ListObjectsOutput;
    listing::list_objects_v2(ListObjectsV2Input) -> ListObjectsV2Output;
    listing::list_object_versions(ListObjectVersionsInput) -> ListObjectVersionsOutput;
    multipart::create_multipart_upload(CreateMultipartUploadInput) -> CreateMultipartUploadOutput;
    multipart::upload_part(UploadPartInput) -> UploadPartOutput;
    multipart::complete_multipart_upload(CompleteMultipartUploadInput) -> CompleteMultipartUploadOutput;
    multipart::abort_multipart_upload(AbortMultipartUploadInput) -> AbortMultipartUploadOutput;
    multipart::list_parts(ListPartsInput) -> ListPartsOutput;
    multipart::list_multipart_uploads(ListMultipartUploadsInput) -> ListMultipartUploadsOutput;
    lock::put_object_lock_configuration(PutObjectLockConfigurationInput) -> PutObjectLockConfigurationOutput;
    lock::get_object_lock_configuration(GetObjectLockConfigurationInput) -> GetObjectLockConfigurationOutput;
    lock::put_object_retention(PutObjectRetentionInput) -> PutObjectRetentionOutput;
    lock::get_object_retention(GetObjectRetentionInput) -> GetObjectRetentionOutput;
    lock::put_object_legal_hold(PutObjectLegalHoldInput) -> PutObjectLegalHoldOutput;
    lock::get_object_legal_hold(GetObjectLegalHoldInput) -> GetObjectLegalHoldOutput;
    tagging::get_object_tagging(GetObjectTaggingInput) -> GetObjectTaggingOutput;
    tagging::put_object_tagging(PutObjectTaggingInput) -> PutObjectTaggingOutput;
    tagging::delete_object_tagging(DeleteObjectTaggingInput) -> DeleteObjectTaggingOutput;
    acl::get_bucket_acl(GetBucketAclInput) -> GetBucketAclOutput;
    acl::get_object_acl(GetObjectAclInput) -> GetObjectAclOutput;
    acl::put_bucket_acl(PutBucketAclInput) -> PutBucketAclOutput;
    acl::put_object_acl(PutObjectAclInput) -> PutObjectAclOutput;
    acl::get_bucket_ownership_controls(GetBucketOwnershipControlsInput) -> GetBucketOwnershipControlsOutput;
    acl::put_bucket_ownership_controls(PutBucketOwnershipControlsInput) -> PutBucketOwnershipControlsOutput;
    acl::delete_bucket_ownership_controls(DeleteBucketOwnershipControlsInput) -> DeleteBucketOwnershipControlsOutput;
    acl::get_public_access_block(GetPublicAccessBlockInput) -> GetPublicAccessBlockOutput;
    acl::put_public_access_block(PutPublicAccessBlockInput) -> PutPublicAccessBlockOutput;
    acl::delete_public_access_block(DeletePublicAccessBlockInput) -> DeletePublicAccessBlockOutput;
    settings::get_bucket_policy(GetBucketPolicyInput) -> GetBucketPolicyOutput;
    settings::put_bucket_policy(PutBucketPolicyInput) -> PutBucketPolicyOutput;
    settings::delete_bucket_policy(DeleteBucketPolicyInput) -> DeleteBucketPolicyOutput;
    settings::get_bucket_policy_status(GetBucketPolicyStatusInput) -> GetBucketPolicyStatusOutput;
    settings::get_bucket_cors(GetBucketCorsInput) -> GetBucketCorsOutput;
    settings::put_bucket_cors(PutBucketCorsInput) -> PutBucketCorsOutput;
    settings::delete_bucket_cors(DeleteBucketCorsInput) -> DeleteBucketCorsOutput;
    settings::get_bucket_lifecycle_configuration(GetBucketLifecycleConfigurationInput) -> GetBucketLifecycleConfigurationOutput;
    settings::put_bucket_lifecycle_configuration(PutBucketLifecycleConfigurationInput) -> PutBucketLifecycleConfigurationOutput;
    settings::delete_bucket_lifecycle(DeleteBucketLifecycleInput) -> DeleteBucketLifecycleOutput;
    settings::get_bucket_encryption(GetBucketEncryptionInput) -> GetBucketEncryptionOutput;
    settings::put_bucket_encryption(PutBucketEncryptionInput) -> PutBucketEncryptionOutput;
    settings::delete_bucket_encryption(DeleteBucketEncryptionInput) -> DeleteBucketEncryptionOutput;
    settings::get_bucket_tagging(GetBucketTaggingInput) -> GetBucketTaggingOutput;
    settings::put_bucket_tagging(PutBucketTaggingInput) -> PutBucketTaggingOutput;
    settings::delete_bucket_tagging(DeleteBucketTaggingInput) -> DeleteBucketTaggingOutput;
    settings::get_bucket_website(GetBucketWebsiteInput) -> GetBucketWebsiteOutput;
}

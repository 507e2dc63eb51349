//! The upstream backend: object bytes live in another S3 service (AWS S3, Ceph RGW, MinIO,
//! Garage, moto, another tollgate), reached with the gateway's own credentials. Requests
//! are rebuilt and re-signed ([`client`]), bodies stream both ways and are hashed once on
//! the way ([`body`]), answers are parsed with quick-xml ([`xml`]).
//!
//! The gateway keeps its [`Index`] as for the local backend: buckets belong to tenants,
//! and every object written through the gateway has a record (size, ETag, SHA-256, proof
//! id, checksums, tags) that drives usage, quotas, proofs and topic rules. The upstream is
//! the truth for bytes, attributes and listings: reads and listings are forwarded, so
//! objects written by another gateway instance sharing the upstream are seen too. Writes
//! to one key are serialized inside the gateway, so conditional writes (`If-Match`,
//! `If-None-Match: *`) hold even against an upstream that ignores them.
//!
//! One file per operation group: [`bucket`], [`object`], [`list`], [`multipart`].

mod body;
mod bucket;
pub mod client;
mod list;
mod locks;
mod mirror;
mod multipart;
mod object;
mod relocate;
mod spool;
mod xml;

use crate::backend::index::Index;
use crate::backend::{Backend, Error, ScrubReport, answers, listing};
use crate::meta::{BucketRecord, Store};
use crate::proof::Prover;

use client::{Call, Client, ClientOptions};
pub use mirror::{MirrorReport, MirrorTarget, RestoreReport};

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::Method;

/// Where gateway buckets live upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mapping {
    /// Each gateway bucket is the upstream bucket `{prefix}{bucket}`.
    Buckets { prefix: String },
    /// Every gateway bucket is the prefix `{tenant}/{bucket}/` of this upstream bucket
    /// (`tenant`: the one that created it). Keys are then shorter than 1024 bytes by the
    /// length of that prefix.
    Prefix { bucket: String },
}

/// Settings of the upstream backend.
pub struct UpstreamOptions {
    pub client: ClientOptions,
    pub mapping: Mapping,
    /// Largest object (or part) accepted, in bytes.
    pub max_object_size: u64,
    /// How long a client's request body may stall before the request fails.
    pub body_idle_timeout: Duration,
    /// Sync the index before acknowledging a write.
    pub fsync: bool,
    /// Where the gateway's metadata is mirrored, if anywhere.
    pub mirror: Option<MirrorTarget>,
    /// Where bodies of unknown length wait until their length is known (emptied at open).
    pub spool_dir: std::path::PathBuf,
}

pub struct UpstreamBackend {
    index: Index,
    client: Client,
    mapping: Mapping,
    max_object_size: u64,
    body_idle_timeout: Duration,
    /// How long the upstream may stay silent in the middle of a download.
    timeout: Duration,
    locks: locks::KeyLocks,
    mirror: Option<MirrorTarget>,
    spool_dir: std::path::PathBuf,
}

/// The backend answers index lookups itself (`self.bucket(..)`, `self.store`).
impl std::ops::Deref for UpstreamBackend {
    type Target = Index;
    fn deref(&self) -> &Index {
        &self.index
    }
}

/// Where one gateway bucket's keys are upstream.
#[derive(Debug, Clone)]
struct Place {
    bucket: String,
    /// Prefix of every key (empty when buckets map one to one).
    root: String,
}

impl Place {
    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.root)
    }
}

impl UpstreamBackend {
    pub fn open(store: Arc<dyn Store>, prover: Option<Arc<Prover>>, opts: UpstreamOptions) -> Result<Self, Error> {
        let timeout = opts.client.timeout;
        let client = Client::new(opts.client).map_err(Error::Unavailable)?;
        spool::reset(&opts.spool_dir)?;
        Ok(Self {
            index: Index { store, prover, fsync: opts.fsync },
            client,
            mapping: opts.mapping,
            max_object_size: opts.max_object_size,
            body_idle_timeout: opts.body_idle_timeout,
            timeout,
            locks: locks::KeyLocks::default(),
            mirror: opts.mirror,
            spool_dir: opts.spool_dir,
        })
    }

    fn place_of(&self, rec: &BucketRecord) -> Place {
        match &self.mapping {
            Mapping::Buckets { prefix } => Place { bucket: format!("{prefix}{}", rec.name), root: String::new() },
            Mapping::Prefix { bucket } => {
                // The creating tenant, not the current owner: a change of owner moves no bytes.
                let tenant = if rec.origin.is_empty() { &rec.tenant } else { &rec.origin };
                Place { bucket: bucket.clone(), root: format!("{tenant}/{}/", rec.name) }
            }
        }
    }

    /// Where a gateway bucket is upstream (`NoSuchBucket` if the gateway has no such bucket).
    fn place(&self, bucket: &str) -> Result<Place, Error> {
        Ok(self.place_of(&self.bucket(bucket)?))
    }

    /// Sends a body-less request and returns the successful answer or the upstream's error.
    async fn call(&self, call: Call) -> Result<http::Response<hyper::body::Incoming>, Error> {
        let resp = self.client.send(&call, Bytes::new()).await?;
        self.client.ok(resp).await
    }
}

#[async_trait::async_trait]
impl Backend for UpstreamBackend {
    async fn ready(&self) -> Result<(), String> {
        self.store.bucket_list().map_err(|e| format!("metadata: {e}"))?;
        let probe = match &self.mapping {
            Mapping::Prefix { bucket } => Call::new(Method::HEAD, bucket, ""),
            Mapping::Buckets { .. } => Call::new(Method::GET, "", ""),
        };
        // Any answer below 500 (even a refusal) shows the upstream is there and serving.
        match self.client.send(&probe, Bytes::new()).await {
            Ok(resp) if !resp.status().is_server_error() => Ok(()),
            Ok(resp) => Err(format!("upstream answered {}", resp.status())),
            Err(e) => Err(e.to_string()),
        }
    }

    async fn scrub(&self, buckets: &[String], bytes_per_sec: u64) -> Result<ScrubReport, Error> {
        crate::backend::scrub::scrub(self, buckets, bytes_per_sec).await
    }

    async fn reconcile(&self, buckets: &[String], min_age: std::time::Duration) -> Result<crate::backend::ReconcileReport, Error> {
        list::reconcile(self, buckets, min_age).await
    }

    async fn expire_upload(&self, upload_id: &str) -> Result<(), Error> {
        multipart::expire(self, upload_id).await
    }

    async fn finish_pending(&self, id: &str, write: &crate::meta::PendingWrite) -> Result<bool, Error> {
        object::finish_pending(self, id, write).await
    }

    async fn mirror_metadata(&self, settled_only: bool) -> Result<Option<MirrorReport>, Error> {
        match &self.mirror {
            Some(t) => self.mirror(t, settled_only).await.map(Some),
            None => Ok(None),
        }
    }

    async fn restore_metadata(&self) -> Result<RestoreReport, Error> {
        match &self.mirror {
            Some(t) => self.restore(t).await,
            None => Err(Error::InvalidRequest("no upstream.meta_bucket is configured: nothing to rebuild from".into())),
        }
    }
}

impl crate::backend::scrub::ObjectReader for UpstreamBackend {
    fn index(&self) -> &Index {
        &self.index
    }

    async fn open(&self, bucket: &str, key: &str, _rec: &crate::meta::ObjectRecord) -> Result<crate::backend::scrub::ByteStream, Error> {
        object::download(self, bucket, key).await
    }
}

crate::backend::s3_operations! { UpstreamBackend;
    answers::list_buckets(ListBucketsInput) -> ListBucketsOutput;
    bucket::create_bucket(CreateBucketInput) -> CreateBucketOutput;
    bucket::delete_bucket(DeleteBucketInput) -> DeleteBucketOutput;
    answers::head_bucket(HeadBucketInput) -> HeadBucketOutput;
    answers::get_bucket_location(GetBucketLocationInput) -> GetBucketLocationOutput;
    answers::get_bucket_versioning(GetBucketVersioningInput) -> GetBucketVersioningOutput;
    object::put_object(PutObjectInput) -> PutObjectOutput;
    object::get_object(GetObjectInput) -> GetObjectOutput;
    object::head_object(HeadObjectInput) -> HeadObjectOutput;
    object::delete_object(DeleteObjectInput) -> DeleteObjectOutput;
    object::delete_objects(DeleteObjectsInput) -> DeleteObjectsOutput;
    object::copy_object(CopyObjectInput) -> CopyObjectOutput;
    listing::list_objects(ListObjectsInput) -> ListObjectsOutput;
    listing::list_objects_v2(ListObjectsV2Input) -> ListObjectsV2Output;
    listing::list_object_versions(ListObjectVersionsInput) -> ListObjectVersionsOutput;
    multipart::create_multipart_upload(CreateMultipartUploadInput) -> CreateMultipartUploadOutput;
    multipart::upload_part(UploadPartInput) -> UploadPartOutput;
    multipart::upload_part_copy(UploadPartCopyInput) -> UploadPartCopyOutput;
    multipart::complete_multipart_upload(CompleteMultipartUploadInput) -> CompleteMultipartUploadOutput;
    multipart::abort_multipart_upload(AbortMultipartUploadInput) -> AbortMultipartUploadOutput;
    answers::list_parts(ListPartsInput) -> ListPartsOutput;
    object::get_object_attributes(GetObjectAttributesInput) -> GetObjectAttributesOutput;
    answers::list_multipart_uploads(ListMultipartUploadsInput) -> ListMultipartUploadsOutput;
    object::get_object_tagging(GetObjectTaggingInput) -> GetObjectTaggingOutput;
    object::put_object_tagging(PutObjectTaggingInput) -> PutObjectTaggingOutput;
    object::delete_object_tagging(DeleteObjectTaggingInput) -> DeleteObjectTaggingOutput;
    answers::get_bucket_acl(GetBucketAclInput) -> GetBucketAclOutput;
    answers::get_object_acl(GetObjectAclInput) -> GetObjectAclOutput;
    answers::put_bucket_acl(PutBucketAclInput) -> PutBucketAclOutput;
    answers::put_object_acl(PutObjectAclInput) -> PutObjectAclOutput;
    answers::get_bucket_policy(GetBucketPolicyInput) -> GetBucketPolicyOutput;
    answers::get_bucket_cors(GetBucketCorsInput) -> GetBucketCorsOutput;
    answers::get_bucket_lifecycle_configuration(GetBucketLifecycleConfigurationInput) -> GetBucketLifecycleConfigurationOutput;
    answers::get_bucket_encryption(GetBucketEncryptionInput) -> GetBucketEncryptionOutput;
    answers::get_bucket_tagging(GetBucketTaggingInput) -> GetBucketTaggingOutput;
    answers::get_bucket_website(GetBucketWebsiteInput) -> GetBucketWebsiteOutput;
}

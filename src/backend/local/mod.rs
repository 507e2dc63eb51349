//! The local-disk backend: blobs as files under the data directory ([`blobs`]), the
//! object index in the metadata store. A write becomes visible only when complete:
//! bytes written and synced to `tmp/`, moved into `blobs/`, then one metadata
//! transaction (conditional checks, index entry, usage) makes it visible.
//!
//! One file per operation group: [`object`], [`list`], [`multipart`]; what is answered
//! from the index alone is in [`crate::backend::answers`].

mod blobs;
mod list;
mod multipart;
mod object;
mod relocate;

pub use blobs::BlobStore;

use crate::backend::index::Index;
use crate::backend::s3util::*;
use crate::backend::{Backend, Error, answers, listing};
use crate::meta::{Checksums, Store};
use crate::proof::Prover;
use crate::proof::hashing::{BodyDigests, BodyHasher, ChecksumSet};

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use s3s::S3Request;
use s3s::dto::StreamingBlob;

/// Settings of the local backend.
#[derive(Debug, Clone)]
pub struct LocalOptions {
    /// Sync blobs and the metadata log to disk before acknowledging a write.
    pub fsync: bool,
    /// Largest object (or part) accepted, in bytes.
    pub max_object_size: u64,
    /// How long a request body may stall before the request fails.
    pub body_idle_timeout: Duration,
}

pub struct LocalBackend {
    index: Index,
    blobs: BlobStore,
    opts: LocalOptions,
}

/// The backend answers index lookups itself (`self.bucket(..)`, `self.store`).
impl std::ops::Deref for LocalBackend {
    type Target = Index;
    fn deref(&self) -> &Index {
        &self.index
    }
}

impl LocalBackend {
    /// Opens the backend and removes blobs no index entry references: nothing is in
    /// flight yet, so they are orphans of a crash.
    pub fn open(data_dir: &Path, store: Arc<dyn Store>, opts: LocalOptions, prover: Option<Arc<Prover>>) -> Result<Self, Error> {
        let index = Index { store, prover, fsync: opts.fsync };
        let backend = Self { blobs: BlobStore::open(data_dir, opts.fsync, opts.body_idle_timeout)?, index, opts };
        backend.remove_orphan_blobs(Duration::ZERO)?;
        Ok(backend)
    }

    /// Removes blobs older than `min_age` that nothing references; returns how many.
    fn remove_orphan_blobs(&self, min_age: Duration) -> Result<u64, Error> {
        let referenced = self.store.referenced_blobs()?;
        let orphans: Vec<String> = self.blobs.list()?.into_iter().filter(|(id, age)| !referenced.contains(id) && *age >= min_age).map(|(id, _)| id).collect();
        for id in &orphans {
            tracing::warn!(blob = %id, "removing a blob no index entry references");
        }
        self.blobs.remove_now(orphans.iter().map(String::as_str))?;
        Ok(orphans.len() as u64)
    }

    /// Removes index entries of `buckets` older than `min_age` whose blobs are gone from
    /// disk (the object then answers 404 instead of failing every read; its manifests stay).
    async fn remove_orphan_entries(&self, buckets: &[String], min_age: Duration, report: &mut crate::backend::ReconcileReport) -> Result<(), Error> {
        let newest_ns = crate::audit::now_ns() - i128::try_from(min_age.as_nanos()).unwrap_or(i128::MAX);
        for bucket in buckets {
            let entries: Vec<_> = self.store.object_scan(bucket, "", None).collect::<Result<_, _>>()?;
            for (key, rec) in entries {
                if rec.segments.is_empty() && rec.size > 0 {
                    report.held_elsewhere += 1;
                    continue;
                }
                if rec.last_modified_ns > newest_ns {
                    continue;
                }
                let mut missing = None;
                for seg in &rec.segments {
                    if self.blobs.size_of(&seg.blob).await?.is_none() {
                        missing = Some(seg.blob.clone());
                        break;
                    }
                }
                let Some(blob) = missing else { continue };
                if self.index.remove_orphan(bucket, &key, &rec).await? {
                    tracing::error!(bucket = %bucket, key = %key, blob = %blob, proof_id = %rec.proof_id, "removed an index entry whose blob is missing");
                    report.orphan_entries += 1;
                }
            }
        }
        Ok(())
    }

    /// Streams a request body into a new blob, verifying `Content-MD5` and any
    /// `x-amz-checksum-*` given in headers or trailers. On any mismatch nothing is kept.
    async fn ingest<T>(&self, req: &S3Request<T>, body: Option<StreamingBlob>, expect: Expected) -> Result<(blobs::PendingBlob, BodyDigests), Error> {
        let check = BodyCheck::new(req, expect)?;
        let body = body.unwrap_or_else(|| StreamingBlob::wrap(futures::stream::empty::<Result<bytes::Bytes, std::io::Error>>()));
        let (pending, hasher) = self.blobs.write(body, check.hasher(), self.opts.max_object_size).await?;
        let digests = hasher.finish();
        check.verify(&digests)?;
        Ok((pending, digests))
    }
}

impl crate::backend::scrub::ObjectReader for LocalBackend {
    fn index(&self) -> &Index {
        &self.index
    }

    async fn open(&self, _bucket: &str, _key: &str, rec: &crate::meta::ObjectRecord) -> Result<crate::backend::scrub::ByteStream, Error> {
        Ok(Box::pin(self.blobs.read(&rec.segments, 0..rec.size)))
    }
}

#[async_trait::async_trait]
impl Backend for LocalBackend {
    async fn ready(&self) -> Result<(), String> {
        self.store.bucket_list().map_err(|e| e.to_string())?;
        self.blobs.probe_write().await.map_err(|e| format!("local disk: cannot write a blob: {e}"))
    }

    async fn scrub(&self, buckets: &[String], bytes_per_sec: u64) -> Result<crate::backend::ScrubReport, Error> {
        crate::backend::scrub::scrub(self, buckets, bytes_per_sec).await
    }

    async fn reconcile(&self, buckets: &[String], min_age: Duration) -> Result<crate::backend::ReconcileReport, Error> {
        let mut report = crate::backend::ReconcileReport { orphan_blobs: self.remove_orphan_blobs(min_age)?, ..Default::default() };
        self.remove_orphan_entries(buckets, min_age, &mut report).await?;
        Ok(report)
    }

    async fn expire_upload(&self, upload_id: &str) -> Result<(), Error> {
        let Some(up) = self.store.upload_get(upload_id)? else {
            return Ok(());
        };
        let gateway = crate::auth::Principal::anonymous();
        let audit = crate::audit::entry_for(&gateway, None, "ExpireMultipartUpload", &up.bucket, &up.key, "ok", 0);
        let parts = self.store.upload_delete(upload_id, Some(&audit))?;
        self.sync().await?;
        self.blobs.remove(parts.iter().map(|p| p.blob.as_str()));
        Ok(())
    }
}

crate::backend::s3_operations! { LocalBackend;
    answers::list_buckets(ListBucketsInput) -> ListBucketsOutput;
    answers::create_bucket(CreateBucketInput) -> CreateBucketOutput;
    answers::delete_bucket(DeleteBucketInput) -> DeleteBucketOutput;
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
    answers::get_object_attributes(GetObjectAttributesInput) -> GetObjectAttributesOutput;
    answers::list_multipart_uploads(ListMultipartUploadsInput) -> ListMultipartUploadsOutput;
    answers::get_object_tagging(GetObjectTaggingInput) -> GetObjectTaggingOutput;
    answers::put_object_tagging(PutObjectTaggingInput) -> PutObjectTaggingOutput;
    answers::delete_object_tagging(DeleteObjectTaggingInput) -> DeleteObjectTaggingOutput;
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

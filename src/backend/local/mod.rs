//! The local-disk backend: blobs as files under the data directory ([`blobs`]), the
//! object index in the metadata store. A write becomes visible only when complete:
//! bytes written and synced to `tmp/`, moved into `blobs/`, then one metadata
//! transaction (conditional checks, index entry, usage) makes it visible.
//!
//! One file per operation group: [`bucket`], [`object`], [`list`], [`multipart`],
//! [`extras`] (tagging, ACLs).

mod blobs;
mod bucket;
mod extras;
mod list;
mod multipart;
mod object;
mod scrub;

pub use blobs::BlobStore;

use crate::backend::{Backend, Error};
use crate::meta::{Checksums, ObjectAttrs, Precondition, Store};
use crate::proof::Prover;
use crate::proof::hashing::{BodyDigests, BodyHasher, ChecksumSet};

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use s3s::dto::{ETag, ETagCondition, Owner, StreamingBlob, Timestamp, TimestampFormat};
use s3s::{S3Request, TrailingHeaders};

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
    store: Arc<dyn Store>,
    blobs: BlobStore,
    opts: LocalOptions,
    /// Signs a proof manifest for every stored or deleted object version (if enabled).
    prover: Option<Arc<Prover>>,
}

impl LocalBackend {
    /// Opens the backend and reconciles disk with the index: nothing is in flight yet,
    /// so every blob no index entry references is an orphan of a crash.
    pub fn open(data_dir: &Path, store: Arc<dyn Store>, opts: LocalOptions, prover: Option<Arc<Prover>>) -> Result<Self, Error> {
        let backend = Self { blobs: BlobStore::open(data_dir, opts.fsync, opts.body_idle_timeout)?, store, opts, prover };
        let report = backend.reconcile(Duration::ZERO)?;
        if report.orphan_blobs > 0 || report.missing_blobs > 0 {
            tracing::warn!(orphans_removed = report.orphan_blobs, missing = report.missing_blobs, "reconciled blobs with the index");
        }
        Ok(backend)
    }

    /// Removes blobs older than `min_age` that nothing references, and counts index
    /// entries whose blobs are missing (never deleted: that is for an operator to see).
    pub fn reconcile(&self, min_age: Duration) -> Result<ReconcileReport, Error> {
        let referenced = self.store.referenced_blobs()?;
        let on_disk = self.blobs.list()?;
        let mut report = ReconcileReport::default();
        let mut orphans = Vec::new();
        for (id, age) in &on_disk {
            if !referenced.contains(id) && *age >= min_age {
                orphans.push(id.clone());
            }
        }
        let present: std::collections::BTreeSet<&str> = on_disk.iter().map(|(id, _)| id.as_str()).collect();
        for id in &referenced {
            if !present.contains(id.as_str()) {
                tracing::error!(blob = %id, "index entry references a missing blob");
                report.missing_blobs += 1;
            }
        }
        report.orphan_blobs = orphans.len();
        self.blobs.remove_now(orphans.iter().map(String::as_str))?;
        Ok(report)
    }

    /// Makes the writes so far durable, when configured to.
    async fn sync_meta(&self) -> Result<(), Error> {
        if self.opts.fsync {
            self.store.flush().await?;
        }
        Ok(())
    }

    fn bucket(&self, name: &str) -> Result<crate::meta::BucketRecord, Error> {
        self.store.bucket_get(name)?.ok_or(Error::NoSuchBucket)
    }

    fn object(&self, bucket: &str, key: &str) -> Result<crate::meta::ObjectRecord, Error> {
        match self.store.object_get(bucket, key)? {
            Some(rec) => Ok(rec),
            None => {
                self.bucket(bucket)?;
                Err(Error::NoSuchKey)
            }
        }
    }

    /// Streams a request body into a new blob, verifying `Content-MD5` and any
    /// `x-amz-checksum-*` given in headers or trailers. On any mismatch nothing is kept.
    async fn ingest<T>(&self, req: &S3Request<T>, body: Option<StreamingBlob>, expect: Expected) -> Result<(blobs::PendingBlob, BodyDigests), Error> {
        let content_md5 = match &expect.content_md5 {
            Some(b64) => {
                let raw = base64_simd::STANDARD.decode_to_vec(b64.trim()).map_err(|_| Error::InvalidDigest)?;
                Some(<[u8; 16]>::try_from(raw.as_slice()).map_err(|_| Error::InvalidDigest)?)
            }
            None => None,
        };
        let mut set = ChecksumSet::of(&expect.checksums);
        if let Some(alg) = &expect.algorithm
            && !set.add(alg)
        {
            return Err(Error::InvalidArgument(format!("unsupported checksum algorithm {alg}")));
        }
        let trailer_names = trailer_checksums(req);
        for name in &trailer_names {
            if !set.add(name.trim_start_matches("x-amz-checksum-")) {
                return Err(Error::InvalidArgument(format!("unsupported trailing checksum {name}")));
            }
        }
        let body = body.unwrap_or_else(|| StreamingBlob::wrap(futures::stream::empty::<Result<bytes::Bytes, std::io::Error>>()));
        let (pending, hasher) = self.blobs.write(body, BodyHasher::new(set), self.opts.max_object_size).await?;
        let digests = hasher.finish();
        if let Some(md5) = content_md5
            && md5 != digests.md5
        {
            return Err(Error::BadDigest("The Content-MD5 you specified did not match what we received.".into()));
        }
        let mut expected = expect.checksums;
        if !trailer_names.is_empty() {
            let trailers = req.trailing_headers.as_ref().and_then(TrailingHeaders::take).unwrap_or_default();
            for name in &trailer_names {
                let value = trailers
                    .get(name.as_str())
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
                    .ok_or_else(|| Error::InvalidRequest(format!("missing trailing checksum {name}")))?;
                *checksum_slot(&mut expected, name) = Some(value);
            }
        }
        verify_checksums(&expected, &digests.checksums)?;
        Ok((pending, digests))
    }
}

/// What a reconciliation of disk and index found (and repaired).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReconcileReport {
    /// Unreferenced blobs removed.
    pub orphan_blobs: usize,
    /// Referenced blobs not on disk.
    pub missing_blobs: usize,
}

/// What a client declared about a body it is sending.
#[derive(Debug, Default)]
struct Expected {
    content_md5: Option<String>,
    checksums: Checksums,
    algorithm: Option<String>,
}

/// Names (lower case) of the checksums announced in `x-amz-trailer`.
fn trailer_checksums<T>(req: &S3Request<T>) -> Vec<String> {
    req.headers
        .get_all("x-amz-trailer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| s.starts_with("x-amz-checksum-"))
        .collect()
}

fn checksum_slot<'a>(c: &'a mut Checksums, name: &str) -> &'a mut Option<String> {
    match name.trim_start_matches("x-amz-checksum-") {
        "crc32" => &mut c.crc32,
        "crc32c" => &mut c.crc32c,
        "crc64nvme" => &mut c.crc64nvme,
        "sha1" => &mut c.sha1,
        _ => &mut c.sha256,
    }
}

fn verify_checksums(expected: &Checksums, actual: &Checksums) -> Result<(), Error> {
    let pairs = [
        ("CRC32", &expected.crc32, &actual.crc32),
        ("CRC32C", &expected.crc32c, &actual.crc32c),
        ("CRC64NVME", &expected.crc64nvme, &actual.crc64nvme),
        ("SHA1", &expected.sha1, &actual.sha1),
        ("SHA256", &expected.sha256, &actual.sha256),
    ];
    for (name, want, got) in pairs {
        if let Some(want) = want
            && Some(want) != got.as_ref()
        {
            return Err(Error::BadDigest(format!("The {name} you specified did not match the calculated checksum.")));
        }
    }
    Ok(())
}

/// The object attributes carried by a write request.
macro_rules! attrs_from_input {
    ($input:expr) => {
        ObjectAttrs {
            content_type: $input.content_type.take(),
            content_encoding: $input.content_encoding.take(),
            content_disposition: $input.content_disposition.take(),
            content_language: $input.content_language.take(),
            cache_control: $input.cache_control.take(),
            expires: $input.expires.take().map(|t| crate::backend::local::http_date(&t)),
            website_redirect_location: $input.website_redirect_location.take(),
            user_metadata: crate::backend::local::sorted_metadata($input.metadata.take()),
        }
    };
}
pub(crate) use attrs_from_input;

fn sorted_metadata(m: Option<s3s::dto::Metadata>) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = m.unwrap_or_default().into_iter().map(|(k, v)| (k.to_ascii_lowercase(), v)).collect();
    v.sort();
    v
}

fn metadata_map(v: &[(String, String)]) -> Option<s3s::dto::Metadata> {
    (!v.is_empty()).then(|| v.iter().cloned().collect())
}

fn http_date(t: &Timestamp) -> String {
    let mut buf = Vec::new();
    let _ = t.format(TimestampFormat::HttpDate, &mut buf);
    String::from_utf8(buf).unwrap_or_default()
}

fn parse_http_date(s: &str) -> Option<Timestamp> {
    Timestamp::parse(TimestampFormat::HttpDate, s).ok()
}

fn now_ns() -> i128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i128)
}

fn timestamp(ns: i128) -> Timestamp {
    let d = Duration::from_nanos(u64::try_from(ns).unwrap_or(0));
    Timestamp::from(UNIX_EPOCH + d)
}

fn etag(s: &str) -> ETag {
    ETag::Strong(s.to_owned())
}

/// Adds `x-tollgate-proof-id` and `x-tollgate-sha256` for a recorded object version.
fn proof_headers(headers: &mut http::HeaderMap, rec: &crate::meta::ObjectRecord) {
    if rec.proof_id.is_empty() {
        return;
    }
    if let (Ok(id), Ok(sha)) = (http::HeaderValue::from_str(&rec.proof_id), http::HeaderValue::from_str(&rec.sha256)) {
        headers.insert("x-tollgate-proof-id", id);
        headers.insert("x-tollgate-sha256", sha);
    }
}

fn owner(tenant: &str) -> Owner {
    Owner { id: Some(tenant.to_owned()), display_name: Some(tenant.to_owned()) }
}

/// `If-Match` / `If-None-Match` of a write as a store precondition.
fn write_precondition(if_match: Option<&ETagCondition>, if_none_match: Option<&ETagCondition>) -> Result<Precondition, Error> {
    match (if_match, if_none_match) {
        (Some(_), Some(_)) => Err(Error::InvalidRequest("If-Match and If-None-Match cannot be combined".into())),
        (Some(ETagCondition::Any), None) => Ok(Precondition::Present),
        (Some(ETagCondition::ETag(e)), None) => Ok(Precondition::ETagIs(e.value().to_owned())),
        (None, Some(ETagCondition::Any)) => Ok(Precondition::Absent),
        (None, Some(ETagCondition::ETag(_))) => {
            Err(Error::NotImplemented("If-None-Match on writes supports only '*'"))
        }
        (None, None) => Ok(Precondition::None),
    }
}

/// Parses an `x-amz-tagging` header (URL query form) into tags, with S3's limits.
fn parse_tagging_header(h: Option<&str>) -> Result<Vec<(String, String)>, Error> {
    let Some(h) = h else { return Ok(Vec::new()) };
    let tags: Vec<(String, String)> =
        serde_urlencoded::from_str(h).map_err(|_| Error::InvalidArgument("The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates.".into()))?;
    validate_tags(&tags)?;
    Ok(tags)
}

fn validate_tags(tags: &[(String, String)]) -> Result<(), Error> {
    if tags.len() > 10 {
        return Err(Error::InvalidArgument("Object tags cannot be greater than 10".into()));
    }
    let mut names: Vec<&str> = tags.iter().map(|(k, _)| k.as_str()).collect();
    names.sort_unstable();
    if names.windows(2).any(|w| w[0] == w[1]) {
        return Err(Error::InvalidArgument("Cannot provide multiple Tags with the same key".into()));
    }
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > 128 || v.chars().count() > 256 {
            return Err(Error::InvalidArgument("The TagKey you have provided is invalid".into()));
        }
    }
    Ok(())
}

#[async_trait::async_trait]
impl Backend for LocalBackend {
    async fn ready(&self) -> Result<(), String> {
        self.store.bucket_list().map(|_| ()).map_err(|e| e.to_string())
    }

    async fn scrub(&self, bytes_per_sec: u64) -> Result<crate::backend::ScrubReport, Error> {
        self.scrub_all(bytes_per_sec).await
    }

    async fn expire_upload(&self, upload_id: &str) -> Result<(), Error> {
        let Some(up) = self.store.upload_get(upload_id)? else { return Ok(()) };
        let gateway = crate::auth::Principal::anonymous();
        let audit = crate::audit::entry_for(&gateway, None, "ExpireMultipartUpload", &up.bucket, &up.key, "ok", 0);
        let parts = self.store.upload_delete(upload_id, Some(&audit))?;
        self.sync_meta().await?;
        self.blobs.remove(parts.iter().map(|p| p.blob.as_str()));
        Ok(())
    }
}

/// Implements [`s3s::S3`] by calling the operation functions of the group files, whose
/// [`Error`]s map to S3 errors through one table.
macro_rules! s3_operations {
    ($($group:ident :: $op:ident ($input:ident) -> $output:ident;)*) => {
        #[async_trait::async_trait]
        impl s3s::S3 for LocalBackend {
            $(
                #[tracing::instrument(level = "debug", skip_all)]
                async fn $op(&self, req: S3Request<s3s::dto::$input>) -> s3s::S3Result<s3s::S3Response<s3s::dto::$output>> {
                    Ok($group::$op(self, req).await?)
                }
            )*
        }
    };
}

s3_operations! {
    bucket::list_buckets(ListBucketsInput) -> ListBucketsOutput;
    bucket::create_bucket(CreateBucketInput) -> CreateBucketOutput;
    bucket::delete_bucket(DeleteBucketInput) -> DeleteBucketOutput;
    bucket::head_bucket(HeadBucketInput) -> HeadBucketOutput;
    bucket::get_bucket_location(GetBucketLocationInput) -> GetBucketLocationOutput;
    bucket::get_bucket_versioning(GetBucketVersioningInput) -> GetBucketVersioningOutput;
    object::put_object(PutObjectInput) -> PutObjectOutput;
    object::get_object(GetObjectInput) -> GetObjectOutput;
    object::head_object(HeadObjectInput) -> HeadObjectOutput;
    object::delete_object(DeleteObjectInput) -> DeleteObjectOutput;
    object::delete_objects(DeleteObjectsInput) -> DeleteObjectsOutput;
    object::copy_object(CopyObjectInput) -> CopyObjectOutput;
    list::list_objects(ListObjectsInput) -> ListObjectsOutput;
    list::list_objects_v2(ListObjectsV2Input) -> ListObjectsV2Output;
    list::list_object_versions(ListObjectVersionsInput) -> ListObjectVersionsOutput;
    multipart::create_multipart_upload(CreateMultipartUploadInput) -> CreateMultipartUploadOutput;
    multipart::upload_part(UploadPartInput) -> UploadPartOutput;
    multipart::upload_part_copy(UploadPartCopyInput) -> UploadPartCopyOutput;
    multipart::complete_multipart_upload(CompleteMultipartUploadInput) -> CompleteMultipartUploadOutput;
    multipart::abort_multipart_upload(AbortMultipartUploadInput) -> AbortMultipartUploadOutput;
    multipart::list_parts(ListPartsInput) -> ListPartsOutput;
    multipart::list_multipart_uploads(ListMultipartUploadsInput) -> ListMultipartUploadsOutput;
    extras::get_object_tagging(GetObjectTaggingInput) -> GetObjectTaggingOutput;
    extras::put_object_tagging(PutObjectTaggingInput) -> PutObjectTaggingOutput;
    extras::delete_object_tagging(DeleteObjectTaggingInput) -> DeleteObjectTaggingOutput;
    extras::get_bucket_acl(GetBucketAclInput) -> GetBucketAclOutput;
    extras::get_object_acl(GetObjectAclInput) -> GetObjectAclOutput;
    extras::put_bucket_acl(PutBucketAclInput) -> PutBucketAclOutput;
    extras::put_object_acl(PutObjectAclInput) -> PutObjectAclOutput;
    extras::get_bucket_policy(GetBucketPolicyInput) -> GetBucketPolicyOutput;
    extras::get_bucket_cors(GetBucketCorsInput) -> GetBucketCorsOutput;
    extras::get_bucket_lifecycle_configuration(GetBucketLifecycleConfigurationInput) -> GetBucketLifecycleConfigurationOutput;
    extras::get_bucket_encryption(GetBucketEncryptionInput) -> GetBucketEncryptionOutput;
    extras::get_bucket_tagging(GetBucketTaggingInput) -> GetBucketTaggingOutput;
    extras::get_bucket_website(GetBucketWebsiteInput) -> GetBucketWebsiteOutput;
}

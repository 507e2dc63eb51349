//! The contract between the gateway and a storage engine: typed requests the gateway has
//! already validated and decided (key, precondition, attributes, tags, owner, audit entry,
//! the checks a body must pass), and what the engine answers (records, bytes). An engine
//! never sees an S3 request; it stores bytes where it keeps them and commits them to the
//! [`Index`] at the point its storage makes safe.

use super::listing::Page;
use super::s3util::{BodyCheck, ObjectRead, ReadConditions, ReadRequest};
use super::{Error, ReconcileReport, ScrubReport, upstream};
use crate::backend::index::Index;
use crate::meta::{AuditEntry, BucketRecord, ObjectAttrs, ObjectRecord, PartRecord, Precondition, UploadRecord};

use s3s::dto::StreamingBlob;

/// A request body on its way in, with what it must turn out to be.
pub struct Incoming {
    /// The bytes as they arrive; `None` for a request without a body (an empty object).
    pub body: Option<StreamingBlob>,
    /// The length the client announced (none for an HTTP-chunked body).
    pub length: Option<u64>,
    /// `Content-MD5` and checksums (headers, trailers, presigned query) to verify.
    pub check: BodyCheck,
}

/// A new object: its body, and everything about it the request decided.
pub struct NewObject {
    /// The gateway bucket to write to.
    pub bucket: String,
    /// The object's key, checked already (not empty, at most 1024 bytes).
    pub key: String,
    /// Must hold against the key's current object when the write commits.
    pub precondition: Precondition,
    /// The record but for what the bytes decide (size, ETag, digests, where they are).
    pub record: ObjectRecord,
    /// The client's `x-amz-tagging`, as sent (an upstream keeps the tags too).
    pub tagging: Option<String>,
    /// The body to store.
    pub incoming: Incoming,
    /// The write's audit entry; the engine sets its size.
    pub audit: AuditEntry,
}

/// A server-side copy (CopyObject).
pub struct ObjectCopy<'a> {
    /// The gateway bucket of `x-amz-copy-source`.
    pub source_bucket: &'a str,
    /// The key of `x-amz-copy-source`, decoded.
    pub source_key: &'a str,
    /// `x-amz-copy-source-if-*`.
    pub conditions: ReadConditions<'a>,
    /// The gateway bucket the copy goes to.
    pub bucket: &'a str,
    /// The key the copy goes to.
    pub key: &'a str,
    /// New attributes (`x-amz-metadata-directive: REPLACE`); `None`: the source's are kept.
    pub attrs: Option<ObjectAttrs>,
    /// New tags (`x-amz-tagging-directive: REPLACE`); `None`: the source's are kept.
    pub tags: Option<Vec<(String, String)>>,
    /// The client's `x-amz-tagging`, as sent.
    pub tagging: Option<&'a str>,
    /// The access key id the copy is recorded as written by.
    pub owner: String,
    /// The copy's audit entry; the engine sets its size.
    pub audit: AuditEntry,
}

/// A part of a multipart upload.
pub struct NewPart<'a> {
    /// The upload, as the index records it (checked to belong to the request's key).
    pub upload: &'a UploadRecord,
    /// The upload's id, as the engine gave it.
    pub upload_id: &'a str,
    /// The part number, 1 to 10000.
    pub number: u32,
    /// The part's body.
    pub incoming: Incoming,
    /// The part's audit entry; the engine sets its size.
    pub audit: AuditEntry,
}

/// A part copied from an object (UploadPartCopy).
pub struct PartCopy<'a> {
    /// The upload, as the index records it (checked to belong to the request's key).
    pub upload: &'a UploadRecord,
    /// The upload's id, as the engine gave it.
    pub upload_id: &'a str,
    /// The part number, 1 to 10000.
    pub number: u32,
    /// The gateway bucket of `x-amz-copy-source`.
    pub source_bucket: &'a str,
    /// The key of `x-amz-copy-source`, decoded.
    pub source_key: &'a str,
    /// `x-amz-copy-source-if-*`.
    pub conditions: ReadConditions<'a>,
    /// `x-amz-copy-source-range`, as sent.
    pub range: Option<&'a str>,
    /// The part's audit entry; the engine sets its size.
    pub audit: AuditEntry,
}

/// A completion of a multipart upload, with the parts the client chose.
pub struct UploadCompletion<'a> {
    /// The gateway bucket of the upload.
    pub bucket: &'a str,
    /// The key the upload completes into.
    pub key: &'a str,
    /// The upload's id, as the engine gave it.
    pub upload_id: &'a str,
    /// The parts the client listed, in its order, with their ETags and checksums as sent.
    pub requested: &'a [s3s::dto::CompletedPart],
    /// The whole-object checksums the client declared (`x-amz-checksum-*`).
    pub declared: &'a crate::meta::Checksums,
    /// Must hold against the key's current object when the completion commits.
    pub precondition: Precondition,
    /// The completion's audit entry; the engine sets its size.
    pub audit: AuditEntry,
}

/// What a GetObject or HeadObject reads.
pub struct Readout {
    /// The answer's headers: length, range, ETag, attributes, checksums, part and tag counts.
    pub read: ObjectRead,
    /// The index's record of the version read, if the gateway wrote it (proof headers).
    pub record: Option<ObjectRecord>,
    /// The selected bytes (GetObject only).
    pub body: Option<StreamingBlob>,
    /// A range or part of the object (`206 Partial Content`).
    pub partial: bool,
}

/// Why an engine cannot serve requests now (the `backend` part of `/ready`'s answer).
#[derive(Debug, thiserror::Error)]
pub enum NotReady {
    /// The local engine cannot read its index.
    #[error("{0}")]
    LocalMetadata(crate::meta::Error),
    /// The local engine cannot write a blob (a full or read-only disk).
    #[error("local disk: cannot write a blob: {0}")]
    LocalDisk(std::io::Error),
    /// The upstream engine cannot read its index.
    #[error("metadata: {0}")]
    UpstreamMetadata(crate::meta::Error),
    /// The upstream answered its probe with a server error.
    #[error("upstream answered {0}")]
    UpstreamStatus(http::StatusCode),
    /// The upstream could not be reached.
    #[error(transparent)]
    Upstream(Error),
}

/// A storage engine behind the gateway.
#[async_trait::async_trait]
pub trait Backend: Send + Sync {
    /// The gateway's index, which this engine commits to.
    fn index(&self) -> &Index;

    /// Whether the engine can serve requests now (for `/ready`); the reason if not.
    async fn ready(&self) -> Result<(), NotReady>;

    /// Prepares storage for a new bucket (before the index records it).
    async fn create_bucket(&self, _name: &str) -> Result<(), Error> {
        Ok(())
    }

    /// Releases the storage of an empty bucket (before the index forgets it); refuses a
    /// bucket whose storage still holds objects.
    async fn remove_bucket(&self, _bucket: &BucketRecord) -> Result<(), Error> {
        Ok(())
    }

    /// Up to `max` keys and common prefixes of `bucket` under `prefix`, strictly after
    /// `after`, folding keys at `delimiter`. Only the size, ETag and time of each record
    /// are used.
    async fn page(&self, bucket: &str, prefix: &str, delimiter: Option<&str>, after: Option<&str>, max: usize) -> Result<Page, Error>;

    /// Stores a new object and commits it; returns the record as committed.
    async fn put(&self, object: NewObject) -> Result<ObjectRecord, Error>;

    /// Reads an object (its bytes only if `with_body`) once the request's conditions hold.
    async fn read(&self, bucket: &str, key: &str, request: &ReadRequest<'_>, with_body: bool) -> Result<Readout, Error>;

    /// The record GetObjectAttributes describes.
    async fn attributes(&self, bucket: &str, key: &str) -> Result<ObjectRecord, Error> {
        self.index().object(bucket, key)
    }

    /// Deletes a key if `precondition` holds; a missing key is deleted already (as in S3),
    /// unless the precondition asks for it to exist.
    async fn delete(&self, bucket: &str, key: &str, precondition: &Precondition, audit: &AuditEntry) -> Result<(), Error>;

    /// How many keys of one DeleteObjects are deleted at once.
    fn deletes_at_once(&self) -> usize {
        1
    }

    /// Copies an object server-side and commits the copy.
    async fn copy(&self, copy: ObjectCopy<'_>) -> Result<ObjectRecord, Error>;

    /// An object's tags.
    async fn tags(&self, bucket: &str, key: &str) -> Result<Vec<(String, String)>, Error> {
        Ok(self.index().object(bucket, key)?.tags)
    }

    /// Replaces an object's tags (none: removes them).
    async fn set_tags(&self, bucket: &str, key: &str, tags: Vec<(String, String)>, audit: &AuditEntry) -> Result<(), Error> {
        self.index().set_tags(bucket, key, tags, audit).await
    }

    /// Starts a multipart upload in storage; returns its id (the index records it after).
    async fn start_upload(&self, upload: &UploadRecord, tagging: Option<&str>) -> Result<String, Error>;

    /// Stores a part and records it; returns its record.
    async fn upload_part(&self, part: NewPart<'_>) -> Result<PartRecord, Error>;

    /// Copies a range of an object into a part and records it; returns its record.
    async fn upload_part_copy(&self, part: PartCopy<'_>) -> Result<PartRecord, Error>;

    /// Assembles the chosen parts into the object and commits it. `NoSuchUpload` if the
    /// upload is gone (completed meanwhile, or aborted).
    async fn complete(&self, completion: UploadCompletion<'_>) -> Result<ObjectRecord, Error>;

    /// Removes an upload's parts from storage and the upload from the index.
    async fn abort(&self, upload: &UploadRecord, upload_id: &str, audit: &AuditEntry) -> Result<(), Error>;

    /// Aborts an abandoned multipart upload (a background job's; audited as the gateway).
    async fn expire_upload(&self, upload_id: &str) -> Result<(), Error> {
        let Some(upload) = self.index().store.upload_get(upload_id)? else {
            return Ok(());
        };
        let gateway = crate::auth::Principal::Gateway;
        let audit =
            crate::audit::entry_for(&gateway, None, crate::audit::GatewayOp::ExpireMultipartUpload, &upload.bucket, &upload.key, crate::audit::Outcome::Ok, 0);
        self.abort(&upload, upload_id, &audit).await
    }

    /// Re-hashes every stored object of `buckets` against its recorded SHA-256, reading
    /// at most `bytes_per_sec` (0: unbounded). Never changes anything.
    async fn scrub(&self, buckets: &[String], bytes_per_sec: u64) -> Result<ScrubReport, Error>;

    /// Reconciles stored bytes and the index entries of `buckets` (those this engine
    /// holds) both ways, logging each repair: removes stored bytes nothing references and
    /// index entries whose bytes are gone. What is younger than `min_age` is left alone
    /// (writes in flight).
    async fn reconcile(&self, buckets: &[String], min_age: std::time::Duration) -> Result<ReconcileReport, Error>;

    /// Finishes a write that was pending when the gateway stopped (see
    /// [`crate::meta::PendingWrite`]): commits it if this engine holds exactly its bytes,
    /// and says whether it did. Only forwarded writes are recorded pending.
    async fn finish_pending(&self, _id: &str, _write: &crate::meta::PendingWrite) -> Result<bool, Error> {
        Ok(false)
    }

    /// Copies new proof manifests, audit entries and records to the engine's metadata
    /// mirror; `None` if it keeps none. `settled_only`: leave out the newest audit entries,
    /// which requests still in flight may precede.
    async fn mirror_metadata(&self, _settled_only: bool) -> Result<Option<upstream::MirrorReport>, Error> {
        Ok(None)
    }

    /// Fills an empty metadata store from the engine's metadata mirror.
    async fn restore_metadata(&self) -> Result<upstream::RestoreReport, Error> {
        Err(Error::InvalidRequest("the local backend keeps no metadata mirror: nothing to rebuild from".into()))
    }
}

//! The contract between the gateway and a storage engine. The gateway's object layer
//! ([`super::objects::Objects`]) takes typed requests the S3 layer has already validated and
//! decided (key, precondition, attributes, tags, owner, audit entry, the checks a body must
//! pass), and owns every index commit: locks, preconditions, quotas, proofs, pending writes,
//! and which stored bytes a commit releases. An [`Engine`] only moves bytes: it stores a
//! body or part and says what it stored, reads a range of what the index records, copies
//! and composes server-side, and releases bytes nothing references.
//!
//! Engines differ in how they keep bytes ([`Keeping`]): in immutable blobs of their own
//! naming that a commit makes visible (local disk), or at the object's key in another S3
//! service ([`AtKey`], an upstream), which other writers may share: reads, conditions and
//! tags are then forwarded there, and a write replaces the key's bytes before the index
//! records it.

use super::listing::Page;
use super::s3util::{BodyCheck, ObjectRead, ReadConditions, ReadRequest};
use super::{Error, ReconcileReport, upstream};
use crate::backend::index::Index;
use crate::meta::{AuditEntry, Checksums, ObjectAttrs, ObjectRecord, PartRecord, Precondition, Segment, UploadRecord};
use crate::proof::hashing::BodyDigests;

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
    /// The data key to seal the body under, and its sealing; `None`: stored as sent.
    pub seal: Option<(crate::crypt::DataKey, crate::meta::Sealing)>,
}

/// A server-side copy (CopyObject).
pub struct ObjectCopy<'a> {
    /// The gateway bucket of `x-amz-copy-source`.
    pub source_bucket: &'a str,
    /// The key of `x-amz-copy-source`, decoded.
    pub source_key: &'a str,
    /// The source's version, if `x-amz-copy-source` names one.
    pub source_version: Option<&'a str>,
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
    /// The copy's retention, legal hold and ACL, from its headers (never the source's).
    pub terms: WriteTerms,
    /// How the copy is sealed (none: stored as plaintext).
    pub seal: Option<&'a super::sealed::Seal>,
    /// Opens the source's data key, if it is sealed (`x-amz-copy-source-server-side-encryption-customer-*`).
    pub source_keys: &'a dyn super::sealed::OpenKey,
    /// The record another instance of a cluster shared of the source, stored encrypted
    /// through it, for when this index has none.
    pub shared_source: Option<ObjectRecord>,
}

/// What an object write asks for besides its bytes, checked by the gateway before any byte
/// is read: its Object Lock retention and legal hold, and its own ACL grants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteTerms {
    /// The retention (the bucket's default applies when it is none).
    pub retention: Option<crate::meta::Retention>,
    /// Whether it is put under legal hold.
    pub legal_hold: bool,
    /// Its ACL grants besides its bucket tenant's (see [`crate::meta::ObjectRecord::acl`]).
    pub acl: Vec<crate::meta::AclGrant>,
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
    /// The upload's data key, when it is sealed (opened from `upload.sealing`).
    pub key: Option<crate::crypt::DataKey>,
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
    /// The source's version, if `x-amz-copy-source` names one.
    pub source_version: Option<&'a str>,
    /// `x-amz-copy-source-if-*`.
    pub conditions: ReadConditions<'a>,
    /// `x-amz-copy-source-range`, as sent.
    pub range: Option<&'a str>,
    /// The part's audit entry; the engine sets its size.
    pub audit: AuditEntry,
    /// The upload's data key, when it is sealed (opened from `upload.sealing`).
    pub key: Option<crate::crypt::DataKey>,
    /// Opens the source's data key, if it is sealed.
    pub source_keys: &'a dyn super::sealed::OpenKey,
    /// The record another instance of a cluster shared of the source (see [`ObjectCopy`]).
    pub shared_source: Option<ObjectRecord>,
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
    /// The upload's data key, when it is sealed (the object's digest is read back).
    pub data_key: Option<crate::crypt::DataKey>,
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

/// How an engine keeps bytes, which decides how the object layer commits and reads them.
pub enum Keeping<'a> {
    /// In immutable blobs of the engine's own naming, made visible by the index commit;
    /// reads are answered from the index's records.
    Blobs,
    /// At the object's key in a store other writers may share.
    AtKey(&'a dyn AtKey),
}

/// Where a body goes: its object, and what the object layer decided of it.
pub struct BlobWrite<'a> {
    /// The gateway bucket.
    pub bucket: &'a str,
    /// The object's key.
    pub key: &'a str,
    /// Store at the key (an engine storing at the key, in a bucket never versioned), or as
    /// a new blob of the engine's naming.
    pub at_key: bool,
    /// Stored beside the bytes where the engine keeps attributes (an upstream).
    pub attrs: &'a ObjectAttrs,
    /// The client's `x-amz-tagging`, as sent (an upstream keeps the tags too).
    pub tagging: Option<&'a str>,
    /// The write's precondition, checked by the object layer already; an engine storing at
    /// the key repeats it where its store can, against writers it shares the store with.
    pub precondition: &'a Precondition,
    /// Checked with the body's length before any byte replaces what is at the key (the
    /// quotas; the index checks them again at commit).
    pub admits: &'a (dyn Fn(u64) -> Result<(), Error> + Send + Sync),
}

/// Bytes an engine stored, not visible until the object layer commits them.
pub struct Stored {
    /// Their length.
    pub size: u64,
    /// The object's ETag, unquoted.
    pub etag: String,
    /// The checksums computed on the way in.
    pub checksums: Checksums,
    /// Lower-case hex SHA-256 of the bytes.
    pub sha256: String,
    /// Where the engine keeps them (empty: at the key).
    pub segments: Vec<Segment>,
}

/// Tells the object layer a body's digests as soon as it has been read whole and passed
/// its checks, before storage acknowledges it (an upstream write's record is then made
/// durable while the upstream stores the bytes).
pub type Verified = tokio::sync::oneshot::Sender<Received>;

/// A body read whole that passed its checks.
pub struct Received {
    /// Its length.
    pub size: u64,
    /// Its digests.
    pub digests: BodyDigests,
}

/// What an engine storing at the key answers itself, from its store.
#[async_trait::async_trait]
pub trait AtKey: Send + Sync {
    /// Up to `max` keys and common prefixes of `bucket` under `prefix`, strictly after
    /// `after`, folding keys at `delimiter`, as the store lists them. Only the size, ETag
    /// and time of each record are used.
    async fn page(&self, bucket: &str, prefix: &str, delimiter: Option<&str>, after: Option<&str>, max: usize) -> Result<Page, Error>;

    /// Reads an object (its bytes only if `with_body`), the request's conditions checked
    /// by the store.
    async fn read(&self, bucket: &str, key: &str, request: &ReadRequest<'_>, with_body: bool) -> Result<Readout, Error>;

    /// The record GetObjectAttributes describes: the index's for a version the gateway
    /// wrote, else what the store says.
    async fn attributes(&self, bucket: &str, key: &str) -> Result<ObjectRecord, Error>;

    /// An object's tags, as the store keeps them.
    async fn tags(&self, bucket: &str, key: &str) -> Result<Vec<(String, String)>, Error>;

    /// Replaces an object's tags in the store (none: removes them).
    async fn set_tags(&self, bucket: &str, key: &str, tags: &[(String, String)]) -> Result<(), Error>;

    /// Removes the object at `key` if `precondition` holds against what the store holds; a
    /// missing key is removed already unless the precondition asks for it to exist.
    async fn remove(&self, bucket: &str, key: &str, precondition: &Precondition) -> Result<(), Error>;
}

/// Which page of a listing of the shared metadata bucket: the paths under `prefix` after
/// `after` (none if empty), those folded at `delimiter` left out, from the page `token`
/// names (a page's continuation) if given.
#[derive(Debug, Clone, Copy)]
pub struct SharedPageAt<'a> {
    /// Only paths starting with it.
    pub prefix: &'a str,
    /// Paths with it after the prefix are folded, and not listed.
    pub delimiter: Option<&'a str>,
    /// Only paths after it (empty: from the first).
    pub after: &'a str,
    /// The continuation of an earlier page.
    pub token: Option<&'a str>,
}

/// A storage engine behind the gateway: moves bytes, commits nothing.
#[async_trait::async_trait]
pub trait Engine: Send + Sync {
    /// The gateway's index, which the engine's maintenance (scrub, reconcile, mirror)
    /// reads and repairs.
    fn index(&self) -> &Index;

    /// How the engine keeps bytes.
    fn keeping(&self) -> Keeping<'_>;

    /// Whether the engine can serve requests now (for `/ready`); the reason if not.
    async fn ready(&self) -> Result<(), NotReady>;

    /// Prepares storage for a new bucket (before the index records it).
    async fn create_bucket(&self, _name: &str) -> Result<(), Error> {
        Ok(())
    }

    /// Releases the storage of an empty bucket (before the index forgets it); refuses a
    /// bucket whose storage still holds objects.
    async fn remove_bucket(&self, _bucket: &crate::meta::BucketRecord) -> Result<(), Error> {
        Ok(())
    }

    /// Stores a body for `target`, verifying it; tells `verified` its digests as soon as
    /// it has been read whole. On failure nothing is left stored (but what an engine
    /// storing at the key replaced).
    async fn write(&self, target: &BlobWrite<'_>, incoming: Incoming, verified: Verified) -> Result<Stored, Error>;

    /// Reads `range` of the bytes of `key` that `record` describes (and, for blobs, locates);
    /// `NoSuchKey` if they are gone (at the key: replaced since, when the record names the
    /// store's ETag of them).
    async fn open(&self, bucket: &str, key: &str, record: &ObjectRecord, range: std::ops::Range<u64>) -> Result<super::scrub::ByteStream, Error>;

    /// Copies an object server-side; returns the copy as a record: the source's, located
    /// where the copy is (with its attributes and tags, which the object layer may
    /// replace). `source` is the index's record of the source: checked against the copy's
    /// conditions already when the engine keeps blobs; for one storing at the key, the
    /// record the gateway wrote, if any (the store checks the conditions).
    /// `at_key`: the copy goes to its key, else to a new blob (see [`BlobWrite::at_key`]).
    async fn copy(&self, copy: &ObjectCopy<'_>, source: Option<&ObjectRecord>, at_key: bool) -> Result<ObjectRecord, Error>;

    /// Releases the bytes of an object of `key` that nothing references any more (its
    /// blobs; for one without blobs, what is at the key) before the request that released
    /// them answers (a bucket emptied by version deletes is then empty in storage too).
    /// What fails is logged and left to `reconcile`, never the request's error.
    async fn release(&self, bucket: &str, key: &str, object: &ObjectRecord);

    /// Releases the bytes of parts no upload or object references any more.
    fn release_parts(&self, parts: &[&PartRecord]);

    /// Starts a multipart upload in storage, at the key or (not `at_key`) as a blob of the
    /// engine's naming, noted in `upload.location`; returns its id (the index records it
    /// after).
    async fn start_upload(&self, upload: &mut UploadRecord, tagging: Option<&str>, at_key: bool) -> Result<String, Error>;

    /// Stores part `number` of an upload; returns its record (not yet recorded).
    async fn write_part(&self, upload: &UploadRecord, upload_id: &str, number: u32, incoming: Incoming) -> Result<PartRecord, Error>;

    /// Copies a range of an object into a part; `source` as for [`Engine::copy`].
    async fn copy_part(&self, part: &PartCopy<'_>, source: Option<&ObjectRecord>) -> Result<PartRecord, Error>;

    /// Assembles the chosen parts (in order, `size` bytes in all) into the upload's object.
    async fn compose(&self, upload: &UploadRecord, upload_id: &str, chosen: &[&PartRecord], size: u64) -> Result<Stored, Error>;

    /// Removes an upload from storage (its part blobs are released after the index forgets it).
    async fn abort_upload(&self, _upload: &UploadRecord, _upload_id: &str) -> Result<(), Error> {
        Ok(())
    }

    /// Reconciles stored bytes and the index entries of `buckets` (those this engine
    /// holds) both ways, logging each repair: removes stored bytes nothing references and
    /// index entries whose bytes are gone. What is younger than `min_age` is left alone
    /// (writes in flight).
    async fn reconcile(&self, buckets: &[String], min_age: std::time::Duration) -> Result<ReconcileReport, Error>;

    /// The ETag under which this engine holds exactly the bytes of a write pending when
    /// the gateway stopped (see [`crate::meta::PendingWrite`]); `None` if it does not.
    /// Only writes at the key are recorded pending.
    async fn holds_pending(&self, _write: &crate::meta::PendingWrite) -> Result<Option<String>, Error> {
        Ok(None)
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

    /// Writes this instance's heartbeat where the instances sharing the engine's metadata
    /// mirror find it; false if it keeps none (the instance is in no cluster).
    async fn heartbeat(&self, _beat: &upstream::Member) -> Result<bool, Error> {
        Ok(false)
    }

    /// The last heartbeat of every instance sharing the metadata mirror, this one's
    /// included; `None` if it keeps none.
    async fn members(&self) -> Result<Option<Vec<upstream::Member>>, Error> {
        Ok(None)
    }

    /// Creates entry `seq` of the control log the instances sharing the metadata mirror
    /// keep: `Some(false)` if another instance took the number, `None` if the engine
    /// keeps no such log (the instance is in no cluster).
    async fn control_append(&self, _seq: u64, _entry: bytes::Bytes) -> Result<Option<bool>, Error> {
        Ok(None)
    }

    /// The control log's entries after `after`, in order, at most `max`; `None` if the
    /// engine keeps no such log.
    async fn control_read(&self, _after: u64, _max: usize) -> Result<Option<Vec<(u64, bytes::Bytes)>>, Error> {
        Ok(None)
    }

    /// Writes `body` at `path` of the metadata bucket the instances of a cluster share
    /// (records other than the control log: [`super::shared`]).
    async fn shared_put(&self, _path: &str, _body: bytes::Bytes) -> Result<(), Error> {
        Err(Error::Unavailable("this backend keeps no metadata bucket shared with a cluster".into()))
    }

    /// The object at `path` of the shared metadata bucket, if there is one.
    async fn shared_get(&self, _path: &str) -> Result<Option<bytes::Bytes>, Error> {
        Ok(None)
    }

    /// The paths under `prefix` of the shared metadata bucket, in order.
    async fn shared_list(&self, _prefix: &str) -> Result<Vec<String>, Error> {
        Ok(Vec::new())
    }

    /// One page (up to 1,000) of the paths of the shared metadata bucket `at` says, in
    /// order, each with its ETag; the token of the next page, if any.
    async fn shared_page(&self, _at: &SharedPageAt<'_>) -> Result<(Vec<(String, String)>, Option<String>), Error> {
        Ok((Vec::new(), None))
    }

    /// The folders (paths ending in `/`) right under `prefix` of the shared metadata
    /// bucket, in order.
    async fn shared_folders(&self, _prefix: &str) -> Result<Vec<String>, Error> {
        Ok(Vec::new())
    }

    /// Removes `paths` from the shared metadata bucket (those already gone are no error).
    async fn shared_delete(&self, _paths: &[String]) -> Result<(), Error> {
        Ok(())
    }
}

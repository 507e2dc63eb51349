//! Storage behind the gateway ([`crate::s3::Gateway`]). Storage engines implement the
//! narrow [`Engine`] contract ([`engine`]): they store, read, copy and release bytes and
//! commit nothing. The object layer ([`Objects`], one per engine) owns every commit to
//! the gateway's [`index::Index`] (object records, parts, uploads, usage, proofs, pending
//! writes), written once for both engines. The engines differ only in where the bytes go:
//! [`local`] disk or an [`upstream`] S3 service. Everything S3-level (request validation,
//! preconditions, tags, attributes, audit entries, answers) is the S3 layer's.

pub mod control;
mod engine;
pub mod index;
pub(crate) mod listing;
pub mod local;
mod locks;
mod objects;
pub mod placement;
mod reads;
pub(crate) mod s3util;
mod scrub;
pub mod sealed;
pub mod shared;
pub mod upstream;

pub use engine::{
    AtKey, BlobWrite, Engine, Incoming, Keeping, NewObject, NewPart, NotReady, ObjectCopy, PartCopy, Readout, Received, Stored, UploadCompletion, Verified,
    WriteTerms,
};
pub use listing::Page;
pub use objects::Objects;
pub use s3util::{BodyCheck, ObjectRead, ReadConditions, ReadRequest};

use s3s::{S3Error, S3ErrorCode, StdError};
use std::io;

/// Whether an error is the client's fault, the upstream's, or ours; decides the status
/// class and the log level (4xx at info, 5xx at warn/error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The request was wrong or is refused (4xx, logged at info).
    Client,
    /// The upstream failed or could not be reached (503, logged at warn).
    Upstream,
    /// The gateway's own disk or metadata failed (500, or 503 when full; logged at error).
    Internal,
}

/// Errors of the storage layer. [`From<Error> for S3Error`] is the single table mapping
/// them to S3 error codes.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The gateway has no bucket of that name (404 NoSuchBucket).
    #[error("The specified bucket does not exist")]
    NoSuchBucket,
    /// The bucket has no object under that key (404 NoSuchKey).
    #[error("The specified key does not exist.")]
    NoSuchKey,
    /// The key has no version of that id (404 NoSuchVersion).
    #[error("The specified version does not exist.")]
    NoSuchVersion,
    /// A read of a delete marker: the key's latest version (404 NoSuchKey), or one named by
    /// its version id (405 MethodNotAllowed); the answer says which marker it is.
    #[error("{}", if *.named { "The specified method is not allowed against this resource." } else { "The specified key does not exist." })]
    DeleteMarker {
        /// The marker's version id.
        version_id: String,
        /// Whether the request named it by its version id.
        named: bool,
    },
    /// Bytes stored encrypted through another instance of a cluster, of which this one has
    /// no record (400 InvalidRequest): it will not serve the ciphertext as the object.
    #[error("The object was stored encrypted through another instance of this cluster, which alone records how: read it through that instance")]
    SealedElsewhere,
    /// No such upload of this key: never started, completed, or aborted (404 NoSuchUpload).
    #[error("The specified multipart upload does not exist.")]
    NoSuchUpload,
    /// DeleteBucket on a bucket that still holds objects (409 BucketNotEmpty).
    #[error("The bucket you tried to delete is not empty")]
    BucketNotEmpty,
    /// CreateBucket of a name the caller's tenant has (409 BucketAlreadyOwnedByYou).
    #[error("Your previous request to create the named bucket succeeded and you already own it.")]
    BucketAlreadyOwnedByYou,
    /// CreateBucket of a name another tenant has; names are global (409 BucketAlreadyExists).
    #[error("The requested bucket name is not available.")]
    BucketAlreadyExists,
    /// An `If-Match`, `If-None-Match: *` or `If-Unmodified-Since` (or its copy-source form)
    /// did not hold (412 PreconditionFailed).
    #[error("At least one of the pre-conditions you specified did not hold")]
    PreconditionFailed,
    /// A read's `If-None-Match` / `If-Modified-Since` (304), with the headers the answer
    /// carries (`ETag`, `Last-Modified`, ...).
    #[error("Not Modified")]
    NotModified(Box<http::HeaderMap>),
    /// A `Range` (or `x-amz-copy-source-range`) past the object's end (416 InvalidRange).
    #[error("The requested range is not satisfiable")]
    InvalidRange,
    /// A read's `partNumber` the object does not have (400 InvalidPartNumber).
    #[error("The requested partnumber is not satisfiable")]
    InvalidPartNumber,
    /// A request body that is not the XML the operation takes (400 MalformedXML).
    #[error("{0}")]
    MalformedXml(String),
    /// A completion's part was not uploaded, or has another ETag or checksum (400 InvalidPart).
    #[error("{0}")]
    InvalidPart(String),
    /// A completion whose part numbers do not strictly ascend (400 InvalidPartOrder).
    #[error("The list of parts was not in ascending order.")]
    InvalidPartOrder,
    /// A completion with a part other than the last under 5 MiB (400 EntityTooSmall).
    #[error("Your proposed upload is smaller than the minimum allowed object size.")]
    EntityTooSmall,
    /// A body over the configured maximum object (or part) size (400 EntityTooLarge).
    #[error("Your proposed upload exceeds the maximum allowed object size.")]
    EntityTooLarge,
    /// The bytes received fail their `Content-MD5` or `x-amz-checksum-*` (400 BadDigest).
    #[error("{0}")]
    BadDigest(String),
    /// A `Content-MD5` that is not the base64 of 16 bytes (400 InvalidDigest).
    #[error("The Content-MD5 you specified is not valid.")]
    InvalidDigest,
    /// A header or query parameter with a value S3 refuses (400 InvalidArgument).
    #[error("{0}")]
    InvalidArgument(String),
    /// A tag set S3 refuses: over 10 tags, a repeated key, a key or value too long or with
    /// other characters (400 InvalidTag).
    #[error("{0}")]
    InvalidTag(String),
    /// A request refused as a whole: headers that cannot be combined, a copy onto itself
    /// that changes nothing, a rebuild with nothing to rebuild from (400 InvalidRequest).
    #[error("{0}")]
    InvalidRequest(String),
    /// A key over 1024 bytes (400 KeyTooLongError).
    #[error("Your key is too long")]
    KeyTooLong,
    /// The client stopped sending, or sent fewer bytes than announced (400 IncompleteBody).
    #[error("You did not provide the number of bytes specified by the Content-Length HTTP header.")]
    IncompleteBody(String),
    /// A signed body does not hash to its `x-amz-content-sha256` (400 XAmzContentSHA256Mismatch).
    #[error("The provided 'x-amz-content-sha256' header does not match what was computed.")]
    ContentSha256Mismatch,
    /// A chunk of an `aws-chunked` body fails its signature (403 SignatureDoesNotMatch).
    #[error("The request signature we calculated does not match the signature you provided.")]
    ChunkSignatureMismatch,
    /// A request body stalled for longer than the body idle timeout (400 RequestTimeout).
    #[error("Your socket connection to the server was not read from or written to within the timeout period.")]
    RequestTimeout,
    /// Refused whoever asks: Object Lock protects the version (403 AccessDenied).
    #[error("{0}")]
    AccessDenied(String),
    /// The bucket's state forbids the change (409 InvalidBucketState).
    #[error("{0}")]
    InvalidBucketState(String),
    /// The bucket has no Object Lock configuration (404 ObjectLockConfigurationNotFoundError).
    #[error("Object Lock configuration does not exist for this bucket")]
    NoLockConfiguration,
    /// The version has no retention (404 NoSuchObjectLockConfiguration).
    #[error("The specified object does not have a ObjectLock configuration")]
    NoObjectLock,
    /// An S3 feature tollgate does not offer, with what to do instead (501 NotImplemented).
    #[error("{0}")]
    NotImplemented(&'static str),
    /// The write would take its bucket or tenant past a quota (403 QuotaExceeded).
    #[error("Quota exceeded: {0}")]
    QuotaExceeded(String),
    /// A bucket setting tollgate does not store (policy, CORS, lifecycle, ...): AWS answers
    /// a bucket without one with this resource's "not found" error, and so do we.
    #[error("The {0} configuration does not exist")]
    Unconfigured(BucketSetting),
    /// A request S3 refuses with a code of its own that s3s has no constant for (400).
    #[error("{message}")]
    BadRequest {
        /// The S3 error code (`AccessControlListNotSupported`, ...).
        code: &'static str,
        /// What to tell the client.
        message: String,
    },
    /// A bucket configuration document that does not validate (400, with the code AWS
    /// gives for its kind: MalformedPolicy, InvalidTag, MalformedXML...).
    #[error("{1}")]
    InvalidConfig(crate::meta::BucketConfigKind, String),
    /// A body sent without its length (HTTP chunked): the upstream engine's cue to spool it
    /// to learn the length (411 MissingContentLength, were it answered).
    #[error("You must provide the Content-Length HTTP header.")]
    MissingContentLength,
    /// An S3 error the upstream answered, relayed with its code and status.
    #[error("upstream {status} {code}: {message}")]
    Upstream {
        /// The upstream's HTTP status.
        status: u16,
        /// The upstream's S3 error code (`NoSuchKey`, `SlowDown`, ...).
        code: String,
        /// The upstream's message; empty if it sent none (HEAD answers have no body).
        message: String,
    },
    /// The upstream could not be reached or did not answer in time.
    #[error("upstream unavailable: {0}")]
    Unavailable(String),
    /// The gateway's disk failed (500 InternalError; 503 when it is full).
    #[error("disk: {0}")]
    Io(#[from] io::Error),
    /// The metadata store failed (500 InternalError; 503 when its disk is full).
    #[error("metadata: {0}")]
    Meta(crate::meta::Error),
}

impl Error {
    /// A failed request body: the client stopped sending, sent less than it announced,
    /// or sent bytes whose signature or payload hash did not verify.
    pub fn body(e: StdError) -> Self {
        // s3s's body verifiers are private types: tell them apart by their messages.
        let msg = e.to_string();
        if msg.contains("Sha256Mismatch") {
            Self::ContentSha256Mismatch
        } else if msg.contains("SignatureMismatch") {
            Self::ChunkSignatureMismatch
        } else {
            Self::IncompleteBody(msg)
        }
    }

    /// The disk is full (the backend's or the index's): answered 503, retryable once
    /// space is freed (nothing was stored).
    fn is_storage_full(&self) -> bool {
        match self {
            Self::Io(e) => e.kind() == io::ErrorKind::StorageFull,
            Self::Meta(e) => matches!(e, crate::meta::Error::StorageFull(_)),
            _ => false,
        }
    }

    /// Whose fault this error is, which decides its status class and log level.
    #[must_use]
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::Io(_) | Self::Meta(_) => ErrorClass::Internal,
            Self::Unavailable(_) => ErrorClass::Upstream,
            Self::Upstream { status, .. } if *status >= 500 => ErrorClass::Upstream,
            _ => ErrorClass::Client,
        }
    }
}

impl From<crate::meta::Error> for Error {
    fn from(e: crate::meta::Error) -> Self {
        use crate::meta::Error as M;
        match e {
            M::NoSuchBucket => Self::NoSuchBucket,
            M::PreconditionFailed => Self::PreconditionFailed,
            M::BucketNotEmpty => Self::BucketNotEmpty,
            M::NoSuchUpload => Self::NoSuchUpload,
            M::NoSuchKey => Self::NoSuchKey,
            M::QuotaExceeded(why) => Self::QuotaExceeded(why),
            M::Invalid(why) => Self::InvalidRequest(why),
            M::Locked(why) => Self::AccessDenied(why),
            M::InvalidState(why) => Self::InvalidBucketState(why),
            e @ (M::Storage(_) | M::StorageFull(_) | M::Corrupt(_) | M::AlreadyExists | M::NotFound | M::InUse(_)) => Self::Meta(e),
        }
    }
}

impl From<Error> for S3Error {
    fn from(e: Error) -> Self {
        use S3ErrorCode as C;
        let code = match &e {
            Error::NoSuchBucket => C::NoSuchBucket,
            Error::NoSuchKey => C::NoSuchKey,
            Error::NoSuchUpload => C::NoSuchUpload,
            Error::NoSuchVersion => C::NoSuchVersion,
            Error::DeleteMarker { named: true, .. } => C::MethodNotAllowed,
            Error::DeleteMarker { named: false, .. } => C::NoSuchKey,
            Error::BucketNotEmpty => C::BucketNotEmpty,
            Error::BucketAlreadyOwnedByYou => C::BucketAlreadyOwnedByYou,
            Error::BucketAlreadyExists => C::BucketAlreadyExists,
            Error::PreconditionFailed => C::PreconditionFailed,
            Error::NotModified(_) => C::NotModified,
            Error::InvalidRange => C::InvalidRange,
            Error::InvalidPartNumber => C::Custom("InvalidPartNumber".into()),
            Error::MalformedXml(_) => C::MalformedXML,
            Error::InvalidPart(_) => C::InvalidPart,
            Error::InvalidPartOrder => C::InvalidPartOrder,
            Error::EntityTooSmall => C::EntityTooSmall,
            Error::EntityTooLarge => C::EntityTooLarge,
            Error::BadDigest(_) => C::BadDigest,
            Error::InvalidDigest => C::InvalidDigest,
            Error::InvalidArgument(_) => C::InvalidArgument,
            Error::InvalidTag(_) => C::InvalidTag,
            Error::InvalidRequest(_) | Error::SealedElsewhere => C::InvalidRequest,
            Error::KeyTooLong => C::KeyTooLongError,
            Error::IncompleteBody(_) => C::IncompleteBody,
            Error::RequestTimeout => C::RequestTimeout,
            Error::ContentSha256Mismatch => C::Custom("XAmzContentSHA256Mismatch".into()),
            Error::ChunkSignatureMismatch => C::SignatureDoesNotMatch,
            Error::NotImplemented(_) => C::NotImplemented,
            Error::AccessDenied(_) => C::AccessDenied,
            Error::InvalidBucketState(_) => C::InvalidBucketState,
            Error::NoLockConfiguration => C::ObjectLockConfigurationNotFoundError,
            Error::NoObjectLock => C::NoSuchObjectLockConfiguration,
            Error::Unconfigured(setting) => setting.missing_code(),
            Error::InvalidConfig(kind, _) => invalid_config_code(*kind),
            Error::BadRequest { code, .. } => C::Custom((*code).into()),
            Error::QuotaExceeded(_) => C::Custom("QuotaExceeded".into()),
            Error::MissingContentLength => C::MissingContentLength,
            Error::Upstream { status, code, .. } if *status < 500 => S3ErrorCode::from_bytes(code.as_bytes()).unwrap_or_else(|| C::Custom(code.clone().into())),
            Error::Upstream { .. } | Error::Unavailable(_) => C::ServiceUnavailable,
            e if e.is_storage_full() => C::ServiceUnavailable,
            Error::Io(_) | Error::Meta(_) => C::InternalError,
        };
        match e.class() {
            ErrorClass::Client => {
                tracing::info!(code = code.as_str(), error = %e, "request refused");
                let mut err = S3Error::with_message(code, e.to_string());
                match e {
                    Error::InvalidPartNumber => err.set_status_code(http::StatusCode::BAD_REQUEST),
                    // s3s answers an error's headers in place of its own (the 304 has no body).
                    Error::NotModified(headers) => err.set_headers(*headers),
                    Error::DeleteMarker { version_id, .. } => err.set_headers(delete_marker_headers(&version_id)),
                    // A custom code has no status of its own in s3s (it would be a 500).
                    Error::ContentSha256Mismatch => err.set_status_code(http::StatusCode::BAD_REQUEST),
                    Error::QuotaExceeded(_) => err.set_status_code(http::StatusCode::FORBIDDEN),
                    Error::BadRequest { .. } => err.set_status_code(http::StatusCode::BAD_REQUEST),
                    // Every "not configured" is a 404, custom codes included.
                    Error::Unconfigured(_) => err.set_status_code(http::StatusCode::NOT_FOUND),
                    Error::Upstream { status, message, .. } => {
                        if let Ok(s) = http::StatusCode::from_u16(status) {
                            err.set_status_code(s);
                        }
                        err.set_message(if message.is_empty() { "The upstream storage refused the request.".to_owned() } else { message });
                    }
                    _ => {}
                }
                err
            }
            ErrorClass::Upstream => {
                tracing::warn!(code = code.as_str(), error = %e, "upstream failure");
                let mut err = S3Error::with_message(code, "The upstream storage is unavailable; please retry.");
                err.set_status_code(http::StatusCode::SERVICE_UNAVAILABLE);
                err
            }
            ErrorClass::Internal => {
                tracing::error!(error = %e, "internal error");
                if e.is_storage_full() {
                    let message = if matches!(e, Error::Meta(_)) {
                        // sled keeps a failed log write as an error for every later write.
                        "The gateway's metadata storage is full; the change was not kept, and writes fail until space is freed and the gateway restarts."
                    } else {
                        "The gateway's storage is full; nothing was stored. Please retry later."
                    };
                    let mut err = S3Error::with_message(code, message);
                    err.set_status_code(http::StatusCode::SERVICE_UNAVAILABLE);
                    return err;
                }
                S3Error::with_message(code, "We encountered an internal error. Please try again.")
            }
        }
    }
}

/// The headers of an answer about a delete marker: s3s sends an error's headers in place of
/// its own, so the XML body's type goes too.
fn delete_marker_headers(version_id: &str) -> http::HeaderMap {
    let mut h = http::HeaderMap::new();
    h.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/xml"));
    h.insert("x-amz-delete-marker", http::HeaderValue::from_static("true"));
    if let Ok(v) = http::HeaderValue::from_str(version_id) {
        h.insert("x-amz-version-id", v);
    }
    h
}

/// The code AWS refuses an invalid configuration document of `kind` with.
fn invalid_config_code(kind: crate::meta::BucketConfigKind) -> S3ErrorCode {
    use crate::meta::BucketConfigKind as K;
    match kind {
        K::Policy => S3ErrorCode::MalformedPolicy,
        K::Tagging => S3ErrorCode::InvalidTag,
        K::Acl => S3ErrorCode::MalformedACLError,
        K::Cors | K::Ownership | K::PublicAccessBlock | K::Lifecycle | K::Encryption => S3ErrorCode::MalformedXML,
    }
}

/// Bucket settings every bucket lacks, each with the error AWS gives when it is absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BucketSetting {
    /// GetBucketPolicy (404 NoSuchBucketPolicy).
    Policy,
    /// GetBucketCors (404 NoSuchCORSConfiguration).
    Cors,
    /// GetBucketLifecycleConfiguration (404 NoSuchLifecycleConfiguration).
    Lifecycle,
    /// GetBucketEncryption (404 ServerSideEncryptionConfigurationNotFoundError).
    Encryption,
    /// GetBucketTagging (404 NoSuchTagSet).
    Tagging,
    /// GetBucketWebsite (404 NoSuchWebsiteConfiguration).
    Website,
    /// GetBucketOwnershipControls (404 OwnershipControlsNotFoundError).
    OwnershipControls,
    /// GetPublicAccessBlock (404 NoSuchPublicAccessBlockConfiguration).
    PublicAccessBlock,
}

impl BucketSetting {
    fn missing_code(self) -> S3ErrorCode {
        match self {
            Self::Policy => S3ErrorCode::NoSuchBucketPolicy,
            Self::Cors => S3ErrorCode::NoSuchCORSConfiguration,
            Self::Lifecycle => S3ErrorCode::NoSuchLifecycleConfiguration,
            Self::Encryption => S3ErrorCode::ServerSideEncryptionConfigurationNotFoundError,
            Self::Tagging => S3ErrorCode::NoSuchTagSet,
            Self::Website => S3ErrorCode::NoSuchWebsiteConfiguration,
            Self::OwnershipControls => S3ErrorCode::OwnershipControlsNotFoundError,
            Self::PublicAccessBlock => S3ErrorCode::Custom("NoSuchPublicAccessBlockConfiguration".into()),
        }
    }
}

impl std::fmt::Display for BucketSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Policy => "bucket policy",
            Self::Cors => "CORS",
            Self::Lifecycle => "lifecycle",
            Self::Encryption => "server side encryption",
            Self::Tagging => "tag set",
            Self::Website => "website",
            Self::OwnershipControls => "bucket ownership controls",
            Self::PublicAccessBlock => "public access block",
        })
    }
}

/// A stored object whose bytes no longer hash to what its manifest recorded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ScrubMismatch {
    /// The gateway bucket holding the object.
    pub bucket: String,
    /// The object's key.
    pub key: String,
    /// The proof manifest recording the expected hash (empty when proofs are off).
    pub proof_id: String,
    /// The SHA-256 recorded at write time, lower-case hex.
    pub expected: String,
    /// The SHA-256 of the bytes read back, lower-case hex, or `unreadable: {error}`.
    pub actual: String,
}

/// The result of one scrub.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ScrubReport {
    /// Objects re-hashed (those without a recorded SHA-256 are skipped, not counted).
    pub objects: u64,
    /// Bytes read back, in total.
    pub bytes: u64,
    /// The objects whose bytes did not hash as recorded; empty when all did.
    pub mismatches: Vec<ScrubMismatch>,
    /// SSE-C objects among them: their content cannot be checked without the customer's
    /// key, so their stored bytes are read whole and their length checked only.
    pub sealed_by_customers: u64,
}

/// What a reconciliation of stored bytes and the index found, and repaired.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReconcileReport {
    /// Stored bytes no index entry references, removed (local blobs).
    pub orphan_blobs: u64,
    /// Index entries whose bytes are gone, removed (with the proof of their deletion).
    pub orphan_entries: u64,
    /// Objects in the storage the index does not know (written past the gateway or by
    /// another instance): left alone.
    pub unindexed: u64,
    /// Index entries whose bytes another backend holds (before a `tollgate migrate`):
    /// left alone.
    pub held_elsewhere: u64,
    /// Versions under Object Lock (retention or legal hold) whose bytes are gone: their
    /// entries are kept, as nothing removes a locked version.
    pub locked_kept: u64,
}

impl ReconcileReport {
    /// Repairs made.
    #[must_use]
    pub fn repairs(&self) -> u64 {
        self.orphan_blobs + self.orphan_entries
    }
}

/// What `tollgate migrate` asks of a backend: stored objects' bytes read and written as
/// they are, under the same index entry (no new version, proof or usage).
#[async_trait::async_trait]
pub(crate) trait Relocation: Send + Sync {
    /// Makes ready to receive a bucket's objects (an upstream bucket is created).
    async fn prepare(&self, bucket: &str) -> Result<(), Error>;
    /// Whether `rec`'s bytes are here already, whole (a resumed migration skips them).
    async fn holds(&self, bucket: &str, key: &str, rec: &crate::meta::ObjectRecord) -> Result<bool, Error>;
    /// `rec`'s bytes as stored here.
    async fn read(&self, bucket: &str, key: &str, rec: &crate::meta::ObjectRecord) -> Result<scrub::ByteStream, Error>;
    /// Stores `body` as `rec`'s bytes, unless it fails `expect` (then nothing is kept).
    /// `Some(segments)`: the bytes are here under new segments, which `rec` (a version of a
    /// versioned bucket) must name once this backend holds the bucket, not before (the
    /// source still reads the record as it is); `None`: nothing to change, or changed already.
    async fn write(
        &self,
        bucket: &str,
        key: &str,
        rec: &crate::meta::ObjectRecord,
        body: scrub::ByteStream,
        expect: s3util::Expected,
    ) -> Result<Option<Vec<crate::meta::Segment>>, Error>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_is_a_retryable_503_and_other_disk_errors_a_500() {
        let full = S3Error::from(Error::Io(io::Error::from(io::ErrorKind::StorageFull)));
        assert_eq!(*full.code(), S3ErrorCode::ServiceUnavailable);
        assert_eq!(full.status_code(), Some(http::StatusCode::SERVICE_UNAVAILABLE));
        assert!(full.message().is_some_and(|m| m.contains("storage is full")));
        let index_full = S3Error::from(Error::from(crate::meta::Error::StorageFull("No space left on device".into())));
        assert_eq!(index_full.status_code(), Some(http::StatusCode::SERVICE_UNAVAILABLE));
        assert!(index_full.message().is_some_and(|m| m.contains("metadata storage is full") && m.contains("restarts")));

        let other = S3Error::from(Error::Io(io::Error::from(io::ErrorKind::PermissionDenied)));
        assert_eq!(*other.code(), S3ErrorCode::InternalError);
        assert_eq!(other.message(), Some("We encountered an internal error. Please try again."));
    }
}

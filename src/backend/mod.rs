//! Storage engines behind the gateway ([`crate::s3::Gateway`]). An engine implements the
//! narrow [`Backend`] contract ([`engine`]): it stores, reads and removes bytes, and
//! commits what it stored to the gateway's [`index::Index`] (buckets, object records,
//! uploads, usage, proofs) when its storage allows. The engines differ only in where the
//! bytes go: [`local`] disk or an [`upstream`] S3 service. Everything S3-level (request
//! validation, preconditions, tags, attributes, audit entries, answers) is the gateway's.

mod engine;
pub mod index;
pub(crate) mod listing;
pub mod local;
pub mod placement;
pub(crate) mod s3util;
mod scrub;
pub mod upstream;

pub use engine::{Backend, Incoming, NewObject, NewPart, ObjectCopy, PartCopy, Readout, UploadCompletion};
pub use listing::Page;
pub use s3util::{BodyCheck, ObjectRead, ReadConditions, ReadRequest};

use s3s::{S3Error, S3ErrorCode, StdError};
use std::io;

/// Whether an error is the client's fault, the upstream's, or ours; decides the status
/// class and the log level (4xx at info, 5xx at warn/error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    Client,
    Upstream,
    Internal,
}

/// Errors of the storage layer. [`From<Error> for S3Error`] is the single table mapping
/// them to S3 error codes.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("The specified bucket does not exist")]
    NoSuchBucket,
    #[error("The specified key does not exist.")]
    NoSuchKey,
    #[error("The specified multipart upload does not exist.")]
    NoSuchUpload,
    #[error("The bucket you tried to delete is not empty")]
    BucketNotEmpty,
    #[error("Your previous request to create the named bucket succeeded and you already own it.")]
    BucketAlreadyOwnedByYou,
    #[error("The requested bucket name is not available.")]
    BucketAlreadyExists,
    #[error("At least one of the pre-conditions you specified did not hold")]
    PreconditionFailed,
    /// A read's `If-None-Match` / `If-Modified-Since` (304), with the headers the answer
    /// carries (`ETag`, `Last-Modified`, ...).
    #[error("Not Modified")]
    NotModified(Box<http::HeaderMap>),
    #[error("The requested range is not satisfiable")]
    InvalidRange,
    #[error("The requested partnumber is not satisfiable")]
    InvalidPartNumber,
    #[error("{0}")]
    MalformedXml(String),
    #[error("{0}")]
    InvalidPart(String),
    #[error("The list of parts was not in ascending order.")]
    InvalidPartOrder,
    #[error("Your proposed upload is smaller than the minimum allowed object size.")]
    EntityTooSmall,
    #[error("Your proposed upload exceeds the maximum allowed object size.")]
    EntityTooLarge,
    #[error("{0}")]
    BadDigest(String),
    #[error("The Content-MD5 you specified is not valid.")]
    InvalidDigest,
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    InvalidTag(String),
    #[error("{0}")]
    InvalidRequest(String),
    #[error("Your key is too long")]
    KeyTooLong,
    #[error("You did not provide the number of bytes specified by the Content-Length HTTP header.")]
    IncompleteBody(String),
    #[error("The provided 'x-amz-content-sha256' header does not match what was computed.")]
    ContentSha256Mismatch,
    #[error("The request signature we calculated does not match the signature you provided.")]
    ChunkSignatureMismatch,
    #[error("Your socket connection to the server was not read from or written to within the timeout period.")]
    RequestTimeout,
    #[error("{0}")]
    NotImplemented(&'static str),
    #[error("Quota exceeded: {0}")]
    QuotaExceeded(String),
    /// A bucket setting tollgate does not store (policy, CORS, lifecycle, ...): AWS answers
    /// a bucket without one with this resource's "not found" error, and so do we.
    #[error("The {0} configuration does not exist")]
    Unconfigured(BucketSetting),
    #[error("You must provide the Content-Length HTTP header.")]
    MissingContentLength,
    /// An S3 error the upstream answered, relayed with its code and status.
    #[error("upstream {status} {code}: {message}")]
    Upstream { status: u16, code: String, message: String },
    /// The upstream could not be reached or did not answer in time.
    #[error("upstream unavailable: {0}")]
    Unavailable(String),
    #[error("disk: {0}")]
    Io(#[from] io::Error),
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
            Error::InvalidRequest(_) => C::InvalidRequest,
            Error::KeyTooLong => C::KeyTooLongError,
            Error::IncompleteBody(_) => C::IncompleteBody,
            Error::RequestTimeout => C::RequestTimeout,
            Error::ContentSha256Mismatch => C::Custom("XAmzContentSHA256Mismatch".into()),
            Error::ChunkSignatureMismatch => C::SignatureDoesNotMatch,
            Error::NotImplemented(_) => C::NotImplemented,
            Error::Unconfigured(setting) => setting.missing_code(),
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
                    // A custom code has no status of its own in s3s (it would be a 500).
                    Error::ContentSha256Mismatch => err.set_status_code(http::StatusCode::BAD_REQUEST),
                    Error::QuotaExceeded(_) => err.set_status_code(http::StatusCode::FORBIDDEN),
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

/// Bucket settings every bucket lacks, each with the error AWS gives when it is absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BucketSetting {
    Policy,
    Cors,
    Lifecycle,
    Encryption,
    Tagging,
    Website,
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
        })
    }
}

/// A stored object whose bytes no longer hash to what its manifest recorded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ScrubMismatch {
    pub bucket: String,
    pub key: String,
    pub proof_id: String,
    pub expected: String,
    pub actual: String,
}

/// The result of one scrub.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ScrubReport {
    pub objects: u64,
    pub bytes: u64,
    pub mismatches: Vec<ScrubMismatch>,
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
    async fn write(&self, bucket: &str, key: &str, rec: &crate::meta::ObjectRecord, body: scrub::ByteStream, expect: s3util::Expected) -> Result<(), Error>;
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

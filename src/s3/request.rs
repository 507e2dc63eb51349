//! What a request says, read once into the gateway's types: the attributes, body
//! declarations and conditions of S3 inputs, preconditions, tags, part lists and keys,
//! each checked as S3 checks them.
//!
//! Several S3 inputs share fields (PutObject, CopyObject and CreateMultipartUpload carry the
//! same attributes); a `From` impl per input type, generated from one field list, reads
//! them, taking what it moves out of a `&mut` input.

use crate::backend::Error;
use crate::backend::s3util::{Expected, ReadConditions, ReadRequest, http_date, now_ns};
use crate::meta::{Checksums, ObjectAttrs, ObjectRecord, Precondition};
use crate::proof::hashing::ChecksumSet;

use s3s::dto::*;

/// `ObjectAttrs::from(&mut input)`: the attributes a write request carries.
macro_rules! attributes_of {
    ($($input:ty),* $(,)?) => {$(
        impl From<&mut $input> for ObjectAttrs {
            fn from(input: &mut $input) -> Self {
                Self {
                    content_type: input.content_type.take(),
                    content_encoding: stored_encoding(input.content_encoding.take()),
                    content_disposition: input.content_disposition.take(),
                    content_language: input.content_language.take(),
                    cache_control: input.cache_control.take(),
                    expires: input.expires.take().map(|t| http_date(&t)),
                    website_redirect_location: input.website_redirect_location.take(),
                    user_metadata: sorted_metadata(input.metadata.take()),
                }
            }
        }
    )*};
}
attributes_of!(PutObjectInput, CopyObjectInput, CreateMultipartUploadInput);

/// What an object write (PutObject, CopyObject, CreateMultipartUpload) asks for besides its
/// bytes: an ACL, and a retention or legal hold.
pub(super) trait ObjectWriteRequest {
    /// The canned ACL and grant headers.
    fn acl(&self) -> (Option<&ObjectCannedACL>, crate::policy::acl::GrantHeaders<'_>);
    /// The Object Lock headers: mode, retain-until date, legal hold.
    fn lock(&self) -> (Option<&ObjectLockMode>, Option<&Timestamp>, Option<&ObjectLockLegalHoldStatus>);
}

macro_rules! object_write_request {
    ($($input:ty),* $(,)?) => {$(
        impl ObjectWriteRequest for $input {
            fn acl(&self) -> (Option<&ObjectCannedACL>, crate::policy::acl::GrantHeaders<'_>) {
                (self.acl.as_ref(), super::acl::object_grants!(self))
            }

            fn lock(&self) -> (Option<&ObjectLockMode>, Option<&Timestamp>, Option<&ObjectLockLegalHoldStatus>) {
                (self.object_lock_mode.as_ref(), self.object_lock_retain_until_date.as_ref(), self.object_lock_legal_hold_status.as_ref())
            }
        }
    )*};
}
object_write_request!(PutObjectInput, CopyObjectInput, CreateMultipartUploadInput);

/// The checks every object write makes of what it asks for, before any byte is read: the ACL (`writer`: the writing tenant, unless anonymous or
/// root), retention and legal hold must be ones the bucket allows; returns them.
pub(super) fn write_checks(
    g: &super::Gateway,
    bucket: &crate::meta::BucketRecord,
    writer: Option<&str>,
    input: &impl ObjectWriteRequest,
) -> Result<crate::backend::WriteTerms, Error> {
    let (canned, grants) = input.acl();
    let acl = super::acl::object_write_acl(g, bucket, writer, canned, &grants)?;
    let (mode, until, hold) = input.lock();
    let (retention, legal_hold) = super::lock::write_lock(bucket, mode, until, hold)?;
    Ok(crate::backend::WriteTerms { retention, legal_hold, acl })
}

/// `Expected::from(&mut input)`: what a PutObject or UploadPart declares of its body.
macro_rules! body_declarations_of {
    ($($input:ty),* $(,)?) => {$(
        impl From<&mut $input> for Expected {
            fn from(input: &mut $input) -> Self {
                Self {
                    content_md5: input.content_md5.take(),
                    checksums: Checksums {
                        crc32: input.checksum_crc32.take(),
                        crc32c: input.checksum_crc32c.take(),
                        crc64nvme: input.checksum_crc64nvme.take(),
                        sha1: input.checksum_sha1.take(),
                        sha256: input.checksum_sha256.take(),
                    },
                    algorithm: input.checksum_algorithm.take().map(|a| a.as_str().to_owned()),
                }
            }
        }
    )*};
}
body_declarations_of!(PutObjectInput, UploadPartInput);

/// `ReadRequest::from(&input)`: what a GetObject or HeadObject asks of its key.
macro_rules! read_request_of {
    ($($input:ty),* $(,)?) => {$(
        impl<'a> From<&'a $input> for ReadRequest<'a> {
            fn from(input: &'a $input) -> Self {
                Self {
                    conditions: ReadConditions {
                        if_match: input.if_match.as_ref(),
                        if_none_match: input.if_none_match.as_ref(),
                        if_modified_since: input.if_modified_since.as_ref(),
                        if_unmodified_since: input.if_unmodified_since.as_ref(),
                    },
                    range: input.range.as_ref(),
                    part_number: input.part_number,
                    checksum_mode: input.checksum_mode.as_ref(),
                    keys: None,
                }
            }
        }
    )*};
}
read_request_of!(GetObjectInput, HeadObjectInput);

/// `ReadConditions::from(&input)`: the `x-amz-copy-source-if-*` conditions of a copy.
macro_rules! copy_source_conditions_of {
    ($($input:ty),* $(,)?) => {$(
        impl<'a> From<&'a $input> for ReadConditions<'a> {
            fn from(input: &'a $input) -> Self {
                Self {
                    if_match: input.copy_source_if_match.as_ref(),
                    if_none_match: input.copy_source_if_none_match.as_ref(),
                    if_modified_since: input.copy_source_if_modified_since.as_ref(),
                    if_unmodified_since: input.copy_source_if_unmodified_since.as_ref(),
                }
            }
        }
    )*};
}
copy_source_conditions_of!(CopyObjectInput, UploadPartCopyInput);

/// The whole-object checksums a CompleteMultipartUpload declares.
pub(super) fn declared_checksums(input: &CompleteMultipartUploadInput) -> Checksums {
    Checksums {
        crc32: input.checksum_crc32.clone(),
        crc32c: input.checksum_crc32c.clone(),
        crc64nvme: input.checksum_crc64nvme.clone(),
        sha1: input.checksum_sha1.clone(),
        sha256: input.checksum_sha256.clone(),
    }
}

/// The body of a write held to its declared length: s3s decodes an aws-chunked body
/// without checking it against `x-amz-decoded-content-length`, and size limits (topics,
/// objects, quotas) are checked against that declaration, so a body longer or shorter than
/// declared fails (`IncompleteBody`) as soon as it shows, and nothing is stored.
pub(super) fn declared_body(headers: &http::HeaderMap, body: Option<s3s::dto::StreamingBlob>) -> Option<s3s::dto::StreamingBlob> {
    let declared = headers.get("x-amz-decoded-content-length").and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    match (declared, body) {
        (Some(declared), Some(body)) => Some(s3s::dto::StreamingBlob::wrap(DeclaredLength { inner: body, declared, seen: 0 })),
        (Some(declared), None) if declared > 0 => Some(s3s::dto::StreamingBlob::wrap(DeclaredLength {
            inner: s3s::dto::StreamingBlob::wrap(futures::stream::empty::<Result<bytes::Bytes, std::io::Error>>()),
            declared,
            seen: 0,
        })),
        (_, body) => body,
    }
}

struct DeclaredLength {
    inner: s3s::dto::StreamingBlob,
    declared: u64,
    seen: u64,
}

impl futures::Stream for DeclaredLength {
    type Item = Result<bytes::Bytes, std::io::Error>;

    fn poll_next(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Option<Self::Item>> {
        use std::task::Poll;
        let this = &mut *self;
        match futures::ready!(std::pin::Pin::new(&mut this.inner).poll_next(cx)) {
            Some(Ok(chunk)) => {
                this.seen += chunk.len() as u64;
                if this.seen > this.declared {
                    return Poll::Ready(Some(Err(std::io::Error::other(format!(
                        "the decoded body is longer than its x-amz-decoded-content-length ({})",
                        this.declared
                    )))));
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Some(Err(e)) => Poll::Ready(Some(Err(std::io::Error::other(e.to_string())))),
            None if this.seen < this.declared => Poll::Ready(Some(Err(std::io::Error::other(format!(
                "the decoded body ({} bytes) is shorter than its x-amz-decoded-content-length ({})",
                this.seen, this.declared
            ))))),
            None => Poll::Ready(None),
        }
    }
}

/// The length a client announced for a body (`x-amz-decoded-content-length` as s3s
/// parsed it, else `Content-Length`); none for an HTTP-chunked body.
pub(super) fn declared_length(headers: &http::HeaderMap, content_length: Option<i64>) -> Option<u64> {
    let header = headers.get(http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    content_length.and_then(|n| u64::try_from(n).ok()).or(header)
}

/// The record of a new object before its bytes are stored: what the request says of it.
pub(super) fn new_record(attrs: ObjectAttrs, tags: Vec<(String, String)>, owner: String) -> ObjectRecord {
    ObjectRecord::new(attrs, tags, owner, now_ns())
}

/// Keys that S3 refuses: over 1024 bytes (s3s checks path keys; this also covers keys
/// named in request bodies, such as DeleteObjects).
pub(super) fn check_key(key: &str) -> Result<(), Error> {
    if key.len() > 1024 {
        return Err(Error::KeyTooLong);
    }
    if key.is_empty() {
        return Err(Error::InvalidArgument("Object key must not be empty".into()));
    }
    Ok(())
}

fn sorted_metadata(m: Option<s3s::dto::Metadata>) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = m.unwrap_or_default().into_iter().map(|(k, v)| (k.to_ascii_lowercase(), v)).collect();
    v.sort();
    v
}

/// The `Content-Encoding` to keep: without `aws-chunked`, which describes how the body
/// was sent, not what it is (`gzip, aws-chunked` is stored as `gzip`).
fn stored_encoding(declared: Option<String>) -> Option<String> {
    let declared = declared?;
    if !declared.to_ascii_lowercase().contains("aws-chunked") {
        return Some(declared);
    }
    let kept: Vec<&str> = declared.split(',').map(str::trim).filter(|e| !e.is_empty() && !e.eq_ignore_ascii_case("aws-chunked")).collect();
    (!kept.is_empty()).then(|| kept.join(", "))
}

/// `If-Match` / `If-None-Match` of a write as a store precondition.
pub(super) fn write_precondition(if_match: Option<&ETagCondition>, if_none_match: Option<&ETagCondition>) -> Result<Precondition, Error> {
    match (if_match, if_none_match) {
        (Some(_), Some(_)) => Err(Error::InvalidRequest("If-Match and If-None-Match cannot be combined".into())),
        (Some(ETagCondition::Any), None) => Ok(Precondition::Present),
        (Some(ETagCondition::ETag(e)), None) => Ok(Precondition::ETagIs(e.value().to_owned())),
        (None, Some(ETagCondition::Any)) => Ok(Precondition::Absent),
        // AWS itself takes only '*' here (501 otherwise); the HTTP meaning is plain.
        (None, Some(ETagCondition::ETag(e))) => Ok(Precondition::ETagIsNot(e.value().to_owned())),
        (None, None) => Ok(Precondition::None),
    }
}

/// The conditions of a delete (`If-Match`, `x-amz-if-match-size`,
/// `x-amz-if-match-last-modified-time`, or the `ETag`, `Size` and `LastModifiedTime` of a
/// DeleteObjects entry) as a store precondition. A missing key is `NoSuchKey` if `If-Match`
/// was given, else deleted as any delete is.
pub(super) fn delete_precondition(if_match: Option<&ETagCondition>, size: Option<i64>, modified: Option<&Timestamp>) -> Result<Precondition, Error> {
    if if_match.is_none() && size.is_none() && modified.is_none() {
        return Ok(Precondition::None);
    }
    let size = size.map(|s| u64::try_from(s).map_err(|_| Error::InvalidArgument("The size must not be negative".into()))).transpose()?;
    Ok(Precondition::Matches {
        exists: if_match.is_some(),
        etag: match if_match {
            Some(ETagCondition::ETag(e)) => Some(e.value().to_owned()),
            Some(ETagCondition::Any) | None => None,
        },
        size,
        modified_secs: modified.map(|t| time::OffsetDateTime::from(t.clone()).unix_timestamp()),
    })
}

/// The conditions of one DeleteObjects entry (its `ETag`, `Size` and `LastModifiedTime`).
pub(super) fn entry_precondition(obj: &s3s::dto::ObjectIdentifier) -> Result<Precondition, Error> {
    let if_match = obj.e_tag.as_ref().map(|e| if e.value() == "*" { ETagCondition::Any } else { ETagCondition::ETag(e.clone()) });
    delete_precondition(if_match.as_ref(), obj.size, obj.last_modified_time.as_ref())
}

/// Parses an `x-amz-tagging` header (URL query form) into tags, with S3's limits.
pub(super) fn parse_tagging_header(h: Option<&str>) -> Result<Vec<(String, String)>, Error> {
    let Some(h) = h else { return Ok(Vec::new()) };
    let tags: Vec<(String, String)> = serde_urlencoded::from_str(h).map_err(|_| {
        Error::InvalidArgument("The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates.".into())
    })?;
    validate_tags(&tags)?;
    Ok(tags)
}

/// S3's limits on a tag set: at most 10 tags, distinct keys of 1 to 128 characters,
/// values of at most 256, both of letters, digits, white space and `+ - = . _ : / @`
/// (`InvalidTag` otherwise).
pub(super) fn validate_tags(tags: &[(String, String)]) -> Result<(), Error> {
    if tags.len() > 10 {
        return Err(Error::InvalidTag("Object tags cannot be greater than 10".into()));
    }
    let mut names: Vec<&str> = tags.iter().map(|(k, _)| k.as_str()).collect();
    names.sort_unstable();
    if names.windows(2).any(|w| w[0] == w[1]) {
        return Err(Error::InvalidTag("Cannot provide multiple Tags with the same key".into()));
    }
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > 128 {
            return Err(Error::InvalidTag("The TagKey you have provided is invalid".into()));
        }
        if v.chars().count() > 256 {
            return Err(Error::InvalidTag("The TagValue you have provided is invalid".into()));
        }
        let allowed = |c: char| c.is_alphanumeric() || c.is_whitespace() || "+-=._:/@".contains(c);
        if !k.chars().all(allowed) || !v.chars().all(allowed) {
            return Err(Error::InvalidTag("Tags may hold only letters, digits, white space and + - = . _ : / @".into()));
        }
    }
    Ok(())
}

/// The checksum algorithm (upper case) and type a CreateMultipartUpload declares, checked
/// as S3 does: a type needs an algorithm, `FULL_OBJECT` only with a CRC, CRC64NVME only as
/// `FULL_OBJECT`; an algorithm without a type gets its default type.
pub(super) fn upload_checksum(
    algorithm: Option<&s3s::dto::ChecksumAlgorithm>,
    ty: Option<&s3s::dto::ChecksumType>,
) -> Result<(Option<String>, Option<String>), Error> {
    use crate::proof::combine;
    let algorithm = algorithm.map(|a| a.as_str().to_ascii_uppercase());
    let ty = ty.map(|t| t.as_str().to_ascii_uppercase());
    let Some(alg) = algorithm else {
        return match ty {
            Some(_) => Err(Error::InvalidRequest("The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.".into())),
            None => Ok((None, None)),
        };
    };
    if !ChecksumSet::default().add(&alg) {
        return Err(Error::InvalidArgument(format!("unsupported checksum algorithm {alg}")));
    }
    let ty = ty.unwrap_or_else(|| combine::default_type(&alg).to_owned());
    if ty != combine::COMPOSITE && ty != combine::FULL_OBJECT {
        return Err(Error::InvalidArgument(format!("Value for x-amz-checksum-type header is invalid: {ty}")));
    }
    if !combine::supports(&alg, &ty) {
        return Err(Error::InvalidRequest(format!("The {ty} checksum type cannot be used with the {} checksum algorithm.", alg.to_ascii_lowercase())));
    }
    Ok((Some(alg), Some(ty)))
}

/// The bucket, key and version a copy names (access points are not supported).
pub(super) fn copy_source_location(source: &s3s::dto::CopySource) -> Result<(&str, &str, Option<&str>), Error> {
    let s3s::dto::CopySource::Bucket { bucket, key, version_id } = source else {
        return Err(Error::NotImplemented("access point copy sources are not supported"));
    };
    Ok((bucket, key, version_id.as_deref()))
}

/// The keys of a DeleteObjects request (at most 1000, as S3 allows) and its `Quiet` flag.
pub(super) fn delete_request(delete: s3s::dto::Delete) -> Result<(Vec<s3s::dto::ObjectIdentifier>, bool), Error> {
    if delete.objects.len() > 1000 {
        return Err(Error::MalformedXml("The XML you provided was not well-formed or did not validate against our published schema".into()));
    }
    Ok((delete.objects, delete.quiet.unwrap_or(false)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_chunked_is_not_a_stored_encoding() {
        assert_eq!(stored_encoding(Some("gzip, aws-chunked".into())).as_deref(), Some("gzip"));
        assert_eq!(stored_encoding(Some("aws-chunked,gzip,br".into())).as_deref(), Some("gzip, br"));
        assert_eq!(stored_encoding(Some("aws-chunked".into())), None);
        assert_eq!(stored_encoding(Some("identity".into())).as_deref(), Some("identity"));
        assert_eq!(stored_encoding(None), None);
    }

    #[test]
    fn bucket_sources_name_their_version() {
        let src = s3s::dto::CopySource::Bucket { bucket: "b".into(), key: "k/1".into(), version_id: None };
        assert_eq!(copy_source_location(&src).unwrap(), ("b", "k/1", None));
        let src = s3s::dto::CopySource::Bucket { bucket: "b".into(), key: "k".into(), version_id: Some("v".into()) };
        assert_eq!(copy_source_location(&src).unwrap(), ("b", "k", Some("v")));
    }
}

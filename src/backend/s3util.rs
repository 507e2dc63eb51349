//! S3 request and response helpers shared by every backend: what a client declared about
//! a body and its verification, object attributes, dates, ETags, tags, preconditions.

use crate::backend::Error;
use crate::meta::{Checksums, Precondition};
use crate::proof::hashing::{BodyDigests, BodyHasher, ChecksumSet};

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use s3s::dto::{ETag, ETagCondition, Owner, Timestamp, TimestampFormat};
use s3s::{S3Request, TrailingHeaders};

/// Smallest part allowed, except the last.
pub(crate) const MIN_PART_SIZE: u64 = 5 << 20;
const MAX_PART_NUMBER: i32 = 10_000;

/// The body of a write held to its declared length: s3s decodes an aws-chunked body
/// without checking it against `x-amz-decoded-content-length`, and size limits (topics,
/// objects, quotas) are checked against that declaration, so a body longer or shorter than
/// declared fails (`IncompleteBody`) as soon as it shows, and nothing is stored.
pub(crate) fn declared_body(headers: &http::HeaderMap, body: Option<s3s::dto::StreamingBlob>) -> Option<s3s::dto::StreamingBlob> {
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

/// What a client declared about a body it is sending.
#[derive(Debug, Default)]
pub(crate) struct Expected {
    pub content_md5: Option<String>,
    pub checksums: Checksums,
    pub algorithm: Option<String>,
}

/// The declarations of a body (`Content-MD5`, checksums in headers or trailers), ready to
/// be checked against the digests computed while the body streams.
pub struct BodyCheck {
    content_md5: Option<[u8; 16]>,
    expected: Checksums,
    set: ChecksumSet,
    trailer_names: Vec<String>,
    trailers: Option<TrailingHeaders>,
}

impl BodyCheck {
    pub(crate) fn new<T>(req: &S3Request<T>, mut expect: Expected) -> Result<Self, Error> {
        presigned_checksums(req.uri.query().unwrap_or(""), &mut expect);
        let mut check = Self::expecting(expect)?;
        for name in trailer_checksums(req) {
            if !check.set.add(name.trim_start_matches("x-amz-checksum-")) {
                return Err(Error::InvalidArgument(format!("unsupported trailing checksum {name}")));
            }
            check.trailer_names.push(name);
        }
        check.trailers = req.trailing_headers.clone();
        Ok(check)
    }

    /// The check of a body whose digests are known beforehand (no trailers).
    pub(crate) fn expecting(expect: Expected) -> Result<Self, Error> {
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
        Ok(Self { content_md5, expected: expect.checksums, set, trailer_names: Vec::new(), trailers: None })
    }

    /// The checksums declared in headers or the presigned query (not trailers).
    pub fn declared(&self) -> &Checksums {
        &self.expected
    }

    /// The declared `Content-MD5`, base64 encoded.
    pub fn declared_md5(&self) -> Option<String> {
        self.content_md5.map(|md5| base64_simd::STANDARD.encode_to_string(md5))
    }

    /// A hasher computing every digest this check needs, and MD5 (the ETag of a body the
    /// gateway stores itself).
    pub fn hasher(&self) -> BodyHasher {
        BodyHasher::new(self.set)
    }

    /// A hasher computing every digest this check needs, MD5 only if declared (a body
    /// whose ETag another store computes).
    pub fn hasher_for_forwarding(&self) -> BodyHasher {
        let hasher = BodyHasher::new(self.set);
        if self.content_md5.is_some() { hasher } else { hasher.without_md5() }
    }

    /// Checks the finished digests against every declaration (trailers are read now: the
    /// body has ended).
    pub fn verify(&self, digests: &BodyDigests) -> Result<(), Error> {
        if let Some(md5) = self.content_md5
            && Some(md5) != digests.md5
        {
            return Err(Error::BadDigest("The Content-MD5 you specified did not match what we received.".into()));
        }
        let mut expected = self.expected.clone();
        if !self.trailer_names.is_empty() {
            let trailers = self.trailers.as_ref().and_then(TrailingHeaders::take).unwrap_or_default();
            for name in &self.trailer_names {
                let value = trailers
                    .get(name.as_str())
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
                    .ok_or_else(|| Error::InvalidRequest(format!("missing trailing checksum {name}")))?;
                *checksum_slot(&mut expected, name) = Some(value);
            }
        }
        verify_checksums(&expected, &digests.checksums)
    }
}

/// The body declarations of a `PutObject` or `UploadPart` input.
macro_rules! expected_from_input {
    ($input:expr) => {
        crate::backend::s3util::Expected {
            content_md5: $input.content_md5.take(),
            checksums: crate::meta::Checksums {
                crc32: $input.checksum_crc32.take(),
                crc32c: $input.checksum_crc32c.take(),
                crc64nvme: $input.checksum_crc64nvme.take(),
                sha1: $input.checksum_sha1.take(),
                sha256: $input.checksum_sha256.take(),
            },
            algorithm: $input.checksum_algorithm.take().map(|a| a.as_str().to_owned()),
        }
    };
}
pub(crate) use expected_from_input;

/// The length a client announced for a body (`x-amz-decoded-content-length` as s3s
/// parsed it, else `Content-Length`); none for an HTTP-chunked body.
pub(crate) fn declared_length(headers: &http::HeaderMap, content_length: Option<i64>) -> Option<u64> {
    let header = headers.get(http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    content_length.and_then(|n| u64::try_from(n).ok()).or(header)
}

/// The record of a new object before its bytes are stored: what the request says of it.
pub(crate) fn new_record(attrs: crate::meta::ObjectAttrs, tags: Vec<(String, String)>, owner: String) -> crate::meta::ObjectRecord {
    crate::meta::ObjectRecord {
        size: 0,
        etag: String::new(),
        last_modified_ns: now_ns(),
        segments: Vec::new(),
        multipart: false,
        attrs,
        checksums: Checksums::default(),
        tags,
        owner,
        sha256: String::new(),
        proof_id: String::new(),
        checksum_type: None,
        parts: Vec::new(),
    }
}

/// Keys that S3 refuses: over 1024 bytes (s3s checks path keys; this also covers keys
/// named in request bodies, such as DeleteObjects).
pub(crate) fn check_key(key: &str) -> Result<(), Error> {
    if key.len() > 1024 {
        return Err(Error::KeyTooLong);
    }
    if key.is_empty() {
        return Err(Error::InvalidArgument("Object key must not be empty".into()));
    }
    Ok(())
}

pub(crate) fn part_number(n: i32) -> Result<u32, Error> {
    if (1..=MAX_PART_NUMBER).contains(&n) {
        Ok(n.unsigned_abs())
    } else {
        Err(Error::InvalidArgument("Part number must be an integer between 1 and 10000, inclusive".into()))
    }
}

/// Parses `x-amz-copy-source-range: bytes=first-last` against a source of `size` bytes.
pub(crate) fn copy_range(h: Option<&str>, size: u64) -> Result<std::ops::Range<u64>, Error> {
    let Some(h) = h else { return Ok(0..size) };
    let invalid = || Error::InvalidArgument(format!("Range specified is not valid for source object of size: {size}"));
    let (first, last) = h.strip_prefix("bytes=").and_then(|r| r.split_once('-')).ok_or_else(invalid)?;
    let first: u64 = first.trim().parse().map_err(|_| invalid())?;
    let last: u64 = last.trim().parse().map_err(|_| invalid())?;
    if first > last {
        return Err(invalid());
    }
    if last >= size {
        // Well formed, but past the source's end.
        return Err(Error::InvalidRange);
    }
    Ok(first..last + 1)
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

/// Checksums a presigned URL carries in its query (signed with it: the JavaScript SDK
/// presigns PutObject with `x-amz-checksum-crc32` by default), checked like headers.
fn presigned_checksums(query: &str, expect: &mut Expected) {
    if !query.contains("x-amz-") && !query.contains("X-Amz-") {
        return;
    }
    for (k, v) in serde_urlencoded::from_str::<Vec<(String, String)>>(query).unwrap_or_default() {
        let k = k.to_ascii_lowercase();
        if k == "x-amz-sdk-checksum-algorithm" {
            expect.algorithm.get_or_insert(v.to_ascii_uppercase());
        } else if matches!(
            k.as_str(),
            "x-amz-checksum-crc32" | "x-amz-checksum-crc32c" | "x-amz-checksum-crc64nvme" | "x-amz-checksum-sha1" | "x-amz-checksum-sha256"
        ) {
            checksum_slot(&mut expect.checksums, &k).get_or_insert(v);
        }
    }
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
        crate::meta::ObjectAttrs {
            content_type: $input.content_type.take(),
            content_encoding: crate::backend::s3util::stored_encoding($input.content_encoding.take()),
            content_disposition: $input.content_disposition.take(),
            content_language: $input.content_language.take(),
            cache_control: $input.cache_control.take(),
            expires: $input.expires.take().map(|t| crate::backend::s3util::http_date(&t)),
            website_redirect_location: $input.website_redirect_location.take(),
            user_metadata: crate::backend::s3util::sorted_metadata($input.metadata.take()),
        }
    };
}
pub(crate) use attrs_from_input;

/// The conditional headers of a read.
#[derive(Clone, Copy)]
pub struct ReadConditions<'a> {
    pub if_match: Option<&'a ETagCondition>,
    pub if_none_match: Option<&'a ETagCondition>,
    pub if_modified_since: Option<&'a Timestamp>,
    pub if_unmodified_since: Option<&'a Timestamp>,
}

/// What a GetObject or HeadObject asks of its key: conditions, range or part, checksums.
pub struct ReadRequest<'a> {
    pub conditions: ReadConditions<'a>,
    pub range: Option<&'a s3s::dto::Range>,
    pub part_number: Option<i32>,
    pub checksum_mode: Option<&'a s3s::dto::ChecksumMode>,
}

/// The [`ReadRequest`] of a `GetObjectInput` or `HeadObjectInput` (same fields).
macro_rules! read_request {
    ($input:expr) => {
        crate::backend::s3util::ReadRequest {
            conditions: crate::backend::s3util::ReadConditions {
                if_match: $input.if_match.as_ref(),
                if_none_match: $input.if_none_match.as_ref(),
                if_modified_since: $input.if_modified_since.as_ref(),
                if_unmodified_since: $input.if_unmodified_since.as_ref(),
            },
            range: $input.range.as_ref(),
            part_number: $input.part_number,
            checksum_mode: $input.checksum_mode.as_ref(),
        }
    };
}
pub(crate) use read_request;

/// The `x-amz-copy-source-if-*` conditions of a `CopyObjectInput` or `UploadPartCopyInput`.
macro_rules! copy_source_conditions {
    ($input:expr) => {
        crate::backend::s3util::ReadConditions {
            if_match: $input.copy_source_if_match.as_ref(),
            if_none_match: $input.copy_source_if_none_match.as_ref(),
            if_modified_since: $input.copy_source_if_modified_since.as_ref(),
            if_unmodified_since: $input.copy_source_if_unmodified_since.as_ref(),
        }
    };
}
pub(crate) use copy_source_conditions;

/// What a GetObject or HeadObject answers about the object read (from the index, or from
/// the upstream's headers).
pub struct ObjectRead {
    pub content_length: Option<i64>,
    pub content_range: Option<String>,
    pub etag: String,
    pub last_modified: Option<Timestamp>,
    pub attrs: crate::meta::ObjectAttrs,
    pub parts_count: Option<i32>,
    pub tag_count: Option<i32>,
    pub checksums: Checksums,
    /// `x-amz-checksum-type` of `checksums`, when there are some.
    pub checksum_type: Option<String>,
}

/// The `GetObjectOutput` or `HeadObjectOutput` (s3s types with the same fields) of `$read`,
/// an [`ObjectRead`], with the `response-*` overrides of the request's `$input`, and any
/// further `field: value` (GetObject's body and tag count).
macro_rules! object_read_output {
    ($output:ident, $input:expr, $read:expr $(, $field:ident: $value:expr)* $(,)?) => {{
        let read: crate::backend::s3util::ObjectRead = $read;
        let (a, c) = (read.attrs, read.checksums);
        s3s::dto::$output {
            content_length: read.content_length,
            content_range: read.content_range,
            parts_count: read.parts_count,
            accept_ranges: Some("bytes".into()),
            e_tag: Some(crate::backend::s3util::etag(&read.etag)),
            last_modified: read.last_modified,
            metadata: crate::backend::s3util::metadata_map(&a.user_metadata),
            content_type: $input.response_content_type.or(a.content_type),
            content_encoding: $input.response_content_encoding.or(a.content_encoding),
            content_disposition: $input.response_content_disposition.or(a.content_disposition),
            content_language: $input.response_content_language.or(a.content_language),
            cache_control: $input.response_cache_control.or(a.cache_control),
            expires: $input.response_expires.or_else(|| a.expires.as_deref().and_then(crate::backend::s3util::parse_http_date)),
            website_redirect_location: a.website_redirect_location,
            checksum_crc32: c.crc32,
            checksum_crc32c: c.crc32c,
            checksum_crc64nvme: c.crc64nvme,
            checksum_sha1: c.sha1,
            checksum_sha256: c.sha256,
            checksum_type: read.checksum_type.map(s3s::dto::ChecksumType::from),
            $($field: $value,)*
            ..Default::default()
        }
    }};
}
pub(crate) use object_read_output;

pub(crate) fn sorted_metadata(m: Option<s3s::dto::Metadata>) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = m.unwrap_or_default().into_iter().map(|(k, v)| (k.to_ascii_lowercase(), v)).collect();
    v.sort();
    v
}

pub(crate) fn metadata_map(v: &[(String, String)]) -> Option<s3s::dto::Metadata> {
    (!v.is_empty()).then(|| v.iter().cloned().collect())
}

pub(crate) fn http_date(t: &Timestamp) -> String {
    let mut buf = Vec::new();
    let _ = t.format(TimestampFormat::HttpDate, &mut buf);
    String::from_utf8(buf).unwrap_or_default()
}

pub(crate) fn parse_http_date(s: &str) -> Option<Timestamp> {
    Timestamp::parse(TimestampFormat::HttpDate, s).ok()
}

pub(crate) fn now_ns() -> i128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i128)
}

pub(crate) fn timestamp(ns: i128) -> Timestamp {
    let d = Duration::from_nanos(u64::try_from(ns).unwrap_or(0));
    Timestamp::from(UNIX_EPOCH + d)
}

pub(crate) fn etag(s: &str) -> ETag {
    ETag::Strong(s.to_owned())
}

/// The `Content-Encoding` to keep: without `aws-chunked`, which describes how the body
/// was sent, not what it is (`gzip, aws-chunked` is stored as `gzip`).
pub(crate) fn stored_encoding(declared: Option<String>) -> Option<String> {
    let declared = declared?;
    if !declared.to_ascii_lowercase().contains("aws-chunked") {
        return Some(declared);
    }
    let kept: Vec<&str> = declared.split(',').map(str::trim).filter(|e| !e.is_empty() && !e.eq_ignore_ascii_case("aws-chunked")).collect();
    (!kept.is_empty()).then(|| kept.join(", "))
}

/// Sends back non-ASCII `x-amz-meta-*` values as the raw UTF-8 the client sent: s3s would
/// send them RFC 2047-encoded, and clients compare them with what they put. (The headers
/// given here replace s3s's.)
pub(crate) fn raw_metadata_headers(headers: &mut http::HeaderMap, metadata: &[(String, String)]) {
    for (k, v) in metadata.iter().filter(|(_, v)| !v.is_ascii()) {
        if let (Ok(name), Ok(value)) = (http::HeaderName::from_bytes(format!("x-amz-meta-{k}").as_bytes()), http::HeaderValue::from_bytes(v.as_bytes())) {
            headers.insert(name, value);
        }
    }
}

/// A metadata value as received from an upstream: raw UTF-8, or RFC 2047 `=?UTF-8?B?...?=`
/// encoded-words (as S3 services send non-ASCII values), decoded.
pub(crate) fn metadata_value(raw: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(raw).ok()?;
    let words: Vec<&str> = text.split_ascii_whitespace().collect();
    let encoded = |w: &str| {
        let lower = w.to_ascii_lowercase();
        (lower.starts_with("=?utf-8?b?") && lower.ends_with("?=") && w.len() >= 12)
            .then(|| base64_simd::STANDARD.decode_to_vec(&w[10..w.len() - 2]).ok())
            .flatten()
    };
    if words.is_empty() || !words.iter().all(|w| encoded(w).is_some()) {
        return Some(text.to_owned());
    }
    let bytes: Vec<u8> = words.iter().filter_map(|w| encoded(w)).flatten().collect();
    String::from_utf8(bytes).ok()
}

/// Adds `x-tollgate-proof-id` and `x-tollgate-sha256` for a recorded object version.
pub(crate) fn proof_headers(headers: &mut http::HeaderMap, rec: &crate::meta::ObjectRecord) {
    if rec.proof_id.is_empty() {
        return;
    }
    if let (Ok(id), Ok(sha)) = (http::HeaderValue::from_str(&rec.proof_id), http::HeaderValue::from_str(&rec.sha256)) {
        headers.insert("x-tollgate-proof-id", id);
        headers.insert("x-tollgate-sha256", sha);
    }
}

pub(crate) fn owner(tenant: &str) -> Owner {
    Owner { id: Some(tenant.to_owned()), display_name: Some(tenant.to_owned()) }
}

/// The headers of a 304 answer, of those an object's 200 answer has (`headers`): its
/// validators and caching headers, as RFC 9110 asks and AWS answers.
pub(crate) fn not_modified_headers(headers: &http::HeaderMap) -> http::HeaderMap {
    let mut out = http::HeaderMap::new();
    for name in [http::header::ETAG, http::header::LAST_MODIFIED, http::header::CACHE_CONTROL, http::header::EXPIRES] {
        if let Some(v) = headers.get(&name) {
            out.insert(name, v.clone());
        }
    }
    out
}

/// The 304 of a read of `rec`, with its `ETag`, `Last-Modified` and caching headers.
pub(crate) fn not_modified(rec: &crate::meta::ObjectRecord) -> Error {
    let mut headers = http::HeaderMap::new();
    let mut put = |name: http::header::HeaderName, value: &str| {
        if let Ok(v) = http::HeaderValue::from_str(value) {
            headers.insert(name, v);
        }
    };
    put(http::header::ETAG, &format!("\"{}\"", rec.etag));
    put(http::header::LAST_MODIFIED, &http_date(&timestamp(rec.last_modified_ns)));
    if let Some(v) = &rec.attrs.cache_control {
        put(http::header::CACHE_CONTROL, v);
    }
    if let Some(v) = &rec.attrs.expires {
        put(http::header::EXPIRES, v);
    }
    Error::NotModified(Box::new(headers))
}

/// `If-Match` / `If-None-Match` of a write as a store precondition.
pub(crate) fn write_precondition(if_match: Option<&ETagCondition>, if_none_match: Option<&ETagCondition>) -> Result<Precondition, Error> {
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
pub(crate) fn delete_precondition(if_match: Option<&ETagCondition>, size: Option<i64>, modified: Option<&Timestamp>) -> Result<Precondition, Error> {
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
pub(crate) fn entry_precondition(obj: &s3s::dto::ObjectIdentifier) -> Result<Precondition, Error> {
    let if_match = obj.e_tag.as_ref().map(|e| if e.value() == "*" { ETagCondition::Any } else { ETagCondition::ETag(e.clone()) });
    delete_precondition(if_match.as_ref(), obj.size, obj.last_modified_time.as_ref())
}

/// Parses an `x-amz-tagging` header (URL query form) into tags, with S3's limits.
pub(crate) fn parse_tagging_header(h: Option<&str>) -> Result<Vec<(String, String)>, Error> {
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
pub(crate) fn validate_tags(tags: &[(String, String)]) -> Result<(), Error> {
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

/// `x-amz-tagging-count` on a HEAD answer (s3s's HeadObjectOutput has no field for it).
pub(crate) fn tag_count_header(headers: &mut http::HeaderMap, count: Option<i32>) {
    if let Some(n) = count.filter(|n| *n > 0) {
        headers.insert("x-amz-tagging-count", http::HeaderValue::from(n));
    }
}

/// The uploaded parts a CompleteMultipartUpload names, in its order, checked as S3 does:
/// at least one, ascending numbers, each uploaded (with the ETag given, if any), all but
/// the last at least 5 MiB.
pub(crate) fn chosen_parts<'a>(
    requested: &[s3s::dto::CompletedPart],
    stored: &'a [crate::meta::PartRecord],
) -> Result<Vec<&'a crate::meta::PartRecord>, Error> {
    if requested.is_empty() {
        return Err(Error::MalformedXml("You must specify at least one part".into()));
    }
    let mut chosen = Vec::with_capacity(requested.len());
    let mut prev = 0u32;
    for p in requested {
        let n = part_number(p.part_number.ok_or_else(|| Error::MalformedXml("PartNumber is required".into()))?)?;
        if n <= prev {
            return Err(Error::InvalidPartOrder);
        }
        prev = n;
        let part = stored
            .iter()
            .find(|s| s.number == n)
            .filter(|s| p.e_tag.as_ref().is_none_or(|e| e.value().trim_matches('"') == s.etag))
            .ok_or_else(|| Error::InvalidPart("One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.".into()))?;
        chosen.push(part);
    }
    if chosen[..chosen.len() - 1].iter().any(|p| p.size < MIN_PART_SIZE) {
        return Err(Error::EntityTooSmall);
    }
    Ok(chosen)
}

/// What a completion makes of an upload's stored parts.
pub(crate) struct CompletionPlan<'a> {
    /// The parts named, in order.
    pub chosen: Vec<&'a crate::meta::PartRecord>,
    /// The object's checksums per its upload's algorithm and type, that type, its parts.
    pub checksums: Checksums,
    pub checksum_type: Option<String>,
    pub parts: Vec<crate::meta::ObjectPartRecord>,
    /// The digest the completion is remembered by ([`part_list_digest`]).
    pub digest: String,
    /// The object's size: its parts'.
    pub size: u64,
}

/// Checks a completion's part list against the `stored` parts of upload `up` and combines
/// their checksums ([`chosen_parts`], [`completed_checksum`]).
pub(crate) fn plan_completion<'a>(
    up: &crate::meta::UploadRecord,
    requested: &[s3s::dto::CompletedPart],
    stored: &'a [crate::meta::PartRecord],
    declared: &Checksums,
) -> Result<CompletionPlan<'a>, Error> {
    let chosen = chosen_parts(requested, stored)?;
    let (checksums, checksum_type, parts) = completed_checksum(up, requested, &chosen, declared)?;
    let digest = part_list_digest(chosen.iter().map(|p| (p.number, p.etag.as_str())));
    let size = chosen.iter().map(|p| p.size).sum();
    Ok(CompletionPlan { chosen, checksums, checksum_type, parts, digest, size })
}

/// The ETag of a multipart object: the MD5 of its parts' MD5s, then `-{parts}`.
pub(crate) fn multipart_etag(parts: &[&crate::meta::PartRecord]) -> Result<String, Error> {
    let mut md5s = Vec::with_capacity(parts.len() * 16);
    for p in parts {
        let raw = hex_simd::decode_to_vec(&p.etag).map_err(|_| Error::InvalidPart("corrupt part etag".into()))?;
        md5s.extend_from_slice(&raw);
    }
    let mut h = <s3s::crypto::Md5 as s3s::crypto::Checksum>::new();
    s3s::crypto::Checksum::update(&mut h, &md5s);
    Ok(format!("{}-{}", hex_simd::encode_to_string(s3s::crypto::Checksum::finalize(h), hex_simd::AsciiCase::Lower), parts.len()))
}

/// The digest a completion is remembered by ([`crate::meta::CompletedUpload::parts`]):
/// the SHA-256 of `{number} {etag}\n` per part, ETags unquoted.
pub(crate) fn part_list_digest<'a>(parts: impl IntoIterator<Item = (u32, &'a str)>) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for (n, etag) in parts {
        h.update(format!("{n} {}\n", etag.trim_matches('"')).as_bytes());
    }
    hex_simd::encode_to_string(h.finalize(), hex_simd::AsciiCase::Lower)
}

/// The digest of a completion request's part list; `None` if a part lacks its number or
/// ETag (such a list cannot be the repeat of a completion).
pub(crate) fn requested_digest(requested: &[s3s::dto::CompletedPart]) -> Option<String> {
    let mut parts = Vec::with_capacity(requested.len());
    for p in requested {
        parts.push((u32::try_from(p.part_number?).ok()?, p.e_tag.as_ref()?.value()));
    }
    Some(part_list_digest(parts))
}

/// The answer to a CopyObject that made `rec`.
pub(crate) fn copied_output(rec: &crate::meta::ObjectRecord) -> s3s::S3Response<s3s::dto::CopyObjectOutput> {
    let mut headers = http::HeaderMap::new();
    proof_headers(&mut headers, rec);
    let c = &rec.checksums;
    s3s::S3Response::with_headers(
        s3s::dto::CopyObjectOutput {
            copy_object_result: Some(s3s::dto::CopyObjectResult {
                e_tag: Some(etag(&rec.etag)),
                last_modified: Some(timestamp(rec.last_modified_ns)),
                checksum_crc32: c.crc32.clone(),
                checksum_crc32c: c.crc32c.clone(),
                checksum_crc64nvme: c.crc64nvme.clone(),
                checksum_sha1: c.sha1.clone(),
                checksum_sha256: c.sha256.clone(),
                checksum_type: rec.checksum_type.clone().map(s3s::dto::ChecksumType::from),
            }),
            ..Default::default()
        },
        headers,
    )
}

/// The answer to a completion that made `rec` (the first time, or repeated).
pub(crate) fn completed_output(bucket: String, key: String, rec: &crate::meta::ObjectRecord) -> s3s::S3Response<s3s::dto::CompleteMultipartUploadOutput> {
    let mut headers = http::HeaderMap::new();
    proof_headers(&mut headers, rec);
    s3s::S3Response::with_headers(
        s3s::dto::CompleteMultipartUploadOutput {
            location: Some(format!("/{bucket}/{key}")),
            bucket: Some(bucket),
            key: Some(key),
            e_tag: Some(etag(&rec.etag)),
            checksum_crc32: rec.checksums.crc32.clone(),
            checksum_crc32c: rec.checksums.crc32c.clone(),
            checksum_crc64nvme: rec.checksums.crc64nvme.clone(),
            checksum_sha1: rec.checksums.sha1.clone(),
            checksum_sha256: rec.checksums.sha256.clone(),
            checksum_type: rec.checksum_type.clone().map(s3s::dto::ChecksumType::from),
            ..Default::default()
        },
        headers,
    )
}

/// The checksum algorithm (upper case) and type a CreateMultipartUpload declares, checked
/// as S3 does: a type needs an algorithm, `FULL_OBJECT` only with a CRC, CRC64NVME only as
/// `FULL_OBJECT`; an algorithm without a type gets its default type.
pub(crate) fn upload_checksum(
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

/// What a completed multipart object records of its checksums: the object's checksum per
/// its upload's algorithm and type (none without an algorithm, or if a part lacks it), that
/// type, and its parts. Part checksums the Complete request names (`requested`, in the
/// order of `chosen`) must be the parts' (`InvalidPart`); a whole-object checksum it
/// `declared` for the upload's algorithm must match (`BadDigest`; a composite one with or
/// without `-{parts}`).
pub(crate) fn completed_checksum(
    up: &crate::meta::UploadRecord,
    requested: &[s3s::dto::CompletedPart],
    chosen: &[&crate::meta::PartRecord],
    declared: &Checksums,
) -> Result<(Checksums, Option<String>, Vec<crate::meta::ObjectPartRecord>), Error> {
    use crate::proof::combine;
    for (r, p) in requested.iter().zip(chosen) {
        let named = [
            (&r.checksum_crc32, &p.checksums.crc32),
            (&r.checksum_crc32c, &p.checksums.crc32c),
            (&r.checksum_crc64nvme, &p.checksums.crc64nvme),
            (&r.checksum_sha1, &p.checksums.sha1),
            (&r.checksum_sha256, &p.checksums.sha256),
        ];
        if named.iter().any(|(want, have)| matches!((want, have), (Some(w), Some(h)) if w != h)) {
            return Err(Error::InvalidPart(format!("The checksum of part {} does not match the uploaded part's.", p.number)));
        }
    }
    let parts = chosen.iter().map(|p| crate::meta::ObjectPartRecord { number: p.number, size: p.size, checksums: p.checksums.clone() }).collect();
    let (Some(alg), Some(ty)) = (&up.checksum_algorithm, &up.checksum_type) else {
        return Ok((Checksums::default(), None, parts));
    };
    let sized: Vec<(u64, &Checksums)> = chosen.iter().map(|p| (p.size, &p.checksums)).collect();
    let Some(value) = combine::multipart(alg, ty, &sized) else {
        tracing::warn!(algorithm = %alg, checksum_type = %ty, "a part lacks its checksum: the object gets none");
        return Ok((Checksums::default(), None, parts));
    };
    if let Some(want) = combine::value(declared, alg) {
        let bare = value.rsplit_once('-').filter(|_| ty == combine::COMPOSITE).map_or(value.as_str(), |(b, _)| b);
        if want != &value && want != bare {
            return Err(Error::BadDigest(format!("The {alg} you specified did not match the calculated checksum.")));
        }
    }
    Ok((combine::only(alg, value), Some(ty.clone()), parts))
}

/// The whole-object checksums a CompleteMultipartUpload request declares.
macro_rules! declared_checksums {
    ($input:expr) => {
        crate::meta::Checksums {
            crc32: $input.checksum_crc32.clone(),
            crc32c: $input.checksum_crc32c.clone(),
            crc64nvme: $input.checksum_crc64nvme.clone(),
            sha1: $input.checksum_sha1.clone(),
            sha256: $input.checksum_sha256.clone(),
        }
    };
}
pub(crate) use declared_checksums;

/// Buckets are never versioned: only the version `null` exists.
pub(crate) fn only_null_version(v: Option<&str>) -> Result<(), Error> {
    if v.is_some_and(|v| v != "null") {
        return Err(Error::InvalidArgument("Invalid version id specified".into()));
    }
    Ok(())
}

/// The bucket and key a copy names (version `null` only; access points are not supported).
pub(crate) fn copy_source_location(source: &s3s::dto::CopySource) -> Result<(&str, &str), Error> {
    let s3s::dto::CopySource::Bucket { bucket, key, version_id } = source else {
        return Err(Error::NotImplemented("access point copy sources are not supported"));
    };
    only_null_version(version_id.as_deref())?;
    Ok((bucket, key))
}

/// The keys of a DeleteObjects request (at most 1000, as S3 allows) and its `Quiet` flag.
pub(crate) fn delete_request(delete: s3s::dto::Delete) -> Result<(Vec<s3s::dto::ObjectIdentifier>, bool), Error> {
    if delete.objects.len() > 1000 {
        return Err(Error::MalformedXml("The XML you provided was not well-formed or did not validate against our published schema".into()));
    }
    Ok((delete.objects, delete.quiet.unwrap_or(false)))
}

/// The DeleteObjects answer for each key's outcome (deleted keys left out when quiet).
pub(crate) fn delete_objects_output(
    outcomes: impl IntoIterator<Item = (s3s::dto::ObjectIdentifier, Result<(), Error>)>,
    quiet: bool,
) -> s3s::dto::DeleteObjectsOutput {
    let mut deleted = Vec::new();
    let mut errors = Vec::new();
    for (obj, r) in outcomes {
        match r {
            Ok(()) if !quiet => deleted.push(s3s::dto::DeletedObject { key: Some(obj.key), version_id: obj.version_id, ..Default::default() }),
            Ok(()) => {}
            Err(e) => {
                let s3: s3s::S3Error = e.into();
                errors.push(s3s::dto::Error {
                    code: Some(s3.code().as_str().to_owned()),
                    key: Some(obj.key),
                    message: s3.message().map(str::to_owned),
                    version_id: obj.version_id,
                });
            }
        }
    }
    s3s::dto::DeleteObjectsOutput { deleted: (!deleted.is_empty()).then_some(deleted), errors: (!errors.is_empty()).then_some(errors), ..Default::default() }
}

/// The size and lower-hex SHA-256 of a stream's bytes, read once.
pub(crate) async fn sha256_of<E>(stream: impl futures::Stream<Item = Result<bytes::Bytes, E>>) -> Result<(u64, String), E> {
    use sha2::Digest as _;
    let mut stream = std::pin::pin!(stream);
    let mut sha = sha2::Sha256::new();
    let mut size = 0u64;
    while let Some(chunk) = futures::StreamExt::next(&mut stream).await {
        let chunk = chunk?;
        size += chunk.len() as u64;
        sha.update(&chunk);
    }
    Ok((size, hex_simd::encode_to_string(sha.finalize(), hex_simd::AsciiCase::Lower)))
}

/// S3's URI encoding (also that of `encoding-type=url` listings): everything but
/// unreserved characters, and `/` unless `keep_slash`, as `%XX`.
pub(crate) fn uri_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
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
    fn metadata_values_from_upstreams_are_decoded() {
        assert_eq!(metadata_value("h\u{e9}llo".as_bytes()).unwrap(), "h\u{e9}llo");
        assert_eq!(metadata_value(b"=?UTF-8?B?aMOpbGxvIHfDtnJsZCDml6XmnKw=?=").unwrap(), "h\u{e9}llo w\u{f6}rld \u{65e5}\u{672c}");
        assert_eq!(metadata_value(b"=?utf-8?b?aMOp?= =?UTF-8?B?bGxv?=").unwrap(), "h\u{e9}llo");
        assert_eq!(metadata_value(b"plain =?x").unwrap(), "plain =?x");
        assert!(metadata_value(&[0xff, 0xfe]).is_none());
    }

    #[test]
    fn uri_encoding_escapes_all_but_unreserved() {
        assert_eq!(uri_encode("a b+c/%é~", true), "a%20b%2Bc/%25%C3%A9~");
        assert_eq!(uri_encode("A-z_0.9~", true), "A-z_0.9~");
        assert_eq!(uri_encode("x/y", false), "x%2Fy");
    }

    #[test]
    fn only_the_null_version_and_bucket_sources_are_accepted() {
        assert!(only_null_version(None).is_ok() && only_null_version(Some("null")).is_ok());
        assert!(matches!(only_null_version(Some("v1")), Err(Error::InvalidArgument(_))));
        let src = s3s::dto::CopySource::Bucket { bucket: "b".into(), key: "k/1".into(), version_id: None };
        assert_eq!(copy_source_location(&src).unwrap(), ("b", "k/1"));
    }

    #[test]
    fn forwarded_bodies_hash_md5_only_when_declared() {
        let hash = |check: &BodyCheck| {
            let mut h = check.hasher_for_forwarding();
            h.update(b"abc");
            h.finish()
        };
        let plain = BodyCheck::expecting(Expected::default()).unwrap();
        assert!(hash(&plain).md5.is_none());
        assert!(plain.verify(&hash(&plain)).is_ok());
        let declared = |b64: &str| BodyCheck::expecting(Expected { content_md5: Some(b64.into()), ..Default::default() }).unwrap();
        let good = declared("kAFQmDzST7DWlj99KOF/cg==");
        assert!(hash(&good).md5.is_some() && good.verify(&hash(&good)).is_ok());
        let bad = declared("AAAAAAAAAAAAAAAAAAAAAA==");
        assert!(matches!(bad.verify(&hash(&bad)), Err(Error::BadDigest(_))));
        assert_eq!(plain.hasher().finish().md5_hex(), "d41d8cd98f00b204e9800998ecf8427e", "a stored body's ETag is always computed");
    }

    #[test]
    fn delete_answers_list_errors_and_hide_deletions_when_quiet() {
        let id = |k: &str| s3s::dto::ObjectIdentifier { key: k.into(), ..Default::default() };
        let out = delete_objects_output([(id("a"), Ok(())), (id("b"), Err(Error::KeyTooLong))], true);
        assert!(out.deleted.is_none());
        assert_eq!(out.errors.unwrap()[0].code.as_deref(), Some("KeyTooLongError"));
        let many = s3s::dto::Delete { objects: (0..1001).map(|i| id(&i.to_string())).collect(), quiet: None };
        assert!(matches!(delete_request(many), Err(Error::MalformedXml(_))));
    }
}

//! Helpers of the engine contract and of both engines: what a client declared about a body
//! and its verification, what a read asks and answers, dates, ETags, part lists. (What a
//! request says is read in `crate::s3::request`, answers are built in `crate::s3::answer`.)

use crate::backend::Error;
use crate::meta::Checksums;
use crate::proof::hashing::{BodyDigests, BodyHasher, ChecksumSet};

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use s3s::dto::{ETag, ETagCondition, Owner, Timestamp, TimestampFormat};
use s3s::{S3Request, TrailingHeaders};

/// Smallest part allowed, except the last.
pub(crate) const MIN_PART_SIZE: u64 = 5 << 20;
const MAX_PART_NUMBER: i32 = 10_000;

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
    /// Sealed bytes, whose plaintext was hashed already (their ETag and digests are the
    /// plaintext's): nothing is hashed of them.
    sealed: bool,
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
        Ok(Self { content_md5, expected: expect.checksums, set, trailer_names: Vec::new(), trailers: None, sealed: false })
    }

    /// The check of sealed bytes: nothing declared, nothing hashed.
    pub(crate) fn of_sealed() -> Self {
        Self { content_md5: None, expected: Checksums::default(), set: ChecksumSet::default(), trailer_names: Vec::new(), trailers: None, sealed: true }
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
        if self.sealed { BodyHasher::new(self.set).without_sha256().without_md5() } else { BodyHasher::new(self.set) }
    }

    /// A hasher computing every digest this check needs, MD5 only if declared (a body
    /// whose ETag another store computes).
    pub fn hasher_for_forwarding(&self) -> BodyHasher {
        let hasher = self.hasher();
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

/// The conditional headers of a read.
#[derive(Clone, Copy, Default)]
pub struct ReadConditions<'a> {
    /// `If-Match`: the object must have this ETag (or exist, for `*`), else 412.
    pub if_match: Option<&'a ETagCondition>,
    /// `If-None-Match`: the object must not have this ETag, else 304 (412 for a copy source).
    pub if_none_match: Option<&'a ETagCondition>,
    /// `If-Modified-Since` (whole seconds): else 304, unless `If-None-Match` was given.
    pub if_modified_since: Option<&'a Timestamp>,
    /// `If-Unmodified-Since` (whole seconds): else 412, unless `If-Match` was given.
    pub if_unmodified_since: Option<&'a Timestamp>,
}

/// What a GetObject or HeadObject asks of its key: conditions, range or part, checksums.
pub struct ReadRequest<'a> {
    /// The `If-*` headers.
    pub conditions: ReadConditions<'a>,
    /// `Range`: the bytes asked for (none: the whole object).
    pub range: Option<&'a s3s::dto::Range>,
    /// `partNumber`: one part of a multipart object (part 1 of any other is all of it).
    pub part_number: Option<i32>,
    /// `x-amz-checksum-mode: ENABLED` asks for the stored checksums of a whole object.
    pub checksum_mode: Option<&'a s3s::dto::ChecksumMode>,
    /// Opens the data key of a sealed object (none: a sealed object is refused).
    pub keys: Option<&'a dyn super::sealed::OpenKey>,
}

impl ReadRequest<'static> {
    /// The whole object, unconditionally, without keys: what the gateway's own checks of
    /// what a store holds at a key ask.
    #[must_use]
    pub fn whole() -> Self {
        Self { conditions: ReadConditions::default(), range: None, part_number: None, checksum_mode: None, keys: None }
    }
}

/// What a GetObject or HeadObject answers about the object read (from the index, or from
/// the upstream's headers).
pub struct ObjectRead {
    /// Bytes answered (the range's or part's length, else the object's size).
    pub content_length: Option<i64>,
    /// `bytes first-last/size` when a range or part was selected.
    pub content_range: Option<String>,
    /// The object's ETag, unquoted.
    pub etag: String,
    /// When the object was written (HTTP dates: whole seconds).
    pub last_modified: Option<Timestamp>,
    /// Content headers and user metadata stored with the object.
    pub attrs: crate::meta::ObjectAttrs,
    /// The number of parts of a multipart object, when a part was asked for.
    pub parts_count: Option<i32>,
    /// How many tags the object has (`x-amz-tagging-count`; none when it has none).
    pub tag_count: Option<i32>,
    /// Checksums answered (only for a whole object asked with checksum mode).
    pub checksums: Checksums,
    /// `x-amz-checksum-type` of `checksums`, when there are some.
    pub checksum_type: Option<String>,
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

/// A fresh name for a blob (or an upload) of an engine's naming: 128 random bits, lower-case hex.
#[must_use]
pub fn new_blob_id() -> String {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).expect("the OS random source is available");
    hex_simd::encode_to_string(b, hex_simd::AsciiCase::Lower)
}

#[cfg(test)]
mod tests {
    use super::*;

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
}

//! Listings: ListObjects (v1), ListObjectsV2, ListObjectVersions, answered from pages of
//! keys a backend's [`PageSource`] produces. A delimiter folds a subtree into one
//! CommonPrefix; continuation tokens and markers are keys of the client's bucket, so
//! they mean the same whatever a backend stores underneath.

use crate::backend::Error;
use crate::backend::index::Index;
use crate::backend::s3util::{etag, owner, timestamp, uri_encode};
use crate::meta::ObjectRecord;

use s3s::dto::*;
use s3s::{S3Request, S3Response};

const MAX_KEYS: i32 = 1000;

/// One page of a listing.
pub(crate) struct Page {
    pub objects: Vec<(String, ObjectRecord)>,
    pub prefixes: Vec<String>,
    pub truncated: bool,
    /// The last key or common prefix returned: where the next page starts after.
    pub last: Option<String>,
}

impl Page {
    pub fn empty() -> Self {
        Self { objects: Vec::new(), prefixes: Vec::new(), truncated: false, last: None }
    }
}

/// Where a backend's listings come from.
pub(crate) trait PageSource {
    fn index(&self) -> &Index;

    /// Up to `max` keys and common prefixes of `bucket` under `prefix`, strictly after
    /// `after`, folding keys at `delimiter`. Only the size, ETag and time of each record
    /// are used.
    async fn page(&self, bucket: &str, prefix: &str, delimiter: Option<&str>, after: Option<&str>, max: usize) -> Result<Page, Error>;
}

/// The common prefix `key` folds into under `prefix` and `delimiter`, if any.
pub(crate) fn folded(key: &str, prefix: &str, delimiter: Option<&str>) -> Option<String> {
    let d = delimiter?;
    key.get(prefix.len()..)?.find(d).map(|pos| key[..prefix.len() + pos + d.len()].to_owned())
}

struct Encoder(bool);

impl Encoder {
    fn new(t: Option<&EncodingType>) -> Result<Self, Error> {
        match t.map(EncodingType::as_str) {
            None => Ok(Self(false)),
            Some(EncodingType::URL) => Ok(Self(true)),
            Some(_) => Err(Error::InvalidArgument("Invalid Encoding Method specified in Request".into())),
        }
    }
    fn enc(&self, s: String) -> String {
        if self.0 { uri_encode(&s, true) } else { s }
    }
    fn opt(&self, s: Option<String>) -> Option<String> {
        s.map(|s| self.enc(s))
    }
}

fn max_keys(m: Option<i32>) -> Result<usize, Error> {
    match m {
        Some(m) if m < 0 => Err(Error::InvalidArgument("max-keys must be non-negative".into())),
        Some(m) => Ok(usize::try_from(m.min(MAX_KEYS)).unwrap_or(0)),
        None => Ok(MAX_KEYS as usize),
    }
}

/// rclone sends `delimiter=` on recursive listings: empty means none.
fn non_empty(s: Option<&String>) -> Option<&str> {
    s.map(String::as_str).filter(|s| !s.is_empty())
}

fn common_prefixes(enc: &Encoder, prefixes: Vec<String>) -> Option<Vec<CommonPrefix>> {
    (!prefixes.is_empty()).then(|| prefixes.into_iter().map(|p| CommonPrefix { prefix: Some(enc.enc(p)) }).collect())
}

fn object_entry(enc: &Encoder, key: String, rec: &ObjectRecord, owner: Option<&Owner>) -> Object {
    Object {
        key: Some(enc.enc(key)),
        e_tag: Some(etag(&rec.etag)),
        last_modified: Some(timestamp(rec.last_modified_ns)),
        size: Some(i64::try_from(rec.size).unwrap_or(i64::MAX)),
        storage_class: Some(ObjectStorageClass::from_static(ObjectStorageClass::STANDARD)),
        owner: owner.cloned(),
        ..Default::default()
    }
}

pub(crate) async fn list_objects(b: &impl PageSource, req: S3Request<ListObjectsInput>) -> Result<S3Response<ListObjectsOutput>, Error> {
    let input = req.input;
    let enc = Encoder::new(input.encoding_type.as_ref())?;
    let prefix = input.prefix.clone().unwrap_or_default();
    let delimiter = non_empty(input.delimiter.as_ref());
    let max = max_keys(input.max_keys)?;
    let page = b.page(&input.bucket, &prefix, delimiter, non_empty(input.marker.as_ref()), max).await?;
    let bucket = b.index().bucket(&input.bucket)?;
    let own = owner(&bucket.tenant);
    let contents: Vec<Object> = page.objects.into_iter().map(|(k, r)| object_entry(&enc, k, &r, Some(&own))).collect();
    Ok(S3Response::new(ListObjectsOutput {
        name: Some(input.bucket),
        prefix: Some(enc.enc(prefix)),
        delimiter: enc.opt(delimiter.map(str::to_owned)),
        marker: Some(enc.enc(input.marker.unwrap_or_default())),
        next_marker: if page.truncated { enc.opt(page.last) } else { None },
        max_keys: Some(i32::try_from(max).unwrap_or(MAX_KEYS)),
        is_truncated: Some(page.truncated),
        contents: (!contents.is_empty()).then_some(contents),
        common_prefixes: common_prefixes(&enc, page.prefixes),
        encoding_type: input.encoding_type,
        ..Default::default()
    }))
}

fn encode_token(last: &str) -> String {
    base64_simd::URL_SAFE_NO_PAD.encode_to_string(last.as_bytes())
}

fn decode_token(token: &str) -> Result<String, Error> {
    base64_simd::URL_SAFE_NO_PAD
        .decode_to_vec(token)
        .ok()
        .and_then(|v| String::from_utf8(v).ok())
        .ok_or_else(|| Error::InvalidArgument("The continuation token provided is incorrect".into()))
}

pub(crate) async fn list_objects_v2(b: &impl PageSource, req: S3Request<ListObjectsV2Input>) -> Result<S3Response<ListObjectsV2Output>, Error> {
    let input = req.input;
    let enc = Encoder::new(input.encoding_type.as_ref())?;
    let prefix = input.prefix.clone().unwrap_or_default();
    let delimiter = non_empty(input.delimiter.as_ref());
    let max = max_keys(input.max_keys)?;
    let after = match input.continuation_token.as_deref() {
        Some(t) => Some(decode_token(t)?),
        None => input.start_after.clone().filter(|s| !s.is_empty()),
    };
    let page = b.page(&input.bucket, &prefix, delimiter, after.as_deref(), max).await?;
    let own = if input.fetch_owner == Some(true) { Some(owner(&b.index().bucket(&input.bucket)?.tenant)) } else { None };
    let key_count = page.objects.len() + page.prefixes.len();
    let contents: Vec<Object> = page.objects.into_iter().map(|(k, r)| object_entry(&enc, k, &r, own.as_ref())).collect();
    Ok(S3Response::new(ListObjectsV2Output {
        name: Some(input.bucket),
        prefix: Some(enc.enc(prefix)),
        delimiter: enc.opt(delimiter.map(str::to_owned)),
        start_after: enc.opt(input.start_after),
        continuation_token: input.continuation_token,
        next_continuation_token: if page.truncated { page.last.as_deref().map(encode_token) } else { None },
        key_count: Some(i32::try_from(key_count).unwrap_or(MAX_KEYS)),
        max_keys: Some(i32::try_from(max).unwrap_or(MAX_KEYS)),
        is_truncated: Some(page.truncated),
        contents: (!contents.is_empty()).then_some(contents),
        common_prefixes: common_prefixes(&enc, page.prefixes),
        encoding_type: input.encoding_type,
        ..Default::default()
    }))
}

/// Buckets are unversioned: every current object is listed as version `null`.
pub(crate) async fn list_object_versions(b: &impl PageSource, req: S3Request<ListObjectVersionsInput>) -> Result<S3Response<ListObjectVersionsOutput>, Error> {
    let input = req.input;
    let enc = Encoder::new(input.encoding_type.as_ref())?;
    let prefix = input.prefix.clone().unwrap_or_default();
    let delimiter = non_empty(input.delimiter.as_ref());
    let max = max_keys(input.max_keys)?;
    let page = b.page(&input.bucket, &prefix, delimiter, non_empty(input.key_marker.as_ref()), max).await?;
    let own = owner(&b.index().bucket(&input.bucket)?.tenant);
    let versions: Vec<ObjectVersion> = page
        .objects
        .into_iter()
        .map(|(k, r)| ObjectVersion {
            key: Some(enc.enc(k)),
            version_id: Some("null".into()),
            is_latest: Some(true),
            e_tag: Some(etag(&r.etag)),
            last_modified: Some(timestamp(r.last_modified_ns)),
            size: Some(i64::try_from(r.size).unwrap_or(i64::MAX)),
            storage_class: Some(ObjectVersionStorageClass::from_static(ObjectVersionStorageClass::STANDARD)),
            owner: Some(own.clone()),
            ..Default::default()
        })
        .collect();
    Ok(S3Response::new(ListObjectVersionsOutput {
        name: Some(input.bucket),
        prefix: Some(enc.enc(prefix)),
        delimiter: enc.opt(delimiter.map(str::to_owned)),
        key_marker: Some(enc.enc(input.key_marker.unwrap_or_default())),
        version_id_marker: input.version_id_marker,
        next_key_marker: if page.truncated { enc.opt(page.last) } else { None },
        next_version_id_marker: page.truncated.then(|| "null".to_owned()),
        max_keys: Some(i32::try_from(max).unwrap_or(MAX_KEYS)),
        is_truncated: Some(page.truncated),
        versions: (!versions.is_empty()).then_some(versions),
        common_prefixes: common_prefixes(&enc, page.prefixes),
        encoding_type: input.encoding_type,
        ..Default::default()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip() {
        let t = encode_token("dir/key with space");
        assert_eq!(decode_token(&t).unwrap(), "dir/key with space");
        assert!(decode_token("!!!").is_err());
    }
}

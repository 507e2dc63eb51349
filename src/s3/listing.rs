//! Listings: ListObjects (v1), ListObjectsV2, ListObjectVersions, answered from pages of
//! keys an engine produces ([`crate::backend::Backend::page`]). A delimiter folds a subtree
//! into one CommonPrefix; continuation tokens and markers are keys of the client's bucket,
//! so they mean the same whatever an engine stores underneath. In a bucket with topics,
//! only the keys and common prefixes the caller may read are shown.

use super::Gateway;
use crate::auth::Principal;
use crate::backend::Error;
use crate::backend::listing::folded;
use crate::backend::s3util::{etag, owner, timestamp, uri_encode};
use crate::meta::{NULL_VERSION, ObjectRecord, ObjectSummary, VersionRecord};
use crate::policy::topics::{self, TopicOp};

use std::sync::Arc;

use s3s::dto::*;
use s3s::{S3Request, S3Response};

const MAX_KEYS: i32 = 1000;

/// Which listed keys a caller may see under a bucket's topics.
struct ListingFilter {
    rules: Arc<Vec<crate::meta::TopicRule>>,
    tenant: String,
    principal: Principal,
}

impl ListingFilter {
    /// The filter of `bucket` for the caller of `req`, if the bucket has topics.
    fn of<T>(g: &Gateway, req: &S3Request<T>, bucket: &str) -> Option<Self> {
        let rules = g.topics.of(bucket);
        if rules.is_empty() {
            return None;
        }
        let tenant = g.store.bucket_get(bucket).ok().flatten()?.tenant;
        Some(Self { rules, tenant, principal: Principal::of(req) })
    }

    fn readable(&self, key: &str) -> bool {
        topics::locate(&self.rules, key).is_none_or(|t| topics::decide(&self.principal, &self.tenant, &t, TopicOp::Read).is_ok())
    }

    /// A common prefix is shown if something under it may be read: a prefix inside an
    /// owner's space stands for that owner's keys.
    fn readable_prefix(&self, prefix: &str) -> bool {
        match topics::locate(&self.rules, prefix) {
            Some(t) if !t.owner.is_empty() => self.readable(&format!("{}/{}/-", t.rule.topic, t.owner)),
            _ => true,
        }
    }

    fn keep<T>(&self, items: &mut Option<Vec<T>>, key: impl Fn(&T) -> Option<&str>, prefix: bool) {
        if let Some(v) = items {
            v.retain(|item| key(item).is_none_or(|k| if prefix { self.readable_prefix(k) } else { self.readable(k) }));
        }
    }
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

fn object_entry(enc: &Encoder, key: String, rec: &ObjectSummary, owner: Option<&Owner>) -> Object {
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

pub(super) async fn list_objects(g: &Gateway, req: S3Request<ListObjectsInput>) -> Result<S3Response<ListObjectsOutput>, Error> {
    let filter = ListingFilter::of(g, &req, &req.input.bucket);
    let b = g.backends.of(&req.input.bucket);
    let input = req.input;
    let enc = Encoder::new(input.encoding_type.as_ref())?;
    let prefix = input.prefix.clone().unwrap_or_default();
    let delimiter = non_empty(input.delimiter.as_ref());
    let max = max_keys(input.max_keys)?;
    let page = b.page::<ObjectSummary>(&input.bucket, &prefix, delimiter, non_empty(input.marker.as_ref()), max, g.control.objects()).await?;
    let bucket = b.index().bucket(&input.bucket)?;
    let own = owner(&bucket.tenant);
    let contents: Vec<Object> = page.objects.into_iter().map(|(k, r)| object_entry(&enc, k, &r, Some(&own))).collect();
    let mut out = ListObjectsOutput {
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
    };
    if let Some(f) = filter {
        f.keep(&mut out.contents, |o| o.key.as_deref(), false);
        f.keep(&mut out.common_prefixes, |p| p.prefix.as_deref(), true);
    }
    Ok(S3Response::new(out))
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

pub(super) async fn list_objects_v2(g: &Gateway, req: S3Request<ListObjectsV2Input>) -> Result<S3Response<ListObjectsV2Output>, Error> {
    let filter = ListingFilter::of(g, &req, &req.input.bucket);
    let b = g.backends.of(&req.input.bucket);
    let input = req.input;
    let enc = Encoder::new(input.encoding_type.as_ref())?;
    let prefix = input.prefix.clone().unwrap_or_default();
    let delimiter = non_empty(input.delimiter.as_ref());
    let max = max_keys(input.max_keys)?;
    let after = match input.continuation_token.as_deref() {
        Some(t) => Some(decode_token(t)?),
        None => input.start_after.clone().filter(|s| !s.is_empty()),
    };
    let page = b.page::<ObjectSummary>(&input.bucket, &prefix, delimiter, after.as_deref(), max, g.control.objects()).await?;
    let own = if input.fetch_owner == Some(true) { Some(owner(&b.index().bucket(&input.bucket)?.tenant)) } else { None };
    let key_count = page.objects.len() + page.prefixes.len();
    let contents: Vec<Object> = page.objects.into_iter().map(|(k, r)| object_entry(&enc, k, &r, own.as_ref())).collect();
    let mut out = ListObjectsV2Output {
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
    };
    if let Some(f) = filter {
        f.keep(&mut out.contents, |o| o.key.as_deref(), false);
        f.keep(&mut out.common_prefixes, |p| p.prefix.as_deref(), true);
        let shown = out.contents.as_ref().map_or(0, Vec::len) + out.common_prefixes.as_ref().map_or(0, Vec::len);
        out.key_count = Some(i32::try_from(shown).unwrap_or(i32::MAX));
    }
    Ok(S3Response::new(out))
}

/// ListObjectVersions. A bucket never versioned lists every current object as version
/// `null`; a versioned bucket's versions and delete markers come from the index.
pub(super) async fn list_object_versions(g: &Gateway, req: S3Request<ListObjectVersionsInput>) -> Result<S3Response<ListObjectVersionsOutput>, Error> {
    let filter = ListingFilter::of(g, &req, &req.input.bucket);
    let b = g.backends.of(&req.input.bucket);
    let input = req.input;
    let enc = Encoder::new(input.encoding_type.as_ref())?;
    let prefix = input.prefix.clone().unwrap_or_default();
    let delimiter = non_empty(input.delimiter.as_ref());
    let max = max_keys(input.max_keys)?;
    let bucket = b.index().bucket(&input.bucket)?;
    if non_empty(input.version_id_marker.as_ref()).is_some() && non_empty(input.key_marker.as_ref()).is_none() {
        // As S3: a version marker means nothing without the key it is a version of.
        return Err(Error::InvalidArgument("A version-id marker cannot be specified without a key marker.".into()));
    }
    let own = owner(&bucket.tenant);
    let page = if bucket.versioning.is_unversioned() {
        let page = b.page::<ObjectRecord>(&input.bucket, &prefix, delimiter, non_empty(input.key_marker.as_ref()), max, g.control.objects()).await?;
        let listed = page.objects.into_iter().map(|(k, r)| (k, VersionRecord::current_null(r), true)).collect();
        VersionsPage { listed, prefixes: page.prefixes, next: page.truncated.then(|| (page.last.unwrap_or_default(), Some(NULL_VERSION.to_owned()))) }
    } else {
        let marker = non_empty(input.key_marker.as_ref()).map(|k| (k, non_empty(input.version_id_marker.as_ref())));
        versions_page(b.index().store.as_ref(), &input.bucket, &prefix, delimiter, marker, max)?
    };
    let (mut versions, mut markers) = (Vec::new(), Vec::new());
    for (key, v, is_latest) in page.listed {
        let last_modified = Some(timestamp(v.last_modified_ns));
        match v.object {
            Some(r) => versions.push(ObjectVersion {
                key: Some(enc.enc(key)),
                version_id: Some(v.version_id),
                is_latest: Some(is_latest),
                e_tag: Some(etag(&r.etag)),
                last_modified,
                size: Some(i64::try_from(r.size).unwrap_or(i64::MAX)),
                storage_class: Some(ObjectVersionStorageClass::from_static(ObjectVersionStorageClass::STANDARD)),
                owner: Some(own.clone()),
                ..Default::default()
            }),
            None => markers.push(DeleteMarkerEntry {
                key: Some(enc.enc(key)),
                version_id: Some(v.version_id),
                is_latest: Some(is_latest),
                last_modified,
                owner: Some(own.clone()),
            }),
        }
    }
    let truncated = page.next.is_some();
    let (next_key, next_version) = page.next.unzip();
    let mut out = ListObjectVersionsOutput {
        name: Some(input.bucket),
        prefix: Some(enc.enc(prefix)),
        delimiter: enc.opt(delimiter.map(str::to_owned)),
        key_marker: Some(enc.enc(input.key_marker.unwrap_or_default())),
        version_id_marker: input.version_id_marker,
        next_key_marker: enc.opt(next_key),
        next_version_id_marker: next_version.flatten(),
        max_keys: Some(i32::try_from(max).unwrap_or(MAX_KEYS)),
        is_truncated: Some(truncated),
        versions: (!versions.is_empty()).then_some(versions),
        delete_markers: (!markers.is_empty()).then_some(markers),
        common_prefixes: common_prefixes(&enc, page.prefixes),
        encoding_type: input.encoding_type,
        ..Default::default()
    };
    if let Some(f) = filter {
        f.keep(&mut out.versions, |v| v.key.as_deref(), false);
        f.keep(&mut out.delete_markers, |m| m.key.as_deref(), false);
        f.keep(&mut out.common_prefixes, |p| p.prefix.as_deref(), true);
    }
    Ok(S3Response::new(out))
}

/// One page of ListObjectVersions: versions (with whether each is its key's latest) and
/// common prefixes in listing order, and where the next page starts (key and version id
/// markers) if the listing is truncated.
struct VersionsPage {
    listed: Vec<(String, VersionRecord, bool)>,
    prefixes: Vec<String>,
    next: Option<(String, Option<String>)>,
}

/// Up to `max` versions and common prefixes of a versioned bucket under `prefix`, after
/// the markers, folding keys at `delimiter`.
fn versions_page(
    store: &dyn crate::meta::Store,
    bucket: &str,
    prefix: &str,
    delimiter: Option<&str>,
    marker: Option<(&str, Option<&str>)>,
    max: usize,
) -> Result<VersionsPage, Error> {
    let mut page = VersionsPage { listed: Vec::new(), prefixes: Vec::new(), next: None };
    // Resuming inside a key: its later versions are older than the marker's, none latest.
    let mut previous_key: Option<String> = marker.filter(|(_, v)| v.is_some()).map(|(k, _)| k.to_owned());
    let marker_key = marker.map(|(k, _)| k);
    for entry in store.version_scan(bucket, prefix, marker) {
        let (key, version) = entry?;
        if let Some(common) = folded(&key, prefix, delimiter) {
            // A common prefix at or before the marker was listed on an earlier page.
            if page.prefixes.last() == Some(&common) || marker_key.is_some_and(|m| common.as_str() <= m) {
                continue;
            }
            if page.listed.len() + page.prefixes.len() == max {
                page.next = Some(last_listed(&page));
                break;
            }
            page.prefixes.push(common);
            previous_key = Some(key);
            continue;
        }
        if page.listed.len() + page.prefixes.len() == max {
            page.next = Some(last_listed(&page));
            break;
        }
        let is_latest = previous_key.as_deref() != Some(key.as_str());
        previous_key = Some(key.clone());
        page.listed.push((key, version, is_latest));
    }
    Ok(page)
}

/// The markers after the last entry of a full page: a key and its version, or a common
/// prefix (no version).
fn last_listed(page: &VersionsPage) -> (String, Option<String>) {
    let last_version = page.listed.last().map(|(k, v, _)| (k.clone(), Some(v.version_id.clone())));
    match (last_version, page.prefixes.last()) {
        (Some(v), Some(p)) if p.as_str() > v.0.as_str() => (p.clone(), None),
        (Some(v), _) => v,
        (None, Some(p)) => (p.clone(), None),
        (None, None) => (String::new(), None),
    }
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

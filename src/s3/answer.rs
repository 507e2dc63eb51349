//! What the gateway answers: the outputs and headers shared by several operations.

use crate::backend::Error;
use crate::backend::s3util::{ObjectRead, etag, parse_http_date, timestamp};

use s3s::dto::*;

/// The `response-*` overrides of a GetObject or HeadObject (presigned downloads set them).
pub(super) struct Overrides {
    content_type: Option<String>,
    content_encoding: Option<String>,
    content_disposition: Option<String>,
    content_language: Option<String>,
    cache_control: Option<String>,
    expires: Option<Timestamp>,
}

/// `Overrides::from(&mut input)`, taking them out of a GetObject or HeadObject input.
macro_rules! overrides_of {
    ($($input:ty),* $(,)?) => {$(
        impl From<&mut $input> for Overrides {
            fn from(input: &mut $input) -> Self {
                Self {
                    content_type: input.response_content_type.take(),
                    content_encoding: input.response_content_encoding.take(),
                    content_disposition: input.response_content_disposition.take(),
                    content_language: input.response_content_language.take(),
                    cache_control: input.response_cache_control.take(),
                    expires: input.response_expires.take(),
                }
            }
        }
    )*};
}
overrides_of!(GetObjectInput, HeadObjectInput);

/// The GetObject and HeadObject answers (s3s types with the same fields).
pub(super) trait ReadOutput {
    /// The answer describing `read`, with the request's `overrides`.
    fn answering(read: ObjectRead, overrides: Overrides) -> Self;
}

macro_rules! read_output_of {
    ($($output:ty),* $(,)?) => {$(
        impl ReadOutput for $output {
            fn answering(read: ObjectRead, o: Overrides) -> Self {
                let (a, c) = (read.attrs, read.checksums);
                Self {
                    content_length: read.content_length,
                    content_range: read.content_range,
                    parts_count: read.parts_count,
                    accept_ranges: Some("bytes".into()),
                    e_tag: Some(etag(&read.etag)),
                    last_modified: read.last_modified,
                    metadata: metadata_map(&a.user_metadata),
                    content_type: o.content_type.or(a.content_type),
                    content_encoding: o.content_encoding.or(a.content_encoding),
                    content_disposition: o.content_disposition.or(a.content_disposition),
                    content_language: o.content_language.or(a.content_language),
                    cache_control: o.cache_control.or(a.cache_control),
                    expires: o.expires.or_else(|| a.expires.as_deref().and_then(parse_http_date)),
                    website_redirect_location: a.website_redirect_location,
                    checksum_crc32: c.crc32,
                    checksum_crc32c: c.crc32c,
                    checksum_crc64nvme: c.crc64nvme,
                    checksum_sha1: c.sha1,
                    checksum_sha256: c.sha256,
                    checksum_type: read.checksum_type.map(ChecksumType::from),
                    ..Default::default()
                }
            }
        }
    )*};
}
read_output_of!(GetObjectOutput, HeadObjectOutput);

fn metadata_map(v: &[(String, String)]) -> Option<s3s::dto::Metadata> {
    (!v.is_empty()).then(|| v.iter().cloned().collect())
}

/// Sends back non-ASCII `x-amz-meta-*` values as the raw UTF-8 the client sent: s3s would
/// send them RFC 2047-encoded, and clients compare them with what they put. (The headers
/// given here replace s3s's.)
pub(super) fn raw_metadata_headers(headers: &mut http::HeaderMap, metadata: &[(String, String)]) {
    for (k, v) in metadata.iter().filter(|(_, v)| !v.is_ascii()) {
        if let (Ok(name), Ok(value)) = (http::HeaderName::from_bytes(format!("x-amz-meta-{k}").as_bytes()), http::HeaderValue::from_bytes(v.as_bytes())) {
            headers.insert(name, value);
        }
    }
}

/// Adds `x-tollgate-proof-id` and `x-tollgate-sha256` for a recorded object version and,
/// when its manifest is a leaf of its tenant's proof log, `x-tollgate-proof-leaf` (its leaf
/// index) and `x-tollgate-tree-size` (the size of the tenant's latest signed tree head, the
/// one `proof get` proves it against; absent until a head covers the leaf).
pub(super) fn proof_headers(headers: &mut http::HeaderMap, rec: &crate::meta::ObjectRecord, store: &dyn crate::meta::Store) {
    if rec.proof_id.is_empty() {
        return;
    }
    if let (Ok(id), Ok(sha)) = (http::HeaderValue::from_str(&rec.proof_id), http::HeaderValue::from_str(&rec.sha256)) {
        headers.insert("x-tollgate-proof-id", id);
        headers.insert("x-tollgate-sha256", sha);
    }
    // A store error only costs the headers, never the answer.
    if let Ok(Some((tenant, leaf))) = store.proof_leaf(&rec.proof_id) {
        headers.insert("x-tollgate-proof-leaf", http::HeaderValue::from(leaf));
        if let Ok(Some(head)) = store.proof_tree_head(&tenant, None)
            && head.tree_size > leaf
        {
            headers.insert("x-tollgate-tree-size", http::HeaderValue::from(head.tree_size));
        }
    }
}

/// `x-amz-tagging-count` on a HEAD answer (s3s's HeadObjectOutput has no field for it).
pub(super) fn tag_count_header(headers: &mut http::HeaderMap, count: Option<i32>) {
    if let Some(n) = count.filter(|n| *n > 0) {
        headers.insert("x-amz-tagging-count", http::HeaderValue::from(n));
    }
}

/// The answer to a CopyObject that made `rec`.
pub(super) fn copied_output(
    rec: &crate::meta::ObjectRecord,
    source_version: Option<&str>,
    store: &dyn crate::meta::Store,
) -> s3s::S3Response<s3s::dto::CopyObjectOutput> {
    let mut headers = http::HeaderMap::new();
    proof_headers(&mut headers, rec, store);
    let c = &rec.checksums;
    let mut output = s3s::dto::CopyObjectOutput {
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
        version_id: answered_version(rec),
        copy_source_version_id: source_version.map(str::to_owned),
        ..Default::default()
    };
    super::sse::answer_sse!(output, rec.sealing.as_ref());
    s3s::S3Response::with_headers(output, headers)
}

/// The answer to a completion that made `rec` (the first time, or repeated).
pub(super) fn completed_output(
    bucket: String,
    key: String,
    rec: &crate::meta::ObjectRecord,
    store: &dyn crate::meta::Store,
) -> s3s::S3Response<s3s::dto::CompleteMultipartUploadOutput> {
    let mut headers = http::HeaderMap::new();
    proof_headers(&mut headers, rec, store);
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
            version_id: answered_version(rec),
            server_side_encryption: super::sse::answer(rec.sealing.as_ref()).server_side_encryption,
            ..Default::default()
        },
        headers,
    )
}

/// The version id an answer names: none for an object of a bucket never versioned.
pub(super) fn answered_version(rec: &crate::meta::ObjectRecord) -> Option<String> {
    Some(rec.version_id.clone()).filter(|v| !v.is_empty())
}

/// What a deletion of one key did, as its answer says it.
#[derive(Debug, Default)]
pub(super) struct Removal {
    /// The version removed, or the delete marker laid.
    pub version_id: Option<String>,
    /// Whether that version is a delete marker.
    pub delete_marker: bool,
}

/// The DeleteObjects answer for each key's outcome (deleted keys left out when quiet).
pub(super) fn delete_objects_output(
    outcomes: impl IntoIterator<Item = (s3s::dto::ObjectIdentifier, Result<Removal, Error>)>,
    quiet: bool,
) -> s3s::dto::DeleteObjectsOutput {
    let mut deleted = Vec::new();
    let mut errors = Vec::new();
    for (obj, r) in outcomes {
        match r {
            Ok(removal) if !quiet => deleted.push(s3s::dto::DeletedObject {
                key: Some(obj.key),
                version_id: obj.version_id,
                delete_marker: removal.delete_marker.then_some(true),
                delete_marker_version_id: removal.version_id.filter(|_| removal.delete_marker),
            }),
            Ok(_) => {}
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::s3::request::delete_request;

    #[test]
    fn delete_answers_list_errors_and_hide_deletions_when_quiet() {
        let id = |k: &str| s3s::dto::ObjectIdentifier { key: k.into(), ..Default::default() };
        let out = delete_objects_output([(id("a"), Ok(Removal::default())), (id("b"), Err(Error::KeyTooLong))], true);
        assert!(out.deleted.is_none());
        assert_eq!(out.errors.unwrap()[0].code.as_deref(), Some("KeyTooLongError"));
        let many = s3s::dto::Delete { objects: (0..1001).map(|i| id(&i.to_string())).collect(), quiet: None };
        assert!(matches!(delete_request(many), Err(Error::MalformedXml(_))));
    }
}

//! Operations answered from the index alone, the same for every backend: buckets (they
//! are the gateway's: tenants own them), object tags, multipart listings, ACLs (tollgate's
//! access model is tenants and topics, not ACLs: the ACL calls answer the owner's
//! FULL_CONTROL grant, which s3cmd and others ask for, and accept only the canned
//! `private` ACL) and the bucket settings tollgate does not store (reads of policy, CORS,
//! lifecycle, encryption, tagging and website settings answer "not configured").

use crate::auth::Principal;
use crate::backend::index::Index;
use crate::backend::s3util::{etag, now_ns, only_null_version, owner, timestamp, validate_tags};
use crate::backend::{BucketSetting, Error};
use crate::meta::{BucketRecord, ObjectRecord, PartRecord};

use s3s::dto::*;
use s3s::{S3Request, S3Response};

/// The most buckets one ListBuckets page holds, and the page size AWS applies when
/// `max-buckets` is absent but another paging parameter is given.
const MAX_BUCKETS: i32 = 10_000;

/// ListBuckets, paged as AWS pages it since 2024: `prefix` filters by name, `max-buckets`
/// (1 to 10,000) bounds a page, and `ContinuationToken` (opaque: the base64 of the last
/// name listed) continues after it. Without any of those every bucket is listed, as
/// before 2024. The bucket region (`bucket-region`, `BucketRegion`) is the gateway's, set
/// by the server, which knows it.
pub(crate) async fn list_buckets(b: &Index, req: S3Request<ListBucketsInput>) -> Result<S3Response<ListBucketsOutput>, Error> {
    let principal = Principal::of(&req);
    let input = &req.input;
    let paged = input.max_buckets.is_some() || input.continuation_token.is_some() || input.prefix.is_some() || input.bucket_region.is_some();
    let max = match input.max_buckets {
        Some(n) if !(1..=MAX_BUCKETS).contains(&n) => return Err(Error::InvalidArgument(format!("max-buckets must be between 1 and {MAX_BUCKETS}"))),
        Some(n) => usize::try_from(n).unwrap_or(0),
        None if paged => usize::try_from(MAX_BUCKETS).unwrap_or(0),
        None => usize::MAX,
    };
    let after = match input.continuation_token.as_deref() {
        None => None,
        Some(t) => Some(
            base64_simd::URL_SAFE_NO_PAD
                .decode_to_vec(t)
                .ok()
                .and_then(|v| String::from_utf8(v).ok())
                .ok_or_else(|| Error::InvalidArgument("The continuation token provided is incorrect".into()))?,
        ),
    };
    let prefix = input.prefix.as_deref().unwrap_or("");
    let mut records: Vec<BucketRecord> = b
        .store
        .bucket_list()?
        .into_iter()
        .filter(|r| principal.sees_tenant(&r.tenant) && r.name.starts_with(prefix) && after.as_ref().is_none_or(|a| r.name > *a))
        .collect();
    records.sort_by(|x, y| x.name.cmp(&y.name));
    let truncated = records.len() > max;
    records.truncate(max);
    let continuation_token = records.last().filter(|_| truncated).map(|r| base64_simd::URL_SAFE_NO_PAD.encode_to_string(r.name.as_bytes()));
    let buckets = records.into_iter().map(|r| Bucket { name: Some(r.name), creation_date: Some(timestamp(r.created_ns)), bucket_region: None }).collect();
    Ok(S3Response::new(ListBucketsOutput { buckets: Some(buckets), owner: Some(owner(&principal.tenant)), continuation_token, prefix: input.prefix.clone() }))
}

pub(crate) async fn create_bucket(b: &Index, req: S3Request<CreateBucketInput>) -> Result<S3Response<CreateBucketOutput>, Error> {
    let principal = Principal::of(&req);
    let record = BucketRecord {
        name: req.input.bucket.clone(),
        created_ns: now_ns(),
        tenant: principal.tenant.clone(),
        objects: 0,
        bytes: 0,
        visibility: crate::meta::Visibility::Private,
        quota: crate::meta::Quota::default(),
        origin: principal.tenant.clone(),
    };
    let audit = crate::audit::entry(&req, "CreateBucket", &record.name, "", 0);
    if let Some(existing) = b.store.bucket_create(&record, Some(&audit))? {
        return Err(if existing.tenant == principal.tenant { Error::BucketAlreadyOwnedByYou } else { Error::BucketAlreadyExists });
    }
    b.sync().await?;
    Ok(S3Response::new(CreateBucketOutput { location: Some(format!("/{}", req.input.bucket)) }))
}

pub(crate) async fn delete_bucket(b: &Index, req: S3Request<DeleteBucketInput>) -> Result<S3Response<DeleteBucketOutput>, Error> {
    let audit = crate::audit::entry(&req, "DeleteBucket", &req.input.bucket, "", 0);
    b.store.bucket_delete(&req.input.bucket, Some(&audit))?;
    b.sync().await?;
    Ok(S3Response::new(DeleteBucketOutput {}))
}

pub(crate) async fn head_bucket(b: &Index, req: S3Request<HeadBucketInput>) -> Result<S3Response<HeadBucketOutput>, Error> {
    b.bucket(&req.input.bucket)?;
    Ok(S3Response::new(HeadBucketOutput { bucket_region: Some("us-east-1".into()), ..Default::default() }))
}

pub(crate) async fn get_bucket_location(b: &Index, req: S3Request<GetBucketLocationInput>) -> Result<S3Response<GetBucketLocationOutput>, Error> {
    b.bucket(&req.input.bucket)?;
    // us-east-1 is reported as an empty LocationConstraint, as AWS does.
    Ok(S3Response::new(GetBucketLocationOutput::default()))
}

pub(crate) async fn get_bucket_versioning(b: &Index, req: S3Request<GetBucketVersioningInput>) -> Result<S3Response<GetBucketVersioningOutput>, Error> {
    b.bucket(&req.input.bucket)?;
    // Buckets are never versioned: an empty configuration, as for a bucket that never was.
    Ok(S3Response::new(GetBucketVersioningOutput::default()))
}
pub(crate) async fn get_object_tagging(b: &Index, req: S3Request<GetObjectTaggingInput>) -> Result<S3Response<GetObjectTaggingOutput>, Error> {
    let rec = b.object(&req.input.bucket, &req.input.key)?;
    let tag_set = rec.tags.into_iter().map(|(k, v)| Tag { key: Some(k), value: Some(v) }).collect();
    Ok(S3Response::new(GetObjectTaggingOutput { tag_set, version_id: None }))
}

pub(crate) async fn put_object_tagging(b: &Index, req: S3Request<PutObjectTaggingInput>) -> Result<S3Response<PutObjectTaggingOutput>, Error> {
    let audit = crate::audit::entry(&req, "PutObjectTagging", &req.input.bucket, &req.input.key, 0);
    let input = req.input;
    let tags: Vec<(String, String)> = input.tagging.tag_set.into_iter().map(|t| (t.key.unwrap_or_default(), t.value.unwrap_or_default())).collect();
    validate_tags(&tags)?;
    set_tags(b, &input.bucket, &input.key, tags, &audit).await?;
    Ok(S3Response::new(PutObjectTaggingOutput::default()))
}

pub(crate) async fn delete_object_tagging(b: &Index, req: S3Request<DeleteObjectTaggingInput>) -> Result<S3Response<DeleteObjectTaggingOutput>, Error> {
    let audit = crate::audit::entry(&req, "DeleteObjectTagging", &req.input.bucket, &req.input.key, 0);
    set_tags(b, &req.input.bucket, &req.input.key, Vec::new(), &audit).await?;
    Ok(S3Response::with_status(DeleteObjectTaggingOutput::default(), http::StatusCode::NO_CONTENT))
}

pub(crate) async fn set_tags(b: &Index, bucket: &str, key: &str, tags: Vec<(String, String)>, audit: &crate::meta::AuditEntry) -> Result<(), Error> {
    if !b.store.object_set_tags(bucket, key, tags, Some(audit))? {
        b.bucket(bucket)?;
        return Err(Error::NoSuchKey);
    }
    b.sync().await
}

fn owner_acl(tenant: &str) -> (Owner, Vec<Grant>) {
    let own = owner(tenant);
    let grant = Grant {
        grantee: Some(Grantee {
            type_: Type::from_static(Type::CANONICAL_USER),
            id: own.id.clone(),
            display_name: own.display_name.clone(),
            email_address: None,
            uri: None,
        }),
        permission: Some(Permission::from_static(Permission::FULL_CONTROL)),
    };
    (own, vec![grant])
}

pub(crate) async fn get_bucket_acl(b: &Index, req: S3Request<GetBucketAclInput>) -> Result<S3Response<GetBucketAclOutput>, Error> {
    let bucket = b.bucket(&req.input.bucket)?;
    let (own, grants) = owner_acl(&bucket.tenant);
    Ok(S3Response::new(GetBucketAclOutput { owner: Some(own), grants: Some(grants) }))
}

pub(crate) async fn get_object_acl(b: &Index, req: S3Request<GetObjectAclInput>) -> Result<S3Response<GetObjectAclOutput>, Error> {
    b.object(&req.input.bucket, &req.input.key)?;
    let bucket = b.bucket(&req.input.bucket)?;
    let (own, grants) = owner_acl(&bucket.tenant);
    Ok(S3Response::new(GetObjectAclOutput { owner: Some(own), grants: Some(grants), ..Default::default() }))
}

fn only_private(acl: Option<&str>) -> Result<(), Error> {
    match acl {
        None | Some("private") => Ok(()),
        Some(_) => Err(Error::NotImplemented("only the canned ACL 'private' is supported; bucket visibility is set through the admin API")),
    }
}

pub(crate) async fn put_object_acl(b: &Index, req: S3Request<PutObjectAclInput>) -> Result<S3Response<PutObjectAclOutput>, Error> {
    b.object(&req.input.bucket, &req.input.key)?;
    only_private(req.input.acl.as_ref().map(ObjectCannedACL::as_str))?;
    Ok(S3Response::new(PutObjectAclOutput::default()))
}

pub(crate) async fn put_bucket_acl(b: &Index, req: S3Request<PutBucketAclInput>) -> Result<S3Response<PutBucketAclOutput>, Error> {
    b.bucket(&req.input.bucket)?;
    only_private(req.input.acl.as_ref().map(BucketCannedACL::as_str))?;
    Ok(S3Response::new(PutBucketAclOutput::default()))
}

/// Answers a read of a bucket setting tollgate never stores: the bucket must exist, and
/// then the setting is absent, as on an AWS bucket where it was never configured.
fn unconfigured<T>(b: &Index, bucket: &str, setting: BucketSetting) -> Result<T, Error> {
    b.bucket(bucket)?;
    Err(Error::Unconfigured(setting))
}

pub(crate) async fn get_bucket_policy(b: &Index, req: S3Request<GetBucketPolicyInput>) -> Result<S3Response<GetBucketPolicyOutput>, Error> {
    unconfigured(b, &req.input.bucket, BucketSetting::Policy)
}

pub(crate) async fn get_bucket_cors(b: &Index, req: S3Request<GetBucketCorsInput>) -> Result<S3Response<GetBucketCorsOutput>, Error> {
    unconfigured(b, &req.input.bucket, BucketSetting::Cors)
}

pub(crate) async fn get_bucket_lifecycle_configuration(
    b: &Index,
    req: S3Request<GetBucketLifecycleConfigurationInput>,
) -> Result<S3Response<GetBucketLifecycleConfigurationOutput>, Error> {
    unconfigured(b, &req.input.bucket, BucketSetting::Lifecycle)
}

pub(crate) async fn get_bucket_encryption(b: &Index, req: S3Request<GetBucketEncryptionInput>) -> Result<S3Response<GetBucketEncryptionOutput>, Error> {
    unconfigured(b, &req.input.bucket, BucketSetting::Encryption)
}

pub(crate) async fn get_bucket_tagging(b: &Index, req: S3Request<GetBucketTaggingInput>) -> Result<S3Response<GetBucketTaggingOutput>, Error> {
    unconfigured(b, &req.input.bucket, BucketSetting::Tagging)
}

pub(crate) async fn get_bucket_website(b: &Index, req: S3Request<GetBucketWebsiteInput>) -> Result<S3Response<GetBucketWebsiteOutput>, Error> {
    unconfigured(b, &req.input.bucket, BucketSetting::Website)
}
pub(crate) async fn list_parts(b: &Index, req: S3Request<ListPartsInput>) -> Result<S3Response<ListPartsOutput>, Error> {
    let input = req.input;
    let up = b.upload(&input.bucket, &input.key, &input.upload_id)?;
    let max = usize::try_from(input.max_parts.unwrap_or(1000).clamp(0, 1000)).unwrap_or(1000);
    let marker = input.part_number_marker.unwrap_or(0);
    let after: Vec<PartRecord> = b.store.part_list(&input.upload_id)?.into_iter().filter(|p| i64::from(p.number) > i64::from(marker)).collect();
    let truncated = after.len() > max;
    let page: Vec<Part> = after
        .into_iter()
        .take(max)
        .map(|p| Part {
            part_number: Some(i32::try_from(p.number).unwrap_or(i32::MAX)),
            e_tag: Some(etag(&p.etag)),
            size: Some(i64::try_from(p.size).unwrap_or(i64::MAX)),
            last_modified: Some(timestamp(p.last_modified_ns)),
            checksum_crc32: p.checksums.crc32,
            checksum_crc32c: p.checksums.crc32c,
            checksum_crc64nvme: p.checksums.crc64nvme,
            checksum_sha1: p.checksums.sha1,
            checksum_sha256: p.checksums.sha256,
        })
        .collect();
    let own = owner(&b.bucket(&input.bucket)?.tenant);
    Ok(S3Response::new(ListPartsOutput {
        bucket: Some(input.bucket),
        key: Some(input.key),
        upload_id: Some(input.upload_id),
        part_number_marker: Some(marker),
        next_part_number_marker: page.last().and_then(|p| p.part_number).filter(|_| truncated),
        max_parts: Some(i32::try_from(max).unwrap_or(1000)),
        is_truncated: Some(truncated),
        parts: Some(page),
        owner: Some(own.clone()),
        initiator: Some(Initiator { id: own.id.clone(), display_name: own.display_name }),
        storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
        checksum_algorithm: up.checksum_algorithm.map(ChecksumAlgorithm::from),
        checksum_type: up.checksum_type.map(ChecksumType::from),
        ..Default::default()
    }))
}

pub(crate) async fn get_object_attributes(b: &Index, req: S3Request<GetObjectAttributesInput>) -> Result<S3Response<GetObjectAttributesOutput>, Error> {
    let input = req.input;
    let wanted = WantedAttributes::of(&input)?;
    only_null_version(input.version_id.as_deref())?;
    let rec = b.object(&input.bucket, &input.key)?;
    Ok(S3Response::new(object_attributes(&rec, &wanted, &input)))
}

/// The attributes a GetObjectAttributes asks for (`x-amz-object-attributes`, one header
/// or several, each a comma-separated list).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WantedAttributes {
    pub etag: bool,
    pub checksum: bool,
    pub object_parts: bool,
    pub storage_class: bool,
    pub object_size: bool,
}

impl WantedAttributes {
    pub(crate) fn of(input: &GetObjectAttributesInput) -> Result<Self, Error> {
        let mut w = Self::default();
        for name in input.object_attributes.iter().flat_map(|a| a.as_str().split(',')).map(str::trim).filter(|n| !n.is_empty()) {
            match name {
                ObjectAttributes::ETAG => w.etag = true,
                ObjectAttributes::CHECKSUM => w.checksum = true,
                ObjectAttributes::OBJECT_PARTS => w.object_parts = true,
                ObjectAttributes::STORAGE_CLASS => w.storage_class = true,
                ObjectAttributes::OBJECT_SIZE => w.object_size = true,
                _ => return Err(Error::InvalidArgument("Invalid attribute name specified.".into())),
            }
        }
        if w == Self::default() {
            return Err(Error::InvalidArgument(
                "The x-amz-object-attributes header specifying the attributes to be retrieved is either missing or empty".into(),
            ));
        }
        Ok(w)
    }
}

/// The GetObjectAttributes answer for an object's index record. A composite checksum is
/// given without its `-{parts}` (the part count is `TotalPartsCount`); parts are listed
/// (paged by `max-parts` / `part-number-marker`) only for an object with a checksum, as
/// S3 does for general purpose buckets.
pub(crate) fn object_attributes(rec: &ObjectRecord, wanted: &WantedAttributes, input: &GetObjectAttributesInput) -> GetObjectAttributesOutput {
    let checksum = (wanted.checksum && !rec.checksums.is_empty()).then(|| {
        let bare = |v: &Option<String>| {
            v.as_deref().map(|v| if rec.checksum_type.as_deref() == Some("COMPOSITE") { v.rsplit_once('-').map_or(v, |(b, _)| b) } else { v }.to_owned())
        };
        Checksum {
            checksum_crc32: bare(&rec.checksums.crc32),
            checksum_crc32c: bare(&rec.checksums.crc32c),
            checksum_crc64nvme: bare(&rec.checksums.crc64nvme),
            checksum_sha1: bare(&rec.checksums.sha1),
            checksum_sha256: bare(&rec.checksums.sha256),
            checksum_type: Some(ChecksumType::from(rec.checksum_type.clone().unwrap_or_else(|| crate::proof::combine::FULL_OBJECT.to_owned()))),
        }
    });
    let object_parts = (wanted.object_parts && rec.multipart).then(|| object_parts(rec, input));
    GetObjectAttributesOutput {
        e_tag: wanted.etag.then(|| etag(&rec.etag)),
        last_modified: Some(timestamp(rec.last_modified_ns)),
        object_size: wanted.object_size.then(|| i64::try_from(rec.size).unwrap_or(i64::MAX)),
        storage_class: wanted.storage_class.then(|| StorageClass::from_static(StorageClass::STANDARD)),
        checksum,
        object_parts,
        ..Default::default()
    }
}

fn object_parts(rec: &ObjectRecord, input: &GetObjectAttributesInput) -> GetObjectAttributesParts {
    // Records older than `parts` know their parts' sizes from their segments (local disk),
    // or only their count, from the ETag's `-{parts}`.
    let parts: Vec<crate::meta::ObjectPartRecord> = if rec.parts.is_empty() {
        let numbered = (1u32..).zip(&rec.segments);
        numbered.map(|(number, s)| crate::meta::ObjectPartRecord { number, size: s.size, checksums: crate::meta::Checksums::default() }).collect()
    } else {
        rec.parts.clone()
    };
    let total = if parts.is_empty() { rec.etag.rsplit_once('-').and_then(|(_, n)| n.parse().ok()).unwrap_or(0) } else { parts.len() };
    let max = usize::try_from(input.max_parts.unwrap_or(1000).clamp(0, 1000)).unwrap_or(1000);
    let marker = input.part_number_marker.unwrap_or(0);
    let mut page = Vec::new();
    let mut truncated = false;
    if !rec.checksums.is_empty() {
        let after: Vec<_> = parts.into_iter().filter(|p| i64::from(p.number) > i64::from(marker)).collect();
        truncated = after.len() > max;
        page = after
            .into_iter()
            .take(max)
            .map(|p| ObjectPart {
                part_number: Some(i32::try_from(p.number).unwrap_or(i32::MAX)),
                size: Some(i64::try_from(p.size).unwrap_or(i64::MAX)),
                checksum_crc32: p.checksums.crc32,
                checksum_crc32c: p.checksums.crc32c,
                checksum_crc64nvme: p.checksums.crc64nvme,
                checksum_sha1: p.checksums.sha1,
                checksum_sha256: p.checksums.sha256,
            })
            .collect();
    }
    GetObjectAttributesParts {
        total_parts_count: Some(i32::try_from(total).unwrap_or(i32::MAX)),
        part_number_marker: Some(marker),
        next_part_number_marker: page.last().and_then(|p| p.part_number).filter(|_| truncated),
        max_parts: Some(i32::try_from(max).unwrap_or(1000)),
        is_truncated: Some(truncated),
        parts: (!page.is_empty()).then_some(page),
    }
}

pub(crate) async fn list_multipart_uploads(b: &Index, req: S3Request<ListMultipartUploadsInput>) -> Result<S3Response<ListMultipartUploadsOutput>, Error> {
    let input = req.input;
    let bucket = b.bucket(&input.bucket)?;
    let own = owner(&bucket.tenant);
    let prefix = input.prefix.clone().unwrap_or_default();
    let delimiter = input.delimiter.clone().filter(|d| !d.is_empty());
    let max = usize::try_from(input.max_uploads.unwrap_or(1000).clamp(0, 1000)).unwrap_or(1000);
    let key_marker = input.key_marker.clone().unwrap_or_default();
    let id_marker = input.upload_id_marker.clone().unwrap_or_default();
    let mut uploads = Vec::new();
    let mut prefixes: Vec<String> = Vec::new();
    let mut truncated = false;
    let mut next = (None, None);
    for (id, u) in b.store.upload_list(&input.bucket)? {
        if !u.key.starts_with(&prefix) {
            continue;
        }
        let after_marker = u.key > key_marker || (u.key == key_marker && !id_marker.is_empty() && id > id_marker);
        if !key_marker.is_empty() && !after_marker {
            continue;
        }
        if let Some(d) = &delimiter
            && let Some(pos) = u.key[prefix.len()..].find(d.as_str())
        {
            let cp = u.key[..prefix.len() + pos + d.len()].to_owned();
            if prefixes.last() != Some(&cp) {
                if uploads.len() + prefixes.len() == max {
                    truncated = true;
                    break;
                }
                prefixes.push(cp);
            }
            continue;
        }
        if uploads.len() + prefixes.len() == max {
            truncated = true;
            break;
        }
        next = (Some(u.key.clone()), Some(id.clone()));
        uploads.push(MultipartUpload {
            key: Some(u.key),
            upload_id: Some(id),
            initiated: Some(timestamp(u.initiated_ns)),
            owner: Some(own.clone()),
            initiator: Some(Initiator { id: own.id.clone(), display_name: own.display_name.clone() }),
            storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
            checksum_algorithm: u.checksum_algorithm.map(ChecksumAlgorithm::from),
            ..Default::default()
        });
    }
    Ok(S3Response::new(ListMultipartUploadsOutput {
        bucket: Some(input.bucket),
        prefix: Some(prefix),
        delimiter,
        key_marker: input.key_marker,
        upload_id_marker: input.upload_id_marker,
        next_key_marker: if truncated { next.0 } else { None },
        next_upload_id_marker: if truncated { next.1 } else { None },
        max_uploads: Some(i32::try_from(max).unwrap_or(1000)),
        is_truncated: Some(truncated),
        uploads: (!uploads.is_empty()).then_some(uploads),
        common_prefixes: (!prefixes.is_empty()).then(|| prefixes.into_iter().map(|p| CommonPrefix { prefix: Some(p) }).collect()),
        ..Default::default()
    }))
}

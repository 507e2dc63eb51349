//! Bucket operations. Buckets are the gateway's: tenants own them, the index records them,
//! and the engine holding a bucket only prepares and releases its storage. Every bucket is
//! in the gateway's region.

use super::Gateway;
use crate::auth::Principal;
use crate::backend::Error;
use crate::backend::s3util::{now_ns, owner, timestamp};
use crate::meta::{Applied, BucketRecord, ControlChange, Versioning};

use s3s::dto::*;
use s3s::{S3Request, S3Response};

/// The most buckets one ListBuckets page holds, and the page size AWS applies when
/// `max-buckets` is absent but another paging parameter is given.
const MAX_BUCKETS: i32 = 10_000;

/// ListBuckets, paged as AWS pages it since 2024: `prefix` filters by name, `max-buckets`
/// (1 to 10,000) bounds a page, and `ContinuationToken` (opaque: the base64 of the last
/// name listed) continues after it. Without any of those every bucket is listed, as
/// before 2024. Every bucket is in the gateway's region: `bucket-region` naming another
/// lists none, and each listed bucket says the gateway's.
pub(super) async fn list_buckets(g: &Gateway, req: S3Request<ListBucketsInput>) -> Result<S3Response<ListBucketsOutput>, Error> {
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
    let owner = Some(owner(principal.tenant()));
    if input.bucket_region.as_ref().is_some_and(|r| *r != g.region) {
        return Ok(S3Response::new(ListBucketsOutput { buckets: Some(Vec::new()), owner, continuation_token: None, prefix: input.prefix.clone() }));
    }
    let prefix = input.prefix.as_deref().unwrap_or("");
    let mut records: Vec<BucketRecord> = g
        .store
        .bucket_list()?
        .into_iter()
        .filter(|r| principal.sees_tenant(&r.tenant) && r.name.starts_with(prefix) && after.as_ref().is_none_or(|a| r.name > *a))
        .collect();
    records.sort_by(|x, y| x.name.cmp(&y.name));
    let truncated = records.len() > max;
    records.truncate(max);
    let continuation_token = records.last().filter(|_| truncated).map(|r| base64_simd::URL_SAFE_NO_PAD.encode_to_string(r.name.as_bytes()));
    let buckets = records
        .into_iter()
        .map(|r| Bucket { name: Some(r.name), creation_date: Some(timestamp(r.created_ns)), bucket_region: Some(g.region.clone()) })
        .collect();
    Ok(S3Response::new(ListBucketsOutput { buckets: Some(buckets), owner, continuation_token, prefix: input.prefix.clone() }))
}

/// New buckets go to the holding engine, whatever a deleted namesake's was.
///
/// Re-creating one's own bucket is answered as AWS answers it in the gateway's region: in
/// us-east-1, the legacy `200 OK` (nothing changes: tollgate keeps no ACL to reset),
/// elsewhere `409 BucketAlreadyOwnedByYou`; another tenant's name is `409
/// BucketAlreadyExists`. s3s and the SDKs take either: the 200 is a CreateBucket success
/// with its `Location`.
pub(super) async fn create_bucket(g: &Gateway, req: S3Request<CreateBucketInput>) -> Result<S3Response<CreateBucketOutput>, Error> {
    let principal = Principal::of(&req);
    let name = req.input.bucket.clone();
    let location = Some(format!("/{name}"));
    if let Some(existing) = g.store.bucket_get(&name)? {
        return match existing.tenant == principal.tenant() {
            true if g.region == "us-east-1" => Ok(S3Response::new(CreateBucketOutput { location })),
            true => Err(Error::BucketAlreadyOwnedByYou),
            false => Err(Error::BucketAlreadyExists),
        };
    }
    let lock = req.input.object_lock_enabled_for_bucket == Some(true);
    let (acl, ownership) = super::acl::creation_acl(g, principal.tenant(), &req.input)?;
    let backend = g.backends.holding();
    backend.engine().create_bucket(&name).await?;
    let record = BucketRecord {
        name: name.clone(),
        created_ns: now_ns(),
        tenant: principal.tenant().to_owned(),
        objects: 0,
        bytes: 0,
        visibility: crate::meta::Visibility::Private,
        quota: crate::meta::Quota::default(),
        origin: principal.tenant().to_owned(),
        // A bucket created with Object Lock is versioned from the start, for good.
        versioning: if lock { Versioning::Enabled } else { Versioning::Unversioned },
        object_lock: lock.then(crate::meta::LockConfig::default),
    };
    let audit = crate::audit::entry(&req, crate::ops::Operation::CreateBucket, &name, "", 0);
    if let Applied::BucketExists(existing) = g.change(ControlChange::BucketCreate { record }, audit.clone()).await? {
        return Err(if existing.tenant == principal.tenant() { Error::BucketAlreadyOwnedByYou } else { Error::BucketAlreadyExists });
    }
    // Set after the bucket exists (checked before it did): a crash in between leaves the
    // defaults, which are stricter than what was asked.
    if let Some(ownership) = ownership {
        let document = serde_json::to_string(&ownership).map_err(|e| Error::InvalidConfig(crate::meta::BucketConfigKind::Ownership, e.to_string()))?;
        super::settings::set_config(g, &req, crate::ops::Operation::CreateBucket, &name, crate::meta::BucketConfigKind::Ownership, Some(&document)).await?;
    }
    if let Some(acl) = acl {
        let change =
            crate::policy::config::BucketConfigs::acl_change(&name, &acl).map_err(super::settings::config_error(crate::meta::BucketConfigKind::Acl))?;
        g.change(change, audit).await?;
    }
    backend.index().sync().await?;
    g.backends.forget(&name)?;
    Ok(S3Response::new(CreateBucketOutput { location }))
}

pub(super) async fn delete_bucket(g: &Gateway, req: S3Request<DeleteBucketInput>) -> Result<S3Response<DeleteBucketOutput>, Error> {
    let name = &req.input.bucket;
    let backend = g.backends.of(name);
    backend.index().bucket(name)?;
    // What other instances of a cluster (or clients past the gateway) removed may still be
    // counted here: what the store holds decides.
    g.control.settle_bucket(backend, name).await?;
    let record = backend.index().bucket(name)?;
    if record.objects > 0 {
        return Err(Error::BucketNotEmpty);
    }
    backend.engine().remove_bucket(&record).await?;
    let audit = crate::audit::entry(&req, crate::ops::Operation::DeleteBucket, name, "", 0);
    g.change(ControlChange::BucketDelete { name: name.clone() }, audit).await?;
    backend.index().sync().await?;
    g.backends.forget(name)?;
    Ok(S3Response::new(DeleteBucketOutput {}))
}

pub(super) async fn head_bucket(g: &Gateway, req: S3Request<HeadBucketInput>) -> Result<S3Response<HeadBucketOutput>, Error> {
    g.backends.of(&req.input.bucket).index().bucket(&req.input.bucket)?;
    Ok(S3Response::new(HeadBucketOutput { bucket_region: Some(g.region.clone()), ..Default::default() }))
}

/// us-east-1 is an empty LocationConstraint, as AWS reports it; any other region is named.
pub(super) async fn get_bucket_location(g: &Gateway, req: S3Request<GetBucketLocationInput>) -> Result<S3Response<GetBucketLocationOutput>, Error> {
    g.backends.of(&req.input.bucket).index().bucket(&req.input.bucket)?;
    let location_constraint = (g.region != "us-east-1").then(|| BucketLocationConstraint::from(g.region.clone()));
    Ok(S3Response::new(GetBucketLocationOutput { location_constraint }))
}

pub(super) async fn get_bucket_versioning(g: &Gateway, req: S3Request<GetBucketVersioningInput>) -> Result<S3Response<GetBucketVersioningOutput>, Error> {
    let status = match g.backends.of(&req.input.bucket).index().bucket(&req.input.bucket)?.versioning {
        // A bucket never versioned answers an empty configuration.
        Versioning::Unversioned => None,
        Versioning::Enabled => Some(BucketVersioningStatus::from_static(BucketVersioningStatus::ENABLED)),
        Versioning::Suspended => Some(BucketVersioningStatus::from_static(BucketVersioningStatus::SUSPENDED)),
    };
    Ok(S3Response::new(GetBucketVersioningOutput { status, mfa_delete: None }))
}

pub(super) async fn put_bucket_versioning(g: &Gateway, req: S3Request<PutBucketVersioningInput>) -> Result<S3Response<PutBucketVersioningOutput>, Error> {
    let audit = crate::audit::entry(&req, crate::ops::Operation::PutBucketVersioning, &req.input.bucket, "", 0);
    let input = req.input;
    let objects = g.backends.of(&input.bucket);
    objects.index().bucket(&input.bucket)?;
    let conf = input.versioning_configuration;
    if input.mfa.is_some() || conf.mfa_delete.as_ref().is_some_and(|m| m.as_str() == MFADelete::ENABLED) {
        return Err(Error::NotImplemented("MFA delete is not supported"));
    }
    let versioning = match conf.status.as_ref().map(BucketVersioningStatus::as_str) {
        Some(BucketVersioningStatus::ENABLED) => Versioning::Enabled,
        Some(BucketVersioningStatus::SUSPENDED) => Versioning::Suspended,
        _ => return Err(Error::MalformedXml("The XML you provided was not well-formed or did not validate against our published schema".into())),
    };
    // Enabling versioning the first time makes every current object a version: off the
    // async workers.
    let at_key = objects.stores_at_key(&input.bucket)?;
    g.change(ControlChange::BucketVersioning { name: input.bucket.clone(), versioning, at_key }, audit).await?;
    objects.index().sync().await?;
    Ok(S3Response::new(PutBucketVersioningOutput::default()))
}

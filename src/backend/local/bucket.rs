//! Bucket operations.

use super::*;
use crate::auth::Principal;
use crate::meta::BucketRecord;

use s3s::S3Response;
use s3s::dto::*;

use crate::backend::Error;

pub(super) async fn list_buckets(b: &LocalBackend, req: S3Request<ListBucketsInput>) -> Result<S3Response<ListBucketsOutput>, Error> {
    let principal = Principal::of(&req);
    let mut buckets: Vec<Bucket> = b
        .store
        .bucket_list()?
        .into_iter()
        .filter(|r| principal.sees_tenant(&r.tenant))
        .map(|r| Bucket { name: Some(r.name), creation_date: Some(timestamp(r.created_ns)), bucket_region: None })
        .collect();
    buckets.sort_by(|x, y| x.name.cmp(&y.name));
    Ok(S3Response::new(ListBucketsOutput {
        buckets: Some(buckets),
        owner: Some(owner(&principal.tenant)),
        ..Default::default()
    }))
}

pub(super) async fn create_bucket(b: &LocalBackend, req: S3Request<CreateBucketInput>) -> Result<S3Response<CreateBucketOutput>, Error> {
    let principal = Principal::of(&req);
    let record = BucketRecord {
        name: req.input.bucket.clone(),
        created_ns: now_ns(),
        tenant: principal.tenant.clone(),
        objects: 0,
        bytes: 0,
        visibility: crate::meta::Visibility::Private,
        quota: crate::meta::Quota::default(),
    };
    let audit = crate::audit::entry(&req, "CreateBucket", &record.name, "", 0);
    if let Some(existing) = b.store.bucket_create(&record, Some(&audit))? {
        return Err(if existing.tenant == principal.tenant {
            Error::BucketAlreadyOwnedByYou
        } else {
            Error::BucketAlreadyExists
        });
    }
    b.sync_meta().await?;
    Ok(S3Response::new(CreateBucketOutput { location: Some(format!("/{}", req.input.bucket)) }))
}

pub(super) async fn delete_bucket(b: &LocalBackend, req: S3Request<DeleteBucketInput>) -> Result<S3Response<DeleteBucketOutput>, Error> {
    let audit = crate::audit::entry(&req, "DeleteBucket", &req.input.bucket, "", 0);
    b.store.bucket_delete(&req.input.bucket, Some(&audit))?;
    b.sync_meta().await?;
    Ok(S3Response::new(DeleteBucketOutput {}))
}

pub(super) async fn head_bucket(b: &LocalBackend, req: S3Request<HeadBucketInput>) -> Result<S3Response<HeadBucketOutput>, Error> {
    b.bucket(&req.input.bucket)?;
    Ok(S3Response::new(HeadBucketOutput { bucket_region: Some("us-east-1".into()), ..Default::default() }))
}

pub(super) async fn get_bucket_location(b: &LocalBackend, req: S3Request<GetBucketLocationInput>) -> Result<S3Response<GetBucketLocationOutput>, Error> {
    b.bucket(&req.input.bucket)?;
    // us-east-1 is reported as an empty LocationConstraint, as AWS does.
    Ok(S3Response::new(GetBucketLocationOutput::default()))
}

pub(super) async fn get_bucket_versioning(b: &LocalBackend, req: S3Request<GetBucketVersioningInput>) -> Result<S3Response<GetBucketVersioningOutput>, Error> {
    b.bucket(&req.input.bucket)?;
    // Buckets are never versioned: an empty configuration, as for a bucket that never was.
    Ok(S3Response::new(GetBucketVersioningOutput::default()))
}

//! ACLs. tollgate's access model is tenants and topics, not ACLs: the ACL calls answer the
//! owner's FULL_CONTROL grant, which s3cmd and others ask for, and accept only the canned
//! `private` ACL.

use super::Gateway;
use crate::backend::Error;
use crate::backend::s3util::owner;

use s3s::dto::*;
use s3s::{S3Request, S3Response};

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

pub(super) async fn get_bucket_acl(g: &Gateway, req: S3Request<GetBucketAclInput>) -> Result<S3Response<GetBucketAclOutput>, Error> {
    let bucket = g.backends.of(&req.input.bucket).index().bucket(&req.input.bucket)?;
    let (own, grants) = owner_acl(&bucket.tenant);
    Ok(S3Response::new(GetBucketAclOutput { owner: Some(own), grants: Some(grants) }))
}

pub(super) async fn get_object_acl(g: &Gateway, req: S3Request<GetObjectAclInput>) -> Result<S3Response<GetObjectAclOutput>, Error> {
    let objects = g.backends.of(&req.input.bucket);
    // The version asked for (or the current object) must exist: its ACL is the owner's.
    objects.version(&req.input.bucket, &req.input.key, req.input.version_id.as_deref())?;
    let bucket = objects.index().bucket(&req.input.bucket)?;
    let (own, grants) = owner_acl(&bucket.tenant);
    Ok(S3Response::new(GetObjectAclOutput { owner: Some(own), grants: Some(grants), ..Default::default() }))
}

fn only_private(acl: Option<&str>) -> Result<(), Error> {
    match acl {
        None | Some("private") => Ok(()),
        Some(_) => Err(Error::NotImplemented("only the canned ACL 'private' is supported; bucket visibility is set through the admin API")),
    }
}

pub(super) async fn put_object_acl(g: &Gateway, req: S3Request<PutObjectAclInput>) -> Result<S3Response<PutObjectAclOutput>, Error> {
    g.backends.of(&req.input.bucket).version(&req.input.bucket, &req.input.key, req.input.version_id.as_deref())?;
    only_private(req.input.acl.as_ref().map(ObjectCannedACL::as_str))?;
    Ok(S3Response::new(PutObjectAclOutput::default()))
}

pub(super) async fn put_bucket_acl(g: &Gateway, req: S3Request<PutBucketAclInput>) -> Result<S3Response<PutBucketAclOutput>, Error> {
    g.backends.of(&req.input.bucket).index().bucket(&req.input.bucket)?;
    only_private(req.input.acl.as_ref().map(BucketCannedACL::as_str))?;
    Ok(S3Response::new(PutBucketAclOutput::default()))
}

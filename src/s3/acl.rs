//! ACLs (see [`crate::policy::acl`]): a bucket's ACL is its visibility and its grants; an
//! object version's is its own grants and those it inherits from its bucket. Also object
//! ownership controls and Block Public Access, which decide what ACLs a bucket and its
//! objects may take.

use super::Gateway;
use crate::backend::Error;
use crate::backend::s3util::owner;
use crate::meta::{AclGrant, BucketConfigKind, BucketRecord, ObjectRecord};
use crate::ops::Operation;
use crate::policy::acl::{Acl, AclError, AclOn, GrantHeaders, Ownership, PublicAccessBlock, object_acl, to_dto};
use crate::policy::config::BucketConfigs;

use s3s::dto::*;
use s3s::{S3Request, S3Response};

impl From<AclError> for Error {
    fn from(e: AclError) -> Self {
        match e {
            AclError::Malformed(why) => Self::InvalidConfig(BucketConfigKind::Acl, why),
            AclError::InvalidArgument(why) => Self::InvalidArgument(why),
            AclError::InvalidRequest(why) => Self::InvalidRequest(why),
            AclError::NotSupported => Self::BadRequest { code: "AccessControlListNotSupported", message: e.to_string() },
            AclError::NotImplemented(why) => Self::NotImplemented(why),
        }
    }
}

/// The ACL a bucket has now.
fn current(g: &Gateway, bucket: &str) -> Result<(String, Acl), Error> {
    let record = g.backends.of(bucket).index().bucket(bucket)?;
    let acl = Acl::of(record.visibility, &g.configs.of(bucket).acl_grants);
    Ok((record.tenant, acl))
}

fn listed(tenant: &str, acl: &Acl) -> (Owner, Vec<Grant>) {
    (owner(tenant), to_dto(&acl.listed(tenant)))
}

pub(super) async fn get_bucket_acl(g: &Gateway, req: S3Request<GetBucketAclInput>) -> Result<S3Response<GetBucketAclOutput>, Error> {
    let (tenant, acl) = current(g, &req.input.bucket)?;
    let (own, grants) = listed(&tenant, &acl);
    Ok(S3Response::new(GetBucketAclOutput { owner: Some(own), grants: Some(grants) }))
}

pub(super) async fn get_object_acl(g: &Gateway, req: S3Request<GetObjectAclInput>) -> Result<S3Response<GetObjectAclOutput>, Error> {
    let input = &req.input;
    let backend = g.backends.of(&input.bucket);
    current_record(backend, &input.bucket, &input.key, input.version_id.as_deref()).await?;
    let record = backend.version(&input.bucket, &input.key, input.version_id.as_deref())?;
    let (tenant, bucket_acl) = current(g, &input.bucket)?;
    // Under BucketOwnerEnforced ACLs are disabled: grants kept from before no longer apply.
    let own = if g.configs.ownership(&input.bucket) == Ownership::BucketOwnerEnforced { &[][..] } else { &record.acl[..] };
    let (owner, grants) = listed(&tenant, &bucket_acl.for_object(own));
    Ok(S3Response::new(GetObjectAclOutput { owner: Some(owner), grants: Some(grants), ..Default::default() }))
}

/// Removes this index's record of an object kept at its key upstream if the upstream no
/// longer holds it (replaced through another instance of a cluster, or past the gateway):
/// its ACL was that object's, and is neither answered nor changed for its successor.
async fn current_record(backend: &crate::backend::Objects, bucket: &str, key: &str, version: Option<&str>) -> Result<(), Error> {
    if version.is_none() {
        backend.record_current(bucket, key).await?;
    }
    Ok(())
}

/// Whether a bucket under `ownership` and `block` may take `acl` (owned by `tenant`), and
/// whether every tenant it names exists.
fn admissible(g: &Gateway, tenant: &str, acl: &Acl, ownership: Ownership, block: PublicAccessBlock) -> Result<(), Error> {
    if ownership == Ownership::BucketOwnerEnforced && !acl.is_owner_only(tenant) {
        return Err(AclError::NotSupported.into());
    }
    grantable(g, acl, block)
}

/// Whether Block Public Access lets `acl` be set, and every tenant it names exists.
fn grantable(g: &Gateway, acl: &Acl, block: PublicAccessBlock) -> Result<(), Error> {
    if block.block_public_acls && acl.is_public() {
        return Err(Error::AccessDenied("Access Denied: the bucket's Block Public Access settings refuse public ACLs".into()));
    }
    for named in acl.tenants() {
        if g.store.tenant_get(named)?.is_none() {
            return Err(Error::InvalidArgument(format!("Invalid id: no canonical user {named:?}")));
        }
    }
    Ok(())
}

/// The grant headers of a request with all five.
macro_rules! grant_headers {
    ($input:expr) => {
        GrantHeaders {
            read: $input.grant_read.as_deref(),
            write: $input.grant_write.as_deref(),
            read_acp: $input.grant_read_acp.as_deref(),
            write_acp: $input.grant_write_acp.as_deref(),
            full_control: $input.grant_full_control.as_deref(),
        }
    };
}

/// The grant headers of an object write (which has no `x-amz-grant-write`).
macro_rules! object_grants {
    ($input:expr) => {
        $crate::policy::acl::GrantHeaders {
            read: $input.grant_read.as_deref(),
            write: None,
            read_acp: $input.grant_read_acp.as_deref(),
            write_acp: $input.grant_write_acp.as_deref(),
            full_control: $input.grant_full_control.as_deref(),
        }
    };
}
pub(super) use object_grants;

/// The ACL a CreateBucket asks for, with the ownership it names, checked before the bucket
/// exists (`None`: the default ACL, which needs no write).
pub(super) fn creation_acl(g: &Gateway, tenant: &str, input: &CreateBucketInput) -> Result<(Option<Acl>, Option<Ownership>), Error> {
    let ownership = input.object_ownership.as_ref().map(|o| Ownership::parse(o.as_str())).transpose().map_err(Error::InvalidArgument)?;
    let acl = Acl::from_request(input.acl.as_ref().map(BucketCannedACL::as_str), &grant_headers!(input), AclOn::Bucket)?;
    if let Some(acl) = &acl {
        let effective = ownership.unwrap_or(g.configs.defaults().object_ownership);
        if effective == Ownership::BucketOwnerEnforced && !acl.is_owner_only(tenant) {
            return Err(Error::BadRequest {
                code: "InvalidBucketAclWithObjectOwnership",
                message: "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting".into(),
            });
        }
        admissible(g, tenant, acl, effective, g.configs.defaults().block_public_access)?;
    }
    Ok((acl.filter(|a| *a != Acl::default()), ownership))
}

/// The ACL a PutBucketAcl or PutObjectAcl sets: its document or its headers' (one of them).
fn requested_acl(document: Option<&AccessControlPolicy>, from_headers: Option<Acl>) -> Result<Acl, Error> {
    match (document, from_headers) {
        (Some(_), Some(_)) => Err(Error::InvalidRequest("Specifying both an ACL document and ACL headers is not allowed".into())),
        (Some(doc), None) => Ok(Acl::from_document(doc)?),
        (None, Some(acl)) => Ok(acl),
        (None, None) => {
            Err(Error::InvalidConfig(BucketConfigKind::Acl, "The request names no ACL: send a canned ACL, grant headers or an AccessControlPolicy".into()))
        }
    }
}

pub(super) async fn put_bucket_acl(g: &Gateway, req: S3Request<PutBucketAclInput>) -> Result<S3Response<PutBucketAclOutput>, Error> {
    let bucket = &req.input.bucket;
    let (tenant, _) = current(g, bucket)?;
    let from_headers = Acl::from_request(req.input.acl.as_ref().map(BucketCannedACL::as_str), &grant_headers!(req.input), AclOn::Bucket)?;
    let acl = requested_acl(req.input.access_control_policy.as_ref(), from_headers)?;
    admissible(g, &tenant, &acl, g.configs.ownership(bucket), g.configs.public_access_block(bucket))?;
    let audit = crate::audit::entry(&req, Operation::PutBucketAcl, bucket, "", 0);
    let change = BucketConfigs::acl_change(bucket, &acl).map_err(super::settings::config_error(BucketConfigKind::Acl))?;
    g.change(change, audit).await?;
    Ok(S3Response::new(PutBucketAclOutput::default()))
}

/// The grants an object write (PutObject, CopyObject, CreateMultipartUpload) keeps for its
/// object, from the ACL it asks for; `writer`: the writing tenant (none: anonymous, root).
pub(super) fn object_write_acl(
    g: &Gateway,
    bucket: &BucketRecord,
    writer: Option<&str>,
    canned: Option<&ObjectCannedACL>,
    headers: &GrantHeaders<'_>,
) -> Result<Vec<AclGrant>, Error> {
    let requested = Acl::from_request(canned.map(ObjectCannedACL::as_str), headers, AclOn::Object);
    let requested = match requested {
        // Disabled ACLs are the answer to any ACL but the owner's, kept or not.
        Err(AclError::NotImplemented(_)) if g.configs.ownership(&bucket.name) == Ownership::BucketOwnerEnforced => Err(AclError::NotSupported),
        other => other,
    }?;
    grants_kept(g, bucket, writer, requested)
}

/// The grants an object keeps for the ACL `requested`, if the bucket's ownership and Block
/// Public Access allow it and every tenant it names exists.
fn grants_kept(g: &Gateway, bucket: &BucketRecord, writer: Option<&str>, requested: Option<Acl>) -> Result<Vec<AclGrant>, Error> {
    if let Some(acl) = &requested {
        grantable(g, acl, g.configs.public_access_block(&bucket.name))?;
    }
    Ok(object_acl(requested, &bucket.tenant, writer, g.configs.ownership(&bucket.name))?)
}

/// Replaces an object version's ACL (the current version's without `versionId`).
pub(super) async fn put_object_acl(g: &Gateway, req: S3Request<PutObjectAclInput>) -> Result<S3Response<PutObjectAclOutput>, Error> {
    let input = &req.input;
    let backend = g.backends.of(&input.bucket);
    // The version named must exist (a delete marker has no ACL).
    current_record(backend, &input.bucket, &input.key, input.version_id.as_deref()).await?;
    backend.version(&input.bucket, &input.key, input.version_id.as_deref())?;
    let bucket = backend.index().bucket(&input.bucket)?;
    let from_headers = Acl::from_request(input.acl.as_ref().map(ObjectCannedACL::as_str), &object_grants!(input), AclOn::Object)?;
    let requested = requested_acl(input.access_control_policy.as_ref(), from_headers)?;
    let grants = grants_kept(g, &bucket, None, Some(requested))?;
    let audit = crate::audit::entry(&req, Operation::PutObjectAcl, &input.bucket, &input.key, 0);
    let update = |rec: &mut ObjectRecord| {
        rec.acl.clone_from(&grants);
        Ok(())
    };
    if !backend.index().store.version_update(&input.bucket, &input.key, input.version_id.as_deref(), &update, Some(&audit))? {
        return Err(Error::NoSuchKey);
    }
    backend.index().sync().await?;
    Ok(S3Response::new(PutObjectAclOutput::default()))
}

pub(super) async fn get_bucket_ownership_controls(
    g: &Gateway,
    req: S3Request<GetBucketOwnershipControlsInput>,
) -> Result<S3Response<GetBucketOwnershipControlsOutput>, Error> {
    g.backends.of(&req.input.bucket).index().bucket(&req.input.bucket)?;
    let Some(ownership) = g.configs.of(&req.input.bucket).ownership else {
        return Err(Error::Unconfigured(crate::backend::BucketSetting::OwnershipControls));
    };
    let rule = OwnershipControlsRule { object_ownership: ObjectOwnership::from(ownership.as_str().to_owned()) };
    Ok(S3Response::new(GetBucketOwnershipControlsOutput { ownership_controls: Some(OwnershipControls { rules: vec![rule] }) }))
}

pub(super) async fn put_bucket_ownership_controls(
    g: &Gateway,
    req: S3Request<PutBucketOwnershipControlsInput>,
) -> Result<S3Response<PutBucketOwnershipControlsOutput>, Error> {
    let bucket = &req.input.bucket;
    let [rule] = req.input.ownership_controls.rules.as_slice() else {
        return Err(Error::MalformedXml("OwnershipControls takes exactly one Rule".into()));
    };
    let ownership = Ownership::parse(rule.object_ownership.as_str()).map_err(Error::MalformedXml)?;
    let (tenant, acl) = current(g, bucket)?;
    if ownership == Ownership::BucketOwnerEnforced && !acl.is_owner_only(&tenant) {
        // AWS: ACLs must be reset to the owner's before they can be disabled.
        return Err(Error::BadRequest {
            code: "InvalidBucketAclWithObjectOwnership",
            message: "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting".into(),
        });
    }
    let document = serde_json::to_string(&ownership).map_err(|e| Error::InvalidConfig(BucketConfigKind::Ownership, e.to_string()))?;
    super::settings::set_config(g, &req, Operation::PutBucketOwnershipControls, bucket, BucketConfigKind::Ownership, Some(&document)).await?;
    Ok(S3Response::new(PutBucketOwnershipControlsOutput::default()))
}

pub(super) async fn delete_bucket_ownership_controls(
    g: &Gateway,
    req: S3Request<DeleteBucketOwnershipControlsInput>,
) -> Result<S3Response<DeleteBucketOwnershipControlsOutput>, Error> {
    let bucket = &req.input.bucket;
    let (tenant, acl) = current(g, bucket)?;
    if g.configs.defaults().object_ownership == Ownership::BucketOwnerEnforced && !acl.is_owner_only(&tenant) {
        return Err(Error::BadRequest {
            code: "InvalidBucketAclWithObjectOwnership",
            message: "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting".into(),
        });
    }
    super::settings::set_config(g, &req, Operation::DeleteBucketOwnershipControls, bucket, BucketConfigKind::Ownership, None).await?;
    Ok(S3Response::new(DeleteBucketOwnershipControlsOutput::default()))
}

pub(super) async fn get_public_access_block(g: &Gateway, req: S3Request<GetPublicAccessBlockInput>) -> Result<S3Response<GetPublicAccessBlockOutput>, Error> {
    g.backends.of(&req.input.bucket).index().bucket(&req.input.bucket)?;
    let Some(b) = g.configs.of(&req.input.bucket).public_access_block else {
        return Err(Error::Unconfigured(crate::backend::BucketSetting::PublicAccessBlock));
    };
    Ok(S3Response::new(GetPublicAccessBlockOutput {
        public_access_block_configuration: Some(PublicAccessBlockConfiguration {
            block_public_acls: Some(b.block_public_acls),
            ignore_public_acls: Some(b.ignore_public_acls),
            block_public_policy: Some(b.block_public_policy),
            restrict_public_buckets: Some(b.restrict_public_buckets),
        }),
    }))
}

pub(super) async fn put_public_access_block(g: &Gateway, req: S3Request<PutPublicAccessBlockInput>) -> Result<S3Response<PutPublicAccessBlockOutput>, Error> {
    let c = &req.input.public_access_block_configuration;
    let block = PublicAccessBlock {
        block_public_acls: c.block_public_acls.unwrap_or(false),
        ignore_public_acls: c.ignore_public_acls.unwrap_or(false),
        block_public_policy: c.block_public_policy.unwrap_or(false),
        restrict_public_buckets: c.restrict_public_buckets.unwrap_or(false),
    };
    let document = serde_json::to_string(&block).map_err(|e| Error::InvalidConfig(BucketConfigKind::PublicAccessBlock, e.to_string()))?;
    super::settings::set_config(g, &req, Operation::PutPublicAccessBlock, &req.input.bucket, BucketConfigKind::PublicAccessBlock, Some(&document)).await?;
    Ok(S3Response::new(PutPublicAccessBlockOutput::default()))
}

pub(super) async fn delete_public_access_block(
    g: &Gateway,
    req: S3Request<DeletePublicAccessBlockInput>,
) -> Result<S3Response<DeletePublicAccessBlockOutput>, Error> {
    super::settings::set_config(g, &req, Operation::DeletePublicAccessBlock, &req.input.bucket, BucketConfigKind::PublicAccessBlock, None).await?;
    Ok(S3Response::new(DeletePublicAccessBlockOutput::default()))
}

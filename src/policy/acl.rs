//! S3 ACLs, object ownership and Block Public Access, as tollgate keeps them.
//!
//! A bucket's ACL is its owner's implicit FULL_CONTROL, its public-read grant (the bucket's
//! visibility, which the admin API shows and sets too) and its other grants. An object
//! version's ACL is its own grants (kept in its record) plus what it inherits from its
//! bucket: a bucket READ grant lets its grantee read the objects as well as list them (on
//! AWS that takes the objects' own ACLs). The bucket's tenant has full control of every
//! object in its buckets (it is charged for them); a writer from another tenant gets full
//! control of the objects it writes, as AWS's object writer does. Under
//! `BucketOwnerEnforced` (the default) ACLs are disabled: only the owner's are accepted.

use crate::meta::{AclGrant, AclGrantee, AclPermission, Visibility};
pub use crate::meta::{Ownership, PublicAccessBlock};
use crate::ops::Operation;

/// The URI of S3's `AllUsers` group.
pub const ALL_USERS_URI: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
/// The URI of S3's `AuthenticatedUsers` group.
pub const AUTHENTICATED_USERS_URI: &str = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";
/// The URI of S3's `LogDelivery` group.
pub const LOG_DELIVERY_URI: &str = "http://acs.amazonaws.com/groups/s3/LogDelivery";

/// Why an ACL is refused, each answered as AWS answers it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AclError {
    /// 400 MalformedACLError: the XML does not describe a valid ACL.
    #[error("{0}")]
    Malformed(String),
    /// 400 InvalidArgument: a grantee or grant header tollgate cannot resolve.
    #[error("{0}")]
    InvalidArgument(String),
    /// 400 InvalidRequest: a canned ACL and grant headers together, for instance.
    #[error("{0}")]
    InvalidRequest(String),
    /// 400 AccessControlListNotSupported: the bucket's ownership is BucketOwnerEnforced.
    #[error("The bucket does not allow ACLs")]
    NotSupported,
    /// 501 NotImplemented: a grant tollgate cannot keep (e-mail grantees, object ACLs).
    #[error("{0}")]
    NotImplemented(&'static str),
}

/// A bucket's ACL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Acl {
    /// `AllUsers` may READ (the bucket's visibility).
    pub public_read: bool,
    /// The other grants (the owner's implicit FULL_CONTROL is not among them).
    pub grants: Vec<AclGrant>,
}

/// The `x-amz-grant-*` headers of a request.
#[derive(Debug, Clone, Copy, Default)]
pub struct GrantHeaders<'a> {
    /// `x-amz-grant-read`.
    pub read: Option<&'a str>,
    /// `x-amz-grant-write`.
    pub write: Option<&'a str>,
    /// `x-amz-grant-read-acp`.
    pub read_acp: Option<&'a str>,
    /// `x-amz-grant-write-acp`.
    pub write_acp: Option<&'a str>,
    /// `x-amz-grant-full-control`.
    pub full_control: Option<&'a str>,
}

impl GrantHeaders<'_> {
    /// Whether any grant header is present.
    #[must_use]
    pub fn any(&self) -> bool {
        [self.read, self.write, self.read_acp, self.write_acp, self.full_control].iter().any(Option::is_some)
    }
}

fn grant(grantee: AclGrantee, permission: AclPermission) -> AclGrant {
    AclGrant { grantee, permission }
}

/// The grantee a grant header's `type=value` names.
fn grantee_of(kind: &str, value: &str) -> Result<AclGrantee, AclError> {
    match kind.to_ascii_lowercase().as_str() {
        "id" if !value.is_empty() => Ok(AclGrantee::Tenant(value.to_owned())),
        "uri" => group(value),
        "emailaddress" => Err(AclError::NotImplemented("grants to e-mail addresses are not supported: grant to a canonical user id (a tenant name)")),
        _ => Err(AclError::InvalidArgument(format!("Invalid grantee {kind}={value:?}"))),
    }
}

fn group(uri: &str) -> Result<AclGrantee, AclError> {
    match uri {
        ALL_USERS_URI => Ok(AclGrantee::AllUsers),
        AUTHENTICATED_USERS_URI => Ok(AclGrantee::AuthenticatedUsers),
        LOG_DELIVERY_URI => Ok(AclGrantee::LogDelivery),
        _ => Err(AclError::InvalidArgument(format!("Invalid group uri {uri:?}"))),
    }
}

/// Parses one `x-amz-grant-*` value: `id="t1", uri="http://..."`.
fn parse_grant_header(value: &str, permission: AclPermission, into: &mut Vec<AclGrant>) -> Result<(), AclError> {
    for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (kind, raw) = part.split_once('=').ok_or_else(|| AclError::InvalidArgument(format!("Invalid grant {part:?}: expected type=\"value\"")))?;
        let raw = raw.trim();
        let value = raw.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(raw);
        into.push(grant(grantee_of(kind.trim(), value)?, permission));
    }
    Ok(())
}

/// What an ACL is on: their canned ACLs differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AclOn {
    /// A bucket.
    Bucket,
    /// An object version.
    Object,
}

impl Acl {
    /// The ACL a canned name stands for on a bucket or an object. The bucket's tenant has
    /// full control of both anyway, so `bucket-owner-read` and `bucket-owner-full-control`
    /// add nothing on an object.
    ///
    /// # Errors
    /// `InvalidArgument` for a name that is not a canned ACL of `on`; `NotImplemented` for
    /// `aws-exec-read` (its grantee is Amazon EC2's account).
    pub fn canned(name: &str, on: AclOn) -> Result<Self, AclError> {
        Ok(match (name, on) {
            ("private", _) | ("bucket-owner-read" | "bucket-owner-full-control", AclOn::Object) => Self::default(),
            ("public-read", _) => Self { public_read: true, grants: vec![] },
            ("public-read-write", _) => Self { public_read: true, grants: vec![grant(AclGrantee::AllUsers, AclPermission::Write)] },
            ("authenticated-read", _) => Self { public_read: false, grants: vec![grant(AclGrantee::AuthenticatedUsers, AclPermission::Read)] },
            ("log-delivery-write", AclOn::Bucket) => Self {
                public_read: false,
                grants: vec![grant(AclGrantee::LogDelivery, AclPermission::Write), grant(AclGrantee::LogDelivery, AclPermission::ReadAcp)],
            },
            ("aws-exec-read", AclOn::Object) => {
                return Err(AclError::NotImplemented("aws-exec-read grants READ to Amazon EC2, which tollgate has no account for"));
            }
            _ => {
                let what = if on == AclOn::Bucket { "a bucket" } else { "an object" };
                return Err(AclError::InvalidArgument(format!("{name} is not a valid canned ACL for {what}")));
            }
        })
    }

    /// The ACL of a request's canned ACL or grant headers (`None`: it names neither).
    ///
    /// # Errors
    /// Both at once, or an invalid canned name or grant.
    pub fn from_request(canned: Option<&str>, headers: &GrantHeaders<'_>, on: AclOn) -> Result<Option<Self>, AclError> {
        match (canned, headers.any()) {
            (Some(_), true) => Err(AclError::InvalidRequest("Specifying both Canned ACLs and Header Grants is not allowed".into())),
            (Some(name), false) => Self::canned(name, on).map(Some),
            (None, false) => Ok(None),
            (None, true) => {
                let mut grants = Vec::new();
                for (value, permission) in [
                    (headers.read, AclPermission::Read),
                    (headers.write, AclPermission::Write),
                    (headers.read_acp, AclPermission::ReadAcp),
                    (headers.write_acp, AclPermission::WriteAcp),
                    (headers.full_control, AclPermission::FullControl),
                ] {
                    if let Some(v) = value {
                        parse_grant_header(v, permission, &mut grants)?;
                    }
                }
                Ok(Some(Self::from_grants(grants)))
            }
        }
    }

    /// The ACL an `AccessControlPolicy` document describes.
    ///
    /// # Errors
    /// `Malformed` for a grant without grantee or permission, or an unknown grantee type.
    pub fn from_document(policy: &s3s::dto::AccessControlPolicy) -> Result<Self, AclError> {
        let mut grants = Vec::new();
        for g in policy.grants.iter().flatten() {
            let (Some(grantee), Some(permission)) = (&g.grantee, &g.permission) else {
                return Err(AclError::Malformed("The XML you provided was not well-formed or did not validate against our published schema".into()));
            };
            let permission = match permission.as_str() {
                "READ" => AclPermission::Read,
                "WRITE" => AclPermission::Write,
                "READ_ACP" => AclPermission::ReadAcp,
                "WRITE_ACP" => AclPermission::WriteAcp,
                "FULL_CONTROL" => AclPermission::FullControl,
                other => return Err(AclError::Malformed(format!("Invalid permission {other:?}"))),
            };
            let who = match grantee.type_.as_str() {
                "CanonicalUser" => grantee_of("id", grantee.id.as_deref().unwrap_or(""))?,
                "Group" => group(grantee.uri.as_deref().unwrap_or(""))?,
                "AmazonCustomerByEmail" => grantee_of("emailAddress", grantee.email_address.as_deref().unwrap_or(""))?,
                other => return Err(AclError::Malformed(format!("Invalid grantee type {other:?}"))),
            };
            grants.push(grant(who, permission));
        }
        Ok(Self::from_grants(grants))
    }

    /// Splits grants into the public-read flag and the rest, without repeats.
    #[must_use]
    pub fn from_grants(all: Vec<AclGrant>) -> Self {
        let mut acl = Self::default();
        for g in all {
            if g.grantee == AclGrantee::AllUsers && g.permission == AclPermission::Read {
                acl.public_read = true;
            } else if !acl.grants.contains(&g) {
                acl.grants.push(g);
            }
        }
        acl
    }

    /// The ACL of a bucket with `visibility` and the stored `grants`.
    #[must_use]
    pub fn of(visibility: Visibility, grants: &[AclGrant]) -> Self {
        Self { public_read: visibility == Visibility::PublicRead, grants: grants.to_vec() }
    }

    /// The bucket's visibility under this ACL.
    #[must_use]
    pub fn visibility(&self) -> Visibility {
        if self.public_read { Visibility::PublicRead } else { Visibility::Private }
    }

    /// Whether the ACL only gives the owner control (the only ACL BucketOwnerEnforced allows).
    #[must_use]
    pub fn is_owner_only(&self, owner: &str) -> bool {
        !self.public_read && self.grants.iter().all(|g| g.grantee == AclGrantee::Tenant(owner.to_owned()) && g.permission == AclPermission::FullControl)
    }

    /// Whether it grants anything to everyone or to every authenticated caller.
    #[must_use]
    pub fn is_public(&self) -> bool {
        self.public_read || self.grants.iter().any(|g| is_public_grantee(&g.grantee))
    }

    /// The tenants it names (each must exist).
    pub fn tenants(&self) -> impl Iterator<Item = &str> {
        self.grants.iter().filter_map(|g| match &g.grantee {
            AclGrantee::Tenant(t) => Some(t.as_str()),
            _ => None,
        })
    }

    /// The grants as one list, public-read among them (as an object's record keeps them).
    #[must_use]
    pub fn into_grants(self) -> Vec<AclGrant> {
        let mut all = Vec::with_capacity(self.grants.len() + 1);
        if self.public_read {
            all.push(grant(AclGrantee::AllUsers, AclPermission::Read));
        }
        all.extend(self.grants);
        all
    }

    /// The ACL that applies to an object: its own grants and those of its bucket's `self`
    /// that concern objects (all but WRITE, which is about the bucket's keys).
    #[must_use]
    pub fn for_object(&self, own: &[AclGrant]) -> Self {
        let inherited = self.grants.iter().filter(|g| g.permission != AclPermission::Write).cloned();
        let mut acl = Self::from_grants(inherited.chain(own.iter().cloned()).collect());
        acl.public_read |= self.public_read;
        acl
    }

    /// Every grant as S3 lists it: the owner's FULL_CONTROL first.
    #[must_use]
    pub fn listed(&self, owner: &str) -> Vec<AclGrant> {
        let mut all = vec![grant(AclGrantee::Tenant(owner.to_owned()), AclPermission::FullControl)];
        if self.public_read {
            all.push(grant(AclGrantee::AllUsers, AclPermission::Read));
        }
        all.extend(self.grants.iter().filter(|g| !all.contains(g)).cloned().collect::<Vec<_>>());
        all
    }
}

fn is_public_grantee(g: &AclGrantee) -> bool {
    matches!(g, AclGrantee::AllUsers | AclGrantee::AuthenticatedUsers)
}

/// The ACL permission an operation needs, for a caller who is not the bucket's tenant
/// (`None`: no grant allows it; it is the owner's alone).
#[must_use]
pub fn permission_needed(op: Operation) -> Option<AclPermission> {
    use Operation as O;
    Some(match op {
        O::HeadBucket
        | O::ListObjects
        | O::ListObjectsV2
        | O::ListObjectVersions
        | O::ListMultipartUploads
        | O::GetObject
        | O::HeadObject
        | O::GetObjectAttributes
        | O::GetObjectTagging
        | O::GetBucketLocation => AclPermission::Read,
        O::PutObject
        | O::PostObject
        | O::CopyObject
        | O::DeleteObject
        | O::DeleteObjects
        | O::CreateMultipartUpload
        | O::UploadPart
        | O::UploadPartCopy
        | O::CompleteMultipartUpload
        | O::AbortMultipartUpload
        | O::ListParts => AclPermission::Write,
        O::GetBucketAcl | O::GetObjectAcl => AclPermission::ReadAcp,
        O::PutBucketAcl | O::PutObjectAcl => AclPermission::WriteAcp,
        _ => return None,
    })
}

/// The ACL permission an operation on an object needs of the object's own ACL (`None`:
/// object ACLs do not grant it: writes and deletes are the bucket's to grant).
#[must_use]
pub fn object_permission_needed(op: Operation) -> Option<AclPermission> {
    match op {
        Operation::GetObject | Operation::HeadObject | Operation::GetObjectAttributes => Some(AclPermission::Read),
        Operation::GetObjectAcl => Some(AclPermission::ReadAcp),
        Operation::PutObjectAcl => Some(AclPermission::WriteAcp),
        _ => None,
    }
}

/// Who asks, as ACL grants see callers.
#[derive(Debug, Clone, Copy)]
pub enum Caller<'a> {
    /// No signature.
    Anonymous,
    /// A key of this tenant.
    Tenant(&'a str),
}

/// Whether `acl` gives `caller` the permission `needed`; public grants count only when
/// `ignore_public` is off.
#[must_use]
pub fn grants(acl: &Acl, caller: Caller<'_>, needed: AclPermission, ignore_public: bool) -> bool {
    let covers = |p: AclPermission| p == needed || p == AclPermission::FullControl;
    let applies = |g: &AclGrantee| match (g, caller) {
        (AclGrantee::AllUsers, _) => !ignore_public,
        (AclGrantee::AuthenticatedUsers, Caller::Tenant(_)) => !ignore_public,
        (AclGrantee::Tenant(t), Caller::Tenant(c)) => t == c,
        _ => false,
    };
    (acl.public_read && needed == AclPermission::Read && !ignore_public) || acl.grants.iter().any(|g| covers(g.permission) && applies(&g.grantee))
}

/// The grants an object version keeps, from the ACL its write or PutObjectAcl asks for
/// (`None`: the default, `private`), in a bucket of tenant `owner` under `ownership`.
/// `writer` is the writing tenant: one other than the owner gets full control of the
/// object. Grants to the owner are implicit and not kept.
///
/// # Errors
/// `NotSupported` under `BucketOwnerEnforced` for an ACL other than the owner's (as AWS).
pub fn object_acl(requested: Option<Acl>, owner: &str, writer: Option<&str>, ownership: Ownership) -> Result<Vec<AclGrant>, AclError> {
    let acl = requested.unwrap_or_default();
    if ownership == Ownership::BucketOwnerEnforced {
        // ACLs are disabled: the bucket's tenant owns every object, whoever writes it.
        return if acl.is_owner_only(owner) { Ok(Vec::new()) } else { Err(AclError::NotSupported) };
    }
    let owner_grantee = AclGrantee::Tenant(owner.to_owned());
    let mut kept: Vec<AclGrant> = acl.into_grants().into_iter().filter(|g| g.grantee != owner_grantee).collect();
    if let Some(writer) = writer.filter(|w| *w != owner) {
        let full = grant(AclGrantee::Tenant(writer.to_owned()), AclPermission::FullControl);
        if !kept.contains(&full) {
            kept.push(full);
        }
    }
    Ok(kept)
}

/// Gives a bucket ACL the S3 document form.
#[must_use]
pub fn to_dto(grants: &[AclGrant]) -> Vec<s3s::dto::Grant> {
    use s3s::dto::{Grant, Grantee, Permission, Type};
    grants
        .iter()
        .map(|g| {
            let (type_, id, uri) = match &g.grantee {
                AclGrantee::Tenant(t) => (Type::CANONICAL_USER, Some(t.clone()), None),
                AclGrantee::AllUsers => (Type::GROUP, None, Some(ALL_USERS_URI.to_owned())),
                AclGrantee::AuthenticatedUsers => (Type::GROUP, None, Some(AUTHENTICATED_USERS_URI.to_owned())),
                AclGrantee::LogDelivery => (Type::GROUP, None, Some(LOG_DELIVERY_URI.to_owned())),
            };
            let permission = match g.permission {
                AclPermission::Read => Permission::READ,
                AclPermission::Write => Permission::WRITE,
                AclPermission::ReadAcp => Permission::READ_ACP,
                AclPermission::WriteAcp => Permission::WRITE_ACP,
                AclPermission::FullControl => Permission::FULL_CONTROL,
            };
            Grant {
                grantee: Some(Grantee { type_: Type::from_static(type_), display_name: id.clone(), id, email_address: None, uri }),
                permission: Some(Permission::from_static(permission)),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(read: Option<&'static str>, write: Option<&'static str>) -> GrantHeaders<'static> {
        GrantHeaders { read, write, ..GrantHeaders::default() }
    }

    #[test]
    fn canned_acls_are_the_grants_s3_documents() {
        let acl = Acl::canned("public-read-write", AclOn::Bucket).unwrap();
        assert!(acl.public_read);
        assert_eq!(acl.grants, vec![grant(AclGrantee::AllUsers, AclPermission::Write)]);
        assert_eq!(Acl::canned("authenticated-read", AclOn::Bucket).unwrap().grants, vec![grant(AclGrantee::AuthenticatedUsers, AclPermission::Read)]);
        assert!(Acl::canned("private", AclOn::Bucket).unwrap().is_owner_only("t"));
        assert!(Acl::canned("log-delivery-write", AclOn::Bucket).unwrap().grants.iter().all(|g| g.grantee == AclGrantee::LogDelivery));
        assert!(matches!(Acl::canned("bucket-owner-read", AclOn::Bucket), Err(AclError::InvalidArgument(_))));
        assert_eq!(Acl::canned("public-read", AclOn::Bucket).unwrap().listed("t").len(), 2);
    }

    #[test]
    fn grant_headers_parse_as_aws_writes_them() {
        let acl =
            Acl::from_request(None, &headers(Some(r#"id="partner", uri="http://acs.amazonaws.com/groups/global/AllUsers""#), Some("id=other")), AclOn::Bucket)
                .unwrap()
                .unwrap();
        assert!(acl.public_read);
        assert_eq!(
            acl.grants,
            vec![grant(AclGrantee::Tenant("partner".into()), AclPermission::Read), grant(AclGrantee::Tenant("other".into()), AclPermission::Write)]
        );
        assert_eq!(acl.tenants().collect::<Vec<_>>(), vec!["partner", "other"]);
        assert!(matches!(Acl::from_request(Some("private"), &headers(Some("id=a"), None), AclOn::Bucket), Err(AclError::InvalidRequest(_))));
        assert!(matches!(Acl::from_request(None, &headers(Some("emailAddress=\"a@b\""), None), AclOn::Bucket), Err(AclError::NotImplemented(_))));
        assert!(matches!(Acl::from_request(None, &headers(Some("uri=\"http://example.com/g\""), None), AclOn::Bucket), Err(AclError::InvalidArgument(_))));
        assert!(matches!(Acl::from_request(None, &headers(Some("nonsense"), None), AclOn::Bucket), Err(AclError::InvalidArgument(_))));
        assert_eq!(Acl::from_request(None, &GrantHeaders::default(), AclOn::Bucket).unwrap(), None);
    }

    #[test]
    fn grants_decide_by_operation_and_caller() {
        // What a bucket's grants allow an operation, as the decision asks them.
        let grants = |acl: &Acl, caller, op, ignore_public| permission_needed(op).is_some_and(|needed| grants(acl, caller, needed, ignore_public));
        let acl = Acl {
            public_read: false,
            grants: vec![grant(AclGrantee::Tenant("p".into()), AclPermission::Read), grant(AclGrantee::AuthenticatedUsers, AclPermission::Write)],
        };
        assert!(grants(&acl, Caller::Tenant("p"), Operation::GetObject, false));
        assert!(grants(&acl, Caller::Tenant("p"), Operation::ListObjectsV2, false));
        assert!(!grants(&acl, Caller::Tenant("p"), Operation::GetBucketAcl, false), "READ is not READ_ACP");
        assert!(!grants(&acl, Caller::Tenant("q"), Operation::GetObject, false));
        assert!(grants(&acl, Caller::Tenant("q"), Operation::PutObject, false), "AuthenticatedUsers covers every tenant");
        assert!(!grants(&acl, Caller::Tenant("q"), Operation::PutObject, true), "unless public grants are ignored");
        assert!(!grants(&acl, Caller::Anonymous, Operation::PutObject, false));
        assert!(!grants(&acl, Caller::Tenant("p"), Operation::PutBucketPolicy, false), "no grant allows an owner-only operation");
        let full = Acl { public_read: true, grants: vec![grant(AclGrantee::Tenant("p".into()), AclPermission::FullControl)] };
        assert!(grants(&full, Caller::Tenant("p"), Operation::PutBucketAcl, false));
        assert!(grants(&full, Caller::Anonymous, Operation::GetObject, false));
        assert!(!grants(&full, Caller::Anonymous, Operation::GetObject, true));
        assert!(!grants(&full, Caller::Anonymous, Operation::PutObject, false));
    }

    #[test]
    fn object_acls_keep_their_grants_and_the_writers_control() {
        let canned = |name| Acl::canned(name, AclOn::Object).unwrap();
        let all_read = grant(AclGrantee::AllUsers, AclPermission::Read);
        let writer_full = grant(AclGrantee::Tenant("w".into()), AclPermission::FullControl);
        for ownership in [Ownership::ObjectWriter, Ownership::BucketOwnerPreferred] {
            assert_eq!(object_acl(None, "t", Some("t"), ownership), Ok(vec![]), "the owner's own write keeps nothing");
            assert_eq!(object_acl(Some(canned("public-read")), "t", None, ownership), Ok(vec![all_read.clone()]));
            assert_eq!(object_acl(Some(canned("public-read")), "t", Some("w"), ownership), Ok(vec![all_read.clone(), writer_full.clone()]));
            assert_eq!(object_acl(Some(canned("bucket-owner-full-control")), "t", Some("w"), ownership), Ok(vec![writer_full.clone()]));
            let to_owner = Acl::from_request(None, &GrantHeaders { read: Some("id=t"), ..GrantHeaders::default() }, AclOn::Object).unwrap();
            assert_eq!(object_acl(to_owner, "t", None, ownership), Ok(vec![]), "grants to the owner are implicit");
        }
        // BucketOwnerEnforced: ACLs are disabled, only the owner's accepted, nothing kept.
        for owner_only in [None, Some(canned("private")), Some(canned("bucket-owner-full-control")), Some(canned("bucket-owner-read"))] {
            assert_eq!(object_acl(owner_only, "t", Some("w"), Ownership::BucketOwnerEnforced), Ok(vec![]));
        }
        assert_eq!(object_acl(Some(canned("public-read")), "t", None, Ownership::BucketOwnerEnforced), Err(AclError::NotSupported));
        assert!(matches!(Acl::canned("aws-exec-read", AclOn::Object), Err(AclError::NotImplemented(_))));
        assert!(matches!(Acl::canned("log-delivery-write", AclOn::Object), Err(AclError::InvalidArgument(_))));
        assert!(matches!(Acl::canned("bucket-owner-full-control", AclOn::Bucket), Err(AclError::InvalidArgument(_))));
        assert_eq!(Ownership::parse("ObjectWriter"), Ok(Ownership::ObjectWriter));
        assert!(Ownership::parse("Whoever").is_err());
    }

    #[test]
    fn an_object_inherits_its_buckets_grants_except_write() {
        let bucket = Acl {
            public_read: false,
            grants: vec![grant(AclGrantee::Tenant("p".into()), AclPermission::Read), grant(AclGrantee::AllUsers, AclPermission::Write)],
        };
        let own = [grant(AclGrantee::AuthenticatedUsers, AclPermission::ReadAcp), grant(AclGrantee::AllUsers, AclPermission::Read)];
        let acl = bucket.for_object(&own);
        assert!(acl.public_read);
        assert_eq!(acl.grants, vec![grant(AclGrantee::Tenant("p".into()), AclPermission::Read), own[0].clone()]);
        assert!(grants(&acl, Caller::Anonymous, AclPermission::Read, false));
        assert!(!grants(&acl, Caller::Anonymous, AclPermission::Read, true), "IgnorePublicAcls");
        assert!(grants(&acl, Caller::Tenant("q"), AclPermission::ReadAcp, false));
        assert!(!grants(&acl, Caller::Tenant("q"), AclPermission::WriteAcp, false));
        assert_eq!(Acl::from_grants(own.to_vec()).into_grants(), vec![own[1].clone(), own[0].clone()], "public-read listed first");
        assert_eq!(object_permission_needed(Operation::HeadObject), Some(AclPermission::Read));
        assert_eq!(object_permission_needed(Operation::PutObjectAcl), Some(AclPermission::WriteAcp));
        assert_eq!(object_permission_needed(Operation::DeleteObject), None, "deleting is the bucket's to grant");
    }
}

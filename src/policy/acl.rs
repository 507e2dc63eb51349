//! S3 ACLs, object ownership and Block Public Access, as tollgate keeps them.
//!
//! A bucket's ACL is its owner's implicit FULL_CONTROL, its public-read grant (the bucket's
//! visibility, which the admin API shows and sets too) and its other grants. Objects carry
//! no ACLs of their own: they inherit their bucket's, so a bucket READ grant lets its
//! grantee read the objects as well as list them (on AWS that takes the objects' own ACLs).
//! Object ACL requests other than the owner's (`private`, `bucket-owner-full-control`) are
//! refused, never stored as if honoured.

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
pub struct BucketAcl {
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

impl BucketAcl {
    /// The ACL a canned name stands for on a bucket.
    ///
    /// # Errors
    /// `InvalidArgument` for a name that is not a bucket's canned ACL.
    pub fn canned(name: &str) -> Result<Self, AclError> {
        Ok(match name {
            "private" => Self::default(),
            "public-read" => Self { public_read: true, grants: vec![] },
            "public-read-write" => Self { public_read: true, grants: vec![grant(AclGrantee::AllUsers, AclPermission::Write)] },
            "authenticated-read" => Self { public_read: false, grants: vec![grant(AclGrantee::AuthenticatedUsers, AclPermission::Read)] },
            "log-delivery-write" => Self {
                public_read: false,
                grants: vec![grant(AclGrantee::LogDelivery, AclPermission::Write), grant(AclGrantee::LogDelivery, AclPermission::ReadAcp)],
            },
            _ => return Err(AclError::InvalidArgument(format!("{name} is not a valid canned ACL for a bucket"))),
        })
    }

    /// The ACL of a request's canned ACL or grant headers (`None`: it names neither).
    ///
    /// # Errors
    /// Both at once, or an invalid canned name or grant.
    pub fn from_request(canned: Option<&str>, headers: &GrantHeaders<'_>) -> Result<Option<Self>, AclError> {
        match (canned, headers.any()) {
            (Some(_), true) => Err(AclError::InvalidRequest("Specifying both Canned ACLs and Header Grants is not allowed".into())),
            (Some(name), false) => Self::canned(name).map(Some),
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
    fn from_grants(all: Vec<AclGrant>) -> Self {
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

/// Who asks, as ACL grants see callers.
#[derive(Debug, Clone, Copy)]
pub enum Caller<'a> {
    /// No signature.
    Anonymous,
    /// A key of this tenant.
    Tenant(&'a str),
}

/// Whether `acl` lets `caller` do `op`; public grants count only when `ignore_public` is off.
#[must_use]
pub fn grants(acl: &BucketAcl, caller: Caller<'_>, op: Operation, ignore_public: bool) -> bool {
    let Some(needed) = permission_needed(op) else { return false };
    let covers = |p: AclPermission| p == needed || p == AclPermission::FullControl;
    let applies = |g: &AclGrantee| match (g, caller) {
        (AclGrantee::AllUsers, _) => !ignore_public,
        (AclGrantee::AuthenticatedUsers, Caller::Tenant(_)) => !ignore_public,
        (AclGrantee::Tenant(t), Caller::Tenant(c)) => t == c,
        _ => false,
    };
    (acl.public_read && needed == AclPermission::Read && !ignore_public) || acl.grants.iter().any(|g| covers(g.permission) && applies(&g.grantee))
}

/// Checks an object ACL a write asks for: only the owner's (`private`,
/// `bucket-owner-full-control`, or grants naming only the bucket's tenant) can be kept.
///
/// # Errors
/// `NotSupported` under BucketOwnerEnforced for anything else (as AWS), `NotImplemented`
/// otherwise (tollgate keeps no per-object ACLs).
pub fn check_object_acl(canned: Option<&str>, headers: &GrantHeaders<'_>, owner: &str, ownership: Ownership) -> Result<(), AclError> {
    // The bucket's tenant always has full control of its objects, so the canned ACLs that
    // give the bucket owner control change nothing.
    let owner_only = match canned {
        Some("private" | "bucket-owner-full-control" | "bucket-owner-read") if !headers.any() => true,
        Some("aws-exec-read") if !headers.any() => false,
        _ => BucketAcl::from_request(canned, headers)?.is_none_or(|acl| acl.is_owner_only(owner)),
    };
    if owner_only { Ok(()) } else { Err(object_acl_refusal(ownership)) }
}

/// The refusal of an object ACL that grants to anyone besides the bucket's tenant.
#[must_use]
pub fn object_acl_refusal(ownership: Ownership) -> AclError {
    if ownership == Ownership::BucketOwnerEnforced {
        AclError::NotSupported
    } else {
        AclError::NotImplemented("objects carry no ACLs of their own in tollgate: they inherit their bucket's ACL (set it with PutBucketAcl)")
    }
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
        let acl = BucketAcl::canned("public-read-write").unwrap();
        assert!(acl.public_read);
        assert_eq!(acl.grants, vec![grant(AclGrantee::AllUsers, AclPermission::Write)]);
        assert_eq!(BucketAcl::canned("authenticated-read").unwrap().grants, vec![grant(AclGrantee::AuthenticatedUsers, AclPermission::Read)]);
        assert!(BucketAcl::canned("private").unwrap().is_owner_only("t"));
        assert!(BucketAcl::canned("log-delivery-write").unwrap().grants.iter().all(|g| g.grantee == AclGrantee::LogDelivery));
        assert!(matches!(BucketAcl::canned("bucket-owner-read"), Err(AclError::InvalidArgument(_))));
        assert_eq!(BucketAcl::canned("public-read").unwrap().listed("t").len(), 2);
    }

    #[test]
    fn grant_headers_parse_as_aws_writes_them() {
        let acl = BucketAcl::from_request(None, &headers(Some(r#"id="partner", uri="http://acs.amazonaws.com/groups/global/AllUsers""#), Some("id=other")))
            .unwrap()
            .unwrap();
        assert!(acl.public_read);
        assert_eq!(
            acl.grants,
            vec![grant(AclGrantee::Tenant("partner".into()), AclPermission::Read), grant(AclGrantee::Tenant("other".into()), AclPermission::Write)]
        );
        assert_eq!(acl.tenants().collect::<Vec<_>>(), vec!["partner", "other"]);
        assert!(matches!(BucketAcl::from_request(Some("private"), &headers(Some("id=a"), None)), Err(AclError::InvalidRequest(_))));
        assert!(matches!(BucketAcl::from_request(None, &headers(Some("emailAddress=\"a@b\""), None)), Err(AclError::NotImplemented(_))));
        assert!(matches!(BucketAcl::from_request(None, &headers(Some("uri=\"http://example.com/g\""), None)), Err(AclError::InvalidArgument(_))));
        assert!(matches!(BucketAcl::from_request(None, &headers(Some("nonsense"), None)), Err(AclError::InvalidArgument(_))));
        assert_eq!(BucketAcl::from_request(None, &GrantHeaders::default()).unwrap(), None);
    }

    #[test]
    fn grants_decide_by_operation_and_caller() {
        let acl = BucketAcl {
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
        let full = BucketAcl { public_read: true, grants: vec![grant(AclGrantee::Tenant("p".into()), AclPermission::FullControl)] };
        assert!(grants(&full, Caller::Tenant("p"), Operation::PutBucketAcl, false));
        assert!(grants(&full, Caller::Anonymous, Operation::GetObject, false));
        assert!(!grants(&full, Caller::Anonymous, Operation::GetObject, true));
        assert!(!grants(&full, Caller::Anonymous, Operation::PutObject, false));
    }

    #[test]
    fn object_acls_other_than_the_owners_are_refused_not_ignored() {
        let none = GrantHeaders::default();
        for ownership in [Ownership::BucketOwnerEnforced, Ownership::ObjectWriter] {
            assert_eq!(check_object_acl(None, &none, "t", ownership), Ok(()));
            assert_eq!(check_object_acl(Some("private"), &none, "t", ownership), Ok(()));
            assert_eq!(check_object_acl(Some("bucket-owner-full-control"), &none, "t", ownership), Ok(()));
            assert_eq!(check_object_acl(None, &GrantHeaders { full_control: Some("id=t"), ..none }, "t", ownership), Ok(()));
        }
        assert_eq!(check_object_acl(Some("public-read"), &none, "t", Ownership::BucketOwnerEnforced), Err(AclError::NotSupported));
        assert!(matches!(check_object_acl(Some("public-read"), &none, "t", Ownership::ObjectWriter), Err(AclError::NotImplemented(_))));
        assert!(matches!(check_object_acl(None, &headers(Some("id=x"), None), "t", Ownership::BucketOwnerPreferred), Err(AclError::NotImplemented(_))));
        assert_eq!(Ownership::parse("ObjectWriter"), Ok(Ownership::ObjectWriter));
        assert!(Ownership::parse("Whoever").is_err());
    }
}

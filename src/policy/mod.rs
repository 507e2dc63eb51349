//! Access decisions, made before the backend is touched ([`s3s::access::S3Access`]).
//!
//! [`decide`] is pure: the principal, the kind of operation and the bucket's record in,
//! allow or deny out. [`Policy`] gathers those facts for each request, attaches the
//! principal, and records every denial in the audit log.

use crate::audit::{self, RequestContext};
use crate::auth::{KeyStore, Principal, Role};
use crate::limits::{Class, Limiter};
use crate::obs::metrics::Metrics;
use crate::meta::{BucketRecord, Store, Visibility};

use std::sync::Arc;

use s3s::access::{S3Access, S3AccessContext};
use s3s::dto::CopySource;
use s3s::{S3Request, S3Result};

/// What an operation does, for the access decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// ListBuckets: any signed request (the listing is filtered by tenant).
    ListBuckets,
    /// Reads that a `public-read` bucket opens to anyone.
    PublicRead,
    /// Other reads: the tenant's users.
    Read,
    /// Object writes: the tenant's writers and admins.
    Write,
    /// Bucket creation, deletion and settings: the tenant's admins.
    Manage,
}

/// Classifies an S3 operation by name; anything unknown needs an admin.
#[must_use]
pub fn classify(op: &str) -> Access {
    match op {
        "ListBuckets" => Access::ListBuckets,
        "GetObject" | "HeadObject" | "ListObjects" | "ListObjectsV2" | "HeadBucket" | "GetBucketLocation" => Access::PublicRead,
        "ListObjectVersions" | "GetObjectTagging" | "GetObjectAcl" | "GetBucketAcl" | "GetBucketVersioning" | "ListParts"
        | "ListMultipartUploads" | "GetBucketPolicy" | "GetBucketCors" | "GetBucketLifecycleConfiguration" | "GetBucketEncryption"
        | "GetBucketTagging" | "GetBucketWebsite" => Access::Read,
        "PutObject" | "DeleteObject" | "DeleteObjects" | "CopyObject" | "CreateMultipartUpload" | "UploadPart" | "UploadPartCopy"
        | "CompleteMultipartUpload" | "AbortMultipartUpload" | "PutObjectTagging" | "DeleteObjectTagging" | "PutObjectAcl" => {
            Access::Write
        }
        _ => Access::Manage,
    }
}

/// Why a request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    /// No signature where one is needed.
    Anonymous,
    /// Another tenant's bucket.
    ForeignBucket,
    /// The role does not allow the operation.
    Role,
}

/// The access decision. `bucket` is the record of the bucket addressed (`None`: no bucket
/// in the request, or no such bucket, which the backend then reports).
pub fn decide(p: &Principal, access: Access, bucket: Option<&BucketRecord>) -> Result<(), Denial> {
    let public = bucket.is_some_and(|b| b.visibility == Visibility::PublicRead);
    if p.is_anonymous() {
        return if access == Access::PublicRead && public { Ok(()) } else { Err(Denial::Anonymous) };
    }
    if access == Access::ListBuckets {
        return Ok(());
    }
    if let Some(b) = bucket
        && !p.sees_tenant(&b.tenant)
    {
        return if access == Access::PublicRead && public { Ok(()) } else { Err(Denial::ForeignBucket) };
    }
    let needed = match access {
        Access::ListBuckets | Access::PublicRead | Access::Read => Role::Reader,
        Access::Write => Role::Writer,
        Access::Manage => Role::Admin,
    };
    if p.root || p.role >= needed { Ok(()) } else { Err(Denial::Role) }
}

/// The access check of every S3 request.
pub struct Policy {
    keys: Arc<KeyStore>,
    store: Arc<dyn Store>,
    limiter: Arc<Limiter>,
    metrics: Arc<Metrics>,
}

impl Policy {
    #[must_use]
    pub fn new(keys: Arc<KeyStore>, store: Arc<dyn Store>, limiter: Arc<Limiter>, metrics: Arc<Metrics>) -> Self {
        Self { keys, store, limiter, metrics }
    }

    /// Charges an allowed request to its rate limits: records its admission for the
    /// bodies and headers, or refuses it with 503 SlowDown and Retry-After (audited).
    fn admit(&self, p: &Principal, cx: Option<&RequestContext>, op: &str, access: Access, bucket: &str, key: &str) -> S3Result<()> {
        let Some(cx) = cx else { return Ok(()) };
        let class = match access {
            Access::ListBuckets | Access::PublicRead | Access::Read => Class::Read,
            Access::Write | Access::Manage => Class::Write,
        };
        match self.limiter.admit(p, cx.peer.ip(), class) {
            Ok(admission) => {
                let _ = cx.admission.set(admission);
                Ok(())
            }
            Err(throttled) => {
                self.metrics.denied("throttled");
                tracing::info!(op, bucket, principal = %p.access_key, retry_after_ms = throttled.retry_after.as_millis(), "throttled");
                if let Err(e) = self.store.audit_append(&audit::entry_for(p, Some(cx), op, bucket, key, "throttled", 0)) {
                    tracing::error!(error = %e, "audit append failed");
                }
                let mut err = s3s::s3_error!(SlowDown, "Please reduce your request rate.");
                let mut headers = http::HeaderMap::new();
                let retry = throttled.retry_after.as_secs() + u64::from(throttled.retry_after.subsec_nanos() > 0);
                headers.insert(http::header::RETRY_AFTER, http::HeaderValue::from(retry.max(1)));
                headers.insert("ratelimit-limit", http::HeaderValue::from(throttled.limit));
                headers.insert("ratelimit-remaining", http::HeaderValue::from(0u64));
                headers.insert("ratelimit-reset", http::HeaderValue::from(retry.max(1)));
                err.set_headers(headers);
                Err(err)
            }
        }
    }

    fn bucket(&self, name: &str) -> S3Result<Option<BucketRecord>> {
        self.store.bucket_get(name).map_err(|e| {
            tracing::error!(error = %e, "bucket lookup failed");
            s3s::s3_error!(InternalError)
        })
    }

    /// Checks `access` to `bucket`; a denial is audited and answered AccessDenied, never
    /// revealing whether a key exists.
    fn enforce(&self, p: &Principal, cx: Option<&RequestContext>, op: &str, access: Access, bucket: &str, key: &str) -> S3Result<()> {
        // CreateBucket names a bucket that should not exist yet: a taken name is the
        // backend's BucketAlreadyExists, not a denial.
        let record = if bucket.is_empty() || op == "CreateBucket" { None } else { self.bucket(bucket)? };
        match decide(p, access, record.as_ref()) {
            Ok(()) => Ok(()),
            Err(why) => {
                self.metrics.denied(match why {
                    Denial::Anonymous => "anonymous",
                    Denial::ForeignBucket => "foreign_bucket",
                    Denial::Role => "role",
                });
                tracing::info!(op, bucket, reason = ?why, principal = %p.access_key, "access denied");
                if let Err(e) = self.store.audit_append(&audit::entry_for(p, cx, op, bucket, key, "denied", 0)) {
                    tracing::error!(error = %e, "audit append failed");
                }
                Err(s3s::s3_error!(AccessDenied, "Access Denied"))
            }
        }
    }

    /// A copy reads its source: the caller must be allowed to GET it too (so a
    /// public-read source may be copied, as it may be downloaded).
    fn check_copy_source<T>(&self, req: &S3Request<T>, op: &str, source: &CopySource) -> S3Result<()> {
        let CopySource::Bucket { bucket, key, .. } = source else { return Ok(()) };
        let p = Principal::of(req);
        self.enforce(&p, req.extensions.get::<RequestContext>(), op, Access::PublicRead, bucket, key)
    }
}

#[async_trait::async_trait]
impl S3Access for Policy {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        let principal = match cx.credentials() {
            Some(creds) => self.keys.principal(&creds.access_key).ok_or_else(|| s3s::s3_error!(InvalidAccessKeyId))?,
            None => Principal::anonymous(),
        };
        let op = cx.s3_op().name().to_owned();
        let op = op.as_str();
        let (bucket, key) = match cx.s3_path() {
            s3s::path::S3Path::Root => ("", ""),
            s3s::path::S3Path::Bucket { bucket } => (bucket.as_ref(), ""),
            s3s::path::S3Path::Object { bucket, key } => (bucket.as_ref(), key.as_ref()),
        };
        if bucket == crate::admin::RESERVED_SEGMENT {
            return Err(s3s::s3_error!(InvalidBucketName));
        }
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        let rcx = cx.extensions_mut().get::<RequestContext>().cloned();
        if let Some(rcx) = &rcx {
            let _ = rcx.operation.set(crate::obs::metrics::operation_label(op));
        }
        let access = classify(op);
        self.enforce(&principal, rcx.as_ref(), op, access, &bucket, &key)?;
        self.admit(&principal, rcx.as_ref(), op, access, &bucket, &key)?;
        cx.extensions_mut().insert(principal);
        Ok(())
    }

    async fn copy_object(&self, req: &mut S3Request<s3s::dto::CopyObjectInput>) -> S3Result<()> {
        self.check_copy_source(req, "CopyObject", &req.input.copy_source)
    }

    async fn upload_part_copy(&self, req: &mut S3Request<s3s::dto::UploadPartCopyInput>) -> S3Result<()> {
        self.check_copy_source(req, "UploadPartCopy", &req.input.copy_source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(tenant: &str, role: Role) -> Principal {
        Principal { tenant: tenant.into(), user: "u".into(), access_key: format!("K-{tenant}-{role:?}"), role, root: false }
    }

    fn bucket(tenant: &str, visibility: Visibility) -> BucketRecord {
        BucketRecord { name: "b".into(), created_ns: 0, tenant: tenant.into(), objects: 0, bytes: 0, visibility, quota: crate::meta::Quota::default() }
    }

    const ALL: [Access; 5] = [Access::ListBuckets, Access::PublicRead, Access::Read, Access::Write, Access::Manage];

    #[test]
    fn roles_within_the_own_tenant() {
        let own = bucket("a", Visibility::Private);
        for (role, allowed) in [
            (Role::Reader, vec![Access::ListBuckets, Access::PublicRead, Access::Read]),
            (Role::Writer, vec![Access::ListBuckets, Access::PublicRead, Access::Read, Access::Write]),
            (Role::Admin, ALL.to_vec()),
        ] {
            for access in ALL {
                let got = decide(&principal("a", role), access, Some(&own)).is_ok();
                assert_eq!(got, allowed.contains(&access), "{role:?} {access:?}");
            }
        }
    }

    #[test]
    fn foreign_buckets_are_closed_except_public_reads() {
        for vis in [Visibility::Private, Visibility::PublicRead] {
            let foreign = bucket("b", vis);
            for role in [Role::Reader, Role::Writer, Role::Admin] {
                for access in [Access::Read, Access::Write, Access::Manage] {
                    assert_eq!(decide(&principal("a", role), access, Some(&foreign)), Err(Denial::ForeignBucket));
                }
                let public_read = decide(&principal("a", role), Access::PublicRead, Some(&foreign));
                assert_eq!(public_read.is_ok(), vis == Visibility::PublicRead);
            }
        }
    }

    #[test]
    fn anonymous_may_only_read_public_buckets() {
        let anon = Principal::anonymous();
        for access in ALL {
            for vis in [Visibility::Private, Visibility::PublicRead] {
                let ok = decide(&anon, access, Some(&bucket("a", vis))).is_ok();
                assert_eq!(ok, access == Access::PublicRead && vis == Visibility::PublicRead, "{access:?} {vis:?}");
            }
            assert!(decide(&anon, access, None).is_err());
        }
    }

    #[test]
    fn root_manages_every_tenant() {
        let mut root = principal("root", Role::Admin);
        root.root = true;
        for access in ALL {
            assert!(decide(&root, access, Some(&bucket("other", Visibility::Private))).is_ok());
        }
    }

    #[test]
    fn operations_are_classified() {
        assert_eq!(classify("GetObject"), Access::PublicRead);
        assert_eq!(classify("ListMultipartUploads"), Access::Read);
        assert_eq!(classify("CompleteMultipartUpload"), Access::Write);
        assert_eq!(classify("DeleteBucket"), Access::Manage);
        assert_eq!(classify("PutBucketLifecycleConfiguration"), Access::Manage);
    }
}

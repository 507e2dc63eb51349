//! Access decisions, made before the backend is touched ([`s3s::access::S3Access`]).
//!
//! [`decide`] is pure: the principal, the kind of operation and the bucket's record in,
//! allow or deny out. [`Policy`] gathers those facts for each request, attaches the
//! principal, and records every denial in the audit log.

use crate::audit::{self, Outcome};
use crate::auth::{KeyStore, Principal, Role};
use crate::context::RequestContext;
pub mod acl;
pub mod conditions;
pub mod config;
pub mod cors;
pub mod document;
pub mod topics;

use crate::limits::{Class, Limiter};
use crate::meta::AuditEntry;
use crate::meta::{BucketRecord, ReadMode, Store, Visibility, WriteMode};
use crate::obs::metrics::Metrics;
use document::Verdict;
use topics::{TopicDenial, TopicKey, TopicOp, Topics};

use s3s::dto::ETagCondition;

use std::sync::Arc;

use futures::StreamExt;

use s3s::access::{S3Access, S3AccessContext};
use s3s::dto::CopySource;
use s3s::{S3Request, S3Result};

pub use crate::ops::Access;
use crate::ops::{Operation, TopicAction};

/// Upstream lookups of object tags in flight at once for one DeleteObjects.
const TAG_LOOKUPS_AT_ONCE: usize = 8;

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
/// in the request, or the one a CreateBucket names; a request on a bucket that does not
/// exist never gets here, see [`Policy::addressed`]).
///
/// A public-read bucket (its ACL's `AllUsers` READ) lets anyone read, unless `ignore_public`
/// (Block Public Access's IgnorePublicAcls).
pub fn decide(p: &Principal, access: Access, bucket: Option<&BucketRecord>, ignore_public: bool) -> Result<(), Denial> {
    let public = !ignore_public && bucket.is_some_and(|b| b.visibility == Visibility::PublicRead);
    let Some(identity) = p.identity() else {
        return if access == Access::PublicRead && public { Ok(()) } else { Err(Denial::Anonymous) };
    };
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
    if identity.root || identity.role >= needed { Ok(()) } else { Err(Denial::Role) }
}

/// What a bucket policy's conditions read of a request.
struct RequestView<'a> {
    headers: &'a http::HeaderMap,
    query: &'a str,
    source: Option<std::net::IpAddr>,
    secure: bool,
    /// The addressed object's tags as [`Policy::existing_tags`] read them; `None`: the
    /// index's, looked up if a condition asks.
    existing_tags: Option<Vec<(String, String)>>,
}

impl<'a> RequestView<'a> {
    fn of(headers: &'a http::HeaderMap, query: &'a str, cx: Option<&RequestContext>) -> Self {
        Self { headers, query, source: cx.map(|c| c.peer.ip()), secure: cx.is_some_and(|c| c.secure), existing_tags: None }
    }

    fn with_existing_tags(self, existing_tags: Option<Vec<(String, String)>>) -> Self {
        Self { existing_tags, ..self }
    }
}

/// The access check of every S3 request.
pub struct Policy {
    keys: Arc<KeyStore>,
    store: Arc<dyn Store>,
    limiter: Arc<Limiter>,
    metrics: Arc<Metrics>,
    topics: Arc<Topics>,
    configs: Arc<config::BucketConfigs>,
    /// Largest object or part accepted (`storage.max_object_size`).
    max_object_size: u64,
    /// Asked again for a bucket not known here (made on another instance a moment ago?).
    control: Arc<crate::backend::control::ControlPlane>,
    /// Where an object stored at its key upstream keeps its tags (see `existing_tags`).
    backends: Arc<crate::backend::placement::Backends>,
}

fn refuse(code: s3s::S3ErrorCode, msg: impl Into<std::borrow::Cow<'static, str>>) -> s3s::S3Error {
    s3s::S3Error::with_message(code, msg)
}

/// The essence of a content type (`text/plain; charset=utf-8` → `text/plain`).
fn essence(ct: &str) -> &str {
    ct.split(';').next().unwrap_or("").trim()
}

impl Policy {
    /// Whether the request names what this instance does not know and another instance
    /// of its cluster may have made a moment ago: its bucket, an SSE-KMS key (given in
    /// a header), or every bucket (a ListBuckets).
    fn names_unknown(&self, op: Operation, bucket: &str, headers: &http::HeaderMap) -> s3s::S3Result<bool> {
        if op == Operation::ListBuckets {
            return Ok(true);
        }
        if !bucket.is_empty() && op != Operation::CreateBucket && self.bucket(bucket)?.is_none() {
            return Ok(true);
        }
        let kms_key = headers.get("x-amz-server-side-encryption-aws-kms-key-id").and_then(|v| v.to_str().ok());
        let kms_key = kms_key.and_then(|k| crate::backend::sealed::kms_key_id(k).ok());
        Ok(match kms_key {
            Some(id) => self
                .store
                .keyring_get(id)
                .map_err(|e| {
                    tracing::error!(error = %e, "keyring lookup failed");
                    s3s::s3_error!(InternalError)
                })?
                .is_none(),
            None => false,
        })
    }
    /// The access check over its parts; an object or part declared larger than `max_object_size` bytes is refused (EntityTooLarge).
    #[must_use]
    pub fn new(
        keys: Arc<KeyStore>,
        store: Arc<dyn Store>,
        limiter: Arc<Limiter>,
        metrics: Arc<Metrics>,
        rules: (Arc<Topics>, Arc<config::BucketConfigs>),
        max_object_size: u64,
        planes: (Arc<crate::backend::control::ControlPlane>, Arc<crate::backend::placement::Backends>),
    ) -> Self {
        let (topics, configs) = rules;
        let (control, backends) = planes;
        Self { keys, store, limiter, metrics, topics, configs, max_object_size, control, backends }
    }

    /// The tags an `s3:ExistingObjectTag` condition sees for `bucket`/`key` (`version`):
    /// `None` (the index's, looked up if a condition asks) unless the bucket's policy asks
    /// for them and its objects are stored at their keys upstream. There another instance
    /// of a cluster, or a writer past the gateway, may have stored or re-tagged the object
    /// without this index knowing: the upstream's tags are asked now (one request). A
    /// lookup that fails refuses the request, as a Deny on a tag cannot be ruled out.
    /// Root, which no policy denies, is not asked for. The request (`op`) is charged to
    /// its rate limits before the upstream is asked, so that a throttled client cannot
    /// make the gateway send the upstream one request per refusal.
    async fn existing_tags(
        &self,
        p: &Principal,
        cx: Option<&RequestContext>,
        op: Operation,
        target: (&str, &str, Option<&str>),
    ) -> S3Result<Option<Vec<(String, String)>>> {
        let (bucket, key, version) = target;
        if key.is_empty() || p.is_root() || !self.configs.of(bucket).policy.as_ref().is_some_and(document::BucketPolicy::asks_existing_tags) {
            return Ok(None);
        }
        let objects = self.backends.of(bucket);
        if !objects.stores_at_key(bucket)? {
            return Ok(None);
        }
        self.admit(p, cx, op, bucket, key)?;
        match objects.tags(bucket, key, version).await {
            Ok((_, tags)) => Ok(Some(tags)),
            Err(crate::backend::Error::NoSuchKey | crate::backend::Error::NoSuchVersion | crate::backend::Error::DeleteMarker { .. }) => Ok(Some(Vec::new())),
            Err(e) => {
                tracing::warn!(error = %e, bucket, key, "an object's tags for a policy condition could not be read");
                Err(s3s::s3_error!(ServiceUnavailable, "The object's tags, which the bucket policy asks for, could not be read."))
            }
        }
    }

    /// Refuses at once, before its body is read, a write whose declared size is over the
    /// object size limit or the room left by the bucket's and tenant's quotas (the commit
    /// re-checks what really arrived).
    fn declared_size_rules(&self, bucket: &str, key: Option<&str>, size: Option<u64>) -> S3Result<()> {
        let Some(size) = size else { return Ok(()) };
        if size > self.max_object_size {
            return Err(refuse(
                s3s::S3ErrorCode::EntityTooLarge,
                format!("Your proposed upload exceeds the maximum allowed object size ({} bytes).", self.max_object_size),
            ));
        }
        let (Some(key), Some(record)) = (key, self.bucket(bucket)?) else { return Ok(()) };
        let internal = |e: crate::meta::Error| {
            tracing::error!(error = %e, "quota lookup failed");
            s3s::s3_error!(InternalError)
        };
        let old = self.store.object_get(bucket, key).map_err(internal)?.map(|o| o.size);
        let mut verdict = record.quota.admits(record.objects, record.bytes, old, size);
        if verdict.is_ok()
            && let Some(tenant) = self.store.tenant_get(&record.tenant).map_err(internal)?
            && !tenant.quota.is_unlimited()
        {
            let (objects, bytes) = self.store.tenant_usage(&record.tenant).map_err(internal)?;
            verdict = tenant.quota.admits(objects, bytes, old, size);
        }
        verdict.map_err(|why| {
            let mut e = refuse(s3s::S3ErrorCode::Custom("QuotaExceeded".into()), format!("Quota exceeded: {why}"));
            e.set_status_code(http::StatusCode::FORBIDDEN);
            e
        })
    }

    fn deny(&self, p: &Principal, cx: Option<&RequestContext>, op: Operation, bucket: &str, key: &str, reason: &'static str) -> s3s::S3Error {
        self.deny_by(p, cx, (op, bucket, key), reason, reason.to_owned())
    }

    /// A denial whose audit entry names what decided it (`policy:{Sid}`, or the reason).
    fn deny_by(&self, p: &Principal, cx: Option<&RequestContext>, target: (Operation, &str, &str), reason: &'static str, decided_by: String) -> s3s::S3Error {
        let (op, bucket, key) = target;
        self.metrics.denied(reason);
        tracing::info!(op = op.name(), bucket, reason, decided_by, principal = %p.access_key(), "access denied");
        // An anonymous denial is audited by the server with the others of its source
        // address and minute (audit::DenialLog): one entry each would let a flood fill the disk.
        if !p.is_anonymous() {
            let entry = AuditEntry { decided_by, ..audit::entry_for(p, cx, op, bucket, key, Outcome::Denied, 0) };
            if let Err(e) = self.store.audit_append(&entry) {
                tracing::error!(error = %e, "audit append failed");
            }
        }
        s3s::s3_error!(AccessDenied, "Access Denied")
    }

    /// The bucket policy's verdict on `action` over `bucket`/`key` for this request, and
    /// whether the policy is public; `NotApplicable` without a policy, and for root, which
    /// no policy denies.
    fn policy_verdict(&self, p: &Principal, request: &RequestView<'_>, action: &str, bucket: &str, key: &str) -> (Verdict, bool) {
        let config = self.configs.of(bucket);
        let Some(policy) = &config.policy else { return (Verdict::NotApplicable, false) };
        let caller = match p.identity() {
            Some(i) if i.root => return (Verdict::NotApplicable, false),
            Some(i) => document::Caller::User { tenant: &i.tenant, user: &i.user },
            None => document::Caller::Anonymous,
        };
        let conditions = conditions::RequestConditions {
            principal: p,
            source: request.source,
            source_text: std::sync::OnceLock::new(),
            secure_transport: request.secure,
            headers: request.headers,
            query: request.query,
            bucket_owner: std::sync::OnceLock::new(),
            bucket_tags: &config.tags,
            object: Some((self.store.as_ref(), bucket, key)),
            object_tags: request.existing_tags.clone().map(std::sync::OnceLock::from).unwrap_or_default(),
        };
        let resource = if key.is_empty() { format!("arn:aws:s3:::{bucket}") } else { format!("arn:aws:s3:::{bucket}/{key}") };
        (policy.evaluate(&document::Facts { caller, action, resource: &resource, context: &conditions }), policy.is_public())
    }

    /// Refuses a request an explicit Deny of the bucket policy names.
    fn policy_deny(&self, p: &Principal, cx: Option<&RequestContext>, target: (Operation, &str, &str), verdict: &Verdict) -> S3Result<()> {
        match verdict {
            Verdict::Deny { sid } => Err(self.deny_by(p, cx, target, "policy", format!("policy:{}", sid.as_deref().unwrap_or("")))),
            _ => Ok(()),
        }
    }

    /// Applies the bucket's topic rules, if the request falls under a topic: `Ok(true)`
    /// when they allowed it (the tenant rules then do not apply: a mailbox takes writes
    /// from other tenants), `Ok(false)` when no topic is concerned.
    fn topic_check(&self, p: &Principal, cx: Option<&RequestContext>, op: Operation, bucket: &str, key: &str, query: &str) -> S3Result<bool> {
        let rules = self.topics.of(bucket);
        if rules.is_empty() {
            return Ok(false);
        }
        let Some(record) = self.bucket(bucket)? else {
            return Ok(false);
        };
        let Some(action) = op.topic_action() else {
            return Ok(false);
        };
        if action == TopicAction::List {
            // A listing inside an open or public topic is allowed to those its read mode
            // lets in; every listing of the bucket is then filtered key by key.
            let prefix = crate::names::form_value(query, "prefix").unwrap_or_default();
            return Ok(match topics::listing_topic(&rules, &prefix).map(|r| r.read) {
                Some(ReadMode::Public) => true,
                Some(ReadMode::Open) if !p.is_anonymous() => true,
                _ => false,
            });
        }
        let Some(t) = topics::locate(&rules, key) else {
            return Ok(false);
        };
        let what = match action {
            TopicAction::Read => TopicOp::Read,
            TopicAction::Delete => TopicOp::Delete,
            _ if self.object_exists(bucket, key)? => TopicOp::Overwrite,
            _ => TopicOp::Create,
        };
        match topics::decide(p, &record.tenant, &t, what) {
            Ok(()) if matches!(what, TopicOp::Create | TopicOp::Overwrite) && !p.is_root() && !self.is_user(&record.tenant, t.owner)? => {
                // Open topics take writes from anyone, but only into the space of a user of
                // the bucket's tenant (the README's `{owner}`), never an invented one.
                Err(self.deny(p, cx, op, bucket, key, "topic"))
            }
            Ok(()) => Ok(true),
            Err(TopicDenial::Immutable) => Err(self.deny(p, cx, op, bucket, key, "topic_immutable")),
            Err(_) => Err(self.deny(p, cx, op, bucket, key, "topic")),
        }
    }

    fn is_user(&self, tenant: &str, name: &str) -> S3Result<bool> {
        self.store.user_get(tenant, name).map(|u| u.is_some()).map_err(|e| {
            tracing::error!(error = %e, "user lookup failed");
            s3s::s3_error!(InternalError)
        })
    }

    fn object_exists(&self, bucket: &str, key: &str) -> S3Result<bool> {
        self.store.object_get(bucket, key).map(|o| o.is_some()).map_err(|e| {
            tracing::error!(error = %e, "object lookup failed");
            s3s::s3_error!(InternalError)
        })
    }

    /// The rules of a write of `size` bytes of `content_type` under a topic: size, type,
    /// and for `single-*` topics the optimistic lock (and one object per owner).
    fn topic_write_rules(t: &TopicKey<'_>, size: Option<u64>, content_type: Option<&str>) -> S3Result<()> {
        let r = t.rule;
        if r.max_size > 0 && size.is_some_and(|n| n > r.max_size) {
            return Err(refuse(s3s::S3ErrorCode::EntityTooLarge, format!("objects under topic {} are at most {} bytes", r.topic, r.max_size)));
        }
        if !r.content_types.is_empty() && !content_type.is_some_and(|ct| r.content_types.iter().any(|a| a == essence(ct))) {
            return Err(refuse(
                s3s::S3ErrorCode::InvalidArgument,
                format!("content type {:?} is not accepted under topic {} (accepted: {})", content_type.unwrap_or(""), r.topic, r.content_types.join(", ")),
            ));
        }
        Ok(())
    }

    /// `single-*` topics: a write carries `If-Match` (replace) or `If-None-Match: *`
    /// (create), and a create finds no other object of the owner's.
    fn single_lock_rules(&self, t: &TopicKey<'_>, bucket: &str, key: &str, if_match: bool, if_none_match_any: bool) -> S3Result<()> {
        if !matches!(t.rule.write, WriteMode::SingleAuth | WriteMode::SingleOpen) {
            return Ok(());
        }
        if !if_match && !if_none_match_any {
            return Err(refuse(
                s3s::S3ErrorCode::PreconditionFailed,
                format!("writes under topic {} must carry If-Match with the current ETag, or If-None-Match: * to create", t.rule.topic),
            ));
        }
        if if_none_match_any {
            let owner_prefix = format!("{}/{}/", t.rule.topic, t.owner);
            let other = self.store.object_scan(bucket, &owner_prefix, None).find_map(|r| r.ok().map(|(k, _)| k).filter(|k| k != key));
            if let Some(other) = other {
                return Err(refuse(
                    s3s::S3ErrorCode::PreconditionFailed,
                    format!("topic {} holds one object per owner: replace {other} with If-Match", t.rule.topic),
                ));
            }
        }
        Ok(())
    }

    /// A read of `bucket/key` (a GET, or a copy's source): the topic's read mode if the
    /// key is under one, else the tenant rules.
    fn authorize_read(&self, p: &Principal, cx: Option<&RequestContext>, request: &RequestView<'_>, op: Operation, source: Target<'_>) -> S3Result<()> {
        let Target { bucket, key, version, .. } = source;
        let verdict = self.policy_verdict(p, request, Operation::GetObject.iam_action(version.is_some()), bucket, key);
        self.policy_deny(p, cx, (op, bucket, key), &verdict.0)?;
        let rules = self.topics.of(bucket);
        if let Some(t) = topics::locate(&rules, key)
            && let Some(record) = self.bucket(bucket)?
        {
            return topics::decide(p, &record.tenant, &t, TopicOp::Read).map_err(|_| self.deny(p, cx, op, bucket, key, "topic"));
        }
        // ACLs are asked for READ, as for a GET of it.
        self.enforce(p, cx, Asked { op, access: Access::PublicRead, acl_as: Operation::GetObject }, source, verdict)
    }

    /// Charges an allowed request to its rate limits: records its admission for the
    /// bodies and headers, or refuses it with 503 SlowDown and Retry-After (audited).
    /// A request is charged once: one admitted already, before an upstream lookup its
    /// decision needed (`existing_tags`), passes.
    fn admit(&self, p: &Principal, cx: Option<&RequestContext>, op: Operation, bucket: &str, key: &str) -> S3Result<()> {
        let Some(cx) = cx.filter(|cx| cx.admission.get().is_none()) else { return Ok(()) };
        let class = if op.writes() { Class::Write } else { Class::Read };
        match self.limiter.admit(p, cx.peer.ip(), class) {
            Ok(admission) => {
                let _ = cx.admission.set(admission);
                Ok(())
            }
            Err(throttled) => {
                self.metrics.denied("throttled");
                tracing::info!(op = op.name(), bucket, principal = %p.access_key(), retry_after_ms = throttled.retry_after.as_millis(), "throttled");
                if let Err(e) = self.store.audit_append(&audit::entry_for(p, Some(cx), op, bucket, key, Outcome::Throttled, 0)) {
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

    /// The record of the bucket a request addresses. A bucket that does not exist is
    /// `404 NoSuchBucket` whoever asks (anonymous, presigned, any role), as on S3: only a
    /// bucket that exists and is not the caller's is `403`. An `expected_owner`
    /// (`x-amz-expected-bucket-owner`, or `x-amz-source-expected-bucket-owner` for a copy's
    /// source) that is not the owning tenant's canonical id (the `Owner` ID of ListBuckets
    /// and GetBucketAcl) is `403 AccessDenied` (audited).
    fn addressed(
        &self,
        p: &Principal,
        cx: Option<&RequestContext>,
        op: Operation,
        bucket: &str,
        key: &str,
        expected_owner: Option<&str>,
    ) -> S3Result<BucketRecord> {
        let Some(record) = self.bucket(bucket)? else {
            tracing::info!(op = op.name(), bucket, principal = %p.access_key(), "no such bucket");
            return Err(s3s::s3_error!(NoSuchBucket, "The specified bucket does not exist"));
        };
        if let Some(expected) = expected_owner
            && crate::backend::s3util::owner(&record.tenant).id.as_deref() != Some(expected)
        {
            return Err(self.deny(p, cx, op, bucket, key, "expected_owner"));
        }
        Ok(record)
    }

    fn bucket(&self, name: &str) -> S3Result<Option<BucketRecord>> {
        self.store.bucket_get(name).map_err(|e| {
            tracing::error!(error = %e, "bucket lookup failed");
            s3s::s3_error!(InternalError)
        })
    }

    /// Checks `access` to `bucket`; a denial is audited and answered AccessDenied, never
    /// revealing whether a key exists.
    /// The policy's verdict (`policy`) can allow what the tenant rules and ACL do not.
    fn enforce(&self, p: &Principal, cx: Option<&RequestContext>, asked: Asked, target: Target<'_>, policy: (Verdict, bool)) -> S3Result<()> {
        let Asked { op, access, acl_as } = asked;
        let Target { bucket, key, .. } = target;
        // CreateBucket names a bucket that should not exist yet: a taken name is the
        // backend's BucketAlreadyExists, not a denial.
        let looked_up;
        let record = match target.record {
            Some(known) => Some(known),
            None if bucket.is_empty() || op == Operation::CreateBucket => None,
            None => {
                looked_up = self.bucket(bucket)?;
                looked_up.as_ref()
            }
        };
        let block = if record.is_some() { self.configs.public_access_block(bucket) } else { acl::PublicAccessBlock::default() };
        let granted = |by: String| {
            if let Some(cx) = cx {
                let _ = cx.granted_by.set(by);
            }
        };
        let own = record.is_some_and(|r| p.sees_tenant(&r.tenant));
        match decide(p, access, record, block.ignore_public_acls) {
            Ok(()) => {
                if !own && record.is_some() && !p.is_root() {
                    granted("public-read".into());
                }
                Ok(())
            }
            Err(_) if record.is_some_and(|r| self.acl_grants(p, acl_as, r, block.ignore_public_acls)) => {
                granted(format!("acl:{:?}", acl::permission_needed(acl_as).unwrap_or(crate::meta::AclPermission::FullControl)));
                Ok(())
            }
            Err(_) if self.object_acl_grants(p, acl_as, target, block.ignore_public_acls) => {
                granted(format!("object-acl:{:?}", acl::object_permission_needed(acl_as).unwrap_or(crate::meta::AclPermission::FullControl)));
                if let Some(cx) = cx {
                    let _ = cx.object_grant.set((bucket.to_owned(), key.to_owned()));
                }
                Ok(())
            }
            // RestrictPublicBuckets: a public policy lets in the bucket's own tenant only.
            Err(_) if matches!(&policy.0, Verdict::Allow { .. }) && !(policy.1 && block.restrict_public_buckets && !own) => {
                if let Verdict::Allow { sid } = policy.0 {
                    granted(format!("policy:{}", sid.unwrap_or_default()));
                }
                Ok(())
            }
            Err(why) => Err(self.deny(
                p,
                cx,
                op,
                bucket,
                key,
                match why {
                    Denial::Anonymous => "anonymous",
                    Denial::ForeignBucket => "foreign_bucket",
                    Denial::Role => "role",
                },
            )),
        }
    }

    /// Whether the bucket's ACL grants `op` to `p` (who is not allowed it as a tenant user).
    fn acl_grants(&self, p: &Principal, op: Operation, record: &BucketRecord, ignore_public: bool) -> bool {
        let grants = &self.configs.of(&record.name).acl_grants;
        let Some(needed) = acl::permission_needed(op) else { return false };
        !grants.is_empty() && acl::grants(&acl::Acl::of(crate::meta::Visibility::Private, grants), acl_caller(p), needed, ignore_public)
    }

    /// Whether the ACL of the object version `target` names grants `op` to `p`. Looked up
    /// only for a request nothing else allowed, and never under BucketOwnerEnforced (ACLs
    /// disabled).
    fn object_acl_grants(&self, p: &Principal, op: Operation, target: Target<'_>, ignore_public: bool) -> bool {
        let Some(needed) = acl::object_permission_needed(op) else { return false };
        if target.key.is_empty() || self.configs.ownership(target.bucket) == acl::Ownership::BucketOwnerEnforced {
            return false;
        }
        let record = match target.version {
            Some(id) => self.store.version_get(target.bucket, target.key, id).map(|v| v.and_then(|v| v.object)),
            None => self.store.object_get(target.bucket, target.key),
        };
        match record {
            Ok(Some(record)) => !record.acl.is_empty() && acl::grants(&acl::Acl::from_grants(record.acl), acl_caller(p), needed, ignore_public),
            Ok(None) => false,
            Err(e) => {
                tracing::error!(error = %e, "object lookup for its ACL failed");
                false
            }
        }
    }

    /// A copy reads its source: the caller must be allowed to GET it too (so a
    /// public-read source may be copied, as it may be downloaded).
    async fn check_copy_source<T: Sync>(&self, req: &S3Request<T>, op: Operation, source: &CopySource) -> S3Result<()> {
        let CopySource::Bucket { bucket, key, version_id } = source else {
            return Ok(());
        };
        let p = Principal::of(req);
        let cx = req.extensions.get::<RequestContext>();
        let expected = req.headers.get("x-amz-source-expected-bucket-owner").map(|v| v.to_str().unwrap_or("\u{0}"));
        let record = self.addressed(&p, cx, op, bucket, key, expected)?;
        let tags = self.existing_tags(&p, cx, op, (bucket, key, version_id.as_deref())).await?;
        let request = RequestView::of(&req.headers, req.uri.query().unwrap_or(""), cx).with_existing_tags(tags);
        self.authorize_read(&p, cx, &request, op, Target { bucket, key, version: version_id.as_deref(), record: Some(&record) })
    }
}

impl Policy {
    /// The decision on `op` over `bucket`/`key`: the bucket policy's explicit Deny, then
    /// the topic rules or the tenant rules, ACL grants and policy Allow. Made in `check`;
    /// for a form upload in its hook, once the form's key is known; for a DeleteObjects on
    /// a bucket with a policy in its hook, key by key.
    ///
    /// `target` names the version id in the query, or a DeleteObjects entry's.
    fn authorize(&self, p: &Principal, rcx: Option<&RequestContext>, request: &RequestView<'_>, op: Operation, target: Target<'_>) -> S3Result<()> {
        let Target { bucket, key, version, .. } = target;
        let verdict =
            if bucket.is_empty() { (Verdict::NotApplicable, false) } else { self.policy_verdict(p, request, op.iam_action(version.is_some()), bucket, key) };
        // An explicit Deny wins over everything, topic rules included (root excepted).
        self.policy_deny(p, rcx, (op, bucket, key), &verdict.0)?;
        if self.topic_check(p, rcx, op, bucket, key, request.query)? {
            if let Some(rcx) = rcx {
                let _ = rcx.granted_by.set("topic".into());
            }
        } else {
            self.enforce(p, rcx, Asked { op, access: op.access(), acl_as: op }, target, verdict)?;
        }
        Ok(())
    }
}

/// What a request asks, as [`Policy::enforce`] decides it: the operation (audited), the
/// access the tenant rules check, and the operation ACL grants are asked for (a copy's
/// source is read: READ, as a GET of it).
#[derive(Debug, Clone, Copy)]
struct Asked {
    op: Operation,
    access: Access,
    acl_as: Operation,
}

/// What a request addresses: a bucket, a key in it (empty: the bucket) and a version id;
/// with the bucket's record when the caller has read it already (one lookup per request).
#[derive(Debug, Clone, Copy)]
struct Target<'a> {
    bucket: &'a str,
    key: &'a str,
    version: Option<&'a str>,
    record: Option<&'a BucketRecord>,
}

/// How ACL grants see a principal.
fn acl_caller(p: &Principal) -> acl::Caller<'_> {
    match p.identity() {
        Some(identity) => acl::Caller::Tenant(&identity.tenant),
        None => acl::Caller::Anonymous,
    }
}

/// The [`ObjectWrite`] of a PutObject or PostObject input (the same fields, two types).
macro_rules! object_write {
    ($input:expr) => {
        ObjectWrite {
            bucket: &$input.bucket,
            key: &$input.key,
            content_length: $input.content_length,
            content_type: $input.content_type.as_deref(),
            if_match: $input.if_match.is_some(),
            if_none_match: &mut $input.if_none_match,
            checksum_sha256: &mut $input.checksum_sha256,
        }
    };
}

/// What the rules of an object write (PutObject, PostObject) look at, and the two fields
/// they may set (append topics add `If-None-Match: *`, content-addressed ones the SHA-256
/// the body must have).
struct ObjectWrite<'a> {
    bucket: &'a str,
    key: &'a str,
    content_length: Option<i64>,
    content_type: Option<&'a str>,
    if_match: bool,
    if_none_match: &'a mut Option<ETagCondition>,
    checksum_sha256: &'a mut Option<String>,
}

impl Policy {
    /// The rules of a PutObject, and of a PostObject (the same write, from a form): the
    /// declared size against the limits and quotas, then the key's topic rules.
    fn object_write_rules(&self, w: ObjectWrite<'_>) -> S3Result<()> {
        let declared = w.content_length.and_then(|n| u64::try_from(n).ok());
        self.declared_size_rules(w.bucket, Some(w.key), declared)?;
        let rules = self.topics.of(w.bucket);
        let Some(t) = topics::locate(&rules, w.key) else {
            return Ok(());
        };
        Self::topic_write_rules(&t, declared, w.content_type)?;
        let if_none_match_any = w.if_none_match.as_ref().is_some_and(ETagCondition::is_any);
        self.single_lock_rules(&t, w.bucket, w.key, w.if_match, if_none_match_any)?;
        if matches!(t.rule.write, WriteMode::AppendAuth | WriteMode::AppendOpen) {
            // Immutable: even a racing writer cannot replace what another just stored.
            *w.if_none_match = Some(ETagCondition::Any);
        }
        if t.rule.content_addressed {
            // The backend verifies x-amz-checksum-sha256 while the body streams and stores
            // nothing on a mismatch: the name is that checksum.
            let digest = (t.name.len() == 64 && t.name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
                .then(|| hex_simd::decode_to_vec(t.name).ok())
                .flatten()
                .ok_or_else(|| {
                    refuse(s3s::S3ErrorCode::BadDigest, format!("under topic {} the name must be the lower-case hex SHA-256 of the body", t.rule.topic))
                })?;
            *w.checksum_sha256 = Some(base64_simd::STANDARD.encode_to_string(digest));
        }
        Ok(())
    }
}

/// What S3 checks of a form that s3s 0.14 does not: encryption fields must be in the
/// policy like any other (s3s exempts them, as MinIO does), and a redirect must be a URL
/// (s3s refuses one that is not only after the object is stored).
fn post_form_rules(i: &s3s::dto::PostObjectInput, policy: Option<&s3s::post_policy::PostPolicy>) -> S3Result<()> {
    if let Some(policy) = policy {
        let covered = |field: &str| {
            policy.conditions.iter().any(|c| match c {
                s3s::post_policy::PostPolicyCondition::Eq { field: f, .. } | s3s::post_policy::PostPolicyCondition::StartsWith { field: f, .. } => f == field,
                s3s::post_policy::PostPolicyCondition::ContentLengthRange { .. } => false,
            })
        };
        let sse = [
            ("x-amz-server-side-encryption", i.server_side_encryption.is_some()),
            ("x-amz-server-side-encryption-aws-kms-key-id", i.ssekms_key_id.is_some()),
            ("x-amz-server-side-encryption-context", i.ssekms_encryption_context.is_some()),
            ("x-amz-server-side-encryption-bucket-key-enabled", i.bucket_key_enabled.is_some()),
            ("x-amz-server-side-encryption-customer-algorithm", i.sse_customer_algorithm.is_some()),
            ("x-amz-server-side-encryption-customer-key", i.sse_customer_key.is_some()),
            ("x-amz-server-side-encryption-customer-key-md5", i.sse_customer_key_md5.is_some()),
        ];
        if let Some((field, _)) = sse.iter().find(|(f, present)| *present && !covered(f)) {
            return Err(refuse(s3s::S3ErrorCode::AccessDenied, format!("Invalid according to Policy: Extra input fields: {field}")));
        }
    }
    if let Some(url) = &i.success_action_redirect
        && (url.chars().any(char::is_control) || url::Url::parse(url).is_err())
    {
        return Err(refuse(s3s::S3ErrorCode::InvalidArgument, format!("success_action_redirect is not a valid URL: {url:?}")));
    }
    Ok(())
}

#[async_trait::async_trait]
impl S3Access for Policy {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        let principal = match cx.credentials() {
            Some(creds) => self.keys.principal(&creds.access_key).ok_or_else(|| s3s::s3_error!(InvalidAccessKeyId))?,
            None => Principal::Anonymous,
        };
        if !principal.is_anonymous()
            && let Some(rcx) = cx.extensions_mut().get::<RequestContext>()
        {
            rcx.mark_authenticated();
        }
        let Some(op) = Operation::from_name(cx.s3_op().name()) else {
            // An operation of a newer s3s: it gets no class until the table gives it one.
            tracing::warn!(op = cx.s3_op().name(), "S3 operation missing from the operation table");
            return Err(s3s::s3_error!(NotImplemented, "This operation is not supported."));
        };
        let (bucket, key) = match cx.s3_path() {
            s3s::path::S3Path::Root => ("", ""),
            s3s::path::S3Path::Bucket { bucket } => (bucket.as_ref(), ""),
            s3s::path::S3Path::Object { bucket, key } => (bucket.as_ref(), key.as_ref()),
        };
        if bucket == crate::names::RESERVED_SEGMENT {
            return Err(s3s::s3_error!(InvalidBucketName));
        }
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        let rcx = cx.extensions_mut().get::<RequestContext>().cloned();
        if let Some(rcx) = &rcx {
            let _ = rcx.operation.set(op);
        }
        if self.control.clustered() && self.names_unknown(op, &bucket, cx.headers())? {
            self.control.refresh().await;
        }
        let record = if !bucket.is_empty() && op != Operation::CreateBucket {
            // An unreadable header value matches no owner.
            let expected = cx.headers().get("x-amz-expected-bucket-owner").map(|v| v.to_str().unwrap_or("\u{0}"));
            Some(self.addressed(&principal, rcx.as_ref(), op, &bucket, &key, expected)?)
        } else {
            None
        };
        if op == Operation::PostObject {
            // A form upload's key is in the form, which the access context does not show:
            // the decision is made in the `post_object` hook, once the key is known.
            cx.extensions_mut().insert(principal);
            return Ok(());
        }
        let query = cx.uri().query().unwrap_or("").to_owned();
        // A DeleteObjects on a bucket with a policy is decided key by key in its hook (the
        // keys are in the body): a policy may allow some keys to another tenant.
        if !(op == Operation::DeleteObjects && self.configs.of(&bucket).policy.is_some()) {
            let version = crate::names::form_value(&query, "versionId");
            let tags = self.existing_tags(&principal, rcx.as_ref(), op, (&bucket, &key, version.as_deref())).await?;
            let request = RequestView::of(cx.headers(), &query, rcx.as_ref()).with_existing_tags(tags);
            let target = Target { bucket: &bucket, key: &key, version: version.as_deref(), record: record.as_ref() };
            self.authorize(&principal, rcx.as_ref(), &request, op, target)?;
        }
        self.admit(&principal, rcx.as_ref(), op, &bucket, &key)?;
        cx.extensions_mut().insert(principal);
        Ok(())
    }

    async fn get_object(&self, req: &mut S3Request<s3s::dto::GetObjectInput>) -> S3Result<()> {
        let i = &req.input;
        let overrides =
            [&i.response_cache_control, &i.response_content_disposition, &i.response_content_encoding, &i.response_content_language, &i.response_content_type]
                .iter()
                .any(|o| o.is_some())
                || i.response_expires.is_some();
        if overrides && Principal::of(req).is_anonymous() {
            return Err(refuse(s3s::S3ErrorCode::InvalidRequest, "Request specific response headers cannot be used for anonymous GET requests."));
        }
        Ok(())
    }

    async fn copy_object(&self, req: &mut S3Request<s3s::dto::CopyObjectInput>) -> S3Result<()> {
        self.check_copy_source(req, Operation::CopyObject, &req.input.copy_source).await?;
        let rules = self.topics.of(&req.input.bucket);
        let Some(t) = topics::locate(&rules, &req.input.key) else {
            return Ok(());
        };
        if matches!(t.rule.write, WriteMode::SingleAuth | WriteMode::SingleOpen) {
            return Err(refuse(
                s3s::S3ErrorCode::InvalidRequest,
                format!("objects under topic {} are replaced under If-Match: PUT the object instead of copying it", t.rule.topic),
            ));
        }
        let CopySource::Bucket { bucket: src_bucket, key: src_key, .. } = &req.input.copy_source else {
            return Ok(());
        };
        let source = self.store.object_get(src_bucket, src_key).map_err(|_| s3s::s3_error!(InternalError))?;
        let Some(source) = source else { return Ok(()) };
        let replace = req.input.metadata_directive.as_ref().is_some_and(|d| d.as_str() == "REPLACE");
        let content_type = if replace { req.input.content_type.clone() } else { source.attrs.content_type.clone() };
        Self::topic_write_rules(&t, Some(source.size), content_type.as_deref())?;
        if t.rule.content_addressed && source.sha256 != t.name {
            return Err(refuse(s3s::S3ErrorCode::BadDigest, format!("{} is not the SHA-256 of the source object", t.name)));
        }
        Ok(())
    }

    async fn put_object(&self, req: &mut S3Request<s3s::dto::PutObjectInput>) -> S3Result<()> {
        if req.method == http::Method::POST {
            // s3s 0.14 calls this hook for a form upload too, before `post_object`: the rules
            // run once, there, on the key with its `${filename}` substituted.
            return Ok(());
        }
        self.object_write_rules(object_write!(req.input))
    }

    async fn post_object(&self, req: &mut S3Request<s3s::dto::PostObjectInput>) -> S3Result<()> {
        if let Some(name) = req.extensions.get::<crate::post::FormFile>().and_then(|f| f.name())
            && req.input.key.contains("${filename}")
        {
            req.input.key = crate::post::substitute_filename(&req.input.key, name);
        }
        if req.input.key.is_empty() {
            return Err(refuse(s3s::S3ErrorCode::InvalidArgument, "User key must have a length greater than 0."));
        }
        if req.input.acl.is_none()
            && let Some(acl) = req.extensions.get::<crate::post::FormFile>().and_then(crate::post::FormFile::acl)
        {
            req.input.acl = Some(s3s::dto::ObjectCannedACL::from(acl.to_owned()));
        }
        let policy = req.extensions.get::<crate::post::FormFile>().and_then(crate::post::FormFile::policy);
        post_form_rules(&req.input, policy.as_ref())?;
        let p = Principal::of(req);
        let cx = req.extensions.get::<RequestContext>();
        let (bucket, key) = (&req.input.bucket, &req.input.key);
        let op = Operation::PostObject;
        let query = req.uri.query().unwrap_or("");
        let request = RequestView::of(&req.headers, query, cx).with_existing_tags(self.existing_tags(&p, cx, op, (bucket, key, None)).await?);
        self.authorize(&p, cx, &request, op, Target { bucket, key, version: None, record: None })?;
        self.admit(&p, cx, op, bucket, key)?;
        let admission = cx.and_then(|c| c.admission.get()).cloned();
        if let Some(admission) = admission {
            // The file was read before the request was admitted: its bytes are paid for now,
            // before it is stored, as a PUT's body is paid for while it streams.
            admission.charge(req.input.content_length.and_then(|n| u64::try_from(n).ok()).unwrap_or(0)).await;
        }
        self.object_write_rules(object_write!(req.input))
    }

    async fn create_multipart_upload(&self, req: &mut S3Request<s3s::dto::CreateMultipartUploadInput>) -> S3Result<()> {
        let rules = self.topics.of(&req.input.bucket);
        let Some(t) = topics::locate(&rules, &req.input.key) else {
            return Ok(());
        };
        if t.rule.content_addressed {
            return Err(refuse(
                s3s::S3ErrorCode::InvalidRequest,
                format!("topic {} is content-addressed: upload each object in one PUT (its name is the SHA-256 of the whole body)", t.rule.topic),
            ));
        }
        Self::topic_write_rules(&t, None, req.input.content_type.as_deref())
    }

    async fn upload_part(&self, req: &mut S3Request<s3s::dto::UploadPartInput>) -> S3Result<()> {
        let declared = req.input.content_length.and_then(|n| u64::try_from(n).ok());
        self.declared_size_rules(&req.input.bucket, None, declared)?;
        let rules = self.topics.of(&req.input.bucket);
        let Some(t) = topics::locate(&rules, &req.input.key) else {
            return Ok(());
        };
        let size = req.input.content_length.and_then(|n| u64::try_from(n).ok());
        Self::topic_write_rules(&t, size, None)
    }

    async fn complete_multipart_upload(&self, req: &mut S3Request<s3s::dto::CompleteMultipartUploadInput>) -> S3Result<()> {
        let rules = self.topics.of(&req.input.bucket);
        let Some(t) = topics::locate(&rules, &req.input.key) else {
            return Ok(());
        };
        let if_none_match_any = req.input.if_none_match.as_ref().is_some_and(ETagCondition::is_any);
        self.single_lock_rules(&t, &req.input.bucket, &req.input.key, req.input.if_match.is_some(), if_none_match_any)?;
        if matches!(t.rule.write, WriteMode::AppendAuth | WriteMode::AppendOpen) {
            req.input.if_none_match = Some(ETagCondition::Any);
        }
        Ok(())
    }

    async fn delete_objects(&self, req: &mut S3Request<s3s::dto::DeleteObjectsInput>) -> S3Result<()> {
        let p = Principal::of(req);
        let cx = req.extensions.get::<RequestContext>();
        let query = req.uri.query().unwrap_or("");
        if self.configs.of(&req.input.bucket).policy.is_some() {
            // The access check left this request to be decided here, key by key: a Deny on
            // any key refuses it, and every key must be allowed. The keys' tags, where the
            // upstream is asked for them, are asked a few at a time, in order.
            let (bucket, objects) = (req.input.bucket.as_str(), &req.input.delete.objects);
            // By index: a future borrowing the closure's argument would not be `Send` here.
            let mut tags = futures::stream::iter(0..objects.len())
                .map(|i| self.existing_tags(&p, cx, Operation::DeleteObjects, (bucket, &objects[i].key, objects[i].version_id.as_deref())))
                .buffered(TAG_LOOKUPS_AT_ONCE);
            for o in &req.input.delete.objects {
                let version = o.version_id.as_deref();
                let tags = tags.next().await.expect("one lookup per key")?;
                let request = RequestView::of(&req.headers, query, cx).with_existing_tags(tags);
                self.authorize(&p, cx, &request, Operation::DeleteObjects, Target { bucket: &req.input.bucket, key: &o.key, version, record: None })?;
            }
            if req.input.delete.objects.is_empty() {
                let request = RequestView::of(&req.headers, query, cx);
                self.authorize(&p, cx, &request, Operation::DeleteObjects, Target { bucket: &req.input.bucket, key: "", version: None, record: None })?;
            }
        }
        let rules = self.topics.of(&req.input.bucket);
        if rules.is_empty() {
            return Ok(());
        }
        let Some(record) = self.bucket(&req.input.bucket)? else {
            return Ok(());
        };
        for o in &req.input.delete.objects {
            if let Some(t) = topics::locate(&rules, &o.key)
                && topics::decide(&p, &record.tenant, &t, TopicOp::Delete).is_err()
            {
                return Err(self.deny(&p, cx, Operation::DeleteObjects, &req.input.bucket, &o.key, "topic"));
            }
        }
        Ok(())
    }

    async fn upload_part_copy(&self, req: &mut S3Request<s3s::dto::UploadPartCopyInput>) -> S3Result<()> {
        self.check_copy_source(req, Operation::UploadPartCopy, &req.input.copy_source).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Identity;

    fn identity(tenant: &str, role: Role) -> Identity {
        Identity { tenant: tenant.into(), user: "u".into(), access_key: format!("K-{tenant}-{role:?}"), role, root: false }
    }

    fn principal(tenant: &str, role: Role) -> Principal {
        Principal::Key(identity(tenant, role))
    }

    fn bucket(tenant: &str, visibility: Visibility) -> BucketRecord {
        BucketRecord {
            name: "b".into(),
            created_ns: 0,
            tenant: tenant.into(),
            objects: 0,
            bytes: 0,
            visibility,
            quota: crate::meta::Quota::default(),
            origin: String::new(),
            versioning: crate::meta::Versioning::Unversioned,
            object_lock: None,
        }
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
                let got = decide(&principal("a", role), access, Some(&own), false).is_ok();
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
                    assert_eq!(decide(&principal("a", role), access, Some(&foreign), false), Err(Denial::ForeignBucket));
                }
                let public_read = decide(&principal("a", role), Access::PublicRead, Some(&foreign), false);
                assert_eq!(public_read.is_ok(), vis == Visibility::PublicRead);
            }
        }
    }

    #[test]
    fn anonymous_may_only_read_public_buckets() {
        let anon = Principal::Anonymous;
        for access in ALL {
            for vis in [Visibility::Private, Visibility::PublicRead] {
                let ok = decide(&anon, access, Some(&bucket("a", vis)), false).is_ok();
                assert_eq!(ok, access == Access::PublicRead && vis == Visibility::PublicRead, "{access:?} {vis:?}");
            }
            assert!(decide(&anon, access, None, false).is_err());
        }
    }

    #[test]
    fn root_manages_every_tenant() {
        let root = Principal::Key(Identity { root: true, ..identity("root", Role::Admin) });
        for access in ALL {
            assert!(decide(&root, access, Some(&bucket("other", Visibility::Private)), true).is_ok());
        }
    }
}

//! The admin API under `/_tollgate/admin/` (JSON, SigV4-signed by an admin or root key;
//! requests are dispatched through [`ENDPOINTS`], which says who may call each)
//! and its command-line client ([`client`]).
//!
//! | method and path                         | body / query                      | who                 |
//! |-----------------------------------------|-----------------------------------|---------------------|
//! | `GET /tenants`                          |                                   | root; admins: own   |
//! | `POST /tenants`                         | `{"name"}`                        | root                |
//! | `DELETE /tenants/{tenant}`              |                                   | root                |
//! | `GET /users`                            | `?tenant=`                        | admins of the tenant|
//! | `POST /users`                           | `{"tenant","name","role"}`        | admins of the tenant|
//! | `DELETE /users/{tenant}/{user}`         |                                   | admins of the tenant|
//! | `GET /keys`                             | `?tenant=`                        | admins of the tenant|
//! | `POST /keys`                            | `{"tenant","user"}` → secret, once| admins of the tenant|
//! | `POST /keys/{key}/enable`, `/disable`   |                                   | admins of the tenant|
//! | `DELETE /keys/{key}`                    |                                   | admins of the tenant|
//! | `GET /buckets`                          | `?tenant=`                        | admins of the tenant|
//! | `PUT /buckets/{bucket}`                 | `{"visibility"?, "tenant"?}`      | admins of both tenants |
//! | `GET /usage`                            | `?tenant=`                        | admins: own tenant  |
//! | `PUT /quotas/tenant/{tenant}`           | `{"max_bytes","max_objects"}`     | root                |
//! | `PUT /quotas/bucket/{bucket}`           | `{"max_bytes","max_objects"}`     | admins of its tenant|
//! | `GET /limits/{tenant\|key}/{name}`      | → override and limits in force    | admins of the tenant|
//! | `PUT /limits/{tenant\|key}/{name}`      | rates (see `[limits]` in the config) | root (tenant), admins (key) |
//! | `DELETE /limits/{tenant\|key}/{name}`   | back to the configured defaults   | as PUT              |
//! | `GET /topics`                           | `?bucket=`                        | admins: own buckets |
//! | `PUT /topics/{bucket}/{topic}`          | `{"write","read","content_addressed"?,"max_size"?,"content_types"?}` | admins of its tenant |
//! | `DELETE /topics/{bucket}/{topic}`       |                                   | admins of its tenant|
//! | `POST /prune-proofs`                    | `?older_than_secs=` (default: the configured retention) | root |
//! | `GET /jobs`                             | → each job's last run and next one | root               |
//! | `POST /jobs/{job}/run`                  | → the run's outcome               | root                |
//! | `GET /scrub`, `POST /scrub`             | the last scrub's report; run one now | root             |
//! | `GET /audit`                            | `?tenant=&principal=&bucket=&outcome=&since_ns=&until_ns=&limit=` | admins: own tenant |

pub mod client;
pub mod proofs;

use crate::audit::{self, AuditQuery, RequestContext};
use crate::auth::{KeyStore, Principal, Role};
use crate::backend::placement::Backends;
use crate::jobs::Scheduler;
use crate::limits::{Limiter, Rates, Subject};
use crate::meta::{self, Quota, Store, TenantRecord, TopicRule, UserRecord, Visibility};
use crate::names::{form_value, valid_identity_name};
use crate::policy::topics::Topics;
use crate::proof::Prover;

use std::sync::Arc;

use http::{Method, StatusCode};
use http_body_util::BodyExt;
use s3s::route::S3Route;
use s3s::{Body, S3Request, S3Response, S3Result};
use serde::{Deserialize, Serialize};
use serde_json::json;

pub const PREFIX: &str = "/_tollgate/admin/";

/// Who may call an admin endpoint (every caller is an admin or root: see [`Routes`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// Root alone: the endpoint concerns every tenant, or the gateway itself.
    Root,
    /// Root, or an admin of the tenant the request names (its handler checks which).
    TenantAdmin,
    /// Any admin; the answer shows only the caller's tenant (root: every tenant).
    AnyAdmin,
}

/// One admin endpoint: method, path pattern (`{name}` is one segment, `{name..}` the
/// rest) and who may call it. [`ENDPOINTS`] is the table the API dispatches through: a
/// route missing from it is 404, and the access-matrix test walks every entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    pub method: &'static str,
    pub path: &'static str,
    pub who: Who,
}

const fn ep(method: &'static str, path: &'static str, who: Who) -> Endpoint {
    Endpoint { method, path, who }
}

/// Every admin endpoint.
pub const ENDPOINTS: &[Endpoint] = &[
    ep("GET", "tenants", Who::AnyAdmin),
    ep("POST", "tenants", Who::Root),
    ep("DELETE", "tenants/{tenant}", Who::Root),
    ep("GET", "users", Who::AnyAdmin),
    ep("POST", "users", Who::TenantAdmin),
    ep("DELETE", "users/{tenant}/{user}", Who::TenantAdmin),
    ep("GET", "keys", Who::AnyAdmin),
    ep("POST", "keys", Who::TenantAdmin),
    ep("POST", "keys/{key}/enable", Who::TenantAdmin),
    ep("POST", "keys/{key}/disable", Who::TenantAdmin),
    ep("DELETE", "keys/{key}", Who::TenantAdmin),
    ep("GET", "buckets", Who::AnyAdmin),
    ep("PUT", "buckets/{bucket}", Who::TenantAdmin),
    ep("GET", "usage", Who::AnyAdmin),
    ep("PUT", "quotas/tenant/{tenant}", Who::Root),
    ep("PUT", "quotas/bucket/{bucket}", Who::TenantAdmin),
    ep("GET", "limits/{kind}/{name}", Who::TenantAdmin),
    ep("PUT", "limits/{kind}/{name}", Who::TenantAdmin),
    ep("DELETE", "limits/{kind}/{name}", Who::TenantAdmin),
    ep("GET", "audit", Who::AnyAdmin),
    ep("GET", "topics", Who::AnyAdmin),
    ep("PUT", "topics/{bucket}/{topic..}", Who::TenantAdmin),
    ep("DELETE", "topics/{bucket}/{topic..}", Who::TenantAdmin),
    ep("POST", "prune-proofs", Who::Root),
    ep("POST", "mirror", Who::Root),
    ep("POST", "rebuild", Who::Root),
    ep("GET", "jobs", Who::Root),
    ep("POST", "jobs/{job}/run", Who::Root),
    ep("GET", "scrub", Who::Root),
    ep("POST", "scrub", Who::Root),
];

impl Endpoint {
    /// The endpoint a request's method and path segments address.
    #[must_use]
    pub fn of(method: &str, segments: &[&str]) -> Option<&'static Self> {
        ENDPOINTS.iter().find(|e| e.method == method && e.matches(segments))
    }

    fn matches(&self, segments: &[&str]) -> bool {
        let pattern: Vec<&str> = self.path.split('/').collect();
        for (i, p) in pattern.iter().enumerate() {
            if p.ends_with("..}") {
                return segments.len() > i;
            }
            match segments.get(i) {
                Some(s) if p.starts_with('{') || s == p => {}
                _ => return false,
            }
        }
        segments.len() == pattern.len()
    }
}
const MAX_BODY: usize = 64 << 10;

/// An admin or proof API failure. Its message is the `error` of the JSON answer; its
/// status is given by [`ApiError::status`].
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("access denied")]
    Denied,
    #[error("{0}")]
    QuotaExceeded(String),
    /// The message names what was not found (`no such key`, `no admin endpoint ...`).
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("body too large")]
    BodyTooLarge,
    #[error("{0}")]
    Internal(String),
    #[error("{0}")]
    Unavailable(String),
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Denied | Self::QuotaExceeded(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// A 404 naming the kind of thing missing: `no such {what}`.
    fn no_such(what: &str) -> Self {
        Self::NotFound(format!("no such {what}"))
    }
}

impl From<meta::Error> for ApiError {
    fn from(e: meta::Error) -> Self {
        match e {
            meta::Error::NotFound | meta::Error::NoSuchBucket => Self::NotFound("not found".into()),
            meta::Error::AlreadyExists => Self::Conflict("already exists".into()),
            meta::Error::InUse(why) => Self::Conflict(why.into()),
            meta::Error::QuotaExceeded(why) => Self::QuotaExceeded(why),
            e @ meta::Error::StorageFull(_) => {
                tracing::error!(error = %e, "admin API: the metadata store's disk is full");
                Self::Unavailable("the gateway's metadata storage is full: the change was not kept; free space, then restart the gateway".into())
            }
            e => {
                tracing::error!(error = %e, "admin API storage failure");
                Self::Internal("internal error".into())
            }
        }
    }
}

pub(crate) fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::BadRequest(msg.into())
}

pub(crate) type ApiResult = Result<serde_json::Value, ApiError>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewTenant {
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    tenant: String,
    name: String,
    role: Role,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKeyRequest {
    tenant: String,
    user: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BucketSettings {
    visibility: Option<Visibility>,
    tenant: Option<String>,
}

/// A key as listed: never its secret.
#[derive(Serialize)]
struct KeyView {
    access_key: String,
    tenant: String,
    user: String,
    enabled: bool,
    created_ns: i128,
    last_used_ns: i128,
}

/// What the admin API works on.
pub struct AdminParts {
    pub store: Arc<dyn Store>,
    pub keys: Arc<KeyStore>,
    pub backend: Arc<Backends>,
    pub limiter: Arc<Limiter>,
    pub topics: Arc<Topics>,
    pub prover: Option<Arc<Prover>>,
    pub proof_retention_days: u64,
    pub jobs: Arc<Scheduler>,
    /// Unauthenticated denials not yet written (flushed before the audit log is read).
    pub denials: Arc<crate::audit::DenialLog>,
}

pub struct AdminApi {
    store: Arc<dyn Store>,
    keys: Arc<KeyStore>,
    backend: Arc<Backends>,
    limiter: Arc<Limiter>,
    topics: Arc<Topics>,
    prover: Option<Arc<Prover>>,
    proof_retention_days: u64,
    jobs: Arc<Scheduler>,
    denials: Arc<crate::audit::DenialLog>,
}

impl AdminApi {
    #[must_use]
    pub fn new(parts: AdminParts) -> Self {
        let AdminParts { store, keys, backend, limiter, topics, prover, proof_retention_days, jobs, denials } = parts;
        Self { store, keys, backend, limiter, topics, prover, proof_retention_days, jobs, denials }
    }

    /// The tenant a limit subject belongs to, and whether `p` may change its limits: a
    /// tenant's own limits are the operator's (root), a key's are its tenant admins'.
    fn limit_subject(&self, p: &Principal, kind: &str, name: &str) -> Result<(Subject, String, bool), ApiError> {
        match kind {
            "tenant" => {
                self.store.tenant_get(name)?.ok_or(ApiError::no_such("tenant"))?;
                Ok((Subject::Tenant(name.to_owned()), name.to_owned(), p.root))
            }
            "key" => {
                let rec = self.keys.get(name)?.filter(|r| p.administers(&r.tenant)).ok_or_else(|| ApiError::no_such("key"))?;
                Ok((Subject::Key(name.to_owned()), rec.tenant, true))
            }
            _ => Err(bad("limits apply to a tenant or a key: /limits/tenant/NAME or /limits/key/ACCESSKEY")),
        }
    }

    fn limits_view(&self, subject: &Subject) -> Result<serde_json::Value, ApiError> {
        let stored = self.store.limits_all()?.into_iter().find(|(id, _)| *id == subject.id()).map(|(_, r)| r);
        Ok(json!({"subject": subject.id(), "override": stored, "effective": self.limiter.effective(subject)}))
    }

    fn usage_view(&self, tenant: &TenantRecord) -> Result<serde_json::Value, ApiError> {
        let (objects, bytes) = self.store.tenant_usage(&tenant.name)?;
        let buckets: Vec<_> = self
            .store
            .bucket_list()?
            .into_iter()
            .filter(|b| b.tenant == tenant.name)
            .map(|b| json!({"bucket": b.name, "objects": b.objects, "bytes": b.bytes, "quota": b.quota}))
            .collect();
        Ok(json!({"tenant": tenant.name, "objects": objects, "bytes": bytes, "quota": tenant.quota, "buckets": buckets}))
    }

    async fn handle(&self, p: &Principal, cx: Option<&RequestContext>, method: &Method, path: &str, query: &str, body: &[u8]) -> ApiResult {
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let audit = |op: &str, target: &str| audit::entry_for(p, cx, op, "", target, "ok", 0);
        let parse = |b: &[u8]| -> Result<serde_json::Value, ApiError> { serde_json::from_slice(b).map_err(|e| bad(format!("invalid JSON body: {e}"))) };
        let q: AuditQuery = serde_urlencoded::from_str(query).map_err(|e| bad(format!("invalid query: {e}")))?;
        let scope = |t: Option<&String>| -> Result<Option<String>, ApiError> {
            match t {
                Some(t) if p.administers(t) => Ok(Some(t.clone())),
                Some(_) => Err(ApiError::Denied),
                None if p.root => Ok(None),
                None => Ok(Some(p.tenant.clone())),
            }
        };
        let endpoint = Endpoint::of(method.as_str(), &segments).ok_or_else(|| ApiError::NotFound(format!("no admin endpoint {method} {PREFIX}{path}")))?;
        if endpoint.who == Who::Root && !p.root {
            return Err(ApiError::Denied);
        }
        match (method.as_str(), segments.as_slice()) {
            ("GET", ["tenants"]) => {
                let list: Vec<TenantRecord> = self.store.tenant_list()?.into_iter().filter(|t| p.administers(&t.name)).collect();
                Ok(json!(list))
            }
            ("POST", ["tenants"]) => {
                let t: NewTenant = serde_json::from_value(parse(body)?).map_err(|e| bad(e.to_string()))?;
                if !valid_identity_name(&t.name) {
                    return Err(bad("tenant names are 1-64 characters of a-z, 0-9, '.', '_', '-'"));
                }
                let rec = TenantRecord { name: t.name, created_ns: audit::now_ns(), quota: meta::Quota::default() };
                self.store.tenant_create(&rec, Some(&audit("AdminCreateTenant", &rec.name)))?;
                Ok(json!(rec))
            }
            ("DELETE", ["tenants", t]) => {
                if *t == crate::auth::ROOT_TENANT {
                    return Err(ApiError::Denied);
                }
                self.store.tenant_delete(t, Some(&audit("AdminDeleteTenant", t)))?;
                Ok(json!({"deleted": t}))
            }
            ("GET", ["users"]) => {
                let tenant = scope(q.tenant.as_ref())?;
                let list: Vec<UserRecord> = self.store.user_list()?.into_iter().filter(|u| tenant.as_ref().is_none_or(|t| *t == u.tenant)).collect();
                Ok(json!(list))
            }
            ("POST", ["users"]) => {
                let u: NewUser = serde_json::from_value(parse(body)?).map_err(|e| bad(e.to_string()))?;
                if !p.administers(&u.tenant) {
                    return Err(ApiError::Denied);
                }
                if !valid_identity_name(&u.name) {
                    return Err(bad("user names are 1-64 characters of a-z, 0-9, '.', '_', '-'"));
                }
                let rec = UserRecord { tenant: u.tenant, name: u.name, role: u.role, created_ns: audit::now_ns() };
                self.store.user_create(&rec, Some(&audit("AdminCreateUser", &format!("{}/{}", rec.tenant, rec.name))))?;
                Ok(json!(rec))
            }
            ("DELETE", ["users", t, u]) => {
                if !p.administers(t) {
                    return Err(ApiError::Denied);
                }
                self.keys.delete_user(t, u, Some(&audit("AdminDeleteUser", &format!("{t}/{u}"))))?;
                Ok(json!({"deleted": format!("{t}/{u}")}))
            }
            ("GET", ["keys"]) => {
                let tenant = scope(q.tenant.as_ref())?;
                let list: Vec<KeyView> = self
                    .store
                    .key_list()?
                    .into_iter()
                    .filter(|k| tenant.as_ref().is_none_or(|t| *t == k.tenant))
                    .map(|k| KeyView {
                        access_key: k.access_key,
                        tenant: k.tenant,
                        user: k.user,
                        enabled: k.enabled,
                        created_ns: k.created_ns,
                        last_used_ns: k.last_used_ns,
                    })
                    .collect();
                Ok(json!(list))
            }
            ("POST", ["keys"]) => {
                let k: NewKeyRequest = serde_json::from_value(parse(body)?).map_err(|e| bad(e.to_string()))?;
                if !p.administers(&k.tenant) {
                    return Err(ApiError::Denied);
                }
                let created = self.keys.create(&k.tenant, &k.user, Some(&audit("AdminCreateKey", &format!("{}/{}", k.tenant, k.user))))?;
                Ok(json!(created))
            }
            ("POST", ["keys", ak, action]) => {
                self.key_tenant_check(p, ak)?;
                let enable = *action == "enable";
                let op = if enable { "AdminEnableKey" } else { "AdminDisableKey" };
                self.keys.set_enabled(ak, enable, Some(&audit(op, ak)))?;
                Ok(json!({"access_key": ak, "enabled": enable}))
            }
            ("DELETE", ["keys", ak]) => {
                self.key_tenant_check(p, ak)?;
                self.keys.delete(ak, Some(&audit("AdminDeleteKey", ak)))?;
                Ok(json!({"deleted": ak}))
            }
            ("GET", ["buckets"]) => {
                let tenant = scope(q.tenant.as_ref())?;
                let list: Vec<_> = self.store.bucket_list()?.into_iter().filter(|b| tenant.as_ref().is_none_or(|t| *t == b.tenant)).collect();
                Ok(json!(list))
            }
            ("PUT", ["buckets", name]) => {
                let s: BucketSettings = serde_json::from_value(parse(body)?).map_err(|e| bad(e.to_string()))?;
                let cur = self.store.bucket_get(name)?.ok_or_else(|| ApiError::no_such("bucket"))?;
                let tenant = s.tenant.unwrap_or_else(|| cur.tenant.clone());
                if !p.administers(&cur.tenant) || !p.administers(&tenant) {
                    return Err(ApiError::Denied);
                }
                let rec = self.store.bucket_update(name, &tenant, s.visibility.unwrap_or(cur.visibility), Some(&audit("AdminSetBucket", name)))?;
                Ok(json!(rec))
            }
            ("GET", ["usage"]) => {
                let tenant = scope(q.tenant.as_ref())?;
                let mut out = Vec::new();
                for t in self.store.tenant_list()? {
                    if tenant.as_ref().is_none_or(|only| *only == t.name) {
                        out.push(self.usage_view(&t)?);
                    }
                }
                Ok(json!(out))
            }
            ("PUT", ["quotas", "tenant", t]) => {
                let quota: Quota = serde_json::from_value(parse(body)?).map_err(|e| bad(e.to_string()))?;
                let rec = self.store.tenant_set_quota(t, quota, Some(&audit("AdminSetTenantQuota", t)))?;
                Ok(json!(rec))
            }
            ("PUT", ["quotas", "bucket", b]) => {
                let cur = self.store.bucket_get(b)?.ok_or_else(|| ApiError::no_such("bucket"))?;
                if !p.administers(&cur.tenant) {
                    return Err(ApiError::Denied);
                }
                let quota: Quota = serde_json::from_value(parse(body)?).map_err(|e| bad(e.to_string()))?;
                let rec = self.store.bucket_set_quota(b, quota, Some(&audit("AdminSetBucketQuota", b)))?;
                Ok(json!(rec))
            }
            ("GET", ["limits", kind, name]) => {
                let (subject, tenant, _) = self.limit_subject(p, kind, name)?;
                if !p.administers(&tenant) {
                    return Err(ApiError::Denied);
                }
                self.limits_view(&subject)
            }
            (m @ ("PUT" | "DELETE"), ["limits", kind, name]) => {
                let (subject, _, may_set) = self.limit_subject(p, kind, name)?;
                if !may_set {
                    return Err(ApiError::Denied);
                }
                let rates: Option<Rates> = if m == "PUT" { Some(serde_json::from_value(parse(body)?).map_err(|e| bad(e.to_string()))?) } else { None };
                self.store.limits_set(&subject.id(), rates.as_ref(), Some(&audit("AdminSetLimits", &subject.id())))?;
                self.limiter.set_override(&subject, rates);
                self.limits_view(&subject)
            }
            ("GET", ["audit"]) => {
                self.denials.flush(self.store.as_ref(), audit::now_ns(), true);
                let mut q = q;
                q.tenant = scope(q.tenant.as_ref())?;
                let limit = q.limit.unwrap_or(1000).min(10_000);
                let mut out = Vec::new();
                for e in self.store.audit_scan(q.since_ns.map_or(0, i128::from), q.until_ns.map_or(i128::from(u64::MAX), i128::from)) {
                    let e = e?;
                    if q.matches(&e) {
                        out.push(e);
                        if out.len() == limit {
                            break;
                        }
                    }
                }
                Ok(json!(out))
            }
            ("GET", ["topics"]) => {
                let bucket = q.bucket.clone();
                let mut out = Vec::new();
                for r in self.store.topic_list()? {
                    if bucket.as_ref().is_some_and(|b| *b != r.bucket) {
                        continue;
                    }
                    if self.store.bucket_get(&r.bucket)?.is_some_and(|b| p.administers(&b.tenant)) {
                        out.push(r);
                    }
                }
                Ok(json!(out))
            }
            (m @ ("PUT" | "DELETE"), ["topics", bucket, topic @ ..]) if !topic.is_empty() => {
                let topic = topic.join("/");
                let b = self.store.bucket_get(bucket)?.ok_or_else(|| ApiError::no_such("bucket"))?;
                if !p.administers(&b.tenant) {
                    return Err(ApiError::Denied);
                }
                let target = format!("{bucket}/{topic}");
                if m == "DELETE" {
                    self.topics.delete(bucket, &topic, Some(&audit("AdminDeleteTopic", &target)))?;
                    return Ok(json!({"deleted": target}));
                }
                if !crate::policy::topics::valid_topic_name(&topic) {
                    return Err(bad("a topic is a key prefix like inbox or a/b, without leading or trailing /"));
                }
                let mut v = parse(body)?;
                if let Some(o) = v.as_object_mut() {
                    o.insert("bucket".into(), json!(bucket));
                    o.insert("topic".into(), json!(topic));
                }
                let rule: TopicRule = serde_json::from_value(v).map_err(|e| bad(e.to_string()))?;
                self.topics.put(&rule, Some(&audit("AdminSetTopic", &target)))?;
                Ok(json!(rule))
            }
            ("POST", ["prune-proofs"]) => {
                let prover = self.prover.clone().ok_or_else(|| bad("proofs are disabled"))?;
                let secs: u64 = match form_value(query, "older_than_secs") {
                    Some(v) => v.parse().map_err(|_| bad("older_than_secs must be a number"))?,
                    None if self.proof_retention_days > 0 => self.proof_retention_days.saturating_mul(86_400),
                    None => {
                        return Err(bad("no proofs.deleted_retention_days configured: give ?older_than_secs="));
                    }
                };
                let store = Arc::clone(&self.store);
                let removed = tokio::task::spawn_blocking(move || prover.prune(store.as_ref(), std::time::Duration::from_secs(secs)))
                    .await
                    .map_err(|e| ApiError::Internal(e.to_string()))??;
                Ok(json!({"removed": removed}))
            }
            ("POST", ["mirror"]) => {
                let report = self.backend.mirror_metadata(true).await.map_err(|e| ApiError::Unavailable(format!("mirror failed: {e}")))?;
                Ok(report.map_or_else(|| json!({"mirror": "none configured"}), |r| json!(r)))
            }
            ("POST", ["rebuild"]) => {
                let report = self.backend.restore_metadata().await.map_err(|e| match e {
                    crate::backend::Error::InvalidRequest(why) => bad(why),
                    e => ApiError::Unavailable(format!("rebuild failed: {e}")),
                })?;
                let keys = self.keys.load_stored()?;
                self.topics.reload_all()?;
                tracing::info!(
                    manifests = report.manifests,
                    audit_entries = report.audit_entries,
                    objects = report.objects_indexed,
                    keys,
                    "rebuilt the metadata store from the upstream"
                );
                Ok(json!(report))
            }
            ("GET", ["jobs"]) => Ok(json!(self.jobs.statuses())),
            ("POST", ["jobs", name, "run"]) => Ok(json!(self.run_job(name).await?)),
            // The scrub's report itself (the shape `tollgate admin scrub` prints).
            ("GET", ["scrub"]) => Ok(self.jobs.status("scrub").and_then(|s| s.last_outcome).map_or(serde_json::Value::Null, |o| o.detail)),
            ("POST", ["scrub"]) => Ok(self.run_job("scrub").await?.detail),
            _ => Err(ApiError::NotFound(format!("no admin endpoint {method} {PREFIX}{path}"))),
        }
    }

    /// Runs a background job now; its outcome, or why it failed.
    async fn run_job(&self, name: &str) -> Result<crate::jobs::Outcome, ApiError> {
        match self.jobs.run_now(name).await {
            Some(Ok(outcome)) => Ok(outcome),
            Some(Err(e)) => Err(ApiError::Internal(format!("job {name} failed: {e}"))),
            None => Err(ApiError::NotFound(format!("no job {name} (not configured)"))),
        }
    }

    /// Whether `p` may manage the key `ak`. Another tenant's key is answered exactly as a
    /// key that does not exist, so key ids cannot be probed.
    fn key_tenant_check(&self, p: &Principal, ak: &str) -> Result<(), ApiError> {
        match self.keys.get(ak)? {
            Some(rec) if p.administers(&rec.tenant) => Ok(()),
            _ => Err(ApiError::no_such("key")),
        }
    }
}

fn respond(status: StatusCode, value: &serde_json::Value) -> S3Response<Body> {
    let mut resp = S3Response::new(Body::from(value.to_string()));
    resp.status = Some(status);
    resp.headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    resp
}

/// The gateway's own endpoints under `/_tollgate/`: the admin API and the proof API.
pub struct Routes {
    pub admin: AdminApi,
    pub proofs: proofs::ProofApi,
}

impl Routes {
    /// Audits a signed caller's denial (an anonymous one is audited by the server with the
    /// others of its address and minute).
    fn audit_denial(&self, p: &Principal, cx: Option<&RequestContext>, path: &str) {
        if p.is_anonymous() {
            return;
        }
        if let Err(e) = self.admin.store.audit_append(&audit::entry_for(p, cx, "Admin", "", path, "denied", 0)) {
            tracing::error!(error = %e, "audit append failed");
        }
    }
}

#[async_trait::async_trait]
impl S3Route for Routes {
    fn is_match(&self, _: &Method, uri: &http::Uri, _: &http::HeaderMap, _: &mut http::Extensions) -> bool {
        uri.path().starts_with(PREFIX) || uri.path().starts_with(proofs::PREFIX)
    }

    /// Signatures are checked by s3s before this; each API decides who may call it
    /// (the proof API serves anonymous readers of public buckets).
    async fn check_access(&self, req: &mut S3Request<Body>) -> S3Result<()> {
        if let Some(creds) = &req.credentials {
            let p = self.admin.keys.principal(&creds.access_key).ok_or_else(|| s3s::s3_error!(InvalidAccessKeyId))?;
            if let Some(cx) = req.extensions.get::<RequestContext>() {
                cx.mark_authenticated();
            }
            req.extensions.insert(p);
        }
        Ok(())
    }

    async fn call(&self, req: S3Request<Body>) -> S3Result<S3Response<Body>> {
        let p = Principal::of(&req);
        let cx = req.extensions.get::<RequestContext>().cloned();
        let query = req.uri.query().unwrap_or("").to_owned();
        let result = if let Some(path) = req.uri.path().strip_prefix(proofs::PREFIX) {
            let path = path.to_owned();
            self.proofs.handle(&p, &req.method, &path, &query, req.input).await
        } else {
            let path = req.uri.path().trim_start_matches(PREFIX).to_owned();
            if !p.root && (p.is_anonymous() || p.role != Role::Admin) {
                self.audit_denial(&p, cx.as_ref(), &path);
                return Err(s3s::s3_error!(AccessDenied, "the admin API needs an admin or root key"));
            }
            match http_body_util::Limited::new(req.input, MAX_BODY).collect().await {
                Ok(body) => self.admin.handle(&p, cx.as_ref(), &req.method, &path, &query, &body.to_bytes()).await,
                Err(_) => Err(ApiError::BodyTooLarge),
            }
        };
        Ok(match result {
            Ok(v) => respond(StatusCode::OK, &v),
            Err(e) => {
                let status = e.status();
                if status == StatusCode::FORBIDDEN {
                    self.audit_denial(&p, cx.as_ref(), req.uri.path());
                }
                respond(status, &json!({"error": e.to_string()}))
            }
        })
    }
}

//! The admin API under `/_tollgate/admin/` (JSON, SigV4-signed by an admin or root key)
//! and its command-line client ([`client`]). A request is parsed into an [`Action`]
//! (`endpoints.rs`: one table, with who may call each endpoint), authorized here, then
//! handled in the file of its resource (`tenants.rs`, `users.rs`, `keys.rs`, ...).
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
//! | `GET /usage/history`                    | `?tenant=`, `?since_ns=`: samples | admins: own tenant  |
//! | `PUT /quotas/tenant/{tenant}`           | `{"max_bytes","max_objects"}`     | root                |
//! | `PUT /quotas/bucket/{bucket}`           | `{"max_bytes","max_objects"}`     | admins of its tenant|
//! | `GET /limits/{tenant\|key}/{name}`      | → override and limits in force    | admins of the tenant|
//! | `PUT /limits/{tenant\|key}/{name}`      | rates (see `[limits]` in the config) | root (tenant), admins (key) |
//! | `DELETE /limits/{tenant\|key}/{name}`   | back to the configured defaults   | as PUT              |
//! | `GET /topics`                           | `?bucket=`                        | admins: own buckets |
//! | `PUT /topics/{bucket}/{topic}`          | `{"write","read","content_addressed"?,"max_size"?,"content_types"?}` | admins of its tenant |
//! | `DELETE /topics/{bucket}/{topic}`       |                                   | admins of its tenant|
//! | `POST /prune-proofs`                    | `?older_than_secs=` (default: the configured retention) | root |
//! | `POST /mirror`                          | copies the metadata to the upstream now | root           |
//! | `POST /rebuild`                         | rebuilds the metadata store from the upstream | root     |
//! | `GET /jobs`                             | → each job's last run and next one | root               |
//! | `POST /jobs/{job}/run`                  | → the run's outcome               | root                |
//! | `GET /scrub`, `POST /scrub`             | the last scrub's report; run one now | root             |
//! | `GET /audit`                            | `?tenant=&principal=&bucket=&outcome=&since_ns=&until_ns=&limit=` | admins: own tenant |

pub mod client;
mod endpoints;
pub mod proofs;

mod audit;
mod buckets;
mod jobs;
mod keyring;
mod keys;
mod limits;
mod metadata;
mod tenants;
mod topics;
mod usage;
mod users;

pub use endpoints::{Action, ENDPOINTS, Endpoint, Who};

use crate::audit::{AuditQuery, GatewayOp, Outcome};
use crate::auth::{KeyStore, Principal, Role};
use crate::backend::control::ControlPlane;
use crate::backend::placement::Backends;
use crate::context::RequestContext;
use crate::jobs::Scheduler;
use crate::limits::Limiter;
use crate::meta::{self, Applied, AuditEntry, ControlChange, Store};
use crate::policy::topics::Topics;
use crate::proof::Prover;

use std::sync::Arc;

use http::{Method, StatusCode};
use http_body_util::BodyExt;
use s3s::route::S3Route;
use s3s::{Body, S3Request, S3Response, S3Result};
use serde::de::DeserializeOwned;
use serde_json::json;

/// Path prefix of the admin API; its first segment is [`crate::names::RESERVED_SEGMENT`], never a bucket name.
pub const PREFIX: &str = "/_tollgate/admin/";

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
            meta::Error::InvalidState(why) => Self::Conflict(why),
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

impl From<crate::backend::Error> for ApiError {
    fn from(e: crate::backend::Error) -> Self {
        match e {
            crate::backend::Error::Meta(e) => e.into(),
            crate::backend::Error::Unavailable(why) => Self::Unavailable(why),
            e => {
                tracing::error!(error = %e, "admin API: backend failure");
                Self::Internal("internal error".into())
            }
        }
    }
}

pub(crate) fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::BadRequest(msg.into())
}

pub(crate) type ApiResult = Result<serde_json::Value, ApiError>;

/// One admin request, as its handler sees it.
struct AdminRequest<'a> {
    principal: &'a Principal,
    context: Option<&'a RequestContext>,
    /// The query's filters (`?tenant=`, `?bucket=`, and the audit log's others).
    filters: AuditQuery,
    query: &'a str,
    body: &'a [u8],
}

impl AdminRequest<'_> {
    /// The audit entry of a change this request made.
    fn audit(&self, operation: GatewayOp, target: &str) -> AuditEntry {
        crate::audit::entry_for(self.principal, self.context, operation, "", target, Outcome::Ok, 0)
    }

    fn json_body(&self) -> Result<serde_json::Value, ApiError> {
        serde_json::from_slice(self.body).map_err(|e| bad(format!("invalid JSON body: {e}")))
    }

    fn body<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        serde_json::from_value(self.json_body()?).map_err(|e| bad(e.to_string()))
    }

    /// The check of [`Who::TenantAdmin`] endpoints, once their handler knows the tenant.
    fn require_admin_of(&self, tenant: &str) -> Result<(), ApiError> {
        if self.principal.administers(tenant) { Ok(()) } else { Err(ApiError::Denied) }
    }

    /// The tenant a [`Who::AnyAdmin`] listing shows: the `?tenant=` asked for, if the caller
    /// administers it; else the caller's own, or every tenant (`None`) for root.
    fn tenant_scope(&self) -> Result<Option<String>, ApiError> {
        match &self.filters.tenant {
            Some(t) => self.require_admin_of(t).map(|()| Some(t.clone())),
            None if self.principal.is_root() => Ok(None),
            None => Ok(Some(self.principal.tenant().to_owned())),
        }
    }
}

/// What the admin API works on.
pub struct AdminParts {
    /// Metadata: tenants, users, buckets, quotas, topics, audit log.
    pub store: Arc<dyn Store>,
    /// Access keys, with their secrets.
    pub keys: Arc<KeyStore>,
    /// The storage engines, through which the metadata is mirrored to and rebuilt from the upstream.
    pub backend: Arc<Backends>,
    /// Rate limiter, told at once when an override changes.
    pub limiter: Arc<Limiter>,
    /// Topic rules, reloaded when one is set or deleted.
    pub topics: Arc<Topics>,
    /// Every bucket's S3 access configuration (Block Public Access guards visibility).
    pub configs: Arc<crate::policy::config::BucketConfigs>,
    /// Signs proof manifests and checkpoints (`None`: proofs are off).
    pub prover: Option<Arc<Prover>>,
    /// Days a deleted object's manifests are kept before pruning (the `prune-proofs` default).
    pub proof_retention_days: u64,
    /// Background jobs, listed and run on demand.
    pub jobs: Arc<Scheduler>,
    /// Unauthenticated denials not yet written (flushed before the audit log is read).
    pub denials: Arc<crate::audit::DenialLog>,
    /// The gateway's keys, which make the keyring's key material.
    pub seal_keys: Arc<crate::backend::sealed::GatewayKeys>,
    /// Where every change to the control plane goes.
    pub control: Arc<ControlPlane>,
}

/// The admin API: authorizes a request against its endpoint's [`Who`], then carries it out, audited.
pub struct AdminApi {
    store: Arc<dyn Store>,
    keys: Arc<KeyStore>,
    backend: Arc<Backends>,
    limiter: Arc<Limiter>,
    topics: Arc<Topics>,
    configs: Arc<crate::policy::config::BucketConfigs>,
    prover: Option<Arc<Prover>>,
    proof_retention_days: u64,
    jobs: Arc<Scheduler>,
    denials: Arc<crate::audit::DenialLog>,
    seal_keys: Arc<crate::backend::sealed::GatewayKeys>,
    control: Arc<ControlPlane>,
}

impl AdminApi {
    /// An admin API working on `parts`.
    #[must_use]
    pub fn new(parts: AdminParts) -> Self {
        let AdminParts { store, keys, backend, limiter, topics, configs, prover, proof_retention_days, jobs, denials, seal_keys, control } = parts;
        Self { store, keys, backend, limiter, topics, configs, prover, proof_retention_days, jobs, denials, seal_keys, control }
    }

    /// Makes a control-plane change (through the cluster's log, in a cluster), audited.
    async fn change(&self, change: ControlChange, audit: AuditEntry) -> Result<Applied, ApiError> {
        Ok(self.control.submit(change, Some(audit)).await?)
    }

    /// Parses a request into its action, checks [`Who::Root`] endpoints (the others are
    /// checked by their handler, against the tenant of what they touch), and handles it.
    async fn handle(&self, p: &Principal, cx: Option<&RequestContext>, method: &Method, path: &str, query: &str, body: &[u8]) -> ApiResult {
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let filters = serde_urlencoded::from_str(query).map_err(|e| bad(format!("invalid query: {e}")))?;
        let action = Action::parse(method.as_str(), &segments).ok_or_else(|| ApiError::NotFound(format!("no admin endpoint {method} {PREFIX}{path}")))?;
        if action.endpoint().who == Who::Root && !p.is_root() {
            return Err(ApiError::Denied);
        }
        if method != Method::GET {
            // A change is checked against the cluster's latest state: a tenant created on
            // another instance a moment ago is known here before this request is judged.
            self.control.catch_up().await?;
        }
        let req = AdminRequest { principal: p, context: cx, filters, query, body };
        match action {
            Action::ListTenants => self.list_tenants(&req),
            Action::CreateTenant => self.create_tenant(&req).await,
            Action::DeleteTenant { tenant } => self.delete_tenant(&req, &tenant).await,
            Action::ListUsers => self.list_users(&req),
            Action::CreateUser => self.create_user(&req).await,
            Action::DeleteUser { tenant, user } => self.delete_user(&req, &tenant, &user).await,
            Action::ListKeys => self.list_keys(&req),
            Action::CreateKey => self.create_key(&req).await,
            Action::EnableKey { key } => self.set_key_enabled(&req, &key, true).await,
            Action::DisableKey { key } => self.set_key_enabled(&req, &key, false).await,
            Action::DeleteKey { key } => self.delete_key(&req, &key).await,
            Action::ListBuckets => self.list_buckets(&req),
            Action::SetBucket { bucket } => self.set_bucket(&req, &bucket).await,
            Action::Usage => self.usage(&req),
            Action::UsageHistory => self.usage_history(&req),
            Action::SetTenantQuota { tenant } => self.set_tenant_quota(&req, &tenant).await,
            Action::SetBucketQuota { bucket } => self.set_bucket_quota(&req, &bucket).await,
            Action::GetLimits { kind, name } => self.get_limits(&req, &kind, &name),
            Action::SetLimits { kind, name } => self.set_limits(&req, &kind, &name).await,
            Action::ResetLimits { kind, name } => self.reset_limits(&req, &kind, &name).await,
            Action::ReadAudit => self.read_audit(&req),
            Action::ListTopics => self.list_topics(&req),
            Action::SetTopic { bucket, topic } => self.set_topic(&req, &bucket, &topic).await,
            Action::DeleteTopic { bucket, topic } => self.delete_topic(&req, &bucket, &topic).await,
            Action::PruneProofs => self.prune_proofs(&req).await,
            Action::Mirror => self.mirror().await,
            Action::Rebuild => self.rebuild().await,
            Action::Cluster => self.cluster().await,
            Action::ListJobs => Ok(self.list_jobs()),
            Action::RunJob { job } => self.run_job(&job).await,
            Action::ListKeyring => self.list_keyring(),
            Action::CreateKeyringKey { id } => self.create_keyring_key(&req, &id).await,
            Action::RotateKeyringKey { id } => self.rotate_keyring_key(&req, &id).await,
            Action::SetKeyringKey { id } => self.set_keyring_key(&req, &id).await,
            Action::ScrubReport => Ok(self.scrub_report()),
            Action::RunScrub => self.run_scrub().await,
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
    /// Requests under [`PREFIX`].
    pub admin: AdminApi,
    /// Requests under [`proofs::PREFIX`].
    pub proofs: proofs::ProofApi,
}

impl Routes {
    /// Audits a signed caller's denial (an anonymous one is audited by the server with the
    /// others of its address and minute).
    fn audit_denial(&self, p: &Principal, cx: Option<&RequestContext>, path: &str) {
        if p.is_anonymous() {
            return;
        }
        if let Err(e) = self.admin.store.audit_append(&crate::audit::entry_for(p, cx, GatewayOp::Admin, "", path, Outcome::Denied, 0)) {
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
            if !p.is_root() && p.identity().is_none_or(|i| i.role != Role::Admin) {
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

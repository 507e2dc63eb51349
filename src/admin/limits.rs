//! Rate limit overrides of a tenant or an access key, and the limits in force.

use super::{AdminApi, AdminRequest, ApiError, ApiResult, bad};
use crate::audit::GatewayOp;
use crate::limits::{Rates, Subject};

use serde_json::json;

/// A limit subject, as a request names it.
struct LimitSubject {
    subject: Subject,
    /// The tenant it belongs to.
    tenant: String,
    /// Whether the caller may change its limits: a tenant's own are the operator's (root),
    /// a key's are its tenant admins'.
    may_change: bool,
}

impl AdminApi {
    pub(super) fn get_limits(&self, req: &AdminRequest<'_>, kind: &str, name: &str) -> ApiResult {
        let s = self.limit_subject(req, kind, name)?;
        req.require_admin_of(&s.tenant)?;
        self.limits_view(&s.subject)
    }

    pub(super) async fn set_limits(&self, req: &AdminRequest<'_>, kind: &str, name: &str) -> ApiResult {
        self.change_limits(req, kind, name, || req.body().map(Some)).await
    }

    /// Back to the configured defaults.
    pub(super) async fn reset_limits(&self, req: &AdminRequest<'_>, kind: &str, name: &str) -> ApiResult {
        self.change_limits(req, kind, name, || Ok(None)).await
    }

    /// Stores and applies the override `rates` gives (read once the caller is authorized).
    async fn change_limits(&self, req: &AdminRequest<'_>, kind: &str, name: &str, rates: impl FnOnce() -> Result<Option<Rates>, ApiError>) -> ApiResult {
        let s = self.limit_subject(req, kind, name)?;
        if !s.may_change {
            return Err(ApiError::Denied);
        }
        let rates = rates()?;
        let id = s.subject.id();
        let audit = req.audit(GatewayOp::AdminSetLimits, &id);
        self.change(crate::meta::ControlChange::Limits { subject: id, rates }, audit).await?;
        self.limits_view(&s.subject)
    }

    fn limit_subject(&self, req: &AdminRequest<'_>, kind: &str, name: &str) -> Result<LimitSubject, ApiError> {
        let p = req.principal;
        match kind {
            "tenant" => {
                self.store.tenant_get(name)?.ok_or_else(|| ApiError::no_such("tenant"))?;
                Ok(LimitSubject { subject: Subject::Tenant(name.to_owned()), tenant: name.to_owned(), may_change: p.is_root() })
            }
            "key" => {
                // Another tenant's key is answered as one that does not exist.
                let rec = self.keys.get(name)?.filter(|r| p.administers(&r.tenant)).ok_or_else(|| ApiError::no_such("key"))?;
                Ok(LimitSubject { subject: Subject::Key(name.to_owned()), tenant: rec.tenant, may_change: true })
            }
            _ => Err(bad("limits apply to a tenant or a key: /limits/tenant/NAME or /limits/key/ACCESSKEY")),
        }
    }

    fn limits_view(&self, subject: &Subject) -> ApiResult {
        let stored = self.store.limits_all()?.into_iter().find(|(id, _)| *id == subject.id()).map(|(_, r)| r);
        Ok(json!({"subject": subject.id(), "override": stored, "effective": self.limiter.effective(subject)}))
    }
}

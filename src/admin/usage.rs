//! What tenants and their buckets use, and the quotas that bound it.

use super::{AdminApi, AdminRequest, ApiError, ApiResult};
use crate::audit::GatewayOp;
use crate::meta::{Quota, TenantRecord};

use serde_json::json;

impl AdminApi {
    pub(super) fn usage(&self, req: &AdminRequest<'_>) -> ApiResult {
        let tenant = req.tenant_scope()?;
        let mut out = Vec::new();
        for t in self.store.tenant_list()? {
            if tenant.as_ref().is_none_or(|only| *only == t.name) {
                out.push(self.usage_view(&t)?);
            }
        }
        Ok(json!(out))
    }

    fn usage_view(&self, tenant: &TenantRecord) -> ApiResult {
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

    pub(super) fn set_tenant_quota(&self, req: &AdminRequest<'_>, tenant: &str) -> ApiResult {
        let quota: Quota = req.body()?;
        let rec = self.store.tenant_set_quota(tenant, quota, Some(&req.audit(GatewayOp::AdminSetTenantQuota, tenant)))?;
        Ok(json!(rec))
    }

    pub(super) fn set_bucket_quota(&self, req: &AdminRequest<'_>, bucket: &str) -> ApiResult {
        let cur = self.store.bucket_get(bucket)?.ok_or_else(|| ApiError::no_such("bucket"))?;
        req.require_admin_of(&cur.tenant)?;
        let quota: Quota = req.body()?;
        let rec = self.store.bucket_set_quota(bucket, quota, Some(&req.audit(GatewayOp::AdminSetBucketQuota, bucket)))?;
        Ok(json!(rec))
    }
}

//! What tenants and their buckets use, and the quotas that bound it.

use super::{AdminApi, AdminRequest, ApiError, ApiResult};
use crate::audit::GatewayOp;
use crate::meta::{BucketRecord, Quota, TenantRecord};

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

    /// The usage history (the `usage_history` job's samples) since `?since_ns=`, each
    /// sample showing the tenants the caller may see and their buckets.
    pub(super) fn usage_history(&self, req: &AdminRequest<'_>) -> ApiResult {
        let tenant = req.tenant_scope()?;
        let since = req.filters.since_ns.map_or(0, i128::from);
        let samples: Vec<_> = self
            .store
            .usage_history(since)?
            .into_iter()
            .map(|mut sample| {
                if let Some(only) = &tenant {
                    sample.tenants.retain(|t, _| t == only);
                    sample.buckets.retain(|_, b| b.tenant == *only);
                }
                let tenants: serde_json::Map<_, _> =
                    sample.tenants.into_iter().map(|(t, [objects, bytes])| (t, json!({"objects": objects, "bytes": bytes}))).collect();
                // Milliseconds for a chart's axis; nanoseconds as a string, whole.
                json!({"at_ns": sample.at_ns.to_string(), "at_ms": sample.at_ns / 1_000_000, "tenants": tenants, "buckets": sample.buckets})
            })
            .collect();
        Ok(json!(samples))
    }

    fn usage_view(&self, tenant: &TenantRecord) -> ApiResult {
        let (objects, bytes) = self.store.tenant_usage(&tenant.name)?;
        let buckets: Vec<_> =
            self.store.bucket_list()?.into_iter().filter(|b| b.tenant == tenant.name).map(|b| self.bucket_usage(&b)).collect::<Result<_, _>>()?;
        Ok(json!({"tenant": tenant.name, "objects": objects, "bytes": bytes, "quota": tenant.quota, "buckets": buckets}))
    }

    /// A bucket's usage: every version counts; a versioned bucket's is also split into its
    /// current objects and the noncurrent versions (the current ones counted by a scan of
    /// the bucket's current objects: an admin's question, not a request's).
    fn bucket_usage(&self, b: &BucketRecord) -> ApiResult {
        let mut view = json!({"bucket": b.name, "objects": b.objects, "bytes": b.bytes, "quota": b.quota});
        let (objects, bytes) = self.store.usage_elsewhere(&b.name);
        if objects > 0 {
            // In a cluster: what the other instances store in it, which its quota counts too.
            view["elsewhere"] = json!({"objects": objects, "bytes": bytes});
        }
        if !b.versioning.is_unversioned() {
            let (mut objects, mut bytes) = (0u64, 0u64);
            for entry in self.store.object_scan(&b.name, "", None) {
                let (_, rec) = entry?;
                objects += 1;
                bytes += rec.size;
            }
            view["current"] = json!({"objects": objects, "bytes": bytes});
            view["noncurrent"] = json!({"objects": b.objects.saturating_sub(objects), "bytes": b.bytes.saturating_sub(bytes)});
        }
        Ok(view)
    }

    pub(super) async fn set_tenant_quota(&self, req: &AdminRequest<'_>, tenant: &str) -> ApiResult {
        let quota: Quota = req.body()?;
        let change = crate::meta::ControlChange::TenantQuota { name: tenant.to_owned(), quota };
        match self.change(change, req.audit(GatewayOp::AdminSetTenantQuota, tenant)).await? {
            crate::meta::Applied::Tenant(rec) => Ok(json!(rec)),
            _ => Ok(json!(self.store.tenant_get(tenant)?)),
        }
    }

    pub(super) async fn set_bucket_quota(&self, req: &AdminRequest<'_>, bucket: &str) -> ApiResult {
        let cur = self.store.bucket_get(bucket)?.ok_or_else(|| ApiError::no_such("bucket"))?;
        req.require_admin_of(&cur.tenant)?;
        let quota: Quota = req.body()?;
        let change = crate::meta::ControlChange::BucketQuota { name: bucket.to_owned(), quota };
        match self.change(change, req.audit(GatewayOp::AdminSetBucketQuota, bucket)).await? {
            crate::meta::Applied::Bucket(rec) => Ok(json!(rec)),
            _ => Ok(json!(self.store.bucket_get(bucket)?)),
        }
    }
}

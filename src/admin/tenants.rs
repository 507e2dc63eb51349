//! Tenants: listed, created and deleted.

use super::{AdminApi, AdminRequest, ApiError, ApiResult, bad};
use crate::audit::GatewayOp;
use crate::meta::{ControlChange, Quota, TenantRecord};
use crate::names::valid_identity_name;

use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewTenant {
    name: String,
}

impl AdminApi {
    pub(super) fn list_tenants(&self, req: &AdminRequest<'_>) -> ApiResult {
        let list: Vec<TenantRecord> = self.store.tenant_list()?.into_iter().filter(|t| req.principal.administers(&t.name)).collect();
        Ok(json!(list))
    }

    pub(super) async fn create_tenant(&self, req: &AdminRequest<'_>) -> ApiResult {
        let t: NewTenant = req.body()?;
        if !valid_identity_name(&t.name) {
            return Err(bad("tenant names are 1-64 characters of a-z, 0-9, '.', '_', '-'"));
        }
        let rec = TenantRecord { name: t.name, created_ns: crate::audit::now_ns(), quota: Quota::default() };
        let audit = req.audit(GatewayOp::AdminCreateTenant, &rec.name);
        self.change(ControlChange::TenantCreate { record: rec.clone() }, audit).await?;
        Ok(json!(rec))
    }

    pub(super) async fn delete_tenant(&self, req: &AdminRequest<'_>, tenant: &str) -> ApiResult {
        // Root's own tenant holds the bootstrap key: deleting it would lock the operator out.
        if tenant == crate::auth::ROOT_TENANT {
            return Err(ApiError::Denied);
        }
        self.change(ControlChange::TenantDelete { name: tenant.to_owned() }, req.audit(GatewayOp::AdminDeleteTenant, tenant)).await?;
        Ok(json!({"deleted": tenant}))
    }
}

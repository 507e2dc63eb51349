//! Users of a tenant: listed, created and deleted (with their keys).

use super::{AdminApi, AdminRequest, ApiResult, bad};
use crate::audit::GatewayOp;
use crate::auth::Role;
use crate::meta::{ControlChange, UserRecord};
use crate::names::valid_identity_name;

use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    tenant: String,
    name: String,
    role: Role,
}

impl AdminApi {
    pub(super) fn list_users(&self, req: &AdminRequest<'_>) -> ApiResult {
        let tenant = req.tenant_scope()?;
        let list: Vec<UserRecord> = self.store.user_list()?.into_iter().filter(|u| tenant.as_ref().is_none_or(|t| *t == u.tenant)).collect();
        Ok(json!(list))
    }

    pub(super) async fn create_user(&self, req: &AdminRequest<'_>) -> ApiResult {
        let u: NewUser = req.body()?;
        req.require_admin_of(&u.tenant)?;
        if !valid_identity_name(&u.name) {
            return Err(bad("user names are 1-64 characters of a-z, 0-9, '.', '_', '-'"));
        }
        let rec = UserRecord { tenant: u.tenant, name: u.name, role: u.role, created_ns: crate::audit::now_ns() };
        let audit = req.audit(GatewayOp::AdminCreateUser, &format!("{}/{}", rec.tenant, rec.name));
        self.change(ControlChange::UserCreate { record: rec.clone() }, audit).await?;
        Ok(json!(rec))
    }

    pub(super) async fn delete_user(&self, req: &AdminRequest<'_>, tenant: &str, user: &str) -> ApiResult {
        req.require_admin_of(tenant)?;
        let change = ControlChange::UserDelete { tenant: tenant.to_owned(), name: user.to_owned() };
        self.change(change, req.audit(GatewayOp::AdminDeleteUser, &format!("{tenant}/{user}"))).await?;
        Ok(json!({"deleted": format!("{tenant}/{user}")}))
    }
}

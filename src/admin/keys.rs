//! Access keys: listed (never their secret), created (the secret shown once), enabled,
//! disabled and deleted.

use super::{AdminApi, AdminRequest, ApiError, ApiResult};
use crate::audit::GatewayOp;
use crate::meta::ControlChange;

use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKeyRequest {
    tenant: String,
    user: String,
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

impl AdminApi {
    pub(super) fn list_keys(&self, req: &AdminRequest<'_>) -> ApiResult {
        let tenant = req.tenant_scope()?;
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

    pub(super) async fn create_key(&self, req: &AdminRequest<'_>) -> ApiResult {
        let k: NewKeyRequest = req.body()?;
        req.require_admin_of(&k.tenant)?;
        if self.store.user_get(&k.tenant, &k.user)?.is_none() {
            return Err(ApiError::no_such("user"));
        }
        let (record, created) = self.keys.new_key(&k.tenant, &k.user);
        self.change(ControlChange::KeyPut { record }, req.audit(GatewayOp::AdminCreateKey, &format!("{}/{}", k.tenant, k.user))).await?;
        Ok(json!(created))
    }

    pub(super) async fn set_key_enabled(&self, req: &AdminRequest<'_>, key: &str, enabled: bool) -> ApiResult {
        let mut record = self.require_key_admin(req, key)?;
        let op = if enabled { GatewayOp::AdminEnableKey } else { GatewayOp::AdminDisableKey };
        record.enabled = enabled;
        self.change(ControlChange::KeyPut { record }, req.audit(op, key)).await?;
        Ok(json!({"access_key": key, "enabled": enabled}))
    }

    pub(super) async fn delete_key(&self, req: &AdminRequest<'_>, key: &str) -> ApiResult {
        self.require_key_admin(req, key)?;
        self.change(ControlChange::KeyDelete { access_key: key.to_owned() }, req.audit(GatewayOp::AdminDeleteKey, key)).await?;
        Ok(json!({"deleted": key}))
    }

    /// The tenant admin check of a key. Another tenant's key is answered exactly as a key
    /// that does not exist, so key ids cannot be probed.
    /// The key's record, if the caller administers its tenant.
    fn require_key_admin(&self, req: &AdminRequest<'_>, key: &str) -> Result<crate::meta::KeyRecord, ApiError> {
        match self.keys.get(key)? {
            Some(rec) if req.principal.administers(&rec.tenant) => Ok(rec),
            _ => Err(ApiError::no_such("key")),
        }
    }
}

//! The keyring (SSE-KMS): its keys listed, created, rotated, enabled and disabled. Key
//! material never leaves the gateway: the store keeps each version wrapped by a key derived
//! from the master key, and the API shows ids, versions and states only.

use super::{AdminApi, AdminRequest, ApiError, ApiResult, bad};
use crate::audit::GatewayOp;
use crate::meta::KeyringKey;

use serde_json::json;

/// What the API shows of a keyring key.
fn shown(k: &KeyringKey) -> serde_json::Value {
    json!({"id": k.id, "enabled": k.enabled, "versions": k.versions.len(), "created_ns": k.created_ns})
}

impl AdminApi {
    pub(super) fn list_keyring(&self) -> ApiResult {
        Ok(json!(self.store.keyring_list()?.iter().map(shown).collect::<Vec<_>>()))
    }

    pub(super) fn create_keyring_key(&self, req: &AdminRequest<'_>, id: &str) -> ApiResult {
        let id = crate::backend::sealed::kms_key_id(id).map_err(|e| bad(e.to_string()))?;
        if self.store.keyring_get(id)?.is_some() {
            return Err(ApiError::Conflict(format!("keyring key {id} exists already")));
        }
        let key = KeyringKey { id: id.to_owned(), created_ns: crate::clock::now_ns(), enabled: true, versions: vec![self.seal_keys.new_keyring_version(id)] };
        self.store.keyring_put(&key, Some(&req.audit(GatewayOp::AdminCreateKeyringKey, id)))?;
        Ok(shown(&key))
    }

    pub(super) fn rotate_keyring_key(&self, req: &AdminRequest<'_>, id: &str) -> ApiResult {
        let mut key = self.store.keyring_get(id)?.ok_or_else(|| ApiError::no_such("keyring key"))?;
        key.versions.push(self.seal_keys.new_keyring_version(id));
        self.store.keyring_put(&key, Some(&req.audit(GatewayOp::AdminRotateKeyringKey, id)))?;
        Ok(shown(&key))
    }

    pub(super) fn set_keyring_key(&self, req: &AdminRequest<'_>, id: &str) -> ApiResult {
        let mut key = self.store.keyring_get(id)?.ok_or_else(|| ApiError::no_such("keyring key"))?;
        let body = req.json_body()?;
        key.enabled = body.get("enabled").and_then(serde_json::Value::as_bool).ok_or_else(|| bad("the body is {\"enabled\": true|false}"))?;
        self.store.keyring_put(&key, Some(&req.audit(GatewayOp::AdminSetKeyringKey, id)))?;
        Ok(shown(&key))
    }
}

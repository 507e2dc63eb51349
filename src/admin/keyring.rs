//! The keyring (SSE-KMS): its keys listed, created, rotated, enabled and disabled, and the
//! SSE-S3 key's versions (entry [`SSE_S3_KEY`], listed and rotated like the others). Key
//! material never leaves the gateway: the store keeps each version wrapped by a key derived
//! from the master key, and the API shows ids, versions and states only.

use super::{AdminApi, AdminRequest, ApiError, ApiResult, bad};
use crate::audit::GatewayOp;
use crate::backend::sealed::SSE_S3_KEY;
use crate::meta::{Applied, ControlChange, KeyringKey};

use serde_json::json;

/// What the API shows of a keyring key.
fn shown(k: &KeyringKey) -> serde_json::Value {
    json!({"id": k.id, "enabled": k.enabled, "versions": k.versions.len(), "created_ns": k.created_ns})
}

impl AdminApi {
    pub(super) fn list_keyring(&self) -> ApiResult {
        Ok(json!(self.store.keyring_list()?.iter().map(shown).collect::<Vec<_>>()))
    }

    pub(super) async fn create_keyring_key(&self, req: &AdminRequest<'_>, id: &str) -> ApiResult {
        let id = crate::backend::sealed::kms_key_id(id).map_err(|e| bad(e.to_string()))?;
        if self.store.keyring_get(id)?.is_some() {
            return Err(ApiError::Conflict(format!("keyring key {id} exists already")));
        }
        let key = self.seal_keys.new_keyring_key(id);
        self.keyring_change(ControlChange::KeyringCreate { key }, req.audit(GatewayOp::AdminCreateKeyringKey, id)).await
    }

    /// A new version of keyring key `id`, or of the SSE-S3 key ([`SSE_S3_KEY`], whose
    /// keyring entry its first rotation creates).
    pub(super) async fn rotate_keyring_key(&self, req: &AdminRequest<'_>, id: &str) -> ApiResult {
        let change = match self.store.keyring_get(id)? {
            Some(key) => ControlChange::KeyringRotate {
                id: id.to_owned(),
                had: key.versions.len(),
                wrapped: self.seal_keys.new_keyring_version(id, key.versions.len() + 1),
            },
            None if id == SSE_S3_KEY => ControlChange::KeyringCreate { key: self.seal_keys.new_keyring_key(id) },
            None => return Err(ApiError::no_such("keyring key")),
        };
        self.keyring_change(change, req.audit(GatewayOp::AdminRotateKeyringKey, id)).await
    }

    pub(super) async fn set_keyring_key(&self, req: &AdminRequest<'_>, id: &str) -> ApiResult {
        if id == SSE_S3_KEY {
            return Err(bad("the SSE-S3 key is always enabled: it can only be rotated"));
        }
        self.store.keyring_get(id)?.ok_or_else(|| ApiError::no_such("keyring key"))?;
        let body = req.json_body()?;
        let enabled = body.get("enabled").and_then(serde_json::Value::as_bool).ok_or_else(|| bad("the body is {\"enabled\": true|false}"))?;
        self.keyring_change(ControlChange::KeyringEnable { id: id.to_owned(), enabled }, req.audit(GatewayOp::AdminSetKeyringKey, id)).await
    }

    async fn keyring_change(&self, change: ControlChange, audit: crate::meta::AuditEntry) -> ApiResult {
        match self.change(change, audit).await? {
            Applied::Keyring(key) => Ok(shown(&key)),
            other => Err(ApiError::Internal(format!("a keyring change applied as {other:?}"))),
        }
    }
}

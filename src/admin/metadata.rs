//! The metadata store's copy on the upstream: mirrored now, or the store rebuilt from it.

use super::{AdminApi, ApiError, ApiResult, bad};

use serde_json::json;

impl AdminApi {
    pub(super) async fn mirror(&self) -> ApiResult {
        let report = self.backend.mirror_metadata(true).await.map_err(|e| ApiError::Unavailable(format!("mirror failed: {e}")))?;
        Ok(report.map_or_else(|| json!({"mirror": "none configured"}), |r| json!(r)))
    }

    /// Rebuilds the store, then reloads what is cached from it (keys, topics, bucket
    /// configuration).
    pub(super) async fn rebuild(&self) -> ApiResult {
        let report = self.backend.restore_metadata().await.map_err(|e| match e {
            crate::backend::Error::InvalidRequest(why) => bad(why),
            e => ApiError::Unavailable(format!("rebuild failed: {e}")),
        })?;
        let keys = self.keys.load_stored()?;
        self.topics.reload_all()?;
        self.configs.reload_all().map_err(|e| ApiError::Internal(e.to_string()))?;
        tracing::info!(
            manifests = report.manifests,
            audit_entries = report.audit_entries,
            objects = report.objects_indexed,
            keys,
            "rebuilt the metadata store from the upstream"
        );
        Ok(json!(report))
    }
}

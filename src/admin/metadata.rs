//! The metadata store's copy on the upstream: mirrored now, or the store rebuilt from it.

use super::{AdminApi, ApiError, ApiResult, bad};

use serde_json::json;

impl AdminApi {
    /// The instances sharing this gateway's metadata bucket: each one's version, start,
    /// last heartbeat, its age, whether it is live, left or gone, and how many entries of
    /// the control log it had not applied at its last heartbeat (`control_lag`, against
    /// the furthest instance).
    pub(super) async fn cluster(&self) -> ApiResult {
        let members = self.backend.members().await.map_err(|e| ApiError::Unavailable(format!("cannot read the heartbeats: {e}")))?;
        let mut members = members.ok_or_else(|| bad("this gateway shares no metadata bucket (upstream.meta_bucket): it is in no cluster"))?;
        members.sort_by(|a, b| a.instance.cmp(&b.instance));
        let now = crate::clock::now_ns();
        let newest = members.iter().map(|m| m.control_applied).max().unwrap_or(0).max(self.control.applied());
        let rows: Vec<_> = members
            .iter()
            .map(|m| {
                json!({
                    "instance": m.instance,
                    "state": m.presence(now),
                    "version": m.version,
                    "started_ns": m.started_ns,
                    "last_heartbeat_ns": m.heartbeat_ns,
                    "heartbeat_age_secs": ((now - m.heartbeat_ns) / 1_000_000) as f64 / 1000.0,
                    "heartbeat_secs": m.heartbeat_secs,
                    "control_applied": m.control_applied,
                    "control_lag": newest - m.control_applied,
                })
            })
            .collect();
        Ok(json!(rows))
    }

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

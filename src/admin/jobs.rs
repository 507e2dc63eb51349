//! Background jobs: their state, and a run now; the scrub's report.

use super::{AdminApi, ApiError, ApiResult};
use crate::jobs::Outcome;

use serde_json::json;

/// The job whose report `GET /scrub` answers.
const SCRUB: &str = "scrub";

impl AdminApi {
    /// Each job's last run and next one.
    pub(super) fn list_jobs(&self) -> serde_json::Value {
        json!(self.jobs.statuses())
    }

    pub(super) async fn run_job(&self, name: &str) -> ApiResult {
        Ok(json!(self.run_now(name).await?))
    }

    /// The last scrub's report itself (the shape `tollgate admin scrub` prints).
    pub(super) fn scrub_report(&self) -> serde_json::Value {
        self.jobs.status(SCRUB).and_then(|s| s.last_outcome).map_or(serde_json::Value::Null, |o| o.detail)
    }

    pub(super) async fn run_scrub(&self) -> ApiResult {
        Ok(self.run_now(SCRUB).await?.detail)
    }

    /// Runs a background job now; its outcome, or why it failed.
    async fn run_now(&self, name: &str) -> Result<Outcome, ApiError> {
        match self.jobs.run_now(name).await {
            Some(Ok(outcome)) => Ok(outcome),
            Some(Err(e)) => Err(ApiError::Internal(format!("job {name} failed: {e}"))),
            None => Err(ApiError::NotFound(format!("no job {name} (not configured)"))),
        }
    }
}

//! The audit log, read by filters.

use super::{AdminApi, AdminRequest, ApiResult};
use crate::audit::{AuditQuery, now_ns};

use serde_json::json;

/// Entries answered when the request gives no `limit`, and the most it may ask for.
const DEFAULT_LIMIT: usize = 1000;
const MAX_LIMIT: usize = 10_000;

impl AdminApi {
    pub(super) fn read_audit(&self, req: &AdminRequest<'_>) -> ApiResult {
        self.denials.flush(self.store.as_ref(), now_ns(), true);
        let q = AuditQuery { tenant: req.tenant_scope()?, ..req.filters.clone() };
        let limit = q.limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT);
        let mut out = Vec::new();
        for e in self.store.audit_scan(q.since_ns.map_or(0, i128::from), q.until_ns.map_or(i128::from(u64::MAX), i128::from)) {
            let e = e?;
            if q.matches(&e) {
                out.push(e);
                if out.len() == limit {
                    break;
                }
            }
        }
        Ok(json!(out))
    }
}

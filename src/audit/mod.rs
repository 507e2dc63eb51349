//! The audit log: one entry for every state-changing request and every denial, written
//! in the same metadata transaction as the change it describes.

use crate::auth::Principal;
use crate::meta::AuditEntry;
use crate::ops::Operation;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

mod denials;

pub use denials::DenialLog;

use s3s::S3Request;

/// Per-request facts the server attaches to every request (as an HTTP extension).
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub request_id: String,
    pub peer: SocketAddr,
    /// Filled by the access check when it admits the request: the rate-limit headers and
    /// the byte buckets the request and response bodies are charged to.
    pub admission: std::sync::Arc<std::sync::OnceLock<crate::limits::Admission>>,
    /// The S3 operation, once the access check knows it.
    pub operation: std::sync::Arc<std::sync::OnceLock<Operation>>,
    /// Set once the request's signature verified and its key is known: a refusal of a
    /// request without it is an unauthenticated denial ([`DenialLog`]).
    pub authenticated: Arc<AtomicBool>,
}

impl RequestContext {
    /// Marks the request as made by a known, verified key.
    pub fn mark_authenticated(&self) {
        self.authenticated.store(true, Ordering::Relaxed);
    }

    #[must_use]
    pub fn is_authenticated(&self) -> bool {
        self.authenticated.load(Ordering::Relaxed)
    }
}

/// The current time in nanoseconds since the Unix epoch.
#[must_use]
pub fn now_ns() -> i128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| i128::try_from(d.as_nanos()).unwrap_or(i128::MAX))
}

/// An entry for a request by `principal` described by `cx`.
#[must_use]
pub fn entry_for(principal: &Principal, cx: Option<&RequestContext>, operation: &str, bucket: &str, key: &str, outcome: &str, bytes: u64) -> AuditEntry {
    AuditEntry {
        time_ns: now_ns(),
        request_id: cx.map(|c| c.request_id.clone()).unwrap_or_default(),
        principal: principal.access_key.clone(),
        user: principal.user.clone(),
        tenant: principal.tenant.clone(),
        source: cx.map(|c| c.peer.to_string()).unwrap_or_default(),
        operation: operation.to_owned(),
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        outcome: outcome.to_owned(),
        bytes,
        count: 1,
    }
}

/// The entry of a successful state change made by `req`.
#[must_use]
pub fn entry<T>(req: &S3Request<T>, operation: &str, bucket: &str, key: &str, bytes: u64) -> AuditEntry {
    entry_for(&Principal::of(req), req.extensions.get::<RequestContext>(), operation, bucket, key, "ok", bytes)
}

/// Filters of an audit query.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct AuditQuery {
    pub tenant: Option<String>,
    pub principal: Option<String>,
    pub bucket: Option<String>,
    pub outcome: Option<String>,
    /// Inclusive lower bound, nanoseconds since the epoch. (i64, not i128 as entries keep
    /// times: URL query decoding has no 128-bit integers, and i64 reaches 2262.)
    pub since_ns: Option<i64>,
    /// Exclusive upper bound, nanoseconds since the epoch.
    pub until_ns: Option<i64>,
    /// Page size (default 1000).
    pub limit: Option<usize>,
}

impl AuditQuery {
    #[must_use]
    pub fn matches(&self, e: &AuditEntry) -> bool {
        let eq = |f: &Option<String>, v: &str| f.as_deref().is_none_or(|f| f == v);
        eq(&self.tenant, &e.tenant) && eq(&self.principal, &e.principal) && eq(&self.bucket, &e.bucket) && eq(&self.outcome, &e.outcome)
    }
}

//! The per-request facts the server attaches to every request, shared by the access check,
//! the audit log and the admin API.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use crate::limits::Admission;
use crate::ops::Operation;

/// Per-request facts the server attaches to every request (as an HTTP extension).
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// The id returned in `x-amz-request-id` and error documents: 16 random hex digits.
    pub request_id: String,
    /// The client's address, as the TCP connection shows it.
    pub peer: SocketAddr,
    /// Whether the request came over the gateway's TLS (`[tls]`).
    pub secure: bool,
    /// Filled by the access check when it admits the request: the rate-limit headers and
    /// the byte buckets the request and response bodies are charged to.
    pub admission: Arc<OnceLock<Admission>>,
    /// The S3 operation, once the access check knows it.
    pub operation: Arc<OnceLock<Operation>>,
    /// What let the request in when it was not the caller's tenant role: `acl:READ`,
    /// `policy:{Sid}`, `public-read`, `topic` (recorded in its audit entry).
    pub granted_by: Arc<OnceLock<String>>,
    /// The bucket and key of the object whose ACL grant let the request in, if one did:
    /// the grant is the index's record's, checked against the bytes before the operation.
    pub object_grant: Arc<OnceLock<(String, String)>>,
    /// Set once the request's signature verified and its key is known: a refusal of a
    /// request without it is an unauthenticated denial ([`crate::audit::DenialLog`]).
    pub authenticated: Arc<AtomicBool>,
}

/// How a request reached the gateway, set by the server on every request (and carried by
/// the console into the requests it makes for a browser).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Transport {
    /// Over the gateway's own TLS (`[tls]`).
    pub tls: bool,
    /// On the plain-HTTP health listener (`tls.plain_health_listen`).
    pub health_only: bool,
}

impl RequestContext {
    /// Marks the request as made by a known, verified key.
    pub fn mark_authenticated(&self) {
        self.authenticated.store(true, Ordering::Relaxed);
    }

    /// Whether the request's signature verified against a known key.
    #[must_use]
    pub fn is_authenticated(&self) -> bool {
        self.authenticated.load(Ordering::Relaxed)
    }
}

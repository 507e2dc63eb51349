//! Access decisions, made before the backend is touched ([`s3s::access::S3Access`]).

use crate::auth::KeyStore;

use std::sync::Arc;

use s3s::S3Result;
use s3s::access::{S3Access, S3AccessContext};

/// The access check: resolves the signer to its principal and attaches it to the request;
/// anonymous requests are refused.
pub struct Policy {
    keys: Arc<KeyStore>,
}

impl Policy {
    #[must_use]
    pub fn new(keys: Arc<KeyStore>) -> Self {
        Self { keys }
    }
}

#[async_trait::async_trait]
impl S3Access for Policy {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        let Some(creds) = cx.credentials() else {
            return Err(s3s::s3_error!(AccessDenied, "Access Denied"));
        };
        let Some(principal) = self.keys.principal(&creds.access_key) else {
            return Err(s3s::s3_error!(InvalidAccessKeyId));
        };
        cx.extensions_mut().insert(principal);
        Ok(())
    }
}

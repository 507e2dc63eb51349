//! The audit log: one entry for every state-changing request and every denial, written
//! in the same metadata transaction as the change it describes.

use crate::auth::Principal;
use crate::context::RequestContext;
use crate::meta::AuditEntry;
use crate::ops::Operation;

mod denials;

pub use denials::DenialLog;

/// The clock audit entries are stamped with.
pub use crate::clock::now_ns;

use s3s::S3Request;

/// Generates [`GatewayOp`], each action named in the log as its variant is.
macro_rules! gateway_ops {
    ($($(#[doc = $doc:literal])* $name:ident,)*) => {
        /// What the gateway itself, or its admin API, does or refuses.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum GatewayOp {
            $($(#[doc = $doc])* $name,)*
        }

        impl GatewayOp {
            /// The name the audit log keeps.
            #[must_use]
            pub const fn name(self) -> &'static str {
                match self {
                    $(Self::$name => stringify!($name),)*
                }
            }
        }
    };
}

gateway_ops! {
    /// A request to the admin API, refused.
    Admin,
    /// A web console session begun with a key and its secret.
    ConsoleSignIn,
    /// A web console session ended by its user.
    ConsoleSignOut,
    /// A tenant created.
    AdminCreateTenant,
    /// A tenant deleted.
    AdminDeleteTenant,
    /// A user created.
    AdminCreateUser,
    /// A user deleted, with its keys.
    AdminDeleteUser,
    /// An access key created.
    AdminCreateKey,
    /// An access key enabled.
    AdminEnableKey,
    /// An access key disabled.
    AdminDisableKey,
    /// An access key deleted.
    AdminDeleteKey,
    /// A bucket's owner or visibility changed.
    AdminSetBucket,
    /// A tenant's quota set.
    AdminSetTenantQuota,
    /// A bucket's quota set.
    AdminSetBucketQuota,
    /// Rate limits set for a tenant, a key or an address.
    AdminSetLimits,
    /// A bucket's topic rule set.
    AdminSetTopic,
    /// A bucket's topic rule deleted.
    AdminDeleteTopic,
    /// A keyring key created (SSE-KMS).
    AdminCreateKeyringKey,
    /// A keyring key given a new version.
    AdminRotateKeyringKey,
    /// A keyring key enabled or disabled.
    AdminSetKeyringKey,
    /// An abandoned multipart upload aborted by the expiry job.
    ExpireMultipartUpload,
    /// An index entry whose bytes are gone, removed by the reconciliation.
    RepairOrphanEntry,
    /// An object moved to another storage place.
    MigrateObject,
    /// An object version or delete marker removed, or a delete marker laid, by a lifecycle
    /// rule (its id is the entry's `decided_by`).
    LifecycleExpiration,
}

/// What an audit entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditOp {
    /// An S3 request.
    S3(Operation),
    /// A change by the gateway or its admin API.
    Gateway(GatewayOp),
}

impl AuditOp {
    /// The name the audit log keeps: the S3 operation's, or the gateway action's.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::S3(op) => op.name(),
            Self::Gateway(op) => op.name(),
        }
    }
}

impl From<Operation> for AuditOp {
    fn from(op: Operation) -> Self {
        Self::S3(op)
    }
}

impl From<GatewayOp> for AuditOp {
    fn from(op: GatewayOp) -> Self {
        Self::Gateway(op)
    }
}

/// How the request an audit entry records ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done.
    Ok,
    /// Refused by the access check.
    Denied,
    /// Refused by the rate limits.
    Throttled,
}

impl Outcome {
    /// The name the audit log keeps (and its queries filter on).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Denied => "denied",
            Self::Throttled => "throttled",
        }
    }
}

/// An entry for a request by `principal` described by `cx`.
#[must_use]
pub fn entry_for(
    principal: &Principal,
    cx: Option<&RequestContext>,
    operation: impl Into<AuditOp>,
    bucket: &str,
    key: &str,
    outcome: Outcome,
    bytes: u64,
) -> AuditEntry {
    AuditEntry {
        time_ns: now_ns(),
        request_id: cx.map(|c| c.request_id.clone()).unwrap_or_default(),
        principal: principal.access_key().to_owned(),
        user: principal.user().to_owned(),
        tenant: principal.tenant().to_owned(),
        source: cx.map(|c| c.peer.to_string()).unwrap_or_default(),
        operation: operation.into().name().to_owned(),
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        outcome: outcome.name().to_owned(),
        bytes,
        count: 1,
        version_id: String::new(),
        decided_by: cx.and_then(|c| c.granted_by.get().cloned()).unwrap_or_default(),
    }
}

/// The entry of a successful state change made by `req`.
#[must_use]
pub fn entry<T>(req: &S3Request<T>, operation: Operation, bucket: &str, key: &str, bytes: u64) -> AuditEntry {
    entry_for(&Principal::of(req), req.extensions.get::<RequestContext>(), operation, bucket, key, Outcome::Ok, bytes)
}

/// Filters of an audit query.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct AuditQuery {
    /// Only entries of this tenant; `None`: any.
    pub tenant: Option<String>,
    /// Only entries made by this access key; `None`: any.
    pub principal: Option<String>,
    /// Only entries acting on this bucket; `None`: any.
    pub bucket: Option<String>,
    /// Only entries with this outcome, `ok` or `denied`; `None`: any.
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
    /// Whether `e` passes the tenant, principal, bucket and outcome filters (the time
    /// bounds and the page size are applied by the scan that reads the entries).
    #[must_use]
    pub fn matches(&self, e: &AuditEntry) -> bool {
        let eq = |f: &Option<String>, v: &str| f.as_deref().is_none_or(|f| f == v);
        eq(&self.tenant, &e.tenant) && eq(&self.principal, &e.principal) && eq(&self.bucket, &e.bucket) && eq(&self.outcome, &e.outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{Identity, Role};

    #[test]
    fn typed_operations_and_outcomes_are_stored_as_the_names_the_log_always_had() {
        let p = Principal::Anonymous;
        let e = entry_for(&p, None, Operation::CompleteMultipartUpload, "b", "k", Outcome::Throttled, 0);
        assert_eq!((e.operation.as_str(), e.outcome.as_str()), ("CompleteMultipartUpload", "throttled"));
        let e = entry_for(&p, None, GatewayOp::AdminSetTenantQuota, "", "t", Outcome::Denied, 0);
        assert_eq!((e.operation.as_str(), e.outcome.as_str()), ("AdminSetTenantQuota", "denied"));
        assert_eq!((GatewayOp::Admin.name(), GatewayOp::RepairOrphanEntry.name(), Outcome::Ok.name()), ("Admin", "RepairOrphanEntry", "ok"));
    }

    #[test]
    fn entries_name_a_keys_user_and_no_one_for_the_anonymous_or_the_gateway() {
        for nobody in [Principal::Anonymous, Principal::Gateway] {
            let e = entry_for(&nobody, None, Operation::PutObject, "b", "k", Outcome::Ok, 0);
            assert_eq!((e.principal.as_str(), e.user.as_str(), e.tenant.as_str()), ("", "", ""), "{nobody:?}");
        }
        let ann = Principal::Key(Identity { tenant: "acme".into(), user: "ann".into(), access_key: "AK".into(), role: Role::Writer, root: false });
        let e = entry_for(&ann, None, Operation::PutObject, "b", "k", Outcome::Ok, 0);
        assert_eq!((e.principal.as_str(), e.user.as_str(), e.tenant.as_str()), ("AK", "ann", "acme"));
    }
}

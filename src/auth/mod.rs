//! Authentication: tenants' users and their access keys, secrets sealed at rest, and the
//! principal attached to each request.

mod keys;
mod master;
pub mod screen;

pub use keys::{KeyStore, NewKey, Secret, generate_access_key};
pub use master::MasterKey;

pub use crate::meta::Role;

use s3s::S3Request;
use serde::Deserialize;

/// Who is making a request, attached to it by the access check, or the gateway itself for
/// its own background work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A request without credentials.
    Anonymous,
    /// The gateway's own work (upload expiry, reconciliation, finishing interrupted writes).
    Gateway,
    /// The user behind a verified access key.
    Key(Identity),
}

/// A user as one of their access keys identifies them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The tenant the user belongs to.
    pub tenant: String,
    /// The user's name within the tenant.
    pub user: String,
    /// The key the request was signed with.
    pub access_key: String,
    /// What the user may do within the tenant.
    pub role: Role,
    /// The bootstrap administrator: manages every tenant.
    pub root: bool,
}

/// The tenant of the bootstrap administrator.
pub const ROOT_TENANT: &str = "root";

impl Principal {
    /// The principal attached to `req` (anonymous if none).
    #[must_use]
    pub fn of<T>(req: &S3Request<T>) -> Self {
        req.extensions.get::<Self>().cloned().unwrap_or(Self::Anonymous)
    }

    /// Whether the request came without credentials.
    #[must_use]
    pub fn is_anonymous(&self) -> bool {
        matches!(self, Self::Anonymous)
    }

    /// The identity behind the request's key; `None` for the anonymous and the gateway.
    #[must_use]
    pub fn identity(&self) -> Option<&Identity> {
        match self {
            Self::Key(identity) => Some(identity),
            Self::Anonymous | Self::Gateway => None,
        }
    }

    /// The access key, empty without one (as records and audit entries keep it).
    #[must_use]
    pub fn access_key(&self) -> &str {
        self.identity().map_or("", |i| &i.access_key)
    }

    /// The user's tenant, empty without a key.
    #[must_use]
    pub fn tenant(&self) -> &str {
        self.identity().map_or("", |i| &i.tenant)
    }

    /// The user's name, empty without a key.
    #[must_use]
    pub fn user(&self) -> &str {
        self.identity().map_or("", |i| &i.user)
    }

    /// Whether this is the bootstrap administrator.
    #[must_use]
    pub fn is_root(&self) -> bool {
        self.identity().is_some_and(|i| i.root)
    }

    /// The tenant an object this principal writes is owned by as its writer (ACLs give a
    /// writer from another tenant full control of its object); none for anonymous
    /// writers and root, who writes as every tenant.
    #[must_use]
    pub fn writing_tenant(&self) -> Option<&str> {
        self.identity().filter(|i| !i.root).map(|i| i.tenant.as_str())
    }

    /// Whether this principal acts within `tenant` (root acts within every tenant).
    #[must_use]
    pub fn sees_tenant(&self, tenant: &str) -> bool {
        self.identity().is_some_and(|i| i.root || i.tenant == tenant)
    }

    /// Whether this principal may administer `tenant` (users, keys, buckets' settings).
    #[must_use]
    pub fn administers(&self, tenant: &str) -> bool {
        self.identity().is_some_and(|i| i.root || (i.role == Role::Admin && i.tenant == tenant))
    }
}

/// `[root]` of the configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RootConfig {
    /// Access key of the bootstrap administrator; with `secret_key`. If unset, credentials
    /// are generated on first start and kept in `{data_dir}/root-credentials` (mode 0600).
    pub access_key: Option<String>,
    /// Secret key of the bootstrap administrator (at least 8 characters); with `access_key`.
    pub secret_key: Option<String>,
}

/// The root credentials: from the configuration when given, else those kept in
/// `{data_dir}/root-credentials`, else freshly generated and kept there (mode 0600).
/// Returns whether they were generated now (so the caller prints them, once).
pub fn root_credentials(cfg: &RootConfig, data_dir: &std::path::Path) -> std::io::Result<(String, Secret, bool)> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;

    if let (Some(a), Some(s)) = (&cfg.access_key, &cfg.secret_key) {
        return Ok((a.clone(), Secret::new(s.clone()), false));
    }
    let path = data_dir.join("root-credentials");
    if let Ok(text) = std::fs::read_to_string(&path) {
        let mut access = None;
        let mut secret = None;
        for line in text.lines() {
            if let Some(v) = line.strip_prefix("access_key=") {
                access = Some(v.trim().to_owned());
            } else if let Some(v) = line.strip_prefix("secret_key=") {
                secret = Some(Secret::new(v.trim()));
            }
        }
        return match (access, secret) {
            (Some(a), Some(s)) => Ok((a, s, false)),
            _ => Err(std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{} is malformed", path.display()))),
        };
    }
    let access = keys::generate_access_key();
    let secret = Secret::generate();
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path)?;
    writeln!(f, "access_key={access}\nsecret_key={}", secret.expose())?;
    f.sync_all()?;
    Ok((access, secret, true))
}

//! The admin API's endpoints, declared once: each one's method, path pattern, who may call
//! it, and the [`Action`] a request for it parses into.

/// Who may call an admin endpoint (every caller is an admin or root: see [`super::Routes`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// Root alone: the endpoint concerns every tenant, or the gateway itself.
    Root,
    /// Root, or an admin of the tenant the request names (its handler checks which: the
    /// tenant is known once the resource is read).
    TenantAdmin,
    /// Any admin; the answer shows only the caller's tenant (root: every tenant).
    AnyAdmin,
}

/// One admin endpoint: method, path pattern (`{name}` is one segment, `{name..}` the
/// rest) and who may call it. [`ENDPOINTS`] lists them all: a route missing from it is
/// 404, and the access-matrix test walks every entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    /// HTTP method, upper-case (`GET`, `PUT`, `POST`, `DELETE`).
    pub method: &'static str,
    /// Path after [`super::PREFIX`], `/`-separated, with its `{name}` and `{name..}` parameters.
    pub path: &'static str,
    /// Who may call it.
    pub who: Who,
}

impl Endpoint {
    fn matches(&self, method: &str, segments: &[&str]) -> bool {
        if self.method != method {
            return false;
        }
        let pattern: Vec<&str> = self.path.split('/').collect();
        for (i, p) in pattern.iter().enumerate() {
            if p.ends_with("..}") {
                return segments.len() > i;
            }
            match segments.get(i) {
                Some(s) if p.starts_with('{') || s == p => {}
                _ => return false,
            }
        }
        segments.len() == pattern.len()
    }

    /// The path parameter `name` of a request this endpoint [`matches`](Self::matches):
    /// its segment, or for `{name..}` the rest of the path joined by `/`.
    fn param(&self, segments: &[&str], name: &str) -> Option<String> {
        for (i, p) in self.path.split('/').enumerate() {
            match p.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                Some(rest) if rest.strip_suffix("..") == Some(name) => return Some(segments.get(i..)?.join("/")),
                Some(one) if one == name => return segments.get(i).map(|s| (*s).to_owned()),
                _ => {}
            }
        }
        None
    }
}

/// Generates, from one list, [`Action`] (a variant per endpoint, its path parameters as
/// fields named as in the pattern), [`ENDPOINTS`], and the parsing of a request into an
/// action, so that an endpoint cannot be routed without saying who may call it.
macro_rules! endpoints {
    ($( $(#[doc = $doc:literal])* $action:ident $({ $($param:ident),+ })? = $method:ident $path:literal, $who:ident; )+) => {
        /// A request to the admin API, parsed: the endpoint it asks for, with its path parameters.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Action {
            $( $(#[doc = $doc])* $action $({ $(#[doc = concat!("The path's `{", stringify!($param), "}` segment.")] $param: String),+ })?, )+
        }

        /// Every admin endpoint, in the order requests are matched.
        pub const ENDPOINTS: &[Endpoint] = &[$( endpoints!(@endpoint $method $path $who), )+];

        impl Action {
            /// The action a request's method and path segments ask for (`None`: no endpoint).
            #[must_use]
            pub fn parse(method: &str, segments: &[&str]) -> Option<Self> {
                $({
                    let endpoint = endpoints!(@endpoint $method $path $who);
                    if endpoint.matches(method, segments) {
                        return Some(Self::$action $({ $($param: endpoint.param(segments, stringify!($param))?),+ })?);
                    }
                })+
                None
            }

            /// The endpoint this action is asked through, which says who may ask for it.
            #[must_use]
            pub fn endpoint(&self) -> &'static Endpoint {
                match self {
                    $( Self::$action { .. } => &endpoints!(@endpoint $method $path $who), )+
                }
            }
        }
    };
    (@endpoint $method:ident $path:literal $who:ident) => {
        Endpoint { method: stringify!($method), path: $path, who: Who::$who }
    };
}

endpoints! {
    /// The tenants the caller may see.
    ListTenants = GET "tenants", AnyAdmin;
    /// Create a tenant.
    CreateTenant = POST "tenants", Root;
    /// Delete a tenant (never root's own).
    DeleteTenant { tenant } = DELETE "tenants/{tenant}", Root;
    /// The users of the tenants the caller may see.
    ListUsers = GET "users", AnyAdmin;
    /// Create a user in a tenant, with a role.
    CreateUser = POST "users", TenantAdmin;
    /// Delete a user of `tenant`.
    DeleteUser { tenant, user } = DELETE "users/{tenant}/{user}", TenantAdmin;
    /// The access keys of the tenants the caller may see, without their secrets.
    ListKeys = GET "keys", AnyAdmin;
    /// Create an access key for a user; the answer holds its secret, shown this once only.
    CreateKey = POST "keys", TenantAdmin;
    /// Let a disabled key sign again.
    EnableKey { key } = POST "keys/{key}/enable", TenantAdmin;
    /// Refuse every request signed with the key, at once.
    DisableKey { key } = POST "keys/{key}/disable", TenantAdmin;
    /// Delete the key for good.
    DeleteKey { key } = DELETE "keys/{key}", TenantAdmin;
    /// The buckets of the tenants the caller may see, with owner and visibility.
    ListBuckets = GET "buckets", AnyAdmin;
    /// Set a bucket's visibility and/or owning tenant.
    SetBucket { bucket } = PUT "buckets/{bucket}", TenantAdmin;
    /// Objects and bytes stored per tenant and bucket, with their quotas.
    Usage = GET "usage", AnyAdmin;
    /// The usage history: samples of what each tenant and bucket stored over time.
    UsageHistory = GET "usage/history", AnyAdmin;
    /// Set a tenant's storage quota, all its buckets together.
    SetTenantQuota { tenant } = PUT "quotas/tenant/{tenant}", Root;
    /// Set a bucket's storage quota.
    SetBucketQuota { bucket } = PUT "quotas/bucket/{bucket}", TenantAdmin;
    /// `kind` is `tenant` or `key`: a tenant's limits are root's to change, a key's its tenant admins'.
    GetLimits { kind, name } = GET "limits/{kind}/{name}", TenantAdmin;
    /// Set the rate-limit override of a tenant or key; effective at once.
    SetLimits { kind, name } = PUT "limits/{kind}/{name}", TenantAdmin;
    /// Remove the override: back to the configured defaults.
    ResetLimits { kind, name } = DELETE "limits/{kind}/{name}", TenantAdmin;
    /// The audit log, filtered by the query.
    ReadAudit = GET "audit", AnyAdmin;
    /// The topics of the buckets the caller may see.
    ListTopics = GET "topics", AnyAdmin;
    /// Create or replace a topic (its name may hold `/`, hence the rest of the path).
    SetTopic { bucket, topic } = PUT "topics/{bucket}/{topic..}", TenantAdmin;
    /// Delete a topic.
    DeleteTopic { bucket, topic } = DELETE "topics/{bucket}/{topic..}", TenantAdmin;
    /// Prune the manifests of deleted objects now, leaving signed checkpoints.
    PruneProofs = POST "prune-proofs", Root;
    /// Copy new proofs, audit entries and records to the upstream's metadata mirror now.
    Mirror = POST "mirror", Root;
    /// Fill an empty metadata store from the upstream's mirror.
    Rebuild = POST "rebuild", Root;
    /// The instances sharing this gateway's metadata bucket, as their heartbeats tell.
    Cluster = GET "cluster", Root;
    /// Each background job's last run, result and next run.
    ListJobs = GET "jobs", Root;
    /// Run a background job now and answer its outcome.
    RunJob { job } = POST "jobs/{job}/run", Root;
    /// The keyring's keys (SSE-KMS, and `@sse-s3` once rotated): ids, versions, enabled; never key material.
    ListKeyring = GET "keyring", Root;
    /// Create a keyring key.
    CreateKeyringKey { id } = POST "keyring/{id}", Root;
    /// Give a keyring key a new version (new objects use it; the `rewrap` job moves the
    /// data keys of older objects onto it); `@sse-s3`: the SSE-S3 key.
    RotateKeyringKey { id } = POST "keyring/{id}/rotate", Root;
    /// Enable or disable a keyring key (`{"enabled": bool}`).
    SetKeyringKey { id } = PUT "keyring/{id}", Root;
    /// The last scrub's report.
    ScrubReport = GET "scrub", Root;
    /// Re-hash every stored object against its proof manifest now.
    RunScrub = POST "scrub", Root;
}

#[cfg(test)]
mod tests {
    use super::{Action, ENDPOINTS};

    /// Each pattern's parameters, and a request for it with each parameter `v-{name}`.
    fn concrete(pattern: &str) -> (Vec<String>, String) {
        let mut names = Vec::new();
        let segments: Vec<String> = pattern
            .split('/')
            .map(|p| match p.strip_prefix('{') {
                Some(param) => {
                    let name = param.trim_end_matches('}').trim_end_matches("..").to_owned();
                    let value = format!("v-{name}");
                    names.push(name);
                    value
                }
                None => p.to_owned(),
            })
            .collect();
        (names, segments.join("/"))
    }

    #[test]
    fn every_endpoint_parses_into_its_own_action_with_its_parameters() {
        for e in ENDPOINTS {
            let (names, path) = concrete(e.path);
            let segments: Vec<&str> = path.split('/').collect();
            let action = Action::parse(e.method, &segments).unwrap_or_else(|| panic!("{} {path} parses to no action", e.method));
            assert_eq!(action.endpoint(), e, "{action:?}");
            let shown = format!("{action:?}");
            for name in &names {
                assert!(shown.contains(&format!("{name}: \"v-{name}\"")), "{} {}: {shown}", e.method, e.path);
            }
            assert_eq!(shown.matches(": \"").count(), names.len(), "{} {}: {shown}", e.method, e.path);
        }
    }

    #[test]
    fn a_rest_parameter_takes_every_remaining_segment() {
        let topic = |segments: &[&str]| Action::parse("PUT", segments);
        assert_eq!(topic(&["topics", "b", "in", "box"]), Some(Action::SetTopic { bucket: "b".into(), topic: "in/box".into() }));
        assert_eq!(topic(&["topics", "b"]), None);
    }

    #[test]
    fn requests_for_no_endpoint_parse_to_nothing() {
        for (method, segments) in
            [("GET", &["tenant"][..]), ("PUT", &["tenants"]), ("DELETE", &["users", "t"]), ("POST", &["keys", "k", "rotate"]), ("GET", &[])]
        {
            assert_eq!(Action::parse(method, segments), None, "{method} {segments:?}");
        }
    }
}

//! CORS on the wire: the answer to a browser's preflight (`OPTIONS`), and the
//! `Access-Control-*` headers of every other answer to a request with an `Origin`, both
//! decided by the bucket's compiled rules ([`crate::policy::cors`]).
//!
//! Both are done by the server around s3s rather than inside it: s3s 0.14 routes no
//! `OPTIONS`, a preflight carries no credentials (so it must not meet the signature check),
//! and the headers belong on every answer, s3s's own errors (signature, parsing) included.

use crate::auth::screen::Refusal;
use crate::meta::Store;
use crate::policy::config::BucketConfigs;
use crate::policy::cors::{CorsAnswer, requested_headers};

use http::{HeaderMap, HeaderValue, StatusCode, header};
use s3s::host::S3Host;

/// What every CORS answer varies on, as S3 sends it.
const VARY: &str = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method";

/// The bucket (and whether a key follows it) a request addresses, found as s3s finds it:
/// from the `Host` header when virtual-host domains are configured and the host is a name,
/// else from the path's first segment. `None` for the service root.
#[must_use]
pub fn addressed(host: Option<&dyn S3Host>, headers: &HeaderMap, uri: &http::Uri) -> Option<(String, bool)> {
    let path = uri.path().strip_prefix('/').unwrap_or(uri.path());
    let host_name = headers.get(header::HOST).and_then(|v| v.to_str().ok()).or_else(|| uri.authority().map(http::uri::Authority::as_str));
    if let (Some(name), Some(s3_host)) = (host_name, host)
        && !is_address(name)
    {
        let vh = s3_host.parse_host_header(name).ok()?;
        if let Some(bucket) = vh.bucket() {
            return Some((bucket.to_owned(), !path.is_empty()));
        }
    }
    let (bucket, key) = path.split_once('/').unwrap_or((path, ""));
    (!bucket.is_empty()).then(|| (bucket.to_owned(), !key.is_empty()))
}

/// Whether a `Host` is an IP address (with or without a port): s3s reads those path-style.
fn is_address(host: &str) -> bool {
    host.parse::<std::net::SocketAddr>().is_ok() || host.parse::<std::net::IpAddr>().is_ok()
}

fn refusal(status: StatusCode, code: &'static str, message: &str) -> Refusal {
    Refusal { status, code, message: message.into(), details: Vec::new() }
}

/// The answer to a preflight: allowed (a 200) or refused, with its headers.
#[derive(Debug)]
pub struct Preflight {
    /// Why it is refused (400 without `Origin` or `Access-Control-Request-Method`, 404
    /// NoSuchBucket, 403 AccessForbidden when the bucket has no rules or none matches);
    /// `None`: allowed.
    pub refusal: Option<Refusal>,
    /// The headers to send: the matching rule's, or `Vary` alone for a refusal about a
    /// bucket with rules (its answer depends on them too).
    pub headers: HeaderMap,
}

impl Preflight {
    fn refused(refusal: Refusal, headers: HeaderMap) -> Self {
        Self { refusal: Some(refusal), headers }
    }
}

/// The answer to a preflight for `bucket` (`has_key`: of an object in it), as S3 gives it.
#[must_use]
pub fn preflight(configs: &BucketConfigs, store: &dyn Store, bucket: &str, has_key: bool, headers: &HeaderMap) -> Preflight {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).filter(|v| !v.is_empty());
    let Some(origin) = text("origin") else {
        return Preflight::refused(refusal(StatusCode::BAD_REQUEST, "BadRequest", "Insufficient information. Origin request header needed."), HeaderMap::new());
    };
    let Some(method) = text("access-control-request-method") else {
        return Preflight::refused(refusal(StatusCode::BAD_REQUEST, "BadRequest", "Invalid Access-Control-Request-Method: null"), HeaderMap::new());
    };
    let config = configs.of(bucket);
    let Some(cors) = &config.cors else {
        let refused = match store.bucket_get(bucket) {
            Ok(None) => refusal(StatusCode::NOT_FOUND, "NoSuchBucket", "The specified bucket does not exist"),
            Ok(Some(_)) => refusal(StatusCode::FORBIDDEN, "AccessForbidden", "CORSResponse: CORS is not enabled for this bucket."),
            Err(e) => {
                tracing::error!(error = %e, "preflight: the bucket cannot be read");
                refusal(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", "We encountered an internal error. Please try again.")
            }
        };
        return Preflight::refused(refused, HeaderMap::new());
    };
    let requested = text("access-control-request-headers").map(requested_headers).unwrap_or_default();
    let mut out = HeaderMap::new();
    out.insert(header::VARY, HeaderValue::from_static(VARY));
    let Some(answer) = cors.find(origin, method, &requested) else {
        let mut r = refusal(
            StatusCode::FORBIDDEN,
            "AccessForbidden",
            "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
        );
        r.details.push(("Method", method.to_owned()));
        r.details.push(("ResourceType", if has_key { "OBJECT" } else { "BUCKET" }.to_owned()));
        return Preflight::refused(r, out);
    };
    allow(&answer, &mut out);
    if !requested.is_empty()
        && let Ok(v) = HeaderValue::from_str(&requested.join(", "))
    {
        out.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, v);
    }
    Preflight { refusal: None, headers: out }
}

/// The headers of a matching rule, common to preflights and actual answers.
fn allow(answer: &CorsAnswer<'_>, out: &mut HeaderMap) {
    if let Ok(v) = HeaderValue::from_str(answer.allow_origin) {
        out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
    }
    if answer.allow_credentials {
        out.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
    }
    if let Ok(v) = HeaderValue::from_str(&answer.methods.join(", ")) {
        out.insert(header::ACCESS_CONTROL_ALLOW_METHODS, v);
    }
    if !answer.expose_headers.is_empty()
        && let Ok(v) = HeaderValue::from_str(&answer.expose_headers.join(", "))
    {
        out.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, v);
    }
    if let Some(age) = answer.max_age_seconds {
        out.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from(age));
    }
}

/// Adds to an answer (errors included, so that a browser may read them) the CORS headers
/// of the first rule of `bucket` matching `origin` and `method`; `Vary` whenever the bucket
/// has rules, since the answer depends on the origin. Nothing for a bucket without rules.
pub fn decorate(configs: &BucketConfigs, bucket: &str, origin: &str, method: &str, headers: &mut HeaderMap) {
    let config = configs.of(bucket);
    let Some(cors) = &config.cors else { return };
    headers.insert(header::VARY, HeaderValue::from_static(VARY));
    if let Some(answer) = cors.find(origin, method, &[]) {
        allow(&answer, headers);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addressed_by(domains: &[&str], host: &str, path: &str) -> Option<(String, bool)> {
        let md = (!domains.is_empty()).then(|| s3s::host::MultiDomain::new(domains).unwrap());
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_str(host).unwrap());
        addressed(md.as_ref().map(|m| m as &dyn S3Host), &h, &path.parse().unwrap())
    }

    #[test]
    fn the_bucket_is_found_as_s3s_finds_it() {
        assert_eq!(addressed_by(&[], "127.0.0.1:9000", "/b/k/x"), Some(("b".into(), true)));
        assert_eq!(addressed_by(&[], "127.0.0.1:9000", "/b"), Some(("b".into(), false)));
        assert_eq!(addressed_by(&[], "127.0.0.1:9000", "/b/"), Some(("b".into(), false)));
        assert_eq!(addressed_by(&[], "127.0.0.1:9000", "/"), None);
        assert_eq!(addressed_by(&["s3.test"], "b.s3.test", "/k"), Some(("b".into(), true)));
        assert_eq!(addressed_by(&["s3.test"], "b.s3.test", "/"), Some(("b".into(), false)));
        assert_eq!(addressed_by(&["s3.test"], "s3.test", "/b/k"), Some(("b".into(), true)));
        // An address is read path-style even with domains configured, as s3s does.
        assert_eq!(addressed_by(&["s3.test"], "127.0.0.1:9000", "/b/k"), Some(("b".into(), true)));
    }
}

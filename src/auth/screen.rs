//! Checks of a request's authentication parameters made before its signature is
//! verified, answered as AWS S3 answers them: one auth mechanism per request, presigned
//! lifetimes of at most a week, the gateway's region and service in the credential scope,
//! a supported algorithm, and every `x-amz-*` header covered by a SigV4 signature (a header
//! outside it could otherwise turn a presigned PUT into a copy of any readable object).
//!
//! SigV2 needs no such check: its string to sign covers every `x-amz-*` header.

use http::{HeaderMap, StatusCode};

/// The longest lifetime of a presigned URL AWS accepts (7 days).
pub const MAX_PRESIGNED_EXPIRES_SECS: u64 = 604_800;

/// The only SigV4 algorithm supported.
const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// Headers exempt from the signed-headers rule: the payload hash is verified against the
/// body itself, so leaving it out of the signature changes nothing the signer chose.
const UNSIGNED_ALLOWED: &[&str] = &["x-amz-content-sha256"];

/// A refusal, with the extra elements AWS adds to its error document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The HTTP status: 400 for malformed authorization, 403 for a refused one.
    pub status: StatusCode,
    /// The S3 error code, such as `SignatureDoesNotMatch`.
    pub code: &'static str,
    /// The error document's `Message`, for a person to read.
    pub message: String,
    /// Further elements of the error document (`Region`, `HeadersNotSigned`).
    pub details: Vec<(&'static str, String)>,
}

impl Refusal {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), details: Vec::new() }
    }

    fn with(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.details.push((name, value.into()));
        self
    }

    /// The S3 XML error document, with `request_id`.
    #[must_use]
    pub fn to_xml(&self, request_id: &str) -> String {
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error>");
        let mut element = |name: &str, value: &str| {
            out.push('<');
            out.push_str(name);
            out.push('>');
            out.push_str(&xml_escape(value));
            out.push_str("</");
            out.push_str(name);
            out.push('>');
        };
        element("Code", self.code);
        element("Message", &self.message);
        for (name, value) in &self.details {
            element(name, value);
        }
        element("RequestId", request_id);
        out.push_str("</Error>");
        out
    }
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// The parts of a SigV4 credential scope: `AKID/yyyymmdd/region/service/aws4_request`.
struct Scope<'a> {
    region: &'a str,
    service: &'a str,
}

fn scope(credential: &str) -> Option<Scope<'_>> {
    // The access key id may not contain '/', so the last four parts are the scope.
    let mut parts = credential.rsplitn(5, '/');
    let terminator = parts.next()?;
    let service = parts.next()?;
    let region = parts.next()?;
    let date = parts.next()?;
    let _key = parts.next()?;
    (terminator == "aws4_request" && date.len() == 8 && date.bytes().all(|b| b.is_ascii_digit())).then_some(Scope { region, service })
}

/// `yyyyMMdd'T'HHmmss'Z'`, the only date form SigV4 knows (checked here because s3s 0.14's
/// parser subtracts before it checks for a digit, which panics in debug builds).
fn is_amz_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 16 && b[8] == b'T' && b[15] == b'Z' && b[..8].iter().chain(&b[9..15]).all(u8::is_ascii_digit)
}

/// Checks the form of a browser upload (`POST` with `multipart/form-data`): its boundary
/// must be one RFC 2046 allows, or s3s cannot read the form (and answered 501).
pub fn screen_form(method: &http::Method, headers: &HeaderMap) -> Result<(), Refusal> {
    let Some(ct) = headers.get(http::header::CONTENT_TYPE).map(|v| String::from_utf8_lossy(v.as_bytes())) else { return Ok(()) };
    if *method != http::Method::POST || !ct.trim_start().to_ascii_lowercase().starts_with("multipart/form-data") {
        return Ok(());
    }
    let boundary = ct.split(';').skip(1).filter_map(|p| p.split_once('=')).find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary")).map(|(_, v)| v.trim_end());
    // RFC 2046's boundary characters; unquoted, a token's (no spaces, no tspecials).
    let valid = boundary.is_some_and(|raw| {
        let (b, quoted) = raw.strip_prefix('"').and_then(|b| b.strip_suffix('"')).map_or((raw, false), |b| (b, true));
        (1..=70).contains(&b.len())
            && !b.ends_with(' ')
            && b.bytes().all(|c| c.is_ascii_alphanumeric() || b"'+_-.".contains(&c) || (quoted && b"(),/:=? ".contains(&c)))
    });
    if valid {
        Ok(())
    } else {
        Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "MalformedPOSTRequest",
            "The body of your POST request is not well-formed multipart/form-data: its boundary is missing or invalid.",
        ))
    }
}

/// How a request authenticates, as far as the screen needs to know.
enum Mechanism<'a> {
    None,
    PresignedV4 { params: Vec<(String, String)> },
    PresignedV2,
    HeaderV4(&'a str),
    HeaderOther,
}

fn query_pairs(query: &str) -> Vec<(String, String)> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(query).unwrap_or_default()
}

fn mechanism<'a>(query: &str, headers: &'a HeaderMap) -> Result<Mechanism<'a>, Refusal> {
    let params = if query.contains("X-Amz-") || query.contains("Signature") { query_pairs(query) } else { Vec::new() };
    let has = |name: &str| params.iter().any(|(k, _)| k == name);
    let presigned_v4 = has("X-Amz-Algorithm") || has("X-Amz-Signature") || has("X-Amz-Credential");
    let presigned_v2 = has("Signature") && has("AWSAccessKeyId");
    let header = headers.get(http::header::AUTHORIZATION);
    if (presigned_v4 || presigned_v2) && header.is_some() {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified",
        )
        .with("ArgumentName", "Authorization"));
    }
    if presigned_v4 {
        return Ok(Mechanism::PresignedV4 { params });
    }
    if presigned_v2 {
        return Ok(Mechanism::PresignedV2);
    }
    match header {
        None => Ok(Mechanism::None),
        Some(v) => match v.to_str() {
            Ok(s) if s.starts_with("AWS4-") => Ok(Mechanism::HeaderV4(s)),
            Ok(s) if s.starts_with("AWS ") => Ok(Mechanism::HeaderOther),
            _ => Err(Refusal::new(StatusCode::BAD_REQUEST, "InvalidArgument", "Unsupported Authorization Type").with("ArgumentName", "Authorization")),
        },
    }
}

/// Checks the authentication parameters of a request with `query` and `headers`, for a
/// gateway serving `region`.
pub fn screen(query: &str, headers: &HeaderMap, region: &str) -> Result<(), Refusal> {
    match mechanism(query, headers)? {
        Mechanism::None | Mechanism::PresignedV2 | Mechanism::HeaderOther => Ok(()),
        Mechanism::PresignedV4 { params } => screen_presigned(&params, headers, region),
        Mechanism::HeaderV4(auth) => screen_header(auth, headers, region),
    }
}

/// Whether the request's SigV4 signature covers header `name` (lower case): such a header
/// cannot be dropped without breaking the signature.
#[must_use]
pub fn signs_header(query: &str, headers: &HeaderMap, name: &str) -> bool {
    let listed = |signed: &str| signed.split(';').any(|h| h.trim().eq_ignore_ascii_case(name));
    match mechanism(query, headers) {
        Ok(Mechanism::PresignedV4 { params }) => params.iter().any(|(k, v)| k == "X-Amz-SignedHeaders" && listed(v)),
        Ok(Mechanism::HeaderV4(auth)) => auth.split_once(' ').and_then(|(_, p)| auth_param(p, "SignedHeaders")).is_some_and(listed),
        _ => false,
    }
}

fn query_refusal(message: impl Into<String>) -> Refusal {
    Refusal::new(StatusCode::BAD_REQUEST, "AuthorizationQueryParametersError", message)
}

fn screen_presigned(params: &[(String, String)], headers: &HeaderMap, region: &str) -> Result<(), Refusal> {
    let get = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let algorithm = get("X-Amz-Algorithm").unwrap_or("");
    if algorithm != ALGORITHM {
        return Err(query_refusal(format!("X-Amz-Algorithm only supports \"{ALGORITHM}\"")));
    }
    let credential = get("X-Amz-Credential").unwrap_or("");
    let scope = scope(credential).ok_or_else(|| {
        query_refusal(
            "Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".",
        )
    })?;
    if scope.region != region {
        return Err(query_refusal(format!("Error parsing the X-Amz-Credential parameter; the region '{}' is wrong; expecting '{region}'", scope.region))
            .with("Region", region));
    }
    if scope.service != "s3" {
        return Err(query_refusal(format!(
            "Error parsing the X-Amz-Credential parameter; incorrect service \"{}\". This endpoint belongs to \"s3\".",
            scope.service
        )));
    }
    if !is_amz_date(get("X-Amz-Date").unwrap_or("")) {
        return Err(query_refusal("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\""));
    }
    let expires = get("X-Amz-Expires").ok_or_else(|| query_refusal("X-Amz-Expires must be given"))?;
    let expires: u64 = expires.parse().map_err(|_| query_refusal("X-Amz-Expires should be a number"))?;
    if expires > MAX_PRESIGNED_EXPIRES_SECS {
        return Err(query_refusal(format!("X-Amz-Expires must be less than a week (in seconds) that is {MAX_PRESIGNED_EXPIRES_SECS}")));
    }
    let signed = get("X-Amz-SignedHeaders").unwrap_or("");
    check_signed_headers(signed, headers)
}

fn header_refusal(message: impl Into<String>) -> Refusal {
    Refusal::new(StatusCode::BAD_REQUEST, "AuthorizationHeaderMalformed", message)
}

/// The value of `name=` in a SigV4 `Authorization` header (its parameters are separated
/// by commas and optional spaces).
fn auth_param<'a>(params: &'a str, name: &str) -> Option<&'a str> {
    params.split(',').map(str::trim).find_map(|p| p.strip_prefix(name)?.strip_prefix('='))
}

fn screen_header(auth: &str, headers: &HeaderMap, region: &str) -> Result<(), Refusal> {
    let (algorithm, params) = auth.split_once(' ').unwrap_or((auth, ""));
    if algorithm != ALGORITHM {
        return Err(Refusal::new(StatusCode::BAD_REQUEST, "InvalidArgument", "Unsupported Authorization Type").with("ArgumentName", "Authorization"));
    }
    let malformed = || {
        header_refusal("The authorization header is malformed; the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".")
    };
    let scope = auth_param(params, "Credential").and_then(scope).ok_or_else(malformed)?;
    if scope.region != region {
        return Err(header_refusal(format!("The authorization header is malformed; the region '{}' is wrong; expecting '{region}'", scope.region))
            .with("Region", region));
    }
    if scope.service != "s3" {
        return Err(header_refusal(format!(
            "The authorization header is malformed; incorrect service \"{}\". This endpoint belongs to \"s3\".",
            scope.service
        )));
    }
    if headers.get("x-amz-date").is_some_and(|d| !d.to_str().is_ok_and(is_amz_date)) {
        return Err(Refusal::new(StatusCode::FORBIDDEN, "AccessDenied", "AWS authentication requires a valid Date or x-amz-date header"));
    }
    let signed = auth_param(params, "SignedHeaders").ok_or_else(|| header_refusal("The authorization header is malformed; SignedHeaders is missing."))?;
    check_signed_headers(signed, headers)
}

/// `host` must be signed, and so must every `x-amz-*` header present (but the exempt).
fn check_signed_headers(signed: &str, headers: &HeaderMap) -> Result<(), Refusal> {
    let signed: Vec<&str> = signed.split(';').map(str::trim).collect();
    let mut unsigned: Vec<&str> = Vec::new();
    if !signed.iter().any(|h| h.eq_ignore_ascii_case("host")) {
        unsigned.push("host");
    }
    for name in headers.keys() {
        let name = name.as_str();
        if name.starts_with("x-amz-") && !UNSIGNED_ALLOWED.contains(&name) && !signed.iter().any(|h| h.eq_ignore_ascii_case(name)) && !unsigned.contains(&name)
        {
            unsigned.push(name);
        }
    }
    if unsigned.is_empty() {
        return Ok(());
    }
    Err(Refusal::new(StatusCode::FORBIDDEN, "AccessDenied", "There were headers present in the request which were not signed")
        .with("HeadersNotSigned", unsigned.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(http::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
        }
        h
    }

    const CRED: &str = "AKIDEXAMPLE%2F20261201%2Fus-east-1%2Fs3%2Faws4_request";

    fn presigned(extra: &str) -> String {
        format!(
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={CRED}&X-Amz-Date=20261201T000000Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Signature=ab{extra}"
        )
    }

    fn auth(signed: &str, scope: &str) -> String {
        format!("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261201/{scope}/aws4_request, SignedHeaders={signed}, Signature=abcd")
    }

    #[test]
    fn a_presigned_url_used_as_signed_passes() {
        assert_eq!(screen(&presigned(""), &headers(&[("host", "h")]), "us-east-1"), Ok(()));
        // The payload hash is checked against the body, so it may be left unsigned.
        assert_eq!(screen(&presigned(""), &headers(&[("x-amz-content-sha256", "UNSIGNED-PAYLOAD")]), "us-east-1"), Ok(()));
    }

    #[test]
    fn unsigned_amz_headers_are_refused_and_named() {
        for added in ["x-amz-copy-source", "x-amz-meta-evil", "x-amz-tagging", "x-amz-acl"] {
            let r = screen(&presigned(""), &headers(&[(added, "v")]), "us-east-1").unwrap_err();
            assert_eq!((r.status, r.code), (StatusCode::FORBIDDEN, "AccessDenied"));
            assert_eq!(r.details, vec![("HeadersNotSigned", added.to_owned())]);
        }
        let signed = auth("host;x-amz-content-sha256;x-amz-date", "us-east-1/s3");
        let h = headers(&[("authorization", &signed), ("x-amz-date", "20261201T000000Z"), ("x-amz-meta-a", "1"), ("x-amz-copy-source", "b/k")]);
        let r = screen("", &h, "us-east-1").unwrap_err();
        assert_eq!(r.details, vec![("HeadersNotSigned", "x-amz-meta-a, x-amz-copy-source".to_owned())]);
        let all = auth("host;x-amz-copy-source;x-amz-date;x-amz-meta-a", "us-east-1/s3");
        assert_eq!(
            screen(
                "",
                &headers(&[("authorization", &all), ("x-amz-date", "20261201T000000Z"), ("x-amz-meta-a", "1"), ("x-amz-copy-source", "b/k")]),
                "us-east-1"
            ),
            Ok(())
        );
    }

    #[test]
    fn signed_headers_are_told_apart() {
        let h = headers(&[("authorization", &auth("host;range;x-amz-date", "us-east-1/s3")), ("range", "bytes=x")]);
        assert!(signs_header("", &h, "range"));
        assert!(!signs_header("", &headers(&[("authorization", &auth("host;x-amz-date", "us-east-1/s3"))]), "range"));
        assert!(!signs_header(&presigned(""), &headers(&[("range", "bytes=x")]), "range"));
        assert!(!signs_header("", &headers(&[("range", "bytes=x")]), "range"), "anonymous");
    }

    #[test]
    fn host_must_be_signed() {
        let q = presigned("").replace("X-Amz-SignedHeaders=host", "X-Amz-SignedHeaders=x-amz-date");
        let r = screen(&q, &headers(&[]), "us-east-1").unwrap_err();
        assert_eq!(r.details, vec![("HeadersNotSigned", "host".to_owned())]);
        let r = screen("", &headers(&[("authorization", &auth("x-amz-date", "us-east-1/s3"))]), "us-east-1").unwrap_err();
        assert_eq!(r.code, "AccessDenied");
    }

    #[test]
    fn presigned_lifetime_is_at_most_a_week() {
        let week = presigned("").replace("X-Amz-Expires=3600", "X-Amz-Expires=604800");
        assert_eq!(screen(&week, &headers(&[]), "us-east-1"), Ok(()));
        for bad in ["604801", "-1", "x", "99999999999999999999999"] {
            let q = presigned("").replace("X-Amz-Expires=3600", &format!("X-Amz-Expires={bad}"));
            let r = screen(&q, &headers(&[]), "us-east-1").unwrap_err();
            assert_eq!((r.status, r.code), (StatusCode::BAD_REQUEST, "AuthorizationQueryParametersError"), "{bad}");
        }
    }

    #[test]
    fn the_region_and_service_must_be_the_gateways() {
        let r = screen(&presigned(""), &headers(&[]), "eu-west-1").unwrap_err();
        assert_eq!((r.code, r.details.clone()), ("AuthorizationQueryParametersError", vec![("Region", "eu-west-1".to_owned())]));
        let h = headers(&[("authorization", &auth("host", "eu-west-1/s3"))]);
        let r = screen("", &h, "us-east-1").unwrap_err();
        assert_eq!((r.status, r.code), (StatusCode::BAD_REQUEST, "AuthorizationHeaderMalformed"));
        assert!(r.to_xml("id").contains("<Region>us-east-1</Region>"));
        let r = screen("", &headers(&[("authorization", &auth("host", "us-east-1/ec2"))]), "us-east-1").unwrap_err();
        assert_eq!(r.code, "AuthorizationHeaderMalformed");
        let q = presigned("").replace("%2Fs3%2F", "%2Fsts%2F");
        assert_eq!(screen(&q, &headers(&[]), "us-east-1").unwrap_err().code, "AuthorizationQueryParametersError");
    }

    #[test]
    fn unsupported_algorithms_are_client_errors() {
        let q = presigned("").replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA512");
        assert_eq!(screen(&q, &headers(&[]), "us-east-1").unwrap_err().status, StatusCode::BAD_REQUEST);
        let h = headers(&[("authorization", "AWS4-ECDSA-P256-SHA256 Credential=x")]);
        assert_eq!(screen("", &h, "us-east-1").unwrap_err().status, StatusCode::BAD_REQUEST);
        let h = headers(&[("authorization", "Bearer token")]);
        assert_eq!(screen("", &h, "us-east-1").unwrap_err().code, "InvalidArgument");
    }

    #[test]
    fn one_mechanism_per_request() {
        let h = headers(&[("authorization", &auth("host", "us-east-1/s3"))]);
        let r = screen(&presigned(""), &h, "us-east-1").unwrap_err();
        assert_eq!((r.status, r.code), (StatusCode::BAD_REQUEST, "InvalidArgument"));
        let v2 = "AWSAccessKeyId=AK&Expires=1&Signature=x";
        assert_eq!(screen(v2, &h, "us-east-1").unwrap_err().code, "InvalidArgument");
        assert_eq!(screen(v2, &headers(&[("x-amz-meta-a", "1")]), "us-east-1"), Ok(()), "SigV2 signs every x-amz-* header");
    }

    #[test]
    fn malformed_credentials_are_refused_not_panicked_on() {
        for cred in ["", "a", "a/b", "a/b/c/d/e/f", "%2F%2F%2F%2F", "AK/2026/us-east-1/s3/aws4_requestX"] {
            let q = presigned("").replace(CRED, cred);
            assert!(screen(&q, &headers(&[]), "us-east-1").is_err(), "{cred}");
            let h = headers(&[("authorization", &format!("AWS4-HMAC-SHA256 Credential={cred}, SignedHeaders=host, Signature=x"))]);
            assert!(screen("", &h, "us-east-1").is_err(), "{cred}");
        }
    }

    #[test]
    fn malformed_dates_are_refused_before_s3s_parses_them() {
        let q = presigned("").replace("20261201T000000Z", "-0001231T000000Z");
        assert_eq!(screen(&q, &headers(&[]), "us-east-1").unwrap_err().code, "AuthorizationQueryParametersError");
        let bad_scope = "AWS4-HMAC-SHA256 Credential=AK/2026!201/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=x";
        assert_eq!(screen("", &headers(&[("authorization", bad_scope)]), "us-east-1").unwrap_err().code, "AuthorizationHeaderMalformed");
        let h = headers(&[("authorization", &auth("host;x-amz-date", "us-east-1/s3")), ("x-amz-date", "2026120!T000000Z")]);
        assert_eq!(screen("", &h, "us-east-1").unwrap_err().code, "AccessDenied");
        assert!(is_amz_date("20261201T235959Z") && !is_amz_date("20261201T23595Z") && !is_amz_date("2026120xT235959Z"));
    }

    #[test]
    fn form_boundaries_must_be_readable() {
        let post = http::Method::POST;
        let form = |ct: &str| screen_form(&post, &headers(&[("content-type", ct)]));
        assert_eq!(form("multipart/form-data; boundary=----abc123"), Ok(()));
        assert_eq!(form("multipart/form-data; boundary=\"a b:c\""), Ok(()));
        let non_ascii = http::HeaderValue::from_bytes(b"multipart/form-data; boundary=\"0\"\xf0\x90\xa2\xa7\"").unwrap();
        let mut h = HeaderMap::new();
        h.insert(http::header::CONTENT_TYPE, non_ascii);
        assert_eq!(screen_form(&post, &h).map_err(|r| r.code), Err("MalformedPOSTRequest"));
        for bad in [
            "multipart/form-data; boundary= a",
            "multipart/form-data",
            "multipart/form-data; boundary=\"\"",
            "multipart/form-data; boundary=(0;",
            "multipart/form-data; boundary=a,b",
        ] {
            assert_eq!(form(bad).map_err(|r| r.code), Err("MalformedPOSTRequest"), "{bad:?}");
        }
        assert_eq!(screen_form(&http::Method::PUT, &headers(&[("content-type", "multipart/form-data")])), Ok(()), "an object's own type");
    }

    #[test]
    fn error_documents_escape_their_values() {
        let r = Refusal::new(StatusCode::BAD_REQUEST, "InvalidArgument", "a<b&c").with("Region", "\"r\"");
        assert_eq!(
            r.to_xml("RID"),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>InvalidArgument</Code><Message>a&lt;b&amp;c</Message><Region>&quot;r&quot;</Region><RequestId>RID</RequestId></Error>"
        );
    }
}

//! A bucket's CORS rules, as S3 validates and evaluates them: checked at `PutBucketCors`,
//! stored as JSON of [`CorsRule`]s, compiled once ([`CorsRules`]) and matched per browser
//! request without parsing anything.

/// The most rules a configuration may hold (AWS's limit).
pub const MAX_RULES: usize = 100;

/// The methods a rule may allow (S3 refuses any other).
const METHODS: [&str; 5] = ["GET", "PUT", "POST", "DELETE", "HEAD"];

/// One rule, as set by `PutBucketCors` and answered by `GetBucketCors`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CorsRule {
    /// `ID`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `AllowedOrigin`s: exact, or with one `*` standing for any run of characters.
    pub allowed_origins: Vec<String>,
    /// `AllowedMethod`s.
    pub allowed_methods: Vec<String>,
    /// `AllowedHeader`s, matched case-insensitively, one `*` each at most.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_headers: Vec<String>,
    /// `ExposeHeader`s.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expose_headers: Vec<String>,
    /// `MaxAgeSeconds`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age_seconds: Option<i32>,
}

/// Why a CORS configuration is refused, with the code S3 gives.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CorsError {
    /// 400 MalformedXML: the document breaks the schema or a limit.
    #[error("{0}")]
    Malformed(String),
    /// 400 InvalidRequest: a value S3 does not support.
    #[error("{0}")]
    Invalid(String),
}

/// A pattern with at most one `*` (any run of characters, empty included).
#[derive(Debug, Clone)]
enum Pattern {
    Exact(String),
    Wild { prefix: String, suffix: String },
}

impl Pattern {
    /// `pattern`, lower-cased first when matching ignores case.
    fn new(pattern: &str, lower: bool) -> Self {
        let p = if lower { pattern.to_ascii_lowercase() } else { pattern.to_owned() };
        match p.split_once('*') {
            Some((prefix, suffix)) => Self::Wild { prefix: prefix.to_owned(), suffix: suffix.to_owned() },
            None => Self::Exact(p),
        }
    }

    fn matches(&self, s: &str) -> bool {
        match self {
            Self::Exact(p) => p == s,
            Self::Wild { prefix, suffix } => s.len() >= prefix.len() + suffix.len() && s.starts_with(prefix.as_str()) && s.ends_with(suffix.as_str()),
        }
    }

    fn is_any(&self) -> bool {
        matches!(self, Self::Wild { prefix, suffix } if prefix.is_empty() && suffix.is_empty())
    }
}

/// One rule, compiled.
#[derive(Debug, Clone)]
struct Compiled {
    origins: Vec<Pattern>,
    /// Lower-cased.
    headers: Vec<Pattern>,
}

/// A bucket's CORS configuration, validated and compiled.
#[derive(Debug, Clone)]
pub struct CorsRules {
    rules: Vec<CorsRule>,
    compiled: Vec<Compiled>,
}

/// What a matching rule lets the gateway answer a browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsAnswer<'a> {
    /// `Access-Control-Allow-Origin`: the request's origin, or `*` for a rule allowing any.
    pub allow_origin: &'a str,
    /// `Access-Control-Allow-Credentials: true`: sent when the origin is echoed (never with `*`).
    pub allow_credentials: bool,
    /// The rule's methods (`Access-Control-Allow-Methods`).
    pub methods: &'a [String],
    /// The rule's `ExposeHeader`s (`Access-Control-Expose-Headers`).
    pub expose_headers: &'a [String],
    /// The rule's `MaxAgeSeconds` (`Access-Control-Max-Age`).
    pub max_age_seconds: Option<i32>,
}

/// Splits an `Access-Control-Request-Headers` value into its lower-cased header names.
#[must_use]
pub fn requested_headers(value: &str) -> Vec<String> {
    value.split(',').map(|h| h.trim().to_ascii_lowercase()).filter(|h| !h.is_empty()).collect()
}

impl CorsRules {
    /// Validates `rules` as S3 does at `PutBucketCors`.
    ///
    /// # Errors
    /// The first reason S3 would refuse them for.
    pub fn new(rules: Vec<CorsRule>) -> Result<Self, CorsError> {
        if rules.is_empty() {
            return Err(CorsError::Malformed("The XML you provided was not well-formed or did not validate against our published schema".into()));
        }
        if rules.len() > MAX_RULES {
            return Err(CorsError::Malformed(format!("The number of CORS rules should not exceed allowed limit of {MAX_RULES} rules.")));
        }
        let mut compiled = Vec::with_capacity(rules.len());
        for r in &rules {
            if r.allowed_origins.is_empty() || r.allowed_methods.is_empty() {
                return Err(CorsError::Malformed("Each CORSRule must have at least one AllowedOrigin and one AllowedMethod".into()));
            }
            if r.id.as_ref().is_some_and(|id| id.chars().count() > 255) {
                return Err(CorsError::Malformed("The ID of a CORSRule cannot be longer than 255 characters".into()));
            }
            if let Some(m) = r.allowed_methods.iter().find(|m| !METHODS.contains(&m.as_str())) {
                return Err(CorsError::Invalid(format!("Found unsupported HTTP method in CORS config. Unsupported method is {m}")));
            }
            if let Some(o) = r.allowed_origins.iter().find(|o| o.matches('*').count() > 1) {
                return Err(CorsError::Invalid(format!("AllowedOrigin \"{o}\" can not have more than one wildcard.")));
            }
            if let Some(h) = r.allowed_headers.iter().find(|h| h.matches('*').count() > 1) {
                return Err(CorsError::Invalid(format!("AllowedHeader \"{h}\" can not have more than one wildcard.")));
            }
            if let Some(h) = r.expose_headers.iter().find(|h| h.contains('*')) {
                return Err(CorsError::Invalid(format!("ExposeHeader \"{h}\" contains wildcard. We currently do not support wildcard for ExposeHeader.")));
            }
            if r.max_age_seconds.is_some_and(|s| s < 0) {
                return Err(CorsError::Malformed("MaxAgeSeconds must not be negative".into()));
            }
            compiled.push(Compiled {
                origins: r.allowed_origins.iter().map(|o| Pattern::new(o, false)).collect(),
                headers: r.allowed_headers.iter().map(|h| Pattern::new(h, true)).collect(),
            });
        }
        Ok(Self { rules, compiled })
    }

    /// Compiles a stored document (checked again: it may predate a rule).
    ///
    /// # Errors
    /// Why the document does not compile.
    pub fn from_document(document: &str) -> Result<Self, CorsError> {
        let rules: Vec<CorsRule> = serde_json::from_str(document).map_err(|e| CorsError::Malformed(e.to_string()))?;
        Self::new(rules)
    }

    /// The stored form.
    #[must_use]
    pub fn document(&self) -> String {
        serde_json::to_string(&self.rules).unwrap_or_default()
    }

    /// The rules, as set.
    #[must_use]
    pub fn rules(&self) -> &[CorsRule] {
        &self.rules
    }

    /// The first rule allowing `origin` to send `method` with every header of `headers`
    /// (lower-cased names, as [`requested_headers`] gives them), as S3 picks one.
    #[must_use]
    pub fn find<'a>(&'a self, origin: &'a str, method: &str, headers: &[String]) -> Option<CorsAnswer<'a>> {
        self.rules.iter().zip(&self.compiled).find_map(|(rule, c)| {
            let origin_pattern = c.origins.iter().find(|p| p.matches(origin))?;
            if !rule.allowed_methods.iter().any(|m| m == method) {
                return None;
            }
            if !headers.iter().all(|h| c.headers.iter().any(|p| p.matches(h))) {
                return None;
            }
            let any = origin_pattern.is_any();
            Some(CorsAnswer {
                allow_origin: if any { "*" } else { origin },
                allow_credentials: !any,
                methods: &rule.allowed_methods,
                expose_headers: &rule.expose_headers,
                max_age_seconds: rule.max_age_seconds,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(origins: &[&str], methods: &[&str], headers: &[&str]) -> CorsRule {
        CorsRule {
            allowed_origins: origins.iter().map(|s| (*s).to_owned()).collect(),
            allowed_methods: methods.iter().map(|s| (*s).to_owned()).collect(),
            allowed_headers: headers.iter().map(|s| (*s).to_owned()).collect(),
            ..CorsRule::default()
        }
    }

    #[test]
    fn configurations_are_validated_as_s3_does() {
        assert!(CorsRules::new(vec![rule(&["*"], &["GET", "PUT", "POST", "DELETE", "HEAD"], &["*"])]).is_ok());
        assert_eq!(
            CorsRules::new(vec![rule(&["*"], &["GET", "PATCH"], &[])]).unwrap_err(),
            CorsError::Invalid("Found unsupported HTTP method in CORS config. Unsupported method is PATCH".into())
        );
        // Methods are case-sensitive, as S3's are.
        assert!(matches!(CorsRules::new(vec![rule(&["*"], &["get"], &[])]), Err(CorsError::Invalid(_))));
        assert!(matches!(CorsRules::new(vec![rule(&["http://*.*.com"], &["GET"], &[])]), Err(CorsError::Invalid(m)) if m.contains("AllowedOrigin")));
        assert!(matches!(CorsRules::new(vec![rule(&["*"], &["GET"], &["x-*-*"])]), Err(CorsError::Invalid(m)) if m.contains("AllowedHeader")));
        let expose = CorsRule { expose_headers: vec!["x-*".into()], ..rule(&["*"], &["GET"], &[]) };
        assert!(matches!(CorsRules::new(vec![expose]), Err(CorsError::Invalid(m)) if m.contains("ExposeHeader")));
        let negative = CorsRule { max_age_seconds: Some(-1), ..rule(&["*"], &["GET"], &[]) };
        assert!(matches!(CorsRules::new(vec![negative]), Err(CorsError::Malformed(_))));
        let long_id = CorsRule { id: Some("i".repeat(256)), ..rule(&["*"], &["GET"], &[]) };
        assert!(matches!(CorsRules::new(vec![long_id]), Err(CorsError::Malformed(_))));
        assert!(matches!(CorsRules::new(vec![rule(&[], &["GET"], &[])]), Err(CorsError::Malformed(_))));
        assert!(matches!(CorsRules::new(vec![rule(&["*"], &[], &[])]), Err(CorsError::Malformed(_))));
        assert!(matches!(CorsRules::new(Vec::new()), Err(CorsError::Malformed(_))));
        assert!(CorsRules::new(vec![rule(&["*"], &["GET"], &[]); 100]).is_ok());
        assert!(matches!(CorsRules::new(vec![rule(&["*"], &["GET"], &[]); 101]), Err(CorsError::Malformed(m)) if m.contains("100")));
    }

    #[test]
    fn the_document_round_trips_exactly() {
        let full = CorsRule {
            id: Some("web".into()),
            expose_headers: vec!["ETag".into(), "x-amz-request-id".into()],
            max_age_seconds: Some(3000),
            ..rule(&["https://app.example.com", "http://*.example.com"], &["PUT", "GET"], &["Content-Type", "x-amz-*"])
        };
        let rules = CorsRules::new(vec![full.clone(), rule(&["*"], &["GET"], &[])]).unwrap();
        let again = CorsRules::from_document(&rules.document()).unwrap();
        assert_eq!(again.rules(), &[full, rule(&["*"], &["GET"], &[])]);
        assert!(matches!(CorsRules::from_document("{"), Err(CorsError::Malformed(_))));
    }

    #[test]
    fn the_first_rule_matching_origin_method_and_every_header_answers() {
        let h = |s: &str| requested_headers(s);
        let rules = CorsRules::new(vec![
            CorsRule {
                expose_headers: vec!["ETag".into()],
                max_age_seconds: Some(600),
                ..rule(&["https://app.example.com"], &["PUT", "POST"], &["Content-Type", "x-amz-*"])
            },
            rule(&["http://*.example.com"], &["GET"], &[]),
            rule(&["*"], &["GET", "HEAD"], &["*"]),
        ])
        .unwrap();

        let a = rules.find("https://app.example.com", "PUT", &h("content-type, X-Amz-Meta-Owner")).unwrap();
        assert_eq!(a.allow_origin, "https://app.example.com");
        assert!(a.allow_credentials);
        assert_eq!(a.methods, ["PUT", "POST"]);
        assert_eq!(a.expose_headers, ["ETag"]);
        assert_eq!(a.max_age_seconds, Some(600));
        // A header the rule does not name: no rule allows a PUT.
        assert_eq!(rules.find("https://app.example.com", "PUT", &h("content-type, authorization")), None);
        // Origins are matched exactly (scheme, host and port), a `*` standing for any run.
        assert_eq!(rules.find("http://app.example.com", "PUT", &[]), None);
        assert_eq!(rules.find("https://app.example.com:8443", "PUT", &[]), None);
        let sub = rules.find("http://a.b.example.com", "GET", &[]).unwrap();
        assert_eq!((sub.allow_origin, sub.allow_credentials, sub.methods), ("http://a.b.example.com", true, &["GET".to_owned()][..]));
        // A GET from elsewhere falls to the third rule, which answers `*` and no credentials.
        let any = rules.find("https://evil.test", "GET", &h("x-anything")).unwrap();
        assert_eq!((any.allow_origin, any.allow_credentials), ("*", false));
        assert_eq!(rules.find("https://evil.test", "DELETE", &[]), None);
        // Methods match exactly.
        assert_eq!(rules.find("https://evil.test", "get", &[]), None);
        // The first matching rule wins, even if a later one would say more.
        let first = rules.find("https://app.example.com", "POST", &[]).unwrap();
        assert_eq!(first.expose_headers, ["ETag"]);
    }

    #[test]
    fn patterns_match_with_one_wildcard_anywhere() {
        let p = Pattern::new("http://*.example.com", false);
        assert!(p.matches("http://x.example.com"));
        assert!(!p.matches("http://example.com"));
        assert!(!p.matches("https://x.example.com"));
        let p = Pattern::new("x-amz-*", true);
        assert!(p.matches("x-amz-date") && p.matches("x-amz-"));
        assert!(!p.matches("x-am"));
        // Prefix and suffix may not overlap: "ab*ba" does not match "aba".
        assert!(!Pattern::new("ab*ba", false).matches("aba"));
        assert!(Pattern::new("ab*ba", false).matches("abba"));
        assert!(Pattern::new("Content-Type", true).matches("content-type"));
    }
}

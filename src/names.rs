//! Names checked or reserved by more than one module: the path segment of the gateway's own
//! endpoints, bucket, tenant, user and topic naming rules, and a named value of a URL query. Its
//! own module so that the S3 side (`policy`, `server`) and the admin API share them without
//! importing each other.

use crate::meta::Store;

use std::sync::Arc;

/// The first path segment of the gateway's own endpoints (never a valid bucket name).
pub const RESERVED_SEGMENT: &str = "_tollgate";

/// Where the proof API is served (public manifests, public keys, chains).
pub const PROOFS_PREFIX: &str = "/_tollgate/proofs/";

/// `name=value` of a URL query, decoded.
#[must_use]
pub fn form_value(query: &str, name: &str) -> Option<String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(query).ok()?.into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

/// Names of tenants and users: 1 to 64 of `[a-z0-9._-]`, starting alphanumeric.
#[must_use]
pub fn valid_identity_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'))
        && s.as_bytes()[0].is_ascii_alphanumeric()
}

/// The bucket names s3s lets through (a refused one is `400 InvalidBucketName`): AWS's
/// rules ([`aws_bucket_name`]), the reserved segment (so that s3s routes `/_tollgate/...` to
/// the admin API), and the name of a bucket that exists already. That last one keeps a
/// bucket made before the rules were complete (under s3s's looser check: `a.-b`,
/// `x-s3alias`, ...) reachable, to be read, emptied and deleted; no new one can be made.
pub struct BucketNames {
    store: Arc<dyn Store>,
}

impl BucketNames {
    /// Bucket names checked against the rules and the buckets `store` holds.
    #[must_use]
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }
}

impl s3s::validation::NameValidation for BucketNames {
    fn validate_bucket_name(&self, name: &str) -> bool {
        name == RESERVED_SEGMENT || aws_bucket_name(name) || (s3s::path::check_bucket_name(name) && self.store.bucket_get(name).ok().flatten().is_some())
    }
}

/// Prefixes AWS reserves (`sthree-` covers `sthree-configurator`).
const RESERVED_PREFIXES: [&str; 3] = ["xn--", "sthree-", "amzn-s3-demo-"];
/// Suffixes AWS reserves: access point aliases, Object Lambda, Multi-Region Access Points,
/// directory buckets, table buckets.
const RESERVED_SUFFIXES: [&str; 5] = ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];

/// AWS's general purpose bucket naming rules: 3 to 63 characters of lower-case letters,
/// digits, dots and hyphens; a letter or digit first and last; no `..`, `.-` or `-.`; not
/// shaped like an IP address (four dot-separated groups of 1-3 digits); none of the
/// reserved prefixes and suffixes.
#[must_use]
pub fn aws_bucket_name(name: &str) -> bool {
    let b = name.as_bytes();
    let alnum = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    (3..=63).contains(&b.len())
        && b.iter().all(|c| alnum(c) || *c == b'.' || *c == b'-')
        && b.first().is_some_and(alnum)
        && b.last().is_some_and(alnum)
        && !name.contains("..")
        && !name.contains(".-")
        && !name.contains("-.")
        && !ip_shaped(name)
        && !RESERVED_PREFIXES.iter().any(|p| name.starts_with(p))
        && !RESERVED_SUFFIXES.iter().any(|s| name.ends_with(s))
}

fn ip_shaped(name: &str) -> bool {
    let groups: Vec<&str> = name.split('.').collect();
    groups.len() == 4 && groups.iter().all(|g| (1..=3).contains(&g.len()) && g.bytes().all(|c| c.is_ascii_digit()))
}

/// A topic name: 1 to 256 bytes, no leading or trailing `/`, no empty segment, no `..`.
#[must_use]
pub fn valid_topic_name(t: &str) -> bool {
    (1..=256).contains(&t.len()) && t.split('/').all(|s| !s.is_empty() && s != "." && s != "..") && !t.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::{aws_bucket_name, form_value, valid_identity_name, valid_topic_name};

    #[test]
    fn bucket_names_follow_aws_rules() {
        for ok in ["abc", "a-b.c", "1.2.3", "1.2.3.4.5", "xn-a", "my-s3alias-x", "s3alias", "sthree"] {
            assert!(aws_bucket_name(ok), "{ok}");
        }
        assert!(aws_bucket_name(&"a".repeat(63)));
        assert!(!aws_bucket_name(&"a".repeat(64)));
        for bad in ["ab", "Abc", "a_b", "-ab", "ab-", ".ab", "ab.", "a..b", "a.-b", "a-.b", "1.2.3.4", "300.1.1.1", "xn--ab", "sthree-ab", "amzn-s3-demo-x"] {
            assert!(!aws_bucket_name(bad), "{bad}");
        }
        for bad in ["ab-s3alias", "ab--ol-s3", "ab.mrap", "ab--x-s3", "ab--table-s3"] {
            assert!(!aws_bucket_name(bad), "{bad}");
        }
    }

    #[test]
    fn identity_names() {
        for ok in ["a", "acme", "a.b_c-d", "0x", &"a".repeat(64)] {
            assert!(valid_identity_name(ok), "{ok}");
        }
        for bad in ["", "-a", ".a", "_a", "A", "a b", "a/b", &"a".repeat(65)] {
            assert!(!valid_identity_name(bad), "{bad}");
        }
    }

    #[test]
    fn form_values_are_decoded() {
        assert_eq!(form_value("a=1&prefix=x%2Fy+z", "prefix").as_deref(), Some("x/y z"));
        assert_eq!(form_value("a=1", "prefix"), None);
    }

    #[test]
    fn topic_names_are_clean_prefixes() {
        for ok in ["inbox", "a/b", "snap-shots.v1"] {
            assert!(valid_topic_name(ok), "{ok}");
        }
        for bad in ["", "/inbox", "inbox/", "a//b", "a/../b", "..", "a\nb"] {
            assert!(!valid_topic_name(bad), "{bad:?}");
        }
    }
}

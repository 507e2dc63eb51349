//! What an engine's listing produces: pages of keys and common prefixes (the S3 listings
//! built from them are the gateway's, in `crate::s3`).

use crate::meta::ObjectRecord;

/// One page of a listing.
pub struct Page {
    /// The keys, in order, with their records (listings use only size, ETag and time).
    pub objects: Vec<(String, ObjectRecord)>,
    /// The common prefixes, in order, each ending with the delimiter.
    pub prefixes: Vec<String>,
    /// Whether more keys or prefixes follow `last`.
    pub truncated: bool,
    /// The last key or common prefix returned: where the next page starts after.
    pub last: Option<String>,
}

impl Page {
    /// A page with nothing in it, and nothing after.
    pub fn empty() -> Self {
        Self { objects: Vec::new(), prefixes: Vec::new(), truncated: false, last: None }
    }
}

/// The common prefix `key` folds into under `prefix` and `delimiter`, if any.
pub(crate) fn folded(key: &str, prefix: &str, delimiter: Option<&str>) -> Option<String> {
    let d = delimiter?;
    key.get(prefix.len()..)?.find(d).map(|pos| key[..prefix.len() + pos + d.len()].to_owned())
}

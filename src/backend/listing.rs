//! What an engine's listing produces: pages of keys and common prefixes (the S3 listings
//! built from them are the gateway's, in `crate::s3`).

use crate::meta::ObjectRecord;

/// One page of a listing.
pub struct Page {
    pub objects: Vec<(String, ObjectRecord)>,
    pub prefixes: Vec<String>,
    pub truncated: bool,
    /// The last key or common prefix returned: where the next page starts after.
    pub last: Option<String>,
}

impl Page {
    pub fn empty() -> Self {
        Self { objects: Vec::new(), prefixes: Vec::new(), truncated: false, last: None }
    }
}

/// The common prefix `key` folds into under `prefix` and `delimiter`, if any.
pub(crate) fn folded(key: &str, prefix: &str, delimiter: Option<&str>) -> Option<String> {
    let d = delimiter?;
    key.get(prefix.len()..)?.find(d).map(|pos| key[..prefix.len() + pos + d.len()].to_owned())
}

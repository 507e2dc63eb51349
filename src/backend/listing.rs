//! Pages of keys and common prefixes, from the index or from an engine storing at the key
//! (the S3 listings built from them are the gateway's, in `crate::s3`).

use super::Error;
use super::index::Index;
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

/// Up to `max` keys and common prefixes of `bucket` under `prefix` from the index (ordered
/// range scans), strictly after `after`, folding keys at `delimiter`: the scan jumps past
/// a folded subtree.
pub(crate) fn index_page(index: &Index, bucket: &str, prefix: &str, delimiter: Option<&str>, after: Option<&str>, max: usize) -> Result<Page, Error> {
    index.bucket(bucket)?;
    let mut page = Page::empty();
    if max == 0 {
        return Ok(page);
    }
    let mut from: Option<String> = after.map(str::to_owned);
    'restart: loop {
        for entry in index.store.object_scan(bucket, prefix, from.as_deref()) {
            let (key, rec) = entry?;
            if after.is_some_and(|a| key.as_str() <= a) {
                continue;
            }
            if let Some(cp) = folded(&key, prefix, delimiter) {
                if page.prefixes.last() == Some(&cp) || after.is_some_and(|a| cp.as_str() <= a) {
                    continue;
                }
                if page.objects.len() + page.prefixes.len() == max {
                    page.truncated = true;
                    return Ok(page);
                }
                page.last = Some(cp.clone());
                // Jump past the folded subtree instead of walking it.
                from = Some(format!("{cp}\u{10FFFF}"));
                page.prefixes.push(cp);
                continue 'restart;
            }
            if page.objects.len() + page.prefixes.len() == max {
                page.truncated = true;
                return Ok(page);
            }
            page.last = Some(key.clone());
            page.objects.push((key, rec));
        }
        return Ok(page);
    }
}

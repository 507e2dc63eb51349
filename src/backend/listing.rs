//! Pages of keys and common prefixes, from the index or from an engine storing at the key
//! (the S3 listings built from them are the gateway's, in `crate::s3`).

use super::Error;
use super::index::Index;
use crate::meta::{ObjectRecord, ObjectSummary, Store};

/// One page of a listing: its keys with their records, or with only what an S3 listing
/// shows of them ([`ObjectSummary`]).
pub struct Page<T = ObjectRecord> {
    /// The keys, in order, with their records.
    pub objects: Vec<(String, T)>,
    /// The common prefixes, in order, each ending with the delimiter.
    pub prefixes: Vec<String>,
    /// Whether more keys or prefixes follow `last`.
    pub truncated: bool,
    /// The last key or common prefix returned: where the next page starts after.
    pub last: Option<String>,
}

impl<T> Page<T> {
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

/// What a page holds of each object: its whole record, or an [`ObjectSummary`], each
/// decoded by its own scan of the index.
pub trait Listed: From<ObjectRecord> + Sized {
    /// The objects of `bucket` under `prefix`, from `from` on, as the store scans them.
    fn scan<'a>(store: &'a dyn Store, bucket: &str, prefix: &str, from: Option<&str>) -> Box<dyn Iterator<Item = crate::meta::Result<(String, Self)>> + 'a>;
}

impl Listed for ObjectRecord {
    fn scan<'a>(store: &'a dyn Store, bucket: &str, prefix: &str, from: Option<&str>) -> Box<dyn Iterator<Item = crate::meta::Result<(String, Self)>> + 'a> {
        store.object_scan(bucket, prefix, from)
    }
}

impl Listed for ObjectSummary {
    fn scan<'a>(store: &'a dyn Store, bucket: &str, prefix: &str, from: Option<&str>) -> Box<dyn Iterator<Item = crate::meta::Result<(String, Self)>> + 'a> {
        store.object_summary_scan(bucket, prefix, from)
    }
}

/// Up to `max` keys and common prefixes of `bucket` under `prefix` from the index (ordered
/// range scans), strictly after `after`, folding keys at `delimiter`: the scan jumps past
/// a folded subtree.
pub(crate) fn index_page<T: Listed>(
    index: &Index,
    bucket: &str,
    prefix: &str,
    delimiter: Option<&str>,
    after: Option<&str>,
    max: usize,
) -> Result<Page<T>, Error> {
    index.bucket(bucket)?;
    let mut page = Page::empty();
    if max == 0 {
        return Ok(page);
    }
    let mut from: Option<String> = after.map(str::to_owned);
    'restart: loop {
        for entry in T::scan(&*index.store, bucket, prefix, from.as_deref()) {
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

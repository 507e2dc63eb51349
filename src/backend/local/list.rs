//! Listing pages of the local backend: ordered range scans of the object index; a
//! delimiter folds a subtree into one CommonPrefix and the scan jumps past it.

use super::*;
use crate::backend::listing::folded;

/// Lists up to `max` keys and common prefixes of `bucket` under `prefix`, strictly after
/// `after`, folding keys at `delimiter`.
pub(super) fn scan(b: &LocalBackend, bucket: &str, prefix: &str, delimiter: Option<&str>, after: Option<&str>, max: usize) -> Result<Page, Error> {
    b.bucket(bucket)?;
    let mut page = Page::empty();
    if max == 0 {
        return Ok(page);
    }
    let mut from: Option<String> = after.map(str::to_owned);
    'restart: loop {
        for entry in b.store.object_scan(bucket, prefix, from.as_deref()) {
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

//! Listing pages from the upstream: one ListObjectsV2 per page, keys asked URL-encoded (any
//! key survives the XML), the mapping's prefix added to what is asked and taken off what
//! is answered. Pages resume after a key of the client's bucket (`start-after`), so the
//! gateway's continuation tokens and markers never carry the upstream's layout or tokens.

use super::client::Call;
use super::{UpstreamBackend, xml};
use crate::backend::listing::{Page, folded};
use crate::backend::{Error, ReconcileReport};
use crate::meta::{ObjectAttrs, ObjectRecord};

use bytes::Bytes;
use http::Method;

impl UpstreamBackend {
    pub(super) async fn list_page(&self, bucket: &str, prefix: &str, delimiter: Option<&str>, after: Option<&str>, max: usize) -> Result<Page, Error> {
        let place = self.place(bucket)?;
        if max == 0 {
            return Ok(Page::empty());
        }
        // After a common prefix, resume past everything it folded.
        let start_after = after.map(|a| match folded(a, prefix, delimiter) {
            Some(cp) => format!("{cp}\u{10FFFF}"),
            None => a.to_owned(),
        });
        let mut call = Call::new(Method::GET, &place.bucket, "")
            .query("list-type", "2")
            .query("encoding-type", "url")
            .query("prefix", place.key(prefix))
            .query("max-keys", max.to_string());
        if let Some(d) = delimiter {
            call = call.query("delimiter", d);
        }
        if let Some(s) = &start_after {
            call = call.query("start-after", place.key(s));
        }
        let resp = self.client.send(&call, Bytes::new()).await?;
        let result: xml::ListResult = xml::parse(&self.client.xml(resp).await?)?;
        let encoded = result.encoding_type.as_deref() == Some("url");
        let ours = |k: &str| -> Result<Option<String>, Error> {
            let k = if encoded { url_decode(k)? } else { k.to_owned() };
            Ok(k.strip_prefix(place.root.as_str()).map(str::to_owned).filter(|k| after.is_none_or(|a| k.as_str() > a)))
        };
        let mut page = Page::empty();
        for o in result.contents {
            if let Some(key) = ours(&o.key)? {
                let rec = listed(o.size, o.etag.trim_matches('"'), &o.last_modified);
                page.objects.push((key, rec));
            }
        }
        for p in result.common_prefixes {
            if let Some(cp) = ours(&p.prefix)? {
                page.prefixes.push(cp);
            }
        }
        page.truncated = result.is_truncated;
        page.last = page.objects.last().map(|(k, _)| k.clone()).into_iter().chain(page.prefixes.last().cloned()).max();
        Ok(page)
    }
}

/// Whether the upstream's object of ETag `etag` at a key is other bytes than sealed `rec`
/// there describes (replaced through another instance, or past the gateway).
fn replaced(rec: &ObjectRecord, etag: &str) -> bool {
    !rec.stored_etag.is_empty() && rec.stored_etag != etag
}

/// Walks each bucket's index beside the upstream's listing: entries the upstream no
/// longer holds (deleted past the gateway, or a sealed object replaced there) are removed
/// once a HEAD confirms it; objects the index does not know are counted, never touched
/// (another instance may own them).
pub(super) async fn reconcile(b: &UpstreamBackend, buckets: &[String], min_age: std::time::Duration) -> Result<ReconcileReport, Error> {
    const PAGE: usize = 1000;
    let newest_ns = crate::audit::now_ns() - i128::try_from(min_age.as_nanos()).unwrap_or(i128::MAX);
    let mut report = ReconcileReport::default();
    for bucket in buckets {
        if !b.bucket(bucket)?.versioning.is_unversioned() {
            reconcile_versions(b, bucket, newest_ns, &mut report).await?;
            continue;
        }
        let entries: Vec<(String, ObjectRecord)> = b.store.object_scan(bucket, "", None).collect::<Result<_, _>>()?;
        let mut missing = Vec::new();
        let mut next = 0;
        let mut after: Option<String> = None;
        loop {
            let page = b.list_page(bucket, "", None, after.as_deref(), PAGE).await?;
            let listed: std::collections::BTreeMap<&str, &str> = page.objects.iter().map(|(k, o)| (k.as_str(), o.etag.as_str())).collect();
            // Entries up to the page's last key (all the rest after the last page).
            let mut matched = 0;
            while let Some((key, rec)) = entries.get(next) {
                if page.truncated && page.last.as_deref().is_some_and(|last| key.as_str() > last) {
                    break;
                }
                let etag = listed.get(key.as_str());
                if etag.is_some() {
                    matched += 1;
                }
                if etag.is_none_or(|etag| replaced(rec, etag)) && rec.last_modified_ns <= newest_ns {
                    missing.push(next);
                }
                next += 1;
            }
            report.unindexed += (listed.len() - matched) as u64;
            if !page.truncated || page.last.is_none() {
                break;
            }
            after = page.last;
        }
        let place = b.place(bucket)?;
        for i in missing {
            let (key, rec) = &entries[i];
            // A write committed since `rec` was read keeps its entry: `remove_orphan` removes
            // only an unchanged one.
            match b.call(Call::new(Method::HEAD, &place.bucket, &place.key(key))).await {
                Err(Error::Upstream { status: 404, .. }) => {}
                Ok(head) if replaced(rec, &super::object::etag_of(head.headers())) => {}
                Ok(_) => continue,
                Err(e) => return Err(e),
            }
            if b.index.remove_orphan(bucket, key, rec).await? {
                tracing::error!(bucket = %bucket, key = %key, proof_id = %rec.proof_id, "removed an index entry whose object the upstream no longer holds");
                report.orphan_entries += 1;
            }
        }
    }
    Ok(report)
}

/// A versioned bucket: its versions' bytes are blobs under the bucket's reserved segment
/// (or, for objects from before versioning, keys), which the index names. Each upstream
/// object of the bucket's place that a version names is one of its versions, never an
/// orphan; a version whose object is gone has its entry removed (that version only, as a
/// repair: no delete marker), unless Object Lock keeps it; upstream objects no version
/// names are counted and left alone (another instance's, or written past the gateway).
async fn reconcile_versions(b: &UpstreamBackend, bucket: &str, newest_ns: i128, report: &mut ReconcileReport) -> Result<(), Error> {
    let place = b.place(bucket)?;
    let mut named: Vec<(String, String, ObjectRecord)> = Vec::new();
    for entry in b.store.version_scan(bucket, "", None) {
        let (key, version) = entry?;
        if let Some(rec) = version.object {
            let (_, at) = b.locate(bucket, &key, &rec)?;
            named.push((at, key, rec));
        }
    }
    let listed: std::collections::BTreeSet<String> = b.list_meta(&place.bucket, &place.root).await?.into_iter().collect();
    let referenced: std::collections::BTreeSet<&str> = named.iter().map(|(at, _, _)| at.as_str()).collect();
    report.unindexed += listed.iter().filter(|k| !referenced.contains(k.as_str())).count() as u64;
    let now = crate::audit::now_ns();
    for (at, key, rec) in &named {
        if listed.contains(at) || rec.last_modified_ns > newest_ns {
            continue;
        }
        // A listing may lag a write: the object's absence is confirmed first.
        match b.call(Call::new(Method::HEAD, &place.bucket, at)).await {
            Err(Error::Upstream { status: 404, .. }) => {}
            Ok(_) => continue,
            Err(e) => return Err(e),
        }
        if rec.lock_refusal(now, false).is_some() {
            tracing::error!(bucket, key = %key, version = %rec.version_id, "a locked version's upstream object is gone; its entry is kept");
            report.locked_kept += 1;
            continue;
        }
        if b.index.remove_orphan(bucket, key, rec).await? {
            tracing::error!(bucket, key = %key, version = %rec.version_id, proof_id = %rec.proof_id, "removed a version whose upstream object is gone");
            report.orphan_entries += 1;
        }
    }
    Ok(())
}

/// The record of a listed object: only what a listing shows.
fn listed(size: u64, etag: &str, last_modified: &str) -> ObjectRecord {
    let ns = s3s::dto::Timestamp::parse(s3s::dto::TimestampFormat::DateTime, last_modified)
        .map(|t| time::OffsetDateTime::from(t).unix_timestamp_nanos())
        .unwrap_or(0);
    ObjectRecord { size, etag: etag.to_owned(), multipart: etag.contains('-'), ..ObjectRecord::new(ObjectAttrs::default(), Vec::new(), String::new(), ns) }
}

/// Decodes `%XX` escapes (an upstream's `encoding-type=url` answer).
pub(super) fn url_decode(s: &str) -> Result<String, Error> {
    let bad = || Error::Unavailable(format!("the upstream listed a badly encoded key {s:?}"));
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).ok_or_else(bad)?;
                let hex = std::str::from_utf8(hex).map_err(|_| bad())?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
                i += 3;
            }
            // Some servers encode spaces in the query-string way.
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_keys_decode() {
        assert_eq!(url_decode("a%20b/c%2Bd%C3%A9").unwrap(), "a b/c+dé");
        assert_eq!(url_decode("a+b").unwrap(), "a b");
        assert!(url_decode("%4").is_err());
        assert!(url_decode("%FF").is_err());
    }

    #[test]
    fn listed_records_carry_time_and_etag() {
        let r = listed(3, "abc-2", "2026-11-23T10:00:00.000Z");
        assert!(r.multipart);
        assert_eq!(r.last_modified_ns, 1_795_428_000_000_000_000);
    }
}

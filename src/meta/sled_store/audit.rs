//! The audit log.

use super::*;

use std::borrow::Cow;

pub(super) fn time_key(ns: i128) -> [u8; 8] {
    u64::try_from(ns.max(0)).unwrap_or(u64::MAX).to_be_bytes()
}

impl SledStore {
    /// The audit key and value of `entry`: time first, so the tree is a time-ordered log.
    pub(super) fn audit_row(&self, entry: Option<&AuditEntry>) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        let Some(e) = entry else { return Ok(None) };
        let mut k = time_key(e.time_ns).to_vec();
        k.extend_from_slice(&self.db.generate_id()?.to_be_bytes());
        Ok(Some((k, encode(e))))
    }
}

/// `row` (of `entry`, from [`SledStore::audit_row`]) naming the version its change made or
/// removed: a version id is assigned per attempt of the transaction, so the entry is
/// re-encoded then, in its place in the log. Unchanged when there is none.
pub(super) fn versioned_row<'r>(row: Option<&'r (Vec<u8>, Vec<u8>)>, entry: Option<&AuditEntry>, version_id: &str) -> Option<Cow<'r, (Vec<u8>, Vec<u8>)>> {
    match (row, entry) {
        (Some((k, _)), Some(e)) if !version_id.is_empty() => {
            Some(Cow::Owned((k.clone(), encode(&AuditEntry { version_id: version_id.to_owned(), ..e.clone() }))))
        }
        (row, _) => row.map(Cow::Borrowed),
    }
}

impl SledStore {
    pub(super) fn audit_append(&self, entry: &AuditEntry) -> Result<()> {
        if let Some((k, v)) = self.audit_row(Some(entry))? {
            self.audit.insert(k, v)?;
        }
        Ok(())
    }

    pub(super) fn audit_scan<'a>(&'a self, from_ns: i128, to_ns: i128) -> Box<dyn Iterator<Item = Result<AuditEntry>> + 'a> {
        let (from, to) = (time_key(from_ns), time_key(to_ns));
        Box::new(self.audit.range(from..to).values().map(|v| decode(&v?)))
    }

    pub(super) fn audit_prune(&self, before_ns: i128) -> Result<usize> {
        let mut n = 0;
        for k in self.audit.range(..time_key(before_ns)).keys() {
            self.audit.remove(k?)?;
            n += 1;
        }
        Ok(n)
    }

    pub(super) fn audit_trim(&self, max_entries: usize) -> Result<(usize, usize)> {
        let count = self.audit.len();
        let excess = count.saturating_sub(max_entries);
        for k in self.audit.iter().keys().take(excess) {
            self.audit.remove(k?)?;
        }
        Ok((count - excess, excess))
    }
}

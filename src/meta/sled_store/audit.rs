//! The audit log.

use super::*;

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

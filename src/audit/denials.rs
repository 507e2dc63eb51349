//! Unauthenticated denials, recorded together: an anonymous or unsigned caller can send
//! refused requests as fast as the network allows, and one audit entry each would let it
//! fill the metadata disk. Instead each source address gets at most one entry per minute
//! (and per flush), carrying the number of refusals it stands for; memory is bounded by
//! [`MAX_SOURCES`], past which the windows are written out early.

use super::Outcome;
use crate::meta::{AuditEntry, Store};
use crate::ops::RequestKind;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};

/// Source addresses tracked at once before the windows are flushed early.
pub const MAX_SOURCES: usize = 10_000;

const MINUTE_NS: i128 = 60_000_000_000;

/// The refusals of one source in one minute.
struct Window {
    minute: i128,
    entry: AuditEntry,
}

/// The pending unauthenticated denials, by source address.
#[derive(Default)]
pub struct DenialLog {
    windows: Mutex<HashMap<IpAddr, Window>>,
}

impl DenialLog {
    /// Counts one refused unauthenticated request of `request`'s kind from `source`; writes
    /// the entries of windows it closes.
    pub fn record(&self, store: &dyn Store, source: IpAddr, request: RequestKind, request_id: &str, now_ns: i128) {
        let minute = now_ns.div_euclid(MINUTE_NS);
        let fresh = || Window {
            minute,
            entry: AuditEntry {
                time_ns: now_ns,
                request_id: request_id.to_owned(),
                principal: String::new(),
                user: String::new(),
                tenant: String::new(),
                source: source.to_string(),
                operation: request.label().to_owned(),
                bucket: String::new(),
                key: String::new(),
                outcome: Outcome::Denied.name().to_owned(),
                bytes: 0,
                count: 1,
                version_id: String::new(),
                decided_by: String::new(),
            },
        };
        let closed: Vec<AuditEntry> = {
            let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
            let full = windows.len() >= MAX_SOURCES;
            match windows.get_mut(&source) {
                Some(w) if w.minute == minute => {
                    w.entry.count += 1;
                    Vec::new()
                }
                Some(w) => vec![std::mem::replace(w, fresh()).entry],
                None => {
                    let all = if full { windows.drain().map(|(_, w)| w.entry).collect() } else { Vec::new() };
                    windows.insert(source, fresh());
                    all
                }
            }
        };
        write(store, &closed);
    }

    /// Writes every window of a minute before `now_ns`'s (all of them if `all`); returns
    /// how many entries were written.
    pub fn flush(&self, store: &dyn Store, now_ns: i128, all: bool) -> usize {
        let minute = now_ns.div_euclid(MINUTE_NS);
        let closed: Vec<AuditEntry> = {
            let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
            let done: Vec<IpAddr> = windows.iter().filter(|(_, w)| all || w.minute < minute).map(|(ip, _)| *ip).collect();
            done.iter().filter_map(|ip| windows.remove(ip)).map(|w| w.entry).collect()
        };
        write(store, &closed);
        closed.len()
    }
}

fn write(store: &dyn Store, entries: &[AuditEntry]) {
    for e in entries {
        if let Err(err) = store.audit_append(e) {
            tracing::error!(error = %err, "audit append failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::SledStore;
    use crate::ops::Operation;

    const GET_OBJECT: RequestKind = RequestKind::S3(Operation::GetObject);

    fn entries(store: &dyn Store) -> Vec<AuditEntry> {
        store.audit_scan(0, i128::MAX).collect::<Result<_, _>>().unwrap()
    }

    #[test]
    fn one_entry_per_source_and_minute_carries_the_count() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let log = DenialLog::default();
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let t0 = 100 * MINUTE_NS;
        for i in 0..500 {
            log.record(&store, a, GET_OBJECT, &format!("r{i}"), t0 + i);
        }
        log.record(&store, b, RequestKind::Unidentified, "rb", t0 + 1);
        assert!(entries(&store).is_empty(), "nothing is written within the minute");
        // The next minute's first refusal closes the window.
        log.record(&store, a, GET_OBJECT, "next", t0 + MINUTE_NS);
        let written = entries(&store);
        assert_eq!(written.len(), 1);
        assert_eq!((written[0].count, written[0].request_id.as_str(), written[0].outcome.as_str()), (500, "r0", "denied"));
        assert_eq!(log.flush(&store, t0 + MINUTE_NS, false), 1, "only b's window is of a past minute");
        assert_eq!(log.flush(&store, t0 + MINUTE_NS, true), 1);
        let counts: u64 = entries(&store).iter().map(|e| e.count).sum();
        assert_eq!(counts, 502);
    }

    #[test]
    fn memory_is_bounded_by_flushing_early() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let log = DenialLog::default();
        for i in 0..=MAX_SOURCES as u32 {
            log.record(&store, IpAddr::from(i.to_be_bytes()), GET_OBJECT, "r", 0);
        }
        assert_eq!(entries(&store).len(), MAX_SOURCES);
        assert_eq!(log.windows.lock().unwrap().len(), 1);
    }
}

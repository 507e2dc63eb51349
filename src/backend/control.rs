//! The control plane, one for a cluster: every change to tenants, users, keys, limits,
//! topics, the keyring, buckets and their settings goes through [`ControlPlane::submit`].
//!
//! Alone, an instance applies a change to its store at once. Sharing a metadata bucket
//! with others (a cluster), it first appends the change to the log kept there (the next
//! sequence number, created with `If-None-Match: *`, so that of two instances appending
//! at once one wins and the other retries after applying the winner's change), then
//! applies it. Every instance tails the log (the `control_log` job, every
//! `upstream.control_poll_ms`) and applies each entry in order, so all end in the same
//! state: a change made on one instance is in force on every other within a poll
//! interval and an upstream round trip. Applying is deterministic given the state, so a
//! change that fails on the instance that took it (a tenant created twice) fails the
//! same way everywhere, and two conflicting changes cannot both win.
//!
//! An instance that cannot reach the log keeps serving with what it has applied, refuses
//! control changes (503), reports it in `/ready`, and catches up when the log is back.
//!
//! The log is compacted behind checkpoints. Once `upstream.control_checkpoint_every`
//! entries were appended since the newest checkpoint, the next instance to poll writes one:
//! the whole control state at the entry it has applied ([`ControlState`]), authenticated
//! like an entry. It then removes what the checkpoint before made redundant: the entries up
//! to that one and older checkpoints. So the log holds at most about two intervals of
//! entries, and an instance joining late, or left behind the log's start (stopped a long
//! time, restored from a backup), loads the newest checkpoint and replays the entries
//! after it. Loading a checkpoint makes the store's control state equal to it: what was
//! created, changed or deleted meanwhile (a disabled or deleted key included) is, by the
//! same changes as the log's.

use super::Error;
use super::placement::Backends;
use super::shared::{ClusterMac, SharedObjects, SharedUploads};
use crate::meta::{Applied, AuditEntry, ControlChange, ControlListener, ControlState, Store};

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// The store setting holding the last log entry this instance applied.
const APPLIED: &str = "control.applied";
/// Entries read from the log per request.
const PAGE: usize = 200;
/// The least time between two reads of the log that [`ControlPlane::refresh`] asks for.
const REFRESH_GAP: Duration = Duration::from_millis(50);

/// Where the log's entries are, in the metadata bucket (beside the instances' own
/// `.tollgate/{instance}/`): one object per entry, numbered so that they list in order.
pub(crate) const ENTRIES: &str = ".tollgate-control/";
/// Where its checkpoints are.
const CHECKPOINTS: &str = ".tollgate-control-checkpoints/";

/// The path of entry `seq` of the log.
pub(crate) fn entry_path(seq: u64) -> String {
    format!("{ENTRIES}{seq:020}.json")
}

/// The entry a path under [`ENTRIES`] (or [`CHECKPOINTS`]) names, if it names one.
pub(crate) fn entry_of(path: &str) -> Option<u64> {
    let name = path.strip_prefix(ENTRIES).or_else(|| path.strip_prefix(CHECKPOINTS))?;
    name.strip_suffix(".json")?.parse().ok()
}

fn checkpoint_path(seq: u64) -> String {
    format!("{CHECKPOINTS}{seq:020}.json")
}

/// A checkpoint of the log: the control state once its entries up to `seq` were applied.
#[derive(Debug, Serialize, Deserialize)]
struct Checkpoint {
    seq: u64,
    /// The instance that wrote it, and when (ns since the epoch).
    instance: String,
    at_ns: i128,
    state: ControlState,
}

/// One entry of the shared log.
#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    /// Random: tells an instance its own entry when an append's answer was lost.
    id: String,
    /// The instance that took the request.
    instance: String,
    /// When it did (ns since the epoch).
    at_ns: i128,
    change: ControlChange,
}

/// A change this instance is appending.
struct Pending<'a> {
    id: &'a str,
    audit: Option<&'a AuditEntry>,
}

/// The control plane of one instance; see the module's documentation.
pub struct ControlPlane {
    store: Arc<dyn Store>,
    /// The engines keeping the shared log; `None`: alone.
    log: Option<Arc<Backends>>,
    instance: String,
    /// Serialises appends and applies, so the store sees the log's order.
    order: tokio::sync::Mutex<()>,
    /// The last log entry applied.
    applied: AtomicU64,
    /// When the last read of the log to its end began.
    read_at: Mutex<Option<Instant>>,
    /// How long the log may go unread before `/ready` says so.
    stale_after: Duration,
    listeners: RwLock<Vec<Weak<dyn ControlListener>>>,
    /// Authenticates the log's entries, binding each to its sequence number: whoever can
    /// write to the metadata bucket without the master key (the upstream's operator, say)
    /// can neither forge a change (a user, an admin role, a public policy) nor replay one
    /// at another place in the log.
    mac: Arc<ClusterMac>,
    /// The multipart uploads shared with the cluster (in a cluster).
    uploads: Option<SharedUploads>,
    /// The records of encrypted objects shared with the cluster (in a cluster).
    objects: Option<SharedObjects>,
    /// Entries between two checkpoints of the log; 0: none is written.
    checkpoint_every: u64,
    /// The newest checkpoint known to be in the log.
    checkpointed: AtomicU64,
}

/// The error of a change made, or a catch-up tried, while the log cannot be read.
fn unreachable(e: &Error) -> Error {
    Error::Unavailable(format!("the cluster's control log cannot be read (no change is made until it can): {e}"))
}

impl ControlPlane {
    /// An instance's control plane: alone (`log` is `None`), or in the cluster whose
    /// shared log `log` keeps, as `instance`, polling it every `poll`, its entries
    /// authenticated under `mac_key` (derived from the master key the instances share), as
    /// are the multipart uploads it shares, checkpointing it every `checkpoint_every`
    /// entries (0: never).
    ///
    /// # Errors
    /// The store's, reading where this instance left the log.
    pub fn new(
        store: Arc<dyn Store>,
        log: Option<Arc<Backends>>,
        instance: &str,
        poll: Duration,
        mac_key: crate::crypt::Kek,
        checkpoint_every: u64,
    ) -> Result<Self, crate::meta::Error> {
        let applied = store.setting_get(APPLIED)?.and_then(|s| s.parse().ok()).unwrap_or(0);
        let mac = Arc::new(ClusterMac::new(mac_key));
        let uploads = log.as_ref().map(|log| SharedUploads::new(Arc::clone(log), Arc::clone(&mac)));
        let objects = log.as_ref().map(|log| SharedObjects::new(Arc::clone(log), Arc::clone(&mac)));
        Ok(Self {
            store,
            log,
            instance: instance.to_owned(),
            order: tokio::sync::Mutex::new(()),
            applied: AtomicU64::new(applied),
            read_at: Mutex::new(None),
            stale_after: (poll * 10).max(Duration::from_secs(5)),
            listeners: RwLock::new(Vec::new()),
            mac,
            uploads,
            objects,
            checkpoint_every,
            checkpointed: AtomicU64::new(0),
        })
    }

    /// Where entry `seq` is, as its MAC binds it.
    fn place(seq: u64) -> String {
        format!("control log entry {seq}")
    }

    /// Where the checkpoint at entry `seq` is, as its MAC binds it.
    fn checkpoint_place(seq: u64) -> String {
        format!("control log checkpoint {seq}")
    }

    /// Tells `listener` of every change applied from now on.
    pub fn listen(&self, listener: &Arc<impl ControlListener + 'static>) {
        let weak: Weak<dyn ControlListener> = Arc::downgrade(listener) as Weak<dyn ControlListener>;
        self.listeners.write().unwrap_or_else(PoisonError::into_inner).push(weak);
    }

    /// The multipart uploads shared with the cluster; `None`: alone.
    #[must_use]
    pub fn uploads(&self) -> Option<&SharedUploads> {
        self.uploads.as_ref()
    }

    /// The records of encrypted objects shared with the cluster; `None`: alone.
    #[must_use]
    pub fn objects(&self) -> Option<&SharedObjects> {
        self.objects.as_ref()
    }

    /// In a cluster, forgets the shared record of the encrypted object a delete just
    /// removed from `bucket`/`key`: one this instance sealed (`released`, its index's
    /// record, says so), or one it had no record of (another instance may have sealed it).
    /// Best effort: a record left behind is only read for bytes marked sealed at the key.
    pub async fn forget_deleted(&self, objects: &super::Objects, bucket: &str, key: &str, released: Option<&crate::meta::ObjectRecord>) {
        let Some(shared) = &self.objects else { return };
        if released.is_some_and(|r| r.sealing.is_none()) || !objects.stores_at_key(bucket).unwrap_or(false) {
            return;
        }
        shared.forget(bucket, key).await;
    }

    /// Whether this instance shares a control log.
    #[must_use]
    pub fn clustered(&self) -> bool {
        self.log.is_some()
    }

    /// The last log entry applied here.
    #[must_use]
    pub fn applied(&self) -> u64 {
        self.applied.load(Ordering::Acquire)
    }

    /// Why the control plane may be behind the cluster's, if it may: the log has not been
    /// read to its end for a while.
    #[must_use]
    pub fn staleness(&self) -> Option<String> {
        self.log.as_ref()?;
        match *self.read_at.lock().unwrap_or_else(PoisonError::into_inner) {
            None => Some("the cluster's control log has not been read yet".to_owned()),
            Some(at) if at.elapsed() > self.stale_after => Some(format!("the cluster's control log was last read {} s ago", at.elapsed().as_secs())),
            Some(_) => None,
        }
    }

    /// Makes `change`, recording `audit` with it; in a cluster, through the shared log.
    ///
    /// # Errors
    /// The store's refusal of the change (as every instance refuses it), or
    /// `Unavailable` if the log cannot be reached (the change was not made).
    pub async fn submit(&self, change: ControlChange, audit: Option<AuditEntry>) -> Result<Applied, Error> {
        let _order = self.order.lock().await;
        let Some(log) = &self.log else {
            return Ok(self.apply(None, change, audit).await?);
        };
        let id = hex_simd::encode_to_string(rand_id(), hex_simd::AsciiCase::Lower);
        let entry = Entry { id: id.clone(), instance: self.instance.clone(), at_ns: crate::clock::now_ns(), change };
        let mine = Pending { id: &id, audit: audit.as_ref() };
        loop {
            if let Some(outcome) = self.pull(log, Some(&mine)).await.map_err(|e| unreachable(&e))? {
                return Ok(outcome?);
            }
            let seq = self.applied() + 1;
            match log.control_append(seq, self.mac.sign(&Self::place(seq), &entry)?).await {
                Ok(Some(true)) => return Ok(self.apply(Some(seq), entry.change, audit).await?),
                Ok(Some(false)) => {}
                Ok(None) => return Err(Error::Unavailable("the cluster's control log is not kept by this backend".into())),
                // The entry may have been written: the next pull finds it if so.
                Err(e) if self.pull(log, Some(&mine)).await.is_err() => return Err(unreachable(&e)),
                Err(e) => tracing::warn!(seq, error = %e, "appending to the control log failed; trying again"),
            }
        }
    }

    /// Makes sure the log has been read since this call began: for a request naming a
    /// bucket or key this instance does not know, which may have been made on another
    /// instance a moment ago. Misses coalesce (a read begun after the miss serves every
    /// miss waiting), and reads are at least 50 ms apart, so that requests for unknown
    /// names cost the upstream at most twenty log reads a second.
    pub async fn refresh(&self) {
        let Some(log) = &self.log else { return };
        let asked = Instant::now();
        let _order = self.order.lock().await;
        let last = *self.read_at.lock().unwrap_or_else(PoisonError::into_inner);
        if last.is_some_and(|began| began >= asked) {
            return;
        }
        if let Some(wait) = last.and_then(|began| REFRESH_GAP.checked_sub(began.elapsed())) {
            tokio::time::sleep(wait).await;
        }
        if let Err(e) = self.pull(log, None).await {
            tracing::info!(error = %e, "the control log could not be read for a name not known here");
        }
    }

    /// Applies the log's entries this instance has not applied; returns how many.
    ///
    /// # Errors
    /// The log's, if it cannot be read (what was applied stays applied).
    pub async fn catch_up(&self) -> Result<u64, Error> {
        let Some(log) = &self.log else {
            return Ok(0);
        };
        let _order = self.order.lock().await;
        let before = self.applied();
        self.pull(log, None).await.map_err(|e| unreachable(&e))?;
        Ok(self.applied() - before)
    }

    /// Applies the log's new entries in order (the lock held). If one is `mine`, stops
    /// there and returns its outcome.
    async fn pull(&self, log: &Backends, mine: Option<&Pending<'_>>) -> Result<Option<Result<Applied, crate::meta::Error>>, Error> {
        let began = Instant::now();
        'read: loop {
            let after = self.applied();
            let Some(entries) = log.control_read(after, PAGE).await? else {
                return Ok(None);
            };
            if entries.is_empty() {
                *self.read_at.lock().unwrap_or_else(PoisonError::into_inner) = Some(began);
                return Ok(None);
            }
            for (seq, body) in entries {
                if seq != self.applied() + 1 {
                    // The entries before `seq` were compacted behind a checkpoint.
                    self.load_checkpoint(log, seq).await?;
                    continue 'read;
                }
                let entry: Entry = match self.mac.open(&Self::place(seq), &body) {
                    Ok(entry) => entry,
                    Err(e) => {
                        // Skipped rather than blocking every later change; loud, as it is either
                        // tampering or a newer version's entry.
                        tracing::error!(seq, error = %e, "a control log entry is refused: skipped");
                        self.advance(seq)?;
                        continue;
                    }
                };
                let ours = mine.filter(|m| m.id == entry.id);
                if ours.is_none() {
                    self.prepare(log, &entry.change).await;
                }
                let outcome = self.apply(Some(seq), entry.change, ours.and_then(|m| m.audit).cloned()).await;
                if ours.is_some() {
                    return Ok(Some(outcome));
                }
                if let Err(e) = outcome {
                    tracing::info!(seq, instance = %entry.instance, error = %e, "a control change from the log was refused here, as where it was made");
                }
            }
        }
    }

    /// The checkpoints in the log, oldest first.
    async fn checkpoints(log: &Backends) -> Result<Vec<u64>, Error> {
        let mut seqs: Vec<u64> = log.shared_list(CHECKPOINTS).await?.iter().filter_map(|p| entry_of(p)).collect();
        seqs.sort_unstable();
        Ok(seqs)
    }

    /// Makes this instance's control state the newest checkpoint's, which must cover the
    /// entries before `next` (the first the log still holds after this instance's last),
    /// by the changes between the two; then goes on from the checkpoint's entry.
    async fn load_checkpoint(&self, log: &Backends, next: u64) -> Result<(), Error> {
        let applied = self.applied();
        let newest = Self::checkpoints(log).await?.last().copied().filter(|&seq| seq + 1 >= next && seq > applied);
        let Some(seq) = newest else {
            return Err(Error::Unavailable(format!("the control log has no entry {} (next is {next}), and no checkpoint covers it", applied + 1)));
        };
        let body = log.shared_get(&checkpoint_path(seq)).await?.ok_or_else(|| Error::Unavailable(format!("the control log's checkpoint {seq} went away")))?;
        let checkpoint: Checkpoint = self
            .mac
            .open(&Self::checkpoint_place(seq), &body)
            .map_err(|e| Error::Unavailable(format!("the control log's checkpoint {seq} is refused: {e}")))?;
        // The MAC binds the path's number; the body names its own, and they must agree.
        if checkpoint.seq != seq {
            return Err(Error::Unavailable(format!("the control log's checkpoint {seq} says it is {}", checkpoint.seq)));
        }
        let store = Arc::clone(&self.store);
        let here = tokio::task::spawn_blocking(move || ControlState::of(store.as_ref()))
            .await
            .map_err(|e| Error::Unavailable(format!("reading the control state: {e}")))??;
        let at_key = |bucket: &str| log.of(bucket).stores_at_key(bucket).unwrap_or(false);
        let changes = checkpoint.state.changes_from(&here, at_key);
        tracing::info!(seq, applied, changes = changes.len(), by = %checkpoint.instance, "loading a checkpoint of the control log");
        for change in changes {
            self.prepare(log, &change).await;
            if let Err(e) = self.apply(None, change, None).await {
                tracing::warn!(seq, error = %e, "a change to reach a checkpoint of the control log was refused here");
            }
        }
        self.advance(seq)?;
        self.checkpointed.fetch_max(seq, Ordering::AcqRel);
        Ok(())
    }

    /// Writes a checkpoint of the log at the entry this instance has applied, once
    /// `checkpoint_every` entries were appended since the newest one, and removes what the
    /// checkpoint before it made redundant (the entries up to it, older checkpoints); that
    /// one is kept with the entries after it, so that an instance a little behind replays
    /// entries rather than load a checkpoint. Returns the entry checkpointed, if one was.
    ///
    /// # Errors
    /// The store's or the log's.
    pub async fn checkpoint(&self) -> Result<Option<u64>, Error> {
        let Some(log) = &self.log else { return Ok(None) };
        let every = self.checkpoint_every;
        if every == 0 || self.applied() < self.checkpointed.load(Ordering::Acquire) + every {
            return Ok(None);
        }
        let known = Self::checkpoints(log).await?;
        let newest = known.last().copied().unwrap_or(0);
        self.checkpointed.fetch_max(newest, Ordering::AcqRel);
        // The state read under the lock is the log's at `seq`, as no entry is applied meanwhile.
        let (seq, state) = {
            let _order = self.order.lock().await;
            let seq = self.applied();
            if seq < newest + every {
                return Ok(None);
            }
            let store = Arc::clone(&self.store);
            let state = tokio::task::spawn_blocking(move || ControlState::of(store.as_ref()))
                .await
                .map_err(|e| Error::Unavailable(format!("reading the control state: {e}")))??;
            (seq, state)
        };
        let checkpoint = Checkpoint { seq, instance: self.instance.clone(), at_ns: crate::clock::now_ns(), state };
        log.shared_put(&checkpoint_path(seq), self.mac.sign(&Self::checkpoint_place(seq), &checkpoint)?).await?;
        self.checkpointed.fetch_max(seq, Ordering::AcqRel);
        if newest > 0 {
            let mut redundant: Vec<String> = known.iter().filter(|&&s| s < newest).map(|&s| checkpoint_path(s)).collect();
            redundant.extend(log.shared_list(ENTRIES).await?.into_iter().filter(|p| entry_of(p).is_some_and(|s| s <= newest)));
            log.shared_delete(&redundant).await?;
            tracing::info!(seq, removed = redundant.len(), "the control log was checkpointed and compacted");
        }
        Ok(Some(seq))
    }

    /// Readies this instance for a change made on another: a bucket deleted there (it found
    /// it empty upstream) may still count objects here that were deleted through other
    /// instances, which a reconcile of the bucket removes first (audited, with proofs).
    async fn prepare(&self, log: &Backends, change: &ControlChange) {
        let ControlChange::BucketDelete { name } = change else { return };
        if let Err(e) = self.forget_bucket_contents(log.of(name), name).await {
            tracing::warn!(bucket = %name, error = %e, "a bucket deleted elsewhere could not be emptied here first");
        }
    }

    /// Removes what this index still holds of `bucket` (deleted on another instance, which
    /// found it empty upstream: the records are of objects deleted through others), each
    /// as a repair, audited, with the proof of its deletion.
    async fn forget_bucket_contents(&self, objects: &super::Objects, name: &str) -> Result<(), Error> {
        if let Some(uploads) = &self.uploads {
            uploads.forget_finished(self.store.as_ref(), name).await?;
        }
        let held: Vec<(String, crate::meta::ObjectRecord)> = self.store.object_scan(name, "", None).collect::<Result<_, _>>()?;
        for (key, rec) in held {
            objects.index().remove_orphan(name, &key, &rec).await?;
        }
        Ok(())
    }

    /// Drops from the index what no longer is in `bucket`, held by `objects`: uploads
    /// finished on other instances of a cluster, and, stored at the key, objects deleted
    /// through them (or past the gateway), so that the index counts what the store holds:
    /// before the bucket is deleted.
    ///
    /// # Errors
    /// The store's or the upstream's.
    pub async fn settle_bucket(&self, objects: &super::Objects, name: &str) -> Result<(), Error> {
        if let Some(uploads) = &self.uploads {
            uploads.forget_finished(self.store.as_ref(), name).await?;
        }
        if self.store.bucket_get(name)?.is_some_and(|b| b.objects > 0) && objects.stores_at_key(name)? {
            objects.engine().reconcile(&[name.to_owned()], Duration::ZERO).await?;
        }
        Ok(())
    }

    /// Applies `change` (entry `seq` of the log, if from one) and tells the listeners.
    async fn apply(&self, seq: Option<u64>, change: ControlChange, audit: Option<AuditEntry>) -> Result<Applied, crate::meta::Error> {
        let store = Arc::clone(&self.store);
        let (change, outcome) = tokio::task::spawn_blocking(move || {
            let outcome = change.apply(store.as_ref(), audit.as_ref());
            (change, outcome)
        })
        .await
        .map_err(|e| crate::meta::Error::Storage(format!("applying a control change: {e}")))?;
        if let Ok(applied) = &outcome {
            let listeners = self.listeners.read().unwrap_or_else(PoisonError::into_inner).clone();
            for listener in listeners.iter().filter_map(Weak::upgrade) {
                listener.applied(&change, applied);
            }
        }
        if let Some(seq) = seq {
            self.advance(seq)?;
        }
        outcome
    }

    /// Records that entry `seq` was applied. A crash before this line applies the entry
    /// again at the restart: creations then fail as existing, the rest set what they set.
    fn advance(&self, seq: u64) -> Result<(), crate::meta::Error> {
        self.store.setting_put(APPLIED, &seq.to_string())?;
        self.applied.store(seq, Ordering::Release);
        Ok(())
    }
}

fn rand_id() -> [u8; 16] {
    let mut id = [0u8; 16];
    getrandom::fill(&mut id).expect("the OS random source is available");
    id
}

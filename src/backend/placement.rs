//! Which backend holds each bucket's objects, and the requests routed accordingly.
//!
//! A gateway's buckets live on its configured backend unless `tollgate migrate --bucket`
//! moved one to the other backend; the metadata store records the backend holding the
//! buckets ([`HOLDING_BACKEND`]) and the buckets held elsewhere ([`MOVED_BUCKETS`]).
//! [`Backends`] opens what that takes (a gateway on local disk with one bucket moved
//! upstream opens both) and sends each request, job and repair to the bucket's backend.

use crate::backend::upstream::{MirrorReport, RestoreReport};
use crate::backend::{Engine, Error, NotReady, Objects, ReconcileReport, ScrubReport};
use crate::config::BackendKind;
use crate::meta::Store;

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// The setting naming the backend that holds every bucket not moved elsewhere.
pub const HOLDING_BACKEND: &str = "storage.backend";
/// The setting listing moved buckets: a JSON object of bucket name to backend name.
pub const MOVED_BUCKETS: &str = "storage.moved_buckets";

/// Where buckets' objects are held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// The backend of every bucket not in `moved` (new buckets too).
    pub holding: BackendKind,
    /// Buckets held by the other backend.
    pub moved: BTreeMap<String, BackendKind>,
}

impl Placement {
    /// The placement the store records; `fallback` holds everything in a store that
    /// records none yet.
    pub fn load(store: &dyn Store, fallback: BackendKind) -> Result<Self, Error> {
        let invalid = |what: &str, e: String| Error::Meta(crate::meta::Error::Corrupt(format!("setting {what}: {e}")));
        let holding = match store.setting_get(HOLDING_BACKEND)? {
            Some(name) => name.parse().map_err(|e| invalid(HOLDING_BACKEND, e))?,
            None => fallback,
        };
        let mut moved = BTreeMap::new();
        if let Some(json) = store.setting_get(MOVED_BUCKETS)? {
            let names: BTreeMap<String, String> = serde_json::from_str(&json).map_err(|e| invalid(MOVED_BUCKETS, e.to_string()))?;
            for (bucket, name) in names {
                moved.insert(bucket, name.parse().map_err(|e| invalid(MOVED_BUCKETS, e))?);
            }
        }
        Ok(Self { holding, moved })
    }

    /// Records this placement.
    pub fn save(&self, store: &dyn Store) -> Result<(), Error> {
        let names: BTreeMap<&str, &str> = self.moved.iter().map(|(b, k)| (b.as_str(), k.name())).collect();
        store.setting_put(HOLDING_BACKEND, self.holding.name())?;
        store.setting_put(MOVED_BUCKETS, &serde_json::to_string(&names).map_err(|e| Error::Meta(crate::meta::Error::Corrupt(e.to_string())))?)?;
        Ok(())
    }

    /// The backend holding `bucket`.
    #[must_use]
    pub fn holder(&self, bucket: &str) -> BackendKind {
        self.moved.get(bucket).copied().unwrap_or(self.holding)
    }

    /// Records that `kind` now holds `bucket`.
    pub fn place(&mut self, bucket: &str, kind: BackendKind) {
        if kind == self.holding {
            self.moved.remove(bucket);
        } else {
            self.moved.insert(bucket.to_owned(), kind);
        }
    }

    /// Whether `kind` holds any bucket.
    #[must_use]
    pub fn uses(&self, kind: BackendKind) -> bool {
        self.holding == kind || self.moved.values().any(|k| *k == kind)
    }
}

/// A backend and the names of the buckets it holds.
type HeldBuckets<'a> = (&'a Objects, Vec<String>);

/// The backends a gateway serves from, each request sent to its bucket's.
pub struct Backends {
    store: Arc<dyn Store>,
    placement: RwLock<Placement>,
    /// The backend holding the buckets not moved (opened whatever the placement).
    holding: Arc<Objects>,
    local: Option<Arc<Objects>>,
    upstream: Option<Arc<Objects>>,
}

impl Backends {
    /// Routes by `placement`, which must name only the backends given.
    pub fn new(store: Arc<dyn Store>, placement: Placement, local: Option<Arc<dyn Engine>>, upstream: Option<Arc<dyn Engine>>) -> Result<Self, String> {
        for (kind, backend) in [(BackendKind::Local, &local), (BackendKind::Upstream, &upstream)] {
            if placement.uses(kind) && backend.is_none() {
                let buckets: Vec<&str> = placement.moved.iter().filter(|(_, k)| **k == kind).map(|(b, _)| b.as_str()).collect();
                return Err(format!(
                    "the {} backend holds buckets ({}) but is not configured",
                    kind.name(),
                    if buckets.is_empty() { "all".to_owned() } else { buckets.join(", ") }
                ));
            }
        }
        let objects = |engine: Option<Arc<dyn Engine>>| engine.map(|e| Arc::new(Objects::new(e)));
        let (local, upstream) = (objects(local), objects(upstream));
        let holding = match placement.holding {
            BackendKind::Local => local.clone(),
            BackendKind::Upstream => upstream.clone(),
        };
        let holding = holding.ok_or_else(|| format!("the {} backend holds the buckets but is not configured", placement.holding.name()))?;
        Ok(Self { store, placement: RwLock::new(placement), holding, local, upstream })
    }

    fn placement(&self) -> std::sync::RwLockReadGuard<'_, Placement> {
        self.placement.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn backend(&self, kind: BackendKind) -> &Arc<Objects> {
        // `new` refuses a placement naming a backend it was not given, and placements only
        // change back to the holding backend (`forget`): the fallback is never taken.
        let backend = match kind {
            BackendKind::Local => self.local.as_ref(),
            BackendKind::Upstream => self.upstream.as_ref(),
        };
        backend.unwrap_or(&self.holding)
    }

    /// The backend holding `bucket` (new buckets: the holding backend).
    pub fn of(&self, bucket: &str) -> &Arc<Objects> {
        let kind = self.placement().holder(bucket);
        self.backend(kind)
    }

    /// The backend new buckets are created on.
    pub fn holding(&self) -> &Arc<Objects> {
        &self.holding
    }

    /// Drops a bucket's placement (it was deleted, or created anew on the holding backend).
    pub fn forget(&self, bucket: &str) -> Result<(), Error> {
        let mut placement = self.placement.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if placement.moved.remove(bucket).is_some() {
            placement.save(self.store.as_ref())?;
        }
        Ok(())
    }

    /// Refuses a copy between buckets on different backends (neither can read the other's
    /// bytes).
    pub fn check_copy(&self, source_bucket: &str, bucket: &str) -> Result<(), Error> {
        let placement = self.placement();
        let (from, to) = (placement.holder(source_bucket), placement.holder(bucket));
        if from == to {
            return Ok(());
        }
        tracing::info!(source_bucket, bucket, from = from.name(), to = to.name(), "copy between backends refused");
        Err(Error::NotImplemented("Copying between buckets held by different backends is not supported: download and upload instead."))
    }

    /// The opened backends, each with the names of the buckets it holds.
    /// Every bucket's name, whichever backend holds it.
    ///
    /// # Errors
    /// The store's.
    pub fn bucket_names(&self) -> Result<Vec<String>, Error> {
        Ok(self.store.bucket_list()?.into_iter().map(|b| b.name).collect())
    }

    fn with_buckets(&self) -> Result<Vec<HeldBuckets<'_>>, Error> {
        let buckets = self.store.bucket_list()?;
        let placement = self.placement().clone();
        Ok([(BackendKind::Local, &self.local), (BackendKind::Upstream, &self.upstream)]
            .into_iter()
            .filter_map(|(kind, backend)| {
                let held = buckets.iter().filter(|b| placement.holder(&b.name) == kind).map(|b| b.name.clone()).collect();
                Some((backend.as_deref()?, held))
            })
            .collect())
    }

    /// Finishes the writes that were pending when the gateway stopped (see
    /// [`crate::meta::PendingWrite`]), each on its bucket's backend, and forgets those the
    /// backend does not hold; then syncs. Returns how many were committed and forgotten.
    pub async fn finish_pending(&self) -> Result<(usize, usize), Error> {
        let (mut committed, mut forgotten) = (0, 0);
        for (id, write) in self.store.pending_list()? {
            let (bucket, key) = (&write.bucket, &write.key);
            if self.of(bucket).finish_pending(&id, &write).await? {
                tracing::info!(bucket, key, "committed a write pending since the last stop");
                committed += 1;
            } else {
                tracing::info!(bucket, key, "dropped a write pending since the last stop: its backend does not hold its bytes");
                self.store.pending_remove(&id)?;
                forgotten += 1;
            }
        }
        if committed + forgotten > 0 {
            self.store.flush().await?;
        }
        Ok((committed, forgotten))
    }

    /// Whether every backend can serve; the first reason if not.
    pub async fn ready(&self) -> Result<(), NotReady> {
        for backend in [&self.local, &self.upstream].into_iter().flatten() {
            backend.engine().ready().await?;
        }
        Ok(())
    }

    /// Scrubs each bucket on its backend.
    pub async fn scrub(&self, bytes_per_sec: u64, keys: &dyn crate::backend::sealed::OpenKey) -> Result<ScrubReport, Error> {
        let mut total = ScrubReport::default();
        for (backend, buckets) in self.with_buckets()? {
            let report = crate::backend::scrub::scrub(backend.engine_arc(), &buckets, bytes_per_sec, keys).await?;
            total.objects += report.objects;
            total.bytes += report.bytes;
            total.sealed_by_customers += report.sealed_by_customers;
            total.mismatches.extend(report.mismatches);
        }
        Ok(total)
    }

    /// Reconciles each backend with the index entries of the buckets it holds.
    pub async fn reconcile(&self, min_age: Duration) -> Result<ReconcileReport, Error> {
        let mut total = ReconcileReport::default();
        for (backend, buckets) in self.with_buckets()? {
            let report = backend.engine().reconcile(&buckets, min_age).await?;
            total.orphan_blobs += report.orphan_blobs;
            total.orphan_entries += report.orphan_entries;
            total.unindexed += report.unindexed;
            total.held_elsewhere += report.held_elsewhere;
            total.locked_kept += report.locked_kept;
        }
        Ok(total)
    }

    /// Aborts an abandoned multipart upload on its bucket's backend.
    pub async fn expire_upload(&self, upload_id: &str) -> Result<(), Error> {
        match self.store.upload_get(upload_id)? {
            Some(upload) => self.of(&upload.bucket).expire_upload(upload_id).await,
            None => Ok(()),
        }
    }

    /// Whether the upstream backend is opened (it may keep a metadata mirror).
    #[must_use]
    pub fn upstream_opened(&self) -> bool {
        self.upstream.is_some()
    }

    /// The backend keeping a metadata mirror, if any (the upstream's, when it is opened).
    fn mirrored(&self) -> &Objects {
        self.upstream.as_deref().unwrap_or(&self.holding)
    }

    /// See [`Engine::mirror_metadata`].
    pub async fn mirror_metadata(&self, settled_only: bool) -> Result<Option<MirrorReport>, Error> {
        self.mirrored().engine().mirror_metadata(settled_only).await
    }

    /// See [`Engine::restore_metadata`].
    pub async fn restore_metadata(&self) -> Result<RestoreReport, Error> {
        self.mirrored().engine().restore_metadata().await
    }

    /// See [`Engine::heartbeat`].
    pub async fn heartbeat(&self, beat: &crate::backend::upstream::Member) -> Result<bool, Error> {
        self.mirrored().engine().heartbeat(beat).await
    }

    /// See [`Engine::members`].
    pub async fn members(&self) -> Result<Option<Vec<crate::backend::upstream::Member>>, Error> {
        self.mirrored().engine().members().await
    }

    /// See [`Engine::control_append`].
    pub async fn control_append(&self, seq: u64, entry: bytes::Bytes) -> Result<Option<bool>, Error> {
        self.mirrored().engine().control_append(seq, entry).await
    }

    /// See [`Engine::control_read`].
    pub async fn control_read(&self, after: u64, max: usize) -> Result<Option<Vec<(u64, bytes::Bytes)>>, Error> {
        self.mirrored().engine().control_read(after, max).await
    }

    /// See [`Engine::shared_put`].
    pub async fn shared_put(&self, path: &str, body: bytes::Bytes) -> Result<(), Error> {
        self.mirrored().engine().shared_put(path, body).await
    }

    /// See [`Engine::shared_get`].
    pub async fn shared_get(&self, path: &str) -> Result<Option<bytes::Bytes>, Error> {
        self.mirrored().engine().shared_get(path).await
    }

    /// See [`Engine::shared_list`].
    pub async fn shared_list(&self, prefix: &str) -> Result<Vec<String>, Error> {
        self.mirrored().engine().shared_list(prefix).await
    }

    /// See [`Engine::shared_page`].
    pub async fn shared_page(&self, at: &super::engine::SharedPageAt<'_>) -> Result<(Vec<(String, String)>, Option<String>), Error> {
        self.mirrored().engine().shared_page(at).await
    }

    /// See [`Engine::shared_folders`].
    pub async fn shared_folders(&self, prefix: &str) -> Result<Vec<String>, Error> {
        self.mirrored().engine().shared_folders(prefix).await
    }

    /// See [`Engine::shared_delete`].
    pub async fn shared_delete(&self, paths: &[String]) -> Result<(), Error> {
        self.mirrored().engine().shared_delete(paths).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::SledStore;

    #[test]
    fn placement_round_trips_and_moves_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let fresh = Placement::load(&store, BackendKind::Upstream).unwrap();
        assert_eq!(fresh, Placement { holding: BackendKind::Upstream, moved: BTreeMap::new() });

        let mut p = Placement { holding: BackendKind::Local, moved: BTreeMap::new() };
        p.place("logs", BackendKind::Upstream);
        p.place("docs", BackendKind::Local);
        assert_eq!((p.holder("logs"), p.holder("docs"), p.holder("new")), (BackendKind::Upstream, BackendKind::Local, BackendKind::Local));
        assert!(p.uses(BackendKind::Upstream));
        p.save(&store).unwrap();
        assert_eq!(Placement::load(&store, BackendKind::Upstream).unwrap(), p);

        p.place("logs", BackendKind::Local);
        assert!(p.moved.is_empty() && !p.uses(BackendKind::Upstream));
    }

    #[test]
    fn a_corrupt_setting_is_an_error_not_a_guess() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        store.setting_put(MOVED_BUCKETS, r#"{"logs":"tape"}"#).unwrap();
        assert!(Placement::load(&store, BackendKind::Local).is_err());
    }
}

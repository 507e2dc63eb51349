//! The gateway's object index, shared by every backend: buckets and their usage, object
//! records (what was written through the gateway: sizes, ETags, attributes, checksums,
//! SHA-256 and proof ids), multipart uploads and parts, all in the metadata store. Each
//! change records its audit entry and, when proofs are on, its proof manifest in the same
//! transaction.

use crate::backend::Error;
use crate::meta::{AuditEntry, BucketRecord, Completes, Deleted, ObjectRecord, PendingWrite, Precondition, ProofDraft, Store, UploadRecord, VersionRecord};
use crate::proof::Prover;

use std::sync::Arc;

/// Runs a metadata transaction where it may block: sled's transactions wait on one lock
/// shared by the whole process (and on its I/O), which on a tokio worker would hold up
/// every other task queued there. On a multi-threaded runtime the worker hands its tasks
/// to another thread first; elsewhere (a current-thread runtime, or none) it runs in place.
fn off_worker<T>(transaction: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(rt) if rt.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => tokio::task::block_in_place(transaction),
        _ => transaction(),
    }
}

/// The object index every engine commits to, over the metadata store.
pub struct Index {
    /// The metadata store holding the records (shared with the rest of the gateway).
    pub store: Arc<dyn Store>,
    /// Signs a proof manifest for every stored or deleted object version (if enabled).
    pub prover: Option<Arc<Prover>>,
    /// Make each change durable before acknowledging it.
    pub fsync: bool,
}

impl Index {
    /// Makes the writes so far durable, when configured to.
    pub async fn sync(&self) -> Result<(), Error> {
        if self.fsync {
            self.store.flush().await?;
        }
        Ok(())
    }

    /// The bucket `name` (`NoSuchBucket` if the gateway has none).
    pub fn bucket(&self, name: &str) -> Result<BucketRecord, Error> {
        self.store.bucket_get(name)?.ok_or(Error::NoSuchBucket)
    }

    /// The record of `key` (`NoSuchKey`, or `NoSuchBucket` when the bucket is missing too).
    pub fn object(&self, bucket: &str, key: &str) -> Result<ObjectRecord, Error> {
        match self.store.object_get(bucket, key)? {
            Some(rec) => Ok(rec),
            None => {
                self.bucket(bucket)?;
                Err(Error::NoSuchKey)
            }
        }
    }

    /// The upload `id`, checked to belong to `bucket`/`key`.
    pub fn upload(&self, bucket: &str, key: &str, id: &str) -> Result<UploadRecord, Error> {
        match self.store.upload_get(id)? {
            Some(u) if u.bucket == bucket && u.key == key => Ok(u),
            _ => {
                self.bucket(bucket)?;
                Err(Error::NoSuchUpload)
            }
        }
    }

    /// The object a completion of `upload_id` with `requested` made, if it is still the
    /// key's current object and that was the part list it was completed with: a repeated
    /// completion (an SDK retry) is answered as the first was. `NoSuchUpload` otherwise.
    pub fn completed(&self, bucket: &str, key: &str, upload_id: &str, requested: &[s3s::dto::CompletedPart]) -> Result<ObjectRecord, Error> {
        let done = self.store.completed_get(bucket, key)?.filter(|c| c.upload_id == upload_id);
        let same_parts = |c: &crate::meta::CompletedUpload| crate::backend::s3util::requested_digest(requested).is_some_and(|d| d == c.parts);
        if let Some(done) = done.filter(same_parts)
            && let Some(current) = self.store.object_get(bucket, key)?
            && done.made(&current)
        {
            return Ok(current);
        }
        self.bucket(bucket)?;
        Err(Error::NoSuchUpload)
    }

    /// Replaces the tags of an indexed object, or of its version `version` (`NoSuchKey`
    /// or `NoSuchVersion` if there is none).
    pub async fn set_tags(&self, bucket: &str, key: &str, version: Option<&str>, tags: Vec<(String, String)>, audit: &AuditEntry) -> Result<(), Error> {
        if !self.store.object_set_tags(bucket, key, version, tags, Some(audit))? {
            self.bucket(bucket)?;
            return Err(if version.is_some() { Error::NoSuchVersion } else { Error::NoSuchKey });
        }
        self.sync().await
    }

    /// Records `record` under `key` if `precondition` holds, with its proof manifest, and
    /// makes it durable. Returns the record as stored (with its proof and version ids) and
    /// the object no version references any more. What it `completes` (an upload) goes in
    /// the same transaction.
    pub async fn commit(
        &self,
        bucket: &str,
        key: &str,
        record: ObjectRecord,
        precondition: &Precondition,
        completes: Completes<'_>,
        audit: &AuditEntry,
    ) -> Result<(ObjectRecord, Option<ObjectRecord>), Error> {
        let committed = self.write(bucket, key, record, precondition, completes, audit, None)?;
        self.sync().await?;
        Ok(committed)
    }

    /// Records durably, before the backend answers, that `record` (all but its ETag) is
    /// on its way there, as the pending write `id`, and chooses its proof id. Then
    /// [`Index::commit_pending`] commits the backend's answer without a sync of its own:
    /// the gateway's sync overlaps the backend's work instead of following it.
    pub async fn prepare(&self, id: &str, bucket: &str, key: &str, record: &mut ObjectRecord, audit: &AuditEntry) -> Result<(), Error> {
        if self.prover.is_some() {
            record.proof_id = crate::proof::manifest::new_id();
        }
        let write = PendingWrite { bucket: bucket.to_owned(), key: key.to_owned(), record: record.clone(), audit: audit.clone() };
        self.store.pending_put(id, &write)?;
        self.sync().await
    }

    /// Commits a prepared write once the backend has stored it (with `record`'s proof id),
    /// removing the pending write in the same transaction. Not synced: the pending write
    /// is durable and finishes the commit after a crash; the next sync (any write's, or
    /// the store's periodic one) makes it durable.
    pub fn commit_pending(&self, id: &str, bucket: &str, key: &str, record: ObjectRecord, audit: &AuditEntry) -> Result<ObjectRecord, Error> {
        let proof_id = record.proof_id.clone();
        let (rec, _) = self.write(bucket, key, record, &Precondition::None, Completes::Pending(id), audit, Some(proof_id))?;
        Ok(rec)
    }

    /// Forgets a prepared write the backend did not store.
    pub fn abandon(&self, id: &str) -> Result<(), Error> {
        Ok(self.store.pending_remove(id)?)
    }

    /// One object transaction: the record, its audit entry and its proof manifest (with
    /// `proof_id` if given, else a new one). Not synced.
    #[allow(clippy::too_many_arguments)]
    fn write(
        &self,
        bucket: &str,
        key: &str,
        mut record: ObjectRecord,
        precondition: &Precondition,
        completes: Completes<'_>,
        audit: &AuditEntry,
        proof_id: Option<String>,
    ) -> Result<(ObjectRecord, Option<ObjectRecord>), Error> {
        let tenant = self.bucket(bucket)?.tenant;
        let encryption = record.sealing.as_ref().map(crate::meta::Sealing::described).unwrap_or_default();
        let draft = self.prover.as_ref().map(|p| {
            let mut m = p.draft(&crate::proof::Change {
                op: "put",
                tenant: &tenant,
                bucket,
                key,
                size: record.size,
                sha256: &record.sha256,
                etag: &record.etag,
                content_type: record.attrs.content_type.as_deref().unwrap_or(""),
                principal: &audit.principal,
                encryption: &encryption,
            });
            if let Some(id) = proof_id.filter(|id| !id.is_empty()) {
                m.id = id;
            }
            m
        });
        if let Some(d) = &draft {
            record.proof_id.clone_from(&d.id);
        }
        let committed = off_worker(|| self.store.object_commit(bucket, key, &record, precondition, completes, Some(audit), draft.as_ref()))?;
        record.version_id = committed.version_id;
        Ok((record, committed.released))
    }

    /// The proof draft of a deletion of `key` (none when proofs are off).
    fn deletion_proof(&self, tenant: &str, bucket: &str, key: &str, audit: &AuditEntry) -> Option<ProofDraft> {
        self.prover.as_ref().map(|p| {
            p.draft(&crate::proof::Change {
                op: "delete",
                tenant,
                bucket,
                key,
                size: 0,
                sha256: "",
                etag: "",
                content_type: "",
                principal: &audit.principal,
                encryption: "",
            })
        })
    }

    /// Removes `key`'s current object from the index (in a versioned bucket: puts a delete
    /// marker on it), if `precondition` holds, with the proof of its deletion; says what
    /// it released.
    pub async fn delete(&self, bucket: &str, key: &str, precondition: &Precondition, audit: &AuditEntry) -> Result<Deleted, Error> {
        let tenant = self.bucket(bucket)?.tenant;
        let proof = self.deletion_proof(&tenant, bucket, key, audit);
        let deleted = off_worker(|| self.store.object_delete(bucket, key, precondition, Some(audit), proof.as_ref()))?;
        if deleted.released.is_some() || deleted.marker.is_some() {
            self.sync().await?;
        }
        Ok(deleted)
    }

    /// Removes one version of `key` for good (a versioned bucket's), with the proof of its
    /// deletion if it was an object; returns it (none: no such version).
    /// A version under Object Lock is refused (`AccessDenied`): GOVERNANCE retention
    /// yields to `bypass_governance` (asked for by a caller allowed to), nothing else does.
    pub async fn delete_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
        bypass_governance: bool,
        audit: &AuditEntry,
    ) -> Result<Option<VersionRecord>, Error> {
        let tenant = self.bucket(bucket)?.tenant;
        let proof = self.deletion_proof(&tenant, bucket, key, audit);
        let now = crate::backend::s3util::now_ns();
        let removed = off_worker(|| self.store.version_delete(bucket, key, version_id, now, bypass_governance, Some(audit), proof.as_ref()))?;
        if removed.is_some() {
            self.sync().await?;
        }
        Ok(removed)
    }

    /// Removes the entry of an object whose bytes are gone (a repair by the gateway,
    /// audited, with the proof of its deletion), unless it changed since `rec` was read.
    /// Returns whether it removed it.
    pub async fn remove_orphan(&self, bucket: &str, key: &str, rec: &ObjectRecord) -> Result<bool, Error> {
        let gateway = crate::auth::Principal::Gateway;
        let audit = crate::audit::entry_for(&gateway, None, crate::audit::GatewayOp::RepairOrphanEntry, bucket, key, crate::audit::Outcome::Ok, 0);
        if !rec.version_id.is_empty() {
            // A version of a versioned bucket: that version goes, not the key (no delete
            // marker for a repair).
            // Never past Object Lock: a locked version stays, orphaned or not.
            return match self.delete_version(bucket, key, &rec.version_id, false, &audit).await {
                Ok(removed) => Ok(removed.is_some()),
                Err(Error::AccessDenied(why)) => {
                    tracing::warn!(bucket, key, version = %rec.version_id, %why, "reconcile: a locked version's bytes are gone; its entry is kept");
                    Ok(false)
                }
                Err(e) => Err(e),
            };
        }
        match self.delete(bucket, key, &Precondition::Is(Box::new(rec.clone())), &audit).await {
            Ok(removed) => Ok(removed.released.is_some()),
            Err(Error::PreconditionFailed) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

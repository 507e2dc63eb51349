//! The object layer over one storage engine, written once for every engine: it owns every
//! index commit of an object, a part or an upload. It takes the S3 layer's decided
//! requests, has the engine move the bytes, and commits what was stored: under the key's
//! turn and after a precondition check when the engine stores at the key, recorded pending
//! while such an engine stores the bytes, with quotas checked before anything is replaced,
//! and the bytes a commit replaced (or a refused commit stored) released again.
//!
//! A versioned bucket keeps its versions in the index whatever the engine: an engine that
//! stores at the key then stores each version as a blob of its own naming (reads, tags and
//! listings come from the index), as the local engine always does.

use super::engine::Incoming;
use super::engine::{AtKey, BlobWrite, Engine, Keeping, Received, Stored};
use super::index::Index;
use super::locks::Locks;
use super::s3util::{BodyCheck, Expected};
use super::s3util::{ReadConditions, ReadRequest, now_ns, plan_completion};
use super::{Error, ErrorClass, NewObject, NewPart, ObjectCopy, PartCopy, Readout, UploadCompletion, sealed};
use crate::crypt::DataKey;
use crate::meta::{AuditEntry, Completes, Deleted, NULL_VERSION, ObjectRecord, PartRecord, Precondition, SseMode, UploadRecord, VersionRecord, Versioning};
use s3s::dto::StreamingBlob;

use std::sync::Arc;

/// Deletes of one DeleteObjects sent at once to an engine storing at the key (a store over
/// the network: concurrency hides its latency). Blob deletes are metadata transactions of
/// their own, one at a time.
const DELETES_AT_ONCE_AT_KEY: usize = 16;

/// One engine's objects, as the gateway commits them.
pub struct Objects {
    engine: Arc<dyn Engine>,
    /// Turns of writes to one key (bucket, key), for engines storing at the key.
    keys: Locks<(String, String)>,
    /// Turns of part records and completions of one upload (by upload id).
    uploads: Locks<String>,
}

impl Objects {
    /// The object layer over `engine`.
    #[must_use]
    pub fn new(engine: Arc<dyn Engine>) -> Self {
        Self { engine, keys: Locks::default(), uploads: Locks::default() }
    }

    /// The engine, for what is not an object operation (buckets, listing, maintenance).
    #[must_use]
    pub fn engine(&self) -> &dyn Engine {
        self.engine.as_ref()
    }

    /// The engine, shared (for reads that outlive the call).
    #[must_use]
    pub fn engine_arc(&self) -> Arc<dyn Engine> {
        Arc::clone(&self.engine)
    }

    /// The gateway's index.
    #[must_use]
    pub fn index(&self) -> &Index {
        self.engine.index()
    }

    /// How `bucket`'s objects are kept: at the key (the engine's reads, tags and removes)
    /// when the engine stores at the key and the bucket was never versioned; else as
    /// blobs, answered from the index.
    fn at_key(&self, bucket: &str) -> Result<Option<&dyn AtKey>, Error> {
        match self.engine.keeping() {
            Keeping::AtKey(at) if self.index().bucket(bucket)?.versioning.is_unversioned() => Ok(Some(at)),
            _ => Ok(None),
        }
    }

    /// Whether `bucket`'s objects are stored at their keys (not versioned, on an engine
    /// storing at the key).
    pub fn stores_at_key(&self, bucket: &str) -> Result<bool, Error> {
        Ok(self.at_key(bucket)?.is_some())
    }

    /// Waits for the key's turn when its bytes are stored at the key: a write there replaces
    /// the bytes before its commit, so writes to one key take turns and a conditional
    /// write's check cannot interleave with another's effect. Blob writes need no turn:
    /// their commit checks the precondition atomically.
    async fn turn(&self, at_key: bool, bucket: &str, key: &str) -> Option<super::locks::Guard<'_, (String, String)>> {
        if at_key { Some(self.keys.lock((bucket.to_owned(), key.to_owned())).await) } else { None }
    }

    /// Whether the quotas admit `size` bytes under `key` (the index re-checks at commit).
    fn admits(&self, bucket: &str, key: &str, size: u64) -> Result<(), Error> {
        let index = self.index();
        let rec = index.bucket(bucket)?;
        let old = index.store.object_get(bucket, key)?.map(|o| o.size);
        rec.quota.admits(rec.objects, rec.bytes, old, size).map_err(Error::QuotaExceeded)?;
        if let Some(t) = index.store.tenant_get(&rec.tenant)?
            && !t.quota.is_unlimited()
        {
            let (objects, bytes) = index.store.tenant_usage(&rec.tenant)?;
            t.quota.admits(objects, bytes, old, size).map_err(Error::QuotaExceeded)?;
        }
        Ok(())
    }

    /// Commits `record` under `key` if `precondition` holds, then releases the bytes of the
    /// object no version references any more (blobs only: bytes at the key were replaced in
    /// place). If the index refuses it, what the engine stored goes again: the object at
    /// the key, or the new blobs when `owned` (not a local completion's: they are the
    /// upload's parts, which stay with it).
    #[allow(clippy::too_many_arguments)]
    async fn commit(
        &self,
        at_key: Option<&dyn AtKey>,
        bucket: &str,
        key: &str,
        record: ObjectRecord,
        owned: bool,
        precondition: &Precondition,
        completes: Completes<'_>,
        audit: &AuditEntry,
    ) -> Result<ObjectRecord, Error> {
        let stored = owned.then(|| record.clone());
        match (self.index().commit(bucket, key, record, precondition, completes, audit).await, at_key) {
            (Ok((record, released)), None) => {
                if let Some(old) = released {
                    self.engine.release(bucket, key, &old).await;
                }
                Ok(record)
            }
            (Ok((record, _)), Some(_)) => Ok(record),
            (Err(e), Some(at)) => Err(self.unrecorded(at, bucket, key, audit, e).await),
            (Err(e), None) => {
                if let Some(stored) = stored {
                    self.engine.release(bucket, key, &stored).await;
                }
                Err(e)
            }
        }
    }

    /// Removes again an object stored at the key but the index refused (`e`), with the
    /// index entry of the version it replaced; returns `e`.
    async fn unrecorded(&self, at: &dyn AtKey, bucket: &str, key: &str, audit: &AuditEntry, e: Error) -> Error {
        tracing::warn!(bucket, key, error = %e, "the index refused a write stored at the key; removing it");
        let _ = at.remove(bucket, key, &Precondition::None).await;
        let _ = self.index().delete(bucket, key, &Precondition::None, audit).await;
        e
    }

    /// Stores a new object and commits it; returns the record as committed.
    pub async fn put(&self, object: NewObject) -> Result<ObjectRecord, Error> {
        let NewObject { bucket, key, precondition, mut record, tagging, incoming, audit, seal } = object;
        let (incoming, sealed) = match &seal {
            Some((data_key, sealing)) => {
                let (incoming, outcome) = sealed::seal_incoming(incoming, data_key, sealing, 0)?;
                record.sealing = Some(sealing.clone());
                (incoming, Some(outcome))
            }
            None => (incoming, None),
        };
        // A sealed write fails with its body's own error, not the engine's account of it.
        let failed = |e: Error| match &sealed {
            Some(outcome) => sealed::sealed_error(outcome, e),
            None => e,
        };
        let index = self.index();
        let at_key = self.at_key(&bucket)?;
        let _turn = self.turn(at_key.is_some(), &bucket, &key).await;
        let admits = |size| self.admits(&bucket, &key, size);
        let stored_attrs = match &seal {
            Some(_) => std::borrow::Cow::Owned(sealed::marked(&record.attrs)),
            None => std::borrow::Cow::Borrowed(&record.attrs),
        };
        let target = BlobWrite {
            bucket: &bucket,
            key: &key,
            at_key: at_key.is_some(),
            attrs: &stored_attrs,
            tagging: tagging.as_deref(),
            precondition: &precondition,
            admits: &admits,
        };
        let (verified, received) = tokio::sync::oneshot::channel::<Received>();
        let Some(at) = at_key else {
            let stored = self.engine.write(&target, incoming, verified).await.map_err(failed)?;
            let mut record = stored_record(stored, record);
            if let Some(outcome) = &sealed {
                let body = outcome.plaintext().ok_or_else(|| Error::Unavailable("the engine stored a body it had not read whole".into()))?;
                plaintext_record(&mut record, body);
            }
            let audit = AuditEntry { bytes: record.size, ..audit };
            return self.commit(None, &bucket, &key, record, true, &precondition, Completes::Nothing, &audit).await;
        };
        precondition.check(index.store.object_get(&bucket, &key)?.as_ref())?;
        // The write is recorded (durably) as pending while the engine stores the bytes, as
        // soon as the body was read whole and verified; the engine's answer then commits
        // unsynced, and a crash in between is finished at start-up.
        let pending = crate::proof::manifest::new_id();
        let writing = self.engine.write(&target, incoming, verified);
        let preparing = async {
            let body = received.await.ok()?;
            let mut record = record.clone();
            match &sealed {
                Some(outcome) => plaintext_record(&mut record, outcome.plaintext()?),
                None => record = ObjectRecord { size: body.size, checksums: body.digests.checksums, sha256: body.digests.sha256, ..record },
            }
            let audit = AuditEntry { bytes: body.size, ..audit.clone() };
            Some(index.prepare(&pending, &bucket, &key, &mut record, &audit).await.map(|()| (record, audit)))
        };
        let (stored, prepared) = {
            tokio::pin!(writing, preparing);
            tokio::select! {
                stored = &mut writing => match stored {
                    Ok(stored) => (Ok(stored), preparing.await),
                    Err(e) => (Err(e), None),
                },
                prepared = &mut preparing => (writing.await, prepared),
            }
        };
        let committed = match (stored, prepared) {
            (Ok(stored), Some(Ok((record, audit)))) => {
                index.commit_pending(&pending, &bucket, &key, with_stored_etag(record, stored.etag), &audit).map_err(|e| (e, audit))
            }
            (Ok(_), prepared) => {
                let e = prepared.and_then(Result::err).unwrap_or_else(|| Error::Unavailable("the engine stored a body it had not read whole".into()));
                Err((e, audit))
            }
            (Err(e), _) => return Err(self.abandon(&pending, failed(e))),
        };
        match committed {
            Ok(record) => Ok(record),
            Err((e, audit)) => Err(self.abandon(&pending, self.unrecorded(at, &bucket, &key, &audit, e).await)),
        }
    }

    /// Forgets the pending record of a failed write; returns the write's error.
    fn abandon(&self, pending: &str, e: Error) -> Error {
        if let Err(forget) = self.index().abandon(pending) {
            tracing::warn!(pending, error = %forget, "could not forget a failed write's pending record");
        }
        e
    }

    /// Finishes a write that was pending when the gateway stopped: commits it if the
    /// engine holds exactly its bytes, and says whether it did.
    pub async fn finish_pending(&self, id: &str, write: &crate::meta::PendingWrite) -> Result<bool, Error> {
        let Some(etag) = self.engine.holds_pending(write).await? else {
            return Ok(false);
        };
        self.index().commit_pending(id, &write.bucket, &write.key, with_stored_etag(write.record.clone(), etag), &write.audit)?;
        Ok(true)
    }

    /// The index's record of `key`'s current object, or of its version `version`: a
    /// delete marker is `DeleteMarker`, an unknown version `NoSuchVersion`. A version id
    /// other than `null` in a bucket never versioned is refused, as S3 does.
    pub fn version(&self, bucket: &str, key: &str, version: Option<&str>) -> Result<ObjectRecord, Error> {
        let index = self.index();
        // The current object: one lookup (the bucket is read only when there is none).
        if version.is_none()
            && let Some(rec) = index.store.object_get(bucket, key)?
        {
            return Ok(rec);
        }
        let versioning = index.bucket(bucket)?.versioning;
        let Some(id) = version.filter(|_| versioning != Versioning::Unversioned) else {
            if version.is_some_and(|v| v != NULL_VERSION) {
                return Err(Error::InvalidArgument("Invalid version id specified".into()));
            }
            return match index.store.object_get(bucket, key)? {
                Some(rec) => Ok(rec),
                None if versioning == Versioning::Unversioned => Err(Error::NoSuchKey),
                // The latest version may be a delete marker: the answer says so.
                None => match index.store.version_scan(bucket, key, None).next().transpose()? {
                    Some((k, v)) if k == key && v.object.is_none() => Err(Error::DeleteMarker { version_id: v.version_id, named: false }),
                    _ => Err(Error::NoSuchKey),
                },
            };
        };
        match index.store.version_get(bucket, key, id)? {
            Some(VersionRecord { object: Some(rec), .. }) => Ok(rec),
            Some(marker) => Err(Error::DeleteMarker { version_id: marker.version_id, named: true }),
            None => Err(Error::NoSuchVersion),
        }
    }

    /// Refuses a version id on an engine storing at the key: only blobs keep versions.
    fn at_key_version<'v>(&self, at: &'v dyn AtKey, version: Option<&str>) -> Result<&'v dyn AtKey, Error> {
        match version {
            Some(v) if v != NULL_VERSION => Err(Error::InvalidArgument("Invalid version id specified".into())),
            _ => Ok(at),
        }
    }

    /// Up to `max` keys and common prefixes of `bucket` under `prefix`, strictly after
    /// `after`, folding keys at `delimiter`: from the store when objects are at the key
    /// (an encrypted one described by its record: this index's, or in a cluster the one
    /// `shared` holds), else from the index. `T`: what the page holds of each object.
    pub async fn page<T: super::listing::Listed>(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        after: Option<&str>,
        max: usize,
        shared: Option<&super::shared::SharedObjects>,
    ) -> Result<super::Page<T>, Error> {
        match self.at_key(bucket)? {
            Some(at) => {
                let page = at.page(bucket, prefix, delimiter, after, max).await?;
                // In a cluster, the records of what other instances stored encrypted.
                let elsewhere = match (shared, page.objects.last()) {
                    (Some(shared), Some((last, _))) => shared.listed(bucket, &super::shared::ListedPage { prefix, delimiter, after, last }).await?,
                    _ => std::collections::HashMap::new(),
                };
                let mut objects = Vec::with_capacity(page.objects.len());
                for (key, mut listed) in page.objects {
                    // The store lists a sealed object's ciphertext: list the client's size
                    // and ETag, by a record of the bytes listed (not of ones replaced since).
                    if let Some(rec) = self
                        .index()
                        .store
                        .object_get(bucket, &key)?
                        .filter(|rec| rec.sealing.is_some() && (rec.stored_etag.is_empty() || rec.stored_etag == listed.etag))
                    {
                        listed.size = rec.size;
                        listed.etag = rec.etag;
                    } else if let Some(record) = elsewhere.get(&key).filter(|r| r.stored_etag == listed.etag) {
                        listed.size = record.size;
                        listed.etag.clone_from(&record.etag);
                    }
                    objects.push((key, T::from(listed)));
                }
                Ok(super::Page { objects, prefixes: page.prefixes, truncated: page.truncated, last: page.last })
            }
            None => super::listing::index_page(self.index(), bucket, prefix, delimiter, after, max),
        }
    }

    /// Reads an object, or its version `version` (its bytes only if `with_body`), once
    /// the request's conditions hold.
    pub async fn read(&self, bucket: &str, key: &str, version: Option<&str>, request: &ReadRequest<'_>, with_body: bool) -> Result<Readout, Error> {
        match self.at_key(bucket)? {
            Some(at) => {
                let at = self.at_key_version(at, version)?;
                // A sealed object is read by the index's record (the store holds ciphertext)
                // while the store holds the bytes it describes. A record found stale is
                // removed and the index asked again: a write through this instance may
                // have replaced it meanwhile.
                for _ in 0..2 {
                    let Some(rec) = self.index().store.object_get(bucket, key)?.filter(|rec| rec.sealing.is_some()) else { break };
                    if let Some(readout) = self.read_recorded(at, bucket, key, rec, request, with_body).await? {
                        return Ok(readout);
                    }
                }
                let readout = at.read(bucket, key, request, with_body).await?;
                sealed::refuse_sealed_elsewhere(&readout.read)?;
                sealed::refuse_customer_key(request.keys)?;
                Ok(readout)
            }
            None => super::reads::read(&self.engine, bucket, key, self.version(bucket, key, version)?, request, with_body).await,
        }
    }

    /// Reads the sealed object at `key` by this index's record `rec`, if the store still
    /// holds the bytes it describes; else (deleted or replaced through another instance of
    /// a cluster, or past the gateway) removes the record, as a repair, and reads nothing.
    async fn read_recorded(
        &self,
        at: &dyn AtKey,
        bucket: &str,
        key: &str,
        rec: ObjectRecord,
        request: &ReadRequest<'_>,
        with_body: bool,
    ) -> Result<Option<Readout>, Error> {
        // Bytes read by the record are read only while they are its (`NoSuchKey` else).
        let reads_bytes = with_body && rec.size > 0;
        let read = super::reads::read(&self.engine, bucket, key, rec.clone(), request, with_body).await;
        let held = match &read {
            Ok(_) if reads_bytes => true,
            Err(Error::NoSuchKey) if reads_bytes => false,
            // Answered by the record alone: a HEAD, a refusal by its ETag or time, no bytes.
            Ok(_) | Err(Error::PreconditionFailed | Error::NotModified(_)) => self.holds(at, bucket, key, &rec).await?,
            Err(_) => true,
        };
        if held {
            return read.map(Some);
        }
        self.forget_replaced(bucket, key, &rec).await?;
        Ok(None)
    }

    /// Whether the store at the key holds the bytes `rec` describes, by their ETag there
    /// (a sealed record older than the stored ETag it keeps is taken at its word).
    async fn holds(&self, at: &dyn AtKey, bucket: &str, key: &str, rec: &ObjectRecord) -> Result<bool, Error> {
        let stored = if rec.sealing.is_some() { &rec.stored_etag } else { &rec.etag };
        if stored.is_empty() {
            return Ok(true);
        }
        let request = ReadRequest::whole();
        match at.read(bucket, key, &request, false).await {
            Ok(head) => Ok(head.read.etag == *stored),
            Err(Error::NoSuchKey) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Removes this index's record `rec` of an object whose bytes the store at the key no
    /// longer holds (audited as a repair), unless a write changed it meanwhile.
    async fn forget_replaced(&self, bucket: &str, key: &str, rec: &ObjectRecord) -> Result<(), Error> {
        let _turn = self.turn(true, bucket, key).await;
        if self.index().remove_orphan(bucket, key, rec).await? {
            tracing::info!(bucket, key, proof_id = %rec.proof_id, "removed the record of an object deleted or replaced past this instance");
        }
        Ok(())
    }

    /// Whether this index's record of the object at `key` describes what the store holds
    /// there (an object kept at its key: another instance of a cluster, or a writer past
    /// the gateway, may have replaced it); a record that does not is removed, as a repair.
    /// True for objects kept as blobs, and without a record.
    pub async fn record_current(&self, bucket: &str, key: &str) -> Result<bool, Error> {
        let Some(at) = self.at_key(bucket)? else { return Ok(true) };
        let Some(rec) = self.index().store.object_get(bucket, key)? else { return Ok(true) };
        if self.holds(at, bucket, key, &rec).await? {
            return Ok(true);
        }
        self.forget_replaced(bucket, key, &rec).await?;
        Ok(false)
    }

    /// Whether the bytes at `key` of `bucket` are stored sealed through another instance
    /// (the store marks them so, and this index has no record of them).
    pub async fn sealed_elsewhere(&self, bucket: &str, key: &str) -> bool {
        let request = ReadRequest::whole();
        matches!(self.read(bucket, key, None, &request, false).await, Err(Error::SealedElsewhere))
    }

    /// Reads, as `record` says, the object at `key` this index has no record of: one stored
    /// encrypted through another instance of a cluster, `record` being the one it shared.
    pub async fn read_as(&self, bucket: &str, key: &str, record: ObjectRecord, request: &ReadRequest<'_>, with_body: bool) -> Result<Readout, Error> {
        self.at_key(bucket)?.ok_or(Error::NoSuchKey)?;
        super::reads::read(&self.engine, bucket, key, record, request, with_body).await
    }

    /// The record GetObjectAttributes describes; `SealedElsewhere` for bytes at the key
    /// another instance sealed (its shared record describes them).
    pub async fn attributes(&self, bucket: &str, key: &str, version: Option<&str>) -> Result<ObjectRecord, Error> {
        match self.at_key(bucket)? {
            Some(at) => {
                let rec = self.at_key_version(at, version)?.attributes(bucket, key).await?;
                if rec.sealing.is_none() {
                    sealed::refuse_marked(&rec.attrs)?;
                }
                Ok(rec)
            }
            None => self.version(bucket, key, version),
        }
    }

    /// An object's tags, or its version's, with the version id (none in a bucket never
    /// versioned).
    pub async fn tags(&self, bucket: &str, key: &str, version: Option<&str>) -> Result<(Option<String>, Vec<(String, String)>), Error> {
        match self.at_key(bucket)? {
            Some(at) => Ok((None, self.at_key_version(at, version)?.tags(bucket, key).await?)),
            None => {
                let rec = self.version(bucket, key, version)?;
                Ok((Some(rec.version_id).filter(|v| !v.is_empty()), rec.tags))
            }
        }
    }

    /// Replaces an object's tags, or its version's (none: removes them); returns the
    /// version id tagged (none in a bucket never versioned).
    pub async fn set_tags(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        tags: Vec<(String, String)>,
        audit: &AuditEntry,
    ) -> Result<Option<String>, Error> {
        let Some(at) = self.at_key(bucket)? else {
            // The version named must exist (a delete marker has no tags).
            let rec = self.version(bucket, key, version)?;
            let id = Some(rec.version_id).filter(|v| !v.is_empty());
            self.index().set_tags(bucket, key, id.as_deref(), tags, audit).await?;
            return Ok(id);
        };
        let _turn = self.turn(true, bucket, key).await;
        self.at_key_version(at, version)?.set_tags(bucket, key, &tags).await?;
        // An object the index does not know (written by another writer) has no record to update.
        self.index().store.object_set_tags(bucket, key, None, tags, Some(audit))?;
        self.index().sync().await?;
        Ok(None)
    }

    /// Deletes a key if `precondition` holds; a missing key is deleted already (as in S3),
    /// unless the precondition asks for it to exist. In a versioned bucket a delete marker
    /// goes on top of the key's versions.
    pub async fn delete(&self, bucket: &str, key: &str, precondition: &Precondition, audit: &AuditEntry) -> Result<Deleted, Error> {
        let index = self.index();
        if let Some(at) = self.at_key(bucket)? {
            // The store holds the truth of what is at the key: the precondition is its to check.
            let _turn = self.turn(true, bucket, key).await;
            at.remove(bucket, key, &self.stored_precondition(bucket, key, precondition)?).await?;
            return index.delete(bucket, key, &Precondition::None, audit).await;
        }
        let deleted = index.delete(bucket, key, precondition, audit).await?;
        if let Some(old) = &deleted.released {
            self.engine.release(bucket, key, old).await;
        }
        Ok(deleted)
    }

    /// `precondition` as the store at the key is to judge it. A sealed object's ETag and
    /// size there are its ciphertext's, not the client's: the condition is judged by this
    /// index's record of it, and the store is asked for the bytes that record describes
    /// (their ETag, as it gave it).
    fn stored_precondition(&self, bucket: &str, key: &str, precondition: &Precondition) -> Result<Precondition, Error> {
        if *precondition == Precondition::None {
            return Ok(Precondition::None);
        }
        match self.index().store.object_get(bucket, key)? {
            Some(rec) if rec.sealing.is_some() && !rec.stored_etag.is_empty() => {
                precondition.check(Some(&rec))?;
                Ok(Precondition::Matches { exists: true, etag: Some(rec.stored_etag), size: None, modified_secs: None })
            }
            _ => Ok(precondition.clone()),
        }
    }

    /// Removes version `version_id` of `key` for good (S3's DeleteObject with a version
    /// id); returns it (none if there was no such version). In a bucket never versioned
    /// only `null` is a version: the key's object.
    /// A version under Object Lock stays (`AccessDenied`) unless `bypass_governance` lifts
    /// its GOVERNANCE retention.
    pub async fn delete_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
        bypass_governance: bool,
        audit: &AuditEntry,
    ) -> Result<Option<VersionRecord>, Error> {
        let index = self.index();
        if index.bucket(bucket)?.versioning == Versioning::Unversioned {
            if version_id != NULL_VERSION {
                return Err(Error::InvalidArgument("Invalid version id specified".into()));
            }
            let deleted = self.delete(bucket, key, &Precondition::None, audit).await?;
            return Ok(deleted.released.map(|object| VersionRecord {
                version_id: NULL_VERSION.to_owned(),
                last_modified_ns: object.last_modified_ns,
                owner: object.owner.clone(),
                object: Some(object),
            }));
        }
        let removed = index.delete_version(bucket, key, version_id, bypass_governance, audit).await?;
        if let Some(object) = removed.as_ref().and_then(|v| v.object.as_ref()) {
            self.engine.release(bucket, key, object).await;
        }
        Ok(removed)
    }

    /// How many keys of one DeleteObjects are deleted at once.
    #[must_use]
    pub fn deletes_at_once(&self, bucket: &str) -> usize {
        if self.at_key(bucket).ok().flatten().is_some() { DELETES_AT_ONCE_AT_KEY } else { 1 }
    }

    /// The index's record of a copy's source (its version `version`, if named): checked
    /// against the copy's conditions when the engine keeps blobs; when it stores at the
    /// key, the record if the gateway wrote one (the store checks the conditions).
    fn copy_source(&self, bucket: &str, key: &str, version: Option<&str>, conditions: &ReadConditions<'_>) -> Result<Option<ObjectRecord>, Error> {
        match self.at_key(bucket)? {
            Some(at) => {
                self.at_key_version(at, version)?;
                Ok(self.index().store.object_get(bucket, key)?)
            }
            None => {
                let rec = self.version(bucket, key, version).map_err(|e| match e {
                    // S3 refuses a copy of a delete marker named by its id as a bad request.
                    Error::DeleteMarker { named: true, .. } => {
                        Error::InvalidRequest("The source of a copy request may not specifically refer to a delete marker by version id.".into())
                    }
                    Error::DeleteMarker { named: false, .. } => Error::NoSuchKey,
                    e => e,
                })?;
                super::reads::copy_source(rec, conditions).map(Some)
            }
        }
    }

    /// Copies an object server-side and commits the copy.
    pub async fn copy(&self, mut copy: ObjectCopy<'_>) -> Result<ObjectRecord, Error> {
        let source = self.copy_source(copy.source_bucket, copy.source_key, copy.source_version, &copy.conditions)?;
        let source = match source {
            Some(source) => Some(source),
            None => self.unrecorded_source(copy.source_bucket, copy.source_key, &copy.conditions, copy.shared_source.take()).await?,
        };
        let from = source.as_ref().and_then(|s| s.sealing.as_ref());
        // Sealed bytes are copied as they are, their key re-wrapped for the copy's mode,
        // unless the copy's ETag would have to be its plaintext's MD5 (SSE-S3), which only
        // an SSE-S3 source records; anything else is read, opened and sealed again.
        let rewrapped = match (from, copy.seal) {
            (None, None) => None,
            (Some(from), Some(seal)) if from.mode == SseMode::S3 || seal.template.mode != SseMode::S3 => Some(seal.rewrap(&copy.source_keys.open(from)?, from)),
            _ => return self.copy_rewritten(copy, source).await,
        };
        let at_key = self.at_key(copy.bucket)?;
        let _turn = self.turn(at_key.is_some(), copy.bucket, copy.key).await;
        // A key re-wrapped in place changes no stored byte: a store at the key (which
        // sees the same bytes copied onto themselves) is not asked.
        let in_place = at_key.is_some() && copy.source_bucket == copy.bucket && copy.source_key == copy.key;
        let mut copied = match (&rewrapped, &source) {
            (Some(_), Some(source)) if in_place => source.clone(),
            _ => self.engine.copy(&copy, source.as_ref(), at_key.is_some()).await?,
        };
        if let (Some(sealing), Some(source)) = (rewrapped, &source) {
            // The store describes the ciphertext it copied: the copy is the source's plaintext.
            if at_key.is_some() && !in_place {
                copied.stored_etag = std::mem::take(&mut copied.etag);
            }
            copied.etag = if sealing.mode == SseMode::S3 || from.is_some_and(|f| f.mode != SseMode::S3) {
                source.etag.clone()
            } else {
                sealed::sealed_etag(&sealing, &source.etag)
            };
            copied.sealing = Some(sealing);
            (copied.size, copied.sha256, copied.checksums) = (source.size, source.sha256.clone(), source.checksums.clone());
            (copied.multipart, copied.parts) = (source.multipart, source.parts.clone());
        }
        let ObjectCopy { bucket, key, attrs, tags, owner, audit, terms, .. } = copy;
        let record = ObjectRecord {
            last_modified_ns: now_ns(),
            attrs: attrs.unwrap_or(copied.attrs),
            tags: tags.unwrap_or(copied.tags),
            owner,
            proof_id: String::new(),
            // A copy is a new version: the source's lock and ACL are not its (the bucket's
            // default retention applies when it names none).
            retention: terms.retention,
            legal_hold: terms.legal_hold,
            acl: terms.acl,
            ..copied
        };
        let audit = AuditEntry { bytes: record.size, ..audit };
        self.commit(at_key, bucket, key, record, true, &Precondition::None, Completes::Nothing, &audit).await
    }

    /// A copy that changes how the bytes are sealed: the source read (and opened), sealed
    /// again as a new object.
    async fn copy_rewritten(&self, copy: ObjectCopy<'_>, source: Option<ObjectRecord>) -> Result<ObjectRecord, Error> {
        let (body, size, attrs, tags) = self.source_bytes(copy.source_bucket, copy.source_key, source, &copy.conditions, copy.source_keys, None).await?;
        let ObjectCopy { bucket, key, attrs: new_attrs, tags: new_tags, tagging, owner, audit, terms, seal, .. } = copy;
        let record = ObjectRecord {
            retention: terms.retention,
            legal_hold: terms.legal_hold,
            acl: terms.acl,
            ..ObjectRecord::new(new_attrs.unwrap_or(attrs), new_tags.unwrap_or(tags), owner, now_ns())
        };
        self.put(NewObject {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            precondition: Precondition::None,
            record,
            tagging: tagging.map(str::to_owned),
            incoming: Incoming { body: Some(body), length: Some(size), check: BodyCheck::expecting(Expected::default())? },
            audit,
            seal: seal.map(sealed::Seal::new_key).transpose()?,
        })
        .await
    }

    /// The record of a copy's source the index has none of: none for bytes stored in the
    /// clear; for bytes the store marks sealed (stored encrypted through another instance
    /// of a cluster) the record that instance shared, checked against the copy's
    /// conditions, and without one, a refusal: a copy made by the store would be that
    /// ciphertext, served as the object.
    async fn unrecorded_source(
        &self,
        bucket: &str,
        key: &str,
        conditions: &ReadConditions<'_>,
        shared: Option<ObjectRecord>,
    ) -> Result<Option<ObjectRecord>, Error> {
        let Some(at) = self.at_key(bucket)? else { return Ok(None) };
        // Asked without the conditions: the store would judge them by the ETag of what it
        // holds, a sealed object's ciphertext's. Bytes in the clear have theirs judged by
        // the store's copy; sealed ones by their shared record.
        let request = ReadRequest::whole();
        let head = at.read(bucket, key, &request, false).await?;
        match (sealed::refuse_sealed_elsewhere(&head.read), shared) {
            (Ok(()), _) => Ok(None),
            (Err(_), Some(shared)) => super::reads::copy_source(shared, conditions).map(Some),
            (Err(e), None) => Err(e),
        }
    }

    /// The plaintext of a copy's source (its `range` of it, `x-amz-copy-source-range`),
    /// with its length, attributes and tags: from the index's record (opened if sealed),
    /// or from the store for an object at the key the gateway did not write.
    async fn source_bytes(
        &self,
        bucket: &str,
        key: &str,
        source: Option<ObjectRecord>,
        conditions: &ReadConditions<'_>,
        keys: &dyn sealed::OpenKey,
        range: Option<&str>,
    ) -> Result<(StreamingBlob, u64, crate::meta::ObjectAttrs, Vec<(String, String)>), Error> {
        let Some(rec) = source else {
            let at = self.at_key(bucket)?.ok_or(Error::NoSuchKey)?;
            let request = ReadRequest { conditions: *conditions, range: None, part_number: None, checksum_mode: None, keys: None };
            let read =
                at.read(bucket, key, &request, true).await.map_err(|e| if matches!(e, Error::NotModified(_)) { Error::PreconditionFailed } else { e })?;
            let size = read.read.content_length.and_then(|l| u64::try_from(l).ok()).unwrap_or(0);
            let range = super::s3util::copy_range(range, size)?;
            let body = read.body.ok_or(Error::NoSuchKey)?;
            let tags = at.tags(bucket, key).await?;
            return Ok((StreamingBlob::wrap(sealed::slice(body, range.clone())), range.end - range.start, read.read.attrs, tags));
        };
        let rec = super::reads::copy_source(rec, conditions)?;
        let range = super::s3util::copy_range(range, rec.size)?;
        let len = range.end - range.start;
        let body = match &rec.sealing {
            Some(sealing) => sealed::open_sealed(Arc::clone(&self.engine), bucket, key, &rec, &keys.open(sealing)?, range).await?,
            None => self.engine.open(bucket, key, &rec, range).await?,
        };
        Ok((StreamingBlob::wrap(body), len, rec.attrs, rec.tags))
    }

    /// Starts a multipart upload in storage (at the key, or as a blob of the engine's
    /// naming, which it notes in `upload`); returns its id (the S3 layer records it).
    pub async fn start_upload(&self, upload: &mut UploadRecord, tagging: Option<&str>) -> Result<String, Error> {
        let at_key = self.at_key(&upload.bucket)?.is_some();
        self.engine.start_upload(upload, tagging, at_key).await
    }

    /// Stores a part and records it; returns its record.
    pub async fn upload_part(&self, part: NewPart<'_>) -> Result<PartRecord, Error> {
        let NewPart { upload, upload_id, number, incoming, audit, key } = part;
        let (incoming, sealed) = match (&upload.sealing, &key) {
            (Some(sealing), Some(key)) => {
                let part = u16::try_from(number).map_err(|_| Error::InvalidArgument("Part number must be an integer between 1 and 10000, inclusive".into()))?;
                let (incoming, outcome) = sealed::seal_incoming(incoming, key, sealing, part)?;
                (incoming, Some(outcome))
            }
            (Some(_), None) => return Err(Error::InvalidRequest(super::reads::SEALED_NEEDS_KEY.into())),
            (None, _) => (incoming, None),
        };
        let written = self.engine.write_part(upload, upload_id, number, incoming).await.map_err(|e| match &sealed {
            Some(outcome) => sealed::sealed_error(outcome, e),
            None => e,
        });
        let stored = match written {
            Ok(mut stored) => {
                // A sealed part gets its plaintext's length, ETag and checksums; what the
                // store gave its ciphertext is kept for the completion.
                if let (Some(outcome), Some(sealing)) = (&sealed, &upload.sealing) {
                    let body = outcome.plaintext().ok_or_else(|| Error::Unavailable("the engine stored a part it had not read whole".into()))?;
                    let etag = sealed::sealed_etag(sealing, &body.digests.md5_hex());
                    (stored.stored_size, stored.size) = (stored.size, body.size);
                    stored.stored_etag = std::mem::replace(&mut stored.etag, etag);
                    stored.checksums = body.digests.checksums;
                }
                stored
            }
            // The upload may have been completed or aborted while the part streamed, and the
            // store failed the part for it (moto answers 500). A completion in flight holds
            // the upload's turn until it is recorded.
            Err(e) if e.class() != ErrorClass::Client => {
                drop(self.uploads.lock(upload_id.to_owned()).await);
                if self.index().store.upload_get(upload_id)?.is_none() {
                    tracing::info!(error = %e, "a part's upload went away while it streamed");
                    return Err(Error::NoSuchUpload);
                }
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        self.record_part(upload_id, stored, audit).await
    }

    /// Copies a range of an object into a part and records it; returns its record.
    pub async fn upload_part_copy(&self, mut part: PartCopy<'_>) -> Result<PartRecord, Error> {
        let source = self.copy_source(part.source_bucket, part.source_key, part.source_version, &part.conditions)?;
        let source = match source {
            Some(source) => Some(source),
            None => self.unrecorded_source(part.source_bucket, part.source_key, &part.conditions, part.shared_source.take()).await?,
        };
        if part.upload.sealing.is_some() || source.as_ref().is_some_and(|s| s.sealing.is_some()) {
            // Sealed bytes on either side: the range is read in plaintext and sealed as a part.
            let (body, size, _, _) = self.source_bytes(part.source_bucket, part.source_key, source, &part.conditions, part.source_keys, part.range).await?;
            let PartCopy { upload, upload_id, number, audit, key, .. } = part;
            let incoming = Incoming { body: Some(body), length: Some(size), check: BodyCheck::expecting(Expected::default())? };
            return self.upload_part(NewPart { upload, upload_id, number, incoming, audit, key }).await;
        }
        let stored = self.engine.copy_part(&part, source.as_ref()).await?;
        self.record_part(part.upload_id, stored, part.audit).await
    }

    /// Records a stored part, releasing the part of its number it replaces (or its own bytes
    /// if the upload went away meanwhile). In the upload's turn: a part is recorded either
    /// before a completion reads the parts or after it committed, never in between, else
    /// the completion could make an object of a part whose bytes were just released.
    async fn record_part(&self, upload_id: &str, part: PartRecord, audit: AuditEntry) -> Result<PartRecord, Error> {
        let audit = AuditEntry { bytes: part.size, ..audit };
        let recorded = {
            let _turn = self.uploads.lock(upload_id.to_owned()).await;
            self.index().store.part_put(upload_id, &part, Some(&audit))
        };
        match recorded {
            Ok(old) => {
                self.index().sync().await?;
                if let Some(old) = old {
                    self.engine.release_parts(&[&old]);
                }
                Ok(part)
            }
            Err(e) => {
                self.engine.release_parts(&[&part]);
                Err(e.into())
            }
        }
    }

    /// Assembles the chosen parts into the object and commits it. `NoSuchUpload` if the
    /// upload is gone (completed meanwhile, or aborted).
    pub async fn complete(&self, completion: UploadCompletion<'_>) -> Result<ObjectRecord, Error> {
        let UploadCompletion { bucket, key, upload_id, requested, declared, precondition, audit, data_key } = completion;
        let _upload_turn = self.uploads.lock(upload_id.to_owned()).await;
        let index = self.index();
        let up = index.upload(bucket, key, upload_id)?;
        // Where the upload went decides where the object is, whatever the bucket became since.
        let at_key = if up.location.is_empty() { self.at_key(bucket)? } else { None };
        let _turn = self.turn(at_key.is_some(), bucket, key).await;
        let stored = index.store.part_list(upload_id)?;
        let plan = plan_completion(&up, requested, &stored, declared)?;
        // Checked before the parts are composed (for blobs again at commit, atomically).
        precondition.check(index.store.object_get(bucket, key)?.as_ref())?;
        let precondition = if at_key.is_some() { Precondition::None } else { precondition };
        let (composed, stored_etag) = match &up.sealing {
            None => (self.engine.compose(&up, upload_id, &plan.chosen, plan.size).await?, String::new()),
            Some(_) => {
                // The engine composes the parts' ciphertext; the object's ETag is made of
                // the parts' ETags the client was given, as S3 makes it.
                let stored: Vec<PartRecord> = plan.chosen.iter().map(|p| p.as_stored()).collect();
                let stored_size = stored.iter().map(|p| p.size).sum();
                let composed = self.engine.compose(&up, upload_id, &stored.iter().collect::<Vec<_>>(), stored_size).await?;
                let stored_etag = if at_key.is_some() { composed.etag.clone() } else { String::new() };
                (Stored { etag: super::s3util::multipart_etag(&plan.chosen)?, ..composed }, stored_etag)
            }
        };
        // A local completion's blobs are its parts, which stay with the upload if refused.
        let owned = !composed.segments.iter().any(|s| plan.chosen.iter().any(|p| p.blob == s.blob));
        let record = ObjectRecord {
            size: composed.size,
            etag: composed.etag,
            last_modified_ns: now_ns(),
            segments: composed.segments,
            multipart: true,
            attrs: up.attrs,
            checksums: plan.checksums,
            tags: up.tags,
            owner: up.owner,
            sha256: composed.sha256,
            proof_id: String::new(),
            checksum_type: plan.checksum_type,
            parts: plan.parts,
            version_id: String::new(),
            retention: up.retention,
            legal_hold: up.legal_hold,
            acl: up.acl,
            sealing: up.sealing,
            stored_etag,
        };
        let record = match &record.sealing {
            Some(_) => self.plaintext_digest(bucket, key, record, data_key.as_ref()).await?,
            None => record,
        };
        let audit = AuditEntry { bytes: record.size, ..audit };
        let completes = Completes::Multipart { upload: upload_id, parts: &plan.digest };
        // A concurrent completion of this upload may have committed first: `NoSuchUpload`.
        let record = self.commit(at_key, bucket, key, record, owned, &precondition, completes, &audit).await?;
        // Parts uploaded but not named in the completion are discarded.
        let unused: Vec<&PartRecord> = stored.iter().filter(|p| !record.segments.iter().any(|s| s.blob == p.blob)).collect();
        self.engine.release_parts(&unused);
        Ok(record)
    }

    /// A sealed object's record, just composed, with its plaintext's length and SHA-256
    /// (read back and opened: the parts' digests do not compose into it).
    async fn plaintext_digest(&self, bucket: &str, key: &str, mut record: ObjectRecord, data_key: Option<&DataKey>) -> Result<ObjectRecord, Error> {
        record.size = record.parts.iter().map(|p| p.size).sum();
        let data_key = data_key.ok_or_else(|| Error::InvalidRequest(super::reads::SEALED_NEEDS_KEY.into()))?;
        let (_, sha256) =
            super::s3util::sha256_of(sealed::open_sealed(Arc::clone(&self.engine), bucket, key, &record, data_key, 0..record.size).await?).await?;
        record.sha256 = sha256;
        Ok(record)
    }

    /// Removes an upload from storage and from the index, then its parts' bytes.
    pub async fn abort(&self, upload: &UploadRecord, upload_id: &str, audit: &AuditEntry) -> Result<(), Error> {
        self.engine.abort_upload(upload, upload_id).await?;
        let parts = self.index().store.upload_delete(upload_id, Some(audit))?;
        self.index().sync().await?;
        self.engine.release_parts(&parts.iter().collect::<Vec<_>>());
        Ok(())
    }

    /// Aborts an abandoned multipart upload (a background job's; audited as the gateway).
    pub async fn expire_upload(&self, upload_id: &str) -> Result<(), Error> {
        let Some(upload) = self.index().store.upload_get(upload_id)? else {
            return Ok(());
        };
        let gateway = crate::auth::Principal::Gateway;
        let audit =
            crate::audit::entry_for(&gateway, None, crate::audit::GatewayOp::ExpireMultipartUpload, &upload.bucket, &upload.key, crate::audit::Outcome::Ok, 0);
        self.abort(&upload, upload_id, &audit).await
    }
}

/// The record of stored bytes: `record` (what the request decided) with what the bytes
/// decided.
fn stored_record(stored: Stored, record: ObjectRecord) -> ObjectRecord {
    ObjectRecord {
        size: stored.size,
        etag: stored.etag,
        last_modified_ns: now_ns(),
        segments: stored.segments,
        checksums: stored.checksums,
        sha256: stored.sha256,
        ..record
    }
}

/// `record` of an object a store at its key holds, which gave it `etag`: a sealed object's
/// ETag is its plaintext's, the store's kept beside it.
fn with_stored_etag(record: ObjectRecord, etag: String) -> ObjectRecord {
    match record.sealing {
        Some(_) => ObjectRecord { stored_etag: etag, ..record },
        None => ObjectRecord { etag, ..record },
    }
}

/// `record` of a sealed object with what its plaintext decided: its size, digests and ETag.
fn plaintext_record(record: &mut ObjectRecord, body: Received) {
    record.size = body.size;
    record.etag = record.sealing.as_ref().map_or_else(|| body.digests.md5_hex(), |s| sealed::sealed_etag(s, &body.digests.md5_hex()));
    record.checksums = body.digests.checksums;
    record.sha256 = body.digests.sha256;
}

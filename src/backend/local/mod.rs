//! The local-disk backend: blobs as files under the data directory ([`blobs`]), the
//! object index in the metadata store. A write becomes visible only when complete:
//! bytes written and synced to `tmp/`, moved into `blobs/`, then one metadata
//! transaction (conditional checks, index entry, usage) makes it visible.
//!
//! One file per operation group: [`object`], [`multipart`]. The object layer
//! ([`crate::backend::Objects`]) commits what this engine stores.

mod blobs;
mod multipart;
mod object;
mod relocate;

pub use blobs::BlobStore;

use crate::backend::index::Index;
use crate::backend::scrub::ByteStream;
use crate::backend::{BlobWrite, Engine, Error, Incoming, Keeping, ObjectCopy, PartCopy, Stored, Verified};
use crate::meta::{ObjectRecord, PartRecord, Store, UploadRecord};
use crate::proof::Prover;
use crate::proof::hashing::BodyDigests;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use s3s::dto::StreamingBlob;

/// Settings of the local backend.
#[derive(Debug, Clone)]
pub struct LocalOptions {
    /// Sync blobs and the metadata log to disk before acknowledging a write.
    pub fsync: bool,
    /// Largest object (or part) accepted, in bytes.
    pub max_object_size: u64,
    /// How long a request body may stall before the request fails.
    pub body_idle_timeout: Duration,
}

/// The engine keeping object bytes as blob files on local disk.
pub struct LocalBackend {
    index: Index,
    blobs: BlobStore,
    opts: LocalOptions,
}

/// The backend answers index lookups itself (`self.bucket(..)`, `self.store`).
impl std::ops::Deref for LocalBackend {
    type Target = Index;
    fn deref(&self) -> &Index {
        &self.index
    }
}

impl LocalBackend {
    /// Opens the backend and removes blobs no index entry references: nothing is in
    /// flight yet, so they are orphans of a crash.
    pub fn open(data_dir: &Path, store: Arc<dyn Store>, opts: LocalOptions, prover: Option<Arc<Prover>>) -> Result<Self, Error> {
        let index = Index { store, prover, fsync: opts.fsync };
        let backend = Self { blobs: BlobStore::open(data_dir, opts.fsync, opts.body_idle_timeout)?, index, opts };
        backend.remove_orphan_blobs(Duration::ZERO)?;
        Ok(backend)
    }

    /// Removes blobs older than `min_age` that nothing references; returns how many.
    fn remove_orphan_blobs(&self, min_age: Duration) -> Result<u64, Error> {
        let referenced = self.store.referenced_blobs()?;
        let orphans: Vec<String> = self.blobs.list()?.into_iter().filter(|(id, age)| !referenced.contains(id) && *age >= min_age).map(|(id, _)| id).collect();
        for id in &orphans {
            tracing::warn!(blob = %id, "removing a blob no index entry references");
        }
        self.blobs.remove_now(orphans.iter().map(String::as_str))?;
        Ok(orphans.len() as u64)
    }

    /// Removes index entries of `buckets` older than `min_age` whose blobs are gone from
    /// disk (the object then answers 404 instead of failing every read; its manifests stay).
    async fn remove_orphan_entries(&self, buckets: &[String], min_age: Duration, report: &mut crate::backend::ReconcileReport) -> Result<(), Error> {
        let newest_ns = crate::audit::now_ns() - i128::try_from(min_age.as_nanos()).unwrap_or(i128::MAX);
        let now = crate::audit::now_ns();
        for bucket in buckets {
            // In a versioned bucket every version has blobs of its own, the current one among them.
            let entries: Vec<(String, ObjectRecord)> = if self.bucket(bucket)?.versioning.is_unversioned() {
                self.store.object_scan(bucket, "", None).collect::<Result<_, _>>()?
            } else {
                let versions: Vec<_> = self.store.version_scan(bucket, "", None).collect::<Result<_, _>>()?;
                versions.into_iter().filter_map(|(key, v)| v.object.map(|o| (key, o))).collect()
            };
            for (key, rec) in entries {
                if rec.segments.is_empty() && rec.size > 0 {
                    report.held_elsewhere += 1;
                    continue;
                }
                if rec.last_modified_ns > newest_ns {
                    continue;
                }
                let mut missing = None;
                for seg in &rec.segments {
                    if self.blobs.size_of(&seg.blob).await?.is_none() {
                        missing = Some(seg.blob.clone());
                        break;
                    }
                }
                let Some(blob) = missing else { continue };
                if rec.lock_refusal(now, false).is_some() {
                    tracing::error!(bucket = %bucket, key = %key, version = %rec.version_id, blob = %blob, "a locked version's blob is missing; its entry is kept");
                    report.locked_kept += 1;
                    continue;
                }
                if self.index.remove_orphan(bucket, &key, &rec).await? {
                    tracing::error!(bucket = %bucket, key = %key, blob = %blob, proof_id = %rec.proof_id, "removed an index entry whose blob is missing");
                    report.orphan_entries += 1;
                }
            }
        }
        Ok(())
    }

    /// Streams a request body into a new blob, verifying `Content-MD5` and any
    /// `x-amz-checksum-*` given in headers or trailers. On any mismatch nothing is kept.
    async fn ingest(&self, incoming: Incoming) -> Result<(blobs::PendingBlob, BodyDigests), Error> {
        let body = incoming.body.unwrap_or_else(|| StreamingBlob::wrap(futures::stream::empty::<Result<bytes::Bytes, std::io::Error>>()));
        let (pending, hasher) = self.blobs.write(body, incoming.check.hasher(), self.opts.max_object_size).await?;
        let digests = hasher.finish();
        incoming.check.verify(&digests)?;
        Ok((pending, digests))
    }
}

#[async_trait::async_trait]
impl Engine for LocalBackend {
    fn index(&self) -> &Index {
        &self.index
    }

    fn keeping(&self) -> Keeping<'_> {
        Keeping::Blobs
    }

    async fn ready(&self) -> Result<(), crate::backend::NotReady> {
        self.store.bucket_list().map_err(crate::backend::NotReady::LocalMetadata)?;
        self.blobs.probe_write().await.map_err(crate::backend::NotReady::LocalDisk)
    }

    async fn write(&self, _target: &BlobWrite<'_>, incoming: Incoming, _verified: Verified) -> Result<Stored, Error> {
        object::write(self, incoming).await
    }

    async fn open(&self, _bucket: &str, _key: &str, record: &ObjectRecord, range: std::ops::Range<u64>) -> Result<ByteStream, Error> {
        Ok(Box::pin(self.blobs.read(&record.segments, range)))
    }

    async fn copy(&self, _copy: &ObjectCopy<'_>, source: Option<&ObjectRecord>, _at_key: bool) -> Result<ObjectRecord, Error> {
        object::copy(self, source.ok_or(Error::NoSuchKey)?).await
    }

    async fn release(&self, _bucket: &str, _key: &str, object: &ObjectRecord) {
        self.blobs.remove(object.segments.iter().map(|s| s.blob.as_str()));
    }

    fn release_parts(&self, parts: &[&PartRecord]) {
        self.blobs.remove(parts.iter().map(|p| p.blob.as_str()));
    }

    async fn start_upload(&self, _upload: &mut UploadRecord, _tagging: Option<&str>, _at_key: bool) -> Result<String, Error> {
        // Parts are blobs of their own wherever the object goes: the upload has no place.
        Ok(blobs::new_id())
    }

    async fn write_part(&self, _upload: &UploadRecord, _upload_id: &str, number: u32, incoming: Incoming) -> Result<PartRecord, Error> {
        multipart::write_part(self, number, incoming).await
    }

    async fn copy_part(&self, part: &PartCopy<'_>, source: Option<&ObjectRecord>) -> Result<PartRecord, Error> {
        multipart::copy_part(self, part, source.ok_or(Error::NoSuchKey)?).await
    }

    async fn compose(&self, _upload: &UploadRecord, _upload_id: &str, chosen: &[&PartRecord], size: u64) -> Result<Stored, Error> {
        multipart::compose(self, chosen, size).await
    }

    async fn reconcile(&self, buckets: &[String], min_age: Duration) -> Result<crate::backend::ReconcileReport, Error> {
        let mut report = crate::backend::ReconcileReport { orphan_blobs: self.remove_orphan_blobs(min_age)?, ..Default::default() };
        self.remove_orphan_entries(buckets, min_age, &mut report).await?;
        Ok(report)
    }
}

//! The upstream backend: object bytes live in another S3 service (AWS S3, Ceph RGW, MinIO,
//! Garage, moto, another tollgate), reached with the gateway's own credentials. Requests
//! are rebuilt and re-signed ([`client`]), bodies stream both ways and are hashed once on
//! the way ([`body`]), answers are parsed with quick-xml ([`xml`]).
//!
//! The gateway keeps its [`Index`] as for the local backend: buckets belong to tenants,
//! and every object written through the gateway has a record (size, ETag, SHA-256, proof
//! id, checksums, tags) that drives usage, quotas, proofs and topic rules. The upstream is
//! the truth for bytes, attributes and listings: reads and listings are forwarded, so
//! objects written by another gateway instance sharing the upstream are seen too. It
//! stores at the key ([`crate::backend::AtKey`]): the object layer gives writes to one key
//! turns, so conditional writes (`If-Match`, `If-None-Match: *`) hold even against an
//! upstream that ignores them.
//!
//! One file per operation group: [`bucket`], [`object`], [`list`], [`multipart`].
//! The gateway ([`crate::s3`]) decides everything S3-level; this engine moves bytes.

mod body;
mod bucket;
pub mod client;
mod control;
mod list;
mod members;
mod mirror;
mod mirror_log;
mod multipart;
mod object;
mod relocate;
mod spool;
mod xml;

use crate::backend::engine::SharedPageAt;
use crate::backend::index::Index;
use crate::backend::listing::Page;
use crate::backend::s3util::ReadRequest;
use crate::backend::scrub::ByteStream;
use crate::backend::{AtKey, BlobWrite, Engine, Error, Incoming, Keeping, NotReady, ObjectCopy, PartCopy, Readout, Stored, Verified};
use crate::meta::{BucketRecord, ObjectRecord, PartRecord, Precondition, Store, UploadRecord};
use crate::proof::Prover;

use client::{Call, Client, ClientOptions};
pub use members::{GONE_AFTER, Member, Presence};
pub use mirror::{MirrorReport, MirrorTarget, RestoreReport};

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::Method;

/// Where gateway buckets live upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mapping {
    /// Each gateway bucket is the upstream bucket `{prefix}{bucket}`.
    Buckets {
        /// Put before each gateway bucket's name (may be empty).
        prefix: String,
    },
    /// Every gateway bucket is the prefix `{tenant}/{bucket}/` of this upstream bucket
    /// (`tenant`: the one that created it). Keys are then shorter than 1024 bytes by the
    /// length of that prefix.
    Prefix {
        /// The one upstream bucket holding every gateway bucket.
        bucket: String,
    },
}

/// Settings of the upstream backend.
pub struct UpstreamOptions {
    /// How to reach and sign for the upstream.
    pub client: ClientOptions,
    /// Where gateway buckets live upstream.
    pub mapping: Mapping,
    /// Largest object (or part) accepted, in bytes.
    pub max_object_size: u64,
    /// How long a client's request body may stall before the request fails.
    pub body_idle_timeout: Duration,
    /// Sync the index before acknowledging a write.
    pub fsync: bool,
    /// Where the gateway's metadata is mirrored, if anywhere.
    pub mirror: Option<MirrorTarget>,
    /// Where bodies of unknown length wait until their length is known (emptied at open).
    pub spool_dir: std::path::PathBuf,
}

/// The engine keeping object bytes in another S3 service.
pub struct UpstreamBackend {
    index: Index,
    client: Client,
    mapping: Mapping,
    max_object_size: u64,
    body_idle_timeout: Duration,
    /// How long the upstream may stay silent in the middle of a download.
    timeout: Duration,
    mirror: Option<MirrorTarget>,
    spool_dir: std::path::PathBuf,
}

/// The backend answers index lookups itself (`self.bucket(..)`, `self.store`).
impl std::ops::Deref for UpstreamBackend {
    type Target = Index;
    fn deref(&self) -> &Index {
        &self.index
    }
}

/// Where one gateway bucket's keys are upstream.
#[derive(Debug, Clone)]
struct Place {
    bucket: String,
    /// Prefix of every key (empty when buckets map one to one).
    root: String,
}

impl Place {
    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.root)
    }

    /// Where a blob of the engine's naming is (a version of a versioned bucket), under the
    /// bucket's reserved segment, which no client key can name.
    fn blob(&self, blob: &str) -> String {
        format!("{}{}/versions/{blob}", self.root, crate::names::RESERVED_SEGMENT)
    }

    /// Where an upload is assembled: its blob, or the key.
    fn of_upload(&self, upload: &UploadRecord) -> String {
        if upload.location.is_empty() { self.key(&upload.key) } else { self.blob(&upload.location) }
    }
}

impl UpstreamBackend {
    /// Opens the engine: its client (which connects on first use), and the spool directory
    /// emptied of bodies a crash left. `Unavailable` if the endpoint has no scheme, or no
    /// TLS roots for HTTPS.
    pub fn open(store: Arc<dyn Store>, prover: Option<Arc<Prover>>, opts: UpstreamOptions) -> Result<Self, Error> {
        let timeout = opts.client.timeout;
        let client = Client::new(opts.client).map_err(|e| Error::Unavailable(e.to_string()))?;
        spool::reset(&opts.spool_dir)?;
        Ok(Self {
            index: Index { store, prover, fsync: opts.fsync },
            client,
            mapping: opts.mapping,
            max_object_size: opts.max_object_size,
            body_idle_timeout: opts.body_idle_timeout,
            timeout,
            mirror: opts.mirror,
            spool_dir: opts.spool_dir,
        })
    }

    fn place_of(&self, rec: &BucketRecord) -> Place {
        match &self.mapping {
            Mapping::Buckets { prefix } => Place { bucket: format!("{prefix}{}", rec.name), root: String::new() },
            Mapping::Prefix { bucket } => {
                // The creating tenant, not the current owner: a change of owner moves no bytes.
                let tenant = if rec.origin.is_empty() { &rec.tenant } else { &rec.origin };
                Place { bucket: bucket.clone(), root: format!("{tenant}/{}/", rec.name) }
            }
        }
    }

    /// Where a gateway bucket is upstream (`NoSuchBucket` if the gateway has no such bucket).
    fn place(&self, bucket: &str) -> Result<Place, Error> {
        Ok(self.place_of(&self.bucket(bucket)?))
    }

    /// Where the bytes of `key`'s version `record` are: in a versioned bucket, the blob its
    /// record names (none: at the key, an object from before versioning); else at the key,
    /// whatever segments the record names (a migration's, from local disk).
    fn locate(&self, bucket: &str, key: &str, record: &ObjectRecord) -> Result<(Place, String), Error> {
        let rec = self.bucket(bucket)?;
        let place = self.place_of(&rec);
        let at = match record.segments.first() {
            Some(segment) if !rec.versioning.is_unversioned() => place.blob(&segment.blob),
            _ => place.key(key),
        };
        Ok((place, at))
    }

    /// Sends a body-less request and returns the successful answer or the upstream's error.
    async fn call(&self, call: Call) -> Result<http::Response<hyper::body::Incoming>, Error> {
        let resp = self.client.send(&call, Bytes::new()).await?;
        self.client.ok(resp).await
    }
}

#[async_trait::async_trait]
impl Engine for UpstreamBackend {
    fn index(&self) -> &Index {
        &self.index
    }

    fn keeping(&self) -> Keeping<'_> {
        Keeping::AtKey(self)
    }

    async fn ready(&self) -> Result<(), NotReady> {
        self.store.bucket_list().map_err(NotReady::UpstreamMetadata)?;
        let probe = match &self.mapping {
            Mapping::Prefix { bucket } => Call::new(Method::HEAD, bucket, ""),
            Mapping::Buckets { .. } => Call::new(Method::GET, "", ""),
        };
        // Any answer below 500 (even a refusal) shows the upstream is there and serving.
        match self.client.send(&probe, Bytes::new()).await {
            Ok(resp) if !resp.status().is_server_error() => Ok(()),
            Ok(resp) => Err(NotReady::UpstreamStatus(resp.status())),
            Err(e) => Err(NotReady::Upstream(e)),
        }
    }

    async fn create_bucket(&self, name: &str) -> Result<(), Error> {
        bucket::ensure_upstream_bucket(self, name).await
    }

    async fn remove_bucket(&self, rec: &BucketRecord) -> Result<(), Error> {
        bucket::remove(self, rec).await
    }

    async fn write(&self, target: &BlobWrite<'_>, incoming: Incoming, verified: Verified) -> Result<Stored, Error> {
        object::write(self, target, incoming, verified).await
    }

    async fn open(&self, bucket: &str, key: &str, record: &ObjectRecord, range: std::ops::Range<u64>) -> Result<ByteStream, Error> {
        let (place, at) = self.locate(bucket, key, record)?;
        // A sealed object at its key is read only while it is the one its record describes:
        // an instance of a cluster (or a writer past the gateway) may have replaced it.
        let etag = Some(record.stored_etag.as_str()).filter(|e| !e.is_empty());
        object::download_if(self, &place.bucket, &at, (range != (0..record.size)).then_some(range), etag).await
    }

    async fn copy(&self, copy: &ObjectCopy<'_>, source: Option<&ObjectRecord>, at_key: bool) -> Result<ObjectRecord, Error> {
        object::copy(self, copy, source, at_key).await
    }

    async fn release(&self, bucket: &str, key: &str, object: &ObjectRecord) {
        let Ok((place, at)) = self.locate(bucket, key, object) else { return };
        if let Err(e) = self.call(Call::new(Method::DELETE, &place.bucket, &at)).await {
            tracing::warn!(bucket = %place.bucket, key = %at, error = %e, "could not remove an object no version references");
        }
    }

    fn release_parts(&self, _parts: &[&PartRecord]) {
        // Parts live in their upstream upload, which its completion or abort ends.
    }

    async fn start_upload(&self, upload: &mut UploadRecord, tagging: Option<&str>, at_key: bool) -> Result<String, Error> {
        if !at_key {
            upload.location = crate::backend::s3util::new_blob_id();
        }
        multipart::start(self, upload, tagging).await
    }

    async fn write_part(&self, upload: &UploadRecord, upload_id: &str, number: u32, incoming: Incoming) -> Result<PartRecord, Error> {
        multipart::write_part(self, upload, upload_id, number, incoming).await
    }

    async fn copy_part(&self, part: &PartCopy<'_>, source: Option<&ObjectRecord>) -> Result<PartRecord, Error> {
        multipart::copy_part(self, part, source).await
    }

    async fn compose(&self, upload: &UploadRecord, upload_id: &str, chosen: &[&PartRecord], size: u64) -> Result<Stored, Error> {
        multipart::compose(self, upload, upload_id, chosen, size).await
    }

    async fn abort_upload(&self, upload: &UploadRecord, upload_id: &str) -> Result<(), Error> {
        multipart::abort(self, upload, upload_id).await
    }

    async fn reconcile(&self, buckets: &[String], min_age: std::time::Duration) -> Result<crate::backend::ReconcileReport, Error> {
        list::reconcile(self, buckets, min_age).await
    }

    async fn holds_pending(&self, write: &crate::meta::PendingWrite) -> Result<Option<String>, Error> {
        object::holds_pending(self, write).await
    }

    async fn mirror_metadata(&self, settled_only: bool) -> Result<Option<MirrorReport>, Error> {
        match &self.mirror {
            Some(t) => self.mirror(t, settled_only).await.map(Some),
            None => Ok(None),
        }
    }

    async fn restore_metadata(&self) -> Result<RestoreReport, Error> {
        match &self.mirror {
            Some(t) => self.restore(t).await,
            None => Err(Error::InvalidRequest("no upstream.meta_bucket is configured: nothing to rebuild from".into())),
        }
    }

    async fn heartbeat(&self, beat: &Member) -> Result<bool, Error> {
        match &self.mirror {
            Some(t) => self.write_heartbeat(t, beat).await.map(|()| true),
            None => Ok(false),
        }
    }

    async fn members(&self) -> Result<Option<Vec<Member>>, Error> {
        match &self.mirror {
            Some(t) => self.read_heartbeats(t).await.map(Some),
            None => Ok(None),
        }
    }

    async fn control_append(&self, seq: u64, entry: bytes::Bytes) -> Result<Option<bool>, Error> {
        match &self.mirror {
            Some(t) => self.append_control(t, seq, entry).await.map(Some),
            None => Ok(None),
        }
    }

    async fn control_read(&self, after: u64, max: usize) -> Result<Option<Vec<(u64, bytes::Bytes)>>, Error> {
        match &self.mirror {
            Some(t) => self.read_control(t, after, max).await.map(Some),
            None => Ok(None),
        }
    }

    async fn shared_put(&self, path: &str, body: bytes::Bytes) -> Result<(), Error> {
        self.put_shared(self.shared_target()?, path, body).await
    }

    async fn shared_get(&self, path: &str) -> Result<Option<bytes::Bytes>, Error> {
        self.get_meta(self.shared_target()?, path).await
    }

    async fn shared_list(&self, prefix: &str) -> Result<Vec<String>, Error> {
        self.list_meta(&self.shared_target()?.bucket, prefix).await
    }

    async fn shared_page(&self, at: &SharedPageAt<'_>) -> Result<(Vec<(String, String)>, Option<String>), Error> {
        self.list_meta_page(&self.shared_target()?.bucket, at).await
    }

    async fn shared_folders(&self, prefix: &str) -> Result<Vec<String>, Error> {
        self.list_meta_folders(&self.shared_target()?.bucket, prefix).await
    }

    async fn shared_delete(&self, paths: &[String]) -> Result<(), Error> {
        self.delete_shared(self.shared_target()?, paths).await
    }
}

#[async_trait::async_trait]
impl AtKey for UpstreamBackend {
    async fn page(&self, bucket: &str, prefix: &str, delimiter: Option<&str>, after: Option<&str>, max: usize) -> Result<Page, Error> {
        self.list_page(bucket, prefix, delimiter, after, max).await
    }

    async fn read(&self, bucket: &str, key: &str, request: &ReadRequest<'_>, with_body: bool) -> Result<Readout, Error> {
        object::read(self, bucket, key, request, with_body).await
    }

    async fn attributes(&self, bucket: &str, key: &str) -> Result<ObjectRecord, Error> {
        object::attributes(self, bucket, key).await
    }

    async fn tags(&self, bucket: &str, key: &str) -> Result<Vec<(String, String)>, Error> {
        object::tags(self, bucket, key).await
    }

    async fn set_tags(&self, bucket: &str, key: &str, tags: &[(String, String)]) -> Result<(), Error> {
        object::set_tags(self, bucket, key, tags).await
    }

    async fn remove(&self, bucket: &str, key: &str, precondition: &Precondition) -> Result<(), Error> {
        object::remove(self, bucket, key, precondition).await
    }
}

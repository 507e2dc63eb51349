//! `tollgate migrate`: moves buckets from one backend to the other (local disk, the
//! configured upstream): every object of the index is copied (in a versioned bucket every
//! version, locked ones included), several at a time, each streamed from source to
//! destination and verified on its way against its proof manifest (SHA-256) and recorded
//! digests, before the destination keeps it. The index stays the one record of what exists:
//! version ids, their order, delete markers, retention, legal holds and tags move with it.
//!
//! It runs with the gateway stopped (the metadata store admits one process). An object
//! the destination already holds whole is skipped, so an interrupted run resumes where it
//! stopped. When every object is copied, the metadata store records the destination as
//! the bucket's backend ([`Placement`]): `--bucket B` moves B alone (the gateway then
//! serves B from the destination and its other buckets as before); a run over every
//! bucket makes the destination the holding backend, and the gateway then refuses to
//! start configured with the old one.

use crate::backend::Relocation;
use crate::backend::placement::Placement;
use crate::backend::s3util::Expected;
use crate::config::{BackendKind, Config};
use crate::meta::{ObjectRecord, Segment, SledStore, Store};
use crate::server;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::StreamExt;
use serde::Serialize;

/// What to migrate.
#[derive(Debug, Clone)]
pub struct Options {
    /// The backend holding the objects now.
    pub from: BackendKind,
    /// The backend to move them to.
    pub to: BackendKind,
    /// Only this bucket: it alone moves.
    pub bucket: Option<String>,
    /// Count what would be copied; write nothing.
    pub dry_run: bool,
    /// Objects copied at once.
    pub parallel: usize,
}

/// Counters a progress display reads while the migration runs.
#[derive(Debug, Default)]
pub struct Progress {
    /// Objects to migrate, known once the index is scanned.
    pub objects_total: AtomicU64,
    /// Their total size, in bytes.
    pub bytes_total: AtomicU64,
    /// Objects dealt with so far (copied, skipped or failed).
    pub objects_done: AtomicU64,
    /// Their size, in bytes.
    pub bytes_done: AtomicU64,
}

/// An object that could not be copied, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    /// The object's bucket.
    pub bucket: String,
    /// The object's key (or the key of a multipart upload in progress, which blocks the move).
    pub key: String,
    /// The version's id, in a versioned bucket.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub version_id: String,
    /// Why it was not copied, for a person to read.
    pub error: String,
}

/// The final report.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    /// Objects in the migrated buckets' index (in a versioned bucket, every version).
    pub objects: u64,
    /// Delete markers of the versioned buckets: no bytes to copy, kept in the index as they are.
    pub delete_markers: u64,
    /// Their total size, in bytes.
    pub bytes: u64,
    /// Copied (or, in a dry run, to be copied).
    pub copied: u64,
    /// Already held whole by the destination.
    pub skipped: u64,
    /// Not copied: each has a line in `failures`.
    pub failed: u64,
    /// Copied and found to match their proof manifest's SHA-256.
    pub verified: u64,
    /// Copied without a manifest to check against (written with proofs off).
    pub unverified: u64,
    /// What failed and why; non-empty blocks the switch to the destination.
    pub failures: Vec<Failure>,
    /// Whether the destination now holds the migrated buckets (after a run over every
    /// bucket, the gateway must be configured with `backend = "{to}"`).
    pub switched: bool,
}

/// Why a migration could not run at all (one object's failure is a line of the [`Report`] instead).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The options do not fit the configuration or the data: same backend twice, no such
    /// bucket, the bucket held elsewhere, no upstream configured.
    #[error("{0}")]
    Invalid(String),
    /// The metadata store cannot be opened, most often because the gateway is running.
    #[error("cannot open the metadata store (stop the gateway first: it holds the store): {0}")]
    Store(crate::meta::Error),
    /// Reading the index (buckets, objects, uploads) failed.
    #[error("metadata: {0}")]
    Meta(#[from] crate::meta::Error),
    /// A backend could not be opened from the configuration.
    #[error("{0}")]
    Open(#[from] server::Error),
    /// Which backend holds which bucket cannot be read or recorded.
    #[error("{0}")]
    Placement(crate::backend::Error),
    /// The destination could not make ready a bucket to receive objects (such as creating it upstream).
    #[error("preparing bucket {bucket} on the {backend} backend: {source}")]
    Prepare {
        /// The bucket being moved.
        bucket: String,
        /// The destination backend's name.
        backend: &'static str,
        /// The destination's error.
        source: crate::backend::Error,
    },
}

/// Why one object was not migrated (a line of the report's failures).
#[derive(Debug, thiserror::Error)]
enum CopyError {
    #[error("checking the destination: {0}")]
    CheckDestination(crate::backend::Error),
    #[error("{0}")]
    Manifest(crate::meta::Error),
    #[error("the index's SHA-256 {index} is not its manifest's {manifest}")]
    ManifestMismatch { index: String, manifest: String },
    #[error("the manifest's SHA-256 {0:?} is not hex")]
    ManifestNotHex(String),
    #[error("reading the source: {0}")]
    ReadSource(crate::backend::Error),
    #[error("{0}")]
    WriteDestination(crate::backend::Error),
}

/// How one object went; a copied version may have new segments to name at the switch.
enum Copied {
    Skipped,
    Verified(Option<Vec<Segment>>),
    Unverified(Option<Vec<Segment>>),
}

/// Runs a migration of `config`'s data directory.
#[tracing::instrument(skip_all, fields(from = opts.from.name(), to = opts.to.name(), bucket = opts.bucket.as_deref().unwrap_or("*")))]
pub async fn run(config: &Config, opts: &Options, progress: &Progress) -> Result<Report, Error> {
    if opts.from == opts.to {
        return Err(Error::Invalid("--from and --to are the same backend".into()));
    }
    let store: Arc<dyn Store> =
        Arc::new(SledStore::open_with_cache(&config.data_dir.join("meta"), config.storage.metadata_cache_bytes()).map_err(Error::Store)?);
    let mut placement = Placement::load(store.as_ref(), opts.from).map_err(Error::Placement)?;
    let pending = store.pending_list()?;
    if !pending.is_empty() {
        // Finishing them needs the gateway's backends as they were.
        return Err(Error::Invalid(format!(
            "{} writes were in flight when the gateway last stopped: start it once (it finishes them), stop it, then migrate",
            pending.len()
        )));
    }
    let mut buckets = store.bucket_list()?;
    match &opts.bucket {
        Some(only) => {
            buckets.retain(|b| b.name == *only);
            if buckets.is_empty() {
                return Err(Error::Invalid(format!("no bucket {only}")));
            }
            let holder = placement.holder(only);
            if holder != opts.from {
                return Err(Error::Invalid(format!("bucket {only} is held by the {} backend, not {}", holder.name(), opts.from.name())));
            }
        }
        None => {
            if !placement.uses(opts.from) {
                return Err(Error::Invalid(format!("the {} backend holds no bucket", opts.from.name())));
            }
            buckets.retain(|b| placement.holder(&b.name) == opts.from);
        }
    }
    let source = relocation(config, opts.from, &store)?;
    let dest = relocation(config, opts.to, &store)?;
    // Every object, or in a versioned bucket every version (oldest first, so the copies go
    // in commit order); delete markers hold no bytes and stay in the index as they are.
    let mut objects: Vec<(String, String, ObjectRecord)> = Vec::new();
    let mut delete_markers = 0;
    for b in &buckets {
        if b.versioning.is_unversioned() {
            for entry in store.object_scan(&b.name, "", None) {
                let (key, rec) = entry?;
                objects.push((b.name.clone(), key, rec));
            }
            continue;
        }
        let mut versions = Vec::new();
        for entry in store.version_scan(&b.name, "", None) {
            let (key, version) = entry?;
            match version.object {
                Some(rec) => versions.push((b.name.clone(), key, rec)),
                None => delete_markers += 1,
            }
        }
        // The scan lists each key's versions newest first: copy them in commit order (the
        // index, untouched, keeps their ids and order whatever the order of the copies).
        versions.reverse();
        versions.sort_by(|a, b| a.1.cmp(&b.1));
        objects.extend(versions);
    }
    let mut report = Report { objects: objects.len() as u64, bytes: objects.iter().map(|(_, _, r)| r.size).sum(), delete_markers, ..Report::default() };
    // An upload in progress would be lost with its bucket's move: it blocks the switch.
    for b in &buckets {
        for (id, upload) in store.upload_list(&b.name)? {
            let error = format!("multipart upload {id} in progress: complete or abort it before moving the bucket");
            report.failed += 1;
            report.failures.push(Failure { bucket: b.name.clone(), key: upload.key, version_id: String::new(), error });
        }
    }
    progress.objects_total.store(report.objects, Ordering::Relaxed);
    progress.bytes_total.store(report.bytes, Ordering::Relaxed);
    if !opts.dry_run {
        for b in &buckets {
            dest.prepare(&b.name).await.map_err(|source| Error::Prepare { bucket: b.name.clone(), backend: opts.to.name(), source })?;
        }
    }
    let copies = futures::stream::iter(objects).map(|(bucket, key, rec)| {
        let (source, dest, store) = (&source, &dest, &store);
        async move {
            let result = copy_one(store.as_ref(), source.as_ref(), dest.as_ref(), &bucket, &key, &rec, opts.dry_run).await;
            progress.objects_done.fetch_add(1, Ordering::Relaxed);
            progress.bytes_done.fetch_add(rec.size, Ordering::Relaxed);
            (bucket, key, rec, result)
        }
    });
    let mut copies = copies.buffer_unordered(opts.parallel.max(1));
    // Versions whose record names their new segments at the switch (see `Relocation::write`).
    let mut renamed: Vec<(String, String, ObjectRecord, Vec<Segment>)> = Vec::new();
    while let Some((bucket, key, rec, result)) = copies.next().await {
        match result {
            Ok(Copied::Skipped) => report.skipped += 1,
            Ok(Copied::Verified(segments)) => {
                report.copied += 1;
                report.verified += 1;
                renamed.extend(segments.map(|s| (bucket, key, rec, s)));
            }
            Ok(Copied::Unverified(segments)) => {
                report.copied += 1;
                report.unverified += 1;
                renamed.extend(segments.map(|s| (bucket, key, rec, s)));
            }
            Err(error) => {
                tracing::error!(bucket = %bucket, key = %key, version = %rec.version_id, error = %error, "object not migrated");
                report.failed += 1;
                report.failures.push(Failure { bucket, key, version_id: rec.version_id, error: error.to_string() });
            }
        }
    }
    drop(copies);
    if !opts.dry_run {
        store.flush().await?;
        if report.failed == 0 {
            for (bucket, key, rec, segments) in renamed {
                let gateway = crate::auth::Principal::Gateway;
                let audit = crate::audit::entry_for(&gateway, None, crate::audit::GatewayOp::MigrateObject, &bucket, &key, crate::audit::Outcome::Ok, rec.size);
                // Unless the version changed since it was read (nothing writes meanwhile).
                let relocate = |current: &mut ObjectRecord| {
                    if *current != rec {
                        return Err(crate::meta::Error::PreconditionFailed);
                    }
                    current.segments.clone_from(&segments);
                    Ok(())
                };
                if let Err(e) = store
                    .version_update(&bucket, &key, Some(&rec.version_id), &relocate, Some(&audit))
                    .and_then(|found| if found { Ok(()) } else { Err(crate::meta::Error::Invalid("the version is gone".into())) })
                {
                    report.failed += 1;
                    report.failures.push(Failure { bucket, key, version_id: rec.version_id, error: format!("naming its new segments: {e}") });
                }
            }
            store.flush().await?;
        }
        if report.failed == 0 {
            match &opts.bucket {
                Some(bucket) => placement.place(bucket, opts.to),
                None => placement = Placement { holding: opts.to, moved: Default::default() },
            }
            placement.save(store.as_ref()).map_err(Error::Placement)?;
            store.flush().await?;
            report.switched = true;
        }
    }
    Ok(report)
}

/// Redraws a progress line on stderr (objects, bytes, rate, ETA) until dropped; on a
/// terminal in place every 250 ms, elsewhere one line every 10 s.
pub async fn show_progress(progress: &Progress) {
    use std::io::{IsTerminal, Write};
    let tty = std::io::stderr().is_terminal();
    let started = std::time::Instant::now();
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(if tty { 250 } else { 10_000 }));
    loop {
        tick.tick().await;
        let line = progress.line(started.elapsed());
        let mut err = std::io::stderr().lock();
        let _ = if tty { write!(err, "\r\x1b[2K{line}") } else { writeln!(err, "{line}") };
        let _ = err.flush();
    }
}

impl Progress {
    /// `[####----] 3/8 objects  1.0/4.0 MiB  2.0 MiB/s  ETA 2s`, after `elapsed`.
    #[must_use]
    pub fn line(&self, elapsed: std::time::Duration) -> String {
        let p = self;
        let (objects, objects_total) = (p.objects_done.load(Ordering::Relaxed), p.objects_total.load(Ordering::Relaxed));
        let (bytes, bytes_total) = (p.bytes_done.load(Ordering::Relaxed), p.bytes_total.load(Ordering::Relaxed));
        let rate = bytes as f64 / elapsed.as_secs_f64().max(0.001);
        let eta = if bytes == 0 { "?".to_owned() } else { format!("{:.0}s", bytes_total.saturating_sub(bytes) as f64 / rate) };
        let mib = |b: f64| b / f64::from(1 << 20);
        let width = 30usize;
        let filled = if bytes_total == 0 { width } else { (width as f64 * bytes as f64 / bytes_total as f64) as usize }.min(width);
        format!(
            "[{}{}] {objects}/{objects_total} objects  {:.1}/{:.1} MiB  {:.1} MiB/s  ETA {eta}",
            "#".repeat(filled),
            "-".repeat(width - filled),
            mib(bytes as f64),
            mib(bytes_total as f64),
            mib(rate)
        )
    }
}

fn relocation(config: &Config, kind: BackendKind, store: &Arc<dyn Store>) -> Result<Box<dyn Relocation>, Error> {
    Ok(match kind {
        BackendKind::Local => Box::new(server::local_backend(config, Arc::clone(store), None)?),
        BackendKind::Upstream => {
            if config.upstream.endpoint.is_empty() {
                return Err(Error::Invalid("no upstream configured: [upstream] in the config, or --upstream URL".into()));
            }
            Box::new(server::upstream_backend(config, Arc::clone(store), None)?)
        }
    })
}

/// Copies one object unless the destination holds it; verifies it against its manifest.
async fn copy_one(
    store: &dyn Store,
    source: &dyn Relocation,
    dest: &dyn Relocation,
    bucket: &str,
    key: &str,
    rec: &ObjectRecord,
    dry_run: bool,
) -> Result<Copied, CopyError> {
    if dest.holds(bucket, key, rec).await.map_err(CopyError::CheckDestination)? {
        return Ok(Copied::Skipped);
    }
    let manifest = if rec.proof_id.is_empty() { None } else { store.proof_get(&rec.proof_id).map_err(CopyError::Manifest)? };
    if let Some(m) = &manifest
        && m.sha256 != rec.sha256
    {
        return Err(CopyError::ManifestMismatch { index: rec.sha256.clone(), manifest: m.sha256.clone() });
    }
    // Sealed bytes move as they are, not hashed against the manifest (of the plaintext).
    let verified = manifest.is_some() && rec.sealing.is_none();
    if dry_run {
        return Ok(if verified { Copied::Verified(None) } else { Copied::Unverified(None) });
    }
    let expect = expectation(rec, manifest.as_ref().map(|m| m.sha256.as_str()))?;
    let body = source.read(bucket, key, rec).await.map_err(CopyError::ReadSource)?;
    let renamed = dest.write(bucket, key, rec, body, expect).await.map_err(CopyError::WriteDestination)?;
    Ok(if verified { Copied::Verified(renamed) } else { Copied::Unverified(renamed) })
}

/// What the copied bytes must hash to: the manifest's SHA-256, the recorded checksums, and
/// for a single-part object the MD5 its ETag is.
fn expectation(rec: &ObjectRecord, manifest_sha256: Option<&str>) -> Result<Expected, CopyError> {
    if rec.sealing.is_some() {
        // Ciphertext moves as it is: the digests are the plaintext's; the frames' tags
        // (checked by scrub, or any read) stand for them.
        return Ok(Expected::default());
    }
    let mut checksums = rec.whole_body_checksums();
    if let Some(hex) = manifest_sha256 {
        let raw = hex_simd::decode_to_vec(hex).map_err(|_| CopyError::ManifestNotHex(hex.to_owned()))?;
        checksums.sha256 = Some(base64_simd::STANDARD.encode_to_string(raw));
    }
    let content_md5 = (!rec.multipart)
        .then(|| hex_simd::decode_to_vec(&rec.etag).ok().filter(|md5| md5.len() == 16))
        .flatten()
        .map(|md5| base64_simd::STANDARD.encode_to_string(md5));
    Ok(Expected { content_md5, checksums, algorithm: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_failures_read_as_the_report_shows_them() {
        let mismatch = CopyError::ManifestMismatch { index: "aa".into(), manifest: "bb".into() };
        assert_eq!(mismatch.to_string(), "the index's SHA-256 aa is not its manifest's bb");
        assert_eq!(CopyError::ManifestNotHex("zz".into()).to_string(), r#"the manifest's SHA-256 "zz" is not hex"#);
        assert_eq!(CopyError::ReadSource(crate::backend::Error::NoSuchKey).to_string(), "reading the source: The specified key does not exist.");
    }

    #[test]
    fn progress_shows_counts_rate_and_eta() {
        let p = Progress::default();
        p.objects_total.store(4, Ordering::Relaxed);
        p.bytes_total.store(40 << 20, Ordering::Relaxed);
        p.objects_done.store(1, Ordering::Relaxed);
        p.bytes_done.store(10 << 20, Ordering::Relaxed);
        let line = p.line(std::time::Duration::from_secs(2));
        assert_eq!(line, "[#######-----------------------] 1/4 objects  10.0/40.0 MiB  5.0 MiB/s  ETA 6s");
    }

    #[test]
    fn expectations_name_the_manifest_digest_and_single_part_md5() {
        let rec =
            ObjectRecord { size: 3, etag: "900150983cd24fb0d6963f7d28e17f72".into(), ..ObjectRecord::new(Default::default(), Vec::new(), String::new(), 0) };
        let sha = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let e = expectation(&rec, Some(sha)).unwrap();
        assert_eq!(e.content_md5.as_deref(), Some("kAFQmDzST7DWlj99KOF/cg=="));
        assert_eq!(e.checksums.sha256.as_deref(), Some("ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="));
        let multipart = ObjectRecord { etag: "abc-2".into(), multipart: true, ..rec };
        assert!(expectation(&multipart, None).unwrap().content_md5.is_none());
        assert!(expectation(&multipart, Some("zz")).is_err());
    }
}

//! Scrub: re-hashes stored objects against the SHA-256 their manifests recorded, at a
//! bounded rate, and reports mismatches (bit rot, tampering). It never deletes data.

use crate::backend::{Engine, Error, ScrubMismatch, ScrubReport};

use std::io;
use std::pin::Pin;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{Stream, StreamExt};
use sha2::Digest as _;

/// An object's bytes, as a backend reads them back.
pub type ByteStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send + Sync>>;

/// Re-hashes every indexed object of `buckets` on `engine` against its recorded SHA-256,
/// reading at most `bytes_per_sec` (0: unbounded): in a versioned bucket every version.
/// Never changes anything.
pub(crate) async fn scrub(engine: &dyn Engine, buckets: &[String], bytes_per_sec: u64) -> Result<ScrubReport, Error> {
    let index = engine.index();
    {
        let started = Instant::now();
        let mut report = ScrubReport::default();
        let mut read = 0u64;
        for bucket in buckets {
            // Collect first: the scan must not hold the index while hashing for long.
            let entries: Vec<(String, crate::meta::ObjectRecord)> = if index.bucket(bucket)?.versioning.is_unversioned() {
                index.store.object_scan(bucket, "", None).collect::<Result<_, _>>()?
            } else {
                let versions: Vec<_> = index.store.version_scan(bucket, "", None).collect::<Result<_, _>>()?;
                versions.into_iter().filter_map(|(key, v)| Some((key, v.object?))).collect()
            };
            for (key, rec) in entries {
                if rec.sha256.is_empty() {
                    continue;
                }
                let mut sha = sha2::Sha256::new();
                let mut failed = None;
                let mut body: ByteStream = match engine.open(bucket, &key, &rec, 0..rec.size).await {
                    Ok(b) => b,
                    Err(e) => {
                        failed = Some(e.to_string());
                        Box::pin(futures::stream::empty())
                    }
                };
                while let Some(chunk) = body.next().await {
                    match chunk {
                        Ok(c) => {
                            sha.update(&c);
                            read += c.len() as u64;
                            throttle(started, read, bytes_per_sec).await;
                        }
                        Err(e) => {
                            failed = Some(e.to_string());
                            break;
                        }
                    }
                }
                report.objects += 1;
                let actual = match failed {
                    Some(e) => format!("unreadable: {e}"),
                    None => hex_simd::encode_to_string(sha.finalize(), hex_simd::AsciiCase::Lower),
                };
                if actual != rec.sha256 {
                    tracing::error!(bucket = %bucket, key = %key, expected = %rec.sha256, actual = %actual, "scrub: stored bytes do not match their manifest");
                    report.mismatches.push(ScrubMismatch { bucket: bucket.clone(), key, proof_id: rec.proof_id.clone(), expected: rec.sha256.clone(), actual });
                }
            }
        }
        report.bytes = read;
        Ok(report)
    }
}

/// Sleeps so that `read` bytes since `started` stay under `rate` bytes per second.
async fn throttle(started: Instant, read: u64, rate: u64) {
    if rate == 0 {
        return;
    }
    let due = Duration::from_secs_f64(read as f64 / rate as f64);
    if let Some(wait) = due.checked_sub(started.elapsed()) {
        tokio::time::sleep(wait).await;
    }
}

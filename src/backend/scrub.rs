//! Scrub: re-hashes stored objects against the SHA-256 their manifests recorded, at a
//! bounded rate, and reports mismatches (bit rot, tampering). It never deletes data.

use super::sealed::OpenKey;
use crate::backend::{Engine, Error, ScrubMismatch, ScrubReport};
use crate::meta::SseMode;

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{Stream, StreamExt};
use sha2::Digest as _;

/// An object's bytes, as a backend reads them back.
pub type ByteStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send + Sync>>;

/// Re-hashes every indexed object of `buckets` on `engine` against its recorded SHA-256,
/// reading at most `bytes_per_sec` (0: unbounded): in a versioned bucket every version.
/// Never changes anything.
///
/// A sealed object is opened with the gateway's `keys` and its plaintext hashed (every
/// frame's tag is checked on the way); an SSE-C object, which only its customer can open,
/// is read whole and its length checked against its frames' (counted apart).
pub(crate) async fn scrub(engine: Arc<dyn Engine>, buckets: &[String], bytes_per_sec: u64, keys: &dyn OpenKey) -> Result<ScrubReport, Error> {
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
                let customers = rec.sealing.as_ref().filter(|s| s.mode == SseMode::Customer);
                let opened = match (&rec.sealing, customers) {
                    (Some(sealing), None) => match keys.open(sealing) {
                        Ok(k) => super::sealed::open_sealed(Arc::clone(&engine), bucket, &key, &rec, &k, 0..rec.size).await,
                        Err(e) => Err(e),
                    },
                    (Some(sealing), Some(_)) => engine.open(bucket, &key, &rec, 0..super::sealed::stored_len(&rec, sealing)).await,
                    (None, _) => engine.open(bucket, &key, &rec, 0..rec.size).await,
                };
                let mut body: ByteStream = match opened {
                    Ok(b) => b,
                    Err(e) => {
                        failed = Some(e.to_string());
                        Box::pin(futures::stream::empty())
                    }
                };
                let mut length = 0u64;
                while let Some(chunk) = body.next().await {
                    match chunk {
                        Ok(c) => {
                            sha.update(&c);
                            length += c.len() as u64;
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
                let (expected, actual) = match (failed, customers.and(rec.sealing.as_ref())) {
                    (Some(e), _) => (rec.sha256.clone(), format!("unreadable: {e}")),
                    (None, Some(sealing)) => {
                        report.sealed_by_customers += 1;
                        let stored = super::sealed::stored_len(&rec, sealing);
                        (format!("{stored} sealed bytes"), format!("{length} sealed bytes"))
                    }
                    (None, None) => (rec.sha256.clone(), hex_simd::encode_to_string(sha.finalize(), hex_simd::AsciiCase::Lower)),
                };
                if actual != expected {
                    tracing::error!(bucket = %bucket, key = %key, expected = %expected, actual = %actual, "scrub: stored bytes do not match their manifest");
                    report.mismatches.push(ScrubMismatch { bucket: bucket.clone(), key, proof_id: rec.proof_id.clone(), expected, actual });
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

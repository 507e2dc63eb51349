//! Bodies of unknown length (HTTP `Transfer-Encoding: chunked`, which presigned uploads
//! from some HTTP clients send): an S3 upstream wants a `Content-Length`, so such a body
//! is written to a file of the spool directory first, bounded by the object size limit,
//! and sent from there. Bodies with a length (nearly all) stream straight through.

use crate::backend::Error;

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::StreamExt as _;
use s3s::dto::StreamingBlob;
use tokio::io::AsyncWriteExt as _;

/// A spooled body's file, removed when dropped.
pub(super) struct Spooled(PathBuf);

impl Drop for Spooled {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Empties the spool directory (files left by a crash), creating it if needed.
pub(super) fn reset(dir: &Path) -> std::io::Result<()> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir)
}

/// Writes `body` to a new file of `dir`, at most `max` bytes, failing if it stalls for
/// `idle`; returns a stream of the file, its length, and the guard removing it.
pub(super) async fn spool(dir: &Path, body: Option<StreamingBlob>, max: u64, idle: Duration) -> Result<(StreamingBlob, u64, Spooled), Error> {
    let mut id = [0u8; 16];
    getrandom::fill(&mut id).map_err(|e| Error::Io(std::io::Error::other(e.to_string())))?;
    let guard = Spooled(dir.join(hex_simd::encode_to_string(id, hex_simd::AsciiCase::Lower)));
    let mut file = tokio::fs::File::create(&guard.0).await?;
    let mut length = 0u64;
    if let Some(mut body) = body {
        loop {
            let chunk = match tokio::time::timeout(idle, body.next()).await {
                Err(_) => return Err(Error::RequestTimeout),
                Ok(None) => break,
                Ok(Some(chunk)) => chunk.map_err(Error::body)?,
            };
            length += chunk.len() as u64;
            if length > max {
                return Err(Error::EntityTooLarge);
            }
            file.write_all(&chunk).await?;
        }
    }
    file.flush().await?;
    drop(file);
    let file = tokio::fs::File::open(&guard.0).await?;
    Ok((StreamingBlob::wrap(tokio_util::io::ReaderStream::new(file)), length, guard))
}

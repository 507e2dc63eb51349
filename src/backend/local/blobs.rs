//! Blob files: object bytes on local disk, named by a random internal id (never by the
//! object key, so any key is safe and `a/b` and `a/b/c` coexist).
//!
//! Layout under the data directory: `tmp/{id}` while a blob is being written (everything
//! there is garbage after a restart), `blobs/{id[0..2]}/{id}` once complete. A blob is
//! visible to clients only once an index entry in the metadata store references it.

use crate::backend::Error;
use crate::meta::Segment;
use crate::proof::hashing::BodyHasher;

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use s3s::StdError;
use tokio::task::spawn_blocking;

/// Bytes gathered before a blocking write; hashing and writing one batch overlaps with
/// receiving the next.
const WRITE_BATCH: usize = 1 << 20;
/// Largest chunk read from disk at once for a GET body.
const READ_CHUNK: usize = 256 << 10;
/// Largest span read on the calling thread when the kernel has it cached
/// (`SpanReader::next_chunk_cached`).
const CACHED_READ_MAX: u64 = 64 << 10;

/// The blob files under one data directory.
pub struct BlobStore {
    blobs: PathBuf,
    tmp: PathBuf,
    fsync: bool,
    body_idle_timeout: Duration,
}

/// A complete blob in `tmp/`, not yet installed; removed on drop unless installed.
pub struct PendingBlob {
    pub id: String,
    pub size: u64,
    path: PathBuf,
    installed: bool,
}

impl Drop for PendingBlob {
    fn drop(&mut self) {
        if !self.installed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

pub use crate::backend::s3util::new_blob_id as new_id;

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> io::Result<T> + Send + 'static) -> io::Result<T> {
    spawn_blocking(f).await.map_err(io::Error::other)?
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Bytes written between two background syncs of a blob being received.
const EARLY_SYNC_EVERY: u64 = 4 * 1024 * 1024;

/// At most one background `fdatasync` of a blob in flight at a time.
#[derive(Default)]
struct EarlySync {
    running: Option<tokio::task::JoinHandle<io::Result<()>>>,
    started_at: u64,
}

impl EarlySync {
    /// Starts a sync of `file` (on a cloned descriptor) if enough has been written since
    /// the last one and the last one has finished.
    fn maybe_start(&mut self, file: &File, written: u64) -> io::Result<()> {
        if written - self.started_at < EARLY_SYNC_EVERY || self.running.as_ref().is_some_and(|h| !h.is_finished()) {
            return Ok(());
        }
        // A finished sync's error must not be lost: the final sync might not see it again.
        if let Some(done) = self.running.take().and_then(futures::FutureExt::now_or_never) {
            done.map_err(io::Error::other)??;
        }
        let clone = file.try_clone()?;
        self.started_at = written;
        self.running = Some(spawn_blocking(move || clone.sync_data()));
        Ok(())
    }

    async fn finish(self) -> io::Result<()> {
        match self.running {
            Some(h) => h.await.map_err(io::Error::other)?,
            None => Ok(()),
        }
    }
}

impl BlobStore {
    /// Opens the blob directories under `data_dir`, emptying `tmp/` (left-overs of a crash).
    pub fn open(data_dir: &Path, fsync: bool, body_idle_timeout: Duration) -> io::Result<Self> {
        let blobs = data_dir.join("blobs");
        let tmp = data_dir.join("tmp");
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp)?;
        }
        std::fs::create_dir_all(&tmp)?;
        for i in 0..=255u8 {
            std::fs::create_dir_all(blobs.join(format!("{i:02x}")))?;
        }
        Ok(Self { blobs, tmp, fsync, body_idle_timeout })
    }

    /// Whether a blob can be written now: a 4 KiB file in `tmp/` is written (and synced,
    /// when fsync is on), then removed. Fails on a full or read-only disk, which a read
    /// of the metadata cannot show.
    pub async fn probe_write(&self) -> io::Result<()> {
        let path = self.tmp.join(format!("ready-probe-{}", new_id()));
        let fsync = self.fsync;
        blocking(move || {
            let written = File::create_new(&path).and_then(|mut f| {
                f.write_all(&[0u8; 4096])?;
                if fsync { f.sync_data() } else { Ok(()) }
            });
            let _ = std::fs::remove_file(&path);
            written
        })
        .await
    }

    fn path(&self, id: &str) -> PathBuf {
        self.blobs.join(id.get(..2).unwrap_or("00")).join(id)
    }

    /// Writes `body` to a new blob in `tmp/`, feeding every byte to `hasher` once.
    /// Fails with `EntityTooLarge` past `max_size` bytes and `IncompleteBody` if the body
    /// errors (client gone, stream cut short) and `RequestTimeout` if it stalls; nothing
    /// is left behind on failure.
    pub async fn write<S>(&self, mut body: S, hasher: BodyHasher, max_size: u64) -> Result<(PendingBlob, BodyHasher), Error>
    where
        S: Stream<Item = Result<Bytes, StdError>> + Unpin,
    {
        let id = new_id();
        let path = self.tmp.join(&id);
        let mut pending = PendingBlob { id, size: 0, path: path.clone(), installed: false };
        let fsync = self.fsync;

        // The file and hasher travel into each blocking batch and come back with it.
        type WriterState = (Option<File>, BodyHasher);
        let mut state: Option<WriterState> = Some((None, hasher));
        let mut inflight: Option<tokio::task::JoinHandle<io::Result<WriterState>>> = None;
        // Background `fdatasync`s while the body is still arriving, so the disk writes
        // overlap the network instead of all landing in one final sync.
        let mut early_sync = EarlySync::default();
        let mut batch: Vec<Bytes> = Vec::new();
        let mut batch_len = 0usize;
        let abandon = |inflight: Option<tokio::task::JoinHandle<_>>, early_sync: EarlySync| async move {
            if let Some(h) = inflight {
                let _ = h.await;
            }
            early_sync.finish().await.ok();
        };
        loop {
            let next = match tokio::time::timeout(self.body_idle_timeout, body.next()).await {
                Ok(next) => next,
                Err(_) => {
                    abandon(inflight.take(), early_sync).await;
                    return Err(Error::RequestTimeout);
                }
            };
            let done = match next {
                Some(Ok(chunk)) => {
                    pending.size += chunk.len() as u64;
                    if pending.size > max_size {
                        abandon(inflight.take(), early_sync).await;
                        return Err(Error::EntityTooLarge);
                    }
                    batch_len += chunk.len();
                    batch.push(chunk);
                    false
                }
                Some(Err(e)) => {
                    abandon(inflight.take(), early_sync).await;
                    return Err(Error::body(e));
                }
                None => true,
            };
            if !done && batch_len < WRITE_BATCH {
                continue;
            }
            if let Some(h) = inflight.take() {
                let written = h.await.map_err(io::Error::other)??;
                if fsync
                    && !done
                    && let Some(file) = &written.0
                {
                    early_sync.maybe_start(file, pending.size)?;
                }
                state = Some(written);
            }
            let (file, mut hasher) = state.take().expect("state is returned by every batch");
            let chunks = std::mem::take(&mut batch);
            batch_len = 0;
            let path = path.clone();
            let task = spawn_blocking(move || {
                let mut file = match file {
                    Some(f) => f,
                    None => File::create_new(&path)?,
                };
                for c in &chunks {
                    hasher.update(c);
                    file.write_all(c)?;
                }
                Ok((Some(file), hasher))
            });
            if done {
                let (file, hasher) = task.await.map_err(io::Error::other)??;
                early_sync.finish().await?;
                if fsync && let Some(file) = file {
                    blocking(move || file.sync_data()).await?;
                }
                return Ok((pending, hasher));
            }
            inflight = Some(task);
        }
    }

    /// Moves a complete blob into place (durably, when fsync is on); returns its id.
    pub async fn install(&self, mut pending: PendingBlob) -> Result<Segment, Error> {
        let dest = self.path(&pending.id);
        let src = pending.path.clone();
        let fsync = self.fsync;
        blocking(move || {
            std::fs::rename(&src, &dest)?;
            if fsync && let Some(dir) = dest.parent() {
                sync_dir(dir)?;
            }
            Ok(())
        })
        .await?;
        pending.installed = true;
        Ok(Segment { blob: pending.id.clone(), size: pending.size })
    }

    /// Moves a complete blob into place under `id` (a blob id another backend gave the same
    /// bytes, so that a record naming it reads them here too); `None` if `id` is no blob id
    /// or a blob has it already (the pending blob is then dropped).
    pub async fn install_as(&self, mut pending: PendingBlob, id: &str) -> Result<Option<Segment>, Error> {
        if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) || self.size_of(id).await?.is_some() {
            return Ok(None);
        }
        pending.id = id.to_owned();
        self.install(pending).await.map(Some)
    }

    /// A new blob with the same bytes as `id` (a hard link: no bytes are copied).
    pub async fn link(&self, seg: &Segment) -> Result<Segment, Error> {
        let id = new_id();
        let src = self.path(&seg.blob);
        let dest = self.path(&id);
        let fsync = self.fsync;
        blocking(move || {
            std::fs::hard_link(&src, &dest)?;
            if fsync && let Some(dir) = dest.parent() {
                sync_dir(dir)?;
            }
            Ok(())
        })
        .await?;
        Ok(Segment { blob: id, size: seg.size })
    }

    /// Removes blobs that no index entry references any more. Best effort: a blob left
    /// behind is an orphan that the clean-up job removes.
    pub fn remove<'a>(&self, ids: impl IntoIterator<Item = &'a str>) {
        let paths: Vec<PathBuf> = ids.into_iter().map(|id| self.path(id)).collect();
        if paths.is_empty() {
            return;
        }
        tokio::spawn(blocking(move || {
            for p in paths {
                if let Err(e) = std::fs::remove_file(&p)
                    && e.kind() != io::ErrorKind::NotFound
                {
                    tracing::warn!(path = %p.display(), error = %e, "blob removal failed; left for clean-up");
                }
            }
            Ok(())
        }));
    }

    /// Removes blobs synchronously (clean-up jobs); a blob already gone is fine.
    pub fn remove_now<'a>(&self, ids: impl IntoIterator<Item = &'a str>) -> io::Result<()> {
        for id in ids {
            match std::fs::remove_file(self.path(id)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }

    /// Streams `range` of the object made of `segments`. Each chunk, opening its blob
    /// included, is one trip to the blocking pool (a small object's read is one trip),
    /// unless it is a small span the kernel has cached, read in place.
    pub fn read(&self, segments: &[Segment], range: Range<u64>) -> impl Stream<Item = io::Result<Bytes>> + Send + Sync + 'static {
        // (path, offset in blob, length) for each segment overlapping the range.
        let mut spans = Vec::new();
        let mut seg_start = 0u64;
        for seg in segments {
            let seg_end = seg_start + seg.size;
            let start = range.start.max(seg_start);
            let end = range.end.min(seg_end);
            if start < end {
                spans.push((self.path(&seg.blob), start - seg_start, end - start));
            }
            seg_start = seg_end;
        }
        spans.reverse();
        futures::stream::try_unfold(SpanReader { spans, current: None }, |mut reader| async move {
            if reader.is_done() {
                return Ok(None);
            }
            if let Some(chunk) = reader.next_chunk_cached() {
                return Ok(Some((chunk, reader)));
            }
            let (chunk, reader) = blocking(move || reader.next_chunk()).await?;
            Ok(chunk.map(|c| (c, reader)))
        })
    }

    /// The size of blob `id` on disk; `None` if it is not there.
    pub async fn size_of(&self, id: &str) -> io::Result<Option<u64>> {
        match tokio::fs::metadata(self.path(id)).await {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Ids of every installed blob, with its age (for orphan clean-up).
    pub fn list(&self) -> io::Result<Vec<(String, std::time::Duration)>> {
        let mut out = Vec::new();
        for dir in std::fs::read_dir(&self.blobs)? {
            for entry in std::fs::read_dir(dir?.path())? {
                let entry = entry?;
                let age = entry.metadata()?.modified()?.elapsed().unwrap_or_default();
                out.push((entry.file_name().to_string_lossy().into_owned(), age));
            }
        }
        Ok(out)
    }
}

/// The blob spans of a read still to stream, last first, and the open file of the one
/// being read with the bytes left in it.
struct SpanReader {
    spans: Vec<(PathBuf, u64, u64)>,
    current: Option<(File, u64)>,
}

impl SpanReader {
    fn is_done(&self) -> bool {
        self.current.is_none() && self.spans.is_empty()
    }

    /// The next span whole, read on the calling thread, when it is small and the kernel has
    /// both its blob's path and its bytes cached: `RESOLVE_CACHED` and `RWF_NOWAIT` make
    /// the open and the read fail rather than wait for the disk. `None`, with nothing
    /// consumed, otherwise (the blocking pool then reads it, and reports any error). For a
    /// small GET the pool's hand-off cost more than the read (benches/README.md, "A small
    /// GET read in place").
    #[cfg(target_os = "linux")]
    fn next_chunk_cached(&mut self) -> Option<Bytes> {
        use rustix::fs::{CWD, Mode, OFlags, ResolveFlags, openat2};
        use rustix::io::{ReadWriteFlags, preadv2};
        if self.current.is_some() {
            return None;
        }
        let (path, offset, len) = self.spans.last()?;
        let len = usize::try_from(*len).ok().filter(|&len| len as u64 <= CACHED_READ_MAX)?;
        let fd = openat2(CWD, path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty(), ResolveFlags::CACHED).ok()?;
        let mut buf = vec![0u8; len];
        let read = preadv2(&fd, &mut [io::IoSliceMut::new(&mut buf)], *offset, ReadWriteFlags::NOWAIT).ok()?;
        if read != len {
            return None;
        }
        self.spans.pop();
        Some(Bytes::from(buf))
    }

    #[cfg(not(target_os = "linux"))]
    fn next_chunk_cached(&mut self) -> Option<Bytes> {
        None
    }

    /// The next chunk (opening the next span's blob when the current one is finished);
    /// `None` at the end. Blocking.
    fn next_chunk(mut self) -> io::Result<(Option<Bytes>, Self)> {
        let (mut file, remaining) = match self.current.take() {
            Some(current) => current,
            None => {
                let Some((path, offset, len)) = self.spans.pop() else {
                    return Ok((None, self));
                };
                let mut file = File::open(path)?;
                file.seek(SeekFrom::Start(offset))?;
                (file, len)
            }
        };
        let want = usize::try_from(remaining).unwrap_or(usize::MAX).min(READ_CHUNK);
        // Read into spare capacity: zeroing the buffer first cost more than the few more
        // reads this takes (benches/README.md, "Opening sealed frames").
        let mut buf = Vec::with_capacity(want);
        (&mut file).take(want as u64).read_to_end(&mut buf)?;
        if buf.len() < want {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "a blob is shorter than its record"));
        }
        let left = remaining - want as u64;
        if left > 0 {
            self.current = Some((file, left));
        }
        Ok((Some(Bytes::from(buf)), self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_with_blob(bytes: &[u8]) -> (tempfile::TempDir, BlobStore, Segment) {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path(), false, Duration::from_secs(5)).unwrap();
        let id = new_id();
        std::fs::write(store.path(&id), bytes).unwrap();
        (dir, store, Segment { blob: id, size: bytes.len() as u64 })
    }

    async fn read_all(store: &BlobStore, segments: &[Segment], range: Range<u64>) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut body = std::pin::pin!(store.read(segments, range));
        while let Some(chunk) = body.next().await {
            out.extend_from_slice(&chunk?);
        }
        Ok(out)
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_small_span_just_written_is_read_in_place() {
        let bytes: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
        let (_dir, store, seg) = store_with_blob(&bytes);
        let mut reader = SpanReader { spans: vec![(store.path(&seg.blob), 100, 4000)], current: None };
        assert_eq!(reader.next_chunk_cached().as_deref(), Some(&bytes[100..4100]));
        assert!(reader.is_done());
    }

    #[test]
    fn a_large_span_or_a_missing_blob_is_left_to_the_blocking_pool() {
        let (_dir, store, seg) = store_with_blob(&vec![7u8; CACHED_READ_MAX as usize + 1]);
        let mut large = SpanReader { spans: vec![(store.path(&seg.blob), 0, seg.size)], current: None };
        assert!(large.next_chunk_cached().is_none());
        assert_eq!(large.spans.len(), 1, "nothing is consumed");
        let mut missing = SpanReader { spans: vec![(store.path(&new_id()), 0, 10)], current: None };
        assert!(missing.next_chunk_cached().is_none());
        assert_eq!(missing.spans.len(), 1);
    }

    #[tokio::test]
    async fn reads_span_segments_in_place_and_in_the_pool_alike() {
        let small: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
        let large: Vec<u8> = (0..(READ_CHUNK as u32 + 70_000)).map(|i| (i % 241) as u8).collect();
        let (_dir, store, small_seg) = store_with_blob(&small);
        let large_id = new_id();
        std::fs::write(store.path(&large_id), &large).unwrap();
        let segments = [small_seg, Segment { blob: large_id, size: large.len() as u64 }, Segment { blob: new_id(), size: 0 }];
        let whole: Vec<u8> = small.iter().chain(&large).copied().collect();
        for range in [0..whole.len() as u64, 10..20, 2990..3010, 2999..whole.len() as u64 - 1] {
            let got = read_all(&store, &segments, range.clone()).await.unwrap();
            assert_eq!(got, whole[range.start as usize..range.end as usize], "range {range:?}");
        }
    }

    #[tokio::test]
    async fn a_blob_shorter_than_its_record_fails_the_read() {
        let (_dir, store, seg) = store_with_blob(b"0123456789");
        let err = read_all(&store, &[Segment { size: 20, ..seg }], 0..20).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }
}

//! Bodies on their way through: an upload is hashed once as it streams to the upstream
//! and its last chunk is held back until every declared digest has been checked, so a body
//! that fails a check never completes upstream (the request is cut short and the upstream
//! stores nothing). Downloads fail instead of hanging when the upstream goes silent.

use crate::backend::Error;
use crate::backend::s3util::BodyCheck;
use crate::proof::hashing::{BodyDigests, BodyHasher};

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::Instant;

use bytes::Bytes;
use futures::Stream;
use s3s::StdError;
use s3s::dto::StreamingBlob;
use tokio::time::Sleep;

/// Whether the upstream is keeping up with an upload: when the body last handed it bytes,
/// and whether the body is itself waiting on the client (then a pause is not the upstream's).
pub struct Progress {
    start: Instant,
    last_ms: AtomicU64,
    waiting_on_client: AtomicBool,
}

impl Progress {
    pub fn new() -> Arc<Self> {
        Arc::new(Self { start: Instant::now(), last_ms: AtomicU64::new(0), waiting_on_client: AtomicBool::new(false) })
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn moved(&self) {
        self.last_ms.store(self.now_ms(), Ordering::Relaxed);
        self.waiting_on_client.store(false, Ordering::Relaxed);
    }

    /// Completes once the upstream has gone `timeout` without taking offered bytes or
    /// answering after the last one.
    pub async fn stalled(&self, timeout: Duration) {
        let tick = (timeout / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
        loop {
            tokio::time::sleep(tick).await;
            let idle = Duration::from_millis(self.now_ms().saturating_sub(self.last_ms.load(Ordering::Relaxed)));
            if !self.waiting_on_client.load(Ordering::Relaxed) && idle >= timeout {
                return;
            }
        }
    }
}

/// What an upload body found: its digests once complete and verified, or why it was cut.
#[derive(Default)]
pub struct Outcome {
    found: Mutex<Option<Result<BodyDigests, Error>>>,
    /// Signalled when `found` is set, or when the body is dropped unfinished.
    settled: tokio::sync::Notify,
}

impl Outcome {
    fn set(&self, found: Result<BodyDigests, Error>) {
        *self.found.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(found);
        self.settled.notify_one();
    }

    /// What the body found so far: its digests (kept for [`Outcome::verified`]) or its
    /// error (taken).
    pub fn found(&self) -> Option<Result<BodyDigests, Error>> {
        let mut found = self.found.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match &*found {
            Some(Ok(digests)) => Some(Ok(digests.clone())),
            _ => found.take(),
        }
    }

    /// The body's digests as soon as it has been read whole and verified (before the
    /// upstream answers); `None` if it failed or was dropped unfinished.
    pub async fn verified(&self) -> Option<BodyDigests> {
        loop {
            if let Some(found) = &*self.found.lock().unwrap_or_else(std::sync::PoisonError::into_inner) {
                return found.as_ref().ok().cloned();
            }
            self.settled.notified().await;
            if self.found.lock().unwrap_or_else(std::sync::PoisonError::into_inner).is_none() {
                return None;
            }
        }
    }
}

/// A client's body on its way upstream: hashed, counted, checked, with its last chunk held
/// back until the checks pass.
pub struct Upload {
    inner: StreamingBlob,
    hasher: Option<BodyHasher>,
    check: BodyCheck,
    held: Option<Bytes>,
    received: u64,
    length: u64,
    outcome: Arc<Outcome>,
    progress: Arc<Progress>,
    idle: Pin<Box<Sleep>>,
    idle_timeout: Duration,
    done: bool,
}

impl Upload {
    /// `length` is what the client announced; a body of any other size is refused.
    /// `outcome` learns what the body found.
    pub fn new(inner: Option<StreamingBlob>, check: BodyCheck, length: u64, idle_timeout: Duration, progress: Arc<Progress>, outcome: Arc<Outcome>) -> Self {
        let inner = inner.unwrap_or_else(|| StreamingBlob::wrap(futures::stream::empty::<Result<Bytes, std::io::Error>>()));
        Self {
            inner,
            hasher: Some(check.hasher_for_forwarding()),
            check,
            held: None,
            received: 0,
            length,
            outcome,
            progress,
            idle: Box::pin(tokio::time::sleep(idle_timeout)),
            idle_timeout,
            done: false,
        }
    }

    fn fail(&mut self, e: Error) -> Poll<Option<Result<Bytes, StdError>>> {
        let msg = e.to_string();
        self.outcome.set(Err(e));
        self.done = true;
        Poll::Ready(Some(Err(msg.into())))
    }

    fn finish(&mut self) -> Poll<Option<Result<Bytes, StdError>>> {
        if self.received != self.length {
            return self.fail(Error::IncompleteBody(format!("received {} of {} bytes", self.received, self.length)));
        }
        let digests = self.hasher.take().map(BodyHasher::finish);
        let Some(digests) = digests else {
            return Poll::Ready(None);
        };
        if let Err(e) = self.check.verify(&digests) {
            return self.fail(e);
        }
        self.outcome.set(Ok(digests));
        self.done = true;
        self.progress.moved();
        Poll::Ready(self.held.take().map(Ok))
    }
}

impl Stream for Upload {
    type Item = Result<Bytes, StdError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        loop {
            match Pin::new(&mut this.inner).poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    this.progress.moved();
                    let deadline = tokio::time::Instant::now() + this.idle_timeout;
                    this.idle.as_mut().reset(deadline);
                    this.received += chunk.len() as u64;
                    if this.received > this.length {
                        return this.fail(Error::IncompleteBody(format!("more than the {} bytes announced", this.length)));
                    }
                    if let Some(h) = &mut this.hasher {
                        h.update(&chunk);
                    }
                    if let Some(previous) = this.held.replace(chunk) {
                        return Poll::Ready(Some(Ok(previous)));
                    }
                }
                Poll::Ready(Some(Err(e))) => return this.fail(Error::body(e)),
                Poll::Ready(None) => return this.finish(),
                Poll::Pending => {
                    this.progress.waiting_on_client.store(true, Ordering::Relaxed);
                    if this.idle.as_mut().poll(cx).is_ready() {
                        return this.fail(Error::RequestTimeout);
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if !self.done {
            self.outcome.settled.notify_one();
        }
    }
}

/// A download that fails once the upstream has sent nothing for `timeout`.
pub struct IdleLimited<S> {
    inner: S,
    idle: Pin<Box<Sleep>>,
    timeout: Duration,
}

impl<S> IdleLimited<S> {
    pub fn new(inner: S, timeout: Duration) -> Self {
        Self { inner, idle: Box::pin(tokio::time::sleep(timeout)), timeout }
    }
}

impl<S, E> Stream for IdleLimited<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                let deadline = tokio::time::Instant::now() + this.timeout;
                this.idle.as_mut().reset(deadline);
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(e))) => {
                tracing::warn!(error = %e, "upstream download failed");
                Poll::Ready(Some(Err(std::io::Error::other(format!("upstream: {e}")))))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                if this.idle.as_mut().poll(cx).is_ready() {
                    tracing::warn!(timeout_secs = this.timeout.as_secs(), "upstream download stalled");
                    return Poll::Ready(Some(Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "the upstream stopped sending"))));
                }
                Poll::Pending
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::s3util::Expected;
    use futures::StreamExt;

    fn check(md5_of: &[u8]) -> BodyCheck {
        let md5 = <md5::Md5 as md5::Digest>::digest(md5_of);
        let req = s3s::S3Request {
            input: (),
            method: http::Method::PUT,
            uri: http::Uri::from_static("/b/k"),
            headers: http::HeaderMap::new(),
            extensions: http::Extensions::new(),
            credentials: None,
            region: None,
            service: None,
            trailing_headers: None,
        };
        BodyCheck::new(&req, Expected { content_md5: Some(base64_simd::STANDARD.encode_to_string(md5)), ..Default::default() }).unwrap()
    }

    fn blob(chunks: &[&'static [u8]]) -> StreamingBlob {
        StreamingBlob::wrap(futures::stream::iter(chunks.iter().map(|c| Ok::<_, std::io::Error>(Bytes::from_static(c))).collect::<Vec<_>>()))
    }

    fn upload(body: StreamingBlob, check: BodyCheck, length: u64) -> (Upload, Arc<Outcome>) {
        let outcome = Arc::new(Outcome::default());
        (Upload::new(Some(body), check, length, Duration::from_secs(5), Progress::new(), Arc::clone(&outcome)), outcome)
    }

    #[tokio::test]
    async fn a_verified_body_passes_whole_and_reports_its_digests() {
        let (up, outcome) = upload(blob(&[b"hello ", b"world"]), check(b"hello world"), 11);
        let out: Vec<_> = up.collect().await;
        let bytes: Vec<u8> = out.into_iter().flat_map(|r| r.unwrap().to_vec()).collect();
        assert_eq!(bytes, b"hello world");
        let digests = outcome.found().unwrap().unwrap();
        assert_eq!(digests.sha256, "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9");
    }

    #[tokio::test]
    async fn a_body_failing_its_digest_never_delivers_its_last_chunk() {
        let (up, outcome) = upload(blob(&[b"hello ", b"world"]), check(b"something else"), 11);
        let out: Vec<_> = up.collect().await;
        assert_eq!(out.len(), 2, "the first chunk, then the error");
        assert_eq!(&out[0].as_ref().unwrap()[..], b"hello ");
        assert!(out[1].is_err());
        assert!(matches!(outcome.found(), Some(Err(Error::BadDigest(_)))));
    }

    #[tokio::test]
    async fn a_body_shorter_or_longer_than_announced_is_cut() {
        let (up, outcome) = upload(blob(&[b"abc"]), check(b"abc"), 4);
        assert!(up.collect::<Vec<_>>().await.last().unwrap().is_err());
        assert!(matches!(outcome.found(), Some(Err(Error::IncompleteBody(_)))));
        let (up, _) = upload(blob(&[b"abc", b"def"]), check(b"abcdef"), 4);
        assert!(up.collect::<Vec<_>>().await.last().unwrap().is_err());
    }

    #[tokio::test]
    async fn verified_waits_for_the_whole_body_and_gives_up_if_it_is_dropped() {
        let (up, outcome) = upload(blob(&[b"hello ", b"world"]), check(b"hello world"), 11);
        let waiting = tokio::spawn({
            let outcome = Arc::clone(&outcome);
            async move { outcome.verified().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "nothing read yet");
        let _: Vec<_> = up.collect().await;
        assert_eq!(waiting.await.unwrap().unwrap().sha256, "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9");
        assert!(outcome.found().is_some_and(|f| f.is_ok()), "the digests stay for the sender");

        let (mut up, outcome) = upload(blob(&[b"hello ", b"world"]), check(b"hello world"), 11);
        let waiting = tokio::spawn(async move { outcome.verified().await });
        assert!(up.next().await.is_some());
        drop(up);
        assert!(waiting.await.unwrap().is_none(), "a body dropped unfinished");
        let (up, outcome) = upload(blob(&[b"abc"]), check(b"abd"), 3);
        let _: Vec<_> = up.collect().await;
        assert!(outcome.verified().await.is_none(), "a body failing its check");
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_download_fails_after_the_timeout() {
        let pending = futures::stream::pending::<Result<Bytes, std::io::Error>>();
        let mut s = IdleLimited::new(pending, Duration::from_secs(3));
        let started = tokio::time::Instant::now();
        let e = s.next().await.unwrap().unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
        assert!(started.elapsed() >= Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn progress_reports_a_stall_only_when_not_waiting_on_the_client() {
        let p = Progress::new();
        p.waiting_on_client.store(true, Ordering::Relaxed);
        let waited = tokio::time::timeout(Duration::from_secs(10), p.stalled(Duration::from_secs(2))).await;
        assert!(waited.is_err(), "a slow client is not a stalled upstream");
        p.moved();
        let waited = tokio::time::timeout(Duration::from_secs(10), p.stalled(Duration::from_secs(2))).await;
        assert!(waited.is_ok());
    }
}

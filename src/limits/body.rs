//! A body that charges every byte to the request's byte buckets as it streams, holding a
//! frame back until the buckets allow it: the transfer is slowed, never refused.

use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use super::Admission;

/// Wraps `B`; the admission is looked up on the first data frame, because a request body
/// is wrapped before the access check decides whom to charge.
pub struct MeteredBody<B> {
    inner: B,
    admission: Arc<OnceLock<Admission>>,
    /// A frame not yet paid for, the bucket being charged, and the bytes still owed to it.
    held: Option<(Frame<Bytes>, usize, u64)>,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<B> MeteredBody<B> {
    /// Wraps `inner`; `admission` is set once the access check has admitted the request.
    pub fn new(inner: B, admission: Arc<OnceLock<Admission>>) -> Self {
        Self { inner, admission, held: None, sleep: None }
    }
}

impl<B> Body for MeteredBody<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = &mut *self;
        loop {
            if let Some(sleep) = &mut this.sleep {
                ready!(sleep.as_mut().poll(cx));
                this.sleep = None;
            }
            if let Some((frame, mut bucket, mut owed)) = this.held.take() {
                let buckets = this.admission.get().map_or(&[][..], |a| a.bytes.as_slice());
                let len = frame.data_ref().map_or(0, Bytes::len) as u64;
                while bucket < buckets.len() {
                    match buckets[bucket].take(owed) {
                        Ok(taken) if taken >= owed => {
                            bucket += 1;
                            owed = len;
                        }
                        Ok(taken) => owed -= taken,
                        Err(wait) => {
                            this.sleep = Some(Box::pin(tokio::time::sleep(wait)));
                            break;
                        }
                    }
                }
                if bucket >= buckets.len() {
                    return Poll::Ready(Some(Ok(frame)));
                }
                this.held = Some((frame, bucket, owed));
                continue;
            }
            let frame = match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
                Some(Ok(frame)) => frame,
                other => return Poll::Ready(other),
            };
            let len = frame.data_ref().map_or(0, Bytes::len) as u64;
            let unmetered = this.admission.get().is_none_or(|a| a.bytes.is_empty());
            if len == 0 || unmetered {
                return Poll::Ready(Some(Ok(frame)));
            }
            this.held = Some((frame, 0, len));
        }
    }

    fn is_end_stream(&self) -> bool {
        self.held.is_none() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let mut hint = self.inner.size_hint();
        if let Some((frame, _, _)) = &self.held {
            let held = frame.data_ref().map_or(0, Bytes::len) as u64;
            hint.set_lower(hint.lower() + held);
            if let Some(upper) = hint.upper() {
                hint.set_upper(upper + held);
            }
        }
        hint
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::{ByteBucket, Gcra, TokioClock};
    use http_body_util::BodyExt;
    use std::time::Duration;

    fn bucket(rate: u32, clock: &TokioClock) -> ByteBucket {
        let quota = governor::Quota::per_second(std::num::NonZeroU32::new(rate).unwrap());
        let gcra: Gcra = governor::RateLimiter::direct_with_clock(quota, clock.clone()).with_middleware();
        ByteBucket { gcra: Arc::new(gcra), clock: clock.clone(), burst: rate }
    }

    #[tokio::test(start_paused = true)]
    async fn a_metered_body_arrives_whole_at_the_configured_rate() {
        let clock = TokioClock { origin: tokio::time::Instant::now() };
        let chunks: Vec<Result<Frame<Bytes>, std::convert::Infallible>> = (0..10).map(|i| Ok(Frame::data(Bytes::from(vec![i; 1000])))).collect();
        let inner = http_body_util::StreamBody::new(futures::stream::iter(chunks));
        let slot = Arc::new(OnceLock::new());
        let _ = slot.set(Admission { headers: None, bytes: vec![bucket(2000, &clock), bucket(4000, &clock)] });
        let started = tokio::time::Instant::now();
        let body = MeteredBody::new(inner, slot).collect().await.unwrap().to_bytes();
        assert_eq!(body.len(), 10_000);
        assert!(body.chunks(1000).enumerate().all(|(i, c)| c.iter().all(|&b| usize::from(b) == i)), "bytes in order");
        // 10,000 bytes at 2,000/s with a 2,000-byte burst: 4 s, not less.
        let took = started.elapsed();
        assert!(took >= Duration::from_secs(4) && took < Duration::from_millis(4100), "{took:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn an_unmetered_body_passes_straight_through() {
        let chunks: Vec<Result<Frame<Bytes>, std::convert::Infallible>> = vec![Ok(Frame::data(Bytes::from_static(b"abc")))];
        let inner = http_body_util::StreamBody::new(futures::stream::iter(chunks));
        let started = tokio::time::Instant::now();
        let body = MeteredBody::new(inner, Arc::new(OnceLock::new())).collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"abc");
        assert_eq!(started.elapsed(), Duration::ZERO);
    }
}

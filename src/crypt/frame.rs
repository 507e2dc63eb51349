//! The framed stream format: header, sealing, range mapping and ranged opening.

use std::io;
use std::ops::Range;

use bytes::{Buf, Bytes, BytesMut};
use futures::{Stream, StreamExt};
use ring::aead::{Aad, LessSafeKey, NONCE_LEN, Nonce};

use super::key::{DataKey, aead_key, fill_random};
use super::{CryptError, MODE_SSE_C, MODE_SSE_S3};

/// Plaintext bytes per frame (every frame but the last holds exactly this many).
pub const FRAME_LEN: u64 = 64 * 1024;
/// AES-GCM tag bytes appended to every frame.
pub const TAG_LEN: u64 = 16;

const MAGIC: &[u8; 4] = b"TGE1";
const FRAME_LEN_LOG2: u8 = 16;
const FRAME: usize = FRAME_LEN as usize;
const TAG: usize = TAG_LEN as usize;
/// Header bytes besides key id and wrapped key.
const HEADER_FIXED: usize = 4 + 1 + 2 + 5 + 1 + 1 + 1;

/// Number of frames of a part holding `plain_len` plaintext bytes (an empty part still has one).
pub fn frames(plain_len: u64) -> u64 {
    plain_len.div_ceil(FRAME_LEN).max(1)
}

/// Total sealed length of a part: header, plaintext, and one tag per frame.
pub fn sealed_len(header_len: u64, plain_len: u64) -> u64 {
    header_len + plain_len + TAG_LEN * frames(plain_len)
}

/// A fresh random 5-byte nonce prefix (one per object).
pub fn random_prefix() -> [u8; 5] {
    let mut p = [0u8; 5];
    fill_random(&mut p);
    p
}

/// nonce = prefix (5) || part (u16 BE) || index (u32 BE) || last (1 byte).
fn nonce(prefix: &[u8; 5], part: u16, index: u32, last: bool) -> Nonce {
    let mut n = [0u8; NONCE_LEN];
    n[..5].copy_from_slice(prefix);
    n[5..7].copy_from_slice(&part.to_be_bytes());
    n[7..11].copy_from_slice(&index.to_be_bytes());
    n[11] = u8::from(last);
    Nonce::assume_unique_for_key(n)
}

/// The self-describing header in front of every sealed part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// One of `MODE_SSE_S3`, `MODE_SSE_KMS`, `MODE_SSE_C`.
    pub mode: u8,
    /// Part number (0 for a single PUT).
    pub part: u16,
    /// Random per-object nonce prefix.
    pub prefix: [u8; 5],
    /// Identifies the KEK (UTF-8, at most 255 bytes).
    pub key_id: String,
    /// The data key wrapped by the KEK (at most 255 bytes).
    pub wrapped: Vec<u8>,
}

impl Header {
    /// Checks that the header can be encoded (key id and wrapped key at most 255 bytes each).
    pub fn validate(&self) -> Result<(), CryptError> {
        if self.key_id.len() > 255 || self.wrapped.len() > 255 {
            return Err(CryptError::BadHeader("key id or wrapped key longer than 255 bytes".into()));
        }
        Ok(())
    }

    /// Encoded length in bytes; depends only on the key id and wrapped key lengths.
    pub fn encoded_len(&self) -> u64 {
        (HEADER_FIXED + self.key_id.len() + self.wrapped.len()) as u64
    }

    /// The header's bytes.
    ///
    /// # Panics
    /// If [`Header::validate`] fails: a key id or wrapped key longer than 255 bytes is a caller bug.
    pub fn encode(&self) -> Vec<u8> {
        let kid = u8::try_from(self.key_id.len()).expect("key id longer than 255 bytes");
        let wl = u8::try_from(self.wrapped.len()).expect("wrapped key longer than 255 bytes");
        let mut out = Vec::with_capacity(self.encoded_len() as usize);
        out.extend_from_slice(MAGIC);
        out.push(self.mode);
        out.extend_from_slice(&self.part.to_be_bytes());
        out.extend_from_slice(&self.prefix);
        out.push(FRAME_LEN_LOG2);
        out.push(kid);
        out.extend_from_slice(self.key_id.as_bytes());
        out.push(wl);
        out.extend_from_slice(&self.wrapped);
        out
    }

    /// Parses a header from the start of `bytes`; returns it and the number of bytes consumed.
    pub fn decode(bytes: &[u8]) -> Result<(Header, usize), CryptError> {
        let bad = |m: &str| CryptError::BadHeader(m.to_string());
        let short = || bad("truncated header");
        if bytes.len() < 4 {
            return Err(short());
        }
        if &bytes[..4] != MAGIC {
            return Err(bad("bad magic"));
        }
        if bytes.len() < HEADER_FIXED - 1 {
            return Err(short());
        }
        let mode = bytes[4];
        if !(MODE_SSE_S3..=MODE_SSE_C).contains(&mode) {
            return Err(bad("unknown mode"));
        }
        let part = u16::from_be_bytes([bytes[5], bytes[6]]);
        let prefix: [u8; 5] = bytes[7..12].try_into().expect("5 bytes");
        if bytes[12] != FRAME_LEN_LOG2 {
            return Err(bad("unsupported frame length"));
        }
        let kid_len = usize::from(bytes[13]);
        let kid_end = 14 + kid_len;
        let wl = usize::from(*bytes.get(kid_end).ok_or_else(short)?);
        let end = kid_end + 1 + wl;
        if bytes.len() < end {
            return Err(short());
        }
        let key_id = std::str::from_utf8(&bytes[14..kid_end]).map_err(|_| bad("key id not UTF-8"))?.to_string();
        let wrapped = bytes[kid_end + 1..end].to_vec();
        Ok((Header { mode, part, prefix, key_id, wrapped }, end))
    }
}

/// Streaming encryptor of one part. Emits the header, then each frame as soon as it is known not to be the last.
pub struct Sealer {
    key: LessSafeKey,
    prefix: [u8; 5],
    part: u16,
    index: u32,
    /// Output ready to hand out (`..frame_start`), then the current frame's plaintext (`frame_start..`).
    out: BytesMut,
    frame_start: usize,
}

impl Sealer {
    /// A sealer for the part described by `header`, encrypting with `dk`.
    ///
    /// # Panics
    /// If the header cannot be encoded (see [`Header::encode`]).
    pub fn new(dk: &DataKey, header: &Header) -> Sealer {
        let mut out = BytesMut::with_capacity(header.encoded_len() as usize + FRAME + TAG);
        out.extend_from_slice(&header.encode());
        let frame_start = out.len();
        Sealer { key: aead_key(dk.bytes()), prefix: header.prefix, part: header.part, index: 0, out, frame_start }
    }

    /// Adds plaintext; returns the sealed bytes completed so far (possibly empty).
    pub fn push(&mut self, mut plain: &[u8]) -> Bytes {
        // Room up to the end of the frame holding the last byte: at most one reallocation per push, and a
        // small push into an open frame needs none (reallocating copies only the open frame).
        let open = self.out.len() - self.frame_start;
        self.out.reserve((open + plain.len()).div_ceil(FRAME).max(1) * (FRAME + TAG) - open);
        while !plain.is_empty() {
            // A full frame is sealed only once more data arrives: it might otherwise be the last.
            if self.out.len() - self.frame_start == FRAME {
                self.seal_frame(false);
            }
            let n = (FRAME - (self.out.len() - self.frame_start)).min(plain.len());
            self.out.extend_from_slice(&plain[..n]);
            plain = &plain[n..];
        }
        let ready = std::mem::take(&mut self.frame_start);
        if ready == 0 {
            return Bytes::new();
        }
        self.out.split_to(ready).freeze()
    }

    /// Seals the final frame (last flag set) and returns the remaining sealed bytes.
    pub fn finish(mut self) -> Bytes {
        self.out.reserve(TAG);
        self.seal_frame(true);
        self.out.freeze()
    }

    fn seal_frame(&mut self, last: bool) {
        let n = nonce(&self.prefix, self.part, self.index, last);
        let tag = self.key.seal_in_place_separate_tag(n, Aad::empty(), &mut self.out[self.frame_start..]).expect("frame fits AES-GCM limits");
        self.out.extend_from_slice(tag.as_ref());
        self.frame_start = self.out.len();
        // u32 frames of 64 KiB is 256 TiB per part, far beyond any S3 part.
        self.index += 1;
    }
}

/// Where a plaintext range lives in a sealed part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Span {
    /// Byte range of the sealed part holding the whole frames that cover the plaintext range.
    pub cipher: Range<u64>,
    /// Index of the first frame in `cipher`.
    pub first_frame: u32,
    /// Plaintext bytes to drop from the start of the first decrypted frame.
    pub skip: u64,
    /// Plaintext bytes to return (the range length).
    pub take: u64,
}

/// Plaintext length of frame `i`.
fn frame_plain_len(plain_len: u64, i: u64) -> u64 {
    plain_len.saturating_sub(i * FRAME_LEN).min(FRAME_LEN)
}

/// Maps a plaintext `range` (clamped to `0..plain_len`) to the frames covering it. An empty range maps to the
/// frame holding its start, so even an empty read authenticates one frame.
pub fn cipher_span(header_len: u64, plain_len: u64, range: Range<u64>) -> Span {
    let end = range.end.min(plain_len);
    let start = range.start.min(end);
    let last_frame = frames(plain_len) - 1;
    let first = (start / FRAME_LEN).min(last_frame);
    let last = if start == end { first } else { (end - 1) / FRAME_LEN };
    let stride = FRAME_LEN + TAG_LEN;
    let cipher = header_len + first * stride..header_len + last * stride + frame_plain_len(plain_len, last) + TAG_LEN;
    Span { cipher, first_frame: first as u32, skip: start - first * FRAME_LEN, take: end - start }
}

fn io_err(kind: io::ErrorKind, e: CryptError) -> io::Error {
    io::Error::new(kind, e)
}

fn long() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, "cipher stream longer than the requested frames")
}

struct Opener<S> {
    cipher: std::pin::Pin<Box<S>>,
    key: LessSafeKey,
    prefix: [u8; 5],
    part: u16,
    plain_len: u64,
    buf: BytesMut,
    /// Next frame to decrypt, and the last one wanted.
    index: u64,
    end_frame: u64,
    skip: u64,
    take: u64,
}

impl<S: Stream<Item = io::Result<Bytes>> + Send + 'static> Opener<S> {
    /// Length of frame `index` with its tag.
    fn sealed_frame_len(&self, index: u64) -> usize {
        (frame_plain_len(self.plain_len, index) + TAG_LEN) as usize
    }

    /// The next frames of the cipher stream, and how many: the next one (awaited), with every whole frame
    /// after it that is already buffered. Frames within one chunk are decrypted where the chunk lies (no
    /// copy when nothing else holds the chunk, as with the backends' reads); only a frame split across
    /// chunks is gathered by copying, and comes alone.
    async fn next_frames(&mut self) -> io::Result<(BytesMut, u64)> {
        let need = self.sealed_frame_len(self.index);
        while self.buf.len() < need {
            let mut chunk = match self.cipher.next().await {
                Some(chunk) => chunk?,
                None => return Err(io_err(io::ErrorKind::UnexpectedEof, CryptError::Truncated)),
            };
            if self.buf.is_empty() {
                self.buf = BytesMut::from(chunk);
                continue;
            }
            let take = (need - self.buf.len()).min(chunk.len());
            self.buf.extend_from_slice(&chunk[..take]);
            if self.buf.len() == need {
                chunk.advance(take);
                return Ok((std::mem::replace(&mut self.buf, BytesMut::from(chunk)), 1));
            }
        }
        let (mut len, mut count) = (need, 1);
        while self.index + count <= self.end_frame && self.buf.len() >= len + self.sealed_frame_len(self.index + count) {
            len += self.sealed_frame_len(self.index + count);
            count += 1;
        }
        Ok((self.buf.split_to(len), count))
    }

    /// Next non-empty plaintext chunk, `None` at the end of the range.
    async fn next_chunk(&mut self) -> io::Result<Option<Bytes>> {
        let last_frame = frames(self.plain_len) - 1;
        while self.index <= self.end_frame {
            let (mut sealed, count) = self.next_frames().await?;
            // Each frame's plaintext is written up against the previous one's, over the tags between them,
            // in the same pass as its decryption: the frames come out as one contiguous chunk.
            let (mut plain, mut at) = (0, 0);
            for index in self.index..self.index + count {
                let len = frame_plain_len(self.plain_len, index) as usize;
                let n = nonce(&self.prefix, self.part, index as u32, index == last_frame);
                if self.key.open_within(n, Aad::empty(), &mut sealed[plain..at + len + TAG], at - plain..).is_err() {
                    return Err(io_err(io::ErrorKind::InvalidData, CryptError::Frame { index }));
                }
                plain += len;
                at += len + TAG;
            }
            self.index += count;
            sealed.truncate(plain);
            let skip = std::mem::take(&mut self.skip) as usize;
            let n = (plain - skip).min(self.take as usize);
            self.take -= n as u64;
            if n > 0 {
                return Ok(Some(sealed.freeze().slice(skip..skip + n)));
            }
        }
        // Everything wanted is decrypted; the cipher stream must be exhausted too.
        if !self.buf.is_empty() {
            return Err(long());
        }
        while let Some(chunk) = self.cipher.next().await {
            if !chunk?.is_empty() {
                return Err(long());
            }
        }
        Ok(None)
    }
}

/// Decrypts the plaintext `range` of a sealed part. `cipher` must yield exactly the bytes of
/// `cipher_span(header_len, plain_len, range).cipher`, in any chunking. Authentication failure yields an
/// `InvalidData` error, a short stream `UnexpectedEof`; the stream ends after an error.
pub fn open_range<S>(
    dk: &DataKey,
    prefix: [u8; 5],
    part: u16,
    header_len: u64,
    plain_len: u64,
    range: Range<u64>,
    cipher: S,
) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static + use<S>
where
    S: Stream<Item = io::Result<Bytes>> + Send + 'static,
{
    let span = cipher_span(header_len, plain_len, range);
    let first = u64::from(span.first_frame);
    let end_frame = (span.cipher.end - header_len - 1) / (FRAME_LEN + TAG_LEN);
    let opener = Opener {
        cipher: Box::pin(cipher),
        key: aead_key(dk.bytes()),
        prefix,
        part,
        plain_len,
        buf: BytesMut::new(),
        index: first,
        end_frame,
        skip: span.skip,
        take: span.take,
    };
    futures::stream::try_unfold(opener, |mut o| async move { Ok(o.next_chunk().await?.map(|c| (c, o))) })
}

#[cfg(test)]
mod tests {
    use super::super::MODE_SSE_KMS;
    use super::super::key::hex;
    use super::*;

    const F: u64 = FRAME_LEN;
    const LENS: [u64; 6] = [0, 1, F - 1, F, F + 1, 3 * F + 5];

    fn header(part: u16) -> Header {
        Header { mode: MODE_SSE_KMS, part, prefix: [1, 2, 3, 4, 5], key_id: "ring/k1".into(), wrapped: vec![9; 60] }
    }

    fn data(len: u64) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    /// Seals `plain`, pushing in chunks cycling through `chunks`.
    fn seal(dk: &DataKey, h: &Header, plain: &[u8], chunks: &[usize]) -> Vec<u8> {
        let mut s = Sealer::new(dk, h);
        let mut out = Vec::new();
        let (mut rest, mut i) = (plain, 0);
        while !rest.is_empty() {
            let n = chunks[i % chunks.len()].min(rest.len());
            let b = s.push(&rest[..n]);
            // Nothing beyond one buffered frame may be held back.
            assert!(out.len() + b.len() + FRAME + TAG >= h.encoded_len() as usize + (plain.len() - rest.len() + n));
            out.extend_from_slice(&b);
            rest = &rest[n..];
            i += 1;
        }
        out.extend_from_slice(&s.finish());
        out
    }

    fn open(dk: &DataKey, part: u16, plain_len: u64, range: Range<u64>, cipher: Vec<u8>, chunk: usize) -> io::Result<Vec<u8>> {
        let chunks: Vec<io::Result<Bytes>> = cipher.chunks(chunk.max(1)).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
        let hl = header(part).encoded_len();
        let s = open_range(dk, [1, 2, 3, 4, 5], part, hl, plain_len, range, futures::stream::iter(chunks));
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(async move {
            let mut s = std::pin::pin!(s);
            let mut out = Vec::new();
            while let Some(c) = s.next().await {
                let c = c?;
                assert!(!c.is_empty());
                out.extend_from_slice(&c);
            }
            Ok(out)
        })
    }

    /// Opens `range` by slicing the span out of a whole sealed part.
    fn open_slice(dk: &DataKey, part: u16, plain_len: u64, range: Range<u64>, sealed: &[u8], chunk: usize) -> io::Result<Vec<u8>> {
        let span = cipher_span(header(part).encoded_len(), plain_len, range.clone());
        open(dk, part, plain_len, range, sealed[span.cipher.start as usize..span.cipher.end as usize].to_vec(), chunk)
    }

    fn kind(r: io::Result<Vec<u8>>) -> io::ErrorKind {
        r.expect_err("must fail").kind()
    }

    #[test]
    fn send() {
        fn is_send<T: Send>(_: &T) {}
        is_send(&Sealer::new(&DataKey::generate(), &header(0)));
        is_send(&open_range(&DataKey::generate(), [0; 5], 0, 0, 0, 0..0, futures::stream::empty()));
    }

    #[test]
    fn round_trips() {
        let dk = DataKey::generate();
        let h = header(0);
        for len in LENS {
            let plain = data(len);
            for chunks in [&[1][..], &[7], &[65537], &[3, FRAME, 10_000, 1]] {
                let sealed = seal(&dk, &h, &plain, chunks);
                assert_eq!(sealed.len() as u64, sealed_len(h.encoded_len(), len), "len {len}");
                assert_eq!(Header::decode(&sealed).unwrap(), (h.clone(), h.encoded_len() as usize));
                for read_chunk in [1000, 65552, 1 << 20] {
                    assert_eq!(open(&dk, 0, len, 0..len, sealed[h.encoded_len() as usize..].to_vec(), read_chunk).unwrap(), plain, "len {len}");
                }
            }
        }
    }

    #[test]
    fn header_first_even_without_push() {
        let dk = DataKey::generate();
        let h = header(0);
        let out = Sealer::new(&dk, &h).finish();
        assert_eq!(out.len() as u64, h.encoded_len() + TAG_LEN);
        assert_eq!(&out[..h.encoded_len() as usize], &h.encode()[..]);
        let mut s = Sealer::new(&dk, &h);
        assert_eq!(s.push(b"x"), Bytes::from(h.encode()));
        assert!(s.push(b"y").is_empty());
    }

    #[test]
    fn every_range_boundary() {
        let dk = DataKey::generate();
        for len in LENS {
            let plain = data(len);
            let sealed = seal(&dk, &header(0), &plain, &[4099]);
            let mut points: Vec<u64> = (0..=4).flat_map(|k| [k * F, (k * F).saturating_sub(1), k * F + 1]).chain([len.saturating_sub(1), len]).collect();
            points.retain(|&p| p <= len);
            points.sort_unstable();
            points.dedup();
            for &a in &points {
                for &b in points.iter().filter(|&&b| b >= a) {
                    let span = cipher_span(header(0).encoded_len(), len, a..b);
                    assert_eq!(span.take, b - a);
                    let got = open_slice(&dk, 0, len, a..b, &sealed, 777).unwrap();
                    assert_eq!(got, &plain[a as usize..b as usize], "len {len} range {a}..{b}");
                }
            }
        }
    }

    #[test]
    fn span_values() {
        assert_eq!(cipher_span(20, 0, 0..0), Span { cipher: 20..36, first_frame: 0, skip: 0, take: 0 });
        let s = F + TAG_LEN;
        assert_eq!(cipher_span(20, 3 * F + 5, 3 * F + 4..3 * F + 5), Span { cipher: 20 + 3 * s..20 + 3 * s + 5 + TAG_LEN, first_frame: 3, skip: 4, take: 1 });
        assert_eq!(cipher_span(20, 3 * F + 5, F - 1..F + 1), Span { cipher: 20..20 + 2 * s, first_frame: 0, skip: F - 1, take: 2 });
        assert_eq!(cipher_span(20, 2 * F, 2 * F..2 * F), Span { cipher: 20 + s..20 + 2 * s, first_frame: 1, skip: F, take: 0 });
    }

    #[test]
    fn tampering_any_frame_fails() {
        let dk = DataKey::generate();
        let len = 3 * F + 5;
        let hl = header(0).encoded_len() as usize;
        let sealed = seal(&dk, &header(0), &data(len), &[F as usize]);
        let stride = FRAME + TAG;
        for frame in 0..4 {
            for at in [0, FRAME / 2, 4, 20] {
                let pos = hl + frame * stride + at;
                if pos >= sealed.len() {
                    continue;
                }
                let mut bad = sealed.clone();
                bad[pos] ^= 0x40;
                assert_eq!(kind(open(&dk, 0, len, 0..len, bad[hl..].to_vec(), 5000)), io::ErrorKind::InvalidData);
            }
        }
        let mut bad = sealed.clone();
        *bad.last_mut().unwrap() ^= 1;
        let err = open_slice(&dk, 0, len, len - 1..len, &bad, 100).unwrap_err();
        assert!(matches!(err.get_ref().and_then(|e| e.downcast_ref::<CryptError>()), Some(CryptError::Frame { index: 3 })));
        assert_eq!(kind(open_slice(&DataKey::generate(), 0, len, 0..1, &sealed, 100)), io::ErrorKind::InvalidData);
    }

    #[test]
    fn truncation_fails() {
        let dk = DataKey::generate();
        let len = 2 * F + 5;
        let hl = header(0).encoded_len() as usize;
        let sealed = seal(&dk, &header(0), &data(len), &[9999]);
        let cut = sealed[hl..hl + 2 * (FRAME + TAG)].to_vec();
        // Claiming the shorter length: frame 1 was not sealed as the last one.
        assert_eq!(kind(open(&dk, 0, 2 * F, 0..2 * F, cut.clone(), 4096)), io::ErrorKind::InvalidData);
        assert_eq!(kind(open(&dk, 0, 2 * F, F..2 * F, cut[FRAME + TAG..].to_vec(), 4096)), io::ErrorKind::InvalidData);
        // Keeping the true length: the stream ends early.
        assert_eq!(kind(open(&dk, 0, len, 0..len, cut, 4096)), io::ErrorKind::UnexpectedEof);
        assert_eq!(kind(open(&dk, 0, len, 0..len, sealed[hl..sealed.len() - 1].to_vec(), 4096)), io::ErrorKind::UnexpectedEof);
        assert_eq!(kind(open(&dk, 0, 0, 0..0, Vec::new(), 1)), io::ErrorKind::UnexpectedEof);
        // And a stream that runs long is refused too.
        let mut long = sealed[hl..].to_vec();
        long.push(0);
        assert_eq!(kind(open(&dk, 0, len, 0..len, long, 4096)), io::ErrorKind::InvalidData);
    }

    #[test]
    fn swapped_frames_fail() {
        let dk = DataKey::generate();
        let len = 3 * F + 5;
        let hl = header(0).encoded_len() as usize;
        let sealed = seal(&dk, &header(0), &data(len), &[12345]);
        let f = |i: usize| &sealed[hl + i * (FRAME + TAG)..hl + (i + 1) * (FRAME + TAG)];
        let swapped = [f(1), f(0), f(2), &sealed[hl + 3 * (FRAME + TAG)..]].concat();
        assert_eq!(kind(open(&dk, 0, len, 0..len, swapped, 65552)), io::ErrorKind::InvalidData);
    }

    #[test]
    fn frames_are_bound_to_their_part() {
        let dk = DataKey::generate();
        let len = 2 * F;
        let hl = header(1).encoded_len() as usize;
        let p1 = seal(&dk, &header(1), &data(len), &[F as usize]);
        let p2 = seal(&dk, &header(2), &data(len), &[F as usize]);
        assert_eq!(open(&dk, 2, len, 0..len, p2[hl..].to_vec(), 9000).unwrap(), data(len));
        assert_eq!(kind(open(&dk, 2, len, 0..len, p1[hl..].to_vec(), 9000)), io::ErrorKind::InvalidData);
        let mixed = [&p1[hl..hl + FRAME + TAG], &p2[hl + FRAME + TAG..]].concat();
        assert_eq!(kind(open(&dk, 2, len, 0..len, mixed, 9000)), io::ErrorKind::InvalidData);
    }

    #[test]
    fn header_codec() {
        let h = header(513);
        let mut enc = h.encode();
        assert_eq!(enc.len() as u64, h.encoded_len());
        enc.extend_from_slice(b"frames");
        assert_eq!(Header::decode(&enc).unwrap(), (h.clone(), h.encoded_len() as usize));
        let enc = h.encode();
        for cut in 0..enc.len() {
            assert!(matches!(Header::decode(&enc[..cut]), Err(CryptError::BadHeader(_))), "cut {cut}");
        }
        for (at, v) in [(0, b'X'), (3, b'2'), (4, 0), (4, 9), (12, 17)] {
            let mut bad = enc.clone();
            bad[at] = v;
            assert!(matches!(Header::decode(&bad), Err(CryptError::BadHeader(_))), "byte {at}");
        }
        let long = Header { key_id: "k".repeat(256), ..header(0) };
        assert!(long.validate().is_err());
        assert!(h.validate().is_ok());
    }

    #[test]
    fn aead_known_answer() {
        // McGrew-Viega GCM test case 14: AES-256, zero key, zero 96-bit IV, 16 zero bytes.
        let key = aead_key(&[0; 32]);
        let mut buf = [0u8; 16];
        let tag = key.seal_in_place_separate_tag(Nonce::assume_unique_for_key([0; 12]), Aad::empty(), &mut buf).unwrap();
        assert_eq!(hex(&buf), "cea7403d4d606b6e074ec5d3baf39d18");
        assert_eq!(hex(tag.as_ref()), "d0d1c8a799996bf0265b98b5d48ab919");
        // Through the sealer: zero prefix, part 0, frame 0 not last gives the all-zero nonce, so the same keystream.
        let h = Header { prefix: [0; 5], part: 0, ..header(0) };
        let sealed = seal(&DataKey::from_bytes([0; 32]), &h, &[0; FRAME + 1], &[FRAME + 1]);
        let hl = h.encoded_len() as usize;
        assert_eq!(hex(&sealed[hl..hl + 16]), "cea7403d4d606b6e074ec5d3baf39d18");
        // An empty single-frame body under the zero nonce with last=1 differs from last=0.
        let empty = Sealer::new(&DataKey::from_bytes([0; 32]), &h).finish();
        let tag0 = key.seal_in_place_separate_tag(Nonce::assume_unique_for_key([0; 12]), Aad::empty(), &mut []).unwrap();
        assert_ne!(&empty[hl..], tag0.as_ref());
        let mut n1 = [0u8; 12];
        n1[11] = 1;
        let tag1 = key.seal_in_place_separate_tag(Nonce::assume_unique_for_key(n1), Aad::empty(), &mut []).unwrap();
        assert_eq!(&empty[hl..], tag1.as_ref());
    }

    #[test]
    fn upstream_error_passes_through() {
        let dk = DataKey::generate();
        let chunks = vec![Err(io::Error::other("disk"))];
        let s = open_range(&dk, [0; 5], 0, 10, 5, 0..5, futures::stream::iter(chunks));
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(async move {
            let mut s = std::pin::pin!(s);
            assert_eq!(s.next().await.unwrap().unwrap_err().kind(), io::ErrorKind::Other);
            assert!(s.next().await.is_none());
        });
    }
}

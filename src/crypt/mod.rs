//! Encryption at rest for object bytes (format version 1).
//!
//! # Key hierarchy
//!
//! Every object gets a fresh random 256-bit data key. The data key is wrapped (AES-256-GCM) by a
//! key-encryption key (KEK): for SSE-S3 a gateway key derived from the master key (with [`Kek::derive`]; each version of the SSE-S3
//! key has its own), for
//! SSE-KMS a key from the keyring, for SSE-C the customer's own 32-byte key (recognised later by
//! [`key_digest`], never stored). The wrap is bound to a caller-chosen context (the AAD: the
//! gateway binds the mode and key names), which is not stored in the header. The wrapped key is stored both in the header of every sealed
//! part and in the object's record, so rotating a KEK only rewraps 60 bytes, never the data.
//!
//! # Why frames
//!
//! The plaintext is sealed in frames of [`FRAME_LEN`] (64 KiB) bytes, each its own AES-256-GCM message. A
//! ranged read fetches and decrypts only the frames covering the range ([`cipher_span`], [`open_range`]),
//! and each frame is authenticated before any of its bytes are returned. Nonces carry the frame index, the
//! part number and a last-frame flag, so reordering frames, moving them between parts, or cutting the stream
//! at a frame boundary all fail authentication.
//!
//! # Sealed part layout
//!
//! A single PUT is one sealed part (part number 0); each multipart part is sealed separately under the same
//! data key and prefix with its part number. All integers are big-endian.
//!
//! | offset     | length | field                                                        |
//! |------------|--------|--------------------------------------------------------------|
//! | 0          | 4      | magic `b"TGE1"`                                              |
//! | 4          | 1      | mode: 1 SSE-S3, 2 SSE-KMS, 3 SSE-C                           |
//! | 5          | 2      | part number (u16)                                            |
//! | 7          | 5      | nonce prefix (random per object)                             |
//! | 12         | 1      | log2 of the frame length, always 16                          |
//! | 13         | 1      | `k` = key id length                                          |
//! | 14         | k      | key id (UTF-8)                                               |
//! | 14+k       | 1      | `w` = wrapped key length (60)                                |
//! | 15+k       | w      | wrapped key: nonce (12) ‖ AES-256-GCM(KEK, AAD = context) of the data key (32) ‖ tag (16) |
//! | 15+k+w     | …      | frames 0..n                                                  |
//!
//! There are `n = max(1, ceil(plain_len / 65536))` frames. Frame `i` is the AES-256-GCM ciphertext ‖ 16-byte
//! tag of plaintext bytes `65536*i ..` (65536 bytes, except the last frame, which holds the rest and may be
//! empty), under the data key with empty AAD and the 12-byte nonce
//!
//! `prefix (5) ‖ part (u16) ‖ i (u32) ‖ last (1 byte: 1 for frame n-1, else 0)`.
//!
//! # Decrypting by hand
//!
//! `tools/decrypt.py` decrypts a stored object (one sealed stream) with Python's
//! `cryptography` and its KEK, as this layout says; the tests run it against objects the
//! gateway stored. The gateway's wrap context is `tollgate sse v1\0{sse-s3|sse-kms|sse-c}\0{key
//! id}\0{SSE-KMS context}` (`backend::sealed::wrap_context`).

mod frame;
mod key;

pub use frame::{FRAME_LEN, Header, Sealer, Span, TAG_LEN, cipher_span, frames, open_range, random_prefix, sealed_len};
pub use key::{DataKey, Kek, WRAPPED_LEN, key_digest};

/// Header mode: SSE-S3 (KEK derived from the gateway master key).
pub const MODE_SSE_S3: u8 = 1;
/// Header mode: SSE-KMS (KEK from the keyring).
pub const MODE_SSE_KMS: u8 = 2;
/// Header mode: SSE-C (KEK is the customer's key).
pub const MODE_SSE_C: u8 = 3;

/// Errors of the encryption layer.
#[derive(Debug, thiserror::Error)]
pub enum CryptError {
    /// The sealed header is malformed or unsupported.
    #[error("bad encryption header: {0}")]
    BadHeader(String),
    /// The wrapped data key did not open: wrong key or wrong context.
    #[error("cannot unwrap data key: wrong key or context")]
    Unwrap,
    /// A frame failed authentication (tampered, reordered, or from another part).
    #[error("encrypted frame {index} failed authentication")]
    Frame {
        /// Index of the failing frame within its part.
        index: u64,
    },
    /// The sealed stream ended before the frames it should hold.
    #[error("encrypted stream truncated")]
    Truncated,
}

//! Encryption at rest on the object layer's byte paths: a body is hashed (plaintext: the
//! proof, checksums and ETag are the client's bytes') and sealed in frames
//! ([`crate::crypt`]) on its way to the engine, which stores only ciphertext and never knows;
//! a read maps the plaintext range asked for onto the frames (of each part) that hold it,
//! reads just those and opens them.

use super::Error;
use super::engine::{Engine, Incoming, Received};
use super::s3util::BodyCheck;
use super::scrub::ByteStream;
use crate::crypt::{DataKey, Header, Kek, Sealer, cipher_span, open_range, sealed_len};
use crate::meta::{KeyringKey, ObjectRecord, Sealing, SseMode, Store};
use crate::proof::hashing::BodyHasher;

use std::ops::Range;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt};
use s3s::dto::StreamingBlob;

/// Opens the data key of a sealed object or upload: the S3 layer's, knowing the gateway's
/// keys and the request's customer key; refuses as S3 does (a missing or wrong SSE-C key).
pub trait OpenKey: Send + Sync {
    /// The data key `sealing` wraps.
    ///
    /// # Errors
    /// The S3 error refusing it.
    fn open(&self, sealing: &Sealing) -> Result<DataKey, Error>;

    /// Whether the request gave an SSE-C key: S3 refuses one for an object not sealed
    /// under a customer's key ([`ENCRYPTION_NOT_APPLICABLE`]).
    fn customer_key_given(&self) -> bool {
        false
    }
}

/// Why SSE-C parameters sent for an object not sealed under a customer's key are refused
/// (400 InvalidRequest, as S3 answers).
pub const ENCRYPTION_NOT_APPLICABLE: &str = "The encryption parameters are not applicable to this object.";

/// Refuses a read that gave an SSE-C key for an object stored in plaintext.
///
/// # Errors
/// `InvalidRequest` with [`ENCRYPTION_NOT_APPLICABLE`].
pub fn refuse_customer_key(keys: Option<&dyn OpenKey>) -> Result<(), Error> {
    match keys {
        Some(k) if k.customer_key_given() => Err(Error::InvalidRequest(ENCRYPTION_NOT_APPLICABLE.into())),
        _ => Ok(()),
    }
}

/// The gateway's own keys for sealed objects, derived from its master key: the key
/// wrapping SSE-S3 data keys (and those of open SSE-C uploads), and the key of the hash
/// that recognises an SSE-C key. They open what the gateway may open by itself: what
/// maintenance (scrub, migrate) and completions read.
pub struct GatewayKeys {
    /// Wraps SSE-S3 data keys at version 0 (before any rotation of the SSE-S3 key).
    wrapping: Kek,
    /// Derives the SSE-S3 key's later versions ([`SSE_S3_KEY`]).
    sse_s3_versions: Kek,
    digest: Kek,
    /// Wraps the keyring's keys (SSE-KMS), which the store keeps only wrapped.
    keyring: Kek,
    store: Arc<dyn Store>,
    /// Whether the default key is created here at its first use; in a cluster it is
    /// created through the control log instead (see [`GatewayKeys::new_keyring_key`]).
    lazy_default: bool,
}

/// The keyring key SSE-KMS uses when a request and its bucket name none (AWS's `aws/s3`),
/// created at its first use.
pub const DEFAULT_KMS_KEY: &str = "default";

/// The keyring entry whose versions are the SSE-S3 key's after its first rotation (its
/// version 0 is the key derived from the master key): an id no SSE-KMS key can have, so
/// no client can name it. Each version's key is derived from the master key too
/// ([`GatewayKeys::sse_s3_kek_of`]), so that the stored bytes of an SSE-S3 object decrypt
/// with the master key alone (`tools/decrypt.py`).
pub const SSE_S3_KEY: &str = "@sse-s3";

/// A keyring key id as clients may give it (an id, or a key ARN ending in `key/{id}`).
///
/// # Errors
/// An id of other characters than letters, digits, `-` and `_`, or over 64 of them.
pub fn kms_key_id(given: &str) -> Result<&str, Error> {
    let id = given.rsplit_once(":key/").map_or(given, |(_, id)| id);
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(kms_error("KMS.NotFoundException", format!("Invalid keyId '{given}'")));
    }
    Ok(id)
}

fn kms_error(code: &'static str, message: String) -> Error {
    Error::BadRequest { code, message }
}

/// A report of one re-wrap pass (after a rotation of a keyring key or of the SSE-S3 key).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct RewrapReport {
    /// Object versions sealed under an older version of their key, re-wrapped.
    pub rewrapped: u64,
    /// Object versions sealed with SSE-KMS, or with SSE-S3 once its key was rotated, looked at.
    pub sealed: u64,
    /// Whether the pass stopped at its bound (the next one resumes).
    pub more: bool,
}

impl std::fmt::Debug for GatewayKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GatewayKeys(..)")
    }
}

const ESCROW_CONTEXT: &[u8] = b"tollgate upload escrow v1";

impl GatewayKeys {
    /// The keys, from the master key's derivations for these uses; the keyring's keys are
    /// in `store`.
    #[must_use]
    pub fn new(wrapping: Kek, sse_s3_versions: Kek, digest: Kek, keyring: Kek, store: Arc<dyn Store>, lazy_default: bool) -> Self {
        Self { wrapping, sse_s3_versions, digest, keyring, store, lazy_default }
    }

    /// A new keyring key `id`, with its first version. The default key's first version is
    /// derived from the master key rather than drawn, so that it is the same key whichever
    /// instance of a cluster creates it.
    #[must_use]
    pub fn new_keyring_key(&self, id: &str) -> KeyringKey {
        let first = if id == DEFAULT_KMS_KEY {
            base64_simd::STANDARD.encode_to_string(self.keyring.wrap(&self.keyring.derive_key(id), id.as_bytes()))
        } else {
            self.new_keyring_version(id, 1)
        };
        KeyringKey { id: id.to_owned(), created_ns: crate::clock::now_ns(), enabled: true, versions: vec![first] }
    }

    /// Key material for version `version` (from 1) of keyring key `id`, wrapped as the store
    /// keeps it: fresh, or for [`SSE_S3_KEY`] derived from the master key.
    #[must_use]
    pub fn new_keyring_version(&self, id: &str, version: usize) -> String {
        let material = if id == SSE_S3_KEY { self.sse_s3_kek_of(version) } else { DataKey::generate() };
        base64_simd::STANDARD.encode_to_string(self.keyring.wrap(&material, id.as_bytes()))
    }

    /// The SSE-S3 key of version `version` (from 1): HMAC-SHA256 of the master-derived
    /// versions key, labelled with the key id SSE-S3 headers carry ([`sse_s3_key_id`]).
    fn sse_s3_kek_of(&self, version: usize) -> DataKey {
        self.sse_s3_versions.derive_key(&sse_s3_key_id(version))
    }

    /// Whether the keyring has no key `id`.
    ///
    /// # Errors
    /// The store's.
    pub fn keyring_missing(&self, id: &str) -> Result<bool, Error> {
        Ok(self.store.keyring_get(id).map_err(Error::Meta)?.is_none())
    }

    /// The enabled keyring key `id`; the default key is created at its first use (in a
    /// cluster, by the control log's job).
    fn keyring_key(&self, id: &str) -> Result<KeyringKey, Error> {
        let key = match self.store.keyring_get(id).map_err(Error::Meta)? {
            Some(key) => key,
            None if id == DEFAULT_KMS_KEY && self.lazy_default => {
                let key = self.new_keyring_key(id);
                self.store.keyring_put(&key, None).map_err(Error::Meta)?;
                key
            }
            None if id == DEFAULT_KMS_KEY => {
                return Err(Error::Unavailable("the cluster's default keyring key is being created: retry in a second".into()));
            }
            None => return Err(kms_error("KMS.NotFoundException", format!("Key '{id}' does not exist"))),
        };
        if !key.enabled {
            return Err(kms_error("KMS.DisabledException", format!("Key '{id}' is disabled.")));
        }
        Ok(key)
    }

    /// The key-encryption key of version `version` (from 1) of keyring key `key`.
    fn keyring_kek(&self, key: &KeyringKey, version: u32) -> Result<Kek, Error> {
        let wrapped = usize::try_from(version).ok().and_then(|v| key.versions.get(v.checked_sub(1)?)).ok_or_else(|| corrupt("keyring key version"))?;
        let raw = base64_simd::STANDARD.decode_to_vec(wrapped.as_bytes()).map_err(|_| corrupt("keyring key"))?;
        let material = self.keyring.unwrap(&raw, key.id.as_bytes()).map_err(|_| corrupt("keyring key (it does not open with the master key)"))?;
        Ok(Kek::from_bytes(*material.bytes()))
    }

    /// How SSE-KMS seals under keyring key `id` (its current version), binding `context`
    /// (the client's `x-amz-server-side-encryption-context`, as sent).
    ///
    /// # Errors
    /// `KMS.NotFoundException` for an unknown key, `KMS.DisabledException` for a disabled one.
    pub fn sse_kms(&self, id: &str, context: &str) -> Result<Seal, Error> {
        let key = self.keyring_key(kms_key_id(id)?)?;
        let version = u32::try_from(key.versions.len()).unwrap_or(u32::MAX);
        let template = Sealing { key_id: key.id.clone(), key_version: version, context: context.to_owned(), ..Sealing::of(SseMode::Kms) };
        Ok(Seal { template, kek: self.keyring_kek(&key, version)? })
    }

    /// Re-wraps, under the current version of their key, the data keys of SSE-KMS objects
    /// (every version) sealed under an older version of their keyring key, and of SSE-S3
    /// objects under an older version of the SSE-S3 key: after a rotation no object depends
    /// on the old version's material, and no object byte is rewritten. Bounded to `max`
    /// re-wraps per pass.
    ///
    /// # Errors
    /// The store's.
    pub fn rewrap(&self, buckets: &[String], max: u64) -> Result<RewrapReport, Error> {
        let mut report = RewrapReport::default();
        let current: std::collections::HashMap<String, KeyringKey> =
            self.store.keyring_list().map_err(Error::Meta)?.into_iter().filter(|k| k.enabled).map(|k| (k.id.clone(), k)).collect();
        for bucket in buckets {
            let mut stale = Vec::new();
            for entry in self
                .store
                .object_scan(bucket, "", None)
                .map(|r| r.map(|(k, rec)| (k, None, rec)))
                .chain(self.store.version_scan(bucket, "", None).filter_map(|r| r.map(|(k, v)| v.object.map(|o| (k, Some(v.version_id), o))).transpose()))
            {
                let (key, version, rec) = entry.map_err(Error::Meta)?;
                let Some(sealing) = rec.sealing else { continue };
                let ring = match sealing.mode {
                    SseMode::Kms => current.get(&sealing.key_id),
                    SseMode::S3 => current.get(SSE_S3_KEY),
                    SseMode::Customer => continue,
                };
                if sealing.mode == SseMode::Kms || ring.is_some() {
                    report.sealed += 1;
                }
                let Some(ring) = ring else { continue };
                if usize::try_from(sealing.key_version).unwrap_or(usize::MAX) < ring.versions.len() {
                    stale.push((key, version, sealing));
                }
            }
            for (key, version, from) in stale {
                if report.rewrapped >= max {
                    report.more = true;
                    return Ok(report);
                }
                let data_key = self.open(&from)?;
                let to = match from.mode {
                    SseMode::S3 => self.sse_s3()?.rewrap(&data_key, &from),
                    _ => Sealing { bucket_key: from.bucket_key, ..self.sse_kms(&from.key_id, &from.context)?.rewrap(&data_key, &from) },
                };
                let changed = self
                    .store
                    .version_update(
                        bucket,
                        &key,
                        version.as_deref(),
                        &|rec| match &rec.sealing {
                            // Changed meanwhile (overwritten, re-wrapped): left as it is.
                            Some(s) if *s == from => {
                                rec.sealing = Some(to.clone());
                                Ok(())
                            }
                            _ => Err(crate::meta::Error::PreconditionFailed),
                        },
                        None,
                    )
                    .or_else(|e| if matches!(e, crate::meta::Error::PreconditionFailed) { Ok(false) } else { Err(e) })
                    .map_err(Error::Meta)?;
                report.rewrapped += u64::from(changed);
            }
        }
        Ok(report)
    }

    /// How SSE-S3 seals: under the current version of its key.
    ///
    /// # Errors
    /// The store's; a keyring entry of the SSE-S3 key that does not open.
    pub fn sse_s3(&self) -> Result<Seal, Error> {
        let Some(ring) = self.store.keyring_get(SSE_S3_KEY).map_err(Error::Meta)? else {
            return Ok(Seal { template: Sealing::of(SseMode::S3), kek: self.wrapping.clone() });
        };
        let version = u32::try_from(ring.versions.len()).unwrap_or(u32::MAX);
        let template = Sealing { key_id: sse_s3_key_id(ring.versions.len()), key_version: version, ..Sealing::of(SseMode::S3) };
        Ok(Seal { template, kek: self.keyring_kek(&ring, version)? })
    }

    /// The key that wrapped an SSE-S3 data key: version 0, or a version of [`SSE_S3_KEY`].
    fn sse_s3_kek(&self, version: u32) -> Result<Kek, Error> {
        if version == 0 {
            return Ok(self.wrapping.clone());
        }
        let ring = self.store.keyring_get(SSE_S3_KEY).map_err(Error::Meta)?.ok_or_else(|| corrupt("SSE-S3 key version (the keyring has none)"))?;
        self.keyring_kek(&ring, version)
    }

    /// The keyed hash recognising the SSE-C key `customer_key`.
    #[must_use]
    pub fn customer_digest(&self, customer_key: &[u8]) -> String {
        self.digest.digest_of(customer_key)
    }

    /// `key` wrapped by the gateway's key while an SSE-C upload is open (see
    /// [`crate::meta::UploadRecord::escrow_key`]).
    #[must_use]
    pub fn escrow(&self, key: &DataKey) -> String {
        base64_simd::STANDARD.encode_to_string(self.wrapping.wrap(key, ESCROW_CONTEXT))
    }

    /// The data key an open upload's escrow holds.
    ///
    /// # Errors
    /// An escrow this gateway's key did not make.
    pub fn open_escrow(&self, escrow: &str) -> Result<DataKey, Error> {
        let wrapped = base64_simd::STANDARD.decode_to_vec(escrow.as_bytes()).map_err(|_| corrupt("escrowed key"))?;
        self.wrapping.unwrap(&wrapped, ESCROW_CONTEXT).map_err(|_| corrupt("escrowed key"))
    }
}

impl OpenKey for GatewayKeys {
    fn open(&self, sealing: &Sealing) -> Result<DataKey, Error> {
        match sealing.mode {
            SseMode::S3 => {
                let wrapped = base64_simd::STANDARD.decode_to_vec(sealing.wrapped_key.as_bytes()).map_err(|_| corrupt("wrapped key"))?;
                let kek = self.sse_s3_kek(sealing.key_version)?;
                kek.unwrap(&wrapped, &wrap_context(sealing)).map_err(|_| corrupt("wrapped key (it does not open with the gateway's key)"))
            }
            SseMode::Customer => Err(Error::InvalidRequest(super::reads::SEALED_NEEDS_KEY.into())),
            SseMode::Kms => {
                let kek = self.keyring_kek(&self.keyring_key(&sealing.key_id)?, sealing.key_version)?;
                let wrapped = base64_simd::STANDARD.decode_to_vec(sealing.wrapped_key.as_bytes()).map_err(|_| corrupt("wrapped key"))?;
                kek.unwrap(&wrapped, &wrap_context(sealing)).map_err(|_| corrupt("wrapped key (it does not open with its keyring key)"))
            }
        }
    }
}

/// How new bytes are to be sealed: the mode the request (or its bucket, or the gateway)
/// chose, with the key that wraps data keys in it.
pub struct Seal {
    /// The sealing's mode and key names (its wrapped key, prefix and header are set per use).
    pub template: Sealing,
    /// The key wrapping data keys in this mode.
    pub kek: Kek,
}

/// The key id an SSE-S3 sealing (and its stream headers) carries at version `version` of
/// the SSE-S3 key: none at version 0, else `v{version}`.
#[must_use]
pub fn sse_s3_key_id(version: usize) -> String {
    if version == 0 { String::new() } else { format!("v{version}") }
}

/// The wrap context binding a wrapped data key to its mode and key names.
#[must_use]
pub fn wrap_context(sealing: &Sealing) -> Vec<u8> {
    let mode = match sealing.mode {
        SseMode::S3 => "sse-s3",
        SseMode::Kms => "sse-kms",
        SseMode::Customer => "sse-c",
    };
    format!("tollgate sse v1\0{mode}\0{}\0{}", sealing.key_id, sealing.context).into_bytes()
}

/// The header of one sealed stream (part 0 for a whole object): the mode, key id and
/// wrapped key as written, so the stored bytes describe themselves; the record's sealing
/// is authoritative (a copy or rotation re-wraps the key there only).
fn header(sealing: &Sealing, part: u16) -> Result<Header, Error> {
    let mode = match sealing.mode {
        SseMode::S3 => crate::crypt::MODE_SSE_S3,
        SseMode::Kms => crate::crypt::MODE_SSE_KMS,
        SseMode::Customer => crate::crypt::MODE_SSE_C,
    };
    let wrapped = base64_simd::STANDARD.decode_to_vec(sealing.wrapped_key.as_bytes()).map_err(|_| corrupt("wrapped key"))?;
    let header = Header { mode, part, prefix: prefix(sealing)?, key_id: sealing.key_id.clone(), wrapped };
    header.validate().map_err(|e| Error::InvalidArgument(e.to_string()))?;
    Ok(header)
}

/// The header a sealed single-part object's stored bytes begin with (a pending write's
/// bytes are recognised by it).
///
/// # Errors
/// A malformed sealing.
pub fn written_header(sealing: &Sealing) -> Result<Vec<u8>, Error> {
    Ok(header(sealing, 0)?.encode())
}

fn prefix(sealing: &Sealing) -> Result<[u8; 5], Error> {
    let raw = hex_simd::decode_to_vec(sealing.nonce_prefix.as_bytes()).map_err(|_| corrupt("nonce prefix"))?;
    <[u8; 5]>::try_from(raw.as_slice()).map_err(|_| corrupt("nonce prefix"))
}

fn corrupt(what: &str) -> Error {
    Error::Io(std::io::Error::new(std::io::ErrorKind::InvalidData, format!("a sealed record's {what} is malformed")))
}

impl Seal {
    /// A fresh data key, and the sealing recording it wrapped.
    ///
    /// # Errors
    /// A key id too long for the stream header.
    pub fn new_key(&self) -> Result<(DataKey, Sealing), Error> {
        let key = DataKey::generate();
        let prefix = hex_simd::encode_to_string(crate::crypt::random_prefix(), hex_simd::AsciiCase::Lower);
        let mut sealing = self.rewrap(&key, &Sealing { nonce_prefix: prefix, header_len: 0, ..self.template.clone() });
        sealing.header_len = header(&sealing, 0)?.encoded_len();
        Ok((key, sealing))
    }

    /// `like` (bytes sealed already: its prefix and header length) with `key` wrapped in
    /// this seal's mode: a copy or a rotation changes the key's wrapping, never the bytes
    /// (whose headers keep the wrapping they were written with).
    #[must_use]
    pub fn rewrap(&self, key: &DataKey, like: &Sealing) -> Sealing {
        let mut sealing = Sealing { nonce_prefix: like.nonce_prefix.clone(), header_len: like.header_len, wrapped_key: String::new(), ..self.template.clone() };
        sealing.wrapped_key = base64_simd::STANDARD.encode_to_string(self.kek.wrap(key, &wrap_context(&sealing)));
        sealing
    }
}

/// What a sealing body found: the plaintext's size and digests once read whole and
/// verified, or why it failed.
#[derive(Default)]
pub struct SealedOutcome(Mutex<Option<Result<Received, Error>>>);

impl SealedOutcome {
    /// The plaintext's size and digests, or the body's own error; `None` if it did not end.
    pub fn take(&self) -> Option<Result<Received, Error>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }

    /// The plaintext's size and digests, once the body was read whole and verified (an
    /// error stays for [`sealed_error`]).
    pub fn plaintext(&self) -> Option<Received> {
        match &*self.0.lock().unwrap_or_else(PoisonError::into_inner) {
            Some(Ok(r)) => Some(Received { size: r.size, digests: r.digests.clone() }),
            _ => None,
        }
    }

    fn set(&self, found: Result<Received, Error>) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(found);
    }
}

/// A client's body sealed on its way to the engine: hashed and checked as plaintext; its
/// final frame only comes out once every check passed, so a body failing one never leaves
/// a complete sealed stream.
struct SealingBody {
    inner: StreamingBlob,
    hasher: Option<BodyHasher>,
    check: BodyCheck,
    sealer: Option<Sealer>,
    received: u64,
    length: Option<u64>,
    outcome: Arc<SealedOutcome>,
}

impl SealingBody {
    fn fail(&mut self, e: Error) -> Poll<Option<Result<Bytes, std::io::Error>>> {
        let failed = std::io::Error::other(e.to_string());
        self.outcome.set(Err(e));
        self.sealer = None;
        Poll::Ready(Some(Err(failed)))
    }

    fn finish(&mut self) -> Poll<Option<Result<Bytes, std::io::Error>>> {
        if let Some(length) = self.length.filter(|l| *l != self.received) {
            return self.fail(Error::IncompleteBody(format!("received {} of {length} bytes", self.received)));
        }
        let (Some(hasher), Some(sealer)) = (self.hasher.take(), self.sealer.take()) else {
            return Poll::Ready(None);
        };
        let digests = hasher.finish();
        if let Err(e) = self.check.verify(&digests) {
            return self.fail(e);
        }
        self.outcome.set(Ok(Received { size: self.received, digests }));
        Poll::Ready(Some(Ok(sealer.finish())))
    }
}

impl Stream for SealingBody {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if this.sealer.is_none() {
                return Poll::Ready(None);
            }
            match Pin::new(&mut this.inner).poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    this.received += chunk.len() as u64;
                    if this.length.is_some_and(|l| this.received > l) {
                        return this.fail(Error::IncompleteBody("more bytes than announced".into()));
                    }
                    if let Some(h) = &mut this.hasher {
                        h.update(&chunk);
                    }
                    let sealed = this.sealer.as_mut().map(|s| s.push(&chunk)).unwrap_or_default();
                    if !sealed.is_empty() {
                        return Poll::Ready(Some(Ok(sealed)));
                    }
                }
                Poll::Ready(Some(Err(e))) => return this.fail(Error::body(e)),
                Poll::Ready(None) => return this.finish(),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// `incoming` sealed as part `part` under `key`: the engine gets ciphertext (with its
/// length, when the plaintext's is known) and checks nothing of it; `outcome` learns the
/// plaintext's size and digests.
pub fn seal_incoming(incoming: Incoming, key: &DataKey, sealing: &Sealing, part: u16) -> Result<(Incoming, Arc<SealedOutcome>), Error> {
    let Incoming { body, length, check } = incoming;
    let outcome = Arc::new(SealedOutcome::default());
    let body = SealingBody {
        inner: body.unwrap_or_else(|| StreamingBlob::wrap(futures::stream::empty::<Result<Bytes, std::io::Error>>())),
        hasher: Some(check.hasher()),
        check,
        sealer: Some(Sealer::new(key, &header(sealing, part)?)),
        received: 0,
        length,
        outcome: Arc::clone(&outcome),
    };
    let sealed = Incoming {
        body: Some(StreamingBlob::wrap(body)),
        length: length.map(|l| sealed_len(sealing.header_len, l)),
        // The plaintext is hashed here (a part's ETag too): the engine hashes nothing.
        check: BodyCheck::of_sealed(),
    };
    Ok((sealed, outcome))
}

/// The error of a sealed write that failed: the body's own (a bad digest, a short body)
/// rather than the engine's account of the stream it was cut from.
pub fn sealed_error(outcome: &SealedOutcome, engine_error: Error) -> Error {
    match outcome.take() {
        Some(Err(e)) => e,
        _ => engine_error,
    }
}

/// The user metadata marking, in a store others share, the bytes of a sealed object: an
/// instance that did not write it (its index has no record of the sealing) refuses to
/// serve them rather than hand out ciphertext as the object.
pub const SEALED_MARKER: &str = "tollgate-sealed";

/// `attrs` with the [`SEALED_MARKER`], as the engine stores them beside sealed bytes.
#[must_use]
pub fn marked(attrs: &crate::meta::ObjectAttrs) -> crate::meta::ObjectAttrs {
    let mut marked = attrs.clone();
    marked.user_metadata.push((SEALED_MARKER.to_owned(), "1".to_owned()));
    marked
}

/// Refuses bytes a store answered with the [`SEALED_MARKER`] when this instance has no
/// record of how they are sealed.
///
/// # Errors
/// [`Error::SealedElsewhere`].
pub fn refuse_sealed_elsewhere(read: &super::s3util::ObjectRead) -> Result<(), Error> {
    refuse_marked(&read.attrs)
}

/// Refuses a store's description of bytes (their attributes) it marks sealed.
///
/// # Errors
/// [`Error::SealedElsewhere`].
pub fn refuse_marked(attrs: &crate::meta::ObjectAttrs) -> Result<(), Error> {
    if attrs.user_metadata.iter().any(|(k, _)| k == SEALED_MARKER) {
        return Err(Error::SealedElsewhere);
    }
    Ok(())
}

/// The ETag of a sealed object whose plaintext has MD5 `md5_hex`: that MD5 for SSE-S3, as
/// S3 answers; for SSE-C and SSE-KMS not an MD5 of the data (as S3), so that who may list
/// the object learns no fingerprint of what they cannot read.
#[must_use]
pub fn sealed_etag(sealing: &Sealing, md5_hex: &str) -> String {
    match sealing.mode {
        SseMode::S3 => md5_hex.to_owned(),
        SseMode::Kms | SseMode::Customer => {
            use sha2::Digest;
            let digest = sha2::Sha256::new().chain_update(sealing.wrapped_key.as_bytes()).chain_update(md5_hex.as_bytes()).finalize();
            hex_simd::encode_to_string(&digest[..16], hex_simd::AsciiCase::Lower)
        }
    }
}

/// The parts of a sealed object: (part number in the nonces, plaintext length).
fn sealed_parts(rec: &ObjectRecord) -> Vec<(u16, u64)> {
    if rec.multipart && !rec.parts.is_empty() {
        rec.parts.iter().map(|p| (u16::try_from(p.number).unwrap_or(u16::MAX), p.size)).collect()
    } else {
        vec![(0, rec.size)]
    }
}

/// Length of the bytes stored for a sealed object.
#[must_use]
pub fn stored_len(rec: &ObjectRecord, sealing: &Sealing) -> u64 {
    sealed_parts(rec).iter().map(|(_, size)| sealed_len(sealing.header_len, *size)).sum()
}

/// Length of the bytes stored for any object: its size, or a sealed one's ciphertext's.
#[must_use]
pub fn stored_size(rec: &ObjectRecord) -> u64 {
    rec.sealing.as_ref().map_or(rec.size, |s| stored_len(rec, s))
}

/// The stored lengths of a sealed multipart object's parts (each a sealed stream).
#[must_use]
pub fn stored_part_sizes(rec: &ObjectRecord, sealing: &Sealing) -> Vec<u64> {
    sealed_parts(rec).iter().map(|(_, size)| sealed_len(sealing.header_len, *size)).collect()
}

/// Reads the plaintext `range` of sealed `rec`: for each part it overlaps, the frames
/// holding it, read from the engine as they are needed and opened. The first is asked for
/// before this returns, so bytes gone (`NoSuchKey`) are an answer, not a body cut short.
pub async fn open_sealed(
    engine: Arc<dyn Engine>,
    bucket: &str,
    key: &str,
    rec: &ObjectRecord,
    data_key: &DataKey,
    range: Range<u64>,
) -> Result<ByteStream, Error> {
    let sealing = rec.sealing.as_ref().ok_or_else(|| corrupt("sealing"))?;
    let prefix = prefix(sealing)?;
    let header_len = sealing.header_len;
    let mut spans = Vec::new();
    let (mut plain_at, mut stored_at) = (0u64, 0u64);
    for (part, size) in sealed_parts(rec) {
        let (start, end) = (range.start.max(plain_at), range.end.min(plain_at + size));
        if start < end {
            let local = start - plain_at..end - plain_at;
            let span = cipher_span(header_len, size, local.clone());
            spans.push((part, size, local, stored_at + span.cipher.start..stored_at + span.cipher.end));
        }
        plain_at += size;
        stored_at += sealed_len(header_len, size);
    }
    let (bucket, key, rec, data_key) = (bucket.to_owned(), key.to_owned(), rec.clone(), data_key.clone());
    let open = move |(part, size, local, stored): (u16, u64, Range<u64>, Range<u64>)| {
        let (engine, bucket, key, rec, data_key) = (Arc::clone(&engine), bucket.clone(), key.clone(), rec.clone(), data_key.clone());
        async move {
            let cipher = engine.open(&bucket, &key, &rec, stored).await?;
            Ok::<_, Error>(open_range(&data_key, prefix, part, header_len, size, local, cipher))
        }
    };
    let mut spans = spans.into_iter();
    let Some(first) = spans.next() else { return Ok(Box::pin(futures::stream::empty())) };
    let first = open(first).await?;
    let rest = futures::stream::iter(spans).then(open).map_err(std::io::Error::other).try_flatten();
    Ok(Box::pin(sync_stream(first.chain(rest))))
}

/// A stream made `Sync` (the bodies s3s answers with must be) by polling it under a lock
/// no one else takes.
fn sync_stream<S: Stream + Send + 'static>(inner: S) -> impl Stream<Item = S::Item> + Send + Sync + 'static {
    let inner = Mutex::new(Box::pin(inner));
    futures::stream::poll_fn(move |cx| inner.lock().unwrap_or_else(PoisonError::into_inner).as_mut().poll_next(cx))
}

/// The bytes `range` of `body` (a store's whole object, read for a copy of its range).
pub fn slice(body: StreamingBlob, range: Range<u64>) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + Sync + 'static {
    let mut at = 0u64;
    body.map_err(std::io::Error::other).try_filter_map(move |chunk: Bytes| {
        let (start, end) = (at, at + chunk.len() as u64);
        at = end;
        let (from, to) = (range.start.max(start), range.end.min(end));
        let kept = (from < to).then(|| chunk.slice(usize::try_from(from - start).unwrap_or(0)..usize::try_from(to - start).unwrap_or(0)));
        futures::future::ready(Ok(kept))
    })
}

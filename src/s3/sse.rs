//! Server-side encryption as S3 clients ask for it: the SSE headers of a write (SSE-S3,
//! SSE-C; SSE-KMS is answered 501 until the keyring lands), a bucket's default encryption,
//! the gateway-wide `encryption.always`; the keys that open a sealed object for a read or
//! a copy; and the SSE headers answers carry. The bytes are sealed by the object layer
//! ([`crate::backend::sealed`]).

use super::Gateway;
use crate::backend::Error;
use crate::backend::sealed::{GatewayKeys, OpenKey, Seal, wrap_context};

use crate::config::EncryptionConfig;
use crate::crypt::{DataKey, Kek};
use crate::meta::{Sealing, SseMode};
use std::sync::Arc;

use s3s::dto::{
    CopyObjectInput, CreateMultipartUploadInput, GetObjectAttributesInput, GetObjectInput, HeadObjectInput, PutObjectInput, SSECustomerAlgorithm,
    SSECustomerKey, SSECustomerKeyMD5, ServerSideEncryption, UploadPartCopyInput, UploadPartInput,
};
use zeroize::Zeroizing;

/// The gateway's keys for encryption at rest, and its settings.
#[derive(Debug)]
pub struct SseKeys {
    keys: Arc<GatewayKeys>,
    config: EncryptionConfig,
}

impl SseKeys {
    /// The gateway's `keys` under `config`.
    #[must_use]
    pub fn new(keys: Arc<GatewayKeys>, config: EncryptionConfig) -> Self {
        Self { keys, config }
    }

    /// The data key a completion of `upload` reads the object back with: an SSE-S3
    /// upload's opens with the gateway's key, an SSE-C upload's from its escrow.
    pub(super) fn completion_key(&self, upload: &crate::meta::UploadRecord) -> Result<Option<DataKey>, Error> {
        match &upload.sealing {
            None => Ok(None),
            Some(sealing) if sealing.mode == SseMode::Customer => self.keys.open_escrow(&upload.escrow_key).map(Some),
            Some(sealing) => self.keys.open(sealing).map(Some),
        }
    }

    /// The gateway's keys.
    pub(super) fn keys(&self) -> &GatewayKeys {
        &self.keys
    }

    /// `key` escrowed while its SSE-C upload is open.
    pub(super) fn escrow(&self, key: &DataKey) -> String {
        self.keys.escrow(key)
    }
}

/// An SSE-C key a request carries, checked against its MD5.
pub(super) struct CustomerKey {
    key: Zeroizing<[u8; 32]>,
    md5: String,
}

/// The SSE-C headers of a request (or of its copy source), checked as S3 checks them;
/// `None` if it has none. `secure`: whether the key may travel on this connection.
pub(super) fn customer_key(
    algorithm: Option<&SSECustomerAlgorithm>,
    key: Option<&SSECustomerKey>,
    md5: Option<&SSECustomerKeyMD5>,
    secure: bool,
) -> Result<Option<CustomerKey>, Error> {
    let (algorithm, key, md5) = match (algorithm, key, md5) {
        (None, None, None) => return Ok(None),
        (Some(a), Some(k), Some(m)) => (a, k, m),
        (None, ..) => {
            return Err(Error::InvalidArgument(
                "Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm.".into(),
            ));
        }
        (_, None, _) => {
            return Err(Error::InvalidArgument(
                "Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate secret key.".into(),
            ));
        }
        (_, _, None) => {
            return Err(Error::InvalidArgument(
                "Requests specifying Server Side Encryption with Customer provided keys must provide the client calculated MD5 of the secret key.".into(),
            ));
        }
    };
    if algorithm.as_str() != "AES256" {
        return Err(Error::BadRequest {
            code: "InvalidEncryptionAlgorithmError",
            message: "The Encryption request you specified is not valid. Supported value: AES256.".into(),
        });
    }
    if !secure {
        return Err(Error::InvalidRequest(
            "Requests specifying Server Side Encryption with Customer provided keys must be made over a secure connection.".into(),
        ));
    }
    let raw = Zeroizing::new(base64_simd::STANDARD.decode_to_vec(key.trim().as_bytes()).unwrap_or_default());
    let bytes: [u8; 32] = raw.as_slice().try_into().map_err(|_| Error::InvalidArgument("The secret key was invalid for the specified algorithm.".into()))?;
    let actual = base64_simd::STANDARD.encode_to_string(<md5::Md5 as md5::Digest>::digest(bytes));
    if actual != md5.trim() {
        return Err(Error::InvalidArgument("The calculated MD5 hash of the key did not match the hash that was provided.".into()));
    }
    Ok(Some(CustomerKey { key: Zeroizing::new(bytes), md5: actual }))
}

/// The SSE-C headers of an input: the key a write seals with, or a read opens with.
pub(super) trait CustomerKeyHeaders {
    /// `x-amz-server-side-encryption-customer-{algorithm,key,key-MD5}`.
    fn customer_headers(&self) -> (Option<&SSECustomerAlgorithm>, Option<&SSECustomerKey>, Option<&SSECustomerKeyMD5>);
}

/// The SSE-C headers of a copy's source (`x-amz-copy-source-server-side-encryption-customer-*`).
pub(super) trait CopySourceKeyHeaders {
    /// The source's key headers.
    fn copy_source_headers(&self) -> (Option<&SSECustomerAlgorithm>, Option<&SSECustomerKey>, Option<&SSECustomerKeyMD5>);
}

/// The SSE headers of a write besides SSE-C's: the mode, the SSE-KMS key or context, and
/// whether an S3 Bucket Key is asked for.
pub(super) trait EncryptionHeaders: CustomerKeyHeaders {
    /// The bucket written to, `x-amz-server-side-encryption`, and the SSE-KMS key id and
    /// encryption context, if any.
    fn encryption_headers(&self) -> (&str, Option<&ServerSideEncryption>, Option<&str>, Option<&str>);
    /// `x-amz-server-side-encryption-bucket-key-enabled`, if given.
    fn bucket_key_header(&self) -> Option<bool>;
}

macro_rules! customer_key_headers {
    ($($input:ty),* $(,)?) => {$(
        impl CustomerKeyHeaders for $input {
            fn customer_headers(&self) -> (Option<&SSECustomerAlgorithm>, Option<&SSECustomerKey>, Option<&SSECustomerKeyMD5>) {
                (self.sse_customer_algorithm.as_ref(), self.sse_customer_key.as_ref(), self.sse_customer_key_md5.as_ref())
            }
        }
    )*};
}
customer_key_headers!(
    PutObjectInput,
    CopyObjectInput,
    CreateMultipartUploadInput,
    GetObjectInput,
    HeadObjectInput,
    GetObjectAttributesInput,
    UploadPartInput,
    UploadPartCopyInput
);

macro_rules! copy_source_key_headers {
    ($($input:ty),* $(,)?) => {$(
        impl CopySourceKeyHeaders for $input {
            fn copy_source_headers(&self) -> (Option<&SSECustomerAlgorithm>, Option<&SSECustomerKey>, Option<&SSECustomerKeyMD5>) {
                (self.copy_source_sse_customer_algorithm.as_ref(), self.copy_source_sse_customer_key.as_ref(), self.copy_source_sse_customer_key_md5.as_ref())
            }
        }
    )*};
}
copy_source_key_headers!(CopyObjectInput, UploadPartCopyInput);

macro_rules! encryption_headers {
    ($($input:ty),* $(,)?) => {$(
        impl EncryptionHeaders for $input {
            fn encryption_headers(&self) -> (&str, Option<&ServerSideEncryption>, Option<&str>, Option<&str>) {
                (&self.bucket, self.server_side_encryption.as_ref(), self.ssekms_key_id.as_deref(), self.ssekms_encryption_context.as_deref())
            }

            fn bucket_key_header(&self) -> Option<bool> {
                self.bucket_key_enabled
            }
        }
    )*};
}
encryption_headers!(PutObjectInput, CopyObjectInput, CreateMultipartUploadInput);

/// The keys a request brings to open sealed objects.
pub(super) fn request_keys<'g, T: CustomerKeyHeaders>(g: &'g Gateway, req: &s3s::S3Request<T>) -> Result<RequestKeys<'g>, Error> {
    let (algorithm, key, md5) = req.input.customer_headers();
    Ok(RequestKeys { sse: &g.sse, customer: customer_key(algorithm, key, md5, key_may_travel(g, req))? })
}

/// The keys a copy brings to open its source.
pub(super) fn copy_source_keys<'g, T: CopySourceKeyHeaders>(g: &'g Gateway, req: &s3s::S3Request<T>) -> Result<RequestKeys<'g>, Error> {
    let (algorithm, key, md5) = req.input.copy_source_headers();
    Ok(RequestKeys { sse: &g.sse, customer: customer_key(algorithm, key, md5, key_may_travel(g, req))? })
}

/// How a write request is sealed ([`write_seal`]), and whether it brought an SSE-C key.
pub(super) fn requested_seal<T: EncryptionHeaders>(g: &Gateway, req: &s3s::S3Request<T>) -> Result<(Option<Seal>, bool), Error> {
    let keys = request_keys(g, req)?;
    let (bucket, asked, kms_key, context) = req.input.encryption_headers();
    let mut seal = write_seal(g, bucket, asked, kms_key, context, keys.customer.as_ref())?;
    if let Some(seal) = seal.as_mut().filter(|s| s.template.mode == SseMode::Kms) {
        // The request's header, else the bucket default's setting when the default applies.
        let default = || asked.is_none().then(|| g.configs.of(bucket).encryption.as_ref().map(|e| e.bucket_key_enabled)).flatten();
        seal.template.bucket_key = req.input.bucket_key_header().or_else(default).unwrap_or(false);
    }
    Ok((seal, keys.customer.is_some()))
}

/// Whether a request may carry an SSE-C key: over the gateway's own HTTPS, or from a
/// loopback client when `encryption.sse_c_plain_http_on_loopback` allows it.
fn key_may_travel<T>(g: &Gateway, req: &s3s::S3Request<T>) -> bool {
    let Some(ctx) = req.extensions.get::<crate::context::RequestContext>() else {
        return false;
    };
    ctx.secure || (g.sse.config.sse_c_plain_http_on_loopback && ctx.peer.ip().is_loopback())
}

/// How a write is sealed: as its SSE headers ask, else as its bucket's default
/// encryption, else SSE-S3 when the gateway encrypts everything; `None`: in the clear.
fn write_seal(
    g: &Gateway,
    bucket: &str,
    asked: Option<&ServerSideEncryption>,
    kms_key: Option<&str>,
    context: Option<&str>,
    customer: Option<&CustomerKey>,
) -> Result<Option<Seal>, Error> {
    let kms_asked = asked.is_some_and(|a| a.as_str() == ServerSideEncryption::AWS_KMS);
    if (kms_key.is_some() || context.is_some()) && !kms_asked {
        return Err(Error::InvalidArgument(
            "Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms".into(),
        ));
    }
    if let Some(customer) = customer {
        if asked.is_some() {
            return Err(Error::InvalidArgument(
                "Server Side Encryption with Customer provided key is incompatible with the encryption method specified".into(),
            ));
        }
        let template = Sealing {
            customer_key_md5: customer.md5.clone(),
            customer_key_digest: g.sse.keys.customer_digest(&customer.key[..]),
            ..Sealing::of(SseMode::Customer)
        };
        return Ok(Some(Seal { template, kek: Kek::from_bytes(*customer.key) }));
    }
    if let Some(context) = context {
        check_context(context)?;
    }
    let default = g.configs.of(bucket).encryption.clone();
    let (algorithm, key) = match asked {
        Some(a) => (Some(a.as_str().to_owned()), kms_key.map(str::to_owned)),
        None => (default.as_ref().map(|e| e.algorithm.clone()), default.and_then(|e| e.kms_key_id)),
    };
    match algorithm.as_deref() {
        Some(ServerSideEncryption::AES256) => Ok(Some(g.sse.keys.sse_s3()?)),
        Some(ServerSideEncryption::AWS_KMS) => {
            Ok(Some(g.sse.keys.sse_kms(key.as_deref().unwrap_or(crate::backend::sealed::DEFAULT_KMS_KEY), context.unwrap_or_default())?))
        }
        Some(ServerSideEncryption::AWS_KMS_DSSE) => Err(Error::NotImplemented("DSSE-KMS (two layers of encryption) is not supported: use aws:kms or AES256")),
        Some(other) => Err(Error::InvalidArgument(format!("The encryption method specified is not supported: {other}"))),
        None if g.sse.config.always => Ok(Some(g.sse.keys.sse_s3()?)),
        None => Ok(None),
    }
}

/// Checks an SSE-KMS encryption context: base64 of a JSON object of strings, as S3 takes it.
fn check_context(context: &str) -> Result<(), Error> {
    let bad = || {
        Error::InvalidArgument(
            "The header 'x-amz-server-side-encryption-context' shall be Base64-encoded UTF-8 string holding JSON which represents a string-string map".into(),
        )
    };
    let raw = base64_simd::STANDARD.decode_to_vec(context.trim().as_bytes()).map_err(|_| bad())?;
    match serde_json::from_slice::<serde_json::Value>(&raw) {
        Ok(serde_json::Value::Object(map)) if map.values().all(serde_json::Value::is_string) => Ok(()),
        _ => Err(bad()),
    }
}

/// The keys a request brings to open sealed objects: the gateway's, and its SSE-C key.
pub(super) struct RequestKeys<'a> {
    pub(super) sse: &'a SseKeys,
    pub(super) customer: Option<CustomerKey>,
}

impl RequestKeys<'_> {
    /// The data key a part of `upload` is sealed with: the upload's own, opened with the
    /// request's keys (an SSE-C upload's parts carry its customer key, as S3 requires).
    pub(super) fn upload_key(&self, upload: &crate::meta::UploadRecord) -> Result<Option<DataKey>, Error> {
        match &upload.sealing {
            Some(sealing) => self.open(sealing).map(Some),
            None if self.customer.is_some() => Err(Error::InvalidRequest("The encryption parameters are not applicable to this upload.".into())),
            None => Ok(None),
        }
    }
}

impl OpenKey for RequestKeys<'_> {
    fn open(&self, sealing: &Sealing) -> Result<DataKey, Error> {
        let Some(customer) = &self.customer else {
            return self.sse.keys.open(sealing);
        };
        if sealing.mode != SseMode::Customer {
            return Err(Error::InvalidRequest(crate::backend::sealed::ENCRYPTION_NOT_APPLICABLE.into()));
        }
        let digest = self.sse.keys.customer_digest(&customer.key[..]);
        if !bool::from(subtle::ConstantTimeEq::ct_eq(digest.as_bytes(), sealing.customer_key_digest.as_bytes())) {
            return Err(Error::AccessDenied("Access Denied: the SSE-C key is not the object's".into()));
        }
        let wrapped = base64_simd::STANDARD.decode_to_vec(sealing.wrapped_key.as_bytes()).unwrap_or_default();
        Kek::from_bytes(*customer.key).unwrap(&wrapped, &wrap_context(sealing)).map_err(|_| {
            Error::Io(std::io::Error::new(std::io::ErrorKind::InvalidData, "a sealed object's data key does not open with its recognised SSE-C key"))
        })
    }

    fn customer_key_given(&self) -> bool {
        self.customer.is_some()
    }
}

/// Sets the SSE fields of an S3 output (every output about an object has the same four)
/// to what S3 answers for `sealing`.
macro_rules! answer_sse {
    ($output:expr, $sealing:expr) => {{
        let answer = $crate::s3::sse::answer($sealing);
        $output.server_side_encryption = answer.server_side_encryption;
        $output.sse_customer_algorithm = answer.sse_customer_algorithm;
        $output.sse_customer_key_md5 = answer.sse_customer_key_md5;
        $output.ssekms_key_id = answer.ssekms_key_id;
        $output.bucket_key_enabled = answer.bucket_key_enabled;
    }};
}
pub(super) use answer_sse;

/// The SSE headers an answer about a sealed object carries, as S3 sends them.
#[derive(Default)]
pub(super) struct SseAnswer {
    pub(super) server_side_encryption: Option<ServerSideEncryption>,
    pub(super) sse_customer_algorithm: Option<SSECustomerAlgorithm>,
    pub(super) sse_customer_key_md5: Option<SSECustomerKeyMD5>,
    pub(super) ssekms_key_id: Option<String>,
    pub(super) bucket_key_enabled: Option<bool>,
}

/// What an answer says of `sealing`.
pub(super) fn answer(sealing: Option<&Sealing>) -> SseAnswer {
    match sealing.map(|s| (s.mode, s)) {
        None => SseAnswer::default(),
        Some((SseMode::S3, _)) => {
            SseAnswer { server_side_encryption: Some(ServerSideEncryption::from_static(ServerSideEncryption::AES256)), ..Default::default() }
        }
        Some((SseMode::Kms, s)) => SseAnswer {
            server_side_encryption: Some(ServerSideEncryption::from_static(ServerSideEncryption::AWS_KMS)),
            ssekms_key_id: Some(s.key_id.clone()),
            bucket_key_enabled: s.bucket_key.then_some(true),
            ..Default::default()
        },
        Some((SseMode::Customer, s)) => {
            SseAnswer { sse_customer_algorithm: Some("AES256".into()), sse_customer_key_md5: Some(s.customer_key_md5.clone()), ..Default::default() }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(bytes: &[u8]) -> String {
        base64_simd::STANDARD.encode_to_string(bytes)
    }

    fn md5_b64(bytes: &[u8]) -> String {
        b64(&<md5::Md5 as md5::Digest>::digest(bytes))
    }

    #[test]
    fn customer_keys_are_checked_as_s3_checks_them() {
        let key = [7u8; 32];
        let (alg, k, m) = ("AES256".to_owned(), b64(&key), md5_b64(&key));
        assert!(customer_key(None, None, None, false).unwrap().is_none());
        assert!(customer_key(Some(&alg), Some(&k), Some(&m), true).unwrap().is_some());
        assert!(matches!(customer_key(Some(&alg), Some(&k), Some(&m), false), Err(Error::InvalidRequest(_))), "plain HTTP");
        assert!(matches!(customer_key(Some(&alg), Some(&k), Some(&md5_b64(b"x")), true), Err(Error::InvalidArgument(_))), "wrong MD5");
        let short = b64(&[1u8; 16]);
        assert!(matches!(customer_key(Some(&alg), Some(&short), Some(&md5_b64(&[1u8; 16])), true), Err(Error::InvalidArgument(_))), "16 bytes");
        assert!(matches!(customer_key(Some(&"AES128".to_owned()), Some(&k), Some(&m), true), Err(Error::BadRequest { .. })));
        assert!(matches!(customer_key(None, Some(&k), Some(&m), true), Err(Error::InvalidArgument(_))), "no algorithm");
    }
}

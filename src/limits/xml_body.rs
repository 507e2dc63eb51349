//! Bodies of configuration requests (DeleteObjects, CompleteMultipartUpload, tagging,
//! ACLs, ...: XML or JSON documents s3s reads whole): bounded by
//! `server.max_xml_body_bytes` and hashed as they stream. s3s reports a body over its
//! limit, or one that does not match its `x-amz-content-sha256`, as an internal error; what
//! this body saw lets the server answer it as the client's fault instead.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use sha2::Digest as _;

type StdError = Box<dyn std::error::Error + Send + Sync>;

/// The subresources whose PUT carries a configuration document rather than object bytes.
const CONFIG_SUBRESOURCES: &[&str] = &[
    "accelerate",
    "acl",
    "analytics",
    "cors",
    "encryption",
    "intelligent-tiering",
    "inventory",
    "legal-hold",
    "lifecycle",
    "logging",
    "metrics",
    "notification",
    "object-lock",
    "ownershipControls",
    "policy",
    "publicAccessBlock",
    "replication",
    "requestPayment",
    "retention",
    "tagging",
    "versioning",
    "website",
];

/// Whether a request with a body carries a configuration document (not object bytes, not
/// a browser form upload).
#[must_use]
pub fn is_config_request(method: &http::Method, query: &str, headers: &http::HeaderMap) -> bool {
    let has = |name: &str| query.split('&').any(|p| p.split('=').next() == Some(name));
    match *method {
        http::Method::PUT => CONFIG_SUBRESOURCES.iter().any(|s| has(s)),
        http::Method::POST => !headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.trim_start().to_ascii_lowercase().starts_with("multipart/form-data")),
        _ => false,
    }
}

/// What a [`XmlBody`] saw of its stream.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    /// The body went past the limit (and was cut there).
    pub exceeded: bool,
    /// The SHA-256 of what was read so far (a reader that knows the length stops before
    /// the stream's end, so there is no "finished" moment to wait for).
    sha: sha2::Sha256,
    read: u64,
}

impl Seen {
    /// Whether the body read so far has a SHA-256 other than `declared` (an
    /// `x-amz-content-sha256` value; ignored unless it is a hex digest).
    #[must_use]
    pub fn contradicts(&self, declared: &str) -> bool {
        let Ok(declared) = hex_simd::decode_to_vec(declared) else {
            return false;
        };
        declared.len() == 32 && self.sha.clone().finalize()[..] != declared[..]
    }
}

/// A configuration request's body, cut at `limit` bytes and hashed as it streams, both noted in its [`Seen`].
pub struct XmlBody<B> {
    inner: B,
    limit: u64,
    seen: Arc<Mutex<Seen>>,
}

impl<B> XmlBody<B> {
    /// Wraps `inner`; `seen` is filled as it streams.
    pub fn new(inner: B, limit: u64, seen: Arc<Mutex<Seen>>) -> Self {
        Self { inner, limit, seen }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the request body exceeds the {0}-byte limit of configuration documents")]
struct TooLarge(u64);

impl<B> Body for XmlBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    StdError: From<B::Error>,
{
    type Data = Bytes;
    type Error = StdError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, StdError>>> {
        let this = &mut *self;
        match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    let mut seen = this.seen.lock().unwrap_or_else(PoisonError::into_inner);
                    seen.read += data.len() as u64;
                    if seen.read > this.limit {
                        seen.exceeded = true;
                        return Poll::Ready(Some(Err(Box::new(TooLarge(this.limit)))));
                    }
                    seen.sha.update(data);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Some(Err(e)) => Poll::Ready(Some(Err(e.into()))),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt as _;

    fn headers(ct: &str) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        h.insert(http::header::CONTENT_TYPE, ct.parse().unwrap());
        h
    }

    #[test]
    fn configuration_requests_are_told_from_object_bytes() {
        let none = http::HeaderMap::new();
        assert!(is_config_request(&http::Method::POST, "delete", &none));
        assert!(is_config_request(&http::Method::POST, "uploadId=x", &none));
        assert!(is_config_request(&http::Method::PUT, "tagging", &none));
        assert!(is_config_request(&http::Method::PUT, "versionId=1&acl=", &none));
        assert!(!is_config_request(&http::Method::PUT, "", &none), "PutObject");
        assert!(!is_config_request(&http::Method::PUT, "partNumber=1&uploadId=x", &none), "UploadPart");
        assert!(!is_config_request(&http::Method::PUT, "x-id=tagging-not", &none));
        assert!(!is_config_request(&http::Method::POST, "", &headers("multipart/form-data; boundary=x")), "a form upload");
        assert!(!is_config_request(&http::Method::GET, "tagging", &none));
    }

    #[tokio::test]
    async fn bodies_are_hashed_and_cut_at_the_limit() {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let body = XmlBody::new(http_body_util::Full::new(Bytes::from_static(b"abc")), 10, Arc::clone(&seen));
        assert_eq!(body.collect().await.unwrap().to_bytes(), Bytes::from_static(b"abc"));
        let s = seen.lock().unwrap().clone();
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert!(!s.exceeded && !s.contradicts(abc) && s.contradicts(&"0".repeat(64)));
        assert!(!s.contradicts("UNSIGNED-PAYLOAD"));

        let seen = Arc::new(Mutex::new(Seen::default()));
        let body = XmlBody::new(http_body_util::Full::new(Bytes::from_static(b"abcdef")), 4, Arc::clone(&seen));
        assert!(body.collect().await.is_err());
        assert!(seen.lock().unwrap().exceeded);
    }
}

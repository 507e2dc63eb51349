//! Migration to and from an upstream: an object is uploaded with its attributes and tags,
//! a multipart object part by part with its recorded part sizes (so its ETag stays the
//! same), and verified on its way; a body that fails its check never completes upstream.
//! A version of a versioned bucket goes where the engine reads it (see `locate`): the blob
//! its record names (a local blob's id is as good a name as the engine's own), or its key.

use super::client::Call;
use super::object::{etag_of, header_str, missing_key, send_upload, with_attrs, with_checksums};
use super::{UpstreamBackend, xml};
use crate::backend::s3util::{BodyCheck, Expected};
use crate::backend::scrub::ByteStream;
use crate::backend::sealed::{stored_part_sizes, stored_size};
use crate::backend::{Error, Relocation};
use crate::meta::{ObjectRecord, Segment};

use bytes::Bytes;
use futures::StreamExt;
use http::Method;
use s3s::dto::StreamingBlob;
use sha2::Digest as _;

#[async_trait::async_trait]
impl Relocation for UpstreamBackend {
    async fn prepare(&self, bucket: &str) -> Result<(), Error> {
        super::bucket::ensure_upstream_bucket(self, bucket).await
    }

    async fn holds(&self, bucket: &str, key: &str, rec: &ObjectRecord) -> Result<bool, Error> {
        let (place, at) = self.locate(bucket, key, rec)?;
        match self.call(Call::new(Method::HEAD, &place.bucket, &at)).await.map_err(missing_key) {
            Ok(resp) => {
                let size = header_str(resp.headers(), "content-length").and_then(|v| v.parse::<u64>().ok());
                // A sealed object's ETag upstream is its ciphertext's, which no record keeps.
                Ok(size == Some(stored_size(rec)) && (rec.sealing.is_some() || etag_of(resp.headers()) == rec.etag))
            }
            Err(Error::NoSuchKey) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn read(&self, bucket: &str, key: &str, rec: &ObjectRecord) -> Result<ByteStream, Error> {
        // Where the engine reads it: a migrated unversioned record's segments are the local
        // blobs it came from, and its bytes are at the key.
        let (place, at) = self.locate(bucket, key, rec)?;
        super::object::download(self, &place.bucket, &at, None).await
    }

    async fn write(&self, bucket: &str, key: &str, rec: &ObjectRecord, body: ByteStream, expect: Expected) -> Result<Option<Vec<Segment>>, Error> {
        let (place, at) = self.locate(bucket, key, rec)?;
        let tags = (!rec.tags.is_empty()).then(|| serde_urlencoded::to_string(&rec.tags).unwrap_or_default());
        let object = || with_attrs(Call::new(Method::PUT, &place.bucket, &at), &rec.attrs).header_opt("x-amz-tagging", tags.as_ref());
        // The recorded parts (a local multipart object's segments are its parts too; an
        // upstream one's single segment is not).
        // A sealed object's ciphertext moves as it is, part by sealed part: its checksums
        // and ETag are its plaintext's, which the frames' tags stand for here.
        let parts: Vec<u64> = match &rec.sealing {
            Some(sealing) => stored_part_sizes(rec, sealing),
            None if rec.parts.is_empty() => rec.segments.iter().map(|s| s.size).collect(),
            None => rec.parts.iter().map(|p| p.size).collect(),
        };
        let sealed = rec.sealing.is_some();
        if !rec.multipart || parts.is_empty() {
            let checksums = if sealed { crate::meta::Checksums::default() } else { rec.whole_body_checksums() };
            let call = with_checksums(object(), &checksums).header_opt("content-md5", expect.content_md5.as_ref());
            let (headers, _) =
                send_upload(self, BodyCheck::expecting(expect)?, call, Some(StreamingBlob::wrap(body)), stored_size(rec), Default::default()).await?;
            if !sealed {
                self.same_etag(&place, &at, &etag_of(&headers), &rec.etag).await?;
            }
            return Ok(None);
        }
        let start = with_attrs(Call::new(Method::POST, &place.bucket, &at).query("uploads", ""), &rec.attrs).header_opt("x-amz-tagging", tags.as_ref());
        let started: xml::Initiated = xml::parse(&self.client.xml(self.client.send(&start, Bytes::new()).await?).await?)?;
        let upload = started.upload_id;
        let result = self.send_parts(&place, &at, &upload, &parts, body, expect).await;
        let etags = match result {
            Ok(etags) => etags,
            Err(e) => {
                let abort = Call::new(Method::DELETE, &place.bucket, &at).query("uploadId", upload.as_str());
                if let Err(abort_error) = self.call(abort).await {
                    tracing::warn!(key, error = %abort_error, "could not abort a failed migration upload");
                }
                return Err(e);
            }
        };
        let complete = Call::new(Method::POST, &place.bucket, &at).query("uploadId", upload.as_str());
        let done: xml::ETagResult = xml::parse(&self.client.xml(self.client.send(&complete, Bytes::from(xml::complete_body(&etags))).await?).await?)?;
        if !sealed {
            self.same_etag(&place, &at, done.etag.trim_matches('"'), &rec.etag).await?;
        }
        Ok(None)
    }
}

impl UpstreamBackend {
    /// Uploads `body` as parts of the given sizes; checks the whole against `expect` (its
    /// SHA-256) before the upload may complete. Returns the parts' numbers and ETags.
    async fn send_parts(
        &self,
        place: &super::Place,
        at: &str,
        upload: &str,
        parts: &[u64],
        mut body: ByteStream,
        expect: Expected,
    ) -> Result<Vec<(u32, String)>, Error> {
        let mut whole = sha2::Sha256::new();
        let mut carry: Option<Bytes> = None;
        let mut etags = Vec::with_capacity(parts.len());
        for (i, &size) in parts.iter().enumerate() {
            let number = u32::try_from(i + 1).map_err(|_| Error::InvalidRequest("too many parts".into()))?;
            let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(4);
            let part_body = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
            let call = Call::new(Method::PUT, &place.bucket, at).query("partNumber", number.to_string()).query("uploadId", upload);
            let send = send_upload(self, BodyCheck::expecting(Expected::default())?, call, Some(StreamingBlob::wrap(part_body)), size, Default::default());
            // Feeds exactly `size` bytes of the object to this part, keeping the rest.
            let feed = async {
                let mut left = size;
                while left > 0 {
                    let mut chunk = match carry.take() {
                        Some(c) => c,
                        None => match body.next().await {
                            Some(Ok(c)) => c,
                            Some(Err(e)) => {
                                return Err(Error::IncompleteBody(format!("reading the source: {e}")));
                            }
                            None => {
                                return Err(Error::IncompleteBody("the source ended early".into()));
                            }
                        },
                    };
                    if chunk.len() as u64 > left {
                        carry = Some(chunk.split_off(usize::try_from(left).unwrap_or(usize::MAX)));
                    }
                    left -= chunk.len() as u64;
                    whole.update(&chunk);
                    if tx.send(Ok(chunk)).await.is_err() {
                        break;
                    }
                }
                drop(tx);
                Ok(())
            };
            let (sent, fed) = tokio::join!(send, feed);
            fed?;
            let (headers, _) = sent?;
            etags.push((number, format!("\"{}\"", etag_of(&headers))));
        }
        if carry.is_some_and(|c| !c.is_empty()) || body.next().await.is_some() {
            return Err(Error::IncompleteBody("the source is longer than its parts".into()));
        }
        let sha256 = base64_simd::STANDARD.encode_to_string(whole.finalize());
        if expect.checksums.sha256.as_ref().is_some_and(|e| *e != sha256) {
            return Err(Error::BadDigest("the object's bytes do not match its manifest's SHA-256".into()));
        }
        Ok(etags)
    }

    /// Checks that the upstream's ETag of a migrated object is the recorded one (so both
    /// agree on its MD5s); if not, the copy is removed again.
    async fn same_etag(&self, place: &super::Place, at: &str, got: &str, recorded: &str) -> Result<(), Error> {
        if got == recorded {
            return Ok(());
        }
        let _ = self.call(Call::new(Method::DELETE, &place.bucket, at)).await;
        Err(Error::BadDigest(format!("the upstream's ETag {got} is not the recorded {recorded}")))
    }
}

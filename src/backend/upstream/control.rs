//! The shared control log in the metadata bucket: one object per control-plane change,
//! `.tollgate-control/{seq}.json` with `seq` zero-padded so that keys list in order. An
//! entry is only ever created, with `If-None-Match: *`: of two instances appending at the
//! same sequence number one wins, the other reads the winner's entry and tries the next;
//! entries are removed only once a checkpoint covers them ([`crate::backend::control`]).
//! Beside it, the other records a cluster shares ([`crate::backend::shared`]).

use super::UpstreamBackend;
use super::client::Call;
use super::mirror::MirrorTarget;
use crate::backend::Error;
use crate::backend::control::{ENTRIES, entry_of, entry_path};

use bytes::Bytes;
use http::Method;

/// Entries fetched at once while reading the log.
const FETCHES: usize = 8;

impl UpstreamBackend {
    /// Creates the log's entry `seq` holding `body`; false if the sequence number is taken.
    pub(super) async fn append_control(&self, t: &MirrorTarget, seq: u64, body: Bytes) -> Result<bool, Error> {
        let call = Call::new(Method::PUT, &t.bucket, &entry_path(seq)).header("content-type", "application/json").header("if-none-match", "*");
        let resp = self.client.send(&call, body).await?;
        match self.client.ok(resp).await {
            Ok(_) => Ok(true),
            // 409 ConditionalRequestConflict: another creation of the key is in flight.
            Err(Error::PreconditionFailed) => Ok(false),
            Err(Error::Upstream { status: 409, .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The log's entries after `after`, in order, at most `max`: (sequence number, body),
    /// fetched a few at once. An entry listed but gone when fetched was compacted away
    /// meanwhile (see [`crate::backend::control`]): the entries before it are returned, or
    /// if it was the first, the log is listed again.
    pub(super) async fn read_control(&self, t: &MirrorTarget, after: u64, max: usize) -> Result<Vec<(u64, Bytes)>, Error> {
        use futures::StreamExt;
        for _ in 0..3 {
            let call = Call::new(Method::GET, &t.bucket, "")
                .query("list-type", "2")
                .query("prefix", ENTRIES)
                .query("start-after", entry_path(after))
                .query("max-keys", max.to_string());
            let resp = self.client.send(&call, Bytes::new()).await?;
            let page: super::xml::ListResult = super::xml::parse(&self.client.xml(resp).await?)?;
            let mut listed: Vec<(u64, String)> = page
                .contents
                .into_iter()
                .filter_map(|o| {
                    let seq = entry_of(&o.key);
                    if seq.is_none() {
                        tracing::warn!(key = %o.key, "a stray object in the control log is ignored");
                    }
                    Some((seq?, o.key))
                })
                .collect();
            // Entries after a gap (compacted behind a checkpoint the reader loads first) are
            // not fetched: the first tells the reader where the log starts.
            if listed.first().is_some_and(|&(seq, _)| seq != after + 1) {
                listed.truncate(1);
            }
            let mut fetched = futures::stream::iter(listed).map(|(seq, key)| async move { (seq, self.get_meta(t, &key).await) }).buffered(FETCHES);
            let mut entries = Vec::new();
            let mut missing = false;
            while let Some((seq, body)) = fetched.next().await {
                match body? {
                    Some(body) => entries.push((seq, body)),
                    None => {
                        missing = true;
                        break;
                    }
                }
            }
            if !entries.is_empty() || !missing {
                return Ok(entries);
            }
        }
        Err(Error::Unavailable("the control log's entries went away while being read (compacted meanwhile?)".into()))
    }

    /// The metadata bucket a cluster shares, if this backend keeps one.
    pub(super) fn shared_target(&self) -> Result<&MirrorTarget, Error> {
        self.mirror.as_ref().ok_or_else(|| Error::Unavailable("no metadata bucket is configured (upstream.meta_bucket)".into()))
    }

    /// Writes `body` at `path` of the shared metadata bucket.
    pub(super) async fn put_shared(&self, t: &MirrorTarget, path: &str, body: Bytes) -> Result<(), Error> {
        let resp = self.client.send(&Call::new(Method::PUT, &t.bucket, path).header("content-type", "application/json"), body).await?;
        self.client.ok(resp).await.map(|_| ())
    }

    /// Removes `paths` from the shared metadata bucket: a `DeleteObjects` per 1,000 (one
    /// already gone is no error).
    pub(super) async fn delete_shared(&self, t: &MirrorTarget, paths: &[String]) -> Result<(), Error> {
        for batch in paths.chunks(1000) {
            let body = super::xml::delete_body(batch);
            let md5 = base64_simd::STANDARD.encode_to_string(<md5::Md5 as md5::Digest>::digest(body.as_bytes()));
            let call = Call::new(Method::POST, &t.bucket, "").query("delete", "").header("content-md5", md5).header("content-type", "application/xml");
            let resp = self.client.send(&call, Bytes::from(body)).await?;
            let answer: super::xml::DeleteResult = super::xml::parse(&self.client.xml(resp).await?)?;
            if let Some(failed) = answer.error.into_iter().find(|e| e.code != "NoSuchKey") {
                return Err(Error::Upstream { status: 500, code: failed.code, message: format!("{}: {}", failed.key, failed.message) });
            }
        }
        Ok(())
    }
}

//! The shared control log in the metadata bucket: one object per control-plane change,
//! `.tollgate-control/{seq}.json` with `seq` zero-padded so that keys list in order. An
//! entry is only ever created, with `If-None-Match: *`: of two instances appending at the
//! same sequence number one wins, the other reads the winner's entry and tries the next.
//! Beside it, the other records a cluster shares ([`crate::backend::shared`]).

use super::UpstreamBackend;
use super::client::Call;
use super::mirror::MirrorTarget;
use crate::backend::Error;

use bytes::Bytes;
use http::Method;

/// Where the log is, in the metadata bucket (beside the instances' own `.tollgate/{instance}/`).
const PREFIX: &str = ".tollgate-control/";

fn entry_key(seq: u64) -> String {
    format!("{PREFIX}{seq:020}.json")
}

impl UpstreamBackend {
    /// Creates the log's entry `seq` holding `body`; false if the sequence number is taken.
    pub(super) async fn append_control(&self, t: &MirrorTarget, seq: u64, body: Bytes) -> Result<bool, Error> {
        let call = Call::new(Method::PUT, &t.bucket, &entry_key(seq)).header("content-type", "application/json").header("if-none-match", "*");
        let resp = self.client.send(&call, body).await?;
        match self.client.ok(resp).await {
            Ok(_) => Ok(true),
            // 409 ConditionalRequestConflict: another creation of the key is in flight.
            Err(Error::PreconditionFailed) => Ok(false),
            Err(Error::Upstream { status: 409, .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The log's entries after `after`, in order, at most `max`: (sequence number, body).
    pub(super) async fn read_control(&self, t: &MirrorTarget, after: u64, max: usize) -> Result<Vec<(u64, Bytes)>, Error> {
        let call = Call::new(Method::GET, &t.bucket, "")
            .query("list-type", "2")
            .query("prefix", PREFIX)
            .query("start-after", entry_key(after))
            .query("max-keys", max.to_string());
        let resp = self.client.send(&call, Bytes::new()).await?;
        let page: super::xml::ListResult = super::xml::parse(&self.client.xml(resp).await?)?;
        let mut entries = Vec::with_capacity(page.contents.len());
        for o in page.contents {
            let seq = o.key.strip_prefix(PREFIX).and_then(|k| k.strip_suffix(".json")).and_then(|n| n.parse::<u64>().ok());
            let Some(seq) = seq else {
                tracing::warn!(key = %o.key, "a stray object in the control log is ignored");
                continue;
            };
            // Entries are never removed: one listed is there.
            let body = self.get_meta(t, &o.key).await?.ok_or_else(|| Error::Unavailable(format!("the control log's entry {seq} went away")))?;
            entries.push((seq, body));
        }
        Ok(entries)
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

    /// Removes `paths` from the shared metadata bucket, a few at a time.
    pub(super) async fn delete_shared(&self, t: &MirrorTarget, paths: &[String]) -> Result<(), Error> {
        use futures::StreamExt;
        let mut deletes = futures::stream::iter(paths.to_vec()).map(|path| self.delete_one(t, path)).buffer_unordered(8);
        while let Some(done) = deletes.next().await {
            done?;
        }
        Ok(())
    }

    async fn delete_one(&self, t: &MirrorTarget, path: String) -> Result<(), Error> {
        match self.call(Call::new(Method::DELETE, &t.bucket, &path)).await {
            Ok(_) | Err(Error::Upstream { status: 404, .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

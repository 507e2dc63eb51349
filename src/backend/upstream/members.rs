//! Cluster membership through the upstream: the instances sharing a metadata bucket
//! (`upstream.meta_bucket`) find each other there, with no service of their own. Each
//! writes its heartbeat, `.tollgate-members/{instance}.json`, every
//! `upstream.heartbeat_secs` (and once more, marked as left, when it stops); reading them
//! all tells who is there. An instance whose heartbeat is older than [`GONE_AFTER`]
//! heartbeat intervals is counted gone: one that crashed is noticed within that time, one
//! that stopped at once.

use super::UpstreamBackend;
use super::client::Call;
use super::mirror::MirrorTarget;
use crate::backend::Error;

use bytes::Bytes;
use http::Method;
use serde::{Deserialize, Serialize};

/// Where the heartbeats are, in the metadata bucket (beside, not under, the instances'
/// own `.tollgate/{instance}/`, so that no instance name can collide with it).
const PREFIX: &str = ".tollgate-members/";

/// Heartbeat intervals without a heartbeat after which an instance is counted gone.
pub const GONE_AFTER: i128 = 3;

/// One instance's heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// Its name (`upstream.instance`).
    pub instance: String,
    /// The tollgate version it runs.
    pub version: String,
    /// When it started (ns since the epoch).
    pub started_ns: i128,
    /// When it wrote this heartbeat.
    pub heartbeat_ns: i128,
    /// Seconds between its heartbeats.
    pub heartbeat_secs: u64,
    /// Written as it stopped: it is not coming back on its own.
    pub left: bool,
    /// The last entry of the cluster's control log it had applied.
    #[serde(default)]
    pub control_applied: u64,
    /// What it stores, `[objects, bytes]` by bucket (the objects written through it): the
    /// others count it in their quota checks.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub usage: std::collections::BTreeMap<String, [u64; 2]>,
}

/// Whether an instance is serving, as far as its heartbeats tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Presence {
    /// Its last heartbeat is recent.
    Live,
    /// It said it stopped.
    Left,
    /// No heartbeat for [`GONE_AFTER`] of its intervals: crashed or cut off.
    Gone,
}

impl Member {
    /// Its presence at `now_ns`.
    #[must_use]
    pub fn presence(&self, now_ns: i128) -> Presence {
        let silence = i128::from(self.heartbeat_secs.max(1)) * GONE_AFTER * 1_000_000_000;
        if self.left {
            Presence::Left
        } else if now_ns - self.heartbeat_ns > silence {
            Presence::Gone
        } else {
            Presence::Live
        }
    }
}

impl UpstreamBackend {
    /// Writes `beat` as its instance's heartbeat.
    pub(super) async fn write_heartbeat(&self, t: &MirrorTarget, beat: &Member) -> Result<(), Error> {
        let body = Bytes::from(serde_json::to_vec(beat).map_err(|e| Error::Io(std::io::Error::other(e)))?);
        let call = Call::new(Method::PUT, &t.bucket, &format!("{PREFIX}{}.json", beat.instance)).header("content-type", "application/json");
        let resp = self.client.send(&call, body).await?;
        self.client.ok(resp).await.map(|_| ())
    }

    /// Every instance's last heartbeat, by name; one that does not parse is left out
    /// (logged), as is one deleted between the listing and its read.
    pub(super) async fn read_heartbeats(&self, t: &MirrorTarget) -> Result<Vec<Member>, Error> {
        let mut members = Vec::new();
        for key in self.list_meta(&t.bucket, PREFIX).await? {
            let resp = self.client.send(&Call::new(Method::GET, &t.bucket, &key), Bytes::new()).await?;
            if resp.status() == http::StatusCode::NOT_FOUND {
                continue;
            }
            let body = self.client.xml(resp).await?;
            match serde_json::from_slice::<Member>(&body) {
                Ok(m) => members.push(m),
                Err(e) => tracing::warn!(%key, error = %e, "a heartbeat in the metadata bucket does not parse"),
            }
        }
        Ok(members)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presence_follows_the_heartbeat_age_and_a_leaving_instance() {
        let s = 1_000_000_000;
        let m = Member {
            instance: "a".into(),
            version: "1".into(),
            started_ns: 0,
            heartbeat_ns: 100 * s,
            heartbeat_secs: 5,
            left: false,
            control_applied: 0,
            usage: Default::default(),
        };
        assert_eq!(m.presence(100 * s), Presence::Live);
        assert_eq!(m.presence(115 * s), Presence::Live, "three intervals of silence are tolerated");
        assert_eq!(m.presence(115 * s + 1), Presence::Gone);
        assert_eq!(Member { left: true, ..m }.presence(100 * s), Presence::Left);
    }
}

//! A rebuild's check of the mirrored proof manifests, before anything is restored. A
//! rebuilt store re-appends the manifests to new logs whose heads the gateway then signs,
//! and manifests are not signed one by one (their log's heads are): a manifest altered or
//! dropped in the upstream must not come back vouched for by the gateway's key. So only
//! what the mirror itself vouches for is re-logged: an old manifest by its own signature, a
//! logged one by a mirrored signed tree head over it (or by a signed manifest after it,
//! through the `prev` links). Each mirror pass writes the manifests its head covers
//! together with that head, and each log's genesis (`heads/{tenant}/genesis.json`), so the
//! rebuilt log is the one the mirrored heads sign.

use super::UpstreamBackend;
use super::mirror::{MirrorTarget, parse_jsonl};
use crate::backend::Error;
use crate::meta::merkle::{self, Frontier};
use crate::meta::{ChainHead, Manifest, TreeHead, genesis_leaf};
use crate::proof::manifest::{published_key, verify_head};

use std::collections::{BTreeSet, HashMap};
use std::ops::RangeInclusive;

/// The name of a tenant's log genesis in the mirror, under `heads/`.
pub(super) fn genesis_name(tenant: &str) -> String {
    format!("{tenant}/genesis.json")
}

/// What a rebuild re-logs: per tenant, the seqs of the manifests that join its log.
#[derive(Debug, Default)]
pub(super) struct Relog {
    logged: HashMap<String, RangeInclusive<u64>>,
    /// Manifests no signature vouches for (mirrored after the last head, after a pruned
    /// run, or of a log whose mirrored heads disagree with a replay from an unknown
    /// genesis): imported without a leaf.
    pub unvouched: u64,
}

impl Relog {
    /// Whether the manifest `seq` of `tenant` joins its log.
    pub fn logs(&self, tenant: &str, seq: u64) -> bool {
        self.logged.get(tenant).is_some_and(|r| r.contains(&seq))
    }
}

/// A tenant's chain replayed from its mirrored manifests, as the rebuild will log it.
struct Replay {
    /// The log's genesis as mirrored; `None` (a mirror from before it was): the chain's start.
    genesis: Option<ChainHead>,
    /// Sizes of the tenant's mirrored heads.
    head_sizes: BTreeSet<u64>,
    /// The log as replayed so far (from its first manifest).
    frontier: Option<Frontier>,
    next_seq: u64,
    prev: String,
    /// The last seq whose manifest, and so every one before it, is vouched for.
    vouched: u64,
    /// Manifests after `vouched`.
    pending: u64,
    /// The chain has a gap (a pruned run) or, from an unknown genesis, the heads disagree:
    /// nothing after is vouched.
    stopped: bool,
}

impl Replay {
    fn first_logged(&self) -> u64 {
        // The genesis is read from the upstream: a hostile one may say anything.
        self.genesis.as_ref().map_or(1, |g| g.seq.saturating_add(1))
    }
}

impl UpstreamBackend {
    /// Replays each tenant's mirrored chain and decides what is re-logged (see the module
    /// doc). Refused (`InvalidRequest`): a manifest whose `prev` is not the hash of the one
    /// before, an old manifest whose signature does not verify under the mirrored key its id
    /// names, a mirrored head whose signature does not, and, where the log's genesis is
    /// mirrored, manifests that do not hash to a head they reach.
    pub(super) async fn check_mirrored_log(&self, t: &MirrorTarget, keys: &[(String, String)]) -> Result<Relog, Error> {
        let key_for = |id: &str| published_key(keys, id);
        let heads_prefix = format!("{}heads/", t.root());
        let mut head_sizes: HashMap<String, BTreeSet<u64>> = HashMap::new();
        for key in self.list_meta(&t.bucket, &heads_prefix).await? {
            let Some((tenant, file)) = key.strip_prefix(heads_prefix.as_str()).and_then(|rest| rest.rsplit_once('/')) else { continue };
            if let Some(size) = file.strip_suffix(".json").and_then(|n| n.parse::<u64>().ok()) {
                head_sizes.entry(tenant.to_owned()).or_default().insert(size);
            }
        }
        let mut replays: HashMap<String, Replay> = HashMap::new();
        for key in self.list_meta(&t.bucket, &format!("{}proofs/", t.root())).await? {
            let Some(body) = self.get_meta(t, &key).await? else { continue };
            for m in parse_jsonl::<Manifest>(&body)? {
                if !replays.contains_key(&m.tenant) {
                    let genesis = match self.get_meta(t, &format!("{heads_prefix}{}", genesis_name(&m.tenant))).await? {
                        Some(raw) => {
                            Some(serde_json::from_slice(&raw).map_err(|e| Error::InvalidRequest(format!("the mirrored log genesis of {}: {e}", m.tenant)))?)
                        }
                        None => None,
                    };
                    let sizes = head_sizes.remove(&m.tenant).unwrap_or_default();
                    let replay =
                        Replay { genesis, head_sizes: sizes, frontier: None, next_seq: 1, prev: String::new(), vouched: 0, pending: 0, stopped: false };
                    replays.insert(m.tenant.clone(), replay);
                }
                let Some(r) = replays.get_mut(&m.tenant) else { continue };
                r.pending += 1;
                // A gap is a pruned run: what follows cannot be replayed. A wrong link is
                // an edit.
                if r.stopped || m.seq != r.next_seq {
                    r.stopped = true;
                    continue;
                }
                if m.prev != r.prev {
                    return Err(Error::InvalidRequest(format!(
                        "the mirrored manifest {} (seq {} of tenant {}) does not follow the one before it: a manifest was altered in the upstream; nothing was restored",
                        m.id, m.seq, m.tenant
                    )));
                }
                (r.next_seq, r.prev) = (m.seq + 1, m.hash());
                if !m.logged() {
                    let signed = key_for(&m.key_id).is_some_and(|k| m.verify(&k).is_ok());
                    if !signed {
                        return Err(Error::InvalidRequest(format!(
                            "the mirrored manifest {} (seq {} of tenant {}) is not signed by the key it names: altered in the upstream; nothing was restored",
                            m.id, m.seq, m.tenant
                        )));
                    }
                    (r.vouched, r.pending) = (m.seq, 0);
                }
                if m.seq < r.first_logged() {
                    continue;
                }
                let genesis = r.genesis.clone().unwrap_or_default();
                let frontier = r.frontier.get_or_insert_with(|| {
                    let mut f = Frontier::default();
                    f.append(merkle::leaf_hash(genesis_leaf(&m.tenant, &genesis).as_bytes()));
                    f
                });
                frontier.append(merkle::leaf_hash(m.canonical_json().as_bytes()));
                let size = frontier.size();
                if !r.head_sizes.contains(&size) {
                    continue;
                }
                let root = frontier.root();
                let head = self.mirrored_head(t, &heads_prefix, &m.tenant, size).await?;
                let signed =
                    key_for(&head.key_id).ok_or_else(|| format!("its key {} is not among the mirrored keys", head.key_id)).and_then(|k| verify_head(&head, &k));
                match signed {
                    Ok(signed_root) if signed_root == root && head.tenant == m.tenant => (r.vouched, r.pending) = (m.seq, 0),
                    Ok(_) if r.genesis.is_none() => r.stopped = true,
                    Ok(_) => {
                        return Err(Error::InvalidRequest(format!(
                            "the mirrored manifests of tenant {} do not hash to its mirrored signed tree head of {size} leaves (root {}): a manifest was altered or removed in the upstream; nothing was restored",
                            m.tenant, head.root_hash
                        )));
                    }
                    Err(why) => {
                        return Err(Error::InvalidRequest(format!(
                            "the mirrored signed tree head of tenant {} of {size} leaves does not verify ({why}); nothing was restored",
                            m.tenant
                        )));
                    }
                }
            }
        }
        let mut relog = Relog::default();
        for (tenant, r) in replays {
            relog.unvouched += r.pending;
            relog.logged.insert(tenant, r.first_logged()..=r.vouched);
        }
        Ok(relog)
    }

    async fn mirrored_head(&self, t: &MirrorTarget, heads_prefix: &str, tenant: &str, size: u64) -> Result<TreeHead, Error> {
        let name = format!("{heads_prefix}{tenant}/{size:020}.json");
        let body = self.get_meta(t, &name).await?.ok_or_else(|| Error::Unavailable(format!("{name} vanished during the rebuild")))?;
        serde_json::from_slice(&body).map_err(|e| Error::InvalidRequest(format!("{name} does not parse: {e}")))
    }
}

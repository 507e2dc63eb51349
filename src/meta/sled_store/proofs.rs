//! Proof manifests, each tenant's chain and its checkpoints, the signing keys' public
//! halves, and each tenant's proof log (an RFC 9162 Merkle tree over its manifests) with
//! its signed tree heads.

use super::*;
use crate::meta::merkle::{self, Frontier, Hash, Subtrees};

use serde::{Deserialize, Serialize};

pub(super) fn index_key(kind: u8, parts: &[&[u8]]) -> Vec<u8> {
    let mut k = vec![kind];
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            k.push(0);
        }
        k.extend_from_slice(p);
    }
    k
}

/// The proof index rows of a manifest: its place in its tenant's chain, among the
/// manifests of its object (`object_n` orders them) and by body digest.
pub(super) fn proof_index_rows(m: &Manifest, object_n: u64) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut rows = vec![
        (index_key(b'c', &[m.tenant.as_bytes(), &m.seq.to_be_bytes()]), m.id.as_bytes().to_vec()),
        (index_key(b'o', &[m.bucket.as_bytes(), m.key.as_bytes(), &object_n.to_be_bytes()]), m.id.as_bytes().to_vec()),
    ];
    if !m.sha256.is_empty() {
        rows.push((index_key(b's', &[m.sha256.as_bytes(), m.id.as_bytes()]), Vec::new()));
    }
    rows
}

/// Where a tenant's proof log stands, as `proof_index` keeps it under `g` tenant: the chain
/// head it began after, and its [`Frontier`] (so appending reads one row).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct LogState {
    genesis: ChainHead,
    size: u64,
    /// Hex roots of the complete subtrees, largest first.
    frontier: Vec<String>,
}

impl LogState {
    fn frontier(&self) -> Result<Frontier> {
        let roots = self.frontier.iter().map(|h| merkle::from_hex(h)).collect::<Option<Vec<Hash>>>();
        roots.and_then(|r| Frontier::from_parts(self.size, r)).ok_or_else(|| Error::Corrupt("proof log frontier does not parse".into()))
    }
}

fn log_key(tenant: &str) -> Vec<u8> {
    index_key(b'g', &[tenant.as_bytes()])
}

fn node_key(tenant: &str, level: u8, index: u64) -> Vec<u8> {
    index_key(b'n', &[tenant.as_bytes(), &[level], &index.to_be_bytes()])
}

fn head_key(tenant: &str, size: u64) -> Vec<u8> {
    index_key(b't', &[tenant.as_bytes(), &size.to_be_bytes()])
}

fn leaf_key(id: &str) -> Vec<u8> {
    index_key(b'l', &[id.as_bytes()])
}

/// A manifest as its tenant's log appends it: what its leaf is and which chain head it follows.
pub(super) struct LogEntry {
    tenant: String,
    id: String,
    seq: u64,
    leaf: Hash,
    /// The chain head the manifest follows: the log's leaf 0 commits to it if the log
    /// begins with this manifest.
    follows: ChainHead,
}

impl LogEntry {
    fn of(m: &Manifest, follows: ChainHead) -> Self {
        Self { tenant: m.tenant.clone(), id: m.id.clone(), seq: m.seq, leaf: merkle::leaf_hash(m.canonical_json().as_bytes()), follows }
    }
}

/// The rows appending `entry` to its tenant's log writes, given the log's state: the leaf
/// and the subtrees it completes, the manifest's leaf index by id, and the new log state;
/// the log is created (its leaf 0 committing to the followed head) if it has none. Its leaf
/// index is its `seq` less the genesis `seq`.
fn log_append(state: Option<LogState>, entry: &LogEntry) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut rows = Vec::new();
    let node_rows = |nodes: Vec<merkle::Node>, rows: &mut Vec<(Vec<u8>, Vec<u8>)>| {
        rows.extend(nodes.into_iter().map(|n| (node_key(&entry.tenant, n.level, n.index), n.hash.to_vec())));
    };
    let (genesis, mut frontier) = match state {
        Some(s) => {
            let f = s.frontier()?;
            (s.genesis, f)
        }
        None => {
            let mut f = Frontier::default();
            node_rows(f.append(merkle::leaf_hash(genesis_leaf(&entry.tenant, &entry.follows).as_bytes())), &mut rows);
            (entry.follows.clone(), f)
        }
    };
    let leaf = frontier.size();
    if genesis.seq + leaf != entry.seq {
        return Err(Error::Corrupt(format!("proof log of {} has {leaf} leaves after seq {}, out of step with seq {}", entry.tenant, genesis.seq, entry.seq)));
    }
    node_rows(frontier.append(entry.leaf), &mut rows);
    rows.push((leaf_key(&entry.id), [&leaf.to_be_bytes()[..], entry.tenant.as_bytes()].concat()));
    let state = LogState { genesis, size: frontier.size(), frontier: frontier.roots().iter().map(merkle::to_hex).collect() };
    rows.push((log_key(&entry.tenant), encode(&state)));
    Ok(rows)
}

/// A tenant's stored complete subtrees, for building proofs.
struct StoredTree<'a> {
    index: &'a Tree,
    tenant: &'a str,
}

impl Subtrees for StoredTree<'_> {
    fn subtree(&self, level: u8, index: u64) -> Option<Hash> {
        self.index.get(node_key(self.tenant, level, index)).ok().flatten().and_then(|v| v.as_ref().try_into().ok())
    }
}

/// A proof manifest placed after its tenant's chain head, as the bytes its transaction
/// inserts. Sealed under the tenant's write lock but outside the transaction (sled's
/// global lock), where the hashes and the JSON would hold up every writer of the process.
pub(super) struct SealedProof {
    tenant: String,
    /// The raw head the manifest follows (none: the chain's first).
    follows: Option<sled::IVec>,
    head: Vec<u8>,
    id: String,
    manifest: Vec<u8>,
    index_rows: Vec<(Vec<u8>, Vec<u8>)>,
    /// Appended to the log inside the transaction, where the log's state is read
    /// consistently with the chain head [`tx_chain_holds`] checked (read outside, a
    /// concurrent commit could show one and not yet the other).
    log: LogEntry,
}

/// Whether the chain head `sealed` follows is still its tenant's head.
pub(super) fn tx_chain_holds(heads: &TransactionalTree, sealed: Option<&SealedProof>) -> std::result::Result<bool, ConflictableTransactionError<Error>> {
    match sealed {
        Some(s) => Ok(heads.get(s.tenant.as_bytes())? == s.follows),
        None => Ok(true),
    }
}

/// Appends a sealed proof to its tenant's chain inside a transaction (after
/// [`tx_chain_holds`]).
pub(super) fn tx_proof(
    proofs: &TransactionalTree,
    index: &TransactionalTree,
    heads: &TransactionalTree,
    sealed: Option<&SealedProof>,
) -> std::result::Result<(), ConflictableTransactionError<Error>> {
    let Some(s) = sealed else { return Ok(()) };
    heads.insert(s.tenant.as_bytes(), s.head.as_slice())?;
    proofs.insert(s.id.as_bytes(), s.manifest.as_slice())?;
    for (k, v) in &s.index_rows {
        index.insert(k.as_slice(), v.as_slice())?;
    }
    let state: Option<LogState> = index.get(log_key(&s.tenant))?.map(|v| tx_decode(&v)).transpose()?;
    match log_append(state, &s.log) {
        Ok(rows) => {
            for (k, v) in rows {
                index.insert(k, v)?;
            }
            Ok(())
        }
        Err(e) => abort(e),
    }
}

impl SledStore {
    pub(super) fn proofs_of_ids(&self, ids: impl Iterator<Item = sled::Result<sled::IVec>>) -> Result<Vec<Manifest>> {
        let mut out = Vec::new();
        for id in ids {
            if let Some(raw) = self.proofs.get(id?)? {
                out.push(decode(&raw)?);
            }
        }
        Ok(out)
    }

    /// Places `draft` after its tenant's current chain head, names the version the change
    /// made or removed (`version_id`, empty in an unversioned bucket: only the store knows
    /// it) and encodes it with its log leaf (see [`SealedProof`]); called with the tenant
    /// locked.
    pub(super) fn seal(&self, draft: &ProofDraft, object_n: u64, version_id: &str) -> Result<SealedProof> {
        let follows = self.proof_heads.get(draft.tenant.as_bytes())?;
        let head: ChainHead = follows.as_deref().map(decode).transpose()?.unwrap_or_default();
        let mut m = draft.clone();
        m.seq = head.seq + 1;
        m.prev.clone_from(&head.hash);
        version_id.clone_into(&mut m.version_id);
        let index_rows = proof_index_rows(&m, object_n);
        let log = LogEntry::of(&m, head);
        // Marked before the commit: a commit that then fails leaves a log that did not
        // grow, whose head the next signing skips; one that succeeds is always marked
        // before its writer waits for the group commit that signs it.
        self.log_dirty.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(m.tenant.clone());
        Ok(SealedProof { follows, head: encode(&ChainHead { seq: m.seq, hash: m.hash() }), index_rows, log, manifest: encode(&m), id: m.id, tenant: m.tenant })
    }
}

impl SledStore {
    pub(super) fn proof_get(&self, id: &str) -> Result<Option<Manifest>> {
        self.proofs.get(id)?.map(|v| decode(&v)).transpose()
    }

    pub(super) fn proof_of_object(&self, bucket: &str, key: &str) -> Result<Vec<Manifest>> {
        let mut prefix = index_key(b'o', &[bucket.as_bytes(), key.as_bytes()]);
        prefix.push(0);
        // A key containing NUL could share the prefix: keep exact matches only.
        let mut found = self.proofs_of_ids(self.proof_index.scan_prefix(prefix).values())?;
        found.retain(|m| m.bucket == bucket && m.key == key);
        Ok(found)
    }

    pub(super) fn proof_by_sha256(&self, sha256: &str) -> Result<Vec<Manifest>> {
        let mut prefix = index_key(b's', &[sha256.as_bytes()]);
        prefix.push(0);
        let strip = prefix.len();
        let ids = self.proof_index.scan_prefix(prefix).keys().map(move |k| k.map(|k| sled::IVec::from(&k[strip..])));
        self.proofs_of_ids(ids)
    }

    pub(super) fn proof_chain<'a>(&'a self, tenant: &str, from_seq: u64) -> Box<dyn Iterator<Item = Result<Manifest>> + 'a> {
        let mut prefix = index_key(b'c', &[tenant.as_bytes()]);
        prefix.push(0);
        let mut start = prefix.clone();
        start.extend_from_slice(&from_seq.to_be_bytes());
        Box::new(self.proof_index.range(start..).take_while(move |r| r.as_ref().map_or(true, |(k, _)| k.starts_with(&prefix))).map(move |r| {
            let (_, id) = r?;
            let raw = self.proofs.get(&id)?.ok_or_else(|| Error::Corrupt("chain names a missing manifest".into()))?;
            decode(&raw)
        }))
    }

    pub(super) fn proof_head(&self, tenant: &str) -> Result<Option<ChainHead>> {
        self.proof_heads.get(tenant)?.map(|v| decode(&v)).transpose()
    }

    pub(super) fn proof_key_put(&self, key_id: &str, public_key: &str) -> Result<()> {
        self.proof_keys.insert(key_id, public_key.as_bytes())?;
        Ok(())
    }

    pub(super) fn proof_keys(&self) -> Result<Vec<(String, String)>> {
        self.proof_keys
            .iter()
            .map(|r| {
                let (k, v) = r?;
                Ok((String::from_utf8_lossy(&k).into_owned(), String::from_utf8_lossy(&v).into_owned()))
            })
            .collect()
    }

    pub(super) fn proof_checkpoints(&self, tenant: &str) -> Result<Vec<Checkpoint>> {
        self.proof_checkpoints.scan_prefix(index_key(b'k', &[tenant.as_bytes(), &[]])).values().map(|v| decode(&v?)).collect()
    }

    pub(super) fn proof_prune(&self, expired: &dyn Fn(&Manifest) -> bool, sign: &dyn Fn(&mut Checkpoint)) -> Result<u64> {
        // Every manifest by object, with its by-object index key, oldest first.
        let mut objects: HashMap<(String, String), Vec<(sled::IVec, Manifest)>> = HashMap::new();
        for r in self.proof_index.scan_prefix([b'o']) {
            let (k, id) = r?;
            let Some(raw) = self.proofs.get(&id)? else {
                continue;
            };
            let m: Manifest = decode(&raw)?;
            objects.entry((m.bucket.clone(), m.key.clone())).or_default().push((k, m));
        }
        // What goes, per tenant and seq.
        let mut doomed: BTreeMap<String, BTreeMap<u64, (sled::IVec, Manifest)>> = BTreeMap::new();
        for versions in objects.into_values() {
            if versions.last().is_some_and(|(_, m)| m.op == "delete" && expired(m)) {
                for (k, m) in versions {
                    doomed.entry(m.tenant.clone()).or_default().insert(m.seq, (k, m));
                }
            }
        }
        let mut removed = 0u64;
        for (tenant, seqs) in doomed {
            let mut checkpoints: BTreeMap<u64, Checkpoint> = self.proof_checkpoints(&tenant)?.into_iter().map(|c| (c.first_seq, c)).collect();
            let mut runs: Vec<Vec<(sled::IVec, Manifest)>> = Vec::new();
            for (seq, entry) in seqs {
                match runs.last_mut() {
                    Some(run) if run.last().is_some_and(|(_, m)| m.seq + 1 == seq) => run.push(entry),
                    _ => runs.push(vec![entry]),
                }
            }
            for run in runs {
                let (first, last) = (&run[0].1, &run[run.len() - 1].1);
                let before = checkpoints.values().find(|c| c.last_seq + 1 == first.seq).map(|c| c.first_seq);
                let before = before.and_then(|s| checkpoints.remove(&s));
                let after = checkpoints.remove(&(last.seq + 1));
                let mut cp = Checkpoint {
                    v: MANIFEST_VERSION,
                    tenant: tenant.clone(),
                    first_seq: before.as_ref().map_or(first.seq, |c| c.first_seq),
                    last_seq: after.as_ref().map_or(last.seq, |c| c.last_seq),
                    first_prev: before.as_ref().map_or_else(|| first.prev.clone(), |c| c.first_prev.clone()),
                    last_hash: after.as_ref().map_or_else(|| last.hash(), |c| c.last_hash.clone()),
                    created: String::new(),
                    key_id: String::new(),
                    sig: String::new(),
                };
                sign(&mut cp);
                let cp_key = |seq: u64| index_key(b'k', &[tenant.as_bytes(), &seq.to_be_bytes()]);
                let replaced: Vec<Vec<u8>> = before.iter().chain(after.iter()).map(|c| cp_key(c.first_seq)).collect();
                let value = encode(&cp);
                flatten((&self.proofs, &self.proof_index, &self.proof_checkpoints).transaction(|(proofs, index, cps)| {
                    for (object_key, m) in &run {
                        proofs.remove(m.id.as_bytes())?;
                        // The log keeps the leaf's hash (its subtrees): the tree, and every
                        // other manifest's inclusion proof, stay verifiable.
                        index.remove(leaf_key(&m.id))?;
                        index.remove(object_key)?;
                        index.remove(index_key(b'c', &[m.tenant.as_bytes(), &m.seq.to_be_bytes()]))?;
                        if !m.sha256.is_empty() {
                            index.remove(index_key(b's', &[m.sha256.as_bytes(), m.id.as_bytes()]))?;
                        }
                    }
                    for k in &replaced {
                        cps.remove(k.as_slice())?;
                    }
                    cps.insert(cp_key(cp.first_seq), value.as_slice())?;
                    Ok(())
                }))?;
                removed += run.len() as u64;
                checkpoints.insert(cp.first_seq, cp);
            }
        }
        Ok(removed)
    }

    pub(super) fn proof_import(&self, manifests: &[Manifest], logged: &dyn Fn(&str, u64) -> bool) -> Result<()> {
        for m in manifests {
            let object_n = self.db.generate_id()?;
            self.proofs.insert(m.id.as_bytes(), encode(m))?;
            for (k, v) in proof_index_rows(m, object_n) {
                self.proof_index.insert(k, v)?;
            }
            let head = self.proof_head(&m.tenant)?;
            // The next manifest of the chain joins the log as it would have on a write.
            let state: Option<LogState> = self.proof_index.get(log_key(&m.tenant))?.map(|v| decode(&v)).transpose()?;
            let follows = head.clone().unwrap_or_default();
            if logged(&m.tenant, m.seq) && follows.seq + 1 == m.seq && (follows.seq == 0 || follows.hash == m.prev) {
                let start = ChainHead { seq: m.seq - 1, hash: m.prev.clone() };
                if let Ok(rows) = log_append(state, &LogEntry::of(m, start)) {
                    for (k, v) in rows {
                        self.proof_index.insert(k, v)?;
                    }
                    self.log_dirty.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(m.tenant.clone());
                }
            }
            let ahead = head.is_none_or(|h| h.seq < m.seq);
            if ahead {
                self.proof_heads.insert(m.tenant.as_bytes(), encode(&ChainHead { seq: m.seq, hash: m.hash() }))?;
            }
        }
        Ok(())
    }

    pub(super) fn checkpoint_import(&self, c: &Checkpoint) -> Result<()> {
        self.proof_checkpoints.insert(index_key(b'k', &[c.tenant.as_bytes(), &c.first_seq.to_be_bytes()]), encode(c))?;
        Ok(())
    }
}

impl SledStore {
    pub(super) fn proof_log(&self, tenant: &str) -> Result<Option<LogInfo>> {
        let Some(raw) = self.proof_index.get(log_key(tenant))? else { return Ok(None) };
        let state: LogState = decode(&raw)?;
        let root = state.frontier()?.root();
        Ok(Some(LogInfo { tree_size: state.size, root_hash: merkle::to_hex(&root), genesis: state.genesis }))
    }

    pub(super) fn proof_leaf(&self, id: &str) -> Result<Option<(String, u64)>> {
        let Some(raw) = self.proof_index.get(leaf_key(id))? else { return Ok(None) };
        let (leaf, tenant) = raw.split_at_checked(8).ok_or_else(|| Error::Corrupt("leaf row is short".into()))?;
        let leaf: [u8; 8] = leaf.try_into().map_err(|_| Error::Corrupt("leaf row is short".into()))?;
        Ok(Some((String::from_utf8_lossy(tenant).into_owned(), u64::from_be_bytes(leaf))))
    }

    fn log_size(&self, tenant: &str) -> Result<u64> {
        Ok(self.proof_log(tenant)?.map_or(0, |l| l.tree_size))
    }

    pub(super) fn proof_inclusion(&self, tenant: &str, leaf: u64, tree_size: u64) -> Result<Vec<String>> {
        if leaf >= tree_size || tree_size > self.log_size(tenant)? {
            return Err(Error::NotFound);
        }
        let path = merkle::inclusion_proof(&StoredTree { index: &self.proof_index, tenant }, leaf, tree_size)
            .ok_or_else(|| Error::Corrupt(format!("proof log of {tenant} misses a subtree")))?;
        Ok(path.iter().map(merkle::to_hex).collect())
    }

    pub(super) fn proof_consistency(&self, tenant: &str, first: u64, second: u64) -> Result<Vec<String>> {
        if first > second || second > self.log_size(tenant)? {
            return Err(Error::NotFound);
        }
        let path = merkle::consistency_proof(&StoredTree { index: &self.proof_index, tenant }, first, second)
            .ok_or_else(|| Error::Corrupt(format!("proof log of {tenant} misses a subtree")))?;
        Ok(path.iter().map(merkle::to_hex).collect())
    }

    pub(super) fn proof_tree_head(&self, tenant: &str, tree_size: Option<u64>) -> Result<Option<TreeHead>> {
        match tree_size {
            Some(n) => self.proof_index.get(head_key(tenant, n))?.map(|v| decode(&v)).transpose(),
            None => {
                // Every read answer names the latest head's size: kept in memory, not
                // scanned and decoded per request.
                if let Some(h) = self.latest_heads.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(tenant) {
                    return Ok(Some(h.clone()));
                }
                let mut prefix = index_key(b't', &[tenant.as_bytes()]);
                prefix.push(0);
                let head: Option<TreeHead> = self.proof_index.scan_prefix(prefix).values().next_back().transpose()?.map(|v| decode(&v)).transpose()?;
                if let Some(h) = &head {
                    self.remember_head(h);
                }
                Ok(head)
            }
        }
    }

    /// Keeps `head` as its tenant's latest, unless a bigger one is known (two signings can
    /// race; the store keeps both, the bigger is the latest).
    fn remember_head(&self, head: &TreeHead) {
        let mut heads = self.latest_heads.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if heads.get(&head.tenant).is_none_or(|h| h.tree_size < head.tree_size) {
            heads.insert(head.tenant.clone(), head.clone());
        }
    }

    /// Tenants whose log is ahead of their last signed head (after a crash between a
    /// commit and its group's signing): signed as soon as a signer is set.
    pub(super) fn unsigned_logs(&self) -> Result<BTreeSet<String>> {
        let mut out = BTreeSet::new();
        for r in self.proof_index.scan_prefix([b'g']) {
            let (k, v) = r?;
            let tenant = String::from_utf8_lossy(&k[1..]).into_owned();
            let state: LogState = decode(&v)?;
            if self.proof_tree_head(&tenant, None)?.is_none_or(|h| h.tree_size < state.size) {
                out.insert(tenant);
            }
        }
        Ok(out)
    }

    pub(super) fn proof_set_head_signer(&self, signer: HeadSigner) -> Result<Vec<TreeHead>> {
        // Set once (the gateway's key); a second signer is ignored.
        let _ = self.head_signer.set(signer);
        let pending = self.unsigned_logs()?;
        self.log_dirty.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend(pending);
        self.proof_sign_heads()
    }

    /// Signs one head for each tenant whose log grew since its last signed one: what every
    /// group commit does before its flush, so the heads are as durable as the leaves.
    pub(super) fn proof_sign_heads(&self) -> Result<Vec<TreeHead>> {
        let Some(signer) = self.head_signer.get() else { return Ok(Vec::new()) };
        let dirty = std::mem::take(&mut *self.log_dirty.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        let mut signed = Vec::new();
        for tenant in dirty {
            let Some(log) = self.proof_log(&tenant)? else { continue };
            if self.proof_tree_head(&tenant, None)?.is_some_and(|h| h.tree_size >= log.tree_size) {
                continue;
            }
            let mut head = TreeHead {
                v: MANIFEST_VERSION,
                tenant: tenant.clone(),
                tree_size: log.tree_size,
                root_hash: log.root_hash,
                created: String::new(),
                key_id: String::new(),
                sig: String::new(),
            };
            signer(&mut head);
            self.proof_index.insert(head_key(&tenant, head.tree_size), encode(&head))?;
            self.remember_head(&head);
            signed.push(head);
        }
        Ok(signed)
    }
}

//! `tollgate proof ...`: fetch manifests, verify a file against one (offline when given
//! the manifest and the public key: file, manifest, inclusion in the tenant's log, signed
//! tree head), walk a tenant's whole chain, and monitor tenants' logs for forks.

use super::manifest::{self, Manifest, TreeHead};
use super::merkle;
use crate::api_client::{Connection, request};

use std::io::Read;
use std::path::{Path, PathBuf};

use clap::Subcommand;
use serde_json::Value;
use sha2::Digest as _;

/// `tollgate proof` subcommands: fetch manifests and public keys from the proof API, verify files and chains.
#[derive(Debug, Subcommand)]
pub enum ProofCommand {
    /// A key's manifests (--bucket, --key; with --version-id only those of that version
    /// of it), one manifest (--id), or all of a digest (--sha256).
    Get {
        /// Bucket of the key (with --key).
        #[arg(long, requires = "key")]
        bucket: Option<String>,
        /// Object key (with --bucket).
        #[arg(long, requires = "bucket")]
        key: Option<String>,
        /// Only the manifests of this version of the key (with --bucket and --key), in a
        /// versioned bucket: its write, and its removal if it was deleted by version id.
        #[arg(long, requires = "key")]
        version_id: Option<String>,
        /// Manifest id.
        #[arg(long)]
        id: Option<String>,
        /// Lower-case hex SHA-256 of a body: every manifest recording it.
        #[arg(long)]
        sha256: Option<String>,
    },
    /// The gateway's public keys.
    Pubkey,
    /// What the gateway recorded for FILE. With --manifest and --pubkey this runs
    /// offline: it needs nothing but the file, the manifest and the public key.
    Verify {
        /// The file to check.
        file: PathBuf,
        /// A manifest (JSON), e.g. saved from `tollgate proof get`.
        #[arg(long, requires = "pubkey")]
        manifest: Option<PathBuf>,
        /// The public key (base64 or hex), from `tollgate proof pubkey`.
        #[arg(long, requires = "manifest")]
        pubkey: Option<String>,
    },
    /// Tenant chains.
    #[command(subcommand)]
    Chain(ChainCommand),
    /// Check that tenants' proof logs only grew since the heads kept in --state: fetches
    /// each one's latest signed tree head and its consistency proof from the kept one,
    /// and fails (exit status 1, a message naming the tenant) on a rollback or a fork.
    /// Keeps the new heads in --state; meant for cron.
    Monitor {
        /// The file keeping the last head seen of each tenant (created if missing).
        #[arg(long)]
        state: PathBuf,
        /// Tenants to watch (added to those in --state).
        #[arg(long)]
        tenant: Vec<String>,
        /// The public key (base64 or hex) heads must be signed with; without it, the keys the
        /// gateway publishes, pinned in --state the first time each is seen.
        #[arg(long)]
        pubkey: Option<String>,
    },
}

/// Tenant chain commands.
#[derive(Debug, Subcommand)]
pub enum ChainCommand {
    /// Walk a tenant's whole chain: every signature and every link.
    Verify {
        /// Tenant whose chain to walk.
        #[arg(long)]
        tenant: String,
        /// Other instances of the cluster (their endpoints, comma-separated): each keeps
        /// its own chain of the tenant, walked in turn with the same credentials.
        #[arg(long, value_delimiter = ',')]
        instances: Vec<String>,
    },
}

/// Lower-case hex SHA-256 of a file, streamed.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut sha = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        sha.update(&buf[..n]);
    }
    Ok(hex_simd::encode_to_string(sha.finalize(), hex_simd::AsciiCase::Lower))
}

/// Checks a file against a manifest and a public key, with no gateway involved (and, if the
/// manifest comes with its `log` proof, its inclusion in the signed tree head).
pub fn verify_offline(file: &Path, manifest_json: &[u8], pubkey: &str) -> Result<Manifest, String> {
    verify_bundle(file, manifest_json, pubkey).map(|v| v.manifest)
}

/// What [`verify_bundle`] checked.
#[derive(Debug)]
pub struct Verified {
    /// The manifest, its signature valid and its digest the file's.
    pub manifest: Manifest,
    /// Its leaf index and the signed tree head it is included in (none for a manifest
    /// served without a log proof: one from before the log).
    pub log: Option<(u64, TreeHead)>,
}

/// A manifest's `log` member, as the proof API serves it.
#[derive(serde::Deserialize)]
struct LogProof {
    leaf_index: u64,
    inclusion_path: Vec<String>,
    tree_head: TreeHead,
}

/// Checks, offline: the file's SHA-256 is the manifest's; and the manifest: by its own
/// signature if it has one, and if it carries a `log` proof (which a logged manifest must),
/// that it is leaf `leaf_index` of the tree its signed tree head names, of the same tenant.
pub fn verify_bundle(file: &Path, manifest_json: &[u8], pubkey: &str) -> Result<Verified, String> {
    let m = Manifest::parse(manifest_json).map_err(|e| e.to_string())?;
    let key = manifest::parse_public_key(pubkey).ok_or("the public key is not a 32-byte Ed25519 key in base64 or hex")?;
    // A logged manifest is proved by the head that includes it, whose key is checked below:
    // the head served may be signed by a key rotated in after the manifest was recorded.
    if !m.logged() {
        if manifest::key_id(&key) != m.key_id {
            return Err(format!("the manifest was signed with key {}, not this one ({})", m.key_id, manifest::key_id(&key)));
        }
        m.verify(&key).map_err(|e| e.to_string())?;
    }
    let digest = sha256_file(file).map_err(|e| format!("{}: {e}", file.display()))?;
    if digest != m.sha256 {
        return Err(format!("the file's SHA-256 {digest} is not the recorded {}", m.sha256));
    }
    let whole: Value = serde_json::from_slice(manifest_json).map_err(|e| e.to_string())?;
    let log = match whole.get("log") {
        None | Some(Value::Null) if m.logged() => {
            return Err("the manifest is proved by its tenant's log but carries no log proof: save it as `tollgate proof get` prints it".into());
        }
        None | Some(Value::Null) => None,
        Some(v) => {
            let proof: LogProof = serde_json::from_value(v.clone()).map_err(|e| format!("the manifest's log proof does not parse: {e}"))?;
            manifest::verify_inclusion(&m, proof.leaf_index, &proof.inclusion_path, &proof.tree_head, &key)?;
            Some((proof.leaf_index, proof.tree_head))
        }
    };
    Ok(Verified { manifest: m, log })
}

/// What `proof monitor` keeps between runs.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct MonitorState {
    /// Public keys by id, pinned the first time each was seen.
    #[serde(default)]
    pub keys: std::collections::BTreeMap<String, String>,
    /// The last verified tree head of each tenant.
    #[serde(default)]
    pub heads: std::collections::BTreeMap<String, TreeHead>,
}

/// Checks that `new` (signed under `key`) extends `old` (a head verified before): not
/// smaller (a rollback), the same root if the same size, else `path` proves the old tree a
/// prefix of the new one (a fork otherwise).
pub fn check_head_update(old: Option<&TreeHead>, new: &TreeHead, path: &[String], key: &ed25519_dalek::VerifyingKey) -> Result<(), String> {
    let new_root = manifest::verify_head(new, key)?;
    let Some(old) = old else { return Ok(()) };
    let t = &old.tenant;
    if new.tenant != *t {
        return Err(format!("asked for the head of {t}, got one of {}", new.tenant));
    }
    if new.tree_size < old.tree_size {
        return Err(format!("ROLLBACK: the log of {t} has {} leaves, fewer than the {} of the head seen at {}", new.tree_size, old.tree_size, old.created));
    }
    let old_root = merkle::from_hex(&old.root_hash).ok_or("the kept head's root is not a SHA-256")?;
    merkle::verify_consistency(old.tree_size, new.tree_size, &old_root, &new_root, &manifest::parse_hashes(path)?).map_err(|e| {
        format!(
            "FORK: the log of {t} at {} leaves (root {}) does not extend the one seen at {} leaves (root {}, {}): {e}",
            new.tree_size, new.root_hash, old.tree_size, old.root_hash, old.created
        )
    })
}

async fn monitor(conn: &Connection, state_file: &Path, tenants: Vec<String>, pubkey: Option<String>) -> Result<(), String> {
    let base = crate::names::PROOFS_PREFIX;
    let mut state: MonitorState = match std::fs::read(state_file) {
        Ok(raw) => serde_json::from_slice(&raw).map_err(|e| format!("{}: {e}", state_file.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => MonitorState::default(),
        Err(e) => return Err(format!("{}: {e}", state_file.display())),
    };
    let mut watched: Vec<String> = state.heads.keys().cloned().collect();
    watched.extend(tenants);
    watched.sort();
    watched.dedup();
    if watched.is_empty() {
        return Err("no tenant to watch: give --tenant".into());
    }
    let pinned = match &pubkey {
        Some(pk) => Some(manifest::parse_public_key(pk).ok_or("the public key is not a 32-byte Ed25519 key in base64 or hex")?),
        None => {
            let keys = request(conn, "GET", &format!("{base}pubkey"), Vec::new()).await?;
            for (id, pk) in keys["keys"].as_object().into_iter().flatten() {
                let pk = pk.as_str().unwrap_or_default();
                match state.keys.get(id) {
                    Some(known) if known != pk => return Err(format!("KEY CHANGED: key {id} is now {pk}, it was {known}")),
                    Some(_) => {}
                    None => {
                        state.keys.insert(id.clone(), pk.to_owned());
                    }
                }
            }
            None
        }
    };
    let mut failures = Vec::new();
    for tenant in &watched {
        let old = state.heads.get(tenant);
        let fetched = match request(conn, "GET", &format!("{base}log/{tenant}"), Vec::new()).await {
            // No manifest yet, no log: nothing to hold it to, unless a head was seen before.
            Err(e) if e.starts_with("404") && old.is_none() => {
                println!("OK: tenant {tenant} has no proof log yet");
                continue;
            }
            Err(e) if e.starts_with("404") => {
                Err(format!("ROLLBACK: the log of {tenant} is gone; a head of {} leaves was seen", old.map_or(0, |h| h.tree_size)))
            }
            r => r,
        };
        let checked = async {
            let new: TreeHead = serde_json::from_value(fetched?["tree_head"].clone()).map_err(|e| format!("the tree head of {tenant} does not parse: {e}"))?;
            let key = match pinned {
                Some(k) => k,
                None => state
                    .keys
                    .get(&new.key_id)
                    .and_then(|pk| manifest::parse_public_key(pk))
                    .ok_or_else(|| format!("head signed with unknown key {}", new.key_id))?,
            };
            let path: Vec<String> = match old {
                Some(old) if old.tree_size < new.tree_size => {
                    let p =
                        request(conn, "GET", &format!("{base}log/{tenant}/consistency?first={}&second={}", old.tree_size, new.tree_size), Vec::new()).await?;
                    serde_json::from_value(p["path"].clone()).map_err(|e| e.to_string())?
                }
                _ => Vec::new(),
            };
            check_head_update(old, &new, &path, &key)?;
            Ok::<TreeHead, String>(new)
        };
        match checked.await {
            Ok(new) => {
                let was = state.heads.get(tenant).map_or(0, |h| h.tree_size);
                println!("OK: tenant {tenant}: log of {} leaves (root {}), consistent with the {was} seen before", new.tree_size, new.root_hash);
                state.heads.insert(tenant.clone(), new);
            }
            // The kept head stays: the next run checks against it again.
            Err(e) => failures.push(format!("tenant {tenant}: {e}")),
        }
    }
    let tmp = state_file.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(&state).unwrap_or_default()).map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, state_file).map_err(|e| format!("{}: {e}", state_file.display()))?;
    if failures.is_empty() { Ok(()) } else { Err(failures.join("; ")) }
}

fn print(v: &Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

/// Runs `cmd` against the gateway of `conn` (or offline), printing what it finds; the error is the message for the user.
pub async fn run(conn: &Connection, cmd: ProofCommand) -> Result<(), String> {
    let base = crate::names::PROOFS_PREFIX;
    match cmd {
        ProofCommand::Get { bucket, key, version_id, id, sha256 } => {
            let path = match (bucket, key, id, sha256) {
                (Some(b), Some(k), None, None) => match version_id {
                    Some(v) => format!("{base}object/{b}/{}?version_id={}", encode_key(&k), encode_key(&v)),
                    None => format!("{base}object/{b}/{}", encode_key(&k)),
                },
                (None, None, Some(id), None) => format!("{base}id/{id}"),
                (None, None, None, Some(h)) => format!("{base}sha256/{h}"),
                _ => return Err("give --bucket and --key, or --id, or --sha256".into()),
            };
            print(&request(conn, "GET", &path, Vec::new()).await?);
        }
        ProofCommand::Pubkey => print(&request(conn, "GET", &format!("{base}pubkey"), Vec::new()).await?),
        ProofCommand::Verify { file, manifest, pubkey } => match (manifest, pubkey) {
            (Some(m), Some(pk)) => {
                let json = std::fs::read(&m).map_err(|e| format!("{}: {e}", m.display()))?;
                let verified = verify_bundle(&file, &json, &pk)?;
                let m = &verified.manifest;
                let version = if m.version_id.is_empty() { String::new() } else { format!(" version {}", m.version_id) };
                let vouched = if m.logged() { "proved by its log".to_owned() } else { format!("signed by key {}", m.key_id) };
                println!(
                    "OK: {} is what the gateway recorded as {}/{}{version} ({} bytes, sha256 {}) at {}, proof {} (seq {} of tenant {}), {vouched}",
                    file.display(),
                    m.bucket,
                    m.key,
                    m.size,
                    m.sha256,
                    m.created,
                    m.id,
                    m.seq,
                    m.tenant,
                );
                match &verified.log {
                    Some((leaf, head)) => println!(
                        "OK: it is leaf {leaf} of the log of tenant {} in the tree head of {} leaves (root {}) signed at {} by key {}",
                        head.tenant, head.tree_size, head.root_hash, head.created, head.key_id
                    ),
                    None => println!("note: the manifest carries no log proof (recorded before the proof log): its signature and chain prove it"),
                }
            }
            _ => {
                let digest = sha256_file(&file).map_err(|e| format!("{}: {e}", file.display()))?;
                let v = request(conn, "POST", &format!("{base}verify?sha256={digest}"), Vec::new()).await?;
                print(&v);
                let ok = v["matches"].as_array().is_some_and(|m| m.iter().any(|c| c["signature_valid"] == true && c["chain_intact"] == true));
                if !ok {
                    return Err(format!("no valid manifest records sha256 {digest}"));
                }
            }
        },
        ProofCommand::Monitor { state, tenant, pubkey } => monitor(conn, &state, tenant, pubkey).await?,
        ProofCommand::Chain(ChainCommand::Verify { tenant, instances }) => {
            verify_chain(conn, &tenant, "").await?;
            for endpoint in instances {
                let other = Connection { endpoint: endpoint.clone(), ..conn.clone() };
                verify_chain(&other, &tenant, &format!(" on {endpoint}")).await.map_err(|e| format!("{endpoint}: {e}"))?;
            }
        }
    }
    Ok(())
}

/// Walks the chain of `tenant` that the gateway at `conn` keeps, with that gateway's
/// published keys, proving the logged manifests at its end by the last one's inclusion in
/// the tenant's signed log; prints the outcome (`at` names the instance).
async fn verify_chain(conn: &Connection, tenant: &str, at: &str) -> Result<(), String> {
    let base = crate::names::PROOFS_PREFIX;
    let keys = request(conn, "GET", &format!("{base}pubkey"), Vec::new()).await?;
    let key_for = |id: &str| keys["keys"][id].as_str().and_then(manifest::parse_public_key);
    let mut walk = manifest::ChainWalk::new(1, "", key_for);
    loop {
        let from = walk.next_seq;
        let page = request(conn, "GET", &format!("{base}chain/{tenant}?from={from}"), Vec::new()).await?;
        let manifests: Vec<Manifest> = serde_json::from_value(page["manifests"].clone()).map_err(|e| e.to_string())?;
        let checkpoints: Vec<manifest::Checkpoint> = serde_json::from_value(page["checkpoints"].clone()).map_err(|e| e.to_string())?;
        walk.walk(&manifests, &checkpoints).map_err(|e| e.to_string())?;
        if walk.next_seq == from {
            let head_seq = page["head"]["seq"].as_u64().unwrap_or(0);
            if head_seq + 1 != from {
                return Err(format!("chain of {tenant} ends at seq {} but its head is {head_seq}", from - 1));
            }
            break;
        }
    }
    let logged = match walk.unvouched() {
        None => String::new(),
        Some((last, n)) => {
            let served = request(conn, "GET", &format!("{base}id/{}", last.id), Vec::new()).await?;
            let proof: LogProof = serde_json::from_value(served["log"].clone())
                .map_err(|e| format!("manifest {} (seq {}) comes without its log proof: {e}", last.id, last.seq))?;
            let key = key_for(&proof.tree_head.key_id).ok_or_else(|| format!("tree head signed with unknown key {}", proof.tree_head.key_id))?;
            manifest::verify_inclusion(last, proof.leaf_index, &proof.inclusion_path, &proof.tree_head, &key)
                .map_err(|e| format!("chain of {tenant}: the last of its {n} logged manifests at its end (seq {}): {e}", last.seq))?;
            format!(", the last {n} proved by the signed tree head of {} leaves", proof.tree_head.tree_size)
        }
    };
    println!(
        "OK: chain of tenant {tenant}{at}: {} manifests and {} pruned under signed checkpoints, every signature valid, every link intact{logged}",
        walk.manifests, walk.pruned
    );
    Ok(())
}

/// Percent-encodes a key for a URL path (keeping `/`).
fn encode_key(k: &str) -> String {
    k.bytes().map(|b| if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

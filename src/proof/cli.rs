//! `tollgate proof ...`: fetch manifests, verify a file against one (offline when given
//! the manifest and the public key), and walk a tenant's whole chain.

use super::manifest::{self, Manifest};
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
}

/// Tenant chain commands.
#[derive(Debug, Subcommand)]
pub enum ChainCommand {
    /// Walk a tenant's whole chain: every signature and every link.
    Verify {
        /// Tenant whose chain to walk.
        #[arg(long)]
        tenant: String,
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

/// Checks a file against a manifest and a public key, with no gateway involved.
pub fn verify_offline(file: &Path, manifest_json: &[u8], pubkey: &str) -> Result<Manifest, String> {
    let m = Manifest::parse(manifest_json).map_err(|e| e.to_string())?;
    let key = manifest::parse_public_key(pubkey).ok_or("the public key is not a 32-byte Ed25519 key in base64 or hex")?;
    if manifest::key_id(&key) != m.key_id {
        return Err(format!("the manifest was signed with key {}, not this one ({})", m.key_id, manifest::key_id(&key)));
    }
    m.verify(&key).map_err(|e| e.to_string())?;
    let digest = sha256_file(file).map_err(|e| format!("{}: {e}", file.display()))?;
    if digest != m.sha256 {
        return Err(format!("the file's SHA-256 {digest} is not the recorded {}", m.sha256));
    }
    Ok(m)
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
                let m = verify_offline(&file, &json, &pk)?;
                let version = if m.version_id.is_empty() { String::new() } else { format!(" version {}", m.version_id) };
                println!(
                    "OK: {} is what the gateway recorded as {}/{}{version} ({} bytes, sha256 {}) at {}, proof {} (seq {} of tenant {}), signed by key {}",
                    file.display(),
                    m.bucket,
                    m.key,
                    m.size,
                    m.sha256,
                    m.created,
                    m.id,
                    m.seq,
                    m.tenant,
                    m.key_id
                );
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
        ProofCommand::Chain(ChainCommand::Verify { tenant }) => {
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
            println!(
                "OK: chain of tenant {tenant}: {} manifests and {} pruned under signed checkpoints, every signature valid, every link intact",
                walk.manifests, walk.pruned
            );
        }
    }
    Ok(())
}

/// Percent-encodes a key for a URL path (keeping `/`).
fn encode_key(k: &str) -> String {
    k.bytes().map(|b| if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

//! `tollgate admin ...`: the command-line client of the admin API.

pub use crate::api_client::{Connection, request};

use clap::{Args, Subcommand};
use serde_json::{Value, json};

/// What `tollgate admin` can do: each subcommand is one admin API call, its answer printed as a table or JSON.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Tenants: create, list, delete.
    #[command(subcommand)]
    Tenant(TenantCmd),
    /// Users of a tenant, with a role: admin, writer or reader.
    #[command(subcommand)]
    User(UserCmd),
    /// Access keys (the secret is shown once, at creation).
    #[command(subcommand)]
    Key(KeyCmd),
    /// Buckets' owner and visibility.
    #[command(subcommand)]
    Bucket(BucketCmd),
    /// The audit log, filtered; `--jsonl` exports JSON lines.
    Audit(AuditArgs),
    /// Rate limits of a tenant or an access key (overrides of the configured defaults).
    #[command(subcommand)]
    Limits(LimitsCmd),
    /// Storage quotas of a tenant or a bucket.
    #[command(subcommand)]
    Quota(QuotaCmd),
    /// Objects and bytes stored per tenant and bucket, with their quotas.
    Usage {
        /// Only this tenant (default: the caller's; root sees every tenant).
        #[arg(long)]
        tenant: Option<String>,
        /// The usage history instead: the samples the `usage_history` job took.
        #[arg(long)]
        history: bool,
    },
    /// Topics: per-prefix permissions inside a bucket.
    #[command(subcommand)]
    Topic(TopicCmd),
    /// The keyring of SSE-KMS keys (root only): list, create, rotate, enable, disable.
    #[command(subcommand)]
    Keyring(KeyringCmd),
    /// Prune the manifests of deleted objects now (root only), leaving signed checkpoints.
    PruneProofs {
        /// Deleted more than this long ago (default: proofs.deleted_retention_days).
        #[arg(long)]
        older_than_secs: Option<u64>,
    },
    /// Re-hash every stored object against its proof manifest now (root only), or
    /// `--last` to show the last scrub's report.
    Scrub {
        /// Show the last scrub's report instead of starting one.
        #[arg(long)]
        last: bool,
    },
    /// Background jobs: each one's last run, result and next run (root only); `run JOB`
    /// runs one now and prints its outcome.
    Jobs {
        /// Without one, list the jobs.
        #[command(subcommand)]
        command: Option<JobsCmd>,
    },
    /// Copy new proofs, audit entries and records to the upstream's metadata mirror now
    /// (root only; it also runs every upstream.mirror_interval_secs).
    Mirror,
    /// Fill this gateway's empty metadata store from its upstream mirror (root only): after
    /// the metadata directory was lost. Keep master.key and proof-signing.key: secrets and
    /// signatures need them.
    Rebuild,
    /// The instances sharing this gateway's upstream metadata bucket (root only): each
    /// one's state (live, left, or gone after three silent heartbeat intervals), version,
    /// start and last heartbeat.
    Cluster,
}

/// What to do with one background job.
#[derive(Debug, Subcommand)]
pub enum JobsCmd {
    /// Run a job now: upload_expiry, reconcile, lifecycle, rewrap, scrub, audit_retention, proof_retention,
    /// metadata_mirror (those configured).
    Run {
        /// The job's name.
        job: String,
    },
}

/// Tenant commands (creating and deleting one is root's).
#[derive(Debug, Subcommand)]
pub enum TenantCmd {
    /// Create a tenant (root only).
    Create {
        /// Tenant name.
        name: String,
    },
    /// List the tenants the caller may see.
    List,
    /// Delete a tenant (root only).
    Delete {
        /// Tenant name.
        name: String,
    },
}

/// User commands.
#[derive(Debug, Subcommand)]
pub enum UserCmd {
    /// Create a user in a tenant, with a role.
    Create {
        /// Tenant the user belongs to.
        #[arg(long)]
        tenant: String,
        /// User name, unique within its tenant.
        name: String,
        /// admin, writer or reader.
        #[arg(long, default_value = "writer")]
        role: String,
    },
    /// List users.
    List {
        /// Only this tenant's users (default: the caller's; root sees every tenant).
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Delete a user.
    Delete {
        /// Tenant the user belongs to.
        #[arg(long)]
        tenant: String,
        /// User name.
        name: String,
    },
}

/// Access key commands.
#[derive(Debug, Subcommand)]
pub enum KeyCmd {
    /// Create an access key for a user; its secret is printed this once only.
    Create {
        /// Tenant of the user.
        #[arg(long)]
        tenant: String,
        /// User the key signs for.
        #[arg(long)]
        user: String,
    },
    /// List access keys (never their secrets).
    List {
        /// Only this tenant's keys (default: the caller's; root sees every tenant).
        #[arg(long)]
        tenant: Option<String>,
    },
    // The target key is `key`, not `access_key`: that id is the global `--access-key` of
    // the caller (`Connection`), and clap would copy the positional into it, signing the
    // request with the target's key id (SignatureDoesNotMatch).
    /// Let a disabled key sign again.
    Enable {
        /// The key's access key id (the caller's is --access-key).
        #[arg(value_name = "ACCESS_KEY")]
        key: String,
    },
    /// Refuse every request signed with this key, at once.
    Disable {
        /// The key's access key id (the caller's is --access-key).
        #[arg(value_name = "ACCESS_KEY")]
        key: String,
    },
    /// Delete the key for good.
    Delete {
        /// The key's access key id (the caller's is --access-key).
        #[arg(value_name = "ACCESS_KEY")]
        key: String,
    },
}

/// Bucket commands.
#[derive(Debug, Subcommand)]
pub enum BucketCmd {
    /// List buckets with their owner and visibility.
    List {
        /// Only this tenant's buckets (default: the caller's; root sees every tenant).
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Sets visibility (private, public-read) and/or the owning tenant.
    Set {
        /// Bucket name.
        name: String,
        /// private or public-read.
        #[arg(long)]
        visibility: Option<String>,
        /// The tenant that owns the bucket from now on.
        #[arg(long)]
        tenant: Option<String>,
    },
}

/// Whose limits: exactly one of `--tenant` or `--key`.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct LimitTarget {
    #[arg(long)]
    tenant: Option<String>,
    #[arg(long)]
    key: Option<String>,
}

impl LimitTarget {
    fn path(&self) -> String {
        match (&self.tenant, &self.key) {
            (Some(t), _) => format!("limits/tenant/{t}"),
            (None, Some(k)) => format!("limits/key/{k}"),
            (None, None) => "limits".to_owned(),
        }
    }
}

/// Rate-limit override commands.
#[derive(Debug, Subcommand)]
pub enum LimitsCmd {
    /// Show the override and the limits in force.
    Get {
        /// Whose limits.
        #[command(flatten)]
        target: LimitTarget,
    },
    /// Set an override (unset rates are 0: unlimited); effective at once.
    Set {
        /// Whose limits.
        #[command(flatten)]
        target: LimitTarget,
        /// GET, HEAD and list requests per second.
        #[arg(long, default_value_t = 0)]
        read_requests: u32,
        /// Every other request per second.
        #[arg(long, default_value_t = 0)]
        write_requests: u32,
        /// Response body bytes per second of reads.
        #[arg(long, default_value_t = 0)]
        read_bytes: u64,
        /// Request body bytes per second of writes.
        #[arg(long, default_value_t = 0)]
        write_bytes: u64,
    },
    /// Remove the override: back to the configured defaults.
    Delete {
        /// Whose limits.
        #[command(flatten)]
        target: LimitTarget,
    },
}

/// Keyring commands.
#[derive(Debug, Subcommand)]
pub enum KeyringCmd {
    /// The keys: id, versions, enabled (never key material).
    List,
    /// Create a key: SSE-KMS requests name it as their key id.
    Create {
        /// Its id: letters, digits, `-` and `_`.
        id: String,
    },
    /// Give a key a new version: new objects use it, and the `rewrap` job moves older
    /// objects' data keys onto it (no object byte is rewritten). The id `@sse-s3` rotates
    /// the key of SSE-S3.
    Rotate {
        /// The key's id (`@sse-s3`: the SSE-S3 key).
        id: String,
    },
    /// Enable a disabled key.
    Enable {
        /// The key's id.
        id: String,
    },
    /// Disable a key: objects sealed under it cannot be read, nor new ones written, until
    /// it is enabled again.
    Disable {
        /// The key's id.
        id: String,
    },
}

/// Topic commands.
#[derive(Debug, Subcommand)]
pub enum TopicCmd {
    /// Create or replace a topic: keys {topic}/{owner}/{name} of the bucket follow its modes.
    Set {
        /// Bucket the topic is in.
        #[arg(long)]
        bucket: String,
        /// Key prefix the topic governs: its keys are {topic}/{owner}/{name}.
        #[arg(long)]
        topic: String,
        /// single-auth, single-open, append-auth or append-open.
        #[arg(long)]
        write: String,
        /// auth, open or public.
        #[arg(long)]
        read: String,
        /// {name} must be the lower-case hex SHA-256 of the body.
        #[arg(long)]
        content_addressed: bool,
        /// Largest accepted body, in bytes (0: no limit).
        #[arg(long, default_value_t = 0)]
        max_size: u64,
        /// Accepted content type (repeat for several; none: any).
        #[arg(long = "content-type")]
        content_types: Vec<String>,
    },
    /// List topics.
    List {
        /// Only this bucket's topics (default: every bucket the caller may see).
        #[arg(long)]
        bucket: Option<String>,
    },
    /// Delete a topic: its keys follow the bucket's permissions again.
    Delete {
        /// Bucket the topic is in.
        #[arg(long)]
        bucket: String,
        /// The topic's key prefix.
        #[arg(long)]
        topic: String,
    },
}

/// Storage quota commands.
#[derive(Debug, Subcommand)]
pub enum QuotaCmd {
    /// Set a quota (0: no limit).
    Set {
        /// Quota of this tenant, all its buckets together.
        #[arg(long, conflicts_with = "bucket", required_unless_present = "bucket")]
        tenant: Option<String>,
        /// Quota of this bucket.
        #[arg(long)]
        bucket: Option<String>,
        /// Most bytes stored (0: no limit).
        #[arg(long, default_value_t = 0)]
        max_bytes: u64,
        /// Most objects stored (0: no limit).
        #[arg(long, default_value_t = 0)]
        max_objects: u64,
    },
}

/// Filters of the audit log (each absent one matches every entry), and the output format.
#[derive(Debug, Args)]
pub struct AuditArgs {
    #[arg(long)]
    tenant: Option<String>,
    /// Access key id of the caller.
    #[arg(long)]
    principal: Option<String>,
    #[arg(long)]
    bucket: Option<String>,
    /// `ok` or `denied`.
    #[arg(long)]
    outcome: Option<String>,
    /// RFC 3339 time, inclusive.
    #[arg(long)]
    since: Option<String>,
    /// RFC 3339 time, exclusive.
    #[arg(long)]
    until: Option<String>,
    #[arg(long, default_value_t = 1000)]
    limit: usize,
    /// Export as JSON lines.
    #[arg(long)]
    jsonl: bool,
}

fn rfc3339_ns(s: &str) -> Result<i128, String> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map(time::OffsetDateTime::unix_timestamp_nanos)
        .map_err(|e| format!("{s:?} is not an RFC 3339 time: {e}"))
}

/// Runs one admin command; the error is a message for the operator.
pub async fn run(conn: &Connection, cmd: AdminCommand) -> Result<(), String> {
    let enc = |pairs: Vec<(&str, Option<String>)>| {
        let v: Vec<(&str, String)> = pairs.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))).collect();
        let q = serde_urlencoded::to_string(v).unwrap_or_default();
        if q.is_empty() { String::new() } else { format!("?{q}") }
    };
    let (method, path, body) = match cmd {
        AdminCommand::Tenant(TenantCmd::Create { name }) => ("POST", "tenants".to_owned(), Some(json!({"name": name}))),
        AdminCommand::Tenant(TenantCmd::List) => ("GET", "tenants".to_owned(), None),
        AdminCommand::Tenant(TenantCmd::Delete { name }) => ("DELETE", format!("tenants/{name}"), None),
        AdminCommand::User(UserCmd::Create { tenant, name, role }) => ("POST", "users".to_owned(), Some(json!({"tenant": tenant, "name": name, "role": role}))),
        AdminCommand::User(UserCmd::List { tenant }) => ("GET", format!("users{}", enc(vec![("tenant", tenant)])), None),
        AdminCommand::User(UserCmd::Delete { tenant, name }) => ("DELETE", format!("users/{tenant}/{name}"), None),
        AdminCommand::Key(KeyCmd::Create { tenant, user }) => ("POST", "keys".to_owned(), Some(json!({"tenant": tenant, "user": user}))),
        AdminCommand::Key(KeyCmd::List { tenant }) => ("GET", format!("keys{}", enc(vec![("tenant", tenant)])), None),
        AdminCommand::Key(KeyCmd::Enable { key }) => ("POST", format!("keys/{key}/enable"), None),
        AdminCommand::Key(KeyCmd::Disable { key }) => ("POST", format!("keys/{key}/disable"), None),
        AdminCommand::Key(KeyCmd::Delete { key }) => ("DELETE", format!("keys/{key}"), None),
        AdminCommand::Bucket(BucketCmd::List { tenant }) => ("GET", format!("buckets{}", enc(vec![("tenant", tenant)])), None),
        AdminCommand::Bucket(BucketCmd::Set { name, visibility, tenant }) => {
            ("PUT", format!("buckets/{name}"), Some(json!({"visibility": visibility, "tenant": tenant})))
        }
        AdminCommand::Limits(LimitsCmd::Get { target }) => ("GET", target.path(), None),
        AdminCommand::Limits(LimitsCmd::Delete { target }) => ("DELETE", target.path(), None),
        AdminCommand::Limits(LimitsCmd::Set { target, read_requests, write_requests, read_bytes, write_bytes }) => (
            "PUT",
            target.path(),
            Some(json!({"read_requests": read_requests, "write_requests": write_requests, "read_bytes": read_bytes, "write_bytes": write_bytes})),
        ),
        AdminCommand::Quota(QuotaCmd::Set { tenant, bucket, max_bytes, max_objects }) => {
            let path = match (tenant, bucket) {
                (Some(t), _) => format!("quotas/tenant/{t}"),
                (None, Some(b)) => format!("quotas/bucket/{b}"),
                (None, None) => return Err("give --tenant or --bucket".into()),
            };
            ("PUT", path, Some(json!({"max_bytes": max_bytes, "max_objects": max_objects})))
        }
        AdminCommand::Topic(TopicCmd::Set { bucket, topic, write, read, content_addressed, max_size, content_types }) => (
            "PUT",
            format!("topics/{bucket}/{topic}"),
            Some(json!({"write": write, "read": read, "content_addressed": content_addressed, "max_size": max_size, "content_types": content_types})),
        ),
        AdminCommand::Keyring(KeyringCmd::List) => ("GET", "keyring".to_owned(), None),
        AdminCommand::Keyring(KeyringCmd::Create { id }) => ("POST", format!("keyring/{id}"), None),
        AdminCommand::Keyring(KeyringCmd::Rotate { id }) => ("POST", format!("keyring/{id}/rotate"), None),
        AdminCommand::Keyring(KeyringCmd::Enable { id }) => ("PUT", format!("keyring/{id}"), Some(json!({"enabled": true}))),
        AdminCommand::Keyring(KeyringCmd::Disable { id }) => ("PUT", format!("keyring/{id}"), Some(json!({"enabled": false}))),
        AdminCommand::Topic(TopicCmd::List { bucket }) => ("GET", format!("topics{}", enc(vec![("bucket", bucket)])), None),
        AdminCommand::Topic(TopicCmd::Delete { bucket, topic }) => ("DELETE", format!("topics/{bucket}/{topic}"), None),
        AdminCommand::PruneProofs { older_than_secs } => {
            ("POST", format!("prune-proofs{}", enc(vec![("older_than_secs", older_than_secs.map(|s| s.to_string()))])), None)
        }
        AdminCommand::Usage { tenant, history } => ("GET", format!("usage{}{}", if history { "/history" } else { "" }, enc(vec![("tenant", tenant)])), None),
        AdminCommand::Scrub { last } => (if last { "GET" } else { "POST" }, "scrub".to_owned(), None),
        AdminCommand::Jobs { command: Some(JobsCmd::Run { job }) } => ("POST", format!("jobs/{job}/run"), None),
        AdminCommand::Jobs { command: None } => {
            let v = call(conn, "GET", "jobs", None).await?;
            print_value(conn.json, &if conn.json { v } else { job_rows(&v) });
            return Ok(());
        }
        AdminCommand::Mirror => ("POST", "mirror".to_owned(), None),
        AdminCommand::Rebuild => ("POST", "rebuild".to_owned(), None),
        AdminCommand::Cluster => ("GET", "cluster".to_owned(), None),
        AdminCommand::Audit(a) => {
            let since = a.since.as_deref().map(rfc3339_ns).transpose()?.map(|n| n.to_string());
            let until = a.until.as_deref().map(rfc3339_ns).transpose()?.map(|n| n.to_string());
            let q = enc(vec![
                ("tenant", a.tenant),
                ("principal", a.principal),
                ("bucket", a.bucket),
                ("outcome", a.outcome),
                ("since_ns", since),
                ("until_ns", until),
                ("limit", Some(a.limit.to_string())),
            ]);
            let v = call(conn, "GET", &format!("audit{q}"), None).await?;
            if a.jsonl {
                for e in v.as_array().into_iter().flatten() {
                    println!("{e}");
                }
                return Ok(());
            }
            print_value(conn.json, &v);
            return Ok(());
        }
    };
    let body = body.map(|mut b| {
        // Unset optional settings are left out, not sent as null.
        if let Some(o) = b.as_object_mut() {
            o.retain(|_, v| !v.is_null());
        }
        b
    });
    let v = call(conn, method, &path, body).await?;
    print_value(conn.json, &v);
    Ok(())
}

/// One signed call to the admin API.
pub async fn call(conn: &Connection, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
    if conn.access_key.is_none() || conn.secret_key.is_none() {
        return Err("credentials needed: --access-key/--secret-key or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY".into());
    }
    let payload = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    request(conn, method, &format!("{}{path}", super::PREFIX), payload).await
}

/// The columns of `tollgate admin jobs` (the outcome's detail stays in `--json`).
fn job_rows(v: &Value) -> Value {
    let rows = v.as_array().into_iter().flatten().map(|j| {
        json!({
            "job": j["name"],
            "every_secs": j["interval_secs"],
            "running": j["running"],
            "runs": j["runs"],
            "failures": j["failures"],
            "last_run_ns": j["last_started_ns"],
            "last_ms": j["last_duration_ms"],
            "result": match j["last_ok"].as_bool() { Some(true) => "ok", Some(false) => "error", None => "" },
            "changed": j["last_outcome"]["changed"],
            "error": j["last_error"],
            "next_run_ns": j["next_run_ns"],
        })
    });
    Value::Array(rows.collect())
}

/// Times are kept as nanoseconds (`*_ns`); tables show them as RFC 3339.
fn time_cell(v: &Value) -> String {
    match v.as_i64() {
        Some(0) | None => String::new(),
        Some(ns) => time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ns))
            .ok()
            .and_then(|t| t.replace_nanosecond(0).ok())
            .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
            .unwrap_or_else(|| ns.to_string()),
    }
}

fn column_cell(col: &str, v: &Value) -> String {
    if col.ends_with("_ns") { time_cell(v) } else { cell(v) }
}

fn cell(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Renders a JSON value as a table (an array of objects) or `key: value` lines.
#[must_use]
pub fn render(v: &Value) -> String {
    let rows: Vec<&serde_json::Map<String, Value>> = match v {
        Value::Array(a) => a.iter().filter_map(Value::as_object).collect(),
        Value::Object(o) => {
            return o.iter().map(|(k, v)| format!("{}: {}\n", k.trim_end_matches("_ns"), column_cell(k, v))).collect();
        }
        other => return format!("{}\n", cell(other)),
    };
    let Some(first) = rows.first() else { return "(none)\n".into() };
    let cols: Vec<&String> = first.keys().collect();
    let grid: Vec<Vec<String>> = rows.iter().map(|r| cols.iter().map(|c| r.get(*c).map(|v| column_cell(c, v)).unwrap_or_default()).collect()).collect();
    let widths: Vec<usize> = cols.iter().enumerate().map(|(i, c)| grid.iter().map(|r| r[i].len()).chain([c.len()]).max().unwrap_or(0)).collect();
    let line = |cells: Vec<String>| -> String {
        let s: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        format!("{}\n", s.join("  ").trim_end())
    };
    let mut out = line(cols.iter().map(|c| c.trim_end_matches("_ns").to_uppercase()).collect());
    for r in grid {
        out.push_str(&line(r));
    }
    out
}

fn print_value(json: bool, v: &Value) {
    if json {
        println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
    } else {
        print!("{}", render(v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, FromArgMatches, Parser};

    /// `tollgate admin` as main.rs declares it.
    #[derive(Debug, Parser)]
    struct Admin {
        #[command(flatten)]
        conn: Connection,
        #[command(subcommand)]
        command: AdminCommand,
    }

    fn parse(line: &str) -> Admin {
        let args = line.split_whitespace();
        let matches = Admin::command().no_binary_name(true).try_get_matches_from(args);
        let matches = matches.unwrap_or_else(|e| panic!("{line}: {e}"));
        Admin::from_arg_matches(&matches).unwrap_or_else(|e| panic!("{line}: {e}"))
    }

    #[test]
    fn a_target_key_is_not_the_callers_key() {
        for verb in ["enable", "disable", "delete"] {
            for line in
                [format!("--access-key ROOTKEY --secret-key S key {verb} TARGETKEY"), format!("key {verb} TARGETKEY --access-key ROOTKEY --secret-key S")]
            {
                let a = parse(&line);
                assert_eq!(a.conn.access_key.as_deref(), Some("ROOTKEY"), "{line}");
                let AdminCommand::Key(KeyCmd::Enable { key } | KeyCmd::Disable { key } | KeyCmd::Delete { key }) = a.command else {
                    panic!("{line}: {:?}", a.command)
                };
                assert_eq!(key, "TARGETKEY", "{line}");
            }
        }
        let a = parse("--access-key ROOTKEY limits set --key TARGETKEY --read-requests 5");
        assert_eq!(a.conn.access_key.as_deref(), Some("ROOTKEY"));
        let AdminCommand::Limits(LimitsCmd::Set { target, .. }) = a.command else { panic!("{:?}", a.command) };
        assert_eq!(target.key.as_deref(), Some("TARGETKEY"));
    }

    /// No argument of any `admin` or `proof` subcommand shares an id with a global argument
    /// of `Connection`: clap would store its value as the caller's (endpoint, access key...).
    #[test]
    fn no_subcommand_argument_shadows_a_connection_argument() {
        fn walk(cmd: &clap::Command, globals: &[String], path: &str, found: &mut Vec<String>) {
            for a in cmd.get_arguments() {
                if globals.iter().any(|g| g == a.get_id().as_str()) {
                    found.push(format!("{path}: {}", a.get_id()));
                }
            }
            for sc in cmd.get_subcommands() {
                walk(sc, globals, &format!("{path} {}", sc.get_name()), found);
            }
        }
        let globals: Vec<String> = Connection::augment_args(clap::Command::new("conn")).get_arguments().map(|a| a.get_id().to_string()).collect();
        assert!(globals.iter().any(|g| g == "access_key"), "{globals:?}");
        let mut found = Vec::new();
        let admin = AdminCommand::augment_subcommands(clap::Command::new("admin"));
        let proof = crate::proof::cli::ProofCommand::augment_subcommands(clap::Command::new("proof"));
        for sc in admin.get_subcommands().chain(proof.get_subcommands()) {
            walk(sc, &globals, sc.get_name(), &mut found);
        }
        assert!(found.is_empty(), "arguments that clap would store as the connection's: {found:?}");
    }

    #[test]
    fn tables_align_columns() {
        let v = json!([{"name": "acme", "n": 1}, {"name": "b", "n": 22}]);
        // Columns in key order (serde_json maps are sorted).
        assert_eq!(render(&v), "N   NAME\n1   acme\n22  b\n");
        assert_eq!(render(&json!([])), "(none)\n");
        assert_eq!(render(&json!({"a": "x"})), "a: x\n");
        assert_eq!(render(&json!({"created_ns": 1_700_000_000_123_456_789_i64})), "created: 2023-11-14T22:13:20Z\n");
    }
}

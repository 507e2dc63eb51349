//! The gateway's background jobs. Each is safe while traffic flows: removals are
//! conditional on what the job read (a write made since wins), and every change is
//! audited as the gateway.

use super::{Job, JobError, Outcome, Scheduled};
use crate::backend::placement::Backends;
use crate::backend::upstream::Member;
use crate::config::Config;
use crate::meta::Store;
use crate::obs::metrics::Metrics;
use crate::policy::topics::Topics;
use crate::proof::Prover;

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

/// What the jobs work on.
pub struct Parts {
    /// The metadata store (index, uploads, audit log).
    pub store: Arc<dyn Store>,
    /// The storage engines holding object bytes.
    pub backend: Arc<Backends>,
    /// Topic rules, for the expiry of uploads into topics.
    pub topics: Arc<Topics>,
    /// The proof recorder, for pruning deleted objects' manifests; `None`: proofs are off.
    pub prover: Option<Arc<Prover>>,
    /// Where the jobs report what they found (such as the audit entry count).
    pub metrics: Arc<Metrics>,
    /// Every bucket's configuration, for its lifecycle rules.
    pub configs: Arc<crate::policy::config::BucketConfigs>,
    /// This instance as its heartbeats describe it, when it shares a metadata bucket.
    pub member: Option<Member>,
    /// The limiter sharing its rates among the cluster's live instances
    /// (`upstream.share_limits`), told their number at each heartbeat.
    pub limiter: Option<Arc<crate::limits::Limiter>>,
    /// The gateway's keys, which scrub opens sealed objects with.
    pub seal_keys: Arc<crate::backend::sealed::GatewayKeys>,
    /// The control plane, which tails the cluster's log.
    pub control: Arc<crate::backend::control::ControlPlane>,
}

/// The jobs `config` asks for, with their intervals.
#[must_use]
pub fn configured(config: &Config, parts: &Parts) -> Vec<Scheduled> {
    let secs = Duration::from_secs;
    let days = |d: u64| secs(d.saturating_mul(86_400));
    let mut jobs = vec![
        Scheduled::new(
            "upload_expiry",
            secs(config.jobs.upload_expiry_interval_secs),
            UploadExpiry {
                store: Arc::clone(&parts.store),
                backend: Arc::clone(&parts.backend),
                topics: Arc::clone(&parts.topics),
                in_topics: secs(config.topics.upload_expiry_secs),
                elsewhere: secs(config.jobs.upload_expiry_secs),
            },
        ),
        Scheduled::new(
            "reconcile",
            secs(config.jobs.reconcile_interval_secs),
            Reconcile { backend: Arc::clone(&parts.backend), min_age: secs(config.jobs.reconcile_min_age_secs) },
        ),
    ];
    let lifecycle = super::lifecycle::LifecycleJob::new(parts, config.jobs.lifecycle_day_secs, config.jobs.lifecycle_max_actions);
    jobs.push(Scheduled::new("lifecycle", secs(config.jobs.lifecycle_interval_secs), lifecycle));
    if config.proofs.enabled {
        let scrub = Scrub {
            backend: Arc::clone(&parts.backend),
            metrics: Arc::clone(&parts.metrics),
            bytes_per_sec: config.proofs.scrub_bytes_per_sec,
            keys: Arc::clone(&parts.seal_keys),
        };
        jobs.push(Scheduled::new("scrub", secs(config.proofs.scrub_interval_secs), scrub));
    }
    let rewrap = Rewrap { backend: Arc::clone(&parts.backend), keys: Arc::clone(&parts.seal_keys), max: config.jobs.rewrap_max };
    jobs.push(Scheduled::new("rewrap", secs(config.jobs.rewrap_interval_secs), rewrap));
    let history = UsageHistory { store: Arc::clone(&parts.store), keep: days(config.jobs.usage_history_days) };
    jobs.push(Scheduled::new("usage_history", secs(config.jobs.usage_history_interval_secs), history));
    if config.audit.retention_days > 0 || config.audit.max_entries > 0 {
        let retention = AuditRetention {
            store: Arc::clone(&parts.store),
            keep: (config.audit.retention_days > 0).then(|| days(config.audit.retention_days)),
            max_entries: config.audit.max_entries,
            metrics: Arc::clone(&parts.metrics),
        };
        jobs.push(Scheduled::new("audit_retention", secs(config.audit.prune_interval_secs), retention));
    }
    if let Some(prover) = parts.prover.clone().filter(|_| config.proofs.deleted_retention_days > 0) {
        let retention = ProofRetention { store: Arc::clone(&parts.store), prover, keep: days(config.proofs.deleted_retention_days) };
        jobs.push(Scheduled::new("proof_retention", secs(config.audit.prune_interval_secs), retention));
    }
    if parts.backend.upstream_opened() && !config.upstream.meta_bucket.is_empty() {
        let mirror = MetadataMirror { backend: Arc::clone(&parts.backend) };
        jobs.push(Scheduled::new("metadata_mirror", secs(config.upstream.mirror_interval_secs), mirror));
    }
    if let Some(member) = parts.member.clone() {
        let heartbeat = Heartbeat {
            store: Arc::clone(&parts.store),
            backend: Arc::clone(&parts.backend),
            member,
            limiter: parts.limiter.clone(),
            metrics: Arc::clone(&parts.metrics),
            control: Arc::clone(&parts.control),
        };
        jobs.push(Scheduled::new("heartbeat", secs(config.upstream.heartbeat_secs), heartbeat));
    }
    if parts.control.clustered() {
        let tail = ControlLog { control: Arc::clone(&parts.control), metrics: Arc::clone(&parts.metrics), seal_keys: Arc::clone(&parts.seal_keys) };
        jobs.push(Scheduled::new("control_log", Duration::from_millis(config.upstream.control_poll_ms), tail));
    }
    jobs
}

/// Aborts multipart uploads left unfinished: those into a topic after
/// `topics.upload_expiry_secs`, the others after `jobs.upload_expiry_secs` (0: never).
pub struct UploadExpiry {
    store: Arc<dyn Store>,
    backend: Arc<Backends>,
    topics: Arc<Topics>,
    in_topics: Duration,
    elsewhere: Duration,
}

#[async_trait::async_trait]
impl Job for UploadExpiry {
    async fn run(&self) -> Result<Outcome, JobError> {
        let now = crate::clock::now_ns();
        let cutoff = |expiry: Duration| (!expiry.is_zero()).then(|| now - i128::try_from(expiry.as_nanos()).unwrap_or(i128::MAX));
        let (in_topics, elsewhere) = (cutoff(self.in_topics), cutoff(self.elsewhere));
        let mut aborted = 0;
        for bucket in self.store.bucket_list()? {
            let rules = self.topics.of(&bucket.name);
            for (id, up) in self.store.upload_list(&bucket.name)? {
                let in_topic = crate::policy::topics::locate(&rules, &up.key).is_some();
                let cutoff = if in_topic { in_topics } else { elsewhere };
                if cutoff.is_some_and(|c| up.initiated_ns <= c) {
                    self.backend.expire_upload(&id).await?;
                    tracing::info!(bucket = %bucket.name, key = %up.key, upload_id = %id, in_topic, "aborted an abandoned multipart upload");
                    aborted += 1;
                }
            }
        }
        Ok(Outcome::new(aborted, json!({ "aborted": aborted })))
    }
}

/// Reconciles stored bytes and the index both ways ([`Backends::reconcile`]).
pub struct Reconcile {
    backend: Arc<Backends>,
    min_age: Duration,
}

#[async_trait::async_trait]
impl Job for Reconcile {
    async fn run(&self) -> Result<Outcome, JobError> {
        let report = self.backend.reconcile(self.min_age).await?;
        Ok(Outcome::new(report.repairs(), report))
    }
}

/// Re-hashes stored objects against their manifests. Mismatches are findings, not
/// failures: they show in the outcome and the `tollgate_scrub_mismatches` gauge.
pub struct Scrub {
    backend: Arc<Backends>,
    metrics: Arc<Metrics>,
    bytes_per_sec: u64,
    keys: Arc<crate::backend::sealed::GatewayKeys>,
}

#[async_trait::async_trait]
impl Job for Scrub {
    async fn run(&self) -> Result<Outcome, JobError> {
        let report = self.backend.scrub(self.bytes_per_sec, self.keys.as_ref()).await?;
        self.metrics.scrub_mismatches(report.mismatches.len());
        tracing::info!(
            objects = report.objects,
            bytes = report.bytes,
            mismatches = report.mismatches.len(),
            sealed_by_customers = report.sealed_by_customers,
            "scrub finished"
        );
        Ok(Outcome::new(0, report))
    }
}

/// Re-wraps the data keys of SSE-KMS objects sealed under an older version of their
/// keyring key (after `tollgate admin keyring rotate`), bounded per run: no object byte is
/// rewritten. Its outcome counts what it re-wrapped, and whether more remain.
pub struct Rewrap {
    backend: Arc<Backends>,
    keys: Arc<crate::backend::sealed::GatewayKeys>,
    max: u64,
}

#[async_trait::async_trait]
impl Job for Rewrap {
    async fn run(&self) -> Result<Outcome, JobError> {
        let buckets = self.backend.bucket_names()?;
        let keys = Arc::clone(&self.keys);
        let max = self.max;
        let report = tokio::task::spawn_blocking(move || keys.rewrap(&buckets, max)).await??;
        Ok(Outcome::new(report.rewrapped, report))
    }
}

/// Removes audit entries older than `audit.retention_days`, then the oldest beyond
/// `audit.max_entries`.
pub struct AuditRetention {
    store: Arc<dyn Store>,
    keep: Option<Duration>,
    max_entries: usize,
    metrics: Arc<Metrics>,
}

#[async_trait::async_trait]
impl Job for AuditRetention {
    async fn run(&self) -> Result<Outcome, JobError> {
        let before = self.keep.map(|keep| crate::clock::now_ns() - i128::try_from(keep.as_nanos()).unwrap_or(i128::MAX));
        let (store, max) = (Arc::clone(&self.store), self.max_entries);
        let (expired, kept, trimmed) = tokio::task::spawn_blocking(move || -> crate::meta::Result<(usize, usize, usize)> {
            let expired = before.map_or(Ok(0), |b| store.audit_prune(b))?;
            let (kept, trimmed) = store.audit_trim(if max == 0 { usize::MAX } else { max })?;
            Ok((expired, kept, trimmed))
        })
        .await??;
        self.metrics.audit_pruned(kept, trimmed);
        if trimmed > 0 {
            tracing::warn!(trimmed, max_entries = self.max_entries, "the audit log reached audit.max_entries: its oldest entries were removed");
        }
        Ok(Outcome::new((expired + trimmed) as u64, json!({ "removed": expired, "trimmed": trimmed, "entries": kept })))
    }
}

/// Records a sample of what every tenant and bucket stores (the usage history the console
/// charts), forgetting the samples older than `keep`.
pub struct UsageHistory {
    store: Arc<dyn Store>,
    keep: Duration,
}

#[async_trait::async_trait]
impl Job for UsageHistory {
    async fn run(&self) -> Result<Outcome, JobError> {
        let now = crate::clock::now_ns();
        let before = now - i128::try_from(self.keep.as_nanos()).unwrap_or(i128::MAX);
        let store = Arc::clone(&self.store);
        let forgotten = tokio::task::spawn_blocking(move || store.usage_sample(now, before)).await??;
        Ok(Outcome::new(1, json!({ "sampled_at_ns": now.to_string(), "forgotten": forgotten })))
    }
}

/// Prunes the manifests of objects deleted more than `proofs.deleted_retention_days`
/// ago, leaving signed checkpoints in the chains.
pub struct ProofRetention {
    store: Arc<dyn Store>,
    prover: Arc<Prover>,
    keep: Duration,
}

#[async_trait::async_trait]
impl Job for ProofRetention {
    async fn run(&self) -> Result<Outcome, JobError> {
        let (store, prover, keep) = (Arc::clone(&self.store), Arc::clone(&self.prover), self.keep);
        let removed = tokio::task::spawn_blocking(move || prover.prune(store.as_ref(), keep)).await??;
        Ok(Outcome::new(removed, json!({ "removed": removed })))
    }
}

/// Copies new metadata to the upstream's mirror (settled audit entries only: the final
/// pass at shutdown takes the rest).
pub struct MetadataMirror {
    backend: Arc<Backends>,
}

#[async_trait::async_trait]
impl Job for MetadataMirror {
    async fn run(&self) -> Result<Outcome, JobError> {
        let report = self.backend.mirror_metadata(true).await?;
        Ok(Outcome::new(report.as_ref().map_or(0, |r| r.objects_written), report))
    }
}

/// Writes this instance's heartbeat where the instances sharing its metadata bucket read
/// it (`tollgate admin cluster`), with what it stores; then counts the live ones and
/// shares the rate limits among them, and takes what the others store into its quota
/// checks.
pub struct Heartbeat {
    store: Arc<dyn Store>,
    backend: Arc<Backends>,
    member: Member,
    limiter: Option<Arc<crate::limits::Limiter>>,
    metrics: Arc<Metrics>,
    control: Arc<crate::backend::control::ControlPlane>,
}

#[async_trait::async_trait]
impl Job for Heartbeat {
    async fn run(&self) -> Result<Outcome, JobError> {
        let usage = self.store.bucket_list()?.into_iter().filter(|b| b.objects > 0).map(|b| (b.name, [b.objects, b.bytes])).collect();
        let beat = Member { heartbeat_ns: crate::clock::now_ns(), control_applied: self.control.applied(), usage, ..self.member.clone() };
        self.backend.heartbeat(&beat).await?;
        let members = self.backend.members().await?.unwrap_or_default();
        // Every other instance's objects count, whether it is live or not: they are stored.
        let mut elsewhere: std::collections::HashMap<String, (u64, u64)> = std::collections::HashMap::new();
        for m in members.iter().filter(|m| m.instance != beat.instance) {
            for (bucket, [objects, bytes]) in &m.usage {
                let e = elsewhere.entry(bucket.clone()).or_default();
                *e = (e.0 + objects, e.1 + bytes);
            }
        }
        self.store.usage_elsewhere_set(elsewhere)?;
        let now = crate::clock::now_ns();
        let live = members.iter().filter(|m| m.presence(now) == crate::backend::upstream::Presence::Live).count();
        // This instance counts even if its own beat is not listed yet (an eventually
        // consistent listing).
        let live = u32::try_from(live).unwrap_or(u32::MAX).max(1);
        if let Some(limiter) = &self.limiter {
            limiter.set_instances(live);
        }
        self.metrics.cluster_live_instances(live);
        Ok(Outcome::new(1, json!({ "heartbeat_ns": beat.heartbeat_ns.to_string(), "live_instances": live })))
    }
}

/// Applies the cluster's control-plane changes made on other instances (see
/// [`crate::backend::control`]); creates the keyring's default key through the log once
/// the log has none; checkpoints and compacts the log when it is due.
pub struct ControlLog {
    control: Arc<crate::backend::control::ControlPlane>,
    metrics: Arc<Metrics>,
    seal_keys: Arc<crate::backend::sealed::GatewayKeys>,
}

#[async_trait::async_trait]
impl Job for ControlLog {
    async fn run(&self) -> Result<Outcome, JobError> {
        let mut applied = self.control.catch_up().await?;
        let default = crate::backend::sealed::DEFAULT_KMS_KEY;
        if self.seal_keys.keyring_missing(default)? {
            let create = crate::meta::ControlChange::KeyringCreate { key: self.seal_keys.new_keyring_key(default) };
            match self.control.submit(create, None).await {
                // Another instance created it first: the same material, derived from the master key.
                Ok(_) | Err(crate::backend::Error::Meta(crate::meta::Error::AlreadyExists)) => applied += 1,
                Err(e) => return Err(e.into()),
            }
        }
        self.metrics.control_applied(self.control.applied());
        let checkpoint = self.control.checkpoint().await?;
        Ok(Outcome::new(applied, json!({ "applied": self.control.applied(), "checkpoint": checkpoint })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::{AuditEntry, SledStore};

    fn entry(time_ns: i128) -> AuditEntry {
        let mut e = crate::audit::entry_for(&crate::auth::Principal::Gateway, None, crate::ops::Operation::PutObject, "b", "k", crate::audit::Outcome::Ok, 0);
        e.time_ns = time_ns;
        e
    }

    #[tokio::test]
    async fn audit_retention_removes_only_expired_entries() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).unwrap());
        let now = crate::clock::now_ns();
        let day = 86_400 * 1_000_000_000i128;
        store.audit_append(&entry(now - 40 * day)).unwrap();
        store.audit_append(&entry(now - 10 * day)).unwrap();
        store.audit_append(&entry(now)).unwrap();
        let metrics = Arc::new(Metrics::default());
        let job = AuditRetention { store: Arc::clone(&store), keep: Some(Duration::from_secs(30 * 86_400)), max_entries: 0, metrics: Arc::clone(&metrics) };
        let outcome = job.run().await.unwrap();
        assert_eq!(outcome.changed, 1);
        let left: Vec<i128> = store.audit_scan(0, i128::MAX).map(|e| e.unwrap().time_ns).collect();
        assert_eq!(left, [now - 10 * day, now]);
        assert_eq!(job.run().await.unwrap().changed, 0, "nothing left to remove");
        assert!(metrics.render(0).contains("tollgate_audit_entries 2"));
    }

    #[tokio::test]
    async fn the_audit_log_is_capped_by_removing_its_oldest_entries() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).unwrap());
        for t in 1..=10 {
            store.audit_append(&entry(t)).unwrap();
        }
        let metrics = Arc::new(Metrics::default());
        let job = AuditRetention { store: Arc::clone(&store), keep: None, max_entries: 4, metrics: Arc::clone(&metrics) };
        assert_eq!(job.run().await.unwrap().changed, 6);
        let left: Vec<i128> = store.audit_scan(0, i128::MAX).map(|e| e.unwrap().time_ns).collect();
        assert_eq!(left, [7, 8, 9, 10]);
        let text = metrics.render(0);
        assert!(text.contains("tollgate_audit_entries 4") && text.contains("tollgate_audit_trimmed_total 6"), "{text}");
    }
}

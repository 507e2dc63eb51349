//! Prometheus metrics (`GET /metrics`, text format, through `prometheus-client`).
//!
//! Labels have bounded cardinality: S3 operation names (a fixed set, see
//! [`Operation::metric_label`]), status codes, denial reasons, job names. Never keys,
//! buckets or principals.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::ops::{Operation, RequestKind};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    operation: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabel {
    operation: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DirectionLabel {
    direction: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    job: &'static str,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabel {
    job: &'static str,
}

fn latency_histogram() -> Histogram {
    // 0.25 ms to ~16 s.
    Histogram::new(exponential_buckets(0.000_25, 2.0, 17))
}

/// Every metric the gateway exports.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<OperationLabel, Histogram, fn() -> Histogram>,
    bytes: Family<DirectionLabel, Counter>,
    denied: Family<ReasonLabel, Counter>,
    in_flight: Gauge,
    backend_latency: Family<OperationLabel, Histogram, fn() -> Histogram>,
    backend_errors: Family<OperationLabel, Counter>,
    jobs: Family<JobLabels, Counter>,
    job_last_run: Family<JobLabel, Gauge<f64, AtomicU64>>,
    job_last_success: Family<JobLabel, Gauge<f64, AtomicU64>>,
    job_duration: Family<JobLabel, Gauge<f64, AtomicU64>>,
    job_changes: Family<JobLabel, Counter>,
    scrub_mismatches: Gauge<u64, AtomicU64>,
    cluster_live: Gauge<u64, AtomicU64>,
    control_applied: Gauge<u64, AtomicU64>,
    meta_size: Gauge<u64, AtomicU64>,
    unauthenticated_denials: Counter,
    audit_entries: Gauge<u64, AtomicU64>,
    audit_trimmed: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("tollgate");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register("requests", "Requests served, by S3 operation and HTTP status", requests.clone());
        let latency = Family::<OperationLabel, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        registry.register("request_duration_seconds", "Time to the response head, by S3 operation", latency.clone());
        let bytes = Family::<DirectionLabel, Counter>::default();
        registry.register("body_bytes", "Declared body bytes received (in) and sent (out)", bytes.clone());
        let denied = Family::<ReasonLabel, Counter>::default();
        registry.register("denied_requests", "Requests refused by the access check, by reason", denied.clone());
        let in_flight = Gauge::default();
        registry.register("in_flight_requests", "Requests being served", in_flight.clone());
        let backend_latency = Family::<OperationLabel, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        registry.register("backend_duration_seconds", "Storage backend time, by S3 operation", backend_latency.clone());
        let backend_errors = Family::<OperationLabel, Counter>::default();
        registry.register("backend_errors", "Storage backend failures (5xx), by S3 operation", backend_errors.clone());
        let jobs = Family::<JobLabels, Counter>::default();
        registry.register("job_runs", "Background job runs, by job and result", jobs.clone());
        let job_last_run = Family::<JobLabel, Gauge<f64, AtomicU64>>::default();
        registry.register("job_last_run_timestamp_seconds", "When each job last finished a run (Unix time)", job_last_run.clone());
        let job_last_success = Family::<JobLabel, Gauge<f64, AtomicU64>>::default();
        registry.register("job_last_success_timestamp_seconds", "When each job last finished a run without error (Unix time)", job_last_success.clone());
        let job_duration = Family::<JobLabel, Gauge<f64, AtomicU64>>::default();
        registry.register("job_last_duration_seconds", "How long each job's last run took", job_duration.clone());
        let job_changes = Family::<JobLabel, Counter>::default();
        registry.register("job_changes", "Things background jobs changed (removed, aborted, repaired), by job", job_changes.clone());
        let scrub_mismatches = Gauge::<u64, AtomicU64>::default();
        registry.register("scrub_mismatches", "Objects whose bytes did not match their manifest in the last scrub", scrub_mismatches.clone());
        let cluster_live = Gauge::<u64, AtomicU64>::default();
        registry.register(
            "cluster_live_instances",
            "Live instances sharing this gateway's metadata bucket, as its last heartbeat counted (0: in no cluster)",
            cluster_live.clone(),
        );
        let control_applied = Gauge::<u64, AtomicU64>::default();
        registry.register("control_applied", "The last entry of the cluster's control log this instance applied", control_applied.clone());
        let meta_size = Gauge::<u64, AtomicU64>::default();
        registry.register("metadata_size_bytes", "Size of the metadata database on disk", meta_size.clone());
        let unauthenticated_denials = Counter::default();
        registry.register(
            "unauthenticated_denials",
            "Requests refused without a verified signature (anonymous denials, bad signatures, unknown keys, address over its failure budget)",
            unauthenticated_denials.clone(),
        );
        let audit_entries = Gauge::<u64, AtomicU64>::default();
        registry.register("audit_entries", "Audit entries kept, counted at the last pruning", audit_entries.clone());
        let audit_trimmed = Counter::default();
        registry.register("audit_trimmed", "Oldest audit entries removed because the log reached audit.max_entries", audit_trimmed.clone());
        Self {
            registry,
            requests,
            latency,
            bytes,
            denied,
            in_flight,
            backend_latency,
            backend_errors,
            jobs,
            job_last_run,
            job_last_success,
            job_duration,
            job_changes,
            scrub_mismatches,
            cluster_live,
            control_applied,
            meta_size,
            unauthenticated_denials,
            audit_entries,
            audit_trimmed,
        }
    }
}

/// Decrements the in-flight gauge when the request is done, however it ends.
pub struct InFlight<'a>(&'a Metrics);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.dec();
    }
}

impl Metrics {
    /// Counts a request as in flight until the returned guard is dropped.
    #[must_use]
    pub fn start_request(&self) -> InFlight<'_> {
        self.in_flight.inc();
        InFlight(self)
    }

    /// Records a served request: its count by operation and status, the time to its response
    /// head, and the declared body bytes received and sent.
    pub fn request_done(&self, request: RequestKind, status: u16, elapsed: Duration, bytes_in: u64, bytes_out: u64) {
        let operation = request.label();
        self.requests.get_or_create(&RequestLabels { operation, status }).inc();
        self.latency.get_or_create(&OperationLabel { operation }).observe(elapsed.as_secs_f64());
        self.bytes.get_or_create(&DirectionLabel { direction: "in" }).inc_by(bytes_in);
        self.bytes.get_or_create(&DirectionLabel { direction: "out" }).inc_by(bytes_out);
    }

    /// `reason`: `anonymous`, `foreign_bucket`, `role`, `throttled`.
    pub fn denied(&self, reason: &'static str) {
        self.denied.get_or_create(&ReasonLabel { reason }).inc();
    }

    /// Records the time a storage backend took for `operation`, and counts it as an error
    /// when it failed on the backend's side (a 5xx).
    pub fn backend_call(&self, operation: Operation, elapsed: Duration, server_error: bool) {
        let operation = operation.metric_label();
        self.backend_latency.get_or_create(&OperationLabel { operation }).observe(elapsed.as_secs_f64());
        if server_error {
            self.backend_errors.get_or_create(&OperationLabel { operation }).inc();
        }
    }

    /// Records a finished job run: its result, when, how long, and how much it changed.
    pub fn job_finished(&self, job: &'static str, ok: bool, elapsed: Duration, changed: u64) {
        self.jobs.get_or_create(&JobLabels { job, result: if ok { "ok" } else { "error" } }).inc();
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs_f64();
        let label = JobLabel { job };
        self.job_last_run.get_or_create(&label).set(now);
        if ok {
            self.job_last_success.get_or_create(&label).set(now);
        }
        self.job_duration.get_or_create(&label).set(elapsed.as_secs_f64());
        self.job_changes.get_or_create(&label).inc_by(changed);
    }

    /// One request refused without a verified signature.
    pub fn unauthenticated_denial(&self) {
        self.unauthenticated_denials.inc();
    }

    /// The audit log's size after a pruning, and how many entries the cap removed.
    pub fn audit_pruned(&self, kept: usize, trimmed: usize) {
        self.audit_entries.set(kept as u64);
        self.audit_trimmed.inc_by(trimmed as u64);
    }

    /// How many objects no longer matched their manifests in the last scrub.
    pub fn scrub_mismatches(&self, count: usize) {
        self.scrub_mismatches.set(count as u64);
    }

    /// How many live instances the last heartbeat counted in this gateway's cluster.
    pub fn cluster_live_instances(&self, live: u32) {
        self.cluster_live.set(u64::from(live));
    }

    /// The last entry of the cluster's control log applied here.
    pub fn control_applied(&self, seq: u64) {
        self.control_applied.set(seq);
    }

    /// The text exposition, with the metadata size sampled now.
    #[must_use]
    pub fn render(&self, meta_size: u64) -> String {
        self.meta_size.set(meta_size);
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_has_counters_histograms_and_bounded_labels() {
        let m = Metrics::default();
        {
            let _f = m.start_request();
            m.request_done(RequestKind::S3(Operation::GetObject), 200, Duration::from_millis(3), 0, 4096);
        }
        m.request_done(RequestKind::S3(Operation::GetObject), 404, Duration::from_millis(1), 0, 0);
        m.denied("throttled");
        m.backend_call(Operation::GetObject, Duration::from_millis(2), false);
        m.job_finished("scrub", true, Duration::from_millis(1500), 2);
        let text = m.render(12345);
        assert!(text.contains(r#"tollgate_requests_total{operation="GetObject",status="200"} 1"#), "{text}");
        assert!(text.contains(r#"tollgate_requests_total{operation="GetObject",status="404"} 1"#));
        assert!(text.contains(r#"tollgate_body_bytes_total{direction="out"} 4096"#));
        assert!(text.contains(r#"tollgate_denied_requests_total{reason="throttled"} 1"#));
        assert!(text.contains(r#"tollgate_request_duration_seconds_count{operation="GetObject"} 2"#));
        assert!(text.contains(r#"tollgate_job_runs_total{job="scrub",result="ok"} 1"#));
        assert!(text.contains(r#"tollgate_job_last_duration_seconds{job="scrub"} 1.5"#), "{text}");
        assert!(text.contains(r#"tollgate_job_changes_total{job="scrub"} 2"#));
        assert!(text.contains(r#"tollgate_job_last_success_timestamp_seconds{job="scrub"}"#));
        assert!(text.contains("tollgate_in_flight_requests 0"));
        assert!(text.contains("tollgate_metadata_size_bytes 12345"));
        assert!(text.ends_with("# EOF\n"));
    }
}

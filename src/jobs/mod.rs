//! Background jobs: a [`Scheduler`] runs each [`Job`] every interval, retries a failed
//! run with backoff, keeps each job's last-run status (metrics, `tollgate admin jobs`),
//! runs a job at once on demand, and on shutdown gives running jobs a deadline before
//! cancelling them. Jobs are written to be safe to run while traffic flows and to be
//! cancelled at any await point. The workers are in [`workers`].

pub mod lifecycle;
pub mod workers;

use crate::obs::metrics::Metrics;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// One kind of background work.
#[async_trait::async_trait]
pub trait Job: Send + Sync {
    /// Runs once. An error is retried with backoff (the next attempt starts afresh).
    async fn run(&self) -> Result<Outcome, JobError>;
}

/// Why a run failed; its message is the job's `last_error`.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The metadata store failed.
    #[error(transparent)]
    Meta(#[from] crate::meta::Error),
    /// A storage engine failed.
    #[error(transparent)]
    Backend(#[from] crate::backend::Error),
    /// The blocking task doing the work panicked or was cancelled.
    #[error(transparent)]
    Task(#[from] tokio::task::JoinError),
}

/// A job with its name (a metrics label and the admin API's handle) and the time
/// between two runs (zero: only on demand).
pub struct Scheduled {
    /// The job's name, such as `reconcile`.
    pub name: &'static str,
    /// Time between two scheduled runs; zero: run only on demand.
    pub interval: Duration,
    /// The work itself.
    pub job: Box<dyn Job>,
}

impl Scheduled {
    /// `job`, run every `interval` (zero: on demand only) under `name`.
    pub fn new(name: &'static str, interval: Duration, job: impl Job + 'static) -> Self {
        Self { name, interval, job: Box::new(job) }
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Outcome {
    /// Things it changed: removed, aborted, repaired (0 when all was in order).
    pub changed: u64,
    /// What it found, for the admin API.
    pub detail: serde_json::Value,
}

impl Outcome {
    /// A run that changed `changed` things; `detail` is shown as JSON (null if it cannot be serialized).
    pub fn new(changed: u64, detail: impl Serialize) -> Self {
        Self { changed, detail: serde_json::to_value(detail).unwrap_or_default() }
    }
}

/// A job's last-run status, as `tollgate admin jobs` shows it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct JobStatus {
    /// The job's name.
    pub name: &'static str,
    /// 0: on demand only.
    pub interval_secs: u64,
    /// Whether a run is in progress now.
    pub running: bool,
    /// Runs finished since start, each retry counting as one.
    pub runs: u64,
    /// Of those, the runs that failed.
    pub failures: u64,
    /// When the last run started (ns since the Unix epoch).
    pub last_started_ns: Option<i128>,
    /// How long the last finished run took, in milliseconds; `None`: none finished yet.
    pub last_duration_ms: Option<u64>,
    /// Whether the last finished run succeeded; `None`: none finished yet.
    pub last_ok: Option<bool>,
    /// Why the last run failed; `None` if it succeeded or none finished yet.
    pub last_error: Option<String>,
    /// The outcome of the last successful run.
    pub last_outcome: Option<Outcome>,
    /// When the next scheduled attempt is due (ns since the Unix epoch).
    pub next_run_ns: Option<i128>,
}

/// How failed runs are retried before waiting for the next interval.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts after the first.
    pub retries: u32,
    /// First backoff; doubles per attempt (with jitter), capped at the job's interval.
    pub base: Duration,
}

struct Slot {
    job: Scheduled,
    /// Held for a run: scheduled and on-demand runs of one job never overlap.
    turn: tokio::sync::Mutex<()>,
    status: Mutex<JobStatus>,
}

impl Slot {
    fn status(&self) -> std::sync::MutexGuard<'_, JobStatus> {
        self.status.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Clears `running` however the run ends (including cancellation at shutdown).
struct RunningFlag<'a>(&'a Slot);

impl Drop for RunningFlag<'_> {
    fn drop(&mut self) {
        self.0.status().running = false;
    }
}

/// Runs the registered jobs on their intervals and on demand, keeping each one's [`JobStatus`].
pub struct Scheduler {
    slots: Vec<Arc<Slot>>,
    retry: RetryPolicy,
    metrics: Arc<Metrics>,
}

impl Scheduler {
    /// A scheduler for `jobs`, none running until [`Scheduler::start`]; each run is counted in `metrics`.
    #[must_use]
    pub fn new(jobs: Vec<Scheduled>, retry: RetryPolicy, metrics: Arc<Metrics>) -> Self {
        let slots = jobs
            .into_iter()
            .map(|job| {
                let status = JobStatus { name: job.name, interval_secs: job.interval.as_secs(), ..JobStatus::default() };
                Arc::new(Slot { job, turn: tokio::sync::Mutex::new(()), status: Mutex::new(status) })
            })
            .collect();
        Self { slots, retry, metrics }
    }

    /// Every job's status, in registration order.
    #[must_use]
    pub fn statuses(&self) -> Vec<JobStatus> {
        self.slots.iter().map(|s| s.status().clone()).collect()
    }

    /// Job `name`'s status; `None` if there is no such job.
    #[must_use]
    pub fn status(&self, name: &str) -> Option<JobStatus> {
        self.slot(name).map(|s| s.status().clone())
    }

    fn slot(&self, name: &str) -> Option<&Arc<Slot>> {
        self.slots.iter().find(|s| s.job.name == name)
    }

    /// Runs job `name` once now (after a run in progress, if any), without retries;
    /// `None` if there is no such job.
    pub async fn run_now(&self, name: &str) -> Option<Result<Outcome, JobError>> {
        let slot = self.slot(name)?;
        Some(self.run_once(slot).await)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(job = slot.job.name))]
    async fn run_once(&self, slot: &Slot) -> Result<Outcome, JobError> {
        let _turn = slot.turn.lock().await;
        let name = slot.job.name;
        {
            let mut st = slot.status();
            st.running = true;
            st.last_started_ns = Some(crate::clock::now_ns());
        }
        let _flag = RunningFlag(slot);
        let started = Instant::now();
        let result = slot.job.job.run().await;
        let elapsed = started.elapsed();
        let changed = result.as_ref().map_or(0, |o| o.changed);
        self.metrics.job_finished(name, result.is_ok(), elapsed, changed);
        let mut st = slot.status();
        st.runs += 1;
        st.last_duration_ms = Some(u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX));
        st.last_ok = Some(result.is_ok());
        match &result {
            Ok(outcome) => {
                if outcome.changed > 0 {
                    tracing::info!(job = name, changed = outcome.changed, elapsed_ms = elapsed.as_millis() as u64, "job changed things");
                } else {
                    tracing::debug!(job = name, elapsed_ms = elapsed.as_millis() as u64, "job found nothing to do");
                }
                st.last_error = None;
                st.last_outcome = Some(outcome.clone());
            }
            Err(e) => {
                tracing::warn!(job = name, error = %e, "job failed");
                st.failures += 1;
                st.last_error = Some(e.to_string());
            }
        }
        result
    }

    /// Runs every job with an interval on its own task until `stop` turns true.
    pub fn start(self: &Arc<Self>, stop: &watch::Receiver<bool>) -> Running {
        let mut tasks = JoinSet::new();
        for slot in &self.slots {
            if !slot.job.interval.is_zero() {
                tasks.spawn(Arc::clone(self).every_interval(Arc::clone(slot), stop.clone()));
            }
        }
        Running { tasks, scheduler: Arc::clone(self) }
    }

    async fn every_interval(self: Arc<Self>, slot: Arc<Slot>, mut stop: watch::Receiver<bool>) {
        let interval = slot.job.interval;
        let mut wait = interval;
        loop {
            slot.status().next_run_ns = Some(crate::clock::now_ns() + i128::try_from(wait.as_nanos()).unwrap_or(i128::MAX));
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                _ = stop.changed() => return,
            }
            wait = interval;
            for attempt in 0..=self.retry.retries {
                if self.run_once(&slot).await.is_ok() {
                    break;
                }
                if attempt < self.retry.retries {
                    let backoff = crate::retry::backoff(self.retry.base, attempt, interval);
                    slot.status().next_run_ns = Some(crate::clock::now_ns() + i128::try_from(backoff.as_nanos()).unwrap_or(i128::MAX));
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => {}
                        _ = stop.changed() => return,
                    }
                }
            }
        }
    }
}

/// The scheduled jobs' tasks.
pub struct Running {
    tasks: JoinSet<()>,
    scheduler: Arc<Scheduler>,
}

impl Running {
    /// Waits (after the stop signal was sent) up to `deadline` for running jobs to
    /// finish their run, then cancels the rest.
    pub async fn finish(mut self, deadline: Duration) {
        let all_done = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(deadline, all_done).await.is_err() {
            let running: Vec<&str> = self.scheduler.statuses().into_iter().filter(|s| s.running).map(|s| s.name).collect();
            tracing::warn!(deadline_secs = deadline.as_secs(), jobs = ?running, "jobs did not finish by the shutdown deadline: cancelled");
            self.tasks.abort_all();
            while self.tasks.join_next().await.is_some() {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// Fails its first `failures` runs, then succeeds; sleeps `takes` per run.
    struct Flaky {
        failures: u32,
        calls: Arc<AtomicU32>,
        takes: Duration,
    }

    #[async_trait::async_trait]
    impl Job for Flaky {
        async fn run(&self) -> Result<Outcome, JobError> {
            tokio::time::sleep(self.takes).await;
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            // An error whose message is its text alone.
            if n < self.failures { Err(crate::backend::Error::InvalidRequest(format!("failure {n}")).into()) } else { Ok(Outcome::new(1, "done")) }
        }
    }

    fn scheduler(failures: u32, takes: Duration, retries: u32) -> (Arc<Scheduler>, Arc<AtomicU32>) {
        let calls = Arc::new(AtomicU32::new(0));
        let job = Flaky { failures, calls: Arc::clone(&calls), takes };
        let retry = RetryPolicy { retries, base: Duration::from_secs(1) };
        let jobs = vec![Scheduled::new("flaky", Duration::from_secs(60), job)];
        (Arc::new(Scheduler::new(jobs, retry, Arc::new(Metrics::default()))), calls)
    }

    #[tokio::test(start_paused = true)]
    async fn failed_runs_are_retried_with_backoff_then_succeed() {
        let (s, calls) = scheduler(2, Duration::ZERO, 3);
        let (stop, stopped) = watch::channel(false);
        let running = s.start(&stopped);
        // First run after one interval, then two retries within a few seconds of backoff.
        tokio::time::sleep(Duration::from_secs(59)).await;
        assert_eq!(calls.load(Ordering::SeqCst), 0, "nothing runs before the interval");
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        let st = s.status("flaky").unwrap();
        assert_eq!((st.runs, st.failures, st.last_ok), (3, 2, Some(true)));
        assert_eq!(st.last_outcome.unwrap().changed, 1);
        assert!(st.last_error.is_none());
        stop.send(true).unwrap();
        running.finish(Duration::from_secs(1)).await;
        let metrics = s.metrics.render(0);
        assert!(metrics.contains(r#"tollgate_job_runs_total{job="flaky",result="error"} 2"#), "{metrics}");
        assert!(metrics.contains(r#"tollgate_job_runs_total{job="flaky",result="ok"} 1"#));
    }

    #[tokio::test(start_paused = true)]
    async fn retries_are_bounded_until_the_next_interval() {
        let (s, calls) = scheduler(u32::MAX, Duration::ZERO, 2);
        let (stop, stopped) = watch::channel(false);
        let running = s.start(&stopped);
        tokio::time::sleep(Duration::from_secs(100)).await;
        assert_eq!(calls.load(Ordering::SeqCst), 3, "one run and two retries");
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(calls.load(Ordering::SeqCst), 6, "three more at the next interval");
        let st = s.status("flaky").unwrap();
        assert_eq!(st.last_ok, Some(false));
        assert!(st.last_error.unwrap().starts_with("failure"));
        stop.send(true).unwrap();
        running.finish(Duration::from_secs(1)).await;
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_waits_for_a_run_up_to_the_deadline_then_cancels() {
        // A run that outlasts the deadline is cancelled and no longer shows as running.
        let (s, calls) = scheduler(0, Duration::from_secs(3600), 0);
        let (stop, stopped) = watch::channel(false);
        let running = s.start(&stopped);
        tokio::time::sleep(Duration::from_secs(61)).await;
        assert!(s.status("flaky").unwrap().running);
        stop.send(true).unwrap();
        let before = tokio::time::Instant::now();
        running.finish(Duration::from_secs(5)).await;
        assert_eq!(before.elapsed(), Duration::from_secs(5));
        assert!(!s.status("flaky").unwrap().running);
        assert_eq!(calls.load(Ordering::SeqCst), 0, "the run never completed");

        // A short run finishes within the deadline.
        let (s, calls) = scheduler(0, Duration::from_secs(2), 0);
        let (stop, stopped) = watch::channel(false);
        let running = s.start(&stopped);
        tokio::time::sleep(Duration::from_secs(61)).await;
        stop.send(true).unwrap();
        running.finish(Duration::from_secs(5)).await;
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(s.status("flaky").unwrap().last_ok, Some(true));
    }

    #[tokio::test(start_paused = true)]
    async fn on_demand_runs_are_recorded() {
        let (s, _) = scheduler(1, Duration::ZERO, 0);
        assert_eq!(s.run_now("flaky").await.unwrap().map_err(|e| e.to_string()), Err("failure 0".into()));
        assert_eq!(s.run_now("flaky").await.unwrap().unwrap().changed, 1);
        assert!(s.run_now("nope").await.is_none());
        let st = s.status("flaky").unwrap();
        assert_eq!((st.runs, st.failures), (2, 1));
    }
}

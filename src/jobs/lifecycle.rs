//! The `lifecycle` job: applies each bucket's lifecycle rules ([`crate::lifecycle`]). It
//! expires current versions (a delete marker in a versioned bucket, the object otherwise),
//! removes noncurrent versions and delete markers left alone, and aborts abandoned
//! multipart uploads, through the same object layer as S3 deletes: each removal is audited
//! (the rule's id as `decided_by`) with its deletion manifest, a version under Object Lock
//! or legal hold is never removed, and nothing under an `append-*` topic is touched. A run
//! makes at most `jobs.lifecycle_max_actions` changes; the next one goes on from there.

use super::{Job, JobError, Outcome};
use crate::audit::{GatewayOp, Outcome as Audited};
use crate::auth::Principal;
use crate::backend::Error;
use crate::backend::placement::Backends;
use crate::lifecycle::Lifecycle;
use crate::meta::{AuditEntry, Precondition, Store, VersionRecord, WriteMode};
use crate::policy::config::BucketConfigs;
use crate::policy::topics::Topics;

use std::sync::{Arc, Mutex, PoisonError};

use serde::Serialize;

/// Keys (with their versions) read from the index at once.
const BATCH: usize = 1000;

/// The lifecycle job.
pub struct LifecycleJob {
    store: Arc<dyn Store>,
    backend: Arc<Backends>,
    configs: Arc<BucketConfigs>,
    topics: Arc<Topics>,
    /// Told of each expiry, to forget a cluster's shared record of an encrypted object.
    control: Arc<crate::backend::control::ControlPlane>,
    day_secs: u64,
    max_actions: usize,
    /// Where the last run stopped on reaching `max_actions`: a bucket, and the last key
    /// it finished there.
    resume: Mutex<Option<(String, String)>>,
}

/// What a run did.
#[derive(Debug, Default, Serialize)]
struct Report {
    /// Current versions expired (deleted, or hidden under a delete marker).
    expired: u64,
    /// Noncurrent versions and delete markers removed for good.
    versions_removed: u64,
    /// Multipart uploads aborted.
    uploads_aborted: u64,
    /// Versions a rule selects that Object Lock keeps.
    kept_locked: u64,
    /// Objects changed since they were read (a write wins over the rule).
    changed_since: u64,
    /// Whether the run stopped at its bound (the next one goes on).
    bounded: bool,
}

/// One change a rule asks for.
enum Action {
    /// Expire the current version of `key`, if it still has this ETag.
    Expire { key: String, etag: String, rule: String },
    /// Remove version `version_id` of `key` for good.
    Remove { key: String, version_id: String, rule: String },
}

impl LifecycleJob {
    /// The job over the gateway's `parts`.
    #[must_use]
    pub fn new(parts: &super::workers::Parts, day_secs: u64, max_actions: usize) -> Self {
        Self {
            store: Arc::clone(&parts.store),
            backend: Arc::clone(&parts.backend),
            configs: Arc::clone(&parts.configs),
            topics: Arc::clone(&parts.topics),
            control: Arc::clone(&parts.control),
            day_secs,
            max_actions,
            resume: Mutex::new(None),
        }
    }

    /// Whether `key` is under an `append-*` topic of `bucket` (lifecycle never touches those).
    fn append_only(&self, bucket: &str, key: &str) -> bool {
        let rules = self.topics.of(bucket);
        crate::policy::topics::locate(&rules, key).is_some_and(|t| matches!(t.rule.write, WriteMode::AppendAuth | WriteMode::AppendOpen))
    }

    /// The changes `lc` asks for among a versioned bucket's keys after `after`, up to
    /// `budget`; and the last key whose changes are all listed (none: the bucket's end
    /// was reached).
    fn versioned_actions(&self, bucket: &str, lc: &Lifecycle, after: Option<String>, budget: usize, now: i128) -> Result<(Vec<Action>, Option<String>), Error> {
        let mut actions = Vec::new();
        let mut after = after;
        loop {
            let groups = key_versions(self.store.as_ref(), bucket, after.as_deref())?;
            let Some((last, _)) = groups.last() else { return Ok((actions, None)) };
            let last = last.clone();
            for (key, versions) in groups {
                if !self.append_only(bucket, &key) {
                    actions.extend(self.key_actions(lc, &key, &versions, now));
                }
                if actions.len() >= budget {
                    return Ok((actions, Some(key)));
                }
            }
            after = Some(last);
        }
    }

    /// What `lc` asks of one key's versions (newest first).
    fn key_actions(&self, lc: &Lifecycle, key: &str, versions: &[VersionRecord], now: i128) -> Vec<Action> {
        let mut actions = Vec::new();
        let remove = |v: &VersionRecord, rule: &str| Action::Remove { key: key.to_owned(), version_id: v.version_id.clone(), rule: rule.to_owned() };
        match versions.first() {
            Some(VersionRecord { object: Some(o), .. }) => {
                if let Some((_, rule)) = lc.expiry(key, o.size, &o.tags, o.last_modified_ns, self.day_secs).filter(|(at, _)| *at <= now) {
                    actions.push(Action::Expire { key: key.to_owned(), etag: o.etag.clone(), rule: rule.to_owned() });
                }
            }
            Some(marker) if versions.len() == 1 => {
                if let Some(rule) = lc.removes_expired_marker(key) {
                    actions.push(remove(marker, rule));
                }
            }
            _ => {}
        }
        // A version became noncurrent when the one after it was written.
        for (newer, pair) in versions.windows(2).enumerate() {
            let (successor, v) = (&pair[0], &pair[1]);
            let (size, tags) = v.object.as_ref().map_or((0, &[][..]), |o| (o.size, &o.tags[..]));
            if let Some((_, rule)) = lc.noncurrent_expiry(key, size, tags, successor.last_modified_ns, newer, self.day_secs).filter(|(at, _)| *at <= now) {
                actions.push(remove(v, rule));
            }
        }
        actions
    }

    /// The changes `lc` asks for among an unversioned bucket's objects after `after` (read
    /// through its engine, so objects an upstream holds at their keys count), up to `budget`.
    async fn object_actions(
        &self,
        bucket: &str,
        lc: &Lifecycle,
        after: Option<String>,
        budget: usize,
        now: i128,
    ) -> Result<(Vec<Action>, Option<String>), Error> {
        let objects = self.backend.of(bucket);
        // Through an upstream storing at the key, listings carry no tags: read them when a rule asks.
        let read_tags = lc.needs_tags() && objects.stores_at_key(bucket)?;
        let mut actions = Vec::new();
        let mut after = after;
        loop {
            let page = objects.page::<crate::meta::ObjectRecord>(bucket, "", None, after.as_deref(), BATCH, self.control.objects()).await?;
            for (key, o) in &page.objects {
                if self.append_only(bucket, key) {
                    continue;
                }
                let tags = if read_tags { objects.tags(bucket, key, None).await?.1 } else { o.tags.clone() };
                if let Some((_, rule)) = lc.expiry(key, o.size, &tags, o.last_modified_ns, self.day_secs).filter(|(at, _)| *at <= now) {
                    actions.push(Action::Expire { key: key.clone(), etag: o.etag.clone(), rule: rule.to_owned() });
                    if actions.len() >= budget {
                        return Ok((actions, Some(key.clone())));
                    }
                }
            }
            if !page.truncated {
                return Ok((actions, None));
            }
            after = page.last;
        }
    }

    /// Carries out `actions` on `bucket`, counting what happened in `report`.
    async fn apply(&self, bucket: &str, actions: Vec<Action>, report: &mut Report) -> Result<(), Error> {
        let objects = self.backend.of(bucket);
        for action in actions {
            match action {
                Action::Expire { key, etag, rule } => match objects.delete(bucket, &key, &Precondition::ETagIs(etag), &audit(bucket, &key, &rule)).await {
                    Ok(deleted) => {
                        if deleted.marker.is_none() {
                            self.control.forget_deleted(objects, bucket, &key, deleted.released.as_ref()).await;
                        }
                        tracing::info!(bucket, key, rule, "lifecycle expired an object");
                        report.expired += 1;
                    }
                    Err(Error::PreconditionFailed) => report.changed_since += 1,
                    Err(e) => return Err(e),
                },
                Action::Remove { key, version_id, rule } => match objects.delete_version(bucket, &key, &version_id, false, &audit(bucket, &key, &rule)).await {
                    Ok(removed) => {
                        if version_id == crate::meta::NULL_VERSION {
                            self.control.forget_deleted(objects, bucket, &key, removed.as_ref().and_then(|v| v.object.as_ref())).await;
                        }
                        tracing::info!(bucket, key, version_id, rule, "lifecycle removed a version");
                        report.versions_removed += u64::from(removed.is_some());
                    }
                    Err(Error::AccessDenied(_)) => report.kept_locked += 1,
                    Err(e) => return Err(e),
                },
            }
        }
        Ok(())
    }

    /// Aborts the uploads of `bucket` a rule of `lc` expires (outside `append-*` topics).
    async fn abort_uploads(&self, bucket: &str, lc: &Lifecycle, now: i128, report: &mut Report) -> Result<(), Error> {
        for (id, up) in self.store.upload_list(bucket)? {
            let due = lc.upload_expiry(&up.key, up.initiated_ns, self.day_secs).is_some_and(|(at, _)| at <= now);
            if due && !self.append_only(bucket, &up.key) {
                self.backend.expire_upload(&id).await?;
                tracing::info!(bucket, key = %up.key, upload_id = %id, "lifecycle aborted an incomplete multipart upload");
                report.uploads_aborted += 1;
            }
        }
        Ok(())
    }
}

/// The audit entry of a change made by lifecycle rule `rule`.
fn audit(bucket: &str, key: &str, rule: &str) -> AuditEntry {
    let entry = crate::audit::entry_for(&Principal::Gateway, None, GatewayOp::LifecycleExpiration, bucket, key, Audited::Ok, 0);
    AuditEntry { decided_by: format!("lifecycle:{rule}"), ..entry }
}

/// The versions of `bucket`'s keys after `after`, grouped by key (newest first), about
/// [`BATCH`] versions and never a key cut in two.
fn key_versions(store: &dyn Store, bucket: &str, after: Option<&str>) -> Result<Vec<(String, Vec<VersionRecord>)>, Error> {
    let mut groups: Vec<(String, Vec<VersionRecord>)> = Vec::new();
    for (read, item) in store.version_scan(bucket, "", after.map(|k| (k, None))).enumerate() {
        let (key, v) = item?;
        match groups.last_mut() {
            Some((k, versions)) if *k == key => versions.push(v),
            _ if read >= BATCH => break,
            _ => groups.push((key, vec![v])),
        }
    }
    Ok(groups)
}

#[async_trait::async_trait]
impl Job for LifecycleJob {
    async fn run(&self) -> Result<Outcome, JobError> {
        let now = crate::clock::now_ns();
        let resume = self.resume.lock().unwrap_or_else(PoisonError::into_inner).take();
        let mut report = Report::default();
        let mut budget = self.max_actions;
        let mut buckets = self.store.bucket_list()?;
        buckets.sort_by(|a, b| a.name.cmp(&b.name));
        for bucket in buckets {
            let after = match &resume {
                Some((b, _)) if bucket.name < *b => continue,
                Some((b, key)) if bucket.name == *b => Some(key.clone()),
                _ => None,
            };
            let config = self.configs.of(&bucket.name);
            let Some(lc) = &config.lifecycle else { continue };
            if after.is_none() {
                self.abort_uploads(&bucket.name, lc, now, &mut report).await?;
            }
            let (actions, stopped) = if bucket.versioning.is_unversioned() {
                self.object_actions(&bucket.name, lc, after, budget, now).await?
            } else {
                self.versioned_actions(&bucket.name, lc, after, budget, now)?
            };
            budget = budget.saturating_sub(actions.len());
            self.apply(&bucket.name, actions, &mut report).await?;
            if let Some(key) = stopped {
                report.bounded = true;
                *self.resume.lock().unwrap_or_else(PoisonError::into_inner) = Some((bucket.name.clone(), key));
                break;
            }
        }
        let changed = report.expired + report.versions_removed + report.uploads_aborted;
        Ok(Outcome::new(changed, report))
    }
}

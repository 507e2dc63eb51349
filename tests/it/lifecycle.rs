//! Bucket lifecycle (issue 24): configurations as AWS validates them, `x-amz-expiration`,
//! and the `lifecycle` job expiring objects, noncurrent versions, lone delete markers and
//! abandoned uploads, while keeping locked versions and `append-*` topic keys. A lifecycle
//! day lasts one second here (`jobs.lifecycle_day_secs`). Everything goes through the S3
//! and admin APIs, so these tests hold on every backend.

use crate::common::*;
use crate::tenancy::root_conn;
use tollgate::admin::client::call;

use aws_sdk_s3::Client;
use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, BucketVersioningStatus, ExpirationStatus, LifecycleExpiration, LifecycleRule,
    LifecycleRuleAndOperator, LifecycleRuleFilter, NoncurrentVersionExpiration, ObjectLockMode, Tag, Transition, TransitionStorageClass,
    VersioningConfiguration,
};

/// A gateway whose lifecycle days last one second and whose job runs on demand only.
async fn fast_days() -> Gateway {
    Gateway::start_with(|c| {
        c.jobs.lifecycle_day_secs = 1;
        c.jobs.lifecycle_interval_secs = 0;
    })
    .await
}

fn rule(id: &str, filter: LifecycleRuleFilter) -> aws_sdk_s3::types::builders::LifecycleRuleBuilder {
    LifecycleRule::builder().id(id).status(ExpirationStatus::Enabled).filter(filter)
}

fn prefix(p: &str) -> LifecycleRuleFilter {
    LifecycleRuleFilter::builder().prefix(p).build()
}

fn expire_after(days: i32) -> LifecycleExpiration {
    LifecycleExpiration::builder().days(days).build()
}

async fn set_rules(c: &Client, b: &str, rules: Vec<LifecycleRule>) -> Result<(), String> {
    let config = BucketLifecycleConfiguration::builder().set_rules(Some(rules)).build().unwrap();
    c.put_bucket_lifecycle_configuration().bucket(b).lifecycle_configuration(config).send().await.map(|_| ()).map_err(|e| {
        let code = e.as_service_error().map(code).unwrap_or_default();
        format!("{} {code}", status(&e))
    })
}

/// Runs the lifecycle job until `done` holds (each run waits for what is due: with
/// one-second days an object is due within two seconds), at most for 10 s.
async fn run_until<F: std::future::Future<Output = bool>>(gw: &Gateway, mut done: impl FnMut() -> F) -> serde_json::Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let run = call(&root_conn(gw), "POST", "jobs/lifecycle/run", None).await.unwrap();
        if done().await {
            return run;
        }
        assert!(std::time::Instant::now() < deadline, "lifecycle did not get there: last run {run}");
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

async fn exists(c: &Client, b: &str, key: &str) -> bool {
    c.head_object().bucket(b).key(key).send().await.is_ok()
}

/// Configurations round-trip as set; what AWS refuses is refused and nothing is stored.
#[tokio::test]
async fn configurations_round_trip_and_bad_ones_are_refused() {
    let gw = fast_days().await;
    let c = gw.client();
    let b = gw.bucket("lc-config").await;
    let e = c.get_bucket_lifecycle_configuration().bucket(&b).send().await.unwrap_err();
    assert_eq!((status(&e), code(e.as_service_error().unwrap())), (404, "NoSuchLifecycleConfiguration".to_owned()));

    let tagged = LifecycleRuleFilter::builder()
        .and(
            LifecycleRuleAndOperator::builder()
                .prefix("logs/")
                .tags(Tag::builder().key("ttl").value("short").build().unwrap())
                .object_size_greater_than(10)
                .build(),
        )
        .build();
    let rules = vec![
        rule("logs", tagged).expiration(expire_after(7)).build().unwrap(),
        rule("old-versions", prefix("data/"))
            .noncurrent_version_expiration(NoncurrentVersionExpiration::builder().noncurrent_days(30).newer_noncurrent_versions(2).build())
            .abort_incomplete_multipart_upload(AbortIncompleteMultipartUpload::builder().days_after_initiation(3).build())
            .build()
            .unwrap(),
    ];
    set_rules(&c, &b, rules).await.unwrap();
    let got = c.get_bucket_lifecycle_configuration().bucket(&b).send().await.unwrap();
    let got = got.rules();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].id(), Some("logs"));
    let and = got[0].filter().unwrap().and().unwrap();
    assert_eq!((and.prefix(), and.object_size_greater_than(), and.tags().len()), (Some("logs/"), Some(10), 1));
    assert_eq!(got[0].expiration().unwrap().days(), Some(7));
    let nc = got[1].noncurrent_version_expiration().unwrap();
    assert_eq!((nc.noncurrent_days(), nc.newer_noncurrent_versions()), (Some(30), Some(2)));
    assert_eq!(got[1].abort_incomplete_multipart_upload().unwrap().days_after_initiation(), Some(3));

    let no_action = rule("x", prefix("")).build().unwrap();
    assert_eq!(set_rules(&c, &b, vec![no_action]).await.unwrap_err(), "400 InvalidRequest");
    let overlap = vec![
        rule("a", prefix("logs/")).expiration(expire_after(1)).build().unwrap(),
        rule("b", prefix("logs/old/")).expiration(expire_after(2)).build().unwrap(),
    ];
    assert_eq!(set_rules(&c, &b, overlap).await.unwrap_err(), "400 InvalidRequest");
    assert_eq!(set_rules(&c, &b, vec![rule("z", prefix("")).expiration(expire_after(0)).build().unwrap()]).await.unwrap_err(), "400 InvalidArgument");
    let transition = rule("t", prefix("")).transitions(Transition::builder().days(30).storage_class(TransitionStorageClass::Glacier).build()).build().unwrap();
    assert_eq!(set_rules(&c, &b, vec![transition]).await.unwrap_err(), "501 NotImplemented", "transitions are refused, not ignored");
    assert_eq!(c.get_bucket_lifecycle_configuration().bucket(&b).send().await.unwrap().rules().len(), 2, "refused sets changed nothing");

    c.delete_bucket_lifecycle().bucket(&b).send().await.unwrap();
    let e = c.get_bucket_lifecycle_configuration().bucket(&b).send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "NoSuchLifecycleConfiguration");
}

/// In an unversioned bucket: objects a rule selects (by prefix, or tags) expire and say so
/// in `x-amz-expiration`; uploads are aborted; other keys and `append-*` topic keys stay.
#[tokio::test]
async fn rules_expire_objects_and_uploads_and_spare_the_rest() {
    let gw = fast_days().await;
    // A tenant's user: keys under an append topic are `{topic}/{user}/...`.
    let c = crate::tenancy::user_client(&gw, "lc-corp", "alice", "admin").await;
    let b = format!("lc-objects-{}", std::process::id());
    c.create_bucket().bucket(&b).send().await.unwrap();
    let root = root_conn(&gw);
    call(&root, "PUT", &format!("topics/{b}/ledger"), Some(serde_json::json!({"write": "append-auth", "read": "auth"}))).await.unwrap();
    let ttl =
        LifecycleRuleFilter::builder().and(LifecycleRuleAndOperator::builder().tags(Tag::builder().key("ttl").value("short").build().unwrap()).build()).build();
    let rules = vec![
        rule("tmp", prefix("tmp/")).expiration(expire_after(1)).build().unwrap(),
        rule("short", ttl).expiration(expire_after(1)).build().unwrap(),
        rule("uploads", prefix("up/"))
            .abort_incomplete_multipart_upload(AbortIncompleteMultipartUpload::builder().days_after_initiation(1).build())
            .build()
            .unwrap(),
    ];
    set_rules(&c, &b, rules).await.unwrap();

    let put = c.put_object().bucket(&b).key("tmp/a").body(b"scratch".to_vec().into()).send().await.unwrap();
    let announced = put.expiration().unwrap_or_else(|| panic!("no x-amz-expiration on {put:?}"));
    assert!(announced.starts_with("expiry-date=\"") && announced.ends_with("GMT\", rule-id=\"tmp\""), "{announced}");
    assert_eq!(c.head_object().bucket(&b).key("tmp/a").send().await.unwrap().expiration(), Some(announced));
    c.put_object().bucket(&b).key("tagged").tagging("ttl=short").body(b"x".to_vec().into()).send().await.unwrap();
    c.put_object().bucket(&b).key("keep").body(b"kept".to_vec().into()).send().await.unwrap();
    assert_eq!(c.head_object().bucket(&b).key("keep").send().await.unwrap().expiration(), None, "no rule selects it");
    c.put_object().bucket(&b).key("ledger/alice/entry").tagging("ttl=short").body(b"forever".to_vec().into()).send().await.unwrap();
    c.create_multipart_upload().bucket(&b).key("up/big").send().await.unwrap();

    // The upload started after the objects: a day boundary between them makes it due a
    // day (here a second) later, so the runs go on until both are done.
    let no_uploads = || async { c.list_multipart_uploads().bucket(&b).send().await.unwrap().uploads().is_empty() };
    run_until(&gw, || async { !exists(&c, &b, "tmp/a").await && !exists(&c, &b, "tagged").await && no_uploads().await }).await;
    assert!(exists(&c, &b, "keep").await);
    assert!(exists(&c, &b, "ledger/alice/entry").await, "append-only topics are never expired");
    let audit = call(&root, "GET", &format!("audit?bucket={b}"), None).await.unwrap();
    let expired = audit.as_array().unwrap().iter().find(|e| e["operation"] == "LifecycleExpiration" && e["key"] == "tmp/a");
    assert_eq!(expired.map(|e| e["decided_by"].clone()), Some(serde_json::json!("lifecycle:tmp")), "{audit}");
}

/// In a versioned bucket: the noncurrent versions beyond the newest kept go, a delete
/// marker left alone goes, and Object Lock keeps what it locks.
#[tokio::test]
async fn versions_and_markers_expire_and_locked_versions_stay() {
    let gw = fast_days().await;
    let c = gw.client();
    let b = gw.bucket("lc-versions").await;
    let enabled = VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build();
    c.put_bucket_versioning().bucket(&b).versioning_configuration(enabled).send().await.unwrap();
    let rules = vec![
        rule("noncurrent", prefix("k"))
            .noncurrent_version_expiration(NoncurrentVersionExpiration::builder().noncurrent_days(1).newer_noncurrent_versions(1).build())
            .build()
            .unwrap(),
        rule("markers", prefix("gone/")).expiration(LifecycleExpiration::builder().expired_object_delete_marker(true).build()).build().unwrap(),
    ];
    set_rules(&c, &b, rules).await.unwrap();
    let mut ids = Vec::new();
    for body in ["v1", "v2", "v3"] {
        ids.push(c.put_object().bucket(&b).key("k").body(body.as_bytes().to_vec().into()).send().await.unwrap().version_id().unwrap().to_owned());
    }
    let gone = c.put_object().bucket(&b).key("gone/x").body(b"x".to_vec().into()).send().await.unwrap().version_id().unwrap().to_owned();
    c.delete_object().bucket(&b).key("gone/x").send().await.unwrap();
    c.delete_object().bucket(&b).key("gone/x").version_id(&gone).send().await.unwrap();

    let expected = (vec![ids[2].clone(), ids[1].clone()], 0);
    run_until(&gw, || async {
        let out = c.list_object_versions().bucket(&b).send().await.unwrap();
        let left: Vec<String> = out.versions().iter().filter_map(|v| v.version_id().map(str::to_owned)).collect();
        (left, out.delete_markers().len()) == expected
    })
    .await;

    // Object Lock: the current version expires under a delete marker, the locked one stays.
    let lb = format!("{b}-locked");
    c.create_bucket().bucket(&lb).object_lock_enabled_for_bucket(true).send().await.unwrap();
    let rules = vec![
        rule("all", prefix(""))
            .expiration(expire_after(1))
            .noncurrent_version_expiration(NoncurrentVersionExpiration::builder().noncurrent_days(1).build())
            .build()
            .unwrap(),
    ];
    set_rules(&c, &lb, rules).await.unwrap();
    let until = aws_sdk_s3::primitives::DateTime::from_secs(
        i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()).unwrap() + 3600,
    );
    c.put_object()
        .bucket(&lb)
        .key("locked")
        .body(b"kept".to_vec().into())
        .content_md5("TYtghPPRZ7dsrGaiKpG+Ag==")
        .object_lock_mode(ObjectLockMode::Compliance)
        .object_lock_retain_until_date(until)
        .send()
        .await
        .unwrap();
    run_until(&gw, || async { c.list_object_versions().bucket(&lb).send().await.unwrap().delete_markers().len() == 1 }).await;
    // Once noncurrent, the locked version is due too: runs find it and keep it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let run = call(&root_conn(&gw), "POST", "jobs/lifecycle/run", None).await.unwrap();
        if run["detail"]["kept_locked"] == 1 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the locked version was never due: {run}");
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert_eq!(c.list_object_versions().bucket(&lb).send().await.unwrap().versions().len(), 1, "the locked version stays");
}

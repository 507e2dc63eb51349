//! Background jobs through the admin API: each repairs an inconsistency seeded behind
//! the gateway's back, and reports it in `GET /jobs` and the metrics.

use crate::common::*;
use crate::tenancy::root_conn;

use std::time::Duration;

use serde_json::json;
use tollgate::admin::client::call;

/// Every blob file under `dir/blobs`, with its size.
fn blob_files(dir: &std::path::Path) -> Vec<(std::path::PathBuf, u64)> {
    let mut out = Vec::new();
    for d in std::fs::read_dir(dir.join("blobs")).unwrap().flatten() {
        for f in std::fs::read_dir(d.path()).unwrap().flatten() {
            out.push((f.path(), f.metadata().unwrap().len()));
        }
    }
    out
}

/// Removes `key`'s bytes behind the gateway's back: its blob of `len` bytes on local disk,
/// or the object in the upstream.
async fn lose_bytes(gw: &Gateway, bucket: &str, key: &str, len: u64) {
    match gw.behind(bucket) {
        None => {
            let (victim, _) = blob_files(gw.dir.path()).into_iter().find(|(_, l)| *l == len).unwrap();
            std::fs::remove_file(&victim).unwrap();
        }
        Some((upstream, name)) => {
            upstream.delete_object().bucket(name).key(key).send().await.unwrap();
        }
    }
}

/// The first chunk is read before the answer starts: bytes gone behind the gateway's back
/// are an error status with no body, not a `200` whose body is cut short.
#[tokio::test]
async fn a_get_whose_bytes_are_gone_is_refused_before_the_answer() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("gone").await;
    c.put_object().bucket(&b).key("lost").body(data(33_333, 2).into()).send().await.unwrap();
    lose_bytes(&gw, &b, "lost", 33_333).await;
    let url = format!("{}/{b}/lost", gw.endpoint());
    let r = raw(gw.addr, "GET", &format!("/{b}/lost"), &sign("GET", &url, &[]), b"", None).await;
    assert!(r.status >= 400, "{} {}", r.status, r.text());
    assert!(r.text().contains("<Error>") && r.body.len() < 33_333, "an error document, no object bytes: {}", r.text());
    if gw.behind(&b).is_none() {
        assert_eq!(r.status, 500, "{}", r.text());
        assert!(r.text().contains("InternalError"), "{}", r.text());
    }
}

#[tokio::test]
async fn reconcile_removes_orphan_blobs_and_entries_whose_bytes_are_gone() {
    let gw = Gateway::start_with(|c| c.jobs.reconcile_min_age_secs = 0).await;
    let c = gw.client();
    let b = gw.bucket("reconciled").await;
    c.put_object().bucket(&b).key("kept").body(data(1000, 1).into()).send().await.unwrap();
    c.put_object().bucket(&b).key("lost").body(data(33_333, 2).into()).send().await.unwrap();

    // Behind the gateway's back: the bytes of "lost" disappear, and (on local disk) a
    // blob nothing references appears.
    lose_bytes(&gw, &b, "lost", 33_333).await;
    let orphan = gw.behind(&b).is_none().then(|| {
        let orphan = gw.dir.path().join("blobs/ab/ab00000000000000000000000000orphan");
        std::fs::write(&orphan, b"left by a crash").unwrap();
        orphan
    });

    let root = root_conn(&gw);
    let run = call(&root, "POST", "jobs/reconcile/run", None).await.unwrap();
    let expected_blobs = u64::from(orphan.is_some());
    assert_eq!(run["detail"]["orphan_entries"], 1, "{run}");
    assert_eq!(run["detail"]["orphan_blobs"], expected_blobs, "{run}");
    assert_eq!(run["changed"], 1 + expected_blobs);
    if let Some(orphan) = &orphan {
        assert!(!orphan.exists(), "the orphan blob is removed");
    }

    // "lost" is gone from the index (usage too), "kept" is untouched, the repair audited.
    assert_eq!(status(&c.head_object().bucket(&b).key("lost").send().await.unwrap_err()), 404);
    let keys: Vec<String> = c.list_objects_v2().bucket(&b).send().await.unwrap().contents().iter().filter_map(|o| o.key().map(str::to_owned)).collect();
    assert_eq!(keys, ["kept"]);
    assert_eq!(c.get_object().bucket(&b).key("kept").send().await.unwrap().body.collect().await.unwrap().into_bytes().to_vec(), data(1000, 1));
    let buckets = call(&root, "GET", "buckets", None).await.unwrap();
    let ours = buckets.as_array().unwrap().iter().find(|x| x["name"] == b.as_str()).unwrap();
    assert_eq!((ours["objects"].as_u64(), ours["bytes"].as_u64()), (Some(1), Some(1000)), "{ours}");
    let audit = call(&root, "GET", &format!("audit?bucket={b}"), None).await.unwrap();
    assert!(audit.as_array().unwrap().iter().any(|e| e["operation"] == "RepairOrphanEntry" && e["key"] == "lost"), "{audit}");

    // A second run finds nothing; the status and metrics show both runs.
    assert_eq!(call(&root, "POST", "jobs/reconcile/run", None).await.unwrap()["changed"], 0);
    let jobs = call(&root, "GET", "jobs", None).await.unwrap();
    let st = jobs.as_array().unwrap().iter().find(|j| j["name"] == "reconcile").unwrap();
    assert_eq!((st["runs"].as_u64(), st["failures"].as_u64(), st["last_ok"].as_bool()), (Some(2), Some(0), Some(true)), "{st}");
    let metrics = raw(gw.addr, "GET", "/metrics", &[], b"", None).await.text();
    assert!(metrics.contains(&format!("tollgate_job_changes_total{{job=\"reconcile\"}} {}", 1 + expected_blobs)), "{metrics}");
    assert!(metrics.contains(r#"tollgate_job_runs_total{job="reconcile",result="ok"} 2"#));

    // Only root runs jobs; an unknown job is a 404.
    assert!(call(&root, "POST", "jobs/nope/run", None).await.unwrap_err().starts_with("404"));
}

#[tokio::test]
async fn reconcile_spares_what_writes_in_flight_may_have_just_stored() {
    // Default minimum age (an hour): a fresh orphan blob and a fresh entry are left alone.
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("young").await;
    c.put_object().bucket(&b).key("fresh").body(data(2222, 3).into()).send().await.unwrap();
    if let Some((upstream, name)) = gw.behind(&b) {
        upstream.delete_object().bucket(name).key("fresh").send().await.unwrap();
    } else {
        std::fs::write(gw.dir.path().join("blobs/cd/cd0000000000000000000000000000young"), b"in flight").unwrap();
    }
    let run = call(&root_conn(&gw), "POST", "jobs/reconcile/run", None).await.unwrap();
    assert_eq!(run["changed"], 0, "{run}");
}

#[tokio::test]
async fn abandoned_multipart_uploads_expire() {
    let gw = Gateway::start_with(|c| {
        c.jobs.upload_expiry_secs = 1;
        c.topics.upload_expiry_secs = 0;
    })
    .await;
    let c = gw.client();
    let b = gw.bucket("abandoned").await;
    let up = c.create_multipart_upload().bucket(&b).key("big").send().await.unwrap();
    let id = up.upload_id().unwrap();
    c.upload_part().bucket(&b).key("big").upload_id(id).part_number(1).body(b"part".to_vec().into()).send().await.unwrap();
    let root = root_conn(&gw);
    assert_eq!(call(&root, "POST", "jobs/upload_expiry/run", None).await.unwrap()["changed"], 0, "not expired yet");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let run = call(&root, "POST", "jobs/upload_expiry/run", None).await.unwrap();
    assert_eq!(run["detail"], json!({"aborted": 1}));
    assert!(c.list_multipart_uploads().bucket(&b).send().await.unwrap().uploads().is_empty());
    let e = c.list_parts().bucket(&b).key("big").upload_id(id).send().await.unwrap_err();
    assert_eq!(code(&e.into_service_error()), "NoSuchUpload");
}

#[tokio::test]
async fn jobs_run_on_their_interval() {
    let gw = Gateway::start_with(|c| {
        c.jobs.reconcile_interval_secs = 1;
        c.jobs.reconcile_min_age_secs = 0;
    })
    .await;
    let root = root_conn(&gw);
    let mut runs = 0;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let jobs = call(&root, "GET", "jobs", None).await.unwrap();
        let st = jobs.as_array().unwrap().iter().find(|j| j["name"] == "reconcile").unwrap().clone();
        assert_eq!(st["interval_secs"], 1);
        runs = st["runs"].as_u64().unwrap();
        if runs >= 2 {
            assert!(st["next_run_ns"].as_i64().unwrap() > st["last_started_ns"].as_i64().unwrap());
            break;
        }
    }
    assert!(runs >= 2, "the reconcile job ran {runs} times in 5 s");
}

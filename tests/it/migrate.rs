//! `tollgate migrate` between local disk and an upstream (a second, local-disk tollgate):
//! a dry run, a copy that fails its manifest, an interrupted run that resumes, the switch
//! of the holding backend, and the way back for objects written meanwhile.

use crate::common::*;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tollgate::config::{BackendKind, Config};
use tollgate::migrate::{Options, Progress, Report};

/// The migration's configuration: `dir`'s data, `upstream` with buckets under `mig-`.
fn config(dir: &std::path::Path, upstream: &Gateway) -> Config {
    let mut cfg = Config { data_dir: dir.to_owned(), ..Config::default() };
    cfg.upstream.endpoint = upstream.endpoint();
    cfg.upstream.access_key = ACCESS_KEY.into();
    cfg.upstream.secret_key = SECRET_KEY.into();
    cfg.upstream.bucket_prefix = "mig-".into();
    cfg.upstream.retry_base_ms = 10;
    cfg
}

fn opts(from: BackendKind, to: BackendKind) -> Options {
    Options { from, to, bucket: None, dry_run: false, parallel: 4 }
}

async fn migrate(cfg: &Config, o: &Options) -> Report {
    tollgate::migrate::run(cfg, o, &Progress::default()).await.unwrap()
}

/// Configures `upstream` as the gateway's upstream, where the migration put the buckets.
fn with_upstream(upstream: &Gateway) -> impl Fn(&mut Config) + use<> {
    let endpoint = upstream.endpoint();
    move |c: &mut Config| {
        c.upstream.endpoint.clone_from(&endpoint);
        c.upstream.access_key = ACCESS_KEY.into();
        c.upstream.secret_key = SECRET_KEY.into();
        c.upstream.bucket_prefix = "mig-".into();
    }
}

/// A gateway on `dir` forwarding to `upstream` as the migration placed the objects.
async fn serve_upstream(dir: tempfile::TempDir, upstream: &Gateway) -> Gateway {
    let configure = with_upstream(upstream);
    Gateway::start_local_in(dir, move |c| {
        c.backend = BackendKind::Upstream;
        configure(c);
    })
    .await
}

/// `big` (over 5 MiB) uploaded as `big` in two parts: a 5 MiB one and the rest.
async fn upload_big(c: &aws_sdk_s3::Client, bucket: &str, big: &[u8]) -> aws_sdk_s3::operation::complete_multipart_upload::CompleteMultipartUploadOutput {
    let up = c.create_multipart_upload().bucket(bucket).key("big").send().await.unwrap();
    let id = up.upload_id().unwrap();
    let mut parts = Vec::new();
    for (n, chunk) in [&big[..5 << 20], &big[5 << 20..]].into_iter().enumerate() {
        let n = n as i32 + 1;
        let p = c.upload_part().bucket(bucket).key("big").upload_id(id).part_number(n).body(chunk.to_vec().into()).send().await.unwrap();
        parts.push(aws_sdk_s3::types::CompletedPart::builder().part_number(n).e_tag(p.e_tag().unwrap()).build());
    }
    let parts = aws_sdk_s3::types::CompletedMultipartUpload::builder().set_parts(Some(parts)).build();
    c.complete_multipart_upload().bucket(bucket).key("big").upload_id(id).multipart_upload(parts).send().await.unwrap()
}

async fn body(c: &aws_sdk_s3::Client, b: &str, k: &str) -> Vec<u8> {
    c.get_object().bucket(b).key(k).send().await.unwrap().body.collect().await.unwrap().into_bytes().to_vec()
}

#[tokio::test]
async fn an_interrupted_migration_resumes_verifies_and_switches_backends() {
    let upstream = Gateway::start_local_in(tempfile::tempdir().unwrap(), |_| {}).await;
    let gw = Gateway::start_local_in(tempfile::tempdir().unwrap(), |_| {}).await;
    let c = gw.client();
    let (logs, docs) = (gw.bucket("logs").await, gw.bucket("docs").await);
    for i in 0..120 {
        c.put_object().bucket(&logs).key(format!("day/{i:03}")).body(data(16_384 + i, i as u8).into()).send().await.unwrap();
    }
    c.put_object()
        .bucket(&docs)
        .key("report.pdf")
        .content_type("application/pdf")
        .metadata("author", "ada")
        .tagging("class=internal")
        .body(data(70_000, 7).into())
        .send()
        .await
        .unwrap();
    c.put_object().bucket(&docs).key("empty").body(Vec::new().into()).send().await.unwrap();
    let big = data((5 << 20) + 4321, 9);
    let done = upload_big(&c, &docs, &big).await;
    let big_etag = done.e_tag().unwrap().to_owned();
    c.put_object().bucket(&docs).key("rot").body(data(50_001, 3).into()).send().await.unwrap();
    let dir = gw.stop().await;

    // One blob rots on disk: its copy must be refused, not carried over.
    let victim = std::fs::read_dir(dir.path().join("blobs"))
        .unwrap()
        .flatten()
        .flat_map(|d| std::fs::read_dir(d.path()).unwrap().flatten())
        .find(|f| f.metadata().unwrap().len() == 50_001)
        .unwrap()
        .path();
    let mut bytes = std::fs::read(&victim).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&victim, bytes).unwrap();

    let cfg = config(dir.path(), &upstream);
    let to_upstream = opts(BackendKind::Local, BackendKind::Upstream);

    // A dry run counts and writes nothing.
    let dry = migrate(&cfg, &Options { dry_run: true, ..to_upstream.clone() }).await;
    assert_eq!((dry.objects, dry.copied, dry.skipped, dry.failed, dry.switched), (124, 124, 0, 0, false), "{dry:?}");
    let up_client = upstream.client();
    assert!(up_client.list_buckets().send().await.unwrap().buckets().is_empty(), "a dry run creates nothing");

    // Interrupted after a few objects.
    let progress = Arc::new(Progress::default());
    let task = {
        let (cfg, o, progress) = (cfg.clone(), Options { parallel: 1, ..to_upstream.clone() }, Arc::clone(&progress));
        tokio::spawn(async move { tollgate::migrate::run(&cfg, &o, &progress).await })
    };
    while progress.objects_done.load(Ordering::Relaxed) < 10 {
        assert!(!task.is_finished(), "the migration ended before it could be interrupted");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    // The store is released once the task is gone; give sled's threads a moment.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let refused = tollgate::server::App::open(Config { backend: BackendKind::Upstream, ..cfg.clone() });
    assert!(refused.is_err_and(|e| e.to_string().contains("held by the local backend")), "nothing switched yet");

    // Resumed: what was copied is skipped; the rotten object fails and blocks the switch.
    let resumed = migrate(&cfg, &to_upstream).await;
    // Ten were done when it stopped, "rot" (failed) among them.
    assert!(resumed.skipped >= 9, "{resumed:?}");
    assert_eq!(resumed.copied + resumed.skipped + resumed.failed, 124);
    assert_eq!((resumed.failed, resumed.verified, resumed.switched), (1, resumed.copied, false), "{resumed:?}");
    assert_eq!(resumed.failures[0].key, "rot");
    assert!(
        resumed.failures[0].error.contains("did not match")
            || resumed.failures[0].error.contains("BadDigest")
            || resumed.failures[0].error.contains("checksum"),
        "{:?}",
        resumed.failures
    );
    let e = up_client.head_object().bucket("mig-docs").key("rot").send().await.unwrap_err();
    assert_eq!(status(&e), 404, "no copy of bytes that fail their manifest");

    // The operator deletes the damaged object; the next run finishes and switches.
    let gw = Gateway::start_local_in(dir, |_| {}).await;
    gw.client().delete_object().bucket(&docs).key("rot").send().await.unwrap();
    let dir = gw.stop().await;
    let last = migrate(&cfg, &to_upstream).await;
    assert_eq!((last.objects, last.copied, last.skipped, last.failed, last.switched), (123, 0, 123, 0, true), "{last:?}");
    assert!(tollgate::server::App::open(Config { backend: BackendKind::Local, ..cfg.clone() }).is_err(), "the local backend no longer holds the objects");

    // Served from the upstream: same bytes, ETags (multipart included), attributes, proofs.
    let gw = serve_upstream(dir, &upstream).await;
    let c = gw.client();
    assert_eq!(body(&c, &logs, "day/007").await, data(16_384 + 7, 7));
    assert_eq!(body(&c, &docs, "empty").await, b"");
    let head = c.head_object().bucket(&docs).key("big").send().await.unwrap();
    assert_eq!(head.e_tag(), Some(big_etag.as_str()));
    assert_eq!(body(&c, &docs, "big").await, big);
    let head = c.head_object().bucket(&docs).key("report.pdf").send().await.unwrap();
    assert_eq!(head.content_type(), Some("application/pdf"));
    assert_eq!(head.metadata().unwrap().get("author").map(String::as_str), Some("ada"));
    let tags = c.get_object_tagging().bucket(&docs).key("report.pdf").send().await.unwrap();
    assert_eq!(tags.tag_set()[0].key(), "class");
    let url = format!("{}/{docs}/report.pdf", gw.endpoint());
    assert!(raw(gw.addr, "HEAD", &format!("/{docs}/report.pdf"), &sign("HEAD", &url, &[]), b"", None).await.header("x-tollgate-proof-id").is_some());

    // Written while on the upstream, then migrated back to local disk.
    c.put_object().bucket(&logs).key("day/new").body(b"written upstream".to_vec().into()).send().await.unwrap();
    c.put_object().bucket(&logs).key("day/000").body(b"overwritten upstream".to_vec().into()).send().await.unwrap();
    let dir = gw.stop().await;
    let back = migrate(&cfg, &opts(BackendKind::Upstream, BackendKind::Local)).await;
    assert_eq!((back.objects, back.copied, back.skipped, back.failed, back.switched), (124, 2, 122, 0, true), "{back:?}");
    assert_eq!(back.verified, 2);
    let gw = Gateway::start_local_in(dir, |_| {}).await;
    let c = gw.client();
    assert_eq!(body(&c, &logs, "day/new").await, b"written upstream");
    assert_eq!(body(&c, &logs, "day/000").await, b"overwritten upstream");
    assert_eq!(body(&c, &docs, "big").await, big);
}

#[tokio::test]
async fn one_bucket_moves_upstream_while_the_others_stay_on_local_disk() {
    let upstream = Gateway::start_local_in(tempfile::tempdir().unwrap(), |_| {}).await;
    let gw = Gateway::start_local_in(tempfile::tempdir().unwrap(), |_| {}).await;
    let c = gw.client();
    let (stay, moving) = (gw.bucket("stay").await, gw.bucket("moving").await);
    c.put_object().bucket(&stay).key("a").body(data(10_000, 1).into()).send().await.unwrap();
    for k in ["x", "y"] {
        c.put_object().bucket(&moving).key(k).body(data(20_000, k.as_bytes()[0]).into()).send().await.unwrap();
    }
    let pending = c.create_multipart_upload().bucket(&moving).key("half").send().await.unwrap();
    let dir = gw.stop().await;
    let cfg = config(dir.path(), &upstream);
    let one = Options { bucket: Some(moving.clone()), ..opts(BackendKind::Local, BackendKind::Upstream) };

    // An upload in progress would be lost with the move: it blocks the switch.
    let blocked = migrate(&cfg, &one).await;
    assert_eq!((blocked.objects, blocked.copied, blocked.failed, blocked.switched), (2, 2, 1, false), "{blocked:?}");
    assert!(blocked.failures[0].error.contains("in progress"), "{:?}", blocked.failures);
    let gw = Gateway::start_local_in(dir, |_| {}).await;
    gw.client().abort_multipart_upload().bucket(&moving).key("half").upload_id(pending.upload_id().unwrap()).send().await.unwrap();
    let dir = gw.stop().await;
    let moved = migrate(&cfg, &one).await;
    assert_eq!((moved.objects, moved.skipped, moved.failed, moved.switched), (2, 2, 0, true), "{moved:?}");
    let again = tollgate::migrate::run(&cfg, &one, &Progress::default()).await;
    assert!(matches!(&again, Err(e) if e.to_string().contains("held by the upstream backend")), "a moved bucket is not moved twice: {again:?}");

    // The gateway stays on local disk; without an upstream it cannot serve the moved bucket.
    let no_upstream = Config { data_dir: dir.path().to_owned(), ..Config::default() };
    let refused = tollgate::server::App::open(no_upstream);
    assert!(refused.is_err_and(|e| { e.to_string().contains(&format!("upstream backend holds buckets ({moving})")) }));

    let configure = with_upstream(&upstream);
    let gw = Gateway::start_local_in(dir, move |c| {
        configure(c);
        c.jobs.reconcile_min_age_secs = 0;
    })
    .await;
    let c = gw.client();
    let up = upstream.client();
    assert_eq!(body(&c, &stay, "a").await, data(10_000, 1));
    assert_eq!(body(&c, &moving, "x").await, data(20_000, b'x'));
    assert_eq!(status(&up.head_bucket().bucket(format!("mig-{stay}")).send().await.unwrap_err()), 404, "the other bucket stays on local disk");
    c.put_object().bucket(&moving).key("z").body(b"new".to_vec().into()).send().await.unwrap();
    c.put_object().bucket(&stay).key("b").body(b"local".to_vec().into()).send().await.unwrap();
    assert_eq!(
        up.head_object().bucket(format!("mig-{moving}")).key("z").send().await.unwrap().content_length(),
        Some(3),
        "writes to the moved bucket go upstream"
    );
    c.copy_object().bucket(&moving).key("x2").copy_source(format!("{moving}/x")).send().await.unwrap();
    assert_eq!(body(&c, &moving, "x2").await, data(20_000, b'x'));
    let across = c.copy_object().bucket(&moving).key("from-stay").copy_source(format!("{stay}/a")).send().await.unwrap_err();
    assert_eq!((status(&across), code(&across.into_service_error())), (501, "NotImplemented".to_owned()));
    let upload = c.create_multipart_upload().bucket(&moving).key("parts").send().await.unwrap();
    let part_across = c
        .upload_part_copy()
        .bucket(&moving)
        .key("parts")
        .upload_id(upload.upload_id().unwrap())
        .part_number(1)
        .copy_source(format!("{stay}/a"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&part_across), 501);
    c.abort_multipart_upload().bucket(&moving).key("parts").upload_id(upload.upload_id().unwrap()).send().await.unwrap();
    let mut names: Vec<String> = c.list_buckets().send().await.unwrap().buckets().iter().filter_map(|b| b.name().map(str::to_owned)).collect();
    names.sort();
    assert_eq!(names, [moving.clone(), stay.clone()]);

    // Jobs look at each bucket on its own backend: nothing to repair, everything scrubbed.
    let root = crate::tenancy::root_conn(&gw);
    let run = tollgate::admin::client::call(&root, "POST", "jobs/reconcile/run", None).await.unwrap();
    assert_eq!((run["detail"]["orphan_entries"].as_u64(), run["detail"]["orphan_blobs"].as_u64()), (Some(0), Some(0)), "{run}");
    let run = tollgate::admin::client::call(&root, "POST", "jobs/scrub/run", None).await.unwrap();
    assert_eq!((run["detail"]["objects"].as_u64(), run["detail"]["mismatches"].as_array().map(Vec::len)), (Some(6), Some(0)), "{run}");

    // A deleted bucket's name is created anew on the holding backend.
    for k in ["x", "y", "z", "x2"] {
        c.delete_object().bucket(&moving).key(k).send().await.unwrap();
    }
    c.delete_bucket().bucket(&moving).send().await.unwrap();
    c.create_bucket().bucket(&moving).send().await.unwrap();
    c.put_object().bucket(&moving).key("k").body(b"on disk".to_vec().into()).send().await.unwrap();
    assert_eq!(status(&up.head_object().bucket(format!("mig-{moving}")).key("k").send().await.unwrap_err()), 404);
    let dir = gw.stop().await;
    let gw = Gateway::start_local_in(dir, |_| {}).await;
    assert_eq!(body(&gw.client(), &moving, "k").await, b"on disk", "no bucket is held upstream any more: no upstream needed");
}

/// Every entry of a versioned bucket's ListObjectVersions as one line each (versions, then
/// delete markers, each in listed order), to compare a bucket before and after a move.
async fn version_listing(c: &aws_sdk_s3::Client, b: &str) -> Vec<String> {
    let out = c.list_object_versions().bucket(b).send().await.unwrap();
    assert_eq!(out.is_truncated(), Some(false));
    let versions = out
        .versions()
        .iter()
        .map(|v| format!("V {} {} latest={} {} {}", v.key().unwrap(), v.version_id().unwrap(), v.is_latest().unwrap(), v.size().unwrap(), v.e_tag().unwrap()));
    let markers = out.delete_markers().iter().map(|m| format!("M {} {} latest={}", m.key().unwrap(), m.version_id().unwrap(), m.is_latest().unwrap()));
    versions.chain(markers).collect()
}

async fn version_body(c: &aws_sdk_s3::Client, b: &str, k: &str, v: &str) -> Vec<u8> {
    let out = c.get_object().bucket(b).key(k).version_id(v).send().await.unwrap();
    out.body.collect().await.unwrap().into_bytes().to_vec()
}

/// Issue 22: a versioned bucket moves with every version (ids, order, `IsLatest`), its
/// delete markers, retention and legal holds, tags and metadata; a COMPLIANCE-locked
/// version is moved, never dropped, and stays locked. Both ways, with versions written on
/// the upstream (an object from before versioning at its key there) moved back.
#[tokio::test]
async fn versioned_buckets_migrate_with_every_version_marker_and_lock_both_ways() {
    use aws_sdk_s3::primitives::DateTime;
    use aws_sdk_s3::types::{BucketVersioningStatus, ObjectLockLegalHoldStatus, ObjectLockMode, VersioningConfiguration};
    let enabled = || VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build();
    let until = DateTime::from_secs(i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()).unwrap() + 3600);

    let upstream = Gateway::start_local_in(tempfile::tempdir().unwrap(), |_| {}).await;
    let gw = Gateway::start_local_in(tempfile::tempdir().unwrap(), |_| {}).await;
    let c = gw.client();
    // (bucket, key, version id, bytes) of every version written.
    let mut written: Vec<(String, String, String, Vec<u8>)> = Vec::new();
    let hist = gw.bucket("hist").await;
    c.put_object().bucket(&hist).key("k").body(data(3000, 1).into()).send().await.unwrap();
    written.push((hist.clone(), "k".into(), "null".into(), data(3000, 1)));
    c.put_bucket_versioning().bucket(&hist).versioning_configuration(enabled()).send().await.unwrap();
    for seed in [2u8, 3] {
        let v = c.put_object().bucket(&hist).key("k").body(data(4000, seed).into()).send().await.unwrap();
        written.push((hist.clone(), "k".into(), v.version_id().unwrap().into(), data(4000, seed)));
    }
    let doc = c
        .put_object()
        .bucket(&hist)
        .key("doc")
        .content_type("text/plain")
        .metadata("author", "ada")
        .tagging("class=internal")
        .body(b"first draft".to_vec().into())
        .send()
        .await
        .unwrap();
    written.push((hist.clone(), "doc".into(), doc.version_id().unwrap().into(), b"first draft".to_vec()));
    c.delete_object().bucket(&hist).key("doc").send().await.unwrap();
    let big = data((5 << 20) + 77, 9);
    let done = upload_big(&c, &hist, &big).await;
    written.push((hist.clone(), "big".into(), done.version_id().unwrap().into(), big.clone()));
    let vault = "vault".to_owned();
    c.create_bucket().bucket(&vault).object_lock_enabled_for_bucket(true).send().await.unwrap();
    let locked = c
        .put_object()
        .bucket(&vault)
        .key("ledger")
        .object_lock_mode(ObjectLockMode::Compliance)
        .object_lock_retain_until_date(until)
        .body(b"never lost".to_vec().into())
        .send()
        .await
        .unwrap();
    let locked = locked.version_id().unwrap().to_owned();
    written.push((vault.clone(), "ledger".into(), locked.clone(), b"never lost".to_vec()));
    let held = c
        .put_object()
        .bucket(&vault)
        .key("ledger")
        .object_lock_legal_hold_status(ObjectLockLegalHoldStatus::On)
        .body(b"held".to_vec().into())
        .send()
        .await
        .unwrap();
    let held = held.version_id().unwrap().to_owned();
    written.push((vault.clone(), "ledger".into(), held.clone(), b"held".to_vec()));
    let before = [version_listing(&c, &hist).await, version_listing(&c, &vault).await];
    assert_eq!(before[0].len(), 6, "{before:?}");
    let dir = gw.stop().await;

    let cfg = config(dir.path(), &upstream);
    let moved = migrate(&cfg, &opts(BackendKind::Local, BackendKind::Upstream)).await;
    assert_eq!((moved.objects, moved.delete_markers, moved.copied, moved.failed, moved.switched), (7, 1, 7, 0, true), "{moved:?}");
    assert_eq!(moved.verified, 7);

    let gw = serve_upstream(dir, &upstream).await;
    let c = gw.client();
    assert_eq!([version_listing(&c, &hist).await, version_listing(&c, &vault).await], before, "the same versions, ids, order and markers");
    for (b, k, v, bytes) in &written {
        assert_eq!(&version_body(&c, b, k, v).await, bytes, "{b}/{k} {v}");
    }
    let gone = c.get_object().bucket(&hist).key("doc").send().await.unwrap_err();
    assert_eq!(status(&gone), 404, "the delete marker still hides the key");
    let head = c.head_object().bucket(&hist).key("doc").version_id(&written[3].2).send().await.unwrap();
    assert_eq!((head.content_type(), head.metadata().unwrap().get("author").map(String::as_str)), (Some("text/plain"), Some("ada")));
    let tags = c.get_object_tagging().bucket(&hist).key("doc").version_id(&written[3].2).send().await.unwrap();
    assert_eq!((tags.tag_set()[0].key(), tags.tag_set()[0].value()), ("class", "internal"));
    assert_eq!(c.head_object().bucket(&hist).key("big").send().await.unwrap().e_tag(), done.e_tag(), "the multipart ETag is kept");
    let r = c.get_object_retention().bucket(&vault).key("ledger").version_id(&locked).send().await.unwrap();
    assert_eq!(r.retention().unwrap().mode().map(|m| m.as_str()), Some("COMPLIANCE"));
    let refused = c.delete_object().bucket(&vault).key("ledger").version_id(&locked).bypass_governance_retention(true).send().await.unwrap_err();
    assert_eq!(status(&refused), 403, "still locked upstream");
    let hold = c.get_object_legal_hold().bucket(&vault).key("ledger").version_id(&held).send().await.unwrap();
    assert_eq!(hold.legal_hold().unwrap().status(), Some(&ObjectLockLegalHoldStatus::On));
    let refused = c.delete_object().bucket(&vault).key("ledger").version_id(&held).send().await.unwrap_err();
    assert_eq!(status(&refused), 403, "still held upstream");

    // Written on the upstream: a new version, and a bucket whose first object (from before
    // versioning) is at its key there.
    let v4 = c.put_object().bucket(&hist).key("k").body(b"upstream v4".to_vec().into()).send().await.unwrap();
    written.push((hist.clone(), "k".into(), v4.version_id().unwrap().into(), b"upstream v4".to_vec()));
    let fresh = gw.bucket("fresh").await;
    c.put_object().bucket(&fresh).key("n").body(b"at the key".to_vec().into()).send().await.unwrap();
    c.put_bucket_versioning().bucket(&fresh).versioning_configuration(enabled()).send().await.unwrap();
    let n2 = c.put_object().bucket(&fresh).key("n").body(b"in a blob".to_vec().into()).send().await.unwrap();
    written.push((fresh.clone(), "n".into(), "null".into(), b"at the key".to_vec()));
    written.push((fresh.clone(), "n".into(), n2.version_id().unwrap().into(), b"in a blob".to_vec()));
    let before = [version_listing(&c, &hist).await, version_listing(&c, &vault).await, version_listing(&c, &fresh).await];
    let dir = gw.stop().await;

    let back = migrate(&cfg, &opts(BackendKind::Upstream, BackendKind::Local)).await;
    // The local blobs of the versions moved up are still there: only the three written upstream are copied.
    assert_eq!((back.objects, back.copied, back.skipped, back.failed, back.switched), (10, 3, 7, 0, true), "{back:?}");
    let gw = Gateway::start_local_in(dir, |_| {}).await;
    let c = gw.client();
    assert_eq!([version_listing(&c, &hist).await, version_listing(&c, &vault).await, version_listing(&c, &fresh).await], before);
    for (b, k, v, bytes) in &written {
        assert_eq!(&version_body(&c, b, k, v).await, bytes, "{b}/{k} {v}");
    }
    let refused = c.delete_object().bucket(&vault).key("ledger").version_id(&locked).bypass_governance_retention(true).send().await.unwrap_err();
    assert_eq!(status(&refused), 403, "still locked on local disk");
    // No job finds anything to repair: every version's blob is where its record says.
    let root = crate::tenancy::root_conn(&gw);
    let run = tollgate::admin::client::call(&root, "POST", "jobs/reconcile/run", None).await.unwrap();
    assert_eq!((run["detail"]["orphan_entries"].as_u64(), run["detail"]["orphan_blobs"].as_u64()), (Some(0), Some(0)), "{run}");
    let run = tollgate::admin::client::call(&root, "POST", "jobs/scrub/run", None).await.unwrap();
    assert_eq!(run["detail"]["mismatches"].as_array().map(Vec::len), Some(0), "{run}");
}

#[tokio::test]
async fn sealed_objects_move_as_ciphertext_both_ways() {
    use aws_sdk_s3::types::ServerSideEncryption;
    let upstream = Gateway::start_local_in(tempfile::tempdir().unwrap(), |_| {}).await;
    let sse_c_on_loopback = |c: &mut Config| c.encryption.sse_c_plain_http_on_loopback = true;
    let gw = Gateway::start_local_in(tempfile::tempdir().unwrap(), sse_c_on_loopback).await;
    let c = gw.client();
    let b = gw.bucket("sealedmove").await;
    let key = base64_simd::STANDARD.encode_to_string([9u8; 32]);
    let key_md5 = base64_simd::STANDARD.encode_to_string(hex_simd::decode_to_vec(md5_hex(&[9u8; 32]).as_bytes()).unwrap());
    c.put_object().bucket(&b).key("s3").body(data(100_000, 1).into()).server_side_encryption(ServerSideEncryption::Aes256).send().await.unwrap();
    let put = c.put_object().bucket(&b).key("c").body(data(100_000, 2).into()).sse_customer_algorithm("AES256").sse_customer_key(&key);
    put.sse_customer_key_md5(&key_md5).send().await.unwrap();
    c.put_bucket_encryption()
        .bucket(&b)
        .server_side_encryption_configuration(
            aws_sdk_s3::types::ServerSideEncryptionConfiguration::builder()
                .rules(
                    aws_sdk_s3::types::ServerSideEncryptionRule::builder()
                        .apply_server_side_encryption_by_default(
                            aws_sdk_s3::types::ServerSideEncryptionByDefault::builder().sse_algorithm(ServerSideEncryption::Aes256).build().unwrap(),
                        )
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let big = data((5 << 20) + 70_000, 3);
    upload_big(&c, &b, &big).await;
    let dir = gw.stop().await;
    let cfg = config(dir.path(), &upstream);
    let there = migrate(&cfg, &opts(BackendKind::Local, BackendKind::Upstream)).await;
    assert_eq!((there.objects, there.copied, there.failed, there.switched), (3, 3, 0, true), "{there:?}");
    let configure = with_upstream(&upstream);
    let gw = Gateway::start_local_in(dir, move |c| {
        c.backend = BackendKind::Upstream;
        configure(c);
        sse_c_on_loopback(c);
    })
    .await;
    check_sealed(&gw, &b, &key, &key_md5, &big).await;
    let stored = upstream.client().get_object().bucket(format!("mig-{b}")).key("s3").send().await.unwrap();
    let stored = stored.body.collect().await.unwrap().into_bytes();
    let plain = data(64, 1);
    assert!(stored.len() > 100_000 && !stored.windows(64).any(|w| w == plain.as_slice()), "the upstream holds ciphertext");
    let dir = gw.stop().await;
    let back = migrate(&cfg, &opts(BackendKind::Upstream, BackendKind::Local)).await;
    // The local blobs stayed where they were: the way back finds them whole.
    assert_eq!((back.objects, back.skipped, back.failed, back.switched), (3, 3, 0, true), "{back:?}");
    let gw = Gateway::start_local_in(dir, sse_c_on_loopback).await;
    check_sealed(&gw, &b, &key, &key_md5, &big).await;
}

/// The sealed objects of `sealed_objects_move_as_ciphertext_both_ways` read back whole,
/// and scrub finds them intact.
async fn check_sealed(gw: &Gateway, b: &str, key: &str, key_md5: &str, big: &[u8]) {
    let c = gw.client();
    assert_eq!(body(&c, b, "s3").await, data(100_000, 1));
    assert_eq!(body(&c, b, "big").await, big);
    let got = c.get_object().bucket(b).key("c").sse_customer_algorithm("AES256").sse_customer_key(key).sse_customer_key_md5(key_md5).send().await.unwrap();
    assert_eq!(got.body.collect().await.unwrap().into_bytes().to_vec(), data(100_000, 2));
    let root = crate::tenancy::root_conn(gw);
    let run = tollgate::admin::client::call(&root, "POST", "jobs/scrub/run", None).await.unwrap();
    assert_eq!((run["detail"]["objects"].as_u64(), run["detail"]["mismatches"].as_array().map(Vec::len)), (Some(3), Some(0)), "{run}");
}

//! Tests of the sled store, across families.

use super::*;

fn store() -> (tempfile::TempDir, SledStore) {
    let dir = tempfile::tempdir().unwrap();
    let s = SledStore::open(dir.path()).unwrap();
    (dir, s)
}

#[test]
fn a_store_reopens_after_a_close_and_waits_for_a_held_lock_before_failing() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..30 {
        let s = SledStore::open(dir.path()).unwrap_or_else(|e| panic!("open {i}: {e}"));
        s.setting_put("n", &i.to_string()).unwrap();
        s.db.flush().unwrap();
    }
    let held = SledStore::open(dir.path()).unwrap();
    let started = std::time::Instant::now();
    let e = SledStore::open(dir.path()).err().expect("a second open while the first lives fails");
    assert!(e.to_string().contains("lock"), "{e}");
    assert!(started.elapsed() >= LOCK_WAIT, "{:?}", started.elapsed());
    drop(held);
}

fn bucket(name: &str) -> BucketRecord {
    BucketRecord {
        name: name.into(),
        created_ns: 0,
        tenant: "t".into(),
        objects: 0,
        bytes: 0,
        visibility: Visibility::Private,
        quota: Quota::default(),
        origin: String::new(),
        versioning: Versioning::Unversioned,
        object_lock: None,
    }
}

fn object(etag: &str, size: u64) -> ObjectRecord {
    ObjectRecord {
        size,
        etag: etag.into(),
        segments: vec![Segment { blob: format!("blob-{etag}"), size }],
        ..ObjectRecord::new(ObjectAttrs::default(), vec![], String::new(), 0)
    }
}

#[test]
fn a_full_disk_under_sled_is_told_apart() {
    let full = Error::from(sled::Error::Io(std::io::Error::from_raw_os_error(28)));
    assert!(matches!(full, Error::StorageFull(_)), "{full:?}");
    let other = Error::from(sled::Error::Io(std::io::Error::from_raw_os_error(5)));
    assert!(matches!(other, Error::Storage(_)), "{other:?}");
}

#[test]
fn commit_checks_preconditions_and_keeps_usage_exact() {
    let (_d, s) = store();
    assert_eq!(s.bucket_create(&bucket("b"), None).unwrap(), None);
    assert!(s.bucket_create(&bucket("b"), None).unwrap().is_some());
    s.object_commit("b", "k", &object("e1", 10), &Precondition::Absent, Completes::Nothing, None, None).unwrap();
    assert!(matches!(s.object_commit("b", "k", &object("e2", 5), &Precondition::Absent, Completes::Nothing, None, None), Err(Error::PreconditionFailed)));
    assert!(matches!(
        s.object_commit("b", "k", &object("e2", 5), &Precondition::ETagIs("zz".into()), Completes::Nothing, None, None),
        Err(Error::PreconditionFailed)
    ));
    let old = s.object_commit("b", "k", &object("e2", 5), &Precondition::ETagIs("e1".into()), Completes::Nothing, None, None).unwrap();
    assert_eq!(old.released.unwrap().etag, "e1");
    let b = s.bucket_get("b").unwrap().unwrap();
    assert_eq!((b.objects, b.bytes), (1, 5));
    assert!(matches!(s.bucket_delete("b", None), Err(Error::BucketNotEmpty)));
    // A repair holding a stale record must not remove what replaced it.
    let stale = Precondition::Is(Box::new(object("e1", 10)));
    assert!(matches!(s.object_delete("b", "k", &stale, None, None), Err(Error::PreconditionFailed)));
    let current = Precondition::Is(Box::new(s.object_get("b", "k").unwrap().unwrap()));
    assert!(s.object_delete("b", "k", &current, None, None).unwrap().released.is_some());
    assert!(matches!(s.object_delete("b", "k", &current, None, None), Err(Error::PreconditionFailed)));
    s.object_commit("b", "k", &object("e2", 5), &Precondition::None, Completes::Nothing, None, None).unwrap();
    assert!(s.object_delete("b", "k", &Precondition::None, None, None).unwrap().released.is_some());
    assert!(s.object_delete("b", "k", &Precondition::None, None, None).unwrap().released.is_none());
    let b = s.bucket_get("b").unwrap().unwrap();
    assert_eq!((b.objects, b.bytes), (0, 0));
    s.bucket_delete("b", None).unwrap();
    assert!(matches!(s.object_commit("b", "k", &object("e3", 1), &Precondition::None, Completes::Nothing, None, None), Err(Error::NoSuchBucket)));
}

/// Concurrent committers on a multi-threaded runtime all get their flush; commits and
/// flushes interleaving must never wedge (sled's own `flush_async` did, under load).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_commits_and_flushes_complete() {
    let (dir, s) = store();
    let s = std::sync::Arc::new(s);
    s.bucket_create(&bucket("b"), None).unwrap();
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                for j in 0..8 {
                    let key = format!("k{i}-{j}");
                    s.object_commit("b", &key, &object(&key, 1), &Precondition::None, Completes::Nothing, None, None).unwrap();
                    s.flush().await.unwrap();
                }
            })
        })
        .collect();
    let all = futures::future::join_all(tasks);
    for r in tokio::time::timeout(std::time::Duration::from_secs(60), all).await.expect("commits wedged") {
        r.unwrap();
    }
    assert_eq!(s.bucket_get("b").unwrap().unwrap().objects, 64 * 8);
    drop(s);
    let reopened = SledStore::open(dir.path()).unwrap();
    assert_eq!(reopened.object_scan("b", "", None).count(), 64 * 8);
}

fn draft(op: &str, tenant: &str, bucket: &str, key: &str) -> Manifest {
    Manifest {
        v: crate::meta::LOGGED_MANIFEST_VERSION,
        id: format!("{op} {bucket}/{key}"),
        op: op.into(),
        tenant: tenant.into(),
        bucket: bucket.into(),
        key: key.into(),
        size: 1,
        sha256: String::new(),
        etag: String::new(),
        content_type: String::new(),
        principal: String::new(),
        created: String::new(),
        seq: 0,
        prev: String::new(),
        key_id: String::new(),
        sig: String::new(),
        version_id: String::new(),
        encryption: String::new(),
    }
}

/// Writers of two tenants commit at once while a bucket changes owner back and forth:
/// each tenant's chain stays one linear chain and each tenant's usage stays the sum of
/// its buckets' counters.
#[test]
fn concurrent_writers_keep_chains_linear_and_usage_exact() {
    let (_d, s) = store();
    for t in ["t1", "t2"] {
        let tenant = TenantRecord { name: t.into(), created_ns: 0, quota: Quota::default() };
        s.tenant_create(&tenant, None).unwrap();
        s.bucket_create(&BucketRecord { tenant: t.into(), ..bucket(&format!("b-{t}")) }, None).unwrap();
    }
    s.bucket_create(&BucketRecord { tenant: "t1".into(), ..bucket("moving") }, None).unwrap();
    std::thread::scope(|scope| {
        for writer in 0..6 {
            let s = &s;
            scope.spawn(move || {
                let b = ["b-t1", "b-t2", "moving"][writer % 3];
                for i in 0..20 {
                    let key = format!("k{writer}-{i}");
                    let tenant = s.bucket_get(b).unwrap().unwrap().tenant;
                    let proof = draft("put", &tenant, b, &key);
                    s.object_commit(b, &key, &object(&key, 3), &Precondition::None, Completes::Nothing, None, Some(&proof)).unwrap();
                    if i % 2 == 1 {
                        s.object_delete(b, &key, &Precondition::None, None, Some(&draft("delete", &tenant, b, &key))).unwrap();
                    }
                }
            });
        }
        scope.spawn(|| {
            for i in 0..40 {
                s.bucket_update("moving", ["t1", "t2"][i % 2], Visibility::Private, None).unwrap();
            }
        });
    });
    for t in ["t1", "t2"] {
        let chain: Vec<Manifest> = s.proof_chain(t, 1).map(Result::unwrap).collect();
        for (n, pair) in chain.windows(2).enumerate() {
            assert_eq!((pair[0].seq, pair[1].seq), (n as u64 + 1, n as u64 + 2), "{t}");
            assert_eq!(pair[1].prev, pair[0].hash(), "{t} at {}", pair[1].seq);
        }
        let head = s.proof_head(t).unwrap().unwrap();
        assert_eq!((head.seq, head.hash.as_str()), (chain.len() as u64, chain.last().unwrap().hash().as_str()));
        let (objects, bytes) = s.bucket_list().unwrap().iter().filter(|b| b.tenant == t).fold((0, 0), |(o, b), r| (o + r.objects, b + r.bytes));
        assert_eq!(s.tenant_usage(t).unwrap(), (objects, bytes), "{t}");
        // Racing writers (a bucket changing tenant under them included) leave the log
        // exactly the chain: its genesis leaf and one leaf per manifest, in seq order.
        let log = s.proof_log(t).unwrap().unwrap();
        assert_eq!(log.tree_size, chain.len() as u64 + 1, "{t}");
        assert_eq!(log.root_hash, crate::meta::merkle::to_hex(&crate::meta::merkle::naive_root(&expected_leaves(&s, t))), "{t}");
    }
    let total: u64 = ["t1", "t2"].iter().map(|t| s.proof_head(t).unwrap().unwrap().seq).sum();
    assert_eq!(total, 6 * (20 + 10));
    assert_eq!(s.bucket_list().unwrap().iter().map(|b| b.objects).sum::<u64>(), 6 * 10);
}

#[test]
fn scan_is_ordered_and_bounded_by_bucket_and_prefix() {
    let (_d, s) = store();
    s.bucket_create(&bucket("a"), None).unwrap();
    s.bucket_create(&bucket("ab"), None).unwrap();
    for k in ["x/2", "x/1", "y", "x/10", ""] {
        if !k.is_empty() {
            s.object_commit("a", k, &object(k, 1), &Precondition::None, Completes::Nothing, None, None).unwrap();
        }
    }
    s.object_commit("ab", "x/0", &object("o", 1), &Precondition::None, Completes::Nothing, None, None).unwrap();
    let keys: Vec<String> = s.object_scan("a", "x/", None).map(|r| r.unwrap().0).collect();
    assert_eq!(keys, ["x/1", "x/10", "x/2"]);
    let keys: Vec<String> = s.object_scan("a", "", Some("x/10")).map(|r| r.unwrap().0).collect();
    assert_eq!(keys, ["x/10", "x/2", "y"]);
    // The listing's scan: the same keys, with what their records say of size, ETag and time.
    let whole: Vec<(String, ObjectSummary)> = s.object_scan("a", "", None).map(|r| r.map(|(k, rec)| (k, rec.into())).unwrap()).collect();
    let summaries: Vec<(String, ObjectSummary)> = s.object_summary_scan("a", "", None).map(Result::unwrap).collect();
    assert_eq!(summaries, whole);
    assert_eq!(summaries.len(), 4);
    assert!(summaries.iter().all(|(_, o)| !o.etag.is_empty() && o.size == 1), "{summaries:?}");
}

#[test]
fn completing_an_upload_removes_it_with_its_parts() {
    let (_d, s) = store();
    s.bucket_create(&bucket("b"), None).unwrap();
    let up = UploadRecord {
        bucket: "b".into(),
        key: "k".into(),
        initiated_ns: 0,
        attrs: ObjectAttrs::default(),
        tags: vec![],
        checksum_algorithm: None,
        checksum_type: None,
        owner: String::new(),
        location: String::new(),
        retention: None,
        legal_hold: false,
        acl: Vec::new(),
        sealing: None,
        escrow_key: String::new(),
    };
    s.upload_create("u1", &up, None).unwrap();
    let part = PartRecord {
        number: 1,
        blob: "p1".into(),
        size: 3,
        etag: "e".into(),
        last_modified_ns: 0,
        checksums: Checksums::default(),
        stored_size: 0,
        stored_etag: String::new(),
    };
    assert!(s.part_put("u1", &part, None).unwrap().is_none());
    assert_eq!(s.upload_list("b").unwrap().len(), 1);
    assert!(s.referenced_blobs().unwrap().contains("p1"));
    assert!(matches!(s.bucket_delete("b", None), Err(Error::BucketNotEmpty)));
    s.object_commit("b", "k", &object("m", 3), &Precondition::None, Completes::Upload("u1"), None, None).unwrap();
    assert!(s.upload_get("u1").unwrap().is_none());
    assert!(s.part_list("u1").unwrap().is_empty());
    assert!(s.upload_list("b").unwrap().is_empty());
    assert!(matches!(s.object_commit("b", "k", &object("m", 3), &Precondition::None, Completes::Upload("u1"), None, None), Err(Error::NoSuchUpload)));
}

#[test]
fn a_completion_is_remembered_until_its_key_is_written_or_deleted() {
    let (_d, s) = store();
    s.bucket_create(&bucket("b"), None).unwrap();
    let up = UploadRecord {
        bucket: "b".into(),
        key: "k".into(),
        initiated_ns: 0,
        attrs: ObjectAttrs::default(),
        tags: vec![],
        checksum_algorithm: None,
        checksum_type: None,
        owner: String::new(),
        location: String::new(),
        retention: None,
        legal_hold: false,
        acl: Vec::new(),
        sealing: None,
        escrow_key: String::new(),
    };
    let complete = |id: &str| {
        s.upload_create(id, &up, None).unwrap();
        let rec = ObjectRecord { multipart: true, last_modified_ns: 7, proof_id: format!("p-{id}"), ..object(id, 3) };
        s.object_commit("b", "k", &rec, &Precondition::None, Completes::Multipart { upload: id, parts: "digest" }, None, None).unwrap();
        rec
    };
    let rec = complete("u1");
    let done = s.completed_get("b", "k").unwrap().unwrap();
    assert_eq!((done.upload_id.as_str(), done.parts.as_str(), done.etag.as_str(), done.proof_id.as_str()), ("u1", "digest", "u1", "p-u1"));
    assert!(done.made(&rec));
    assert!(!done.made(&ObjectRecord { last_modified_ns: 8, ..rec }));
    // Another completion of the key replaces it; any other write removes it.
    complete("u2");
    assert_eq!(s.completed_get("b", "k").unwrap().unwrap().upload_id, "u2");
    s.object_commit("b", "k", &object("e", 1), &Precondition::None, Completes::Nothing, None, None).unwrap();
    assert!(s.completed_get("b", "k").unwrap().is_none());
    complete("u3");
    assert!(s.object_delete("b", "k", &Precondition::None, None, None).unwrap().released.is_some());
    assert!(s.completed_get("b", "k").unwrap().is_none());
    s.bucket_delete("b", None).unwrap();
}

#[test]
fn a_pending_write_is_listed_until_its_commit_or_removal() {
    let (_d, s) = store();
    s.bucket_create(&bucket("b"), None).unwrap();
    let audit = AuditEntry {
        time_ns: 1,
        request_id: "r".into(),
        principal: "p".into(),
        user: String::new(),
        tenant: "t".into(),
        source: String::new(),
        operation: "PutObject".into(),
        bucket: "b".into(),
        key: "k".into(),
        outcome: "ok".into(),
        bytes: 3,
        count: 1,
        version_id: String::new(),
        decided_by: String::new(),
    };
    let write = PendingWrite { bucket: "b".into(), key: "k".into(), record: object("", 3), audit };
    s.pending_put("w1", &write).unwrap();
    s.pending_put("w2", &PendingWrite { key: "k2".into(), ..write.clone() }).unwrap();
    assert_eq!(s.pending_list().unwrap(), vec![("w1".to_owned(), write.clone()), ("w2".to_owned(), PendingWrite { key: "k2".into(), ..write })]);
    // The commit removes its pending write in the same transaction.
    s.object_commit("b", "k", &object("e", 3), &Precondition::None, Completes::Pending("w1"), None, None).unwrap();
    assert_eq!(s.pending_list().unwrap().len(), 1);
    assert_eq!(s.object_get("b", "k").unwrap().unwrap().etag, "e");
    s.pending_remove("w2").unwrap();
    s.pending_remove("w2").unwrap();
    assert!(s.pending_list().unwrap().is_empty());
    assert!(s.object_get("b", "k2").unwrap().is_none());
}

#[test]
fn versions_keep_every_write_in_commit_order_with_exact_usage() {
    let (_d, s) = store();
    s.bucket_create(&bucket("b"), None).unwrap();
    let commit = |etag: &str, size: u64| s.object_commit("b", "k", &object(etag, size), &Precondition::None, Completes::Nothing, None, None).unwrap();
    let usage = || {
        let b = s.bucket_get("b").unwrap().unwrap();
        (b.objects, b.bytes)
    };
    assert_eq!(commit("e0", 1).version_id, "", "an unversioned bucket gives no version ids");
    s.bucket_set_versioning("b", Versioning::Enabled, false, None).unwrap();
    assert_eq!(s.object_get("b", "k").unwrap().unwrap().version_id, NULL_VERSION, "the object from before became the null version");
    let v1 = commit("e1", 10);
    let v2 = commit("e2", 20);
    assert!(v1.released.is_none() && v2.released.is_none(), "an enabled bucket releases nothing");
    assert!(v1.version_id < v2.version_id, "ids follow commit order");
    assert_eq!(usage(), (3, 31), "every version counts");
    let listed = |s: &SledStore| -> Vec<String> { s.version_scan("b", "", None).map(|v| v.unwrap().1.version_id).collect() };
    assert_eq!(listed(&s), vec![v2.version_id.clone(), v1.version_id.clone(), NULL_VERSION.to_owned()]);
    assert_eq!(s.version_scan("b", "", Some(("k", Some(&v2.version_id)))).count(), 2, "paging resumes after the marker's version");

    let deleted = s.object_delete("b", "k", &Precondition::None, None, None).unwrap();
    let marker = deleted.marker.expect("a delete marker");
    assert!(deleted.released.is_none() && s.object_get("b", "k").unwrap().is_none());
    assert_eq!(usage(), (3, 31), "a delete marker holds no bytes");
    assert!(s.version_get("b", "k", &marker).unwrap().unwrap().object.is_none());
    assert!(matches!(s.bucket_delete("b", None), Err(Error::BucketNotEmpty)));

    // Removing the marker makes the newest version current again; removing a version frees its bytes.
    assert!(s.version_delete("b", "k", &marker, (0, false), None, None).unwrap().is_some());
    assert_eq!(s.object_get("b", "k").unwrap().unwrap().etag, "e2");
    assert_eq!(s.version_delete("b", "k", &v2.version_id, (0, false), None, None).unwrap().unwrap().object.unwrap().etag, "e2");
    assert_eq!(s.object_get("b", "k").unwrap().unwrap().etag, "e1");
    assert_eq!(usage(), (2, 11));
    assert!(s.version_delete("b", "k", &v2.version_id, (0, false), None, None).unwrap().is_none(), "a version goes once");

    // Suspended: writes replace the null version, older versions stay.
    s.bucket_set_versioning("b", Versioning::Suspended, false, None).unwrap();
    let n1 = commit("n1", 5);
    assert_eq!(n1.version_id, NULL_VERSION);
    assert_eq!(n1.released.unwrap().etag, "e0", "the first null version is released");
    let n2 = commit("n2", 7);
    assert_eq!(n2.released.unwrap().etag, "n1");
    assert_eq!(listed(&s), vec![NULL_VERSION.to_owned(), v1.version_id.clone()]);
    assert_eq!(usage(), (2, 17));
    assert!(matches!(s.bucket_set_versioning("b", Versioning::Unversioned, false, None), Err(Error::Invalid(_))));
}

fn audited(operation: &str, key: &str, request_id: &str) -> AuditEntry {
    AuditEntry {
        time_ns: 1,
        request_id: request_id.into(),
        principal: "p".into(),
        user: String::new(),
        tenant: "t".into(),
        source: String::new(),
        operation: operation.into(),
        bucket: "b".into(),
        key: key.into(),
        outcome: "ok".into(),
        bytes: 0,
        count: 1,
        version_id: String::new(),
        decided_by: String::new(),
    }
}

/// Whether `m`, as it is now, is the leaf of its tenant's log that the store says it is:
/// proved by an inclusion proof against the log's root.
fn logged_as_is(s: &SledStore, m: &Manifest) -> bool {
    use crate::meta::merkle;
    let (Some((tenant, leaf)), Some(log)) = (s.proof_leaf(&m.id).unwrap(), s.proof_log(&m.tenant).unwrap()) else { return false };
    let path: Vec<merkle::Hash> = s.proof_inclusion(&tenant, leaf, log.tree_size).unwrap().iter().map(|h| merkle::from_hex(h).unwrap()).collect();
    let root = merkle::from_hex(&log.root_hash).unwrap();
    merkle::verify_inclusion(&merkle::leaf_hash(m.canonical_json().as_bytes()), leaf, log.tree_size, &path, &root).is_ok()
}

/// The store names the version each change made or removed in its manifest (its log leaf)
/// and its audit entry; in an unversioned bucket both keep their old form, without the field.
#[test]
fn version_ids_are_sealed_in_manifests_and_written_in_audit_rows() {
    let (_d, s) = store();
    s.bucket_create(&bucket("b"), None).unwrap();
    let draft_of = |op: &str, req: &str| Manifest { id: req.into(), ..draft(op, "t", "b", "k") };
    let put = |req: &str| {
        let proof = draft_of("put", req);
        let rec = ObjectRecord { proof_id: req.into(), ..object(req, 1) };
        s.object_commit("b", "k", &rec, &Precondition::None, Completes::Nothing, Some(&audited("PutObject", "k", req)), Some(&proof)).unwrap().version_id
    };
    let delete = |req: &str| {
        let proof = draft_of("delete", req);
        s.object_delete("b", "k", &Precondition::None, Some(&audited("DeleteObject", "k", req)), Some(&proof)).unwrap()
    };
    let manifest = |id: &str| s.proof_get(id).unwrap().unwrap_or_else(|| panic!("no manifest {id}"));
    let audit_of = |req: &str| {
        let found: Vec<AuditEntry> = s.audit_scan(0, i128::MAX).map(Result::unwrap).filter(|e| e.request_id == req).collect();
        assert_eq!(found.len(), 1, "{req}: {found:?}");
        found[0].version_id.clone()
    };

    // Unversioned: no version id, and neither the manifest nor the entry has the field.
    assert_eq!(put("plain"), "");
    assert_eq!((manifest("plain").version_id.as_str(), audit_of("plain").as_str()), ("", ""));
    assert!(!String::from_utf8_lossy(&s.proofs.get("plain").unwrap().unwrap()).contains("version_id"));
    assert!(!manifest("plain").canonical_json().contains("version_id"));
    assert!(s.audit.iter().values().all(|v| !String::from_utf8_lossy(&v.unwrap()).contains("version_id")));

    s.bucket_set_versioning("b", Versioning::Enabled, false, None).unwrap();
    let v1 = put("v1");
    let v2 = put("v2");
    assert!(!v1.is_empty() && v1 != v2 && v1 != NULL_VERSION);
    let marker = delete("marker").marker.expect("a delete marker");
    let removed = s.version_delete("b", "k", &v1, (0, false), Some(&audited("DeleteObject", "k", "remove-v1")), Some(&draft_of("delete", "remove-v1")));
    assert_eq!(removed.unwrap().unwrap().version_id, v1);
    s.bucket_set_versioning("b", Versioning::Suspended, false, None).unwrap();
    assert_eq!(put("null"), NULL_VERSION);

    for (req, version) in [("v1", &v1), ("v2", &v2), ("marker", &marker), ("remove-v1", &v1), ("null", &NULL_VERSION.to_owned())] {
        let m = manifest(req);
        assert_eq!(&m.version_id, version, "manifest {req}");
        assert_eq!(&audit_of(req), version, "audit entry {req}");
        // The log's leaf covers the version id.
        assert!(logged_as_is(&s, &m), "{req}");
        assert!(m.canonical_json().contains(&format!(r#""version_id":"{version}""#)));
        let mut other = m.clone();
        other.version_id = if req == "v2" { v1.clone() } else { v2.clone() };
        assert!(!logged_as_is(&s, &other), "{req}: another version id must not be the leaf");
    }
    // The chain, old-form manifest and all, is intact: every link, and every manifest a leaf.
    let chain: Vec<Manifest> = s.proof_chain("t", 1).map(Result::unwrap).collect();
    assert_eq!(chain.len(), 6);
    let mut prev = String::new();
    for (n, m) in chain.iter().enumerate() {
        assert_eq!((m.seq, m.prev.as_str()), (n as u64 + 1, prev.as_str()));
        assert!(logged_as_is(&s, m));
        prev = m.hash();
    }
    // By object, each version's manifests are found by their version id.
    let of_v1: Vec<String> = s.proof_of_object("b", "k").unwrap().into_iter().filter(|m| m.version_id == v1).map(|m| m.op).collect();
    assert_eq!(of_v1, ["put", "delete"]);
}

/// Writers racing in one versioned bucket: each manifest and audit entry names the version
/// its own commit made, whatever the number of attempts.
#[test]
fn concurrent_versioned_writes_each_seal_their_own_version_id() {
    let (_d, s) = store();
    s.bucket_create(&bucket("b"), None).unwrap();
    s.bucket_set_versioning("b", Versioning::Enabled, false, None).unwrap();
    std::thread::scope(|scope| {
        for writer in 0..4 {
            let s = &s;
            scope.spawn(move || {
                for i in 0..10 {
                    let req = format!("w{writer}-{i}");
                    let key = format!("k{}", i % 3);
                    let proof = Manifest { id: req.clone(), ..draft("put", "t", "b", &key) };
                    let rec = ObjectRecord { proof_id: req.clone(), ..object(&req, 1) };
                    let audit = AuditEntry { key: key.clone(), ..audited("PutObject", &key, &req) };
                    s.object_commit("b", &key, &rec, &Precondition::None, Completes::Nothing, Some(&audit), Some(&proof)).unwrap();
                }
            });
        }
    });
    let audit: HashMap<String, String> = s.audit_scan(0, i128::MAX).map(Result::unwrap).map(|e| (e.request_id, e.version_id)).collect();
    let versions: Vec<(String, VersionRecord)> = s.version_scan("b", "", None).map(Result::unwrap).collect();
    assert_eq!((versions.len(), audit.len()), (40, 40));
    for (key, v) in versions {
        let object = v.object.unwrap();
        let m = s.proof_get(&object.proof_id).unwrap().unwrap();
        assert_eq!((m.key.as_str(), m.version_id.as_str()), (key.as_str(), v.version_id.as_str()));
        assert!(logged_as_is(&s, &m), "logged after the version id was set");
        assert_eq!(audit[&object.proof_id], v.version_id);
    }
}

#[test]
fn locked_versions_are_never_removed_for_good_and_lock_updates_reach_both_copies() {
    let (_d, s) = store();
    s.bucket_create(&bucket("b"), None).unwrap();
    assert!(matches!(s.bucket_set_lock("b", LockConfig::default(), None), Err(Error::InvalidState(_))), "lock needs versioning enabled");
    s.bucket_set_versioning("b", Versioning::Enabled, false, None).unwrap();
    let default = DefaultRetention { mode: LockMode::Governance, days: Some(1), years: None };
    s.bucket_set_lock("b", LockConfig { default_retention: Some(default) }, None).unwrap();
    assert!(matches!(s.bucket_set_versioning("b", Versioning::Suspended, false, None), Err(Error::InvalidState(_))));

    let mut rec = object("e", 1);
    rec.last_modified_ns = 1_000;
    let v = s.object_commit("b", "k", &rec, &Precondition::None, Completes::Nothing, None, None).unwrap().version_id;
    let retention = s.object_get("b", "k").unwrap().unwrap().retention.expect("the bucket's default retention");
    assert_eq!(retention, Retention { mode: LockMode::Governance, retain_until_ns: 1_000 + 86_400 * 1_000_000_000 });
    let now = 2_000;
    assert!(matches!(s.version_delete("b", "k", &v, (now, false), None, None), Err(Error::Locked(_))), "GOVERNANCE without bypass");

    // A hold and a COMPLIANCE retention, set through the one update, land in both copies.
    let lock = |o: &mut ObjectRecord| -> Result<()> {
        o.legal_hold = true;
        o.retention = Some(Retention { mode: LockMode::Compliance, retain_until_ns: i128::MAX });
        Ok(())
    };
    assert!(s.version_update("b", "k", None, &lock, None).unwrap());
    assert!(s.object_get("b", "k").unwrap().unwrap().legal_hold);
    assert!(s.version_get("b", "k", &v).unwrap().unwrap().object.unwrap().legal_hold);
    assert!(matches!(s.version_delete("b", "k", &v, (now, true), None, None), Err(Error::Locked(_))), "a hold yields to no bypass");
    let release = |o: &mut ObjectRecord| -> Result<()> {
        o.legal_hold = false;
        Ok(())
    };
    assert!(s.version_update("b", "k", Some(&v), &release, None).unwrap());
    assert!(matches!(s.version_delete("b", "k", &v, (now, true), None, None), Err(Error::Locked(_))), "COMPLIANCE yields to no bypass");
    // An update's refusal aborts it: nothing changes.
    let refused = |o: &mut ObjectRecord| -> Result<()> {
        o.retention = None;
        Err(Error::Locked("no".into()))
    };
    assert!(s.version_update("b", "k", Some(&v), &refused, None).is_err());
    assert!(s.object_get("b", "k").unwrap().unwrap().retention.is_some());
    assert!(s.version_get("b", "k", &v).unwrap().is_some(), "still there");

    // Once expired, it goes.
    let expire = |o: &mut ObjectRecord| -> Result<()> {
        o.retention = Some(Retention { mode: LockMode::Compliance, retain_until_ns: now });
        Ok(())
    };
    assert!(s.version_update("b", "k", Some(&v), &expire, None).unwrap());
    assert!(s.version_delete("b", "k", &v, (now, false), None, None).unwrap().is_some());
    assert!(s.object_get("b", "k").unwrap().is_none());
}

#[test]
fn bucket_configuration_lives_and_dies_with_its_bucket() {
    let (_dir, s) = store();
    assert!(matches!(s.bucket_config_set("nope", BucketConfigKind::Policy, Some("{}"), None), Err(Error::NoSuchBucket)));
    s.bucket_create(&bucket("b"), None).unwrap();
    s.bucket_create(&bucket("b2"), None).unwrap();
    s.bucket_config_set("b", BucketConfigKind::Policy, Some("{\"p\":1}"), None).unwrap();
    s.bucket_config_set("b", BucketConfigKind::Cors, Some("cors"), None).unwrap();
    s.bucket_config_set("b2", BucketConfigKind::Tagging, Some("tags"), None).unwrap();
    assert_eq!(s.bucket_config_get("b", BucketConfigKind::Policy).unwrap().as_deref(), Some("{\"p\":1}"));
    assert_eq!(s.bucket_config_get("b", BucketConfigKind::Tagging).unwrap(), None);
    let mut all = s.bucket_config_list().unwrap();
    all.sort_by_key(|(b, k, _)| (b.clone(), k.name()));
    assert_eq!(
        all,
        vec![
            ("b".to_owned(), BucketConfigKind::Cors, "cors".to_owned()),
            ("b".to_owned(), BucketConfigKind::Policy, "{\"p\":1}".to_owned()),
            ("b2".to_owned(), BucketConfigKind::Tagging, "tags".to_owned())
        ]
    );
    s.bucket_config_set("b", BucketConfigKind::Cors, None, None).unwrap();
    assert_eq!(s.bucket_config_get("b", BucketConfigKind::Cors).unwrap(), None);
    s.bucket_delete("b", None).unwrap();
    // A bucket created again under the name starts with no configuration.
    s.bucket_create(&bucket("b"), None).unwrap();
    assert_eq!(s.bucket_config_get("b", BucketConfigKind::Policy).unwrap(), None);
    assert_eq!(s.bucket_config_list().unwrap().len(), 1);
}

/// What the metadata mirror exports comes back whole into an empty store, in any order:
/// each key's versions in their order with the newest current (a delete marker hides the
/// key), the null version found by its id, the usage counted, and later commits newer.
#[test]
fn exported_versions_import_into_an_empty_store() {
    let (_d, s) = store();
    s.bucket_create(&bucket("b"), None).unwrap();
    let commit = |s: &SledStore, key: &str, etag: &str, size: u64| {
        s.object_commit("b", key, &object(etag, size), &Precondition::None, Completes::Nothing, None, None).unwrap()
    };
    commit(&s, "k", "e0", 1);
    s.bucket_set_versioning("b", Versioning::Enabled, false, None).unwrap();
    commit(&s, "k", "e1", 10);
    commit(&s, "gone", "e2", 20);
    s.object_delete("b", "gone", &Precondition::None, None, None).unwrap();
    let exported: Vec<(String, u64, VersionRecord)> = s.version_entries("b").collect::<Result<_>>().unwrap();
    assert_eq!(exported.len(), 4);
    let listed = |s: &SledStore| -> Vec<(String, String)> { s.version_scan("b", "", None).map(|v| v.unwrap()).map(|(k, v)| (k, v.version_id)).collect() };

    let (_d2, fresh) = store();
    fresh.bucket_create(&BucketRecord { versioning: Versioning::Enabled, ..bucket("b") }, None).unwrap();
    for (key, n, version) in exported.iter().rev() {
        fresh.version_import("b", key, *n, version).unwrap();
    }
    assert_eq!(listed(&fresh), listed(&s));
    assert_eq!(fresh.object_get("b", "k").unwrap().unwrap().etag, "e1", "the newest version is current");
    assert!(fresh.object_get("b", "gone").unwrap().is_none(), "the delete marker hides the key");
    assert_eq!(fresh.version_get("b", "k", NULL_VERSION).unwrap().unwrap().object.unwrap().etag, "e0");
    let b = fresh.bucket_get("b").unwrap().unwrap();
    assert_eq!((b.objects, b.bytes), (3, 31), "every version counts, the marker holds nothing");
    let next = commit(&fresh, "k", "e3", 5);
    let newest_of_k = listed(&fresh).into_iter().find(|(k, _)| k == "k").unwrap();
    assert_eq!(newest_of_k, ("k".to_owned(), next.version_id), "a later commit is the newest version");
}

/// The leaf hashes of a tenant's log, from its manifests and the genesis leaf, computed
/// here from the definitions (not from the store's frontier).
fn expected_leaves(s: &SledStore, tenant: &str) -> Vec<crate::meta::merkle::Hash> {
    use crate::meta::merkle::leaf_hash;
    let log = s.proof_log(tenant).unwrap().unwrap();
    let mut leaves = vec![leaf_hash(genesis_leaf(tenant, &log.genesis).as_bytes())];
    leaves.extend(s.proof_chain(tenant, log.genesis.seq + 1).map(|m| leaf_hash(m.unwrap().canonical_json().as_bytes())));
    leaves
}

fn head_signer(signed: std::sync::Arc<std::sync::atomic::AtomicU64>) -> HeadSigner {
    Box::new(move |h: &mut TreeHead| {
        signed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        h.sig = format!("head {} {}", h.tenant, h.tree_size);
    })
}

/// Writers of two tenants at once: every manifest is a leaf of its tenant's log (leaf =
/// seq, after the genesis leaf 0), the stored root is the RFC root of those leaves, every
/// inclusion and consistency proof the store builds verifies, and a flush signs one head
/// per tenant that changed, not one per write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_manifest_is_a_leaf_and_each_flush_signs_one_head_per_changed_tenant() {
    use crate::meta::merkle::{self, from_hex};
    let (_d, s) = store();
    let s = std::sync::Arc::new(s);
    let signed = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    assert!(s.proof_set_head_signer(head_signer(signed.clone())).unwrap().is_empty(), "nothing to sign yet");
    for t in ["t1", "t2"] {
        s.bucket_create(&BucketRecord { tenant: t.into(), ..bucket(&format!("b-{t}")) }, None).unwrap();
    }
    let tasks: Vec<_> = (0..8)
        .map(|w| {
            let s = s.clone();
            tokio::task::spawn_blocking(move || {
                let (t, b) = [("t1", "b-t1"), ("t2", "b-t2")][w % 2];
                for i in 0..10 {
                    let key = format!("k{w}-{i}");
                    let proof = draft("put", t, b, &key);
                    s.object_commit(b, &key, &object(&key, 3), &Precondition::None, Completes::Nothing, None, Some(&proof)).unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(signed.load(std::sync::atomic::Ordering::SeqCst), 0, "no head signed per write");
    s.flush().await.unwrap();
    assert_eq!(signed.load(std::sync::atomic::Ordering::SeqCst), 2, "one head per tenant for the group");
    s.flush().await.unwrap();
    assert_eq!(signed.load(std::sync::atomic::Ordering::SeqCst), 2, "nothing changed: nothing signed");
    for t in ["t1", "t2"] {
        let log = s.proof_log(t).unwrap().unwrap();
        assert_eq!(log.genesis, ChainHead::default(), "a new tenant's log starts at an empty chain");
        assert_eq!(log.tree_size, 41);
        let leaves = expected_leaves(&s, t);
        assert_eq!(log.root_hash, merkle::to_hex(&merkle::naive_root(&leaves)));
        let head = s.proof_tree_head(t, None).unwrap().unwrap();
        assert_eq!((head.tree_size, head.root_hash.as_str(), head.sig.as_str()), (41, log.root_hash.as_str(), format!("head {t} 41").as_str()));
        for m in s.proof_chain(t, 1) {
            let m = m.unwrap();
            let (tenant, leaf) = s.proof_leaf(&m.id).unwrap().unwrap();
            assert_eq!((tenant.as_str(), leaf), (t, m.seq));
            for size in [leaf + 1, 41] {
                let path: Vec<merkle::Hash> = s.proof_inclusion(t, leaf, size).unwrap().iter().map(|h| from_hex(h).unwrap()).collect();
                let root = merkle::naive_root(&leaves[..size as usize]);
                merkle::verify_inclusion(&leaves[leaf as usize], leaf, size, &path, &root).unwrap();
            }
        }
        for first in [1, 2, 7, 40, 41] {
            let path: Vec<merkle::Hash> = s.proof_consistency(t, first, 41).unwrap().iter().map(|h| from_hex(h).unwrap()).collect();
            let old = merkle::naive_root(&leaves[..first as usize]);
            merkle::verify_consistency(first, 41, &old, &from_hex(&head.root_hash).unwrap(), &path).unwrap();
        }
        assert!(matches!(s.proof_inclusion(t, 41, 41), Err(Error::NotFound)));
        assert!(matches!(s.proof_consistency(t, 1, 42), Err(Error::NotFound)));
    }
}

/// A tenant with a chain from before the log: its log's leaf 0 commits to that chain's
/// head, and its first manifest after is leaf 1. A commit that fails appends nothing, and
/// a log a crash left ahead of its last signed head is signed when the signer is set.
#[tokio::test]
async fn the_log_extends_an_old_chain_and_only_committed_manifests_become_leaves() {
    use crate::meta::merkle;
    let dir = tempfile::tempdir().unwrap();
    let old_head = ChainHead { seq: 7, hash: "ab".repeat(32) };
    {
        let s = SledStore::open(dir.path()).unwrap();
        s.bucket_create(&bucket("b"), None).unwrap();
        // As a gateway from before the log left it: a chain of 7 and no log.
        s.proof_heads.insert("t", encode(&old_head)).unwrap();
        let proof = draft("put", "t", "b", "k");
        s.object_commit("b", "k", &object("e", 3), &Precondition::None, Completes::Nothing, None, Some(&proof)).unwrap();
        let m = s.proof_of_object("b", "k").unwrap().remove(0);
        assert_eq!((m.seq, m.prev.as_str()), (8, old_head.hash.as_str()));
        let log = s.proof_log("t").unwrap().unwrap();
        assert_eq!((log.tree_size, &log.genesis), (2, &old_head));
        assert_eq!(s.proof_leaf(&m.id).unwrap(), Some(("t".to_owned(), 1)));
        let leaves = [merkle::leaf_hash(genesis_leaf("t", &old_head).as_bytes()), merkle::leaf_hash(m.canonical_json().as_bytes())];
        assert_eq!(log.root_hash, merkle::to_hex(&merkle::node_hash(&leaves[0], &leaves[1])));
        assert!(genesis_leaf("t", &old_head).contains(r#""chain_seq":7"#));

        // Refused by its precondition: no manifest, no leaf.
        let proof = draft("put", "t", "b", "k");
        let refused = s.object_commit("b", "k", &object("e2", 3), &Precondition::Absent, Completes::Nothing, None, Some(&proof));
        assert!(matches!(refused, Err(Error::PreconditionFailed)));
        assert_eq!(s.proof_log("t").unwrap().unwrap().tree_size, 2);
        assert_eq!(s.proof_head("t").unwrap().unwrap().seq, 8);
        // Never flushed with a signer: no head was signed before the "crash".
        s.db.flush().unwrap();
    }
    let s = SledStore::open(dir.path()).unwrap();
    assert!(s.proof_tree_head("t", None).unwrap().is_none());
    let signed = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let heads = s.proof_set_head_signer(head_signer(signed)).unwrap();
    assert_eq!(heads.len(), 1);
    assert_eq!((heads[0].tenant.as_str(), heads[0].tree_size), ("t", 2));
    assert_eq!(s.proof_tree_head("t", Some(2)).unwrap().unwrap(), heads[0]);
}

#[test]
fn usage_samples_come_back_in_time_order_and_old_ones_are_forgotten() {
    let (_dir, s) = store();
    s.bucket_create(&bucket("b"), None).unwrap();
    s.usage_sample(1_000, 0).unwrap();
    s.object_commit("b", "k", &object("e", 7), &Precondition::None, Completes::Nothing, None, None).unwrap();
    s.usage_sample(2_000, 0).unwrap();
    let history = s.usage_history(0).unwrap();
    assert_eq!(history.iter().map(|h| h.at_ns).collect::<Vec<_>>(), vec![1_000, 2_000]);
    assert_eq!(history[0].tenants["t"], [0, 0]);
    assert_eq!(history[1].tenants["t"], [1, 7]);
    assert_eq!(history[1].buckets["b"], BucketUsage { tenant: "t".into(), objects: 1, bytes: 7 });
    assert_eq!(s.usage_history(1_500).unwrap().len(), 1, "since a time");
    assert_eq!(s.usage_sample(3_000, 2_000).unwrap(), 1, "the sample before 2,000 is forgotten");
    assert_eq!(s.usage_history(0).unwrap().iter().map(|h| h.at_ns).collect::<Vec<_>>(), vec![2_000, 3_000]);
}

/// A rebuild's import: the manifests `logged` names join the log, the first one's
/// predecessor as its genesis (a log that began after an older chain comes back the same);
/// the others are kept, without a leaf.
#[test]
fn an_import_logs_what_it_is_told_from_the_genesis_it_implies() {
    let (_d, s) = store();
    let mut chain: Vec<Manifest> = Vec::new();
    for seq in 1..=6 {
        let prev = chain.last().map(Manifest::hash).unwrap_or_default();
        chain.push(Manifest { seq, prev, ..draft("put", "t", "b", &format!("k{seq}")) });
    }
    // Seqs 3..=5 join the log: 6 is not vouched for.
    s.proof_import(&chain, &|tenant, seq| tenant == "t" && (3..=5).contains(&seq)).unwrap();
    let log = s.proof_log("t").unwrap().unwrap();
    assert_eq!(log.genesis, ChainHead { seq: 2, hash: chain[1].hash() });
    assert_eq!(log.tree_size, 4, "the genesis leaf and seqs 3, 4, 5");
    let leaves: Vec<_> = std::iter::once(crate::meta::merkle::leaf_hash(genesis_leaf("t", &log.genesis).as_bytes()))
        .chain(chain[2..5].iter().map(|m| crate::meta::merkle::leaf_hash(m.canonical_json().as_bytes())))
        .collect();
    assert_eq!(log.root_hash, crate::meta::merkle::to_hex(&crate::meta::merkle::naive_root(&leaves)));
    assert_eq!(s.proof_leaf(&chain[2].id).unwrap(), Some(("t".to_owned(), 1)));
    for unlogged in [&chain[0], &chain[5]] {
        assert_eq!(s.proof_leaf(&unlogged.id).unwrap(), None);
        assert_eq!(s.proof_get(&unlogged.id).unwrap().as_ref(), Some(unlogged), "kept all the same");
    }
    assert_eq!(s.proof_head("t").unwrap().unwrap().seq, 6);
}

//! Proof manifests through the whole stack.

use crate::common::*;
use crate::tenancy::{conn, root_conn, user};

use aws_sdk_s3::types::{BucketVersioningStatus, CompletedMultipartUpload, CompletedPart, VersioningConfiguration};
use serde_json::Value;
use tollgate::admin::client::{call, request};
use tollgate::proof::cli::{ChainCommand, ProofCommand, run as proof_cli, verify_bundle, verify_offline};

async fn proofs_of(gw: &Gateway, bucket: &str, key: &str) -> Vec<Value> {
    request(&root_conn(gw), "GET", &format!("/_tollgate/proofs/object/{bucket}/{key}"), Vec::new()).await.unwrap().as_array().unwrap().clone()
}

#[tokio::test]
async fn every_write_path_records_a_signed_manifest() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("proved").await;
    let body = data(70_000, 4);

    let put = c.put_object().bucket(&b).key("p").body(body.clone().into()).content_type("text/x").send().await.unwrap();
    let head = c.head_object().bucket(&b).key("p").send().await.unwrap();
    let id = put_proof_id(&gw, &b, "p").await;
    let m = &proofs_of(&gw, &b, "p").await[0];
    assert_eq!(m["sha256"], sha_hex(&body));
    assert_eq!(m["op"], "put");
    assert_eq!(m["size"], 70_000);
    assert_eq!(m["content_type"], "text/x");
    assert_eq!(m["etag"], put.e_tag().unwrap().trim_matches('"'));
    assert_eq!(m["id"], id);
    assert!(head.e_tag().is_some());

    // The response headers of PUT, HEAD and GET name the proof.
    let url = format!("{}/{b}/p", gw.endpoint());
    let r = raw(gw.addr, "HEAD", &format!("/{b}/p"), &sign("HEAD", &url, &[]), b"", None).await;
    assert_eq!(r.header("x-tollgate-proof-id"), Some(id.as_str()));
    assert_eq!(r.header("x-tollgate-sha256"), Some(sha_hex(&body).as_str()));
    let r = raw(gw.addr, "GET", &format!("/{b}/p"), &sign("GET", &url, &[]), b"", None).await;
    assert_eq!(r.header("x-tollgate-proof-id"), Some(id.as_str()));

    c.copy_object().bucket(&b).key("copy").copy_source(format!("{b}/p")).send().await.unwrap();
    let m = &proofs_of(&gw, &b, "copy").await[0];
    assert_eq!(m["sha256"], sha_hex(&body));

    let up = c.create_multipart_upload().bucket(&b).key("mp").send().await.unwrap();
    let uid = up.upload_id().unwrap();
    let p1 = data(5 << 20, 1);
    let p2 = data(1000, 2);
    let e1 = c.upload_part().bucket(&b).key("mp").upload_id(uid).part_number(1).body(p1.clone().into()).send().await.unwrap();
    let e2 = c.upload_part().bucket(&b).key("mp").upload_id(uid).part_number(2).body(p2.clone().into()).send().await.unwrap();
    let parts = CompletedMultipartUpload::builder()
        .parts(CompletedPart::builder().part_number(1).e_tag(e1.e_tag().unwrap()).build())
        .parts(CompletedPart::builder().part_number(2).e_tag(e2.e_tag().unwrap()).build())
        .build();
    c.complete_multipart_upload().bucket(&b).key("mp").upload_id(uid).multipart_upload(parts).send().await.unwrap();
    let m = &proofs_of(&gw, &b, "mp").await[0];
    assert_eq!(m["sha256"], sha_hex(&[p1, p2].concat()), "parts hashed in order");

    // Overwrite and delete are recorded too; history stays complete.
    c.put_object().bucket(&b).key("p").body(b"v2".to_vec().into()).send().await.unwrap();
    c.delete_object().bucket(&b).key("p").send().await.unwrap();
    let history = proofs_of(&gw, &b, "p").await;
    let ops: Vec<&str> = history.iter().filter_map(|m| m["op"].as_str()).collect();
    assert_eq!(ops, ["put", "put", "delete"]);

    // Look-ups by id and by digest.
    let by_id = request(&root_conn(&gw), "GET", &format!("/_tollgate/proofs/id/{id}"), Vec::new()).await.unwrap();
    assert_eq!(by_id["id"], id);
    let by_sha = request(&root_conn(&gw), "GET", &format!("/_tollgate/proofs/sha256/{}", sha_hex(&body)), Vec::new()).await.unwrap();
    assert_eq!(by_sha.as_array().unwrap().len(), 2, "the original and its copy");

    // The whole chain verifies, as the CLI walks it.
    proof_cli(&root_conn(&gw), ProofCommand::Chain(ChainCommand::Verify { tenant: "root".into(), instances: vec![] })).await.unwrap();
    let chain = request(&root_conn(&gw), "GET", "/_tollgate/proofs/chain/root", Vec::new()).await.unwrap();
    assert_eq!(chain["head"]["seq"], 5, "put, copy, complete, overwrite, delete");
}

async fn put_proof_id(gw: &Gateway, b: &str, k: &str) -> String {
    let url = format!("{}/{b}/{k}", gw.endpoint());
    let r = raw(gw.addr, "HEAD", &format!("/{b}/{k}"), &sign("HEAD", &url, &[]), b"", None).await;
    r.header("x-tollgate-proof-id").unwrap().to_owned()
}

#[tokio::test]
async fn a_third_party_verifies_offline_with_only_the_public_key() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("offline").await;
    let body = data(12_345, 9);
    c.put_object().bucket(&b).key("doc").body(body.clone().into()).send().await.unwrap();
    let manifest = proofs_of(&gw, &b, "doc").await[0].clone();
    let anon = tollgate::admin::client::Connection { access_key: None, secret_key: None, ..root_conn(&gw) };
    let keys = request(&anon, "GET", "/_tollgate/proofs/pubkey", Vec::new()).await.unwrap();
    let pubkey = keys["keys"][keys["current"].as_str().unwrap()].as_str().unwrap().to_owned();

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("doc");
    std::fs::write(&file, &body).unwrap();
    let json = serde_json::to_vec(&manifest).unwrap();
    drop(gw); // offline: the gateway is gone
    let m = verify_offline(&file, &json, &pubkey).unwrap();
    assert_eq!((m.bucket.as_str(), m.key.as_str(), m.size), ("offline", "doc", 12_345));
    // One signature per commit: the manifest has none of its own, its log proof is needed.
    assert_eq!((manifest["v"].as_u64(), manifest["sig"].as_str()), (Some(2), Some("")), "{manifest}");
    let mut bare = manifest.clone();
    bare.as_object_mut().unwrap().remove("log");
    assert!(verify_offline(&file, &serde_json::to_vec(&bare).unwrap(), &pubkey).unwrap_err().contains("no log proof"));

    let mut tampered = body.clone();
    tampered[100] ^= 1;
    std::fs::write(&file, &tampered).unwrap();
    assert!(verify_offline(&file, &json, &pubkey).unwrap_err().contains("SHA-256"));
    std::fs::write(&file, &body).unwrap();
    let mut forged: Value = manifest.clone();
    forged["size"] = 1.into();
    assert!(verify_offline(&file, &serde_json::to_vec(&forged).unwrap(), &pubkey).is_err());
}

#[tokio::test]
async fn scrub_and_verify_find_a_tampered_blob() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("scrubbed").await;
    let body = data(50_000, 5);
    c.put_object().bucket(&b).key("good").body(data(1000, 1).into()).send().await.unwrap();
    c.put_object().bucket(&b).key("rot").body(body.clone().into()).send().await.unwrap();
    let root = root_conn(&gw);
    let clean = call(&root, "POST", "scrub", None).await.unwrap();
    assert_eq!(clean["objects"], 2);
    assert!(clean["mismatches"].as_array().unwrap().is_empty());

    // Flip one byte of the stored blob behind the gateway's back.
    let mut blobs = Vec::new();
    for d in std::fs::read_dir(gw.storage_dir().join("blobs")).unwrap().flatten() {
        for f in std::fs::read_dir(d.path()).unwrap().flatten() {
            blobs.push(f.path());
        }
    }
    let victim = blobs.iter().find(|p| std::fs::metadata(p).unwrap().len() == 50_000).unwrap();
    let mut bytes = std::fs::read(victim).unwrap();
    bytes[777] ^= 0x40;
    std::fs::write(victim, &bytes).unwrap();

    let report = call(&root, "POST", "scrub", None).await.unwrap();
    let mism = report["mismatches"].as_array().unwrap();
    assert_eq!(mism.len(), 1);
    assert_eq!(mism[0]["key"], "rot");
    assert_eq!(mism[0]["expected"], sha_hex(&body));
    assert_eq!(call(&root, "GET", "scrub", None).await.unwrap(), report, "the last report is kept");
    let metrics = raw(gw.addr, "GET", "/metrics", &[], b"", None).await.text();
    assert!(metrics.lines().any(|l| l == "tollgate_scrub_mismatches 1"), "mismatch not in metrics");
    assert!(metrics.contains(r#"tollgate_job_runs_total{job="scrub",result="ok"} 2"#), "a scrub that finds damage ran fine");

    // verify of the bytes now served matches no manifest; the original bytes still do.
    // The SDK itself notices: the stored CRC32 no longer matches the bytes served.
    let e = c.get_object().bucket(&b).key("rot").send().await.unwrap().body.collect().await.unwrap_err();
    assert!(format!("{e:?}").contains("ChecksumMismatch"), "{e:?}");
    let url = format!("{}/{b}/rot", gw.endpoint());
    let served = raw(gw.addr, "GET", &format!("/{b}/rot"), &sign("GET", &url, &[]), b"", None).await.body;
    assert_eq!(served, bytes);
    let v = request(&root, "POST", "/_tollgate/proofs/verify", served).await.unwrap();
    assert!(v["matches"].as_array().unwrap().is_empty());
    let v = request(&root, "POST", "/_tollgate/proofs/verify", body).await.unwrap();
    assert_eq!(v["matches"][0]["signature_valid"], true);
    assert_eq!(v["matches"][0]["proved_by"], "log", "its signed tree head was checked");
    assert_eq!(v["matches"][0]["chain_intact"], true);
}

#[tokio::test]
async fn concurrent_writes_keep_one_linear_chain_and_proofs_follow_read_access() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("chain").await;
    let mut tasks = Vec::new();
    for i in 0..24u8 {
        let c = c.clone();
        let b = b.clone();
        tasks.push(tokio::spawn(async move { c.put_object().bucket(&b).key(format!("k{i}")).body(vec![i; 100].into()).send().await.unwrap() }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    proof_cli(&root_conn(&gw), ProofCommand::Chain(ChainCommand::Verify { tenant: "root".into(), instances: vec![] })).await.unwrap();
    let chain = request(&root_conn(&gw), "GET", "/_tollgate/proofs/chain/root", Vec::new()).await.unwrap();
    assert_eq!(chain["head"]["seq"], 24);
    let seqs: Vec<u64> = chain["manifests"].as_array().unwrap().iter().map(|m| m["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=24).collect::<Vec<_>>());

    // Another tenant cannot read these proofs, nor walk this chain.
    let (ak, sk) = user(&gw, "other", "eve", "admin").await;
    let eve = conn(&gw, &ak, &sk);
    let id = chain["manifests"][0]["id"].as_str().unwrap();
    assert!(request(&eve, "GET", &format!("/_tollgate/proofs/id/{id}"), Vec::new()).await.unwrap_err().contains("404"));
    assert!(request(&eve, "GET", &format!("/_tollgate/proofs/object/{b}/k1"), Vec::new()).await.unwrap_err().contains("404"));
    assert!(request(&eve, "GET", "/_tollgate/proofs/chain/root", Vec::new()).await.unwrap_err().contains("403"));
    let anon = tollgate::admin::client::Connection { access_key: None, secret_key: None, ..root_conn(&gw) };
    assert!(request(&anon, "GET", &format!("/_tollgate/proofs/id/{id}"), Vec::new()).await.unwrap_err().contains("404"));
}

/// Retention: manifests of deleted objects are pruned, the chain still verifies end to
/// end across the pruned runs (signed checkpoints), and live objects keep their proofs.
#[tokio::test]
async fn pruned_manifests_leave_a_verifiable_chain() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("retained").await;
    let put = |k: &'static str, v: &'static [u8]| {
        let c = c.clone();
        let b = b.clone();
        async move { c.put_object().bucket(&b).key(k).body(v.to_vec().into()).send().await.unwrap() }
    };
    put("a", b"a1").await;
    put("b", b"b1").await;
    put("a", b"a2").await;
    c.delete_object().bucket(&b).key("a").send().await.unwrap();
    put("c", b"c1").await;
    c.delete_object().bucket(&b).key("b").send().await.unwrap();
    put("d", b"d1").await;
    let root = root_conn(&gw);
    let chain = |from: u64| {
        let root = &root;
        async move { request(root, "GET", &format!("/_tollgate/proofs/chain/root?from={from}"), Vec::new()).await }
    };
    let before = chain(1).await.unwrap();
    let head_seq = before["head"]["seq"].as_u64().unwrap();

    // Hostile retention values are refused or harmless, never a panic.
    assert!(call(&root, "POST", "prune-proofs?older_than_secs=-1", None).await.unwrap_err().starts_with("400"));
    let v = call(&root, "POST", &format!("prune-proofs?older_than_secs={}", u64::MAX), None).await.unwrap();
    assert_eq!(v["removed"], 0);
    // Nothing is old enough under a day's retention.
    let v = call(&root, "POST", "prune-proofs?older_than_secs=86400", None).await.unwrap();
    assert_eq!(v["removed"], 0);
    let v = call(&root, "POST", "prune-proofs?older_than_secs=0", None).await.unwrap();
    assert_eq!(v["removed"], 5, "a: 2 puts and a delete, b: a put and a delete");
    for gone in ["a", "b"] {
        let e = request(&root, "GET", &format!("/_tollgate/proofs/object/{b}/{gone}"), Vec::new()).await.unwrap_err();
        assert!(e.starts_with("404"), "{gone}: {e}");
    }
    assert_eq!(proofs_of(&gw, &b, "c").await.len(), 1);
    let after = chain(1).await.unwrap();
    assert_eq!(after["head"]["seq"].as_u64().unwrap(), head_seq, "the head is unchanged");
    assert!(!after["checkpoints"].as_array().unwrap().is_empty());
    proof_cli(&root, ProofCommand::Chain(ChainCommand::Verify { tenant: "root".into(), instances: vec![] })).await.unwrap();
    // A live object's manifest still verifies with its chain links, pruned neighbours and all.
    let v = request(&root, "POST", &format!("/_tollgate/proofs/verify?sha256={}", sha_hex(b"c1")), Vec::new()).await.unwrap();
    assert_eq!(v["matches"][0]["signature_valid"], true);
    assert_eq!(v["matches"][0]["chain_intact"], true, "{v}");

    // Pruning again, next to the earlier runs, merges them into fewer checkpoints.
    c.delete_object().bucket(&b).key("c").send().await.unwrap();
    put("e", b"e1").await;
    let v = call(&root, "POST", "prune-proofs?older_than_secs=0", None).await.unwrap();
    assert_eq!(v["removed"], 2);
    let merged = chain(1).await.unwrap();
    let cps = merged["checkpoints"].as_array().unwrap();
    let covered: u64 = cps.iter().map(|c| c["last_seq"].as_u64().unwrap() - c["first_seq"].as_u64().unwrap() + 1).sum();
    assert_eq!(covered, 7);
    assert!(cps.len() < 3, "adjacent runs merge: {cps:?}");
    proof_cli(&root, ProofCommand::Chain(ChainCommand::Verify { tenant: "root".into(), instances: vec![] })).await.unwrap();
    // Writes after pruning extend the same chain.
    put("f", b"f1").await;
    proof_cli(&root, ProofCommand::Chain(ChainCommand::Verify { tenant: "root".into(), instances: vec![] })).await.unwrap();

    // Only root prunes.
    let (ak, sk) = user(&gw, "acme", "boss", "admin").await;
    assert!(call(&conn(&gw, &ak, &sk), "POST", "prune-proofs?older_than_secs=0", None).await.is_err());
}

/// Each version's manifest names it (under the signature), `proof get --version-id` finds a
/// version's manifests, and the audit log names the versions too.
#[tokio::test]
async fn manifests_and_audit_entries_of_a_versioned_bucket_name_their_versions() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("versioned-proofs").await;
    let conf = VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build();
    c.put_bucket_versioning().bucket(&b).versioning_configuration(conf).send().await.unwrap();
    let root = root_conn(&gw);
    let put = |body: &'static [u8]| {
        let c = c.clone();
        let b = b.clone();
        async move { c.put_object().bucket(&b).key("doc").body(body.to_vec().into()).send().await.unwrap().version_id().unwrap().to_owned() }
    };
    let v1 = put(b"first").await;
    let v2 = put(b"second").await;
    let deleted = c.delete_object().bucket(&b).key("doc").send().await.unwrap();
    assert_eq!(deleted.delete_marker(), Some(true));
    let marker = deleted.version_id().unwrap().to_owned();

    let history = proofs_of(&gw, &b, "doc").await;
    let named: Vec<(&str, &str)> = history.iter().map(|m| (m["op"].as_str().unwrap(), m["version_id"].as_str().unwrap())).collect();
    assert_eq!(named, [("put", v1.as_str()), ("put", v2.as_str()), ("delete", marker.as_str())]);
    assert!(v1 != v2 && v2 != marker && v1 != marker, "three distinct version ids");

    // By version id: the API, then the CLI (which prints it; an unknown version is a 404).
    let of_version = |v: String| {
        let root = &root;
        let b = &b;
        async move { request(root, "GET", &format!("/_tollgate/proofs/object/{b}/doc?version_id={v}"), Vec::new()).await }
    };
    for (v, op, sha) in [(&v1, "put", sha_hex(b"first")), (&v2, "put", sha_hex(b"second")), (&marker, "delete", String::new())] {
        let found = of_version(v.clone()).await.unwrap();
        let found = found.as_array().unwrap();
        assert_eq!(found.len(), 1, "{v}: {found:?}");
        assert_eq!((found[0]["version_id"].as_str(), found[0]["op"].as_str(), found[0]["sha256"].as_str()), (Some(v.as_str()), Some(op), Some(sha.as_str())));
    }
    assert!(of_version("0000000000000001ffffffffffffffff".into()).await.unwrap_err().starts_with("404"));
    let get =
        |version_id: &str| ProofCommand::Get { bucket: Some(b.clone()), key: Some("doc".into()), version_id: Some(version_id.into()), id: None, sha256: None };
    proof_cli(&root, get(&v2)).await.unwrap();
    assert!(proof_cli(&root, get("null")).await.unwrap_err().starts_with("404"));

    // Removing a version for good is proved under that version's id.
    c.delete_object().bucket(&b).key("doc").version_id(&v1).send().await.unwrap();
    let of_v1 = of_version(v1.clone()).await.unwrap();
    let ops: Vec<&str> = of_v1.as_array().unwrap().iter().map(|m| m["op"].as_str().unwrap()).collect();
    assert_eq!(ops, ["put", "delete"]);

    // Each verifies: offline against the bytes of its own version only, and in the chain.
    let keys = request(&root, "GET", "/_tollgate/proofs/pubkey", Vec::new()).await.unwrap();
    let pubkey = keys["keys"][keys["current"].as_str().unwrap()].as_str().unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("doc");
    std::fs::write(&file, b"second").unwrap();
    let m2 = serde_json::to_vec(&of_version(v2.clone()).await.unwrap()[0]).unwrap();
    assert_eq!(verify_offline(&file, &m2, &pubkey).unwrap().version_id, v2);
    let mut forged: Value = serde_json::from_slice(&m2).unwrap();
    forged["version_id"] = v1.clone().into();
    assert!(verify_offline(&file, &serde_json::to_vec(&forged).unwrap(), &pubkey).is_err(), "the version id is signed");
    let v = request(&root, "POST", &format!("/_tollgate/proofs/verify?sha256={}", sha_hex(b"second")), Vec::new()).await.unwrap();
    assert_eq!((v["matches"][0]["signature_valid"].as_bool(), v["matches"][0]["chain_intact"].as_bool()), (Some(true), Some(true)), "{v}");
    proof_cli(&root, ProofCommand::Chain(ChainCommand::Verify { tenant: "root".into(), instances: vec![] })).await.unwrap();

    // The audit log names the versions.
    let audit = call(&root, "GET", &format!("audit?bucket={b}"), None).await.unwrap();
    let entries: Vec<(&str, &str)> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["key"] == "doc")
        .map(|e| (e["operation"].as_str().unwrap(), e["version_id"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(entries, [("PutObject", v1.as_str()), ("PutObject", v2.as_str()), ("DeleteObject", marker.as_str()), ("DeleteObject", v1.as_str())]);
}

/// The proof log through the stack: a PUT's answer names its leaf and the size of a signed
/// tree head; `proof get` serves the manifest with its inclusion proof and that head, which
/// verifies offline (file, manifest, inclusion, head); two heads are consistent; `proof
/// monitor` accepts a log that grew and fails on a forged head (a fork signed with the
/// gateway's own key) and on a rollback, keeping the head it trusted.
#[tokio::test]
async fn the_proof_log_proves_inclusion_and_consistency_and_the_monitor_finds_forks() {
    use tollgate::proof::manifest::TreeHead;
    use tollgate::proof::merkle;
    let gw = Gateway::start().await;
    let c = gw.client();
    let root = root_conn(&gw);
    let b = gw.bucket("logged").await;
    let body = data(4_321, 7);

    // The PUT's own answer, as a client sees it.
    let url = format!("{}/{b}/a", gw.endpoint());
    let put = raw(gw.addr, "PUT", &format!("/{b}/a"), &sign_with("PUT", &url, &[], &sha_hex(&body)), &body, None).await;
    let leaf: u64 = put.header("x-tollgate-proof-leaf").expect("leaf header").parse().unwrap();
    assert!(put.header("x-tollgate-proof-id").is_some());
    // On local disk the PUT waited for its group commit, which signed a head including it.
    // Through an upstream the commit is not synced before the answer (see Index::prepare):
    // no head is signed for it yet, and the header is left out rather than name one that
    // does not include the leaf.
    match put.header("x-tollgate-tree-size") {
        Some(size) => assert!(size.parse::<u64>().unwrap() > leaf, "the signed head includes the leaf ({leaf} of {size})"),
        None => assert!(crate::common::upstream_mode().is_some(), "a local PUT is answered after its head is signed"),
    }

    let bundle = proofs_of(&gw, &b, "a").await[0].clone();
    // Serving the proof signed a head if none covered the leaf yet: reads now name it.
    let head = raw(gw.addr, "HEAD", &format!("/{b}/a"), &sign("HEAD", &url, &[]), b"", None).await;
    assert_eq!(head.header("x-tollgate-proof-leaf"), Some(leaf.to_string().as_str()));
    let size: u64 = head.header("x-tollgate-tree-size").expect("tree size header").parse().unwrap();
    assert!(size > leaf, "the signed head includes the leaf ({leaf} of {size})");
    assert_eq!(bundle["log"]["leaf_index"], leaf);
    assert_eq!(bundle["log"]["tree_head"]["tenant"], "root");
    let keys = request(&root, "GET", "/_tollgate/proofs/pubkey", Vec::new()).await.unwrap();
    let pubkey = keys["keys"][keys["current"].as_str().unwrap()].as_str().unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let (file, saved) = (dir.path().join("a"), dir.path().join("a.proof.json"));
    std::fs::write(&file, &body).unwrap();
    std::fs::write(&saved, serde_json::to_vec(&bundle).unwrap()).unwrap();

    // Offline: file -> manifest -> inclusion -> signed head.
    let v = verify_bundle(&file, &serde_json::to_vec(&bundle).unwrap(), &pubkey).unwrap();
    let (at, signed) = v.log.expect("the manifest is in the log");
    assert_eq!((at, signed.tenant.as_str()), (leaf, "root"));
    proof_cli(&root, ProofCommand::Verify { file: file.clone(), manifest: Some(saved.clone()), pubkey: Some(pubkey.clone()) }).await.unwrap();
    let mut bad_path = bundle.clone();
    let first = bad_path["log"]["inclusion_path"][0].as_str().unwrap().to_owned();
    bad_path["log"]["inclusion_path"][0] = format!("{}{}", if first.starts_with('0') { "1" } else { "0" }, &first[1..]).into();
    assert!(verify_bundle(&file, &serde_json::to_vec(&bad_path).unwrap(), &pubkey).unwrap_err().contains("not leaf"));
    let mut bad_leaf = bundle.clone();
    bad_leaf["log"]["leaf_index"] = (leaf + 1).into();
    assert!(verify_bundle(&file, &serde_json::to_vec(&bad_leaf).unwrap(), &pubkey).is_err());
    let mut bad_head = bundle.clone();
    bad_head["log"]["tree_head"]["tree_size"] = (size + 1).into();
    assert!(verify_bundle(&file, &serde_json::to_vec(&bad_head).unwrap(), &pubkey).unwrap_err().contains("signature"));

    // The monitor's first run trusts and keeps the head; after more writes the log grew
    // consistently.
    let state = dir.path().join("monitor.json");
    let monitor = || ProofCommand::Monitor { state: state.clone(), tenant: vec!["root".into()], pubkey: None };
    proof_cli(&root, monitor()).await.unwrap();
    let kept = |state: &std::path::Path| -> TreeHead {
        let v: Value = serde_json::from_slice(&std::fs::read(state).unwrap()).unwrap();
        serde_json::from_value(v["heads"]["root"].clone()).unwrap()
    };
    let old = kept(&state);
    for k in ["b", "c", "d"] {
        c.put_object().bucket(&b).key(k).body(b"more".to_vec().into()).send().await.unwrap();
    }
    proof_cli(&root, monitor()).await.unwrap();
    let new = kept(&state);
    assert!(new.tree_size >= old.tree_size + 3, "{} then {}", old.tree_size, new.tree_size);
    let proof =
        request(&root, "GET", &format!("/_tollgate/proofs/log/root/consistency?first={}&second={}", old.tree_size, new.tree_size), Vec::new()).await.unwrap();
    let path: Vec<merkle::Hash> = proof["path"].as_array().unwrap().iter().map(|h| merkle::from_hex(h.as_str().unwrap()).unwrap()).collect();
    let root_of = |h: &TreeHead| merkle::from_hex(&h.root_hash).unwrap();
    merkle::verify_consistency(old.tree_size, new.tree_size, &root_of(&old), &root_of(&new), &path).unwrap();
    assert!(request(&root, "GET", &format!("/_tollgate/proofs/log/root/consistency?first=1&second={}", new.tree_size + 50), Vec::new()).await.is_err());

    // A head the gateway's own key signed over another history (what a monitor elsewhere
    // kept): the log does not extend it.
    let seed = base64_simd::STANDARD.decode_to_vec(std::fs::read_to_string(gw.dir.path().join("proof-signing.key")).unwrap().trim()).unwrap();
    let key = ed25519_dalek::SigningKey::from_bytes(&seed.try_into().unwrap());
    let forge = |tree_size: u64, root_hash: String| {
        let mut h = TreeHead { tree_size, root_hash, ..old.clone() };
        h.sign(&key);
        h
    };
    let with_kept = |h: &TreeHead| {
        let mut v: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
        v["heads"]["root"] = serde_json::to_value(h).unwrap();
        std::fs::write(&state, serde_json::to_vec(&v).unwrap()).unwrap();
    };
    with_kept(&forge(old.tree_size, merkle::to_hex(&merkle::leaf_hash(b"another history"))));
    let e = proof_cli(&root, monitor()).await.unwrap_err();
    assert!(e.contains("FORK") && e.contains("root"), "{e}");
    let e = proof_cli(&root, monitor()).await.unwrap_err();
    assert!(e.contains("FORK"), "the forged head is kept, so it fails again: {e}");
    // A head of a bigger log than the gateway now shows: rolled back.
    with_kept(&forge(new.tree_size + 10, new.root_hash.clone()));
    let e = proof_cli(&root, monitor()).await.unwrap_err();
    assert!(e.contains("ROLLBACK"), "{e}");
    // A head the monitor kept honestly is still extended.
    with_kept(&new);
    proof_cli(&root, monitor()).await.unwrap();

    // A tenant without a manifest has no log yet: nothing to hold it to.
    let fresh = dir.path().join("fresh.json");
    proof_cli(&root, ProofCommand::Monitor { state: fresh.clone(), tenant: vec!["nolog".into()], pubkey: None }).await.unwrap();
    // A log that vanishes after a head was seen is a rollback.
    let mut v: Value = serde_json::from_slice(&std::fs::read(&fresh).unwrap()).unwrap();
    v["heads"]["nolog"] = serde_json::to_value(TreeHead { tenant: "nolog".into(), ..new.clone() }).unwrap();
    std::fs::write(&fresh, serde_json::to_vec(&v).unwrap()).unwrap();
    let e = proof_cli(&root, ProofCommand::Monitor { state: fresh, tenant: Vec::new(), pubkey: None }).await.unwrap_err();
    assert!(e.contains("ROLLBACK") && e.contains("gone"), "{e}");

    // The seq/prev chain still verifies as before.
    proof_cli(&root, ProofCommand::Chain(ChainCommand::Verify { tenant: "root".into(), instances: vec![] })).await.unwrap();
}

/// The signing key replaced (a rotation): manifests recorded under the old key are proved
/// by the heads signed with the new one, offline and in the chain; the old key stays published.
#[tokio::test]
async fn after_a_key_rotation_old_manifests_are_proved_by_heads_under_the_new_key() {
    let gw = Gateway::start_local_in(tempfile::tempdir().unwrap(), |_| {}).await;
    let b = gw.bucket("rotated").await;
    gw.client().put_object().bucket(&b).key("old").body(b"before".to_vec().into()).send().await.unwrap();
    let dir = gw.stop().await;
    // The gateway makes itself a new key when it finds none.
    std::fs::remove_file(dir.path().join("proof-signing.key")).unwrap();
    let gw = Gateway::start_local_in(dir, |_| {}).await;
    gw.client().put_object().bucket(&b).key("new").body(b"after".to_vec().into()).send().await.unwrap();

    let root = root_conn(&gw);
    let keys = request(&root, "GET", "/_tollgate/proofs/pubkey", Vec::new()).await.unwrap();
    assert_eq!(keys["keys"].as_object().unwrap().len(), 2, "the old key stays published: {keys}");
    let current = keys["current"].as_str().unwrap();
    let m = proofs_of(&gw, &b, "old").await[0].clone();
    assert_ne!(m["key_id"].as_str(), Some(current), "recorded under the old key");
    assert_eq!(m["log"]["tree_head"]["key_id"].as_str(), Some(current), "proved by a head signed with the new one");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("old");
    std::fs::write(&file, b"before").unwrap();
    let verified = verify_bundle(&file, &serde_json::to_vec(&m).unwrap(), keys["keys"][current].as_str().unwrap()).unwrap();
    assert_eq!(verified.log.unwrap().1.key_id, current);
    proof_cli(&root, ProofCommand::Chain(ChainCommand::Verify { tenant: "root".into(), instances: vec![] })).await.unwrap();
}

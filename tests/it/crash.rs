//! `kill -9` during uploads: after a restart no partial or corrupt object is visible, and
//! the start-up clean-up leaves no unreferenced blob behind.

use crate::common::*;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

fn blob_files(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("blobs")).unwrap().flatten().map(|d| std::fs::read_dir(d.path()).unwrap().count()).sum()
}

/// Lets `writers` run against `child` for 1.5 s, kills it with SIGKILL, and returns what
/// each writer returned once its requests failed.
async fn kill_9_after<T>(child: &mut tokio::process::Child, writers: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
    tokio::time::sleep(Duration::from_millis(1500)).await;
    child.start_kill().unwrap(); // SIGKILL
    child.wait().await.unwrap();
    let mut done = Vec::new();
    for w in writers {
        done.push(w.await.unwrap());
    }
    done
}

async fn spawn(dir: &Path, port: u16) -> tokio::process::Child {
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(dir)
        .env("TOLLGATE_ROOT_ACCESS_KEY", ACCESS_KEY)
        .env("TOLLGATE_ROOT_SECRET_KEY", SECRET_KEY)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // The listener is bound once the data directory is open and its orphans are removed.
    for _ in 0..400 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return child;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("gateway did not start");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test]
async fn kill_9_during_uploads_leaves_only_complete_objects() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = spawn(dir.path(), port).await;
    let c = client_for(&format!("http://127.0.0.1:{port}"), ACCESS_KEY, SECRET_KEY);
    c.create_bucket().bucket("crash").send().await.unwrap();

    let mut writers = Vec::new();
    for w in 0..6u8 {
        let c = c.clone();
        writers.push(tokio::spawn(async move {
            for i in 0..10_000u32 {
                let body = data(64 << 10 | usize::from(w) << 8, w ^ i as u8);
                if c.put_object().bucket("crash").key(format!("w{w}/{i}")).body(body.into()).send().await.is_err() {
                    break;
                }
            }
        }));
    }
    kill_9_after(&mut child, writers).await;

    let mut child = spawn(dir.path(), port).await;
    let listed = c.list_objects_v2().bucket("crash").max_keys(1000).send().await.unwrap();
    let mut seen = listed.contents().to_vec();
    let mut token = listed.next_continuation_token().map(str::to_owned);
    while let Some(t) = token {
        let page = c.list_objects_v2().bucket("crash").continuation_token(t).send().await.unwrap();
        seen.extend(page.contents().iter().cloned());
        token = page.next_continuation_token().map(str::to_owned);
    }
    assert!(!seen.is_empty(), "some uploads completed before the kill");
    for o in &seen {
        let got = c.get_object().bucket("crash").key(o.key().unwrap()).send().await.unwrap();
        let etag = got.e_tag().unwrap().to_owned();
        let body = got.body.collect().await.unwrap().into_bytes();
        assert_eq!(etag, format!("\"{}\"", md5_hex(&body)), "{} is complete and intact", o.key().unwrap());
        assert_eq!(body.len() as i64, o.size().unwrap());
    }
    assert_eq!(blob_files(dir.path()), seen.len(), "start-up clean-up removed every orphan blob");
    child.start_kill().unwrap();
    child.wait().await.unwrap();
}

/// `kill -9` while writers overwrite keys of a versioned bucket: after the restart every
/// acknowledged version is listed and reads back whole, and every blob on disk is a listed
/// version's (no half version, no orphan).
#[tokio::test]
async fn kill_9_during_versioned_writes_loses_no_acknowledged_version() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = spawn(dir.path(), port).await;
    let c = client_for(&format!("http://127.0.0.1:{port}"), ACCESS_KEY, SECRET_KEY);
    c.create_bucket().bucket("crash-v").send().await.unwrap();
    let enabled = aws_sdk_s3::types::VersioningConfiguration::builder().status(aws_sdk_s3::types::BucketVersioningStatus::Enabled).build();
    c.put_bucket_versioning().bucket("crash-v").versioning_configuration(enabled).send().await.unwrap();

    let mut writers = Vec::new();
    for w in 0..4u8 {
        let c = c.clone();
        writers.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            for i in 0..10_000u32 {
                let body = data(32 << 10 | usize::from(w) << 8, w ^ i as u8);
                match c.put_object().bucket("crash-v").key(format!("w{w}")).body(body.into()).send().await {
                    Ok(out) => acknowledged.push(out.version_id().unwrap().to_owned()),
                    Err(_) => break,
                }
            }
            acknowledged
        }));
    }
    let acknowledged: Vec<_> = kill_9_after(&mut child, writers).await.into_iter().flatten().collect();
    assert!(!acknowledged.is_empty(), "some writes were acknowledged before the kill");

    let mut child = spawn(dir.path(), port).await;
    let mut listed = Vec::new();
    let (mut key_marker, mut version_marker) = (None, None);
    loop {
        let page = c.list_object_versions().bucket("crash-v").set_key_marker(key_marker).set_version_id_marker(version_marker).send().await.unwrap();
        listed.extend(page.versions().iter().map(|v| (v.key().unwrap().to_owned(), v.version_id().unwrap().to_owned(), v.size().unwrap())));
        if page.is_truncated() != Some(true) {
            break;
        }
        (key_marker, version_marker) = (page.next_key_marker().map(str::to_owned), page.next_version_id_marker().map(str::to_owned));
    }
    for id in &acknowledged {
        assert!(listed.iter().any(|(_, v, _)| v == id), "acknowledged version {id} survived the kill");
    }
    for (key, version, size) in &listed {
        let got = c.get_object().bucket("crash-v").key(key).version_id(version).send().await.unwrap();
        let etag = got.e_tag().unwrap().to_owned();
        let body = got.body.collect().await.unwrap().into_bytes();
        assert_eq!(etag, format!("\"{}\"", md5_hex(&body)), "{key} {version} is complete and intact");
        assert_eq!(body.len() as i64, *size);
    }
    assert_eq!(blob_files(dir.path()), listed.len(), "every blob is a listed version's");
    child.start_kill().unwrap();
    child.wait().await.unwrap();
}

/// One multipart upload of the crash test below: its parts' bytes (the big ones shared
/// between uploads, the small last one its own), and what a whole object of them is.
struct Mpu {
    key: String,
    id: String,
    parts: Vec<std::sync::Arc<Vec<u8>>>,
    etags: Vec<String>,
}

impl Mpu {
    fn bytes(&self) -> Vec<u8> {
        self.parts.iter().flat_map(|p| p.iter().copied()).collect()
    }
    /// S3's multipart ETag: the MD5 of the parts' binary MD5s, then `-` and their count.
    fn etag(&self) -> String {
        let md5s: Vec<u8> = self.etags.iter().flat_map(|e| hex_simd::decode_to_vec(e.trim_matches('"')).unwrap()).collect();
        format!("\"{}-{}\"", md5_hex(&md5s), self.parts.len())
    }
    fn completed(&self) -> aws_sdk_s3::types::CompletedMultipartUpload {
        let parts = self.etags.iter().enumerate().map(|(i, e)| aws_sdk_s3::types::CompletedPart::builder().part_number(i as i32 + 1).e_tag(e).build());
        aws_sdk_s3::types::CompletedMultipartUpload::builder().set_parts(Some(parts.collect())).build()
    }
}

fn sha256_hex(b: &[u8]) -> String {
    hex_simd::encode_to_string(<sha2::Sha256 as sha2::Digest>::digest(b), hex_simd::AsciiCase::Lower)
}

/// Reads `key` whole: its ETag and bytes, or `None` if there is no such key.
async fn read_object(c: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Option<(String, Vec<u8>)> {
    match c.get_object().bucket(bucket).key(key).send().await {
        Ok(got) => {
            let etag = got.e_tag().unwrap().to_owned();
            Some((etag, got.body.collect().await.unwrap().into_bytes().to_vec()))
        }
        Err(e) => {
            assert_eq!(code(e.as_service_error().unwrap()), "NoSuchKey", "GET {key}: {e:?}");
            None
        }
    }
}

/// `kill -9` while CompleteMultipartUpload calls are in flight: every acknowledged
/// completion survives whole with the acknowledged ETag; every other upload is either a
/// whole object or still an upload that completes now; no object is ever partial, and no
/// orphan blob remains.
#[tokio::test]
async fn kill_9_during_complete_multipart_upload_leaves_only_whole_objects() {
    use std::collections::HashMap;
    use std::sync::Arc;

    const UPLOADS: usize = 12;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = spawn(dir.path(), port).await;
    let c = client_for(&format!("http://127.0.0.1:{port}"), ACCESS_KEY, SECRET_KEY);
    // No retries: a completion the SDK retried against the restarted gateway would look
    // acknowledged by the first one.
    let c = aws_sdk_s3::Client::from_conf(c.config().to_builder().retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled()).build());
    c.create_bucket().bucket("mpu").send().await.unwrap();

    // Two shared 5 MiB parts; uploads of 2 parts (5 MiB + tail) and of 3 (10 MiB + tail),
    // so that the short ones are acknowledged while the long ones are still hashing.
    let big = [Arc::new(data(5 << 20, 1)), Arc::new(data(5 << 20, 2))];
    let mut uploads = Vec::new();
    for u in 0..UPLOADS {
        let key = format!("obj/{u:02}");
        let id = c.create_multipart_upload().bucket("mpu").key(&key).send().await.unwrap().upload_id().unwrap().to_owned();
        let mut parts = vec![big[0].clone()];
        if u % 3 == 2 {
            parts.push(big[1].clone());
        }
        parts.push(Arc::new(data(1000 + 37 * u, 100 + u as u8)));
        uploads.push(Mpu { key, id, parts, etags: Vec::new() });
    }
    // Upload the parts, a few at a time.
    let mut sends = Vec::new();
    for (u, m) in uploads.iter().enumerate() {
        for (p, bytes) in m.parts.iter().enumerate() {
            let (c, key, id, bytes) = (c.clone(), m.key.clone(), m.id.clone(), bytes.clone());
            sends.push(async move {
                let out = c.upload_part().bucket("mpu").key(key).upload_id(id).part_number(p as i32 + 1).body(bytes.to_vec().into()).send().await.unwrap();
                (u, p, out.e_tag().unwrap().to_owned())
            });
        }
    }
    let mut etags: HashMap<(usize, usize), String> = HashMap::new();
    let mut sends = sends.into_iter();
    loop {
        let batch: Vec<_> = sends.by_ref().take(4).collect();
        if batch.is_empty() {
            break;
        }
        for (u, p, e) in futures::future::join_all(batch).await {
            etags.insert((u, p), e);
        }
    }
    for (u, m) in uploads.iter_mut().enumerate() {
        m.etags = (0..m.parts.len()).map(|p| etags[&(u, p)].clone()).collect();
        assert_eq!(m.etags.iter().map(|e| e.trim_matches('"').to_owned()).collect::<Vec<_>>(), m.parts.iter().map(|b| md5_hex(b)).collect::<Vec<_>>());
    }

    // Every completion at once; SIGKILL as soon as the first is acknowledged.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for (u, m) in uploads.iter().enumerate() {
        let (c, tx, key, id, done) = (c.clone(), tx.clone(), m.key.clone(), m.id.clone(), m.completed());
        tokio::spawn(async move {
            let r = c.complete_multipart_upload().bucket("mpu").key(key).upload_id(id).multipart_upload(done).send().await;
            let _ = tx.send((u, r.map(|o| o.e_tag().map(str::to_owned)).map_err(|e| format!("{e:?}"))));
        });
    }
    drop(tx);
    let mut acked: HashMap<usize, String> = HashMap::new();
    let mut failed = 0;
    let mut killed = false;
    while let Some((u, r)) = tokio::time::timeout(Duration::from_secs(40), rx.recv()).await.expect("completions answer or fail") {
        match r {
            Ok(etag) => {
                let etag = etag.unwrap_or_else(|| panic!("upload {u} acknowledged without an ETag"));
                acked.insert(u, etag);
                if !killed {
                    child.start_kill().unwrap(); // SIGKILL
                    killed = true;
                }
            }
            Err(e) => {
                assert!(killed, "upload {u} failed before the kill: {e}");
                failed += 1;
            }
        }
    }
    child.wait().await.unwrap();
    eprintln!("{} completions acknowledged, {failed} cut by the kill", acked.len());
    assert!(!acked.is_empty());

    // Restart on the same data directory.
    let mut child = spawn(dir.path(), port).await;
    let mut objects = 0;
    let mut expected_blobs = 0;
    let mut pending = Vec::new();
    let (mut whole_unacked, mut still_uploads, mut gone, mut gone_blobs) = (0, 0, 0, 0);
    for (u, m) in uploads.iter().enumerate() {
        let want = m.bytes();
        let found = read_object(&c, "mpu", &m.key).await;
        if let Some(etag) = acked.get(&u) {
            assert_eq!(etag, &m.etag(), "{}: the acknowledged ETag is the multipart ETag of its parts", m.key);
        }
        match found {
            Some((etag, body)) => {
                assert_eq!(body.len(), want.len(), "{}: no partial object", m.key);
                assert_eq!(sha256_hex(&body), sha256_hex(&want), "{}: its bytes are its parts' in order", m.key);
                assert_eq!(etag, m.etag(), "{}: its ETag is its parts'", m.key);
                if let Some(a) = acked.get(&u) {
                    assert_eq!(&etag, a, "{}: the acknowledged ETag", m.key);
                } else {
                    whole_unacked += 1;
                }
                let err = c.list_parts().bucket("mpu").key(&m.key).upload_id(&m.id).send().await.expect_err("a completed upload is gone");
                assert_eq!(code(err.as_service_error().unwrap()), "NoSuchUpload", "{}", m.key);
                objects += 1;
                expected_blobs += m.parts.len();
            }
            None => {
                assert!(!acked.contains_key(&u), "{}: acknowledged completion lost after the restart", m.key);
                match c.list_parts().bucket("mpu").key(&m.key).upload_id(&m.id).send().await {
                    Ok(listed) => {
                        let listed: Vec<(i32, String, i64)> =
                            listed.parts().iter().map(|p| (p.part_number().unwrap(), p.e_tag().unwrap().to_owned(), p.size().unwrap())).collect();
                        let uploaded: Vec<(i32, String, i64)> =
                            m.etags.iter().zip(&m.parts).enumerate().map(|(i, (e, b))| (i as i32 + 1, e.clone(), b.len() as i64)).collect();
                        assert_eq!(listed, uploaded, "{}: the upload keeps its parts", m.key);
                        expected_blobs += m.parts.len();
                        still_uploads += 1;
                        pending.push(u);
                    }
                    Err(e) => {
                        assert_eq!(code(e.as_service_error().unwrap()), "NoSuchUpload", "{}: {e:?}", m.key);
                        gone += 1;
                        gone_blobs += m.parts.len();
                    }
                }
            }
        }
    }
    eprintln!(
        "after the restart: {} acknowledged and whole, {whole_unacked} whole though unacknowledged, {still_uploads} still uploads, {gone} gone",
        acked.len()
    );
    assert_eq!(blob_files(dir.path()), expected_blobs, "start-up clean-up removed every orphan blob, and only those");
    let listed = c.list_objects_v2().bucket("mpu").send().await.unwrap();
    assert_eq!(listed.contents().len(), objects, "no other object is listed");
    for o in listed.contents() {
        let m = uploads.iter().find(|m| Some(m.key.as_str()) == o.key()).unwrap();
        assert_eq!(o.size(), Some(m.bytes().len() as i64), "{}: listed size", m.key);
    }
    let open = c.list_multipart_uploads().bucket("mpu").send().await.unwrap();
    let mut open_ids: Vec<&str> = open.uploads().iter().map(|u| u.upload_id().unwrap()).collect();
    let mut want_ids: Vec<&str> = pending.iter().map(|&u| uploads[u].id.as_str()).collect();
    open_ids.sort_unstable();
    want_ids.sort_unstable();
    assert_eq!(open_ids, want_ids, "the uploads listed are those not completed");

    // The uploads the kill interrupted complete now, whole.
    for &u in &pending {
        let m = &uploads[u];
        let out = c.complete_multipart_upload().bucket("mpu").key(&m.key).upload_id(&m.id).multipart_upload(m.completed()).send().await.unwrap();
        assert_eq!(out.e_tag(), Some(m.etag().as_str()), "{}: completed after the restart", m.key);
        let (etag, body) = read_object(&c, "mpu", &m.key).await.unwrap();
        assert_eq!(etag, m.etag());
        assert_eq!(sha256_hex(&body), sha256_hex(&m.bytes()), "{}: whole after its completion", m.key);
        objects += 1;
    }
    assert_eq!(objects + gone, UPLOADS);
    let object_blobs: usize = uploads.iter().map(|m| m.parts.len()).sum::<usize>() - gone_blobs;
    assert_eq!(blob_files(dir.path()), object_blobs, "every blob left belongs to an object");
    child.start_kill().unwrap();
    child.wait().await.unwrap();
}

/// `kill -9` while writers put small objects: after the restart every acknowledged object's
/// manifest is a leaf of the tenant's log with an inclusion proof to a signed tree head, and
/// the log is consistent with the head a monitor kept from before the crash.
#[tokio::test]
async fn kill_9_during_writes_leaves_every_acknowledged_object_a_leaf_in_a_consistent_log() {
    use tollgate::proof::cli::{ProofCommand, run as proof_cli};
    use tollgate::proof::manifest::{Manifest, TreeHead, parse_public_key};
    use tollgate::proof::merkle;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = spawn(dir.path(), port).await;
    let endpoint = format!("http://127.0.0.1:{port}");
    let c = client_for(&endpoint, ACCESS_KEY, SECRET_KEY);
    let conn = tollgate::admin::client::Connection {
        endpoint: endpoint.clone(),
        access_key: Some(ACCESS_KEY.into()),
        secret_key: Some(SECRET_KEY.into()),
        region: "us-east-1".into(),
        json: true,
        ca_bundle: None,
    };
    c.create_bucket().bucket("crash-log").send().await.unwrap();
    c.put_object().bucket("crash-log").key("first").body(b"1".to_vec().into()).send().await.unwrap();
    let state = dir.path().join("monitor.json");
    let monitor = || ProofCommand::Monitor { state: state.clone(), tenant: vec!["root".into()], pubkey: None };
    proof_cli(&conn, monitor()).await.unwrap();

    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(vec!["first".to_owned()]));
    let mut writers = Vec::new();
    for w in 0..6u8 {
        let (c, acknowledged) = (c.clone(), acknowledged.clone());
        writers.push(tokio::spawn(async move {
            for i in 0..100_000u32 {
                let key = format!("w{w}/{i}");
                if c.put_object().bucket("crash-log").key(&key).body(data(512, w ^ i as u8).into()).send().await.is_err() {
                    break;
                }
                acknowledged.lock().unwrap().push(key);
            }
        }));
    }
    kill_9_after(&mut child, writers).await;

    let mut child = spawn(dir.path(), port).await;
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() > 10, "writes were acknowledged before the kill: {}", acknowledged.len());
    let keys = tollgate::admin::client::request(&conn, "GET", "/_tollgate/proofs/pubkey", Vec::new()).await.unwrap();
    let pubkey = parse_public_key(keys["keys"][keys["current"].as_str().unwrap()].as_str().unwrap()).unwrap();
    let mut leaves = std::collections::BTreeSet::new();
    for key in &acknowledged {
        let found = tollgate::admin::client::request(&conn, "GET", &format!("/_tollgate/proofs/object/crash-log/{key}"), Vec::new()).await.unwrap();
        let bundle = found.as_array().unwrap().last().unwrap().clone();
        let m = Manifest::parse(&serde_json::to_vec(&bundle).unwrap()).unwrap();
        let log = &bundle["log"];
        assert!(log.is_object(), "{key} has a leaf after the restart");
        let head: TreeHead = serde_json::from_value(log["tree_head"].clone()).unwrap();
        head.verify(&pubkey).unwrap();
        let leaf = log["leaf_index"].as_u64().unwrap();
        let path: Vec<merkle::Hash> = log["inclusion_path"].as_array().unwrap().iter().map(|h| merkle::from_hex(h.as_str().unwrap()).unwrap()).collect();
        let leaf_hash = merkle::leaf_hash(m.canonical_json().as_bytes());
        merkle::verify_inclusion(&leaf_hash, leaf, head.tree_size, &path, &merkle::from_hex(&head.root_hash).unwrap()).unwrap_or_else(|e| panic!("{key}: {e}"));
        assert!(leaves.insert(leaf), "{key}: leaf {leaf} is another object's");
    }
    // The log after the crash extends the head seen before it.
    proof_cli(&conn, monitor()).await.unwrap();
    child.start_kill().unwrap();
    child.wait().await.unwrap();
}

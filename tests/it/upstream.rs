//! The upstream backend against a local-disk tollgate, directly or through a proxy that
//! injects faults: prefix mapping, a rebuild of lost metadata from the upstream mirror,
//! and the upstream failing, stalling or answering 500.

use crate::common::*;
use crate::tenancy::{root_conn, user};

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tollgate::admin::client::{call, request};
use tollgate::config::{BackendKind, Config};

/// Points `cfg` at `upstream` with the test root keys.
fn forward_to(cfg: &mut Config, endpoint: String) {
    cfg.backend = BackendKind::Upstream;
    cfg.upstream.endpoint = endpoint;
    cfg.upstream.access_key = ACCESS_KEY.into();
    cfg.upstream.secret_key = SECRET_KEY.into();
    cfg.upstream.retry_base_ms = 10;
}

/// What the proxy does to the next connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Pass,
    /// Answer `500 InternalError` to this many requests, then pass.
    Fail500(u32),
    /// Pass the request, then cut the response after this many bytes.
    CutResponse(usize),
    /// Cut the request after this many bytes of it.
    CutRequest(usize),
    /// Accept and never answer.
    Stall,
    /// Refuse connections (the upstream is down).
    Down,
}

/// A TCP proxy in front of an upstream, injecting [`Fault`]s. Setting a fault closes the
/// open (pooled) connections, so the gateway's next request meets it.
struct FaultProxy {
    addr: SocketAddr,
    fault: Arc<Mutex<Fault>>,
    generation: tokio::sync::watch::Sender<u64>,
}

impl FaultProxy {
    async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let fault = Arc::new(Mutex::new(Fault::Pass));
        let (generation, watch) = tokio::sync::watch::channel(0u64);
        let f = Arc::clone(&fault);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let f = Arc::clone(&f);
                let mut changed = watch.clone();
                changed.mark_unchanged();
                tokio::spawn(async move {
                    tokio::select! {
                        () = serve(client, upstream, f) => {}
                        _ = changed.changed() => {}
                    }
                });
            }
        });
        Self { addr, fault, generation }
    }

    fn set(&self, f: Fault) {
        *self.fault.lock().unwrap() = f;
        self.generation.send_modify(|g| *g += 1);
    }

    fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }
}

async fn serve(mut client: TcpStream, upstream: SocketAddr, fault: Arc<Mutex<Fault>>) {
    let now = *fault.lock().unwrap();
    match now {
        Fault::Down => {}
        Fault::Stall => {
            let mut buf = vec![0u8; 1 << 16];
            while matches!(client.read(&mut buf).await, Ok(n) if n > 0) {}
        }
        Fault::Fail500(n) if n > 0 => {
            *fault.lock().unwrap() = if n == 1 { Fault::Pass } else { Fault::Fail500(n - 1) };
            let mut buf = vec![0u8; 1 << 16];
            let _ = client.read(&mut buf).await;
            let body = "<Error><Code>InternalError</Code><Message>injected</Message></Error>";
            let resp = format!("HTTP/1.1 500 Internal Server Error\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
            let _ = client.write_all(resp.as_bytes()).await;
        }
        _ => {
            let Ok(mut up) = TcpStream::connect(upstream).await else {
                return;
            };
            let (mut cr, mut cw) = client.split();
            let (mut ur, mut uw) = up.split();
            let limit = |f: Fault, request: bool| match f {
                Fault::CutRequest(n) if request => n,
                Fault::CutResponse(n) if !request => n,
                _ => usize::MAX,
            };
            let to_up = copy_limited(&mut cr, &mut uw, limit(now, true));
            let to_client = copy_limited(&mut ur, &mut cw, limit(now, false));
            // Either direction hitting its limit (or ending) drops the whole connection.
            tokio::select! {
                () = to_up => {}
                () = to_client => {}
            }
        }
    }
}

async fn copy_limited(r: &mut (impl AsyncReadExt + Unpin), w: &mut (impl AsyncWriteExt + Unpin), mut limit: usize) {
    let mut buf = vec![0u8; 16 << 10];
    loop {
        let n = match r.read(&mut buf).await {
            Ok(0) | Err(_) => {
                // Keep the other direction going until it ends too.
                std::future::pending::<()>().await;
                return;
            }
            Ok(n) => n,
        };
        let n = n.min(limit);
        if w.write_all(&buf[..n]).await.is_err() {
            return;
        }
        limit -= n;
        if limit == 0 {
            return;
        }
    }
}

async fn through_proxy(tweak: impl FnOnce(&mut Config)) -> (Gateway, Gateway, FaultProxy) {
    let inner = Gateway::start_local_in(tempfile::tempdir().unwrap(), |_| {}).await;
    let proxy = FaultProxy::start(inner.addr).await;
    let endpoint = proxy.endpoint();
    let gw = Gateway::start_local_in(tempfile::tempdir().unwrap(), |cfg| {
        forward_to(cfg, endpoint);
        cfg.upstream.bucket_prefix = "gw-".into();
        tweak(cfg);
    })
    .await;
    (gw, inner, proxy)
}

fn usage_bytes(v: &serde_json::Value) -> u64 {
    v.as_array().unwrap().iter().find(|t| t["tenant"] == "root").map_or(0, |t| t["bytes"].as_u64().unwrap())
}

#[tokio::test]
async fn buckets_map_to_prefixes_and_listings_hide_them() {
    let inner = Gateway::start_local_in(tempfile::tempdir().unwrap(), |_| {}).await;
    inner.client().create_bucket().bucket("shared").send().await.unwrap();
    let gw = Gateway::start_local_in(tempfile::tempdir().unwrap(), |cfg| {
        forward_to(cfg, inner.endpoint());
        cfg.upstream.bucket = "shared".into();
    })
    .await;
    let c = gw.client();
    gw.bucket("photos").await;
    for k in ["a/1", "a/2", "b", "sp ace+é"] {
        c.put_object().bucket("photos").key(k).body(k.as_bytes().to_vec().into()).send().await.unwrap();
    }
    // Upstream: under {tenant}/{bucket}/.
    let up = inner.client().list_objects_v2().bucket("shared").send().await.unwrap();
    let up_keys: Vec<&str> = up.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(up_keys, ["root/photos/a/1", "root/photos/a/2", "root/photos/b", "root/photos/sp ace+é"]);
    // Gateway: the client's keys, folded and paged in its own terms.
    let top = c.list_objects_v2().bucket("photos").delimiter("/").send().await.unwrap();
    assert_eq!(top.common_prefixes().iter().filter_map(|p| p.prefix()).collect::<Vec<_>>(), ["a/"]);
    assert_eq!(top.contents().iter().filter_map(|o| o.key()).collect::<Vec<_>>(), ["b", "sp ace+é"]);
    let p1 = c.list_objects_v2().bucket("photos").max_keys(2).send().await.unwrap();
    assert_eq!(p1.contents().iter().filter_map(|o| o.key()).collect::<Vec<_>>(), ["a/1", "a/2"]);
    let token = p1.next_continuation_token().unwrap();
    assert!(!String::from_utf8_lossy(&base64_simd::URL_SAFE_NO_PAD.decode_to_vec(token).unwrap()).contains("root/"), "tokens carry no upstream layout");
    let p2 = c.list_objects_v2().bucket("photos").max_keys(2).continuation_token(token).send().await.unwrap();
    assert_eq!(p2.contents().iter().filter_map(|o| o.key()).collect::<Vec<_>>(), ["b", "sp ace+é"]);
    assert!(!p2.is_truncated().unwrap());
    // A prefix and a delimiter on a page boundary.
    let v1 = c.list_objects().bucket("photos").delimiter("/").max_keys(1).send().await.unwrap();
    assert_eq!(v1.common_prefixes().iter().filter_map(|p| p.prefix()).collect::<Vec<_>>(), ["a/"]);
    let v1b = c.list_objects().bucket("photos").delimiter("/").marker(v1.next_marker().unwrap()).send().await.unwrap();
    assert_eq!(v1b.contents().iter().filter_map(|o| o.key()).collect::<Vec<_>>(), ["b", "sp ace+é"]);
    // Deleting the gateway bucket needs it empty upstream.
    let e = c.delete_bucket().bucket("photos").send().await.unwrap_err();
    assert_eq!(status(&e), 409);
    // A change of owner moves no bytes: the bucket stays under its creator's prefix.
    let root = root_conn(&gw);
    call(&root, "POST", "tenants", Some(serde_json::json!({"name": "acme"}))).await.unwrap();
    call(&root, "PUT", "buckets/photos", Some(serde_json::json!({"tenant": "acme"}))).await.unwrap();
    let got = c.get_object().bucket("photos").key("a/1").send().await.unwrap();
    assert_eq!(&got.body.collect().await.unwrap().into_bytes()[..], b"a/1");
    assert_eq!(c.list_objects_v2().bucket("photos").send().await.unwrap().contents().len(), 4);
}

#[tokio::test]
async fn a_lost_metadata_directory_is_rebuilt_from_the_upstream_mirror() {
    let inner = Gateway::start_local_in(tempfile::tempdir().unwrap(), |_| {}).await;
    inner.client().create_bucket().bucket("gw-meta").send().await.unwrap();
    let endpoint = inner.endpoint();
    let setup = |cfg: &mut Config| {
        forward_to(cfg, endpoint.clone());
        cfg.upstream.bucket_prefix = "a-".into();
        cfg.upstream.meta_bucket = "gw-meta".into();
        cfg.upstream.instance = "one".into();
    };
    let gw = Gateway::start_local_in(tempfile::tempdir().unwrap(), setup).await;
    let c = gw.client();
    gw.bucket("docs").await;
    c.put_object().bucket("docs").key("keep").body(b"kept bytes".to_vec().into()).send().await.unwrap();
    c.put_object().bucket("docs").key("gone").body(b"short-lived".to_vec().into()).send().await.unwrap();
    c.delete_object().bucket("docs").key("gone").send().await.unwrap();
    // A Deny policy must survive the loss: a rebuild that dropped it would open the bucket.
    let deny = r#"{"Version":"2012-10-17","Statement":[{"Sid":"NoDeletes","Effect":"Deny","Principal":"*","Action":"s3:DeleteObject","Resource":"arn:aws:s3:::docs/*"}]}"#;
    c.put_bucket_policy().bucket("docs").policy(deny).send().await.unwrap();
    let (ak, sk) = user(&gw, "acme", "ann", "writer").await;
    let root = root_conn(&gw);
    let chain_before = request(&root, "GET", "/_tollgate/proofs/chain/root", Vec::new()).await.unwrap();
    assert_eq!(chain_before["head"]["seq"], 3);
    let log_before = request(&root, "GET", "/_tollgate/proofs/log/root", Vec::new()).await.unwrap()["tree_head"].clone();
    assert_eq!(log_before["tree_size"], 4, "the genesis leaf and 3 manifests");
    // Stopping mirrors the rest; then the metadata directory is lost.
    let dir = gw.stop().await;
    // The latest signed tree head is in the mirror, off the gateway's disk.
    let heads = inner.client().list_objects_v2().bucket("gw-meta").prefix(".tollgate/one/heads/root/").send().await.unwrap();
    let names: Vec<&str> = heads.contents().iter().filter_map(|o| o.key()).collect();
    assert!(names.contains(&".tollgate/one/heads/root/genesis.json"), "the log's genesis too: {names:?}");
    let last = names.iter().rfind(|k| !k.ends_with("genesis.json")).expect("a tree head is mirrored").to_string();
    let mirrored = inner.client().get_object().bucket("gw-meta").key(&last).send().await.unwrap().body.collect().await.unwrap().into_bytes();
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&mirrored).unwrap(), log_before);
    std::fs::remove_dir_all(dir.path().join("meta")).unwrap();

    let gw = Gateway::start_local_in(dir, setup).await;
    let c = gw.client();
    // The control log in the metadata bucket gives back the control plane on its own (the
    // bucket, its policy, users and keys); the rebuild restores the rest.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while c.head_bucket().bucket("docs").send().await.is_err() {
        assert!(std::time::Instant::now() < deadline, "the control log gives the bucket back");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let root = root_conn(&gw);
    // Manifests are not signed one by one: a rebuild checks the mirrored ones against the
    // mirrored signed head first, and refuses one edited in the upstream, restoring nothing.
    let up = inner.client();
    let batches = up.list_objects_v2().bucket("gw-meta").prefix(".tollgate/one/proofs/root/").send().await.unwrap();
    let batch = batches.contents().last().unwrap().key().unwrap().to_owned();
    let original = up.get_object().bucket("gw-meta").key(&batch).send().await.unwrap().body.collect().await.unwrap().into_bytes();
    let text = String::from_utf8(original.to_vec()).unwrap();
    // An edit of the first manifest breaks the second one's link; one of the last (the
    // deletion), which nothing follows, no longer hashes to the mirrored head.
    let last_line = text.trim_end().rsplit('\n').next().unwrap().to_owned();
    for (forged, why) in [
        (text.replacen(r#""size":10"#, r#""size":99"#, 1), "does not follow the one before it"),
        (text.replace(&last_line, &last_line.replace(r#""size":0"#, r#""size":1"#)), "do not hash to its mirrored signed tree head"),
    ] {
        assert_ne!(forged.as_bytes(), &original[..]);
        up.put_object().bucket("gw-meta").key(&batch).body(forged.into_bytes().into()).send().await.unwrap();
        let refused = call(&root, "POST", "rebuild", None).await.unwrap_err();
        assert!(refused.contains("400") && refused.contains(why) && refused.contains("nothing was restored"), "{refused}");
        assert_eq!(usage_bytes(&call(&root, "GET", "usage", None).await.unwrap()), 0, "nothing was restored");
    }
    up.put_object().bucket("gw-meta").key(&batch).body(original.into()).send().await.unwrap();
    let report = call(&root, "POST", "rebuild", None).await.unwrap();
    assert_eq!(report["manifests"], 3);
    assert_eq!(report["manifests_unvouched"], 0, "the mirrored head covers every mirrored manifest");
    assert_eq!(report["buckets"], 1);
    assert_eq!(report["bucket_config"], 0, "the policy came back with the control log, newer than the mirror");
    assert_eq!(report["objects_indexed"], 1);
    assert!(report["audit_entries"].as_u64().unwrap() >= 7, "{report}");
    // Proofs: the chain is whole again and verifies; the kept object carries its proof.
    let chain = request(&root, "GET", "/_tollgate/proofs/chain/root", Vec::new()).await.unwrap();
    assert_eq!(chain["head"], chain_before["head"]);
    assert_eq!(chain["manifests"], chain_before["manifests"]);
    // The log is rebuilt from the manifests: the same tree, so the head a monitor kept holds.
    let log = request(&root, "GET", "/_tollgate/proofs/log/root", Vec::new()).await.unwrap()["tree_head"].clone();
    assert_eq!((&log["tree_size"], &log["root_hash"]), (&log_before["tree_size"], &log_before["root_hash"]));
    let got = c.get_object().bucket("docs").key("keep").send().await.unwrap();
    let body = got.body.collect().await.unwrap().into_bytes();
    assert_eq!(&body[..], b"kept bytes");
    let v = request(&root, "POST", "/_tollgate/proofs/verify", body.to_vec()).await.unwrap();
    assert_eq!(v["matches"][0]["signature_valid"], true);
    assert_eq!(v["matches"][0]["chain_intact"], true);
    // Audit: the writes before the loss are there.
    let audit = call(&root, "GET", "audit", None).await.unwrap();
    let ops: Vec<&str> = audit.as_array().unwrap().iter().filter_map(|e| e["operation"].as_str()).collect();
    for op in ["CreateBucket", "PutObject", "DeleteObject"] {
        assert!(ops.contains(&op), "{op} missing from {ops:?}");
    }
    // Usage and the restored tenant's key work again.
    let usage = call(&root, "GET", "usage", None).await.unwrap();
    assert_eq!(usage_bytes(&usage), 10);
    let ann = gw.client_with(&ak, &sk);
    assert!(ann.list_buckets().send().await.is_ok());
    assert_eq!(c.get_bucket_policy().bucket("docs").send().await.unwrap().policy(), Some(deny), "the policy is back");
    let (ok, ks) = user(&gw, "root", "editor", "admin").await;
    let e = gw.client_with(&ok, &ks).delete_object().bucket("docs").key("keep").send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "AccessDenied", "and in force");
    // A second rebuild would mix two histories: refused.
    assert!(call(&root, "POST", "rebuild", None).await.unwrap_err().contains("400"));
}

/// Encrypted objects come back from a rebuild readable: their records (wrapped data key,
/// nonce prefix, parts) are mirrored beside the manifests, which name only the mode.
#[tokio::test]
async fn a_rebuild_restores_encrypted_objects() {
    use aws_sdk_s3::types::ServerSideEncryption;
    let inner = Gateway::start_local_in(tempfile::tempdir().unwrap(), |_| {}).await;
    inner.client().create_bucket().bucket("gw-meta").send().await.unwrap();
    let endpoint = inner.endpoint();
    let setup = |cfg: &mut Config| {
        forward_to(cfg, endpoint.clone());
        cfg.upstream.meta_bucket = "gw-meta".into();
        cfg.upstream.instance = "one".into();
        cfg.encryption.sse_c_plain_http_on_loopback = true;
    };
    let gw = Gateway::start_local_in(tempfile::tempdir().unwrap(), setup).await;
    let c = gw.client();
    gw.bucket("vault").await;
    let key = base64_simd::STANDARD.encode_to_string([5u8; 32]);
    let key_md5 = base64_simd::STANDARD.encode_to_string(hex_simd::decode_to_vec(md5_hex(&[5u8; 32]).as_bytes()).unwrap());
    c.put_object().bucket("vault").key("s3").body(data(90_000, 1).into()).server_side_encryption(ServerSideEncryption::Aes256).send().await.unwrap();
    let put = c.put_object().bucket("vault").key("c").body(data(90_000, 2).into()).sse_customer_algorithm("AES256").sse_customer_key(&key);
    put.sse_customer_key_md5(&key_md5).send().await.unwrap();
    c.put_object().bucket("vault").key("plain").body(b"in the clear".to_vec().into()).send().await.unwrap();
    let manifest = request(&root_conn(&gw), "GET", "/_tollgate/proofs/object/vault/s3", Vec::new()).await.unwrap();
    assert_eq!(manifest[0]["encryption"], "AES256", "the manifest names the mode, never a key");
    let dir = gw.stop().await;
    std::fs::remove_dir_all(dir.path().join("meta")).unwrap();

    let gw = Gateway::start_local_in(dir, setup).await;
    let report = call(&root_conn(&gw), "POST", "rebuild", None).await.unwrap();
    assert_eq!((report["objects_indexed"].as_u64(), report["sealed_unrestored"].as_u64()), (Some(3), Some(0)), "{report}");
    let c = gw.client();
    let got = c.get_object().bucket("vault").key("s3").send().await.unwrap();
    assert_eq!(got.server_side_encryption(), Some(&ServerSideEncryption::Aes256));
    assert_eq!(got.body.collect().await.unwrap().into_bytes().to_vec(), data(90_000, 1));
    assert_eq!(status(&c.get_object().bucket("vault").key("c").send().await.unwrap_err()), 400, "still needs its key");
    let got =
        c.get_object().bucket("vault").key("c").sse_customer_algorithm("AES256").sse_customer_key(&key).sse_customer_key_md5(&key_md5).send().await.unwrap();
    assert_eq!(got.body.collect().await.unwrap().into_bytes().to_vec(), data(90_000, 2));
    let got = c.get_object().bucket("vault").key("plain").send().await.unwrap();
    assert_eq!(&got.body.collect().await.unwrap().into_bytes()[..], b"in the clear");
}

/// Issue 22: the mirror holds every version's record, so a rebuild brings back each
/// version (ids, order, `IsLatest`), delete markers, the null version, retention, legal
/// holds and tags, not only current objects; locks are in force again, and new versions
/// are newer than the restored ones.
#[tokio::test]
async fn a_rebuild_restores_every_version_marker_and_lock() {
    use aws_sdk_s3::primitives::DateTime;
    use aws_sdk_s3::types::{BucketVersioningStatus, ObjectLockLegalHoldStatus, ObjectLockMode, VersioningConfiguration};
    let inner = Gateway::start_local_in(tempfile::tempdir().unwrap(), |_| {}).await;
    inner.client().create_bucket().bucket("gw-meta").send().await.unwrap();
    let endpoint = inner.endpoint();
    let setup = |cfg: &mut Config| {
        forward_to(cfg, endpoint.clone());
        cfg.upstream.bucket_prefix = "v-".into();
        cfg.upstream.meta_bucket = "gw-meta".into();
        cfg.upstream.instance = "one".into();
    };
    let listing = |c: aws_sdk_s3::Client, b: &'static str| async move {
        let out = c.list_object_versions().bucket(b).send().await.unwrap();
        let versions =
            out.versions().iter().map(|v| format!("V {} {} {} {}", v.key().unwrap(), v.version_id().unwrap(), v.is_latest().unwrap(), v.size().unwrap()));
        let markers = out.delete_markers().iter().map(|m| format!("M {} {} {}", m.key().unwrap(), m.version_id().unwrap(), m.is_latest().unwrap()));
        versions.chain(markers).collect::<Vec<_>>()
    };
    let gw = Gateway::start_local_in(tempfile::tempdir().unwrap(), setup).await;
    let c = gw.client();
    gw.bucket("hist").await;
    c.put_object().bucket("hist").key("k").body(b"from before".to_vec().into()).send().await.unwrap();
    let enabled = VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build();
    c.put_bucket_versioning().bucket("hist").versioning_configuration(enabled).send().await.unwrap();
    let k2 = c.put_object().bucket("hist").key("k").tagging("t=2").body(b"second".to_vec().into()).send().await.unwrap().version_id().unwrap().to_owned();
    c.put_object().bucket("hist").key("gone").body(b"hidden".to_vec().into()).send().await.unwrap();
    c.delete_object().bucket("hist").key("gone").send().await.unwrap();
    c.create_bucket().bucket("vault").object_lock_enabled_for_bucket(true).send().await.unwrap();
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let until = DateTime::from_secs(i64::try_from(secs).unwrap() + 3600);
    let locked = c
        .put_object()
        .bucket("vault")
        .key("ledger")
        .object_lock_mode(ObjectLockMode::Compliance)
        .object_lock_retain_until_date(until)
        .object_lock_legal_hold_status(ObjectLockLegalHoldStatus::On)
        .body(b"never lost".to_vec().into())
        .send()
        .await
        .unwrap()
        .version_id()
        .unwrap()
        .to_owned();
    let before = [listing(c.clone(), "hist").await, listing(c.clone(), "vault").await];
    assert_eq!(before[0].len(), 4, "{before:?}");
    let root = root_conn(&gw);
    let usage_before = call(&root, "GET", "usage", None).await.unwrap();
    let dir = gw.stop().await;
    std::fs::remove_dir_all(dir.path().join("meta")).unwrap();

    let gw = Gateway::start_local_in(dir, setup).await;
    let c = gw.client();
    let root = root_conn(&gw);
    let report = call(&root, "POST", "rebuild", None).await.unwrap();
    assert_eq!((report["buckets"].as_u64(), report["versions"].as_u64(), report["objects_indexed"].as_u64()), (Some(2), Some(5), Some(0)), "{report}");
    assert_eq!([listing(c.clone(), "hist").await, listing(c.clone(), "vault").await], before, "every version and marker, in order");
    let usage = call(&root, "GET", "usage", None).await.unwrap();
    assert_eq!(usage_bytes(&usage), usage_bytes(&usage_before), "every version counts again");
    let body = |b: &'static str, k: &'static str, v: &str| {
        let c = c.clone();
        let v = v.to_owned();
        async move { c.get_object().bucket(b).key(k).version_id(v).send().await.unwrap().body.collect().await.unwrap().into_bytes().to_vec() }
    };
    assert_eq!(body("hist", "k", "null").await, b"from before");
    assert_eq!(body("hist", "k", &k2).await, b"second");
    assert_eq!(status(&c.get_object().bucket("hist").key("gone").send().await.unwrap_err()), 404, "the marker hides the key again");
    let tags = c.get_object_tagging().bucket("hist").key("k").version_id(&k2).send().await.unwrap();
    assert_eq!(tags.tag_set()[0].value(), "2");
    let r = c.get_object_retention().bucket("vault").key("ledger").version_id(&locked).send().await.unwrap();
    assert_eq!(r.retention().unwrap().mode().map(|m| m.as_str()), Some("COMPLIANCE"));
    let e = c.delete_object().bucket("vault").key("ledger").version_id(&locked).bypass_governance_retention(true).send().await.unwrap_err();
    assert_eq!(status(&e), 403, "the lock is in force again");
    // A version written after the rebuild is the newest.
    let k3 = c.put_object().bucket("hist").key("k").body(b"third".to_vec().into()).send().await.unwrap().version_id().unwrap().to_owned();
    let now = listing(c.clone(), "hist").await;
    let of_k: Vec<&String> = now.iter().filter(|l| l.starts_with("V k ")).collect();
    assert!(of_k[0].starts_with(&format!("V k {k3} true")) && of_k.len() == 3, "{now:?}");
    assert_eq!(body("hist", "k", &k3).await, b"third");
}

#[tokio::test]
async fn readiness_follows_the_upstream_and_requests_fail_fast_when_it_is_down() {
    let (gw, _inner, proxy) = through_proxy(|c| c.upstream.retries = 2).await;
    let ready = raw(gw.addr, "GET", "/ready", &[], b"", None).await;
    assert_eq!(ready.status, 200, "{}", ready.text());
    let c = gw.client();
    gw.bucket("rrr").await;
    c.put_object().bucket("rrr").key("k").body(b"v".to_vec().into()).send().await.unwrap();

    proxy.set(Fault::Down);
    let ready = raw(gw.addr, "GET", "/ready", &[], b"", None).await;
    assert_eq!(ready.status, 503);
    let why: serde_json::Value = serde_json::from_slice(&ready.body).unwrap();
    assert!(why["failed"]["backend"].as_str().unwrap().contains("upstream"), "{why}");
    let started = Instant::now();
    let e = no_retry_client(&gw).get_object().bucket("rrr").key("k").send().await.unwrap_err();
    assert_eq!(status(&e), 503);
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());

    proxy.set(Fault::Pass);
    let ready = raw(gw.addr, "GET", "/ready", &[], b"", None).await;
    assert_eq!(ready.status, 200);
}

/// A client that does not retry: each request the test makes is one request.
fn no_retry_client(gw: &Gateway) -> aws_sdk_s3::Client {
    let conf = gw.client().config().to_builder().retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled()).build();
    aws_sdk_s3::Client::from_conf(conf)
}

#[tokio::test]
async fn idempotent_requests_are_retried_past_upstream_500s() {
    let (gw, _inner, proxy) = through_proxy(|_| {}).await;
    let c = no_retry_client(&gw);
    gw.bucket("rrr").await;
    c.put_object().bucket("rrr").key("k").body(b"value".to_vec().into()).send().await.unwrap();
    proxy.set(Fault::Fail500(2));
    let got = c.get_object().bucket("rrr").key("k").send().await.unwrap();
    assert_eq!(&got.body.collect().await.unwrap().into_bytes()[..], b"value");
    proxy.set(Fault::Fail500(100));
    let e = c.get_object().bucket("rrr").key("k").send().await.unwrap_err();
    assert_eq!(status(&e), 503, "retries are bounded");
}

#[tokio::test]
async fn an_upstream_gone_mid_download_fails_the_download() {
    let (gw, _inner, proxy) = through_proxy(|_| {}).await;
    let c = no_retry_client(&gw);
    gw.bucket("rrr").await;
    let big = vec![7u8; 4 << 20];
    c.put_object().bucket("rrr").key("big").body(big.clone().into()).send().await.unwrap();
    proxy.set(Fault::CutResponse(1 << 20));
    let result = tokio::time::timeout(Duration::from_secs(20), async {
        let resp = c.get_object().bucket("rrr").key("big").send().await?;
        resp.body.collect().await.map(|b| b.into_bytes().len()).map_err(aws_sdk_s3::error::SdkError::construction_failure)
    })
    .await
    .expect("no hang");
    assert!(result.is_err(), "a cut download must not look complete: {result:?}");
}

#[tokio::test]
async fn an_upstream_gone_mid_upload_leaves_no_metadata() {
    let (gw, _inner, proxy) = through_proxy(|_| {}).await;
    let c = no_retry_client(&gw);
    gw.bucket("rrr").await;
    proxy.set(Fault::CutRequest(256 << 10));
    let e = c.put_object().bucket("rrr").key("half").body(vec![1u8; 2 << 20].into()).send().await.unwrap_err();
    assert_eq!(status(&e), 503);
    proxy.set(Fault::Pass);
    assert_eq!(status(&c.head_object().bucket("rrr").key("half").send().await.unwrap_err()), 404);
    let root = root_conn(&gw);
    assert_eq!(usage_bytes(&call(&root, "GET", "usage", None).await.unwrap()), 0, "no quota charge");
    let chain = request(&root, "GET", "/_tollgate/proofs/chain/root", Vec::new()).await.unwrap();
    assert!(chain["head"].is_null() || chain["head"]["seq"] == 0, "no proof: {chain}");

    // Multipart: a part cut on its way fails alone; the upload goes on and completes.
    let up = c.create_multipart_upload().bucket("rrr").key("mp").send().await.unwrap();
    let id = up.upload_id().unwrap();
    let part1 = vec![3u8; 5 << 20];
    proxy.set(Fault::CutRequest(1 << 20));
    let e = c.upload_part().bucket("rrr").key("mp").upload_id(id).part_number(1).body(part1.clone().into()).send().await.unwrap_err();
    assert_eq!(status(&e), 503);
    proxy.set(Fault::Pass);
    let p1 = c.upload_part().bucket("rrr").key("mp").upload_id(id).part_number(1).body(part1.into()).send().await.unwrap();
    let p2 = c.upload_part().bucket("rrr").key("mp").upload_id(id).part_number(2).body(b"tail".to_vec().into()).send().await.unwrap();
    let parts = aws_sdk_s3::types::CompletedMultipartUpload::builder()
        .parts(aws_sdk_s3::types::CompletedPart::builder().part_number(1).e_tag(p1.e_tag().unwrap()).build())
        .parts(aws_sdk_s3::types::CompletedPart::builder().part_number(2).e_tag(p2.e_tag().unwrap()).build())
        .build();
    c.complete_multipart_upload().bucket("rrr").key("mp").upload_id(id).multipart_upload(parts).send().await.unwrap();
    let head = c.head_object().bucket("rrr").key("mp").send().await.unwrap();
    assert_eq!(head.content_length(), Some((5 << 20) + 4));
    assert_eq!(usage_bytes(&call(&root, "GET", "usage", None).await.unwrap()), (5 << 20) + 4);
    let dir = gw.stop().await;
    assert!(tollgate::meta::Store::pending_list(&store_of(&dir)).unwrap().is_empty(), "the cut upload left no pending write");
}

#[tokio::test]
async fn a_silent_upstream_times_out_instead_of_hanging() {
    let (gw, _inner, proxy) = through_proxy(|c| {
        c.upstream.timeout_secs = 1;
        c.upstream.retries = 1;
    })
    .await;
    let c = no_retry_client(&gw);
    gw.bucket("rrr").await;
    c.put_object().bucket("rrr").key("k").body(b"v".to_vec().into()).send().await.unwrap();
    proxy.set(Fault::Stall);
    let started = Instant::now();
    let e = c.get_object().bucket("rrr").key("k").send().await.unwrap_err();
    assert_eq!(status(&e), 503);
    let e = c.put_object().bucket("rrr").key("k2").body(vec![0u8; 1 << 20].into()).send().await.unwrap_err();
    assert_eq!(status(&e), 503);
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
}

/// Opens a stopped gateway's metadata store.
fn store_of(dir: &tempfile::TempDir) -> tollgate::meta::SledStore {
    tollgate::meta::SledStore::open(&dir.path().join("meta")).unwrap()
}

/// The audit entry of a root PutObject of `key` in bucket `pend`, as a pending write keeps it.
fn put_audit(key: &str, bytes: u64) -> tollgate::meta::AuditEntry {
    tollgate::meta::AuditEntry {
        time_ns: 1,
        request_id: "req".into(),
        principal: ACCESS_KEY.into(),
        user: String::new(),
        tenant: "root".into(),
        source: "127.0.0.1".into(),
        operation: "PutObject".into(),
        bucket: "pend".into(),
        key: key.into(),
        outcome: "ok".into(),
        bytes,
        count: 1,
        version_id: String::new(),
        decided_by: String::new(),
    }
}

/// An upstream tollgate and a gateway in front of it (its buckets under `gw-`) holding the
/// bucket `pend`, with the configuration that puts a gateway in front of it again.
async fn pending_setup() -> (Gateway, Gateway, impl Fn(&mut Config) + Clone) {
    let inner = Gateway::start_local_in(tempfile::tempdir().unwrap(), |_| {}).await;
    let endpoint = inner.endpoint();
    let through = move |cfg: &mut Config| {
        forward_to(cfg, endpoint.clone());
        cfg.upstream.bucket_prefix = "gw-".into();
    };
    let gw = Gateway::start_local_in(tempfile::tempdir().unwrap(), through.clone()).await;
    gw.bucket("pend").await;
    (inner, gw, through)
}

/// A sealed write pending at a crash is recognised by its stored length and header (its
/// digests are the plaintext's): committed if the upstream holds its bytes, dropped if
/// another write's are there.
#[tokio::test]
async fn a_sealed_write_pending_at_a_crash_is_recognised_by_its_header() {
    use aws_sdk_s3::types::ServerSideEncryption;
    use tollgate::meta::{PendingWrite, Precondition, Store};
    let (inner, gw, through) = pending_setup().await;
    let c = gw.client();
    let body = data(100_000, 7);
    for key in ["sealed", "replaced"] {
        c.put_object().bucket("pend").key(key).body(body.clone().into()).server_side_encryption(ServerSideEncryption::Aes256).send().await.unwrap();
    }
    let dir = gw.stop().await;
    // As if the gateway had stopped before committing them: both are pending again, and
    // the second's bytes upstream are another sealed write's (same length, other header).
    let store = store_of(&dir);
    for key in ["sealed", "replaced"] {
        let rec = store.object_get("pend", key).unwrap().unwrap();
        store.object_delete("pend", key, &Precondition::None, None, None).unwrap();
        let record = tollgate::meta::ObjectRecord { proof_id: format!("proofof{key}"), ..rec };
        store.pending_put(&format!("w-{key}"), &PendingWrite { bucket: "pend".into(), key: key.into(), record, audit: put_audit(key, 100_000) }).unwrap();
    }
    store.flush().await.unwrap();
    drop(store);
    let other = inner.client().get_object().bucket("gw-pend").key("sealed").send().await.unwrap().body.collect().await.unwrap().into_bytes();
    inner.client().put_object().bucket("gw-pend").key("replaced").body(other.to_vec().into()).send().await.unwrap();

    let gw = Gateway::start_local_in(dir, through).await;
    let got = gw.client().get_object().bucket("pend").key("sealed").send().await.unwrap();
    assert_eq!(got.server_side_encryption(), Some(&ServerSideEncryption::Aes256));
    assert_eq!(got.body.collect().await.unwrap().into_bytes().to_vec(), body, "the write the upstream holds is committed, and reads");
    let dir = gw.stop().await;
    let store = store_of(&dir);
    assert!(store.pending_list().unwrap().is_empty());
    assert!(store.object_get("pend", "replaced").unwrap().is_none(), "bytes of another write are not taken for its own");
}

#[tokio::test]
async fn writes_pending_at_a_crash_are_finished_or_dropped_at_the_next_start() {
    use tollgate::meta::{ObjectRecord, PendingWrite, Store};
    let (inner, gw, through) = pending_setup().await;
    let c = gw.client();
    c.put_object().bucket("pend").key("acked").body(data(3000, 1).into()).send().await.unwrap();
    let dir = gw.stop().await;
    let store = store_of(&dir);
    assert!(store.pending_list().unwrap().is_empty(), "an acknowledged write leaves no pending record");
    let acked = store.object_get("pend", "acked").unwrap().unwrap();
    assert!(store.proof_get(&acked.proof_id).unwrap().is_some(), "its chosen proof id is its manifest's");

    // A crash as the gateway sees it: three writes recorded pending. The upstream holds the
    // bytes of the first, nothing for the second, other bytes for the third.
    let up = inner.client();
    let late = data(5000, 2);
    up.put_object().bucket("gw-pend").key("late").body(late.clone().into()).send().await.unwrap();
    up.put_object().bucket("gw-pend").key("other").body(data(10, 3).into()).send().await.unwrap();
    let pending = |key: &str, body: &[u8], proof_id: &str| PendingWrite {
        bucket: "pend".into(),
        key: key.into(),
        record: ObjectRecord {
            size: body.len() as u64,
            sha256: hex_simd::encode_to_string(<sha2::Sha256 as sha2::Digest>::digest(body), hex_simd::AsciiCase::Lower),
            proof_id: proof_id.into(),
            ..ObjectRecord::new(Default::default(), Vec::new(), ACCESS_KEY.into(), 1)
        },
        audit: put_audit(key, body.len() as u64),
    };
    store.pending_put("w-late", &pending("late", &late, "proofoflate")).unwrap();
    store.pending_put("w-lost", &pending("lost", b"never sent", "proofoflost")).unwrap();
    store.pending_put("w-other", &pending("other", b"not these bytes", "proofofother")).unwrap();
    store.flush().await.unwrap();
    drop(store);
    let mut cfg = Config { data_dir: dir.path().to_owned(), ..Config::default() };
    through(&mut cfg);
    let opts = tollgate::migrate::Options { from: BackendKind::Upstream, to: BackendKind::Local, bucket: None, dry_run: true, parallel: 1 };
    let refused = tollgate::migrate::run(&cfg, &opts, &tollgate::migrate::Progress::default()).await.unwrap_err();
    assert!(refused.to_string().contains("3 writes were in flight"), "migrate waits for the pending writes: {refused}");

    let gw = Gateway::start_local_in(dir, through).await;
    let head = gw.client().head_object().bucket("pend").key("late").send().await.unwrap();
    assert_eq!(head.e_tag(), Some(format!("\"{}\"", md5_hex(&late)).as_str()));
    let dir = gw.stop().await;
    let store = store_of(&dir);
    assert!(store.pending_list().unwrap().is_empty());
    let rec = store.object_get("pend", "late").unwrap().expect("the write the upstream holds is committed");
    assert_eq!(
        (rec.etag.as_str(), rec.proof_id.as_str()),
        (md5_hex(&late).as_str(), "proofoflate"),
        "with the upstream's ETag and the proof id told to the client"
    );
    let manifest = store.proof_get("proofoflate").unwrap().unwrap();
    assert_eq!((manifest.size, manifest.sha256), (5000, rec.sha256));
    assert!(store.object_get("pend", "lost").unwrap().is_none(), "a write the upstream never got is dropped");
    assert!(store.object_get("pend", "other").unwrap().is_none(), "a write whose bytes the upstream does not hold is dropped");
    assert!(store.proof_get("proofoflost").unwrap().is_none() && store.proof_get("proofofother").unwrap().is_none());
}

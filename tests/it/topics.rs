//! Topics through a real client: the three flows of the design (an optimistically locked
//! snapshot, a content-addressed append log, a mailbox between tenants) and the indirect
//! ways around them (copy, multipart, presigned URLs, DeleteObjects, listing).

use crate::common::*;
use crate::tenancy::{root_conn, user};

use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, Delete, ObjectIdentifier};
use serde_json::json;
use tollgate::admin::client::call;

fn err_code<E: aws_sdk_s3::error::ProvideErrorMetadata + std::fmt::Debug, R: std::fmt::Debug>(e: &aws_sdk_s3::error::SdkError<E, R>) -> String {
    e.as_service_error().map(code).unwrap_or_else(|| format!("{e:?}"))
}

/// Tenant `a` (alice and bob writers, carol admin), tenant `b` (zed writer), each with a
/// client; bucket `team` of tenant a holding the topics.
struct World {
    gw: Gateway,
    alice: Client,
    bob: Client,
    carol: Client,
    zed: Client,
}

async fn world(topics: &[serde_json::Value]) -> World {
    let gw = Gateway::start().await;
    let client = |(ak, sk): (String, String)| client_for(&gw.endpoint(), &ak, &sk);
    let alice = client(user(&gw, "a", "alice", "writer").await);
    let bob = client(user(&gw, "a", "bob", "writer").await);
    let carol = client(user(&gw, "a", "carol", "admin").await);
    let zed = client(user(&gw, "b", "zed", "writer").await);
    carol.create_bucket().bucket("team").send().await.unwrap();
    let root = root_conn(&gw);
    for t in topics {
        let name = t["topic"].as_str().unwrap();
        let mut body = t.clone();
        body.as_object_mut().unwrap().remove("topic");
        call(&root, "PUT", &format!("topics/team/{name}"), Some(body)).await.unwrap();
    }
    World { gw, alice, bob, carol, zed }
}

async fn put(c: &Client, key: &str, body: &[u8]) -> Result<String, String> {
    c.put_object().bucket("team").key(key).body(body.to_vec().into()).send().await.map(|o| o.e_tag().unwrap().to_owned()).map_err(|e| err_code(&e))
}

#[tokio::test]
async fn a_snapshot_is_replaced_under_optimistic_locking() {
    let w = world(&[json!({"topic": "snap", "write": "single-auth", "read": "auth"})]).await;
    let key = "snap/alice/state.json";
    // Creating needs If-None-Match: *, replacing If-Match.
    assert_eq!(put(&w.alice, key, b"v0").await.unwrap_err(), "PreconditionFailed");
    let v1 = w.alice.put_object().bucket("team").key(key).body(b"v1".to_vec().into()).if_none_match("*").send().await.unwrap();
    let v1 = v1.e_tag().unwrap().to_owned();
    // Two racing writers holding the same ETag: exactly one wins.
    let race = |body: &'static [u8]| {
        let (c, etag) = (w.alice.clone(), v1.clone());
        async move { c.put_object().bucket("team").key(key).body(body.to_vec().into()).if_match(etag).send().await }
    };
    let (r1, r2) = tokio::join!(race(b"v2-left"), race(b"v2-right"));
    assert_eq!(u8::from(r1.is_ok()) + u8::from(r2.is_ok()), 1, "exactly one racing writer wins");
    let loser = r1.err().or(r2.err()).unwrap();
    assert_eq!((status(&loser), err_code(&loser)), (412, "PreconditionFailed".to_owned()));
    // The stale ETag no longer works; the winner's does.
    let e = w.alice.put_object().bucket("team").key(key).body(b"v3".to_vec().into()).if_match(&v1).send().await.unwrap_err();
    assert_eq!(err_code(&e), "PreconditionFailed");
    let current = w.alice.head_object().bucket("team").key(key).send().await.unwrap().e_tag().unwrap().to_owned();
    w.alice.put_object().bucket("team").key(key).body(b"v3".to_vec().into()).if_match(current).send().await.unwrap();
    // One object per owner per topic.
    let e = w.alice.put_object().bucket("team").key("snap/alice/second").body(b"x".to_vec().into()).if_none_match("*").send().await.unwrap_err();
    assert_eq!(err_code(&e), "PreconditionFailed");
    // Owner-only: bob (same tenant, writer) can neither write nor read alice's snapshot.
    let e = w.bob.put_object().bucket("team").key(key).body(b"evil".to_vec().into()).if_none_match("*").send().await.unwrap_err();
    assert_eq!(status(&e), 403);
    assert_eq!(status(&w.bob.get_object().bucket("team").key(key).send().await.unwrap_err()), 403);
    // Bob has his own; the tenant admin reads everyone's.
    w.bob.put_object().bucket("team").key("snap/bob/state.json").body(b"b1".to_vec().into()).if_none_match("*").send().await.unwrap();
    let got = w.carol.get_object().bucket("team").key(key).send().await.unwrap().body.collect().await.unwrap().into_bytes();
    assert_eq!(&got[..], b"v3");
    // Copy cannot bypass the lock.
    let e = w.alice.copy_object().bucket("team").key(key).copy_source("team/snap/bob/state.json").send().await.unwrap_err();
    assert!(matches!(status(&e), 400 | 403), "{e:?}");
    // A multipart replacement needs the condition on completion too.
    let up = w.alice.create_multipart_upload().bucket("team").key(key).send().await.unwrap();
    let id = up.upload_id().unwrap();
    let part = w.alice.upload_part().bucket("team").key(key).upload_id(id).part_number(1).body(b"v4".to_vec().into()).send().await.unwrap();
    let done = || CompletedMultipartUpload::builder().parts(CompletedPart::builder().part_number(1).e_tag(part.e_tag().unwrap()).build()).build();
    let e = w.alice.complete_multipart_upload().bucket("team").key(key).upload_id(id).multipart_upload(done()).send().await.unwrap_err();
    assert_eq!(err_code(&e), "PreconditionFailed");
    let current = w.alice.head_object().bucket("team").key(key).send().await.unwrap().e_tag().unwrap().to_owned();
    w.alice.complete_multipart_upload().bucket("team").key(key).upload_id(id).multipart_upload(done()).if_match(current).send().await.unwrap();
    // The owner may delete a snapshot; nobody else.
    assert_eq!(status(&w.bob.delete_object().bucket("team").key(key).send().await.unwrap_err()), 403);
    w.alice.delete_object().bucket("team").key(key).send().await.unwrap();
}

#[tokio::test]
async fn a_content_addressed_log_is_append_only() {
    let w = world(&[
        json!({"topic": "log", "write": "append-auth", "read": "open", "content_addressed": true, "max_size": 1000, "content_types": ["application/json"]}),
    ])
    .await;
    let entry = br#"{"n":1}"#;
    let key = format!("log/alice/{}", sha_hex(entry));
    let ok = w.alice.put_object().bucket("team").key(&key).body(entry.to_vec().into()).content_type("application/json").send().await.unwrap();
    assert!(ok.e_tag().is_some());
    // A wrong digest is BadDigest and stores nothing.
    let wrong = format!("log/alice/{}", sha_hex(b"something else"));
    let e = w.alice.put_object().bucket("team").key(&wrong).body(entry.to_vec().into()).content_type("application/json").send().await.unwrap_err();
    assert_eq!(err_code(&e), "BadDigest");
    assert_eq!(status(&w.alice.head_object().bucket("team").key(&wrong).send().await.unwrap_err()), 404);
    let e = w
        .alice
        .put_object()
        .bucket("team")
        .key("log/alice/not-a-digest")
        .body(entry.to_vec().into())
        .content_type("application/json")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err_code(&e), "BadDigest");
    // Immutable: no overwrite, no delete, not even by the owner, by no route.
    let e = w.alice.put_object().bucket("team").key(&key).body(entry.to_vec().into()).content_type("application/json").send().await.unwrap_err();
    assert_eq!(status(&e), 403);
    assert_eq!(status(&w.alice.delete_object().bucket("team").key(&key).send().await.unwrap_err()), 403);
    assert_eq!(status(&w.carol.delete_object().bucket("team").key(&key).send().await.unwrap_err()), 403);
    let batch = Delete::builder().objects(ObjectIdentifier::builder().key(&key).build().unwrap()).build().unwrap();
    assert_eq!(status(&w.carol.delete_objects().bucket("team").delete(batch).send().await.unwrap_err()), 403);
    let e = w
        .alice
        .put_object_tagging()
        .bucket("team")
        .key(&key)
        .tagging(aws_sdk_s3::types::Tagging::builder().tag_set(aws_sdk_s3::types::Tag::builder().key("k").value("v").build().unwrap()).build().unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&e), 403);
    // Size and type limits.
    let big = vec![b'x'; 1001];
    let e = w
        .alice
        .put_object()
        .bucket("team")
        .key(format!("log/alice/{}", sha_hex(&big)))
        .body(big.into())
        .content_type("application/json")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err_code(&e), "EntityTooLarge");
    let e = w
        .alice
        .put_object()
        .bucket("team")
        .key(format!("log/alice/{}", sha_hex(b"t")))
        .body(b"t".to_vec().into())
        .content_type("text/plain")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err_code(&e), "InvalidArgument");
    // Multipart cannot be content-addressed; bob cannot write into alice's log.
    assert_eq!(
        err_code(&w.alice.create_multipart_upload().bucket("team").key(format!("log/alice/{}", sha_hex(b"m"))).send().await.unwrap_err()),
        "InvalidRequest"
    );
    let e = w
        .bob
        .put_object()
        .bucket("team")
        .key(format!("log/alice/{}", sha_hex(b"b")))
        .body(b"b".to_vec().into())
        .content_type("application/json")
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&e), 403);
    // Open reads: any signed caller, another tenant's too; never anonymous.
    for c in [&w.bob, &w.zed] {
        let got = c.get_object().bucket("team").key(&key).send().await.unwrap().body.collect().await.unwrap().into_bytes();
        assert_eq!(&got[..], entry);
    }
    assert_eq!(raw(w.gw.addr, "GET", &format!("/team/{key}"), &[], b"", None).await.status, 403);
}

#[tokio::test]
async fn a_mailbox_takes_mail_from_another_tenant_for_its_recipient_only() {
    let w = world(&[json!({"topic": "inbox", "write": "append-open", "read": "auth"})]).await;
    // zed, of tenant b, writes to alice in tenant a's bucket.
    put(&w.zed, "inbox/alice/m1", b"hello alice").await.unwrap();
    // ... through a presigned URL too.
    let url = w.zed.put_object().bucket("team").key("inbox/alice/m2").presigned(PresigningConfig::expires_in(Duration::from_secs(60)).unwrap()).await.unwrap();
    let path = url.uri().strip_prefix(&w.gw.endpoint()).unwrap().to_owned();
    let headers: Vec<(String, String)> = url.headers().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
    assert_eq!(raw(w.gw.addr, "PUT", &path, &headers, b"second", None).await.status, 200);
    // A presigned overwrite is still an overwrite.
    let url = w.zed.put_object().bucket("team").key("inbox/alice/m1").presigned(PresigningConfig::expires_in(Duration::from_secs(60)).unwrap()).await.unwrap();
    let path = url.uri().strip_prefix(&w.gw.endpoint()).unwrap().to_owned();
    assert_eq!(raw(w.gw.addr, "PUT", &path, &headers, b"replaced", None).await.status, 403);

    // Only the recipient (and tenant a's admin) read it.
    let got = w.alice.get_object().bucket("team").key("inbox/alice/m1").send().await.unwrap().body.collect().await.unwrap().into_bytes();
    assert_eq!(&got[..], b"hello alice");
    w.carol.head_object().bucket("team").key("inbox/alice/m1").send().await.unwrap();
    for c in [&w.zed, &w.bob] {
        assert_eq!(status(&c.get_object().bucket("team").key("inbox/alice/m1").send().await.unwrap_err()), 403);
    }
    // A copy is a read of its source: bob cannot lift alice's mail into another key.
    let e = w.bob.copy_object().bucket("team").key("stolen").copy_source("team/inbox/alice/m1").send().await.unwrap_err();
    assert_eq!(status(&e), 403);

    // Listing shows each caller only what they may read.
    put(&w.zed, "inbox/bob/m1", b"hello bob").await.unwrap();
    let keys = |c: Client, prefix: &'static str| async move {
        let r = c.list_objects_v2().bucket("team").prefix(prefix).send().await.unwrap();
        let mut k: Vec<String> = r.contents().iter().filter_map(|o| o.key().map(str::to_owned)).collect();
        k.extend(r.common_prefixes().iter().filter_map(|p| p.prefix().map(str::to_owned)));
        k
    };
    assert_eq!(keys(w.alice.clone(), "inbox/").await, ["inbox/alice/m1", "inbox/alice/m2"]);
    assert_eq!(keys(w.bob.clone(), "inbox/").await, ["inbox/bob/m1"]);
    assert_eq!(keys(w.carol.clone(), "inbox/").await.len(), 3);
    let r = w.bob.list_objects_v2().bucket("team").prefix("inbox/").delimiter("/").send().await.unwrap();
    let prefixes: Vec<&str> = r.common_prefixes().iter().filter_map(|p| p.prefix()).collect();
    assert_eq!(prefixes, ["inbox/bob/"]);
    // The sender cannot list tenant a's bucket at all.
    assert_eq!(status(&w.zed.list_objects_v2().bucket("team").prefix("inbox/alice/").send().await.unwrap_err()), 403);
    // Anonymous callers write nothing.
    assert_eq!(raw(w.gw.addr, "PUT", "/team/inbox/alice/anon", &[], b"x", None).await.status, 403);
}

#[tokio::test]
async fn abandoned_uploads_into_topics_expire() {
    let gw = Gateway::start_with(|c| {
        c.topics.upload_expiry_secs = 1;
        c.jobs.upload_expiry_interval_secs = 1;
    })
    .await;
    let c = gw.client();
    let b = gw.bucket("uploads").await;
    call(&root_conn(&gw), "PUT", &format!("topics/{b}/drop"), Some(json!({"write": "append-open", "read": "auth"}))).await.unwrap();
    let topic_upload = c.create_multipart_upload().bucket(&b).key("drop/root/big").send().await.unwrap();
    c.upload_part()
        .bucket(&b)
        .key("drop/root/big")
        .upload_id(topic_upload.upload_id().unwrap())
        .part_number(1)
        .body(b"p".to_vec().into())
        .send()
        .await
        .unwrap();
    let plain_upload = c.create_multipart_upload().bucket(&b).key("plain/big").send().await.unwrap();
    let mut left = Vec::new();
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let r = c.list_multipart_uploads().bucket(&b).send().await.unwrap();
        left = r.uploads().iter().filter_map(|u| u.upload_id().map(str::to_owned)).collect();
        if left.len() == 1 {
            break;
        }
    }
    assert_eq!(left, [plain_upload.upload_id().unwrap().to_owned()], "only the upload outside topics remains");
}

/// Issue 22 item 6: in a versioned bucket, `single-*` topics compare `If-Match` with the
/// current version, and in `append-*` topics nothing lays a delete marker or removes a
/// version, by any route (DeleteObject with or without a version id, DeleteObjects).
#[tokio::test]
async fn topic_rules_hold_in_a_versioning_enabled_bucket() {
    use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
    let w = world(&[json!({"topic": "snap", "write": "single-auth", "read": "auth"}), json!({"topic": "log", "write": "append-auth", "read": "auth"})]).await;
    let enabled = VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build();
    w.gw.client().put_bucket_versioning().bucket("team").versioning_configuration(enabled).send().await.unwrap();

    let snap = "snap/alice/state.json";
    let v1 = w.alice.put_object().bucket("team").key(snap).body(b"v1".to_vec().into()).if_none_match("*").send().await.unwrap();
    let v2 = w.alice.put_object().bucket("team").key(snap).body(b"v2".to_vec().into()).if_match(v1.e_tag().unwrap()).send().await.unwrap();
    assert_ne!(v1.version_id(), v2.version_id());
    let stale = w.alice.put_object().bucket("team").key(snap).body(b"v3".to_vec().into()).if_match(v1.e_tag().unwrap()).send().await.unwrap_err();
    assert_eq!(status(&stale), 412, "If-Match compares with the current version, not an older one");

    let entry = "log/alice/1";
    let first = w.alice.put_object().bucket("team").key(entry).body(b"entry".to_vec().into()).send().await.unwrap();
    let version = first.version_id().unwrap().to_owned();
    let e = w.alice.put_object().bucket("team").key(entry).body(b"again".to_vec().into()).send().await.unwrap_err();
    assert_eq!(status(&e), 403, "no new version over an entry");
    let e = w.alice.delete_object().bucket("team").key(entry).send().await.unwrap_err();
    assert_eq!(status(&e), 403, "no delete marker");
    let e = w.carol.delete_object().bucket("team").key(entry).version_id(&version).send().await.unwrap_err();
    assert_eq!(status(&e), 403, "no version removed, not even by the tenant's admin");
    let by_id = ObjectIdentifier::builder().key(entry).version_id(&version).build().unwrap();
    // A batch naming an entry is refused whole, with or without its version id.
    let e = w.alice.delete_objects().bucket("team").delete(Delete::builder().objects(by_id).build().unwrap()).send().await.unwrap_err();
    assert_eq!(status(&e), 403);
    let plain = ObjectIdentifier::builder().key(entry).build().unwrap();
    let e = w.alice.delete_objects().bucket("team").delete(Delete::builder().objects(plain).build().unwrap()).send().await.unwrap_err();
    assert_eq!(status(&e), 403);
    let listed = w.carol.list_object_versions().bucket("team").prefix("log/").send().await.unwrap();
    assert_eq!(listed.versions().len(), 1);
    assert!(listed.delete_markers().is_empty(), "{listed:?}");
    let got = w.alice.get_object().bucket("team").key(entry).send().await.unwrap();
    assert_eq!(got.version_id(), Some(version.as_str()));
}

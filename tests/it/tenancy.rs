//! Tenant isolation: the access matrix of two tenants' admins, writers and readers and
//! an anonymous client against own, foreign and public buckets, cell by cell.

use crate::common::*;

use aws_sdk_s3::Client;
use aws_sdk_s3::types::{Delete, ObjectIdentifier, Tag, Tagging};
use serde_json::{Value, json};
use tollgate::admin::client::{Connection, call};

pub fn root_conn(gw: &Gateway) -> Connection {
    conn(gw, ACCESS_KEY, SECRET_KEY)
}

pub fn conn(gw: &Gateway, ak: &str, sk: &str) -> Connection {
    let ca_bundle = gw.tls.then(crate::common::test_ca);
    Connection { endpoint: gw.endpoint(), access_key: Some(ak.into()), secret_key: Some(sk.into()), region: "us-east-1".into(), json: true, ca_bundle }
}

/// Creates tenant `t` (if needed), user `u` with `role` and a key; returns (key, secret).
pub async fn user(gw: &Gateway, t: &str, u: &str, role: &str) -> (String, String) {
    let root = root_conn(gw);
    let _ = call(&root, "POST", "tenants", Some(json!({"name": t}))).await;
    call(&root, "POST", "users", Some(json!({"tenant": t, "name": u, "role": role}))).await.unwrap();
    let k = call(&root, "POST", "keys", Some(json!({"tenant": t, "user": u}))).await.unwrap();
    (k["access_key"].as_str().unwrap().to_owned(), k["secret_key"].as_str().unwrap().to_owned())
}

/// An S3 client of a new user `u` of tenant `t` with `role` (see [`user`]).
pub async fn user_client(gw: &Gateway, t: &str, u: &str, role: &str) -> aws_sdk_s3::Client {
    let (ak, sk) = user(gw, t, u, role).await;
    gw.client_with(&ak, &sk)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    PublicRead,
    Read,
    Write,
    Manage,
}

const OPS: [(&str, Kind); 16] = [
    ("HeadBucket", Kind::PublicRead),
    ("ListObjectsV2", Kind::PublicRead),
    ("GetObject", Kind::PublicRead),
    ("HeadObject", Kind::PublicRead),
    ("HeadMissingObject", Kind::PublicRead),
    ("GetObjectTagging", Kind::Read),
    ("ListMultipartUploads", Kind::Read),
    ("ListObjectVersions", Kind::Read),
    ("PutObject", Kind::Write),
    ("DeleteObject", Kind::Write),
    ("DeleteObjects", Kind::Write),
    ("CopyObject", Kind::Write),
    ("PutObjectTagging", Kind::Write),
    ("CreateMultipartUpload", Kind::Write),
    ("DeleteBucket", Kind::Manage),
    ("GetBucketAcl", Kind::Read),
];

fn st<T, E, R>(r: Result<T, aws_sdk_s3::error::SdkError<E, R>>) -> u16
where
    R: std::fmt::Debug + HasStatus,
{
    match r {
        Ok(_) => 200,
        Err(e) => status(&e),
    }
}

/// Runs `op` on `bucket` (holding the object `obj`) and returns the HTTP status.
async fn run(c: &Client, op: &str, bucket: &str) -> u16 {
    let key = "scratch";
    match op {
        "HeadBucket" => st(c.head_bucket().bucket(bucket).send().await),
        "ListObjectsV2" => st(c.list_objects_v2().bucket(bucket).send().await),
        "GetObject" => st(c.get_object().bucket(bucket).key("obj").send().await),
        "HeadObject" => st(c.head_object().bucket(bucket).key("obj").send().await),
        "HeadMissingObject" => st(c.head_object().bucket(bucket).key("missing").send().await),
        "GetObjectTagging" => st(c.get_object_tagging().bucket(bucket).key("obj").send().await),
        "ListMultipartUploads" => st(c.list_multipart_uploads().bucket(bucket).send().await),
        "ListObjectVersions" => st(c.list_object_versions().bucket(bucket).send().await),
        "PutObject" => st(c.put_object().bucket(bucket).key(key).body(b"w".to_vec().into()).send().await),
        "DeleteObject" => st(c.delete_object().bucket(bucket).key(key).send().await),
        "DeleteObjects" => st(c
            .delete_objects()
            .bucket(bucket)
            .delete(Delete::builder().objects(ObjectIdentifier::builder().key(key).build().unwrap()).build().unwrap())
            .send()
            .await),
        "CopyObject" => st(c.copy_object().bucket(bucket).key(key).copy_source(format!("{bucket}/obj")).send().await),
        "PutObjectTagging" => st(c
            .put_object_tagging()
            .bucket(bucket)
            .key("obj")
            .tagging(Tagging::builder().tag_set(Tag::builder().key("a").value("b").build().unwrap()).build().unwrap())
            .send()
            .await),
        "CreateMultipartUpload" => st(c.create_multipart_upload().bucket(bucket).key(key).send().await),
        // Never empty: an allowed DeleteBucket answers BucketNotEmpty, and nothing is lost.
        "DeleteBucket" => st(c.delete_bucket().bucket(bucket).send().await),
        "GetBucketAcl" => st(c.get_bucket_acl().bucket(bucket).send().await),
        other => panic!("unknown op {other}"),
    }
}

/// The raw request of `op` for an anonymous client.
fn anonymous_request(op: &str, bucket: &str) -> (&'static str, String, Vec<u8>) {
    match op {
        "HeadBucket" => ("HEAD", format!("/{bucket}"), vec![]),
        "ListObjectsV2" => ("GET", format!("/{bucket}?list-type=2"), vec![]),
        "GetObject" => ("GET", format!("/{bucket}/obj"), vec![]),
        "HeadObject" => ("HEAD", format!("/{bucket}/obj"), vec![]),
        "HeadMissingObject" => ("HEAD", format!("/{bucket}/missing"), vec![]),
        "GetObjectTagging" => ("GET", format!("/{bucket}/obj?tagging"), vec![]),
        "ListMultipartUploads" => ("GET", format!("/{bucket}?uploads"), vec![]),
        "ListObjectVersions" => ("GET", format!("/{bucket}?versions"), vec![]),
        "PutObject" => ("PUT", format!("/{bucket}/scratch"), b"w".to_vec()),
        "DeleteObject" => ("DELETE", format!("/{bucket}/scratch"), vec![]),
        "DeleteObjects" => ("POST", format!("/{bucket}?delete"), b"<Delete><Object><Key>scratch</Key></Object></Delete>".to_vec()),
        "CopyObject" => ("PUT", format!("/{bucket}/scratch"), vec![]),
        "PutObjectTagging" => ("PUT", format!("/{bucket}/obj?tagging"), b"<Tagging><TagSet></TagSet></Tagging>".to_vec()),
        "CreateMultipartUpload" => ("POST", format!("/{bucket}/scratch?uploads"), vec![]),
        "DeleteBucket" => ("DELETE", format!("/{bucket}"), vec![]),
        "GetBucketAcl" => ("GET", format!("/{bucket}?acl"), vec![]),
        other => panic!("unknown op {other}"),
    }
}

fn expected(role: Option<&str>, own: bool, public: bool, kind: Kind) -> bool {
    match role {
        None => public && kind == Kind::PublicRead,
        Some(_) if !own => public && kind == Kind::PublicRead,
        Some("reader") => matches!(kind, Kind::PublicRead | Kind::Read),
        Some("writer") => kind != Kind::Manage,
        Some(_) => true,
    }
}

#[tokio::test]
async fn access_matrix_of_two_tenants() {
    // Every anonymous cell is a refusal: no failure budget, so each cell shows the decision.
    let gw = Gateway::start_with(|c| c.limits.unauthenticated_failures = 0).await;
    let root = root_conn(&gw);
    let mut clients: Vec<(String, Option<&str>, Option<Client>)> = Vec::new();
    for t in ["ta", "tb"] {
        for role in ["admin", "writer", "reader"] {
            let (ak, sk) = user(&gw, t, role, role).await;
            clients.push((t.to_owned(), Some(role), Some(gw.client_with(&ak, &sk))));
        }
    }
    clients.push((String::new(), None, None));

    // Buckets: ta-private (ta), tb-private (tb), tb-public (tb, public-read); each holds "obj".
    let rc = gw.client();
    for (b, owner, public) in [("ta-private", "ta", false), ("tb-private", "tb", false), ("tb-public", "tb", true)] {
        rc.create_bucket().bucket(b).send().await.unwrap();
        rc.put_object().bucket(b).key("obj").body(b"o".to_vec().into()).send().await.unwrap();
        let vis = if public { "public-read" } else { "private" };
        call(&root, "PUT", &format!("buckets/{b}"), Some(json!({"tenant": owner, "visibility": vis}))).await.unwrap();
    }

    let mut cells = 0;
    for (tenant, role, client) in &clients {
        for (bucket, owner, public) in [("ta-private", "ta", false), ("tb-private", "tb", false), ("tb-public", "tb", true)] {
            for (op, kind) in OPS {
                let status = match client {
                    Some(c) => run(c, op, bucket).await,
                    None => {
                        let (m, path, body) = anonymous_request(op, bucket);
                        raw(gw.addr, m, &path, &[], &body, None).await.status
                    }
                };
                let allowed = expected(*role, tenant == owner, public, kind);
                assert_eq!(status != 403, allowed, "{role:?}@{tenant} {op} on {bucket}: status {status}");
                if allowed {
                    assert!(status < 500, "{role:?}@{tenant} {op} on {bucket}: status {status}");
                }
                cells += 1;
            }
        }
    }
    assert_eq!(cells, 7 * 3 * OPS.len());

    // ListBuckets shows each tenant only its own buckets.
    for (tenant, _, client) in &clients {
        let Some(c) = client else { continue };
        let names: Vec<String> = c.list_buckets().send().await.unwrap().buckets().iter().filter_map(|b| b.name().map(str::to_owned)).collect();
        let want: Vec<&str> = if tenant == "ta" { vec!["ta-private"] } else { vec!["tb-private", "tb-public"] };
        assert_eq!(names, want, "{tenant}");
    }
    // A name another tenant owns is BucketAlreadyExists.
    let ta_admin = clients[0].2.as_ref().unwrap();
    let e = ta_admin.create_bucket().bucket("tb-private").send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "BucketAlreadyExists");
    ta_admin.create_bucket().bucket("ta-second").send().await.unwrap();
    // Copying from a foreign bucket is denied, even into one's own.
    let ta_writer = clients[1].2.as_ref().unwrap();
    let e = ta_writer.copy_object().bucket("ta-private").key("stolen").copy_source("tb-private/obj").send().await.unwrap_err();
    assert_eq!(status(&e), 403);
    // A public-read source may be copied, as it may be downloaded.
    ta_writer.copy_object().bucket("ta-private").key("fine").copy_source("tb-public/obj").send().await.unwrap();
    let e = ta_writer.upload_part_copy().bucket("ta-private").key("k").upload_id("x").part_number(1).copy_source("tb-private/obj").send().await.unwrap_err();
    assert_eq!(status(&e), 403);
}

#[tokio::test]
async fn disabled_and_deleted_keys_are_refused_at_once_and_secrets_stay_secret() {
    let gw = Gateway::start().await;
    let root = root_conn(&gw);
    let (ak, sk) = user(&gw, "acme", "ann", "writer").await;
    let c = gw.client_with(&ak, &sk);
    c.list_buckets().send().await.unwrap();

    call(&root, "POST", &format!("keys/{ak}/disable"), None).await.unwrap();
    let e = c.list_buckets().send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "InvalidAccessKeyId");
    call(&root, "POST", &format!("keys/{ak}/enable"), None).await.unwrap();
    c.list_buckets().send().await.unwrap();

    let listed = call(&root, "GET", "keys", None).await.unwrap();
    assert!(!listed.to_string().contains(&sk), "listings never show secrets");
    let audit = call(&root, "GET", "audit", None).await.unwrap();
    assert!(!audit.to_string().contains(&sk), "audit entries never hold secrets");

    // The admin API is for admins: a writer key is refused, and the refusal is audited.
    let writer = conn(&gw, &ak, &sk);
    assert!(call(&writer, "GET", "tenants", None).await.unwrap_err().contains("403"));
    let denied = call(&root, "GET", &format!("audit?outcome=denied&principal={ak}"), None).await.unwrap();
    assert!(!denied.as_array().unwrap().is_empty());

    call(&root, "DELETE", &format!("keys/{ak}"), None).await.unwrap();
    let e = c.list_buckets().send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "InvalidAccessKeyId");

    // Secrets are not readable in the data directory.
    let (_, sk2) = user(&gw, "acme", "bob", "reader").await;
    let dir = gw.stop().await;
    let mut hits = Vec::new();
    grep_dir(dir.path(), sk2.as_bytes(), &mut hits);
    assert!(hits.is_empty(), "secret found in {hits:?}");
}

fn grep_dir(dir: &std::path::Path, needle: &[u8], hits: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            grep_dir(&p, needle, hits);
        } else if std::fs::read(&p).unwrap().windows(needle.len()).any(|w| w == needle) {
            hits.push(p);
        }
    }
}

#[tokio::test]
async fn tenant_admins_manage_only_their_tenant() {
    let gw = Gateway::start().await;
    let (ak, sk) = user(&gw, "ta", "boss", "admin").await;
    user(&gw, "tb", "other", "writer").await;
    let admin = conn(&gw, &ak, &sk);
    let tenants = call(&admin, "GET", "tenants", None).await.unwrap();
    let names: Vec<&str> = tenants.as_array().unwrap().iter().filter_map(|t| t["name"].as_str()).collect();
    assert_eq!(names, ["ta"]);
    assert!(call(&admin, "POST", "tenants", Some(json!({"name": "tc"}))).await.unwrap_err().contains("403"));
    assert!(call(&admin, "POST", "users", Some(json!({"tenant": "tb", "name": "x", "role": "admin"}))).await.unwrap_err().contains("403"));
    call(&admin, "POST", "users", Some(json!({"tenant": "ta", "name": "new", "role": "reader"}))).await.unwrap();
    let k = call(&admin, "POST", "keys", Some(json!({"tenant": "ta", "user": "new"}))).await.unwrap();
    assert!(k["secret_key"].as_str().is_some_and(|s| s.len() == 40));
    let users = call(&admin, "GET", "users", None).await.unwrap();
    assert!(users.as_array().unwrap().iter().all(|u| u["tenant"] == "ta"));
    let audit = call(&admin, "GET", "audit", None).await.unwrap();
    assert!(audit.as_array().unwrap().iter().all(|e: &Value| e["tenant"] == "ta" || e["tenant"] == Value::Null));
    assert!(call(&admin, "GET", "audit?tenant=tb", None).await.unwrap_err().contains("403"));
    // Invalid input is refused clearly.
    assert!(call(&admin, "POST", "users", Some(json!({"tenant": "ta", "name": "../x", "role": "reader"}))).await.unwrap_err().contains("400"));
    assert!(call(&admin, "POST", "users", Some(json!({"tenant": "ta", "name": "y", "role": "god"}))).await.unwrap_err().contains("400"));
}

#[tokio::test]
async fn state_changes_are_audited_with_their_request() {
    let gw = Gateway::start().await;
    let root = root_conn(&gw);
    let c = gw.client();
    let b = gw.bucket("audited").await;
    c.put_object().bucket(&b).key("k").body(vec![1u8; 321].into()).send().await.unwrap();
    c.delete_object().bucket(&b).key("k").send().await.unwrap();
    let entries = call(&root, "GET", &format!("audit?bucket={b}"), None).await.unwrap();
    let ops: Vec<&str> = entries.as_array().unwrap().iter().filter_map(|e| e["operation"].as_str()).collect();
    assert_eq!(ops, ["CreateBucket", "PutObject", "DeleteObject"]);
    let put = &entries[1];
    assert_eq!(put["bytes"], 321);
    assert_eq!(put["outcome"], "ok");
    assert_eq!(put["principal"], ACCESS_KEY);
    assert!(put["source"].as_str().unwrap().starts_with("127.0.0.1:"));
    let id = put["request_id"].as_str().unwrap();
    assert!(id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    let r = raw(gw.addr, "GET", &format!("/{b}?list-type=2"), &[], b"", None).await;
    assert_eq!(r.status, 403);
    let denied = call(&root, "GET", "audit?outcome=denied", None).await.unwrap();
    assert_eq!(denied.as_array().unwrap().len(), 1);
    assert_eq!(denied[0]["operation"], "ListObjectsV2");
    assert_eq!(denied[0]["principal"], "");
}

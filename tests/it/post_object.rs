//! Browser form uploads (POST object): forms signed as boto3's `generate_presigned_post`
//! signs them (a SigV4 policy, base64, the HMAC chain of the day's key), posted raw.

use crate::common::*;
use crate::tenancy::{root_conn, user};

use serde_json::{Value, json};
use sha2::Digest as _;
use tollgate::admin::client::{call, request};

fn hmac(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&sha2::Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = sha2::Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(msg);
    let mut outer = sha2::Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

fn hex(b: &[u8]) -> String {
    hex_simd::encode_to_string(b, hex_simd::AsciiCase::Lower)
}

fn amz_date() -> String {
    time::OffsetDateTime::now_utc().format(time::macros::format_description!("[year][month][day]T[hour][minute][second]Z")).unwrap()
}

/// A form as `generate_presigned_post` makes it: the caller's fields and conditions, then
/// the bucket, the key (`starts-with` its prefix when it ends in `${filename}`) and the
/// signing fields; the policy signed with `secret`.
struct Form {
    access_key: String,
    secret: String,
    bucket: String,
    key: String,
    fields: Vec<(String, String)>,
    conditions: Vec<Value>,
    expiration: String,
    file_name: String,
    file_type: String,
}

impl Form {
    fn new(bucket: &str, key: &str) -> Self {
        Self {
            access_key: ACCESS_KEY.into(),
            secret: SECRET_KEY.into(),
            bucket: bucket.into(),
            key: key.into(),
            fields: Vec::new(),
            conditions: Vec::new(),
            expiration: "2099-01-01T00:00:00.000Z".into(),
            file_name: "photo.txt".into(),
            file_type: "text/plain".into(),
        }
    }

    fn by(mut self, (ak, sk): &(String, String)) -> Self {
        self.access_key.clone_from(ak);
        self.secret.clone_from(sk);
        self
    }

    /// A field the policy covers with `eq`.
    fn field(mut self, name: &str, value: &str) -> Self {
        self.fields.push((name.into(), value.into()));
        self.conditions.push(json!({ name: value }));
        self
    }

    fn condition(mut self, c: Value) -> Self {
        self.conditions.push(c);
        self
    }

    /// The form's fields, signed (the file goes last, as S3 requires).
    fn signed(&self) -> Vec<(String, String)> {
        let date = amz_date();
        let credential = format!("{}/{}/us-east-1/s3/aws4_request", self.access_key, &date[..8]);
        let mut conditions = self.conditions.clone();
        conditions.push(json!({"bucket": self.bucket}));
        match self.key.strip_suffix("${filename}") {
            Some(prefix) => conditions.push(json!(["starts-with", "$key", prefix])),
            None => conditions.push(json!({"key": self.key})),
        }
        conditions.push(json!({"x-amz-algorithm": "AWS4-HMAC-SHA256"}));
        conditions.push(json!({"x-amz-credential": credential}));
        conditions.push(json!({"x-amz-date": date}));
        let policy = base64_simd::STANDARD.encode_to_string(json!({"expiration": self.expiration, "conditions": conditions}).to_string());
        let k = hmac(format!("AWS4{}", self.secret).as_bytes(), &date.as_bytes()[..8]);
        let k = hmac(&hmac(&hmac(&k, b"us-east-1"), b"s3"), b"aws4_request");
        let signature = hex(&hmac(&k, policy.as_bytes()));
        let mut fields = self.fields.clone();
        fields.extend([
            ("key".to_owned(), self.key.clone()),
            ("x-amz-algorithm".to_owned(), "AWS4-HMAC-SHA256".to_owned()),
            ("x-amz-credential".to_owned(), credential),
            ("x-amz-date".to_owned(), date),
            ("policy".to_owned(), policy),
            ("x-amz-signature".to_owned(), signature),
        ]);
        fields
    }
}

/// A multipart/form-data body of `fields` then, if given, the file part.
fn body(fields: &[(String, String)], file: Option<(&str, &str, &[u8])>) -> Vec<u8> {
    let mut b = Vec::new();
    for (name, value) in fields {
        b.extend_from_slice(format!("--FoRm\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes());
    }
    if let Some((name, ct, data)) = file {
        b.extend_from_slice(format!("--FoRm\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: {ct}\r\n\r\n").as_bytes());
        b.extend_from_slice(data);
        b.extend_from_slice(b"\r\n");
    }
    b.extend_from_slice(b"--FoRm--\r\n");
    b
}

async fn post_fields(gw: &Gateway, bucket: &str, fields: &[(String, String)], file: Option<(&str, &str, &[u8])>) -> RawResponse {
    let ct = vec![("content-type".to_owned(), "multipart/form-data; boundary=FoRm".to_owned())];
    raw(gw.addr, "POST", &format!("/{bucket}"), &ct, &body(fields, file), None).await
}

async fn post(gw: &Gateway, form: &Form, data: &[u8]) -> RawResponse {
    post_fields(gw, &form.bucket, &form.signed(), Some((&form.file_name, &form.file_type, data))).await
}

fn xml_field(text: &str, tag: &str) -> Option<String> {
    let start = text.find(&format!("<{tag}>"))? + tag.len() + 2;
    let end = text[start..].find(&format!("</{tag}>"))? + start;
    Some(text[start..end].to_owned())
}

/// The (status, code, message) of a refusal.
fn refusal(r: &RawResponse) -> (u16, String, String) {
    let t = r.text();
    (r.status, xml_field(&t, "Code").unwrap_or_default(), xml_field(&t, "Message").unwrap_or_default())
}

async fn keys(gw: &Gateway, bucket: &str) -> Vec<String> {
    let l = gw.client().list_objects_v2().bucket(bucket).send().await.unwrap();
    l.contents().iter().filter_map(|o| o.key().map(str::to_owned)).collect()
}

#[tokio::test]
async fn a_form_upload_is_stored_and_answered_as_asked() {
    let gw = Gateway::start().await;
    let b = gw.bucket("forms").await;
    let c = gw.client();

    // Default: 204, the object with its type and metadata.
    let form = Form::new(&b, "plain").field("Content-Type", "text/plain").field("x-amz-meta-owner", "ann");
    let r = post(&gw, &form, b"hello form").await;
    assert_eq!(r.status, 204, "{}", r.text());
    let head = c.head_object().bucket(&b).key("plain").send().await.unwrap();
    assert_eq!(head.content_type(), Some("text/plain"));
    assert_eq!(head.metadata().unwrap().get("owner").map(String::as_str), Some("ann"));
    assert_eq!(head.content_length(), Some(10));
    assert_eq!(r.header("etag"), head.e_tag(), "the ETag is answered");

    // 201: the PostResponse document names the key stored, `${filename}` substituted.
    let form = Form::new(&b, "uploads/${filename}").field("success_action_status", "201");
    let r = post(&gw, &form, b"created").await;
    assert_eq!(r.status, 201, "{}", r.text());
    let t = r.text();
    assert_eq!(xml_field(&t, "Key").as_deref(), Some("uploads/photo.txt"), "{t}");
    assert_eq!(xml_field(&t, "Bucket").as_deref(), Some(b.as_str()));
    assert_eq!(xml_field(&t, "Location").as_deref(), Some(format!("/{b}/uploads/photo.txt").as_str()));
    let got = c.get_object().bucket(&b).key("uploads/photo.txt").send().await.unwrap();
    let etag = got.e_tag().unwrap().to_owned();
    assert_eq!(xml_field(&t, "ETag").unwrap(), etag);
    assert_eq!(&got.body.collect().await.unwrap().into_bytes()[..], b"created");

    // 200: an empty answer.
    let r = post(&gw, &Form::new(&b, "ok200").field("success_action_status", "200"), b"x").await;
    assert_eq!((r.status, r.body.len()), (200, 0), "{}", r.text());

    // A browser that sends a path keeps only the base name.
    let mut form = Form::new(&b, "uploads/${filename}");
    form.file_name = "C:\\fakepath\\scan.pdf".into();
    assert_eq!(post(&gw, &form, b"pdf").await.status, 204);
    assert!(keys(&gw, &b).await.contains(&"uploads/scan.pdf".to_owned()));
}

#[tokio::test]
async fn a_redirect_names_bucket_key_and_etag() {
    let gw = Gateway::start().await;
    let b = gw.bucket("redir").await;
    let form = Form::new(&b, "in/${filename}").field("success_action_redirect", "https://app.example/done?from=form");
    let r = post(&gw, &form, b"redirected").await;
    assert_eq!(r.status, 303, "{}", r.text());
    let location = url::Url::parse(r.header("location").unwrap()).unwrap();
    assert_eq!((location.host_str(), location.path()), (Some("app.example"), "/done"));
    let q: std::collections::HashMap<String, String> = location.query_pairs().into_owned().collect();
    assert_eq!(q.get("from").map(String::as_str), Some("form"));
    assert_eq!(q.get("bucket"), Some(&b));
    assert_eq!(q.get("key").map(String::as_str), Some("in/photo.txt"));
    let head = gw.client().head_object().bucket(&b).key("in/photo.txt").send().await.unwrap();
    assert_eq!(q.get("etag").map(String::as_str), head.e_tag());

    // A redirect that is no URL is refused before anything is stored.
    let form = Form::new(&b, "bad-redirect").field("success_action_redirect", "not a url");
    let (status, code, _) = refusal(&post(&gw, &form, b"x").await);
    assert_eq!((status, code.as_str()), (400, "InvalidArgument"));
    assert!(!keys(&gw, &b).await.contains(&"bad-redirect".to_owned()));
}

#[tokio::test]
async fn bad_forms_get_the_s3_error_and_store_nothing() {
    let gw = Gateway::start_with(|c| c.storage.max_object_size = 1000).await;
    let b = gw.bucket("badforms").await;

    // A forged signature.
    let mut fields = Form::new(&b, "forged").signed();
    let sig = fields.iter_mut().find(|(n, _)| n == "x-amz-signature").unwrap();
    sig.1 = "0".repeat(64);
    let (status, code, _) = refusal(&post_fields(&gw, &b, &fields, Some(("f.txt", "text/plain", b"x"))).await);
    assert_eq!((status, code.as_str()), (403, "SignatureDoesNotMatch"));

    // An expired policy.
    let mut form = Form::new(&b, "expired");
    form.expiration = "2020-01-01T00:00:00.000Z".into();
    assert_eq!(refusal(&post(&gw, &form, b"x").await), (403, "AccessDenied".into(), "Invalid according to Policy: Policy expired.".into()));

    // Over the policy's content-length-range, under it, and over the gateway's limit.
    let form = Form::new(&b, "ranged").condition(json!(["content-length-range", 2, 5]));
    assert_eq!(refusal(&post(&gw, &form, b"too long").await).1, "EntityTooLarge");
    assert_eq!(refusal(&post(&gw, &form, b"x").await).1, "EntityTooSmall");
    let (status, code, _) = refusal(&post(&gw, &Form::new(&b, "huge"), &[7u8; 1001]).await);
    assert_eq!((status, code.as_str()), (400, "EntityTooLarge"));

    // A field no condition covers, and a condition the form does not meet.
    let mut fields = Form::new(&b, "extra").signed();
    fields.insert(0, ("x-amz-meta-evil".into(), "1".into()));
    let r = post_fields(&gw, &b, &fields, Some(("f.txt", "text/plain", b"x"))).await;
    assert_eq!(refusal(&r), (403, "AccessDenied".into(), "Invalid according to Policy: Extra input fields: x-amz-meta-evil".into()));
    let mut fields = Form::new(&b, "meta").field("x-amz-meta-tag", "good").signed();
    fields[0].1 = "bad".into();
    let (status, code, message) = refusal(&post_fields(&gw, &b, &fields, Some(("f.txt", "text/plain", b"x"))).await);
    assert_eq!((status, code.as_str()), (403, "AccessDenied"));
    assert_eq!(message, r#"Invalid according to Policy: Policy Condition failed: ["eq", "$x-amz-meta-tag", "good"]"#);
    let form = Form::new(&b, "typed").condition(json!(["starts-with", "$Content-Type", "image/"]));
    let mut fields = form.signed();
    fields.insert(0, ("Content-Type".into(), "text/html".into()));
    assert_eq!(refusal(&post_fields(&gw, &b, &fields, Some(("f.txt", "text/plain", b"x"))).await).0, 403);

    // Encryption fields need a condition too (s3s lets them through, S3 does not).
    let mut fields = Form::new(&b, "sse").signed();
    fields.insert(0, ("x-amz-server-side-encryption".into(), "AES256".into()));
    let (status, _, message) = refusal(&post_fields(&gw, &b, &fields, Some(("f.txt", "text/plain", b"x"))).await);
    assert_eq!((status, message.as_str()), (403, "Invalid according to Policy: Extra input fields: x-amz-server-side-encryption"));
    // Covered by the policy, it is honoured as a PUT's: the object is sealed (SSE-S3).
    let form = Form::new(&b, "sse").field("x-amz-server-side-encryption", "AES256");
    assert_eq!(post(&gw, &form, b"x").await.status, 204);
    let head = gw.client().head_object().bucket(&b).key("sse").send().await.unwrap();
    assert_eq!(head.server_side_encryption().map(|s| s.as_str()), Some("AES256"));
    gw.client().delete_object().bucket(&b).key("sse").send().await.unwrap();
    let form = Form::new(&b, "kms").field("x-amz-server-side-encryption", "aws:kms:dsse");
    assert_eq!(refusal(&post(&gw, &form, b"x").await).0, 501, "DSSE-KMS is not done");

    // No key field, no file.
    let fields: Vec<_> = Form::new(&b, "nokey").signed().into_iter().filter(|(n, _)| n != "key").collect();
    let (status, code, _) = refusal(&post_fields(&gw, &b, &fields, Some(("f.txt", "text/plain", b"x"))).await);
    assert_eq!((status, code.as_str()), (400, "InvalidArgument"));
    let (status, code, message) = refusal(&post_fields(&gw, &b, &Form::new(&b, "nofile").signed(), None).await);
    assert_eq!((status, code.as_str()), (400, "MalformedPOSTRequest"));
    assert!(message.contains("multipart/form-data"), "{message}");

    assert_eq!(keys(&gw, &b).await, Vec::<String>::new(), "no refused form stored anything");
}

#[tokio::test]
async fn a_checksum_field_is_verified() {
    let gw = Gateway::start().await;
    let b = gw.bucket("sums").await;
    let data = b"checked body";
    let good = base64_simd::STANDARD.encode_to_string(sha2::Sha256::digest(data));
    let form = Form::new(&b, "good").field("x-amz-checksum-sha256", &good);
    assert_eq!(post(&gw, &form, data).await.status, 204);
    let bad = base64_simd::STANDARD.encode_to_string(sha2::Sha256::digest(b"other"));
    let form = Form::new(&b, "bad").field("x-amz-checksum-sha256", &bad);
    let (status, code, _) = refusal(&post(&gw, &form, data).await);
    assert_eq!(status, 400, "{code}");
    assert_eq!(keys(&gw, &b).await, vec!["good".to_owned()]);
}

#[tokio::test]
async fn roles_and_tenants_decide_a_form_upload_as_a_put() {
    let gw = Gateway::start().await;
    let writer = user(&gw, "a", "wendy", "writer").await;
    let reader = user(&gw, "a", "rita", "reader").await;
    let stranger = user(&gw, "b", "sam", "admin").await;
    let admin = user(&gw, "a", "ada", "admin").await;
    client_for(&gw.endpoint(), &admin.0, &admin.1).create_bucket().bucket("team-a").send().await.unwrap();

    assert_eq!(post(&gw, &Form::new("team-a", "w").by(&writer), b"w").await.status, 204);
    for (who, key) in [(&reader, "r"), (&stranger, "s")] {
        let (status, code, _) = refusal(&post(&gw, &Form::new("team-a", key).by(who), b"x").await);
        assert_eq!((status, code.as_str()), (403, "AccessDenied"), "{key}");
    }
    assert_eq!(keys(&gw, "team-a").await, vec!["w".to_owned()]);
    // An anonymous form (no policy, no signature) is refused: no bucket takes anonymous writes.
    let anonymous = vec![("key".to_owned(), "anon".to_owned())];
    let (status, code, _) = refusal(&post_fields(&gw, "team-a", &anonymous, Some(("a.txt", "text/plain", b"x"))).await);
    assert_eq!((status, code.as_str()), (403, "AccessDenied"));
    // A bucket that does not exist is 404, whoever asks.
    assert_eq!(refusal(&post(&gw, &Form::new("nowhere", "k").by(&writer), b"x").await).0, 404);

    // The audit log names the operation and the key written.
    let audit = call(&root_conn(&gw), "GET", "audit?bucket=team-a", None).await.unwrap();
    let entries = audit.as_array().unwrap();
    assert!(entries.iter().any(|e| e["operation"] == "PostObject" && e["key"] == "w" && e["outcome"] == "ok"), "{audit}");
    assert!(entries.iter().any(|e| e["operation"] == "PostObject" && e["key"] == "r" && e["outcome"] == "denied"), "{audit}");
}

#[tokio::test]
async fn topic_rules_apply_to_form_uploads() {
    let gw = Gateway::start().await;
    let alice = user(&gw, "a", "alice", "writer").await;
    let zed = user(&gw, "b", "zed", "writer").await;
    let carol = user(&gw, "a", "carol", "admin").await;
    client_for(&gw.endpoint(), &carol.0, &carol.1).create_bucket().bucket("team").send().await.unwrap();
    let root = root_conn(&gw);
    for (name, rule) in [
        ("inbox", json!({"write": "append-open", "read": "auth", "max_size": 10, "content_types": ["text/plain"]})),
        ("log", json!({"write": "append-auth", "read": "open", "content_addressed": true})),
        ("snap", json!({"write": "single-auth", "read": "auth"})),
    ] {
        call(&root, "PUT", &format!("topics/team/{name}"), Some(rule)).await.unwrap();
    }
    let form = |who: &(String, String), key: &str| Form::new("team", key).by(who).field("Content-Type", "text/plain");

    // An open mailbox takes a form from another tenant, within its size and types.
    assert_eq!(post(&gw, &form(&zed, "inbox/alice/m1"), b"hi alice").await.status, 204);
    let (status, code, _) = refusal(&post(&gw, &form(&zed, "inbox/alice/m2"), b"much too long").await);
    assert_eq!((status, code.as_str()), (400, "EntityTooLarge"));
    let typed = Form::new("team", "inbox/alice/m3").by(&zed).field("Content-Type", "text/html");
    assert_eq!(refusal(&post(&gw, &typed, b"<b>").await).1, "InvalidArgument");
    // Append-only: the same key again is refused (403, as a PUT's overwrite).
    assert_eq!(refusal(&post(&gw, &form(&zed, "inbox/alice/m1"), b"again").await).1, "AccessDenied");
    // Not into an invented owner's space.
    assert_eq!(refusal(&post(&gw, &form(&zed, "inbox/nobody/m"), b"x").await).1, "AccessDenied");

    // Content-addressed: the name is the body's SHA-256.
    let data = b"{\"event\":1}";
    let name = hex(&sha2::Sha256::digest(data));
    assert_eq!(post(&gw, &form(&alice, &format!("log/alice/{name}")), data).await.status, 204);
    let wrong = hex(&sha2::Sha256::digest(b"other"));
    assert_eq!(refusal(&post(&gw, &form(&alice, &format!("log/alice/{wrong}")), data).await).0, 400);

    // single-*: a create needs If-None-Match: * (a form field, in the policy like any).
    assert_eq!(refusal(&post(&gw, &form(&alice, "snap/alice/s"), b"v1").await).1, "PreconditionFailed");
    assert_eq!(post(&gw, &form(&alice, "snap/alice/s").field("if-none-match", "*"), b"v1").await.status, 204);

    let mut stored = keys(&gw, "team").await;
    stored.sort();
    assert_eq!(stored, vec!["inbox/alice/m1".to_owned(), format!("log/alice/{name}"), "snap/alice/s".to_owned()]);
}

#[tokio::test]
async fn quotas_and_proofs_apply_to_form_uploads() {
    let gw = Gateway::start().await;
    let b = gw.bucket("quoted").await;
    let root = root_conn(&gw);
    call(&root, "PUT", &format!("quotas/bucket/{b}"), Some(json!({"max_objects": 1}))).await.unwrap();
    let data = b"proved by form";
    assert_eq!(post(&gw, &Form::new(&b, "first"), data).await.status, 204);
    let (status, code, _) = refusal(&post(&gw, &Form::new(&b, "second"), b"x").await);
    assert_eq!((status, code.as_str()), (403, "QuotaExceeded"));
    assert_eq!(keys(&gw, &b).await, vec!["first".to_owned()]);

    let manifests = request(&root, "GET", &format!("/_tollgate/proofs/object/{b}/first"), Vec::new()).await.unwrap();
    let m = &manifests.as_array().unwrap()[0];
    assert_eq!(m["sha256"], hex(&sha2::Sha256::digest(data)));
    assert_eq!(m["size"], data.len());
}

#[tokio::test]
async fn a_byte_limit_slows_a_form_upload_as_a_put() {
    let gw = Gateway::start_with(|c| c.limits.key = tollgate::limits::Rates { write_bytes: 64 << 10, ..tollgate::limits::Rates::default() }).await;
    let writer = user(&gw, "alpha", "w", "admin").await;
    client_for(&gw.endpoint(), &writer.0, &writer.1).create_bucket().bucket("slow").send().await.unwrap();
    let body = data(192 << 10, 7);
    let started = std::time::Instant::now();
    assert_eq!(post(&gw, &Form::new("slow", "big").by(&writer), &body).await.status, 204);
    let took = started.elapsed();
    // A burst of 64 KiB, then 128 KiB at 64 KiB/s.
    assert!(took >= std::time::Duration::from_millis(1800), "192 KiB at 64 KiB/s took only {took:?}");
}

#[tokio::test]
async fn bucket_acl_grants_open_form_uploads_to_others() {
    use aws_sdk_s3::types::{BucketCannedAcl, ObjectOwnership};
    let gw = Gateway::start().await;
    let boss = user(&gw, "owner-co", "boss", "admin").await;
    let partner = user(&gw, "partner-co", "pat", "writer").await;
    let owner = client_for(&gw.endpoint(), &boss.0, &boss.1);
    owner.create_bucket().bucket("drop").object_ownership(ObjectOwnership::BucketOwnerPreferred).send().await.unwrap();
    let anonymous = |key: &str| vec![("key".to_owned(), key.to_owned())];

    // Closed: another tenant's form and an anonymous one are refused.
    assert_eq!(refusal(&post(&gw, &Form::new("drop", "p1").by(&partner), b"x").await).1, "AccessDenied");
    assert_eq!(refusal(&post_fields(&gw, "drop", &anonymous("a1"), Some(("a.txt", "text/plain", b"x"))).await).1, "AccessDenied");

    // A WRITE grant to the partner's tenant admits its signed forms.
    owner.put_bucket_acl().bucket("drop").grant_write("id=\"partner-co\"").send().await.unwrap();
    assert_eq!(post(&gw, &Form::new("drop", "p2").by(&partner), b"from partner").await.status, 204);
    // The form's `acl` field is the object's ACL, as a PutObject's header.
    assert_eq!(post(&gw, &Form::new("drop", "p3").by(&partner).field("acl", "public-read"), b"shared").await.status, 204);
    assert_eq!(raw(gw.addr, "GET", "/drop/p3", &[], b"", None).await.status, 200);
    assert_eq!(raw(gw.addr, "GET", "/drop/p2", &[], b"", None).await.status, 403);
    let partner_client = client_for(&gw.endpoint(), &partner.0, &partner.1);
    assert!(partner_client.get_object().bucket("drop").key("p2").send().await.is_ok(), "its writer has full control of it");

    // public-read-write admits anonymous forms (no policy, no signature), as S3 does.
    owner.put_bucket_acl().bucket("drop").acl(BucketCannedAcl::PublicReadWrite).send().await.unwrap();
    let r = post_fields(&gw, "drop", &anonymous("a2"), Some(("a.txt", "text/plain", b"anonymous"))).await;
    assert_eq!(r.status, 204, "{}", r.text());
    let mut stored = keys(&gw, "drop").await;
    stored.sort();
    assert_eq!(stored, vec!["a2".to_owned(), "p2".to_owned(), "p3".to_owned()]);
}

#[tokio::test]
async fn bucket_policies_decide_form_uploads_as_puts() {
    let gw = Gateway::start().await;
    let boss = user(&gw, "pol-co", "boss", "admin").await;
    let intern = user(&gw, "pol-co", "intern", "writer").await;
    let owner = client_for(&gw.endpoint(), &boss.0, &boss.1);
    owner.create_bucket().bucket("polforms").send().await.unwrap();
    let policy = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "NoInternUploads", "Effect": "Deny", "Principal": {"AWS": ["arn:aws:iam::pol-co:user/intern"]},
         "Action": "s3:PutObject", "Resource": "arn:aws:s3:::polforms/locked/*"},
        {"Sid": "DropBox", "Effect": "Allow", "Principal": "*", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::polforms/dropbox/*"}
    ]});
    owner.put_bucket_policy().bucket("polforms").policy(policy.to_string()).send().await.unwrap();

    // The explicit Deny binds the bucket's own writer on its keys, and only there.
    assert_eq!(refusal(&post(&gw, &Form::new("polforms", "locked/x").by(&intern), b"x").await).1, "AccessDenied");
    assert_eq!(post(&gw, &Form::new("polforms", "open/x").by(&intern), b"x").await.status, 204);
    // The Allow to anyone admits an anonymous form under its prefix, nowhere else.
    let anonymous = |key: &str| vec![("key".to_owned(), key.to_owned())];
    let r = post_fields(&gw, "polforms", &anonymous("dropbox/${filename}"), Some(("a.txt", "text/plain", b"dropped"))).await;
    assert_eq!(r.status, 204, "{}", r.text());
    let r = post_fields(&gw, "polforms", &anonymous("elsewhere/a.txt"), Some(("a.txt", "text/plain", b"x"))).await;
    assert_eq!(refusal(&r).1, "AccessDenied");
    let mut stored = keys(&gw, "polforms").await;
    stored.sort();
    assert_eq!(stored, vec!["dropbox/a.txt".to_owned(), "open/x".to_owned()]);
    // The deciding statement is in the audit entry.
    let audit = call(&root_conn(&gw), "GET", "audit?bucket=polforms", None).await.unwrap();
    assert!(
        audit.as_array().unwrap().iter().any(|e| e["operation"] == "PostObject" && e["key"] == "locked/x" && e["decided_by"] == "policy:NoInternUploads"),
        "{audit}"
    );
}

/// s3s reads a form's file into memory before the signature is checked: an unsigned form
/// larger than `server.max_form_file_bytes` is refused while it is read (the object limit,
/// 5 TiB by default, would let it exhaust memory), and nothing is stored.
#[tokio::test]
async fn an_unsigned_form_is_bounded_by_the_form_file_limit() {
    let gw = Gateway::start_with(|c| c.server.max_form_file_bytes = 64 << 10).await;
    let b = gw.bucket("formcap").await;
    let fields = vec![("key".to_owned(), "big".to_owned())];
    let (status, code, _) = refusal(&post_fields(&gw, &b, &fields, Some(("big.bin", "application/octet-stream", &[1u8; 65 << 10]))).await);
    assert_eq!((status, code.as_str()), (400, "EntityTooLarge"));
    // A signed form within the limit is stored.
    assert_eq!(post(&gw, &Form::new(&b, "small"), &[2u8; 60 << 10]).await.status, 204);
    assert_eq!(keys(&gw, &b).await, vec!["small".to_owned()]);
}

//! Bucket policies (issue 23 item 1): stored as written, validated at PutBucketPolicy, and
//! decided with tenants, ACLs and topics as AWS orders it: an explicit Deny wins (root
//! excepted), then any Allow, else AccessDenied. The deciding statement is audited.

use crate::common::*;
use crate::tenancy::{root_conn, user};
use tollgate::admin::client::call;

use serde_json::json;

/// The owner's admin client, a bucket it owns with `shared/doc` and `private/doc`, and
/// another tenant's reader.
async fn setup(gw: &Gateway, name: &str) -> (aws_sdk_s3::Client, String, aws_sdk_s3::Client) {
    let (ak, sk) = user(gw, &format!("{name}-own"), "boss", "admin").await;
    let owner = gw.client_with(&ak, &sk);
    let (pk, ps) = user(gw, &format!("{name}-ptn"), "reader", "reader").await;
    let partner = gw.client_with(&pk, &ps);
    let b = format!("{name}-{}", std::process::id());
    owner.create_bucket().bucket(&b).send().await.unwrap();
    for k in ["shared/doc", "private/doc"] {
        owner.put_object().bucket(&b).key(k).body(b"hello".to_vec().into()).send().await.unwrap();
    }
    (owner, b, partner)
}

async fn put_policy(c: &aws_sdk_s3::Client, b: &str, policy: serde_json::Value) {
    c.put_bucket_policy().bucket(b).policy(policy.to_string()).send().await.unwrap();
}

fn denied<E: aws_sdk_s3::error::ProvideErrorMetadata, R>(r: Result<R, aws_sdk_s3::error::SdkError<E, aws_smithy_runtime_api::http::Response>>) -> bool {
    matches!(r, Err(e) if e.as_service_error().and_then(|s| s.code()) == Some("AccessDenied"))
}

/// A policy round-trips as written; malformed ones are refused with the reason; the status says public.
#[tokio::test]
async fn policies_round_trip_and_malformed_ones_are_refused() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("pol-rt").await;
    let e = c.get_bucket_policy().bucket(&b).send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "NoSuchBucketPolicy");

    let text = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"Pub","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::{b}/public/*"}}]}}"#
    );
    c.put_bucket_policy().bucket(&b).policy(&text).send().await.unwrap();
    assert_eq!(c.get_bucket_policy().bucket(&b).send().await.unwrap().policy(), Some(text.as_str()), "returned as written");
    let policy_status = c.get_bucket_policy_status().bucket(&b).send().await.unwrap();
    assert_eq!(policy_status.policy_status().unwrap().is_public(), Some(true));

    for (bad, why) in [
        ("not json".to_owned(), "json"),
        (json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:Fly","Resource":format!("arn:aws:s3:::{b}/*")}]}).to_string(), "action"),
        (json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::another-bucket/*"}]}).to_string(), "resource"),
        (json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":format!("arn:aws:s3:::{b}/*"),"Condition":{"StringEquals":{"aws:Nonsense":"x"}}}]}).to_string(), "condition key"),
        (json!({"Version":"2012-10-17","Statement":[{"Effect":"Maybe","Principal":"*","Action":"s3:GetObject","Resource":format!("arn:aws:s3:::{b}/*")}]}).to_string(), "effect"),
    ] {
        let e = c.put_bucket_policy().bucket(&b).policy(bad).send().await.unwrap_err();
        assert_eq!(status(&e), 400, "{why}");
        assert_eq!(code(e.as_service_error().unwrap()), "MalformedPolicy", "{why}");
    }
    assert_eq!(c.get_bucket_policy().bucket(&b).send().await.unwrap().policy(), Some(text.as_str()), "a refused policy changes nothing");

    let dir = gw.stop().await;
    let gw = Gateway::start_in(dir, |_| {}).await;
    let c = gw.client();
    assert_eq!(c.get_bucket_policy().bucket(&b).send().await.unwrap().policy(), Some(text.as_str()), "kept across a restart");
    c.put_object().bucket(&b).key("public/x").body(b"p".to_vec().into()).send().await.unwrap();
    assert_eq!(raw(gw.addr, "GET", &format!("/{b}/public/x"), &[], b"", None).await.status, 200, "compiled again at start");
    c.delete_bucket_policy().bucket(&b).send().await.unwrap();
    assert_eq!(code(c.get_bucket_policy().bucket(&b).send().await.unwrap_err().as_service_error().unwrap()), "NoSuchBucketPolicy");
    assert_eq!(raw(gw.addr, "GET", &format!("/{b}/public/x"), &[], b"", None).await.status, 403);
}

/// Tenant B's reader gets read on `shared/*` of A's bucket, and nothing else; the grant is audited.
#[tokio::test]
async fn a_policy_grants_another_tenant_exactly_what_it_names() {
    let gw = Gateway::start().await;
    let (owner, b, partner) = setup(&gw, "xgrant").await;
    assert!(denied(partner.get_object().bucket(&b).key("shared/doc").send().await));
    put_policy(
        &owner,
        &b,
        json!({"Version":"2012-10-17","Statement":[{"Sid":"PartnerReads","Effect":"Allow",
            "Principal":{"AWS":"arn:aws:iam::xgrant-ptn:root"},"Action":"s3:GetObject","Resource":format!("arn:aws:s3:::{b}/shared/*")}]}),
    )
    .await;
    let body = partner.get_object().bucket(&b).key("shared/doc").send().await.unwrap().body.collect().await.unwrap().into_bytes();
    assert_eq!(&body[..], b"hello");
    assert!(denied(partner.get_object().bucket(&b).key("private/doc").send().await));
    assert!(denied(partner.list_objects_v2().bucket(&b).send().await));
    assert!(denied(partner.put_object().bucket(&b).key("shared/new").body(b"x".to_vec().into()).send().await));
    assert!(denied(partner.get_bucket_policy().bucket(&b).send().await));
    // A copy reads its source through the same decision.
    let (ok_, os) = user(&gw, "xgrant-ptn", "padmin", "admin").await;
    let partner_writer = gw.client_with(&ok_, &os);
    partner_writer.create_bucket().bucket(format!("{b}-mine")).send().await.unwrap();
    partner_writer.copy_object().bucket(format!("{b}-mine")).key("copy").copy_source(format!("{b}/shared/doc")).send().await.unwrap();
    assert!(denied(partner_writer.copy_object().bucket(format!("{b}-mine")).key("copy2").copy_source(format!("{b}/private/doc")).send().await));

    // Reads are not audited; the copy (a write) records the statement that let it read.
    let audit = call(&root_conn(&gw), "GET", &format!("audit?bucket={b}-mine&outcome=ok"), None).await.unwrap();
    let entries = audit.as_array().unwrap_or_else(|| panic!("{audit}"));
    let copy = entries.iter().find(|e| e["operation"] == "CopyObject").unwrap_or_else(|| panic!("{audit}"));
    assert_eq!(copy["decided_by"], "policy:PartnerReads", "the deciding statement is audited: {audit}");
    let refused = call(&root_conn(&gw), "GET", &format!("audit?bucket={b}&outcome=denied"), None).await.unwrap();
    assert!(refused.as_array().unwrap().iter().any(|e| e["key"] == "private/doc"), "denials are audited: {refused}");
}

/// A Deny names the bucket's own users too (root excepted), and beats a topic rule's allow.
#[tokio::test]
async fn a_deny_binds_the_owners_users_but_never_root() {
    let gw = Gateway::start().await;
    let (owner, b, _) = setup(&gw, "ownden").await;
    let (wk, ws) = user(&gw, "ownden-own", "intern", "writer").await;
    let intern = gw.client_with(&wk, &ws);
    put_policy(
        &owner,
        &b,
        json!({"Version":"2012-10-17","Statement":[{"Sid":"NoInternDeletes","Effect":"Deny",
            "Principal":{"AWS":["arn:aws:iam::ownden-own:user/intern"]},"Action":["s3:DeleteObject*"],"Resource":format!("arn:aws:s3:::{b}/*")}]}),
    )
    .await;
    assert!(denied(intern.delete_object().bucket(&b).key("shared/doc").send().await));
    let d = aws_sdk_s3::types::Delete::builder().objects(aws_sdk_s3::types::ObjectIdentifier::builder().key("private/doc").build().unwrap()).build().unwrap();
    assert!(denied(intern.delete_objects().bucket(&b).delete(d).send().await), "DeleteObjects asks key by key");
    intern.put_object().bucket(&b).key("shared/new").body(b"x".to_vec().into()).send().await.unwrap();
    owner.delete_object().bucket(&b).key("shared/new").send().await.unwrap();
    gw.client().delete_object().bucket(&b).key("shared/doc").send().await.unwrap();
}

/// A Deny on aws:SourceIp (here: everything not from 10.0.0.0/8) refuses the loopback caller;
/// an Allow conditioned on s3:prefix lets another tenant list one prefix only.
#[tokio::test]
async fn conditions_decide_on_the_source_address_and_the_listing_prefix() {
    let gw = Gateway::start().await;
    let (owner, b, partner) = setup(&gw, "conds").await;
    put_policy(
        &owner,
        &b,
        json!({"Version":"2012-10-17","Statement":[
            {"Sid":"ListShared","Effect":"Allow","Principal":{"AWS":"conds-ptn"},"Action":"s3:ListBucket","Resource":format!("arn:aws:s3:::{b}"),
             "Condition":{"StringLike":{"s3:prefix":"shared/*"}}},
            {"Sid":"OfficeOnly","Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":format!("arn:aws:s3:::{b}/*"),
             "Condition":{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}),
    )
    .await;
    assert_eq!(partner.list_objects_v2().bucket(&b).prefix("shared/").send().await.unwrap().key_count(), Some(1));
    assert!(denied(partner.list_objects_v2().bucket(&b).prefix("private/").send().await));
    assert!(denied(partner.list_objects_v2().bucket(&b).send().await));
    assert!(denied(owner.put_object().bucket(&b).key("k").body(b"x".to_vec().into()).send().await), "127.0.0.1 is not in 10.0.0.0/8");
    gw.client().put_object().bucket(&b).key("k").body(b"x".to_vec().into()).send().await.unwrap();
}

/// Block Public Access: a public policy is refused at write (BlockPublicPolicy) and, with
/// RestrictPublicBuckets, lets in only the bucket's own tenant.
#[tokio::test]
async fn block_public_access_guards_public_policies() {
    use aws_sdk_s3::types::PublicAccessBlockConfiguration;
    let gw = Gateway::start().await;
    let (owner, b, partner) = setup(&gw, "bpapol").await;
    let public = json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":format!("arn:aws:s3:::{b}/shared/*")}]});
    put_policy(&owner, &b, public.clone()).await;
    assert_eq!(raw(gw.addr, "GET", &format!("/{b}/shared/doc"), &[], b"", None).await.status, 200);
    assert!(partner.get_object().bucket(&b).key("shared/doc").send().await.is_ok());

    let restrict = PublicAccessBlockConfiguration::builder().restrict_public_buckets(true).build();
    owner.put_public_access_block().bucket(&b).public_access_block_configuration(restrict).send().await.unwrap();
    assert_eq!(raw(gw.addr, "GET", &format!("/{b}/shared/doc"), &[], b"", None).await.status, 403);
    assert!(denied(partner.get_object().bucket(&b).key("shared/doc").send().await));

    let block = PublicAccessBlockConfiguration::builder().block_public_policy(true).build();
    owner.put_public_access_block().bucket(&b).public_access_block_configuration(block).send().await.unwrap();
    assert!(denied(owner.put_bucket_policy().bucket(&b).policy(public.to_string()).send().await));
}

/// Policies are the bucket tenant's admins' to manage; readers and other tenants cannot.
#[tokio::test]
async fn only_the_tenants_admins_manage_policies() {
    let gw = Gateway::start().await;
    let (owner, b, partner) = setup(&gw, "polmgr").await;
    let (rk, rs) = user(&gw, "polmgr-own", "reader", "reader").await;
    let reader = gw.client_with(&rk, &rs);
    let p = json!({"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":format!("arn:aws:s3:::{b}/private/*")}]});
    assert!(denied(reader.put_bucket_policy().bucket(&b).policy(p.to_string()).send().await));
    assert!(denied(partner.put_bucket_policy().bucket(&b).policy(p.to_string()).send().await));
    put_policy(&owner, &b, p).await;
    assert!(denied(reader.get_object().bucket(&b).key("private/doc").send().await));
    assert!(reader.get_object().bucket(&b).key("shared/doc").send().await.is_ok());
}

/// A policy may let another tenant delete under one prefix, also by DeleteObjects (as
/// `aws s3 rm --recursive` sends): every key is decided, and one key outside the grant
/// refuses the whole request before anything is deleted.
#[tokio::test]
async fn delete_objects_is_decided_key_by_key_under_a_policy() {
    use aws_sdk_s3::types::{Delete, ObjectIdentifier};
    let gw = Gateway::start().await;
    let (owner, b, _) = setup(&gw, "delkeys").await;
    let (wk, ws) = user(&gw, "delkeys-ptn", "cleaner", "writer").await;
    let partner = gw.client_with(&wk, &ws);
    put_policy(
        &owner,
        &b,
        json!({"Version":"2012-10-17","Statement":[{"Sid":"PartnerCleans","Effect":"Allow",
            "Principal":{"AWS":"arn:aws:iam::delkeys-ptn:root"},"Action":"s3:DeleteObject","Resource":format!("arn:aws:s3:::{b}/shared/*")}]}),
    )
    .await;
    let batch = |keys: &[&str]| {
        let objects = keys.iter().map(|k| ObjectIdentifier::builder().key(*k).build().unwrap()).collect();
        Delete::builder().set_objects(Some(objects)).build().unwrap()
    };
    assert!(denied(partner.delete_objects().bucket(&b).delete(batch(&["shared/doc", "private/doc"])).send().await));
    assert!(owner.head_object().bucket(&b).key("shared/doc").send().await.is_ok(), "nothing deleted");
    let out = partner.delete_objects().bucket(&b).delete(batch(&["shared/doc"])).send().await.unwrap();
    assert_eq!(out.deleted().len(), 1);
    assert!(out.errors().is_empty());
    assert!(owner.head_object().bucket(&b).key("shared/doc").send().await.is_err());
    assert!(owner.head_object().bucket(&b).key("private/doc").send().await.is_ok());
}

/// A Deny on `s3:ExistingObjectTag` refuses the reads and copies of the objects carrying
/// the tag, follows the tag as it is set and removed, and leaves the others alone (on
/// local disk, where the index holds the tags, and through an upstream, where they are
/// asked of it).
#[tokio::test]
async fn a_deny_on_an_existing_object_tag_follows_the_tag() {
    use aws_sdk_s3::types::{Tag, Tagging};
    let gw = Gateway::start().await;
    let (owner, b, _) = setup(&gw, "objtag").await;
    let (wk, ws) = user(&gw, "objtag-own", "wes", "writer").await;
    let writer = gw.client_with(&wk, &ws);
    put_policy(
        &owner,
        &b,
        json!({"Version":"2012-10-17","Statement":[{"Sid":"NoSecrets","Effect":"Deny","Principal":"*","Action":"s3:GetObject",
            "Resource":format!("arn:aws:s3:::{b}/*"),"Condition":{"StringEquals":{"S3:existingObjectTag/class":"secret"}}}]}),
    )
    .await;
    owner.put_object().bucket(&b).key("secret").tagging("class=secret&team=x").body(b"s".to_vec().into()).send().await.unwrap();
    assert!(denied(writer.get_object().bucket(&b).key("secret").send().await));
    assert!(denied(writer.copy_object().bucket(&b).key("copy").copy_source(format!("{b}/secret")).send().await));
    assert!(writer.get_object().bucket(&b).key("shared/doc").send().await.is_ok(), "untagged objects are read");
    let secret = Tagging::builder().tag_set(Tag::builder().key("class").value("secret").build().unwrap()).build().unwrap();
    owner.put_object_tagging().bucket(&b).key("shared/doc").tagging(secret).send().await.unwrap();
    assert!(denied(writer.get_object().bucket(&b).key("shared/doc").send().await), "tagged later: denied");
    owner.delete_object_tagging().bucket(&b).key("shared/doc").send().await.unwrap();
    assert!(writer.get_object().bucket(&b).key("shared/doc").send().await.is_ok(), "untagged again: read");
    let e = writer.get_object().bucket(&b).key("missing").send().await.unwrap_err();
    assert_eq!(status(&e), 404, "a missing object has no tags: the Deny does not apply, the key is not found");
}

//! S3's bucket configuration documents (issue 23): bucket tagging (and, as they land,
//! policies, ACLs, ownership, Block Public Access, CORS), stored with the bucket, kept
//! across restarts, managed by the bucket's tenant admins only, and gone with the bucket.

use crate::common::*;
use crate::tenancy::user;

use aws_sdk_s3::types::{Tag, Tagging};

fn tagging(pairs: &[(&str, &str)]) -> Tagging {
    let tags = pairs.iter().map(|(k, v)| Tag::builder().key(*k).value(*v).build().unwrap()).collect();
    Tagging::builder().set_tag_set(Some(tags)).build().unwrap()
}

async fn tags_of(c: &aws_sdk_s3::Client, b: &str) -> Vec<(String, String)> {
    let out = c.get_bucket_tagging().bucket(b).send().await.unwrap();
    out.tag_set().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect()
}

/// Bucket tags round-trip, survive a restart, are refused whole when invalid and go with the bucket.
#[tokio::test]
async fn bucket_tags_round_trip_and_invalid_sets_are_refused() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("btags").await;

    let e = c.get_bucket_tagging().bucket(&b).send().await.unwrap_err();
    assert_eq!(status(&e), 404);
    assert_eq!(code(e.as_service_error().unwrap()), "NoSuchTagSet");

    c.put_bucket_tagging().bucket(&b).tagging(tagging(&[("team", "data"), ("env", "prod")])).send().await.unwrap();
    assert_eq!(tags_of(&c, &b).await, vec![("team".into(), "data".into()), ("env".into(), "prod".into())]);

    for bad in [vec![("a", "1"), ("a", "2")], vec![("aws:owner", "x")]] {
        let e = c.put_bucket_tagging().bucket(&b).tagging(tagging(&bad)).send().await.unwrap_err();
        assert_eq!(status(&e), 400, "{bad:?}");
        assert_eq!(code(e.as_service_error().unwrap()), "InvalidTag", "{bad:?}");
    }
    assert_eq!(tags_of(&c, &b).await.len(), 2, "a refused set changes nothing");

    let dir = gw.stop().await;
    let gw = Gateway::start_in(dir, |_| {}).await;
    let c = gw.client();
    assert_eq!(tags_of(&c, &b).await, vec![("team".into(), "data".into()), ("env".into(), "prod".into())], "kept across a restart");

    c.delete_bucket_tagging().bucket(&b).send().await.unwrap();
    let e = c.get_bucket_tagging().bucket(&b).send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "NoSuchTagSet");

    c.put_bucket_tagging().bucket(&b).tagging(tagging(&[("k", "v")])).send().await.unwrap();
    c.delete_bucket().bucket(&b).send().await.unwrap();
    c.create_bucket().bucket(&b).send().await.unwrap();
    let e = c.get_bucket_tagging().bucket(&b).send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "NoSuchTagSet", "a bucket created again has no tags of the old one");

    let e = c.put_bucket_tagging().bucket("no-such-bucket-tags").tagging(tagging(&[("k", "v")])).send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "NoSuchBucket");
}

/// Tags are read by the tenant's readers and changed by its admins only; other tenants see nothing.
#[tokio::test]
async fn bucket_tags_follow_the_tenant_roles() {
    let gw = Gateway::start().await;
    let (ak, sk) = user(&gw, "acme", "boss", "admin").await;
    let admin = gw.client_with(&ak, &sk);
    let (rk, rs) = user(&gw, "acme", "reader", "reader").await;
    let reader = gw.client_with(&rk, &rs);
    let (ok_, os) = user(&gw, "other", "boss", "admin").await;
    let outsider = gw.client_with(&ok_, &os);
    let b = format!("acme-tags-{}", std::process::id());
    admin.create_bucket().bucket(&b).send().await.unwrap();

    admin.put_bucket_tagging().bucket(&b).tagging(tagging(&[("k", "v")])).send().await.unwrap();
    assert_eq!(tags_of(&reader, &b).await, vec![("k".into(), "v".into())]);
    let e = reader.put_bucket_tagging().bucket(&b).tagging(tagging(&[("k", "w")])).send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "AccessDenied");
    let e = reader.delete_bucket_tagging().bucket(&b).send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "AccessDenied");
    let e = outsider.get_bucket_tagging().bucket(&b).send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "AccessDenied");
    assert_eq!(tags_of(&admin, &b).await, vec![("k".into(), "v".into())]);
}

/// An anonymous GET of `path`: its status.
async fn anonymous_get(gw: &Gateway, path: &str) -> u16 {
    raw(gw.addr, "GET", path, &[], b"", None).await.status
}

fn grantees(acl: &aws_sdk_s3::operation::get_bucket_acl::GetBucketAclOutput) -> Vec<(String, String)> {
    acl.grants()
        .iter()
        .map(|g| {
            let who = g.grantee().unwrap();
            (who.id().or(who.uri()).unwrap().to_owned(), g.permission().unwrap().as_str().to_owned())
        })
        .collect()
}

/// ACLs are disabled by default (BucketOwnerEnforced, as AWS); with ObjectWriter a canned
/// public-read ACL is the bucket's visibility, which anonymous callers then read through.
#[tokio::test]
async fn bucket_acls_follow_object_ownership_and_public_read_is_the_visibility() {
    use aws_sdk_s3::types::{BucketCannedAcl, ObjectOwnership, OwnershipControls, OwnershipControlsRule};
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("acl-own").await;
    c.put_object().bucket(&b).key("doc").body(b"hello".to_vec().into()).send().await.unwrap();

    let e = c.get_bucket_ownership_controls().bucket(&b).send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "OwnershipControlsNotFoundError");
    let e = c.put_bucket_acl().bucket(&b).acl(BucketCannedAcl::PublicRead).send().await.unwrap_err();
    assert_eq!(status(&e), 400);
    assert_eq!(code(e.as_service_error().unwrap()), "AccessControlListNotSupported");
    c.put_bucket_acl().bucket(&b).acl(BucketCannedAcl::Private).send().await.unwrap();
    assert_eq!(anonymous_get(&gw, &format!("/{b}/doc")).await, 403);

    let writer =
        OwnershipControls::builder().rules(OwnershipControlsRule::builder().object_ownership(ObjectOwnership::ObjectWriter).build().unwrap()).build().unwrap();
    c.put_bucket_ownership_controls().bucket(&b).ownership_controls(writer).send().await.unwrap();
    let got = c.get_bucket_ownership_controls().bucket(&b).send().await.unwrap();
    assert_eq!(got.ownership_controls().unwrap().rules()[0].object_ownership(), &ObjectOwnership::ObjectWriter);

    c.put_bucket_acl().bucket(&b).acl(BucketCannedAcl::PublicRead).send().await.unwrap();
    let acl = c.get_bucket_acl().bucket(&b).send().await.unwrap();
    assert!(grantees(&acl).contains(&(tollgate::policy::acl::ALL_USERS_URI.into(), "READ".into())), "{:?}", grantees(&acl));
    assert_eq!(anonymous_get(&gw, &format!("/{b}/doc")).await, 200);
    let root = crate::tenancy::root_conn(&gw);
    let all = tollgate::admin::client::call(&root, "GET", "buckets", None).await.unwrap();
    let info = all.as_array().unwrap().iter().find(|x| x["name"] == b.as_str()).unwrap_or_else(|| panic!("{all}"));
    assert_eq!(info["visibility"], "public-read", "the admin API shows the same truth: {info}");

    // ACLs cannot be disabled while they grant more than the owner's control.
    let enforced = OwnershipControls::builder()
        .rules(OwnershipControlsRule::builder().object_ownership(ObjectOwnership::BucketOwnerEnforced).build().unwrap())
        .build()
        .unwrap();
    let e = c.put_bucket_ownership_controls().bucket(&b).ownership_controls(enforced.clone()).send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "InvalidBucketAclWithObjectOwnership");
    c.put_bucket_acl().bucket(&b).acl(BucketCannedAcl::Private).send().await.unwrap();
    assert_eq!(anonymous_get(&gw, &format!("/{b}/doc")).await, 403);
    c.put_bucket_ownership_controls().bucket(&b).ownership_controls(enforced).send().await.unwrap();

    // CreateBucket: an ACL needs an ownership that allows it.
    let nb = format!("{b}-new");
    let e = c.create_bucket().bucket(&nb).acl(BucketCannedAcl::PublicRead).send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "InvalidBucketAclWithObjectOwnership");
    assert!(c.head_bucket().bucket(&nb).send().await.is_err(), "nothing created");
    c.create_bucket().bucket(&nb).acl(BucketCannedAcl::PublicRead).object_ownership(ObjectOwnership::ObjectWriter).send().await.unwrap();
    c.put_object().bucket(&nb).key("k").body(b"x".to_vec().into()).send().await.unwrap();
    assert_eq!(anonymous_get(&gw, &format!("/{nb}/k")).await, 200);
    assert_eq!(anonymous_get(&gw, &format!("/{nb}?list-type=2")).await, 200);
}

/// Grants by header name tenants: the grantee's users get exactly the permission granted.
#[tokio::test]
async fn acl_grants_give_another_tenant_exactly_what_they_name() {
    use aws_sdk_s3::types::ObjectOwnership;
    let gw = Gateway::start().await;
    let (ak, sk) = user(&gw, "owner-co", "boss", "admin").await;
    let owner = gw.client_with(&ak, &sk);
    let (pk, ps) = user(&gw, "partner-co", "reader", "reader").await;
    let partner = gw.client_with(&pk, &ps);
    let (ok_, os) = user(&gw, "third-co", "boss", "admin").await;
    let third = gw.client_with(&ok_, &os);
    let b = format!("grants-{}", std::process::id());
    owner.create_bucket().bucket(&b).object_ownership(ObjectOwnership::BucketOwnerPreferred).send().await.unwrap();
    owner.put_object().bucket(&b).key("doc").body(b"hello".to_vec().into()).send().await.unwrap();
    assert_eq!(code(partner.get_object().bucket(&b).key("doc").send().await.unwrap_err().as_service_error().unwrap()), "AccessDenied");

    let e = owner.put_bucket_acl().bucket(&b).grant_read("id=\"no-such-tenant\"").send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "InvalidArgument");
    owner.put_bucket_acl().bucket(&b).grant_read("id=\"partner-co\"").send().await.unwrap();
    let acl = owner.get_bucket_acl().bucket(&b).send().await.unwrap();
    assert_eq!(grantees(&acl), vec![("owner-co".into(), "FULL_CONTROL".into()), ("partner-co".into(), "READ".into())]);

    let body = partner.get_object().bucket(&b).key("doc").send().await.unwrap().body.collect().await.unwrap().into_bytes();
    assert_eq!(&body[..], b"hello");
    assert_eq!(partner.list_objects_v2().bucket(&b).send().await.unwrap().key_count(), Some(1));
    for e in [
        partner.put_object().bucket(&b).key("x").body(b"no".to_vec().into()).send().await.unwrap_err().into_service_error().meta().code().map(str::to_owned),
        partner.get_bucket_acl().bucket(&b).send().await.unwrap_err().into_service_error().meta().code().map(str::to_owned),
        third.get_object().bucket(&b).key("doc").send().await.unwrap_err().into_service_error().meta().code().map(str::to_owned),
    ] {
        assert_eq!(e.as_deref(), Some("AccessDenied"));
    }

    owner.put_bucket_acl().bucket(&b).grant_write("id=\"partner-co\"").grant_read_acp("id=\"partner-co\"").send().await.unwrap();
    partner.put_object().bucket(&b).key("from-partner").body(b"hi".to_vec().into()).send().await.unwrap();
    assert!(partner.get_bucket_acl().bucket(&b).send().await.is_ok());
    assert_eq!(code(partner.get_object().bucket(&b).key("doc").send().await.unwrap_err().as_service_error().unwrap()), "AccessDenied", "READ was replaced");
    // The partner's write lands in the owner's bucket, under the owner's usage.
    assert_eq!(owner.head_object().bucket(&b).key("from-partner").send().await.unwrap().content_length(), Some(2));
}

/// Object ACLs other than the owner's are refused, never stored as if honoured.
#[tokio::test]
async fn object_acls_beyond_the_owners_are_refused() {
    use aws_sdk_s3::types::{ObjectCannedAcl, ObjectOwnership};
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("obj-acl").await;
    c.put_object().bucket(&b).key("a").acl(ObjectCannedAcl::BucketOwnerFullControl).body(b"1".to_vec().into()).send().await.unwrap();
    let e = c.put_object().bucket(&b).key("b").acl(ObjectCannedAcl::PublicRead).body(b"1".to_vec().into()).send().await.unwrap_err();
    assert_eq!(status(&e), 400);
    assert_eq!(code(e.as_service_error().unwrap()), "AccessControlListNotSupported");
    assert!(c.head_object().bucket(&b).key("b").send().await.is_err(), "nothing stored");

    let nb = format!("{b}-w");
    c.create_bucket().bucket(&nb).object_ownership(ObjectOwnership::ObjectWriter).send().await.unwrap();
    let e = c.put_object().bucket(&nb).key("b").acl(ObjectCannedAcl::PublicRead).body(b"1".to_vec().into()).send().await.unwrap_err();
    assert_eq!(status(&e), 501);
    let e = c.create_multipart_upload().bucket(&nb).key("m").acl(ObjectCannedAcl::AuthenticatedRead).send().await.unwrap_err();
    assert_eq!(status(&e), 501);
    c.put_object().bucket(&nb).key("a").body(b"1".to_vec().into()).send().await.unwrap();
    let e = c.put_object_acl().bucket(&nb).key("a").acl(ObjectCannedAcl::PublicRead).send().await.unwrap_err();
    assert_eq!(status(&e), 501);
    c.put_object_acl().bucket(&nb).key("a").acl(ObjectCannedAcl::Private).send().await.unwrap();
    assert_eq!(anonymous_get(&gw, &format!("/{nb}/a")).await, 403);
}

/// Block Public Access: public ACLs refused at write, ignored at read.
#[tokio::test]
async fn block_public_access_refuses_and_ignores_public_acls() {
    use aws_sdk_s3::types::{BucketCannedAcl, ObjectOwnership, PublicAccessBlockConfiguration};
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = format!("bpa-{}", std::process::id());
    c.create_bucket().bucket(&b).acl(BucketCannedAcl::PublicRead).object_ownership(ObjectOwnership::ObjectWriter).send().await.unwrap();
    c.put_object().bucket(&b).key("k").body(b"x".to_vec().into()).send().await.unwrap();
    assert_eq!(anonymous_get(&gw, &format!("/{b}/k")).await, 200);

    let e = c.get_public_access_block().bucket(&b).send().await.unwrap_err();
    assert_eq!(status(&e), 404);
    assert_eq!(code(e.as_service_error().unwrap()), "NoSuchPublicAccessBlockConfiguration");
    let ignore = PublicAccessBlockConfiguration::builder().ignore_public_acls(true).build();
    c.put_public_access_block().bucket(&b).public_access_block_configuration(ignore).send().await.unwrap();
    assert_eq!(anonymous_get(&gw, &format!("/{b}/k")).await, 403, "ignored");
    let got = c.get_public_access_block().bucket(&b).send().await.unwrap();
    let flags = got.public_access_block_configuration().unwrap();
    assert_eq!((flags.ignore_public_acls(), flags.block_public_acls()), (Some(true), Some(false)));

    let block = PublicAccessBlockConfiguration::builder().block_public_acls(true).build();
    c.put_public_access_block().bucket(&b).public_access_block_configuration(block).send().await.unwrap();
    assert_eq!(anonymous_get(&gw, &format!("/{b}/k")).await, 200, "no longer ignored");
    let e = c.put_bucket_acl().bucket(&b).acl(BucketCannedAcl::PublicReadWrite).send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "AccessDenied");
    c.put_bucket_acl().bucket(&b).acl(BucketCannedAcl::Private).send().await.unwrap();
    c.delete_public_access_block().bucket(&b).send().await.unwrap();
    assert_eq!(status(&c.get_public_access_block().bucket(&b).send().await.unwrap_err()), 404);
}

/// The gateway-wide default of Block Public Access applies to buckets that set none.
#[tokio::test]
async fn the_configured_block_public_access_default_applies() {
    let gw = Gateway::start_with(|c| c.access.block_public_access.ignore_public_acls = true).await;
    let c = gw.client();
    let b = gw.bucket("bpa-default").await;
    c.put_object().bucket(&b).key("k").body(b"x".to_vec().into()).send().await.unwrap();
    let root = crate::tenancy::root_conn(&gw);
    tollgate::admin::client::call(&root, "PUT", &format!("buckets/{b}"), Some(serde_json::json!({"visibility": "public-read"}))).await.unwrap();
    assert_eq!(anonymous_get(&gw, &format!("/{b}/k")).await, 403);
}

/// The admin API's public-read visibility is the bucket ACL's public grant: Block Public Access refuses it too.
#[tokio::test]
async fn block_public_acls_refuses_public_visibility_in_the_admin_api() {
    use aws_sdk_s3::types::PublicAccessBlockConfiguration;
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("bpa-admin").await;
    let block = PublicAccessBlockConfiguration::builder().block_public_acls(true).build();
    c.put_public_access_block().bucket(&b).public_access_block_configuration(block).send().await.unwrap();
    let root = crate::tenancy::root_conn(&gw);
    let e = tollgate::admin::client::call(&root, "PUT", &format!("buckets/{b}"), Some(serde_json::json!({"visibility": "public-read"}))).await.unwrap_err();
    assert!(e.starts_with("409"), "{e}");
    c.put_object().bucket(&b).key("k").body(b"x".to_vec().into()).send().await.unwrap();
    assert_eq!(anonymous_get(&gw, &format!("/{b}/k")).await, 403);
}

//! S3's bucket configuration documents (issue 23): bucket tagging (and, as they land,
//! policies, ACLs, ownership, Block Public Access, CORS), stored with the bucket, kept
//! across restarts, managed by the bucket's tenant admins only, and gone with the bucket.

use crate::common::*;
use crate::tenancy::{user, user_client};

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
    let admin = user_client(&gw, "acme", "boss", "admin").await;
    let reader = user_client(&gw, "acme", "reader", "reader").await;
    let outsider = user_client(&gw, "other", "boss", "admin").await;
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

fn grantees(grants: &[aws_sdk_s3::types::Grant]) -> Vec<(String, String)> {
    grants
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
    assert!(grantees(acl.grants()).contains(&(tollgate::policy::acl::ALL_USERS_URI.into(), "READ".into())), "{:?}", grantees(acl.grants()));
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
    assert_eq!(grantees(acl.grants()), vec![("owner-co".into(), "FULL_CONTROL".into()), ("partner-co".into(), "READ".into())]);

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

/// Object ACLs: refused while ACLs are disabled (nothing stored); with ObjectWriter each
/// object keeps its own, set by PutObject, CreateMultipartUpload, CopyObject (never the
/// source's) and PutObjectAcl, which decides reads of it (not listings), its ACL's reads
/// and changes; a writer from another tenant gets full control of what it writes.
#[tokio::test]
async fn object_acls_are_kept_per_object_and_decide_its_reads() {
    use aws_sdk_s3::types::{ObjectCannedAcl, ObjectOwnership, PublicAccessBlockConfiguration};
    let gw = Gateway::start().await;
    let c = user_client(&gw, "oacl-owner", "boss", "admin").await;
    let partner = user_client(&gw, "oacl-partner", "boss", "admin").await;
    let third = user_client(&gw, "oacl-third", "reader", "reader").await;
    let body = |s: &str| aws_sdk_s3::primitives::ByteStream::from(s.as_bytes().to_vec());

    // ACLs disabled (BucketOwnerEnforced, the default): refused, nothing stored.
    let b = format!("oacl-{}", std::process::id());
    c.create_bucket().bucket(&b).send().await.unwrap();
    c.put_object().bucket(&b).key("a").acl(ObjectCannedAcl::BucketOwnerFullControl).body(body("1")).send().await.unwrap();
    let e = c.put_object().bucket(&b).key("b").acl(ObjectCannedAcl::PublicRead).body(body("1")).send().await.unwrap_err();
    assert_eq!(status(&e), 400);
    assert_eq!(code(e.as_service_error().unwrap()), "AccessControlListNotSupported");
    assert!(c.head_object().bucket(&b).key("b").send().await.is_err(), "nothing stored");
    let e = c.put_object().bucket(&b).key("b").acl(ObjectCannedAcl::AwsExecRead).body(body("1")).send().await.unwrap_err();
    assert_eq!(status(&e), 400, "aws-exec-read is not the owner's either");

    let nb = format!("{b}-w");
    c.create_bucket().bucket(&nb).object_ownership(ObjectOwnership::ObjectWriter).send().await.unwrap();
    let e = c.put_object().bucket(&nb).key("x").acl(ObjectCannedAcl::AwsExecRead).body(body("1")).send().await.unwrap_err();
    assert_eq!(status(&e), 501, "a grant tollgate cannot keep is refused, not ignored");
    assert!(c.head_object().bucket(&nb).key("x").send().await.is_err(), "nothing stored");

    // PutObject's canned ACL: the object is public, its bucket and neighbours are not.
    c.put_object().bucket(&nb).key("pub").acl(ObjectCannedAcl::PublicRead).body(body("public")).send().await.unwrap();
    c.put_object().bucket(&nb).key("priv").body(body("private")).send().await.unwrap();
    assert_eq!(anonymous_get(&gw, &format!("/{nb}/pub")).await, 200);
    assert_eq!(raw(gw.addr, "HEAD", &format!("/{nb}/pub"), &[], b"", None).await.status, 200);
    assert_eq!(anonymous_get(&gw, &format!("/{nb}/priv")).await, 403);
    assert_eq!(anonymous_get(&gw, &format!("/{nb}?list-type=2")).await, 403, "an object's ACL does not open its bucket's listing");
    let acl = c.get_object_acl().bucket(&nb).key("pub").send().await.unwrap();
    assert_eq!(
        grantees(acl.grants()),
        vec![("oacl-owner".into(), "FULL_CONTROL".into()), ("http://acs.amazonaws.com/groups/global/AllUsers".into(), "READ".into())]
    );
    assert_eq!(grantees(c.get_object_acl().bucket(&nb).key("priv").send().await.unwrap().grants()).len(), 1);

    // PutObjectAcl replaces it.
    c.put_object_acl().bucket(&nb).key("pub").acl(ObjectCannedAcl::Private).send().await.unwrap();
    assert_eq!(anonymous_get(&gw, &format!("/{nb}/pub")).await, 403);
    let e = c.put_object_acl().bucket(&nb).key("pub").send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "MalformedACLError", "an ACL request naming no ACL");
    let e = c.put_object_acl().bucket(&nb).key("nope").acl(ObjectCannedAcl::PublicRead).send().await.unwrap_err();
    assert_eq!(status(&e), 404);

    // Grants name tenants: READ reads the object (GET, HEAD, a copy's source), READ_ACP its ACL.
    c.put_object().bucket(&nb).key("shared").grant_read("id=\"oacl-partner\"").body(body("for partner")).send().await.unwrap();
    let got = partner.get_object().bucket(&nb).key("shared").send().await.unwrap().body.collect().await.unwrap().into_bytes();
    assert_eq!(&got[..], b"for partner");
    assert!(partner.head_object().bucket(&nb).key("shared").send().await.is_ok());
    assert_eq!(status(&partner.get_object().bucket(&nb).key("priv").send().await.unwrap_err()), 403);
    assert_eq!(status(&partner.get_object_acl().bucket(&nb).key("shared").send().await.unwrap_err()), 403, "READ is not READ_ACP");
    assert_eq!(status(&third.get_object().bucket(&nb).key("shared").send().await.unwrap_err()), 403);
    assert_eq!(status(&partner.delete_object().bucket(&nb).key("shared").send().await.unwrap_err()), 403, "object ACLs grant no delete");
    partner.create_bucket().bucket(format!("{nb}-p")).send().await.unwrap();
    partner.copy_object().bucket(format!("{nb}-p")).key("copied").copy_source(format!("{nb}/shared")).send().await.unwrap();
    c.put_object_acl().bucket(&nb).key("shared").grant_read("id=\"oacl-partner\"").grant_read_acp("id=\"oacl-partner\"").send().await.unwrap();
    let acl = partner.get_object_acl().bucket(&nb).key("shared").send().await.unwrap();
    assert_eq!(
        grantees(acl.grants()),
        vec![("oacl-owner".into(), "FULL_CONTROL".into()), ("oacl-partner".into(), "READ".into()), ("oacl-partner".into(), "READ_ACP".into())]
    );
    assert_eq!(status(&partner.put_object_acl().bucket(&nb).key("shared").acl(ObjectCannedAcl::PublicRead).send().await.unwrap_err()), 403);
    let e = c.put_object_acl().bucket(&nb).key("shared").grant_read("id=\"no-such-tenant\"").send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "InvalidArgument");

    // The audit entry of the copy names the grant that let it read its source.
    let audit = tollgate::admin::client::call(&crate::tenancy::root_conn(&gw), "GET", &format!("audit?bucket={nb}-p&outcome=ok"), None).await.unwrap();
    let copy = audit.as_array().unwrap().iter().find(|e| e["operation"] == "CopyObject").cloned().unwrap_or_else(|| panic!("{audit}"));
    assert_eq!(copy["decided_by"], "object-acl:Read", "{audit}");

    // CreateMultipartUpload's ACL is the completed object's; a copy gets its own, not its source's.
    let up = c.create_multipart_upload().bucket(&nb).key("mp").acl(ObjectCannedAcl::PublicRead).send().await.unwrap();
    let id = up.upload_id().unwrap();
    let part = c.upload_part().bucket(&nb).key("mp").upload_id(id).part_number(1).body(body("multipart")).send().await.unwrap();
    let done = aws_sdk_s3::types::CompletedMultipartUpload::builder()
        .parts(aws_sdk_s3::types::CompletedPart::builder().part_number(1).e_tag(part.e_tag().unwrap()).build())
        .build();
    c.complete_multipart_upload().bucket(&nb).key("mp").upload_id(id).multipart_upload(done).send().await.unwrap();
    assert_eq!(anonymous_get(&gw, &format!("/{nb}/mp")).await, 200);
    c.copy_object().bucket(&nb).key("mp-copy").copy_source(format!("{nb}/mp")).send().await.unwrap();
    assert_eq!(anonymous_get(&gw, &format!("/{nb}/mp-copy")).await, 403, "the source's ACL is not copied");
    c.copy_object().bucket(&nb).key("auth-copy").copy_source(format!("{nb}/priv")).acl(ObjectCannedAcl::AuthenticatedRead).send().await.unwrap();
    assert!(third.get_object().bucket(&nb).key("auth-copy").send().await.is_ok(), "authenticated-read: every tenant's users");
    assert_eq!(anonymous_get(&gw, &format!("/{nb}/auth-copy")).await, 403);

    // A writer from another tenant (granted WRITE on the bucket) has full control of its object.
    c.put_bucket_acl().bucket(&nb).grant_write("id=\"oacl-partner\"").send().await.unwrap();
    partner.put_object().bucket(&nb).key("by-partner").body(body("mine")).send().await.unwrap();
    assert!(partner.get_object().bucket(&nb).key("by-partner").send().await.is_ok());
    let acl = partner.get_object_acl().bucket(&nb).key("by-partner").send().await.unwrap();
    assert!(grantees(acl.grants()).contains(&("oacl-partner".into(), "FULL_CONTROL".into())), "{acl:?}");
    assert!(c.get_object().bucket(&nb).key("by-partner").send().await.is_ok(), "the bucket's tenant keeps control");
    assert_eq!(status(&partner.get_object().bucket(&nb).key("pub").send().await.unwrap_err()), 403);

    // Block Public Access: public object ACLs refused at write, ignored at read.
    c.put_object().bucket(&nb).key("pub").acl(ObjectCannedAcl::PublicRead).body(body("public")).send().await.unwrap();
    let block = PublicAccessBlockConfiguration::builder().block_public_acls(true).build();
    c.put_public_access_block().bucket(&nb).public_access_block_configuration(block).send().await.unwrap();
    assert_eq!(status(&c.put_object().bucket(&nb).key("pub2").acl(ObjectCannedAcl::PublicRead).body(body("x")).send().await.unwrap_err()), 403);
    assert_eq!(status(&c.put_object_acl().bucket(&nb).key("priv").acl(ObjectCannedAcl::PublicRead).send().await.unwrap_err()), 403);
    assert_eq!(anonymous_get(&gw, &format!("/{nb}/pub")).await, 200, "BlockPublicAcls refuses new ones only");
    let ignore = PublicAccessBlockConfiguration::builder().ignore_public_acls(true).build();
    c.put_public_access_block().bucket(&nb).public_access_block_configuration(ignore).send().await.unwrap();
    assert_eq!(anonymous_get(&gw, &format!("/{nb}/pub")).await, 403, "IgnorePublicAcls");
    c.delete_public_access_block().bucket(&nb).send().await.unwrap();
    assert_eq!(anonymous_get(&gw, &format!("/{nb}/pub")).await, 200);

    // BucketOwnerEnforced disables them again: kept grants no longer apply nor are listed.
    let enforced = aws_sdk_s3::types::OwnershipControls::builder()
        .rules(aws_sdk_s3::types::OwnershipControlsRule::builder().object_ownership(ObjectOwnership::BucketOwnerEnforced).build().unwrap())
        .build()
        .unwrap();
    c.put_bucket_acl().bucket(&nb).acl(aws_sdk_s3::types::BucketCannedAcl::Private).send().await.unwrap();
    c.put_bucket_ownership_controls().bucket(&nb).ownership_controls(enforced).send().await.unwrap();
    assert_eq!(anonymous_get(&gw, &format!("/{nb}/pub")).await, 403);
    assert_eq!(grantees(c.get_object_acl().bucket(&nb).key("pub").send().await.unwrap().grants()).len(), 1);
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

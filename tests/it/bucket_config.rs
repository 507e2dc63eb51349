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

use crate::common::*;

#[tokio::test]
async fn bucket_lifecycle_with_aws_errors() {
    let gw = Gateway::start().await;
    let c = gw.client();
    c.create_bucket().bucket("alpha").send().await.unwrap();
    c.create_bucket().bucket("beta-1").send().await.unwrap();

    let e = c.create_bucket().bucket("alpha").send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "BucketAlreadyOwnedByYou");
    for bad in ["ab", "UPPER", "under_score", "-dash", "a..b", "192.168.1.1"] {
        let e = c.create_bucket().bucket(bad).send().await.unwrap_err();
        assert_eq!(status(&e), 400, "{bad} must be refused");
    }

    let names: Vec<String> = c.list_buckets().send().await.unwrap().buckets().iter().filter_map(|b| b.name().map(str::to_owned)).collect();
    assert_eq!(names, ["alpha", "beta-1"]);

    c.head_bucket().bucket("alpha").send().await.unwrap();
    let e = c.head_bucket().bucket("missing").send().await.unwrap_err();
    assert_eq!(status(&e), 404);
    let loc = c.get_bucket_location().bucket("alpha").send().await.unwrap();
    assert!(loc.location_constraint().is_none_or(|l| l.as_str().is_empty()));

    c.put_object().bucket("alpha").key("k").body(b"x".to_vec().into()).send().await.unwrap();
    let e = c.delete_bucket().bucket("alpha").send().await.unwrap_err();
    assert_eq!(status(&e), 409);
    assert_eq!(code(e.as_service_error().unwrap()), "BucketNotEmpty");
    // Nothing was deleted.
    c.head_object().bucket("alpha").key("k").send().await.unwrap();

    c.delete_object().bucket("alpha").key("k").send().await.unwrap();
    c.delete_bucket().bucket("alpha").send().await.unwrap();
    let e = c.delete_bucket().bucket("alpha").send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "NoSuchBucket");
}

#[tokio::test]
async fn acls_answer_the_owner_full_control() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("acl-bucket").await;
    c.put_object().bucket(&b).key("o").body(b"x".to_vec().into()).send().await.unwrap();
    let acl = c.get_bucket_acl().bucket(&b).send().await.unwrap();
    assert_eq!(acl.grants().len(), 1);
    assert_eq!(acl.grants()[0].permission().unwrap().as_str(), "FULL_CONTROL");
    assert!(acl.owner().unwrap().id().is_some());
    let acl = c.get_object_acl().bucket(&b).key("o").send().await.unwrap();
    assert_eq!(acl.grants()[0].permission().unwrap().as_str(), "FULL_CONTROL");
    let e = c.get_object_acl().bucket(&b).key("nope").send().await.unwrap_err();
    assert_eq!(status(&e), 404);
}

#[tokio::test]
async fn data_survives_a_graceful_restart() {
    let gw = Gateway::start().await;
    let b = gw.bucket("durable").await;
    gw.client().put_object().bucket(&b).key("k").body(b"kept".to_vec().into()).send().await.unwrap();
    let dir = gw.stop().await;
    let gw = Gateway::start_in(dir, |_| {}).await;
    let got = gw.client().get_object().bucket(&b).key("k").send().await.unwrap().body.collect().await.unwrap().into_bytes();
    assert_eq!(got.as_ref(), b"kept");
}

/// Bucket settings tollgate does not store read as "never configured", as on AWS, so
/// tools that inspect a bucket (s3cmd info, terraform) see a normal bucket.
#[tokio::test]
async fn unstored_bucket_settings_read_as_not_configured() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("settings").await;
    let e = c.get_bucket_policy().bucket(&b).send().await.unwrap_err();
    assert_eq!((status(&e), code(e.as_service_error().unwrap())), (404, "NoSuchBucketPolicy".to_owned()));
    let e = c.get_bucket_cors().bucket(&b).send().await.unwrap_err();
    assert_eq!((status(&e), code(e.as_service_error().unwrap())), (404, "NoSuchCORSConfiguration".to_owned()));
    let e = c.get_bucket_lifecycle_configuration().bucket(&b).send().await.unwrap_err();
    assert_eq!((status(&e), code(e.as_service_error().unwrap())), (404, "NoSuchLifecycleConfiguration".to_owned()));
    let e = c.get_bucket_tagging().bucket(&b).send().await.unwrap_err();
    assert_eq!((status(&e), code(e.as_service_error().unwrap())), (404, "NoSuchTagSet".to_owned()));
    let e = c.get_bucket_encryption().bucket(&b).send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "ServerSideEncryptionConfigurationNotFoundError");
    let e = c.get_bucket_policy().bucket("no-such-bucket").send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "NoSuchBucket");
}

use crate::common::*;
use crate::tenancy::user;

#[tokio::test]
async fn bucket_lifecycle_with_aws_errors() {
    let gw = Gateway::start().await;
    let c = gw.client();
    c.create_bucket().bucket("alpha").send().await.unwrap();
    c.create_bucket().bucket("beta-1").send().await.unwrap();

    // Re-creating one's own bucket in us-east-1 is 200 (see recreating_buckets_answers_as_aws_per_region).
    c.create_bucket().bucket("alpha").send().await.unwrap();
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

/// AWS's bucket naming rules, each refused `400 InvalidBucketName`. Fails before the fix:
/// s3s's check let `.-`/`-.`, the reserved prefixes (`sthree-`, `amzn-s3-demo-`) and
/// suffixes (`-s3alias`, `--ol-s3`, `.mrap`, `--x-s3`, `--table-s3`) and IP-shaped names
/// that are not addresses through.
#[tokio::test]
async fn bucket_names_follow_the_aws_rules() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let long = "a".repeat(64);
    let bad = [
        "ab",
        long.as_str(),
        "UPPER",
        "under_score",
        "-dash",
        "dash-",
        ".dot",
        "dot.",
        "a..b",
        "a.-b",
        "a-.b",
        "192.168.1.1",
        "999.10.10.10",
        "xn--abc",
        "sthree-abc",
        "sthree-configurator-abc",
        "amzn-s3-demo-bucket",
        "mybucket-s3alias",
        "mybucket--ol-s3",
        "mybucket.mrap",
        "mybucket--table-s3",
    ];
    for name in bad {
        let e = c.create_bucket().bucket(name).send().await.unwrap_err();
        let code = e.as_service_error().map(code);
        assert_eq!((status(&e), code.as_deref()), (400, Some("InvalidBucketName")), "{name} must be refused: {e:?}");
    }
    // The SDK takes `--x-s3` for a directory bucket (S3 Express) and will not send it
    // path-style: a signed request does.
    let url = format!("{}/mybucket--x-s3", gw.endpoint());
    let r = raw(gw.addr, "PUT", "/mybucket--x-s3", &sign("PUT", &url, &[]), b"", None).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("<Code>InvalidBucketName</Code>"), "{}", r.text());

    // Through an upstream the name gets the mapping's prefix (`gw-`, moto's `m........-`),
    // and the upstream's limit of 63 characters holds for the whole.
    let longest = "a".repeat(if upstream_mode().is_some() { 53 } else { 63 });
    for good in ["abc", longest.as_str(), "my.bucket-1", "1.2.3", "1.2.3.4.5", "xn-ok", "s3alias-ok", "ok-sthree", "demo-amzn-s3"] {
        c.create_bucket().bucket(good).send().await.unwrap_or_else(|e| panic!("{good}: {e:?}"));
        c.head_bucket().bucket(good).send().await.unwrap();
    }
    // The gateway's own endpoints are still routed.
    let r = raw(gw.addr, "GET", "/_tollgate/admin/tenants", &[], b"", None).await;
    assert_eq!(r.status, 403, "{}", r.text());
}

/// Creating a bucket that exists: another tenant's is `409 BucketAlreadyExists`; one's own
/// is `200 OK` in us-east-1 (AWS's legacy answer there) and `409 BucketAlreadyOwnedByYou`
/// in any other region. Fails before the fix: us-east-1 answered 409 (and HeadBucket and
/// GetBucketLocation said us-east-1 whatever the gateway's region).
#[tokio::test]
async fn recreating_buckets_answers_as_aws_per_region() {
    let gw = Gateway::start().await;
    let c = gw.client();
    c.create_bucket().bucket("mine").send().await.unwrap();
    let again = c.create_bucket().bucket("mine").send().await.unwrap();
    assert_eq!(again.location(), Some("/mine"));
    let (ak, sk) = user(&gw, "other", "admin", "admin").await;
    let e = gw.client_with(&ak, &sk).create_bucket().bucket("mine").send().await.unwrap_err();
    assert_eq!((status(&e), code(e.as_service_error().unwrap())), (409, "BucketAlreadyExists".to_owned()));

    let gw = Gateway::start_with(|cfg| cfg.region = "eu-west-1".into()).await;
    let creds = aws_sdk_s3::config::Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "test");
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("eu-west-1"))
        .endpoint_url(gw.endpoint())
        .credentials_provider(creds)
        .force_path_style(true)
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    let c = aws_sdk_s3::Client::from_conf(conf);
    c.create_bucket().bucket("mine").send().await.unwrap();
    let e = c.create_bucket().bucket("mine").send().await.unwrap_err();
    assert_eq!((status(&e), code(e.as_service_error().unwrap())), (409, "BucketAlreadyOwnedByYou".to_owned()));
    let listed = c.list_buckets().send().await.unwrap();
    assert_eq!(listed.buckets()[0].bucket_region(), Some("eu-west-1"));
    assert_eq!(c.head_bucket().bucket("mine").send().await.unwrap().bucket_region(), Some("eu-west-1"));
    let loc = c.get_bucket_location().bucket("mine").send().await.unwrap();
    assert_eq!(loc.location_constraint().map(|l| l.as_str()), Some("eu-west-1"));
}

/// ListBuckets pages (`max-buckets`, `continuation-token`), filters (`prefix`,
/// `bucket-region`) and answers `ContinuationToken` and `Prefix`, as AWS does since 2024.
/// Fails before the fix: every bucket came in one page, without a token.
#[tokio::test]
async fn list_buckets_pages_and_filters() {
    let gw = Gateway::start().await;
    let c = gw.client();
    for name in ["page-c", "page-a", "other", "page-e", "page-b", "page-d"] {
        c.create_bucket().bucket(name).send().await.unwrap();
    }
    let all = c.list_buckets().send().await.unwrap();
    assert_eq!(all.buckets().len(), 6);
    assert!(all.continuation_token().is_none() && all.prefix().is_none());
    assert!(all.buckets().iter().all(|b| b.bucket_region() == Some("us-east-1")));

    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = c.list_buckets().prefix("page-").max_buckets(2).set_continuation_token(token.clone()).send().await.unwrap();
        pages += 1;
        assert_eq!(page.prefix(), Some("page-"));
        assert!(page.buckets().len() <= 2);
        seen.extend(page.buckets().iter().filter_map(|b| b.name().map(str::to_owned)));
        token = page.continuation_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
        assert!(pages < 10, "the pages never end");
    }
    assert_eq!(seen, ["page-a", "page-b", "page-c", "page-d", "page-e"]);
    assert_eq!(pages, 3);

    // The SDK's paginator follows the tokens.
    let names: Vec<String> = c
        .list_buckets()
        .max_buckets(4)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap()
        .into_iter()
        .filter_map(|b| b.name().map(str::to_owned))
        .collect();
    assert_eq!(names, ["other", "page-a", "page-b", "page-c", "page-d", "page-e"]);

    let here = c.list_buckets().bucket_region("us-east-1").send().await.unwrap();
    assert_eq!(here.buckets().len(), 6);
    let elsewhere = c.list_buckets().bucket_region("eu-west-1").send().await.unwrap();
    assert!(elsewhere.buckets().is_empty() && elsewhere.continuation_token().is_none());

    for bad in [0, 10_001] {
        let e = c.list_buckets().max_buckets(bad).send().await.unwrap_err();
        assert_eq!((status(&e), code(e.as_service_error().unwrap())), (400, "InvalidArgument".to_owned()), "max-buckets {bad}");
    }
    let e = c.list_buckets().continuation_token("not a token").send().await.unwrap_err();
    assert_eq!((status(&e), code(e.as_service_error().unwrap())), (400, "InvalidArgument".to_owned()));
}

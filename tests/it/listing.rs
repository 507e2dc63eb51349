use crate::common::*;

async fn fill(gw: &Gateway, b: &str, keys: &[&str]) {
    let c = gw.client();
    for k in keys {
        c.put_object().bucket(b).key(*k).body(k.as_bytes().to_vec().into()).send().await.unwrap();
    }
}

#[tokio::test]
async fn v2_prefix_delimiter_and_pagination() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("list-v2").await;
    fill(&gw, &b, &["a/1", "a/2", "a/b/3", "b", "c/1", "c/2", "d", "é", "Z"]).await;

    let all = c.list_objects_v2().bucket(&b).send().await.unwrap();
    let keys: Vec<&str> = all.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["Z", "a/1", "a/2", "a/b/3", "b", "c/1", "c/2", "d", "é"], "byte order");
    assert_eq!(all.is_truncated(), Some(false));
    assert!(all.contents()[0].owner().is_none(), "owner only with fetch-owner");

    let d = c.list_objects_v2().bucket(&b).delimiter("/").send().await.unwrap();
    let keys: Vec<&str> = d.contents().iter().filter_map(|o| o.key()).collect();
    let prefixes: Vec<&str> = d.common_prefixes().iter().filter_map(|p| p.prefix()).collect();
    assert_eq!(keys, ["Z", "b", "d", "é"]);
    assert_eq!(prefixes, ["a/", "c/"]);
    assert_eq!(d.key_count(), Some(6));

    let p = c.list_objects_v2().bucket(&b).prefix("a/").delimiter("/").send().await.unwrap();
    let keys: Vec<&str> = p.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["a/1", "a/2"]);
    assert_eq!(p.common_prefixes()[0].prefix(), Some("a/b/"));

    // Pages of 2 with a delimiter: common prefixes count toward max-keys and are not repeated.
    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let page = c.list_objects_v2().bucket(&b).delimiter("/").max_keys(2).set_continuation_token(token.clone()).send().await.unwrap();
        assert!(page.key_count().unwrap() <= 2);
        seen.extend(page.contents().iter().filter_map(|o| o.key().map(str::to_owned)));
        seen.extend(page.common_prefixes().iter().filter_map(|p| p.prefix().map(str::to_owned)));
        if page.is_truncated() != Some(true) {
            break;
        }
        token = page.next_continuation_token().map(str::to_owned);
    }
    seen.sort();
    assert_eq!(seen, ["Z", "a/", "b", "c/", "d", "é"]);

    let sa = c.list_objects_v2().bucket(&b).start_after("c/1").send().await.unwrap();
    let keys: Vec<&str> = sa.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["c/2", "d", "é"]);

    let owner = c.list_objects_v2().bucket(&b).fetch_owner(true).max_keys(1).send().await.unwrap();
    assert!(owner.contents()[0].owner().is_some());
    assert_eq!(owner.is_truncated(), Some(true));

    let e = c.list_objects_v2().bucket("nope-bucket").send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "NoSuchBucket");
}

#[tokio::test]
async fn v1_markers_and_etags() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("list-v1").await;
    fill(&gw, &b, &["k1", "k2", "k3", "p/x", "p/y"]).await;
    let p1 = c.list_objects().bucket(&b).max_keys(2).send().await.unwrap();
    assert_eq!(p1.is_truncated(), Some(true));
    assert!(p1.contents().iter().all(|o| o.e_tag().is_some() && o.owner().is_some()));
    let marker = p1.next_marker().unwrap();
    assert_eq!(marker, "k2");
    let p2 = c.list_objects().bucket(&b).marker(marker).delimiter("/").send().await.unwrap();
    let keys: Vec<&str> = p2.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["k3"]);
    assert_eq!(p2.common_prefixes()[0].prefix(), Some("p/"));
    assert_eq!(p2.is_truncated(), Some(false));
}

#[tokio::test]
async fn url_encoding_and_empty_delimiter_over_raw_http() {
    let gw = Gateway::start().await;
    let b = gw.bucket("list-raw").await;
    fill(&gw, &b, &["a+b c", "dir/x"]).await;
    let url = format!("{}/{b}?list-type=2&encoding-type=url&delimiter=", gw.endpoint());
    let r = raw(gw.addr, "GET", &format!("/{b}?list-type=2&encoding-type=url&delimiter="), &sign("GET", &url, &[]), b"", None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.text();
    assert!(body.contains("<Key>a%2Bb%20c</Key>"), "{body}");
    assert!(body.contains("<Key>dir/x</Key>"), "an empty delimiter means none: {body}");
    assert!(!body.contains("CommonPrefixes"), "{body}");
}

#[tokio::test]
async fn object_versions_of_an_unversioned_bucket_are_null() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("versions").await;
    fill(&gw, &b, &["v1", "v2", "v3"]).await;
    let out = c.list_object_versions().bucket(&b).max_keys(2).send().await.unwrap();
    assert_eq!(out.versions().len(), 2);
    assert!(out.versions().iter().all(|v| v.version_id() == Some("null") && v.is_latest() == Some(true)));
    assert_eq!(out.is_truncated(), Some(true));
    let rest = c.list_object_versions().bucket(&b).key_marker(out.next_key_marker().unwrap()).send().await.unwrap();
    assert_eq!(rest.versions().len(), 1);
    assert_eq!(rest.versions()[0].key(), Some("v3"));
    let v = c.get_bucket_versioning().bucket(&b).send().await.unwrap();
    assert!(v.status().is_none());
}

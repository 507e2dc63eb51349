//! Bucket versioning (issue 22), with the semantics of AWS S3: version ids on writes,
//! delete markers, reads and deletes by version id, the "null" version, paging through
//! ListObjectVersions, and the version-aware forms of DeleteObjects, CopyObject,
//! multipart completion and tagging. Everything goes through the S3 API (or a signed raw
//! request), so these tests hold on every backend.

use crate::common::*;
use crate::tenancy::root_conn;
use tollgate::admin::client::call;

use aws_sdk_s3::types::{
    BucketVersioningStatus, CompletedMultipartUpload, CompletedPart, Delete, MfaDelete, ObjectIdentifier, Tag, Tagging, VersioningConfiguration,
};

/// Steps that nearly every test repeats.
mod helpers {
    use aws_sdk_s3::Client;
    use aws_sdk_s3::types::{BucketVersioningStatus, ObjectVersion, VersioningConfiguration};

    /// Sets the bucket's versioning state.
    pub async fn set_versioning(c: &Client, b: &str, status: BucketVersioningStatus) {
        let conf = VersioningConfiguration::builder().status(status).build();
        c.put_bucket_versioning().bucket(b).versioning_configuration(conf).send().await.unwrap();
    }

    /// Turns versioning on.
    pub async fn enable(c: &Client, b: &str) {
        set_versioning(c, b, BucketVersioningStatus::Enabled).await;
    }

    /// Puts `body` at `key` and returns the version id it was given (which must be there).
    pub async fn put(c: &Client, b: &str, key: &str, body: &[u8]) -> String {
        let out = c.put_object().bucket(b).key(key).body(body.to_vec().into()).send().await.unwrap();
        out.version_id().unwrap_or_else(|| panic!("PUT {key} answered no x-amz-version-id")).to_owned()
    }

    /// The body of `key` (of one version of it when `version` is given).
    pub async fn read(c: &Client, b: &str, key: &str, version: Option<&str>) -> Vec<u8> {
        let out = c.get_object().bucket(b).key(key).set_version_id(version.map(str::to_owned)).send().await.unwrap();
        out.body.collect().await.unwrap().into_bytes().to_vec()
    }

    /// Every version entry of the bucket (no paging: the tests stay under 1000).
    pub async fn versions(c: &Client, b: &str) -> Vec<ObjectVersion> {
        let out = c.list_object_versions().bucket(b).send().await.unwrap();
        assert_eq!(out.is_truncated(), Some(false));
        out.versions().to_vec()
    }

    /// The version ids of the bucket's data versions, in listed order.
    pub async fn version_ids(c: &Client, b: &str) -> Vec<String> {
        versions(c, b).await.iter().map(|v| v.version_id().unwrap().to_owned()).collect()
    }
}

use helpers::*;

/// 1. The versioning state of a bucket: absent, Enabled, Suspended; bad requests change nothing.
#[tokio::test]
async fn bucket_versioning_state_round_trips_and_bad_configurations_are_refused() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("ver-state").await;

    // A bucket that was never versioned has no Status at all (not "Suspended").
    let v = c.get_bucket_versioning().bucket(&b).send().await.unwrap();
    assert_eq!(v.status(), None);
    assert_eq!(v.mfa_delete(), None);

    enable(&c, &b).await;
    let v = c.get_bucket_versioning().bucket(&b).send().await.unwrap();
    assert_eq!(v.status(), Some(&BucketVersioningStatus::Enabled));
    set_versioning(&c, &b, BucketVersioningStatus::Suspended).await;
    let v = c.get_bucket_versioning().bucket(&b).send().await.unwrap();
    assert_eq!(v.status(), Some(&BucketVersioningStatus::Suspended));

    // The SDK will not send a Status outside its enum nor broken XML: a signed raw request does
    // (with a correct Content-MD5, which AWS requires here, so only the XML is at fault).
    let url = format!("{}/{b}?versioning", gw.endpoint());
    let bodies: [&[u8]; 3] = [
        b"<VersioningConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Status>Sometimes</Status></VersioningConfiguration>",
        b"<VersioningConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Status>Enabled</Status>",
        b"this is not xml",
    ];
    for body in bodies {
        let md5 = {
            use s3s::crypto::Checksum;
            let mut h = s3s::crypto::Md5::new();
            h.update(body);
            base64_simd::STANDARD.encode_to_string(h.finalize())
        };
        let headers = sign("PUT", &url, &[("content-md5", md5.as_str())]);
        let r = raw(gw.addr, "PUT", &format!("/{b}?versioning"), &headers, body, None).await;
        assert_eq!(r.status, 400, "{}: {}", String::from_utf8_lossy(body), r.text());
        assert!(r.text().contains("<Code>MalformedXML</Code>"), "{}", r.text());
    }
    let v = c.get_bucket_versioning().bucket(&b).send().await.unwrap();
    assert_eq!(v.status(), Some(&BucketVersioningStatus::Suspended), "a refused configuration changes nothing");

    // MFA delete is not implemented: refused whole, so Status=Enabled beside it is not applied.
    let conf = VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).mfa_delete(MfaDelete::Enabled).build();
    let e = c.put_bucket_versioning().bucket(&b).versioning_configuration(conf).send().await.unwrap_err();
    assert_eq!(status(&e), 501, "{e:?}");
    assert_eq!(code(e.as_service_error().unwrap()), "NotImplemented");
    let v = c.get_bucket_versioning().bucket(&b).send().await.unwrap();
    assert_eq!(v.status(), Some(&BucketVersioningStatus::Suspended));
    assert_eq!(v.mfa_delete(), None);
}

/// 2. Every PUT in an Enabled bucket makes a new version, readable by its id.
#[tokio::test]
async fn enabled_bucket_keeps_every_version_and_reads_each_by_id() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("ver-enabled").await;
    enable(&c, &b).await;

    // Distinct sizes, so that each listing entry can be matched to its body.
    let bodies: [&[u8]; 3] = [b"one", b"second", b"third body"];
    let mut ids = Vec::new();
    let mut etags = Vec::new();
    for body in bodies {
        let out = c.put_object().bucket(&b).key("k").body(body.to_vec().into()).send().await.unwrap();
        ids.push(out.version_id().expect("a PUT in an Enabled bucket answers x-amz-version-id").to_owned());
        etags.push(out.e_tag().unwrap().to_owned());
    }
    assert!(ids.iter().all(|id| id != "null" && !id.is_empty()), "{ids:?}");
    assert!(ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2], "{ids:?}");

    assert_eq!(read(&c, &b, "k", None).await, bodies[2], "a plain GET reads the newest version");
    for ((id, etag), body) in ids.iter().zip(&etags).zip(bodies) {
        let g = c.get_object().bucket(&b).key("k").version_id(id).send().await.unwrap();
        assert_eq!(g.version_id(), Some(id.as_str()), "GET echoes the version id");
        assert_eq!(g.e_tag(), Some(etag.as_str()));
        assert_eq!(g.body.collect().await.unwrap().into_bytes().as_ref(), body);
        let h = c.head_object().bucket(&b).key("k").version_id(id).send().await.unwrap();
        assert_eq!(h.version_id(), Some(id.as_str()), "HEAD echoes the version id");
        assert_eq!(h.e_tag(), Some(etag.as_str()));
        assert_eq!(h.content_length(), Some(body.len() as i64));
    }
    let g = c.get_object().bucket(&b).key("k").send().await.unwrap();
    assert_eq!(g.version_id(), Some(ids[2].as_str()), "a plain GET names the version it read");

    let listed = versions(&c, &b).await;
    let got: Vec<(&str, &str, bool, i64, &str)> =
        listed.iter().map(|v| (v.key().unwrap(), v.version_id().unwrap(), v.is_latest().unwrap(), v.size().unwrap(), v.e_tag().unwrap())).collect();
    let want: Vec<(&str, &str, bool, i64, &str)> = (0..3).rev().map(|i| ("k", ids[i].as_str(), i == 2, bodies[i].len() as i64, etags[i].as_str())).collect();
    assert_eq!(got, want, "newest first, IsLatest only on the newest");

    let l = c.list_objects_v2().bucket(&b).send().await.unwrap();
    let objs: Vec<(&str, i64)> = l.contents().iter().map(|o| (o.key().unwrap(), o.size().unwrap())).collect();
    assert_eq!(objs, [("k", bodies[2].len() as i64)], "ListObjectsV2 shows the key once, as its newest version");
}

/// 3. A plain DELETE in an Enabled bucket lays a delete marker; deleting the marker brings the key back.
#[tokio::test]
async fn delete_without_version_id_lays_a_delete_marker() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("ver-marker").await;
    enable(&c, &b).await;
    let v1 = put(&c, &b, "k", b"v1").await;
    let v2 = put(&c, &b, "k", b"v2").await;

    let d = c.delete_object().bucket(&b).key("k").send().await.unwrap();
    assert_eq!(d.delete_marker(), Some(true));
    let marker = d.version_id().expect("the marker's version id").to_owned();
    assert!(marker != "null" && marker != v1 && marker != v2, "{marker}");

    let e = c.get_object().bucket(&b).key("k").send().await.unwrap_err();
    assert_eq!(status(&e), 404);
    assert_eq!(code(e.as_service_error().unwrap()), "NoSuchKey");
    assert_eq!(error_header(&e, "x-amz-delete-marker").as_deref(), Some("true"));
    let e = c.head_object().bucket(&b).key("k").send().await.unwrap_err();
    assert_eq!(status(&e), 404);
    assert_eq!(error_header(&e, "x-amz-delete-marker").as_deref(), Some("true"));

    let l = c.list_objects_v2().bucket(&b).send().await.unwrap();
    assert!(l.contents().is_empty(), "a key whose latest version is a marker is not listed: {:?}", l.contents());

    let lv = c.list_object_versions().bucket(&b).send().await.unwrap();
    let markers: Vec<(&str, &str, bool)> = lv.delete_markers().iter().map(|m| (m.key().unwrap(), m.version_id().unwrap(), m.is_latest().unwrap())).collect();
    assert_eq!(markers, [("k", marker.as_str(), true)]);
    let kept: Vec<(&str, bool)> = lv.versions().iter().map(|v| (v.version_id().unwrap(), v.is_latest().unwrap())).collect();
    assert_eq!(kept, [(v2.as_str(), false), (v1.as_str(), false)], "the old versions stay, none latest");

    // A delete marker has no body: reading it by id is 405.
    let e = c.get_object().bucket(&b).key("k").version_id(&marker).send().await.unwrap_err();
    assert_eq!(status(&e), 405);
    assert_eq!(code(e.as_service_error().unwrap()), "MethodNotAllowed");
    assert_eq!(error_header(&e, "x-amz-delete-marker").as_deref(), Some("true"));
    // The data versions are still readable by id.
    assert_eq!(read(&c, &b, "k", Some(&v1)).await, b"v1");

    // Deleting the marker itself (by its id) removes it for good and the key is back.
    let d = c.delete_object().bucket(&b).key("k").version_id(&marker).send().await.unwrap();
    assert_eq!(d.version_id(), Some(marker.as_str()));
    assert_eq!(d.delete_marker(), Some(true), "what was removed was a delete marker");
    assert_eq!(read(&c, &b, "k", None).await, b"v2");
    let lv = c.list_object_versions().bucket(&b).send().await.unwrap();
    assert!(lv.delete_markers().is_empty());
    assert_eq!(lv.versions().iter().map(|v| v.version_id().unwrap()).collect::<Vec<_>>(), [v2.as_str(), v1.as_str()]);
    assert_eq!(lv.versions()[0].is_latest(), Some(true));
}

/// 4. Deleting by version id removes that version for good; unknown ids are NoSuchVersion on reads.
#[tokio::test]
async fn delete_with_version_id_removes_that_version_for_good() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("ver-delete-id").await;
    enable(&c, &b).await;
    let v1 = put(&c, &b, "k", b"v1").await;
    let v2 = put(&c, &b, "k", b"v2").await;
    let v3 = put(&c, &b, "k", b"v3").await;
    // A well-formed version id, whatever the format, that names no version of "k".
    let other = put(&c, &b, "other", b"other").await;

    // An old version: gone for good, the current one is unchanged.
    let d = c.delete_object().bucket(&b).key("k").version_id(&v1).send().await.unwrap();
    assert_eq!(d.version_id(), Some(v1.as_str()));
    assert_ne!(d.delete_marker(), Some(true), "a data version was removed, no marker laid");
    let e = c.get_object().bucket(&b).key("k").version_id(&v1).send().await.unwrap_err();
    assert_eq!(status(&e), 404);
    assert_eq!(code(e.as_service_error().unwrap()), "NoSuchVersion");
    let e = c.head_object().bucket(&b).key("k").version_id(&v1).send().await.unwrap_err();
    assert_eq!(status(&e), 404);
    assert_eq!(read(&c, &b, "k", None).await, b"v3");
    let lv = c.list_object_versions().bucket(&b).prefix("k").send().await.unwrap();
    assert_eq!(lv.versions().iter().map(|v| v.version_id().unwrap()).collect::<Vec<_>>(), [v3.as_str(), v2.as_str()]);
    assert!(lv.delete_markers().is_empty(), "deleting by version id never lays a marker");

    // The latest version: the previous one becomes current.
    c.delete_object().bucket(&b).key("k").version_id(&v3).send().await.unwrap();
    let g = c.get_object().bucket(&b).key("k").send().await.unwrap();
    assert_eq!(g.version_id(), Some(v2.as_str()));
    assert_eq!(g.body.collect().await.unwrap().into_bytes().as_ref(), b"v2");
    let lv = c.list_object_versions().bucket(&b).prefix("k").send().await.unwrap();
    let got: Vec<(&str, bool)> = lv.versions().iter().map(|v| (v.version_id().unwrap(), v.is_latest().unwrap())).collect();
    assert_eq!(got, [(v2.as_str(), true)]);

    // An id that names no version of this key: NoSuchVersion to read; deleting it is a no-op
    // success (AWS answers 204), and it must not touch the object that id belongs to.
    let e = c.get_object().bucket(&b).key("k").version_id(&other).send().await.unwrap_err();
    assert_eq!(status(&e), 404);
    assert_eq!(code(e.as_service_error().unwrap()), "NoSuchVersion");
    c.delete_object().bucket(&b).key("k").version_id(&other).send().await.expect("deleting an unknown version succeeds");
    c.delete_object().bucket(&b).key("k").version_id(&v1).send().await.expect("deleting a version twice succeeds");
    assert_eq!(read(&c, &b, "k", None).await, b"v2");
    assert_eq!(read(&c, &b, "other", Some(&other)).await, b"other");
}

/// 5. Suspended: new writes become the single "null" version, older real versions stay.
#[tokio::test]
async fn suspended_bucket_writes_replace_the_null_version() {
    let gw = Gateway::start().await;
    let c = gw.client();

    // Never versioned: no version id header at all.
    let plain = gw.bucket("ver-never").await;
    let out = c.put_object().bucket(&plain).key("k").body(b"x".to_vec().into()).send().await.unwrap();
    assert_eq!(out.version_id(), None, "an unversioned bucket answers no x-amz-version-id");

    let b = gw.bucket("ver-suspended").await;
    enable(&c, &b).await;
    let v1 = put(&c, &b, "k", b"enabled-1").await;
    let v2 = put(&c, &b, "k", b"enabled-2").await;
    set_versioning(&c, &b, BucketVersioningStatus::Suspended).await;

    assert_eq!(put(&c, &b, "k", b"suspended-1").await, "null");
    assert_eq!(read(&c, &b, "k", None).await, b"suspended-1");
    assert_eq!(put(&c, &b, "k", b"suspended-two").await, "null");
    assert_eq!(read(&c, &b, "k", None).await, b"suspended-two");
    assert_eq!(read(&c, &b, "k", Some("null")).await, b"suspended-two", "the second null write replaced the first");

    let listed = versions(&c, &b).await;
    let got: Vec<(&str, bool, i64)> = listed.iter().map(|v| (v.version_id().unwrap(), v.is_latest().unwrap(), v.size().unwrap())).collect();
    assert_eq!(got, [("null", true, 13), (v2.as_str(), false, 9), (v1.as_str(), false, 9)], "one null version plus the versions made while Enabled");
    assert_eq!(read(&c, &b, "k", Some(&v1)).await, b"enabled-1");
}

/// 6. An object written before versioning was enabled is the "null" version afterwards.
#[tokio::test]
async fn objects_from_before_versioning_become_the_null_version() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("ver-null").await;
    c.put_object().bucket(&b).key("k").body(b"before".to_vec().into()).send().await.unwrap();
    enable(&c, &b).await;
    let v = put(&c, &b, "k", b"after versioning").await;
    assert_ne!(v, "null");

    let listed = versions(&c, &b).await;
    let got: Vec<(&str, bool)> = listed.iter().map(|x| (x.version_id().unwrap(), x.is_latest().unwrap())).collect();
    assert_eq!(got, [(v.as_str(), true), ("null", false)]);
    assert_eq!(read(&c, &b, "k", Some("null")).await, b"before");
    assert_eq!(read(&c, &b, "k", None).await, b"after versioning");
    let h = c.head_object().bucket(&b).key("k").version_id("null").send().await.unwrap();
    assert_eq!(h.content_length(), Some(6));
}

/// 7. ListObjectVersions pages by (key, version id) markers and groups by delimiter as ListObjectsV2 does.
#[tokio::test]
async fn list_object_versions_pages_and_groups_like_list_objects() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("ver-paging").await;
    enable(&c, &b).await;
    let keys = ["a/1", "a/x/2", "b/1", "c", "d"];
    // The expected full listing: keys in order, each key's versions newest first.
    let mut expected = Vec::new();
    let mut by_key = Vec::new();
    for round in 0..3u8 {
        for (i, k) in keys.iter().enumerate() {
            let id = put(&c, &b, k, &data(10 + usize::from(round), round * 10 + i as u8)).await;
            by_key.push((*k, round, id));
        }
    }
    for k in keys {
        for round in (0..3).rev() {
            let (_, _, id) = by_key.iter().find(|(kk, r, _)| *kk == k && *r == round).unwrap();
            expected.push((k.to_owned(), id.clone()));
        }
    }

    let pairs =
        |vs: &[aws_sdk_s3::types::ObjectVersion]| vs.iter().map(|v| (v.key().unwrap().to_owned(), v.version_id().unwrap().to_owned())).collect::<Vec<_>>();
    let all = versions(&c, &b).await;
    assert_eq!(pairs(&all), expected, "unpaged: keys ascending, each key's versions newest first");

    let mut paged = Vec::new();
    let (mut key_marker, mut version_marker): (Option<String>, Option<String>) = (None, None);
    // 15 entries by 4: 4 pages; the bound only stops a listing that never ends.
    for page in 0.. {
        assert!(page < 10, "paging does not end");
        let out = c
            .list_object_versions()
            .bucket(&b)
            .max_keys(4)
            .set_key_marker(key_marker.clone())
            .set_version_id_marker(version_marker.clone())
            .send()
            .await
            .unwrap();
        assert!(out.versions().len() <= 4, "page {page} has {} entries", out.versions().len());
        paged.extend(pairs(out.versions()));
        if out.is_truncated() != Some(true) {
            break;
        }
        key_marker = Some(out.next_key_marker().expect("a truncated page names the next key marker").to_owned());
        version_marker = out.next_version_id_marker().map(str::to_owned);
        assert!(version_marker.is_some(), "a truncated page names the next version id marker");
    }
    assert_eq!(paged, expected, "the pages add up to the unpaged listing, in order, without duplicates");

    // Delimiter and prefix: the same CommonPrefixes and keys as ListObjectsV2.
    for prefix in [None, Some("a/")] {
        let lv = c.list_object_versions().bucket(&b).delimiter("/").set_prefix(prefix.map(str::to_owned)).send().await.unwrap();
        let l2 = c.list_objects_v2().bucket(&b).delimiter("/").set_prefix(prefix.map(str::to_owned)).send().await.unwrap();
        let cp_v: Vec<&str> = lv.common_prefixes().iter().map(|p| p.prefix().unwrap()).collect();
        let cp_2: Vec<&str> = l2.common_prefixes().iter().map(|p| p.prefix().unwrap()).collect();
        assert_eq!(cp_v, cp_2, "prefix {prefix:?}");
        let mut keys_v: Vec<&str> = lv.versions().iter().map(|v| v.key().unwrap()).collect();
        keys_v.dedup();
        let keys_2: Vec<&str> = l2.contents().iter().map(|o| o.key().unwrap()).collect();
        assert_eq!(keys_v, keys_2, "prefix {prefix:?}");
        assert_eq!(lv.versions().len(), 3 * keys_2.len(), "every version of each listed key, prefix {prefix:?}");
        let want: (Vec<&str>, Vec<&str>) = if prefix.is_none() { (vec!["a/", "b/"], vec!["c", "d"]) } else { (vec!["a/x/"], vec!["a/1"]) };
        assert_eq!((cp_v, keys_v), want);
    }
}

/// 8. DeleteObjects: an entry with a version id removes it; one without lays a marker.
#[tokio::test]
async fn delete_objects_with_and_without_version_ids() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("ver-batch").await;
    enable(&c, &b).await;
    let k1 = put(&c, &b, "k", b"k1").await;
    let k2 = put(&c, &b, "k", b"k2").await;
    let m1 = put(&c, &b, "m", b"m1").await;

    let delete = Delete::builder()
        .objects(ObjectIdentifier::builder().key("k").version_id(&k1).build().unwrap())
        .objects(ObjectIdentifier::builder().key("m").build().unwrap())
        .build()
        .unwrap();
    let out = c.delete_objects().bucket(&b).delete(delete).send().await.unwrap();
    assert!(out.errors().is_empty(), "{:?}", out.errors());
    let entry = |k: &str| out.deleted().iter().find(|d| d.key() == Some(k)).unwrap_or_else(|| panic!("no Deleted entry for {k}"));
    assert_eq!(entry("k").version_id(), Some(k1.as_str()));
    assert_ne!(entry("k").delete_marker(), Some(true));
    assert_eq!(entry("m").delete_marker(), Some(true));
    let marker = entry("m").delete_marker_version_id().expect("DeleteMarkerVersionId").to_owned();
    assert!(marker != "null" && marker != m1);

    let e = c.get_object().bucket(&b).key("k").version_id(&k1).send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "NoSuchVersion");
    assert_eq!(read(&c, &b, "k", None).await, b"k2");
    let e = c.get_object().bucket(&b).key("m").send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "NoSuchKey");
    assert_eq!(read(&c, &b, "m", Some(&m1)).await, b"m1");

    let lv = c.list_object_versions().bucket(&b).send().await.unwrap();
    let kept: Vec<(&str, &str)> = lv.versions().iter().map(|v| (v.key().unwrap(), v.version_id().unwrap())).collect();
    assert_eq!(kept, [("k", k2.as_str()), ("m", m1.as_str())]);
    let markers: Vec<(&str, &str, bool)> = lv.delete_markers().iter().map(|m| (m.key().unwrap(), m.version_id().unwrap(), m.is_latest().unwrap())).collect();
    assert_eq!(markers, [("m", marker.as_str(), true)]);
}

/// 9. CopyObject from `key?versionId=ID` copies that version and names both versions.
#[tokio::test]
async fn copy_object_from_an_older_version() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("ver-copy").await;
    enable(&c, &b).await;
    let old = put(&c, &b, "src", b"old bytes").await;
    let new = put(&c, &b, "src", b"new").await;

    let out = c.copy_object().bucket(&b).key("dst").copy_source(format!("{b}/src?versionId={old}")).send().await.unwrap();
    assert_eq!(out.copy_source_version_id(), Some(old.as_str()));
    let copy = out.version_id().expect("the copy is a new version").to_owned();
    assert!(copy != "null" && copy != old && copy != new, "{copy}");
    assert_eq!(read(&c, &b, "dst", None).await, b"old bytes");
    assert_eq!(read(&c, &b, "dst", Some(&copy)).await, b"old bytes");
    assert_eq!(read(&c, &b, "src", None).await, b"new", "the source is untouched");

    // Copying a key onto itself from an older version restores it as a new version.
    let out = c.copy_object().bucket(&b).key("src").copy_source(format!("{b}/src?versionId={old}")).send().await.unwrap();
    assert_eq!(out.copy_source_version_id(), Some(old.as_str()));
    let restored = out.version_id().unwrap().to_owned();
    assert_eq!(version_ids(&c, &b).await, [copy.as_str(), restored.as_str(), new.as_str(), old.as_str()]);
    assert_eq!(read(&c, &b, "src", None).await, b"old bytes");
}

/// 10. Completing a multipart upload in an Enabled bucket makes a version.
#[tokio::test]
async fn completed_multipart_uploads_are_versions() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("ver-mpu").await;
    enable(&c, &b).await;
    let mut ids = Vec::new();
    for body in [b"first upload".as_slice(), b"second".as_slice()] {
        let up = c.create_multipart_upload().bucket(&b).key("k").send().await.unwrap();
        let uid = up.upload_id().unwrap();
        let p = c.upload_part().bucket(&b).key("k").upload_id(uid).part_number(1).body(body.to_vec().into()).send().await.unwrap();
        let done = CompletedMultipartUpload::builder().parts(CompletedPart::builder().part_number(1).e_tag(p.e_tag().unwrap()).build()).build();
        let out = c.complete_multipart_upload().bucket(&b).key("k").upload_id(uid).multipart_upload(done).send().await.unwrap();
        let id = out.version_id().expect("CompleteMultipartUpload answers the version id").to_owned();
        assert_ne!(id, "null");
        ids.push(id);
    }
    assert_ne!(ids[0], ids[1]);
    assert_eq!(version_ids(&c, &b).await, [ids[1].as_str(), ids[0].as_str()]);
    assert_eq!(read(&c, &b, "k", Some(&ids[0])).await, b"first upload");
    assert_eq!(read(&c, &b, "k", Some(&ids[1])).await, b"second");
    assert_eq!(read(&c, &b, "k", None).await, b"second");
}

/// 11. Concurrent PUTs to one key each make a version, and the listing is coherent.
#[tokio::test]
async fn concurrent_puts_to_one_key_each_make_a_version() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("ver-race").await;
    enable(&c, &b).await;
    let mut tasks = Vec::new();
    for i in 0..20u8 {
        let (c, b) = (c.clone(), b.clone());
        tasks.push(tokio::spawn(async move { put(&c, &b, "k", format!("writer {i}").as_bytes()).await }));
    }
    let mut acked = Vec::new();
    for t in tasks {
        acked.push(t.await.unwrap());
    }

    let listed = versions(&c, &b).await;
    assert_eq!(listed.len(), 20);
    let mut ids: Vec<&str> = listed.iter().map(|v| v.version_id().unwrap()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 20, "all version ids distinct");
    let mut acked_sorted: Vec<&str> = acked.iter().map(String::as_str).collect();
    acked_sorted.sort_unstable();
    assert_eq!(ids, acked_sorted, "the listing holds exactly the acknowledged versions");
    assert!(listed.iter().all(|v| v.version_id() != Some("null")));

    let latest: Vec<_> = listed.iter().filter(|v| v.is_latest() == Some(true)).collect();
    assert_eq!(latest.len(), 1);
    assert_eq!(latest[0].version_id(), listed[0].version_id(), "the latest is listed first");
    let g = c.get_object().bucket(&b).key("k").send().await.unwrap();
    assert_eq!(g.version_id(), latest[0].version_id());
    let current = g.body.collect().await.unwrap().into_bytes();
    assert_eq!(current.as_ref(), read(&c, &b, "k", latest[0].version_id()).await.as_slice(), "GET reads the IsLatest version");

    let times: Vec<(i64, u32)> = listed.iter().map(|v| v.last_modified().unwrap()).map(|t| (t.secs(), t.subsec_nanos())).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "LastModified is non-increasing down the list: {times:?}");
}

/// 12. Object tags belong to a version.
#[tokio::test]
async fn tagging_is_per_version() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("ver-tags").await;
    enable(&c, &b).await;
    let v1 = c.put_object().bucket(&b).key("k").body(b"1".to_vec().into()).tagging("a=1").send().await.unwrap().version_id().unwrap().to_owned();
    let v2 = c.put_object().bucket(&b).key("k").body(b"2".to_vec().into()).tagging("b=2").send().await.unwrap().version_id().unwrap().to_owned();

    let tags = |pairs: &[(&str, &str)]| {
        let set = pairs.iter().map(|(k, v)| Tag::builder().key(*k).value(*v).build().unwrap()).collect();
        Tagging::builder().set_tag_set(Some(set)).build().unwrap()
    };
    let out = c.put_object_tagging().bucket(&b).key("k").version_id(&v1).tagging(tags(&[("c", "3")])).send().await.unwrap();
    assert_eq!(out.version_id(), Some(v1.as_str()));

    let get_tags = |version: Option<String>| {
        let c = c.clone();
        let b = b.clone();
        async move {
            let out = c.get_object_tagging().bucket(&b).key("k").set_version_id(version).send().await.unwrap();
            let pairs: Vec<(String, String)> = out.tag_set().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect();
            (out.version_id().map(str::to_owned), pairs)
        }
    };
    let pair = |k: &str, v: &str| vec![(k.to_owned(), v.to_owned())];
    assert_eq!(get_tags(Some(v1.clone())).await, (Some(v1.clone()), pair("c", "3")), "the tagged version has the new tags");
    assert_eq!(get_tags(Some(v2.clone())).await, (Some(v2.clone()), pair("b", "2")), "the other version keeps its own");
    assert_eq!(get_tags(None).await, (Some(v2.clone()), pair("b", "2")), "without a version id: the current version's tags");

    // Tagging the current version (no id) leaves the older one alone.
    c.put_object_tagging().bucket(&b).key("k").tagging(tags(&[("d", "4")])).send().await.unwrap();
    assert_eq!(get_tags(Some(v2.clone())).await.1, pair("d", "4"));
    assert_eq!(get_tags(Some(v1.clone())).await.1, pair("c", "3"));
}

/// Scrub re-hashes every version of a versioned bucket, the noncurrent ones too (through an
/// upstream, each from its own object there), and the usage tells current from noncurrent.
#[tokio::test]
async fn scrub_reads_every_version() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("ver-scrub").await;
    c.put_object().bucket(&b).key("before").body(b"from before versioning".to_vec().into()).send().await.unwrap();
    enable(&c, &b).await;
    put(&c, &b, "k", b"one").await;
    put(&c, &b, "k", b"two, longer").await;
    c.delete_object().bucket(&b).key("k").send().await.unwrap();
    let root = root_conn(&gw);
    let report = call(&root, "POST", "scrub", None).await.unwrap();
    assert_eq!(report["objects"], 3, "two versions and the null version, no delete marker: {report}");
    assert_eq!(report["bytes"], 22 + 3 + 11, "{report}");
    assert!(report["mismatches"].as_array().unwrap().is_empty(), "{report}");

    // The usage counts every version, and tells current objects from noncurrent versions.
    let usage = call(&root, "GET", "usage", None).await.unwrap();
    let bucket = usage.as_array().unwrap().iter().flat_map(|t| t["buckets"].as_array().unwrap()).find(|v| v["bucket"] == b.as_str()).unwrap();
    assert_eq!((bucket["objects"].as_u64(), bucket["bytes"].as_u64()), (Some(3), Some(36)), "{bucket}");
    assert_eq!(bucket["current"], serde_json::json!({"objects": 1, "bytes": 22}), "{bucket}");
    assert_eq!(bucket["noncurrent"], serde_json::json!({"objects": 2, "bytes": 14}), "{bucket}");
}

/// Object ACLs are read and set per version: an existing version answers its own grants
/// (and decides reads of it by id), an unknown one NoSuchVersion, a delete marker 405.
#[tokio::test]
async fn object_acls_take_a_version_id() {
    use aws_sdk_s3::types::{ObjectCannedAcl, ObjectOwnership, OwnershipControls, OwnershipControlsRule};
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("ver-acl").await;
    let writer = OwnershipControlsRule::builder().object_ownership(ObjectOwnership::ObjectWriter).build().unwrap();
    c.put_bucket_ownership_controls().bucket(&b).ownership_controls(OwnershipControls::builder().rules(writer).build().unwrap()).send().await.unwrap();
    enable(&c, &b).await;
    let old = put(&c, &b, "k", b"old").await;
    put(&c, &b, "k", b"new").await;
    let acl = c.get_object_acl().bucket(&b).key("k").version_id(&old).send().await.unwrap();
    assert_eq!(acl.grants().len(), 1);
    c.put_object_acl().bucket(&b).key("k").version_id(&old).acl(ObjectCannedAcl::PublicRead).send().await.unwrap();
    assert_eq!(c.get_object_acl().bucket(&b).key("k").version_id(&old).send().await.unwrap().grants().len(), 2);
    assert_eq!(c.get_object_acl().bucket(&b).key("k").send().await.unwrap().grants().len(), 1, "the current version keeps its own");
    assert_eq!(raw(gw.addr, "GET", &format!("/{b}/k?versionId={old}"), &[], b"", None).await.status, 200);
    assert_eq!(raw(gw.addr, "GET", &format!("/{b}/k"), &[], b"", None).await.status, 403);
    c.put_object_acl().bucket(&b).key("k").version_id(&old).acl(ObjectCannedAcl::Private).send().await.unwrap();
    assert_eq!(raw(gw.addr, "GET", &format!("/{b}/k?versionId={old}"), &[], b"", None).await.status, 403);
    let other = put(&c, &b, "other", b"x").await;
    let e = c.get_object_acl().bucket(&b).key("k").version_id(&other).send().await.unwrap_err();
    assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(404), "{e:?}");
    let marker = c.delete_object().bucket(&b).key("k").send().await.unwrap().version_id().unwrap().to_owned();
    let e = c.get_object_acl().bucket(&b).key("k").version_id(&marker).send().await.unwrap_err();
    assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(405), "{e:?}");
}

/// A version-id marker without a key marker is refused, as S3 does, not ignored.
#[tokio::test]
async fn a_version_marker_needs_a_key_marker() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("ver-marker").await;
    enable(&c, &b).await;
    let v = put(&c, &b, "k", b"x").await;
    let e = c.list_object_versions().bucket(&b).version_id_marker(&v).send().await.unwrap_err();
    assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(400), "{e:?}");
    let page = c.list_object_versions().bucket(&b).key_marker("k").version_id_marker(&v).send().await.unwrap();
    assert!(page.versions().is_empty(), "nothing after the only version");
}

/// Deletes, behind the gateway, the stored bytes of a version that is the only one of its
/// size (a blob file on local disk; an object of the bucket's place upstream).
async fn lose_bytes_of_size(gw: &Gateway, b: &str, size: u64) {
    match gw.behind(b) {
        None => {
            let victim = std::fs::read_dir(gw.dir.path().join("blobs"))
                .unwrap()
                .flatten()
                .flat_map(|d| std::fs::read_dir(d.path()).unwrap().flatten())
                .find(|f| f.metadata().unwrap().len() == size)
                .unwrap();
            std::fs::remove_file(victim.path()).unwrap();
        }
        Some((up, name)) => {
            let listed = up.list_objects_v2().bucket(&name).send().await.unwrap();
            let victim = listed.contents().iter().find(|o| o.size() == Some(size as i64)).unwrap_or_else(|| panic!("no object of {size} bytes: {listed:?}"));
            up.delete_object().bucket(&name).key(victim.key().unwrap()).send().await.unwrap();
        }
    }
}

/// The reconcile job knows versions (on local disk and through an upstream, where each
/// version is an object of its own): no version's bytes are an orphan; a version whose
/// bytes are gone has that version's entry removed (no delete marker; an older version
/// becomes current), but a locked version's entry is kept.
#[tokio::test]
async fn reconcile_knows_versions_and_keeps_locked_ones() {
    use aws_sdk_s3::types::ObjectLockLegalHoldStatus;
    let gw = Gateway::start_with(|c| c.jobs.reconcile_min_age_secs = 0).await;
    let c = gw.client();
    let b = "ver-reconcile".to_owned();
    c.create_bucket().bucket(&b).send().await.unwrap();
    c.put_object().bucket(&b).key("before").body(data(1500, 9).into()).send().await.unwrap();
    enable(&c, &b).await;
    let conf = aws_sdk_s3::types::ObjectLockConfiguration::builder().object_lock_enabled(aws_sdk_s3::types::ObjectLockEnabled::Enabled).build();
    c.put_object_lock_configuration().bucket(&b).object_lock_configuration(conf).send().await.unwrap();
    let a1 = put(&c, &b, "a", &data(1001, 1)).await;
    let a2 = put(&c, &b, "a", &data(1002, 2)).await;
    let k1 = put(&c, &b, "k", &data(1003, 3)).await;
    let k2 = put(&c, &b, "k", &data(1004, 4)).await;
    let held = c
        .put_object()
        .bucket(&b)
        .key("held")
        .object_lock_legal_hold_status(ObjectLockLegalHoldStatus::On)
        .body(data(1005, 5).into())
        .send()
        .await
        .unwrap()
        .version_id()
        .unwrap()
        .to_owned();
    c.delete_object().bucket(&b).key("a").send().await.unwrap();

    // Nothing to repair: every version's bytes are where its entry says.
    let root = root_conn(&gw);
    let run = call(&root, "POST", "jobs/reconcile/run", None).await.unwrap();
    assert_eq!((run["detail"]["orphan_entries"].as_u64(), run["detail"]["orphan_blobs"].as_u64()), (Some(0), Some(0)), "{run}");
    assert_eq!(
        (run["detail"]["unindexed"].as_u64(), run["detail"]["locked_kept"].as_u64()),
        (Some(0), Some(0)),
        "no version is taken for an unknown object: {run}"
    );
    assert_eq!(version_ids(&c, &b).await.len(), 6);

    // Behind the gateway: the current version of "k" and the held version lose their bytes.
    lose_bytes_of_size(&gw, &b, 1004).await;
    lose_bytes_of_size(&gw, &b, 1005).await;
    let run = call(&root, "POST", "jobs/reconcile/run", None).await.unwrap();
    assert_eq!((run["detail"]["orphan_entries"].as_u64(), run["detail"]["locked_kept"].as_u64()), (Some(1), Some(1)), "{run}");
    let ids = version_ids(&c, &b).await;
    assert!(!ids.contains(&k2) && ids.contains(&k1) && ids.contains(&held) && ids.contains(&a1) && ids.contains(&a2), "{ids:?}");
    assert_eq!(read(&c, &b, "k", None).await, data(1003, 3), "the older version of k is current again");
    let markers = c.list_object_versions().bucket(&b).send().await.unwrap().delete_markers().len();
    assert_eq!(markers, 1, "a repair lays no delete marker");
    assert_eq!(read(&c, &b, "a", Some(&a1)).await, data(1001, 1));
    assert_eq!(read(&c, &b, "before", None).await, data(1500, 9));
    let hold = c.get_object_legal_hold().bucket(&b).key("held").version_id(&held).send().await.unwrap();
    assert_eq!(hold.legal_hold().unwrap().status(), Some(&ObjectLockLegalHoldStatus::On));
    let audit = call(&root, "GET", &format!("audit?bucket={b}"), None).await.unwrap();
    assert!(audit.as_array().unwrap().iter().any(|e| e["operation"] == "RepairOrphanEntry" && e["key"] == "k"), "{audit}");
}

/// Item 2: a presigned PUT and an `aws-chunked` upload with a trailing checksum each make
/// a new version in an `Enabled` bucket, answered in `x-amz-version-id`.
#[tokio::test]
async fn presigned_and_aws_chunked_writes_make_versions() {
    use crate::security::{STREAMING_TRAILER, crc32_b64};
    use aws_sdk_s3::presigning::PresigningConfig;
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("ver-wire").await;
    enable(&c, &b).await;
    let first = put(&c, &b, "k", b"by the sdk").await;

    let presigned = c.put_object().bucket(&b).key("k").presigned(PresigningConfig::expires_in(std::time::Duration::from_secs(300)).unwrap()).await.unwrap();
    let uri: http::Uri = presigned.uri().parse().unwrap();
    let path = uri.path_and_query().unwrap().as_str();
    let headers: Vec<(String, String)> = presigned.headers().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
    let r = raw(gw.addr, "PUT", path, &headers, b"presigned", None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let by_url = r.header("x-amz-version-id").expect("a presigned PUT answers its version id").to_owned();

    let data = b"aws-chunked".to_vec();
    let mut body = format!("{:x}\r\n", data.len()).into_bytes();
    body.extend_from_slice(&data);
    body.extend_from_slice(format!("\r\n0\r\nx-amz-checksum-crc32:{}\r\n\r\n", crc32_b64(&data)).as_bytes());
    let len = data.len().to_string();
    let url = format!("{}/{b}/k", gw.endpoint());
    let headers = sign_with(
        "PUT",
        &url,
        &[("content-encoding", "aws-chunked"), ("x-amz-decoded-content-length", &len), ("x-amz-trailer", "x-amz-checksum-crc32")],
        STREAMING_TRAILER,
    );
    let r = raw(gw.addr, "PUT", &format!("/{b}/k"), &headers, &body, None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let chunked = r.header("x-amz-version-id").expect("an aws-chunked PUT answers its version id").to_owned();

    assert_eq!(version_ids(&c, &b).await, [chunked.clone(), by_url.clone(), first.clone()], "three versions, newest first");
    assert_eq!(read(&c, &b, "k", Some(&by_url)).await, b"presigned");
    assert_eq!(read(&c, &b, "k", Some(&chunked)).await, b"aws-chunked");
    assert_eq!(read(&c, &b, "k", Some(&first)).await, b"by the sdk");
}

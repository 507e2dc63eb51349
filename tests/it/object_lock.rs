//! S3 Object Lock (issue 22 item 4), with the semantics of AWS S3: lock-enabled buckets,
//! their default retention, per-version retention and legal hold, and what they forbid
//! (removing a version for good) to everyone COMPLIANCE or a hold names, root included.
//! Everything goes through the S3 API, so these tests hold on every backend.

use crate::common::*;
use crate::tenancy::user;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::DateTime;
use aws_sdk_s3::types::{
    BucketVersioningStatus, CompletedMultipartUpload, CompletedPart, DefaultRetention, Delete, ObjectIdentifier, ObjectLockConfiguration, ObjectLockEnabled,
    ObjectLockLegalHold, ObjectLockLegalHoldStatus, ObjectLockMode, ObjectLockRetention, ObjectLockRetentionMode, ObjectLockRule, VersioningConfiguration,
};

/// A date `secs` from now.
fn in_secs(secs: i64) -> DateTime {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    DateTime::from_secs(i64::try_from(now).unwrap() + secs)
}

/// A bucket created with Object Lock enabled.
async fn locked_bucket(c: &Client, b: &str) -> String {
    c.create_bucket().bucket(b).object_lock_enabled_for_bucket(true).send().await.unwrap();
    b.to_owned()
}

/// Puts `body` at `key` with a retention of `mode` for `secs`; returns its version id.
async fn put_retained(c: &Client, b: &str, key: &str, mode: ObjectLockMode, secs: i64) -> String {
    let out = c
        .put_object()
        .bucket(b)
        .key(key)
        .body(b"kept".to_vec().into())
        .object_lock_mode(mode)
        .object_lock_retain_until_date(in_secs(secs))
        .send()
        .await
        .unwrap();
    out.version_id().unwrap().to_owned()
}

fn retention(mode: ObjectLockRetentionMode, secs: i64) -> ObjectLockRetention {
    ObjectLockRetention::builder().mode(mode).retain_until_date(in_secs(secs)).build()
}

/// 2. A bucket created with lock is versioned for good; lock configuration and its default retention.
#[tokio::test]
async fn lock_enabled_bucket_is_versioned_for_good_and_keeps_its_configuration() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = locked_bucket(&c, "lock-conf").await;
    let v = c.get_bucket_versioning().bucket(&b).send().await.unwrap();
    assert_eq!(v.status(), Some(&BucketVersioningStatus::Enabled));
    let conf = c.get_object_lock_configuration().bucket(&b).send().await.unwrap();
    let conf = conf.object_lock_configuration().unwrap();
    assert_eq!(conf.object_lock_enabled(), Some(&ObjectLockEnabled::Enabled));
    assert!(conf.rule().is_none());

    // Versioning can never be suspended on it.
    let suspend = VersioningConfiguration::builder().status(BucketVersioningStatus::Suspended).build();
    let e = c.put_bucket_versioning().bucket(&b).versioning_configuration(suspend).send().await.unwrap_err();
    assert_eq!((status(&e), code(e.as_service_error().unwrap()).as_str()), (409, "InvalidBucketState"));

    // A default retention: new versions get it, and it reads back.
    let rule = ObjectLockRule::builder().default_retention(DefaultRetention::builder().mode(ObjectLockRetentionMode::Governance).days(2).build()).build();
    let conf = ObjectLockConfiguration::builder().object_lock_enabled(ObjectLockEnabled::Enabled).rule(rule).build();
    c.put_object_lock_configuration().bucket(&b).object_lock_configuration(conf).send().await.unwrap();
    let got = c.get_object_lock_configuration().bucket(&b).send().await.unwrap();
    let d = got.object_lock_configuration().unwrap().rule().unwrap().default_retention().unwrap();
    assert_eq!((d.mode(), d.days(), d.years()), (Some(&ObjectLockRetentionMode::Governance), Some(2), None));
    let out = c.put_object().bucket(&b).key("k").body(b"x".to_vec().into()).send().await.unwrap();
    let r = c.get_object_retention().bucket(&b).key("k").version_id(out.version_id().unwrap()).send().await.unwrap();
    let r = r.retention().unwrap();
    assert_eq!(r.mode(), Some(&ObjectLockRetentionMode::Governance));
    let until = r.retain_until_date().unwrap().secs();
    let expected = in_secs(2 * 86_400).secs();
    assert!((expected - 120..=expected + 1).contains(&until), "two days from the write: {until} vs {expected}");

    // The default can be cleared again (lock stays enabled).
    let conf = ObjectLockConfiguration::builder().object_lock_enabled(ObjectLockEnabled::Enabled).build();
    c.put_object_lock_configuration().bucket(&b).object_lock_configuration(conf).send().await.unwrap();
    let got = c.get_object_lock_configuration().bucket(&b).send().await.unwrap();
    assert!(got.object_lock_configuration().unwrap().rule().is_none());
    c.put_object().bucket(&b).key("plain").body(b"x".to_vec().into()).send().await.unwrap();
    let e = c.get_object_retention().bucket(&b).key("plain").send().await.unwrap_err();
    assert_eq!((status(&e), code(e.as_service_error().unwrap()).as_str()), (404, "NoSuchObjectLockConfiguration"));
}

/// 2. Lock on an existing bucket: only once versioning is enabled; none: not found.
#[tokio::test]
async fn lock_configuration_needs_versioning_and_is_not_found_without_it() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = gw.bucket("lock-later").await;
    let e = c.get_object_lock_configuration().bucket(&b).send().await.unwrap_err();
    assert_eq!((status(&e), code(e.as_service_error().unwrap()).as_str()), (404, "ObjectLockConfigurationNotFoundError"));
    let conf = ObjectLockConfiguration::builder().object_lock_enabled(ObjectLockEnabled::Enabled).build();
    let e = c.put_object_lock_configuration().bucket(&b).object_lock_configuration(conf.clone()).send().await.unwrap_err();
    assert_eq!((status(&e), code(e.as_service_error().unwrap()).as_str()), (409, "InvalidBucketState"));
    // Lock parameters on a bucket without lock are refused, not ignored.
    let e = c
        .put_object()
        .bucket(&b)
        .key("k")
        .body(b"x".to_vec().into())
        .object_lock_mode(ObjectLockMode::Compliance)
        .object_lock_retain_until_date(in_secs(60))
        .send()
        .await
        .unwrap_err();
    assert_eq!((status(&e), code(e.as_service_error().unwrap()).as_str()), (400, "InvalidRequest"));

    let enabled = VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build();
    c.put_bucket_versioning().bucket(&b).versioning_configuration(enabled).send().await.unwrap();
    c.put_object_lock_configuration().bucket(&b).object_lock_configuration(conf).send().await.unwrap();
    let got = c.get_object_lock_configuration().bucket(&b).send().await.unwrap();
    assert_eq!(got.object_lock_configuration().unwrap().object_lock_enabled(), Some(&ObjectLockEnabled::Enabled));
}

/// 3 and 5. COMPLIANCE: no one shortens it or removes the version, root with bypass included;
/// a delete without version id lays a marker and the version stays readable by id.
#[tokio::test]
async fn compliance_locked_version_survives_root() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = locked_bucket(&c, "lock-compliance").await;
    let v = put_retained(&c, &b, "k", ObjectLockMode::Compliance, 3600).await;
    let r = c.get_object_retention().bucket(&b).key("k").version_id(&v).send().await.unwrap();
    assert_eq!(r.retention().unwrap().mode(), Some(&ObjectLockRetentionMode::Compliance));
    // Reads answer the version's lock too.
    let h = c.head_object().bucket(&b).key("k").send().await.unwrap();
    assert_eq!(h.object_lock_mode(), Some(&ObjectLockMode::Compliance));
    assert!(h.object_lock_retain_until_date().is_some_and(|d| d.secs() > in_secs(3000).secs()));
    assert_eq!(h.object_lock_legal_hold_status(), None);

    let e = c.delete_object().bucket(&b).key("k").version_id(&v).bypass_governance_retention(true).send().await.unwrap_err();
    assert_eq!((status(&e), code(e.as_service_error().unwrap()).as_str()), (403, "AccessDenied"));
    let e = c
        .put_object_retention()
        .bucket(&b)
        .key("k")
        .version_id(&v)
        .bypass_governance_retention(true)
        .retention(retention(ObjectLockRetentionMode::Compliance, 60))
        .send()
        .await
        .unwrap_err();
    assert_eq!((status(&e), code(e.as_service_error().unwrap()).as_str()), (403, "AccessDenied"));
    let e = c
        .put_object_retention()
        .bucket(&b)
        .key("k")
        .version_id(&v)
        .bypass_governance_retention(true)
        .retention(retention(ObjectLockRetentionMode::Governance, 7200))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "AccessDenied", "COMPLIANCE cannot become GOVERNANCE");
    // Lengthening is allowed.
    c.put_object_retention().bucket(&b).key("k").version_id(&v).retention(retention(ObjectLockRetentionMode::Compliance, 7200)).send().await.unwrap();
    // A date in the past is refused.
    let e =
        c.put_object_retention().bucket(&b).key("k").version_id(&v).retention(retention(ObjectLockRetentionMode::Compliance, -60)).send().await.unwrap_err();
    assert_eq!((status(&e), code(e.as_service_error().unwrap()).as_str()), (400, "InvalidArgument"));

    // DeleteObjects by version id: refused per entry.
    let id = ObjectIdentifier::builder().key("k").version_id(&v).build().unwrap();
    let out = c.delete_objects().bucket(&b).bypass_governance_retention(true).delete(Delete::builder().objects(id).build().unwrap()).send().await.unwrap();
    assert_eq!(out.errors().len(), 1);
    assert_eq!(out.errors()[0].code(), Some("AccessDenied"));

    // Without a version id: a delete marker, and the locked version is still there.
    let d = c.delete_object().bucket(&b).key("k").send().await.unwrap();
    assert_eq!(d.delete_marker(), Some(true));
    let got = c.get_object().bucket(&b).key("k").version_id(&v).send().await.unwrap();
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), b"kept");
    // The marker itself carries no lock: it goes.
    c.delete_object().bucket(&b).key("k").version_id(d.version_id().unwrap()).send().await.unwrap();
    c.get_object().bucket(&b).key("k").send().await.unwrap();
}

/// 3 and 5. GOVERNANCE: removable early only by a tenant admin or root who asks to bypass it.
#[tokio::test]
async fn governance_yields_only_to_an_admin_with_bypass() {
    let gw = Gateway::start().await;
    let (wk, ws) = user(&gw, "tl", "writer", "writer").await;
    let (ak, as_) = user(&gw, "tl", "admin", "admin").await;
    let writer = gw.client_with(&wk, &ws);
    let admin = gw.client_with(&ak, &as_);
    let b = locked_bucket(&admin, "lock-governance").await;
    let v = put_retained(&writer, &b, "k", ObjectLockMode::Governance, 3600).await;

    for (who, c, bypass) in [("writer", &writer, true), ("admin", &admin, false), ("root", &gw.client(), false)] {
        let e = c.delete_object().bucket(&b).key("k").version_id(&v).bypass_governance_retention(bypass).send().await.unwrap_err();
        assert_eq!(code(e.as_service_error().unwrap()), "AccessDenied", "{who} bypass={bypass}");
        let e = c
            .put_object_retention()
            .bucket(&b)
            .key("k")
            .version_id(&v)
            .bypass_governance_retention(bypass)
            .retention(retention(ObjectLockRetentionMode::Governance, 60))
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(e.as_service_error().unwrap()), "AccessDenied", "{who} shortens, bypass={bypass}");
    }
    // Lengthening needs nothing.
    writer.put_object_retention().bucket(&b).key("k").version_id(&v).retention(retention(ObjectLockRetentionMode::Governance, 7200)).send().await.unwrap();
    // The tenant's admin shortens it with bypass; root removes the version with bypass.
    admin
        .put_object_retention()
        .bucket(&b)
        .key("k")
        .version_id(&v)
        .bypass_governance_retention(true)
        .retention(retention(ObjectLockRetentionMode::Governance, 1800))
        .send()
        .await
        .unwrap();
    gw.client().delete_object().bucket(&b).key("k").version_id(&v).bypass_governance_retention(true).send().await.unwrap();
    let e = gw.client().get_object().bucket(&b).key("k").version_id(&v).send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "NoSuchVersion");
}

/// 4 and 5. A legal hold blocks deletes by version id, bypass or not, until it is OFF.
#[tokio::test]
async fn legal_hold_blocks_deletes_until_off() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = locked_bucket(&c, "lock-hold").await;
    let out =
        c.put_object().bucket(&b).key("k").body(b"held".to_vec().into()).object_lock_legal_hold_status(ObjectLockLegalHoldStatus::On).send().await.unwrap();
    let v = out.version_id().unwrap().to_owned();
    let h = c.get_object_legal_hold().bucket(&b).key("k").version_id(&v).send().await.unwrap();
    assert_eq!(h.legal_hold().unwrap().status(), Some(&ObjectLockLegalHoldStatus::On));
    let got = c.get_object().bucket(&b).key("k").version_id(&v).send().await.unwrap();
    assert_eq!(got.object_lock_legal_hold_status(), Some(&ObjectLockLegalHoldStatus::On));
    assert_eq!(got.object_lock_mode(), None);
    let e = c.delete_object().bucket(&b).key("k").version_id(&v).bypass_governance_retention(true).send().await.unwrap_err();
    assert_eq!((status(&e), code(e.as_service_error().unwrap()).as_str()), (403, "AccessDenied"));

    let off = ObjectLockLegalHold::builder().status(ObjectLockLegalHoldStatus::Off).build();
    c.put_object_legal_hold().bucket(&b).key("k").version_id(&v).legal_hold(off).send().await.unwrap();
    let h = c.get_object_legal_hold().bucket(&b).key("k").send().await.unwrap();
    assert_eq!(h.legal_hold().unwrap().status(), Some(&ObjectLockLegalHoldStatus::Off), "the current version is the one changed");
    c.delete_object().bucket(&b).key("k").version_id(&v).send().await.unwrap();

    // ON again on another version, by the API this time.
    let v2 = c.put_object().bucket(&b).key("k2").body(b"x".to_vec().into()).send().await.unwrap().version_id().unwrap().to_owned();
    let on = ObjectLockLegalHold::builder().status(ObjectLockLegalHoldStatus::On).build();
    c.put_object_legal_hold().bucket(&b).key("k2").legal_hold(on).send().await.unwrap();
    let e = c.delete_object().bucket(&b).key("k2").version_id(&v2).send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "AccessDenied");
}

/// 3. Lock headers on CopyObject and multipart uploads (kept in the upload, applied at completion).
#[tokio::test]
async fn copies_and_multipart_uploads_take_lock_headers() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = locked_bucket(&c, "lock-writes").await;
    let src = put_retained(&c, &b, "src", ObjectLockMode::Compliance, 3600).await;

    // A copy gets its own headers' lock, not the source's.
    let plain = c.copy_object().bucket(&b).key("plain").copy_source(format!("{b}/src?versionId={src}")).send().await.unwrap();
    let e = c.get_object_retention().bucket(&b).key("plain").version_id(plain.version_id().unwrap()).send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "NoSuchObjectLockConfiguration");
    c.copy_object().bucket(&b).key("held").copy_source(format!("{b}/src")).object_lock_legal_hold_status(ObjectLockLegalHoldStatus::On).send().await.unwrap();
    let h = c.get_object_legal_hold().bucket(&b).key("held").send().await.unwrap();
    assert_eq!(h.legal_hold().unwrap().status(), Some(&ObjectLockLegalHoldStatus::On));

    let up = c
        .create_multipart_upload()
        .bucket(&b)
        .key("mp")
        .object_lock_mode(ObjectLockMode::Governance)
        .object_lock_retain_until_date(in_secs(3600))
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap();
    let part = c.upload_part().bucket(&b).key("mp").upload_id(id).part_number(1).body(b"part".to_vec().into()).send().await.unwrap();
    let done = CompletedMultipartUpload::builder().parts(CompletedPart::builder().part_number(1).e_tag(part.e_tag().unwrap()).build()).build();
    let out = c.complete_multipart_upload().bucket(&b).key("mp").upload_id(id).multipart_upload(done).send().await.unwrap();
    let r = c.get_object_retention().bucket(&b).key("mp").version_id(out.version_id().unwrap()).send().await.unwrap();
    assert_eq!(r.retention().unwrap().mode(), Some(&ObjectLockRetentionMode::Governance));
    let e = c.delete_object().bucket(&b).key("mp").version_id(out.version_id().unwrap()).send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "AccessDenied");
}

/// 5. A write with Object Lock parameters must say its body's digest, as AWS requires.
#[tokio::test]
async fn locked_writes_need_content_md5_or_a_checksum() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = locked_bucket(&c, "lock-md5").await;
    let url = format!("{}/{b}/k", gw.endpoint());
    let hold = ("x-amz-object-lock-legal-hold", "ON");
    let r = raw(gw.addr, "PUT", &format!("/{b}/k"), &sign("PUT", &url, &[hold]), b"data", None).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("<Code>InvalidRequest</Code>"), "{}", r.text());
    let md5 = base64_md5(b"data");
    let r = raw(gw.addr, "PUT", &format!("/{b}/k"), &sign("PUT", &url, &[hold, ("content-md5", &md5)]), b"data", None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let h = c.get_object_legal_hold().bucket(&b).key("k").send().await.unwrap();
    assert_eq!(h.legal_hold().unwrap().status(), Some(&ObjectLockLegalHoldStatus::On));

    // So do the parts of an upload whose object will be locked.
    let up = c.create_multipart_upload().bucket(&b).key("mp").object_lock_legal_hold_status(ObjectLockLegalHoldStatus::On).send().await.unwrap();
    let path = format!("/{b}/mp?partNumber=1&uploadId={}", up.upload_id().unwrap());
    let url = format!("{}{path}", gw.endpoint());
    let r = raw(gw.addr, "PUT", &path, &sign("PUT", &url, &[]), b"part", None).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("<Code>InvalidRequest</Code>"), "{}", r.text());
    let md5 = base64_md5(b"part");
    let r = raw(gw.addr, "PUT", &path, &sign("PUT", &url, &[("content-md5", &md5)]), b"part", None).await;
    assert_eq!(r.status, 200, "{}", r.text());
}

fn base64_md5(b: &[u8]) -> String {
    use s3s::crypto::Checksum;
    let mut h = s3s::crypto::Md5::new();
    h.update(b);
    base64_simd::STANDARD.encode_to_string(h.finalize())
}

/// 2 and 3. Malformed lock documents (which the SDK will not send) are 400 MalformedXML and change nothing.
#[tokio::test]
async fn malformed_lock_documents_are_refused() {
    let gw = Gateway::start().await;
    let c = gw.client();
    let b = locked_bucket(&c, "lock-malformed").await;
    c.put_object().bucket(&b).key("k").body(b"x".to_vec().into()).send().await.unwrap();
    let ns = "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"";
    let future = "2099-01-01T00:00:00Z";
    let cases: Vec<(String, String)> = vec![
        (
            "?object-lock".into(),
            format!(
                "<ObjectLockConfiguration {ns}><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>FOREVER</Mode><Days>1</Days></DefaultRetention></Rule></ObjectLockConfiguration>"
            ),
        ),
        (
            "?object-lock".into(),
            format!(
                "<ObjectLockConfiguration {ns}><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>1</Days><Years>1</Years></DefaultRetention></Rule></ObjectLockConfiguration>"
            ),
        ),
        ("?object-lock".into(), format!("<ObjectLockConfiguration {ns}><ObjectLockEnabled>Disabled</ObjectLockEnabled></ObjectLockConfiguration>")),
        ("/k?retention".into(), format!("<Retention {ns}><Mode>FOREVER</Mode><RetainUntilDate>{future}</RetainUntilDate></Retention>")),
        ("/k?retention".into(), format!("<Retention {ns}><Mode>COMPLIANCE</Mode></Retention>")),
        ("/k?legal-hold".into(), format!("<LegalHold {ns}><Status>MAYBE</Status></LegalHold>")),
    ];
    for (resource, body) in cases {
        let path = format!("/{b}{resource}");
        let md5 = base64_md5(body.as_bytes());
        let headers = sign("PUT", &format!("{}{path}", gw.endpoint()), &[("content-md5", md5.as_str())]);
        let r = raw(gw.addr, "PUT", &path, &headers, body.as_bytes(), None).await;
        assert_eq!(r.status, 400, "{body}: {}", r.text());
        assert!(r.text().contains("<Code>MalformedXML</Code>"), "{body}: {}", r.text());
    }
    let got = c.get_object_lock_configuration().bucket(&b).send().await.unwrap();
    assert!(got.object_lock_configuration().unwrap().rule().is_none(), "a refused configuration changes nothing");
    let e = c.get_object_retention().bucket(&b).key("k").send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "NoSuchObjectLockConfiguration");
    let h = c.get_object_legal_hold().bucket(&b).key("k").send().await.unwrap();
    assert_eq!(h.legal_hold().unwrap().status(), Some(&ObjectLockLegalHoldStatus::Off));
}

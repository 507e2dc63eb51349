//! S3 Object Lock: a bucket's lock configuration, and each version's retention and legal
//! hold. What they protect is enforced by the store where a version goes for good
//! (`Store::version_delete`); here they are read, validated and changed.

use super::Gateway;
use crate::auth::Principal;
use crate::backend::Error;
use crate::backend::s3util::{now_ns, timestamp};
use crate::meta::{BucketRecord, ControlChange, DefaultRetention, LockConfig, LockMode, ObjectRecord, Retention};

use s3s::dto::*;
use s3s::{S3Request, S3Response};

const MALFORMED: &str = "The XML you provided was not well-formed or did not validate against our published schema";

/// Nanoseconds since the Unix epoch of an S3 timestamp.
pub(super) fn ns_of(t: &Timestamp) -> i128 {
    time::OffsetDateTime::from(t.clone()).unix_timestamp_nanos()
}

/// The bucket's lock configuration; a bucket without one refuses lock parameters (400 InvalidRequest).
fn lock_of(bucket: &BucketRecord) -> Result<LockConfig, Error> {
    bucket.object_lock.ok_or_else(|| Error::InvalidRequest("Bucket is missing Object Lock Configuration".into()))
}

/// Whether the caller asked to bypass GOVERNANCE retention and may: a tenant admin of the
/// bucket's tenant, or root.
pub(super) fn may_bypass<T>(req: &S3Request<T>, asked: Option<bool>, bucket: &BucketRecord) -> bool {
    asked == Some(true) && Principal::of(req).administers(&bucket.tenant)
}

/// The `x-amz-object-lock-*` headers a read of `rec` answers: its retention, and its legal
/// hold when it has one.
pub(super) fn read_lock(rec: &ObjectRecord) -> (Option<ObjectLockMode>, Option<Timestamp>, Option<ObjectLockLegalHoldStatus>) {
    let mode = rec.retention.map(|r| ObjectLockMode::from(r.mode.as_str().to_owned()));
    let until = rec.retention.map(|r| timestamp(r.retain_until_ns));
    let hold = rec.legal_hold.then(|| ObjectLockLegalHoldStatus::from_static(ObjectLockLegalHoldStatus::ON));
    (mode, until, hold)
}

/// Whether a write says what its body's digest must be (`Content-MD5`, an
/// `x-amz-checksum-*` header or trailer, or `x-amz-sdk-checksum-algorithm`), as AWS
/// requires of writes with Object Lock parameters.
pub(super) fn has_integrity_header(headers: &http::HeaderMap) -> bool {
    headers.keys().any(|k| {
        let k = k.as_str();
        k == "content-md5" || k.starts_with("x-amz-checksum-") || k == "x-amz-sdk-checksum-algorithm"
    }) || headers.get_all("x-amz-trailer").iter().any(|v| v.to_str().is_ok_and(|v| v.to_ascii_lowercase().contains("x-amz-checksum-")))
}

/// A retention given with a write (`x-amz-object-lock-mode` and
/// `x-amz-object-lock-retain-until-date`, both or neither) and its legal hold, checked
/// against the bucket: lock parameters on a bucket without lock are 400 InvalidRequest.
pub(super) fn write_lock(
    bucket: &BucketRecord,
    mode: Option<&ObjectLockMode>,
    until: Option<&Timestamp>,
    hold: Option<&ObjectLockLegalHoldStatus>,
) -> Result<(Option<Retention>, bool), Error> {
    if mode.is_none() && until.is_none() && hold.is_none() {
        return Ok((None, false));
    }
    lock_of(bucket)?;
    let retention = match (mode, until) {
        (None, None) => None,
        (Some(m), Some(u)) => {
            let mode = LockMode::parse(m.as_str()).ok_or_else(|| Error::InvalidArgument("Unknown wormMode directive.".into()))?;
            Some(future_retention(mode, u)?)
        }
        _ => {
            return Err(Error::InvalidRequest("x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied".into()));
        }
    };
    let hold = match hold.map(ObjectLockLegalHoldStatus::as_str) {
        None | Some(ObjectLockLegalHoldStatus::OFF) => false,
        Some(ObjectLockLegalHoldStatus::ON) => true,
        Some(_) => return Err(Error::InvalidArgument("Legal Hold must be either of 'ON' or 'OFF'".into())),
    };
    Ok((retention, hold))
}

/// A retention until `until`, which must be in the future (400 InvalidArgument).
fn future_retention(mode: LockMode, until: &Timestamp) -> Result<Retention, Error> {
    let retain_until_ns = ns_of(until);
    if retain_until_ns <= now_ns() {
        return Err(Error::InvalidArgument("The retain until date must be in the future!".into()));
    }
    Ok(Retention { mode, retain_until_ns })
}

pub(super) async fn put_object_lock_configuration(
    g: &Gateway,
    req: S3Request<PutObjectLockConfigurationInput>,
) -> Result<S3Response<PutObjectLockConfigurationOutput>, Error> {
    let audit = crate::audit::entry(&req, crate::ops::Operation::PutObjectLockConfiguration, &req.input.bucket, "", 0);
    let index = g.backends.of(&req.input.bucket).index();
    index.bucket(&req.input.bucket)?;
    if req.input.token.is_some() {
        return Err(Error::NotImplemented("Object Lock tokens are not supported"));
    }
    let conf = req.input.object_lock_configuration.as_ref().ok_or_else(|| Error::MalformedXml(MALFORMED.into()))?;
    if conf.object_lock_enabled.as_ref().map(ObjectLockEnabled::as_str) != Some(ObjectLockEnabled::ENABLED) {
        return Err(Error::MalformedXml(MALFORMED.into()));
    }
    let default_retention = match conf.rule.as_ref() {
        None => None,
        Some(ObjectLockRule { default_retention: None }) => return Err(Error::MalformedXml(MALFORMED.into())),
        Some(ObjectLockRule { default_retention: Some(d) }) => Some(default_retention(d)?),
    };
    g.change(ControlChange::BucketLock { name: req.input.bucket.clone(), lock: LockConfig { default_retention } }, audit).await?;
    index.sync().await?;
    Ok(S3Response::new(PutObjectLockConfigurationOutput::default()))
}

/// A rule's default retention: a mode and a positive number of days or of years, not both.
fn default_retention(d: &s3s::dto::DefaultRetention) -> Result<DefaultRetention, Error> {
    let mode = d.mode.as_ref().and_then(|m| LockMode::parse(m.as_str())).ok_or_else(|| Error::MalformedXml(MALFORMED.into()))?;
    let positive = |n: i32| {
        u32::try_from(n).ok().filter(|n| *n > 0).ok_or_else(|| Error::InvalidArgument("Default retention period must be a positive integer value".into()))
    };
    match (d.days, d.years) {
        (Some(days), None) => Ok(DefaultRetention { mode, days: Some(positive(days)?), years: None }),
        (None, Some(years)) => Ok(DefaultRetention { mode, days: None, years: Some(positive(years)?) }),
        _ => Err(Error::MalformedXml(MALFORMED.into())),
    }
}

pub(super) async fn get_object_lock_configuration(
    g: &Gateway,
    req: S3Request<GetObjectLockConfigurationInput>,
) -> Result<S3Response<GetObjectLockConfigurationOutput>, Error> {
    let bucket = g.backends.of(&req.input.bucket).index().bucket(&req.input.bucket)?;
    let lock = bucket.object_lock.ok_or(Error::NoLockConfiguration)?;
    let rule = lock.default_retention.map(|d| ObjectLockRule {
        default_retention: Some(s3s::dto::DefaultRetention {
            mode: Some(ObjectLockRetentionMode::from(d.mode.as_str().to_owned())),
            days: d.days.and_then(|n| i32::try_from(n).ok()),
            years: d.years.and_then(|n| i32::try_from(n).ok()),
        }),
    });
    let conf = ObjectLockConfiguration { object_lock_enabled: Some(ObjectLockEnabled::from_static(ObjectLockEnabled::ENABLED)), rule };
    Ok(S3Response::new(GetObjectLockConfigurationOutput { object_lock_configuration: Some(conf) }))
}

/// The object version a lock request names (the current one without a version id).
fn named_version(g: &Gateway, bucket: &str, key: &str, version: Option<&str>) -> Result<ObjectRecord, Error> {
    g.backends.of(bucket).version(bucket, key, version)
}

/// Whether replacing `old` by `new` at `now` is allowed: lengthening always; shortening,
/// removing or changing the mode of an unexpired COMPLIANCE retention never; of an
/// unexpired GOVERNANCE one only with `bypass`.
fn retention_change(old: Option<Retention>, new: Option<Retention>, now: i128, bypass: bool) -> crate::meta::Result<()> {
    let Some(old) = old.filter(|o| o.active(now)) else { return Ok(()) };
    let keeps = new.is_some_and(|n| n.retain_until_ns >= old.retain_until_ns);
    let denied = || Err(crate::meta::Error::Locked("Access Denied because object protected by object lock.".into()));
    match old.mode {
        LockMode::Compliance if keeps && new.is_some_and(|n| n.mode == LockMode::Compliance) => Ok(()),
        LockMode::Compliance => denied(),
        // GOVERNANCE to COMPLIANCE for no shorter is a strengthening.
        LockMode::Governance if keeps && (bypass || new.is_some_and(|n| n.mode == LockMode::Compliance || n.mode == old.mode)) => Ok(()),
        LockMode::Governance if bypass => Ok(()),
        LockMode::Governance => denied(),
    }
}

pub(super) async fn put_object_retention(g: &Gateway, req: S3Request<PutObjectRetentionInput>) -> Result<S3Response<PutObjectRetentionOutput>, Error> {
    let audit = crate::audit::entry(&req, crate::ops::Operation::PutObjectRetention, &req.input.bucket, &req.input.key, 0);
    let input = &req.input;
    let index = g.backends.of(&input.bucket).index();
    let bucket = index.bucket(&input.bucket)?;
    lock_of(&bucket)?;
    let new = match input.retention.as_ref() {
        None => return Err(Error::MalformedXml(MALFORMED.into())),
        // An empty Retention removes it.
        Some(ObjectLockRetention { mode: None, retain_until_date: None }) => None,
        Some(ObjectLockRetention { mode: Some(m), retain_until_date: Some(u) }) => {
            let mode = LockMode::parse(m.as_str()).ok_or_else(|| Error::MalformedXml(MALFORMED.into()))?;
            Some(future_retention(mode, u)?)
        }
        Some(_) => return Err(Error::MalformedXml(MALFORMED.into())),
    };
    let bypass = may_bypass(&req, input.bypass_governance_retention, &bucket);
    let rec = named_version(g, &input.bucket, &input.key, input.version_id.as_deref())?;
    let now = now_ns();
    let update = |o: &mut ObjectRecord| -> crate::meta::Result<()> {
        retention_change(o.retention, new, now, bypass)?;
        o.retention = new;
        Ok(())
    };
    let version = Some(rec.version_id.as_str()).filter(|v| !v.is_empty());
    if !index.store.version_update(&input.bucket, &input.key, version, &update, Some(&audit))? {
        return Err(if input.version_id.is_some() { Error::NoSuchVersion } else { Error::NoSuchKey });
    }
    index.sync().await?;
    Ok(S3Response::new(PutObjectRetentionOutput::default()))
}

pub(super) async fn get_object_retention(g: &Gateway, req: S3Request<GetObjectRetentionInput>) -> Result<S3Response<GetObjectRetentionOutput>, Error> {
    let input = &req.input;
    let bucket = g.backends.of(&input.bucket).index().bucket(&input.bucket)?;
    lock_of(&bucket)?;
    let rec = named_version(g, &input.bucket, &input.key, input.version_id.as_deref())?;
    let r = rec.retention.ok_or(Error::NoObjectLock)?;
    let retention =
        ObjectLockRetention { mode: Some(ObjectLockRetentionMode::from(r.mode.as_str().to_owned())), retain_until_date: Some(timestamp(r.retain_until_ns)) };
    Ok(S3Response::new(GetObjectRetentionOutput { retention: Some(retention) }))
}

pub(super) async fn put_object_legal_hold(g: &Gateway, req: S3Request<PutObjectLegalHoldInput>) -> Result<S3Response<PutObjectLegalHoldOutput>, Error> {
    let audit = crate::audit::entry(&req, crate::ops::Operation::PutObjectLegalHold, &req.input.bucket, &req.input.key, 0);
    let input = &req.input;
    let index = g.backends.of(&input.bucket).index();
    let bucket = index.bucket(&input.bucket)?;
    lock_of(&bucket)?;
    let on = match input.legal_hold.as_ref().and_then(|h| h.status.as_ref()).map(ObjectLockLegalHoldStatus::as_str) {
        Some(ObjectLockLegalHoldStatus::ON) => true,
        Some(ObjectLockLegalHoldStatus::OFF) => false,
        _ => return Err(Error::MalformedXml(MALFORMED.into())),
    };
    let rec = named_version(g, &input.bucket, &input.key, input.version_id.as_deref())?;
    let update = |o: &mut ObjectRecord| -> crate::meta::Result<()> {
        o.legal_hold = on;
        Ok(())
    };
    let version = Some(rec.version_id.as_str()).filter(|v| !v.is_empty());
    if !index.store.version_update(&input.bucket, &input.key, version, &update, Some(&audit))? {
        return Err(if input.version_id.is_some() { Error::NoSuchVersion } else { Error::NoSuchKey });
    }
    index.sync().await?;
    Ok(S3Response::new(PutObjectLegalHoldOutput::default()))
}

pub(super) async fn get_object_legal_hold(g: &Gateway, req: S3Request<GetObjectLegalHoldInput>) -> Result<S3Response<GetObjectLegalHoldOutput>, Error> {
    let input = &req.input;
    let bucket = g.backends.of(&input.bucket).index().bucket(&input.bucket)?;
    lock_of(&bucket)?;
    let rec = named_version(g, &input.bucket, &input.key, input.version_id.as_deref())?;
    let status = ObjectLockLegalHoldStatus::from_static(if rec.legal_hold { ObjectLockLegalHoldStatus::ON } else { ObjectLockLegalHoldStatus::OFF });
    Ok(S3Response::new(GetObjectLegalHoldOutput { legal_hold: Some(ObjectLockLegalHold { status: Some(status) }) }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i128 = 1_000;

    fn r(mode: LockMode, until: i128) -> Option<Retention> {
        Some(Retention { mode, retain_until_ns: until })
    }

    #[test]
    fn compliance_retention_only_lengthens() {
        let old = r(LockMode::Compliance, 2_000);
        assert!(retention_change(old, r(LockMode::Compliance, 3_000), NOW, false).is_ok());
        assert!(retention_change(old, r(LockMode::Compliance, 1_500), NOW, true).is_err(), "bypass does not shorten COMPLIANCE");
        assert!(retention_change(old, r(LockMode::Governance, 3_000), NOW, true).is_err(), "nor change its mode");
        assert!(retention_change(old, None, NOW, true).is_err(), "nor remove it");
        assert!(retention_change(old, None, 2_000, false).is_ok(), "an expired one is no lock");
    }

    #[test]
    fn governance_retention_shortens_only_with_bypass() {
        let old = r(LockMode::Governance, 2_000);
        assert!(retention_change(old, r(LockMode::Governance, 3_000), NOW, false).is_ok());
        assert!(retention_change(old, r(LockMode::Compliance, 3_000), NOW, false).is_ok());
        assert!(retention_change(old, r(LockMode::Governance, 1_500), NOW, false).is_err());
        assert!(retention_change(old, None, NOW, false).is_err());
        assert!(retention_change(old, r(LockMode::Governance, 1_500), NOW, true).is_ok());
        assert!(retention_change(old, None, NOW, true).is_ok());
    }
}

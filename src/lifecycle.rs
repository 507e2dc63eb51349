//! Lifecycle rules: S3's bucket lifecycle configuration, validated as AWS validates it,
//! kept in the bucket's configuration (its own JSON form) and applied by the `lifecycle`
//! job (see `jobs::lifecycle`).
//!
//! Times are measured in lifecycle days: 86,400 s, or `jobs.lifecycle_day_secs` for tests.
//! As on AWS, an object's expiry is its creation (for a noncurrent version: the time it
//! became noncurrent) plus the rule's days, rounded up to the next day boundary (midnight
//! UTC with real days).

use serde::{Deserialize, Serialize};

/// The most rules a configuration may hold (AWS's limit).
pub const MAX_RULES: usize = 1000;

/// Why a lifecycle configuration is refused, each answered as AWS answers it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LifecycleError {
    /// 400 MalformedXML: the document's shape is wrong.
    #[error("{0}")]
    Malformed(String),
    /// 400 InvalidArgument: a value out of range.
    #[error("{0}")]
    InvalidArgument(String),
    /// 400 InvalidRequest: a combination AWS refuses.
    #[error("{0}")]
    InvalidRequest(String),
    /// 501 NotImplemented: transitions (tollgate has one storage class).
    #[error("{0}")]
    NotImplemented(&'static str),
}

/// A bucket's lifecycle configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lifecycle {
    /// The rules, in the order given.
    pub rules: Vec<Rule>,
}

/// One rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    /// Its id (given, or made when the rule named none, as AWS does).
    pub id: String,
    /// `Status` `Enabled`.
    pub enabled: bool,
    /// Which objects it applies to.
    #[serde(default)]
    pub filter: Filter,
    /// Whether the filter was given as the rule's own `Prefix` (the old form), so a read
    /// answers it as written.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub legacy_prefix: bool,
    /// `Expiration` of current versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<Expiration>,
    /// `NoncurrentVersionExpiration`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noncurrent: Option<NoncurrentExpiration>,
    /// `AbortIncompleteMultipartUpload`'s `DaysAfterInitiation`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abort_upload_days: Option<u32>,
}

/// A rule's filter: every condition given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    /// The key prefix (empty: every key).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub prefix: String,
    /// Tags the object must carry, `(key, value)`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<(String, String)>,
    /// `ObjectSizeGreaterThan`, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_greater_than: Option<u64>,
    /// `ObjectSizeLessThan`, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_less_than: Option<u64>,
}

/// When current versions expire: after `Days`, at a `Date`, or (alone) expired delete
/// markers are removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Expiration {
    /// `Days` after creation.
    Days(u32),
    /// At `Date` (midnight UTC), nanoseconds since the Unix epoch.
    Date(i128),
    /// `ExpiredObjectDeleteMarker`: a delete marker with no version under it is removed.
    ExpiredDeleteMarkers,
}

/// When noncurrent versions expire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoncurrentExpiration {
    /// `NoncurrentDays` after a version became noncurrent.
    pub days: u32,
    /// `NewerNoncurrentVersions`: this many newest noncurrent versions are kept whatever their age.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newer_versions: Option<u32>,
}

const NS_PER_SEC: i128 = 1_000_000_000;

/// The moment `days` lifecycle days after `start_ns`, rounded up to a day boundary.
#[must_use]
pub fn due(start_ns: i128, days: u32, day_secs: u64) -> i128 {
    let day = i128::from(day_secs.max(1)) * NS_PER_SEC;
    let at = start_ns + i128::from(days) * day;
    at.div_euclid(day) * day + if at.rem_euclid(day) == 0 { 0 } else { day }
}

impl Filter {
    /// Whether an object of `key`, `size` bytes and `tags` is one the filter selects.
    #[must_use]
    pub fn matches(&self, key: &str, size: u64, tags: &[(String, String)]) -> bool {
        key.starts_with(&self.prefix)
            && self.tags.iter().all(|t| tags.contains(t))
            && self.size_greater_than.is_none_or(|n| size > n)
            && self.size_less_than.is_none_or(|n| size < n)
    }
}

impl Lifecycle {
    /// Whether any enabled rule filters on tags (reading them costs a request through an
    /// upstream storing objects at their keys).
    #[must_use]
    pub fn needs_tags(&self) -> bool {
        self.rules.iter().any(|r| r.enabled && !r.filter.tags.is_empty())
    }

    /// The enabled rules.
    pub fn enabled(&self) -> impl Iterator<Item = &Rule> {
        self.rules.iter().filter(|r| r.enabled)
    }

    /// When a current version (`key`, `size`, `tags`, written at `created_ns`) expires,
    /// and by which rule: the earliest of the rules that select it (`x-amz-expiration`).
    #[must_use]
    pub fn expiry(&self, key: &str, size: u64, tags: &[(String, String)], created_ns: i128, day_secs: u64) -> Option<(i128, &str)> {
        self.enabled()
            .filter(|r| r.filter.matches(key, size, tags))
            .filter_map(|r| match r.expiration? {
                Expiration::Days(days) => Some((due(created_ns, days, day_secs), r.id.as_str())),
                Expiration::Date(at) => Some((at, r.id.as_str())),
                Expiration::ExpiredDeleteMarkers => None,
            })
            .min_by_key(|(at, _)| *at)
    }

    /// When a noncurrent version (noncurrent since `since_ns`, with `newer` noncurrent
    /// versions of its key newer than it) expires, by the earliest rule selecting it.
    #[must_use]
    pub fn noncurrent_expiry(&self, key: &str, size: u64, tags: &[(String, String)], since_ns: i128, newer: usize, day_secs: u64) -> Option<(i128, &str)> {
        self.enabled()
            .filter(|r| r.filter.matches(key, size, tags))
            .filter_map(|r| {
                let n = r.noncurrent?;
                let kept = n.newer_versions.is_some_and(|keep| newer < keep as usize);
                (!kept).then(|| (due(since_ns, n.days, day_secs), r.id.as_str()))
            })
            .min_by_key(|(at, _)| *at)
    }

    /// The rule that removes a delete marker left with no version under it, if any selects `key`.
    #[must_use]
    pub fn removes_expired_marker(&self, key: &str) -> Option<&str> {
        self.enabled().find(|r| r.expiration == Some(Expiration::ExpiredDeleteMarkers) && r.filter.matches(key, 0, &[])).map(|r| r.id.as_str())
    }

    /// When a multipart upload of `key` started at `initiated_ns` is aborted, by the earliest rule.
    #[must_use]
    pub fn upload_expiry(&self, key: &str, initiated_ns: i128, day_secs: u64) -> Option<(i128, &str)> {
        self.enabled()
            .filter(|r| key.starts_with(&r.filter.prefix))
            .filter_map(|r| Some((due(initiated_ns, r.abort_upload_days?, day_secs), r.id.as_str())))
            .min_by_key(|(at, _)| *at)
    }

    /// The stored form.
    #[must_use]
    pub fn document(&self) -> String {
        serde_json::to_string(self).expect("lifecycle rules serialize")
    }

    /// Reads the stored form.
    ///
    /// # Errors
    /// The document is not one [`Lifecycle::document`] wrote.
    pub fn from_document(document: &str) -> Result<Self, String> {
        serde_json::from_str(document).map_err(|e| e.to_string())
    }
}

fn positive(value: Option<i32>, what: &str) -> Result<Option<u32>, LifecycleError> {
    value
        .map(|v| u32::try_from(v).ok().filter(|v| *v > 0).ok_or_else(|| LifecycleError::InvalidArgument(format!("'{what}' must be a positive integer"))))
        .transpose()
}

fn size(value: Option<i64>) -> Result<Option<u64>, LifecycleError> {
    value.map(|v| u64::try_from(v).map_err(|_| LifecycleError::InvalidArgument("Object size must be a non-negative number".into()))).transpose()
}

fn tag_pairs(tags: impl IntoIterator<Item = s3s::dto::Tag>) -> Result<Vec<(String, String)>, LifecycleError> {
    tags.into_iter()
        .map(|t| match (t.key, t.value) {
            (Some(k), Some(v)) if !k.is_empty() => Ok((k, v)),
            _ => Err(LifecycleError::Malformed("A Tag needs a Key and a Value".into())),
        })
        .collect()
}

/// The filter of a rule as given: its `Filter` (one condition, or `And`), or its old
/// `Prefix` (returned true), never both.
fn filter_of(rule: &s3s::dto::LifecycleRule) -> Result<(Filter, bool), LifecycleError> {
    match (&rule.filter, &rule.prefix) {
        (Some(_), Some(_)) => Err(LifecycleError::Malformed("A rule takes a Filter or a Prefix, not both".into())),
        (None, Some(prefix)) => Ok((Filter { prefix: prefix.clone(), ..Filter::default() }, true)),
        (None, None) => Ok((Filter::default(), false)),
        (Some(f), None) => {
            let given = [f.prefix.is_some(), f.tag.is_some(), f.object_size_greater_than.is_some(), f.object_size_less_than.is_some(), f.and.is_some()];
            if given.iter().filter(|g| **g).count() > 1 {
                return Err(LifecycleError::Malformed("A Filter takes one condition: combine several with And".into()));
            }
            let filter = match &f.and {
                Some(and) => Filter {
                    prefix: and.prefix.clone().unwrap_or_default(),
                    tags: tag_pairs(and.tags.clone().unwrap_or_default())?,
                    size_greater_than: size(and.object_size_greater_than)?,
                    size_less_than: size(and.object_size_less_than)?,
                },
                None => Filter {
                    prefix: f.prefix.clone().unwrap_or_default(),
                    tags: tag_pairs(f.tag.clone())?,
                    size_greater_than: size(f.object_size_greater_than)?,
                    size_less_than: size(f.object_size_less_than)?,
                },
            };
            if let (Some(gt), Some(lt)) = (filter.size_greater_than, filter.size_less_than)
                && gt >= lt
            {
                return Err(LifecycleError::InvalidArgument("ObjectSizeGreaterThan must be less than ObjectSizeLessThan".into()));
            }
            let mut keys: Vec<&str> = filter.tags.iter().map(|(k, _)| k.as_str()).collect();
            keys.sort_unstable();
            if keys.windows(2).any(|w| w[0] == w[1]) {
                return Err(LifecycleError::InvalidArgument("Duplicate Tag Keys are not allowed".into()));
            }
            Ok((filter, false))
        }
    }
}

fn expiration_of(e: &s3s::dto::LifecycleExpiration) -> Result<Expiration, LifecycleError> {
    let marker = e.expired_object_delete_marker == Some(true);
    match (positive(e.days, "Days")?, &e.date, marker) {
        (Some(days), None, false) => Ok(Expiration::Days(days)),
        (None, Some(date), false) => {
            let at = time::OffsetDateTime::from(date.clone());
            if (at.hour(), at.minute(), at.second(), at.nanosecond()) != (0, 0, 0, 0) {
                return Err(LifecycleError::InvalidArgument("'Date' must be at midnight GMT".into()));
            }
            Ok(Expiration::Date(at.unix_timestamp_nanos()))
        }
        (None, None, true) => Ok(Expiration::ExpiredDeleteMarkers),
        (None, None, false) if e.expired_object_delete_marker == Some(false) => {
            Err(LifecycleError::Malformed("ExpiredObjectDeleteMarker false is no action: give Days or Date".into()))
        }
        (None, None, false) => Err(LifecycleError::Malformed("Expiration needs Days, Date or ExpiredObjectDeleteMarker".into())),
        _ => Err(LifecycleError::InvalidRequest("ExpiredObjectDeleteMarker cannot be specified with Days or Date in a Lifecycle Expiration Policy".into())),
    }
}

fn rule_of(r: &s3s::dto::LifecycleRule) -> Result<Rule, LifecycleError> {
    if r.transitions.as_ref().is_some_and(|t| !t.is_empty()) || r.noncurrent_version_transitions.as_ref().is_some_and(|t| !t.is_empty()) {
        return Err(LifecycleError::NotImplemented("tollgate keeps one storage class (STANDARD): lifecycle transitions are not supported"));
    }
    let id = match &r.id {
        Some(id) if id.chars().count() > 255 => return Err(LifecycleError::InvalidArgument("ID length should not exceed allowed limit of 255".into())),
        Some(id) if !id.is_empty() => id.clone(),
        _ => crate::proof::manifest::new_id(),
    };
    let enabled = match r.status.as_str() {
        "Enabled" => true,
        "Disabled" => false,
        other => return Err(LifecycleError::Malformed(format!("Status must be Enabled or Disabled, not {other:?}"))),
    };
    let (filter, legacy_prefix) = filter_of(r)?;
    let expiration = r.expiration.as_ref().map(expiration_of).transpose()?;
    let noncurrent = r
        .noncurrent_version_expiration
        .as_ref()
        .map(|n| -> Result<NoncurrentExpiration, LifecycleError> {
            let days = positive(n.noncurrent_days, "NoncurrentDays")?
                .ok_or_else(|| LifecycleError::Malformed("NoncurrentVersionExpiration needs NoncurrentDays".into()))?;
            let newer_versions = n
                .newer_noncurrent_versions
                .map(|v| u32::try_from(v).ok().filter(|v| (1..=100).contains(v)))
                .map(|v| v.ok_or_else(|| LifecycleError::InvalidArgument("NewerNoncurrentVersions must be between 1 and 100".into())))
                .transpose()?;
            Ok(NoncurrentExpiration { days, newer_versions })
        })
        .transpose()?;
    let abort_upload_days = match &r.abort_incomplete_multipart_upload {
        Some(a) => Some(
            positive(a.days_after_initiation, "DaysAfterInitiation")?
                .ok_or_else(|| LifecycleError::Malformed("AbortIncompleteMultipartUpload needs DaysAfterInitiation".into()))?,
        ),
        None => None,
    };
    let filtered_beyond_prefix = !filter.tags.is_empty() || filter.size_greater_than.is_some() || filter.size_less_than.is_some();
    if abort_upload_days.is_some() && filtered_beyond_prefix {
        return Err(LifecycleError::InvalidRequest("AbortIncompleteMultipartUpload cannot be specified with Tags or object size filters".into()));
    }
    if expiration == Some(Expiration::ExpiredDeleteMarkers) && filtered_beyond_prefix {
        return Err(LifecycleError::InvalidRequest("ExpiredObjectDeleteMarker cannot be specified with Tags or object size filters".into()));
    }
    if expiration.is_none() && noncurrent.is_none() && abort_upload_days.is_none() {
        return Err(LifecycleError::InvalidRequest("At least one action needs to be specified in a rule".into()));
    }
    Ok(Rule { id, enabled, filter, legacy_prefix, expiration, noncurrent, abort_upload_days })
}

/// The kinds of action two prefix-only rules may not both take on overlapping prefixes.
fn actions(r: &Rule) -> [(&'static str, bool); 3] {
    [
        ("Expiration", r.expiration.is_some()),
        ("NoncurrentVersionExpiration", r.noncurrent.is_some()),
        ("AbortIncompleteMultipartUpload", r.abort_upload_days.is_some()),
    ]
}

impl Lifecycle {
    /// Validates a configuration as AWS does.
    ///
    /// # Errors
    /// The reason it is refused; nothing of it is kept.
    pub fn from_dto(config: &s3s::dto::BucketLifecycleConfiguration) -> Result<Self, LifecycleError> {
        if config.rules.is_empty() {
            return Err(LifecycleError::Malformed("A lifecycle configuration needs at least one Rule".into()));
        }
        if config.rules.len() > MAX_RULES {
            return Err(LifecycleError::InvalidRequest(format!("A lifecycle configuration holds at most {MAX_RULES} rules")));
        }
        let rules = config.rules.iter().map(rule_of).collect::<Result<Vec<_>, _>>()?;
        for (i, a) in rules.iter().enumerate() {
            for b in &rules[i + 1..] {
                if a.id == b.id {
                    return Err(LifecycleError::InvalidArgument("Rule ID must be unique. Found same ID for more than one rule".into()));
                }
                let prefix_only = |r: &Rule| r.filter.tags.is_empty() && r.filter.size_greater_than.is_none() && r.filter.size_less_than.is_none();
                let overlap = a.filter.prefix.starts_with(&b.filter.prefix) || b.filter.prefix.starts_with(&a.filter.prefix);
                if !(a.enabled && b.enabled && prefix_only(a) && prefix_only(b) && overlap) {
                    continue;
                }
                if let Some((action, _)) = actions(a).iter().zip(actions(b)).find(|((_, x), (_, y))| *x && *y).map(|(a, _)| a) {
                    return Err(LifecycleError::InvalidRequest(format!(
                        "Found overlapping prefixes '{}' and '{}' for same action type '{action}'",
                        a.filter.prefix, b.filter.prefix
                    )));
                }
            }
        }
        Ok(Self { rules })
    }

    /// The configuration as S3 answers it.
    #[must_use]
    pub fn to_dto(&self) -> Vec<s3s::dto::LifecycleRule> {
        use s3s::dto::{
            AbortIncompleteMultipartUpload, ExpirationStatus, LifecycleExpiration, LifecycleRule, LifecycleRuleAndOperator, LifecycleRuleFilter,
            NoncurrentVersionExpiration, Tag,
        };
        let tag = |(k, v): &(String, String)| Tag { key: Some(k.clone()), value: Some(v.clone()) };
        let size = |n: Option<u64>| n.and_then(|n| i64::try_from(n).ok());
        self.rules
            .iter()
            .map(|r| {
                let f = &r.filter;
                let conditions =
                    usize::from(!f.prefix.is_empty()) + f.tags.len() + usize::from(f.size_greater_than.is_some()) + usize::from(f.size_less_than.is_some());
                let filter = (!r.legacy_prefix).then(|| {
                    if conditions > 1 {
                        LifecycleRuleFilter {
                            and: Some(LifecycleRuleAndOperator {
                                prefix: (!f.prefix.is_empty()).then(|| f.prefix.clone()),
                                tags: (!f.tags.is_empty()).then(|| f.tags.iter().map(tag).collect()),
                                object_size_greater_than: size(f.size_greater_than),
                                object_size_less_than: size(f.size_less_than),
                            }),
                            ..LifecycleRuleFilter::default()
                        }
                    } else {
                        LifecycleRuleFilter {
                            prefix: (conditions == 0 || !f.prefix.is_empty()).then(|| f.prefix.clone()),
                            tag: f.tags.first().map(tag),
                            object_size_greater_than: size(f.size_greater_than),
                            object_size_less_than: size(f.size_less_than),
                            and: None,
                        }
                    }
                });
                let expiration = r.expiration.map(|e| match e {
                    Expiration::Days(d) => LifecycleExpiration { days: i32::try_from(d).ok(), ..LifecycleExpiration::default() },
                    Expiration::Date(at) => LifecycleExpiration {
                        date: time::OffsetDateTime::from_unix_timestamp_nanos(at).ok().map(s3s::dto::Timestamp::from),
                        ..LifecycleExpiration::default()
                    },
                    Expiration::ExpiredDeleteMarkers => LifecycleExpiration { expired_object_delete_marker: Some(true), ..LifecycleExpiration::default() },
                });
                LifecycleRule {
                    id: Some(r.id.clone()),
                    status: ExpirationStatus::from_static(if r.enabled { ExpirationStatus::ENABLED } else { ExpirationStatus::DISABLED }),
                    prefix: r.legacy_prefix.then(|| f.prefix.clone()),
                    filter,
                    expiration,
                    noncurrent_version_expiration: r.noncurrent.map(|n| NoncurrentVersionExpiration {
                        noncurrent_days: i32::try_from(n.days).ok(),
                        newer_noncurrent_versions: n.newer_versions.and_then(|v| i32::try_from(v).ok()),
                    }),
                    abort_incomplete_multipart_upload: r
                        .abort_upload_days
                        .map(|d| AbortIncompleteMultipartUpload { days_after_initiation: i32::try_from(d).ok() }),
                    transitions: None,
                    noncurrent_version_transitions: None,
                }
            })
            .collect()
    }
}

/// The `x-amz-expiration` value of an object expiring at `at_ns` by rule `rule`.
#[must_use]
pub fn expiration_header(at_ns: i128, rule: &str) -> String {
    let when = time::OffsetDateTime::from_unix_timestamp_nanos(at_ns).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let format = time::macros::format_description!("[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT");
    format!("expiry-date=\"{}\", rule-id=\"{}\"", when.format(&format).unwrap_or_default(), rule.replace('"', "%22"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use s3s::dto::{BucketLifecycleConfiguration, ExpirationStatus, LifecycleExpiration, LifecycleRule, LifecycleRuleAndOperator, LifecycleRuleFilter};

    fn rule(id: &str, prefix: &str, days: i32) -> LifecycleRule {
        LifecycleRule {
            id: Some(id.into()),
            status: ExpirationStatus::from_static(ExpirationStatus::ENABLED),
            filter: Some(LifecycleRuleFilter { prefix: Some(prefix.into()), ..LifecycleRuleFilter::default() }),
            expiration: Some(LifecycleExpiration { days: Some(days), ..LifecycleExpiration::default() }),
            prefix: None,
            abort_incomplete_multipart_upload: None,
            noncurrent_version_expiration: None,
            noncurrent_version_transitions: None,
            transitions: None,
        }
    }

    fn parse(rules: Vec<LifecycleRule>) -> Result<Lifecycle, LifecycleError> {
        Lifecycle::from_dto(&BucketLifecycleConfiguration { rules })
    }

    #[test]
    fn due_rounds_up_to_the_next_day_boundary() {
        let day = 86_400;
        let noon = 10 * i128::from(day) * NS_PER_SEC + 12 * 3600 * NS_PER_SEC;
        assert_eq!(due(noon, 1, day), 12 * i128::from(day) * NS_PER_SEC, "day 10 noon + 1 day: midnight starting day 12");
        assert_eq!(due(10 * i128::from(day) * NS_PER_SEC, 1, day), 11 * i128::from(day) * NS_PER_SEC, "midnight stays");
        assert_eq!(due(1_500_000_000, 2, 1), 4 * NS_PER_SEC, "one-second days for tests");
    }

    #[test]
    fn rules_select_by_prefix_tags_and_size_and_the_earliest_wins() {
        let mut logs = rule("logs", "logs/", 30);
        logs.filter = Some(LifecycleRuleFilter {
            and: Some(LifecycleRuleAndOperator {
                prefix: Some("logs/".into()),
                tags: Some(vec![s3s::dto::Tag { key: Some("tmp".into()), value: Some("yes".into()) }]),
                object_size_greater_than: Some(10),
                ..LifecycleRuleAndOperator::default()
            }),
            ..LifecycleRuleFilter::default()
        });
        let lc = parse(vec![logs, rule("all", "", 365)]).unwrap();
        let tmp = vec![("tmp".to_owned(), "yes".to_owned())];
        assert_eq!(lc.expiry("logs/a", 11, &tmp, 0, 86_400).map(|(_, r)| r), Some("logs"));
        assert_eq!(lc.expiry("logs/a", 10, &tmp, 0, 86_400).map(|(_, r)| r), Some("all"), "not greater than 10 bytes");
        assert_eq!(lc.expiry("logs/a", 11, &[], 0, 86_400).map(|(_, r)| r), Some("all"), "untagged");
        assert_eq!(lc.expiry("data/a", 11, &tmp, 0, 86_400), Some((due(0, 365, 86_400), "all")));
        let read_back = Lifecycle::from_dto(&BucketLifecycleConfiguration { rules: lc.to_dto() }).unwrap();
        assert_eq!(read_back, lc, "what a read answers is what was set");
        assert_eq!(Lifecycle::from_document(&lc.document()).unwrap(), lc);
    }

    #[test]
    fn noncurrent_versions_expire_after_their_days_beyond_the_newest_kept() {
        let mut r = rule("nc", "", 1);
        r.expiration = None;
        r.noncurrent_version_expiration = Some(s3s::dto::NoncurrentVersionExpiration { noncurrent_days: Some(2), newer_noncurrent_versions: Some(1) });
        let lc = parse(vec![r]).unwrap();
        assert_eq!(lc.noncurrent_expiry("k", 1, &[], 0, 1, 1), Some((2 * NS_PER_SEC, "nc")), "the second newest noncurrent version");
        assert_eq!(lc.noncurrent_expiry("k", 1, &[], 0, 0, 1), None, "the newest noncurrent version is kept");
        assert_eq!(lc.expiry("k", 1, &[], 0, 1), None, "no expiration of current versions");
    }

    #[test]
    fn bad_configurations_get_the_aws_error() {
        let mut no_action = rule("a", "", 1);
        no_action.expiration = None;
        assert!(matches!(parse(vec![no_action]), Err(LifecycleError::InvalidRequest(_))));
        assert!(matches!(parse(vec![rule("a", "", 0)]), Err(LifecycleError::InvalidArgument(_))));
        assert!(matches!(parse(vec![rule("a", "x", 1), rule("a", "y", 1)]), Err(LifecycleError::InvalidArgument(_))), "same id");
        assert!(matches!(parse(vec![rule("a", "logs/", 1), rule("b", "logs/old/", 2)]), Err(LifecycleError::InvalidRequest(m)) if m.contains("overlapping")));
        assert!(parse(vec![rule("a", "logs/", 1), rule("b", "data/", 2)]).is_ok());
        assert!(matches!(parse(vec![]), Err(LifecycleError::Malformed(_))));
        let mut both = rule("a", "", 1);
        both.prefix = Some("p".into());
        assert!(matches!(parse(vec![both]), Err(LifecycleError::Malformed(_))));
        let mut transition = rule("a", "", 1);
        transition.transitions = Some(vec![s3s::dto::Transition { days: Some(30), ..s3s::dto::Transition::default() }]);
        assert!(matches!(parse(vec![transition]), Err(LifecycleError::NotImplemented(_))));
        let mut marker_and_days = rule("a", "", 1);
        marker_and_days.expiration.as_mut().unwrap().expired_object_delete_marker = Some(true);
        assert!(matches!(parse(vec![marker_and_days]), Err(LifecycleError::InvalidRequest(_))));
        let mut noon = rule("a", "", 1);
        noon.expiration = Some(LifecycleExpiration {
            date: Some(s3s::dto::Timestamp::from(time::OffsetDateTime::UNIX_EPOCH + time::Duration::hours(12))),
            ..LifecycleExpiration::default()
        });
        assert!(matches!(parse(vec![noon]), Err(LifecycleError::InvalidArgument(_))));
        let mut bad_status = rule("a", "", 1);
        bad_status.status = ExpirationStatus::from("Maybe".to_owned());
        assert!(matches!(parse(vec![bad_status]), Err(LifecycleError::Malformed(_))));
        let mut unnamed = rule("", "", 1);
        unnamed.id = None;
        assert_eq!(parse(vec![unnamed]).unwrap().rules[0].id.len(), 26, "a rule without an id gets one");
    }

    #[test]
    fn the_expiration_header_is_aws_shaped() {
        assert_eq!(expiration_header(86_400 * NS_PER_SEC, "r1"), "expiry-date=\"Fri, 02 Jan 1970 00:00:00 GMT\", rule-id=\"r1\"");
    }
}

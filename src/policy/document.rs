//! S3 bucket policies: the JSON language AWS writes them in, validated and compiled once
//! ([`BucketPolicy::parse`], at PutBucketPolicy), then evaluated per request without JSON
//! ([`BucketPolicy::evaluate`]). Pure: no I/O, no clock (the request's time, when a
//! condition asks for it, is the `aws:CurrentTime` / `aws:EpochTime` its context gives).
//!
//! # How principals name tollgate's identities
//!
//! - `"*"`, `{"AWS": "*"}` (or `"*"` anywhere in the `AWS` list): everyone, anonymous callers
//!   included.
//! - `arn:aws:iam::{tenant}:user/{user}`: that user of that tenant.
//! - `arn:aws:iam::{tenant}:root`, or the bare `{tenant}` (where AWS writes an account id):
//!   every user of that tenant.
//! - `{"CanonicalUser": "{tenant}"}`: every user of that tenant (tollgate's canonical user id of
//!   a tenant, as its ACLs and listings answer it, is the tenant's name).
//! - Anything else (`Service`, `Federated`, wildcards inside an ARN, malformed names) is
//!   "Invalid principal in policy".
//!
//! # Evaluation
//!
//! Any statement that matches with `Deny` decides [`Verdict::Deny`]; else any that matches with
//! `Allow` decides [`Verdict::Allow`]; else [`Verdict::NotApplicable`] (the caller's other
//! grants decide). A condition key absent from the request makes its operator false, but for
//! the negated operators (`StringNotEquals`, `NotIpAddress`, `ArnNotLike`...), which are true,
//! as AWS documents; `...IfExists` makes it true; `Null` tests presence; `ForAllValues:` is true
//! on an absent key, `ForAnyValue:` false. Several values of one key: any matches (OR); several
//! keys or operators in a block: all must hold (AND).
//!
//! Policy variables (`${aws:username}`, any known key, and `${*}`, `${?}`, `${$}` for the literal
//! characters) are read in `Resource`/`NotResource` and in string and ARN condition values of a
//! `2012-10-17` policy; a `2008-10-17` (or versionless) policy reads them literally, as AWS does.
//! A variable whose key the request lacks matches nothing.
//!
//! Principal keys (`aws:username`, `aws:userid`, `aws:PrincipalAccount`, `aws:PrincipalArn`,
//! `aws:PrincipalType`) come from [`Facts::caller`] when the context does not give them.

use serde_json::{Map, Value};
use std::borrow::Cow;
use std::net::IpAddr;

use crate::names::valid_identity_name;

/// AWS's size limit of a bucket policy.
const MAX_POLICY_BYTES: usize = 20 * 1024;

/// A validated, compiled bucket policy: parsed once at PutBucketPolicy, evaluated per request
/// without touching JSON.
#[derive(Debug, Clone)]
pub struct BucketPolicy {
    text: String,
    statements: Vec<Statement>,
    /// Whether the document names `s3:ExistingObjectTag/` in any string, once its JSON
    /// escapes are decoded (a Sid naming it costs a lookup, never a tag missed).
    asks_existing_tags: bool,
}

/// Who makes a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller<'a> {
    /// An unsigned request.
    Anonymous,
    /// A user of a tenant (root never asks: it is never denied).
    User {
        /// The user's tenant.
        tenant: &'a str,
        /// The user's name.
        user: &'a str,
    },
}

/// What a policy decides on: one request.
pub struct Facts<'a> {
    /// Who asks.
    pub caller: Caller<'a>,
    /// The IAM action, e.g. `s3:GetObject` (see [`crate::ops::Operation::iam_action`]).
    pub action: &'a str,
    /// `arn:aws:s3:::bucket` or `arn:aws:s3:::bucket/key`.
    pub resource: &'a str,
    /// The request's condition values.
    pub context: &'a dyn ConditionContext,
}

/// Condition values of one request, by key (case-insensitive key names as AWS: `aws:SourceIp`,
/// `s3:prefix`, `s3:ExistingObjectTag/<k>`...). None: the key is absent from the request.
///
/// The evaluator asks with the spelling of the known key list (`aws:SourceIp`, `s3:max-keys`,
/// `s3:ExistingObjectTag/` followed by the tag key as the policy writes it).
pub trait ConditionContext {
    /// The values of `key` in this request; `None` when the request lacks the key.
    fn values(&self, key: &str) -> Option<Vec<Cow<'_, str>>>;
}

/// The decision of one policy for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A matching statement denies (its `Sid`, if it has one).
    Deny {
        /// The deciding statement's `Sid`.
        sid: Option<String>,
    },
    /// No statement denies and one allows (the first, by its `Sid`).
    Allow {
        /// The deciding statement's `Sid`.
        sid: Option<String>,
    },
    /// No statement matches.
    NotApplicable,
}

// ---------------------------------------------------------------------------------------------
// Actions

/// What an action's resource is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `arn:aws:s3:::bucket`
    Bucket,
    /// `arn:aws:s3:::bucket/key`
    Object,
    /// No bucket: an account-wide action, which a bucket policy cannot grant.
    Account,
}

/// Every `s3:` action AWS defines for buckets, objects and the account (without the prefix),
/// with its resource kind.
const ACTIONS: &[(&str, Kind)] = &[
    // Objects.
    ("AbortMultipartUpload", Kind::Object),
    ("BypassGovernanceRetention", Kind::Object),
    ("DeleteObject", Kind::Object),
    ("DeleteObjectTagging", Kind::Object),
    ("DeleteObjectVersion", Kind::Object),
    ("DeleteObjectVersionTagging", Kind::Object),
    ("GetObject", Kind::Object),
    ("GetObjectAcl", Kind::Object),
    ("GetObjectAttributes", Kind::Object),
    ("GetObjectLegalHold", Kind::Object),
    ("GetObjectRetention", Kind::Object),
    ("GetObjectTagging", Kind::Object),
    ("GetObjectTorrent", Kind::Object),
    ("GetObjectVersion", Kind::Object),
    ("GetObjectVersionAcl", Kind::Object),
    ("GetObjectVersionAttributes", Kind::Object),
    ("GetObjectVersionForReplication", Kind::Object),
    ("GetObjectVersionTagging", Kind::Object),
    ("GetObjectVersionTorrent", Kind::Object),
    ("InitiateReplication", Kind::Object),
    ("ListMultipartUploadParts", Kind::Object),
    ("ObjectOwnerOverrideToBucketOwner", Kind::Object),
    ("PutObject", Kind::Object),
    ("PutObjectAcl", Kind::Object),
    ("PutObjectLegalHold", Kind::Object),
    ("PutObjectRetention", Kind::Object),
    ("PutObjectTagging", Kind::Object),
    ("PutObjectVersionAcl", Kind::Object),
    ("PutObjectVersionTagging", Kind::Object),
    ("ReplicateDelete", Kind::Object),
    ("ReplicateObject", Kind::Object),
    ("ReplicateTags", Kind::Object),
    ("RestoreObject", Kind::Object),
    // Buckets.
    ("CreateBucket", Kind::Bucket),
    ("CreateBucketMetadataTableConfiguration", Kind::Bucket),
    ("CreateSession", Kind::Bucket),
    ("DeleteBucket", Kind::Bucket),
    ("DeleteBucketMetadataTableConfiguration", Kind::Bucket),
    ("DeleteBucketOwnershipControls", Kind::Bucket),
    ("DeleteBucketPolicy", Kind::Bucket),
    ("DeleteBucketWebsite", Kind::Bucket),
    ("GetAccelerateConfiguration", Kind::Bucket),
    ("GetAnalyticsConfiguration", Kind::Bucket),
    ("GetBucketAcl", Kind::Bucket),
    ("GetBucketCORS", Kind::Bucket),
    ("GetBucketLocation", Kind::Bucket),
    ("GetBucketLogging", Kind::Bucket),
    ("GetBucketMetadataTableConfiguration", Kind::Bucket),
    ("GetBucketNotification", Kind::Bucket),
    ("GetBucketObjectLockConfiguration", Kind::Bucket),
    ("GetBucketOwnershipControls", Kind::Bucket),
    ("GetBucketPolicy", Kind::Bucket),
    ("GetBucketPolicyStatus", Kind::Bucket),
    ("GetBucketPublicAccessBlock", Kind::Bucket),
    ("GetBucketRequestPayment", Kind::Bucket),
    ("GetBucketTagging", Kind::Bucket),
    ("GetBucketVersioning", Kind::Bucket),
    ("GetBucketWebsite", Kind::Bucket),
    ("GetEncryptionConfiguration", Kind::Bucket),
    ("GetIntelligentTieringConfiguration", Kind::Bucket),
    ("GetInventoryConfiguration", Kind::Bucket),
    ("GetLifecycleConfiguration", Kind::Bucket),
    ("GetMetricsConfiguration", Kind::Bucket),
    ("GetReplicationConfiguration", Kind::Bucket),
    ("ListBucket", Kind::Bucket),
    ("ListBucketMultipartUploads", Kind::Bucket),
    ("ListBucketVersions", Kind::Bucket),
    ("PutAccelerateConfiguration", Kind::Bucket),
    ("PutAnalyticsConfiguration", Kind::Bucket),
    ("PutBucketAcl", Kind::Bucket),
    ("PutBucketCORS", Kind::Bucket),
    ("PutBucketLogging", Kind::Bucket),
    ("PutBucketNotification", Kind::Bucket),
    ("PutBucketObjectLockConfiguration", Kind::Bucket),
    ("PutBucketOwnershipControls", Kind::Bucket),
    ("PutBucketPolicy", Kind::Bucket),
    ("PutBucketPublicAccessBlock", Kind::Bucket),
    ("PutBucketRequestPayment", Kind::Bucket),
    ("PutBucketTagging", Kind::Bucket),
    ("PutBucketVersioning", Kind::Bucket),
    ("PutBucketWebsite", Kind::Bucket),
    ("PutEncryptionConfiguration", Kind::Bucket),
    ("PutIntelligentTieringConfiguration", Kind::Bucket),
    ("PutInventoryConfiguration", Kind::Bucket),
    ("PutLifecycleConfiguration", Kind::Bucket),
    ("PutMetricsConfiguration", Kind::Bucket),
    ("PutReplicationConfiguration", Kind::Bucket),
    // The account.
    ("CreateJob", Kind::Account),
    ("GetAccountPublicAccessBlock", Kind::Account),
    ("ListAccessPoints", Kind::Account),
    ("ListAllMyBuckets", Kind::Account),
    ("ListJobs", Kind::Account),
    ("PutAccountPublicAccessBlock", Kind::Account),
];

/// Whether `action` (`s3:GetObject`; the name is case-insensitive) is an S3 action AWS defines.
#[must_use]
pub fn is_known_action(action: &str) -> bool {
    let Some((service, name)) = action.split_once(':') else { return false };
    service.eq_ignore_ascii_case("s3") && ACTIONS.iter().any(|(known, _)| known.eq_ignore_ascii_case(name))
}

// ---------------------------------------------------------------------------------------------
// Condition keys

/// The condition keys a policy may name, in AWS's spelling (matched case-insensitively).
const KEYS: &[&str] = &[
    "aws:SourceIp",
    "aws:SecureTransport",
    "aws:CurrentTime",
    "aws:EpochTime",
    "aws:username",
    "aws:userid",
    "aws:PrincipalAccount",
    "aws:PrincipalArn",
    "aws:PrincipalType",
    "aws:Referer",
    "aws:UserAgent",
    // Never present in tollgate's requests (no VPCs, organisations or MFA); known so that
    // policies written for AWS parse, and decide as AWS would for a request without them.
    "aws:SourceVpc",
    "aws:SourceVpce",
    "aws:VpcSourceIp",
    "aws:PrincipalOrgID",
    "aws:MultiFactorAuthPresent",
    "aws:MultiFactorAuthAge",
    "s3:prefix",
    "s3:delimiter",
    "s3:max-keys",
    "s3:RequestObjectTagKeys",
    "s3:x-amz-acl",
    "s3:x-amz-grant-read",
    "s3:x-amz-grant-write",
    "s3:x-amz-grant-read-acp",
    "s3:x-amz-grant-write-acp",
    "s3:x-amz-grant-full-control",
    "s3:x-amz-server-side-encryption",
    "s3:x-amz-server-side-encryption-aws-kms-key-id",
    "s3:x-amz-content-sha256",
    "s3:x-amz-copy-source",
    "s3:x-amz-metadata-directive",
    "s3:x-amz-storage-class",
    "s3:VersionId",
    "s3:LocationConstraint",
    "s3:object-lock-mode",
    "s3:object-lock-retain-until-date",
    "s3:object-lock-remaining-retention-days",
    "s3:object-lock-legal-hold",
    "s3:signatureversion",
    "s3:authType",
    "s3:signatureAge",
    "s3:TlsVersion",
    "s3:ResourceAccount",
];

/// Keys followed by a tag key (`s3:ExistingObjectTag/<key>`); `aws:ResourceTag` names the
/// bucket's tags.
const TAG_KEYS: &[&str] = &[EXISTING_OBJECT_TAG, "s3:RequestObjectTag/", "aws:ResourceTag/"];

/// The key naming a tag of the object a request addresses, as it is before the request.
const EXISTING_OBJECT_TAG: &str = "s3:ExistingObjectTag/";

/// Whether a string of `v` (a key or a value, at any depth) contains `lower`, ignoring ASCII case.
fn names_ci(v: &Value, lower: &str) -> bool {
    let has = |s: &str| s.to_ascii_lowercase().contains(lower);
    match v {
        Value::String(s) => has(s),
        Value::Array(items) => items.iter().any(|i| names_ci(i, lower)),
        Value::Object(map) => map.iter().any(|(k, i)| has(k) || names_ci(i, lower)),
        _ => false,
    }
}

/// `key` in the known list's spelling; `None` for an unknown key.
fn canonical_key(key: &str) -> Option<String> {
    if let Some(known) = KEYS.iter().find(|k| k.eq_ignore_ascii_case(key)) {
        return Some((*known).to_owned());
    }
    TAG_KEYS.iter().find_map(|prefix| {
        let head = key.get(..prefix.len())?;
        let tag = &key[prefix.len()..];
        (head.eq_ignore_ascii_case(prefix) && !tag.is_empty()).then(|| format!("{prefix}{tag}"))
    })
}

/// The values of `key` for this request: the context's, else those the caller implies.
fn lookup<'f>(facts: &'f Facts<'_>, key: &str) -> Option<Vec<Cow<'f, str>>> {
    if let Some(values) = facts.context.values(key) {
        return Some(values);
    }
    let one = |s: String| Some(vec![Cow::Owned(s)]);
    match (key, facts.caller) {
        ("aws:PrincipalType", Caller::Anonymous) => one("Anonymous".to_owned()),
        ("aws:userid", Caller::Anonymous) => one("anonymous".to_owned()),
        ("aws:PrincipalType", Caller::User { .. }) => one("User".to_owned()),
        ("aws:username" | "aws:userid", Caller::User { user, .. }) => one(user.to_owned()),
        ("aws:PrincipalAccount", Caller::User { tenant, .. }) => one(tenant.to_owned()),
        ("aws:PrincipalArn", Caller::User { tenant, user }) => one(format!("arn:aws:iam::{tenant}:user/{user}")),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Wildcards and templates

/// One element of a compiled wildcard pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Lit(char),
    /// `*`: any run of characters.
    Star,
    /// `?`: one character.
    One,
}

fn chars_eq(a: char, b: char, ignore_case: bool) -> bool {
    a == b || (ignore_case && a.to_lowercase().eq(b.to_lowercase()))
}

/// Whether `pat` matches all of `text` (greedy with one backtrack point: linear in practice).
fn wild_match(pat: &[Tok], text: &str, ignore_case: bool) -> bool {
    let (mut p, mut i) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while i < text.len() {
        let c = text[i..].chars().next().unwrap_or_default();
        match pat.get(p) {
            Some(Tok::Star) => {
                star = Some((p, i));
                p += 1;
                continue;
            }
            Some(Tok::One) => {
                p += 1;
                i += c.len_utf8();
                continue;
            }
            Some(Tok::Lit(l)) if chars_eq(*l, c, ignore_case) => {
                p += 1;
                i += c.len_utf8();
                continue;
            }
            _ => {}
        }
        let Some((sp, si)) = star else { return false };
        // Backtrack: the last `*` takes one more character.
        let next = si + text[si..].chars().next().map_or(1, char::len_utf8);
        star = Some((sp, next));
        p = sp + 1;
        i = next;
    }
    pat[p..].iter().all(|t| *t == Tok::Star)
}

/// Whether `pat` matches some `prefix` followed by at least one more character (an object
/// ARN of a bucket, given `arn:aws:s3:::bucket/`): the pattern positions reachable after
/// `prefix` (an NFA walk), of which one must leave a non-empty pattern.
fn matches_longer_than(pat: &[Tok], prefix: &str) -> bool {
    let close = |set: &mut Vec<bool>| {
        for p in 0..pat.len() {
            if set[p] && pat[p] == Tok::Star {
                set[p + 1] = true;
            }
        }
    };
    let mut states = vec![false; pat.len() + 1];
    states[0] = true;
    close(&mut states);
    for c in prefix.chars() {
        let mut next = vec![false; pat.len() + 1];
        for p in 0..pat.len() {
            if !states[p] {
                continue;
            }
            match pat[p] {
                Tok::Star => next[p] = true,
                Tok::One => next[p + 1] = true,
                Tok::Lit(l) if l == c => next[p + 1] = true,
                Tok::Lit(_) => {}
            }
        }
        close(&mut next);
        states = next;
    }
    states[..pat.len()].iter().any(|s| *s)
}

fn wildcard_tokens(s: &str) -> Vec<Tok> {
    s.chars()
        .map(|c| match c {
            '*' => Tok::Star,
            '?' => Tok::One,
            c => Tok::Lit(c),
        })
        .collect()
}

fn literal_tokens(s: &str) -> impl Iterator<Item = Tok> + '_ {
    s.chars().map(Tok::Lit)
}

/// A piece of a value that may hold policy variables.
#[derive(Debug, Clone)]
enum Piece {
    Toks(Vec<Tok>),
    /// `${key}`: the request's value of the key, taken literally.
    Var(String),
}

/// A wildcard pattern (or literal, for the `Equals` operators) with policy variables.
#[derive(Debug, Clone)]
struct Template {
    pieces: Vec<Piece>,
}

impl Template {
    /// `s` with `${...}` read as variables when `variables`, wildcards when `wildcards`.
    fn parse(s: &str, variables: bool, wildcards: bool) -> Result<Self, String> {
        let toks = |t: &str| if wildcards { wildcard_tokens(t) } else { literal_tokens(t).collect() };
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut rest = s;
        while variables && let Some(start) = rest.find("${") {
            let Some(len) = rest[start + 2..].find('}') else { break };
            text.push_str(&rest[..start]);
            let name = &rest[start + 2..start + 2 + len];
            rest = &rest[start + 3 + len..];
            match name {
                // The escapes of the characters a pattern would read as wildcards.
                "*" | "?" | "$" => {
                    pieces.push(Piece::Toks(toks(&std::mem::take(&mut text))));
                    pieces.push(Piece::Toks(literal_tokens(name).collect()));
                }
                _ => {
                    let key = canonical_key(name.trim()).ok_or_else(|| format!("Policy has an invalid variable: ${{{name}}}"))?;
                    pieces.push(Piece::Toks(toks(&std::mem::take(&mut text))));
                    pieces.push(Piece::Var(key));
                }
            }
        }
        text.push_str(rest);
        pieces.push(Piece::Toks(toks(&text)));
        pieces.retain(|p| !matches!(p, Piece::Toks(t) if t.is_empty()));
        // Adjacent token runs merge, so a variable-free template is one run.
        let mut merged: Vec<Piece> = Vec::with_capacity(pieces.len());
        for piece in pieces {
            match (merged.last_mut(), piece) {
                (Some(Piece::Toks(last)), Piece::Toks(t)) => last.extend(t),
                (_, piece) => merged.push(piece),
            }
        }
        Ok(Self { pieces: merged })
    }

    /// The pattern, variables as `*` (what it may match, whatever the request).
    fn loosest(&self) -> Vec<Tok> {
        let mut out = Vec::new();
        for piece in &self.pieces {
            match piece {
                Piece::Toks(t) => out.extend_from_slice(t),
                Piece::Var(_) => out.push(Tok::Star),
            }
        }
        out
    }

    fn has_variables(&self) -> bool {
        self.pieces.iter().any(|p| matches!(p, Piece::Var(_)))
    }

    /// The pattern for this request; `None` when it names a key the request lacks.
    fn resolve(&self, facts: &Facts<'_>) -> Option<Cow<'_, [Tok]>> {
        match self.pieces.as_slice() {
            [] => return Some(Cow::Borrowed(&[])),
            [Piece::Toks(t)] => return Some(Cow::Borrowed(t)),
            _ => {}
        }
        let mut out = Vec::new();
        for piece in &self.pieces {
            match piece {
                Piece::Toks(t) => out.extend_from_slice(t),
                Piece::Var(key) => out.extend(literal_tokens(lookup(facts, key)?.first()?)),
            }
        }
        Some(Cow::Owned(out))
    }

    /// Whether the variable-free pattern has a wildcard (a fixed value has none).
    fn is_fixed(&self) -> bool {
        self.pieces.iter().all(|p| matches!(p, Piece::Toks(t) if t.iter().all(|t| matches!(t, Tok::Lit(_)))))
    }
}

// ---------------------------------------------------------------------------------------------
// Statements

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effect {
    Allow,
    Deny,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PrincipalId {
    /// Every user of the tenant.
    Tenant(String),
    User {
        tenant: String,
        user: String,
    },
}

#[derive(Debug, Clone)]
struct Principals {
    /// `NotPrincipal`: everyone but those named.
    negated: bool,
    /// `*`: everyone, anonymous callers included.
    any: bool,
    ids: Vec<PrincipalId>,
}

impl Principals {
    fn names(&self, caller: Caller<'_>) -> bool {
        self.any
            || match caller {
                Caller::Anonymous => false,
                Caller::User { tenant, user } => self.ids.iter().any(|id| match id {
                    PrincipalId::Tenant(t) => t == tenant,
                    PrincipalId::User { tenant: t, user: u } => t == tenant && u == user,
                }),
            }
    }

    fn matches(&self, caller: Caller<'_>) -> bool {
        self.names(caller) != self.negated
    }
}

#[derive(Debug, Clone)]
struct Actions {
    negated: bool,
    patterns: Vec<Vec<Tok>>,
}

impl Actions {
    fn names(&self, action: &str) -> bool {
        self.patterns.iter().any(|p| wild_match(p, action, true))
    }

    fn matches(&self, action: &str) -> bool {
        self.names(action) != self.negated
    }
}

#[derive(Debug, Clone)]
struct Resources {
    negated: bool,
    patterns: Vec<Template>,
}

impl Resources {
    fn matches(&self, facts: &Facts<'_>) -> bool {
        let named = self.patterns.iter().any(|p| p.resolve(facts).is_some_and(|p| wild_match(&p, facts.resource, false)));
        named != self.negated
    }
}

#[derive(Debug, Clone)]
struct Statement {
    sid: Option<String>,
    effect: Effect,
    principals: Principals,
    actions: Actions,
    resources: Resources,
    conditions: Vec<Condition>,
}

impl Statement {
    fn matches(&self, facts: &Facts<'_>) -> bool {
        self.principals.matches(facts.caller)
            && self.actions.matches(facts.action)
            && self.resources.matches(facts)
            && self.conditions.iter().all(|c| c.holds(facts))
    }

    /// AWS's test: an Allow to everyone that no fixed-value condition narrows.
    fn is_public(&self) -> bool {
        let everyone = self.principals.negated || self.principals.any;
        self.effect == Effect::Allow && everyone && !self.conditions.iter().any(Condition::narrows_principals)
    }
}

// ---------------------------------------------------------------------------------------------
// Conditions

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn holds<T: PartialOrd>(self, request: T, policy: T) -> bool {
        match self {
            Self::Eq => request == policy,
            Self::Lt => request < policy,
            Self::Le => request <= policy,
            Self::Gt => request > policy,
            Self::Ge => request >= policy,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Qualifier {
    Single,
    ForAnyValue,
    ForAllValues,
}

/// The values of a condition, compiled for its operator.
#[derive(Debug, Clone)]
enum Values {
    /// The string operators; `Like` ones hold wildcards.
    Strings {
        templates: Vec<Template>,
        ignore_case: bool,
    },
    Numbers(Cmp, Vec<f64>),
    /// Nanoseconds since the epoch.
    Dates(Cmp, Vec<i128>),
    Bools(Vec<bool>),
    Cidrs(Vec<Cidr>),
    /// ARN patterns, matched colon-separated part by part.
    Arns(Vec<Template>),
    /// `Null`: whether the key must be absent.
    Null(bool),
}

#[derive(Debug, Clone)]
struct Condition {
    key: String,
    qualifier: Qualifier,
    if_exists: bool,
    /// `StringNotEquals`, `NotIpAddress`...: true where the positive operator is false.
    negated: bool,
    values: Values,
}

/// The base operators: name, negated, kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpKind {
    Str { ignore_case: bool, like: bool },
    Numeric(Cmp),
    Date(Cmp),
    Bool,
    Ip,
    Arn,
    Null,
}

const OPERATORS: &[(&str, bool, OpKind)] = &[
    ("StringEquals", false, OpKind::Str { ignore_case: false, like: false }),
    ("StringNotEquals", true, OpKind::Str { ignore_case: false, like: false }),
    ("StringEqualsIgnoreCase", false, OpKind::Str { ignore_case: true, like: false }),
    ("StringNotEqualsIgnoreCase", true, OpKind::Str { ignore_case: true, like: false }),
    ("StringLike", false, OpKind::Str { ignore_case: false, like: true }),
    ("StringNotLike", true, OpKind::Str { ignore_case: false, like: true }),
    ("NumericEquals", false, OpKind::Numeric(Cmp::Eq)),
    ("NumericNotEquals", true, OpKind::Numeric(Cmp::Eq)),
    ("NumericLessThan", false, OpKind::Numeric(Cmp::Lt)),
    ("NumericLessThanEquals", false, OpKind::Numeric(Cmp::Le)),
    ("NumericGreaterThan", false, OpKind::Numeric(Cmp::Gt)),
    ("NumericGreaterThanEquals", false, OpKind::Numeric(Cmp::Ge)),
    ("DateEquals", false, OpKind::Date(Cmp::Eq)),
    ("DateNotEquals", true, OpKind::Date(Cmp::Eq)),
    ("DateLessThan", false, OpKind::Date(Cmp::Lt)),
    ("DateLessThanEquals", false, OpKind::Date(Cmp::Le)),
    ("DateGreaterThan", false, OpKind::Date(Cmp::Gt)),
    ("DateGreaterThanEquals", false, OpKind::Date(Cmp::Ge)),
    ("Bool", false, OpKind::Bool),
    ("IpAddress", false, OpKind::Ip),
    ("NotIpAddress", true, OpKind::Ip),
    ("ArnEquals", false, OpKind::Arn),
    ("ArnLike", false, OpKind::Arn),
    ("ArnNotEquals", true, OpKind::Arn),
    ("ArnNotLike", true, OpKind::Arn),
    ("Null", false, OpKind::Null),
];

/// Keys whose fixed value names who may ask or from where, for [`BucketPolicy::is_public`].
const NARROWING_KEYS: &[&str] = &[
    "aws:SourceIp",
    "aws:SourceVpc",
    "aws:SourceVpce",
    "aws:VpcSourceIp",
    "aws:PrincipalAccount",
    "aws:PrincipalArn",
    "aws:PrincipalOrgID",
    "aws:userid",
    "aws:username",
];

impl Condition {
    fn compile(operator: &str, key: &str, value: &Value, variables: bool) -> Result<Self, String> {
        let invalid_op = || format!("Invalid Condition type : {operator}");
        let (qualifier, base) = if let Some(rest) = strip_prefix_ci(operator, "ForAnyValue:") {
            (Qualifier::ForAnyValue, rest)
        } else if let Some(rest) = strip_prefix_ci(operator, "ForAllValues:") {
            (Qualifier::ForAllValues, rest)
        } else {
            (Qualifier::Single, operator)
        };
        let (base, if_exists) = match base.strip_suffix("IfExists") {
            Some(b) => (b, true),
            None => (base, false),
        };
        let &(_, negated, kind) = OPERATORS.iter().find(|(name, ..)| *name == base).ok_or_else(invalid_op)?;
        if kind == OpKind::Null && (if_exists || qualifier != Qualifier::Single) {
            return Err(invalid_op());
        }
        let key = canonical_key(key).ok_or_else(|| "Policy has an invalid condition key".to_owned())?;
        let raw = condition_values(value).ok_or_else(|| format!("Invalid value for condition {operator} on key {key}"))?;
        let bad = |v: &str| format!("Invalid value for condition {operator} on key {key}: {v}");
        let values = match kind {
            OpKind::Str { ignore_case, like } => {
                Values::Strings { templates: raw.iter().map(|v| Template::parse(v, variables, like)).collect::<Result<_, _>>()?, ignore_case }
            }
            OpKind::Numeric(cmp) => Values::Numbers(cmp, raw.iter().map(|v| parse_number(v).ok_or_else(|| bad(v))).collect::<Result<_, _>>()?),
            OpKind::Date(cmp) => Values::Dates(cmp, raw.iter().map(|v| parse_date(v).ok_or_else(|| bad(v))).collect::<Result<_, _>>()?),
            OpKind::Bool => Values::Bools(raw.iter().map(|v| parse_bool(v).ok_or_else(|| bad(v))).collect::<Result<_, _>>()?),
            OpKind::Ip => Values::Cidrs(raw.iter().map(|v| Cidr::parse(v).ok_or_else(|| bad(v))).collect::<Result<_, _>>()?),
            OpKind::Arn => Values::Arns(raw.iter().map(|v| Template::parse(v, variables, true)).collect::<Result<_, _>>()?),
            OpKind::Null => match raw.as_slice() {
                [one] => Values::Null(parse_bool(one).ok_or_else(|| bad(one))?),
                _ => return Err(bad(&raw.join(","))),
            },
        };
        Ok(Self { key, qualifier, if_exists, negated, values })
    }

    fn holds(&self, facts: &Facts<'_>) -> bool {
        let found = lookup(facts, &self.key).filter(|v| !v.is_empty());
        if let Values::Null(absent) = self.values {
            return found.is_none() == absent;
        }
        let Some(found) = found else {
            return self.if_exists
                || match self.qualifier {
                    Qualifier::ForAllValues => true,
                    Qualifier::ForAnyValue => false,
                    Qualifier::Single => self.negated,
                };
        };
        // One request value: the operator's own sense (for a negated one: no policy value matches).
        let each = |v: &Cow<'_, str>| self.any_value_matches(facts, v) != self.negated;
        match self.qualifier {
            Qualifier::ForAllValues => found.iter().all(each),
            Qualifier::ForAnyValue => found.iter().any(each),
            Qualifier::Single if self.negated => found.iter().all(each),
            Qualifier::Single => found.iter().any(each),
        }
    }

    /// Whether one of the policy's values matches the request's value `v` (positively).
    fn any_value_matches(&self, facts: &Facts<'_>, v: &str) -> bool {
        match &self.values {
            Values::Strings { templates, ignore_case } => templates.iter().any(|t| t.resolve(facts).is_some_and(|p| wild_match(&p, v, *ignore_case))),
            Values::Numbers(cmp, ns) => parse_number(v).is_some_and(|v| ns.iter().any(|n| cmp.holds(v, *n))),
            Values::Dates(cmp, ds) => parse_date(v).is_some_and(|v| ds.iter().any(|d| cmp.holds(v, *d))),
            Values::Bools(bs) => parse_bool(v).is_some_and(|v| bs.contains(&v)),
            Values::Cidrs(cs) => v.trim().parse::<IpAddr>().is_ok_and(|ip| cs.iter().any(|c| c.contains(ip))),
            Values::Arns(ts) => ts.iter().any(|t| t.resolve(facts).is_some_and(|p| arn_match(&p, v))),
            Values::Null(_) => false,
        }
    }

    /// Whether this condition limits a statement to callers named by a fixed value (AWS's
    /// "non-public" conditions): a positive operator, not `IfExists`, not `ForAllValues`, on a
    /// key that names the caller or its network, with no wildcard in any value.
    fn narrows_principals(&self) -> bool {
        if self.negated || self.if_exists || self.qualifier == Qualifier::ForAllValues || !NARROWING_KEYS.contains(&self.key.as_str()) {
            return false;
        }
        match &self.values {
            Values::Strings { templates, .. } | Values::Arns(templates) => templates.iter().all(|t| !t.has_variables() && t.is_fixed()),
            // A range as wide as an eighth of the IPv4 space (or an IPv6 /32) opens it to the public.
            Values::Cidrs(cs) => cs.iter().all(|c| c.prefix >= if c.addr.is_ipv4() { 8 } else { 32 }),
            _ => false,
        }
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &s[prefix.len()..])
}

/// A condition's values: a string, number or boolean, or a non-empty list of them.
fn condition_values(value: &Value) -> Option<Vec<String>> {
    let one = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    match value {
        Value::Array(list) if !list.is_empty() => list.iter().map(one).collect(),
        Value::Array(_) => None,
        v => Some(vec![one(v)?]),
    }
}

fn parse_number(s: &str) -> Option<f64> {
    s.trim().parse::<f64>().ok().filter(|n| n.is_finite())
}

fn parse_bool(s: &str) -> Option<bool> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// ISO 8601 (RFC 3339, or a bare date at midnight UTC) or epoch seconds, in nanoseconds.
fn parse_date(s: &str) -> Option<i128> {
    use time::format_description::well_known::Rfc3339;
    let s = s.trim();
    if let Ok(secs) = s.parse::<i64>() {
        return Some(i128::from(secs) * 1_000_000_000);
    }
    if let Ok(t) = time::OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t.unix_timestamp_nanos());
    }
    let date = time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).ok()?;
    Some(date.midnight().assume_utc().unix_timestamp_nanos())
}

/// `pat` against an ARN: each of the six colon-separated parts matched alone (a wildcard does
/// not cross a colon but in the last part, the resource, which may hold colons).
fn arn_match(pat: &[Tok], arn: &str) -> bool {
    let mut pats = pat.splitn(6, |t| *t == Tok::Lit(':'));
    let mut parts = arn.splitn(6, ':');
    loop {
        match (pats.next(), parts.next()) {
            (Some(p), Some(a)) if wild_match(p, a, false) => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// An IPv4 or IPv6 network.
#[derive(Debug, Clone, Copy)]
struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// `203.0.113.0/24`, `2001:db8::/32`, or an address alone (one host).
    fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a.parse::<IpAddr>().ok()?, Some(p.parse::<u8>().ok()?)),
            None => (s.parse::<IpAddr>().ok()?, None),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Self { addr, prefix })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        // An IPv4 client seen through an IPv6 socket is the IPv4 address.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        let in_net = |a: u128, b: u128, bits: u32| {
            let shift = bits - u32::from(self.prefix);
            shift >= bits || (a >> shift) == (b >> shift)
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => in_net(u128::from(u32::from(net)), u128::from(u32::from(ip)), 32),
            (IpAddr::V6(net), IpAddr::V6(ip)) => in_net(u128::from(net), u128::from(ip), 128),
            _ => false,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing

const INVALID_ACTION: &str = "Policy has invalid action";
const INVALID_PRINCIPAL: &str = "Invalid principal in policy";
const INVALID_RESOURCE: &str = "Policy has invalid resource";
const NO_RESOURCE: &str = "Action does not apply to any resource(s) in statement";

/// A string or a list of strings (`None`: another JSON type, or an empty list).
fn string_list(value: &Value) -> Option<Vec<&str>> {
    match value {
        Value::String(s) => Some(vec![s.as_str()]),
        Value::Array(list) if !list.is_empty() => list.iter().map(Value::as_str).collect(),
        _ => None,
    }
}

/// One of a statement's positive / negated element pair (`Action` / `NotAction`...).
fn either<'v>(st: &'v Map<String, Value>, name: &str) -> Result<(bool, &'v Value), String> {
    let not = format!("Not{name}");
    match (st.get(name), st.get(&not)) {
        (Some(v), None) => Ok((false, v)),
        (None, Some(v)) => Ok((true, v)),
        (Some(_), Some(_)) => Err(format!("Statement cannot have both {name} and {not}")),
        (None, None) => Err(format!("Missing required field {name}")),
    }
}

fn parse_principal_id(s: &str) -> Result<Option<PrincipalId>, String> {
    if s == "*" {
        return Ok(None);
    }
    let bad = || INVALID_PRINCIPAL.to_owned();
    if let Some(rest) = s.strip_prefix("arn:aws:iam::") {
        let (tenant, what) = rest.split_once(':').ok_or_else(bad)?;
        if !valid_identity_name(tenant) {
            return Err(bad());
        }
        if what == "root" {
            return Ok(Some(PrincipalId::Tenant(tenant.to_owned())));
        }
        let user = what.strip_prefix("user/").filter(|u| valid_identity_name(u)).ok_or_else(bad)?;
        return Ok(Some(PrincipalId::User { tenant: tenant.to_owned(), user: user.to_owned() }));
    }
    if valid_identity_name(s) { Ok(Some(PrincipalId::Tenant(s.to_owned()))) } else { Err(bad()) }
}

fn parse_principals(negated: bool, value: &Value) -> Result<Principals, String> {
    let mut out = Principals { negated, any: false, ids: Vec::new() };
    match value {
        Value::String(s) if s == "*" => out.any = true,
        Value::Object(map) if !map.is_empty() => {
            for (kind, v) in map {
                let names = string_list(v).ok_or(INVALID_PRINCIPAL)?;
                match kind.as_str() {
                    "AWS" => {
                        for name in names {
                            match parse_principal_id(name)? {
                                Some(id) => out.ids.push(id),
                                None => out.any = true,
                            }
                        }
                    }
                    // A tenant's canonical user id is its name.
                    "CanonicalUser" => {
                        for name in names {
                            if !valid_identity_name(name) {
                                return Err(INVALID_PRINCIPAL.to_owned());
                            }
                            out.ids.push(PrincipalId::Tenant(name.to_owned()));
                        }
                    }
                    _ => return Err(INVALID_PRINCIPAL.to_owned()),
                }
            }
        }
        _ => return Err(INVALID_PRINCIPAL.to_owned()),
    }
    // `NotPrincipal: *` would name nobody: AWS refuses the wildcard there.
    if negated && out.any {
        return Err(INVALID_PRINCIPAL.to_owned());
    }
    Ok(out)
}

fn parse_statement(st: &Value, bucket: &str, variables: bool) -> Result<Statement, String> {
    let st = st.as_object().ok_or("Statement must be an object")?;
    for field in st.keys() {
        const FIELDS: &[&str] = &["Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition"];
        if !FIELDS.contains(&field.as_str()) {
            return Err(format!("Unknown field {field}"));
        }
    }
    let sid = match st.get("Sid") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err("Sid must be a string".to_owned()),
    };
    let effect = match st.get("Effect") {
        None => return Err("Missing required field Effect".to_owned()),
        Some(Value::String(s)) if s == "Allow" => Effect::Allow,
        Some(Value::String(s)) if s == "Deny" => Effect::Deny,
        Some(other) => return Err(format!("Invalid effect: {}", other.as_str().unwrap_or(&other.to_string()))),
    };

    let (negated, value) = either(st, "Principal")?;
    let principals = parse_principals(negated, value)?;

    let (negated, value) = either(st, "Action")?;
    let mut actions = Actions { negated, patterns: Vec::new() };
    for a in string_list(value).ok_or(INVALID_ACTION)? {
        let pattern = wildcard_tokens(a);
        let known = ACTIONS.iter().any(|(name, _)| wild_match(&pattern, &format!("s3:{name}"), true));
        if !known {
            return Err(INVALID_ACTION.to_owned());
        }
        actions.patterns.push(pattern);
    }

    let (negated, value) = either(st, "Resource")?;
    let mut resources = Resources { negated, patterns: Vec::new() };
    let bucket_arn = format!("arn:aws:s3:::{bucket}");
    let objects_prefix = format!("{bucket_arn}/");
    // What the statement's resources may cover: the bucket, its objects.
    let (mut covers_bucket, mut covers_objects) = (false, false);
    for r in string_list(value).ok_or(INVALID_RESOURCE)? {
        let template = Template::parse(r, variables, true)?;
        let loosest = template.loosest();
        let (bucket_ok, objects_ok) = (wild_match(&loosest, &bucket_arn, false), matches_longer_than(&loosest, &objects_prefix));
        if !bucket_ok && !objects_ok {
            return Err(INVALID_RESOURCE.to_owned());
        }
        covers_bucket |= bucket_ok;
        covers_objects |= objects_ok;
        resources.patterns.push(template);
    }
    if !resources.negated {
        let applies = ACTIONS.iter().any(|(name, kind)| {
            actions.matches(&format!("s3:{name}"))
                && match kind {
                    Kind::Bucket => covers_bucket,
                    Kind::Object => covers_objects,
                    Kind::Account => false,
                }
        });
        if !applies {
            return Err(NO_RESOURCE.to_owned());
        }
    }

    let mut conditions = Vec::new();
    match st.get("Condition") {
        None => {}
        Some(Value::Object(block)) => {
            for (operator, keys) in block {
                let keys = keys.as_object().filter(|k| !k.is_empty()).ok_or_else(|| format!("Invalid Condition type : {operator}"))?;
                for (key, value) in keys {
                    conditions.push(Condition::compile(operator, key, value, variables)?);
                }
            }
        }
        Some(_) => return Err("Condition must be an object".to_owned()),
    }
    Ok(Statement { sid, effect, principals, actions, resources, conditions })
}

impl BucketPolicy {
    /// Parses and validates `json` for bucket `bucket`. Err carries the reason AWS would give
    /// in MalformedPolicy ("Policy has invalid action", "Invalid principal in policy",
    /// "Action does not apply to any resource(s) in statement", "Policy has invalid resource",
    /// "Unknown condition operator/key", missing Statement/Effect, bad Version, etc.).
    ///
    /// # Errors
    ///
    /// The reason the document is refused, in AWS's words where AWS has some.
    pub fn parse(json: &str, bucket: &str) -> Result<Self, String> {
        if json.len() > MAX_POLICY_BYTES {
            return Err("Policy exceeds the maximum allowed document size.".to_owned());
        }
        let doc: Value = serde_json::from_str(json).map_err(|_| "This policy contains invalid Json".to_owned())?;
        let doc = doc.as_object().ok_or("This policy contains invalid Json")?;
        for field in doc.keys() {
            if !matches!(field.as_str(), "Version" | "Id" | "Statement") {
                return Err(format!("Unknown field {field}"));
            }
        }
        // Variables exist from the 2012-10-17 language on; before, `${` is text.
        let variables = match doc.get("Version") {
            None => false,
            Some(Value::String(v)) if v == "2012-10-17" => true,
            Some(Value::String(v)) if v == "2008-10-17" => false,
            Some(_) => return Err("The policy must contain a valid version string".to_owned()),
        };
        if !matches!(doc.get("Id"), None | Some(Value::String(_))) {
            return Err("Id must be a string".to_owned());
        }
        let statements: Vec<&Value> = match doc.get("Statement") {
            Some(Value::Array(list)) if !list.is_empty() => list.iter().collect(),
            Some(one @ Value::Object(_)) => vec![one],
            _ => return Err("Missing required field Statement".to_owned()),
        };
        let statements = statements.into_iter().map(|st| parse_statement(st, bucket, variables)).collect::<Result<Vec<_>, _>>()?;
        let mut sids: Vec<&str> = statements.iter().filter_map(|s| s.sid.as_deref()).collect();
        sids.sort_unstable();
        if sids.windows(2).any(|w| w[0] == w[1]) {
            return Err("Statement IDs (SID) in a single policy must be unique".to_owned());
        }
        let asks_existing_tags = doc.values().any(|v| names_ci(v, &EXISTING_OBJECT_TAG.to_ascii_lowercase()));
        Ok(Self { text: json.to_owned(), statements, asks_existing_tags })
    }

    /// The document as stored and returned by GetBucketPolicy (the client's text, unchanged).
    #[must_use]
    pub fn text(&self) -> &str {
        &self.text
    }

    /// AWS's "public" test (GetBucketPolicyStatus IsPublic, Block Public Access): an Allow to
    /// Principal "*" / {"AWS":"*"} not narrowed by a fixed-value condition such as
    /// aws:SourceIp, aws:PrincipalAccount, aws:SourceVpc...
    #[must_use]
    pub fn is_public(&self) -> bool {
        self.statements.iter().any(Statement::is_public)
    }

    /// Whether a condition asks for an object's tags (`s3:ExistingObjectTag/<k>`, as a key
    /// or a `${...}` variable): their lookup then must see the tags wherever they are kept.
    #[must_use]
    pub fn asks_existing_tags(&self) -> bool {
        self.asks_existing_tags
    }

    /// The decision of this policy alone for one request.
    #[must_use]
    pub fn evaluate(&self, request: &Facts<'_>) -> Verdict {
        let mut allow = None;
        for st in &self.statements {
            if !st.matches(request) {
                continue;
            }
            match st.effect {
                Effect::Deny => return Verdict::Deny { sid: st.sid.clone() },
                Effect::Allow if allow.is_none() => allow = Some(st),
                Effect::Allow => {}
            }
        }
        allow.map_or(Verdict::NotApplicable, |st| Verdict::Allow { sid: st.sid.clone() })
    }
}

#[cfg(test)]
mod tests;

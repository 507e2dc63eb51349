//! The evaluator's table: policy × request × expected verdict, AWS's documented example
//! policies, every reason a policy is refused, and the public test.

use super::*;

/// The bucket every policy here is put on.
const B: &str = "photos";

/// A request's condition values, keys matched case-insensitively as AWS does.
struct Ctx(Vec<(&'static str, Vec<&'static str>)>);

impl ConditionContext for Ctx {
    fn values(&self, key: &str) -> Option<Vec<Cow<'_, str>>> {
        self.0.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v.iter().map(|s| Cow::Borrowed(*s)).collect())
    }
}

const ANON: Caller<'static> = Caller::Anonymous;

fn user(tenant: &'static str, user: &'static str) -> Caller<'static> {
    Caller::User { tenant, user }
}

fn allow(sid: &str) -> Verdict {
    Verdict::Allow { sid: Some(sid.to_owned()) }
}

fn deny(sid: &str) -> Verdict {
    Verdict::Deny { sid: Some(sid.to_owned()) }
}

const NA: Verdict = Verdict::NotApplicable;

/// One request: who, which action, which key (`""`: the bucket itself), which context.
struct Req {
    caller: Caller<'static>,
    action: &'static str,
    key: &'static str,
    ctx: Vec<(&'static str, Vec<&'static str>)>,
}

fn req(caller: Caller<'static>, action: &'static str, key: &'static str) -> Req {
    Req { caller, action, key, ctx: Vec::new() }
}

impl Req {
    fn with(mut self, key: &'static str, values: &[&'static str]) -> Self {
        self.ctx.push((key, values.to_vec()));
        self
    }
}

fn evaluate(policy: &BucketPolicy, r: &Req) -> Verdict {
    let resource = if r.key.is_empty() { format!("arn:aws:s3:::{B}") } else { format!("arn:aws:s3:::{B}/{}", r.key) };
    let ctx = Ctx(r.ctx.clone());
    policy.evaluate(&Facts { caller: r.caller, action: r.action, resource: &resource, context: &ctx })
}

fn parse(json: &str) -> BucketPolicy {
    BucketPolicy::parse(json, B).unwrap_or_else(|e| panic!("{e}: {json}"))
}

/// A 2012-10-17 policy of the statements given (JSON objects, comma-separated).
fn policy(statements: &str) -> String {
    format!(r#"{{"Version": "2012-10-17", "Statement": [{statements}]}}"#)
}

/// An Allow statement `sid` to everyone of GetObject on every object, under `condition`.
fn allow_get_if(sid: &str, condition: &str) -> String {
    policy(&format!(
        r#"{{"Sid": "{sid}", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::photos/*", "Condition": {condition}}}"#
    ))
}

/// A labelled policy and the verdicts it gives requests.
type Case<'a> = (&'a str, String, Vec<(Req, Verdict)>);

/// Runs a table of (label, policy, [(request, expected)]).
fn table(cases: Vec<Case<'_>>) {
    let mut checked = 0;
    for (label, json, requests) in cases {
        let p = parse(&json);
        for (i, (r, expected)) in requests.iter().enumerate() {
            assert_eq!(evaluate(&p, r), *expected, "{label}, request {i} ({} {} {:?})", r.action, r.key, r.ctx);
            checked += 1;
        }
    }
    assert!(checked > 0);
}

fn get() -> Req {
    req(ANON, "s3:GetObject", "a.jpg")
}

#[test]
fn string_operators() {
    table(vec![
        (
            "StringEquals",
            allow_get_if("S", r#"{"StringEquals": {"s3:x-amz-acl": ["private", "public-read"]}}"#),
            vec![
                (get().with("s3:x-amz-acl", &["public-read"]), allow("S")),
                (get().with("s3:x-amz-acl", &["Public-Read"]), NA),
                (get().with("s3:x-amz-acl", &["authenticated-read"]), NA),
                (get(), NA),
            ],
        ),
        (
            "StringNotEquals",
            allow_get_if("S", r#"{"StringNotEquals": {"s3:x-amz-acl": ["private", "public-read"]}}"#),
            vec![
                (get().with("s3:x-amz-acl", &["authenticated-read"]), allow("S")),
                (get().with("s3:x-amz-acl", &["private"]), NA),
                // A negated operator holds on an absent key (AWS's rule).
                (get(), allow("S")),
            ],
        ),
        (
            "StringEqualsIgnoreCase",
            allow_get_if("S", r#"{"StringEqualsIgnoreCase": {"aws:UserAgent": "Curl/8"}}"#),
            vec![(get().with("aws:UserAgent", &["curl/8"]), allow("S")), (get().with("aws:UserAgent", &["curl/9"]), NA), (get(), NA)],
        ),
        (
            "StringNotEqualsIgnoreCase",
            allow_get_if("S", r#"{"StringNotEqualsIgnoreCase": {"aws:UserAgent": "Curl/8"}}"#),
            vec![(get().with("aws:UserAgent", &["CURL/8"]), NA), (get().with("aws:UserAgent", &["wget"]), allow("S")), (get(), allow("S"))],
        ),
        (
            "StringLike",
            allow_get_if("S", r#"{"StringLike": {"aws:Referer": ["https://www.example.com/*", "https://example.com/?"]}}"#),
            vec![
                (get().with("aws:Referer", &["https://www.example.com/page"]), allow("S")),
                (get().with("aws:Referer", &["https://example.com/x"]), allow("S")),
                (get().with("aws:Referer", &["https://example.com/xy"]), NA),
                (get().with("aws:Referer", &["https://WWW.example.com/page"]), NA),
                (get(), NA),
            ],
        ),
        (
            "StringNotLike",
            allow_get_if("S", r#"{"StringNotLike": {"aws:Referer": "https://*.example.com/*"}}"#),
            vec![
                (get().with("aws:Referer", &["https://a.example.com/p"]), NA),
                (get().with("aws:Referer", &["https://evil.test/p"]), allow("S")),
                (get(), allow("S")),
            ],
        ),
    ]);
}

#[test]
fn numeric_operators() {
    let list = || req(ANON, "s3:ListBucket", "");
    let on_list = |sid: &str, op: &str, n: &str| {
        policy(&format!(
            r#"{{"Sid": "{sid}", "Effect": "Allow", "Principal": "*", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::photos", "Condition": {{"{op}": {{"s3:max-keys": {n}}}}}}}"#
        ))
    };
    let cases = [
        ("NumericEquals", "10", [NA, allow("N"), NA]),
        ("NumericNotEquals", "10", [allow("N"), NA, allow("N")]),
        ("NumericLessThan", "10", [allow("N"), NA, NA]),
        ("NumericLessThanEquals", "10", [allow("N"), allow("N"), NA]),
        ("NumericGreaterThan", "10", [NA, NA, allow("N")]),
        ("NumericGreaterThanEquals", "\"10\"", [NA, allow("N"), allow("N")]),
    ];
    for (op, n, expected) in cases {
        let p = parse(&on_list("N", op, n));
        for (value, expected) in ["9", "10", "11.5"].into_iter().zip(expected) {
            assert_eq!(evaluate(&p, &list().with("s3:max-keys", &[value])), expected, "{op} {n} against {value}");
        }
        // Absent: false, but for the negated operator.
        let absent = if op == "NumericNotEquals" { allow("N") } else { NA };
        assert_eq!(evaluate(&p, &list()), absent, "{op} on an absent key");
        // Not a number: matches no value.
        let garbage = if op == "NumericNotEquals" { allow("N") } else { NA };
        assert_eq!(evaluate(&p, &list().with("s3:max-keys", &["ten"])), garbage, "{op} on a non-number");
    }
}

#[test]
fn date_operators() {
    let at = |t: &'static str| get().with("aws:CurrentTime", &[t]);
    let cases = [
        ("DateEquals", [NA, allow("D"), NA]),
        ("DateNotEquals", [allow("D"), NA, allow("D")]),
        ("DateLessThan", [allow("D"), NA, NA]),
        ("DateLessThanEquals", [allow("D"), allow("D"), NA]),
        ("DateGreaterThan", [NA, NA, allow("D")]),
        ("DateGreaterThanEquals", [NA, allow("D"), allow("D")]),
    ];
    for (op, expected) in cases {
        let p = parse(&allow_get_if("D", &format!(r#"{{"{op}": {{"aws:CurrentTime": "2026-06-01T00:00:00Z"}}}}"#)));
        let times = ["2026-05-31T23:59:59Z", "2026-06-01T02:00:00+02:00", "2026-06-01T00:00:00.5Z"];
        for (t, expected) in times.into_iter().zip(expected) {
            assert_eq!(evaluate(&p, &at(t)), expected, "{op} against {t}");
        }
    }
    // Epoch seconds on either side, and a bare date (midnight UTC).
    let p = parse(&allow_get_if("D", r#"{"DateGreaterThan": {"aws:EpochTime": "1780272000"}}"#));
    assert_eq!(evaluate(&p, &get().with("aws:EpochTime", &["1780272001"])), allow("D"));
    assert_eq!(evaluate(&p, &get().with("aws:EpochTime", &["1780272000"])), NA);
    assert_eq!(evaluate(&p, &get().with("aws:EpochTime", &["2026-06-01T00:00:01Z"])), allow("D"));
    let p = parse(&allow_get_if("D", r#"{"DateLessThan": {"aws:CurrentTime": "2026-06-01"}}"#));
    assert_eq!(evaluate(&p, &at("2026-05-31T23:59:59Z")), allow("D"));
    assert_eq!(evaluate(&p, &at("2026-06-01T00:00:00Z")), NA);
    assert_eq!(evaluate(&p, &at("not a date")), NA);
}

#[test]
fn bool_ip_arn_and_null_operators() {
    table(vec![
        (
            "Bool",
            allow_get_if("B", r#"{"Bool": {"aws:SecureTransport": "true"}}"#),
            vec![
                (get().with("aws:SecureTransport", &["true"]), allow("B")),
                (get().with("aws:SecureTransport", &["false"]), NA),
                (get().with("aws:SecureTransport", &["yes"]), NA),
                (get(), NA),
            ],
        ),
        (
            "Bool as a JSON boolean",
            allow_get_if("B", r#"{"Bool": {"aws:SecureTransport": true}}"#),
            vec![(get().with("aws:SecureTransport", &["True"]), allow("B"))],
        ),
        (
            "IpAddress v4 and v6",
            allow_get_if("I", r#"{"IpAddress": {"aws:SourceIp": ["192.0.2.0/24", "2001:db8:1234::/48", "198.51.100.7"]}}"#),
            vec![
                (get().with("aws:SourceIp", &["192.0.2.77"]), allow("I")),
                (get().with("aws:SourceIp", &["192.0.3.1"]), NA),
                (get().with("aws:SourceIp", &["198.51.100.7"]), allow("I")),
                (get().with("aws:SourceIp", &["198.51.100.8"]), NA),
                (get().with("aws:SourceIp", &["2001:db8:1234:ffff::1"]), allow("I")),
                (get().with("aws:SourceIp", &["2001:db8:1235::1"]), NA),
                // An IPv4 client through an IPv6 socket.
                (get().with("aws:SourceIp", &["::ffff:192.0.2.1"]), allow("I")),
                (get().with("aws:SourceIp", &["garbage"]), NA),
                (get(), NA),
            ],
        ),
        (
            "IpAddress /0",
            allow_get_if("I", r#"{"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}}"#),
            vec![(get().with("aws:SourceIp", &["203.0.113.9"]), allow("I")), (get().with("aws:SourceIp", &["2001:db8::1"]), NA)],
        ),
        (
            "NotIpAddress",
            allow_get_if("I", r#"{"NotIpAddress": {"aws:SourceIp": "192.0.2.0/24"}}"#),
            vec![(get().with("aws:SourceIp", &["192.0.2.1"]), NA), (get().with("aws:SourceIp", &["10.0.0.1"]), allow("I")), (get(), allow("I"))],
        ),
        (
            "ArnEquals/ArnLike: wildcards stay within a part",
            allow_get_if("A", r#"{"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:user/ops-*"}}"#),
            vec![
                (req(user("acme", "ops-1"), "s3:GetObject", "a.jpg"), allow("A")),
                (req(user("acme", "dev-1"), "s3:GetObject", "a.jpg"), NA),
                (get().with("aws:PrincipalArn", &["arn:aws:iam::a:b:user/ops-1"]), NA),
                (get(), NA),
            ],
        ),
        (
            "ArnEquals",
            allow_get_if("A", r#"{"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::acme:user/ann"}}"#),
            vec![(req(user("acme", "ann"), "s3:GetObject", "a.jpg"), allow("A")), (req(user("acme", "bob"), "s3:GetObject", "a.jpg"), NA)],
        ),
        (
            "ArnNotLike",
            allow_get_if("A", r#"{"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::acme:*"}}"#),
            vec![
                (req(user("acme", "ann"), "s3:GetObject", "a.jpg"), NA),
                (req(user("other", "ann"), "s3:GetObject", "a.jpg"), allow("A")),
                // Anonymous: no principal ARN, and the negated operator holds.
                (get(), allow("A")),
            ],
        ),
        (
            "ArnNotEquals",
            allow_get_if("A", r#"{"ArnNotEquals": {"aws:PrincipalArn": "arn:aws:iam::acme:user/ann"}}"#),
            vec![(req(user("acme", "ann"), "s3:GetObject", "a.jpg"), NA), (req(user("acme", "bob"), "s3:GetObject", "a.jpg"), allow("A"))],
        ),
        (
            "Null true: the key must be absent",
            allow_get_if("N", r#"{"Null": {"s3:x-amz-server-side-encryption": "true"}}"#),
            vec![(get(), allow("N")), (get().with("s3:x-amz-server-side-encryption", &["AES256"]), NA)],
        ),
        (
            "Null false: the key must be present",
            allow_get_if("N", r#"{"Null": {"s3:x-amz-server-side-encryption": false}}"#),
            vec![(get(), NA), (get().with("s3:x-amz-server-side-encryption", &["AES256"]), allow("N"))],
        ),
    ]);
}

#[test]
fn if_exists_passes_an_absent_key_and_tests_a_present_one() {
    table(vec![
        (
            "StringEqualsIfExists",
            allow_get_if("X", r#"{"StringEqualsIfExists": {"s3:x-amz-storage-class": "STANDARD"}}"#),
            vec![
                (get(), allow("X")),
                (get().with("s3:x-amz-storage-class", &["STANDARD"]), allow("X")),
                (get().with("s3:x-amz-storage-class", &["GLACIER"]), NA),
            ],
        ),
        (
            "NumericLessThanEqualsIfExists",
            allow_get_if("X", r#"{"NumericLessThanEqualsIfExists": {"s3:max-keys": 100}}"#),
            vec![(get(), allow("X")), (get().with("s3:max-keys", &["100"]), allow("X")), (get().with("s3:max-keys", &["101"]), NA)],
        ),
        (
            "IpAddressIfExists",
            allow_get_if("X", r#"{"IpAddressIfExists": {"aws:SourceIp": "10.0.0.0/8"}}"#),
            vec![(get(), allow("X")), (get().with("aws:SourceIp", &["11.0.0.1"]), NA)],
        ),
        (
            "BoolIfExists",
            allow_get_if("X", r#"{"BoolIfExists": {"aws:MultiFactorAuthPresent": "true"}}"#),
            vec![(get(), allow("X")), (get().with("aws:MultiFactorAuthPresent", &["false"]), NA)],
        ),
        (
            "DateGreaterThanIfExists",
            allow_get_if("X", r#"{"DateGreaterThanIfExists": {"s3:object-lock-retain-until-date": "2030-01-01T00:00:00Z"}}"#),
            vec![(get(), allow("X")), (get().with("s3:object-lock-retain-until-date", &["2029-01-01T00:00:00Z"]), NA)],
        ),
        (
            "ArnLikeIfExists",
            allow_get_if("X", r#"{"ArnLikeIfExists": {"aws:PrincipalArn": "arn:aws:iam::acme:*"}}"#),
            vec![(get(), allow("X")), (req(user("other", "u"), "s3:GetObject", "a.jpg"), NA)],
        ),
    ]);
}

#[test]
fn set_qualifiers_on_multivalued_keys() {
    let tags = |keys: &[&'static str]| req(user("acme", "ann"), "s3:PutObject", "a.jpg").with("s3:RequestObjectTagKeys", keys);
    let put_if = |condition: &str| {
        policy(&format!(
            r#"{{"Sid": "Q", "Effect": "Allow", "Principal": {{"AWS": "acme"}}, "Action": "s3:PutObject", "Resource": "arn:aws:s3:::photos/*", "Condition": {condition}}}"#
        ))
    };
    let none = || req(user("acme", "ann"), "s3:PutObject", "a.jpg");
    table(vec![
        (
            "ForAllValues:StringEquals: every tag key in the allowed set",
            put_if(r#"{"ForAllValues:StringEquals": {"s3:RequestObjectTagKeys": ["Department", "Project"]}}"#),
            vec![
                (tags(&["Department"]), allow("Q")),
                (tags(&["Department", "Project"]), allow("Q")),
                (tags(&["Department", "Owner"]), NA),
                // AWS: true when the key is absent (or has no value).
                (none(), allow("Q")),
                (tags(&[]), allow("Q")),
            ],
        ),
        (
            "ForAnyValue:StringEquals: at least one tag key in the set",
            put_if(r#"{"ForAnyValue:StringEquals": {"s3:RequestObjectTagKeys": ["Department", "Project"]}}"#),
            vec![(tags(&["Owner", "Project"]), allow("Q")), (tags(&["Owner"]), NA), (none(), NA)],
        ),
        (
            "ForAllValues:StringLike",
            put_if(r#"{"ForAllValues:StringLike": {"s3:RequestObjectTagKeys": "team-*"}}"#),
            vec![(tags(&["team-a", "team-b"]), allow("Q")), (tags(&["team-a", "cost"]), NA)],
        ),
        (
            "ForAnyValue:StringNotEquals: some tag key outside the set",
            put_if(r#"{"ForAnyValue:StringNotEquals": {"s3:RequestObjectTagKeys": ["Department", "Project"]}}"#),
            vec![(tags(&["Department", "Owner"]), allow("Q")), (tags(&["Department"]), NA), (none(), NA)],
        ),
        (
            "ForAllValues:StringNotEquals: no tag key in the set",
            put_if(r#"{"ForAllValues:StringNotEquals": {"s3:RequestObjectTagKeys": ["Secret"]}}"#),
            vec![(tags(&["a", "b"]), allow("Q")), (tags(&["a", "Secret"]), NA), (none(), allow("Q"))],
        ),
        (
            "a plain negated operator on several values: none may match",
            put_if(r#"{"StringNotEquals": {"s3:RequestObjectTagKeys": "Secret"}}"#),
            vec![(tags(&["a", "b"]), allow("Q")), (tags(&["a", "Secret"]), NA)],
        ),
        (
            "a plain positive operator on several values: one matching is enough",
            put_if(r#"{"StringEquals": {"s3:RequestObjectTagKeys": "Secret"}}"#),
            vec![(tags(&["a", "Secret"]), allow("Q")), (tags(&["a"]), NA)],
        ),
    ]);
}

#[test]
fn conditions_and_keys_and_values_or() {
    let p = parse(&allow_get_if(
        "C",
        r#"{"StringEquals": {"s3:x-amz-acl": ["private", "bucket-owner-read"], "aws:username": "ann"}, "Bool": {"aws:SecureTransport": "true"}}"#,
    ));
    let ann = || req(user("acme", "ann"), "s3:GetObject", "a.jpg");
    let full = || ann().with("aws:SecureTransport", &["true"]);
    assert_eq!(evaluate(&p, &full().with("s3:x-amz-acl", &["bucket-owner-read"])), allow("C"));
    assert_eq!(evaluate(&p, &full().with("s3:x-amz-acl", &["private"])), allow("C"));
    assert_eq!(evaluate(&p, &full().with("s3:x-amz-acl", &["public-read"])), NA, "no value of the key matches");
    assert_eq!(evaluate(&p, &ann().with("s3:x-amz-acl", &["private"])), NA, "the Bool operator fails");
    assert_eq!(evaluate(&p, &req(user("acme", "bob"), "s3:GetObject", "a.jpg").with("aws:SecureTransport", &["true"]).with("s3:x-amz-acl", &["private"])), NA);
    // Keys are case-insensitive, in the policy and in the context's answer.
    let p = parse(&allow_get_if("C", r#"{"StringEquals": {"AWS:USERNAME": "ann"}}"#));
    assert_eq!(evaluate(&p, &ann()), allow("C"));
    let p = parse(&allow_get_if("C", r#"{"StringEquals": {"S3:X-AMZ-ACL": "private"}}"#));
    assert_eq!(evaluate(&p, &get().with("s3:x-amz-acl", &["private"])), allow("C"));
}

#[test]
fn the_context_is_asked_with_the_known_spelling() {
    /// Answers only the exact spellings of the known key list (tag keys as written).
    struct Strict;
    impl ConditionContext for Strict {
        fn values(&self, key: &str) -> Option<Vec<Cow<'_, str>>> {
            matches!(key, "s3:x-amz-acl" | "s3:ExistingObjectTag/Env").then(|| vec![Cow::Borrowed("v")])
        }
    }
    let p = parse(&allow_get_if("K", r#"{"StringEquals": {"S3:X-Amz-Acl": "v", "S3:EXISTINGOBJECTTAG/Env": "v"}}"#));
    let facts = Facts { caller: ANON, action: "s3:GetObject", resource: "arn:aws:s3:::photos/k", context: &Strict };
    assert_eq!(p.evaluate(&facts), allow("K"));
}

#[test]
fn tag_keys_keep_the_tag_name() {
    table(vec![
        (
            "s3:ExistingObjectTag/<key>",
            allow_get_if("T", r#"{"StringEquals": {"s3:ExistingObjectTag/environment": "production"}}"#),
            vec![
                (get().with("s3:ExistingObjectTag/environment", &["production"]), allow("T")),
                (get().with("s3:ExistingObjectTag/environment", &["staging"]), NA),
                (get().with("s3:ExistingObjectTag/other", &["production"]), NA),
            ],
        ),
        (
            "aws:ResourceTag/<key> (the bucket's tags)",
            allow_get_if("T", r#"{"StringEquals": {"aws:ResourceTag/team": "web"}}"#),
            vec![(get().with("aws:ResourceTag/team", &["web"]), allow("T")), (get(), NA)],
        ),
        (
            "s3:RequestObjectTag/<key>",
            allow_get_if("T", r#"{"StringLike": {"s3:RequestObjectTag/cost": "cc-*"}}"#),
            vec![(get().with("s3:RequestObjectTag/cost", &["cc-17"]), allow("T"))],
        ),
    ]);
}

#[test]
fn action_wildcards_and_not_action() {
    let on_all = |sid: &str, action: &str| {
        policy(&format!(r#"{{"Sid": "{sid}", "Effect": "Allow", "Principal": "*", {action}, "Resource": ["arn:aws:s3:::photos", "arn:aws:s3:::photos/*"]}}"#))
    };
    table(vec![
        (
            "s3:Get*",
            on_all("W", r#""Action": "s3:Get*""#),
            vec![
                (req(ANON, "s3:GetObject", "k"), allow("W")),
                (req(ANON, "s3:GetBucketPolicy", ""), allow("W")),
                (req(ANON, "s3:PutObject", "k"), NA),
                (req(ANON, "s3:ListBucket", ""), NA),
            ],
        ),
        (
            "case-insensitive names",
            on_all("W", r#""Action": ["S3:getobject", "s3:LISTBUCKET"]"#),
            vec![(req(ANON, "s3:GetObject", "k"), allow("W")), (req(ANON, "s3:ListBucket", ""), allow("W")), (req(ANON, "s3:GetObjectAcl", "k"), NA)],
        ),
        (
            "* inside and ? wildcards",
            on_all("W", r#""Action": ["s3:*ObjectTagging", "s3:GetObjec?"]"#),
            vec![
                (req(ANON, "s3:PutObjectTagging", "k"), allow("W")),
                (req(ANON, "s3:DeleteObjectTagging", "k"), allow("W")),
                (req(ANON, "s3:GetObject", "k"), allow("W")),
                (req(ANON, "s3:GetObjectVersionTagging", "k"), NA),
                (req(ANON, "s3:GetObjectAcl", "k"), NA),
            ],
        ),
        ("s3:*", on_all("W", r#""Action": "s3:*""#), vec![(req(ANON, "s3:DeleteBucket", ""), allow("W")), (req(ANON, "s3:PutObject", "k"), allow("W"))]),
        ("*", on_all("W", r#""Action": "*""#), vec![(req(ANON, "s3:DeleteObject", "k"), allow("W"))]),
        (
            "NotAction: everything but",
            on_all("W", r#""NotAction": ["s3:Delete*", "s3:PutBucketPolicy"]"#),
            vec![
                (req(ANON, "s3:GetObject", "k"), allow("W")),
                (req(ANON, "s3:PutObject", "k"), allow("W")),
                (req(ANON, "s3:DeleteObject", "k"), NA),
                (req(ANON, "s3:PutBucketPolicy", ""), NA),
            ],
        ),
    ]);
}

#[test]
fn resource_wildcards_and_not_resource() {
    let on = |sid: &str, resource: &str| {
        policy(&format!(r#"{{"Sid": "{sid}", "Effect": "Allow", "Principal": "*", "Action": ["s3:GetObject", "s3:ListBucket"], {resource}}}"#))
    };
    table(vec![
        (
            "a prefix",
            on("R", r#""Resource": "arn:aws:s3:::photos/public/*""#),
            vec![
                (req(ANON, "s3:GetObject", "public/a.jpg"), allow("R")),
                (req(ANON, "s3:GetObject", "public/deep/a.jpg"), allow("R")),
                (req(ANON, "s3:GetObject", "private/a.jpg"), NA),
                (req(ANON, "s3:GetObject", "Public/a.jpg"), NA),
                // The bucket is not one of its objects.
                (req(ANON, "s3:ListBucket", ""), NA),
            ],
        ),
        (
            "? and a wildcard bucket name",
            on("R", r#""Resource": ["arn:aws:s3:::phot*/img-??.jpg", "arn:aws:s3:::photo?"]"#),
            vec![
                (req(ANON, "s3:GetObject", "img-01.jpg"), allow("R")),
                (req(ANON, "s3:GetObject", "img-1.jpg"), NA),
                (req(ANON, "s3:ListBucket", ""), allow("R")),
            ],
        ),
        ("*", on("R", r#""Resource": "*""#), vec![(req(ANON, "s3:GetObject", "x"), allow("R")), (req(ANON, "s3:ListBucket", ""), allow("R"))]),
        (
            "NotResource: everything but",
            on("R", r#""NotResource": ["arn:aws:s3:::photos/private/*", "arn:aws:s3:::photos"]"#),
            vec![
                (req(ANON, "s3:GetObject", "public/a.jpg"), allow("R")),
                (req(ANON, "s3:GetObject", "private/a.jpg"), NA),
                (req(ANON, "s3:ListBucket", ""), NA),
            ],
        ),
    ]);
}

#[test]
fn principals_name_tenants_and_users() {
    let to =
        |principal: &str| policy(&format!(r#"{{"Sid": "P", "Effect": "Allow", "{principal}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::photos/*"}}"#));
    let ann = || req(user("acme", "ann"), "s3:GetObject", "k");
    let bob = || req(user("acme", "bob"), "s3:GetObject", "k");
    let eve = || req(user("evil", "ann"), "s3:GetObject", "k");
    let anon = || req(ANON, "s3:GetObject", "k");
    table(vec![
        ("\"*\"", to(r#"Principal": "*""#), vec![(anon(), allow("P")), (ann(), allow("P"))]),
        ("AWS *", to(r#"Principal": {"AWS": "*"}"#), vec![(anon(), allow("P")), (eve(), allow("P"))]),
        ("AWS list holding *", to(r#"Principal": {"AWS": ["acme", "*"]}"#), vec![(anon(), allow("P"))]),
        ("a user ARN", to(r#"Principal": {"AWS": "arn:aws:iam::acme:user/ann"}"#), vec![(ann(), allow("P")), (bob(), NA), (eve(), NA), (anon(), NA)]),
        (
            "a tenant's root ARN",
            to(r#"Principal": {"AWS": "arn:aws:iam::acme:root"}"#),
            vec![(ann(), allow("P")), (bob(), allow("P")), (eve(), NA), (anon(), NA)],
        ),
        ("a bare tenant", to(r#"Principal": {"AWS": ["acme"]}"#), vec![(bob(), allow("P")), (eve(), NA)]),
        ("a canonical user id: the tenant", to(r#"Principal": {"CanonicalUser": "acme"}"#), vec![(bob(), allow("P")), (eve(), NA), (anon(), NA)]),
        (
            "NotPrincipal: everyone but, anonymous included",
            to(r#"NotPrincipal": {"AWS": ["arn:aws:iam::acme:user/ann", "evil"]}"#),
            vec![(ann(), NA), (bob(), allow("P")), (eve(), NA), (anon(), allow("P"))],
        ),
    ]);
}

#[test]
fn deny_beats_allow_whatever_the_order() {
    let allow_all = r#"{"Sid": "All", "Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": ["arn:aws:s3:::photos", "arn:aws:s3:::photos/*"]}"#;
    let deny_secret = r#"{"Sid": "NoSecrets", "Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::photos/secret/*"}"#;
    let allow_secret =
        r#"{"Sid": "Secret", "Effect": "Allow", "Principal": {"AWS": "acme"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::photos/secret/*"}"#;
    for statements in [format!("{allow_all}, {deny_secret}, {allow_secret}"), format!("{deny_secret}, {allow_secret}, {allow_all}")] {
        let p = parse(&policy(&statements));
        assert_eq!(evaluate(&p, &req(user("acme", "ann"), "s3:GetObject", "secret/x")), deny("NoSecrets"));
        assert_eq!(evaluate(&p, &req(user("acme", "ann"), "s3:GetObject", "open/x")), allow("All"));
    }
    // Several matching Allows: the first decides; no Sid, none reported.
    let p =
        parse(&policy(&format!(r#"{{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::photos/*"}}, {allow_secret}"#)));
    assert_eq!(evaluate(&p, &req(user("acme", "ann"), "s3:GetObject", "secret/x")), Verdict::Allow { sid: None });
    // A Deny of the bucket's own users.
    let p = parse(&policy(
        r#"{"Sid": "Freeze", "Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::acme:root"}, "Action": "s3:Delete*", "Resource": "arn:aws:s3:::photos/*"}"#,
    ));
    assert_eq!(evaluate(&p, &req(user("acme", "ann"), "s3:DeleteObject", "x")), deny("Freeze"));
    assert_eq!(evaluate(&p, &req(user("acme", "ann"), "s3:GetObject", "x")), NA);
}

#[test]
fn policy_variables() {
    let home = policy(
        r#"{"Sid": "Home", "Effect": "Allow", "Principal": {"AWS": "acme"}, "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "arn:aws:s3:::photos/home/${aws:username}/*"},
           {"Sid": "ListHome", "Effect": "Allow", "Principal": {"AWS": "acme"}, "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::photos", "Condition": {"StringLike": {"s3:prefix": ["home/${aws:username}/*", "home/${aws:username}"]}}}"#,
    );
    let p = parse(&home);
    table(vec![(
        "a home directory per user",
        home,
        vec![
            (req(user("acme", "ann"), "s3:PutObject", "home/ann/a.txt"), allow("Home")),
            (req(user("acme", "ann"), "s3:GetObject", "home/bob/a.txt"), NA),
            (req(user("acme", "bob"), "s3:GetObject", "home/bob/a.txt"), allow("Home")),
            (req(user("acme", "ann"), "s3:ListBucket", "").with("s3:prefix", &["home/ann/photos/"]), allow("ListHome")),
            (req(user("acme", "ann"), "s3:ListBucket", "").with("s3:prefix", &["home/ann"]), allow("ListHome")),
            (req(user("acme", "ann"), "s3:ListBucket", "").with("s3:prefix", &["home/bob/"]), NA),
            // The context's value wins over the caller's (the lead may give it).
            (req(user("acme", "ann"), "s3:GetObject", "home/carl/x").with("aws:username", &["carl"]), allow("Home")),
        ],
    )]);
    // Anonymous has no aws:username: the resource names nothing.
    assert_eq!(evaluate(&p, &req(ANON, "s3:GetObject", "home/ann/a.txt")), NA);
    // A variable's value is taken literally: a user's `*` is no wildcard.
    let p =
        parse(&policy(r#"{"Sid": "V", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::photos/${aws:userid}.txt"}"#));
    assert_eq!(evaluate(&p, &req(ANON, "s3:GetObject", "x.txt").with("aws:userid", &["*"])), NA);
    assert_eq!(evaluate(&p, &req(ANON, "s3:GetObject", "*.txt").with("aws:userid", &["*"])), allow("V"));
    // `${*}` is a literal star.
    let p = parse(&policy(r#"{"Sid": "V", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::photos/${*}"}"#));
    assert_eq!(evaluate(&p, &req(ANON, "s3:GetObject", "*")), allow("V"));
    assert_eq!(evaluate(&p, &req(ANON, "s3:GetObject", "a")), NA);
    // A 2008-10-17 (or versionless) policy has no variables: `${aws:username}` is text.
    for version in [r#""Version": "2008-10-17", "#, ""] {
        let p = parse(&format!(
            r#"{{{version}"Statement": {{"Sid": "Old", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::photos/${{aws:username}}/*"}}}}"#
        ));
        assert_eq!(evaluate(&p, &req(user("acme", "ann"), "s3:GetObject", "ann/x")), NA);
        assert_eq!(evaluate(&p, &req(user("acme", "ann"), "s3:GetObject", "${aws:username}/x")), allow("Old"));
    }
    // In a condition value, with principal keys from the caller.
    let p = parse(&allow_get_if("V", r#"{"StringEquals": {"s3:ExistingObjectTag/owner": "${aws:PrincipalAccount}"}}"#));
    assert_eq!(evaluate(&p, &req(user("acme", "ann"), "s3:GetObject", "k").with("s3:ExistingObjectTag/owner", &["acme"])), allow("V"));
    assert_eq!(evaluate(&p, &req(user("evil", "ann"), "s3:GetObject", "k").with("s3:ExistingObjectTag/owner", &["acme"])), NA);
}

#[test]
fn principal_keys_come_from_the_caller() {
    table(vec![
        (
            "aws:PrincipalAccount",
            allow_get_if("K", r#"{"StringEquals": {"aws:PrincipalAccount": "acme"}}"#),
            vec![(req(user("acme", "x"), "s3:GetObject", "k"), allow("K")), (req(user("evil", "x"), "s3:GetObject", "k"), NA), (get(), NA)],
        ),
        (
            "aws:PrincipalType",
            allow_get_if("K", r#"{"StringEquals": {"aws:PrincipalType": "Anonymous"}}"#),
            vec![(get(), allow("K")), (req(user("acme", "x"), "s3:GetObject", "k"), NA)],
        ),
    ]);
}

// ------------------------------------------------------------------------------------------
// AWS's own examples (S3 User Guide, "Examples of Amazon S3 bucket policies"), bucket renamed.

#[test]
fn aws_example_public_read() {
    let p = parse(
        r#"{
  "Version":"2012-10-17",
  "Statement":[
    {
      "Sid":"PublicRead",
      "Effect":"Allow",
      "Principal": "*",
      "Action":["s3:GetObject","s3:GetObjectVersion"],
      "Resource":["arn:aws:s3:::photos/*"]
    }
  ]
}"#,
    );
    assert_eq!(evaluate(&p, &req(ANON, "s3:GetObject", "index.html")), allow("PublicRead"));
    assert_eq!(evaluate(&p, &req(ANON, "s3:GetObjectVersion", "index.html")), allow("PublicRead"));
    assert_eq!(evaluate(&p, &req(ANON, "s3:PutObject", "index.html")), NA);
    assert_eq!(evaluate(&p, &req(ANON, "s3:ListBucket", "")), NA);
    assert!(p.is_public());
}

#[test]
fn aws_example_restrict_by_ip() {
    let p = parse(
        r#"{
  "Version": "2012-10-17",
  "Id": "S3PolicyId1",
  "Statement": [
    {
      "Sid": "IPAllow",
      "Effect": "Deny",
      "Principal": "*",
      "Action": "s3:*",
      "Resource": [
        "arn:aws:s3:::photos",
        "arn:aws:s3:::photos/*"
      ],
      "Condition": {
        "NotIpAddress": {
          "aws:SourceIp": ["192.0.2.0/24", "2001:DB8:1234:5678::/64"]
        }
      }
    }
  ]
}"#,
    );
    let from = |ip: &'static str| req(user("acme", "ann"), "s3:GetObject", "k").with("aws:SourceIp", &[ip]);
    assert_eq!(evaluate(&p, &from("203.0.113.1")), deny("IPAllow"));
    assert_eq!(evaluate(&p, &from("192.0.2.10")), NA);
    assert_eq!(evaluate(&p, &from("2001:db8:1234:5678::99")), NA);
    assert_eq!(evaluate(&p, &from("2001:db8:1234:5679::99")), deny("IPAllow"));
    assert_eq!(evaluate(&p, &req(ANON, "s3:ListBucket", "").with("aws:SourceIp", &["198.51.100.1"])), deny("IPAllow"));
    assert!(!p.is_public());
}

#[test]
fn aws_example_require_secure_transport() {
    let p = parse(
        r#"{
    "Version": "2012-10-17",
    "Statement": [{
        "Sid": "RestrictToTLSRequestsOnly",
        "Action": "s3:*",
        "Effect": "Deny",
        "Resource": [
            "arn:aws:s3:::photos",
            "arn:aws:s3:::photos/*"
        ],
        "Condition": {
            "Bool": {
                "aws:SecureTransport": "false"
            }
        },
        "Principal": "*"
    }]
}"#,
    );
    let over = |tls: &'static str| req(user("acme", "ann"), "s3:PutObject", "k").with("aws:SecureTransport", &[tls]);
    assert_eq!(evaluate(&p, &over("false")), deny("RestrictToTLSRequestsOnly"));
    assert_eq!(evaluate(&p, &over("true")), NA);
}

#[test]
fn aws_example_cross_account_grant_on_a_prefix() {
    let p = parse(
        r#"{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "CrossAccountRead",
      "Effect": "Allow",
      "Principal": {"AWS": ["arn:aws:iam::partner:root"]},
      "Action": ["s3:GetObject"],
      "Resource": ["arn:aws:s3:::photos/shared/*"]
    }
  ]
}"#,
    );
    assert_eq!(evaluate(&p, &req(user("partner", "reader"), "s3:GetObject", "shared/report.pdf")), allow("CrossAccountRead"));
    assert_eq!(evaluate(&p, &req(user("partner", "reader"), "s3:GetObject", "private/report.pdf")), NA);
    assert_eq!(evaluate(&p, &req(user("partner", "reader"), "s3:PutObject", "shared/report.pdf")), NA);
    assert_eq!(evaluate(&p, &req(user("partner", "reader"), "s3:ListBucket", "")), NA);
    assert_eq!(evaluate(&p, &req(user("other", "reader"), "s3:GetObject", "shared/report.pdf")), NA);
    assert_eq!(evaluate(&p, &req(ANON, "s3:GetObject", "shared/report.pdf")), NA);
    assert!(!p.is_public());
}

#[test]
fn aws_example_deny_unencrypted_uploads() {
    let p = parse(
        r#"{
   "Version":"2012-10-17",
   "Id":"PutObjectPolicy",
   "Statement":[{
         "Sid":"DenyIncorrectEncryptionHeader",
         "Effect":"Deny",
         "Principal":"*",
         "Action":"s3:PutObject",
         "Resource":"arn:aws:s3:::photos/*",
         "Condition":{
            "StringNotEquals":{
               "s3:x-amz-server-side-encryption":"aws:kms"
            }
         }
      },
      {
         "Sid":"DenyUnencryptedObjectUploads",
         "Effect":"Deny",
         "Principal":"*",
         "Action":"s3:PutObject",
         "Resource":"arn:aws:s3:::photos/*",
         "Condition":{
            "Null":{
               "s3:x-amz-server-side-encryption":"true"
            }
         }
      }
   ]
}"#,
    );
    let put = || req(user("acme", "ann"), "s3:PutObject", "k");
    assert_eq!(evaluate(&p, &put().with("s3:x-amz-server-side-encryption", &["aws:kms"])), NA);
    assert_eq!(evaluate(&p, &put().with("s3:x-amz-server-side-encryption", &["AES256"])), deny("DenyIncorrectEncryptionHeader"));
    // Absent: both deny (the negated operator holds on an absent key); the first decides.
    assert_eq!(evaluate(&p, &put()), deny("DenyIncorrectEncryptionHeader"));
    assert_eq!(evaluate(&p, &req(user("acme", "ann"), "s3:GetObject", "k")), NA);
}

#[test]
fn aws_example_list_bucket_limited_to_a_prefix() {
    let p = parse(
        &r#"{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "AllowRootAndHomeListingOfCompanyBucket",
      "Principal": {"AWS": ["arn:aws:iam::acme:user/JohnDoe"]},
      "Action": ["s3:ListBucket"],
      "Effect": "Allow",
      "Resource": ["arn:aws:s3:::photos"],
      "Condition": {"StringEquals": {"s3:prefix": ["", "home/", "home/JohnDoe"], "s3:delimiter": ["/"]}}
    },
    {
      "Sid": "AllowListingOfUserFolder",
      "Principal": {"AWS": ["arn:aws:iam::acme:user/JohnDoe"]},
      "Action": ["s3:ListBucket"],
      "Effect": "Allow",
      "Resource": ["arn:aws:s3:::photos"],
      "Condition": {"StringLike": {"s3:prefix": ["home/JohnDoe/*"]}}
    },
    {
      "Sid": "AllowAllS3ActionsInUserFolder",
      "Effect": "Allow",
      "Principal": {"AWS": ["arn:aws:iam::acme:user/JohnDoe"]},
      "Action": ["s3:*"],
      "Resource": ["arn:aws:s3:::photos/home/JohnDoe/*"]
    }
  ]
}"#
        .replace("JohnDoe", "johndoe"),
    );
    let john = || req(user("acme", "johndoe"), "s3:ListBucket", "");
    assert_eq!(evaluate(&p, &john().with("s3:prefix", &["home/"]).with("s3:delimiter", &["/"])), allow("AllowRootAndHomeListingOfCompanyBucket"));
    assert_eq!(evaluate(&p, &john().with("s3:prefix", &["home/"])), NA, "the delimiter is required");
    assert_eq!(evaluate(&p, &john().with("s3:prefix", &["home/johndoe/2026/"])), allow("AllowListingOfUserFolder"));
    assert_eq!(evaluate(&p, &john().with("s3:prefix", &["home/jane/"])), NA);
    assert_eq!(evaluate(&p, &req(user("acme", "johndoe"), "s3:DeleteObject", "home/johndoe/x")), allow("AllowAllS3ActionsInUserFolder"));
    assert_eq!(evaluate(&p, &req(user("acme", "jane"), "s3:ListBucket", "").with("s3:prefix", &["home/"]).with("s3:delimiter", &["/"])), NA);
}

#[test]
fn aws_example_max_keys_and_current_time() {
    let p = parse(&policy(
        r#"{"Sid": "SmallPages", "Effect": "Allow", "Principal": {"AWS": "partner"}, "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::photos",
            "Condition": {"NumericLessThanEquals": {"s3:max-keys": "10"}, "DateGreaterThan": {"aws:CurrentTime": "2026-01-01T00:00:00Z"}}}"#,
    ));
    let list = |n: &'static str, t: &'static str| req(user("partner", "p"), "s3:ListBucket", "").with("s3:max-keys", &[n]).with("aws:CurrentTime", &[t]);
    assert_eq!(evaluate(&p, &list("10", "2026-12-01T13:00:00Z")), allow("SmallPages"));
    assert_eq!(evaluate(&p, &list("1000", "2026-12-01T13:00:00Z")), NA);
    assert_eq!(evaluate(&p, &list("10", "2025-12-01T13:00:00Z")), NA);
}

// ------------------------------------------------------------------------------------------
// Refusals

fn refused(json: &str) -> String {
    match BucketPolicy::parse(json, B) {
        Ok(_) => panic!("accepted: {json}"),
        Err(e) => e,
    }
}

/// A one-statement policy with `fields` besides a valid Effect (unless given).
fn statement(fields: &str) -> String {
    policy(&format!("{{{fields}}}"))
}

#[test]
fn refused_documents_give_the_reason() {
    let ok_rest = r#""Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::photos/*""#;
    let cases: Vec<(String, &str)> = vec![
        ("not json".to_owned(), "This policy contains invalid Json"),
        ("[]".to_owned(), "This policy contains invalid Json"),
        (r#"{"Version": "2012-10-17"}"#.to_owned(), "Missing required field Statement"),
        (r#"{"Version": "2012-10-17", "Statement": []}"#.to_owned(), "Missing required field Statement"),
        (r#"{"Version": "2012-10-17", "Statement": "x"}"#.to_owned(), "Missing required field Statement"),
        (format!(r#"{{"Version": "2012-10-18", "Statement": {{"Effect": "Allow", {ok_rest}}}}}"#), "The policy must contain a valid version string"),
        (format!(r#"{{"Version": 2012, "Statement": {{"Effect": "Allow", {ok_rest}}}}}"#), "The policy must contain a valid version string"),
        (format!(r#"{{"Statement": {{"Effect": "Allow", {ok_rest}}}, "Extra": 1}}"#), "Unknown field Extra"),
        (statement(&format!(r#""Effect": "Allow", "Colour": "red", {ok_rest}"#)), "Unknown field Colour"),
        (statement(ok_rest), "Missing required field Effect"),
        (statement(&format!(r#""Effect": "allow", {ok_rest}"#)), "Invalid effect: allow"),
        (statement(r#""Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::photos/*""#), "Missing required field Principal"),
        (statement(r#""Effect": "Allow", "Principal": "*", "Resource": "arn:aws:s3:::photos/*""#), "Missing required field Action"),
        (statement(r#""Effect": "Allow", "Principal": "*", "Action": "s3:GetObject""#), "Missing required field Resource"),
        (
            statement(r#""Effect": "Allow", "Principal": "*", "NotPrincipal": {"AWS": "acme"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::photos/*""#),
            "Statement cannot have both Principal and NotPrincipal",
        ),
        (
            format!(r#"{{"Statement": [{{"Sid": "A", "Effect": "Allow", {ok_rest}}}, {{"Sid": "A", "Effect": "Deny", {ok_rest}}}]}}"#),
            "Statement IDs (SID) in a single policy must be unique",
        ),
        (format!(r#"{{"Statement": {{"Sid": "A", "Effect": "Allow", {ok_rest}}}}}"#).replace("\"Sid\": \"A\"", "\"Sid\": 3"), "Sid must be a string"),
        // Actions.
        (statement(r#""Effect": "Allow", "Principal": "*", "Action": "s3:GetObjects", "Resource": "arn:aws:s3:::photos/*""#), "Policy has invalid action"),
        (statement(r#""Effect": "Allow", "Principal": "*", "Action": "iam:CreateUser", "Resource": "arn:aws:s3:::photos/*""#), "Policy has invalid action"),
        (statement(r#""Effect": "Allow", "Principal": "*", "Action": "GetObject", "Resource": "arn:aws:s3:::photos/*""#), "Policy has invalid action"),
        (statement(r#""Effect": "Allow", "Principal": "*", "Action": [], "Resource": "arn:aws:s3:::photos/*""#), "Policy has invalid action"),
        (statement(r#""Effect": "Allow", "Principal": "*", "Action": 7, "Resource": "arn:aws:s3:::photos/*""#), "Policy has invalid action"),
        (statement(r#""Effect": "Allow", "Principal": "*", "NotAction": "s3:Nope*", "Resource": "arn:aws:s3:::photos/*""#), "Policy has invalid action"),
        // Principals.
        (statement(r#""Effect": "Allow", "Principal": {"Service": "logging.s3.amazonaws.com"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::photos/*""#), "Invalid principal in policy"),
        (statement(r#""Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::acme:user/*"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::photos/*""#), "Invalid principal in policy"),
        (statement(r#""Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::acme:role/r"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::photos/*""#), "Invalid principal in policy"),
        (statement(r#""Effect": "Allow", "Principal": {"AWS": "Not A Tenant"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::photos/*""#), "Invalid principal in policy"),
        (statement(r#""Effect": "Allow", "Principal": "acme", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::photos/*""#), "Invalid principal in policy"),
        (statement(r#""Effect": "Allow", "Principal": {}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::photos/*""#), "Invalid principal in policy"),
        (statement(r#""Effect": "Allow", "Principal": {"AWS": []}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::photos/*""#), "Invalid principal in policy"),
        (statement(r#""Effect": "Allow", "NotPrincipal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::photos/*""#), "Invalid principal in policy"),
        (statement(r#""Effect": "Allow", "Principal": {"CanonicalUser": "79a59df900b949e55d96a1e698fbaced"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::photos/*""#).replace("79a59df900b949e55d96a1e698fbaced", "Bad Id"), "Invalid principal in policy"),
        // Resources.
        (statement(r#""Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::other/*""#), "Policy has invalid resource"),
        (statement(r#""Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::photos-old/*""#), "Policy has invalid resource"),
        (statement(r#""Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "photos/*""#), "Policy has invalid resource"),
        (statement(r#""Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": ["arn:aws:s3:::photos/*", "arn:aws:s3:::other"]"#), "Policy has invalid resource"),
        (statement(r#""Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "NotResource": "arn:aws:s3:::other/*""#), "Policy has invalid resource"),
        (statement(r#""Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": []"#), "Policy has invalid resource"),
        // Actions against resources.
        (statement(r#""Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::photos""#), "Action does not apply to any resource(s) in statement"),
        (statement(r#""Effect": "Allow", "Principal": "*", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::photos/*""#), "Action does not apply to any resource(s) in statement"),
        (statement(r#""Effect": "Allow", "Principal": "*", "Action": "s3:ListAllMyBuckets", "Resource": "*""#), "Action does not apply to any resource(s) in statement"),
        (statement(r#""Effect": "Allow", "Principal": "*", "NotAction": "s3:*", "Resource": "arn:aws:s3:::photos/*""#), "Action does not apply to any resource(s) in statement"),
        // Conditions.
        (allow_get_if("C", r#"{"StringEq": {"s3:prefix": "a"}}"#), "Invalid Condition type : StringEq"),
        (allow_get_if("C", r#"{"ForSomeValues:StringEquals": {"s3:prefix": "a"}}"#), "Invalid Condition type : ForSomeValues:StringEquals"),
        (allow_get_if("C", r#"{"NullIfExists": {"s3:prefix": "true"}}"#), "Invalid Condition type : NullIfExists"),
        (allow_get_if("C", r#"{"ForAnyValue:Null": {"s3:prefix": "true"}}"#), "Invalid Condition type : ForAnyValue:Null"),
        (allow_get_if("C", r#"{"StringEquals": "a"}"#), "Invalid Condition type : StringEquals"),
        (allow_get_if("C", r#"{"StringEquals": {"s3:flavour": "a"}}"#), "Policy has an invalid condition key"),
        (allow_get_if("C", r#"{"StringEquals": {"s3:ExistingObjectTag/": "a"}}"#), "Policy has an invalid condition key"),
        (allow_get_if("C", r#"{"StringEquals": {"aws:RequestTag/x": "a"}}"#), "Policy has an invalid condition key"),
        (allow_get_if("C", r#"{"NumericLessThan": {"s3:max-keys": "ten"}}"#), "Invalid value for condition NumericLessThan on key s3:max-keys: ten"),
        (allow_get_if("C", r#"{"DateLessThan": {"aws:CurrentTime": "tomorrow"}}"#), "Invalid value for condition DateLessThan on key aws:CurrentTime: tomorrow"),
        (allow_get_if("C", r#"{"Bool": {"aws:SecureTransport": "yes"}}"#), "Invalid value for condition Bool on key aws:SecureTransport: yes"),
        (allow_get_if("C", r#"{"IpAddress": {"aws:SourceIp": "192.0.2.0/33"}}"#), "Invalid value for condition IpAddress on key aws:SourceIp: 192.0.2.0/33"),
        (allow_get_if("C", r#"{"IpAddress": {"aws:SourceIp": "example.com"}}"#), "Invalid value for condition IpAddress on key aws:SourceIp: example.com"),
        (allow_get_if("C", r#"{"StringEquals": {"s3:prefix": []}}"#), "Invalid value for condition StringEquals on key s3:prefix"),
        (allow_get_if("C", r#"{"StringEquals": {"s3:prefix": {"a": 1}}}"#), "Invalid value for condition StringEquals on key s3:prefix"),
        (allow_get_if("C", r#"{"StringEquals": {"s3:prefix": "${aws:nothing}"}}"#), "Policy has an invalid variable: ${aws:nothing}"),
        (allow_get_if("C", "[]"), "Condition must be an object"),
    ];
    for (json, reason) in &cases {
        assert_eq!(refused(json), *reason, "{json}");
    }
    let big = format!(r#"{{"Id": "{}", "Statement": {{"Effect": "Allow", {ok_rest}}}}}"#, "x".repeat(MAX_POLICY_BYTES));
    assert_eq!(refused(&big), "Policy exceeds the maximum allowed document size.");
}

#[test]
fn accepted_documents_keep_their_text() {
    // A single statement object, no Version, wildcards naming this bucket, an Id.
    let text = r#"{"Id": "x",
        "Statement": {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::acme:user/ann"}, "Action": "s3:List*", "Resource": "arn:aws:s3:::pho*"}}"#;
    let p = parse(text);
    assert_eq!(p.text(), text);
    assert_eq!(evaluate(&p, &req(user("acme", "ann"), "s3:ListBucket", "")), Verdict::Allow { sid: None });
    // Resources for this bucket through a variable validate as the wildcard they may be.
    parse(&policy(r#"{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::photos/${aws:username}"}"#));
    // A bucket resource whose wildcard also covers objects serves object actions.
    parse(&policy(r#"{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::photos*"}"#));
    // Every operator with IfExists and the set qualifiers compiles.
    for (name, _, kind) in OPERATORS {
        if *kind == OpKind::Null {
            continue;
        }
        let value = match kind {
            OpKind::Numeric(_) => "1",
            OpKind::Date(_) => "\"2026-01-01T00:00:00Z\"",
            OpKind::Bool => "\"true\"",
            OpKind::Ip => "\"10.0.0.0/8\"",
            _ => "\"x\"",
        };
        for op in [name.to_string(), format!("{name}IfExists"), format!("ForAnyValue:{name}"), format!("ForAllValues:{name}IfExists")] {
            parse(&allow_get_if("C", &format!(r#"{{"{op}": {{"aws:Referer": {value}}}}}"#)));
        }
    }
}

/// Here rather than in `ops`: `ops` sits below `policy` (see `import_direction`).
#[test]
fn every_served_operation_has_an_iam_action_the_validator_knows() {
    use crate::ops::Operation;
    for op in Operation::ALL {
        if *op == Operation::WriteGetObjectResponse {
            continue;
        }
        for versioned in [false, true] {
            let action = op.iam_action(versioned);
            assert!(is_known_action(action), "{} maps to {action}, which the policy validator does not know", op.name());
        }
    }
    // S3 Object Lambda's action: no bucket policy grants it.
    assert!(!is_known_action(Operation::WriteGetObjectResponse.iam_action(false)));
}

#[test]
fn the_validator_knows_the_actions_it_lists() {
    assert!(is_known_action("s3:GetObject"));
    assert!(is_known_action("S3:getobject"));
    assert!(is_known_action("s3:PutBucketCORS"));
    assert!(!is_known_action("s3:GetObjects"));
    assert!(!is_known_action("GetObject"));
    assert!(!is_known_action("ec2:GetObject"));
}

// ------------------------------------------------------------------------------------------
// The public test

#[test]
fn public_or_not() {
    let with = |principal: &str, condition: &str| {
        policy(&format!(
            r#"{{"Effect": "Allow", {principal}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::photos/*"{}}}"#,
            if condition.is_empty() { String::new() } else { format!(r#", "Condition": {condition}"#) }
        ))
    };
    let cases = [
        (with(r#""Principal": "*""#, ""), true),
        (with(r#""Principal": {"AWS": "*"}"#, ""), true),
        (with(r#""Principal": {"AWS": ["acme", "*"]}"#, ""), true),
        (with(r#""NotPrincipal": {"AWS": "acme"}"#, ""), true),
        (with(r#""Principal": {"AWS": "acme"}"#, ""), false),
        (with(r#""Principal": {"AWS": "arn:aws:iam::acme:user/ann"}"#, ""), false),
        (with(r#""Principal": "*""#, r#"{"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}}"#), false),
        (with(r#""Principal": "*""#, r#"{"IpAddress": {"aws:SourceIp": "0.0.0.0/1"}}"#), true),
        (with(r#""Principal": "*""#, r#"{"NotIpAddress": {"aws:SourceIp": "192.0.2.0/24"}}"#), true),
        (with(r#""Principal": "*""#, r#"{"IpAddressIfExists": {"aws:SourceIp": "192.0.2.0/24"}}"#), true),
        (with(r#""Principal": "*""#, r#"{"StringEquals": {"aws:PrincipalAccount": "acme"}}"#), false),
        (with(r#""Principal": "*""#, r#"{"StringLike": {"aws:PrincipalAccount": "ac*"}}"#), true),
        (with(r#""Principal": "*""#, r#"{"StringEquals": {"aws:SourceVpc": "vpc-1"}}"#), false),
        (with(r#""Principal": "*""#, r#"{"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::acme:user/ann"}}"#), false),
        (with(r#""Principal": "*""#, r#"{"ForAllValues:StringEquals": {"aws:PrincipalAccount": "acme"}}"#), true),
        // Conditions on the request, not its sender, leave it public.
        (with(r#""Principal": "*""#, r#"{"Bool": {"aws:SecureTransport": "true"}}"#), true),
        (with(r#""Principal": "*""#, r#"{"StringLike": {"aws:Referer": "https://example.com/*"}}"#), true),
        // One narrowing condition among others is enough.
        (with(r#""Principal": "*""#, r#"{"Bool": {"aws:SecureTransport": "true"}, "IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}"#), false),
    ];
    for (json, public) in &cases {
        assert_eq!(parse(json).is_public(), *public, "{json}");
    }
    // A Deny to everyone opens nothing.
    let p = parse(&policy(r#"{"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::photos/*"}"#));
    assert!(!p.is_public());
}

#[test]
fn wildcard_matching() {
    let m = |p: &str, t: &str| wild_match(&wildcard_tokens(p), t, false);
    assert!(m("*", ""));
    assert!(m("a*b*c", "aXXbYYc"));
    assert!(m("a*b*c", "abc"));
    assert!(!m("a*b*c", "abcd"));
    assert!(m("a?c", "aéc"));
    assert!(!m("a?c", "ac"));
    assert!(m("*é", "xyzé"));
    assert!(m("a**", "a"));
    assert!(!m("", "a"));
    assert!(wild_match(&wildcard_tokens("ÉTÉ"), "été", true));
    let longer = |p: &str| matches_longer_than(&wildcard_tokens(p), "arn:aws:s3:::photos/");
    assert!(longer("arn:aws:s3:::photos/*"));
    assert!(longer("arn:aws:s3:::photos/a"));
    assert!(longer("arn:aws:s3:::*"));
    assert!(longer("arn:aws:s3:::photo*"));
    assert!(!longer("arn:aws:s3:::photos/"));
    assert!(!longer("arn:aws:s3:::photos"));
    assert!(!longer("arn:aws:s3:::other/*"));
}

/// A policy asks for an object's tags when `s3:ExistingObjectTag/` is a condition key or a
/// variable, in any case and through JSON escapes: the gateway then reads the tags where
/// they are kept, so a miss here would let a Deny on a tag be evaded.
#[test]
fn a_policy_says_whether_it_asks_for_existing_tags() {
    let asks = |json: &str| parse(json).asks_existing_tags();
    assert!(asks(&allow_get_if("K", r#"{"StringEquals": {"s3:ExistingObjectTag/env": "prod"}}"#)));
    assert!(asks(&allow_get_if("K", r#"{"StringEquals": {"S3:EXISTINGOBJECTTAG/env": "prod"}}"#)));
    assert!(asks(&allow_get_if("K", r#"{"StringEquals": {"s3:Existing\u004fbjectTag/env": "prod"}}"#)), "a JSON escape");
    assert!(asks(&allow_get_if("K", r#"{"StringEquals": {"aws:username": "${s3:ExistingObjectTag/owner}"}}"#)), "a variable");
    assert!(!asks(&allow_get_if("K", r#"{"StringEquals": {"s3:RequestObjectTag/env": "prod"}}"#)));
    assert!(!asks(&allow_get_if("K", r#"{"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}"#)));
}

#!/usr/bin/env bash
# Two tenants through aws-cli profiles, as their users would work: each sees only its own
# buckets, the other's bucket is closed (and does not reveal which keys exist), a
# public-read bucket opens reads to everyone and writes to no one else; a bucket policy
# grants the other tenant reads of one prefix and nothing else, and a Deny on
# aws:SourceIp refuses the owner's own writes from outside the address range.
# env: S3_ENDPOINT, AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (root), TOLLGATE_BIN (for
# `tollgate admin`, which creates the tenants).
set -euo pipefail
SUITE=tenants
# shellcheck source=compat/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

command -v aws >/dev/null || { echo "FAIL $SUITE: aws not installed"; exit 1; }
[ -x "${TOLLGATE_BIN:-}" ] || { echo "FAIL $SUITE: TOLLGATE_BIN must name the tollgate binary (for tollgate admin)"; exit 1; }

ROOT_AK=$AWS_ACCESS_KEY_ID
ROOT_SK=$AWS_SECRET_ACCESS_KEY
tgadmin() { AWS_ACCESS_KEY_ID=$ROOT_AK AWS_SECRET_ACCESS_KEY=$ROOT_SK "$TOLLGATE_BIN" admin --endpoint "$S3_ENDPOINT" "$@"; }

RUN=$(date +%s)-$RANDOM
ACME=acme-$RUN
GLOBEX=globex-$RUN
private_aws_config
for t in "$ACME" "$GLOBEX"; do
  tgadmin tenant create "$t" >/dev/null
  tgadmin user create --tenant "$t" --role admin boss >/dev/null
  key=$(tgadmin --json key create --tenant "$t" --user boss)
  profile=${t%%-*}
  aws configure set aws_access_key_id "$(pyj 'd["access_key"]' <<<"$key")" --profile "$profile"
  aws configure set aws_secret_access_key "$(pyj 'd["secret_key"]' <<<"$key")" --profile "$profile"
  aws configure set region us-east-1 --profile "$profile"
  aws configure set s3.addressing_style path --profile "$profile"
done
# The profiles alone must carry the identity.
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
acme() { aws --profile acme --endpoint-url "$S3_ENDPOINT" "$@"; }
globex() { aws --profile globex --endpoint-url "$S3_ENDPOINT" "$@"; }
anon() { aws --no-sign-request --endpoint-url "$S3_ENDPOINT" "$@"; }
# expect_denied CMD...: the command fails with AccessDenied / 403.
expect_denied() {
  local out
  if out=$("$@" 2>&1); then fail "allowed: $*"; fi
  case "$out" in *AccessDenied* | *403* | *Forbidden*) ;; *) fail "not an access denial: $out" ;; esac
}

B=$(unique_bucket acme)
cleanup() {
  acme s3 rb --force "s3://$B" >/dev/null 2>&1 || true
  for t in "$ACME" "$GLOBEX"; do
    tgadmin user delete --tenant "$t" boss >/dev/null 2>&1 || true
    tgadmin tenant delete "$t" >/dev/null 2>&1 || true
  done
  cleanup_work
}
trap cleanup EXIT

echo "$SUITE: tenants $ACME and $GLOBEX against $S3_ENDPOINT, bucket $B"
printf 'acme only\n' >"$WORK/secret.txt"

t_own_bucket() {
  acme s3 mb "s3://$B"
  acme s3 cp "$WORK/secret.txt" "s3://$B/plans/secret.txt"
  assert_contains "$(acme s3 ls "s3://$B/plans/")" "secret.txt"
  assert_contains "$(acme s3 ls)" "$B"
}
t_foreign_bucket_closed() {
  case "$(globex s3 ls)" in *"$B"*) fail "globex's bucket listing shows acme's bucket" ;; esac
  expect_denied globex s3 ls "s3://$B"
  expect_denied globex s3 cp "s3://$B/plans/secret.txt" "$WORK/stolen.txt"
  expect_denied globex s3 cp "$WORK/secret.txt" "s3://$B/planted.txt"
  expect_denied globex s3 rm "s3://$B/plans/secret.txt"
  expect_denied globex s3api list-multipart-uploads --bucket "$B"
  # an existing and a missing key answer the same
  expect_denied globex s3api head-object --bucket "$B" --key plans/secret.txt
  expect_denied globex s3api head-object --bucket "$B" --key plans/no-such-key
  # copying out of the foreign bucket into globex's own is refused too
  G=$(unique_bucket globex)
  globex s3 mb "s3://$G"
  expect_denied globex s3 cp "s3://$B/plans/secret.txt" "s3://$G/copied.txt"
  globex s3 rb "s3://$G"
  assert_eq "acme only" "$(acme s3 cp "s3://$B/plans/secret.txt" -)" "acme's object after globex's attempts"
}
t_name_taken() {
  local out
  if out=$(globex s3 mb "s3://$B" 2>&1); then fail "globex created acme's bucket name"; fi
  assert_contains "$out" "BucketAlreadyExists"
}
t_public_read() {
  tgadmin bucket set "$B" --visibility public-read >/dev/null
  assert_eq "acme only" "$(anon s3 cp "s3://$B/plans/secret.txt" -)" "anonymous read of a public bucket"
  assert_eq "acme only" "$(globex s3 cp "s3://$B/plans/secret.txt" -)" "other tenant's read of a public bucket"
  assert_contains "$(anon s3 ls "s3://$B/plans/")" "secret.txt"
  expect_denied anon s3 cp "$WORK/secret.txt" "s3://$B/anon.txt"
  expect_denied globex s3 cp "$WORK/secret.txt" "s3://$B/planted.txt"
  tgadmin bucket set "$B" --visibility private >/dev/null
  expect_denied anon s3 cp "s3://$B/plans/secret.txt" -
}

t_policy_cross_tenant_grant() {
  acme s3 cp "$WORK/secret.txt" "s3://$B/shared/report.txt"
  expect_denied globex s3 cp "s3://$B/shared/report.txt" -
  cat >"$WORK/policy.json" <<EOF
{"Version": "2012-10-17", "Statement": [{"Sid": "GlobexReadsShared", "Effect": "Allow",
  "Principal": {"AWS": "arn:aws:iam::$GLOBEX:root"}, "Action": "s3:GetObject",
  "Resource": "arn:aws:s3:::$B/shared/*"}]}
EOF
  acme s3api put-bucket-policy --bucket "$B" --policy "file://$WORK/policy.json"
  assert_contains "$(acme s3api get-bucket-policy --bucket "$B")" "GlobexReadsShared"
  assert_eq "acme only" "$(globex s3 cp "s3://$B/shared/report.txt" -)" "globex's read granted by the policy"
  expect_denied globex s3 cp "s3://$B/plans/secret.txt" -
  expect_denied globex s3 ls "s3://$B/shared/"
  expect_denied globex s3 cp "$WORK/secret.txt" "s3://$B/shared/planted.txt"
  expect_denied anon s3 cp "s3://$B/shared/report.txt" -
  acme s3api delete-bucket-policy --bucket "$B"
  expect_denied globex s3 cp "s3://$B/shared/report.txt" -
}
t_policy_source_ip_deny() {
  cat >"$WORK/deny.json" <<EOF
{"Version": "2012-10-17", "Statement": [{"Sid": "OfficeOnly", "Effect": "Deny", "Principal": "*",
  "Action": "s3:PutObject", "Resource": "arn:aws:s3:::$B/*",
  "Condition": {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}]}
EOF
  acme s3api put-bucket-policy --bucket "$B" --policy "file://$WORK/deny.json"
  expect_denied acme s3 cp "$WORK/secret.txt" "s3://$B/from-loopback.txt"
  assert_eq "acme only" "$(acme s3 cp "s3://$B/plans/secret.txt" -)" "reads are not denied"
  acme s3api delete-bucket-policy --bucket "$B"
  acme s3 cp "$WORK/secret.txt" "s3://$B/from-loopback.txt"
}

check "each tenant's own bucket works through its profile" t_own_bucket
check "the other tenant can neither list, read, write, delete nor probe keys" t_foreign_bucket_closed
check "a bucket name another tenant owns is BucketAlreadyExists" t_name_taken
check "public-read opens reads to everyone, writes to no one else" t_public_read
check "a bucket policy grants the other tenant reads of one prefix, nothing else" t_policy_cross_tenant_grant
check "a Deny on aws:SourceIp refuses writes from outside the range" t_policy_source_ip_deny
finish

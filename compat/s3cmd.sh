#!/usr/bin/env bash
# s3cmd compatibility suite: drives a live S3 endpoint exactly as a user would.
# env: S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (region us-east-1, path-style)
set -euo pipefail
SUITE=s3cmd
# shellcheck source=compat/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

command -v s3cmd >/dev/null || { echo "FAIL $SUITE: s3cmd not installed"; exit 1; }

case "$S3_ENDPOINT" in https://*) USE_HTTPS=True ;; *) USE_HTTPS=False ;; esac
# an https:// endpoint with a private CA (lib.sh): its certificate checked against it
if [ -n "${COMPAT_CA_BUNDLE:-}" ]; then CHECK_SSL="True
ca_certs_file = $COMPAT_CA_BUNDLE"; else CHECK_SSL=False; fi
CFG="$WORK/s3cfg"
# host_bucket without %(bucket)s means path-style requests.
cat >"$CFG" <<CFG
[default]
access_key = $AWS_ACCESS_KEY_ID
secret_key = $AWS_SECRET_ACCESS_KEY
host_base = $ENDPOINT_HOSTPORT
host_bucket = $ENDPOINT_HOSTPORT
use_https = $USE_HTTPS
check_ssl_certificate = $CHECK_SSL
signature_v2 = False
bucket_location = us-east-1
multipart_chunk_size_mb = 5
max_retries = 2
progress_meter = False
CFG
s3c() { s3cmd -c "$CFG" "$@"; }

B=$(unique_bucket s3cmd)
cleanup() {
  s3c del --recursive --force "s3://$B" >/dev/null 2>&1 || true
  s3c rb "s3://$B" >/dev/null 2>&1 || true
  cleanup_work
}
trap cleanup EXIT

echo "$SUITE: $(s3cmd --version) against $S3_ENDPOINT, bucket $B"

printf 'hello from s3cmd\n' >"$WORK/small.txt"
python3 -c "import os,sys; sys.stdout.buffer.write(os.urandom(12*1024*1024))" >"$WORK/big.bin"
python3 "$COMPAT_DIR/gen_tree.py" "$WORK/tree" --count 40 --seed 3
mkdir -p "$WORK/down"

t_mb() {
  s3c mb "s3://$B"
  assert_contains "$(s3c ls)" "s3://$B" "s3cmd ls (buckets)"
}
t_put() {
  s3c put "$WORK/small.txt" "s3://$B/small.txt"
  s3c put "$WORK/small.txt" "s3://$B/dir é/small +=.txt"
}
t_put_multipart() {
  out=$(s3c --progress put "$WORK/big.bin" "s3://$B/big.bin" 2>&1)
  echo "$out"
  assert_contains "$out" "part 3 of 3" "s3cmd multipart progress"
}
t_ls() {
  out=$(s3c ls "s3://$B")
  assert_contains "$out" "s3://$B/small.txt"
  assert_contains "$out" "s3://$B/big.bin"
  assert_contains "$out" "DIR  s3://$B/dir é/"
  out=$(s3c ls --recursive "s3://$B")
  assert_contains "$out" "s3://$B/dir é/small +=.txt"
  out=$(s3c la)
  assert_contains "$out" "s3://$B/small.txt" "s3cmd la"
}
t_get() {
  s3c get "s3://$B/small.txt" "$WORK/down/small.txt"
  assert_same_file "$WORK/small.txt" "$WORK/down/small.txt"
  s3c get "s3://$B/dir é/small +=.txt" "$WORK/down/special.txt"
  assert_same_file "$WORK/small.txt" "$WORK/down/special.txt"
  s3c get "s3://$B/big.bin" "$WORK/down/big.bin"
  assert_same_file "$WORK/big.bin" "$WORK/down/big.bin"
}
t_info() {
  out=$(s3c info "s3://$B/small.txt")
  echo "$out"
  assert_contains "$out" "$(md5sum "$WORK/small.txt" | cut -d' ' -f1)" "MD5 in s3cmd info"
  assert_contains "$out" "ACL:" "s3cmd info (object)"
  out=$(s3c info "s3://$B")
  echo "$out"
  assert_contains "$out" "ACL:" "s3cmd info (bucket)"
}
t_sync_up() {
  s3c sync "$WORK/tree/" "s3://$B/tree/"
  n=$(s3c ls --recursive "s3://$B/tree/" | wc -l)
  assert_eq 40 "$n" "objects under tree/"
}
t_sync_down() {
  s3c sync "s3://$B/tree/" "$WORK/tree-down/"
  diff -r "$WORK/tree" "$WORK/tree-down"
}
t_sync_noop() {
  out=$(s3c sync "$WORK/tree/" "s3://$B/tree/" 2>&1)
  echo "$out"
  if grep -E "^upload:" <<<"$out"; then fail "second sync uploaded something"; fi
}
t_del() {
  s3c del "s3://$B/small.txt"
  out=$(s3c ls "s3://$B")
  if grep -qF "s3://$B/small.txt" <<<"$out"; then fail "small.txt still listed"; fi
  s3c del --recursive --force "s3://$B"
  assert_eq "" "$(s3c ls --recursive "s3://$B")" "bucket listing after del --recursive"
}
t_rb() {
  s3c rb "s3://$B"
  if s3c ls | grep -qF "s3://$B"; then fail "bucket still listed after rb"; fi
}

check "s3cmd mb" t_mb
check "s3cmd put" t_put
check "s3cmd put 12 MiB (multipart)" t_put_multipart
check "s3cmd ls / ls --recursive / la" t_ls
check "s3cmd get, files equal" t_get
check "s3cmd info (object and bucket ACL)" t_info
check "s3cmd sync up a small tree" t_sync_up
check "s3cmd sync down, diff -r empty" t_sync_down
check "s3cmd sync again uploads nothing" t_sync_noop
check "s3cmd del, del --recursive" t_del
check "s3cmd rb" t_rb

finish

#!/usr/bin/env bash
# HTTPS with the tollgate binary, as the README's "HTTPS" section sets it up: a gateway
# with [tls] (the test CA's certificate for 127.0.0.1 in tests/fixtures/tls) and a plain
# health listener; aws-cli with --ca-bundle, boto3 with verify=, `tollgate admin
# --ca-bundle`, curl over HTTP/2; clients not given the CA refused; the certificate files
# replaced and SIGHUP sent: new connections get the new certificate; SIGTERM exits 0.
#
#   TOLLGATE_BIN=target/debug/tollgate compat/tls.sh
#
# The last line is "tls: N passed, M failed"; exit 1 if anything failed.
set -euo pipefail
# shellcheck source=compat/net.sh
. "$(dirname "${BASH_SOURCE[0]}")/net.sh"
PORT=$(free_port)
HEALTH_PORT=$(free_port)
export S3_ENDPOINT=https://127.0.0.1:$PORT
export AWS_ACCESS_KEY_ID=TGTLSROOTKEY00000001
export AWS_SECRET_ACCESS_KEY=tls-root-secret-0123456789abcdefghij

SUITE=tls
# shellcheck source=compat/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
command -v aws >/dev/null || { echo "FAIL $SUITE: aws not installed"; exit 1; }
private_aws_config
FIXTURES=$(cd "$COMPAT_DIR/../tests/fixtures/tls" && pwd)
CA=$FIXTURES/ca.pem
cp "$FIXTURES/server1.pem" "$WORK/cert.pem"
cp "$FIXTURES/server1.key" "$WORK/key.pem"
cat >"$WORK/tollgate.toml" <<EOF
listen = "127.0.0.1:$PORT"
data_dir = "$WORK/data"

[tls]
cert = "$WORK/cert.pem"
key = "$WORK/key.pem"
# SIGHUP only: the reload below is the signal's doing.
reload_check_secs = 0
plain_health_listen = "127.0.0.1:$HEALTH_PORT"
EOF

# The plain health listener tells when it serves (curl there needs no CA).
GATEWAY_CONFIG=$WORK/tollgate.toml
GATEWAY_READY_URL=http://127.0.0.1:$HEALTH_PORT/ready
# shellcheck source=compat/gateway.sh
. "$COMPAT_DIR/gateway.sh"
cleanup() {
  local pid
  pid=$(gateway_pid || true)
  [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
  cleanup_work
}
trap cleanup EXIT
start_gateway || { echo "FAIL $SUITE: the gateway did not start"; exit 1; }

s3() { aws --endpoint-url "$S3_ENDPOINT" --ca-bundle "$CA" s3 "$@"; }
tollgate() { "$TOLLGATE_BIN" "$@"; }
# served_cn: the common name of the certificate a new connection is given
served_cn() {
  curl -sS -v --cacert "$CA" -o /dev/null "$S3_ENDPOINT/health" 2>&1 | sed -n 's/^\*  *subject: .*CN *= *\(.*\)$/\1/p' | head -n 1
}

t_awscli() {
  local b
  b=$(unique_bucket tls)
  s3 mb "s3://$b"
  head -c 3000000 /dev/urandom >"$WORK/up.bin"
  s3 cp "$WORK/up.bin" "s3://$b/up.bin"
  s3 cp "s3://$b/up.bin" "$WORK/down.bin"
  assert_same_file "$WORK/up.bin" "$WORK/down.bin"
  assert_contains "$(s3 ls "s3://$b/")" "up.bin"
}

t_untrusted_refused() {
  local out
  if out=$(aws --endpoint-url "$S3_ENDPOINT" s3 ls 2>&1); then fail "aws without the CA was served: $out"; fi
  assert_contains "$out" "SSL validation failed"
  if curl -sS -o /dev/null "$S3_ENDPOINT/health" 2>/dev/null; then fail "curl without the CA was served"; fi
}

t_boto3() {
  CA=$CA python3 - <<'PY'
import os, boto3
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url=os.environ["S3_ENDPOINT"], verify=os.environ["CA"],
                  config=Config(s3={"addressing_style": "path"}))
b = "tgc-tls-boto3-%d" % os.getpid()
s3.create_bucket(Bucket=b)
s3.put_object(Bucket=b, Key="k", Body=b"over tls")
assert s3.get_object(Bucket=b, Key="k")["Body"].read() == b"over tls"
PY
}

t_admin() {
  tollgate admin --endpoint "$S3_ENDPOINT" --ca-bundle "$CA" tenant create tls-corp
  assert_contains "$(tollgate admin --endpoint "$S3_ENDPOINT" --ca-bundle "$CA" --json tenant list)" "tls-corp"
  if tollgate admin --endpoint "$S3_ENDPOINT" tenant list >/dev/null 2>&1; then fail "the admin client trusted the test CA without --ca-bundle"; fi
}

t_http2() {
  assert_eq 2 "$(curl -sS --http2 --cacert "$CA" -o /dev/null -w '%{http_version}' "$S3_ENDPOINT/health")" "HTTP version by ALPN"
  assert_eq 1.1 "$(curl -sS --http1.1 --cacert "$CA" -o /dev/null -w '%{http_version}' "$S3_ENDPOINT/health")" "HTTP/1.1 when asked"
  # An error answered to HEAD carries no body over HTTP/2 either (DATA there is a protocol
  # error: curl fails with exit 92, rclone resets the stream).
  assert_eq "2 404" "$(curl -sS --http2 --cacert "$CA" -I -o /dev/null -w '%{http_version} %{http_code}' "$S3_ENDPOINT/no-such-bucket/no-such-key")" "HEAD of a missing key over HTTP/2"
}

t_health_listener() {
  assert_eq 200 "$(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HEALTH_PORT/health")"
  assert_contains "$(curl -sS "http://127.0.0.1:$HEALTH_PORT/metrics")" "tollgate_"
  assert_eq 404 "$(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HEALTH_PORT/")" "S3 on the health listener"
}

t_sighup_reload() {
  assert_eq "tollgate test server 1" "$(served_cn)"
  cp "$FIXTURES/server2.pem" "$WORK/cert.pem"
  cp "$FIXTURES/server2.key" "$WORK/key.pem"
  assert_eq "tollgate test server 1" "$(served_cn)" "before the signal (no file watching here)"
  kill -HUP "$(gateway_pid)"
  for _ in $(seq 50); do [ "$(served_cn)" = "tollgate test server 2" ] && break; sleep 0.1; done
  assert_eq "tollgate test server 2" "$(served_cn)" "after SIGHUP"
  s3 ls >/dev/null
}

t_sigterm() { stop_gateway; }

check "aws-cli with --ca-bundle: mb, cp up and down (multipart), ls" t_awscli
check "clients without the CA are refused (aws, curl)" t_untrusted_refused
check "boto3 with verify= the CA" t_boto3
check "tollgate admin --ca-bundle" t_admin
check "HTTP/2 and HTTP/1.1 by ALPN, HEAD errors without a body (curl)" t_http2
check "the plain health listener serves /health, /ready, /metrics only" t_health_listener
check "certificate files replaced, SIGHUP: new connections get the new one" t_sighup_reload
check "SIGTERM: exit 0" t_sigterm
finish

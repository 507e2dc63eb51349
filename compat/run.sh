#!/usr/bin/env bash
# Run the real-client compatibility suites against a freshly started tollgate.
#
#   compat/run.sh                  build target/debug/tollgate, run every suite
#   compat/run.sh boto3 rclone     run only the named suites (awscli boto3 rclone s3cmd tenants metrics
#                                  topics readme retry browser console hostile; tenants, topics, readme and hostile need
#                                  TOLLGATE_BIN, for `tollgate admin`; readme runs README.md's shell
#                                  examples; retry runs boto3 through a proxy that loses the first
#                                  CompleteMultipartUpload response; browser drives headless Chromium
#                                  on a page of another origin (CORS, presigned PUT and POST, fetch;
#                                  screenshots in $TOLLGATE_ARTIFACTS); console drives the web console
#                                  in headless Chromium and Firefox as a writer and a reader; hostile sends raw, hand-signed
#                                  attacks and runs last, as its failure flood may trip the
#                                  per-address limit)
#   TOLLGATE_BIN=path compat/run.sh    use that binary, build nothing
#   COMPAT_EXTERNAL=1 S3_ENDPOINT=... AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... compat/run.sh
#                                  run against an already running S3 server (start nothing)
#   COMPAT_EXTERNAL_UPSTREAM=tollgate|moto   with COMPAT_EXTERNAL=1: what that server stores on, told
#                                  to the suites as COMPAT_UPSTREAM is (compat/cluster.sh's gateways)
#   COMPAT_KEEP=1                  keep the server's data dir and log
#   COMPAT_UPSTREAM=tollgate       run the tollgate under test as a gateway in front of a second
#                                  tollgate (local disk, own port and root keys), with every gateway
#                                  bucket mapped into one upstream bucket (TOLLGATE_UPSTREAM_BUCKET)
#   COMPAT_UPSTREAM=moto           the same in front of moto_server (python moto[server]), gateway
#                                  bucket B stored as upstream bucket gw-B (TOLLGATE_UPSTREAM_BUCKET_PREFIX)
#                                  (unset: the tollgate under test stores on local disk, as always)
#
# The last line is "compat: N passed, M failed" (N, M count suites); exit 1 if any failed.
set -euo pipefail

COMPAT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$COMPAT_DIR/.." && pwd)
ALL_SUITES=(awscli boto3 rclone s3cmd tenants topics metrics readme retry browser console hostile)
SUITE_TIMEOUT=${COMPAT_SUITE_TIMEOUT:-600}

suite_cmd() {
  case "$1" in
    awscli) echo "bash $COMPAT_DIR/awscli.sh" ;;
    boto3) echo "python3 $COMPAT_DIR/boto3_suite.py" ;;
    rclone) echo "bash $COMPAT_DIR/rclone.sh" ;;
    s3cmd) echo "bash $COMPAT_DIR/s3cmd.sh" ;;
    tenants) echo "bash $COMPAT_DIR/tenants.sh" ;;
    topics) echo "python3 $COMPAT_DIR/boto3_topics.py" ;;
    metrics) echo "python3 $COMPAT_DIR/metrics.py" ;;
    readme) echo "bash $COMPAT_DIR/readme.sh" ;;
    retry) echo "python3 $COMPAT_DIR/retry.py" ;;
    browser) echo "bash $COMPAT_DIR/browser.sh" ;;
    console) echo "bash $COMPAT_DIR/console.sh" ;;
    hostile) echo "python3 $COMPAT_DIR/hostile.py" ;;
    *) return 1 ;;
  esac
}

if [ $# -gt 0 ]; then SUITES=("$@"); else SUITES=("${ALL_SUITES[@]}"); fi
for s in "${SUITES[@]}"; do
  suite_cmd "$s" >/dev/null || { echo "compat: unknown suite '$s' (known: ${ALL_SUITES[*]})" >&2; exit 2; }
done

UPSTREAM_MODE=${COMPAT_UPSTREAM:-}
case "$UPSTREAM_MODE" in
  "" | tollgate | moto) ;;
  *) echo "compat: COMPAT_UPSTREAM must be tollgate or moto, not '$UPSTREAM_MODE'" >&2; exit 2 ;;
esac
if [ -n "$UPSTREAM_MODE" ] && [ "${COMPAT_EXTERNAL:-0}" = 1 ]; then
  echo "compat: COMPAT_UPSTREAM and COMPAT_EXTERNAL=1 exclude each other (an external server is run by someone else)" >&2
  exit 2
fi

# pip may have put aws in a scripts dir that is not on PATH
for d in "$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')" "$HOME/.local/bin"; do
  case ":$PATH:" in *":$d:"*) ;; *) [ -d "$d" ] && PATH="$PATH:$d" ;; esac
done
export PATH

SERVER_PID=""
UPSTREAM_PID=""
RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/tollgate-compat.XXXXXX")
SERVER_LOG="$RUN_DIR/server.log"
UPSTREAM_LOG="$RUN_DIR/upstream.log"

server_alive() { pid_alive "$SERVER_PID"; }
upstream_alive() { pid_alive "$UPSTREAM_PID"; }
# the gateway under test and, in upstream mode, the upstream it forwards to
servers_alive() { server_alive && { [ -z "$UPSTREAM_MODE" ] || upstream_alive; }; }
show_log() { # file title
  [ -s "$1" ] || return 0
  echo "---- last lines of the $2 log ($1) ----"
  tail -n 40 "$1"
  echo "----"
}
show_server_log() {
  show_log "$SERVER_LOG" server
  [ -z "$UPSTREAM_MODE" ] || show_log "$UPSTREAM_LOG" "upstream ($UPSTREAM_MODE)"
}
stop_server() {
  stop_pid "$SERVER_PID"
  SERVER_PID=""
  stop_pid "$UPSTREAM_PID"
  UPSTREAM_PID=""
}
cleanup() {
  stop_server
  [ "${COMPAT_KEEP:-0}" = 1 ] || rm -rf "$RUN_DIR"
}
# shellcheck source=compat/net.sh
. "$COMPAT_DIR/net.sh"
give_up() { # message: no suite can run
  echo "compat: $1"
  show_server_log
  echo "compat: 0 passed, ${#SUITES[@]} failed"
  exit 1
}
# server_up URL PID WHAT: GET URL answers 200 within 30 s, while PID lives; else no suite runs
server_up() {
  wait_ready "$1" "$2" && return 0
  pid_alive "$2" || give_up "the $3 exited before it was healthy"
  give_up "GET $1 did not answer 200 within 30 s"
}
# Env for the gateway under test in upstream mode: nothing inherited may pick another mapping.
UPSTREAM_VARS=(TOLLGATE_UPSTREAM TOLLGATE_UPSTREAM_ACCESS_KEY TOLLGATE_UPSTREAM_SECRET_KEY
  TOLLGATE_UPSTREAM_BUCKET TOLLGATE_UPSTREAM_BUCKET_PREFIX TOLLGATE_UPSTREAM_META_BUCKET)
UNSET_UPSTREAM_VARS=()
for v in "${UPSTREAM_VARS[@]}"; do UNSET_UPSTREAM_VARS+=(-u "$v"); done
GATEWAY_ENV=()
[ "${COMPAT_KEEP:-0}" != 1 ] || echo "compat: keeping the server's data dir and log in $RUN_DIR"
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "${COMPAT_EXTERNAL:-0}" = 1 ]; then
  : "${S3_ENDPOINT:?COMPAT_EXTERNAL=1 needs S3_ENDPOINT}"
  : "${AWS_ACCESS_KEY_ID:?COMPAT_EXTERNAL=1 needs AWS_ACCESS_KEY_ID}"
  : "${AWS_SECRET_ACCESS_KEY:?COMPAT_EXTERNAL=1 needs AWS_SECRET_ACCESS_KEY}"
  echo "compat: using the server at $S3_ENDPOINT"
else
  if [ -z "${TOLLGATE_BIN:-}" ]; then
    echo "compat: cargo build --bin tollgate"
    (cd "$ROOT" && cargo build --bin tollgate)
    TOLLGATE_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/tollgate"
  fi
  case "$TOLLGATE_BIN" in /*) ;; *) TOLLGATE_BIN="$PWD/$TOLLGATE_BIN" ;; esac
  [ -x "$TOLLGATE_BIN" ] || { echo "compat: $TOLLGATE_BIN is not an executable"; echo "compat: 0 passed, ${#SUITES[@]} failed"; exit 1; }

  case "$UPSTREAM_MODE" in
    "")
      echo "compat: mode: tollgate on local disk"
      ;;
    tollgate)
      UPSTREAM_PORT=$(free_port)
      UPSTREAM_URL="http://127.0.0.1:$UPSTREAM_PORT"
      UPSTREAM_AK=TGCOMPATUPSTREAMK001
      UPSTREAM_SK=tgcompat-upstream-secret-0123456789abcdef
      UPSTREAM_BUCKET=tgc-upstream
      mkdir -p "$RUN_DIR/upstream-data"
      echo "compat: mode: gateway in front of an upstream tollgate at $UPSTREAM_URL, every bucket inside upstream bucket $UPSTREAM_BUCKET (TOLLGATE_UPSTREAM_BUCKET)"
      echo "compat: starting the upstream: $TOLLGATE_BIN serve --listen 127.0.0.1:$UPSTREAM_PORT"
      env "${UNSET_UPSTREAM_VARS[@]}" TOLLGATE_ROOT_ACCESS_KEY=$UPSTREAM_AK TOLLGATE_ROOT_SECRET_KEY=$UPSTREAM_SK \
        "$TOLLGATE_BIN" serve --listen "127.0.0.1:$UPSTREAM_PORT" --data-dir "$RUN_DIR/upstream-data" \
        >"$UPSTREAM_LOG" 2>&1 </dev/null &
      UPSTREAM_PID=$!
      server_up "$UPSTREAM_URL/health" "$UPSTREAM_PID" "upstream tollgate"
      echo "compat: upstream tollgate healthy at $UPSTREAM_URL (pid $UPSTREAM_PID); creating bucket $UPSTREAM_BUCKET in it"
      python3 - "$UPSTREAM_URL" "$UPSTREAM_AK" "$UPSTREAM_SK" "$UPSTREAM_BUCKET" <<'PY' || give_up "could not create bucket $UPSTREAM_BUCKET in the upstream"
import sys
import boto3
from botocore.config import Config
url, ak, sk, bucket = sys.argv[1:]
boto3.client("s3", endpoint_url=url, aws_access_key_id=ak, aws_secret_access_key=sk, region_name="us-east-1",
             config=Config(s3={"addressing_style": "path"})).create_bucket(Bucket=bucket)
PY
      UPSTREAM_MAPPING="TOLLGATE_UPSTREAM_BUCKET=$UPSTREAM_BUCKET"
      GATEWAY_ENV=("TOLLGATE_UPSTREAM_ACCESS_KEY=$UPSTREAM_AK" "TOLLGATE_UPSTREAM_SECRET_KEY=$UPSTREAM_SK" "$UPSTREAM_MAPPING")
      ;;
    moto)
      python3 -c 'import moto.server, flask, flask_cors' 2>/dev/null ||
        give_up "COMPAT_UPSTREAM=moto needs moto_server: pip install 'moto[server]' (.ci/install-tools.sh does)"
      UPSTREAM_PORT=$(free_port)
      UPSTREAM_URL="http://127.0.0.1:$UPSTREAM_PORT"
      echo "compat: mode: gateway in front of moto_server at $UPSTREAM_URL, bucket B stored as gw-B (TOLLGATE_UPSTREAM_BUCKET_PREFIX)"
      echo "compat: starting the upstream: python3 -m moto.server -H 127.0.0.1 -p $UPSTREAM_PORT ($(python3 -c 'import moto; print("moto", moto.__version__)' 2>/dev/null))"
      python3 -m moto.server -H 127.0.0.1 -p "$UPSTREAM_PORT" >"$UPSTREAM_LOG" 2>&1 </dev/null &
      UPSTREAM_PID=$!
      # moto has no /health: an anonymous ListBuckets answers 200 once it serves S3
      server_up "$UPSTREAM_URL/" "$UPSTREAM_PID" "upstream moto_server"
      echo "compat: upstream moto_server up at $UPSTREAM_URL (pid $UPSTREAM_PID)"
      # moto checks no signature: any keys do
      UPSTREAM_MAPPING="TOLLGATE_UPSTREAM_BUCKET_PREFIX=gw-"
      GATEWAY_ENV=(TOLLGATE_UPSTREAM_ACCESS_KEY=tgcompat-moto TOLLGATE_UPSTREAM_SECRET_KEY=tgcompat-moto-secret "$UPSTREAM_MAPPING")
      ;;
  esac

  PORT=$(free_port)
  DATA_DIR="$RUN_DIR/data"
  mkdir -p "$DATA_DIR"
  export TOLLGATE_ROOT_ACCESS_KEY=TGCOMPATROOTKEY00001
  export TOLLGATE_ROOT_SECRET_KEY=tgcompat-root-secret-0123456789abcdefghij
  export AWS_ACCESS_KEY_ID=$TOLLGATE_ROOT_ACCESS_KEY
  export AWS_SECRET_ACCESS_KEY=$TOLLGATE_ROOT_SECRET_KEY
  export S3_ENDPOINT="http://127.0.0.1:$PORT"
  # The suites send SSE-C keys over plain HTTP from 127.0.0.1; S3 (and tollgate by default)
  # refuses customer keys without TLS, so the gateway under test allows them from loopback.
  GATEWAY_CONFIG="$RUN_DIR/tollgate.toml"
  cat >"$GATEWAY_CONFIG" <<'TOML'
[encryption]
sse_c_plain_http_on_loopback = true
TOML

  if [ -z "$UPSTREAM_MODE" ]; then
    echo "compat: starting $TOLLGATE_BIN serve --config $GATEWAY_CONFIG --listen 127.0.0.1:$PORT"
    "$TOLLGATE_BIN" serve --config "$GATEWAY_CONFIG" --listen "127.0.0.1:$PORT" --data-dir "$DATA_DIR" >"$SERVER_LOG" 2>&1 </dev/null &
  else
    echo "compat: starting $TOLLGATE_BIN serve --config $GATEWAY_CONFIG --listen 127.0.0.1:$PORT --upstream $UPSTREAM_URL ($UPSTREAM_MAPPING)"
    env "${UNSET_UPSTREAM_VARS[@]}" "${GATEWAY_ENV[@]}" \
      "$TOLLGATE_BIN" serve --config "$GATEWAY_CONFIG" --listen "127.0.0.1:$PORT" --data-dir "$DATA_DIR" --upstream "$UPSTREAM_URL" \
      >"$SERVER_LOG" 2>&1 </dev/null &
  fi
  SERVER_PID=$!
  server_up "$S3_ENDPOINT/health" "$SERVER_PID" server
  echo "compat: server healthy at $S3_ENDPOINT (pid $SERVER_PID)"
fi
export S3_ENDPOINT AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY TOLLGATE_BIN
# the suites read the mode from it (what the upstream backend does not do yet, moto's differences)
export COMPAT_UPSTREAM=$UPSTREAM_MODE
if [ "${COMPAT_EXTERNAL:-0}" = 1 ]; then
  case "${COMPAT_EXTERNAL_UPSTREAM:-}" in
    "" | tollgate | moto) COMPAT_UPSTREAM=${COMPAT_EXTERNAL_UPSTREAM:-} ;;
    *) echo "compat: COMPAT_EXTERNAL_UPSTREAM must be tollgate or moto, not '$COMPAT_EXTERNAL_UPSTREAM'" >&2; exit 2 ;;
  esac
fi
export AWS_DEFAULT_REGION=us-east-1

passed=0
failed=0
failed_names=()
for s in "${SUITES[@]}"; do
  echo
  echo "===== compat suite: $s ====="
  start=$SECONDS
  set +e
  # shellcheck disable=SC2046
  timeout --kill-after=10 "$SUITE_TIMEOUT" $(suite_cmd "$s") </dev/null
  rc=$?
  set -e
  took=$((SECONDS - start))
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
    echo "compat: suite $s timed out after ${SUITE_TIMEOUT}s"
  fi
  if [ "${COMPAT_EXTERNAL:-0}" != 1 ] && ! server_alive; then
    echo "compat: the server died during suite $s"
    show_server_log
    rc=1
  elif [ -n "$UPSTREAM_MODE" ] && ! upstream_alive; then
    echo "compat: the upstream ($UPSTREAM_MODE) died during suite $s"
    show_server_log
    rc=1
  fi
  if [ $rc -eq 0 ]; then
    passed=$((passed + 1))
    echo "===== $s: PASS (${took}s) ====="
  else
    failed=$((failed + 1))
    failed_names+=("$s")
    echo "===== $s: FAIL (exit $rc, ${took}s) ====="
  fi
  # the suites after this one cannot run without a server (or its upstream)
  if [ "${COMPAT_EXTERNAL:-0}" != 1 ] && ! servers_alive; then break; fi
done
ran=$((passed + failed))
if [ "$ran" -lt "${#SUITES[@]}" ]; then
  skipped=$((${#SUITES[@]} - ran))
  echo "compat: $skipped suite(s) not run because the server${UPSTREAM_MODE:+ or its upstream} died"
  failed=$((failed + skipped))
fi

echo
[ $failed -eq 0 ] || echo "compat: failed suites: ${failed_names[*]}"
if [ "${COMPAT_EXTERNAL:-0}" != 1 ] && [ $failed -gt 0 ]; then show_server_log; fi
echo "compat: $passed passed, $failed failed"
[ $failed -eq 0 ]

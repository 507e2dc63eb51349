#!/usr/bin/env bash
# Run the real-client compatibility suites against a freshly started tollgate.
#
#   compat/run.sh                  build target/debug/tollgate, run every suite
#   compat/run.sh boto3 rclone     run only the named suites (awscli boto3 rclone s3cmd tenants
#                                  topics; tenants and topics need TOLLGATE_BIN, for `tollgate admin`)
#   TOLLGATE_BIN=path compat/run.sh    use that binary, build nothing
#   COMPAT_EXTERNAL=1 S3_ENDPOINT=... AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... compat/run.sh
#                                  run against an already running S3 server (start nothing)
#   COMPAT_KEEP=1                  keep the server's data dir and log
#
# The last line is "compat: N passed, M failed" (N, M count suites); exit 1 if any failed.
set -euo pipefail

COMPAT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$COMPAT_DIR/.." && pwd)
ALL_SUITES=(awscli boto3 rclone s3cmd tenants topics)
SUITE_TIMEOUT=${COMPAT_SUITE_TIMEOUT:-300}

suite_cmd() {
  case "$1" in
    awscli) echo "bash $COMPAT_DIR/awscli.sh" ;;
    boto3) echo "python3 $COMPAT_DIR/boto3_suite.py" ;;
    rclone) echo "bash $COMPAT_DIR/rclone.sh" ;;
    s3cmd) echo "bash $COMPAT_DIR/s3cmd.sh" ;;
    tenants) echo "bash $COMPAT_DIR/tenants.sh" ;;
    topics) echo "python3 $COMPAT_DIR/boto3_topics.py" ;;
    *) return 1 ;;
  esac
}

if [ $# -gt 0 ]; then SUITES=("$@"); else SUITES=("${ALL_SUITES[@]}"); fi
for s in "${SUITES[@]}"; do
  suite_cmd "$s" >/dev/null || { echo "compat: unknown suite '$s' (known: ${ALL_SUITES[*]})" >&2; exit 2; }
done

# pip may have put aws in a scripts dir that is not on PATH
for d in "$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')" "$HOME/.local/bin"; do
  case ":$PATH:" in *":$d:"*) ;; *) [ -d "$d" ] && PATH="$PATH:$d" ;; esac
done
export PATH

SERVER_PID=""
RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/tollgate-compat.XXXXXX")
SERVER_LOG="$RUN_DIR/server.log"

server_alive() { [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; }
show_server_log() {
  [ -s "$SERVER_LOG" ] || return 0
  echo "---- last lines of the server log ($SERVER_LOG) ----"
  tail -n 40 "$SERVER_LOG"
  echo "----"
}
stop_server() {
  if server_alive; then
    kill "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 50); do server_alive || break; sleep 0.1; done
    if server_alive; then kill -9 "$SERVER_PID" 2>/dev/null || true; fi
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=""
}
cleanup() {
  stop_server
  [ "${COMPAT_KEEP:-0}" = 1 ] || rm -rf "$RUN_DIR"
}
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

  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
  DATA_DIR="$RUN_DIR/data"
  mkdir -p "$DATA_DIR"
  export TOLLGATE_ROOT_ACCESS_KEY=TGCOMPATROOTKEY00001
  export TOLLGATE_ROOT_SECRET_KEY=tgcompat-root-secret-0123456789abcdefghij
  export AWS_ACCESS_KEY_ID=$TOLLGATE_ROOT_ACCESS_KEY
  export AWS_SECRET_ACCESS_KEY=$TOLLGATE_ROOT_SECRET_KEY
  export S3_ENDPOINT="http://127.0.0.1:$PORT"

  echo "compat: starting $TOLLGATE_BIN serve --listen 127.0.0.1:$PORT"
  "$TOLLGATE_BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$DATA_DIR" >"$SERVER_LOG" 2>&1 </dev/null &
  SERVER_PID=$!

  deadline=$((SECONDS + 30))
  until [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$S3_ENDPOINT/health" 2>/dev/null)" = 200 ]; do
    if ! server_alive; then
      echo "compat: the server exited before it was healthy"
      show_server_log
      echo "compat: 0 passed, ${#SUITES[@]} failed"
      exit 1
    fi
    if [ $SECONDS -ge $deadline ]; then
      echo "compat: GET $S3_ENDPOINT/health did not answer 200 within 30 s"
      show_server_log
      echo "compat: 0 passed, ${#SUITES[@]} failed"
      exit 1
    fi
    sleep 0.2
  done
  echo "compat: server healthy at $S3_ENDPOINT (pid $SERVER_PID)"
fi
export S3_ENDPOINT AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY TOLLGATE_BIN
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
  fi
  if [ $rc -eq 0 ]; then
    passed=$((passed + 1))
    echo "===== $s: PASS (${took}s) ====="
  else
    failed=$((failed + 1))
    failed_names+=("$s")
    echo "===== $s: FAIL (exit $rc, ${took}s) ====="
  fi
  # the suites after this one cannot run without a server
  if [ "${COMPAT_EXTERNAL:-0}" != 1 ] && ! server_alive; then break; fi
done
ran=$((passed + failed))
if [ "$ran" -lt "${#SUITES[@]}" ]; then
  skipped=$((${#SUITES[@]} - ran))
  echo "compat: $skipped suite(s) not run because the server died"
  failed=$((failed + skipped))
fi

echo
[ $failed -eq 0 ] || echo "compat: failed suites: ${failed_names[*]}"
if [ "${COMPAT_EXTERNAL:-0}" != 1 ] && [ $failed -gt 0 ]; then show_server_log; fi
echo "compat: $passed passed, $failed failed"
[ $failed -eq 0 ]

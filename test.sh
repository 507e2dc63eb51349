#!/usr/bin/env bash
# The one command that runs all of tollgate's tests:
#   1. installs the compat tools if missing (.ci/install-tools.sh); cargo fmt --check and
#      cargo clippy --all-targets -D warnings (rustfmt.toml, the [lints] of Cargo.toml)
#   2. cargo nextest run --no-fail-fast (cargo test if nextest is missing)
#   3. cargo build --bin tollgate
#   4. compat/run.sh: aws-cli, boto3, rclone and s3cmd against the debug binary; then
#      compat/operator.sh: the README's operations walked through with the binary (admin jobs,
#      SIGTERM, migrate: dry run, interrupted and resumed, one bucket, every bucket); and
#      compat/tls.sh: HTTPS with aws-cli --ca-bundle, boto3, curl over HTTP/2, a SIGHUP reload; and
#      compat/cluster.sh: aws-cli, boto3, rclone and s3cmd over HTTPS (a test CA) through a
#      round-robin TCP proxy (compat/rr_proxy.py) in front of three instances sharing one
#      upstream tollgate (metadata bucket, master key, root keys)
#   5. the integration tests (--test it) again through the upstream backend:
#      TOLLGATE_TEST_UPSTREAM=tollgate, then TOLLGATE_TEST_UPSTREAM=moto against a moto_server
#      this script starts (TOLLGATE_TEST_MOTO_URL) and stops
#   6. compat/run.sh again with the debug binary as a gateway: COMPAT_UPSTREAM=tollgate, then moto
#   7. compat/container.sh: the Dockerfile built and its image run as the README shows
#      (TOLLGATE_TEST_CONTAINER=0 leaves it out, e.g. for a quick run)
# Arguments are passed to compat/run.sh (e.g. ./test.sh boto3). Exit 1 if anything failed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
if ! command -v cargo >/dev/null 2>&1 && [ -f "$HOME/.cargo/env" ]; then . "$HOME/.cargo/env"; fi

bash .ci/install-tools.sh

status=0
failed_steps=()
# step NAME: a step's heading, with the minutes and seconds the run has taken so far (to see
# where a run's time goes).
step() { printf '==== %s (at %dm%02ds) ====\n' "$1" $((SECONDS / 60)) $((SECONDS % 60)); }

have_nextest=0
if cargo nextest --version >/dev/null 2>&1; then have_nextest=1; fi

# The fuzz harness (tests/it/fuzz.rs) draws a random seed unless given one: CI runs a fixed
# seed so that its result is reproducible; campaigns with fresh seeds are described there.
export PROPTEST_RNG_SEED="${PROPTEST_RNG_SEED:-20261201}"

step "cargo fmt --check, cargo clippy -D warnings"
cargo fmt --check || { status=1; failed_steps+=("cargo fmt --check"); }
cargo clippy --all-targets -- -D warnings || { status=1; failed_steps+=("cargo clippy"); }

step "cargo tests"
if [ $have_nextest = 1 ]; then
  cargo nextest run --no-fail-fast || { status=1; failed_steps+=("cargo nextest"); }
else
  cargo test --no-fail-fast || { status=1; failed_steps+=("cargo test"); }
fi

built=0
step "cargo build --bin tollgate"
if cargo build --bin tollgate; then
  built=1
  step "compat suites"
  TOLLGATE_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/tollgate" bash compat/run.sh "$@" ||
    { status=1; failed_steps+=("compat"); }
  step "an operator's day (compat/operator.sh)"
  TOLLGATE_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/tollgate" bash compat/operator.sh ||
    { status=1; failed_steps+=("operator"); }
  step "HTTPS on the listener (compat/tls.sh)"
  TOLLGATE_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/tollgate" bash compat/tls.sh ||
    { status=1; failed_steps+=("tls"); }
  step "the compat suites through a three-instance cluster over HTTPS (compat/cluster.sh)"
  TOLLGATE_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/tollgate" bash compat/cluster.sh ||
    { status=1; failed_steps+=("cluster"); }
else
  status=1
  failed_steps+=("cargo build (compat suites not run)")
  echo "compat: 0 passed, 1 failed"
fi

# --- the same tests through the upstream backend ----------------------------
# it_tests NAME [SKIP...]: cargo's integration tests (tests/it) with the environment given by
# the caller, leaving out the tests whose names contain a SKIP
it_tests() {
  local name=$1 filter="all()" skip_args=()
  shift
  for t in "$@"; do filter="$filter - test(~$t)"; skip_args+=(--skip "$t"); done
  if [ $have_nextest = 1 ]; then
    cargo nextest run --no-fail-fast --test it -E "$filter" || { status=1; failed_steps+=("$name"); }
  else
    cargo test --no-fail-fast --test it -- "${skip_args[@]}" || { status=1; failed_steps+=("$name"); }
  fi
}

# crash:: kills a local-disk gateway process and counts its blob files; migrate:: sets up
# its upstream itself: local backend only. fuzz:: (hostile input, proptest) runs once, on
# local disk: the input it mutates is parsed by the front, the same whatever the backend.
LOCAL_ONLY=(crash:: migrate:: fuzz::)
# cluster:: starts its own upstream: a local-disk tollgate, or moto when run through moto
# (so through an upstream tollgate it would only repeat the local run).
OWN_UPSTREAM=(cluster::)
# Tests that read stored bytes on disk (the tollgate upstream's; moto keeps none), and
# tests of behaviour moto lacks (compat/MOTO.md): copy-source conditions, GET ?partNumber,
# Last-Modified on a GET's 304.
NOT_ON_MOTO=(
  hostile::a_body_shorter_than_its_content_length_stores_nothing
  hostile::a_stalled_upload_times_out_and_stores_nothing
  proofs::scrub_and_verify_find_a_tampered_blob
  objects::copies_follow_directives_and_source_conditions
  multipart::multipart_upload_complete_and_part_reads
  conditional::not_modified_answers_carry_etag_and_last_modified
)

# shellcheck source=compat/net.sh
. compat/net.sh
MOTO_PID=""
stop_moto() {
  if [ -n "$MOTO_PID" ] && kill -0 "$MOTO_PID" 2>/dev/null; then
    kill "$MOTO_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$MOTO_PID" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$MOTO_PID" 2>/dev/null; then kill -9 "$MOTO_PID" 2>/dev/null || true; fi
    wait "$MOTO_PID" 2>/dev/null || true
  fi
  MOTO_PID=""
}
MOTO_LOG=$(mktemp "${TMPDIR:-/tmp}/tollgate-test-moto.XXXXXX")
trap 'stop_moto; rm -f "$MOTO_LOG"' EXIT
trap 'exit 130' INT TERM
# start_moto: moto_server on a free port, TOLLGATE_TEST_MOTO_URL exported; 1 if it does not come up
start_moto() {
  local port deadline=$((SECONDS + 30))
  port=$(free_port)
  export TOLLGATE_TEST_MOTO_URL="http://127.0.0.1:$port"
  echo "test.sh: starting python3 -m moto.server -H 127.0.0.1 -p $port"
  python3 -m moto.server -H 127.0.0.1 -p "$port" >"$MOTO_LOG" 2>&1 </dev/null &
  MOTO_PID=$!
  # moto has no /health: an anonymous ListBuckets answers 200 once it serves S3
  until [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$TOLLGATE_TEST_MOTO_URL/" 2>/dev/null)" = 200 ]; do
    if ! kill -0 "$MOTO_PID" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
      echo "test.sh: moto_server did not come up at $TOLLGATE_TEST_MOTO_URL; its log:"
      tail -n 40 "$MOTO_LOG"
      stop_moto
      return 1
    fi
    sleep 0.2
  done
}

step "cargo integration tests through an upstream tollgate"
TOLLGATE_TEST_UPSTREAM=tollgate it_tests "cargo --test it (upstream tollgate)" "${LOCAL_ONLY[@]}" "${OWN_UPSTREAM[@]}"

step "cargo integration tests through moto_server"
if start_moto; then
  TOLLGATE_TEST_UPSTREAM=moto it_tests "cargo --test it (upstream moto)" "${LOCAL_ONLY[@]}" "${NOT_ON_MOTO[@]}"
  if ! kill -0 "$MOTO_PID" 2>/dev/null; then
    echo "test.sh: moto_server died during the tests; its log:"
    tail -n 40 "$MOTO_LOG"
  fi
  stop_moto
else
  status=1
  failed_steps+=("moto_server (cargo --test it with upstream moto not run)")
fi

if [ $built = 1 ]; then
  for upstream in tollgate moto; do
    step "compat suites through an upstream ($upstream)"
    COMPAT_UPSTREAM=$upstream TOLLGATE_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/tollgate" bash compat/run.sh "$@" ||
      { status=1; failed_steps+=("compat (upstream $upstream)"); }
  done
else
  failed_steps+=("compat through upstreams not run")
fi

if [ "${TOLLGATE_TEST_CONTAINER:-1}" != 0 ]; then
  step "the container image (compat/container.sh)"
  bash compat/container.sh || { status=1; failed_steps+=("container"); }
fi

step "done"
if [ $status -ne 0 ]; then
  echo "test.sh: FAILED: ${failed_steps[*]}"
fi
exit $status

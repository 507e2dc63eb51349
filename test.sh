#!/usr/bin/env bash
# The one command that runs all of tollgate's tests:
#   1. installs the compat tools if missing (.ci/install-tools.sh)
#   2. cargo nextest run --no-fail-fast (cargo test if nextest is missing)
#   3. cargo build --bin tollgate
#   4. compat/run.sh: aws-cli, boto3, rclone and s3cmd against the debug binary
# Arguments are passed to compat/run.sh (e.g. ./test.sh boto3). Exit 1 if anything failed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
if ! command -v cargo >/dev/null 2>&1 && [ -f "$HOME/.cargo/env" ]; then . "$HOME/.cargo/env"; fi

bash .ci/install-tools.sh

status=0
failed_steps=()

echo "==== cargo tests ===="
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --no-fail-fast || { status=1; failed_steps+=("cargo nextest"); }
else
  cargo test --no-fail-fast || { status=1; failed_steps+=("cargo test"); }
fi

echo "==== cargo build --bin tollgate ===="
if cargo build --bin tollgate; then
  echo "==== compat suites ===="
  TOLLGATE_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/tollgate" bash compat/run.sh "$@" ||
    { status=1; failed_steps+=("compat"); }
else
  status=1
  failed_steps+=("cargo build (compat suites not run)")
  echo "compat: 0 passed, 1 failed"
fi

if [ $status -ne 0 ]; then
  echo "test.sh: FAILED: ${failed_steps[*]}"
fi
exit $status

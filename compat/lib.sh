# shellcheck shell=bash
# Shared helpers for the bash compat suites. Source it after `set -euo pipefail`
# and after setting SUITE=<name>.
#
#   check "description" func args...   runs func in a subshell with errexit ON
#                                       (bash ignores `set -e` inside `if`, so
#                                       checks are not run in a condition);
#                                       prints PASS/FAIL and, on failure, the
#                                       last lines of the check's output.
#   finish                              prints "<suite>: N passed, M failed",
#                                       exits 1 if anything failed.

: "${SUITE:?set SUITE before sourcing lib.sh}"
: "${S3_ENDPOINT:?S3_ENDPOINT must be set, e.g. http://127.0.0.1:9000}"
: "${AWS_ACCESS_KEY_ID:?AWS_ACCESS_KEY_ID must be set}"
: "${AWS_SECRET_ACCESS_KEY:?AWS_SECRET_ACCESS_KEY must be set}"
export AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_SECURITY_TOKEN AWS_DEFAULT_PROFILE || true
# A CA bundle in the environment makes rclone refuse to start ("unsupported transport");
# the suites talk plain HTTP or pass their own TLS settings.
unset AWS_CA_BUNDLE || true
# COMPAT_CA_BUNDLE: the CA (PEM) an https:// S3_ENDPOINT's certificate chains to (a test CA,
# compat/cluster.sh). curl and Python's ssl trust it here; each suite hands it to its client
# (aws-cli: AWS_CA_BUNDLE, rclone: --ca-cert, s3cmd: ca_certs_file). Unset: as before.
if [ -n "${COMPAT_CA_BUNDLE:-}" ]; then export CURL_CA_BUNDLE=$COMPAT_CA_BUNDLE SSL_CERT_FILE=$COMPAT_CA_BUNDLE; fi

COMPAT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PASSED=0
FAILED=0
FAILED_NAMES=()
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tgcompat-$SUITE.XXXXXX")

# host:port part of the endpoint
ENDPOINT_HOSTPORT=${S3_ENDPOINT#*://}
ENDPOINT_HOSTPORT=${ENDPOINT_HOSTPORT%%/*}

# A bucket name unique to this run: lowercase, DNS-safe, < 63 chars.
unique_bucket() {
  local tag=$1
  printf 'tgc-%s-%s-%04x%04x' "$tag" "$(date +%s)" "$RANDOM" "$RANDOM"
}

# COMPAT_SKIP_CHECKS: an extended regex of "suite: check name"s not run, with the reason
# COMPAT_SKIP_REASON (a run where some behaviour is documented as not offered: see
# compat/cluster.sh); each is printed as SKIP.
check() {
  local name=$1
  shift
  if [ -n "${COMPAT_SKIP_CHECKS:-}" ] && [[ "$SUITE: $name" =~ $COMPAT_SKIP_CHECKS ]]; then
    echo "SKIP $SUITE: $name: ${COMPAT_SKIP_REASON:-skipped}"
    return 0
  fi
  local log="$WORK/check.log" rc start=$SECONDS
  set +e
  (set -euo pipefail; "$@") >"$log" 2>&1 </dev/null
  rc=$?
  set -e
  if [ "$rc" -eq 0 ]; then
    PASSED=$((PASSED + 1))
    echo "PASS $SUITE: $name ($((SECONDS - start))s)"
  else
    FAILED=$((FAILED + 1))
    FAILED_NAMES+=("$name")
    echo "FAIL $SUITE: $name (exit $rc, $((SECONDS - start))s)"
    tail -n 25 "$log" | sed 's/^/    | /'
  fi
}

# Assertion helpers usable inside check functions.
fail() { echo "assertion failed: $*" >&2; return 1; }
assert_eq() { # expected actual [what]
  [ "$1" == "$2" ] || fail "${3:-value}: expected [$1], got [$2]"
}
assert_contains() { # haystack needle [what]
  case "$1" in *"$2"*) ;; *) fail "${3:-output} does not contain [$2]: [$1]" ;; esac
}
sha() { sha256sum "$1" | cut -d' ' -f1; }
# pyj EXPR: evaluate a python expression over the JSON document `d` read from stdin.
pyj() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
assert_same_file() { # a b
  [ "$(sha "$1")" == "$(sha "$2")" ] || fail "sha256 differs: $1 vs $2"
}

finish() {
  echo "$SUITE: $PASSED passed, $FAILED failed"
  if [ "$FAILED" -gt 0 ]; then
    printf '  failed: %s\n' "${FAILED_NAMES[@]}"
    return 1
  fi
  return 0
}

cleanup_work() { rm -rf "$WORK"; }

# aws-cli reads a private config (region, path-style addressing) and an empty credentials
# file from $WORK, never the user's own.
private_aws_config() {
  export AWS_CONFIG_FILE="$WORK/aws-config"
  export AWS_SHARED_CREDENTIALS_FILE="$WORK/aws-credentials"
  : >"$AWS_SHARED_CREDENTIALS_FILE"
  cat >"$AWS_CONFIG_FILE" <<CFG
[default]
region = us-east-1
s3 =
    addressing_style = path
CFG
}

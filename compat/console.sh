#!/usr/bin/env bash
# The console suite: headless Chromium drives the web console at /_tollgate/console/
# (compat/console_suite.py): sign in as a tenant writer, create a folder, upload a 20 MiB
# file (multipart, progress bar), download it and compare, share a link and fetch it
# anonymously, verify its proof; a key named as markup renders as text; an object's versions
# listed, the older downloaded and deleted; a reader sees its upload refused with the
# gateway's message; an admin's audit log filtered and exported (JSON, CSV, read back from
# the browser's download directory), its topics, limits and quotas, the health page's ready
# checks and charts; root runs a job now. The new pages are checked at 400 px width too.
# Needs Debian's chromium and chromium-driver.
# Screenshots: $TOLLGATE_ARTIFACTS/console (default compat/artifacts/console).
#
# env: S3_ENDPOINT, AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY of root (compat/run.sh sets them).
set -euo pipefail
SUITE=console
# shellcheck source=compat/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=compat/net.sh
. "$COMPAT_DIR/net.sh"

CHROMIUM=${CHROMIUM:-$(command -v chromium || true)}
CHROMEDRIVER=${CHROMEDRIVER:-$(command -v chromedriver || true)}
if [ -z "$CHROMIUM" ] || [ -z "$CHROMEDRIVER" ]; then
  echo "FAIL $SUITE: chromium and chromedriver are needed (apt-get install chromium chromium-driver; .ci/install-tools.sh does)"
  exit 1
fi

DRIVER_PID=""
cleanup() {
  if [ -n "$DRIVER_PID" ] && kill -0 "$DRIVER_PID" 2>/dev/null; then
    kill "$DRIVER_PID" 2>/dev/null || true
    wait "$DRIVER_PID" 2>/dev/null || true
  fi
  cleanup_work
}
trap cleanup EXIT

DRIVER_PORT=$(free_port)
"$CHROMEDRIVER" --port="$DRIVER_PORT" >"$WORK/chromedriver.log" 2>&1 </dev/null &
DRIVER_PID=$!
export WEBDRIVER_URL="http://127.0.0.1:$DRIVER_PORT"
export CHROMIUM
export CONSOLE_WORK="$WORK"
wait_ready "$WEBDRIVER_URL/status" "$DRIVER_PID" || { echo "FAIL $SUITE: chromedriver did not start"; cat "$WORK/chromedriver.log"; exit 1; }

set +e
python3 "$COMPAT_DIR/console_suite.py"
rc=$?
set -e
[ $rc -eq 0 ] || { echo "---- chromedriver log (last lines) ----"; tail -n 20 "$WORK/chromedriver.log"; }
exit $rc

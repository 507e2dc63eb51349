#!/usr/bin/env bash
# The browser suite: headless Chromium on a page from another origin (a python http.server on
# its own port) uploads with a presigned PUT and a presigned form POST, and downloads with
# fetch, first without CORS rules (refused by the browser), then with them (compat/browser_suite.py).
# Needs Debian's chromium and chromium-driver (.ci/install-tools.sh installs them).
# Screenshots: $TOLLGATE_ARTIFACTS/browser (default compat/artifacts/browser).
#
# env: S3_ENDPOINT, AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (compat/run.sh sets them).
set -euo pipefail
SUITE=browser
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

PAGE_PID=""
DRIVER_PID=""
stop() { # pid
  [ -n "$1" ] && kill -0 "$1" 2>/dev/null || return 0
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
cleanup() {
  stop "$DRIVER_PID"
  stop "$PAGE_PID"
  cleanup_work
}
trap cleanup EXIT

PAGE_PORT=$(free_port)
python3 -m http.server --bind 127.0.0.1 --directory "$COMPAT_DIR/browser" "$PAGE_PORT" >"$WORK/page.log" 2>&1 </dev/null &
PAGE_PID=$!
DRIVER_PORT=$(free_port)
"$CHROMEDRIVER" --port="$DRIVER_PORT" >"$WORK/chromedriver.log" 2>&1 </dev/null &
DRIVER_PID=$!
export PAGE_URL="http://127.0.0.1:$PAGE_PORT/page.html"
export WEBDRIVER_URL="http://127.0.0.1:$DRIVER_PORT"
export CHROMIUM
wait_ready "$PAGE_URL" "$PAGE_PID" || { echo "FAIL $SUITE: the page server did not start"; cat "$WORK/page.log"; exit 1; }
# chromedriver answers /status 200 once it takes sessions
wait_ready "$WEBDRIVER_URL/status" "$DRIVER_PID" || { echo "FAIL $SUITE: chromedriver did not start"; cat "$WORK/chromedriver.log"; exit 1; }

set +e
python3 "$COMPAT_DIR/browser_suite.py"
rc=$?
set -e
[ $rc -eq 0 ] || { echo "---- chromedriver log (last lines) ----"; tail -n 20 "$WORK/chromedriver.log"; }
exit $rc

#!/usr/bin/env bash
# The console suite: headless Chromium drives the web console at /_tollgate/console/
# (compat/console_suite.py): sign in as a tenant writer, create a folder, upload a 20 MiB
# file (multipart, progress bar), download it and compare, share a link and fetch it
# anonymously, verify its proof; a key named as markup renders as text; an object's versions
# listed, the older downloaded and deleted; a reader sees its upload refused with the
# gateway's message; an admin's audit log filtered and exported (JSON, CSV, read back from
# the browser's download directory), its topics, limits and quotas, the health page's ready
# checks and charts; root runs a job now. The new pages are checked at 400 px width too.
# Then headless Firefox (compat/console_firefox.py, driven through its own WebDriver BiDi
# agent, no geckodriver): a writer signs in, sees the bucket, creates a folder, uploads a file
# through the file picker, verifies its proof and signs out; a reader's upload is refused; any
# JavaScript error or CSP violation in the page fails it. Both runs must pass.
# Needs Debian's chromium, chromium-driver and firefox-esr.
# Screenshots: $TOLLGATE_ARTIFACTS/console and .../console-firefox (default compat/artifacts/).
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
FIREFOX=${FIREFOX:-$(command -v firefox-esr || command -v firefox || true)}
if [ -z "$FIREFOX" ]; then
  echo "FAIL $SUITE: firefox is needed (apt-get install firefox-esr; .ci/install-tools.sh does)"
  exit 1
fi

DRIVER_PID=""
FIREFOX_PID=""
stop_chromedriver() {
  if [ -n "$DRIVER_PID" ] && kill -0 "$DRIVER_PID" 2>/dev/null; then
    kill "$DRIVER_PID" 2>/dev/null || true
    wait "$DRIVER_PID" 2>/dev/null || true
  fi
  DRIVER_PID=""
}
# stop_firefox [TENTHS]: up to TENTHS x 0.1 s for Firefox to exit by itself (the suite closes
# it), then TERM, up to 5 s, then KILL. Its content processes end with it. Firefox stays in
# this script's process group, so run.sh's timeout reaches it too.
stop_firefox() {
  [ -n "$FIREFOX_PID" ] || return 0
  local i
  for i in $(seq "${1:-0}"); do kill -0 "$FIREFOX_PID" 2>/dev/null || break; sleep 0.1; done
  kill -TERM "$FIREFOX_PID" 2>/dev/null || true
  for i in $(seq 50); do kill -0 "$FIREFOX_PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$FIREFOX_PID" 2>/dev/null || true
  wait "$FIREFOX_PID" 2>/dev/null || true
  FIREFOX_PID=""
}
cleanup() {
  stop_chromedriver
  stop_firefox
  cleanup_work
}
trap cleanup EXIT
trap 'exit 143' INT TERM

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
stop_chromedriver

# Firefox: a fresh profile (its prefs in user.js) and home in $WORK, removed on exit.
FIREFOX_PROFILE="$WORK/firefox-profile"
mkdir -p "$FIREFOX_PROFILE" "$WORK/firefox-home"
cat >"$FIREFOX_PROFILE/user.js" <<'PREFS'
user_pref("remote.active-protocols", 1);
user_pref("browser.shell.checkDefaultBrowser", false);
user_pref("browser.startup.homepage_override.mstone", "ignore");
user_pref("browser.startup.page", 0);
user_pref("startup.homepage_welcome_url", "about:blank");
user_pref("datareporting.policy.dataSubmissionEnabled", false);
user_pref("toolkit.telemetry.reportingpolicy.firstRun", false);
user_pref("app.update.disabledForTesting", true);
user_pref("network.captive-portal-service.enabled", false);
user_pref("network.connectivity-service.enabled", false);
PREFS
FIREFOX_PORT=$(free_port)
echo "$SUITE: starting $FIREFOX (headless, WebDriver BiDi on 127.0.0.1:$FIREFOX_PORT)"
HOME="$WORK/firefox-home" MOZ_HEADLESS=1 "$FIREFOX" --headless --no-remote --profile "$FIREFOX_PROFILE" \
  --remote-debugging-port="$FIREFOX_PORT" >"$WORK/firefox.log" 2>&1 </dev/null &
FIREFOX_PID=$!
export FIREFOX_BIDI_URL="ws://127.0.0.1:$FIREFOX_PORT/session" FIREFOX_PID
set +e
python3 "$COMPAT_DIR/console_firefox.py"
frc=$?
set -e
[ $frc -eq 0 ] || { echo "---- firefox log (last lines) ----"; tail -n 20 "$WORK/firefox.log"; }
stop_firefox 100
echo "$SUITE: chromium $([ $rc -eq 0 ] && echo passed || echo FAILED), firefox $([ $frc -eq 0 ] && echo passed || echo FAILED)"
[ $rc -eq 0 ] && [ $frc -eq 0 ]

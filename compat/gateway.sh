# shellcheck shell=bash
# A tollgate that a compat script runs itself. Source it after lib.sh, with TOLLGATE_BIN
# (made absolute here), GATEWAY_CONFIG (the config file) and GATEWAY_READY_URL (answering
# 200 once it serves) set. It unsets the caller's other TOLLGATE_* variables, so that only
# the script's settings count. The gateway's root keys are AWS_ACCESS_KEY_ID /
# AWS_SECRET_ACCESS_KEY; its log is $WORK/gateway.log. Checks run in subshells (lib.sh),
# so its pid and exit status go through files.
#
#   start_gateway    `tollgate serve --config $GATEWAY_CONFIG` in the background, until ready
#   stop_gateway     SIGTERM, as a service manager stops it; it must exit 0 within 30 s
#   gateway_pid      its pid

: "${TOLLGATE_BIN:?TOLLGATE_BIN must name the tollgate binary}"
TOLLGATE_BIN=$(realpath "$TOLLGATE_BIN")
while read -r v; do [ "$v" = TOLLGATE_BIN ] || unset "$v"; done < <(compgen -e | grep '^TOLLGATE_' || true)
# shellcheck source=compat/net.sh
. "$COMPAT_DIR/net.sh"

GATEWAY_PID_FILE=$WORK/gateway.pid
GATEWAY_RC_FILE=$WORK/gateway.rc

gateway_pid() { cat "$GATEWAY_PID_FILE" 2>/dev/null; }

start_gateway() {
  rm -f "$GATEWAY_RC_FILE"
  (
    TOLLGATE_ROOT_ACCESS_KEY=$AWS_ACCESS_KEY_ID TOLLGATE_ROOT_SECRET_KEY=$AWS_SECRET_ACCESS_KEY \
      "$TOLLGATE_BIN" serve --config "$GATEWAY_CONFIG" >>"$WORK/gateway.log" 2>&1 </dev/null &
    echo $! >"$GATEWAY_PID_FILE"
    rc=0
    wait $! || rc=$?
    echo $rc >"$GATEWAY_RC_FILE"
  ) &
  for _ in $(seq 50); do [ -s "$GATEWAY_PID_FILE" ] && break; sleep 0.1; done
  wait_ready "$GATEWAY_READY_URL" "$(gateway_pid)" || { tail -n 20 "$WORK/gateway.log"; fail "the gateway did not become ready"; }
}

stop_gateway() {
  kill -TERM "$(gateway_pid)"
  for _ in $(seq 300); do [ -s "$GATEWAY_RC_FILE" ] && break; sleep 0.1; done
  rm -f "$GATEWAY_PID_FILE"
  assert_eq 0 "$(cat "$GATEWAY_RC_FILE" 2>/dev/null || echo 'still running')" "the gateway's exit status after SIGTERM"
}

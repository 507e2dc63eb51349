# shellcheck shell=bash
# Shared by the compat scripts that start servers of their own.
#
#   free_port            a free TCP port on 127.0.0.1
#   wait_ready URL PID   until GET URL answers 200: 0; 1 once PID has exited or after 30 s
#   pid_alive PID        whether PID (non-empty) is running
#   stop_pid PID         stops PID (TERM, up to 5 s, then KILL) and reaps it

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }

wait_ready() {
  local deadline=$((SECONDS + 30))
  until [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1" 2>/dev/null)" = 200 ]; do
    kill -0 "$2" 2>/dev/null && [ $SECONDS -lt $deadline ] || return 1
    sleep 0.1
  done
}

pid_alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }
stop_pid() { # pid: TERM, up to 5 s, then KILL
  if pid_alive "$1"; then
    kill "$1" 2>/dev/null || true
    for _ in $(seq 50); do pid_alive "$1" || break; sleep 0.1; done
    if pid_alive "$1"; then kill -9 "$1" 2>/dev/null || true; fi
    wait "$1" 2>/dev/null || true
  fi
}

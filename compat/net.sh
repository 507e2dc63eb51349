# shellcheck shell=bash
# Shared by the compat scripts that start servers of their own.
#
#   free_port            a free TCP port on 127.0.0.1
#   wait_ready URL PID   until GET URL answers 200: 0; 1 once PID has exited or after 30 s

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }

wait_ready() {
  local deadline=$((SECONDS + 30))
  until [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1" 2>/dev/null)" = 200 ]; do
    kill -0 "$2" 2>/dev/null && [ $SECONDS -lt $deadline ] || return 1
    sleep 0.1
  done
}

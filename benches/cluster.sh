#!/usr/bin/env bash
# Several gateway instances on one upstream (a cluster): aggregate 4 KiB PUT and GET
# throughput of 1, 2 and 3 instances with the server CPU each request costs, what an idle
# cluster asks of the upstream, and how long a control-plane change takes to reach every
# instance.
#
# Usage: benches/cluster.sh [--instances "1 2 3"] [--duration SECS] [--rounds N]
#                           [--idle SECS] [--changes N] [--disable N] [--keep] [--out FILE]
#
#   --instances L  the cluster sizes measured, ascending (default "1 2 3"): instances are
#                  added one by one to the same cluster; the propagation is measured with
#                  the last size
#   --duration S   length of each PUT and GET run (default 10); c=16 in all, the requests
#                  going to the instances in turn (loadgen --endpoint A,B,C)
#   --rounds N     repeat everything N times, each round from a fresh upstream (default 2)
#   --idle S       the idle window per size, for the upstream requests an idle cluster
#                  makes (log polls, heartbeats, mirror) (default 30)
#   --changes N    access keys created on instance 1 for the propagation (default 20)
#   --disable N    of those, keys then disabled on instance 2 (default 10)
#   --keep         keep the temp dir (data, logs, raw results)
#   --out FILE     also write the raw JSON result lines to FILE
#
# The upstream is upstream-direct (a tollgate on local disk, see lib.sh); the instances
# are cluster-1, cluster-2, ... (distinct upstream.instance, one metadata bucket, one
# master key, the same root keys; default control_poll_ms = 500, heartbeat_secs = 5).
# Server CPU is each process's user + system time (/proc/PID/stat) over the run, summed
# over the instances, and the upstream's apart. Upstream requests are counted from its
# /metrics (tollgate_requests_total by operation). Every figure line carries the load
# average of the machine when it was taken.
#
# Environment: see benches/lib.sh (TOLLGATE_BIN, CARGO_TARGET_DIR, BENCH_CARGO_LOCK,
# BASE_PORT, BENCH_TMPDIR, UPSTREAM_TMPDIR). Only loopback addresses are used; every
# server is stopped on exit.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

SIZES=(1 2 3)
DURATION=10
ROUNDS=2
IDLE=30
CHANGES=20
DISABLE=10
KEEP=0
OUT=""
CONC=16
while [[ $# -gt 0 ]]; do
    case "$1" in
        --instances) read -r -a SIZES <<<"$2"; shift 2 ;;
        --duration) DURATION="$2"; shift 2 ;;
        --rounds) ROUNDS="$2"; shift 2 ;;
        --idle) IDLE="$2"; shift 2 ;;
        --changes) CHANGES="$2"; shift 2 ;;
        --disable) DISABLE="$2"; shift 2 ;;
        --keep) KEEP=1; shift ;;
        --out) OUT="$2"; shift 2 ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$ROOT/benches/cluster.sh"; exit 0 ;;
        *) echo "cluster.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
for v in "$ROUNDS" "$CHANGES" "${SIZES[@]}"; do
    [[ $v =~ ^[1-9][0-9]*$ ]] || { echo "cluster.sh: --rounds, --changes and --instances take positive integers" >&2; exit 2; }
done
[[ $DISABLE =~ ^[0-9]+$ ]] && (( DISABLE <= CHANGES )) || { echo "cluster.sh: --disable takes 0 .. --changes" >&2; exit 2; }
[[ $DURATION =~ ^[0-9]+(\.[0-9]+)?$ && $IDLE =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "cluster.sh: --duration and --idle take seconds" >&2; exit 2; }

# shellcheck source=benches/lib.sh
. "$ROOT/benches/lib.sh"
WORK="$(mktemp -d "${BENCH_TMPDIR:-${TMPDIR:-/tmp}}/tollgate-cluster.XXXXXX")"
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

build_tools cluster-1
probe() { AWS_ACCESS_KEY_ID="$AK" AWS_SECRET_ACCESS_KEY="$SK" python3 "$ROOT/benches/cluster_probe.py" "$@"; }
cpu_ms() { # pid...: their user + system CPU time so far, in ms
    local pid total=0
    for pid in "$@"; do total=$((total + $(awk '{ print ($14 + $15) * 10 }' "/proc/$pid/stat"))); done
    echo "$total"
}
load() { cut -d' ' -f1-3 /proc/loadavg | tr ' ' /; }
now() { date +%s.%N; }

UPSTREAM_URL="http://$HOST:$UPSTREAM_DIRECT_PORT"
CLUSTER_META_BUCKET=cluster-meta
RAW="$WORK/results.jsonl"
: >"$RAW"
emit() { echo "$1" >>"$RAW"; }

for ((round = 1; round <= ROUNDS; round++)); do
    say "round $round/$ROUNDS: a fresh upstream"
    start_server upstream-direct 0
    upid="${PID_OF[upstream-direct]}"
    probe mkbucket "$UPSTREAM_URL" "$CLUSTER_META_BUCKET"
    CLUSTER_MASTER_KEY="$(head -c 32 /dev/urandom | base64)"
    members=()
    for n in "${SIZES[@]}"; do
        while (( ${#members[@]} < n )); do
            m="cluster-$(( ${#members[@]} + 1 ))"
            start_server "$m" "$(( ${#members[@]} + 1 ))"
            members+=("$m")
        done
        pids=() urls=()
        for m in "${members[@]}"; do pids+=("${PID_OF[$m]}"); urls+=("http://$HOST:${PORT[$m]}"); done
        endpoints="$(IFS=,; echo "${urls[*]}")"

        say "round $round, $n instance(s): idle for ${IDLE}s"
        before="$(probe counts "$UPSTREAM_URL")"; gw0="$(cpu_ms "${pids[@]}")"; up0="$(cpu_ms "$upid")"; t0="$(now)"; l0="$(load)"
        sleep "$IDLE" # the measurement window, not a wait for readiness
        after="$(probe counts "$UPSTREAM_URL")"; gw1="$(cpu_ms "${pids[@]}")"; up1="$(cpu_ms "$upid")"; t1="$(now)"
        emit "{\"round\":$round,\"instances\":$n,\"kind\":\"idle\",\"secs\":$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'),\"before\":$before,\"after\":$after,\"gateway_cpu_ms\":$((gw1 - gw0)),\"upstream_cpu_ms\":$((up1 - up0)),\"load\":\"$l0 $(load)\"}"

        for workload in put get; do
            echo "== [round $round/$ROUNDS] $workload 4KiB, $n instance(s), c=$CONC, ${DURATION}s" >&2
            l0="$(load)"
            if ! line="$("$LOADGEN" --endpoint "$endpoints" --access-key "$AK" --secret-key "$SK" \
                    --bucket "cl-$workload" --prefix "$workload/" --workload "$workload" --size 4KiB \
                    --concurrency "$CONC" --duration "$DURATION" --keys 1000 --timeout 60 \
                    --server-pid "$(IFS=,; echo "${pids[*]}")" --upstream-pid "$upid" --json)"; then
                say "loadgen reported errors for $workload on $n instance(s)"
            fi
            [[ -n $line ]] || line='{"ops":0,"errors":-1,"ops_per_s":0}'
            emit "{\"round\":$round,\"instances\":$n,\"kind\":\"$workload\",\"load\":\"$l0 $(load)\",${line#\{}"
        done
    done

    n="${#members[@]}"
    if (( n > 1 )); then
        say "round $round: control-plane propagation over $n instances ($CHANGES keys created on cluster-1, $DISABLE disabled on cluster-2)"
        tenant_key cluster-1 bench 0
        # The tenant and user reach the others before the measurement starts.
        for m in "${members[@]:1}"; do
            for _ in $(seq 1 500); do
                admin "$m" --json user list 2>/dev/null | grep -q '"bench"' && break
                sleep 0.01
            done
        done
        l0="$(load)"
        line="$(probe propagate --tenant bench --user bench --changes "$CHANGES" --disable "$DISABLE" --upstream "$UPSTREAM_URL" "${urls[@]}")"
        emit "{\"round\":$round,\"instances\":$n,\"kind\":\"propagation\",\"load\":\"$l0 $(load)\",${line#\{}"
        emit "{\"round\":$round,\"instances\":$n,\"kind\":\"log\",\"control\":$(probe objects "$UPSTREAM_URL" "$CLUSTER_META_BUCKET" .tollgate-control/),\"members\":$(probe objects "$UPSTREAM_URL" "$CLUSTER_META_BUCKET" .tollgate-members/)}"
    fi

    for m in "${members[@]}"; do stop_server "$m"; done
    stop_server upstream-direct
done

echo
machine_line
echo "rounds: $ROUNDS, each from a fresh upstream; PUT/GET runs: ${DURATION}s at c=$CONC over the instances in turn; idle windows: ${IDLE}s"
echo
python3 "$ROOT/benches/cluster_probe.py" report "$RAW"
if [[ -n $OUT ]]; then
    cp "$RAW" "$OUT"
    echo "raw results: $OUT"
fi

#!/usr/bin/env bash
# One tenant floods, another keeps its share: per-tenant rate limits under contention.
#
# Starts tollgate (release), creates tenants "steady" and "flood" and runs 4 KiB GETs,
# twice: with both tenants limited to RATE reads per second (default 400), then with
# steady unlimited and flood still limited. Each time: steady alone (c=4) as the
# baseline, then steady (c=4) while flood hammers the gateway (c=32) in the same seconds.
# Prints each tenant's admitted ops/s and refusals (503 SlowDown). The claim checked:
# steady keeps at least its configured share while flood floods; the second scenario
# shows what the flood's refused requests still cost everyone else.
#
# Usage: benches/fairness.sh [--rate N] [--duration SECS] [--keep]
# Environment: see benches/lib.sh.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

RATE=400
DURATION=10
KEEP=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --rate) RATE="$2"; shift 2 ;;
        --duration) DURATION="$2"; shift 2 ;;
        --keep) KEEP=1; shift ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$ROOT/benches/fairness.sh"; exit 0 ;;
        *) echo "fairness.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
# shellcheck source=benches/lib.sh
. "$ROOT/benches/lib.sh"
WORK="$(mktemp -d "${BENCH_TMPDIR:-${TMPDIR:-/tmp}}/tollgate-fairness.XXXXXX")"
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

build_tools tollgate
start_server tollgate 0
declare -A TK TS
for t in steady flood; do
    tenant_key tollgate "$t" 0
    TK[$t]=$TENANT_KEY
    TS[$t]=$TENANT_SECRET
done

run() { # tenant concurrency seconds [extra loadgen args]
    local t=$1 c=$2 secs=$3
    shift 3
    "$LOADGEN" --endpoint "http://$HOST:${PORT[tollgate]}" --access-key "${TK[$t]}" --secret-key "${TS[$t]}" \
        --bucket "fair-$t" --prefix g/ --workload get --size 4KiB --keys 200 --concurrency "$c" \
        --duration "$secs" --timeout 30 --json "$@" || true
}
field() { sed -nE "s/.*\"$2\":\"?([^,\"}]*)\"?.*/\1/p" <<<"$1"; }
row() { printf '%-34s %12s %10s\n' "$1" "$(field "$2" ops_per_s)" "$(field "$2" errors)"; }

say "populating"
for t in steady flood; do run "$t" 1 0.1 >/dev/null; done

scenario() { # steady's read limit (0: unlimited)
    admin tollgate limits set --tenant steady --read-requests "$1" >/dev/null
    admin tollgate limits set --tenant flood --read-requests "$RATE" >/dev/null
    say "steady (limit $1) alone"
    local alone during flood
    sleep 1
    alone="$(run steady 4 "$DURATION" --no-populate)"
    sleep 1
    say "steady (limit $1) while flood floods"
    run flood 32 "$DURATION" --no-populate >"$WORK/flood.json" &
    local flood_pid=$!
    sleep 0.2
    during="$(run steady 4 "$DURATION" --no-populate)"
    wait "$flood_pid"
    flood="$(cat "$WORK/flood.json")"
    echo
    if (( $1 > 0 )); then echo "steady limited to $1 GETs/s, flood to $RATE GETs/s:"; else echo "steady unlimited, flood limited to $RATE GETs/s:"; fi
    printf '%-34s %12s %10s\n' run "ok ops/s" refused
    row "steady alone (c=4)" "$alone"
    row "steady during the flood (c=4)" "$during"
    row "flood (c=32)" "$flood"
}

RESULTS="$( { scenario "$RATE"; scenario 0; } )"
echo
machine_line
echo "${DURATION}s runs of 4 KiB GETs; ok ops/s include the first second's burst; refused = 503 SlowDown"
echo "$RESULTS"

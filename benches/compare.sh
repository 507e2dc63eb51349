#!/usr/bin/env bash
# Run the same load matrix against two servers in the same run and print ratios.
#
# Usage: benches/compare.sh [--servers "SUBJECT REFERENCE"] [--duration SECS]
#                           [--rounds N] [--quick] [--keep] [--out FILE]
#
#   --servers LIST  one or two of: tollgate, tollgate-noproofs, tollgate-sse, s3s-fs,
#                   ceiling, ... (see lib.sh); default "tollgate s3s-fs"; ratio = first / second.
#                   "tollgate ceiling" measures tollgate against the loopback ceiling.
#                   "tollgate tollgate-noproofs" measures the cost of proof manifests,
#                   "tollgate-sse tollgate" that of encryption at rest (SSE-S3).
#   --duration S    length of each time-bounded run (default 10)
#   --quick         smoke test: 2 s runs, 8 ops of 64MiB
#   --rounds N      repeat the whole matrix N times (server order flips each
#                   round); the table shows the median-ops/s round (default 1)
#   --keep          keep the temp dirs (data, logs, raw results)
#   --out FILE      also write the raw JSON result lines to FILE
#   --rows REGEX    run only the matrix rows whose label matches (e.g. '4KiB'); rows
#                   ending in c1 run one request at a time (latency without queueing)
#
# Environment: see benches/lib.sh (TOLLGATE_BIN, BASE_PORT, BENCH_TMPDIR).
# Only loopback addresses are used. Both servers are stopped on exit.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

SERVERS=(tollgate s3s-fs)
ROWS=""
DURATION=10
BIG_OPS=40
KEEP=0
OUT=""
ROUNDS=1
while [[ $# -gt 0 ]]; do
    case "$1" in
        --servers) read -r -a SERVERS <<<"$2"; shift 2 ;;
        --duration) DURATION="$2"; shift 2 ;;
        --quick) DURATION=2; BIG_OPS=8; shift ;;
        --rounds) ROUNDS="$2"; shift 2 ;;
        --keep) KEEP=1; shift ;;
        --out) OUT="$2"; shift 2 ;;
        --rows) ROWS="$2"; shift 2 ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$ROOT/benches/compare.sh"; exit 0 ;;
        *) echo "compare.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "compare.sh: --rounds takes a positive integer" >&2; exit 2; }
[[ $DURATION =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "compare.sh: --duration takes seconds" >&2; exit 2; }

# shellcheck source=benches/lib.sh
. "$ROOT/benches/lib.sh"
check_servers "${SERVERS[@]}"
(( ${#SERVERS[@]} == 1 || ${#SERVERS[@]} == 2 )) || { say "--servers takes one or two names"; exit 2; }
WORK="$(mktemp -d "${BENCH_TMPDIR:-${TMPDIR:-/tmp}}/tollgate-bench.XXXXXX")"
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

build_tools "${SERVERS[@]}"
for i in "${!SERVERS[@]}"; do start_server "${SERVERS[$i]}" "$i"; done

# ---- matrix ---------------------------------------------------------------
# label | workload | size | concurrency | bound | keys
MATRIX=(
    "PUT 4KiB|put|4KiB|16|--duration $DURATION|1000"
    "GET 4KiB|get|4KiB|16|--duration $DURATION|1000"
    "PUT 64MiB|put|64MiB|4|--ops $BIG_OPS|8"
    "GET 64MiB|get|64MiB|4|--ops $BIG_OPS|8"
    "LIST 1000|list|4KiB|16|--duration $DURATION|1000"
    "mixed 4KiB|mixed|4KiB|16|--duration $DURATION|1000"
    "PUT 4KiB c1|put|4KiB|1|--duration $DURATION|1000"
    "GET 4KiB c1|get|4KiB|1|--duration $DURATION|1000"
    "PUT 64MiB c1|put|64MiB|1|--ops $BIG_OPS|8"
    "GET 64MiB c1|get|64MiB|1|--ops $BIG_OPS|8"
)
if [[ -n $ROWS ]]; then
    kept=()
    for entry in "${MATRIX[@]}"; do [[ ${entry%%|*} =~ $ROWS ]] && kept+=("$entry"); done
    MATRIX=("${kept[@]}")
    (( ${#MATRIX[@]} > 0 )) || { say "--rows $ROWS matches no row"; exit 2; }
fi

declare -A RES
RAW="$WORK/results.jsonl"
: >"$RAW"
for ((round = 1; round <= ROUNDS; round++)); do
    row=0
    for entry in "${MATRIX[@]}"; do
        IFS='|' read -r label workload size conc bound keys <<<"$entry"
        # Alternate which server goes first (per row and per round) so neither
        # always gets the warmer page cache or the quieter machine.
        order=("${SERVERS[@]}")
        if (( (row + round) % 2 == 0 )) && (( ${#order[@]} == 2 )); then order=("${order[1]}" "${order[0]}"); fi
        for s in "${order[@]}"; do
            bucket="bench-${workload}-$(tr -cd 'a-z0-9' <<<"${size,,}")"
            echo "== [round $round/$ROUNDS] $label on $s (c=$conc, $bound)" >&2
            # shellcheck disable=SC2086
            if ! line="$("$LOADGEN" --endpoint "http://$HOST:${PORT[$s]}" --access-key "${KEY_OF[$s]}" --secret-key "${SECRET_OF[$s]}" \
                    --bucket "$bucket" --prefix "$workload/" --workload "$workload" --size "$size" \
                    --concurrency "$conc" $bound --keys "$keys" --timeout 60 --server-pid "${PID_OF[$s]}" --json)"; then
                say "loadgen reported errors for $label on $s"
            fi
            if [[ -z $line ]]; then
                line="{\"workload\":\"$workload\",\"ops\":0,\"errors\":-1,\"ops_per_s\":0,\"mib_per_s\":0,\"p50_ms\":0,\"p99_ms\":0}"
            fi
            echo "{\"server\":\"$s\",\"label\":\"$label\",\"round\":$round,${line#\{}" >>"$RAW"
            RES["$label|$s|$round"]="$line"
        done
        row=$((row + 1))
    done
done

field() { # json key
    sed -nE "s/.*\"$2\":\"?([^,\"}]*)\"?.*/\1/p" <<<"$1"
}

# The round with the median ops/s stands for each (workload, server).
median_line() { # label server
    local r
    for ((r = 1; r <= ROUNDS; r++)); do
        printf '%s\t%s\n' "$(field "${RES["$1|$2|$r"]}" ops_per_s)" "$r"
    done | sort -g | sed -n "$(( (ROUNDS + 1) / 2 ))p" | cut -f2 | { read -r r; echo "${RES["$1|$2|$r"]}"; }
}

# ---- report ---------------------------------------------------------------
echo
machine_line
echo "each time-bounded run: ${DURATION}s; 64MiB runs: $BIG_OPS ops at c=4; rounds: $ROUNDS (median-ops/s round shown); errors in ()"
echo
if [[ ${#SERVERS[@]} == 2 ]]; then
    A="${SERVERS[0]}" B="${SERVERS[1]}"
    echo "A = $A, B = $B"
    printf '%-11s %11s %11s %6s %9s %9s %19s %19s %13s\n' \
        workload "A ops/s" "B ops/s" ratio "A MiB/s" "B MiB/s" "A p50/p99 ms" "B p50/p99 ms" "A/B cpu ms"
    for entry in "${MATRIX[@]}"; do
        label="${entry%%|*}"
        t="$(median_line "$label" "$A")"; f="$(median_line "$label" "$B")"
        to="$(field "$t" ops_per_s)"; fo="$(field "$f" ops_per_s)"
        ratio="$(awk -v a="$to" -v b="$fo" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')"
        te="$(field "$t" errors)"; fe="$(field "$f" errors)"
        printf '%-11s %11s %11s %6s %9s %9s %19s %19s %13s\n' "$label" \
            "$to$([[ $te != 0 ]] && echo "($te)")" "$fo$([[ $fe != 0 ]] && echo "($fe)")" "$ratio" \
            "$(field "$t" mib_per_s)" "$(field "$f" mib_per_s)" \
            "$(field "$t" p50_ms)/$(field "$t" p99_ms)" "$(field "$f" p50_ms)/$(field "$f" p99_ms)" \
            "$(field "$t" server_cpu_ms_per_op)/$(field "$f" server_cpu_ms_per_op)"
    done
    echo
    echo "ratio = A ops/s / B ops/s (above 1: A is faster)"
    echo "cpu ms = the server process's CPU time (user + system, all threads) per request"
else
    s="${SERVERS[0]}"
    printf '%-11s %9s %7s %10s %9s %9s %9s %7s\n' workload ops errors "ops/s" "MiB/s" "p50 ms" "p99 ms" "cpu ms"
    for entry in "${MATRIX[@]}"; do
        label="${entry%%|*}"
        r="$(median_line "$label" "$s")"
        printf '%-11s %9s %7s %10s %9s %9s %9s %7s\n' "$label" "$(field "$r" ops)" "$(field "$r" errors)" \
            "$(field "$r" ops_per_s)" "$(field "$r" mib_per_s)" "$(field "$r" p50_ms)" "$(field "$r" p99_ms)" \
            "$(field "$r" server_cpu_ms_per_op)"
    done
    echo
    echo "server: $s only; cpu ms = its CPU time (user + system, all threads) per request"
fi
# The servers are still up: their peak resident set over the whole run.
for s in "${SERVERS[@]}"; do
    hwm="$(awk '/^VmHWM:/ { printf "%.0f", $2 / 1024 }' "/proc/${PID_OF[$s]}/status" 2>/dev/null || true)"
    echo "peak RSS (VmHWM) of $s over the run: ${hwm:-?} MiB"
done
if [[ -n $OUT ]]; then
    cp "$RAW" "$OUT"
    echo "raw results: $OUT"
fi

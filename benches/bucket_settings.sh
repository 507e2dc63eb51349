#!/usr/bin/env bash
# Versioned against unversioned buckets on one tollgate (local disk, every check on), in one
# run: 4 KiB PUT and GET (c=16), and a full listing of 10,000 entries paged by 1,000 (c=1):
# ListObjectVersions of one key with 10,000 versions against ListObjectsV2 of 10,000 keys.
# Issue 22's targets: PUT and GET within 10 % of unversioned; the versions listing at most
# 2x the keys listing. Also 4 KiB GET on a bucket with a 20-statement policy against none
# (issue 23's target: within 5 %).
#
# Usage: benches/bucket_settings.sh [--duration SECS] [--rounds N]
#   --duration S  length of each timed run (default 10)
#   --rounds N    repeat the matrix N times, rows alternating which bucket goes first;
#                 the table shows each row's median round (default 1)
#
# Environment: see benches/lib.sh (TOLLGATE_BIN, BASE_PORT, BENCH_TMPDIR).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

DURATION=10
ROUNDS=1
while [[ $# -gt 0 ]]; do
    case "$1" in
        --duration) DURATION="$2"; shift 2 ;;
        --rounds) ROUNDS="$2"; shift 2 ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        *) echo "bucket_settings.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "bucket_settings.sh: --rounds takes a positive integer" >&2; exit 2; }

# shellcheck source=benches/lib.sh
. "$ROOT/benches/lib.sh"
check_servers tollgate
WORK="$(mktemp -d "${BENCH_TMPDIR:-${TMPDIR:-/tmp}}/tollgate-bench.XXXXXX")"
trap bench_cleanup EXIT
trap 'exit 130' INT TERM
build_tools tollgate
start_server tollgate 0

# field NAME JSON: a field of loadgen's JSON line.
field() { python3 -c 'import json, sys; print(json.loads(sys.argv[2]).get(sys.argv[1], 0))' "$1" "$2"; }

# lg BUCKET ARGS...: one loadgen run against the server, as one JSON line.
lg() {
    local bucket=$1
    shift
    "$LOADGEN" --endpoint "http://$HOST:${PORT[tollgate]}" --access-key "${KEY_OF[tollgate]}" --secret-key "${SECRET_OF[tollgate]}" \
        --bucket "$bucket" --timeout 60 --server-pid "${PID_OF[tollgate]}" --json "$@"
}

# The listing buckets, filled once: 10,000 keys; one key with 10,000 versions.
say "filling the listing buckets (10,000 keys; 10,000 versions of one key)"
lg list-keys --prefix k/ --workload put --size 1 --keys 10000 --ops 10000 --concurrency 16 >/dev/null
lg list-versions --versioning --prefix v/ --workload put --size 1 --keys 1 --ops 10000 --concurrency 16 >/dev/null

# label | bucket | flags
MATRIX=(
    "PUT 4KiB unversioned|put-plain|--workload put --size 4KiB --concurrency 16 --keys 1000 --duration $DURATION"
    "PUT 4KiB versioned|put-versioned|--versioning --workload put --size 4KiB --concurrency 16 --keys 1000 --duration $DURATION"
    "GET 4KiB unversioned|get-plain|--workload get --size 4KiB --concurrency 16 --keys 1000 --duration $DURATION"
    "GET 4KiB versioned|get-versioned|--versioning --workload get --size 4KiB --concurrency 16 --keys 1000 --duration $DURATION"
    "GET 4KiB no policy|get-nopolicy|--workload get --size 4KiB --concurrency 16 --keys 1000 --duration $DURATION"
    "GET 4KiB 20-statement policy|get-policy|--policy-statements 20 --workload get --size 4KiB --concurrency 16 --keys 1000 --duration $DURATION"
    "LIST 10,000 keys (10 pages)|list-keys|--no-populate --prefix k/ --workload list --paginate --concurrency 1 --duration $DURATION"
    "LIST 10,000 versions of a key (10 pages)|list-versions|--no-populate --prefix v/ --workload list-versions --paginate --concurrency 1 --duration $DURATION"
)

declare -A OPS CPU P50
for ((round = 1; round <= ROUNDS; round++)); do
    for ((pair = 0; pair < ${#MATRIX[@]}; pair += 2)); do
        # Alternate which of a pair runs first, so neither always gets the warmer cache.
        order=("$pair" "$((pair + 1))")
        if (( (pair / 2 + round) % 2 == 0 )); then order=("$((pair + 1))" "$pair"); fi
        for i in "${order[@]}"; do
            IFS='|' read -r label bucket flags <<<"${MATRIX[$i]}"
            echo "== [round $round/$ROUNDS] $label" >&2
            # shellcheck disable=SC2086
            line="$(lg "$bucket" $flags)" || say "loadgen reported errors for $label"
            OPS[$label]+="$(field ops_per_s "$line") "
            CPU[$label]+="$(field server_cpu_ms_per_op "$line") "
            P50[$label]+="$(field p50_ms "$line") "
        done
    done
done

median() { tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
echo
machine_line
echo "| case | ops/s | p50 ms | server cpu ms/op |"
echo "|---|---|---|---|"
for entry in "${MATRIX[@]}"; do
    label=${entry%%|*}
    printf '| %s | %.1f | %.2f | %.3f |\n' "$label" "$(median "${OPS[$label]}")" "$(median "${P50[$label]}")" "$(median "${CPU[$label]}")"
done
ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }
echo
echo "versioned / unversioned: PUT $(ratio "$(median "${OPS[PUT 4KiB versioned]}")" "$(median "${OPS[PUT 4KiB unversioned]}")") x," \
    "GET $(ratio "$(median "${OPS[GET 4KiB versioned]}")" "$(median "${OPS[GET 4KiB unversioned]}")") x;" \
    "versions listing time / keys listing time: $(ratio "$(median "${OPS[LIST 10,000 keys (10 pages)]}")" "$(median "${OPS[LIST 10,000 versions of a key (10 pages)]}")") x;" \
    "GET with a 20-statement policy / without: $(ratio "$(median "${OPS[GET 4KiB 20-statement policy]}")" "$(median "${OPS[GET 4KiB no policy]}")") x"

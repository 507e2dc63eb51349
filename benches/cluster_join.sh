#!/usr/bin/env bash
# How long an instance joining a cluster takes to be ready, and what it asks of the
# upstream, after many control changes: with the control log compacted behind checkpoints
# (upstream.control_checkpoint_every) and with the whole log kept (0).
#
# Usage: benches/cluster_join.sh [--changes N] [--every "0 1000"] [--rounds N] [--keep] [--out FILE]
#
#   --changes N   access keys created on instance 1 before the second joins (default 3000)
#   --every L     the control_checkpoint_every settings compared (default "0 1000")
#   --rounds N    repeat everything N times (default 1)
#   --keep        keep the temp dir (data, logs, raw results)
#   --out FILE    also write the raw JSON result lines to FILE
#
# For each setting, from a fresh upstream (upstream-direct, a tollgate on local disk):
# instance cluster-1 starts, a tenant and user are made, then --changes access keys one
# after another (cluster_probe.py churn); once cluster-1 has checkpointed (the log holds
# at most twice the interval), cluster-2 starts with an empty data dir and the time from
# its spawn to its /ready answering 200 (it has read the log to its end) is taken, with
# the upstream's requests meanwhile (its /metrics) and the metadata bucket's control
# objects (count and bytes of entries and checkpoints).
#
# Environment: see benches/lib.sh (TOLLGATE_BIN, CARGO_TARGET_DIR, BENCH_CARGO_LOCK,
# BASE_PORT, BENCH_TMPDIR, UPSTREAM_TMPDIR). Only loopback addresses are used; every
# server is stopped on exit.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

CHANGES=3000
EVERY=(0 1000)
ROUNDS=1
KEEP=0
OUT=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --changes) CHANGES="$2"; shift 2 ;;
        --every) read -r -a EVERY <<<"$2"; shift 2 ;;
        --rounds) ROUNDS="$2"; shift 2 ;;
        --keep) KEEP=1; shift ;;
        --out) OUT="$2"; shift 2 ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$ROOT/benches/cluster_join.sh"; exit 0 ;;
        *) echo "cluster_join.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
for v in "$CHANGES" "$ROUNDS"; do
    [[ $v =~ ^[1-9][0-9]*$ ]] || { echo "cluster_join.sh: --changes and --rounds take positive integers" >&2; exit 2; }
done
for v in "${EVERY[@]}"; do
    [[ $v =~ ^[0-9]+$ ]] || { echo "cluster_join.sh: --every takes integers" >&2; exit 2; }
done

# shellcheck source=benches/lib.sh
. "$ROOT/benches/lib.sh"
WORK="$(mktemp -d "${BENCH_TMPDIR:-${TMPDIR:-/tmp}}/tollgate-cluster-join.XXXXXX")"
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

build_tools cluster-1
probe() { AWS_ACCESS_KEY_ID="$AK" AWS_SECRET_ACCESS_KEY="$SK" python3 "$ROOT/benches/cluster_probe.py" "$@"; }
now() { date +%s.%N; }
field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

UPSTREAM_URL="http://$HOST:$UPSTREAM_DIRECT_PORT"
CLUSTER_META_BUCKET=cluster-meta
RAW="$WORK/results.jsonl"
: >"$RAW"
# A joining instance replaying a long log may take more than the usual 30 s.
export READY_SECS=600

for ((round = 1; round <= ROUNDS; round++)); do
    for every in "${EVERY[@]}"; do
        say "round $round/$ROUNDS, control_checkpoint_every = $every: a fresh upstream, $CHANGES changes on cluster-1"
        printf '[upstream]\ncontrol_checkpoint_every = %s\n' "$every" >"$WORK/every-$every.toml"
        export TOLLGATE_CONFIG="$WORK/every-$every.toml"
        start_server upstream-direct 0
        probe mkbucket "$UPSTREAM_URL" "$CLUSTER_META_BUCKET"
        CLUSTER_MASTER_KEY="$(head -c 32 /dev/urandom | base64)"
        start_server cluster-1 1
        tenant_key cluster-1 bench 0
        churn="$(probe churn --tenant bench --user bench --changes "$CHANGES" "http://$HOST:${PORT[cluster-1]}")"
        if (( every > 0 )); then
            # cluster-1 checkpoints at its next poll of the log (every 500 ms).
            for _ in $(seq 1 600); do
                (( $(probe objects "$UPSTREAM_URL" "$CLUSTER_META_BUCKET" .tollgate-control/ | field count) <= 2 * every )) && break
                sleep 0.1
            done
        fi
        entries="$(probe objects "$UPSTREAM_URL" "$CLUSTER_META_BUCKET" .tollgate-control/)"
        checkpoints="$(probe objects "$UPSTREAM_URL" "$CLUSTER_META_BUCKET" .tollgate-control-checkpoints/)"
        before="$(probe counts "$UPSTREAM_URL")"
        t0="$(now)"
        start_server cluster-2 2
        t1="$(now)"
        after="$(probe counts "$UPSTREAM_URL")"
        echo "{\"round\":$round,\"every\":$every,\"churn\":$churn,\"entries\":$entries,\"checkpoints\":$checkpoints,\"join_secs\":$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'),\"before\":$before,\"after\":$after}" >>"$RAW"
        unset TOLLGATE_CONFIG
        for m in cluster-2 cluster-1 upstream-direct; do stop_server "$m"; done
    done
done

echo
machine_line
echo "changes: $CHANGES access keys created on cluster-1 before cluster-2 joins"
echo
python3 - "$RAW" <<'PY'
import json, sys
print("| round | control_checkpoint_every | changes made (per s) | log entries kept (bytes) | checkpoints (bytes) | join: ready after s | upstream GET / LIST during the join |")
print("|---|---|---|---|---|---|---|")
for line in open(sys.argv[1]):
    r = json.loads(line)
    d = {op: r["after"].get(op, 0) - r["before"].get(op, 0) for op in r["after"]}
    gets = d.get("GetObject", 0)
    lists = d.get("ListObjectsV2", 0) + d.get("ListObjects", 0)
    e, c = r["entries"], r["checkpoints"]
    print(f"| {r['round']} | {r['every']} | {r['churn']['changes']} ({r['churn']['per_s']}) | {e['count']} ({e['bytes']:,}) | {c['count']} ({c['bytes']:,}) | {r['join_secs']:.2f} | {gets} / {lists} |")
PY
if [[ -n $OUT ]]; then
    cp "$RAW" "$OUT"
    echo "raw results: $OUT"
fi

#!/usr/bin/env bash
# Where a request's CPU goes in the gateway, in instructions: the gateway runs under
# valgrind's callgrind in front of an upstream tollgate (or alone, on local disk), a
# warm-up is discarded, then OPS requests of one kind at concurrency 1 are counted, and
# the inclusive instruction count per request of the main steps is printed.
#
#   benches/profile.sh                 4 KiB PUTs through the upstream backend
#   PROFILE_BACKEND=local benches/profile.sh
#   PROFILE_WORKLOAD=get OPS=1000 benches/profile.sh
#
# Instruction counts are repeatable (the same binary and inputs give the same figures,
# whatever else the machine does), unlike latencies on this shared 2-core machine, so a
# change to the hot path can be weighed by them. Under valgrind, SHA-256 runs in software
# (no SHA-NI), so hashing steps count more than they cost natively; compare like with like.
# Environment: TOLLGATE_BIN, LOADGEN_BIN (else both are built in release), PROFILE_KEEP=1
# keeps the callgrind output (callgrind_annotate --inclusive=yes FILE for everything).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BACKEND=${PROFILE_BACKEND:-upstream}
WORKLOAD=${PROFILE_WORKLOAD:-put}
OPS=${OPS:-400}
command -v valgrind >/dev/null 2>&1 || { echo "profile: needs valgrind (apt-get install valgrind)" >&2; exit 2; }
if [[ -z ${TOLLGATE_BIN:-} || -z ${LOADGEN_BIN:-} ]]; then
  (cd "$ROOT" && cargo build --release -q --bin tollgate && cargo build --release -q -p loadgen)
fi
TOLLGATE=${TOLLGATE_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/tollgate}
LOADGEN=${LOADGEN_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/loadgen}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tollgate-profile.XXXXXX")
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  if [[ ${PROFILE_KEEP:-0} == 1 ]]; then echo "profile: kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
wait_up() { for _ in $(seq 600); do curl -sf "http://127.0.0.1:$1/health" >/dev/null && return 0; sleep 0.1; done; echo "profile: no server on $1" >&2; exit 1; }

AK=profileaccesskey SK=profilesecretkey0123456789
export TOLLGATE_ROOT_ACCESS_KEY=$AK TOLLGATE_ROOT_SECRET_KEY=$SK
GW_PORT=$(free_port)
upstream_args=()
if [[ $BACKEND == upstream ]]; then
  UP_PORT=$(free_port)
  "$TOLLGATE" serve --listen "127.0.0.1:$UP_PORT" --data-dir "$WORK/upstream" >"$WORK/upstream.log" 2>&1 &
  PIDS+=($!)
  wait_up "$UP_PORT"
  upstream_args=(--upstream "http://$AK:$SK@127.0.0.1:$UP_PORT")
fi
TOLLGATE_UPSTREAM_BUCKET_PREFIX=gw- valgrind --tool=callgrind --callgrind-out-file="$WORK/callgrind.out" \
  "$TOLLGATE" serve --listen "127.0.0.1:$GW_PORT" --data-dir "$WORK/gateway" "${upstream_args[@]}" >"$WORK/gateway.log" 2>&1 &
GW=$!
PIDS+=("$GW")
wait_up "$GW_PORT"

load() { "$LOADGEN" --endpoint "http://127.0.0.1:$GW_PORT" --access-key "$AK" --secret-key "$SK" \
  --workload "$WORKLOAD" --size 4KiB --concurrency 1 --keys 100 "$@" >"$WORK/loadgen.log"; }
load --ops 100
callgrind_control -z "$GW" >/dev/null 2>&1
load --ops "$OPS" --no-populate
callgrind_control -d "$GW" >/dev/null 2>&1
sleep 1
dump=$(ls "$WORK"/callgrind.out.* | sort | tail -n 1)
callgrind_annotate --inclusive=yes "$dump" >"$WORK/annotate.txt" 2>/dev/null

echo "profile: $OPS ${WORKLOAD^^} 4 KiB at concurrency 1, gateway on backend $BACKEND, $(git -C "$ROOT" rev-parse --short HEAD)"
python3 - "$WORK/annotate.txt" "$OPS" <<'EOF'
import re, sys
text, ops = open(sys.argv[1]).read(), int(sys.argv[2])
rows = [(int(m.group(1).replace(",", "")), m.group(2)) for m in re.finditer(r"^\s*([\d,]+) \([\d. ]+%\)\s+(.*)$", text, re.M)]
total = next(n for n, name in rows if name == "PROGRAM TOTALS")
steps = [
    ("whole request (all threads)", None),
    ("S3 request: SigV4 check (s3s)", "SignatureContext::v4_check"),
    ("body hashing (SHA-256, MD5)", "BodyHasher::update"),
    ("upstream request signing (aws-sigv4)", "upstream::client::Client::signed"),
    ("index commit (record, audit entry, proof)", "backend::index::Index::write "),
    ("  sled transaction", "sled::transaction::Transactional::transaction"),
    ("  proof manifest signing (Ed25519)", "proof::manifest::Manifest::sign "),
    ("  proof manifest hash", "proof::manifest::Manifest::hash "),
]
print(f"{'step':<52} {'instructions/request':>20}")
for label, pattern in steps:
    if pattern is None:
        n = total
    else:
        # a function inlined elsewhere has several entries; the largest is its inclusive cost
        found = [n for n, name in rows if pattern in name + " "]
        # steps the workload does not take (below 1,000 per request: incidental matches)
        if not found or max(found) < 1000 * ops:
            continue
        n = max(found)
    print(f"{label:<52} {n / ops:>20,.0f}")
EOF

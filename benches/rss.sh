#!/usr/bin/env bash
# Peak server memory while streaming one large object through it.
#
# Generates a random file (default 1 GiB), uploads it as one PUT (streamed from
# disk by loadgen --file), downloads it back (loadgen --download-to, streamed to
# disk), checks the SHA-256 round trip, and prints each server's peak RSS
# (VmHWM from /proc/PID/status) in MiB. Runs tollgate and, for reference,
# s3s-fs 0.14.1, each with a fresh data dir.
#
# Usage: benches/rss.sh [--servers "tollgate s3s-fs"] [--size 1GiB] [--keep]
#
# Environment: see benches/lib.sh; BENCH_TMPDIR needs about 2 x size free plus
# each server's copy.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

SERVERS=(tollgate s3s-fs)
SIZE_MIB=1024
KEEP=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --servers) read -r -a SERVERS <<<"$2"; shift 2 ;;
        --size)
            case "$2" in
                *GiB|*G) SIZE_MIB=$(( ${2%%G*} * 1024 )) ;;
                *MiB|*M) SIZE_MIB=${2%%M*} ;;
                *) echo "rss.sh: --size takes NMiB or NGiB" >&2; exit 2 ;;
            esac
            shift 2 ;;
        --keep) KEEP=1; shift ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$ROOT/benches/rss.sh"; exit 0 ;;
        *) echo "rss.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
# shellcheck source=benches/lib.sh
. "$ROOT/benches/lib.sh"
check_servers "${SERVERS[@]}"
WORK="$(mktemp -d "${BENCH_TMPDIR:-${TMPDIR:-/tmp}}/tollgate-rss.XXXXXX")"
trap bench_cleanup EXIT
trap 'exit 130' INT TERM
build_tools "${SERVERS[@]}"

SRC="$WORK/object.bin"
echo "== generating ${SIZE_MIB} MiB of random data" >&2
head -c "$((SIZE_MIB * 1024 * 1024))" /dev/urandom >"$SRC"
SRC_SHA="$(sha256sum "$SRC" | cut -d' ' -f1)"

kib() { awk -v k="$2" '$1 == k":" { print $2 }' "/proc/$1/status"; }

declare -A OUT
for s in "${SERVERS[@]}"; do
    start_server "$s" 0
    PID="${PID_OF[$s]}"
    port="${PORT[$s]}"
    idle_kib="$(kib "$PID" VmRSS)"
    echo "== $s up (pid $PID), idle RSS $((idle_kib / 1024)) MiB" >&2
    common=(--endpoint "http://$HOST:$port" --access-key "${KEY_OF[$s]}" --secret-key "${SECRET_OF[$s]}" --bucket rss --key big.bin --timeout 600 --json)
    up="$("$LOADGEN" "${common[@]}" --file "$SRC")"
    echo "   $up" >&2
    after_put_kib="$(kib "$PID" VmHWM)"
    rm -f "$WORK/download.bin"
    down="$("$LOADGEN" "${common[@]}" --download-to "$WORK/download.bin")"
    echo "   $down" >&2
    peak_kib="$(kib "$PID" VmHWM)"
    got_sha="$(sha256sum "$WORK/download.bin" | cut -d' ' -f1)"
    rm -f "$WORK/download.bin"
    if [[ $got_sha == "$SRC_SHA" ]]; then sha=ok; else sha="MISMATCH"; fi
    stop_server "$s"
    mib_s() { sed -nE 's/.*"mib_per_s":([0-9.]+).*/\1/p' <<<"$1"; }
    OUT[$s]="$(printf '%-9s %8s %10s %10s %14s %14s %9s' "$s" "$sha" "$(mib_s "$up")" "$(mib_s "$down")" \
        "$((idle_kib / 1024))" "$((after_put_kib / 1024))" "$((peak_kib / 1024))")"
done

echo
echo "object: ${SIZE_MIB} MiB, sha256 $SRC_SHA"
machine_line
echo
printf '%-9s %8s %10s %10s %14s %14s %9s\n' server sha256 "PUT MiB/s" "GET MiB/s" "idle RSS MiB" "HWM@PUT MiB" "peak MiB"
for s in "${SERVERS[@]}"; do echo "${OUT[$s]}"; done
echo
echo "peak = VmHWM (peak resident set) of the server process after the PUT and the GET."
fail=0
for s in "${SERVERS[@]}"; do [[ ${OUT[$s]} == *MISMATCH* ]] && fail=1; done
exit $fail

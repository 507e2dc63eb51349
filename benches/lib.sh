# shellcheck shell=bash
# Shared by the bench scripts: builds, starts and stops the servers under test.
#
# Servers (names accepted by start_server):
#   tollgate            the release build, defaults (fsync on, proofs on)
#   tollgate-noproofs   the same with proof manifests off (TOLLGATE_PROOFS=false)
#   tollgate-baseline   the same defaults run from BASELINE_BIN, a release build of another
#                       commit: a change measured against its base in one run
#   tollgate-sse        the same as tollgate with encryption at rest on every object
#                       (TOLLGATE_ENCRYPTION_ALWAYS=true: SSE-S3, AES-256-GCM)
#   tollgate-limits     requests signed by a tenant's key (not root) with rate limits and
#                       quotas set on the tenant and the key, far above what is reached
#   tollgate-nolimits   the same tenant key, limiter off (TOLLGATE_LIMITS=false), no quota
#   s3s-fs              s3s-fs 0.14.1, the reference (plain files, no fsync, no metadata db)
#   ceiling             loadgen's in-memory stand-in (benches/loadgen/src/bin/ceiling.rs): the
#                       cheapest server answering the same requests, the loopback ceiling
#   upstream-direct     a tollgate on local disk (defaults) listening on BASE_PORT + 20, measured
#                       directly: the reference for
#   tollgate-upstream   a tollgate (defaults: proofs, fsync of its index) forwarding to
#                       upstream-direct (`serve --upstream`), buckets named gw-B there
#   tollgate-upstream-nofsync  the same without syncing its index (TOLLGATE_FSYNC=false):
#                       what the gateway adds besides its own fsync
#   cluster-I           (I = 1, 2, ...) instance I of a cluster on upstream-direct: as
#                       tollgate-upstream, with upstream.instance = its name, the metadata
#                       bucket CLUSTER_META_BUCKET (created on upstream-direct beforehand) and
#                       the master key CLUSTER_MASTER_KEY (base64) shared by every instance;
#                       ready when /ready answers 200 (it has read the control log)
#
# Each server's credentials are in KEY_OF[name] and SECRET_OF[name].
#
# Environment: TOLLGATE_BIN (use this binary instead of building one), CARGO_TARGET_DIR
# (where cargo puts the release builds; default target/ in the repo), BENCH_CARGO_LOCK (a
# file: builds run under `flock` of it, for a target dir shared with others), BASE_PORT
# (default 19001: servers get consecutive ports), BENCH_TMPDIR (parent of the temp dir),
# UPSTREAM_TMPDIR (parent of upstream-direct's data dir instead; e.g. /dev/shm, so that
# its fsyncs do not queue on the gateway's disk, as with an upstream on other machines).

AK="benchaccesskey"
SK="benchsecretkey0123456789"
HOST=127.0.0.1
BASE_PORT="${BASE_PORT:-19001}"
KNOWN_SERVERS="tollgate tollgate-noproofs tollgate-baseline tollgate-sse tollgate-limits tollgate-nolimits s3s-fs ceiling upstream-direct tollgate-upstream tollgate-upstream-nofsync"
UPSTREAM_DIRECT_PORT=$((BASE_PORT + 20))
PIDS=()
declare -A PORT PID_OF KEY_OF SECRET_OF DIR_OF

bench_name="$(basename "$0" .sh)"
say() { echo "$bench_name: $*" >&2; }

# SIGTERM, then SIGKILL if the process is still there after 10 s.
stop_pid() {
    local _
    kill "$1" 2>/dev/null || return 0
    for _ in $(seq 1 100); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$1" 2>/dev/null; then
        say "pid $1 ignored SIGTERM for 10 s; sending SIGKILL"
        kill -9 "$1" 2>/dev/null || true
    fi
    wait "$1" 2>/dev/null || true
}

# The EXIT trap: stops every server started, removes WORK unless KEEP=1.
# shellcheck disable=SC2317  # called through the EXIT trap
bench_cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
    if [[ ${KEEP:-0} == 1 ]]; then say "kept $WORK"; else rm -rf "$WORK" "${DIR_OF[@]}"; fi
}

port_in_use() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

check_servers() { # server...
    local s
    for s in "$@"; do
        [[ " $KNOWN_SERVERS " == *" $s "* ]] || { say "unknown server '$s' (known: $KNOWN_SERVERS)"; exit 2; }
    done
}

# cargo build --release ARGS, under flock BENCH_CARGO_LOCK when set.
cargo_release() { # args...
    if [[ -n ${BENCH_CARGO_LOCK:-} ]]; then
        flock "$BENCH_CARGO_LOCK" cargo build --release "$@" >&2
    else
        cargo build --release "$@" >&2
    fi
}

# Builds loadgen and, if a tollgate variant (or a cluster) is among the servers, tollgate
# (release); installs s3s-fs if it is among them and missing. Sets LOADGEN, TOLLGATE, S3SFS.
build_tools() { # server...
    say "building loadgen"
    cargo_release -p loadgen
    LOADGEN="${CARGO_TARGET_DIR:-$ROOT/target}/release/loadgen"
    CEILING="${CARGO_TARGET_DIR:-$ROOT/target}/release/ceiling"
    TOLLGATE="${TOLLGATE_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/tollgate}"
    if [[ " $* " == *" tollgate"* || " $* " == *" cluster-"* ]] && [[ -z ${TOLLGATE_BIN:-} ]]; then
        say "building tollgate"
        cargo_release --bin tollgate
    fi
    if [[ " $* " == *" s3s-fs "* ]]; then
        if ! command -v s3s-fs >/dev/null; then
            say "installing s3s-fs 0.14.1"
            cargo install s3s-fs --version 0.14.1 --features binary --locked >&2
        fi
        S3SFS="$(command -v s3s-fs || echo "$HOME/.cargo/bin/s3s-fs")"
    fi
}

wait_ready() { # name pid url want  (want: a status code, or "any"); READY_SECS: how long (30)
    local code _
    for _ in $(seq 1 $(( ${READY_SECS:-30} * 10 ))); do
        if ! kill -0 "$2" 2>/dev/null; then
            say "$1 exited during startup; log:"
            tail -n 30 "$WORK/$1.log" >&2
            return 1
        fi
        code="$(curl -s -o /dev/null -m 1 -w '%{http_code}' "$3" 2>/dev/null || true)"
        if [[ $4 == any && $code =~ ^[1-5][0-9][0-9]$ ]] || [[ $code == "$4" ]]; then
            return 0
        fi
        sleep 0.1
    done
    say "$1 not ready at $3 after ${READY_SECS:-30} s (last status: ${code:-none})"
    return 1
}

# Starts server NAME on the INDEX-th port with a fresh data dir; sets PORT[NAME], PID_OF[NAME].
start_server() { # name index
    local name="$1" port=$((BASE_PORT + $2)) dir="$WORK/$1-data" pid
    if [[ $name == upstream-direct ]]; then
        port=$UPSTREAM_DIRECT_PORT
        [[ -n ${UPSTREAM_TMPDIR:-} ]] && dir="$(mktemp -d "$UPSTREAM_TMPDIR/tollgate-upstream.XXXXXX")"
    fi
    mkdir -p "$dir"
    DIR_OF[$name]="$dir"
    if port_in_use "$port"; then say "port $port busy"; exit 1; fi
    case "$name" in
        tollgate-upstream | tollgate-upstream-nofsync | cluster-*)
            # Its upstream may start after it (not a cluster's): nothing is forwarded before
            # the load begins. A cluster's instance reads the control log before it is ready.
            local fsync=true ready=health cluster=()
            [[ $name == tollgate-upstream-nofsync ]] && fsync=false
            if [[ $name == cluster-* ]]; then
                ready=ready
                cluster=(TOLLGATE_UPSTREAM_META_BUCKET="$CLUSTER_META_BUCKET" TOLLGATE_UPSTREAM_INSTANCE="$name" TOLLGATE_MASTER_KEY="$CLUSTER_MASTER_KEY")
            fi
            env "${cluster[@]}" TOLLGATE_FSYNC="$fsync" TOLLGATE_ROOT_ACCESS_KEY="$AK" TOLLGATE_ROOT_SECRET_KEY="$SK" TOLLGATE_UPSTREAM_BUCKET_PREFIX=gw- \
                "$TOLLGATE" serve --listen "$HOST:$port" --data-dir "$dir" --upstream "http://$AK:$SK@$HOST:$UPSTREAM_DIRECT_PORT" \
                >"$WORK/$name.log" 2>&1 &
            pid=$!
            PIDS+=("$pid")
            wait_ready "$name" "$pid" "http://$HOST:$port/$ready" 200
            ;;
        tollgate* | upstream-direct)
            local proofs=true limits=true sse=false bin="$TOLLGATE"
            [[ $name == tollgate-baseline ]] && bin="${BASELINE_BIN:?tollgate-baseline needs BASELINE_BIN, a release build of the commit to compare with}"
            [[ $name == tollgate-noproofs ]] && proofs=false
            [[ $name == tollgate-nolimits ]] && limits=false
            [[ $name == tollgate-sse ]] && sse=true
            TOLLGATE_PROOFS="$proofs" TOLLGATE_LIMITS="$limits" TOLLGATE_ENCRYPTION_ALWAYS="$sse" \
                TOLLGATE_ROOT_ACCESS_KEY="$AK" TOLLGATE_ROOT_SECRET_KEY="$SK" \
                "$bin" serve --listen "$HOST:$port" --data-dir "$dir" >"$WORK/$name.log" 2>&1 &
            pid=$!
            PIDS+=("$pid")
            wait_ready "$name" "$pid" "http://$HOST:$port/health" 200
            ;;
        ceiling)
            "$CEILING" --listen "$HOST:$port" >"$WORK/$name.log" 2>&1 &
            pid=$!
            PIDS+=("$pid")
            wait_ready "$name" "$pid" "http://$HOST:$port/" any
            ;;
        s3s-fs)
            "$S3SFS" --host "$HOST" --port "$port" --access-key "$AK" --secret-key "$SK" "$dir" \
                >"$WORK/$name.log" 2>&1 &
            pid=$!
            PIDS+=("$pid")
            wait_ready "$name" "$pid" "http://$HOST:$port/" any
            ;;
    esac
    PORT[$name]=$port
    PID_OF[$name]=$pid
    KEY_OF[$name]=$AK
    SECRET_OF[$name]=$SK
    case "$name" in
        tollgate-limits | tollgate-nolimits)
            local rate=1000000
            [[ $name == tollgate-nolimits ]] && rate=0
            tenant_key "$name" bench "$rate"
            KEY_OF[$name]=$TENANT_KEY
            SECRET_OF[$name]=$TENANT_SECRET
            ;;
    esac
    say "$name up on $HOST:$port (pid $pid, data $dir)"
}

# The admin CLI against server NAME, as root.
admin() { # name args...
    local name=$1
    shift
    AWS_ACCESS_KEY_ID="$AK" AWS_SECRET_ACCESS_KEY="$SK" "$TOLLGATE" admin --endpoint "http://$HOST:${PORT[$name]}" "$@"
}

# Creates tenant TENANT with an admin user and key on server NAME; sets TENANT_KEY and
# TENANT_SECRET. With RATE > 0, sets every rate limit of the tenant and the key to RATE per
# second (bytes: RATE MiB/s) and quotas of 1 PB / 10^12 objects on the tenant.
tenant_key() { # name tenant rate
    local name=$1 tenant=$2 rate=$3 created
    admin "$name" tenant create "$tenant" >/dev/null
    admin "$name" user create --tenant "$tenant" --role admin "$tenant" >/dev/null
    created="$(admin "$name" --json key create --tenant "$tenant" --user "$tenant")"
    TENANT_KEY="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["access_key"])' <<<"$created")"
    TENANT_SECRET="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["secret_key"])' <<<"$created")"
    if (( rate > 0 )); then
        local rates=(--read-requests "$rate" --write-requests "$rate" --read-bytes "$((rate << 20))" --write-bytes "$((rate << 20))")
        admin "$name" limits set --tenant "$tenant" "${rates[@]}" >/dev/null
        admin "$name" limits set --key "$TENANT_KEY" "${rates[@]}" >/dev/null
        admin "$name" quota set --tenant "$tenant" --max-bytes 1000000000000000 --max-objects 1000000000000 >/dev/null
    fi
}

# Stops server NAME and removes its data dir.
stop_server() { # name
    stop_pid "${PID_OF[$1]}"
    rm -rf "${DIR_OF[$1]}"
}

machine_line() {
    echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r), $(rustc --version)"
}

#!/usr/bin/env bash
# The compat suites against a three-instance cluster, over HTTPS, through a round-robin proxy
# (issue 27): one upstream (a tollgate on local disk, or moto_server), three gateways in front
# of it sharing one metadata bucket (README, "Several gateways on one upstream", "One control
# plane", "Membership"), the same master key and the same root keys, each with a distinct
# upstream.instance and each serving HTTPS ([tls]) with one certificate for 127.0.0.1 and
# localhost, signed by a test CA made here with openssl; compat/rr_proxy.py in front of the
# three passes each TCP connection to the next instance in turn (TLS end to end). The suites
# run through compat/run.sh with COMPAT_EXTERNAL=1, S3_ENDPOINT=https://127.0.0.1:PROXYPORT
# and the CA trusted (COMPAT_CA_BUNDLE: aws-cli and boto3 through AWS_CA_BUNDLE, rclone
# --ca-cert, s3cmd ca_certs_file, curl and Python's ssl through CURL_CA_BUNDLE / SSL_CERT_FILE).
#
#   TOLLGATE_BIN=target/debug/tollgate compat/cluster.sh               awscli boto3 rclone s3cmd
#   TOLLGATE_BIN=... compat/cluster.sh boto3 rclone                    only those suites
#   CLUSTER_UPSTREAM=moto                the upstream is moto_server (python moto[server]), gateway
#                                        bucket B stored as gw-B, as COMPAT_UPSTREAM=moto does
#                                        (default: tollgate, every bucket inside one upstream bucket)
#   CLUSTER_KEEP=1                       keep the run directory (logs, CA, configs)
#
# Builds nothing: TOLLGATE_BIN (default ${CARGO_TARGET_DIR:-target}/debug/tollgate) must exist.
# The last line is "cluster: N passed, M failed" (N, M count suites); exit 1 if any failed.
set -euo pipefail

COMPAT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$COMPAT_DIR/.." && pwd)
ALL_SUITES=(awscli boto3 rclone s3cmd)
if [ $# -gt 0 ]; then SUITES=("$@"); else SUITES=("${ALL_SUITES[@]}"); fi
for s in "${SUITES[@]}"; do
  case " ${ALL_SUITES[*]} " in *" $s "*) ;; *) echo "cluster: unknown suite '$s' (known: ${ALL_SUITES[*]})" >&2; exit 2 ;; esac
done
N_INSTANCES=3
MODE=${CLUSTER_UPSTREAM:-tollgate}
case "$MODE" in
  tollgate | moto) ;;
  *) echo "cluster: CLUSTER_UPSTREAM must be tollgate or moto, not '$MODE'" >&2; exit 2 ;;
esac
TOLLGATE_BIN=${TOLLGATE_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/debug/tollgate}
case "$TOLLGATE_BIN" in /*) ;; *) TOLLGATE_BIN="$PWD/$TOLLGATE_BIN" ;; esac

# shellcheck source=compat/net.sh
. "$COMPAT_DIR/net.sh"

RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/tollgate-cluster.XXXXXX")
UPSTREAM_LOG=$RUN_DIR/upstream.log
PROXY_OUT=$RUN_DIR/proxy.out
PROXY_LOG=$RUN_DIR/proxy.log
UPSTREAM_PID=""
PROXY_PID=""
INSTANCE_PIDS=()
INSTANCE_PORTS=()

cleanup() {
  stop_pid "$PROXY_PID"
  local pid
  for pid in "${INSTANCE_PIDS[@]}"; do stop_pid "$pid"; done
  stop_pid "$UPSTREAM_PID"
  if [ "${CLUSTER_KEEP:-0}" = 1 ]; then echo "cluster: kept $RUN_DIR"; else rm -rf "$RUN_DIR"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

instance_log() { echo "$RUN_DIR/i$1/server.log"; }
show_log() { # file title [lines]
  [ -s "$1" ] || return 0
  echo "---- last lines of the $2 log ($1) ----"
  tail -n "${3:-40}" "$1"
  echo "----"
}
show_logs() {
  local i
  for i in $(seq "$N_INSTANCES"); do show_log "$(instance_log "$i")" "instance i$i"; done
  show_log "$UPSTREAM_LOG" "upstream ($MODE)" 20
  show_log "$PROXY_LOG" "proxy" 20
}
give_up() { # message: no suite can run
  echo "cluster: $1"
  show_logs
  echo "cluster: 0 passed, ${#SUITES[@]} failed"
  exit 1
}
# poll_until SECONDS PID WHAT CMD...: CMD succeeds within SECONDS while PID lives; else give up
poll_until() {
  local secs=$1 pid=$2 what=$3 deadline
  shift 3
  deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    pid_alive "$pid" || give_up "$what: the process (pid $pid) exited"
    [ $SECONDS -lt $deadline ] || give_up "$what: not within ${secs}s"
    sleep 0.1
  done
}
http_200() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$@")" = 200 ]; }

[ -x "$TOLLGATE_BIN" ] || give_up "$TOLLGATE_BIN is not an executable (build it first: cargo build --bin tollgate)"
for tool in openssl curl python3; do command -v "$tool" >/dev/null || give_up "$tool is not installed"; done
echo "cluster: $N_INSTANCES instances of $TOLLGATE_BIN on one upstream ($MODE), HTTPS, round-robin proxy; run dir $RUN_DIR"

# --- the test CA and the instances' certificate ---------------------------------------------
CA_DIR=$RUN_DIR/ca
mkdir -p "$CA_DIR"
(
  cd "$CA_DIR"
  openssl ecparam -name prime256v1 -genkey -noout -out ca.key
  openssl req -x509 -new -key ca.key -sha256 -days 2 -subj "/CN=tollgate cluster test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" -out ca.pem
  openssl ecparam -name prime256v1 -genkey -noout -out server.ec.key
  openssl pkcs8 -topk8 -nocrypt -in server.ec.key -out server.key
  openssl req -new -key server.key -subj "/CN=tollgate cluster test server" -out server.csr
  cat >server.ext <<'EXT'
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EXT
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -sha256 \
    -extfile server.ext -out server.pem
  chmod 600 ca.key server.key server.ec.key
) >"$CA_DIR/openssl.log" 2>&1 || { cat "$CA_DIR/openssl.log"; give_up "openssl could not make the test CA"; }
CA=$CA_DIR/ca.pem
openssl verify -CAfile "$CA" "$CA_DIR/server.pem" >/dev/null || give_up "the server certificate does not verify against the test CA"
echo "cluster: test CA $CA; one certificate (IP 127.0.0.1, DNS localhost) for the three instances"

# --- the upstream -------------------------------------------------------------------------
UPSTREAM_PORT=$(free_port)
UPSTREAM_URL="http://127.0.0.1:$UPSTREAM_PORT"
META_BUCKET=tgc-cluster-meta
# Nothing inherited may pick another mapping, config or key for the processes started here.
UNSET_TG_VARS=()
while read -r v; do UNSET_TG_VARS+=(-u "$v"); done < <(compgen -e | grep '^TOLLGATE_' || true)
case "$MODE" in
  tollgate)
    UPSTREAM_AK=TGCLUSTERUPSTREAMK01
    UPSTREAM_SK=tgcluster-upstream-secret-0123456789abcdef
    UPSTREAM_BUCKET=tgc-upstream
    MAPPING="bucket = \"$UPSTREAM_BUCKET\""
    mkdir -p "$RUN_DIR/upstream-data"
    echo "cluster: starting the upstream: $TOLLGATE_BIN serve --listen 127.0.0.1:$UPSTREAM_PORT (local disk)"
    env "${UNSET_TG_VARS[@]}" TOLLGATE_ROOT_ACCESS_KEY=$UPSTREAM_AK TOLLGATE_ROOT_SECRET_KEY=$UPSTREAM_SK \
      "$TOLLGATE_BIN" serve --listen "127.0.0.1:$UPSTREAM_PORT" --data-dir "$RUN_DIR/upstream-data" \
      >"$UPSTREAM_LOG" 2>&1 </dev/null &
    UPSTREAM_PID=$!
    poll_until 30 "$UPSTREAM_PID" "the upstream tollgate's /health" http_200 "$UPSTREAM_URL/health"
    UPSTREAM_BUCKETS=("$UPSTREAM_BUCKET" "$META_BUCKET")
    ;;
  moto)
    python3 -c 'import moto.server, flask, flask_cors' 2>/dev/null ||
      give_up "CLUSTER_UPSTREAM=moto needs moto_server: pip install 'moto[server]' (.ci/install-tools.sh does)"
    # moto checks no signature: any keys do
    UPSTREAM_AK=tgcluster-moto
    UPSTREAM_SK=tgcluster-moto-secret
    MAPPING='bucket_prefix = "gw-"'
    echo "cluster: starting the upstream: python3 -m moto.server -H 127.0.0.1 -p $UPSTREAM_PORT"
    python3 -m moto.server -H 127.0.0.1 -p "$UPSTREAM_PORT" >"$UPSTREAM_LOG" 2>&1 </dev/null &
    UPSTREAM_PID=$!
    # moto has no /health: an anonymous ListBuckets answers 200 once it serves S3
    poll_until 30 "$UPSTREAM_PID" "moto_server's ListBuckets" http_200 "$UPSTREAM_URL/"
    UPSTREAM_BUCKETS=("$META_BUCKET")
    ;;
esac
echo "cluster: upstream ($MODE) up at $UPSTREAM_URL (pid $UPSTREAM_PID); creating ${UPSTREAM_BUCKETS[*]} in it"
python3 - "$UPSTREAM_URL" "$UPSTREAM_AK" "$UPSTREAM_SK" "${UPSTREAM_BUCKETS[@]}" <<'PY' || give_up "could not create the upstream buckets"
import sys
import boto3
from botocore.config import Config
url, ak, sk, *buckets = sys.argv[1:]
s3 = boto3.client("s3", endpoint_url=url, aws_access_key_id=ak, aws_secret_access_key=sk, region_name="us-east-1",
                  config=Config(s3={"addressing_style": "path"}))
for b in buckets:
    s3.create_bucket(Bucket=b)
PY

# --- three instances ------------------------------------------------------------------------
ROOT_AK=TGCLUSTERROOTKEY0001
ROOT_SK=tgcluster-root-secret-0123456789abcdefghij
MASTER_KEY=$(openssl rand -base64 32)
for i in $(seq "$N_INSTANCES"); do
  dir=$RUN_DIR/i$i
  mkdir -p "$dir/data"
  port=$(free_port)
  INSTANCE_PORTS+=("$port")
  cat >"$dir/tollgate.toml" <<TOML
listen = "127.0.0.1:$port"
data_dir = "$dir/data"
backend = "upstream"

[tls]
cert = "$CA_DIR/server.pem"
key = "$CA_DIR/server.key"

[upstream]
endpoint = "$UPSTREAM_URL"
access_key = "$UPSTREAM_AK"
secret_key = "$UPSTREAM_SK"
$MAPPING
meta_bucket = "$META_BUCKET"
instance = "i$i"
# membership (and the quota counts in heartbeats) settles within a second
heartbeat_secs = 1
TOML
  echo "cluster: starting instance i$i: $TOLLGATE_BIN serve --config $dir/tollgate.toml (https://127.0.0.1:$port)"
  # the same root keys and master key (TOLLGATE_MASTER_KEY) on every instance
  env "${UNSET_TG_VARS[@]}" TOLLGATE_ROOT_ACCESS_KEY=$ROOT_AK TOLLGATE_ROOT_SECRET_KEY=$ROOT_SK TOLLGATE_MASTER_KEY="$MASTER_KEY" \
    "$TOLLGATE_BIN" serve --config "$dir/tollgate.toml" >"$(instance_log "$i")" 2>&1 </dev/null &
  INSTANCE_PIDS+=($!)
done
for i in $(seq "$N_INSTANCES"); do
  # /ready over HTTPS, the certificate verified against the test CA
  poll_until 30 "${INSTANCE_PIDS[$((i - 1))]}" "instance i$i's /ready over HTTPS" \
    http_200 --cacert "$CA" "https://127.0.0.1:${INSTANCE_PORTS[$((i - 1))]}/ready"
done
echo "cluster: the $N_INSTANCES instances answer /ready over HTTPS"
# every instance counts the others live (heartbeats through the metadata bucket)
all_live() { curl -s --max-time 2 --cacert "$CA" "https://127.0.0.1:$1/metrics" | grep -qx "tollgate_cluster_live_instances $N_INSTANCES"; }
for i in $(seq "$N_INSTANCES"); do
  poll_until 30 "${INSTANCE_PIDS[$((i - 1))]}" "instance i$i seeing $N_INSTANCES live instances (tollgate_cluster_live_instances)" \
    all_live "${INSTANCE_PORTS[$((i - 1))]}"
done
"$TOLLGATE_BIN" admin --endpoint "https://127.0.0.1:${INSTANCE_PORTS[0]}" --ca-bundle "$CA" \
  --access-key "$ROOT_AK" --secret-key "$ROOT_SK" cluster || give_up "tollgate admin cluster failed"

# --- the round-robin proxy ------------------------------------------------------------------
BACKENDS=()
for port in "${INSTANCE_PORTS[@]}"; do BACKENDS+=("127.0.0.1:$port"); done
python3 "$COMPAT_DIR/rr_proxy.py" --parent $$ "${BACKENDS[@]}" >"$PROXY_OUT" 2>"$PROXY_LOG" </dev/null &
PROXY_PID=$!
proxy_port() { sed -n 's/^rr_proxy: listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$PROXY_OUT"; }
poll_until 10 "$PROXY_PID" "the proxy's port" grep -q '^rr_proxy: listening on' "$PROXY_OUT"
PROXY_PORT=$(proxy_port)
ENDPOINT="https://127.0.0.1:$PROXY_PORT"
# one connection per instance through the proxy
for _ in $(seq "$N_INSTANCES"); do
  poll_until 10 "$PROXY_PID" "GET $ENDPOINT/health through the proxy" http_200 --cacert "$CA" "$ENDPOINT/health"
done
echo "cluster: round-robin proxy at $ENDPOINT (pid $PROXY_PID) -> ${BACKENDS[*]}"

# --- the suites -----------------------------------------------------------------------------
cluster_alive() { # the instances, the upstream and the proxy; names what died
  local i dead=()
  for i in $(seq "$N_INSTANCES"); do pid_alive "${INSTANCE_PIDS[$((i - 1))]}" || dead+=("instance i$i"); done
  pid_alive "$UPSTREAM_PID" || dead+=("upstream ($MODE)")
  pid_alive "$PROXY_PID" || dead+=(proxy)
  [ ${#dead[@]} -eq 0 ] && return 0
  echo "cluster: died: ${dead[*]}"
  return 1
}
# What a cluster does not offer (README, "One control plane": the object index is per
# instance) is not checked here: versions (recorded by the instance that wrote them),
# object ACLs (likewise), and a keyring key disabled on one instance refused by the very next request on another (in
# force within the control log's bound, 2 s, not at once). The suites run them all
# against one instance.
export COMPAT_SKIP_CHECKS='^(awscli|rclone): versioning: |^awscli: s3 cp --acl public-read|^(awscli|boto3): sse-kms: keyring key'
export COMPAT_SKIP_REASON="not offered by a cluster (the object index is per instance: README, One control plane)"
# The suites' own cleanup runs through the cluster too; only the suites' verdicts count.
passed=0
failed=0
failed_names=()
for s in "${SUITES[@]}"; do
  echo
  echo "##### cluster suite: $s (compat/run.sh, COMPAT_EXTERNAL=1, S3_ENDPOINT=$ENDPOINT) #####"
  start=$SECONDS
  set +e
  env -u COMPAT_UPSTREAM COMPAT_EXTERNAL=1 COMPAT_EXTERNAL_UPSTREAM="$MODE" S3_ENDPOINT="$ENDPOINT" \
    AWS_ACCESS_KEY_ID=$ROOT_AK AWS_SECRET_ACCESS_KEY=$ROOT_SK TOLLGATE_BIN="$TOLLGATE_BIN" \
    COMPAT_CA_BUNDLE="$CA" AWS_CA_BUNDLE="$CA" \
    bash "$COMPAT_DIR/run.sh" "$s"
  rc=$?
  set -e
  if ! cluster_alive; then
    show_logs
    rc=1
  fi
  if [ $rc -eq 0 ]; then
    passed=$((passed + 1))
    echo "##### cluster $s: PASS ($((SECONDS - start))s) #####"
  else
    failed=$((failed + 1))
    failed_names+=("$s")
    echo "##### cluster $s: FAIL (exit $rc, $((SECONDS - start))s) #####"
    cluster_alive >/dev/null || break
  fi
done
ran=$((passed + failed))
if [ "$ran" -lt "${#SUITES[@]}" ]; then
  echo "cluster: $((${#SUITES[@]} - ran)) suite(s) not run: part of the cluster died"
  failed=$((failed + ${#SUITES[@]} - ran))
fi

echo
if [ $failed -gt 0 ]; then
  echo "cluster: failed suites: ${failed_names[*]}"
  # what the instances logged at WARN or ERROR, the first lines of each
  for i in $(seq "$N_INSTANCES"); do
    if grep -qE 'WARN|ERROR' "$(instance_log "$i")"; then
      echo "---- instance i$i: WARN/ERROR lines ($(instance_log "$i")) ----"
      grep -E 'WARN|ERROR' "$(instance_log "$i")" | head -n 40
      echo "----"
    fi
  done
fi
stop_pid "$PROXY_PID"
cat "$PROXY_LOG" 2>/dev/null || true
PROXY_PID=""
echo "cluster: $passed passed, $failed failed"
[ $failed -eq 0 ]

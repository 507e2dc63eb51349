#!/usr/bin/env bash
# An operator's day with the tollgate binary, following the README's "Operations" and
# "Moving buckets between backends" as written: a gateway on local disk, configured by a
# file with an [upstream] (a second tollgate), filled by aws-cli; its jobs listed and run
# with `tollgate admin jobs`; stopped; one bucket moved upstream with `tollgate migrate`
# (a dry run first, then a run killed half-way and run again, which resumes); the gateway
# started again serving that bucket from the upstream and the others from disk; then every
# bucket moved, the old backend refused, and the gateway serving everything from the
# upstream, each object as written and its proof verifying. Last, a gateway whose disk
# fills up (a small tmpfs: needs root, or sudo) turns not ready, refuses writes with a clear
# 503 and keeps nothing of them, and recovers once space is freed; filled again until its
# metadata store meets it, it refuses with 503 and serves again after a restart.
#
#   TOLLGATE_BIN=target/debug/tollgate compat/operator.sh
#
# The last line is "operator: N passed, M failed"; exit 1 if anything failed.
set -euo pipefail
# shellcheck source=compat/net.sh
. "$(dirname "${BASH_SOURCE[0]}")/net.sh"
PORT=$(free_port)
UPSTREAM_PORT=$(free_port)
UPSTREAM_URL=http://127.0.0.1:$UPSTREAM_PORT
UP_AK=TGOPERATORUPSTREAM01
UP_SK=operator-upstream-secret-0123456789abcdef
export S3_ENDPOINT=http://127.0.0.1:$PORT
export AWS_ACCESS_KEY_ID=TGOPERATORROOTKEY001
export AWS_SECRET_ACCESS_KEY=operator-root-secret-0123456789abcdefgh

SUITE=operator
# shellcheck source=compat/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
command -v aws >/dev/null || { echo "FAIL $SUITE: aws not installed"; exit 1; }
private_aws_config

CFG=$WORK/tollgate.toml
GATEWAY_CONFIG=$CFG
GATEWAY_READY_URL=$S3_ENDPOINT/ready
# shellcheck source=compat/gateway.sh
. "$COMPAT_DIR/gateway.sh"
SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; fi
UPSTREAM_PID=""
cleanup() {
  for pid in "$(cat "$GATEWAY_PID_FILE" 2>/dev/null)" "$(cat "$WORK/migrate.pid" 2>/dev/null)"; do
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
  done
  if [ -f "$WORK/small.pid" ]; then
    kill "$(cat "$WORK/small.pid")" 2>/dev/null || true
    sleep 0.5
  fi
  if mountpoint -q "$WORK/small-disk" 2>/dev/null; then $SUDO umount "$WORK/small-disk" || true; fi
  if [ -n "$UPSTREAM_PID" ]; then
    kill "$UPSTREAM_PID" 2>/dev/null || true
    wait "$UPSTREAM_PID" 2>/dev/null || true
  fi
  cleanup_work
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The upstream: a second tollgate on local disk with its own root key.
TOLLGATE_ROOT_ACCESS_KEY=$UP_AK TOLLGATE_ROOT_SECRET_KEY=$UP_SK \
  "$TOLLGATE_BIN" serve --listen "127.0.0.1:$UPSTREAM_PORT" --data-dir "$WORK/upstream-data" \
  >"$WORK/upstream.log" 2>&1 </dev/null &
UPSTREAM_PID=$!
wait_ready "$UPSTREAM_URL/ready" "$UPSTREAM_PID" || { echo "FAIL $SUITE: the upstream did not start"; tail "$WORK/upstream.log"; exit 1; }

# The gateway's file, as an operator writes it: local disk, an [upstream] to migrate to.
write_config() { # backend
  cat >"$CFG" <<EOF
listen = "127.0.0.1:$PORT"
data_dir = "$WORK/gateway-data"
backend = "$1"

[upstream]
endpoint = "$UPSTREAM_URL"
access_key = "$UP_AK"
secret_key = "$UP_SK"
bucket_prefix = "gw-"
EOF
}
write_config local

s3() { aws --endpoint-url "$S3_ENDPOINT" s3 "$@"; }
tollgate() { "$TOLLGATE_BIN" "$@"; }
# upstream_list BUCKET: the upstream's own listing of BUCKET, with its own key (curl signs;
# the empty body's SHA-256 is given because curl 7.x does not send it)
upstream_list() {
  curl -sf --aws-sigv4 "aws:amz:us-east-1:s3" --user "$UP_AK:$UP_SK" \
    -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
    "$UPSTREAM_URL/$1?list-type=2&max-keys=1000"
}
# upstream_keys BUCKET: how many keys the upstream holds in BUCKET (0 if it does not exist)
upstream_keys() {
  local xml
  xml=$(upstream_list "$1") || { echo 0; return 0; }
  python3 -c 'import sys; print(sys.stdin.read().count("<Key>"))' <<<"$xml"
}

LOGS=logs
MEDIA=media
N_LOGS=150
mkdir -p "$WORK/logs-src" "$WORK/media-src"
python3 - "$WORK/logs-src" "$N_LOGS" <<'PY'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    os.makedirs(f"{d}/day-{i % 5}", exist_ok=True)
    with open(f"{d}/day-{i % 5}/entry-{i:04d}.log", "wb") as f:
        f.write(os.urandom(16 * 1024 + i))
PY
head -c $((20 * 1024 * 1024 + 7)) /dev/urandom >"$WORK/media-src/film.bin"
printf 'poster\n' >"$WORK/media-src/poster.txt"

echo "$SUITE: gateway $S3_ENDPOINT (config $CFG), upstream tollgate $UPSTREAM_URL"

t_fill() {
  start_gateway
  s3 mb "s3://$LOGS"
  s3 mb "s3://$MEDIA"
  s3 cp --recursive --quiet "$WORK/logs-src" "s3://$LOGS/"
  # 20 MiB: aws-cli uploads it in parts
  s3 cp --quiet "$WORK/media-src/film.bin" "s3://$MEDIA/film.bin"
  s3 cp --quiet --content-type text/plain --metadata owner=ops "$WORK/media-src/poster.txt" "s3://$MEDIA/poster.txt"
  assert_eq "$N_LOGS" "$(s3 ls --recursive "s3://$LOGS/" | wc -l)" "objects in $LOGS"
}

t_jobs() {
  local table json
  table=$(tollgate admin --endpoint "$S3_ENDPOINT" jobs)
  for job in upload_expiry reconcile scrub audit_retention; do
    assert_contains "$table" "$job" "tollgate admin jobs"
  done
  tollgate admin --endpoint "$S3_ENDPOINT" jobs run reconcile
  json=$(tollgate admin --endpoint "$S3_ENDPOINT" --json jobs)
  python3 - "$json" <<'PY'
import json, sys
jobs = json.loads(sys.argv[1])
reconcile = [j for j in jobs if j["name"] == "reconcile"]
assert reconcile, f"no reconcile job in {jobs}"
assert reconcile[0]["runs"] >= 1 and reconcile[0]["last_ok"] is True, f"reconcile's run: {reconcile[0]}"
PY
}

t_stop() { stop_gateway; }

t_dry_run() {
  local report
  report=$(tollgate migrate --config "$CFG" --from local --to upstream --bucket "$LOGS" --dry-run 2>"$WORK/dry.err")
  assert_eq "$N_LOGS" "$(pyj 'd["copied"]' <<<"$report")" "objects a dry run would copy"
  assert_eq 0 "$(pyj 'd["failed"]' <<<"$report")" "failures in a dry run"
  assert_eq False "$(pyj 'd["switched"]' <<<"$report")" "a dry run switches nothing"
  # nothing was written upstream
  if upstream_list "gw-$LOGS" >/dev/null; then
    fail "the dry run created the upstream bucket gw-$LOGS"
  fi
}

t_interrupted_then_resumed() {
  local held report rc=0
  # One object at a time, killed as soon as the upstream holds some of them.
  "$TOLLGATE_BIN" migrate --config "$CFG" --from local --to upstream --bucket "$LOGS" --parallel 1 \
    >"$WORK/first.out" 2>"$WORK/first.err" &
  MIGRATE_PID=$!
  echo "$MIGRATE_PID" >"$WORK/migrate.pid"
  held=0
  for _ in $(seq 600); do
    held=$(upstream_keys "gw-$LOGS")
    [ "$held" -ge 3 ] && break
    kill -0 "$MIGRATE_PID" 2>/dev/null || break
    sleep 0.05
  done
  kill -9 "$MIGRATE_PID" 2>/dev/null || fail "the first run ended before it could be interrupted (held $held)"
  wait "$MIGRATE_PID" 2>/dev/null || true
  rm -f "$WORK/migrate.pid"
  held=$(upstream_keys "gw-$LOGS")
  echo "interrupted with $held of $N_LOGS objects upstream"
  [ "$held" -lt "$N_LOGS" ] || fail "the interrupted run had copied everything"

  report=$(tollgate migrate --config "$CFG" --from local --to upstream --bucket "$LOGS" 2>"$WORK/second.err") || rc=$?
  echo "$report"
  cat "$WORK/second.err"
  assert_eq 0 "$rc" "exit status of the resumed run"
  local copied skipped verified
  copied=$(pyj 'd["copied"]' <<<"$report")
  skipped=$(pyj 'd["skipped"]' <<<"$report")
  verified=$(pyj 'd["verified"]' <<<"$report")
  [ "$skipped" -ge "$held" ] || fail "the resumed run skipped $skipped, the upstream already held $held"
  assert_eq "$N_LOGS" "$((copied + skipped))" "copied + skipped"
  assert_eq "$copied" "$verified" "copied objects verified against their manifests"
  assert_eq 0 "$(pyj 'd["failed"]' <<<"$report")" "failures"
  assert_eq True "$(pyj 'd["switched"]' <<<"$report")" "the bucket switched"
  assert_contains "$(cat "$WORK/second.err")" "$N_LOGS/$N_LOGS objects" "the progress line"
  assert_contains "$(cat "$WORK/second.err")" "bucket $LOGS is now held by the upstream backend" "the closing message"
  assert_eq "$N_LOGS" "$(upstream_keys "gw-$LOGS")" "objects the upstream holds"
}

t_one_bucket_upstream() {
  start_gateway
  rm -rf "$WORK/logs-back" "$WORK/media-back"
  s3 cp --recursive --quiet "s3://$LOGS/" "$WORK/logs-back"
  diff -r "$WORK/logs-src" "$WORK/logs-back"
  # a new object in the moved bucket goes upstream; the other bucket stays on disk
  s3 cp --quiet "$WORK/media-src/poster.txt" "s3://$LOGS/day-0/late.log"
  assert_eq "$((N_LOGS + 1))" "$(upstream_keys "gw-$LOGS")" "objects upstream after a new write"
  if upstream_list "gw-$MEDIA" >/dev/null; then
    fail "bucket $MEDIA, not migrated, exists upstream"
  fi
  s3 cp --quiet "s3://$MEDIA/film.bin" "$WORK/film.back"
  assert_same_file "$WORK/media-src/film.bin" "$WORK/film.back"
  stop_gateway
}

t_every_bucket() {
  local report
  report=$(tollgate migrate --config "$CFG" --from local --to upstream 2>"$WORK/all.err")
  cat "$WORK/all.err"
  # the buckets still on local disk: $MEDIA's two objects ($LOGS is upstream already)
  assert_eq 2 "$(pyj 'd["objects"]' <<<"$report")" "objects to move"
  assert_eq 2 "$(pyj 'd["copied"]' <<<"$report")" "objects copied"
  assert_eq 2 "$(pyj 'd["verified"]' <<<"$report")" "objects verified"
  assert_eq True "$(pyj 'd["switched"]' <<<"$report")" "switched"
  assert_contains "$(cat "$WORK/all.err")" 'set backend = "upstream"' "the closing message"
}

t_old_backend_refused() {
  local rc=0
  timeout 30 env TOLLGATE_ROOT_ACCESS_KEY="$AWS_ACCESS_KEY_ID" TOLLGATE_ROOT_SECRET_KEY="$AWS_SECRET_ACCESS_KEY" \
    "$TOLLGATE_BIN" serve --config "$CFG" >"$WORK/refused.log" 2>&1 </dev/null || rc=$?
  cat "$WORK/refused.log"
  [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "backend = \"local\" after the move: exit $rc, expected a refusal"
  assert_contains "$(cat "$WORK/refused.log")" "the objects are held by the upstream backend, but backend = \"local\"" "the refusal"
}

t_served_from_upstream() {
  local head
  write_config upstream
  start_gateway
  rm -rf "$WORK/logs-back"
  s3 cp --recursive --quiet "s3://$LOGS/" "$WORK/logs-back"
  rm "$WORK/logs-back/day-0/late.log"
  diff -r "$WORK/logs-src" "$WORK/logs-back"
  s3 cp --quiet "s3://$MEDIA/film.bin" "$WORK/film.back"
  assert_same_file "$WORK/media-src/film.bin" "$WORK/film.back"
  head=$(aws --endpoint-url "$S3_ENDPOINT" s3api head-object --bucket "$MEDIA" --key poster.txt)
  assert_eq text/plain "$(pyj 'd["ContentType"]' <<<"$head")" "poster.txt's content type"
  assert_eq ops "$(pyj 'd["Metadata"]["owner"]' <<<"$head")" "poster.txt's user metadata"
  # the gateway's proof of the film, recorded when it was first written, still holds
  tollgate proof --endpoint "$S3_ENDPOINT" verify "$WORK/film.back"
  stop_gateway
}

t_full_disk() {
  local disk=$WORK/small-disk port url pid ready out
  mkdir -p "$disk"
  $SUDO mount -t tmpfs -o size=32m tmpfs "$disk" || fail "cannot mount a 32 MiB tmpfs (needs root or sudo)"
  port=$(free_port)
  url=http://127.0.0.1:$port
  start_small() {
    TOLLGATE_ROOT_ACCESS_KEY=$AWS_ACCESS_KEY_ID TOLLGATE_ROOT_SECRET_KEY=$AWS_SECRET_ACCESS_KEY \
      "$TOLLGATE_BIN" serve --listen "127.0.0.1:$port" --data-dir "$disk/data" >>"$WORK/small.log" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$WORK/small.pid"
    wait_ready "$url/ready" "$pid" || fail "the gateway on the small disk did not become ready"
  }
  start_small
  aws --endpoint-url "$url" s3 mb s3://small
  aws --endpoint-url "$url" s3 cp --quiet "$WORK/media-src/poster.txt" s3://small/before.txt
  dd if=/dev/zero of="$disk/filler" bs=1M 2>/dev/null || true # until the disk is full
  ready=$(curl -s -w ' %{http_code}' "$url/ready")
  echo "full: /ready: $ready"
  assert_contains "$ready" " 503" "/ready on a full disk"
  assert_contains "$ready" "No space left on device" "/ready on a full disk"
  if out=$(AWS_MAX_ATTEMPTS=1 aws --endpoint-url "$url" s3api put-object --bucket small --key during.txt --body "$WORK/media-src/poster.txt" 2>&1); then
    fail "a PUT on a full disk succeeded: $out"
  fi
  echo "full: PUT: $out"
  assert_contains "$out" "ServiceUnavailable" "a PUT on a full disk"
  assert_contains "$out" "storage is full" "a PUT on a full disk"
  assert_eq "" "$(ls -A "$disk/data/tmp")" "files left in tmp/"
  assert_eq 1 "$(aws --endpoint-url "$url" s3 ls s3://small/ | wc -l)" "objects listed after the refused PUT"
  rm "$disk/filler"
  wait_ready "$url/ready" "$pid" || fail "not ready again after space was freed"
  aws --endpoint-url "$url" s3 cp --quiet "$WORK/media-src/poster.txt" s3://small/during.txt
  aws --endpoint-url "$url" s3 cp --quiet s3://small/during.txt "$WORK/during.back"
  assert_same_file "$WORK/media-src/poster.txt" "$WORK/during.back"
  # Full again; bucket creations write metadata only, until the metadata store meets it.
  dd if=/dev/zero of="$disk/filler" bs=1M 2>/dev/null || true
  local i refused=""
  for i in $(seq 1 200); do
    if ! out=$(AWS_MAX_ATTEMPTS=1 aws --endpoint-url "$url" s3api create-bucket --bucket "meta-$i" 2>&1); then
      refused=meta-$i
      break
    fi
  done
  [[ -n $refused ]] || fail "200 bucket creations on a full disk all succeeded"
  echo "full metadata: CreateBucket $refused: $out"
  assert_contains "$out" "ServiceUnavailable" "a bucket creation on a full metadata disk"
  assert_contains "$out" "metadata storage is full" "a bucket creation on a full metadata disk"
  rm "$disk/filler"
  ready=$(curl -s -w ' %{http_code}' "$url/ready")
  echo "space freed, no restart: /ready: $ready"
  assert_contains "$ready" " 503" "/ready after the metadata store met a full disk"
  assert_contains "$ready" "metadata" "/ready after the metadata store met a full disk"
  kill "$pid"
  wait "$pid" || fail "the gateway on the small disk did not exit cleanly after its metadata store failed"
  start_small
  if aws --endpoint-url "$url" s3api head-bucket --bucket "$refused" 2>/dev/null; then
    fail "the refused bucket $refused exists after the restart"
  fi
  aws --endpoint-url "$url" s3 cp --quiet s3://small/during.txt "$WORK/during.back2"
  assert_same_file "$WORK/media-src/poster.txt" "$WORK/during.back2"
  aws --endpoint-url "$url" s3 mb "s3://$refused"
  kill "$pid"
  wait "$pid" || fail "the gateway on the small disk did not exit cleanly"
  rm -f "$WORK/small.pid"
  $SUDO umount "$disk"
}

check "a gateway on local disk, filled by aws-cli" t_fill
check "tollgate admin jobs lists the jobs and runs one" t_jobs
check "the gateway stops on SIGTERM (exit 0)" t_stop
check "migrate --dry-run counts and writes nothing" t_dry_run
check "migrate --bucket, killed half-way, resumes and verifies" t_interrupted_then_resumed
check "the gateway serves the moved bucket from the upstream, the other from disk" t_one_bucket_upstream
check "migrate of every bucket moves the rest and switches" t_every_bucket
check "the gateway refuses the old backend after the switch" t_old_backend_refused
check "with backend = upstream every object reads back as written" t_served_from_upstream
check "a full disk: not ready, writes refused with 503 and nothing kept; space freed, served again; the metadata store full: 503, served again after a restart" t_full_disk
finish

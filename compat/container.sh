#!/usr/bin/env bash
# The container image, built and run as the README shows, checked as an operator would:
#   - `docker build` of the Dockerfile; the image's size is printed
#   - `docker run` with the README's flags: the HEALTHCHECK turns healthy, the process is not
#     root, the aws-cli and boto3 suites pass against it (COMPAT_EXTERNAL=1), /metrics scrapes
#   - the container replaced by one reading a config file mounted over the image's own, on the
#     same volume, serves the objects and credentials the first one stored
#   - `docker stop` (SIGTERM) ends it with exit code 0 (graceful shutdown)
#
#   compat/container.sh          needs a Docker engine; starts dockerd if it is installed but
#                                not running (and stops it again). .ci/install-tools.sh installs
#                                Debian's docker.io and debootstrap where they are missing.
#
# Base images: where Docker Hub cannot be reached (this project's machines reach only package
# registries), the Dockerfile's two base images are stood in for, under their own names, by
# images built here: debian:bookworm-slim by debootstrap (minbase) from Debian's archive, and
# rust:1.95-slim-bookworm as that plus gcc, libc6-dev, ca-certificates and this machine's
# Rust 1.95 toolchain, the contents of the official images; both trust this machine's own CAs
# (/usr/local/share/ca-certificates), as the machine does. The Dockerfile is the one users
# build; only where its bases come from differs.
#
# The last line is "container: N passed, M failed"; exit 1 if anything failed.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

TAG=${CONTAINER_TAG:-tollgate-compat-$$}
NAME=tollgate-compat-$$
VOLUME=tollgate-compat-data-$$
ACCESS_KEY=containeradmin
SECRET_KEY=container-secret-$RANDOM$RANDOM
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tgcontainer.XXXXXX")
STARTED_DOCKERD=""
PASSED=0
FAILED=0
FAILED_NAMES=()

cleanup() {
  docker rm -f "$NAME" >/dev/null 2>&1 || true
  docker volume rm "$VOLUME" >/dev/null 2>&1 || true
  docker image rm "$TAG" >/dev/null 2>&1 || true
  if [ -n "$STARTED_DOCKERD" ]; then
    kill "$STARTED_DOCKERD" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$STARTED_DOCKERD" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { echo "==== container: $* ===="; }
pass() { PASSED=$((PASSED + 1)); echo "PASS container: $1"; }
fail() {
  FAILED=$((FAILED + 1))
  FAILED_NAMES+=("$1")
  echo "FAIL container: $1"
  [ -n "${2:-}" ] && echo "$2" | tail -n 25 | sed 's/^/    | /'
  return 0
}
finish() {
  echo "container: $PASSED passed, $FAILED failed"
  if [ "$FAILED" -gt 0 ]; then printf '  failed: %s\n' "${FAILED_NAMES[@]}"; exit 1; fi
  exit 0
}

# --- the engine ----------------------------------------------------------------
engine_up() {
  docker info >/dev/null 2>&1 && return 0
  command -v dockerd >/dev/null 2>&1 ||
    { echo "container: no Docker engine (dockerd); .ci/install-tools.sh installs Debian's docker.io"; return 1; }
  echo "container: starting dockerd (log: $WORK/dockerd.log)"
  dockerd >"$WORK/dockerd.log" 2>&1 </dev/null &
  STARTED_DOCKERD=$!
  for _ in $(seq 150); do
    docker info >/dev/null 2>&1 && return 0
    kill -0 "$STARTED_DOCKERD" 2>/dev/null || break
    sleep 0.2
  done
  echo "container: dockerd did not come up; its log:"
  tail -n 30 "$WORK/dockerd.log"
  return 1
}

# --- base images -----------------------------------------------------------------
# have_image NAME: present, or pulled within a minute
have_image() {
  docker image inspect "$1" >/dev/null 2>&1 && return 0
  timeout 60 docker pull -q "$1" >/dev/null 2>&1
}

stand_in_debian() {
  echo "container: Docker Hub unreachable; building debian:bookworm-slim with debootstrap"
  command -v debootstrap >/dev/null 2>&1 ||
    { echo "container: no debootstrap; .ci/install-tools.sh installs it"; return 1; }
  local rootfs="$WORK/rootfs"
  debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian >"$WORK/debootstrap.log" 2>&1 ||
    { tail -n 20 "$WORK/debootstrap.log"; return 1; }
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  # This machine's own CAs (a TLS-inspecting egress proxy here): ca-certificates, installed
  # later in both images, adds them to the bundle, as it does on the machine itself.
  cp -a /usr/local/share/ca-certificates/. "$rootfs/usr/local/share/ca-certificates/" 2>/dev/null || true
  tar -C "$rootfs" -c . | docker import -c 'CMD ["bash"]' - debian:bookworm-slim >/dev/null || return 1
  rm -rf "$rootfs"
}

stand_in_rust() {
  local sysroot version
  sysroot=$(rustc --print sysroot)
  version=$(rustc --version)
  case "$version" in "rustc 1.95."*) ;; *) echo "container: need Rust 1.95 here, have $version"; return 1 ;; esac
  echo "container: building rust:1.95-slim-bookworm from $version at $sysroot"
  local ctx="$WORK/rust-image"
  mkdir -p "$ctx/toolchain"
  # The compiler, cargo and the standard library; not the documentation (share/).
  cp -a "$sysroot"/bin "$sysroot"/lib "$sysroot"/libexec "$ctx/toolchain/" || return 1
  cat >"$ctx/Dockerfile" <<'EOF'
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
COPY toolchain /usr/local/rust
ENV CARGO_HOME=/usr/local/cargo PATH=/usr/local/cargo/bin:/usr/local/rust/bin:$PATH
EOF
  docker build -q -t rust:1.95-slim-bookworm "$ctx" >"$WORK/rust-image.log" 2>&1 ||
    { tail -n 20 "$WORK/rust-image.log"; return 1; }
  rm -rf "$ctx"
}

# --- the checks ----------------------------------------------------------------------
# shellcheck source=compat/net.sh
. "$ROOT/compat/net.sh"

# wait_healthy: the HEALTHCHECK's verdict, within 90 s
wait_healthy() {
  local status
  for _ in $(seq 180); do
    status=$(docker inspect -f '{{.State.Health.Status}}' "$NAME" 2>/dev/null || echo gone)
    case "$status" in
      healthy) return 0 ;;
      unhealthy | gone) break ;;
    esac
    sleep 0.5
  done
  echo "health: $status"
  docker inspect -f '{{json .State.Health}}' "$NAME" 2>/dev/null || true
  docker logs --tail 30 "$NAME" 2>&1 || true
  return 1
}

# aws CLI against the container at $PORT
s3() { aws --endpoint-url "http://127.0.0.1:$PORT" s3 "$@"; }

step "engine"
engine_up || { fail "a Docker engine runs"; finish; }
pass "a Docker engine runs ($(docker version -f '{{.Server.Version}}'))"

step "base images"
have_image debian:bookworm-slim || stand_in_debian || { fail "base image debian:bookworm-slim"; finish; }
have_image rust:1.95-slim-bookworm || stand_in_rust || { fail "base image rust:1.95-slim-bookworm"; finish; }
pass "base images present"

step "docker build -t $TAG ."
start=$SECONDS
if docker build -t "$TAG" . >"$WORK/build.log" 2>&1; then
  mb() { docker image inspect -f '{{.Size}}' "$1" | awk '{printf "%.0f MB", $1/1e6}'; }
  pass "the image builds ($((SECONDS - start)) s; $(mb "$TAG"), of which the base debian:bookworm-slim $(mb debian:bookworm-slim))"
else
  fail "the image builds" "$(cat "$WORK/build.log")"
  finish
fi

# pip may have put aws in a scripts dir that is not on PATH
for d in "$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')" "$HOME/.local/bin"; do
  case ":$PATH:" in *":$d:"*) ;; *) [ -d "$d" ] && PATH="$PATH:$d" ;; esac
done
export AWS_ACCESS_KEY_ID=$ACCESS_KEY AWS_SECRET_ACCESS_KEY=$SECRET_KEY AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true

step "docker run, as the README shows"
PORT=$(free_port)
docker run -d --name "$NAME" -p "127.0.0.1:$PORT:9000" -v "$VOLUME:/data" \
  -e TOLLGATE_ROOT_ACCESS_KEY="$ACCESS_KEY" -e TOLLGATE_ROOT_SECRET_KEY="$SECRET_KEY" "$TAG" >/dev/null
if out=$(wait_healthy 2>&1); then pass "the HEALTHCHECK turns healthy"; else fail "the HEALTHCHECK turns healthy" "$out"; finish; fi

uid=$(docker exec "$NAME" id -u)
if [ "$uid" != 0 ]; then pass "the server runs as a non-root user (uid $uid)"; else fail "the server runs as a non-root user"; fi

# Captured first: a reader that stops early would fail the pipeline (pipefail).
docker logs "$NAME" >"$WORK/first.log" 2>&1
if out=$(python3 -c 'import json, sys; print(json.loads(sys.stdin.readline())["level"])' <"$WORK/first.log" 2>&1); then
  pass "logs are JSON lines (first: level $out)"
else
  fail "logs are JSON lines" "$out"
fi
if grep -q -- "$SECRET_KEY" "$WORK/first.log"; then fail "the root secret is never logged"; else pass "the root secret is never logged"; fi

if out=$(COMPAT_EXTERNAL=1 S3_ENDPOINT="http://127.0.0.1:$PORT" bash compat/run.sh awscli boto3 2>&1); then
  pass "the aws-cli and boto3 suites pass against the container"
else
  fail "the aws-cli and boto3 suites pass against the container" "$out"
fi

if out=$(curl -sf "http://127.0.0.1:$PORT/metrics" 2>&1) && grep -q '^tollgate_requests_total{' <<<"$out"; then
  pass "/metrics scrapes (tollgate_requests_total present)"
else
  fail "/metrics scrapes" "$out"
fi

head -c 300000 /dev/urandom >"$WORK/kept.bin"
BUCKET=kept-$$
if out=$(s3 mb "s3://$BUCKET" 2>&1 && s3 cp "$WORK/kept.bin" "s3://$BUCKET/kept.bin" 2>&1); then
  pass "an object stored before the container is replaced"
else
  fail "an object stored before the container is replaced" "$out"
fi

step "docker stop"
docker stop -t 30 "$NAME" >/dev/null
code=$(docker inspect -f '{{.State.ExitCode}}' "$NAME")
if [ "$code" = 0 ]; then pass "SIGTERM shuts it down cleanly (exit 0)"; else fail "SIGTERM shuts it down cleanly" "exit code $code; $(docker logs --tail 20 "$NAME" 2>&1)"; fi
docker rm "$NAME" >/dev/null

step "a new container on the same volume, configured by a mounted file"
# The root credentials now come from the file, as do text logs.
cat >"$WORK/tollgate.toml" <<EOF
[log]
format = "text"
[root]
access_key = "$ACCESS_KEY"
secret_key = "$SECRET_KEY"
EOF
chmod 0644 "$WORK/tollgate.toml"
PORT=$(free_port)
docker run -d --name "$NAME" -p "127.0.0.1:$PORT:9000" -v "$VOLUME:/data" \
  -v "$WORK/tollgate.toml:/etc/tollgate/tollgate.toml:ro" "$TAG" >/dev/null
if out=$(wait_healthy 2>&1); then pass "the second container turns healthy"; else fail "the second container turns healthy" "$out"; finish; fi
if out=$(s3 cp "s3://$BUCKET/kept.bin" "$WORK/back.bin" 2>&1) && cmp -s "$WORK/kept.bin" "$WORK/back.bin"; then
  pass "the volume kept the object; the file gave the credentials"
else
  fail "the volume kept the object; the file gave the credentials" "$out"
fi
docker logs "$NAME" >"$WORK/second.log" 2>&1
# Text lines read "<time>  INFO <target>: <message> <fields>", not JSON objects.
if [ "$(head -c 1 "$WORK/second.log")" != "{" ] && grep -q ' INFO ' "$WORK/second.log"; then
  pass "the mounted file's log format (text) applies"
else
  fail "the mounted file's log format (text) applies" "$(head -n 3 "$WORK/second.log")"
fi

finish

#!/usr/bin/env bash
# Install the tools the compat suites need (rclone, s3cmd, curl, aws-cli, boto3, chromium,
# chromedriver and firefox-esr), moto_server, the S3 upstream of the upstream=moto test
# runs (moto[server]), and what compat/container.sh needs (Docker engine, debootstrap).
# Idempotent and quiet: does nothing when everything is already there.
# Used by .ci/run and ./test.sh.  Needs root (or sudo) only when something is missing.
set -euo pipefail

log() { echo "install-tools: $*"; }

SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; fi

# --- Debian packages --------------------------------------------------------
missing_apt=()
for tool in rclone s3cmd curl debootstrap; do
  command -v "$tool" >/dev/null 2>&1 || missing_apt+=("$tool")
done
# compat/container.sh: a Docker engine (dockerd; a docker client alone is not enough), and
# debootstrap for its stand-in base images where Docker Hub is unreachable
command -v dockerd >/dev/null 2>&1 || missing_apt+=(docker.io)
# compat/browser.sh: headless Chromium, driven through chromedriver's WebDriver API
command -v chromium >/dev/null 2>&1 || missing_apt+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing_apt+=(chromium-driver)
# compat/console.sh: headless Firefox too, driven through its built-in WebDriver BiDi agent
command -v firefox-esr >/dev/null 2>&1 || missing_apt+=(firefox-esr)
if [ ${#missing_apt[@]} -gt 0 ]; then
  log "apt-get install ${missing_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq </dev/null >/dev/null
  $SUDO apt-get install -y -qq --no-install-recommends "${missing_apt[@]}" </dev/null >/dev/null
fi

# --- Python packages --------------------------------------------------------
PY=${PYTHON:-python3}
pip_install() {
  log "pip install $*"
  # Debian's system python refuses plain pip installs (PEP 668); retry with the override.
  "$PY" -m pip install -q --disable-pip-version-check "$@" </dev/null ||
    "$PY" -m pip install -q --disable-pip-version-check --break-system-packages "$@" </dev/null
}
want_pip=()
"$PY" -c 'import boto3' >/dev/null 2>&1 || want_pip+=(boto3)
command -v aws >/dev/null 2>&1 || want_pip+=(awscli)
# moto_server is started as `python3 -m moto.server`; the [server] extra brings flask and flask-cors
"$PY" -c 'import moto.server, flask, flask_cors' >/dev/null 2>&1 || want_pip+=("moto[server]")
# the metrics suite parses /metrics with the Prometheus client library's parser
"$PY" -c 'import prometheus_client' >/dev/null 2>&1 || want_pip+=(prometheus-client)
# tools/decrypt.py (run by the encryption tests) decrypts with the cryptography package
"$PY" -c 'import cryptography.hazmat.primitives.ciphers.aead' >/dev/null 2>&1 || want_pip+=(cryptography)
if [ ${#want_pip[@]} -gt 0 ]; then
  pip_install "${want_pip[@]}"
  # pyenv needs its shims regenerated before a freshly installed console script is on PATH.
  if command -v pyenv >/dev/null 2>&1; then pyenv rehash || true; fi
fi

if ! command -v aws >/dev/null 2>&1; then
  # The script may have landed in a bin dir that is not on PATH: tell the caller where.
  scripts=$("$PY" -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
  if [ -x "$scripts/aws" ]; then
    log "aws is in $scripts, which is not on PATH"
  else
    log "aws-cli is still missing after pip install" >&2
    exit 1
  fi
fi

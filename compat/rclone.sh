#!/usr/bin/env bash
# rclone compatibility suite: drives a live S3 endpoint exactly as a user would.
# env: S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (region us-east-1, path-style)
set -euo pipefail
SUITE=rclone
# shellcheck source=compat/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

command -v rclone >/dev/null || { echo "FAIL $SUITE: rclone not installed"; exit 1; }

# The remote "tg:" lives only in the environment; an empty private config file.
export RCLONE_CONFIG="$WORK/rclone.conf"
: >"$RCLONE_CONFIG"
export RCLONE_CONFIG_TG_TYPE=s3
export RCLONE_CONFIG_TG_PROVIDER=Other
export RCLONE_CONFIG_TG_ENDPOINT="$S3_ENDPOINT"
export RCLONE_CONFIG_TG_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID"
export RCLONE_CONFIG_TG_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY"
export RCLONE_CONFIG_TG_REGION=us-east-1
export RCLONE_CONFIG_TG_FORCE_PATH_STYLE=true
# multipart above 5 MiB, so the 12 MiB file in the tree goes up in parts
export RCLONE_S3_UPLOAD_CUTOFF=5M RCLONE_S3_CHUNK_SIZE=5M
# "tgsse:" is the same endpoint asking for SSE-S3 on every upload (and copy)
export RCLONE_CONFIG_TGSSE_TYPE=s3
export RCLONE_CONFIG_TGSSE_PROVIDER=Other
export RCLONE_CONFIG_TGSSE_ENDPOINT="$S3_ENDPOINT"
export RCLONE_CONFIG_TGSSE_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID"
export RCLONE_CONFIG_TGSSE_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY"
export RCLONE_CONFIG_TGSSE_REGION=us-east-1
export RCLONE_CONFIG_TGSSE_FORCE_PATH_STYLE=true
export RCLONE_CONFIG_TGSSE_SERVER_SIDE_ENCRYPTION=AES256
export RCLONE_RETRIES=1 RCLONE_LOW_LEVEL_RETRIES=2 RCLONE_CONTIMEOUT=10s RCLONE_TIMEOUT=60s
# an https:// endpoint with a private CA (lib.sh): rclone --ca-cert, aws-cli --ca-bundle (not
# AWS_CA_BUNDLE, which rclone refuses)
AWS_TLS=()
if [ -n "${COMPAT_CA_BUNDLE:-}" ]; then export RCLONE_CA_CERT=$COMPAT_CA_BUNDLE; AWS_TLS=(--ca-bundle "$COMPAT_CA_BUNDLE"); fi

B=$(unique_bucket rclone)
B2=$(unique_bucket rclone2)
B_VER=$(unique_bucket rclonev)
B_SSE=$(unique_bucket rclonese)
cleanup() {
  rclone purge "tg:$B" >/dev/null 2>&1 || true
  rclone rmdir "tg:$B2" >/dev/null 2>&1 || true
  # rclone purge leaves old versions: --s3-versions lists (and deletes) them too
  rclone delete --s3-versions "tg:$B_VER" >/dev/null 2>&1 || true
  rclone rmdir "tg:$B_VER" >/dev/null 2>&1 || true
  rclone purge "tg:$B_SSE" >/dev/null 2>&1 || true
  cleanup_work
}
trap cleanup EXIT

echo "$SUITE: $(rclone version | head -n1) against $S3_ENDPOINT, bucket $B"

python3 "$COMPAT_DIR/gen_tree.py" "$WORK/tree" --count 150 --seed 7 --big-mib 12
TOP_DIRS=$(cd "$WORK/tree" && find . -mindepth 1 -maxdepth 1 -type d | sed 's|^\./||; s|$|/|' | LC_ALL=C sort)
local_files() { (cd "$WORK/tree" && find . -type f | sed 's|^\./||' | LC_ALL=C sort); }

t_mkdir() {
  rclone mkdir "tg:$B"
  out=$(rclone lsd tg:)
  assert_contains "$out" " $B" "rclone lsd tg:"
}
t_sync_up() {
  rclone sync "$WORK/tree" "tg:$B/tree"
}
t_check() {
  out=$(rclone check "$WORK/tree" "tg:$B/tree" 2>&1)
  echo "$out"
  assert_contains "$out" "0 differences found"
  assert_contains "$out" "151 matching files"
}
t_lsf_recursive() {
  local_files >"$WORK/local-files"
  rclone lsf -R --files-only "tg:$B/tree" | LC_ALL=C sort >"$WORK/remote-files"
  diff "$WORK/local-files" "$WORK/remote-files"
  # --fast-list lists the whole tree in one recursive listing (empty delimiter)
  rclone lsf -R --files-only --fast-list "tg:$B/tree" | LC_ALL=C sort >"$WORK/remote-files-fast"
  diff "$WORK/local-files" "$WORK/remote-files-fast"
}
t_lsf_flat() {
  out=$(rclone lsf "tg:$B/tree" | LC_ALL=C sort)
  want=$( (echo "$TOP_DIRS"; echo "big file+ é.bin") | LC_ALL=C sort)
  assert_eq "$want" "$out" "rclone lsf tg:$B/tree"
}
t_sync_down() {
  rclone sync "tg:$B/tree" "$WORK/tree-down"
  diff -r "$WORK/tree" "$WORK/tree-down"
}
t_sync_noop() {
  out=$(rclone sync -v "$WORK/tree" "tg:$B/tree" 2>&1)
  if grep -E 'Copied|Updated|Deleted' <<<"$out"; then fail "second sync transferred something"; fi
}
t_copyto_cat() {
  rclone copyto "tg:$B/tree/big file+ é.bin" "tg:$B/copy/big copy+ é.bin"
  rclone cat "tg:$B/copy/big copy+ é.bin" >"$WORK/cat.out"
  assert_same_file "$WORK/tree/big file+ é.bin" "$WORK/cat.out"
  rclone moveto "tg:$B/copy/big copy+ é.bin" "tg:$B/copy/moved =%41.bin"
  out=$(rclone lsf "tg:$B/copy")
  assert_eq "moved =%41.bin" "$out" "lsf after moveto"
}
t_delete_filtered() {
  before=$(rclone lsf -R --files-only "tg:$B/tree" | wc -l)
  want_gone=$(local_files | grep -c -- '+plus\.bin$')
  [ "$want_gone" -gt 0 ] || fail "tree has no +plus files"
  rclone delete "tg:$B/tree" --include '*+plus.bin'
  after=$(rclone lsf -R --files-only "tg:$B/tree")
  if grep -- '+plus\.bin$' <<<"$after"; then fail "+plus files survived rclone delete"; fi
  assert_eq $((before - want_gone)) "$(wc -l <<<"$after")" "files left after delete"
}
t_purge() {
  rclone purge "tg:$B"
  out=$(rclone lsd tg:)
  if grep -qF " $B" <<<"$out"; then fail "bucket still listed after purge"; fi
}
t_rmdir() {
  rclone mkdir "tg:$B2"
  assert_contains "$(rclone lsd tg:)" " $B2" "lsd after mkdir"
  rclone rmdir "tg:$B2"
  out=$(rclone lsd tg:)
  if grep -qF " $B2" <<<"$out"; then fail "bucket still listed after rmdir"; fi
}


# --- versioning (a bucket of its own) -----------------------------------------
# rclone names an old version <name>-vYYYY-MM-DD-HHMMSS-sss<.ext> (its LastModified, UTC)
printf 'old content\n' >"$WORK/v1.txt"
printf 'the newer content\n' >"$WORK/v2.txt"
t_v_enable() {
  rclone mkdir "tg:$B_VER"
  assert_eq Unversioned "$(rclone backend versioning "tg:$B_VER")" "status of a new bucket"
  assert_eq Enabled "$(rclone backend versioning "tg:$B_VER" Enabled)" "rclone backend versioning Enabled"
}
t_v_overwrite() {
  rclone copyto "$WORK/v1.txt" "tg:$B_VER/doc.txt"
  # a time after the first upload and before the overwrite (--s3-version-at takes RFC 3339)
  date -u +%Y-%m-%dT%H:%M:%S.%3NZ >"$WORK/before-overwrite"
  rclone copyto "$WORK/v2.txt" "tg:$B_VER/doc.txt"
  rclone cat "tg:$B_VER/doc.txt" >"$WORK/cur.out"
  assert_same_file "$WORK/v2.txt" "$WORK/cur.out"
}
t_v_ls_versions() {
  assert_eq "       18 doc.txt" "$(rclone ls "tg:$B_VER")" "rclone ls without --s3-versions"
  out=$(rclone ls --s3-versions "tg:$B_VER" | LC_ALL=C sort)
  echo "$out"
  assert_eq 2 "$(wc -l <<<"$out")" "entries listed with --s3-versions"
  assert_contains "$out" "       18 doc.txt" "the current version"
  old=$(grep -v ' doc.txt$' <<<"$out")
  [[ "$old" =~ ^" "+12" "doc-v[0-9]{4}-[0-9]{2}-[0-9]{2}-[0-9]{6}-[0-9]{3}\.txt$ ]] || fail "old version line: [$old]"
  # the old version reads back by its versioned name
  rclone cat --s3-versions "tg:$B_VER/${old##* }" >"$WORK/old.out"
  assert_same_file "$WORK/v1.txt" "$WORK/old.out"
}
t_v_version_at() {
  at=$(cat "$WORK/before-overwrite")
  rclone cat --s3-version-at "$at" "tg:$B_VER/doc.txt" >"$WORK/at.out"
  assert_same_file "$WORK/v1.txt" "$WORK/at.out"
  assert_eq "       12 doc.txt" "$(rclone ls --s3-version-at "$at" "tg:$B_VER")" "rclone ls --s3-version-at"
  # before the bucket held anything, there was no doc.txt
  assert_eq "" "$(rclone ls --s3-version-at 2000-01-01T00:00:00Z "tg:$B_VER")" "rclone ls --s3-version-at 2000"
}
t_v_remove() {
  rclone delete --s3-versions "tg:$B_VER"
  assert_eq "" "$(rclone ls --s3-versions "tg:$B_VER")" "versions left"
  rclone rmdir "tg:$B_VER"
  if grep -qF " $B_VER" <<<"$(rclone lsd tg:)"; then fail "bucket still listed after rmdir"; fi
}

# --- encryption at rest (a bucket of its own) ----------------------------------
# SSE-S3 only: rclone (aws-sdk-go) refuses to send SSE-C keys over plain HTTP itself
# ("ConfigError: cannot send SSE keys over HTTP"), whatever the server allows.
# aws-cli (private config) reads the SSE header rclone does not show.
private_aws_config
sse_of() { # key: the object's ServerSideEncryption (None if absent)
  aws --endpoint-url "$S3_ENDPOINT" "${AWS_TLS[@]}" s3api head-object --bucket "$B_SSE" --key "$1" --output json |
    pyj 'd.get("ServerSideEncryption")'
}
SMALL_ONE=$(local_files | grep -v '^big file' | sed -n 1p)
t_sse_copy_up() {
  rclone mkdir "tgsse:$B_SSE"
  rclone copy "$WORK/tree" "tgsse:$B_SSE/tree"
}
t_sse_check() {
  # with SSE-S3 the ETag stays the MD5 of the plaintext: rclone compares MD5s
  out=$(rclone check "$WORK/tree" "tgsse:$B_SSE/tree" 2>&1)
  echo "$out"
  assert_contains "$out" "0 differences found"
  assert_contains "$out" "151 matching files"
}
t_sse_head() {
  command -v aws >/dev/null || fail "aws not installed"
  assert_eq AES256 "$(sse_of "tree/$SMALL_ONE")" "ServerSideEncryption of tree/$SMALL_ONE"
  assert_eq AES256 "$(sse_of "tree/big file+ é.bin")" "ServerSideEncryption of the multipart file"
}
t_sse_down() {
  rclone copy "tgsse:$B_SSE/tree" "$WORK/tree-sse-down"
  diff -r "$WORK/tree" "$WORK/tree-sse-down"
  # a server-side copy asks for SSE-S3 too
  rclone copyto "tgsse:$B_SSE/tree/big file+ é.bin" "tgsse:$B_SSE/copy/big.bin"
  assert_eq AES256 "$(sse_of copy/big.bin)" "ServerSideEncryption of the server-side copy"
  rclone cat "tgsse:$B_SSE/copy/big.bin" >"$WORK/sse-cat.out"
  assert_same_file "$WORK/tree/big file+ é.bin" "$WORK/sse-cat.out"
}
t_sse_purge() {
  rclone purge "tgsse:$B_SSE"
  if grep -qF " $B_SSE" <<<"$(rclone lsd tg:)"; then fail "bucket still listed after purge"; fi
}
check "rclone mkdir (bucket)" t_mkdir
check "rclone sync up: 151 files, awkward names, one multipart" t_sync_up
check "rclone check: 0 differences" t_check
check "rclone lsf -R (with and without --fast-list)" t_lsf_recursive
check "rclone lsf (top level)" t_lsf_flat
check "rclone sync down into a fresh dir, diff -r empty" t_sync_down
check "rclone sync again transfers nothing" t_sync_noop
check "rclone copyto (server-side copy), cat, moveto" t_copyto_cat
check "rclone delete --include" t_delete_filtered
check "rclone purge" t_purge
check "rclone mkdir + rmdir of an empty bucket" t_rmdir
check "versioning: rclone backend versioning Enabled" t_v_enable
check "versioning: overwrite a file" t_v_overwrite
check "versioning: rclone ls --s3-versions lists the old version, cat reads it" t_v_ls_versions
check "versioning: rclone cat/ls --s3-version-at a time before the overwrite" t_v_version_at
check "versioning: rclone delete --s3-versions, rmdir" t_v_remove

check "sse: rclone copy up through a remote with server_side_encryption = AES256" t_sse_copy_up
check "sse: rclone check (MD5s) of the SSE-S3 tree: 0 differences" t_sse_check
check "sse: head-object shows AES256 (single part and multipart)" t_sse_head
check "sse: rclone copy down, diff -r empty; copyto keeps AES256" t_sse_down
check "sse: rclone purge of the encrypted bucket" t_sse_purge

finish

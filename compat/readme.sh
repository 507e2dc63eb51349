#!/usr/bin/env bash
# Every command of README.md's shell examples (```sh blocks), run as written against the
# live gateway, block by block and in order, in one shell session (an `export` or `cd`
# holds for the commands after it). A command that fails fails the suite, shown with its
# README line. A command that cannot run here must be in SKIP below, with the reason and
# the test that covers it instead; anything else in a ```sh block is run, so a command
# added to the README is tested or the suite fails (a skip entry no longer in the README
# fails it too).
#
# The only changes made to a command before it runs (mechanical, nothing else):
#   - `tollgate` is $TOLLGATE_BIN (a shell function);
#   - `aws` without --endpoint-url talks to the gateway (AWS_ENDPOINT_URL; the README
#     leaves the endpoint out for brevity), with a private aws config in $WORK;
#   - the README's endpoint http://127.0.0.1:9000 is $S3_ENDPOINT (also TOLLGATE_ENDPOINT
#     from the start, tollgate's default being that address);
#   - placeholders are values printed by earlier commands or given by the harness:
#       <root access key> <root secret key>, and `...` in AWS_ACCESS_KEY_ID=... /
#       AWS_SECRET_ACCESS_KEY=...: the root credentials;
#       <access_key> <secret_key>: the last key `tollgate admin key create` printed;
#       <proof id>: the last x-tollgate-proof-id an earlier command printed;
#       <base64 public key>: the current key of the last `tollgate proof pubkey`;
#     a placeholder without a value (or unknown: <...>, `=...`) fails the command;
#   - `a; b` on one line runs as two commands, each checked (a trailing comment goes
#     with the last);
#   - a comment `→ profile "NAME"` after `key create` means the key is an aws-cli profile
#     NAME for the commands after it: the harness configures it with `aws configure set`.
# After a command fails, the rest of its block is shown as not run; the next block runs.
# What a command must do:
#   - exit 0; with pipefail, so `aws ... | grep` needs both to succeed;
#   - unless its comment starts with an HTTP status ("# 403: not his to read"): then it
#     must fail, and for a 403 say so (403, Forbidden or AccessDenied);
#   - `tollgate admin tenant create NAME` / `user create --tenant T NAME` may answer
#     409 "already exists" if an earlier README command created that same name: each
#     example is written for a fresh gateway, this suite runs them all on one;
#   - after `tollgate admin key disable K`, a request signed with K is refused.
# Fixtures the examples assume (made before the first command that names them):
#   ./pictures (two small files) for `s3 sync ./pictures`; report.pdf, uploaded as root to
#   s3://acme-data/report.pdf, for the Proofs example.
# The names are the README's (acme, globex, photos, acme-data, acme-post): they are removed
# before and after the run (as root, errors ignored), so the suite runs again on the same
# gateway.
#
# env: S3_ENDPOINT, AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (root), TOLLGATE_BIN;
# README (default: the repository's README.md); COMPAT_README_CMD_TIMEOUT (s, default 60).
set -euo pipefail
SUITE=readme
# shellcheck source=compat/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

command -v aws >/dev/null || { echo "FAIL $SUITE: aws not installed"; exit 1; }
[ -x "${TOLLGATE_BIN:-}" ] || { echo "FAIL $SUITE: TOLLGATE_BIN must name the tollgate binary"; exit 1; }
README=${README:-$COMPAT_DIR/../README.md}
CMD_TIMEOUT=${COMPAT_README_CMD_TIMEOUT:-60}
ROOT_AK=$AWS_ACCESS_KEY_ID
ROOT_SK=$AWS_SECRET_ACCESS_KEY

# The README's commands that are not run here: the exact command (its comment left out,
# continuation lines joined), each with why, and what runs it instead.
SKIP=(
  # Builds a release binary and serves in the foreground, never returning. compat/run.sh
  # starts the same `serve` (debug build, --listen/--data-dir) for this and every suite.
  "cargo run --release -- serve"
  # Runs every test, this suite included.
  "./test.sh"
  # Needs AWS credentials and the internet, and serves in the foreground. The upstream
  # backend runs in compat/run.sh with COMPAT_UPSTREAM=tollgate|moto and in tests/it with
  # TOLLGATE_TEST_UPSTREAM=tollgate|moto (./test.sh runs both).
  "tollgate serve --upstream https://s3.eu-west-1.amazonaws.com"
  # A second gateway in the foreground, in front of an upstream on port 9100. Forwarding:
  # as above; credentials in the URL: config.rs's unit test
  # upstream_urls_carry_credentials_out_of_the_endpoint (parsing only).
  "tollgate serve --upstream http://KEY:SECRET@127.0.0.1:9100"
  # tollgate migrate needs the gateway stopped (the metadata store admits one process) and
  # a tollgate.toml with an [upstream]; compat/operator.sh runs these three, with its own
  # file and bucket names (dry run; one bucket, killed half-way and run again; every
  # bucket), stopping and starting its own gateway around them.
  "tollgate migrate --config tollgate.toml --from local --to upstream --bucket logs --dry-run"
  "tollgate migrate --config tollgate.toml --from local --to upstream --bucket logs"
  "tollgate migrate --config tollgate.toml --from local --to upstream"
  # Needs a Docker engine: compat/container.sh builds the image and runs it with these
  # flags (its own name, port and volume), ./test.sh step 7.
  "docker build -t tollgate ."
  "docker run -d --name tollgate -p 9000:9000 -v tollgate-data:/data -e TOLLGATE_ROOT_ACCESS_KEY=admin -e TOLLGATE_ROOT_SECRET_KEY=change-me-please tollgate"
  # Need a gateway serving HTTPS with the test CA's certificate; this suite's gateway
  # serves plain HTTP. compat/tls.sh (./test.sh) starts one with [tls] and runs each of
  # these with its own port and CA file (aws --ca-bundle, tollgate admin --ca-bundle, a
  # SIGHUP reload after replacing the files).
  "aws --endpoint-url https://127.0.0.1:9000 --ca-bundle ca.pem s3 ls"
  "tollgate admin --endpoint https://127.0.0.1:9000 --ca-bundle ca.pem tenant list"
  "kill -HUP \"\$(pidof tollgate)\""
)

cat >"$WORK/readme.py" <<'PY'
"""extract README SKIPFILE: the plan, one command a line (tab-separated:
   action block line expect tag profile base64(command));
   capture FILE: name=value lines of what FILE (a command's stdout) printed."""
import base64, json, re, sys

def split_comment(line):
    """(code, comment) of one shell line: '#' after a blank, outside quotes."""
    q = None
    for i, c in enumerate(line):
        if q:
            if c == q:
                q = None
        elif c in "'\"":
            q = c
        elif c == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i].rstrip(), line[i + 1:].strip()
    return line.rstrip(), ""

def split_semicolons(code):
    """`a; b` is two commands; compound commands (for/if/while/case/{ }) stay whole."""
    if re.search(r"(^|[\s;])(do|done|then|fi|esac|\{|\})(\s|;|$)", code):
        return [code]
    parts, q, depth, cur = [], None, 0, ""
    for c in code:
        if q:
            q = None if c == q else q
        elif c in "'\"":
            q = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == ";" and depth == 0:
            parts.append(cur.strip())
            cur = ""
            continue
        cur += c
    parts.append(cur.strip())
    return [p for p in parts if p]

def norm(s):
    return " ".join(s.split())

def blocks(text):
    lines = text.split("\n")
    i, n = 0, 0
    while i < len(lines):
        m = re.match(r"^\s*```+\s*(\S*)", lines[i])
        if not m:
            i += 1
            continue
        lang, start, body = m.group(1).lower(), i + 1, []
        i += 1
        while i < len(lines) and not re.match(r"^\s*```", lines[i]):
            body.append((i + 1, lines[i]))
            i += 1
        i += 1
        if lang in ("sh", "bash", "shell", "console", "zsh"):
            n += 1
            yield n, start, body

def commands(body):
    """(line, command, comment) of a block: continuations joined, heredocs kept."""
    k = 0
    while k < len(body):
        lineno, line = body[k]
        k += 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        while line.rstrip().endswith("\\") and k < len(body):
            line = line.rstrip()[:-1].rstrip() + " " + body[k][1].strip()
            k += 1
        code, comment = split_comment(line)
        h = re.search(r"<<-?\s*['\"]?(\w+)['\"]?", code)
        if h:  # a heredoc: its lines, up to the terminator, go with the command
            rest = []
            while k < len(body) and body[k][1].strip() != h.group(1):
                rest.append(body[k][1])
                k += 1
            rest.append(body[k][1] if k < len(body) else h.group(1))
            k += 1
            yield lineno, code + "\n" + "\n".join(rest), comment
            continue
        yield lineno, code, comment

def creation_tag(cmd):
    w = cmd.split()
    if w[:4] == ["tollgate", "admin", "tenant", "create"] and len(w) == 5:
        return "tenant:" + w[4]
    if w[:4] == ["tollgate", "admin", "user", "create"]:
        opts, pos, j = {}, [], 4
        while j < len(w):
            if w[j].startswith("--") and j + 1 < len(w):
                opts[w[j]] = w[j + 1]
                j += 2
            else:
                pos.append(w[j])
                j += 1
        if "--tenant" in opts and len(pos) == 1:
            return "user:%s/%s" % (opts["--tenant"], pos[0])
    return "-"

def extract(readme, skipfile):
    skips = {norm(s): 0 for s in open(skipfile).read().split("\n") if s.strip()}
    out, nblocks = [], 0
    for n, start, body in blocks(open(readme).read()):
        nblocks += 1
        for lineno, code, comment in commands(body):
            parts = split_semicolons(code) if "\n" not in code else [code]
            for j, cmd in enumerate(parts):
                last = j == len(parts) - 1
                c = comment if last else ""
                expect = "0"
                m = re.match(r"([45]\d\d)\b", c)
                if m:
                    expect = m.group(1)
                profile = "-"
                m = re.search(r'→\s*profile\s+"([^"]+)"', c)
                if m:
                    profile = m.group(1)
                action = "run"
                if norm(cmd) in skips:
                    skips[norm(cmd)] += 1
                    action = "skip"
                b64 = base64.b64encode(cmd.encode()).decode()
                out.append("\t".join([action, str(n), str(lineno), expect, creation_tag(cmd), profile, b64]))
    errors = []
    if nblocks == 0:
        errors.append("no ```sh block in %s" % readme)
    for s, used in skips.items():
        if not used:
            errors.append("skip list entry not in the README any more (remove it): %s" % s)
    for e in errors:
        print("readme: " + e, file=sys.stderr)
    print("\n".join(out))
    return 1 if errors else 0

def capture(path):
    text = open(path, errors="replace").read()
    found = {}
    try:
        v = json.loads(text)
    except ValueError:
        v = None
    if isinstance(v, dict):
        for k in ("access_key", "secret_key"):
            if isinstance(v.get(k), str):
                found[k] = v[k]
        if isinstance(v.get("keys"), dict) and v.get("current") in v["keys"]:
            found["pubkey"] = v["keys"][v["current"]]
    else:
        for line in text.split("\n"):  # the table form of one object: `name: value`
            m = re.match(r"^(access_key|secret_key): (\S+)$", line)
            if m:
                found[m.group(1)] = m.group(2)
    m = re.findall(r"x-tollgate-proof-id['\"]?\s*[:=]\s*['\"]?([A-Za-z0-9]+)", text, re.I)
    if m:
        found["proof_id"] = m[-1]
    for k, val in found.items():
        if re.fullmatch(r"[A-Za-z0-9+/=._-]+", val):
            print("%s=%s" % (k, val))

if __name__ == "__main__":
    if sys.argv[1] == "extract":
        sys.exit(extract(sys.argv[2], sys.argv[3]))
    capture(sys.argv[2])
PY

printf '%s\n' "${SKIP[@]}" >"$WORK/skip.txt"
if ! python3 "$WORK/readme.py" extract "$README" "$WORK/skip.txt" >"$WORK/plan.tsv" 2>"$WORK/plan.err"; then
  sed 's/^/FAIL /' "$WORK/plan.err"
  FAILED=$((FAILED + 1))
  FAILED_NAMES+=("README.md and the skip list agree")
fi

# --- the README's world: its names, removed before and after -----------------------------
root_env() { env -u AWS_PROFILE AWS_ACCESS_KEY_ID="$ROOT_AK" AWS_SECRET_ACCESS_KEY="$ROOT_SK" AWS_ENDPOINT_URL="$S3_ENDPOINT" \
  TOLLGATE_ENDPOINT="$S3_ENDPOINT" AWS_CONFIG_FILE="$WORK/aws-config" AWS_SHARED_CREDENTIALS_FILE="$WORK/aws-credentials" "$@"; }
remove_readme_names() {
  local t u
  root_env "$TOLLGATE_BIN" admin topic delete --bucket acme-post --topic inbox >/dev/null 2>&1 || true
  for b in photos acme-data acme-post; do root_env aws s3 rb --force "s3://$b" >/dev/null 2>&1 || true; done
  for t in acme globex; do
    for u in $(root_env "$TOLLGATE_BIN" admin --json user list --tenant "$t" 2>/dev/null | pyj '" ".join(x["name"] for x in d)' 2>/dev/null); do
      root_env "$TOLLGATE_BIN" admin user delete --tenant "$t" "$u" >/dev/null 2>&1 || true
    done
    root_env "$TOLLGATE_BIN" admin tenant delete "$t" >/dev/null 2>&1 || true
  done
}
private_aws_config
trap 'remove_readme_names; cleanup_work' EXIT
remove_readme_names

mkdir -p "$WORK/cwd"
cd "$WORK/cwd"
tollgate() { "$TOLLGATE_BIN" "$@"; }
export -f tollgate
export AWS_ENDPOINT_URL=$S3_ENDPOINT TOLLGATE_ENDPOINT=$S3_ENDPOINT
export TOLLGATE_BIN

declare -A CAP=() SECRET_OF=() CREATED=()
fixtures_made=""
# fixture NAME: make what the README assumes exists, once, before a command naming it
# (its output in $WORK/err)
fixture() {
  case " $fixtures_made " in *" $1 "*) return 0 ;; esac
  fixtures_made="$fixtures_made $1"
  case "$1" in
    pictures)
      mkdir -p pictures
      printf 'a beach\n' >pictures/beach.jpg
      printf 'a mountain\n' >pictures/mountain.jpg
      ;;
    report.pdf)
      head -c 200000 /dev/urandom >report.pdf
      root_env aws s3 cp --only-show-errors report.pdf s3://acme-data/report.pdf
      ;;
  esac
}

# substitute CMD: the command with the README's endpoint and placeholders filled in, or
# return 1 naming what has no value
substitute() {
  local c=$1 ph name val
  c=${c//"http://127.0.0.1:9000"/$S3_ENDPOINT}
  c=${c//"AWS_ACCESS_KEY_ID=..."/AWS_ACCESS_KEY_ID=$ROOT_AK}
  c=${c//"AWS_SECRET_ACCESS_KEY=..."/AWS_SECRET_ACCESS_KEY=$ROOT_SK}
  c=${c//"<root access key>"/$ROOT_AK}
  c=${c//"<root secret key>"/$ROOT_SK}
  for ph in "<access_key>:access_key" "<secret_key>:secret_key" "<proof id>:proof_id" "<base64 public key>:pubkey"; do
    name=${ph%%:*}
    case "$c" in *"$name"*) ;; *) continue ;; esac
    val=${CAP[${ph#*:}]:-}
    [ -n "$val" ] || { echo "no value yet for $name (no earlier command printed one)"; return 1; }
    c=${c//"$name"/$val}
  done
  if ph=$(grep -oE '<[A-Za-z][A-Za-z0-9_-]*( [A-Za-z0-9_-]+)*>|=\.\.\.' <<<"$c"); then
    echo "unknown placeholder: $ph"
    return 1
  fi
  printf '%s' "$c"
}

# run_one CMD: CMD in a subshell of this shell (its own process group, killed after
# CMD_TIMEOUT), stdout and stderr to $WORK/out and $WORK/err; the exported variables and
# the directory it leaves become this shell's. Returns its status.
run_one() {
  local rc=0 pid waited=0
  set -m
  (
    set +eu -o pipefail
    eval "$1"
    rc=$?
    export -p >"$WORK/env.after"
    pwd >"$WORK/pwd.after"
    exit $rc
  ) >"$WORK/out" 2>"$WORK/err" </dev/null &
  pid=$!
  set +m
  while kill -0 "$pid" 2>/dev/null; do
    if [ $waited -ge $((CMD_TIMEOUT * 10)) ]; then
      kill -9 -- "-$pid" 2>/dev/null || true
      echo "(killed after ${CMD_TIMEOUT}s)" >>"$WORK/err"
      break
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  { wait "$pid"; } 2>/dev/null || rc=$? # (no "Killed" notice from this shell)
  if [ -f "$WORK/env.after" ]; then
    local before after v
    before=$(compgen -e | sort)
    after=$(sed -n 's/^declare -[a-zA-Z]*x[a-zA-Z]* \([A-Za-z_][A-Za-z0-9_]*\).*/\1/p' "$WORK/env.after" | sort)
    for v in $(comm -23 <(echo "$before") <(echo "$after")); do unset "$v"; done
    # shellcheck disable=SC1090
    source <(grep '^declare -x ' "$WORK/env.after" | sed 's/^declare -x /declare -gx /')
    cd "$(cat "$WORK/pwd.after")"
    rm -f "$WORK/env.after" "$WORK/pwd.after"
  fi
  return $rc
}

pass() { PASSED=$((PASSED + 1)); echo "PASS $SUITE: $1"; }
failed_cmd() { # what why
  FAILED=$((FAILED + 1))
  FAILED_NAMES+=("$1")
  echo "FAIL $SUITE: $1: $2"
  [ -z "$run_cmd" ] || [ "$run_cmd" = "$cmd" ] || echo "    as run: $run_cmd"
  cat "$WORK/out" "$WORK/err" 2>/dev/null | tail -n 20 | sed 's/^/    | /'
}

echo "$SUITE: the commands of $README against $S3_ENDPOINT"
block_failed=""
current_block=""
while IFS=$'\t' read -r -u 3 action block line expect tag profile b64; do
  cmd=$(base64 -d <<<"$b64")
  what="README.md:$line \`$cmd\`"
  if [ "$block" != "$current_block" ]; then
    current_block=$block
    block_failed=""
  fi
  if [ "$action" = skip ]; then
    echo "skip $SUITE: $what (see SKIP)"
    continue
  fi
  if [ -n "$block_failed" ]; then
    echo "not run $SUITE: $what (README.md:$block_failed failed before it in this example)"
    continue
  fi
  : >"$WORK/out"
  : >"$WORK/err"
  run_cmd=""
  for f in pictures report.pdf; do
    case "$cmd" in *"$f"*) ;; *) continue ;; esac
    fixture "$f" >"$WORK/err" 2>&1 </dev/null || { failed_cmd "$what" "fixture $f could not be made"; block_failed=$line; }
  done
  [ -z "$block_failed" ] || continue
  if ! run_cmd=$(substitute "$cmd"); then
    echo "$run_cmd" >"$WORK/err"
    run_cmd=""
    failed_cmd "$what" "cannot be run as written"
    block_failed=$line
    continue
  fi
  start=$SECONDS
  rc=0
  run_one "$run_cmd" || rc=$?
  took=$((SECONDS - start))
  output=$(cat "$WORK/out" "$WORK/err")
  if [ "$expect" != 0 ]; then
    if [ $rc -eq 0 ]; then
      failed_cmd "$what" "succeeded, but the README says it is refused ($expect)"
      block_failed=$line
    elif [ "$expect" = 403 ] && ! grep -qE '403|Forbidden|AccessDenied' <<<"$output"; then
      failed_cmd "$what" "failed (exit $rc), but not with the README's 403"
      block_failed=$line
    else
      pass "$what: refused as the README says (exit $rc, ${took}s)"
    fi
    continue
  fi
  if [ $rc -ne 0 ]; then
    if [ "$tag" != - ] && [ -n "${CREATED[$tag]:-}" ] && grep -q '409 Conflict: already exists' <<<"$output"; then
      pass "$what: already exists, created by README.md:${CREATED[$tag]} (each example is written for a fresh gateway)"
      continue
    fi
    failed_cmd "$what" "exit $rc"
    block_failed=$line
    continue
  fi
  [ "$tag" = - ] || CREATED[$tag]=$line
  while read -r kv; do # name=value (values may end in '=': base64)
    [ -n "$kv" ] || continue
    CAP[${kv%%=*}]=${kv#*=}
  done < <(python3 "$WORK/readme.py" capture "$WORK/out")
  [ -z "${CAP[access_key]:-}" ] || [ -z "${CAP[secret_key]:-}" ] || SECRET_OF[${CAP[access_key]}]=${CAP[secret_key]}
  if [ "$profile" != - ]; then
    aws configure set aws_access_key_id "${CAP[access_key]}" --profile "$profile" </dev/null
    aws configure set aws_secret_access_key "${CAP[secret_key]}" --profile "$profile" </dev/null
  fi
  pass "$what (${took}s)"
  # what the command promises, checked
  case "$cmd" in
    "tollgate admin key disable "*)
      key=$(awk '{print $5}' <<<"$run_cmd")
      if out=$(env -u AWS_PROFILE AWS_ACCESS_KEY_ID="$key" AWS_SECRET_ACCESS_KEY="${SECRET_OF[$key]:-unknown}" aws s3 ls 2>&1 </dev/null); then
        echo "$out" >"$WORK/out"
        : >"$WORK/err"
        failed_cmd "$what" "the disabled key $key still lists buckets"
      else
        pass "$what: a request signed with $key is refused: $(tail -n 1 <<<"$out")"
      fi
      ;;
  esac
done 3<"$WORK/plan.tsv"

cd "$COMPAT_DIR"
finish

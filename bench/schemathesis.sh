#!/usr/bin/env bash
# Schemathesis against `athar serve` (on demand, not part of the test suite): checks that
# the API answers what its OpenAPI document (/api/openapi.json, generated from the route
# table) says, with every schemathesis check on.
#
# Makes a temporary archive with two cases (c1, c2), users of every role (admin1;
# investigator inv1, analyst ana1 and viewer view1 on c1; investigator inv2 on c2), a few
# small synthetic files ingested into both cases (one of them the same bytes in both) and a
# few records; starts `athar serve` on 127.0.0.1; logs in as inv1 and creates an API token;
# then runs schemathesis with that token against every operation but the two that end the
# credential in use (POST /api/logout, DELETE /api/tokens/{id}), which run afterwards with
# a token of their own. Prints a summary; exits non-zero on any failure, on any 5xx and on
# any "internal error" the server logged.
#
# Usage: bench/schemathesis.sh [WORKDIR]
#   ATHAR=path/to/athar     skip the release build (e.g. target/debug/athar)
#   EXAMPLES=N              test cases per operation and phase (default 50)
#   SEED=N                  hypothesis seed (default: random; printed)
#   ST_USER=NAME            whose token is used (default inv1; admin1, ana1, view1, inv2)
#   ST_ARGS="..."           more arguments for `st run`
# schemathesis is installed (pip, pinned) into target/schemathesis-venv on first use.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
target="${CARGO_TARGET_DIR:-$here/target}"
if [ -z "${ATHAR:-}" ]; then
  cargo build --release --quiet --manifest-path "$here/Cargo.toml" --bin athar
  ATHAR="$target/release/athar"
fi
ATHAR=$(cd "$(dirname "$ATHAR")" && pwd)/$(basename "$ATHAR")
examples=${EXAMPLES:-50}
seed=${SEED:-$RANDOM$RANDOM}
st_version=4.32.5

venv="$target/schemathesis-venv"
if ! "$venv/bin/st" --version 2>/dev/null | grep -q "$st_version"; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "schemathesis==$st_version"
fi

work=${1:-$(mktemp -d "${TMPDIR:-/tmp}/athar-schemathesis.XXXXXX")}
mkdir -p "$work"
archive="$work/archive"
athar() { "$ATHAR" --archive "$archive" "$@"; }
server=""
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
}
trap cleanup EXIT

# ---- the archive -------------------------------------------------------------------
athar init --name schemathesis >/dev/null
mkdir -p "$work/files"
printf 'synthetic evidence, case one\n' >"$work/files/one.txt"
printf 'synthetic evidence, case two\n' >"$work/files/two.txt"
printf 'synthetic evidence shared by both cases\n' >"$work/files/shared.txt"
python3 -c 'import sys; sys.stdout.buffer.write(bytes(range(256)) * 64)' >"$work/files/bytes.bin"
athar ingest --case c1 "$work/files/one.txt" "$work/files/shared.txt" "$work/files/bytes.bin" >/dev/null
athar ingest --case c2 "$work/files/two.txt" "$work/files/shared.txt" >/dev/null
athar case add c1 --protected-reader investigator >/dev/null
athar case add c2 >/dev/null
athar source add --case c1 --name W-1 --type witness --protection protected \
  --identity "Synthetic Person" >/dev/null
athar source add --case c2 --name W-2 --type witness >/dev/null
pw=synthetic-password-123
for u in "admin1 admin" "inv1 investigator c1" "ana1 analyst c1" "view1 viewer c1" \
  "inv2 investigator c2"; do
  set -- $u
  args=(user add "$1" --role "$2" --password-stdin)
  [ -n "${3:-}" ] && args+=(--case "$3")
  echo "$pw" | athar "${args[@]}" >/dev/null
done

# ---- the server ----------------------------------------------------------------------
athar serve --listen 127.0.0.1:0 >"$work/serve.out" 2>"$work/serve.err" &
server=$!
for _ in $(seq 100); do
  grep -q '^Listening on ' "$work/serve.out" 2>/dev/null && break
  sleep 0.1
done
base=$(sed -n 's/^Listening on //p' "$work/serve.out" | head -n1)
[ -n "$base" ] || { echo "athar serve did not start" >&2; cat "$work/serve.err" >&2; exit 2; }

# Logs in as $1 and creates an API token named $2; prints the token.
token() {
  local jar="$work/cookies-$1"
  local csrf
  csrf=$(curl -sf -c "$jar" -H 'Content-Type: application/json' \
    -d "{\"username\":\"$1\",\"password\":\"$pw\"}" "$base/api/login" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["csrf_token"])')
  curl -sf -b "$jar" -H "X-CSRF-Token: $csrf" -H 'Content-Type: application/json' \
    -d "{\"name\":\"$2\"}" "$base/api/tokens" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])'
}
user=${ST_USER:-inv1}
main_token=$(token "$user" schemathesis)
spent_token=$(token "$user" schemathesis-spent)

# ---- schemathesis --------------------------------------------------------------------
# Operations whose valid input the document cannot spell out in JSON Schema: a record
# is a JSON Lines object whose fields depend on its kind and must name records, items
# and cases that exist (docs/records.md); a tus upload's Upload-Metadata holds base64
# fields naming a case. A well-formed request there may still be refused with 400, so
# only for these operations is 400 also an acceptable answer to "positive" data.
cat >"$work/schemathesis.toml" <<'EOF'
[[operations]]
include-operation-id = ["CreateRecord", "EditRecord", "UploadCreate"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "403", "404", "409", "413", "429"]

# JSON Schema counts 248.0 as an integer; serde does not read it as an i64, so the token
# route answers 422 to `"expires_in_days": 248.0`: an accepted answer there.
[[operations]]
include-operation-id = ["CreateToken"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "422", "429"]

# tus 1.0.0 answers a request without `Tus-Resumable: 1.0.0` with 412 Precondition Failed
# (the protocol's rule, and documented): an accepted answer to a wrong or missing version.
[[operations]]
include-operation-id = ["UploadCreate", "UploadHead", "UploadPatch", "UploadTerminate"]
checks.negative_data_rejection.expected-statuses = ["400", "401", "403", "404", "405", "409", "412", "413", "415", "422", "423", "429"]
checks.missing_required_header.expected-statuses = ["400", "401", "403", "404", "412", "415", "422"]
EOF
# tus PATCH bodies (application/offset+octet-stream) are sent as bytes.
mkdir -p "$work/hooks"
cat >"$work/hooks/athar_hooks.py" <<'EOF'
import schemathesis


@schemathesis.serializer("application/offset+octet-stream")
def offset_octet_stream(ctx, value):
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    return str(value).encode()


# GET /api/items/{id}/review answers `"url": "/api/items/ID/review/{variant}"`, a URI
# template; the stateful phase takes it for a link and would send `{variant}` itself.
# Expanded here as a client would, with the variant shown first.
@schemathesis.hook
def before_call(context, case, kwargs):
    params = case.path_parameters or {}
    if str(params.get("variant", "")) in ("{variant}", "%7Bvariant%7D"):
        params["variant"] = "blurred"
EOF
export PYTHONPATH="$work/hooks${PYTHONPATH:+:$PYTHONPATH}" SCHEMATHESIS_HOOKS=athar_hooks

st="$venv/bin/st"
status=0
run() {
  local name=$1 tok=$2
  shift 2
  echo "== schemathesis: $name as $user (seed $seed, $examples examples)"
  (cd "$work" && "$st" --config-file "$work/schemathesis.toml" run "$base/api/openapi.json" \
    --url "$base" \
    -H "Authorization: Bearer $tok" \
    --checks all \
    --mode all \
    --max-examples "$examples" \
    --seed "$seed" \
    --workers 1 \
    --no-color \
    --report junit,ndjson --report-dir "$work/report-$name" \
    ${ST_ARGS:-} "$@") 2>&1 | tee "$work/st-$name.log" || status=1
}
run main "$main_token" --exclude-operation-id Logout --exclude-operation-id RevokeToken
run credentials "$spent_token" --include-operation-id Logout --include-operation-id RevokeToken

# ---- summary -------------------------------------------------------------------------
errors=$(grep -c 'internal error' "$work/serve.err" || true)
echo "== summary"
for name in main credentials; do
  python3 - "$work/report-$name" "$name" <<'EOF'
import sys, pathlib, xml.etree.ElementTree as ET
d, name = pathlib.Path(sys.argv[1]), sys.argv[2]
tests = fails = errors = skipped = 0
for f in d.glob("*.xml"):
    for s in ET.parse(f).getroot().iter("testsuite"):
        tests += int(s.get("tests", 0)); fails += int(s.get("failures", 0))
        errors += int(s.get("errors", 0)); skipped += int(s.get("skipped", 0))
cases = 0
for f in d.glob("*.ndjson"):
    for line in f.read_text().splitlines():
        if '"ScenarioFinished"' in line:
            import json
            ev = json.loads(line).get("ScenarioFinished", {})
            rec = ev.get("recorder", {})
            cases += len(rec.get("cases", {}) or {})
print(f"{name}: {tests} suites (operations, and the stateful phase), {fails} failed, {errors} errors, {skipped} skipped, {cases} test cases")
EOF
  grep -A1 '^Test cases:' "$work/st-$name.log" | tail -n1 | sed "s/^ */$name: /" || true
  tail -n1 "$work/st-$name.log" | sed "s/^=* */$name: /; s/ *=*$//"
done
echo "server: $errors internal errors logged (details in $work/serve.err)"
[ "$errors" -eq 0 ] || status=1
echo "work folder: $work"
exit $status

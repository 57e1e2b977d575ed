#!/usr/bin/env bash
# Athar's main command on the embedded default (SQLite + local files): build, create the
# archive if needed, optionally preserve and verify FOLDER first, make the first admin account
# when the archive has none (its generated password is printed once), and serve the web API.
# Usage: scripts/run.sh [FOLDER]
#   archive: $ATHAR_ARCHIVE (default ./athar-archive); address: $ATHAR_LISTEN (default
#   127.0.0.1:8080); FOLDER is collected into case $ATHAR_CASE (default "demo").
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/ensure-deps.sh" run
echo "Building athar (release; the first build takes several minutes, later ones seconds)…"
cargo build --release --quiet --manifest-path "$here/Cargo.toml" --bin athar
echo "Built."
athar="${CARGO_TARGET_DIR:-$here/target}/release/athar"
export ATHAR_ARCHIVE=${ATHAR_ARCHIVE:-./athar-archive}
listen=${ATHAR_LISTEN:-127.0.0.1:8080}
case_name=${ATHAR_CASE:-demo}

if [ ! -f "$ATHAR_ARCHIVE/athar.toml" ]; then
  echo "Creating the archive at $ATHAR_ARCHIVE…"
  "$athar" init
  # A first case, so there is somewhere to upload into.
  "$athar" case add "$case_name" --title "First case" >/dev/null
fi

src=${1:-}
if [ -n "$src" ]; then
  echo "Preserving $src into case $case_name, then verifying (the server fingerprints it)…"
  "$athar" ingest --case "$case_name" --source "${ATHAR_SOURCE:-scripts/run.sh}" "$src"
  "$athar" verify
fi

if [ -z "$("$athar" user list --json)" ]; then
  echo "First admin account (the password is shown only now; change it with 'athar user reset admin'):"
  "$athar" user add admin --role admin | sed 's/^/  /'
fi

echo "Open the URL below and log in; Ctrl-C stops the server."
exec "$athar" serve --listen "$listen"

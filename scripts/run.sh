#!/usr/bin/env bash
# Athar's main job on the embedded default (SQLite + local files): build, create the archive
# if needed, preserve FOLDER (or a small demo set made here), verify everything, list it.
# Usage: scripts/run.sh [FOLDER]    (archive: $ATHAR_ARCHIVE, default ./athar-archive)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/ensure-deps.sh" run
cargo build --release --quiet --manifest-path "$here/Cargo.toml" --bin athar
athar="$here/target/release/athar"
export ATHAR_ARCHIVE=${ATHAR_ARCHIVE:-./athar-archive}

if [ ! -f "$ATHAR_ARCHIVE/athar.toml" ]; then
  "$athar" init
fi

src=${1:-}
if [ -z "$src" ]; then
  # A small synthetic demo set: a statement, two "clips", one of them re-posted under
  # another name (stored once, the second copy recorded as a sighting).
  src=$(mktemp -d "${TMPDIR:-/tmp}/athar-demo.XXXXXX")
  mkdir -p "$src/source-A" "$src/source-B"
  printf 'Synthetic witness statement (demo data, no real person).\n' >"$src/source-A/statement.txt"
  { printf '\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom'; head -c 300000 /dev/urandom; } >"$src/source-A/clip-1.mp4"
  head -c 500000 /dev/urandom >"$src/source-A/clip-2.bin"
  cp "$src/source-A/clip-1.mp4" "$src/source-B/reposted-copy.mp4"
  echo "No folder named: ingesting a demo set made in $src" >&2
fi

"$athar" ingest --source "${ATHAR_SOURCE:-scripts/run.sh}" "$src"
"$athar" verify
"$athar" list

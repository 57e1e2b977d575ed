#!/usr/bin/env bash
# Upload load test on loopback: 20 concurrent tus uploads of 200 MB and 100 concurrent API
# readers against one `athar serve` (see bench/upload_load.py for the knobs: UPLOADS,
# SIZE_MB, CHUNK_MB, READERS). Prints one JSON line; exits 1 on any failed or lost upload.
# Usage: bench/upload.sh [WORKDIR]     (ATHAR=path/to/athar to skip the release build)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${ATHAR:-}" ]; then
  cargo build --release --quiet --manifest-path "$here/Cargo.toml" --bin athar
  ATHAR="${CARGO_TARGET_DIR:-$here/target}/release/athar"
fi
work=${1:-$(mktemp -d "${TMPDIR:-/tmp}/athar-upload-bench.XXXXXX")}
echo "load before: $(uptime)" >&2
python3 "$here/bench/upload_load.py" "$ATHAR" "$work"
rm -rf "$work/archive"

#!/usr/bin/env bash
# Latency of the server's near-duplicates route (GET /api/items/{id}/similar) on an archive
# of N fingerprinted items (default 100,000: tiny synthetic images, N/200 short videos,
# groups of near-duplicate copies), for one binary or two side by side (see
# bench/near_duplicates.py). The archive is built once, by BEFORE if given (else ATHAR), and
# kept under WORK/n<N>/ for later runs and other binaries; delete that folder to rebuild.
#
# Usage: [ATHAR=path] [BEFORE=path] [WORK=dir] [REQUESTS=50] [VIDEOS=n]
#        bench/near_duplicates.sh [N] [REQUESTS]
#   e.g. ATHAR=target/release/athar BEFORE=/work/target-before/release/athar \
#        bench/near_duplicates.sh
# Without ATHAR, the workspace's release build is made and used. BEFORE is measured first
# (a newer binary may upgrade the archive it opens). Needs python3 and ffmpeg/ffprobe.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${ATHAR:-}" ]; then
  cargo build --release --quiet --manifest-path "$here/Cargo.toml" --bin athar
  ATHAR="${CARGO_TARGET_DIR:-$here/target}/release/athar"
fi
for t in ffmpeg ffprobe python3; do
  command -v "$t" >/dev/null || { echo "$t not found (scripts/ensure-deps.sh installs it)" >&2; exit 2; }
done
args=(--athar "$ATHAR" --items "${1:-100000}" --requests "${2:-${REQUESTS:-50}}"
      --work "${WORK:-${TMPDIR:-/tmp}/athar-neardup}")
[ -n "${BEFORE:-}" ] && args+=(--before "$BEFORE")
[ -n "${VIDEOS:-}" ] && args+=(--videos "$VIDEOS")
echo "load before: $(uptime)" >&2
exec python3 "$here/bench/near_duplicates.py" "${args[@]}"

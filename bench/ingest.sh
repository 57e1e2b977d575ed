#!/usr/bin/env bash
# Ingest throughput against openssl (and sha256sum), side by side, medians of several runs.
# Usage: bench/ingest.sh [RUNS]   (needs ~3 GiB free under ${TMPDIR:-/tmp})
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --quiet --manifest-path "$here/Cargo.toml" --bin athar
exec python3 "$here/bench/ingest.py" "$here/target/release/athar" "${1:-5}"

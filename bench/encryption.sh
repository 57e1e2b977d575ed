#!/usr/bin/env bash
# An encrypted archive against a plain one in the same run (issue 19): ingest of a 1 GiB
# file and of 10,000 small files, `athar verify`, and 1 MiB range reads through
# `athar serve`; medians, ratios (encrypted speed / plain speed) and latency percentiles.
# See bench/encryption.py for what is measured and how the passphrase unlock is counted.
# Usage: bench/encryption.sh        (RUNS=3 by default; ~4 GB free under ${TMPDIR:-/tmp}, 5 GB for RUNS=5)
#   ATHAR_BIN=path   measure this binary instead of building the release one
#   ATHAR_SCRATCH    the encrypted archives' scratch folder (default: a folder in /dev/shm)
#   RUNS, REQUESTS, ANYWHERE, SMALL_FILES, BIG_MIB, SEED, JSON_OUT=file (the figures as JSON)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
if [[ -z ${ATHAR_BIN:-} ]]; then
    (cd "$here" && cargo build --release --quiet -p athar)
fi
athar=${ATHAR_BIN:-${CARGO_TARGET_DIR:-$here/target}/release/athar}
exec python3 "$here/bench/encryption.py" "$athar"

#!/usr/bin/env bash
# Recall of `athar similar` per transform and false matches among unrelated clips, beside
# the reference vPDQ's (PyPI vpdq 0.2.5) on the same corpus. Reproducible from the seed.
# Usage: bench/eval.sh [--seed N] [--distractors N] [--samples N] ... (see bench/eval.py -h)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ATHAR_TESTDATA="${ATHAR_TESTDATA:-$root/../shared/testdata}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"

python3 -c 'import numpy' 2>/dev/null || python3 -m pip install --quiet numpy
# PyPI vpdq builds against FFmpeg's development files; without them eval.py takes the
# reference's hashes from `athar vpdq` (bit-identical) and says so.
python3 -c 'import vpdq' 2>/dev/null || python3 -m pip install --quiet vpdq==0.2.5 \
  || echo "notice: PyPI vpdq not installed; the reference's hashes come from athar vpdq" >&2

cargo build --quiet --release -p athar
python3 "$root/bench/eval.py" --athar-bin "$CARGO_TARGET_DIR/release/athar" "$@"

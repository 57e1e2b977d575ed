#!/usr/bin/env bash
# vPDQ wall time, Athar vs the reference (PyPI vpdq 0.2.5, C++ core over
# libav*), every frame and one frame per second, on the 14 ThreatExchange
# sample clips; both use all cores. Usage: bench/vpdq.sh [RUNS]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs="${1:-5}"
testdata="${ATHAR_TESTDATA:-$root/../shared/testdata}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"

python3 -c 'import vpdq' 2>/dev/null || python3 -m pip install --quiet vpdq==0.2.5

cargo build --quiet --release -p athar
python3 "$root/bench/vpdq_bench.py" \
  --clips "$testdata/threatexchange/tmk/sample-videos" \
  --athar-bin "$CARGO_TARGET_DIR/release/athar" --runs "$runs"

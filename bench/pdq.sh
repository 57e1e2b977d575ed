#!/usr/bin/env bash
# PDQ throughput, Athar vs the reference C++ core (PyPI pdqhash), one thread,
# on the same Pillow-decoded RGB buffers. Usage: bench/pdq.sh [RUNS]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs="${1:-7}"
testdata="${ATHAR_TESTDATA:-$root/../shared/testdata}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"

python3 -c 'import pdqhash, PIL, numpy' 2>/dev/null || python3 -m pip install --quiet pdqhash==0.2.8 pillow numpy

cargo build --quiet --release -p athar-media --example pdq_bench
bin="$CARGO_TARGET_DIR/release/examples/pdq_bench"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# One core: the reference is single-threaded, and so is the Athar example.
pin=()
command -v taskset >/dev/null && pin=(taskset -c 0)
OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 "${pin[@]}" python3 "$root/bench/pdq_bench.py" \
  --testdata "$testdata" --work "$work" --athar-bin "$bin" --runs "$runs"

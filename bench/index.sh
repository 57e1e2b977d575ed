#!/usr/bin/env bash
# Exact radius-31 search over N 256-bit hashes (random plus clustered near-copies):
# Athar's HammingIndex (multi-index and compact kinds) against FAISS (PyPI faiss-cpu)
# IndexBinaryFlat and IndexBinaryMultiHash, same bytes, both sides single-threaded and
# pinned to one core.
# Usage: bench/index.sh [N] [RUNS] [SEED]     (defaults: 1000000 3 20261127)
# ATHAR_CONFIGS and FAISS_CONFIGS (space-separated) choose the rows, e.g. to leave out
# FAISS's slowest builds at 10 M: FAISS_CONFIGS="flat mh16" (default: every row below).
# NATIVE=1 builds Athar for this machine's CPU (see below).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
n="${1:-1000000}"
runs="${2:-3}"
seed="${3:-20261127}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"

python3 -c 'import faiss, numpy' 2>/dev/null || python3 -m pip install --quiet faiss-cpu numpy

# NATIVE=1: Athar built for this machine's CPU (`-C target-cpu=native`, e.g. AVX-512's
# VPOPCNTDQ), in a target folder of its own; the default is the workspace's x86-64-v2.
if [ "${NATIVE:-0}" = 1 ]; then
  export RUSTFLAGS="${RUSTFLAGS:-} -C target-cpu=native"
  export CARGO_TARGET_DIR="$CARGO_TARGET_DIR-native"
fi
cargo build --quiet --release -p athar-media --example index_bench
bin="$CARGO_TARGET_DIR/release/examples/index_bench"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 "$root/bench/index_bench.py" gen --n "$n" --queries 1000 --seed "$seed" --out "$work"

pin=()
command -v taskset >/dev/null && pin=(taskset -c 0)
# Flat and exact MultiHash scan or probe a lot: fewer queries keep the run short.
if [ "$n" -gt 2000000 ]; then slow=50; mh=100; else slow=200; mh=1000; fi
out="$work/results.jsonl"
# Athar: its own choice by size (0), two fixed substring counts, the compact kind, and the
# multi-index kind's row scan alone.
default_configs="0 12 16 compact"
[ "$n" -le 2000000 ] && default_configs+=" linear"
read -r -a configs <<< "${ATHAR_CONFIGS:-$default_configs}"
"${pin[@]}" "$bin" "$work" "$runs" 31 "${configs[@]}" | tee -a "$out"
faiss() {
  OMP_NUM_THREADS=1 "${pin[@]}" python3 "$root/bench/index_bench.py" faiss --dir "$work" \
    --runs "$runs" --radius 31 "$@" | tee -a "$out"
}
for f in ${FAISS_CONFIGS:-flat mh16 mh12 mh16x0}; do
  case "$f" in
    flat) faiss --kind flat --max-queries "$slow" ;;
    mh16) faiss --kind multihash --nhash 16 --bits 16 --nflip 1 --max-queries "$mh" ;;
    mh12) faiss --kind multihash --nhash 12 --bits 21 --nflip 2 --max-queries "$mh" ;;
    # Not exact (misses copies whose differing bits touch every substring): for its recall.
    mh16x0) faiss --kind multihash --nhash 16 --bits 16 --nflip 0 ;;
    *) echo "unknown FAISS configuration $f (flat mh16 mh12 mh16x0)" >&2; exit 2 ;;
  esac
done
python3 "$root/bench/index_bench.py" report < "$out"

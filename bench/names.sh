#!/usr/bin/env bash
# Names that hold up: ranked name search measured in full.
#
# 1. The evaluation in process (crates/search/examples/name_eval.rs): synthetic persons,
#    each with six namesakes sharing two of their three names, stored in one script or
#    spelling and searched in others (eight romanisation styles, Arabic as typed, family
#    name first), without and with a typo in every query; then persons made of name parts
#    from published Arabic-Latin spelling pairs (bench/name_pairs.py, four PyPI packages),
#    per source. Recall at 1 and 5, namesakes ranked first, time per search.
# 2. The whole command at scale: N person records (default 1,000,000) imported with
#    `athar records import`, then Q name queries (default 300) each run as
#    `athar search --json --limit 5 QUERY` (process start, archive and index open, search);
#    recall at 1 and 5 over the million and latency p50/p95.
#
# Usage: bench/names.sh [N] [Q]      (SKIP_SCALE=1: only part 1; SKIP_EVAL=1: only part 2)
# All names are synthetic combinations of common name parts; no real person is modelled.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$here/target}
n=${1:-1000000}
q=${2:-300}
cargo build --release --quiet --manifest-path "$here/Cargo.toml" --bin athar
cargo build --release --quiet --manifest-path "$here/Cargo.toml" -p athar-search --example name_eval
echo "== machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ), commit $(git -C "$here" rev-parse --short HEAD) =="

if [ -z "${SKIP_EVAL:-}" ]; then
    pairs="$target/name_pairs.tsv"
    [ -s "$pairs" ] || python3 "$here/bench/name_pairs.py" "$pairs"
    "$target/release/examples/name_eval" --pairs "$pairs"
fi
[ -n "${SKIP_SCALE:-}" ] && exit 0

work=$(mktemp -d /tmp/athar-names-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
"$target/release/examples/name_eval" --emit "$work" --records "$n" --queries "$q"
exec python3 - "$target/release/athar" "$work" <<'PY'
import json, os, statistics, subprocess, sys, time
athar, work = sys.argv[1], sys.argv[2]
arch = os.path.join(work, "archive")
subprocess.run([athar, "--archive", arch, "init", "--collector", "Bench"], check=True, stdout=subprocess.DEVNULL)
t = time.perf_counter()
p = subprocess.run(["/usr/bin/time", "-f", "%M", athar, "--archive", arch, "records", "import", "--json",
                    os.path.join(work, "records.jsonl")], check=True, capture_output=True, text=True)
elapsed = time.perf_counter() - t
rss = int(p.stderr.strip().splitlines()[-1]) / 1024
records = sum(1 for _ in open(os.path.join(work, "records.jsonl")))
print(f"== {records:,} records imported in {elapsed:.1f} s ({records / elapsed:,.0f}/s), peak RSS {rss:.0f} MiB ==")
queries = [l.rstrip("\n").split("\t") for l in open(os.path.join(work, "queries.tsv"))]
lat, first, top5, kinds, misses = [], 0, 0, {}, []
for kind, text, want in queries:
    t = time.perf_counter()
    out = subprocess.run([athar, "--archive", arch, "search", "--json", "--limit", "5", text],
                         check=True, capture_output=True, text=True).stdout
    lat.append((time.perf_counter() - t) * 1000)
    titles = [h["title"] for h in json.loads(out)["hits"]]
    rank = titles.index(want) if want in titles else None
    if rank != 0 and len(misses) < 25:
        misses.append(f"    miss {kind}: {text!r} (stored {want!r}) -> rank {rank}, first {titles[:2]!r}")
    k = kinds.setdefault(kind, [0, 0, 0])
    k[0] += 1
    k[1] += rank == 0
    k[2] += rank is not None
    first += rank == 0
    top5 += rank is not None
lat.sort()
pct = lambda f: lat[min(len(lat) - 1, round((len(lat) - 1) * f))]
print(f"  {len(queries)} name queries over {records:,} records, whole command:")
for kind, (nq, f1, f5) in sorted(kinds.items()):
    print(f"    {kind:24} {nq:4}  first {f1 / nq:.3f}  top 5 {f5 / nq:.3f}")
print(f"    {'all':24} {len(queries):4}  first {first / len(queries):.3f}  top 5 {top5 / len(queries):.3f}")
print("\n".join(misses))
print(f"  latency: p50 {pct(0.5):.1f} ms, p95 {pct(0.95):.1f} ms, max {lat[-1]:.1f} ms (load {os.getloadavg()[0]:.2f})")
PY

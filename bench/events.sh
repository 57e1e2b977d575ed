#!/usr/bin/env bash
# Custody events at scale: the embedded backends (SQLite + local folders) and the scale-out
# ones (PostgreSQL catalog, blobs and log in Garage) side by side on the same machine and the
# same input. Each archive gets 100 small files (their ingest events come first in the log),
# then EVENTS custody events in all, written by `athar records import` of synthetic person
# records in chunks of CHUNK (each record one event: catalogued, logged, indexed). Prints per
# backend: the append rate (events/s, median over chunks and over the whole run), the
# latency of `athar log proof` for the first events (whole command: process start, catalog
# open, proof read from the log's tiles; p50/p95 of PROOFS), and the time of `athar verify`.
#
#   bench/events.sh                            # EVENTS=10000000 CHUNK=1000000
#   EVENTS=200000 CHUNK=100000 bench/events.sh  # a quick look
#   BACKENDS=embedded bench/events.sh           # one side only
#
# Needs what `scripts/ensure-deps.sh test` installs (Garage, PostgreSQL on 127.0.0.1:5432;
# ATHAR_TEST_POSTGRES to use another). All names are synthetic.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
EVENTS="${EVENTS:-10000000}"; CHUNK="${CHUNK:-1000000}"; PROOFS="${PROOFS:-50}"
BACKENDS="${BACKENDS:-embedded scale-out}"
PG="${ATHAR_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/test}"
WORK="${WORK:-$root/bench/out/events}"
# shellcheck source=bench/garage.sh
source "$root/bench/garage.sh"
build_scale_out

rm -rf "$WORK"; mkdir -p "$WORK"
trap 'stop_garage' EXIT
start_garage
unset AWS_CA_BUNDLE
SCHEMA="bench_events_$$"
trap 'psql "$PG" -qc "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null 2>&1 || true; stop_garage' EXIT

python3 - "$ATHAR" "$WORK" "$EVENTS" "$CHUNK" "$PROOFS" "$BACKENDS" "$PG?schema=$SCHEMA" "$GARAGE_BUCKET" <<'PY'
import json, os, random, statistics, subprocess, sys, time
athar, work, events, chunk, proofs, backends, pg, bucket = sys.argv[1:9]
events, chunk, proofs = int(events), int(chunk), int(proofs)
rng = random.Random(20261207)
given = ["Samir", "Layla", "Nabil", "Huda", "Karim", "Rana", "Fadi", "Dima", "Tamer", "Salma"]
family = ["Synthet", "Exempl", "Fiktiv", "Muster", "Proba", "Specim", "Tessera", "Modell"]
files = os.path.join(work, "files")
os.makedirs(files)
for i in range(100):
    with open(os.path.join(files, f"f{i:03d}.bin"), "wb") as f:
        f.write(rng.randbytes(4096))

def run(args, **kw):
    return subprocess.run([athar] + args, check=True, capture_output=True, text=True, **kw)

def write_chunk(path, start, n):
    with open(path, "w") as f:
        for i in range(start, start + n):
            f.write(json.dumps({"kind": "person", "case": "events",
                                "names": [{"name": f"{given[i % 10]} {family[(i // 10) % 8]}-{i}"}],
                                "status": "disappeared"}) + "\n")

def bench(backend):
    arch = os.path.join(work, f"archive-{backend}")
    init = ["--archive", arch, "init", "--collector", "Bench"]
    if backend == "scale-out":
        init += ["--catalog", pg, "--blobs", f"s3://{bucket}/events/blobs", "--log", f"s3://{bucket}/events/log"]
    run(init)
    run(["--archive", arch, "ingest", "--case", "events", files])
    items = [json.loads(l)["item"] for l in run(["--archive", arch, "list", "--json"]).stdout.splitlines() if l.strip()]
    done, rates, t_all = 100, [], 0.0
    path = os.path.join(work, "chunk.jsonl")
    while done < events:
        n = min(chunk, events - done)
        write_chunk(path, done, n)
        t = time.perf_counter()
        run(["--archive", arch, "records", "import", "--json", path])
        dt = time.perf_counter() - t
        t_all += dt
        done += n
        rates.append(n / dt)
        print(f"  {backend}: {done:,} events, last chunk {n / dt:,.0f} events/s", file=sys.stderr, flush=True)
    lat = []
    for item in rng.sample(items, min(proofs, len(items))):
        t = time.perf_counter()
        out = run(["--archive", arch, "log", "proof", item]).stdout
        lat.append((time.perf_counter() - t) * 1000)
        assert "c2sp.org/tlog-proof@v1" in out, out
    lat.sort()
    t = time.perf_counter()
    v = json.loads(run(["--archive", arch, "verify", "--json"]).stdout)
    t_verify = time.perf_counter() - t
    ok = v["ok"] and v["log_size"] == done
    return {"events": done, "rate_median": statistics.median(rates), "rate_all": (done - 100) / t_all,
            "proof_p50": lat[len(lat) // 2], "proof_p95": lat[max(0, int(len(lat) * 0.95) - 1)],
            "verify_s": t_verify, "verify_ok": ok, "load": os.getloadavg()[0]}

results = {}
for b in backends.split():
    results[b] = bench(b)
print(f"== {events:,} custody events, records in chunks of {chunk:,} ==")
for b, r in results.items():
    print(f"  {b}: append {r['rate_median']:,.0f} events/s (median chunk; {r['rate_all']:,.0f} overall), "
          f"proof p50 {r['proof_p50']:.1f} ms p95 {r['proof_p95']:.1f} ms, verify {r['verify_s']:.1f} s "
          f"(ok: {r['verify_ok']}), load after {r['load']:.2f}")
if len(results) == 2:
    e, s = results["embedded"], results["scale-out"]
    print(f"  scale-out / embedded: append {s['rate_median'] / e['rate_median']:.2f}x, "
          f"proof p50 {s['proof_p50'] / e['proof_p50']:.2f}x, verify time {s['verify_s'] / e['verify_s']:.2f}x")
PY

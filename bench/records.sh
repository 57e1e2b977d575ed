#!/usr/bin/env bash
# Documentation records at scale: import N generated records (default 1,000,000) with
# `athar records import` (every record checked, one custody event each, logged and
# indexed), then time `athar search` over a mix of queries. Prints records/s, peak RSS,
# catalog/log/index sizes and search latency p50/p95 (whole command: process start,
# catalog and index open, query). All names are synthetic.
# Usage: bench/records.sh [N (default 1000000)] [QUERIES (default 200)] [RUNS (default 1)]
# With RUNS > 1 the same file is imported into a fresh archive RUNS times and the median
# import is reported beside every run; the searches run on the last archive.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --quiet --manifest-path "$here/Cargo.toml" --bin athar
exec python3 - "${CARGO_TARGET_DIR:-$here/target}/release/athar" "${1:-1000000}" "${2:-200}" "${3:-1}" <<'PY'
import json, os, random, re, shutil, statistics, subprocess, sys, tempfile, time
athar, n, nq, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = random.Random(7)
work = tempfile.mkdtemp(prefix="athar-records-bench-")
given_ar = ["محمد", "أحمد", "علي", "خالد", "عمر", "يوسف", "حسن", "حسين", "إبراهيم", "سامر", "ليلى", "فاطمة", "مريم", "زينب", "نور", "رامي", "باسل", "طارق", "وسيم", "هبة"]
given_la = ["Mohammad", "Ahmad", "Ali", "Khaled", "Omar", "Yusuf", "Hasan", "Husain", "Ibrahim", "Samer", "Layla", "Fatima", "Maryam", "Zaynab", "Nour", "Rami", "Basel", "Tareq", "Wasim", "Hiba"]
family_ar = ["الخطيب", "الحلبي", "الأحمد", "الشامي", "المصري", "العلي", "الحسن", "النجار", "الحداد", "القاسم"]
family_la = ["al-Khatib", "al-Halabi", "al-Ahmad", "al-Shami", "al-Masri", "al-Ali", "al-Hasan", "al-Najjar", "al-Haddad", "al-Qasim"]
violations = ["arbitrary_detention", "torture", "killing", "death_in_custody", "enforced_disappearance", "destruction_of_remains"]
try:
    path = os.path.join(work, "records.jsonl")
    counts = {}
    with open(path, "w") as f:
        def w(obj):
            counts[obj["kind"]] = counts.get(obj["kind"], 0) + 1
            f.write(json.dumps(obj, ensure_ascii=False) + "\n")
        cases = [f"case-{i}" for i in range(10)]
        for c in cases:
            w({"kind": "case", "case": c, "title": f"Synthetic investigation {c}"})
        n_places, n_orgs, n_sources = max(1, n // 500), max(1, n // 2000), max(1, n // 1000)
        for i in range(n_places):
            g = rng.randrange(len(family_ar))
            w({"kind": "place", "key": f"pl{i}", "case": cases[i % 10], "names": [{"name": f"قرية {family_ar[g][2:]} {i}"}, {"name": f"Village {family_la[g][3:]} {i}"}], "place_type": "village", "coordinates": {"lat": 32 + rng.random(), "lon": 36 + rng.random()}})
        for i in range(n_orgs):
            w({"kind": "org", "key": f"org{i}", "case": cases[i % 10], "names": [{"name": f"Synthetic Unit {i}"}], "org_type": rng.choice(["army", "militia", "intelligence"])})
        for i in range(n_sources):
            w({"kind": "source", "key": f"src{i}", "case": cases[i % 10], "name": f"Source {i}", "protection": rng.choice(["public", "protected"]), "source_type": "witness"})
        rest = n - sum(counts.values())
        n_incidents = rest * 3 // 10
        n_acts = rest // 10
        n_persons = rest - n_incidents - n_acts
        for i in range(n_persons):
            g, fam = rng.randrange(20), rng.randrange(10)
            y = rng.randrange(1950, 2005)
            w({"kind": "person", "key": f"p{i}", "case": cases[i % 10], "names": [{"name": f"{given_ar[g]} {family_ar[fam]}"}, {"name": f"{given_la[g]} {family_la[fam]}"}], "birth_date": str(y), "status": rng.choice(["detained", "disappeared", "dead"]), "sex": rng.choice(["male", "female"])})
        for i in range(n_incidents):
            y = rng.randrange(2011, 2020)
            date = f"{y}-{rng.randrange(1,13):02d}" if rng.random() < 0.7 else f"{y}/{y + rng.randrange(1,3)}"
            w({"kind": "incident", "key": f"i{i}", "case": cases[i % 10], "title": f"Synthetic incident {i}: {rng.choice(['arrest', 'raid', 'shelling', 'transfer'])} at village {i % n_places}", "date": date, "places": [f"pl{rng.randrange(n_places)}"], "status": "alleged"})
        for i in range(n_acts):
            w({"kind": "act", "case": cases[i % 10], "incident": f"i{rng.randrange(n_incidents)}", "violation": rng.choice(violations), "victims": [{"person": f"p{rng.randrange(n_persons)}"}], "perpetrators": [{"org": f"org{rng.randrange(n_orgs)}", "involvement": "suspected"}]})
    total = sum(counts.values())
    arch = os.path.join(work, "archive")
    imports = []
    for run in range(runs):
        shutil.rmtree(arch, ignore_errors=True)
        subprocess.run([athar, "--archive", arch, "init", "--collector", "Bench"], check=True, stdout=subprocess.DEVNULL)
        load = os.getloadavg()[0]
        t = time.perf_counter()
        p = subprocess.run(["/usr/bin/time", "-f", "%M %U %S", athar, "--archive", arch, "records", "import", "--json", path], check=True, capture_output=True, text=True)
        elapsed = time.perf_counter() - t
        rss_kib, user, sys_s = p.stderr.strip().splitlines()[-1].split()
        imports.append((elapsed, int(rss_kib) / 1024, float(user) + float(sys_s), load))
        print(f"  run {run + 1}: {elapsed:.1f} s = {total / elapsed:,.0f} records/s, CPU {float(user) + float(sys_s):.1f} s, peak RSS {int(rss_kib) / 1024:.0f} MiB, load before {load:.2f}", flush=True)
    elapsed = statistics.median(e for e, _, _, _ in imports)
    rss_mib = max(r for _, r, _, _ in imports)
    def du(rel):
        s = 0
        for root, _, files in os.walk(os.path.join(arch, rel)):
            for name in files:
                s += os.path.getsize(os.path.join(root, name))
        return s / (1 << 20)
    queries = []
    for i in range(nq):
        k = i % 5
        if k == 0:
            queries.append([given_ar[rng.randrange(20)] + " " + family_ar[rng.randrange(10)], "--kind", "person"])
        elif k == 1:
            queries.append([given_la[rng.randrange(20)].replace("Mohammad", "Muhammad"), "--kind", "person"])
        elif k == 2:
            queries.append(["--kind", "incident", "--date", str(rng.randrange(2011, 2020))])
        elif k == 3:
            queries.append([rng.choice(["raid", "arrest", "shelling"]), "--date", f"{rng.randrange(2011, 2020)}-0{rng.randrange(1, 10)}"])
        else:
            queries.append(["--violation", rng.choice(violations), "--case", f"case-{rng.randrange(10)}"])
    lat = []
    for q in queries:
        t = time.perf_counter()
        subprocess.run([athar, "--archive", arch, "search", "--json", "--limit", "20"] + q, check=True, stdout=subprocess.DEVNULL)
        lat.append((time.perf_counter() - t) * 1000)
    lat.sort()
    p50, p95 = lat[len(lat) // 2], lat[int(len(lat) * 0.95) - 1]
    print(f"== {total} records ({', '.join(f'{k} {v}' for k, v in sorted(counts.items()))}) ==")
    print(f"  import{' (median of %d runs)' % runs if runs > 1 else ''}: {elapsed:.1f} s = {total / elapsed:,.0f} records/s, peak RSS {rss_mib:.0f} MiB")
    print(f"  sizes: catalog {sum(os.path.getsize(os.path.join(arch, f)) for f in os.listdir(arch) if f.startswith('catalog.sqlite')) / (1 << 20):.0f} MiB, log {du('log'):.0f} MiB, search index {du('index'):.0f} MiB")
    print(f"  search ({nq} queries, whole command): p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {lat[-1]:.1f} ms")
finally:
    if os.environ.get("KEEP_RECORDS"):
        shutil.copy(os.path.join(work, "records.jsonl"), os.environ["KEEP_RECORDS"])
    shutil.rmtree(work, ignore_errors=True)
PY

#!/usr/bin/env python3
"""Exact radius search over 256-bit hashes: Athar's HammingIndex against FAISS
(PyPI faiss-cpu) IndexBinaryFlat and IndexBinaryMultiHash, on the same bytes.

  index_bench.py gen  --n N --queries Q --seed S --out DIR
  index_bench.py report < RESULTS.jsonl
  index_bench.py faiss --dir DIR --kind flat|multihash [--nhash H --bits B --nflip F]
                       --runs R --radius 31 [--max-queries Q]

`gen` writes DIR/base.bin (N hashes: 90% uniform random, 10% near-copies: 10 copies
of each of N/100 random seeds, each copy 0-31 random distinct bits away from its
seed, rows shuffled), DIR/q_random.bin (Q uniform random hashes: almost never a
result) and DIR/q_near.bin (Q queries, each a random seed 0-15 bits off: they have
results). Raw 32-byte rows; Athar reads the same files.

`faiss` prints one JSON line: build time, RSS growth, queries per second (median of
R runs of the whole query set as one range_search call) and recall against
IndexBinaryFlat on the first 100 queries. FAISS's binary range_search keeps
distances strictly below its radius, so it is given radius + 1.
"""
import argparse
import json
import os
import time

import numpy as np

CHECK = 100


def flips(rng, k):
    """Rows of 32 bytes, row i with exactly k[i] random distinct bits set."""
    r = rng.random((len(k), 256), dtype=np.float32)
    order = np.argsort(r, axis=1)
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(256)[None, :].repeat(len(k), 0), axis=1)
    return np.packbits(ranks < k[:, None], axis=1, bitorder="little")


def gen(a):
    rng = np.random.default_rng(a.seed)
    n_near = a.n // 10
    n_seeds = max(1, n_near // 10)
    seeds = rng.integers(0, 256, (n_seeds, 32), dtype=np.uint8)
    base = np.empty((a.n, 32), dtype=np.uint8)
    base[: a.n - n_near] = rng.integers(0, 256, (a.n - n_near, 32), dtype=np.uint8)
    chunk = 65536
    for s in range(0, n_near, chunk):
        c = min(chunk, n_near - s)
        which = (np.arange(s, s + c) % n_seeds)
        k = rng.integers(0, 32, c)  # 0..31 bits
        base[a.n - n_near + s : a.n - n_near + s + c] = seeds[which] ^ flips(rng, k)
    base = base[rng.permutation(a.n)]
    q_random = rng.integers(0, 256, (a.queries, 32), dtype=np.uint8)
    pick = rng.integers(0, n_seeds, a.queries)
    q_near = seeds[pick] ^ flips(rng, rng.integers(0, 16, a.queries))
    os.makedirs(a.out, exist_ok=True)
    base.tofile(os.path.join(a.out, "base.bin"))
    q_random.tofile(os.path.join(a.out, "q_random.bin"))
    q_near.tofile(os.path.join(a.out, "q_near.bin"))


def rss():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def run_faiss(a):
    import faiss

    faiss.omp_set_num_threads(1)
    load = lambda name: np.fromfile(os.path.join(a.dir, name), dtype=np.uint8).reshape(-1, 32)
    base = load("base.bin")
    sets = {"random": load("q_random.bin"), "near": load("q_near.bin")}
    before = rss()
    t = time.perf_counter()
    if a.kind == "flat":
        index = faiss.IndexBinaryFlat(256)
        config = "IndexBinaryFlat"
    else:
        index = faiss.IndexBinaryMultiHash(256, a.nhash, a.bits)
        index.nflip = a.nflip
        config = f"IndexBinaryMultiHash nhash={a.nhash} b={a.bits} nflip={a.nflip}"
    index.add(base)
    build = time.perf_counter() - t
    grown = rss() - before
    row = {
        "side": "faiss",
        "faiss": faiss.__version__,
        "config": config,
        "n": len(base),
        "radius": a.radius,
        "build_s": build,
        "raw_bytes": base.nbytes,
        "rss_delta_bytes": grown,
        "memory_ratio": grown / base.nbytes,
    }
    truth_index = faiss.IndexBinaryFlat(256) if a.kind != "flat" else index
    if a.kind != "flat":
        truth_index.add(base)
    for name, q in sets.items():
        if a.max_queries:
            q = q[: a.max_queries]
        rates = []
        for _ in range(a.runs):
            t = time.perf_counter()
            lims, D, I = index.range_search(q, a.radius + 1)
            rates.append(len(q) / (time.perf_counter() - t))
        rates.sort()
        row[f"qps_{name}"] = rates[len(rates) // 2]
        row[f"results_{name}"] = int(lims[-1])
        row[f"queries_{name}"] = len(q)
        # Recall on the first CHECK queries against the flat (exact) index.
        tl, _, ti = truth_index.range_search(q[:CHECK], a.radius + 1)
        want = got = 0
        for i in range(min(CHECK, len(q))):
            truth = set(ti[tl[i] : tl[i + 1]].tolist())
            found = set(I[lims[i] : lims[i + 1]].tolist())
            want += len(truth)
            got += len(truth & found)
        row[f"recall_{name}"] = 1.0 if want == 0 else got / want
        row[f"checked_results_{name}"] = want
    print(json.dumps(row), flush=True)


def report(a):
    """Markdown table of the JSON lines on stdin, and Athar's ratios to FAISS."""
    import sys

    rows = [json.loads(l) for l in sys.stdin if l.strip().startswith("{")]
    print("| side | configuration | build s | memory / raw | RSS growth / raw: build, load | QPS random | QPS near | QPS random, all at once | QPS near, all at once | recall near |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        mem = r.get("index_bytes", r["rss_delta_bytes"]) / r["raw_bytes"]
        grown = f"{r['rss_delta_bytes'] / r['raw_bytes']:.2f}"
        if "load_rss_delta_bytes" in r:
            grown += f", {r['load_rss_delta_bytes'] / r['raw_bytes']:.2f}"
        # FAISS is always given the whole query set in one range_search call.
        together = [r.get(f"qps_together_{q}", r[f"qps_{q}"]) for q in ("random", "near")]
        one = ["(one call)" if r["side"] == "faiss" else f"{r[f'qps_{q}']:.1f}"
               for q in ("random", "near")]
        print(
            f"| {r['side']} | {r['config']} | {r['build_s']:.2f} | {mem:.2f} | {grown} | "
            f"{one[0]} | {one[1]} | {together[0]:.1f} | {together[1]:.1f} | {r['recall_near']:.4f} |"
        )
    exact = [r for r in rows if r["side"] == "faiss" and r["recall_near"] == 1.0 and r["recall_random"] == 1.0]
    for config, name in (("0", "multi-index"), ("compact", "compact")):
        athar = [r for r in rows if r["side"] == "athar" and r["config"] == config]
        if not (athar and exact):
            continue
        a = athar[0]
        for q in ("random", "near"):
            best = max(exact, key=lambda r: r[f"qps_{q}"])
            f = best[f"qps_{q}"]
            line = (f"\n{q} queries: FAISS best exact ({best['config']}) {f:.1f} QPS (all at once); "
                    f"Athar {name} one at a time {a[f'qps_{q}']:.1f} QPS: {a[f'qps_{q}'] / f:.2f}x")
            if f"qps_together_{q}" in a:
                t = a[f"qps_together_{q}"]
                line += f", all at once {t:.1f} QPS: {t / f:.2f}x"
            print(line)
    for r in rows:
        if r["side"] == "athar" and (r["recall_near"] != 1.0 or r["recall_random"] != 1.0):
            print(f"\nATHAR NOT EXACT: {r['config']}")


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gen")
    g.add_argument("--n", type=int, required=True)
    g.add_argument("--queries", type=int, default=1000)
    g.add_argument("--seed", type=int, default=20261127)
    g.add_argument("--out", required=True)
    f = sub.add_parser("faiss")
    f.add_argument("--dir", required=True)
    f.add_argument("--kind", choices=["flat", "multihash"], required=True)
    f.add_argument("--nhash", type=int, default=16)
    f.add_argument("--bits", type=int, default=16)
    f.add_argument("--nflip", type=int, default=1)
    f.add_argument("--runs", type=int, default=3)
    f.add_argument("--radius", type=int, default=31)
    f.add_argument("--max-queries", type=int, default=0)
    sub.add_parser("report")
    a = p.parse_args()
    {"gen": gen, "faiss": run_faiss, "report": report}[a.cmd](a)


if __name__ == "__main__":
    main()

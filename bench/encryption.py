#!/usr/bin/env python3
"""An encrypted archive against a plain one, in the same run (issue 19's performance targets).

1. Ingest of one 1 GiB file and of 10,000 small files (1-64 KiB), each into a fresh plain
   and a fresh encrypted archive, alternating which goes first, RUNS times: medians and the
   encrypted/plain throughput ratio, with and without the passphrase unlock.
2. `athar verify --json` of the last run's archives (the 1 GiB one and the 10,000-file
   one), alternating, RUNS times: medians and the ratio.
3. Range reads through `athar serve` of the 1 GiB item: 1 MiB ranges at random offsets
   around the middle (a player seeking to the middle) and anywhere; client-side latency
   per request, p50/p95/max, plain and encrypted.

The unlock: an encrypted archive's command first derives the archive key from the
passphrase (argon2id). Its cost is measured as the median time of `athar list` on the
encrypted archive minus that on the plain one ("unlock"); the figures "without unlock"
subtract it from the encrypted command's time (the plain one is left as measured).
Each command's CPU time (user + system of the child) is recorded beside its wall time.

Usage: bench/encryption.py ATHAR_BINARY
Environment: RUNS (3), REQUESTS (200 around the middle), ANYWHERE (50 anywhere),
SMALL_FILES (10000), BIG_MIB (1024), SEED (19), TMPDIR (work folder: about 4 GB with RUNS=3,
5 GB with RUNS=5),
ATHAR_SCRATCH (the encrypted archive's scratch; default a folder under /dev/shm),
JSON_OUT (a file to write the figures to as JSON).
Exits non-zero on an error (a command failing, a wrong byte served), never on a missed
target: the figures are printed as measured.
"""

import http.client
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ATHAR = sys.argv[1]
RUNS = int(os.environ.get("RUNS", "3"))
REQUESTS = int(os.environ.get("REQUESTS", "200"))
ANYWHERE = int(os.environ.get("ANYWHERE", "50"))
SMALL_FILES = int(os.environ.get("SMALL_FILES", "10000"))
BIG_MIB = int(os.environ.get("BIG_MIB", "1024"))
SEED = int(os.environ.get("SEED", "19"))
RANGE = 1 << 20
PASSPHRASE = "synthetic bench passphrase 19"
CASE = "bench"
USER, PASSWORD = "bencher", "synthetic-password-123"
MB = 1e6

work = tempfile.mkdtemp(prefix="athar-enc-bench-")
own_scratch = "ATHAR_SCRATCH" not in os.environ
scratch = os.environ.get("ATHAR_SCRATCH") or tempfile.mkdtemp(
    prefix="athar-enc-scratch-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
ENV = {**os.environ, "ATHAR_PASSPHRASE": PASSPHRASE, "ATHAR_SCRATCH": scratch}
ENV.pop("ATHAR_PASSPHRASE_FILE", None)
ENV.pop("ATHAR_IDENTITY", None)
KINDS = ("plain", "encrypted")
UNLOCK_CPU = 0.0  # CPU seconds of the passphrase unlock, measured in main()


def athar(arch, *args, stdin=None, check=True):
    return subprocess.run([ATHAR, "--archive", arch, *args], input=stdin, env=ENV,
                          capture_output=True, text=True, check=check)


def timed(arch, *args):
    """Runs one athar command; returns (wall seconds, CPU seconds: user + system)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    r = subprocess.run([ATHAR, "--archive", arch, *args], env=ENV,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    dt = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        sys.exit(f"athar {' '.join(args)} on {arch} failed ({r.returncode}): {r.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return dt, cpu


def sync():
    subprocess.run(["sync"], check=True)


def init(arch, kind):
    athar(arch, "init", *(["--encrypt"] if kind == "encrypted" else []))
    sync()


def order(r):
    """Which kind goes first in run r: alternates."""
    return KINDS if r % 2 == 0 else KINDS[::-1]


def med(xs):
    return statistics.median(xs)


def runs_text(xs, fmt="{:.3f}"):
    return ", ".join(fmt.format(x) for x in xs)


def pct(xs, p):
    s = sorted(xs)
    k = (len(s) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def load():
    return os.getloadavg()[0]


# ---- inputs ----
def make_inputs():
    rng = random.Random(SEED)
    big = os.path.join(work, "in", "big.bin")
    os.makedirs(os.path.dirname(big))
    with open(big, "wb") as f:
        for _ in range(BIG_MIB):
            f.write(rng.randbytes(1 << 20))
    small = os.path.join(work, "in", "small")
    total = 0
    for i in range(SMALL_FILES):
        d = os.path.join(small, f"d{i // 1000:03}")
        if i % 1000 == 0:
            os.makedirs(d)
        n = rng.randint(1 << 10, 64 << 10)
        total += n
        with open(os.path.join(d, f"f{i % 1000:04}.bin"), "wb") as f:
            f.write(rng.randbytes(n))
    sync()
    return big, small, total


def unlock_cost(archs):
    """Median `athar list` time on each kind (5 runs, alternating)."""
    t = {k: [] for k in KINDS}
    c = {k: [] for k in KINDS}
    for r in range(5):
        for k in order(r):
            wall, cpu = timed(archs[k], "list", "--json")
            t[k].append(wall)
            c[k].append(cpu)
    return {k: med(v) for k, v in t.items()}, t, {k: med(v) for k, v in c.items()}


def on_tmpfs(path):
    out = subprocess.run(["stat", "-f", "-c", "%T", path], capture_output=True, text=True)
    return out.stdout.strip() == "tmpfs"


def ingest_section(name, path):
    """RUNS ingests of `path` into fresh archives of each kind; keeps the last run's pair.
    Returns {kind: [(wall, cpu)]} and the kept archives."""
    runs = {k: [] for k in KINDS}
    kept = {}
    # On disk, the 10,000-file archives stay until the end: creating files right after
    # deleting thousands makes ext4 scan recently freed inodes, which would charge one
    # contender for the other's clean-up (see small_files.sh). A single 1 GiB file frees
    # cheaply, and tmpfs has no such scan, so there the earlier archives go at once.
    eager = name == "big" or on_tmpfs(work)
    for r in range(RUNS):
        for k in order(r):
            arch = os.path.join(work, f"{name}-{k}-{r}")
            init(arch, k)
            runs[k].append(timed(arch, "ingest", "--case", CASE, path))
            sync()  # write-back of one contender is not charged to the next
            if k in kept and eager:
                shutil.rmtree(kept[k])
                sync()
            kept[k] = arch
    return runs, kept


def verify_section(archs):
    runs = {k: [] for k in KINDS}
    for r in range(RUNS):
        for k in order(r):
            runs[k].append(timed(archs[k], "verify", "--json"))
    return runs


def report(title, runs, unlock, nbytes=None, nfiles=None):
    """Prints one measure's medians and ratios; returns them."""
    wall = {k: [w for w, _ in runs[k]] for k in KINDS}
    cpu = {k: [c for _, c in runs[k]] for k in KINDS}
    m = {k: med(v) for k, v in wall.items()}
    mc = {k: med(v) for k, v in cpu.items()}
    wo = med([t - unlock for t in wall["encrypted"]])
    row = {
        "plain_s": m["plain"], "encrypted_s": m["encrypted"], "encrypted_wo_unlock_s": wo,
        "plain_runs": wall["plain"], "encrypted_runs": wall["encrypted"],
        "plain_cpu_s": mc["plain"], "encrypted_cpu_s": mc["encrypted"],
        "plain_cpu_runs": cpu["plain"], "encrypted_cpu_runs": cpu["encrypted"],
        "ratio": m["plain"] / m["encrypted"], "ratio_wo_unlock": m["plain"] / wo,
        "ratio_min": min(wall["plain"]) / min(wall["encrypted"]),
        "cpu_ratio": mc["plain"] / mc["encrypted"],
        "cpu_ratio_wo_unlock": mc["plain"] / (mc["encrypted"] - UNLOCK_CPU),
    }
    print(f"\n== {title}, median of {RUNS} ==")
    for k in KINDS:
        rate = ""
        if nbytes:
            rate = f"  {nbytes / MB / m[k]:8.1f} MB/s  {nfiles / m[k]:8.1f} files/s"
        print(f"  {k:<10} {m[k]:8.3f} s{rate}   CPU {mc[k]:.3f} s   "
              f"(runs: {runs_text(wall[k])}; CPU {runs_text(cpu[k])})")
    print(f"  encrypted without unlock {wo:.3f} s")
    print(f"  ratio encrypted/plain speed: {row['ratio']:.2f}x ({row['ratio_wo_unlock']:.2f}x "
          f"without unlock; fastest runs {row['ratio_min']:.2f}x; CPU time {row['cpu_ratio']:.2f}x, "
          f"{row['cpu_ratio_wo_unlock']:.2f}x without unlock)")
    return row


# ---- range reads ----
def serve(arch):
    p = subprocess.Popen([ATHAR, "--archive", arch, "serve", "--listen", "127.0.0.1:0"],
                         env=ENV, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = p.stdout.readline().strip()
    if not line.startswith("Listening on http://"):
        p.kill()
        sys.exit(f"athar serve on {arch}: unexpected first line {line!r}")
    host, port = line.removeprefix("Listening on http://").split(":")
    return p, host, int(port)


def login(c):
    c.request("POST", "/api/login", body=json.dumps({"username": USER, "password": PASSWORD}),
              headers={"content-type": "application/json"})
    r = c.getresponse()
    body = r.read()
    if r.status != 200:
        sys.exit(f"log-in: {r.status} {body!r}")
    return "; ".join(h.split(";")[0] for k, h in r.getheaders() if k.lower() == "set-cookie")


def range_reads(arch, item, big_path, size):
    """Latencies (s) of the first request, the requests around the middle, and anywhere."""
    athar(arch, "user", "add", USER, "--role", "investigator", "--case", CASE,
          "--password-stdin", stdin=PASSWORD + "\n")
    proc, host, port = serve(arch)
    try:
        c = http.client.HTTPConnection(host, port, timeout=120)
        cookie = login(c)
        rng = random.Random(SEED + 1)
        mid = size // 2
        spread = min(32 << 20, size // 4)
        plan = [("first", mid)]
        plan += [("middle", rng.randrange(mid - spread, mid + spread - RANGE)) for _ in range(REQUESTS)]
        plan += [("anywhere", rng.randrange(0, size - RANGE)) for _ in range(ANYWHERE)]
        # The middle and anywhere requests interleaved, as a player jumping around would.
        head, rest = plan[:1], plan[1:]
        rng.shuffle(rest)
        lat = {"first": [], "middle": [], "anywhere": []}
        with open(big_path, "rb") as src:
            for which, off in head + rest:
                hdr = {"cookie": cookie, "range": f"bytes={off}-{off + RANGE - 1}"}
                t0 = time.perf_counter()
                c.request("GET", f"/api/items/{item}/content", headers=hdr)
                r = c.getresponse()
                data = r.read()
                dt = time.perf_counter() - t0
                if r.status != 206 or len(data) != RANGE:
                    sys.exit(f"range read at {off}: {r.status}, {len(data)} bytes")
                src.seek(off)
                if src.read(RANGE) != data:
                    sys.exit(f"range read at {off}: bytes differ from the file ingested")
                lat[which].append(dt)
        c.close()
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    return lat


def item_id(arch):
    items = [json.loads(l) for l in athar(arch, "list", "--json").stdout.splitlines() if l.strip()]
    if len(items) != 1:
        sys.exit(f"{arch}: expected one item, got {len(items)}")
    return items[0]["item"], items[0]["size"]


def main():
    print(f"athar: {ATHAR}\nwork: {work}\nscratch: {scratch}\nload at start: {load():.2f}")
    t0 = time.perf_counter()
    big, small, small_bytes = make_inputs()
    big_bytes = BIG_MIB << 20
    print(f"inputs: {BIG_MIB} MiB file, {SMALL_FILES} files of 1-64 KiB "
          f"({small_bytes / MB:.1f} MB), made in {time.perf_counter() - t0:.1f} s")
    summary = {"runs": RUNS, "load_start": load()}

    big_t, big_arch = ingest_section("big", big)
    small_t, small_arch = ingest_section("small", small)
    unlock_m, unlock_t, unlock_c = unlock_cost(big_arch)
    unlock = unlock_m["encrypted"] - unlock_m["plain"]
    global UNLOCK_CPU
    UNLOCK_CPU = unlock_c["encrypted"] - unlock_c["plain"]
    print(f"\n== unlock: `athar list --json` on the one-item archives, median of 5 ==")
    for k in KINDS:
        print(f"  {k:<10} {unlock_m[k]:.3f} s   (runs: {runs_text(unlock_t[k])})")
    print(f"  unlock cost (encrypted - plain): {unlock:.3f} s, CPU {UNLOCK_CPU:.3f} s")
    summary["unlock_s"] = unlock
    summary["list_s"] = unlock_m
    summary["ingest_big"] = report(f"ingest: one {BIG_MIB} MiB file", big_t, unlock, big_bytes, 1)
    summary["ingest_small"] = report(f"ingest: {SMALL_FILES} files of 1-64 KiB", small_t, unlock,
                                     small_bytes, SMALL_FILES)
    summary["verify_big"] = report(f"verify: archive of the {BIG_MIB} MiB file",
                                   verify_section(big_arch), unlock)
    summary["verify_small"] = report(f"verify: archive of the {SMALL_FILES} files",
                                     verify_section(small_arch), unlock)

    # Background jobs (SHA-512 of each item) would run inside the server while it answers;
    # run them first, untimed for the targets, timed for the record.
    jobs = {}
    for k in KINDS:
        jobs[k] = timed(big_arch[k], "jobs", "--run")[0]
    print(f"\n== background jobs of the {BIG_MIB} MiB item (athar jobs --run, one run) ==")
    for k in KINDS:
        print(f"  {k:<10} {jobs[k]:8.3f} s")
    summary["jobs_big_s"] = jobs

    print(f"\n== range reads of 1 MiB through athar serve ({REQUESTS} around the middle, "
          f"{ANYWHERE} anywhere, one connection) ==")
    rr = {}
    for k in KINDS:
        item, size = item_id(big_arch[k])
        lat = range_reads(big_arch[k], item, big, size)
        row = {"first_ms": lat["first"][0] * 1e3}
        for which in ("middle", "anywhere"):
            ms = [x * 1e3 for x in lat[which]]
            row[which] = {"p50": pct(ms, 50), "p95": pct(ms, 95), "max": max(ms), "n": len(ms)}
        rr[k] = row
        print(f"  {k:<10} first {row['first_ms']:7.1f} ms | middle p50 {row['middle']['p50']:6.1f} "
              f"p95 {row['middle']['p95']:6.1f} max {row['middle']['max']:6.1f} ms | anywhere p50 "
              f"{row['anywhere']['p50']:6.1f} p95 {row['anywhere']['p95']:6.1f} "
              f"max {row['anywhere']['max']:6.1f} ms")
    summary["range_reads"] = rr
    summary["load_end"] = load()

    print(f"\n== summary (medians of {RUNS} runs; ratio = encrypted speed / plain speed; "
          f"unlock {unlock:.3f} s; load {summary['load_start']:.1f} -> {summary['load_end']:.1f}) ==")
    cols = ("measure", "plain", "encrypted", "enc. w/o unlock", "ratio", "w/o unlock", "fastest",
            "CPU w/o unlock", "target")
    widths = (30, 9, 10, 16, 7, 10, 8, 15, 0)

    def line(*cells):
        cells = cells + ("",) * (len(widths) - len(cells))
        *nums, target = cells
        print("  " + " ".join(f"{c:<{w}}" if i == 0 else f"{c:>{w}}"
                              for i, (c, w) in enumerate(zip(nums, widths))).rstrip()
              + (f"  {target}" if target else ""))

    line(*cols)
    measures = (
        (f"ingest {BIG_MIB} MiB file, s", "ingest_big", ">= 0.8x"),
        (f"ingest {SMALL_FILES} files, s", "ingest_small", ">= 0.8x"),
        (f"verify, {BIG_MIB} MiB archive, s", "verify_big", ">= 0.8x"),
        (f"verify, {SMALL_FILES}-file archive, s", "verify_small", ">= 0.8x"),
    )
    for label, key, target in measures:
        x = summary[key]
        line(label, f"{x['plain_s']:.3f}", f"{x['encrypted_s']:.3f}",
             f"{x['encrypted_wo_unlock_s']:.3f}", f"{x['ratio']:.2f}x",
             f"{x['ratio_wo_unlock']:.2f}x", f"{x['ratio_min']:.2f}x",
             f"{x['cpu_ratio_wo_unlock']:.2f}x",
             target)
    ib, is_ = summary["ingest_big"], summary["ingest_small"]
    line(f"ingest {BIG_MIB} MiB file, MB/s", f"{big_bytes / MB / ib['plain_s']:.1f}",
         f"{big_bytes / MB / ib['encrypted_s']:.1f}",
         f"{big_bytes / MB / ib['encrypted_wo_unlock_s']:.1f}")
    line(f"ingest {SMALL_FILES} files, files/s", f"{SMALL_FILES / is_['plain_s']:.0f}",
         f"{SMALL_FILES / is_['encrypted_s']:.0f}",
         f"{SMALL_FILES / is_['encrypted_wo_unlock_s']:.0f}")
    for which in ("middle", "anywhere"):
        p, e = rr["plain"][which], rr["encrypted"][which]
        for stat in ("p50", "p95", "max"):
            target = "< 50 ms" if (which, stat) == ("middle", "p95") else ""
            line(f"range 1 MiB {which}, {stat} ms", f"{p[stat]:.1f}", f"{e[stat]:.1f}",
                 "", "", "", "", "", target)
    line("range first request, ms", f"{rr['plain']['first_ms']:.1f}",
         f"{rr['encrypted']['first_ms']:.1f}")
    if os.environ.get("JSON_OUT"):
        with open(os.environ["JSON_OUT"], "w") as f:
            json.dump(summary, f, indent=1)


try:
    main()
finally:
    shutil.rmtree(work, ignore_errors=True)
    if own_scratch:
        shutil.rmtree(scratch, ignore_errors=True)

#!/usr/bin/env bash
# Hand-over export against bagit-python making a bag of the same files (SHA-256 and SHA-512),
# side by side, medians. bagit-python bags files in place (it moves them into data/), so it
# gets a fresh copy each run, made and synced before its clock starts.
#
# Athar is timed as it is used: the files were ingested and the background jobs run (they
# record each item's SHA-512; that time is printed, not counted), and the bag is made on the
# archive's file system, so its payload files are hard links to the archive's read-only
# blobs. Every payload file's SHA-256 is still computed and checked during the export.
# Also timed, for honesty: the export computing every SHA-512 itself (--recompute-sha512),
# and, with COPY=1, the export copying every byte (--copy: 5 GiB written per run).
# Usage: bench/export.sh [GiB (default 5)] [RUNS (default 3)]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --quiet --manifest-path "$here/Cargo.toml" --bin athar
python3 -c 'import bagit' 2>/dev/null || python3 -m pip install --quiet bagit
exec python3 - "$here/target/release/athar" "${1:-5}" "${2:-3}" <<'PY'
import os, resource, shutil, statistics, subprocess, sys, tempfile, time
athar, gib, runs = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
work = tempfile.mkdtemp(prefix="athar-export-bench-")
try:
    src = os.path.join(work, "videos")
    os.makedirs(src)
    total = int(gib * (1 << 30))
    sizes = [total // 5] * 5
    for i, size in enumerate(sizes):
        with open(os.path.join(src, f"clip-{i}.mp4"), "wb") as f:
            left = size
            while left:
                n = min(left, 1 << 24)
                f.write(os.urandom(n))
                left -= n
    arch = os.path.join(work, "archive")
    subprocess.run([athar, "--archive", arch, "init"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([athar, "--archive", arch, "ingest", "--case", "bench", src], check=True, stdout=subprocess.DEVNULL)
    t = time.perf_counter()
    subprocess.run([athar, "--archive", arch, "jobs", "--run"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    jobs_s = time.perf_counter() - t
    subprocess.run(["sync"], check=True)
    variants = [("athar export", [])]
    variants.append(("athar export --recompute-sha512", ["--recompute-sha512"]))
    if os.environ.get("COPY") == "1":
        variants.append(("athar export --copy", ["--copy"]))
    res = {name: [] for name, _ in variants}
    res["bagit-python (in place)"] = []
    cpu = {k: [] for k in res}

    def timed(key, cmd, **kw):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        subprocess.run(cmd, check=True, **kw)
        res[key].append(time.perf_counter() - t)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu[key].append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
    for i in range(runs):
        for name, extra in variants:
            out = os.path.join(work, f"bag-{i}")
            timed(name, [athar, "--archive", arch, "export", "--case", "bench", "--out", out, *extra],
                  stdout=subprocess.DEVNULL)
            shutil.rmtree(out)
            subprocess.run(["sync"], check=True)
        copy = os.path.join(work, f"copy-{i}")
        shutil.copytree(src, copy)
        subprocess.run(["sync"], check=True)
        timed("bagit-python (in place)",
              [sys.executable, "-m", "bagit", "--processes", "2", "--sha256", "--sha512", copy],
              stderr=subprocess.DEVNULL)
        shutil.rmtree(copy)
        subprocess.run(["sync"], check=True)
    med = {k: statistics.median(v) for k, v in res.items()}
    py = med["bagit-python (in place)"]
    print(f"== {gib:g} GiB in 5 files, median of {runs} ({os.cpu_count()} cores) ==")
    print(f"  (untimed) athar jobs --run after ingest, recording SHA-512s: {jobs_s:.2f} s")
    for k, v in res.items():
        print(f"  {k:<34} {med[k]:7.2f} s  (runs: {', '.join(f'{x:.2f}' for x in v)})"
              f"  CPU {statistics.median(cpu[k]):.2f} s")
    for name, _ in variants:
        print(f"  {name} vs bagit-python: {py / med[name]:.2f}x faster"
              f" (CPU: {statistics.median(cpu['bagit-python (in place)']) / statistics.median(cpu[name]):.2f}x less)")
finally:
    shutil.rmtree(work, ignore_errors=True)
PY

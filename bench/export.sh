#!/usr/bin/env bash
# Hand-over export against bagit-python making a bag of the same files (SHA-256 and SHA-512),
# side by side, medians. bagit-python bags files in place (it moves them into data/), so it
# gets a fresh copy each run, made before its clock starts; athar export copies out of the
# archive and is timed with the copy.
# Usage: bench/export.sh [GiB (default 5)] [RUNS (default 3)]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --quiet --manifest-path "$here/Cargo.toml" --bin athar
python3 -c 'import bagit' 2>/dev/null || python3 -m pip install --quiet bagit
exec python3 - "$here/target/release/athar" "${1:-5}" "${2:-3}" <<'PY'
import os, shutil, statistics, subprocess, sys, tempfile, time
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
    subprocess.run(["sync"], check=True)
    res = {"athar export": [], "bagit-python (in place)": []}
    for i in range(runs):
        out = os.path.join(work, f"bag-{i}")
        t = time.perf_counter()
        subprocess.run([athar, "--archive", arch, "export", "--case", "bench", "--out", out], check=True, stdout=subprocess.DEVNULL)
        res["athar export"].append(time.perf_counter() - t)
        shutil.rmtree(out)
        copy = os.path.join(work, f"copy-{i}")
        shutil.copytree(src, copy)
        subprocess.run(["sync"], check=True)
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "bagit", "--processes", "2", "--sha256", "--sha512", copy],
                       check=True, stderr=subprocess.DEVNULL)
        res["bagit-python (in place)"].append(time.perf_counter() - t)
        shutil.rmtree(copy)
        subprocess.run(["sync"], check=True)
    med = {k: statistics.median(v) for k, v in res.items()}
    print(f"== {gib:g} GiB in 5 files, median of {runs} ==")
    for k, v in res.items():
        print(f"  {k:<26} {med[k]:7.2f} s  (runs: {', '.join(f'{x:.2f}' for x in v)})")
    print(f"  athar export vs bagit-python: {med['bagit-python (in place)'] / med['athar export']:.2f}x faster")
finally:
    shutil.rmtree(work, ignore_errors=True)
PY

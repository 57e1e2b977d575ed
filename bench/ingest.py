"""Runs `athar ingest` and its peers on the same data, alternating, and prints medians and
ratios. Throughput ratios > 1 mean Athar is faster than the peer."""

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

athar, runs = sys.argv[1], int(sys.argv[2])
work = tempfile.mkdtemp(prefix="athar-bench-")


def timed(cmd, **kw):
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, **kw)
    return time.perf_counter() - t


archives = []


def athar_ingest(paths):
    # A fresh folder each run; old ones are removed only at the end of a section, since
    # creating files right after deleting thousands makes ext4 scan for recently freed
    # inodes, which would charge the deletion to the next run.
    arch = os.path.join(work, f"archive-{len(archives)}")
    archives.append(arch)
    subprocess.run([athar, "--archive", arch, "init"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["sync"], check=True)
    return timed([athar, "--archive", arch, "ingest", *paths])


def drop_archives():
    while archives:
        shutil.rmtree(archives.pop(), ignore_errors=True)
    subprocess.run(["sync"], check=True)


def peak_rss_kib(cmd):
    out = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], check=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return int(out.stderr.strip().splitlines()[-1])


def report(name, results):
    med = {k: statistics.median(v) for k, v in results.items()}
    print(f"\n== {name} (median of {runs}) ==")
    for k, v in med.items():
        print(f"  {k:<28} {v:8.3f} s   (runs: {', '.join(f'{x:.3f}' for x in results[k])})")
    a = med["athar ingest"]
    for k, v in med.items():
        if k != "athar ingest":
            print(f"  athar vs {k:<19} {v / a:6.2f}x throughput")
    return med


try:
    # 1. One 1 GiB file.
    big = os.path.join(work, "big.bin")
    with open(big, "wb") as f:
        for _ in range(1024):
            f.write(os.urandom(1 << 20))
    subprocess.run(["sync"], check=True)  # the test file's own write-back must not count
    res = {"athar ingest": [], "openssl dgst -sha256": [], "sha256sum": []}
    for _ in range(runs):
        res["openssl dgst -sha256"].append(timed(["openssl", "dgst", "-sha256", big]))
        res["athar ingest"].append(athar_ingest([big]))
        res["sha256sum"].append(timed(["sha256sum", big]))
    report("one 1 GiB file (athar includes copy into the store and fsync)", res)
    drop_archives()
    arch = os.path.join(work, "archive")
    shutil.rmtree(arch, ignore_errors=True)
    subprocess.run([athar, "--archive", arch, "init"], check=True, stdout=subprocess.DEVNULL)
    rss = peak_rss_kib([athar, "--archive", arch, "ingest", big])
    print(f"  peak RSS of athar ingest, 1 GiB file: {rss / 1024:.1f} MiB")
    os.remove(big)

    # 2. 10,000 files of 16 KiB.
    small = os.path.join(work, "small")
    files = []
    for d in range(10):
        os.makedirs(os.path.join(small, f"d{d}"))
        for i in range(1000):
            p = os.path.join(small, f"d{d}", f"f{i:04}.bin")
            with open(p, "wb") as f:
                f.write(os.urandom(16 << 10))
            files.append(p)
    subprocess.run(["sync"], check=True)
    res = {"athar ingest": [], "openssl dgst -sha256": [], "sha256sum": [], "cp -r + sync (no hashing)": []}
    for i in range(runs):
        res["openssl dgst -sha256"].append(timed(["openssl", "dgst", "-sha256", *files]))
        copy = os.path.join(work, f"copy-{i}")
        archives.append(copy)
        subprocess.run(["sync"], check=True)
        res["cp -r + sync (no hashing)"].append(timed(["sh", "-c", 'cp -r "$0" "$1" && sync', small, copy]))
        res["athar ingest"].append(athar_ingest([small]))
        res["sha256sum"].append(timed(["sha256sum", *files]))
    report("10,000 files of 16 KiB (athar on all cores, peers one process)", res)
    drop_archives()
finally:
    shutil.rmtree(work, ignore_errors=True)

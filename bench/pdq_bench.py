#!/usr/bin/env python3
"""PDQ throughput: reference (PyPI pdqhash, C++ core) vs Athar, same RGB buffers.

Decodes the conformance images with Pillow (convert("RGB")) and makes a few
synthetic 1024x768 images, writes the raw buffers to a work directory, times
pdqhash.compute on the numpy arrays (decode excluded, one thread, median of
RUNS), runs the Athar example binary on the same buffers, prints the ratio.
"""
import argparse
import glob
import os
import statistics
import subprocess
import sys
import time

import numpy as np
import pdqhash
from PIL import Image


def hex_of(bits):
    # pdqhash returns bit k at index 255-k; reference hex prints word 15 first.
    b = np.asarray(bits)[::-1]
    words = [0] * 16
    for k in range(256):
        if b[k]:
            words[k >> 4] |= 1 << (k & 15)
    return "".join("%04x" % words[i] for i in range(15, -1, -1))


def synthetic(seed, w=1024, h=768):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.zeros((h, w, 3))
    for c in range(3):
        fx, fy, ph = rng.uniform(0.002, 0.03, 2).tolist() + [rng.uniform(0, 6)]
        img[:, :, c] = 127 + 100 * np.sin(x * fx + ph) * np.cos(y * fy)
    img += rng.normal(0, 12, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--testdata", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--athar-bin", required=True)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--max-images", type=int, default=16)
    a = ap.parse_args()

    os.makedirs(a.work, exist_ok=True)
    for f in glob.glob(os.path.join(a.work, "*")):
        os.remove(f)
    arrays = []
    pats = ["bridge-mods/*.jpg", "misc-images/*.png", "reg-test-input/*.png", "reg-test-input/labelme-subset/*.jpg"]
    files = []
    for p in pats:
        files += sorted(glob.glob(os.path.join(a.testdata, "threatexchange/pdq/data", p)))
    for i, f in enumerate(files[: a.max_images]):
        arrays.append(("img%02d" % i, np.ascontiguousarray(np.asarray(Image.open(f).convert("RGB")))))
    for s in range(4):
        arrays.append(("syn%02d" % s, synthetic(s)))
    for name, arr in arrays:
        h, w, _ = arr.shape
        base = os.path.join(a.work, "%s.%dx%d" % (name, w, h))
        arr.tofile(base + ".rgb")
        bits, _q = pdqhash.compute(arr)
        with open(base + ".hex", "w") as fh:
            fh.write(hex_of(bits) + "\n")

    pixels = sum(arr.shape[0] * arr.shape[1] for _, arr in arrays)
    rates = []
    for _ in range(a.runs):
        t = time.perf_counter()
        for _, arr in arrays:
            pdqhash.compute(arr)
        rates.append(pixels / (time.perf_counter() - t))
    ref = statistics.median(rates)

    out = subprocess.run([a.athar_bin, a.work, str(a.runs)], check=True, capture_output=True, text=True)
    sys.stderr.write(out.stderr)
    fields = out.stdout.split()
    athar = float(fields[fields.index("athar_pixels_per_s") + 1])
    mism = int(fields[fields.index("mismatches") + 1])
    print("buffers: %d (%d from test images, 4 synthetic 1024x768), %.1f Mpixel per run, %d runs, 1 thread"
          % (len(arrays), len(arrays) - 4, pixels / 1e6, a.runs))
    print("reference pdqhash.compute : %8.1f Mpixel/s (median)" % (ref / 1e6))
    print("athar pdq::hash_rgb       : %8.1f Mpixel/s (median, incl. 8 dihedral hashes)" % (athar / 1e6))
    print("ratio athar/reference     : %8.2fx" % (athar / ref))
    print("hash mismatches vs reference on these buffers: %d" % mism)
    return 1 if mism else 0


if __name__ == "__main__":
    sys.exit(main())

"""vPDQ wall time: the reference (PyPI vpdq, Python API, in-process) against
`athar vpdq` (release binary, one process per clip), alternating, on the same
clips; checks both give the same hashes. Called by bench/vpdq.sh."""

import argparse
import os
import pathlib
import statistics
import subprocess
import time

import vpdq


def ref_lines(path, sph):
    feats = vpdq.computeHash(str(path), seconds_per_hash=sph, thread_count=0)
    return [
        f"{f.frame_number},{f.quality},{f.hex},{f.timestamp:.3f}" for f in feats
    ]


def athar_lines(bin_, path, sph):
    out = subprocess.run(
        [bin_, "vpdq", "--seconds-per-hash", str(sph), str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return out.splitlines()


def floor_cmd(path, sph):
    base = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-map", "0:v:0", "-an"]
    if sph == 0:
        # Every frame decoded and converted to RGB, as hashing needs, written nowhere.
        return base + ["-pix_fmt", "rgb24", "-f", "null", "-"]
    # Every frame decoded, none converted.
    return base + ["-f", "null", "-"]


def floor_desc(sph):
    return "decode + RGB, every frame" if sph == 0 else "decode only"


def bits(a, b):
    return bin(int(a, 16) ^ int(b, 16)).count("1")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", required=True)
    ap.add_argument("--athar-bin", required=True)
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    clips = sorted(pathlib.Path(a.clips).glob("*.mp4"))
    assert clips, f"no clips in {a.clips}"
    print(f"{len(clips)} clips, {a.runs} runs each, alternating; medians of total wall time")
    print(f"{'mode':<16} {'frames':>7} {'reference s':>12} {'athar s':>9} {'ratio':>7} {'identical':>10} {'max bits':>9}")
    for mode, sph in (("every-frame", 0), ("one-per-second", 1)):
        load_before = os.getloadavg()
        ref_t, ath_t = [], []
        ref_out, ath_out = {}, {}
        for run in range(a.runs):
            order = ("ref", "athar") if run % 2 == 0 else ("athar", "ref")
            for who in order:
                t = time.perf_counter()
                for c in clips:
                    if who == "ref":
                        ref_out[c] = ref_lines(c, sph)
                    else:
                        ath_out[c] = athar_lines(a.athar_bin, c, sph)
                (ref_t if who == "ref" else ath_t).append(time.perf_counter() - t)
        frames = same = 0
        worst = 0
        for c in clips:
            r, s = ref_out[c], ath_out[c]
            if len(r) != len(s):
                print(f"  {c.name}: {len(r)} reference frames, {len(s)} Athar frames")
            for lr, ls in zip(r, s):
                frames += 1
                fr, fs = lr.split(","), ls.split(",")
                if lr == ls:
                    same += 1
                elif fr[0] == fs[0]:
                    worst = max(worst, bits(fr[2], fs[2]))
                else:
                    worst = 256
        mr, ma = statistics.median(ref_t), statistics.median(ath_t)
        print(
            f"{mode:<16} {frames:>7} {mr:>12.2f} {ma:>9.2f} {mr / ma:>6.2f}x "
            f"{same:>5}/{frames:<5} {worst:>8}"
        )
        print(f"  runs reference: {' '.join(f'{x:.2f}' for x in ref_t)}")
        print(f"  runs athar:     {' '.join(f'{x:.2f}' for x in ath_t)}")
        # What no out-of-process design can beat: FFmpeg (the same binary Athar runs)
        # decoding the clips to nothing, with no conversion, no pipe and no hashing; in the
        # one-per-second mode also converting only the selected frames as Athar does.
        floor_t = []
        for _ in range(a.runs):
            t = time.perf_counter()
            for c in clips:
                subprocess.run(floor_cmd(c, sph), check=True, capture_output=True)
            floor_t.append(time.perf_counter() - t)
        mf = statistics.median(floor_t)
        print(
            f"  FFmpeg child alone ({floor_desc(sph)}): {mf:.2f} s; the most any "
            f"out-of-process design could reach is {mr / mf:.2f}x the reference"
        )
        print(f"  runs FFmpeg alone: {' '.join(f'{x:.2f}' for x in floor_t)}")
        load_after = os.getloadavg()
        print(
            f"  load average (1, 5, 15 min) before: {' '.join(f'{x:.2f}' for x in load_before)}, "
            f"after: {' '.join(f'{x:.2f}' for x in load_after)}"
        )


if __name__ == "__main__":
    main()

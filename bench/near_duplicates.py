#!/usr/bin/env python3
"""Latency of the server's near-duplicates route (`GET /api/items/{id}/similar`) on a large
archive, for one or two `athar` binaries.

Builds once (cached under WORK) an archive of N fingerprinted items, mostly tiny synthetic
PNG images plus some short H.264 videos, with groups of near-duplicate copies among them:

  - images: 64x64 pictures of an 8x8 grid of random colours (PDQ quality well above 50;
    unrelated pictures are ~128 bits apart). One image in 10 belongs to a group of 5: the
    original, a copy with one cell's colour nudged, one a little brighter, one mirrored
    (matched through PDQ's dihedral hashes) and one with the same pixels in other bytes;
  - videos (VIDEOS, default N/200): 3 s at 5 frames/s, 64x64, three scenes of random grids
    drifting by a pixel a frame; one in 3 belongs to a group of 3: the original, a
    re-encode at another quality and a mirrored copy.

The files are made by this script (no third-party Python module) and FFmpeg, preserved with
`athar ingest --case bench --json`, and analysed with `athar jobs --run` (PDQ or vPDQ and
frame variants, ffprobe metadata, three review images per item stored as derived items):
the real paths, nothing written into the catalog behind Athar's back. The build's phases
are timed and kept in WORK/n<N>/built.json.

Then, for each binary (BEFORE first, since a newer binary may upgrade the archive): starts
`athar serve --listen 127.0.0.1:0` on the archive, logs in as an admin and makes an API
token, waits until the server's background jobs are done (`athar jobs --json`: nothing
queued or running, no frame variants out of date), sends WARMUP requests, then times
REQUESTS requests, one at a time, to the route for items sampled (same seed, so the same
items for both binaries) among the group members, and prints median, p90, min and max
latency, the matches found, the server's RSS, and the BEFORE/AFTER ratio of the medians.

Usage: near_duplicates.py --athar PATH [--before PATH] [--items N] [--requests M]
                           [--work DIR] [--videos V] [--warmup W] [--seed S]
"""

import argparse
import http.client
import json
import os
import random
import shutil
import statistics
import struct
import subprocess
import sys
import threading
import time
import zlib

PASSWORD = "near-duplicates-bench-pw-1"
USER = "bench"
CASE = "bench"
X264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-threads", "1"]


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------- synthetic files

def png(w, h, rows, comment=None, level=6):
    """A truecolour PNG of `rows` (bytes of RGB each); `comment` goes into a tEXt chunk."""
    raw = b"".join(b"\x00" + r for r in rows)

    def chunk(t, d):
        c = struct.pack(">I", len(d)) + t + d
        return c + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    if comment:
        out += chunk(b"tEXt", b"Comment\x00" + comment.encode())
    return out + chunk(b"IDAT", zlib.compress(raw, level)) + chunk(b"IEND", b"")


G, CELL = 8, 8  # 8x8 grid of 8x8-pixel cells: 64x64 pixels


def random_grid(rng):
    return [[[rng.randrange(256) for _ in range(3)] for _ in range(G)] for _ in range(G)]


def grid_rows(grid, shift=0, mirror=False):
    """The grid's pixel rows (RGB bytes), shifted `shift` pixels right (wrapping)."""
    rows = []
    for gy in range(G):
        line = bytearray()
        for gx in range(G):
            line += bytes(grid[gy][gx]) * CELL
        if shift:
            s = (shift % (G * CELL)) * 3
            line = line[-s:] + line[:-s]
        if mirror:
            px = [line[i:i + 3] for i in range(0, len(line), 3)]
            line = b"".join(reversed(px))
        rows += [bytes(line)] * CELL
    return rows


def image_copies(rng, grid):
    """Four near-duplicate copies of a grid's picture: (name, PNG bytes)."""
    nudged = [[c[:] for c in row] for row in grid]
    y, x = rng.randrange(G), rng.randrange(G)
    nudged[y][x] = [(v + 12) % 256 for v in nudged[y][x]]
    brighter = [[[min(255, v + 10) for v in c] for c in row] for row in grid]
    w = G * CELL
    return [
        ("nudged", png(w, w, grid_rows(nudged))),
        ("brighter", png(w, w, grid_rows(brighter))),
        ("mirrored", png(w, w, grid_rows(grid, mirror=True))),
        ("rebytes", png(w, w, grid_rows(grid), comment="copy", level=9)),
    ]


def ffmpeg(*args, stdin=None):
    r = subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
                        *map(str, args)], input=stdin, capture_output=True)
    if r.returncode != 0:
        raise RuntimeError(f"ffmpeg {' '.join(map(str, args))}: {r.stderr.decode()[-1500:]}")


def make_video(rng, path, seconds=3, fps=5):
    frames = bytearray()
    for _ in range(seconds):
        grid = random_grid(rng)
        for f in range(fps):
            frames += b"".join(grid_rows(grid, shift=f))
    side = G * CELL
    ffmpeg("-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{side}x{side}", "-r", fps, "-i", "-",
           *X264, "-crf", 18, "-movflags", "+faststart", path, stdin=bytes(frames))


def generate(files, n_items, n_videos, seed):
    """Writes the corpus under `files`; returns the groups: [{kind, members: [rel paths]}]."""
    rng = random.Random(seed)
    n_images = n_items - n_videos
    groups = []
    os.makedirs(files, exist_ok=True)
    side = G * CELL
    made = 0
    d = None
    while made < n_images:
        if made % 1000 == 0 or d is None:
            d = os.path.join("images", f"d{made // 1000:04}")
            os.makedirs(os.path.join(files, d), exist_ok=True)
        grid = random_grid(rng)
        name = os.path.join(d, f"i{made:06}.png")
        with open(os.path.join(files, name), "wb") as f:
            f.write(png(side, side, grid_rows(grid)))
        made += 1
        if made % 50 == 1 and made + 4 <= n_images:  # 1 image in 50 starts a group of 5
            members = [name]
            for tag, data in image_copies(rng, grid):
                cname = os.path.join(d, f"i{made:06}-{tag}.png")
                with open(os.path.join(files, cname), "wb") as f:
                    f.write(data)
                members.append(cname)
                made += 1
            groups.append({"kind": "image", "members": members})
    vdir = os.path.join(files, "videos")
    os.makedirs(vdir, exist_ok=True)
    made = 0
    while made < n_videos:
        name = os.path.join("videos", f"v{made:05}.mp4")
        src = os.path.join(files, name)
        make_video(rng, src)
        made += 1
        if made % 3 == 1 and made + 2 <= n_videos:  # one video in 3: a group of 3
            members = [name]
            for tag, extra in (("crf30", ["-crf", 30]), ("mirrored", ["-vf", "hflip", "-crf", 20])):
                cname = os.path.join("videos", f"v{made:05}-{tag}.mp4")
                ffmpeg("-i", src, "-an", *X264, *extra, os.path.join(files, cname))
                members.append(cname)
                made += 1
            groups.append({"kind": "video", "members": members})
    return groups


# ---------------------------------------------------------------------------- archive build

def generated(base, n_items, n_videos, seed):
    """The corpus under base/files, made unless a finished one is there (files.json)."""
    files = os.path.join(base, "files")
    done = os.path.join(base, "files.json")
    if os.path.exists(done):
        with open(done) as f:
            g = json.load(f)
        if (g["items"], g["videos"], g["seed"]) == (n_items, n_videos, seed):
            return files, g["groups"], {"generate": g["seconds"]}
    shutil.rmtree(files, ignore_errors=True)
    os.makedirs(base, exist_ok=True)
    t0 = time.time()
    log(f"generating {n_items} files ({n_videos} videos) in {files}")
    groups = generate(files, n_items, n_videos, seed)
    secs = time.time() - t0
    with open(done, "w") as f:
        json.dump({"items": n_items, "videos": n_videos, "seed": seed, "groups": groups,
                   "seconds": secs}, f)
    log(f"generated in {secs:.0f} s")
    return files, groups, {"generate": secs}


BUILD_PREFIX = []


def run(cmd, stdin=None, check=True, build=False):
    if build:
        cmd = [*BUILD_PREFIX, *cmd]
    r = subprocess.run(cmd, input=stdin, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {r.returncode}: {r.stderr[-3000:]}")
    return r


# Items ingested and analysed per step of the build.
CHUNK = int(os.environ.get("NEARDUP_CHUNK", "5000"))


def chunks(n_items, n_videos):
    """The corpus in steps of about CHUNK items: (image dirs, video indices) each. Image groups
    (50 per 1000-image folder) and video groups (3 consecutive) never straddle two steps."""
    n_images = n_items - n_videos
    dirs = (n_images + 999) // 1000
    steps = max(1, round(n_items / CHUNK))
    out = []
    for k in range(steps):
        d0, d1 = dirs * k // steps, dirs * (k + 1) // steps
        v0 = n_videos * k // steps // 3 * 3
        v1 = n_videos if k == steps - 1 else n_videos * (k + 1) // steps // 3 * 3
        out.append((list(range(d0, d1)), list(range(v0, v1))))
    return out


def save_json(path, value):
    with open(path + ".tmp", "w") as f:
        json.dump(value, f)
    os.replace(path + ".tmp", path)


def build(athar, base, n_items, n_videos, seed, max_seconds=None):
    """Builds the archive under `base` in steps of CHUNK items (each ingested, then all its
    jobs run), resuming where an earlier run stopped; with `max_seconds`, starts no step that
    the rate so far says would end after that. Returns progress.json's content: a complete
    archive of `items_collected` items (all their jobs done), `complete` when all N are in."""
    archive = os.path.join(base, "archive")
    state_path = os.path.join(base, "progress.json")
    state = None
    if os.path.exists(state_path):
        with open(state_path) as f:
            state = json.load(f)
    if state and state.get("complete"):
        log(f"reusing the archive built {state['date']} in {archive} "
            f"({state['items_collected']} items)")
        return state
    files, groups, gsecs = generated(base, n_items, n_videos, seed)
    a = [athar, "--archive", archive]
    if not state:
        shutil.rmtree(archive, ignore_errors=True)
        run([*a, "init", "--name", "near-duplicates-bench"])
        run([*a, "case", "add", CASE, "--title", "Near-duplicates benchmark (synthetic)"])
        run([*a, "user", "add", USER, "--role", "admin", "--password-stdin"],
            stdin=PASSWORD + "\n")
        state = {"steps_done": 0, "ingested": None, "by_path": {},
                 "seconds": {"generate": gsecs["generate"], "ingest": 0.0, "jobs": 0.0},
                 "steps": [], "job_failures": [], "complete": False}
        save_json(state_path, state)
    steps = chunks(n_items, n_videos)
    t_run = time.time()
    while state["steps_done"] < len(steps):
        k = state["steps_done"]
        dirs, vids = steps[k]
        paths = [os.path.join(files, "images", f"d{d:04}") for d in dirs]
        paths = [p for p in paths if os.path.isdir(p)]
        paths += [p for p in (os.path.join(files, "videos", f) for f in
                              sorted(os.listdir(os.path.join(files, "videos"))))
                  if int(os.path.basename(p)[1:6]) in set(vids)]
        step_items = sum(len(os.listdir(p)) if os.path.isdir(p) else 1 for p in paths)
        done_items = len(state["by_path"])
        rate = done_items / max(1e-9, state["seconds"]["ingest"] + state["seconds"]["jobs"])
        if (max_seconds is not None and state["ingested"] != k and done_items
                and time.time() - t_run + step_items / max(rate, 1e-9) > max_seconds):
            log(f"stopping the build at {done_items} items: step {k + 1} would end past the "
                f"limit at {rate:.1f} items/s (rerun to go on)")
            break
        if state["ingested"] != k:
            log(f"step {k + 1}/{len(steps)}: ingesting {len(paths)} paths")
            t = time.time()
            r = run([*a, "ingest", "--case", CASE, "--json", *paths], build=True)
            state["seconds"]["ingest"] += time.time() - t
            n_new = 0
            for line in r.stdout.splitlines():
                try:
                    o = json.loads(line)
                except ValueError:
                    continue
                if o.get("path") and o.get("item"):
                    rel = os.path.relpath(os.path.realpath(o["path"]), os.path.realpath(files))
                    state["by_path"][rel] = o["item"]
                    n_new += 1
            if not n_new:
                raise RuntimeError("no item ids in `athar ingest --json`: " + r.stdout[:500])
            state["ingested"] = k
            save_json(state_path, state)
        log(f"step {k + 1}/{len(steps)}: running the jobs "
            f"({len(state['by_path'])} items in the archive)")
        t = time.time()
        r = run([*a, "jobs", "--run", "--json"], check=False, build=True)
        dt = time.time() - t
        state["seconds"]["jobs"] += dt
        if r.returncode != 0:
            save_json(state_path, state)
            raise RuntimeError(f"athar jobs --run exited {r.returncode}: {r.stderr[-3000:]}")
        state["job_failures"] += [l for l in r.stderr.splitlines() if "job" in l][:20]
        counts = json.loads(r.stdout.strip().splitlines()[-1])["counts"]
        n_step = len(state["by_path"]) - done_items
        state["steps"].append({"items": len(state["by_path"]), "jobs_s": dt,
                               "items_per_s": n_step / max(1e-9, dt),
                               "load": os.getloadavg(), "at": time.time()})
        state["job_counts"] = counts
        state["steps_done"] = k + 1
        state["ingested"] = None
        save_json(state_path, state)
        log(f"step {k + 1}/{len(steps)} done: {len(state['by_path'])} items, jobs {counts}, "
            f"{n_step / max(1e-9, dt):.1f} items/s, load {os.getloadavg()[0]:.1f}")
    state["items_collected"] = len(state["by_path"])
    state["items_total"] = len(run([*a, "list", "--json"]).stdout.splitlines())
    state["videos"] = sum(1 for p in state["by_path"] if p.startswith("videos"))
    state["groups"] = [{"kind": g["kind"], "members": [state["by_path"][m] for m in g["members"]]}
                       for g in groups if all(m in state["by_path"] for m in g["members"])]
    state["binary"] = athar
    state["version"] = run([athar, "--version"], check=False).stdout.strip()
    state["build_prefix"] = BUILD_PREFIX
    state["date"] = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    sec = state["seconds"]
    sec["total"] = sec["generate"] + sec["ingest"] + sec["jobs"]
    if state["steps_done"] == len(steps):
        state["complete"] = True
        # The archive holds the bytes now.
        shutil.rmtree(files, ignore_errors=True)
        os.remove(os.path.join(base, "files.json"))
    save_json(state_path, state)
    return state


# ---------------------------------------------------------------------------- measurement

def request(conn, method, path, headers=None, body=None):
    conn.request(method, path, body=body, headers=headers or {})
    r = conn.getresponse()
    return r.status, r.getheaders(), r.read()


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for l in f:
                if l.startswith("VmRSS:"):
                    return int(l.split()[1])
    except OSError:
        pass
    return 0


def measure(athar, archive, warm, timed, label):
    server = subprocess.Popen([athar, "--archive", archive, "serve", "--listen", "127.0.0.1:0"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    errors = []
    threading.Thread(target=lambda: errors.extend(server.stderr), daemon=True).start()
    try:
        line = server.stdout.readline().strip()
        if not line.startswith("Listening on http://"):
            raise RuntimeError(f"{label}: athar serve said {line!r}: {''.join(errors)[-2000:]}")
        host, port = line.removeprefix("Listening on http://").rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=600)
        st, headers, body = request(conn, "POST", "/api/login",
                                    {"content-type": "application/json"},
                                    json.dumps({"username": USER, "password": PASSWORD}))
        assert st == 200, (st, body)
        login = json.loads(body)
        cookies = "; ".join(v.split(";")[0] for k, v in headers if k.lower() == "set-cookie")
        st, _, body = request(conn, "POST", "/api/tokens",
                              {"content-type": "application/json", "cookie": cookies,
                               "x-csrf-token": login["csrf_token"]},
                              json.dumps({"name": f"near-duplicates bench {label}"}))
        assert st == 201, (st, body)
        auth = {"authorization": "Bearer " + json.loads(body)["token"]}

        # The server's job runner looks for work every second and, at its first look, queues
        # frame variants of another generation: wait for it, then for the queue to drain.
        t = time.time()
        time.sleep(3)
        while True:
            j = json.loads(run([athar, "--archive", archive, "jobs", "--json"]).stdout)
            busy = {k: v for k, v in j["counts"].items() if k not in ("done", "failed")}
            if not busy and not j.get("variants_out_of_date"):
                break
            if time.time() - t > 3600:
                raise RuntimeError(f"{label}: background jobs still busy after an hour: {busy}")
            time.sleep(2)
        waited = time.time() - t
        log(f"{label}: background jobs idle after {waited:.0f} s; server RSS "
            f"{rss_kib(server.pid) / 1024:.0f} MiB")

        def one(item):
            t0 = time.perf_counter()
            st, _, body = request(conn, "GET", f"/api/items/{item}/similar", auth)
            dt = time.perf_counter() - t0
            if st != 200:
                raise RuntimeError(f"{label}: GET /api/items/{item}/similar -> {st}: {body[:300]}")
            return dt, json.loads(body)

        first = []
        for item, _ in warm:
            dt, _ = one(item)
            first.append(dt * 1000)
            log(f"{label}: warm-up request {dt * 1000:.0f} ms")
        lat, found, missed, unfp = [], [], 0, 0
        for item, expected in timed:
            dt, j = one(item)
            lat.append(dt)
            ids = {m["item"] for m in j["matches"]}
            found.append(len(ids))
            if not j.get("fingerprinted", True):
                unfp += 1
            if not ids & set(expected):
                missed += 1
        peak = rss_kib(server.pid)
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
    lat.sort()
    ms = [x * 1000 for x in lat]
    p90 = ms[min(len(ms) - 1, max(0, round(0.9 * len(ms)) - 1))]
    return {
        "label": label, "binary": athar, "requests": len(ms), "warm_up_ms": first,
        "median_ms": statistics.median(ms), "p90_ms": p90, "min_ms": ms[0], "max_ms": ms[-1],
        "mean_matches": statistics.mean(found), "queries_without_their_copies": missed,
        "not_fingerprinted": unfp, "server_rss_mib": peak / 1024, "jobs_wait_s": waited,
        "load": os.getloadavg(),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--athar", help="the binary measured (after)")
    ap.add_argument("--before", help="the binary to compare with (measured first)")
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--videos", type=int, help="default: items/200")
    ap.add_argument("--requests", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--work", default=os.path.join(os.environ.get("TMPDIR", "/tmp"),
                                                   "athar-neardup"))
    ap.add_argument("--seed", type=int, default=20261206)
    ap.add_argument("--build-with", help="binary that builds the archive (default: --before "
                    "if given, else --athar)")
    ap.add_argument("--build-prefix", default=os.environ.get("BUILD_PREFIX", ""),
                    help="command put before the build's ingest and jobs, e.g. eatmydata "
                    "(no fsync while building: the same archive, built faster)")
    ap.add_argument("--max-build-seconds", type=float,
                    default=float(os.environ["MAX_BUILD_S"]) if os.environ.get("MAX_BUILD_S")
                    else None, help="stop building (between steps) after about this long and "
                    "measure the items built so far; a later run goes on")
    ap.add_argument("--generate-only", action="store_true",
                    help="only make the files (no binary is run)")
    args = ap.parse_args()
    n_videos = args.videos if args.videos is not None else max(3, args.items // 200)
    base = os.path.join(args.work, f"n{args.items}")
    if args.generate_only:
        generated(base, args.items, n_videos, args.seed)
        return
    if not args.athar:
        ap.error("--athar is required")
    BUILD_PREFIX.extend(args.build_prefix.split())
    builder = args.build_with or args.before or args.athar
    log(f"load before: {os.getloadavg()}")
    built = build(builder, base, args.items, n_videos, args.seed, args.max_build_seconds)
    s = built["seconds"]
    print(f"archive: {base}/archive, {built['items_collected']} items collected "
          f"({built['videos']} videos), {built['items_total']} with review images; "
          f"built {built['date']} by {built['version']}: generate {s['generate']:.0f} s, "
          f"ingest {s['ingest']:.0f} s, jobs {s['jobs']:.0f} s, total {s['total']:.0f} s "
          f"({built['items_collected'] / max(1e-9, s['ingest'] + s['jobs']):.1f} items/s "
          f"ingested and analysed); jobs {built['job_counts']}")
    if not built.get("complete"):
        print(f"NOTE: the build stopped at {built['items_collected']} of {args.items} items "
              f"(rate per step: {[round(x['items_per_s'], 1) for x in built['steps']]} items/s); "
              f"rerun to go on")
    # The same items for every binary: group members, images and videos in proportion to
    # the groups (so a few videos are always asked about), each with its group's others.
    rng = random.Random(args.seed)
    pool = []
    for g in built["groups"]:
        for m in g["members"]:
            pool.append((m, [o for o in g["members"] if o != m]))
    rng.shuffle(pool)
    videos = [p for p in pool if any(p[0] in g["members"] for g in built["groups"]
                                     if g["kind"] == "video")][:max(1, args.requests // 10)]
    images = [p for p in pool if p not in videos]
    sample = videos + images[:args.requests + args.warmup - len(videos)]
    rng.shuffle(sample)
    warm, timed = sample[:args.warmup], sample[args.warmup:]
    archive = os.path.join(base, "archive")
    results = []
    for label, binary in (("before", args.before), ("after" if args.before else "athar", args.athar)):
        if not binary:
            continue
        r = measure(binary, archive, warm, timed, label)
        results.append(r)
        print(json.dumps(r))
    for r in results:
        print(f"{r['label']:>6}: median {r['median_ms']:.1f} ms, p90 {r['p90_ms']:.1f} ms, "
              f"min {r['min_ms']:.1f}, max {r['max_ms']:.1f} over {r['requests']} requests "
              f"({r['mean_matches']:.1f} matches per item, {r['queries_without_their_copies']} "
              f"without their copies; server RSS {r['server_rss_mib']:.0f} MiB; load "
              f"{r['load'][0]:.1f}; first request after start {(r['warm_up_ms'] or [float('nan')])[0]:.1f} ms)"
              f"  [{r['binary']}]")
    if len(results) == 2:
        b, a = results
        print(f"ratio before/after: median {b['median_ms'] / a['median_ms']:.1f}x, "
              f"p90 {b['p90_ms'] / a['p90_ms']:.1f}x")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Runs a command in a session of its own and samples, every INTERVAL seconds, the memory of
every process in that session or below it (the browser, its renderers, chromedriver, Xvfb,
yt-dlp, FFmpeg…): the sum of RSS (shared pages counted once per process, an upper bound) and
the sum of PSS (shared pages divided among their users, what the tree really holds).

    procmem.py OUT.json [--interval 0.1] -- COMMAND ARG…

Writes {"wall_s", "rc", "peak_rss_kib", "peak_pss_kib", "peak_procs", "samples", "peak_at_s"}
to OUT.json; the command's stdout and stderr pass through. Exit status: the command's.
"""
import json
import os
import signal
import subprocess
import sys
import time


def stat_fields(pid):
    with open(f"/proc/{pid}/stat", "rb") as f:
        data = f.read().decode("latin-1")
    # comm may hold spaces and parentheses: split after the last ')'.
    rest = data[data.rindex(")") + 2 :].split()
    return int(rest[1]), int(rest[3])  # ppid, session


def rollup(pid):
    rss = pss = 0
    with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
        for line in f:
            if line.startswith(b"Rss:"):
                rss = int(line.split()[1])
            elif line.startswith(b"Pss:"):
                pss = int(line.split()[1])
    return rss, pss


def tree(root, sid):
    procs = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        pid = int(name)
        try:
            procs[pid] = stat_fields(pid)
        except (OSError, ValueError, IndexError):
            pass
    children = {}
    for pid, (ppid, _) in procs.items():
        children.setdefault(ppid, []).append(pid)
    mine = {pid for pid, (_, s) in procs.items() if s == sid}
    todo = [root]
    while todo:
        p = todo.pop()
        if p in mine and p != root:
            continue
        mine.add(p)
        todo.extend(c for c in children.get(p, []) if c not in mine)
    return mine


def main():
    args = sys.argv[1:]
    if len(args) < 3 or "--" not in args:
        sys.exit(__doc__)
    out = args[0]
    sep = args.index("--")
    opts, cmd = args[1:sep], args[sep + 1 :]
    interval = float(opts[opts.index("--interval") + 1]) if "--interval" in opts else 0.1
    start = time.monotonic()
    child = subprocess.Popen(cmd, start_new_session=True)
    sid = child.pid  # a new session's id is its leader's pid
    peak_rss = peak_pss = peak_procs = samples = 0
    peak_at = 0.0
    forward = lambda signum, _frame: os.killpg(child.pid, signum)  # noqa: E731
    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    while child.poll() is None:
        rss = pss = n = 0
        for pid in tree(child.pid, sid):
            try:
                r, p = rollup(pid)
            except OSError:
                continue
            rss += r
            pss += p
            n += 1
        samples += 1
        if rss > peak_rss:
            peak_rss, peak_at = rss, time.monotonic() - start
        peak_pss = max(peak_pss, pss)
        peak_procs = max(peak_procs, n)
        time.sleep(interval)
    wall = time.monotonic() - start
    with open(out, "w") as f:
        json.dump(
            {
                "cmd": cmd,
                "rc": child.returncode,
                "wall_s": round(wall, 3),
                "peak_rss_kib": peak_rss,
                "peak_pss_kib": peak_pss,
                "peak_procs": peak_procs,
                "peak_at_s": round(peak_at, 1),
                "samples": samples,
            },
            f,
            indent=1,
        )
    sys.exit(child.returncode if child.returncode >= 0 else 128 - child.returncode)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Reads what bench/capture.sh left in WORK and prints the comparison: per run, seconds per
URL (whole run / URLs), the median time one URL took, peak memory of the whole process tree
(browser included); the medians over the runs and the throughput ratio Athar / auto-archiver;
the artefacts each side produced per URL, by kind. Writes WORK/summary.json.

    report.py WORK
"""
import ast
import csv
import datetime as dt
import json
import os
import re
import statistics
import sys
from collections import Counter, defaultdict

csv.field_size_limit(1 << 30)

SIDES = {
    "aa": "auto-archiver 1.2.9",
    "athar": "athar capture",
    "athar1": "athar capture --jobs 1",
}


def stored_bytes(d):
    p = os.path.join(d, "bytes.txt")
    try:
        return int(open(p).read().strip())
    except (OSError, ValueError):
        return None


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def gaps(times):
    """Seconds between one completion and the next (the first from the start)."""
    times = sorted(times)
    return [b - a for a, b in zip([0.0] + times[:-1], times)]


# ---------------------------------------------------------------------------------------
# auto-archiver

LOG = re.compile(
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+) \| \w+\s*\| [^|]*\| "
    r"(\{\"trace\": \"(\w+)\", \"url\": \"([^\"]*)\"\}) (Started processing|DONE|FAILED)"
)


def aa_log(path):
    """{trace: (url, started, ended, failed)} from the loguru log."""
    out = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = LOG.match(line)
            if not m:
                continue
            t = dt.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f").timestamp()
            trace, url, what = m.group(3), m.group(4), m.group(5)
            url0, s, e, failed = out.get(trace, (url, None, None, False))
            if what == "Started processing":
                s = t
            elif e is None:  # console_db and csv_db both log DONE: the first counts
                e = t
                failed = what == "FAILED"
            out[trace] = (url0, s, e, failed)
    return out


def aa_kind(m):
    props = m.get("properties") or {}
    ident = props.get("id")
    mime = m.get("_mimetype") or ""
    if ident == "screenshot":
        return "screenshot (full page)"
    if ident == "pdf":
        return "PDF"
    if ident == "html_source_code":
        return "HTML after load (DOM)"
    if ident == "cover":
        return "thumbnail"
    if ident == "_final_media":
        return "report (HTML formatter)"
    if "url" in props:  # downloaded from the page's <img>/<video> by the Antibot enricher
        return "page image/video taken from the DOM"
    if mime.startswith("video/") or mime.startswith("audio/"):
        return "video (yt-dlp)"
    return f"other ({mime or 'unknown'})"


# What auto-archiver took from the site as it was served (the rest it made itself).
FETCHED = ("video (yt-dlp)", "thumbnail", "page image/video taken from the DOM")


def aa_run(d):
    res = {"dir": d, "bytes": stored_bytes(d)}
    mem = json.load(open(os.path.join(d, "mem.json")))
    res.update(mem)
    traces = aa_log(os.path.join(d, "log.txt"))
    rows = []
    dbp = os.path.join(d, "db.csv")
    if os.path.exists(dbp):
        with open(dbp, encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    per_url = {}
    for row in rows:
        m = re.search(r"'url': '([^']*)'", row.get("metadata", ""))
        url = m.group(1) if m else "?"
        try:
            media = ast.literal_eval(row.get("media") or "[]")
        except (ValueError, SyntaxError):
            media = []
        kinds = Counter(aa_kind(x) for x in media)
        hashes = sum(1 for x in media if (x.get("properties") or {}).get("hash"))
        files = set()
        for x in media:
            files.update(x.get("urls") or [])
        kinds["SHA-256 of each file (in the CSV row and report)"] = hashes
        kinds["metadata row (csv_db)"] = 1
        fetched = []
        for x in media:
            k = aa_kind(x)
            h = (x.get("properties") or {}).get("hash", "")
            if k in FETCHED and h.startswith("SHA-256:"):
                fetched.append((k, h.split(":", 1)[1]))
        per_url[url] = {
            "status": row.get("status"),
            "kinds": dict(kinds),
            "files": len(files),
            "fetched": fetched,
        }
    ok = [
        u
        for u, v in per_url.items()
        if v["kinds"].get("video (yt-dlp)") and v["kinds"].get("screenshot (full page)")
    ]
    lat = [e - s for (_, s, e, _) in traces.values() if s is not None and e is not None]
    starts = [s for (_, s, _, _) in traces.values() if s is not None]
    ends = [e for (_, _, e, _) in traces.values() if e is not None]
    t0 = min(starts) if starts else 0
    res.update(
        urls_done=len([1 for v in traces.values() if v[2] is not None]),
        urls_ok=len(ok),
        latency_median=median(lat),
        gap_median=median(gaps([e - t0 for e in ends])) if ends else None,
        setup_s=(t0 - os.path.getmtime(os.path.join(d, "start"))) if starts and os.path.exists(os.path.join(d, "start")) else None,
        per_url=per_url,
    )
    return res


# ---------------------------------------------------------------------------------------
# Athar

ATHAR_KIND = {
    "media": "video (yt-dlp)",
    "thumbnail": "thumbnail",
    "media-info": "yt-dlp info JSON",
    "subtitles": "subtitles",
    "comments": "comments",
    "screenshot": "screenshot (full page)",
    "screenshot-viewport": "screenshot (viewport)",
    "pdf": "PDF",
    "html-dom": "HTML after load (DOM)",
    "html-served": "HTML as served",
    "wacz": "WACZ (every request and response, signed)",
    "network": "network.json (DNS, address, redirects)",
    "tls-certificate": "TLS certificate chain",
    "manifest": "capture.json (manifest)",
}


def athar_run(d):
    res = {"dir": d, "bytes": stored_bytes(d)}
    res.update(json.load(open(os.path.join(d, "mem.json"))))
    lines = []
    with open(os.path.join(d, "out.jsonl"), encoding="utf-8") as f:
        for raw in f:
            raw = raw.strip()
            if raw:
                lines.append(json.loads(raw))
    records = {}
    rp = os.path.join(d, "records.jsonl")
    if os.path.exists(rp):
        with open(rp, encoding="utf-8") as f:
            for raw in f:
                r = json.loads(raw)
                records[r["id"]] = r
    wacz = {}
    wp = os.path.join(d, "wacz.jsonl")
    if os.path.exists(wp):
        with open(wp, encoding="utf-8") as f:
            for raw in f:
                w = json.loads(raw)
                wacz[w["url"]] = {x["sha256"] for x in w["responses"]}
    per_url = {}
    lat = []
    for entry in lines:
        line = entry["line"]
        if not isinstance(line, dict) or "url" not in line:
            continue
        files = line.get("files") or []
        kinds = Counter(ATHAR_KIND.get(f["role"], f["role"]) for f in files)
        kinds["SHA-256 of each file (in --json, catalog and custody log)"] = sum(
            1 for f in files if f.get("sha256")
        )
        kinds["capture record (catalog) + custody events"] = 1 if line.get("capture") else 0
        rec = records.get(line.get("capture"), {})
        if rec.get("requests"):
            kinds["responses recorded in the WACZ"] = rec["requests"]
        if rec.get("started") and rec.get("ended"):
            s = dt.datetime.fromisoformat(rec["started"].replace("Z", "+00:00"))
            e = dt.datetime.fromisoformat(rec["ended"].replace("Z", "+00:00"))
            lat.append((e - s).total_seconds())
        per_url[line["url"]] = {
            "sha256": {f.get("sha256") for f in files} | wacz.get(line["url"], set()),
            "complete": line.get("complete"),
            "error": line.get("error"),
            "problems": line.get("problems"),
            "kinds": dict(kinds),
            "files": len({f["name"] for f in files}),
            "items": len({f["item"] for f in files}),
        }
    ok = [u for u, v in per_url.items() if v["complete"]]
    res.update(
        urls_done=len(per_url),
        urls_ok=len(ok),
        latency_median=median(lat),
        gap_median=median(gaps([e["t"] for e in lines])) if lines else None,
        per_url=per_url,
    )
    return res


# ---------------------------------------------------------------------------------------


def kinds_table(runs):
    """kind -> (mean per URL, min, max) over the URLs of all runs of one side."""
    urls = [v["kinds"] for r in runs for v in r["per_url"].values()]
    kinds = []
    for k in urls:
        kinds.extend(x for x in k if x not in kinds)
    table = {}
    for k in kinds:
        vals = [u.get(k, 0) for u in urls]
        table[k] = (statistics.mean(vals), min(vals), max(vals))
    return table, len(urls)


def fmt(x, nd=2):
    return "—" if x is None else f"{x:.{nd}f}"


def main():
    work = sys.argv[1]
    meta = {}
    mp = os.path.join(work, "meta.json")
    if os.path.exists(mp):
        meta = json.load(open(mp))
    runs = defaultdict(list)
    rdir = os.path.join(work, "runs")
    for name in sorted(os.listdir(rdir), key=lambda s: (s.rsplit("-", 1)[0], int(s.rsplit("-", 1)[1]))):
        side, _, _ = name.rpartition("-")
        d = os.path.join(rdir, name)
        if not os.path.exists(os.path.join(d, "mem.json")):
            continue
        r = aa_run(d) if side == "aa" else athar_run(d)
        r["name"] = name
        lp = os.path.join(d, "load.txt")
        if os.path.exists(lp):
            r["load"] = open(lp).read().strip()
        runs[side].append(r)
    n_urls = meta.get("urls")
    print(f"corpus: {n_urls} video pages over HTTP, hosts {meta.get('hosts')}")
    print()
    print("| side | run | URLs ok/done | wall s | s per URL | median s one URL took | median s between completions | peak RSS MiB | peak PSS MiB | processes | stored MiB per URL | load before → after |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    summary = {"meta": meta, "sides": {}}
    for side in ("aa", "athar", "athar1"):
        for r in runs.get(side, []):
            per = r["wall_s"] / n_urls if n_urls else None
            r["s_per_url"] = per
            print(
                f"| {SIDES[side]} | {r['name']} | {r['urls_ok']}/{r['urls_done']} | {r['wall_s']:.1f} | {fmt(per)} | "
                f"{fmt(r['latency_median'])} | {fmt(r['gap_median'])} | {r['peak_rss_kib'] / 1024:.0f} | "
                f"{r['peak_pss_kib'] / 1024:.0f} | {r['peak_procs']} | "
                f"{fmt(r['bytes'] / 2**20 / r['urls_done'] if r['bytes'] and r['urls_done'] else None)} | {r.get('load', '')} |"
            )
    print()
    print("Medians over the runs:")
    print()
    print("| side | runs | s per URL | URLs per minute | median s one URL took | peak RSS MiB (max) | peak PSS MiB (max) |")
    print("|---|---|---|---|---|---|---|")
    med = {}
    for side in ("aa", "athar", "athar1"):
        rs = runs.get(side, [])
        if not rs:
            continue
        per = median([r["s_per_url"] for r in rs])
        med[side] = per
        rss = [r["peak_rss_kib"] / 1024 for r in rs]
        pss = [r["peak_pss_kib"] / 1024 for r in rs]
        print(
            f"| {SIDES[side]} | {len(rs)} | {fmt(per)} | {fmt(60 / per if per else None, 1)} | "
            f"{fmt(median([r['latency_median'] for r in rs]))} | {median(rss):.0f} ({max(rss):.0f}) | {median(pss):.0f} ({max(pss):.0f}) |"
        )
        summary["sides"][side] = {
            "label": SIDES[side],
            "runs": [
                {k: v for k, v in r.items() if k != "per_url"} for r in rs
            ],
            "s_per_url_median": per,
            "peak_rss_mib_max": max(rss),
            "peak_pss_mib_max": max(pss),
        }
    print()
    for side in ("athar", "athar1"):
        if side in med and "aa" in med and med[side]:
            ratio = med["aa"] / med[side]
            summary["sides"][side]["throughput_ratio_vs_aa"] = ratio
            print(f"throughput ratio {SIDES[side]} / auto-archiver: {ratio:.2f}×")
    print()
    print("Artefacts per URL (mean over every URL of every run; min–max):")
    print()
    tables = {}
    for side in ("aa", "athar"):
        if runs.get(side):
            tables[side] = kinds_table(runs[side])
    kinds = []
    for side in ("aa", "athar"):
        for k in tables.get(side, ({}, 0))[0]:
            if k not in kinds:
                kinds.append(k)
    print(f"| kind | {SIDES['aa']} | {SIDES['athar']} |")
    print("|---|---|---|")

    def cell(side, k):
        t = tables.get(side, ({}, 0))[0].get(k)
        if not t or t[2] == 0:
            return "—"
        mean, lo, hi = t
        return f"{mean:.2f}" + ("" if lo == hi else f" ({lo}–{hi})")

    for k in kinds:
        print(f"| {k} | {cell('aa', k)} | {cell('athar', k)} |")
    for side in ("aa", "athar"):
        rs = runs.get(side, [])
        files = [v["files"] for r in rs for v in r["per_url"].values()]
        if files:
            print(f"\n{SIDES[side]}: distinct files per URL {statistics.mean(files):.2f} (min {min(files)}, max {max(files)})")
        summary["sides"].setdefault(side, {})["kinds_per_url"] = tables.get(side, ({}, 0))[0]
    # Is what auto-archiver fetched from each page, byte for byte, in Athar's capture of it?
    found = total = 0
    missing = Counter()
    for a in runs.get("aa", []):
        for b in runs.get("athar", []) + runs.get("athar1", []):
            for url, v in a["per_url"].items():
                have = b["per_url"].get(url, {}).get("sha256", set())
                for kind, h in v.get("fetched", []):
                    total += 1
                    if h in have:
                        found += 1
                    else:
                        missing[kind] += 1
    if total:
        print(
            f"\nFiles auto-archiver took from the pages (video, thumbnail, images/videos of the DOM) "
            f"found byte for byte in Athar's capture of the same page (its files or its WACZ), "
            f"every pair of runs: {found}/{total}" + (f"; missing: {dict(missing)}" if missing else "")
        )
        summary["fetched_in_athar"] = {"found": found, "total": total, "missing": dict(missing)}
    # The HTTPS part.
    hp = os.path.join(work, "https")
    if os.path.isdir(hp):
        print("\nHTTPS pages (https://localhost, the fixture's test CA):")
        out = {}
        if os.path.exists(os.path.join(hp, "athar", "mem.json")):
            r = athar_run(os.path.join(hp, "athar"))
            tls = sum(1 for v in r["per_url"].values() if v["kinds"].get("TLS certificate chain"))
            print(f"  Athar: {r['urls_ok']}/{r['urls_done']} complete, {tls} with the TLS chain, {r['wall_s']:.1f} s")
            out["athar"] = {"ok": r["urls_ok"], "done": r["urls_done"], "tls": tls, "wall_s": r["wall_s"]}
        lp = os.path.join(hp, "aa", "log.txt")
        if os.path.exists(lp):
            txt = open(lp, encoding="utf-8", errors="replace").read()
            refused = len(re.findall(r"Error archiving: Localhost URLs cannot be parsed", txt))
            r = aa_run(os.path.join(hp, "aa"))
            print(f"  auto-archiver: {r['urls_ok']} archived; {refused} refused (\"Localhost URLs cannot be parsed for security reasons\")")
            out["aa"] = {"ok": r["urls_ok"], "refused": refused}
        summary["https"] = out
    with open(os.path.join(work, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1, default=lambda o: sorted(o) if isinstance(o, set) else str(o))


if __name__ == "__main__":
    main()

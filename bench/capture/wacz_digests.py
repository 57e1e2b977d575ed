#!/usr/bin/env python3
"""For each capture in RECORDS (one `athar sources show` record a line), reads its WACZ out of
the archive (`athar cat`) and writes the SHA-256 digests of the responses its CDX index lists:
{"url", "capture", "responses": [{"url", "status", "sha256"}]} a line. bench/capture.sh uses it
to check that what auto-archiver downloaded from a page is in Athar's capture of it.

    wacz_digests.py ATHAR ARCHIVE RECORDS.jsonl OUT.jsonl
"""
import io
import json
import subprocess
import sys
import zipfile

athar, archive, records, out = sys.argv[1:5]
with open(records, encoding="utf-8") as f, open(out, "w", encoding="utf-8") as o:
    for raw in f:
        rec = json.loads(raw)
        wacz = [a for a in rec.get("artefacts", []) if a.get("role") == "wacz"]
        responses = []
        if wacz:
            data = subprocess.run(
                [athar, "--archive", archive, "cat", wacz[0]["item"]],
                capture_output=True, check=True,
            ).stdout
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                for name in z.namelist():
                    if not name.startswith("indexes/") or not name.endswith(".cdx"):
                        continue
                    for line in z.read(name).decode("utf-8", "replace").splitlines():
                        parts = line.split(" ", 2)
                        if len(parts) < 3:
                            continue
                        try:
                            j = json.loads(parts[2])
                        except ValueError:
                            continue
                        d = j.get("digest", "")
                        responses.append({
                            "url": j.get("url"),
                            "status": j.get("status"),
                            "sha256": d.split(":", 1)[1] if d.startswith("sha256:") else d,
                        })
        o.write(json.dumps({"url": rec.get("url"), "capture": rec.get("id"), "responses": responses}) + "\n")

#!/usr/bin/env python3
"""Copies stdin to stdout, one JSON object a line: {"t": seconds since this started, "line": the
line parsed as JSON (or as text)}. bench/capture.sh pipes `athar capture --json` through it to
know when each address was done."""
import json
import sys
import time

start = time.monotonic()
for raw in sys.stdin:
    raw = raw.rstrip("\n")
    if not raw:
        continue
    try:
        line = json.loads(raw)
    except ValueError:
        line = raw
    print(json.dumps({"t": round(time.monotonic() - start, 3), "line": line}), flush=True)

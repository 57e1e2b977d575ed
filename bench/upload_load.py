#!/usr/bin/env python3
"""Load test on loopback: concurrent tus uploads and concurrent API readers.

Starts `athar serve` on a fresh archive, then at once:
  - UPLOADS uploads (default 20) of SIZE_MB each (default 200) by tus 1.0.0, in PATCH
    requests of CHUNK_MB (default 64), bytes generated on the fly and hashed while sent;
  - READERS reader threads (default 100) calling the read API (cases, items, an item,
    records, search) in a loop until the uploads are done.
Then checks every upload became an item whose SHA-256 is the one sent, runs `athar verify`,
and prints: failed/lost uploads, upload throughput, the server's peak RSS (VmHWM from
/proc/<pid>/status, sampled), read latency p50/p95/p99 and the load average.

Usage: bench/upload_load.py ATHAR_BINARY [WORKDIR]
Environment: UPLOADS, SIZE_MB, CHUNK_MB, READERS.
"""

import base64
import hashlib
import http.client
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time

ATHAR = sys.argv[1]
WORK = sys.argv[2] if len(sys.argv) > 2 else tempfile.mkdtemp(prefix="athar-load.")
UPLOADS = int(os.environ.get("UPLOADS", "20"))
SIZE = int(os.environ.get("SIZE_MB", "200")) << 20
CHUNK = int(os.environ.get("CHUNK_MB", "64")) << 20
READERS = int(os.environ.get("READERS", "100"))
PIECE = 1 << 20

archive = os.path.join(WORK, "archive")
if os.path.exists(archive):
    shutil.rmtree(archive)


def athar(*args, stdin=None):
    return subprocess.run(
        [ATHAR, "--archive", archive, *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


athar("init", "--name", "load")
athar("case", "add", "load", "--title", "Load test (synthetic)")
athar("user", "add", "loader", "--role", "investigator", "--case", "load", "--password-stdin",
      stdin="synthetic-password-123\n")
server = subprocess.Popen(
    [ATHAR, "--archive", archive, "serve", "--listen", "127.0.0.1:0"],
    stdout=subprocess.PIPE,
    text=True,
)
line = server.stdout.readline().strip()
host, port = line.removeprefix("Listening on http://").split(":")
port = int(port)


def conn():
    return http.client.HTTPConnection(host, port, timeout=300)


def request(c, method, path, headers=None, body=None):
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data


# A bearer token is simpler for many threads than cookies and CSRF.
c = conn()
c.request("POST", "/api/login", body=json.dumps({"username": "loader", "password": "synthetic-password-123"}),
          headers={"content-type": "application/json"})
r = c.getresponse()
login = json.loads(r.read())
cookies = "; ".join(h.split(";")[0] for k, h in r.getheaders() if k.lower() == "set-cookie")
st, _, body = request(c, "POST", "/api/tokens",
                      {"content-type": "application/json", "cookie": cookies,
                       "x-csrf-token": login["csrf_token"]},
                      json.dumps({"name": "load"}))
assert st == 201, body
AUTH = {"authorization": "Bearer " + json.loads(body)["token"]}
c.close()

peak = {"hwm_kb": 0, "rss_kb": 0}
stop = threading.Event()


def sample_rss():
    while not stop.is_set():
        try:
            with open(f"/proc/{server.pid}/status") as f:
                for l in f:
                    if l.startswith("VmHWM:"):
                        peak["hwm_kb"] = max(peak["hwm_kb"], int(l.split()[1]))
                    if l.startswith("VmRSS:"):
                        peak["rss_kb"] = max(peak["rss_kb"], int(l.split()[1]))
        except OSError:
            pass
        time.sleep(0.2)


results = []
lock = threading.Lock()


def upload(n):
    rng = random.Random(n)
    sha = hashlib.sha256()
    c = conn()
    meta = "filename " + base64.b64encode(f"clip-{n:02}.bin".encode()).decode() + \
        ",case " + base64.b64encode(b"load").decode()
    out = {"n": n, "ok": False}
    try:
        st, h, body = request(c, "POST", "/api/uploads",
                              {**AUTH, "tus-resumable": "1.0.0", "upload-length": str(SIZE),
                               "upload-metadata": meta})
        assert st == 201, (st, body)
        loc = h["location"]
        offset = 0
        item = None
        while offset < SIZE:
            n_bytes = min(CHUNK, SIZE - offset)
            c.putrequest("PATCH", loc)
            for k, v in {**AUTH, "tus-resumable": "1.0.0",
                         "content-type": "application/offset+octet-stream",
                         "upload-offset": str(offset), "content-length": str(n_bytes)}.items():
                c.putheader(k, v)
            c.endheaders()
            left = n_bytes
            while left:
                piece = rng.randbytes(min(PIECE, left))
                sha.update(piece)
                c.send(piece)
                left -= len(piece)
            r = c.getresponse()
            r.read()
            assert r.status == 204, (r.status, loc)
            offset = int(r.getheader("upload-offset"))
            item = r.getheader("athar-item")
        out.update(ok=True, item=item, sent=sha.hexdigest(),
                   got=r.getheader("athar-sha256"), loc=loc)
    except Exception as e:  # noqa: BLE001 - reported as a failed upload
        out["error"] = repr(e)
    with lock:
        results.append(out)


latencies = []


def reader(i):
    c = conn()
    paths = ["/api/cases", "/api/items?case=load", "/api/records?case=load",
             "/api/search?q=load", "/api/items"]
    k = i
    mine = []
    item = None
    while not stop.is_set():
        path = paths[k % len(paths)]
        if k % 7 == 0 and item:
            path = f"/api/items/{item}"
        k += 1
        t0 = time.perf_counter()
        try:
            st, _, body = request(c, "GET", path, AUTH)
        except Exception:  # noqa: BLE001
            c = conn()
            st = 0
        dt = time.perf_counter() - t0
        mine.append((dt, st))
        if st == 200 and path.startswith("/api/items?"):
            items = json.loads(body)["items"]
            if items:
                item = items[0]["item"]["id"]
    with lock:
        latencies.extend(mine)


threading.Thread(target=sample_rss, daemon=True).start()
t0 = time.time()
ups = [threading.Thread(target=upload, args=(n,)) for n in range(UPLOADS)]
rds = [threading.Thread(target=reader, args=(i,)) for i in range(READERS)]
for t in rds + ups:
    t.start()
for t in ups:
    t.join()
elapsed = time.time() - t0
stop.set()
for t in rds:
    t.join()

# Every upload must be an item with the SHA-256 sent.
c = conn()
failed = [r for r in results if not r["ok"]]
lost = []
for r in results:
    if not r["ok"]:
        continue
    st, _, body = request(c, "GET", f"/api/items/{r['item']}", AUTH)
    stored = json.loads(body)["item"]["sha256"] if st == 200 else None
    if not (r["got"] == r["sent"] == stored):
        lost.append(r)
server.terminate()
server.wait()
verify = subprocess.run([ATHAR, "--archive", archive, "verify"], capture_output=True, text=True)

lat = sorted(d for d, _ in latencies)
bad_reads = sum(1 for _, s in latencies if s != 200)


def pct(p):
    return lat[min(len(lat) - 1, int(p / 100 * len(lat)))] * 1000 if lat else float("nan")


print(json.dumps({
    "uploads": UPLOADS, "size_mb": SIZE >> 20, "chunk_mb": CHUNK >> 20, "readers": READERS,
    "failed_uploads": len(failed), "lost_or_mismatched": len(lost),
    "errors": [r.get("error") for r in failed][:3],
    "elapsed_s": round(elapsed, 1),
    "upload_mib_s": round(UPLOADS * (SIZE >> 20) / elapsed, 1),
    "server_peak_rss_mib": round(max(peak["hwm_kb"], peak["rss_kb"]) / 1024, 1),
    "reads": len(lat), "failed_reads": bad_reads,
    "read_ms_p50": round(pct(50), 1), "read_ms_p95": round(pct(95), 1),
    "read_ms_p99": round(pct(99), 1),
    "verify_exit": verify.returncode,
    "loadavg": os.getloadavg(),
}))
sys.exit(0 if not failed and not lost and verify.returncode == 0 else 1)

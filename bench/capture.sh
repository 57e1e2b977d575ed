#!/usr/bin/env bash
# `athar capture` against bellingcat's auto-archiver 1.2.9 (its generic extractor, screenshot
# and hash enrichers, local storage) on one local corpus of video pages, side by side in one
# run: seconds per URL, the artefacts each produced per URL by kind, and the peak memory of
# each whole process tree, browser included. Run on demand; not part of the test suite.
#
#   bench/capture.sh            # N=56 pages, RUNS=3 rounds
#   N=56 RUNS=3 ATHAR_SERIAL=1 HTTPS_PAGES=6 WORK=bench/out/capture bench/capture.sh
#   ATHAR_BIN=… SITE_BIN=… ATHAR_COMMIT=… bench/capture.sh   # binaries built elsewhere
#
# - The corpus is the capture tests' fixture site (crates/capture/examples/fixture_site.rs):
#   N post pages `/video/K`, each with og:video, JSON-LD and its own mp4, over HTTP. Nothing
#   outside the machine is reached: both sides run with HTTP(S)_PROXY pointed at a closed
#   port (so that an update check or a driver download fails at once instead of leaving the
#   machine), the corpus's host names excepted.
# - auto-archiver refuses `localhost` and loopback addresses (`check_url_or_raise`), so the
#   pages are addressed by host names that /etc/hosts maps to 127.0.0.1 (HOSTS, default: all
#   such names but localhost). URL K uses host K mod |HOSTS|; both sides get the same list.
# - auto-archiver 1.2.9 has no `screenshot_enricher` any more (deprecated in 1.1.0): its
#   screenshots come from the Antibot extractor/enricher (SeleniumBase, undetected Chromium,
#   which must run headed: under Xvfb). Debian's chromium + chromium-driver are used; the
#   driver is copied from PATH by SeleniumBase, nothing is downloaded.
# - Each round runs auto-archiver, Athar (default jobs) and, with ATHAR_SERIAL=1, Athar with
#   --jobs 1, alternating the order; each in a fresh folder and a fresh archive. Memory: the
#   sum of RSS and of PSS over every process of the run's session and below it, sampled every
#   100 ms (bench/capture/procmem.py).
# - HTTPS_PAGES pages over HTTPS (https://localhost, the fixture's test CA) are then given to
#   both once, outside the timing: the part of the corpus auto-archiver cannot take offline.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
N="${N:-56}"
RUNS="${RUNS:-3}"
ATHAR_SERIAL="${ATHAR_SERIAL:-1}"
HTTPS_PAGES="${HTTPS_PAGES:-6}"
WORK="${WORK:-$root/bench/out/capture}"
VENV="${AA_VENV:-$root/bench/out/.venv-auto-archiver}"  # git-ignored (/bench/out)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
here="$root/bench/capture"

# --- tools -------------------------------------------------------------------------------
missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
command -v Xvfb >/dev/null || missing+=(xvfb)
command -v ffmpeg >/dev/null || missing+=(ffmpeg)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing Debian packages: ${missing[*]} (sudo apt-get install ${missing[*]})" >&2
    exit 2
  fi
  echo "installing ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
tools="${ATHAR_TOOLS:-$HOME/.local/share/athar/tools}"
if [ ! -x "$tools/bin/yt-dlp" ]; then
  echo "Athar's yt-dlp is missing: run scripts/ensure-deps.sh run" >&2
  exit 2
fi
if ! "$VENV/bin/python" -c 'import importlib.metadata as m; assert m.version("auto-archiver") == "1.2.9"' 2>/dev/null; then
  echo "installing auto-archiver 1.2.9 into $VENV" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check auto-archiver==1.2.9
fi
# ATHAR_BIN and SITE_BIN: binaries built elsewhere (e.g. from a clean export of a commit
# while the working tree is being edited); otherwise both are built here.
athar="${ATHAR_BIN:-$CARGO_TARGET_DIR/release/athar}"
site_bin="${SITE_BIN:-$CARGO_TARGET_DIR/release/examples/fixture_site}"
[ -n "${ATHAR_BIN:-}" ] || cargo build --quiet --release -p athar
[ -n "${SITE_BIN:-}" ] || cargo build --quiet --release -p athar-capture --features fixture --example fixture_site

# --- host names that reach the fixture site ------------------------------------------------
if [ -z "${HOSTS:-}" ]; then
  HOSTS=$(awk '$1 ~ /^127\./ { for (i = 2; i <= NF; i++) if ($i !~ /^localhost/ && $i !~ /^#/) print $i }' /etc/hosts | sort -u | tr '\n' ' ')
fi
read -r -a hosts <<<"$HOSTS"
if [ ${#hosts[@]} -eq 0 ]; then
  echo "no host name other than localhost maps to 127.0.0.1 in /etc/hosts; auto-archiver" >&2
  echo "refuses localhost and loopback addresses. Add one (e.g. '127.0.0.1 fixture-a.test" >&2
  echo "fixture-b.test') or set HOSTS to names that resolve to 127.0.0.1." >&2
  exit 2
fi

# --- the corpus ------------------------------------------------------------------------------
rm -rf "$WORK/runs" "$WORK/https"
mkdir -p "$WORK/site" "$WORK/runs" "$WORK/https"
site_pid=""
cleanup() { [ -n "$site_pid" ] && kill "$site_pid" 2>/dev/null || true; }
trap cleanup EXIT
echo "starting the fixture site ($N video pages; media made once in $WORK/site)" >&2
"$site_bin" "$WORK/site" "$N" --ca "$WORK/ca.pem" >"$WORK/site.out" 2>"$WORK/site.err" &
site_pid=$!
for _ in $(seq 1200); do
  grep -q '^ready' "$WORK/site.out" 2>/dev/null && break
  kill -0 "$site_pid" 2>/dev/null || { cat "$WORK/site.err" >&2; exit 1; }
  sleep 0.5
done
grep -q '^ready' "$WORK/site.out" || { echo "the fixture site did not start" >&2; exit 1; }
http_port=$(awk '$1 == "http" { n = split($2, a, ":"); print a[n] }' "$WORK/site.out")
https_base=$(awk '$1 == "https" { print $2 }' "$WORK/site.out")
: >"$WORK/urls.txt"
for ((k = 0; k < N; k++)); do
  echo "http://${hosts[k % ${#hosts[@]}]}:$http_port/video/$k" >>"$WORK/urls.txt"
done
: >"$WORK/https-urls.txt"
for ((k = 0; k < HTTPS_PAGES; k++)); do echo "$https_base/video/$k" >>"$WORK/https-urls.txt"; done
mapfile -t urls <"$WORK/urls.txt"
mapfile -t https_urls <"$WORK/https-urls.txt"

# Offline: whatever is not the corpus goes to a closed port and fails at once.
no_proxy_list="127.0.0.1,localhost,::1,$(IFS=,; echo "${hosts[*]}")"
export HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 ALL_PROXY=http://127.0.0.1:9
export http_proxy=$HTTP_PROXY https_proxy=$HTTPS_PROXY all_proxy=$ALL_PROXY
export NO_PROXY="$no_proxy_list" no_proxy="$no_proxy_list"
unset DISPLAY

# --- what was run, on what ---------------------------------------------------------------------
python3 - "$WORK/meta.json" <<EOF
import json, os, platform, subprocess, sys, datetime
def out(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip().splitlines()[0]
    except Exception as e:
        return f"? ({e})"
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
mem = next((l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemTotal")), "0")
json.dump({
    "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    "machine": f"{os.cpu_count()} cores, {cpu}, {int(mem) // 1024} MiB",
    "kernel": platform.release(),
    "urls": $N,
    "hosts": "${hosts[*]}",
    "runs": $RUNS,
    "commit": "${ATHAR_COMMIT:-}" or out("git", "-C", "$root", "describe", "--always", "--dirty"),
    "athar": out("$athar", "--version"),
    "chromium": out("chromium", "--version"),
    "chromedriver": out("chromedriver", "--version"),
    "yt-dlp (Athar)": out("$tools/bin/yt-dlp", "--version"),
    "yt-dlp (auto-archiver)": out("$VENV/bin/yt-dlp", "--version"),
    "auto-archiver": out("$VENV/bin/python", "-c", "import importlib.metadata as m; print(m.version('auto-archiver'), 'seleniumbase', m.version('seleniumbase'), 'selenium', m.version('selenium'))"),
}, open(sys.argv[1], "w"), indent=1)
EOF

# --- one side, one run ---------------------------------------------------------------------------
run_aa() { # DIR URL...
  local dir=$1; shift
  mkdir -p "$dir"
  cp "$here/orchestration.yaml" "$dir/orchestration.yaml"
  cat /proc/loadavg | cut -d' ' -f1 >"$dir/load.before"
  touch "$dir/start"
  (cd "$dir" && python3 "$here/procmem.py" mem.json -- \
    "$VENV/bin/auto-archiver" --config orchestration.yaml --cli_feeder.urls "$@" >log.txt 2>&1) || true
  echo "$(cat "$dir/load.before") → $(cut -d' ' -f1 /proc/loadavg)" >"$dir/load.txt"
  du -sb "$dir/local_archive" 2>/dev/null | cut -f1 >"$dir/bytes.txt" || true
}

run_athar() { # DIR URLFILE [athar capture options...]
  local dir=$1 list=$2; shift 2
  mkdir -p "$dir"
  "$athar" --archive "$dir/archive" init >/dev/null
  cat /proc/loadavg | cut -d' ' -f1 >"$dir/load.before"
  python3 "$here/procmem.py" "$dir/mem.json" -- \
    "$athar" --archive "$dir/archive" capture --case Bench --from "$list" --json "$@" \
    2>"$dir/err.txt" | python3 "$here/stamp.py" >"$dir/out.jsonl" || true
  echo "$(cat "$dir/load.before") → $(cut -d' ' -f1 /proc/loadavg)" >"$dir/load.txt"
  # Each capture's own start and end (not timed).
  python3 -c '
import json, sys
for raw in open(sys.argv[1]):
    line = json.loads(raw)["line"]
    if isinstance(line, dict) and line.get("capture"):
        print(line["capture"])
' "$dir/out.jsonl" | while read -r id; do
    "$athar" --archive "$dir/archive" sources show "$id" --json |
      python3 -c 'import json, sys; print(json.dumps(json.load(sys.stdin)["record"]))'
  done >"$dir/records.jsonl"
  # The responses each WACZ holds (their digests), for the report's cross-check.
  python3 "$here/wacz_digests.py" "$athar" "$dir/archive" "$dir/records.jsonl" "$dir/wacz.jsonl" || true
  du -sb "$dir/archive" | cut -f1 >"$dir/bytes.txt"
}

sides=(aa athar)
[ "$ATHAR_SERIAL" = 1 ] && sides+=(athar1)
for ((r = 1; r <= RUNS; r++)); do
  order=("${sides[@]}")
  if ((r % 2 == 0)); then
    order=(); for ((i = ${#sides[@]} - 1; i >= 0; i--)); do order+=("${sides[i]}"); done
  fi
  for side in "${order[@]}"; do
    echo "round $r: $side ($(date -u +%H:%M:%S), load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
    sync
    case $side in
      aa) run_aa "$WORK/runs/aa-$r" "${urls[@]}" ;;
      athar) run_athar "$WORK/runs/athar-$r" "$WORK/urls.txt" ;;
      athar1) run_athar "$WORK/runs/athar1-$r" "$WORK/urls.txt" --jobs 1 ;;
    esac
  done
done

if [ "$HTTPS_PAGES" -gt 0 ]; then
  echo "HTTPS pages ($HTTPS_PAGES): both sides once, not timed against each other" >&2
  run_athar "$WORK/https/athar" "$WORK/https-urls.txt" --ca "$WORK/ca.pem"
  run_aa "$WORK/https/aa" "${https_urls[@]}"
fi

python3 "$here/report.py" "$WORK" | tee "$WORK/report.md"

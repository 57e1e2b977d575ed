#!/usr/bin/env bash
# Fingerprint jobs run by `athar worker` processes over one archive on the scale-out
# backends (PostgreSQL catalog, blobs and log in Garage): 1 worker against 2, each pinned to
# a core of its own (taskset; the worker's hashing threads and its FFmpeg children follow
# the pin), on the same footage, side by side in one run. Prints each run's time and the
# speed-up of 2 workers over 1, median of RUNS rounds (alternating which goes first).
#
#   bench/workers.sh                        # RUNS=3 CLIPS=16 SECONDS_EACH=30
#   RUNS=1 CLIPS=8 bench/workers.sh
#
# Needs what `scripts/ensure-deps.sh test` installs (Garage, PostgreSQL, FFmpeg) and
# taskset (util-linux). The machine must have at least 2 cores.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUNS="${RUNS:-3}"; CLIPS="${CLIPS:-16}"; SECONDS_EACH="${SECONDS_EACH:-30}"
PG="${ATHAR_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/test}"
WORK="${WORK:-$root/bench/out/workers}"
(( $(nproc) >= 2 )) || { echo "needs 2 cores" >&2; exit 2; }
# shellcheck source=bench/garage.sh
source "$root/bench/garage.sh"
build_scale_out

rm -rf "$WORK"; mkdir -p "$WORK/clips"
sources=(testsrc testsrc2 smptebars rgbtestsrc yuvtestsrc mandelbrot "life=seed=7" cellauto)
for i in $(seq 0 $((CLIPS - 1))); do
  src="${sources[$((i % ${#sources[@]}))]}"
  case "$src" in *=*) graph="${src%%=*}=size=640x360:rate=30:${src#*=}" ;; *) graph="$src=size=640x360:rate=30" ;; esac
  ffmpeg -nostdin -loglevel error -y -f lavfi -i "$graph" -t "$SECONDS_EACH" \
    -vf "hue=H=$i*0.4*t,drawtext=text='clip $i':x=20+$i*7:y=40:fontsize=28:fontcolor=white" \
    -c:v libx264 -preset veryfast -pix_fmt yuv420p "$WORK/clips/c$i.mp4" 2>/dev/null ||
  ffmpeg -nostdin -loglevel error -y -f lavfi -i "$graph" -t "$SECONDS_EACH" \
    -vf "hue=H=$i*0.4*t" -c:v libx264 -preset veryfast -pix_fmt yuv420p "$WORK/clips/c$i.mp4"
done

trap 'stop_garage' EXIT
start_garage

run() { # $1 round, $2 workers: seconds until every job is done
  local arch="$WORK/archive-$1-$2" schema="bench_workers_$1_$2_$$"
  "$ATHAR" --archive "$arch" init --collector bench \
    --catalog "$PG?schema=$schema" --blobs "s3://$GARAGE_BUCKET/w$1-$2/blobs" \
    --log "s3://$GARAGE_BUCKET/w$1-$2/log" >/dev/null
  "$ATHAR" --archive "$arch" ingest "$WORK/clips" >/dev/null
  local t0 t1 pids=()
  t0=$(date +%s.%N)
  for w in $(seq 0 $(($2 - 1))); do
    taskset -c "$w" "$ATHAR" --archive "$arch" worker --until-idle --poll 0.2 \
      >"$WORK/worker-$1-$2-$w.log" 2>&1 &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || { echo "a worker failed: $(cat "$WORK"/worker-"$1"-"$2"-*.log)" >&2; exit 1; }; done
  t1=$(date +%s.%N)
  local counts; counts=$("$ATHAR" --archive "$arch" jobs --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["counts"])')
  case "$counts" in "{'done': "*"}") ;; *) echo "jobs not all done: $counts" >&2; exit 1 ;; esac
  psql "$PG" -qc "DROP SCHEMA $schema CASCADE" >/dev/null 2>&1 || true
  echo "$t1 - $t0" | bc
}

declare -A T
for r in $(seq "$RUNS"); do
  if (( r % 2 )); then T[1,$r]=$(run "$r" 1); T[2,$r]=$(run "$r" 2)
  else T[2,$r]=$(run "$r" 2); T[1,$r]=$(run "$r" 1); fi
  echo "round $r: 1 worker ${T[1,$r]} s, 2 workers ${T[2,$r]} s" >&2
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
one=(); two=()
for r in $(seq "$RUNS"); do one+=("${T[1,$r]}"); two+=("${T[2,$r]}"); done
m1=$(median "${one[@]}"); m2=$(median "${two[@]}")
printf '%s clips of %s s (640x360, 30 fps): 1 worker %.1f s, 2 workers %.1f s, speed-up %.2fx\n' \
  "$CLIPS" "$SECONDS_EACH" "$m1" "$m2" "$(echo "$m1 / $m2" | bc -l)"

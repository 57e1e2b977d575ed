#!/usr/bin/env bash
# Ingest into the scale-out backends (PostgreSQL catalog + blobs and custody log in Garage)
# beside `rclone copy` (Debian's rclone, 4 transfers, its default) of the same files to the
# same Garage, side by side in one run: one 1 GiB file and 10,000 files of 16 KiB (FILES,
# SMALL_KIB, BIG_MIB to change). Prints throughput and the ratio Athar / rclone, median of
# RUNS rounds (alternating which goes first). Athar also hashes, catalogues and logs each file.
#
#   bench/scale-out.sh                       # RUNS=3
#   RUNS=1 FILES=2000 BIG_MIB=256 bench/scale-out.sh
#
# Needs what `scripts/ensure-deps.sh test` installs (Garage in ~/.cache/athar/garage,
# PostgreSQL on 127.0.0.1:5432; ATHAR_TEST_POSTGRES to use another) and rclone.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUNS="${RUNS:-3}"; FILES="${FILES:-10000}"; SMALL_KIB="${SMALL_KIB:-16}"; BIG_MIB="${BIG_MIB:-1024}"
PG="${ATHAR_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/test}"
WORK="${WORK:-$root/bench/out/scale-out}"
command -v rclone >/dev/null || { echo "rclone missing: apt-get install rclone" >&2; exit 2; }
# shellcheck source=bench/garage.sh
source "$root/bench/garage.sh"
build_scale_out

rm -rf "$WORK"; mkdir -p "$WORK/small" "$WORK/big"
python3 - "$WORK" "$FILES" "$SMALL_KIB" "$BIG_MIB" <<'PY'
import os, random, sys
work, files, kib, mib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = random.Random(20261207)
for i in range(files):
    with open(f"{work}/small/f{i:05d}.bin", "wb") as f:
        f.write(rng.randbytes(kib * 1024))
with open(f"{work}/big/footage.bin", "wb") as f:
    for _ in range(mib):
        f.write(rng.randbytes(1 << 20))
PY

trap 'stop_garage' EXIT
start_garage
cat >"$WORK/rclone.conf" <<CONF
[g]
type = s3
provider = Other
env_auth = false
access_key_id = $AWS_ACCESS_KEY_ID
secret_access_key = $AWS_SECRET_ACCESS_KEY
endpoint = $AWS_ENDPOINT_URL
region = $AWS_REGION
CONF
# A CA bundle the environment may name (for HTTPS) is not wanted on loopback HTTP, and the
# AWS SDK inside rclone refuses it with its HTTP transport.
unset AWS_CA_BUNDLE

athar_run() { # $1 round, $2 what (small|big)
  local arch="$WORK/archive-$1-$2" schema="bench_$1_$2_$$"
  "$ATHAR" --archive "$arch" init --collector bench \
    --catalog "$PG?schema=$schema" --blobs "s3://$GARAGE_BUCKET/a$1$2/blobs" \
    --log "s3://$GARAGE_BUCKET/a$1$2/log" >/dev/null
  local t0 t1; t0=$(date +%s.%N)
  "$ATHAR" --archive "$arch" ingest --case bench "$WORK/$2" >/dev/null \
    || { echo "athar ingest failed" >&2; exit 1; }
  t1=$(date +%s.%N)
  psql "$PG" -qc "DROP SCHEMA $schema CASCADE" >/dev/null 2>&1 || true
  echo "$t1 - $t0" | bc
}
rclone_run() {
  local t0 t1; t0=$(date +%s.%N)
  rclone --config "$WORK/rclone.conf" copy --transfers 4 "$WORK/$2" "g:$GARAGE_BUCKET/r$1$2" >/dev/null \
    || { echo "rclone failed" >&2; exit 1; }
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc
}

declare -A T
for r in $(seq "$RUNS"); do
  for what in small big; do
    if (( r % 2 )); then
      T[athar,$what,$r]=$(athar_run "$r" "$what"); T[rclone,$what,$r]=$(rclone_run "$r" "$what")
    else
      T[rclone,$what,$r]=$(rclone_run "$r" "$what"); T[athar,$what,$r]=$(athar_run "$r" "$what")
    fi
    echo "round $r $what: athar ${T[athar,$what,$r]} s, rclone ${T[rclone,$what,$r]} s" >&2
  done
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
for what in small big; do
  a=(); c=()
  for r in $(seq "$RUNS"); do a+=("${T[athar,$what,$r]}"); c+=("${T[rclone,$what,$r]}"); done
  ma=$(median "${a[@]}"); mc=$(median "${c[@]}")
  if [ "$what" = small ]; then
    printf '%s files of %s KiB: athar %.2f s (%.0f files/s), rclone %.2f s (%.0f files/s), ratio %.2f\n' \
      "$FILES" "$SMALL_KIB" "$ma" "$(echo "$FILES / $ma" | bc -l)" "$mc" "$(echo "$FILES / $mc" | bc -l)" "$(echo "$mc / $ma" | bc -l)"
  else
    printf '1 file of %s MiB: athar %.2f s (%.0f MiB/s), rclone %.2f s (%.0f MiB/s), ratio %.2f\n' \
      "$BIG_MIB" "$ma" "$(echo "$BIG_MIB / $ma" | bc -l)" "$mc" "$(echo "$BIG_MIB / $mc" | bc -l)" "$(echo "$mc / $ma" | bc -l)"
  fi
done

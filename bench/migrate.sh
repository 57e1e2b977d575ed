#!/usr/bin/env bash
# `athar migrate` of an embedded archive into PostgreSQL + Garage: ITEMS files totalling
# about TOTAL_MIB (most of them 16 KiB statements, BIG of them large), ingested into an
# embedded archive, then moved. Prints the ingest and migration times and rates, and checks
# that the moved archive's checkpoint and a proof are byte-identical to the source's and
# that `athar verify` passes on both sides (the times of those checks are printed too).
#
#   bench/migrate.sh                                  # ITEMS=100000 TOTAL_MIB=10240 BIG=100
#   ITEMS=10000 TOTAL_MIB=1024 BIG=10 bench/migrate.sh
#
# Needs what `scripts/ensure-deps.sh test` installs (Garage, PostgreSQL) and about three
# times TOTAL_MIB of free disk (the files, the archive's blobs, Garage's copy).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ITEMS="${ITEMS:-100000}"; TOTAL_MIB="${TOTAL_MIB:-10240}"; BIG="${BIG:-100}"
PG="${ATHAR_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/test}"
WORK="${WORK:-$root/bench/out/migrate}"
# shellcheck source=bench/garage.sh
source "$root/bench/garage.sh"
build_scale_out

rm -rf "$WORK"; mkdir -p "$WORK/files"
python3 - "$WORK/files" "$ITEMS" "$TOTAL_MIB" "$BIG" <<'PY'
import os, random, sys
out, items, total_mib, big = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = random.Random(20261207)
small = items - big
small_bytes = small * 16 * 1024
big_each = max(1, (total_mib * 1024 * 1024 - small_bytes) // max(big, 1))
for d in range(100):
    os.makedirs(f"{out}/d{d:02d}", exist_ok=True)
for i in range(small):
    with open(f"{out}/d{i % 100:02d}/s{i:06d}.txt", "wb") as f:
        f.write(rng.randbytes(16 * 1024))
chunk = rng.randbytes(1 << 20)
for i in range(big):
    with open(f"{out}/d{i % 100:02d}/b{i:04d}.bin", "wb") as f:
        left = big_each
        f.write(i.to_bytes(8, "big"))  # each file distinct
        left -= 8
        while left > 0:
            n = min(left, len(chunk))
            f.write(chunk[:n]); left -= n
PY
bytes=$(du -sb "$WORK/files" | cut -f1)

schema="bench_migrate_$$"
trap 'stop_garage; psql "$PG" -qc "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true' EXIT
start_garage

now() { date +%s.%N; }
src="$WORK/embedded"; dst="$WORK/moved"
"$ATHAR" --archive "$src" init --collector bench >/dev/null
t0=$(now); "$ATHAR" --archive "$src" ingest --case bench "$WORK/files" >/dev/null; t1=$(now)
echo "ingest (embedded): $ITEMS files, $((bytes >> 20)) MiB in $(echo "$t1 - $t0" | bc) s" >&2
t0=$(now)
"$ATHAR" --archive "$src" migrate --to "$dst" --catalog "$PG?schema=$schema" \
  --blobs "s3://$GARAGE_BUCKET/m/blobs" --log "s3://$GARAGE_BUCKET/m/log" --json >"$WORK/migrated.json"
t1=$(now)
secs=$(echo "$t1 - $t0" | bc)
cat "$WORK/migrated.json" >&2
"$ATHAR" --archive "$src" list --json >"$WORK/list.jsonl"
item=$(head -1 "$WORK/list.jsonl" | python3 -c 'import json,sys; print(json.load(sys.stdin)["item"])')
same=no
if cmp -s <("$ATHAR" --archive "$src" log checkpoint) <("$ATHAR" --archive "$dst" log checkpoint) &&
   cmp -s <("$ATHAR" --archive "$src" log proof "$item") <("$ATHAR" --archive "$dst" log proof "$item"); then
  same=yes
fi
v0=$(now); "$ATHAR" --archive "$src" verify >/dev/null; v1=$(now)
"$ATHAR" --archive "$dst" verify >/dev/null; v2=$(now)
printf 'migrate: %s items, %s MiB in %.1f s (%.0f items/s, %.0f MiB/s); checkpoint and proof byte-identical: %s; verify %.1f s embedded, %.1f s on PostgreSQL + Garage\n' \
  "$ITEMS" "$((bytes >> 20))" "$secs" "$(echo "$ITEMS / $secs" | bc -l)" "$(echo "$bytes / 1048576 / $secs" | bc -l)" \
  "$same" "$(echo "$v1 - $v0" | bc)" "$(echo "$v2 - $v1" | bc)"
[ "$same" = yes ]

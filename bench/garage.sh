# Sourced by the scale-out benchmarks: `start_garage` starts the test Garage (built as the
# athar-s3 example `garage_server`) for the whole bench, its stdin a fifo held open, and
# loads its AWS_* and GARAGE_BUCKET variables; `stop_garage` ends it (for an EXIT trap).
# Needs WORK and CARGO_TARGET_DIR.
start_garage() {
  local fifo="$WORK/garage.stdin"
  mkfifo "$fifo"
  "$CARGO_TARGET_DIR/release/examples/garage_server" <"$fifo" >"$WORK/garage.env" &
  garage_pid=$!
  exec 9>"$fifo"
  for _ in $(seq 120); do grep -q '^# ready' "$WORK/garage.env" 2>/dev/null && break; sleep 1; done
  # shellcheck disable=SC1091
  source "$WORK/garage.env"
}
stop_garage() {
  exec 9>&-
  wait "$garage_pid" 2>/dev/null || true
}

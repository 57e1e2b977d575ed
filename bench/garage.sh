# Sourced by the scale-out benchmarks: `build_scale_out` installs what the tests install
# (Garage, PostgreSQL…), builds a release athar and the test Garage and sets ATHAR (needs
# root); `start_garage` starts the test Garage (built as the
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
build_scale_out() {
  bash "$root/scripts/ensure-deps.sh" test >/dev/null
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
  cargo build --quiet --release -p athar
  cargo build --quiet --release -p athar-s3 --features test-server --example garage_server
  ATHAR="$CARGO_TARGET_DIR/release/athar"
}

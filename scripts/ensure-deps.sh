#!/usr/bin/env bash
# Installs (with apt-get, on Debian) the system tools Athar and its tests use, when missing.
# Usage: scripts/ensure-deps.sh [run|test]
set -euo pipefail
what=${1:-test}

# command -> Debian package
declare -A need=(
  [sha256sum]=coreutils
  [mkfifo]=coreutils
  [setpriv]=util-linux
  [mount]=mount
  [openssl]=openssl
  [python3]=python3
  [ffmpeg]=ffmpeg
  [ffprobe]=ffmpeg
  [chromium]=chromium
  [node]=nodejs
  [npm]=npm
)
if [ "$what" = run ]; then
  # Captures drive Debian's headless Chromium; media goes through FFmpeg.
  need=([sha256sum]=coreutils [python3]=python3 [ffmpeg]=ffmpeg [ffprobe]=ffmpeg [chromium]=chromium)
fi

missing=()
for cmd in "${!need[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${need[$cmd]}")
done
# The catalog is built as SQLCipher (encrypted archives), which links OpenSSL's libcrypto.
[ -f /usr/include/openssl/crypto.h ] || missing+=(libssl-dev)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "Installing missing packages: ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if [ "$what" = test ] && ! python3 -c 'import bagit' >/dev/null 2>&1; then
  # bagit-python: the tool receiving archives use; the tests check exported bags with it.
  if ! python3 -m pip --version >/dev/null 2>&1; then
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-pip >/dev/null
  fi
  echo "Installing bagit-python (pip)" >&2
  python3 -m pip install --quiet bagit 2>/dev/null || python3 -m pip install --quiet --break-system-packages bagit
fi
# Athar's own tool environment (a Python venv, never touched at run time): yt-dlp for media
# in captures; for the tests also py-wacz (`wacz validate`) and pywb (replay). Versions
# pinned in scripts/tools-requirements*.txt.
tools="${ATHAR_TOOLS:-$HOME/.local/share/athar/tools}"
want_reqs=("$(dirname "$0")/tools-requirements.txt")
[ "$what" = test ] && want_reqs+=("$(dirname "$0")/tools-requirements-test.txt")
stamp="$tools/.installed"
want_sum=$(cat "${want_reqs[@]}" | sha256sum | cut -c1-64)
if [ ! -x "$tools/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want_sum" ]; then
  if ! python3 -m venv --help >/dev/null 2>&1; then
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-venv >/dev/null
  fi
  echo "Installing Athar's tools (yt-dlp…) into $tools" >&2
  mkdir -p "$tools"
  [ -x "$tools/bin/python" ] || python3 -m venv "$tools"
  req_args=()
  for r in "${want_reqs[@]}"; do req_args+=(-r "$r"); done
  "$tools/bin/python" -m pip install --quiet --disable-pip-version-check "${req_args[@]}"
  echo "$want_sum" > "$stamp"
fi
e2e_modules="$(dirname "$0")/../e2e/node_modules"
if [ "$what" = test ] && { [ ! -d "$e2e_modules/playwright-core" ] || [ ! -d "$e2e_modules/axe-core" ]; }; then
  # playwright-core (npm, the versions pinned in e2e/package-lock.json) drives chromium in
  # the browser end-to-end test, axe-core checks its pages' accessibility there; no browser
  # is downloaded (Debian's chromium is used).
  echo "Installing playwright-core and axe-core (npm ci in e2e/)" >&2
  (cd "$(dirname "$0")/../e2e" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --silent)
fi
# PostgreSQL for the PostgreSQL catalog's tests (crates/pg; ATHAR_TEST_POSTGRES, default
# postgres://postgres@127.0.0.1:5432/test): when nothing answers on 127.0.0.1:5432, Debian's
# postgresql is installed and a cluster started there, trusting local TCP connections (a
# test machine's database, never an archive's), with a database `test`.
if [ "$what" = test ] && ! (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  if ! command -v pg_lsclusters >/dev/null 2>&1; then
    echo "Installing PostgreSQL (for the PostgreSQL catalog's tests)" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
  fi
  pg_version=$(ls /usr/lib/postgresql | sort -V | tail -1)
  if ! pg_lsclusters -h | awk -v p=5432 '$3 == p { found = 1 } END { exit !found }'; then
    $sudo pg_createcluster -p 5432 "$pg_version" main >/dev/null
  fi
  read -r pg_version pg_cluster < <(pg_lsclusters -h | awk '$3 == 5432 { print $1, $2; exit }')
  hba="/etc/postgresql/$pg_version/$pg_cluster/pg_hba.conf"
  if ! $sudo grep -qE '^host[[:space:]]+all[[:space:]]+all[[:space:]]+127\.0\.0\.1/32[[:space:]]+trust' "$hba"; then
    # First match wins: the trust lines go before the packaged ones.
    $sudo sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
  fi
  echo "Starting PostgreSQL $pg_version/$pg_cluster on 127.0.0.1:5432" >&2
  $sudo pg_ctlcluster "$pg_version" "$pg_cluster" restart
  for _ in $(seq 30); do
    (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null && break
    sleep 1
  done
  if ! psql -h 127.0.0.1 -U postgres -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = 'test'" | grep -q 1; then
    psql -h 127.0.0.1 -U postgres -d postgres -qc 'CREATE DATABASE test'
  fi
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo not found: install the Rust toolchain (https://rustup.rs) first" >&2
  exit 2
fi
# Garage, the S3 server the athar-s3 tests start on loopback: built with cargo (about 15
# minutes on 2 cores) into a cache kept between runs, where the tests look for it
# (`athar_s3::garage`; $ATHAR_GARAGE overrides). Only the SQLite metadata engine.
garage_version=2.5.0
garage_root="$HOME/.cache/athar/garage"
garage_have=$("$garage_root/bin/garage" --version 2>/dev/null || true)
if [ "$what" = test ] && [[ "$garage_have" != *"cargo:$garage_version "* ]]; then
  echo "Installing Garage $garage_version (cargo install) into $garage_root" >&2
  cargo install --locked --quiet --root "$garage_root" "garage@$garage_version" \
    --no-default-features --features bundled-libs,sqlite
fi

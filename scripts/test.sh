#!/usr/bin/env bash
# The whole test suite. Installs what the tests need when missing.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/ensure-deps.sh" test
cd "$here"
cargo test --workspace --all-targets

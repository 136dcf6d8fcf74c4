#!/usr/bin/env bash
# Fleet benchmark: the desktop app watching 50 agents; writes the "## Fleet" section.
set -euo pipefail
cd "$(dirname "$0")/.."
(cd ui && npm run build >/dev/null)
cargo build --release -p headroom
cargo build --profile release-cli -p headroom-cli
cargo build --release -p headroom-tests --example fleet_bench
body=$(mktemp)
trap 'rm -f "$body"' EXIT
target/release/examples/fleet_bench > "$body"
python3 bench/section.py "## Fleet" < "$body"
cat "$body"

#!/usr/bin/env bash
# Dashboard benchmark: 24 h of history drawn in the real window, and the app's idle
# cost with the window shown and hidden. Writes the "## Dashboard" section.
set -euo pipefail
cd "$(dirname "$0")/.."
(cd ui && npm run build >/dev/null)
cargo build --release -p headroom
cargo build --release -p headroom-tests --example ui_bench
body=$(mktemp)
trap 'rm -f "$body"' EXIT
target/release/examples/ui_bench > "$body"
python3 bench/section.py "## Dashboard" < "$body"
cat "$body"

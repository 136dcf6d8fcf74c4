#!/usr/bin/env bash
# History benchmark: the cost of recording one tick in the SQLite history (30 metrics),
# and the time to load 24 h of 1-second samples of 8 series, on a file on this disk.
# Writes the "## History" section of BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release -p headroom-engine --example history_bench >/dev/null 2>&1 \
  || cargo build --release -p headroom-engine --example history_bench
# Beside the build, not in /tmp: /tmp may be a tmpfs, the history never is.
mkdir -p target/tmp
work=$(mktemp -d target/tmp/history-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
target/release/examples/history_bench "$work" > "$work/body.md"
python3 bench/section.py "## History" < "$work/body.md"
cat "$work/body.md"

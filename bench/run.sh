#!/usr/bin/env bash
# make bench: every benchmark in one run; each writes its own section of BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 bench/host_cost.py
echo "==> bench/agent.py"
python3 bench/agent.py
for b in bench/classify.sh bench/queue_count.sh bench/probe.sh bench/history.sh bench/ui.sh bench/fleet.sh bench/leadtime.sh bench/package.sh; do
  if [ -x "$b" ]; then
    echo "==> $b"
    "$b"
  fi
done
echo "BENCHMARKS.md updated."

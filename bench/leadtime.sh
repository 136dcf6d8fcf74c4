#!/usr/bin/env bash
# Early warning: lead time of Headroom's alerts over the first real failure, and false
# alerts in a steady run, side by side with the static thresholds other tools ship,
# on the same recorded series. Runs the scenario tests (private Postfix instances on
# loopback; root for the tmpfs queues), replays what they recorded, and writes the
# "## Early warning" section of BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
out="$PWD/bench/out/leadtime"
rm -rf "$out"
mkdir -p "$out"
cargo build -q -p headroom-cli
cargo build -q -p headroom-tests --tests --examples
# One at a time: each scenario times its own ramp and should not share the CPU with another.
for t in scenario_connections scenario_queue_disk scenario_deferred scenario_probe_421 scenario_steady scenario_surge; do
  echo "==> $t"
  if ! HEADROOM_LEADTIME_DIR="$out" cargo test -q -p headroom-tests --test "$t" -- --nocapture; then
    echo "leadtime: $t failed; its record (if any) is still reported" >&2
  fi
done
cargo run -q -p headroom-tests --example leadtime_replay -- "$out"
python3 bench/leadtime.py "$out" > "$out/section.md"
python3 bench/section.py "## Early warning" < "$out/section.md"
cat "$out/section.md"

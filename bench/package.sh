#!/usr/bin/env bash
# The packages' sizes and the installed app's start time, written as the "## Packages"
# section of BENCHMARKS.md. Builds them (scripts/package.sh) and runs their install test
# (tests/package/test.sh: a fresh Debian 12 root, root only), which starts the installed
# headroom on an Xvfb display and times exec → a painted window.
#   bench/package.sh          build, test, write the section
#   bench/package.sh LOG      write it from a saved output of tests/package/test.sh run
#                             on the packages now in target/packages/
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -ge 1 ]; then
  log=$1
else
  scripts/package.sh
  log=$(mktemp)
  trap 'rm -f "$log"' EXIT
  tests/package/test.sh | tee "$log"
fi
painted=$(grep -oE 'painted window .* after [0-9]+ ms' "$log")
start_ms=$(echo "$painted" | grep -oE '[0-9]+ ms$' | cut -d' ' -f1)
row() {
  local deb=$1
  echo "| \`$(basename "$deb")\` | $(( $(stat -c %s "$deb") / 1024 )) KiB | $(dpkg-deb -f "$deb" Installed-Size) KiB |"
}
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
python3 bench/section.py "## Packages" <<MD
Measured by \`bench/package.sh\` on $(date -u +%Y-%m-%d), $(nproc) cores ($cpu): \`make package\`, then \`tests/package/test.sh\` (what \`make test-package\` runs).

| package | .deb | installed |
|---|---:|---:|
$(row target/packages/headroom_*.deb)
$(row target/packages/headroom-cli_*.deb)

**Start to a painted window: $start_ms ms.** The installed \`/usr/bin/headroom\` is started in the fresh Debian 12 root the test made (\`dbus-run-session -- headroom\`, default configuration, no mail server there) on an Xvfb display; the time runs from the exec to the first screen frame in which the window named Headroom holds at least 24 distinct colours (an unpainted WebKit view is one flat colour; the dashboard's text and bars are many), read from Xvfb's frame buffer every 50 ms. One start, the first in that root${BENCH_NOTE:+; $BENCH_NOTE}.
MD
echo "==> wrote the Packages section of BENCHMARKS.md"

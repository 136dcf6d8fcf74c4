#!/usr/bin/env bash
# The workspace's version (headroom-cli's, which the app shares): the packages' version,
# for scripts/package.sh and tests/package/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo metadata --no-deps --format-version 1 |
  python3 -c 'import json, sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "headroom-cli"))'

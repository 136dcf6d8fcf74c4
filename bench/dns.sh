#!/usr/bin/env bash
# Domain-health benchmark, written as the "## Domain health" section of BENCHMARKS.md.
#
#   bench/dns.sh
#
# 1. DNS query volume at the default settings: one `headroom-cli dns` round (a fresh
#    process, so nothing is cached: every TTL counts as expired, the upper bound) for a
#    host with one IPv4 and one IPv6 outbound address, one sending domain whose SPF
#    has two includes, and the default DNSBL zones — counted by Headroom and by the
#    DNS server itself — then scaled to a day at interval_mins = 15. The Spamhaus
#    share is measured apart (a round with only zen.spamhaus.org minus a round with
#    no zone), against its free-use limit of 300,000 queries a day.
# 2. Check latency against a local resolver: RUNS rounds, each a fresh process; the
#    time of the checks inside the process and the wall time of the process.
# 3. One round against a resolver that never answers (a UDP port nobody reads): what
#    a dead resolver costs a round when every look-up times out.
#
# The zones (including copies of the default DNSBL zones holding only their RFC 5782
# test entry) are served by NSD on 127.0.0.1, a port of its own; nothing leaves the
# machine. Needs: nsd (scripts/deps.sh test installs it).
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${DNS_BENCH_RUNS:-50}
CLI=${HEADROOM_CLI:-target/release-cli/headroom-cli}

die() { echo "bench/dns.sh: $*" >&2; exit 1; }
command -v nsd >/dev/null || [ -x /usr/sbin/nsd ] || die "nsd is missing (scripts/deps.sh test)"
command -v python3 >/dev/null || die "python3 is missing"
if [ ! -x "$CLI" ]; then
  cargo build --profile release-cli -p headroom-cli
fi

work=$(mktemp -d /tmp/hr-bench-dns.XXXXXX)
nsd_pid=""
silent_pid=""
cleanup() {
  for pid in "$nsd_pid" "$silent_pid"; do
    if [ -n "$pid" ]; then
      kill -TERM "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  local p
  for p in $(shuf -i 20000-60000 -n 100); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  die "no free loopback port"
}
PORT=$(free_port)

zone() { # zone NAME RECORDS
  printf '$ORIGIN %s.\n$TTL 300\n@ IN SOA ns.%s. hostmaster.%s. 1 3600 600 86400 60\n@ IN NS ns.%s.\n%s\n' \
    "$1" "$1" "$1" "$1" "$2" > "$work/$1.zone"
  printf 'zone:\n    name: "%s"\n    zonefile: "%s.zone"\n' "$1" "$1" >> "$work/nsd.conf"
}

cat > "$work/nsd.conf" <<EOF
server:
    ip-address: 127.0.0.1@$PORT
    port: $PORT
    do-ip6: no
    username: ""
    chroot: ""
    zonesdir: "$work"
    database: ""
    zonelistfile: "$work/zone.list"
    xfrdfile: "$work/xfrd.state"
    xfrdir: "$work"
    pidfile: "$work/nsd.pid"
    logfile: "$work/nsd.log"
    server-count: 1
    verbosity: 1
remote-control:
    control-enable: yes
    control-interface: "$work/nsd.sock"
EOF
zone headroom.test '
ns            A    127.0.0.1
good          MX   10 mx.good
mx.good       A    192.0.2.25
mx.good       AAAA 2001:db8::25
good          TXT  "v=spf1 mx include:_spf1.good.headroom.test include:_spf2.good.headroom.test -all"
_spf1.good    TXT  "v=spf1 ip4:192.0.2.0/25 -all"
_spf2.good    TXT  "v=spf1 ip6:2001:db8::/64 -all"
_dmarc.good   TXT  "v=DMARC1; p=quarantine; rua=mailto:dmarc@good.headroom.test"
mail          A    192.0.2.10
mail          AAAA 2001:db8::10'
zone 2.0.192.in-addr.arpa '10 PTR mail.headroom.test.'
zone 8.b.d.0.1.0.0.2.ip6.arpa "0.1.0.0$(printf '.0%.0s' $(seq 20)) PTR mail.headroom.test."
for z in zen.spamhaus.org bl.spamcop.net psbl.surriel.com; do
  zone "$z" '2.0.0.127 A 127.0.0.2'
done

nsd -d -c "$work/nsd.conf" >/dev/null 2>&1 &
nsd_pid=$!
for _ in $(seq 50); do
  grep -q "nsd started" "$work/nsd.log" 2>/dev/null && break
  sleep 0.1
done
grep -q "nsd started" "$work/nsd.log" || { cat "$work/nsd.log" >&2; die "nsd did not start"; }
served() { nsd-control -c "$work/nsd.conf" stats_noreset | sed -n 's/^num.queries=//p'; }

config() { # config FILE DNSBL-LINE
  cat > "$1" <<EOF
[mta]
kind = "none"
[dns]
resolver = "127.0.0.1:$PORT"
outbound = ["192.0.2.10", "2001:db8::10"]
helo = "mail.headroom.test"
domains = ["good.headroom.test"]
$2
EOF
}
config "$work/default.toml" ""
config "$work/zen.toml" 'dnsbl = ["zen.spamhaus.org"]'
config "$work/none.toml" 'dnsbl = []'

# round FILE: prints "queries-counted-by-headroom queries-answered-by-nsd elapsed-ms status"
round() {
  local before after
  before=$(served)
  "$CLI" dns --json --config "$1" > "$work/out.json" || true
  after=$(served)
  python3 - "$work/out.json" "$before" "$after" <<'EOF'
import json, sys
v = json.load(open(sys.argv[1]))
print(v["queries"], int(sys.argv[3]) - int(sys.argv[2]), v["elapsed_ms"], v["status"])
EOF
}

read -r q_default nsd_default _ status_default < <(round "$work/default.toml")
[ "$status_default" = ok ] || { cat "$work/out.json" >&2; die "the benchmark world is not healthy: $status_default"; }
read -r q_zen _ _ _ < <(round "$work/zen.toml")
read -r q_none _ _ _ < <(round "$work/none.toml")
zen=$((q_zen - q_none))
per_day=$((q_default * 24 * 60 / 15))
zen_day=$((zen * 24 * 60 / 15))

: > "$work/lat.tsv"
for _ in $(seq "$RUNS"); do
  start=$(date +%s%N)
  "$CLI" dns --json --config "$work/default.toml" > "$work/out.json" || true
  end=$(date +%s%N)
  ms=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["elapsed_ms"])' "$work/out.json")
  echo "$ms $(( (end - start) / 1000 ))" >> "$work/lat.tsv"
done
read -r in_med in_p90 wall_med wall_p90 < <(python3 - "$work/lat.tsv" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
inside = sorted(float(r[0]) for r in rows)
wall = sorted(int(r[1]) / 1000 for r in rows)
p90 = lambda v: v[min(len(v) - 1, int(round(0.9 * (len(v) - 1))))]
print(f"{statistics.median(inside):.1f} {p90(inside):.1f} {statistics.median(wall):.1f} {p90(wall):.1f}")
EOF
)

# A resolver that never answers: a UDP socket nobody reads, held for at most 5 min.
SILENT_PORT=$(free_port)
python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
time.sleep(300)' "$SILENT_PORT" &
silent_pid=$!
sed "s/^resolver = .*/resolver = \"127.0.0.1:$SILENT_PORT\"/" "$work/default.toml" > "$work/silent.toml"
"$CLI" dns --json --config "$work/silent.toml" > "$work/out.json" || true
silent_ms=$(python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["elapsed_ms"]))' "$work/out.json")
kill -TERM "$silent_pid" 2>/dev/null || true
wait "$silent_pid" 2>/dev/null || true
silent_pid=""

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
python3 bench/section.py "## Domain health" <<EOF
Measured by \`bench/dns.sh\` on $(date -u +%Y-%m-%d), $(nproc) cores ($cpu), NSD $(nsd -v 2>&1 | head -1 | grep -o '[0-9.]*$') on 127.0.0.1 as the resolver, release build of headroom-cli. The host has one IPv4 and one IPv6 outbound address, one sending domain (one MX host, SPF with two includes, DMARC, no MTA-STS) and the default DNSBL zones (zen.spamhaus.org, bl.spamcop.net, psbl.surriel.com, served locally with their RFC 5782 test entries).

| figure | value |
|---|---:|
| DNS queries per round, counted by Headroom | $q_default |
| the same round, counted by the DNS server | $nsd_default |
| queries per day at interval_mins = 15 (96 rounds), upper bound | $per_day |
| of which to zen.spamhaus.org | $zen_day |
| Spamhaus' free-use limit per day | 300000 |
| check latency, median / p90 (inside the process) | $in_med / $in_p90 ms |
| check latency, median / p90 (process wall time) | $wall_med / $wall_p90 ms |
| one round against a resolver that never answers | $silent_ms ms |

The per-day figures assume every answer has expired between rounds (each round a fresh process here); the monitor keeps answers for their TTL, so it sends fewer. The Spamhaus share is one query per outbound address plus the zone's test entry per round: $zen_day a day, $(python3 -c "print(f'{$zen_day/300000*100:.2f}')") % of the free-use limit. Latency is over $RUNS rounds against a resolver on the same host; a real recursive resolver adds its own round trips on a cold cache. Against a resolver that never answers every look-up times out (2 s a try) and the look-ups of a round run side by side, so the round takes as long as its longest chain of look-ups (a domain's MX, then its MTA-STS record); \`check\` waits at most 5 s for a round it was not asked for.
EOF
echo "==> wrote the Domain health section of BENCHMARKS.md"

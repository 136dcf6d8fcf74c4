#!/usr/bin/env bash
# SMTP probe benchmarks, written as the "## SMTP probes" section of BENCHMARKS.md.
#
#   bench/probe.sh [BENCHMARKS.md]
#
# 1. Per-phase timings: `headroom-cli probe --json` beside `swaks --show-time-lapse`
#    on the same private Postfix instances (loopback as is, and one whose EHLO and
#    MAIL FROM are slowed by Postfix's own `sleep 1` restriction, so the phase
#    attribution is visible), medians over PHASE_RUNS runs of each tool.
# 2. N sequential probes (default 1,000) against one local Postfix: headroom-cli vs
#    swaks vs check_smtp (monitoring-plugins), each a fresh process per probe the way
#    a Nagios-style scheduler runs them, in one run, with the ratios.
#
# Root only (private Postfix instances, DESIGN.md "Testing"); everything on 127.0.0.1.
# Needs: postfix, swaks, monitoring-plugins-basic (scripts/deps.sh bench installs them).
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${1:-BENCHMARKS.md}
N=${PROBE_BENCH_N:-1000}
PHASE_RUNS=${PROBE_BENCH_PHASE_RUNS:-20}
CLI=${HEADROOM_CLI:-target/release-cli/headroom-cli}
CHECK_SMTP=${CHECK_SMTP:-/usr/lib/nagios/plugins/check_smtp}

die() { echo "bench/probe.sh: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root for private Postfix instances"
command -v postfix >/dev/null || die "postfix is missing (scripts/deps.sh bench)"
command -v swaks >/dev/null || die "swaks is missing (apt-get install swaks)"
[ -x "$CHECK_SMTP" ] || die "check_smtp is missing (apt-get install monitoring-plugins-basic)"
if [ ! -x "$CLI" ]; then
  cargo build --profile release-cli -p headroom-cli
fi

work=$(mktemp -d /tmp/hr-bench-probe.XXXXXX)
chmod 755 "$work" # the postfix user must reach data_directory
instances=()
cleanup() {
  for d in "${instances[@]}"; do postfix -c "$d/etc" stop >/dev/null 2>&1 || true; done
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

# pf_start DIR PORT [name=value ...]: a private instance as in DESIGN.md.
pf_start() {
  local dir=$1 port=$2; shift 2
  local name; name="hrb$(basename "$dir" | tr -cd 'a-zA-Z0-9')"
  mkdir -p "$dir/etc" "$dir/queue" "$dir/data"
  chown postfix "$dir/data"
  cp /etc/postfix/main.cf /etc/postfix/master.cf "$dir/etc/"
  postconf -c "$dir/etc" -e \
    "queue_directory=$dir/queue" "data_directory=$dir/data" \
    inet_interfaces=127.0.0.1 inet_protocols=ipv4 mydestination= \
    "multi_instance_name=$name" "syslog_name=postfix-$name" \
    "maillog_file=$dir/maillog" "maillog_file_prefixes=$dir" \
    "relayhost=[127.0.0.1]:9" default_transport=smtp relay_transport=smtp "$@"
  postconf -c "$dir/etc" -M# smtp/inet
  echo "127.0.0.1:$port inet n - n - 100 smtpd" >> "$dir/etc/master.cf"
  instances+=("$dir")
  postfix -c "$dir/etc" start >/dev/null 2>&1 || { tail -20 "$dir/maillog" >&2; die "postfix start failed"; }
  local i
  for i in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.2
  done
  die "smtpd did not listen on $port"
}

FAST_PORT=$(free_port)
pf_start "$work/fast" "$FAST_PORT"
SLOW_PORT=$(free_port)
# `sleep 1` in the HELO and sender restrictions (evaluated at the command itself with
# smtpd_delay_reject=no): EHLO and MAIL FROM each answer one second late.
pf_start "$work/slow" "$SLOW_PORT" smtpd_delay_reject=no \
  "smtpd_helo_restrictions=sleep 1" "smtpd_sender_restrictions=sleep 1"

# All three send the same sender, so the server does the same work for each.
headroom_probe() {
  "$CLI" probe 127.0.0.1 --port "$1" --helo bench.example --from probe@example.org \
    --timeout 10 "${@:2}"
}
swaks_probe() {
  swaks --server "127.0.0.1:$1" --helo bench.example --from probe@example.org \
    --quit-after MAIL "${@:2}"
}
check_smtp_probe() { "$CHECK_SMTP" -H 127.0.0.1 -p "$1" -f probe@example.org -t 10; }

# Warm up: the first sessions start smtpd processes.
for _ in 1 2 3; do headroom_probe "$FAST_PORT" >/dev/null || true; done

median() { sort -g | awk '{v[NR]=$1} END {if (NR==0) {print "nan"} else if (NR%2) {print v[(NR+1)/2]} else {print (v[NR/2]+v[NR/2+1])/2}}'; }

# phases PORT LABEL RUNS: appends a markdown table of medians to $work/phases.md
phases() {
  local port=$1 label=$2 runs=$3 i
  : > "$work/h.tsv"; : > "$work/s.tsv"
  for i in $(seq "$runs"); do
    headroom_probe "$port" --json > "$work/h.json" || true
    for ph in connect banner ehlo mail rset quit; do
      v=$(grep -o "\"$ph\":[0-9.]*" "$work/h.json" | head -1 | cut -d: -f2)
      [ -n "$v" ] && printf '%s\t%s\n' "$ph" "$v" >> "$work/h.tsv"
    done
    # swaks prints "=== response in X.XXXs" before each reply: banner, EHLO, MAIL, QUIT.
    swaks_probe "$port" --show-time-lapse > "$work/s.txt" 2>&1 || true
    grep -o 'response in [0-9.]*s' "$work/s.txt" | grep -o '[0-9.]*' \
      | awk 'BEGIN{split("banner ehlo mail quit",n," ")} {printf "%s\t%.3f\n", n[NR], $1*1000}' \
      >> "$work/s.tsv"
  done
  {
    echo
    echo "$label (medians of $runs runs each; swaks prints milliseconds, Headroom microseconds):"
    echo
    echo "| phase | headroom-cli ms | swaks ms | difference ms |"
    echo "|---|---:|---:|---:|"
    for ph in connect banner ehlo mail rset quit; do
      h=$(awk -v p="$ph" '$1==p {print $2}' "$work/h.tsv" | median)
      s=$(awk -v p="$ph" '$1==p {print $2}' "$work/s.tsv" | median)
      if [ "$s" = nan ]; then
        printf '| %s | %.3f | – | – |\n' "$ph" "$h"
      else
        printf '| %s | %.3f | %.3f | %+.3f |\n' "$ph" "$h" "$s" "$(awk -v a="$h" -v b="$s" 'BEGIN{print a-b}')"
      fi
    done
  } >> "$work/phases.md"
}

echo "==> per-phase timings ($PHASE_RUNS runs per tool and target)"
: > "$work/phases.md"
phases "$FAST_PORT" "Loopback Postfix, nothing slowed" "$PHASE_RUNS"
phases "$SLOW_PORT" "Loopback Postfix with \`sleep 1\` at HELO and MAIL FROM" "$(( PHASE_RUNS / 4 > 5 ? PHASE_RUNS / 4 : 5 ))"

# N rounds; each round runs every tool once, in turn, so background load on a shared
# machine falls on all three alike. $EPOCHREALTIME needs no fork to read the clock.
echo "==> $N sequential probes per tool, interleaved"
: > "$work/seq.tsv"
declare -A ok=([headroom]=0 [check_smtp]=0 [swaks]=0)
for i in $(seq "$N"); do
  for tool in headroom check_smtp swaks; do
    t0=${EPOCHREALTIME/./}
    if "${tool}_probe" "$FAST_PORT" >/dev/null 2>&1; then ok[$tool]=$(( ${ok[$tool]} + 1 )); fi
    t1=${EPOCHREALTIME/./}
    printf '%s\t%s\n' "$tool" "$(( t1 - t0 ))" >> "$work/seq.tsv"
  done
done

# stats TOOL: "total_s mean_ms median_ms p95_ms"
stats() {
  awk -v t="$1" '$1==t {print $2}' "$work/seq.tsv" | sort -n | awk '
    {v[NR]=$1; s+=$1}
    END {
      m = (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2
      p = v[int(NR*0.95 + 0.999999)]
      printf "%.3f %.3f %.3f %.3f\n", s/1e6, s/NR/1e3, m/1e3, p/1e3
    }'
}
read -r h_s h_mean h_med h_p95 < <(stats headroom)
for tool in headroom check_smtp swaks; do
  echo "    $tool: $(stats "$tool") (total s, mean, median, p95 ms; ${ok[$tool]} ok)"
done

row() { # label tool
  local s mean med p95
  read -r s mean med p95 < <(stats "$2")
  awk -v n="$1" -v s="$s" -v mean="$mean" -v med="$med" -v p95="$p95" -v ok="${ok[$2]}" \
    -v N="$N" -v h="$h_s" \
    'BEGIN{printf "| %s | %.2f | %.2f | %.2f | %.2f | %d/%d | %.2f× |\n", n, s, mean, med, p95, ok, N, s/h}'
}

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
section="$work/section.md"
{
  echo "## SMTP probes"
  echo
  echo "Measured by \`bench/probe.sh\` on $(date -u +%Y-%m-%d), $(nproc) cores ($cpu), Postfix $(postconf -dh mail_version), swaks $(swaks --version 2>/dev/null | grep -o '[0-9]\{8\}' | head -1), $("$CHECK_SMTP" -V 2>/dev/null | head -1 | grep -o 'v[0-9.]*' | head -1 || echo '') check_smtp. Every server is a private Postfix instance on 127.0.0.1; release build of headroom-cli."
  echo
  echo "### Per-phase timings beside swaks --show-time-lapse"
  echo
  echo "Headroom's dialogue is banner, EHLO, MAIL FROM, RSET, QUIT; swaks' is banner, EHLO, MAIL FROM, QUIT (no RSET), both with the same HELO name and sender, so the rows without a swaks figure have no swaks counterpart. swaks reports each reply's wait in whole milliseconds, so differences below 1 ms are its resolution."
  cat "$work/phases.md"
  echo
  echo "### $N sequential probes against one local Postfix"
  echo
  echo "Each probe is a fresh process (how Nagios-style schedulers run them): headroom-cli \`probe --from\` (banner, EHLO, MAIL FROM, RSET, QUIT), check_smtp \`-f\` (banner, EHLO, MAIL FROM, QUIT), swaks \`--quit-after MAIL\`. The tools take turns probe by probe, so load from anything else on the machine falls on all three alike. Times are wall time per process, start to exit; the ratio is total time against headroom-cli."
  echo
  echo "| tool | total s | mean ms | median ms | p95 ms | succeeded | ratio |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  row "headroom-cli probe" headroom
  row "check_smtp" check_smtp
  row "swaks" swaks
  echo
} > "$section"

# Replace our section (up to the next "## ") or append it; other sections stay.
if [ -f "$OUT" ]; then
  awk -v f="$section" '
    BEGIN { while ((getline l < f) > 0) s = s l "\n" }
    /^## SMTP probes[[:space:]]*$/ { skip = 1; if (!done) { printf "%s", s; done = 1 }; next }
    skip && /^## / { skip = 0 }
    !skip { print }
    END { if (!done) { printf "\n%s", s } }
  ' "$OUT" > "$work/out.md"
  cp "$work/out.md" "$OUT"
else
  { echo "# Benchmarks"; echo; cat "$section"; } > "$OUT"
fi
echo "==> wrote the SMTP probes section of $OUT"
cat "$section"

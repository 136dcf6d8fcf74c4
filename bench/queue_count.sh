#!/usr/bin/env bash
# Queue counting benchmark (make bench): a private Postfix instance with a deferred
# queue of N messages (default 100,000), counted in one run by Headroom's per-tick
# directory count and by the tools admins use today; then the monitor runs with
# Headroom's background `postqueue -j` listing to show that the listing never delays a
# tick. Writes the "## Queue counting" section of BENCHMARKS.md. Root only.
#
#   bench/queue_count.sh            N=100000 REPEAT=5 bench/queue_count.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-100000}
REPEAT=${REPEAT:-5}
DIR=${DIR:-/tmp/headroom-bench-queue}
PORT=${PORT:-2599}
EXPORTER_PORT=${EXPORTER_PORT:-9754}
[ "$(id -u)" = 0 ] || { echo "queue_count.sh needs root (private Postfix instance)" >&2; exit 1; }
command -v prometheus-postfix-exporter >/dev/null || apt-get install -y -q prometheus-postfix-exporter >/dev/null

cargo build --release -q -p headroom-engine --example mta_bench
BENCH=target/release/examples/mta_bench
ETC=$DIR/etc; Q=$DIR/queue
cleanup() {
  [ -n "${EXP_PID:-}" ] && kill "$EXP_PID" 2>/dev/null || true
  bench/postfix_instance.sh stop "$DIR"
}
trap cleanup EXIT

bench/postfix_instance.sh stop "$DIR"; rm -rf "$DIR"
bench/postfix_instance.sh start "$DIR" "$PORT"
printf 'Subject: headroom queue benchmark\n\nbody\n' | sendmail -C "$ETC" -f bench@headroom.test rcpt@bench.example
for _ in $(seq 100); do
  [ "$(find "$Q/deferred" -type f | wc -l)" = 1 ] && [ "$(find "$Q/active" "$Q/incoming" -type f | wc -l)" = 0 ] && break
  sleep 0.2
done
postfix -c "$ETC" stop >/dev/null; sleep 1
gen_start=$(date +%s.%N)
python3 bench/make_queue.py "$Q" $((N - 1))
gen_s=$(echo "$(date +%s.%N) - $gen_start" | bc)
# `postfix start` right after a stop can fail its integrity check: retry briefly.
for i in $(seq 10); do postfix -c "$ETC" start >/dev/null 2>&1 && break; sleep 1; done
postfix -c "$ETC" status >/dev/null 2>&1 || { tail -5 "$DIR/maillog" >&2; exit 1; }
sleep 2

# Median wall time in ms of a command run REPEAT times (output discarded, last kept).
median_ms() {
  local out=$1; shift
  local times=()
  for _ in $(seq "$REPEAT"); do
    local s e
    s=$(date +%s%N); "$@" > "$out" 2>/dev/null || true; e=$(date +%s%N)
    times+=($(( (e - s) / 1000 )))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]/1000}'
}
qdirs="$Q/maildrop $Q/incoming $Q/active $Q/deferred $Q/hold"

headroom_ms=$($BENCH count "$Q" "$REPEAT" | python3 -c 'import json,sys; v=sorted(json.loads(l)["ms"] for l in sys.stdin); print("%.1f" % v[len(v)//2])')
headroom_n=$($BENCH count "$Q" 1 | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["total"])')
find_ms=$(median_ms /tmp/hr-find.out bash -c "find $qdirs -type f | wc -l")
find_n=$(cat /tmp/hr-find.out)
postqueue_p_ms=$(median_ms /tmp/hr-pq-p.out bash -c "postqueue -c $ETC -p | tail -1")
postqueue_p_n=$(cat /tmp/hr-pq-p.out)
postqueue_j_ms=$(median_ms /tmp/hr-pq-j.out bash -c "postqueue -c $ETC -j | wc -l")
postqueue_j_n=$(cat /tmp/hr-pq-j.out)
qshape_ms=$(median_ms /tmp/hr-qshape.out qshape -c "$ETC" deferred)
qshape_n=$(awk '/TOTAL/ {print $2; exit}' /tmp/hr-qshape.out)

prometheus-postfix-exporter --web.listen-address=127.0.0.1:$EXPORTER_PORT \
  --postfix.showq_path="$Q/public/showq" --postfix.logfile_path=/dev/null >/tmp/hr-exporter.log 2>&1 &
EXP_PID=$!
for _ in $(seq 50); do curl -sf -o /dev/null "http://127.0.0.1:$EXPORTER_PORT/" && break; sleep 0.1; done
exporter_ms=$(median_ms /tmp/hr-exporter.out curl -sf "http://127.0.0.1:$EXPORTER_PORT/metrics")
exporter_n=$(awk '/^postfix_showq_message_size_bytes_count\{queue="deferred"\}/ {print $2}' /tmp/hr-exporter.out)
kill "$EXP_PID" 2>/dev/null || true; EXP_PID=

# Ticks every second for 30 s while the background listing runs.
$BENCH ticks "$ETC" 30 1 > /tmp/hr-ticks.jsonl

python3 - "$N" "$REPEAT" "$gen_s" <<PY
import json, statistics, sys, re, platform, os, subprocess
n, repeat, gen_s = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
rows = [
  ("Headroom per-tick count (readdir of the queue directories)", float("$headroom_ms"), "$headroom_n"),
  ("\`find <queue dirs> -type f | wc -l\`", float("$find_ms"), "$find_n"),
  ("\`postqueue -p | tail -1\`", float("$postqueue_p_ms"), "$postqueue_p_n".strip()),
  ("\`postqueue -j | wc -l\`", float("$postqueue_j_ms"), "$postqueue_j_n"),
  ("\`qshape deferred\`", float("$qshape_ms"), "$qshape_n"),
  ("prometheus-postfix-exporter scrape (showq)", float("$exporter_ms"), "$exporter_n"),
]
h = rows[0][1]
ticks = [json.loads(l) for l in open("/tmp/hr-ticks.jsonl")]
sp = [t for t in ticks if t["spacing_ms"] is not None]
during = [t for t in sp if t["listing_running"]]
outside = [t for t in sp if not t["listing_running"]]
def dev(ts): return max((abs(t["spacing_ms"] - 1000) for t in ts), default=float("nan"))
reads = [t["mta_read_ms"] for t in ticks]
aged = [t for t in ticks if t["oldest_age_s"] is not None]
ver = subprocess.run(["postconf", "-h", "mail_version"], capture_output=True, text=True).stdout.strip()
lines = [
 "## Queue counting", "",
 f"Generated by \`bench/queue_count.sh\` (root; private Postfix {ver} instance, deferred queue of {n:,} messages",
 f"cloned from one real deferred message in {gen_s:.1f} s by \`bench/make_queue.py\`; {os.cpu_count()} cores, warm page cache).",
 f"Each figure is the median wall time of {repeat} runs, all in the same run of the script.", "",
 "| method | median time | result | vs Headroom |", "|---|---:|---|---:|",
]
for name, ms, res in rows:
    cell = name.replace("|", "\\|")
    lines.append(f"| {cell} | {ms:.1f} ms | {res} | {ms / h:.1f}× |")
lines += ["",
 f"- Headroom vs \`find | wc -l\`: {h / rows[1][1]:.2f}× the time of find (goal: within 1.5×).",
 f"- \`postqueue -p\` vs Headroom: {rows[2][1] / h:.0f}× slower (goal: at least 30×).",
 "", "Ticks every 1 s for 30 s while the background \`postqueue -j\` listing runs (\`mta_bench ticks\`):", "",
 f"- ticks: {len(ticks)}; ticks while a listing was running: {len(during)}; listings finished: {ticks[-1]['listings_done'] if ticks else 0}",
 f"- largest deviation of the tick spacing from 1000 ms: {dev(during):.1f} ms during listings, {dev(outside):.1f} ms otherwise",
 f"- MTA read per tick (counts, /proc, statvfs, cached postconf): median {statistics.median(reads):.1f} ms, max {max(reads):.1f} ms",
 f"- first tick with the true oldest age (from the listing): tick {ticks.index(aged[0]) + 1 if aged else 'none'}; method: {ticks[-1]['method'] if ticks else '?'}",
 ""]
section = "\n".join(lines)
path = "BENCHMARKS.md"
text = open(path).read() if os.path.exists(path) else "# Benchmarks\n\nEvery figure here comes from a script in \`bench/\` that anyone can run (\`make bench\`).\n"
m = re.search(r"^## Queue counting\n.*?(?=^## |\Z)", text, flags=re.S | re.M)
text = text[:m.start()] + section + text[m.end():] if m else text.rstrip("\n") + "\n\n" + section
open(path, "w").write(text)
print(section)
PY

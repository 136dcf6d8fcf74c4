#!/usr/bin/env python3
"""The agent (`headroom-cli serve`) beside the exporters admins run today, in one run.

On a private Postfix instance (bench/postfix_instance.sh; root only):

1. Cost: the agent with its default settings (5 s ticks, a probe of the instance every
   60 s, history on) while one client scrapes /metrics every 1 s and 5 clients follow
   /api/v1/events, next to prometheus-postfix-exporter and prometheus-node-exporter
   (Debian) scraped every 1 s the same way, all at once for BENCH_SECONDS (60 s), the
   queue holding one deferred message. CPU is user+system time (children included)
   over wall time, 100 % = one core; memory is RSS at the end and peak RSS (VmHWM).
   Goals: <= 0.5 % of a core and <= 30 MiB peak RSS.
2. Scrape: the deferred queue grown to N (100,000) messages (bench/make_queue.py);
   the median wall time of REPEAT scrapes of /metrics from the agent and from
   prometheus-postfix-exporter, one after the other in the same run. Goal: the agent
   at least 50x faster.

Writes the "## Agent" section of BENCHMARKS.md through bench/section.py.
"""
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from host_cost import cpu_seconds, free_port, peak_rss_kib  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DURATION = float(os.environ.get("BENCH_SECONDS", "60"))
N = int(os.environ.get("N", "100000"))
REPEAT = int(os.environ.get("REPEAT", "5"))
DIR = os.environ.get("DIR", "/tmp/headroom-bench-agent")
SSE_CLIENTS = 5
CPU_GOAL, RSS_GOAL_MIB, SCRAPE_GOAL = 0.5, 30.0, 50.0


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def run(*args, **kw):
    return subprocess.run(list(args), check=True, **kw)


def fetch(url, token=None, timeout=60):
    req = urllib.request.Request(url)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.read()


def wait_until(what, seconds, f):
    end = time.time() + seconds
    while time.time() < end:
        try:
            v = f()
            if v:
                return v
        except OSError:
            pass
        time.sleep(0.2)
    sys.exit(f"timed out after {seconds} s waiting for {what}")


def metric(text, name, labels=""):
    prefix = name + labels
    for line in text.splitlines():
        if line.startswith(prefix + " "):
            return float(line.split()[1])
    return None


class Scraper(threading.Thread):
    """GETs `url` once a second (not bunched when a scrape is slow) until stopped."""

    def __init__(self, url, token, stop):
        super().__init__(daemon=True)
        self.url, self.token, self.stop, self.ok, self.failed = url, token, stop, 0, 0

    def run(self):
        t0 = time.time()
        while not self.stop.is_set():
            try:
                fetch(self.url, self.token, timeout=30)
                self.ok += 1
            except OSError:
                self.failed += 1
            self.stop.wait(max(0.0, 1.0 - ((time.time() - t0) % 1.0)))


class EventReader(threading.Thread):
    """Follows /api/v1/events and counts the events it reads."""

    def __init__(self, port, token, stop):
        super().__init__(daemon=True)
        self.port, self.token, self.stop, self.events = port, token, stop, 0

    def run(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        s.sendall(
            f"GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {self.token}\r\n\r\n".encode()
        )
        s.settimeout(1.0)
        buf = b""
        while not self.stop.is_set():
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            if not chunk:
                break
            lines = (buf + chunk).split(b"\n")
            buf = lines.pop()
            self.events += sum(1 for line in lines if line.startswith(b"event:"))
        s.close()


def main():
    if os.geteuid() != 0:
        sys.exit("bench/agent.py needs root (a private Postfix instance)")
    # HEADROOM_CLI: another build, for trying the script out (figures need release).
    cli = os.environ.get("HEADROOM_CLI", os.path.join(ROOT, "target/release-cli/headroom-cli"))
    if not os.path.exists(cli):
        sys.exit(f"{cli} missing: run `cargo build --profile release-cli -p headroom-cli` (make bench does)")
    pf_exporter = shutil.which("prometheus-postfix-exporter")
    node_exporter = shutil.which("prometheus-node-exporter")
    if not pf_exporter or not node_exporter:
        sys.exit("prometheus-postfix-exporter and prometheus-node-exporter are needed (scripts/deps.sh bench)")
    inst = os.path.join(ROOT, "bench/postfix_instance.sh")
    etc, queue = os.path.join(DIR, "etc"), os.path.join(DIR, "queue")
    smtp_port = free_port()
    subprocess.run([inst, "stop", DIR], check=False)
    shutil.rmtree(DIR, ignore_errors=True)
    run(inst, "start", DIR, str(smtp_port))
    tmp = tempfile.mkdtemp(prefix="headroom-bench-agent-")
    procs = []

    def start(args, **kw):
        p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)
        procs.append(p)
        return p

    try:
        run("sendmail", "-C", etc, "-f", "bench@headroom.test", "rcpt@bench.example",
            input=b"Subject: headroom agent benchmark\n\nbody\n")

        def one_deferred():
            n = sum(len(f) for _, _, f in os.walk(os.path.join(queue, "deferred")))
            busy = sum(len(f) for d in ("active", "incoming") for _, _, f in os.walk(os.path.join(queue, d)))
            return n == 1 and busy == 0

        wait_until("the message to defer", 30, one_deferred)

        cfg = os.path.join(tmp, "config.toml")
        with open(cfg, "w") as f:
            f.write(
                f'[mta]\nkind = "postfix"\nconfig_dir = "{etc}"\n\n'
                f'[[probe]]\nname = "instance"\nhost = "127.0.0.1"\nport = {smtp_port}\n'
            )
        env = dict(os.environ, HOME=tmp, XDG_DATA_HOME=os.path.join(tmp, "data"), XDG_CONFIG_HOME=tmp)
        env.pop("HEADROOM_LOG", None)
        agent_port, pfx_port, node_port = free_port(), free_port(), free_port()
        agent = start([cli, "serve", "--config", cfg, "--listen", f"127.0.0.1:{agent_port}"], env=env)
        token_file = os.path.join(tmp, "data/headroom/agent/token")
        wait_until("the agent", 30, lambda: fetch(f"http://127.0.0.1:{agent_port}/healthz") == b"ok\n"
                   or os.path.exists(token_file))
        token = wait_until("the agent's token", 10, lambda: open(token_file).read().strip())
        agent_metrics = f"http://127.0.0.1:{agent_port}/metrics"
        wait_until("the agent's first tick", 30,
                   lambda: metric(fetch(agent_metrics, token).decode(), "headroom_queue_messages", '{queue="deferred"}') == 1)
        pfx = start([pf_exporter, f"--web.listen-address=127.0.0.1:{pfx_port}",
                     f"--postfix.showq_path={queue}/public/showq", "--postfix.logfile_path=/dev/null"])
        node = start([node_exporter, f"--web.listen-address=127.0.0.1:{node_port}"])
        pfx_metrics = f"http://127.0.0.1:{pfx_port}/metrics"
        node_metrics = f"http://127.0.0.1:{node_port}/metrics"
        wait_until("postfix-exporter", 30, lambda: fetch(pfx_metrics))
        wait_until("node-exporter", 30, lambda: fetch(node_metrics))

        # 1. Cost, all at once.
        stop = threading.Event()
        scrapers = {
            "agent": Scraper(agent_metrics, token, stop),
            "pfx": Scraper(pfx_metrics, None, stop),
            "node": Scraper(node_metrics, None, stop),
        }
        readers = [EventReader(agent_port, token, stop) for _ in range(SSE_CLIENTS)]
        for t in readers:
            t.start()
        time.sleep(3)  # start-up and the first subscriptions are not steady-state cost
        measured = {"agent": agent, "pfx": pfx, "node": node}
        cpu0 = {k: cpu_seconds(p.pid) for k, p in measured.items()}
        t0 = time.time()
        for s in scrapers.values():
            s.start()
        time.sleep(DURATION)
        wall = time.time() - t0
        cost = {}
        for k, p in measured.items():
            cost[k] = ((cpu_seconds(p.pid) - cpu0[k]) / wall * 100.0, rss_kib(p.pid) / 1024.0,
                       peak_rss_kib(p.pid) / 1024.0)
        stop.set()
        for t in list(scrapers.values()) + readers:
            t.join(timeout=35)
        events = [r.events for r in readers]

        # 2. Scrape time with N deferred messages.
        run("postfix", "-c", etc, "stop", stdout=subprocess.DEVNULL)
        time.sleep(1)
        g0 = time.time()
        run(sys.executable, os.path.join(ROOT, "bench/make_queue.py"), queue, str(N - 1), stdout=subprocess.DEVNULL)
        gen_s = time.time() - g0
        for _ in range(10):
            if subprocess.run(["postfix", "-c", etc, "start"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL).returncode == 0:
                break
            time.sleep(1)
        wait_until(f"the agent to count {N:,} deferred", 120,
                   lambda: metric(fetch(agent_metrics, token).decode(), "headroom_queue_messages", '{queue="deferred"}') == N)

        def timed(url, tok):
            s = time.perf_counter()
            body = fetch(url, tok, timeout=120)
            return (time.perf_counter() - s) * 1000.0, body.decode()

        agent_ms, pfx_ms = [], []
        for _ in range(REPEAT):
            ms, agent_body = timed(agent_metrics, token)
            agent_ms.append(ms)
        for _ in range(REPEAT):
            ms, pfx_body = timed(pfx_metrics, None)
            pfx_ms.append(ms)
        agent_n = metric(agent_body, "headroom_queue_messages", '{queue="deferred"}')
        pfx_n = metric(pfx_body, "postfix_showq_message_size_bytes_count", '{queue="deferred"}')
        a_med, p_med = statistics.median(agent_ms), statistics.median(pfx_ms)
        ratio = p_med / a_med
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        subprocess.run([inst, "stop", DIR], check=False)
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(DIR, ignore_errors=True)

    ver = subprocess.run(["postconf", "-h", "mail_version"], capture_output=True, text=True).stdout.strip()

    def pkg(name):
        return subprocess.run(["dpkg-query", "-W", "-f", "${Version}", name],
                              capture_output=True, text=True).stdout.strip() or "?"

    a_cpu, a_rss, a_peak = cost["agent"]
    default_cli = os.path.join(ROOT, "target/release-cli/headroom-cli")
    build = "release build" if os.path.abspath(cli) == default_cli else f"binary {cli}"
    verdict = lambda ok: "met" if ok else "**missed**"
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} by `python3 bench/agent.py` (root; part of `make bench`) on this "
        f"machine ({os.cpu_count()} cores, shared), {build}, a private Postfix {ver} instance.",
        "",
        f"### Cost over {wall:.0f} s: /metrics scraped every 1 s, {SSE_CLIENTS} event-stream clients on the agent",
        "",
        "All three at once; the agent with its default settings (5 s ticks, history on, a probe of the instance "
        "every 60 s) and one deferred message in the queue. CPU is user+system time, children included, over wall "
        "time (100 % = one core).",
        "",
        "| process | CPU % of a core | RSS at the end (MiB) | peak RSS (MiB) | scrapes (failed) |",
        "|---|---:|---:|---:|---:|",
    ]
    names = {
        "agent": f"Headroom agent (`headroom-cli serve`) + {SSE_CLIENTS} SSE clients",
        "pfx": f"prometheus-postfix-exporter {pkg('prometheus-postfix-exporter')}",
        "node": f"prometheus-node-exporter {pkg('prometheus-node-exporter')}",
    }
    for k in ("agent", "pfx", "node"):
        c, r, pk = cost[k]
        lines.append(f"| {names[k]} | {c:.2f} | {r:.1f} | {pk:.1f} | {scrapers[k].ok} ({scrapers[k].failed}) |")
    lines += [
        "",
        f"- Events read by the {SSE_CLIENTS} clients: {', '.join(map(str, events))}.",
        f"- Goal <= {CPU_GOAL} % of a core: {a_cpu:.2f} % — {verdict(a_cpu <= CPU_GOAL)}.",
        f"- Goal <= {RSS_GOAL_MIB:.0f} MiB RSS (judged on the peak): {a_peak:.1f} MiB — {verdict(a_peak <= RSS_GOAL_MIB)}.",
        "",
        f"### Scrape of /metrics with {N:,} deferred messages",
        "",
        f"Queue cloned from one real deferred message in {gen_s:.1f} s (`bench/make_queue.py`); median of {REPEAT} "
        "scrapes each, one after the other in the same run, warm page cache.",
        "",
        "| exporter | median scrape | deferred reported | vs the agent |",
        "|---|---:|---:|---:|",
        f"| Headroom agent (serves what its monitor holds) | {a_med:.1f} ms | {agent_n:,.0f} | 1× |",
        f"| prometheus-postfix-exporter (reads showq per scrape) | {p_med:.1f} ms | "
        f"{'n/a' if pfx_n is None else f'{pfx_n:,.0f}'} | {ratio:.0f}× slower |",
        "",
        f"- Goal: the agent at least {SCRAPE_GOAL:.0f}× faster: {ratio:.0f}× — {verdict(ratio >= SCRAPE_GOAL)}.",
        f"- All scrapes (ms): agent {', '.join(f'{x:.1f}' for x in agent_ms)}; "
        f"postfix-exporter {', '.join(f'{x:.0f}' for x in pfx_ms)}.",
    ]
    body = "\n".join(lines)
    print(body)
    subprocess.run([sys.executable, os.path.join(ROOT, "bench/section.py"), "## Agent"],
                   input=body, text=True, check=True)


if __name__ == "__main__":
    main()

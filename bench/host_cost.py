#!/usr/bin/env python3
"""The engine's own cost beside what an admin might run instead, in one run.

Runs, at the same time for the same 60 s at 1 s intervals:
  - headroom-cli watch (the monitor loop: host sampling, assessment, history)
  - Glances (--stdout, refresh 1 s)
  - prometheus-node-exporter, scraped once a second like Prometheus would
and reports each one's CPU (user+system time over wall time) and peak RSS (VmHWM).
Writes the "## Engine cost" section of BENCHMARKS.md.
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DURATION = float(os.environ.get("BENCH_SECONDS", "60"))
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime, stime, cutime, cstime (fields 14-17 of the full line)
    return sum(int(x) for x in fields[11:15]) / TICK


def peak_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def main():
    cli = os.path.join(ROOT, "target/release-cli/headroom-cli")
    if not os.path.exists(cli):
        sys.exit(f"{cli} missing: run `cargo build --profile release-cli -p headroom-cli` (make bench does)")
    tmp = tempfile.mkdtemp(prefix="headroom-bench-")
    cfg = os.path.join(tmp, "config.toml")
    with open(cfg, "w") as f:
        f.write("[monitor]\ninterval_secs = 1\n\n[notifications]\nenabled = false\n")
    port = free_port()
    procs = {}
    devnull = subprocess.DEVNULL
    env = dict(os.environ, HOME=tmp, XDG_DATA_HOME=tmp, XDG_CONFIG_HOME=tmp)
    procs["Headroom (headroom-cli watch, 1 s ticks)"] = subprocess.Popen(
        [cli, "watch", "--config", cfg, "--json"], stdout=devnull, stderr=devnull, env=env)
    glances = shutil.which("glances")
    if glances:
        procs["Glances (--stdout, 1 s refresh)"] = subprocess.Popen(
            [glances, "--stdout", "cpu.total,mem.percent,load", "-t", "1"],
            stdout=devnull, stderr=devnull, env=env)
    exporter = shutil.which("prometheus-node-exporter")
    if exporter:
        procs["prometheus-node-exporter (scraped every 1 s)"] = subprocess.Popen(
            [exporter, f"--web.listen-address=127.0.0.1:{port}"], stdout=devnull, stderr=devnull)
    time.sleep(3)  # start-up is not steady-state cost
    start = {name: cpu_seconds(p.pid) for name, p in procs.items()}
    t0 = time.time()
    scrapes = 0
    while time.time() - t0 < DURATION:
        if exporter:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
                scrapes += 1
            except OSError:
                pass
        time.sleep(max(0.0, 1.0 - ((time.time() - t0) % 1.0)))
    wall = time.time() - t0
    rows = []
    for name, p in procs.items():
        used = cpu_seconds(p.pid) - start[name]
        rows.append((name, used / wall * 100.0, peak_rss_kib(p.pid) / 1024.0))
        p.terminate()
    for p in procs.values():
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
    shutil.rmtree(tmp, ignore_errors=True)

    ours = rows[0]
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on this machine ({os.cpu_count()} cores), all three running at once "
        f"for {wall:.0f} s at 1 s intervals (node-exporter scraped {scrapes} times). "
        "CPU is user+system time over wall time (100% = one core); memory is peak RSS (VmHWM).",
        "",
        "| tool | CPU % | peak RSS (MiB) | CPU vs Headroom | RSS vs Headroom |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, cpu, rss in rows:
        rc = f"{cpu / ours[1]:.1f}×" if ours[1] > 0 else "n/a"
        rr = f"{rss / ours[2]:.1f}×" if ours[2] > 0 else "n/a"
        lines.append(f"| {name} | {cpu:.2f} | {rss:.1f} | {rc} | {rr} |")
    missing = [n for n, w in (("glances", glances), ("prometheus-node-exporter", exporter)) if not w]
    if missing:
        lines.append("")
        lines.append(f"Not installed, so not measured: {', '.join(missing)}.")
    lines.append("")
    cpu_ok, rss_ok = round(ours[1], 2) <= 0.15, round(ours[2], 1) <= 10.0
    lines.append(f"Goal for Headroom: at most 0.15 % CPU ({'met' if cpu_ok else 'not met'}: {ours[1]:.2f} %) "
                 f"and 10 MiB ({'met' if rss_ok else 'not met'}: {ours[2]:.1f} MiB).")
    lines.append("")
    lines.append("Command: `python3 bench/host_cost.py` (part of `make bench`).")
    body = "\n".join(lines)
    print(body)
    subprocess.run([sys.executable, os.path.join(ROOT, "bench/section.py"), "## Engine cost"],
                   input=body, text=True, check=True)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Idle cost and range-switch draw time of the BUILT dashboard (ui/dist) in a real
WebKitGTK browser (MiniBrowser) under a private Xvfb, with bench/mock-tauri.js standing
in for the Rust side (one tick per second). It measures the window's share of the work
without building the Rust app; bench/ui.sh measures the whole app.

    npm run build && /usr/bin/python3 bench/idle.py [--range live|1h|24h] [--time] [--paint]

CPU % is of one core, summed over MiniBrowser and its WebKit processes, like
tests/examples/ui_bench.rs sums the app's process tree. "tick work" is the time from a
tick's arrival to the next task (script, layout and any paint in between).
BENCH_DEBUG=1 logs the page's requests. MiniBrowser runs with LANG=en_US.UTF-8: under
LANG=C.UTF-8 its default locale is "C", which toLocaleTimeString refuses.
"""

import argparse
import http.server
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MINIBROWSER = "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser"
TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def tree(root: int) -> list[int]:
    """root and all its descendants, from /proc."""
    parents: dict[int, int] = {}
    for e in os.listdir("/proc"):
        if not e.isdigit():
            continue
        try:
            stat = Path(f"/proc/{e}/stat").read_text()
        except OSError:
            continue
        parents[int(e)] = int(stat.rsplit(")", 1)[1].split()[1])
    pids, i = [root], 0
    while i < len(pids):
        pids += [p for p, pp in parents.items() if pp == pids[i] and p not in pids]
        i += 1
    return pids


def usage(root: int, by_name: dict | None = None) -> tuple[float, float]:
    """CPU seconds and RSS (MiB) of the tree; per process name into by_name."""
    cpu, rss = 0.0, 0.0
    for pid in tree(root):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        f = stat.rsplit(")", 1)[1].split()
        s = (int(f[11]) + int(f[12])) / TICKS_PER_S
        cpu += s
        rss += int(f[21]) * os.sysconf("SC_PAGE_SIZE") / 2**20
        if by_name is not None:
            name = stat.split("(", 1)[1].rsplit(")", 1)[0]
            by_name[name] = by_name.get(name, 0.0) + s
    return cpu, rss


def serve(root: Path, posts: dict, events: dict) -> http.server.ThreadingHTTPServer:
    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(root), **kw)

        def log_message(self, fmt, *a):
            if os.environ.get("BENCH_DEBUG"):
                sys.stderr.write(fmt % a + "\n")

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            name = self.path.strip("/")
            posts[name] = json.loads(body or b"null")
            if name == "log":
                sys.stderr.write(f"page: {posts[name]}\n")
            self.send_response(204)
            self.end_headers()
            if name in events:
                events[name].set()

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dist", type=Path, default=HERE.parent / "dist")
    ap.add_argument("--range", default="live", help="chart range shown while idle (live, 1h, 24h, …)")
    ap.add_argument("--time", action="store_true", help="first time the 24 h and 1 h range switches")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--measure", type=int, default=30)
    ap.add_argument("--interval-ms", type=int, default=1000)
    ap.add_argument("--paint", action="store_true",
                    help="trace the web process' frame bitmaps (strace): how many pixels a tick repaints")
    args = ap.parse_args()
    if not (args.dist / "index.html").exists():
        sys.exit(f"{args.dist}/index.html is missing: run `npm run build` first")

    # A kill of this script still stops the browser and Xvfb (the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("terminated"))
    work = Path(tempfile.mkdtemp(prefix="headroom-ui-bench-"))
    procs: list[subprocess.Popen] = []
    try:
        site = work / "site"
        shutil.copytree(args.dist, site)
        (site / "bench").mkdir()
        for f in ("mock-tauri.js", "driver.js"):
            shutil.copy(HERE / f, site / "bench" / f)
        index = (site / "index.html").read_text()
        inject = '<script src="/bench/mock-tauri.js"></script>\n    <script src="/bench/driver.js"></script>\n    '
        (site / "index.html").write_text(index.replace("<script type=\"module\"", inject + "<script type=\"module\"", 1))

        posts: dict = {}
        events = {"ready": threading.Event(), "ticks": threading.Event()}
        srv = serve(site, posts, events)

        r, w = os.pipe()
        xvfb = subprocess.Popen(
            ["Xvfb", "-displayfd", str(w), "-screen", "0", "1180x820x24", "-nolisten", "tcp", "-ac"],
            pass_fds=(w,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        procs.append(xvfb)
        os.close(w)
        # r stays open: Xvfb dies when it cannot write to its displayfd.
        n = os.read(r, 16).decode().strip()
        if not n.isdigit():
            sys.exit("Xvfb did not report a display")
        display = ":" + n
        # Wait until the display accepts a connection.
        for _ in range(100):
            with socket.socket(socket.AF_UNIX) as s:
                try:
                    s.connect(f"/tmp/.X11-unix/X{n}")
                    break
                except OSError:
                    time.sleep(0.1)

        home = work / "home"
        runtime = work / "runtime"
        for d in (home / ".config", home / ".local/share", runtime):
            d.mkdir(parents=True)
        runtime.chmod(0o700)
        env = dict(os.environ, DISPLAY=display, HOME=str(home), XDG_RUNTIME_DIR=str(runtime),
                   XDG_CONFIG_HOME=str(home / ".config"), XDG_DATA_HOME=str(home / ".local/share"),
                   WEBKIT_DISABLE_COMPOSITING_MODE="1", WEBKIT_DISABLE_DMABUF_RENDERER="1",
                   NO_AT_BRIDGE="1", GDK_BACKEND="x11", LANG="en_US.UTF-8")
        env.pop("DBUS_SESSION_BUS_ADDRESS", None)
        url = (f"http://127.0.0.1:{srv.server_address[1]}/?range={args.range}&time={int(args.time)}"
               f"&warmup={args.warmup}&measure={args.measure}&interval={args.interval_ms}")
        browser = subprocess.Popen([MINIBROWSER, "--full-screen", url], env=env, stdout=subprocess.DEVNULL,
                                   stderr=open(work / "browser.log", "w"), start_new_session=True)
        procs.append(browser)

        if not events["ready"].wait(180):
            sys.exit("the page never became ready; browser log:\n" + (work / "browser.log").read_text()[-3000:]
                     + f"\npage log: {posts.get('log')}")
        ready = posts["ready"] or {}
        if "error" in ready:
            sys.exit(f"driver failed: {ready['error']}")
        time.sleep(args.warmup)
        n0: dict = {}
        n1: dict = {}
        c0, _ = usage(browser.pid, n0)
        t0 = time.monotonic()
        if args.paint:
            # WebKit without compositing hands each painted frame to the UI process in a
            # fresh shared bitmap the size of the frame's dirty bounds: its ftruncate
            # sizes say how much of the window every tick repaints.
            cmd = ["strace", "-f", "-qq", "-e", "trace=ftruncate", "-o", str(work / "paint.txt")]
            for p in tree(browser.pid):
                cmd += ["-p", str(p)]
            tracer = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(args.measure)
            tracer.terminate()
            tracer.wait(10)
        else:
            time.sleep(args.measure)
        c1, rss = usage(browser.pid, n1)
        elapsed = time.monotonic() - t0
        events["ticks"].wait(30)
        ticks = posts.get("ticks") or {"work": [], "script": []}
        work_ms, script_ms = ticks["work"], ticks["script"]

        out = {
            "range": args.range,
            "cpu_percent": round((c1 - c0) / elapsed * 100, 2),
            "by_process": {k: round((v - n0.get(k, 0)) / elapsed * 100, 2) for k, v in n1.items()},
            "rss_mib": round(rss),
            "ticks": len(work_ms),
            "tick_script_ms_median": round(statistics.median(script_ms), 2) if script_ms else None,
            "tick_work_ms_median": round(statistics.median(work_ms), 2) if work_ms else None,
            "dom_records_per_tick": round(ticks.get("records", 0) / max(1, len(work_ms)), 1),
        }
        if args.paint:
            sizes = [int(line.split(",")[1].split(")")[0]) for line in (work / "paint.txt").read_text().splitlines()
                     if "ftruncate(" in line and "= 0" in line]
            # 4 bytes a pixel; the CPU figures of a traced run are not comparable.
            out["painted_frames"] = len(sizes)
            out["dirty_bounds_kpx_median"] = round(statistics.median(sizes) / 4 / 1000, 1) if sizes else None
        if args.time:
            out.update({k: ready.get(k) for k in ("day_ms", "day_status", "hour_ms", "hour_status")})
        print(json.dumps(out))
        if os.environ.get("BENCH_DEBUG"):
            print(json.dumps(ticks.get("changed"), indent=1), file=sys.stderr)
        return 0
    finally:
        for p in reversed(procs):
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(p.pid, sig)
                    p.wait(10)
                    break
                except ProcessLookupError:
                    break
                except subprocess.TimeoutExpired:
                    continue
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

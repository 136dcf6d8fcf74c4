//! Dashboard benchmark (bench/ui.sh): in the real window under Xvfb,
//! - loading and drawing 24 h of 1-second samples of 8 series from the history
//!   (click on "24 h" until the charts have painted: query + IPC + render),
//! - the same for 1 h (raw samples),
//! - the app's idle CPU and memory with the window shown and hidden (the app and the
//!   WebKit processes it starts).
//!
//! Prints the body of the "## Dashboard" section of BENCHMARKS.md.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use headroom_engine::history::{Retention, Store};
use headroom_engine::tick::Tick;
use headroom_tests::bins::{bin, wait_for};
use headroom_tests::desktop::Desktop;
use headroom_tests::webdriver::Driver;

const SERIES: [&str; 8] = [
    "cpu_percent",
    "load1",
    "memory_percent",
    "swap_percent",
    "disk_io:vda",
    "queue:active",
    "queue:deferred",
    "queue:incoming",
];

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn fill_day(path: &std::path::Path) {
    let mut store = Store::open(path, Retention::default()).unwrap().store;
    let end = now().floor();
    for i in 0..86_400u64 {
        let ts = end - 86_400.0 + i as f64;
        let t = Tick::of_samples(
            ts,
            SERIES.iter().enumerate().map(|(k, n)| {
                let v = ((i as f64 / 600.0).sin() + 1.0) * 20.0 + k as f64 * 5.0;
                (n.to_string(), Some(v))
            }),
        );
        store.write_tick(&t).unwrap();
    }
}

/// Milliseconds from the click on `button` until range-status reports the load and two
/// animation frames have passed (the charts have painted).
fn time_range(d: &Driver, button: &str) -> f64 {
    let script = format!(
        r#"const done = arguments[arguments.length - 1];
        const st = document.querySelector('[data-testid=range-status]');
        document.querySelector('[data-testid=range-live]').click();
        const t0 = performance.now();
        document.querySelector('[data-testid={button}]').click();
        const check = () => {{
          if (st.textContent.includes('from history')) {{
            requestAnimationFrame(() => requestAnimationFrame(() => done(performance.now() - t0)));
          }} else {{ setTimeout(check, 1); }}
        }};
        check();"#
    );
    let v = d.execute_async(&script).expect("timing script");
    v.as_f64().expect("milliseconds")
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The idle cost of the tree under `root` over some seconds: in all, and per process
/// name (the app, WebKitWebProcess, WebKitNetworkProcess), so a change can be aimed.
struct Idle {
    cpu: f64,
    rss_mib: f64,
    /// (process name, CPU % of one core), the largest first.
    by_name: Vec<(String, f64)>,
}

fn idle_cost(root: u32, secs: u64) -> Idle {
    use headroom_tests::procs::tree_processes;
    let before = tree_processes(root);
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(secs));
    let after = tree_processes(root);
    let wall = t0.elapsed().as_secs_f64();
    let mut by_name: Vec<(String, f64)> = Vec::new();
    for p in &after {
        let was = before
            .iter()
            .find(|b| b.pid == p.pid)
            .map_or(0.0, |b| b.cpu_s);
        let pct = (p.cpu_s - was) / wall * 100.0;
        match by_name.iter_mut().find(|(n, _)| *n == p.name) {
            Some((_, c)) => *c += pct,
            None => by_name.push((p.name.clone(), pct)),
        }
    }
    by_name.sort_by(|a, b| b.1.total_cmp(&a.1));
    Idle {
        cpu: by_name.iter().map(|(_, c)| c).sum(),
        rss_mib: after.iter().map(|p| p.rss_kib).sum::<u64>() as f64 / 1024.0,
        by_name,
    }
}

impl Idle {
    /// "headroom 0.12, WebKitWebProcess 0.90, …"
    fn detail(&self) -> String {
        self.by_name
            .iter()
            .filter(|(_, c)| *c >= 0.005)
            .map(|(n, c)| format!("{n} {c:.2}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The app process that runs on `display` (tauri-driver starts it through WebKitWebDriver).
fn find_app_pid(display: &str) -> Option<u32> {
    let want = format!("DISPLAY={display}");
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid = e.file_name().to_string_lossy().parse::<u32>().ok()?;
        let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
        if exe.file_name()? != "headroom" {
            return None;
        }
        let env = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
        env.split(|b| *b == 0)
            .any(|kv| kv == want.as_bytes())
            .then_some(pid)
    })
}

fn main() {
    let mut desktop = Desktop::start();
    // A panel with a StatusNotifier tray, as on a desktop with one: without a tray host
    // `--hidden` only minimizes (and with no window manager, stays on screen).
    desktop.start_tray_host();
    let db = desktop.dir().join("history.sqlite3");
    let fill = Instant::now();
    fill_day(&db);
    let fill_s = fill.elapsed().as_secs_f64();
    let cfg = desktop.dir().join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "probe = []\n\n[monitor]\ninterval_secs = 1\n\n[mta]\nkind = \"none\"\n\n[history]\npath = \"{}\"\n",
            db.display()
        ),
    )
    .unwrap();
    let app = bin("headroom");
    let cfg_s = cfg.display().to_string();
    let d = Driver::start(&desktop, &app, &["--config", &cfg_s]);
    d.wait_text("[data-testid=cpu-value]", Duration::from_secs(60), |t| {
        t.ends_with('%')
    })
    .expect("live data");
    let day: Vec<f64> = (0..7).map(|_| time_range(&d, "range-24h")).collect();
    let day_status = d
        .find("[data-testid=range-status]")
        .and_then(|e| d.text(&e))
        .unwrap_or_default();
    let hour: Vec<f64> = (0..7).map(|_| time_range(&d, "range-1h")).collect();
    let hour_status = d
        .find("[data-testid=range-status]")
        .and_then(|e| d.text(&e))
        .unwrap_or_default();
    let pid = wait_for(Duration::from_secs(5), || find_app_pid(&desktop.display)).expect("app pid");
    // The first 30 s after the clicks still carry their aftermath (the garbage of 14
    // loaded ranges, JIT); the next 30 s are the window left alone.
    // For profiling by hand: `UI_BENCH_HOLD=60 target/release/examples/ui_bench` keeps
    // the window shown and idle that long first (say `perf record -p <pid>` meanwhile).
    // For experiments by hand: `UI_BENCH_EVAL='…js…'` runs a script in the page first
    // (say, one that stops the tick handler, to see what delivering a tick costs alone).
    if let Ok(js) = std::env::var("UI_BENCH_EVAL") {
        eprintln!("ui_bench: UI_BENCH_EVAL -> {:?}", d.execute(&js));
    }
    if let Some(secs) = std::env::var("UI_BENCH_HOLD")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        let tree = headroom_tests::procs::tree_processes(pid);
        eprintln!("ui_bench: holding {secs} s; processes: {tree:?}");
        std::thread::sleep(Duration::from_secs(secs));
    }
    let after = idle_cost(pid, 30);
    let shown = idle_cost(pid, 30);
    // …and `UI_BENCH_REPORT='…js…'` one afterwards, whose answer is printed (what the
    // first script counted meanwhile).
    if let Ok(js) = std::env::var("UI_BENCH_REPORT") {
        eprintln!("ui_bench: UI_BENCH_REPORT -> {:?}", d.execute(&js));
    }
    drop(d);

    let log = std::fs::File::create(desktop.dir().join("hidden.log")).unwrap();
    let mut hidden = desktop
        .command(&app)
        .args(["--config", &cfg_s, "--hidden"])
        .stderr(log)
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(5));
    let hidden_cost = idle_cost(hidden.id(), 30);
    let _ = hidden.kill();
    let _ = hidden.wait();

    println!(
        "Measured {} on this machine ({} cores) in the real window (release build, Xvfb, WebKitGTK), \
         driven through WebDriver. A history of 24 h of 1-second samples of 8 series \
         ({:.1} s to write) feeds the charts.\n",
        chrono_free_date(),
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        fill_s
    );
    println!("| what | median of 7 | detail |");
    println!("|---|---:|---|");
    println!(
        "| click 24 h → 8+ charts painted (query, IPC, uPlot) | {:.0} ms | {} (1-minute roll-ups) |",
        median(day),
        day_status
    );
    println!(
        "| click 1 h → charts painted | {:.0} ms | {} (raw 1-second samples) |",
        median(hour),
        hour_status
    );
    println!();
    println!("| app idle, 1 s ticks, 30 s | CPU % of one core | RSS (MiB) | per process (CPU %) |");
    println!("|---|---:|---:|---|");
    println!(
        "| window shown, the 30 s right after the range clicks (app + WebKit processes) | {:.2} | – | {} |",
        after.cpu,
        after.detail()
    );
    println!(
        "| window shown, the next 30 s (app + WebKit processes) | {:.2} | {:.0} | {} |",
        shown.cpu,
        shown.rss_mib,
        shown.detail()
    );
    println!(
        "| window hidden (`--hidden`, tray only) | {:.2} | {:.0} | {} |",
        hidden_cost.cpu,
        hidden_cost.rss_mib,
        hidden_cost.detail()
    );
    println!();
    println!(
        "Goal: the window shown and left alone at most 1.0 % of a core: **{}** ({:.2} %).\n",
        if shown.cpu <= 1.0 { "met" } else { "not met" },
        shown.cpu
    );
    println!("Command: `bench/ui.sh` (part of `make bench`).");
}

fn chrono_free_date() -> String {
    let out = std::process::Command::new("date")
        .arg("+%Y-%m-%d")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    out
}

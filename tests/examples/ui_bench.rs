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

/// (CPU % of one core, RSS MiB) of the tree under `root` over `secs`.
fn idle_cost(root: u32, secs: u64) -> (f64, f64) {
    let (c0, _) = headroom_tests::procs::tree_usage(root);
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(secs));
    let (c1, rss) = headroom_tests::procs::tree_usage(root);
    (
        (c1 - c0) / t0.elapsed().as_secs_f64() * 100.0,
        rss as f64 / 1024.0,
    )
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
    let desktop = Desktop::start();
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
    let (after_cpu, _) = idle_cost(pid, 30);
    let (shown_cpu, shown_rss) = idle_cost(pid, 30);
    drop(d);

    let log = std::fs::File::create(desktop.dir().join("hidden.log")).unwrap();
    let mut hidden = desktop
        .command(&app)
        .args(["--config", &cfg_s, "--hidden"])
        .stderr(log)
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(5));
    let (hidden_cpu, hidden_rss) = idle_cost(hidden.id(), 30);
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
    println!("| app idle, 1 s ticks, 30 s | CPU % of one core | RSS (MiB) |");
    println!("|---|---:|---:|");
    println!(
        "| window shown, the 30 s right after the range clicks (app + WebKit processes) | {after_cpu:.2} | – |"
    );
    println!("| window shown, the next 30 s (app + WebKit processes) | {shown_cpu:.2} | {shown_rss:.0} |");
    println!("| window hidden (`--hidden`, tray only) | {hidden_cpu:.2} | {hidden_rss:.0} |");
    println!();
    println!(
        "Goal: the window shown and left alone at most 1.0 % of a core: **{}** ({shown_cpu:.2} %).\n",
        if shown_cpu <= 1.0 { "met" } else { "not met" }
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

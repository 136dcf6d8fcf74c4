//! History benchmark (bench/history.sh): the cost of recording one tick, and the time
//! to load 24 h of 1-second samples of 8 series. Prints the body of the "## History"
//! section of BENCHMARKS.md (markdown).
//!
//!   cargo run --release -p headroom-engine --example history_bench -- DIR
//!
//! DIR must be on the disk the history would live on; the files are left there.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Instant;

use headroom_engine::history::{Resolution, Retention, Store};
use headroom_engine::tick::Tick;

const T0: f64 = 1_800_000_000.0;

fn tick(ts: f64, names: &[String], i: u64) -> Tick {
    Tick::of_samples(
        ts,
        names.iter().enumerate().map(|(k, n)| {
            // Every 50th reading of one series is a gap, as when a source fails.
            let v = if k == 0 && i.is_multiple_of(50) {
                None
            } else {
                Some((i % 1000) as f64 * 0.1 + k as f64)
            };
            (n.clone(), v)
        }),
    )
}

fn names(n: usize) -> Vec<String> {
    (0..n).map(|k| format!("series_{k:02}")).collect()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn median_ms(runs: usize, mut f: impl FnMut()) -> f64 {
    let mut t: Vec<f64> = (0..runs)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    t.sort_by(f64::total_cmp);
    percentile(&t, 0.5)
}

fn file_mib(path: &Path) -> f64 {
    let size = |suffix: &str| {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
    };
    (size("") + size("-wal")) as f64 / (1024.0 * 1024.0)
}

fn main() {
    let dir = std::env::args().nth(1).expect("usage: history_bench DIR");
    let dir = Path::new(&dir);
    std::fs::create_dir_all(dir).unwrap();

    // 1. Recording: 10,000 ticks of 30 metrics, 5 s apart (the default interval), so
    //    the figures include the minute and hour roll-ups and the pruning they trigger.
    let path = dir.join("insert.sqlite3");
    let _ = std::fs::remove_file(&path);
    let mut store = Store::open(&path, Retention::default()).unwrap().store;
    let m30 = names(30);
    let ticks = 10_000u64;
    let mut per_tick: Vec<f64> = Vec::with_capacity(ticks as usize);
    let mut hour_ticks: Vec<f64> = Vec::new();
    let all = Instant::now();
    for i in 0..ticks {
        let t = tick(T0 + 5.0 * i as f64, &m30, i);
        let s = Instant::now();
        store.write_tick(&t).unwrap();
        let us = s.elapsed().as_secs_f64() * 1e6;
        // 720 ticks of 5 s are an hour: these ticks roll up the hour that ended.
        if i > 0 && i.is_multiple_of(720) {
            hour_ticks.push(us);
        }
        per_tick.push(us);
    }
    let total_s = all.elapsed().as_secs_f64();
    drop(store);
    let mean = per_tick.iter().sum::<f64>() / per_tick.len() as f64;
    per_tick.sort_by(f64::total_cmp);
    hour_ticks.sort_by(f64::total_cmp);
    let over_5ms = per_tick.iter().filter(|us| **us > 5000.0).count();
    let insert_mib = file_mib(&path);

    // 2. Loading: 24 h of 1-second samples of 8 series (86,400 ticks × 8 rows).
    let path = dir.join("day.sqlite3");
    let _ = std::fs::remove_file(&path);
    let mut store = Store::open(&path, Retention::default()).unwrap().store;
    let m8 = names(8);
    let day = 86_400u64;
    let fill = Instant::now();
    for i in 0..=day {
        store.write_tick(&tick(T0 + i as f64, &m8, i)).unwrap();
    }
    let fill_s = fill.elapsed().as_secs_f64();
    let refs: Vec<&str> = m8.iter().map(String::as_str).collect();
    let end = T0 + day as f64;
    let mut points = 0;
    let q_day = median_ms(20, || {
        let b = store.range(T0, end, &refs).unwrap();
        points = b.ts.len();
    });
    let day_points = points;
    let q_hour = median_ms(20, || {
        let b = store.range(end - 3600.0, end, &refs).unwrap();
        points = b.ts.len();
    });
    let hour_points = points;
    let q_raw_day = median_ms(5, || {
        let b = store.range_at(Resolution::Raw, T0, end, &refs).unwrap();
        points = b.ts.len();
    });
    let raw_points = points;
    let q_csv = median_ms(5, || {
        store.export_csv(T0, end, &refs, std::io::sink()).unwrap();
    });
    drop(store);
    let day_mib = file_mib(&path);
    let open_ms = median_ms(5, || {
        drop(Store::open(&path, Retention::default()).unwrap());
    });

    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());

    println!(
        "Measured by `bench/history.sh` (release build of `examples/history_bench.rs`) on {cores} cores ({cpu}), \
         a file on local disk, SQLite {} bundled, WAL, `synchronous=NORMAL`. Synthetic time, so \
         a day of ticks takes seconds; every write is its own transaction, as in the monitor.\n",
        rusqlite_version()
    );
    println!("### Recording one tick (30 metrics, 5 s apart, 10,000 ticks)\n");
    println!("| figure | value |\n|---|---:|");
    println!("| mean per tick | {mean:.0} µs |");
    println!("| median per tick | {:.0} µs |", percentile(&per_tick, 0.5));
    println!(
        "| 99th percentile | {:.0} µs |",
        percentile(&per_tick, 0.99)
    );
    println!("| slowest tick | {:.0} µs |", percentile(&per_tick, 1.0));
    println!("| 10,000 ticks | {total_s:.2} s |");
    println!("| file after 13.9 h of ticks (db + wal) | {insert_mib:.1} MiB |");
    println!();
    println!(
        "The tail: {over_5ms} of the 10,000 ticks took over 5 ms; those are SQLite's automatic WAL \
         checkpoints (about every 1,000 written pages, with an fsync of the database file). A tick \
         that completes an hour and rolls it up takes {:.1} ms (median of {}).\n",
        percentile(&hour_ticks, 0.5) / 1000.0,
        hour_ticks.len()
    );
    println!("### Loading 24 h of 1-second samples, 8 series\n");
    println!(
        "Recorded first: 86,401 ticks × 8 series in {fill_s:.1} s ({:.0} µs per tick), file {day_mib:.1} MiB.\n",
        fill_s * 1e6 / 86_401.0
    );
    println!("| query | points per series | median time |\n|---|---:|---:|");
    println!("| `range` 24 h (1-minute averages, what the 24 h chart loads) | {day_points} | {q_day:.1} ms |");
    println!("| `range` 1 h (raw, one point per tick) | {hour_points} | {q_hour:.1} ms |");
    println!("| `range_at(Raw)` 24 h (every sample) | {raw_points} | {q_raw_day:.1} ms |");
    println!("| `export_csv` 24 h (1-minute averages) | {day_points} | {q_csv:.1} ms |");
    println!("| `Store::open` of that file (includes `quick_check`) | – | {open_ms:.1} ms |");
    println!("\nMedians of 20 runs (raw 24 h, CSV and open: 5 runs). Drawing time in the window is measured with the UI.");
}

fn rusqlite_version() -> String {
    rusqlite::version().to_string()
}

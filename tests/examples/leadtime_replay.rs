//! Replays the snapshots a scenario recorded through Headroom's assessment (default
//! thresholds), for `bench/leadtime.sh`.
//!
//! Usage: `leadtime_replay DIR` — for every `DIR/<scenario>.snapshots.jsonl` writes
//! `DIR/<scenario>.replay.jsonl`: one line per snapshot with `ts` and, per item, `used`,
//! `limit`, `ratio`, `level` and `forecast_s`, plus the raw counts static tools look
//! at (`queue_total`, `active`, `deferred`, `fs_used_pct`, `inodes_used_pct`,
//! `backlog`, `backlog_limit`).

use std::io::{BufRead, Write};

use headroom_engine::assess::Assessor;
use headroom_engine::config::Thresholds;
use headroom_engine::snapshot::Snapshot;
use serde_json::{json, Map, Value};

fn main() {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: leadtime_replay DIR");
        std::process::exit(2);
    };
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".snapshots.jsonl"))
        .collect();
    entries.sort();
    for path in entries {
        let name = path
            .to_string_lossy()
            .replace(".snapshots.jsonl", ".replay.jsonl");
        let input = std::fs::File::open(&path).expect("open snapshots");
        let mut out = std::io::BufWriter::new(std::fs::File::create(&name).expect("create"));
        let mut assessor = Assessor::new();
        let thresholds = Thresholds::default();
        let mut n = 0;
        for line in std::io::BufReader::new(input).lines() {
            let Ok(line) = line else { break };
            let snap: Snapshot = match serde_json::from_str(&line) {
                Ok(s) => s,
                Err(e) => panic!("{}: {e}", path.display()),
            };
            let (a, _) = assessor.assess(&snap, &thresholds);
            let mut items = Map::new();
            for i in &a.items {
                items.insert(
                    i.id.to_string(),
                    json!({"used": i.used, "limit": i.limit, "ratio": i.ratio,
                           "level": i.level, "forecast_s": i.forecast_s}),
                );
            }
            let m = snap.mta.as_ref();
            let q = m.and_then(|m| m.queue.as_ref());
            let fs = m.and_then(|m| m.queue_fs.as_ref());
            let svc = m.and_then(|m| m.services.first());
            let pct =
                |used: u64, total: u64| (total > 0).then(|| used as f64 * 100.0 / total as f64);
            let row = json!({
                "ts": snap.ts,
                "items": Value::Object(items),
                "queue_total": q.map(|q| q.total()),
                "active": q.and_then(|q| q.active),
                "deferred": q.and_then(|q| q.deferred),
                // Netdata's disk.space: used = total − free, against avail + used.
                "fs_used_pct": fs.and_then(|f| pct(f.total_bytes.saturating_sub(f.free_bytes), f.total_bytes)),
                "fs_avail_gib": fs.map(|f| f.free_bytes as f64 / (1u64 << 30) as f64),
                "inodes_used_pct": fs.and_then(|f| pct(f.total_inodes.saturating_sub(f.free_inodes), f.total_inodes)),
                "backlog": svc.and_then(|s| s.backlog),
                "backlog_limit": svc.and_then(|s| s.backlog_limit),
                "processes": svc.map(|s| s.processes),
            });
            let _ = writeln!(out, "{row}");
            n += 1;
        }
        eprintln!("{}: {n} snapshots replayed", path.display());
    }
}

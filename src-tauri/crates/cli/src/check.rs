//! `check`: one sample, one assessment, a Nagios exit code.

use std::path::Path;
use std::time::Duration;

use headroom_engine::assess::Assessor;
use headroom_engine::host::{HostSource, SysHost};
use headroom_engine::snapshot::{Snapshot, SourceProblem};
use serde_json::json;

use crate::output::{item_line, perfdata};

pub async fn run(config: Option<&Path>, json: bool, _no_probe: bool) -> u8 {
    let config = match crate::load_config(config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let snapshot = sample_once().await;
    let (assessment, _) = Assessor::new().assess(&snapshot, &config.thresholds);
    if json {
        let out = json!({
            "status": assessment.status,
            "host": snapshot.host,
            "items": assessment.items,
            "problems": snapshot.problems,
        });
        println!("{out}");
    } else {
        println!(
            "HEADROOM {} - {} | {}",
            assessment.status.as_str().to_uppercase(),
            assessment.summary(),
            perfdata(&assessment, &config.thresholds)
        );
        for i in &assessment.items {
            println!("{}", item_line(i));
        }
        for p in &snapshot.problems {
            println!("could not read {}: {}", p.source, p.message);
        }
    }
    assessment.status.exit_code() as u8
}

/// Primes the host, waits long enough for a CPU difference, and reads it once.
async fn sample_once() -> Snapshot {
    let read = tokio::task::spawn_blocking(|| {
        let mut host = SysHost::new();
        host.prime();
        std::thread::sleep(Duration::from_millis(250));
        host.sample()
    });
    let mut snap = Snapshot {
        ts: now(),
        ..Default::default()
    };
    match tokio::time::timeout(Duration::from_secs(10), read).await {
        Ok(Ok(Ok(h))) => snap.host = Some(h),
        Ok(Ok(Err(e))) => snap.problems.push(problem(e)),
        Ok(Err(e)) => snap.problems.push(problem(e.to_string())),
        Err(_) => snap.problems.push(problem("host sampling took longer than 10 s".into())),
    }
    snap
}

fn problem(message: String) -> SourceProblem {
    SourceProblem {
        source: "host".into(),
        message,
    }
}

pub fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

//! `check`: one sample, one assessment, a Nagios exit code.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use headroom_engine::assess::Assessor;
use headroom_engine::host::{HostSource, SysHost};
use headroom_engine::snapshot::{Snapshot, SourceProblem};
use serde_json::json;

use crate::output::{item_line, perfdata};

pub async fn run(config: Option<&Path>, json: bool, no_probe: bool) -> u8 {
    let config = match crate::load_config(config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    // Probes run while the host and the mail server are read.
    let probes = if no_probe {
        Vec::new()
    } else {
        start_probes(&config.probes)
    };
    let mut snapshot = sample_once().await;
    sample_mta(&config.mta, &mut snapshot).await;
    let mut book = headroom_engine::probe::ProbeBook::new();
    for p in probes {
        match p.await {
            Ok(Ok(r)) => {
                book.record(r);
            }
            Ok(Err(problem)) => snapshot.problems.push(problem),
            Err(e) => snapshot.problems.push(SourceProblem {
                source: "probe".into(),
                message: e.to_string(),
            }),
        }
    }
    snapshot.probes = book.statuses();
    let (assessment, _) = Assessor::new().assess(&snapshot, &config.thresholds);
    if json {
        let mta = snapshot.mta.as_ref();
        let out = json!({
            "status": assessment.status,
            "mta": mta.map(|m| json!({
                "kind": m.kind, "version": m.version, "running": m.running,
                "config_source": m.config_source, "notes": m.notes, "services": m.services,
            })),
            "limits": mta.map(|m| &m.limits),
            "queue": mta.and_then(|m| m.queue.as_ref()).map(|q| {
                let d = mta.and_then(|m| m.details.as_ref());
                json!({
                    "maildrop": q.maildrop, "incoming": q.incoming, "active": q.active,
                    "deferred": q.deferred, "hold": q.hold, "oldest_age_s": q.oldest_age_s,
                    "method": q.method,
                    "top_reasons": d.map(|d| &d.top_reasons),
                    "top_domains": d.map(|d| &d.top_domains),
                })
            }),
            "host": snapshot.host,
            "items": assessment.items,
            "probes": snapshot.probes.iter().map(|p| &p.latest).collect::<Vec<_>>(),
            "problems": snapshot.problems,
        });
        // A reader that went away (`| head`) is not the check's failure: stop writing
        // quietly and keep the exit code.
        let _ = writeln!(std::io::stdout().lock(), "{out}");
    } else {
        let _ = (|| -> std::io::Result<()> {
            let mut out = std::io::stdout().lock();
            writeln!(
                out,
                "HEADROOM {} - {} | {}",
                assessment.status.as_str().to_uppercase(),
                assessment.summary(),
                perfdata(&assessment, &config.thresholds)
            )?;
            for i in &assessment.items {
                writeln!(out, "{}", item_line(i))?;
            }
            for p in &snapshot.probes {
                writeln!(out, "probe {}: {}", p.name, p.latest.summary())?;
            }
            for p in &snapshot.problems {
                writeln!(out, "could not read {}: {}", p.source, p.message)?;
            }
            out.flush()
        })();
    }
    assessment.status.exit_code() as u8
}

type ProbeTask =
    tokio::task::JoinHandle<Result<headroom_engine::probe::ProbeResult, SourceProblem>>;

/// Starts one probe per configured target; a target that does not validate becomes a
/// problem rather than a connection attempt.
fn start_probes(targets: &[headroom_engine::config::ProbeTarget]) -> Vec<ProbeTask> {
    targets
        .iter()
        .map(|t| {
            let spec = headroom_engine::probe::ProbeSpec::from_target(t).validate();
            let name = t.name.clone();
            tokio::spawn(async move {
                match spec {
                    Ok(probe) => Ok(probe.run().await),
                    Err(e) => Err(SourceProblem {
                        source: format!("probe {name}"),
                        message: e.to_string(),
                    }),
                }
            })
        })
        .collect()
}

/// Reads the mail server once and, when mail is queued, lists the queue once for
/// true ages and reasons (as the monitor's background listing would).
async fn sample_mta(config: &headroom_engine::config::MtaConfig, snap: &mut Snapshot) {
    let Some(mut source) = headroom_engine::mta::detect(config) else {
        return;
    };
    let now = snap.ts;
    let read = tokio::task::spawn_blocking(move || {
        let sample = source.sample();
        let queued = sample
            .as_ref()
            .ok()
            .and_then(|s| s.queue.as_ref())
            .map(|q| q.total());
        let details = match (queued, sample.as_ref().map(|s| s.running)) {
            (Some(0), _) | (_, Ok(false)) | (_, Err(_)) => None,
            _ => source.lister().map(|mut l| l.list(Duration::from_secs(20))),
        };
        (sample, details)
    });
    match tokio::time::timeout(Duration::from_secs(30), read).await {
        Ok(Ok((Ok(mut m), details))) => {
            match details {
                Some(Ok(d)) => {
                    if !d.complete {
                        m.notes.extend(d.note.clone());
                    }
                    headroom_engine::mta::merge_details(&mut m, Some(&d), now)
                }
                Some(Err(e)) => {
                    m.notes.push(format!("queue listing: {e}"));
                    headroom_engine::mta::merge_details(&mut m, None, now)
                }
                None => headroom_engine::mta::merge_details(&mut m, None, now),
            }
            snap.mta = Some(m);
        }
        Ok(Ok((Err(e), _))) => snap.problems.push(mta_problem(e)),
        Ok(Err(e)) => snap.problems.push(mta_problem(e.to_string())),
        Err(_) => snap.problems.push(mta_problem(
            "mail server sampling took longer than 30 s".into(),
        )),
    }
}

fn mta_problem(message: String) -> SourceProblem {
    SourceProblem {
        source: "mta".into(),
        message,
    }
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
        Err(_) => snap
            .problems
            .push(problem("host sampling took longer than 10 s".into())),
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

//! Scenario 5: a server in steady service around half its limits — sessions coming and
//! going at about half of maxproc, mail flowing through to a relayhost that accepts
//! it, the queue filesystem half full — for two and a half minutes. `watch --json` must
//! raise nothing on the mail server or its probes: an alarm that cries wolf is switched
//! off by the second week.
//!
//! Host items (CPU, load, memory, disk I/O) are printed but not judged: the test box is
//! shared with compilers and other tests, and their alarms say nothing about the mail
//! server.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use headroom_tests::load::{
    dump, is_mail_alert, now, postfix_config, Lcg, Record, Recorder, Session, SmtpServer, Watch,
    HOST_ITEMS,
};
use headroom_tests::postfix::{unavailable, Instance, Options};

const MAXPROC: usize = 20;
const WORKERS: usize = MAXPROC / 2;
const DURATION: Duration = Duration::from_secs(150);
const INTERVAL_S: f64 = 1.0;
const TMPFS_MIB: u64 = 64;

#[test]
fn steady_load_at_half_the_limits_raises_nothing() {
    if let Some(why) = unavailable() {
        headroom_tests::skip_or_fail(why);
        return;
    }
    let sink = SmtpServer::start(100_000);
    let relay = format!("relayhost=[127.0.0.1]:{}", sink.port);
    let maxproc = MAXPROC.to_string();
    let (pf, tmpfs) = Instance::start_with_tmpfs_queue(
        &Options {
            maxproc: &maxproc,
            params: &[&relay],
            ..Default::default()
        },
        TMPFS_MIB,
    );
    if !tmpfs {
        eprintln!("the queue filesystem is not filled");
    }
    if tmpfs {
        // Half of the room above the queue space threshold, filled once.
        let (_, free, ..) =
            headroom_engine::host::statvfs(&pf.queue.to_string_lossy()).expect("statvfs");
        let half = free.saturating_sub(15_360_000) / 2;
        std::fs::write(pf.queue.join("filler"), vec![0x55u8; half as usize]).expect("fill");
    }
    let watch = Watch::start(&postfix_config(&pf.etc, pf.port, INTERVAL_S));
    let recorder = Recorder::start(&pf.etc, Duration::from_secs_f64(INTERVAL_S));
    let start = now();
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let sessions = Arc::new(AtomicU64::new(0));
    let failures: Arc<Mutex<Vec<String>>> = Arc::default();
    let port = pf.port;
    // Each worker holds one session at a time for 1–4 s (a slow client), sends one or
    // two messages in it, quits, and comes back at once: about WORKERS sessions open
    // at any moment, and a new one every 0.25 s or so.
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            let (stop, sent, sessions, failures) = (
                stop.clone(),
                sent.clone(),
                sessions.clone(),
                failures.clone(),
            );
            std::thread::spawn(move || {
                let mut rng = Lcg::new(w as u64 + 1);
                let end = Instant::now() + DURATION + Duration::from_secs(30);
                while !stop.load(Ordering::Relaxed) && Instant::now() < end {
                    let mut s = match Session::open(port, Duration::from_secs(10)) {
                        Ok(s) => s,
                        Err(e) => {
                            failures
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .push(e.to_string());
                            std::thread::sleep(Duration::from_secs(1));
                            continue;
                        }
                    };
                    sessions.fetch_add(1, Ordering::Relaxed);
                    let hold = Duration::from_secs_f64(1.0 + 3.0 * rng.next());
                    let t0 = Instant::now();
                    let result = s.ehlo().map(|_| ()).and_then(|_| {
                        for m in 0..1 + (rng.next() * 2.0) as usize {
                            s.send(&format!("user{w}.{m}@steady.example"), 2000)?;
                            sent.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(())
                    });
                    if let Err(e) = result {
                        failures
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(e.to_string());
                    }
                    std::thread::sleep(hold.saturating_sub(t0.elapsed()));
                    s.quit();
                }
            })
        })
        .collect();
    std::thread::sleep(DURATION);
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        let _ = w.join();
    }
    let end = now();
    let lines = watch.stop();
    let snapshots = recorder.stop();
    Record {
        scenario: "steady",
        description: "10 clients (half of maxproc 20) in 1–4 s sessions with churn, mail relayed to an accepting sink, queue tmpfs half full, 150 s; no failure expected",
        interval_s: INTERVAL_S,
        ramp_start: start,
        failure: None,
        end,
        watch: &lines,
        snapshots: &snapshots,
    }
    .write();
    let failures = failures.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let peak = snapshots
        .iter()
        .filter_map(|s| s.mta.as_ref())
        .filter_map(|m| m.services.first().map(|s| s.processes))
        .max()
        .unwrap_or(0);
    eprintln!(
        "steady: {} sessions, {} messages relayed ({} accepted by the sink), peak {peak}/{MAXPROC} smtpd processes, {} client failures",
        sessions.load(Ordering::Relaxed),
        sent.load(Ordering::Relaxed),
        sink.accepted.load(std::sync::atomic::Ordering::Relaxed),
        failures.len()
    );
    let host: Vec<String> = lines
        .iter()
        .filter(|v| {
            HOST_ITEMS.contains(&v["item"].as_str().unwrap_or(""))
                && v["previous"] != serde_json::Value::Null
        })
        .map(|v| format!("{} {} -> {}", v["item"], v["previous"], v["level"]))
        .collect();
    if !host.is_empty() {
        eprintln!("host items (not judged, shared box): {}", host.join("; "));
    }
    assert!(
        failures.is_empty(),
        "the server failed clients: {failures:?}"
    );
    assert!(
        sent.load(Ordering::Relaxed) > 100,
        "the load ran ({} messages)",
        sent.load(Ordering::Relaxed)
    );
    let alerts: Vec<_> = lines.iter().filter(|v| is_mail_alert(v)).cloned().collect();
    assert!(
        alerts.is_empty(),
        "false alerts in a steady run:\n{}\nall lines:\n{}",
        dump(&alerts),
        dump(&lines)
    );
}

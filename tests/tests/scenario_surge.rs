//! Scenario 6: a surge after light load. Three minutes of 3–6 sessions coming and going
//! against smtpd maxproc 20, then one more held session every 1.5 s (a spam run, a bot
//! flood, a bulk send) until a client gets no banner. `headroom-cli watch --json` must
//! raise nothing on the session items during the light load, and must alert on
//! `smtpd_processes` at least half of the surge ahead of the first client left waiting.
//!
//! The one long real test of the suite (about 3.5 minutes): the light load has to last
//! long enough to be a baseline, as it would on a server.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use headroom_tests::load::{
    dump, now, postfix_config, Lcg, Record, Recorder, Refusal, Session, Watch,
};
use headroom_tests::postfix::{unavailable, Instance, Options};
use serde_json::Value;

const MAXPROC: usize = 20;
const LIGHT: Duration = Duration::from_secs(180);
/// One more held session this often once the surge starts.
const STEP: Duration = Duration::from_millis(1500);
const BANNER_WAIT: Duration = Duration::from_secs(5);
const INTERVAL_S: f64 = 1.0;
const TMPFS_MIB: u64 = 64;
/// Clients of the light load: the first three always in a session or about to open the
/// next, the other three coming and going for 5–20 s at a time.
const STEADY_CLIENTS: u64 = 3;
const OCCASIONAL_CLIENTS: u64 = 3;
/// Items a surge of sessions moves, which the light load must leave alone.
const SESSION_ITEMS: [&str; 3] = ["smtpd_processes", "accept_backlog", "client_connections"];

/// A client with no banner: when it connected, and who it was.
type Failures = Arc<Mutex<Vec<(f64, String)>>>;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One churning client: sessions of 1–4 s (EHLO, a pause, QUIT); an occasional one
/// also stays away for 5–20 s between spells of activity. Bounded by `deadline`.
fn churn(port: u16, id: u64, stop: Arc<AtomicBool>, failures: Failures, deadline: Instant) {
    let mut rng = Lcg::new(id + 11);
    let occasional = id >= STEADY_CLIENTS;
    // Every client starts active: the light load arrives at once, as the steady run's
    // does, rather than as a slow ramp that a forecast would rightly call a trend.
    let mut active_until = Instant::now() + Duration::from_secs_f64(5.0 + 15.0 * rng.next());
    while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
        if occasional && Instant::now() >= active_until {
            // Away, then active again.
            let away = Duration::from_secs_f64(5.0 + 15.0 * rng.next());
            let until = Instant::now() + away;
            while Instant::now() < until && !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
            }
            active_until = Instant::now() + Duration::from_secs_f64(5.0 + 15.0 * rng.next());
        }
        let at = now();
        match Session::open(port, BANNER_WAIT) {
            Ok(mut s) => {
                let hold = Duration::from_secs_f64(1.0 + 3.0 * rng.next());
                let t0 = Instant::now();
                let _ = s.ehlo();
                std::thread::sleep(hold.saturating_sub(t0.elapsed()));
                s.quit();
            }
            Err(Refusal::NoBanner) => {
                lock(&failures).push((at, format!("light-load client {id}: connected, no banner")));
                std::thread::sleep(Duration::from_secs(1));
            }
            Err(e) => {
                eprintln!("light-load client {id}: {e}");
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        std::thread::sleep(Duration::from_secs_f64(0.3 * rng.next()));
    }
}

fn is_alert(v: &Value) -> bool {
    matches!(v["level"].as_str(), Some("watch" | "warning" | "critical"))
}

#[test]
fn a_surge_after_light_load_is_foreseen_half_its_length_ahead() {
    if let Some(why) = unavailable() {
        headroom_tests::skip_or_fail(why);
        return;
    }
    let maxproc = MAXPROC.to_string();
    // The queue on a tmpfs of its own: the shared test box's disk (how full other work
    // leaves it) is not what this scenario is about.
    let (pf, _) = Instance::start_with_tmpfs_queue(
        &Options {
            maxproc: &maxproc,
            ..Default::default()
        },
        TMPFS_MIB,
    );
    let watch = Watch::start(&postfix_config(&pf.etc, pf.port, INTERVAL_S));
    let recorder = Recorder::start(&pf.etc, Duration::from_secs_f64(INTERVAL_S));
    let light_start = now();
    let stop = Arc::new(AtomicBool::new(false));
    let failures: Failures = Arc::default();
    // Every client gives up after the light load plus two minutes, whatever happens.
    let deadline = Instant::now() + LIGHT + Duration::from_secs(120);
    let clients: Vec<_> = (0..STEADY_CLIENTS + OCCASIONAL_CLIENTS)
        .map(|id| {
            let (stop, failures, port) = (stop.clone(), failures.clone(), pf.port);
            std::thread::spawn(move || churn(port, id, stop, failures, deadline))
        })
        .collect();
    std::thread::sleep(LIGHT);
    let light_failures = lock(&failures).clone();

    // The surge: held sessions, one per STEP, until a client (held or churning) gets no
    // banner. Bounded: at most maxproc + 10 sessions.
    let surge_start = now();
    let mut held = Vec::new();
    for k in 1..=MAXPROC + 10 {
        let t0 = Instant::now();
        let at = now();
        match Session::open(pf.port, BANNER_WAIT) {
            Ok(s) => held.push(s),
            Err(Refusal::NoBanner) => {
                lock(&failures).push((at, format!("surge session {k}: connected, no banner")));
                break;
            }
            Err(e) => panic!("surge session {k}: {e}"),
        }
        if lock(&failures).len() > light_failures.len() {
            break;
        }
        std::thread::sleep(STEP.saturating_sub(t0.elapsed()));
    }
    // Two more ticks so the record shows the server at its limit.
    std::thread::sleep(Duration::from_secs_f64(2.0 * INTERVAL_S));
    stop.store(true, Ordering::Relaxed);
    let end = now();
    let lines = watch.stop();
    let snapshots = recorder.stop();
    drop(held);
    for c in clients {
        let _ = c.join();
    }
    let failure = lock(&failures)
        .iter()
        .filter(|(at, _)| *at >= surge_start)
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .cloned();
    Record {
        scenario: "surge",
        description: "3 min of 3–6 sessions with churn, then held sessions +1 every 1.5 s against smtpd maxproc 20; failure: a client gets no banner within 5 s",
        interval_s: INTERVAL_S,
        ramp_start: surge_start,
        failure: failure.clone(),
        end,
        watch: &lines,
        snapshots: &snapshots,
    }
    .write();

    assert!(
        light_failures.is_empty(),
        "the light load itself failed clients: {light_failures:?}"
    );
    let peak_light = snapshots
        .iter()
        .filter(|s| s.ts < surge_start)
        .filter_map(|s| s.mta.as_ref()?.services.first().map(|s| s.processes))
        .max()
        .unwrap_or(0);
    let light_alerts: Vec<Value> = lines
        .iter()
        .filter(|v| v["ts"].as_f64().unwrap_or(0.0) < surge_start)
        .filter(|v| SESSION_ITEMS.contains(&v["item"].as_str().unwrap_or("")) && is_alert(v))
        .cloned()
        .collect();
    eprintln!(
        "surge: light load {:.0} s, peak {peak_light}/{MAXPROC} smtpd serving clients",
        surge_start - light_start
    );
    assert!(
        light_alerts.is_empty(),
        "alerts during the light load:\n{}\nall lines:\n{}",
        dump(&light_alerts),
        dump(&lines)
    );
    let (failure_ts, what) = failure.unwrap_or_else(|| {
        panic!(
            "{} held sessions all got a banner with maxproc {MAXPROC}",
            MAXPROC + 10
        )
    });
    let surge = failure_ts - surge_start;
    let alert = lines
        .iter()
        .find(|v| {
            v["item"] == "smtpd_processes"
                && is_alert(v)
                && v["ts"].as_f64().unwrap_or(0.0) >= surge_start
        })
        .unwrap_or_else(|| {
            panic!(
                "no alert on smtpd_processes in the {surge:.1} s surge; watch said:\n{}",
                dump(&lines)
            )
        });
    let at = alert["ts"].as_f64().unwrap_or(f64::MAX);
    let lead = failure_ts - at;
    eprintln!(
        "surge: first failure {what} {surge:.1} s into the surge; smtpd_processes {} {lead:.1} s before it ({:.0}% of the surge): {}",
        alert["level"],
        lead / surge * 100.0,
        alert["message"]
    );
    assert!(
        lead >= 0.5 * surge,
        "smtpd_processes alerted {lead:.1} s before the failure, less than half the {surge:.1} s surge; watch said:\n{}",
        dump(&lines)
    );
}

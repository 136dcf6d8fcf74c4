//! Scenario 1: clients pile up against a small smtpd maxproc until a new client gets no
//! banner. `headroom-cli watch --json` must raise an alert on the mail server well
//! before that first client is left waiting.

use std::time::Duration;

use headroom_tests::load::{assert_lead, now, postfix_config, Record, Recorder, Session, Watch};
use headroom_tests::postfix::{unavailable, Instance, Options};

const MAXPROC: usize = 20;
/// One more held session this often: the ramp to the 21st client takes about a minute.
const STEP: Duration = Duration::from_secs(3);
const BANNER_WAIT: Duration = Duration::from_secs(5);
const INTERVAL_S: f64 = 1.0;
const TMPFS_MIB: u64 = 64;

#[test]
fn sessions_ramping_to_maxproc_are_foreseen_before_a_client_gets_no_banner() {
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
    let ramp_start = now();
    let mut held = Vec::new();
    let mut failure = None;
    // Bounded: at most maxproc + 10 sessions, each step at most STEP + BANNER_WAIT.
    for k in 1..=MAXPROC + 10 {
        let t0 = std::time::Instant::now();
        let at = now();
        match Session::open(pf.port, BANNER_WAIT) {
            Ok(s) => held.push(s),
            Err(why) => {
                failure = Some((at, format!("session {k}: {why}")));
                break;
            }
        }
        std::thread::sleep(STEP.saturating_sub(t0.elapsed()));
    }
    // Two more ticks so the record shows the server at its limit.
    std::thread::sleep(Duration::from_secs_f64(2.0 * INTERVAL_S));
    let end = now();
    let lines = watch.stop();
    let snapshots = recorder.stop();
    drop(held);
    let (failure_ts, what) = failure.clone().unwrap_or_else(|| {
        panic!(
            "{} sessions all got a banner with maxproc {MAXPROC}",
            MAXPROC + 10
        )
    });
    eprintln!("first failure: {what}");
    Record {
        scenario: "connections",
        description: "held sessions +1 every 3 s against smtpd maxproc 20; failure: a new client gets no banner within 5 s",
        interval_s: INTERVAL_S,
        ramp_start,
        failure: failure.clone(),
        end,
        watch: &lines,
        snapshots: &snapshots,
    }
    .write();
    assert!(
        what.contains("no banner"),
        "Postfix leaves the client waiting: {what}"
    );
    assert_lead("connections", &lines, ramp_start, failure_ts, 0.25);
}

//! Scenario 4: a probe target that answers well, then starts answering
//! `421 4.3.2 System not accepting network messages`. `watch --json` must turn
//! probe_failures critical within one probe interval: at the first 421, not after
//! three failures in a row.

use std::time::Duration;

use headroom_tests::bins::wait_for;
use headroom_tests::load::{dump, now, Record, SmtpServer, Watch};

const PROBE_INTERVAL_S: f64 = 2.0;
const INTERVAL_S: f64 = 0.5;

#[test]
fn a_target_that_starts_answering_421_is_critical_within_one_probe_interval() {
    let server = SmtpServer::start(200);
    let config = format!(
        "[monitor]\ninterval_secs = {INTERVAL_S}\n\n[mta]\nkind = \"none\"\n\n\
         [[probe]]\nname = \"mx\"\nhost = \"127.0.0.1\"\nport = {}\n\
         interval_secs = {PROBE_INTERVAL_S}\ntimeout_secs = 2\n",
        server.port
    );
    let watch = Watch::start(&config);
    // Healthy first: three probes answered well and the item is ok.
    let healthy = wait_for(Duration::from_secs(30), || {
        watch
            .first(|v| v["item"] == "probe_failures" && v["level"] == "ok")
            .filter(|_| server.accepted_sessions() >= 3)
    });
    assert!(
        healthy.is_some(),
        "no healthy probes in 30 s:\n{}",
        dump(&watch.lines())
    );
    let flip = now();
    server.turn_busy();
    let critical = wait_for(
        Duration::from_secs_f64(PROBE_INTERVAL_S * 5.0 + 10.0),
        || {
            watch.first(|v| {
                v["item"] == "probe_failures"
                    && v["level"] == "critical"
                    && v["ts"].as_f64().unwrap_or(0.0) >= flip
            })
        },
    );
    // One more probe interval so the record shows what followed.
    std::thread::sleep(Duration::from_secs_f64(PROBE_INTERVAL_S));
    let end = now();
    let lines = watch.stop();
    let refusals = server.refusals();
    let first_421 = refusals.first().copied();
    Record {
        scenario: "probe_421",
        description:
            "probe target (every 2 s) turns to 421 4.3.2 at the banner; failure: its first 421",
        interval_s: INTERVAL_S,
        ramp_start: flip,
        failure: first_421.map(|t| (t, "421 4.3.2 System not accepting network messages".into())),
        end,
        watch: &lines,
        snapshots: &[],
    }
    .write();
    let critical = critical.unwrap_or_else(|| {
        panic!(
            "probe_failures never turned critical after the target turned to 421:\n{}",
            dump(&lines)
        )
    });
    let at = critical["ts"].as_f64().unwrap_or(0.0);
    let first_421 = first_421.expect("the target answered 421");
    // Critical at the tick after the first 421: no second 421 in between. That is
    // "within one probe interval" without timing a loaded box against the wall clock.
    let refused_before = refusals.iter().filter(|t| **t <= at).count();
    eprintln!(
        "probe_421: first 421 {:.2} s after the flip, critical {:.2} s after it ({} refusal(s) by then)",
        first_421 - flip,
        at - first_421,
        refused_before
    );
    assert!(at >= first_421, "critical before any 421?");
    assert_eq!(
        refused_before, 1,
        "critical after the first 421, not after the failures piled up"
    );
    assert!(
        critical["message"]
            .as_str()
            .is_some_and(|m| m.contains("421 4.3.2")),
        "the alert says what the server answered: {critical}"
    );
}

//! Scenario 2: the queue filesystem fills toward Postfix's queue space threshold,
//! max(queue_minfree, 1.5 × message_size_limit), until MAIL FROM is answered
//! `452 4.3.1 Insufficient system storage`. `watch --json` must alert well before.
//!
//! As root the queue is a small tmpfs filled a megabyte at a time. Where a tmpfs cannot
//! be mounted, queue_minfree is stepped up instead (the room shrinks from the other
//! side), which needs no privilege beyond running the instance.

use std::time::{Duration, Instant};

use headroom_tests::load::{
    assert_lead, now, postfix_config, Record, Recorder, Refusal, Session, Watch,
};
use headroom_tests::postfix::{unavailable, Instance, Options};

const INTERVAL_S: f64 = 1.0;
const TMPFS_MIB: u64 = 64;
const MAX_STEPS: usize = 120;

#[test]
fn a_filling_queue_filesystem_is_foreseen_before_mail_from_gets_452() {
    if let Some(why) = unavailable() {
        headroom_tests::skip_or_fail(why);
        return;
    }
    // HEADROOM_SCENARIO_NO_TMPFS=1 runs the unprivileged variant on purpose.
    let want_tmpfs = std::env::var_os("HEADROOM_SCENARIO_NO_TMPFS").is_none();
    let (pf, tmpfs) = match Instance::start(&Options {
        tmpfs_queue_mib: want_tmpfs.then_some(TMPFS_MIB),
        ..Default::default()
    }) {
        Ok(pf) if !want_tmpfs => (pf, false),
        Ok(pf) => (pf, true),
        Err(e) if e.contains("mount") => {
            eprintln!("no tmpfs queue here ({e}); stepping queue_minfree up instead");
            (
                Instance::start(&Options::default()).expect("private postfix starts"),
                false,
            )
        }
        Err(e) => panic!("{e}"),
    };
    let queue = pf.queue.to_string_lossy().into_owned();
    let (_, free0, ..) = headroom_engine::host::statvfs(&queue).expect("statvfs");
    let threshold: u64 = 15_360_000;
    // Steps that take the free space (or raise the threshold) past the threshold in
    // about 50 of them.
    let room = free0.saturating_sub(threshold);
    // Without tmpfs each step is a `postfix reload` (about 2 s here): fewer, slower
    // steps.
    let (step, period) = if tmpfs {
        (1 << 20, Duration::from_secs(1))
    } else {
        ((room / 25).max(1 << 20), Duration::from_secs(4))
    };
    let watch = Watch::start(&postfix_config(&pf.etc, pf.port, INTERVAL_S));
    let recorder = Recorder::start(&pf.etc, Duration::from_secs_f64(INTERVAL_S));
    let ramp_start = now();
    let mut failure = None;
    let mut filler = Vec::new();
    for k in 1..=MAX_STEPS {
        let t0 = Instant::now();
        let at = now();
        // A new session each time: an smtpd that was running before a reload keeps
        // the old queue_minfree until its session ends.
        let mut client = Session::open(pf.port, Duration::from_secs(10)).expect("session");
        client.ehlo().expect("EHLO");
        match client.command("MAIL FROM:<fill@headroom.test>", '2') {
            Ok(_) => client.quit(),
            Err(Refusal::Reply(r)) => {
                failure = Some((at, format!("step {k}: MAIL FROM answered {r}")));
                break;
            }
            Err(e) => panic!("step {k}: {e}"),
        }
        if tmpfs {
            let path = pf.queue.join(format!("filler-{k}"));
            // A full tmpfs refuses the write: that is the end of the ramp too.
            if std::fs::write(&path, vec![0x55u8; step as usize]).is_ok() {
                filler.push(path);
            }
        } else {
            let minfree = format!("queue_minfree={}", step * k as u64);
            pf.set(&[&minfree]).expect("raise queue_minfree");
        }
        std::thread::sleep(period.saturating_sub(t0.elapsed()));
    }
    std::thread::sleep(Duration::from_secs_f64(2.0 * INTERVAL_S));
    let end = now();
    let lines = watch.stop();
    let snapshots = recorder.stop();
    for f in filler {
        let _ = std::fs::remove_file(f);
    }
    let (failure_ts, what) = failure
        .clone()
        .unwrap_or_else(|| panic!("MAIL FROM still accepted after {MAX_STEPS} steps"));
    eprintln!("first failure: {what}");
    Record {
        scenario: "queue_disk",
        description: if tmpfs {
            "64 MiB tmpfs queue filled 1 MiB a second; failure: MAIL FROM answered 452 4.3.1"
        } else {
            "queue_minfree raised a step every 4 s (postfix reload); failure: MAIL FROM answered 452 4.3.1"
        },
        interval_s: INTERVAL_S,
        ramp_start,
        failure: failure.clone(),
        end,
        watch: &lines,
        snapshots: &snapshots,
    }
    .write();
    assert!(what.contains("452 4.3.1"), "{what}");
    assert_lead("queue_disk", &lines, ramp_start, failure_ts, 0.25);
}

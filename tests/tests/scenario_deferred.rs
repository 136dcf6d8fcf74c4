//! Scenario 3: the deferred queue grows fast (every message goes to a relayhost on a
//! closed loopback port) on a queue filesystem with few inodes left, until Postfix can
//! no longer create a queue file and refuses mail. `watch --json` must alert well
//! before the first refusal.
//!
//! Needs a tmpfs queue whose inode count can be capped (root with CAP_SYS_ADMIN):
//! elsewhere a growing deferred queue never turns into a refusal within a test's time,
//! so the test says why and skips (fails under HEADROOM_REQUIRE_ALL=1, as in make test).

use std::time::{Duration, Instant};

use headroom_tests::load::{
    assert_lead, now, postfix_config, Record, Recorder, Refusal, Session, Watch,
};
use headroom_tests::postfix::{run, unavailable, Instance, Options};

const INTERVAL_S: f64 = 1.0;
/// Messages a second, and how many the capped inodes leave room for.
const RATE: f64 = 20.0;
const ROOM_MESSAGES: u64 = 700;
const MAX_MESSAGES: u64 = 3 * ROOM_MESSAGES;
/// A client that waits this long for a reply has been failed: when no inode is left,
/// Postfix's cleanup retries the queue file forever and smtpd answers nothing.
const REPLY_WAIT: Duration = Duration::from_secs(10);

#[test]
fn a_fast_growing_deferred_queue_is_foreseen_before_postfix_refuses_mail() {
    if let Some(why) = unavailable() {
        headroom_tests::skip_or_fail(why);
        return;
    }
    let pf = match Instance::start(&Options {
        tmpfs_queue_mib: Some(128),
        ..Default::default()
    }) {
        Ok(pf) => pf,
        Err(e) if e.contains("mount") => {
            headroom_tests::skip_or_fail(format!(
                "cannot mount a tmpfs queue with few inodes here: {e}"
            ));
            return;
        }
        Err(e) => panic!("{e}"),
    };
    let queue = pf.queue.to_string_lossy().into_owned();
    let (_, _, files, free_files) = headroom_engine::host::statvfs(&queue).expect("statvfs");
    // Room for the hashed queue subdirectories, then two inodes per deferred message
    // (its queue file and its defer log).
    let cap = files - free_files + 64 + 2 * ROOM_MESSAGES;
    if let Err(e) = run(
        "/usr/bin/mount",
        &["-o", &format!("remount,nr_inodes={cap}"), &queue],
    ) {
        headroom_tests::skip_or_fail(format!("cannot cap the inodes of the tmpfs queue: {e}"));
        return;
    }
    let watch = Watch::start(&postfix_config(&pf.etc, pf.port, INTERVAL_S));
    let recorder = Recorder::start(&pf.etc, Duration::from_secs_f64(INTERVAL_S));
    let ramp_start = now();
    let started = Instant::now();
    let mut failure = None;
    let mut session: Option<Session> = None;
    let mut reconnects = 0;
    for k in 0..MAX_MESSAGES {
        // Paced against the start, so a slow reply does not slow the ramp for good.
        let due = Duration::from_secs_f64(k as f64 / RATE);
        std::thread::sleep(due.saturating_sub(started.elapsed()));
        let at = now();
        let s = match session.as_mut() {
            Some(s) => s,
            None => match Session::open(pf.port, Duration::from_secs(10)) {
                Ok(mut s) => match s.ehlo() {
                    Ok(_) => {
                        s.set_reply_wait(REPLY_WAIT);
                        session.insert(s)
                    }
                    Err(e) => {
                        failure = Some((at, format!("message {k}: EHLO: {e}")));
                        break;
                    }
                },
                Err(e) => {
                    failure = Some((at, format!("message {k}: {e}")));
                    break;
                }
            },
        };
        match s.send(&format!("user{k}@deferred{}.example", k % 7), 600) {
            Ok(()) => {}
            Err(e @ (Refusal::Reply(_) | Refusal::NoReply(_))) => {
                failure = Some((at, format!("message {k}: {e}")));
                break;
            }
            // A dropped session is retried once with a new one; a second is a failure.
            Err(Refusal::Io(e)) if reconnects == 0 => {
                eprintln!("message {k}: session ended ({e}); reconnecting");
                reconnects += 1;
                session = None;
            }
            Err(e) => {
                failure = Some((at, format!("message {k}: {e}")));
                break;
            }
        }
    }
    std::thread::sleep(Duration::from_secs_f64(2.0 * INTERVAL_S));
    let end = now();
    let lines = watch.stop();
    let snapshots = recorder.stop();
    if let Some(s) = session {
        s.quit();
    }
    let (failure_ts, what) = failure.clone().unwrap_or_else(|| {
        panic!("{MAX_MESSAGES} messages accepted with inodes for {ROOM_MESSAGES}")
    });
    eprintln!(
        "first failure: {what}; deferred per postqueue: {}",
        pf.postqueue_deferred()
    );
    Record {
        scenario: "deferred",
        description: "20 msg/s to a relayhost on a closed port (all deferred), tmpfs queue with inodes for ~700 messages; failure: a message refused or left without a reply for 10 s",
        interval_s: INTERVAL_S,
        ramp_start,
        failure: failure.clone(),
        end,
        watch: &lines,
        snapshots: &snapshots,
    }
    .write();
    assert!(
        what.contains(": 4") || what.contains("no reply"),
        "a temporary refusal or a stuck dialogue: {what}"
    );
    assert_lead("deferred", &lines, ramp_start, failure_ts, 0.25);
}

//! queue_disk turns critical when Postfix's own threshold, max(queue_minfree,
//! 1.5 × message_size_limit), exceeds the free space of the queue filesystem — and
//! Postfix indeed answers 452 4.3.1 then.

use headroom_engine::assess::{Assessor, Level};
use headroom_engine::config::Thresholds;
use headroom_engine::mta::postfix::Postfix;
use headroom_engine::mta::MtaSource;
use headroom_engine::snapshot::Snapshot;
use headroom_tests::postfix::{unavailable, Instance, Options};

fn queue_disk(pf: &Instance) -> headroom_engine::assess::Item {
    let s = Postfix::new(Some(pf.etc.clone())).sample().expect("sample");
    let snap = Snapshot {
        ts: 1.0,
        mta: Some(s),
        ..Default::default()
    };
    let (a, _) = Assessor::new().assess(&snap, &Thresholds::default());
    a.items
        .into_iter()
        .find(|i| i.id == "queue_disk")
        .expect("queue_disk")
}

fn mail_from(pf: &Instance) -> String {
    let (mut s, banner) = pf.connect().expect("connect");
    assert!(banner.starts_with("220"), "{banner}");
    Instance::command(&mut s, "EHLO headroom.test").expect("ehlo");
    Instance::command(&mut s, "MAIL FROM:<a@headroom.test>").expect("mail")
}

#[test]
fn queue_disk_is_critical_when_queue_minfree_exceeds_free_space() {
    if let Some(why) = unavailable() {
        headroom_tests::skip_or_fail(why);
        return;
    }
    let pf = Instance::start(&Options::default()).expect("private postfix starts");
    // The queue sits on this machine's disk: how full it is decides ok or warning,
    // but with the default threshold it is not refusing mail.
    let before = queue_disk(&pf);
    assert_ne!(before.level, Level::Critical, "{before:?}");
    assert!(
        mail_from(&pf).starts_with("250"),
        "Postfix accepts mail before"
    );
    let (_, free, ..) =
        headroom_engine::host::statvfs(&pf.queue.to_string_lossy()).expect("statvfs");
    let minfree = format!("queue_minfree={}", free + 2_000_000_000);
    pf.set(&[&minfree]).expect("raise queue_minfree");
    let item = queue_disk(&pf);
    assert_eq!(item.level, Level::Critical, "{item:?}");
    assert!(mail_from(&pf).starts_with("452 4.3.1"), "Postfix agrees");
}

#[test]
fn queue_disk_is_critical_on_a_nearly_full_tmpfs_queue() {
    if let Some(why) = unavailable() {
        headroom_tests::skip_or_fail(why);
        return;
    }
    let pf = match Instance::start(&Options {
        tmpfs_queue_mib: Some(40),
        ..Default::default()
    }) {
        Ok(pf) => pf,
        Err(e) if e.contains("mount") => {
            headroom_tests::skip_or_fail(format!(
                "cannot mount a tmpfs queue here (needs CAP_SYS_ADMIN): {e}"
            ));
            return;
        }
        Err(e) => panic!("{e}"),
    };
    let item = queue_disk(&pf);
    assert_eq!(item.level, Level::Ok, "{item:?}");
    // Leave 10 MiB free: below the default threshold of 15,360,000 bytes.
    let (_, free, ..) =
        headroom_engine::host::statvfs(&pf.queue.to_string_lossy()).expect("statvfs");
    let fill = free.saturating_sub(10 << 20);
    std::fs::write(pf.queue.join("filler"), vec![0u8; fill as usize]).expect("fill tmpfs");
    let item = queue_disk(&pf);
    assert_eq!(item.level, Level::Critical, "{item:?}");
    assert!(item.detail.contains("threshold"), "{}", item.detail);
    assert!(mail_from(&pf).starts_with("452 4.3.1"), "Postfix agrees");
}

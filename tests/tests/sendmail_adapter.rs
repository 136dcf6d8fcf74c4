//! The Sendmail adapter against a real Sendmail (unpacked with dpkg -x, sendmail.cf
//! built with m4, `-C` daemon on a loopback port): limits equal the cf's options, the
//! queue count equals the messages injected, and the sessions the test holds are the
//! daemon's children against MaxDaemonChildren.

use std::time::Duration;

use headroom_engine::assess::{Assessor, Level};
use headroom_engine::config::Thresholds;
use headroom_engine::mta::sendmail::Sendmail as Source;
use headroom_engine::mta::MtaSource;
use headroom_engine::snapshot::Snapshot;
use headroom_tests::bins::wait_for;
use headroom_tests::sendmail::{unavailable, Sendmail};

#[test]
fn sendmail_limits_queue_and_children() {
    if let Some(why) = unavailable() {
        headroom_tests::skip_or_fail(why);
        return;
    }
    const MAX: u64 = 4;
    let sm = Sendmail::start(&[
        ("confMAX_DAEMON_CHILDREN", "4"),
        ("confMIN_FREE_BLOCKS", "300"),
        ("confREFUSE_LA", "80"),
        ("confQUEUE_LA", "50"),
        ("confCONNECTION_RATE_THROTTLE", "7"),
        ("confMAX_MESSAGE_SIZE", "2000000"),
    ])
    .expect("private sendmail starts");
    let mut src = Source::with_config(sm.cf.clone());
    let s = src.sample().expect("sample");
    assert!(s.is_running(), "notes {:?}", s.notes);
    let l = |k: &str| s.limits.get(k).copied().flatten();
    assert_eq!(l("MaxDaemonChildren"), Some(MAX));
    assert_eq!(l("MinFreeBlocks"), Some(300));
    assert_eq!(l("RefuseLA"), Some(80));
    assert_eq!(l("QueueLA"), Some(50));
    assert_eq!(l("ConnectionRateThrottle"), Some(7));
    assert_eq!(l("MaxMessageSize"), Some(2_000_000));
    assert!(l("queue_space_threshold").is_some_and(|t| t >= 300 * 512));
    let svc = &s.services[0];
    assert_eq!((svc.port, svc.listening), (Some(sm.port), true));
    assert_eq!(
        s.queue_fs.as_ref().map(|f| f.path.clone()),
        Some(sm.queue.display().to_string())
    );

    sm.inject(3).expect("inject");
    // Each message defers (closed relay port) and stays as a qf file; the delivery
    // children are gone once that happened.
    let s = wait_for(Duration::from_secs(30), || {
        src.sample().ok().filter(|s| {
            s.queue.as_ref().and_then(|q| q.deferred) == Some(3) && s.services[0].processes == 0
        })
    })
    .unwrap_or_else(|| panic!("3 queued messages never counted: {:?}", src.sample()));
    assert_eq!(s.queue.map(|q| q.method.as_str()), Some("directory"));

    let mut held = Vec::new();
    for k in 1..=MAX {
        let (c, banner) = sm.connect().expect("connect");
        assert!(banner.starts_with("220"), "{banner}");
        held.push(c);
        let s = wait_for(Duration::from_secs(5), || {
            src.sample().ok().filter(|s| s.services[0].processes == k)
        })
        .unwrap_or_else(|| panic!("{k} children never counted: {:?}", src.sample()));
        let svc = &s.services[0];
        assert_eq!(svc.connections, k);
        assert_eq!(svc.top_peer.as_deref(), Some("127.0.0.1"));
        let snap = Snapshot {
            ts: 1.0,
            mta: Some(s.clone()),
            ..Default::default()
        };
        let (a, _) = Assessor::new().assess(&snap, &Thresholds::default());
        let p = a
            .items
            .iter()
            .find(|i| i.id == "smtpd_processes")
            .expect("item");
        assert_eq!((p.used, p.limit), (Some(k as f64), Some(MAX as f64)));
        if k == MAX {
            assert_eq!(p.level, Level::Critical, "no room for another session");
        }
    }
    drop(held);
}

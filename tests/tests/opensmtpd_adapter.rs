//! The OpenSMTPD adapter against a real OpenSMTPD (unpacked with dpkg -x, own
//! smtpd.conf, loopback port): the queued envelopes equal what was injected, the
//! sessions the test holds are counted per listener and per peer, and the queue
//! filesystem is the compiled-in spool. OpenSMTPD has no configurable session limit,
//! so none is reported.

use headroom_engine::mta::opensmtpd::OpenSmtpd as Source;
use headroom_engine::mta::MtaSource;
use headroom_tests::bins::wait_for;
use headroom_tests::opensmtpd::{unavailable, OpenSmtpd, SPOOL};
use std::time::Duration;

#[test]
fn opensmtpd_queue_sessions_and_spool() {
    if let Some(why) = unavailable() {
        headroom_tests::skip_or_fail(why);
        return;
    }
    let os = OpenSmtpd::start().expect("private OpenSMTPD starts");
    let mut src = Source::with_programs(os.smtpctl(), os.conf.clone());
    let s = src.sample().expect("sample");
    assert!(s.is_running(), "notes {:?}\nlog {}", s.notes, os.log());
    let svc = &s.services[0];
    assert_eq!(svc.port, Some(os.port));
    assert!(svc.listening);
    assert_eq!((svc.connections, svc.process_limit.value), (0, None));
    assert_eq!(s.queue.as_ref().and_then(|q| q.deferred), Some(0));
    assert_eq!(s.queue_fs.as_ref().map(|f| f.path.as_str()), Some(SPOOL));

    os.inject(4).expect("inject");
    // Envelopes stay queued: the relay host is a closed port.
    let s = wait_for(Duration::from_secs(10), || {
        src.sample()
            .ok()
            .filter(|s| s.queue.as_ref().and_then(|q| q.deferred) == Some(4))
    })
    .unwrap_or_else(|| panic!("4 envelopes never counted: {:?}", src.sample()));
    assert_eq!(
        s.queue.map(|q| q.method.as_str()),
        Some("smtpctl show stats")
    );

    let held: Vec<_> = (0..3)
        .map(|_| {
            let (c, banner) = os.connect().expect("connect");
            assert!(banner.starts_with("220"), "{banner}");
            c
        })
        .collect();
    let s = src.sample().expect("sample");
    let svc = &s.services[0];
    assert_eq!(svc.connections, 3, "{svc:?}");
    assert_eq!(svc.processes, 3);
    assert_eq!(svc.top_peer.as_deref(), Some("127.0.0.1"));
    assert_eq!(svc.top_peer_connections, 3);
    drop(held);
}

//! smtpd processes and per-client connections while the test holds K sessions; the
//! client_connections item turns critical exactly when the next connection would be
//! answered `421 4.7.0 … too many connections`.

use headroom_engine::assess::{Assessor, Level};
use headroom_engine::config::Thresholds;
use headroom_engine::mta::postfix::Postfix;
use headroom_engine::mta::MtaSource;
use headroom_engine::snapshot::Snapshot;
use headroom_tests::postfix::{unavailable, Instance, Options};

const LIMIT: usize = 4;

fn items(
    source: &mut Postfix,
) -> (
    headroom_engine::mta::MtaSample,
    Vec<headroom_engine::assess::Item>,
) {
    let s = source.sample().expect("sample");
    let snap = Snapshot {
        ts: 1.0,
        mta: Some(s.clone()),
        ..Default::default()
    };
    let (a, _) = Assessor::new().assess(&snap, &Thresholds::default());
    (s, a.items)
}

fn item<'a>(
    items: &'a [headroom_engine::assess::Item],
    id: &str,
) -> &'a headroom_engine::assess::Item {
    items
        .iter()
        .find(|i| i.id == id)
        .unwrap_or_else(|| panic!("{id} missing"))
}

#[test]
fn per_client_item_is_critical_exactly_when_the_next_connection_gets_421() {
    if let Some(why) = unavailable() {
        headroom_tests::skip_or_fail(why);
        return;
    }
    let limit = format!("smtpd_client_connection_count_limit={LIMIT}");
    let pf = Instance::start(&Options {
        maxproc: "10",
        // 127.0.0.1 is in mynetworks, which is exempt by default: make it count.
        params: &[&limit, "smtpd_client_event_limit_exceptions="],
        ..Default::default()
    })
    .expect("private postfix starts");
    let mut source = Postfix::new(Some(pf.etc.clone()));
    let mut held = Vec::new();
    for k in 1..=LIMIT {
        let (s, banner) = pf.connect().expect("connect");
        assert!(banner.starts_with("220"), "session {k}: {banner}");
        held.push(s);
        let (sample, items) = items(&mut source);
        let svc = &sample.services[0];
        assert_eq!(svc.processes, k as u64, "smtpd processes while holding {k}");
        assert_eq!(svc.top_limited_peer_connections, k as u64);
        assert_eq!(svc.top_limited_peer.as_deref(), Some("127.0.0.1"));
        let p = item(&items, "smtpd_processes");
        assert_eq!((p.used, p.limit), (Some(k as f64), Some(10.0)));
        let c = item(&items, "client_connections");
        assert_eq!((c.used, c.limit), (Some(k as f64), Some(LIMIT as f64)));
        if k < LIMIT {
            assert_ne!(
                c.level,
                Level::Critical,
                "{k}/{LIMIT}: the next one still gets a banner"
            );
        } else {
            assert_eq!(
                c.level,
                Level::Critical,
                "{k}/{LIMIT}: the next one is refused"
            );
        }
    }
    // The next connection is refused by Postfix itself.
    let (_s, reply) = pf.connect().expect("connect");
    assert!(
        reply.starts_with("421 4.7.0") && reply.contains("too many connections"),
        "{reply}"
    );
    // One fewer held: room again (after the refused session has gone).
    drop(held.pop());
    drop(_s);
    std::thread::sleep(std::time::Duration::from_millis(500));
    let (_, banner) = pf.connect().expect("connect");
    assert!(banner.starts_with("220"), "{banner}");
}

/// `smtpd_processes` counts the smtpd processes that hold a client connection, not the
/// ones Postfix keeps idle for up to max_idle after their session: a burst of 15
/// sessions that all end falls back within a tick while the idle processes remain.
#[test]
fn a_burst_that_ends_leaves_idle_processes_counted_as_room_not_use() {
    if let Some(why) = unavailable() {
        headroom_tests::skip_or_fail(why);
        return;
    }
    let pf = Instance::start(&Options {
        maxproc: "20",
        ..Default::default()
    })
    .expect("private postfix starts");
    let mut source = Postfix::new(Some(pf.etc.clone()));
    let mut held = Vec::new();
    for k in 1..=15 {
        let (s, banner) = pf.connect().expect("connect");
        assert!(banner.starts_with("220"), "session {k}: {banner}");
        held.push(s);
    }
    let (sample, busy_items) = items(&mut source);
    let svc = &sample.services[0];
    assert_eq!((svc.processes, svc.idle_processes), (15, 0), "{svc:?}");
    assert_eq!(item(&busy_items, "smtpd_processes").used, Some(15.0));

    // Every client leaves; the smtpd processes stay up, waiting for the next.
    for mut s in held.drain(..) {
        let _ = std::io::Write::write_all(&mut s, b"QUIT\r\n");
    }
    let settled = headroom_tests::bins::wait_for(std::time::Duration::from_secs(5), || {
        let (sample, now) = items(&mut source);
        let svc = sample.services[0].clone();
        (svc.processes == 0).then_some((svc, now))
    });
    let (svc, after) = settled.expect("no process serves a client once they all left");
    assert!(
        svc.idle_processes >= 10,
        "the idle processes remain as room: {svc:?}"
    );
    let p = item(&after, "smtpd_processes");
    assert_eq!(p.used, Some(0.0), "{p:?}");
    assert!(p.detail.contains("idle smtpd processes"), "{}", p.detail);
}

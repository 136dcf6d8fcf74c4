//! Limits read from a real Postfix equal what `postconf -c ETC` says, after the test
//! changes them, including a non-default maxproc and a `-` (default_process_limit) in
//! master.cf.

use headroom_engine::mta::postfix::Postfix;
use headroom_engine::mta::MtaSource;
use headroom_tests::postfix::{unavailable, Instance, Options};

#[test]
fn limits_equal_postconf_after_changing_them() {
    if let Some(why) = unavailable() {
        headroom_tests::skip_or_fail(why);
        return;
    }
    let pf = Instance::start(&Options {
        maxproc: "7",
        params: &[
            "default_process_limit=42",
            "smtpd_client_connection_count_limit=13",
            "smtpd_client_connection_rate_limit=17",
            "queue_minfree=123456789",
            "message_size_limit=2000000",
            "qmgr_message_active_limit=777",
            "maximal_queue_lifetime=2d",
        ],
        master_lines: &["127.0.0.1:{PORT2} inet n - n - - smtpd"],
        ..Default::default()
    })
    .expect("private postfix starts");
    let mut source = Postfix::new(Some(pf.etc.clone()));
    let s = source.sample().expect("sample");
    assert_eq!(s.kind.as_str(), "postfix");
    assert!(s.is_running(), "notes: {:?}", s.notes);
    assert_eq!(
        s.version.as_deref(),
        Some(pf.postconf("mail_version").as_str())
    );
    let l = |k: &str| s.limits.get(k).copied().flatten();
    for p in [
        "default_process_limit",
        "smtpd_client_connection_count_limit",
        "smtpd_client_connection_rate_limit",
        "queue_minfree",
        "message_size_limit",
        "qmgr_message_active_limit",
    ] {
        assert_eq!(l(p), pf.postconf(p).parse().ok(), "{p}");
    }
    assert_eq!(l("default_process_limit"), Some(42));
    assert_eq!(l(&format!("127.0.0.1:{}_process_limit", pf.port)), Some(7));
    // The second service says '-': default_process_limit applies.
    let second = s
        .services
        .iter()
        .find(|x| x.name != format!("127.0.0.1:{}", pf.port))
        .expect("second smtpd service");
    assert_eq!(second.process_limit.value, Some(42));
    assert!(second
        .process_limit
        .parameter
        .contains("default_process_limit"));
    // max(queue_minfree, 1.5 × message_size_limit)
    assert_eq!(l("queue_space_threshold"), Some(123_456_789));
    assert_eq!(l("maximal_queue_lifetime"), Some(2 * 86400));

    // Change them on the running instance: the source follows main.cf and master.cf.
    std::thread::sleep(std::time::Duration::from_millis(1100)); // new mtime
    pf.set(&["smtpd_client_connection_count_limit=3", "queue_minfree=0"])
        .expect("postconf -e");
    let etc = pf.etc_str();
    headroom_tests::postfix::run(
        "/usr/sbin/postconf",
        &[
            "-c",
            &etc,
            "-F",
            &format!("127.0.0.1:{}/inet/process_limit=11", pf.port),
        ],
    )
    .expect("postconf -F set maxproc");
    let s = source.sample().expect("sample after change");
    let l = |k: &str| s.limits.get(k).copied().flatten();
    assert_eq!(l("smtpd_client_connection_count_limit"), Some(3));
    assert_eq!(l(&format!("127.0.0.1:{}_process_limit", pf.port)), Some(11));
    assert_eq!(l("queue_space_threshold"), Some(3_000_000));
}

#[test]
fn a_stopped_postfix_is_a_critical_down_state_not_an_error() {
    if let Some(why) = unavailable() {
        headroom_tests::skip_or_fail(why);
        return;
    }
    let pf = Instance::start(&Options::default()).expect("private postfix starts");
    pf.stop();
    // `postfix stop` returns before the master has exited.
    let mut source = Postfix::new(Some(pf.etc.clone()));
    let s = headroom_tests::bins::wait_for(std::time::Duration::from_secs(10), || {
        source.sample().ok().filter(|s| !s.is_running())
    })
    .expect("the stopped instance reads as not running");
    let snap = headroom_engine::snapshot::Snapshot {
        ts: 1.0,
        mta: Some(s),
        ..Default::default()
    };
    let (a, _) = headroom_engine::assess::Assessor::new()
        .assess(&snap, &headroom_engine::config::Thresholds::default());
    let p = a
        .items
        .iter()
        .find(|i| i.id == "smtpd_processes")
        .expect("item");
    assert_eq!(p.level, headroom_engine::assess::Level::Critical);
    assert!(p.detail.starts_with("mail system is down"), "{}", p.detail);
}

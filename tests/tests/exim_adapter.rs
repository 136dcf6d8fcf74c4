//! The Exim adapter against a real Exim (unpacked with dpkg -x, own config, loopback
//! port): limits equal `exim -bP`, spool counts are exact, and the per-host item is
//! critical exactly when Exim answers the next connection with 421.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::time::Duration;

use headroom_engine::assess::{Assessor, Level};
use headroom_engine::config::Thresholds;
use headroom_engine::mta::exim::Exim as EximSource;
use headroom_engine::mta::MtaSource;
use headroom_engine::snapshot::Snapshot;
use headroom_tests::exim::Exim;

fn start(settings: &[&str]) -> Option<Exim> {
    match Exim::start(settings) {
        Ok(e) => Some(e),
        Err(e) if e.contains("need root") || e.contains("apt-get") => {
            headroom_tests::skip_or_fail(e);
            None
        }
        Err(e) => panic!("{e}"),
    }
}

fn banner(port: u16) -> (TcpStream, String) {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut line = String::new();
    BufReader::new(s.try_clone().expect("clone"))
        .read_line(&mut line)
        .expect("banner");
    (s, line.trim_end().to_string())
}

#[test]
fn exim_limits_spool_and_per_host_connections() {
    let Some(ex) = start(&[
        "smtp_accept_max = 6",
        "smtp_accept_max_per_host = 2",
        "check_spool_space = 10M",
        "check_spool_inodes = 100",
    ]) else {
        return;
    };
    let mut src = EximSource::with_binary(ex.bin.clone(), Some(ex.conf.clone()));
    let s = src.sample().expect("sample");
    assert!(s.is_running(), "notes {:?} log {}", s.notes, ex.mainlog());
    assert!(
        s.version.as_deref().is_some_and(|v| v.starts_with('4')),
        "{:?}",
        s.version
    );
    let l = |k: &str| s.limits.get(k).copied().flatten();
    assert_eq!(l("smtp_accept_max"), Some(6));
    assert_eq!(l("smtp_accept_max_per_host"), Some(2));
    assert_eq!(l("check_spool_space"), Some(10 << 20));
    assert_eq!(l("check_spool_inodes"), Some(100));

    ex.inject(7).expect("inject");
    let s = src.sample().expect("sample");
    let q = s.queue.expect("spool counted");
    assert_eq!((q.deferred, q.method.as_str()), (Some(7), "directory"));

    let (_a, b1) = banner(ex.port);
    assert!(b1.starts_with("220"), "{b1}");
    let assess = |src: &mut EximSource| {
        let snap = Snapshot {
            ts: 1.0,
            mta: Some(src.sample().expect("sample")),
            ..Default::default()
        };
        Assessor::new()
            .assess(&snap, &Thresholds::default())
            .0
            .items
    };
    let items = assess(&mut src);
    let c = items
        .iter()
        .find(|i| i.id == "client_connections")
        .expect("item");
    assert_eq!((c.used, c.limit), (Some(1.0), Some(2.0)));
    assert_ne!(
        c.level,
        Level::Critical,
        "the next connection still gets a banner"
    );
    let (_b, b2) = banner(ex.port);
    assert!(b2.starts_with("220"), "{b2}");
    let items = assess(&mut src);
    let c = items
        .iter()
        .find(|i| i.id == "client_connections")
        .expect("item");
    assert_eq!(c.used, Some(2.0));
    assert_eq!(c.level, Level::Critical);
    let p = items
        .iter()
        .find(|i| i.id == "smtpd_processes")
        .expect("item");
    assert_eq!((p.used, p.limit), (Some(2.0), Some(6.0)));
    let (_c, b3) = banner(ex.port);
    assert!(b3.starts_with("421"), "Exim refuses the next one: {b3}");
}

/// Domain health reads the addresses Exim sends from as Exim prints them: the
/// `interface` of its smtp transports (`exim -bP transports`); the routing table only
/// when no transport names one.
#[tokio::test]
async fn the_domain_checks_send_from_exims_transport_interface() {
    use headroom_engine::domain::Subjects;
    use headroom_engine::mta::settings::Mta;
    let bin = match headroom_tests::exim::binary() {
        Ok(b) => b,
        Err(e) => {
            headroom_tests::skip_or_fail(e);
            return;
        }
    };
    let dir = tempfile::tempdir().expect("tmp");
    let conf = dir.path().join("exim.conf");
    std::fs::write(
        &conf,
        format!(
            "keep_environment =\nspool_directory = {}\nprimary_hostname = mail.headroom.test\nqualify_domain = headroom.test\n\
             begin routers\nr:\n  driver = manualroute\n  route_list = * 127.0.0.1::9\n  transport = remote_smtp\n\
             begin transports\nremote_smtp:\n  driver = smtp\n  interface = <; 203.0.114.7 ; 2a00:1450::7\n\
             smarthost:\n  driver = smtp\n  hosts = 127.0.0.1\n\
             local:\n  driver = appendfile\n  file = /dev/null\n",
            dir.path().display()
        ),
    )
    .expect("write config");
    fn no_routes() -> (Vec<std::net::IpAddr>, Option<String>) {
        (vec!["203.0.114.200".parse().expect("ip")], None)
    }
    let mta = Mta::Exim {
        binary: bin,
        config: Some(conf),
    };
    let cfg = headroom_engine::config::Config::default();
    let s = Subjects::discover_with(&cfg, Some(&mta), no_routes).await;
    let want: Vec<std::net::IpAddr> = ["203.0.114.7", "2a00:1450::7"]
        .iter()
        .map(|a| a.parse().expect("ip"))
        .collect();
    assert_eq!(s.outbound, want, "{s:?}");
    assert_eq!(s.helo.as_deref(), Some("mail.headroom.test"));
    assert_eq!(s.domains, ["headroom.test"]);
}

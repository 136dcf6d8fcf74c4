//! End to end: a real private Postfix relays to loopback peers that throttle (421
//! 4.7.28), greylist (450 4.2.0) and rate-limit (454 Throttling failure); the lines
//! Postfix really logs are classified and aggregated per destination.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::Duration;

use headroom_engine::classify::Class;
use headroom_engine::explain::Limits;
use headroom_engine::maillog::{parse_failure, Aggregator, Line, THROTTLING_WINDOW_S};
use headroom_tests::bins::wait_for;
use headroom_tests::postfix::{unavailable, Instance, Options};

/// A minimal SMTP receiver answering every RCPT with `rcpt_reply` (CRLF-separated
/// lines). Serves a bounded number of sessions on its own thread.
fn peer(rcpt_reply: &'static str) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for conn in l.incoming().take(20).flatten() {
            let _ = conn.set_read_timeout(Some(Duration::from_secs(20)));
            let mut w = match conn.try_clone() {
                Ok(w) => w,
                Err(_) => continue,
            };
            let mut r = BufReader::new(conn);
            let _ = w.write_all(b"220 peer.test ESMTP\r\n");
            let mut line = String::new();
            loop {
                line.clear();
                if r.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                let cmd = line.to_ascii_uppercase();
                let reply = if cmd.starts_with("EHLO") {
                    "250-peer.test\r\n250 8BITMIME".to_string()
                } else if cmd.starts_with("RCPT") {
                    rcpt_reply.to_string()
                } else if cmd.starts_with("QUIT") {
                    let _ = w.write_all(b"221 2.0.0 Bye\r\n");
                    break;
                } else {
                    "250 2.0.0 Ok".to_string()
                };
                let _ = w.write_all(format!("{reply}\r\n").as_bytes());
                if reply.starts_with("421") {
                    break;
                }
            }
        }
    });
    port
}

fn send(inst: &Instance, rcpt: &str) {
    let mut child = Command::new("/usr/sbin/sendmail")
        .args(["-C", &inst.etc_str(), "-f", "sender@headroom.test", rcpt])
        .stdin(Stdio::piped())
        .spawn()
        .expect("sendmail");
    if let Some(mut s) = child.stdin.take() {
        let _ = writeln!(s, "Subject: headroom maillog test\n\nbody");
    }
    assert!(child.wait().expect("sendmail").success());
}

#[test]
fn real_postfix_deferrals_are_classified_and_aggregated_per_destination() {
    if let Some(why) = unavailable() {
        headroom_tests::skip_or_fail(why);
        return;
    }
    let gmail = peer("421-4.7.28 [203.0.113.9] Our system has detected an unusual rate of\r\n421 4.7.28 unsolicited mail. To protect our users, mail has been rate limited. - gsmtp");
    let grey = peer("450 4.2.0 <ivan@grey.test>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/grey.test.html");
    let ses = peer("454 Throttling failure: Maximum sending rate exceeded.");
    // One nexthop per destination, so one destination's 421 does not suspend the others.
    let transport = format!(
        "transport_maps=inline:{{gmail.test=smtp:[127.0.0.1]:{gmail}, grey.test=smtp:[127.0.0.1]:{grey}, ses.test=smtp:[127.0.0.1]:{ses}}}"
    );
    let params = [transport.as_str(), "smtp_tls_security_level=none"];
    let inst = Instance::start(&Options {
        params: &params,
        ..Options::default()
    })
    .expect("private postfix");
    for rcpt in ["alice@gmail.test", "ivan@grey.test", "hank@ses.test"] {
        send(&inst, rcpt);
    }
    let log = wait_for(Duration::from_secs(60), || {
        let log = inst.maillog();
        (log.matches("status=deferred").count() >= 3).then_some(log)
    })
    .unwrap_or_else(|| panic!("three deferrals never logged:\n{}", inst.maillog()));

    let records: Vec<_> = log.lines().filter_map(parse_failure).collect();
    let of = |domain: &str| {
        records
            .iter()
            .find(|r| r.domain == Some(domain))
            .unwrap_or_else(|| panic!("no record for {domain} in\n{log}"))
    };
    let g = of("gmail.test");
    assert_eq!(
        (g.class, g.code, g.enhanced),
        (Class::RateLimit, Some(421), Some("4.7.28"))
    );
    assert_eq!(
        g.relay.as_deref(),
        Some(format!("127.0.0.1[127.0.0.1]:{gmail}").as_str())
    );
    assert!(
        g.text().starts_with(
            "[203.0.113.9] Our system has detected an unusual rate of unsolicited mail."
        ),
        "{}",
        g.text()
    );
    let y = of("grey.test");
    assert_eq!(
        (y.class, y.code, y.enhanced),
        (Class::Greylisting, Some(450), Some("4.2.0"))
    );
    let s = of("ses.test");
    assert_eq!(
        (s.class, s.code, s.enhanced),
        (Class::RateLimit, Some(454), None)
    );

    let mut agg = Aggregator::new();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    for l in log.lines() {
        agg.observe(now, Line::Text(l));
    }
    let report = agg.report(now, 900.0, &Limits::new(), None);
    let names: Vec<&str> = report.domains.iter().map(|d| d.name.as_str()).collect();
    for d in ["gmail.test", "grey.test", "ses.test"] {
        assert!(names.contains(&d), "{d} not in {names:?}");
    }
    let t = agg.remote_throttling(now, THROTTLING_WINDOW_S);
    assert!(t.throttled >= 1, "{t:?}");
    assert!(
        matches!(t.destination.as_deref(), Some("gmail.test" | "ses.test")),
        "{t:?}"
    );
}

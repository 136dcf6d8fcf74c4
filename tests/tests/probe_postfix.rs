//! The probe against real Postfix instances on loopback (one private instance per
//! test): a normal dialogue, and the three ways Postfix turns clients away that a probe
//! must tell apart: too many connections, no queue space, greylisting.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::time::Duration;

use headroom_engine::probe::{Class, Outcome, Phase, ProbeResult, ProbeSpec};
use headroom_tests::postfix::{unavailable, Instance, Options};
use headroom_tests::postgrey::Postgrey;

fn spec(port: u16) -> ProbeSpec {
    let mut s = ProbeSpec::new("127.0.0.1", port);
    s.timeout = Duration::from_secs(10);
    s.helo = Some("probe.example".into());
    s
}

async fn run(s: ProbeSpec) -> ProbeResult {
    s.validate().expect("valid probe").run().await
}

#[track_caller]
fn expect(r: &ProbeResult, outcome: Outcome, phase: Phase, class: Class) {
    assert_eq!(
        (r.outcome, r.phase, r.class),
        (outcome, phase, class),
        "{}",
        serde_json::to_string(r).unwrap_or_default()
    );
}

/// Starts Postfix or says why these tests cannot run here.
fn postfix(params: &[&str]) -> Option<Instance> {
    if let Some(why) = unavailable() {
        headroom_tests::skip_or_fail(why);
        return None;
    }
    let options = Options {
        params,
        ..Options::default()
    };
    Some(Instance::start(&options).unwrap_or_else(|e| panic!("cannot start Postfix: {e}")))
}

#[tokio::test]
async fn a_healthy_postfix_answers_every_phase() {
    let Some(pf) = postfix(&[]) else { return };
    let r = run(spec(pf.port)).await;
    expect(&r, Outcome::Ok, Phase::Quit, Class::Ok);
    let reply = r.reply.as_ref().expect("QUIT reply");
    assert_eq!(
        (reply.code, reply.enhanced.as_deref(), reply.text.as_str()),
        (221, Some("2.0.0"), "Bye")
    );
    let phases: Vec<Phase> = r.timings_ms.iter().map(|(p, _)| p).collect();
    assert_eq!(
        phases,
        [
            Phase::Connect,
            Phase::Banner,
            Phase::Ehlo,
            Phase::Mail,
            Phase::Rset,
            Phase::Quit
        ]
    );
}

#[tokio::test]
async fn too_many_connections_is_a_421_connection_limit_at_the_banner() {
    // Loopback is in $mynetworks, which is exempt by default: remove the exemption.
    let Some(pf) = postfix(&[
        "smtpd_client_connection_count_limit=1",
        "smtpd_client_event_limit_exceptions=",
    ]) else {
        return;
    };
    // Hold the one allowed connection (after its banner, so smtpd has counted it).
    let hog = TcpStream::connect(("127.0.0.1", pf.port)).expect("first connection");
    hog.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let mut banner = String::new();
    BufReader::new(&hog).read_line(&mut banner).expect("banner");
    assert!(banner.starts_with("220"), "{banner}");

    let r = run(spec(pf.port)).await;
    expect(&r, Outcome::Tempfail, Phase::Banner, Class::ConnectionLimit);
    let reply = r.reply.expect("the 421");
    assert_eq!(
        (reply.code, reply.enhanced.as_deref()),
        (421, Some("4.7.0"))
    );
    assert!(
        reply.text.contains("too many connections"),
        "{}",
        reply.text
    );
    drop(hog);
}

#[tokio::test]
async fn no_queue_space_is_a_452_at_mail_from() {
    // Far more free space than any disk has: smtpd refuses MAIL FROM.
    let Some(pf) = postfix(&["queue_minfree=1000000000000000"]) else {
        return;
    };
    let r = run(spec(pf.port)).await;
    expect(&r, Outcome::Tempfail, Phase::Mail, Class::ResourceShortage);
    let reply = r.reply.expect("the 452");
    assert_eq!(
        (reply.code, reply.enhanced.as_deref()),
        (452, Some("4.3.1"))
    );
    assert_eq!(reply.text, "Insufficient system storage");
}

#[tokio::test]
async fn greylisting_is_a_450_at_rcpt() {
    if let Some(why) = unavailable() {
        headroom_tests::skip_or_fail(why);
        return;
    }
    let grey = Postgrey::start().unwrap_or_else(|e| panic!("cannot start postgrey: {e}"));
    let policy = format!(
        "smtpd_recipient_restrictions=check_policy_service inet:127.0.0.1:{}",
        grey.port
    );
    let Some(pf) = postfix(&[&policy]) else {
        return;
    };
    let mut s = spec(pf.port);
    s.mail_from = "probe@example.org".into();
    // Not postmaster@: postgrey's default whitelist lets that through.
    s.rcpt_to = Some("someone@example.net".into());
    let r = run(s).await;
    expect(&r, Outcome::Tempfail, Phase::Rcpt, Class::Greylisting);
    let reply = r.reply.expect("the 450");
    assert_eq!(
        (reply.code, reply.enhanced.as_deref()),
        (450, Some("4.2.0"))
    );
    assert!(reply.text.contains("Greylisted"), "{}", reply.text);
}

//! The probe against misbehaving SMTP peers: each scenario pins the outcome, the phase
//! where the dialogue stopped, the class, and a bound on the time it took.

use std::time::{Duration, Instant};

use headroom_engine::config::TlsMode;
use headroom_engine::probe::{Class, Outcome, Phase, ProbeResult, ProbeSpec};
use headroom_tests::bins::free_port;
use headroom_tests::peers::{Behaviour, Peer, PeerTls};

fn spec(port: u16, timeout_s: f64) -> ProbeSpec {
    let mut s = ProbeSpec::new("127.0.0.1", port);
    s.timeout = Duration::from_secs_f64(timeout_s);
    s.helo = Some("probe.example".into());
    s
}

async fn probe(s: ProbeSpec) -> (ProbeResult, Duration) {
    let p = s.validate().expect("valid probe");
    let t = Instant::now();
    let r = p.run().await;
    (r, t.elapsed())
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

#[tokio::test]
async fn a_normal_server_passes_with_every_phase_timed() {
    let peer = Peer::start(Behaviour::Normal).await;
    let (r, took) = probe(spec(peer.port(), 5.0)).await;
    expect(&r, Outcome::Ok, Phase::Quit, Class::Ok);
    let reply = r.reply.as_ref().expect("the QUIT reply");
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
    let sum: f64 = r.timings_ms.iter().map(|(_, v)| v).sum();
    assert!(
        sum <= r.total_ms + 0.01,
        "phases {sum} ms > total {} ms",
        r.total_ms
    );
    assert!(took < Duration::from_secs(1));
}

#[tokio::test]
async fn rcpt_and_send_add_their_phases() {
    let peer = Peer::start(Behaviour::Normal).await;
    let mut s = spec(peer.port(), 5.0);
    s.rcpt_to = Some("postmaster@example.org".into());
    s.send = true;
    let (r, _) = probe(s).await;
    expect(&r, Outcome::Ok, Phase::Quit, Class::Ok);
    for p in [Phase::Mail, Phase::Rcpt, Phase::Data, Phase::Quit] {
        assert!(r.timings_ms.get(p).is_some(), "no {p} timing");
    }
    assert!(r.timings_ms.get(Phase::Rset).is_none());
}

#[tokio::test]
async fn silent_after_connect_times_out_at_the_banner() {
    let peer = Peer::start(Behaviour::Silent).await;
    let (r, took) = probe(spec(peer.port(), 1.5)).await;
    expect(&r, Outcome::Timeout, Phase::Banner, Class::Timeout);
    assert!(r.reply.is_none());
    assert!(took < Duration::from_millis(2500), "took {took:?}");
    assert!(r.timings_ms.get(Phase::Banner).unwrap_or(0.0) > 1000.0);
}

#[tokio::test]
async fn a_banner_dripped_a_byte_a_second_times_out_within_the_bound() {
    let peer = Peer::start(Behaviour::DripBanner).await;
    let (r, took) = probe(spec(peer.port(), 2.0)).await;
    expect(&r, Outcome::Timeout, Phase::Banner, Class::Timeout);
    assert!(took < Duration::from_millis(3000), "took {took:?}");
}

#[tokio::test]
async fn non_smtp_garbage_is_a_protocol_error() {
    let peer = Peer::start(Behaviour::Garbage).await;
    let (r, took) = probe(spec(peer.port(), 3.0)).await;
    expect(&r, Outcome::ProtocolError, Phase::Banner, Class::Other);
    assert!(took < Duration::from_secs(1), "took {took:?}");
}

#[tokio::test]
async fn a_421_banner_is_a_tempfail_with_its_reply() {
    let peer = Peer::start(Behaviour::Banner421).await;
    let (r, took) = probe(spec(peer.port(), 3.0)).await;
    expect(
        &r,
        Outcome::Tempfail,
        Phase::Banner,
        Class::ResourceShortage,
    );
    let reply = r.reply.expect("the 421");
    assert_eq!(
        (reply.code, reply.enhanced.as_deref()),
        (421, Some("4.3.2"))
    );
    assert!(
        reply.text.starts_with("mx.example Service not available"),
        "{}",
        reply.text
    );
    assert!(took < Duration::from_secs(1), "took {took:?}");
}

#[tokio::test]
async fn a_reset_after_ehlo_stops_in_ehlo() {
    let peer = Peer::start(Behaviour::ResetAfterEhlo).await;
    let (r, took) = probe(spec(peer.port(), 3.0)).await;
    expect(&r, Outcome::ProtocolError, Phase::Ehlo, Class::Network);
    assert!(r.timings_ms.get(Phase::Banner).is_some());
    assert!(took < Duration::from_secs(1), "took {took:?}");
}

#[tokio::test]
async fn starttls_accepted_then_no_tls_is_a_tls_error() {
    let peer = Peer::start(Behaviour::StarttlsNoTls).await;
    let mut s = spec(peer.port(), 3.0);
    s.tls = TlsMode::Starttls;
    let (r, took) = probe(s).await;
    expect(&r, Outcome::TlsError, Phase::Starttls, Class::Tls);
    assert!(took < Duration::from_secs(2), "took {took:?}");
}

#[tokio::test]
async fn starttls_asked_but_not_offered_is_explained() {
    let peer = Peer::start(Behaviour::Normal).await;
    let mut s = spec(peer.port(), 3.0);
    s.tls = TlsMode::Starttls;
    let (r, _) = probe(s).await;
    expect(&r, Outcome::TlsError, Phase::Starttls, Class::Tls);
    let d = r.detail.unwrap_or_default();
    assert!(d.contains("does not offer"), "{d}");
}

#[tokio::test]
async fn a_1mb_banner_line_is_cut_off_quickly() {
    let peer = Peer::start(Behaviour::HugeBanner).await;
    let (r, took) = probe(spec(peer.port(), 5.0)).await;
    expect(&r, Outcome::ProtocolError, Phase::Banner, Class::Other);
    assert!(r.detail.unwrap_or_default().contains("without CRLF"));
    assert!(took < Duration::from_secs(1), "took {took:?}");
}

#[tokio::test]
async fn a_multi_line_421_at_mail_is_joined_without_prefixes() {
    let peer = Peer::start(Behaviour::MultiLine421AtMail).await;
    let (r, took) = probe(spec(peer.port(), 3.0)).await;
    expect(&r, Outcome::Tempfail, Phase::Mail, Class::ResourceShortage);
    let reply = r.reply.expect("the 421");
    assert_eq!(reply.code, 421);
    assert_eq!(reply.enhanced.as_deref(), Some("4.3.0"));
    assert_eq!(
        reply.text,
        "busy.example Server busy short of resources try again later"
    );
    assert!(took < Duration::from_secs(2), "took {took:?}");
}

#[tokio::test]
async fn a_closed_port_is_refused_at_connect() {
    let (r, took) = probe(spec(free_port(), 3.0)).await;
    expect(&r, Outcome::Refused, Phase::Connect, Class::Network);
    assert!(took < Duration::from_secs(1), "took {took:?}");
}

#[tokio::test]
async fn an_unresolvable_name_is_a_dns_error() {
    let mut s = spec(25, 5.0);
    s.host = "no-such-host.invalid".into();
    let (r, _) = probe(s).await;
    expect(&r, Outcome::DnsError, Phase::Connect, Class::Dns);
}

#[tokio::test]
async fn ipv6_literals_work() {
    // Some sandboxes have no ::1; that is the machine, not the probe.
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        headroom_tests::skip_or_fail(
            "this machine has no IPv6 loopback (sysctl net.ipv6.conf.lo.disable_ipv6=0)",
        );
        return;
    }
    let peer = Peer::start_on("[::1]:0", Behaviour::Normal, PeerTls::None).await;
    for host in ["::1", "[::1]"] {
        let mut s = spec(peer.port(), 3.0);
        s.host = host.into();
        let (r, _) = probe(s).await;
        expect(&r, Outcome::Ok, Phase::Quit, Class::Ok);
        assert_eq!(r.target, format!("[::1]:{}", peer.port()));
    }
}

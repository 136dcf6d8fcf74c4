//! TLS probes against peers with certificates from a test CA made with rcgen:
//! verification is on by default, passes for the right name, fails for the wrong one,
//! and is off only when a target opts out.

use std::time::Duration;

use headroom_engine::config::{ProbeTarget, TlsMode};
use headroom_engine::probe::{
    auth_channel, check_target, Class, Outcome, Phase, ProbeError, ProbeResult, ProbeSpec,
    Unprotected,
};
use headroom_tests::peers::{Behaviour, Peer, PeerTls, TestPki};

struct Setup {
    pki: TestPki,
    dir: tempfile::TempDir,
}

fn setup() -> Setup {
    Setup {
        pki: TestPki::new(),
        dir: tempfile::tempdir().expect("temp dir"),
    }
}

impl Setup {
    async fn peer(&self, names: &[&str], implicit: bool) -> Peer {
        let acc = self.pki.acceptor(names);
        let tls = if implicit {
            PeerTls::Implicit(acc)
        } else {
            PeerTls::Starttls(acc)
        };
        Peer::start_on("127.0.0.1:0", Behaviour::Normal, tls).await
    }

    fn spec(&self, peer: &Peer, tls: TlsMode) -> ProbeSpec {
        let mut s = ProbeSpec::new("127.0.0.1", peer.port());
        s.tls = tls;
        s.timeout = Duration::from_secs(5);
        s.helo = Some("probe.example".into());
        s.ca_file = Some(self.pki.write_ca(self.dir.path()));
        s
    }
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

#[tokio::test]
async fn implicit_tls_verifies_the_right_name() {
    let s = setup();
    let peer = s.peer(&["127.0.0.1"], true).await;
    let r = run(s.spec(&peer, TlsMode::Implicit)).await;
    expect(&r, Outcome::Ok, Phase::Quit, Class::Ok);
    assert!(r.timings_ms.get(Phase::Connect).is_some());
    assert!(r.timings_ms.get(Phase::Ehlo).is_some());
}

#[tokio::test]
async fn implicit_tls_fails_for_the_wrong_name() {
    let s = setup();
    let peer = s.peer(&["mail.example.org"], true).await;
    let r = run(s.spec(&peer, TlsMode::Implicit)).await;
    expect(&r, Outcome::TlsError, Phase::Connect, Class::Tls);
    let d = r.detail.unwrap_or_default();
    assert!(d.contains("certificate"), "{d}");
}

#[tokio::test]
async fn an_unknown_ca_fails_unless_trusted() {
    let s = setup();
    let peer = s.peer(&["127.0.0.1"], true).await;
    let mut spec = s.spec(&peer, TlsMode::Implicit);
    spec.ca_file = None;
    let r = run(spec).await;
    expect(&r, Outcome::TlsError, Phase::Connect, Class::Tls);
}

#[tokio::test]
async fn verification_is_off_only_on_explicit_opt_out() {
    let s = setup();
    let peer = s.peer(&["mail.example.org"], true).await;
    let mut spec = s.spec(&peer, TlsMode::Implicit);
    spec.ca_file = None;
    spec.verify_tls = false;
    let r = run(spec).await;
    expect(&r, Outcome::Ok, Phase::Quit, Class::Ok);
}

#[tokio::test]
async fn starttls_verifies_the_right_name_and_times_the_upgrade() {
    let s = setup();
    let peer = s.peer(&["127.0.0.1"], false).await;
    let r = run(s.spec(&peer, TlsMode::Starttls)).await;
    expect(&r, Outcome::Ok, Phase::Quit, Class::Ok);
    let phases: Vec<Phase> = r.timings_ms.iter().map(|(p, _)| p).collect();
    assert_eq!(
        phases,
        [
            Phase::Connect,
            Phase::Banner,
            Phase::Ehlo,
            Phase::Starttls,
            Phase::Mail,
            Phase::Rset,
            Phase::Quit
        ]
    );
}

#[tokio::test]
async fn starttls_fails_for_the_wrong_name() {
    let s = setup();
    let peer = s.peer(&["mail.example.org"], false).await;
    let r = run(s.spec(&peer, TlsMode::Starttls)).await;
    expect(&r, Outcome::TlsError, Phase::Starttls, Class::Tls);
}

#[tokio::test]
async fn auth_runs_over_tls_with_the_given_password() {
    let s = setup();
    let peer = s.peer(&["127.0.0.1"], true).await;
    let mut spec = s.spec(&peer, TlsMode::Implicit);
    spec.username = Some("probe".into());
    spec.password = Some("secret".into());
    let r = run(spec).await;
    expect(&r, Outcome::Ok, Phase::Quit, Class::Ok);
    assert!(r.timings_ms.get(Phase::Auth).is_some(), "no auth timing");
}

#[tokio::test]
async fn a_missing_keyring_password_is_said_and_does_not_crash() {
    let s = setup();
    let peer = s.peer(&["127.0.0.1"], true).await;
    let mut spec = s.spec(&peer, TlsMode::Implicit);
    // No keyring here, or one without this entry: either way the probe says why.
    spec.username = Some("nobody-headroom-test".into());
    let r = run(spec).await;
    expect(&r, Outcome::Ok, Phase::Quit, Class::Ok);
    let d = r.detail.unwrap_or_default();
    assert!(d.contains("AUTH not attempted"), "{d}");
    assert!(d.contains("keyring"), "{d}");
}

/// Without verification a man in the middle can take the password, so AUTH then goes
/// only to a loopback peer, where no one sits in between.
#[tokio::test]
async fn auth_without_verification_still_runs_to_a_loopback_peer() {
    let s = setup();
    // A certificate for another name, from a CA the probe does not trust.
    let peer = s.peer(&["mail.example.org"], true).await;
    for host in ["127.0.0.1", "localhost"] {
        let mut spec = s.spec(&peer, TlsMode::Implicit);
        spec.host = host.into();
        spec.ca_file = None;
        spec.verify_tls = false;
        spec.username = Some("probe".into());
        spec.password = Some("secret".into());
        let r = run(spec).await;
        expect(&r, Outcome::Ok, Phase::Quit, Class::Ok);
        assert!(r.timings_ms.get(Phase::Auth).is_some(), "{host}: no AUTH");
        assert!(r.detail.is_none(), "{host}: {:?}", r.detail);
    }
}

#[tokio::test]
async fn auth_without_verification_to_a_remote_address_is_refused() {
    let remote = ["192.0.2.1".parse().expect("ip")];
    assert_eq!(
        auth_channel(TlsMode::Implicit, false, &remote),
        Err(Unprotected::Unverified)
    );
    assert_eq!(
        auth_channel(TlsMode::None, true, &remote),
        Err(Unprotected::NoTls)
    );
    assert_eq!(auth_channel(TlsMode::Starttls, true, &remote), Ok(()));
    // A name with one address that is not loopback is not loopback.
    let mixed = [
        "127.0.0.1".parse().expect("ip"),
        "192.0.2.1".parse().expect("ip"),
    ];
    assert_eq!(
        auth_channel(TlsMode::Implicit, false, &mixed),
        Err(Unprotected::Unverified)
    );

    let mut spec = ProbeSpec::new("192.0.2.1", 465);
    spec.tls = TlsMode::Implicit;
    spec.verify_tls = false;
    spec.username = Some("probe".into());
    spec.password = Some("secret".into());
    let e = spec.validate().expect_err("refused before connecting");
    assert!(
        matches!(
            e,
            ProbeError::AuthUnprotected {
                why: Unprotected::Unverified,
                ..
            }
        ),
        "{e}"
    );
    // The configuration says the same, naming the key.
    let t = ProbeTarget {
        host: "192.0.2.1".into(),
        port: 465,
        tls: TlsMode::Implicit,
        verify_tls: false,
        username: Some("probe".into()),
        ..ProbeTarget::default()
    };
    let e = check_target(&t).expect_err("refused at load");
    assert_eq!(e.field, "verify_tls");
}

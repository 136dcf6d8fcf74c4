#![allow(clippy::unwrap_used)]

use super::*;

fn spec(host: &str) -> ProbeSpec {
    ProbeSpec::new(host, 25)
}

#[test]
fn hosts_are_checked_before_connecting() {
    assert_eq!(
        parse_host("127.0.0.1").unwrap(),
        Host::Ip([127, 0, 0, 1].into())
    );
    assert!(matches!(
        parse_host("::1").unwrap(),
        Host::Ip(IpAddr::V6(_))
    ));
    assert!(matches!(
        parse_host("[::1]").unwrap(),
        Host::Ip(IpAddr::V6(_))
    ));
    assert_eq!(
        parse_host("mx1.example.org.").unwrap(),
        Host::Name("mx1.example.org.".into())
    );
    for bad in [
        "",
        "exa mple.org",
        "-bad.org",
        "999.1.1.1",
        "host:25",
        "a..b",
        "[nope]",
    ] {
        assert!(parse_host(bad).is_err(), "{bad:?} accepted");
    }
}

#[test]
fn ipv6_targets_are_bracketed() {
    let p = spec("::1").validate().unwrap();
    assert_eq!(p.target(), "[::1]:25");
}

#[test]
fn bad_port_addresses_and_send_without_rcpt_are_usage_errors() {
    let mut s = spec("127.0.0.1");
    s.port = 0;
    assert_eq!(s.validate().unwrap_err(), ProbeError::Port);

    let mut s = spec("127.0.0.1");
    s.rcpt_to = Some("not an address".into());
    assert!(matches!(
        s.validate(),
        Err(ProbeError::Address {
            field: "rcpt_to",
            ..
        })
    ));

    let mut s = spec("127.0.0.1");
    s.mail_from = "<>".into();
    assert!(s.validate().unwrap().from.is_none());

    let mut s = spec("127.0.0.1");
    s.send = true;
    assert_eq!(s.validate().unwrap_err(), ProbeError::SendNeedsRcpt);

    let mut s = spec("127.0.0.1");
    s.helo = Some("bad helo".into());
    assert!(matches!(s.validate(), Err(ProbeError::Helo(_))));
}

#[test]
fn auth_without_verified_tls_is_refused_except_to_loopback() {
    use TlsMode::{Implicit, None, Starttls};
    for (host, tls, verify, allowed) in [
        ("192.0.2.1", Implicit, true, true),
        ("192.0.2.1", Starttls, true, true),
        ("192.0.2.1", Implicit, false, false),
        ("192.0.2.1", Starttls, false, false),
        ("192.0.2.1", None, true, false),
        ("2001:db8::1", Implicit, false, false),
        ("127.0.0.1", Implicit, false, true),
        ("127.0.0.1", None, true, true),
        ("127.3.2.1", Starttls, false, true),
        ("::1", Implicit, false, true),
        ("::ffff:127.0.0.1", None, true, true),
    ] {
        let mut s = spec(host);
        s.tls = tls;
        s.verify_tls = verify;
        s.username = Some("probe".into());
        let r = s.validate();
        assert_eq!(r.is_ok(), allowed, "{host} {tls:?} verify={verify}: {r:?}");
    }
    let mut s = spec("192.0.2.1");
    s.tls = Implicit;
    s.verify_tls = false;
    s.username = Some("probe".into());
    let e = s.validate().unwrap_err().to_string();
    assert!(e.contains("verify_tls") && e.contains("--insecure"), "{e}");
    let mut s = spec("192.0.2.1");
    s.username = Some("probe".into());
    let e = s.validate().unwrap_err().to_string();
    assert!(e.contains("tls = \"starttls\""), "{e}");
    // Without a user there is no password to protect.
    let mut s = spec("192.0.2.1");
    s.tls = Implicit;
    s.verify_tls = false;
    assert!(s.validate().is_ok());
}

#[test]
fn the_password_never_shows_in_debug_output() {
    let mut s = spec("127.0.0.1");
    s.password = Some("hunter2".into());
    assert!(!format!("{s:?}").contains("hunter2"));
}

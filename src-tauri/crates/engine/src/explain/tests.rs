//! Explanations pinned: live values named, both sides, every class and reason.

use super::*;

fn limits(pairs: &[(&str, &str)]) -> Limits {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn names_live_values_when_known() {
    let l = limits(&[("smtpd_client_connection_count_limit", "50")]);
    let e = explain_reply(
        421,
        Some("4.7.0"),
        "Error: too many connections from 203.0.113.9",
        Some(Side::Local),
        &l,
    );
    assert_eq!(e.class, Class::ConnectionLimit);
    assert!(e
        .causes
        .iter()
        .any(|c| c.contains("smtpd_client_connection_count_limit is 50")));
}

#[test]
fn says_default_when_value_unknown() {
    let e = explain(452, Some("4.3.1"), &Limits::new());
    assert_eq!(e.class, Class::ResourceShortage);
    assert!(e
        .meaning
        .starts_with("452: action not taken: insufficient system storage"));
    assert!(e
        .meaning
        .contains("4.3.1: persistent transient failure, mail system full."));
    assert!(e
        .causes
        .iter()
        .any(|c| c.contains("queue_minfree (default 0)")));
    // Unknown side: both perspectives.
    assert!(e.fixes.iter().any(|f| f.starts_with("when our server")));
    assert!(e.fixes.iter().any(|f| f.starts_with("when a receiver")));
}

#[test]
fn remote_rate_limit_names_destination_tuning() {
    let l = limits(&[("smtp_destination_rate_delay", "1s")]);
    let e = explain_reply(421, Some("4.7.28"), "unusual rate", Some(Side::Remote), &l);
    assert_eq!(e.class, Class::RateLimit);
    assert!(e
        .fixes
        .iter()
        .any(|f| f.contains("smtp_destination_rate_delay is 1s")));
    assert!(e.fixes.iter().any(|f| f.contains("backoff")));
}

#[test]
fn greylisting_is_recognised() {
    let e = explain_reply(
        450,
        Some("4.2.0"),
        "Greylisted",
        Some(Side::Remote),
        &Limits::new(),
    );
    assert_eq!(e.class, Class::Greylisting);
    assert!(e.fixes.iter().any(|f| f.contains("recognise greylisting")));
}

#[test]
fn ambiguous_4_7_0_without_text_says_so() {
    let e = explain(421, Some("4.7.0"), &Limits::new());
    assert_eq!(e.class, Class::Other);
    assert!(e.causes[0].contains("reply text tells which"));
    assert!(e
        .causes
        .iter()
        .any(|c| c.contains("smtpd_client_connection_count_limit")));
    assert!(e
        .fixes
        .iter()
        .any(|f| f.contains("smtp_destination_rate_delay")));
}

#[test]
fn every_class_has_meaning_and_serializes() {
    for c in Class::ALL {
        let e = explain_class(c, None, &Limits::new());
        assert!(!e.meaning.is_empty(), "{c}");
        if c != Class::Ok {
            assert!(!e.causes.is_empty() && !e.fixes.is_empty(), "{c}");
        }
        let json = serde_json::to_value(&e).expect("json");
        assert!(json["fixes"].is_array());
    }
}

#[test]
fn bad_codes_are_explained_not_panicked() {
    let e = explain(999, Some("x.y"), &Limits::new());
    assert!(e.meaning.contains("not a valid SMTP reply code"));
    assert!(e.meaning.contains("x.y: not an enhanced status code"));
}

#[test]
fn gmail_ptr_deferral_says_set_reverse_dns() {
    let l = limits(&[("smtp_helo_name", "mx1.example.org")]);
    // Code only, as `headroom-cli explain 451 4.7.23`.
    let e = explain(451, Some("4.7.23"), &l);
    assert_eq!(e.reason, Some(Reason::ReverseDns));
    assert!(
        e.meaning.contains(
            "4.7.23: persistent transient failure, Gmail: the sending IP has no PTR record"
        ),
        "{}",
        e.meaning
    );
    assert!(
        e.meaning.contains("PTR record missing or not matching"),
        "{}",
        e.meaning
    );
    assert!(
        e.fixes
            .iter()
            .any(|f| f.contains("set reverse DNS for your sending IP")),
        "{:?}",
        e.fixes
    );
    assert!(
        e.fixes
            .iter()
            .any(|f| f.contains("smtp_helo_name is mx1.example.org")),
        "{:?}",
        e.fixes
    );
    // With Gmail's text and from the sender's side: the reverse DNS fix comes first.
    let e = explain_reply(
        451,
        Some("4.7.23"),
        "The sending IP address for this message doesn't have a PTR record, or the PTR record's forward DNS entry doesn't match the sending IP address. To protect users from spam, your email has been temporarily rate limited.",
        Some(Side::Remote),
        &Limits::new(),
    );
    assert_eq!(
        (e.class, e.reason),
        (Class::RateLimit, Some(Reason::ReverseDns))
    );
    assert!(
        e.fixes[0].starts_with("set reverse DNS for your sending IP"),
        "{:?}",
        e.fixes
    );
    assert!(
        e.fixes
            .iter()
            .any(|f| f.contains("smtp_destination_rate_delay")),
        "{:?}",
        e.fixes
    );
}

#[test]
fn authentication_and_blocklist_name_their_fixes() {
    let e = explain_reply(
        421,
        Some("4.7.27"),
        "Your email has been rate limited because SPF authentication didn't pass for this message.",
        Some(Side::Remote),
        &Limits::new(),
    );
    assert_eq!(e.reason, Some(Reason::Authentication));
    assert!(e.fixes[0].contains("_dmarc."), "{:?}", e.fixes);
    let e = explain_reply(
        550,
        Some("5.7.1"),
        "Unfortunately, messages from [203.0.113.9] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150).",
        Some(Side::Remote),
        &Limits::new(),
    );
    assert_eq!(
        (e.class, e.reason),
        (Class::Policy, Some(Reason::Blocklist))
    );
    assert!(e.meaning.contains("Blocklist:"), "{}", e.meaning);
    assert!(e.fixes[0].contains("removal procedure"), "{:?}", e.fixes);
}

#[test]
fn a_reason_the_class_implies_adds_nothing() {
    // Volume on a rate limit, busy on a resource shortage: the class says it already.
    let plain = explain_class(Class::RateLimit, Some(Side::Remote), &Limits::new());
    let e = explain_reply(
        421,
        Some("4.7.28"),
        "Gmail has detected an unusual rate of email.",
        Some(Side::Remote),
        &Limits::new(),
    );
    assert_eq!(e.reason, Some(Reason::Volume));
    assert_eq!((e.causes, e.fixes), (plain.causes, plain.fixes));
    let e = explain(421, None, &Limits::new());
    assert_eq!(e.reason, None);
}

#[test]
fn every_reason_is_explained_from_both_sides() {
    let l = Limits::new();
    for r in Reason::ALL {
        match reason::reason_text(r, &l) {
            Some(t) => {
                assert!(!t.meaning.is_empty() && !t.causes.is_empty(), "{r}");
                assert!(!t.local.is_empty() && !t.remote.is_empty(), "{r}");
            }
            // Their text is the class's: rate limits, resource shortage.
            None => assert!(matches!(r, Reason::Volume | Reason::Busy), "{r}"),
        }
    }
    let json = serde_json::to_value(explain(451, Some("4.7.23"), &l)).expect("json");
    assert_eq!(json["reason"], "reverse_dns");
    assert!(explain(250, None, &l).reason.is_none());
}

//! The taxonomy pinned: classes by enhanced code and by text, reasons, and the big
//! receivers' documented replies (each provider reply → class + reason).

use super::*;

#[test]
fn ok_for_2xx_and_3xx() {
    assert_eq!(classify(250, Some("2.0.0"), "Ok"), Class::Ok);
    assert_eq!(
        classify(354, None, "End data with <CR><LF>.<CR><LF>"),
        Class::Ok
    );
}

#[test]
fn capacity_families_by_enhanced_code() {
    let cases = [
        (
            452,
            "4.3.1",
            "Insufficient system storage",
            Class::ResourceShortage,
        ),
        (
            451,
            "4.3.0",
            "Error: queue file write error",
            Class::ResourceShortage,
        ),
        (421, "4.3.0", "Temporary Error", Class::ResourceShortage),
        (
            421,
            "4.3.2",
            "Service not available",
            Class::ResourceShortage,
        ),
        (
            421,
            "4.4.5",
            "Server busy, try again later.",
            Class::ResourceShortage,
        ),
        (
            421,
            "4.7.28",
            "Gmail has detected an unusual rate",
            Class::RateLimit,
        ),
        (450, "4.2.1", "receiving mail too quickly", Class::RateLimit),
        (
            451,
            "4.7.650",
            "temporarily rate limited due to IP reputation",
            Class::RateLimit,
        ),
        (
            451,
            "4.7.500",
            "Server busy. Please try again later",
            Class::RateLimit,
        ),
        (421, "4.4.2", "mx1 Error: timeout exceeded", Class::Timeout),
    ];
    for (code, e, text, want) in cases {
        assert_eq!(classify(code, Some(e), text), want, "{code} {e} {text}");
    }
}

#[test]
fn generic_enhanced_codes_fall_to_the_text() {
    let cases = [
        (
            421,
            "4.7.0",
            "mx Error: too many connections from 203.0.113.9",
            Class::ConnectionLimit,
        ),
        (
            421,
            "4.7.0",
            "[TSS04] Messages from 203.0.113.9 temporarily deferred due to unexpected volume",
            Class::RateLimit,
        ),
        (
            421,
            "4.7.0",
            "Our system has detected an unusual rate of unsolicited mail",
            Class::RateLimit,
        ),
        (
            450,
            "4.2.0",
            "<ivan@example.net>: Recipient address rejected: Greylisted",
            Class::Greylisting,
        ),
        (
            451,
            "4.7.1",
            "Greylisting in action, please come back in 00:05:00",
            Class::Greylisting,
        ),
        (
            451,
            "4.7.1",
            "Service unavailable - try again later",
            Class::Other,
        ),
        (
            450,
            "4.1.8",
            "Sender address rejected: Domain not found",
            Class::Other,
        ),
    ];
    for (code, e, text, want) in cases {
        assert_eq!(classify(code, Some(e), text), want, "{code} {e} {text}");
    }
}

#[test]
fn exim_replies_without_enhanced_code_by_text() {
    assert_eq!(
        classify(452, None, "Space shortage, please try later"),
        Class::ResourceShortage
    );
    assert_eq!(
        classify(421, None, "Too much load; please try again later"),
        Class::ResourceShortage
    );
    assert_eq!(
        classify(
            421,
            None,
            "Too many concurrent SMTP connections; please try again later."
        ),
        Class::ConnectionLimit
    );
    assert_eq!(
        classify(
            454,
            None,
            "Throttling failure: Maximum sending rate exceeded."
        ),
        Class::RateLimit
    );
    assert_eq!(classify(421, None, "closing connection"), Class::Other);
}

#[test]
fn other_5xx_is_policy() {
    assert_eq!(
        classify(550, Some("5.7.1"), "blocked using zen.spamhaus.org"),
        Class::Policy
    );
    assert_eq!(classify(554, None, "Transaction failed"), Class::Policy);
}

#[test]
fn outcomes_without_reply() {
    assert_eq!(
        classify_outcome("connect to mx[1.2.3.4]:25: Connection refused"),
        Some(Class::Network)
    );
    assert_eq!(
        classify_outcome("connect to mx[1.2.3.4]:25: Connection timed out"),
        Some(Class::Timeout)
    );
    assert_eq!(
        classify_outcome("Host or domain name not found. Name service error"),
        Some(Class::Dns)
    );
    assert_eq!(
        classify_outcome("TLS is required, but was not offered by host mx"),
        Some(Class::Tls)
    );
    assert_eq!(
        classify_outcome(
            "lost connection with mx[1.2.3.4] while receiving the initial server greeting"
        ),
        Some(Class::Timeout)
    );
    assert_eq!(
        classify_outcome("connect to mx.tls.example[1.2.3.4]:25: Connection refused"),
        Some(Class::Network)
    );
    assert_eq!(classify_outcome("mail transport unavailable"), None);
    assert_eq!(classify(0, None, "Connection refused"), Class::Network);
}

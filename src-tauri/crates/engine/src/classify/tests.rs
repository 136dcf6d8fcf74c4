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

fn reason_of_reply(code: u16, enhanced: Option<&str>, text: &str) -> (Class, Option<Reason>) {
    let c = classify_reply(code, enhanced, text);
    (c.class, c.reason)
}

#[test]
fn a_cause_named_in_the_text_beats_the_rate_limit() {
    use Reason::*;
    let cases = [
        // Gmail's current texts (Google Workspace Admin Help, "Gmail SMTP errors and codes").
        (451, "4.7.23", "The sending IP address for this message doesn't have a PTR record, or the PTR record's forward DNS entry doesn't match the sending IP address. To protect users from spam, your email has been temporarily rate limited.", Class::RateLimit, ReverseDns),
        (421, "4.7.27", "Your email has been rate limited because SPF authentication didn't pass for this message.", Class::RateLimit, Authentication),
        // 2024: Gmail sent its DKIM failure under 4.7.28, whose code alone means rate.
        (421, "4.7.28", "This mail has been rate limited because DKIM does not pass.", Class::RateLimit, Authentication),
        (421, "4.7.0", "This message is suspicious due to the very low reputation of the sending IP address. To protect our users from spam, email sent from your IP address has been temporarily rate limited.", Class::RateLimit, Reputation),
        (421, "4.7.29", "Your email has been rate limited because you're not using a TLS connection. Gmail requires all bulk email senders to use TLS/SSL for SMTP connections.", Class::RateLimit, Tls),
        (421, "4.7.28", "Gmail has detected an unusual rate of email. To protect our users from spam, email has been temporarily rate limited.", Class::RateLimit, Volume),
        (451, "4.7.650", "The mail server [203.0.113.9] has been temporarily rate limited due to IP reputation.", Class::RateLimit, Reputation),
    ];
    for (code, e, text, class, reason) in cases {
        assert_eq!(
            reason_of_reply(code, Some(e), text),
            (class, Some(reason)),
            "{code} {e} {text}"
        );
    }
}

#[test]
fn enhanced_codes_alone_name_a_cause() {
    use Reason::*;
    // What `headroom-cli explain CODE ENHANCED` sees: no text at all.
    let cases = [
        (451, "4.7.23", ReverseDns),
        (550, "5.7.25", ReverseDns),
        (450, "4.7.25", ReverseDns),
        (550, "5.7.23", Authentication),
        (421, "4.7.26", Authentication),
        (421, "4.7.32", Authentication),
        (421, "4.7.40", Authentication),
        (421, "4.7.29", Tls),
        (421, "4.7.28", Volume),
        (450, "4.2.1", Volume),
        (451, "4.7.650", Reputation),
        (451, "4.7.500", Reputation),
        (550, "5.7.606", Blocklist),
        (452, "4.3.1", Busy),
    ];
    for (code, e, reason) in cases {
        assert_eq!(
            classify_reply(code, Some(e), "").reason,
            Some(reason),
            "{code} {e}"
        );
    }
    // Nothing named, nothing guessed.
    assert_eq!(classify_reply(421, Some("4.7.0"), "").reason, None);
    assert_eq!(
        classify_reply(451, Some("4.7.1"), "Service unavailable - try again later").reason,
        None
    );
}

#[test]
fn the_class_gives_the_reason_when_nothing_more_is_said() {
    use Reason::*;
    assert_eq!(
        reason_of_reply(
            454,
            None,
            "Throttling failure: Maximum sending rate exceeded."
        ),
        (Class::RateLimit, Some(Volume))
    );
    assert_eq!(
        reason_of_reply(
            421,
            Some("4.7.0"),
            "mx Error: too many connections from 203.0.113.9"
        ),
        (Class::ConnectionLimit, Some(Volume))
    );
    assert_eq!(
        reason_of_reply(452, Some("4.3.1"), "Insufficient system storage"),
        (Class::ResourceShortage, Some(Busy))
    );
    assert_eq!(
        reason_of_reply(550, Some("5.1.1"), "User unknown"),
        (Class::Policy, Some(Policy))
    );
    assert_eq!(
        reason_of_reply(
            421,
            Some("4.7.0"),
            "IP not in whitelist for RCPT domain, closing connection."
        ),
        (Class::Other, Some(Policy))
    );
    assert_eq!(
        reason_of_reply(450, Some("4.2.0"), "Greylisted"),
        (Class::Greylisting, None)
    );
    assert_eq!(
        reason_of_reply(250, Some("2.0.0"), "Ok: queued, SPF pass"),
        (Class::Ok, None)
    );
    assert_eq!(
        reason_of_reply(0, None, "TLS is required, but was not offered by host mx"),
        (Class::Tls, Some(Tls))
    );
    assert_eq!(
        reason_of_reply(
            0,
            None,
            "connect to mx.tls.example[1.2.3.4]:25: Connection refused"
        ),
        (Class::Network, None)
    );
    assert_eq!(
        reason_of_reply(0, None, "Connection timed out"),
        (Class::Timeout, None)
    );
}

#[test]
fn a_bare_421_service_not_available_is_a_busy_receiver() {
    let c = classify_reply(
        421,
        None,
        "mx.example.org Service not available, closing transmission channel",
    );
    assert_eq!(
        (c.class, c.reason),
        (Class::ResourceShortage, Some(Reason::Busy))
    );
    // Only 421 means "closing": a 5xx with the same words is a rejection.
    let c = classify_reply(554, None, "Service not available");
    assert_eq!((c.class, c.reason), (Class::Policy, Some(Reason::Policy)));
}

#[test]
fn provider_codes_in_the_text_decide_the_class() {
    assert_eq!(
        classify(
            421,
            None,
            "RP-001 (BAY004-MC1F36) Unfortunately, some messages from 203.0.113.9 weren't sent."
        ),
        Class::RateLimit
    );
    assert_eq!(classify(421, None, "RP-003 The mail server IP connecting to Outlook.com server has exceeded the connection limit allowed."), Class::ConnectionLimit);
    assert_eq!(classify(421, Some("4.7.1"), "[TS03] All messages from 203.0.113.9 will be permanently deferred; Retrying will NOT succeed."), Class::RateLimit);
    // A log line's host name that merely contains the letters is not a code.
    assert_eq!(
        classify(421, None, "closing connection to grp-0011.example"),
        Class::Other
    );
}

#[test]
fn blocklists_and_reverse_dns_by_text() {
    use Reason::*;
    assert_eq!(
        reason_of_reply(
            550,
            Some("5.7.1"),
            "Service unavailable; client [203.0.113.9] blocked using zen.spamhaus.org"
        ),
        (Class::Policy, Some(Blocklist))
    );
    assert_eq!(reason_of_reply(550, Some("5.7.1"), "Unfortunately, messages from [203.0.113.9] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150)."), (Class::Policy, Some(Blocklist)));
    assert_eq!(
        reason_of_reply(
            450,
            Some("4.7.25"),
            "Client host rejected: cannot find your hostname, [203.0.113.9]"
        ),
        (Class::Other, Some(ReverseDns))
    );
    // SPFBL is not SPF: no authentication reason from a blocklist's name.
    assert_eq!(
        reason_of_reply(554, None, "SPFBL BLOCKED"),
        (Class::Policy, Some(Policy))
    );
}

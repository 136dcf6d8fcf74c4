//! One taxonomy of SMTP replies, shared by probes and mail-log lines (DESIGN.md,
//! "Classes"). Matching uses the enhanced code first and the text second: Exim's
//! capacity replies carry no enhanced code, and generic codes such as 4.7.0 are used
//! by receivers for both connection limits and rate limits.

use serde::{Deserialize, Serialize};

/// The class of an SMTP reply or connection outcome. Names are a contract.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ts_rs::TS,
)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    Ok,
    ResourceShortage,
    ConnectionLimit,
    RateLimit,
    Greylisting,
    Timeout,
    Tls,
    Dns,
    Network,
    Policy,
    Other,
}

impl Class {
    /// Every class, in declaration order (index = `self as usize`).
    pub const ALL: [Class; 11] = [
        Class::Ok,
        Class::ResourceShortage,
        Class::ConnectionLimit,
        Class::RateLimit,
        Class::Greylisting,
        Class::Timeout,
        Class::Tls,
        Class::Dns,
        Class::Network,
        Class::Policy,
        Class::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Class::Ok => "ok",
            Class::ResourceShortage => "resource_shortage",
            Class::ConnectionLimit => "connection_limit",
            Class::RateLimit => "rate_limit",
            Class::Greylisting => "greylisting",
            Class::Timeout => "timeout",
            Class::Tls => "tls",
            Class::Dns => "dns",
            Class::Network => "network",
            Class::Policy => "policy",
            Class::Other => "other",
        }
    }

    /// Classes that mean a receiver is holding back *our* sending: the input of the
    /// `remote_throttling` item.
    pub fn is_throttling(self) -> bool {
        matches!(self, Class::RateLimit | Class::ConnectionLimit)
    }
}

impl std::fmt::Display for Class {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who said it: a remote server about our outbound mail, or our server to a client.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ts_rs::TS,
)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Remote,
    Local,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Remote => "remote",
            Side::Local => "local",
        }
    }
}

/// An SMTP reply: all lines joined with a space, `NNN-x.y.z ` / `NNN ` prefixes removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct Reply {
    pub code: u16,
    pub enhanced: Option<String>,
    pub text: String,
}

impl Reply {
    /// Parses the lines of one reply as received (`421-4.7.0 first`, `421 4.7.0 last`).
    /// The code and enhanced code come from the first line; `None` when the first line
    /// does not start with a three-digit code.
    pub fn from_lines(lines: &[&str]) -> Option<Reply> {
        let first = lines.first()?;
        let code = reply_code(first.as_bytes())?;
        let enhanced = enhanced_after_code(first);
        let mut text = String::new();
        for line in lines {
            let body = strip_prefix(line.trim_end_matches(['\r', '\n']), code);
            push_joined(&mut text, body);
        }
        Some(Reply {
            code,
            enhanced: enhanced.map(str::to_string),
            text,
        })
    }

    /// Parses a reply that a log already joined on one line, such as Postfix's
    /// `421-4.7.28 Gmail has … 421-4.7.28 our users … 421 4.7.28 Please visit …` or
    /// Exim's `421-4.7.0 …\n421 4.7.0 …` (a literal backslash-n).
    pub fn parse(joined: &str) -> Option<Reply> {
        let joined = joined.trim();
        let code = reply_code(joined.as_bytes())?;
        let enhanced = enhanced_after_code(joined);
        let mut text = String::new();
        for part in split_continuations(joined, code) {
            push_joined(&mut text, strip_prefix(part, code));
        }
        Some(Reply {
            code,
            enhanced: enhanced.map(str::to_string),
            text,
        })
    }

    pub fn class(&self) -> Class {
        classify(self.code, self.enhanced.as_deref(), &self.text)
    }
}

fn push_joined(text: &mut String, part: &str) {
    let part = part.trim();
    if part.is_empty() {
        return;
    }
    if !text.is_empty() {
        text.push(' ');
    }
    text.push_str(part);
}

/// The three-digit code at the start of `s`, when followed by nothing, a space or `-`.
pub fn reply_code(s: &[u8]) -> Option<u16> {
    if s.len() < 3 || !s[..3].iter().all(u8::is_ascii_digit) || !(b'2'..=b'5').contains(&s[0]) {
        return None;
    }
    match s.get(3) {
        None | Some(b' ' | b'-' | b'\t') => {}
        _ => return None,
    }
    Some(u16::from(s[0] - b'0') * 100 + u16::from(s[1] - b'0') * 10 + u16::from(s[2] - b'0'))
}

/// Length of an enhanced status code (`4.7.28`) at the start of `s`, if there is one
/// followed by the end, a space or a separator.
pub fn enhanced_len(s: &[u8]) -> Option<usize> {
    if s.len() < 5 || !matches!(s[0], b'2' | b'4' | b'5') || s[1] != b'.' {
        return None;
    }
    let mut i = 2;
    let subject_start = i;
    while i < s.len() && s[i].is_ascii_digit() && i - subject_start < 3 {
        i += 1;
    }
    if i == subject_start || s.get(i) != Some(&b'.') {
        return None;
    }
    i += 1;
    let detail_start = i;
    while i < s.len() && s[i].is_ascii_digit() && i - detail_start < 3 {
        i += 1;
    }
    if i == detail_start {
        return None;
    }
    match s.get(i) {
        None | Some(b' ' | b'\t' | b',' | b';' | b')' | b'\\') => Some(i),
        _ => None,
    }
}

/// The enhanced code right after `NNN-` / `NNN `, if any.
fn enhanced_after_code(s: &str) -> Option<&str> {
    let rest = s.get(4..)?;
    enhanced_len(rest.as_bytes()).map(|n| &rest[..n])
}

/// Removes `NNN-x.y.z `, `NNN x.y.z `, `NNN-` or `NNN ` (for this reply's code).
fn strip_prefix(line: &str, code: u16) -> &str {
    let b = line.as_bytes();
    if reply_code(b) != Some(code) {
        return line;
    }
    let rest = line.get(3..).unwrap_or("");
    let rest = rest.strip_prefix(['-', ' ', '\t']).unwrap_or(rest);
    match enhanced_len(rest.as_bytes()) {
        Some(n) => rest[n..].trim_start(),
        None => rest,
    }
}

/// Splits a joined reply at its continuation prefixes. `NNN-` after whitespace (or a
/// literal `\n`) always starts a new line; `NNN ` only once a `NNN-` was seen, because
/// only then is it the last line of a multi-line reply and not a number in the text.
fn split_continuations(s: &str, code: u16) -> Vec<&str> {
    let digits = [
        b'0' + (code / 100) as u8,
        b'0' + (code / 10 % 10) as u8,
        b'0' + (code % 10) as u8,
    ];
    let b = s.as_bytes();
    let mut parts = Vec::new();
    let mut start = 0;
    let mut multi = b.get(3) == Some(&b'-');
    let mut i = 4;
    while i + 4 <= b.len() {
        let after_sep = b[i - 1] == b' ' || (i >= 2 && b[i - 2] == b'\\' && b[i - 1] == b'n');
        if after_sep && b[i..i + 3] == digits {
            let sep = b[i + 3];
            if sep == b'-' || (sep == b' ' && multi) {
                let end = if b[i - 1] == b'n' { i - 2 } else { i };
                parts.push(&s[start..end]);
                start = i;
                if sep == b'-' {
                    multi = true;
                }
                i += 4;
                continue;
            }
        }
        i += 1;
    }
    parts.push(&s[start..]);
    parts
}

/// Classifies one reply. `code` 0 means there was no reply at all (a connection
/// outcome such as `Connection refused`): then the text alone decides.
pub fn classify(code: u16, enhanced: Option<&str>, text: &str) -> Class {
    match code {
        200..=399 => return Class::Ok,
        500..=599 => return Class::Policy,
        _ => {}
    }
    let lower = text.to_ascii_lowercase();
    if contains_any(&lower, GREYLISTING) {
        return Class::Greylisting;
    }
    let enhanced = enhanced.and_then(Enhanced::parse);
    if code != 0 {
        if let Some(c) = enhanced.and_then(Enhanced::specific_class) {
            return c;
        }
    }
    if let Some(c) = text_class(&lower) {
        return c;
    }
    if code == 0 {
        if let Some(c) = outcome_class(&lower) {
            return c;
        }
    }
    match enhanced {
        Some(e) if e.is(4, 3, 0) => Class::ResourceShortage,
        _ => Class::Other,
    }
}

/// Classifies a text that carries no SMTP reply (Postfix's `connect to …: Connection
/// refused`, Exim's `Connection timed out`): `None` when it names no known outcome.
pub fn classify_outcome(text: &str) -> Option<Class> {
    let lower = text.to_ascii_lowercase();
    text_class(&lower).or_else(|| outcome_class(&lower))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Enhanced {
    class: u16,
    subject: u16,
    detail: u16,
}

impl Enhanced {
    fn parse(s: &str) -> Option<Enhanced> {
        let mut it = s.split('.');
        let class = it.next()?.parse().ok()?;
        let subject = it.next()?.parse().ok()?;
        let detail = it.next()?.parse().ok()?;
        if it.next().is_some() {
            return None;
        }
        Some(Enhanced {
            class,
            subject,
            detail,
        })
    }

    fn is(self, class: u16, subject: u16, detail: u16) -> bool {
        self == Enhanced {
            class,
            subject,
            detail,
        }
    }

    /// Enhanced codes that name one family whatever the text says.
    fn specific_class(self) -> Option<Class> {
        if self.class != 4 {
            return None;
        }
        match (self.subject, self.detail) {
            // Gmail's "unusual rate", Gmail's "receiving mail too quickly".
            (7, 28) | (2, 1) => Some(Class::RateLimit),
            // Microsoft's 4.7.5xx/4.7.6xx: throttled for volume or IP reputation.
            (7, 500..=699) => Some(Class::RateLimit),
            // Mail system full, not accepting messages, system congestion.
            (3, 1) | (3, 2) | (4, 5) => Some(Class::ResourceShortage),
            (4, 2) => Some(Class::Timeout),
            _ => None,
        }
    }
}

const GREYLISTING: &[&str] = &["greylist", "graylist", "grey-list", "gray-list"];

const CONNECTION_LIMIT: &[&str] = &[
    "too many connections",
    "too many concurrent",
    "too many simultaneous",
    "all server ports busy",
    "reached its process limit",
    "connection concurrency limit",
    "concurrent connection limit",
    "concurrent connections limit",
];

const RATE_LIMIT: &[&str] = &[
    "rate limit",
    "rate-limit",
    "ratelimit",
    "throttl",
    "too quickly",
    "unusual rate",
    "[tss0",
    "unexpected volume",
    "sending rate",
    "too many messages",
    "message rate",
];

const RESOURCE_SHORTAGE: &[&str] = &[
    "insufficient system storage",
    "insufficient system resources",
    "insufficient resources",
    "space shortage",
    "too much load",
    "load average",
    "queue file write error",
    "spool directory space check failed",
    "not enough free space",
    "no space left",
    "disk full",
    "out of memory",
    "temporary system problem",
    "server busy",
    "system busy",
];

const TIMEOUT: &[&str] = &[
    "timeout exceeded",
    "timed out",
    "timeout",
    "lost connection",
];

const DNS: &[&str] = &[
    "host or domain name not found",
    "name service error",
    "host not found",
    "host lookup did not complete",
    "unrouteable",
    "no host name found",
];

// Specific phrases only: a bare "tls" would match host names such as mx.tls.example.
const TLS: &[&str] = &[
    "tls is required",
    "starttls",
    "cannot start tls",
    "tls handshake",
    "tls library",
    "tls session",
    "ssl routines",
    "ssl handshake",
    "ssl/tls",
    "certificate",
    "handshake failure",
];

const NETWORK: &[&str] = &[
    "connection refused",
    "no route to host",
    "network is unreachable",
    "connection reset",
    "broken pipe",
    "host is unreachable",
];

fn contains_any(lower: &str, needles: &[&str]) -> bool {
    needles.iter().any(|n| lower.contains(n))
}

/// Capacity families recognised from the text (replies with or without a code).
fn text_class(lower: &str) -> Option<Class> {
    if contains_any(lower, GREYLISTING) {
        Some(Class::Greylisting)
    } else if contains_any(lower, CONNECTION_LIMIT) {
        Some(Class::ConnectionLimit)
    } else if contains_any(lower, RATE_LIMIT) {
        Some(Class::RateLimit)
    } else if contains_any(lower, RESOURCE_SHORTAGE) {
        Some(Class::ResourceShortage)
    } else if lower.contains("timeout exceeded") {
        Some(Class::Timeout)
    } else {
        None
    }
}

/// Outcomes without a reply: DNS, TLS, timeouts, network errors.
fn outcome_class(lower: &str) -> Option<Class> {
    if contains_any(lower, DNS) {
        Some(Class::Dns)
    } else if contains_any(lower, TLS) {
        Some(Class::Tls)
    } else if contains_any(lower, TIMEOUT) {
        Some(Class::Timeout)
    } else if contains_any(lower, NETWORK) {
        Some(Class::Network)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn from_lines_joins_and_strips_prefixes() {
        let r = Reply::from_lines(&[
            "421-4.7.28 Gmail has detected an unusual rate of unsolicited mail.\r\n",
            "421-4.7.28 To protect our users",
            "421 4.7.28 Please visit https://support.google.com/mail/answer/188131 - gsmtp",
        ])
        .expect("reply");
        assert_eq!(r.code, 421);
        assert_eq!(r.enhanced.as_deref(), Some("4.7.28"));
        assert_eq!(
            r.text,
            "Gmail has detected an unusual rate of unsolicited mail. To protect our users Please visit https://support.google.com/mail/answer/188131 - gsmtp"
        );
        assert_eq!(r.class(), Class::RateLimit);
    }

    #[test]
    fn from_lines_without_enhanced_code() {
        let r = Reply::from_lines(&["220-mx.example ESMTP", "220 ready"]).expect("reply");
        assert_eq!(
            (r.code, r.enhanced.as_deref(), r.text.as_str()),
            (220, None, "mx.example ESMTP ready")
        );
        assert_eq!(Reply::from_lines(&["garbage"]), None);
        assert_eq!(Reply::from_lines(&[]), None);
    }

    #[test]
    fn parse_joined_postfix_reply() {
        let r = Reply::parse(
            "421-4.7.28 Gmail has detected an unusual rate of unsolicited mail. To protect 421-4.7.28 our users from spam, mail has been temporarily rate limited. 421 4.7.28 Please visit https://support.google.com/mail/answer/188131 - gsmtp",
        )
        .expect("reply");
        assert_eq!(r.code, 421);
        assert_eq!(r.enhanced.as_deref(), Some("4.7.28"));
        assert_eq!(
            r.text,
            "Gmail has detected an unusual rate of unsolicited mail. To protect our users from spam, mail has been temporarily rate limited. Please visit https://support.google.com/mail/answer/188131 - gsmtp"
        );
    }

    #[test]
    fn parse_joined_exim_reply_with_literal_newline() {
        let r = Reply::parse(r"421-4.7.0 Our system has detected\n421 4.7.0 from your IP address.")
            .expect("reply");
        assert_eq!(r.text, "Our system has detected from your IP address.");
        assert_eq!(r.enhanced.as_deref(), Some("4.7.0"));
    }

    #[test]
    fn parse_keeps_numbers_in_single_line_text() {
        let r = Reply::parse("452 4.3.1 only 421 bytes free").expect("reply");
        assert_eq!(r.text, "only 421 bytes free");
        let r =
            Reply::parse("454 Throttling failure: Maximum sending rate exceeded.").expect("reply");
        assert_eq!((r.code, r.enhanced), (454, None));
    }

    #[test]
    fn enhanced_code_shapes() {
        assert_eq!(enhanced_len(b"4.7.28 x"), Some(6));
        assert_eq!(enhanced_len(b"4.7.650"), Some(7));
        assert_eq!(enhanced_len(b"4.16.55.1"), None);
        assert_eq!(enhanced_len(b"Temporary"), None);
        assert_eq!(enhanced_len(b"4.7"), None);
    }

    #[test]
    fn bad_codes_never_panic() {
        assert_eq!(reply_code(b"42"), None);
        assert_eq!(reply_code(b"4211"), None);
        assert_eq!(reply_code(b"999 x"), None);
        assert_eq!(classify(0, Some("x.y"), ""), Class::Other);
        let _ = classify(700, Some("4.3.1.9"), "\u{0}");
    }
}

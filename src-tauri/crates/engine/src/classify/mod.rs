//! One taxonomy of SMTP replies, shared by probes and mail-log lines (DESIGN.md,
//! "Classes"). Matching uses the enhanced code first and the text second: Exim's
//! capacity replies carry no enhanced code, and generic codes such as 4.7.0 are used
//! by receivers for both connection limits and rate limits. Beside the class, a
//! [`Reason`] says why when the reply names a cause (docs/CLASSIFY.md).

mod reason;
mod reply;

use serde::{Deserialize, Serialize};

pub use reason::Reason;
pub use reply::{enhanced_after_code, enhanced_len, reply_code, split_enhanced, Reply};

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

/// What a reply is (its class) and, when it names one, why (its reason).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Classification {
    pub class: Class,
    pub reason: Option<Reason>,
}

/// Classifies one reply: class and reason. `code` 0 means there was no reply at all
/// (a connection outcome such as `Connection refused`): then the text alone decides.
pub fn classify_reply(code: u16, enhanced: Option<&str>, text: &str) -> Classification {
    let class = classify(code, enhanced, text);
    Classification {
        class,
        reason: reason::reason(code, enhanced, text, class),
    }
}

/// The class of one reply (see [`classify_reply`] for the reason too).
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
        if let Some(c) = provider_class(&lower) {
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
    // RFC 5321's own 421 text: the receiver closes the channel, nothing more said.
    if code == 421 && lower.contains("service not available") {
        return Class::ResourceShortage;
    }
    match enhanced {
        Some(e) if e.is(4, 3, 0) => Class::ResourceShortage,
        _ => Class::Other,
    }
}

/// Reason of a reply whose class is already known (mail-log records keep the class
/// they were parsed with).
pub fn reason_of(code: u16, enhanced: Option<&str>, text: &str, class: Class) -> Option<Reason> {
    reason::reason(code, enhanced, text, class)
}

/// Classifies a text that carries no SMTP reply (Postfix's `connect to …: Connection
/// refused`, Exim's `Connection timed out`): `None` when it names no known outcome.
pub fn classify_outcome(text: &str) -> Option<Class> {
    let lower = text.to_ascii_lowercase();
    text_class(&lower).or_else(|| outcome_class(&lower))
}

/// An enhanced status code as numbers (`4.7.650` → 4, 7, 650).
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

/// The big receivers' own codes, in the text where the enhanced code is absent or
/// generic (docs/CLASSIFY.md names the page each comes from).
fn provider_class(lower: &str) -> Option<Class> {
    // Microsoft: "exceeded the connection limit allowed" (RP-003), "exceeded the rate
    // limit allowed" (RP-001, per connection RP-002).
    let microsoft_rate = contains_word(lower, "rp-001") || contains_word(lower, "rp-002");
    // Yahoo: "[TS01] Messages from … temporarily deferred", "[TSS04] …".
    let yahoo = contains_any(lower, &["[ts01]", "[ts02]", "[ts03]", "[tss0"]);
    if contains_word(lower, "rp-003") {
        Some(Class::ConnectionLimit)
    } else if microsoft_rate || yahoo {
        Some(Class::RateLimit)
    } else {
        None
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
    // Yahoo: "Resources temporarily unavailable. Please try again later".
    "resources temporarily unavailable",
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

/// `word` in `lower` with no letter or digit on either side (`spf` but not `spfbl`,
/// `rp-001` but not `grp-0011`).
fn contains_word(lower: &str, word: &str) -> bool {
    let b = lower.as_bytes();
    lower.match_indices(word).any(|(i, _)| {
        let before = i.checked_sub(1).map(|j| b[j]);
        let after = b.get(i + word.len()).copied();
        !before.is_some_and(|c| c.is_ascii_alphanumeric())
            && !after.is_some_and(|c| c.is_ascii_alphanumeric())
    })
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
mod tests;

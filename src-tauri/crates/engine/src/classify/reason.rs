//! Why a receiver deferred or rejected: the cause a reply names, beside its class.
//!
//! The class says what the receiver does (rate limits us, is short of resources,
//! rejects by policy); the reason says why, so domain health can tie a deferral to
//! something it checks: Gmail's `421 4.7.28 … unusual rate` and its `451 4.7.23 … PTR
//! record` are both rate limits, but only the second is fixed by reverse DNS.
//! docs/CLASSIFY.md lists every rule with the provider page it comes from.
//!
//! Order: a cause the text names wins (Gmail once sent its DKIM failure under 4.7.28);
//! then the providers' enhanced codes; then what the class implies.

use serde::{Deserialize, Serialize};

use super::{contains_any, contains_word, Class, Enhanced};

/// The cause of a failure, when the reply names one. Names are a contract
/// (`classify --json`, the window's bindings).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ts_rs::TS,
)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Too much, too fast: messages, recipients or connections (Gmail 4.7.28 and 4.2.1).
    Volume,
    /// The sending IP's or domain's standing: complaints, spam, a new IP (Microsoft
    /// RP-00x and 4.7.650, Yahoo's TS and TSS deferrals).
    Reputation,
    /// SPF, DKIM or DMARC failed or is missing (Gmail 4.7.24/26/27/30/32/40).
    Authentication,
    /// The sending IP has no PTR record, or its name does not resolve back to it
    /// (Gmail 4.7.23, x.7.25).
    ReverseDns,
    /// The sending IP is on a blocklist (Spamhaus, Microsoft's S3140/S3150).
    Blocklist,
    /// TLS was required and not used, or failed.
    Tls,
    /// Another local policy of the receiver: allowlists, content, recipients.
    Policy,
    /// The receiver itself is busy or short of resources; nothing about the sender.
    Busy,
}

impl Reason {
    pub const ALL: [Reason; 8] = [
        Reason::Volume,
        Reason::Reputation,
        Reason::Authentication,
        Reason::ReverseDns,
        Reason::Blocklist,
        Reason::Tls,
        Reason::Policy,
        Reason::Busy,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Volume => "volume",
            Reason::Reputation => "reputation",
            Reason::Authentication => "authentication",
            Reason::ReverseDns => "reverse_dns",
            Reason::Blocklist => "blocklist",
            Reason::Tls => "tls",
            Reason::Policy => "policy",
            Reason::Busy => "busy",
        }
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

const REVERSE_DNS: &[&str] = &[
    "ptr record",
    "reverse dns",
    "reverse-dns",
    "reverse hostname",
    "cannot find your hostname",
    "reverse lookup",
];

// SPF, DKIM and DMARC are matched as words (see `AUTH_WORDS`); these are the phrases.
const AUTHENTICATION: &[&str] = &[
    "unauthenticated",
    "authentication checks",
    "authentication results",
    "authenticate with",
    "authenticate their email",
    "sender id",
    "not aligned with",
];

const AUTH_WORDS: &[&str] = &["spf", "dkim", "dmarc"];

const BLOCKLIST: &[&str] = &[
    "blocked using",
    "block list",
    "blocklist",
    "blacklist",
    "spamhaus",
    "spamcop",
    "barracuda",
    "dnsbl",
    "banned sending ip",
    "banned sender",
];

// Phrases only: a bare "tls" matches host names such as mx.tls.example.
const TLS: &[&str] = &[
    "tls required",
    "tls is required",
    "tls connection",
    "tls wasn't used",
    "tls/ssl",
    "starttls",
    "tls handshake",
    "ssl handshake",
    "handshake failure",
    "certificate",
];

const REPUTATION: &[&str] = &[
    "reputation",
    "complaints",
    // Yahoo's deferral codes: complaints, spam-like content or a poor IP reputation
    // (Yahoo's "SMTP Error Codes" page, "Message temporarily deferred (eg: TS* Errors)").
    "[ts01]",
    "[ts02]",
    "[ts03]",
    "[tss0",
    "permanently deferred",
];

// Microsoft's RP codes, as words: "Reason for rate limitation is related to IP/domain
// reputation" (Outlook.com postmaster, "SMTP Error Codes").
const REPUTATION_WORDS: &[&str] = &["rp-001", "rp-002", "rp-003"];

const POLICY: &[&str] = &["policy", "whitelist", "allowlist", "nature of the content"];

/// The cause a reply names, or `None` when it names none (greylisting, timeouts, a
/// 4xx of no known family). `code` 0: a connection outcome without a reply.
pub fn reason(code: u16, enhanced: Option<&str>, text: &str, class: Class) -> Option<Reason> {
    if class == Class::Ok {
        return None;
    }
    let lower = text.to_ascii_lowercase();
    text_reason(&lower)
        .or_else(|| enhanced.and_then(Enhanced::parse).and_then(code_reason))
        .or_else(|| class_reason(code, class, &lower))
}

fn text_reason(lower: &str) -> Option<Reason> {
    if contains_any(lower, REVERSE_DNS) {
        Some(Reason::ReverseDns)
    } else if contains_any(lower, AUTHENTICATION)
        || AUTH_WORDS.iter().any(|w| contains_word(lower, w))
    {
        Some(Reason::Authentication)
    } else if contains_any(lower, BLOCKLIST) || contains_word(lower, "rbl") {
        Some(Reason::Blocklist)
    } else if contains_any(lower, TLS) {
        Some(Reason::Tls)
    } else if contains_any(lower, REPUTATION)
        || REPUTATION_WORDS.iter().any(|w| contains_word(lower, w))
    {
        Some(Reason::Reputation)
    } else {
        None
    }
}

/// Enhanced codes that name a cause by themselves, for replies whose text does not
/// (`headroom-cli explain 451 4.7.23`, terse relays).
fn code_reason(e: Enhanced) -> Option<Reason> {
    if e.subject != 7 {
        return match (e.class, e.subject, e.detail) {
            // Gmail: "receiving mail too quickly".
            (4, 2, 1) => Some(Reason::Volume),
            _ => None,
        };
    }
    match (e.class, e.detail) {
        // Gmail's PTR deferral; RFC 7372 registers x.7.25 as "Reverse DNS validation
        // failed" (Gmail's 5.7.25, Postfix's "cannot find your hostname").
        (4, 23) | (_, 25) => Some(Reason::ReverseDns),
        // RFC 7372's x.7.20–x.7.26 (DKIM, SPF), Gmail's 27 (SPF), 30 (DKIM),
        // 32 (From: alignment), 40 (DMARC); Microsoft's 5.7.509 (DMARC), 5.7.515.
        (5, 23) | (_, 20..=22 | 24 | 26 | 27 | 30 | 32 | 40) | (5, 509 | 515) => {
            Some(Reason::Authentication)
        }
        // Gmail: rate limited because TLS was not used.
        (_, 29) => Some(Reason::Tls),
        // Gmail: unusual rate.
        (_, 28) => Some(Reason::Volume),
        // Microsoft: 4.7.500–4.7.699, the IP is restricted while it is evaluated
        // ("Server busy" on the wire, an anti-spam code such as AS843 in the text).
        (4, 500..=699) => Some(Reason::Reputation),
        // Microsoft: banned sender, banned sending IP.
        (5, 511 | 606..=649) => Some(Reason::Blocklist),
        _ => None,
    }
}

fn class_reason(code: u16, class: Class, lower: &str) -> Option<Reason> {
    match class {
        Class::RateLimit | Class::ConnectionLimit => Some(Reason::Volume),
        Class::ResourceShortage => Some(Reason::Busy),
        Class::Tls => Some(Reason::Tls),
        Class::Policy => Some(Reason::Policy),
        Class::Other if code != 0 && contains_any(lower, POLICY) => Some(Reason::Policy),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_whole() {
        assert!(contains_word("spf check failed", "spf"));
        assert!(contains_word("(dkim=fail)", "dkim"));
        assert!(!contains_word("spfbl blocked", "spf"));
        assert!(!contains_word("v=spf1 -all", "spf"));
        assert!(contains_word("listed on an rbl", "rbl"));
        assert!(!contains_word("", "rbl"));
    }

    #[test]
    fn every_reason_has_a_stable_name() {
        for r in Reason::ALL {
            let json = serde_json::to_string(&r).expect("json");
            assert_eq!(json, format!("\"{}\"", r.as_str()));
        }
    }
}

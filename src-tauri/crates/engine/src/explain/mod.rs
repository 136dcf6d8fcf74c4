//! What an SMTP reply means, what usually causes it and what to do, naming the live
//! configuration values when the MTA adapter knows them ("smtpd_client_connection_count_limit
//! is 50"). Shared by the probe log, the destinations panel and `headroom-cli explain`.
//! When the reply names a cause ([`Reason`]: PTR missing, SPF failed, blocklisted…),
//! that cause and its fix come first, before what the class says.

mod reason;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::classify::{classify_reply, Class, Classification, Reason, Side};

/// Known configuration values by parameter name (`postconf` names for Postfix,
/// `exim -bP` names for Exim), e.g. `smtpd_client_connection_count_limit` → `50`.
pub type Limits = BTreeMap<String, String>;

/// The parameters an explanation may cite: what an adapter should read to fill
/// [`Limits`].
pub const LIMIT_NAMES: &[&str] = &[
    "smtpd_client_connection_count_limit",
    "smtpd_client_connection_rate_limit",
    "smtpd_client_message_rate_limit",
    "smtpd_client_recipient_rate_limit",
    "anvil_rate_time_unit",
    "default_process_limit",
    "queue_directory",
    "queue_minfree",
    "message_size_limit",
    "smtpd_timeout",
    "smtp_destination_concurrency_limit",
    "smtp_destination_rate_delay",
    "minimal_backoff_time",
    "maximal_backoff_time",
    "smtp_helo_name",
    "smtp_tls_security_level",
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct Explanation {
    pub code: Option<u16>,
    pub enhanced: Option<String>,
    pub class: Class,
    /// The cause the reply names, or null (docs/CLASSIFY.md).
    pub reason: Option<Reason>,
    pub meaning: String,
    pub causes: Vec<String>,
    pub fixes: Vec<String>,
}

/// Explains a reply known only by its codes (`headroom-cli explain 421 4.3.0`), for
/// either side of the conversation.
pub fn explain(code: u16, enhanced: Option<&str>, limits: &Limits) -> Explanation {
    explain_reply(code, enhanced, "", None, limits)
}

/// Explains a reply with its text. `side`: who said it — `Local` when our server
/// answered a client (or a probe), `Remote` when a receiver answered our outbound
/// mail, `None` when unknown (both sets of fixes are given).
pub fn explain_reply(
    code: u16,
    enhanced: Option<&str>,
    text: &str,
    side: Option<Side>,
    limits: &Limits,
) -> Explanation {
    let Classification { class, reason } = classify_reply(code, enhanced, text);
    let mut e = explain_class(class, side, limits);
    let mut meaning = code_meaning(code);
    if let Some(enh) = enhanced {
        meaning.push(' ');
        meaning.push_str(&enhanced_meaning(enh));
    }
    meaning.push(' ');
    meaning.push_str(&e.meaning);
    if class == Class::Other && enhanced.is_some_and(|x| x.starts_with("4.7.0")) && text.is_empty()
    {
        // Without the text both families are possible: give both.
        let conn = explain_class(Class::ConnectionLimit, side, limits);
        let rate = explain_class(Class::RateLimit, side, limits);
        e.causes = std::iter::once(
            "4.7.0 is used both for too many connections and for rate limiting: the reply text tells which".to_string(),
        )
        .chain(conn.causes)
        .chain(rate.causes)
        .collect();
        e.fixes = conn.fixes.into_iter().chain(rate.fixes).collect();
    }
    let named = reason
        .filter(|r| reason::adds_to(class, *r))
        .and_then(|r| reason::reason_text(r, limits));
    if let Some(r) = named {
        // The named cause is what to fix first; the class's advice still applies.
        meaning.push(' ');
        meaning.push_str(r.meaning);
        e.causes = r.causes.into_iter().chain(e.causes).collect();
        e.fixes = by_side(side, r.local, r.remote)
            .into_iter()
            .chain(e.fixes)
            .collect();
    }
    e.reason = reason;
    e.meaning = meaning;
    e.code = Some(code);
    e.enhanced = enhanced.map(str::to_string);
    e
}

/// Explains a class without a reply (a connection outcome such as `Connection refused`).
pub fn explain_class(class: Class, side: Option<Side>, limits: &Limits) -> Explanation {
    let p = |name: &str, default: &str| param(limits, name, default);
    let (meaning, causes, local, remote): (&str, Vec<String>, Vec<String>, Vec<String>) =
        match class {
            Class::Ok => ("Success: nothing to fix.", vec![], vec![], vec![]),
            Class::ResourceShortage => (
                "The server that answered is short of resources: queue disk space, memory, processes or CPU.",
                vec![
                    format!(
                        "the queue filesystem is short of space: Postfix answers 452 4.3.1 below max(queue_minfree, 1.5 × message_size_limit) — {}, {}",
                        p("queue_minfree", "0"),
                        p("message_size_limit", "10240000")
                    ),
                    "the disk is really full: 451 4.3.0 queue file write error".into(),
                    "the host is overloaded (CPU, memory, load, disk I/O): Exim answers 421 Too much load above smtp_load_reserve, others 421 4.3.2 or 4.4.5".into(),
                    "Exim's spool is below check_spool_space or check_spool_inodes (452 Space shortage)".into(),
                ],
                vec![
                    format!(
                        "check free space and inodes of the queue filesystem (df -h and df -i on {})",
                        p("queue_directory", "/var/spool/postfix")
                    ),
                    "check CPU, memory, disk and I/O (top, vmstat 1, iostat -x 1)".into(),
                    "review the queue and the logs for what fills it (postqueue -p, qshape deferred, grep 'warning:' in the mail log)".into(),
                    "free space rather than lowering queue_minfree or message_size_limit".into(),
                ],
                vec![
                    format!(
                        "nothing to fix on our side: the receiver is short of resources; Postfix retries with backoff ({}, {})",
                        p("minimal_backoff_time", "300s"),
                        p("maximal_backoff_time", "4000s")
                    ),
                    format!(
                        "ease their load: lower the concurrency towards that destination ({})",
                        p("smtp_destination_concurrency_limit", "20")
                    ),
                    "if it lasts for hours, contact the receiver's postmaster".into(),
                ],
            ),
            Class::ConnectionLimit => (
                "A connection limit was reached: too many simultaneous sessions from one client, or all server processes busy.",
                vec![
                    format!(
                        "one client holds more simultaneous connections than {} ($mynetworks is exempt by default via smtpd_client_event_limit_exceptions)",
                        p("smtpd_client_connection_count_limit", "50")
                    ),
                    format!(
                        "all smtpd processes are busy: maxproc of the smtp service in master.cf ('-' means {}); postscreen then says 'all server ports busy'",
                        p("default_process_limit", "100")
                    ),
                    "Exim: smtp_accept_max (default 20) or smtp_accept_max_per_host reached".into(),
                    "as a sender: we open more simultaneous connections than the receiver allows".into(),
                ],
                vec![
                    "raise smtpd_client_connection_count_limit, or add the client to smtpd_client_event_limit_exceptions".into(),
                    "raise maxproc of the smtp service in master.cf (postconf -F '*/inet/process_limit' shows it) or find the slow clients holding sessions (ss -tn state established '( sport = :25 )')".into(),
                    "Exim: raise smtp_accept_max or smtp_accept_max_per_host (exim -bP shows them)".into(),
                ],
                vec![
                    format!(
                        "open fewer connections to that destination: a dedicated transport in master.cf with -o smtp_destination_concurrency_limit=… ({} now)",
                        p("smtp_destination_concurrency_limit", "20")
                    ),
                    "reuse connections (smtp_connection_cache_on_demand = yes) and let Postfix retry with backoff".into(),
                ],
            ),
            Class::RateLimit => (
                "Rate limited: too many messages, recipients or connections in too short a time, or a sender reputation the receiver does not trust yet.",
                vec![
                    "the receiver throttles our sending rate or volume (Gmail 4.7.28, Yahoo [TSS04], Microsoft 4.7.650)".into(),
                    "the sending IP's reputation: complaints, spam traps, or a new IP without history".into(),
                    "a relay's quota, e.g. Amazon SES's maximum sending rate (454 Throttling failure)".into(),
                    format!(
                        "as a receiver: a client exceeds smtpd_client_connection_rate_limit, smtpd_client_message_rate_limit or smtpd_client_recipient_rate_limit per {}",
                        p("anvil_rate_time_unit", "60s")
                    ),
                ],
                vec![
                    format!(
                        "raise the anvil limit that was hit ({}, {}) or exempt the client via smtpd_client_event_limit_exceptions",
                        p("smtpd_client_message_rate_limit", "0"),
                        p("smtpd_client_connection_rate_limit", "0")
                    ),
                ],
                vec![
                    format!(
                        "slow down for that destination: a dedicated transport with smtp_destination_rate_delay ({}) and a lower smtp_destination_concurrency_limit ({})",
                        p("smtp_destination_rate_delay", "0s"),
                        p("smtp_destination_concurrency_limit", "20")
                    ),
                    "retry with backoff, never harder; warm new IPs up gradually".into(),
                    "check reputation: Google Postmaster Tools, Microsoft SNDS, Yahoo Sender Hub, public blocklists; SPF, DKIM and DMARC aligned".into(),
                    "check relay quotas (sending rate, daily quota) and ask the provider to raise them".into(),
                ],
            ),
            Class::Greylisting => (
                "Greylisting: the receiver defers the first attempt from an unknown (client, sender, recipient) triplet on purpose.",
                vec!["a greylisting filter (postgrey, rspamd, Exim ACL) saw this sender and recipient for the first time".into()],
                vec!["tune the greylisting delay or whitelist known senders (postgrey --delay, --whitelist-clients)".into()],
                vec![
                    "recognise greylisting: it is not a capacity problem, the retry after the delay (usually 1–5 min) passes".into(),
                    "retry from the same IP, or from a pool listed in SPF, so the triplet matches".into(),
                ],
            ),
            Class::Timeout => (
                "A timeout: the other side did not answer in time, or the session was cut mid-dialogue.",
                vec![
                    format!(
                        "the session exceeded {} (Postfix lowers it to 10s in stress mode, when all smtpd processes are busy)",
                        p("smtpd_timeout", "300s")
                    ),
                    "the server is overloaded and slow to answer, or its DNS lookups are slow".into(),
                    "the network drops or delays packets (firewall, MTU)".into(),
                ],
                vec![
                    "check the load and the number of busy smtpd processes against maxproc; look for 'stress' in the logs".into(),
                    "check the resolver: slow reverse lookups delay every banner".into(),
                ],
                vec!["check the path to the destination (ping, traceroute, telnet to port 25); Postfix retries with backoff".into()],
            ),
            Class::Tls => (
                "TLS failed: STARTTLS was refused or not offered, or the handshake or certificate check failed.",
                vec!["TLS required but not offered, a protocol or cipher mismatch, or a certificate that does not verify".into()],
                vec!["check smtpd_tls_cert_file/smtpd_tls_key_file and the certificate chain (openssl s_client -starttls smtp)".into()],
                vec!["check the destination's TLS policy (smtp_tls_security_level, smtp_tls_policy_maps) and its certificate".into()],
            ),
            Class::Dns => (
                "DNS failed: the host or domain name was not found, or the lookup did not complete.",
                vec!["the domain has no MX or A record, or the resolver is unreachable or slow".into()],
                vec!["check the resolver in /etc/resolv.conf and the smtpd's reverse lookups".into()],
                vec!["check the recipient domain (dig MX domain); a typo'd domain will never resolve".into()],
            ),
            Class::Network => (
                "The network failed: connection refused, no route, or reset.",
                vec!["nothing listens on the port, a firewall blocks it, or the route is down".into()],
                vec!["check that the MTA runs and listens (ss -ltn), and the firewall".into()],
                vec!["check the path to the destination; outbound port 25 is blocked by many networks".into()],
            ),
            Class::Policy => (
                "A permanent rejection by policy or for an address or content problem: retrying will not help.",
                vec!["unknown recipient, blocklisted sender IP, failed SPF/DKIM/DMARC, content or size rules".into()],
                vec!["read the text: it names the rule (smtpd_*_restrictions) that rejected".into()],
                vec!["read the text; fix the address, the content, or the sender's reputation (blocklist delisting)".into()],
            ),
            Class::Other => (
                "A temporary failure of no known capacity family.",
                vec!["the reply text names the reason; policy checks that answer 4xx (unknown sender domain, temporary lookup failures)".into()],
                vec!["review the mail log around the time of the reply".into()],
                vec!["retry with backoff (Postfix does this); review the deferred queue (qshape deferred)".into()],
            ),
        };
    Explanation {
        code: None,
        enhanced: None,
        class,
        reason: None,
        meaning: meaning.to_string(),
        causes,
        fixes: by_side(side, local, remote),
    }
}

/// The fixes for who said it; both, labelled, when that is unknown.
fn by_side(side: Option<Side>, local: Vec<String>, remote: Vec<String>) -> Vec<String> {
    match side {
        Some(Side::Local) => local,
        Some(Side::Remote) => remote,
        None => local
            .into_iter()
            .map(|f| format!("when our server answered this: {f}"))
            .chain(
                remote
                    .into_iter()
                    .map(|f| format!("when a receiver answered our mail: {f}")),
            )
            .collect(),
    }
}

/// "smtpd_client_connection_count_limit is 50", or "… (default 50)" when unknown.
fn param(limits: &Limits, name: &str, default: &str) -> String {
    match limits.get(name) {
        Some(v) => format!("{name} is {v}"),
        None => format!("{name} (default {default})"),
    }
}

/// What the basic reply code says (RFC 5321).
fn code_meaning(code: u16) -> String {
    let s = match code {
        211 | 214 => "system status or help reply",
        220 => "service ready",
        221 => "closing the connection",
        235 => "authentication succeeded",
        250 => "requested action completed",
        251 | 252 => "accepted for a non-local or unverified user",
        334 => "authentication challenge",
        354 => "start mail input",
        421 => "service not available, the server is closing the connection (temporary)",
        450 => "mailbox unavailable for now (busy, blocked by a temporary policy, greylisted)",
        451 => "action aborted: local error in processing (temporary)",
        452 => "action not taken: insufficient system storage (temporary)",
        454 => "temporary failure (TLS not available, or a provider's throttling)",
        455 => "server unable to accommodate parameters (temporary)",
        500..=504 => "syntax error or unsupported command",
        530 | 535 => "authentication required or failed",
        550 => "mailbox unavailable, or rejected by policy (permanent)",
        551 => "user not local (permanent)",
        552 => "exceeded storage allocation (permanent)",
        553 => "mailbox name not allowed (permanent)",
        554 => "transaction failed (permanent)",
        _ => match code / 100 {
            2 => "success",
            3 => "intermediate reply",
            4 => "temporary failure: try again later",
            5 => "permanent failure: do not retry",
            _ => "not a valid SMTP reply code",
        },
    };
    format!("{code}: {s}.")
}

/// What an enhanced status code says (RFC 3463, plus providers' well-known ones).
fn enhanced_meaning(enh: &str) -> String {
    let mut it = enh.split('.');
    let (Some(c), Some(s), Some(d)) = (it.next(), it.next(), it.next()) else {
        return format!("{enh}: not an enhanced status code.");
    };
    let class = match c {
        "2" => "success",
        "4" => "persistent transient failure",
        "5" => "permanent failure",
        _ => "unknown class",
    };
    let detail = match (s, d) {
        ("1", "1") => "bad destination mailbox address",
        ("1", "2") => "bad destination system address",
        ("1", "8") => "bad sender's system address",
        ("2", "0") => "other or undefined mailbox status (greylisting often uses 4.2.0)",
        ("2", "1") => "mailbox disabled (Gmail uses 4.2.1 for 'receiving mail too quickly')",
        ("2", "2") => "mailbox full",
        ("3", "0") => {
            "other or undefined mail system status (with 421/451: busy or short of resources)"
        }
        ("3", "1") => "mail system full",
        ("3", "2") => "system not accepting network messages",
        ("3", "4") => "message too big for the system",
        ("4", "1") => "no answer from host",
        ("4", "2") => "bad connection (timeout exceeded)",
        ("4", "3") => "directory server (DNS) failure",
        ("4", "5") => "mail system congestion",
        ("4", "7") => "delivery time expired",
        ("5", "3") => "too many recipients",
        ("7", "0") => {
            "other security or policy status (used for too many connections and rate limits)"
        }
        ("7", "1") => "delivery not authorized (also used for greylisting)",
        // x.7.20–x.7.26 are RFC 7372's; Gmail gives some of them other meanings.
        ("7", "20" | "21" | "22") => "no passing or acceptable DKIM signature",
        ("7", "23") if c == "4" => {
            "Gmail: the sending IP has no PTR record, or it does not resolve back to the IP"
        }
        ("7", "23") => "SPF validation failed",
        ("7", "24") => "SPF validation error (Gmail: suspicious entries in the SPF record)",
        ("7", "25") => "reverse DNS validation failed: no PTR record, or it does not match",
        ("7", "26") => "authentication failed (Gmail: neither SPF nor DKIM passed, or DMARC)",
        ("7", "27") => "Gmail: SPF did not pass",
        ("7", "28") => "Gmail: unusual rate of unsolicited mail from this IP",
        ("7", "29") => "Gmail: a bulk sender did not use TLS",
        ("7", "30") => "Gmail: DKIM did not pass",
        ("7", "32") => {
            "Gmail: the From: domain is aligned with neither SPF nor DKIM (DMARC alignment)"
        }
        ("7", "40") => "Gmail: the sending domain has no DMARC record or policy",
        ("7", "650") => "Microsoft: rate limited due to IP reputation",
        ("7", d) if d.len() == 3 && (d.starts_with('5') || d.starts_with('6')) => {
            "Microsoft: throttled or temporarily blocked"
        }
        ("0", _) => "other or undefined status",
        ("1", _) => "addressing status",
        ("2", _) => "mailbox status",
        ("3", _) => "mail system status",
        ("4", _) => "network and routing status",
        ("5", _) => "mail delivery protocol status",
        ("6", _) => "message content or media status",
        ("7", _) => "security or policy status",
        _ => "unknown subject",
    };
    format!("{enh}: {class}, {detail}.")
}

#[cfg(test)]
mod tests;

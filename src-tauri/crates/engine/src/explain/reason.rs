//! What a [`Reason`] adds to the class's explanation: the cause the receiver named
//! and the fix for it, from the sender's side (a receiver judged our mail) and from
//! the receiver's side (our server judged a client).

use crate::classify::{Class, Reason};

use super::{param, Limits};

/// Meaning, likely causes, fixes when our server answered (local), fixes when a
/// receiver answered our mail (remote).
pub(super) struct ReasonText {
    pub meaning: &'static str,
    pub causes: Vec<String>,
    pub local: Vec<String>,
    pub remote: Vec<String>,
}

/// Whether the reason says more than the class: a rate limit for volume, a resource
/// shortage because the server is busy, a TLS failure for TLS, a 5xx for policy — the
/// class's own explanation already says those.
pub(super) fn adds_to(class: Class, reason: Reason) -> bool {
    !matches!(
        (reason, class),
        (Reason::Volume, Class::RateLimit | Class::ConnectionLimit)
            | (Reason::Busy, Class::ResourceShortage)
            | (Reason::Tls, Class::Tls)
            | (Reason::Policy, Class::Policy)
    )
}

/// `None` for the reasons whose text is the class's own (volume, busy): the caller
/// uses the class explanation of rate limits or resource shortage instead.
pub(super) fn reason_text(reason: Reason, limits: &Limits) -> Option<ReasonText> {
    let p = |name: &str, default: &str| param(limits, name, default);
    let t = match reason {
        Reason::Volume | Reason::Busy => return None,
        Reason::ReverseDns => ReasonText {
            meaning: "Reverse DNS: PTR record missing or not matching — the sending IP has no PTR record, or the name in it does not resolve back to the same IP.",
            causes: vec![
                "the reverse zone of the sending IP has no PTR record; only whoever holds the address block (hosting provider, ISP) can add one".into(),
                "the PTR names a host whose A/AAAA record does not point back to the sending IP (not forward-confirmed)".into(),
                "mail leaves from another address than the one that has reverse DNS, often IPv6 on a dual-stack host".into(),
            ],
            local: vec![
                "the client's IP has no forward-confirmed reverse DNS; reject_unknown_client_hostname or reject_unknown_reverse_client_hostname in smtpd_client_restrictions rejects it — exempt known clients with check_client_access rather than dropping the check".into(),
            ],
            remote: vec![
                "set reverse DNS for your sending IP: ask whoever holds the address (hosting provider or ISP) for a PTR record naming your mail host, and make that name's A/AAAA record point back to the same IP".into(),
                format!(
                    "use that name as the HELO name ({})",
                    p("smtp_helo_name", "$myhostname")
                ),
                "check both address families: dig -x <sending IP> +short, then dig A and AAAA of the name it returns; or send over the family that has it (inet_protocols, smtp_bind_address6)".into(),
            ],
        },
        Reason::Authentication => ReasonText {
            meaning: "Sender authentication: SPF, DKIM or DMARC failed or is missing, or the From: domain is not aligned with a domain that passed.",
            causes: vec![
                "the sending IP is not in the envelope sender domain's SPF record, or the record is broken (more than 10 DNS look-ups, syntax)".into(),
                "messages are not DKIM-signed, or the signature does not verify (key not published, message changed after signing)".into(),
                "the From: domain has no DMARC record, or aligns with neither the SPF nor the DKIM domain".into(),
                "forwarding without SRS or ARC breaks SPF for the original sender".into(),
            ],
            local: vec![
                "the client's message failed this server's SPF/DKIM/DMARC checks (milter or policy service); the sending domain's owner has to fix its records".into(),
            ],
            remote: vec![
                "check the records: dig TXT <domain> (SPF), dig TXT <selector>._domainkey.<domain> (DKIM), dig TXT _dmarc.<domain> (DMARC)".into(),
                "list every sending IP in SPF, sign with DKIM (OpenDKIM or rspamd as a milter), publish a DMARC record (p=none is enough to start) with From: aligned to the signing domain".into(),
                "send a test message to a mailbox at that provider and read its Authentication-Results header".into(),
            ],
        },
        Reason::Blocklist => ReasonText {
            meaning: "Blocklist: the sending IP, or a range it belongs to, is on a DNS blocklist or on the receiver's own block list.",
            causes: vec![
                "the IP or its neighbours sent spam: a compromised account or web form, an open relay, a shared range".into(),
                "a public list (Spamhaus, SpamCop, Barracuda) or the receiver's own (Microsoft S3140/S3150, 5.7.606 banned sending IP)".into(),
            ],
            local: vec![
                "the client is on a blocklist this server consults (reject_rbl_client, postscreen_dnsbl_sites); exempt known senders with check_client_access".into(),
            ],
            remote: vec![
                "look the IP up at the list the reply names and follow its removal procedure (Microsoft: the sender support form at sender.office.com)".into(),
                "find and stop the cause first, or it is listed again: unusual senders in postqueue -p, authenticated users sending a lot in the mail log".into(),
                "after delisting, send at a modest rate while the reputation recovers".into(),
            ],
        },
        Reason::Reputation => ReasonText {
            meaning: "Reputation: the receiver distrusts mail from this IP or domain (complaints, spam-like mail, a new IP without history) and slows or refuses it.",
            causes: vec![
                "recipients marked messages as spam, or mail reached spam traps and unknown addresses".into(),
                "a new sending IP or domain without history, or a sudden jump in volume".into(),
                "a shared IP whose other users send spam".into(),
            ],
            local: vec![
                "this server's reputation service or milter judged the client; its own log says why".into(),
            ],
            remote: vec![
                "see the receiver's view: Google Postmaster Tools, Microsoft SNDS and JMRP, Yahoo Sender Hub and its complaint feedback loop".into(),
                "send only to people who asked; drop bounces and inactive addresses; honour unsubscribes".into(),
                "retry later, not harder; warm a new IP up over weeks".into(),
                "if it lasts for days, open a ticket with the provider's sender support (linked from its postmaster page)".into(),
            ],
        },
        Reason::Tls => ReasonText {
            meaning: "TLS: the receiver wants the connection encrypted (STARTTLS) and it was not, or the TLS session failed.",
            causes: vec![
                "outbound TLS is off, or STARTTLS failed and the client fell back to plain text".into(),
                "a middlebox removes STARTTLS from the EHLO reply".into(),
            ],
            local: vec![
                "this server requires TLS from the client (smtpd_tls_security_level = encrypt); the client must use STARTTLS".into(),
            ],
            remote: vec![
                format!(
                    "use TLS outbound: {} — may (opportunistic) at least",
                    p("smtp_tls_security_level", "empty, no TLS")
                ),
                "test the handshake: openssl s_client -starttls smtp -connect <mx>:25".into(),
            ],
        },
        Reason::Policy => ReasonText {
            meaning: "Policy: a rule of the receiver refused it — an allowlist, a content filter, a per-recipient rule; the text names it.",
            causes: vec![
                "the receiving domain accepts mail only from listed IPs".into(),
                "content or links the receiver's filters do not accept".into(),
            ],
            local: vec![
                "the rule is in this server's smtpd_*_restrictions or a milter (postconf -n | grep restrictions)".into(),
            ],
            remote: vec![
                "read the text; when it names an allowlist, ask the receiving domain's administrator to add the sending IP".into(),
            ],
        },
    };
    Some(t)
}

//! Postfix log lines: delivery status lines (`status=deferred|bounced`), the
//! `said:` / `refused to talk to me:` / `connect to` lines logged without a status
//! while the next MX is tried, local rejections (`NOQUEUE: reject:`, postscreen) and
//! the warnings that mark a limit (`Connection concurrency limit exceeded`, `not enough
//! free space in mail queue`).

use std::borrow::Cow;

use super::{domain_of, Mta, Parsed, Record, Side};
use crate::classify::{classify, classify_outcome, enhanced_after_code, reply_code, Class};

/// `daemon`: the last part of the program name (`smtp` in `postfix-out/smtp`).
pub(super) fn parse_message<'a>(daemon: &'a str, msg: &'a str, deliveries: bool) -> Parsed<'a> {
    if let Some(w) = msg.strip_prefix("warning: ") {
        return warning(w);
    }
    let (queue_id, rest) = split_queue_id(msg);
    let remote_daemon = daemon == "smtp" || daemon == "lmtp";
    match rest.as_bytes().first() {
        Some(b't') if rest.starts_with("to=<") => status_line(queue_id, rest, deliveries),
        Some(b'r') if rest.starts_with("reject: ") => reject(queue_id, &rest[8..]),
        Some(b'm') if rest.starts_with("milter-reject: ") => reject(queue_id, &rest[15..]),
        Some(b'h') if remote_daemon && rest.starts_with("host ") => host_line(queue_id, rest),
        Some(b'c' | b'l') if remote_daemon => outcome_line(queue_id, rest),
        _ => Parsed::Nothing,
    }
}

fn split_queue_id(msg: &str) -> (Option<&str>, &str) {
    let b = msg.as_bytes();
    let n = b.iter().take_while(|c| c.is_ascii_alphanumeric()).count();
    if n >= 6 && b[n..].starts_with(b": ") {
        let id = &msg[..n];
        let id = (id != "NOQUEUE").then_some(id);
        (id, &msg[n + 2..])
    } else {
        (None, msg)
    }
}

fn status_line<'a>(queue_id: Option<&'a str>, rest: &'a str, deliveries: bool) -> Parsed<'a> {
    let b = rest.as_bytes();
    let Some(st) = find!(b, b", status=") else {
        return Parsed::Nothing;
    };
    let fields = &rest[..st];
    let status = &rest[st + 9..];
    let reason = if let Some(s) = status.strip_prefix("deferred ") {
        s
    } else if let Some(s) = status.strip_prefix("bounced ") {
        s
    } else if deliveries && status.starts_with("sent") {
        return Parsed::Delivered {
            domain: recipient_domain(fields),
            relay: field(fields, ", relay=").filter(|r| *r != "none"),
        };
    } else {
        return Parsed::Nothing;
    };
    let domain = recipient_domain(fields);
    let relay = field(fields, ", relay=").filter(|r| *r != "none");
    let reason = reason.trim_end();
    let reason = reason.strip_prefix('(').unwrap_or(reason);
    let reason = reason.strip_suffix(')').unwrap_or(reason);
    let relay = relay
        .map(Cow::Borrowed)
        .or_else(|| host_in_reason(reason).map(Cow::Borrowed));
    remote_record(queue_id, relay, domain, reason)
}

/// `to=<a@b.example>, …` → `b.example`.
fn recipient_domain(fields: &str) -> Option<&str> {
    let gt = memchr::memchr(b'>', fields.as_bytes())?;
    fields.get(4..gt).and_then(domain_of)
}

/// A field's value up to the next comma (`, relay=` → `mx[1.2.3.4]:25`).
fn field<'a>(fields: &'a str, name: &str) -> Option<&'a str> {
    let start = fields.find(name)? + name.len();
    let v = &fields[start..];
    Some(v.find(',').map_or(v, |e| &v[..e]))
}

/// The host a reason names: `host X said: …`, `host X refused …`, `connect to X: …`.
fn host_in_reason(reason: &str) -> Option<&str> {
    let r = reason
        .strip_prefix("delivery temporarily suspended: ")
        .unwrap_or(reason);
    if let Some(h) = r.strip_prefix("host ") {
        let end = h.find(' ')?;
        return Some(&h[..end]);
    }
    let at = r.find("connect to ")?;
    let h = &r[at + 11..];
    let close = h.find("]:")?;
    let port = h[close + 2..]
        .bytes()
        .take_while(u8::is_ascii_digit)
        .count();
    Some(&h[..close + 2 + port])
}

/// A remote server's reply (or a connection outcome) for our outbound mail.
fn remote_record<'a>(
    queue_id: Option<&'a str>,
    relay: Option<Cow<'a, str>>,
    domain: Option<&'a str>,
    reason: &'a str,
) -> Parsed<'a> {
    let reply = if let Some(p) = find!(reason.as_bytes(), b" said: ") {
        let r = &reason[p + 7..];
        Some(r.rfind(" (in reply to ").map_or(r, |e| &r[..e]))
    } else {
        find!(reason.as_bytes(), b"refused to talk to me: ").map(|p| &reason[p + 23..])
    };
    let (code, enhanced, class, raw) =
        match reply.and_then(|r| Some((r, reply_code(r.as_bytes())?))) {
            Some((r, code)) => {
                let enhanced = enhanced_at(r);
                (Some(code), enhanced, classify(code, enhanced, r), r)
            }
            None => match classify_outcome(reason) {
                Some(c) => (None, None, c, reason),
                None => return Parsed::Nothing,
            },
        };
    if class == Class::Ok {
        return Parsed::Nothing;
    }
    Parsed::Failure(Record {
        mta: Mta::Postfix,
        queue_id,
        side: Side::Remote,
        relay,
        domain,
        code,
        enhanced,
        class,
        raw,
    })
}

/// The enhanced code after `NNN-` / `NNN ` at the start of a reply.
pub(super) fn enhanced_at(reply: &str) -> Option<&str> {
    enhanced_after_code(reply)
}

/// `host X said: …` or `host X refused to talk to me: …` without a status: logged
/// while Postfix tries the next MX.
fn host_line<'a>(queue_id: Option<&'a str>, rest: &'a str) -> Parsed<'a> {
    let relay = host_in_reason(rest).map(Cow::Borrowed);
    remote_record(queue_id, relay, None, rest)
}

/// `connect to X: Connection refused`, `lost connection with X while …`,
/// `conversation with X timed out while …`.
fn outcome_line<'a>(queue_id: Option<&'a str>, rest: &'a str) -> Parsed<'a> {
    let host = if rest.starts_with("connect to ") {
        host_in_reason(rest)
    } else if let Some(h) = rest
        .strip_prefix("lost connection with ")
        .or_else(|| rest.strip_prefix("conversation with "))
    {
        h.find(' ').map(|e| &h[..e])
    } else {
        return Parsed::Nothing;
    };
    match classify_outcome(rest) {
        Some(class) => Parsed::Failure(Record {
            mta: Mta::Postfix,
            queue_id,
            side: Side::Remote,
            relay: host.map(Cow::Borrowed),
            domain: None,
            code: None,
            enhanced: None,
            class,
            raw: rest,
        }),
        None => Parsed::Nothing,
    }
}

/// `reject: RCPT from host[ip]: 450 4.2.0 <x>: …; from=<a> to=<b> proto=ESMTP helo=<h>`
/// and postscreen's `reject: CONNECT from [ip]:port: all server ports busy`.
fn reject<'a>(queue_id: Option<&'a str>, rest: &'a str) -> Parsed<'a> {
    let Some(from) = rest.find(" from ") else {
        return Parsed::Nothing;
    };
    let client = &rest[from + 6..];
    let start = match client.find(']') {
        Some(close) => {
            let after = &client[close + 1..];
            let port = match after.strip_prefix(':') {
                Some(p) if p.starts_with(|c: char| c.is_ascii_digit()) => {
                    1 + p.bytes().take_while(u8::is_ascii_digit).count()
                }
                _ => 0,
            };
            close + 1 + port
        }
        None => match client.find(": ") {
            Some(c) => c,
            None => return Parsed::Nothing,
        },
    };
    let Some(reply) = client[start..].strip_prefix(": ") else {
        return Parsed::Nothing;
    };
    let cut = reply
        .rfind("; from=<")
        .or_else(|| reply.rfind("; to=<"))
        .or_else(|| reply.rfind("; proto="));
    let (text, trailer) = match cut {
        Some(c) => (&reply[..c], &reply[c..]),
        None => (reply, ""),
    };
    let domain = trailer.find("to=<").and_then(|p| {
        let a = &trailer[p + 4..];
        a.find('>').and_then(|e| domain_of(&a[..e]))
    });
    let code = reply_code(text.as_bytes());
    let enhanced = code.and_then(|_| enhanced_at(text));
    let class = classify(code.unwrap_or(0), enhanced, text);
    if class == Class::Ok {
        return Parsed::Nothing;
    }
    Parsed::Failure(Record {
        mta: Mta::Postfix,
        queue_id,
        side: Side::Local,
        relay: None,
        domain,
        code,
        enhanced,
        class,
        raw: text,
    })
}

/// Warnings that mark a limit being hit on our side.
fn warning(w: &str) -> Parsed<'_> {
    let b = w.as_bytes();
    let interesting = find!(b, b"limit exceeded").is_some()
        || find!(b, b"reached its process limit").is_some()
        || find!(b, b"not enough free space").is_some()
        || find!(b, b"No space left on device").is_some()
        || find!(b, b"queue file write error").is_some();
    if !interesting {
        return Parsed::Nothing;
    }
    let class = match classify_outcome(w) {
        Some(c @ (Class::ConnectionLimit | Class::RateLimit | Class::ResourceShortage)) => c,
        _ => return Parsed::Nothing,
    };
    Parsed::Failure(Record {
        mta: Mta::Postfix,
        queue_id: None,
        side: Side::Local,
        relay: None,
        domain: None,
        code: None,
        enhanced: None,
        class,
        raw: w,
    })
}

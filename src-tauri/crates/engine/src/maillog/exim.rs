//! Exim log lines: `==` (deferred) and `**` (failed) deliveries, with the remote
//! reply after `SMTP error from remote mail server after …`, and Exim's local
//! refusals (`Connection from [ip] refused: too many connections`, `temporarily
//! rejected MAIL …: spool directory space check failed`).

use std::borrow::Cow;

use super::{domain_of, postfix::enhanced_at, Mta, Parsed, Record, Side};
use crate::classify::{classify, classify_outcome, reply_code, Class};

/// The rest of a mainlog line after `YYYY-MM-DD HH:MM:SS[.fff][ ±HHMM] [[pid] ]`.
pub(super) fn after_mainlog_stamp(line: &str) -> Option<&str> {
    let b = line.as_bytes();
    if b.len() < 21
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b' '
        || b[13] != b':'
        || b[16] != b':'
        || !b[..4].iter().all(u8::is_ascii_digit)
    {
        return None;
    }
    let mut i = 19;
    if b[i] == b'.' {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
    }
    if b.get(i) == Some(&b' ')
        && matches!(b.get(i + 1), Some(b'+' | b'-'))
        && b.get(i + 2..i + 6)
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
    {
        i += 6;
    }
    if b.get(i) != Some(&b' ') {
        return None;
    }
    i += 1;
    if b.get(i) == Some(&b'[') {
        let close = memchr::memchr(b']', &b[i..])?;
        i += close + 1;
        if b.get(i) == Some(&b' ') {
            i += 1;
        }
    }
    line.get(i..)
}

/// Exim message ids: `1vFqXa-000Abc-1x` (old) or `1vFqXa-00000000Abc-1xyz` (4.97+).
fn is_message_id(s: &str) -> bool {
    let b = s.as_bytes();
    (16..=23).contains(&b.len())
        && b[6] == b'-'
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
}

pub(super) fn parse_message(msg: &str, deliveries: bool) -> Parsed<'_> {
    let (id, rest) = match msg.find(' ') {
        Some(sp) if is_message_id(&msg[..sp]) => (Some(&msg[..sp]), &msg[sp + 1..]),
        _ => (None, msg),
    };
    if id.is_some() {
        if let Some(r) = rest.strip_prefix("== ") {
            return delivery(id, r);
        }
        if let Some(r) = rest.strip_prefix("** ") {
            return delivery(id, r);
        }
        if deliveries && rest.starts_with("=> ") {
            return delivered(rest);
        }
        if rest.starts_with("=> ") || rest.starts_with("<= ") || rest.starts_with("-> ") {
            return Parsed::Nothing;
        }
    }
    if rest.starts_with("Connection from ") && rest.contains(" refused") {
        return refusal(rest);
    }
    if let Some(p) = find!(rest.as_bytes(), b"rejected ") {
        return rejection(id, rest, p);
    }
    Parsed::Nothing
}

fn delivered(rest: &str) -> Parsed<'_> {
    if !rest.starts_with("=> ") {
        return Parsed::Nothing;
    }
    let addr = rest[3..].split(' ').next().unwrap_or("");
    Parsed::Delivered {
        domain: domain_of(addr.trim_matches(['<', '>'])),
        relay: None,
    }
}

/// `addr R=router T=transport defer (-44) H=host [ip]: SMTP error from remote mail
/// server after RCPT TO:<addr>: 421-4.7.0 …` (or a failure without a reply).
fn delivery<'a>(id: Option<&'a str>, rest: &'a str) -> Parsed<'a> {
    let addr = rest.split(' ').next().unwrap_or("");
    let addr = addr.trim_end_matches(':');
    let domain = domain_of(addr.trim_matches(['<', '>']));
    let relay = relay(rest);
    let b = rest.as_bytes();
    let (code, enhanced, class, raw) =
        if let Some(p) = find!(b, b"SMTP error from remote mail server after ") {
            let after = &rest[p + 41..];
            let Some(reply) = reply_after_colon(after) else {
                return Parsed::Nothing;
            };
            let code = reply_code(reply.as_bytes()).unwrap_or(0);
            let enhanced = enhanced_at(reply);
            (Some(code), enhanced, classify(code, enhanced, reply), reply)
        } else {
            let text = match rest.find("): ") {
                Some(p) => &rest[p + 3..],
                None => match rest.find(": ") {
                    Some(p) => &rest[p + 2..],
                    None => return Parsed::Nothing,
                },
            };
            match classify_outcome(text) {
                Some(c) => (None, None, c, text),
                None => return Parsed::Nothing,
            }
        };
    if class == Class::Ok {
        return Parsed::Nothing;
    }
    Parsed::Failure(Record {
        mta: Mta::Exim,
        queue_id: id,
        side: Side::Remote,
        relay,
        domain,
        code,
        enhanced,
        class,
        raw,
    })
}

/// The reply after the first `: ` that is followed by a reply code (the command
/// before it may hold colons: `RCPT TO:<a@b>: 421 …`).
fn reply_after_colon(s: &str) -> Option<&str> {
    let mut from = 0;
    while let Some(p) = s[from..].find(": ") {
        let r = &s[from + p + 2..];
        if reply_code(r.as_bytes()).is_some() {
            return Some(r);
        }
        from += p + 2;
    }
    None
}

/// `H=host [ip]` or `H=host [ip]:port` → `host[ip]` / `host[ip]:port`.
fn relay(rest: &str) -> Option<Cow<'_, str>> {
    let h = &rest[rest.find(" H=")? + 3..];
    let open = h.find(" [")?;
    let close = open + h[open..].find(']')?;
    let host = &h[..open];
    let ip = &h[open + 2..close];
    let port = match h[close + 1..].strip_prefix(':') {
        Some(p) => {
            let n = p.bytes().take_while(u8::is_ascii_digit).count();
            &p[..n]
        }
        None => "",
    };
    Some(Cow::Owned(if port.is_empty() {
        format!("{host}[{ip}]")
    } else {
        format!("{host}[{ip}]:{port}")
    }))
}

/// `Connection from [ip] refused: too many connections` / `: load average = 12.44`.
fn refusal(rest: &str) -> Parsed<'_> {
    let class = match classify(421, None, rest) {
        Class::Other => classify_outcome(rest).unwrap_or(Class::Other),
        c => c,
    };
    local(None, None, class, rest)
}

/// `H=host [ip] F=<a> temporarily rejected RCPT <b>: reason` (and permanent ones).
fn rejection<'a>(id: Option<&'a str>, rest: &'a str, at: usize) -> Parsed<'a> {
    let permanent = !rest[..at].ends_with("temporarily ");
    let after = &rest[at + 9..];
    let domain = after.strip_prefix("RCPT <").and_then(|a| {
        let e = a.find('>')?;
        domain_of(&a[..e])
    });
    let reason = after.find(": ").map_or(after, |p| &after[p + 2..]);
    // Exim does not log the code it answered: classify as the 4xx or 5xx it was.
    let class = classify(if permanent { 550 } else { 451 }, None, reason);
    local(id, domain, class, reason)
}

fn local<'a>(
    id: Option<&'a str>,
    domain: Option<&'a str>,
    class: Class,
    raw: &'a str,
) -> Parsed<'a> {
    Parsed::Failure(Record {
        mta: Mta::Exim,
        queue_id: id,
        side: Side::Local,
        relay: None,
        domain,
        code: None,
        enhanced: None,
        class,
        raw,
    })
}

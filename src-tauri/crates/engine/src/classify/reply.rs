//! Reading an SMTP reply: the three-digit code, the enhanced status code (RFC 3463,
//! announced by RFC 2034's ENHANCEDSTATUSCODES) and the text of all lines joined with
//! a space, their `NNN-x.y.z ` prefixes removed (DESIGN.md). This is the one parser
//! of enhanced codes: probes (lines from lettre, the code already taken off) and mail
//! logs (replies as logged, prefixes still in place) both go through it.

use serde::{Deserialize, Serialize};

use super::{classify_reply, Class, Classification};

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
        let bodies = lines
            .iter()
            .map(|l| strip_code(l.trim_end_matches(['\r', '\n']), code));
        Some(Reply::from_bodies(code, bodies))
    }

    /// Builds a reply from lines whose `NNN-` / `NNN ` prefix was already taken off
    /// (lettre's parsed responses). Each line may still start with the enhanced code;
    /// the first one found is kept, all are removed from the text.
    pub fn from_bodies<'a>(code: u16, bodies: impl IntoIterator<Item = &'a str>) -> Reply {
        let mut enhanced: Option<&str> = None;
        let mut text = String::new();
        for body in bodies {
            let body = body.trim();
            let rest = match split_enhanced(body, code) {
                Some((e, rest)) => {
                    enhanced.get_or_insert(e);
                    rest
                }
                None => body,
            };
            push_joined(&mut text, rest);
        }
        Reply {
            code,
            enhanced: enhanced.map(str::to_string),
            text,
        }
    }

    /// Parses a reply that a log already joined on one line, such as Postfix's
    /// `421-4.7.28 Gmail has … 421-4.7.28 our users … 421 4.7.28 Please visit …` or
    /// Exim's `421-4.7.0 …\n421 4.7.0 …` (a literal backslash-n).
    pub fn parse(joined: &str) -> Option<Reply> {
        let joined = joined.trim();
        let code = reply_code(joined.as_bytes())?;
        let bodies = split_continuations(joined, code)
            .into_iter()
            .map(|part| strip_code(part, code));
        Some(Reply::from_bodies(code, bodies))
    }

    pub fn class(&self) -> Class {
        self.classification().class
    }

    /// Class and reason (DESIGN.md taxonomy, docs/CLASSIFY.md reasons).
    pub fn classification(&self) -> Classification {
        classify_reply(self.code, self.enhanced.as_deref(), &self.text)
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
/// followed by the end, a space or a separator. Shape only: class 2, 4 or 5, subject
/// and detail of one to three digits (RFC 3463).
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

/// The enhanced code at the start of a line body (the text after `NNN-` / `NNN `) and
/// the text after it, when the code's class agrees with the reply code (RFC 2034:
/// `2.0.0` only with 2xx). `220 mail ESMTP Postfix 3.7.11` has none; neither has a
/// `250 4.2.0 …` that no server should send.
pub fn split_enhanced(body: &str, code: u16) -> Option<(&str, &str)> {
    let n = enhanced_len(body.as_bytes())?;
    if u16::from(body.as_bytes()[0] - b'0') != code / 100 {
        return None;
    }
    Some((&body[..n], body[n..].trim_start()))
}

/// The enhanced code right after `NNN-` / `NNN ` at the start of a reply as logged.
pub fn enhanced_after_code(reply: &str) -> Option<&str> {
    let code = reply_code(reply.as_bytes())?;
    let body = reply.get(4..)?;
    split_enhanced(body, code).map(|(e, _)| e)
}

/// Removes `NNN-` or `NNN ` (for this reply's code) from a line; the enhanced code
/// stays for [`split_enhanced`].
fn strip_code(line: &str, code: u16) -> &str {
    if reply_code(line.as_bytes()) != Some(code) {
        return line;
    }
    let rest = line.get(3..).unwrap_or("");
    rest.strip_prefix(['-', ' ', '\t']).unwrap_or(rest)
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn from_bodies_takes_the_enhanced_code_off_every_line() {
        // The shape lettre hands over: code gone, enhanced code still on each line.
        let r = Reply::from_bodies(421, ["4.3.0 Server busy", "4.3.0 try again later"]);
        assert_eq!(r.enhanced.as_deref(), Some("4.3.0"));
        assert_eq!(r.text, "Server busy try again later");
        let r = Reply::from_bodies(452, ["Space shortage, please try later"]);
        assert_eq!(
            (r.enhanced, r.text.as_str()),
            (None, "Space shortage, please try later")
        );
    }

    #[test]
    fn the_enhanced_class_must_agree_with_the_reply_code() {
        // A version number or a stray code of another class is text, not a status.
        let r = Reply::from_bodies(220, ["mail ESMTP Postfix 3.7.11"]);
        assert_eq!(r.enhanced, None);
        let r = Reply::from_bodies(250, ["4.2.0 odd but text"]);
        assert_eq!((r.enhanced, r.text.as_str()), (None, "4.2.0 odd but text"));
        let r = Reply::from_bodies(221, ["2.0.0 Bye"]);
        assert_eq!(
            (r.enhanced.as_deref(), r.text.as_str()),
            (Some("2.0.0"), "Bye")
        );
        assert_eq!(enhanced_after_code("550 4.7.1 mismatched"), None);
        assert_eq!(
            enhanced_after_code("451 4.7.650 The mail server"),
            Some("4.7.650")
        );
        assert_eq!(enhanced_after_code("421-4.7.28 Gmail"), Some("4.7.28"));
        assert_eq!(enhanced_after_code("421 RP-001 (BAY004-MC1F36)"), None);
        assert_eq!(enhanced_after_code("42"), None);
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
        assert_eq!(split_enhanced("", 421), None);
        assert_eq!(split_enhanced("4.", 421), None);
        assert_eq!(Reply::from_bodies(0, ["4.3.0 x"]).enhanced, None);
    }
}

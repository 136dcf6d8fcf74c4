//! Replies as the probe reports them: code, enhanced code, and the text of all lines
//! joined with a space, their `NNN-x.y.z ` prefixes removed (DESIGN.md).
//!
//! lettre parses the lines and strips the `NNN-`/`NNN ` part; this module takes the
//! enhanced status code off the front of each line.
//!
//! The text is kept at most [`crate::sanitize::STORED_TEXT_MAX_BYTES`]: a server may
//! send up to 256 KiB in one reply, and every result is kept in memory (the probe log)
//! and stored with every probe for a month.

use lettre::transport::smtp::response::Response;

use crate::classify::Reply;

/// A reply from lettre's parsed response (positive replies).
pub fn from_response(r: &Response) -> Reply {
    build(u16::from(r.code()), r.message())
}

/// A reply from the code and text that lettre keeps in a negative-reply error (its
/// lines already joined with a space, repeated enhanced codes removed).
pub fn from_error_text(code: u16, joined: &str) -> Reply {
    build(code, std::iter::once(joined))
}

fn build<'a>(code: u16, lines: impl Iterator<Item = &'a str>) -> Reply {
    let mut enhanced: Option<String> = None;
    let mut parts: Vec<&str> = Vec::new();
    for line in lines {
        let line = line.trim();
        let rest = match split_enhanced(line, code) {
            Some((e, rest)) => {
                if enhanced.is_none() {
                    enhanced = Some(e.to_string());
                }
                rest
            }
            None => line,
        };
        if !rest.is_empty() {
            parts.push(rest);
        }
    }
    Reply {
        code,
        enhanced,
        text: crate::sanitize::for_storage(&parts.join(" ")),
    }
}

/// `4.3.1 Insufficient system storage` → (`4.3.1`, `Insufficient system storage`) when
/// the class digit agrees with the reply code (RFC 3463: 2, 4 or 5).
fn split_enhanced(line: &str, code: u16) -> Option<(&str, &str)> {
    let (head, rest) = match line.find(' ') {
        Some(i) => (&line[..i], line[i + 1..].trim_start()),
        None => (line, ""),
    };
    let mut parts = head.split('.');
    let (class, subject, detail) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let digits = |s: &str, max: usize| {
        !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_digit())
    };
    let class_ok = class.len() == 1 && class.as_bytes()[0] == b'0' + (code / 100) as u8;
    if class_ok && digits(subject, 3) && digits(detail, 3) {
        Some((head, rest))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enhanced_code_is_taken_off_the_text() {
        let r = from_error_text(452, "4.3.1 Insufficient system storage");
        assert_eq!(r.enhanced.as_deref(), Some("4.3.1"));
        assert_eq!(r.text, "Insufficient system storage");
    }

    #[test]
    fn multi_line_prefixes_are_removed_on_every_line() {
        let r = build(
            421,
            ["4.3.0 Server busy", "4.3.0 try again later"].into_iter(),
        );
        assert_eq!(r.enhanced.as_deref(), Some("4.3.0"));
        assert_eq!(r.text, "Server busy try again later");
    }

    #[test]
    fn a_huge_reply_is_kept_cut() {
        let line = format!("4.3.0 {}", "busy ".repeat(50 * 1024));
        let r = build(421, std::iter::repeat_n(line.as_str(), 1));
        assert_eq!(r.enhanced.as_deref(), Some("4.3.0"));
        assert!(r.text.starts_with("busy busy"));
        assert!(
            r.text.len() <= crate::sanitize::STORED_TEXT_MAX_BYTES,
            "{} bytes kept",
            r.text.len()
        );
        assert!(r.text.ends_with('…'));
    }

    #[test]
    fn a_reply_without_enhanced_code_keeps_its_text() {
        let r = from_error_text(452, "Space shortage, please try later");
        assert_eq!(r.enhanced, None);
        assert_eq!(r.text, "Space shortage, please try later");
        // A version number is not an enhanced code of a 2xx reply.
        let r = build(220, ["mail ESMTP Postfix 3.7.11"].into_iter());
        assert_eq!(r.enhanced, None);
        let r = build(221, ["2.0.0 Bye"].into_iter());
        assert_eq!(
            (r.enhanced.as_deref(), r.text.as_str()),
            (Some("2.0.0"), "Bye")
        );
    }
}

//! Replies as the probe reports them, from what lettre hands over: lettre parses the
//! lines and strips the `NNN-`/`NNN ` part; the enhanced code is taken off by the one
//! reply parser in [`crate::classify`], the same that reads mail-log lines.
//!
//! The text is kept at most [`crate::sanitize::STORED_TEXT_MAX_BYTES`]: a server may
//! send up to 256 KiB in one reply, and every result is kept in memory (the probe log)
//! and stored with every probe for a month.

use lettre::transport::smtp::response::Response;

use crate::classify::Reply;

/// A reply from lettre's parsed response (positive replies).
pub fn from_response(r: &Response) -> Reply {
    kept(Reply::from_bodies(u16::from(r.code()), r.message()))
}

/// A reply from the code and text that lettre keeps in a negative-reply error (its
/// lines already joined with a space, repeated enhanced codes removed).
pub fn from_error_text(code: u16, joined: &str) -> Reply {
    kept(Reply::from_bodies(code, [joined]))
}

/// The reply as it is kept: its text cut to what is stored.
fn kept(mut r: Reply) -> Reply {
    r.text = crate::sanitize::for_storage(&r.text);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    use lettre::transport::smtp::response::{Category, Code, Detail, Severity};

    #[test]
    fn enhanced_code_is_taken_off_the_text() {
        let r = from_error_text(452, "4.3.1 Insufficient system storage");
        assert_eq!(r.enhanced.as_deref(), Some("4.3.1"));
        assert_eq!(r.text, "Insufficient system storage");
    }

    #[test]
    fn a_huge_reply_is_kept_cut() {
        let line = format!("4.3.0 {}", "busy ".repeat(50 * 1024));
        let r = from_error_text(421, &line);
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
    }

    #[test]
    fn a_parsed_multi_line_response_is_joined() {
        let code = Code::new(
            Severity::TransientNegativeCompletion,
            Category::Connections,
            Detail::One,
        );
        let r = Response::new(
            code,
            vec![
                "4.7.0 [TSS04] Messages from 203.0.113.9 temporarily deferred".to_string(),
                "4.7.0 due to unexpected volume or user complaints".to_string(),
            ],
        );
        let reply = from_response(&r);
        assert_eq!(reply.code, 421);
        assert_eq!(reply.enhanced.as_deref(), Some("4.7.0"));
        assert_eq!(
            reply.text,
            "[TSS04] Messages from 203.0.113.9 temporarily deferred due to unexpected volume or user complaints"
        );
    }
}

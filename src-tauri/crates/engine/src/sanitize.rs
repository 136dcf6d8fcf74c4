//! Remote text made safe for where it is shown. SMTP replies, mail-log lines and queue
//! delay reasons are written by other people's servers: they can carry terminal escape
//! sequences (`ESC ]8;;url BEL` makes a clickable link, `ESC [2J` clears the screen),
//! notification markup (`<a href>`, `<img>`), bidi overrides that reorder what the
//! reader sees, a `|` that starts Nagios perfdata, or simply 256 KiB of text.
//!
//! Each function here is for one destination: a notification body, a terminal line,
//! a Nagios plugin output, or the history. Raw text is kept where it is data (JSON,
//! the database); it is cleaned where it is *shown*.

/// Characters of a notification body (before markup escaping): a notification is a
/// glance, and some servers grow the bubble without bound.
pub const NOTIFICATION_MAX_CHARS: usize = 300;

/// Characters of a notification summary (our own words, but bounded all the same).
pub const SUMMARY_MAX_CHARS: usize = 120;

/// Bytes of remote text kept per stored reply or example (probe replies, mail-log
/// examples): real replies are a line or two; anything longer is cut with "…".
pub const STORED_TEXT_MAX_BYTES: usize = 2048;

/// Bytes of a Nagios perfdata label.
const PERFDATA_LABEL_MAX: usize = 64;

/// A notification body per the Desktop Notifications spec's body markup: controls,
/// escape sequences and bidi overrides removed, whitespace collapsed, cut to
/// [`NOTIFICATION_MAX_CHARS`] with "…", then `& < > " '` escaped as entities so a
/// server that renders markup shows the text and follows no link.
pub fn for_notification(s: &str) -> String {
    escape_markup(&for_plain_notification(s))
}

/// A notification body for a destination that takes plain text (webhooks): the same
/// cleaning and cut as [`for_notification`] without the markup escaping, which each
/// destination does for its own format (serde for JSON, `& < >` for Slack).
pub fn for_plain_notification(s: &str) -> String {
    cut_chars(
        &collapse_whitespace(&strip_controls(s)),
        NOTIFICATION_MAX_CHARS,
    )
}

/// A notification summary. The spec makes the summary plain text (GNOME and KDE show
/// it verbatim, so entities would show up as `&amp;`): controls, escape sequences and
/// bidi overrides removed, whitespace collapsed, cut to [`SUMMARY_MAX_CHARS`].
pub fn for_notification_summary(s: &str) -> String {
    cut_chars(&collapse_whitespace(&strip_controls(s)), SUMMARY_MAX_CHARS)
}

/// One line for a terminal: escape sequences (CSI, OSC, DCS, …, 7-bit and 8-bit) and
/// all other C0/C1 controls removed, tabs and line breaks turned into spaces, bidi
/// overrides removed; printable text (any script) kept as it is.
pub fn for_terminal(s: &str) -> String {
    strip_controls(s)
}

/// The text of a Nagios plugin output line (before the `|`): terminal-safe, with no
/// `|` (it would start the perfdata) and no line break (it would start long output).
pub fn for_perfdata(s: &str) -> String {
    for_terminal(s).replace('|', "/")
}

/// A Nagios perfdata label: only `A-Za-z0-9_.:/-` survive (no `|`, `=`, `'`, space or
/// line break, so no quoting is needed), others become `_`; at most 64 bytes.
pub fn for_perfdata_label(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '/' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    out.truncate(PERFDATA_LABEL_MAX);
    if out.is_empty() {
        out.push('_');
    }
    out
}

/// Remote text as it is kept (history, the probe log, mail-log examples): at most
/// [`STORED_TEXT_MAX_BYTES`] bytes, cut on a character boundary with "…", and the
/// allocation shrunk to fit so a cut reply does not keep its original capacity.
pub fn for_storage(s: &str) -> String {
    let mut out = cut_bytes(s, STORED_TEXT_MAX_BYTES);
    out.shrink_to_fit();
    out
}

/// Cuts `s` to at most `max` bytes on a character boundary, ending in "…" when cut.
pub fn cut_bytes(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let room = max.saturating_sub('…'.len_utf8());
    let mut end = room;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = String::with_capacity(end + 3);
    out.push_str(&s[..end]);
    out.push('…');
    out
}

/// Cuts `s` to at most `max` characters, the last being "…" when cut.
fn cut_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_string(),
        Some(_) => {
            let keep = max.saturating_sub(1);
            let end = s.char_indices().nth(keep).map_or(s.len(), |(i, _)| i);
            let mut out = s[..end].trim_end().to_string();
            out.push('…');
            out
        }
    }
}

fn collapse_whitespace(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

fn escape_markup(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Bidi embeddings, overrides and isolates (LRE…RLO, LRI…PDI): they reorder the text
/// around them, so a reply could make "421" read as "124" (Trojan Source).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// The escape-sequence and control scanner behind every function here: removes ANSI
/// sequences whole (so `ESC [2J` leaves nothing behind, not `[2J`), other C0 and C1
/// controls and DEL, and bidi controls; tabs and line breaks become spaces.
fn strip_controls(s: &str) -> String {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        Text,
        /// After ESC: the next character picks the sequence.
        Esc,
        /// CSI parameters and intermediates until a final byte 0x40..=0x7e.
        Csi,
        /// OSC, DCS, SOS, PM, APC: a string until BEL or ST (ESC \ or 0x9c).
        Str,
        /// ESC inside a string: `\` ends it.
        StrEsc,
    }
    let mut out = String::with_capacity(s.len());
    let mut state = State::Text;
    for c in s.chars() {
        state = match state {
            State::Text => match c {
                '\u{1b}' => State::Esc,
                '\u{9b}' => State::Csi,
                '\u{90}' | '\u{98}' | '\u{9d}' | '\u{9e}' | '\u{9f}' => State::Str,
                '\t' | '\n' | '\r' | '\u{0b}' | '\u{0c}' | '\u{85}' | '\u{2028}' | '\u{2029}' => {
                    out.push(' ');
                    State::Text
                }
                c if c.is_control() || is_bidi_control(c) => State::Text,
                c => {
                    out.push(c);
                    State::Text
                }
            },
            State::Esc => match c {
                '[' => State::Csi,
                ']' | 'P' | 'X' | '^' | '_' => State::Str,
                // ESC + intermediate bytes (e.g. `ESC ( B`): drop the intermediate and
                // let the final byte go too.
                '\u{20}'..='\u{2f}' => State::Esc,
                // Any other single character completes a two-character sequence.
                _ => State::Text,
            },
            State::Csi => match c {
                '\u{40}'..='\u{7e}' => State::Text,
                '\u{20}'..='\u{3f}' => State::Csi,
                // Anything else inside a CSI ends it and goes with it; an ESC
                // starts a new sequence.
                '\u{1b}' => State::Esc,
                _ => State::Text,
            },
            State::Str => match c {
                '\u{07}' | '\u{9c}' => State::Text,
                '\u{1b}' => State::StrEsc,
                _ => State::Str,
            },
            State::StrEsc => match c {
                '\\' => State::Text,
                '\u{1b}' => State::StrEsc,
                _ => State::Str,
            },
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ESC: char = '\u{1b}';

    #[test]
    fn markup_in_a_reply_is_escaped_for_notifications() {
        let n = for_notification(
            r#"421 4.3.0 <a href="http://x">click</a> <b>now</b> <img src='x'> & more"#,
        );
        assert_eq!(
            n,
            "421 4.3.0 &lt;a href=&quot;http://x&quot;&gt;click&lt;/a&gt; &lt;b&gt;now&lt;/b&gt; \
             &lt;img src=&#39;x&#39;&gt; &amp; more"
        );
        assert!(!n.contains('<') && !n.contains('>') && !n.contains('"'));
    }

    #[test]
    fn an_osc8_hyperlink_leaves_nothing_behind() {
        let s = format!("421 {ESC}]8;;http://evil\u{07}click here{ESC}]8;;\u{07} busy");
        assert_eq!(for_terminal(&s), "421 click here busy");
        assert_eq!(for_notification(&s), "421 click here busy");
        // Terminated by ST (ESC \) instead of BEL.
        let s = format!("a{ESC}]8;;http://evil{ESC}\\b");
        assert_eq!(for_terminal(&s), "ab");
    }

    #[test]
    fn csi_sequences_are_removed_whole() {
        let s = format!("{ESC}[2J{ESC}[1;31mred{ESC}[0m {ESC}[?25l");
        assert_eq!(for_terminal(&s), "red ");
        // 8-bit CSI and OSC.
        assert_eq!(for_terminal("a\u{9b}2Jb\u{9d}0;title\u{9c}c"), "abc");
        // Other controls go, tabs and line breaks become spaces, DEL goes.
        assert_eq!(for_terminal("a\u{07}\u{08}b\tc\r\nd\u{7f}\0e"), "ab c  de");
        // Any printable text survives.
        assert_eq!(for_terminal("Grüße, 東京 ✓"), "Grüße, 東京 ✓");
    }

    #[test]
    fn bidi_overrides_are_removed() {
        let s = "421 \u{202e}0.3.4 busy\u{202c} \u{2066}x\u{2069}";
        assert_eq!(for_terminal(s), "421 0.3.4 busy x");
        assert_eq!(for_notification(s), "421 0.3.4 busy x");
    }

    #[test]
    fn perfdata_text_and_labels_cannot_break_the_format() {
        assert_eq!(
            for_perfdata("421 busy | fake=1;2;3\nsecond line"),
            "421 busy / fake=1;2;3 second line"
        );
        assert_eq!(for_perfdata_label("a b|c='d'\ne"), "a_b_c__d__e");
        assert_eq!(for_perfdata_label("fs:/var/spool"), "fs:/var/spool");
        assert_eq!(for_perfdata_label(""), "_");
        assert_eq!(for_perfdata_label(&"x".repeat(500)).len(), 64);
    }

    #[test]
    fn a_10_kib_reply_is_cut_on_a_char_boundary() {
        let reply = "ä".repeat(5 * 1024); // 10 KiB, two bytes per character
        let n = for_notification(&reply);
        assert_eq!(n.chars().count(), NOTIFICATION_MAX_CHARS);
        assert!(n.ends_with('…'));
        let stored = for_storage(&reply);
        assert!(stored.len() <= STORED_TEXT_MAX_BYTES, "{}", stored.len());
        assert!(stored.ends_with('…'));
        assert!(stored.capacity() <= STORED_TEXT_MAX_BYTES);
        // Escaping comes after the cut: entities are never cut in half.
        let n = for_notification(&"<".repeat(10 * 1024));
        assert!(n.ends_with("&lt;…"), "{}", &n[n.len() - 10..]);
        assert_eq!(n.matches("&lt;").count(), NOTIFICATION_MAX_CHARS - 1);
        // Short text is left alone.
        assert_eq!(for_storage("Bye"), "Bye");
        assert_eq!(cut_bytes("abcdef", 5), "ab…");
    }

    #[test]
    fn whitespace_is_collapsed_in_notifications() {
        assert_eq!(
            for_notification("  queue\n\n\tfull \u{1b}[2J  now "),
            "queue full now"
        );
        assert_eq!(
            for_notification_summary("Headroom <warning>:\ncpu"),
            "Headroom <warning>: cpu"
        );
    }

    #[test]
    fn unterminated_sequences_swallow_only_themselves() {
        // An OSC never terminated eats the rest (it would in a terminal too), but a
        // lone ESC at the end or a CSI cut short leaves the text before it.
        assert_eq!(for_terminal("ok\u{1b}"), "ok");
        assert_eq!(for_terminal("ok\u{1b}[12"), "ok");
        assert_eq!(for_terminal("ok\u{1b}]8;;http://x"), "ok");
        assert_eq!(for_terminal("a\u{1b}(Bb"), "ab");
    }
}

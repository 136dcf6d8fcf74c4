//! `headroom-cli explain CODE [ENHANCED]`: what a reply means, its usual causes and
//! the fixes, naming this host's Postfix settings when `postconf` can read them.

use std::io::{self, Write};
use std::time::Duration;

use headroom_engine::classify::enhanced_len;
use headroom_engine::explain::{explain, Limits};

use crate::EXIT_UNKNOWN;

pub fn run_explain(code: &str, enhanced: Option<&str>) -> u8 {
    let Some(code) = parse_code(code) else {
        eprintln!("headroom-cli: explain: CODE must be a reply code from 200 to 599 (e.g. 421), not {code:?}");
        return EXIT_UNKNOWN;
    };
    if let Some(e) = enhanced {
        if enhanced_len(e.as_bytes()) != Some(e.len()) {
            eprintln!("headroom-cli: explain: ENHANCED must look like 4.3.0 (class.subject.detail), not {e:?}");
            return EXIT_UNKNOWN;
        }
    }
    let limits = live_limits();
    let x = explain(code, enhanced, &limits);
    let mut out = io::stdout().lock();
    let written = (|| -> io::Result<()> {
        writeln!(out, "{}", x.meaning)?;
        writeln!(out, "class: {}", x.class)?;
        if let Some(r) = x.reason {
            writeln!(out, "reason: {r}")?;
        }
        if !x.causes.is_empty() {
            writeln!(out, "\nlikely causes:")?;
            for c in &x.causes {
                writeln!(out, "  - {c}")?;
            }
        }
        if !x.fixes.is_empty() {
            writeln!(out, "\nwhat to do:")?;
            for f in &x.fixes {
                writeln!(out, "  - {f}")?;
            }
        }
        out.flush()
    })();
    match written {
        // `explain … | head -1` closes the pipe early: not an error.
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            eprintln!("headroom-cli: explain: cannot write: {e}");
            EXIT_UNKNOWN
        }
        _ => 0,
    }
}

fn parse_code(s: &str) -> Option<u16> {
    let n: u16 = s.parse().ok()?;
    (s.len() == 3 && (200..=599).contains(&n)).then_some(n)
}

/// This host's mail server limits as the monitor reads them (the same adapter, so an
/// Exim host is explained with Exim's values, a private Postfix with `[mta]
/// config_dir`'s); empty (explanations then name the defaults) when there is no mail
/// server or it cannot be read within a few seconds.
fn live_limits() -> Limits {
    let config = headroom_engine::config::load(None).unwrap_or_default();
    let Some(mut source) = headroom_engine::mta::detect(&config.mta) else {
        return Limits::new();
    };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(source.sample().map(|m| m.known_limits()));
    });
    rx.recv_timeout(Duration::from_secs(5))
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_checked() {
        assert_eq!(parse_code("421"), Some(421));
        for bad in ["42", "4210", "600", "abc", "199", "+42"] {
            assert_eq!(parse_code(bad), None, "{bad}");
        }
    }
}

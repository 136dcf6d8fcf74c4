//! `headroom-cli explain CODE [ENHANCED]`: what a reply means, its usual causes and
//! the fixes, naming this host's Postfix settings when `postconf` can read them.

use std::path::Path;
use std::time::Duration;

use headroom_engine::classify::enhanced_len;
use headroom_engine::explain::{explain, Limits, LIMIT_NAMES};
use headroom_engine::mta::command::{find_program, run};
use headroom_engine::mta::postfix::config::parse_name_values;

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
    println!("{}", x.meaning);
    println!("class: {}", x.class);
    if let Some(r) = x.reason {
        println!("reason: {r}");
    }
    if !x.causes.is_empty() {
        println!("\nlikely causes:");
        for c in &x.causes {
            println!("  - {c}");
        }
    }
    if !x.fixes.is_empty() {
        println!("\nwhat to do:");
        for f in &x.fixes {
            println!("  - {f}");
        }
    }
    0
}

fn parse_code(s: &str) -> Option<u16> {
    let n: u16 = s.parse().ok()?;
    (s.len() == 3 && (200..=599).contains(&n)).then_some(n)
}

/// The values of [`LIMIT_NAMES`] from this host's Postfix, if it has one; an empty map
/// (explanations then name the defaults) when it has not or postconf fails.
fn live_limits() -> Limits {
    let Some(postconf) = find_program(&["/usr/sbin/postconf", "/usr/bin/postconf"]) else {
        return Limits::new();
    };
    read_postconf(&postconf).unwrap_or_default()
}

fn read_postconf(postconf: &Path) -> Option<Limits> {
    let out = run(postconf, LIMIT_NAMES, Duration::from_secs(3)).ok()?;
    let values = parse_name_values(&out.stdout);
    Some(
        values
            .into_iter()
            .filter(|(k, _)| LIMIT_NAMES.contains(&k.as_str()))
            .collect(),
    )
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

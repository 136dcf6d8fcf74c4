//! SPF (RFC 7208) for `mail_dns`: the record parsed term by term, and the DNS
//! look-ups a receiver would spend on it counted through every `include` and
//! `redirect`. More than 10 is a permanent error at every receiver that checks SPF
//! (§4.6.4), which is how a harmless-looking `include:` added by a new mail service
//! breaks the whole domain's mail.

use std::collections::HashSet;
use std::future::Future;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::pin::Pin;

use super::dns::{Answer, Dns, QType};

/// RFC 7208 §4.6.4.
pub const MAX_LOOKUPS: u32 = 10;
/// RFC 7208 §4.6.4: look-ups that return nothing.
pub const MAX_VOID: u32 = 2;
/// We follow a record's includes this far, enough to report a real count well past
/// the limit without chasing a loop or a huge tree.
const COUNT_CAP: u32 = 50;
const MAX_DEPTH: u32 = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mech {
    All,
    Include,
    A,
    Mx,
    Ptr,
    Ip4,
    Ip6,
    Exists,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Term {
    Mechanism {
        qualifier: char,
        mech: Mech,
        /// The domain-spec (include, exists, a, mx, ptr) or network (ip4, ip6).
        arg: Option<String>,
    },
    Redirect(String),
    /// `exp=` and unknown modifiers (ignored, RFC 7208 §6).
    OtherModifier(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub terms: Vec<Term>,
}

impl Record {
    fn has_all(&self) -> bool {
        self.terms.iter().any(|t| {
            matches!(
                t,
                Term::Mechanism {
                    mech: Mech::All,
                    ..
                }
            )
        })
    }
}

/// Whether a TXT string is an SPF record: `v=spf1` alone or followed by a space.
pub fn is_spf(txt: &str) -> bool {
    let t = txt.trim_start();
    t.len() >= 6
        && t.is_char_boundary(6)
        && t[..6].eq_ignore_ascii_case("v=spf1")
        && (t.len() == 6 || t.as_bytes()[6] == b' ')
}

/// Parses an SPF record (which [`is_spf`] accepted).
pub fn parse(record: &str) -> Result<Record, String> {
    let mut words = record.split_whitespace();
    match words.next() {
        Some(v) if v.eq_ignore_ascii_case("v=spf1") => {}
        _ => return Err("does not start with v=spf1".into()),
    }
    let mut terms = Vec::new();
    let mut redirects = 0;
    let mut exps = 0;
    for w in words {
        if let Some((name, value)) = modifier(w) {
            match name.to_ascii_lowercase().as_str() {
                "redirect" => {
                    redirects += 1;
                    domain_spec(value, w)?;
                    terms.push(Term::Redirect(value.to_string()));
                }
                "exp" => {
                    exps += 1;
                    terms.push(Term::OtherModifier(w.to_string()));
                }
                _ => terms.push(Term::OtherModifier(w.to_string())),
            }
            continue;
        }
        terms.push(mechanism(w)?);
    }
    if redirects > 1 || exps > 1 {
        return Err("redirect= or exp= appears more than once (RFC 7208 §6)".into());
    }
    Ok(Record { terms })
}

/// `name=value` where name is ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ).
fn modifier(w: &str) -> Option<(&str, &str)> {
    let (name, value) = w.split_once('=')?;
    let mut chars = name.chars();
    let first = chars.next()?;
    (first.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    .then_some((name, value))
}

fn mechanism(w: &str) -> Result<Term, String> {
    let (qualifier, rest) = match w.chars().next() {
        Some(q @ ('+' | '-' | '~' | '?')) => (q, &w[1..]),
        _ => ('+', w),
    };
    let split = rest.find([':', '/']).unwrap_or(rest.len());
    let (name, tail) = rest.split_at(split);
    let mech = match name.to_ascii_lowercase().as_str() {
        "all" => Mech::All,
        "include" => Mech::Include,
        "a" => Mech::A,
        "mx" => Mech::Mx,
        "ptr" => Mech::Ptr,
        "ip4" => Mech::Ip4,
        "ip6" => Mech::Ip6,
        "exists" => Mech::Exists,
        _ => return Err(format!("unknown mechanism `{w}`")),
    };
    let arg = tail.strip_prefix(':');
    match mech {
        Mech::All if !tail.is_empty() => return Err(format!("`{w}`: all takes no argument")),
        Mech::Include | Mech::Exists => match arg {
            Some(d) if !d.is_empty() => domain_spec(d, w)?,
            _ => return Err(format!("`{w}` needs a domain (`{name}:example.org`)")),
        },
        Mech::Ip4 | Mech::Ip6 => network(mech, arg, w)?,
        Mech::A | Mech::Mx | Mech::Ptr => {
            let (domain, cidr) = match arg {
                Some(a) => match a.find('/') {
                    Some(i) => (Some(&a[..i]), Some(&a[i..])),
                    None => (Some(a), None),
                },
                None => (None, (!tail.is_empty()).then_some(tail)),
            };
            if let Some(d) = domain {
                domain_spec(d, w)?;
            }
            if let Some(c) = cidr {
                if mech == Mech::Ptr || !dual_cidr(c) {
                    return Err(format!("`{w}`: bad prefix length"));
                }
            }
        }
        Mech::All => {}
    }
    Ok(Term::Mechanism {
        qualifier,
        mech,
        arg: arg.map(|a| a.split('/').next().unwrap_or(a).to_string()),
    })
}

/// A domain-spec: a name, possibly with macros (`%{i}`), which are left unexpanded.
fn domain_spec(d: &str, w: &str) -> Result<(), String> {
    let ok = !d.is_empty()
        && d.len() <= 253
        && d.chars().all(|c| c.is_ascii_graphic())
        && (d.contains('%') || d.trim_end_matches('.').contains('.'));
    if ok {
        Ok(())
    } else {
        Err(format!("`{w}`: `{d}` is not a domain"))
    }
}

/// `/n`, `//n6` or `/n//n6`.
fn dual_cidr(c: &str) -> bool {
    let num = |s: &str, max: u32| s.parse::<u32>().is_ok_and(|n| n <= max) && !s.is_empty();
    if let Some(v6) = c.strip_prefix("//") {
        return num(v6, 128);
    }
    let Some(rest) = c.strip_prefix('/') else {
        return false;
    };
    match rest.split_once("//") {
        Some((v4, v6)) => num(v4, 32) && num(v6, 128),
        None => num(rest, 32),
    }
}

fn network(mech: Mech, arg: Option<&str>, w: &str) -> Result<(), String> {
    let bad = || Err(format!("`{w}` is not a network"));
    let Some(a) = arg else { return bad() };
    let (addr, len) = match a.split_once('/') {
        Some((addr, len)) => (addr, Some(len)),
        None => (a, None),
    };
    let max = if mech == Mech::Ip4 {
        if addr.parse::<Ipv4Addr>().is_err() {
            return bad();
        }
        32
    } else {
        if addr.parse::<Ipv6Addr>().is_err() {
            return bad();
        }
        128
    };
    match len {
        Some(l) if !l.parse::<u32>().is_ok_and(|n| n <= max) => bad(),
        _ => Ok(()),
    }
}

/// What counting a domain's SPF found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Count {
    /// DNS look-ups a receiver spends (capped at [`COUNT_CAP`]).
    pub lookups: u32,
    /// Look-ups that returned nothing.
    pub void: u32,
    /// Look-ups per top-level term that costs any: `include:_spf.example.com (4)`.
    pub breakdown: Vec<String>,
    /// Errors a receiver would treat as permerror.
    pub broken: Vec<String>,
    /// Look-ups that failed, so the count is a floor.
    pub unknown: Vec<String>,
}

#[derive(Default)]
struct Walk {
    count: Count,
    /// The includes being followed now: one seen again is a loop. A record included
    /// twice from different places (a diamond) is counted twice, as receivers do.
    path: HashSet<String>,
}

type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Counts the look-ups of `record`, the SPF record of `domain`.
pub async fn count<D: Dns>(dns: &D, domain: &str, record: &Record) -> Count {
    let mut w = Walk::default();
    w.path.insert(domain.to_ascii_lowercase());
    let mut breakdown = Vec::new();
    for term in effective_terms(record) {
        let before = w.count.lookups;
        walk_term(dns, term, 0, &mut w).await;
        let spent = w.count.lookups - before;
        if spent > 0 {
            breakdown.push(match term {
                Term::Redirect(d) => format!("redirect={d} ({spent})"),
                Term::Mechanism { mech, arg, .. } => {
                    let name = format!("{mech:?}").to_ascii_lowercase();
                    match arg {
                        Some(a) if spent > 1 => format!("{name}:{a} ({spent})"),
                        Some(a) => format!("{name}:{a}"),
                        None => name,
                    }
                }
                Term::OtherModifier(m) => m.clone(),
            });
        }
    }
    w.count.breakdown = breakdown;
    if w.count.lookups > MAX_LOOKUPS {
        w.count.broken.insert(
            0,
            format!(
                "{}{} DNS look-ups, more than the {MAX_LOOKUPS} RFC 7208 §4.6.4 allows: receivers answer permerror and treat the mail as unauthenticated",
                w.count.lookups,
                if w.count.lookups >= COUNT_CAP { "+" } else { "" },
            ),
        );
    }
    if w.count.void > MAX_VOID {
        w.count.broken.push(format!(
            "{} look-ups return nothing, more than the {MAX_VOID} RFC 7208 §4.6.4 allows",
            w.count.void
        ));
    }
    w.count
}

/// The terms a receiver evaluates: `redirect` is ignored when the record has `all`.
fn effective_terms(r: &Record) -> impl Iterator<Item = &Term> {
    let has_all = r.has_all();
    r.terms
        .iter()
        .filter(move |t| !(has_all && matches!(t, Term::Redirect(_))))
}

fn walk_term<'a, D: Dns>(dns: &'a D, term: &'a Term, depth: u32, w: &'a mut Walk) -> Boxed<'a, ()> {
    Box::pin(async move {
        if w.count.lookups >= COUNT_CAP {
            return;
        }
        let target = match term {
            Term::Redirect(d) => d,
            Term::Mechanism {
                mech: Mech::Include,
                arg: Some(d),
                ..
            } => d,
            Term::Mechanism {
                mech: Mech::A | Mech::Mx | Mech::Ptr | Mech::Exists,
                ..
            } => {
                w.count.lookups += 1;
                return;
            }
            _ => return,
        };
        w.count.lookups += 1;
        if target.contains('%') {
            // A macro depends on the sender; the look-up counts, its target is unknown.
            return;
        }
        let key = target.trim_end_matches('.').to_ascii_lowercase();
        if depth >= MAX_DEPTH || w.path.contains(&key) {
            w.count.broken.push(format!(
                "{target} is included from within itself: an include loop (permerror)"
            ));
            return;
        }
        let r = dns.query(&key, QType::Txt).await;
        let how = if matches!(term, Term::Redirect(_)) {
            "redirect="
        } else {
            "include:"
        };
        let records: Vec<String> = match r.answer {
            Answer::Failed(why) => {
                w.count.unknown.push(format!("{how}{target}: {why}"));
                return;
            }
            a => {
                if a.is_empty_answer() {
                    w.count.void += 1;
                }
                a.txts()
                    .into_iter()
                    .filter(|t| is_spf(t))
                    .map(str::to_string)
                    .collect()
            }
        };
        let rec = match records.as_slice() {
            [] => {
                w.count.broken.push(format!(
                    "{how}{target} has no SPF record: receivers answer permerror"
                ));
                return;
            }
            [one] => match parse(one) {
                Ok(r) => r,
                Err(e) => {
                    w.count
                        .broken
                        .push(format!("{how}{target}: \"{one}\": {e}"));
                    return;
                }
            },
            _ => {
                w.count.broken.push(format!(
                    "{how}{target} has {} SPF records (permerror)",
                    records.len()
                ));
                return;
            }
        };
        w.path.insert(key.clone());
        for t in effective_terms(&rec) {
            walk_term(dns, t, depth + 1, w).await;
        }
        w.path.remove(&key);
    })
}

#[cfg(test)]
mod tests {
    use super::super::dns::fake::FakeDns;
    use super::*;

    #[test]
    fn spf_records_are_recognised_by_their_version() {
        assert!(is_spf("v=spf1 -all"));
        assert!(is_spf("V=SPF1"));
        assert!(!is_spf("v=spf10 -all"));
        assert!(!is_spf("google-site-verification=abc"));
        assert!(!is_spf("v=DMARC1; p=none"));
    }

    #[test]
    fn terms_parse_and_typos_do_not() {
        let r = parse("v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 a mx/24 a:mail.example.org//64 include:_spf.example.net exists:%{i}.bl.example ~all exp=explain.example.org").expect("valid");
        assert_eq!(r.terms.len(), 9);
        assert!(r.has_all());
        for (bad, why) in [
            ("v=spf1 inclde:_spf.example.net -all", "unknown mechanism"),
            ("v=spf1 include -all", "needs a domain"),
            ("v=spf1 ip4:192.0.2.300 -all", "not a network"),
            ("v=spf1 ip4:192.0.2.0/33 -all", "not a network"),
            ("v=spf1 all:x", "no argument"),
            ("v=spf1 a/99 -all", "prefix"),
            (
                "v=spf1 redirect=a.example redirect=b.example",
                "more than once",
            ),
        ] {
            let e = parse(bad).expect_err(bad);
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[tokio::test]
    async fn lookups_are_counted_through_includes_and_redirects() {
        let dns = FakeDns::default()
            .txt(
                "_spf.a.example",
                &["v=spf1 include:_spf2.a.example a mx -all"],
            )
            .txt("_spf2.a.example", &["v=spf1 ip4:192.0.2.0/24 ptr ~all"])
            .txt("policy.example", &["v=spf1 mx -all"]);
        let rec = parse("v=spf1 mx include:_spf.a.example redirect=policy.example").expect("ok");
        // redirect is ignored beside `all`; here there is none, so it counts.
        let c = count(&dns, "example.org", &rec).await;
        // mx 1 + include 1 + (include 1 + ptr 1) + a 1 + mx 1 + redirect 1 + mx 1
        assert_eq!(c.lookups, 8, "{c:?}");
        assert!(c.broken.is_empty(), "{c:?}");
        assert_eq!(
            c.breakdown,
            [
                "mx",
                "include:_spf.a.example (5)",
                "redirect=policy.example (2)"
            ]
        );
    }

    #[tokio::test]
    async fn more_than_ten_lookups_is_broken_with_the_count() {
        let mut dns = FakeDns::default();
        let mut top = String::from("v=spf1");
        for i in 0..4 {
            dns = dns.txt(
                &format!("_spf{i}.example.net"),
                &["v=spf1 a mx include:_common.example.net -all"],
            );
            top.push_str(&format!(" include:_spf{i}.example.net"));
        }
        dns = dns.txt("_common.example.net", &["v=spf1 ip4:192.0.2.1 -all"]);
        top.push_str(" -all");
        let c = count(&dns, "example.org", &parse(&top).expect("ok")).await;
        // 4 × (include + a + mx + include of _common): a record included from two
        // places costs twice, as it does at the receiver.
        assert_eq!(c.lookups, 16, "{c:?}");
        assert!(
            c.broken[0].starts_with("16 DNS look-ups, more than the 10"),
            "{c:?}"
        );
        assert_eq!(c.broken.len(), 1, "{c:?}");
    }

    #[tokio::test]
    async fn an_include_loop_is_broken_not_endless() {
        let dns = FakeDns::default()
            .txt("a.example", &["v=spf1 include:b.example -all"])
            .txt("b.example", &["v=spf1 include:a.example -all"]);
        let rec = parse("v=spf1 include:a.example -all").expect("ok");
        let c = count(&dns, "example.org", &rec).await;
        assert_eq!(c.lookups, 3, "{c:?}");
        assert!(
            c.broken
                .iter()
                .any(|b| b.contains("a.example is included from within itself")),
            "{c:?}"
        );
    }

    #[tokio::test]
    async fn an_include_without_a_record_is_broken_and_a_failure_unknown() {
        let dns = FakeDns::default().with(
            "_spf.slow.example",
            QType::Txt,
            Answer::Failed("no answer (timed out)".into()),
        );
        let rec =
            parse("v=spf1 include:_spf.gone.example include:_spf.slow.example -all").expect("ok");
        let c = count(&dns, "example.org", &rec).await;
        assert_eq!(c.lookups, 2);
        assert!(c.broken[0].contains("include:_spf.gone.example has no SPF record"));
        assert!(c.unknown[0].contains("timed out"));
    }
}

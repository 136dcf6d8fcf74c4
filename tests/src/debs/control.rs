//! Debian control data, parsed without running anything: stanzas (`Field: value`), the
//! relationship fields (`Depends`, `Pre-Depends`, `Provides`) with their alternatives
//! and version constraints, and dpkg's version ordering to check those constraints.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;

/// One stanza: field names as written, values with continuation lines joined.
pub type Fields = BTreeMap<String, String>;

/// Splits control text (`dpkg-deb -f`, `apt-cache show`, `dpkg-query -W -f`) into
/// stanzas separated by blank lines. Lines that are neither `Field: value` nor a
/// continuation are ignored: the text comes from tools, not from people.
pub fn parse_stanzas(text: &str) -> Vec<Fields> {
    let mut stanzas = Vec::new();
    let mut cur = Fields::new();
    let mut last: Option<String> = None;
    for line in text.lines() {
        if line.trim().is_empty() {
            if !cur.is_empty() {
                stanzas.push(std::mem::take(&mut cur));
            }
            last = None;
        } else if line.starts_with([' ', '\t']) {
            if let Some(v) = last.as_ref().and_then(|k| cur.get_mut(k)) {
                v.push(' ');
                v.push_str(line.trim());
            }
        } else if let Some((k, v)) = line.split_once(':') {
            cur.insert(k.trim().to_string(), v.trim().to_string());
            last = Some(k.trim().to_string());
        }
    }
    if !cur.is_empty() {
        stanzas.push(cur);
    }
    stanzas
}

/// A version relation: `<<`, `<=`, `=`, `>=`, `>>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
}

impl Op {
    fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "<<" => Op::Lt,
            // `<` and `>` are the obsolete spellings of `<=` and `>=` (Debian policy 7.1).
            "<=" | "<" => Op::Le,
            "=" => Op::Eq,
            ">=" | ">" => Op::Ge,
            ">>" => Op::Gt,
            _ => return None,
        })
    }

    fn holds(self, o: Ordering) -> bool {
        match self {
            Op::Lt => o == Ordering::Less,
            Op::Le => o != Ordering::Greater,
            Op::Eq => o == Ordering::Equal,
            Op::Ge => o != Ordering::Less,
            Op::Gt => o == Ordering::Greater,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Op::Lt => "<<",
            Op::Le => "<=",
            Op::Eq => "=",
            Op::Ge => ">=",
            Op::Gt => ">>",
        }
    }
}

/// One package named in a relationship field, with its optional version constraint.
/// Architecture qualifiers (`perl:any`) are dropped: the tests run on one architecture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dep {
    pub name: String,
    pub version: Option<(Op, String)>,
}

impl Dep {
    /// Whether a package (or a provide) of this name at `version` satisfies the
    /// relation. An unversioned provide never satisfies a versioned relation.
    pub fn accepts(&self, version: Option<&str>) -> bool {
        match (&self.version, version) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some((op, want)), Some(have)) => op.holds(compare_versions(have, want)),
        }
    }
}

impl fmt::Display for Dep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.version {
            None => write!(f, "{}", self.name),
            Some((op, v)) => write!(f, "{} ({} {v})", self.name, op.as_str()),
        }
    }
}

/// A relationship field: every group must be satisfied, a group by any one of its
/// alternatives (`a (>= 1) | b, c`).
pub type Relations = Vec<Vec<Dep>>;

/// Parses `Depends`-style text. Architecture lists (`[amd64]`) and build profiles
/// (`<!nocheck>`) are accepted and ignored; anything else malformed is an error that
/// quotes the offending part.
pub fn parse_relations(field: &str) -> Result<Relations, String> {
    let mut groups = Vec::new();
    for group in field.split(',') {
        if group.trim().is_empty() {
            continue; // a trailing comma
        }
        let alternatives = group
            .split('|')
            .map(parse_dep)
            .collect::<Result<Vec<_>, _>>()?;
        groups.push(alternatives);
    }
    Ok(groups)
}

fn parse_dep(text: &str) -> Result<Dep, String> {
    let bad = |why: &str| Err(format!("bad relation `{}`: {why}", text.trim()));
    let mut rest = text.trim();
    let end = rest
        .find(|c: char| c.is_whitespace() || "([<".contains(c))
        .unwrap_or(rest.len());
    let (name, tail) = rest.split_at(end);
    let name = name.split(':').next().unwrap_or_default();
    let valid = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c);
    if name.is_empty() || !name.chars().all(valid) {
        return bad("no package name");
    }
    rest = tail.trim_start();
    let mut version = None;
    if let Some(inner) = rest.strip_prefix('(') {
        let Some((inside, after)) = inner.split_once(')') else {
            return bad("unclosed `(`");
        };
        let inside = inside.trim();
        let split = inside
            .find(|c: char| !"<=>".contains(c))
            .unwrap_or(inside.len());
        let (op, v) = inside.split_at(split);
        let Some(op) = Op::parse(op) else {
            return bad("unknown version operator");
        };
        let v = v.trim();
        if v.is_empty() || v.contains(char::is_whitespace) {
            return bad("no version");
        }
        version = Some((op, v.to_string()));
        rest = after.trim_start();
    }
    // Whatever is left may only be architecture lists and build profiles.
    while !rest.is_empty() {
        let close = match rest.chars().next() {
            Some('[') => ']',
            Some('<') => '>',
            _ => return bad("unexpected text after the name"),
        };
        let Some(end) = rest.find(close) else {
            return bad("unclosed qualifier");
        };
        rest = rest[end + 1..].trim_start();
    }
    Ok(Dep {
        name: name.to_string(),
        version,
    })
}

/// dpkg's version ordering (deb-version(7)): epoch numerically, then the upstream
/// version and the Debian revision, where `~` sorts before everything, even the end.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let (ea, ua, ra) = split_version(a);
    let (eb, ub, rb) = split_version(b);
    ea.cmp(&eb)
        .then_with(|| compare_part(ua, ub))
        .then_with(|| compare_part(ra, rb))
}

fn split_version(v: &str) -> (u64, &str, &str) {
    let (epoch, rest) = match v.split_once(':') {
        Some((e, r)) if e.bytes().all(|b| b.is_ascii_digit()) => (e.parse().unwrap_or(0), r),
        _ => (0, v),
    };
    match rest.rsplit_once('-') {
        Some((upstream, revision)) => (epoch, upstream, revision),
        None => (epoch, rest, ""),
    }
}

/// dpkg's `verrevcmp`: alternating runs of non-digits (compared by [`weight`]) and
/// digits (compared as numbers).
fn compare_part(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    while !a.is_empty() || !b.is_empty() {
        while a.first().is_some_and(|c| !c.is_ascii_digit())
            || b.first().is_some_and(|c| !c.is_ascii_digit())
        {
            let (wa, wb) = (weight(a.first()), weight(b.first()));
            if wa != wb {
                return wa.cmp(&wb);
            }
            a = a.get(1..).unwrap_or_default();
            b = b.get(1..).unwrap_or_default();
        }
        let digits = |s: &[u8]| s.iter().take_while(|c| c.is_ascii_digit()).count();
        let (na, nb) = (digits(a), digits(b));
        let strip =
            |s: &[u8]| -> Vec<u8> { s.iter().copied().skip_while(|&c| c == b'0').collect() };
        let (da, db) = (strip(&a[..na]), strip(&b[..nb]));
        // Without leading zeros, the longer run is the larger number.
        let o = da.len().cmp(&db.len()).then_with(|| da.cmp(&db));
        if o != Ordering::Equal {
            return o;
        }
        a = &a[na..];
        b = &b[nb..];
    }
    Ordering::Equal
}

/// A non-digit's weight: `~` lowest, then the end of the part (and digits), then
/// letters, then everything else.
fn weight(c: Option<&u8>) -> i32 {
    match c {
        Some(b'~') => -1,
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(*c),
        Some(c) => i32::from(*c) + 256,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dep(name: &str, v: Option<(Op, &str)>) -> Dep {
        Dep {
            name: name.into(),
            version: v.map(|(o, v)| (o, v.to_string())),
        }
    }

    #[test]
    fn exim_daemon_depends_parse_into_groups_alternatives_and_constraints() {
        let field = "exim4-base (>= 4.96), debconf (>= 0.5) | debconf-2.0, libc6 (>= 2.34), \
                     libidn12 (>= 1.13), libdb5.3";
        let r = parse_relations(field).expect("parses");
        assert_eq!(r.len(), 5);
        assert_eq!(r[0], vec![dep("exim4-base", Some((Op::Ge, "4.96")))]);
        assert_eq!(
            r[1],
            vec![
                dep("debconf", Some((Op::Ge, "0.5"))),
                dep("debconf-2.0", None)
            ]
        );
        assert_eq!(r[3], vec![dep("libidn12", Some((Op::Ge, "1.13")))]);
        assert_eq!(r[4], vec![dep("libdb5.3", None)]);
    }

    #[test]
    fn every_operator_and_the_obsolete_spellings_parse() {
        let r = parse_relations(
            "a (<< 1), b (<= 1), c (= 1:2-3), d (>= 1), e (>> 1), f (< 1), g (> 1)",
        )
        .expect("parses");
        let ops: Vec<Op> = r
            .iter()
            .map(|g| g[0].version.as_ref().expect("versioned").0)
            .collect();
        assert_eq!(
            ops,
            [Op::Lt, Op::Le, Op::Eq, Op::Ge, Op::Gt, Op::Le, Op::Ge]
        );
        assert_eq!(r[2][0].version.as_ref().expect("versioned").1, "1:2-3");
    }

    #[test]
    fn spacing_arch_qualifiers_profiles_and_trailing_commas_are_tolerated() {
        let r = parse_relations("perl:any,  foo(>=1.0~rc1) [amd64 i386] <!nocheck>,\n bar:amd64 ,")
            .expect("parses");
        assert_eq!(
            r,
            vec![
                vec![dep("perl", None)],
                vec![dep("foo", Some((Op::Ge, "1.0~rc1")))],
                vec![dep("bar", None)],
            ]
        );
        assert_eq!(
            parse_relations("").expect("empty field"),
            Vec::<Vec<Dep>>::new()
        );
    }

    #[test]
    fn malformed_relations_are_errors_that_quote_the_part() {
        for (text, why) in [
            ("libc6 (>= 2.34", "unclosed `(`"),
            ("libc6 (~= 2.34)", "unknown version operator"),
            ("libc6 (>= )", "no version"),
            ("a, | b", "no package name"),
            ("Libc6", "no package name"),
            ("libc6 garbage", "unexpected text"),
        ] {
            let e = parse_relations(text).expect_err(text);
            assert!(e.contains(why), "{text}: {e}");
        }
    }

    #[test]
    fn stanzas_join_continuation_lines_and_split_on_blank_lines() {
        let s =
            parse_stanzas("Package: a\nDepends: x,\n y | z\n\n\nPackage: b\nSource: bsrc (1.0)\n");
        assert_eq!(s.len(), 2);
        assert_eq!(s[0]["Depends"], "x, y | z");
        assert_eq!(s[1]["Source"], "bsrc (1.0)");
    }

    #[test]
    fn versions_order_like_dpkg() {
        use Ordering::*;
        for (a, b, o) in [
            ("1.0", "1.0", Equal),
            ("1.0", "1.0-0", Equal),
            ("1.0~rc1", "1.0", Less),
            ("1.0", "1.0+b1", Less),
            ("1:0.1", "2.0", Greater),
            ("4.96-15+deb12u11", "4.96", Greater),
            ("7.6.q-32", "7.6-4~", Greater),
            ("1.10", "1.9", Greater),
            ("1.010", "1.9", Greater),
            ("2.36-9+deb12u10", "2.36", Greater),
            ("1.0a", "1.0", Greater),
            ("1.0a", "1.0+", Less),
            ("1:4.4.33-2", "1:4.1.0", Greater),
            ("2.1.12-stable-8", "2.1.8-stable", Greater),
        ] {
            assert_eq!(compare_versions(a, b), o, "{a} vs {b}");
            assert_eq!(compare_versions(b, a), o.reverse(), "{b} vs {a}");
        }
    }

    /// The same pairs through the real `dpkg --compare-versions`, where dpkg exists.
    #[test]
    fn versions_agree_with_dpkg_itself() {
        if !std::path::Path::new("/usr/bin/dpkg").exists() {
            return crate::skip_or_fail("dpkg is not installed (not a Debian system)");
        }
        let versions = [
            "1.0",
            "1.0-0",
            "1.0~rc1",
            "1.0+b1",
            "1:0.1",
            "2.0",
            "1.10",
            "1.9",
            "1.0a",
            "1.0+",
            "0.5~~",
            "0.5~",
            "7.6-4~",
            "7.6.q-32",
            "2.1.12-stable-8",
            "10.22-2",
        ];
        for a in versions {
            for b in versions {
                let o = compare_versions(a, b);
                let op = match o {
                    Ordering::Less => "lt",
                    Ordering::Equal => "eq",
                    Ordering::Greater => "gt",
                };
                let ok = std::process::Command::new("/usr/bin/dpkg")
                    .args(["--compare-versions", a, op, b])
                    .status()
                    .expect("dpkg runs")
                    .success();
                assert!(ok, "dpkg disagrees: {a} {op} {b}");
            }
        }
    }

    #[test]
    fn a_versioned_relation_needs_a_version_that_satisfies_it() {
        let d = &parse_relations("lsb-base (>= 3.0-6)").expect("parses")[0][0];
        assert!(d.accepts(Some("11.1.0")), "a versioned provide");
        assert!(!d.accepts(None), "an unversioned provide");
        assert!(!d.accepts(Some("3.0-5")));
        assert!(parse_relations("libdb5.3").expect("parses")[0][0].accepts(None));
        assert_eq!(d.to_string(), "lsb-base (>= 3.0-6)");
    }
}

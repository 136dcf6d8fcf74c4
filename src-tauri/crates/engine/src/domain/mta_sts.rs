//! MTA-STS (RFC 8461) for `mail_dns`: the `_mta-sts` TXT record, the policy file at
//! `https://mta-sts.DOMAIN/.well-known/mta-sts.txt`, and whether its `mx` patterns
//! cover every MX host. A policy in `enforce` mode that misses an MX makes senders
//! that honour it refuse to deliver there; one that cannot be fetched is ignored.

use std::time::Duration;

/// RFC 8461 §3.2: a year.
pub const MAX_AGE_LIMIT: u64 = 31_557_600;
/// Policies are a few lines; anything bigger is not one.
const MAX_POLICY_BYTES: u64 = 64 * 1024;
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Whether a TXT string is an MTA-STS record (`v=STSv1` first).
pub fn is_sts_record(txt: &str) -> bool {
    let first = txt.split(';').next().unwrap_or("");
    first
        .split_once('=')
        .is_some_and(|(k, v)| k.trim() == "v" && v.trim() == "STSv1")
}

/// The `id` of an MTA-STS TXT record (1 to 32 letters and digits).
pub fn record_id(txt: &str) -> Result<String, String> {
    for part in txt.split(';').skip(1) {
        if let Some((k, v)) = part.split_once('=') {
            if k.trim() == "id" {
                let v = v.trim();
                return if !v.is_empty()
                    && v.len() <= 32
                    && v.bytes().all(|b| b.is_ascii_alphanumeric())
                {
                    Ok(v.to_string())
                } else {
                    Err(format!("id={v} must be 1 to 32 letters and digits"))
                };
            }
        }
    }
    Err("no id= field".into())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Enforce,
    Testing,
    None,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Testing => "testing",
            Mode::None => "none",
        }
    }
}

/// A parsed policy file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub mode: Mode,
    pub max_age: u64,
    pub mx: Vec<String>,
}

/// Parses a policy file (RFC 8461 §3.2): `key: value` lines; the first occurrence of
/// a key counts, `mx` may repeat, unknown keys are ignored.
pub fn parse_policy(text: &str) -> Result<Policy, String> {
    let mut version = None;
    let mut mode = None;
    let mut max_age = None;
    let mut mx = Vec::new();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let Some((k, v)) = line.split_once(':') else {
            return Err(format!("`{line}` is not a `key: value` line"));
        };
        let (k, v) = (k.trim(), v.trim());
        match k {
            "version" => {
                version.get_or_insert(v.to_string());
            }
            "mode" if mode.is_none() => {
                mode = Some(match v {
                    "enforce" => Mode::Enforce,
                    "testing" => Mode::Testing,
                    "none" => Mode::None,
                    _ => return Err(format!("mode: {v} is not enforce, testing or none")),
                });
            }
            "max_age" if max_age.is_none() => {
                let n = v
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n <= MAX_AGE_LIMIT)
                    .ok_or_else(|| {
                        format!("max_age: {v} is not a number of seconds up to {MAX_AGE_LIMIT}")
                    })?;
                max_age = Some(n);
            }
            "mx" => {
                if !valid_pattern(v) {
                    return Err(format!("mx: {v} is not a host name or *.domain pattern"));
                }
                mx.push(v.trim_end_matches('.').to_ascii_lowercase());
            }
            _ => {}
        }
    }
    match version.as_deref() {
        Some("STSv1") => {}
        Some(v) => return Err(format!("version: {v} is not STSv1")),
        None => return Err("no version: field".into()),
    }
    let mode = mode.ok_or("no mode: field")?;
    let max_age = max_age.ok_or("no max_age: field")?;
    if mx.is_empty() && mode != Mode::None {
        return Err("no mx: field: the policy allows no MX host".into());
    }
    Ok(Policy { mode, max_age, mx })
}

fn valid_pattern(p: &str) -> bool {
    let p = p.trim_end_matches('.');
    let name = p.strip_prefix("*.").unwrap_or(p);
    !name.is_empty()
        && name.contains('.')
        && name
            .split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

/// RFC 8461 §4.1: a pattern is a host name, or `*.` and a domain standing for exactly
/// one more label.
pub fn matches(pattern: &str, host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        Some(domain) => host
            .split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest == domain),
        None => host == pattern,
    }
}

/// MX hosts no pattern of the policy covers.
pub fn uncovered<'a>(policy: &Policy, mx_hosts: &'a [String]) -> Vec<&'a str> {
    mx_hosts
        .iter()
        .filter(|h| !policy.mx.iter().any(|p| matches(p, h)))
        .map(String::as_str)
        .collect()
}

/// Why a fetch failed: `Unreachable` may be our own network (unknown), `Refused` is
/// the domain's fault (broken).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    Unreachable(String),
    Refused(String),
}

/// Fetches the policy over HTTPS (certificate verified, no redirects, bounded in time
/// and size). Blocking: call it from `spawn_blocking`.
pub fn fetch(domain: &str) -> Result<String, FetchError> {
    let url = format!("https://mta-sts.{domain}/.well-known/mta-sts.txt");
    let agent = ureq::Agent::config_builder()
        .timeout_global(Some(FETCH_TIMEOUT))
        .max_redirects(0)
        .http_status_as_error(false)
        .https_only(true)
        .build()
        .new_agent();
    let mut resp = agent.get(&url).call().map_err(|e| match e {
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) => FetchError::Refused(format!(
            "{url}: TLS failed ({e}); senders need a valid certificate for mta-sts.{domain}"
        )),
        other => FetchError::Unreachable(format!("{url}: {other}")),
    })?;
    let status = resp.status().as_u16();
    if status != 200 {
        return Err(FetchError::Refused(format!(
            "{url} answered HTTP {status}{}",
            if (300..400).contains(&status) {
                " (senders do not follow redirects, RFC 8461 §3.3)"
            } else {
                ""
            }
        )));
    }
    resp.body_mut()
        .with_config()
        .limit(MAX_POLICY_BYTES)
        .read_to_string()
        .map_err(|e| FetchError::Refused(format!("{url}: cannot read the policy: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str =
        "version: STSv1\r\nmode: enforce\r\nmx: mail.example.org\r\nmx: *.backup.example.net\r\nmax_age: 604800\r\n";

    #[test]
    fn the_txt_record_needs_version_first_and_an_id() {
        assert!(is_sts_record("v=STSv1; id=20240101T000000;"));
        assert!(!is_sts_record("id=1; v=STSv1"));
        assert_eq!(record_id("v=STSv1; id=2024abc;").as_deref(), Ok("2024abc"));
        assert!(record_id("v=STSv1;").is_err());
        assert!(record_id("v=STSv1; id=has-dash").is_err());
    }

    #[test]
    fn a_policy_parses_with_crlf_or_lf() {
        let p = parse_policy(GOOD).expect("valid");
        assert_eq!(p.mode, Mode::Enforce);
        assert_eq!(p.max_age, 604_800);
        assert_eq!(p.mx, ["mail.example.org", "*.backup.example.net"]);
        assert_eq!(parse_policy(&GOOD.replace("\r\n", "\n")), Ok(p));
    }

    #[test]
    fn bad_policies_say_why() {
        for (text, why) in [
            ("mode: enforce\nmx: a.example\nmax_age: 1\n", "no version"),
            (
                "version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1\n",
                "STSv2",
            ),
            (
                "version: STSv1\nmode: strict\nmx: a.example\nmax_age: 1\n",
                "strict",
            ),
            ("version: STSv1\nmode: enforce\nmax_age: 1\n", "no mx"),
            (
                "version: STSv1\nmode: enforce\nmx: a.example\n",
                "no max_age",
            ),
            (
                "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 99999999\n",
                "max_age",
            ),
            (
                "version: STSv1\nmode: enforce\nmx: a..example\nmax_age: 1\n",
                "mx:",
            ),
            ("<html>not found</html>\n", "key: value"),
        ] {
            let e = parse_policy(text).expect_err(text);
            assert!(e.contains(why), "{text:?}: {e}");
        }
        // mode none needs no mx.
        assert!(parse_policy("version: STSv1\nmode: none\nmax_age: 86400\n").is_ok());
    }

    #[test]
    fn wildcards_cover_exactly_one_label() {
        assert!(matches("*.example.net", "mx1.example.net"));
        assert!(matches("*.example.net", "MX1.Example.NET."));
        assert!(!matches("*.example.net", "a.mx1.example.net"));
        assert!(!matches("*.example.net", "example.net"));
        assert!(matches("mail.example.org", "mail.example.org."));
        assert!(!matches("mail.example.org", "mail2.example.org"));
    }

    #[test]
    fn uncovered_mx_hosts_are_named() {
        let p = parse_policy(GOOD).expect("valid");
        let mx = vec![
            "mail.example.org".to_string(),
            "mx2.backup.example.net".to_string(),
            "mx.other.example".to_string(),
        ];
        assert_eq!(uncovered(&p, &mx), ["mx.other.example"]);
    }
}

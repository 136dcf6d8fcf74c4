//! DMARC records (RFC 7489 §6.3) for `mail_dns`: which TXT records at
//! `_dmarc.DOMAIN` are DMARC records, and whether the one there parses. Receivers
//! ignore a domain's DMARC when it has none, several, or one without a valid policy
//! — and Gmail and Yahoo defer or refuse bulk mail from such domains.

/// A parsed DMARC record: the tags receivers act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dmarc {
    pub policy: String,
    pub subdomain_policy: Option<String>,
    pub pct: u8,
    pub rua: Vec<String>,
}

/// Whether a TXT string is a DMARC record: it starts with `v=DMARC1` (exactly; other
/// records at the name are ignored, §6.6.3).
pub fn is_dmarc(txt: &str) -> bool {
    let first = txt.split(';').next().unwrap_or("");
    match first.split_once('=') {
        Some((k, v)) => k.trim() == "v" && v.trim() == "DMARC1",
        None => false,
    }
}

/// Parses a record [`is_dmarc`] accepted; `Err` says what a receiver would reject.
pub fn parse(txt: &str) -> Result<Dmarc, String> {
    let mut policy = None;
    let mut sp = None;
    let mut pct = 100u8;
    let mut rua = Vec::new();
    for (i, part) in txt.split(';').enumerate() {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let Some((k, v)) = part.split_once('=') else {
            return Err(format!("`{part}` is not a tag=value pair"));
        };
        let (k, v) = (k.trim(), v.trim());
        match k {
            "v" if i == 0 => {}
            "v" => return Err("v= must be the first tag".into()),
            "p" | "sp" => {
                let v = v.to_ascii_lowercase();
                if !matches!(v.as_str(), "none" | "quarantine" | "reject") {
                    return Err(format!("{k}={v} is not none, quarantine or reject"));
                }
                // RFC 7489 §6.3 puts p= right after v=; receivers accept it later too.
                if k == "p" {
                    policy = Some(v);
                } else {
                    sp = Some(v);
                }
            }
            "pct" => {
                pct = v
                    .parse::<u8>()
                    .ok()
                    .filter(|n| *n <= 100)
                    .ok_or_else(|| format!("pct={v} is not a whole number from 0 to 100"))?;
            }
            "adkim" | "aspf" if !matches!(v, "r" | "s") => {
                return Err(format!("{k}={v} is not r or s"));
            }
            "rua" | "ruf" => {
                for uri in v.split(',').map(str::trim) {
                    // A size limit may follow the URI: mailto:d@example.org!10m
                    let bare = uri.split('!').next().unwrap_or(uri);
                    let Some(addr) = bare.strip_prefix("mailto:") else {
                        return Err(format!("{k}: `{uri}` is not a mailto: URI"));
                    };
                    if !addr.contains('@') {
                        return Err(format!("{k}: `{uri}` has no address"));
                    }
                    if k == "rua" {
                        rua.push(addr.to_string());
                    }
                }
            }
            "ri" => {
                v.parse::<u32>()
                    .map_err(|_| format!("ri={v} is not a number of seconds"))?;
            }
            // fo, rf and tags from later specifications are left to receivers.
            _ => {}
        }
    }
    let policy = policy.ok_or(
        "no p= tag: the record has no policy, so receivers treat the domain as having none",
    )?;
    Ok(Dmarc {
        policy,
        subdomain_policy: sp,
        pct,
        rua,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_records_starting_with_v_dmarc1_count() {
        assert!(is_dmarc("v=DMARC1; p=none"));
        assert!(is_dmarc("v = DMARC1;p=reject"));
        assert!(!is_dmarc("v=dmarc1; p=none"));
        assert!(!is_dmarc("p=none; v=DMARC1"));
        assert!(!is_dmarc("v=spf1 -all"));
    }

    #[test]
    fn a_good_record_parses_with_its_policy() {
        let d = parse("v=DMARC1; p=quarantine; sp=reject; pct=50; rua=mailto:d@example.org!10m, mailto:x@example.net; adkim=s; fo=1")
            .expect("valid");
        assert_eq!(d.policy, "quarantine");
        assert_eq!(d.subdomain_policy.as_deref(), Some("reject"));
        assert_eq!(d.pct, 50);
        assert_eq!(d.rua, ["d@example.org", "x@example.net"]);
    }

    #[test]
    fn broken_records_say_what_is_wrong() {
        for (txt, why) in [
            ("v=DMARC1; rua=mailto:d@example.org", "no p= tag"),
            ("v=DMARC1; p=block", "p=block"),
            ("v=DMARC1; p=none; pct=150", "pct=150"),
            ("v=DMARC1; p=none; rua=d@example.org", "mailto:"),
            ("v=DMARC1; p=none; adkim=x", "adkim=x"),
            ("v=DMARC1; p=none; garbage", "tag=value"),
        ] {
            let e = parse(txt).expect_err(txt);
            assert!(e.contains(why), "{txt}: {e}");
        }
    }
}

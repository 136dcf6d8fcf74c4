//! Domain health: what makes receivers defer or refuse our mail before our own server
//! is short of anything — a blocklist listing of our addresses (`dnsbl`), missing or
//! unconfirmed reverse DNS (`reverse_dns`), broken MX/SPF/DMARC/MTA-STS records of our
//! sending domains (`mail_dns`), and a TLS certificate that expires, is not trusted,
//! names another host or was renewed on disk without a reload (`tls_cert_expiry`).
//!
//! A source like the others: [`Checker::run`] reads the world into a
//! [`DomainReading`] (findings, one per thing looked at) and decides nothing;
//! `assess::domain_items` turns a reading into item inputs. Look-ups go through
//! hickory-resolver (the system's resolvers or `[dns] resolver`), answers are kept for
//! their TTL, and no look-up that failed is ever reported as a problem found.

pub mod cause;
pub mod disk;
pub mod dmarc;
pub mod dns;
pub mod dnsbl;
pub mod local;
pub mod mail;
pub mod mta_sts;
pub mod rdns;
pub mod spf;
pub mod tls;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::{Config, TlsMode};
use crate::item::ItemId;
use crate::time::Ts;

pub use dns::{Cached, Dns, HickoryDns};
pub use local::Subjects;
pub use tls::ServedCert;

/// What a look gave (the `result` of `dns --json`, DESIGN.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Looked at and fine (for dnsbl: not listed).
    Ok,
    /// dnsbl: an A record in 127.0.0.0/8 other than 127.0.0.1 and the error codes.
    Listed,
    /// A record that should exist does not (PTR, MX, SPF, DMARC).
    Missing,
    /// It exists but disagrees (PTR vs forward or HELO, served vs on-disk certificate,
    /// certificate name, MTA-STS mx vs MX).
    Mismatch,
    /// It exists but is invalid (SPF over 10 look-ups, unparseable records, chain
    /// untrusted, expired, policy not fetchable).
    Broken,
    /// No trustworthy answer: never counted as a problem found.
    Unknown,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Listed => "listed",
            Verdict::Missing => "missing",
            Verdict::Mismatch => "mismatch",
            Verdict::Broken => "broken",
            Verdict::Unknown => "unknown",
        }
    }

    /// A problem found (not ok, not unknown).
    pub fn is_problem(self) -> bool {
        !matches!(self, Verdict::Ok | Verdict::Unknown)
    }
}

/// One thing looked at (JSON field names are the `dns --json` contract).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub item: ItemId,
    /// An address, a domain or a probe target.
    pub subject: String,
    /// The DNSBL zone (dnsbl only).
    pub zone: Option<String>,
    pub result: Verdict,
    /// The record as received, or null.
    pub answer: Option<String>,
    pub detail: String,
}

/// One round of the domain checks (serializable, so it can ride in a `Snapshot`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DomainReading {
    pub ts: Ts,
    pub findings: Vec<Finding>,
    /// The served certificates' dates, per TLS target whose certificate was read.
    pub certs: Vec<ServedCert>,
    /// Which items were checked this round (an item without findings was not).
    pub checked: Vec<ItemId>,
    /// DNS queries sent to the resolver during the round (answers kept from earlier
    /// rounds are not queries).
    pub queries: u64,
}

/// Keyring account of the Spamhaus Data Query Service key (service `headroom`).
pub const DQS_ACCOUNT: &str = "dqs@spamhaus";
const KEYRING_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs the domain checks; keeps the resolver and its answers between rounds.
pub struct Checker {
    dns: Cached<HickoryDns>,
}

impl Checker {
    /// A checker that asks `[dns] resolver`.
    pub fn new(cfg: &crate::config::DnsConfig) -> Result<Checker, String> {
        let addr = cfg.resolver_addr()?;
        Ok(Checker {
            dns: Cached::new(HickoryDns::new(addr)?),
        })
    }

    /// One round: every check, with what the configuration and the MTA say to check.
    pub async fn run(&self, cfg: &Config) -> DomainReading {
        let subjects = Subjects::discover(cfg).await;
        let dqs_key = if cfg.dns.dnsbl.iter().any(|z| dnsbl::is_dqs(z)) {
            Some(dqs_key().await)
        } else {
            None
        };
        let before = self.dns.queries_sent();
        let mut reading = check_all(&self.dns, cfg, &subjects, dqs_key, mail_fetch).await;
        reading.queries = self.dns.queries_sent() - before;
        reading
    }

    /// Queries sent since the checker was made.
    pub fn queries_sent(&self) -> u64 {
        self.dns.queries_sent()
    }
}

fn mail_fetch(domain: &str) -> Result<String, mta_sts::FetchError> {
    mta_sts::fetch(domain)
}

/// The Spamhaus DQS key from the OS keyring, or why not.
async fn dqs_key() -> Result<String, String> {
    let lookup = tokio::task::spawn_blocking(|| {
        keyring::Entry::new(crate::probe::secret::SERVICE, DQS_ACCOUNT)
            .and_then(|e| e.get_password())
    });
    match tokio::time::timeout(KEYRING_TIMEOUT, lookup).await {
        Ok(Ok(Ok(k))) if k.bytes().all(|b| b.is_ascii_alphanumeric()) && !k.is_empty() => Ok(k),
        Ok(Ok(Ok(_))) => Err(format!(
            "the Spamhaus DQS key in the OS keyring (account {DQS_ACCOUNT}) is not a key (letters and digits)"
        )),
        Ok(Ok(Err(keyring::Error::NoEntry))) => Err(format!(
            "no Spamhaus DQS key in the OS keyring (service \"{}\", account \"{DQS_ACCOUNT}\"); store the key from your DQS account there",
            crate::probe::secret::SERVICE
        )),
        Ok(Ok(Err(e))) => Err(format!("cannot read the Spamhaus DQS key from the OS keyring: {e}")),
        Ok(Err(e)) => Err(format!("keyring lookup failed: {e}")),
        Err(_) => Err(format!(
            "the OS keyring did not answer within {} s (is it locked?)",
            KEYRING_TIMEOUT.as_secs()
        )),
    }
}

/// Every check against `dns`, for `subjects`. The four run side by side.
pub async fn check_all<D: Dns>(
    dns: &D,
    cfg: &Config,
    subjects: &Subjects,
    dqs_key: Option<Result<String, String>>,
    fetch: mail::PolicyFetch,
) -> DomainReading {
    let now = crate::time::unix_now();
    let zones: Vec<dnsbl::Zone> = cfg
        .dns
        .dnsbl
        .iter()
        .map(|z| {
            let z = z.trim_end_matches('.').to_ascii_lowercase();
            if dnsbl::is_dqs(&z) {
                dnsbl::Zone {
                    query_zone: match &dqs_key {
                        Some(Ok(k)) => Ok(format!("{k}.{z}")),
                        Some(Err(why)) => Err(why.clone()),
                        None => Err("no Spamhaus DQS key".into()),
                    },
                    name: z,
                }
            } else {
                dnsbl::Zone::plain(&z)
            }
        })
        .collect();
    let no_outbound = |item: ItemId| Finding {
        item,
        subject: "outbound".into(),
        zone: None,
        result: Verdict::Unknown,
        answer: None,
        detail: subjects
            .outbound_note
            .clone()
            .unwrap_or_else(|| "no outbound address: set [dns] outbound".into()),
    };
    let helo = subjects.helo.as_deref();
    let tls_targets: Vec<_> = cfg
        .probes
        .iter()
        .filter(|p| p.tls != TlsMode::None)
        .collect();
    let mta = local::Mta::from_config(&cfg.mta);

    let dnsbl_fut = async {
        if zones.is_empty() {
            None
        } else if subjects.outbound.is_empty() {
            Some(vec![no_outbound(ItemId::Dnsbl)])
        } else {
            Some(dnsbl::check(dns, &subjects.outbound, &zones).await)
        }
    };
    let rdns_fut = async {
        if subjects.outbound.is_empty() {
            vec![no_outbound(ItemId::ReverseDns)]
        } else {
            rdns::check(dns, &subjects.outbound, helo).await
        }
    };
    let mail_fut = async {
        if subjects.domains.is_empty() {
            vec![Finding {
                item: ItemId::MailDns,
                subject: "domains".into(),
                zone: None,
                result: Verdict::Unknown,
                answer: None,
                detail: subjects
                    .domains_note
                    .clone()
                    .unwrap_or_else(|| "no sending domain: set [dns] domains".into()),
            }]
        } else {
            mail::check(dns, &subjects.domains, fetch).await
        }
    };
    let tls_fut = async {
        let mut checked = Vec::new();
        for t in &tls_targets {
            checked.push(tls::check(t, helo, mta.as_ref(), now).await);
        }
        checked
    };
    let (bl, rd, md, tl) = tokio::join!(dnsbl_fut, rdns_fut, mail_fut, tls_fut);

    let mut reading = DomainReading {
        ts: now,
        ..DomainReading::default()
    };
    if !tl.is_empty() {
        reading.checked.push(ItemId::TlsCertExpiry);
    }
    for c in tl {
        reading.findings.extend(c.findings);
        reading.certs.extend(c.cert);
    }
    if let Some(bl) = bl {
        reading.checked.push(ItemId::Dnsbl);
        reading.findings.extend(bl);
    }
    reading.checked.push(ItemId::ReverseDns);
    reading.findings.extend(rd);
    reading.checked.push(ItemId::MailDns);
    reading.findings.extend(md);
    reading
}

/// Remote text made safe to show: control characters dropped, length bounded.
pub fn clean(s: &str, max: usize) -> String {
    let mut out: String = s.chars().filter(|c| !c.is_control()).take(max).collect();
    if s.chars().filter(|c| !c.is_control()).count() > max {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::dns::fake::FakeDns;
    use super::*;

    #[test]
    fn findings_serialize_as_the_contract_says() {
        let f = Finding {
            item: ItemId::Dnsbl,
            subject: "192.0.2.7".into(),
            zone: Some("zen.spamhaus.org".into()),
            result: Verdict::Listed,
            answer: Some("127.0.0.2".into()),
            detail: "listed (127.0.0.2)".into(),
        };
        let v = serde_json::to_value(&f).expect("json");
        assert_eq!(
            v,
            serde_json::json!({"item": "dnsbl", "subject": "192.0.2.7", "zone": "zen.spamhaus.org",
                "result": "listed", "answer": "127.0.0.2", "detail": "listed (127.0.0.2)"})
        );
    }

    #[test]
    fn a_reading_survives_json_as_a_snapshot_field_would() {
        let r = DomainReading {
            ts: 1.5,
            findings: vec![Finding {
                item: ItemId::TlsCertExpiry,
                subject: "mx (127.0.0.1:25)".into(),
                zone: None,
                result: Verdict::Ok,
                answer: None,
                detail: "expires in 60 days".into(),
            }],
            certs: vec![ServedCert {
                target: "mx (127.0.0.1:25)".into(),
                not_before: 1.0,
                not_after: 2.0,
            }],
            checked: vec![ItemId::TlsCertExpiry],
            queries: 3,
        };
        let back: DomainReading =
            serde_json::from_str(&serde_json::to_string(&r).expect("json")).expect("parse");
        assert_eq!(back, r);
    }

    #[test]
    fn remote_text_loses_control_characters_and_length() {
        assert_eq!(clean("a\u{1b}[31mb\r\nc", 10), "a[31mbc");
        assert_eq!(clean("abcdef", 3), "abc…");
    }

    #[tokio::test]
    async fn without_outbound_addresses_or_domains_the_items_are_unknown_with_the_reason() {
        let mut cfg = Config::default();
        cfg.probes.clear();
        let subjects = Subjects {
            outbound_note: Some("mail leaves from 10.0.0.5, which is not a public address".into()),
            ..Subjects::default()
        };
        let r = check_all(&FakeDns::default(), &cfg, &subjects, None, |_| {
            Err(mta_sts::FetchError::Unreachable("none".into()))
        })
        .await;
        assert_eq!(
            r.checked,
            [ItemId::Dnsbl, ItemId::ReverseDns, ItemId::MailDns]
        );
        assert!(r.findings.iter().all(|f| f.result == Verdict::Unknown));
        assert!(r.findings[0].detail.contains("10.0.0.5"));
        assert!(r.findings[2].detail.contains("[dns] domains"));
    }

    #[tokio::test]
    async fn an_empty_zone_list_turns_the_dnsbl_check_off() {
        let mut cfg = Config::default();
        cfg.probes.clear();
        cfg.dns.dnsbl.clear();
        let subjects = Subjects {
            outbound: vec!["192.0.2.7".parse().expect("ip")],
            ..Subjects::default()
        };
        let r = check_all(&FakeDns::default(), &cfg, &subjects, None, |_| {
            Err(mta_sts::FetchError::Unreachable("none".into()))
        })
        .await;
        assert!(!r.checked.contains(&ItemId::Dnsbl));
        assert!(r.findings.iter().all(|f| f.item != ItemId::Dnsbl));
    }
}

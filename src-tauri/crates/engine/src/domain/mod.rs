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

pub mod addrs;
pub mod cause;
pub mod disk;
pub mod dmarc;
pub mod dns;
pub mod dnsbl;
pub mod local;
pub mod mail;
pub mod mta_sts;
pub mod rdns;
pub mod resolvers;
mod served;
pub mod spf;
pub mod tls;

use std::net::IpAddr;
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

#[cfg(test)]
impl Finding {
    /// A finding for unit tests: no answer; dnsbl findings are in zen.spamhaus.org.
    pub(crate) fn sample(item: ItemId, subject: &str, result: Verdict, detail: &str) -> Finding {
        Finding {
            item,
            subject: subject.into(),
            zone: (item == ItemId::Dnsbl).then(|| "zen.spamhaus.org".to_string()),
            result,
            answer: None,
            detail: detail.into(),
        }
    }
}

/// Why the checks run: because the admin asked, or by default on a mail server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `[dns] watch = true` and `headroom-cli dns`: every check, and one that has
    /// nothing to look at (no outbound address, no sending domain) is unknown with
    /// the reason and the setting.
    Asked,
    /// `[dns] watch` unset, on a mail server: the checks it can find subjects for by
    /// itself; one without is left out and its reason becomes a note, so a host
    /// behind NAT or without a public domain is not "unknown" for what nobody set.
    Default,
}

/// Whether the monitor runs the domain checks for `dns`, and why: `watch = true`
/// asks for them, `watch = false` turns them off, and unset they run by default
/// where this host is a mail server (`mta_here`: an MTA was found or named) or where
/// `[dns] outbound` or `domains` say what to check. Elsewhere (a workstation that
/// watches remote servers) they do not run.
pub fn scope_of(dns: &crate::config::DnsConfig, mta_here: bool) -> Option<Scope> {
    match dns.watch {
        Some(true) => Some(Scope::Asked),
        Some(false) => None,
        None if mta_here || !dns.outbound.is_empty() || !dns.domains.is_empty() => {
            Some(Scope::Default)
        }
        None => None,
    }
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
    /// Checks left out in [`Scope::Default`] for lack of a subject, with the setting
    /// that would give them one: said as notes, not as unknown items.
    #[serde(default)]
    pub notes: Vec<String>,
}

/// Keyring account of the Spamhaus Data Query Service key (service `headroom`).
pub const DQS_ACCOUNT: &str = "dqs@spamhaus";
const KEYRING_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs the domain checks; keeps the resolver and its answers between rounds.
pub struct Checker {
    dns: Cached<HickoryDns>,
    /// The public resolver the queries would go through, named ("the system
    /// resolver 8.8.8.8 (Google Public DNS)"): Spamhaus is not asked through it.
    public_resolver: Option<String>,
}

/// What a round needs to know besides the configuration and its subjects.
#[derive(Debug, Clone, PartialEq)]
pub struct RoundOptions {
    pub scope: Scope,
    /// See [`Checker`]: zones that refuse public resolvers are not asked through it.
    pub public_resolver: Option<String>,
    /// The Spamhaus DQS key (or why there is none), when a DQS zone is configured.
    pub dqs_key: Option<Result<String, String>>,
}

impl Checker {
    /// A checker that asks `[dns] resolver`.
    pub fn new(cfg: &crate::config::DnsConfig) -> Result<Checker, String> {
        let addr = cfg.resolver_addr()?;
        Ok(Checker {
            dns: Cached::new(HickoryDns::new(addr)?),
            public_resolver: resolvers::public_resolver(addr),
        })
    }

    /// One round: every check, with what the configuration and the MTA say to check.
    pub async fn run(&self, cfg: &Config, scope: Scope) -> DomainReading {
        let subjects = Subjects::discover(cfg).await;
        let dqs_key = if cfg.dns.dnsbl.iter().any(|z| dnsbl::is_dqs(z)) {
            Some(dqs_key().await)
        } else {
            None
        };
        let options = RoundOptions {
            scope,
            public_resolver: self.public_resolver.clone(),
            dqs_key,
        };
        let before = self.dns.queries_sent();
        let mut reading = check_all(&self.dns, cfg, &subjects, &options, mail_fetch).await;
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

/// Zones whose operator refuses queries through public resolvers (and says so with
/// 127.255.255.254): Spamhaus' public mirrors. Its DQS zones work through any.
fn refuses_public_resolvers(zone: &str) -> bool {
    zone == "spamhaus.org" || zone.ends_with(".spamhaus.org")
}

/// Every check against `dns`, for `subjects`. The four run side by side.
pub async fn check_all<D: Dns>(
    dns: &D,
    cfg: &Config,
    subjects: &Subjects,
    options: &RoundOptions,
    fetch: mail::PolicyFetch,
) -> DomainReading {
    let now = crate::time::unix_now();
    let asked = options.scope == Scope::Asked;
    let zones: Vec<dnsbl::Zone> = cfg
        .dns
        .dnsbl
        .iter()
        .map(|z| {
            let z = z.trim_end_matches('.').to_ascii_lowercase();
            if dnsbl::is_dqs(&z) {
                dnsbl::Zone {
                    query_zone: match &options.dqs_key {
                        Some(Ok(k)) => Ok(format!("{k}.{z}")),
                        Some(Err(why)) => Err(why.clone()),
                        None => Err("no Spamhaus DQS key".into()),
                    },
                    name: z,
                }
            } else if let Some(public) = options
                .public_resolver
                .as_ref()
                .filter(|_| refuses_public_resolvers(&z))
            {
                dnsbl::Zone {
                    query_zone: Err(format!(
                        "not asked: {public} is a public resolver, and Spamhaus refuses queries through one (it would answer 127.255.255.254, which is not a listing); run a recursive resolver of your own (unbound) and name it in [dns] resolver, or use a Spamhaus DQS key"
                    )),
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
        detail: outbound_why(subjects),
    };
    let helo = subjects.helo.as_deref();
    let tls_targets: Vec<_> = cfg
        .probes
        .iter()
        .filter(|p| p.tls != TlsMode::None)
        .collect();
    let mta = crate::mta::settings::Mta::from_config(&cfg.mta);
    // Left out by default, unknown when asked for.
    let has_outbound = asked || !subjects.outbound.is_empty();
    let has_domains = asked || !subjects.domains.is_empty();

    let dnsbl_fut = async {
        if zones.is_empty() || !has_outbound {
            None
        } else if subjects.outbound.is_empty() {
            Some(vec![no_outbound(ItemId::Dnsbl)])
        } else {
            // A private or local address is never looked up: no list has it.
            let (private, public): (Vec<IpAddr>, Vec<IpAddr>) = subjects
                .outbound
                .iter()
                .partition(|ip| addrs::is_private_or_local(**ip));
            let mut found: Vec<Finding> = private
                .iter()
                .map(|ip| Finding {
                    item: ItemId::Dnsbl,
                    subject: ip.to_string(),
                    zone: None,
                    result: Verdict::Unknown,
                    answer: None,
                    detail: "a private or local address: no blocklist lists it, so it is not looked up; set [dns] outbound to the public address receivers see".into(),
                })
                .collect();
            found.extend(dnsbl::check(dns, &public, &zones).await);
            Some(found)
        }
    };
    let rdns_fut = async {
        if !has_outbound {
            None
        } else if subjects.outbound.is_empty() {
            Some(vec![no_outbound(ItemId::ReverseDns)])
        } else {
            Some(rdns::check(dns, &subjects.outbound, helo).await)
        }
    };
    let mail_fut = async {
        if !has_domains {
            None
        } else if subjects.domains.is_empty() {
            Some(vec![Finding {
                item: ItemId::MailDns,
                subject: "domains".into(),
                zone: None,
                result: Verdict::Unknown,
                answer: None,
                detail: domains_why(subjects),
            }])
        } else {
            Some(mail::check(dns, &subjects.domains, fetch).await)
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
    for (item, findings) in [
        (ItemId::Dnsbl, bl),
        (ItemId::ReverseDns, rd),
        (ItemId::MailDns, md),
    ] {
        if let Some(f) = findings {
            reading.checked.push(item);
            reading.findings.extend(f);
        }
    }
    if !has_outbound {
        reading.notes.push(format!(
            "dnsbl and reverse_dns are not checked: {}",
            outbound_why(subjects)
        ));
    }
    if !has_domains {
        reading.notes.push(format!(
            "mail_dns is not checked: {}",
            domains_why(subjects)
        ));
    }
    reading
}

fn outbound_why(s: &Subjects) -> String {
    s.outbound_note
        .clone()
        .unwrap_or_else(|| "no outbound address: set [dns] outbound".into())
}

fn domains_why(s: &Subjects) -> String {
    s.domains_note
        .clone()
        .unwrap_or_else(|| "no sending domain: set [dns] domains".into())
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
            notes: vec!["mail_dns is not checked: no sending domain".into()],
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

    fn asked() -> RoundOptions {
        RoundOptions {
            scope: Scope::Asked,
            public_resolver: None,
            dqs_key: None,
        }
    }

    fn no_fetch(_: &str) -> Result<String, mta_sts::FetchError> {
        Err(mta_sts::FetchError::Unreachable("none".into()))
    }

    #[tokio::test]
    async fn without_outbound_addresses_or_domains_the_items_are_unknown_with_the_reason() {
        let mut cfg = Config::default();
        cfg.probes.clear();
        let subjects = Subjects {
            outbound_note: Some("mail leaves from 10.0.0.5, which is not a public address".into()),
            ..Subjects::default()
        };
        let r = check_all(&FakeDns::default(), &cfg, &subjects, &asked(), no_fetch).await;
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
        let r = check_all(&FakeDns::default(), &cfg, &subjects, &asked(), no_fetch).await;
        assert!(!r.checked.contains(&ItemId::Dnsbl));
        assert!(r.findings.iter().all(|f| f.item != ItemId::Dnsbl));
    }

    #[tokio::test]
    async fn by_default_a_check_without_a_subject_is_left_out_with_a_note() {
        let mut cfg = Config::default();
        cfg.probes.clear();
        let subjects = Subjects {
            outbound_note: Some("mail leaves from 10.0.0.5, which is not a public address".into()),
            domains_note: Some("no sending domain: set [dns] domains".into()),
            ..Subjects::default()
        };
        let options = RoundOptions {
            scope: Scope::Default,
            ..asked()
        };
        let dns = FakeDns::default();
        let r = check_all(&dns, &cfg, &subjects, &options, no_fetch).await;
        assert!(r.checked.is_empty(), "{r:?}");
        assert!(r.findings.is_empty());
        assert_eq!(r.notes.len(), 2);
        assert!(
            r.notes[0]
                .starts_with("dnsbl and reverse_dns are not checked: mail leaves from 10.0.0.5"),
            "{:?}",
            r.notes
        );
        assert!(r.notes[1].contains("[dns] domains"), "{:?}", r.notes);
        assert!(dns.asked.lock().expect("lock").is_empty(), "nothing to ask");
    }

    #[tokio::test]
    async fn a_private_address_is_never_looked_up_in_a_blocklist() {
        let mut cfg = Config::default();
        cfg.probes.clear();
        cfg.dns.dnsbl = vec!["bl.example".into()];
        let subjects = Subjects {
            outbound: vec![
                "10.0.0.5".parse().expect("ip"),
                "192.0.2.7".parse().expect("ip"),
            ],
            domains: vec![],
            ..Subjects::default()
        };
        let dns = FakeDns::default().a("2.0.0.127.bl.example", &["127.0.0.2"]);
        let r = check_all(&dns, &cfg, &subjects, &asked(), no_fetch).await;
        let bl: Vec<&Finding> = r
            .findings
            .iter()
            .filter(|f| f.item == ItemId::Dnsbl)
            .collect();
        assert_eq!(bl.len(), 2);
        assert_eq!(
            (bl[0].subject.as_str(), bl[0].result),
            ("10.0.0.5", Verdict::Unknown)
        );
        assert!(bl[0].detail.contains("not looked up"), "{}", bl[0].detail);
        assert_eq!(
            (bl[1].subject.as_str(), bl[1].result),
            ("192.0.2.7", Verdict::Ok)
        );
        assert_eq!(dns.count("5.0.0.10.bl.example"), 0);
        assert_eq!(dns.count("7.2.0.192.bl.example"), 1);
    }

    #[tokio::test]
    async fn spamhaus_is_not_asked_through_a_public_resolver_and_says_what_to_do() {
        let mut cfg = Config::default();
        cfg.probes.clear();
        let subjects = Subjects {
            outbound: vec!["203.0.114.7".parse().expect("ip")],
            ..Subjects::default()
        };
        let options = RoundOptions {
            scope: Scope::Default,
            public_resolver: Some("the system resolver 8.8.8.8 (Google Public DNS)".into()),
            dqs_key: None,
        };
        let dns = FakeDns::default()
            .a("2.0.0.127.bl.spamcop.net", &["127.0.0.2"])
            .a("2.0.0.127.psbl.surriel.com", &["127.0.0.2"]);
        let r = check_all(&dns, &cfg, &subjects, &options, no_fetch).await;
        let zen = r
            .findings
            .iter()
            .find(|f| f.zone.as_deref() == Some("zen.spamhaus.org"))
            .expect("a zen finding");
        assert_eq!(zen.result, Verdict::Unknown);
        assert!(
            zen.detail
                .contains("8.8.8.8 (Google Public DNS) is a public resolver"),
            "{}",
            zen.detail
        );
        assert!(zen.detail.contains("[dns] resolver"), "{}", zen.detail);
        assert!(
            dns.asked
                .lock()
                .expect("lock")
                .iter()
                .all(|(n, _)| !n.ends_with("spamhaus.org")),
            "Spamhaus was asked through a public resolver"
        );
        // The other lists are asked, and clean: the item is unknown for Spamhaus, never
        // "listed" and never 0.
        let items = crate::assess::domain_items::items(&r, r.ts, &cfg.tls);
        let dnsbl = items
            .iter()
            .find(|i| i.id == ItemId::Dnsbl)
            .expect("dnsbl item");
        assert_eq!(dnsbl.used, None);
        assert!(dnsbl.detail.contains("[dns] resolver"), "{}", dnsbl.detail);
    }

    #[test]
    fn the_checks_run_on_a_mail_server_by_default_and_as_the_setting_says() {
        let mut d = crate::config::DnsConfig::default();
        assert_eq!(d.watch, None);
        assert_eq!(scope_of(&d, true), Some(Scope::Default));
        assert_eq!(scope_of(&d, false), None);
        d.domains = vec!["example.org".into()];
        assert_eq!(scope_of(&d, false), Some(Scope::Default));
        d.watch = Some(false);
        assert_eq!(scope_of(&d, true), None);
        d.watch = Some(true);
        assert_eq!(scope_of(&d, false), Some(Scope::Asked));
    }
}

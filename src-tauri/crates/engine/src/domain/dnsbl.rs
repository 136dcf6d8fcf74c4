//! `dnsbl`: our outbound addresses looked up in DNS blocklists, with the answers
//! validated as RFC 5782 and the lists' own error codes say.
//!
//! A listing is an A record inside 127.0.0.0/8 other than 127.0.0.1. Spamhaus answers
//! 127.255.255.252/254/255 for "typo in the zone name", "query through a public
//! resolver refused" and "rate-limited": those are errors about the query, never a
//! listing, and so is any answer outside 127.0.0.0/8 (an ISP's resolver that rewrites
//! names that do not exist). Such answers make the finding unknown with the reason.
//! Each zone's own test entry (127.0.0.2, RFC 5782 §5) is looked up too: a zone that
//! does not list it (registration needed, resolver blocked) cannot be trusted to say
//! "not listed" either.

use std::net::{IpAddr, Ipv4Addr};

use super::dns::{reversed, Answer, Dns, QType, Rec};
use super::{clean, Finding, Verdict};
use crate::item::ItemId;

/// A zone as configured (`name`, shown in findings) and as queried (`query_zone`:
/// the same, or with a Spamhaus DQS key in front, which findings never show).
#[derive(Debug, Clone, PartialEq)]
pub struct Zone {
    pub name: String,
    pub query_zone: Result<String, String>,
}

impl Zone {
    pub fn plain(name: &str) -> Zone {
        Zone {
            name: name.to_string(),
            query_zone: Ok(name.to_string()),
        }
    }
}

/// Zones of Spamhaus' Data Query Service need the account's key in front.
pub fn is_dqs(zone: &str) -> bool {
    zone.trim_end_matches('.').ends_with(".dq.spamhaus.net")
}

/// What one A-record answer of a DNSBL means.
pub fn classify(ips: &[Ipv4Addr]) -> (Verdict, String) {
    let shown = ips
        .iter()
        .map(Ipv4Addr::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    if let Some(code) = ips.iter().find(|ip| is_error_code(**ip)) {
        let why = match code.octets()[3] {
            252 => "the zone name is mistyped or not a Spamhaus zone (127.255.255.252): check the [dns] dnsbl list",
            254 => "the list refuses queries from this resolver (127.255.255.254): public and open resolvers (8.8.8.8, 1.1.1.1, 9.9.9.9, many ISPs') are not allowed; run a recursive resolver of your own (unbound) and name it in [dns] resolver, or use a Spamhaus DQS key",
            255 => "the list rate-limits this resolver (127.255.255.255): too many queries come through it; run a recursive resolver of your own (unbound) and name it in [dns] resolver, or use a Spamhaus DQS key",
            _ => "the list answered with an error code in 127.255.255.0/24, which is about the query, not about the address",
        };
        return (Verdict::Unknown, format!("{why}; not a listing"));
    }
    if let Some(odd) = ips.iter().find(|ip| ip.octets()[0] != 127) {
        return (
            Verdict::Unknown,
            format!(
                "answer {odd} is outside 127.0.0.0/8: rewritten by the resolver (a resolver that answers for names that do not exist, or a filtering one); not a listing"
            ),
        );
    }
    if ips.iter().all(|ip| *ip == Ipv4Addr::new(127, 0, 0, 1)) {
        return (
            Verdict::Unknown,
            "127.0.0.1 is never a listing (RFC 5782 §5): the list uses it to refuse the query"
                .into(),
        );
    }
    (Verdict::Listed, format!("listed ({shown})"))
}

/// Spamhaus' error range, 127.255.255.0/24.
fn is_error_code(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    o[0] == 127 && o[1] == 255 && o[2] == 255
}

/// Whether a zone can be believed when it says "not listed": `Ok` when it lists its
/// RFC 5782 test address 127.0.0.2, else the reason.
async fn zone_works<D: Dns>(dns: &D, query_zone: &str) -> Result<(), String> {
    let r = dns
        .query(&format!("2.0.0.127.{query_zone}"), QType::A)
        .await;
    match r.answer {
        Answer::Records(recs) => match classify(&a_records(&recs)) {
            (Verdict::Listed, _) => Ok(()),
            (_, why) => Err(why),
        },
        Answer::NxDomain | Answer::NoData => Err(
            "the zone does not list its RFC 5782 test address 127.0.0.2 (a zone that needs registration, a mistyped name, or a resolver that hides its answers), so its \"not listed\" cannot be trusted".into(),
        ),
        Answer::Failed(why) => Err(format!("look-up of the zone's test address failed: {why}")),
    }
}

fn a_records(recs: &[Rec]) -> Vec<Ipv4Addr> {
    recs.iter()
        .filter_map(|r| match r {
            Rec::A(a) => Some(*a),
            _ => None,
        })
        .collect()
}

/// One finding per (address, zone), zone by zone. Every zone and address is asked
/// side by side.
pub async fn check<D: Dns>(dns: &D, addrs: &[IpAddr], zones: &[Zone]) -> Vec<Finding> {
    let per_zone = zones.iter().map(|zone| async move {
        // `None`: the zone cannot be asked at all (no DQS key, a public resolver).
        let (works, answers): (Result<(), String>, Vec<Option<Looked>>) = match &zone.query_zone {
            Ok(qz) => {
                tokio::join!(
                    zone_works(dns, qz),
                    futures_util::future::join_all(
                        addrs
                            .iter()
                            .map(|a| async move { Some(look_up(dns, *a, qz).await) })
                    )
                )
            }
            Err(why) => (Err(why.clone()), addrs.iter().map(|_| None).collect()),
        };
        addrs
            .iter()
            .zip(answers)
            .map(|(addr, answer)| {
                let finding = |result: Verdict, answer: Option<String>, detail: String| Finding {
                    item: ItemId::Dnsbl,
                    subject: addr.to_string(),
                    zone: Some(zone.name.clone()),
                    result,
                    answer,
                    detail,
                };
                match answer {
                    None => finding(
                        Verdict::Unknown,
                        None,
                        works.clone().err().unwrap_or_default(),
                    ),
                    Some(Looked::NotListed) => match &works {
                        Ok(()) => finding(Verdict::Ok, None, "not listed".into()),
                        Err(why) => finding(Verdict::Unknown, None, why.clone()),
                    },
                    Some(Looked::Failed(why)) => {
                        finding(Verdict::Unknown, None, format!("look-up failed: {why}"))
                    }
                    Some(Looked::Answered {
                        verdict,
                        shown,
                        detail,
                    }) => finding(verdict, Some(shown), detail),
                }
            })
            .collect::<Vec<_>>()
    });
    futures_util::future::join_all(per_zone)
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// What one address's look-up in one zone gave.
enum Looked {
    NotListed,
    Failed(String),
    Answered {
        verdict: Verdict,
        shown: String,
        detail: String,
    },
}

async fn look_up<D: Dns>(dns: &D, addr: IpAddr, query_zone: &str) -> Looked {
    let name = format!("{}.{query_zone}", reversed(addr));
    let r = dns.query(&name, QType::A).await;
    match r.answer {
        Answer::NxDomain | Answer::NoData => Looked::NotListed,
        Answer::Failed(why) => Looked::Failed(why),
        Answer::Records(recs) => {
            let ips = a_records(&recs);
            let shown = ips
                .iter()
                .map(Ipv4Addr::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            let (verdict, mut detail) = classify(&ips);
            if verdict == Verdict::Listed {
                // The list's own words (a reason, a lookup URL); one more query, and
                // only for a listing.
                let txt = dns.query(&name, QType::Txt).await;
                if let Some(t) = txt.answer.txts().first() {
                    detail.push_str(&format!(": {}", clean(t, 300)));
                }
            }
            Looked::Answered {
                verdict,
                shown,
                detail,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::dns::fake::FakeDns;
    use super::*;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().expect("ip")
    }

    #[test]
    fn a_listing_is_127_slash_8_but_not_127_0_0_1_nor_the_error_range() {
        assert_eq!(classify(&[ip("127.0.0.2")]).0, Verdict::Listed);
        assert_eq!(
            classify(&[ip("127.0.0.4"), ip("127.0.0.10")]).0,
            Verdict::Listed
        );
        assert_eq!(classify(&[ip("127.0.0.1")]).0, Verdict::Unknown);
        for (code, words) in [
            ("127.255.255.252", "mistyped"),
            ("127.255.255.254", "public and open resolvers"),
            ("127.255.255.255", "rate-limits"),
            ("127.255.255.253", "error code"),
        ] {
            let (v, d) = classify(&[ip(code)]);
            assert_eq!(v, Verdict::Unknown, "{code}");
            assert!(d.contains(words), "{code}: {d}");
            assert!(d.ends_with("not a listing"), "{d}");
        }
        // An error code next to a listing code is still an error: never "listed".
        assert_eq!(
            classify(&[ip("127.0.0.2"), ip("127.255.255.254")]).0,
            Verdict::Unknown
        );
        let (v, d) = classify(&[ip("10.0.0.1")]);
        assert_eq!(v, Verdict::Unknown);
        assert!(d.contains("rewritten by the resolver"), "{d}");
    }

    #[test]
    fn only_dq_spamhaus_net_zones_take_a_key() {
        assert!(is_dqs("zen.dq.spamhaus.net"));
        assert!(!is_dqs("zen.spamhaus.org"));
    }

    fn zone_with_test_point() -> FakeDns {
        FakeDns::default().a("2.0.0.127.bl.example", &["127.0.0.2"])
    }

    #[tokio::test]
    async fn each_address_in_each_zone_gets_its_verdict() {
        let dns = zone_with_test_point()
            .a("10.2.0.192.bl.example", &["127.0.0.3"])
            .txt(
                "10.2.0.192.bl.example",
                &["listed: see https://bl.example/10"],
            )
            .a("11.2.0.192.bl.example", &["127.255.255.254"])
            .a("12.2.0.192.bl.example", &["10.0.0.1"])
            .with(
                "14.2.0.192.bl.example",
                QType::A,
                Answer::Failed("no answer (timed out)".into()),
            );
        let addrs: Vec<IpAddr> = [
            "192.0.2.10",
            "192.0.2.11",
            "192.0.2.12",
            "192.0.2.13",
            "192.0.2.14",
        ]
        .iter()
        .map(|a| a.parse().expect("ip"))
        .collect();
        let f = check(&dns, &addrs, &[Zone::plain("bl.example")]).await;
        let got: Vec<(&str, Verdict)> = f.iter().map(|f| (f.subject.as_str(), f.result)).collect();
        assert_eq!(
            got,
            [
                ("192.0.2.10", Verdict::Listed),
                ("192.0.2.11", Verdict::Unknown),
                ("192.0.2.12", Verdict::Unknown),
                ("192.0.2.13", Verdict::Ok),
                ("192.0.2.14", Verdict::Unknown),
            ]
        );
        assert_eq!(f[0].answer.as_deref(), Some("127.0.0.3"));
        assert!(
            f[0].detail.contains("https://bl.example/10"),
            "{}",
            f[0].detail
        );
        assert_eq!(f[0].zone.as_deref(), Some("bl.example"));
        assert!(f[4].detail.contains("timed out"), "{}", f[4].detail);
    }

    #[tokio::test]
    async fn a_zone_without_its_test_entry_cannot_say_not_listed() {
        let dns = FakeDns::default();
        let addr: IpAddr = "192.0.2.13".parse().expect("ip");
        let f = check(&dns, &[addr], &[Zone::plain("b.barracuda.example")]).await;
        assert_eq!(f[0].result, Verdict::Unknown);
        assert!(
            f[0].detail.contains("test address 127.0.0.2"),
            "{}",
            f[0].detail
        );
    }

    #[tokio::test]
    async fn ipv6_addresses_are_asked_by_nibbles_and_the_key_stays_hidden() {
        let key_zone = "SECRETKEY.zen.dq.spamhaus.net";
        let dns = FakeDns::default()
            .a(&format!("2.0.0.127.{key_zone}"), &["127.0.0.2"])
            .a(
                &format!(
                    "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.{key_zone}"
                ),
                &["127.0.0.3"],
            );
        let zone = Zone {
            name: "zen.dq.spamhaus.net".into(),
            query_zone: Ok(key_zone.into()),
        };
        let f = check(&dns, &["2001:db8::1".parse().expect("ip")], &[zone]).await;
        assert_eq!(f[0].result, Verdict::Listed);
        let json = serde_json::to_string(&f).expect("json");
        assert!(!json.contains("SECRETKEY"), "{json}");
    }

    #[tokio::test]
    async fn a_zone_whose_key_is_missing_is_unknown_with_the_reason_and_not_asked() {
        let dns = FakeDns::default();
        let zone = Zone {
            name: "zen.dq.spamhaus.net".into(),
            query_zone: Err("no DQS key in the OS keyring".into()),
        };
        let f = check(&dns, &["192.0.2.1".parse().expect("ip")], &[zone]).await;
        assert_eq!(f[0].result, Verdict::Unknown);
        assert!(f[0].detail.contains("DQS key"));
        assert!(dns.asked.lock().expect("lock").is_empty());
    }
}

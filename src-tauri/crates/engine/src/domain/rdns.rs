//! `reverse_dns`: each outbound address has a PTR record, the PTR name resolves back
//! to the address (forward-confirmed reverse DNS, FCrDNS), and it matches the HELO
//! name or the HELO name resolves to the address too. Gmail defers mail from an
//! address without this (`421 4.7.23`, later `550 5.7.25`). A look-up that fails is
//! unknown, never "missing": a resolver hiccup must not raise a false alarm.

use std::net::IpAddr;

use super::dns::{ptr_name, Answer, Dns, QType, Rec};
use super::{Finding, Verdict};
use crate::item::ItemId;

/// PTR names followed at most (an address with dozens of PTRs is its own problem).
const MAX_PTRS: usize = 5;

pub async fn check<D: Dns>(dns: &D, addrs: &[IpAddr], helo: Option<&str>) -> Vec<Finding> {
    futures_util::future::join_all(addrs.iter().map(|a| check_one(dns, *a, helo))).await
}

async fn check_one<D: Dns>(dns: &D, addr: IpAddr, helo: Option<&str>) -> Finding {
    let finding = |result: Verdict, answer: Option<String>, detail: String| Finding {
        item: ItemId::ReverseDns,
        subject: addr.to_string(),
        zone: None,
        result,
        answer,
        detail,
    };
    let r = dns.query(&ptr_name(addr), QType::Ptr).await;
    let names: Vec<String> = match r.answer {
        Answer::Failed(why) => {
            return finding(
                Verdict::Unknown,
                None,
                format!("PTR look-up failed: {why}"),
            )
        }
        Answer::NxDomain | Answer::NoData => {
            return finding(
                Verdict::Missing,
                None,
                format!(
                    "no PTR record for {addr}: receivers such as Gmail defer (421 4.7.23) or refuse (550 5.7.25) mail from addresses without reverse DNS"
                ),
            )
        }
        Answer::Records(recs) => recs
            .into_iter()
            .filter_map(|r| match r {
                Rec::Ptr(n) => Some(n),
                _ => None,
            })
            .take(MAX_PTRS)
            .collect(),
    };
    let answer = Some(names.join(", "));
    let mut confirmed = Vec::new();
    let mut unconfirmed = Vec::new();
    let mut failed = Vec::new();
    for name in &names {
        match forward(dns, name, addr).await {
            Ok(ips) if ips.contains(&addr) => confirmed.push(name.clone()),
            Ok(ips) => unconfirmed.push(format!(
                "{name} → {}",
                if ips.is_empty() {
                    "nothing".to_string()
                } else {
                    ips.iter()
                        .map(IpAddr::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            )),
            Err(why) => failed.push(format!("{name}: {why}")),
        }
    }
    if confirmed.is_empty() {
        if !failed.is_empty() {
            return finding(
                Verdict::Unknown,
                answer,
                format!(
                    "forward look-up of the PTR name failed: {}",
                    failed.join("; ")
                ),
            );
        }
        return finding(
            Verdict::Mismatch,
            answer,
            format!(
                "PTR is not forward-confirmed (FCrDNS fails): {} — {addr} is not among the addresses of its name",
                unconfirmed.join("; ")
            ),
        );
    }
    let Some(helo) = helo else {
        return finding(
            Verdict::Ok,
            answer,
            format!(
                "PTR {} is forward-confirmed; HELO name unknown, not compared (set [dns] helo)",
                confirmed[0]
            ),
        );
    };
    let helo = helo.trim_end_matches('.').to_ascii_lowercase();
    if confirmed.contains(&helo) {
        return finding(
            Verdict::Ok,
            answer,
            format!("PTR {helo} is forward-confirmed and is the HELO name"),
        );
    }
    match forward(dns, &helo, addr).await {
        Ok(ips) if ips.contains(&addr) => finding(
            Verdict::Ok,
            answer,
            format!(
                "PTR {} is forward-confirmed; HELO name {helo} resolves to {addr} too",
                confirmed[0]
            ),
        ),
        Ok(_) => finding(
            Verdict::Mismatch,
            answer,
            format!(
                "PTR {} does not match the HELO name {helo}, and {helo} does not resolve to {addr}: receivers that compare them will distrust the greeting",
                confirmed[0]
            ),
        ),
        Err(why) => finding(
            Verdict::Unknown,
            answer,
            format!("look-up of the HELO name {helo} failed: {why}"),
        ),
    }
}

/// The addresses of `name` in `addr`'s family; `Err` when the look-up failed.
async fn forward<D: Dns>(dns: &D, name: &str, addr: IpAddr) -> Result<Vec<IpAddr>, String> {
    let qtype = match addr {
        IpAddr::V4(_) => QType::A,
        IpAddr::V6(_) => QType::Aaaa,
    };
    let r = dns.query(name, qtype).await;
    match r.answer {
        Answer::Failed(why) => Err(why),
        a => Ok(a.ips()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::dns::fake::FakeDns;
    use super::*;

    fn ptr(dns: FakeDns, ip: &str, name: &str) -> FakeDns {
        dns.with(
            &ptr_name(ip.parse().expect("ip")),
            QType::Ptr,
            Answer::Records(vec![Rec::Ptr(name.into())]),
        )
    }

    async fn one(dns: &FakeDns, ip: &str, helo: Option<&str>) -> Finding {
        check(dns, &[ip.parse().expect("ip")], helo).await.remove(0)
    }

    #[tokio::test]
    async fn a_forward_confirmed_ptr_naming_the_helo_host_is_ok() {
        let dns = ptr(FakeDns::default(), "192.0.2.7", "mail.example.org")
            .a("mail.example.org", &["192.0.2.7"]);
        let f = one(&dns, "192.0.2.7", Some("Mail.Example.org.")).await;
        assert_eq!(f.result, Verdict::Ok, "{}", f.detail);
        assert_eq!(f.answer.as_deref(), Some("mail.example.org"));
    }

    #[tokio::test]
    async fn no_ptr_is_missing_and_a_failed_lookup_is_unknown() {
        let f = one(&FakeDns::default(), "192.0.2.7", Some("mail.example.org")).await;
        assert_eq!(f.result, Verdict::Missing);
        assert!(f.detail.contains("4.7.23"), "{}", f.detail);
        let dns = FakeDns::default().with(
            &ptr_name("192.0.2.7".parse().expect("ip")),
            QType::Ptr,
            Answer::Failed("the resolver answered SERVFAIL".into()),
        );
        let f = one(&dns, "192.0.2.7", None).await;
        assert_eq!(f.result, Verdict::Unknown);
        assert!(f.detail.contains("SERVFAIL"));
    }

    #[tokio::test]
    async fn a_ptr_that_does_not_resolve_back_is_a_mismatch() {
        let dns = ptr(FakeDns::default(), "192.0.2.7", "host.isp.example")
            .a("host.isp.example", &["192.0.2.99"]);
        let f = one(&dns, "192.0.2.7", Some("mail.example.org")).await;
        assert_eq!(f.result, Verdict::Mismatch);
        assert!(f.detail.contains("FCrDNS"), "{}", f.detail);
        assert!(f.detail.contains("192.0.2.99"), "{}", f.detail);
    }

    #[tokio::test]
    async fn another_name_is_fine_when_the_helo_name_points_at_the_address_too() {
        let base = ptr(FakeDns::default(), "192.0.2.7", "out1.example.org")
            .a("out1.example.org", &["192.0.2.7"]);
        let covered = base.a("mail.example.org", &["192.0.2.7"]);
        let f = one(&covered, "192.0.2.7", Some("mail.example.org")).await;
        assert_eq!(f.result, Verdict::Ok, "{}", f.detail);
        let base = ptr(FakeDns::default(), "192.0.2.7", "out1.example.org")
            .a("out1.example.org", &["192.0.2.7"]);
        let f = one(&base, "192.0.2.7", Some("mail.example.org")).await;
        assert_eq!(f.result, Verdict::Mismatch);
        assert!(
            f.detail.contains("HELO name mail.example.org"),
            "{}",
            f.detail
        );
    }

    #[tokio::test]
    async fn ipv6_is_confirmed_with_aaaa() {
        let dns = ptr(FakeDns::default(), "2001:db8::7", "mail.example.org")
            .a("mail.example.org", &["2001:db8::7"]);
        let f = one(&dns, "2001:db8::7", Some("mail.example.org")).await;
        assert_eq!(f.result, Verdict::Ok, "{}", f.detail);
    }
}

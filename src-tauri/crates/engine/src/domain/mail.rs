//! `mail_dns`: for each of our sending domains, the records receivers check before
//! they trust its mail — MX (bounces must come back), SPF (within 10 look-ups), DMARC
//! (present, parseable) and MTA-STS (if published: fetchable and covering every MX).
//! Each finding quotes the record as received.

use super::dns::{Answer, Dns, QType, Rec};
use super::mta_sts::{self, FetchError, Mode};
use super::{clean, dmarc, spf, Finding, Verdict};
use crate::item::ItemId;

/// How the MTA-STS policy is fetched: [`mta_sts::fetch`] for real, a table in tests.
pub type PolicyFetch = fn(&str) -> Result<String, FetchError>;

pub async fn check<D: Dns>(dns: &D, domains: &[String], fetch: PolicyFetch) -> Vec<Finding> {
    // Domains, and each domain's MX, SPF and DMARC, side by side; MTA-STS needs the
    // MX hosts. The findings keep their order: MX, SPF, DMARC, MTA-STS per domain.
    let per_domain = domains.iter().map(|d| async move {
        let d = d.trim_end_matches('.').to_ascii_lowercase();
        let mx_and_sts = async {
            let (mx_finding, mx_hosts) = mx(dns, &d).await;
            let sts = mta_sts_finding(dns, &d, mx_hosts.as_deref(), fetch).await;
            (mx_finding, sts)
        };
        let ((mx_finding, sts), spf, dmarc) =
            tokio::join!(mx_and_sts, spf_finding(dns, &d), dmarc_finding(dns, &d));
        [mx_finding, spf, dmarc, sts]
    });
    futures_util::future::join_all(per_domain)
        .await
        .into_iter()
        .flatten()
        .collect()
}

fn finding(domain: &str, result: Verdict, answer: Option<String>, detail: String) -> Finding {
    Finding {
        item: ItemId::MailDns,
        subject: domain.to_string(),
        zone: None,
        result,
        answer,
        detail,
    }
}

/// The MX finding, and the MX host names when they could be read.
async fn mx<D: Dns>(dns: &D, domain: &str) -> (Finding, Option<Vec<String>>) {
    let r = dns.query(domain, QType::Mx).await;
    let mut mxs: Vec<(u16, String)> = match r.answer {
        Answer::Failed(why) => {
            return (
                finding(domain, Verdict::Unknown, None, format!("MX: look-up failed: {why}")),
                None,
            )
        }
        Answer::NxDomain => {
            return (
                finding(
                    domain,
                    Verdict::Missing,
                    None,
                    format!("MX: {domain} does not exist (NXDOMAIN): receivers refuse mail from a domain that does not exist"),
                ),
                Some(Vec::new()),
            )
        }
        Answer::NoData => {
            return (
                finding(
                    domain,
                    Verdict::Missing,
                    None,
                    format!("MX: no MX record for {domain}: bounces and replies fall back to its A record, and some receivers refuse senders whose domain has no MX"),
                ),
                Some(Vec::new()),
            )
        }
        Answer::Records(recs) => recs
            .into_iter()
            .filter_map(|r| match r {
                Rec::Mx(p, h) => Some((p, h)),
                _ => None,
            })
            .collect(),
    };
    mxs.sort();
    let answer = Some(
        mxs.iter()
            .map(|(p, h)| format!("{p} {}", if h.is_empty() { "." } else { h }))
            .collect::<Vec<_>>()
            .join(", "),
    );
    if mxs.len() == 1 && mxs[0].1.is_empty() {
        return (
            finding(
                domain,
                Verdict::Broken,
                answer,
                "MX: null MX (RFC 7505): the domain declares it receives no mail, so bounces to our senders fail and receivers may refuse our mail".into(),
            ),
            Some(Vec::new()),
        );
    }
    let mut dead = Vec::new();
    let mut failed = Vec::new();
    for (_, host) in &mxs {
        let mut any = false;
        let mut host_failed = false;
        for q in [QType::A, QType::Aaaa] {
            match dns.query(host, q).await.answer {
                Answer::Records(_) => any = true,
                Answer::Failed(why) => {
                    host_failed = true;
                    failed.push(format!("{host}: {why}"));
                }
                _ => {}
            }
        }
        if !any && !host_failed {
            dead.push(host.clone());
        }
    }
    let hosts = mxs.into_iter().map(|(_, h)| h).collect::<Vec<_>>();
    let f = if !dead.is_empty() {
        finding(
            domain,
            Verdict::Broken,
            answer,
            format!(
                "MX: {} has no A or AAAA record: mail to it cannot be delivered",
                dead.join(", ")
            ),
        )
    } else if !failed.is_empty() {
        finding(
            domain,
            Verdict::Unknown,
            answer,
            format!("MX: address look-up failed: {}", failed.join("; ")),
        )
    } else {
        finding(
            domain,
            Verdict::Ok,
            answer,
            format!("MX: {} host(s), all resolve", hosts.len()),
        )
    };
    (f, Some(hosts))
}

async fn spf_finding<D: Dns>(dns: &D, domain: &str) -> Finding {
    let r = dns.query(domain, QType::Txt).await;
    if let Answer::Failed(why) = &r.answer {
        return finding(
            domain,
            Verdict::Unknown,
            None,
            format!("SPF: look-up failed: {why}"),
        );
    }
    let records: Vec<&str> = r
        .answer
        .txts()
        .into_iter()
        .filter(|t| spf::is_spf(t))
        .collect();
    let record = match records.as_slice() {
        [] => {
            return finding(
                domain,
                Verdict::Missing,
                None,
                format!("SPF: no v=spf1 TXT record at {domain}: receivers cannot tell our servers from forgers, and Gmail and Yahoo require SPF or DKIM"),
            )
        }
        [one] => *one,
        many => {
            return finding(
                domain,
                Verdict::Broken,
                Some(many.iter().map(|r| clean(r, 500)).collect::<Vec<_>>().join(" | ")),
                format!("SPF: {} v=spf1 records: receivers answer permerror (RFC 7208 §4.5); merge them into one", many.len()),
            )
        }
    };
    let answer = Some(clean(record, 500));
    let parsed = match spf::parse(record) {
        Ok(p) => p,
        Err(e) => {
            return finding(
                domain,
                Verdict::Broken,
                answer,
                format!(
                    "SPF: \"{}\" does not parse: {e} (permerror at receivers)",
                    clean(record, 200)
                ),
            )
        }
    };
    let c = spf::count(dns, domain, &parsed).await;
    let spent = if c.breakdown.is_empty() {
        String::new()
    } else {
        format!(" ({})", c.breakdown.join(", "))
    };
    if !c.broken.is_empty() {
        return finding(
            domain,
            Verdict::Broken,
            answer,
            format!("SPF: {}{spent}", c.broken.join("; ")),
        );
    }
    if !c.unknown.is_empty() {
        return finding(
            domain,
            Verdict::Unknown,
            answer,
            format!(
                "SPF: at least {} DNS look-ups; could not follow {}",
                c.lookups,
                c.unknown.join("; ")
            ),
        );
    }
    finding(
        domain,
        Verdict::Ok,
        answer,
        format!(
            "SPF: {} of {} DNS look-ups{spent}",
            c.lookups,
            spf::MAX_LOOKUPS
        ),
    )
}

async fn dmarc_finding<D: Dns>(dns: &D, domain: &str) -> Finding {
    let name = format!("_dmarc.{domain}");
    let r = dns.query(&name, QType::Txt).await;
    if let Answer::Failed(why) = &r.answer {
        return finding(
            domain,
            Verdict::Unknown,
            None,
            format!("DMARC: look-up failed: {why}"),
        );
    }
    let records: Vec<&str> = r
        .answer
        .txts()
        .into_iter()
        .filter(|t| dmarc::is_dmarc(t))
        .collect();
    match records.as_slice() {
        [] => finding(
            domain,
            Verdict::Missing,
            None,
            format!("DMARC: no v=DMARC1 TXT record at {name}: Gmail and Yahoo require one from bulk senders (v=DMARC1; p=none; rua=mailto:… is a start)"),
        ),
        [one] => match dmarc::parse(one) {
            Ok(d) => finding(
                domain,
                Verdict::Ok,
                Some(clean(one, 500)),
                format!(
                    "DMARC: p={}{}{}",
                    d.policy,
                    if d.pct < 100 { format!(", pct={}", d.pct) } else { String::new() },
                    if d.rua.is_empty() { ", no rua= reports".to_string() } else { String::new() }
                ),
            ),
            Err(e) => finding(
                domain,
                Verdict::Broken,
                Some(clean(one, 500)),
                format!("DMARC: \"{}\" does not parse: {e}", clean(one, 200)),
            ),
        },
        many => finding(
            domain,
            Verdict::Broken,
            Some(many.iter().map(|r| clean(r, 500)).collect::<Vec<_>>().join(" | ")),
            format!("DMARC: {} v=DMARC1 records at {name}: receivers apply none of them (RFC 7489 §6.6.3)", many.len()),
        ),
    }
}

async fn mta_sts_finding<D: Dns>(
    dns: &D,
    domain: &str,
    mx_hosts: Option<&[String]>,
    fetch: PolicyFetch,
) -> Finding {
    let name = format!("_mta-sts.{domain}");
    let r = dns.query(&name, QType::Txt).await;
    if let Answer::Failed(why) = &r.answer {
        return finding(
            domain,
            Verdict::Unknown,
            None,
            format!("MTA-STS: look-up failed: {why}"),
        );
    }
    let records: Vec<&str> = r
        .answer
        .txts()
        .into_iter()
        .filter(|t| mta_sts::is_sts_record(t))
        .collect();
    let record = match records.as_slice() {
        [] => return finding(domain, Verdict::Ok, None, "MTA-STS: no policy published".into()),
        [one] => *one,
        many => {
            return finding(
                domain,
                Verdict::Broken,
                Some(many.iter().map(|r| clean(r, 200)).collect::<Vec<_>>().join(" | ")),
                format!("MTA-STS: {} v=STSv1 records at {name}: senders treat the domain as having no policy (RFC 8461 §3.1)", many.len()),
            )
        }
    };
    let answer = Some(clean(record, 200));
    if let Err(e) = mta_sts::record_id(record) {
        return finding(
            domain,
            Verdict::Broken,
            answer,
            format!("MTA-STS: \"{}\": {e}", clean(record, 200)),
        );
    }
    // The policy host must resolve before anything can be fetched from it.
    let host = format!("mta-sts.{domain}");
    let mut resolves = false;
    for q in [QType::A, QType::Aaaa] {
        match dns.query(&host, q).await.answer {
            Answer::Records(_) => resolves = true,
            Answer::Failed(why) => {
                return finding(
                    domain,
                    Verdict::Unknown,
                    answer,
                    format!("MTA-STS: look-up of {host} failed: {why}"),
                )
            }
            _ => {}
        }
    }
    if !resolves {
        return finding(
            domain,
            Verdict::Broken,
            answer,
            format!("MTA-STS: the record says a policy is published, but {host} does not resolve: senders cannot fetch it"),
        );
    }
    let d = domain.to_string();
    let fetched = tokio::task::spawn_blocking(move || fetch(&d))
        .await
        .unwrap_or_else(|e| Err(FetchError::Unreachable(e.to_string())));
    let text = match fetched {
        Ok(t) => t,
        Err(FetchError::Unreachable(why)) => {
            return finding(
                domain,
                Verdict::Unknown,
                answer,
                format!("MTA-STS: cannot fetch the policy: {why}"),
            )
        }
        Err(FetchError::Refused(why)) => {
            return finding(
                domain,
                Verdict::Broken,
                answer,
                format!("MTA-STS: policy not fetchable: {why}"),
            )
        }
    };
    let policy = match mta_sts::parse_policy(&text) {
        Ok(p) => p,
        Err(e) => {
            return finding(
                domain,
                Verdict::Broken,
                answer,
                format!("MTA-STS: the policy does not parse: {e}"),
            )
        }
    };
    if policy.mode == Mode::None {
        return finding(
            domain,
            Verdict::Ok,
            answer,
            "MTA-STS: policy in mode none (withdrawn)".into(),
        );
    }
    let Some(hosts) = mx_hosts else {
        return finding(
            domain,
            Verdict::Unknown,
            answer,
            "MTA-STS: policy fetched, but the MX hosts are unknown, so coverage is not checked"
                .into(),
        );
    };
    let missing = mta_sts::uncovered(&policy, hosts);
    if missing.is_empty() {
        finding(
            domain,
            Verdict::Ok,
            answer,
            format!(
                "MTA-STS: mode {}, mx {} covers every MX",
                policy.mode.as_str(),
                policy.mx.join(", ")
            ),
        )
    } else {
        finding(
            domain,
            Verdict::Mismatch,
            answer,
            format!(
                "MTA-STS: the policy's mx {} does not cover MX {}{}",
                policy.mx.join(", "),
                missing.join(", "),
                if policy.mode == Mode::Enforce {
                    ": senders that enforce MTA-STS will not deliver there"
                } else {
                    " (mode testing: senders report, and still deliver)"
                }
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::dns::fake::FakeDns;
    use super::*;

    fn no_fetch(_: &str) -> Result<String, FetchError> {
        Err(FetchError::Unreachable("no network in tests".into()))
    }

    fn policy_fetch(_: &str) -> Result<String, FetchError> {
        Ok("version: STSv1\nmode: enforce\nmx: mx1.example.org\nmax_age: 86400\n".into())
    }

    fn good() -> FakeDns {
        FakeDns::default()
            .with(
                "example.org",
                QType::Mx,
                Answer::Records(vec![
                    Rec::Mx(10, "mx1.example.org".into()),
                    Rec::Mx(20, "mx2.example.org".into()),
                ]),
            )
            .a("mx1.example.org", &["192.0.2.1"])
            .a("mx2.example.org", &["192.0.2.2"])
            .txt(
                "example.org",
                &["v=spf1 mx -all", "google-site-verification=x"],
            )
            .txt(
                "_dmarc.example.org",
                &["v=DMARC1; p=reject; rua=mailto:d@example.org"],
            )
    }

    async fn results(dns: &FakeDns, fetch: PolicyFetch) -> Vec<(Verdict, String)> {
        check(dns, &["Example.org.".into()], fetch)
            .await
            .into_iter()
            .map(|f| {
                assert_eq!(f.subject, "example.org");
                (f.result, f.detail)
            })
            .collect()
    }

    #[tokio::test]
    async fn a_healthy_domain_is_ok_on_all_four_records() {
        let r = results(&good(), no_fetch).await;
        assert!(r.iter().all(|(v, _)| *v == Verdict::Ok), "{r:?}");
        assert!(r[1].1.contains("1 of 10"), "{r:?}");
        assert_eq!(r[3].1, "MTA-STS: no policy published");
    }

    #[tokio::test]
    async fn missing_records_are_missing_and_quoted_problems_broken() {
        let dns = FakeDns::default().txt("example.org", &["v=spf1 include:gone.example -all"]);
        let r = results(&dns, no_fetch).await;
        assert_eq!(r[0].0, Verdict::Missing, "{r:?}");
        assert_eq!(r[1].0, Verdict::Broken, "{r:?}");
        assert!(
            r[1].1.contains("include:gone.example has no SPF record"),
            "{r:?}"
        );
        assert_eq!(r[2].0, Verdict::Missing, "{r:?}");
        let dns = good().txt("_dmarc.example.org", &["v=DMARC1; p=block"]);
        let r = results(&dns, no_fetch).await;
        assert_eq!(r[2].0, Verdict::Broken);
        assert!(r[2].1.contains("p=block"), "{r:?}");
    }

    #[tokio::test]
    async fn an_mta_sts_policy_is_fetched_and_must_cover_every_mx() {
        let dns = good()
            .txt("_mta-sts.example.org", &["v=STSv1; id=2024;"])
            .a("mta-sts.example.org", &["192.0.2.80"]);
        let r = results(&dns, policy_fetch).await;
        assert_eq!(r[3].0, Verdict::Mismatch, "{r:?}");
        assert!(
            r[3].1.contains("does not cover MX mx2.example.org"),
            "{r:?}"
        );
        // Without a network the fetch is unknown, never broken.
        let r = results(&dns, no_fetch).await;
        assert_eq!(r[3].0, Verdict::Unknown, "{r:?}");
        // A policy host that does not exist is the domain's fault.
        let dns = good().txt("_mta-sts.example.org", &["v=STSv1; id=2024;"]);
        let r = results(&dns, no_fetch).await;
        assert_eq!(r[3].0, Verdict::Broken, "{r:?}");
        assert!(r[3].1.contains("does not resolve"), "{r:?}");
    }

    #[tokio::test]
    async fn an_mx_without_an_address_is_broken_and_a_null_mx_too() {
        let dns = FakeDns::default().with(
            "example.org",
            QType::Mx,
            Answer::Records(vec![Rec::Mx(10, "gone.example.org".into())]),
        );
        let r = results(&dns, no_fetch).await;
        assert_eq!(r[0].0, Verdict::Broken);
        assert!(
            r[0].1.contains("gone.example.org has no A or AAAA"),
            "{r:?}"
        );
        let dns = FakeDns::default().with(
            "example.org",
            QType::Mx,
            Answer::Records(vec![Rec::Mx(0, String::new())]),
        );
        let r = results(&dns, no_fetch).await;
        assert_eq!(r[0].0, Verdict::Broken);
        assert!(r[0].1.contains("null MX"), "{r:?}");
    }
}

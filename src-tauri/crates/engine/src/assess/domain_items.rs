//! Domain items from a [`DomainReading`]: `tls_cert_expiry`, `dnsbl`, `reverse_dns`
//! and `mail_dns`. Pure: the reading and the time in, item inputs out.
//!
//! - `dnsbl`, `reverse_dns`, `mail_dns` count problems found (listed, missing,
//!   mismatch, broken) against a limit of 1. Look-ups that gave no trustworthy answer
//!   count for nothing: with no problem found and one of them, the item is unknown
//!   with its reason — never 0, never a listing.
//! - `tls_cert_expiry` is time into the last stretch of the served certificate's life
//!   against that stretch: `limit` = [`tls_window_s`] (5 × `warn_days`), `used` =
//!   window − time left, so the ratio is 0.8 at `warn_days`, reaches 1 at expiry, and
//!   grows one second per second: the time-to-limit is the exact time to expiry. A
//!   served certificate that is untrusted, names another host or is not the one on
//!   disk counts as at least due for renewal (the warning point).
//!
//! Levels come from [`default_thresholds`]: one problem warns, two are critical;
//! the certificate warns at `warn_days` and is critical at `crit_days` left.

use super::ItemInput;
use crate::config::{ItemThresholds, Thresholds, TlsConfig};
use crate::domain::{DomainReading, Finding, Verdict};
use crate::item::ItemId;
use crate::time::Ts;

/// The warning ratio the TLS window is sized for (the default `warn_ratio`).
const TLS_WARN_RATIO: f64 = 0.8;
const DAY_S: f64 = 86_400.0;

/// Length of the stretch of a certificate's life the item measures, in seconds:
/// `warn_days` is its last fifth.
pub fn tls_window_s(tls: &TlsConfig) -> f64 {
    tls.warn_days * DAY_S / (1.0 - TLS_WARN_RATIO)
}

/// Default ratios of the four items (a user's `[thresholds.items.ID]` wins): counts
/// warn at the first problem and are critical at the second; the certificate warns
/// at `warn_days` and is critical at `crit_days` before expiry.
pub fn default_thresholds(tls: &TlsConfig) -> Vec<(ItemId, ItemThresholds)> {
    let window_days = tls_window_s(tls) / DAY_S;
    let count = ItemThresholds {
        warn_ratio: Some(1.0),
        crit_ratio: Some(2.0),
    };
    vec![
        (
            ItemId::TlsCertExpiry,
            ItemThresholds {
                warn_ratio: Some(1.0 - tls.warn_days / window_days),
                crit_ratio: Some(1.0 - tls.crit_days / window_days),
            },
        ),
        (ItemId::Dnsbl, count.clone()),
        (ItemId::ReverseDns, count.clone()),
        (ItemId::MailDns, count),
    ]
}

/// `t` with the domain items' defaults filled in wherever the user set no ratio.
pub fn with_defaults(t: &Thresholds, tls: &TlsConfig) -> Thresholds {
    let mut t = t.clone();
    for (id, d) in default_thresholds(tls) {
        let e = t.items.entry(id).or_default();
        e.warn_ratio = e.warn_ratio.or(d.warn_ratio);
        e.crit_ratio = e.crit_ratio.or(d.crit_ratio);
    }
    t
}

/// The item inputs of one reading at time `now` (items not checked are left out).
pub fn items(r: &DomainReading, now: Ts, tls: &TlsConfig) -> Vec<ItemInput> {
    r.checked
        .iter()
        .map(|id| match id {
            ItemId::TlsCertExpiry => tls_item(r, now, tls),
            id => count_item(*id, &r.findings),
        })
        .collect()
}

/// Seconds until the first served certificate expires (negative once expired): the
/// exact time-to-limit of `tls_cert_expiry`, for a one-shot check with no history.
pub fn tls_time_left(r: &DomainReading, now: Ts) -> Option<f64> {
    r.certs
        .iter()
        .map(|c| c.not_after - now)
        .min_by(f64::total_cmp)
}

fn of(id: ItemId, findings: &[Finding]) -> impl Iterator<Item = &Finding> {
    findings.iter().filter(move |f| f.item == id)
}

fn say(f: &Finding) -> String {
    match &f.zone {
        Some(z) => format!("{} in {z}: {}", f.subject, f.detail),
        None => format!("{}: {}", f.subject, f.detail),
    }
}

fn count_item(id: ItemId, findings: &[Finding]) -> ItemInput {
    let problems: Vec<&Finding> = of(id, findings).filter(|f| f.result.is_problem()).collect();
    let unknown: Vec<&Finding> = of(id, findings)
        .filter(|f| f.result == Verdict::Unknown)
        .collect();
    let total = of(id, findings).count();
    let mut detail = problems
        .iter()
        .map(|f| say(f))
        .collect::<Vec<_>>()
        .join("; ");
    if problems.is_empty() {
        if let Some(u) = unknown.first() {
            // No problem found, but not everything could be read: no value at all.
            let more = if unknown.len() > 1 {
                format!(
                    " (and {} more look-ups without an answer)",
                    unknown.len() - 1
                )
            } else {
                String::new()
            };
            return ItemInput {
                id,
                used: None,
                limit: Some(1.0),
                detail: format!("{}{more}", say(u)),
            };
        }
        detail = format!("{total} checked, no problem");
    } else if !unknown.is_empty() {
        detail.push_str(&format!("; {} more could not be checked", unknown.len()));
    }
    ItemInput {
        id,
        used: Some(problems.len() as f64),
        limit: Some(1.0),
        detail,
    }
}

fn tls_item(r: &DomainReading, now: Ts, tls: &TlsConfig) -> ItemInput {
    let id = ItemId::TlsCertExpiry;
    let window = tls_window_s(tls);
    let findings: Vec<&Finding> = of(id, &r.findings).collect();
    let Some(first) = r
        .certs
        .iter()
        .min_by(|a, b| a.not_after.total_cmp(&b.not_after))
    else {
        return ItemInput {
            id,
            used: None,
            limit: Some(window),
            detail: findings
                .iter()
                .map(|f| say(f))
                .collect::<Vec<_>>()
                .join("; "),
        };
    };
    let left = first.not_after - now;
    let mut used = (window - left).max(0.0);
    let problems: Vec<String> = findings
        .iter()
        .filter(|f| f.result.is_problem() && !crate::domain::tls::is_expiry(f))
        .map(|f| say(f))
        .collect();
    let mut detail = match findings
        .iter()
        .find(|f| f.subject == first.target && f.answer.is_some())
    {
        Some(f) => format!("{}: {}", first.target, f.detail),
        None => first.target.clone(),
    };
    if !problems.is_empty() {
        // Untrusted, wrong name, or not the certificate on disk: at least the
        // warning point, whatever the days left say.
        used = used.max(window - tls.warn_days * DAY_S);
        detail.push_str(&format!("; {}", problems.join("; ")));
    }
    let unread: Vec<String> = findings
        .iter()
        .filter(|f| f.result == Verdict::Unknown)
        .map(|f| say(f))
        .collect();
    if !unread.is_empty() {
        detail.push_str(&format!("; not read: {}", unread.join("; ")));
    }
    ItemInput {
        id,
        used: Some(used),
        limit: Some(window),
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assess::levels::{Level, LevelRules, Reading};
    use crate::domain::ServedCert;

    const NOW: Ts = 1_800_000_000.0;

    fn f(item: ItemId, subject: &str, result: Verdict, detail: &str) -> Finding {
        Finding::sample(item, subject, result, detail)
    }

    fn reading(findings: Vec<Finding>, certs: Vec<ServedCert>) -> DomainReading {
        let mut checked: Vec<ItemId> = findings.iter().map(|f| f.item).collect();
        checked.dedup();
        DomainReading {
            ts: NOW,
            findings,
            certs,
            checked,
            queries: 0,
            notes: Vec::new(),
        }
    }

    /// The level an input gets with the default thresholds (no history).
    fn level(i: &ItemInput, tls: &TlsConfig) -> Level {
        let (_, t) = default_thresholds(tls)
            .into_iter()
            .find(|(id, _)| *id == i.id)
            .expect("a default for every domain item");
        let rules = LevelRules {
            warn_ratio: t.warn_ratio.expect("warn"),
            crit_ratio: t.crit_ratio.expect("crit"),
            horizon_s: 1800.0,
            hysteresis: 0.05,
            min_dwell_s: 60.0,
        };
        let ratio = match (i.used, i.limit) {
            (Some(u), Some(l)) => Some(u / l),
            _ => None,
        };
        rules.raw(Reading {
            ratio,
            forecast_s: None,
        })
    }

    #[test]
    fn one_problem_warns_two_are_critical_and_unknowns_are_no_value() {
        let tls = TlsConfig::default();
        let ok = reading(
            vec![f(ItemId::Dnsbl, "192.0.2.7", Verdict::Ok, "not listed")],
            vec![],
        );
        let i = &items(&ok, NOW, &tls)[0];
        assert_eq!((i.used, i.limit), (Some(0.0), Some(1.0)));
        assert_eq!(level(i, &tls), Level::Ok);

        let listed = reading(
            vec![
                f(
                    ItemId::Dnsbl,
                    "192.0.2.7",
                    Verdict::Listed,
                    "listed (127.0.0.2)",
                ),
                f(ItemId::Dnsbl, "192.0.2.8", Verdict::Unknown, "refused"),
            ],
            vec![],
        );
        let i = &items(&listed, NOW, &tls)[0];
        assert_eq!(i.used, Some(1.0));
        assert_eq!(level(i, &tls), Level::Warning);
        assert!(
            i.detail
                .starts_with("192.0.2.7 in zen.spamhaus.org: listed"),
            "{}",
            i.detail
        );
        assert!(
            i.detail.contains("1 more could not be checked"),
            "{}",
            i.detail
        );

        let refused = reading(
            vec![
                f(
                    ItemId::Dnsbl,
                    "192.0.2.7",
                    Verdict::Unknown,
                    "the list refuses queries from this resolver",
                ),
                f(ItemId::Dnsbl, "192.0.2.8", Verdict::Ok, "not listed"),
            ],
            vec![],
        );
        let i = &items(&refused, NOW, &tls)[0];
        assert_eq!(i.used, None, "an unknown answer is never a count of 0");
        assert_eq!(level(i, &tls), Level::Unknown);
        assert!(i.detail.contains("refuses queries"), "{}", i.detail);

        let two = reading(
            vec![
                f(
                    ItemId::MailDns,
                    "example.org",
                    Verdict::Missing,
                    "SPF: none",
                ),
                f(
                    ItemId::MailDns,
                    "example.org",
                    Verdict::Broken,
                    "DMARC: p=block",
                ),
            ],
            vec![],
        );
        let i = &items(&two, NOW, &tls)[0];
        assert_eq!(level(i, &tls), Level::Critical);
    }

    fn cert(days_left: f64) -> ServedCert {
        ServedCert {
            target: "mx (127.0.0.1:25)".into(),
            not_before: NOW - 60.0 * DAY_S,
            not_after: NOW + days_left * DAY_S,
        }
    }

    #[test]
    fn certificate_levels_follow_warn_days_and_crit_days() {
        let tls = TlsConfig::default();
        for (days, want) in [
            (60.0, Level::Ok),
            (14.5, Level::Ok),
            (13.9, Level::Warning),
            (3.1, Level::Warning),
            (2.0, Level::Critical),
            (-1.0, Level::Critical),
        ] {
            let r = reading(
                vec![f(
                    ItemId::TlsCertExpiry,
                    "mx (127.0.0.1:25)",
                    Verdict::Ok,
                    "expires",
                )],
                vec![cert(days)],
            );
            let i = &items(&r, NOW, &tls)[0];
            assert_eq!(level(i, &tls), want, "{days} days left: {i:?}");
        }
        let strict = TlsConfig {
            warn_days: 30.0,
            crit_days: 7.0,
        };
        let r = reading(vec![], vec![cert(20.0)]);
        let mut r = r;
        r.checked = vec![ItemId::TlsCertExpiry];
        assert_eq!(level(&items(&r, NOW, &strict)[0], &strict), Level::Warning);
        assert_eq!(level(&items(&r, NOW, &tls)[0], &tls), Level::Ok);
    }

    #[test]
    fn the_certificate_reaches_its_limit_exactly_at_expiry() {
        let tls = TlsConfig::default();
        let mut r = reading(vec![], vec![cert(10.0)]);
        r.checked = vec![ItemId::TlsCertExpiry];
        let i = &items(&r, NOW, &tls)[0];
        let (u, l) = (i.used.expect("used"), i.limit.expect("limit"));
        assert!((l - u - 10.0 * DAY_S).abs() < 1e-6, "{u} {l}");
        // One second later the certificate has one second less.
        let j = &items(&r, NOW + 1.0, &tls)[0];
        assert!((j.used.expect("used") - u - 1.0).abs() < 1e-6);
        assert_eq!(tls_time_left(&r, NOW), Some(10.0 * DAY_S));
    }

    #[test]
    fn a_certificate_problem_warns_even_far_from_expiry() {
        let tls = TlsConfig::default();
        let r = reading(
            vec![
                f(ItemId::TlsCertExpiry, "mx (127.0.0.1:25)", Verdict::Ok, "expires in 80 days"),
                f(
                    ItemId::TlsCertExpiry,
                    "mx (127.0.0.1:25)",
                    Verdict::Mismatch,
                    "the served certificate is not the one on disk: renewed on disk, reload the mail server",
                ),
            ],
            vec![cert(80.0)],
        );
        let i = &items(&r, NOW, &tls)[0];
        assert_eq!(level(i, &tls), Level::Warning);
        assert!(i.detail.contains("reload the mail server"), "{}", i.detail);
    }

    #[test]
    fn a_users_own_ratio_wins_over_the_default() {
        let tls = TlsConfig::default();
        let mut t = Thresholds::default();
        t.items.insert(
            ItemId::Dnsbl,
            ItemThresholds {
                warn_ratio: None,
                crit_ratio: Some(1.0),
            },
        );
        let t = with_defaults(&t, &tls);
        assert_eq!(t.for_item(ItemId::Dnsbl), (1.0, 1.0));
        assert_eq!(t.for_item(ItemId::MailDns), (1.0, 2.0));
        assert_eq!(t.for_item(ItemId::Cpu), (0.8, 0.95));
    }

    #[test]
    fn no_certificate_read_is_unknown_with_why() {
        let tls = TlsConfig::default();
        let r = reading(
            vec![f(
                ItemId::TlsCertExpiry,
                "mx (127.0.0.1:25)",
                Verdict::Unknown,
                "cannot connect: refused",
            )],
            vec![],
        );
        let i = &items(&r, NOW, &tls)[0];
        assert_eq!(i.used, None);
        assert!(i.detail.contains("cannot connect"));
    }
}

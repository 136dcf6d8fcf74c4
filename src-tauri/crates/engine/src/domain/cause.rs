//! Deferrals tied to their causes: the one rule that says which domain item a
//! remote reply points at (Gmail's `451 4.7.23` at `reverse_dns`, "blocked using
//! zen.spamhaus.org" at `dnsbl`, an SPF or DMARC failure at `mail_dns`), and the
//! sentence that puts the reply beside what that item found ("gmail.com: 42
//! deferrals (451 4.7.23) — your PTR for 203.0.113.7 is missing").
//!
//! The mail-log aggregator counts failures per linked item ([`Linked`]); the
//! destinations panel and the `remote_throttling` item turn those counts into
//! [`Cause`]s with the latest [`DomainReading`]. Both ask [`item_for`], so the panel
//! and the item can never tie a reply to different things.

use serde::{Deserialize, Serialize};

use super::{DomainReading, Finding, Verdict};
use crate::classify::Reason;
use crate::item::ItemId;

/// The items a reply can point at, in the order the aggregator counts them.
pub const LINKED_ITEMS: [ItemId; 3] = [ItemId::ReverseDns, ItemId::Dnsbl, ItemId::MailDns];

/// The domain item a remote reply points at, from its reason (docs/CLASSIFY.md) and
/// enhanced code: reverse DNS → `reverse_dns`; a blocklist or the sender's reputation
/// → `dnsbl` (a listing is the first thing a reputation deferral is checked for), and
/// so is Gmail's 4.7.28, a rate limit whose text speaks of "unsolicited mail" from our
/// address; SPF, DKIM or DMARC → `mail_dns`. Anything else points at no domain item.
pub fn item_for(reason: Option<Reason>, enhanced: Option<&str>) -> Option<ItemId> {
    match reason? {
        Reason::ReverseDns => Some(ItemId::ReverseDns),
        Reason::Blocklist | Reason::Reputation => Some(ItemId::Dnsbl),
        Reason::Authentication => Some(ItemId::MailDns),
        Reason::Volume if enhanced == Some("4.7.28") => Some(ItemId::Dnsbl),
        Reason::Volume | Reason::Tls | Reason::Policy | Reason::Busy => None,
    }
}

/// Index of `item` in [`LINKED_ITEMS`].
pub fn slot(item: ItemId) -> Option<usize> {
    LINKED_ITEMS.iter().position(|i| *i == item)
}

/// Failures of one destination whose replies point at one domain item, as the mail
/// log counted them: no judgement yet (that needs the domain reading).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Linked {
    pub item: ItemId,
    /// Failures within the window whose reply points at `item`.
    pub failures: u32,
    /// The latest such reply's codes: `451 4.7.23`.
    pub reply: String,
    /// Whether that reply was a permanent rejection (5xx) rather than a deferral.
    pub permanent: bool,
}

/// A destination's failures tied to a domain item and to what that item found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct Cause {
    /// The domain item the replies point at.
    pub item: ItemId,
    /// Failures within the window whose reply points at it.
    pub failures: u32,
    /// The latest such reply's codes: `451 4.7.23`.
    pub reply: String,
    /// Those failures in words: "42 deferrals (451 4.7.23)" ("rejections" for 5xx).
    pub replies: String,
    /// What the item found: the worst finding's result (a problem, else `unknown`,
    /// else `ok`), or null when the item is not checked here.
    pub verdict: Option<Verdict>,
    /// What the item found, in one sentence: "your PTR for 203.0.113.7 is missing".
    pub found: String,
    /// The whole link for a line of text: "gmail.com: 42 deferrals (451 4.7.23) point
    /// at reverse_dns — your PTR for 203.0.113.7 is missing".
    pub message: String,
}

impl Cause {
    /// `linked` of `destination` judged against the latest domain round (`None`: the
    /// domain checks do not run here).
    pub fn of(destination: &str, linked: &Linked, domain: Option<&DomainReading>) -> Cause {
        let (verdict, found) = found(linked.item, domain);
        let what = if linked.permanent {
            "rejections"
        } else {
            "deferrals"
        };
        let replies = format!("{} {what} ({})", linked.failures, linked.reply);
        let message = format!(
            "{destination}: {replies} point at {} — {found}",
            linked.item
        );
        Cause {
            item: linked.item,
            failures: linked.failures,
            reply: linked.reply.clone(),
            replies,
            verdict,
            found,
            message,
        }
    }
}

/// What `item` found in the latest round, worst first: the problems, else why it
/// could not tell, else that it found nothing wrong.
fn found(item: ItemId, domain: Option<&DomainReading>) -> (Option<Verdict>, String) {
    let Some(d) = domain.filter(|d| d.checked.contains(&item)) else {
        return (
            None,
            format!(
                "{item} is not checked here: set [dns] watch = true, or run `headroom-cli dns`"
            ),
        );
    };
    let of: Vec<&Finding> = d.findings.iter().filter(|f| f.item == item).collect();
    let problems: Vec<&Finding> = of
        .iter()
        .copied()
        .filter(|f| f.result.is_problem())
        .collect();
    if let Some(first) = problems.first() {
        let mut s = problems
            .iter()
            .take(2)
            .map(|f| say(f))
            .collect::<Vec<_>>()
            .join("; ");
        if problems.len() > 2 {
            s.push_str(&format!(" (and {} more)", problems.len() - 2));
        }
        return (Some(first.result), s);
    }
    if let Some(u) = of.iter().find(|f| f.result == Verdict::Unknown) {
        return (
            Some(Verdict::Unknown),
            format!("{item} could not tell: {}", say(u)),
        );
    }
    let mut subjects: Vec<&str> = of.iter().map(|f| f.subject.as_str()).collect();
    subjects.dedup();
    (
        Some(Verdict::Ok),
        format!(
            "{item} finds no problem now ({}): the deferrals may predate a fix, or the receiver judges more than DNS",
            subjects.join(", ")
        ),
    )
}

/// One finding as the sentence a deferral's reader wants.
fn say(f: &Finding) -> String {
    match (f.item, f.result) {
        (ItemId::ReverseDns, Verdict::Missing) => {
            format!("your PTR for {} is missing", f.subject)
        }
        (ItemId::ReverseDns, Verdict::Mismatch) => {
            format!("your PTR for {} does not match: {}", f.subject, f.detail)
        }
        (ItemId::Dnsbl, Verdict::Listed) => format!(
            "{} is listed in {}: {}",
            f.subject,
            f.zone.as_deref().unwrap_or("a blocklist"),
            f.detail
        ),
        (_, _) => match &f.zone {
            Some(z) => format!("{} in {z}: {}", f.subject, f.detail),
            None => format!("{}: {}", f.subject, f.detail),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(item: ItemId, subject: &str, result: Verdict, detail: &str) -> Finding {
        Finding::sample(item, subject, result, detail)
    }

    fn reading(findings: Vec<Finding>) -> DomainReading {
        DomainReading {
            checked: vec![ItemId::Dnsbl, ItemId::ReverseDns, ItemId::MailDns],
            findings,
            ..DomainReading::default()
        }
    }

    fn linked(item: ItemId) -> Linked {
        Linked {
            item,
            failures: 42,
            reply: "451 4.7.23".into(),
            permanent: false,
        }
    }

    #[test]
    fn each_reason_points_at_one_item_or_none() {
        assert_eq!(
            item_for(Some(Reason::ReverseDns), Some("4.7.23")),
            Some(ItemId::ReverseDns)
        );
        assert_eq!(item_for(Some(Reason::Blocklist), None), Some(ItemId::Dnsbl));
        assert_eq!(
            item_for(Some(Reason::Reputation), Some("4.7.0")),
            Some(ItemId::Dnsbl)
        );
        assert_eq!(
            item_for(Some(Reason::Authentication), Some("4.7.26")),
            Some(ItemId::MailDns)
        );
        assert_eq!(
            item_for(Some(Reason::Volume), Some("4.7.28")),
            Some(ItemId::Dnsbl)
        );
        assert_eq!(item_for(Some(Reason::Volume), Some("4.2.1")), None);
        assert_eq!(item_for(Some(Reason::Busy), Some("4.3.0")), None);
        assert_eq!(item_for(None, Some("4.7.23")), None);
        for item in LINKED_ITEMS {
            assert!(slot(item).is_some());
        }
    }

    #[test]
    fn a_missing_ptr_is_named_with_the_address() {
        let r = reading(vec![
            finding(
                ItemId::ReverseDns,
                "203.0.113.7",
                Verdict::Missing,
                "no PTR record",
            ),
            finding(ItemId::ReverseDns, "2001:db8::7", Verdict::Ok, "confirmed"),
        ]);
        let c = Cause::of("gmail.com", &linked(ItemId::ReverseDns), Some(&r));
        assert_eq!(c.verdict, Some(Verdict::Missing));
        assert_eq!(c.found, "your PTR for 203.0.113.7 is missing");
        assert_eq!(
            c.message,
            "gmail.com: 42 deferrals (451 4.7.23) point at reverse_dns — your PTR for 203.0.113.7 is missing"
        );
    }

    #[test]
    fn a_listing_names_the_zone_and_a_clean_item_says_it_found_nothing() {
        let r = reading(vec![
            finding(
                ItemId::Dnsbl,
                "203.0.113.7",
                Verdict::Listed,
                "listed (127.0.0.2)",
            ),
            finding(ItemId::MailDns, "example.org", Verdict::Ok, "SPF ok"),
            finding(ItemId::MailDns, "example.org", Verdict::Ok, "DMARC ok"),
        ]);
        let c = Cause::of("yahoo.com", &linked(ItemId::Dnsbl), Some(&r));
        assert_eq!(c.verdict, Some(Verdict::Listed));
        assert_eq!(
            c.found,
            "203.0.113.7 is listed in zen.spamhaus.org: listed (127.0.0.2)"
        );
        let c = Cause::of("gmail.com", &linked(ItemId::MailDns), Some(&r));
        assert_eq!(c.verdict, Some(Verdict::Ok));
        assert!(
            c.found
                .starts_with("mail_dns finds no problem now (example.org)"),
            "{}",
            c.found
        );
    }

    #[test]
    fn an_unanswered_or_unchecked_item_never_reads_as_the_cause() {
        let r = reading(vec![finding(
            ItemId::Dnsbl,
            "203.0.113.7",
            Verdict::Unknown,
            "the list refuses queries from this resolver (127.255.255.254)",
        )]);
        let c = Cause::of("gmail.com", &linked(ItemId::Dnsbl), Some(&r));
        assert_eq!(c.verdict, Some(Verdict::Unknown));
        assert!(c.found.contains("127.255.255.254"), "{}", c.found);
        let c = Cause::of("gmail.com", &linked(ItemId::Dnsbl), None);
        assert_eq!(c.verdict, None);
        assert!(c.found.contains("[dns] watch = true"), "{}", c.found);
        let only_tls = DomainReading {
            checked: vec![ItemId::TlsCertExpiry],
            ..DomainReading::default()
        };
        let c = Cause::of("gmail.com", &linked(ItemId::ReverseDns), Some(&only_tls));
        assert_eq!(c.verdict, None);
    }

    #[test]
    fn rejections_are_not_called_deferrals() {
        let mut l = linked(ItemId::ReverseDns);
        l.permanent = true;
        l.reply = "550 5.7.25".into();
        let c = Cause::of("gmail.com", &l, None);
        assert!(
            c.message
                .starts_with("gmail.com: 42 rejections (550 5.7.25)"),
            "{}",
            c.message
        );
    }
}

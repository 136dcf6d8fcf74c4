//! The mail-log item: remote_throttling, the share of delivery attempts to the worst
//! destination that it throttled in the recent window — with the domain item its
//! replies point at, when they name a cause (a missing PTR, a listing, SPF/DMARC).

use super::ItemInput;
use crate::domain::cause::Cause;
use crate::domain::DomainReading;
use crate::item::ItemId;
use crate::maillog::ThrottlingReading;

/// used = throttled attempts, limit = all attempts of the worst destination, so the
/// ratio is the share of its attempts being throttled. With no attempts in the window
/// there is nothing to measure: used 0, limit unknown. `domain`: the latest round of
/// the domain checks, which the causes are judged against.
pub fn item(r: &ThrottlingReading, domain: Option<&DomainReading>) -> ItemInput {
    let mins = r.window_s / 60.0;
    let detail = match &r.destination {
        Some(d) if r.throttled > 0 => format!(
            "{d}: {} of {} delivery attempts throttled in the last {mins:.0} min (rate_limit {}, connection_limit {}){}{}",
            r.throttled,
            r.attempts,
            r.rate_limit,
            r.connection_limit,
            r.causes
                .iter()
                .map(|l| format!("; {}", Cause::of(d, l, domain).message))
                .collect::<String>(),
            r.example
                .as_deref()
                .map(|e| format!("; e.g. {e}"))
                .unwrap_or_default()
        ),
        _ if r.attempts > 0 => format!(
            "no destination throttles us: {} delivery attempts in the last {mins:.0} min",
            r.attempts
        ),
        _ => format!("no outbound delivery attempts in the last {mins:.0} min"),
    };
    ItemInput {
        id: ItemId::RemoteThrottling,
        used: Some(f64::from(r.throttled)),
        limit: (r.attempts > 0).then_some(f64::from(r.attempts)),
        detail,
    }
}

//! Probe items: `probe_latency` (the slowest target's latest dialogue against the
//! latency budget) and `probe_failures` (the most failed probes in a row of any target,
//! against [`FAILURE_LIMIT`]). No probes in the snapshot (none configured, `--no-probe`,
//! none finished yet) means no probe items.

use super::ItemInput;
use crate::classify::Class;
use crate::config::Thresholds;
use crate::item::ItemId;
use crate::probe::{Outcome, ProbeStatus, FAILURE_LIMIT};
use crate::snapshot::Snapshot;

pub fn items(snap: &Snapshot, t: &Thresholds) -> Vec<ItemInput> {
    if snap.probes.is_empty() {
        return Vec::new();
    }
    vec![
        latency(&snap.probes, t.probe_latency_budget_ms),
        failures(&snap.probes),
    ]
}

/// A timed-out probe counts with the time it waited: the server is at least that slow.
/// Probes that ended without a dialogue to time (refused, DNS, TLS) do not count.
fn latency(probes: &[ProbeStatus], budget_ms: f64) -> ItemInput {
    let slowest = probes
        .iter()
        .filter(|p| matches!(p.latest.outcome, Outcome::Ok | Outcome::Timeout))
        .max_by(|a, b| a.latest.total_ms.total_cmp(&b.latest.total_ms));
    match slowest {
        Some(p) => {
            let r = &p.latest;
            let mut detail = format!("{} ({})", p.name, r.target);
            if let Some((phase, ms)) = r.timings_ms.iter().max_by(|a, b| a.1.total_cmp(&b.1)) {
                detail.push_str(&format!("; slowest phase {phase} {ms:.1} ms"));
            }
            if r.outcome == Outcome::Timeout {
                detail.push_str(&format!("; timed out in {}", r.phase));
            }
            ItemInput {
                id: ItemId::ProbeLatency,
                used: Some(r.total_ms),
                limit: Some(budget_ms),
                detail,
            }
        }
        None => ItemInput {
            id: ItemId::ProbeLatency,
            used: None,
            limit: Some(budget_ms),
            detail: format!(
                "no dialogue to time: {}",
                probes
                    .iter()
                    .map(|p| format!("{} {} at {}", p.name, p.latest.outcome, p.latest.phase))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        },
    }
}

/// Failures in a row, except that a server which answers with a capacity refusal (the
/// 421 family: busy, short of storage, too many connections) is counted at the limit at
/// once: that is the failure Headroom exists to foresee, happening now, not a blip.
fn failures(probes: &[ProbeStatus]) -> ItemInput {
    let counted = |p: &ProbeStatus| {
        if refuses_for_capacity(p) {
            FAILURE_LIMIT.max(p.consecutive_failures)
        } else {
            p.consecutive_failures
        }
    };
    let worst = probes.iter().max_by_key(|p| counted(p));
    let detail = match worst {
        Some(p) if refuses_for_capacity(p) => format!(
            "{} ({}) refuses mail for lack of capacity now: {}",
            p.name,
            p.latest.target,
            p.latest.summary()
        ),
        Some(p) if p.consecutive_failures > 0 => {
            format!("{} ({}): {}", p.name, p.latest.target, p.latest.summary())
        }
        _ => format!("{} target(s) answering", probes.len()),
    };
    ItemInput {
        id: ItemId::ProbeFailures,
        used: Some(worst.map_or(0, counted) as f64),
        limit: Some(f64::from(FAILURE_LIMIT)),
        detail,
    }
}

/// The latest probe got a temporary refusal that says the server is out of capacity.
fn refuses_for_capacity(p: &ProbeStatus) -> bool {
    p.consecutive_failures > 0
        && p.latest.outcome == Outcome::Tempfail
        && (matches!(
            p.latest.class,
            Class::ResourceShortage | Class::ConnectionLimit
        ) || p.latest.reply.as_ref().is_some_and(|r| r.code == 421))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::Reply;
    use crate::probe::{Phase, ProbeResult, Timings};

    fn status(name: &str, outcome: Outcome, total_ms: f64, fails: u32) -> ProbeStatus {
        let mut t = Timings::default();
        t.add(Phase::Connect, 0.1);
        t.add(Phase::Banner, total_ms - 0.1);
        ProbeStatus {
            name: name.into(),
            latest: ProbeResult {
                target: "127.0.0.1:25".into(),
                outcome,
                phase: Phase::Banner,
                reply: None,
                class: Class::Ok,
                timings_ms: t,
                total_ms,
                name: name.into(),
                ts: 1.0,
                detail: None,
            },
            consecutive_failures: fails,
            last_ok_ts: None,
        }
    }

    fn snap(probes: Vec<ProbeStatus>) -> Snapshot {
        Snapshot {
            ts: 1.0,
            probes,
            ..Default::default()
        }
    }

    #[test]
    fn no_probes_no_items() {
        assert!(items(&snap(vec![]), &Thresholds::default()).is_empty());
    }

    #[test]
    fn latency_is_the_slowest_answering_target_against_the_budget() {
        let s = snap(vec![
            status("a", Outcome::Ok, 12.0, 0),
            status("b", Outcome::Ok, 40.0, 0),
            status("c", Outcome::Refused, 0.2, 1),
        ]);
        let it = items(&s, &Thresholds::default());
        assert_eq!(it[0].id, "probe_latency");
        assert_eq!((it[0].used, it[0].limit), (Some(40.0), Some(5000.0)));
        assert!(it[0]
            .detail
            .starts_with("b (127.0.0.1:25); slowest phase banner"));
    }

    #[test]
    fn a_timeout_counts_with_the_time_it_waited() {
        let it = items(
            &snap(vec![status("a", Outcome::Timeout, 10_000.0, 1)]),
            &Thresholds::default(),
        );
        assert_eq!(it[0].used, Some(10_000.0));
        assert!(it[0].detail.contains("timed out in banner"));
    }

    #[test]
    fn nothing_to_time_is_unknown_with_the_reason() {
        let it = items(
            &snap(vec![status("a", Outcome::Refused, 0.2, 2)]),
            &Thresholds::default(),
        );
        assert_eq!(it[0].used, None);
        assert!(
            it[0].detail.contains("a refused at banner"),
            "{}",
            it[0].detail
        );
    }

    #[test]
    fn a_421_for_lack_of_capacity_is_at_the_limit_at_once() {
        let mut busy = status("mx", Outcome::Tempfail, 3.0, 1);
        busy.latest.class = Class::ResourceShortage;
        busy.latest.reply = Some(Reply {
            code: 421,
            enhanced: Some("4.3.2".into()),
            text: "System not accepting network messages".into(),
        });
        let s = snap(vec![status("a", Outcome::Ok, 3.0, 0), busy]);
        let it = items(&s, &Thresholds::default());
        assert_eq!((it[1].used, it[1].limit), (Some(3.0), Some(3.0)));
        assert!(it[1].detail.contains("refuses mail for lack of capacity"));
        // Greylisting is a 4xx too, but not a capacity failure: counted as one.
        let mut grey = status("g", Outcome::Tempfail, 3.0, 1);
        grey.latest.class = Class::Greylisting;
        grey.latest.reply = Some(Reply {
            code: 450,
            enhanced: Some("4.2.0".into()),
            text: "Greylisted".into(),
        });
        let it = items(&snap(vec![grey]), &Thresholds::default());
        assert_eq!(it[1].used, Some(1.0));
    }

    #[test]
    fn failures_are_the_longest_streak_against_the_limit() {
        let it = items(
            &snap(vec![
                status("a", Outcome::Ok, 3.0, 0),
                status("b", Outcome::Tempfail, 3.0, 2),
            ]),
            &Thresholds::default(),
        );
        assert_eq!(it[1].id, "probe_failures");
        assert_eq!((it[1].used, it[1].limit), (Some(2.0), Some(3.0)));
        assert!(it[1].detail.starts_with("b (127.0.0.1:25)"));
    }
}

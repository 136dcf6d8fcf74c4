//! What the monitor keeps of probes between ticks: each target's latest result and how
//! many of its probes failed in a row. This is what the snapshot carries and what the
//! `probe_latency` and `probe_failures` items are computed from.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ProbeResult;

/// Consecutive failures at which `probe_failures` reaches its limit (critical): one
/// failed probe can be a blip, three in a row are not.
pub const FAILURE_LIMIT: u32 = 3;

/// One target as of its latest probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeStatus {
    pub name: String,
    pub latest: ProbeResult,
    /// Failed probes in a row, the latest included (0 when the latest succeeded).
    pub consecutive_failures: u32,
    /// Unix time of the latest successful probe, if any.
    pub last_ok_ts: Option<f64>,
}

/// Latest status per target, keyed by target name. Bounded by the number of targets.
#[derive(Debug, Clone, Default)]
pub struct ProbeBook {
    by_name: BTreeMap<String, ProbeStatus>,
}

impl ProbeBook {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a result and returns the target's new status.
    pub fn record(&mut self, r: ProbeResult) -> &ProbeStatus {
        let name = r.name.clone();
        let prev = self.by_name.remove(&name);
        let failed = r.is_failure();
        let status = ProbeStatus {
            name: name.clone(),
            consecutive_failures: match (&prev, failed) {
                (_, false) => 0,
                (Some(p), true) => p.consecutive_failures.saturating_add(1),
                (None, true) => 1,
            },
            last_ok_ts: if failed {
                prev.and_then(|p| p.last_ok_ts)
            } else {
                Some(r.ts)
            },
            latest: r,
        };
        self.by_name.entry(name).or_insert(status)
    }

    /// Forgets targets that are no longer configured.
    pub fn retain(&mut self, names: &[&str]) {
        self.by_name.retain(|n, _| names.contains(&n.as_str()));
    }

    /// All targets, by name.
    pub fn statuses(&self) -> Vec<ProbeStatus> {
        self.by_name.values().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Outcome, Phase, Timings};
    use super::*;
    use crate::classify::Class;

    fn result(name: &str, outcome: Outcome, ts: f64) -> ProbeResult {
        ProbeResult {
            target: "127.0.0.1:25".into(),
            outcome,
            phase: Phase::Quit,
            reply: None,
            class: Class::Ok,
            timings_ms: Timings::default(),
            total_ms: 1.0,
            name: name.into(),
            ts,
            detail: None,
        }
    }

    #[test]
    fn failures_count_in_a_row_and_a_success_resets_them() {
        let mut b = ProbeBook::new();
        assert_eq!(
            b.record(result("a", Outcome::Ok, 1.0)).consecutive_failures,
            0
        );
        assert_eq!(
            b.record(result("a", Outcome::Timeout, 2.0))
                .consecutive_failures,
            1
        );
        assert_eq!(
            b.record(result("b", Outcome::Refused, 2.0))
                .consecutive_failures,
            1
        );
        let s = b.record(result("a", Outcome::Tempfail, 3.0));
        assert_eq!((s.consecutive_failures, s.last_ok_ts), (2, Some(1.0)));
        assert_eq!(
            b.record(result("a", Outcome::Ok, 4.0)).consecutive_failures,
            0
        );
        b.retain(&["a"]);
        assert_eq!(b.statuses().len(), 1);
    }
}

//! Levels and hysteresis: separate enter and leave points plus a minimum dwell, so an
//! item hovering around a threshold does not flap between levels.

use serde::{Deserialize, Serialize};

/// How close an item is to its limit. The derived order is "how bad": the overall
/// level is the maximum, and `unknown` (we could not read it) outranks `watch` and
/// `ok` but never hides a real warning.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ts_rs::TS,
)]
#[ts(export)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    Watch,
    Unknown,
    Warning,
    Critical,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Watch => "watch",
            Level::Unknown => "unknown",
            Level::Warning => "warning",
            Level::Critical => "critical",
        }
    }

    /// Nagios plugin exit code.
    pub fn exit_code(self) -> i32 {
        match self {
            Level::Ok | Level::Watch => 0,
            Level::Warning => 1,
            Level::Critical => 2,
            Level::Unknown => 3,
        }
    }

    /// Severity among real readings (unknown is not on this scale).
    fn rank(self) -> u8 {
        match self {
            Level::Ok | Level::Unknown => 0,
            Level::Watch => 1,
            Level::Warning => 2,
            Level::Critical => 3,
        }
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one reading says, before hysteresis.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    pub ratio: Option<f64>,
    pub forecast_s: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LevelRules {
    pub warn_ratio: f64,
    pub crit_ratio: f64,
    pub horizon_s: f64,
    pub hysteresis: f64,
    pub min_dwell_s: f64,
}

impl LevelRules {
    /// The level a reading earns with no memory of the past.
    pub fn raw(&self, r: Reading) -> Level {
        let Some(ratio) = r.ratio else {
            return Level::Unknown;
        };
        if ratio >= self.crit_ratio {
            Level::Critical
        } else if ratio >= self.warn_ratio {
            Level::Warning
        } else if r.forecast_s.is_some_and(|f| f <= self.horizon_s) {
            Level::Watch
        } else {
            Level::Ok
        }
    }

    /// The highest level this reading may *keep* (not enter): leave points sit
    /// `hysteresis` below the enter points, and a watch is kept while the forecast stays
    /// within 1.5× the horizon.
    fn holdable(&self, r: Reading) -> Level {
        let Some(ratio) = r.ratio else {
            return Level::Unknown;
        };
        if ratio >= self.crit_ratio - self.hysteresis {
            Level::Critical
        } else if ratio >= self.warn_ratio - self.hysteresis {
            Level::Warning
        } else if r.forecast_s.is_some_and(|f| f <= self.horizon_s * 1.5) {
            Level::Watch
        } else {
            Level::Ok
        }
    }
}

/// The level of one item over time.
#[derive(Debug, Clone, PartialEq)]
pub struct LevelTracker {
    pub level: Level,
    /// When the current level was entered.
    pub since: f64,
    /// Since when the readings have allowed a lower level (dwell timer).
    lower_since: Option<f64>,
}

impl LevelTracker {
    pub fn new(level: Level, ts: f64) -> Self {
        LevelTracker {
            level,
            since: ts,
            lower_since: None,
        }
    }

    /// Feeds one reading; returns the previous level when the level changed.
    ///
    /// Rising is immediate: an early warning that waits is no longer early. Falling
    /// needs the reading below the leave point for `min_dwell_s`. Readings that become
    /// unreadable, or readable again, change the level at once: "unknown" is a fact
    /// about the source, not a level to dwell in.
    pub fn update(&mut self, rules: &LevelRules, r: Reading, ts: f64) -> Option<Level> {
        let raw = rules.raw(r);
        let prev = self.level;
        if raw == Level::Unknown || prev == Level::Unknown || raw.rank() > prev.rank() {
            if raw == prev {
                return None;
            }
            *self = LevelTracker::new(raw, ts);
            return Some(prev);
        }
        let target = std::cmp::max_by_key(raw, rules.holdable(r).min(prev), |l| l.rank());
        if target.rank() >= prev.rank() {
            self.lower_since = None;
            return None;
        }
        let since = *self.lower_since.get_or_insert(ts);
        // A clock that jumped backwards restarts the dwell instead of cutting it short.
        if ts < since {
            self.lower_since = Some(ts);
            return None;
        }
        if ts - since >= rules.min_dwell_s {
            *self = LevelTracker::new(target, ts);
            return Some(prev);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: LevelRules = LevelRules {
        warn_ratio: 0.8,
        crit_ratio: 0.95,
        horizon_s: 1800.0,
        hysteresis: 0.05,
        min_dwell_s: 60.0,
    };

    fn at(ratio: f64) -> Reading {
        Reading {
            ratio: Some(ratio),
            forecast_s: None,
        }
    }

    #[test]
    fn rising_is_immediate() {
        let mut t = LevelTracker::new(Level::Ok, 0.0);
        assert_eq!(t.update(&RULES, at(0.81), 5.0), Some(Level::Ok));
        assert_eq!(t.level, Level::Warning);
        assert_eq!(t.update(&RULES, at(0.96), 10.0), Some(Level::Warning));
        assert_eq!(t.level, Level::Critical);
    }

    #[test]
    fn hovering_around_the_enter_point_does_not_flap() {
        let mut t = LevelTracker::new(Level::Ok, 0.0);
        let mut changes = 0;
        for i in 0..200 {
            let r = if i % 2 == 0 { 0.81 } else { 0.78 };
            if t.update(&RULES, at(r), i as f64 * 5.0).is_some() {
                changes += 1;
            }
        }
        assert_eq!(changes, 1, "only the first rise");
        assert_eq!(t.level, Level::Warning);
    }

    #[test]
    fn falling_needs_the_leave_point_for_the_whole_dwell() {
        let mut t = LevelTracker::new(Level::Warning, 0.0);
        // Below the leave point (0.75) for 55 s, then back above it: dwell restarts.
        for s in (5..60).step_by(5) {
            assert_eq!(t.update(&RULES, at(0.5), s as f64), None);
        }
        assert_eq!(t.update(&RULES, at(0.77), 60.0), None);
        for s in (65..125).step_by(5) {
            assert_eq!(t.update(&RULES, at(0.5), s as f64), None, "at {s}");
        }
        assert_eq!(t.update(&RULES, at(0.5), 125.0), Some(Level::Warning));
        assert_eq!(t.level, Level::Ok);
    }

    #[test]
    fn critical_falls_to_warning_not_straight_to_ok_when_still_high() {
        let mut t = LevelTracker::new(Level::Critical, 0.0);
        for s in (5..=70).step_by(5) {
            t.update(&RULES, at(0.85), s as f64);
        }
        assert_eq!(t.level, Level::Warning);
    }

    #[test]
    fn watch_comes_from_the_forecast() {
        let mut t = LevelTracker::new(Level::Ok, 0.0);
        let r = Reading {
            ratio: Some(0.5),
            forecast_s: Some(600.0),
        };
        assert_eq!(t.update(&RULES, r, 5.0), Some(Level::Ok));
        assert_eq!(t.level, Level::Watch);
    }

    #[test]
    fn unreadable_is_unknown_at_once_and_back_at_once() {
        let mut t = LevelTracker::new(Level::Warning, 0.0);
        let none = Reading {
            ratio: None,
            forecast_s: None,
        };
        assert_eq!(t.update(&RULES, none, 5.0), Some(Level::Warning));
        assert_eq!(t.level, Level::Unknown);
        assert_eq!(t.update(&RULES, at(0.1), 10.0), Some(Level::Unknown));
        assert_eq!(t.level, Level::Ok);
    }

    #[test]
    fn zero_warn_ratio_keeps_warning_forever() {
        let rules = LevelRules {
            warn_ratio: 0.0,
            crit_ratio: 2.0,
            ..RULES
        };
        let mut t = LevelTracker::new(Level::Ok, 0.0);
        assert!(t.update(&rules, at(0.0), 1.0).is_some());
        for s in 2..500 {
            assert_eq!(t.update(&rules, at((s % 7) as f64 / 10.0), s as f64), None);
        }
    }

    #[test]
    fn overall_order_puts_unknown_between_watch_and_warning() {
        let mut v = vec![
            Level::Critical,
            Level::Ok,
            Level::Unknown,
            Level::Warning,
            Level::Watch,
        ];
        v.sort();
        assert_eq!(
            v,
            [
                Level::Ok,
                Level::Watch,
                Level::Unknown,
                Level::Warning,
                Level::Critical
            ]
        );
    }
}

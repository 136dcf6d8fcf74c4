//! A bounded, column-wise window of recent samples: one timestamp column and one
//! column per metric. A missing reading is a gap (`None` outside), never zero, and the
//! window is pruned by age and by count so it never grows for the life of the process.
//!
//! Inside, a gap is stored as NaN: an hour at 1 s of some 25 series is 90,000 values,
//! and an `f64` is half the size of an `Option<f64>` (0.7 MiB less for the resident
//! `watch` and agent). A reading that is itself NaN is a gap too, as it is nowhere else
//! a number (JSON has no NaN).

use std::collections::{BTreeMap, VecDeque};

use crate::tick::SampleBatch;
use crate::time::Ts;

#[derive(Debug, Clone)]
pub struct Recent {
    max_age_s: f64,
    capacity: usize,
    ts: VecDeque<Ts>,
    /// NaN where there is no reading (see the module's header).
    series: BTreeMap<String, VecDeque<f64>>,
}

impl Recent {
    pub fn new(max_age_s: f64, capacity: usize) -> Self {
        Recent {
            max_age_s,
            capacity: capacity.max(1),
            ts: VecDeque::new(),
            series: BTreeMap::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.ts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }

    /// Appends one sample. Series not named in `values` get a gap at this time; a
    /// series seen for the first time gets gaps for the times before it existed.
    pub fn push(&mut self, ts: Ts, values: &BTreeMap<String, Option<f64>>) {
        // Time went backwards (clock set back): the old window no longer lines up.
        if self.ts.back().is_some_and(|last| ts < *last) {
            self.ts.clear();
            self.series.clear();
        }
        let n = self.ts.len();
        for name in values.keys() {
            if !self.series.contains_key(name) {
                self.series
                    .insert(name.clone(), std::iter::repeat_n(f64::NAN, n).collect());
            }
        }
        self.ts.push_back(ts);
        for (name, col) in self.series.iter_mut() {
            col.push_back(values.get(name).copied().flatten().unwrap_or(f64::NAN));
        }
        while self.ts.len() > self.capacity
            || self.ts.front().is_some_and(|t0| ts - t0 > self.max_age_s)
        {
            self.ts.pop_front();
            for col in self.series.values_mut() {
                col.pop_front();
            }
        }
        // Drop series that are nothing but gaps (a device that went away).
        self.series.retain(|_, col| col.iter().any(|v| !v.is_nan()));
    }

    /// The whole window as one batch.
    pub fn batch(&self) -> SampleBatch {
        SampleBatch {
            ts: self.ts.iter().copied().collect(),
            series: self
                .series
                .iter()
                .map(|(k, v)| (k.clone(), v.iter().map(|x| reading(*x)).collect()))
                .collect(),
        }
    }

    /// (ts, value) points of one series, gaps skipped.
    pub fn points(&self, name: &str) -> Vec<(Ts, f64)> {
        match self.series.get(name) {
            Some(col) => self
                .ts
                .iter()
                .zip(col.iter())
                .filter_map(|(t, v)| reading(*v).map(|v| (*t, v)))
                .collect(),
            None => Vec::new(),
        }
    }
}

/// A stored value as a reading: NaN is a gap.
fn reading(v: f64) -> Option<f64> {
    (!v.is_nan()).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vals(pairs: &[(&str, Option<f64>)]) -> BTreeMap<String, Option<f64>> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn bounded_by_count() {
        let mut r = Recent::new(1e9, 10);
        for i in 0..1000 {
            r.push(i as f64, &vals(&[("cpu", Some(i as f64))]));
        }
        assert_eq!(r.len(), 10);
        let b = r.batch();
        assert_eq!(b.ts.first(), Some(&990.0));
        assert_eq!(b.series["cpu"].len(), 10);
    }

    #[test]
    fn bounded_by_age() {
        let mut r = Recent::new(60.0, 10_000);
        for i in 0..600 {
            r.push(i as f64, &vals(&[("cpu", Some(1.0))]));
        }
        let b = r.batch();
        assert_eq!(b.ts.len(), 61);
        assert_eq!(b.ts[0], 539.0);
    }

    #[test]
    fn a_missing_reading_is_a_gap_not_a_zero() {
        let mut r = Recent::new(1e9, 100);
        r.push(1.0, &vals(&[("cpu", Some(10.0)), ("load1", Some(0.5))]));
        r.push(2.0, &vals(&[("cpu", None), ("load1", Some(0.6))]));
        r.push(3.0, &vals(&[("load1", Some(0.7))]));
        let b = r.batch();
        assert_eq!(b.series["cpu"], [Some(10.0), None, None]);
        assert_eq!(r.points("cpu"), [(1.0, 10.0)]);
    }

    #[test]
    fn a_nan_reading_is_a_gap_and_a_series_of_gaps_is_dropped() {
        let mut r = Recent::new(1e9, 100);
        r.push(1.0, &vals(&[("a", Some(1.0)), ("nan", Some(f64::NAN))]));
        r.push(2.0, &vals(&[("a", Some(f64::NAN))]));
        assert_eq!(r.batch().series["a"], [Some(1.0), None]);
        assert!(!r.batch().series.contains_key("nan"));
        assert_eq!(r.points("a"), [(1.0, 1.0)]);
    }

    #[test]
    fn late_series_are_backfilled_with_gaps_and_empty_ones_dropped() {
        let mut r = Recent::new(1e9, 3);
        r.push(1.0, &vals(&[("a", Some(1.0))]));
        r.push(2.0, &vals(&[("a", Some(1.0)), ("b", Some(2.0))]));
        assert_eq!(r.batch().series["b"], [None, Some(2.0)]);
        r.push(3.0, &vals(&[("a", Some(1.0))]));
        r.push(4.0, &vals(&[("a", Some(1.0))]));
        r.push(5.0, &vals(&[("a", Some(1.0))]));
        assert!(!r.batch().series.contains_key("b"), "b has aged out");
    }

    #[test]
    fn clock_set_back_restarts_the_window() {
        let mut r = Recent::new(1e9, 100);
        r.push(100.0, &vals(&[("a", Some(1.0))]));
        r.push(50.0, &vals(&[("a", Some(2.0))]));
        assert_eq!(r.batch().ts, [50.0]);
    }
}

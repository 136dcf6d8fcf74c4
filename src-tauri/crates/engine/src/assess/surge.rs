//! A surge: use that leaves the range it kept for minutes and keeps climbing.
//!
//! The trend over the whole forecast window ([`super::forecast::time_to_limit`]) is
//! slow to turn: after ten minutes of flat load, twenty seconds of a steep rise move the
//! median of the pairwise slopes hardly at all, and a server that goes from light load
//! to its limit in under a minute is only seen at the warning ratio. Here the recent
//! past is judged on its own, in windows of 10 s, 20 s, 30 s, 1 min and 2 min, each
//! against the minutes before it (its baseline). A window counts when:
//!
//! - it rises beyond chance: the tie-corrected Mann–Kendall test (one-sided 97.5%),
//!   which whole counts need (Sen's interval, used by the long trend, stays pinned at
//!   zero by their ties); its slope is Theil–Sen's;
//! - the level it has reached lies above *everything* its baseline held, by a tenth of
//!   the limit: churn that swings between 3 and 6 sessions for minutes cannot do that
//!   without a new kind of load arriving, whatever shape its noise has;
//! - it is more than one jump: a batch of sessions that arrives at once and stays is a
//!   step, and a step is not extrapolated;
//! - the baseline covers at least a minute, so a series that just started (a restart,
//!   a load test's first seconds) has no range to leave yet.
//!
//! The answer is the earliest time to the limit among the windows that count, so the
//! shortest window that sees a surge speaks first and a slower climb is still seen by
//! the longer ones. The argument for this design is in docs/FORECAST.md.

use super::forecast::{median, theil_sen_slope};

/// Recent windows, shortest first (seconds).
const WINDOWS_S: [f64; 5] = [10.0, 20.0, 30.0, 60.0, 120.0];
/// The least span of the baseline before a window (seconds).
const MIN_BASELINE_S: f64 = 60.0;
/// How far above the baseline's highest reading the level must be, as a share of the
/// limit.
const MARGIN: f64 = 0.1;
/// The least number of readings in a window, and the share of it they must span.
const MIN_POINTS: usize = 5;
const MIN_COVER: f64 = 0.7;
/// Windows are thinned to this many points (the pairwise estimator is O(n²)).
const MAX_POINTS: usize = 60;
/// One-sided 97.5% for the Mann–Kendall test: a rise this unlikely from noise.
const Z_RISING: f64 = 1.96;
/// What must remain of the rise without its largest jump: above zero, it still leans up.
const Z_WITHOUT_JUMP: f64 = 0.0;

/// Seconds until `limit` if the recent readings surge past their baseline, else `None`.
///
/// `points` are (unix seconds, value), oldest first, one unbroken series.
pub fn time_to_limit(points: &[(f64, f64)], limit: f64) -> Option<f64> {
    if !limit.is_finite() || limit <= 0.0 {
        return None;
    }
    WINDOWS_S
        .iter()
        .filter_map(|w| in_window(points, *w, limit))
        .min_by(|a, b| a.total_cmp(b))
}

fn in_window(points: &[(f64, f64)], window_s: f64, limit: f64) -> Option<f64> {
    let &(tn, _) = points.last()?;
    let split = points.partition_point(|p| p.0 < tn - window_s);
    let (baseline, recent) = points.split_at(split);
    let (&(b0, _), &(b1, _)) = (baseline.first()?, baseline.last()?);
    if b1 - b0 < MIN_BASELINE_S
        || recent.len() < MIN_POINTS
        || tn - recent[0].0 < MIN_COVER * window_s
    {
        return None;
    }
    let step = recent.len().div_ceil(MAX_POINTS);
    let mut pts: Vec<(f64, f64)> = recent.iter().rev().step_by(step).copied().collect();
    pts.reverse();
    let slope = theil_sen_slope(&pts)?;
    if slope <= 0.0 || mann_kendall_z(&pts) < Z_RISING || !rises_without_its_largest_jump(&pts) {
        return None;
    }
    let mut projected: Vec<f64> = pts.iter().map(|(t, v)| v + slope * (tn - t)).collect();
    let now_level = median(&mut projected)?;
    let ceiling = baseline
        .iter()
        .map(|p| p.1)
        .fold(f64::NEG_INFINITY, f64::max);
    if now_level < ceiling + MARGIN * limit {
        return None;
    }
    Some(((limit - now_level) / slope).max(0.0))
}

/// Whether the rise is more than one jump: with the largest move between two readings
/// taken out, the rest still leans up. A load that arrives at once and stays (a batch
/// of sessions opened together) is a step, and a step is not extrapolated.
fn rises_without_its_largest_jump(pts: &[(f64, f64)]) -> bool {
    let Some((k, jump)) = pts
        .windows(2)
        .enumerate()
        .map(|(i, w)| (i + 1, w[1].1 - w[0].1))
        .max_by(|a, b| a.1.total_cmp(&b.1))
    else {
        return false;
    };
    let flattened: Vec<(f64, f64)> = pts
        .iter()
        .enumerate()
        .map(|(i, &(t, v))| (t, if i >= k { v - jump } else { v }))
        .collect();
    mann_kendall_z(&flattened) > Z_WITHOUT_JUMP
}

/// The Mann–Kendall trend statistic as a normal score, with the variance corrected for
/// ties (Kendall 1975). Counts of sessions are whole numbers: most pairs in a short
/// window are ties, which leave Sen's interval pinned at a zero slope even on a clear
/// staircase; the tie-corrected test weighs only the pairs that moved.
fn mann_kendall_z(pts: &[(f64, f64)]) -> f64 {
    let n = pts.len();
    let mut s = 0i64;
    for i in 0..n {
        for j in i + 1..n {
            s += match pts[j].1.total_cmp(&pts[i].1) {
                std::cmp::Ordering::Greater => 1,
                std::cmp::Ordering::Less => -1,
                std::cmp::Ordering::Equal => 0,
            };
        }
    }
    let mut values: Vec<f64> = pts.iter().map(|p| p.1).collect();
    values.sort_by(|a, b| a.total_cmp(b));
    let ties: f64 = values
        .chunk_by(|a, b| a == b)
        .map(|g| {
            let t = g.len() as f64;
            t * (t - 1.0) * (2.0 * t + 5.0)
        })
        .sum();
    let nf = n as f64;
    let var = (nf * (nf - 1.0) * (2.0 * nf + 5.0) - ties) / 18.0;
    if var <= 0.0 || s <= 0 {
        return 0.0;
    }
    (s as f64 - 1.0) / var.sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic uniform numbers in [0, 1) (a linear congruential generator).
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> f64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    /// Sessions of a light load, read once a second: `workers` clients that each hold a
    /// session for 1–5 s and pause 0–3 s, so between none and all of them are in.
    fn churn(seed: u64, workers: usize, secs: usize) -> Vec<f64> {
        let mut rng = Lcg(seed.wrapping_mul(2862933555777941757).wrapping_add(3));
        // Per worker: (in a session?, seconds left in this state).
        let mut w: Vec<(bool, f64)> = (0..workers).map(|_| (false, rng.next() * 3.0)).collect();
        (0..secs)
            .map(|_| {
                for (busy, left) in w.iter_mut() {
                    *left -= 1.0;
                    while *left <= 0.0 {
                        *busy = !*busy;
                        *left += if *busy {
                            1.0 + 4.0 * rng.next()
                        } else {
                            3.0 * rng.next()
                        };
                    }
                }
                w.iter().filter(|(b, _)| *b).count() as f64
            })
            .collect()
    }

    fn timed(values: &[f64]) -> Vec<(f64, f64)> {
        values
            .iter()
            .enumerate()
            .map(|(i, v)| (1000.0 + i as f64, *v))
            .collect()
    }

    #[test]
    fn light_churn_for_minutes_is_never_a_surge() {
        // 40 seeds of 6 churning clients for 10 minutes against a limit of 20, judged
        // at every second once a minute of baseline exists.
        let mut hits = Vec::new();
        for seed in 0..40 {
            let s = timed(&churn(seed, 6, 600));
            for n in 60..s.len() {
                let from = n.saturating_sub(900);
                if let Some(f) = time_to_limit(&s[from..=n], 20.0) {
                    hits.push((seed, n, f));
                    break;
                }
            }
        }
        assert!(hits.is_empty(), "surges in churn: {hits:?}");
    }

    #[test]
    fn a_surge_after_light_churn_is_seen_before_half_of_it() {
        // Three minutes of churn, then one more held session every 1.5 s while the churn
        // goes on; the limit (20) is full after about 23 s.
        for seed in 0..50 {
            let light = churn(seed, 6, 180 + 40);
            let values: Vec<f64> = light
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    v + if i < 180 {
                        0.0
                    } else {
                        ((i - 180) as f64 / 1.5).floor()
                    }
                })
                .collect();
            let full = values.iter().position(|v| *v >= 20.0).expect("full");
            let s = timed(&values);
            let seen = (180..full).find(|n| time_to_limit(&s[..=*n], 20.0).is_some());
            let seen = seen.unwrap_or_else(|| panic!("seed {seed}: not seen before {full}"));
            let surge = (full - 180) as f64;
            // Seen with more than half of the surge still to come, with room to spare
            // for a tick of latency.
            assert!(
                (seen - 180) as f64 <= 0.45 * surge,
                "seed {seed}: seen {} s into a {surge} s surge",
                seen - 180
            );
        }
    }

    #[test]
    fn a_step_beyond_the_range_with_no_climb_is_not_a_surge() {
        // Flat at 4 for two minutes, then 12 from one reading to the next, and flat.
        let values: Vec<f64> = (0..200).map(|i| if i < 120 { 4.0 } else { 12.0 }).collect();
        let s = timed(&values);
        for n in 121..s.len() {
            assert_eq!(time_to_limit(&s[..=n], 20.0), None, "at {n}");
        }
    }

    #[test]
    fn a_climb_within_the_old_range_is_left_to_the_long_trend() {
        // Swings between 2 and 12 for two minutes, then a climb from 2 to 9.
        let mut values: Vec<f64> = (0..120)
            .map(|i| if i % 20 < 10 { 2.0 } else { 12.0 })
            .collect();
        values.extend((0..15).map(|i| 2.0 + i as f64 * 0.5));
        assert_eq!(time_to_limit(&timed(&values), 20.0), None);
    }

    #[test]
    fn no_baseline_no_surge() {
        // A steep climb from the first reading: nothing to leave yet.
        let values: Vec<f64> = (0..50).map(|i| i as f64 * 0.4).collect();
        assert_eq!(time_to_limit(&timed(&values), 20.0), None);
    }

    #[test]
    fn the_forecast_is_the_time_left_at_the_surge_rate() {
        // Flat at 3 for two minutes, then +0.5 per second: at 10 s in the level is 8,
        // 12 to go at 0.5/s.
        let values: Vec<f64> = (0..131)
            .map(|i| {
                if i < 120 {
                    3.0
                } else {
                    3.0 + 0.5 * (i - 120) as f64
                }
            })
            .collect();
        let f = time_to_limit(&timed(&values), 20.0).expect("a surge");
        assert!((f - 24.0).abs() < 2.0, "{f}");
    }
}

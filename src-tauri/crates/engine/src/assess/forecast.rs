//! Time until a series reaches its limit, from a trend that resists noise and outliers.
//!
//! The slope is the Theil–Sen estimator (median of pairwise slopes): up to 29% of the
//! points can be wild without moving it, unlike a least-squares fit. The current level
//! is the median of the recent residual-corrected points, so one spike does not make
//! the item look closer to its limit than it is.
//!
//! A forecast is only made for a rise that is real: the lower end of Sen's confidence
//! interval for the slope (from the same pairwise slopes, the Kendall-tau rank bound)
//! must be above zero. Noise around a flat line, a one-off step (most pairs lie on one
//! plateau or the other, so most slopes are zero) and a sawtooth of churn all fail that
//! test; a ramp, even a staircase of whole counts sampled faster than it climbs, passes.

/// Forecast for one item: seconds until `limit` at the current trend, if it rises.
///
/// `points` are (unix seconds, value), oldest first, all from one unbroken series (the
/// caller resets the series on clock jumps). Needs at least `MIN_POINTS` points spread
/// over `MIN_SPAN_S` seconds; returns `None` for flat or falling series.
pub fn time_to_limit(points: &[(f64, f64)], limit: f64) -> Option<f64> {
    const MIN_POINTS: usize = 5;
    const MIN_SPAN_S: f64 = 20.0;
    const MAX_POINTS: usize = 60;
    if points.len() < MIN_POINTS || !limit.is_finite() {
        return None;
    }
    // Thin long series evenly: the pairwise estimator is O(n²).
    let step = points.len().div_ceil(MAX_POINTS);
    let mut pts: Vec<(f64, f64)> = points.iter().rev().step_by(step).copied().collect();
    pts.reverse();
    let (t0, tn) = (pts[0].0, pts[pts.len() - 1].0);
    if tn - t0 < MIN_SPAN_S || pts.len() < 3 {
        return None;
    }
    let (slope, lower) = theil_sen_with_lower_bound(&pts)?;
    if lower <= 0.0 {
        return None;
    }
    // Current level: median of points projected to the newest time along the trend.
    let projected: Vec<f64> = pts.iter().map(|(t, v)| v + slope * (tn - t)).collect();
    let now_level = median(&mut projected.clone())?;
    if now_level >= limit {
        return Some(0.0);
    }
    // A rise smaller than 1% of the limit over the window is noise, not a trend; so is
    // one smaller than the spread of the points around the trend line (their
    // 10–90% range): noise that happens to lean one way for a while.
    let rise_over_window = slope * (tn - t0);
    let mut residuals: Vec<f64> = projected.iter().map(|p| p - now_level).collect();
    residuals.sort_by(|a, b| a.total_cmp(b));
    let q = |f: f64| residuals[((residuals.len() - 1) as f64 * f).round() as usize];
    let spread = q(0.9) - q(0.1);
    if slope <= 0.0 || rise_over_window < limit.abs() * 0.01 || rise_over_window <= spread {
        return None;
    }
    Some((limit - now_level) / slope)
}

pub fn theil_sen_slope(pts: &[(f64, f64)]) -> Option<f64> {
    theil_sen_with_lower_bound(pts).map(|(s, _)| s)
}

/// The Theil–Sen slope and the lower end of its two-sided 95% confidence interval
/// (Sen 1968: the pairwise slope of rank (N − z·σ)/2, σ² = n(n−1)(2n+5)/18, z = 1.96).
pub fn theil_sen_with_lower_bound(pts: &[(f64, f64)]) -> Option<(f64, f64)> {
    let mut slopes = Vec::with_capacity(pts.len() * pts.len().saturating_sub(1) / 2);
    for i in 0..pts.len() {
        for j in i + 1..pts.len() {
            let dt = pts[j].0 - pts[i].0;
            if dt > 0.0 {
                slopes.push((pts[j].1 - pts[i].1) / dt);
            }
        }
    }
    let slope = median(&mut slopes)?;
    let n = pts.len() as f64;
    let sigma = (n * (n - 1.0) * (2.0 * n + 5.0) / 18.0).sqrt();
    let rank = ((slopes.len() as f64 - 1.96 * sigma) / 2.0).floor();
    // Too few pairs to bound the slope: no trend can be told from noise.
    let lower = if rank >= 0.0 {
        slopes[rank as usize]
    } else {
        f64::NEG_INFINITY
    };
    Some((slope, lower))
}

pub fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(f: impl Fn(usize) -> f64, n: usize, dt: f64) -> Vec<(f64, f64)> {
        (0..n).map(|i| (1000.0 + i as f64 * dt, f(i))).collect()
    }

    #[test]
    fn steady_ramp_reaches_the_limit_when_expected() {
        // +1 per 5 s from 50: at t_end value 79, limit 100 → 21 * 5 = 105 s.
        let s = series(|i| 50.0 + i as f64, 30, 5.0);
        let f = time_to_limit(&s, 100.0).expect("rising");
        assert!((f - 105.0).abs() < 1e-6, "{f}");
    }

    #[test]
    fn flat_noisy_series_has_no_forecast() {
        let noise = [0.0, 3.0, -2.0, 1.0, -3.0, 2.0, -1.0, 0.5];
        let s = series(|i| 50.0 + noise[i % noise.len()], 40, 5.0);
        assert_eq!(time_to_limit(&s, 100.0), None);
    }

    #[test]
    fn outliers_do_not_bend_the_trend() {
        let mut s = series(|i| 20.0 + 0.5 * i as f64, 40, 5.0);
        s[10].1 = 99.0;
        s[25].1 = 0.0;
        s[33].1 = 98.0;
        let f = time_to_limit(&s, 100.0).expect("rising");
        // Clean answer: (100 - 39.5) / 0.1 = 605 s.
        assert!((f - 605.0).abs() < 30.0, "{f}");
    }

    #[test]
    fn a_single_step_is_not_a_ramp() {
        // 30 points at 10 then 10 points at 40: a step, not a trend toward 100.
        let s = series(|i| if i < 30 { 10.0 } else { 40.0 }, 40, 5.0);
        assert_eq!(time_to_limit(&s, 100.0), None);
    }

    #[test]
    fn falling_series_and_short_series_have_none() {
        assert_eq!(
            time_to_limit(&series(|i| 90.0 - i as f64, 30, 5.0), 100.0),
            None
        );
        assert_eq!(time_to_limit(&series(|i| i as f64, 4, 5.0), 100.0), None);
        assert_eq!(
            time_to_limit(&series(|i| i as f64, 10, 1.0), 100.0),
            None,
            "9 s span"
        );
    }

    /// Deterministic noise in [-1, 1) (a linear congruential generator).
    fn noise(seed: u64) -> impl FnMut() -> f64 {
        let mut x = seed;
        move || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((x >> 33) as f64 / (1u64 << 31) as f64) * 2.0 - 1.0
        }
    }

    #[test]
    fn a_noisy_ramp_is_still_forecast_close_to_the_truth() {
        // +0.2 per s with ±5 of noise, sampled each second for 2 minutes; limit 100.
        let mut n = noise(7);
        let s: Vec<(f64, f64)> = (0..120)
            .map(|i| (i as f64, 20.0 + 0.2 * i as f64 + 5.0 * n()))
            .collect();
        let f = time_to_limit(&s, 100.0).expect("rising through the noise");
        // Clean answer: (100 - 43.8) / 0.2 = 281 s.
        assert!((f - 281.0).abs() < 60.0, "{f}");
    }

    #[test]
    fn noise_around_a_flat_line_never_forecasts() {
        // A thousand series of ±8 noise around 50: none may lean far enough to count.
        let leaning: Vec<u64> = (0..1000)
            .filter(|seed| {
                let mut n = noise(*seed);
                let s: Vec<(f64, f64)> = (0..90).map(|i| (i as f64, 50.0 + 8.0 * n())).collect();
                time_to_limit(&s, 100.0).is_some()
            })
            .collect();
        assert!(leaning.is_empty(), "forecasts for seeds {leaning:?}");
    }

    #[test]
    fn a_staircase_of_whole_counts_is_a_ramp() {
        // One more connection every 3 s, sampled every 0.5 s for 20 s (after the
        // first few stairs most pairs of samples still span a step).
        let s: Vec<(f64, f64)> = (0..41)
            .map(|i| (i as f64 * 0.5, (i as f64 * 0.5 / 3.0).floor()))
            .collect();
        let f = time_to_limit(&s, 20.0).expect("a ramp");
        assert!((40.0..=60.0).contains(&f), "{f}");
    }

    #[test]
    fn a_step_at_the_start_of_the_window_is_not_a_ramp() {
        // Load arrives at once (0 → 10 processes) and stays: whatever part of the window
        // the step falls in, the rise is not extrapolated.
        for before in 1..15 {
            let s: Vec<(f64, f64)> = (0..40)
                .map(|i| (i as f64, if i < before { 0.0 } else { 10.0 }))
                .collect();
            assert_eq!(time_to_limit(&s, 20.0), None, "step after {before} s");
        }
    }

    #[test]
    fn churn_between_two_levels_is_not_a_ramp() {
        // Sessions come and go: 9, 10, 11, 12 processes in a sawtooth.
        let s: Vec<(f64, f64)> = (0..180).map(|i| (i as f64, 9.0 + (i % 4) as f64)).collect();
        assert_eq!(time_to_limit(&s, 20.0), None);
    }

    #[test]
    fn already_at_the_limit_is_zero() {
        let s = series(|i| 100.0 + i as f64, 10, 5.0);
        assert_eq!(time_to_limit(&s, 100.0), Some(0.0));
    }
}

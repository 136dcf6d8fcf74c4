//! Time until a series reaches its limit, from a trend that resists noise and outliers.
//!
//! The slope is the Theil–Sen estimator (median of pairwise slopes): up to 29% of the
//! points can be wild without moving it, unlike a least-squares fit. The current level
//! is the median of the recent residual-corrected points, so one spike does not make
//! the item look closer to its limit than it is.

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
    let slope = theil_sen_slope(&pts)?;
    // Current level: median of points projected to the newest time along the trend.
    let mut projected: Vec<f64> = pts.iter().map(|(t, v)| v + slope * (tn - t)).collect();
    let now_level = median(&mut projected)?;
    if now_level >= limit {
        return Some(0.0);
    }
    // A rise smaller than 1% of the limit over the window is noise, not a trend.
    let rise_over_window = slope * (tn - t0);
    if slope <= 0.0 || rise_over_window < limit.abs() * 0.01 {
        return None;
    }
    Some((limit - now_level) / slope)
}

pub fn theil_sen_slope(pts: &[(f64, f64)]) -> Option<f64> {
    let mut slopes = Vec::with_capacity(pts.len() * (pts.len() - 1) / 2);
    for i in 0..pts.len() {
        for j in i + 1..pts.len() {
            let dt = pts[j].0 - pts[i].0;
            if dt > 0.0 {
                slopes.push((pts[j].1 - pts[i].1) / dt);
            }
        }
    }
    median(&mut slopes)
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

    #[test]
    fn already_at_the_limit_is_zero() {
        let s = series(|i| 100.0 + i as f64, 10, 5.0);
        assert_eq!(time_to_limit(&s, 100.0), Some(0.0));
    }
}

//! Roll-ups and retention. A 1-minute roll-up is written once its minute is complete
//! (a tick of a later minute arrived), from the raw samples; a 1-hour roll-up once its
//! hour is complete, from the minute roll-ups. Progress is kept in `meta` within the
//! same transaction, so a crash never rolls a period up twice or skips one. Periods
//! with no values (only gaps) get no row: a gap stays a gap.

use rusqlite::{params, OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};

use super::{Context, HistoryError, Retention};
use crate::time::Ts;

pub(super) const MINUTE: i64 = 60;
pub(super) const HOUR: i64 = 3600;

/// One period of one metric.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Rollup {
    /// Unix time of the period's start.
    pub start: i64,
    pub min: f64,
    pub max: f64,
    pub avg: f64,
    /// Samples with a value (gaps are not counted).
    pub count: i64,
}

/// Periods before these starts are rolled up.
#[derive(Debug, Clone, Copy)]
pub(super) struct Progress {
    pub minute_done: i64,
    pub hour_done: i64,
}

/// The start of the period of length `len` that holds `ts` (times are positive).
pub(super) fn period_start(ts: Ts, len: i64) -> i64 {
    (ts.floor() as i64).div_euclid(len) * len
}

pub(super) fn load_progress(tx: &rusqlite::Connection) -> Result<Option<Progress>, HistoryError> {
    let get = |key: &str| -> Result<Option<f64>, HistoryError> {
        tx.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .ctx(|| "reading roll-up progress".into())
    };
    Ok(match (get("minute_done")?, get("hour_done")?) {
        (Some(m), Some(h)) => Some(Progress {
            minute_done: m as i64,
            hour_done: h as i64,
        }),
        _ => None,
    })
}

/// Rolls up every period completed by `now` and not rolled up yet.
pub(super) fn roll_up(
    tx: &Transaction<'_>,
    progress: &mut Option<Progress>,
    now: Ts,
) -> Result<(), HistoryError> {
    let ctx = || "cannot roll up the history".to_string();
    if progress.is_none() {
        *progress = load_progress(tx)?;
    }
    let minute_now = period_start(now, MINUTE);
    let hour_now = period_start(now, HOUR);
    let mut p = match *progress {
        Some(p) => p,
        None => {
            // A fresh file (or one from before roll-ups): start at the oldest sample.
            let oldest: Option<f64> = tx
                .query_row("SELECT min(ts) FROM sample", [], |r| r.get(0))
                .ctx(ctx)?;
            let from = oldest.map_or(minute_now, |t| period_start(t, MINUTE));
            Progress {
                minute_done: from.min(minute_now),
                hour_done: period_start(from as f64, HOUR).min(hour_now),
            }
        }
    };
    // The clock was set back: periods from here on are recomputed (INSERT OR REPLACE)
    // from whatever raw samples they hold.
    p.minute_done = p.minute_done.min(minute_now);
    p.hour_done = p.hour_done.min(hour_now);
    if p.minute_done < minute_now {
        tx.prepare_cached(
            "INSERT OR REPLACE INTO minute (start, metric, min, max, sum, count)
             SELECT (CAST(ts AS INTEGER) / 60) * 60 AS b, metric,
                    min(value), max(value), sum(value), count(value)
             FROM sample WHERE ts >= ?1 AND ts < ?2 AND value IS NOT NULL
             GROUP BY b, metric",
        )
        .and_then(|mut s| s.execute(params![p.minute_done, minute_now]))
        .ctx(ctx)?;
        p.minute_done = minute_now;
    }
    if p.hour_done < hour_now {
        tx.prepare_cached(
            "INSERT OR REPLACE INTO hour (start, metric, min, max, sum, count)
             SELECT (start / 3600) * 3600 AS b, metric, min(min), max(max), sum(sum), sum(count)
             FROM minute WHERE start >= ?1 AND start < ?2
             GROUP BY b, metric",
        )
        .and_then(|mut s| s.execute(params![p.hour_done, hour_now]))
        .ctx(ctx)?;
        p.hour_done = hour_now;
    }
    let changed =
        progress.is_none_or(|old| old.minute_done != p.minute_done || old.hour_done != p.hour_done);
    if changed {
        let mut set = tx
            .prepare_cached("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)")
            .ctx(ctx)?;
        set.execute(params!["minute_done", p.minute_done as f64])
            .ctx(ctx)?;
        set.execute(params!["hour_done", p.hour_done as f64])
            .ctx(ctx)?;
    }
    *progress = Some(p);
    Ok(())
}

/// Deletes what is older than its retention. Raw samples go only after their minutes
/// were rolled up (raw retention is at least an hour, roll-ups trail by a minute).
/// The alert log is kept as long as hour roll-ups, probe results as long as minute
/// roll-ups.
pub(super) fn prune(tx: &Transaction<'_>, r: &Retention, now: Ts) -> Result<(), HistoryError> {
    let ctx = || "cannot prune the history".to_string();
    for (sql, keep) in [
        ("DELETE FROM sample WHERE ts < ?1", r.raw_s),
        ("DELETE FROM minute WHERE start < ?1", r.minute_s),
        ("DELETE FROM hour WHERE start < ?1", r.hour_s),
        ("DELETE FROM alert WHERE ts < ?1", r.hour_s),
        ("DELETE FROM probe WHERE ts < ?1", r.minute_s),
    ] {
        tx.prepare_cached(sql)
            .and_then(|mut s| s.execute([now - keep]))
            .ctx(ctx)?;
    }
    Ok(())
}

//! Reading the history back: chart ranges at a resolution that suits the span, the
//! alert log, the probe log, and CSV export.
//!
//! Long (~490 lines): one query path per resolution (raw, minute, hour) and the CSV
//! writer share the row-to-series step, kept together so they cannot drift apart.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;

use rusqlite::{params, OptionalExtension};
use serde::de::{DeserializeOwned, IntoDeserializer};
use serde::{Deserialize, Serialize};

use super::rollup::{load_progress, period_start, Rollup, HOUR, MINUTE};
use super::{AlertKind, AlertRecord, Context, HistoryError, Store};
use crate::classify::Reply;
use crate::probe::{ProbeResult, Timings};
use crate::tick::SampleBatch;
use crate::time::Ts;

/// Which table a range is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// One point per tick.
    Raw,
    /// One point per minute: the average of its samples.
    Minute,
    /// One point per hour: the average of its samples.
    Hour,
}

impl Resolution {
    /// Raw up to 1 h, minutes up to 7 d, hours beyond: at most ~10,000 points a series.
    pub fn for_span(span_s: f64) -> Resolution {
        if span_s <= 3600.0 {
            Resolution::Raw
        } else if span_s <= 7.0 * 86400.0 {
            Resolution::Minute
        } else {
            Resolution::Hour
        }
    }

    fn period(self) -> Option<i64> {
        match self {
            Resolution::Raw => None,
            Resolution::Minute => Some(MINUTE),
            Resolution::Hour => Some(HOUR),
        }
    }
}

/// Per requested series: its name and, when the history knows it, its id.
type Wanted = Vec<(String, Option<i64>)>;

impl Store {
    /// Samples of `names` between `start` and `end` (inclusive), at
    /// [`Resolution::for_span`]. Roll-up resolutions give one point per period on a
    /// regular grid, `None` where a period has no value; the period still in progress
    /// is averaged from what is there so far. With no names, every metric that has a
    /// value in the range.
    pub fn range(&self, start: Ts, end: Ts, names: &[&str]) -> Result<SampleBatch, HistoryError> {
        self.range_at(Resolution::for_span(end - start), start, end, names)
    }

    pub fn range_at(
        &self,
        resolution: Resolution,
        start: Ts,
        end: Ts,
        names: &[&str],
    ) -> Result<SampleBatch, HistoryError> {
        let wanted = self.wanted(names)?;
        let mut batch = match resolution.period() {
            None => self.raw_range(start, end, &wanted)?,
            Some(period) => self.rollup_range(period, start, end, &wanted)?,
        };
        if names.is_empty() {
            batch
                .series
                .retain(|_, col| col.iter().any(Option::is_some));
        }
        Ok(batch)
    }

    fn wanted(&self, names: &[&str]) -> Result<Wanted, HistoryError> {
        let ctx = || "cannot read metric names from the history".to_string();
        if names.is_empty() {
            let mut stmt = self
                .conn
                .prepare_cached("SELECT name, id FROM metric ORDER BY name")
                .ctx(ctx)?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((r.get::<_, String>(0)?, Some(r.get::<_, i64>(1)?)))
                })
                .ctx(ctx)?;
            return rows.collect::<Result<_, _>>().ctx(ctx);
        }
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id FROM metric WHERE name = ?1")
            .ctx(ctx)?;
        names
            .iter()
            .map(|n| {
                let id = stmt
                    .query_row([n], |r| r.get::<_, i64>(0))
                    .optional()
                    .ctx(ctx)?;
                Ok((n.to_string(), id))
            })
            .collect()
    }

    fn raw_range(&self, start: Ts, end: Ts, wanted: &Wanted) -> Result<SampleBatch, HistoryError> {
        let ctx = || "cannot read samples from the history".to_string();
        let column: HashMap<i64, usize> = wanted
            .iter()
            .enumerate()
            .filter_map(|(i, (_, id))| id.map(|id| (id, i)))
            .collect();
        let mut ts: Vec<Ts> = Vec::new();
        let mut cols: Vec<Vec<Option<f64>>> = vec![Vec::new(); wanted.len()];
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT ts, metric, value FROM sample WHERE ts >= ?1 AND ts <= ?2 ORDER BY ts",
            )
            .ctx(ctx)?;
        let mut rows = stmt.query(params![start, end]).ctx(ctx)?;
        while let Some(row) = rows.next().ctx(ctx)? {
            let metric: i64 = row.get(1).ctx(ctx)?;
            let Some(&i) = column.get(&metric) else {
                continue;
            };
            let t: f64 = row.get(0).ctx(ctx)?;
            if ts.last() != Some(&t) {
                ts.push(t);
                for c in cols.iter_mut() {
                    c.push(None);
                }
            }
            if let Some(slot) = cols[i].last_mut() {
                *slot = row.get(2).ctx(ctx)?;
            }
        }
        Ok(SampleBatch {
            ts,
            series: wanted.iter().map(|(n, _)| n.clone()).zip(cols).collect(),
        })
    }

    /// Averages per period: stored roll-ups for completed periods, the finer level
    /// (minute roll-ups, raw samples) for the rest.
    fn rollup_range(
        &self,
        period: i64,
        start: Ts,
        end: Ts,
        wanted: &Wanted,
    ) -> Result<SampleBatch, HistoryError> {
        let ctx = || "cannot read roll-ups from the history".to_string();
        // The grid starts no earlier than the oldest data: "everything since 1970" is a
        // short answer, not millions of empty periods.
        let oldest: Option<f64> = self
            .conn
            .query_row(
                "SELECT min(t) FROM (SELECT min(start) AS t FROM hour
                 UNION ALL SELECT min(start) FROM minute UNION ALL SELECT min(ts) FROM sample)",
                [],
                |r| r.get(0),
            )
            .ctx(ctx)?;
        let Some(oldest) = oldest else {
            return Ok(SampleBatch {
                ts: Vec::new(),
                series: wanted
                    .iter()
                    .map(|(n, _)| (n.clone(), Vec::new()))
                    .collect(),
            });
        };
        let start = start.max(period_start(oldest, period) as f64);
        if end < start {
            return Ok(SampleBatch {
                ts: Vec::new(),
                series: wanted
                    .iter()
                    .map(|(n, _)| (n.clone(), Vec::new()))
                    .collect(),
            });
        }
        let p0 = period_start(start, period);
        let p_end = period_start(end.max(start), period);
        let n = ((p_end - p0) / period + 1) as usize;
        // (sum, count) per series per period.
        let mut acc = vec![vec![(0.0f64, 0i64); n]; wanted.len()];
        let column: HashMap<i64, usize> = wanted
            .iter()
            .enumerate()
            .filter_map(|(i, (_, id))| id.map(|id| (id, i)))
            .collect();
        let mut add = |metric: i64, bucket: i64, sum: f64, count: i64| {
            let Some(&i) = column.get(&metric) else {
                return;
            };
            let b = (bucket - p0).div_euclid(period);
            if (0..n as i64).contains(&b) {
                let cell = &mut acc[i][b as usize];
                cell.0 += sum;
                cell.1 += count;
            }
        };
        let (minute_done, hour_done) = match load_progress(&self.conn)? {
            Some(p) => (p.minute_done, p.hour_done),
            None => (i64::MIN, i64::MIN),
        };
        let (table, done) = if period == HOUR {
            ("hour", hour_done)
        } else {
            ("minute", minute_done)
        };
        // Completed periods, one indexed scan per series.
        let mut stored = self
            .conn
            .prepare_cached(&format!(
                "SELECT start, sum, count FROM {table}
                 WHERE metric = ?1 AND start >= ?2 AND start <= ?3 AND start < ?4"
            ))
            .ctx(ctx)?;
        for id in column.keys() {
            let mut rows = stored.query(params![id, p0, p_end, done]).ctx(ctx)?;
            while let Some(r) = rows.next().ctx(ctx)? {
                add(
                    *id,
                    r.get(0).ctx(ctx)?,
                    r.get(1).ctx(ctx)?,
                    r.get(2).ctx(ctx)?,
                );
            }
        }
        if period == HOUR {
            // Minutes of the hour in progress.
            let mut stmt = self
                .conn
                .prepare_cached(
                    "SELECT start, metric, sum, count FROM minute
                     WHERE start >= ?1 AND start < ?2 AND start <= ?3",
                )
                .ctx(ctx)?;
            let mut rows = stmt
                .query(params![hour_done.max(p0), minute_done, end])
                .ctx(ctx)?;
            while let Some(r) = rows.next().ctx(ctx)? {
                let s: i64 = r.get(0).ctx(ctx)?;
                add(
                    r.get(1).ctx(ctx)?,
                    s.div_euclid(HOUR) * HOUR,
                    r.get(2).ctx(ctx)?,
                    r.get(3).ctx(ctx)?,
                );
            }
        }
        // Raw samples not rolled up yet (the minute in progress).
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT ts, metric, value FROM sample
                 WHERE ts >= ?1 AND ts <= ?2 AND value IS NOT NULL",
            )
            .ctx(ctx)?;
        let mut rows = stmt
            .query(params![(minute_done.max(p0)) as f64, end])
            .ctx(ctx)?;
        while let Some(r) = rows.next().ctx(ctx)? {
            let t: f64 = r.get(0).ctx(ctx)?;
            add(
                r.get(1).ctx(ctx)?,
                period_start(t, period),
                r.get(2).ctx(ctx)?,
                1,
            );
        }
        let ts = (0..n).map(|k| (p0 + k as i64 * period) as f64).collect();
        let series = wanted
            .iter()
            .zip(acc)
            .map(|((name, _), cells)| {
                let col = cells
                    .into_iter()
                    .map(|(sum, count)| (count > 0).then(|| sum / count as f64))
                    .collect();
                (name.clone(), col)
            })
            .collect::<BTreeMap<_, _>>();
        Ok(SampleBatch { ts, series })
    }

    /// The stored roll-ups of one metric (completed periods only), oldest first.
    pub fn rollups(
        &self,
        resolution: Resolution,
        start: Ts,
        end: Ts,
        name: &str,
    ) -> Result<Vec<Rollup>, HistoryError> {
        let ctx = || "cannot read roll-ups from the history".to_string();
        let table = match resolution {
            Resolution::Raw => return Ok(Vec::new()),
            Resolution::Minute => "minute",
            Resolution::Hour => "hour",
        };
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT start, min, max, sum, count FROM {table} JOIN metric ON metric.id = {table}.metric
                 WHERE metric.name = ?1 AND start >= ?2 AND start <= ?3 ORDER BY start"
            ))
            .ctx(ctx)?;
        let rows = stmt
            .query_map(params![name, start, end], |r| {
                let count: i64 = r.get(4)?;
                Ok(Rollup {
                    start: r.get(0)?,
                    min: r.get(1)?,
                    max: r.get(2)?,
                    avg: r.get::<_, f64>(3)? / count.max(1) as f64,
                    count,
                })
            })
            .ctx(ctx)?;
        rows.collect::<Result<_, _>>().ctx(ctx)
    }

    /// The alert log (transitions and snoozes) between `start` and `end`, newest first.
    pub fn alerts(
        &self,
        start: Ts,
        end: Ts,
        limit: usize,
    ) -> Result<Vec<AlertRecord>, HistoryError> {
        let ctx = || "cannot read the alert log from the history".to_string();
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT ts, kind, item, level, previous, used, lim, ratio, forecast_s, until, message
                 FROM alert WHERE ts >= ?1 AND ts <= ?2 ORDER BY ts DESC, id DESC LIMIT ?3",
            )
            .ctx(ctx)?;
        let rows = stmt
            .query_map(params![start, end, limit as i64], |r| {
                let kind: String = r.get(1)?;
                let level: Option<String> = r.get(3)?;
                let previous: Option<String> = r.get(4)?;
                Ok(parse::<AlertKind>(&kind).map(|kind| AlertRecord {
                    ts: r.get(0).unwrap_or_default(),
                    kind,
                    item: r.get(2).unwrap_or_default(),
                    level: level.as_deref().and_then(parse),
                    previous: previous.as_deref().and_then(parse),
                    used: r.get(5).unwrap_or_default(),
                    limit: r.get(6).unwrap_or_default(),
                    ratio: r.get(7).unwrap_or_default(),
                    forecast_s: r.get(8).unwrap_or_default(),
                    until: r.get(9).unwrap_or_default(),
                    message: r.get(10).unwrap_or_default(),
                }))
            })
            .ctx(ctx)?;
        let mut out = Vec::new();
        for row in rows {
            // A kind written by a newer Headroom is skipped, not an error.
            if let Some(a) = row.ctx(ctx)? {
                out.push(a);
            }
        }
        Ok(out)
    }

    /// Probe results between `start` and `end`, newest first.
    pub fn probe_results(
        &self,
        start: Ts,
        end: Ts,
        limit: usize,
    ) -> Result<Vec<ProbeResult>, HistoryError> {
        let ctx = || "cannot read probe results from the history".to_string();
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT ts, name, target, outcome, phase, code, enhanced, reply, class, total_ms, timings, detail
                 FROM probe WHERE ts >= ?1 AND ts <= ?2 ORDER BY ts DESC, id DESC LIMIT ?3",
            )
            .ctx(ctx)?;
        let rows = stmt
            .query_map(params![start, end, limit as i64], |r| {
                let outcome: String = r.get(3)?;
                let phase: String = r.get(4)?;
                let class: String = r.get(8)?;
                let code: Option<u16> = r.get(5)?;
                let timings: String = r.get(10)?;
                let reply = match code {
                    Some(code) => Some(Reply {
                        code,
                        enhanced: r.get(6)?,
                        text: r.get::<_, Option<String>>(7)?.unwrap_or_default(),
                    }),
                    None => None,
                };
                let (Some(outcome), Some(phase), Some(class)) =
                    (parse(&outcome), parse(&phase), parse(&class))
                else {
                    return Ok(None);
                };
                Ok(Some(ProbeResult {
                    target: r.get(2)?,
                    outcome,
                    phase,
                    reply,
                    class,
                    timings_ms: serde_json::from_str::<Timings>(&timings).unwrap_or_default(),
                    total_ms: r.get(9)?,
                    name: r.get(1)?,
                    ts: r.get(0)?,
                    detail: r.get(11)?,
                }))
            })
            .ctx(ctx)?;
        let mut out = Vec::new();
        for row in rows {
            if let Some(p) = row.ctx(ctx)? {
                out.push(p);
            }
        }
        Ok(out)
    }

    /// Writes [`Store::range`] as CSV: a header `ts,name1,name2,…`, then one line per
    /// point with Unix seconds and empty cells for gaps.
    pub fn export_csv(
        &self,
        start: Ts,
        end: Ts,
        names: &[&str],
        mut out: impl Write,
    ) -> Result<(), HistoryError> {
        let batch = self.range(start, end, names)?;
        write_csv(&batch, &mut out).map_err(|source| HistoryError::Io {
            context: "cannot write the CSV export".into(),
            source,
        })
    }
}

fn write_csv(batch: &SampleBatch, out: &mut impl Write) -> std::io::Result<()> {
    let mut line = String::from("ts");
    for name in batch.series.keys() {
        line.push(',');
        line.push_str(&csv_field(name));
    }
    writeln!(out, "{line}")?;
    let cols: Vec<&Vec<Option<f64>>> = batch.series.values().collect();
    for (i, t) in batch.ts.iter().enumerate() {
        line.clear();
        line.push_str(&t.to_string());
        for col in &cols {
            line.push(',');
            if let Some(Some(v)) = col.get(i) {
                line.push_str(&v.to_string());
            }
        }
        writeln!(out, "{line}")?;
    }
    out.flush()
}

/// RFC 4180 quoting, for names such as `fs_used_percent:/srv/a,b`.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// One of our snake_case enums from its stored name.
fn parse<T: DeserializeOwned>(s: &str) -> Option<T> {
    T::deserialize(IntoDeserializer::<serde::de::value::Error>::into_deserializer(s)).ok()
}

//! Headroom assessment: items with used, limit, ratio, forecast and level.
//!
//! Pure: (state carried from the previous tick, snapshot, thresholds) in, assessment
//! and level transitions out. No I/O and no clock of its own: time is the snapshot's.

pub mod domain_items;
pub mod forecast;
mod format;
mod host_items;
pub mod levels;
mod maillog_items;
mod mta_items;
mod probe_items;
pub mod surge;

pub use format::{format_bytes, format_duration, format_value};
pub use levels::{Level, LevelRules, LevelTracker, Reading};
pub use maillog_items::item as throttling_item;

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::config::Thresholds;
use crate::item::{Critical, ItemId, Source};
use crate::snapshot::Snapshot;
use crate::time::Ts;

/// One headroom item as shown everywhere (JSON field names are a contract).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct Item {
    pub id: ItemId,
    pub used: Option<f64>,
    pub limit: Option<f64>,
    pub ratio: Option<f64>,
    pub level: Level,
    pub forecast_s: Option<f64>,
    pub detail: String,
}

/// What a source reported for an item this tick, before levels.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemInput {
    pub id: ItemId,
    pub used: Option<f64>,
    pub limit: Option<f64>,
    /// What the item measures ("service smtp", "/var/spool/postfix"), or why it
    /// could not be read when `used` or `limit` is missing.
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct Assessment {
    pub ts: Ts,
    pub status: Level,
    pub items: Vec<Item>,
}

impl Assessment {
    /// The item that sets the overall level (worst first, then closest to its limit).
    pub fn main_item(&self) -> Option<&Item> {
        self.items.iter().max_by(|a, b| {
            a.level
                .cmp(&b.level)
                .then(a.ratio.unwrap_or(0.0).total_cmp(&b.ratio.unwrap_or(0.0)))
        })
    }

    /// One line for the tray and the window header.
    pub fn summary(&self) -> String {
        match self.main_item() {
            Some(i) if i.level != Level::Ok => format!("{}: {}", self.status, describe(i)),
            _ => format!("{}: all {} items have room", self.status, self.items.len()),
        }
    }
}

/// A change of an item's level (JSON field names are the `watch --json` contract).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    pub ts: Ts,
    pub item: ItemId,
    pub level: Level,
    /// `None` for the first level an item gets.
    pub previous: Option<Level>,
    pub used: Option<f64>,
    pub limit: Option<f64>,
    pub ratio: Option<f64>,
    pub forecast_s: Option<f64>,
    pub message: String,
}

impl Transition {
    /// Worse than before (a first level counts as worse than ok when it is not ok).
    pub fn is_upward(&self) -> bool {
        let prev = self.previous.unwrap_or(Level::Ok);
        self.level > prev && self.level != Level::Unknown
    }

    /// Whether the alert log shows it: every change but an item's first level when
    /// that level is ok (a healthy start is not news). The live log and the one
    /// reloaded from history after a restart use this one rule.
    pub fn is_news(&self) -> bool {
        !(self.previous.is_none() && self.level == Level::Ok)
    }

    pub fn is_recovery(&self) -> bool {
        self.level == Level::Ok
            && matches!(
                self.previous,
                Some(Level::Watch | Level::Warning | Level::Critical)
            )
    }
}

/// "smtpd processes 88/100 (88%); full in about 6 min at the current rate"
pub fn describe(i: &Item) -> String {
    let info = i.id.info();
    let mut s = match (i.used, i.limit) {
        (Some(u), Some(l)) => format!(
            "{} {}/{} ({:.0}%)",
            info.label,
            format_value(info.unit, u),
            format_value(info.unit, l),
            i.ratio.unwrap_or(0.0) * 100.0
        ),
        // A stopped server: nothing to count, the whole limit refused.
        (None, Some(l)) => format!("{} —/{}", info.label, format_value(info.unit, l)),
        _ => format!("{} unknown", info.label),
    };
    if !i.detail.is_empty() {
        s.push_str(&format!(" [{}]", i.detail));
    }
    if let Some(f) = i.forecast_s {
        if f > 0.0 {
            s.push_str(&format!(
                "; full in about {} at the current rate",
                format_duration(f)
            ));
        }
    }
    s
}

fn transition_message(i: &Item, prev: Option<Level>) -> String {
    let info = i.id.info();
    let head = describe(i);
    match i.level {
        Level::Ok if prev.is_some() => format!("{head} — back to ok"),
        Level::Ok => head,
        Level::Unknown => format!("{head} — cannot be read: {}", i.detail),
        // A stopped server is not short of process slots: raising maxproc would not help.
        _ if i.detail.starts_with(MAIL_SYSTEM_DOWN) => format!(
            "{head} — start the mail server (`postfix start`, `systemctl start exim4`, …) and read its log for why it stopped"
        ),
        _ => format!("{head} — {}", info.fix),
    }
}

/// How the MTA items say the server is not running at all.
const MAIL_SYSTEM_DOWN: &str = "mail system is down";

/// Keeps what the assessment needs from tick to tick: each item's level tracker and
/// a bounded series of its recent values for the forecast.
#[derive(Debug, Default)]
pub struct Assessor {
    /// `[tls]`: the certificate item's window and deadlines.
    tls: crate::config::TlsConfig,
    trackers: BTreeMap<ItemId, LevelTracker>,
    series: BTreeMap<ItemId, VecDeque<Point>>,
    last_ts: Option<Ts>,
}

/// One reading of an item as the forecast keeps it.
#[derive(Debug, Clone, Copy)]
struct Point {
    ts: Ts,
    used: f64,
    limit: Option<f64>,
}

/// How far back the forecast looks.
const FORECAST_WINDOW_S: f64 = 15.0 * 60.0;
/// A gap longer than this (suspend, clock jump) starts the forecast series afresh.
const MAX_GAP_S: f64 = 5.0 * 60.0;
const MAX_SERIES_POINTS: usize = 2048;

impl Assessor {
    pub fn new() -> Self {
        Self::default()
    }

    /// Uses these `[tls]` settings for the certificate item from the next tick on.
    pub fn set_tls(&mut self, tls: crate::config::TlsConfig) {
        self.tls = tls;
    }

    pub fn assess(&mut self, snap: &Snapshot, t: &Thresholds) -> (Assessment, Vec<Transition>) {
        let ts = snap.ts;
        if let Some(last) = self.last_ts {
            if ts < last || ts - last > MAX_GAP_S {
                self.series.clear();
            }
        }
        self.last_ts = Some(ts);

        let mut inputs = host_items::items(snap);
        inputs.extend(mta_items::items(snap, t));
        inputs.extend(probe_items::items(snap, t));
        // With no delivery attempts in the window there is nothing to be throttled.
        if let Some(r) = snap.throttling.as_ref().filter(|r| r.attempts > 0) {
            inputs.push(maillog_items::item(r, snap.domain.as_ref()));
        }
        // The snapshot's time, not the round's: the certificate's time left shrinks
        // every tick, and its forecast is the exact deadline.
        if let Some(d) = &snap.domain {
            inputs.extend(domain_items::items(d, ts, &self.tls));
        }
        // An item seen before whose source failed this tick is unknown, with the
        // source's reason; it does not silently drop out of the overall level.
        let failed: Vec<(ItemId, String)> = self
            .trackers
            .keys()
            .filter(|id| !inputs.iter().any(|i| i.id == **id))
            .filter_map(|id| {
                let source = id.info().source.name();
                let p = snap.problems.iter().find(|p| p.source == source)?;
                Some((*id, format!("{source} source failed: {}", p.message)))
            })
            .collect();
        inputs.extend(failed.into_iter().map(|(id, detail)| ItemInput {
            id,
            used: None,
            limit: None,
            detail,
        }));
        let mut items = Vec::with_capacity(inputs.len());
        let mut transitions = Vec::new();
        let mta_down = snap.mta.as_ref().is_some_and(|m| !m.is_running());
        let server_refuses_on_load = snap.mta.as_ref().is_some_and(|m| m.refuse_load.is_some());
        for input in inputs {
            let (warn, crit) = t.for_item(input.id);
            let may_be_critical = match input.id.info().critical {
                Critical::Always => true,
                Critical::WhenTheServerRefusesAtIt => server_refuses_on_load,
                Critical::Never => false,
            };
            let rules = LevelRules {
                warn_ratio: warn,
                // Context never reaches critical: its level stops at warning.
                crit_ratio: if may_be_critical { crit } else { f64::INFINITY },
                horizon_s: t.forecast_horizon_mins * 60.0,
                hysteresis: t.hysteresis,
                min_dwell_s: t.min_dwell_secs,
            };
            let forecast_s = self.forecast(&input, ts);
            let mut input = input;
            self.smooth(&mut input, ts);
            if !may_be_critical
                && matches!((input.used, input.limit), (Some(u), Some(l)) if l > 0.0 && u / l >= crit)
            {
                input
                    .detail
                    .push_str(if input.detail.is_empty() { "" } else { "; " });
                input.detail.push_str(
                    "context, not a refusal: the mail server refuses nothing at this limit, so it warns but is never critical on its own",
                );
            }
            let ratio = match (input.used, input.limit) {
                (Some(u), Some(l)) if l > 0.0 => Some(u / l),
                _ => None,
            };
            // A stopped server has no use to report, but what it refuses is known: the
            // whole limit. Critical, with no made-up value for charts and perfdata.
            let at_limit_because_down = mta_down
                && input.id.info().source == Source::Mta
                && input.used.is_none()
                && input.limit.is_some();
            let reading = Reading {
                ratio: if at_limit_because_down {
                    Some(f64::INFINITY)
                } else {
                    ratio
                },
                forecast_s,
            };
            let (level, previous, changed) = match self.trackers.get_mut(&input.id) {
                Some(tr) => {
                    let prev = tr.update(&rules, reading, ts);
                    (tr.level, prev, prev.is_some())
                }
                None => {
                    let level = rules.raw(reading);
                    self.trackers.insert(input.id, LevelTracker::new(level, ts));
                    (level, None, true)
                }
            };
            let item = Item {
                id: input.id,
                used: input.used,
                limit: input.limit,
                ratio,
                level,
                forecast_s,
                detail: input.detail,
            };
            if changed {
                transitions.push(Transition {
                    ts,
                    item: item.id,
                    level,
                    previous,
                    used: item.used,
                    limit: item.limit,
                    ratio: item.ratio,
                    forecast_s: item.forecast_s,
                    message: transition_message(&item, previous),
                });
            }
            items.push(item);
        }
        let status = items
            .iter()
            .map(|i| i.level)
            .max()
            .unwrap_or(Level::Unknown);
        (Assessment { ts, status, items }, transitions)
    }

    /// Rates that swing from second to second (CPU, disk I/O) are judged by their mean
    /// over the last minute, as load averages are: a compile or a backup burst that
    /// pins the CPU for ten seconds is not a shortage of headroom.
    fn smooth(&self, input: &mut ItemInput, ts: Ts) {
        let Some(window) = input.id.info().smoothing_s else {
            return;
        };
        let (Some(now), Some(series)) = (input.used, self.series.get(&input.id)) else {
            return;
        };
        let recent: Vec<f64> = series
            .iter()
            .rev()
            .take_while(|p| ts - p.ts <= window)
            .map(|p| p.used)
            .collect();
        if recent.len() > 1 {
            let mean = recent.iter().sum::<f64>() / recent.len() as f64;
            input.used = Some(mean);
            let now = format_value(input.id.info().unit, now);
            input.detail = if input.detail.is_empty() {
                format!("{:.0}-s mean; now {now}", window)
            } else {
                format!("{:.0}-s mean; now {now}; {}", window, input.detail)
            };
        }
    }

    fn forecast(&mut self, input: &ItemInput, ts: Ts) -> Option<f64> {
        let info = input.id.info();
        let series = self.series.entry(input.id).or_default();
        let Some(used) = input.used else {
            // A reading missed (a slow source, a reload) is a gap in the series, not a
            // zero; the trend around it still holds unless the gap grows long.
            return None;
        };
        if series.back().is_some_and(|p| ts - p.ts > MAX_GAP_S) {
            series.clear();
        }
        series.push_back(Point {
            ts,
            used,
            limit: input.limit,
        });
        while series.len() > MAX_SERIES_POINTS
            || series
                .front()
                .is_some_and(|p| ts - p.ts > FORECAST_WINDOW_S)
        {
            series.pop_front();
        }
        if !info.forecast {
            return None;
        }
        let limit = input.limit?;
        // What runs out is the room between use and limit, whether use grows or the
        // limit shrinks (queue_minfree raised, inodes taken by other files): each past
        // reading is judged by the room it left, against today's limit.
        let points: Vec<(f64, f64)> = series
            .iter()
            .map(|p| (p.ts, p.used + limit - p.limit.unwrap_or(limit)))
            .collect();
        // The long trend, or a surge past the recent range, whichever foresees the
        // limit first (docs/FORECAST.md).
        [
            forecast::time_to_limit(&points, limit),
            surge::time_to_limit(&points, limit),
        ]
        .into_iter()
        .flatten()
        .min_by(|a, b| a.total_cmp(b))
    }
}

#[cfg(test)]
mod tests;

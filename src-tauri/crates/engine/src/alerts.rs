//! Which level transitions become desktop notifications: upward transitions and
//! recoveries, at most once per item and level per `min_repeat_mins`, nothing while
//! snoozed, and a burst of transitions folded into one notification so a flood never
//! floods the desktop.
//!
//! Transition messages carry remote text (SMTP replies, mail-log examples, queue delay
//! reasons) and many notification servers render body markup, so every body and
//! summary made here goes through [`crate::sanitize`]: a mail server cannot put a link,
//! an image or an escape sequence into a Headroom alert.

mod sink;
pub mod webhook;

pub use sink::NotifySink;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::assess::{Level, Transition};
use crate::config::Notifications;
use crate::item::ItemId;
use crate::sanitize::{for_notification, for_notification_summary, for_plain_notification};
use crate::time::Ts;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Urgency {
    Low,
    Normal,
    /// Stays on screen until dismissed.
    Critical,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub summary: String,
    /// Desktop body markup: remote text cleaned, cut and entity-escaped.
    pub body: String,
    /// The same text cleaned and cut but not escaped, for plain-text destinations
    /// (webhooks), which escape it for their own format.
    pub text: String,
    /// When the transitions it speaks for happened (Unix seconds).
    pub ts: Ts,
    pub urgency: Urgency,
    /// Items this notification speaks for.
    pub items: Vec<ItemId>,
    pub level: Level,
}

/// Shows notifications on the desktop. The app implements it with notify-rust; tests
/// record what would have been shown.
pub trait Notifier: Send + Sync {
    fn notify(&self, n: &Notification) -> Result<(), NotifyError>;
}

/// A notification that could not be shown (no notification server on the bus, the
/// notifier's thread gone); the alert still reaches the window and the alert log.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct NotifyError(pub String);

/// Snooze state shared between the tray (which sets it) and the policy (which reads it).
#[derive(Debug, Clone, Default)]
pub struct Snooze(Arc<Mutex<Option<Ts>>>);

impl Snooze {
    pub fn until(&self) -> Option<Ts> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
    pub fn set_until(&self, until: Option<Ts>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = until;
    }
    pub fn active_at(&self, ts: Ts) -> bool {
        self.until().is_some_and(|u| ts < u)
    }
}

/// More notifications than this in one tick are folded into one.
const MAX_SEPARATE_PER_TICK: usize = 3;
/// And never more than this many in any 5 minutes, whatever happens.
const MAX_PER_5_MIN: usize = 10;

#[derive(Debug)]
pub struct AlertPolicy {
    settings: Notifications,
    snooze: Snooze,
    last_sent: HashMap<(ItemId, Level), Ts>,
    /// Items whose raised level we notified, so a recovery is announced only for those.
    raised: HashMap<ItemId, Level>,
    recent_sends: Vec<Ts>,
    /// Upward transitions below this level are not announced (a webhook's
    /// `min_level`); the desktop announces every one.
    min_level: Level,
}

impl AlertPolicy {
    pub fn new(settings: Notifications, snooze: Snooze) -> Self {
        AlertPolicy {
            settings,
            snooze,
            last_sent: HashMap::new(),
            raised: HashMap::new(),
            recent_sends: Vec::new(),
            min_level: Level::Ok,
        }
    }

    /// The same policy announcing only upward transitions to `level` or above, and
    /// the recoveries of the items it announced.
    pub fn with_min_level(mut self, level: Level) -> Self {
        self.min_level = level;
        self
    }

    pub fn set_settings(&mut self, settings: Notifications) {
        self.settings = settings;
    }

    pub fn decide(&mut self, transitions: &[Transition]) -> Vec<Notification> {
        let Some(ts) = transitions.first().map(|t| t.ts) else {
            return Vec::new();
        };
        if !self.settings.enabled || self.snooze.active_at(ts) {
            return Vec::new();
        }
        let repeat_s = self.settings.min_repeat_mins * 60.0;
        let mut out = Vec::new();
        for t in transitions {
            let wanted = if t.is_upward() {
                t.level >= self.min_level
            } else if t.is_recovery() {
                self.raised
                    .remove(&t.item)
                    .is_some_and(|l| l >= Level::Warning)
            } else {
                false
            };
            if !wanted {
                continue;
            }
            let key = (t.item, t.level);
            if self
                .last_sent
                .get(&key)
                .is_some_and(|last| ts >= *last && ts - last < repeat_s)
            {
                continue;
            }
            self.last_sent.insert(key, ts);
            if t.is_upward() {
                self.raised.insert(t.item, t.level);
            }
            out.push(single(t));
        }
        self.recent_sends.retain(|s| ts >= *s && ts - s < 300.0);
        let budget = MAX_PER_5_MIN.saturating_sub(self.recent_sends.len());
        if out.len() > MAX_SEPARATE_PER_TICK || out.len() > budget {
            if budget == 0 {
                return Vec::new();
            }
            out = vec![folded(out)];
        }
        self.recent_sends.extend(std::iter::repeat_n(ts, out.len()));
        out
    }
}

fn urgency_of(level: Level) -> Urgency {
    match level {
        Level::Critical => Urgency::Critical,
        Level::Warning => Urgency::Normal,
        _ => Urgency::Low,
    }
}

fn single(t: &Transition) -> Notification {
    let label = t.item.info().label;
    let summary = if t.is_recovery() {
        format!("Headroom: {label} back to ok")
    } else {
        format!("Headroom {}: {label}", t.level)
    };
    Notification {
        summary: for_notification_summary(&summary),
        body: for_notification(&t.message),
        text: for_plain_notification(&t.message),
        ts: t.ts,
        urgency: urgency_of(t.level),
        items: vec![t.item],
        level: t.level,
    }
}

fn folded(ns: Vec<Notification>) -> Notification {
    let level = ns.iter().map(|n| n.level).max().unwrap_or(Level::Unknown);
    let items: Vec<ItemId> = ns.iter().flat_map(|n| n.items.clone()).collect();
    // The bodies were made safe one by one in `single`; joining adds no markup.
    Notification {
        summary: for_notification_summary(&format!(
            "Headroom {level}: {} items changed",
            items.len()
        )),
        body: ns
            .iter()
            .map(|n| n.body.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        text: ns
            .iter()
            .map(|n| n.text.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        ts: ns.iter().map(|n| n.ts).fold(0.0, f64::max),
        urgency: urgency_of(level),
        items,
        level,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tr(ts: f64, item: &str, level: Level, previous: Option<Level>) -> Transition {
        Transition {
            ts,
            item: ItemId::parse(item).expect("a known item id"),
            level,
            previous,
            used: Some(1.0),
            limit: Some(1.0),
            ratio: Some(1.0),
            forecast_s: None,
            message: format!("{item} is {level}"),
        }
    }

    fn policy() -> (AlertPolicy, Snooze) {
        let s = Snooze::default();
        (AlertPolicy::new(Notifications::default(), s.clone()), s)
    }

    #[test]
    fn upward_and_recovery_are_notified_ok_at_start_is_not() {
        let (mut p, _) = policy();
        assert!(p.decide(&[tr(0.0, "cpu", Level::Ok, None)]).is_empty());
        let n = p.decide(&[tr(5.0, "cpu", Level::Warning, Some(Level::Ok))]);
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].urgency, Urgency::Normal);
        let n = p.decide(&[tr(100.0, "cpu", Level::Critical, Some(Level::Warning))]);
        assert_eq!(n[0].urgency, Urgency::Critical);
        let n = p.decide(&[tr(200.0, "cpu", Level::Ok, Some(Level::Critical))]);
        assert_eq!(n.len(), 1);
        assert!(n[0].summary.contains("back to ok"));
    }

    #[test]
    fn repeats_are_limited_per_item_and_level() {
        let (mut p, _) = policy();
        let mut sent = 0;
        // Flapping every 30 s for 20 minutes: warning is announced at 0 and after 10 min.
        for i in 0..40 {
            let ts = i as f64 * 30.0;
            let t = if i % 2 == 0 {
                tr(ts, "memory", Level::Warning, Some(Level::Ok))
            } else {
                tr(ts, "memory", Level::Ok, Some(Level::Warning))
            };
            sent += p
                .decide(&[t])
                .iter()
                .filter(|n| n.level == Level::Warning)
                .count();
        }
        assert_eq!(sent, 2);
    }

    #[test]
    fn snooze_silences_until_it_ends() {
        let (mut p, s) = policy();
        s.set_until(Some(3600.0));
        assert!(p
            .decide(&[tr(10.0, "cpu", Level::Critical, Some(Level::Ok))])
            .is_empty());
        assert_eq!(
            p.decide(&[tr(3601.0, "load", Level::Critical, Some(Level::Ok))])
                .len(),
            1
        );
    }

    #[test]
    fn a_burst_is_folded_and_a_flood_is_capped() {
        let (mut p, _) = policy();
        let ids = ["cpu", "memory", "swap", "load", "disk_io"];
        let burst: Vec<_> = ids
            .iter()
            .map(|i| tr(0.0, i, Level::Warning, None))
            .collect();
        let n = p.decide(&burst);
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].items.len(), 5);
        let mut total = 1;
        for i in 1..200 {
            let ts = i as f64;
            let lvl = if i % 2 == 0 {
                Level::Warning
            } else {
                Level::Critical
            };
            // Another item every tick, never the CPU itself.
            let id = ItemId::ALL[1 + i % (ItemId::ALL.len() - 1)].as_str();
            total += p
                .decide(&[tr(ts, "cpu", lvl, None), tr(ts, id, Level::Critical, None)])
                .len();
        }
        assert!(total <= MAX_PER_5_MIN, "{total} notifications in 200 s");
    }

    #[test]
    fn an_hour_of_every_item_flapping_every_second_stays_a_trickle() {
        let (mut p, _) = policy();
        let levels = [
            Level::Ok,
            Level::Watch,
            Level::Warning,
            Level::Unknown,
            Level::Critical,
        ];
        let mut sent: Vec<(f64, Notification)> = Vec::new();
        for s in 0..3600usize {
            let ts = s as f64;
            let batch: Vec<Transition> = ItemId::ALL
                .iter()
                .enumerate()
                .map(|(k, id)| {
                    let prev = levels[(s + k) % levels.len()];
                    let next = levels[(s + k + 1) % levels.len()];
                    tr(ts, id.as_str(), next, Some(prev))
                })
                .collect();
            sent.extend(p.decide(&batch).into_iter().map(|n| (ts, n)));
        }
        // Never more than the cap in any 5 minutes, nor more than a few in one tick.
        for (i, (t0, _)) in sent.iter().enumerate() {
            let in_window = sent[i..].iter().take_while(|(t, _)| t - t0 < 300.0).count();
            assert!(in_window <= MAX_PER_5_MIN, "{in_window} from {t0} s");
        }
        let mut per_tick = std::collections::HashMap::new();
        for (t, _) in &sent {
            *per_tick.entry(*t as u64).or_insert(0) += 1;
        }
        assert!(
            per_tick.values().all(|n| *n <= MAX_SEPARATE_PER_TICK),
            "folded per tick"
        );
        assert!(
            sent.len() <= 12 * MAX_PER_5_MIN,
            "{} in an hour",
            sent.len()
        );
        // Every notification still names the items it speaks for.
        assert!(sent.iter().all(|(_, n)| !n.items.is_empty()));
    }

    #[test]
    fn a_source_flapping_between_unknown_and_warning_notifies_once_per_repeat_period() {
        let (mut p, _) = policy();
        let mut sent = 0;
        for s in 0..1200 {
            let ts = s as f64;
            let t = if s % 2 == 0 {
                tr(ts, "queue_disk", Level::Warning, Some(Level::Unknown))
            } else {
                tr(ts, "queue_disk", Level::Unknown, Some(Level::Warning))
            };
            sent += p.decide(&[t]).len();
        }
        // 20 minutes with min_repeat_mins = 10: at 0 and at 600 s.
        assert_eq!(sent, 2);
    }

    #[test]
    fn remote_text_reaches_the_desktop_as_plain_text() {
        let (mut p, _) = policy();
        let mut t = tr(0.0, "probe_failures", Level::Critical, Some(Level::Ok));
        t.message = format!(
            "probe local: 421 4.3.0 <a href=\"http://x\">renew</a> \u{1b}]8;;http://evil\u{7}here\u{1b}]8;;\u{7} \u{1b}[2J\u{202e}kcilc {}",
            "x".repeat(10 * 1024)
        );
        let n = p.decide(&[t.clone()]);
        assert_eq!(n.len(), 1);
        let body = &n[0].body;
        assert!(body.starts_with(
            "probe local: 421 4.3.0 &lt;a href=&quot;http://x&quot;&gt;renew&lt;/a&gt; here kcilc x"
        ), "{body}");
        for bad in ['<', '>', '"', '\u{1b}', '\u{7}', '\u{202e}'] {
            assert!(!body.contains(bad), "{bad:?} in {body}");
            assert!(!n[0].summary.contains(bad), "{bad:?} in {}", n[0].summary);
        }
        assert!(!body.contains("http://evil"));
        assert!(body.chars().count() < 400, "{} chars", body.chars().count());
        assert!(body.ends_with('…'));
        // Folded notifications are made of the same safe bodies.
        let burst: Vec<Transition> = ["cpu", "memory", "swap", "load"]
            .iter()
            .map(|id| {
                let mut x = t.clone();
                x.item = ItemId::parse(id).expect("a known item id");
                x
            })
            .collect();
        let (mut p, _) = policy();
        let n = p.decide(&burst);
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].body.lines().count(), 4);
        assert!(!n[0].body.contains('<') && !n[0].body.contains('\u{1b}'));
    }

    #[test]
    fn disabled_sends_nothing() {
        let mut p = AlertPolicy::new(
            Notifications {
                enabled: false,
                ..Default::default()
            },
            Snooze::default(),
        );
        assert!(p
            .decide(&[tr(0.0, "cpu", Level::Critical, None)])
            .is_empty());
    }
}

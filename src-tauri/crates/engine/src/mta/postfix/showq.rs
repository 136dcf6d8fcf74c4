//! The background listing: `postqueue -j` streamed line by line into counters whose
//! size is bounded, so a queue of millions costs the same memory as a queue of ten.
//! Only `arrival_time` gives a message's true age (a deferred file's mtime is its next
//! retry time).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::mta::{command, CommandError, Counted, MtaError, QueueDetails, QueueLister};

/// A queue entry as `postqueue -j` prints it; unknown fields are ignored.
#[derive(Debug, Deserialize)]
struct Entry {
    queue_name: String,
    arrival_time: Option<f64>,
    #[serde(default)]
    recipients: Vec<Recipient>,
}

#[derive(Debug, Deserialize)]
struct Recipient {
    address: String,
    delay_reason: Option<String>,
}

/// A message with many recipients prints one long line; longer ones are skipped.
const MAX_LINE: usize = 4 << 20;
/// Distinct reasons and domains kept; past this, new keys count as "(other)".
const MAX_KEYS: usize = 5000;
const TOP: usize = 10;
const REASON_CHARS: usize = 160;

/// Bounded counting of keys.
#[derive(Debug, Default)]
pub struct TopCounter {
    counts: HashMap<String, u64>,
    other: u64,
}

impl TopCounter {
    pub fn add(&mut self, key: &str) {
        if let Some(c) = self.counts.get_mut(key) {
            *c += 1;
        } else if self.counts.len() < MAX_KEYS {
            self.counts.insert(key.to_string(), 1);
        } else {
            self.other += 1;
        }
    }

    pub fn top(&self, n: usize) -> Vec<Counted> {
        let mut v: Vec<Counted> = self
            .counts
            .iter()
            .map(|(k, &c)| Counted {
                key: k.clone(),
                count: c,
            })
            .collect();
        if self.other > 0 {
            v.push(Counted {
                key: "(other)".into(),
                count: self.other,
            });
        }
        v.sort_by(|a, b| b.count.cmp(&a.count).then(a.key.cmp(&b.key)));
        v.truncate(n);
        v
    }
}

/// Accumulates listing lines into [`QueueDetails`].
#[derive(Debug, Default)]
pub struct Accumulator {
    details: QueueDetails,
    reasons: TopCounter,
    domains: TopCounter,
    unparsed: u64,
}

impl Accumulator {
    pub fn line(&mut self, line: &[u8]) {
        if line.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        let Ok(e) = serde_json::from_slice::<Entry>(line) else {
            self.unparsed += 1;
            return;
        };
        let d = &mut self.details;
        d.messages += 1;
        *d.counts.entry(e.queue_name.clone()).or_default() += 1;
        if let Some(t) = e.arrival_time {
            d.oldest_arrival = Some(d.oldest_arrival.map_or(t, |o: f64| o.min(t)));
        }
        if e.queue_name == "deferred" {
            for r in &e.recipients {
                if let Some(reason) = r.delay_reason.as_deref().filter(|r| !r.is_empty()) {
                    self.reasons.add(&shorten(reason));
                }
                let domain = r.address.rsplit_once('@').map_or("", |(_, d)| d);
                self.domains.add(&domain.to_ascii_lowercase());
            }
        }
    }

    pub fn finish(mut self, sampled_at: f64, duration_s: f64) -> QueueDetails {
        self.details.sampled_at = sampled_at;
        self.details.duration_s = duration_s;
        self.details.top_reasons = self.reasons.top(TOP);
        self.details.top_domains = self.domains.top(TOP);
        if self.unparsed > 0 {
            self.details.complete = false;
            self.details.note = Some(format!(
                "{} listing lines were not JSON queue entries",
                self.unparsed
            ));
        }
        self.details
    }
}

/// Reasons differ in queue ids and ports; the first part is what groups them.
fn shorten(reason: &str) -> String {
    let mut s: String = reason.chars().take(REASON_CHARS).collect();
    if s.len() < reason.len() {
        s.push('…');
    }
    s
}

/// Runs `postqueue [-c DIR] -j`.
pub struct PostqueueLister {
    pub postqueue: PathBuf,
    pub config_dir: Option<PathBuf>,
    /// Messages the per-tick directory count last saw ([`NOT_COUNTED`] when the
    /// directories could not be counted): a queue counted empty is not listed, so an
    /// idle server costs no postqueue and showq run every listing interval.
    pub counted: Arc<AtomicU64>,
}

/// [`PostqueueLister::counted`] when no directory count is known.
pub const NOT_COUNTED: u64 = u64::MAX;

impl PostqueueLister {
    pub fn new(postqueue: PathBuf, config_dir: Option<PathBuf>) -> Self {
        PostqueueLister {
            postqueue,
            config_dir,
            counted: Arc::new(AtomicU64::new(NOT_COUNTED)),
        }
    }
}

impl QueueLister for PostqueueLister {
    fn list(&mut self, budget: Duration) -> Result<QueueDetails, MtaError> {
        if self.counted.load(Ordering::Relaxed) == 0 {
            return Ok(QueueDetails {
                sampled_at: crate::mta::unix_now(),
                complete: true,
                ..Default::default()
            });
        }
        let dir = self.config_dir.as_ref().map(|d| d.display().to_string());
        let mut args: Vec<&str> = Vec::new();
        if let Some(d) = &dir {
            args.extend(["-c", d.as_str()]);
        }
        args.push("-j");
        let started = Instant::now();
        let mut acc = Accumulator::default();
        let end = command::stream_lines(&self.postqueue, &args, budget, MAX_LINE, |l| {
            acc.line(l);
            true
        })?;
        let now = crate::mta::unix_now();
        let mut d = acc.finish(now, started.elapsed().as_secs_f64());
        if end.killed_at_timeout {
            d.complete = false;
            d.note = Some(format!(
                "postqueue -j did not finish within {:.0} s and was killed after {} messages",
                budget.as_secs_f64(),
                d.messages
            ));
            return Ok(d);
        }
        if end.status != Some(0) {
            let why = end.stderr.lines().next().unwrap_or("").trim().to_string();
            return Err(CommandError::Failed {
                command: "postqueue -j".into(),
                why: format!(
                    "{why} ({})",
                    end.status
                        .map_or("killed".into(), |c| format!("exit status {c}"))
                ),
            }
            .into());
        }
        if end.skipped_long_lines > 0 {
            d.complete = false;
            d.note = Some(format!(
                "{} queue entries longer than {} MiB were skipped",
                end.skipped_long_lines,
                MAX_LINE >> 20
            ));
        } else if d.note.is_none() {
            d.complete = true;
        }
        Ok(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_gives_oldest_arrival_reasons_and_domains_and_ignores_unknown_fields() {
        let mut a = Accumulator::default();
        for l in [
            r#"{"queue_name": "deferred", "queue_id": "A1", "arrival_time": 1000, "message_size": 229, "forced_expire": false, "new_field": [1,2], "sender": "a@x.test", "recipients": [{"address": "b@Example.net", "delay_reason": "connect to 127.0.0.1[127.0.0.1]:9: Connection refused"}]}"#,
            r#"{"queue_name": "deferred", "queue_id": "A2", "arrival_time": 900, "sender": "", "recipients": [{"address": "c@example.net", "delay_reason": "connect to 127.0.0.1[127.0.0.1]:9: Connection refused"}, {"address": "d@other.org", "delay_reason": "host mx.other.org said: 421 4.7.0 try later"}]}"#,
            r#"{"queue_name": "active", "queue_id": "A3", "arrival_time": 1100, "recipients": [{"address": "e@example.net"}]}"#,
            "not json",
        ] {
            a.line(l.as_bytes());
        }
        let d = a.finish(2000.0, 0.1);
        assert_eq!(d.messages, 3);
        assert_eq!(d.counts.get("deferred"), Some(&2));
        assert_eq!(d.counts.get("active"), Some(&1));
        assert_eq!(d.oldest_arrival, Some(900.0));
        assert_eq!(d.top_reasons[0].count, 2);
        assert!(d.top_reasons[0].key.contains("Connection refused"));
        assert_eq!(d.top_domains[0].key, "example.net");
        assert_eq!(d.top_domains[0].count, 2);
        assert!(!d.complete);
    }

    #[test]
    fn a_queue_counted_empty_is_not_listed() {
        // postqueue would fail: it is not run at all.
        let mut l = PostqueueLister::new("/nonexistent/postqueue".into(), None);
        assert!(l.list(Duration::from_secs(1)).is_err());
        l.counted.store(0, Ordering::Relaxed);
        let d = l.list(Duration::from_secs(1)).expect("no run needed");
        assert_eq!((d.messages, d.complete), (0, true));
        l.counted.store(3, Ordering::Relaxed);
        assert!(l.list(Duration::from_secs(1)).is_err());
    }

    #[test]
    fn distinct_keys_are_bounded() {
        let mut t = TopCounter::default();
        for i in 0..(MAX_KEYS + 10) {
            t.add(&format!("d{i}.example"));
        }
        assert_eq!(t.counts.len(), MAX_KEYS);
        assert_eq!(t.other, 10);
        assert_eq!(t.top(3)[0].key, "(other)");
    }
}

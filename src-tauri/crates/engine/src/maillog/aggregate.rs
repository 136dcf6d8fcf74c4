//! Who is deferring our mail: failures and deliveries counted per destination domain
//! and per relay in one-minute buckets over the last hour, the latest example reply
//! with its explanation, the failures whose replies point at a domain item (reverse
//! DNS, a blocklist, SPF/DMARC: [`crate::domain::cause`]), and the `remote_throttling`
//! headroom input.
//!
//! Memory is bounded: buckets older than an hour are dropped, at most
//! [`MAX_DESTINATIONS`] domains and relays are kept (the least recently seen go first),
//! names are cut to [`MAX_NAME_BYTES`] and example replies to
//! [`crate::sanitize::STORED_TEXT_MAX_BYTES`]. A destination then costs at most about
//! 6.9 KiB (an hour of one-minute buckets, 3.75 KiB, is most of it), so one source's
//! aggregator stays under [`MAX_MEMORY_BYTES`] (80 MiB) whatever the log says; without
//! the cuts, 10,000 examples of 32 KiB lines alone would be 320 MiB.
//!
//! Long (~610 lines): per-destination buckets, the memory bounds and the report read
//! the same structures; split, each part would reach into the others.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use super::{parse, Line, Parsed, Record, Side, Skip};
use crate::classify::{reason_of, Class};
use crate::domain::cause::{self, Cause, Linked, LINKED_ITEMS};
use crate::domain::DomainReading;
use crate::explain::{explain_class, explain_reply, Explanation, Limits};
use crate::time::Ts;

/// Minutes of history per destination.
const HISTORY_MINS: i64 = 60;
/// Domains (and, separately, relays) kept.
pub const MAX_DESTINATIONS: usize = 5000;
/// Bytes of a domain or relay name kept (DNS names are at most 253; a longer one is
/// someone's garbage and is cut).
pub const MAX_NAME_BYTES: usize = 255;
/// What one aggregator may hold at most, by [`Aggregator::heap_bytes`].
pub const MAX_MEMORY_BYTES: usize = 80 << 20;
/// The window of the `remote_throttling` item.
pub const THROTTLING_WINDOW_S: f64 = 15.0 * 60.0;
const N: usize = Class::ALL.len();
/// Domain items a reply can point at (see [`crate::domain::cause`]).
const L: usize = LINKED_ITEMS.len();

pub type SharedAggregator = Arc<Mutex<Aggregator>>;

/// A line as a follower hands it over: parsed, or skipped and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed<'a> {
    Parsed(Parsed<'a>),
    Skipped(Skip),
}

#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    minute: i64,
    failures: [u32; N],
    delivered: u32,
    /// Failures whose reply points at each of [`LINKED_ITEMS`] (saturating: a
    /// destination answering 65,535 such replies in one minute is already clear).
    linked: [u16; L],
}

#[derive(Debug, Clone, Default)]
struct Destination {
    buckets: VecDeque<Bucket>,
    last_seen: Ts,
    latest: Option<Example>,
    /// The latest reply pointing at each of [`LINKED_ITEMS`].
    linked_latest: [Option<LinkedReply>; L],
}

/// The codes of the latest reply that pointed at a domain item.
#[derive(Debug, Clone, Default)]
struct LinkedReply {
    ts: Ts,
    /// `451 4.7.23`, at most [`MAX_REPLY_CODES_BYTES`].
    codes: String,
    permanent: bool,
}

/// A reply code and an enhanced code take 13 bytes (`451 4.7.123456` is the longest a
/// parser lets through, and a bit): longer is cut.
const MAX_REPLY_CODES_BYTES: usize = 24;

impl Destination {
    fn bucket(&mut self, ts: Ts) -> Option<&mut Bucket> {
        let minute = (ts / 60.0).floor() as i64;
        self.last_seen = self.last_seen.max(ts);
        let newest = self.buckets.back().map_or(i64::MIN, |b| b.minute);
        if minute > newest {
            self.buckets.push_back(Bucket {
                minute,
                ..Bucket::default()
            });
            while self
                .buckets
                .front()
                .is_some_and(|b| b.minute <= minute - HISTORY_MINS)
            {
                self.buckets.pop_front();
            }
            return self.buckets.back_mut();
        }
        if minute <= newest - HISTORY_MINS {
            return None; // older than the history kept
        }
        // Backfilled or slightly out of order: find or insert its bucket.
        let pos = self.buckets.partition_point(|b| b.minute < minute);
        if self.buckets.get(pos).is_none_or(|b| b.minute != minute) {
            self.buckets.insert(
                pos,
                Bucket {
                    minute,
                    ..Bucket::default()
                },
            );
        }
        self.buckets.get_mut(pos)
    }

    /// Failures per class and deliveries within `window_s` before `now`.
    fn window(&self, now: Ts, window_s: f64) -> ([u32; N], u32) {
        let mut f = [0u32; N];
        let mut d = 0u32;
        for b in self.in_window(now, window_s) {
            for (acc, n) in f.iter_mut().zip(b.failures) {
                *acc = acc.saturating_add(n);
            }
            d = d.saturating_add(b.delivered);
        }
        (f, d)
    }

    fn in_window(&self, now: Ts, window_s: f64) -> impl Iterator<Item = &Bucket> {
        let now_min = (now / 60.0).floor() as i64;
        let mins = (window_s / 60.0).ceil().max(1.0) as i64;
        self.buckets
            .iter()
            .filter(move |b| b.minute > now_min - mins && b.minute <= now_min)
    }

    /// Failures within the window whose replies point at a domain item, most first.
    fn linked(&self, now: Ts, window_s: f64) -> Vec<Linked> {
        let mut sums = [0u32; L];
        for b in self.in_window(now, window_s) {
            for (acc, n) in sums.iter_mut().zip(b.linked) {
                *acc = acc.saturating_add(u32::from(n));
            }
        }
        let mut v: Vec<Linked> = LINKED_ITEMS
            .iter()
            .zip(sums)
            .zip(&self.linked_latest)
            .filter(|((_, n), _)| *n > 0)
            .map(|((item, failures), latest)| Linked {
                item: *item,
                failures,
                reply: latest.as_ref().map(|l| l.codes.clone()).unwrap_or_default(),
                permanent: latest.as_ref().is_some_and(|l| l.permanent),
            })
            .collect();
        v.sort_by_key(|l| std::cmp::Reverse(l.failures));
        v
    }

    fn per_minute(&self, now: Ts) -> Vec<u32> {
        let now_min = (now / 60.0).floor() as i64;
        let mut v = vec![0u32; HISTORY_MINS as usize];
        for b in &self.buckets {
            let age = now_min - b.minute;
            if (0..HISTORY_MINS).contains(&age) {
                v[(HISTORY_MINS - 1 - age) as usize] = b.failures.iter().sum();
            }
        }
        v
    }
}

/// The latest failure seen for a destination.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct Example {
    pub ts: Ts,
    pub class: Class,
    pub side: Side,
    pub code: Option<u16>,
    pub enhanced: Option<String>,
    pub text: String,
    pub relay: Option<String>,
    pub domain: Option<String>,
}

/// Lines read and lines skipped, for the source's health.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct SourceStats {
    pub lines: u64,
    pub failures: u64,
    pub deliveries: u64,
    pub skipped_invalid_utf8: u64,
    pub skipped_binary: u64,
    pub skipped_too_long: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct ClassCount {
    pub class: Class,
    pub count: u32,
}

/// One destination (a recipient domain or a relay) for the destinations panel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct DestinationReport {
    pub name: String,
    /// Failures per class within the window, non-zero classes only, most first.
    pub counts: Vec<ClassCount>,
    pub failures: u32,
    pub delivered: u32,
    /// Failures per minute over the window.
    pub failure_rate_per_min: f64,
    /// Throttling failures (rate and connection limits) / all attempts, when any.
    pub throttled_ratio: Option<f64>,
    /// Failures per minute over the last hour, oldest first (the trend).
    pub per_minute: Vec<u32>,
    pub latest: Option<Example>,
    pub explanation: Option<Explanation>,
    /// Failures whose replies point at a domain item, with what that item found
    /// ("451 4.7.23 — your PTR for 203.0.113.7 is missing"), most first.
    pub causes: Vec<Cause>,
}

/// What the destinations panel shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct MaillogReport {
    pub window_s: f64,
    /// Recipient domains with failures in the window, most failures first.
    pub domains: Vec<DestinationReport>,
    pub relays: Vec<DestinationReport>,
    /// Our own server's refusals (NOQUEUE rejects, limit warnings), per class.
    pub local: Vec<ClassCount>,
    pub stats: SourceStats,
}

/// The `remote_throttling` reading: the destination that throttles us most.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThrottlingReading {
    pub destination: Option<String>,
    /// Deferrals of throttling classes (rate_limit, connection_limit) in the window.
    pub throttled: u32,
    /// All delivery attempts to that destination in the window (deliveries + failures).
    pub attempts: u32,
    pub rate_limit: u32,
    pub connection_limit: u32,
    pub window_s: f64,
    pub example: Option<String>,
    /// That destination's failures whose replies point at a domain item (reverse DNS,
    /// a blocklist, SPF/DMARC), most first; the assessment ties them to what the
    /// domain checks found.
    #[serde(default)]
    pub causes: Vec<Linked>,
}

#[derive(Debug, Default)]
pub struct Aggregator {
    domains: HashMap<String, Destination>,
    relays: HashMap<String, Destination>,
    local: Destination,
    stats: SourceStats,
    /// Failures since start per class, `[remote, local]`: counters for the agent's
    /// `headroom_deferrals_total` (bounded: classes × sides).
    totals: [[u64; 2]; Class::ALL.len()],
}

impl Aggregator {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn shared() -> SharedAggregator {
        Arc::new(Mutex::new(Self::new()))
    }

    pub fn stats(&self) -> SourceStats {
        self.stats
    }

    /// One line from a follower, read at `ts`.
    pub fn observe(&mut self, ts: Ts, line: Line<'_>) {
        let o = match line {
            Line::Text(t) => Observed::Parsed(parse(t)),
            Line::Skipped(s) => Observed::Skipped(s),
        };
        self.observe_parsed(ts, &o);
    }

    /// One line a follower has already parsed (outside the lock of a shared aggregator).
    pub fn observe_parsed(&mut self, ts: Ts, o: &Observed<'_>) {
        self.stats.lines += 1;
        match o {
            Observed::Parsed(Parsed::Failure(r)) => self.record(ts, r),
            Observed::Parsed(Parsed::Delivered { domain, relay }) => {
                self.delivered(ts, *domain, *relay)
            }
            Observed::Parsed(Parsed::Nothing) => {}
            Observed::Skipped(Skip::InvalidUtf8) => self.stats.skipped_invalid_utf8 += 1,
            Observed::Skipped(Skip::Binary) => self.stats.skipped_binary += 1,
            Observed::Skipped(Skip::TooLong) => self.stats.skipped_too_long += 1,
        }
    }

    /// Failures recorded since start, per class and side (every pair, zeros included,
    /// so a counter exists before its first increment).
    pub fn totals(&self) -> Vec<(Class, Side, u64)> {
        Class::ALL
            .iter()
            .flat_map(|&c| {
                [Side::Remote, Side::Local]
                    .into_iter()
                    .map(move |side| (c, side))
            })
            .map(|(c, side)| (c, side, self.totals[c as usize][side as usize]))
            .collect()
    }

    pub fn record(&mut self, ts: Ts, r: &Record<'_>) {
        self.stats.failures += 1;
        self.totals[r.class as usize][r.side as usize] += 1;
        let text = r.text();
        // Only a receiver's reply can point at our addresses and records.
        let linked = if r.side == Side::Remote {
            let reason = reason_of(r.code.unwrap_or(0), r.enhanced, &text, r.class);
            cause::item_for(reason, r.enhanced).and_then(cause::slot)
        } else {
            None
        };
        let linked_reply = linked.map(|_| LinkedReply {
            ts,
            codes: clip_to(
                &match (r.code, r.enhanced) {
                    (Some(c), Some(x)) => format!("{c} {x}"),
                    (Some(c), None) => c.to_string(),
                    (None, _) => r.class.as_str().to_string(),
                },
                MAX_REPLY_CODES_BYTES,
            )
            .to_string(),
            permanent: r.code.is_some_and(|c| c >= 500),
        });
        let example = Example {
            ts,
            class: r.class,
            side: r.side,
            code: r.code,
            enhanced: r.enhanced.map(|e| clip(e).to_string()),
            text: crate::sanitize::for_storage(&text),
            relay: r.relay.as_ref().map(|x| clip(x).to_string()),
            domain: r.domain.map(|d| clip(d).to_string()),
        };
        let targets: [Option<&mut Destination>; 2] = if r.side == Side::Local {
            [Some(&mut self.local), None]
        } else {
            [
                r.domain.map(|d| entry(&mut self.domains, d)),
                r.relay.as_deref().map(|x| entry(&mut self.relays, x)),
            ]
        };
        for dest in targets.into_iter().flatten() {
            if let Some(b) = dest.bucket(ts) {
                b.failures[r.class as usize] = b.failures[r.class as usize].saturating_add(1);
                if let Some(i) = linked {
                    b.linked[i] = b.linked[i].saturating_add(1);
                }
            }
            if dest.latest.as_ref().is_none_or(|l| l.ts <= ts) {
                dest.latest = Some(example.clone());
            }
            if let (Some(i), Some(reply)) = (linked, &linked_reply) {
                if dest.linked_latest[i].as_ref().is_none_or(|l| l.ts <= ts) {
                    dest.linked_latest[i] = Some(reply.clone());
                }
            }
        }
    }

    pub fn delivered(&mut self, ts: Ts, domain: Option<&str>, relay: Option<&str>) {
        self.stats.deliveries += 1;
        let targets = [
            domain.map(|d| entry(&mut self.domains, d)),
            relay.map(|x| entry(&mut self.relays, x)),
        ];
        for dest in targets.into_iter().flatten() {
            if let Some(b) = dest.bucket(ts) {
                b.delivered = b.delivered.saturating_add(1);
            }
        }
    }

    /// The heap this aggregator holds, counted from capacities (strings, bucket rings,
    /// hash tables): what [`MAX_MEMORY_BYTES`] bounds.
    pub fn heap_bytes(&self) -> usize {
        fn dest(d: &Destination) -> usize {
            let example = d.latest.as_ref().map_or(0, |e| {
                e.text.capacity()
                    + e.enhanced.as_ref().map_or(0, String::capacity)
                    + e.relay.as_ref().map_or(0, String::capacity)
                    + e.domain.as_ref().map_or(0, String::capacity)
            });
            let linked: usize = d
                .linked_latest
                .iter()
                .flatten()
                .map(|l| l.codes.capacity())
                .sum();
            d.buckets.capacity() * std::mem::size_of::<Bucket>() + example + linked
        }
        fn map(m: &HashMap<String, Destination>) -> usize {
            // hashbrown: one control byte per slot besides the slot itself.
            let slots = m.capacity() * (std::mem::size_of::<(String, Destination)>() + 1);
            slots + m.iter().map(|(k, d)| k.capacity() + dest(d)).sum::<usize>()
        }
        map(&self.domains) + map(&self.relays) + dest(&self.local)
    }

    /// The destinations panel: failures within `window_s` before `now`, each
    /// destination's causes judged against `domain`, the latest round of the domain
    /// checks (`None` where they do not run).
    pub fn report(
        &self,
        now: Ts,
        window_s: f64,
        limits: &Limits,
        domain: Option<&DomainReading>,
    ) -> MaillogReport {
        let (local, _) = self.local.window(now, window_s);
        MaillogReport {
            window_s,
            domains: reports(&self.domains, now, window_s, limits, domain),
            relays: reports(&self.relays, now, window_s, limits, domain),
            local: counts(&local),
            stats: self.stats,
        }
    }

    /// The destination domain with the most throttling deferrals in the window (ties:
    /// the higher share of attempts).
    pub fn remote_throttling(&self, now: Ts, window_s: f64) -> ThrottlingReading {
        let mut best: Option<(&String, &Destination, u32, u32, [u32; N])> = None;
        let mut total_attempts = 0u32;
        for (name, d) in &self.domains {
            let (f, delivered) = d.window(now, window_s);
            let attempts = f.iter().sum::<u32>().saturating_add(delivered);
            total_attempts = total_attempts.saturating_add(attempts);
            let throttled = f[Class::RateLimit as usize] + f[Class::ConnectionLimit as usize];
            if throttled == 0 {
                continue;
            }
            let better = match &best {
                None => true,
                Some((_, _, t, a, _)) => {
                    throttled > *t
                        || (throttled == *t
                            && f64::from(throttled) / f64::from(attempts.max(1))
                                > f64::from(*t) / f64::from((*a).max(1)))
                }
            };
            if better {
                best = Some((name, d, throttled, attempts, f));
            }
        }
        match best {
            Some((name, d, throttled, attempts, f)) => ThrottlingReading {
                destination: Some(name.clone()),
                throttled,
                attempts,
                rate_limit: f[Class::RateLimit as usize],
                connection_limit: f[Class::ConnectionLimit as usize],
                window_s,
                example: d.latest.as_ref().map(|e| match (e.code, &e.enhanced) {
                    (Some(c), Some(x)) => format!("{c} {x} {}", e.text),
                    (Some(c), None) => format!("{c} {}", e.text),
                    _ => e.text.clone(),
                }),
                causes: d.linked(now, window_s),
            },
            None => ThrottlingReading {
                destination: None,
                throttled: 0,
                attempts: total_attempts,
                rate_limit: 0,
                connection_limit: 0,
                window_s,
                example: None,
                causes: Vec::new(),
            },
        }
    }
}

/// `s` cut to [`MAX_NAME_BYTES`] on a character boundary.
fn clip(s: &str) -> &str {
    clip_to(s, MAX_NAME_BYTES)
}

/// `s` cut to `max` bytes on a character boundary.
fn clip_to(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn entry<'m>(map: &'m mut HashMap<String, Destination>, name: &str) -> &'m mut Destination {
    let name = clip(name);
    // Domains compare case-insensitively; most logs are already lower case, so
    // only allocate for a key not yet present.
    let lower;
    let key = if name.bytes().any(|c| c.is_ascii_uppercase()) {
        lower = name.to_ascii_lowercase();
        lower.as_str()
    } else {
        name
    };
    if !map.contains_key(key) {
        if map.len() >= MAX_DESTINATIONS {
            evict(map);
        }
        map.insert(key.to_string(), Destination::default());
    }
    map.get_mut(key).expect("inserted above")
}

/// Drops the tenth of destinations seen least recently.
fn evict(map: &mut HashMap<String, Destination>) {
    let mut seen: Vec<Ts> = map.values().map(|d| d.last_seen).collect();
    let k = (map.len() / 10).max(1);
    let (_, cut, _) = seen.select_nth_unstable_by(k - 1, f64::total_cmp);
    let cut = *cut;
    let mut removed = 0;
    map.retain(|_, d| {
        if removed < k && d.last_seen <= cut {
            removed += 1;
            false
        } else {
            true
        }
    });
}

fn counts(f: &[u32; N]) -> Vec<ClassCount> {
    let mut v: Vec<ClassCount> = Class::ALL
        .iter()
        .zip(f)
        .filter(|(_, n)| **n > 0)
        .map(|(c, n)| ClassCount {
            class: *c,
            count: *n,
        })
        .collect();
    v.sort_by(|a, b| b.count.cmp(&a.count).then(a.class.cmp(&b.class)));
    v
}

fn reports(
    map: &HashMap<String, Destination>,
    now: Ts,
    window_s: f64,
    limits: &Limits,
    domain: Option<&DomainReading>,
) -> Vec<DestinationReport> {
    let mut v: Vec<DestinationReport> = map
        .iter()
        .filter_map(|(name, d)| {
            let (f, delivered) = d.window(now, window_s);
            let failures: u32 = f.iter().sum();
            if failures == 0 {
                return None;
            }
            let throttled = f[Class::RateLimit as usize] + f[Class::ConnectionLimit as usize];
            let attempts = failures.saturating_add(delivered);
            let explanation = d.latest.as_ref().map(|e| match e.code {
                Some(c) => explain_reply(c, e.enhanced.as_deref(), &e.text, Some(e.side), limits),
                None => explain_class(e.class, Some(e.side), limits),
            });
            Some(DestinationReport {
                name: name.clone(),
                counts: counts(&f),
                failures,
                delivered,
                failure_rate_per_min: f64::from(failures) / (window_s / 60.0).max(1.0),
                throttled_ratio: Some(f64::from(throttled) / f64::from(attempts)),
                per_minute: d.per_minute(now),
                latest: d.latest.clone(),
                explanation,
                causes: d
                    .linked(now, window_s)
                    .iter()
                    .map(|l| Cause::of(name, l, domain))
                    .collect(),
            })
        })
        .collect();
    v.sort_by(|a, b| b.failures.cmp(&a.failures).then(a.name.cmp(&b.name)));
    v
}

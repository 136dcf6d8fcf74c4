//! The delivery queue of one webhook, as a state machine with time passed in: bounded
//! (the oldest alert is dropped when full), one alert in flight at a time in order,
//! exponential backoff per endpoint while it fails, each alert given up after a number
//! of tries, and an outage reported once when it starts and once when it ends.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How a failing endpoint is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// The wait after the first failure; it doubles with every failure in a row …
    pub first: Duration,
    /// … up to this.
    pub max_delay: Duration,
    /// An alert is dropped after this many failed tries.
    pub max_tries: u32,
}

/// 1, 2, 4 … 60 s apart, 10 tries: an alert outlives an outage of about 4 minutes
/// (later ones, waiting 60 s between tries, about 10).
pub const RETRY: Retry = Retry {
    first: Duration::from_secs(1),
    max_delay: Duration::from_secs(60),
    max_tries: 10,
};

/// Alerts waiting per webhook. The alert policy sends at most 10 in 5 minutes, so
/// this holds the longest outage the retries outlive.
pub const CAPACITY: usize = 32;

#[derive(Debug)]
pub struct Pending<T> {
    pub item: T,
    /// Failed tries so far.
    pub tries: u32,
}

/// What the worker does next.
#[derive(Debug)]
pub enum Next<T> {
    Send(Pending<T>),
    /// The endpoint failed; wait this long before the next try.
    Wait(Duration),
    Idle,
}

/// What is worth a log line: an outage's start and its end, nothing per try.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Down {
        reason: String,
    },
    Up {
        failed_tries: u32,
        down_for: Duration,
        /// Alerts dropped meanwhile (given up after the last try, or the queue full).
        dropped: u64,
    },
}

#[derive(Debug)]
struct Outage {
    since: Instant,
    tries: u32,
}

#[derive(Debug)]
pub struct Outbox<T> {
    queue: VecDeque<Pending<T>>,
    capacity: usize,
    retry: Retry,
    failures_in_row: u32,
    retry_at: Option<Instant>,
    outage: Option<Outage>,
    dropped: u64,
}

impl<T> Outbox<T> {
    pub fn new(capacity: usize, retry: Retry) -> Self {
        Outbox {
            queue: VecDeque::new(),
            capacity: capacity.max(1),
            retry,
            failures_in_row: 0,
            retry_at: None,
            outage: None,
            dropped: 0,
        }
    }

    /// Queues an alert; when full, the oldest waiting one is dropped (and counted).
    pub fn push(&mut self, item: T) {
        if self.queue.len() >= self.capacity {
            self.queue.pop_front();
            self.dropped += 1;
        }
        self.queue.push_back(Pending { item, tries: 0 });
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    pub fn next(&mut self, now: Instant) -> Next<T> {
        if self.queue.is_empty() {
            return Next::Idle;
        }
        if let Some(at) = self.retry_at.filter(|at| *at > now) {
            return Next::Wait(at - now);
        }
        match self.queue.pop_front() {
            Some(p) => Next::Send(p),
            None => Next::Idle,
        }
    }

    /// The wait after `failures` failures in a row.
    pub fn delay(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(20);
        self.retry
            .first
            .saturating_mul(1 << doublings)
            .min(self.retry.max_delay)
    }

    /// The outcome of sending `p`; the event to log, if any.
    pub fn report(
        &mut self,
        mut p: Pending<T>,
        result: Result<(), String>,
        now: Instant,
    ) -> Option<Event> {
        match result {
            Ok(()) => {
                self.failures_in_row = 0;
                self.retry_at = None;
                let o = self.outage.take()?;
                Some(Event::Up {
                    failed_tries: o.tries,
                    down_for: now.saturating_duration_since(o.since),
                    dropped: std::mem::take(&mut self.dropped),
                })
            }
            Err(reason) => {
                self.failures_in_row = self.failures_in_row.saturating_add(1);
                self.retry_at = Some(now + self.delay(self.failures_in_row));
                p.tries += 1;
                if p.tries >= self.retry.max_tries {
                    self.dropped += 1;
                } else {
                    self.queue.push_front(p);
                    if self.queue.len() > self.capacity {
                        // Full while this one was in flight: it is the oldest.
                        self.queue.pop_front();
                        self.dropped += 1;
                    }
                }
                match &mut self.outage {
                    Some(o) => {
                        o.tries += 1;
                        None
                    }
                    None => {
                        self.outage = Some(Outage {
                            since: now,
                            tries: 1,
                        });
                        Some(Event::Down { reason })
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: Retry = Retry {
        first: Duration::from_secs(1),
        max_delay: Duration::from_secs(8),
        max_tries: 5,
    };

    fn send<T: std::fmt::Debug>(o: &mut Outbox<T>, now: Instant) -> Pending<T> {
        match o.next(now) {
            Next::Send(p) => p,
            other => panic!("expected a send at {now:?}, got {other:?}"),
        }
    }

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let o: Outbox<u32> = Outbox::new(4, FAST);
        let d: Vec<u64> = (1..=6).map(|f| o.delay(f).as_secs()).collect();
        assert_eq!(d, [1, 2, 4, 8, 8, 8]);
        let real: Outbox<u32> = Outbox::new(4, RETRY);
        assert_eq!(real.delay(u32::MAX), RETRY.max_delay);
    }

    #[test]
    fn a_down_endpoint_is_retried_with_backoff_and_reported_once_per_outage() {
        let t0 = Instant::now();
        let mut o = Outbox::new(4, FAST);
        o.push("a");
        let mut now = t0;
        let mut events = Vec::new();
        let mut tries_at = Vec::new();
        // Three failures, then the endpoint answers.
        for k in 0..4 {
            loop {
                match o.next(now) {
                    Next::Send(p) => {
                        tries_at.push((now - t0).as_secs());
                        let r = if k < 3 { Err("refused".into()) } else { Ok(()) };
                        events.extend(o.report(p, r, now));
                        break;
                    }
                    Next::Wait(d) => now += d,
                    Next::Idle => panic!("idle with an alert queued"),
                }
            }
        }
        assert_eq!(tries_at, [0, 1, 3, 7]);
        assert_eq!(
            events,
            [
                Event::Down {
                    reason: "refused".into()
                },
                Event::Up {
                    failed_tries: 3,
                    down_for: Duration::from_secs(7),
                    dropped: 0
                }
            ]
        );
        assert!(o.is_empty());
        // The next alert goes at once: the backoff ended with the outage.
        o.push("b");
        assert_eq!(send(&mut o, now).item, "b");
    }

    #[test]
    fn an_alert_is_given_up_after_max_tries_and_counted_at_recovery() {
        let t0 = Instant::now();
        let mut o = Outbox::new(4, FAST);
        o.push(1);
        o.push(2);
        let mut now = t0;
        let mut sent = Vec::new();
        let mut events = Vec::new();
        // Down for FAST.max_tries tries: alert 1 is dropped, alert 2 then delivered.
        let mut tries = 0;
        loop {
            let p = match o.next(now) {
                Next::Send(p) => p,
                Next::Wait(d) => {
                    now += d;
                    continue;
                }
                Next::Idle => break,
            };
            tries += 1;
            assert!(tries < 100, "bounded");
            let item = p.item;
            let r = if tries <= FAST.max_tries {
                Err("HTTP 503".to_string())
            } else {
                sent.push(item);
                Ok(())
            };
            events.extend(o.report(p, r, now));
        }
        assert_eq!(sent, [2]);
        assert_eq!(events.len(), 2, "{events:?}");
        assert!(matches!(
            events[1],
            Event::Up {
                failed_tries: 5,
                dropped: 1,
                ..
            }
        ));
    }

    #[test]
    fn a_full_queue_drops_the_oldest() {
        let mut o = Outbox::new(3, FAST);
        for i in 0..5 {
            o.push(i);
        }
        assert_eq!(o.len(), 3);
        let now = Instant::now();
        let p = send(&mut o, now);
        assert_eq!(p.item, 2);
        // While 2 fails, more arrive: the queue stays bounded, 2 (the oldest) goes.
        o.push(5);
        o.push(6);
        assert!(o.report(p, Err("timeout".into()), now).is_some());
        assert_eq!(o.len(), 3);
        let later = now + Duration::from_secs(1);
        let items: Vec<i32> = std::iter::from_fn(|| match o.next(later) {
            Next::Send(p) => {
                let i = p.item;
                o.report(p, Ok(()), later);
                Some(i)
            }
            _ => None,
        })
        .collect();
        assert_eq!(items, [4, 5, 6]);
    }
}

//! The monitor loop: once per tick, read the sources into a [`Snapshot`], assess it,
//! remember it, and hand the result to every [`Sink`]. Data flows one way: sinks
//! present or store, they never feed back into sources.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::alerts::{AlertPolicy, Notifier, Snooze};
use crate::assess::{Assessment, Assessor, Transition};
use crate::config::Config;
use crate::history::{metrics_of, Recent, SampleBatch};
use crate::host::HostSource;
use crate::snapshot::{Snapshot, SourceProblem, Ts};

/// One tick's results, as every sink sees them.
#[derive(Debug, Clone)]
pub struct Tick {
    pub snapshot: Snapshot,
    pub assessment: Assessment,
    pub transitions: Vec<Transition>,
    /// This tick's chart metrics as a one-row batch.
    pub samples: SampleBatch,
}

/// Where ticks go: the UI bridge, the tray, the notifier, the history store, the CLI.
pub trait Sink: Send {
    fn on_tick(&mut self, tick: &Tick);
}

/// Wall-clock time for snapshots. Tests use [`TokioClock`] so paused time is coherent.
pub trait Clock: Send + Sync {
    fn now(&self) -> Ts;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Ts {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0)
    }
}

/// Unix time derived from tokio's clock, which follows `tokio::time::pause`/`advance`.
pub struct TokioClock {
    base: Ts,
    start: tokio::time::Instant,
}

impl TokioClock {
    pub fn starting_at(base: Ts) -> Self {
        TokioClock {
            base,
            start: tokio::time::Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> Ts {
        self.base + self.start.elapsed().as_secs_f64()
    }
}

/// What the rest of the program may read while the monitor runs.
#[derive(Clone, Default)]
pub struct MonitorHandle {
    pub recent: Arc<Mutex<Option<Recent>>>,
    pub latest: Arc<Mutex<Option<Tick>>>,
}

impl MonitorHandle {
    pub fn history(&self) -> SampleBatch {
        lock(&self.recent)
            .as_ref()
            .map(Recent::batch)
            .unwrap_or_default()
    }
    pub fn latest(&self) -> Option<Tick> {
        lock(&self.latest).clone()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A sink that turns transitions into notifications through the policy.
pub struct NotifySink {
    policy: AlertPolicy,
    notifier: Box<dyn Notifier>,
    failures: u64,
}

impl NotifySink {
    pub fn new(config: &Config, snooze: Snooze, notifier: Box<dyn Notifier>) -> Self {
        NotifySink {
            policy: AlertPolicy::new(config.notifications.clone(), snooze),
            notifier,
            failures: 0,
        }
    }
}

impl Sink for NotifySink {
    fn on_tick(&mut self, tick: &Tick) {
        for n in self.policy.decide(&tick.transitions) {
            if let Err(e) = self.notifier.notify(&n) {
                self.failures += 1;
                // Said once, then every 100th time: a missing notification server must
                // not fill the log.
                if self.failures == 1 || self.failures.is_multiple_of(100) {
                    tracing::warn!("cannot show a desktop notification ({e}); alerts still go to the window and the alert log");
                }
            }
        }
    }
}

pub struct Monitor {
    config: Config,
    host: Arc<Mutex<Box<dyn HostSource>>>,
    /// Real sources may block (statvfs on a dying disk): they are read on the blocking
    /// pool with a timeout. Fakes in tests are read inline.
    host_blocking: bool,
    clock: Box<dyn Clock>,
    sinks: Vec<Box<dyn Sink>>,
    assessor: Assessor,
    handle: MonitorHandle,
}

impl Monitor {
    pub fn new(config: Config, host: Box<dyn HostSource>) -> Self {
        let recent = Recent::new(
            config.monitor.memory_history_mins as f64 * 60.0,
            (config.monitor.memory_history_mins as f64 * 60.0 / config.monitor.interval_secs).ceil()
                as usize
                + 1,
        );
        let handle = MonitorHandle {
            recent: Arc::new(Mutex::new(Some(recent))),
            latest: Arc::default(),
        };
        Monitor {
            config,
            host: Arc::new(Mutex::new(host)),
            host_blocking: true,
            clock: Box::new(SystemClock),
            sinks: Vec::new(),
            assessor: Assessor::new(),
            handle,
        }
    }

    /// For fakes that never block, and paused-time tests.
    pub fn with_inline_sources(mut self) -> Self {
        self.host_blocking = false;
        self
    }

    pub fn with_clock(mut self, clock: Box<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub fn add_sink(&mut self, sink: Box<dyn Sink>) {
        self.sinks.push(sink);
    }

    pub fn handle(&self) -> MonitorHandle {
        self.handle.clone()
    }

    /// Runs until `cancel` fires: one priming read, then a tick every interval.
    pub async fn run(mut self, cancel: CancellationToken) {
        let interval = Duration::from_secs_f64(self.config.monitor.interval_secs);
        self.prime().await;
        // CPU usage is a difference of two readings; give the first one some width.
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(interval.min(Duration::from_millis(500))) => {}
        }
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = ticker.tick() => self.tick().await,
            }
        }
    }

    async fn prime(&mut self) {
        let host = self.host.clone();
        if self.host_blocking {
            let _ = tokio::task::spawn_blocking(move || lock(&host).prime()).await;
        } else {
            lock(&host).prime();
        }
    }

    /// Reads, assesses and reports one tick.
    pub async fn tick(&mut self) {
        let mut snapshot = Snapshot {
            ts: self.clock.now(),
            ..Default::default()
        };
        match self.read_host().await {
            Ok(h) => snapshot.host = Some(h),
            Err(e) => snapshot.problems.push(SourceProblem {
                source: "host".into(),
                message: e,
            }),
        }
        let (assessment, transitions) = self.assessor.assess(&snapshot, &self.config.thresholds);
        let metrics: BTreeMap<String, Option<f64>> = metrics_of(&snapshot, &assessment);
        if let Some(r) = lock(&self.handle.recent).as_mut() {
            r.push(snapshot.ts, &metrics);
        }
        let samples = SampleBatch {
            ts: vec![snapshot.ts],
            series: metrics.into_iter().map(|(k, v)| (k, vec![v])).collect(),
        };
        let tick = Tick {
            snapshot,
            assessment,
            transitions,
            samples,
        };
        // Sinks may read the handle (the window's state view): publish first.
        *lock(&self.handle.latest) = Some(tick.clone());
        for sink in &mut self.sinks {
            sink.on_tick(&tick);
        }
    }

    async fn read_host(&mut self) -> Result<crate::snapshot::HostSample, String> {
        if !self.host_blocking {
            return lock(&self.host).sample();
        }
        let host = self.host.clone();
        // A read still stuck from an earlier tick holds the lock: report a gap instead
        // of queueing more stuck threads behind it.
        let budget = Duration::from_secs_f64((self.config.monitor.interval_secs * 0.8).max(0.5));
        let job = tokio::task::spawn_blocking(move || match host.try_lock() {
            Ok(mut h) => h.sample(),
            Err(_) => Err("host sampling is still stuck in an earlier read".into()),
        });
        match tokio::time::timeout(budget, job).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => Err(format!("host sampling failed: {e}")),
            Err(_) => Err(format!(
                "host sampling took longer than {:.1} s (a hung filesystem?)",
                budget.as_secs_f64()
            )),
        }
    }
}

#[cfg(test)]
mod tests;

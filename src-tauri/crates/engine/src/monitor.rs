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
use crate::maillog::{Aggregator, SharedAggregator, StartAt, THROTTLING_WINDOW_S};
use crate::mta::{MtaSource, QueueDetails, QueueLister};
use crate::probe::{Probe, ProbeBook, ProbeNow, ProbeResult, Scheduler, SchedulerHandle};
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

impl Tick {
    /// A tick that carries only chart samples (no readings, no items, level ok): what
    /// the history store's tests and benchmarks feed it.
    pub fn of_samples(ts: Ts, samples: impl IntoIterator<Item = (String, Option<f64>)>) -> Tick {
        Tick {
            snapshot: Snapshot {
                ts,
                ..Default::default()
            },
            assessment: Assessment {
                ts,
                status: crate::assess::Level::Ok,
                items: Vec::new(),
            },
            transitions: Vec::new(),
            samples: SampleBatch {
                ts: vec![ts],
                series: samples.into_iter().map(|(k, v)| (k, vec![v])).collect(),
            },
        }
    }
}

/// Where ticks go: the UI bridge, the tray, the notifier, the history store, the CLI.
pub trait Sink: Send {
    fn on_tick(&mut self, tick: &Tick);
    /// A probe finished (scheduled or "Probe now"); called as soon as it does, so the
    /// probe log does not wait for the next tick. Its items change at the next tick.
    fn on_probe(&mut self, _result: &ProbeResult) {}
    /// New settings were applied (thresholds, intervals, notifications, probes).
    fn on_config(&mut self, _config: &Config) {}
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
    scheduler: Arc<Mutex<Option<SchedulerHandle>>>,
    /// Deferrals read from the mail log, per destination (for the destinations panel).
    pub maillog: Option<SharedAggregator>,
    reconfigure: Option<tokio::sync::mpsc::UnboundedSender<Config>>,
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

    /// "Probe now": every target probes at once unless it is probing already or just
    /// did (debounced). Results reach the sinks' `on_probe`.
    pub fn probe_now(&self) -> ProbeNow {
        match lock(&self.scheduler).as_ref() {
            Some(s) => s.probe_now(),
            None => ProbeNow::NoTargets,
        }
    }

    /// Applies new settings without a restart: thresholds at the next tick, the
    /// interval, probe targets and notification settings at once. Level history and
    /// charts carry on. Returns false when the monitor has stopped.
    pub fn reconfigure(&self, config: Config) -> bool {
        self.reconfigure
            .as_ref()
            .is_some_and(|tx| tx.send(config).is_ok())
    }

    /// Whether a probe is in flight (for a progress indicator).
    pub fn probing(&self) -> bool {
        lock(&self.scheduler)
            .as_ref()
            .is_some_and(|s| s.is_running())
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
    fn on_config(&mut self, config: &Config) {
        self.policy.set_settings(config.notifications.clone());
    }

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
    mta: Option<MtaReader>,
    /// Probes waiting for `run` to schedule them, and what they reported since.
    probes: Vec<Probe>,
    probe_book: ProbeBook,
    maillog: Option<MaillogReader>,
    reconfigure: tokio::sync::mpsc::UnboundedReceiver<Config>,
}

/// The mail-log followers (started by `run`) and the aggregate they feed.
struct MaillogReader {
    sources: Vec<crate::config::MaillogSource>,
    agg: SharedAggregator,
    /// Why a follower stopped, reported with every tick until it runs again.
    problems: Arc<Mutex<BTreeMap<String, String>>>,
}

/// The mail server source and its background queue listing.
struct MtaReader {
    source: Arc<Mutex<Box<dyn MtaSource>>>,
    /// Taken by `run`, which gives it a task of its own.
    lister: Option<Box<dyn QueueLister>>,
    listing: Arc<Mutex<Listing>>,
}

/// What the background listing last produced.
#[derive(Default)]
struct Listing {
    details: Option<QueueDetails>,
    error: Option<String>,
    /// Messages queued at the last tick or listing (`None` before either): the
    /// listing's cadence scales with it.
    queued: Option<u64>,
}

impl Monitor {
    pub fn new(config: Config, host: Box<dyn HostSource>) -> Self {
        let recent = Recent::new(
            config.monitor.memory_history_mins as f64 * 60.0,
            (config.monitor.memory_history_mins as f64 * 60.0 / config.monitor.interval_secs).ceil()
                as usize
                + 1,
        );
        let (reconfigure_tx, reconfigure) = tokio::sync::mpsc::unbounded_channel();
        let handle = MonitorHandle {
            recent: Arc::new(Mutex::new(Some(recent))),
            latest: Arc::default(),
            scheduler: Arc::default(),
            maillog: None,
            reconfigure: Some(reconfigure_tx),
        };
        Monitor {
            config,
            host: Arc::new(Mutex::new(host)),
            host_blocking: true,
            clock: Box::new(SystemClock),
            sinks: Vec::new(),
            assessor: Assessor::new(),
            handle,
            mta: None,
            probes: Vec::new(),
            probe_book: ProbeBook::new(),
            maillog: None,
            reconfigure,
        }
    }

    /// Follows these mail logs (an empty list means the default: /var/log/mail.log when
    /// readable, else journald) and assesses `remote_throttling` from them.
    pub fn with_maillog(mut self, sources: Vec<crate::config::MaillogSource>) -> Self {
        let agg = Aggregator::shared();
        self.handle.maillog = Some(agg.clone());
        self.maillog = Some(MaillogReader {
            sources,
            agg,
            problems: Arc::default(),
        });
        self
    }

    /// Probes these targets, each on its own interval, from the moment `run` starts.
    pub fn with_probes(mut self, probes: Vec<Probe>) -> Self {
        self.probes = probes;
        self
    }

    /// Reads this mail server every tick (off the runtime, with a timeout) and, when it
    /// has one, runs its slow queue listing (`postqueue -j`) in a task of its own whose
    /// cadence scales with the queue size, so a listing never delays a tick.
    pub fn with_mta(mut self, source: Box<dyn MtaSource>) -> Self {
        self.mta = Some(MtaReader {
            lister: source.lister(),
            source: Arc::new(Mutex::new(source)),
            listing: Arc::default(),
        });
        self
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
        if let Some(lister) = self.mta.as_mut().and_then(|m| m.lister.take()) {
            let listing = self
                .mta
                .as_ref()
                .map(|m| m.listing.clone())
                .unwrap_or_default();
            tokio::spawn(run_listing(lister, listing, interval, cancel.clone()));
        }
        if let Some(m) = &mut self.maillog {
            if m.sources.is_empty() {
                m.sources = default_maillogs(self.config.mta.clone()).await;
            }
            spawn_maillog(m, cancel.clone());
        }
        let (probe_tx, mut probe_rx) = tokio::sync::mpsc::unbounded_channel::<ProbeResult>();
        let probes = std::mem::take(&mut self.probes);
        self.start_probes(probes, &probe_tx, &cancel).await;
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = ticker.tick() => self.tick().await,
                Some(r) = probe_rx.recv() => self.on_probe(r),
                Some(c) = self.reconfigure.recv() => {
                    let new_interval = Duration::from_secs_f64(c.monitor.interval_secs);
                    if new_interval != ticker.period() {
                        ticker = tokio::time::interval_at(tokio::time::Instant::now() + new_interval, new_interval);
                        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    }
                    if c.probes != self.config.probes {
                        let probes = valid_probes(&c);
                        self.start_probes(probes, &probe_tx, &cancel).await;
                    }
                    for sink in &mut self.sinks {
                        sink.on_config(&c);
                    }
                    self.config = c;
                }
            }
        }
        let scheduler = lock(&self.handle.scheduler).take();
        if let Some(s) = scheduler {
            s.shutdown().await;
        }
    }

    /// Replaces the running probe scheduler (if any) with one for `probes`.
    async fn start_probes(
        &mut self,
        probes: Vec<Probe>,
        tx: &tokio::sync::mpsc::UnboundedSender<ProbeResult>,
        cancel: &CancellationToken,
    ) {
        let old = lock(&self.handle.scheduler).take();
        if let Some(s) = old {
            s.shutdown().await;
        }
        let names: Vec<String> = probes.iter().map(|p| p.spec().name.clone()).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        self.probe_book.retain(&names);
        if probes.is_empty() {
            return;
        }
        let tx = tx.clone();
        let scheduler = Scheduler::spawn(probes, cancel.child_token(), move |r| {
            let _ = tx.send(r);
        });
        *lock(&self.handle.scheduler) = Some(scheduler);
    }

    /// Records a probe result for the next tick's items and hands it to the sinks now.
    pub fn on_probe(&mut self, r: ProbeResult) {
        for sink in &mut self.sinks {
            sink.on_probe(&r);
        }
        self.probe_book.record(r);
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
        snapshot.probes = self.probe_book.statuses();
        if let Some(m) = &self.maillog {
            snapshot.throttling =
                Some(lock(&m.agg).remote_throttling(snapshot.ts, THROTTLING_WINDOW_S));
            for (source, message) in lock(&m.problems).iter() {
                snapshot.problems.push(SourceProblem {
                    source: format!("mail log {source}"),
                    message: message.clone(),
                });
            }
        }
        if self.mta.is_some() {
            match self.read_mta().await {
                Ok(m) => snapshot.mta = Some(m),
                Err(e) => snapshot.problems.push(SourceProblem {
                    source: "mta".into(),
                    message: e,
                }),
            }
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

    async fn read_mta(&mut self) -> Result<crate::mta::MtaSample, String> {
        let Some((source, listing)) = self
            .mta
            .as_ref()
            .map(|m| (m.source.clone(), m.listing.clone()))
        else {
            return Err("no mail server configured".into());
        };
        let mut sample = if self.host_blocking {
            let budget =
                Duration::from_secs_f64((self.config.monitor.interval_secs * 0.8).max(0.5));
            let job = tokio::task::spawn_blocking(move || match source.try_lock() {
                Ok(mut s) => s.sample(),
                Err(_) => Err("mail server sampling is still stuck in an earlier read".into()),
            });
            match tokio::time::timeout(budget, job).await {
                Ok(Ok(r)) => r?,
                Ok(Err(e)) => return Err(format!("mail server sampling failed: {e}")),
                Err(_) => {
                    return Err(format!(
                        "mail server sampling took longer than {:.1} s",
                        budget.as_secs_f64()
                    ))
                }
            }
        } else {
            lock(&source).sample()?
        };
        let mut listing = lock(&listing);
        if let Some(q) = &sample.queue {
            listing.queued = Some(q.total());
        }
        crate::mta::merge_details(&mut sample, listing.details.as_ref(), self.clock.now());
        if let Some(e) = &listing.error {
            sample.notes.push(e.clone());
        }
        Ok(sample)
    }

    async fn read_host(&mut self) -> Result<crate::host::HostSample, String> {
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

/// The background queue listing: one listing, then a pause scaled to the queue size,
/// until cancelled. A listing is killed at its budget by the lister itself.
async fn run_listing(
    lister: Box<dyn QueueLister>,
    listing: Arc<Mutex<Listing>>,
    tick: Duration,
    cancel: CancellationToken,
) {
    let lister = Arc::new(Mutex::new(lister));
    loop {
        // Before anything is counted the queue may be huge: give the first listing the
        // largest budget rather than killing it early.
        let budget = match lock(&listing).queued {
            Some(q) => crate::mta::listing_cadence(q, tick).1,
            None => crate::mta::listing_cadence(u64::MAX, tick).1,
        };
        let l = lister.clone();
        let job = tokio::task::spawn_blocking(move || lock(&l).list(budget));
        let result = tokio::select! {
            _ = cancel.cancelled() => return,
            r = tokio::time::timeout(budget + Duration::from_secs(5), job) => r,
        };
        let pause = {
            let mut state = lock(&listing);
            match result {
                Ok(Ok(Ok(d))) => {
                    state.error = d.note.clone().filter(|_| !d.complete);
                    state.queued = Some(state.queued.unwrap_or(0).max(d.messages));
                    state.details = Some(d);
                }
                Ok(Ok(Err(e))) => state.error = Some(format!("queue listing: {e}")),
                Ok(Err(e)) => state.error = Some(format!("queue listing failed: {e}")),
                Err(_) => {
                    state.error = Some(format!(
                        "queue listing did not return within {:.0} s",
                        budget.as_secs_f64()
                    ))
                }
            }
            crate::mta::listing_cadence(state.queued.unwrap_or(0), tick).0
        };
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(pause) => {}
        }
    }
}

/// The configured targets that pass validation; the others are logged and skipped
/// (the window validates settings before they get here).
fn valid_probes(c: &Config) -> Vec<Probe> {
    c.probes
        .iter()
        .filter_map(
            |t| match crate::probe::ProbeSpec::from_target(t).validate() {
                Ok(p) => Some(p),
                Err(e) => {
                    tracing::warn!("probe `{}` skipped: {e}", t.name);
                    None
                }
            },
        )
        .collect()
}

/// The mail log to follow when none is configured: Postfix's own `maillog_file` when it
/// writes one, else /var/log/mail.log when readable, else journald.
async fn default_maillogs(mta: crate::config::MtaConfig) -> Vec<crate::config::MaillogSource> {
    let own = tokio::task::spawn_blocking(move || crate::mta::postfix_maillog_file(&mta))
        .await
        .ok()
        .flatten();
    let syslog = std::path::PathBuf::from("/var/log/mail.log");
    let path = own.or_else(|| std::fs::File::open(&syslog).is_ok().then_some(syslog));
    vec![crate::config::MaillogSource {
        path,
        backfill_mins: 0.0,
    }]
}

/// Starts one follower per mail log. A follower that fails (unreadable file, no
/// journalctl) reports why through `problems` and retries every 30 s, so a log that
/// appears later (logrotate, a permission fix) is picked up without a restart.
fn spawn_maillog(m: &MaillogReader, cancel: CancellationToken) {
    for src in m.sources.clone() {
        let agg = m.agg.clone();
        let problems = m.problems.clone();
        let cancel = cancel.clone();
        let name = match &src.path {
            Some(p) => p.display().to_string(),
            None => "journald".to_string(),
        };
        let backfill =
            (src.backfill_mins > 0.0).then(|| Duration::from_secs_f64(src.backfill_mins * 60.0));
        tokio::spawn(async move {
            let mut first = true;
            loop {
                // Say what is wrong for as long as it is wrong, and no longer.
                let ready = match &src.path {
                    Some(p) => std::fs::File::open(p)
                        .map(|_| ())
                        .map_err(|e| e.to_string()),
                    None => {
                        let j = crate::maillog::JournalSource::default().journalctl;
                        if j.exists() {
                            Ok(())
                        } else {
                            Err(format!(
                                "no /var/log/mail.log to read and {} is not installed; set [[maillog]] path",
                                j.display()
                            ))
                        }
                    }
                };
                if let Err(why) = ready {
                    lock(&problems).insert(name.clone(), why);
                    tokio::select! {
                        _ = cancel.cancelled() => return,
                        _ = tokio::time::sleep(Duration::from_secs(30)) => {}
                    }
                    continue;
                }
                lock(&problems).remove(&name);
                let result = match &src.path {
                    Some(p) => {
                        let start = match (first, backfill) {
                            (true, Some(d)) => StartAt::Backfill(d),
                            _ => StartAt::End,
                        };
                        crate::maillog::follow_file(
                            p.clone(),
                            start,
                            Duration::from_millis(500),
                            agg.clone(),
                            cancel.clone(),
                        )
                        .await
                    }
                    None => {
                        let source = crate::maillog::JournalSource {
                            backfill: if first { backfill } else { None },
                            ..Default::default()
                        };
                        crate::maillog::follow_journal(source, agg.clone(), cancel.clone()).await
                    }
                };
                first = false;
                if cancel.is_cancelled() {
                    return;
                }
                let why = match result {
                    Ok(()) => "stopped; restarting".to_string(),
                    Err(e) => e.to_string(),
                };
                lock(&problems).insert(name.clone(), why);
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_secs(30)) => {}
                }
            }
        });
    }
}

#[cfg(test)]
mod tests;

//! The monitor loop: once per tick, read the sources into a [`Snapshot`], assess it,
//! remember it, and hand the result to every [`Sink`]. Data flows one way: sinks
//! present or store, they never feed back into sources. Hosts do not assemble a
//! monitor themselves: [`crate::runtime`] builds it from the configuration.
//!
//! Long (~650 lines) because the loop, the one-shot reading and the bounded blocking
//! reads are one idea: how a tick reads its sources without ever waiting on them.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::assess::{domain_items, Assessor};
use crate::config::Config;
use crate::domain::{Checker, DomainReading, Scope};
use crate::history::Recent;
use crate::host::HostSource;
use crate::lock::lock;
use crate::maillog::{MaillogFollowers, MaillogReport, SharedAggregator, THROTTLING_WINDOW_S};
use crate::mta::{MtaSample, MtaSource, QueueLister, QueueListing};
use crate::probe::{Probe, ProbeBook, ProbeNow, ProbeResult, Scheduler, SchedulerHandle};
use crate::snapshot::{ProblemKind, Snapshot, SourceProblem};
use crate::tick::{metrics_of, SampleBatch, Sink, Tick};
use crate::time::{Clock, SystemClock, Ts};

/// What the rest of the program may read while the monitor runs.
#[derive(Clone, Default)]
pub struct MonitorHandle {
    pub recent: Arc<Mutex<Option<Recent>>>,
    pub latest: Arc<Mutex<Option<Tick>>>,
    scheduler: Arc<Mutex<Option<SchedulerHandle>>>,
    /// Deferrals read from the mail log, per destination (for the destinations panel).
    pub maillog: Option<SharedAggregator>,
    reconfigure: Option<tokio::sync::mpsc::UnboundedSender<Config>>,
    /// Why the monitor task ended when nobody asked it to (set by the runtime's
    /// supervisor): hosts show it instead of a status that silently stopped changing.
    stopped: Arc<Mutex<Option<String>>>,
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

    /// The destinations panel over the last `window_s` before `now` (`None` without a
    /// mail log): explanations cite the limits read at the latest tick, and causes are
    /// judged against its round of the domain checks.
    pub fn destinations(&self, now: Ts, window_s: f64) -> Option<MaillogReport> {
        let agg = self.maillog.as_ref()?;
        // Copied out, so the tick lock is never held while the aggregator's is taken.
        let (limits, domain) = {
            let latest = lock(&self.latest);
            let snapshot = latest.as_ref().map(|t| &t.snapshot);
            (
                snapshot
                    .and_then(|s| s.mta.as_ref())
                    .map(|m| m.known_limits())
                    .unwrap_or_default(),
                snapshot.and_then(|s| s.domain.clone()),
            )
        };
        let report = lock(agg).report(now, window_s, &limits, domain.as_ref());
        Some(report)
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

    /// Why the monitor stopped on its own, if it did.
    pub fn stopped(&self) -> Option<String> {
        lock(&self.stopped).clone()
    }

    pub(crate) fn set_stopped(&self, why: String) {
        *lock(&self.stopped) = Some(why);
    }
}

pub struct Monitor {
    config: Config,
    host: Arc<Mutex<Box<dyn HostSource>>>,
    /// Real sources may block (statvfs on a dying disk): they are read on the blocking
    /// pool with a timeout. Fakes in tests are read inline.
    blocking_sources: bool,
    clock: Box<dyn Clock>,
    sinks: Vec<Box<dyn Sink>>,
    assessor: Assessor,
    handle: MonitorHandle,
    mta: Option<MtaReader>,
    /// Probes waiting for `run` to schedule them, and what they reported since.
    probes: Vec<Probe>,
    probe_book: ProbeBook,
    maillog: Option<MaillogFollowers>,
    domain: Option<DomainWatch>,
    reconfigure: tokio::sync::mpsc::UnboundedReceiver<Config>,
}

/// The domain checks (`[dns] watch`): a round at start and every `interval_mins` in a
/// task of their own (a dead resolver costs seconds per look-up, never a tick), the
/// latest round riding in every snapshot.
struct DomainWatch {
    checker: Result<Arc<Checker>, String>,
    scope: Scope,
    latest: Arc<Mutex<Option<DomainReading>>>,
}

/// How long a one-shot check waits for a round of the domain checks: asked for
/// (`[dns] watch = true`), long enough for a slow resolver; by default, short enough
/// for a Nagios plugin's 10 s timeout — the monitor and `headroom-cli dns` run the
/// checks in full.
fn domain_once_budget(scope: Scope) -> Duration {
    match scope {
        Scope::Asked => Duration::from_secs(30),
        Scope::Default => Duration::from_secs(5),
    }
}

/// The mail server source and its background queue listing.
struct MtaReader {
    source: Arc<Mutex<Box<dyn MtaSource>>>,
    /// Taken by `run`, which gives it a task of its own.
    lister: Option<Box<dyn QueueLister>>,
    listing: QueueListing,
}

/// How long one read of a source may take before the tick reports a gap: most of an
/// interval, so a hung statvfs or postconf never delays the next tick.
fn read_budget(interval_secs: f64) -> Duration {
    Duration::try_from_secs_f64((interval_secs * 0.8).max(0.5)).unwrap_or(Duration::MAX)
}

/// The tick interval; config validation bounds it (0.2 s to 1 h).
fn interval_of(config: &Config) -> Duration {
    Duration::try_from_secs_f64(config.monitor.interval_secs).unwrap_or(Duration::from_secs(5))
}

/// The configuration as the monitor applies it: the domain items' default ratios
/// filled in wherever the user set none.
fn effective(mut config: Config) -> Config {
    config.thresholds = domain_items::with_defaults(&config.thresholds, &config.tls);
    config
}

impl Monitor {
    pub fn new(config: Config, host: Box<dyn HostSource>) -> Self {
        let config = effective(config);
        let mut assessor = Assessor::new();
        assessor.set_tls(config.tls.clone());
        let window_s = config.monitor.memory_history_mins as f64 * 60.0;
        let recent = Recent::new(
            window_s,
            (window_s / config.monitor.interval_secs).ceil() as usize + 1,
        );
        let (reconfigure_tx, reconfigure) = tokio::sync::mpsc::unbounded_channel();
        let handle = MonitorHandle {
            recent: Arc::new(Mutex::new(Some(recent))),
            reconfigure: Some(reconfigure_tx),
            ..Default::default()
        };
        Monitor {
            config,
            host: Arc::new(Mutex::new(host)),
            blocking_sources: true,
            clock: Box::new(SystemClock),
            sinks: Vec::new(),
            assessor,
            handle,
            mta: None,
            probes: Vec::new(),
            probe_book: ProbeBook::new(),
            maillog: None,
            domain: None,
            reconfigure,
        }
    }

    /// Runs the domain checks with this checker in this scope (or reports why there is
    /// no checker, every tick, so the domain items are unknown with the reason).
    pub fn with_domain(mut self, checker: Result<Checker, String>, scope: Scope) -> Self {
        self.domain = Some(DomainWatch {
            checker: checker.map(Arc::new),
            scope,
            latest: Arc::default(),
        });
        self
    }

    /// Follows these mail logs (an empty list means the default: Postfix's own
    /// `maillog_file`, else /var/log/mail.log, else journald) and assesses
    /// `remote_throttling` from them.
    pub fn with_maillog(mut self, sources: Vec<crate::config::MaillogSource>) -> Self {
        let followers = MaillogFollowers::new(sources);
        self.handle.maillog = Some(followers.aggregate());
        self.maillog = Some(followers);
        self
    }

    /// Probes these targets, each on its own interval, from the moment `run` starts.
    pub fn with_probes(mut self, probes: Vec<Probe>) -> Self {
        self.probes = probes;
        self
    }

    /// Reads this mail server every tick (off the runtime, with a timeout) and, when it
    /// has one, runs its slow queue listing in a task of its own (see [`QueueListing`]).
    pub fn with_mta(mut self, source: Box<dyn MtaSource>) -> Self {
        self.mta = Some(MtaReader {
            lister: source.lister(),
            source: Arc::new(Mutex::new(source)),
            listing: QueueListing::default(),
        });
        self
    }

    /// For fakes that never block, and paused-time tests.
    pub fn with_inline_sources(mut self) -> Self {
        self.blocking_sources = false;
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
        let interval = interval_of(&self.config);
        self.prime().await;
        // CPU usage is a difference of two readings; give the first one some width.
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(interval.min(Duration::from_millis(500))) => {}
        }
        if let Some(m) = self.mta.as_mut() {
            if let Some(lister) = m.lister.take() {
                m.listing = QueueListing::spawn(lister, interval, cancel.clone());
            }
        }
        if let Some(m) = &mut self.maillog {
            m.start(&self.config.mta, &cancel).await;
        }
        if let Some(DomainWatch {
            checker: Ok(checker),
            scope,
            latest,
        }) = &self.domain
        {
            tokio::spawn(watch_domain(
                checker.clone(),
                *scope,
                latest.clone(),
                self.config.clone(),
                cancel.clone(),
            ));
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
                    let c = effective(c);
                    self.assessor.set_tls(c.tls.clone());
                    let new_interval = interval_of(&c);
                    if new_interval != ticker.period() {
                        ticker = tokio::time::interval_at(tokio::time::Instant::now() + new_interval, new_interval);
                        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    }
                    if c.probes != self.config.probes {
                        let (probes, _) = crate::probe::probes_of(&c.probes);
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

    /// One reading of every source, probes included, and its assessment, without
    /// starting the loop: what `headroom-cli check` prints. Sources get longer budgets
    /// than a tick (nothing waits behind them), and the queue is listed once when mail
    /// is queued, for true ages and delay reasons.
    pub async fn once(mut self) -> Tick {
        self.prime().await;
        let probes: Vec<_> = std::mem::take(&mut self.probes)
            .into_iter()
            .map(|p| tokio::spawn(async move { p.run().await }))
            .collect();
        // CPU usage is a difference of two readings.
        tokio::time::sleep(Duration::from_millis(250)).await;
        let mut snapshot = self.new_snapshot();
        self.read_host_into(&mut snapshot, Duration::from_secs(10))
            .await;
        if self.mta.is_some() {
            match self.read_mta_once(Duration::from_secs(30)).await {
                Ok(m) => snapshot.mta = Some(m),
                Err(e) => snapshot.problems.push(problem("mta", e)),
            }
        }
        if let Some(DomainWatch {
            checker: Ok(checker),
            scope,
            latest,
        }) = &self.domain
        {
            let budget = domain_once_budget(*scope);
            let round = tokio::time::timeout(budget, checker.run(&self.config, *scope)).await;
            match (round, scope) {
                (Ok(r), _) => *lock(latest) = Some(r),
                (Err(_), Scope::Asked) => snapshot.problems.push(problem(
                    "domain",
                    format!(
                        "the domain checks took longer than {} s",
                        budget.as_secs()
                    ),
                )),
                (Err(_), Scope::Default) => snapshot.problems.push(SourceProblem {
                    source: DOMAIN_NOTES.into(),
                    message: format!(
                        "the domain checks did not finish within {} s (a slow or unreachable resolver?); `headroom-cli dns` runs them in full, and the monitor keeps running them",
                        budget.as_secs()
                    ),
                    kind: ProblemKind::Absent,
                }),
            }
        }
        self.domain_into(&mut snapshot);
        for p in probes {
            match p.await {
                Ok(r) => {
                    self.probe_book.record(r);
                }
                Err(e) => snapshot.problems.push(problem("probe", e.to_string())),
            }
        }
        snapshot.probes = self.probe_book.statuses();
        self.finish(snapshot)
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
        if self.blocking_sources {
            let _ = tokio::task::spawn_blocking(move || lock(&host).prime()).await;
        } else {
            lock(&host).prime();
        }
    }

    fn new_snapshot(&self) -> Snapshot {
        Snapshot {
            ts: self.clock.now(),
            ..Default::default()
        }
    }

    /// Reads, assesses and reports one tick.
    pub async fn tick(&mut self) {
        let mut snapshot = self.new_snapshot();
        let budget = read_budget(self.config.monitor.interval_secs);
        self.read_host_into(&mut snapshot, budget).await;
        snapshot.probes = self.probe_book.statuses();
        if let Some(m) = &self.maillog {
            snapshot.throttling =
                Some(lock(&m.aggregate()).remote_throttling(snapshot.ts, THROTTLING_WINDOW_S));
            // A host with no mail log is a note in plain words, not a failure.
            snapshot
                .problems
                .extend(m.problems().into_iter().map(|p| SourceProblem {
                    source: format!("mail log {}", p.log),
                    message: p.message,
                    kind: if p.no_mail_log {
                        ProblemKind::Absent
                    } else {
                        ProblemKind::Failed
                    },
                }));
        }
        if self.mta.is_some() {
            match self.read_mta(budget).await {
                Ok(m) => snapshot.mta = Some(m),
                Err(e) => snapshot.problems.push(problem("mta", e)),
            }
        }
        self.domain_into(&mut snapshot);
        let tick = self.finish(snapshot);
        // Sinks may read the handle (the window's state view): publish first.
        *lock(&self.handle.latest) = Some(tick.clone());
        for sink in &mut self.sinks {
            sink.on_tick(&tick);
        }
    }

    /// The latest domain round into the snapshot (its notes as notes), or why there is
    /// none.
    fn domain_into(&self, snapshot: &mut Snapshot) {
        match &self.domain {
            Some(DomainWatch {
                checker: Ok(_),
                latest,
                ..
            }) => {
                snapshot.domain = lock(latest).clone();
                let notes = snapshot.domain.iter().flat_map(|d| &d.notes);
                snapshot.problems.extend(notes.map(|message| SourceProblem {
                    source: DOMAIN_NOTES.into(),
                    message: message.clone(),
                    kind: ProblemKind::Absent,
                }));
            }
            Some(DomainWatch {
                checker: Err(why), ..
            }) => snapshot.problems.push(problem("domain", why.clone())),
            None => {}
        }
    }

    /// Assesses a snapshot into a tick and remembers its chart samples.
    fn finish(&mut self, snapshot: Snapshot) -> Tick {
        let (assessment, transitions) = self.assessor.assess(&snapshot, &self.config.thresholds);
        let metrics = metrics_of(&snapshot, &assessment);
        if let Some(r) = lock(&self.handle.recent).as_mut() {
            r.push(snapshot.ts, &metrics);
        }
        let samples = SampleBatch {
            ts: vec![snapshot.ts],
            series: metrics.into_iter().map(|(k, v)| (k, vec![v])).collect(),
        };
        Tick {
            snapshot,
            assessment,
            transitions,
            samples,
        }
    }

    async fn read_host_into(&mut self, snapshot: &mut Snapshot, budget: Duration) {
        let read = if self.blocking_sources {
            read_blocking(
                self.host.clone(),
                budget,
                "host sampling",
                " (a hung filesystem?)",
                |h| h.sample(),
            )
            .await
        } else {
            lock(&self.host).sample().map_err(|e| e.to_string())
        };
        match read {
            Ok(h) => snapshot.host = Some(h),
            Err(e) => snapshot.problems.push(problem("host", e)),
        }
    }

    async fn read_mta(&mut self, budget: Duration) -> Result<MtaSample, String> {
        // Owned handles: a borrow of the reader (whose lister is not Sync) must not
        // live across the await.
        let Some((source, listing)) = self
            .mta
            .as_ref()
            .map(|m| (m.source.clone(), m.listing.clone()))
        else {
            return Err("no mail server configured".into());
        };
        let mut sample = if self.blocking_sources {
            read_blocking(source, budget, "mail server sampling", "", |s| s.sample()).await?
        } else {
            lock(&source).sample().map_err(|e| e.to_string())?
        };
        listing.merge_into(&mut sample, self.clock.now());
        Ok(sample)
    }

    /// [`Self::read_mta`], and when mail is queued on a running server one listing of
    /// the queue right away (a one-shot check has no background listing to wait for).
    async fn read_mta_once(&mut self, budget: Duration) -> Result<MtaSample, String> {
        let lister = self.mta.as_mut().and_then(|m| m.lister.take());
        let source = self.mta.as_ref().map(|m| m.source.clone());
        if let (Some(mut lister), Some(source)) = (lister, source) {
            let job = tokio::task::spawn_blocking(move || {
                let sample = lock(&source).sample();
                let queued = sample.as_ref().ok().and_then(|s| s.queue.as_ref());
                let listing = match (queued.map(|q| q.total()), &sample) {
                    (Some(0), _) | (_, Err(_)) => QueueListing::default(),
                    (_, Ok(s)) if !s.is_running() => QueueListing::default(),
                    _ => QueueListing::once(lister.as_mut(), Duration::from_secs(20)),
                };
                (sample, listing)
            });
            return match tokio::time::timeout(budget, job).await {
                Ok(Ok((Ok(mut sample), listing))) => {
                    listing.merge_into(&mut sample, self.clock.now());
                    Ok(sample)
                }
                Ok(Ok((Err(e), _))) => Err(e.to_string()),
                Ok(Err(e)) => Err(format!("mail server sampling failed: {e}")),
                Err(_) => Err(format!(
                    "mail server sampling took longer than {:.0} s",
                    budget.as_secs_f64()
                )),
            };
        }
        self.read_mta(budget).await
    }
}

/// The source name of the domain checks' notes: not the items' source ("domain"),
/// whose problems turn the items unknown; a note says what is not checked and why.
const DOMAIN_NOTES: &str = "domain checks";

/// One round of the domain checks now and every `[dns] interval_mins`, until cancelled.
async fn watch_domain(
    checker: Arc<Checker>,
    scope: Scope,
    latest: Arc<Mutex<Option<DomainReading>>>,
    config: Config,
    cancel: CancellationToken,
) {
    let every = Duration::try_from_secs_f64(config.dns.interval_mins * 60.0)
        .unwrap_or(Duration::from_secs(15 * 60));
    loop {
        let round = tokio::select! {
            _ = cancel.cancelled() => return,
            r = checker.run(&config, scope) => r,
        };
        *lock(&latest) = Some(round);
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

/// Reads a source on the blocking pool within `budget`. A read still stuck from an
/// earlier tick holds the lock: report a gap instead of queueing more stuck threads
/// behind it.
async fn read_blocking<S, T, E>(
    source: Arc<Mutex<Box<S>>>,
    budget: Duration,
    what: &'static str,
    hint: &'static str,
    read: impl FnOnce(&mut S) -> Result<T, E> + Send + 'static,
) -> Result<T, String>
where
    S: ?Sized + Send + 'static,
    T: Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    let job = tokio::task::spawn_blocking(move || match source.try_lock() {
        Ok(mut s) => read(&mut **s).map_err(|e| e.to_string()),
        Err(_) => Err(format!("{what} is still stuck in an earlier read")),
    });
    match tokio::time::timeout(budget, job).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => Err(format!("{what} failed: {e}")),
        Err(_) => Err(format!(
            "{what} took longer than {:.1} s{hint}",
            budget.as_secs_f64()
        )),
    }
}

fn problem(source: &str, message: String) -> SourceProblem {
    SourceProblem {
        source: source.to_string(),
        message,
        kind: Default::default(),
    }
}

#[cfg(test)]
mod tests;

//! Runs each configured probe on its own interval, with jitter so targets (and many
//! Headroom installs) do not probe in lockstep, and on demand ("Probe now").
//!
//! One task per target runs its probes one after another, so two probes of one target
//! never overlap. Results go to the `on_result` callback the caller passes (the
//! monitor, the app); the scheduler stops when its `CancellationToken` is cancelled.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{Probe, ProbeResult};

/// Intervals vary by up to this share either way.
const JITTER: f64 = 0.10;
/// A "Probe now" this soon after the previous probe of a target finished is ignored:
/// double clicks and a tray click followed by a window click make one probe.
pub const DEBOUNCE: Duration = Duration::from_secs(2);
/// The first scheduled probe of each target starts within this delay (jittered), so a
/// fresh start shows results at once without all targets dialling at the same instant.
const FIRST_PROBE_SPREAD: Duration = Duration::from_secs(2);

type BoxFuture<'a> = Pin<Box<dyn Future<Output = ProbeResult> + Send + 'a>>;
/// Where results go.
type OnResult = Arc<dyn Fn(ProbeResult) + Send + Sync>;

/// Something the scheduler can run: a [`Probe`], or a fake in tests.
pub(crate) trait Runner: Send + Sync + 'static {
    fn interval(&self) -> Duration;
    fn run(&self) -> BoxFuture<'_>;
}

impl Runner for Probe {
    fn interval(&self) -> Duration {
        self.spec.interval
    }

    fn run(&self) -> BoxFuture<'_> {
        Box::pin(Probe::run(self))
    }
}

impl Probe {
    /// Runs one probe now. Never fails: everything that happens on the wire is in the
    /// result.
    pub async fn run(&self) -> ProbeResult {
        super::dialogue::run(self).await
    }
}

/// What a "Probe now" request did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeNow {
    /// At least one target starts a probe now.
    Started,
    /// Every target is probing already; its result is on the way.
    AlreadyRunning,
    /// Every target finished a probe less than [`DEBOUNCE`] ago.
    Debounced,
    /// There is nothing to probe.
    NoTargets,
}

struct TargetState {
    wake: Notify,
    running: AtomicBool,
    last_done: Mutex<Option<Instant>>,
}

/// Starts scheduled probes.
pub struct Scheduler;

impl Scheduler {
    /// Spawns one task per probe on the current tokio runtime.
    pub fn spawn<F>(probes: Vec<Probe>, cancel: CancellationToken, on_result: F) -> SchedulerHandle
    where
        F: Fn(ProbeResult) + Send + Sync + 'static,
    {
        let runners = probes
            .into_iter()
            .map(|p| Arc::new(p) as Arc<dyn Runner>)
            .collect();
        Self::spawn_runners(runners, cancel, Arc::new(on_result))
    }

    pub(crate) fn spawn_runners(
        runners: Vec<Arc<dyn Runner>>,
        cancel: CancellationToken,
        on_result: OnResult,
    ) -> SchedulerHandle {
        let mut targets = Vec::new();
        let mut tasks = Vec::new();
        for runner in runners {
            let state = Arc::new(TargetState {
                wake: Notify::new(),
                running: AtomicBool::new(false),
                last_done: Mutex::new(None),
            });
            targets.push(state.clone());
            tasks.push(tokio::spawn(target_loop(
                runner,
                state,
                cancel.clone(),
                on_result.clone(),
            )));
        }
        SchedulerHandle {
            targets,
            tasks,
            cancel,
        }
    }
}

/// Controls running probes: "Probe now", progress, stop.
pub struct SchedulerHandle {
    targets: Vec<Arc<TargetState>>,
    tasks: Vec<JoinHandle<()>>,
    cancel: CancellationToken,
}

impl SchedulerHandle {
    /// Asks every target to probe now, unless it is probing already or finished a
    /// probe less than [`DEBOUNCE`] ago. Cheap and safe to call from any thread.
    pub fn probe_now(&self) -> ProbeNow {
        if self.targets.is_empty() {
            return ProbeNow::NoTargets;
        }
        let now = Instant::now();
        let (mut started, mut running) = (0, 0);
        for t in &self.targets {
            if t.running.load(Ordering::SeqCst) {
                running += 1;
                continue;
            }
            let recent = t
                .last_done
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .is_some_and(|d| now.duration_since(d) < DEBOUNCE);
            if !recent {
                // A stored permit coalesces repeated requests into one probe.
                t.wake.notify_one();
                started += 1;
            }
        }
        if started > 0 {
            ProbeNow::Started
        } else if running > 0 {
            ProbeNow::AlreadyRunning
        } else {
            ProbeNow::Debounced
        }
    }

    /// Whether any probe is in flight (for a progress indicator).
    pub fn is_running(&self) -> bool {
        self.targets
            .iter()
            .any(|t| t.running.load(Ordering::SeqCst))
    }

    /// Stops every target's task and waits for them (a probe in flight is dropped,
    /// which closes its connection).
    pub async fn shutdown(self) {
        self.cancel.cancel();
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

fn jittered(interval: Duration) -> Duration {
    let f = 1.0 + JITTER * (2.0 * fastrand::f64() - 1.0);
    interval.mul_f64(f)
}

async fn target_loop(
    runner: Arc<dyn Runner>,
    state: Arc<TargetState>,
    cancel: CancellationToken,
    on_result: OnResult,
) {
    let spread = FIRST_PROBE_SPREAD.min(runner.interval());
    let mut next = Instant::now() + spread.mul_f64(fastrand::f64());
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep_until(next) => {}
            _ = state.wake.notified() => {}
        }
        state.running.store(true, Ordering::SeqCst);
        let result = tokio::select! {
            _ = cancel.cancelled() => return,
            r = runner.run() => r,
        };
        *state.last_done.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        state.running.store(false, Ordering::SeqCst);
        on_result(result);
        next = Instant::now() + jittered(runner.interval());
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::super::{Outcome, Phase, Timings};
    use super::*;
    use crate::classify::Class;

    /// A probe that takes `took` and counts how many run at once.
    struct Fake {
        name: &'static str,
        interval: Duration,
        took: Duration,
        in_flight: Arc<AtomicUsize>,
        max_in_flight: Arc<AtomicUsize>,
    }

    impl Runner for Fake {
        fn interval(&self) -> Duration {
            self.interval
        }
        fn run(&self) -> BoxFuture<'_> {
            Box::pin(async move {
                let n = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                self.max_in_flight.fetch_max(n, Ordering::SeqCst);
                tokio::time::sleep(self.took).await;
                self.in_flight.fetch_sub(1, Ordering::SeqCst);
                ProbeResult {
                    target: "127.0.0.1:25".into(),
                    outcome: Outcome::Ok,
                    phase: Phase::Quit,
                    reply: None,
                    class: Class::Ok,
                    timings_ms: Timings::default(),
                    total_ms: self.took.as_secs_f64() * 1000.0,
                    name: self.name.into(),
                    ts: 0.0,
                    detail: None,
                }
            })
        }
    }

    fn fake(name: &'static str, interval_s: u64, took_ms: u64) -> (Arc<Fake>, Arc<AtomicUsize>) {
        let max = Arc::new(AtomicUsize::new(0));
        (
            Arc::new(Fake {
                name,
                interval: Duration::from_secs(interval_s),
                took: Duration::from_millis(took_ms),
                in_flight: Arc::new(AtomicUsize::new(0)),
                max_in_flight: max.clone(),
            }),
            max,
        )
    }

    fn collector() -> (Arc<Mutex<Vec<String>>>, OnResult) {
        let got = Arc::new(Mutex::new(Vec::new()));
        let g = got.clone();
        (
            got,
            Arc::new(move |r: ProbeResult| g.lock().unwrap().push(r.name)),
        )
    }

    #[tokio::test(start_paused = true)]
    async fn each_target_runs_on_its_own_interval_with_jitter() {
        let (fast, _) = fake("fast", 10, 50);
        let (slow, _) = fake("slow", 60, 50);
        let (got, on_result) = collector();
        let cancel = CancellationToken::new();
        let h = Scheduler::spawn_runners(vec![fast, slow], cancel.clone(), on_result);
        tokio::time::sleep(Duration::from_secs(125)).await;
        h.shutdown().await;
        let got = got.lock().unwrap();
        let fast_n = got.iter().filter(|n| *n == "fast").count();
        let slow_n = got.iter().filter(|n| *n == "slow").count();
        // 125 s at 10 s ± 10 %: 12 to 14 probes, the first within 2 s.
        assert!((11..=15).contains(&fast_n), "fast ran {fast_n} times");
        assert!((2..=3).contains(&slow_n), "slow ran {slow_n} times");
    }

    #[tokio::test(start_paused = true)]
    async fn a_target_never_has_two_probes_at_once() {
        // Probes that take longer than the interval, and "Probe now" hammered.
        let (busy, max) = fake("busy", 1, 3000);
        let (_got, on_result) = collector();
        let h = Scheduler::spawn_runners(vec![busy], CancellationToken::new(), on_result);
        for _ in 0..50 {
            h.probe_now();
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        h.shutdown().await;
        assert_eq!(max.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn probe_now_starts_at_once_and_is_debounced() {
        let (t, _) = fake("t", 3600, 100);
        let (got, on_result) = collector();
        let h = Scheduler::spawn_runners(vec![t], CancellationToken::new(), on_result);
        // Let the first scheduled probe happen and finish.
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(got.lock().unwrap().len(), 1);

        assert_eq!(h.probe_now(), ProbeNow::Started);
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(h.is_running());
        assert_eq!(h.probe_now(), ProbeNow::AlreadyRunning);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(got.lock().unwrap().len(), 2);
        // Finished 100 ms ago: a second click is a double click.
        assert_eq!(h.probe_now(), ProbeNow::Debounced);
        tokio::time::sleep(DEBOUNCE).await;
        assert_eq!(h.probe_now(), ProbeNow::Started);
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(got.lock().unwrap().len(), 3);
        h.shutdown().await;
    }

    #[tokio::test(start_paused = true)]
    async fn cancelling_stops_all_targets() {
        let (t, _) = fake("t", 1, 10);
        let (got, on_result) = collector();
        let cancel = CancellationToken::new();
        let h = Scheduler::spawn_runners(vec![t], cancel.clone(), on_result);
        tokio::time::sleep(Duration::from_secs(5)).await;
        cancel.cancel();
        let n = got.lock().unwrap().len();
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert_eq!(got.lock().unwrap().len(), n);
        let _ = h.probe_now(); // harmless after stop
        h.shutdown().await;
    }
}

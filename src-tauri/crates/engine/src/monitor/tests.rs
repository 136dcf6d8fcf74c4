use super::*;
use crate::alerts::Notification;
use crate::alerts::{Notifier, NotifySink, Snooze};
use crate::assess::Level;
use crate::config::ItemThresholds;
use crate::snapshot::{HostSample, MemorySample};
use crate::time::TokioClock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A host whose CPU follows a script and which counts its reads.
struct FakeHost {
    cpu: Vec<Option<f64>>,
    reads: Arc<AtomicUsize>,
    primed: Arc<AtomicUsize>,
}

impl HostSource for FakeHost {
    fn prime(&mut self) {
        self.primed.fetch_add(1, Ordering::SeqCst);
    }
    fn sample(&mut self) -> Result<HostSample, crate::host::HostError> {
        let i = self.reads.fetch_add(1, Ordering::SeqCst);
        let cpu = self.cpu[i % self.cpu.len()];
        if cpu.is_none() {
            return Err(crate::host::HostError::Unreadable(
                "fake read failure".into(),
            ));
        }
        Ok(HostSample {
            cpu_percent: cpu,
            cores: 2,
            load: Some([0.5, 0.5, 0.5]),
            memory: Some(MemorySample {
                total_bytes: 100,
                used_bytes: 10,
                swap_total_bytes: 0,
                swap_used_bytes: 0,
            }),
            filesystems: vec![],
            disks: vec![],
        })
    }
}

#[derive(Clone, Default)]
struct Collect(Arc<Mutex<Vec<Tick>>>);

impl Sink for Collect {
    fn on_tick(&mut self, tick: &Tick) {
        self.0.lock().expect("lock").push(tick.clone());
    }
}

#[derive(Clone, Default)]
struct CountingNotifier(Arc<Mutex<Vec<Notification>>>);

impl Notifier for CountingNotifier {
    fn notify(&self, n: &Notification) -> Result<(), crate::alerts::NotifyError> {
        self.0.lock().expect("lock").push(n.clone());
        Ok(())
    }
}

fn config(interval: f64) -> Config {
    let mut c = Config::default();
    c.monitor.interval_secs = interval;
    c
}

fn monitor(c: Config, cpu: Vec<Option<f64>>) -> (Monitor, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let reads = Arc::new(AtomicUsize::new(0));
    let primed = Arc::new(AtomicUsize::new(0));
    let host = FakeHost {
        cpu,
        reads: reads.clone(),
        primed: primed.clone(),
    };
    let m = Monitor::new(c, Box::new(host))
        .with_inline_sources()
        .with_clock(Box::new(TokioClock::starting_at(1_800_000_000.0)));
    (m, reads, primed)
}

#[tokio::test(start_paused = true)]
async fn primes_once_then_ticks_every_interval_until_cancelled() {
    let (mut m, reads, primed) = monitor(config(5.0), vec![Some(10.0)]);
    let ticks = Collect::default();
    m.add_sink(Box::new(ticks.clone()));
    let cancel = CancellationToken::new();
    let task = tokio::spawn(m.run(cancel.clone()));
    tokio::time::sleep(Duration::from_secs_f64(0.5 + 5.0 * 9.0 + 1.0)).await;
    cancel.cancel();
    task.await.expect("monitor task ends cleanly");
    assert_eq!(primed.load(Ordering::SeqCst), 1);
    let t = ticks.0.lock().expect("lock").clone();
    assert_eq!(
        t.len(),
        10,
        "first tick right after priming, then one per 5 s"
    );
    assert_eq!(reads.load(Ordering::SeqCst), 10);
    let gaps: Vec<f64> = t
        .windows(2)
        .map(|w| w[1].snapshot.ts - w[0].snapshot.ts)
        .collect();
    assert!(gaps.iter().all(|g| (g - 5.0).abs() < 1e-6), "{gaps:?}");
    // Nothing runs after cancellation.
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(reads.load(Ordering::SeqCst), 10);
}

#[tokio::test(start_paused = true)]
async fn cancel_during_priming_wait_stops_without_a_tick() {
    let (m, reads, _) = monitor(config(5.0), vec![Some(10.0)]);
    let cancel = CancellationToken::new();
    cancel.cancel();
    m.run(cancel).await;
    assert_eq!(reads.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn a_failed_read_is_a_gap_in_history_and_unknown_items() {
    let (mut m, _, _) = monitor(config(1.0), vec![Some(10.0), None, Some(30.0)]);
    let handle = m.handle();
    let ticks = Collect::default();
    m.add_sink(Box::new(ticks.clone()));
    for _ in 0..3 {
        m.tick().await;
        tokio::time::advance(Duration::from_secs(1)).await;
    }
    let h = handle.history();
    assert_eq!(h.series["cpu_percent"], [Some(10.0), None, Some(30.0)]);
    let t = ticks.0.lock().expect("lock");
    assert_eq!(t[1].assessment.status, Level::Unknown);
    assert!(t[1].snapshot.problems[0]
        .message
        .contains("fake read failure"));
    assert_eq!(t[2].assessment.status, Level::Ok);
}

#[tokio::test(start_paused = true)]
async fn zero_cpu_warn_ratio_notifies_exactly_once_over_many_ticks() {
    let mut c = config(1.0);
    c.thresholds.items.insert(
        crate::item::ItemId::Cpu,
        ItemThresholds {
            warn_ratio: Some(0.0),
            crit_ratio: Some(2.0),
        },
    );
    let (mut m, _, _) = monitor(
        c.clone(),
        vec![Some(1.0), Some(50.0), Some(99.0), Some(0.0)],
    );
    let notifier = CountingNotifier::default();
    m.add_sink(Box::new(NotifySink::new(
        &c,
        Snooze::default(),
        Box::new(notifier.clone()),
    )));
    let cancel = CancellationToken::new();
    let task = tokio::spawn(m.run(cancel.clone()));
    tokio::time::sleep(Duration::from_secs(120)).await;
    cancel.cancel();
    task.await.expect("clean stop");
    let sent = notifier.0.lock().expect("lock");
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].items, ["cpu"]);
    assert_eq!(sent[0].level, Level::Warning);
}

#[tokio::test(start_paused = true)]
async fn memory_history_is_bounded_by_its_window() {
    let mut c = config(1.0);
    c.monitor.memory_history_mins = 1;
    let (mut m, _, _) = monitor(c, vec![Some(5.0)]);
    let handle = m.handle();
    for _ in 0..500 {
        m.tick().await;
        tokio::time::advance(Duration::from_secs(1)).await;
    }
    let n = handle.history().ts.len();
    assert!((60..=61).contains(&n), "{n} samples kept");
}

/// The desktop app spawns the monitor on tauri's multi-threaded runtime, so the
/// future of `run` (and everything a Monitor holds across awaits) must be Send.
#[test]
fn the_monitor_future_is_send() {
    fn is_send<T: Send>(_: &T) {}
    let (m, _, _) = monitor(config(1.0), vec![Some(1.0)]);
    let fut = m.run(CancellationToken::new());
    is_send(&fut);
}

#[tokio::test(start_paused = true)]
async fn reconfigure_applies_thresholds_and_interval_without_a_restart() {
    let (mut m, reads, _) = monitor(config(5.0), vec![Some(50.0)]);
    let handle = m.handle();
    let ticks = Collect::default();
    m.add_sink(Box::new(ticks.clone()));
    let cancel = CancellationToken::new();
    let task = tokio::spawn(m.run(cancel.clone()));
    tokio::time::sleep(Duration::from_secs(11)).await;
    let before = reads.load(Ordering::SeqCst);
    assert_eq!(before, 3, "0.5 s priming, then ticks at 0, 5 and 10 s");
    assert_eq!(
        ticks
            .0
            .lock()
            .expect("lock")
            .last()
            .map(|t| t.assessment.status),
        Some(Level::Ok)
    );

    let mut c = config(1.0);
    c.thresholds.items.insert(
        crate::item::ItemId::Cpu,
        ItemThresholds {
            warn_ratio: Some(0.4),
            crit_ratio: Some(0.9),
        },
    );
    assert!(handle.reconfigure(c));
    tokio::time::sleep(Duration::from_secs(10)).await;
    cancel.cancel();
    task.await.expect("clean stop");
    let after = reads.load(Ordering::SeqCst) - before;
    assert!(
        (9..=11).contains(&after),
        "ticks every second now: {after} in 10 s"
    );
    let t = ticks.0.lock().expect("lock");
    let last = t.last().expect("ticks");
    assert_eq!(
        last.assessment.status,
        Level::Warning,
        "CPU 50% is above the new 40%"
    );
    // The level history carried on: the change is a transition from ok, not a restart.
    let cpu_changes: Vec<_> = t
        .iter()
        .flat_map(|t| t.transitions.iter())
        .filter(|tr| tr.item == "cpu")
        .map(|tr| (tr.previous, tr.level))
        .collect();
    assert_eq!(
        cpu_changes,
        [(None, Level::Ok), (Some(Level::Ok), Level::Warning)]
    );
}

/// A sink with a bug: it panics on the third tick, as any sink or source could.
struct PanicsOnThirdTick(usize);

impl Sink for PanicsOnThirdTick {
    fn on_tick(&mut self, _tick: &Tick) {
        self.0 += 1;
        assert!(self.0 < 3, "a sink bug on tick {}", self.0);
    }
}

#[tokio::test(start_paused = true)]
async fn a_monitor_that_dies_is_reported_not_left_showing_its_last_status() {
    let (mut m, _, _) = monitor(config(1.0), vec![Some(10.0)]);
    m.add_sink(Box::new(PanicsOnThirdTick(0)));
    let told = Arc::new(Mutex::new(None::<String>));
    let t = told.clone();
    let cancel = CancellationToken::new();
    let (handle, supervised) = crate::runtime::supervise(m, cancel.clone(), move |why| {
        *t.lock().expect("lock") = Some(why);
    });
    assert_eq!(handle.stopped(), None);
    tokio::time::timeout(Duration::from_secs(60), supervised)
        .await
        .expect("the supervisor returns when the monitor dies");
    let why = told
        .lock()
        .expect("lock")
        .clone()
        .expect("on_stop was called");
    assert!(why.contains("a sink bug on tick 3"), "{why}");
    assert_eq!(handle.stopped(), Some(why));
    // A monitor stopped on purpose is not reported.
    let (m, _, _) = monitor(config(1.0), vec![Some(10.0)]);
    let cancel = CancellationToken::new();
    let called = Arc::new(AtomicUsize::new(0));
    let c = called.clone();
    let (handle, supervised) = crate::runtime::supervise(m, cancel.clone(), move |_| {
        c.fetch_add(1, Ordering::SeqCst);
    });
    let run = tokio::spawn(supervised);
    tokio::time::sleep(Duration::from_secs(5)).await;
    cancel.cancel();
    run.await.expect("supervisor ends");
    assert_eq!(called.load(Ordering::SeqCst), 0);
    assert_eq!(handle.stopped(), None);
}

#[tokio::test(start_paused = true)]
async fn an_interval_no_timer_can_hold_does_not_panic_the_monitor() {
    // Config validation refuses it; the monitor must not panic if one gets through.
    let mut c = config(1.0);
    c.monitor.interval_secs = 1e20;
    let (m, reads, _) = monitor(c, vec![Some(10.0)]);
    let cancel = CancellationToken::new();
    let run = tokio::spawn(m.run(cancel.clone()));
    tokio::time::sleep(Duration::from_secs(30)).await;
    cancel.cancel();
    run.await.expect("no panic");
    assert!(reads.load(Ordering::SeqCst) >= 1);
}

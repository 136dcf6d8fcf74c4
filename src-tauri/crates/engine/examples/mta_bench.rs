//! Timing helper for bench/queue_count.sh (not a test):
//!
//!   mta_bench count QUEUE_DIR N     time the per-tick directory count N times
//!   mta_bench ticks ETC SECS IVAL   run the monitor on a Postfix instance for SECS with
//!                                   a tick every IVAL s; one JSON line per tick with the
//!                                   spacing since the previous tick, the MTA read time
//!                                   and whether the postqueue -j listing was running.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use headroom_engine::config::Config;
use headroom_engine::host::SysHost;
use headroom_engine::monitor::Monitor;
use headroom_engine::mta::postfix::{queue, Postfix};
use headroom_engine::mta::{MtaSample, MtaSource, QueueDetails, QueueLister};
use headroom_engine::tick::{Sink, Tick};

#[derive(Default)]
struct Shared {
    last_read_ms: f64,
    listing_since: Option<Instant>,
    listings: u32,
}

struct TimedMta {
    inner: Postfix,
    shared: Arc<Mutex<Shared>>,
}

impl MtaSource for TimedMta {
    fn sample(&mut self) -> Result<MtaSample, headroom_engine::mta::MtaError> {
        let t = Instant::now();
        let r = self.inner.sample();
        if let Ok(mut s) = self.shared.lock() {
            s.last_read_ms = t.elapsed().as_secs_f64() * 1e3;
        }
        r
    }
    fn lister(&self) -> Option<Box<dyn QueueLister>> {
        Some(Box::new(TimedLister {
            inner: self.inner.lister()?,
            shared: self.shared.clone(),
        }))
    }
}

struct TimedLister {
    inner: Box<dyn QueueLister>,
    shared: Arc<Mutex<Shared>>,
}

impl QueueLister for TimedLister {
    fn list(&mut self, budget: Duration) -> Result<QueueDetails, headroom_engine::mta::MtaError> {
        if let Ok(mut s) = self.shared.lock() {
            s.listing_since = Some(Instant::now());
        }
        let r = self.inner.list(budget);
        if let Ok(mut s) = self.shared.lock() {
            s.listing_since = None;
            s.listings += 1;
        }
        r
    }
}

struct PrintTicks {
    shared: Arc<Mutex<Shared>>,
    last: Option<Instant>,
}

impl Sink for PrintTicks {
    fn on_tick(&mut self, tick: &Tick) {
        let now = Instant::now();
        let spacing = self.last.map(|l| (now - l).as_secs_f64() * 1e3);
        self.last = Some(now);
        let (read_ms, listing, listings) = self
            .shared
            .lock()
            .map(|s| (s.last_read_ms, s.listing_since.is_some(), s.listings))
            .unwrap_or_default();
        let q = tick.snapshot.mta.as_ref().and_then(|m| m.queue.as_ref());
        println!(
            "{}",
            serde_json::json!({
                "spacing_ms": spacing, "mta_read_ms": read_ms, "listing_running": listing,
                "listings_done": listings,
                "deferred": q.and_then(|q| q.deferred), "method": q.map(|q| q.method),
                "oldest_age_s": q.and_then(|q| q.oldest_age_s),
            })
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("count") => {
            let dir = std::path::PathBuf::from(&args[2]);
            let n: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(5);
            for _ in 0..n {
                let t = Instant::now();
                let c = queue::count_queues(&dir).expect("count");
                println!(
                    "{}",
                    serde_json::json!({"ms": t.elapsed().as_secs_f64() * 1e3, "total": c.total(), "deferred": c.deferred})
                );
            }
        }
        Some("ticks") => {
            let etc = std::path::PathBuf::from(&args[2]);
            let secs: f64 = args[3].parse().expect("secs");
            let run_for = Duration::try_from_secs_f64(secs)
                .expect("SECS must be a number of seconds a timer can hold");
            let ival: f64 = args[4].parse().expect("interval");
            let mut config = Config::default();
            config.monitor.interval_secs = ival;
            let shared = Arc::new(Mutex::new(Shared::default()));
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                let mut m =
                    Monitor::new(config, Box::new(SysHost::new())).with_mta(Box::new(TimedMta {
                        inner: Postfix::new(Some(etc)),
                        shared: shared.clone(),
                    }));
                m.add_sink(Box::new(PrintTicks { shared, last: None }));
                let cancel = tokio_util::sync::CancellationToken::new();
                let stop = cancel.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(run_for).await;
                    stop.cancel();
                });
                m.run(cancel).await;
            });
        }
        _ => eprintln!("usage: mta_bench count QUEUE_DIR N | ticks ETC SECS INTERVAL"),
    }
}

//! `watch`: the monitor loop headless, one line per change of an item's level.

use std::path::Path;

use headroom_engine::runtime;
use headroom_engine::sanitize::for_terminal;
use headroom_engine::tick::{Sink, Tick};
use tokio_util::sync::CancellationToken;

struct PrintTransitions {
    json: bool,
}

impl Sink for PrintTransitions {
    fn on_tick(&mut self, tick: &Tick) {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        for t in &tick.transitions {
            let line = if self.json {
                serde_json::to_string(t).unwrap_or_default()
            } else {
                format!(
                    "{} {:<18} {} -> {}: {}",
                    t.ts as i64,
                    t.item,
                    t.previous.map(|p| p.as_str()).unwrap_or("start"),
                    t.level,
                    for_terminal(&t.message)
                )
            };
            // A closed pipe (`| head`) ends the watch quietly on the next signal.
            if writeln!(out, "{line}").is_err() {
                return;
            }
        }
        let _ = out.flush();
    }
}

pub async fn run(config: Option<&Path>, json: bool) -> u8 {
    let config = match crate::load_config(config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    // The same sources as the desktop app, and history recorded like it; what cannot
    // be set up is said once and the watch goes on without it.
    let mut engine = crate::build_recording(&config);
    engine.monitor.add_sink(Box::new(PrintTransitions { json }));
    let cancel = CancellationToken::new();
    let stop = cancel.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        stop.cancel();
    });
    let failed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = failed.clone();
    let (_, supervised) = runtime::supervise(engine.monitor, cancel, move |why| {
        eprintln!("headroom-cli: {why}");
        flag.store(true, std::sync::atomic::Ordering::SeqCst);
    });
    supervised.await;
    if failed.load(std::sync::atomic::Ordering::SeqCst) {
        crate::EXIT_UNKNOWN
    } else {
        0
    }
}

pub async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

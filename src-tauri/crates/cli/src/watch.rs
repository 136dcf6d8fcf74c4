//! `watch`: the monitor loop headless, one line per change of an item's level.

use std::path::Path;

use headroom_engine::history::History;
use headroom_engine::host::SysHost;
use headroom_engine::monitor::Monitor;
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
                    t.message
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
    let mta = headroom_engine::mta::detect(&config.mta);
    let history_config = config.history.clone();
    // The same sources as the desktop app: the host, the mail server, the probe
    // targets and the mail log. A probe target that does not validate is said once.
    let mut probes = Vec::new();
    for t in &config.probes {
        match headroom_engine::probe::ProbeSpec::from_target(t).validate() {
            Ok(p) => probes.push(p),
            Err(e) => eprintln!("headroom-cli: warning: probe `{}` skipped: {e}", t.name),
        }
    }
    let with_maillog = mta.is_some() || !config.maillogs.is_empty();
    let maillogs = config.maillogs.clone();
    let mut monitor = Monitor::new(config, Box::new(SysHost::new())).with_probes(probes);
    if let Some(mta) = mta {
        monitor = monitor.with_mta(mta);
    }
    if with_maillog {
        monitor = monitor.with_maillog(maillogs);
    }
    monitor.add_sink(Box::new(PrintTransitions { json }));
    // History is recorded here too; one that cannot be opened is said once and the
    // watch goes on without it.
    let history = History::open(&history_config);
    let status = history.status();
    if let Some(aside) = &status.recovered_from {
        eprintln!(
            "headroom-cli: warning: the history was damaged; moved it to {} and started a fresh one",
            aside.display()
        );
    }
    if let Some(problem) = &status.problem {
        eprintln!("headroom-cli: warning: {problem}");
    }
    if status.enabled {
        monitor.add_sink(Box::new(history.sink()));
    }
    let cancel = CancellationToken::new();
    let stop = cancel.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        stop.cancel();
    });
    monitor.run(cancel).await;
    0
}

async fn wait_for_signal() {
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

//! The one way a host starts the engine. The desktop app, `headroom-cli watch`,
//! `headroom-cli check` and the agent each hand over a [`Config`] and get back either a
//! [`Engine`] — the monitor with every source the configuration asks for (this host,
//! the mail server when one is found, the probe targets, the mail log) and the history
//! it records into — or, for a one-shot check, one [`Tick`]. Hosts add their sinks and
//! run it under [`supervise`]; none of them wires sources itself.

use std::future::Future;

use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::history::{History, HistoryStatus};
use crate::host::SysHost;
use crate::monitor::{Monitor, MonitorHandle};
use crate::tick::Tick;

/// A monitor ready to run, built from a configuration.
pub struct Engine {
    pub monitor: Monitor,
    /// Where ticks are recorded (disabled when not asked for, or when it cannot be
    /// opened: see [`Engine::problems`]).
    pub history: History,
    /// What the configuration asks for that could not be set up, one sentence each,
    /// for the host to say once (stderr, the window); monitoring goes on without it.
    pub problems: Vec<String>,
}

/// What a host wants besides the sources.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Record ticks, alerts and probe results in the SQLite history of `[history]`.
    pub history: bool,
    /// Leave the SMTP probes out (`check --no-probe`).
    pub no_probes: bool,
}

/// Builds the monitor for `config`: this host, the mail server `[mta]` names or finds,
/// the probe targets, the mail log (where there is a mail server, or where one is
/// named), and — with `options.history` — the history sink.
pub fn build(config: &Config, options: Options) -> Engine {
    let mut problems = Vec::new();
    let mut monitor = Monitor::new(config.clone(), Box::new(SysHost::new()));
    let mta = crate::mta::detect(&config.mta);
    let has_mta = mta.is_some();
    if let Some(m) = mta {
        monitor = monitor.with_mta(m);
    }
    if !options.no_probes {
        let (probes, skipped) = crate::probe::probes_of(&config.probes);
        problems.extend(skipped);
        monitor = monitor.with_probes(probes);
    }
    if has_mta || !config.maillogs.is_empty() {
        monitor = monitor.with_maillog(config.maillogs.clone());
    }
    // On a mail server by default, as `[dns] watch` says otherwise.
    if let Some(scope) = crate::domain::scope_of(&config.dns, has_mta) {
        monitor = monitor.with_domain(crate::domain::Checker::new(&config.dns), scope);
    }
    let history = if options.history {
        let history = History::open(&config.history);
        let status = history.status();
        problems.extend(history_problems(&status));
        // A history that failed to open keeps trying (a full disk frees up): the sink
        // stays and degrades to doing nothing meanwhile.
        if status.enabled {
            monitor.add_sink(Box::new(history.sink()));
        }
        history
    } else {
        History::disabled()
    };
    Engine {
        monitor,
        history,
        problems,
    }
}

/// One reading of everything `config` names (probes unless `no_probes`) and its
/// assessment: `headroom-cli check`.
pub async fn check(config: &Config, no_probes: bool) -> (Tick, Vec<String>) {
    let engine = build(
        config,
        Options {
            history: false,
            no_probes,
        },
    );
    (engine.monitor.once().await, engine.problems)
}

/// Runs `monitor` until `cancel` fires and watches it: if the monitor task ends any
/// other way (a panic is a bug, but it must not leave a status that silently stops
/// changing) the handle's [`MonitorHandle::stopped`] says why and `on_stop` is called
/// with the reason. Spawn the returned future on the host's runtime.
pub fn supervise(
    monitor: Monitor,
    cancel: CancellationToken,
    on_stop: impl FnOnce(String) + Send + 'static,
) -> (MonitorHandle, impl Future<Output = ()> + Send + 'static) {
    let handle = monitor.handle();
    let watched = handle.clone();
    let run = async move {
        let job = tokio::spawn(monitor.run(cancel.clone()));
        let why = match job.await {
            Ok(()) if cancel.is_cancelled() => return,
            Ok(()) => "the monitor stopped by itself".to_string(),
            Err(e) if e.is_panic() => {
                let p = e.into_panic();
                let msg = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "no message".into());
                format!("the monitor crashed ({msg}); restart Headroom")
            }
            Err(e) => format!("the monitor was stopped ({e})"),
        };
        tracing::error!("{why}");
        watched.set_stopped(why.clone());
        on_stop(why);
    };
    (handle, run)
}

/// What a host says about the history it opened: why it records nothing, or what it
/// moved aside.
pub fn history_problems(status: &HistoryStatus) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(old) = &status.recovered_from {
        out.push(format!(
            "the history was damaged; moved it to {} and started a fresh one",
            old.display()
        ));
    }
    if let Some(p) = &status.problem {
        out.push(format!("history: {p}; monitoring continues without it"));
    }
    out
}

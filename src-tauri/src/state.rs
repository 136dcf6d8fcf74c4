//! What the shell keeps between ticks: settings, the monitor's handle, the UI
//! subscribers, the alert log and the snooze.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Mutex;

use headroom_engine::alerts::Snooze;
use headroom_engine::assess::{Assessment, Level, Transition};
use headroom_engine::config::Config;
use headroom_engine::history::SampleBatch;
use headroom_engine::history::{AlertKind, AlertRecord, History, HistoryStatus};
use headroom_engine::lock::lock;
use headroom_engine::monitor::MonitorHandle;
use headroom_engine::probe::ProbeResult;
use headroom_engine::settings::{Settings, SettingsError};
use headroom_engine::snapshot::{HostSample, SourceProblem, Ts};
use headroom_engine::tick::Tick;
use headroom_engine::time::unix_now as now;
use serde::Serialize;
use tauri::ipc::Channel;
use tokio_util::sync::CancellationToken;

use crate::servers::{ServerRow, Servers};

/// How many alert log entries the window can page through.
const ALERT_LOG_LEN: usize = 500;
/// How many probe results the probe log keeps.
const PROBE_LOG_LEN: usize = 200;

/// One alert log entry: a level transition or a snooze.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct AlertEntry {
    pub ts: Ts,
    pub kind: &'static str,
    pub item: Option<String>,
    pub level: Option<Level>,
    pub previous: Option<Level>,
    pub message: String,
    /// The `[[server]]` it happened on; absent for this machine.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub server: Option<String>,
}

impl AlertEntry {
    pub fn from_record(r: AlertRecord) -> Self {
        AlertEntry {
            ts: r.ts,
            kind: match r.kind {
                AlertKind::Transition => "transition",
                AlertKind::Snooze => "snooze",
            },
            item: r.item,
            level: r.level,
            previous: r.previous,
            message: r.message,
            server: None,
        }
    }

    pub fn from_transition(t: &Transition) -> Self {
        AlertEntry {
            ts: t.ts,
            kind: "transition",
            item: Some(t.item.as_str().to_string()),
            level: Some(t.level),
            previous: t.previous,
            message: t.message.clone(),
            server: None,
        }
    }
}

/// The window's view of the current state.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct StateView {
    pub ts: Option<Ts>,
    /// The worst over every watched server (this machine and the agents).
    pub status: Level,
    /// The worst server's main reason, named when several are watched.
    pub summary: String,
    /// Every watched server with its level and main reason.
    pub servers: Vec<ServerRow>,
    /// The server whose figures this view holds (`local` for this machine).
    pub selected: String,
    pub assessment: Option<Assessment>,
    pub host: Option<HostSample>,
    pub problems: Vec<SourceProblem>,
    pub config_path: Option<String>,
    pub config_error: Option<String>,
    pub tray_problem: Option<String>,
    pub snoozed_until: Option<Ts>,
    pub interval_secs: f64,
    /// A probe is in flight (the Probe now button shows progress).
    pub probing: bool,
    pub mta: Option<headroom_engine::mta::MtaSample>,
    /// Whether history is recorded, where, and what went wrong with it.
    pub history: HistoryStatus,
}

/// Everything the window hears after subscribing, in order, through one channel.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[ts(export)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum UiEvent {
    /// A tick: the new state and its chart samples.
    Tick {
        state: Box<StateView>,
        samples: SampleBatch,
    },
    Alert {
        entry: AlertEntry,
    },
    /// A probe finished.
    Probe {
        result: Box<ProbeResult>,
    },
}

/// Whether the tray icon can be seen, and so whether a closed window can be opened
/// again from it.
#[derive(Debug, Clone, PartialEq)]
enum TrayShown {
    /// Made, and shown by a host (or nothing says otherwise).
    Yes,
    /// Not made, for this reason.
    NoIcon(String),
    /// Made, but nothing on the desktop shows it.
    NoHost,
}

pub struct AppState {
    config: Mutex<Config>,
    config_path: Option<PathBuf>,
    config_error: Mutex<Option<String>>,
    tray: Mutex<TrayShown>,
    monitor: Mutex<Option<MonitorHandle>>,
    subscribers: Mutex<Vec<Channel<UiEvent>>>,
    alerts: Mutex<VecDeque<AlertEntry>>,
    probes: Mutex<VecDeque<ProbeResult>>,
    pub history: Mutex<History>,
    pub snooze: Snooze,
    pub cancel: CancellationToken,
    servers: Mutex<Servers>,
    /// The fleet task's inbox (servers changed in the settings, a token stored).
    fleet: Mutex<Option<tokio::sync::mpsc::UnboundedSender<crate::servers::FleetCommand>>>,
    /// This machine's row as the last view made it, for tray updates between views.
    local_row: Mutex<Option<ServerRow>>,
    /// Why the local monitor could not be set up, when it could not.
    local_failed: Mutex<Option<String>>,
    /// Set once the engine is built (history opened, logs reloaded, monitor running),
    /// which happens off the main thread while the window loads.
    ready: tokio::sync::watch::Sender<bool>,
}

impl AppState {
    pub fn new(config: Config, config_error: Option<String>, config_path: Option<PathBuf>) -> Self {
        AppState {
            config_path: config_path.or_else(headroom_engine::config::default_path),
            config_error: Mutex::new(config_error),
            tray: Mutex::new(TrayShown::Yes),
            monitor: Mutex::new(None),
            subscribers: Mutex::new(Vec::new()),
            alerts: Mutex::new(VecDeque::new()),
            probes: Mutex::new(VecDeque::new()),
            history: Mutex::new(History::disabled()),
            snooze: Snooze::default(),
            cancel: CancellationToken::new(),
            ready: tokio::sync::watch::Sender::new(false),
            servers: Mutex::new(Servers::new(&config)),
            local_failed: Mutex::new(None),
            local_row: Mutex::new(None),
            fleet: Mutex::new(None),
            config: Mutex::new(config),
        }
    }

    /// The local monitor stopped or never started: its row says why.
    pub fn set_local_failed(&self, why: &str) {
        *lock(&self.local_failed) = Some(why.to_string());
    }

    pub fn set_fleet(&self, tx: tokio::sync::mpsc::UnboundedSender<crate::servers::FleetCommand>) {
        *lock(&self.fleet) = Some(tx);
    }

    pub fn fleet_command(&self, c: crate::servers::FleetCommand) {
        if let Some(tx) = lock(&self.fleet).as_ref() {
            let _ = tx.send(c);
        }
    }

    pub fn with_servers<T>(&self, f: impl FnOnce(&mut Servers) -> T) -> T {
        f(&mut lock(&self.servers))
    }

    /// Whether this machine is watched (`[local] enabled`).
    pub fn local_enabled(&self) -> bool {
        lock(&self.servers).local
    }

    /// Shows `id`'s dashboard from now on.
    pub fn select(&self, id: &str) -> Result<(), String> {
        lock(&self.servers).select(id)
    }

    /// A probe result of the chosen server, to the window.
    pub fn broadcast_probe(&self, r: &ProbeResult) {
        self.broadcast(&UiEvent::Probe {
            result: Box::new(r.clone()),
        });
    }

    pub fn config(&self) -> Config {
        lock(&self.config).clone()
    }

    pub fn set_monitor(&self, h: MonitorHandle) {
        *lock(&self.monitor) = Some(h);
    }

    /// The engine is set up (or failed to be): the window's first state may be taken.
    pub fn mark_ready(&self) {
        self.ready.send_replace(true);
    }

    /// Waits (at most `limit`) until the engine is set up, so the window's first state
    /// has the alert and probe logs reloaded from history.
    pub async fn wait_ready(&self, limit: std::time::Duration) {
        let mut rx = self.ready.subscribe();
        let _ = tokio::time::timeout(limit, rx.wait_for(|r| *r)).await;
    }

    /// A part of the configuration that could not be applied (the rest runs).
    pub fn add_config_problem(&self, p: String) {
        let mut e = lock(&self.config_error);
        *e = Some(match e.take() {
            Some(prev) => format!("{prev}; {p}"),
            None => p,
        });
    }

    pub fn probe_now(&self) -> &'static str {
        use headroom_engine::probe::ProbeNow;
        let remote = lock(&self.servers)
            .selected_remote()
            .map(|r| r.handle.clone());
        if let Some(handle) = remote {
            // On the agent: its results arrive as its probe events.
            return match handle.map(|h| h.probe_now()) {
                Some(true) => "started",
                Some(false) => "already_running",
                None => "no_targets",
            };
        }
        match lock(&self.monitor).as_ref().map(|m| m.probe_now()) {
            Some(ProbeNow::Started) => "started",
            Some(ProbeNow::AlreadyRunning) => "already_running",
            Some(ProbeNow::Debounced) => "debounced",
            Some(ProbeNow::NoTargets) | None => "no_targets",
        }
    }

    pub fn probing(&self) -> bool {
        lock(&self.monitor).as_ref().is_some_and(|m| m.probing())
    }

    /// Newest first, of the chosen server.
    pub fn probe_log(&self) -> Vec<ProbeResult> {
        if let Some(r) = lock(&self.servers).selected_remote() {
            return r.probes.iter().rev().cloned().collect();
        }
        lock(&self.probes).iter().rev().cloned().collect()
    }

    pub fn log_probe(&self, r: &ProbeResult) {
        {
            let mut p = lock(&self.probes);
            p.push_back(r.clone());
            while p.len() > PROBE_LOG_LEN {
                p.pop_front();
            }
        }
        if lock(&self.servers).selected_remote().is_none() {
            self.broadcast_probe(r);
        }
    }

    /// The mail server's configured limits as read this tick, for explanations.
    pub fn live_limits(&self) -> headroom_engine::explain::Limits {
        let latest = lock(&self.monitor).as_ref().and_then(|m| m.latest());
        latest
            .and_then(|t| t.snapshot.mta)
            .map(|m| m.known_limits())
            .unwrap_or_default()
    }

    pub fn destinations(&self, window_s: f64) -> Option<headroom_engine::maillog::MaillogReport> {
        let handle = lock(&self.monitor).clone()?;
        handle.destinations(now(), window_s)
    }

    pub fn history(&self) -> History {
        lock(&self.history).clone()
    }

    /// Uses `h` from now on and fills the alert and probe logs from what it kept, so a
    /// restart does not empty them.
    pub fn set_history(&self, h: History) {
        let week_ago = now() - 7.0 * 86400.0;
        if let Ok(alerts) = h.alerts(week_ago, now(), ALERT_LOG_LEN) {
            *lock(&self.alerts) = alerts
                .into_iter()
                .rev()
                .map(AlertEntry::from_record)
                .collect();
        }
        if let Ok(probes) = h.probe_results(week_ago, now(), PROBE_LOG_LEN) {
            *lock(&self.probes) = probes.into_iter().rev().collect();
        }
        *lock(&self.history) = h;
    }

    pub fn settings(&self) -> Settings {
        Settings::from_config(&lock(&self.config))
    }

    /// Validates and saves the settings to the configuration file, then applies them
    /// to the running monitor. Nothing changes when they are refused.
    pub fn save_settings(&self, s: &Settings) -> Result<Settings, SettingsError> {
        let path = self.config_path.clone().ok_or_else(|| SettingsError {
            field: "file".into(),
            message: "no configuration path (set HOME or XDG_CONFIG_HOME)".into(),
        })?;
        let config = headroom_engine::settings::save(&path, s)?;
        *lock(&self.config) = config.clone();
        *lock(&self.config_error) = None;
        if let Some(m) = lock(&self.monitor).as_ref() {
            m.reconfigure(config.clone());
        }
        self.fleet_command(crate::servers::FleetCommand::Sync);
        Ok(Settings::from_config(&config))
    }

    /// The tray icon could not be made.
    pub fn set_tray_problem(&self, p: String) {
        *lock(&self.tray) = TrayShown::NoIcon(p);
    }

    /// Whether a tray host shows the icon (no news when the icon was never made).
    pub fn set_tray_host(&self, present: bool) {
        let mut tray = lock(&self.tray);
        if !matches!(*tray, TrayShown::NoIcon(_)) {
            *tray = if present {
                TrayShown::Yes
            } else {
                TrayShown::NoHost
            };
        }
    }

    /// Whether the user can see the tray icon, and so find Headroom there once the
    /// window is gone.
    pub fn tray_visible(&self) -> bool {
        *lock(&self.tray) == TrayShown::Yes
    }

    /// Why no tray icon can be seen, with the fix, for the window.
    pub fn tray_problem(&self) -> Option<String> {
        match &*lock(&self.tray) {
            TrayShown::Yes => None,
            TrayShown::NoIcon(why) => Some(why.clone()),
            TrayShown::NoHost => Some(crate::tray_host::NO_HOST.to_string()),
        }
    }

    /// The chosen server's recent chart data (an agent's arrives with its ticks).
    pub fn recent_history(&self) -> SampleBatch {
        if lock(&self.servers).selected_remote().is_some() {
            return SampleBatch::default();
        }
        lock(&self.monitor)
            .as_ref()
            .map(|m| m.history())
            .unwrap_or_default()
    }

    pub fn alerts(&self) -> Vec<AlertEntry> {
        lock(&self.alerts).iter().rev().cloned().collect()
    }

    /// The window's view of the monitor's latest tick.
    pub fn view(&self) -> StateView {
        let latest = lock(&self.monitor).as_ref().and_then(|m| m.latest());
        self.view_of(latest.as_ref())
    }

    /// The window's view of `tick` (the one a sink was just given). A monitor that
    /// stopped on its own makes the status unknown with the reason, whatever it last saw.
    pub fn view_of(&self, tick: Option<&Tick>) -> StateView {
        let (assessment, host, mut problems, mta) = match tick {
            Some(t) => (
                Some(t.assessment.clone()),
                t.snapshot.host.clone(),
                t.snapshot.problems.clone(),
                t.snapshot.mta.clone(),
            ),
            None => (None, None, Vec::new(), None),
        };
        let stopped = lock(&self.monitor)
            .as_ref()
            .and_then(|m| m.stopped())
            .or_else(|| lock(&self.local_failed).clone());
        if let Some(why) = &stopped {
            problems.insert(
                0,
                SourceProblem {
                    source: "monitor".into(),
                    message: why.clone(),
                    kind: Default::default(),
                },
            );
        }
        let local_status = match (&stopped, &assessment) {
            (Some(_), _) | (None, None) => Level::Unknown,
            (None, Some(a)) => a.status,
        };
        let local_summary = match (&stopped, &assessment) {
            (Some(why), _) => format!("unknown: {why}"),
            (None, Some(a)) => a.summary(),
            (None, None) => "starting: first reading in a moment".into(),
        };
        let servers = lock(&self.servers);
        let mut rows = Vec::with_capacity(servers.remotes.len() + 1);
        if servers.local {
            let row = ServerRow {
                id: headroom_engine::config::LOCAL_ID.into(),
                name: crate::servers::local_name(),
                transport: "local",
                address: String::new(),
                status: local_status,
                summary: local_summary.clone(),
                reason: stopped.clone(),
                ts: assessment.as_ref().map(|a| a.ts),
            };
            *lock(&self.local_row) = Some(row.clone());
            rows.push(row);
        }
        rows.extend(servers.remotes.iter().map(|r| r.row()));
        let (status, summary) = crate::servers::overall(&rows);
        let selected = servers.selected.clone();
        let (assessment, host, problems, mta) = match servers.selected_remote() {
            None => (assessment, host, problems, mta),
            Some(r) => {
                let mut problems = r
                    .latest
                    .as_ref()
                    .map(|s| s.problems.clone())
                    .unwrap_or_default();
                if let Some(why) = &r.down {
                    problems.insert(
                        0,
                        SourceProblem {
                            source: format!("server {}", r.entry.name),
                            message: why.clone(),
                            kind: Default::default(),
                        },
                    );
                }
                let latest = r.latest.as_ref();
                (
                    latest.map(|s| s.assessment()),
                    latest.and_then(|s| s.host.clone()),
                    problems,
                    latest.and_then(|s| s.mta.clone()),
                )
            }
        };
        drop(servers);
        StateView {
            ts: assessment.as_ref().map(|a| a.ts),
            status,
            summary,
            servers: rows,
            selected,
            assessment,
            host,
            problems,
            config_path: self.config_path.as_ref().map(|p| p.display().to_string()),
            config_error: lock(&self.config_error).clone(),
            tray_problem: self.tray_problem(),
            snoozed_until: self.snooze.until(),
            interval_secs: lock(&self.config).monitor.interval_secs,
            probing: self.probing(),
            mta,
            history: self.history().status(),
        }
    }

    /// The overall level and summary from the rows as they stand (this machine's as the
    /// last view made it): what the tray needs when no window listens.
    pub fn overall(&self) -> (Level, String) {
        let servers = lock(&self.servers);
        let mut rows = Vec::with_capacity(servers.remotes.len() + 1);
        if servers.local {
            if let Some(r) = lock(&self.local_row).clone() {
                rows.push(r);
            }
        }
        rows.extend(servers.remotes.iter().map(|r| r.row()));
        crate::servers::overall(&rows)
    }

    pub fn has_subscribers(&self) -> bool {
        !lock(&self.subscribers).is_empty()
    }

    /// The window closed: its channels lead nowhere now.
    pub fn drop_subscribers(&self) {
        lock(&self.subscribers).clear();
    }

    /// Keeps at most [`crate::bounds::MAX_SUBSCRIBERS`] channels: a window that
    /// subscribes again and again (reloads) replaces its oldest channels.
    pub fn subscribe(&self, ch: Channel<UiEvent>) {
        let dropped = crate::bounds::push_bounded(
            &mut lock(&self.subscribers),
            ch,
            crate::bounds::MAX_SUBSCRIBERS,
        );
        if dropped > 0 {
            tracing::debug!("dropped {dropped} old subscriber channel(s)");
        }
    }

    /// Sends to every subscriber, forgetting those whose window has gone.
    pub fn broadcast(&self, ev: &UiEvent) {
        lock(&self.subscribers).retain(|ch| ch.send(ev.clone()).is_ok());
    }

    pub fn log_alert(&self, entry: AlertEntry) {
        {
            let mut a = lock(&self.alerts);
            a.push_back(entry.clone());
            while a.len() > ALERT_LOG_LEN {
                a.pop_front();
            }
        }
        self.broadcast(&UiEvent::Alert { entry });
    }

    /// Snoozes notifications for `secs` from now (or resumes with `None`) and logs it.
    pub fn set_snooze(&self, secs: Option<f64>) -> Option<Ts> {
        let now = now();
        let until = secs.map(|s| now + s);
        self.snooze.set_until(until);
        if let Err(e) = self.history().record_snooze(now, until, "snooze") {
            tracing::debug!("snooze not kept in history: {e}");
        }
        let message = match until {
            Some(_) => format!(
                "notifications snoozed for {}",
                headroom_engine::assess::format_duration(secs.unwrap_or(0.0))
            ),
            None => "notifications resumed".to_string(),
        };
        self.log_alert(AlertEntry {
            ts: now,
            kind: "snooze",
            item: None,
            level: None,
            previous: None,
            message,
            server: None,
        });
        until
    }
}

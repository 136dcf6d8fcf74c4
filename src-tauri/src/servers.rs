//! The servers the desktop watches: this machine (the local monitor, unless `[local]
//! enabled = false`) and each `[[server]]` through its agent. Here are their rows, the
//! worst-of status, and what the window shows for the chosen one; the agents' events
//! arrive through [`run_fleet`].

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use headroom_engine::alerts::{AlertPolicy, Notification, Notifier, NotifyError};
use headroom_engine::assess::Level;
use headroom_engine::config::{Config, ServerEntry, Transport, LOCAL_ID};
use headroom_engine::fleet::{self, AgentState, FleetEvent, ServerHandle};
use headroom_engine::history::SampleBatch;
use headroom_engine::probe::ProbeResult;
use headroom_engine::snapshot::Snapshot;
use headroom_engine::time::Ts;
use serde::Serialize;
use tokio::sync::mpsc;

use crate::state::{AlertEntry, AppState};

/// Probe results kept per server.
const PROBE_LOG_LEN: usize = 200;
/// Events from all agents waiting for the window's thread; beyond it ticks are dropped.
const FLEET_CHANNEL: usize = 1024;

/// One server as the window lists it (`data-testid="server-row"`).
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct ServerRow {
    /// `local` for this machine, else the `[[server]]` name.
    pub id: String,
    pub name: String,
    /// `local`, `https`, `http` or `ssh`.
    pub transport: &'static str,
    /// Where it is reached (`https://mx1:9767`, `ssh admin@mx1`), empty for local.
    pub address: String,
    pub status: Level,
    /// Its main reason, one line.
    pub summary: String,
    /// Why it cannot be read now, when it cannot.
    pub reason: Option<String>,
    pub ts: Option<Ts>,
}

pub struct Remote {
    pub entry: ServerEntry,
    pub handle: Option<ServerHandle>,
    pub latest: Option<AgentState>,
    pub down: Option<String>,
    pub probes: VecDeque<ProbeResult>,
    /// `latest`'s one-line summary, made once per tick (rows are built per event).
    summary: Option<String>,
    /// How it is reached (`https`, `http`, `ssh`) and where, read once from `entry`.
    transport: (&'static str, String),
}

impl Remote {
    fn new(entry: &ServerEntry) -> Remote {
        let transport = match entry.transport() {
            Ok(Transport::Http { url, .. }) => {
                (if url.tls { "https" } else { "http" }, url.to_string())
            }
            Ok(Transport::Ssh { target, .. }) => ("ssh", format!("ssh {target}")),
            Err(_) => ("http", String::new()),
        };
        Remote {
            entry: entry.clone(),
            handle: None,
            latest: None,
            down: None,
            probes: VecDeque::new(),
            summary: None,
            transport,
        }
    }

    pub fn status(&self) -> Level {
        match (&self.down, &self.latest) {
            (None, Some(s)) => s.status,
            _ => Level::Unknown,
        }
    }

    pub fn row(&self) -> ServerRow {
        let (transport, address) = self.transport.clone();
        let summary = match (&self.down, &self.latest) {
            (Some(why), _) => format!("unknown: {why}"),
            (None, Some(_)) => self.summary.clone().unwrap_or_default(),
            (None, None) => format!("connecting to {address}"),
        };
        ServerRow {
            id: self.entry.name.clone(),
            name: self.entry.name.clone(),
            transport,
            address,
            status: self.status(),
            summary,
            reason: self.down.clone(),
            ts: self.latest.as_ref().and_then(|s| s.ts),
        }
    }
}

#[derive(Default)]
pub struct Servers {
    pub local: bool,
    pub remotes: Vec<Remote>,
    /// The server whose dashboard the window shows.
    pub selected: String,
}

impl Servers {
    pub fn new(config: &Config) -> Servers {
        let mut s = Servers {
            local: config.local.enabled,
            remotes: Vec::new(),
            selected: LOCAL_ID.to_string(),
        };
        s.sync(&config.servers, None);
        s
    }

    /// Follows the configuration's servers: unchanged ones keep what they hold, new or
    /// changed ones (and `restart`) start empty, removed ones go; a chosen server that
    /// went away leaves this machine (or the first server) chosen.
    pub fn sync(&mut self, entries: &[ServerEntry], restart: Option<&str>) {
        let mut old = std::mem::take(&mut self.remotes);
        self.remotes = entries
            .iter()
            .map(|e| {
                match old
                    .iter()
                    .position(|r| r.entry == *e && Some(e.name.as_str()) != restart)
                {
                    Some(i) => old.swap_remove(i),
                    None => Remote::new(e),
                }
            })
            .collect();
        if self.select(&self.selected.clone()).is_err() {
            self.selected = if self.local {
                LOCAL_ID.to_string()
            } else {
                self.remotes
                    .first()
                    .map(|r| r.entry.name.clone())
                    .unwrap_or_else(|| LOCAL_ID.to_string())
            };
        }
    }

    pub fn remote(&self, name: &str) -> Option<&Remote> {
        self.remotes.iter().find(|r| r.entry.name == name)
    }

    pub fn remote_mut(&mut self, name: &str) -> Option<&mut Remote> {
        self.remotes.iter_mut().find(|r| r.entry.name == name)
    }

    /// The chosen remote server, or `None` when this machine is shown.
    pub fn selected_remote(&self) -> Option<&Remote> {
        self.remote(&self.selected)
    }

    pub fn select(&mut self, id: &str) -> Result<(), String> {
        if (id == LOCAL_ID && self.local) || self.remote(id).is_some() {
            self.selected = id.to_string();
            Ok(())
        } else {
            Err(format!("no server `{id}` is watched"))
        }
    }
}

/// This machine's host name, when it has one.
pub fn hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| headroom_engine::sanitize::for_terminal(s.trim()))
        .filter(|s| !s.is_empty())
}

/// This machine's name for its row.
pub fn local_name() -> String {
    hostname()
        .map(|h| format!("{h} (this machine)"))
        .unwrap_or_else(|| "this machine".into())
}

/// The worst row and the overall level (unknown with nothing to watch).
pub fn overall(rows: &[ServerRow]) -> (Level, String) {
    match rows.iter().max_by_key(|r| r.status) {
        None => (
            Level::Unknown,
            "unknown: nothing to watch ([local] enabled = false and no [[server]])".into(),
        ),
        Some(r) if rows.len() == 1 => (r.status, r.summary.clone()),
        Some(r) if r.status == Level::Ok => (
            Level::Ok,
            format!("ok: all {} servers have room", rows.len()),
        ),
        Some(r) => (r.status, format!("{} — {}", r.name, r.summary)),
    }
}

/// A remote tick as the charts' one-row batch (host figures and items, as the local
/// monitor makes them).
pub fn samples_of(s: &AgentState) -> SampleBatch {
    let Some(ts) = s.ts else {
        return SampleBatch::default();
    };
    let snap = Snapshot {
        ts,
        host: s.host.clone(),
        mta: s.mta.clone(),
        ..Default::default()
    };
    let metrics = headroom_engine::tick::metrics_of(&snap, &s.assessment());
    SampleBatch {
        ts: vec![ts],
        series: metrics.into_iter().map(|(k, v)| (k, vec![v])).collect(),
    }
}

/// A notifier that names the server first: "mx2: critical: smtpd processes 20/20"
/// (no name: passed on as it is).
#[derive(Clone)]
pub struct Named {
    pub name: String,
    pub inner: Arc<dyn Notifier>,
}

impl Notifier for Named {
    fn notify(&self, n: &Notification) -> Result<(), NotifyError> {
        if self.name.is_empty() {
            return self.inner.notify(n);
        }
        let mut n = n.clone();
        n.summary = headroom_engine::sanitize::for_notification_summary(&format!(
            "{}: {}",
            self.name, n.summary
        ));
        self.inner.notify(&n)
    }
}

/// What the fleet task does after each event, given by the desktop shell.
pub trait Publish: Send + Sync + 'static {
    /// The rows or the chosen server changed; `samples` are the chosen one's new ones.
    fn publish(&self, samples: SampleBatch);
}

/// What the shell asks of the fleet task after it started.
#[derive(Debug, Clone)]
pub enum FleetCommand {
    /// The configuration changed: watch the `[[server]]` entries it names now.
    Sync,
    /// A server's token changed in the keyring: reconnect with it.
    Restart(String),
}

/// One running watcher and what it was started from.
struct Watcher {
    entry: ServerEntry,
    cancel: tokio_util::sync::CancellationToken,
}

/// Starts a watcher per `[[server]]` and applies their events until the app quits;
/// follows the configuration as settings change it.
pub async fn run_fleet(
    state: Arc<AppState>,
    notifier: Arc<dyn Notifier>,
    publish: Arc<dyn Publish>,
    mut commands: mpsc::UnboundedReceiver<FleetCommand>,
) {
    let (tx, mut rx) = mpsc::channel(FLEET_CHANNEL);
    let mut watchers: HashMap<String, Watcher> = HashMap::new();
    let mut policies: HashMap<String, (AlertPolicy, Named)> = HashMap::new();
    sync(&state, &notifier, &tx, &mut watchers, &mut policies, None).await;
    loop {
        let (name, ev) = tokio::select! {
            _ = state.cancel.cancelled() => return,
            // A closed inbox disables this branch (no busy loop); events go on.
            Some(c) = commands.recv() => {
                let restart = match &c {
                    FleetCommand::Sync => None,
                    FleetCommand::Restart(n) => Some(n.as_str()),
                };
                sync(&state, &notifier, &tx, &mut watchers, &mut policies, restart).await;
                publish.publish(SampleBatch::default());
                continue;
            }
            e = rx.recv() => match e {
                Some(e) => e,
                None => return,
            },
        };
        let selected = state.with_servers(|s| s.selected == name);
        let before = state.with_servers(|s| s.remote(&name).map(Remote::row));
        let mut samples = SampleBatch::default();
        match ev {
            FleetEvent::Up => state.with_servers(|s| {
                if let Some(r) = s.remote_mut(&name) {
                    r.down = None;
                }
            }),
            FleetEvent::State(st) => {
                if selected {
                    samples = samples_of(&st);
                }
                let fresh = state.with_servers(|s| {
                    let Some(r) = s.remote_mut(&name) else {
                        return Vec::new();
                    };
                    r.down = None;
                    // Probes the agent made before we listened (its state carries each
                    // target's latest): the log starts with them.
                    let fresh = unseen_probes(&r.probes, &st.probes);
                    for p in &fresh {
                        push_probe(&mut r.probes, p.clone());
                    }
                    r.summary = Some(st.assessment().summary());
                    r.latest = Some(*st);
                    fresh
                });
                if selected {
                    for p in &fresh {
                        state.broadcast_probe(p);
                    }
                }
            }
            FleetEvent::Down(why) => state.with_servers(|s| {
                if let Some(r) = s.remote_mut(&name) {
                    r.down = Some(why);
                }
            }),
            FleetEvent::Transition(t) => {
                if t.is_news() {
                    let mut entry = AlertEntry::from_transition(&t);
                    entry.server = Some(name.clone());
                    state.log_alert(entry);
                }
                if let Some((policy, named)) = policies.get_mut(&name) {
                    for n in policy.decide(std::slice::from_ref(&t)) {
                        if let Err(e) = named.notify(&n) {
                            tracing::debug!("{name}: notification not shown: {e}");
                        }
                    }
                }
                continue;
            }
            FleetEvent::Probe(p) => {
                state.with_servers(|s| {
                    if let Some(r) = s.remote_mut(&name) {
                        push_probe(&mut r.probes, (*p).clone());
                    }
                });
                if selected {
                    state.broadcast_probe(&p);
                }
                continue;
            }
        }
        let after = state.with_servers(|s| s.remote(&name).map(Remote::row));
        let row_changed = match (&before, &after) {
            (Some(b), Some(a)) => b.status != a.status || b.summary != a.summary,
            _ => true,
        };
        if selected || row_changed {
            publish.publish(samples);
        }
    }
}

/// Makes the watchers match the configuration: stops those of removed or changed
/// servers (and `restart`), starts the missing ones with their token from the keyring.
async fn sync(
    state: &Arc<AppState>,
    notifier: &Arc<dyn Notifier>,
    tx: &mpsc::Sender<(String, FleetEvent)>,
    watchers: &mut HashMap<String, Watcher>,
    policies: &mut HashMap<String, (AlertPolicy, Named)>,
    restart: Option<&str>,
) {
    let config = state.config();
    watchers.retain(|name, w| {
        let keep = Some(name.as_str()) != restart && config.servers.contains(&w.entry);
        if !keep {
            w.cancel.cancel();
        }
        keep
    });
    policies.retain(|name, _| config.servers.iter().any(|e| e.name == *name));
    state.with_servers(|s| s.sync(&config.servers, restart));
    for entry in &config.servers {
        if watchers.contains_key(&entry.name) {
            continue;
        }
        let token = fleet::token_of(entry).await;
        if let Err(e) = &token {
            tracing::warn!("server {}: {e}", entry.name);
        }
        let cancel = state.cancel.child_token();
        let handle = fleet::spawn(entry, token, tx.clone(), cancel.clone());
        state.with_servers(|s| {
            if let Some(r) = s.remote_mut(&entry.name) {
                r.handle = Some(handle);
            }
        });
        watchers.insert(
            entry.name.clone(),
            Watcher {
                entry: entry.clone(),
                cancel,
            },
        );
        policies.entry(entry.name.clone()).or_insert_with(|| {
            (
                AlertPolicy::new(config.notifications.clone(), state.snooze.clone()),
                Named {
                    name: entry.name.clone(),
                    inner: notifier.clone(),
                },
            )
        });
    }
    for (policy, _) in policies.values_mut() {
        policy.set_settings(config.notifications.clone());
    }
}

fn push_probe(log: &mut VecDeque<ProbeResult>, p: ProbeResult) {
    log.push_back(p);
    while log.len() > PROBE_LOG_LEN {
        log.pop_front();
    }
}

/// The state's latest probes that the log does not hold yet, oldest first.
fn unseen_probes(log: &VecDeque<ProbeResult>, latest: &[ProbeResult]) -> Vec<ProbeResult> {
    let mut fresh: Vec<ProbeResult> = latest
        .iter()
        .filter(|p| !log.iter().any(|q| q.name == p.name && q.ts == p.ts))
        .filter(|p| log.back().is_none_or(|last| p.ts >= last.ts))
        .cloned()
        .collect();
    fresh.sort_by(|a, b| a.ts.total_cmp(&b.ts));
    fresh
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, status: Level) -> ServerRow {
        ServerRow {
            id: name.into(),
            name: name.into(),
            transport: "https",
            address: String::new(),
            status,
            summary: format!("{status}: something"),
            reason: None,
            ts: None,
        }
    }

    #[test]
    fn the_overall_level_is_the_worst_and_names_its_server() {
        let rows = vec![
            row("mx1", Level::Ok),
            row("mx2", Level::Critical),
            row("mx3", Level::Unknown),
        ];
        let (level, summary) = overall(&rows);
        assert_eq!(level, Level::Critical);
        assert!(summary.starts_with("mx2 — "), "{summary}");
        let (level, summary) = overall(&[row("a", Level::Ok), row("b", Level::Ok)]);
        assert_eq!(level, Level::Ok);
        assert!(summary.contains("all 2 servers"), "{summary}");
        assert_eq!(overall(&[]).0, Level::Unknown);
    }

    #[test]
    fn a_notification_starts_with_the_server_name_and_stays_plain() {
        struct Keep(std::sync::Mutex<Vec<Notification>>);
        impl Notifier for Keep {
            fn notify(&self, n: &Notification) -> Result<(), NotifyError> {
                self.0.lock().expect("lock").push(n.clone());
                Ok(())
            }
        }
        let keep = Arc::new(Keep(Default::default()));
        let named = Named {
            name: "mx2".into(),
            inner: keep.clone(),
        };
        named
            .notify(&Notification {
                summary: "critical: smtpd\u{1b}[2J processes".into(),
                body: String::new(),
                text: String::new(),
                ts: 0.0,
                urgency: headroom_engine::alerts::Urgency::Critical,
                items: vec![],
                level: Level::Critical,
            })
            .expect("shown");
        let got = keep.0.lock().expect("lock")[0].summary.clone();
        assert!(got.starts_with("mx2: critical"), "{got}");
        assert!(!got.contains('\u{1b}'), "{got}");
    }
}

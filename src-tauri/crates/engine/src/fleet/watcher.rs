//! One task per `[[server]]`: connect, follow the agent's events, and when the link
//! fails, say so (after a short grace, so a restarting agent does not flap the row)
//! and try again with a bounded backoff. Asks (Probe now) go to the live session.

use std::time::{Duration, Instant};

use hyper::Method;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::http::HttpAgent;
use super::ssh::{Ask, SshAgent};
use super::{AgentState, FleetError, RawEvent};
use crate::assess::Transition;
use crate::config::{ServerEntry, Transport};
use crate::probe::ProbeResult;

/// How long a server that was answering may fail before its row turns unknown.
pub const GRACE: Duration = Duration::from_secs(3);
/// Longest wait between two attempts to reach a server.
pub const MAX_BACKOFF: Duration = Duration::from_secs(15);

/// What a watched server said, tagged with its name on the fleet's channel.
#[derive(Debug, Clone)]
pub enum FleetEvent {
    /// The agent accepted the subscription (its state follows at once).
    Up,
    State(Box<AgentState>),
    Transition(Box<Transition>),
    Probe(Box<ProbeResult>),
    /// The server cannot be reached or read, and why.
    Down(String),
}

/// The desktop's hold on one watched server.
#[derive(Debug, Clone)]
pub struct ServerHandle {
    pub name: String,
    asks: mpsc::Sender<Ask>,
    http: Option<HttpAgent>,
}

impl ServerHandle {
    /// Probe now, on the agent. False when a probe ask is already waiting.
    pub fn probe_now(&self) -> bool {
        self.asks.try_send(Ask::Probe).is_ok()
    }

    /// `GET /api/v1/history` from the agent (over HTTP; an ssh server has none here).
    pub async fn history(&self, query: &str) -> Result<serde_json::Value, FleetError> {
        match &self.http {
            Some(a) => a.json(Method::GET, &format!("/api/v1/history?{query}")).await,
            None => Err(FleetError::Ssh(
                "history is not fetched over ssh; the charts show what arrived since the window opened".into(),
            )),
        }
    }
}

/// Starts watching `entry`. `token` is the keyring lookup's result (an ssh server needs
/// none). Events go to `out` as `(name, event)`; a full channel drops ticks, never stalls.
pub fn spawn(
    entry: &ServerEntry,
    token: Result<String, String>,
    out: mpsc::Sender<(String, FleetEvent)>,
    cancel: CancellationToken,
) -> ServerHandle {
    let (ask_tx, ask_rx) = mpsc::channel(1);
    let name = entry.name.clone();
    let (http, ssh) = match entry.transport() {
        Ok(Transport::Http { url, fingerprint }) => (
            Some(HttpAgent {
                url,
                fingerprint,
                token: token.as_ref().ok().cloned(),
                account: entry.token_account(),
            }),
            None,
        ),
        _ => (None, Some(SshAgent::new(entry))),
    };
    let handle = ServerHandle {
        name: name.clone(),
        asks: ask_tx,
        http: http.clone(),
    };
    let token_problem = token.err();
    tokio::spawn(async move {
        tokio::select! {
            _ = cancel.cancelled() => {}
            _ = run(name, http, ssh, token_problem, ask_rx, out) => {}
        }
    });
    handle
}

async fn run(
    name: String,
    http: Option<HttpAgent>,
    ssh: Option<SshAgent>,
    token_problem: Option<String>,
    mut asks: mpsc::Receiver<Ask>,
    out: mpsc::Sender<(String, FleetEvent)>,
) {
    let mut backoff = Duration::from_secs(1);
    let mut failing_since: Option<Instant> = None;
    let mut said_down: Option<String> = None;
    let mut ever_up = false;
    loop {
        let opened = std::sync::atomic::AtomicBool::new(false);
        let result = {
            let (up_tx, up_name) = (out.clone(), name.clone());
            let on_open = || {
                opened.store(true, std::sync::atomic::Ordering::Relaxed);
                let _ = up_tx.try_send((up_name.clone(), FleetEvent::Up));
            };
            let tx = out.clone();
            let n = name.clone();
            let on_event = move |raw: RawEvent| {
                if let Some(ev) = typed(&n, raw) {
                    // A full channel means the window is behind: the next tick
                    // supersedes this one.
                    if let Err(mpsc::error::TrySendError::Full(_)) = tx.try_send((n.clone(), ev)) {
                        tracing::debug!("{n}: the fleet channel is full; an event was dropped");
                    }
                }
            };
            match (&http, &ssh) {
                (Some(a), _) => http_session(a, &mut asks, on_open, on_event).await,
                (None, Some(s)) => s.events(&mut asks, on_open, on_event).await,
                (None, None) => return,
            }
        };
        let err = match result {
            Ok(()) => return, // the handle is gone: nobody watches any more
            Err(e) => e,
        };
        let err = match (err, &token_problem) {
            (FleetError::Unauthorized { .. }, Some(why)) => FleetError::NoToken(why.clone()),
            (e, _) => e,
        };
        if opened.load(std::sync::atomic::Ordering::Relaxed) {
            // It answered this time: the grace starts now, the backoff from 1 s.
            ever_up = true;
            backoff = Duration::from_secs(1);
            failing_since = Some(Instant::now());
            said_down = None;
        }
        let since = *failing_since.get_or_insert_with(Instant::now);
        let reason = err.to_string();
        let due = !ever_up || since.elapsed() >= GRACE;
        if due && said_down.as_deref() != Some(reason.as_str()) {
            tracing::info!("{name}: {reason}");
            let _ = out
                .send((name.clone(), FleetEvent::Down(reason.clone())))
                .await;
            said_down = Some(reason);
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

async fn http_session(
    agent: &HttpAgent,
    asks: &mut mpsc::Receiver<Ask>,
    on_open: impl FnMut(),
    on_event: impl FnMut(RawEvent),
) -> Result<(), FleetError> {
    let stream = agent.events(on_open, on_event);
    tokio::pin!(stream);
    let result = loop {
        tokio::select! {
            r = &mut stream => break r,
            ask = asks.recv() => match ask {
                Some(Ask::Probe) => {
                    let a = agent.clone();
                    tokio::spawn(async move {
                        // The results arrive as `probe` events on the stream.
                        if let Err(e) = a.json(Method::POST, "/api/v1/probe").await {
                            tracing::info!("{}: Probe now failed: {e}", a.url);
                        }
                    });
                }
                None => break Ok(()),
            },
        }
    };
    result
}

/// The agent's event in the engine's types; what does not parse is skipped and said.
fn typed(name: &str, raw: RawEvent) -> Option<FleetEvent> {
    let ev = match raw.kind.as_str() {
        "tick" => AgentState::from_value(raw.data).map(|s| FleetEvent::State(Box::new(s))),
        "transition" => serde_json::from_value::<Transition>(raw.data)
            .map(|t| FleetEvent::Transition(Box::new(t)))
            .map_err(|e| e.to_string()),
        "probe" => serde_json::from_value::<ProbeResult>(raw.data)
            .map(|p| FleetEvent::Probe(Box::new(p)))
            .map_err(|e| e.to_string()),
        _ => return None, // a newer agent's event kind
    };
    match ev {
        Ok(e) => Some(e),
        Err(why) => {
            tracing::debug!("{name}: skipped a {} event: {why}", raw.kind);
            None
        }
    }
}

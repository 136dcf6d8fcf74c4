//! The agent's sink: turns the monitor's ticks, transitions and probe results into
//! serialized events once, and broadcasts them to every subscriber (SSE clients, the
//! stdio transport, a waiting `POST /api/v1/probe`). The channel is bounded: a
//! subscriber that falls behind by more than its capacity is told it lagged and is
//! dropped by its transport, never buffered for.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use headroom_engine::probe::ProbeResult;
use headroom_engine::tick::{Sink, Tick};
use tokio::sync::broadcast;

/// Events a subscriber may fall behind by before it is dropped.
pub const CAPACITY: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Tick,
    Transition,
    Probe,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Tick => "tick",
            Kind::Transition => "transition",
            Kind::Probe => "probe",
        }
    }
}

/// One event, serialized once for all subscribers.
#[derive(Debug, Clone)]
pub struct Event {
    pub kind: Kind,
    pub data: Arc<str>,
    /// The probe's target name, for a `POST /api/v1/probe` waiting on its targets.
    pub probe_name: Option<String>,
}

/// Each target's latest probe result and when it arrived: what `POST /api/v1/probe`
/// answers for a target the scheduler debounced (it probed a moment ago). Bounded by
/// the configured targets.
pub type LatestProbes = Arc<Mutex<BTreeMap<String, (Instant, Arc<str>)>>>;

pub struct Broadcast {
    tx: broadcast::Sender<Event>,
    latest: LatestProbes,
}

impl Broadcast {
    pub fn new(tx: broadcast::Sender<Event>, latest: LatestProbes) -> Self {
        Broadcast { tx, latest }
    }

    fn send(&self, kind: Kind, data: String, probe_name: Option<String>) {
        // No subscriber is not an error: events are for whoever listens now.
        let _ = self.tx.send(Event {
            kind,
            data: data.into(),
            probe_name,
        });
    }
}

impl Sink for Broadcast {
    fn on_tick(&mut self, tick: &Tick) {
        if self.tx.receiver_count() == 0 {
            return;
        }
        let state = crate::serve::state_of(tick);
        self.send(Kind::Tick, state.to_string(), None);
        for t in &tick.transitions {
            if let Ok(s) = serde_json::to_string(t) {
                self.send(Kind::Transition, s, None);
            }
        }
    }

    fn on_probe(&mut self, result: &ProbeResult) {
        let Ok(s) = serde_json::to_string(result) else {
            return;
        };
        let data: Arc<str> = s.into();
        headroom_engine::lock::lock(&self.latest)
            .insert(result.name.clone(), (Instant::now(), data.clone()));
        // No subscriber is not an error: events are for whoever listens now.
        let _ = self.tx.send(Event {
            kind: Kind::Probe,
            data,
            probe_name: Some(result.name.clone()),
        });
    }
}

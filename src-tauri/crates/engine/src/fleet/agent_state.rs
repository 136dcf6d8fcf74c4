//! The agent's state object (`GET /api/v1/state`, every `tick` event), read back into
//! the engine's types. Read leniently: an item or probe this version does not know (a
//! newer agent) is left out rather than failing the whole state.

use serde::Deserialize;
use serde_json::Value;

use crate::assess::{Item, Level};
use crate::host::HostSample;
use crate::mta::MtaSample;
use crate::probe::ProbeResult;
use crate::snapshot::SourceProblem;
use crate::time::Ts;

#[derive(Debug, Clone, PartialEq)]
pub struct AgentState {
    pub status: Level,
    pub items: Vec<Item>,
    pub host: Option<HostSample>,
    /// The agent's mail server as its engine holds it (`mta_sample`).
    pub mta: Option<MtaSample>,
    pub probes: Vec<ProbeResult>,
    pub problems: Vec<SourceProblem>,
    pub ts: Option<Ts>,
    /// The agent machine's own name.
    pub hostname: Option<String>,
    pub version: Option<String>,
    /// Parts of the state that could not be read (newer agent, garbage).
    pub skipped: usize,
}

#[derive(Deserialize)]
struct Wire {
    status: Level,
    #[serde(default)]
    items: Vec<Value>,
    #[serde(default)]
    host: Option<Value>,
    #[serde(default)]
    mta_sample: Option<Value>,
    #[serde(default)]
    probes: Vec<Value>,
    #[serde(default)]
    problems: Vec<Value>,
    #[serde(default)]
    ts: Option<f64>,
    #[serde(default)]
    hostname: Option<String>,
    #[serde(default)]
    version: Option<String>,
}

impl AgentState {
    pub fn from_value(v: Value) -> Result<AgentState, String> {
        let w: Wire = serde_json::from_value(v).map_err(|e| format!("state object: {e}"))?;
        let mut skipped = 0;
        let items: Vec<Item> = keep_typed(w.items, &mut skipped);
        let probes: Vec<ProbeResult> = keep_typed(w.probes, &mut skipped);
        let problems: Vec<SourceProblem> = keep_typed(w.problems, &mut skipped);
        let host = w
            .host
            .filter(|h| !h.is_null())
            .and_then(|h| serde_json::from_value(h).ok());
        let mta = w
            .mta_sample
            .filter(|m| !m.is_null())
            .and_then(|m| serde_json::from_value(m).ok());
        Ok(AgentState {
            status: w.status,
            items,
            host,
            mta,
            probes,
            problems,
            ts: w.ts.filter(|t| t.is_finite()),
            hostname: w.hostname.map(|h| shown(&h, 253)),
            version: w.version.map(|v| shown(&v, 40)),
            skipped,
        })
    }

    /// The item that sets the level, as `Assessment::main_item` picks it.
    pub fn assessment(&self) -> crate::assess::Assessment {
        crate::assess::Assessment {
            ts: self.ts.unwrap_or(0.0),
            status: self.status,
            items: self.items.clone(),
        }
    }
}

/// Remote text for the window and the tray: one clean line, bounded.
fn shown(s: &str, max: usize) -> String {
    crate::sanitize::cut_bytes(&crate::sanitize::for_terminal(s), max)
}

fn keep_typed<T: serde::de::DeserializeOwned>(vs: Vec<Value>, skipped: &mut usize) -> Vec<T> {
    vs.into_iter()
        .filter_map(|v| {
            let r = serde_json::from_value(v).ok();
            if r.is_none() {
                *skipped += 1;
            }
            r
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_state_with_an_unknown_item_keeps_the_rest() {
        let v = json!({
            "status": "warning", "ts": 1.5e9, "hostname": "mx1\u{1b}[2J", "version": "0.1.0",
            "items": [
                {"id": "smtpd_processes", "used": 17.0, "limit": 20.0, "ratio": 0.85,
                 "level": "warning", "forecast_s": null, "detail": "service smtp"},
                {"id": "a_future_item", "used": 1.0, "limit": 2.0, "ratio": 0.5,
                 "level": "ok", "forecast_s": null, "detail": ""}
            ],
            "probes": [], "problems": [{"source": "maillog", "message": "no log"}],
            "host": null, "mta": {"kind": "postfix"}
        });
        let s = AgentState::from_value(v).expect("accepted");
        assert_eq!(s.status, Level::Warning);
        assert_eq!(s.items.len(), 1);
        assert_eq!(s.skipped, 1);
        assert_eq!(s.problems.len(), 1);
        assert!(!s.hostname.expect("accepted").contains('\u{1b}'));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(AgentState::from_value(json!({"status": "on fire"})).is_err());
        assert!(AgentState::from_value(json!([1, 2])).is_err());
    }
}

//! The state object: what `check --json` prints and what the agent serves at
//! `/api/v1/state` and in its `tick` events (with `host`, `ts`, `version` added there).
//! One function, so the two never drift apart.

use headroom_engine::assess::Assessment;
use headroom_engine::mta::MtaState;
use headroom_engine::snapshot::Snapshot;
use serde_json::{json, Value};

/// The `check --json` object for one snapshot and its assessment.
pub fn state_object(snapshot: &Snapshot, assessment: &Assessment) -> Value {
    let mta = snapshot.mta.as_ref();
    json!({
        "status": assessment.status,
        "mta": mta.map(|m| json!({
            "kind": m.kind, "version": m.version, "running": m.is_running(),
            "down_reason": match &m.state {
                MtaState::Down { reason } => Some(reason),
                MtaState::Running => None,
            },
            "config_source": m.config_source, "notes": m.notes, "services": m.services,
        })),
        "limits": mta.map(|m| &m.limits),
        "queue": mta.and_then(|m| m.queue.as_ref()).map(|q| {
            let d = mta.and_then(|m| m.details.as_ref());
            json!({
                "maildrop": q.maildrop, "incoming": q.incoming, "active": q.active,
                "deferred": q.deferred, "hold": q.hold, "oldest_age_s": q.oldest_age_s,
                "method": q.method,
                "top_reasons": d.map(|d| &d.top_reasons),
                "top_domains": d.map(|d| &d.top_domains),
            })
        }),
        "host": snapshot.host,
        "items": assessment.items,
        "probes": snapshot.probes.iter().map(|p| &p.latest).collect::<Vec<_>>(),
        "problems": snapshot.problems,
    })
}

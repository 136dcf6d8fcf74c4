//! The desktop's side of the agents: each `[[server]]` is watched by a task that reaches
//! its `headroom-cli serve` over HTTP(S) (pinned certificate, bearer token) or through
//! the admin's ssh client (`serve --stdio`), reads its events, and hands them on as
//! [`FleetEvent`]s. A server that cannot be reached is reported [`FleetEvent::Down`] with
//! the reason after a short grace, and retried with a bounded backoff until it answers.
//!
//! Everything an agent sends is untrusted: lines and events are bounded, and an event
//! that does not parse is skipped with a note, never a crash.

mod agent_state;
mod error;
mod http;
mod pin;
mod sse;
mod ssh;
mod watcher;

pub use agent_state::AgentState;
pub use error::FleetError;
pub use http::{test_connection, Tested};
pub use pin::fingerprint;

/// The token to reach `entry` with: the keyring's `agent@NAME` for an agent over
/// HTTP(S), nothing over ssh (ssh authenticates). `Err` says why the keyring had none.
pub async fn token_of(entry: &crate::config::ServerEntry) -> Result<String, String> {
    match entry.ssh {
        Some(_) => Ok(String::new()),
        None => crate::probe::secret::lookup(&entry.token_account())
            .await
            .map_err(|e| e.to_string()),
    }
}
pub use watcher::{spawn, FleetEvent, ServerHandle};

/// An event read from an agent, before it is typed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RawEvent {
    pub kind: String,
    pub data: serde_json::Value,
}

//! Thin `#[tauri::command]` adapters over the shell state and the engine. Each is
//! granted by name in capabilities/main.json; nothing else is callable.

use std::sync::Arc;

use serde::Serialize;
use tauri::ipc::Channel;
use tauri::{AppHandle, Runtime, State};

use crate::state::{AlertEntry, AppState, StateView, UiEvent};
use headroom_engine::history::SampleBatch;

/// Errors as the window sees them: `{kind, message}`.
#[derive(Debug, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct CommandError {
    pub kind: &'static str,
    pub message: String,
}

#[derive(Serialize)]
pub struct Initial {
    pub state: StateView,
    pub history: SampleBatch,
    pub alerts: Vec<AlertEntry>,
    pub probes: Vec<headroom_engine::probe::ProbeResult>,
}

/// The current state, recent history for the charts, and the alert log.
#[tauri::command]
pub fn get_state(state: State<'_, Arc<AppState>>) -> Initial {
    Initial {
        state: state.view(),
        history: state.history(),
        alerts: state.alerts(),
        probes: state.probe_log(),
    }
}

/// Live updates (ticks and alerts) through an ordered channel.
#[tauri::command]
pub fn subscribe(state: State<'_, Arc<AppState>>, events: Channel<UiEvent>) {
    state.subscribe(events);
}

/// Snoozes notifications for `minutes` (1 to 1440), or resumes them with `null`.
#[tauri::command]
pub fn snooze(
    state: State<'_, Arc<AppState>>,
    minutes: Option<f64>,
) -> Result<Option<f64>, CommandError> {
    if let Some(m) = minutes {
        if !(m.is_finite() && (1.0..=1440.0).contains(&m)) {
            return Err(CommandError {
                kind: "invalid",
                message: format!("snooze minutes must be between 1 and 1440, not {m}"),
            });
        }
    }
    Ok(state.set_snooze(minutes.map(|m| m * 60.0)))
}

/// "Probe now": every target probes at once (debounced). Says what happened:
/// `started`, `already_running`, `debounced` or `no_targets`.
#[tauri::command]
pub fn probe_now(state: State<'_, Arc<AppState>>) -> &'static str {
    state.probe_now()
}

/// What an SMTP reply means, why it happens and what to do, with this server's values.
#[tauri::command]
pub fn explain_reply(
    state: State<'_, Arc<AppState>>,
    code: u16,
    enhanced: Option<String>,
    text: String,
) -> headroom_engine::explain::Explanation {
    headroom_engine::explain::explain_reply(
        code,
        enhanced.as_deref(),
        &text,
        None,
        &state.live_limits(),
    )
}

/// Who is deferring our mail and why, per destination, over the last `window_mins`.
#[tauri::command]
pub fn get_destinations(
    state: State<'_, Arc<AppState>>,
    window_mins: Option<f64>,
) -> Option<headroom_engine::maillog::MaillogReport> {
    let window = window_mins.unwrap_or(60.0).clamp(1.0, 24.0 * 60.0) * 60.0;
    state.destinations(window)
}

#[tauri::command]
pub fn quit_app<R: Runtime>(app: AppHandle<R>) {
    app.exit(0);
}

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
}

/// The current state, recent history for the charts, and the alert log.
#[tauri::command]
pub fn get_state(state: State<'_, Arc<AppState>>) -> Initial {
    Initial {
        state: state.view(),
        history: state.history(),
        alerts: state.alerts(),
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

#[tauri::command]
pub fn quit_app<R: Runtime>(app: AppHandle<R>) {
    app.exit(0);
}

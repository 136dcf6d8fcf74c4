//! Thin `#[tauri::command]` adapters over the shell state and the engine. Each is
//! granted by name in capabilities/main.json; nothing else is callable.

use std::sync::Arc;

use serde::Serialize;
use tauri::ipc::Channel;
use tauri::{AppHandle, Runtime, State};

use crate::bounds;
use crate::state::{AlertEntry, AppState, StateView, UiEvent};
use headroom_engine::history::SampleBatch;

/// Errors as the window sees them: `{kind, message}`.
#[derive(Debug, Serialize, thiserror::Error, ts_rs::TS)]
#[ts(export)]
#[error("{message}")]
pub struct CommandError {
    pub kind: &'static str,
    pub message: String,
}

#[derive(Serialize, ts_rs::TS)]
#[ts(export)]
pub struct Initial {
    pub state: StateView,
    pub history: SampleBatch,
    pub alerts: Vec<AlertEntry>,
    pub probes: Vec<headroom_engine::probe::ProbeResult>,
}

/// Runs `f` on the blocking pool, never on the GTK main thread: a lock held by a slow
/// tick, a history write or a file save must not freeze the window.
async fn off_main<T: Send + 'static>(
    state: &State<'_, Arc<AppState>>,
    f: impl FnOnce(&AppState) -> T + Send + 'static,
) -> Result<T, CommandError> {
    let state = state.inner().clone();
    tauri::async_runtime::spawn_blocking(move || f(&state))
        .await
        .map_err(|e| CommandError {
            kind: "internal",
            message: format!("the command stopped: {e}"),
        })
}

/// The current state, recent history for the charts, and the alert log.
#[tauri::command]
pub async fn get_state(state: State<'_, Arc<AppState>>) -> Result<Initial, CommandError> {
    state.wait_ready(std::time::Duration::from_secs(10)).await;
    off_main(&state, |state| Initial {
        state: state.view(),
        history: state.recent_history(),
        alerts: state.alerts(),
        probes: state.probe_log(),
    })
    .await
}

/// Live updates (ticks and alerts) through an ordered channel; at most
/// [`bounds::MAX_SUBSCRIBERS`] are kept, the oldest dropped first.
#[tauri::command]
pub fn subscribe(state: State<'_, Arc<AppState>>, events: Channel<UiEvent>) {
    state.subscribe(events);
}

/// Snoozes notifications for `minutes` (1 to 1440), or resumes them with `null`.
#[tauri::command]
pub async fn snooze(
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
    off_main(&state, move |state| {
        state.set_snooze(minutes.map(|m| m * 60.0))
    })
    .await
}

/// "Probe now": every target probes at once (debounced). Says what happened:
/// `started`, `already_running`, `debounced` or `no_targets`.
#[tauri::command]
pub fn probe_now(state: State<'_, Arc<AppState>>) -> &'static str {
    state.probe_now()
}

/// What an SMTP reply means, why it happens and what to do, with this server's values.
#[tauri::command]
pub async fn explain_reply(
    state: State<'_, Arc<AppState>>,
    code: u16,
    enhanced: Option<String>,
    text: String,
) -> Result<headroom_engine::explain::Explanation, CommandError> {
    off_main(&state, move |state| {
        headroom_engine::explain::explain_reply(
            code,
            enhanced.as_deref(),
            &text,
            None,
            &state.live_limits(),
        )
    })
    .await
}

/// Who is deferring our mail and why, per destination, over the last `window_mins`.
#[tauri::command]
pub async fn get_destinations(
    state: State<'_, Arc<AppState>>,
    window_mins: Option<f64>,
) -> Result<Option<headroom_engine::maillog::MaillogReport>, CommandError> {
    let window = window_mins.unwrap_or(60.0).clamp(1.0, 24.0 * 60.0) * 60.0;
    off_main(&state, move |state| state.destinations(window)).await
}

#[tauri::command]
pub async fn get_settings(
    state: State<'_, Arc<AppState>>,
) -> Result<headroom_engine::settings::Settings, CommandError> {
    off_main(&state, |state| state.settings()).await
}

/// Saves settings into the configuration file and applies them without a restart;
/// refused settings come back as `{field, message}` and change nothing.
#[tauri::command]
pub async fn save_settings(
    state: State<'_, Arc<AppState>>,
    settings: headroom_engine::settings::Settings,
) -> Result<headroom_engine::settings::Settings, headroom_engine::settings::SettingsError> {
    bounds::check_probe_targets(settings.probes.len()).map_err(|e| {
        headroom_engine::settings::SettingsError {
            field: "probes".into(),
            message: e.to_string(),
        }
    })?;
    off_main(&state, move |state| state.save_settings(&settings))
        .await
        .map_err(|e| headroom_engine::settings::SettingsError {
            field: "file".into(),
            message: e.message,
        })?
}

/// Chart data of the last `range_s` seconds from the history store.
#[tauri::command]
pub async fn get_history(
    state: State<'_, Arc<AppState>>,
    range_s: f64,
    names: Vec<String>,
) -> Result<SampleBatch, CommandError> {
    bounds::check_names(&names).map_err(invalid)?;
    let history = state.history();
    let end = headroom_engine::time::unix_now();
    let start = end - range_s.clamp(60.0, 400.0 * 86400.0);
    // A chosen agent answers from its own history.
    let remote = state.with_servers(|s| s.selected_remote().map(|r| r.handle.clone()));
    if let Some(handle) = remote {
        let handle = handle.ok_or_else(|| CommandError {
            kind: "history",
            message: "the server is not connected yet".into(),
        })?;
        let query = format!(
            "names={}&from={start}&to={end}",
            names
                .iter()
                .map(|n| query_escape(n))
                .collect::<Vec<_>>()
                .join(",")
        );
        let v = handle.history(&query).await.map_err(|e| CommandError {
            kind: "history",
            message: e.to_string(),
        })?;
        return serde_json::from_value(v).map_err(|e| CommandError {
            kind: "history",
            message: format!("the agent's history is not a sample batch: {e}"),
        });
    }
    tauri::async_runtime::spawn_blocking(move || {
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        history.range(start, end, &names)
    })
    .await
    .map_err(|e| CommandError {
        kind: "internal",
        message: e.to_string(),
    })?
    .map_err(|e| CommandError {
        kind: "history",
        message: e.to_string(),
    })
}

/// Writes the last `range_s` seconds of the named series as CSV next to the user's
/// other downloads and says where.
#[tauri::command]
pub async fn export_csv(
    state: State<'_, Arc<AppState>>,
    range_s: f64,
    names: Vec<String>,
) -> Result<String, CommandError> {
    bounds::check_names(&names).map_err(invalid)?;
    let history = state.history();
    let end = headroom_engine::time::unix_now();
    let start = end - range_s.clamp(60.0, 400.0 * 86400.0);
    let fail = |kind: &'static str| move |e: String| CommandError { kind, message: e };
    tauri::async_runtime::spawn_blocking(move || {
        let dir = export_dir().ok_or_else(|| "no home directory to export into".to_string())?;
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let path = dir.join(format!("headroom-{}.csv", end as i64));
        let file = std::fs::File::create(&path)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        history
            .export_csv(start, end, &names, std::io::BufWriter::new(file))
            .map_err(|e| e.to_string())?;
        Ok(path.display().to_string())
    })
    .await
    .map_err(|e| e.to_string())
    .map_err(fail("internal"))?
    .map_err(fail("export"))
}

/// Percent-encodes a series name for a query string (names hold `:`, `/`, maybe spaces).
fn query_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn invalid(e: bounds::OutOfBounds) -> CommandError {
    CommandError {
        kind: "invalid",
        message: e.to_string(),
    }
}

fn export_dir() -> Option<std::path::PathBuf> {
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from)?;
    let downloads = home.join("Downloads");
    Some(if downloads.is_dir() {
        downloads
    } else {
        headroom_engine::config::data_dir()?.join("exports")
    })
}

/// Shows server `id`'s dashboard (`local` or a `[[server]]` name); the window then
/// asks for its state again.
#[tauri::command]
pub fn select_server(state: State<'_, Arc<AppState>>, id: String) -> Result<(), CommandError> {
    state.select(&id).map_err(|message| CommandError {
        kind: "invalid",
        message,
    })
}

/// Settings' "Test connection": reaches the agent as the watcher would, with `token`
/// or the one in the keyring; says what answered or which fingerprint to accept.
#[tauri::command]
pub async fn test_server(
    entry: headroom_engine::config::ServerEntry,
    token: Option<String>,
) -> headroom_engine::fleet::Tested {
    let token = match token.filter(|t| !t.trim().is_empty()) {
        Some(t) => Some(t.trim().to_string()),
        None => headroom_engine::fleet::token_of(&entry)
            .await
            .ok()
            .filter(|t| !t.is_empty()),
    };
    headroom_engine::fleet::test_connection(&entry, token).await
}

/// Stores an agent's token in the OS keyring (account `agent@NAME`) and reconnects
/// that server with it. The token is never written to the configuration or the log.
#[tauri::command]
pub async fn set_server_token(
    state: State<'_, Arc<AppState>>,
    name: String,
    token: String,
) -> Result<(), CommandError> {
    let token = token.trim();
    if !headroom_engine::config::valid_name(&name)
        || token.is_empty()
        || token.len() > 4096
        || token.chars().any(char::is_whitespace)
    {
        return Err(CommandError {
            kind: "invalid",
            message: "a server name (letters, digits, . _ -) and a one-word token are needed"
                .into(),
        });
    }
    headroom_engine::probe::secret::store(&headroom_engine::config::token_account(&name), token)
        .await
        .map_err(|e| CommandError {
            kind: "keyring",
            message: e.to_string(),
        })?;
    state.fleet_command(crate::servers::FleetCommand::Restart(name));
    Ok(())
}

/// Whether Headroom starts when the user logs in, as its autostart entry says now.
#[tauri::command]
pub async fn get_autostart() -> Result<bool, CommandError> {
    autostart_off_main(crate::autostart::enabled).await
}

/// Writes (`true`) or removes (`false`) the autostart entry; answers what the file
/// says afterwards.
#[tauri::command]
pub async fn set_autostart(enabled: bool) -> Result<bool, CommandError> {
    autostart_off_main(move |path| crate::autostart::set(path, enabled)).await
}

async fn autostart_off_main(
    f: impl FnOnce(&std::path::Path) -> Result<bool, crate::autostart::AutostartError> + Send + 'static,
) -> Result<bool, CommandError> {
    let fail = |message: String| CommandError {
        kind: "autostart",
        message,
    };
    tauri::async_runtime::spawn_blocking(move || {
        let path = crate::autostart::entry_path()?;
        f(&path)
    })
    .await
    .map_err(|e| fail(format!("the command stopped: {e}")))?
    .map_err(|e| fail(e.to_string()))
}

#[tauri::command]
pub fn quit_app<R: Runtime>(app: AppHandle<R>) {
    app.exit(0);
}

//! The tray icon and its menu: a status line, Probe now, Open dashboard, Snooze alerts
//! for 1 hour and Quit. The icon follows the overall level.
//!
//! Linux trays (StatusNotifierItem through libayatana) deliver no clicks on the icon,
//! only the menu: whatever the icon does when clicked elsewhere must be in the menu
//! too, as Open dashboard is for the left click.

use std::sync::Arc;

use headroom_engine::assess::Level;
use tauri::image::Image;
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::{MouseButton, MouseButtonState, TrayIcon, TrayIconBuilder, TrayIconEvent};
use tauri::{AppHandle, Runtime};

use crate::state::AppState;

pub struct Tray<R: Runtime> {
    pub icon: TrayIcon<R>,
    pub status: MenuItem<R>,
    pub snooze: MenuItem<R>,
}

// By hand: a derive would ask `R: Clone`, which runtimes are not.
impl<R: Runtime> Clone for Tray<R> {
    fn clone(&self) -> Self {
        Tray {
            icon: self.icon.clone(),
            status: self.status.clone(),
            snooze: self.snooze.clone(),
        }
    }
}

pub fn icon_for(level: Level) -> Image<'static> {
    let bytes: &'static [u8] = match level {
        Level::Ok => include_bytes!("../../icons/tray-ok.png"),
        Level::Watch => include_bytes!("../../icons/tray-watch.png"),
        Level::Warning => include_bytes!("../../icons/tray-warn.png"),
        Level::Critical => include_bytes!("../../icons/tray-crit.png"),
        Level::Unknown => include_bytes!("../../icons/tray-unknown.png"),
    };
    // The PNGs are ours and compiled in; a decoding failure is a build defect.
    Image::from_bytes(bytes).expect("embedded tray icon is a valid PNG")
}

/// The Linux tray needs libayatana-appindicator3 (or libappindicator3) at run time;
/// tray-icon panics when it cannot load it, so look first.
fn appindicator_present() -> bool {
    let names = ["libayatana-appindicator3.so.1", "libappindicator3.so.1"];
    let mut dirs: Vec<std::path::PathBuf> = std::env::var("LD_LIBRARY_PATH")
        .unwrap_or_default()
        .split(':')
        .filter(|s| !s.is_empty())
        .map(Into::into)
        .collect();
    for d in [
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
        "/usr/lib64",
        "/usr/lib",
        "/lib/x86_64-linux-gnu",
        "/usr/local/lib",
    ] {
        dirs.push(d.into());
    }
    dirs.iter()
        .any(|d| names.iter().any(|n| d.join(n).exists()))
}

pub fn create<R: Runtime>(app: &AppHandle<R>, state: &Arc<AppState>) -> Result<Tray<R>, String> {
    if cfg!(target_os = "linux") && !appindicator_present() {
        return Err(
            "libayatana-appindicator3 is not installed (apt install libayatana-appindicator3-1)"
                .into(),
        );
    }
    let err = |e: tauri::Error| e.to_string();
    let status = MenuItem::with_id(app, "status", "Headroom: starting…", false, None::<&str>)
        .map_err(err)?;
    let probe = MenuItem::with_id(app, "probe", "Probe now", true, None::<&str>).map_err(err)?;
    let open = MenuItem::with_id(app, "open", "Open dashboard", true, None::<&str>).map_err(err)?;
    let snooze = MenuItem::with_id(
        app,
        "snooze",
        "Snooze alerts for 1 hour",
        true,
        None::<&str>,
    )
    .map_err(err)?;
    let quit = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>).map_err(err)?;
    let sep1 = PredefinedMenuItem::separator(app).map_err(err)?;
    let sep2 = PredefinedMenuItem::separator(app).map_err(err)?;
    let menu = Menu::with_items(app, &[&status, &sep1, &probe, &open, &snooze, &sep2, &quit])
        .map_err(err)?;
    let menu_state = state.clone();
    let snooze_item = snooze.clone();
    let built = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        TrayIconBuilder::with_id("headroom")
            .icon(icon_for(Level::Unknown))
            .tooltip("Headroom")
            .menu(&menu)
            .show_menu_on_left_click(false)
            .on_menu_event(move |app, event| match event.id().as_ref() {
                "open" => show_dashboard(app),
                "probe" => {
                    let what = menu_state.probe_now();
                    tracing::info!("Probe now from the tray: {what}");
                }
                "snooze" => {
                    let snoozed = menu_state
                        .snooze
                        .active_at(headroom_engine::time::unix_now());
                    if snoozed {
                        menu_state.set_snooze(None);
                        let _ = snooze_item.set_text("Snooze alerts for 1 hour");
                    } else {
                        menu_state.set_snooze(Some(3600.0));
                        let _ = snooze_item.set_text("Resume alerts (snoozed for 1 hour)");
                    }
                }
                "quit" => app.exit(0),
                _ => {}
            })
            // Windows and macOS only (see the module doc): the menu has the same entry.
            .on_tray_icon_event(|tray, event| {
                if let TrayIconEvent::Click {
                    button: MouseButton::Left,
                    button_state: MouseButtonState::Up,
                    ..
                } = event
                {
                    show_dashboard(tray.app_handle());
                }
            })
            .build(app)
    }));
    let icon = match built {
        Ok(r) => r.map_err(err)?,
        Err(_) => return Err("the tray library failed to load".into()),
    };
    Ok(Tray {
        icon,
        status,
        snooze,
    })
}

pub fn show_dashboard<R: Runtime>(app: &AppHandle<R>) {
    if let Err(e) = crate::open_dashboard(app) {
        tracing::warn!("cannot open the dashboard: {e}");
    }
}

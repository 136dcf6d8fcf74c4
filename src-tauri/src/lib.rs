//! The desktop shell: window, tray, notifications and the wiring from the engine's
//! monitor to them. All the work lives in `headroom-engine`; this crate only presents.

mod autostart;
mod bounds;
mod bridge;
mod commands;
mod notify;
mod servers;
mod state;
mod tray;
mod tray_host;

use std::path::PathBuf;
use std::sync::Arc;

use headroom_engine::alerts::NotifySink;
use headroom_engine::config::{self, Config};
use headroom_engine::runtime;
use tauri::{Manager, RunEvent, Runtime, WebviewUrl, WebviewWindowBuilder, WindowEvent};

pub use state::AppState;

/// Shows the dashboard, creating its window when there is none.
pub fn open_dashboard<R: Runtime>(app: &tauri::AppHandle<R>) -> tauri::Result<()> {
    if let Some(w) = app.get_webview_window("main") {
        w.show()?;
        let _ = w.unminimize();
        let _ = w.set_focus();
        return Ok(());
    }
    WebviewWindowBuilder::new(app, "main", WebviewUrl::default())
        .title("Headroom")
        .inner_size(1180.0, 820.0)
        .min_inner_size(720.0, 480.0)
        .build()?;
    Ok(())
}

pub struct Options {
    pub config_path: Option<PathBuf>,
    pub hidden: bool,
}

/// Starts the desktop app with the real runtime.
pub fn run(options: Options) {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("HEADROOM_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    run_app(tauri::Builder::default(), options);
}

/// Builds and runs the app on any runtime, so tests can pass a mock builder.
pub fn run_app<R: Runtime>(builder: tauri::Builder<R>, options: Options) {
    // A broken file must not stop monitoring: run on defaults and say why in the window.
    let (config, config_error) = match config::load(options.config_path.as_deref()) {
        Ok(c) => (c, None),
        Err(e) => {
            tracing::error!("{e}; running with the default settings");
            (Config::default(), Some(e.to_string()))
        }
    };
    let state = Arc::new(AppState::new(
        config,
        config_error,
        options.config_path.clone(),
    ));
    let hidden = options.hidden;
    let setup_state = state.clone();
    let app = builder
        // First plugin, as the plugin asks: a second launch (double probes,
        // notifications and tray icons otherwise) hands over to this one and exits.
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            tracing::info!("Headroom was launched again: showing the dashboard of this one");
            if let Err(e) = open_dashboard(app) {
                tracing::warn!("cannot show the dashboard: {e}");
            }
        }))
        .manage(state.clone())
        .invoke_handler(tauri::generate_handler![
            commands::get_state,
            commands::subscribe,
            commands::snooze,
            commands::quit_app,
            commands::probe_now,
            commands::explain_reply,
            commands::get_destinations,
            commands::get_settings,
            commands::save_settings,
            commands::get_history,
            commands::export_csv,
            commands::select_server,
            commands::test_server,
            commands::set_server_token,
            commands::get_autostart,
            commands::set_autostart,
        ])
        .setup(move |app| {
            let state = setup_state;
            let tray = match tray::create(app.handle(), &state) {
                Ok(t) => Some(t),
                Err(e) => {
                    tracing::warn!("no tray icon: {e}; closing the window will minimize it");
                    state.set_tray_problem(e);
                    None
                }
            };
            let made_tray = tray.is_some();
            let presenter = Arc::new(bridge::Presenter::new(state.clone(), tray));
            if made_tray {
                // An icon nobody draws is no tray: the window says so, with the fix, and
                // changes (the extension enabled later, a panel restarted) show there.
                let follow_state = state.clone();
                let follow_presenter = presenter.clone();
                let first = tray_host::follow(std::time::Duration::from_secs(3), move |present| {
                    follow_state.set_tray_host(present);
                    servers::Publish::publish(&*follow_presenter, Default::default());
                });
                match first {
                    Some(present) => state.set_tray_host(present),
                    None => tracing::warn!("the session bus did not say whether a tray host runs"),
                }
                if !state.tray_visible() {
                    tracing::warn!(
                        "no tray host shows the icon; closing the window will minimize it"
                    );
                }
            }
            // Without a tray that can be seen there is nothing to click on: the window
            // opens after all, minimized when asked to start hidden.
            if !hidden {
                open_dashboard(app.handle())?;
            } else if !state.tray_visible() {
                open_dashboard(app.handle())?;
                if let Some(w) = app.get_webview_window("main") {
                    if let Err(e) = w.minimize() {
                        tracing::warn!("cannot minimize the window: {e}");
                    }
                }
            }
            let notifier: Arc<dyn headroom_engine::alerts::Notifier> =
                Arc::new(notify::DesktopNotifier::spawn());
            // The agents of [[server]]: a watcher each, their events applied here.
            let (fleet_tx, fleet_rx) = tokio::sync::mpsc::unbounded_channel();
            state.set_fleet(fleet_tx);
            tauri::async_runtime::spawn(servers::run_fleet(
                state.clone(),
                notifier.clone(),
                presenter.clone(),
                fleet_rx,
            ));
            if !state.local_enabled() {
                state.mark_ready();
                presenter.show(state.view(), Default::default());
                return Ok(());
            }
            // Building the engine opens the history and looks for the mail server
            // (files, /proc, postconf): off the main thread, so the window paints at once.
            let config = state.config();
            tauri::async_runtime::spawn(async move {
                let options = runtime::Options {
                    history: true,
                    no_probes: false,
                };
                let cfg = config.clone();
                let built =
                    tauri::async_runtime::spawn_blocking(move || runtime::build(&cfg, options))
                        .await;
                let mut engine = match built {
                    Ok(e) => e,
                    Err(e) => {
                        let why = format!("the monitor could not be set up: {e}");
                        tracing::error!("{why}");
                        state.mark_ready();
                        bridge::show_stopped(&presenter, &state, &why);
                        return;
                    }
                };
                for p in &engine.problems {
                    tracing::warn!("{p}");
                    state.add_config_problem(p.clone());
                }
                state.set_history(engine.history.clone());
                engine.monitor.add_sink(Box::new(bridge::Bridge::new(
                    state.clone(),
                    presenter.clone(),
                )));
                // With agents watched too, this machine's notifications say it is this one.
                let local_notifier = Box::new(servers::Named {
                    name: if config.servers.is_empty() {
                        String::new()
                    } else {
                        servers::local_name()
                    },
                    inner: notifier.clone(),
                });
                engine.monitor.add_sink(Box::new(NotifySink::new(
                    &config,
                    state.snooze.clone(),
                    local_notifier,
                )));
                // [[notify.webhook]]: the same alerts to chat or paging, with the tray's
                // snooze.
                let (webhooks, problems) = headroom_engine::alerts::webhook::sinks(
                    &config,
                    &state.snooze,
                    &servers::hostname().unwrap_or_else(|| "localhost".into()),
                );
                for sink in webhooks {
                    engine.monitor.add_sink(Box::new(sink));
                }
                for p in problems {
                    tracing::warn!("{p}");
                    state.add_config_problem(p);
                }
                let stopped_state = state.clone();
                let stopped_presenter = presenter.clone();
                let (handle, supervised) =
                    runtime::supervise(engine.monitor, state.cancel.clone(), move |why| {
                        bridge::show_stopped(&stopped_presenter, &stopped_state, &why);
                    });
                state.set_monitor(handle);
                state.mark_ready();
                supervised.await;
            });
            Ok(())
        })
        .on_window_event(|window, event| match event {
            // Without a tray icon anyone sees, a closed window could not be opened again
            // and quitting would stop the watch: closing minimizes instead (Quit is in
            // the window then).
            WindowEvent::CloseRequested { api, .. }
                if !window.state::<Arc<AppState>>().tray_visible() =>
            {
                api.prevent_close();
                tracing::info!("no tray icon is seen: the window is minimized, not closed");
                if let Err(e) = window.minimize() {
                    tracing::warn!("cannot minimize the window: {e}");
                }
            }
            // Closing the window destroys its webview (WebKit's processes take some
            // 400 MiB even when hidden); the tray opens a fresh one. The window's
            // channels die with it.
            WindowEvent::Destroyed => window.state::<Arc<AppState>>().drop_subscribers(),
            _ => {}
        })
        .build(tauri::generate_context!());
    let app = match app {
        Ok(a) => a,
        Err(e) => {
            eprintln!("headroom: cannot start the desktop app: {e}");
            std::process::exit(1);
        }
    };
    app.run(move |_handle, event| match event {
        // The last window closed: with a tray Headroom keeps watching (without one the
        // window only minimizes). Quit from the menu or the window (exit code set)
        // always quits.
        RunEvent::ExitRequested { api, code, .. } if code.is_none() && state.tray_visible() => {
            api.prevent_exit();
        }
        RunEvent::Exit => state.cancel.cancel(),
        _ => {}
    });
}

// Commands are denied unless granted: the manifest lists the app's commands, and
// capabilities/main.json grants exactly these to the main window.
fn main() {
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(
        tauri_build::AppManifest::new().commands(&[
            "get_state",
            "subscribe",
            "snooze",
            "quit_app",
            "probe_now",
            "explain_reply",
            "get_destinations",
            "get_settings",
            "save_settings",
            "get_history",
            "export_csv",
            "select_server",
            "test_server",
            "set_server_token",
            "get_autostart",
            "set_autostart",
        ]),
    ))
    .expect("tauri build script failed");
}

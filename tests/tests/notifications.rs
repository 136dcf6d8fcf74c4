//! Desktop notifications on a real session bus with a real notification server (dunst),
//! observed with dbus-monitor.

use std::process::{Child, Stdio};
use std::time::Duration;

use headroom_tests::bins::{bin, wait_for};
use headroom_tests::desktop::{BusWatch, Desktop, CPU_ALWAYS_WARNING};

/// Starts the app with `config`; its log goes to `app.log` in the desktop's folder
/// (a file, not a pipe nobody reads, so the app can never block on it).
fn start_app(desktop: &Desktop, config: &str, extra: &[&str]) -> (Child, std::path::PathBuf) {
    let cfg = desktop.dir().join("config.toml");
    std::fs::write(&cfg, config).expect("config");
    let log = desktop.dir().join("app.log");
    let child = desktop
        .command(bin("headroom"))
        .args(["--config", cfg.to_str().expect("utf-8 path")])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("start headroom");
    (child, log)
}

#[test]
fn a_standing_warning_is_notified_exactly_once() {
    let mut desktop = Desktop::start();
    desktop.start_notification_server();
    // A tray that shows the icon: without one, a hidden start opens the window after all.
    desktop.start_tray_host();
    let watch = BusWatch::start(&desktop);
    // In the tray alone (no window, no WebKit): monitoring and notifications go on.
    let (mut app, log_path) = start_app(&desktop, CPU_ALWAYS_WARNING, &["--hidden"]);

    let first = wait_for(Duration::from_secs(90), || {
        let n = watch.headroom_notifications();
        (!n.is_empty()).then_some(n)
    });
    // Keep watching for 20 more ticks: the level stays warning, nothing more is sent.
    std::thread::sleep(Duration::from_secs(10));
    let all = watch.headroom_notifications();
    let alive = app.try_wait().expect("poll app").is_none();
    let _ = app.kill();
    let _ = app.wait();
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    let first = first.expect("one notification within 90 s");
    assert!(alive, "the app kept running:\n{log}");
    assert!(first[0].contains("CPU"), "{}", first[0]);
    assert!(first[0].contains("Headroom warning"), "{}", first[0]);
    assert_eq!(
        all.len(),
        1,
        "exactly one notification, got {}:\n{all:#?}",
        all.len()
    );
}

#[test]
fn no_notification_server_is_a_logged_warning_not_a_crash() {
    let desktop = Desktop::start();
    let (mut app, log_path) = start_app(&desktop, CPU_ALWAYS_WARNING, &[]);
    // Wait for the warning to be tried (the first tick comes within a second or two).
    wait_for(Duration::from_secs(60), || {
        std::fs::read_to_string(&log_path)
            .ok()
            .filter(|l| l.contains("cannot show a desktop notification"))
    });
    std::thread::sleep(Duration::from_secs(5));
    let alive = app.try_wait().expect("poll app").is_none();
    let _ = app.kill();
    let _ = app.wait();
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    assert!(
        alive,
        "the app must keep running without a notification server:\n{log}"
    );
    assert!(
        log.contains("cannot show a desktop notification"),
        "a warning says why notifications are missing:\n{log}"
    );
    assert_eq!(
        log.matches("cannot show a desktop notification").count(),
        1,
        "said once, not per tick:\n{log}"
    );
}

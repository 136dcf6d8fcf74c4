//! The tray on a real desktop: a window manager (JWM), and either no StatusNotifier
//! host at all (stock GNOME without the AppIndicator extension is like that) or a real
//! one (gtk-sni-tray-standalone with its watcher), which reads the app's menu over
//! D-Bus as any panel does.

use std::process::{Child, Stdio};
use std::time::Duration;

use headroom_tests::bins::{artifacts_dir, bin, wait_for};
use headroom_tests::desktop::{BusWatch, Desktop, CPU_ALWAYS_WARNING};
use headroom_tests::tray;
use headroom_tests::webdriver::Driver;

const TITLE: &str = "Headroom";

/// No mail server is read: these tests are about the desktop, not the figures.
const QUIET: &str = "[monitor]\ninterval_secs = 1\n\n[mta]\nkind = \"none\"\n";

/// Nothing on this host can reach 40 × its limit, nothing is forecast and nothing is
/// probed: the status line reads the same every tick.
const ALL_OK: &str = "\
probe = []

[monitor]
interval_secs = 1

[mta]
kind = \"none\"

[thresholds]
warn_ratio = 40.0
crit_ratio = 50.0
forecast_horizon_mins = 0.0001
";

fn write_config(desktop: &Desktop, text: &str) -> String {
    let p = desktop.dir().join("config.toml");
    std::fs::write(&p, text).expect("write config");
    p.display().to_string()
}

/// Starts the app itself (not through WebDriver), its log in `app.log`.
fn start_app(desktop: &Desktop, cfg: &str, extra: &[&str]) -> Child {
    let log = std::fs::File::create(desktop.dir().join("app.log")).expect("log");
    desktop
        .command(bin("headroom"))
        .args(["--config", cfg])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start headroom")
}

fn app_log(desktop: &Desktop) -> String {
    std::fs::read_to_string(desktop.dir().join("app.log")).unwrap_or_default()
}

fn one_window(desktop: &Desktop, within: Duration) -> String {
    wait_for(within, || desktop.windows_titled(TITLE).into_iter().next())
        .unwrap_or_else(|| panic!("no window titled {TITLE} within {within:?}"))
}

/// Gone, or a zombie its parent has not reaped yet.
fn exited(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

fn stop(mut app: Child) {
    let _ = app.kill();
    let _ = app.wait();
}

#[test]
fn without_a_tray_host_the_window_says_so_and_closing_minimizes_it() {
    let mut desktop = Desktop::start();
    desktop.start_window_manager();
    desktop.start_notification_server();
    let watch = BusWatch::start(&desktop);
    let cfg = write_config(&desktop, CPU_ALWAYS_WARNING);
    let d = Driver::start(&desktop, &bin("headroom"), &["--config", &cfg]);

    let note = d
        .wait_text("[data-testid=tray-problem]", Duration::from_secs(60), |t| {
            !t.is_empty()
        })
        .expect("the window says no tray icon can be seen");
    assert!(
        note.contains("gnome-shell-extension-appindicator"),
        "the fix: {note}"
    );
    assert!(note.contains("minimizes"), "{note}");
    d.screenshot(&artifacts_dir().join("tray-no-host.png"))
        .expect("screenshot");
    let window = one_window(&desktop, Duration::from_secs(10));
    assert!(!desktop.is_minimized(&window), "the window starts shown");
    let pid = desktop.window_pid(&window).expect("the window's process");

    desktop.close_window(TITLE);
    let minimized = wait_for(Duration::from_secs(15), || {
        desktop.is_minimized(&window).then_some(())
    });
    assert!(
        minimized.is_some(),
        "closing minimizes the window: {}",
        desktop.window_property(&window, "WM_STATE")
    );
    assert_eq!(desktop.windows_titled(TITLE), vec![window.clone()]);
    assert!(!exited(pid), "Headroom keeps running");
    // The window still answers, and notifications still go out.
    assert!(d.find("[data-testid=risk-status]").is_some());
    let notified = wait_for(Duration::from_secs(60), || {
        let n = watch.headroom_notifications();
        (!n.is_empty()).then_some(n)
    });
    assert!(
        notified.is_some_and(|n| n[0].contains("CPU")),
        "the CPU warning is notified without a tray"
    );

    // Quit is in the window, since the tray's cannot be reached. The click's answer may
    // be lost with the app it ended.
    let _ = d.click(&d.find("[data-testid=quit]").expect("a Quit button"));
    assert!(
        wait_for(Duration::from_secs(20), || exited(pid).then_some(())).is_some(),
        "Quit ends Headroom"
    );
}

#[test]
fn a_tray_host_that_starts_later_takes_the_note_away() {
    let mut desktop = Desktop::start();
    desktop.start_window_manager();
    let cfg = write_config(&desktop, QUIET);
    let d = Driver::start(&desktop, &bin("headroom"), &["--config", &cfg]);
    d.wait_text("[data-testid=tray-problem]", Duration::from_secs(60), |t| {
        !t.is_empty()
    })
    .expect("the note while no host runs");

    desktop.start_tray_host();
    let gone = wait_for(Duration::from_secs(20), || {
        d.find("[data-testid=tray-problem]").is_none().then_some(())
    });
    assert!(gone.is_some(), "the note goes once a host shows the icon");
    assert!(
        d.find("[data-testid=quit]").is_none(),
        "Quit is in the tray menu again"
    );
    // Closing now leaves Headroom running in the tray.
    let window = one_window(&desktop, Duration::from_secs(5));
    let pid = desktop.window_pid(&window).expect("the window's process");
    desktop.close_window(TITLE);
    let closed = wait_for(Duration::from_secs(15), || {
        desktop.windows_titled(TITLE).is_empty().then_some(())
    });
    assert!(
        closed.is_some(),
        "the window closes, not minimizes: {}",
        desktop.window_property(&window, "WM_STATE")
    );
    std::thread::sleep(Duration::from_secs(2));
    assert!(!exited(pid), "Headroom keeps running in the tray");
}

#[test]
fn with_a_tray_host_every_action_is_in_the_menu_and_works_from_there() {
    let mut desktop = Desktop::start();
    desktop.start_window_manager();
    desktop.start_tray_host();
    let cfg = write_config(&desktop, QUIET);
    let app = start_app(&desktop, &cfg, &[]);
    one_window(&desktop, Duration::from_secs(60));

    // Tray clicks are not delivered on Linux: what a click does must be in the menu.
    let entries = tray::menu(&desktop, Duration::from_secs(30))
        .unwrap_or_else(|| panic!("the tray menu:\n{}", app_log(&desktop)));
    let labels: Vec<&str> = entries.iter().map(|e| e.label.as_str()).collect();
    assert!(
        entries[0].label.starts_with("Headroom") && !entries[0].enabled,
        "a status line first: {entries:?}"
    );
    for want in [
        "Probe now",
        "Open dashboard",
        "Snooze alerts for 1 hour",
        "Quit",
    ] {
        assert!(labels.contains(&want), "{want} in {labels:?}");
    }
    assert!(
        !app_log(&desktop).contains("no tray host"),
        "{}",
        app_log(&desktop)
    );

    // Closing leaves it in the tray; the menu opens the window again.
    desktop.close_window(TITLE);
    let closed = wait_for(Duration::from_secs(15), || {
        desktop.windows_titled(TITLE).is_empty().then_some(())
    });
    assert!(closed.is_some(), "the window closes into the tray");
    let mut app = app;
    assert!(
        app.try_wait().expect("poll").is_none(),
        "Headroom keeps running"
    );
    tray::click(&desktop, "Open dashboard");
    one_window(&desktop, Duration::from_secs(60));

    tray::click(&desktop, "Snooze alerts");
    let resumed = wait_for(Duration::from_secs(10), || {
        let m = tray::menu(&desktop, Duration::from_secs(5))?;
        m.iter()
            .any(|e| e.label.starts_with("Resume alerts"))
            .then_some(())
    });
    assert!(resumed.is_some(), "Snooze from the menu snoozes");

    tray::click(&desktop, "Quit");
    let status = wait_for(Duration::from_secs(20), || app.try_wait().ok().flatten());
    let log = app_log(&desktop);
    let Some(status) = status else {
        stop(app);
        panic!("Quit from the tray menu did not end Headroom:\n{log}");
    };
    assert!(status.success(), "{status}\n{log}");
}

#[test]
fn a_snooze_set_in_the_window_shows_in_the_tray_menu() {
    let mut desktop = Desktop::start();
    desktop.start_tray_host();
    // Every item ok and no probe: the status line stays the same from tick to tick, so
    // only the snooze itself can change the menu.
    let cfg = write_config(&desktop, ALL_OK);
    let d = Driver::start(&desktop, &bin("headroom"), &["--config", &cfg]);
    let entries = tray::menu(&desktop, Duration::from_secs(60)).expect("the tray menu");
    assert!(
        entries
            .iter()
            .any(|e| e.label == "Snooze alerts for 1 hour"),
        "{entries:?}"
    );
    d.click(&d.find("[data-testid=snooze]").expect("the snooze button"))
        .expect("click snooze");
    let resume = wait_for(Duration::from_secs(20), || {
        let m = tray::menu(&desktop, Duration::from_secs(5))?;
        m.into_iter().find(|e| e.label.starts_with("Resume alerts"))
    });
    assert!(
        resume.is_some(),
        "the menu offers to resume: {:?}",
        tray::menu(&desktop, Duration::from_secs(5))
    );
}

#[test]
fn a_hidden_start_without_a_tray_host_opens_the_window_minimized() {
    let mut desktop = Desktop::start();
    desktop.start_window_manager();
    let cfg = write_config(&desktop, QUIET);
    let app = start_app(&desktop, &cfg, &["--hidden"]);
    let window = wait_for(Duration::from_secs(60), || {
        desktop.windows_titled(TITLE).into_iter().next()
    });
    let minimized = window.as_ref().and_then(|w| {
        wait_for(Duration::from_secs(15), || {
            desktop.is_minimized(w).then_some(())
        })
    });
    stop(app);
    let log = app_log(&desktop);
    assert!(
        window.is_some(),
        "with no tray to click, a hidden start still makes the window:\n{log}"
    );
    assert!(minimized.is_some(), "minimized, as asked:\n{log}");
}

#[test]
fn a_hidden_start_with_a_tray_host_opens_no_window() {
    let mut desktop = Desktop::start();
    desktop.start_window_manager();
    desktop.start_tray_host();
    let cfg = write_config(&desktop, QUIET);
    let app = start_app(&desktop, &cfg, &["--hidden"]);
    let menu = tray::menu(&desktop, Duration::from_secs(60));
    // Past the moment a window would have been made (right after the tray).
    std::thread::sleep(Duration::from_secs(3));
    let windows = desktop.windows_titled(TITLE);
    let reopened = menu.is_some().then(|| {
        tray::click(&desktop, "Open dashboard");
        wait_for(Duration::from_secs(60), || {
            desktop.windows_titled(TITLE).into_iter().next()
        })
    });
    stop(app);
    let log = app_log(&desktop);
    assert!(menu.is_some(), "the tray icon is registered:\n{log}");
    assert!(
        windows.is_empty(),
        "no window at a hidden start: {windows:?}"
    );
    assert!(
        reopened.flatten().is_some(),
        "the window opens from the menu:\n{log}"
    );
}

//! One Headroom per desktop session: a second launch hands over to the running app
//! (which shows its dashboard) and exits, instead of a second monitor with its own
//! probes, notifications and tray icon.

use std::process::Stdio;
use std::time::Duration;

use headroom_tests::bins::{bin, wait_for};
use headroom_tests::desktop::Desktop;

#[test]
fn a_second_launch_shows_the_running_app_and_exits() {
    let mut desktop = Desktop::start();
    // A tray that shows the icon, so the first instance starts hidden in it.
    desktop.start_tray_host();
    let cfg = desktop.dir().join("config.toml");
    std::fs::write(
        &cfg,
        "[monitor]\ninterval_secs = 1\n[mta]\nkind = \"none\"\n",
    )
    .expect("config");
    let cfg = cfg.to_str().expect("utf-8 path").to_string();
    let first_log = desktop.dir().join("first.log");
    let mut first = desktop
        .command(bin("headroom"))
        .args(["--config", &cfg, "--hidden"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&first_log).expect("log"))
        .spawn()
        .expect("start headroom");
    // The first instance owns its name on the session bus once it runs its monitor.
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        first.try_wait().expect("poll").is_none(),
        "the first instance is running: {}",
        std::fs::read_to_string(&first_log).unwrap_or_default()
    );

    let second_log = desktop.dir().join("second.log");
    let mut second = desktop
        .command(bin("headroom"))
        .args(["--config", &cfg])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&second_log).expect("log"))
        .spawn()
        .expect("start a second headroom");
    let exited = wait_for(Duration::from_secs(30), || second.try_wait().ok().flatten());
    let handed_over = wait_for(Duration::from_secs(10), || {
        std::fs::read_to_string(&first_log)
            .ok()
            .filter(|l| l.contains("launched again"))
    });
    let first_alive = first.try_wait().expect("poll").is_none();
    if exited.is_none() {
        let _ = second.kill();
        let _ = second.wait();
    }
    let _ = first.kill();
    let _ = first.wait();
    let logs = format!(
        "first:\n{}\nsecond:\n{}",
        std::fs::read_to_string(&first_log).unwrap_or_default(),
        std::fs::read_to_string(&second_log).unwrap_or_default()
    );
    let status = exited.unwrap_or_else(|| panic!("the second launch kept running:\n{logs}"));
    assert!(
        status.success(),
        "the second launch exits cleanly: {status}\n{logs}"
    );
    assert!(
        handed_over.is_some(),
        "the first instance heard of it:\n{logs}"
    );
    assert!(first_alive, "the first instance keeps running:\n{logs}");
}

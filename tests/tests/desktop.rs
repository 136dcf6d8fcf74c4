//! The real app window under Xvfb, driven through tauri-driver and WebKitWebDriver.

use std::time::Duration;

use headroom_tests::bins::{artifacts_dir, bin, wait_for};
use headroom_tests::desktop::Desktop;
use headroom_tests::postfix::{self, Instance, Options};
use headroom_tests::webdriver::Driver;

const LEVELS: [&str; 5] = ["ok", "watch", "warning", "critical", "unknown"];

fn write_config(desktop: &Desktop, text: &str) -> String {
    let p = desktop.dir().join("config.toml");
    std::fs::write(&p, text).expect("write config");
    p.display().to_string()
}

#[test]
fn dashboard_shows_live_cpu_and_a_risk_level() {
    let desktop = Desktop::start();
    let cfg = write_config(&desktop, "[monitor]\ninterval_secs = 1\n");
    let app = bin("headroom");
    let d = Driver::start(&desktop, &app, &["--config", &cfg]);

    let is_percent = |t: &str| t.ends_with('%') && t.trim_end_matches('%').parse::<f64>().is_ok();
    let first = d
        .wait_text(
            "[data-testid=cpu-value]",
            Duration::from_secs(60),
            is_percent,
        )
        .expect("a CPU figure within 60 s");
    let updated = d
        .wait_text("[data-testid=updated]", Duration::from_secs(5), |t| {
            t != "—"
        })
        .expect("an update time");
    // Readings arrive every second; the figure moves between two of them — unless the
    // machine is saturated (a build beside the test), when 100% is the live truth.
    let changed = d.wait_text("[data-testid=cpu-value]", Duration::from_secs(60), |t| {
        is_percent(t) && t != first
    });
    let updated_later = d
        .wait_text("[data-testid=updated]", Duration::from_secs(10), |t| {
            t != updated
        })
        .expect("update time moves on");
    match changed {
        Some(changed) => assert_ne!(first, changed),
        None => assert_eq!(
            d.text(&d.find("[data-testid=cpu-value]").expect("cpu value"))
                .unwrap_or_default()
                .trim_end_matches('%')
                .parse::<f64>()
                .ok(),
            Some(100.0),
            "the CPU figure stood still for 60 s at {first} while readings arrived"
        ),
    }
    assert_ne!(updated, updated_later);

    let status = d
        .wait_text("[data-testid=risk-status]", Duration::from_secs(10), |t| {
            LEVELS.contains(&t.trim().to_lowercase().as_str())
        })
        .expect("risk-status shows a level word");
    assert!(
        LEVELS.contains(&status.trim().to_lowercase().as_str()),
        "{status}"
    );

    // Every host item the engine assessed has its headroom bar.
    let items = d.find_all("[data-testid=headroom-item]");
    let ids: Vec<String> = items
        .iter()
        .filter_map(|e| d.attribute(e, "data-item-id"))
        .collect();
    for want in ["cpu", "memory", "load"] {
        assert!(
            ids.iter().any(|i| i == want),
            "missing item {want}: {ids:?}"
        );
    }
    d.screenshot(&artifacts_dir().join("overview.png"))
        .expect("screenshot");
}

#[test]
fn an_invalid_config_is_shown_in_the_window_and_defaults_keep_running() {
    let desktop = Desktop::start();
    let cfg = write_config(
        &desktop,
        "[monitor]\ninterval_secs = 1\n\n[thresholds]\nwarn_ration = 0.5\n",
    );
    let app = bin("headroom");
    let d = Driver::start(&desktop, &app, &["--config", &cfg]);
    let banner = d
        .wait_text("[data-testid=config-error]", Duration::from_secs(60), |t| {
            !t.is_empty()
        })
        .expect("config error banner");
    assert!(
        banner.contains(&format!("{cfg}:5:1")),
        "names file, line and column: {banner}"
    );
    assert!(banner.contains("warn_ration"), "{banner}");
    // Monitoring goes on with the defaults.
    d.wait_text("[data-testid=cpu-value]", Duration::from_secs(60), |t| {
        t.ends_with('%')
    })
    .expect("live data despite the bad file");
    d.screenshot(&artifacts_dir().join("config-error.png"))
        .expect("screenshot");
}

#[test]
fn probe_now_adds_a_probe_row_with_the_reply_code() {
    if let Some(why) = postfix::unavailable() {
        panic!("this test needs a private Postfix: {why}");
    }
    let pf = Instance::start(&Options::default()).expect("private Postfix");
    let desktop = Desktop::start();
    // The hourly interval keeps the scheduler out of the way after its first probe.
    let cfg = write_config(
        &desktop,
        &format!(
            "[monitor]\ninterval_secs = 1\n\n[mta]\nkind = \"postfix\"\nconfig_dir = \"{}\"\n\n\
             [[probe]]\nname = \"private\"\nhost = \"127.0.0.1\"\nport = {}\ninterval_secs = 3600\n",
            pf.etc_str(),
            pf.port
        ),
    );
    let d = Driver::start(&desktop, &bin("headroom"), &["--config", &cfg]);
    let rows = |d: &Driver| d.find_all("[data-testid=probe-row]");
    // The first scheduled probe lands within a few seconds of start.
    let first = wait_for(Duration::from_secs(60), || {
        let r = rows(&d);
        (!r.is_empty()).then_some(r.len())
    })
    .expect("the first scheduled probe is in the log");
    // Past the 2 s debounce, Probe now starts a fresh probe.
    std::thread::sleep(Duration::from_secs(3));
    let button = d.find("[data-testid=probe-now]").expect("probe-now button");
    d.click(&button).expect("click probe-now");
    let n = wait_for(Duration::from_secs(30), || {
        let n = rows(&d).len();
        (n > first).then_some(n)
    })
    .expect("a new probe-row after Probe now");
    assert_eq!(n, first + 1, "one click, one probe");
    let newest = rows(&d)[0].clone();
    let text = d.text(&newest).unwrap_or_default();
    assert!(
        text.contains("221"),
        "the newest row shows the last reply code (221 to QUIT): {text}"
    );
    assert!(text.contains("ok"), "{text}");
    // The mail server panel reads the private instance.
    d.wait_text("[data-testid=mta-summary]", Duration::from_secs(30), |t| {
        t.contains("running") && !t.contains("not running")
    })
    .expect("the private Postfix shows as running");
    d.screenshot(&artifacts_dir().join("probe-log.png"))
        .expect("screenshot");
}

#[test]
fn a_changed_setting_is_saved_applied_and_survives_a_restart() {
    let desktop = Desktop::start();
    let cfg = write_config(
        &desktop,
        "# my own notes stay\nprobe = []\n\n[monitor]\ninterval_secs = 1\n\n[mta]\nkind = \"none\" # this test is about the host items\n\n\
         # Nothing on this host can reach 40 × its limit: every item starts ok.\n[thresholds]\nwarn_ratio = 40\ncrit_ratio = 50\n",
    );
    let app = bin("headroom");
    {
        let d = Driver::start(&desktop, &app, &["--config", &cfg]);
        let status = d
            .wait_text("[data-testid=risk-status]", Duration::from_secs(60), |t| {
                t.eq_ignore_ascii_case("ok")
            })
            .expect("every item starts ok");
        let rows_before = d.find_all("[data-testid=alert-row]").len();
        // A refused value names its field and changes nothing.
        let warn = wait_for(Duration::from_secs(30), || {
            d.find("[data-testid=setting-warn_ratio]")
        })
        .expect("settings form");
        d.set_value(&warn, "0.99").expect("type");
        let crit = d
            .find("[data-testid=setting-crit_ratio]")
            .expect("crit field");
        d.set_value(&crit, "0.9").expect("type");
        d.click(&d.find("[data-testid=settings-save]").expect("save"))
            .expect("click");
        let err = d
            .wait_text(
                "[data-testid=settings-error]",
                Duration::from_secs(20),
                |t| !t.is_empty(),
            )
            .expect("refusal shown");
        assert!(err.starts_with("thresholds.warn_ratio:"), "{err}");
        assert!(
            !std::fs::read_to_string(&cfg).expect("cfg").contains("0.99"),
            "nothing written"
        );

        // Warning at 0 of every limit: the level rises at once, without a restart.
        d.set_value(&warn, "0").expect("type");
        // Critical out of reach (50 × any limit), so the level is exactly warning.
        d.set_value(&crit, "50").expect("type");
        let interval = d
            .find("[data-testid=setting-interval_secs]")
            .expect("interval field");
        d.set_value(&interval, "2").expect("type");
        d.click(&d.find("[data-testid=settings-save]").expect("save"))
            .expect("click");
        d.wait_text(
            "[data-testid=settings-saved]",
            Duration::from_secs(20),
            |t| t.contains("Saved"),
        )
        .expect("saved");
        let risen = d
            .wait_text("[data-testid=risk-status]", Duration::from_secs(30), |t| {
                t.eq_ignore_ascii_case("warning")
            })
            .unwrap_or_else(|| {
                let _ = d.screenshot(&artifacts_dir().join("settings-failed.png"));
                let now = d.find("[data-testid=risk-status]").and_then(|e| d.text(&e));
                panic!("crossing the new threshold turns the status to warning; it is {now:?}")
            });
        // The badge is styled in capitals; the word is the level.
        assert_eq!(risen.to_lowercase(), "warning", "was {status}");
        let rows = wait_for(Duration::from_secs(20), || {
            let n = d.find_all("[data-testid=alert-row]").len();
            (n > rows_before).then_some(n)
        });
        assert!(rows.is_some(), "the crossing is in the alert log");
        d.screenshot(&artifacts_dir().join("settings.png"))
            .expect("screenshot");
    }
    let text = std::fs::read_to_string(&cfg).expect("cfg");
    assert!(
        text.starts_with("# my own notes stay\n"),
        "comments kept:\n{text}"
    );
    assert!(text.contains("interval_secs = 2"), "{text}");
    assert!(
        text.contains("kind = \"none\" # this test is about the host items"),
        "{text}"
    );
    // Restarted, the window shows the saved values.
    let d = Driver::start(&desktop, &app, &["--config", &cfg]);
    let interval = wait_for(Duration::from_secs(60), || {
        let v = d.value(&d.find("[data-testid=setting-interval_secs]")?)?;
        (!v.is_empty()).then_some(v)
    })
    .expect("settings after restart");
    assert_eq!(interval, "2");
    let warn = d
        .value(&d.find("[data-testid=setting-warn_ratio]").expect("warn"))
        .unwrap_or_default();
    assert_eq!(warn, "0");
}

#[test]
fn the_range_switch_loads_history() {
    let desktop = Desktop::start();
    let cfg = write_config(&desktop, "probe = []\n\n[monitor]\ninterval_secs = 0.5\n");
    let d = Driver::start(&desktop, &bin("headroom"), &["--config", &cfg]);
    d.wait_text("[data-testid=cpu-value]", Duration::from_secs(60), |t| {
        t.ends_with('%')
    })
    .expect("live data");
    // A few ticks reach the history store.
    std::thread::sleep(Duration::from_secs(4));
    d.click(&d.find("[data-testid=range-15m]").expect("range button"))
        .expect("click");
    let status = d
        .wait_text("[data-testid=range-status]", Duration::from_secs(20), |t| {
            t.contains("from history")
        })
        .expect("range loaded");
    let points: usize = status
        .rsplit(": ")
        .next()
        .and_then(|t| t.trim_end_matches(" points").parse().ok())
        .expect("a point count");
    assert!(points >= 3, "{status}");
    d.click(&d.find("[data-testid=export-csv]").expect("export button"))
        .expect("click");
    let saved = d
        .wait_text(
            "[data-testid=export-status]",
            Duration::from_secs(20),
            |t| !t.is_empty(),
        )
        .expect("export status");
    let path = saved.strip_prefix("Saved ").expect(&saved).to_string();
    let csv = std::fs::read_to_string(&path).expect("the CSV exists");
    assert!(csv.starts_with("ts,"), "{csv}");
    assert!(csv.lines().count() > points.min(3), "{csv}");
    d.screenshot(&artifacts_dir().join("history-range.png"))
        .expect("screenshot");
}

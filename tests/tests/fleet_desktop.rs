//! The desktop watching several servers: two agents (`headroom-cli serve`), each on its
//! own private Postfix, and the real window through tauri-driver, with the agents'
//! tokens in a real Secret Service (gnome-keyring) and notifications seen on the bus.
//!
//! Both rows appear; one Postfix pushed to its smtpd process limit turns the overall
//! level critical and a notification names that server; killing its agent turns its
//! row unknown with the reason while the other goes on; restarting it brings it back;
//! Probe now on it adds a probe row that came from that agent. A third server whose
//! token is not in the keyring says so in its row.

use std::time::Duration;

use headroom_tests::agent::{postfix_agent_config, Agent};
use headroom_tests::bins::{artifacts_dir, bin};
use headroom_tests::desktop::{BusWatch, Desktop};
use headroom_tests::load::hold_sessions;
use headroom_tests::postfix::{unavailable, Instance, Options};
use headroom_tests::webdriver::Driver;

const MAXPROC: usize = 4;

fn row_level(d: &Driver, id: &str) -> Option<String> {
    let e = d.find(&format!(
        "[data-testid=server-row][data-server-id=\"{id}\"]"
    ))?;
    d.attribute(&e, "data-level")
}

/// The row's whole text (name, level, summary), as in the DOM: a long summary is cut
/// with an ellipsis on screen, and WebDriver's text is only what is drawn.
fn row_text(d: &Driver, id: &str) -> String {
    text_content(
        d,
        &format!("[data-testid=server-row][data-server-id=\"{id}\"]"),
    )
}

fn text_content(d: &Driver, css: &str) -> String {
    let script = format!(
        "const e = document.querySelector('{}'); return e ? e.textContent : '';",
        css.replace('\'', "\\'")
    );
    d.execute(&script)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn wait_row(d: &Driver, id: &str, within: Duration, ok: impl Fn(&str, &str) -> bool) -> bool {
    headroom_tests::bins::wait_for(within, || {
        let level = row_level(d, id)?;
        ok(&level, &row_text(d, id)).then_some(())
    })
    .is_some()
}

#[test]
fn the_window_watches_two_agents_and_names_the_one_in_trouble() {
    if let Some(why) = unavailable() {
        headroom_tests::skip_or_fail(why);
        return;
    }
    let maxproc = MAXPROC.to_string();
    let options = Options {
        maxproc: &maxproc,
        ..Default::default()
    };
    let pf1 = Instance::start(&options).expect("private postfix 1");
    let pf2 = Instance::start(&options).expect("private postfix 2");
    // mx2 probes only when asked (and once at start), so a new probe row is Probe now's.
    let config2 = postfix_agent_config(&pf2.etc, pf2.port, 1.0)
        .replace("interval_secs = 5\n", "interval_secs = 3600\n");
    assert!(config2.contains("interval_secs = 3600"), "{config2}");
    let a1 = Agent::start(&postfix_agent_config(&pf1.etc, pf1.port, 1.0), &[]);
    let a2 = Agent::start(&config2, &[]);

    let mut desktop = Desktop::start();
    desktop.start_notification_server();
    desktop.start_keyring();
    desktop.store_token("mx1", &a1.token);
    desktop.store_token("mx2", &a2.token);
    let watch = BusWatch::start(&desktop);
    // mx3 is agent 1 again, but its token was never stored.
    let cfg = desktop.dir().join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "[local]\nenabled = false\n\n\
             [[server]]\nname = \"mx1\"\nurl = \"http://127.0.0.1:{}\"\n\n\
             [[server]]\nname = \"mx2\"\nurl = \"http://127.0.0.1:{}\"\n\n\
             [[server]]\nname = \"mx3\"\nurl = \"http://127.0.0.1:{}\"\n",
            a1.port, a2.port, a1.port
        ),
    )
    .expect("config");
    let d = Driver::start(
        &desktop,
        &bin("headroom"),
        &["--config", cfg.to_str().expect("utf-8")],
    );

    // Both agents' rows, with a level read from the agent (not unknown).
    for id in ["mx1", "mx2"] {
        assert!(
            wait_row(&d, id, Duration::from_secs(60), |l, _| l != "unknown"),
            "row {id} never got a level from its agent: {:?} {}",
            row_level(&d, id),
            row_text(&d, id)
        );
    }
    assert!(
        wait_row(&d, "mx3", Duration::from_secs(30), |l, t| l == "unknown"
            && t.contains("token")),
        "mx3 (no token) must be unknown and say why: {}",
        row_text(&d, "mx3")
    );
    let ids: Vec<String> = d
        .find_all("[data-testid=server-row]")
        .iter()
        .filter_map(|e| d.attribute(e, "data-server-id"))
        .collect();
    assert_eq!(ids, ["mx1", "mx2", "mx3"], "one row per server, no local");

    // mx2's Postfix runs out of smtpd processes (bounded: MAXPROC + 2 attempts).
    let held = hold_sessions(pf2.port, MAXPROC + 2);
    assert!(held.len() >= MAXPROC - 1, "held only {}", held.len());
    assert!(
        wait_row(&d, "mx2", Duration::from_secs(60), |l, _| l == "critical"),
        "mx2 never turned critical: {}",
        row_text(&d, "mx2")
    );
    let overall = d
        .wait_text("[data-testid=risk-status]", Duration::from_secs(10), |t| {
            t.trim().eq_ignore_ascii_case("critical")
        })
        .expect("the overall level is the worst server's");
    assert_eq!(overall.trim().to_lowercase(), "critical");
    let summary = text_content(&d, "[data-testid=status-summary]");
    assert!(summary.starts_with("mx2"), "summary names mx2: {summary}");
    assert_ne!(row_level(&d, "mx1").as_deref(), Some("critical"));
    let named = headroom_tests::bins::wait_for(Duration::from_secs(30), || {
        watch
            .headroom_notifications()
            .into_iter()
            .find(|n| n.contains("string \"mx2: Headroom critical: smtpd processes"))
    });
    assert!(
        named.is_some(),
        "a notification starting with mx2's name: {:#?}",
        watch.headroom_notifications()
    );
    drop(held);
    d.screenshot(&artifacts_dir().join("fleet-critical.png"))
        .expect("screenshot");

    // mx2's agent goes away: its row turns unknown with the reason; mx1 goes on.
    let a2_dir_config = config2.clone();
    let a2 = {
        let port = a2.port;
        let dir = a2.stop();
        assert!(
            wait_row(&d, "mx2", Duration::from_secs(30), |l, t| l == "unknown"
                && t.contains("refused")),
            "mx2 must turn unknown saying the connection is refused: {}",
            row_text(&d, "mx2")
        );
        assert_ne!(row_level(&d, "mx1").as_deref(), Some("unknown"));
        Agent::start_on(dir, &a2_dir_config, port, &[])
    };
    assert!(
        wait_row(&d, "mx2", Duration::from_secs(60), |l, _| l != "unknown"),
        "mx2 came back by itself: {}",
        row_text(&d, "mx2")
    );

    // Choose mx2 and probe from its agent: the probe row is the agent's (its target).
    let row = d
        .find("[data-testid=server-row][data-server-id=\"mx2\"]")
        .expect("mx2 row");
    d.click(&row).expect("choose mx2");
    assert!(
        headroom_tests::bins::wait_for(Duration::from_secs(10), || {
            let e = d.find("[data-testid=server-row][aria-pressed=\"true\"]")?;
            (d.attribute(&e, "data-server-id")? == "mx2").then_some(())
        })
        .is_some(),
        "mx2 is the chosen server"
    );
    // The restarted agent's first probe has arrived, and is over 2 s old (Probe now
    // within 2 s of a probe answers with that one instead of probing again).
    let mut seen = usize::MAX;
    let mut since = std::time::Instant::now();
    let before = headroom_tests::bins::wait_for(Duration::from_secs(30), || {
        let n = d.find_all("[data-testid=probe-row]").len();
        if n != seen {
            seen = n;
            since = std::time::Instant::now();
        }
        (n > 0 && since.elapsed() >= Duration::from_secs(4)).then_some(n)
    })
    .expect("mx2's start-up probe in its probe log");
    let button = d.find("[data-testid=probe-now]").expect("probe button");
    d.click(&button).expect("probe now");
    let target = format!("127.0.0.1:{}", pf2.port);
    let probed = headroom_tests::bins::wait_for(Duration::from_secs(60), || {
        let rows = d.find_all("[data-testid=probe-row]");
        (rows.len() > before).then_some(())?;
        let text = d.text(rows.first()?)?;
        text.contains(&target).then_some(text)
    });
    assert!(
        probed.is_some(),
        "a probe row for mx2's Postfix ({target}) after Probe now; rows: {:?}",
        d.find_all("[data-testid=probe-row]")
            .iter()
            .filter_map(|e| d.text(e))
            .collect::<Vec<_>>()
    );
    d.screenshot(&artifacts_dir().join("fleet.png"))
        .expect("screenshot");

    // Settings: a fourth server added from the window (its token typed there goes to the
    // keyring), tested, saved, and watched without a restart.
    let field = |id: &str| {
        d.find(&format!("[data-testid={id}]"))
            .unwrap_or_else(|| panic!("settings field {id}"))
    };
    d.set_value(&field("server-name"), "mx4").expect("name");
    d.set_value(
        &field("server-address"),
        &format!("http://127.0.0.1:{}", a1.port),
    )
    .expect("address");
    d.set_value(&field("server-token"), &a1.token)
        .expect("token");
    d.click(&field("server-test")).expect("test connection");
    let tested = d
        .wait_text(
            "[data-testid=server-test-result]",
            Duration::from_secs(30),
            |t| !t.is_empty(),
        )
        .unwrap_or_default();
    assert!(tested.starts_with("connected"), "Test connection: {tested}");
    d.click(&field("server-add")).expect("add");
    // Added to the form once its token is in the keyring.
    let listed = headroom_tests::bins::wait_for(Duration::from_secs(15), || {
        d.find_all("[data-testid=setting-server]")
            .iter()
            .any(|e| d.text(e).is_some_and(|t| t.contains("mx4")))
            .then_some(())
    });
    assert!(listed.is_some(), "mx4 listed in the settings form");
    d.click(&field("settings-save")).expect("save");
    let saved_note = d
        .wait_text(
            "[data-testid=settings-saved]",
            Duration::from_secs(15),
            |t| !t.is_empty(),
        )
        .unwrap_or_else(|| text_content(&d, "[data-testid=settings-error]"));
    assert!(saved_note.starts_with("Saved"), "{saved_note}");
    assert!(
        wait_row(&d, "mx4", Duration::from_secs(60), |l, _| l != "unknown"),
        "mx4 watched after saving: {}",
        row_text(&d, "mx4")
    );
    let saved = std::fs::read_to_string(&cfg).expect("config");
    assert!(saved.contains("name = \"mx4\""), "{saved}");
    assert!(
        !saved.contains(&a1.token),
        "the token stays out of the file: {saved}"
    );
    drop(a2);
    drop(a1);
}

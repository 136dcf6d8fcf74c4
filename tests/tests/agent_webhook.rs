//! Headless alert routes (`[[notify.webhook]]`) from the real agent to a real HTTP
//! receiver on loopback: a private Postfix pushed to its smtpd process limit reaches
//! the generic JSON, ntfy and Slack-compatible webhooks; and an endpoint that is down
//! gets the alert once it comes up, after retries with backoff, with the outage logged
//! once, not per try.

use std::time::{Duration, Instant};

use headroom_tests::agent::{postfix_agent_config, Agent};
use headroom_tests::bins::{free_port, wait_for};
use headroom_tests::load::hold_sessions;
use headroom_tests::postfix::{unavailable, Instance, Options};
use headroom_tests::webhook::{Received, Receiver};
use serde_json::Value;

const MAXPROC: usize = 6;

/// The host's own items never alert here: the test box is shared, and their alerts
/// would use up the policy's budget of 10 notifications in 5 minutes.
const QUIET_HOST: &str = "[thresholds.items.cpu]\nwarn_ratio = 50.0\ncrit_ratio = 60.0\n\
    [thresholds.items.memory]\nwarn_ratio = 50.0\ncrit_ratio = 60.0\n\
    [thresholds.items.swap]\nwarn_ratio = 50.0\ncrit_ratio = 60.0\n\
    [thresholds.items.load]\nwarn_ratio = 50.0\ncrit_ratio = 60.0\n\
    [thresholds.items.disk_io]\nwarn_ratio = 50.0\ncrit_ratio = 60.0\n";

fn webhook(port: u16, path: &str, preset: &str, extra: &str) -> String {
    format!(
        "\n[[notify.webhook]]\nname = \"{preset}\"\nurl = \"http://127.0.0.1:{port}{path}\"\npreset = \"{preset}\"\nmin_level = \"critical\"\n{extra}"
    )
}

/// The first request to `path` that `f` accepts.
fn first(rx: &Receiver, path: &str, f: impl Fn(&Received) -> bool) -> Option<Received> {
    rx.received().into_iter().find(|r| r.path == path && f(r))
}

#[test]
fn a_postfix_at_its_process_limit_reaches_the_json_ntfy_and_slack_webhooks() {
    if let Some(why) = unavailable() {
        headroom_tests::skip_or_fail(why);
        return;
    }
    let rx = Receiver::start(0).expect("receiver listens");
    let maxproc = MAXPROC.to_string();
    let pf = Instance::start(&Options {
        maxproc: &maxproc,
        ..Default::default()
    })
    .expect("private postfix starts");
    let config = format!(
        "{}{QUIET_HOST}{}{}{}",
        postfix_agent_config(&pf.etc, pf.port, 1.0),
        webhook(
            rx.port,
            "/json",
            "json",
            "headers = { \"X-Route\" = \"mail-ops\" }\n"
        ),
        webhook(rx.port, "/ntfy/mail-alerts", "ntfy", ""),
        webhook(rx.port, "/slack", "slack", ""),
    );
    let agent = Agent::start(&config, &[]);
    // A healthy start sends nothing at critical.
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        rx.received().is_empty(),
        "alerts before any load: {:?}",
        rx.received()
    );

    let held = hold_sessions(pf.port, MAXPROC + 2);
    assert!(
        held.len() >= MAXPROC - 1,
        "held only {} sessions",
        held.len()
    );
    let t0 = Instant::now();
    let is_smtpd_critical = |v: &Value| {
        v["level"] == "critical"
            && v["items"]
                .as_array()
                .is_some_and(|i| i.iter().any(|x| x == "smtpd_processes"))
    };
    let json = wait_for(Duration::from_secs(120), || {
        first(&rx, "/json", |r| {
            r.json().is_some_and(|v| is_smtpd_critical(&v))
        })
    });
    let Some(json) = json else {
        panic!(
            "no critical smtpd_processes alert reached the JSON webhook; got {:?}\nagent stderr: {}\nstate: {}",
            rx.received(),
            agent.stderr(),
            agent.get("/api/v1/state").body
        );
    };
    eprintln!(
        "JSON webhook got the alert {:.1} s after {} sessions were held",
        t0.elapsed().as_secs_f64(),
        held.len()
    );
    let v = json.json().expect("JSON body");
    assert_eq!(json.method, "POST");
    assert_eq!(json.header("content-type"), Some("application/json"));
    assert_eq!(json.header("x-route"), Some("mail-ops"));
    assert!(json.header("authorization").is_none());
    assert!(json
        .header("user-agent")
        .is_some_and(|u| u.starts_with("headroom/")));
    assert_eq!(v["source"], "headroom");
    assert!(v["host"].as_str().is_some_and(|h| !h.is_empty()), "{v}");
    let now = headroom_tests::load::now();
    assert!(
        v["ts"]
            .as_f64()
            .is_some_and(|t| (now - 300.0..=now).contains(&t)),
        "{v}"
    );
    assert!(
        v["summary"]
            .as_str()
            .is_some_and(|s| s.contains("critical")),
        "{v}"
    );
    assert!(
        v["text"]
            .as_str()
            .is_some_and(|t| t.contains(&format!("/{MAXPROC}"))),
        "the text says the limit: {v}"
    );

    // ntfy: the text as the body, title, priority and tags in headers.
    let ntfy = wait_for(Duration::from_secs(10), || {
        first(&rx, "/ntfy/mail-alerts", |r| {
            r.header("priority") == Some("5")
        })
    })
    .unwrap_or_else(|| panic!("ntfy got no urgent alert: {:?}", rx.received()));
    assert!(ntfy
        .header("title")
        .is_some_and(|t| t.contains("Headroom critical")));
    assert_eq!(ntfy.header("tags"), Some("rotating_light,headroom"));
    assert!(ntfy
        .header("content-type")
        .is_some_and(|c| c.starts_with("text/plain")));
    assert!(ntfy.text().contains("smtpd"), "{}", ntfy.text());

    // Slack-compatible: {"text": …}.
    let slack = wait_for(Duration::from_secs(10), || {
        first(&rx, "/slack", |r| r.json().is_some())
    })
    .unwrap_or_else(|| panic!("slack got nothing: {:?}", rx.received()));
    let s = slack.json().expect("JSON");
    let text = s["text"].as_str().expect("text");
    assert!(text.contains("Headroom critical"), "{text}");
    assert_eq!(s.as_object().map(|o| o.len()), Some(1), "{s}");

    // Each route is told once about this level, not at every tick.
    std::thread::sleep(Duration::from_secs(5));
    let n = rx
        .received()
        .iter()
        .filter(|r| r.path == "/json" && r.json().is_some_and(|v| is_smtpd_critical(&v)))
        .count();
    assert_eq!(n, 1, "{:?}", rx.received());
    drop(held);
    drop(agent);
}

#[test]
fn an_endpoint_that_is_down_gets_the_alert_after_retries_and_the_outage_is_logged_once() {
    // A real reading crossing a threshold set low: this host's memory use is above 1 %
    // of its memory from the first tick (memory is context, so it stops at warning).
    let port = free_port();
    let config = format!(
        "probe = []\n[monitor]\ninterval_secs = 1\n[mta]\nkind = \"none\"\n\
         [thresholds.items.memory]\nwarn_ratio = 0.01\ncrit_ratio = 0.02\n\
         [[notify.webhook]]\nname = \"ops\"\nmin_level = \"warning\"\nurl = \"http://127.0.0.1:{port}/secret-path\"\n"
    );
    let agent = Agent::start(&config, &[]);
    let said = wait_for(Duration::from_secs(30), || {
        agent.stderr().contains("cannot deliver").then_some(())
    });
    assert!(said.is_some(), "no outage said: {}", agent.stderr());
    // Let a few tries fail (1, 2, 4 s apart) before the endpoint comes up.
    std::thread::sleep(Duration::from_secs(5));
    let rx = Receiver::start(port).expect("receiver listens on the webhook's port");
    let got = wait_for(Duration::from_secs(90), || {
        first(&rx, "/secret-path", |r| {
            r.json().is_some_and(|v| {
                v["level"] == "warning"
                    && v["items"]
                        .as_array()
                        .is_some_and(|i| i.iter().any(|x| x == "memory"))
            })
        })
    });
    assert!(
        got.is_some(),
        "never delivered after the endpoint came up: {:?}\n{}",
        rx.received(),
        agent.stderr()
    );
    let up = wait_for(Duration::from_secs(5), || {
        agent
            .stderr()
            .lines()
            .find(|l| l.contains("delivering again"))
            .map(str::to_string)
    })
    .unwrap_or_else(|| panic!("the recovery is not said: {}", agent.stderr()));
    let log = agent.stderr();
    eprintln!("{log}");
    assert_eq!(
        log.matches("cannot deliver").count(),
        1,
        "the outage is said once, not per try: {log}"
    );
    let tries: u32 = up
        .split(" and ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no try count in {up}"));
    assert!(
        tries >= 3,
        "only {tries} failed tries before delivery: {up}"
    );
    assert_eq!(log.matches("delivering again").count(), 1, "{log}");
    // The logs name the origin only: the path of a webhook URL may be a credential.
    assert!(!log.contains("secret-path"), "{log}");
    assert!(log.contains(&format!("http://127.0.0.1:{port}")), "{log}");
}

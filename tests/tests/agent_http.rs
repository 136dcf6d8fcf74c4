//! The agent's HTTP API against a private Postfix: auth, the state object, events,
//! Probe now, metrics that promtool accepts, and the bounds on bad requests.

use std::process::Command;
use std::time::Duration;

use headroom_tests::agent::{get, postfix_agent_config, request, request_with, Agent, Events};
use headroom_tests::postfix::{unavailable, Instance, Options};

fn agent_on_postfix() -> Option<(Instance, Agent)> {
    if let Some(why) = unavailable() {
        headroom_tests::skip_or_fail(why);
        return None;
    }
    let pf = Instance::start(&Options::default()).expect("private postfix starts");
    // Scheduled probes once a minute, so Probe now is not debounced by one.
    let config = postfix_agent_config(&pf.etc, pf.port, 1.0)
        .replace("interval_secs = 5\n", "interval_secs = 60\n");
    let agent = Agent::start(&config, &[]);
    Some((pf, agent))
}

/// Waits until the agent has a first tick to serve.
fn state(agent: &Agent) -> serde_json::Value {
    let r = headroom_tests::bins::wait_for(Duration::from_secs(20), || {
        Some(agent.get("/api/v1/state")).filter(|r| r.status == 200)
    })
    .expect("/api/v1/state answers 200 within 20 s");
    r.json()
}

#[test]
fn only_healthz_is_open_and_the_state_is_check_json_plus_host_ts_version() {
    let Some((pf, agent)) = agent_on_postfix() else {
        return;
    };
    let h = get(agent.port, "/healthz", None).expect("healthz");
    assert_eq!((h.status, h.body.trim()), (200, "ok"));

    let wrong = "0".repeat(agent.token.len());
    for (token, what) in [(None, "no token"), (Some(wrong.as_str()), "a wrong token")] {
        for path in ["/api/v1/state", "/api/v1/history?names=cpu", "/metrics"] {
            let r = get(agent.port, path, token).expect("answer");
            assert_eq!(r.status, 401, "{path} with {what}: {r:?}");
            assert!(
                r.body.is_empty(),
                "{path} with {what} leaks data: {}",
                r.body
            );
        }
    }
    let r = request(
        agent.port,
        "POST /api/v1/probe HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    )
    .expect("answer");
    assert_eq!(r.status, 401);

    let s = state(&agent);
    for key in [
        "status", "items", "probes", "problems", "host", "mta", "limits",
    ] {
        assert!(s.get(key).is_some(), "state lacks {key}: {s}");
    }
    assert_eq!(s["mta"]["kind"], "postfix", "{s}");
    assert!(s["items"].as_array().is_some_and(|i| !i.is_empty()), "{s}");
    assert!(s["ts"].as_f64().is_some_and(|t| t > 1.6e9), "{s}");
    assert_eq!(s["version"], env!("CARGO_PKG_VERSION"));
    assert!(s["hostname"].as_str().is_some_and(|h| !h.is_empty()), "{s}");
    assert!(
        s["items"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|i| i["id"] == "smtpd_processes"),
        "the Postfix items are there: {s}"
    );

    let hist = agent.get("/api/v1/history?names=cpu,smtpd_processes");
    assert_eq!(hist.status, 200, "{hist:?}");
    let hist = hist.json();
    assert!(
        hist["ts"].is_array() && hist["series"].is_object(),
        "{hist}"
    );
    let too_many = (0..40)
        .map(|i| format!("m{i}"))
        .collect::<Vec<_>>()
        .join(",");
    assert_eq!(
        agent
            .get(&format!("/api/v1/history?names={too_many}"))
            .status,
        400
    );

    assert_eq!(agent.get("/nope").status, 404);
    assert_eq!(get(agent.port, "/nope", None).expect("answer").status, 404);

    let big = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: {}\r\nConnection: close\r\n\r\n",
        "a".repeat(40_000)
    );
    assert_eq!(request(agent.port, &big).expect("answer").status, 431);

    let head = format!(
        "POST /api/v1/probe HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Length: 1000000\r\nConnection: close\r\n\r\n",
        agent.token
    );
    let r = request_with(
        agent.port,
        head.as_bytes(),
        &[b'x'; 100_000],
        Duration::from_secs(10),
    )
    .expect("answer");
    assert_eq!(r.status, 413, "{r:?}");
    drop(pf);
}

#[test]
fn events_stream_ticks_and_probe_now_answers_the_agents_probe() {
    let Some((_pf, agent)) = agent_on_postfix() else {
        return;
    };
    state(&agent);
    let mut events = Events::open(agent.port, &agent.token).expect("events stream");
    let t0 = std::time::Instant::now();
    let mut ticks = 0;
    while ticks < 2 {
        let (name, data) = events.next_event().expect("an event");
        if name == "tick" {
            let v: serde_json::Value = serde_json::from_str(&data).expect("tick is JSON");
            assert!(v["items"].is_array() && v["ts"].is_number(), "{v}");
            ticks += 1;
        }
    }
    assert!(
        t0.elapsed() < Duration::from_secs(10),
        "two ticks at a 1 s interval took {:?}",
        t0.elapsed()
    );

    // The first scheduled probe runs soon after start; wait out its debounce so this
    // request starts one of its own.
    std::thread::sleep(Duration::from_secs(4));
    let head = format!(
        "POST /api/v1/probe HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        agent.token
    );
    let before = headroom_engine::time::unix_now();
    let r =
        request_with(agent.port, head.as_bytes(), &[], Duration::from_secs(60)).expect("answer");
    assert_eq!(r.status, 200, "{r:?}");
    let v = r.json();
    assert_eq!(v["started"], "started", "{v}");
    let probes = v["probes"].as_array().expect("probes");
    assert_eq!(probes.len(), 1, "{v}");
    assert_eq!(probes[0]["name"], "instance");
    assert_eq!(probes[0]["outcome"], "ok", "{v}");
    assert!(
        probes[0]["ts"].as_f64().is_some_and(|t| t >= before - 1.0),
        "a fresh probe: {v}"
    );
    // The same result reaches event subscribers.
    let probe_event = (0..20)
        .map(|_| events.next_event().expect("an event"))
        .find(|(n, _)| n == "probe");
    assert!(probe_event.is_some(), "no probe event after Probe now");
}

#[test]
fn metrics_pass_promtool_in_both_formats() {
    let Some((_pf, agent)) = agent_on_postfix() else {
        return;
    };
    state(&agent);
    // A probe result and a queue reading in the exposition.
    std::thread::sleep(Duration::from_secs(3));
    let r = agent.get("/metrics");
    assert_eq!(r.status, 200);
    assert!(r
        .header("content-type")
        .is_some_and(|c| c.starts_with("text/plain; version=0.0.4")));
    for name in [
        "headroom_build_info{version=",
        "headroom_item_used{item=\"smtpd_processes\"}",
        "headroom_item_limit{item=\"smtpd_processes\"} 100",
        "headroom_item_level{item=\"smtpd_processes\"} 0",
        "headroom_mta_up 1",
        "headroom_mta_limit{parameter=",
        "headroom_queue_messages{queue=\"deferred\"}",
        "headroom_probe_success{target=\"instance\"} 1",
        "headroom_probe_phase_seconds{target=\"instance\",phase=",
        "headroom_deferrals_total{class=\"resource_shortage\",side=\"remote\"}",
    ] {
        assert!(r.body.contains(name), "no {name} in\n{}", r.body);
    }
    promtool_check(&r.body);

    let head = format!(
        "GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nAccept: application/openmetrics-text;version=1.0.0\r\nConnection: close\r\n\r\n",
        agent.token
    );
    let om = request(agent.port, &head).expect("answer");
    assert!(om
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/openmetrics-text")));
    // promtool reads the 0.0.4 text format only: check OpenMetrics' own rules here.
    assert!(om.body.ends_with("# EOF\n"), "{}", om.body);
    assert!(
        om.body.contains("# TYPE headroom_deferrals counter\n"),
        "{}",
        om.body
    );
    assert!(
        om.body.contains("\nheadroom_deferrals_total{"),
        "{}",
        om.body
    );
}

fn promtool_check(body: &str) {
    use std::io::Write;
    let Some(promtool) = ["/usr/bin/promtool", "/usr/local/bin/promtool"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
    else {
        headroom_tests::skip_or_fail("promtool is not installed (apt-get install prometheus)");
        return;
    };
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(body.as_bytes())
        .expect("feed promtool");
    let out = child.wait_with_output().expect("promtool output");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "promtool check metrics: {said}\n{body}"
    );
}

#[test]
fn probe_now_right_after_probe_now_answers_at_once_with_the_fresh_results() {
    if let Some(why) = unavailable() {
        headroom_tests::skip_or_fail(why);
        return;
    }
    let pf = Instance::start(&Options::default()).expect("private postfix starts");
    let config = format!(
        "{}\n[[probe]]\nname = \"second\"\nhost = \"127.0.0.1\"\nport = {}\ninterval_secs = 60\ntimeout_secs = 5\n",
        postfix_agent_config(&pf.etc, pf.port, 1.0).replace("interval_secs = 5\n", "interval_secs = 60\n"),
        pf.port
    );
    let agent = Agent::start(&config, &[]);
    state(&agent);
    std::thread::sleep(Duration::from_secs(4));
    let head = format!(
        "POST /api/v1/probe HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        agent.token
    );
    let probe = || {
        let t0 = std::time::Instant::now();
        let r = request_with(agent.port, head.as_bytes(), &[], Duration::from_secs(60))
            .expect("answer");
        assert_eq!(r.status, 200, "{r:?}");
        (r.json(), t0.elapsed())
    };
    let (first, _) = probe();
    let (second, took) = probe();
    assert_eq!(first["started"], "started", "{first}");
    assert_eq!(second["started"], "debounced", "{second}");
    assert!(
        took < Duration::from_secs(2),
        "a debounced Probe now took {took:?}"
    );
    let key = |v: &serde_json::Value| {
        let mut k: Vec<(String, String)> = v["probes"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| (p["name"].to_string(), p["ts"].to_string()))
            .collect();
        k.sort();
        k
    };
    assert_eq!(key(&first).len(), 2, "{first}");
    assert_eq!(
        key(&first),
        key(&second),
        "the debounced answer is the fresh results"
    );
}

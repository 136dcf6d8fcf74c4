//! What a crowd or a bad start cannot do to the agent: 500 idle connections and an
//! event client that never reads do not stop `/healthz` answering within a second or
//! grow the agent's memory without bound; a listener beyond loopback without a token is
//! refused before anything listens; `--new-token` makes a private token file.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use headroom_tests::agent::{get, serve_exits, Agent};

/// No mail server, no probes, a fast tick: the agent serves host readings only, and
/// events flow quickly enough that a reader that never reads falls behind.
const HOST_ONLY: &str = "probe = []\n[monitor]\ninterval_secs = 0.2\n[mta]\nkind = \"none\"\n";

#[test]
fn idle_connections_and_a_stalled_event_reader_do_not_stop_healthz() {
    let agent = Agent::start(HOST_ONLY, &[]);
    assert!(headroom_tests::bins::wait_for(Duration::from_secs(10), || {
        Some(()).filter(|_| agent.get("/api/v1/state").status == 200)
    })
    .is_some());
    let rss_before = agent.rss_kib();

    // A client that subscribes and then never reads.
    let mut stalled = TcpStream::connect(("127.0.0.1", agent.port)).expect("connect");
    write!(
        stalled,
        "GET /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\r\n",
        agent.token
    )
    .expect("subscribe");

    let idle: Vec<TcpStream> = (0..500)
        .map(|_| TcpStream::connect(("127.0.0.1", agent.port)).expect("idle connection"))
        .collect();
    let mut worst = Duration::ZERO;
    let end = Instant::now() + Duration::from_secs(20);
    let mut answered = 0;
    while Instant::now() < end {
        let t0 = Instant::now();
        let r = get(agent.port, "/healthz", None);
        let took = t0.elapsed();
        assert!(
            matches!(&r, Ok(r) if r.status == 200),
            "/healthz with 500 idle connections: {r:?}"
        );
        worst = worst.max(took);
        answered += 1;
        std::thread::sleep(Duration::from_millis(500));
    }
    eprintln!("/healthz answered {answered} times, slowest {worst:?}");
    assert!(
        worst < Duration::from_secs(1),
        "slowest /healthz took {worst:?}"
    );

    let rss_after = agent.rss_kib();
    eprintln!("agent RSS {rss_before} KiB before, {rss_after} KiB after 20 s of the crowd");
    assert!(
        rss_after < rss_before + 32 * 1024,
        "the agent grew from {rss_before} to {rss_after} KiB"
    );
    // The crowd's idle connections were closed by the agent (head timeout), not kept.
    let mut closed = 0;
    for mut c in idle {
        c.set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        let mut b = [0u8; 1];
        if matches!(c.read(&mut b), Ok(0) | Err(_)) {
            closed += 1;
        }
    }
    assert!(
        closed >= 490,
        "only {closed} of 500 idle connections were closed"
    );
    drop(stalled);
}

#[test]
fn a_listener_beyond_loopback_without_a_token_is_refused_at_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("config.toml");
    std::fs::write(&config, HOST_ONLY).expect("config");
    let data = dir.path().join("data");
    let out = serve_exits(
        &[
            "--config",
            config.to_str().expect("utf-8 path"),
            "--listen",
            "0.0.0.0:9",
        ],
        &data,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("refusing to listen on 0.0.0.0:9") && stderr.contains("needs a token"),
        "{stderr}"
    );
    assert!(
        !data.join("headroom/agent/token").exists(),
        "no token made on a refusal"
    );
}

#[test]
fn new_token_writes_a_private_file_and_says_where() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("sub/agent.token");
    let out = serve_exits(
        &["--new-token", "--token-file", path.to_str().expect("utf-8")],
        &dir.path().join("data"),
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        path.display().to_string()
    );
    let mode = std::fs::metadata(&path)
        .expect("token file")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    let token = std::fs::read_to_string(&path).expect("token");
    assert_eq!(token.trim().len(), 64, "{token:?}");
    // The agent uses it.
    let config = "probe = []\n[mta]\nkind = \"none\"\n";
    let agent = Agent::start_in(
        tempfile::tempdir().expect("temp dir"),
        config,
        &["--token-file", path.to_str().expect("utf-8")],
    );
    let r = get(agent.port, "/metrics", Some(token.trim())).expect("metrics");
    assert_eq!(r.status, 200);
}

#[test]
fn metrics_public_opens_metrics_only() {
    let config = format!("{HOST_ONLY}[agent]\nmetrics_public = true\n");
    let agent = Agent::start(&config, &[]);
    let m = get(agent.port, "/metrics", None).expect("metrics");
    assert_eq!(m.status, 200);
    assert!(m.body.contains("headroom_build_info"), "{}", m.body);
    for path in ["/api/v1/state", "/api/v1/history?names=cpu"] {
        let r = get(agent.port, path, None).expect("answer");
        assert_eq!((r.status, r.body.as_str()), (401, ""), "{path}");
    }
}

#[test]
fn an_unknown_agent_key_is_refused_with_its_place() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!("{HOST_ONLY}[agent]\nmetrics_publik = true\n"),
    )
    .expect("config");
    let out = serve_exits(
        &["--config", config.to_str().expect("utf-8")],
        &dir.path().join("data"),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("config.toml:7:1:") && stderr.contains("metrics_publik"),
        "{stderr}"
    );
}

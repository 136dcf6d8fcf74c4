//! `headroom-cli serve --stdio`: the API as JSON lines, as `ssh -T host headroom-cli
//! serve --stdio` carries it. Requests get their id back with status and body; a
//! subscription streams events; bad lines get an error reply and the session goes on.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use headroom_tests::bins::bin;
use serde_json::Value;

#[test]
fn stdio_answers_requests_by_id_and_streams_events() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        "probe = []\n[monitor]\ninterval_secs = 0.5\n[mta]\nkind = \"none\"\n",
    )
    .expect("config");
    let mut child = Command::new(bin("headroom-cli"))
        .args(["serve", "--stdio", "--config"])
        .arg(&config)
        .env("XDG_DATA_HOME", dir.path().join("data"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start serve --stdio");
    let mut stdin = child.stdin.take().expect("stdin");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel::<Value>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let v: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("a line that is not JSON ({e}): {line}"));
            if tx.send(v).is_err() {
                break;
            }
        }
    });
    let mut send = |line: &str| {
        stdin.write_all(line.as_bytes()).expect("write");
        stdin.write_all(b"\n").expect("write");
        stdin.flush().expect("flush");
    };
    let wait = |rx: &mpsc::Receiver<Value>, f: &dyn Fn(&Value) -> bool| -> Value {
        let end = Instant::now() + Duration::from_secs(20);
        loop {
            let left = end.saturating_duration_since(Instant::now());
            let v = rx.recv_timeout(left).expect("a matching line within 20 s");
            if f(&v) {
                return v;
            }
        }
    };

    // The first tick takes a moment: ask until the state is there.
    let mut state = Value::Null;
    for i in 0..40 {
        send(&format!(
            r#"{{"id":{i},"method":"GET","path":"/api/v1/state"}}"#
        ));
        let r = wait(&rx, &|v| v["id"] == i);
        if r["status"] == 200 {
            state = r["body"].clone();
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(
        state["items"].is_array() && state["ts"].is_number(),
        "{state}"
    );

    send(r#"{"id":"m","method":"GET","path":"/metrics"}"#);
    let m = wait(&rx, &|v| v["id"] == "m");
    assert_eq!(m["status"], 200);
    assert!(
        m["body"]
            .as_str()
            .is_some_and(|b| b.contains("headroom_item_level{")),
        "{m}"
    );

    send(r#"{"id":"x","method":"GET","path":"/nope"}"#);
    assert_eq!(wait(&rx, &|v| v["id"] == "x")["status"], 404);

    send("this is not json");
    let bad = wait(&rx, &|v| v.get("status").is_some() && v["id"].is_null());
    assert_eq!(bad["status"], 400, "{bad}");

    send(&format!(
        r#"{{"id":"long","path":"/{}"}}"#,
        "a".repeat(100_000)
    ));
    let long = wait(&rx, &|v| v.get("status").is_some() && v["id"].is_null());
    assert_eq!(long["status"], 413, "{long}");

    send(r#"{"id":"sub","method":"GET","path":"/api/v1/events"}"#);
    assert_eq!(wait(&rx, &|v| v["id"] == "sub")["status"], 200);
    let mut ticks = 0;
    while ticks < 2 {
        let e = wait(&rx, &|v| v.get("event").is_some());
        if e["event"] == "tick" {
            assert!(e["data"]["items"].is_array(), "{e}");
            ticks += 1;
        }
    }
    // Closing stdin (the ssh session ends) ends the agent.
    drop(stdin);
    let end = Instant::now() + Duration::from_secs(10);
    while child.try_wait().ok().flatten().is_none() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = child.try_wait().ok().flatten();
    let _ = child.kill();
    let _ = child.wait();
    let _ = reader.join();
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(0),
        "serve --stdio exits when stdin closes"
    );
}

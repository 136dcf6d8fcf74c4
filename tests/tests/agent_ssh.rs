//! The agent over SSH instead of a port: a private `sshd` on a loopback port (its own
//! host key, config and authorized_keys, started by the test) whose key is restricted
//! with `command="headroom-cli serve --stdio"`, reached with the real `ssh` client and
//! key authentication, as README shows for a mail server.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use headroom_tests::bins::{bin, wait_for};
use headroom_tests::sshd::Sshd;
use serde_json::Value;

#[test]
fn the_agent_answers_over_ssh_through_a_forced_command() {
    if let Some(why) = headroom_tests::sshd::unavailable() {
        headroom_tests::skip_or_fail(why);
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let config = d.join("config.toml");
    std::fs::write(
        &config,
        "probe = []\n[monitor]\ninterval_secs = 0.5\n[mta]\nkind = \"none\"\n[history]\nenabled = false\n",
    )
    .expect("config");
    // The key may run the agent and nothing else (README's authorized_keys line).
    let sshd = Sshd::start(&format!(
        "{} serve --stdio --config {}",
        bin("headroom-cli").display(),
        config.display()
    ));
    let port = sshd.port;
    let log = sshd.dir.path().join("sshd.log");
    // The admin's own ssh client, key and known_hosts; asking for a shell command
    // gets the agent all the same (the key's forced command).
    let mut ssh = Command::new("/usr/bin/ssh")
        .args(["-T", "-p", &port.to_string(), "-i"])
        .arg(sshd.client_key())
        .arg("-o")
        .arg(format!(
            "UserKnownHostsFile={}",
            sshd.known_hosts().display()
        ))
        .args([
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
            "-F",
            "/dev/null",
            "root@127.0.0.1",
            "id",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ssh");
    let mut stdin = ssh.stdin.take().expect("stdin");
    let stdout = ssh.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut state = Value::Null;
    let end = Instant::now() + Duration::from_secs(30);
    let mut lines = Vec::new();
    let mut i = 0;
    while Instant::now() < end && state.is_null() {
        i += 1;
        let _ = writeln!(
            stdin,
            r#"{{"id":{i},"method":"GET","path":"/api/v1/state"}}"#
        );
        let _ = stdin.flush();
        while let Ok(line) = rx.recv_timeout(Duration::from_millis(500)) {
            lines.push(line.clone());
            let v: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
            if v["status"] == 200 && v["body"]["items"].is_array() {
                state = v["body"].clone();
                break;
            }
        }
    }
    drop(stdin);
    let exit = wait_for(Duration::from_secs(10), || ssh.try_wait().ok().flatten());
    if exit.is_none() {
        let _ = ssh.kill();
    }
    let mut err = String::new();
    if let Some(mut e) = ssh.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut err);
    }
    let _ = ssh.wait();
    let sshd_log = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        state["items"].is_array() && state["ts"].is_number(),
        "no state over ssh; lines {lines:?}\nssh: {err}\nsshd: {sshd_log}"
    );
    assert!(
        lines.iter().all(|l| !l.starts_with("uid=")),
        "the forced command ran instead of `id`: {lines:?}"
    );
    assert!(
        sshd_log.contains("Accepted publickey"),
        "key authentication: {sshd_log}"
    );
    assert!(
        exit.is_some_and(|s| s.success()),
        "closing the session ends the agent: {exit:?}\n{err}"
    );
}

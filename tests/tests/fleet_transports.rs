//! How the desktop reaches an agent, through the same code it uses (engine `fleet`),
//! driven with `headroom-cli server test|watch`:
//!
//! - over TLS with the agent's certificate pinned: not pinned yet → the fingerprint to
//!   accept is shown (trust on first use); pinned → connected, with the token read from
//!   a real Secret Service (gnome-keyring); another certificate → refused as changed;
//! - over ssh through a real private sshd whose key is forced to `serve --stdio`: the
//!   agent's state arrives as events, and when sshd goes away the server is reported
//!   down with ssh's own reason.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use headroom_tests::agent::Agent;
use headroom_tests::bins::bin;
use headroom_tests::desktop::Desktop;
use headroom_tests::sshd::{self, Sshd};
use serde_json::Value;

const AGENT_CONFIG: &str =
    "probe = []\n[monitor]\ninterval_secs = 0.5\n[mta]\nkind = \"none\"\n[history]\nenabled = false\n";

fn server_test(desktop: &Desktop, config: &Path) -> (i32, String) {
    let out = desktop
        .command(bin("headroom-cli"))
        .args(["server", "test", "mx", "--config"])
        .arg(config)
        .output()
        .expect("headroom-cli server test");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn certificate(dir: &Path, name: &str) -> (String, String) {
    let made =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("certificate");
    let cert = dir.join(format!("{name}.pem"));
    let key = dir.join(format!("{name}.key"));
    std::fs::write(&cert, made.cert.pem()).expect("cert");
    std::fs::write(&key, made.signing_key.serialize_pem()).expect("key");
    (cert.display().to_string(), key.display().to_string())
}

#[test]
fn a_tls_agent_is_trusted_by_its_pinned_fingerprint_only() {
    let certs = tempfile::tempdir().expect("temp dir");
    let (cert, key) = certificate(certs.path(), "agent");
    let agent = Agent::start(AGENT_CONFIG, &["--tls-cert", &cert, "--tls-key", &key]);
    let printed = agent
        .stderr()
        .lines()
        .find_map(|l| {
            l.split("SHA-256 fingerprint ")
                .nth(1)
                .map(str::trim)
                .map(str::to_string)
        })
        .expect("the agent printed its fingerprint");

    let mut desktop = Desktop::start();
    desktop.start_keyring();
    desktop.store_token("mx", &agent.token);
    let config = desktop.dir().join("servers.toml");
    let write = |fingerprint: Option<&str>| {
        let mut text = format!(
            "[[server]]\nname = \"mx\"\nurl = \"https://127.0.0.1:{}\"\n",
            agent.port
        );
        if let Some(f) = fingerprint {
            text.push_str(&format!("fingerprint = \"{f}\"\n"));
        }
        std::fs::write(&config, text).expect("config");
    };

    // Not pinned yet: refused, and the fingerprint to accept is the one the agent printed.
    write(None);
    let (code, text) = server_test(&desktop, &config);
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains(&format!("fingerprint = \"{printed}\"")),
        "shows {printed} to accept: {text}"
    );

    // Pinned: connected, with the token from the keyring.
    write(Some(&printed));
    let (code, text) = server_test(&desktop, &config);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("connected"), "{text}");

    // Another certificate pinned (the agent's was replaced, or someone is in between).
    let other =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("certificate");
    let other_fp = headroom_engine::config::display_fingerprint(
        &headroom_engine::fleet::fingerprint(other.cert.der()),
    );
    write(Some(&other_fp));
    let (code, text) = server_test(&desktop, &config);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("certificate changed"), "{text}");
    assert!(text.contains(&printed), "says what was served: {text}");
}

/// `headroom-cli server watch`'s JSON lines, read on a thread.
struct Watch {
    child: Child,
    lines: mpsc::Receiver<Value>,
}

impl Watch {
    fn next(&self, within: Duration, want: impl Fn(&Value) -> bool) -> Option<Value> {
        let end = std::time::Instant::now() + within;
        while let Some(left) = end.checked_duration_since(std::time::Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(v) if want(&v) => return Some(v),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
        None
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn an_agent_over_ssh_sends_its_events_and_a_lost_link_is_said_with_ssh_reason() {
    if let Some(why) = sshd::unavailable() {
        headroom_tests::skip_or_fail(why);
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let agent_config = dir.path().join("agent.toml");
    std::fs::write(&agent_config, AGENT_CONFIG).expect("agent config");
    let mut sshd = Sshd::start(&format!(
        "{} serve --stdio --config {}",
        bin("headroom-cli").display(),
        agent_config.display()
    ));
    let config = dir.path().join("servers.toml");
    std::fs::write(
        &config,
        format!(
            "[[server]]\nname = \"mx\"\nssh = \"root@127.0.0.1\"\nssh_config = \"{}\"\nssh_command = \"headroom-cli\"\n",
            sshd.client_config().display()
        ),
    )
    .expect("config");

    let mut child = Command::new(bin("headroom-cli"))
        .args(["server", "watch", "mx", "--config"])
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("headroom-cli server watch");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let v: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
            if tx.send(v).is_err() {
                break;
            }
        }
    });
    let watch = Watch { child, lines: rx };

    let state = watch.next(Duration::from_secs(30), |v| v["event"] == "state");
    let state = state.unwrap_or_else(|| panic!("no state over ssh; sshd: {}", sshd.log()));
    assert!(state["items"].as_u64().unwrap_or(0) > 0, "{state}");
    assert!(
        sshd.log().contains("Accepted publickey"),
        "key authentication: {}",
        sshd.log()
    );
    // Ticks keep coming over the same session.
    assert!(watch
        .next(Duration::from_secs(10), |v| v["event"] == "state")
        .is_some());

    // The server goes away: its sshd stops listening and the session's agent ends (the
    // agent this test's sshd started for this test's key, found by its own config
    // path). Reported down, in ssh's words, after the grace.
    sshd.stop_listening();
    let agents = processes_with(&agent_config.display().to_string());
    assert!(!agents.is_empty(), "the session's agent is running");
    for pid in agents {
        let _ = Command::new("/bin/kill")
            .args(["-KILL", &pid.to_string()])
            .status();
    }
    let down = watch
        .next(Duration::from_secs(30), |v| v["event"] == "down")
        .expect("a down event once sshd is gone");
    let reason = down["reason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("ssh: ") && (reason.contains("refused") || reason.contains("closed")),
        "ssh's reason: {reason}"
    );
}

/// Pids of processes whose command line holds `needle` (a path only this test made).
fn processes_with(needle: &str) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(needle))
                .unwrap_or(false)
        })
        .filter(|pid| *pid != std::process::id())
        .collect()
}

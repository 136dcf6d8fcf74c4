//! `headroom-cli probe` as scripts use it: the JSON object of DESIGN.md and the
//! Nagios exit codes (0 ok, 1 on 4xx, 2 on 5xx or no answer, 3 on bad usage).

use headroom_tests::bins::{bin, free_port};
use headroom_tests::peers::{Behaviour, Peer};

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

async fn cli(args: &[&str]) -> Run {
    let out = tokio::process::Command::new(bin("headroom-cli"))
        .arg("probe")
        .args(args)
        .output()
        .await
        .expect("run headroom-cli");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn json(r: &Run) -> serde_json::Value {
    serde_json::from_str(r.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {}", r.stdout))
}

#[tokio::test(flavor = "multi_thread")]
async fn json_output_has_the_contract_fields_and_exit_0() {
    let peer = Peer::start(Behaviour::Normal).await;
    let port = peer.port().to_string();
    let r = cli(&["127.0.0.1", "--port", &port, "--json"]).await;
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let v = json(&r);
    assert_eq!(v["target"], format!("127.0.0.1:{port}"));
    assert_eq!(v["outcome"], "ok");
    assert_eq!(v["phase"], "quit");
    assert_eq!(v["class"], "ok");
    assert_eq!(v["reply"]["code"], 221);
    assert_eq!(v["reply"]["enhanced"], "2.0.0");
    assert_eq!(v["reply"]["text"], "Bye");
    let t = v["timings_ms"].as_object().expect("timings_ms object");
    assert_eq!(t.len(), 6);
    // In dialogue order in the output (serde_json's map here sorts, so check the text).
    let order: Vec<usize> = ["connect", "banner", "ehlo", "mail", "rset", "quit"]
        .iter()
        .map(|k| r.stdout.find(&format!("\"{k}\":")).expect("phase key"))
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{}", r.stdout);
    assert!(v["total_ms"].as_f64().is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_4xx_exits_1_with_the_reply() {
    let peer = Peer::start(Behaviour::MultiLine421AtMail).await;
    let port = peer.port().to_string();
    let r = cli(&["127.0.0.1", "--port", &port, "--json"]).await;
    assert_eq!(r.code, 1, "{}", r.stdout);
    let v = json(&r);
    assert_eq!(
        (v["outcome"].as_str(), v["phase"].as_str()),
        (Some("tempfail"), Some("mail"))
    );
    assert_eq!(v["reply"]["code"], 421);
}

#[tokio::test(flavor = "multi_thread")]
async fn no_answer_exits_2() {
    let port = free_port().to_string();
    let r = cli(&["127.0.0.1", "--port", &port, "--json"]).await;
    assert_eq!(r.code, 2, "{}", r.stdout);
    let v = json(&r);
    assert_eq!(v["outcome"], "refused");
    assert!(v["reply"].is_null());
}

#[tokio::test(flavor = "multi_thread")]
async fn human_output_is_one_nagios_line_with_perfdata_and_an_explanation() {
    let peer = Peer::start(Behaviour::Banner421).await;
    let port = peer.port().to_string();
    let r = cli(&["127.0.0.1", "--port", &port]).await;
    assert_eq!(r.code, 1);
    let first = r.stdout.lines().next().unwrap_or_default();
    assert!(first.starts_with("SMTP WARNING - "), "{first}");
    assert!(first.contains("421 4.3.2"), "{first}");
    assert!(first.contains("| time="), "{first}");
    assert!(r.stdout.lines().count() > 1, "no explanation: {}", r.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_usage_exits_3_before_connecting() {
    for args in [
        &["bad host name"][..],
        &["127.0.0.1", "--port", "0"],
        &["127.0.0.1", "--port", "70000"],
        &["127.0.0.1", "--from", "not an address"],
        &["127.0.0.1", "--rcpt", "a@@b"],
        &["127.0.0.1", "--send"],
        &["127.0.0.1", "--tls", "sometimes"],
        &["127.0.0.1", "--timeout", "0"],
        &["127.0.0.1", "--timeout", "1e20"],
        &["127.0.0.1", "--timeout", "inf"],
        &["999.1.2.3"],
    ] {
        let r = cli(args).await;
        assert_eq!(r.code, 3, "{args:?}: {}{}", r.stdout, r.stderr);
        assert!(r.stdout.is_empty(), "{args:?} printed {}", r.stdout);
        assert!(!r.stderr.is_empty(), "{args:?} said nothing");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn auth_over_unverified_tls_to_a_remote_host_is_refused_before_connecting() {
    // 192.0.2.1 (TEST-NET-1) is never answered: a probe that tried would time out.
    let r = cli(&[
        "192.0.2.1",
        "--tls",
        "implicit",
        "--insecure",
        "--user",
        "probe",
        "--timeout",
        "30",
    ])
    .await;
    assert_eq!(r.code, 3, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("--insecure"), "{}", r.stderr);
    let r = cli(&["192.0.2.1", "--user", "probe", "--timeout", "30"]).await;
    assert_eq!(r.code, 3, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("--tls starttls|implicit"), "{}", r.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hostile_reply_reaches_the_terminal_without_escapes_or_fake_perfdata() {
    let peer = Peer::start(Behaviour::Hostile421AtMail).await;
    let port = peer.port().to_string();
    let r = cli(&["127.0.0.1", "--port", &port]).await;
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    for bad in ['\u{1b}', '\u{7}', '\u{202e}'] {
        assert!(
            !r.stdout.contains(bad),
            "{bad:?} reached the terminal: {:?}",
            r.stdout
        );
    }
    let first = r.stdout.lines().next().unwrap_or_default();
    assert!(first.starts_with("SMTP WARNING - "), "{first}");
    // The reply's words are still there for the admin to read …
    assert!(first.contains("renew your quota"), "{first}");
    assert!(first.contains("yzub"), "{first}");
    // … but only Headroom's own `|` starts the perfdata.
    assert_eq!(first.matches('|').count(), 1, "{first}");
    let perf = first.split('|').nth(1).unwrap_or_default();
    assert!(perf.trim_start().starts_with("time="), "{first}");
    assert!(!perf.contains("fake_perf"), "{first}");

    // JSON keeps the reply as data, with the controls escaped by the encoder.
    let r = cli(&["127.0.0.1", "--port", &port, "--json"]).await;
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(!r.stdout.contains('\u{1b}'), "{:?}", r.stdout);
    let v = json(&r);
    let text = v["reply"]["text"].as_str().unwrap_or_default();
    assert!(text.contains("\u{1b}]8;;http://evil.example/"), "{text:?}");
}

/// Runs `headroom-cli ARGS` with its standard output a pipe whose reading end is
/// already closed, as `headroom-cli … | true` can be: every write fails with EPIPE.
fn with_stdout_closed(args: &[&str]) -> std::process::Output {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    std::process::Command::new(bin("headroom-cli"))
        .args(args)
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("run headroom-cli")
}

#[test]
fn explain_into_a_closed_pipe_exits_quietly() {
    let out = with_stdout_closed(&["explain", "421", "4.3.0"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn probe_into_a_closed_pipe_keeps_its_exit_code() {
    let peer = Peer::start(Behaviour::Banner421).await;
    let port = peer.port().to_string();
    for extra in [&[][..], &["--json"]] {
        let mut args = vec!["probe", "127.0.0.1", "--port", &port];
        args.extend_from_slice(extra);
        // Blocks this worker; the peer answers from the other one.
        let out = with_stdout_closed(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{extra:?}: {err}");
        assert!(!err.contains("panicked"), "{extra:?}: {err}");
    }
}

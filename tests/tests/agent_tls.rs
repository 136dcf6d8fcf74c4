//! The agent over TLS on loopback with the administrator's certificate: it prints the
//! certificate's SHA-256 fingerprint (what the desktop pins), serves that certificate,
//! answers over TLS and prints the same fingerprint after a restart. (The self-signed
//! certificate made on first start is for listeners beyond loopback, which tests do not
//! open; its making and stability are unit-tested in the CLI's `serve::tls`.)

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use headroom_tests::agent::{get, Agent};

const CONFIG: &str = "probe = []\n[monitor]\ninterval_secs = 1\n[mta]\nkind = \"none\"\n";

fn openssl(args: &[&str], input: &[u8]) -> String {
    let mut child = Command::new("/usr/bin/openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl runs");
    let _ = child.stdin.take().expect("stdin").write_all(input);
    let out = child.wait_with_output().expect("openssl output");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `AB:CD:…` from openssl's `sha256 Fingerprint=AB:CD:…`.
fn fingerprint_of_pem(pem: &str) -> String {
    openssl(
        &["x509", "-noout", "-fingerprint", "-sha256"],
        pem.as_bytes(),
    )
    .trim()
    .rsplit('=')
    .next()
    .unwrap_or_default()
    .to_string()
}

fn printed_fingerprint(stderr: &str) -> String {
    stderr
        .lines()
        .find_map(|l| l.split("SHA-256 fingerprint ").nth(1))
        .unwrap_or_else(|| panic!("no fingerprint printed: {stderr}"))
        .trim()
        .to_string()
}

#[test]
fn tls_serves_the_given_certificate_and_prints_its_stable_fingerprint() {
    if !Path::new("/usr/bin/openssl").exists() {
        headroom_tests::skip_or_fail("openssl is not installed (apt-get install openssl)");
        return;
    }
    let certs = tempfile::tempdir().expect("temp dir");
    let made =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("certificate");
    let cert = certs.path().join("cert.pem");
    let key = certs.path().join("key.pem");
    std::fs::write(&cert, made.cert.pem()).expect("cert");
    std::fs::write(&key, made.signing_key.serialize_pem()).expect("key");
    let expected = fingerprint_of_pem(&made.cert.pem());
    assert_eq!(expected.len(), 95, "openssl fingerprint {expected:?}");

    let args = [
        "--tls-cert",
        cert.to_str().expect("utf-8"),
        "--tls-key",
        key.to_str().expect("utf-8"),
    ];
    let agent = Agent::start(CONFIG, &args);
    assert_eq!(printed_fingerprint(&agent.stderr()), expected);

    // A TLS client gets that very certificate and an answer.
    let request = format!(
        "GET /api/v1/state HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
        agent.token
    );
    let connect = format!("127.0.0.1:{}", agent.port);
    let mut answer = String::new();
    for _ in 0..20 {
        answer = openssl(
            &[
                "s_client",
                "-connect",
                &connect,
                "-servername",
                "localhost",
                "-quiet",
            ],
            request.as_bytes(),
        );
        if answer.contains("HTTP/1.1 200") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    assert!(
        answer.contains("HTTP/1.1 200") && answer.contains("\"items\""),
        "{answer}"
    );
    let shown = openssl(
        &[
            "s_client",
            "-connect",
            &connect,
            "-servername",
            "localhost",
            "-showcerts",
        ],
        b"",
    );
    let served = shown
        .split("-----BEGIN CERTIFICATE-----")
        .nth(1)
        .and_then(|s| s.split("-----END CERTIFICATE-----").next())
        .map(|b| format!("-----BEGIN CERTIFICATE-----{b}-----END CERTIFICATE-----\n"))
        .expect("a served certificate");
    assert_eq!(fingerprint_of_pem(&served), expected);

    // Plain HTTP to the TLS port gets no data.
    let plain = get(agent.port, "/healthz", None);
    assert!(!matches!(&plain, Ok(r) if r.status == 200), "{plain:?}");

    // Same certificate, same fingerprint after a restart.
    let dir = agent.stop();
    let again = Agent::start_in(dir, CONFIG, &args);
    assert_eq!(printed_fingerprint(&again.stderr()), expected);
}

//! `headroom-cli classify` and `explain` as users' scripts run them: the real binary on
//! a real log file and on standard input (DESIGN.md, "classify --json").

use std::io::Write;
use std::process::{Command, Output, Stdio};

use headroom_tests::bins::bin;

const GMAIL: &str = "Nov 27 10:00:01 mx1 postfix/smtp[1234]: 4BQ3Xk1abcz: to=<alice@gmail.com>, relay=gmail-smtp-in.l.google.com[142.250.1.27]:25, delay=1.2, delays=0.01/0/0.6/0.6, dsn=4.7.28, status=deferred (host gmail-smtp-in.l.google.com[142.250.1.27] said: 421-4.7.28 Gmail has detected an unusual rate of unsolicited mail. To protect 421-4.7.28 our users from spam, mail has been temporarily rate limited. 421 4.7.28 Please visit https://support.google.com/mail/answer/188131 - gsmtp (in reply to end of DATA command))";
const SENT: &str = "Nov 27 10:00:02 mx1 postfix/smtp[1234]: 4BQ3Xk1abcd: to=<bob@gmail.com>, relay=gmail-smtp-in.l.google.com[142.250.1.27]:25, delay=1.2, delays=0.01/0/0.6/0.6, dsn=2.0.0, status=sent (250 2.0.0 OK - gsmtp)";
const CONNECT: &str =
    "Nov 27 10:00:03 mx1 postfix/smtpd[2001]: connect from client.example[198.51.100.20]";
const STORAGE: &str = "2026-11-27T10:00:19.000000+00:00 mx1 postfix/smtpd[2001]: NOQUEUE: reject: MAIL from client.example[198.51.100.20]: 452 4.3.1 Insufficient system storage; proto=ESMTP helo=<client.example>";
const EXIM: &str = r"2026-11-27 10:00:24 1vFqXa-000Abc-1x == quinn@gmail.com R=dnslookup T=remote_smtp defer (-44) H=gmail-smtp-in.l.google.com [142.250.1.27]: SMTP error from remote mail server after RCPT TO:<quinn@gmail.com>: 421-4.7.0 Our system has detected an unusual rate of unsolicited mail originating\n421 4.7.0 from your IP address. - gsmtp";
const GREY: &str = "Nov 27 10:00:09 mx1 postfix/smtp[1242]: 4BQ3Xk9ijkz: to=<ivan@example.net>, relay=mail.example.net[198.51.100.7]:25, delay=0.2, delays=0/0/0.1/0.1, dsn=4.2.0, status=deferred (host mail.example.net[198.51.100.7] said: 450 4.2.0 <ivan@example.net>: Recipient address rejected: Greylisted (in reply to RCPT TO command))";

/// A log with failures, ordinary lines and bad input (invalid UTF-8, NUL, a huge line).
fn log_bytes() -> Vec<u8> {
    let mut v = Vec::new();
    for l in [GMAIL, SENT, CONNECT] {
        v.extend_from_slice(l.as_bytes());
        v.push(b'\n');
    }
    v.extend_from_slice(b"Nov 27 10:00:04 mx1 postfix/smtp[1]: \xff\xfe broken\n"); // line 4
    v.extend_from_slice(b"binary\0garbage\n"); // line 5
    v.extend(std::iter::repeat_n(b'x', 200_000)); // line 6
    v.push(b'\n');
    for l in [STORAGE, EXIM, GREY] {
        // lines 7, 8, 9
        v.extend_from_slice(l.as_bytes());
        v.push(b'\n');
    }
    v
}

fn cli(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(bin("headroom-cli"))
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start headroom-cli");
    if let (Some(data), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(data).expect("write stdin");
    }
    child.wait_with_output().expect("headroom-cli output")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("utf-8 stdout")
}

#[test]
fn classify_json_prints_one_contract_object_per_failure_line() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("mail.log");
    std::fs::write(&path, log_bytes()).expect("write log");
    let o = cli(&["classify", path.to_str().expect("path"), "--json"], None);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = stdout(&o);
    let recs: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let lines: Vec<u64> = recs
        .iter()
        .map(|r| r["line"].as_u64().expect("line"))
        .collect();
    assert_eq!(lines, [1, 7, 8, 9], "{out}");
    let g = &recs[0];
    assert_eq!(g["mta"], "postfix");
    assert_eq!(g["queue_id"], "4BQ3Xk1abcz");
    assert_eq!(g["side"], "remote");
    assert_eq!(g["relay"], "gmail-smtp-in.l.google.com[142.250.1.27]:25");
    assert_eq!(g["domain"], "gmail.com");
    assert_eq!(g["code"], 421);
    assert_eq!(g["enhanced"], "4.7.28");
    assert_eq!(g["class"], "rate_limit");
    assert_eq!(g["reason"], "volume");
    assert!(g["text"].as_str().expect("text").starts_with(
        "Gmail has detected an unusual rate of unsolicited mail. To protect our users"
    ));
    let s = &recs[1];
    assert_eq!(
        (s["side"].as_str(), s["class"].as_str(), s["code"].as_u64()),
        (Some("local"), Some("resource_shortage"), Some(452))
    );
    assert_eq!(
        (
            s["queue_id"].is_null(),
            s["relay"].is_null(),
            s["domain"].is_null()
        ),
        (true, true, true)
    );
    let e = &recs[2];
    assert_eq!(
        (
            e["mta"].as_str(),
            e["class"].as_str(),
            e["enhanced"].as_str()
        ),
        (Some("exim"), Some("rate_limit"), Some("4.7.0"))
    );
    assert_eq!(s["reason"], "busy");
    assert_eq!(recs[3]["class"], "greylisting");
    // Greylisting names no cause: the field is there, and null.
    assert!(recs[3]["reason"].is_null(), "{}", recs[3]);
    // Bad lines are skipped and counted, never fatal.
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("skipped 3 of 9 lines (invalid UTF-8 1, binary 1, too long 1)"),
        "{err}"
    );
}

#[test]
fn classify_summary_reads_stdin_and_counts_per_domain_and_class() {
    let o = cli(&["classify", "-", "--summary"], Some(&log_bytes()));
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    let row = |domain: &str, class: &str| {
        out.lines().find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() == 3 && f[0] == domain && f[1] == class).then(|| f[2].to_string())
        })
    };
    assert_eq!(
        row("gmail.com", "rate_limit").as_deref(),
        Some("2"),
        "{out}"
    );
    assert_eq!(
        row("example.net", "greylisting").as_deref(),
        Some("1"),
        "{out}"
    );
    assert_eq!(row("-", "resource_shortage").as_deref(), Some("1"), "{out}");
    assert!(out.contains("4 failures in 9 lines"), "{out}");

    let o = cli(&["classify", "--summary", "--json"], Some(&log_bytes()));
    let rows: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(
        rows[0],
        serde_json::json!({"domain": "gmail.com", "class": "rate_limit", "count": 2})
    );
}

#[test]
fn classify_human_output_is_one_line_per_failure() {
    let o = cli(&["classify"], Some(&log_bytes()));
    let out = stdout(&o);
    assert_eq!(out.lines().count(), 4, "{out}");
    assert!(
        out.lines()
            .next()
            .expect("line")
            .starts_with("1: rate_limit remote gmail.com 421 4.7.28 Gmail has detected"),
        "{out}"
    );
}

/// A deferral whose reply (and recipient domain) carry a terminal hyperlink, a
/// clear-screen sequence and markup: what a hostile receiving server can put in our log.
const HOSTILE: &str = "Nov 27 10:00:05 mx1 postfix/smtp[1240]: 4BQ3Xk5efgz: to=<eve@evil\x1b[2J.example>, relay=mx.evil.example[203.0.113.9]:25, delay=1, delays=0/0/0/1, dsn=4.3.0, status=deferred (host mx.evil.example[203.0.113.9] said: 421 4.3.0 \x1b]8;;http://evil.example/\x07renew\x1b]8;;\x07 <a href=\"http://x\">now</a> \x1b[2J\u{202e}yzub (in reply to MAIL FROM command))";

#[test]
fn classify_prints_hostile_log_text_without_escape_sequences() {
    let input = format!("{HOSTILE}\n");
    for args in [&["classify"][..], &["classify", "--summary"]] {
        let o = cli(args, Some(input.as_bytes()));
        assert_eq!(o.status.code(), Some(0), "{args:?}");
        let out = stdout(&o);
        for bad in ['\u{1b}', '\u{7}', '\u{202e}'] {
            assert!(!out.contains(bad), "{args:?}: {bad:?} in {out:?}");
        }
        assert!(out.contains("evil.example"), "{args:?}: {out}");
    }
    let out = stdout(&cli(&["classify"], Some(input.as_bytes())));
    assert!(
        out.starts_with(
            "1: resource_shortage remote evil.example 421 4.3.0 renew <a href=\"http://x\">now</a>"
        ),
        "{out}"
    );
    // JSON is data: the text is kept, its controls escaped by the encoder.
    let o = cli(&["classify", "--json"], Some(input.as_bytes()));
    let out = stdout(&o);
    assert!(!out.contains('\u{1b}'), "{out:?}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("one JSON object");
    assert!(
        v["text"]
            .as_str()
            .unwrap_or_default()
            .contains("\u{1b}]8;;"),
        "{v}"
    );
}

#[test]
fn classify_unreadable_file_is_unknown() {
    let o = cli(&["classify", "/nonexistent/mail.log"], None);
    assert_eq!(o.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot read /nonexistent/mail.log"));
}

#[test]
fn explain_names_meaning_causes_and_fixes() {
    let o = cli(&["explain", "421", "4.3.0"], None);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    assert!(out.starts_with("421: service not available"), "{out}");
    assert!(out.contains("class: resource_shortage"), "{out}");
    assert!(
        out.contains("likely causes:") && out.contains("what to do:"),
        "{out}"
    );
    assert!(out.contains("queue_minfree"), "{out}");

    let o = cli(&["explain", "450", "4.2.0"], None);
    assert!(stdout(&o).contains("4.2.0: persistent transient failure"));
}

/// Replies quoted from the providers' pages (engine testdata/providers.tsv has them all).
const GMAIL_PTR: &str = "Nov 28 09:00:02 mx1 postfix/smtp[3002]: 4C00002z: to=<ben@gmail.com>, relay=gmail-smtp-in.l.google.com[142.250.1.27]:25, delay=0.8, delays=0/0/0.4/0.4, dsn=4.7.23, status=deferred (host gmail-smtp-in.l.google.com[142.250.1.27] said: 451-4.7.23 203.0.113.9 The sending IP address for this message doesn't have a PTR 451-4.7.23 record, or the PTR record's forward DNS entry doesn't match the sending IP address. 451 4.7.23 To protect users from spam, your email has been temporarily rate limited. - gsmtp (in reply to RCPT TO command))";
const OUTLOOK_RP003: &str = "Nov 28 09:00:23 mx1 postfix/smtp[3023]: 4C00017z: host outlook-com.olc.protection.outlook.com[52.101.8.33] refused to talk to me: 421 RP-003 The mail server IP connecting to Outlook.com server has exceeded the connection limit allowed. Reason for limitation is related to IP/domain reputation.";
const YAHOO_TSS04: &str = "Nov 28 09:00:35 mx1 postfix/smtp[3035]: 4C00023z: to=<cal@aol.com>, relay=mx-aol.mail.gm0.yahoodns.net[67.195.204.79]:25, delay=0.8, delays=0/0/0.4/0.4, dsn=4.7.0, status=deferred (host mx-aol.mail.gm0.yahoodns.net[67.195.204.79] said: 421 4.7.0 [TSS04] Messages from 203.0.113.9 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes (in reply to MAIL FROM command))";
const MS_S3150: &str = "Nov 28 09:00:26 mx1 postfix/smtp[3026]: 4C0001Az: to=<wes@hotmail.com>, relay=hotmail-com.olc.protection.outlook.com[52.101.8.34]:25, delay=0.8, delays=0/0/0.4/0.4, dsn=5.7.1, status=bounced (host hotmail-com.olc.protection.outlook.com[52.101.8.34] said: 550 5.7.1 Unfortunately, messages from [203.0.113.9] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150). You can also refer your provider to http://mail.live.com/mail/troubleshooting.aspx#errors. (in reply to MAIL FROM command))";

#[test]
fn classify_json_tells_reputation_and_authentication_from_volume() {
    let log = [GMAIL, GMAIL_PTR, OUTLOOK_RP003, YAHOO_TSS04, MS_S3150].join("\n");
    let o = cli(&["classify", "--json"], Some(log.as_bytes()));
    assert_eq!(o.status.code(), Some(0));
    let got: Vec<(String, String, String)> = stdout(&o)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json");
            let s = |k: &str| v[k].as_str().unwrap_or("null").to_string();
            (s("domain"), s("class"), s("reason"))
        })
        .collect();
    let want = [
        ("gmail.com", "rate_limit", "volume"),
        ("gmail.com", "rate_limit", "reverse_dns"),
        ("null", "connection_limit", "reputation"),
        ("aol.com", "rate_limit", "reputation"),
        ("hotmail.com", "policy", "blocklist"),
    ];
    let want: Vec<(String, String, String)> = want
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn explain_gmail_ptr_code_says_set_reverse_dns() {
    let o = cli(&["explain", "451", "4.7.23"], None);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    assert!(out.contains("reason: reverse_dns"), "{out}");
    assert!(out.contains("PTR record missing or not matching"), "{out}");
    assert!(out.contains("set reverse DNS for your sending IP"), "{out}");
    // A code that names no cause prints no reason line.
    let out = stdout(&cli(&["explain", "421", "4.7.0"], None));
    assert!(!out.contains("reason:"), "{out}");
}

#[test]
fn explain_rejects_bad_codes() {
    for args in [
        &["explain", "42"][..],
        &["explain", "421", "4.x.0"],
        &["explain"],
    ] {
        let o = cli(args, None);
        assert_eq!(o.status.code(), Some(3), "{args:?}");
    }
}

//! Domain health against a real authoritative DNS server (NSD on loopback, zones in
//! tests/src/dns.rs): Headroom configured with it as its resolver classifies every
//! blocklist answer, PTR and mail record exactly, never turns a failed look-up into
//! a problem, and keeps answers for their TTL.

use std::process::{Command, Stdio};

use headroom_engine::assess::domain_items;
use headroom_engine::config::{self, Config};
use headroom_engine::domain::{Checker, DomainReading, Finding, Scope, Verdict};
use headroom_engine::item::ItemId;
use headroom_tests::bins::bin;
use headroom_tests::dns::{self, test_zones, Nsd};
use headroom_tests::skip_or_fail;

fn start() -> Option<Nsd> {
    if let Some(why) = dns::unavailable() {
        skip_or_fail(why);
        return None;
    }
    match Nsd::start(&test_zones()) {
        Ok(n) => Some(n),
        Err(e) => {
            skip_or_fail(format!("NSD did not start: {e}"));
            None
        }
    }
}

/// A configuration as a user writes it (parsed and validated like one), asking NSD.
fn config(nsd: &Nsd, dns_keys: &str) -> Config {
    let text = format!(
        "[mta]\nkind = \"none\"\n[dns]\nresolver = \"{}\"\n{dns_keys}",
        nsd.addr()
    );
    config::parse(&text, std::path::Path::new("domain-test.toml")).expect("valid config")
}

async fn check(cfg: &Config) -> DomainReading {
    Checker::new(&cfg.dns)
        .expect("checker")
        .run(cfg, Scope::Asked)
        .await
}

const ADDRS: &str = "outbound = [\"192.0.2.10\", \"192.0.2.11\", \"192.0.2.12\", \"192.0.2.13\", \"2001:db8::10\"]\nhelo = \"mail.headroom.test\"\n";

fn of(r: &DomainReading, item: ItemId) -> Vec<&Finding> {
    r.findings.iter().filter(|f| f.item == item).collect()
}

#[tokio::test]
async fn blocklist_answers_are_classified_exactly() {
    let Some(nsd) = start() else { return };
    let cfg = config(
        &nsd,
        &format!("{ADDRS}domains = [\"good.headroom.test\"]\ndnsbl = [\"bl.headroom.test\", \"nolist.headroom.test\"]\n"),
    );
    let r = check(&cfg).await;
    let got: Vec<(&str, &str, Verdict)> = of(&r, ItemId::Dnsbl)
        .iter()
        .map(|f| {
            (
                f.zone.as_deref().unwrap_or(""),
                f.subject.as_str(),
                f.result,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("bl.headroom.test", "192.0.2.10", Verdict::Listed),
            ("bl.headroom.test", "192.0.2.11", Verdict::Unknown),
            ("bl.headroom.test", "192.0.2.12", Verdict::Unknown),
            ("bl.headroom.test", "192.0.2.13", Verdict::Ok),
            ("bl.headroom.test", "2001:db8::10", Verdict::Ok),
            ("nolist.headroom.test", "192.0.2.10", Verdict::Unknown),
            ("nolist.headroom.test", "192.0.2.11", Verdict::Unknown),
            ("nolist.headroom.test", "192.0.2.12", Verdict::Unknown),
            ("nolist.headroom.test", "192.0.2.13", Verdict::Unknown),
            ("nolist.headroom.test", "2001:db8::10", Verdict::Unknown),
        ]
    );
    let bl = of(&r, ItemId::Dnsbl);
    assert_eq!(bl[0].answer.as_deref(), Some("127.0.0.2"));
    assert!(
        bl[0]
            .detail
            .contains("https://bl.headroom.test/lookup?ip=192.0.2.10"),
        "the list's TXT reason is quoted: {}",
        bl[0].detail
    );
    assert_eq!(bl[1].answer.as_deref(), Some("127.255.255.254"));
    assert!(
        bl[1].detail.contains("refuses queries from this resolver"),
        "{}",
        bl[1].detail
    );
    assert!(bl[1].detail.ends_with("not a listing"), "{}", bl[1].detail);
    assert_eq!(bl[2].answer.as_deref(), Some("10.0.0.1"));
    assert!(
        bl[2].detail.contains("rewritten by the resolver"),
        "{}",
        bl[2].detail
    );
    assert!(
        bl[5].detail.contains("test address 127.0.0.2"),
        "{}",
        bl[5].detail
    );

    // One listing: the item counts exactly that, and warns.
    let items = domain_items::items(&r, r.ts, &cfg.tls);
    let dnsbl = items
        .iter()
        .find(|i| i.id == ItemId::Dnsbl)
        .expect("dnsbl item");
    assert_eq!((dnsbl.used, dnsbl.limit), (Some(1.0), Some(1.0)));
    assert!(
        dnsbl
            .detail
            .starts_with("192.0.2.10 in bl.headroom.test: listed (127.0.0.2)"),
        "{}",
        dnsbl.detail
    );
}

#[tokio::test]
async fn a_refusing_list_alone_is_unknown_never_listed_nor_clean() {
    let Some(nsd) = start() else { return };
    let cfg = config(
        &nsd,
        "outbound = [\"192.0.2.11\", \"192.0.2.13\"]\nhelo = \"mail.headroom.test\"\ndomains = [\"good.headroom.test\"]\ndnsbl = [\"bl.headroom.test\"]\n",
    );
    let r = check(&cfg).await;
    let items = domain_items::items(&r, r.ts, &cfg.tls);
    let dnsbl = items
        .iter()
        .find(|i| i.id == ItemId::Dnsbl)
        .expect("dnsbl item");
    assert_eq!(dnsbl.used, None, "{dnsbl:?}");
    assert!(dnsbl.detail.contains("127.255.255.254"), "{}", dnsbl.detail);
}

#[tokio::test]
async fn reverse_dns_is_missing_mismatched_or_confirmed_per_address() {
    let Some(nsd) = start() else { return };
    // 198.51.100.7's reverse zone is not NSD's: it answers REFUSED, as a broken
    // resolver would. That is unknown, not "missing".
    let cfg = config(
        &nsd,
        "outbound = [\"192.0.2.10\", \"192.0.2.11\", \"192.0.2.12\", \"192.0.2.13\", \"2001:db8::10\", \"198.51.100.7\"]\n\
         helo = \"mail.headroom.test\"\ndomains = [\"good.headroom.test\"]\ndnsbl = []\n",
    );
    let r = check(&cfg).await;
    let got: Vec<(&str, Verdict)> = of(&r, ItemId::ReverseDns)
        .iter()
        .map(|f| (f.subject.as_str(), f.result))
        .collect();
    assert_eq!(
        got,
        [
            ("192.0.2.10", Verdict::Ok),
            ("192.0.2.11", Verdict::Missing),
            ("192.0.2.12", Verdict::Mismatch),
            ("192.0.2.13", Verdict::Mismatch),
            ("2001:db8::10", Verdict::Ok),
            ("198.51.100.7", Verdict::Unknown),
        ],
        "{:#?}",
        of(&r, ItemId::ReverseDns)
    );
    let f = of(&r, ItemId::ReverseDns);
    assert_eq!(f[0].answer.as_deref(), Some("mail.headroom.test"));
    assert!(
        f[2].detail.contains("FCrDNS") && f[2].detail.contains("192.0.2.99"),
        "{}",
        f[2].detail
    );
    assert!(
        f[3].detail.contains("HELO name mail.headroom.test"),
        "{}",
        f[3].detail
    );
    assert!(
        f[5].detail.contains("PTR look-up failed"),
        "{}",
        f[5].detail
    );
    assert!(
        !r.checked.contains(&ItemId::Dnsbl),
        "dnsbl = [] turns the check off"
    );
    let items = domain_items::items(&r, r.ts, &cfg.tls);
    let rd = items
        .iter()
        .find(|i| i.id == ItemId::ReverseDns)
        .expect("item");
    assert_eq!(rd.used, Some(3.0));
}

#[tokio::test]
async fn mail_records_of_each_domain_are_judged_and_quoted() {
    let Some(nsd) = start() else { return };
    let cfg = config(
        &nsd,
        "outbound = [\"192.0.2.10\"]\nhelo = \"mail.headroom.test\"\ndnsbl = []\n\
         domains = [\"good.headroom.test\", \"broken.headroom.test\", \"missing.headroom.test\", \"elsewhere.example\"]\n",
    );
    let r = check(&cfg).await;
    let got: Vec<(&str, Verdict)> = of(&r, ItemId::MailDns)
        .iter()
        .map(|f| (f.subject.as_str(), f.result))
        .collect();
    use Verdict::*;
    assert_eq!(
        got,
        [
            ("good.headroom.test", Ok),
            ("good.headroom.test", Ok),
            ("good.headroom.test", Ok),
            ("good.headroom.test", Ok),
            ("broken.headroom.test", Broken),
            ("broken.headroom.test", Broken),
            ("broken.headroom.test", Broken),
            ("broken.headroom.test", Broken),
            ("missing.headroom.test", Missing),
            ("missing.headroom.test", Missing),
            ("missing.headroom.test", Missing),
            ("missing.headroom.test", Ok),
            // Not NSD's zone: REFUSED, so nothing is known about it.
            ("elsewhere.example", Unknown),
            ("elsewhere.example", Unknown),
            ("elsewhere.example", Unknown),
            ("elsewhere.example", Unknown),
        ],
        "{:#?}",
        of(&r, ItemId::MailDns)
    );
    let f = of(&r, ItemId::MailDns);
    assert_eq!(f[0].answer.as_deref(), Some("10 mx.good.headroom.test"));
    assert!(
        f[1].detail.starts_with("SPF: 2 of 10 DNS look-ups"),
        "{}",
        f[1].detail
    );
    assert_eq!(
        f[2].answer.as_deref(),
        Some("v=DMARC1; p=reject; rua=mailto:dmarc@good.headroom.test")
    );
    assert!(
        f[4].detail
            .contains("mx.broken.headroom.test has no A or AAAA"),
        "{}",
        f[4].detail
    );
    assert!(
        f[5].detail
            .starts_with("SPF: 11 DNS look-ups, more than the 10"),
        "{}",
        f[5].detail
    );
    assert!(f[5]
        .answer
        .as_deref()
        .is_some_and(|a| a.starts_with("v=spf1 a mx include:s1")));
    assert!(f[6].detail.contains("p=block"), "{}", f[6].detail);
    assert!(
        f[7].detail
            .contains("mta-sts.broken.headroom.test does not resolve"),
        "{}",
        f[7].detail
    );
    assert!(
        f[8].detail.starts_with("MX: no MX record"),
        "{}",
        f[8].detail
    );
    let items = domain_items::items(&r, r.ts, &cfg.tls);
    let md = items
        .iter()
        .find(|i| i.id == ItemId::MailDns)
        .expect("item");
    assert_eq!(md.used, Some(7.0));
}

#[tokio::test]
async fn answers_are_kept_for_their_ttl_and_every_query_is_counted() {
    let Some(nsd) = start() else { return };
    let cfg = config(
        &nsd,
        &format!("{ADDRS}domains = [\"good.headroom.test\", \"missing.headroom.test\"]\ndnsbl = [\"bl.headroom.test\"]\n"),
    );
    let checker = Checker::new(&cfg.dns).expect("checker");
    let before = nsd.queries().expect("NSD statistics");
    let first = checker.run(&cfg, Scope::Asked).await;
    let after_first = nsd.queries().expect("NSD statistics");
    assert!(first.queries > 0);
    assert_eq!(
        first.queries,
        after_first - before,
        "the queries Headroom counts are the queries the server answered"
    );
    // Within the TTL (300 s, 60 s for NXDOMAIN) a second round asks nothing.
    let second = checker.run(&cfg, Scope::Asked).await;
    assert_eq!(second.queries, 0);
    assert_eq!(nsd.queries().expect("NSD statistics"), after_first);
    assert_eq!(first.findings, second.findings);
}

#[test]
fn the_cli_prints_the_contract_and_exits_like_check() {
    let Some(nsd) = start() else { return };
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("config.toml");
    std::fs::write(
        &file,
        format!(
            "[mta]\nkind = \"none\"\n[dns]\nresolver = \"{}\"\n{ADDRS}domains = [\"good.headroom.test\"]\ndnsbl = [\"bl.headroom.test\"]\n",
            nsd.addr()
        ),
    )
    .expect("write config");
    let out = Command::new(bin("headroom-cli"))
        .args(["dns", "--json", "--config"])
        .arg(&file)
        .stdin(Stdio::null())
        .output()
        .expect("run headroom-cli dns");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    // reverse_dns has three problems (one PTR missing, two mismatched): critical.
    assert_eq!(v["status"], "critical", "{v:#}");
    assert_eq!(out.status.code(), Some(2));
    let items = v["items"].as_array().expect("items");
    let ids: Vec<&str> = items.iter().filter_map(|i| i["id"].as_str()).collect();
    assert_eq!(ids, ["dnsbl", "reverse_dns", "mail_dns"]);
    for i in items {
        for key in ["used", "limit", "ratio", "level", "forecast_s", "detail"] {
            assert!(i.get(key).is_some(), "item without {key}: {i}");
        }
    }
    assert_eq!(items[0]["level"], "warning");
    assert_eq!(items[1]["level"], "critical");
    assert_eq!(items[2]["level"], "ok");
    let findings = v["findings"].as_array().expect("findings");
    assert!(!findings.is_empty());
    for f in findings {
        let mut keys: Vec<&String> = f.as_object().expect("object").keys().collect();
        keys.sort();
        assert_eq!(
            keys,
            ["answer", "detail", "item", "result", "subject", "zone"],
            "{f}"
        );
        assert!(
            ["ok", "listed", "missing", "mismatch", "broken", "unknown"]
                .contains(&f["result"].as_str().unwrap_or("")),
            "{f}"
        );
    }

    // Human output: Nagios status line with perfdata, then items and findings.
    let out = Command::new(bin("headroom-cli"))
        .args(["dns", "--config"])
        .arg(&file)
        .stdin(Stdio::null())
        .output()
        .expect("run headroom-cli dns");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("DNS CRITICAL - "), "{text}");
    assert!(
        text.lines()
            .next()
            .is_some_and(|l| l.contains("| dnsbl=1;1;2;0;1")),
        "{text}"
    );
    assert!(
        text.contains(
            "LISTED   dnsbl            192.0.2.10 in bl.headroom.test: listed (127.0.0.2)"
        ),
        "{text}"
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_bad_resolver_setting_is_a_config_error_with_its_line() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("config.toml");
    std::fs::write(&file, "[dns]\nresolver = \"not a resolver\"\n").expect("write");
    let out = Command::new(bin("headroom-cli"))
        .args(["dns", "--config"])
        .arg(&file)
        .stdin(Stdio::null())
        .output()
        .expect("run headroom-cli dns");
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("config.toml:2:"), "{err}");
    assert!(err.contains("resolver"), "{err}");
}

/// With `[dns] watch = true` the monitor runs the same checks: the items reach
/// `check --json` (one round, waited for) and `watch --json` (their first levels),
/// where they ride beside the host items like any other.
#[test]
fn the_monitor_watches_the_domain_items_when_asked() {
    let Some(nsd) = start() else { return };
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("config.toml");
    std::fs::write(
        &file,
        format!(
            "[monitor]\ninterval_secs = 1\n[mta]\nkind = \"none\"\n[history]\nenabled = false\n\
             [dns]\nwatch = true\nresolver = \"{}\"\n{ADDRS}domains = [\"good.headroom.test\"]\n\
             dnsbl = [\"bl.headroom.test\"]\n",
            nsd.addr()
        ),
    )
    .expect("write config");
    let out = Command::new(bin("headroom-cli"))
        .args(["check", "--json", "--no-probe", "--config"])
        .arg(&file)
        .stdin(Stdio::null())
        .output()
        .expect("run headroom-cli check");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let level = |id: &str| {
        v["items"]
            .as_array()
            .and_then(|a| a.iter().find(|i| i["id"] == id))
            .map(|i| i["level"].as_str().unwrap_or("").to_string())
    };
    // The same verdicts as `dns`: listed → warning, three reverse-DNS problems →
    // critical, good mail records → ok; and the host items are still there.
    assert_eq!(level("dnsbl").as_deref(), Some("warning"), "{v:#}");
    assert_eq!(level("reverse_dns").as_deref(), Some("critical"), "{v:#}");
    assert_eq!(level("mail_dns").as_deref(), Some("ok"), "{v:#}");
    assert!(level("cpu").is_some(), "{v:#}");
    assert_eq!(v["status"], "critical");

    // watch --json: the first levels of the domain items arrive within a few ticks.
    let (mut child, rx) = watch_json(&file);
    let mut seen = std::collections::BTreeMap::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while seen.len() < 3 && std::time::Instant::now() < deadline {
        let Ok(line) = rx.recv_timeout(std::time::Duration::from_secs(1)) else {
            continue;
        };
        let t: serde_json::Value = serde_json::from_str(&line).expect("a JSON line");
        let item = t["item"].as_str().unwrap_or("").to_string();
        if ["dnsbl", "reverse_dns", "mail_dns"].contains(&item.as_str()) {
            seen.insert(item, t["level"].as_str().unwrap_or("").to_string());
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        seen.get("dnsbl").map(String::as_str),
        Some("warning"),
        "{seen:?}"
    );
    assert_eq!(
        seen.get("reverse_dns").map(String::as_str),
        Some("critical"),
        "{seen:?}"
    );
    assert_eq!(
        seen.get("mail_dns").map(String::as_str),
        Some("ok"),
        "{seen:?}"
    );
}

/// Gmail's PTR deferral as Postfix logs it, from `addr` (the text Gmail sends,
/// docs/CLASSIFY.md), one line per recipient.
fn gmail_ptr_deferrals(addr: &str, n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                "Nov 28 09:00:02 mx1 postfix/smtp[3002]: 4C0000{i:02}z: to=<user{i}@gmail.com>, relay=gmail-smtp-in.l.google.com[142.250.1.27]:25, delay=0.8, delays=0/0/0.4/0.4, dsn=4.7.23, status=deferred (host gmail-smtp-in.l.google.com[142.250.1.27] said: 451-4.7.23 {addr} The sending IP address for this message doesn't have a PTR 451-4.7.23 record, or the PTR record's forward DNS entry doesn't match the sending IP address. 451 4.7.23 To protect users from spam, your email has been temporarily rate limited. - gsmtp (in reply to RCPT TO command))\n"
            )
        })
        .collect()
}

/// The config of a monitor that follows `log` and checks 192.0.2.11 — an address the
/// test zones give no PTR — against NSD.
fn ptr_less_config(nsd: &Nsd, log: &std::path::Path) -> String {
    format!(
        "[monitor]\ninterval_secs = 0.5\n[mta]\nkind = \"none\"\n[history]\nenabled = false\n\
         [[maillog]]\npath = \"{}\"\n\
         [dns]\nwatch = true\nresolver = \"{}\"\noutbound = [\"192.0.2.11\"]\nhelo = \"mail.headroom.test\"\n\
         domains = [\"good.headroom.test\"]\ndnsbl = [\"bl.headroom.test\"]\n",
        log.display(),
        nsd.addr()
    )
}

fn append(path: &std::path::Path, text: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .expect("open the mail log");
    f.write_all(text.as_bytes())
        .expect("append to the mail log");
}

const PTR_CAUSE: &str =
    "gmail.com: 42 deferrals (451 4.7.23) point at reverse_dns — your PTR for 192.0.2.11 is missing";

/// Deferrals tied to causes, end to end: Gmail's 4.7.23 deferrals reach a Postfix
/// mail log the monitor follows while NSD's reverse zone has no PTR for the sending
/// address. `watch --json`'s remote_throttling transition names the missing PTR, and
/// the destinations data (what the app's panel shows) ties the row to reverse_dns.
#[test]
fn gmail_ptr_deferrals_name_the_missing_ptr_in_watch_json() {
    let Some(nsd) = start() else { return };
    let dir = tempfile::tempdir().expect("tmp");
    let log = dir.path().join("maillog");
    std::fs::write(&log, "").expect("create the mail log");
    let file = dir.path().join("config.toml");
    std::fs::write(&file, ptr_less_config(&nsd, &log)).expect("write config");
    let (mut child, rx) = watch_json(&file);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut appended = false;
    let mut throttling = None;
    let mut seen = Vec::new();
    while throttling.is_none() && std::time::Instant::now() < deadline {
        let Ok(line) = rx.recv_timeout(std::time::Duration::from_secs(1)) else {
            continue;
        };
        let t: serde_json::Value = serde_json::from_str(&line).expect("a JSON line");
        // The domain round is in (reverse_dns has its first level): now Gmail defers.
        if t["item"] == "reverse_dns" && !appended {
            append(&log, &gmail_ptr_deferrals("192.0.2.11", 42));
            appended = true;
        }
        if t["item"] == "remote_throttling" {
            throttling = Some(t.clone());
        }
        seen.push(line);
    }
    let _ = child.kill();
    let _ = child.wait();
    let t = throttling
        .unwrap_or_else(|| panic!("no remote_throttling transition in:\n{}", seen.join("\n")));
    let message = t["message"].as_str().unwrap_or("");
    assert!(message.contains(PTR_CAUSE), "{message}");
    assert_eq!(t["level"], "critical", "42 of 42 attempts deferred: {t}");
}

// Multi-threaded: the test thread waits (blocking) while the monitor runs on a worker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_destinations_data_ties_the_gmail_row_to_the_missing_ptr() {
    use headroom_engine::domain::cause::Cause;
    let Some(nsd) = start() else { return };
    let dir = tempfile::tempdir().expect("tmp");
    let log = dir.path().join("maillog");
    std::fs::write(&log, "").expect("create the mail log");
    let cfg = config::parse(&ptr_less_config(&nsd, &log), std::path::Path::new("t.toml"))
        .expect("valid config");
    let engine = headroom_engine::runtime::build(&cfg, Default::default());
    let handle = engine.monitor.handle();
    let cancel = tokio_util::sync::CancellationToken::new();
    let run = tokio::spawn(engine.monitor.run(cancel.clone()));
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs_f64()
    };
    // The first round of the domain checks is in a tick before Gmail defers.
    let round_in = headroom_tests::bins::wait_for(std::time::Duration::from_secs(20), || {
        handle
            .latest()
            .and_then(|t| t.snapshot.domain)
            .filter(|d| d.checked.contains(&ItemId::ReverseDns))
    });
    assert!(round_in.is_some(), "no domain round within 20 s");
    append(&log, &gmail_ptr_deferrals("192.0.2.11", 42));
    let causes: Option<Vec<Cause>> =
        headroom_tests::bins::wait_for(std::time::Duration::from_secs(20), || {
            let report = handle.destinations(now(), 900.0)?;
            let gmail = report.domains.into_iter().find(|d| d.name == "gmail.com")?;
            (gmail.failures == 42).then_some(gmail.causes)
        });
    cancel.cancel();
    let _ = run.await;
    let causes = causes.expect("gmail.com's 42 deferrals in the destinations data within 20 s");
    assert_eq!(causes.len(), 1, "{causes:#?}");
    let c = &causes[0];
    assert_eq!(c.item, ItemId::ReverseDns);
    assert_eq!(c.verdict, Some(Verdict::Missing));
    assert_eq!((c.failures, c.reply.as_str()), (42, "451 4.7.23"));
    assert_eq!(c.found, "your PTR for 192.0.2.11 is missing");
    assert_eq!(c.message, PTR_CAUSE);
}

/// `check --json` with `config` (TOML after the `[monitor]` table), parsed.
fn check_json(dir: &std::path::Path, name: &str, config: &str) -> serde_json::Value {
    let file = dir.join(name);
    std::fs::write(&file, format!("[history]\nenabled = false\n{config}")).expect("write config");
    let out = Command::new(bin("headroom-cli"))
        .args(["check", "--json", "--no-probe", "--config"])
        .arg(&file)
        .stdin(Stdio::null())
        .output()
        .expect("run headroom-cli check");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn domain_item<'a>(v: &'a serde_json::Value, id: &str) -> Option<&'a serde_json::Value> {
    v["items"].as_array()?.iter().find(|i| i["id"] == id)
}

/// With `[dns] watch` unset the checks run where this host is a mail server (an MTA
/// named or found, or addresses and domains configured) and not elsewhere; `watch =
/// false` turns them off. By default too, Spamhaus' "public resolver refused"
/// (127.255.255.254) is unknown with the fix, never "listed".
#[test]
fn the_checks_run_by_default_on_a_mail_server_and_not_elsewhere() {
    let Some(nsd) = start() else { return };
    let dir = tempfile::tempdir().expect("tmp");
    let dns = format!(
        "resolver = \"{}\"\noutbound = [\"192.0.2.11\"]\nhelo = \"mail.headroom.test\"\n\
         domains = [\"good.headroom.test\"]\ndnsbl = [\"bl.headroom.test\"]\n",
        nsd.addr()
    );
    // A mail server: Postfix named (installed here, running or not).
    let v = check_json(
        dir.path(),
        "mail-server.toml",
        &format!("[mta]\nkind = \"postfix\"\n[dns]\n{dns}"),
    );
    let dnsbl = domain_item(&v, "dnsbl").unwrap_or_else(|| panic!("no dnsbl item: {v:#}"));
    assert_eq!(dnsbl["level"], "unknown", "{dnsbl}");
    assert_eq!(dnsbl["used"], serde_json::Value::Null, "{dnsbl}");
    let detail = dnsbl["detail"].as_str().unwrap_or("");
    assert!(
        detail.contains("127.255.255.254") && detail.contains("[dns] resolver"),
        "{detail}"
    );
    let rd = domain_item(&v, "reverse_dns").unwrap_or_else(|| panic!("no reverse_dns item: {v:#}"));
    assert_eq!(rd["level"], "warning", "192.0.2.11 has no PTR: {rd}");
    assert_eq!(
        domain_item(&v, "mail_dns").map(|i| &i["level"]),
        Some(&"ok".into())
    );

    // The same server, opted out.
    let v = check_json(
        dir.path(),
        "opted-out.toml",
        &format!("[mta]\nkind = \"postfix\"\n[dns]\nwatch = false\n{dns}"),
    );
    for id in ["dnsbl", "reverse_dns", "mail_dns", "tls_cert_expiry"] {
        assert!(
            domain_item(&v, id).is_none(),
            "{id} with watch = false: {v:#}"
        );
    }

    // A workstation: no mail server, nothing to check named. Nothing is asked, and
    // nothing is said about it either.
    let before = nsd.queries().expect("NSD statistics");
    let v = check_json(
        dir.path(),
        "workstation.toml",
        &format!(
            "[mta]\nkind = \"none\"\n[dns]\nresolver = \"{}\"\n",
            nsd.addr()
        ),
    );
    for id in ["dnsbl", "reverse_dns", "mail_dns", "tls_cert_expiry"] {
        assert!(
            domain_item(&v, id).is_none(),
            "{id} on a workstation: {v:#}"
        );
    }
    let problems = v["problems"].as_array().expect("problems");
    assert!(
        problems
            .iter()
            .all(|p| p["source"] != "domain checks" && p["source"] != "domain"),
        "{problems:#?}"
    );
    assert_eq!(nsd.queries().expect("NSD statistics"), before);
}

/// A resolver that never answers costs a default `check` its 5 s budget for the
/// domain checks, not the 30 s an asked-for round may take: the round is left to the
/// monitor and `headroom-cli dns`, and the check says so in a note.
#[test]
fn a_silent_resolver_costs_a_default_check_at_most_its_budget() {
    // Takes queries and never answers (nothing reads the socket).
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let addr = silent.local_addr().expect("addr");
    let dir = tempfile::tempdir().expect("tmp");
    let started = std::time::Instant::now();
    let v = check_json(
        dir.path(),
        "silent.toml",
        &format!(
            "[mta]\nkind = \"postfix\"\n[dns]\nresolver = \"{addr}\"\noutbound = [\"192.0.2.11\"]\n\
             helo = \"mail.headroom.test\"\ndomains = [\"good.headroom.test\"]\ndnsbl = [\"bl.headroom.test\"]\n"
        ),
    );
    let took = started.elapsed();
    assert!(
        took < std::time::Duration::from_secs(12),
        "check took {took:?} with a silent resolver"
    );
    let note = v["problems"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["source"] == "domain checks"))
        .unwrap_or_else(|| panic!("no note about the domain checks: {v:#}"));
    assert_eq!(note["kind"], "absent", "{note}");
    assert!(
        note["message"]
            .as_str()
            .unwrap_or("")
            .contains("did not finish within 5 s"),
        "{note}"
    );
    drop(silent);
}

/// `headroom-cli watch --json --config FILE`, its lines arriving on the receiver as it
/// prints them (the test reacts to one line before the next comes).
fn watch_json(file: &std::path::Path) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    let mut child = Command::new(bin("headroom-cli"))
        .args(["watch", "--json", "--config"])
        .arg(file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run headroom-cli watch");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    (child, rx)
}

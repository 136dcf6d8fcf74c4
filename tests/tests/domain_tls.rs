//! `tls_cert_expiry` against a private Postfix speaking STARTTLS with certificates the
//! test makes (rcgen): valid (also behind implicit TLS), expiring in 2 days, expired,
//! for the wrong name, from an untrusted CA, and "renewed on disk but not reloaded",
//! which clears after `postfix reload`. Run through `headroom-cli dns --json`, with
//! NSD answering the DNS side so every other item is ok and the status is the
//! certificate's.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use headroom_tests::bins::{bin, free_port, wait_for};
use headroom_tests::dns::{self, test_zones, Nsd};
use headroom_tests::postfix::{self, listening, Instance, Options};
use headroom_tests::skip_or_fail;
use serde_json::Value;

const DAY: u64 = 86_400;
const HELO: &str = "mail.headroom.test";

/// A test CA and the leaf certificates it signs, valid from `now - before` to
/// `now ± after` (negative `after_days`: already expired).
struct Pki {
    ca: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
}

impl Pki {
    fn new(name: &str) -> Pki {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let key = rcgen::KeyPair::generate().expect("CA key");
        Pki {
            ca: rcgen::CertifiedIssuer::self_signed(params, key).expect("CA certificate"),
        }
    }

    /// Key and certificate in one PEM file, key first, as `smtpd_tls_chain_files`
    /// wants them.
    fn chain_file(&self, path: &Path, names: &[&str], after_days: i64) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_secs();
        let epoch = rcgen::date_time_ymd(1970, 1, 1);
        let mut params =
            rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .expect("leaf params");
        params.not_before = epoch + Duration::from_secs(now - 30 * DAY);
        params.not_after = if after_days >= 0 {
            epoch + Duration::from_secs(now + after_days as u64 * DAY)
        } else {
            epoch + Duration::from_secs(now - after_days.unsigned_abs() * DAY)
        };
        let key = rcgen::KeyPair::generate().expect("leaf key");
        let cert = params.signed_by(&key, &self.ca).expect("leaf certificate");
        std::fs::write(path, format!("{}{}", key.serialize_pem(), cert.pem()))
            .expect("write chain");
    }

    fn write_ca(&self, path: &Path) {
        std::fs::write(path, self.ca.pem()).expect("write CA");
    }
}

fn unavailable() -> Option<String> {
    postfix::unavailable().or_else(dns::unavailable)
}

/// A private Postfix whose main listener serves `main_chain`, plus one listener per
/// `(port, chain file)` with `-o smtpd_tls_chain_files=…`; one smtpd per listener
/// that stays up between checks, as a busy server's processes do.
fn postfix_with(main_chain: &Path, extra: &[(u16, &Path, &str)]) -> Option<Instance> {
    let params = [
        "smtpd_tls_security_level=may".to_string(),
        format!("smtpd_tls_chain_files={}", main_chain.display()),
        "max_idle=3600s".to_string(),
    ];
    let params: Vec<&str> = params.iter().map(String::as_str).collect();
    let lines: Vec<String> = extra
        .iter()
        .map(|(port, file, opts)| {
            format!(
                "127.0.0.1:{port} inet n - n - 1 smtpd -o smtpd_tls_chain_files={} {opts}",
                file.display()
            )
        })
        .collect();
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let inst = match Instance::start(&Options {
        maxproc: "1",
        params: &params,
        master_lines: &lines,
        tmpfs_queue_mib: None,
    }) {
        Ok(i) => i,
        Err(e) => {
            skip_or_fail(format!("private Postfix did not start: {e}"));
            return None;
        }
    };
    for (port, _, _) in extra {
        assert!(
            wait_for(Duration::from_secs(10), || listening(*port).then_some(())).is_some(),
            "listener {port} never came up\n{}",
            inst.maillog()
        );
    }
    Some(inst)
}

fn start_nsd() -> Option<Nsd> {
    match Nsd::start(&test_zones()) {
        Ok(n) => Some(n),
        Err(e) => {
            skip_or_fail(format!("NSD did not start: {e}"));
            None
        }
    }
}

/// `headroom-cli dns --json` with one STARTTLS target on `port`.
fn dns_check(dir: &Path, nsd: &Nsd, inst: &Instance, port: u16, ca: Option<&Path>) -> (Value, i32) {
    dns_check_tls(dir, nsd, inst, port, ca, "starttls")
}

/// `headroom-cli dns --json` with one target on `port` using `tls` (starttls, implicit).
fn dns_check_tls(
    dir: &Path,
    nsd: &Nsd,
    inst: &Instance,
    port: u16,
    ca: Option<&Path>,
    tls: &str,
) -> (Value, i32) {
    let file = dir.join(format!("config-{port}.toml"));
    let ca = ca
        .map(|c| format!("ca_file = \"{}\"\n", c.display()))
        .unwrap_or_default();
    std::fs::write(
        &file,
        format!(
            "[mta]\nkind = \"postfix\"\nconfig_dir = \"{etc}\"\n\
             [dns]\nresolver = \"{resolver}\"\noutbound = [\"192.0.2.10\"]\nhelo = \"{HELO}\"\n\
             domains = [\"good.headroom.test\"]\ndnsbl = []\n\
             [[probe]]\nname = \"mx\"\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"{tls}\"\n{ca}",
            etc = inst.etc.display(),
            resolver = nsd.addr(),
        ),
    )
    .expect("write config");
    let out = Command::new(bin("headroom-cli"))
        .args(["dns", "--json", "--config"])
        .arg(&file)
        .stdin(Stdio::null())
        .output()
        .expect("run headroom-cli dns");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (v, out.status.code().unwrap_or(-1))
}

fn tls_item(v: &Value) -> &Value {
    v["items"]
        .as_array()
        .and_then(|a| a.iter().find(|i| i["id"] == "tls_cert_expiry"))
        .unwrap_or_else(|| panic!("no tls_cert_expiry item: {v:#}"))
}

/// The certificate findings as (result, detail).
fn tls_findings(v: &Value) -> Vec<(String, String)> {
    v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["item"] == "tls_cert_expiry")
        .map(|f| {
            assert_eq!(f["subject"], format!("mx (127.0.0.1:{})", port_of(v)));
            (
                f["result"].as_str().unwrap_or("").to_string(),
                f["detail"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn port_of(v: &Value) -> String {
    v["findings"]
        .as_array()
        .and_then(|a| a.iter().find(|f| f["item"] == "tls_cert_expiry"))
        .and_then(|f| f["subject"].as_str())
        .and_then(|s| s.rsplit(':').next())
        .map(|s| s.trim_end_matches(')').to_string())
        .unwrap_or_default()
}

#[test]
fn each_served_certificate_gets_its_level_and_message() {
    if let Some(why) = unavailable() {
        skip_or_fail(why);
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    let pki = Pki::new("Headroom test CA");
    let ca = d.join("ca.pem");
    pki.write_ca(&ca);
    let (valid, expiring, expired, wrong) = (
        d.join("valid.pem"),
        d.join("expiring.pem"),
        d.join("expired.pem"),
        d.join("wrong.pem"),
    );
    pki.chain_file(&valid, &[HELO], 60);
    pki.chain_file(&expiring, &[HELO], 2);
    pki.chain_file(&expired, &[HELO], -1);
    pki.chain_file(&wrong, &["other.example"], 60);
    let (p_expiring, p_expired, p_wrong, p_implicit) =
        (free_port(), free_port(), free_port(), free_port());
    let Some(nsd) = start_nsd() else { return };
    let Some(inst) = postfix_with(
        &valid,
        &[
            (p_expiring, &expiring, ""),
            (p_expired, &expired, ""),
            (p_wrong, &wrong, ""),
            // TLS from the first byte, as on port 465.
            (p_implicit, &valid, "-o smtpd_tls_wrappermode=yes"),
        ],
    ) else {
        return;
    };

    // Valid: ok, everything else about the domain ok too, exit 0.
    let (v, code) = dns_check(d, &nsd, &inst, inst.port, Some(&ca));
    assert_eq!((v["status"].as_str(), code), (Some("ok"), 0), "{v:#}");
    let f = tls_findings(&v);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].0, "ok");
    assert!(f[0].1.starts_with("expires in 60 days"), "{f:?}");
    let item = tls_item(&v);
    assert_eq!(item["level"], "ok");
    // The forecast is the exact time left: 60 days, give or take the test's seconds.
    let forecast = item["forecast_s"].as_f64().expect("forecast");
    assert!((forecast - 60.0 * DAY as f64).abs() < 120.0, "{forecast}");

    // The same certificate behind implicit TLS: read without STARTTLS.
    let (v, code) = dns_check_tls(d, &nsd, &inst, p_implicit, Some(&ca), "implicit");
    assert_eq!((v["status"].as_str(), code), (Some("ok"), 0), "{v:#}");
    let f = tls_findings(&v);
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(f[0].1.starts_with("expires in 60 days"), "{f:?}");

    // Two days left: critical (crit_days = 3), the finding itself is fine.
    let (v, code) = dns_check(d, &nsd, &inst, p_expiring, Some(&ca));
    assert_eq!(tls_item(&v)["level"], "critical", "{v:#}");
    assert_eq!(code, 2);
    let f = tls_findings(&v);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].0, "ok");
    assert!(f[0].1.starts_with("expires in 48 hours"), "{f:?}");

    // Expired: broken, critical.
    let (v, code) = dns_check(d, &nsd, &inst, p_expired, Some(&ca));
    assert_eq!(
        (tls_item(&v)["level"].as_str(), code),
        (Some("critical"), 2),
        "{v:#}"
    );
    let f = tls_findings(&v);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].0, "broken");
    assert!(f[0].1.starts_with("expired 24 hours ago"), "{f:?}");

    // Wrong name: a mismatch that warns although 60 days are left.
    let (v, code) = dns_check(d, &nsd, &inst, p_wrong, Some(&ca));
    assert_eq!(
        (tls_item(&v)["level"].as_str(), code),
        (Some("warning"), 1),
        "{v:#}"
    );
    let f = tls_findings(&v);
    assert_eq!(f.len(), 2, "{f:?}");
    assert_eq!(f[1].0, "mismatch");
    assert_eq!(
        f[1].1,
        "wrong name: the certificate is for other.example, not mail.headroom.test"
    );

    // The valid certificate without its CA: the chain is not trusted.
    let (v, code) = dns_check(d, &nsd, &inst, inst.port, None);
    assert_eq!(
        (tls_item(&v)["level"].as_str(), code),
        (Some("warning"), 1),
        "{v:#}"
    );
    let f = tls_findings(&v);
    assert_eq!(f.len(), 2, "{f:?}");
    assert_eq!(f[1].0, "broken");
    assert!(f[1].1.starts_with("chain not trusted"), "{f:?}");
}

#[test]
fn a_certificate_renewed_on_disk_is_flagged_until_postfix_reloads() {
    if let Some(why) = unavailable() {
        skip_or_fail(why);
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    let pki = Pki::new("Headroom renewal CA");
    let ca = d.join("ca.pem");
    pki.write_ca(&ca);
    let chain = d.join("mail.pem");
    pki.chain_file(&chain, &[HELO], 40);
    let Some(nsd) = start_nsd() else { return };
    let Some(inst) = postfix_with(&chain, &[]) else {
        return;
    };

    let (v, code) = dns_check(d, &nsd, &inst, inst.port, Some(&ca));
    assert_eq!((v["status"].as_str(), code), (Some("ok"), 0), "{v:#}");
    assert_eq!(tls_findings(&v).len(), 1);

    // The ACME client renews: new key and certificate in the same file, no reload.
    // The running smtpd keeps serving the certificate it loaded.
    pki.chain_file(&chain, &[HELO], 90);
    let (v, code) = dns_check(d, &nsd, &inst, inst.port, Some(&ca));
    assert_eq!(
        (tls_item(&v)["level"].as_str(), code),
        (Some("warning"), 1),
        "{v:#}"
    );
    let f = tls_findings(&v);
    assert_eq!(f.len(), 2, "{f:?}");
    assert!(
        f[0].1.starts_with("expires in 40 days"),
        "still the old one: {f:?}"
    );
    assert_eq!(f[1].0, "mismatch");
    assert!(
        f[1].1.contains("renewed on disk, reload the mail server"),
        "{f:?}"
    );
    assert!(f[1].1.contains(&chain.display().to_string()), "{f:?}");

    postfix::run("/usr/sbin/postfix", &["-c", &inst.etc_str(), "reload"]).expect("reload");
    // The master restarts smtpd for the next client; give it a few seconds.
    let cleared = wait_for(Duration::from_secs(20), || {
        let (v, code) = dns_check(d, &nsd, &inst, inst.port, Some(&ca));
        (code == 0).then_some(v)
    });
    let v =
        cleared.unwrap_or_else(|| panic!("still flagged after postfix reload\n{}", inst.maillog()));
    let f = tls_findings(&v);
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(f[0].1.starts_with("expires in 90 days"), "{f:?}");
    assert_eq!(tls_item(&v)["level"], "ok");
}

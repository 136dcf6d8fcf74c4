use super::*;

fn err(text: &str) -> ConfigError {
    parse(text, Path::new("/etc/headroom.toml")).expect_err("config should be rejected")
}

#[test]
fn empty_file_gives_the_documented_defaults() {
    let c = parse("", Path::new("x.toml")).expect("empty config is valid");
    assert_eq!(c, Config::default());
    assert_eq!(c.monitor.interval_secs, 5.0);
    assert_eq!(c.mta.kind, MtaChoice::Auto);
    assert_eq!(c.probes.len(), 1);
    assert_eq!(c.probes[0].host, "127.0.0.1");
    assert_eq!(c.probes[0].port, 25);
    assert_eq!(c.probes[0].interval_secs, 60.0);
    assert_eq!(c.probes[0].timeout_secs, 10.0);
    assert!(c.probes[0].verify_tls);
    assert_eq!(c.thresholds.warn_ratio, 0.80);
    assert_eq!(c.thresholds.crit_ratio, 0.95);
    assert_eq!(c.thresholds.forecast_horizon_mins, 30.0);
    assert!(c.notifications.enabled);
    assert_eq!(c.notifications.min_repeat_mins, 10.0);
}

#[test]
fn the_design_example_parses() {
    let text = r#"
[monitor]
interval_secs = 5

[mta]
kind = "postfix"
config_dir = "/etc/postfix-out"

[[probe]]
name = "local"
host = "127.0.0.1"
port = 25
tls = "starttls"
interval_secs = 60
timeout_secs = 10
rcpt_to = "postmaster@example.org"

[thresholds]
warn_ratio = 0.75
crit_ratio = 0.9
forecast_horizon_mins = 15

[thresholds.items.cpu]
warn_ratio = 0.0

[notifications]
enabled = false
min_repeat_mins = 5

[[maillog]]
path = "/var/log/mail.log"
"#;
    let c = parse(text, Path::new("x.toml")).expect("valid");
    assert_eq!(c.mta.kind, MtaChoice::Postfix);
    assert_eq!(c.probes[0].tls, TlsMode::Starttls);
    assert_eq!(c.thresholds.for_item(ItemId::Cpu), (0.0, 0.9));
    assert_eq!(c.thresholds.for_item(ItemId::Memory), (0.75, 0.9));
    assert!(!c.notifications.enabled);
    assert_eq!(c.maillogs.len(), 1);
}

#[test]
fn unknown_key_names_file_line_and_column() {
    let e = err("[monitor]\ninterval_secs = 5\n  interval_sec = 3\n");
    assert_eq!(e.file, PathBuf::from("/etc/headroom.toml"));
    assert_eq!((e.line, e.column), (Some(3), Some(3)));
    assert!(
        e.message.contains("unknown field `interval_sec`"),
        "{}",
        e.message
    );
    assert_eq!(
        e.to_string(),
        format!("/etc/headroom.toml:3:3: {}", e.message)
    );
}

#[test]
fn wrong_type_points_at_the_value() {
    let e = err("[thresholds]\nwarn_ratio = \"high\"\n");
    assert_eq!((e.line, e.column), (Some(2), Some(14)));
    assert!(e.message.contains("invalid type"), "{}", e.message);
}

#[test]
fn syntax_error_is_located() {
    let e = err("[monitor\ninterval_secs = 5\n");
    assert_eq!(e.line, Some(1));
}

#[test]
fn unknown_enum_value_is_rejected() {
    let e = err("[mta]\nkind = \"qmail\"\n");
    assert_eq!(e.line, Some(2));
    assert!(e.message.contains("qmail"), "{}", e.message);
}

#[test]
fn validation_errors_point_at_the_offending_key() {
    let e = err("[thresholds]\nwarn_ratio = 0.99\ncrit_ratio = 0.9\n");
    assert_eq!((e.line, e.column), (Some(2), Some(14)));
    assert!(e.message.contains("above crit_ratio"), "{}", e.message);

    let e = err("[[probe]]\nname = \"a\"\n[[probe]]\nname = \"b\"\nport = 0\n");
    assert_eq!(e.line, Some(5));
    assert!(e.message.contains("port 0"), "{}", e.message);

    let e = err("[monitor]\ninterval_secs = -1\n");
    assert_eq!(e.line, Some(2));
}

#[test]
fn per_item_overrides_must_name_a_known_item() {
    let e = err("[thresholds.items.cpuu]\nwarn_ratio = 0.5\n");
    assert!(
        e.message.contains("unknown variant `cpuu`"),
        "{}",
        e.message
    );
    assert!(e.message.contains("`smtpd_processes`"), "{}", e.message);
    assert_eq!(e.line, Some(1));
}

#[test]
fn duplicate_probe_names_are_rejected() {
    let e = err("[[probe]]\nname = \"a\"\n[[probe]]\nname = \"a\"\n");
    assert!(e.message.contains("used twice"));
    assert_eq!(e.line, Some(4));
}

#[test]
fn missing_explicit_file_is_an_error_without_position() {
    let e = load(Some(Path::new("/nonexistent/headroom.toml"))).expect_err("missing");
    assert_eq!(e.line, None);
    assert!(e.to_string().contains("cannot read configuration"));
}

#[test]
fn history_defaults_and_validation() {
    let c = parse("", Path::new("x.toml")).expect("valid");
    assert!(c.history.enabled);
    assert_eq!(
        (
            c.history.raw_hours,
            c.history.minute_days,
            c.history.hour_days
        ),
        (24, 30, 365)
    );
    let c = parse(
        "[history]\nenabled = false\npath = \"/tmp/h.sqlite3\"\n",
        Path::new("x.toml"),
    )
    .expect("valid");
    assert!(!c.history.enabled);
    assert_eq!(c.history.file(), Some(PathBuf::from("/tmp/h.sqlite3")));

    let e = err("[history]\nraw_hours = 0\n");
    assert_eq!((e.line, e.column), (Some(2), Some(13)));
    assert!(e.message.contains("raw_hours = 0"), "{}", e.message);
    let e = err("[history]\npath = \"history.db\"\n");
    assert_eq!(e.line, Some(2));
    assert!(e.message.contains("absolute"), "{}", e.message);
    let e = err("[history]\nraw_days = 2\n");
    assert!(
        e.message.contains("unknown field `raw_days`"),
        "{}",
        e.message
    );
}

#[test]
fn durations_that_no_timer_can_hold_are_refused_at_load() {
    // Each of these once reached Duration::from_secs_f64 and panicked the monitor.
    for (text, line, what) in [
        (
            "[monitor]\ninterval_secs = 1e20\n",
            2,
            "interval_secs = 100000000000000000000",
        ),
        ("[monitor]\ninterval_secs = 3601\n", 2, "at most 3600"),
        ("[monitor]\ninterval_secs = nan\n", 2, "interval_secs = NaN"),
        (
            "[[maillog]]\npath = \"/var/log/mail.log\"\nbackfill_mins = inf\n",
            3,
            "backfill_mins = inf",
        ),
        ("[[maillog]]\nbackfill_mins = 10081\n", 2, "at most 10080"),
        ("[[maillog]]\nbackfill_mins = -1\n", 2, "backfill_mins = -1"),
        (
            "[[probe]]\nname = \"a\"\ntimeout_secs = 1e20\n",
            3,
            "timeout",
        ),
        (
            "[[probe]]\nname = \"a\"\ninterval_secs = 86400\n",
            3,
            "interval",
        ),
        (
            "[thresholds]\nforecast_horizon_mins = 1e300\n",
            2,
            "at most 10080",
        ),
        (
            "[thresholds]\nmin_dwell_secs = inf\n",
            2,
            "min_dwell_secs = inf",
        ),
        (
            "[thresholds]\noldest_message_budget_hours = 1e9\n",
            2,
            "oldest_message_budget_hours",
        ),
        (
            "[thresholds]\nprobe_latency_budget_ms = nan\n",
            2,
            "probe_latency_budget_ms",
        ),
        (
            "[notifications]\nmin_repeat_mins = 1e30\n",
            2,
            "min_repeat_mins",
        ),
    ] {
        let e = err(text);
        assert_eq!(e.line, Some(line), "{text:?}: {e}");
        assert!(e.message.contains(what), "{text:?}: {}", e.message);
    }
    // The bounds themselves are fine.
    let ok = "[monitor]\ninterval_secs = 3600\n[[maillog]]\nbackfill_mins = 10080\n\
              [[probe]]\nname = \"a\"\ntimeout_secs = 3600\ninterval_secs = 3600\n\
              [thresholds]\nforecast_horizon_mins = 10080\n";
    parse(ok, Path::new("x.toml")).expect("bounds are allowed");
}

#[test]
fn probe_targets_are_checked_at_load_as_the_probe_checks_them() {
    let dir = tempfile::tempdir().expect("tmp");
    let big = dir.path().join("big.pem");
    std::fs::write(&big, vec![b'#'; 2 * 1024 * 1024]).expect("write");
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "no certificates here\n").expect("write");
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(
        &garbage,
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .expect("write");
    let good = dir.path().join("ca.pem");
    std::fs::write(&good, crate::probe::TEST_CA_PEM).expect("write");
    parse(
        &format!(
            "[[probe]]\nname = \"a\"\ntls = \"starttls\"\nca_file = \"{}\"\n",
            good.display()
        ),
        Path::new("x.toml"),
    )
    .expect("a real CA file is fine");
    let head = "[[probe]]\nname = \"a\"\n";
    for (rest, line, what) in [
        ("host = \"exa mple.org\"\n".to_string(), 3, "invalid host"),
        ("helo = \"bad helo\"\n".to_string(), 3, "HELO"),
        ("rcpt_to = \"not an address\"\n".to_string(), 3, "rcpt_to"),
        ("mail_from = \"a@b@c\"\n".to_string(), 3, "mail_from"),
        ("send = true\n".to_string(), 3, "recipient"),
        ("username = \"\"\n".to_string(), 3, "username"),
        (
            "tls = \"starttls\"\nca_file = \"/nonexistent/ca.pem\"\n".to_string(),
            4,
            "/nonexistent/ca.pem",
        ),
        (
            "tls = \"starttls\"\nca_file = \"/dev/zero\"\n".to_string(),
            4,
            "not a regular file",
        ),
        (
            format!("tls = \"starttls\"\nca_file = \"{}\"\n", big.display()),
            4,
            "1048576",
        ),
        (
            format!("tls = \"starttls\"\nca_file = \"{}\"\n", empty.display()),
            4,
            "no certificate",
        ),
        (
            format!("tls = \"starttls\"\nca_file = \"{}\"\n", garbage.display()),
            4,
            "not a usable CA certificate",
        ),
    ] {
        let text = format!("{head}{rest}");
        let e = err(&text);
        assert_eq!(e.line, Some(line), "{text:?}: {e}");
        assert!(e.message.contains(what), "{text:?}: {}", e.message);
    }
}

#[test]
fn auth_without_verified_tls_to_a_remote_address_is_refused_at_load() {
    let e = err(
        "[[probe]]\nname = \"a\"\nhost = \"192.0.2.1\"\ntls = \"implicit\"\n\
         verify_tls = false\nusername = \"probe\"\n",
    );
    assert_eq!(e.line, Some(5), "{e}");
    assert!(e.message.contains("verify_tls"), "{}", e.message);
    let e = err(
        "[[probe]]\nname = \"a\"\nhost = \"192.0.2.1\"\ntls = \"none\"\nusername = \"probe\"\n",
    );
    assert_eq!(e.line, Some(4), "{e}");
    assert!(e.message.contains("tls"), "{}", e.message);
    // A loopback server may be given the password over anything.
    parse(
        "[[probe]]\nname = \"a\"\nhost = \"::1\"\ntls = \"implicit\"\n\
         verify_tls = false\nusername = \"probe\"\n",
        Path::new("x.toml"),
    )
    .expect("loopback may AUTH without verification");
}

#[test]
fn line_col_counts_characters() {
    assert_eq!(line_col("ab\ncé d", 7), (2, 4));
    assert_eq!(line_col("", 0), (1, 1));
}

#[test]
fn dns_and_tls_have_documented_defaults_and_are_checked_at_load() {
    let c = parse("", Path::new("x.toml")).expect("valid");
    assert_eq!(c.dns.resolver_addr(), Ok(ResolverAddr::System));
    assert_eq!(c.dns.interval_mins, 15.0);
    assert_eq!(c.dns.dnsbl, DEFAULT_DNSBL_ZONES.map(String::from));
    assert!(c.dns.outbound.is_empty() && c.dns.domains.is_empty() && c.dns.helo.is_none());
    assert_eq!((c.tls.warn_days, c.tls.crit_days), (14.0, 3.0));

    let c = parse(
        "[dns]\nresolver = \"127.0.0.1:5353\"\noutbound = [\"192.0.2.7\", \"2001:db8::7\"]\n\
         helo = \"mail.example.org\"\ndomains = [\"example.org\"]\ndnsbl = [\"zen.dq.spamhaus.net\"]\n\
         [tls]\nwarn_days = 30\ncrit_days = 7\n",
        Path::new("x.toml"),
    )
    .expect("valid");
    assert_eq!(
        c.dns.resolver_addr(),
        Ok(ResolverAddr::Server(
            "127.0.0.1:5353".parse().expect("addr")
        ))
    );
    assert_eq!(c.dns.outbound.len(), 2);
    assert_eq!(c.tls.warn_days, 30.0);
    let c = parse("[dns]\nresolver = \"::1\"\n", Path::new("x.toml")).expect("valid");
    assert_eq!(
        c.dns.resolver_addr(),
        Ok(ResolverAddr::Server("[::1]:53".parse().expect("addr")))
    );

    for (text, line, what) in [
        ("[dns]\nresolver = \"8.8.8.8:0\"\n", 2, "resolver"),
        ("[dns]\nresolver = \"dns.example\"\n", 2, "neither"),
        ("[dns]\ninterval_mins = 0.5\n", 2, "minimum is 1"),
        ("[dns]\ninterval_mins = 2000\n", 2, "at most 1440"),
        ("[dns]\nhelo = \"mail example\"\n", 2, "host name"),
        (
            "[dns]\ndomains = [\"example.org\", \"bad domain\"]\n",
            2,
            "domains[1]",
        ),
        ("[dns]\ndnsbl = [\"localhost\"]\n", 2, "dnsbl[0]"),
        ("[dns]\noutbound = [\"192.0.2.300\"]\n", 2, "invalid"),
        (
            "[dns]\nresolvr = \"system\"\n",
            2,
            "unknown field `resolvr`",
        ),
        ("[tls]\ncrit_days = 20\n", 2, "above warn_days"),
        ("[tls]\nwarn_days = -1\n", 2, "positive"),
    ] {
        let e = err(text);
        assert_eq!(e.line, Some(line), "{text:?}: {e}");
        assert!(e.message.contains(what), "{text:?}: {}", e.message);
    }
}

#[test]
fn webhooks_parse_with_their_defaults() {
    let c = parse(
        "[[notify.webhook]]\nurl = \"https://ntfy.sh/ops-mail\"\npreset = \"ntfy\"\n\n[[notify.webhook]]\nname = \"chat\"\nurl = \"https://hooks.example.org/services/T0/B0\"\npreset = \"slack\"\nmin_level = \"critical\"\nauth = \"bearer\"\nheaders = { \"X-Team\" = \"mail\" }\n",
        Path::new("x.toml"),
    )
    .expect("valid");
    let w = &c.notify.webhooks;
    assert_eq!(w.len(), 2);
    assert_eq!(w[0].display_name(), "ntfy.sh");
    assert_eq!(w[0].preset, WebhookPreset::Ntfy);
    assert_eq!(w[0].min_level, MinLevel::Warning);
    assert_eq!(w[0].auth, WebhookAuth::None);
    assert_eq!(w[0].timeout_secs, 10.0);
    assert_eq!(w[1].keyring_account(), "webhook@chat");
    // Logs name the origin only: the path of a Slack URL is a credential.
    assert_eq!(w[1].origin(), "https://hooks.example.org");
    assert!(parse("", Path::new("x.toml"))
        .expect("valid")
        .notify
        .webhooks
        .is_empty());
}

#[test]
fn webhook_mistakes_and_secrets_are_refused_at_load_with_their_place() {
    for (text, line, col, says) in [
        ("[[notify.webhook]]\nurl = \"ftp://x.example/\"\n", 2, 7, "http:// or https://"),
        ("[[notify.webhook]]\nurl = \"not a url\"\n", 2, 7, "not a URL"),
        (
            "[[notify.webhook]]\nurl = \"https://user:pw@x.example/\"\n",
            2,
            7,
            "secrets never go in this file",
        ),
        (
            "[[notify.webhook]]\nurl = \"https://x.example/\"\nheaders = { Authorization = \"Bearer abc\" }\n",
            3,
            29,
            "secrets never go in this file",
        ),
        (
            "[[notify.webhook]]\nurl = \"https://x.example/\"\nheaders = { \"X-A\" = \"a\\r\\nInjected: 1\" }\n",
            3,
            21,
            "printable ASCII on one line",
        ),
        (
            "[[notify.webhook]]\nurl = \"http://ntfy.example/t\"\nauth = \"bearer\"\n",
            2,
            7,
            "in clear",
        ),
        ("[[notify.webhook]]\nurl = \"https://x.example/\"\ntimeout_secs = 0\n", 3, 16, "positive"),
        ("[[notify.webhook]]\nurl = \"https://x.example/\"\ntimeout_secs = 600\n", 3, 16, "at most 60"),
        ("[[notify.webhook]]\nurl = \"https://x.example/\"\nmin_level = \"info\"\n", 3, 13, "unknown variant"),
        ("[[notify.webhook]]\nurl = \"https://x.example/\"\npreset = \"teams\"\n", 3, 10, "unknown variant"),
        ("[[notify.webhook]]\nurl = \"https://x.example/\"\ntoken = \"abc\"\n", 3, 1, "unknown field"),
        (
            "[[notify.webhook]]\nurl = \"https://x.example/a\"\n[[notify.webhook]]\nurl = \"https://x.example/b\"\n",
            4,
            7,
            "used twice",
        ),
    ] {
        let e = err(text);
        assert_eq!(
            (e.line, e.column),
            (Some(line), Some(col)),
            "{text:?}: {e}"
        );
        assert!(e.message.contains(says), "{text:?}: {e}");
        assert!(e.to_string().starts_with(&format!("/etc/headroom.toml:{line}:{col}: ")));
    }
    // Plain http is fine without a token, and with one to this machine.
    for ok in [
        "[[notify.webhook]]\nurl = \"http://ntfy.example/t\"\n",
        "[[notify.webhook]]\nurl = \"http://127.0.0.1:8080/t\"\nauth = \"bearer\"\n",
    ] {
        parse(ok, Path::new("x.toml")).expect(ok);
    }
}

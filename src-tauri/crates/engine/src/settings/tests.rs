use super::*;

const USER_FILE: &str = "\
# Headroom settings for mx1 — edited by hand
[monitor]
interval_secs = 5 # every five seconds

[mta]
kind = \"postfix\" # not auto: this box also has exim installed

[[probe]]
# the public MX
name = \"mx1\"
host = \"mx1.example.org\"
port = 25

[thresholds]
warn_ratio = 0.8
";

fn settings() -> Settings {
    let c = config::parse(USER_FILE, Path::new("c.toml")).expect("valid");
    Settings::from_config(&c)
}

#[test]
fn edits_keep_comments_order_and_other_keys() {
    let mut s = settings();
    s.interval_secs = 2.0;
    s.warn_ratio = 0.7;
    s.probes[0].port = 587;
    s.probes[0].tls = TlsMode::Starttls;
    let (text, c) = edit(USER_FILE, Path::new("c.toml"), &s).expect("valid edit");
    assert!(text.starts_with("# Headroom settings for mx1 — edited by hand\n[monitor]\n"));
    assert!(
        text.contains("interval_secs = 2.0 # every five seconds"),
        "{text}"
    );
    assert!(text.contains("kind = \"postfix\" # not auto"), "{text}");
    assert!(text.contains("# the public MX\nname = \"mx1\""), "{text}");
    assert!(text.contains("port = 587"), "{text}");
    assert!(text.contains("tls = \"starttls\""), "{text}");
    assert_eq!(c.monitor.interval_secs, 2.0);
    assert_eq!(c.thresholds.warn_ratio, 0.7);
    assert_eq!(c.mta.kind, config::MtaChoice::Postfix);
}

#[test]
fn no_targets_stay_an_empty_list_with_its_comment() {
    let text = "# top comment\nprobe = [] # none on this box\n\n[monitor]\ninterval_secs = 1\n";
    let c = config::parse(text, Path::new("c.toml")).expect("valid");
    let mut s = Settings::from_config(&c);
    s.interval_secs = 2.0;
    let (out, c) = edit(text, Path::new("c.toml"), &s).expect("valid");
    assert!(
        out.starts_with("# top comment\nprobe = [] # none on this box\n"),
        "{out}"
    );
    assert!(c.probes.is_empty());
}

#[test]
fn a_missing_table_is_created_as_a_table() {
    let mut s = settings();
    s.notifications_enabled = false;
    let (text, c) = edit(USER_FILE, Path::new("c.toml"), &s).expect("valid");
    assert!(text.contains("[notifications]\nenabled = false"), "{text}");
    assert!(!c.notifications.enabled);
}

#[test]
fn probes_can_be_added_and_removed() {
    let mut s = settings();
    s.probes.push(ProbeTarget {
        name: "submission".into(),
        host: "127.0.0.1".into(),
        port: 587,
        ..ProbeTarget::default()
    });
    let (text, c) = edit(USER_FILE, Path::new("c.toml"), &s).expect("valid");
    assert_eq!(c.probes.len(), 2);
    s.probes.clear();
    let (text2, c2) = edit(&text, Path::new("c.toml"), &s).expect("valid");
    assert!(
        c2.probes.is_empty(),
        "no targets stays no targets:\n{text2}"
    );
}

#[test]
fn invalid_settings_name_the_field_and_write_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("config.toml");
    std::fs::write(&path, USER_FILE).expect("write");
    let mut s = settings();
    s.warn_ratio = 0.99;
    s.crit_ratio = 0.9;
    let e = save(&path, &s).expect_err("refused");
    assert_eq!(e.field, "thresholds.warn_ratio");
    assert!(e.message.contains("above crit_ratio"), "{}", e.message);
    assert_eq!(std::fs::read_to_string(&path).expect("read"), USER_FILE);

    let mut s = settings();
    s.probes[0].port = 0;
    let e = save(&path, &s).expect_err("refused");
    assert_eq!(e.field, "probe[0].port");
    assert_eq!(std::fs::read_to_string(&path).expect("read"), USER_FILE);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "no temporary files left: {leftovers:?}");
}

#[test]
fn an_interval_no_timer_can_hold_is_refused_with_its_field() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("config.toml");
    std::fs::write(&path, USER_FILE).expect("write");
    let mut s = settings();
    s.interval_secs = 1e20;
    let e = save(&path, &s).expect_err("refused");
    assert_eq!(e.field, "monitor.interval_secs");
    assert!(e.message.contains("at most 3600"), "{}", e.message);
    assert_eq!(std::fs::read_to_string(&path).expect("read"), USER_FILE);
}

#[test]
fn inline_thresholds_keep_their_per_item_overrides() {
    let text = "thresholds = {warn_ratio = 0.8, items = {cpu = {warn_ratio = 0.9}}}\nprobe = []\n";
    let c = config::parse(text, Path::new("c.toml")).expect("valid");
    let mut s = Settings::from_config(&c);
    s.warn_ratio = 0.7;
    s.forecast_horizon_mins = 20.0;
    let (out, c) = edit(text, Path::new("c.toml"), &s).expect("valid");
    assert_eq!(c.thresholds.warn_ratio, 0.7);
    assert_eq!(c.thresholds.forecast_horizon_mins, 20.0);
    assert_eq!(
        c.thresholds.for_item(crate::item::ItemId::Cpu),
        (0.9, 0.95),
        "{out}"
    );
    assert!(out.starts_with("thresholds = {"), "stays inline:\n{out}");
}

/// A CA file that passes the check of `ca_file`.
fn ca(dir: &Path, name: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, crate::probe::TEST_CA_PEM).expect("write ca");
    p
}

#[test]
fn an_inline_array_of_probes_is_edited_in_place() {
    let dir = tempfile::tempdir().expect("tmp");
    let ca_b = ca(dir.path(), "b.pem");
    let text = format!(
        "probe = [{{name = \"a\", host = \"127.0.0.1\"}}, {{name = \"b\", host = \"127.0.0.2\", tls = \"starttls\", ca_file = \"{}\"}}] # two\n",
        ca_b.display()
    );
    let c = config::parse(&text, Path::new("c.toml")).expect("valid");
    let mut s = Settings::from_config(&c);
    s.probes[1].port = 587;
    let (out, c) = edit(&text, Path::new("c.toml"), &s).expect("valid");
    assert!(out.starts_with("probe = [{"), "stays inline:\n{out}");
    assert!(out.contains("# two"), "{out}");
    assert_eq!(c.probes.len(), 2);
    assert_eq!(c.probes[1].port, 587);
    assert_eq!(c.probes[1].ca_file.as_deref(), Some(ca_b.as_path()));
}

#[test]
fn removing_a_target_does_not_hand_its_trust_to_the_next() {
    let dir = tempfile::tempdir().expect("tmp");
    let ca_1 = ca(dir.path(), "private.pem");
    let text = format!(
        "[[probe]]\n# mx1 speaks for our private CA\nname = \"mx1\"\nhost = \"mx1.example.org\"\n\
         tls = \"starttls\"\nca_file = \"{}\"\n\n\
         [[probe]]\n# mx2 is public\nname = \"mx2\"\nhost = \"mx2.example.org\"\ntls = \"starttls\"\n",
        ca_1.display()
    );
    let c = config::parse(&text, Path::new("c.toml")).expect("valid");
    let mut s = Settings::from_config(&c);
    s.probes.remove(0);
    let (out, c) = edit(&text, Path::new("c.toml"), &s).expect("valid");
    assert_eq!(c.probes.len(), 1);
    assert_eq!(c.probes[0].name, "mx2");
    assert_eq!(c.probes[0].ca_file, None, "{out}");
    assert!(!out.contains("private CA"), "{out}");
    assert!(out.contains("# mx2 is public\nname = \"mx2\""), "{out}");
}

#[test]
fn a_ca_file_from_the_form_is_written() {
    let dir = tempfile::tempdir().expect("tmp");
    let ca_1 = ca(dir.path(), "private.pem");
    let mut s = settings();
    s.probes[0].tls = TlsMode::Starttls;
    s.probes[0].ca_file = Some(ca_1.clone());
    let (out, c) = edit(USER_FILE, Path::new("c.toml"), &s).expect("valid");
    assert_eq!(
        c.probes[0].ca_file.as_deref(),
        Some(ca_1.as_path()),
        "{out}"
    );
    let mut s = Settings::from_config(&c);
    s.probes[0].ca_file = None;
    let (out, c) = edit(&out, Path::new("c.toml"), &s).expect("valid");
    assert_eq!(c.probes[0].ca_file, None, "{out}");
}

#[test]
fn save_writes_through_a_symlinked_config() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tmp");
    let real = dir.path().join("dotfiles").join("headroom.toml");
    std::fs::create_dir_all(real.parent().expect("parent")).expect("mkdir");
    std::fs::write(&real, USER_FILE).expect("write");
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    let link = dir.path().join("config.toml");
    std::os::unix::fs::symlink(&real, &link).expect("symlink");
    let mut s = settings();
    s.interval_secs = 7.0;
    save(&link, &s).expect("saved");
    assert!(
        std::fs::symlink_metadata(&link)
            .expect("lstat")
            .file_type()
            .is_symlink(),
        "the symlink survives"
    );
    let written = std::fs::read_to_string(&real).expect("read");
    assert!(written.contains("interval_secs = 7.0"), "{written}");
    let mode = std::fs::metadata(&real).expect("stat").permissions().mode();
    assert_eq!(mode & 0o777, 0o640);
}

#[test]
fn a_new_config_file_is_private_and_the_temp_name_unpredictable() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("config.toml");
    // Someone who can write the directory plants the old, predictable temp name
    // as a link to a file of theirs; the save must not write through it.
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "untouched").expect("write");
    let planted = dir
        .path()
        .join(format!(".config.toml.tmp-{}", std::process::id()));
    std::os::unix::fs::symlink(&victim, &planted).expect("symlink");
    save(&path, &settings()).expect("saved");
    assert_eq!(std::fs::read_to_string(&victim).expect("read"), "untouched");
    let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn save_creates_the_file_and_directory_when_missing() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("headroom").join("config.toml");
    let mut s = Settings::from_config(&Config::default());
    s.interval_secs = 3.0;
    let c = save(&path, &s).expect("saved");
    assert_eq!(c.monitor.interval_secs, 3.0);
    let again = config::load(Some(&path)).expect("loads");
    assert_eq!(again.monitor.interval_secs, 3.0);
    assert_eq!(again.probes, Config::default().probes);
}

#[test]
fn servers_are_added_changed_and_removed_and_a_file_without_them_stays_without() {
    let s = settings();
    let (text, _) = edit(USER_FILE, Path::new("c.toml"), &s).expect("valid edit");
    assert!(
        !text.contains("[[server]]") && !text.contains("[local]"),
        "{text}"
    );

    let mut s = settings();
    s.local_enabled = false;
    s.servers = vec![
        ServerEntry {
            name: "mx1".into(),
            url: Some("https://mx1.example.org:9767".into()),
            fingerprint: Some("AB".repeat(32)),
            ..Default::default()
        },
        ServerEntry {
            name: "mx2".into(),
            ssh: Some("admin@mx2.example.org".into()),
            ssh_port: Some(2222),
            ..Default::default()
        },
    ];
    let (text, c) = edit(USER_FILE, Path::new("c.toml"), &s).expect("valid edit");
    assert_eq!(c.servers, s.servers);
    assert!(!c.local.enabled);
    assert!(
        text.contains("# the public MX"),
        "other comments stay: {text}"
    );

    // A comment on mx2's table stays with mx2 when mx1 is removed.
    let commented = text.replace("name = \"mx2\"", "# the backup MX\nname = \"mx2\"");
    let mut s =
        Settings::from_config(&config::parse(&commented, Path::new("c.toml")).expect("valid"));
    s.servers.remove(0);
    let (text, c) = edit(&commented, Path::new("c.toml"), &s).expect("valid edit");
    assert_eq!(c.servers.len(), 1);
    assert!(text.contains("# the backup MX"), "{text}");
    assert!(!text.contains("https://mx1.example.org"), "{text}");

    // A refused server names its field in the form's terms.
    s.servers[0].ssh = Some("-oProxyCommand=x".into());
    let e = edit(&commented, Path::new("c.toml"), &s).expect_err("refused");
    assert_eq!(e.field, "server[0].ssh");
}

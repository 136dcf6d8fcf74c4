//! The settings the window edits (probe targets, thresholds, intervals,
//! notifications), validated by the same rules as the file and written back into the
//! user's TOML without losing their comments, order or other keys.
//!
//! Tables are edited in place whatever their syntax (`[table]`, inline table, array of
//! tables, inline array), and probe targets are matched to their tables by name, so
//! keys the form does not show, comments and per-target trust (`ca_file`) stay with
//! the target they belong to.
//!
//! Writes are atomic: the new text is validated by [`config::parse`] first, written
//! to a temporary file in the same directory, synced, and renamed over the old one,
//! so a crash or a refused setting never leaves a half-written file.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml_edit::{Array, ArrayOfTables, DocumentMut, InlineTable, Item, Table, TableLike, Value};

use crate::config::{self, Config, Key, ProbeTarget, TlsMode};

/// What the settings screen shows and sends back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct Settings {
    pub interval_secs: f64,
    pub warn_ratio: f64,
    pub crit_ratio: f64,
    pub forecast_horizon_mins: f64,
    pub notifications_enabled: bool,
    pub min_repeat_mins: f64,
    pub probes: Vec<ProbeTarget>,
}

impl Settings {
    pub fn from_config(c: &Config) -> Self {
        Settings {
            interval_secs: c.monitor.interval_secs,
            warn_ratio: c.thresholds.warn_ratio,
            crit_ratio: c.thresholds.crit_ratio,
            forecast_horizon_mins: c.thresholds.forecast_horizon_mins,
            notifications_enabled: c.notifications.enabled,
            min_repeat_mins: c.notifications.min_repeat_mins,
            probes: c.probes.clone(),
        }
    }
}

/// A refused setting: which field (`thresholds.warn_ratio`, `probe[1].port`) and why.
#[derive(Debug, Clone, PartialEq, Serialize, thiserror::Error, ts_rs::TS)]
#[ts(export)]
#[error("{field}: {message}")]
pub struct SettingsError {
    pub field: String,
    pub message: String,
}

fn refuse(field: &str, message: impl Into<String>) -> SettingsError {
    SettingsError {
        field: field.to_string(),
        message: message.into(),
    }
}

/// Applies `s` to the configuration text `original` (empty for no file yet) and
/// returns the new text and the configuration it yields. Nothing is written.
pub fn edit(original: &str, file: &Path, s: &Settings) -> Result<(String, Config), SettingsError> {
    let mut doc: DocumentMut = original.parse().map_err(|e: toml_edit::TomlError| {
        refuse("file", format!("the current file does not parse: {e}"))
    })?;
    set(
        &mut doc,
        &["monitor", "interval_secs"],
        Value::from(s.interval_secs),
    );
    set(
        &mut doc,
        &["thresholds", "warn_ratio"],
        Value::from(s.warn_ratio),
    );
    set(
        &mut doc,
        &["thresholds", "crit_ratio"],
        Value::from(s.crit_ratio),
    );
    set(
        &mut doc,
        &["thresholds", "forecast_horizon_mins"],
        Value::from(s.forecast_horizon_mins),
    );
    set(
        &mut doc,
        &["notifications", "enabled"],
        Value::from(s.notifications_enabled),
    );
    set(
        &mut doc,
        &["notifications", "min_repeat_mins"],
        Value::from(s.min_repeat_mins),
    );
    set_probes(&mut doc, &s.probes);
    let text = doc.to_string();
    let config = config::parse(&text, file).map_err(|e| {
        let field = field_name(&text, &e.key_path, &s.probes).unwrap_or_else(|| "file".into());
        refuse(&field, e.message)
    })?;
    Ok((text, config))
}

/// Validates, writes atomically and returns the configuration now in force.
pub fn save(path: &Path, s: &Settings) -> Result<Config, SettingsError> {
    let original = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(refuse(
                "file",
                format!("cannot read {}: {e}", path.display()),
            ))
        }
    };
    let (text, config) = edit(&original, path, s)?;
    write_atomically(path, text.as_bytes())
        .map_err(|e| refuse("file", format!("cannot write {}: {e}", path.display())))?;
    Ok(config)
}

/// Writes `bytes` to `path` through a synced temporary file in the same directory,
/// renamed over the old file. When `path` is a symlink, its target is written, so the
/// link (into a dotfiles repository, say) survives. The temporary file has a random
/// name and is created exclusively, so nothing planted in the directory is written
/// through; it gets the old file's mode, or 0600 for a new file.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let target = resolve_links(path)?;
    let dir = target
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mode = match std::fs::metadata(&target) {
        Ok(meta) => meta.permissions().mode() & 0o7777,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0o600,
        Err(e) => return Err(e),
    };
    let name = target
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("config.toml");
    let mut attempt = 0;
    let (tmp, mut file) = loop {
        let tmp = dir.join(format!(".{name}.{:016x}.tmp", fastrand::u64(..)));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)
        {
            Ok(f) => break (tmp, f),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 16 => {
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    };
    let result = (|| {
        file.write_all(bytes)?;
        // The umask may have taken bits off the mode asked for at creation.
        file.set_permissions(std::fs::Permissions::from_mode(mode))?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, &target)?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The file a path names after following symlinks, even when the last one points to
/// a file that does not exist yet.
fn resolve_links(path: &Path) -> std::io::Result<PathBuf> {
    let mut p = path.to_path_buf();
    // The kernel's own limit on links followed in one lookup.
    for _ in 0..40 {
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let link = std::fs::read_link(&p)?;
                p = match p.parent() {
                    Some(dir) => dir.join(link),
                    None => link,
                };
            }
            Ok(_) => return Ok(p),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(p),
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other(format!(
        "{}: too many levels of symbolic links",
        path.display()
    )))
}

/// Sets a key, creating missing tables as `[table]`s (inside an inline table, as inline
/// tables) and editing existing ones in place whatever their syntax, so keys the form
/// does not show (per-item overrides, say) stay. Comments around an old value stay.
fn set(doc: &mut DocumentMut, path: &[&str], new: Value) {
    let Some((key, tables)) = path.split_last() else {
        return;
    };
    let mut table: &mut dyn TableLike = doc.as_table_mut();
    for name in tables {
        if !table.get(name).is_some_and(Item::is_table_like) {
            let mut t = Table::new();
            t.set_implicit(false);
            table.insert(name, Item::Table(t));
        }
        table = match table.get_mut(name).and_then(Item::as_table_like_mut) {
            Some(t) => t,
            None => return,
        };
    }
    put(table, key, Some(new));
}

/// Sets (or with `None` removes) a value, keeping the comments around the old one.
fn put(table: &mut dyn TableLike, key: &str, new: Option<Value>) {
    match (table.get_mut(key).and_then(Item::as_value_mut), new) {
        (Some(old), Some(mut v)) => {
            *v.decor_mut() = old.decor().clone();
            *old = v;
        }
        (None, Some(v)) => {
            table.insert(key, Item::Value(v));
        }
        (_, None) => {
            table.remove(key);
        }
    }
}

/// Writes every key of a target into its table (a `[[probe]]` or an inline table);
/// keys at their default are removed.
fn write_target(t: &mut dyn TableLike, p: &ProbeTarget) {
    let d = ProbeTarget::default();
    let s = |v: &str| Value::from(v);
    put(t, "name", Some(s(&p.name)));
    put(t, "host", Some(s(&p.host)));
    put(t, "port", Some(Value::from(i64::from(p.port))));
    put(
        t,
        "tls",
        Some(s(match p.tls {
            TlsMode::None => "none",
            TlsMode::Starttls => "starttls",
            TlsMode::Implicit => "implicit",
        })),
    );
    put(t, "interval_secs", Some(Value::from(p.interval_secs)));
    put(t, "timeout_secs", Some(Value::from(p.timeout_secs)));
    put(t, "helo", p.helo.as_deref().map(s));
    put(
        t,
        "mail_from",
        (p.mail_from != d.mail_from).then(|| s(&p.mail_from)),
    );
    put(t, "rcpt_to", p.rcpt_to.as_deref().map(s));
    put(t, "send", p.send.then(|| Value::from(true)));
    put(t, "username", p.username.as_deref().map(s));
    put(t, "verify_tls", (!p.verify_tls).then(|| Value::from(false)));
    put(
        t,
        "ca_file",
        p.ca_file.as_deref().map(|f| s(&f.to_string_lossy())),
    );
}

fn name_of(t: &dyn TableLike) -> Option<&str> {
    t.get("name").and_then(Item::as_str)
}

/// Takes the table of the target called `name` out of `tables`, if there is one.
fn take_named<T>(
    tables: &mut Vec<T>,
    name: &str,
    view: impl Fn(&T) -> &dyn TableLike,
) -> Option<T> {
    let i = tables.iter().position(|t| name_of(view(t)) == Some(name))?;
    Some(tables.remove(i))
}

/// Rewrites the probe targets, matching them to the tables in the file by NAME (not
/// by position: removing the first target must not hand its `ca_file` and comments to
/// the next), in whatever syntax the file uses: `[[probe]]` tables or an inline array.
fn set_probes(doc: &mut DocumentMut, probes: &[ProbeTarget]) {
    if probes.is_empty() {
        // No targets at all must be said explicitly, or the default target comes back.
        let empty = Value::Array(Array::new());
        if doc.get("probe").is_some_and(Item::is_value) {
            put(doc.as_table_mut(), "probe", Some(empty));
        } else {
            doc.remove("probe");
            doc.insert("probe", Item::Value(empty));
        }
        return;
    }
    match doc.get_mut("probe") {
        Some(Item::ArrayOfTables(aot)) => {
            let mut old: Vec<Table> = std::mem::take(aot).into_iter().collect();
            for p in probes {
                let mut t =
                    take_named(&mut old, &p.name, |t| t as &dyn TableLike).unwrap_or_default();
                write_target(&mut t, p);
                aot.push(t);
            }
            return;
        }
        // An inline array with targets stays one; an empty `probe = []` becomes tables.
        Some(Item::Value(Value::Array(arr))) if !arr.is_empty() => {
            let mut old: Vec<InlineTable> = arr
                .iter()
                .filter_map(|v| v.as_inline_table().cloned())
                .collect();
            arr.clear();
            for p in probes {
                match take_named(&mut old, &p.name, |t| t as &dyn TableLike) {
                    Some(mut t) => {
                        write_target(&mut t, p);
                        arr.push_formatted(Value::InlineTable(t));
                    }
                    None => {
                        let mut t = InlineTable::new();
                        write_target(&mut t, p);
                        arr.push(t);
                    }
                }
            }
            return;
        }
        _ => {}
    }
    let mut aot = ArrayOfTables::new();
    for p in probes {
        let mut t = Table::new();
        write_target(&mut t, p);
        aot.push(t);
    }
    doc.remove("probe");
    doc.insert("probe", Item::ArrayOfTables(aot));
}

/// The dotted name of a configuration key (`thresholds.warn_ratio`, `probe[1].port`)
/// for the window to attach an error to. A target's index is its index in `probes`
/// (the form's order), found by name.
fn field_name(text: &str, key_path: &[Key], probes: &[ProbeTarget]) -> Option<String> {
    let mut out = String::new();
    for (i, key) in key_path.iter().enumerate() {
        match key {
            Key::Name(n) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(n);
            }
            Key::Index(at) => {
                let at = match key_path.first() {
                    Some(Key::Name(n)) if n == "probe" && i == 1 => {
                        form_index(text, *at, probes).unwrap_or(*at)
                    }
                    _ => *at,
                };
                out.push_str(&format!("[{at}]"));
            }
        }
    }
    (!out.is_empty()).then_some(out)
}

/// The form's index of the target at `at` in the file (the file's order can differ
/// when the form reordered `[[probe]]` tables).
fn form_index(text: &str, at: usize, probes: &[ProbeTarget]) -> Option<usize> {
    let doc: DocumentMut = text.parse().ok()?;
    let name = match doc.get("probe")? {
        Item::ArrayOfTables(aot) => aot.get(at).and_then(|t| name_of(t)),
        Item::Value(Value::Array(arr)) => arr
            .get(at)
            .and_then(Value::as_inline_table)
            .and_then(|t| name_of(t)),
        _ => None,
    }?;
    probes.iter().position(|p| p.name == name)
}

#[cfg(test)]
mod tests {
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
        let text =
            "thresholds = {warn_ratio = 0.8, items = {cpu = {warn_ratio = 0.9}}}\nprobe = []\n";
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
}

//! The settings the window edits (probe targets, thresholds, intervals,
//! notifications), validated by the same rules as the file and written back into the
//! user's TOML without losing their comments, order or other keys.
//!
//! Writes are atomic: the new text is validated by [`config::parse`] first, written
//! to a temporary file in the same directory, synced, and renamed over the old one,
//! so a crash or a refused setting never leaves a half-written file.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml_edit::{value, Array, ArrayOfTables, DocumentMut, Item, Table, Value};

use crate::config::{self, Config, ProbeTarget, TlsMode};

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
        value(s.interval_secs),
    );
    set(&mut doc, &["thresholds", "warn_ratio"], value(s.warn_ratio));
    set(&mut doc, &["thresholds", "crit_ratio"], value(s.crit_ratio));
    set(
        &mut doc,
        &["thresholds", "forecast_horizon_mins"],
        value(s.forecast_horizon_mins),
    );
    set(
        &mut doc,
        &["notifications", "enabled"],
        value(s.notifications_enabled),
    );
    set(
        &mut doc,
        &["notifications", "min_repeat_mins"],
        value(s.min_repeat_mins),
    );
    set_probes(&mut doc, &s.probes);
    let text = doc.to_string();
    let config = config::parse(&text, file).map_err(|e| {
        let field = e
            .line
            .and_then(|l| field_at_line(&text, l))
            .unwrap_or_else(|| "file".to_string());
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

/// Writes `bytes` to `path` through a synced temporary file in the same directory.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp: PathBuf = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("config.toml"),
        std::process::id()
    ));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        // Keep the user's permissions on the file (it may be 0600).
        if let Ok(meta) = std::fs::metadata(path) {
            std::fs::set_permissions(&tmp, meta.permissions())?;
        }
        std::fs::rename(&tmp, path)?;
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

/// Sets a key, creating its table as a `[table]` (not an inline one) when missing and
/// keeping the comments around an existing value.
fn set(doc: &mut DocumentMut, path: &[&str], new: Item) {
    let (key, tables) = match path.split_last() {
        Some(x) => x,
        None => return,
    };
    let mut table: &mut Table = doc.as_table_mut();
    for name in tables {
        if !table.contains_key(name) || !table[*name].is_table() {
            let mut t = Table::new();
            t.set_implicit(false);
            table.insert(name, Item::Table(t));
        }
        table = match table[*name].as_table_mut() {
            Some(t) => t,
            None => return,
        };
    }
    replace_keeping_decor(table, key, new);
}

fn replace_keeping_decor(table: &mut Table, key: &str, new: Item) {
    match (table.get_mut(key).and_then(|i| i.as_value_mut()), new) {
        (Some(old), Item::Value(mut v)) => {
            *v.decor_mut() = old.decor().clone();
            *old = v;
        }
        (_, new) => {
            table.insert(key, new);
        }
    }
}

fn set_or_remove(table: &mut Table, key: &str, v: Option<Item>) {
    match v {
        Some(v) => replace_keeping_decor(table, key, v),
        None => {
            table.remove(key);
        }
    }
}

/// Updates `[[probe]]` tables in place (so comments inside them survive), removes the
/// ones no longer wanted and appends new ones.
fn set_probes(doc: &mut DocumentMut, probes: &[ProbeTarget]) {
    if probes.is_empty() {
        // No targets at all must be said explicitly, or the default target comes back.
        let empty = Item::Value(Value::Array(Array::new()));
        if doc.get("probe").is_some_and(Item::is_value) {
            replace_keeping_decor(doc.as_table_mut(), "probe", empty);
        } else {
            doc.remove("probe");
            doc.insert("probe", empty);
        }
        return;
    }
    if !doc.contains_key("probe") || !doc["probe"].is_array_of_tables() {
        doc.insert("probe", Item::ArrayOfTables(ArrayOfTables::new()));
    }
    let Some(aot) = doc["probe"].as_array_of_tables_mut() else {
        return;
    };
    while aot.len() > probes.len() {
        aot.remove(aot.len() - 1);
    }
    while aot.len() < probes.len() {
        aot.push(Table::new());
    }
    let defaults = ProbeTarget::default();
    for (t, p) in aot.iter_mut().zip(probes) {
        replace_keeping_decor(t, "name", value(p.name.as_str()));
        replace_keeping_decor(t, "host", value(p.host.as_str()));
        replace_keeping_decor(t, "port", value(i64::from(p.port)));
        replace_keeping_decor(
            t,
            "tls",
            value(match p.tls {
                TlsMode::None => "none",
                TlsMode::Starttls => "starttls",
                TlsMode::Implicit => "implicit",
            }),
        );
        replace_keeping_decor(t, "interval_secs", value(p.interval_secs));
        replace_keeping_decor(t, "timeout_secs", value(p.timeout_secs));
        set_or_remove(t, "helo", p.helo.as_deref().map(value));
        set_or_remove(
            t,
            "mail_from",
            (p.mail_from != defaults.mail_from).then(|| value(p.mail_from.as_str())),
        );
        set_or_remove(t, "rcpt_to", p.rcpt_to.as_deref().map(value));
        set_or_remove(t, "send", p.send.then(|| value(true)));
        set_or_remove(t, "username", p.username.as_deref().map(value));
        set_or_remove(t, "verify_tls", (!p.verify_tls).then(|| value(false)));
    }
}

/// The dotted name of the key on a 1-based line, for error messages the window can
/// attach to a field (`thresholds.warn_ratio`, `probe[1].port`).
fn field_at_line(text: &str, line: usize) -> Option<String> {
    let mut section = String::new();
    let mut probe_index: Option<usize> = None;
    for (i, l) in text.lines().enumerate() {
        let t = l.trim();
        if let Some(name) = t.strip_prefix("[[").and_then(|r| r.strip_suffix("]]")) {
            if name.trim() == "probe" {
                probe_index = Some(probe_index.map_or(0, |n| n + 1));
                section = format!("probe[{}]", probe_index.unwrap_or(0));
            } else {
                section = name.trim().to_string();
            }
        } else if let Some(name) = t.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            section = name.trim().to_string();
        }
        if i + 1 == line {
            let key = t
                .split('=')
                .next()
                .map(str::trim)
                .filter(|k| !k.is_empty() && !k.starts_with('['));
            return Some(match (key, section.is_empty()) {
                (Some(k), false) => format!("{section}.{k}"),
                (Some(k), true) => k.to_string(),
                (None, _) => section,
            });
        }
    }
    None
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
        assert_eq!(c.mta.kind, config::MtaKind::Postfix);
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

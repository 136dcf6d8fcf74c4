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

use crate::config::{self, Config, Key, ProbeTarget, ServerEntry, TlsMode};

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
    /// `[[server]]`: the agents the desktop watches (tokens are in the keyring, not here).
    pub servers: Vec<ServerEntry>,
    /// `[local] enabled`: whether the desktop also watches this machine.
    pub local_enabled: bool,
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
            servers: c.servers.clone(),
            local_enabled: c.local.enabled,
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
    // Written only when they say something: a file without servers stays without.
    if !s.local_enabled || doc.get("local").is_some() {
        set(
            &mut doc,
            &["local", "enabled"],
            Value::from(s.local_enabled),
        );
    }
    if !s.servers.is_empty() || doc.get("server").is_some() {
        set_servers(&mut doc, &s.servers);
    }
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

/// Rewrites `[[server]]` in the form's order (its index is the form's), keeping a
/// table's comments when a server of the same name was there.
fn set_servers(doc: &mut DocumentMut, servers: &[ServerEntry]) {
    let old: Vec<Table> = match doc.get("server") {
        Some(Item::ArrayOfTables(a)) => a.iter().cloned().collect(),
        _ => Vec::new(),
    };
    let mut tables = ArrayOfTables::new();
    for e in servers {
        let mut t = old
            .iter()
            .find(|t| t.get("name").and_then(Item::as_str) == Some(e.name.as_str()))
            .cloned()
            .unwrap_or_default();
        let text = |v: &Option<String>| v.as_deref().map(Value::from);
        put(&mut t, "name", Some(Value::from(e.name.as_str())));
        put(&mut t, "url", text(&e.url));
        put(&mut t, "fingerprint", text(&e.fingerprint));
        put(&mut t, "ssh", text(&e.ssh));
        put(
            &mut t,
            "ssh_port",
            e.ssh_port.map(|p| Value::from(i64::from(p))),
        );
        put(&mut t, "ssh_config", text(&e.ssh_config));
        put(&mut t, "ssh_command", text(&e.ssh_command));
        tables.push(t);
    }
    doc.remove("server");
    if !servers.is_empty() {
        doc.insert("server", Item::ArrayOfTables(tables));
    }
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
mod tests;

//! Configuration: the TOML file of DESIGN.md, its defaults, and validation errors that
//! name the file, line and column.
//!
//! Every key has a default, so no file at all is a valid configuration. Unknown keys are
//! errors: a typo such as `warn_ration` must not silently fall back to a default.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::item::ItemId;
pub use crate::probe::{ProbeTarget, TlsMode};

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub monitor: MonitorConfig,
    pub mta: MtaConfig,
    #[serde(rename = "probe")]
    pub probes: Vec<ProbeTarget>,
    pub thresholds: Thresholds,
    pub notifications: Notifications,
    #[serde(rename = "maillog")]
    pub maillogs: Vec<MaillogSource>,
    pub history: HistoryConfig,
    /// `headroom-cli serve` (the agent).
    pub agent: AgentConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            monitor: MonitorConfig::default(),
            mta: MtaConfig::default(),
            probes: vec![ProbeTarget::default()],
            thresholds: Thresholds::default(),
            notifications: Notifications::default(),
            maillogs: Vec::new(),
            history: HistoryConfig::default(),
            agent: AgentConfig::default(),
        }
    }
}

/// `[agent]`: what `headroom-cli serve` allows beyond its defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct AgentConfig {
    /// Serve `/metrics` without a token, for Prometheus setups that scrape without
    /// credentials; every other endpoint still needs one.
    pub metrics_public: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MonitorConfig {
    /// Host, MTA and queue sampling interval.
    pub interval_secs: f64,
    /// How much recent history the monitor keeps in memory (for charts and forecasts).
    pub memory_history_mins: u32,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        MonitorConfig {
            interval_secs: 5.0,
            memory_history_mins: 60,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum MtaKind {
    #[default]
    Auto,
    Postfix,
    Exim,
    Opensmtpd,
    Sendmail,
    None,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct MtaConfig {
    pub kind: MtaKind,
    /// Another Postfix instance: read with `postconf -c`, `postqueue -c`.
    pub config_dir: Option<PathBuf>,
}

/// Ratios at which an item turns warning and critical, with per-item overrides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Thresholds {
    pub warn_ratio: f64,
    pub crit_ratio: f64,
    pub forecast_horizon_mins: f64,
    /// A level is left only once the ratio is this far below its entry point …
    pub hysteresis: f64,
    /// … and has stayed there this long, so levels do not flap.
    pub min_dwell_secs: f64,
    /// Per-item overrides, keyed by item id (`[thresholds.items.cpu]`); an unknown id
    /// is a parse error with its line and column.
    pub items: BTreeMap<ItemId, ItemThresholds>,
    /// A probe dialogue slower than this is at its limit (`probe_latency`).
    pub probe_latency_budget_ms: f64,
    /// How old the oldest queued message may get before it counts against its limit;
    /// without it the limit is the server's own maximal_queue_lifetime.
    pub oldest_message_budget_hours: Option<f64>,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            warn_ratio: 0.80,
            crit_ratio: 0.95,
            forecast_horizon_mins: 30.0,
            hysteresis: 0.05,
            min_dwell_secs: 60.0,
            items: BTreeMap::new(),
            probe_latency_budget_ms: 5000.0,
            oldest_message_budget_hours: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ItemThresholds {
    pub warn_ratio: Option<f64>,
    pub crit_ratio: Option<f64>,
}

impl Thresholds {
    /// (warn, crit) for one item, overrides applied.
    pub fn for_item(&self, id: ItemId) -> (f64, f64) {
        let o = self.items.get(&id);
        (
            o.and_then(|o| o.warn_ratio).unwrap_or(self.warn_ratio),
            o.and_then(|o| o.crit_ratio).unwrap_or(self.crit_ratio),
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Notifications {
    pub enabled: bool,
    pub min_repeat_mins: f64,
}

impl Default for Notifications {
    fn default() -> Self {
        Notifications {
            enabled: true,
            min_repeat_mins: 10.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct MaillogSource {
    /// A log file to follow across rotation; without it, journald (`journalctl`).
    pub path: Option<PathBuf>,
    /// Read the last so many minutes of the log at start (0: start at its end).
    pub backfill_mins: f64,
}

/// The SQLite history (`[history]`): how long each resolution is kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HistoryConfig {
    pub enabled: bool,
    /// Raw samples, one per tick.
    pub raw_hours: u32,
    /// 1-minute roll-ups (min, max, avg, count).
    pub minute_days: u32,
    /// 1-hour roll-ups.
    pub hour_days: u32,
    /// The database file; default `$XDG_DATA_HOME/headroom/history.sqlite3`.
    pub path: Option<PathBuf>,
}

impl Default for HistoryConfig {
    fn default() -> Self {
        HistoryConfig {
            enabled: true,
            raw_hours: 24,
            minute_days: 30,
            hour_days: 365,
            path: None,
        }
    }
}

impl HistoryConfig {
    /// The database file: `path` when set, else `history.sqlite3` in [`data_dir`].
    pub fn file(&self) -> Option<PathBuf> {
        self.path
            .clone()
            .or_else(|| data_dir().map(|d| d.join("history.sqlite3")))
    }
}

/// A configuration problem, located in its file where possible.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct ConfigError {
    pub file: PathBuf,
    /// 1-based line and column; `None` when the problem has no place (unreadable file).
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
    /// The key at fault for a validation error (`[probe, 1, port]`); empty for errors
    /// of syntax, type or unknown keys, which only have a position.
    pub key_path: Vec<Key>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => {
                write!(f, "{}:{}:{}: {}", self.file.display(), l, c, self.message)
            }
            _ => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

/// Where the configuration file lives: `$XDG_CONFIG_HOME/headroom/config.toml`.
pub fn default_path() -> Option<PathBuf> {
    xdg_dir("XDG_CONFIG_HOME", ".config").map(|d| d.join("headroom").join("config.toml"))
}

/// Where history and other state live: `$XDG_DATA_HOME/headroom`.
pub fn data_dir() -> Option<PathBuf> {
    xdg_dir("XDG_DATA_HOME", ".local/share").map(|d| d.join("headroom"))
}

fn xdg_dir(var: &str, fallback: &str) -> Option<PathBuf> {
    match std::env::var_os(var) {
        Some(v) if Path::new(&v).is_absolute() => Some(PathBuf::from(v)),
        _ => std::env::var_os("HOME").map(|h| PathBuf::from(h).join(fallback)),
    }
}

/// Loads the configuration.
///
/// With `explicit` set the file must exist. Without it, the XDG path is used when the
/// file exists and the defaults otherwise.
pub fn load(explicit: Option<&Path>) -> Result<Config, ConfigError> {
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None => match default_path() {
            Some(p) if p.exists() => p,
            _ => return Ok(Config::default()),
        },
    };
    let text = std::fs::read_to_string(&path).map_err(|e| ConfigError {
        file: path.clone(),
        line: None,
        column: None,
        message: format!("cannot read configuration: {e}"),
        key_path: Vec::new(),
    })?;
    parse(&text, &path)
}

/// Parses and validates configuration text; `file` is only used in errors.
pub fn parse(text: &str, file: &Path) -> Result<Config, ConfigError> {
    let config: Config = toml::from_str(text).map_err(|e| {
        let (line, column) = match e.span() {
            Some(span) => line_col(text, span.start),
            None => (1, 1),
        };
        ConfigError {
            file: file.to_path_buf(),
            line: Some(line),
            column: Some(column),
            message: e.message().to_string(),
            key_path: Vec::new(),
        }
    })?;
    if let Err((key_path, message)) = validate(&config) {
        let (line, column) = locate(text, &key_path).unwrap_or((1, 1));
        return Err(ConfigError {
            file: file.to_path_buf(),
            line: Some(line),
            column: Some(column),
            message,
            key_path,
        });
    }
    Ok(config)
}

/// A key path into the TOML document: table names, array indexes and keys.
#[derive(Debug, Clone, PartialEq)]
pub enum Key {
    Name(String),
    Index(usize),
}

fn k(name: &str) -> Key {
    Key::Name(name.to_string())
}

type Invalid = (Vec<Key>, String);

/// Longest sampling or probe interval, and probe timeout: an hour.
pub const MAX_INTERVAL_SECS: f64 = 3600.0;
/// Longest look-back of a backfill or a forecast, and longest repeat delay: a week.
pub const MAX_WEEK_MINS: f64 = 7.0 * 24.0 * 60.0;

/// Checks what serde cannot: ranges and relations between values. Every duration is
/// bounded here, so the monitor can turn each into a timer without overflow.
pub fn validate(c: &Config) -> Result<(), Invalid> {
    let interval = c.monitor.interval_secs;
    let at = vec![k("monitor"), k("interval_secs")];
    positive(interval, at.clone())?;
    if interval < 0.2 {
        return Err((
            at,
            format!("interval_secs = {interval} is too short; the minimum is 0.2"),
        ));
    }
    at_most(interval, MAX_INTERVAL_SECS, at)?;
    if c.monitor.memory_history_mins == 0 || c.monitor.memory_history_mins > 24 * 60 {
        return Err((
            vec![k("monitor"), k("memory_history_mins")],
            "memory_history_mins must be between 1 and 1440".into(),
        ));
    }
    let t = &c.thresholds;
    let th = |key: &str| vec![k("thresholds"), k(key)];
    check_ratio_pair(t.warn_ratio, t.crit_ratio, vec![k("thresholds")])?;
    positive(t.forecast_horizon_mins, th("forecast_horizon_mins"))?;
    at_most(
        t.forecast_horizon_mins,
        MAX_WEEK_MINS,
        th("forecast_horizon_mins"),
    )?;
    if !(0.0..0.5).contains(&t.hysteresis) {
        return Err((
            th("hysteresis"),
            format!(
                "hysteresis = {} must be at least 0 and below 0.5",
                t.hysteresis
            ),
        ));
    }
    if let Some(h) = t.oldest_message_budget_hours {
        // A month: far beyond any MTA's queue lifetime (Postfix 5 days, Exim 4).
        positive(h, th("oldest_message_budget_hours"))?;
        at_most(h, 30.0 * 24.0, th("oldest_message_budget_hours"))?;
    }
    non_negative(t.min_dwell_secs, th("min_dwell_secs"))?;
    at_most(t.min_dwell_secs, 24.0 * 3600.0, th("min_dwell_secs"))?;
    positive(t.probe_latency_budget_ms, th("probe_latency_budget_ms"))?;
    at_most(
        t.probe_latency_budget_ms,
        MAX_INTERVAL_SECS * 1000.0,
        th("probe_latency_budget_ms"),
    )?;
    for id in t.items.keys() {
        let (w, cr) = t.for_item(*id);
        check_ratio_pair(w, cr, vec![k("thresholds"), k("items"), k(id.as_str())])?;
    }
    let repeat = vec![k("notifications"), k("min_repeat_mins")];
    non_negative(c.notifications.min_repeat_mins, repeat.clone())?;
    at_most(c.notifications.min_repeat_mins, MAX_WEEK_MINS, repeat)?;
    validate_history(&c.history)?;
    for (i, m) in c.maillogs.iter().enumerate() {
        let at = vec![k("maillog"), Key::Index(i), k("backfill_mins")];
        non_negative(m.backfill_mins, at.clone())?;
        at_most(m.backfill_mins, MAX_WEEK_MINS, at)?;
    }
    let mut names = std::collections::HashSet::new();
    for (i, p) in c.probes.iter().enumerate() {
        let at = |key: &str| vec![k("probe"), Key::Index(i), k(key)];
        if p.name.trim().is_empty() {
            return Err((at("name"), "probe name must not be empty".into()));
        }
        if !names.insert(p.name.as_str()) {
            return Err((at("name"), format!("probe name `{}` is used twice", p.name)));
        }
        // The probe's own check, so a target that loads is a target that runs.
        crate::probe::check_target(p).map_err(|e| (at(e.field), e.message))?;
    }
    Ok(())
}

fn validate_history(h: &HistoryConfig) -> Result<(), Invalid> {
    let at = |key: &str| vec![k("history"), k(key)];
    // Roll-ups are computed from raw samples: at least an hour of them must be kept.
    for (key, v, max) in [
        ("raw_hours", h.raw_hours, 24 * 366),
        ("minute_days", h.minute_days, 3660),
        ("hour_days", h.hour_days, 36600),
    ] {
        if v == 0 || v > max {
            return Err((at(key), format!("{key} = {v} must be between 1 and {max}")));
        }
    }
    if let Some(p) = &h.path {
        if !p.is_absolute() {
            return Err((
                at("path"),
                format!("path = \"{}\" must be an absolute path", p.display()),
            ));
        }
    }
    Ok(())
}

fn positive(v: f64, at: Vec<Key>) -> Result<(), Invalid> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err((
            at.clone(),
            format!("{} = {v} must be a positive number", last(&at)),
        ))
    }
}

/// For values already known to be finite.
fn at_most(v: f64, max: f64, at: Vec<Key>) -> Result<(), Invalid> {
    if v <= max {
        Ok(())
    } else {
        Err((
            at.clone(),
            format!("{} = {v} is too long; it may be at most {max}", last(&at)),
        ))
    }
}

fn non_negative(v: f64, at: Vec<Key>) -> Result<(), Invalid> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err((
            at.clone(),
            format!("{} = {v} must be zero or more", last(&at)),
        ))
    }
}

fn last(at: &[Key]) -> String {
    match at.last() {
        Some(Key::Name(n)) => n.clone(),
        Some(Key::Index(i)) => i.to_string(),
        None => String::new(),
    }
}

fn check_ratio_pair(warn: f64, crit: f64, table: Vec<Key>) -> Result<(), Invalid> {
    let with = |key: &str| {
        let mut p = table.clone();
        p.push(k(key));
        p
    };
    if !warn.is_finite() || warn < 0.0 {
        return Err((
            with("warn_ratio"),
            format!("warn_ratio = {warn} must be zero or more"),
        ));
    }
    if !crit.is_finite() || crit <= 0.0 {
        return Err((
            with("crit_ratio"),
            format!("crit_ratio = {crit} must be above zero"),
        ));
    }
    if warn > crit {
        return Err((
            with("warn_ratio"),
            format!("warn_ratio = {warn} is above crit_ratio = {crit}; warning must come first"),
        ));
    }
    Ok(())
}

/// Finds the 1-based line and column of a key path in the document: the value when
/// it is there, else the key, else the nearest enclosing table that exists.
fn locate(text: &str, path: &[Key]) -> Option<(usize, usize)> {
    let doc: toml_edit::Document<String> = text.parse().ok()?;
    let mut item: &toml_edit::Item = doc.as_item();
    let mut best = None;
    for key in path {
        let (key_span, next) = match key {
            Key::Name(n) => match item.as_table_like().and_then(|t| t.get_key_value(n)) {
                Some((k, v)) => (k.span(), Some(v)),
                None => (None, None),
            },
            Key::Index(i) => (None, item.get(*i)),
        };
        let Some(next) = next else { break };
        item = next;
        best = item.span().or(key_span).map(|s| s.start).or(best);
    }
    best.map(|b| line_col(text, b))
}

/// 1-based (line, column) of a byte offset; the column counts characters.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let column = text[line_start..offset].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> ConfigError {
        parse(text, Path::new("/etc/headroom.toml")).expect_err("config should be rejected")
    }

    #[test]
    fn empty_file_gives_the_documented_defaults() {
        let c = parse("", Path::new("x.toml")).expect("empty config is valid");
        assert_eq!(c, Config::default());
        assert_eq!(c.monitor.interval_secs, 5.0);
        assert_eq!(c.mta.kind, MtaKind::Auto);
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
        assert_eq!(c.mta.kind, MtaKind::Postfix);
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
}

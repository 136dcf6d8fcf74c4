//! Configuration: the TOML file of DESIGN.md, its defaults, and validation errors that
//! name the file, line and column.
//!
//! Every key has a default, so no file at all is a valid configuration. Unknown keys are
//! errors: a typo such as `warn_ration` must not silently fall back to a default.
//!
//! Long (~510 lines): every table of the file with its defaults, and the one
//! validation pass that gives each range error its key path; tests live in config/tests.rs.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::item::ItemId;
pub use servers::{LocalConfig, ServerEntry, Transport};

mod servers;
pub use crate::probe::{ProbeTarget, TlsMode};
pub use servers::{
    display_fingerprint, normalize_fingerprint, token_account, valid_name, AgentUrl, LOCAL_ID,
};
pub use webhook::{MinLevel, NotifyConfig, Webhook, WebhookAuth, WebhookPreset, MAX_WEBHOOKS};

mod webhook;

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
    pub dns: DnsConfig,
    pub tls: TlsConfig,
    /// `headroom-cli serve` (the agent).
    pub agent: AgentConfig,
    /// `[[server]]`: mail servers the desktop watches through their agents.
    #[serde(rename = "server")]
    pub servers: Vec<ServerEntry>,
    /// `[local]`: whether the desktop also watches this machine.
    pub local: LocalConfig,
    /// Headless alert routes (`[[notify.webhook]]`).
    pub notify: NotifyConfig,
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
            dns: DnsConfig::default(),
            tls: TlsConfig::default(),
            agent: AgentConfig::default(),
            servers: Vec::new(),
            local: LocalConfig::default(),
            notify: NotifyConfig::default(),
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
/// Which mail server to read: one by name, the one found here (`auto`), or none.
pub enum MtaChoice {
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
    pub kind: MtaChoice,
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

/// Domain health (`[dns]`): the DNS side of deliverability, checked every
/// `interval_mins` — blocklists, reverse DNS and the sending domains' mail records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DnsConfig {
    /// Run these checks in the monitor (the app, `watch`, `check`, the agent) every
    /// `interval_mins`: `true` always, `false` never. Unset (the default): on a mail
    /// server (an MTA found or named here, or `outbound`/`domains` set), checking what
    /// it can find out by itself and leaving out with a note what it cannot; not at
    /// all elsewhere (`domain::scope_of`, docs/DOMAIN_HEALTH.md). `headroom-cli dns`
    /// runs them whatever this says.
    pub watch: Option<bool>,
    /// `"system"` (resolv.conf) or `"IP"` / `"IP:PORT"` / `"[IPv6]:PORT"`: every
    /// look-up of the checks goes there.
    pub resolver: String,
    pub interval_mins: f64,
    /// Our sending addresses; empty: Postfix `smtp_bind_address(6)`, else the source
    /// address of the default routes.
    pub outbound: Vec<std::net::IpAddr>,
    /// The name we greet receivers with; default: `smtp_helo_name`, else `myhostname`.
    pub helo: Option<String>,
    /// Our sending domains; empty: Postfix `mydomain` (Exim `qualify_domain`).
    pub domains: Vec<String>,
    /// DNSBL zones to look our addresses up in (`[]` turns the check off). A zone
    /// under `dq.spamhaus.net` is Spamhaus' Data Query Service: its key comes from the
    /// OS keyring (service `headroom`, account `dqs@spamhaus`).
    pub dnsbl: Vec<String>,
}

/// The DNSBL zones checked by default; docs/DOMAIN_HEALTH.md has each one's usage
/// rules. All three are free for a mail server checking its own addresses at this
/// volume and need no registration (Barracuda's needs one, so it is opt-in).
pub const DEFAULT_DNSBL_ZONES: [&str; 3] =
    ["zen.spamhaus.org", "bl.spamcop.net", "psbl.surriel.com"];

impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig {
            watch: None,
            resolver: "system".into(),
            interval_mins: 15.0,
            outbound: Vec::new(),
            helo: None,
            domains: Vec::new(),
            dnsbl: DEFAULT_DNSBL_ZONES.iter().map(|z| z.to_string()).collect(),
        }
    }
}

/// Where the domain checks send their DNS queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResolverAddr {
    /// The system's resolvers, from /etc/resolv.conf.
    System,
    Server(std::net::SocketAddr),
}

impl DnsConfig {
    /// `resolver` read: "system", "IP" (port 53), "IP:PORT" or "[IPv6]:PORT".
    pub fn resolver_addr(&self) -> Result<ResolverAddr, String> {
        let r = self.resolver.trim();
        if r == "system" {
            return Ok(ResolverAddr::System);
        }
        if let Ok(ip) = r.parse::<std::net::IpAddr>() {
            return Ok(ResolverAddr::Server((ip, 53).into()));
        }
        match r.parse::<std::net::SocketAddr>() {
            Ok(a) if a.port() != 0 => Ok(ResolverAddr::Server(a)),
            _ => Err(format!(
                "resolver = \"{r}\" is neither \"system\" nor an address (\"IP\", \"IP:PORT\" or \"[IPv6]:PORT\")"
            )),
        }
    }
}

/// `[tls]`: when the served certificate's remaining life turns `tls_cert_expiry`
/// warning and critical.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    pub warn_days: f64,
    pub crit_days: f64,
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            warn_days: 14.0,
            crit_days: 3.0,
        }
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
    config_home().map(|d| d.join("headroom").join("config.toml"))
}

/// The user's configuration directory: `$XDG_CONFIG_HOME`, or `~/.config` when it is
/// unset or not absolute (as the XDG Base Directory spec says).
pub fn config_home() -> Option<PathBuf> {
    xdg_dir("XDG_CONFIG_HOME", ".config")
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
    validate_dns(&c.dns)?;
    validate_tls(&c.tls)?;
    servers::validate(&c.servers)?;
    webhook::validate_notify(&c.notify)?;
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

fn validate_dns(d: &DnsConfig) -> Result<(), Invalid> {
    let at = |key: &str| vec![k("dns"), k(key)];
    d.resolver_addr().map_err(|m| (at("resolver"), m))?;
    positive(d.interval_mins, at("interval_mins"))?;
    // Blocklists ask for no more than one look-up per address every few minutes; a
    // day is the other end.
    if d.interval_mins < 1.0 {
        return Err((
            at("interval_mins"),
            format!(
                "interval_mins = {} is too short; the minimum is 1",
                d.interval_mins
            ),
        ));
    }
    at_most(d.interval_mins, 24.0 * 60.0, at("interval_mins"))?;
    if let Some(h) = &d.helo {
        if !crate::probe::is_domain_name(h) {
            return Err((
                at("helo"),
                format!("helo = \"{h}\" is not a host name (letters, digits, '-' and '.')"),
            ));
        }
    }
    for (key, list) in [("domains", &d.domains), ("dnsbl", &d.dnsbl)] {
        for (i, name) in list.iter().enumerate() {
            if !crate::probe::is_domain_name(name) || !name.trim_end_matches('.').contains('.') {
                return Err((
                    vec![k("dns"), k(key), Key::Index(i)],
                    format!("{key}[{i}] = \"{name}\" is not a domain name"),
                ));
            }
        }
    }
    if d.dnsbl.len() > 32 {
        return Err((
            at("dnsbl"),
            format!("{} DNSBL zones; at most 32", d.dnsbl.len()),
        ));
    }
    if d.outbound.len() > 32 {
        return Err((
            at("outbound"),
            format!("{} outbound addresses; at most 32", d.outbound.len()),
        ));
    }
    Ok(())
}

fn validate_tls(t: &TlsConfig) -> Result<(), Invalid> {
    let at = |key: &str| vec![k("tls"), k(key)];
    positive(t.warn_days, at("warn_days"))?;
    positive(t.crit_days, at("crit_days"))?;
    at_most(t.warn_days, 365.0, at("warn_days"))?;
    if t.crit_days > t.warn_days {
        return Err((
            at("crit_days"),
            format!(
                "crit_days = {} is above warn_days = {}; the warning must come first",
                t.crit_days, t.warn_days
            ),
        ));
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
mod tests;

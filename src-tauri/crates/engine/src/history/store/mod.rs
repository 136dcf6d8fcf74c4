//! The SQLite history: samples of every tick, level transitions and snoozes (the alert
//! log), and probe results, in one file (`$XDG_DATA_HOME/headroom/history.sqlite3`).
//!
//! - One transaction per tick, so a `kill -9` loses at most the tick being written.
//!   WAL with `synchronous=NORMAL`: a commit is durable against a crashed process (the
//!   WAL is in the page cache), only a power cut may lose the last commits.
//! - Raw samples are kept `raw_hours`, 1-minute roll-ups `minute_days`, 1-hour roll-ups
//!   `hour_days`. Roll-ups are computed incrementally for completed periods and old
//!   rows pruned at most once a minute, all by the tick's own timestamp: the store has
//!   no clock, so tests drive it with synthetic time.
//! - The file is identified before anything is written to it (`file.rs`): only a new
//!   file or Headroom's own (`PRAGMA application_id` "HdRm") is opened; another
//!   program's file is refused and left untouched. One process writes at a time
//!   (`<file>.lock`); a second one runs without history and says why.
//! - A Headroom file that fails `quick_check` or reads as damaged is moved aside
//!   (`history.sqlite3.corrupt-<unix-ts>`) and a fresh one created; [`OpenOutcome`]
//!   says so, so the window can tell the user.
//!
//! [`History`] wraps a store for the app and the CLI: shared, never fatal, degraded with
//! a reason when the disk is full or the directory unwritable, retrying a minute later.
//!
//! Long (~660 lines): opening (the file check, the lock, the schema) and writing a tick
//! share one connection and one transaction; reading lives in query.rs, roll-ups in rollup.rs.

mod file;
mod handle;
mod query;
mod rollup;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, ErrorCode, Transaction};
use serde::{Deserialize, Serialize};

use crate::assess::Level;
use crate::config::HistoryConfig;
use crate::probe::ProbeResult;
use crate::tick::Tick;
use crate::time::Ts;

pub use file::APPLICATION_ID;
pub use handle::{History, HistoryStatus};
pub use query::Resolution;
pub use rollup::Rollup;

/// `PRAGMA cache_size` of the history: 512 KiB (SQLite reads a negative size as KiB).
const CACHE_SIZE: i64 = -512;

/// The schema this code writes (`PRAGMA user_version`).
const SCHEMA_VERSION: i64 = 1;

/// How long another writer (a second Headroom on the same file) may hold the lock
/// before a tick gives up: short, because the tick waits for it.
const BUSY_TIMEOUT: Duration = Duration::from_secs(1);

const SCHEMA: &str = "
CREATE TABLE metric (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
-- Keyed by time first: a tick's rows land together at the end of the tree, so a commit
-- dirties a page or two instead of one page per metric.
CREATE TABLE sample (
    ts REAL NOT NULL, metric INTEGER NOT NULL, value REAL,
    PRIMARY KEY (ts, metric)) WITHOUT ROWID;
CREATE TABLE minute (
    start INTEGER NOT NULL, metric INTEGER NOT NULL,
    min REAL NOT NULL, max REAL NOT NULL, sum REAL NOT NULL, count INTEGER NOT NULL,
    PRIMARY KEY (start, metric)) WITHOUT ROWID;
CREATE INDEX minute_by_metric ON minute (metric, start, sum, count);
CREATE TABLE hour (
    start INTEGER NOT NULL, metric INTEGER NOT NULL,
    min REAL NOT NULL, max REAL NOT NULL, sum REAL NOT NULL, count INTEGER NOT NULL,
    PRIMARY KEY (start, metric)) WITHOUT ROWID;
CREATE INDEX hour_by_metric ON hour (metric, start, sum, count);
CREATE TABLE alert (
    id INTEGER PRIMARY KEY, ts REAL NOT NULL, kind TEXT NOT NULL,
    item TEXT, level TEXT, previous TEXT,
    used REAL, lim REAL, ratio REAL, forecast_s REAL, until REAL,
    message TEXT NOT NULL);
CREATE INDEX alert_by_ts ON alert (ts);
CREATE TABLE probe (
    id INTEGER PRIMARY KEY, ts REAL NOT NULL, name TEXT NOT NULL, target TEXT NOT NULL,
    outcome TEXT NOT NULL, phase TEXT NOT NULL,
    code INTEGER, enhanced TEXT, reply TEXT, class TEXT NOT NULL,
    total_ms REAL NOT NULL, timings TEXT NOT NULL, detail TEXT,
    UNIQUE (name, ts));
CREATE INDEX probe_by_ts ON probe (ts);
-- Roll-up progress: periods before `minute_done` / `hour_done` are rolled up.
CREATE TABLE meta (key TEXT PRIMARY KEY, value REAL NOT NULL) WITHOUT ROWID;
";

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("{context}: {source}")]
    Sqlite {
        context: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// The file is damaged (`quick_check` said so); opening moves it aside.
    #[error("{0}")]
    Corrupt(String),
    /// History is off or could not be opened; the reason is in the message.
    #[error("{0}")]
    Unavailable(String),
    /// The configured file is not Headroom's (another program's database, a text
    /// file, a directory): refused and left untouched.
    #[error("history {}: {why}; Headroom leaves it untouched and records no history — set [history] path to another file", path.display())]
    NotOurs { path: PathBuf, why: String },
    /// Another process holds the writer's lock.
    #[error("history {} is being written by another Headroom process ({}); this one runs without history", path.display(), pid.map_or("pid unknown".to_string(), |p| format!("pid {p}")))]
    Locked { path: PathBuf, pid: Option<u32> },
}

impl HistoryError {
    /// The file is not a usable database: move it aside rather than retry.
    pub fn is_corruption(&self) -> bool {
        match self {
            HistoryError::Corrupt(_) => true,
            HistoryError::Sqlite { source, .. } => matches!(
                source.sqlite_error_code(),
                Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase)
            ),
            _ => false,
        }
    }

    /// A short machine-readable kind for the UI (`{kind, message}`).
    pub fn kind(&self) -> &'static str {
        match self {
            HistoryError::Sqlite { .. } => "history_sqlite",
            HistoryError::Io { .. } => "history_io",
            HistoryError::Corrupt(_) => "history_corrupt",
            HistoryError::Unavailable(_) => "history_unavailable",
            HistoryError::NotOurs { .. } => "history_not_ours",
            HistoryError::Locked { .. } => "history_locked",
        }
    }
}

trait Context<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T, HistoryError>;
}

impl<T> Context<T> for rusqlite::Result<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T, HistoryError> {
        self.map_err(|source| HistoryError::Sqlite {
            context: what(),
            source,
        })
    }
}

/// How long each resolution is kept, in seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Retention {
    pub raw_s: f64,
    pub minute_s: f64,
    pub hour_s: f64,
}

impl Default for Retention {
    fn default() -> Self {
        Retention::from(&HistoryConfig::default())
    }
}

impl From<&HistoryConfig> for Retention {
    fn from(c: &HistoryConfig) -> Self {
        Retention {
            raw_s: f64::from(c.raw_hours) * 3600.0,
            minute_s: f64::from(c.minute_days) * 86400.0,
            hour_s: f64::from(c.hour_days) * 86400.0,
        }
    }
}

/// An opened store, and where the damaged file it replaced went, if it replaced one.
pub struct OpenOutcome {
    pub store: Store,
    pub recovered_from: Option<PathBuf>,
}

/// One line of the alert log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// An item changed level.
    Transition,
    /// Alerts were snoozed until `until` (or the snooze ended: `until` is `None`).
    Snooze,
}

impl AlertKind {
    fn as_str(self) -> &'static str {
        match self {
            AlertKind::Transition => "transition",
            AlertKind::Snooze => "snooze",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertRecord {
    pub ts: Ts,
    pub kind: AlertKind,
    pub item: Option<String>,
    pub level: Option<Level>,
    pub previous: Option<Level>,
    pub used: Option<f64>,
    pub limit: Option<f64>,
    pub ratio: Option<f64>,
    pub forecast_s: Option<f64>,
    pub until: Option<Ts>,
    pub message: String,
}

/// The history database: one connection, used by one writer at a time.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    retention: Retention,
    /// Metric name → id; cleared when a write fails (the ids of a rolled-back
    /// transaction do not exist).
    metric_ids: HashMap<String, i64>,
    rollup: Option<rollup::Progress>,
    last_prune: Option<Ts>,
    /// The newest probe result stored per target: the snapshot repeats it every tick.
    probes_seen: HashMap<String, Ts>,
    /// This process is the file's one writer while it holds this (`None`: a reader).
    _lock: Option<file::WriterLock>,
}

impl Store {
    /// Opens (creating it and its directory when missing) the history at `path` as
    /// its one writer. A damaged Headroom file is moved aside and replaced by a fresh
    /// one, which the outcome reports for the caller to show. A file that is not
    /// Headroom's ([`HistoryError::NotOurs`]), a file another process is writing
    /// ([`HistoryError::Locked`]) and any other failure (permissions, a full disk) are
    /// errors and leave the file alone.
    pub fn open(path: &Path, retention: Retention) -> Result<OpenOutcome, HistoryError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            file::create_private_dir(dir).map_err(|source| HistoryError::Io {
                context: format!("cannot create the history directory {}", dir.display()),
                source,
            })?;
        }
        // Before anything is judged: only the lock holder may move a file aside.
        let lock = file::WriterLock::acquire(path)?;
        let identity = file::identify(path, &expected_objects()?)?;
        let create = |path: &Path| {
            file::create_private_file(path).map_err(|source| HistoryError::Io {
                context: format!("cannot create the history {}", path.display()),
                source,
            })
        };
        match &identity {
            file::Identity::Foreign(why) => {
                return Err(HistoryError::NotOurs {
                    path: path.to_path_buf(),
                    why: why.clone(),
                })
            }
            file::Identity::New => create(path)?,
            file::Identity::Ours | file::Identity::Legacy => {}
        }
        let (store, recovered_from) = match Store::open_checked(path, retention) {
            Ok(store) => (store, None),
            Err(e) if e.is_corruption() && identity.is_ours() => {
                let aside = move_aside(path)?;
                tracing::debug!("history {} is damaged: {e}", path.display());
                create(path)?;
                (Store::open_checked(path, retention)?, Some(aside))
            }
            Err(e) => return Err(with_os_reason(path, e)),
        };
        file::make_private(path);
        Ok(OpenOutcome {
            store: Store {
                _lock: Some(lock),
                ..store
            },
            recovered_from,
        })
    }

    /// Opens Headroom's history at `path` read-only, beside the process that writes it
    /// (no lock, no creation, nothing moved): for looking at a live history from
    /// outside, as tests and tools do.
    pub fn open_read_only(path: &Path, retention: Retention) -> Result<Store, HistoryError> {
        let at = || format!("history {}", path.display());
        let conn = Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .ctx(at)?;
        conn.busy_timeout(BUSY_TIMEOUT).ctx(at)?;
        let id: i32 = conn
            .query_row("PRAGMA application_id", [], |r| r.get(0))
            .ctx(at)?;
        if id != APPLICATION_ID {
            return Err(HistoryError::NotOurs {
                path: path.to_path_buf(),
                why: format!("has application_id {id:#010x}, not Headroom's"),
            });
        }
        let mut store = Store::with_connection(conn, path, retention);
        store.load_metrics()?;
        Ok(store)
    }

    fn with_connection(conn: Connection, path: &Path, retention: Retention) -> Store {
        Store {
            conn,
            path: path.to_path_buf(),
            retention,
            metric_ids: HashMap::new(),
            rollup: None,
            last_prune: None,
            probes_seen: HashMap::new(),
            _lock: None,
        }
    }

    fn open_checked(path: &Path, retention: Retention) -> Result<Store, HistoryError> {
        let at = || format!("history {}", path.display());
        let conn = Connection::open(path).ctx(at)?;
        conn.busy_timeout(BUSY_TIMEOUT).ctx(at)?;
        // The first statement reads the header: garbage fails here with NotADatabase.
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .ctx(at)?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(
                "history {}: journal mode is {mode}, not WAL",
                path.display()
            );
        }
        conn.pragma_update(None, "synchronous", "NORMAL").ctx(at)?;
        // SQLite's own page cache, not the OS's: at its default (2 MB) it grew by about
        // 80 KiB a minute in the resident `watch` and agent, for pages that are written
        // once and seldom read again. Reads past it come from the OS's page cache.
        conn.pragma_update(None, "cache_size", CACHE_SIZE).ctx(at)?;
        let check: String = conn
            .query_row("PRAGMA quick_check(1)", [], |r| r.get(0))
            .ctx(at)?;
        if check != "ok" {
            return Err(HistoryError::Corrupt(format!(
                "history {} failed its check: {check}",
                path.display()
            )));
        }
        let version = |conn: &Connection| -> Result<i64, HistoryError> {
            conn.query_row("PRAGMA user_version", [], |r| r.get(0))
                .ctx(at)
        };
        let mut v = version(&conn)?;
        if v == 0 {
            // Under SQLite's write lock, and checked again: a reader of the file (not
            // a writer: those hold the lock file) must not see half a schema.
            let ctx = || format!("cannot create the history schema in {}", path.display());
            conn.execute_batch("BEGIN IMMEDIATE").ctx(ctx)?;
            v = version(&conn)?;
            let created = if v == 0 {
                conn.execute_batch(&format!(
                    "{SCHEMA} PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {SCHEMA_VERSION};"
                ))
                .and_then(|_| conn.execute_batch("COMMIT"))
            } else {
                conn.execute_batch("COMMIT")
            };
            if let Err(e) = created {
                let _ = conn.execute_batch("ROLLBACK");
                return Err(e).ctx(ctx);
            }
            v = version(&conn)?;
        }
        match v {
            SCHEMA_VERSION => {}
            v => {
                return Err(HistoryError::Unavailable(format!(
                "history {} has schema version {v}, newer than this Headroom ({SCHEMA_VERSION}); \
                     it is left untouched",
                path.display()
            )))
            }
        }
        // A Headroom file from before the id (identified by its tables): stamp it.
        let id: i32 = conn
            .query_row("PRAGMA application_id", [], |r| r.get(0))
            .ctx(at)?;
        if id == 0 {
            conn.pragma_update(None, "application_id", APPLICATION_ID)
                .ctx(|| format!("cannot stamp the history {}", path.display()))?;
        }
        let mut store = Store::with_connection(conn, path, retention);
        store.load_metrics()?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn retention(&self) -> Retention {
        self.retention
    }

    fn load_metrics(&mut self) -> Result<(), HistoryError> {
        let mut stmt = self
            .conn
            .prepare("SELECT name, id FROM metric")
            .ctx(|| "reading metric names".into())?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .ctx(|| "reading metric names".into())?;
        self.metric_ids.clear();
        for row in rows {
            let (name, id) = row.ctx(|| "reading metric names".into())?;
            self.metric_ids.insert(name, id);
        }
        Ok(())
    }

    /// Writes one tick (samples, transitions, new probe results) in one transaction,
    /// then rolls up completed periods and prunes old rows by the tick's time.
    pub fn write_tick(&mut self, tick: &Tick) -> Result<(), HistoryError> {
        let result = self.write_tick_inner(tick);
        if result.is_err() {
            // Whatever this transaction cached is gone with it: reload on the next one.
            self.metric_ids.clear();
            self.rollup = None;
            self.probes_seen.clear();
        }
        result
    }

    fn write_tick_inner(&mut self, tick: &Tick) -> Result<(), HistoryError> {
        let now = tick.snapshot.ts;
        if self.metric_ids.is_empty() {
            self.load_metrics()?;
        }
        let Store {
            conn,
            metric_ids,
            rollup,
            last_prune,
            probes_seen,
            retention,
            ..
        } = self;
        let tx = conn
            .transaction()
            .ctx(|| "cannot start a history transaction".into())?;
        let w = || "cannot write a tick to the history".to_string();
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO sample (ts, metric, value) VALUES (?1, ?2, ?3)",
                )
                .ctx(w)?;
            for (name, column) in &tick.samples.series {
                let id = metric_id(&tx, metric_ids, name)?;
                for (ts, value) in tick.samples.ts.iter().zip(column) {
                    let value = value.filter(|v| v.is_finite());
                    insert.execute(params![ts, id, value]).ctx(w)?;
                }
            }
        }
        // The alert log keeps what the live one shows, so a restart reloads the same log.
        for t in tick.transitions.iter().filter(|t| t.is_news()) {
            tx.prepare_cached(
                "INSERT INTO alert (ts, kind, item, level, previous, used, lim, ratio, forecast_s, message)
                 VALUES (?1, 'transition', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )
            .ctx(w)?
            .execute(params![
                t.ts,
                t.item.as_str(),
                t.level.as_str(),
                t.previous.map(Level::as_str),
                t.used,
                t.limit,
                t.ratio,
                t.forecast_s,
                t.message
            ])
            .ctx(w)?;
        }
        let mut seen = Vec::new();
        for p in &tick.snapshot.probes {
            let r = &p.latest;
            if probes_seen.get(&r.name) != Some(&r.ts) {
                insert_probe(&tx, r)?;
                seen.push((r.name.clone(), r.ts));
            }
        }
        rollup::roll_up(&tx, rollup, now)?;
        if last_prune.is_none_or(|p| now - p >= 60.0 || now < p) {
            rollup::prune(&tx, retention, now)?;
            *last_prune = Some(now);
        }
        tx.commit().ctx(w)?;
        probes_seen.extend(seen);
        Ok(())
    }

    /// Records a snooze in the alert log: alerts are quiet until `until`; `None`
    /// records that a snooze ended early.
    pub fn record_snooze(
        &mut self,
        ts: Ts,
        until: Option<Ts>,
        message: &str,
    ) -> Result<(), HistoryError> {
        self.conn
            .prepare_cached("INSERT INTO alert (ts, kind, until, message) VALUES (?1, ?2, ?3, ?4)")
            .and_then(|mut s| s.execute(params![ts, AlertKind::Snooze.as_str(), until, message]))
            .ctx(|| "cannot record a snooze in the history".into())?;
        Ok(())
    }

    /// `PRAGMA integrity_check`: "ok" for a sound file.
    pub fn integrity_check(&self) -> Result<String, HistoryError> {
        self.conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .ctx(|| "integrity check".into())
    }

    #[cfg(test)]
    pub(crate) fn page_count(&self) -> i64 {
        self.conn
            .query_row("PRAGMA page_count", [], |r| r.get(0))
            .unwrap_or(0)
    }

    /// Caps the file size, to test what a full disk does.
    #[cfg(test)]
    pub(crate) fn set_max_pages(&self, pages: i64) {
        let _ = self
            .conn
            .query_row(&format!("PRAGMA max_page_count = {pages}"), [], |_| Ok(()));
    }
}

fn metric_id(
    tx: &Transaction<'_>,
    ids: &mut HashMap<String, i64>,
    name: &str,
) -> Result<i64, HistoryError> {
    if let Some(id) = ids.get(name) {
        return Ok(*id);
    }
    let id: i64 = tx
        .prepare_cached(
            "INSERT INTO metric (name) VALUES (?1)
             ON CONFLICT (name) DO UPDATE SET name = excluded.name RETURNING id",
        )
        .and_then(|mut s| s.query_row([name], |r| r.get(0)))
        .ctx(|| format!("cannot name metric {name} in the history"))?;
    ids.insert(name.to_string(), id);
    Ok(id)
}

fn insert_probe(tx: &Transaction<'_>, r: &ProbeResult) -> Result<(), HistoryError> {
    let timings = serde_json::to_string(&r.timings_ms).unwrap_or_else(|_| "{}".into());
    tx.prepare_cached(
        "INSERT OR IGNORE INTO probe
         (ts, name, target, outcome, phase, code, enhanced, reply, class, total_ms, timings, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )
    .and_then(|mut s| {
        s.execute(params![
            r.ts,
            r.name,
            r.target,
            r.outcome.as_str(),
            r.phase.as_str(),
            r.reply.as_ref().map(|x| x.code),
            r.reply.as_ref().and_then(|x| x.enhanced.as_deref()),
            r.reply.as_ref().map(|x| x.text.as_str()),
            r.class.as_str(),
            r.total_ms,
            timings,
            r.detail
        ])
    })
    .ctx(|| "cannot write a probe result to the history".into())?;
    Ok(())
}

/// The schema's objects as `type name` lines, as [`file::identify`] compares them.
fn expected_objects() -> Result<Vec<String>, HistoryError> {
    let ctx = || "the history schema".to_string();
    let conn = Connection::open_in_memory().ctx(ctx)?;
    conn.execute_batch(SCHEMA).ctx(ctx)?;
    file::schema_objects(&conn).ctx(ctx)
}

/// SQLite says only "unable to open database file" or "attempt to write a readonly
/// database": ask the OS why (read-only filesystem, permission denied, no space).
fn with_os_reason(path: &Path, e: HistoryError) -> HistoryError {
    match e {
        HistoryError::Sqlite { context, source }
            if matches!(
                source.sqlite_error_code(),
                Some(ErrorCode::CannotOpen | ErrorCode::ReadOnly | ErrorCode::PermissionDenied)
            ) =>
        {
            let probe = if path.exists() {
                std::fs::OpenOptions::new()
                    .append(true)
                    .open(path)
                    .map(|_| ())
            } else {
                std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(path)
                    .and_then(|_| std::fs::remove_file(path))
            };
            let context = match probe {
                Err(os) => format!("{context} ({os})"),
                Ok(()) => context,
            };
            HistoryError::Sqlite { context, source }
        }
        e => e,
    }
}

/// Renames a damaged file (and its WAL, which must not be replayed into the fresh
/// file) to `<name>.corrupt-<unix-ts>`; the shared-memory index is only a cache.
fn move_aside(path: &Path) -> Result<PathBuf, HistoryError> {
    let now = crate::time::unix_now() as u64;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "history.sqlite3".into());
    let mut aside = path.with_file_name(format!("{name}.corrupt-{now}"));
    let mut n = 1;
    while aside.exists() {
        aside = path.with_file_name(format!("{name}.corrupt-{now}.{n}"));
        n += 1;
    }
    std::fs::rename(path, &aside).map_err(|source| HistoryError::Io {
        context: format!("cannot move the damaged history {} aside", path.display()),
        source,
    })?;
    let side = |suffix: &str| file::side_file(path, suffix);
    let wal = side("-wal");
    if wal.exists() {
        let mut to = aside.as_os_str().to_owned();
        to.push("-wal");
        if std::fs::rename(&wal, PathBuf::from(to)).is_err() {
            let _ = std::fs::remove_file(&wal);
        }
    }
    let _ = std::fs::remove_file(side("-shm"));
    Ok(aside)
}

//! [`History`]: the store as the app and the CLI hold it. Cloneable and shared between
//! the monitor (which writes every tick) and the window (which reads ranges and logs).
//! It never stops monitoring: a history that cannot be opened or written is
//! *degraded* with a reason ([`History::status`]) and retried a minute of tick time
//! later. What [`History::open`] finds is left to the caller to show (the CLI prints
//! it, the window displays it); what goes wrong later is logged once per episode.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

use super::{AlertRecord, HistoryError, Retention, Store};
use crate::config::HistoryConfig;
use crate::probe::ProbeResult;
use crate::tick::SampleBatch;
use crate::tick::Tick;
use crate::time::Ts;

/// After a failure, the next attempt waits this long (tick time).
const RETRY_AFTER_S: f64 = 60.0;

/// What the window shows about the history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct HistoryStatus {
    /// `[history] enabled`.
    pub enabled: bool,
    /// The database file, when one is configured or the data directory is known.
    pub path: Option<PathBuf>,
    /// Why history is not being recorded right now (`None` when it is).
    pub problem: Option<String>,
    /// A damaged file this run moved aside (`history.sqlite3.corrupt-<ts>`).
    pub recovered_from: Option<PathBuf>,
}

#[derive(Clone)]
pub struct History {
    inner: Arc<Inner>,
}

struct Inner {
    enabled: bool,
    path: Option<PathBuf>,
    retention: Retention,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    store: Option<Store>,
    problem: Option<String>,
    recovered_from: Option<PathBuf>,
    /// No attempt before this tick time (after a failure).
    retry_at: Option<Ts>,
}

impl History {
    /// Opens the configured history. Never fails: when history is off, or the file
    /// cannot be opened, the returned history says why in [`History::status`] and
    /// retries on later ticks. A damaged file is moved aside and replaced
    /// (`status().recovered_from`). Nothing is logged here: show the status.
    ///
    /// Blocking: it creates the directory and runs SQLite's `quick_check`.
    pub fn open(config: &HistoryConfig) -> History {
        let path = config.file();
        let history = History {
            inner: Arc::new(Inner {
                enabled: config.enabled,
                path: path.clone(),
                retention: Retention::from(config),
                state: Mutex::new(State::default()),
            }),
        };
        if !config.enabled {
            return history;
        }
        {
            let mut state = history.lock();
            match path {
                Some(_) => history.try_open(&mut state, None),
                None => {
                    state.problem = Some(
                        "history is off: neither XDG_DATA_HOME nor HOME is set, and [history] path is not given"
                            .into(),
                    );
                }
            }
        }
        history
    }

    /// A history that records nothing (`[history] enabled = false`).
    pub fn disabled() -> History {
        History::open(&HistoryConfig {
            enabled: false,
            ..HistoryConfig::default()
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Opens the store into `state`; on failure records the problem and schedules a
    /// retry. `now` is the tick's time, `None` at start (when nothing is logged).
    fn try_open(&self, state: &mut State, now: Option<Ts>) {
        let Some(path) = &self.inner.path else { return };
        match Store::open(path, self.inner.retention) {
            Ok(outcome) => {
                if state.problem.take().is_some() && now.is_some() {
                    tracing::info!("history {} is recording again", path.display());
                }
                if let Some(aside) = outcome.recovered_from {
                    if now.is_some() {
                        tracing::warn!(
                            "history {} was damaged: moved it to {} and started a fresh one",
                            path.display(),
                            aside.display()
                        );
                    }
                    state.recovered_from = Some(aside);
                }
                state.store = Some(outcome.store);
                state.retry_at = None;
            }
            Err(e) => self.degrade(state, &e, now),
        }
    }

    fn degrade(&self, state: &mut State, e: &HistoryError, now: Option<Ts>) {
        let problem = match e {
            // Says it all: which file, who has it, and that this process goes on.
            HistoryError::Locked { .. } => e.to_string(),
            e => format!("history is not being recorded: {e}; monitoring continues"),
        };
        if state.problem.is_none() && now.is_some() {
            tracing::warn!("{problem}");
        } else {
            tracing::debug!("{problem}");
        }
        state.problem = Some(problem);
        state.retry_at = now.map(|t| t + RETRY_AFTER_S);
    }

    pub fn status(&self) -> HistoryStatus {
        let state = self.lock();
        HistoryStatus {
            enabled: self.inner.enabled,
            path: self.inner.path.clone(),
            problem: state.problem.clone(),
            recovered_from: state.recovered_from.clone(),
        }
    }

    /// The monitor sink that records every tick here.
    pub fn sink(&self) -> crate::history::HistorySink {
        crate::history::HistorySink::new(self.clone())
    }

    /// Records one tick; failures degrade the history instead of reaching the caller.
    pub fn record(&self, tick: &Tick) {
        if !self.inner.enabled {
            return;
        }
        let now = tick.snapshot.ts;
        let mut state = self.lock();
        if state
            .retry_at
            .is_some_and(|at| now < at && now >= at - RETRY_AFTER_S)
        {
            return;
        }
        if state.store.is_none() {
            self.try_open(&mut state, Some(now));
        }
        let Some(store) = state.store.as_mut() else {
            return;
        };
        match store.write_tick(tick) {
            Ok(()) => {
                if state.problem.take().is_some() {
                    tracing::info!("history is recording again");
                }
                state.retry_at = None;
            }
            Err(e) => {
                if e.is_corruption() {
                    // Reopening moves the damaged file aside.
                    state.store = None;
                }
                self.degrade(&mut state, &e, Some(now));
            }
        }
    }

    /// Records a snooze in the alert log (`until: None`: the snooze ended).
    pub fn record_snooze(
        &self,
        ts: Ts,
        until: Option<Ts>,
        message: &str,
    ) -> Result<(), HistoryError> {
        self.with_store(|s| s.record_snooze(ts, until, message))
    }

    /// See [`Store::range`].
    pub fn range(&self, start: Ts, end: Ts, names: &[&str]) -> Result<SampleBatch, HistoryError> {
        self.with_store(|s| s.range(start, end, names))
    }

    /// See [`Store::alerts`]: newest first.
    pub fn alerts(
        &self,
        start: Ts,
        end: Ts,
        limit: usize,
    ) -> Result<Vec<AlertRecord>, HistoryError> {
        self.with_store(|s| s.alerts(start, end, limit))
    }

    /// See [`Store::probe_results`]: newest first.
    pub fn probe_results(
        &self,
        start: Ts,
        end: Ts,
        limit: usize,
    ) -> Result<Vec<ProbeResult>, HistoryError> {
        self.with_store(|s| s.probe_results(start, end, limit))
    }

    /// See [`Store::export_csv`].
    pub fn export_csv(
        &self,
        start: Ts,
        end: Ts,
        names: &[&str],
        out: impl Write,
    ) -> Result<(), HistoryError> {
        self.with_store(|s| s.export_csv(start, end, names, out))
    }

    fn with_store<T>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, HistoryError>,
    ) -> Result<T, HistoryError> {
        if !self.inner.enabled {
            return Err(HistoryError::Unavailable(
                "history is off ([history] enabled = false)".into(),
            ));
        }
        let mut state = self.lock();
        match state.store.as_mut() {
            Some(s) => f(s),
            None => Err(HistoryError::Unavailable(
                state
                    .problem
                    .clone()
                    .unwrap_or_else(|| "history is not open".into()),
            )),
        }
    }

    /// Runs `f` on the open store, for tests.
    #[cfg(test)]
    pub(crate) fn with_open_store<T>(&self, f: impl FnOnce(&mut Store) -> T) -> Option<T> {
        self.lock().store.as_mut().map(f)
    }
}

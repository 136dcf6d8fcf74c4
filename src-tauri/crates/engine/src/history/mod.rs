//! History: the bounded in-memory window the monitor keeps for charts and forecasts
//! (`recent`), and the SQLite store of samples, roll-ups, alerts and probe results
//! (`store`) that the [`HistorySink`] writes every tick.

mod recent;
mod sink;
mod store;
#[cfg(test)]
mod tests;

pub use crate::tick::SampleBatch;
pub use recent::Recent;
pub use sink::HistorySink;
pub use store::{
    AlertKind, AlertRecord, History, HistoryError, HistoryStatus, OpenOutcome, Resolution,
    Retention, Rollup, Store, APPLICATION_ID,
};

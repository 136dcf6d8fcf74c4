//! History: the bounded in-memory window the monitor keeps for charts and forecasts
//! (`recent`). The SQLite store joins here.

mod recent;

pub use recent::{metrics_of, Recent, SampleBatch};

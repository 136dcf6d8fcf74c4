//! What one tick produces and who receives it: the [`Tick`] (snapshot, assessment,
//! transitions and chart samples) and the [`Sink`] trait every host implements.

mod metrics;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use metrics::metrics_of;

use crate::assess::{Assessment, Transition};
use crate::config::Config;
use crate::probe::ProbeResult;
use crate::snapshot::Snapshot;
use crate::time::Ts;

/// Samples in columns, as sent to charts: `series[name][i]` belongs to `ts[i]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct SampleBatch {
    pub ts: Vec<Ts>,
    pub series: BTreeMap<String, Vec<Option<f64>>>,
}

/// One tick's results, as every sink sees them.
#[derive(Debug, Clone)]
pub struct Tick {
    pub snapshot: Snapshot,
    pub assessment: Assessment,
    pub transitions: Vec<Transition>,
    /// This tick's chart metrics as a one-row batch.
    pub samples: SampleBatch,
}

impl Tick {
    /// A tick that carries only chart samples (no readings, no items, level ok): what
    /// the history store's tests and benchmarks feed it.
    pub fn of_samples(ts: Ts, samples: impl IntoIterator<Item = (String, Option<f64>)>) -> Tick {
        Tick {
            snapshot: Snapshot {
                ts,
                ..Default::default()
            },
            assessment: Assessment {
                ts,
                status: crate::assess::Level::Ok,
                items: Vec::new(),
            },
            transitions: Vec::new(),
            samples: SampleBatch {
                ts: vec![ts],
                series: samples.into_iter().map(|(k, v)| (k, vec![v])).collect(),
            },
        }
    }
}

/// Where ticks go: the UI bridge, the tray, the notifier, the history store, the CLI.
pub trait Sink: Send {
    fn on_tick(&mut self, tick: &Tick);
    /// A probe finished (scheduled or "Probe now"); called as soon as it does, so the
    /// probe log does not wait for the next tick. Its items change at the next tick.
    fn on_probe(&mut self, _result: &ProbeResult) {}
    /// New settings were applied (thresholds, intervals, notifications, probes).
    fn on_config(&mut self, _config: &Config) {}
}

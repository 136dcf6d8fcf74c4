//! The monitor sink that records every tick in the SQLite history. It writes inline:
//! one small transaction per tick (tens of microseconds, see BENCHMARKS.md), and a
//! history that cannot be written degrades instead of holding the tick up.

use super::store::History;
use crate::tick::{Sink, Tick};

pub struct HistorySink {
    history: History,
}

impl HistorySink {
    pub fn new(history: History) -> Self {
        HistorySink { history }
    }
}

impl Sink for HistorySink {
    fn on_tick(&mut self, tick: &Tick) {
        self.history.record(tick);
    }
}

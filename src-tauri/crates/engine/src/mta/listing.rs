//! The slow full listing of the queue (`postqueue -j`, `exim -bp`) in a task of its own,
//! at a cadence scaled to the queue size, so a listing never delays a tick; and the
//! merge of its latest result into each tick's sample.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{listing_cadence, merge_details, MtaError, MtaSample, QueueDetails, QueueLister};
use crate::lock::lock;
use crate::time::Ts;

/// What the background listing last produced, shared between its task and the tick.
#[derive(Clone, Default)]
pub struct QueueListing(Arc<Mutex<Listing>>);

#[derive(Default)]
struct Listing {
    details: Option<QueueDetails>,
    error: Option<String>,
    /// Messages queued at the last tick or listing (`None` before either): the
    /// listing's cadence scales with it.
    queued: Option<u64>,
}

impl QueueListing {
    /// Starts listing with `lister` until `cancel` fires: one listing, then a pause
    /// scaled to the queue size. A listing is killed at its budget by the lister itself.
    pub fn spawn(lister: Box<dyn QueueLister>, tick: Duration, cancel: CancellationToken) -> Self {
        let listing = QueueListing::default();
        tokio::spawn(run(lister, listing.clone(), tick, cancel));
        listing
    }

    /// Lists the queue once, now (for a one-shot check): blocking, bounded by `budget`.
    pub fn once(lister: &mut dyn QueueLister, budget: Duration) -> Self {
        let listing = QueueListing::default();
        listing.record(Ok(lister.list(budget)));
        listing
    }

    /// Puts the latest listing into this tick's sample (true age of the oldest message
    /// at `now`, per-queue counts when the directories could not be counted, the
    /// listing's problem as a note) and remembers the queue size for the cadence.
    pub fn merge_into(&self, sample: &mut MtaSample, now: Ts) {
        let mut state = lock(&self.0);
        if let Some(q) = &sample.queue {
            state.queued = Some(q.total());
        }
        merge_details(sample, state.details.as_ref(), now);
        if let Some(e) = &state.error {
            sample.notes.push(e.clone());
        }
    }

    fn record(&self, result: Result<Result<QueueDetails, MtaError>, String>) {
        let mut state = lock(&self.0);
        match result {
            Ok(Ok(d)) => {
                state.error = d.note.clone().filter(|_| !d.complete);
                state.queued = Some(state.queued.unwrap_or(0).max(d.messages));
                state.details = Some(d);
            }
            Ok(Err(e)) => state.error = Some(format!("queue listing: {e}")),
            Err(e) => state.error = Some(e),
        }
    }
}

async fn run(
    lister: Box<dyn QueueLister>,
    listing: QueueListing,
    tick: Duration,
    cancel: CancellationToken,
) {
    let lister = Arc::new(Mutex::new(lister));
    loop {
        // Before anything is counted the queue may be huge: give the first listing the
        // largest budget rather than killing it early.
        let queued = lock(&listing.0).queued;
        let budget = listing_cadence(queued.unwrap_or(u64::MAX), tick).1;
        let l = lister.clone();
        let job = tokio::task::spawn_blocking(move || lock(&l).list(budget));
        let result = tokio::select! {
            _ = cancel.cancelled() => return,
            r = tokio::time::timeout(budget + Duration::from_secs(5), job) => r,
        };
        listing.record(match result {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => Err(format!("queue listing failed: {e}")),
            Err(_) => Err(format!(
                "queue listing did not return within {:.0} s",
                budget.as_secs_f64()
            )),
        });
        let pause = listing_cadence(lock(&listing.0).queued.unwrap_or(0), tick).0;
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(pause) => {}
        }
    }
}

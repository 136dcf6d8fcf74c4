//! The engine-to-desktop path: each local tick and each agent's event ends in
//! [`Presenter::publish`], which updates the tray (icon and status line, the worst
//! over all servers) and sends the window its new view.

use std::sync::{Arc, Mutex};

use headroom_engine::assess::Level;
use headroom_engine::history::SampleBatch;
use headroom_engine::lock::lock;
use headroom_engine::tick::{Sink, Tick};
use tauri::Runtime;

use crate::state::{AlertEntry, AppState, StateView, UiEvent};
use crate::tray::{icon_for, Tray};

pub struct Presenter<R: Runtime> {
    state: Arc<AppState>,
    tray: Option<Tray<R>>,
    /// What the tray shows now: level, status line, whether snoozed.
    shown: Mutex<Option<(Level, String, bool)>>,
}

impl<R: Runtime> Presenter<R> {
    pub fn new(state: Arc<AppState>, tray: Option<Tray<R>>) -> Self {
        Presenter {
            state,
            tray,
            shown: Mutex::new(None),
        }
    }

    fn update_tray(&self, level: Level, summary: &str) {
        let Some(tray) = &self.tray else { return };
        // The snooze entry says whether a snooze is running: it may have been set from
        // the window or have expired since the menu was last written.
        let snoozed = self
            .state
            .snooze
            .active_at(headroom_engine::time::unix_now());
        let mut shown = lock(&self.shown);
        if shown
            .as_ref()
            .is_some_and(|(l, s, z)| *l == level && s == summary && *z == snoozed)
        {
            return;
        }
        if shown.as_ref().is_none_or(|(l, _, _)| *l != level) {
            if let Err(e) = tray.icon.set_icon(Some(icon_for(level))) {
                tracing::warn!("cannot change the tray icon: {e}");
            }
        }
        let line: String = format!("Headroom {summary}").chars().take(120).collect();
        let _ = tray.status.set_text(&line);
        let _ = tray.icon.set_tooltip(Some(&line));
        let _ = tray.snooze.set_text(if snoozed {
            "Resume alerts (snoozed)"
        } else {
            "Snooze alerts for 1 hour"
        });
        *shown = Some((level, summary.to_string(), snoozed));
    }

    /// Shows `view` in the tray and sends it, with the chosen server's new samples.
    pub fn show(&self, view: StateView, samples: SampleBatch) {
        self.update_tray(view.status, &view.summary);
        self.state.broadcast(&UiEvent::Tick {
            state: Box::new(view),
            samples,
        });
    }
}

impl<R: Runtime> crate::servers::Publish for Presenter<R> {
    fn publish(&self, samples: SampleBatch) {
        // With the window closed only the tray shows anything: no view is made.
        if self.state.has_subscribers() {
            self.show(self.state.view(), samples);
        } else {
            let (level, summary) = self.state.overall();
            self.update_tray(level, &summary);
        }
    }
}

/// The local monitor's sink.
pub struct Bridge<R: Runtime> {
    state: Arc<AppState>,
    presenter: Arc<Presenter<R>>,
}

impl<R: Runtime> Bridge<R> {
    pub fn new(state: Arc<AppState>, presenter: Arc<Presenter<R>>) -> Self {
        Bridge { state, presenter }
    }
}

impl<R: Runtime> Sink for Bridge<R> {
    fn on_probe(&mut self, result: &headroom_engine::probe::ProbeResult) {
        self.state.log_probe(result);
    }

    fn on_tick(&mut self, tick: &Tick) {
        for t in &tick.transitions {
            if !t.is_news() {
                continue;
            }
            self.state.log_alert(AlertEntry::from_transition(t));
        }
        let view = self.state.view_of(Some(tick));
        // The charts follow the chosen server: this machine's samples go only to its own.
        let samples = if view.selected == headroom_engine::config::LOCAL_ID {
            tick.samples.clone()
        } else {
            SampleBatch::default()
        };
        self.presenter.show(view, samples);
    }
}

/// The monitor ended on its own: the tray turns unknown and the window says why (the
/// bridge went down with the monitor, so this does what it would have done).
pub fn show_stopped<R: Runtime>(presenter: &Presenter<R>, state: &Arc<AppState>, why: &str) {
    tracing::warn!("the local monitor stopped: {why}");
    state.set_local_failed(why);
    presenter.show(state.view(), SampleBatch::default());
}

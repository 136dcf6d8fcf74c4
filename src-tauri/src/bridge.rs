//! The engine-to-desktop sink: each tick goes to the window (through the subscribers'
//! channels), to the alert log, and to the tray icon and status line.

use std::sync::Arc;

use headroom_engine::assess::Level;
use headroom_engine::tick::{Sink, Tick};
use tauri::Runtime;

use crate::state::{AlertEntry, AppState, UiEvent};
use crate::tray::{icon_for, Tray};

pub struct Bridge<R: Runtime> {
    state: Arc<AppState>,
    tray: Option<Tray<R>>,
    shown: Option<(Level, String)>,
}

impl<R: Runtime> Bridge<R> {
    pub fn new(state: Arc<AppState>, tray: Option<Tray<R>>) -> Self {
        Bridge {
            state,
            tray,
            shown: None,
        }
    }

    fn update_tray(&mut self, level: Level, summary: &str) {
        let Some(tray) = &self.tray else { return };
        if self
            .shown
            .as_ref()
            .is_some_and(|(l, s)| *l == level && s == summary)
        {
            return;
        }
        if self.shown.as_ref().is_none_or(|(l, _)| *l != level) {
            if let Err(e) = tray.icon.set_icon(Some(icon_for(level))) {
                tracing::warn!("cannot change the tray icon: {e}");
            }
        }
        let line: String = format!("Headroom {summary}").chars().take(120).collect();
        let _ = tray.status.set_text(&line);
        let _ = tray.icon.set_tooltip(Some(&line));
        // The snooze entry says whether a snooze is running (it may have expired).
        let snoozed = self
            .state
            .snooze
            .active_at(headroom_engine::time::unix_now());
        let _ = tray.snooze.set_text(if snoozed {
            "Resume alerts (snoozed)"
        } else {
            "Snooze alerts for 1 hour"
        });
        self.shown = Some((level, summary.to_string()));
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
        self.update_tray(view.status, &view.summary);
        self.state.broadcast(&UiEvent::Tick {
            state: Box::new(view),
            samples: tick.samples.clone(),
        });
    }
}

/// The monitor ended on its own: the tray turns unknown and the window says why (the
/// bridge went down with the monitor, so this does what it would have done).
pub fn show_stopped<R: Runtime>(state: &Arc<AppState>, tray: Option<&Tray<R>>, why: &str) {
    if let Some(tray) = tray {
        let _ = tray.icon.set_icon(Some(icon_for(Level::Unknown)));
        let line: String = format!("Headroom unknown: {why}")
            .chars()
            .take(120)
            .collect();
        let _ = tray.status.set_text(&line);
        let _ = tray.icon.set_tooltip(Some(&line));
    }
    state.broadcast(&UiEvent::Tick {
        state: Box::new(state.view()),
        samples: Default::default(),
    });
}

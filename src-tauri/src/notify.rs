//! Desktop notifications through notify-rust (freedesktop D-Bus on Linux).
//!
//! Showing a notification is a D-Bus round trip that can stall for the bus's timeout
//! when no notification server answers, so notifications are handed to one worker
//! thread and the monitor tick never waits for the desktop.

use std::sync::mpsc;

use headroom_engine::alerts::{Notification, Notifier, NotifyError, Urgency};

pub struct DesktopNotifier {
    tx: mpsc::Sender<Notification>,
}

impl DesktopNotifier {
    pub fn spawn() -> Self {
        let (tx, rx) = mpsc::channel::<Notification>();
        let spawned = std::thread::Builder::new()
            .name("notifications".into())
            .spawn(move || {
                let mut failures = 0u64;
                for n in rx {
                    if let Err(e) = show(&n) {
                        failures += 1;
                        if failures == 1 || failures.is_multiple_of(100) {
                            tracing::warn!(
                                "cannot show a desktop notification (is a notification server running?): {e}; \
                                 alerts still reach the window and the alert log"
                            );
                        }
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::warn!("no notification thread: {e}");
        }
        DesktopNotifier { tx }
    }
}

impl Notifier for DesktopNotifier {
    fn notify(&self, n: &Notification) -> Result<(), NotifyError> {
        self.tx
            .send(n.clone())
            .map_err(|_| NotifyError("notification thread has stopped".into()))
    }
}

fn show(n: &Notification) -> Result<(), notify_rust::error::Error> {
    let mut d = notify_rust::Notification::new();
    d.appname("Headroom")
        .summary(&n.summary)
        .body(&n.body)
        .icon(match n.urgency {
            Urgency::Critical => "dialog-error",
            Urgency::Normal => "dialog-warning",
            Urgency::Low => "dialog-information",
        });
    #[cfg(all(unix, not(target_os = "macos")))]
    {
        d.urgency(match n.urgency {
            Urgency::Critical => notify_rust::Urgency::Critical,
            Urgency::Normal => notify_rust::Urgency::Normal,
            Urgency::Low => notify_rust::Urgency::Low,
        });
        d.hint(notify_rust::Hint::Category("device".into()));
    }
    // Critical notifications stay until dismissed.
    if n.urgency == Urgency::Critical {
        d.timeout(notify_rust::Timeout::Never);
    }
    d.show().map(|_| ())
}

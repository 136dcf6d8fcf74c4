//! The monitor sink that turns each tick's transitions into notifications through the
//! [`AlertPolicy`](super::AlertPolicy) and shows them with a [`Notifier`](super::Notifier).

use super::{AlertPolicy, Notifier, Snooze};
use crate::config::Config;
use crate::tick::{Sink, Tick};

pub struct NotifySink {
    policy: AlertPolicy,
    notifier: Box<dyn Notifier>,
    failures: u64,
}

impl NotifySink {
    pub fn new(config: &Config, snooze: Snooze, notifier: Box<dyn Notifier>) -> Self {
        NotifySink {
            policy: AlertPolicy::new(config.notifications.clone(), snooze),
            notifier,
            failures: 0,
        }
    }

    /// A sink with a policy of its own (a webhook's `min_level`) and its notifier.
    pub fn with_policy(policy: AlertPolicy, notifier: Box<dyn Notifier>) -> Self {
        NotifySink {
            policy,
            notifier,
            failures: 0,
        }
    }
}

impl Sink for NotifySink {
    fn on_config(&mut self, config: &Config) {
        self.policy.set_settings(config.notifications.clone());
    }

    fn on_tick(&mut self, tick: &Tick) {
        for n in self.policy.decide(&tick.transitions) {
            if let Err(e) = self.notifier.notify(&n) {
                self.failures += 1;
                // Said once, then every 100th time: a missing notification server must
                // not fill the log.
                if self.failures == 1 || self.failures.is_multiple_of(100) {
                    tracing::warn!("cannot show a desktop notification ({e}); alerts still go to the window and the alert log");
                }
            }
        }
    }
}

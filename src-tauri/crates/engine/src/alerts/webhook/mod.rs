//! `[[notify.webhook]]`: alerts for when no desktop is watching. Each webhook is a
//! [`NotifySink`] of its own — the desktop's [`AlertPolicy`] (repeat delay, snooze,
//! bursts folded) above the webhook's `min_level` — whose notifier only queues: a worker
//! thread per webhook delivers (`deliver.rs`), with a bounded queue, backoff and one log
//! line per outage (`outbox.rs`), in the body of its preset (`payload.rs`).

mod deliver;
mod outbox;
mod payload;

use std::time::Duration;

pub use deliver::{Http, Queue, Token, Transport};
pub use outbox::{Retry, CAPACITY, RETRY};
pub use payload::{request, Request};

use super::{AlertPolicy, Notification, Notifier, NotifyError, NotifySink, Snooze};
use crate::assess::Level;
use crate::config::{Config, MinLevel, Webhook, WebhookAuth};

/// A [`Notifier`] that queues the webhook's request for its worker.
pub struct WebhookNotifier {
    hook: Webhook,
    host: String,
    queue: Queue,
}

impl Notifier for WebhookNotifier {
    fn notify(&self, n: &Notification) -> Result<(), NotifyError> {
        self.queue.push(request(&self.hook, &self.host, n));
        Ok(())
    }
}

impl WebhookNotifier {
    /// Starts the delivery worker of `hook` over `transport`; `host` names this machine
    /// in every alert.
    pub fn spawn(
        hook: &Webhook,
        host: &str,
        transport: impl Transport,
        retry: Retry,
    ) -> std::io::Result<WebhookNotifier> {
        let queue = Queue::spawn(
            hook.display_name(),
            hook.origin(),
            transport,
            CAPACITY,
            retry,
        )?;
        Ok(WebhookNotifier {
            hook: hook.clone(),
            host: host.to_string(),
            queue,
        })
    }
}

fn level_of(m: MinLevel) -> Level {
    match m {
        MinLevel::Watch => Level::Watch,
        MinLevel::Warning => Level::Warning,
        MinLevel::Critical => Level::Critical,
    }
}

/// One sink per `[[notify.webhook]]` of `config`, sharing `snooze` with the host; and a
/// sentence for each that could not be started. Call it on the host's tokio runtime
/// (the keyring is read through it).
pub fn sinks(config: &Config, snooze: &Snooze, host: &str) -> (Vec<NotifySink>, Vec<String>) {
    let runtime = tokio::runtime::Handle::try_current().ok();
    let mut sinks = Vec::new();
    let mut problems = Vec::new();
    for hook in &config.notify.webhooks {
        let token = match hook.auth {
            WebhookAuth::None => Token::None,
            WebhookAuth::Bearer => Token::Keyring {
                account: hook.keyring_account(),
                runtime: runtime.clone(),
                found: None,
            },
        };
        let http = Http::new(
            hook.url.clone(),
            hook.origin(),
            Duration::from_secs_f64(hook.timeout_secs),
            token,
        );
        match WebhookNotifier::spawn(hook, host, http, RETRY) {
            Ok(n) => {
                let policy = AlertPolicy::new(config.notifications.clone(), snooze.clone())
                    .with_min_level(level_of(hook.min_level));
                sinks.push(NotifySink::with_policy(policy, Box::new(n)));
            }
            Err(e) => problems.push(format!(
                "webhook {}: cannot start its delivery thread ({e}); its alerts are not sent",
                hook.display_name()
            )),
        }
    }
    (sinks, problems)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assess::Transition;
    use crate::item::ItemId;
    use crate::lock::lock;
    use std::sync::{mpsc, Arc, Mutex};

    struct Record(mpsc::Sender<Request>);
    impl Transport for Record {
        fn send(&mut self, r: &Request) -> Result<(), String> {
            let _ = self.0.send(r.clone());
            Ok(())
        }
    }

    fn tr(ts: f64, level: Level, previous: Option<Level>) -> Transition {
        Transition {
            ts,
            item: ItemId::Memory,
            level,
            previous,
            used: Some(1.0),
            limit: Some(1.0),
            ratio: Some(1.0),
            forecast_s: None,
            message: format!("memory is {level}"),
        }
    }

    #[test]
    fn a_critical_only_webhook_skips_warnings_and_announces_its_recoveries() {
        let config = crate::config::parse(
            "[[notify.webhook]]\nurl = \"http://127.0.0.1:9/\"\nmin_level = \"critical\"\n",
            std::path::Path::new("t.toml"),
        )
        .expect("valid");
        let (tx, rx) = mpsc::channel();
        let n = WebhookNotifier::spawn(&config.notify.webhooks[0], "mail1", Record(tx), RETRY)
            .expect("worker");
        let snooze = Snooze::default();
        let mut policy = AlertPolicy::new(config.notifications.clone(), snooze.clone())
            .with_min_level(Level::Critical);
        let sent = Arc::new(Mutex::new(0));
        let mut deliver = |ts: f64, level, previous| {
            for x in policy.decide(&[tr(ts, level, previous)]) {
                n.notify(&x).expect("queued");
                *lock(&sent) += 1;
            }
        };
        deliver(0.0, Level::Warning, None);
        deliver(10.0, Level::Critical, Some(Level::Warning));
        deliver(20.0, Level::Warning, Some(Level::Critical));
        // Snoozed: the policy is the desktop's, snooze included.
        snooze.set_until(Some(1000.0));
        deliver(30.0, Level::Critical, Some(Level::Warning));
        snooze.set_until(None);
        deliver(900.0, Level::Ok, Some(Level::Critical));
        assert_eq!(*lock(&sent), 2);
        let bodies: Vec<serde_json::Value> = (0..2)
            .map(|_| {
                let r = rx.recv_timeout(Duration::from_secs(5)).expect("delivered");
                serde_json::from_slice(&r.body).expect("JSON")
            })
            .collect();
        assert_eq!(bodies[0]["level"], "critical");
        assert_eq!(bodies[1]["level"], "ok");
        assert!(bodies[1]["summary"]
            .as_str()
            .is_some_and(|s| s.contains("back to ok")));
    }
}

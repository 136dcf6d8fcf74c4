//! Keeps the mail-log followers running: one per configured log (or the default one),
//! each restarted every 30 s after it fails, with the reason kept for the tick to
//! report for as long as it holds, so a log that appears later (logrotate, a
//! permission fix) is picked up without a restart.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{
    check_followable, follow_file, follow_journal, Aggregator, JournalSource, SharedAggregator,
    StartAt,
};
use crate::config::{MaillogSource, MtaConfig};
use crate::lock::lock;

/// How long a failed follower waits before it tries again.
const RETRY: Duration = Duration::from_secs(30);

/// The followers of every mail log and the aggregate they feed.
pub struct MaillogFollowers {
    sources: Vec<MaillogSource>,
    agg: SharedAggregator,
    /// Why a follower is not following, by log name, while it is not.
    problems: Arc<Mutex<BTreeMap<String, String>>>,
}

impl MaillogFollowers {
    /// Followers for `sources`; an empty list means the default log (see
    /// [`default_maillogs`]), chosen when they start.
    pub fn new(sources: Vec<MaillogSource>) -> Self {
        MaillogFollowers {
            sources,
            agg: Aggregator::shared(),
            problems: Arc::default(),
        }
    }

    /// The deferrals read so far, per destination.
    pub fn aggregate(&self) -> SharedAggregator {
        self.agg.clone()
    }

    /// What keeps a log from being followed right now: (log name, reason).
    pub fn problems(&self) -> Vec<(String, String)> {
        lock(&self.problems)
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Starts one follower task per log until `cancel` fires.
    pub async fn start(&mut self, mta: &MtaConfig, cancel: &CancellationToken) {
        if self.sources.is_empty() {
            self.sources = default_maillogs(mta.clone()).await;
        }
        for src in self.sources.clone() {
            tokio::spawn(follow(
                src,
                self.agg.clone(),
                self.problems.clone(),
                cancel.clone(),
            ));
        }
    }
}

/// The mail log to follow when none is configured: Postfix's own `maillog_file` when it
/// writes one, else /var/log/mail.log when it is a readable regular file, else journald.
pub async fn default_maillogs(mta: MtaConfig) -> Vec<MaillogSource> {
    let own = tokio::task::spawn_blocking(move || crate::mta::postfix_maillog_file(&mta))
        .await
        .ok()
        .flatten();
    let syslog = PathBuf::from("/var/log/mail.log");
    let path = own.or_else(|| check_followable(&syslog).is_ok().then_some(syslog));
    vec![MaillogSource {
        path,
        backfill_mins: 0.0,
    }]
}

/// Follows one log until cancelled, saying what is wrong for as long as it is wrong.
async fn follow(
    src: MaillogSource,
    agg: SharedAggregator,
    problems: Arc<Mutex<BTreeMap<String, String>>>,
    cancel: CancellationToken,
) {
    let name = match &src.path {
        Some(p) => p.display().to_string(),
        None => "journald".to_string(),
    };
    // Validation bounds backfill_mins to a week, so this cannot fail for a loaded config.
    let backfill = (src.backfill_mins > 0.0)
        .then(|| Duration::try_from_secs_f64(src.backfill_mins * 60.0).ok())
        .flatten();
    let mut first = true;
    loop {
        // Metadata only: opening a FIFO or a terminal to "check" it would block.
        let ready = match &src.path {
            Some(p) => check_followable(p).map_err(|e| e.to_string()),
            None => {
                let j = JournalSource::default().journalctl;
                if j.exists() {
                    Ok(())
                } else {
                    Err(format!(
                        "no /var/log/mail.log to read and {} is not installed; set [[maillog]] path",
                        j.display()
                    ))
                }
            }
        };
        if let Err(why) = ready {
            lock(&problems).insert(name.clone(), why);
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(RETRY) => {}
            }
            continue;
        }
        lock(&problems).remove(&name);
        let result = match &src.path {
            Some(p) => {
                let start = match (first, backfill) {
                    (true, Some(d)) => StartAt::Backfill(d),
                    _ => StartAt::End,
                };
                follow_file(
                    p.clone(),
                    start,
                    Duration::from_millis(500),
                    agg.clone(),
                    cancel.clone(),
                )
                .await
            }
            None => {
                let source = JournalSource {
                    backfill: if first { backfill } else { None },
                    ..Default::default()
                };
                follow_journal(source, agg.clone(), cancel.clone()).await
            }
        };
        first = false;
        if cancel.is_cancelled() {
            return;
        }
        let why = match result {
            Ok(()) => "stopped; restarting".to_string(),
            Err(e) => e.to_string(),
        };
        lock(&problems).insert(name.clone(), why);
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(RETRY) => {}
        }
    }
}

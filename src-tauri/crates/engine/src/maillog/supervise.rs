//! Keeps the mail-log followers running: one per configured log (or the default one),
//! each restarted every 30 s after it fails, with the reason kept for the tick to
//! report for as long as it holds, so a log that appears later (logrotate, a
//! permission fix) is picked up without a restart. A host with no mail log at all is
//! said once, plainly, as a note with the setting to use (not journalctl's error).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{
    check_followable, follow_file, follow_journal, has_mail_units, Aggregator, JournalSource,
    MaillogError, SharedAggregator, StartAt,
};
use crate::config::{MaillogSource, MtaConfig};
use crate::lock::lock;

/// How long a failed follower waits before it tries again.
const RETRY: Duration = Duration::from_secs(30);
/// How long a follower that found no mail log waits before it looks again (listing the
/// journal's units reads its whole index: not every 30 s on a desktop's big journal).
const ABSENT_RETRY: Duration = Duration::from_secs(300);

type Problems = Arc<Mutex<BTreeMap<String, LogProblem>>>;

/// Why one log is not being followed right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogProblem {
    /// The log's path, or `journald`.
    pub log: String,
    pub message: String,
    /// No mail log on this host at all ([`MaillogError::NoMailLog`]): a fact to say
    /// once as a note with the setting, not a failure.
    pub no_mail_log: bool,
}

/// The followers of every mail log and the aggregate they feed.
pub struct MaillogFollowers {
    sources: Vec<MaillogSource>,
    agg: SharedAggregator,
    /// Why a follower is not following, by log name, while it is not.
    problems: Problems,
    /// journalctl and the mail units, for the journald follower.
    journal: JournalSource,
}

impl MaillogFollowers {
    /// Followers for `sources`; an empty list means the default log (see
    /// [`default_maillogs`]), chosen when they start.
    pub fn new(sources: Vec<MaillogSource>) -> Self {
        MaillogFollowers {
            sources,
            agg: Aggregator::shared(),
            problems: Arc::default(),
            journal: JournalSource::default(),
        }
    }

    /// Reads journald through this journalctl and these units (tests use a stand-in).
    pub fn with_journal(mut self, journal: JournalSource) -> Self {
        self.journal = journal;
        self
    }

    /// The deferrals read so far, per destination.
    pub fn aggregate(&self) -> SharedAggregator {
        self.agg.clone()
    }

    /// What keeps a log from being followed right now, one per log.
    pub fn problems(&self) -> Vec<LogProblem> {
        lock(&self.problems).values().cloned().collect()
    }

    /// Starts one follower task per log until `cancel` fires.
    pub async fn start(&mut self, mta: &MtaConfig, cancel: &CancellationToken) {
        if self.sources.is_empty() {
            self.sources = default_maillogs(mta.clone()).await;
        }
        for src in self.sources.clone() {
            tokio::spawn(follow(
                src,
                self.journal.clone(),
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
    journal: JournalSource,
    agg: SharedAggregator,
    problems: Problems,
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
    let report = |no_mail_log: bool, message: String| {
        let p = LogProblem {
            log: name.clone(),
            message,
            no_mail_log,
        };
        lock(&problems).insert(name.clone(), p);
    };
    let mut first = true;
    loop {
        // Metadata only: opening a FIFO or a terminal to "check" it would block.
        let ready = match &src.path {
            Some(p) => check_followable(p).map_err(|e| (false, e.to_string())),
            None => journal_ready(&journal)
                .await
                .map_err(|e| (e.is_no_mail_log(), e.to_string())),
        };
        if let Err((no_mail_log, why)) = ready {
            report(no_mail_log, why);
            let wait = if no_mail_log { ABSENT_RETRY } else { RETRY };
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
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
                    ..journal.clone()
                };
                follow_journal(source, agg.clone(), cancel.clone()).await
            }
        };
        first = false;
        if cancel.is_cancelled() {
            return;
        }
        match result {
            Ok(()) => report(false, "stopped; restarting".to_string()),
            Err(e) => report(e.is_no_mail_log(), e.to_string()),
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(RETRY) => {}
        }
    }
}

/// Whether journald can be followed for mail: journalctl is there and the journal holds
/// entries of a mail unit. Without either, this host has no mail log
/// ([`MaillogError::NoMailLog`]). A journal that cannot be listed is left to the
/// follower, whose error then says what journalctl said.
async fn journal_ready(journal: &JournalSource) -> Result<(), MaillogError> {
    let looked = "no mail log file (no readable /var/log/mail.log, no Postfix maillog_file)";
    if !journal.journalctl.exists() {
        return Err(MaillogError::NoMailLog {
            looked: format!(
                "{looked}, and {} is not installed",
                journal.journalctl.display()
            ),
        });
    }
    match has_mail_units(journal).await {
        Ok(false) => Err(MaillogError::NoMailLog {
            looked: format!(
                "{looked}, and journald holds no entries of the mail units ({})",
                journal.units.join(", ")
            ),
        }),
        Ok(true) | Err(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A journalctl stand-in: lists `units` for `--field`, and fails as the real one does
    /// on a journal without them for anything else.
    fn fake_journalctl(dir: &std::path::Path, units: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join("journalctl");
        let script = format!(
            "#!/bin/sh\ncase \"$1\" in --field=*) printf '{units}'; exit 0;; esac\n\
             echo 'Failed to add filter for units: No data available' >&2\nexit 1\n"
        );
        std::fs::write(&path, script).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        // Another test's fork can hold the new file open for a moment (ETXTBSY): wait
        // until it runs.
        for _ in 0..100 {
            match std::process::Command::new(&path).arg("--field=x").output() {
                Err(e) if e.raw_os_error() == Some(26) => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                _ => break,
            }
        }
        path
    }

    /// Starts a journald follower on `journalctl` and returns its first problem.
    async fn first_problem(journalctl: PathBuf) -> LogProblem {
        let mut f = MaillogFollowers::new(vec![MaillogSource {
            path: None,
            backfill_mins: 0.0,
        }])
        .with_journal(JournalSource {
            journalctl,
            ..JournalSource::default()
        });
        let cancel = CancellationToken::new();
        f.start(&MtaConfig::default(), &cancel).await;
        for _ in 0..200 {
            if let Some(p) = f.problems().into_iter().next() {
                cancel.cancel();
                return p;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("no problem reported in 5 s");
    }

    #[tokio::test]
    async fn a_journal_without_mail_units_is_a_plain_note_with_the_setting() {
        let dir = tempfile::tempdir().expect("tempdir");
        let j = fake_journalctl(dir.path(), "cron.service\\nssh.service\\n");
        let p = first_problem(j).await;
        assert!(p.no_mail_log, "{p:?}");
        assert_eq!(p.log, "journald");
        assert!(p.message.starts_with("No mail log found"), "{}", p.message);
        assert!(
            p.message
                .contains("[[maillog]] path = \"/var/log/mail.log\""),
            "{}",
            p.message
        );
        assert!(!p.message.contains("Failed to add filter"), "{}", p.message);
    }

    #[tokio::test]
    async fn no_journalctl_and_no_log_file_is_the_same_note() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = first_problem(dir.path().join("no-journalctl")).await;
        assert!(p.no_mail_log, "{p:?}");
        assert!(p.message.contains("is not installed"), "{}", p.message);
        assert!(p.message.contains("[[maillog]] path"), "{}", p.message);
    }

    #[tokio::test]
    async fn a_journal_with_postfix_that_fails_to_follow_is_a_failure_in_its_words() {
        let dir = tempfile::tempdir().expect("tempdir");
        let j = fake_journalctl(dir.path(), "cron.service\\npostfix@-.service\\n");
        let p = first_problem(j).await;
        assert!(!p.no_mail_log, "{p:?}");
        assert!(p.message.contains("Failed to add filter"), "{}", p.message);
    }
}

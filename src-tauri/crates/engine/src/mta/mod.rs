//! Mail server adapters: which MTA runs here, its own limits, and how much of each is
//! in use (processes, backlog, per-client connections, queues, queue filesystem).
//!
//! Each MTA is an [`MtaSource`]: `sample` is the cheap per-tick read (directory counts,
//! /proc, statvfs, cached postconf), `lister` hands out the slow full listing of the
//! queue (`postqueue -j`) that the monitor runs in its own task at a slower cadence so
//! it never delays a tick. Sources read and report; [`crate::assess`] decides.
//!
//! The domain checks ask the same programs for other settings, by name and on demand,
//! through [`settings`].

pub mod command;
mod error;
pub mod exim;
pub mod exim_list;
mod listing;
pub mod opensmtpd;
pub mod postfix;
pub mod procfs;
mod sample;
pub mod sendmail;
pub mod service_port;
pub mod settings;
pub mod sockets;

pub use error::{CommandError, MtaError};
pub use listing::QueueListing;
pub use sample::{
    CountMethod, Counted, Limit, MtaKind, MtaSample, MtaState, QueueCounts, QueueDetails, QueueFs,
    QueueSpaceLimit, ServiceSample,
};

use std::path::Path;
use std::time::Duration;

use crate::config::{MtaChoice, MtaConfig};
use crate::time::Ts;

/// A mail server read from outside. `sample` may block briefly (statvfs, a cached
/// postconf): the monitor calls it on the blocking pool with a timeout.
pub trait MtaSource: Send {
    fn sample(&mut self) -> Result<MtaSample, MtaError>;
    /// The slow full listing of the queue, if this MTA has one. Called once; the
    /// monitor owns the lister and runs it off the tick.
    fn lister(&self) -> Option<Box<dyn QueueLister>>;
}

/// Lists the whole queue once (slow: opens every queue file). Blocking; must return by
/// `budget`, killing its child if need be, with memory bounded whatever the queue size.
pub trait QueueLister: Send {
    fn list(&mut self, budget: Duration) -> Result<QueueDetails, MtaError>;
}

/// Picks the MTA to read: `mta.kind` when set, otherwise the one whose daemon runs
/// here, otherwise the one whose programs are installed. `None` when there is none.
pub fn detect(config: &MtaConfig) -> Option<Box<dyn MtaSource>> {
    Some(match chosen_kind(config.kind)? {
        MtaKind::Postfix => Box::new(postfix::Postfix::new(config.config_dir.clone())),
        MtaKind::Exim => Box::new(exim::Exim::new(config.config_dir.clone())),
        MtaKind::Opensmtpd => Box::new(opensmtpd::OpenSmtpd::new()),
        MtaKind::Sendmail => Box::new(sendmail::Sendmail::new()),
    })
}

/// The kind `[mta] kind` names, or the one found here for `auto`.
fn chosen_kind(choice: MtaChoice) -> Option<MtaKind> {
    match choice {
        MtaChoice::None => None,
        MtaChoice::Auto => detect_kind(),
        MtaChoice::Postfix => Some(MtaKind::Postfix),
        MtaChoice::Exim => Some(MtaKind::Exim),
        MtaChoice::Opensmtpd => Some(MtaKind::Opensmtpd),
        MtaChoice::Sendmail => Some(MtaKind::Sendmail),
    }
}

/// Postfix's own log file (`maillog_file`, Postfix 3.4+ without syslog) when the
/// configured Postfix writes one; the mail-log follower prefers it to syslog's file.
pub fn postfix_maillog_file(config: &MtaConfig) -> Option<std::path::PathBuf> {
    if chosen_kind(config.kind)? != MtaKind::Postfix {
        return None;
    }
    let postconf = postfix::find_postconf()?;
    let dir = config.config_dir.as_ref().map(|d| d.display().to_string());
    let mut args: Vec<&str> = Vec::new();
    if let Some(d) = &dir {
        args.extend(["-c", d.as_str()]);
    }
    args.extend(["-h", "maillog_file"]);
    let out = command::run(&postconf, &args, std::time::Duration::from_secs(5)).ok()?;
    let value = out.stdout.trim();
    (out.success() && !value.is_empty()).then(|| std::path::PathBuf::from(value))
}

/// Which MTA is here: a running daemon first, then installed programs.
pub fn detect_kind() -> Option<MtaKind> {
    let procs = procfs::processes_named(&["master", "exim4", "exim", "smtpd", "sendmail"]);
    let has = |comm: &str, argv_has: &str| {
        procs
            .iter()
            .any(|p| p.comm == comm && p.argv.iter().any(|a| a.contains(argv_has)))
    };
    if has("master", "") && Path::new("/usr/sbin/postconf").exists() {
        return Some(MtaKind::Postfix);
    }
    if procs
        .iter()
        .any(|p| (p.comm == "exim4" || p.comm == "exim") && p.argv.iter().any(|a| a == "-bd"))
    {
        return Some(MtaKind::Exim);
    }
    // OpenSMTPD's parent process is called smtpd too, but its parent is not a Postfix
    // master and it has no `-n service` argument.
    if procs.iter().any(|p| {
        p.comm == "smtpd"
            && !p.argv.iter().any(|a| a == "-n")
            && !procs.iter().any(|m| m.pid == p.ppid && m.comm == "master")
    }) && Path::new("/usr/sbin/smtpctl").exists()
    {
        return Some(MtaKind::Opensmtpd);
    }
    if has("sendmail", "accepting connections") || has("sendmail", "rejecting connections") {
        return Some(MtaKind::Sendmail);
    }
    if Path::new("/usr/sbin/postconf").exists() {
        Some(MtaKind::Postfix)
    } else if exim::find_exim().is_some() {
        Some(MtaKind::Exim)
    } else if Path::new("/usr/sbin/smtpctl").exists() {
        Some(MtaKind::Opensmtpd)
    } else if Path::new("/etc/mail/sendmail.cf").exists() {
        Some(MtaKind::Sendmail)
    } else {
        None
    }
}

/// Puts the latest queue listing into a per-tick sample: true age of the oldest
/// message at `now`, and the per-queue counts when the directories could not be counted.
pub fn merge_details(sample: &mut MtaSample, details: Option<&QueueDetails>, now: Ts) {
    let Some(d) = details else {
        if let Some(q) = &mut sample.queue {
            if q.total() == 0 && q.method == CountMethod::Directory {
                q.oldest_age_s = Some(0.0);
            }
        }
        return;
    };
    // Not counted this tick (directories unreadable): the listing's counts stand in.
    let q = sample.queue.get_or_insert_with(|| {
        let count = |name: &str| Some(d.counts.get(name).copied().unwrap_or(0));
        QueueCounts {
            maildrop: count("maildrop"),
            incoming: count("incoming"),
            active: count("active"),
            deferred: count("deferred"),
            hold: count("hold"),
            oldest_age_s: None,
            method: CountMethod::Postqueue,
            counted_age_s: (now - d.sampled_at).max(0.0),
        }
    });
    q.oldest_age_s = if q.total() == 0 && q.method == CountMethod::Directory {
        Some(0.0)
    } else {
        d.oldest_arrival.map(|a| (now - a).max(0.0))
    };
    sample.details = Some(d.clone());
}

pub use crate::time::unix_now;

/// How long to wait between two full listings, and how long one may take, scaled to
/// the queue size: a listing of 100k messages costs seconds of CPU and disk, so it runs
/// rarely on a big queue and often on a small one.
pub fn listing_cadence(queued: u64, tick: Duration) -> (Duration, Duration) {
    let per_msg = Duration::from_micros(1000);
    let pause = (tick * 6 + per_msg * queued.min(1_000_000) as u32)
        .clamp(Duration::from_secs(15), Duration::from_secs(600));
    let budget = (Duration::from_secs(10)
        + Duration::from_micros(500) * queued.min(1_000_000) as u32)
        .min(Duration::from_secs(120));
    (pause, budget)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct FakeHost;
    impl crate::host::HostSource for FakeHost {
        fn prime(&mut self) {}
        fn sample(&mut self) -> Result<crate::host::HostSample, crate::host::HostError> {
            Ok(Default::default())
        }
    }

    /// A mail server whose queue listing takes far longer than a tick.
    struct SlowListing;
    impl MtaSource for SlowListing {
        fn sample(&mut self) -> Result<MtaSample, MtaError> {
            Ok(MtaSample {
                kind: MtaKind::Postfix,
                queue: Some(QueueCounts {
                    deferred: Some(5),
                    method: CountMethod::Directory,
                    ..Default::default()
                }),
                ..Default::default()
            })
        }
        fn lister(&self) -> Option<Box<dyn QueueLister>> {
            struct L;
            impl QueueLister for L {
                fn list(&mut self, _: Duration) -> Result<QueueDetails, MtaError> {
                    std::thread::sleep(Duration::from_millis(1200));
                    Ok(QueueDetails {
                        sampled_at: unix_now(),
                        oldest_arrival: Some(unix_now() - 60.0),
                        complete: true,
                        ..Default::default()
                    })
                }
            }
            Some(Box::new(L))
        }
    }

    /// When each tick arrived and the oldest-message age it carried.
    type Seen = std::sync::Arc<std::sync::Mutex<Vec<(std::time::Instant, Option<f64>)>>>;
    struct Spacing(Seen);
    impl crate::tick::Sink for Spacing {
        fn on_tick(&mut self, tick: &crate::tick::Tick) {
            let age = tick
                .snapshot
                .mta
                .as_ref()
                .and_then(|m| m.queue.as_ref())
                .and_then(|q| q.oldest_age_s);
            if let Ok(mut v) = self.0.lock() {
                v.push((std::time::Instant::now(), age));
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_slow_queue_listing_never_delays_a_tick() {
        let mut config = crate::config::Config::default();
        config.monitor.interval_secs = 0.2;
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut m = crate::monitor::Monitor::new(config, Box::new(FakeHost))
            .with_mta(Box::new(SlowListing));
        m.add_sink(Box::new(Spacing(seen.clone())));
        let cancel = tokio_util::sync::CancellationToken::new();
        let stop = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(2300)).await;
            stop.cancel();
        });
        m.run(cancel).await;
        let v = seen.lock().map(|v| v.clone()).unwrap_or_default();
        assert!(v.len() >= 7, "{} ticks", v.len());
        for w in v.windows(2) {
            let gap = w[1].0 - w[0].0;
            assert!(gap < Duration::from_millis(350), "a tick waited {gap:?}");
        }
        // Ticks before the listing finished have no age; later ones have the true age.
        assert_eq!(v[0].1, None);
        assert!(v.last().and_then(|t| t.1).is_some_and(|a| a >= 60.0));
    }

    #[test]
    fn cadence_grows_with_the_queue_and_stays_bounded() {
        let tick = Duration::from_secs(5);
        let (small, b_small) = listing_cadence(10, tick);
        let (big, b_big) = listing_cadence(100_000, tick);
        let (huge, b_huge) = listing_cadence(50_000_000, tick);
        assert!(small >= Duration::from_secs(15) && small < big);
        assert!(big <= huge && huge <= Duration::from_secs(600));
        assert!(b_small < b_big && b_huge <= Duration::from_secs(120));
    }

    #[test]
    fn listing_ages_the_oldest_message_and_fills_missing_counts() {
        let mut s = MtaSample::default();
        let d = QueueDetails {
            sampled_at: 1000.0,
            messages: 3,
            counts: [("deferred".to_string(), 3)].into_iter().collect(),
            oldest_arrival: Some(400.0),
            complete: true,
            ..Default::default()
        };
        merge_details(&mut s, Some(&d), 1010.0);
        let q = s.queue.expect("queue");
        assert_eq!(q.deferred, Some(3));
        assert_eq!(q.method, CountMethod::Postqueue);
        assert_eq!(q.oldest_age_s, Some(610.0));
        assert_eq!(q.counted_age_s, 10.0);
    }

    #[test]
    fn an_empty_counted_queue_has_no_age_to_wait_for() {
        let mut s = MtaSample {
            queue: Some(QueueCounts {
                method: CountMethod::Directory,
                deferred: Some(0),
                ..Default::default()
            }),
            ..Default::default()
        };
        merge_details(&mut s, None, 5.0);
        assert_eq!(s.queue.and_then(|q| q.oldest_age_s), Some(0.0));
    }
}

//! Plain data an MTA source produces each tick (part of [`crate::snapshot::Snapshot`]).
//! JSON field names of `limits` and `queue` are the `check --json` contract.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::time::Ts;

/// Which mail server a sample is of. What differs between them is said here, by the
/// adapters' side, so the assessment never matches on a kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(rename_all = "lowercase")]
pub enum MtaKind {
    #[default]
    Postfix,
    Exim,
    Opensmtpd,
    Sendmail,
}

impl MtaKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MtaKind::Postfix => "postfix",
            MtaKind::Exim => "exim",
            MtaKind::Opensmtpd => "opensmtpd",
            MtaKind::Sendmail => "sendmail",
        }
    }

    /// What one SMTP session's process is called, for messages.
    pub fn session_process(self) -> &'static str {
        match self {
            MtaKind::Postfix => "smtpd",
            MtaKind::Exim => "Exim daemon child",
            MtaKind::Opensmtpd | MtaKind::Sendmail => "server process",
        }
    }

    /// Files (inodes) one deferred message holds: Postfix keeps the queue file and a
    /// defer log with the reasons; Exim the -H and -D spool files and a message log.
    pub fn files_per_deferred_message(self) -> u64 {
        match self {
            MtaKind::Postfix => 2,
            MtaKind::Exim => 3,
            MtaKind::Opensmtpd | MtaKind::Sendmail => 1,
        }
    }
}

impl std::fmt::Display for MtaKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// Whether the daemon that accepts mail runs (Postfix master, Exim daemon, …).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum MtaState {
    #[default]
    Running,
    /// Not running, and what the adapter saw ("no Postfix master process").
    Down { reason: String },
}

/// A configured limit and the parameter it comes from. `value` is `None` when the
/// parameter could not be read (never a guessed default); `Some(0)` where the server
/// reads 0 as "off".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct Limit {
    pub value: Option<u64>,
    /// "maxproc of smtp in master.cf", "smtpd_client_connection_count_limit",
    /// "smtp_accept_max_per_host", "MaxDaemonChildren".
    pub parameter: String,
}

impl Limit {
    pub fn new(value: Option<u64>, parameter: impl Into<String>) -> Self {
        Limit {
            value,
            parameter: parameter.into(),
        }
    }
}

/// The free space below which the server refuses new mail: Postfix
/// max(queue_minfree, 1.5 × message_size_limit), Exim check_spool_space.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct QueueSpaceLimit {
    /// `None` when one of the parameters could not be read.
    pub bytes: Option<u64>,
    /// The parameters it is computed from ("queue_minfree", "message_size_limit").
    pub parameters: Vec<String>,
    /// How the server applies it, for messages ("max(queue_minfree, 1.5 ×
    /// message_size_limit); below it smtpd answers 452 4.3.1").
    pub rule: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, ts_rs::TS)]
#[ts(export)]
pub struct MtaSample {
    pub kind: MtaKind,
    pub version: Option<String>,
    #[serde(flatten)]
    pub state: MtaState,
    /// Limits as the server itself reports them, by parameter name; `null` when a limit
    /// could not be read (never a guessed default). Per smtpd service `<service>_process_limit`.
    /// The `check --json` "limits" object; the assessment reads the typed limits below.
    pub limits: BTreeMap<String, Option<u64>>,
    /// Below this much free queue space the server refuses mail (queue_disk's limit).
    pub queue_space: Option<QueueSpaceLimit>,
    /// The most messages the server keeps in its active queue (active_queue's limit).
    pub active_limit: Option<Limit>,
    /// How long a message may stay queued before it bounces (oldest_message's limit).
    pub queue_lifetime: Option<Limit>,
    /// Inodes the server keeps free on the spool (Exim check_spool_inodes).
    pub spool_inodes_reserve: Option<Limit>,
    /// Where the limits were read from, for messages ("postconf -c /etc/postfix").
    pub config_source: String,
    pub services: Vec<ServiceSample>,
    pub queue: Option<QueueCounts>,
    pub queue_fs: Option<QueueFs>,
    /// The latest full listing of the queue (slow; from a background sampler).
    pub details: Option<QueueDetails>,
    /// Things the user should know that are not failures ("queue directories not
    /// readable: counts come from postqueue -j every 60 s").
    pub notes: Vec<String>,
    /// The load average above which the server refuses mail, and the parameter that
    /// sets it (Exim's `smtp_load_reserve`, Sendmail's `RefuseLA`): the load item's limit.
    #[serde(default)]
    pub refuse_load: Option<(f64, String)>,
    /// Why the queue could not be counted, when `queue` is `None`.
    pub queue_problem: Option<String>,
}

impl MtaSample {
    pub fn is_running(&self) -> bool {
        self.state == MtaState::Running
    }

    /// The limits that could be read, as text by parameter name: what explanations
    /// quote ("smtpd_client_connection_count_limit is 50 here").
    pub fn known_limits(&self) -> BTreeMap<String, String> {
        self.limits
            .iter()
            .filter_map(|(k, v)| v.map(|v| (k.clone(), v.to_string())))
            .collect()
    }
}

/// One listening service that accepts SMTP (an smtpd service of master.cf, the Exim
/// daemon, …) with its limit and current use.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, ts_rs::TS)]
#[ts(export)]
pub struct ServiceSample {
    pub name: String,
    /// smtpd, postscreen, exim, …
    pub command: String,
    pub address: Option<String>,
    pub port: Option<u16>,
    /// The most sessions it runs at once ("maxproc of smtp in master.cf",
    /// "smtp_accept_max", "MaxDaemonChildren"); value `None` when unlimited or unreadable,
    /// as the parameter text says.
    pub process_limit: Limit,
    /// The most connections one client may hold (Postfix
    /// smtpd_client_connection_count_limit, Exim smtp_accept_max_per_host); `None` where
    /// the server has no such limit. A value of 0 means the limit is off.
    pub per_client_limit: Option<Limit>,
    /// Processes serving a client now (for Postfix: smtpd processes that hold an
    /// established connection), the use against `process_limit`.
    pub processes: u64,
    /// Processes waiting for the next client (Postfix keeps an smtpd up to `max_idle`
    /// after its session): room, not use.
    pub idle_processes: u64,
    /// Processes running with `-o stress=yes` (Postfix's overload mode).
    pub stressed: u64,
    pub listening: bool,
    /// Connections accepted by the kernel and waiting for a process (listen Recv-Q).
    pub backlog: Option<u64>,
    /// The listen backlog the kernel enforces for this socket, as the server asked for it.
    pub backlog_limit: Option<u64>,
    pub connections: u64,
    /// The peer with the most established connections, and how many.
    pub top_peer: Option<String>,
    pub top_peer_connections: u64,
    /// The largest group among peers not exempt from the per-client limit.
    pub top_limited_peer: Option<String>,
    pub top_limited_peer_connections: u64,
}

/// How a queue was counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub enum CountMethod {
    /// Entries of the queue directories, each tick (cheap, exact).
    #[default]
    #[serde(rename = "directory")]
    Directory,
    /// The latest `postqueue -j` listing, when the directories could not be read.
    #[serde(rename = "postqueue")]
    Postqueue,
    #[serde(rename = "exim -bpc")]
    EximBpc,
    #[serde(rename = "smtpctl show stats")]
    SmtpctlStats,
}

impl CountMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            CountMethod::Directory => "directory",
            CountMethod::Postqueue => "postqueue",
            CountMethod::EximBpc => "exim -bpc",
            CountMethod::SmtpctlStats => "smtpctl show stats",
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, ts_rs::TS)]
#[ts(export)]
pub struct QueueCounts {
    pub maildrop: Option<u64>,
    pub incoming: Option<u64>,
    pub active: Option<u64>,
    pub deferred: Option<u64>,
    pub hold: Option<u64>,
    /// True age of the oldest queued message (from arrival times, not file mtimes).
    pub oldest_age_s: Option<f64>,
    /// How the counts were made.
    pub method: CountMethod,
    /// Seconds since the counts were made (0 for per-tick directory counts).
    pub counted_age_s: f64,
}

impl QueueCounts {
    pub fn total(&self) -> u64 {
        [
            self.maildrop,
            self.incoming,
            self.active,
            self.deferred,
            self.hold,
        ]
        .iter()
        .flatten()
        .sum()
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, ts_rs::TS)]
#[ts(export)]
pub struct QueueFs {
    pub path: String,
    pub total_bytes: u64,
    /// Available to unprivileged users (statvfs f_bavail), as Postfix checks it.
    pub free_bytes: u64,
    pub total_inodes: u64,
    pub free_inodes: u64,
}

impl QueueFs {
    /// Free bytes and inodes of the filesystem holding the queue directory.
    pub fn read(dir: &std::path::Path) -> std::io::Result<QueueFs> {
        let (total_bytes, free_bytes, total_inodes, free_inodes) =
            crate::host::statvfs(&dir.to_string_lossy())?;
        Ok(QueueFs {
            path: dir.display().to_string(),
            total_bytes,
            free_bytes,
            total_inodes,
            free_inodes,
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ts_rs::TS)]
#[ts(export)]
pub struct Counted {
    pub key: String,
    pub count: u64,
}

/// One full listing of the queue (`postqueue -j`, `exim -bp`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, ts_rs::TS)]
#[ts(export)]
pub struct QueueDetails {
    /// When the listing finished.
    pub sampled_at: Ts,
    pub duration_s: f64,
    pub messages: u64,
    /// Messages per queue name as listed.
    pub counts: BTreeMap<String, u64>,
    pub oldest_arrival: Option<Ts>,
    /// Most frequent delay reasons of deferred recipients, largest first.
    pub top_reasons: Vec<Counted>,
    /// Recipient domains of the deferred queue, largest first.
    pub top_domains: Vec<Counted>,
    /// False when the listing was cut short (timeout, lines skipped); counts are then
    /// lower bounds.
    pub complete: bool,
    pub note: Option<String>,
}

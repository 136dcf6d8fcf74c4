//! Plain data an MTA source produces each tick (part of [`crate::snapshot::Snapshot`]).
//! JSON field names of `limits` and `queue` are the `check --json` contract.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::time::Ts;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, ts_rs::TS)]
#[ts(export)]
pub struct MtaSample {
    /// postfix | exim | opensmtpd | sendmail
    pub kind: String,
    pub version: Option<String>,
    /// The daemon that accepts mail is running (Postfix master, Exim daemon, …).
    pub running: bool,
    /// Limits as the server itself reports them, by parameter name; `null` when a limit
    /// could not be read (never a guessed default). Per smtpd service `<service>_process_limit`.
    pub limits: BTreeMap<String, Option<u64>>,
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
    pub process_limit: Option<u64>,
    /// "master.cf maxproc", "default_process_limit", "smtp_accept_max".
    pub limit_source: String,
    pub processes: u64,
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
    /// How the counts were made: `directory` (entries of the queue directories, each
    /// tick), `postqueue` (the latest `postqueue -j` listing), `exim -bpc`, …
    pub method: String,
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

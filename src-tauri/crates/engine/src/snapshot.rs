//! Plain data that sources produce once per tick. Nothing here decides anything.

use serde::{Deserialize, Serialize};

pub use crate::host::{DiskIoSample, FilesystemSample, HostSample, MemorySample};
pub use crate::time::Ts;

/// Everything the sources read in one tick. A source that failed leaves its part empty
/// and says why in `problems`: a missing reading is a gap, never a zero.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Snapshot {
    pub ts: Ts,
    pub host: Option<HostSample>,
    /// The mail server: limits, processes, connections, queues (see [`crate::mta`]).
    #[serde(default)]
    pub mta: Option<crate::mta::MtaSample>,
    /// Each probe target's latest result and failures in a row (see [`crate::probe`]).
    #[serde(default)]
    pub probes: Vec<crate::probe::ProbeStatus>,
    /// Who is throttling our outbound mail, from the mail log (see [`crate::maillog`]).
    #[serde(default)]
    pub throttling: Option<crate::maillog::ThrottlingReading>,
    /// The latest round of the domain checks (DNSBL, reverse DNS, mail DNS, served
    /// certificates; see [`crate::domain`]), when `[dns] watch` is on.
    #[serde(default)]
    pub domain: Option<crate::domain::DomainReading>,
    /// What could not be read this tick, per source ("host: statvfs /var timed out").
    pub problems: Vec<SourceProblem>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ts_rs::TS)]
#[ts(export)]
pub struct SourceProblem {
    pub source: String,
    pub message: String,
    /// A failure, or a source this host simply does not have (shown as a note).
    #[serde(default)]
    pub kind: ProblemKind,
}

/// Whether a source failed or is not there to read.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, ts_rs::TS)]
#[ts(export)]
#[serde(rename_all = "lowercase")]
pub enum ProblemKind {
    /// It could not be read this tick: the message says why, in the source's words.
    #[default]
    Failed,
    /// Nothing to read on this host (no mail log anywhere): the message says so in
    /// plain words with the setting to use. Not an error.
    Absent,
}

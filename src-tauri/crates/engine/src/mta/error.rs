//! What can go wrong reading a mail server. Clone, because an adapter caches a failed
//! configuration read (and retries it a minute later) like a good one.

/// An external program (postconf, exim, smtpctl, postqueue) that did not do its job.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CommandError {
    #[error("cannot run {program}: {reason}")]
    Spawn { program: String, reason: String },
    #[error("{program} did not finish within {seconds:.1} s and was killed")]
    TimedOut { program: String, seconds: f64 },
    /// It ran and said no ("postconf: fatal: …", exit status 1).
    #[error("{command} failed: {why}")]
    Failed { command: String, why: String },
}

/// Why a mail server could not be read this time.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MtaError {
    #[error(transparent)]
    Command(#[from] CommandError),
    /// A program the adapter needs is not installed ("postconf not found in …").
    #[error("{0}")]
    NotInstalled(String),
    /// A file or directory of the server could not be read ("cannot count …: …").
    #[error("{0}")]
    Unreadable(String),
    /// Nothing has been read yet (the first read is still to come).
    #[error("{0}")]
    NotRead(String),
}

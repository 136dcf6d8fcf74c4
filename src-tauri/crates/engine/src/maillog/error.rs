//! What can stop a mail-log follower (the supervisor reports it and tries again).

/// A follower that stopped: the log could not be read, or journalctl failed.
#[derive(Debug, thiserror::Error)]
pub enum MaillogError {
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// The log is not something to follow (a FIFO, a device), or the reader stopped.
    #[error("{0}")]
    Unfollowable(String),
    /// journalctl could not be run or ended.
    #[error("{0}")]
    Journal(String),
    /// This host has no mail log to read: not a failure but a fact, said in plain words
    /// with the setting that names a log elsewhere.
    #[error("No mail log found: {looked}. Deferrals by receiving servers are not counted until a log is named in the configuration, e.g. [[maillog]] path = \"/var/log/mail.log\"")]
    NoMailLog {
        /// Where it was looked for, and what was there.
        looked: String,
    },
}

impl MaillogError {
    /// Whether this host simply has no mail log (said as a note, not a failure).
    pub fn is_no_mail_log(&self) -> bool {
        matches!(self, MaillogError::NoMailLog { .. })
    }
}

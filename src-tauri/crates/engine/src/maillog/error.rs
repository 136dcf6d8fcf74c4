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
}

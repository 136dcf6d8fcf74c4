//! Why an agent could not be watched, in words an admin can act on.

/// One failure to reach or read an agent. The text is what the server's row shows.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FleetError {
    #[error("connection refused by {addr} (is headroom-cli serve running there?)")]
    Refused { addr: String },
    #[error("no answer from {addr} within {secs} s")]
    Timeout { addr: String, secs: u64 },
    #[error("cannot reach {addr}: {reason}")]
    Connect { addr: String, reason: String },
    #[error(
        "the agent refused the token (401): store the agent's token in the OS keyring as {account}"
    )]
    Unauthorized { account: String },
    #[error("no token for this server: {0}")]
    NoToken(String),
    #[error("the agent's certificate changed: pinned {pinned}, served {served}; if the agent was reinstalled pin the new one, otherwise someone may be in the middle")]
    FingerprintChanged { pinned: String, served: String },
    #[error("the agent's certificate is not pinned yet: it presents SHA-256 {served}; add fingerprint = \"{served}\" if that is what the agent printed")]
    NotPinned { served: String },
    #[error("TLS with the agent failed: {0}")]
    Tls(String),
    #[error("the agent answered HTTP {status}: {body}")]
    Status { status: u16, body: String },
    #[error("the agent sent something that is not its API: {0}")]
    Protocol(String),
    #[error("the connection to the agent closed: {0}")]
    Closed(String),
    #[error("ssh: {0}")]
    Ssh(String),
}

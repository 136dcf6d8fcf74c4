//! Probe passwords and webhook tokens in the OS keyring (Secret Service on Linux), never in the config
//! file or the logs. Entries are service `headroom`, user `USERNAME@HOST`.
//!
//! A desktop without a keyring daemon (or a headless host without D-Bus) is normal:
//! lookups then fail with a sentence that says so, and the probe goes on without AUTH.

use std::time::Duration;

/// The keyring service name of every Headroom secret.
pub const SERVICE: &str = "headroom";
/// D-Bus calls to a missing or locked keyring must not hold a probe up.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// The keyring user of a probe password.
pub fn account(username: &str, host: &str) -> String {
    format!("{username}@{host}")
}

/// Why a password could not be had; the text is a sentence for the probe's `detail`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SecretError {
    #[error(
        "nothing stored for {account} in the OS keyring (service \"{SERVICE}\"); store it first"
    )]
    NoEntry { account: String },
    #[error("no OS keyring available (Secret Service over D-Bus) to read the secret of {account}: {reason}")]
    NoKeyring { account: String, reason: String },
    #[error("the OS keyring did not answer within {seconds} s (is it locked?)")]
    Timeout { seconds: u64 },
    #[error("cannot use the OS keyring for {account}: {reason}")]
    Other { account: String, reason: String },
}

/// Looks the password up.
pub async fn password(username: &str, host: &str) -> Result<String, SecretError> {
    lookup(&account(username, host)).await
}

/// Looks up any Headroom secret by its keyring account (`agent@NAME` for an agent's
/// token, `webhook@NAME` for a webhook's bearer token, `USERNAME@HOST` for a probe
/// password).
pub async fn lookup(account: &str) -> Result<String, SecretError> {
    let account = account.to_string();
    let acc = account.clone();
    let lookup = tokio::task::spawn_blocking(move || {
        keyring::Entry::new(SERVICE, &acc).and_then(|e| e.get_password())
    });
    match tokio::time::timeout(LOOKUP_TIMEOUT, lookup).await {
        Ok(Ok(Ok(p))) => Ok(p),
        Ok(Ok(Err(e))) => Err(describe(&account, e)),
        Ok(Err(e)) => Err(SecretError::Other {
            account,
            reason: e.to_string(),
        }),
        Err(_) => Err(SecretError::Timeout {
            seconds: LOOKUP_TIMEOUT.as_secs(),
        }),
    }
}

/// Stores a password (for the app's settings and for admins' scripts).
pub async fn store_password(username: &str, host: &str, password: &str) -> Result<(), SecretError> {
    store(&account(username, host), password).await
}

/// Stores any Headroom secret under its keyring account.
pub async fn store(account: &str, secret: &str) -> Result<(), SecretError> {
    let account = account.to_string();
    let acc = account.clone();
    let pw = secret.to_string();
    let store = tokio::task::spawn_blocking(move || {
        keyring::Entry::new(SERVICE, &acc).and_then(|e| e.set_password(&pw))
    });
    match tokio::time::timeout(LOOKUP_TIMEOUT, store).await {
        Ok(Ok(Ok(()))) => Ok(()),
        Ok(Ok(Err(e))) => Err(describe(&account, e)),
        Ok(Err(e)) => Err(SecretError::Other {
            account,
            reason: e.to_string(),
        }),
        Err(_) => Err(SecretError::Timeout {
            seconds: LOOKUP_TIMEOUT.as_secs(),
        }),
    }
}

fn describe(account: &str, e: keyring::Error) -> SecretError {
    let account = account.to_string();
    match e {
        keyring::Error::NoEntry => SecretError::NoEntry { account },
        keyring::Error::PlatformFailure(e) | keyring::Error::NoStorageAccess(e) => {
            SecretError::NoKeyring {
                account,
                reason: e.to_string(),
            }
        }
        other => SecretError::Other {
            account,
            reason: other.to_string(),
        },
    }
}

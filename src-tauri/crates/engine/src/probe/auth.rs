//! The rule for sending a probe's AUTH password: over verified TLS to anyone, and
//! otherwise only to a loopback server, since without TLS the password crosses the
//! network in clear and without verification whoever sits in between can pose as the
//! server and take it.

use std::net::IpAddr;

use super::TlsMode;

/// Why a password may not be sent over a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unprotected {
    /// No TLS: the password crosses the network in clear.
    NoTls,
    /// TLS without certificate verification: whoever sits in between can pose as the
    /// server and take the password.
    Unverified,
}

impl Unprotected {
    /// The `[[probe]]` key to change.
    pub fn field(self) -> &'static str {
        match self {
            Unprotected::NoTls => "tls",
            Unprotected::Unverified => "verify_tls",
        }
    }
}

/// Whether AUTH may send a password over this channel to a server at `addrs` (every
/// address the host resolves to): over verified TLS to anyone; without TLS, or with
/// verification off, only when every address is loopback (127.0.0.0/8, ::1), where no
/// one sits in between.
pub fn auth_channel(tls: TlsMode, verify_tls: bool, addrs: &[IpAddr]) -> Result<(), Unprotected> {
    let loopback = !addrs.is_empty() && addrs.iter().all(|a| a.to_canonical().is_loopback());
    match (tls, verify_tls) {
        _ if loopback => Ok(()),
        (TlsMode::None, _) => Err(Unprotected::NoTls),
        (_, false) => Err(Unprotected::Unverified),
        (_, true) => Ok(()),
    }
}

pub(super) fn message(why: Unprotected, user: &str, host: &str) -> String {
    match why {
        Unprotected::NoTls => format!(
            "AUTH as {user} would send its password in clear to {host}, which is not a loopback \
             address: set tls = \"starttls\" or \"implicit\" (--tls starttls|implicit)"
        ),
        Unprotected::Unverified => format!(
            "AUTH as {user} would send its password to {host}, which is not a loopback address, \
             over TLS whose certificate is not verified (verify_tls = false, --insecure), so \
             anyone in between could pose as the server and take it: turn verification on \
             (with ca_file for a private CA)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().filter_map(|s| s.parse().ok()).collect()
    }

    #[test]
    fn a_password_goes_over_verified_tls_or_to_loopback_only() {
        use TlsMode::{Implicit, None, Starttls};
        let remote = ips(&["192.0.2.1"]);
        let local = ips(&["127.0.0.1", "::1", "127.8.9.10", "::ffff:127.0.0.1"]);
        assert_eq!(auth_channel(Starttls, true, &remote), Ok(()));
        assert_eq!(auth_channel(Implicit, true, &remote), Ok(()));
        assert_eq!(
            auth_channel(Implicit, false, &remote),
            Err(Unprotected::Unverified)
        );
        assert_eq!(auth_channel(None, true, &remote), Err(Unprotected::NoTls));
        for (tls, verify) in [(None, true), (Starttls, false), (Implicit, false)] {
            assert_eq!(auth_channel(tls, verify, &local), Ok(()), "{tls:?}");
        }
        // A name counts as loopback only when every address it resolves to is.
        assert_eq!(
            auth_channel(None, true, &ips(&["127.0.0.1", "192.0.2.1"])),
            Err(Unprotected::NoTls)
        );
        // Nothing known is nothing proven.
        assert_eq!(auth_channel(None, true, &[]), Err(Unprotected::NoTls));
        assert_eq!(Unprotected::NoTls.field(), "tls");
        assert_eq!(Unprotected::Unverified.field(), "verify_tls");
    }
}

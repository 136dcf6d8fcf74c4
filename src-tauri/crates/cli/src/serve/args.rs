//! `serve`'s arguments and the rules that decide, before anything listens, whether the
//! agent may start as asked.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Default port. Chosen from the exporter range (9100 and up) of Prometheus' "Default
/// port allocations" wiki page as a number no exporter listed there holds; see README.
pub const DEFAULT_PORT: u16 = 9767;

#[derive(clap::Args, Debug, Clone)]
pub struct ServeArgs {
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Address and port to listen on (default: loopback).
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<SocketAddr>,
    /// File holding the bearer token (default: token in the agent's data directory).
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// PEM certificate; without it, a non-loopback listener gets a self-signed one.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Speak the API as JSON lines on stdin/stdout (for `ssh -T host headroom-cli serve --stdio`).
    #[arg(long, conflicts_with_all = ["listen", "tls_cert", "new_token"])]
    pub stdio: bool,
    /// Write a new random token to the token file (mode 0600), print where, and exit.
    #[arg(long)]
    pub new_token: bool,
}

impl ServeArgs {
    pub fn listen_addr(&self) -> SocketAddr {
        self.listen
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], DEFAULT_PORT)))
    }

    /// Where the agent keeps what it makes itself (token, self-signed certificate):
    /// `$XDG_DATA_HOME/headroom/agent` (systemd's `StateDirectory` via `$STATE_DIRECTORY`).
    pub fn data_dir(&self) -> PathBuf {
        if let Some(d) = std::env::var_os("STATE_DIRECTORY") {
            return PathBuf::from(d);
        }
        let base = std::env::var_os("XDG_DATA_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
            .unwrap_or_else(|| PathBuf::from("/var/lib"));
        base.join("headroom").join("agent")
    }

    pub fn token_path(&self) -> PathBuf {
        self.token_file
            .clone()
            .unwrap_or_else(|| self.data_dir().join("token"))
    }
}

/// A listener reachable from other machines must not serve without a token, nor send
/// the token in clear text.
pub fn check_exposure(addr: SocketAddr, has_token: bool, has_tls: bool) -> Result<(), String> {
    if addr.ip().is_loopback() || (has_token && has_tls) {
        return Ok(());
    }
    let missing = match (has_token, has_tls) {
        (false, false) => "a token and TLS",
        (false, true) => "a token",
        _ => "TLS",
    };
    Err(format!(
        "refusing to listen on {addr}: an address other than loopback needs {missing} \
         (create a token with `headroom-cli serve --new-token`; TLS is on with --tls-cert/--tls-key \
         or a self-signed certificate made on first start)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposure_rules() {
        let lo: SocketAddr = "127.0.0.1:1".parse().unwrap_or_else(|_| unreachable!());
        let any: SocketAddr = "0.0.0.0:1".parse().unwrap_or_else(|_| unreachable!());
        assert!(check_exposure(lo, false, false).is_ok());
        assert!(check_exposure(any, true, true).is_ok());
        let says = |r: Result<(), String>| r.err().unwrap_or_default();
        assert!(says(check_exposure(any, false, true)).contains("needs a token"));
        assert!(says(check_exposure(any, true, false)).contains("needs TLS"));
        assert!(says(check_exposure(any, false, false)).contains("needs a token and TLS"));
    }
}

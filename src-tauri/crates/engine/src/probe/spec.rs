//! What to probe, and the check that it makes sense before anything connects.
//!
//! [`check_target`] is the one check of a `[[probe]]` target: the configuration runs
//! it at load (so a bad target is an error with its line and column, never a target
//! silently dropped later) and [`ProbeSpec::validate`] runs the same checks before a
//! probe starts.
//!
//! Long (~480 lines): the one check of a target covers every field (host, port, TLS,
//! HELO, addresses, timeouts, CA file, AUTH channel), each with its own message.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use lettre::transport::smtp::client::{Certificate, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::Address;

use super::auth::{self, auth_channel, Unprotected};
use super::ca_file;
use super::{ProbeTarget, TlsMode};

/// A probe target as the user described it (config `[[probe]]` or CLI flags).
#[derive(Clone, PartialEq)]
pub struct ProbeSpec {
    pub name: String,
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    /// Certificate verification; only an explicit opt-out turns it off.
    pub verify_tls: bool,
    /// Extra trusted roots (PEM), for servers with a private CA.
    pub ca_file: Option<PathBuf>,
    /// Bounds the whole dialogue, DNS to QUIT.
    pub timeout: Duration,
    pub helo: Option<String>,
    /// Envelope sender; empty is the null sender `<>`.
    pub mail_from: String,
    pub rcpt_to: Option<String>,
    /// Deliver a small test message instead of stopping after RCPT.
    pub send: bool,
    /// AUTH user; the password comes from the OS keyring unless `password` is set.
    pub username: Option<String>,
    /// For callers that hold the secret themselves (tests); never serialized or logged.
    pub password: Option<String>,
    /// How often the scheduler runs this probe.
    pub interval: Duration,
}

impl fmt::Debug for ProbeSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProbeSpec")
            .field("name", &self.name)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("verify_tls", &self.verify_tls)
            .field("timeout", &self.timeout)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

impl ProbeSpec {
    /// A default probe of `host:port`: no TLS, 10 s timeout, nothing sent.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        ProbeSpec::from_target(&ProbeTarget {
            host: host.into(),
            port,
            ..ProbeTarget::default()
        })
    }

    pub fn from_target(t: &ProbeTarget) -> Self {
        ProbeSpec {
            name: t.name.clone(),
            host: t.host.clone(),
            port: t.port,
            tls: t.tls,
            verify_tls: t.verify_tls,
            ca_file: t.ca_file.clone(),
            timeout: secs(t.timeout_secs),
            helo: t.helo.clone(),
            mail_from: t.mail_from.clone(),
            rcpt_to: t.rcpt_to.clone(),
            send: t.send,
            username: t.username.clone(),
            password: None,
            interval: secs(t.interval_secs),
        }
    }

    /// Checks everything that can be checked without the network, and prepares TLS.
    pub fn validate(self) -> Result<Probe, ProbeError> {
        let Checked {
            host,
            from,
            rcpt,
            helo,
            ca,
        } = self.check()?;
        let tls = match self.tls {
            TlsMode::None => None,
            TlsMode::Starttls | TlsMode::Implicit => Some(self.tls_parameters(&host, ca)?),
        };
        let target = match host {
            Host::Ip(IpAddr::V6(ip)) => format!("[{ip}]:{}", self.port),
            Host::Ip(ip) => format!("{ip}:{}", self.port),
            Host::Name(ref n) => format!("{n}:{}", self.port),
        };
        Ok(Probe {
            spec: self,
            host,
            target,
            from,
            rcpt,
            helo,
            tls,
        })
    }

    /// Everything [`validate`](Self::validate) checks except building the TLS setup
    /// (which loads the system's roots: too slow to repeat at every configuration load).
    fn check(&self) -> Result<Checked, ProbeError> {
        let host = parse_host(&self.host)?;
        if self.port == 0 {
            return Err(ProbeError::Port);
        }
        let max = Duration::from_secs_f64(MAX_SECS);
        if self.timeout.is_zero() || self.timeout > max {
            return Err(ProbeError::Timeout(self.timeout.as_secs_f64()));
        }
        if self.interval < Duration::from_secs_f64(MIN_INTERVAL_SECS) || self.interval > max {
            return Err(ProbeError::Interval(self.interval.as_secs_f64()));
        }
        let from = parse_mailbox("mail_from", &self.mail_from)?;
        let rcpt = match &self.rcpt_to {
            Some(r) => Some(
                parse_mailbox("rcpt_to", r)?.ok_or_else(|| ProbeError::Address {
                    field: "rcpt_to",
                    value: r.clone(),
                    why: "a recipient cannot be empty".into(),
                })?,
            ),
            None => None,
        };
        if self.send && rcpt.is_none() {
            return Err(ProbeError::SendNeedsRcpt);
        }
        let helo = match &self.helo {
            Some(h) => parse_helo(h)?,
            None => default_helo(),
        };
        if let Some(u) = &self.username {
            if u.is_empty() || u.chars().any(char::is_control) {
                return Err(ProbeError::Username);
            }
            // A name is judged once it is resolved (in the dialogue); an address now.
            if let Host::Ip(ip) = host {
                auth_channel(self.tls, self.verify_tls, &[ip])
                    .map_err(|why| self.auth_refused(why))?;
            }
        }
        let ca = match &self.ca_file {
            Some(path) => Some(ca_file::read(path)?),
            None => None,
        };
        Ok(Checked {
            host,
            from,
            rcpt,
            helo,
            ca,
        })
    }

    /// The error of an AUTH that [`auth_channel`] refuses for this target.
    pub(super) fn auth_refused(&self, why: Unprotected) -> ProbeError {
        ProbeError::AuthUnprotected {
            why,
            user: self.username.clone().unwrap_or_default(),
            host: self.host.clone(),
        }
    }

    fn tls_parameters(
        &self,
        host: &Host,
        ca: Option<Certificate>,
    ) -> Result<TlsParameters, ProbeError> {
        let name = match host {
            Host::Ip(ip) => ip.to_string(),
            Host::Name(n) => n.trim_end_matches('.').to_string(),
        };
        let mut b = TlsParameters::builder(name);
        if let Some(cert) = ca {
            b = b.add_root_certificate(cert);
        }
        if !self.verify_tls {
            b = b
                .dangerous_accept_invalid_certs(true)
                .dangerous_accept_invalid_hostnames(true);
        }
        b.build_rustls().map_err(|e| ProbeError::Tls(e.to_string()))
    }
}

/// What [`ProbeSpec::check`] found well-formed.
struct Checked {
    host: Host,
    from: Option<Address>,
    rcpt: Option<Address>,
    helo: ClientId,
    ca: Option<Certificate>,
}

/// Longest probe timeout and interval, in seconds.
pub const MAX_SECS: f64 = 3600.0;
/// Shortest probe interval: a probe is a whole SMTP dialogue.
pub const MIN_INTERVAL_SECS: f64 = 1.0;

/// Seconds as a `Duration` without a panic: what cannot be one (NaN, negative, 1e20,
/// inf) becomes zero or the maximum, both of which [`ProbeSpec::validate`] refuses.
fn secs(v: f64) -> Duration {
    Duration::try_from_secs_f64(v).unwrap_or(if v > 0.0 {
        Duration::MAX
    } else {
        Duration::ZERO
    })
}

/// A `[[probe]]` target that cannot be probed: the key at fault and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct TargetInvalid {
    /// The `[[probe]]` key (`host`, `verify_tls`, `ca_file`, ...).
    pub field: &'static str,
    pub message: String,
}

impl From<ProbeError> for TargetInvalid {
    fn from(e: ProbeError) -> Self {
        TargetInvalid {
            field: e.field(),
            message: e.to_string(),
        }
    }
}

/// The one check of a configured target, shared by the configuration (at load) and
/// [`ProbeSpec::validate`] (before a probe starts). Reads the CA file, nothing else
/// outside the process; never touches the network.
pub fn check_target(t: &ProbeTarget) -> Result<(), TargetInvalid> {
    // Checked as numbers first, so the message shows the value as written.
    for (field, v, min, inclusive) in [
        ("timeout_secs", t.timeout_secs, 0.0, false),
        ("interval_secs", t.interval_secs, MIN_INTERVAL_SECS, true),
    ] {
        let low = if inclusive { v >= min } else { v > min };
        if !(v.is_finite() && low && v <= MAX_SECS) {
            let e = if field == "timeout_secs" {
                ProbeError::Timeout(v)
            } else {
                ProbeError::Interval(v)
            };
            return Err(e.into());
        }
    }
    ProbeSpec::from_target(t).check()?;
    Ok(())
}

/// A probe whose target and addresses are known to be well-formed.
pub struct Probe {
    pub(super) spec: ProbeSpec,
    pub(super) host: Host,
    pub(super) target: String,
    pub(super) from: Option<Address>,
    pub(super) rcpt: Option<Address>,
    pub(super) helo: ClientId,
    pub(super) tls: Option<TlsParameters>,
}

impl fmt::Debug for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Probe")
            .field("target", &self.target)
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

impl Probe {
    pub fn spec(&self) -> &ProbeSpec {
        &self.spec
    }

    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// `host:port` as it will be dialled (`[::1]:25` for IPv6).
    pub fn target(&self) -> &str {
        &self.target
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Host {
    Ip(IpAddr),
    Name(String),
}

/// Why a probe cannot even start. The CLI exits 3 (UNKNOWN) on these.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProbeError {
    #[error("invalid host {0:?}: {1}")]
    Host(String, String),
    #[error("invalid port 0: must be 1-65535")]
    Port,
    #[error("invalid timeout {0} s: must be more than 0 and at most 3600")]
    Timeout(f64),
    #[error("invalid interval {0} s: must be at least 1 and at most 3600")]
    Interval(f64),
    #[error("invalid {field} address {value:?}: {why}")]
    Address {
        field: &'static str,
        value: String,
        why: String,
    },
    #[error("invalid HELO name {0:?}: use a domain name or an address literal like [192.0.2.1]")]
    Helo(String),
    #[error("sending a test message needs a recipient (rcpt_to / --rcpt)")]
    SendNeedsRcpt,
    #[error("invalid AUTH username: empty or with control characters")]
    Username,
    #[error("cannot read the CA file {0}")]
    CaFile(String),
    #[error("cannot set up TLS: {0}")]
    Tls(String),
    #[error("{}", auth::message(*why, user, host))]
    AuthUnprotected {
        why: Unprotected,
        user: String,
        host: String,
    },
}

impl ProbeError {
    /// The `[[probe]]` key the error is about.
    pub fn field(&self) -> &'static str {
        match self {
            ProbeError::Host(..) => "host",
            ProbeError::Port => "port",
            ProbeError::Timeout(_) => "timeout_secs",
            ProbeError::Interval(_) => "interval_secs",
            ProbeError::Address { field, .. } => field,
            ProbeError::Helo(_) => "helo",
            ProbeError::SendNeedsRcpt => "send",
            ProbeError::Username => "username",
            ProbeError::CaFile(_) => "ca_file",
            ProbeError::Tls(_) => "tls",
            ProbeError::AuthUnprotected { why, .. } => why.field(),
        }
    }
}

fn parse_host(raw: &str) -> Result<Host, ProbeError> {
    let bad = |why: &str| ProbeError::Host(raw.to_string(), why.to_string());
    let s = raw.trim();
    if s.is_empty() {
        return Err(bad("empty"));
    }
    if let Some(inner) = s.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        return inner
            .parse::<IpAddr>()
            .map(Host::Ip)
            .map_err(|_| bad("not an IP address inside [ ]"));
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(Host::Ip(ip));
    }
    if s.contains(':') {
        return Err(bad(
            "not a valid IPv6 address (give the port with --port, not host:port)",
        ));
    }
    if is_domain_name(s) {
        if s.split('.').all(|l| l.bytes().all(|b| b.is_ascii_digit())) {
            return Err(bad("not a valid IPv4 address"));
        }
        Ok(Host::Name(s.to_string()))
    } else {
        Err(bad(
            "not a host name (letters, digits, '-' and '.', labels of at most 63 characters)",
        ))
    }
}

/// A host or domain name as DNS carries it: labels of letters, digits, '-' and '_'
/// (DMARC and DQS names have them), 1-63 bytes each, 253 in all; a final dot allowed.
pub fn is_domain_name(s: &str) -> bool {
    let s = s.strip_suffix('.').unwrap_or(s);
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// `None` for the null sender (`""` or `<>`).
fn parse_mailbox(field: &'static str, raw: &str) -> Result<Option<Address>, ProbeError> {
    let s = raw.trim();
    let s = s
        .strip_prefix('<')
        .and_then(|r| r.strip_suffix('>'))
        .unwrap_or(s);
    if s.is_empty() {
        return Ok(None);
    }
    Address::from_str(s)
        .map(Some)
        .map_err(|e| ProbeError::Address {
            field,
            value: raw.to_string(),
            why: e.to_string(),
        })
}

fn parse_helo(raw: &str) -> Result<ClientId, ProbeError> {
    let s = raw.trim();
    if let Some(inner) = s.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        let inner = inner.strip_prefix("IPv6:").unwrap_or(inner);
        return match inner.parse::<IpAddr>() {
            Ok(IpAddr::V4(ip)) => Ok(ClientId::Ipv4(ip)),
            Ok(IpAddr::V6(ip)) => Ok(ClientId::Ipv6(ip)),
            Err(_) => Err(ProbeError::Helo(raw.to_string())),
        };
    }
    if is_domain_name(s) {
        Ok(ClientId::Domain(s.to_string()))
    } else {
        Err(ProbeError::Helo(raw.to_string()))
    }
}

/// This machine's name, as RFC 5321 asks; `localhost` when it has none usable.
fn default_helo() -> ClientId {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    if is_domain_name(&name) {
        ClientId::Domain(name)
    } else {
        ClientId::Domain("localhost".into())
    }
}

/// The configured probe targets that pass the probe check, and a sentence for each
/// that does not. Config validation runs the same check at load, so a skip here means
/// something of this machine failed (its TLS roots), not the file.
pub fn probes_of(targets: &[ProbeTarget]) -> (Vec<Probe>, Vec<String>) {
    let mut probes = Vec::new();
    let mut skipped = Vec::new();
    for t in targets {
        match ProbeSpec::from_target(t).validate() {
            Ok(p) => probes.push(p),
            Err(e) => {
                tracing::warn!("probe `{}` skipped: {e}", t.name);
                skipped.push(format!("probe `{}` skipped: {e}", t.name));
            }
        }
    }
    (probes, skipped)
}

#[cfg(test)]
mod tests;

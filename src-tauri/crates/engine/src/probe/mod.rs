//! SMTP probes: prove the server still answers, and show *where* it struggles.
//!
//! A probe connects the TCP stream itself, wraps it in a [`timed::TimedStream`], and
//! hands it to lettre's async SMTP connection, so each phase of the dialogue is timed
//! on its own: connect, banner, EHLO, STARTTLS, AUTH, MAIL, RCPT, DATA, RSET, QUIT.
//! The default probe sends nothing: `MAIL FROM:<>` is where Postfix checks queue
//! storage, RCPT only when a recipient is configured, then RSET and QUIT.
//!
//! Usage errors (a bad host, port or address) are caught by [`ProbeSpec::validate`]
//! before anything connects; everything that happens on the wire ends in a
//! [`ProbeResult`] whose JSON shape is the `probe --json` contract of DESIGN.md.
//!
//! Timing notes: with implicit TLS the handshake is part of `connect` (the connection
//! is not usable before it); with STARTTLS, `starttls` is the command and the
//! handshake, and the EHLO that follows is added to `ehlo`.

mod auth;
mod ca_file;
mod dialogue;
mod reply;
mod scheduler;
pub mod secret;
mod spec;
mod status;
mod target;
pub mod timed;

use std::fmt;

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize};

pub use crate::classify::{Class, Reply};
pub use auth::{auth_channel, Unprotected};
pub use ca_file::MAX_CA_FILE_BYTES;
#[cfg(test)]
pub(crate) use ca_file::TEST_CA_PEM;
pub use scheduler::{ProbeNow, Scheduler, SchedulerHandle, DEBOUNCE};
pub use spec::{
    check_target, is_domain_name, probes_of, Probe, ProbeError, ProbeSpec, TargetInvalid,
};
pub use status::{ProbeBook, ProbeStatus, FAILURE_LIMIT};
pub use target::{ProbeTarget, TlsMode};

/// How a probe ended. Names are a contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    Tempfail,
    Permfail,
    Timeout,
    Refused,
    Unreachable,
    ProtocolError,
    TlsError,
    DnsError,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Tempfail => "tempfail",
            Outcome::Permfail => "permfail",
            Outcome::Timeout => "timeout",
            Outcome::Refused => "refused",
            Outcome::Unreachable => "unreachable",
            Outcome::ProtocolError => "protocol_error",
            Outcome::TlsError => "tls_error",
            Outcome::DnsError => "dns_error",
        }
    }

    /// Nagios convention of `probe`: 0 when the dialogue ended well, 1 on a 4xx reply,
    /// 2 on a 5xx reply and on everything that got no reply at all.
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Ok => 0,
            Outcome::Tempfail => 1,
            _ => 2,
        }
    }

    pub fn is_ok(self) -> bool {
        self == Outcome::Ok
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the dialogue stopped (or, in `timings_ms`, which step a figure measures).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ts_rs::TS,
)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Connect,
    Banner,
    Ehlo,
    Starttls,
    Auth,
    Mail,
    Rcpt,
    Data,
    Rset,
    Quit,
}

impl Phase {
    pub const ALL: [Phase; 10] = [
        Phase::Connect,
        Phase::Banner,
        Phase::Ehlo,
        Phase::Starttls,
        Phase::Auth,
        Phase::Mail,
        Phase::Rcpt,
        Phase::Data,
        Phase::Rset,
        Phase::Quit,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Connect => "connect",
            Phase::Banner => "banner",
            Phase::Ehlo => "ehlo",
            Phase::Starttls => "starttls",
            Phase::Auth => "auth",
            Phase::Mail => "mail",
            Phase::Rcpt => "rcpt",
            Phase::Data => "data",
            Phase::Rset => "rset",
            Phase::Quit => "quit",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Milliseconds per phase, in dialogue order (a JSON object in that order).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timings(Vec<(Phase, f64)>);

impl Timings {
    /// Adds `ms` to a phase (EHLO happens twice with STARTTLS).
    pub fn add(&mut self, phase: Phase, ms: f64) {
        match self.0.iter_mut().find(|(p, _)| *p == phase) {
            Some((_, v)) => *v += ms,
            None => self.0.push((phase, ms)),
        }
    }

    pub fn get(&self, phase: Phase) -> Option<f64> {
        self.0.iter().find(|(p, _)| *p == phase).map(|(_, v)| *v)
    }

    pub fn iter(&self) -> impl Iterator<Item = (Phase, f64)> + '_ {
        self.0.iter().copied()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for Timings {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (p, v) in &self.0 {
            m.serialize_entry(p.as_str(), &round_ms(*v))?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for Timings {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Timings;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map from phase to milliseconds")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<Timings, A::Error> {
                let mut t = Timings::default();
                while let Some((p, v)) = a.next_entry::<Phase, f64>()? {
                    t.add(p, v);
                }
                Ok(t)
            }
        }
        d.deserialize_map(V)
    }
}

/// Milliseconds to the microsecond: enough for loopback, no false precision.
pub fn round_ms(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1000.0
}

/// One probe's result. The first seven fields are the `probe --json` contract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct ProbeResult {
    /// `host:port` as dialled (`[::1]:25` for IPv6).
    pub target: String,
    pub outcome: Outcome,
    pub phase: Phase,
    /// The last reply received, or `None` when the server said nothing usable.
    pub reply: Option<Reply>,
    pub class: Class,
    /// Milliseconds per phase, in dialogue order.
    #[ts(type = "Record<string, number>")]
    pub timings_ms: Timings,
    #[serde(serialize_with = "ser_ms")]
    pub total_ms: f64,
    /// The configured target's name (`[[probe]] name`).
    pub name: String,
    /// Unix time in seconds when the probe started.
    pub ts: f64,
    /// What happened, in words, when the reply alone does not say it (a TLS error, a
    /// missing STARTTLS, an AUTH that was not attempted and why).
    pub detail: Option<String>,
}

fn ser_ms<S: serde::Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(round_ms(*v))
}

impl ProbeResult {
    /// One line for humans: `ok at quit after 2.9 ms: 221 2.0.0 Bye`.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "{} {} at {} after {:.1} ms",
            self.target, self.outcome, self.phase, self.total_ms
        );
        if let Some(r) = &self.reply {
            s.push_str(&format!(": {}", r.code));
            if let Some(e) = &r.enhanced {
                s.push_str(&format!(" {e}"));
            }
            if !r.text.is_empty() {
                s.push_str(&format!(" {}", r.text));
            }
        }
        if self.class != Class::Ok {
            s.push_str(&format!(" [{}]", self.class.as_str()));
        }
        s
    }

    /// A probe that failed, for the scheduler's failure count and the UI.
    pub fn is_failure(&self) -> bool {
        !self.outcome.is_ok()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn json_shape_matches_the_contract() {
        let mut t = Timings::default();
        for (p, v) in [
            (Phase::Connect, 0.3),
            (Phase::Banner, 1.1),
            (Phase::Ehlo, 0.6),
            (Phase::Mail, 0.5),
            (Phase::Rset, 0.2),
            (Phase::Quit, 0.2),
        ] {
            t.add(p, v);
        }
        let r = ProbeResult {
            target: "127.0.0.1:25".into(),
            outcome: Outcome::Ok,
            phase: Phase::Quit,
            reply: Some(Reply {
                code: 221,
                enhanced: Some("2.0.0".into()),
                text: "Bye".into(),
            }),
            class: Class::Ok,
            timings_ms: t,
            total_ms: 2.9,
            name: "local".into(),
            ts: 1.0,
            detail: None,
        };
        let s = serde_json::to_string(&r).unwrap();
        assert!(s.starts_with(
            r#"{"target":"127.0.0.1:25","outcome":"ok","phase":"quit","reply":{"code":221,"enhanced":"2.0.0","text":"Bye"},"class":"ok","timings_ms":{"connect":0.3,"banner":1.1,"ehlo":0.6,"mail":0.5,"rset":0.2,"quit":0.2},"total_ms":2.9"#
        ), "{s}");
        let back: ProbeResult = serde_json::from_str(&s).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn exit_codes_follow_the_contract() {
        assert_eq!(Outcome::Ok.exit_code(), 0);
        assert_eq!(Outcome::Tempfail.exit_code(), 1);
        for o in [
            Outcome::Permfail,
            Outcome::Timeout,
            Outcome::Refused,
            Outcome::Unreachable,
            Outcome::ProtocolError,
            Outcome::TlsError,
            Outcome::DnsError,
        ] {
            assert_eq!(o.exit_code(), 2, "{o}");
        }
    }
}

//! One taxonomy of SMTP replies, shared by probes and mail-log lines (DESIGN.md,
//! "Classes"). Matching uses the enhanced code first and the text second.

use serde::{Deserialize, Serialize};

/// The class of an SMTP reply or connection outcome. Names are a contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    Ok,
    ResourceShortage,
    ConnectionLimit,
    RateLimit,
    Greylisting,
    Timeout,
    Tls,
    Dns,
    Network,
    Policy,
    Other,
}

impl Class {
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Ok => "ok",
            Class::ResourceShortage => "resource_shortage",
            Class::ConnectionLimit => "connection_limit",
            Class::RateLimit => "rate_limit",
            Class::Greylisting => "greylisting",
            Class::Timeout => "timeout",
            Class::Tls => "tls",
            Class::Dns => "dns",
            Class::Network => "network",
            Class::Policy => "policy",
            Class::Other => "other",
        }
    }
}

/// An SMTP reply: all lines joined with a space, `NNN-x.y.z ` / `NNN ` prefixes removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    pub code: u16,
    pub enhanced: Option<String>,
    pub text: String,
}

/// Classifies one reply. (Initial version: by code only; the full taxonomy of
/// DESIGN.md lands with the classifier work.)
pub fn classify(code: u16, _enhanced: Option<&str>, _text: &str) -> Class {
    match code {
        200..=399 => Class::Ok,
        400..=499 => Class::Other,
        _ => Class::Policy,
    }
}

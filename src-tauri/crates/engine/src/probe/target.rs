//! A probe target as configured (`[[probe]]` in config.toml, a row of the settings
//! form): plain data, checked by [`super::check_target`].

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, ts_rs::TS)]
#[ts(export)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    #[default]
    None,
    Starttls,
    Implicit,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(deny_unknown_fields, default)]
pub struct ProbeTarget {
    pub name: String,
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub interval_secs: f64,
    pub timeout_secs: f64,
    pub helo: Option<String>,
    pub mail_from: String,
    pub rcpt_to: Option<String>,
    pub send: bool,
    pub username: Option<String>,
    /// Certificate verification is on unless a target opts out explicitly.
    pub verify_tls: bool,
    /// Extra CA certificates (PEM) to trust for this target, for a private CA.
    pub ca_file: Option<PathBuf>,
}

impl Default for ProbeTarget {
    fn default() -> Self {
        ProbeTarget {
            name: "local".into(),
            host: "127.0.0.1".into(),
            port: 25,
            tls: TlsMode::None,
            interval_secs: 60.0,
            timeout_secs: 10.0,
            helo: None,
            mail_from: String::new(),
            rcpt_to: None,
            send: false,
            username: None,
            verify_tls: true,
            ca_file: None,
        }
    }
}

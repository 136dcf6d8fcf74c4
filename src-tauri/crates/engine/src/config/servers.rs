//! `[[server]]` and `[local]`: the mail servers the desktop watches through their agents
//! (`headroom-cli serve`), and whether it also watches the machine it runs on.
//!
//! A server is reached over HTTP(S) (`url`, with the agent's certificate `fingerprint`
//! pinned and its token in the OS keyring under `agent@NAME`) or through the admin's own
//! ssh client (`ssh = "user@host"`, running `headroom-cli serve --stdio` there).

use serde::{Deserialize, Serialize};

use super::{k, Invalid, Key};

/// One `[[server]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default, ts_rs::TS)]
#[ts(export)]
#[serde(deny_unknown_fields, default)]
pub struct ServerEntry {
    /// Shown in the window, the tray and notifications; also the keyring account
    /// `agent@NAME` of its token.
    pub name: String,
    /// `https://mx1.example.org:9767` (or `http://` on a loopback address).
    pub url: Option<String>,
    /// The SHA-256 fingerprint of the agent's certificate, as the agent printed it.
    pub fingerprint: Option<String>,
    /// `user@host` for `ssh -T user@host headroom-cli serve --stdio`.
    pub ssh: Option<String>,
    /// The ssh port, when not the one ssh's own configuration gives.
    pub ssh_port: Option<u16>,
    /// An ssh client configuration file (`ssh -F FILE`): identity, known_hosts, jump host.
    pub ssh_config: Option<String>,
    /// The program run on the server over ssh (default `headroom-cli`).
    pub ssh_command: Option<String>,
}

/// How the desktop reaches a server: what [`ServerEntry`] says, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    Http {
        url: AgentUrl,
        /// Upper-case hex without separators.
        fingerprint: Option<String>,
    },
    Ssh {
        target: String,
        port: Option<u16>,
        config: Option<String>,
        command: String,
    },
}

/// An agent's address: `http(s)://host:port` with no path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentUrl {
    pub tls: bool,
    /// As written (a name, an IPv4 address, or an IPv6 address without brackets).
    pub host: String,
    pub port: u16,
}

impl std::fmt::Display for AgentUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = if self.tls { "https" } else { "http" };
        if self.host.contains(':') {
            write!(f, "{scheme}://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{scheme}://{}:{}", self.host, self.port)
        }
    }
}

/// The agent's port when a URL names none (DESIGN: `headroom-cli serve`'s default).
pub const DEFAULT_AGENT_PORT: u16 = 9767;

/// `[local]`: whether the desktop also watches this machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LocalConfig {
    pub enabled: bool,
}

impl Default for LocalConfig {
    fn default() -> Self {
        LocalConfig { enabled: true }
    }
}

impl ServerEntry {
    /// The checked transport; the error is a sentence and the key at fault.
    pub fn transport(&self) -> Result<Transport, (&'static str, String)> {
        match (&self.url, &self.ssh) {
            (Some(_), Some(_)) => Err((
                "ssh",
                format!(
                    "server `{}` has both url and ssh; give one way to reach it",
                    self.name
                ),
            )),
            (None, None) => Err((
                "url",
                format!(
                    "server `{}` needs url = \"https://HOST:{DEFAULT_AGENT_PORT}\" or ssh = \"user@host\"",
                    self.name
                ),
            )),
            (Some(url), None) => {
                let url = parse_url(url).map_err(|m| ("url", m))?;
                let fingerprint = match &self.fingerprint {
                    None => None,
                    Some(f) => Some(normalize_fingerprint(f).ok_or((
                        "fingerprint",
                        format!(
                            "fingerprint `{f}` is not a SHA-256 fingerprint (64 hex digits, colons allowed)"
                        ),
                    ))?),
                };
                if !url.tls && !is_loopback(&url.host) {
                    return Err((
                        "url",
                        format!(
                            "{url} is plain HTTP to another machine: the agent's token would cross the network in clear; use https://"
                        ),
                    ));
                }
                if !url.tls && fingerprint.is_some() {
                    return Err((
                        "fingerprint",
                        "a fingerprint pins a TLS certificate; this url is plain http://".into(),
                    ));
                }
                Ok(Transport::Http { url, fingerprint })
            }
            (None, Some(target)) => {
                // Anything starting with '-' would be read by ssh as an option.
                let ok = !target.is_empty()
                    && !target.starts_with('-')
                    && target
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "@.-_[]:".contains(c));
                if !ok {
                    return Err((
                        "ssh",
                        format!("ssh = `{target}` is not user@host (letters, digits, . - _ @ only)"),
                    ));
                }
                if self.fingerprint.is_some() {
                    return Err((
                        "fingerprint",
                        "over ssh the host key is checked by ssh's known_hosts; drop fingerprint"
                            .into(),
                    ));
                }
                if self.ssh_port == Some(0) {
                    return Err(("ssh_port", "ssh_port = 0 is not a port".into()));
                }
                let command = self
                    .ssh_command
                    .clone()
                    .unwrap_or_else(|| "headroom-cli".into());
                if command.trim().is_empty() || command.starts_with('-') {
                    return Err((
                        "ssh_command",
                        format!("ssh_command = `{command}` is not a program"),
                    ));
                }
                Ok(Transport::Ssh {
                    target: target.clone(),
                    port: self.ssh_port,
                    config: self.ssh_config.clone(),
                    command,
                })
            }
        }
    }

    /// The keyring account that holds this server's agent token.
    pub fn token_account(&self) -> String {
        token_account(&self.name)
    }
}

pub fn token_account(name: &str) -> String {
    format!("agent@{name}")
}

/// `AB:CD:…` or `abcd…` (64 hex digits) → `ABCD…`.
pub fn normalize_fingerprint(s: &str) -> Option<String> {
    let hex: String = s
        .trim()
        .trim_start_matches("sha256:")
        .trim_start_matches("SHA256:")
        .chars()
        .filter(|c| *c != ':')
        .collect();
    (hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit())).then(|| hex.to_uppercase())
}

/// `AB:CD:…`, the way the agent prints it.
pub fn display_fingerprint(hex: &str) -> String {
    hex.as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(":")
}

fn parse_url(s: &str) -> Result<AgentUrl, String> {
    let bad = |why: &str| format!("url = `{s}` {why}; write it as https://HOST:PORT");
    let (tls, rest) = if let Some(r) = s.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = s.strip_prefix("http://") {
        (false, r)
    } else {
        return Err(bad("has no https:// or http://"));
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains('/') || rest.contains('?') || rest.contains('@') || rest.contains('#') {
        return Err(bad("has a path, query or user part"));
    }
    let (host, port) = if let Some(r) = rest.strip_prefix('[') {
        let (h, after) = r.split_once(']').ok_or_else(|| bad("has an unclosed ["))?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err(bad("has text after the address")),
        };
        (h.to_string(), port)
    } else {
        match rest.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (rest.to_string(), None),
        }
    };
    if host.is_empty()
        || !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-_:".contains(c))
    {
        return Err(bad("has no valid host"));
    }
    let port = match port {
        None => DEFAULT_AGENT_PORT,
        Some(p) => match p.parse::<u16>() {
            Ok(p) if p > 0 => p,
            _ => return Err(bad("has no valid port")),
        },
    };
    Ok(AgentUrl { tls, host, port })
}

pub fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Names are shown and used as keyring accounts and element ids: short and plain.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

pub(super) fn validate(servers: &[ServerEntry]) -> Result<(), Invalid> {
    let mut names = std::collections::HashSet::new();
    for (i, s) in servers.iter().enumerate() {
        let at = |key: &str| vec![k("server"), Key::Index(i), k(key)];
        if !valid_name(&s.name) {
            return Err((
                at("name"),
                format!(
                    "server name `{}` must be 1 to 64 letters, digits, '.', '_' or '-'",
                    s.name
                ),
            ));
        }
        if s.name == LOCAL_ID {
            return Err((
                at("name"),
                format!("server name `{LOCAL_ID}` is this machine's; choose another"),
            ));
        }
        if !names.insert(s.name.as_str()) {
            return Err((
                at("name"),
                format!("server name `{}` is used twice", s.name),
            ));
        }
        s.transport().map_err(|(key, m)| (at(key), m))?;
    }
    Ok(())
}

/// The id of this machine among the servers the desktop watches.
pub const LOCAL_ID: &str = "local";

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(url: &str) -> ServerEntry {
        ServerEntry {
            name: "mx1".into(),
            url: Some(url.into()),
            ..Default::default()
        }
    }

    #[test]
    fn urls_are_parsed_with_the_default_port_and_ipv6() {
        let Transport::Http { url, .. } = entry("https://mx1.example.org")
            .transport()
            .expect("accepted")
        else {
            panic!()
        };
        assert_eq!(url.port, DEFAULT_AGENT_PORT);
        assert_eq!(url.to_string(), "https://mx1.example.org:9767");
        let Transport::Http { url, .. } = entry("https://[2001:db8::1]:443/")
            .transport()
            .expect("accepted")
        else {
            panic!()
        };
        assert_eq!((url.host.as_str(), url.port), ("2001:db8::1", 443));
        assert!(entry("http://127.0.0.1:9767").transport().is_ok());
    }

    #[test]
    fn plain_http_beyond_loopback_and_odd_urls_are_refused() {
        let (key, m) = entry("http://mx1.example.org:9767")
            .transport()
            .expect_err("refused");
        assert_eq!(key, "url");
        assert!(m.contains("in clear"), "{m}");
        for bad in [
            "ftp://x",
            "https://x/path",
            "https://u@x",
            "https://x:0",
            "https://x:99999",
            "https://",
        ] {
            assert!(entry(bad).transport().is_err(), "{bad}");
        }
    }

    #[test]
    fn fingerprints_are_normalized_or_refused() {
        let hex = "ab".repeat(32);
        assert_eq!(normalize_fingerprint(&hex), Some("AB".repeat(32)));
        let colons = display_fingerprint(&"AB".repeat(32));
        assert_eq!(normalize_fingerprint(&colons), Some("AB".repeat(32)));
        assert_eq!(normalize_fingerprint("AB:CD"), None);
        let mut e = entry("https://x");
        e.fingerprint = Some("nothex".into());
        assert_eq!(e.transport().expect_err("refused").0, "fingerprint");
    }

    #[test]
    fn an_ssh_target_cannot_smuggle_an_option() {
        let e = |t: &str| ServerEntry {
            name: "mx1".into(),
            ssh: Some(t.into()),
            ..Default::default()
        };
        assert!(e("admin@mx1.example.org").transport().is_ok());
        for bad in ["-oProxyCommand=x", "a b", "a;b", ""] {
            assert_eq!(e(bad).transport().expect_err("refused").0, "ssh", "{bad}");
        }
    }

    #[test]
    fn names_are_plain_unique_and_not_local() {
        let two = vec![entry("https://a"), entry("https://b")];
        let (at, m) = validate(&two).expect_err("refused");
        assert_eq!(at, vec![k("server"), Key::Index(1), k("name")]);
        assert!(m.contains("twice"), "{m}");
        let mut bad = entry("https://a");
        bad.name = "mx 1".into();
        assert!(validate(&[bad]).is_err());
        let mut local = entry("https://a");
        local.name = LOCAL_ID.into();
        assert!(validate(&[local]).is_err());
    }
}

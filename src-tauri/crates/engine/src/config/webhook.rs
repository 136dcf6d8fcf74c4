//! `[[notify.webhook]]`: where alerts go when no desktop is watching (the agent, `watch`).
//! Each webhook gets the desktop's alert policy (`[notifications]`: repeat delay, snooze,
//! bursts folded) above its own `min_level`; delivery is in `alerts::webhook`.
//!
//! Secrets never live here: `auth = "bearer"` reads the token from the OS keyring
//! (service `headroom`, account `webhook@NAME`), and a URL with `user:password@` is
//! refused at load.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{k, positive, Invalid, Key};

/// `[notify]`: headless alert routes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct NotifyConfig {
    #[serde(rename = "webhook")]
    pub webhooks: Vec<Webhook>,
}

/// One webhook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    /// What the logs and the keyring call it; default: the URL's host.
    #[serde(default)]
    pub name: Option<String>,
    /// `http://` or `https://`; the ntfy topic URL for `preset = "ntfy"`.
    pub url: String,
    #[serde(default)]
    pub preset: WebhookPreset,
    /// Extra request headers (not secrets: `Authorization` is refused, use `auth`).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The lowest level announced (recoveries of announced items always are).
    #[serde(default)]
    pub min_level: MinLevel,
    #[serde(default)]
    pub auth: WebhookAuth,
    /// Every request, connect to last byte.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: f64,
}

fn default_timeout_secs() -> f64 {
    10.0
}

/// The body a webhook receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum WebhookPreset {
    /// A JSON object (README, "Notifications").
    #[default]
    Json,
    /// ntfy: the text as the body, `Title`, `Priority` and `Tags` headers.
    Ntfy,
    /// Slack-compatible incoming webhooks (Slack, Mattermost, Rocket.Chat): `{"text": …}`.
    Slack,
}

/// The lowest level a webhook announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum MinLevel {
    Watch,
    #[default]
    Warning,
    Critical,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum WebhookAuth {
    #[default]
    None,
    /// `Authorization: Bearer TOKEN`, the token from the OS keyring (`webhook@NAME`).
    Bearer,
}

/// At most this many webhooks.
pub const MAX_WEBHOOKS: usize = 16;
const MAX_HEADERS: usize = 32;
const MAX_TIMEOUT_SECS: f64 = 60.0;
/// Headers the request itself owns, or that carry secrets.
const RESERVED_HEADERS: [&str; 7] = [
    "authorization",
    "proxy-authorization",
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "cookie",
];

impl Webhook {
    /// `name`, else the URL's host (validated URLs have one).
    pub fn display_name(&self) -> String {
        match &self.name {
            Some(n) => n.clone(),
            None => url_host(&self.url).unwrap_or_else(|| "webhook".into()),
        }
    }

    /// The keyring account of the bearer token.
    pub fn keyring_account(&self) -> String {
        format!("webhook@{}", self.display_name())
    }

    /// `scheme://host[:port]`: what logs may say about the URL (a Slack or ntfy URL
    /// path is itself a credential).
    pub fn origin(&self) -> String {
        match ureq::http::Uri::try_from(self.url.as_str()) {
            Ok(u) => format!(
                "{}://{}",
                u.scheme_str().unwrap_or("?"),
                u.authority().map(|a| a.as_str()).unwrap_or("?")
            ),
            Err(_) => "(invalid URL)".into(),
        }
    }
}

fn url_host(url: &str) -> Option<String> {
    ureq::http::Uri::try_from(url)
        .ok()
        .and_then(|u| u.host().map(|h| h.to_string()))
}

fn is_loopback_host(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h == "localhost"
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

pub(super) fn validate_notify(n: &NotifyConfig) -> Result<(), Invalid> {
    if n.webhooks.len() > MAX_WEBHOOKS {
        return Err((
            vec![k("notify"), k("webhook")],
            format!("{} webhooks; at most {MAX_WEBHOOKS}", n.webhooks.len()),
        ));
    }
    let mut names = std::collections::HashSet::new();
    for (i, w) in n.webhooks.iter().enumerate() {
        let at = |key: &str| vec![k("notify"), k("webhook"), Key::Index(i), k(key)];
        validate_url(w).map_err(|m| (at("url"), m))?;
        if let Some(name) = &w.name {
            if name.trim().is_empty()
                || name.len() > 64
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            {
                return Err((
                    at("name"),
                    format!("name = \"{name}\" must be 1 to 64 letters, digits, '-', '_' or '.'"),
                ));
            }
        }
        let name = w.display_name();
        if !names.insert(name.clone()) {
            return Err((
                at(if w.name.is_some() { "name" } else { "url" }),
                format!("webhook name `{name}` is used twice; give each webhook its own name"),
            ));
        }
        if w.headers.len() > MAX_HEADERS {
            return Err((
                at("headers"),
                format!("{} headers; at most {MAX_HEADERS}", w.headers.len()),
            ));
        }
        for (h, v) in &w.headers {
            let at_h = vec![k("notify"), k("webhook"), Key::Index(i), k("headers"), k(h)];
            if ureq::http::HeaderName::from_bytes(h.as_bytes()).is_err() {
                return Err((at_h, format!("`{h}` is not an HTTP header name")));
            }
            if RESERVED_HEADERS.contains(&h.to_ascii_lowercase().as_str()) {
                return Err((
                    at_h,
                    format!(
                        "header `{h}` cannot be set here{}",
                        if h.eq_ignore_ascii_case("authorization") {
                            ": secrets never go in this file; use auth = \"bearer\" with the token in the OS keyring"
                        } else {
                            " (the request sets it)"
                        }
                    ),
                ));
            }
            if v.chars().any(|c| c.is_control()) || !v.is_ascii() {
                return Err((
                    at_h,
                    format!("the value of header `{h}` must be printable ASCII on one line"),
                ));
            }
        }
        positive(w.timeout_secs, at("timeout_secs"))?;
        if w.timeout_secs > MAX_TIMEOUT_SECS {
            return Err((
                at("timeout_secs"),
                format!(
                    "timeout_secs = {} is too long; it may be at most {MAX_TIMEOUT_SECS}",
                    w.timeout_secs
                ),
            ));
        }
    }
    Ok(())
}

fn validate_url(w: &Webhook) -> Result<(), String> {
    let url = &w.url;
    let uri = ureq::http::Uri::try_from(url.as_str())
        .map_err(|e| format!("url = \"{url}\" is not a URL ({e})"))?;
    let scheme = uri.scheme_str().unwrap_or("");
    if scheme != "http" && scheme != "https" {
        return Err(format!(
            "url = \"{url}\" must start with http:// or https://"
        ));
    }
    let Some(authority) = uri.authority() else {
        return Err(format!("url = \"{url}\" has no host"));
    };
    if authority.as_str().contains('@') {
        return Err(
            "the url carries a user name or password: secrets never go in this file; use auth = \"bearer\" with the token in the OS keyring"
                .into(),
        );
    }
    let host = authority.host();
    if host.is_empty() {
        return Err(format!("url = \"{url}\" has no host"));
    }
    if w.auth == WebhookAuth::Bearer && scheme == "http" && !is_loopback_host(host) {
        return Err(format!(
            "auth = \"bearer\" over http:// to {host} would send the token in clear; use https://"
        ));
    }
    Ok(())
}

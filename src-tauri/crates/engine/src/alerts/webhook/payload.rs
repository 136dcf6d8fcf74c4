//! What a webhook receives for one notification, per preset. The text is the
//! notification's plain text (remote text already cleaned and cut by `sanitize`); each
//! format escapes it for itself: serde for JSON, `& < >` for Slack, and printable
//! ASCII only in ntfy's headers.

use serde_json::json;

use crate::assess::Level;
use crate::config::{Webhook, WebhookPreset};

use super::super::Notification;

/// An HTTP POST, without the credentials (the transport adds them).
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// The request for `n` from the host named `host`.
pub fn request(hook: &Webhook, host: &str, n: &Notification) -> Request {
    let host = crate::sanitize::for_notification_summary(host);
    let (content_type, mut headers, body): (&str, Vec<(String, String)>, Vec<u8>) =
        match hook.preset {
            WebhookPreset::Json => (
                "application/json",
                Vec::new(),
                json!({
                    "source": "headroom",
                    "host": host,
                    "ts": n.ts,
                    "level": n.level,
                    "summary": n.summary,
                    "text": n.text,
                    "items": n.items.iter().map(|i| i.as_str()).collect::<Vec<_>>(),
                })
                .to_string()
                .into_bytes(),
            ),
            WebhookPreset::Ntfy => (
                "text/plain; charset=utf-8",
                vec![
                    (
                        "Title".into(),
                        header_text(&format!("{host}: {}", n.summary)),
                    ),
                    ("Priority".into(), ntfy_priority(n.level).into()),
                    ("Tags".into(), format!("{},headroom", ntfy_tag(n.level))),
                ],
                n.text.clone().into_bytes(),
            ),
            WebhookPreset::Slack => (
                "application/json",
                Vec::new(),
                json!({
                    "text": format!(
                        "*{}: {}*\n{}",
                        slack_escape(&host),
                        slack_escape(&n.summary),
                        slack_escape(&n.text)
                    ),
                })
                .to_string()
                .into_bytes(),
            ),
        };
    headers.insert(0, ("Content-Type".into(), content_type.into()));
    // The admin's own headers win over the preset's.
    headers.retain(|(name, _)| !hook.headers.keys().any(|h| h.eq_ignore_ascii_case(name)));
    headers.extend(hook.headers.iter().map(|(k, v)| (k.clone(), v.clone())));
    Request {
        url: hook.url.clone(),
        headers,
        body,
    }
}

/// ntfy priorities: 5 urgent, 4 high, 3 default.
fn ntfy_priority(level: Level) -> &'static str {
    match level {
        Level::Critical => "5",
        Level::Warning => "4",
        _ => "3",
    }
}

/// ntfy turns tags that are emoji short codes into emoji.
fn ntfy_tag(level: Level) -> &'static str {
    match level {
        Level::Critical => "rotating_light",
        Level::Warning => "warning",
        Level::Ok => "white_check_mark",
        Level::Watch | Level::Unknown => "eyes",
    }
}

/// A header value: printable ASCII only (others become `?`), already one line.
fn header_text(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect()
}

/// Slack's message escaping: `&`, `<` and `>` only, so `<http://…|click>` cannot
/// become a link.
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::{AlertPolicy, Snooze};
    use crate::assess::Transition;
    use crate::config::Notifications;
    use crate::item::ItemId;

    fn hook(preset: WebhookPreset) -> Webhook {
        crate::config::parse(
            &format!(
                "[[notify.webhook]]\nurl = \"https://ntfy.example/alerts\"\npreset = \"{}\"\n",
                match preset {
                    WebhookPreset::Json => "json",
                    WebhookPreset::Ntfy => "ntfy",
                    WebhookPreset::Slack => "slack",
                }
            ),
            std::path::Path::new("t.toml"),
        )
        .expect("valid")
        .notify
        .webhooks
        .remove(0)
    }

    fn hostile() -> Notification {
        let t = Transition {
            ts: 1_795_817_630.0,
            item: ItemId::ProbeFailures,
            level: Level::Critical,
            previous: Some(Level::Ok),
            used: Some(3.0),
            limit: Some(3.0),
            ratio: Some(1.0),
            forecast_s: None,
            message:
                "probe local: 421 4.3.0 <http://evil|click> & \u{1b}[2J\u{202e}x\r\nInjected: 1"
                    .into(),
        };
        let mut p = AlertPolicy::new(Notifications::default(), Snooze::default());
        p.decide(&[t]).remove(0)
    }

    #[test]
    fn json_carries_the_plain_text_and_the_items() {
        let r = request(&hook(WebhookPreset::Json), "mail1", &hostile());
        let v: serde_json::Value = serde_json::from_slice(&r.body).expect("JSON");
        assert_eq!(v["level"], "critical");
        assert_eq!(v["host"], "mail1");
        assert_eq!(v["items"], serde_json::json!(["probe_failures"]));
        assert_eq!(v["ts"], 1_795_817_630.0);
        let text = v["text"].as_str().expect("text");
        assert!(
            text.starts_with("probe local: 421 4.3.0 <http://evil|click> & x Injected: 1"),
            "{text}"
        );
        for bad in ['\u{1b}', '\u{202e}', '\r', '\n'] {
            assert!(!text.contains(bad), "{bad:?} in {text}");
        }
        assert_eq!(
            r.headers[0],
            ("Content-Type".into(), "application/json".into())
        );
    }

    #[test]
    fn slack_escapes_its_link_syntax() {
        let r = request(&hook(WebhookPreset::Slack), "mail<1>", &hostile());
        let v: serde_json::Value = serde_json::from_slice(&r.body).expect("JSON");
        let text = v["text"].as_str().expect("text");
        assert!(
            text.starts_with("*mail&lt;1&gt;: Headroom critical: "),
            "{text}"
        );
        assert!(text.contains("&lt;http://evil|click&gt; &amp; x"), "{text}");
        assert!(!text.contains('<') && !text.contains('\u{1b}'), "{text}");
    }

    #[test]
    fn ntfy_sends_text_with_title_priority_and_tags_headers() {
        let mut h = hook(WebhookPreset::Ntfy);
        h.headers.insert("X-Extra".into(), "1".into());
        let r = request(&h, "mäil", &hostile());
        let get = |name: &str| {
            r.headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(
            get("Title"),
            Some("m?il: Headroom critical: consecutive probe failures")
        );
        assert_eq!(get("Priority"), Some("5"));
        assert_eq!(get("Tags"), Some("rotating_light,headroom"));
        assert_eq!(get("X-Extra"), Some("1"));
        let body = String::from_utf8(r.body).expect("utf-8");
        assert!(body.starts_with("probe local: 421"), "{body}");
        assert!(!body.contains('\n') && !body.contains('\u{1b}'));
    }
}

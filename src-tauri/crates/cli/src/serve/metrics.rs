//! `GET /metrics`: the latest tick as Prometheus text exposition 0.0.4, or OpenMetrics
//! 1.0.0 when the scraper asks for it. Built from what the monitor already holds (the
//! latest tick and the mail-log counters), never a fresh read, so a scrape costs
//! microseconds however large the queue. Values are in base units (seconds, bytes,
//! ratios 0–1); label sets are bounded by the item table, the configured probe targets,
//! the MTA's parameters (at most [`MAX_LIMITS`]) and the mail-log classes.
//!
//! `headroom_item_level`: ok = 0, watch = 1, warning = 2, critical = 3, unknown = -1
//! (an item that could not be read; distinguishable from every real level).

use std::fmt::Write;

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use headroom_engine::assess::Level;
use headroom_engine::item::Unit;
use headroom_engine::tick::Tick;

use super::Agent;

/// MTA parameters exported as `headroom_mta_limit`, at most.
pub const MAX_LIMITS: usize = 64;

const TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

pub async fn serve(State(agent): State<Agent>, headers: HeaderMap) -> Response {
    let om = super::routes::wants_openmetrics(&headers);
    let deferrals = agent
        .monitor
        .maillog
        .as_ref()
        .map(|a| headroom_engine::lock::lock(a).totals());
    let body = exposition(agent.monitor.latest().as_ref(), deferrals.as_deref(), om);
    (
        [(header::CONTENT_TYPE, if om { OPENMETRICS } else { TEXT })],
        body,
    )
        .into_response()
}

pub fn level_code(l: Level) -> i8 {
    match l {
        Level::Ok => 0,
        Level::Watch => 1,
        Level::Warning => 2,
        Level::Critical => 3,
        Level::Unknown => -1,
    }
}

/// A value of `unit` in the base unit Prometheus expects.
fn base(v: f64, unit: Unit) -> f64 {
    match unit {
        Unit::Percent => v / 100.0,
        Unit::Millis => v / 1000.0,
        Unit::Count | Unit::Bytes | Unit::Seconds | Unit::Load => v,
    }
}

/// One metric family being written: HELP and TYPE once, then its samples.
struct Out {
    s: String,
    om: bool,
}

impl Out {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        // OpenMetrics names a counter family without `_total`.
        let family = if self.om && kind == "counter" {
            name.trim_end_matches("_total")
        } else {
            name
        };
        let _ = writeln!(self.s, "# HELP {family} {}", escape_help(help));
        let _ = writeln!(self.s, "# TYPE {family} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], v: f64) {
        if !v.is_finite() {
            return;
        }
        self.s.push_str(name);
        if !labels.is_empty() {
            self.s.push('{');
            for (i, (k, val)) in labels.iter().enumerate() {
                if i > 0 {
                    self.s.push(',');
                }
                let _ = write!(self.s, "{k}=\"{}\"", escape_label(val));
            }
            self.s.push('}');
        }
        let _ = writeln!(self.s, " {}", number(v));
    }
}

fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// Label values: backslash, double quote and newline escaped (both formats).
fn escape_label(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

pub fn exposition(
    tick: Option<&Tick>,
    deferrals: Option<
        &[(
            headroom_engine::classify::Class,
            headroom_engine::classify::Side,
            u64,
        )],
    >,
    om: bool,
) -> String {
    let mut o = Out {
        s: String::with_capacity(8 * 1024),
        om,
    };
    o.family(
        "headroom_build_info",
        "gauge",
        "Headroom agent build; the value is always 1.",
    );
    o.sample(
        "headroom_build_info",
        &[("version", env!("CARGO_PKG_VERSION"))],
        1.0,
    );
    if let Some(t) = tick {
        items(&mut o, t);
        mta(&mut o, t);
        probes(&mut o, t);
    }
    if let Some(d) = deferrals {
        o.family(
            "headroom_deferrals_total",
            "counter",
            "SMTP failures read from the mail log since the agent started, by class and side (remote: our outbound mail; local: our server's refusals).",
        );
        for (class, side, n) in d {
            o.sample(
                "headroom_deferrals_total",
                &[("class", class.as_str()), ("side", side.as_str())],
                *n as f64,
            );
        }
    }
    if om {
        o.s.push_str("# EOF\n");
    }
    o.s
}

fn items(o: &mut Out, t: &Tick) {
    let items = &t.assessment.items;
    type Get = fn(&headroom_engine::assess::Item) -> Option<f64>;
    let families: [(&str, &str, Get); 3] = [
        (
            "headroom_item_used",
            "What the item uses now, in base units (seconds, bytes, ratio 0-1 for percentages).",
            |i| i.used.map(|v| base(v, i.id.info().unit)),
        ),
        (
            "headroom_item_limit",
            "The item's limit as the server or host reports it, in the units of headroom_item_used.",
            |i| i.limit.map(|v| base(v, i.id.info().unit)),
        ),
        (
            "headroom_item_ratio",
            "used / limit.",
            |i| i.ratio,
        ),
    ];
    for (name, help, get) in families {
        o.family(name, "gauge", help);
        for i in items {
            if let Some(v) = get(i) {
                o.sample(name, &[("item", i.id.as_str())], v);
            }
        }
    }
    o.family(
        "headroom_item_level",
        "gauge",
        "The item's level: ok=0, watch=1, warning=2, critical=3, unknown=-1 (could not be read).",
    );
    for i in items {
        o.sample(
            "headroom_item_level",
            &[("item", i.id.as_str())],
            f64::from(level_code(i.level)),
        );
    }
    o.family(
        "headroom_item_time_to_limit_seconds",
        "gauge",
        "Forecast time until the item reaches its limit at the current trend; absent without a forecast.",
    );
    for i in items {
        if let Some(s) = i.forecast_s {
            o.sample(
                "headroom_item_time_to_limit_seconds",
                &[("item", i.id.as_str())],
                s,
            );
        }
    }
}

fn mta(o: &mut Out, t: &Tick) {
    let mta = t.snapshot.mta.as_ref();
    let failed = t.snapshot.problems.iter().any(|p| p.source == "mta");
    if mta.is_some() || failed {
        o.family(
            "headroom_mta_up",
            "gauge",
            "1 when the mail server's daemon is running and could be read, else 0.",
        );
        o.sample(
            "headroom_mta_up",
            &[],
            if mta.is_some_and(|m| m.is_running()) {
                1.0
            } else {
                0.0
            },
        );
    }
    let Some(m) = mta else { return };
    o.family(
        "headroom_mta_limit",
        "gauge",
        "A limit as the mail server reports it, by parameter (absent when unreadable).",
    );
    for (k, v) in m.limits.iter().take(MAX_LIMITS) {
        if let Some(v) = v {
            o.sample("headroom_mta_limit", &[("parameter", k)], *v as f64);
        }
    }
    if let Some(q) = &m.queue {
        o.family(
            "headroom_queue_messages",
            "gauge",
            "Messages in each queue of the mail server.",
        );
        for (name, v) in [
            ("maildrop", q.maildrop),
            ("incoming", q.incoming),
            ("active", q.active),
            ("deferred", q.deferred),
            ("hold", q.hold),
        ] {
            if let Some(v) = v {
                o.sample("headroom_queue_messages", &[("queue", name)], v as f64);
            }
        }
        o.family(
            "headroom_queue_oldest_message_age_seconds",
            "gauge",
            "Age of the oldest queued message (absent when the queue is empty or unlisted).",
        );
        if let Some(a) = q.oldest_age_s {
            o.sample("headroom_queue_oldest_message_age_seconds", &[], a);
        }
    }
}

fn probes(o: &mut Out, t: &Tick) {
    let probes = &t.snapshot.probes;
    if probes.is_empty() {
        return;
    }
    o.family(
        "headroom_probe_success",
        "gauge",
        "1 when the target's latest SMTP probe succeeded, else 0.",
    );
    for p in probes {
        let ok = matches!(p.latest.outcome, headroom_engine::probe::Outcome::Ok);
        o.sample(
            "headroom_probe_success",
            &[("target", &p.name)],
            if ok { 1.0 } else { 0.0 },
        );
    }
    o.family(
        "headroom_probe_phase_seconds",
        "gauge",
        "Duration of each phase of the target's latest SMTP probe.",
    );
    for p in probes {
        // The phases serialize as a map of phase name to milliseconds.
        let Ok(serde_json::Value::Object(phases)) = serde_json::to_value(&p.latest.timings_ms)
        else {
            continue;
        };
        for (phase, ms) in phases {
            if let Some(ms) = ms.as_f64() {
                o.sample(
                    "headroom_probe_phase_seconds",
                    &[("target", &p.name), ("phase", &phase)],
                    ms / 1000.0,
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn openmetrics_ends_with_eof_and_names_counters_without_total() {
        use headroom_engine::classify::{Class, Side};
        let d = [(Class::RateLimit, Side::Remote, 3)];
        let om = exposition(None, Some(&d), true);
        assert!(om.ends_with("# EOF\n"));
        assert!(om.contains("# TYPE headroom_deferrals counter"));
        assert!(om.contains("headroom_deferrals_total{class=\"rate_limit\",side=\"remote\"} 3"));
        let text = exposition(None, Some(&d), false);
        assert!(text.contains("# TYPE headroom_deferrals_total counter"));
        assert!(!text.contains("# EOF"));
    }
}

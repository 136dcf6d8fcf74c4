//! `dns`: the domain-health checks once — blocklists, reverse DNS, the sending
//! domains' mail records and the served TLS certificates — with a Nagios exit code
//! like `check`. `--json` prints `status`, `items` (as in `check --json`) and
//! `findings` (one per thing looked at; DESIGN.md has the fields).

use std::io::Write;
use std::path::Path;

use headroom_engine::assess::domain_items;
use headroom_engine::assess::{Assessment, Item, Level, LevelRules, Reading};
use headroom_engine::domain::{Checker, DomainReading, Finding, Scope};
use headroom_engine::item::ItemId;
use serde_json::json;

use crate::output::status_block;
use crate::EXIT_UNKNOWN;
use headroom_engine::sanitize::for_terminal;

pub async fn run(config: Option<&Path>, json: bool) -> u8 {
    let config = match crate::load_config(config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let checker = match Checker::new(&config.dns) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("headroom-cli: {e}");
            return EXIT_UNKNOWN;
        }
    };
    let started = std::time::Instant::now();
    let reading = checker.run(&config, Scope::Asked).await;
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    let thresholds = domain_items::with_defaults(&config.thresholds, &config.tls);
    let assessment = assess(&reading, &thresholds, &config.tls);
    if json {
        let out = json!({
            "status": assessment.status,
            "items": assessment.items,
            "findings": reading.findings,
            "queries": reading.queries,
            "elapsed_ms": elapsed_ms,
        });
        let _ = writeln!(std::io::stdout().lock(), "{out}");
    } else {
        let _ = (|| -> std::io::Result<()> {
            let mut out = std::io::stdout().lock();
            status_block(&mut out, "DNS", &assessment, &thresholds)?;
            for f in &reading.findings {
                writeln!(out, "{}", finding_line(f))?;
            }
            writeln!(
                out,
                "{} DNS queries in {:.0} ms",
                reading.queries, elapsed_ms
            )?;
            out.flush()
        })();
    }
    assessment.status.exit_code() as u8
}

/// Items with levels for one reading, without history: each level is what the
/// reading earns by itself, and the certificate's forecast is its exact time left.
fn assess(
    reading: &DomainReading,
    t: &headroom_engine::config::Thresholds,
    tls: &headroom_engine::config::TlsConfig,
) -> Assessment {
    let items: Vec<Item> = domain_items::items(reading, reading.ts, tls)
        .into_iter()
        .map(|input| {
            let (warn, crit) = t.for_item(input.id);
            let rules = LevelRules {
                warn_ratio: warn,
                crit_ratio: crit,
                horizon_s: t.forecast_horizon_mins * 60.0,
                hysteresis: t.hysteresis,
                min_dwell_s: t.min_dwell_secs,
            };
            let ratio = match (input.used, input.limit) {
                (Some(u), Some(l)) if l > 0.0 => Some(u / l),
                _ => None,
            };
            let forecast_s = (input.id == ItemId::TlsCertExpiry && input.used.is_some())
                .then(|| domain_items::tls_time_left(reading, reading.ts))
                .flatten()
                .map(|s| s.max(0.0));
            Item {
                id: input.id,
                used: input.used,
                limit: input.limit,
                ratio,
                level: rules.raw(Reading { ratio, forecast_s }),
                forecast_s,
                detail: input.detail,
            }
        })
        .collect();
    let status = items
        .iter()
        .map(|i| i.level)
        .max()
        .unwrap_or(Level::Unknown);
    Assessment {
        ts: reading.ts,
        status,
        items,
    }
}

fn finding_line(f: &Finding) -> String {
    let zone = f
        .zone
        .as_deref()
        .map(|z| format!(" in {z}"))
        .unwrap_or_default();
    format!(
        "{:<8} {:<16} {}{zone}: {}",
        f.result.as_str().to_uppercase(),
        f.item,
        for_terminal(&f.subject),
        for_terminal(&f.detail)
    )
}

//! Shared output helpers: Nagios perfdata and human item lines. Item details can quote
//! remote text (a deferral reason, a probe reply), so they pass through
//! [`headroom_engine::sanitize`] on their way to a terminal or a Nagios line.

use std::io::Write;

use headroom_engine::assess::{describe, Assessment, Item};
use headroom_engine::config::Thresholds;
use headroom_engine::item::Unit;
use headroom_engine::sanitize::{for_perfdata, for_terminal};

/// The Nagios block `check` and `dns` print: `NAME STATUS - summary | perfdata`, then
/// one line per item. Item details can quote remote text (a deferral, a TXT record):
/// no `|` of theirs may start fake perfdata.
pub fn status_block(
    out: &mut impl Write,
    name: &str,
    a: &Assessment,
    t: &Thresholds,
) -> std::io::Result<()> {
    writeln!(
        out,
        "{name} {} - {} | {}",
        a.status.as_str().to_uppercase(),
        for_perfdata(&a.summary()),
        perfdata(a, t)
    )?;
    for i in &a.items {
        writeln!(out, "{}", item_line(i))?;
    }
    Ok(())
}

/// Nagios perfdata: `id=used[UOM];warn;crit;min;max` for each item with a reading.
pub fn perfdata(a: &Assessment, t: &Thresholds) -> String {
    a.items
        .iter()
        .filter_map(|i| perf_item(i, t))
        .collect::<Vec<_>>()
        .join(" ")
}

fn perf_item(i: &Item, t: &Thresholds) -> Option<String> {
    let used = i.used?;
    let info = i.id.info();
    let uom = match info.unit {
        Unit::Percent => "%",
        Unit::Bytes => "B",
        Unit::Seconds => "s",
        Unit::Millis => "ms",
        Unit::Count | Unit::Load => "",
    };
    let (warn, crit) = t.for_item(i.id);
    // Thresholds of whole quantities (messages, bytes, processes) are whole numbers.
    let whole = |v: f64| match info.unit {
        Unit::Bytes | Unit::Count => v.round(),
        _ => v,
    };
    // Item ids are ours (the item table), not remote text.
    let label = i.id.as_str();
    Some(match i.limit {
        Some(l) => format!(
            "{}={}{};{};{};0;{}",
            label,
            num(used),
            uom,
            num(whole(warn * l)),
            num(whole(crit * l)),
            num(l)
        ),
        None => format!("{}={}{};;;0;", label, num(used), uom),
    })
}

/// Integers without a decimal point, others with at most 2 decimals.
pub fn num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        let s = format!("{v:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

pub fn item_line(i: &Item) -> String {
    format!(
        "{:<8} {:<18} {}",
        i.level.as_str().to_uppercase(),
        i.id.as_str(),
        for_terminal(&describe(i))
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use headroom_engine::assess::Level;
    use headroom_engine::item::ItemId;

    #[test]
    fn an_item_detail_quoting_a_remote_reply_reaches_the_terminal_clean() {
        let i = Item {
            id: ItemId::RemoteThrottling,
            used: Some(3.0),
            limit: Some(4.0),
            ratio: Some(0.75),
            level: Level::Warning,
            forecast_s: None,
            detail: "mx.example: 3 of 4 throttled; e.g. 421 4.7.0 \u{1b}]8;;http://evil\u{7}renew\u{1b}]8;;\u{7} \u{1b}[2J now".into(),
        };
        let line = item_line(&i);
        assert!(
            !line.contains('\u{1b}') && !line.contains('\u{7}'),
            "{line:?}"
        );
        assert!(line.contains("421 4.7.0 renew  now"), "{line}");
    }

    #[test]
    fn perfdata_follows_the_nagios_format() {
        let a = Assessment {
            ts: 0.0,
            status: Level::Warning,
            items: vec![
                Item {
                    id: ItemId::SmtpdProcesses,
                    used: Some(88.0),
                    limit: Some(100.0),
                    ratio: Some(0.88),
                    level: Level::Warning,
                    forecast_s: Some(360.0),
                    detail: "service smtp".into(),
                },
                Item {
                    id: ItemId::Cpu,
                    used: Some(12.345),
                    limit: Some(100.0),
                    ratio: Some(0.12345),
                    level: Level::Ok,
                    forecast_s: None,
                    detail: String::new(),
                },
                Item {
                    id: ItemId::Memory,
                    used: None,
                    limit: None,
                    ratio: None,
                    level: Level::Unknown,
                    forecast_s: None,
                    detail: "unreadable".into(),
                },
            ],
        };
        assert_eq!(
            perfdata(&a, &Thresholds::default()),
            "smtpd_processes=88;80;95;0;100 cpu=12.35%;80;95;0;100"
        );
    }
}

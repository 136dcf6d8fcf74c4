//! Shared output helpers: Nagios perfdata and human item lines.

use headroom_engine::assess::{describe, Assessment, Item};
use headroom_engine::config::Thresholds;
use headroom_engine::item::Unit;

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
    Some(match i.limit {
        Some(l) => format!(
            "{}={}{};{};{};0;{}",
            i.id,
            num(used),
            uom,
            num(whole(warn * l)),
            num(whole(crit * l)),
            num(l)
        ),
        None => format!("{}={}{};;;0;", i.id, num(used), uom),
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
        i.id,
        describe(i)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use headroom_engine::assess::Level;
    use headroom_engine::item::ItemId;

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

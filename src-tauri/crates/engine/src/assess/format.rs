//! Values in their item's unit, for messages ("3.2 GiB", "88", "97%", "6 min").

use crate::item::Unit;

/// A value in the item's unit, for messages ("3.2 GiB", "88", "97%").
pub fn format_value(unit: Unit, v: f64) -> String {
    match unit {
        Unit::Count => format!("{}", v.round() as i64),
        Unit::Percent => format!("{:.0}%", v),
        Unit::Bytes => format_bytes(v),
        Unit::Seconds => format_duration(v),
        Unit::Load => format!("{v:.2}"),
        Unit::Millis => format!("{v:.0} ms"),
    }
}

pub fn format_bytes(v: f64) -> String {
    const UNITS: &[&str] = &["B", "KiB", "MiB", "GiB", "TiB"];
    let mut x = v;
    let mut i = 0;
    while x.abs() >= 1024.0 && i + 1 < UNITS.len() {
        x /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{x:.0} B")
    } else {
        format!("{x:.1} {}", UNITS[i])
    }
}

/// "about 6 min", "about 2 h", "45 s".
pub fn format_duration(s: f64) -> String {
    if s < 90.0 {
        format!("{:.0} s", s.max(0.0))
    } else if s < 90.0 * 60.0 {
        format!("{:.0} min", s / 60.0)
    } else if s < 48.0 * 3600.0 {
        format!("{:.1} h", s / 3600.0)
    } else {
        format!("{:.1} d", s / 86400.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_human() {
        assert_eq!(
            format_value(Unit::Bytes, 3.5 * 1024.0 * 1024.0 * 1024.0),
            "3.5 GiB"
        );
        assert_eq!(format_value(Unit::Percent, 97.4), "97%");
        assert_eq!(format_duration(360.0), "6 min");
        assert_eq!(format_duration(30.0), "30 s");
    }
}

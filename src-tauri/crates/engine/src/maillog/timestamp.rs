//! Timestamps at the start of mail-log lines: classic syslog (`Nov 27 10:00:01`),
//! RFC 3339 (`2026-11-27T10:00:03.120044+00:00`) and Exim's mainlog
//! (`2026-11-27 10:00:24[.123][ +0100]`).
//!
//! Stamps without a zone are read as UTC. The followers only use *differences*
//! between lines of one log (to place backfilled lines before "now"), so the zone
//! cancels out.

/// Seconds since the Unix epoch of the stamp at the start of `line`. `year` is used
/// for classic syslog stamps, which carry none.
pub fn parse(line: &str, year: i64) -> Option<f64> {
    let b = line.as_bytes();
    if b.len() >= 19 && b[4] == b'-' && b[7] == b'-' && (b[10] == b'T' || b[10] == b' ') {
        return iso(b);
    }
    classic(b, year)
}

fn num(b: &[u8]) -> Option<i64> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0')))
}

fn hms(b: &[u8]) -> Option<i64> {
    if b.len() < 8 || b[2] != b':' || b[5] != b':' {
        return None;
    }
    let (h, m, s) = (num(&b[0..2])?, num(&b[3..5])?, num(&b[6..8])?);
    (h < 24 && m < 60 && s <= 60).then_some(h * 3600 + m * 60 + s)
}

fn iso(b: &[u8]) -> Option<f64> {
    let y = num(&b[0..4])?;
    let mo = num(&b[5..7])?;
    let d = num(&b[8..10])?;
    let secs = hms(&b[11..])?;
    let mut t = days_from_civil(y, mo, d)? as f64 * 86400.0 + secs as f64;
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        i = start;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let frac = &b[start..i.min(start + 9)];
        if let Some(n) = num(frac) {
            t += n as f64 / 10f64.powi(frac.len() as i32);
        }
    }
    // A zone: `Z`, `+HH:MM` (RFC 3339) or ` +HHMM` (Exim).
    let zone = match b.get(i) {
        Some(b' ') if matches!(b.get(i + 1), Some(b'+' | b'-')) => &b[i + 1..],
        _ => &b[i..],
    };
    if let Some(&sign @ (b'+' | b'-')) = zone.first() {
        let digits: Vec<u8> = zone[1..]
            .iter()
            .take(5)
            .copied()
            .filter(u8::is_ascii_digit)
            .take(4)
            .collect();
        if digits.len() == 4 {
            let off = num(&digits[0..2])? * 3600 + num(&digits[2..4])? * 60;
            t -= if sign == b'+' { off } else { -off } as f64;
        }
    }
    Some(t)
}

fn classic(b: &[u8], year: i64) -> Option<f64> {
    if b.len() < 15 || b[3] != b' ' {
        return None;
    }
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let mo = MONTHS.iter().position(|m| &b[0..3] == *m)? as i64 + 1;
    let day = match (b[4], b[5]) {
        (b' ', d) if d.is_ascii_digit() => i64::from(d - b'0'),
        _ => num(&b[4..6])?,
    };
    if b[6] != b' ' {
        return None;
    }
    let secs = hms(&b[7..])?;
    Some(days_from_civil(year, mo, day)? as f64 * 86400.0 + secs as f64)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> Option<i64> {
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// The calendar year of a Unix time (UTC).
pub fn year_of(ts: f64) -> i64 {
    let days = (ts / 86400.0).floor() as i64;
    // Inverse of days_from_civil, year part only.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    yoe + era * 400 + i64::from(m <= 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_three_styles() {
        // 2026-11-27T10:00:01Z = 1795773601
        assert_eq!(
            parse("Nov 27 10:00:01 mx1 postfix/smtp[1]: x", 2026),
            Some(1_795_773_601.0)
        );
        assert_eq!(
            parse("2026-11-27 10:00:01 1vFqXa-000Abc-1x == a@b", 0),
            Some(1_795_773_601.0)
        );
        let t = parse("2026-11-27T10:00:03.120044+00:00 mx1 postfix/smtp[1]: x", 0).expect("ts");
        assert!((t - 1_795_773_603.120044).abs() < 1e-3);
        assert_eq!(
            parse("2026-11-27T11:00:01+01:00 mx1 x", 0),
            Some(1_795_773_601.0)
        );
        assert_eq!(
            parse("2026-11-27 11:00:01 +0100 1vFq", 0),
            Some(1_795_773_601.0)
        );
        assert_eq!(
            parse("Dec  3 00:00:00 h p[1]: x", 1970),
            Some(336.0 * 86400.0)
        );
    }

    #[test]
    fn garbage_is_none() {
        for s in [
            "",
            "Foo 27 10:00:01",
            "Nov 27 25:00:01 x",
            "2026-13-01T00:00:00Z",
            "short",
        ] {
            assert_eq!(parse(s, 2026), None, "{s}");
        }
    }

    #[test]
    fn year_of_round_trips() {
        assert_eq!(year_of(1_795_773_601.0), 2026);
        assert_eq!(year_of(0.0), 1970);
        assert_eq!(
            year_of(days_from_civil(2024, 12, 31).expect("d") as f64 * 86400.0),
            2024
        );
        assert_eq!(
            year_of(days_from_civil(2025, 1, 1).expect("d") as f64 * 86400.0),
            2025
        );
    }
}

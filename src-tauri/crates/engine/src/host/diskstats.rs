//! Disk I/O utilisation from /proc/diskstats: the share of wall time each device had
//! requests in flight (field 13, "time spent doing I/Os", in ms), like iostat's %util.

use std::collections::HashMap;
use std::time::Instant;

use super::DiskIoSample;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskCounters {
    pub io_ticks_ms: u64,
}

/// Parses whole-disk lines (partitions, loop, ram and dm devices without I/O are
/// dropped so utilisation is reported once per physical device).
pub fn parse_diskstats(text: &str) -> Vec<(String, DiskCounters)> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 14 {
                return None;
            }
            let name = f[2];
            if name.starts_with("loop") || name.starts_with("ram") || name.starts_with("zram") {
                return None;
            }
            if is_partition(name) {
                return None;
            }
            let io_ticks_ms = f[12].parse().ok()?;
            Some((name.to_string(), DiskCounters { io_ticks_ms }))
        })
        .collect()
}

fn is_partition(name: &str) -> bool {
    if name.starts_with("nvme") || name.starts_with("mmcblk") {
        // nvme0n1p2, mmcblk0p1: a `p` between digits and a trailing partition number.
        return match name.rfind('p') {
            Some(i) if i + 1 < name.len() => {
                name[i + 1..].bytes().all(|c| c.is_ascii_digit())
                    && name[..i].bytes().last().is_some_and(|c| c.is_ascii_digit())
            }
            _ => false,
        };
    }
    ["sd", "vd", "xvd", "hd"]
        .iter()
        .any(|p| name.starts_with(p))
        && name.bytes().last().is_some_and(|c| c.is_ascii_digit())
}

/// Turns successive counter readings into utilisation percentages.
#[derive(Debug, Default)]
pub struct DiskIoTracker {
    previous: HashMap<String, DiskCounters>,
    at: Option<Instant>,
}

impl DiskIoTracker {
    pub fn update(
        &mut self,
        now_counters: &[(String, DiskCounters)],
        now: Instant,
    ) -> Vec<DiskIoSample> {
        let mut out = Vec::new();
        if let Some(at) = self.at {
            let elapsed_ms = now.saturating_duration_since(at).as_secs_f64() * 1000.0;
            if elapsed_ms > 0.0 {
                for (name, c) in now_counters {
                    if let Some(p) = self.previous.get(name) {
                        // A counter that went backwards (device re-added) gives no reading.
                        if c.io_ticks_ms >= p.io_ticks_ms {
                            let busy = (c.io_ticks_ms - p.io_ticks_ms) as f64;
                            out.push(DiskIoSample {
                                device: name.clone(),
                                util_percent: (busy / elapsed_ms * 100.0).clamp(0.0, 100.0),
                            });
                        }
                    }
                }
            }
        }
        self.previous = now_counters.iter().cloned().collect();
        self.at = Some(now);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const STATS: &str = "\
 254       0 vda 1000 0 2000 300 400 0 800 500 0 1200 900 0 0 0 0
 254       1 vda1 900 0 1800 280 400 0 800 500 0 1100 880 0 0 0 0
   7       0 loop0 10 0 20 1 0 0 0 0 0 5 1 0 0 0 0
 259       0 nvme0n1 5 0 5 5 5 0 5 5 0 50 5 0 0 0 0
 259       1 nvme0n1p1 5 0 5 5 5 0 5 5 0 40 5 0 0 0 0
 253       0 dm-0 5 0 5 5 5 0 5 5 0 70 5 0 0 0 0
";

    #[test]
    fn whole_disks_only() {
        let d = parse_diskstats(STATS);
        let names: Vec<_> = d.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["vda", "nvme0n1", "dm-0"]);
        assert_eq!(d[0].1.io_ticks_ms, 1200);
    }

    #[test]
    fn utilisation_is_busy_time_over_elapsed_time() {
        let mut t = DiskIoTracker::default();
        let t0 = Instant::now();
        assert!(t
            .update(&[("vda".into(), DiskCounters { io_ticks_ms: 1000 })], t0)
            .is_empty());
        let s = t.update(
            &[("vda".into(), DiskCounters { io_ticks_ms: 1250 })],
            t0 + Duration::from_secs(1),
        );
        assert_eq!(s.len(), 1);
        assert!((s[0].util_percent - 25.0).abs() < 1e-9);
        // Counter reset: no reading rather than a negative or huge one.
        let s = t.update(
            &[("vda".into(), DiskCounters { io_ticks_ms: 10 })],
            t0 + Duration::from_secs(2),
        );
        assert!(s.is_empty());
    }
}

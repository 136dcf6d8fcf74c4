//! What each headroom item is: its label, unit, the parameter behind its limit, and
//! what to do when it runs short. Item ids are a contract (DESIGN.md).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Percent,
    Bytes,
    Seconds,
    Load,
    Millis,
}

#[derive(Debug, Clone, Copy)]
pub struct ItemInfo {
    pub id: &'static str,
    pub label: &'static str,
    pub unit: Unit,
    /// Whether a time-to-limit forecast means something: true for quantities that
    /// accumulate (processes, queues, space), false for rates that swing (CPU, I/O).
    pub forecast: bool,
    pub fix: &'static str,
}

pub const CATALOG: &[ItemInfo] = &[
    ItemInfo { id: "smtpd_processes", label: "smtpd processes", unit: Unit::Count, forecast: true,
        fix: "raise maxproc of the service in master.cf (or default_process_limit) or find the slow clients holding sessions" },
    ItemInfo { id: "accept_backlog", label: "clients waiting for a banner", unit: Unit::Count, forecast: true,
        fix: "all smtpd processes are busy: raise maxproc in master.cf, enable postscreen, or lower smtpd_timeout" },
    ItemInfo { id: "client_connections", label: "connections from one client", unit: Unit::Count, forecast: true,
        fix: "raise smtpd_client_connection_count_limit, add the client to smtpd_client_event_limit_exceptions, or ask it to use fewer connections" },
    ItemInfo { id: "queue_disk", label: "queue free space", unit: Unit::Bytes, forecast: true,
        fix: "free space on the queue filesystem, or lower message_size_limit/queue_minfree; Postfix answers 452 4.3.1 below the threshold" },
    ItemInfo { id: "queue_inodes", label: "queue inodes", unit: Unit::Count, forecast: true,
        fix: "free inodes on the queue filesystem: delete old deferred mail (postsuper -d) or move the queue to a filesystem with more inodes" },
    ItemInfo { id: "active_queue", label: "active queue", unit: Unit::Count, forecast: true,
        fix: "delivery is slower than arrival: check destination concurrency and remote throttling, or raise qmgr_message_active_limit" },
    ItemInfo { id: "deferred_queue", label: "deferred queue", unit: Unit::Count, forecast: true,
        fix: "read the top delay reasons (postqueue -j, qshape deferred) and fix the destinations that defer" },
    ItemInfo { id: "oldest_message", label: "oldest queued message", unit: Unit::Seconds, forecast: true,
        fix: "a message is close to maximal_queue_lifetime: check why its destination defers" },
    ItemInfo { id: "cpu", label: "CPU", unit: Unit::Percent, forecast: false,
        fix: "find the busy processes (top); content filters and TLS handshakes are the usual cost on a mail host" },
    ItemInfo { id: "memory", label: "memory", unit: Unit::Bytes, forecast: true,
        fix: "find what grows (ps aux --sort=-rss); lower process limits of heavy filters or add memory" },
    ItemInfo { id: "swap", label: "swap", unit: Unit::Bytes, forecast: true,
        fix: "the host is short of memory and swapping: reduce concurrency of heavy filters or add memory" },
    ItemInfo { id: "load", label: "load average", unit: Unit::Load, forecast: false,
        fix: "more runnable tasks than cores: check CPU and I/O wait; Exim refuses mail above smtp_load_reserve" },
    ItemInfo { id: "disk_io", label: "disk I/O", unit: Unit::Percent, forecast: false,
        fix: "the disk is saturated: queue file writes will slow acceptance; check iotop and move the queue to a faster device" },
    ItemInfo { id: "probe_latency", label: "probe latency", unit: Unit::Millis, forecast: true,
        fix: "the server answers slowly: check CPU, I/O and DNS lookups of smtpd, and the number of busy smtpd processes" },
    ItemInfo { id: "probe_failures", label: "consecutive probe failures", unit: Unit::Count, forecast: false,
        fix: "the server does not answer probes: read the probe log for the reply and its explanation" },
    ItemInfo { id: "remote_throttling", label: "remote throttling", unit: Unit::Count, forecast: false,
        fix: "a destination is throttling us: lower smtp_destination_concurrency_limit or raise smtp_destination_rate_delay for it, warm up, check reputation" },
];

/// The stable item ids, in display order.
pub const ITEM_IDS: &[&str] = &[
    "smtpd_processes",
    "accept_backlog",
    "client_connections",
    "queue_disk",
    "queue_inodes",
    "active_queue",
    "deferred_queue",
    "oldest_message",
    "cpu",
    "memory",
    "swap",
    "load",
    "disk_io",
    "probe_latency",
    "probe_failures",
    "remote_throttling",
];

pub fn info(id: &str) -> Option<&'static ItemInfo> {
    CATALOG.iter().find(|i| i.id == id)
}

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
    fn every_stable_id_has_an_entry_and_a_fix() {
        assert_eq!(CATALOG.len(), ITEM_IDS.len());
        for id in ITEM_IDS {
            let i = info(id).unwrap_or_else(|| panic!("{id} missing"));
            assert!(!i.fix.is_empty());
        }
    }

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

//! The chart metrics of one tick: the series the window draws and history keeps.

use std::collections::BTreeMap;

use crate::assess::Assessment;
use crate::snapshot::Snapshot;

/// The chart metrics of one tick: host figures plus each item's ratio in percent.
pub fn metrics_of(snap: &Snapshot, assessment: &Assessment) -> BTreeMap<String, Option<f64>> {
    let mut m = BTreeMap::new();
    let h = snap.host.as_ref();
    m.insert("cpu_percent".into(), h.and_then(|h| h.cpu_percent));
    m.insert("load1".into(), h.and_then(|h| h.load.map(|l| l[0])));
    let mem = h.and_then(|h| h.memory);
    m.insert(
        "memory_percent".into(),
        mem.filter(|m| m.total_bytes > 0)
            .map(|m| m.used_bytes as f64 / m.total_bytes as f64 * 100.0),
    );
    m.insert(
        "swap_percent".into(),
        mem.filter(|m| m.swap_total_bytes > 0)
            .map(|m| m.swap_used_bytes as f64 / m.swap_total_bytes as f64 * 100.0),
    );
    if let Some(h) = h {
        for d in &h.disks {
            m.insert(format!("disk_io:{}", d.device), Some(d.util_percent));
        }
        for f in &h.filesystems {
            if f.total_bytes > 0 {
                let used = f.total_bytes.saturating_sub(f.free_bytes) as f64;
                m.insert(
                    format!("fs_used_percent:{}", f.mount_point),
                    Some(used / f.total_bytes as f64 * 100.0),
                );
            }
        }
    }
    if let Some(mta) = &snap.mta {
        if let Some(q) = &mta.queue {
            for (name, v) in [
                ("incoming", q.incoming),
                ("active", q.active),
                ("deferred", q.deferred),
                ("hold", q.hold),
                ("maildrop", q.maildrop),
            ] {
                m.insert(format!("queue:{name}"), v.map(|v| v as f64));
            }
        }
        // Per smtpd service: processes and connections against the process limit.
        for s in &mta.services {
            m.insert(
                format!("smtpd_processes:{}", s.name),
                Some(s.processes as f64),
            );
            m.insert(
                format!("smtpd_connections:{}", s.name),
                Some(s.connections as f64),
            );
            m.insert(
                format!("smtpd_limit:{}", s.name),
                s.process_limit.value.map(|l| l as f64),
            );
        }
        if let Some(fs) = &mta.queue_fs {
            m.insert("queue_free_bytes".into(), Some(fs.free_bytes as f64));
        }
        let threshold = mta.queue_space.as_ref().and_then(|q| q.bytes);
        m.insert("queue_space_threshold".into(), threshold.map(|t| t as f64));
    }
    // Probe latency per phase of each target's latest result (ms).
    for p in &snap.probes {
        for (phase, ms) in p.latest.timings_ms.iter() {
            m.insert(format!("probe_ms:{}:{}", p.name, phase.as_str()), Some(ms));
        }
    }
    for i in &assessment.items {
        m.insert(format!("ratio:{}", i.id), i.ratio.map(|r| r * 100.0));
    }
    m
}

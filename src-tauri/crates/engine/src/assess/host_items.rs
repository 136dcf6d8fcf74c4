//! Host items: cpu, memory, swap, load and disk_io.

use super::ItemInput;
use crate::snapshot::Snapshot;

pub fn items(snap: &Snapshot) -> Vec<ItemInput> {
    let Some(h) = &snap.host else {
        let why = snap
            .problems
            .iter()
            .find(|p| p.source == "host")
            .map(|p| p.message.clone())
            .unwrap_or_else(|| "host not sampled".into());
        return ["cpu", "memory", "load"]
            .into_iter()
            .map(|id| ItemInput {
                id,
                used: None,
                limit: None,
                detail: why.clone(),
            })
            .collect();
    };
    let mut out = vec![ItemInput {
        id: "cpu",
        used: h.cpu_percent,
        limit: Some(100.0),
        detail: format!("{} cores", h.cores),
    }];
    match h.memory {
        Some(m) => {
            out.push(ItemInput {
                id: "memory",
                used: Some(m.used_bytes as f64),
                limit: Some(m.total_bytes as f64),
                detail: String::new(),
            });
            // A host without swap has nothing to run out of there.
            if m.swap_total_bytes > 0 {
                out.push(ItemInput {
                    id: "swap",
                    used: Some(m.swap_used_bytes as f64),
                    limit: Some(m.swap_total_bytes as f64),
                    detail: String::new(),
                });
            }
        }
        None => out.push(ItemInput {
            id: "memory",
            used: None,
            limit: None,
            detail: "memory figures unavailable".into(),
        }),
    }
    out.push(ItemInput {
        id: "load",
        used: h.load.map(|l| l[0]),
        limit: Some(h.cores as f64),
        detail: match h.load {
            Some(l) => format!(
                "1-min load; 5/15 min {:.2}/{:.2}; {} cores",
                l[1], l[2], h.cores
            ),
            None => "load average unavailable".into(),
        },
    });
    if let Some(busiest) = h
        .disks
        .iter()
        .max_by(|a, b| a.util_percent.total_cmp(&b.util_percent))
    {
        out.push(ItemInput {
            id: "disk_io",
            used: Some(busiest.util_percent),
            limit: Some(100.0),
            detail: format!("busiest device {}", busiest.device),
        });
    }
    out
}

//! Mail server items: smtpd_processes, accept_backlog, client_connections, queue_disk,
//! queue_inodes, active_queue, deferred_queue and oldest_message, each against the
//! server's own limit as the MTA source read it. A limit that could not be read makes
//! the item unknown with the reason; none is ever made up. Nothing here knows which
//! MTA it reads: the adapters say it in typed facts (limits with their parameters,
//! whether the server runs, how it counts its queue).

use super::ItemInput;
use crate::assess::format_bytes;
use crate::item::ItemId;
use crate::mta::{CountMethod, Limit, MtaSample, MtaState, ServiceSample};
use crate::snapshot::Snapshot;

pub fn items(snap: &Snapshot, t: &crate::config::Thresholds) -> Vec<ItemInput> {
    let Some(m) = &snap.mta else {
        return match snap.problems.iter().find(|p| p.source == "mta") {
            Some(p) => vec![unknown(ItemId::SmtpdProcesses, p.message.clone())],
            None => Vec::new(),
        };
    };
    let mut out = Vec::new();
    out.push(processes(m));
    if m.is_running() {
        out.extend(backlog(m));
        out.extend(client_connections(m));
    }
    out.extend(queue_disk(m));
    out.extend(queue_inodes(m));
    out.extend(queues(m, t.oldest_message_budget_hours.map(|h| h * 3600.0)));
    out
}

fn unknown(id: ItemId, detail: String) -> ItemInput {
    ItemInput {
        id,
        used: None,
        limit: None,
        detail,
    }
}

/// Services whose processes hold SMTP sessions (postscreen holds none for long).
fn session_services(m: &MtaSample) -> impl Iterator<Item = &ServiceSample> {
    m.services.iter().filter(|s| s.command != "postscreen")
}

fn ratio(used: u64, limit: Option<u64>) -> f64 {
    match limit {
        Some(l) if l > 0 => used as f64 / l as f64,
        _ => -1.0,
    }
}

fn processes(m: &MtaSample) -> ItemInput {
    let with_limit: Vec<&ServiceSample> = session_services(m)
        .filter(|s| s.process_limit.value.is_some())
        .collect();
    if let MtaState::Down { reason } = &m.state {
        let down = format!("mail system is down: {reason}");
        // Down means no process slot can take a client: the whole limit is gone. There
        // is no use to report (none is made up): assess makes it critical.
        return match with_limit
            .iter()
            .filter_map(|s| s.process_limit.value)
            .max()
        {
            Some(l) => ItemInput {
                id: ItemId::SmtpdProcesses,
                used: None,
                limit: Some(l as f64),
                detail: format!("{down}; no {} can accept mail", m.kind.session_process()),
            },
            None => unknown(
                ItemId::SmtpdProcesses,
                format!("{down}; process limit unreadable"),
            ),
        };
    }
    let Some(worst) = with_limit.iter().max_by(|a, b| {
        ratio(a.processes, a.process_limit.value)
            .total_cmp(&ratio(b.processes, b.process_limit.value))
    }) else {
        let why = session_services(m)
            .map(|s| format!("service {}: {}", s.name, s.process_limit.parameter))
            .collect::<Vec<_>>()
            .join("; ");
        return unknown(
            ItemId::SmtpdProcesses,
            if why.is_empty() {
                format!("no SMTP service found in the {} configuration", m.kind)
            } else {
                format!("process limit cannot be read ({why})")
            },
        );
    };
    let mut detail = format!(
        "service {} ({}): {} serving a client",
        worst.name, worst.process_limit.parameter, worst.processes
    );
    let idle: u64 = session_services(m).map(|s| s.idle_processes).sum();
    if idle > 0 {
        detail.push_str(&format!(
            "; {idle} idle {} processes wait for the next client (room, not use)",
            m.kind.session_process()
        ));
    }
    let stressed: u64 = session_services(m).map(|s| s.stressed).sum();
    if stressed > 0 {
        detail.push_str(&format!(
            "; {stressed} processes run with stress=yes (Postfix is shortening timeouts under overload)"
        ));
    }
    let others: Vec<String> = session_services(m)
        .filter(|s| s.name != worst.name)
        .map(|s| match s.process_limit.value {
            Some(l) => format!("{} {}/{}", s.name, s.processes, l),
            None => format!("{} {}/no limit", s.name, s.processes),
        })
        .collect();
    if !others.is_empty() {
        detail.push_str(&format!("; also {}", others.join(", ")));
    }
    ItemInput {
        id: ItemId::SmtpdProcesses,
        used: Some(worst.processes as f64),
        limit: worst.process_limit.value.map(|l| l as f64),
        detail,
    }
}

fn backlog(m: &MtaSample) -> Option<ItemInput> {
    let worst = m
        .services
        .iter()
        .filter(|s| s.backlog.is_some())
        .max_by_key(|s| s.backlog)?;
    let waiting = worst.backlog.unwrap_or(0);
    Some(ItemInput {
        id: ItemId::AcceptBacklog,
        used: Some(waiting as f64),
        limit: worst.backlog_limit.map(|l| l as f64),
        detail: match worst.backlog_limit {
            Some(_) if waiting > 0 => format!(
                "{waiting} clients connected to service {} and wait without a banner: every process is busy",
                worst.name
            ),
            Some(_) => format!("service {}: listen backlog", worst.name),
            None => format!("service {}: listen backlog limit cannot be read", worst.name),
        },
    })
}

/// The per-client limit of one service and what to say about it. A limit that is off
/// (0) leaves the process limit as the most one client can take.
fn per_client_limit(s: &ServiceSample) -> Option<(Option<u64>, String)> {
    let Limit { value, parameter } = s.per_client_limit.as_ref()?;
    Some(match value {
        Some(0) => (
            s.process_limit.value,
            format!(
                "{parameter} = 0 (off): one client may take all {} processes",
                s.name
            ),
        ),
        v => (*v, parameter.clone()),
    })
}

fn client_connections(m: &MtaSample) -> Option<ItemInput> {
    let mut best: Option<(f64, ItemInput)> = None;
    for s in m.services.iter().filter(|s| s.listening) {
        let Some((lim, source)) = per_client_limit(s) else {
            continue;
        };
        let used = s.top_limited_peer_connections;
        let detail = match (&s.top_limited_peer, lim) {
            (_, None) => format!("{source} cannot be read (service {})", s.name),
            (Some(peer), Some(_)) => format!("{peer} on service {} ({source})", s.name),
            (None, Some(_)) => format!("no client connected to service {} ({source})", s.name),
        };
        let r = ratio(used, lim);
        let input = ItemInput {
            id: ItemId::ClientConnections,
            used: Some(used as f64),
            limit: lim.map(|l| l as f64),
            detail,
        };
        if best.as_ref().is_none_or(|(br, _)| r > *br) {
            best = Some((r, input));
        }
    }
    best.map(|(_, i)| i)
}

fn queue_disk(m: &MtaSample) -> Option<ItemInput> {
    let space = m.queue_space.as_ref()?;
    let Some(fs) = &m.queue_fs else {
        return Some(unknown(
            ItemId::QueueDisk,
            "queue filesystem could not be read (statvfs)".into(),
        ));
    };
    let Some(t) = space.bytes else {
        return Some(unknown(
            ItemId::QueueDisk,
            format!(
                "queue space threshold cannot be read ({})",
                space.parameters.join(" or ")
            ),
        ));
    };
    let rule = &space.rule;
    let usable = fs.total_bytes.saturating_sub(t);
    if usable == 0 {
        // The threshold is larger than the filesystem: every message is refused.
        return Some(ItemInput {
            id: ItemId::QueueDisk,
            used: Some(t as f64),
            limit: Some(fs.free_bytes.max(1) as f64),
            detail: format!(
                "{}: threshold {} exceeds the whole filesystem ({}); {rule}",
                fs.path,
                format_bytes(t as f64),
                format_bytes(fs.total_bytes as f64)
            ),
        });
    }
    Some(ItemInput {
        id: ItemId::QueueDisk,
        used: Some(fs.total_bytes.saturating_sub(fs.free_bytes) as f64),
        limit: Some(usable as f64),
        detail: format!(
            "{}: {} free, threshold {} = {rule}",
            fs.path,
            format_bytes(fs.free_bytes as f64),
            format_bytes(t as f64)
        ),
    })
}

fn queue_inodes(m: &MtaSample) -> Option<ItemInput> {
    let fs = m.queue_fs.as_ref()?;
    // Filesystems without a fixed inode table (btrfs) report none: nothing to run out of.
    if fs.total_inodes == 0 {
        return None;
    }
    let reserve = m.spool_inodes_reserve.as_ref().and_then(|l| l.value);
    Some(ItemInput {
        id: ItemId::QueueInodes,
        used: Some(fs.total_inodes.saturating_sub(fs.free_inodes) as f64),
        limit: Some(fs.total_inodes.saturating_sub(reserve.unwrap_or(0)).max(1) as f64),
        detail: match (reserve, &m.spool_inodes_reserve) {
            (Some(r), Some(l)) if r > 0 => format!("{} ({} = {r})", fs.path, l.parameter),
            _ => fs.path.clone(),
        },
    })
}

fn queues(m: &MtaSample, oldest_budget_s: Option<f64>) -> Vec<ItemInput> {
    let mut out = Vec::new();
    let Some(q) = &m.queue else {
        let why = m
            .queue_problem
            .clone()
            .unwrap_or_else(|| "queue not counted yet".into());
        out.push(unknown(ItemId::DeferredQueue, why));
        return out;
    };
    let how = if q.method == CountMethod::Directory {
        String::new()
    } else {
        format!(
            "; counted by {} {:.0} s ago",
            q.method.as_str(),
            q.counted_age_s
        )
    };
    if let (Some(active), Some(lim)) = (q.active, &m.active_limit) {
        out.push(ItemInput {
            id: ItemId::ActiveQueue,
            used: Some(active as f64),
            limit: lim.value.map(|l| l as f64),
            detail: match lim.value {
                Some(_) => format!("{}{how}", lim.parameter),
                None => format!("{} cannot be read", lim.parameter),
            },
        });
    }
    if let Some(deferred) = q.deferred {
        // No MTA caps the deferred queue itself; what caps it is the inodes the queue
        // filesystem has left for more queue files, and one message takes more than one.
        let per_message = m.kind.files_per_deferred_message();
        let room = m
            .queue_fs
            .as_ref()
            .filter(|fs| fs.total_inodes > 0)
            .map(|fs| deferred + fs.free_inodes / per_message);
        let mut detail = match room {
            Some(_) => format!(
                "no limit of its own: compared with the messages the free inodes allow ({per_message} files per deferred message)"
            ),
            None => "no limit of its own, and the queue filesystem reports no inodes".into(),
        };
        if let Some(d) = &m.details {
            if let Some(r) = d.top_reasons.first() {
                detail.push_str(&format!("; top reason ({}×): {}", r.count, r.key));
            }
            let doms: Vec<String> = d
                .top_domains
                .iter()
                .take(3)
                .map(|c| format!("{} {}", c.key, c.count))
                .collect();
            if !doms.is_empty() {
                detail.push_str(&format!("; top domains: {}", doms.join(", ")));
            }
        }
        detail.push_str(&how);
        out.push(ItemInput {
            id: ItemId::DeferredQueue,
            used: Some(deferred as f64),
            limit: room.map(|r| r as f64),
            detail,
        });
    }
    // A budget of the admin's own ("no mail older than 4 h") comes before the server's
    // queue lifetime, the point where mail is bounced.
    if let (Some(age), Some(budget)) = (q.oldest_age_s, oldest_budget_s) {
        out.push(ItemInput {
            id: ItemId::OldestMessage,
            used: Some(age),
            limit: Some(budget),
            detail: "arrival time of the oldest queued message vs [thresholds] oldest_message_budget_hours"
                .into(),
        });
    } else if let (Some(age), Some(lim)) = (q.oldest_age_s, &m.queue_lifetime) {
        out.push(ItemInput {
            id: ItemId::OldestMessage,
            used: Some(age),
            limit: lim.value.map(|l| l as f64),
            detail: match lim.value {
                Some(_) => format!(
                    "arrival time of the oldest queued message vs {}",
                    lim.parameter
                ),
                None => format!("{} cannot be read", lim.parameter),
            },
        });
    }
    out
}

#[cfg(test)]
mod tests;

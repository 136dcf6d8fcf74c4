//! Mail server items: smtpd_processes, accept_backlog, client_connections, queue_disk,
//! queue_inodes, active_queue, deferred_queue and oldest_message, each against the
//! server's own limit as the MTA source read it. A limit that could not be read makes
//! the item unknown with the reason; none is ever made up.

use super::ItemInput;
use crate::assess::format_bytes;
use crate::item::ItemId;
use crate::mta::{MtaSample, ServiceSample};
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
    if m.running {
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

fn limit(m: &MtaSample, key: &str) -> Option<Option<u64>> {
    m.limits.get(key).copied()
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
        .filter(|s| s.process_limit.is_some())
        .collect();
    if !m.running {
        let down = m
            .notes
            .iter()
            .find(|n| n.starts_with("mail system is down"))
            .cloned()
            .unwrap_or_else(|| format!("mail system is down: {} is not running", m.kind));
        // Down means no process slot can take a client: the whole limit is gone.
        return match with_limit.iter().filter_map(|s| s.process_limit).max() {
            Some(l) => ItemInput {
                id: ItemId::SmtpdProcesses,
                used: Some(l as f64),
                limit: Some(l as f64),
                detail: format!("{down}; no {} can accept mail", process_word(m)),
            },
            None => unknown(
                ItemId::SmtpdProcesses,
                format!("{down}; process limit unreadable"),
            ),
        };
    }
    let Some(worst) = with_limit.iter().max_by(|a, b| {
        ratio(a.processes, a.process_limit).total_cmp(&ratio(b.processes, b.process_limit))
    }) else {
        let why = session_services(m)
            .map(|s| format!("service {}: {}", s.name, s.limit_source))
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
    let mut detail = format!("service {} ({})", worst.name, worst.limit_source);
    let stressed: u64 = session_services(m).map(|s| s.stressed).sum();
    if stressed > 0 {
        detail.push_str(&format!(
            "; {stressed} processes run with stress=yes (Postfix is shortening timeouts under overload)"
        ));
    }
    let others: Vec<String> = session_services(m)
        .filter(|s| s.name != worst.name)
        .map(|s| match s.process_limit {
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
        limit: worst.process_limit.map(|l| l as f64),
        detail,
    }
}

fn process_word(m: &MtaSample) -> &'static str {
    match m.kind.as_str() {
        "postfix" => "smtpd",
        "exim" => "Exim daemon child",
        _ => "server process",
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

/// The per-client limit of one service and where it comes from.
fn per_client_limit(m: &MtaSample, s: &ServiceSample) -> (Option<Option<u64>>, String) {
    let key = match (m.kind.as_str(), s.command.as_str()) {
        ("postfix", "postscreen") => "postscreen_client_connection_count_limit",
        ("postfix", _) => "smtpd_client_connection_count_limit",
        ("exim", _) => "smtp_accept_max_per_host",
        _ => return (None, String::new()),
    };
    match limit(m, key) {
        // 0 switches the per-client limit off; one client can then take every process.
        Some(Some(0)) | Some(None)
            if key == "smtp_accept_max_per_host" && s.process_limit.is_some() =>
        {
            (
                Some(s.process_limit),
                format!("{key} unset: one client may take all of the process limit"),
            )
        }
        Some(Some(0)) => (
            Some(s.process_limit),
            format!(
                "{key} = 0 (off): one client may take all {} processes",
                s.name
            ),
        ),
        Some(v) => (Some(v), key.to_string()),
        None => (None, key.to_string()),
    }
}

fn client_connections(m: &MtaSample) -> Option<ItemInput> {
    let mut best: Option<(f64, ItemInput)> = None;
    for s in m.services.iter().filter(|s| s.listening) {
        let (lim, source) = per_client_limit(m, s);
        let Some(lim) = lim else { continue };
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
    let threshold = limit(m, "queue_space_threshold")?;
    let Some(fs) = &m.queue_fs else {
        return Some(unknown(
            ItemId::QueueDisk,
            "queue filesystem could not be read (statvfs)".into(),
        ));
    };
    let Some(t) = threshold else {
        return Some(unknown(
            ItemId::QueueDisk,
            format!(
                "queue space threshold cannot be read ({})",
                if m.kind == "postfix" {
                    "queue_minfree or message_size_limit"
                } else {
                    "free-space parameter"
                }
            ),
        ));
    };
    let rule = match m.kind.as_str() {
        "postfix" => {
            "max(queue_minfree, 1.5 × message_size_limit); below it smtpd answers 452 4.3.1"
        }
        "exim" => "check_spool_space; below it Exim answers 452 Space shortage",
        _ => "the server's minimum free space",
    };
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
    let reserve = limit(m, "check_spool_inodes").flatten().unwrap_or(0);
    Some(ItemInput {
        id: ItemId::QueueInodes,
        used: Some(fs.total_inodes.saturating_sub(fs.free_inodes) as f64),
        limit: Some(fs.total_inodes.saturating_sub(reserve).max(1) as f64),
        detail: if reserve > 0 {
            format!("{} (check_spool_inodes = {reserve})", fs.path)
        } else {
            fs.path.clone()
        },
    })
}

fn queues(m: &MtaSample, oldest_budget_s: Option<f64>) -> Vec<ItemInput> {
    let mut out = Vec::new();
    let Some(q) = &m.queue else {
        let why = m
            .notes
            .iter()
            .find(|n| n.contains("cannot count"))
            .cloned()
            .unwrap_or_else(|| "queue not counted yet".into());
        out.push(unknown(ItemId::DeferredQueue, why));
        return out;
    };
    let how = if q.method == "directory" {
        String::new()
    } else {
        format!("; counted by {} {:.0} s ago", q.method, q.counted_age_s)
    };
    if let (Some(active), Some(lim)) = (q.active, limit(m, "qmgr_message_active_limit")) {
        out.push(ItemInput {
            id: ItemId::ActiveQueue,
            used: Some(active as f64),
            limit: lim.map(|l| l as f64),
            detail: match lim {
                Some(_) => format!("qmgr_message_active_limit{how}"),
                None => "qmgr_message_active_limit cannot be read".into(),
            },
        });
    }
    if let Some(deferred) = q.deferred {
        // No MTA caps the deferred queue itself; what caps it is the inodes the queue
        // filesystem has left for more queue files, and one message takes more than one.
        let per_message = files_per_deferred_message(&m.kind);
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
    // maximal_queue_lifetime, the point where mail is bounced.
    if let (Some(age), Some(budget)) = (q.oldest_age_s, oldest_budget_s) {
        out.push(ItemInput {
            id: ItemId::OldestMessage,
            used: Some(age),
            limit: Some(budget),
            detail: "arrival time of the oldest queued message vs [thresholds] oldest_message_budget_hours"
                .into(),
        });
    } else if let (Some(age), Some(lim)) = (q.oldest_age_s, limit(m, "maximal_queue_lifetime")) {
        out.push(ItemInput {
            id: ItemId::OldestMessage,
            used: Some(age),
            limit: lim.map(|l| l as f64),
            detail: match lim {
                Some(_) => {
                    "arrival time of the oldest queued message vs maximal_queue_lifetime".into()
                }
                None => "maximal_queue_lifetime cannot be read".into(),
            },
        });
    }
    out
}

/// Files (inodes) one deferred message holds: Postfix keeps the queue file and a defer
/// log with the reasons; Exim the -H and -D spool files and a message log.
fn files_per_deferred_message(kind: &str) -> u64 {
    match kind {
        "postfix" => 2,
        "exim" => 3,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Thresholds;
    use crate::mta::{QueueCounts, QueueFs};

    fn postfix() -> MtaSample {
        let mut m = MtaSample {
            kind: "postfix".into(),
            running: true,
            ..Default::default()
        };
        for (k, v) in [
            ("smtpd_client_connection_count_limit", Some(4)),
            ("queue_space_threshold", Some(15_360_000)),
            ("qmgr_message_active_limit", Some(20000)),
            ("maximal_queue_lifetime", Some(432_000)),
            ("smtp_process_limit", Some(10)),
        ] {
            m.limits.insert(k.into(), v);
        }
        m.services.push(ServiceSample {
            name: "smtp".into(),
            command: "smtpd".into(),
            process_limit: Some(10),
            limit_source: "maxproc in master.cf".into(),
            processes: 4,
            listening: true,
            backlog: Some(0),
            backlog_limit: Some(100),
            connections: 4,
            top_limited_peer: Some("192.0.2.1".into()),
            top_limited_peer_connections: 4,
            ..Default::default()
        });
        m.queue = Some(QueueCounts {
            active: Some(3),
            deferred: Some(7),
            method: "directory".into(),
            ..Default::default()
        });
        m.queue_fs = Some(QueueFs {
            path: "/var/spool/postfix".into(),
            total_bytes: 1_000_000_000,
            free_bytes: 500_000_000,
            total_inodes: 1000,
            free_inodes: 900,
        });
        m
    }

    fn find<'a>(v: &'a [ItemInput], id: &str) -> &'a ItemInput {
        v.iter()
            .find(|i| i.id == id)
            .unwrap_or_else(|| panic!("{id} missing"))
    }

    fn snap(m: MtaSample) -> Snapshot {
        Snapshot {
            ts: 1.0,
            mta: Some(m),
            ..Default::default()
        }
    }

    #[test]
    fn a_running_postfix_gives_every_item_its_own_limit() {
        let v = items(&snap(postfix()), &Thresholds::default());
        assert_eq!(find(&v, "smtpd_processes").limit, Some(10.0));
        assert_eq!(find(&v, "client_connections").used, Some(4.0));
        assert_eq!(find(&v, "client_connections").limit, Some(4.0));
        assert_eq!(find(&v, "active_queue").limit, Some(20000.0));
        let disk = find(&v, "queue_disk");
        assert_eq!(disk.used, Some(500_000_000.0));
        assert_eq!(disk.limit, Some(1_000_000_000.0 - 15_360_000.0));
        // 900 free inodes at two files per deferred message: room for 450 more.
        assert_eq!(find(&v, "deferred_queue").limit, Some(457.0));
        // No listing yet: no age, so no oldest_message item rather than a made-up one.
        assert!(v.iter().all(|i| i.id != "oldest_message"));
    }

    #[test]
    fn a_stopped_postfix_has_no_process_room_left() {
        let mut m = postfix();
        m.running = false;
        m.notes
            .push("mail system is down: no Postfix master process".into());
        let v = items(&snap(m), &Thresholds::default());
        let p = find(&v, "smtpd_processes");
        assert_eq!(p.used, p.limit);
        assert!(p.detail.starts_with("mail system is down"));
    }

    #[test]
    fn an_unreadable_limit_is_unknown_not_invented() {
        let mut m = postfix();
        m.limits.insert("queue_space_threshold".into(), None);
        m.services[0].process_limit = None;
        m.services[0].limit_source = "unreadable maxproc \"x\"".into();
        let v = items(&snap(m), &Thresholds::default());
        assert_eq!(find(&v, "queue_disk").limit, None);
        assert!(find(&v, "queue_disk").detail.contains("cannot be read"));
        assert_eq!(find(&v, "smtpd_processes").limit, None);
        assert!(find(&v, "smtpd_processes")
            .detail
            .contains("unreadable maxproc"));
    }

    #[test]
    fn a_disabled_per_client_limit_falls_back_to_the_process_limit() {
        let mut m = postfix();
        m.limits
            .insert("smtpd_client_connection_count_limit".into(), Some(0));
        let v = items(&snap(m), &Thresholds::default());
        assert_eq!(find(&v, "client_connections").limit, Some(10.0));
    }

    #[test]
    fn a_threshold_above_the_filesystem_size_is_full() {
        let mut m = postfix();
        m.limits
            .insert("queue_space_threshold".into(), Some(2_000_000_000));
        let v = items(&snap(m), &Thresholds::default());
        let d = find(&v, "queue_disk");
        assert!(d.used.unwrap_or(0.0) / d.limit.unwrap_or(f64::MAX) >= 1.0);
    }

    #[test]
    fn an_oldest_message_budget_replaces_the_queue_lifetime() {
        let mut m = postfix();
        if let Some(q) = m.queue.as_mut() {
            q.oldest_age_s = Some(3.0 * 3600.0);
        }
        let t = Thresholds {
            oldest_message_budget_hours: Some(4.0),
            ..Thresholds::default()
        };
        let v = items(&snap(m), &t);
        let i = v
            .iter()
            .find(|i| i.id == "oldest_message")
            .expect("oldest_message");
        assert_eq!(i.limit, Some(4.0 * 3600.0));
        assert!(
            i.detail.contains("oldest_message_budget_hours"),
            "{}",
            i.detail
        );
    }
}

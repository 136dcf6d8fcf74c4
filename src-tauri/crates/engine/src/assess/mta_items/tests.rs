use super::*;
use crate::config::Thresholds;
use crate::mta::{MtaKind, QueueCounts, QueueFs, QueueSpaceLimit};

fn queue_space(bytes: Option<u64>) -> Option<QueueSpaceLimit> {
    Some(QueueSpaceLimit {
        bytes,
        parameters: vec!["queue_minfree".into(), "message_size_limit".into()],
        rule: "max(queue_minfree, 1.5 × message_size_limit)".into(),
    })
}

fn postfix() -> MtaSample {
    let mut m = MtaSample {
        kind: MtaKind::Postfix,
        queue_space: queue_space(Some(15_360_000)),
        active_limit: Some(Limit::new(Some(20000), "qmgr_message_active_limit")),
        queue_lifetime: Some(Limit::new(Some(432_000), "maximal_queue_lifetime")),
        ..Default::default()
    };
    m.services.push(ServiceSample {
        name: "smtp".into(),
        command: "smtpd".into(),
        process_limit: Limit::new(Some(10), "maxproc in master.cf"),
        per_client_limit: Some(Limit::new(Some(4), "smtpd_client_connection_count_limit")),
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
        method: CountMethod::Directory,
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
    m.state = MtaState::Down {
        reason: "no Postfix master process".into(),
    };
    let v = items(&snap(m), &Thresholds::default());
    let p = find(&v, "smtpd_processes");
    assert_eq!((p.used, p.limit), (None, Some(10.0)));
    assert!(p.detail.starts_with("mail system is down"));
}

#[test]
fn an_unreadable_limit_is_unknown_not_invented() {
    let mut m = postfix();
    m.queue_space = queue_space(None);
    m.services[0].process_limit = Limit::new(None, "unreadable maxproc \"x\"");
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
    m.services[0].per_client_limit =
        Some(Limit::new(Some(0), "smtpd_client_connection_count_limit"));
    let v = items(&snap(m), &Thresholds::default());
    assert_eq!(find(&v, "client_connections").limit, Some(10.0));
}

#[test]
fn a_threshold_above_the_filesystem_size_is_full() {
    let mut m = postfix();
    m.queue_space = queue_space(Some(2_000_000_000));
    let v = items(&snap(m), &Thresholds::default());
    let d = find(&v, "queue_disk");
    assert!(d.used.unwrap_or(0.0) / d.limit.unwrap_or(f64::MAX) >= 1.0);
}

#[test]
fn exim_and_postfix_per_client_limits_are_the_same_kind_of_fact() {
    let mut m = postfix();
    m.kind = MtaKind::Exim;
    m.services[0].per_client_limit = Some(Limit::new(Some(3), "smtp_accept_max_per_host"));
    let v = items(&snap(m), &Thresholds::default());
    let c = find(&v, "client_connections");
    assert_eq!(c.limit, Some(3.0));
    assert!(
        c.detail.contains("smtp_accept_max_per_host"),
        "{}",
        c.detail
    );
}

#[test]
fn a_service_without_a_per_client_limit_has_no_client_item() {
    let mut m = postfix();
    m.services[0].per_client_limit = None;
    let v = items(&snap(m), &Thresholds::default());
    assert!(v.iter().all(|i| i.id != "client_connections"));
}

#[test]
fn a_queue_that_cannot_be_counted_says_why() {
    let mut m = postfix();
    m.queue = None;
    m.queue_problem = Some("cannot count /var/spool/postfix/deferred".into());
    let v = items(&snap(m), &Thresholds::default());
    assert!(find(&v, "deferred_queue").detail.contains("cannot count"));
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

use super::*;
use crate::snapshot::{HostSample, MemorySample, SourceProblem};

fn snap(ts: f64, cpu: f64, mem_used: u64) -> Snapshot {
    Snapshot {
        ts,
        mta: None,
        probes: Vec::new(),
        throttling: None,
        domain: None,
        host: Some(HostSample {
            cpu_percent: Some(cpu),
            cores: 4,
            load: Some([1.0, 1.0, 1.0]),
            memory: Some(MemorySample {
                total_bytes: 1000,
                used_bytes: mem_used,
                swap_total_bytes: 0,
                swap_used_bytes: 0,
            }),
            filesystems: vec![],
            disks: vec![],
        }),
        problems: vec![],
    }
}

fn item<'a>(a: &'a Assessment, id: &str) -> &'a Item {
    a.items
        .iter()
        .find(|i| i.id == id)
        .unwrap_or_else(|| panic!("no item {id}"))
}

#[test]
fn first_tick_reports_every_item_once_as_a_transition() {
    let mut a = Assessor::new();
    let (asmt, tr) = a.assess(&snap(100.0, 10.0, 100), &Thresholds::default());
    assert_eq!(asmt.status, Level::Ok);
    let ids: Vec<_> = tr.iter().map(|t| t.item.as_str()).collect();
    assert_eq!(ids, ["cpu", "memory", "load"], "no swap item without swap");
    assert!(tr.iter().all(|t| t.previous.is_none()));
    let (_, tr) = a.assess(&snap(105.0, 12.0, 100), &Thresholds::default());
    assert!(tr.is_empty());
}

#[test]
fn cpu_override_at_zero_warns_once_and_stays() {
    let mut t = Thresholds::default();
    t.items.insert(
        crate::item::ItemId::Cpu,
        crate::config::ItemThresholds {
            warn_ratio: Some(0.0),
            crit_ratio: Some(2.0),
        },
    );
    let mut a = Assessor::new();
    let mut warnings = 0;
    for i in 0..100 {
        let (asmt, tr) = a.assess(&snap(i as f64, (i * 7 % 100) as f64, 100), &t);
        assert_eq!(item(&asmt, "cpu").level, Level::Warning);
        warnings += tr
            .iter()
            .filter(|t| t.item == "cpu" && t.is_upward())
            .count();
    }
    assert_eq!(warnings, 1);
}

#[test]
fn memory_ramp_is_watched_before_it_warns() {
    let mut a = Assessor::new();
    let t = Thresholds::default();
    let mut first_watch = None;
    let mut first_warning = None;
    // +2 per 5 s from 300 of 1000: warning (800) at t = 1250 s.
    for i in 0..300 {
        let ts = i as f64 * 5.0;
        let (asmt, _) = a.assess(&snap(ts, 5.0, 300 + 2 * i as u64), &t);
        let l = item(&asmt, "memory").level;
        if l == Level::Watch && first_watch.is_none() {
            first_watch = Some(ts);
        }
        if l == Level::Warning && first_warning.is_none() {
            first_warning = Some(ts);
        }
    }
    let (w, warn) = (first_watch.expect("watch"), first_warning.expect("warning"));
    assert!(w < warn, "watch {w} before warning {warn}");
    // Horizon 30 min, 350 s to the limit from the start: watch as soon as the trend is known.
    assert!(w <= 60.0, "watch at {w}");
    assert_eq!(warn, 1250.0);
}

#[test]
fn a_failed_source_makes_its_items_unknown_with_the_reason() {
    let mut a = Assessor::new();
    let s = Snapshot {
        ts: 1.0,
        host: None,
        mta: None,
        probes: Vec::new(),
        throttling: None,
        domain: None,
        problems: vec![SourceProblem {
            source: "host".into(),
            message: "sampling timed out after 4 s".into(),
            kind: Default::default(),
        }],
    };
    let (asmt, tr) = a.assess(&s, &Thresholds::default());
    assert_eq!(asmt.status, Level::Unknown);
    let cpu = item(&asmt, "cpu");
    assert_eq!(cpu.level, Level::Unknown);
    assert!(cpu.detail.contains("timed out"));
    assert!(tr[0].message.contains("cannot be read"));
}

#[test]
fn a_clock_jump_does_not_invent_a_forecast() {
    let mut a = Assessor::new();
    let t = Thresholds::default();
    for i in 0..20 {
        a.assess(&snap(1000.0 + i as f64 * 5.0, 5.0, 300), &t);
    }
    // The clock jumps back an hour and memory reads a little higher: without the reset
    // this would look like a steep rise.
    for i in 0..4 {
        let (asmt, _) = a.assess(&snap(-2600.0 + i as f64 * 5.0, 5.0, 310), &t);
        assert_eq!(item(&asmt, "memory").forecast_s, None);
        assert_eq!(item(&asmt, "memory").level, Level::Ok);
    }
}

#[test]
fn summary_names_the_worst_item() {
    let mut a = Assessor::new();
    let (asmt, _) = a.assess(&snap(1.0, 97.0, 100), &Thresholds::default());
    // The CPU is context (nothing refuses mail for it): warning, not critical.
    assert_eq!(asmt.status, Level::Warning);
    assert!(
        asmt.summary().starts_with("warning: CPU 97%/100%"),
        "{}",
        asmt.summary()
    );
    assert!(
        asmt.summary().contains("never critical on its own"),
        "{}",
        asmt.summary()
    );
}

#[test]
fn a_short_cpu_burst_does_not_raise_the_level_but_a_sustained_one_does() {
    let mut a = Assessor::new();
    let t = Thresholds::default();
    // 50 s at 10%, then 10 s pinned at 100%: the 1-minute mean stays near 25%.
    for i in 0..60 {
        let cpu = if i < 50 { 10.0 } else { 100.0 };
        let (asmt, _) = a.assess(&snap(i as f64, cpu, 100), &t);
        assert_eq!(item(&asmt, "cpu").level, Level::Ok, "at {i} s");
    }
    // Pinned for a whole minute: warning (the CPU is context, never critical on its
    // own), with the raw figure in the detail.
    let mut last = None;
    for i in 60..125 {
        last = Some(a.assess(&snap(i as f64, 100.0, 100), &t).0);
    }
    let asmt = last.expect("assessed");
    let cpu = item(&asmt, "cpu");
    assert_eq!(cpu.level, Level::Warning);
    assert!(cpu.detail.contains("now 100%"), "{}", cpu.detail);
}

/// A running Postfix with `processes` of 20 smtpd processes busy.
fn postfix_snap(ts: f64, processes: u64) -> Snapshot {
    use crate::mta::{
        CountMethod, Limit, MtaKind, MtaSample, QueueCounts, QueueFs, QueueSpaceLimit,
        ServiceSample,
    };
    let mut m = MtaSample {
        kind: MtaKind::Postfix,
        queue_space: Some(QueueSpaceLimit {
            bytes: Some(15_360_000),
            parameters: vec!["queue_minfree".into(), "message_size_limit".into()],
            rule: "max(queue_minfree, 1.5 × message_size_limit)".into(),
        }),
        active_limit: Some(Limit::new(Some(20000), "qmgr_message_active_limit")),
        ..Default::default()
    };
    m.services.push(ServiceSample {
        name: "smtp".into(),
        command: "smtpd".into(),
        process_limit: Limit::new(Some(20), "maxproc in master.cf"),
        processes,
        listening: true,
        ..Default::default()
    });
    m.queue = Some(QueueCounts {
        active: Some(0),
        deferred: Some(0),
        method: CountMethod::Directory,
        ..Default::default()
    });
    m.queue_fs = Some(QueueFs {
        path: "/var/spool/postfix".into(),
        total_bytes: 1_000_000_000,
        free_bytes: 600_000_000,
        total_inodes: 10_000,
        free_inodes: 9_000,
    });
    Snapshot {
        ts,
        mta: Some(m),
        ..snap(ts, 5.0, 100)
    }
}

#[test]
fn a_mail_server_that_cannot_be_read_turns_every_mail_item_unknown_with_the_reason() {
    let mut a = Assessor::new();
    let t = Thresholds::default();
    let (asmt, _) = a.assess(&postfix_snap(0.0, 3), &t);
    let mail: Vec<crate::item::ItemId> = asmt
        .items
        .iter()
        .filter(|i| i.id.info().source == crate::item::Source::Mta)
        .map(|i| i.id)
        .collect();
    assert!(mail.len() >= 5, "{mail:?}");
    let failed = Snapshot {
        mta: None,
        problems: vec![SourceProblem {
            source: "mta".into(),
            message: "mail server sampling took longer than 4.0 s".into(),
            kind: Default::default(),
        }],
        ..postfix_snap(5.0, 3)
    };
    let (asmt, tr) = a.assess(&failed, &t);
    for id in &mail {
        let i = item(&asmt, id.as_str());
        assert_eq!(i.level, Level::Unknown, "{id}");
        assert!(i.detail.contains("longer than 4.0 s"), "{id}: {}", i.detail);
        let t = tr.iter().find(|t| t.item == *id).expect("a transition");
        assert!(!t.is_upward() && !t.is_recovery(), "unknown is neither");
    }
    // Unknown, not ok and not critical; host items keep their own level.
    assert_eq!(asmt.status, Level::Unknown);
    assert_eq!(item(&asmt, "memory").level, Level::Ok);
    // Readable again: back to real levels at once.
    let (asmt, _) = a.assess(&postfix_snap(10.0, 3), &t);
    assert!(mail
        .iter()
        .all(|id| item(&asmt, id.as_str()).level == Level::Ok));
}

#[test]
fn a_clock_jump_forward_does_not_turn_the_gap_into_a_trend() {
    let mut a = Assessor::new();
    let t = Thresholds::default();
    for i in 0..30 {
        a.assess(&postfix_snap(1000.0 + i as f64, 4), &t);
    }
    // Suspended for two hours; the server is busier when the machine wakes up.
    for i in 0..30 {
        let (asmt, tr) = a.assess(&postfix_snap(8200.0 + i as f64, 12), &t);
        let p = item(&asmt, "smtpd_processes");
        assert_eq!(p.forecast_s, None, "at +{i} s");
        assert_eq!(p.level, Level::Ok);
        assert!(tr.iter().all(|t| !t.is_upward()), "{tr:?}");
    }
}

#[test]
fn a_connection_ramp_is_watched_early_and_warned_at_the_ratio() {
    let mut a = Assessor::new();
    let t = Thresholds::default();
    let (mut watch, mut warn) = (None, None);
    // One more session every 3 s against maxproc 20, sampled every second: the 21st
    // session (t = 60 s) would get no banner.
    for s in 0..60 {
        let (asmt, _) = a.assess(&postfix_snap(s as f64, s / 3), &t);
        match item(&asmt, "smtpd_processes").level {
            Level::Watch if watch.is_none() => watch = Some(s),
            Level::Warning | Level::Critical if warn.is_none() => warn = Some(s),
            _ => {}
        }
    }
    let (watch, warn) = (watch.expect("watch"), warn.expect("warning"));
    assert!(
        watch <= 25,
        "watch at {watch} s, as soon as the trend is known"
    );
    assert_eq!(warn, 48, "16/20 = the warning ratio");
    assert!(60 - watch >= 15, "lead {} s of a 60 s ramp", 60 - watch);
}

#[test]
fn steady_churn_around_half_the_limit_never_leaves_ok() {
    let mut a = Assessor::new();
    let t = Thresholds::default();
    // Ten sessions give or take three, for half an hour.
    let pattern = [10, 11, 9, 12, 10, 8, 13, 10, 9, 11, 7, 10];
    for s in 0..1800u64 {
        let (asmt, tr) = a.assess(&postfix_snap(s as f64, pattern[(s % 12) as usize]), &t);
        assert!(tr.iter().all(|t| !t.is_upward()), "at {s} s: {tr:?}");
        assert_eq!(item(&asmt, "smtpd_processes").level, Level::Ok);
    }
}

#[test]
fn a_dip_shorter_than_the_dwell_keeps_the_warning_and_a_long_one_clears_it() {
    let mut a = Assessor::new();
    let t = Thresholds::default();
    let mut changes = Vec::new();
    // 17/20 (warning), 13/20 for 40 s (below the leave point, shorter than the 60 s
    // dwell), 17 again, then 8/20 for two minutes.
    let series = (0..30)
        .map(|_| 17)
        .chain((0..40).map(|_| 13))
        .chain((0..30).map(|_| 17))
        .chain((0..120).map(|_| 8));
    for (s, n) in series.enumerate() {
        let (_, tr) = a.assess(&postfix_snap(s as f64, n), &t);
        changes.extend(
            tr.into_iter()
                .filter(|t| t.item == "smtpd_processes")
                .map(|t| (s, t.level)),
        );
    }
    assert_eq!(
        changes,
        [(0, Level::Warning), (160, Level::Ok)],
        "one warning, one recovery after 60 s below the leave point"
    );
}

#[test]
fn a_probe_answering_421_is_critical_at_the_next_tick() {
    use crate::classify::{Class, Reply};
    use crate::probe::{Outcome, Phase, ProbeResult, ProbeStatus, Timings};
    let probe = |ok: bool, fails: u32| ProbeStatus {
        name: "mx".into(),
        latest: ProbeResult {
            target: "127.0.0.1:2525".into(),
            outcome: if ok { Outcome::Ok } else { Outcome::Tempfail },
            phase: if ok { Phase::Quit } else { Phase::Banner },
            reply: Some(if ok {
                Reply {
                    code: 221,
                    enhanced: Some("2.0.0".into()),
                    text: "Bye".into(),
                }
            } else {
                Reply {
                    code: 421,
                    enhanced: Some("4.3.2".into()),
                    text: "Service shutting down".into(),
                }
            }),
            class: if ok {
                Class::Ok
            } else {
                Class::ResourceShortage
            },
            timings_ms: Timings::default(),
            total_ms: 2.0,
            name: "mx".into(),
            ts: 0.0,
            detail: None,
        },
        consecutive_failures: fails,
        last_ok_ts: None,
    };
    let mut a = Assessor::new();
    let t = Thresholds::default();
    let s = |ts, p| Snapshot {
        probes: vec![p],
        ..snap(ts, 5.0, 100)
    };
    let (asmt, _) = a.assess(&s(0.0, probe(true, 0)), &t);
    assert_eq!(item(&asmt, "probe_failures").level, Level::Ok);
    let (asmt, tr) = a.assess(&s(1.0, probe(false, 1)), &t);
    assert_eq!(item(&asmt, "probe_failures").level, Level::Critical);
    let t = tr
        .iter()
        .find(|t| t.item == "probe_failures")
        .expect("transition");
    assert!(t.is_upward());
    assert!(t.message.contains("421 4.3.2"), "{}", t.message);
}

#[test]
fn a_limit_that_shrinks_toward_the_use_is_forecast_like_a_rising_use() {
    let mut a = Assessor::new();
    let t = Thresholds::default();
    let mut watch = None;
    // 400 MB used of 1 GB; queue_minfree raised by 5 MB a second: the room (600 MB −
    // threshold) runs out after about 117 s.
    for s in 0..120 {
        let mut snap = postfix_snap(s as f64, 2);
        if let Some(q) = snap.mta.as_mut().and_then(|m| m.queue_space.as_mut()) {
            q.bytes = Some(15_360_000 + 5_000_000 * s);
        }
        let (asmt, _) = a.assess(&snap, &t);
        let d = item(&asmt, "queue_disk");
        if d.level == Level::Watch && watch.is_none() {
            watch = Some(s);
            let f = d.forecast_s.expect("forecast");
            let truth = (600e6 - 15.36e6) / 5e6 - s as f64;
            assert!((f - truth).abs() < 10.0, "forecast {f} s, truth {truth} s");
        }
    }
    assert!(watch.expect("watch") <= 25);
}

#[test]
fn a_missed_reading_is_a_gap_that_keeps_the_trend() {
    let mut a = Assessor::new();
    let t = Thresholds::default();
    let mut forecasts = 0;
    // The ramp of a_connection_ramp_is_watched_early…, with every fourth reading lost
    // (the source took longer than its budget).
    for s in 0..60u64 {
        let snap = if s % 4 == 3 {
            Snapshot {
                mta: None,
                problems: vec![SourceProblem {
                    source: "mta".into(),
                    message: "mail server sampling took longer than 0.8 s".into(),
                    kind: Default::default(),
                }],
                ..postfix_snap(s as f64, s / 3)
            }
        } else {
            postfix_snap(s as f64, s / 3)
        };
        let (asmt, _) = a.assess(&snap, &t);
        if item(&asmt, "smtpd_processes").forecast_s.is_some() {
            forecasts += 1;
        }
    }
    assert!(forecasts >= 20, "{forecasts} ticks with a forecast");
}

#[test]
fn a_stopped_mail_server_is_told_to_start_not_to_raise_maxproc() {
    let i = Item {
        id: crate::item::ItemId::SmtpdProcesses,
        used: Some(100.0),
        limit: Some(100.0),
        ratio: Some(1.0),
        level: Level::Critical,
        forecast_s: None,
        detail:
            "mail system is down: no Postfix master process for queue_directory /var/spool/postfix"
                .into(),
    };
    let m = super::transition_message(&i, Some(Level::Ok));
    assert!(m.contains("start the mail server"), "{m}");
    assert!(!m.contains("raise maxproc"), "{m}");
    let busy = Item {
        detail: "service smtp".into(),
        ..i
    };
    assert!(super::transition_message(&busy, Some(Level::Ok)).contains("raise maxproc"));
}

#[test]
fn load_is_critical_only_against_the_servers_own_refusal_point() {
    let t = Thresholds::default();
    // 1.96 on 2 cores on a Postfix host: Postfix refuses nothing on load.
    let mut s = postfix_snap(1.0, 3);
    if let Some(h) = s.host.as_mut() {
        h.load = Some([1.96, 1.9, 1.8]);
        h.cores = 2;
    }
    let (asmt, _) = Assessor::new().assess(&s, &t);
    let load = item(&asmt, "load");
    assert_eq!(load.level, Level::Warning, "{}", load.detail);
    assert!(load.detail.contains("context"), "{}", load.detail);
    // Exim refusing at smtp_load_reserve 2: at the refusal point it is critical.
    if let Some(m) = s.mta.as_mut() {
        m.refuse_load = Some((2.0, "smtp_load_reserve".into()));
    }
    let (asmt, _) = Assessor::new().assess(&s, &t);
    assert_eq!(item(&asmt, "load").level, Level::Critical);
}

#[test]
fn a_stopped_mail_server_is_critical_with_no_made_up_use() {
    let mut s = postfix_snap(1.0, 0);
    if let Some(m) = s.mta.as_mut() {
        m.state = crate::mta::MtaState::Down {
            reason: "no Postfix master process".into(),
        };
    }
    let (asmt, tr) = Assessor::new().assess(&s, &Thresholds::default());
    let p = item(&asmt, "smtpd_processes");
    assert_eq!(p.level, Level::Critical);
    assert_eq!((p.used, p.limit, p.ratio), (None, Some(20.0), None));
    assert!(p.detail.contains("mail system is down"), "{}", p.detail);
    let t = tr
        .iter()
        .find(|t| t.item == "smtpd_processes")
        .expect("a transition");
    assert!(t.message.contains("start the mail server"), "{}", t.message);
}

use super::*;
use crate::snapshot::{HostSample, MemorySample, SourceProblem};

fn snap(ts: f64, cpu: f64, mem_used: u64) -> Snapshot {
    Snapshot {
        ts,
        mta: None,
        probes: Vec::new(),
        throttling: None,
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
        "cpu".into(),
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
        problems: vec![SourceProblem {
            source: "host".into(),
            message: "sampling timed out after 4 s".into(),
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
    assert_eq!(asmt.status, Level::Critical);
    assert!(
        asmt.summary().starts_with("critical: CPU 97%/100%"),
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
    // Pinned for a whole minute: critical, with the raw figure in the detail.
    let mut last = None;
    for i in 60..125 {
        last = Some(a.assess(&snap(i as f64, 100.0, 100), &t).0);
    }
    let asmt = last.expect("assessed");
    let cpu = item(&asmt, "cpu");
    assert_eq!(cpu.level, Level::Critical);
    assert!(cpu.detail.contains("now 100%"), "{}", cpu.detail);
}

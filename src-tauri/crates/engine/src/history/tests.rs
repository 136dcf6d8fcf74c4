//! The SQLite history with synthetic time: roll-ups and retention exact to the sample,
//! ranges at each resolution, the logs, CSV, a damaged file, a full disk.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use super::*;
use crate::assess::{Level, Transition};
use crate::classify::{Class, Reply};
use crate::config::HistoryConfig;
use crate::probe::{Outcome, Phase, ProbeResult, ProbeStatus, Timings};
use crate::tick::Tick;

/// A day boundary, so minutes and hours line up with the tick index.
const T0: f64 = 1_699_920_000.0;

fn tick(ts: f64, values: &[(&str, Option<f64>)]) -> Tick {
    Tick::of_samples(ts, values.iter().map(|(k, v)| (k.to_string(), *v)))
}

fn open(dir: &Path, retention: Retention) -> Store {
    Store::open(&dir.join("history.sqlite3"), retention)
        .unwrap()
        .store
}

fn transition(ts: f64, item: &str, level: Level, previous: Option<Level>) -> Transition {
    Transition {
        ts,
        item: crate::item::ItemId::parse(item).expect("a known item id"),
        level,
        previous,
        used: Some(88.0),
        limit: Some(100.0),
        ratio: Some(0.88),
        forecast_s: Some(360.0),
        message: format!("{item} is {level}"),
    }
}

fn probe(name: &str, ts: f64, outcome: Outcome, code: u16) -> ProbeResult {
    let mut timings = Timings::default();
    timings.add(Phase::Connect, 0.3);
    timings.add(Phase::Banner, 1.25);
    ProbeResult {
        target: "127.0.0.1:25".into(),
        outcome,
        phase: Phase::Mail,
        reply: Some(Reply {
            code,
            enhanced: Some("4.3.1".into()),
            text: "Insufficient system storage".into(),
        }),
        class: Class::ResourceShortage,
        timings_ms: timings,
        total_ms: 1.55,
        name: name.into(),
        ts,
        detail: None,
    }
}

/// Three days at 10 s: `a` is the tick index, `b` the same with every third reading a
/// gap. Every minute and hour roll-up is checked against the numbers it must hold.
#[test]
fn three_days_at_10s_roll_up_exactly_and_raw_is_pruned_after_24h() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path(), Retention::default());
    let n = 3 * 8640;
    for i in 0..=n {
        let v = i as f64;
        let b = (i % 3 != 0).then_some(v);
        store
            .write_tick(&tick(T0 + 10.0 * v, &[("a", Some(v)), ("b", b)]))
            .unwrap();
    }
    let now = T0 + 10.0 * n as f64;

    let minutes = store.rollups(Resolution::Minute, T0, now, "a").unwrap();
    assert_eq!(minutes.len(), 3 * 1440);
    for (k, m) in minutes.iter().enumerate() {
        let first = 6.0 * k as f64;
        assert_eq!(m.start, T0 as i64 + 60 * k as i64);
        assert_eq!(
            (m.min, m.max, m.avg, m.count),
            (first, first + 5.0, first + 2.5, 6)
        );
    }
    let minutes_b = store.rollups(Resolution::Minute, T0, now, "b").unwrap();
    for (k, m) in minutes_b.iter().enumerate() {
        // 6k and 6k+3 are gaps: 6k+1, 6k+2, 6k+4, 6k+5 remain.
        let first = 6.0 * k as f64;
        assert_eq!(
            (m.min, m.max, m.avg, m.count),
            (first + 1.0, first + 5.0, first + 3.0, 4)
        );
    }
    let hours = store.rollups(Resolution::Hour, T0, now, "a").unwrap();
    assert_eq!(hours.len(), 72);
    for (h, r) in hours.iter().enumerate() {
        let first = 360.0 * h as f64;
        assert_eq!(r.start, T0 as i64 + 3600 * h as i64);
        assert_eq!(
            (r.min, r.max, r.avg, r.count),
            (first, first + 359.0, first + 179.5, 360)
        );
    }
    let hours_b = store.rollups(Resolution::Hour, T0, now, "b").unwrap();
    assert!(hours_b.iter().all(|r| r.count == 240), "{:?}", hours_b[0]);

    // Raw samples: only the last 24 h remain.
    let raw = store.range_at(Resolution::Raw, T0, now, &["a"]).unwrap();
    assert_eq!(raw.ts.first().copied(), Some(now - 86400.0));
    assert_eq!(raw.ts.len(), 8641);
    // The chart over the three days reads the minute averages.
    let chart = store.range(T0, now, &["a", "b"]).unwrap();
    assert_eq!(chart.ts.len(), 3 * 1440 + 1);
    assert_eq!(chart.series["a"][0], Some(2.5));
    assert_eq!(chart.series["b"][0], Some(3.0));
    assert_eq!(chart.series["a"][1439], Some(6.0 * 1439.0 + 2.5));
    // The minute in progress holds the last tick only.
    assert_eq!(chart.series["a"].last(), Some(&Some(n as f64)));
}

#[test]
fn retention_prunes_each_resolution_and_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    let retention = Retention {
        raw_s: 3600.0,
        minute_s: 86400.0,
        hour_s: 2.0 * 86400.0,
    };
    let mut store = open(dir.path(), retention);
    let mut t0 = tick(T0, &[("a", Some(1.0))]);
    t0.transitions
        .push(transition(T0, "cpu", Level::Warning, None));
    t0.snapshot
        .probes
        .push(status(probe("local", T0, Outcome::Ok, 250)));
    store.write_tick(&t0).unwrap();
    store
        .record_snooze(T0, Some(T0 + 3600.0), "snoozed")
        .unwrap();
    let end = T0 + 3.0 * 86400.0;
    let mut t = T0 + 60.0;
    while t <= end {
        store.write_tick(&tick(t, &[("a", Some(1.0))])).unwrap();
        t += 60.0;
    }
    let raw = store.range_at(Resolution::Raw, T0, end, &["a"]).unwrap();
    assert!(raw.ts[0] >= end - 3600.0, "{}", raw.ts[0] - T0);
    let minutes = store.rollups(Resolution::Minute, T0, end, "a").unwrap();
    assert!(minutes[0].start as f64 >= end - 86400.0);
    let hours = store.rollups(Resolution::Hour, T0, end, "a").unwrap();
    assert!(hours[0].start as f64 >= end - 2.0 * 86400.0);
    assert_eq!(hours.len(), 48);
    assert!(store.alerts(0.0, end, 100).unwrap().is_empty());
    assert!(store.probe_results(0.0, end, 100).unwrap().is_empty());
}

#[test]
fn pruning_runs_at_most_once_a_minute_of_tick_time() {
    let dir = tempfile::tempdir().unwrap();
    let retention = Retention {
        raw_s: 3600.0,
        ..Retention::default()
    };
    let mut store = open(dir.path(), retention);
    store.write_tick(&tick(T0, &[("a", Some(1.0))])).unwrap();
    store
        .write_tick(&tick(T0 + 3590.0, &[("a", Some(2.0))]))
        .unwrap(); // prunes
                   // 30 s later T0 is past retention, but the last prune was less than a minute ago.
    store
        .write_tick(&tick(T0 + 3620.0, &[("a", Some(3.0))]))
        .unwrap();
    let raw = |s: &Store| {
        s.range_at(Resolution::Raw, 0.0, T0 + 1e5, &["a"])
            .unwrap()
            .ts
    };
    assert_eq!(raw(&store).len(), 3);
    store
        .write_tick(&tick(T0 + 3650.0, &[("a", Some(4.0))]))
        .unwrap();
    assert_eq!(raw(&store)[0], T0 + 3590.0);
}

#[test]
fn range_picks_the_resolution_by_span_and_draws_gaps() {
    assert_eq!(Resolution::for_span(900.0), Resolution::Raw);
    assert_eq!(Resolution::for_span(3600.0), Resolution::Raw);
    assert_eq!(Resolution::for_span(86400.0), Resolution::Minute);
    assert_eq!(Resolution::for_span(7.0 * 86400.0), Resolution::Minute);
    assert_eq!(Resolution::for_span(30.0 * 86400.0), Resolution::Hour);

    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path(), Retention::default());
    // Two hours of 30 s samples, then an hour of silence (Headroom was off), then one.
    for i in 0..240 {
        let t = T0 + 30.0 * i as f64;
        store.write_tick(&tick(t, &[("a", Some(10.0))])).unwrap();
    }
    store
        .write_tick(&tick(T0 + 3.0 * 3600.0 + 30.0, &[("a", Some(20.0))]))
        .unwrap();

    // 1 h: raw, one point per tick.
    let raw = store.range(T0, T0 + 3600.0, &["a"]).unwrap();
    assert_eq!(raw.ts.len(), 121);
    // 24 h: one point per minute, a regular grid with gaps where nothing was recorded.
    let day = store.range(T0, T0 + 86400.0, &["a"]).unwrap();
    assert_eq!(day.ts.len(), 1441);
    assert!(day.ts.windows(2).all(|w| w[1] - w[0] == 60.0));
    assert_eq!(day.series["a"][0], Some(10.0));
    assert_eq!(day.series["a"][150], None, "the silent hour is a gap");
    assert_eq!(day.series["a"][180], Some(20.0), "the minute in progress");
    assert_eq!(day.series["a"][200], None);
    // 30 d: hours; the hour in progress is averaged from minutes and raw samples.
    let month = store.range(T0, T0 + 30.0 * 86400.0, &["a"]).unwrap();
    assert_eq!(month.ts.len(), 30 * 24 + 1);
    assert_eq!(
        &month.series["a"][..4],
        &[Some(10.0), Some(10.0), None, Some(20.0)]
    );
    // A name the history has never seen is all gaps, not an error.
    let unknown = store.range(T0, T0 + 3600.0, &["nope"]).unwrap();
    assert!(unknown.series["nope"].iter().all(Option::is_none));
}

#[test]
fn a_missing_reading_is_stored_as_a_gap() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path(), Retention::default());
    store
        .write_tick(&tick(T0, &[("a", Some(1.0)), ("b", Some(5.0))]))
        .unwrap();
    store
        .write_tick(&tick(T0 + 5.0, &[("a", None), ("b", Some(6.0))]))
        .unwrap();
    store
        .write_tick(&tick(T0 + 10.0, &[("b", Some(7.0))]))
        .unwrap();
    let r = store.range(T0, T0 + 10.0, &["a", "b"]).unwrap();
    assert_eq!(r.ts, [T0, T0 + 5.0, T0 + 10.0]);
    assert_eq!(r.series["a"], [Some(1.0), None, None]);
    assert_eq!(r.series["b"], [Some(5.0), Some(6.0), Some(7.0)]);
}

#[test]
fn roll_up_progress_survives_a_reopen_without_double_counting() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path(), Retention::default());
    for i in 0..100 {
        store
            .write_tick(&tick(T0 + 10.0 * i as f64, &[("a", Some(1.0))]))
            .unwrap();
    }
    drop(store);
    let mut store = open(dir.path(), Retention::default());
    for i in 100..=720 {
        store
            .write_tick(&tick(T0 + 10.0 * i as f64, &[("a", Some(1.0))]))
            .unwrap();
    }
    let minutes = store
        .rollups(Resolution::Minute, T0, T0 + 7200.0, "a")
        .unwrap();
    assert_eq!(minutes.len(), 120);
    assert!(minutes.iter().all(|m| m.count == 6));
    let hours = store
        .rollups(Resolution::Hour, T0, T0 + 7200.0, "a")
        .unwrap();
    assert_eq!(
        hours.iter().map(|h| h.count).collect::<Vec<_>>(),
        [360, 360]
    );
}

#[test]
fn a_clock_set_back_is_survived() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path(), Retention::default());
    for i in 0..20 {
        store
            .write_tick(&tick(T0 + 10.0 * i as f64, &[("a", Some(1.0))]))
            .unwrap();
    }
    store
        .write_tick(&tick(T0 - 600.0, &[("a", Some(2.0))]))
        .unwrap();
    store
        .write_tick(&tick(T0 - 500.0, &[("a", Some(2.0))]))
        .unwrap();
    let minutes = store
        .rollups(Resolution::Minute, T0 - 3600.0, T0 + 3600.0, "a")
        .unwrap();
    assert_eq!(minutes[0].start, T0 as i64 - 600);
    assert_eq!(store.integrity_check().unwrap(), "ok");
}

fn status(latest: ProbeResult) -> ProbeStatus {
    ProbeStatus {
        name: latest.name.clone(),
        latest,
        consecutive_failures: 0,
        last_ok_ts: None,
    }
}

#[test]
fn transitions_and_snoozes_make_the_alert_log_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path(), Retention::default());
    let mut t = tick(T0, &[]);
    t.transitions = vec![
        transition(T0, "cpu", Level::Ok, None),
        transition(T0, "smtpd_processes", Level::Warning, Some(Level::Ok)),
    ];
    store.write_tick(&t).unwrap();
    store
        .record_snooze(T0 + 10.0, Some(T0 + 3610.0), "Alerts snoozed for 1 hour")
        .unwrap();
    store
        .record_snooze(T0 + 20.0, None, "Snooze ended")
        .unwrap();

    let log = store.alerts(T0, T0 + 100.0, 10).unwrap();
    // The CPU's healthy first level is not news: the kept log equals the live one.
    assert_eq!(log.len(), 3);
    assert_eq!(log[0].kind, AlertKind::Snooze);
    assert_eq!(log[0].until, None);
    assert_eq!(log[1].until, Some(T0 + 3610.0));
    assert_eq!(log[1].message, "Alerts snoozed for 1 hour");
    let w = &log[2];
    assert_eq!(w.kind, AlertKind::Transition);
    assert_eq!(w.item.as_deref(), Some("smtpd_processes"));
    assert_eq!(
        (w.level, w.previous),
        (Some(Level::Warning), Some(Level::Ok))
    );
    assert_eq!(
        (w.used, w.limit, w.ratio),
        (Some(88.0), Some(100.0), Some(0.88))
    );
    assert_eq!(w.forecast_s, Some(360.0));
    assert_eq!(store.alerts(T0, T0 + 100.0, 1).unwrap().len(), 1);
    assert_eq!(store.alerts(T0 + 5.0, T0 + 15.0, 10).unwrap().len(), 1);
}

#[test]
fn probe_results_are_stored_once_and_read_back_whole() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path(), Retention::default());
    let first = probe("local", T0, Outcome::Tempfail, 452);
    let mut second = probe("local", T0 + 60.0, Outcome::Ok, 250);
    second.reply = None;
    second.detail = Some("a detail".into());
    // The snapshot repeats a target's latest result every tick until the next probe.
    for (i, latest) in [&first, &first, &first, &second, &second]
        .iter()
        .enumerate()
    {
        let mut t = tick(T0 + 30.0 * i as f64, &[]);
        t.snapshot.probes.push(status((*latest).clone()));
        store.write_tick(&t).unwrap();
    }
    drop(store);
    // A restart repeats the latest result once more: still stored once.
    let mut store = open(dir.path(), Retention::default());
    let mut t = tick(T0 + 200.0, &[]);
    t.snapshot.probes.push(status(second.clone()));
    store.write_tick(&t).unwrap();

    let log = store.probe_results(0.0, T0 + 1000.0, 10).unwrap();
    assert_eq!(log, [second, first.clone()]);
    assert_eq!(log[1].timings_ms.get(Phase::Banner), Some(1.25));
    assert_eq!(store.probe_results(0.0, T0 + 1000.0, 1).unwrap().len(), 1);
}

#[test]
fn csv_export_has_a_header_and_empty_cells_for_gaps() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path(), Retention::default());
    store
        .write_tick(&tick(
            T0,
            &[("cpu", Some(12.5)), ("fs:/srv/a,b", Some(1.0))],
        ))
        .unwrap();
    store
        .write_tick(&tick(
            T0 + 5.0,
            &[("cpu", None), ("fs:/srv/a,b", Some(2.0))],
        ))
        .unwrap();
    let mut out = Vec::new();
    store
        .export_csv(T0, T0 + 5.0, &["cpu", "fs:/srv/a,b"], &mut out)
        .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(
        text,
        "ts,cpu,\"fs:/srv/a,b\"\n1699920000,12.5,1\n1699920005,,2\n"
    );
    // No names: every metric with a value in the range.
    let mut out = Vec::new();
    store.export_csv(T0, T0 + 5.0, &[], &mut out).unwrap();
    assert!(String::from_utf8(out).unwrap().starts_with("ts,cpu,"));
}

#[test]
fn garbage_where_the_history_should_be_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.sqlite3");
    let mut store = open(dir.path(), Retention::default());
    store.write_tick(&tick(T0, &[("a", Some(1.0))])).unwrap();
    drop(store);
    // Nothing says this was ever Headroom's: it could be anybody's file.
    std::fs::write(&path, vec![0x5a; 64 * 1024]).unwrap();

    let err = Store::open(&path, Retention::default())
        .err()
        .expect("refused");
    assert!(matches!(err, HistoryError::NotOurs { .. }), "{err}");
    assert!(
        err.to_string().contains("is not an SQLite database"),
        "{err}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), vec![0x5a; 64 * 1024]);
    assert_eq!(aside_files(dir.path()), Vec::<String>::new());
}

/// Files named `*.corrupt-*` in `dir`.
fn aside_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".corrupt-"))
        .collect()
}

#[test]
fn another_programs_sqlite_database_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.db");
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(
            "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);
             INSERT INTO users (name) VALUES ('alice');",
        )
        .unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    let history = History::open(&HistoryConfig {
        path: Some(path.clone()),
        ..HistoryConfig::default()
    });
    let problem = history.status().problem.expect("refused");
    assert!(
        problem.contains("another program's SQLite database (it holds tables users)"),
        "{problem}"
    );
    assert!(problem.contains("untouched"), "{problem}");
    history.record(&tick(T0, &[("a", Some(1.0))]));
    history.record(&tick(T0 + 61.0, &[("a", Some(1.0))])); // the retry refuses again
    assert!(history.status().problem.is_some());
    drop(history);
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "not one byte changed"
    );
    let c = rusqlite::Connection::open(&path).unwrap();
    let tables: Vec<String> = c
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(tables, ["users"]);
    assert!(aside_files(dir.path()).is_empty());

    // Another program's stamped database says whose it is not.
    let other = dir.path().join("stamped.db");
    rusqlite::Connection::open(&other)
        .unwrap()
        .execute_batch("PRAGMA application_id = 1; CREATE TABLE t (x);")
        .unwrap();
    let err = Store::open(&other, Retention::default())
        .err()
        .expect("refused");
    assert!(
        err.to_string().contains("application_id 0x00000001"),
        "{err}"
    );
}

#[test]
fn a_directory_or_a_fifo_is_not_taken_for_a_history() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("a-directory");
    std::fs::create_dir(&sub).unwrap();
    let err = Store::open(&sub, Retention::default())
        .err()
        .expect("refused");
    assert!(err.to_string().contains("it is a directory"), "{err}");
    assert!(sub.is_dir());
    // A FIFO: SQLite would block reading it forever.
    let fifo = dir.path().join("a-fifo");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    let err = Store::open(&fifo, Retention::default())
        .err()
        .expect("refused");
    assert!(err.to_string().contains("it is a FIFO"), "{err}");
}

#[test]
fn a_headroom_file_from_before_the_application_id_is_stamped_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.sqlite3");
    let mut store = open(dir.path(), Retention::default());
    store.write_tick(&tick(T0, &[("a", Some(1.0))])).unwrap();
    drop(store);
    // What Headroom wrote before it stamped its files.
    rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_update(None, "application_id", 0)
        .unwrap();
    let outcome = Store::open(&path, Retention::default()).unwrap();
    assert!(outcome.recovered_from.is_none());
    let r = outcome.store.range(T0, T0 + 1.0, &["a"]).unwrap();
    assert_eq!(r.series["a"], [Some(1.0)]);
    drop(outcome);
    let id: i32 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .unwrap();
    assert_eq!(id, APPLICATION_ID);
    // Our tables plus one more: not recognisably ours any more.
    let c = rusqlite::Connection::open(&path).unwrap();
    c.execute_batch("PRAGMA application_id = 0; CREATE TABLE extra (x);")
        .unwrap();
    drop(c);
    let err = Store::open(&path, Retention::default())
        .err()
        .expect("refused");
    assert!(matches!(err, HistoryError::NotOurs { .. }), "{err}");
}

#[test]
fn an_empty_file_becomes_a_history() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.sqlite3");
    std::fs::write(&path, b"").unwrap();
    let mut store = Store::open(&path, Retention::default()).unwrap().store;
    store.write_tick(&tick(T0, &[("a", Some(1.0))])).unwrap();
}

#[test]
fn the_directory_and_the_files_are_private_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("share").join("headroom");
    let path = data.join("history.sqlite3");
    let mut store = Store::open(&path, Retention::default()).unwrap().store;
    store.write_tick(&tick(T0, &[("a", Some(1.0))])).unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700, "{}", data.display());
    assert_eq!(mode(&dir.path().join("share")), 0o700);
    for suffix in ["", "-wal", "-shm", ".lock"] {
        let p = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
        assert_eq!(mode(&p), 0o600, "{}", p.display());
    }
    // A directory that was already there is the user's choice: left as it was.
    let own = dir.path().join("own");
    std::fs::create_dir(&own).unwrap();
    std::fs::set_permissions(&own, std::fs::Permissions::from_mode(0o750)).unwrap();
    drop(Store::open(&own.join("h.sqlite3"), Retention::default()).unwrap());
    assert_eq!(mode(&own), 0o750);
}

#[test]
fn a_second_writer_runs_without_history_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let config = HistoryConfig {
        path: Some(dir.path().join("history.sqlite3")),
        ..HistoryConfig::default()
    };
    let first = History::open(&config);
    assert_eq!(first.status().problem, None);
    let second = History::open(&config);
    let problem = second.status().problem.expect("the second one is refused");
    assert!(
        problem.contains(&format!(
            "is being written by another Headroom process (pid {}); this one runs without history",
            std::process::id()
        )),
        "{problem}"
    );
    assert!(matches!(
        Store::open(config.path.as_ref().unwrap(), Retention::default()),
        Err(HistoryError::Locked { pid: Some(p), .. }) if p == std::process::id()
    ));
    // The first goes on writing, and its readers (the window) are not affected.
    first.record(&tick(T0, &[("a", Some(1.0))]));
    second.record(&tick(T0, &[("a", Some(2.0))]));
    assert_eq!(first.status().problem, None);
    assert_eq!(
        first.range(T0, T0 + 1.0, &["a"]).unwrap().series["a"],
        [Some(1.0)]
    );
    assert!(second.range(T0, T0 + 1.0, &["a"]).is_err());
    // Once the first one is gone, the second takes over at its next retry.
    drop(first);
    second.record(&tick(T0 + 61.0, &[("a", Some(3.0))]));
    assert_eq!(second.status().problem, None);
    assert_eq!(
        second.range(T0, T0 + 61.0, &["a"]).unwrap().series["a"],
        [Some(1.0), Some(3.0)]
    );
}

#[test]
fn a_read_only_look_beside_the_writer_sees_its_ticks() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.sqlite3");
    let mut writer = Store::open(&path, Retention::default()).unwrap().store;
    writer.write_tick(&tick(T0, &[("a", Some(1.0))])).unwrap();
    let reader = Store::open_read_only(&path, Retention::default()).unwrap();
    assert_eq!(reader.range(T0, T0 + 1.0, &["a"]).unwrap().ts, [T0]);
    writer
        .write_tick(&tick(T0 + 5.0, &[("a", Some(2.0))]))
        .unwrap();
    assert_eq!(reader.range(T0, T0 + 5.0, &["a"]).unwrap().ts.len(), 2);
}

#[test]
fn damaged_pages_behind_a_valid_header_are_found_and_moved_aside() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.sqlite3");
    let mut store = open(dir.path(), Retention::default());
    for i in 0..2000 {
        store
            .write_tick(&tick(T0 + i as f64, &[("a", Some(1.0)), ("b", Some(2.0))]))
            .unwrap();
    }
    drop(store); // checkpoints the WAL into the file
    let mut bytes = std::fs::read(&path).unwrap();
    assert!(bytes.len() > 16 * 4096);
    for b in &mut bytes[8 * 4096..12 * 4096] {
        *b = 0xa5;
    }
    std::fs::write(&path, bytes).unwrap();

    let history = History::open(&HistoryConfig {
        path: Some(path.clone()),
        ..HistoryConfig::default()
    });
    let status = history.status();
    assert!(status.recovered_from.is_some(), "{status:?}");
    assert_eq!(status.problem, None);
    history.record(&tick(T0 + 3000.0, &[("a", Some(1.0))]));
    assert_eq!(history.range(T0, T0 + 3000.0, &["a"]).unwrap().ts.len(), 1);
}

#[test]
fn an_unwritable_location_degrades_and_recovers_when_fixed() {
    let dir = tempfile::tempdir().unwrap();
    // A file where the directory should be: no directory can be made there, not even
    // by root (a read-only directory would not stop root).
    let blocker = dir.path().join("data");
    std::fs::write(&blocker, "not a directory").unwrap();
    let path = blocker.join("history.sqlite3");
    let history = History::open(&HistoryConfig {
        path: Some(path.clone()),
        ..HistoryConfig::default()
    });
    let status = history.status();
    let problem = status.problem.expect("degraded");
    assert!(
        problem.contains("cannot create the history directory"),
        "{problem}"
    );
    assert!(problem.contains("monitoring continues"), "{problem}");
    assert!(matches!(
        history.range(T0, T0 + 60.0, &[]),
        Err(HistoryError::Unavailable(_))
    ));
    history.record(&tick(T0, &[("a", Some(1.0))]));
    std::fs::remove_file(&blocker).unwrap();
    // Within a minute of the failed attempt nothing is retried …
    history.record(&tick(T0 + 30.0, &[("a", Some(1.0))]));
    assert!(history.status().problem.is_some());
    // … then the next tick opens and records.
    history.record(&tick(T0 + 61.0, &[("a", Some(2.0))]));
    assert_eq!(history.status().problem, None);
    let r = history.range(T0, T0 + 61.0, &["a"]).unwrap();
    assert_eq!(r.series["a"], [Some(2.0)]);
    assert!(path.exists());
}

#[test]
fn a_full_disk_degrades_then_recovers_without_stopping_the_ticks() {
    let dir = tempfile::tempdir().unwrap();
    let history = History::open(&HistoryConfig {
        path: Some(dir.path().join("history.sqlite3")),
        ..HistoryConfig::default()
    });
    history.record(&tick(T0, &[("a", Some(1.0))]));
    // Cap the file at its current size: the next pages cannot be had, as on a full disk.
    let pages = history.with_open_store(|s| s.page_count()).unwrap();
    history.with_open_store(|s| s.set_max_pages(pages));
    let many: Vec<(String, Option<f64>)> =
        (0..2000).map(|i| (format!("m{i}"), Some(1.0))).collect();
    let many: Vec<(&str, Option<f64>)> = many.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    history.record(&tick(T0 + 5.0, &many));
    let problem = history.status().problem.expect("degraded");
    assert!(problem.contains("full"), "{problem}");
    // Space comes back; the retry a minute later records again.
    history.with_open_store(|s| s.set_max_pages(1 << 30));
    history.record(&tick(T0 + 10.0, &many));
    assert!(history.status().problem.is_some(), "not retried yet");
    history.record(&tick(T0 + 70.0, &many));
    assert_eq!(history.status().problem, None);
    let r = history.range(T0, T0 + 70.0, &["a", "m1"]).unwrap();
    assert_eq!(r.ts, [T0, T0 + 70.0]);
    assert_eq!(r.series["m1"], [None, Some(1.0)]);
    history
        .with_open_store(|s| assert_eq!(s.integrity_check().unwrap(), "ok"))
        .unwrap();
}

#[test]
fn disabled_history_records_nothing_and_says_so() {
    let history = History::disabled();
    history.record(&tick(T0, &[("a", Some(1.0))]));
    let s = history.status();
    assert!(!s.enabled);
    assert!(history.alerts(0.0, T0, 10).is_err());
}

#[test]
fn the_sink_records_monitor_ticks() {
    let dir = tempfile::tempdir().unwrap();
    let history = History::open(&HistoryConfig {
        path: Some(dir.path().join("h.sqlite3")),
        ..HistoryConfig::default()
    });
    let mut sink = history.sink();
    crate::tick::Sink::on_tick(&mut sink, &tick(T0, &[("cpu_percent", Some(3.0))]));
    let r = history.range(T0 - 1.0, T0 + 1.0, &["cpu_percent"]).unwrap();
    assert_eq!(r.series["cpu_percent"], [Some(3.0)]);
}

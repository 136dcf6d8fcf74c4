//! The SQLite history against the real world: a writer killed with SIGKILL mid-run
//! (at most the tick being written is lost, the file opens cleanly), and
//! `headroom-cli watch` recording history, surviving `kill -9`, a damaged file, a file
//! that is not Headroom's, a second `watch` on the same file and an unusable directory.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use headroom_engine::history::{Resolution, Retention, Store};
use headroom_engine::tick::Tick;
use headroom_tests::bins::{bin, wait_for};

const METRICS: usize = 30;
const T0: f64 = 1_800_000_000.0;
const CHILD_ENV: &str = "HEADROOM_HISTORY_CRASH_CHILD";

fn tick(i: u64) -> Tick {
    let ts = T0 + i as f64;
    Tick::of_samples(
        ts,
        (0..METRICS).map(|m| (format!("m{m:02}"), Some(i as f64))),
    )
}

/// The child of `kill_9_mid_write_loses_at_most_the_last_tick`: writes ticks as fast
/// as it can and says which ones are committed. Does nothing in a normal test run.
#[test]
#[ignore = "runs only as the child process of the kill -9 test"]
fn history_writer_child() {
    let (Some(path), Some(first)) = (
        std::env::var_os(CHILD_ENV),
        std::env::var("HEADROOM_HISTORY_FIRST_TICK").ok(),
    ) else {
        return;
    };
    let first: u64 = first.parse().expect("first tick");
    let mut store = Store::open(Path::new(&path), Retention::default())
        .expect("child opens the history")
        .store;
    let mut out = std::io::stdout().lock();
    for i in first.. {
        store.write_tick(&tick(i)).expect("write");
        use std::io::Write;
        writeln!(out, "committed {i}").expect("stdout");
        out.flush().expect("stdout");
    }
}

/// Ticks in the file: each one's index, and whether all its rows are there.
fn stored_ticks(path: &Path) -> Vec<(u64, bool)> {
    let outcome = Store::open(path, Retention::default()).expect("the history opens");
    assert!(
        outcome.recovered_from.is_none(),
        "a killed writer must not leave a damaged file"
    );
    let store = outcome.store;
    assert_eq!(store.integrity_check().expect("integrity_check"), "ok");
    let names: Vec<String> = (0..METRICS).map(|m| format!("m{m:02}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let b = store
        .range_at(Resolution::Raw, T0 - 1.0, T0 + 1e7, &names)
        .expect("range");
    b.ts.iter()
        .enumerate()
        .map(|(k, t)| {
            let complete = b.series.values().all(|col| col[k] == Some(t - T0));
            ((t - T0) as u64, complete)
        })
        .collect()
}

#[test]
fn kill_9_mid_write_loses_at_most_the_last_tick() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("history.sqlite3");
    let mut next = 0u64;
    // Several rounds on one file: each child is killed at a different moment.
    for (round, wait_for_commits) in [150u64, 400, 50, 900].into_iter().enumerate() {
        let mut child = Command::new(std::env::current_exe().expect("test binary"))
            .args([
                "--exact",
                "history_writer_child",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, &path)
            .env("HEADROOM_HISTORY_FIRST_TICK", next.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn the writer");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut reported = None;
        for line in lines.by_ref() {
            let line = line.expect("child output");
            if let Some(i) = line.strip_prefix("committed ") {
                let i: u64 = i.parse().expect("tick number");
                reported = Some(i);
                if i >= next + wait_for_commits {
                    break;
                }
            }
        }
        child.kill().expect("SIGKILL"); // std's kill is SIGKILL on Unix
        child.wait().expect("reap");
        // What the child said before dying is still in the pipe.
        for line in lines {
            let Ok(line) = line else { break };
            if let Some(i) = line.strip_prefix("committed ") {
                reported = Some(i.parse().expect("tick number"));
            }
        }
        let reported = reported.expect("the child committed ticks");
        let ticks = stored_ticks(&path);
        let (indexes, complete): (Vec<u64>, Vec<bool>) = ticks.iter().copied().unzip();
        assert!(
            complete.iter().all(|c| *c),
            "round {round}: a tick was stored half-written"
        );
        // Every reported tick is there; at most one more (committed, not yet reported).
        let expected: Vec<u64> = (0..=reported).collect();
        assert!(
            indexes == expected || indexes == (0..=reported + 1).collect::<Vec<_>>(),
            "round {round}: reported up to {reported}, stored {}..={} ({} ticks)",
            indexes.first().copied().unwrap_or(0),
            indexes.last().copied().unwrap_or(0),
            indexes.len()
        );
        next = indexes.last().copied().unwrap_or(0) + 1;
    }
}

fn watch(config: &Path, data_home: &Path) -> Child {
    Command::new(bin("headroom-cli"))
        .args(["watch", "--config"])
        .arg(config)
        .env("XDG_DATA_HOME", data_home)
        .env_remove("HEADROOM_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start headroom-cli watch")
}

fn write_config(dir: &Path, history: &str) -> std::path::PathBuf {
    let p = dir.join("config.toml");
    std::fs::write(
        &p,
        format!(
            "[monitor]\ninterval_secs = 0.2\n[mta]\nkind = \"none\"\n[[probe]]\nname = \"off\"\nhost = \"127.0.0.1\"\nport = 9\n{history}"
        ),
    )
    .expect("write config");
    p
}

fn stderr_of(mut child: Child) -> String {
    use std::io::Read;
    let mut s = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut s);
    }
    s
}

/// Raw ticks in a history file (sample times of `load1`), read beside its writer.
fn tick_count(path: &Path) -> usize {
    if !path.exists() {
        return 0;
    }
    Store::open_read_only(path, Retention::default())
        .ok()
        .and_then(|s| s.range_at(Resolution::Raw, 0.0, 1e12, &["load1"]).ok())
        .map(|b| b.ts.len())
        .unwrap_or(0)
}

fn terminate(child: &Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
}

/// Names of the `*.corrupt-*` files beside `path` (their WALs left out).
fn moved_aside(path: &Path) -> Vec<String> {
    std::fs::read_dir(path.parent().expect("parent"))
        .expect("ls")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".corrupt-") && !n.ends_with("-wal"))
        .collect()
}

#[test]
fn watch_records_history_in_the_data_dir_and_survives_kill_9() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), "");
    let data = dir.path().join("data");
    let mut child = watch(&config, &data);
    let path = data.join("headroom").join("history.sqlite3");
    let got = wait_for(Duration::from_secs(20), || {
        (tick_count(&path) >= 10).then_some(())
    });
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    let err = stderr_of(child);
    assert!(
        got.is_some(),
        "no history written at {}; stderr: {err}",
        path.display()
    );
    assert!(!err.contains("warning"), "{err}");
    let outcome = Store::open(&path, Retention::default()).expect("opens after kill -9");
    assert!(outcome.recovered_from.is_none());
    assert_eq!(outcome.store.integrity_check().expect("check"), "ok");
    assert!(tick_count(&path) >= 10);
}

#[test]
fn watch_moves_a_damaged_history_aside_and_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("h").join("history.sqlite3");
    // A Headroom history whose pages behind the header were overwritten.
    {
        let mut store = Store::open(&path, Retention::default())
            .expect("create")
            .store;
        for i in 0..2000 {
            store.write_tick(&tick(i)).expect("write");
        }
    }
    let mut bytes = std::fs::read(&path).expect("read");
    assert!(bytes.len() > 16 * 4096, "{} bytes", bytes.len());
    for b in &mut bytes[8 * 4096..12 * 4096] {
        *b = 0xa5;
    }
    std::fs::write(&path, &bytes).expect("damage");
    let config = write_config(
        dir.path(),
        &format!("[history]\npath = \"{}\"\n", path.display()),
    );
    let mut child = watch(&config, dir.path());
    // Only the watch may find the damage: look at the file once it has moved it.
    let got = wait_for(Duration::from_secs(20), || {
        (!moved_aside(&path).is_empty() && tick_count(&path) >= 3).then_some(())
    });
    terminate(&child);
    let status = child.wait().expect("reap");
    let err = stderr_of(child);
    assert!(got.is_some(), "no fresh history; stderr: {err}");
    assert!(status.success(), "watch exits 0 on SIGTERM: {status:?}");
    assert!(err.contains("damaged"), "{err}");
    let aside = moved_aside(&path);
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert_eq!(
        std::fs::read(path.with_file_name(&aside[0])).expect("read aside"),
        bytes
    );
}

#[test]
fn watch_leaves_a_file_that_is_not_headroms_alone_and_keeps_running() {
    let dir = tempfile::tempdir().expect("tempdir");
    // `[history] path` pointing at something else by mistake.
    let path = dir.path().join("notes.txt");
    let text = "my notes; not a database\n".repeat(500);
    std::fs::write(&path, &text).expect("write");
    let config = write_config(
        dir.path(),
        &format!("[history]\npath = \"{}\"\n", path.display()),
    );
    let mut child = watch(&config, dir.path());
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        child.try_wait().expect("poll").is_none(),
        "watch must keep running without history"
    );
    terminate(&child);
    let status = child.wait().expect("reap");
    let err = stderr_of(child);
    assert!(status.success(), "{status:?}: {err}");
    assert!(err.contains("is not an SQLite database"), "{err}");
    assert!(err.contains("untouched"), "{err}");
    assert_eq!(std::fs::read_to_string(&path).expect("read"), text);
    assert!(moved_aside(&path).is_empty());
}

#[test]
fn a_second_watch_on_the_same_history_runs_without_it_and_says_why() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), "");
    let data = dir.path().join("data");
    let path = data.join("headroom").join("history.sqlite3");
    let mut first = watch(&config, &data);
    let started = wait_for(Duration::from_secs(20), || {
        (tick_count(&path) >= 2).then_some(())
    });
    let mut second = watch(&config, &data);
    let before = tick_count(&path);
    std::thread::sleep(Duration::from_millis(1500));
    let after = tick_count(&path);
    let second_running = second.try_wait().expect("poll").is_none();
    let first_running = first.try_wait().expect("poll").is_none();
    terminate(&second);
    terminate(&first);
    let (s1, s2) = (first.wait().expect("reap"), second.wait().expect("reap"));
    let first_pid = first.id();
    let (err1, err2) = (stderr_of(first), stderr_of(second));
    assert!(
        started.is_some(),
        "the first watch wrote no history: {err1}"
    );
    assert!(
        second_running && first_running,
        "both keep running: {err1} / {err2}"
    );
    assert!(s1.success() && s2.success(), "{s1:?} {s2:?}");
    assert!(
        err2.contains(&format!(
            "is being written by another Headroom process (pid {first_pid}); this one runs without history"
        )),
        "{err2}"
    );
    assert!(
        !err1.contains("warning"),
        "the first is undisturbed: {err1}"
    );
    assert!(
        after > before,
        "the first kept writing: {before} then {after}"
    );
    assert!(moved_aside(&path).is_empty());
    let outcome = Store::open(&path, Retention::default()).expect("opens");
    assert_eq!(outcome.store.integrity_check().expect("check"), "ok");
}

#[test]
fn watch_without_a_usable_history_warns_once_and_keeps_monitoring() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A file where the data directory should be: unusable even for root.
    let blocker = dir.path().join("blocked");
    std::fs::write(&blocker, "a file").expect("write");
    let config = write_config(
        dir.path(),
        &format!(
            "[history]\npath = \"{}\"\n",
            blocker.join("history.sqlite3").display()
        ),
    );
    let mut child = watch(&config, dir.path());
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        child.try_wait().expect("poll").is_none(),
        "watch must keep running without history"
    );
    terminate(&child);
    let status = child.wait().expect("reap");
    let err = stderr_of(child);
    assert!(status.success(), "{status:?}: {err}");
    let warnings: Vec<&str> = err.lines().filter(|l| l.contains("history")).collect();
    assert_eq!(warnings.len(), 1, "one warning, not one per tick: {err}");
    assert!(warnings[0].contains("monitoring continues"), "{err}");
}

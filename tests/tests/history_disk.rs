//! The history on a real full disk and a real read-only filesystem (a small tmpfs,
//! root only): recording degrades with the reason, nothing panics, and it records
//! again once space is back.

use std::path::Path;
use std::process::Command;

use headroom_engine::config::HistoryConfig;
use headroom_engine::history::History;
use headroom_engine::tick::Tick;

const T0: f64 = 1_800_000_000.0;

fn tick(ts: f64, metrics: usize) -> Tick {
    Tick::of_samples(
        ts,
        (0..metrics).map(|m| (format!("a_rather_long_metric_name_{m:05}"), Some(1.0))),
    )
}

/// A private tmpfs, unmounted on drop.
struct Tmpfs(tempfile::TempDir);

impl Tmpfs {
    fn mount(size: &str) -> Result<Tmpfs, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let out = Command::new("/usr/bin/mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .map_err(|e| format!("mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mount: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(Tmpfs(dir))
    }

    fn path(&self) -> &Path {
        self.0.path()
    }

    fn remount(&self, opts: &str) {
        let ok = Command::new("/usr/bin/mount")
            .args(["-o", &format!("remount,{opts}")])
            .arg(self.path())
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "remount {opts}");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("/usr/bin/umount").arg(self.0.path()).status();
    }
}

fn tmpfs_or_skip(size: &str) -> Option<Tmpfs> {
    match Tmpfs::mount(size) {
        Ok(t) => Some(t),
        Err(e) => {
            headroom_tests::skip_or_fail(format!(
                "cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN): {e}"
            ));
            None
        }
    }
}

fn history_at(dir: &Path) -> History {
    History::open(&HistoryConfig {
        path: Some(dir.join("headroom").join("history.sqlite3")),
        ..HistoryConfig::default()
    })
}

#[test]
fn a_full_disk_degrades_history_and_it_recovers_when_space_returns() {
    let Some(fs) = tmpfs_or_skip("2m") else {
        return;
    };
    let history = history_at(fs.path());
    assert_eq!(history.status().problem, None);
    history.record(&tick(T0, 10));
    // Fill the filesystem with something else, as a runaway log would.
    let filler = fs.path().join("filler");
    let _ = std::fs::write(&filler, vec![0u8; 4 << 20]); // fails with ENOSPC, leaves it full
    let mut t = T0;
    for _ in 0..5 {
        t += 5.0;
        history.record(&tick(t, 3000)); // needs new pages: none to be had
    }
    let problem = history.status().problem.expect("degraded on a full disk");
    assert!(problem.contains("full"), "{problem}");
    assert!(problem.contains("monitoring continues"), "{problem}");

    std::fs::remove_file(&filler).expect("free the space");
    history.record(&tick(t + 61.0, 3000));
    assert_eq!(
        history.status().problem,
        None,
        "records again after the retry"
    );
    let r = history
        .range(T0, t + 61.0, &["a_rather_long_metric_name_02999"])
        .expect("range");
    assert_eq!(r.ts.last().copied(), Some(t + 61.0));
}

#[test]
fn a_read_only_filesystem_degrades_history_with_the_reason() {
    let Some(fs) = tmpfs_or_skip("2m") else {
        return;
    };
    // A history that existed, on a filesystem that came back read-only (fsck, errors).
    let history = history_at(fs.path());
    history.record(&tick(T0, 10));
    assert_eq!(history.status().problem, None);
    drop(history);
    fs.remount("ro");
    let history = history_at(fs.path());
    let problem = history.status().problem;
    for k in 1..4 {
        history.record(&tick(T0 + 5.0 * k as f64, 10)); // no panic, no error to the caller
    }
    let later = history.status().problem;
    drop(history);
    fs.remount("rw");
    let problem = problem.expect("degraded on a read-only filesystem");
    eprintln!("read-only: {problem}");
    assert!(problem.contains("monitoring continues"), "{problem}");
    assert!(later.is_some());

    // A history that cannot even be created there says so at open.
    let ro = tmpfs_or_skip("1m").expect("second tmpfs");
    ro.remount("ro");
    let h = history_at(ro.path());
    let p = h.status().problem.expect("cannot be created");
    assert!(p.contains("Read-only file system"), "{p}");
    h.record(&tick(T0, 10));
    assert!(h.range(T0, T0 + 1.0, &[]).is_err());
}

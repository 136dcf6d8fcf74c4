//! Where the binaries under test are: the workspace's target directory, built by
//! `make test` (`cargo build --workspace`) before the tests run.

use std::path::PathBuf;

/// The workspace target directory (respects CARGO_TARGET_DIR).
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"),
    }
}

/// A binary of the workspace, from the same profile as the tests. Panics with the
/// command to run when it has not been built: a missing binary is a setup error that
/// must not pass as a skipped test.
pub fn bin(name: &str) -> PathBuf {
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else if name == "headroom-cli" {
        // Its own size-optimized profile (workspace Cargo.toml).
        "release-cli"
    } else {
        "release"
    };
    let p = target_dir().join(profile).join(name);
    assert!(
        p.exists(),
        "{} is missing: run `cargo build --workspace` (make test does) before these tests",
        p.display()
    );
    p
}

/// Where tests leave screenshots and logs for people to look at.
pub fn artifacts_dir() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("artifacts");
    let _ = std::fs::create_dir_all(&d);
    d
}

/// Polls `f` every 100 ms until it returns `Some` or `timeout` passes.
pub fn wait_for<T>(timeout: std::time::Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let end = std::time::Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if std::time::Instant::now() >= end {
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// A free TCP port on 127.0.0.1 (bound then released; good enough for tests).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

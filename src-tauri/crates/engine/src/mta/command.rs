//! External commands the way Postfix runs them: a fixed path and argument vector (no
//! shell), a deadline after which the child is killed, and bounded output.
//!
//! Each command runs in a process group of its own and the deadline kills the whole
//! group: a child that forked (a wrapper script, `postqueue` handing off to `showq`)
//! would otherwise leave grandchildren running, and a grandchild that holds the
//! output pipe would keep the read going long after the deadline.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use super::error::CommandError;

/// Output beyond this is dropped (postconf prints a few KiB; `exim -bP` less).
pub const MAX_OUTPUT: usize = 1 << 20;

#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// stdout was longer than the bound and was cut.
    pub truncated: bool,
}

impl Output {
    pub fn success(&self) -> bool {
        self.status == Some(0)
    }

    /// The first line of stderr, for messages ("postqueue: fatal: …").
    pub fn error_line(&self) -> String {
        let line = self
            .stderr
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        match self.status {
            Some(c) if line.is_empty() => format!("exit status {c}"),
            Some(c) => format!("{line} (exit status {c})"),
            None => format!("killed by a signal {line}").trim_end().to_string(),
        }
    }
}

/// Kills the child when `deadline` passes unless told to stand down first.
struct Watchdog {
    done: mpsc::Sender<()>,
    fired: Arc<Mutex<bool>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Watchdog {
    fn arm(child: Arc<Mutex<Child>>, timeout: Duration) -> Self {
        let (done, rx) = mpsc::channel::<()>();
        let fired = Arc::new(Mutex::new(false));
        let flag = fired.clone();
        let thread = std::thread::Builder::new()
            .name("headroom-cmd-watchdog".into())
            .spawn(move || {
                if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(timeout) {
                    if let Ok(mut c) = child.lock() {
                        kill_group(&mut c);
                    }
                    if let Ok(mut f) = flag.lock() {
                        *f = true;
                    }
                }
            })
            .ok();
        Watchdog {
            done,
            fired,
            thread,
        }
    }

    /// Stands the watchdog down; returns whether it had already killed the child.
    fn disarm(mut self) -> bool {
        let _ = self.done.send(());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.fired.lock().map(|f| *f).unwrap_or(false)
    }
}

fn spawn(program: &Path, args: &[&str]) -> Result<Child, CommandError> {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env("LC_ALL", "C")
        // Its own group (pgid = its pid), so that the group can be killed.
        .process_group(0)
        .spawn()
        .map_err(|e| CommandError::Spawn {
            program: program.display().to_string(),
            reason: e.to_string(),
        })
}

/// SIGKILL to the child's process group (the child and everything it started that
/// stayed in the group), then to the child itself in case it left the group. Called
/// before the child is reaped, so its pid (the group's id) cannot have been reused.
fn kill_group(c: &mut Child) {
    if let Some(pgid) = i32::try_from(c.id())
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
    }
    let _ = c.kill();
}

fn read_bounded(r: impl Read, max: usize) -> (Vec<u8>, bool) {
    let mut buf = Vec::new();
    let mut limited = r.take(max as u64 + 1);
    let _ = limited.read_to_end(&mut buf);
    let truncated = buf.len() > max;
    buf.truncate(max);
    // Drain the rest so the child is not stuck on a full pipe.
    let _ = std::io::copy(&mut limited.into_inner(), &mut std::io::sink());
    (buf, truncated)
}

/// Runs `program args…`, waits at most `timeout`, keeps at most [`MAX_OUTPUT`] bytes.
pub fn run(program: &Path, args: &[&str], timeout: Duration) -> Result<Output, CommandError> {
    let mut child = spawn(program, args)?;
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let child = Arc::new(Mutex::new(child));
    let dog = Watchdog::arm(child.clone(), timeout);
    let err_thread = std::thread::spawn(move || {
        stderr
            .map(|s| read_bounded(s, 64 * 1024).0)
            .unwrap_or_default()
    });
    let (out, truncated) = stdout
        .map(|s| read_bounded(s, MAX_OUTPUT))
        .unwrap_or_default();
    let err = err_thread.join().unwrap_or_default();
    let status = wait(&child, timeout);
    if dog.disarm() {
        return Err(CommandError::TimedOut {
            program: program.display().to_string(),
            seconds: timeout.as_secs_f64(),
        });
    }
    Ok(Output {
        status,
        stdout: String::from_utf8_lossy(&out).into_owned(),
        stderr: String::from_utf8_lossy(&err).into_owned(),
        truncated,
    })
}

fn wait(child: &Arc<Mutex<Child>>, timeout: Duration) -> Option<i32> {
    // stdout is closed, so the child has exited or is about to; poll briefly so the
    // watchdog can still take the lock to kill a child that closed stdout and hangs.
    let start = Instant::now();
    loop {
        if let Ok(mut c) = child.lock() {
            match c.try_wait() {
                Ok(Some(s)) => return s.code(),
                Ok(None) => {}
                Err(_) => return None,
            }
        }
        if start.elapsed() > timeout + Duration::from_secs(1) {
            if let Ok(mut c) = child.lock() {
                kill_group(&mut c);
                let _ = c.wait();
            }
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// How a streamed listing ended.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamEnd {
    pub status: Option<i32>,
    pub stderr: String,
    pub killed_at_timeout: bool,
    /// Lines longer than the bound, skipped whole.
    pub skipped_long_lines: u64,
}

/// Runs `program args…` and hands each stdout line (without its newline) to `on_line`,
/// one at a time: memory stays bounded by `max_line` whatever the output size. The
/// child is killed at `timeout`; `on_line` returning false stops early (and kills it).
pub fn stream_lines(
    program: &Path,
    args: &[&str],
    timeout: Duration,
    max_line: usize,
    mut on_line: impl FnMut(&[u8]) -> bool,
) -> Result<StreamEnd, CommandError> {
    let mut child = spawn(program, args)?;
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let child = Arc::new(Mutex::new(child));
    let dog = Watchdog::arm(child.clone(), timeout);
    let err_thread = std::thread::spawn(move || {
        stderr
            .map(|s| read_bounded(s, 16 * 1024).0)
            .unwrap_or_default()
    });
    let mut skipped = 0;
    let mut stopped = false;
    if let Some(out) = stdout {
        let mut reader = BufReader::with_capacity(64 * 1024, out);
        let mut line = Vec::with_capacity(4096);
        loop {
            line.clear();
            match read_line_bounded(&mut reader, &mut line, max_line) {
                Ok(None) => break,
                Ok(Some(false)) => skipped += 1,
                Ok(Some(true)) => {
                    if !on_line(&line) {
                        stopped = true;
                        if let Ok(mut c) = child.lock() {
                            kill_group(&mut c);
                        }
                        break;
                    }
                }
                Err(_) => break,
            }
        }
    }
    let err = err_thread.join().unwrap_or_default();
    let status = if stopped {
        if let Ok(mut c) = child.lock() {
            let _ = c.wait();
        }
        None
    } else {
        wait(&child, timeout)
    };
    let killed = dog.disarm();
    Ok(StreamEnd {
        status,
        stderr: String::from_utf8_lossy(&err).into_owned(),
        killed_at_timeout: killed,
        skipped_long_lines: skipped,
    })
}

/// Reads one line into `buf`. `Ok(None)` at end of input, `Ok(Some(false))` when the
/// line was longer than `max` (its bytes are discarded, not kept).
fn read_line_bounded(
    r: &mut impl BufRead,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<Option<bool>> {
    let mut any = false;
    let mut too_long = false;
    loop {
        let chunk = r.fill_buf()?;
        if chunk.is_empty() {
            return Ok(if any { Some(!too_long) } else { None });
        }
        any = true;
        let (take, end) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i, true),
            None => (chunk.len(), false),
        };
        if !too_long {
            if buf.len() + take > max {
                too_long = true;
                buf.clear();
            } else {
                buf.extend_from_slice(&chunk[..take]);
            }
        }
        r.consume(if end { take + 1 } else { take });
        if end {
            return Ok(Some(!too_long));
        }
    }
}

/// The `name = value` lines of what `postconf` and `exim -bP` print, in printed order
/// (collect them into a map to look names up). A line without ` =` (Exim's
/// `no_body_only`, a transport's `remote_smtp transport:`) is not a setting.
pub fn name_values(text: &str) -> impl Iterator<Item = (String, String)> + '_ {
    text.lines().filter_map(|l| {
        let (k, v) = l.split_once(" =")?;
        Some((k.trim().to_string(), v.trim().to_string()))
    })
}

/// The first of `candidates` that exists as a file.
pub fn find_program(candidates: &[&str]) -> Option<std::path::PathBuf> {
    candidates
        .iter()
        .map(Path::new)
        .find(|p| p.is_file())
        .map(Path::to_path_buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hanging_command_is_killed_at_its_deadline() {
        let start = Instant::now();
        let r = run(Path::new("/bin/sleep"), &["30"], Duration::from_millis(300));
        assert!(r.expect_err("an error").to_string().contains("killed"));
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn settings_are_the_lines_with_an_equals_sign() {
        let text = "a = b\nempty =\nno_body_only\nc = x = y\n";
        let got: Vec<(String, String)> = name_values(text).collect();
        let want = [("a", "b"), ("empty", ""), ("c", "x = y")].map(|(k, v)| (k.into(), v.into()));
        assert_eq!(got, want);
    }

    #[test]
    fn output_is_bounded() {
        let r = run(
            Path::new("/usr/bin/head"),
            &["-c", "3000000", "/dev/zero"],
            Duration::from_secs(10),
        )
        .expect("head runs");
        assert!(r.truncated);
        assert_eq!(r.stdout.len(), MAX_OUTPUT);
    }

    #[test]
    fn streamed_lines_skip_overlong_ones() {
        let mut lines = Vec::new();
        let end = stream_lines(
            Path::new("/usr/bin/printf"),
            &["a\\n%0200d\\nb\\nc"],
            Duration::from_secs(5),
            100,
            |l| {
                lines.push(String::from_utf8_lossy(l).into_owned());
                true
            },
        )
        .expect("printf runs");
        assert_eq!(lines, ["a", "b", "c"]);
        assert_eq!(end.skipped_long_lines, 1);
        assert_eq!(end.status, Some(0));
    }

    /// Whether `pid` is still running (a zombie waiting for its reaper is not).
    fn running(pid: i32) -> bool {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => false,
            Ok(stat) => {
                let state = stat.rsplit(')').next().unwrap_or("").trim_start();
                !state.starts_with('Z')
            }
        }
    }

    fn gone_soon(pid: i32) -> bool {
        let end = Instant::now() + Duration::from_secs(5);
        while Instant::now() < end {
            if !running(pid) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    // The shell is the test's: a child that forks a grandchild which would outlive
    // it and which holds the output pipe open.
    #[test]
    fn a_timeout_kills_the_grandchildren_too() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pid_file = dir.path().join("grandchild.pid");
        let script = format!("sleep 60 & echo $! > {}; sleep 60", pid_file.display());
        let start = Instant::now();
        let r = run(
            Path::new("/bin/sh"),
            &["-c", &script],
            Duration::from_millis(500),
        );
        assert!(r.expect_err("killed").to_string().contains("killed"));
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "took {:?}: the grandchild held the pipe",
            start.elapsed()
        );
        let pid: i32 = std::fs::read_to_string(&pid_file)
            .expect("the shell wrote the grandchild's pid")
            .trim()
            .parse()
            .expect("a pid");
        assert!(gone_soon(pid), "grandchild {pid} outlived the timeout");
    }

    #[test]
    fn a_stalled_stream_kills_the_grandchildren_too() {
        let mut pid = None;
        let start = Instant::now();
        let end = stream_lines(
            Path::new("/bin/sh"),
            &["-c", "sleep 60 & echo $!; sleep 60"],
            Duration::from_millis(500),
            100,
            |l| {
                pid = String::from_utf8_lossy(l).trim().parse::<i32>().ok();
                true
            },
        )
        .expect("sh runs");
        assert!(end.killed_at_timeout);
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{:?}",
            start.elapsed()
        );
        let pid = pid.expect("the shell said the grandchild's pid");
        assert!(gone_soon(pid), "grandchild {pid} outlived the timeout");
    }

    #[test]
    fn a_stalled_stream_is_killed() {
        let start = Instant::now();
        let end = stream_lines(
            Path::new("/bin/sleep"),
            &["30"],
            Duration::from_millis(300),
            100,
            |_| true,
        )
        .expect("sleep runs");
        assert!(end.killed_at_timeout);
        assert!(start.elapsed() < Duration::from_secs(5));
    }
}

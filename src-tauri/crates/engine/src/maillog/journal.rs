//! journald as a mail-log source, for hosts without a log file: `journalctl -f -o json`
//! for the mail units, run directly (no shell), each entry turned back into a
//! syslog-style line (`IDENT[PID]: MESSAGE`) so the one parser reads it.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde::Deserialize;
use tokio::io::AsyncReadExt;
use tokio::process::Command;
use tokio_util::sync::CancellationToken;

use super::lines::{Line, LineSplitter, Skip};
use super::MaillogError as Error;
use super::SharedAggregator;
use crate::time::Ts;

#[derive(Debug, Clone, PartialEq)]
pub struct JournalSource {
    /// Usually `/usr/bin/journalctl`.
    pub journalctl: PathBuf,
    /// Unit patterns (`journalctl -u`), e.g. `postfix*`, `exim*`.
    pub units: Vec<String>,
    /// Entries of the last so long before following; `None` starts at the end.
    pub backfill: Option<Duration>,
}

impl Default for JournalSource {
    fn default() -> Self {
        JournalSource {
            journalctl: PathBuf::from("/usr/bin/journalctl"),
            units: vec![
                "postfix*".into(),
                "exim*".into(),
                "opensmtpd*".into(),
                "sendmail*".into(),
            ],
            backfill: None,
        }
    }
}

impl JournalSource {
    pub fn args(&self) -> Vec<String> {
        let mut a = vec![
            "--follow".to_string(),
            "--output=json".into(),
            "--no-pager".into(),
        ];
        match self.backfill {
            Some(d) => a.push(format!("--since=-{}s", d.as_secs().max(1))),
            None => a.push("--lines=0".into()),
        }
        for u in &self.units {
            a.push(format!("--unit={u}"));
        }
        a
    }
}

/// Starts journalctl with `args` (stdout piped, killed on drop) and takes its stdout.
fn spawn(
    source: &JournalSource,
    args: &[String],
    stderr: Stdio,
) -> Result<(tokio::process::Child, tokio::process::ChildStdout), Error> {
    let mut child = Command::new(&source.journalctl)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| Error::Io {
            context: format!("start {}", source.journalctl.display()),
            source: e,
        })?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| Error::Journal("journalctl: no stdout".into()))?;
    Ok((child, stdout))
}

/// Whether the journal holds entries of any of the source's units
/// (`journalctl --field=_SYSTEMD_UNIT`, bounded in time and output). A journal with no
/// files at all lists no units. `Err` when journalctl cannot be run or fails.
pub async fn has_mail_units(source: &JournalSource) -> Result<bool, Error> {
    let (mut child, stdout) = spawn(
        source,
        &["--field=_SYSTEMD_UNIT".into(), "--no-pager".into()],
        Stdio::null(),
    )?;
    let listed = tokio::time::timeout(UNITS_WAIT, async {
        let out = read_bounded_drain(stdout, UNITS_KEPT).await;
        (out, child.wait().await)
    })
    .await;
    let (out, status) = match listed {
        Ok((out, Ok(status))) => (out, status),
        Ok((_, Err(e))) => {
            return Err(Error::Io {
                context: "wait for journalctl --field".into(),
                source: e,
            })
        }
        Err(_) => {
            return Err(Error::Journal(format!(
                "journalctl --field=_SYSTEMD_UNIT took longer than {} s",
                UNITS_WAIT.as_secs()
            )))
        }
    };
    if !status.success() {
        return Err(Error::Journal(format!(
            "journalctl --field=_SYSTEMD_UNIT exited with {status}"
        )));
    }
    let units = String::from_utf8_lossy(&out);
    Ok(units
        .lines()
        .any(|unit| source.units.iter().any(|p| unit_matches(p, unit.trim()))))
}

/// How long listing the journal's units may take, and how much of the list is read.
const UNITS_WAIT: Duration = Duration::from_secs(10);
const UNITS_KEPT: usize = 1 << 20;

/// `journalctl --unit` matching for the patterns we pass: `postfix*` is a prefix, a
/// bare name matches itself or its `.service`.
fn unit_matches(pattern: &str, unit: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => unit.starts_with(prefix),
        None => unit == pattern || unit.strip_suffix(".service") == Some(pattern),
    }
}

#[derive(Deserialize)]
struct Entry {
    #[serde(rename = "MESSAGE")]
    message: Option<serde_json::Value>,
    #[serde(rename = "SYSLOG_IDENTIFIER")]
    ident: Option<String>,
    #[serde(rename = "_PID")]
    pid: Option<String>,
    #[serde(rename = "SYSLOG_PID")]
    syslog_pid: Option<String>,
    #[serde(rename = "__REALTIME_TIMESTAMP")]
    realtime_us: Option<String>,
}

/// One `journalctl -o json` entry as a syslog-style line and its time. A MESSAGE that
/// journald stored as bytes (not UTF-8) is `Err(Skip::InvalidUtf8)`; an entry that is
/// not JSON is `Err(Skip::Binary)`.
pub fn journal_line(json: &str) -> Result<(Option<Ts>, String), Skip> {
    let e: Entry = serde_json::from_str(json).map_err(|_| Skip::Binary)?;
    let message = match e.message {
        Some(serde_json::Value::String(s)) => s,
        Some(serde_json::Value::Array(_)) => return Err(Skip::InvalidUtf8),
        _ => String::new(),
    };
    let ts = e
        .realtime_us
        .and_then(|t| t.parse::<f64>().ok())
        .map(|us| us / 1e6);
    let ident = e.ident.unwrap_or_else(|| "unknown".into());
    let pid = e.syslog_pid.or(e.pid).unwrap_or_else(|| "0".into());
    Ok((ts, format!("{ident}[{pid}]: {message}")))
}

/// Follows the journal into `agg` until cancelled or journalctl exits; returns an
/// error (with journalctl's own words) when it cannot start or fails.
pub async fn follow_journal(
    source: JournalSource,
    agg: SharedAggregator,
    cancel: CancellationToken,
) -> Result<(), Error> {
    let (mut child, mut stdout) = spawn(&source, &source.args(), Stdio::piped())?;
    let stderr = child
        .stderr
        .take()
        .ok_or_else(|| Error::Journal("journalctl: no stderr".into()))?;
    // Read all along, not only at the end: journalctl blocks once it has written a
    // pipe's worth (64 KiB) of warnings nobody reads, and stops following the journal.
    let stderr = tokio::spawn(read_bounded_drain(stderr, STDERR_KEPT));
    let mut splitter = LineSplitter::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = tokio::select! {
            _ = cancel.cancelled() => {
                let _ = child.kill().await;
                return Ok(());
            }
            r = stdout.read(&mut buf) => r.map_err(|e| Error::Io { context: "read journalctl".into(), source: e })?,
        };
        if n == 0 {
            break;
        }
        let now = super::tail::now();
        let mut guard = agg.lock().unwrap_or_else(|p| p.into_inner());
        splitter.feed(&buf[..n], &mut |l| match l {
            Line::Text(json) => match journal_line(json) {
                Ok((ts, line)) => guard.observe(ts.unwrap_or(now).min(now), Line::Text(&line)),
                Err(skip) => guard.observe(now, Line::Skipped(skip)),
            },
            Line::Skipped(s) => guard.observe(now, Line::Skipped(s)),
        });
    }
    // journalctl ended: say why, with the start of what it printed.
    let status = tokio::time::timeout(Duration::from_secs(2), child.wait()).await;
    let err = match tokio::time::timeout(Duration::from_secs(2), stderr).await {
        Ok(Ok(err)) => err,
        _ => Vec::new(),
    };
    let msg = String::from_utf8_lossy(&err).trim().to_string();
    match status {
        Ok(Ok(s)) if s.success() => Ok(()),
        Ok(Ok(s)) => Err(Error::Journal(format!("journalctl exited with {s}: {msg}"))),
        _ => Err(Error::Journal(format!("journalctl ended: {msg}"))),
    }
}

/// Bytes of journalctl's stderr kept for the error message; the rest is read and
/// dropped.
const STDERR_KEPT: usize = 4096;

/// Keeps the first `max` bytes of `r` and reads the rest to the end, so the writer
/// never blocks on a full pipe.
async fn read_bounded_drain(mut r: impl tokio::io::AsyncRead + Unpin, max: usize) -> Vec<u8> {
    let mut kept = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => return kept,
            Ok(n) => {
                let room = max.saturating_sub(kept.len()).min(n);
                kept.extend_from_slice(&buf[..room]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::maillog::Aggregator;

    /// Stands in for journalctl: 200 KiB of warnings on stderr (three pipes' worth)
    /// before the entry, then a failure.
    const NOISY_JOURNALCTL: &str = "#!/bin/sh\n\
        head -c 204800 /dev/zero | tr '\\0' 'w' >&2\n\
        echo '{\"MESSAGE\":\"hello\",\"SYSLOG_IDENTIFIER\":\"postfix/smtp\",\"_PID\":\"1\"}'\n\
        exit 3\n";

    #[tokio::test]
    async fn a_journalctl_that_talks_a_lot_on_stderr_is_not_stuck() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let fake = dir.path().join("journalctl");
        std::fs::write(&fake, NOISY_JOURNALCTL).expect("write");
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let agg = Aggregator::shared();
        let source = JournalSource {
            journalctl: fake,
            ..JournalSource::default()
        };
        let mut result = None;
        // Another test's fork can hold the new file open for a moment (ETXTBSY).
        for _ in 0..20 {
            let r = tokio::time::timeout(
                Duration::from_secs(20),
                follow_journal(source.clone(), agg.clone(), CancellationToken::new()),
            )
            .await
            .expect("journalctl's stderr must not block it");
            match r {
                Err(Error::Io { source, .. }) if source.raw_os_error() == Some(26) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                r => {
                    result = Some(r);
                    break;
                }
            }
        }
        let err = result.expect("ran").expect_err("exit 3 is an error");
        let msg = err.to_string();
        assert!(msg.contains("exit status: 3"), "{msg}");
        assert!(msg.contains("wwww"), "{msg}");
        assert!(msg.len() < STDERR_KEPT + 200, "{} bytes", msg.len());
        // The entry after the noise was read.
        assert_eq!(agg.lock().expect("lock").stats().lines, 1);
    }
}

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
use super::SharedAggregator;
use crate::error::Error;
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
    let mut child = Command::new(&source.journalctl)
        .args(source.args())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| Error::Io {
            context: format!("start {}", source.journalctl.display()),
            source: e,
        })?;
    let mut stdout = child
        .stdout
        .take()
        .ok_or_else(|| Error::Source("journalctl: no stdout".into()))?;
    let mut stderr = child
        .stderr
        .take()
        .ok_or_else(|| Error::Source("journalctl: no stderr".into()))?;
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
    // journalctl ended: say why, with a bounded read of what it printed.
    let mut err = Vec::new();
    let _ = tokio::time::timeout(
        Duration::from_secs(2),
        (&mut stderr).take(4096).read_to_end(&mut err),
    )
    .await;
    let status = tokio::time::timeout(Duration::from_secs(2), child.wait()).await;
    let msg = String::from_utf8_lossy(&err).trim().to_string();
    match status {
        Ok(Ok(s)) if s.success() => Ok(()),
        Ok(Ok(s)) => Err(Error::Source(format!("journalctl exited with {s}: {msg}"))),
        _ => Err(Error::Source(format!("journalctl ended: {msg}"))),
    }
}

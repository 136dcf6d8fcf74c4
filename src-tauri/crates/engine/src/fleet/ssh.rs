//! An agent through the admin's own ssh client: `ssh -T [-p PORT] [-F FILE] -- TARGET
//! headroom-cli serve --stdio`, speaking the agent's API as JSON lines. ssh does the
//! authentication (keys, agent, known_hosts) and its keepalives notice a dead link; no
//! port is opened on the server. ssh runs in its own process group, killed with it.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;

use super::{FleetError, RawEvent};
use crate::config::{ServerEntry, Transport};

/// Longest line read from the agent (a tick is a few KiB; history can be large).
const MAX_LINE: usize = 16 * 1024 * 1024;
/// What of ssh's stderr is kept for the reason it gives.
const STDERR_KEEP: usize = 2048;
const ONCE_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct SshAgent {
    target: String,
    port: Option<u16>,
    config: Option<String>,
    command: String,
}

/// What the watcher may ask of a running session.
#[derive(Debug)]
pub enum Ask {
    Probe,
}

impl SshAgent {
    pub fn new(entry: &ServerEntry) -> SshAgent {
        match entry.transport() {
            Ok(Transport::Ssh {
                target,
                port,
                config,
                command,
            }) => SshAgent {
                target,
                port,
                config,
                command,
            },
            // Validated at load: never reached with a loaded configuration.
            _ => SshAgent {
                target: entry.ssh.clone().unwrap_or_default(),
                port: entry.ssh_port,
                config: entry.ssh_config.clone(),
                command: "headroom-cli".into(),
            },
        }
    }

    pub fn addr(&self) -> String {
        format!("ssh {}", self.target)
    }

    fn spawn(&self) -> Result<Child, FleetError> {
        let mut c = Command::new("ssh");
        c.arg("-T")
            .args(["-o", "BatchMode=yes"])
            .args(["-o", "ServerAliveInterval=15"])
            .args(["-o", "ServerAliveCountMax=3"])
            .args(["-o", "ConnectTimeout=10"]);
        if let Some(p) = self.port {
            c.args(["-p", &p.to_string()]);
        }
        if let Some(f) = &self.config {
            c.args(["-F", f]);
        }
        c.arg("--")
            .arg(&self.target)
            .arg(&self.command)
            .args(["serve", "--stdio"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .process_group(0);
        c.spawn()
            .map_err(|e| FleetError::Ssh(format!("cannot start ssh: {e}")))
    }

    /// Starts ssh with its pipes, its group guard and a task keeping what it says.
    fn open(&self) -> Result<Session, FleetError> {
        let mut child = self.spawn()?;
        let guard = GroupGuard(child.id());
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(FleetError::Ssh("ssh's pipes were not opened".into()));
        };
        Ok(Session {
            child,
            guard,
            stdin,
            stdout,
            stderr_task: tokio::spawn(keep_tail(stderr)),
        })
    }

    /// Runs one session: subscribes, hands events on, serves `asks`, until it ends.
    pub async fn events(
        &self,
        asks: &mut mpsc::Receiver<Ask>,
        mut on_open: impl FnMut(),
        mut on_event: impl FnMut(RawEvent),
    ) -> Result<(), FleetError> {
        let Session {
            mut child,
            guard,
            mut stdin,
            stdout,
            stderr_task,
        } = self.open()?;
        send(&mut stdin, 1, "GET", "/api/v1/events").await?;
        let mut lines = BufReader::new(stdout);
        let mut next_id = 2u64;
        let mut opened = false;
        let result = loop {
            tokio::select! {
                ask = asks.recv() => match ask {
                    Some(Ask::Probe) => {
                        if let Err(e) = send(&mut stdin, next_id, "POST", "/api/v1/probe").await {
                            break Err(e);
                        }
                        next_id += 1;
                    }
                    None => break Ok(()),
                },
                line = read_line(&mut lines) => match line {
                    Err(e) => break Err(e),
                    Ok(None) => break Err(FleetError::Closed("ssh ended".into())),
                    Ok(Some(v)) => {
                        if let Some(kind) = v.get("event").and_then(Value::as_str) {
                            if kind == "error" {
                                break Err(FleetError::Protocol(text_of(&v["data"])));
                            }
                            on_event(RawEvent { kind: kind.to_string(), data: v["data"].clone() });
                        } else if v.get("id") == Some(&json!(1)) {
                            match v.get("status").and_then(Value::as_u64) {
                                Some(200) if !opened => { opened = true; on_open(); }
                                Some(200) => {}
                                s => break Err(FleetError::Status {
                                    status: s.unwrap_or(0) as u16,
                                    body: text_of(&v["body"]),
                                }),
                            }
                        } else if let Some(s) = v.get("status").and_then(Value::as_u64).filter(|s| *s >= 400) {
                            tracing::info!("{}: the agent answered {s} to a request: {}", self.addr(), text_of(&v["body"]));
                        }
                    }
                },
            }
        };
        drop(stdin);
        drop(guard);
        let _ = tokio::time::timeout(Duration::from_secs(2), child.wait()).await;
        let said = tokio::time::timeout(Duration::from_secs(1), stderr_task)
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        match result {
            // ssh's own words say why better than "closed" (auth, host key, no route).
            Err(FleetError::Closed(_)) if !said.is_empty() => Err(FleetError::Ssh(said)),
            r => r,
        }
    }
}

/// One `GET /api/v1/state` through a short session ("Test connection").
pub async fn state_once(agent: &SshAgent) -> Result<Value, FleetError> {
    let run = async {
        let Session {
            child: _child,
            guard: _guard,
            mut stdin,
            stdout,
            stderr_task,
        } = agent.open()?;
        send(&mut stdin, 1, "GET", "/api/v1/state").await?;
        let mut lines = BufReader::new(stdout);
        loop {
            match read_line(&mut lines).await? {
                None => {
                    let said = stderr_task.await.unwrap_or_default();
                    return Err(FleetError::Ssh(if said.is_empty() {
                        "ssh ended before the agent answered".into()
                    } else {
                        said
                    }));
                }
                Some(v) if v.get("id") == Some(&json!(1)) => {
                    return match v.get("status").and_then(Value::as_u64) {
                        Some(200) => Ok(v["body"].clone()),
                        s => Err(FleetError::Status {
                            status: s.unwrap_or(0) as u16,
                            body: text_of(&v["body"]),
                        }),
                    };
                }
                Some(_) => {}
            }
        }
    };
    tokio::time::timeout(ONCE_TIMEOUT, run)
        .await
        .map_err(|_| FleetError::Timeout {
            addr: agent.addr(),
            secs: ONCE_TIMEOUT.as_secs(),
        })?
}

async fn send(stdin: &mut ChildStdin, id: u64, method: &str, path: &str) -> Result<(), FleetError> {
    let line = format!("{}\n", json!({"id": id, "method": method, "path": path}));
    stdin
        .write_all(line.as_bytes())
        .await
        .map_err(|e| FleetError::Closed(format!("writing to ssh: {e}")))?;
    stdin
        .flush()
        .await
        .map_err(|e| FleetError::Closed(format!("writing to ssh: {e}")))
}

/// One JSON line, bounded; a line that is not JSON is an error (this is not an agent).
async fn read_line<R: AsyncRead + Unpin>(
    r: &mut BufReader<R>,
) -> Result<Option<Value>, FleetError> {
    let mut buf = Vec::new();
    let n = (&mut *r)
        .take(MAX_LINE as u64 + 1)
        .read_until(b'\n', &mut buf)
        .await
        .map_err(|e| FleetError::Closed(e.to_string()))?;
    if n == 0 {
        return Ok(None);
    }
    if buf.len() > MAX_LINE {
        return Err(FleetError::Protocol(format!(
            "a line longer than {MAX_LINE} bytes"
        )));
    }
    serde_json::from_slice(&buf).map(Some).map_err(|_| {
        let shown = String::from_utf8_lossy(&buf[..buf.len().min(120)]).into_owned();
        FleetError::Protocol(format!(
            "not a JSON line (is `serve --stdio` what runs there?): {}",
            crate::sanitize::for_terminal(&shown)
        ))
    })
}

fn text_of(v: &Value) -> String {
    let s = match v {
        Value::String(s) => s.clone(),
        Value::Object(m) => m
            .get("error")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| v.to_string()),
        other => other.to_string(),
    };
    crate::sanitize::cut_bytes(&crate::sanitize::for_terminal(&s), 300)
}

/// The last lines ssh wrote on stderr ("Permission denied (publickey).").
async fn keep_tail(stderr: impl AsyncRead + Unpin) -> String {
    let mut lines = BufReader::new(stderr).lines();
    let mut kept = String::new();
    while let Ok(Some(l)) = lines.next_line().await {
        let l = crate::sanitize::for_terminal(l.trim());
        if l.is_empty() {
            continue;
        }
        kept = if kept.is_empty() {
            l
        } else {
            format!("{kept}; {l}")
        };
        if kept.len() > STDERR_KEEP {
            let cut = kept.len() - STDERR_KEEP;
            let mut start = cut;
            while !kept.is_char_boundary(start) {
                start += 1;
            }
            kept = kept[start..].to_string();
        }
    }
    kept
}

/// A started ssh: what a session reads, writes and waits on.
struct Session {
    child: Child,
    guard: GroupGuard,
    stdin: ChildStdin,
    stdout: tokio::process::ChildStdout,
    stderr_task: tokio::task::JoinHandle<String>,
}

/// Kills ssh's process group when the session ends, whichever way it ends.
struct GroupGuard(Option<u32>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pgid) = self
            .0
            .and_then(|p| i32::try_from(p).ok())
            .and_then(rustix::process::Pid::from_raw)
        {
            let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::TERM);
        }
    }
}

//! The agent (`headroom-cli serve`) as the system tests see it: started as a real
//! process with a private config and data directory on a free loopback port, stopped on
//! drop; and a minimal HTTP/1.1 client over a plain TcpStream, so tests control every
//! byte (oversized heads, idle sockets, a reader that never reads).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use crate::bins::{bin, free_port, wait_for};

pub struct Agent {
    pub child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
    pub token: String,
}

/// `dir/data`: the agent's XDG_DATA_HOME (token, self-signed certificate, history).
pub fn data_home(dir: &std::path::Path) -> PathBuf {
    dir.join("data")
}

impl Agent {
    /// Writes `config` and starts `serve --listen 127.0.0.1:PORT` plus `extra` args;
    /// waits for `/healthz` and reads the token the agent made on first start.
    pub fn start(config: &str, extra: &[&str]) -> Agent {
        let dir = tempfile::Builder::new()
            .prefix("hr-agent-")
            .tempdir()
            .expect("temp dir");
        Self::start_in(dir, config, extra)
    }

    pub fn start_in(dir: tempfile::TempDir, config: &str, extra: &[&str]) -> Agent {
        Self::start_on(dir, config, free_port(), extra)
    }

    /// Starts again on the same port with the same directory (token, history), as an
    /// agent restarted by its service manager would.
    pub fn restart(self, config: &str) -> Agent {
        let port = self.port;
        let dir = self.stop();
        Self::start_on(dir, config, port, &[])
    }

    pub fn start_on(dir: tempfile::TempDir, config: &str, port: u16, extra: &[&str]) -> Agent {
        let path = dir.path().join("config.toml");
        std::fs::write(&path, config).expect("write config");
        let listen = format!("127.0.0.1:{port}");
        let child = Command::new(bin("headroom-cli"))
            .args(["serve", "--config"])
            .arg(&path)
            .args(["--listen", &listen])
            .args(extra)
            .env("XDG_DATA_HOME", data_home(dir.path()))
            .env_remove("STATE_DIRECTORY")
            .env_remove("HEADROOM_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("stderr")).expect("stderr file"))
            .spawn()
            .expect("start headroom-cli serve");
        let mut a = Agent {
            child,
            port,
            dir,
            token: String::new(),
        };
        // Over TLS the plain client cannot ask: wait for the agent to say it serves.
        let tls = extra.contains(&"--tls-cert");
        let up = wait_for(Duration::from_secs(30), || {
            if tls {
                return a.stderr().contains("serving on https://").then_some(());
            }
            get(port, "/healthz", None)
                .ok()
                .filter(|r| r.status == 200)
                .map(|_| ())
        });
        assert!(
            up.is_some(),
            "the agent never answered /healthz: {}",
            a.stderr()
        );
        let token_file = extra
            .iter()
            .position(|a| *a == "--token-file")
            .and_then(|i| extra.get(i + 1))
            .map(PathBuf::from)
            .unwrap_or_else(|| data_home(a.dir.path()).join("headroom/agent/token"));
        a.token = std::fs::read_to_string(token_file)
            .expect("the agent made a token")
            .trim()
            .to_string();
        a
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr")).unwrap_or_default()
    }

    pub fn get(&self, path: &str) -> Response {
        get(self.port, path, Some(&self.token)).expect("agent answers")
    }

    /// Resident set size of the agent, from /proc.
    pub fn rss_kib(&self) -> u64 {
        rss_kib(self.child.id())
    }

    /// Stops the agent (SIGKILL; the tests only need it gone) and hands back its dir.
    pub fn stop(mut self) -> tempfile::TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let dir = tempfile::Builder::new().tempdir().expect("temp dir");
        std::mem::replace(&mut self.dir, dir)
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// Runs `headroom-cli serve` with `args` and waits for it to exit (bounded): for the
/// refusals at start.
pub fn serve_exits(args: &[&str], data: &std::path::Path) -> Output {
    let mut child = Command::new(bin("headroom-cli"))
        .arg("serve")
        .args(args)
        .env("XDG_DATA_HOME", data)
        .env_remove("STATE_DIRECTORY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start headroom-cli serve");
    let done = wait_for(Duration::from_secs(20), || child.try_wait().ok().flatten());
    if done.is_none() {
        let _ = child.kill();
    }
    child.wait_with_output().expect("serve output")
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

pub fn get(port: u16, path: &str, token: Option<&str>) -> Result<Response, String> {
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    request(
        port,
        &format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Connection: close\r\n\r\n"),
    )
}

/// Sends `raw` (a whole request) and reads the response until the server closes.
pub fn request(port: u16, raw: &str) -> Result<Response, String> {
    request_with(port, raw.as_bytes(), &[], Duration::from_secs(60))
}

pub fn request_with(
    port: u16,
    head: &[u8],
    body: &[u8],
    timeout: Duration,
) -> Result<Response, String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    s.write_all(head).map_err(|e| e.to_string())?;
    // The server may answer (413) and close before the body is all sent.
    let _ = s.write_all(body);
    let mut buf = Vec::new();
    match s.read_to_end(&mut buf) {
        Ok(_) => {}
        Err(e) if !buf.is_empty() && e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => return Err(e.to_string()),
    }
    parse(&buf)
}

fn parse(buf: &[u8]) -> Result<Response, String> {
    let text = String::from_utf8_lossy(buf);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("no response head in {text:?}"))?;
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("no status line in {head:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// An open `GET /api/v1/events` stream.
pub struct Events {
    reader: BufReader<TcpStream>,
}

impl Events {
    pub fn open(port: u16, token: &str) -> Result<Events, String> {
        let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(Duration::from_secs(60)))
            .map_err(|e| e.to_string())?;
        write!(
            s,
            "GET /api/v1/events HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
        )
        .map_err(|e| e.to_string())?;
        let mut reader = BufReader::new(s);
        let mut status = String::new();
        reader.read_line(&mut status).map_err(|e| e.to_string())?;
        if !status.contains(" 200 ") {
            return Err(format!("events answered {status:?}"));
        }
        Ok(Events { reader })
    }

    /// The next event `(name, data)` (chunk-size lines and comments skipped).
    pub fn next_event(&mut self) -> Result<(String, String), String> {
        let mut name = String::new();
        let mut data = String::new();
        loop {
            let mut line = String::new();
            let n = self
                .reader
                .read_line(&mut line)
                .map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("the event stream ended".into());
            }
            let line = line.trim_end_matches(['\r', '\n']);
            if let Some(v) = line.strip_prefix("event: ").or(line.strip_prefix("event:")) {
                name = v.trim().to_string();
            } else if let Some(v) = line.strip_prefix("data: ").or(line.strip_prefix("data:")) {
                data.push_str(v);
            } else if line.is_empty() && !name.is_empty() && !data.is_empty() {
                return Ok((name, data));
            }
        }
    }
}

/// The config of an agent watching a private Postfix (its probe target included).
pub fn postfix_agent_config(etc: &std::path::Path, port: u16, interval_s: f64) -> String {
    crate::load::postfix_config(etc, port, interval_s)
}

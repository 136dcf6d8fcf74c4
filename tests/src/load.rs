//! Load generators and recorders for the early-warning scenarios (`scenario_*.rs`).
//!
//! - [`Watch`]: `headroom-cli watch --json` on a temporary configuration, every line it
//!   prints kept with the time it arrived.
//! - [`Recorder`]: samples the Postfix instance with the engine's own adapter at the
//!   watch's cadence and keeps the snapshots, so `bench/leadtime.sh` can replay the same
//!   series through Headroom's assessment and through the static thresholds of other
//!   tools.
//! - SMTP clients that hold sessions, send messages and watch for the first failure;
//!   a delivery sink that accepts everything; a probe target that turns to 421.
//!
//! Every loop here is bounded in count and in time, and every server listens on
//! 127.0.0.1 only.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use headroom_engine::mta::MtaSource;
use headroom_engine::snapshot::Snapshot;
use serde_json::{json, Value};

use crate::bins::{artifacts_dir, bin, wait_for};

/// Unix time in seconds (the clock `watch` stamps its lines with).
pub fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Items read from the host this test runs on. The test box is shared (compilers,
/// other tests), so scenarios report these but judge the mail server's items.
pub const HOST_ITEMS: &[&str] = &["cpu", "memory", "swap", "load", "disk_io"];

/// `headroom-cli watch --json` running on a configuration of its own.
pub struct Watch {
    child: Child,
    lines: Arc<Mutex<Vec<Value>>>,
    reader: Option<JoinHandle<()>>,
    pub dir: tempfile::TempDir,
}

impl Watch {
    /// Writes `config` (TOML) and starts the watch; history goes to a private
    /// XDG_DATA_HOME. Waits until the first lines (the initial levels) arrive.
    pub fn start(config: &str) -> Watch {
        let dir = tempfile::Builder::new()
            .prefix("hr-watch-")
            .tempdir()
            .expect("temp dir");
        let path = dir.path().join("config.toml");
        std::fs::write(&path, config).expect("write config");
        let mut child = Command::new(bin("headroom-cli"))
            .args(["watch", "--json", "--config"])
            .arg(&path)
            .env("XDG_DATA_HOME", dir.path().join("data"))
            .env_remove("HEADROOM_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start headroom-cli watch");
        let out = child.stdout.take().expect("stdout");
        let lines: Arc<Mutex<Vec<Value>>> = Arc::default();
        let sink = lines.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                match serde_json::from_str::<Value>(&line) {
                    Ok(v) => lock(&sink).push(v),
                    Err(e) => panic!("watch --json printed a line that is not JSON ({e}): {line}"),
                }
            }
        });
        let w = Watch {
            child,
            lines,
            reader: Some(reader),
            dir,
        };
        assert!(
            wait_for(Duration::from_secs(30), || (!lock(&w.lines).is_empty())
                .then_some(()))
            .is_some(),
            "watch printed nothing in 30 s"
        );
        w
    }

    pub fn lines(&self) -> Vec<Value> {
        lock(&self.lines).clone()
    }

    /// The first line for which `f` holds.
    pub fn first(&self, f: impl Fn(&Value) -> bool) -> Option<Value> {
        lock(&self.lines).iter().find(|v| f(v)).cloned()
    }

    /// Stops the watch and returns everything it printed.
    pub fn stop(mut self) -> Vec<Value> {
        self.kill();
        self.lines()
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Whether a watch line raises an alert for an item of the mail server or its probes
/// (watch, warning or critical; host items and unknown excluded).
pub fn is_mail_alert(v: &Value) -> bool {
    let item = v["item"].as_str().unwrap_or("");
    let level = v["level"].as_str().unwrap_or("");
    !HOST_ITEMS.contains(&item) && matches!(level, "watch" | "warning" | "critical")
}

/// Samples a Postfix instance with the engine's adapter every `interval` until stopped.
pub struct Recorder {
    stop: Arc<AtomicBool>,
    snaps: Arc<Mutex<Vec<Snapshot>>>,
    thread: Option<JoinHandle<()>>,
}

impl Recorder {
    pub fn start(etc: &Path, interval: Duration) -> Recorder {
        let stop = Arc::new(AtomicBool::new(false));
        let snaps: Arc<Mutex<Vec<Snapshot>>> = Arc::default();
        let (s, out, etc) = (stop.clone(), snaps.clone(), etc.to_path_buf());
        let thread = std::thread::spawn(move || {
            let mut source = headroom_engine::mta::postfix::Postfix::new(Some(etc));
            // At most an hour of samples, whatever happens.
            for _ in 0..(3600.0 / interval.as_secs_f64().max(0.1)) as usize {
                if s.load(Ordering::Relaxed) {
                    break;
                }
                let t0 = Instant::now();
                let ts = now();
                if let Ok(m) = source.sample() {
                    lock(&out).push(Snapshot {
                        ts,
                        mta: Some(m),
                        ..Default::default()
                    });
                }
                std::thread::sleep(interval.saturating_sub(t0.elapsed()));
            }
        });
        Recorder {
            stop,
            snaps,
            thread: Some(thread),
        }
    }

    pub fn stop(mut self) -> Vec<Snapshot> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        lock(&self.snaps).clone()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// What a scenario leaves for `bench/leadtime.sh`: `<name>.json` (the ramp, the first
/// failure, every line watch printed) and `<name>.snapshots.jsonl` (the recorded series).
pub struct Record<'a> {
    pub scenario: &'a str,
    pub description: &'a str,
    pub interval_s: f64,
    pub ramp_start: f64,
    /// When the test itself first saw the server fail, and how.
    pub failure: Option<(f64, String)>,
    pub end: f64,
    pub watch: &'a [Value],
    pub snapshots: &'a [Snapshot],
}

/// Where the scenarios write their records (HEADROOM_LEADTIME_DIR overrides).
pub fn leadtime_dir() -> PathBuf {
    let d = std::env::var_os("HEADROOM_LEADTIME_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| artifacts_dir().join("leadtime"));
    let _ = std::fs::create_dir_all(&d);
    d
}

impl Record<'_> {
    pub fn write(&self) -> PathBuf {
        let dir = leadtime_dir();
        let meta = json!({
            "scenario": self.scenario,
            "description": self.description,
            "interval_s": self.interval_s,
            "ramp_start": self.ramp_start,
            "failure_ts": self.failure.as_ref().map(|f| f.0),
            "failure": self.failure.as_ref().map(|f| f.1.clone()),
            "end": self.end,
            "watch": self.watch,
        });
        let path = dir.join(format!("{}.json", self.scenario));
        std::fs::write(
            &path,
            serde_json::to_string_pretty(&meta).expect("serialize"),
        )
        .expect("write record");
        let mut f = std::io::BufWriter::new(
            std::fs::File::create(dir.join(format!("{}.snapshots.jsonl", self.scenario)))
                .expect("create snapshots"),
        );
        for s in self.snapshots {
            let _ = writeln!(f, "{}", serde_json::to_string(s).expect("serialize"));
        }
        path
    }
}

/// The first alert (watch, warning or critical) on a mail item at or after `from`.
pub fn first_mail_alert(lines: &[Value], from: f64) -> Option<Value> {
    lines
        .iter()
        .find(|v| is_mail_alert(v) && v["ts"].as_f64().unwrap_or(0.0) >= from)
        .cloned()
}

/// Checks and prints the lead of the first alert over the first failure, and returns it.
/// The alert must come strictly before the failure and at least `min_share` of the
/// ramp ahead of it: relative to the ramp, so a slow CI box that stretches the ramp
/// stretches the expectation with it.
pub fn assert_lead(scenario: &str, lines: &[Value], ramp_start: f64, failure: f64, min_share: f64) {
    let ramp = failure - ramp_start;
    let alert = first_mail_alert(lines, ramp_start - 5.0).unwrap_or_else(|| {
        panic!(
            "{scenario}: no alert before the failure {ramp:.1} s into the ramp; watch said:\n{}",
            dump(lines)
        )
    });
    let at = alert["ts"].as_f64().unwrap_or(f64::MAX);
    let lead = failure - at;
    let first_warning = lines
        .iter()
        .find(|v| is_mail_alert(v) && v["level"] != "watch" && v["ts"].as_f64() >= Some(at))
        .map(|v| {
            format!(
                "{} {} at -{:.1} s",
                v["item"],
                v["level"],
                failure - v["ts"].as_f64().unwrap_or(0.0)
            )
        })
        .unwrap_or_else(|| "none".into());
    eprintln!(
        "{scenario}: ramp {ramp:.1} s; first alert {} {} {lead:.1} s before the failure ({:.0}% of the ramp); first warning/critical: {first_warning}",
        alert["item"],
        alert["level"],
        lead / ramp * 100.0
    );
    assert!(
        at < failure,
        "{scenario}: the first alert ({alert}) came after the failure at {failure}"
    );
    assert!(
        lead >= min_share * ramp,
        "{scenario}: lead {lead:.1} s is less than {:.0}% of the {ramp:.1} s ramp; watch said:\n{}",
        min_share * 100.0,
        dump(lines)
    );
}

pub fn dump(lines: &[Value]) -> String {
    lines
        .iter()
        .map(|v| {
            format!(
                "{:.1} {} {} -> {} ({})",
                v["ts"].as_f64().unwrap_or(0.0),
                v["item"],
                v["previous"],
                v["level"],
                v["message"].as_str().unwrap_or("")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The TOML of a watch on a private Postfix instance that also probes it every 5 s (as
/// an admin would; without a `[[probe]]` the default would probe 127.0.0.1:25). The
/// domain checks, on by default on a mail server, are off: these tests are not about
/// DNS, and on a host with a public address or domain they would ask the Internet.
pub fn postfix_config(etc: &Path, port: u16, interval_s: f64) -> String {
    format!(
        "[monitor]\ninterval_secs = {interval_s}\n\n[mta]\nkind = \"postfix\"\nconfig_dir = \"{}\"\n\n\
         [dns]\nwatch = false\n\n\
         [[probe]]\nname = \"instance\"\nhost = \"127.0.0.1\"\nport = {port}\ninterval_secs = 5\ntimeout_secs = 5\n",
        etc.display()
    )
}

// ---------------------------------------------------------------------------------------
// SMTP clients

/// How an attempt to get service ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// Connected, but no banner within the wait.
    NoBanner,
    /// A reply that is not the one wanted (421 at the banner, 452 at MAIL FROM, …).
    Reply(String),
    /// A command got no reply within the session's reply wait (the server is stuck,
    /// e.g. cleanup retrying a queue file it cannot create).
    NoReply(String),
    /// The connection failed or broke.
    Io(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::NoBanner => f.write_str("connected, no banner"),
            Refusal::Reply(r) => write!(f, "{r}"),
            Refusal::NoReply(cmd) => write!(f, "no reply to {cmd}"),
            Refusal::Io(e) => write!(f, "{e}"),
        }
    }
}

/// Opens `attempts` sessions to `port` one after the other (3 s banner wait each) and
/// keeps those that got a banner: how tests fill a server's smtpd processes.
pub fn hold_sessions(port: u16, attempts: usize) -> Vec<Session> {
    (0..attempts)
        .filter_map(|_| Session::open(port, Duration::from_secs(3)).ok())
        .collect()
}

/// An SMTP client session.
pub struct Session {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Session {
    /// Connects and waits up to `banner_wait` for a 220 banner.
    pub fn open(port: u16, banner_wait: Duration) -> Result<Session, Refusal> {
        let stream = TcpStream::connect_timeout(
            &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
            Duration::from_secs(5),
        )
        .map_err(|e| Refusal::Io(e.to_string()))?;
        stream
            .set_read_timeout(Some(banner_wait))
            .map_err(|e| Refusal::Io(e.to_string()))?;
        let reader = BufReader::new(stream.try_clone().map_err(|e| Refusal::Io(e.to_string()))?);
        let mut s = Session { stream, reader };
        let banner = match s.reply() {
            Ok(r) => r,
            Err(e) if e.contains("timed out") || e.contains("temporarily unavailable") => {
                return Err(Refusal::NoBanner)
            }
            Err(e) => return Err(Refusal::Io(e)),
        };
        if !banner.starts_with("220") {
            return Err(Refusal::Reply(banner));
        }
        let _ = s.stream.set_read_timeout(Some(Duration::from_secs(30)));
        Ok(s)
    }

    /// How long a command waits for its reply before it counts as [`Refusal::NoReply`].
    pub fn set_reply_wait(&mut self, wait: Duration) {
        let _ = self.stream.set_read_timeout(Some(wait));
    }

    fn reply_to(&mut self, cmd: &str) -> Result<String, Refusal> {
        self.reply().map_err(|e| {
            if e.contains("timed out") || e.contains("temporarily unavailable") {
                Refusal::NoReply(cmd.split(':').next().unwrap_or(cmd).to_string())
            } else {
                Refusal::Io(e)
            }
        })
    }

    /// Reads one reply; returns its last line.
    fn reply(&mut self) -> Result<String, String> {
        for _ in 0..100 {
            let mut line = String::new();
            let n = self
                .reader
                .read_line(&mut line)
                .map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("connection closed".into());
            }
            if line.len() < 4 || line.as_bytes()[3] != b'-' {
                return Ok(line.trim_end().to_string());
            }
        }
        Err("reply of more than 100 lines".into())
    }

    /// Sends one command; a reply other than `expect` (its first digit) is a refusal.
    pub fn command(&mut self, cmd: &str, expect: char) -> Result<String, Refusal> {
        write!(self.stream, "{cmd}\r\n").map_err(|e| Refusal::Io(e.to_string()))?;
        let r = self.reply_to(cmd)?;
        if r.starts_with(expect) {
            Ok(r)
        } else {
            Err(Refusal::Reply(r))
        }
    }

    pub fn ehlo(&mut self) -> Result<String, Refusal> {
        self.command("EHLO load.headroom.test", '2')
    }

    /// One message of about `size` bytes in this session (MAIL, RCPT, DATA, body).
    pub fn send(&mut self, rcpt: &str, size: usize) -> Result<(), Refusal> {
        self.command("MAIL FROM:<load@headroom.test>", '2')?;
        self.command(&format!("RCPT TO:<{rcpt}>"), '2')?;
        self.command("DATA", '3')?;
        let mut body = String::from("Subject: headroom load\r\n\r\n");
        while body.len() < size {
            body.push_str("headroom load test line, 64 bytes of it to fill the body....\r\n");
        }
        body.push_str(".\r\n");
        self.stream
            .write_all(body.as_bytes())
            .map_err(|e| Refusal::Io(e.to_string()))?;
        let r = self.reply_to("end of DATA")?;
        if r.starts_with('2') {
            Ok(())
        } else {
            Err(Refusal::Reply(r))
        }
    }

    pub fn quit(mut self) {
        let _ = self.command("QUIT", '2');
    }
}

/// A small deterministic pseudo-random sequence (so load patterns repeat run to run).
pub struct Lcg(u64);

impl Lcg {
    pub fn new(seed: u64) -> Lcg {
        Lcg(seed
            .wrapping_mul(2862933555777941757)
            .wrapping_add(3037000493))
    }
    /// Uniform in [0, 1).
    #[allow(clippy::should_implement_trait)] // an endless generator, not an Iterator
    pub fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

// ---------------------------------------------------------------------------------------
// Servers

/// A loopback SMTP server that accepts every message (a relayhost that delivers), or,
/// once [`SmtpServer::turn_busy`] is called, answers every new connection with
/// `421 4.3.2 System not accepting network messages` (a probe target that runs out of
/// capacity). Stops on drop; serves at most `max_connections`, each for at most 60 s.
pub struct SmtpServer {
    pub port: u16,
    stop: Arc<AtomicBool>,
    busy: Arc<AtomicBool>,
    /// Unix times (as f64 bits) at which a 421 was sent, the first 1000.
    refusals: Arc<Mutex<Vec<f64>>>,
    /// Messages accepted.
    pub accepted: Arc<AtomicU64>,
    sessions: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl SmtpServer {
    pub fn start(max_connections: u64) -> SmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let port = listener.local_addr().expect("addr").port();
        listener.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let busy = Arc::new(AtomicBool::new(false));
        let refusals: Arc<Mutex<Vec<f64>>> = Arc::default();
        let accepted = Arc::new(AtomicU64::new(0));
        let sessions = Arc::new(AtomicU64::new(0));
        let (s, b, r, a, n) = (
            stop.clone(),
            busy.clone(),
            refusals.clone(),
            accepted.clone(),
            sessions.clone(),
        );
        let thread = std::thread::spawn(move || {
            let end = Instant::now() + Duration::from_secs(900);
            let mut served = 0;
            while !s.load(Ordering::Relaxed) && Instant::now() < end && served < max_connections {
                match listener.accept() {
                    Ok((sock, _)) => {
                        served += 1;
                        let _ = sock.set_nonblocking(false);
                        if b.load(Ordering::Relaxed) {
                            let mut sock = sock;
                            let _ = sock
                                .write_all(b"421 4.3.2 System not accepting network messages\r\n");
                            let mut r = lock(&r);
                            if r.len() < 1000 {
                                r.push(now());
                            }
                            continue;
                        }
                        n.fetch_add(1, Ordering::Relaxed);
                        let a = a.clone();
                        std::thread::spawn(move || {
                            let _ = accept_all(sock, &a);
                        });
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(10))
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        SmtpServer {
            port,
            stop,
            busy,
            refusals,
            accepted,
            sessions,
            thread: Some(thread),
        }
    }

    /// From now on every new connection gets a 421 at the banner.
    pub fn turn_busy(&self) {
        self.busy.store(true, Ordering::Relaxed);
    }

    /// Connections served with a banner (not refused).
    pub fn accepted_sessions(&self) -> u64 {
        self.sessions.load(Ordering::Relaxed)
    }

    /// When each 421 was sent.
    pub fn refusals(&self) -> Vec<f64> {
        lock(&self.refusals).clone()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A well-behaved SMTP dialogue that accepts every message.
fn accept_all(sock: TcpStream, accepted: &AtomicU64) -> std::io::Result<()> {
    sock.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut w = sock.try_clone()?;
    let mut r = BufReader::new(sock);
    w.write_all(b"220 sink.headroom.test ESMTP\r\n")?;
    let mut in_data = false;
    for _ in 0..1_000_000 {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            break;
        }
        if in_data {
            if line == ".\r\n" || line == ".\n" {
                in_data = false;
                accepted.fetch_add(1, Ordering::Relaxed);
                w.write_all(b"250 2.0.0 Ok: queued\r\n")?;
            }
            continue;
        }
        let cmd = line.trim_end().to_ascii_uppercase();
        if cmd.starts_with("EHLO") {
            w.write_all(b"250-sink.headroom.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n")?;
        } else if cmd.starts_with("DATA") {
            in_data = true;
            w.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")?;
        } else if cmd.starts_with("QUIT") {
            w.write_all(b"221 2.0.0 Bye\r\n")?;
            break;
        } else {
            w.write_all(b"250 2.0.0 Ok\r\n")?;
        }
    }
    // Drain whatever the client still sends so it sees an orderly close.
    let mut rest = [0u8; 512];
    let _ = r.get_mut().read(&mut rest);
    Ok(())
}

//! A private OpenSMTPD for the adapter tests: Debian's `opensmtpd` unpacked with
//! `dpkg -x` into target/ (the package conflicts with Postfix as an installed package),
//! run in the foreground (`smtpd -d -f CONF`) with its own smtpd.conf, listening on a
//! loopback port and relaying to a closed loopback port so mail stays queued.
//!
//! OpenSMTPD 6.8 has its queue (/var/spool/smtpd) and control socket
//! (/var/run/smtpd.sock) compiled in, with no option to move them; neither is used by
//! Postfix, so the instance runs beside it, but only one can run at a time and not on a
//! host where OpenSMTPD itself is installed. Like the package's postinst, the harness
//! creates the `opensmtpd` and `opensmtpq` users and marks its smtpctl setgid
//! opensmtpq (smtpctl refuses to run otherwise).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::bins::{free_port, wait_for};
use crate::postfix::{is_root, listening, run};

pub const SPOOL: &str = "/var/spool/smtpd";
pub const SOCKET: &str = "/var/run/smtpd.sock";

/// Creates a system user (and its group) when missing, as a package's postinst would.
pub fn ensure_user(name: &str, home: &str) -> Result<(), String> {
    if run("/usr/bin/getent", &["passwd", name]).is_ok() {
        return Ok(());
    }
    run(
        "/usr/sbin/useradd",
        &[
            "--system",
            "--user-group",
            "--no-create-home",
            "--home-dir",
            home,
            "--shell",
            "/usr/sbin/nologin",
            name,
        ],
    )
    .map(|_| ())
}

/// Why a private OpenSMTPD cannot run here, or `None` when it can.
pub fn unavailable() -> Option<String> {
    if !is_root() {
        return Some(
            "the OpenSMTPD tests need root (smtpd runs as root, creates its users)".into(),
        );
    }
    if Path::new("/usr/sbin/smtpd").exists() {
        return Some(
            "OpenSMTPD is installed here: its compiled-in /var/spool/smtpd and /var/run/smtpd.sock belong to it".into(),
        );
    }
    if Path::new(SOCKET).exists() {
        return Some(format!(
            "{SOCKET} exists: another OpenSMTPD runs (only one can, its paths are compiled in)"
        ));
    }
    None
}

pub struct OpenSmtpd {
    pub root: PathBuf,
    pub conf: PathBuf,
    pub port: u16,
    pub dir: tempfile::TempDir,
    child: Child,
}

impl OpenSmtpd {
    pub fn smtpctl(&self) -> PathBuf {
        self.root.join("usr/sbin/smtpctl")
    }

    pub fn start() -> Result<OpenSmtpd, String> {
        let root = crate::debs::unpack("opensmtpd", &["opensmtpd"], "usr/sbin/smtpd")?;
        for u in ["opensmtpd", "opensmtpq"] {
            ensure_user(u, "/var/lib/opensmtpd/empty")?;
        }
        std::fs::create_dir_all("/var/lib/opensmtpd/empty").map_err(|e| e.to_string())?;
        let ctl = root.join("usr/sbin/smtpctl").to_string_lossy().into_owned();
        run("/usr/bin/chown", &["root:opensmtpq", &ctl])?;
        run("/usr/bin/chmod", &["2755", &ctl])?;
        let dir = tempfile::Builder::new()
            .prefix("hr-osmtpd-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let port = free_port();
        let conf = dir.path().join("smtpd.conf");
        std::fs::write(
            &conf,
            format!(
                "listen on 127.0.0.1 port {port}\n\
                 action \"relay\" relay host smtp://127.0.0.1:9\n\
                 match from any for any action \"relay\"\n"
            ),
        )
        .map_err(|e| e.to_string())?;
        let log = std::fs::File::create(dir.path().join("smtpd.log")).map_err(|e| e.to_string())?;
        let child = Command::new(root.join("usr/sbin/smtpd"))
            .args(["-d", "-f", &conf.to_string_lossy()])
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("smtpd: {e}"))?;
        let mut o = OpenSmtpd {
            root,
            conf,
            port,
            dir,
            child,
        };
        let up = wait_for(Duration::from_secs(10), || {
            (listening(port) && Path::new(SOCKET).exists()).then_some(())
        });
        if up.is_none() {
            let _ = o.child.kill();
            return Err(format!("smtpd never listened on {port}: {}", o.log()));
        }
        Ok(o)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("smtpd.log")).unwrap_or_default()
    }

    /// Opens a session and reads the banner.
    pub fn connect(&self) -> Result<(TcpStream, String), String> {
        let s = TcpStream::connect(("127.0.0.1", self.port)).map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .map_err(|e| e.to_string())?;
        let mut line = String::new();
        BufReader::new(s.try_clone().map_err(|e| e.to_string())?)
            .read_line(&mut line)
            .map_err(|e| format!("no banner: {e}"))?;
        Ok((s, line.trim_end().to_string()))
    }

    /// Sends `n` messages over SMTP, one command at a time (OpenSMTPD refuses
    /// pipelining from clients that did not ask for it); each one defers.
    pub fn inject(&self, n: usize) -> Result<(), String> {
        for i in 0..n {
            let (mut s, banner) = self.connect()?;
            if !banner.starts_with("220") {
                return Err(format!("banner: {banner}"));
            }
            let data = format!("Subject: headroom test {i}\r\n\r\nbody {i}\r\n.");
            let rcpt = format!("RCPT TO:<r{i}@defer{}.example>", i % 3);
            for (cmd, want) in [
                ("EHLO headroom.test", "250"),
                ("MAIL FROM:<a@headroom.test>", "250"),
                (rcpt.as_str(), "250"),
                ("DATA", "354"),
                (data.as_str(), "250"),
                ("QUIT", "221"),
            ] {
                let reply = command(&mut s, cmd)?;
                if !reply.starts_with(want) {
                    return Err(format!("{cmd:?} answered {reply}"));
                }
            }
        }
        Ok(())
    }
}

/// Sends one command and returns the last line of the reply.
pub fn command(s: &mut TcpStream, cmd: &str) -> Result<String, String> {
    write!(s, "{cmd}\r\n").map_err(|e| e.to_string())?;
    let mut r = BufReader::new(s.try_clone().map_err(|e| e.to_string())?);
    loop {
        let mut line = String::new();
        r.read_line(&mut line).map_err(|e| e.to_string())?;
        if line.len() < 4 || line.as_bytes()[3] != b'-' {
            return Ok(line.trim_end().to_string());
        }
    }
}

impl Drop for OpenSmtpd {
    fn drop(&mut self) {
        // smtpd -d stops with its children on SIGTERM.
        let _ = run("/bin/kill", &[&self.child.id().to_string()]);
        let _ = wait_for(Duration::from_secs(10), || {
            self.child.try_wait().ok().flatten()
        });
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The compiled-in paths are ours only while the test runs.
        let _ = std::fs::remove_dir_all(SPOOL);
        let _ = std::fs::remove_file(SOCKET);
    }
}

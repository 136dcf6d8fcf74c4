//! A private Postfix instance per test, exactly as DESIGN.md ("Testing") describes:
//! its own etc/, queue and data directories in a temporary directory, smtpd on
//! 127.0.0.1:PORT, started with `postfix -c ETC start` and stopped on drop.
//!
//! Minimal on purpose (the probe tests need start, extra parameters and stop); also a
//! postgrey policy server on a loopback port for greylisting tests. Root only, like the
//! Debian package: the tests that use it say so when they cannot run.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::bins::{free_port, wait_for};

pub struct Postfix {
    pub port: u16,
    pub etc: PathBuf,
    dir: tempfile::TempDir,
}

/// Why Postfix tests cannot run here, or `None` when they can.
pub fn unavailable() -> Option<String> {
    if !Path::new("/usr/sbin/postfix").exists() {
        return Some(
            "Postfix is not installed (make test installs it: scripts/deps.sh test)".into(),
        );
    }
    // Root check without unsafe code: the effective uid from /proc.
    let uid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(str::to_string))
        })
        .unwrap_or_default();
    if uid != "0" {
        return Some("private Postfix instances need root (postfix -c ETC start)".into());
    }
    None
}

fn run(cmd: &mut Command) -> Result<String, String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{cmd:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

impl Postfix {
    /// Starts an instance with `params` (`name=value`) on top of the private defaults.
    pub fn start(params: &[&str]) -> Result<Postfix, String> {
        let dir = tempfile::Builder::new()
            .prefix("hr-pf-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let root = dir.path().to_path_buf();
        let etc = root.join("etc");
        for d in ["etc", "queue", "data"] {
            std::fs::create_dir_all(root.join(d)).map_err(|e| e.to_string())?;
        }
        run(Command::new("chown").arg("postfix").arg(root.join("data")))?;
        for f in ["main.cf", "master.cf"] {
            std::fs::copy(Path::new("/etc/postfix").join(f), etc.join(f))
                .map_err(|e| format!("copy /etc/postfix/{f}: {e}"))?;
        }
        let port = free_port();
        let name = format!(
            "hr{}",
            root.file_name()
                .map(|n| n
                    .to_string_lossy()
                    .replace(|c: char| !c.is_ascii_alphanumeric(), ""))
                .unwrap_or_default()
        );
        let r = root.display();
        let mut all: Vec<String> = vec![
            format!("queue_directory={r}/queue"),
            format!("data_directory={r}/data"),
            "inet_interfaces=127.0.0.1".into(),
            "inet_protocols=ipv4".into(),
            "mydestination=".into(),
            format!("multi_instance_name={name}"),
            format!("syslog_name=postfix-{name}"),
            format!("maillog_file={r}/maillog"),
            format!("maillog_file_prefixes={r}"),
            // Nothing leaves the machine: every delivery goes to a closed loopback port.
            "relayhost=[127.0.0.1]:9".into(),
            // Debian's "Local only" sets these to `error`, which rejects every
            // non-local recipient at RCPT.
            "default_transport=smtp".into(),
            "relay_transport=smtp".into(),
            "smtp_connect_timeout=1s".into(),
            "smtpd_banner=$myhostname ESMTP Headroom test".into(),
        ];
        all.extend(params.iter().map(|s| s.to_string()));
        let mut cmd = Command::new("postconf");
        cmd.arg("-c").arg(&etc).arg("-e").args(&all);
        run(&mut cmd)?;
        run(Command::new("postconf")
            .arg("-c")
            .arg(&etc)
            .arg("-M#")
            .arg("smtp/inet"))?;
        let mut master =
            std::fs::read_to_string(etc.join("master.cf")).map_err(|e| e.to_string())?;
        master.push_str(&format!("127.0.0.1:{port} inet n - n - 100 smtpd\n"));
        std::fs::write(etc.join("master.cf"), master).map_err(|e| e.to_string())?;
        let pf = Postfix { port, etc, dir };
        if let Err(e) = run(Command::new("postfix").arg("-c").arg(&pf.etc).arg("start")) {
            return Err(format!("{e}\nmaillog:\n{}", pf.maillog()));
        }
        let up = wait_for(Duration::from_secs(15), || {
            TcpStream::connect(("127.0.0.1", port)).ok().map(|_| ())
        });
        if up.is_none() {
            return Err(format!("smtpd did not listen on {port}\n{}", pf.maillog()));
        }
        Ok(pf)
    }

    pub fn maillog(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("maillog")).unwrap_or_default()
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let _ = Command::new("postfix")
            .arg("-c")
            .arg(&self.etc)
            .arg("stop")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// postgrey on a loopback TCP port, stopped on drop.
pub struct Postgrey {
    pub port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Postgrey {
    pub fn start() -> Result<Postgrey, String> {
        let bin = Path::new("/usr/sbin/postgrey");
        if !bin.exists() {
            return Err("postgrey is not installed (apt-get install postgrey)".into());
        }
        let dir = tempfile::Builder::new()
            .prefix("hr-grey-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        // postgrey drops to its own user, which must own the database directory.
        run(Command::new("chown").arg("postgrey").arg(dir.path()))?;
        let port = free_port();
        let child = Command::new(bin)
            .arg(format!("--inet=127.0.0.1:{port}"))
            .arg(format!("--dbdir={}", dir.path().display()))
            .arg(format!("--pidfile={}/postgrey.pid", dir.path().display()))
            .arg("--delay=300")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("postgrey: {e}"))?;
        let mut g = Postgrey {
            port,
            child,
            _dir: dir,
        };
        let up = wait_for(Duration::from_secs(15), || {
            TcpStream::connect(("127.0.0.1", port)).ok().map(|_| ())
        });
        if up.is_none() {
            let _ = g.child.kill();
            return Err(format!("postgrey did not listen on 127.0.0.1:{port}"));
        }
        Ok(g)
    }
}

impl Drop for Postgrey {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

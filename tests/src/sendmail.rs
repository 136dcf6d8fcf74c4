//! A private Sendmail for the adapter tests: Debian's `sendmail-bin` and `sendmail-cf`
//! unpacked with `dpkg -x` into target/ (the packages conflict with Postfix as
//! installed packages), a sendmail.cf built with m4 from the unpacked cf macros, and
//! the daemon run with `-C` on a loopback port, its queue and pid file in a temporary
//! directory, relaying to a closed loopback port so mail stays queued.
//!
//! Sendmail sleeps 60 s at start ("My unqualified host name (vm) unknown; sleeping for
//! retry") when the host's name has no domain, as on this machine; the daemon is given
//! a qualified name of its own in a private UTS namespace (`unshare --uts`), leaving
//! the host's name alone.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::bins::{free_port, wait_for};
use crate::debs::unpack;
use crate::opensmtpd::command;
use crate::postfix::{is_root, listening, run};

/// Why a private Sendmail cannot run here, or `None` when it can.
pub fn unavailable() -> Option<String> {
    if !is_root() {
        return Some("the Sendmail tests need root (daemon as root, private UTS namespace)".into());
    }
    if !std::path::Path::new("/usr/bin/m4").exists() {
        return Some("m4 is not installed (apt-get install m4; scripts/deps.sh test)".into());
    }
    None
}

pub struct Sendmail {
    pub root: PathBuf,
    pub cf: PathBuf,
    pub queue: PathBuf,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl Sendmail {
    /// Starts `sendmail -bd` with these m4 `define`s (e.g. "confMAX_DAEMON_CHILDREN', `5").
    pub fn start(defines: &[(&str, &str)]) -> Result<Sendmail, String> {
        let root = unpack(
            "sendmail",
            &["sendmail-bin", "sendmail-cf"],
            "usr/libexec/sendmail/sendmail",
        )?;
        let dir = tempfile::Builder::new()
            .prefix("hr-sendmail-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let d = dir.path().display().to_string();
        let queue = dir.path().join("mqueue");
        std::fs::create_dir_all(&queue).map_err(|e| e.to_string())?;
        run("/usr/bin/chmod", &["700", &queue.to_string_lossy()])?;
        std::fs::write(
            dir.path().join("service.switch"),
            "hosts files\naliases files\n",
        )
        .map_err(|e| e.to_string())?;
        let port = free_port();
        let mut mc = String::from("divert(0)dnl\nOSTYPE(`linux')dnl\n");
        for (k, v) in [
            ("confDOMAIN_NAME", "headroom.test"),
            ("confSERVICE_SWITCH_FILE", &format!("{d}/service.switch")),
            ("confPID_FILE", &format!("{d}/sendmail.pid")),
            ("STATUS_FILE", &format!("{d}/statistics")),
            ("QUEUE_DIR", &queue.display().to_string()),
            ("confDONT_PROBE_INTERFACES", "True"),
            ("SMART_HOST", "[127.0.0.1]"),
            ("RELAY_MAILER_ARGS", "TCP $h 9"),
            ("ESMTP_MAILER_ARGS", "TCP $h 9"),
        ]
        .into_iter()
        .chain(defines.iter().copied())
        {
            mc.push_str(&format!("define(`{k}', `{v}')dnl\n"));
        }
        mc.push_str(&format!(
            "DAEMON_OPTIONS(`Port={port}, Addr=127.0.0.1, Name=MTA')dnl\n\
             FEATURE(`no_default_msa')dnl\nFEATURE(`promiscuous_relay')dnl\n\
             FEATURE(`accept_unresolvable_domains')dnl\nMAILER(`smtp')dnl\n"
        ));
        let mc_path = dir.path().join("headroom.mc");
        std::fs::write(&mc_path, mc).map_err(|e| e.to_string())?;
        let cf_dir = root.join("usr/share/sendmail/cf");
        let out = Command::new("/usr/bin/m4")
            .arg(format!("-D_CF_DIR_={}/", cf_dir.display()))
            .arg(cf_dir.join("m4/cf.m4"))
            .arg(&mc_path)
            .output()
            .map_err(|e| format!("m4: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "m4 failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let cf = dir.path().join("sendmail.cf");
        std::fs::write(&cf, &out.stdout).map_err(|e| e.to_string())?;
        let s = Sendmail {
            root,
            cf,
            queue,
            port,
            dir,
        };
        let bin = s.root.join("usr/libexec/sendmail/sendmail");
        let out = Command::new("/usr/bin/unshare")
            .args([
                "--uts",
                "--",
                "/bin/sh",
                "-c",
                "hostname headroom.test && exec \"$0\" \"$@\"",
            ])
            .arg(&bin)
            .args(["-C", &s.cf.to_string_lossy(), "-bd"])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("unshare: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "sendmail -bd in a private UTS namespace failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        wait_for(Duration::from_secs(10), || listening(port).then_some(()))
            .ok_or_else(|| format!("sendmail never listened on {port}"))?;
        Ok(s)
    }

    pub fn pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.dir.path().join("sendmail.pid"))
            .ok()?
            .lines()
            .next()?
            .trim()
            .parse()
            .ok()
    }

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

    /// Sends `n` messages over SMTP; each one defers (the relay is a closed port).
    pub fn inject(&self, n: usize) -> Result<(), String> {
        for i in 0..n {
            let (mut s, banner) = self.connect()?;
            if !banner.starts_with("220") {
                return Err(format!("banner: {banner}"));
            }
            let data = format!("Subject: headroom test {i}\r\n\r\nbody {i}\r\n.");
            let rcpt = format!("RCPT TO:<r{i}@defer{}.example>", i % 3);
            for (cmd, want) in [
                ("EHLO client.headroom.test", "250"),
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
            let _ = s.flush();
        }
        Ok(())
    }
}

impl Drop for Sendmail {
    fn drop(&mut self) {
        if let Some(pid) = self.pid() {
            let _ = run("/bin/kill", &[&pid.to_string()]);
        }
    }
}

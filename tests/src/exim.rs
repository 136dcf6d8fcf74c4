//! A private Exim for the adapter tests: Debian's exim4-daemon-light unpacked with
//! `dpkg -x` (so it does not replace Postfix), run as root with its own configuration
//! (`-C`), spool and log under a temporary directory, listening on a loopback port.
//! Exim looks up its compiled-in user `Debian-exim` before reading any configuration,
//! so the harness creates that system user when it is missing (what the package's
//! postinst would do).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::bins::{free_port, wait_for};
use crate::postfix::{is_root, listening, run};

/// The unpacked binary: `HEADROOM_EXIM`, or Debian's package unpacked into target/.
pub fn binary() -> Result<PathBuf, String> {
    let bin = match std::env::var_os("HEADROOM_EXIM") {
        Some(p) => PathBuf::from(p),
        None => {
            if !is_root() {
                return Err(
                    "the Exim tests need root (daemon on a loopback port, Debian-exim user)".into(),
                );
            }
            crate::debs::unpack(
                "exim",
                &["exim4-daemon-light", "exim4-base", "exim4-config"],
                "usr/sbin/exim4",
            )?
            .join("usr/sbin/exim4")
        }
    };
    // Every exim run, `-bP` included, needs the user: a test that only reads settings
    // would otherwise pass or fail by whether a daemon test ran first.
    ensure_user()?;
    Ok(bin)
}

fn ensure_user() -> Result<(), String> {
    if run("/usr/bin/getent", &["passwd", "Debian-exim"]).is_ok() {
        return Ok(());
    }
    run(
        "/usr/sbin/useradd",
        &[
            "--system",
            "--user-group",
            "--no-create-home",
            "--home-dir",
            "/var/spool/exim4",
            "--shell",
            "/usr/sbin/nologin",
            "Debian-exim",
        ],
    )
    .map(|_| ())
}

pub struct Exim {
    pub bin: PathBuf,
    pub conf: PathBuf,
    pub port: u16,
    pub spool: PathBuf,
    pub dir: tempfile::TempDir,
}

impl Exim {
    /// Starts `exim -bd` with `settings` (main-section lines) added to a minimal config
    /// whose router sends everything to a closed loopback port, so mail stays queued.
    pub fn start(settings: &[&str]) -> Result<Exim, String> {
        let bin = binary()?;
        let dir = tempfile::Builder::new()
            .prefix("hr-exim-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let d = dir.path();
        let spool = d.join("spool");
        std::fs::create_dir_all(&spool).map_err(|e| e.to_string())?;
        std::fs::create_dir_all(d.join("log")).map_err(|e| e.to_string())?;
        let port = free_port();
        let conf = d.join("exim.conf");
        let text = format!(
            "keep_environment =\nexim_user = Debian-exim\nexim_group = Debian-exim\n\
             spool_directory = {spool}\nlog_file_path = {d}/log/%slog\npid_file_path = {d}/exim.pid\n\
             daemon_smtp_ports = {port}\nlocal_interfaces = 127.0.0.1\nprimary_hostname = headroom.test\n\
             acl_smtp_rcpt = accept\nqueue_only = true\n{extra}\n\
             begin routers\nr:\n  driver = manualroute\n  route_list = * 127.0.0.1::9\n  transport = t\n  self = send\n\
             begin transports\nt:\n  driver = smtp\n  port = 9\n  allow_localhost\n",
            spool = spool.display(),
            d = d.display(),
            extra = settings.join("\n"),
        );
        std::fs::write(&conf, text).map_err(|e| e.to_string())?;
        run(
            "/usr/bin/chown",
            &[
                "-R",
                "Debian-exim:Debian-exim",
                &spool.to_string_lossy(),
                &d.join("log").to_string_lossy(),
            ],
        )?;
        let e = Exim {
            bin,
            conf,
            port,
            spool,
            dir,
        };
        run(
            &e.bin.to_string_lossy(),
            &["-C", &e.conf.to_string_lossy(), "-bd"],
        )?;
        wait_for(Duration::from_secs(10), || listening(port).then_some(()))
            .ok_or_else(|| format!("exim never listened on {port}: {}", e.mainlog()))?;
        Ok(e)
    }

    pub fn mainlog(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log/mainlog")).unwrap_or_default()
            + &std::fs::read_to_string(self.dir.path().join("log/paniclog")).unwrap_or_default()
    }

    /// Queues `n` messages (`exim -odq`): they stay in the spool.
    pub fn inject(&self, n: usize) -> Result<(), String> {
        use std::io::Write;
        for i in 0..n {
            let mut c = std::process::Command::new(&self.bin)
                .args([
                    "-C",
                    &self.conf.to_string_lossy(),
                    "-odq",
                    "-f",
                    "a@headroom.test",
                    &format!("r{i}@defer.example"),
                ])
                .stdin(std::process::Stdio::piped())
                .spawn()
                .map_err(|e| e.to_string())?;
            if let Some(mut s) = c.stdin.take() {
                let _ = writeln!(s, "Subject: t{i}\n\nbody");
            }
            c.wait().map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    fn pid(&self) -> Option<String> {
        std::fs::read_to_string(self.dir.path().join("exim.pid"))
            .ok()
            .map(|s| s.trim().to_string())
    }

    pub fn conf_path(&self) -> &Path {
        &self.conf
    }
}

impl Drop for Exim {
    fn drop(&mut self) {
        if let Some(pid) = self.pid() {
            let _ = run("/bin/kill", &[&pid]);
        }
    }
}

//! Private Postfix instances for the MTA adapter tests (DESIGN.md "Testing"): each test
//! gets its own etc/, queue and data directories, smtpd on 127.0.0.1:PORT with its own
//! maxproc, relayhost on a closed loopback port so every message defers, started with
//! `postfix -c ETC start` and stopped (tmpfs unmounted) on drop. Root only, like the
//! Debian package; [`unavailable`] says why a test cannot run.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::bins::{free_port, wait_for};

pub struct Instance {
    pub port: u16,
    pub etc: PathBuf,
    pub queue: PathBuf,
    pub dir: tempfile::TempDir,
    tmpfs: bool,
}

/// Why private Postfix instances cannot run here, or `None` when they can.
pub fn unavailable() -> Option<String> {
    if !Path::new("/usr/sbin/postfix").exists() {
        return Some("Postfix is not installed (apt-get install postfix)".into());
    }
    if !is_root() {
        return Some("private Postfix instances need root (postfix -c ETC start)".into());
    }
    None
}

pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

pub fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{program} {args:?}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{program} {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// How to build an instance.
pub struct Options<'a> {
    pub maxproc: &'a str,
    pub params: &'a [&'a str],
    /// Extra master.cf lines (`{PORT2}` is replaced by a second free port).
    pub master_lines: &'a [&'a str],
    /// Mount a tmpfs of this many MiB as the queue directory (root, CAP_SYS_ADMIN).
    pub tmpfs_queue_mib: Option<u64>,
}

impl Default for Options<'_> {
    fn default() -> Self {
        Options {
            maxproc: "100",
            params: &[],
            master_lines: &[],
            tmpfs_queue_mib: None,
        }
    }
}

impl Instance {
    /// Starts with the queue on a tmpfs of its own (`mib` MiB), so how full the test
    /// box's disk is does not enter the scenario; where no tmpfs can be mounted, on the
    /// disk, said on stderr. The flag says whether the queue is on the tmpfs.
    pub fn start_with_tmpfs_queue(o: &Options<'_>, mib: u64) -> (Instance, bool) {
        let on_tmpfs = Options {
            tmpfs_queue_mib: Some(mib),
            ..*o
        };
        match Instance::start(&on_tmpfs) {
            Ok(pf) => (pf, true),
            Err(e) if e.contains("mount") => {
                eprintln!("no tmpfs queue here ({e}); the queue is on the test box's disk");
                (Instance::start(o).expect("private postfix starts"), false)
            }
            Err(e) => panic!("{e}"),
        }
    }

    pub fn start(o: &Options<'_>) -> Result<Instance, String> {
        let dir = tempfile::Builder::new()
            .prefix("hr-pf-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let etc = dir.path().join("etc");
        let queue = dir.path().join("queue");
        let data = dir.path().join("data");
        for d in [&etc, &queue, &data] {
            std::fs::create_dir_all(d).map_err(|e| e.to_string())?;
        }
        let mut tmpfs = false;
        if let Some(mib) = o.tmpfs_queue_mib {
            run(
                "/usr/bin/mount",
                &[
                    "-t",
                    "tmpfs",
                    "-o",
                    &format!("size={mib}m,mode=755"),
                    "tmpfs",
                    &queue.to_string_lossy(),
                ],
            )?;
            tmpfs = true;
        }
        run("/usr/bin/chown", &["postfix", &data.to_string_lossy()])?;
        for f in ["main.cf", "master.cf"] {
            std::fs::copy(Path::new("/etc/postfix").join(f), etc.join(f))
                .map_err(|e| e.to_string())?;
        }
        let name: String = dir
            .path()
            .file_name()
            .map(|n| {
                n.to_string_lossy()
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric())
                    .collect()
            })
            .unwrap_or_default();
        let port = free_port();
        let e = etc.to_string_lossy().to_string();
        let d = dir.path().to_string_lossy().to_string();
        let mut params = vec![
            format!("queue_directory={}", queue.display()),
            format!("data_directory={}", data.display()),
            "inet_interfaces=127.0.0.1".into(),
            "inet_protocols=ipv4".into(),
            "mydestination=".into(),
            format!("multi_instance_name=hr{name}"),
            format!("syslog_name=postfix-hr{name}"),
            format!("maillog_file={d}/maillog"),
            format!("maillog_file_prefixes={d}"),
            // Debian's "Local only" setup sends everything to the error transport.
            "default_transport=smtp".into(),
            "relay_transport=smtp".into(),
            "relayhost=[127.0.0.1]:9".into(),
            "smtp_connect_timeout=2s".into(),
        ];
        params.extend(o.params.iter().map(|s| s.to_string()));
        let mut args: Vec<&str> = vec!["-c", &e, "-e"];
        args.extend(params.iter().map(String::as_str));
        run("/usr/sbin/postconf", &args)?;
        run("/usr/sbin/postconf", &["-c", &e, "-M#", "smtp/inet"])?;
        let mut master =
            std::fs::read_to_string(etc.join("master.cf")).map_err(|e| e.to_string())?;
        master.push_str(&format!(
            "127.0.0.1:{port} inet n - n - {} smtpd\n",
            o.maxproc
        ));
        for l in o.master_lines {
            master.push_str(&l.replace("{PORT2}", &free_port().to_string()));
            master.push('\n');
        }
        std::fs::write(etc.join("master.cf"), master).map_err(|e| e.to_string())?;
        let inst = Instance {
            port,
            etc,
            queue,
            dir,
            tmpfs,
        };
        if let Err(e) = run("/usr/sbin/postfix", &["-c", &inst.etc_str(), "start"]) {
            return Err(format!("{e}\nmaillog:\n{}", inst.maillog()));
        }
        // Wait for the listening socket without connecting: a test connection would
        // leave an idle smtpd behind and spoil exact process counts.
        wait_for(Duration::from_secs(10), || listening(port).then_some(()))
            .ok_or_else(|| format!("smtpd never listened on {port}\n{}", inst.maillog()))?;
        Ok(inst)
    }

    pub fn etc_str(&self) -> String {
        self.etc.to_string_lossy().into_owned()
    }

    pub fn maillog(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("maillog")).unwrap_or_default()
    }

    pub fn postconf(&self, name: &str) -> String {
        run("/usr/sbin/postconf", &["-c", &self.etc_str(), "-xh", name])
            .unwrap_or_default()
            .trim()
            .to_string()
    }

    /// `postconf -e` then `postfix reload`.
    pub fn set(&self, params: &[&str]) -> Result<(), String> {
        let e = self.etc_str();
        let mut args = vec!["-c", e.as_str(), "-e"];
        args.extend(params);
        run("/usr/sbin/postconf", &args)?;
        run("/usr/sbin/postfix", &["-c", &e, "reload"]).map(|_| ())
    }

    /// Submits `n` messages with the instance's own sendmail (postdrop → pickup).
    pub fn inject(&self, n: usize) -> Result<(), String> {
        for i in 0..n {
            let mut child = Command::new("/usr/sbin/sendmail")
                .args([
                    "-C",
                    &self.etc_str(),
                    "-f",
                    "sender@headroom.test",
                    &format!("rcpt{i}@defer{}.example", i % 3),
                ])
                .stdin(Stdio::piped())
                .spawn()
                .map_err(|e| e.to_string())?;
            if let Some(mut s) = child.stdin.take() {
                let _ = writeln!(s, "Subject: headroom test {i}\n\nbody {i}");
            }
            let st = child.wait().map_err(|e| e.to_string())?;
            if !st.success() {
                return Err(format!("sendmail exited {st}"));
            }
        }
        Ok(())
    }

    /// Deferred messages according to `postqueue -j` (an independent count).
    pub fn postqueue_deferred(&self) -> usize {
        run("/usr/sbin/postqueue", &["-c", &self.etc_str(), "-j"])
            .map(|o| {
                o.lines()
                    .filter(|l| l.contains("\"queue_name\": \"deferred\""))
                    .count()
            })
            .unwrap_or(0)
    }

    /// Files below a queue directory, counted like `find DIR -type f | wc -l`.
    pub fn find_files(&self, queue: &str) -> usize {
        fn walk(p: &Path) -> usize {
            std::fs::read_dir(p)
                .map(|rd| {
                    rd.flatten()
                        .map(|e| {
                            let path = e.path();
                            if path.is_dir() {
                                walk(&path)
                            } else {
                                1
                            }
                        })
                        .sum()
                })
                .unwrap_or(0)
        }
        walk(&self.queue.join(queue))
    }

    /// Opens an SMTP session and reads the banner (or the rejection) line.
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

    pub fn stop(&self) {
        let _ = run("/usr/sbin/postfix", &["-c", &self.etc_str(), "stop"]);
    }
}

/// Whether something listens on 127.0.0.1:`port` (from /proc/net/tcp).
pub fn listening(port: u16) -> bool {
    let needle = format!("0100007F:{port:04X} 00000000:0000 0A");
    std::fs::read_to_string("/proc/net/tcp").is_ok_and(|t| t.contains(&needle))
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.stop();
        if self.tmpfs {
            // The master may take a moment to let go of the queue directory.
            for _ in 0..20 {
                if run("/usr/bin/umount", &[&self.queue.to_string_lossy()]).is_ok() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(250));
            }
        }
    }
}

//! Postfix read from outside: limits from `postconf` (cached until main.cf or master.cf
//! change), smtpd processes per service from /proc, listen backlog and per-client
//! connections from /proc/net/tcp{,6}, queue counts from directory entries (or the
//! latest `postqueue -j` listing when the directories are not readable), and free space
//! and inodes of the queue filesystem.

pub mod config;
pub mod queue;
pub mod showq;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

pub use config::{MasterService, PostfixConfig};

use crate::mta::procfs::{self, Process};
use crate::mta::{
    command, CountMethod, Limit, MtaError, MtaKind, MtaSample, MtaSource, MtaState, QueueFs,
    QueueLister, ServiceSample,
};
use crate::mta::{service_port, sockets};

pub struct Postfix {
    config_dir: Option<PathBuf>,
    postconf: Option<PathBuf>,
    postqueue: Option<PathBuf>,
    cached: Option<(Stamp, Result<PostfixConfig, MtaError>, Instant)>,
    /// Shared with the lister: the latest directory count of the queue.
    counted: Arc<AtomicU64>,
}

/// What postconf's answers depend on: main.cf and master.cf (modification time, inode
/// and size, so a file replaced with its old mtime kept is seen too) and the postconf
/// binary (an upgrade changes mail_version).
type Stamp = [Option<(SystemTime, u64, u64)>; 3];

/// A failed postconf run is retried this often even when nothing changed (a fixed
/// permission, a postconf that timed out), rather than every tick.
const RETRY_FAILED_POSTCONF: Duration = Duration::from_secs(60);

/// Where postconf is installed (the Postfix adapter, its log-file lookup and the
/// settings the domain checks ask for all run this one).
pub fn find_postconf() -> Option<PathBuf> {
    command::find_program(&["/usr/sbin/postconf", "/usr/local/sbin/postconf"])
}

impl Postfix {
    /// `config_dir`: another instance's configuration directory (`postconf -c DIR`).
    pub fn new(config_dir: Option<PathBuf>) -> Self {
        Postfix {
            config_dir,
            postconf: find_postconf(),
            postqueue: command::find_program(&["/usr/sbin/postqueue", "/usr/local/sbin/postqueue"]),
            cached: None,
            counted: Arc::new(AtomicU64::new(showq::NOT_COUNTED)),
        }
    }

    fn config_path(&self) -> PathBuf {
        self.config_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("/etc/postfix"))
    }

    fn stamp(&self, postconf: &Path) -> Stamp {
        use std::os::unix::fs::MetadataExt;
        let dir = self.config_path();
        let of = |p: &Path| {
            let m = std::fs::metadata(p).ok()?;
            Some((m.modified().ok()?, m.ino(), m.len()))
        };
        [
            of(&dir.join("main.cf")),
            of(&dir.join("master.cf")),
            of(postconf),
        ]
    }

    /// The instance's configuration, read with postconf only when main.cf, master.cf or
    /// postconf itself changed (a failure is retried every minute): no process is
    /// started on an ordinary tick.
    pub fn config(&mut self) -> Result<&PostfixConfig, MtaError> {
        let Some(postconf) = self.postconf.clone() else {
            return Err(MtaError::NotInstalled(
                "postconf not found in /usr/sbin or /usr/local/sbin: is Postfix installed?".into(),
            ));
        };
        let stamp = self.stamp(&postconf);
        let fresh = match &self.cached {
            Some((s, Ok(_), _)) => *s == stamp && stamp[0].is_some(),
            Some((s, Err(_), at)) => *s == stamp && at.elapsed() < RETRY_FAILED_POSTCONF,
            None => false,
        };
        if !fresh {
            let c = config::read(&postconf, self.config_dir.as_deref());
            self.cached = Some((stamp, c, Instant::now()));
        }
        match &self.cached {
            Some((_, Ok(c), _)) => Ok(c),
            Some((_, Err(e), _)) => Err(e.clone()),
            None => Err(MtaError::NotRead("postconf was not run".into())),
        }
    }
}

impl MtaSource for Postfix {
    fn sample(&mut self) -> Result<MtaSample, MtaError> {
        let s = sample_with(self.config()?);
        let counted = match &s.queue {
            Some(q) if q.method == CountMethod::Directory => q.total(),
            _ => showq::NOT_COUNTED,
        };
        self.counted.store(counted, Ordering::Relaxed);
        Ok(s)
    }

    fn lister(&self) -> Option<Box<dyn QueueLister>> {
        let mut l = showq::PostqueueLister::new(self.postqueue.clone()?, self.config_dir.clone());
        l.counted = self.counted.clone();
        Some(Box::new(l))
    }
}

/// The master process of this instance from its pid file. Only when that file cannot
/// be read (not root) are the processes scanned, for any Postfix master (enough for the
/// usual single instance).
fn find_master(queue_dir: Option<&Path>) -> (Option<u32>, Option<String>) {
    if let Some(q) = queue_dir {
        let mut buf = Vec::with_capacity(64);
        match procfs::read_into(&q.join("pid/master.pid").to_string_lossy(), &mut buf) {
            Ok(()) => {
                let pid = String::from_utf8_lossy(&buf).trim().parse::<u32>().ok();
                return match pid {
                    Some(p) if procfs::pid_is(p, "master") => (Some(p), None),
                    _ => (None, None),
                };
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (None, None),
            Err(e) => {
                let any = procfs::processes_named(&["master"]).first().map(|p| p.pid);
                return (
                    any,
                    Some(format!(
                        "cannot read {}/pid/master.pid ({e}); assuming the running master is this instance's",
                        q.display()
                    )),
                );
            }
        }
    }
    (None, None)
}

/// One sample from a known configuration. Never fails: what cannot be read is `None`
/// and a note.
pub fn sample_with(cfg: &PostfixConfig) -> MtaSample {
    let mut s = MtaSample {
        kind: MtaKind::Postfix,
        version: cfg.version(),
        limits: cfg.limits(),
        queue_space: Some(cfg.queue_space()),
        active_limit: Some(Limit::new(
            cfg.number("qmgr_message_active_limit"),
            "qmgr_message_active_limit",
        )),
        queue_lifetime: Some(Limit::new(
            cfg.maximal_queue_lifetime_s(),
            "maximal_queue_lifetime",
        )),
        config_source: cfg.source.clone(),
        ..Default::default()
    };
    let queue_dir = cfg.queue_directory();
    let (master, note) = find_master(queue_dir.as_deref());
    s.notes.extend(note);
    // The master's children, not every process of the host. Without a master there
    // are none of this instance's: its children exit when it stops.
    let procs: Vec<Process> = master
        .map(|m| procfs::children_named(m, &["smtpd", "postscreen"]))
        .unwrap_or_default();
    if master.is_none() {
        s.state = MtaState::Down {
            reason: match &queue_dir {
                Some(q) => format!(
                    "no Postfix master process for queue_directory {}",
                    q.display()
                ),
                None => "postconf did not name a queue_directory".into(),
            },
        };
    }

    // Established connections are asked for only when something may hold one: an
    // smtpd or postscreen process, or a connection waiting in a listen queue.
    // Everything else is answered by the cheap dump of listening sockets.
    let ports: Vec<u16> = cfg
        .services
        .iter()
        .filter(|svc| svc.kind == "inet")
        .filter_map(|svc| svc.port)
        .collect();
    let mut sockets = sockets::tcp_sockets_on(&ports, !procs.is_empty());
    if procs.is_empty()
        && sockets
            .iter()
            .any(|t| t.state == sockets::TCP_LISTEN && t.rx_queue > 0)
    {
        sockets = sockets::tcp_sockets_on(&ports, true);
    }
    let somaxconn = sockets::somaxconn();
    // The established connections on this instance's ports: an smtpd that holds one
    // serves a client; one that holds none is idle (kept up to max_idle for the next).
    let established: std::collections::HashSet<u64> = sockets
        .iter()
        .filter(|t| t.state == sockets::TCP_ESTABLISHED)
        .map(|t| t.inode)
        .collect();
    let mut unreadable_fds = false;
    let exceptions = cfg.limit_exceptions();
    let inet_addr = interfaces_addr(cfg.get("inet_interfaces"));
    for svc in &cfg.services {
        let mine: Vec<&Process> = procs
            .iter()
            .filter(|p| p.comm == svc.command)
            .filter(|p| argv_value(&p.argv, "-n") == Some(svc.name.as_str()))
            .collect();
        let stressed = mine
            .iter()
            .filter(|p| {
                p.argv
                    .windows(2)
                    .any(|w| w[0] == "-o" && w[1] == "stress=yes")
            })
            .count() as u64;
        let (busy, idle) = match busy_and_idle(&mine, &established) {
            Some(counts) => counts,
            None => {
                unreadable_fds = true;
                (mine.len() as u64, 0)
            }
        };
        let mut out = ServiceSample {
            name: svc.name.clone(),
            command: svc.command.clone(),
            process_limit: Limit::new(svc.process_limit, svc.limit_source.clone()),
            per_client_limit: Some(cfg.per_client_limit(&svc.command)),
            processes: busy,
            idle_processes: idle,
            stressed,
            ..Default::default()
        };
        if svc.kind == "inet" {
            let port = svc.port;
            out.port = port;
            let addr = svc.address.or(inet_addr);
            out.address = addr.map(|a| a.to_string());
            if let Some(port) = port {
                let u = sockets::endpoint_use(&sockets, addr, port);
                out.listening = u.listening;
                out.backlog = u.listening.then_some(u.backlog);
                // master listens with backlog max(maxproc, default_process_limit); the
                // kernel caps it at net.core.somaxconn.
                out.backlog_limit = match (svc.backlog_request, somaxconn) {
                    (Some(b), Some(m)) => Some(b.min(m)),
                    (b, None) => b,
                    (None, _) => None,
                };
                out.connections = u.established;
                if let Some((ip, n)) = u.peers.first() {
                    out.top_peer = Some(ip.to_string());
                    out.top_peer_connections = *n;
                }
                if let Some((ip, n)) = u.peers.iter().find(|(ip, _)| {
                    !exceptions
                        .iter()
                        .any(|net| config::network_contains(net, ip))
                }) {
                    out.top_limited_peer = Some(ip.to_string());
                    out.top_limited_peer_connections = *n;
                }
            }
        }
        s.services.push(out);
    }

    if unreadable_fds {
        s.notes.push(
            "cannot read the smtpd processes' descriptors (/proc/PID/fd; run as root or the postfix user): idle smtpd processes are counted as busy".into(),
        );
    }
    if let Some(q) = &queue_dir {
        match queue::count_queues(q) {
            Ok(c) => s.queue = Some(c),
            Err(e) => {
                let why = format!(
                    "{e}; queue counts come from postqueue -j at a slower cadence (run as root or the postfix user to count every tick)"
                );
                s.notes.push(why.clone());
                s.queue_problem = Some(why);
            }
        }
        match QueueFs::read(q) {
            Ok(fs) => s.queue_fs = Some(fs),
            Err(e) => s.notes.push(format!("cannot statvfs {}: {e}", q.display())),
        }
    }
    s
}

/// (busy, idle) among `procs`: busy ones hold one of the `established` connections.
/// `None` when a process's descriptors cannot be read (then nobody can tell).
fn busy_and_idle(
    procs: &[&Process],
    established: &std::collections::HashSet<u64>,
) -> Option<(u64, u64)> {
    let mut busy = 0;
    for p in procs {
        let inodes = procfs::socket_inodes(p.pid)?;
        if inodes.iter().any(|i| established.contains(i)) {
            busy += 1;
        }
    }
    Some((busy, procs.len() as u64 - busy))
}

/// The value after `flag` in an argv.
fn argv_value<'a>(argv: &'a [String], flag: &str) -> Option<&'a str> {
    argv.windows(2)
        .find(|w| w[0] == flag)
        .map(|w| w[1].as_str())
}

/// inet_interfaces as one listen address when it is a single literal address.
fn interfaces_addr(v: Option<&str>) -> Option<IpAddr> {
    let v = v?.trim();
    if v.contains([',', ' ']) {
        return None;
    }
    match v {
        "loopback-only" => Some(IpAddr::from([127, 0, 0, 1])),
        _ => v.trim_matches(['[', ']']).parse().ok(),
    }
}

/// A master.cf inet service name as (address, port): "smtp", "2525",
/// "127.0.0.1:2525", "[::1]:submission".
pub fn endpoint(name: &str) -> (Option<IpAddr>, Option<u16>) {
    let (host, port) = match name.rsplit_once(':') {
        Some((h, p)) if !p.is_empty() && !h.ends_with(':') => (Some(h), p),
        _ => (None, name),
    };
    let addr = host.and_then(|h| h.trim_matches(['[', ']']).parse::<IpAddr>().ok());
    let port = service_port::lookup(port);
    (addr, port)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_names_give_address_and_port() {
        assert_eq!(endpoint("smtp"), (None, Some(25)));
        assert_eq!(endpoint("2525"), (None, Some(2525)));
        assert_eq!(
            endpoint("127.0.0.1:2600"),
            (Some(IpAddr::from([127, 0, 0, 1])), Some(2600))
        );
        assert_eq!(endpoint("[::1]:submission").1, Some(587));
        assert_eq!(endpoint("submissions").1, Some(465));
        assert_eq!(endpoint("pickup").1, None);
    }

    #[test]
    fn smtpd_argv_names_its_service() {
        let argv: Vec<String> = [
            "smtpd",
            "-n",
            "127.0.0.1:2600",
            "-t",
            "inet",
            "-u",
            "-o",
            "stress=yes",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(argv_value(&argv, "-n"), Some("127.0.0.1:2600"));
    }

    /// A stand-in postconf that counts its runs in `runs` and answers like postconf.
    fn fake_postconf(dir: &Path, fail: bool) -> PathBuf {
        let script = dir.join("postconf");
        let body = if fail {
            "echo run >> \"$(dirname \"$0\")/runs\"\necho 'postconf: fatal: nope' >&2\nexit 1\n"
                .to_string()
        } else {
            format!(
                "echo run >> \"$(dirname \"$0\")/runs\"\ncase \"$*\" in\n*-F*) echo 'smtp/inet/process_limit = 7'; echo 'smtp/inet/command = smtpd' ;;\n*) echo 'queue_directory = {}'; echo 'default_process_limit = 100' ;;\nesac\n",
                dir.join("queue").display()
            )
        };
        std::fs::write(&script, format!("#!/bin/sh\n{body}")).expect("write script");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        script
    }

    fn runs(dir: &Path) -> usize {
        std::fs::read_to_string(dir.join("runs"))
            .map(|s| s.lines().count())
            .unwrap_or(0)
    }

    #[test]
    fn postconf_runs_only_when_main_cf_or_master_cf_change() {
        let t = tempfile::tempdir().expect("tmp");
        std::fs::write(t.path().join("main.cf"), "a = 1\n").expect("main.cf");
        std::fs::write(t.path().join("master.cf"), "smtp inet n - n - 7 smtpd\n")
            .expect("master.cf");
        let mut p = Postfix::new(Some(t.path().to_path_buf()));
        p.postconf = Some(fake_postconf(t.path(), false));
        for _ in 0..5 {
            let s = p.sample().expect("sample");
            assert_eq!(s.limits.get("smtp_process_limit"), Some(&Some(7)));
        }
        assert_eq!(runs(t.path()), 2, "one postconf -x and one postconf -F");
        // A rewrite with the same length within the same second is seen too (inode).
        let tmp = t.path().join("master.cf.new");
        std::fs::write(&tmp, "smtp inet n - n - 8 smtpd\n").expect("write");
        std::fs::rename(&tmp, t.path().join("master.cf")).expect("rename");
        p.sample().expect("sample");
        p.sample().expect("sample");
        assert_eq!(runs(t.path()), 4);
    }

    #[test]
    fn a_failing_postconf_is_not_rerun_every_tick() {
        let t = tempfile::tempdir().expect("tmp");
        std::fs::write(t.path().join("main.cf"), "a = 1\n").expect("main.cf");
        let mut p = Postfix::new(Some(t.path().to_path_buf()));
        p.postconf = Some(fake_postconf(t.path(), true));
        for _ in 0..3 {
            let e = p.sample().expect_err("postconf fails");
            assert!(e.to_string().contains("nope"), "{e}");
        }
        assert_eq!(runs(t.path()), 1);
    }

    #[test]
    fn a_missing_postfix_is_an_error_not_a_panic() {
        let mut p = Postfix::new(Some(PathBuf::from("/nonexistent/headroom-test")));
        p.postconf = Some(PathBuf::from("/nonexistent/postconf"));
        assert!(p.sample().is_err());
    }
}

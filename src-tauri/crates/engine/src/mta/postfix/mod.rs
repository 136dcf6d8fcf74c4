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
use std::time::SystemTime;

pub use config::{MasterService, PostfixConfig};

use crate::mta::procfs::{self, Process};
use crate::mta::{command, MtaSample, MtaSource, QueueFs, QueueLister, ServiceSample};

pub struct Postfix {
    config_dir: Option<PathBuf>,
    postconf: Option<PathBuf>,
    postqueue: Option<PathBuf>,
    cached: Option<(Stamp, PostfixConfig)>,
}

/// Modification times of main.cf and master.cf: the cache key of postconf's answers.
type Stamp = (Option<SystemTime>, Option<SystemTime>);

impl Postfix {
    /// `config_dir`: another instance's configuration directory (`postconf -c DIR`).
    pub fn new(config_dir: Option<PathBuf>) -> Self {
        Postfix {
            config_dir,
            postconf: command::find_program(&["/usr/sbin/postconf", "/usr/local/sbin/postconf"]),
            postqueue: command::find_program(&["/usr/sbin/postqueue", "/usr/local/sbin/postqueue"]),
            cached: None,
        }
    }

    fn config_path(&self) -> PathBuf {
        self.config_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("/etc/postfix"))
    }

    /// The instance's configuration, re-read only when main.cf or master.cf changed.
    pub fn config(&mut self) -> Result<PostfixConfig, String> {
        let Some(postconf) = self.postconf.clone() else {
            return Err(
                "postconf not found in /usr/sbin or /usr/local/sbin: is Postfix installed?".into(),
            );
        };
        let dir = self.config_path();
        let mtime = |f: &str| {
            std::fs::metadata(dir.join(f))
                .and_then(|m| m.modified())
                .ok()
        };
        let stamp = (mtime("main.cf"), mtime("master.cf"));
        if let Some((s, c)) = &self.cached {
            if *s == stamp && stamp.0.is_some() {
                return Ok(c.clone());
            }
        }
        let c = config::read(&postconf, self.config_dir.as_deref())?;
        self.cached = Some((stamp, c.clone()));
        Ok(c)
    }
}

impl MtaSource for Postfix {
    fn kind(&self) -> &'static str {
        "postfix"
    }

    fn sample(&mut self) -> Result<MtaSample, String> {
        let cfg = self.config()?;
        Ok(sample_with(&cfg))
    }

    fn lister(&self) -> Option<Box<dyn QueueLister>> {
        Some(Box::new(showq::PostqueueLister {
            postqueue: self.postqueue.clone()?,
            config_dir: self.config_dir.clone(),
        }))
    }
}

/// The master process of this instance: its pid file when readable (root), otherwise
/// any Postfix master (enough for the usual single instance).
fn find_master(queue_dir: Option<&Path>, procs: &[Process]) -> (Option<u32>, Option<String>) {
    if let Some(q) = queue_dir {
        match std::fs::read_to_string(q.join("pid/master.pid")) {
            Ok(text) => {
                let pid = text.trim().parse::<u32>().ok();
                return match pid {
                    Some(p) if procfs::pid_is(p, "master") => (Some(p), None),
                    _ => (None, None),
                };
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (None, None),
            Err(e) => {
                let any = procs.iter().find(|p| p.comm == "master").map(|p| p.pid);
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
        kind: "postfix".into(),
        version: cfg.version(),
        limits: cfg.limits(),
        config_source: cfg.source.clone(),
        ..Default::default()
    };
    let queue_dir = cfg.queue_directory();
    let procs = procfs::processes_named(&["master", "smtpd", "postscreen"]);
    let (master, note) = find_master(queue_dir.as_deref(), &procs);
    s.notes.extend(note);
    s.running = master.is_some();
    if !s.running {
        s.notes.push(match &queue_dir {
            Some(q) => format!(
                "mail system is down: no Postfix master process for queue_directory {}",
                q.display()
            ),
            None => "mail system is down: postconf did not name a queue_directory".into(),
        });
    }

    let sockets = procfs::tcp_sockets();
    let somaxconn = procfs::somaxconn();
    let exceptions = cfg.limit_exceptions();
    let inet_addr = interfaces_addr(cfg.get("inet_interfaces"));
    for svc in &cfg.services {
        let mine: Vec<&Process> = procs
            .iter()
            .filter(|p| p.comm == svc.command)
            .filter(|p| master.is_none_or(|m| p.ppid == m))
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
        let mut out = ServiceSample {
            name: svc.name.clone(),
            command: svc.command.clone(),
            process_limit: svc.process_limit,
            limit_source: svc.limit_source.clone(),
            processes: mine.len() as u64,
            stressed,
            ..Default::default()
        };
        if svc.kind == "inet" {
            let (addr, port) = endpoint(&svc.name);
            out.port = port;
            let addr = addr.or(inet_addr);
            out.address = addr.map(|a| a.to_string());
            if let Some(port) = port {
                let u = procfs::endpoint_use(&sockets, addr, port);
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

    if let Some(q) = &queue_dir {
        match queue::count_queues(q) {
            Ok(c) => s.queue = Some(c),
            Err(e) => s.notes.push(format!(
                "{e}; queue counts come from postqueue -j at a slower cadence (run as root or the postfix user to count every tick)"
            )),
        }
        match crate::host::statvfs(&q.to_string_lossy()) {
            Ok((total, free, inodes, free_inodes)) => {
                s.queue_fs = Some(QueueFs {
                    path: q.display().to_string(),
                    total_bytes: total,
                    free_bytes: free,
                    total_inodes: inodes,
                    free_inodes,
                })
            }
            Err(e) => s.notes.push(format!("cannot statvfs {}: {e}", q.display())),
        }
    }
    s
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
    let port = port.parse::<u16>().ok().or_else(|| service_port(port));
    (addr, port)
}

/// /etc/services lookup of a TCP service name.
fn service_port(name: &str) -> Option<u16> {
    let known = match name {
        "smtp" => Some(25),
        "submission" => Some(587),
        "smtps" | "submissions" => Some(465),
        _ => None,
    };
    let text = std::fs::read_to_string("/etc/services").ok();
    text.as_deref()
        .and_then(|t| {
            t.lines().find_map(|l| {
                let l = l.split('#').next()?;
                let mut f = l.split_whitespace();
                let svc = f.next()?;
                let (port, proto) = f.next()?.split_once('/')?;
                let aliases: Vec<&str> = f.collect();
                (proto == "tcp" && (svc == name || aliases.contains(&name)))
                    .then(|| port.parse().ok())
                    .flatten()
            })
        })
        .or(known)
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

    #[test]
    fn a_missing_postfix_is_an_error_not_a_panic() {
        let mut p = Postfix::new(Some(PathBuf::from("/nonexistent/headroom-test")));
        p.postconf = Some(PathBuf::from("/nonexistent/postconf"));
        assert!(p.sample().is_err());
    }
}

//! Sendmail read from its configuration file (`O MaxDaemonChildren=…`, `O MinFreeBlocks=…`,
//! `O QueueDirectory=…`), the queue directory (one `qf` file per message) and /proc.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use crate::mta::{procfs, service_port, sockets};
use crate::mta::{
    CountMethod, Limit, MtaError, MtaKind, MtaSample, MtaSource, MtaState, QueueCounts, QueueFs,
    QueueLister, QueueSpaceLimit, ServiceSample,
};

pub struct Sendmail {
    config: PathBuf,
}

impl Default for Sendmail {
    fn default() -> Self {
        Self::new()
    }
}

impl Sendmail {
    pub fn new() -> Self {
        Self::with_config(PathBuf::from("/etc/mail/sendmail.cf"))
    }

    /// A sendmail.cf other than /etc/mail/sendmail.cf (a daemon run with `-C FILE`).
    pub fn with_config(config: PathBuf) -> Self {
        Sendmail { config }
    }
}

/// Listeners of `O DaemonPortOptions=Port=2525, Addr=127.0.0.1, Name=MTA` lines (port 25
/// when not given; `Port=submission` style names are looked up in /etc/services).
pub fn parse_daemons(cf: &str) -> Vec<(Option<IpAddr>, u16)> {
    cf.lines()
        .filter_map(|l| l.strip_prefix("O DaemonPortOptions="))
        .map(|opts| {
            let mut addr = None;
            let mut port = Some(25);
            for kv in opts.split(',') {
                match kv.trim().split_once('=') {
                    Some(("Port" | "P", v)) => port = service_port::lookup(v),
                    Some(("Addr" | "A", v)) => addr = v.trim().parse().ok(),
                    _ => {}
                }
            }
            (addr, port)
        })
        .filter_map(|(a, p)| Some((a, p?)))
        .collect()
}

/// `O Name=value` options of sendmail.cf.
pub fn parse_options(cf: &str) -> BTreeMap<String, String> {
    cf.lines()
        .filter_map(|l| {
            let (k, v) = l.strip_prefix("O ")?.split_once('=')?;
            Some((k.trim().to_string(), v.trim().to_string()))
        })
        .collect()
}

/// Messages in a sendmail queue directory (qf files, in qf/ subdirectories too).
pub fn count_queue(dir: &Path) -> std::io::Result<u64> {
    let mut n = 0;
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let name = e.file_name();
        if e.file_type()?.is_dir() {
            if name == "qf" {
                n += count_queue(&e.path())?;
            }
        } else if name.to_string_lossy().starts_with("qf") {
            n += 1;
        }
    }
    Ok(n)
}

impl MtaSource for Sendmail {
    fn sample(&mut self) -> Result<MtaSample, MtaError> {
        let cf = std::fs::read_to_string(&self.config).map_err(|e| {
            MtaError::Unreadable(format!("cannot read {}: {e}", self.config.display()))
        })?;
        let o = parse_options(&cf);
        let num = |k: &str| o.get(k).and_then(|v| v.parse::<u64>().ok());
        let mut s = MtaSample {
            kind: MtaKind::Sendmail,
            config_source: self.config.display().to_string(),
            ..Default::default()
        };
        let max_children = num("MaxDaemonChildren");
        s.limits.insert("MaxDaemonChildren".into(), max_children);
        s.limits.insert(
            "ConnectionRateThrottle".into(),
            num("ConnectionRateThrottle"),
        );
        s.limits.insert("RefuseLA".into(), num("RefuseLA"));
        s.refuse_load = num("RefuseLA").map(|l| (l as f64, "RefuseLA".to_string()));
        s.limits.insert("QueueLA".into(), num("QueueLA"));
        s.limits
            .insert("MaxMessageSize".into(), num("MaxMessageSize"));
        let procs = procfs::processes_named(&["sendmail"]);
        // The daemon's title says "accepting connections", or "rejecting connections on
        // daemon MTA: 4 children, max 4" while it is at MaxDaemonChildren (or above
        // RefuseLA): then it has closed its listening socket, but it still runs.
        let daemon = procs.iter().find(|p| {
            p.argv
                .iter()
                .any(|a| a.contains("accepting connections") || a.contains("rejecting connections"))
        });
        if daemon.is_none() {
            s.state = MtaState::Down {
                reason: "no sendmail daemon accepting connections".into(),
            };
        }
        if let Some(title) =
            daemon.and_then(|d| d.argv.iter().find(|a| a.contains("rejecting connections")))
        {
            s.notes.push(format!(
                "sendmail refuses new connections: {}",
                title.trim_start_matches("sendmail: ")
            ));
        }
        let children = daemon
            .map(|d| procs.iter().filter(|p| p.ppid == d.pid).count() as u64)
            .unwrap_or(0);
        let daemons = parse_daemons(&cf);
        let ports: Vec<u16> = daemons.iter().map(|d| d.1).collect();
        // A child per connection: with none, the cheap listener dump suffices.
        let sockets = sockets::tcp_sockets_on(&ports, children > 0);
        let mut service = ServiceSample {
            name: "smtp".into(),
            command: "sendmail".into(),
            process_limit: Limit::new(max_children.filter(|&m| m > 0), "MaxDaemonChildren"),
            processes: children,
            ..Default::default()
        };
        // MaxDaemonChildren counts the children of all listeners together: one service.
        if let Some(&(addr, port)) = daemons.first() {
            service.address = addr.map(|a| a.to_string());
            service.port = Some(port);
        }
        let mut peers: BTreeMap<IpAddr, u64> = BTreeMap::new();
        for &(addr, port) in &daemons {
            let u = sockets::endpoint_use(&sockets, addr, port);
            service.listening |= u.listening;
            if u.listening {
                service.backlog = Some(service.backlog.unwrap_or(0) + u.backlog);
            }
            service.connections += u.established;
            for (ip, n) in u.peers {
                *peers.entry(ip).or_default() += n;
            }
        }
        if let Some((ip, n)) = peers
            .into_iter()
            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
        {
            service.top_peer = Some(ip.to_string());
            service.top_peer_connections = n;
            service.top_limited_peer = Some(ip.to_string());
            service.top_limited_peer_connections = n;
        }
        s.services.push(service);
        let qdir = o
            .get("QueueDirectory")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/var/spool/mqueue"));
        match count_queue(&qdir) {
            Ok(n) => {
                s.queue = Some(QueueCounts {
                    deferred: Some(n),
                    method: CountMethod::Directory,
                    ..Default::default()
                })
            }
            Err(e) => {
                let why = format!("cannot count {}: {e}", qdir.display());
                s.notes.push(why.clone());
                s.queue_problem = Some(why);
            }
        }
        if let Ok(fs) = QueueFs::read(&qdir) {
            // sendmail compares f_bavail with MinFreeBlocks, in blocks of f_bsize.
            let bsize = rustix::fs::statvfs(&qdir).map(|v| v.f_bsize).ok();
            s.limits
                .insert("MinFreeBlocks".into(), num("MinFreeBlocks"));
            let threshold = num("MinFreeBlocks").zip(bsize).map(|(b, z)| b * z);
            s.limits.insert("queue_space_threshold".into(), threshold);
            s.queue_space = Some(QueueSpaceLimit {
                bytes: threshold,
                parameters: vec!["MinFreeBlocks".into()],
                rule: "MinFreeBlocks × the block size; below it sendmail refuses mail (452)".into(),
            });
            s.queue_fs = Some(fs);
        }
        Ok(s)
    }

    fn lister(&self) -> Option<Box<dyn QueueLister>> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_of_sendmail_cf() {
        let o = parse_options(
            "# c\nO MaxDaemonChildren=12\nO QueueDirectory=/var/spool/mqueue\nDj$w\n",
        );
        assert_eq!(o.get("MaxDaemonChildren").map(String::as_str), Some("12"));
        assert_eq!(o.len(), 2);
    }

    #[test]
    fn daemon_port_options_give_the_listeners() {
        let d = parse_daemons(
            "O DaemonPortOptions=Port=2800, Addr=127.0.0.1, Name=MTA\nO DaemonPortOptions=Name=MTA-v6, Family=inet6\n",
        );
        assert_eq!(
            d,
            [(Some("127.0.0.1".parse().expect("ip")), 2800), (None, 25)]
        );
    }
}

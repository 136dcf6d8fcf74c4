//! OpenSMTPD read through `smtpctl show stats` (sessions, envelopes in the queue) and
//! statvfs of its queue. OpenSMTPD has no configurable session limit to compare with;
//! what it exposes is counted, and what it does not is left unknown.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::mta::{
    command, CountMethod, Limit, MtaError, MtaKind, MtaSample, MtaSource, MtaState, QueueCounts,
    QueueFs, QueueLister, ServiceSample,
};
use crate::mta::{procfs, sockets};

pub struct OpenSmtpd {
    smtpctl: Option<PathBuf>,
    queue_dir: PathBuf,
    /// smtpd.conf, for the listeners (`listen on … port N`).
    config: PathBuf,
}

impl Default for OpenSmtpd {
    fn default() -> Self {
        Self::new()
    }
}

impl OpenSmtpd {
    pub fn new() -> Self {
        OpenSmtpd {
            smtpctl: command::find_program(&["/usr/sbin/smtpctl", "/usr/local/sbin/smtpctl"]),
            queue_dir: PathBuf::from("/var/spool/smtpd"),
            config: PathBuf::from("/etc/smtpd.conf"),
        }
    }

    /// An smtpctl and smtpd.conf outside the usual places (unpacked for tests).
    pub fn with_programs(smtpctl: PathBuf, config: PathBuf) -> Self {
        OpenSmtpd {
            smtpctl: Some(smtpctl),
            config,
            ..Self::new()
        }
    }
}

/// Listeners of smtpd.conf: `listen on IFACE [port N] [smtps] …` (port 25 unless
/// given; 465 for smtps). An interface that is not a literal address listens on the
/// port whatever the address.
pub fn parse_listeners(conf: &str) -> Vec<(Option<IpAddr>, u16)> {
    conf.lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .filter_map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            if words.len() < 3 || words[0] != "listen" || words[1] != "on" {
                return None;
            }
            let addr = words[2].parse::<IpAddr>().ok();
            let port = words
                .windows(2)
                .find(|w| w[0] == "port")
                .and_then(|w| w[1].parse().ok())
                .unwrap_or(if words.contains(&"smtps") { 465 } else { 25 });
            Some((addr, port))
        })
        .collect()
}

/// "smtp.session=3" lines of `smtpctl show stats`.
pub fn parse_stats(text: &str) -> std::collections::BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once('=')?;
            Some((k.trim().to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

impl MtaSource for OpenSmtpd {
    fn sample(&mut self) -> Result<MtaSample, MtaError> {
        let ctl = self.smtpctl.clone().ok_or_else(|| {
            MtaError::NotInstalled("smtpctl not found: is OpenSMTPD installed?".into())
        })?;
        let mut s = MtaSample {
            kind: MtaKind::Opensmtpd,
            config_source: "smtpctl show stats".into(),
            ..Default::default()
        };
        let procs = procfs::processes_named(&["smtpd"]);
        if !procs.iter().any(|p| !p.argv.iter().any(|a| a == "-n")) {
            s.state = MtaState::Down {
                reason: "no OpenSMTPD smtpd process is running".into(),
            };
        }
        let sessions = match command::run(&ctl, &["show", "stats"], Duration::from_secs(10)) {
            Ok(out) if out.success() => {
                let st = parse_stats(&out.stdout);
                // A counter appears once first touched: absent means none since start.
                s.queue = Some(QueueCounts {
                    deferred: Some(st.get("scheduler.envelope").copied().unwrap_or(0)),
                    method: CountMethod::SmtpctlStats,
                    ..Default::default()
                });
                Some(st.get("smtp.session").copied().unwrap_or(0))
            }
            Ok(out) => {
                s.state = MtaState::Down {
                    reason: format!("smtpctl show stats: {}", out.error_line()),
                };
                None
            }
            Err(e) => {
                s.notes.push(e.to_string());
                s.queue_problem = Some(e.to_string());
                None
            }
        };
        let listeners = std::fs::read_to_string(&self.config)
            .map(|c| parse_listeners(&c))
            .unwrap_or_default();
        if listeners.is_empty() {
            // Without the listeners, the sessions smtpctl counts are all there is.
            s.services.push(ServiceSample {
                name: "smtp".into(),
                command: "smtpd".into(),
                processes: sessions.unwrap_or(0),
                process_limit: Limit::new(None, "OpenSMTPD has no configurable session limit"),
                ..Default::default()
            });
        } else {
            let ports: Vec<u16> = listeners.iter().map(|l| l.1).collect();
            let sockets = sockets::tcp_sockets_on(&ports, sessions.is_none_or(|n| n > 0));
            for (addr, port) in listeners {
                let u = sockets::endpoint_use(&sockets, addr, port);
                let top = u.peers.first();
                s.services.push(ServiceSample {
                    name: match addr {
                        Some(a) => format!("{a}:{port}"),
                        None => format!("smtp:{port}"),
                    },
                    command: "smtpd".into(),
                    address: addr.map(|a| a.to_string()),
                    port: Some(port),
                    // Each established connection is an SMTP session of this listener.
                    processes: u.established,
                    process_limit: Limit::new(None, "OpenSMTPD has no configurable session limit"),
                    listening: u.listening,
                    backlog: u.listening.then_some(u.backlog),
                    connections: u.established,
                    top_peer: top.map(|t| t.0.to_string()),
                    top_peer_connections: top.map_or(0, |t| t.1),
                    top_limited_peer: top.map(|t| t.0.to_string()),
                    top_limited_peer_connections: top.map_or(0, |t| t.1),
                    ..Default::default()
                });
            }
        }
        s.queue_fs = QueueFs::read(&self.queue_dir).ok();
        Ok(s)
    }

    fn lister(&self) -> Option<Box<dyn QueueLister>> {
        None
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn stats_lines_parse() {
        let st = super::parse_stats(
            "control.session=1\nscheduler.envelope=12\nsmtp.session=3\nuptime.human=1h\n",
        );
        assert_eq!(st.get("smtp.session"), Some(&3));
        assert_eq!(st.get("scheduler.envelope"), Some(&12));
        assert!(!st.contains_key("uptime.human"));
    }

    #[test]
    fn listeners_of_smtpd_conf() {
        let l = super::parse_listeners(
            "# x\nlisten on 127.0.0.1 port 2700\nlisten on eth0 smtps\nlisten on lo\naction a relay\n",
        );
        assert_eq!(
            l,
            [
                (Some("127.0.0.1".parse().expect("ip")), 2700),
                (None, 465),
                (None, 25)
            ]
        );
    }
}

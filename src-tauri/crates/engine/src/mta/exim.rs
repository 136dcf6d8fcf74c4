//! Exim read from outside: limits from `exim -bP`, the daemon and its connections from
//! /proc, spool counts from the `input` directory (`exim -bpc` when it is not readable),
//! and the spool filesystem against `check_spool_space` / `check_spool_inodes`.
//!
//! Exim has one queue; its messages are reported as `deferred` (waiting for delivery).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::mta::procfs;
use crate::mta::{command, MtaSample, MtaSource, QueueCounts, QueueFs, QueueLister, ServiceSample};

const TIMEOUT: Duration = Duration::from_secs(10);

pub const OPTIONS: &[&str] = &[
    "spool_directory",
    "split_spool_directory",
    "smtp_accept_max",
    "smtp_accept_max_per_host",
    "smtp_load_reserve",
    "queue_only_load",
    "check_spool_space",
    "check_spool_inodes",
    "daemon_smtp_ports",
    "local_interfaces",
];

pub fn find_exim() -> Option<PathBuf> {
    command::find_program(&["/usr/sbin/exim4", "/usr/sbin/exim", "/usr/local/sbin/exim"])
}

pub struct Exim {
    binary: Option<PathBuf>,
    /// A configuration file other than the compiled-in one (`exim -C FILE`).
    config: Option<PathBuf>,
}

impl Exim {
    /// `config`: a configuration file, or a directory holding exim4.conf / exim.conf.
    pub fn new(config: Option<PathBuf>) -> Self {
        let config = config.map(|c| {
            if c.is_dir() {
                ["exim4.conf", "exim.conf", "exim4.conf.template"]
                    .iter()
                    .map(|f| c.join(f))
                    .find(|f| f.is_file())
                    .unwrap_or(c)
            } else {
                c
            }
        });
        Exim {
            binary: find_exim(),
            config,
        }
    }

    /// An Exim binary outside the usual places (unpacked for tests).
    pub fn with_binary(binary: PathBuf, config: Option<PathBuf>) -> Self {
        Exim {
            binary: Some(binary),
            config,
        }
    }

    fn args<'a>(&'a self, rest: &[&'a str]) -> Vec<String> {
        let mut a: Vec<String> = Vec::new();
        if let Some(c) = &self.config {
            a.push("-C".into());
            a.push(c.display().to_string());
        }
        a.extend(rest.iter().map(|s| s.to_string()));
        a
    }

    fn run(&self, rest: &[&str]) -> Result<command::Output, String> {
        let bin = self
            .binary
            .as_ref()
            .ok_or("exim not found in /usr/sbin or /usr/local/sbin: is Exim installed?")?;
        let args = self.args(rest);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        command::run(bin, &args, TIMEOUT)
    }

    pub fn options(&self) -> Result<BTreeMap<String, String>, String> {
        let mut rest = vec!["-bP"];
        rest.extend(OPTIONS);
        let out = self.run(&rest)?;
        if !out.success() && out.stdout.trim().is_empty() {
            return Err(format!("exim -bP failed: {}", out.error_line()));
        }
        Ok(crate::mta::postfix::config::parse_name_values(&out.stdout))
    }
}

/// Exim sizes: "10M", "2048K", "100", "1G".
pub fn parse_size(v: &str) -> Option<u64> {
    let v = v.trim();
    let (num, mult) = match v.chars().last()? {
        'K' | 'k' => (&v[..v.len() - 1], 1024),
        'M' | 'm' => (&v[..v.len() - 1], 1024 * 1024),
        'G' | 'g' => (&v[..v.len() - 1], 1024 * 1024 * 1024),
        _ => (v, 1),
    };
    num.trim().parse::<u64>().ok().map(|n| n * mult)
}

/// Messages in the spool: one `-H` file per message, in `input/` or its 62 split
/// subdirectories.
pub fn count_spool(spool: &Path) -> std::io::Result<u64> {
    fn walk(dir: &Path, depth: u8) -> std::io::Result<u64> {
        let mut n = 0;
        for e in std::fs::read_dir(dir)? {
            let e = e?;
            if e.file_type()?.is_dir() {
                if depth == 0 {
                    n += walk(&e.path(), 1)?;
                }
            } else if e.file_name().to_string_lossy().ends_with("-H") {
                n += 1;
            }
        }
        Ok(n)
    }
    walk(&spool.join("input"), 0)
}

impl MtaSource for Exim {
    fn kind(&self) -> &'static str {
        "exim"
    }

    fn sample(&mut self) -> Result<MtaSample, String> {
        let opts = self.options()?;
        let num = |k: &str| opts.get(k).and_then(|v| parse_size(v));
        let mut s = MtaSample {
            kind: "exim".into(),
            config_source: format!(
                "exim -bP{}",
                self.config
                    .as_ref()
                    .map(|c| format!(" -C {}", c.display()))
                    .unwrap_or_default()
            ),
            ..Default::default()
        };
        if let Ok(v) = self.run(&["-bV"]) {
            s.version = v
                .stdout
                .lines()
                .find_map(|l| l.strip_prefix("Exim version "))
                .and_then(|l| l.split_whitespace().next())
                .map(str::to_string);
        }
        let accept_max = num("smtp_accept_max");
        let per_host = num("smtp_accept_max_per_host");
        s.limits.insert("smtp_accept_max".into(), accept_max);
        s.limits.insert("smtp_accept_max_per_host".into(), per_host);
        s.limits
            .insert("queue_only_load".into(), num("queue_only_load"));
        s.limits
            .insert("smtp_load_reserve".into(), num("smtp_load_reserve"));
        s.limits
            .insert("check_spool_space".into(), num("check_spool_space"));
        s.limits
            .insert("check_spool_inodes".into(), num("check_spool_inodes"));
        s.limits
            .insert("queue_space_threshold".into(), num("check_spool_space"));

        // The daemon: `exim -bd`, with our -C file when one is configured.
        let procs = procfs::processes_named(&["exim4", "exim"]);
        let cfg = self.config.as_ref().map(|c| c.display().to_string());
        let daemon = procs.iter().find(|p| {
            p.argv.iter().any(|a| a == "-bd")
                && cfg.as_ref().is_none_or(|c| p.argv.iter().any(|a| a == c))
        });
        s.running = daemon.is_some();
        if !s.running {
            s.notes
                .push("mail system is down: no Exim daemon (exim -bd) is running".into());
        }
        let children = daemon
            .map(|d| procs.iter().filter(|p| p.ppid == d.pid).count() as u64)
            .unwrap_or(0);
        let ports: Vec<u16> = opts
            .get("daemon_smtp_ports")
            .map(|p| {
                p.split([':', ','])
                    .filter_map(|x| x.trim().parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        let sockets = procfs::tcp_sockets();
        for port in ports {
            let u = procfs::endpoint_use(&sockets, None, port);
            let top = u.peers.first();
            s.services.push(ServiceSample {
                name: format!("smtp:{port}"),
                command: "exim".into(),
                port: Some(port),
                process_limit: accept_max.filter(|&m| m > 0),
                limit_source: "smtp_accept_max".into(),
                // smtp_accept_max counts accepted SMTP connections, each served by a
                // daemon child; queue runners are children too but hold no connection.
                processes: u.established,
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
        if daemon.is_some() {
            s.notes
                .push(format!("exim daemon has {children} child processes"));
        }

        if let Some(spool) = opts.get("spool_directory").map(PathBuf::from) {
            match count_spool(&spool) {
                Ok(n) => {
                    s.queue = Some(QueueCounts {
                        deferred: Some(n),
                        method: "directory".into(),
                        ..Default::default()
                    })
                }
                Err(e) => {
                    s.notes.push(format!(
                        "cannot count {}/input ({e}); counted with exim -bpc",
                        spool.display()
                    ));
                    if let Ok(out) = self.run(&["-bpc"]) {
                        s.queue = out.stdout.trim().parse().ok().map(|n| QueueCounts {
                            deferred: Some(n),
                            method: "exim -bpc".into(),
                            ..Default::default()
                        });
                    }
                }
            }
            if let Ok((total, free, inodes, free_inodes)) =
                crate::host::statvfs(&spool.to_string_lossy())
            {
                s.queue_fs = Some(QueueFs {
                    path: spool.display().to_string(),
                    total_bytes: total,
                    free_bytes: free,
                    total_inodes: inodes,
                    free_inodes,
                });
            }
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
    fn exim_sizes() {
        assert_eq!(parse_size("10M"), Some(10 * 1024 * 1024));
        assert_eq!(parse_size("100"), Some(100));
        assert_eq!(parse_size(""), None);
    }

    #[test]
    fn spool_counts_header_files_in_split_directories() {
        let t = tempfile::tempdir().expect("tempdir");
        let input = t.path().join("input");
        std::fs::create_dir_all(input.join("a")).expect("mkdir");
        for f in ["1aB2c3-000001-AB-H", "1aB2c3-000001-AB-D"] {
            std::fs::write(input.join(f), b"").expect("write");
        }
        std::fs::write(input.join("a/1aB2c4-000001-AB-H"), b"").expect("write");
        assert_eq!(count_spool(t.path()).expect("count"), 2);
    }
}

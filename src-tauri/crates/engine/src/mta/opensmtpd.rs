//! OpenSMTPD read through `smtpctl show stats` (sessions, envelopes in the queue) and
//! statvfs of its queue. OpenSMTPD has no configurable session limit to compare with;
//! what it exposes is counted, and what it does not is left unknown.

use std::path::PathBuf;
use std::time::Duration;

use crate::mta::procfs;
use crate::mta::{command, MtaSample, MtaSource, QueueCounts, QueueFs, QueueLister, ServiceSample};

pub struct OpenSmtpd {
    smtpctl: Option<PathBuf>,
    queue_dir: PathBuf,
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
        }
    }
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
    fn kind(&self) -> &'static str {
        "opensmtpd"
    }

    fn sample(&mut self) -> Result<MtaSample, String> {
        let ctl = self
            .smtpctl
            .clone()
            .ok_or("smtpctl not found: is OpenSMTPD installed?")?;
        let mut s = MtaSample {
            kind: "opensmtpd".into(),
            config_source: "smtpctl show stats".into(),
            ..Default::default()
        };
        let procs = procfs::processes_named(&["smtpd"]);
        s.running = procs.iter().any(|p| !p.argv.iter().any(|a| a == "-n"));
        match command::run(&ctl, &["show", "stats"], Duration::from_secs(10)) {
            Ok(out) if out.success() => {
                let st = parse_stats(&out.stdout);
                s.services.push(ServiceSample {
                    name: "smtp".into(),
                    command: "smtpd".into(),
                    processes: st.get("smtp.session").copied().unwrap_or(0),
                    limit_source: "OpenSMTPD has no configurable session limit".into(),
                    ..Default::default()
                });
                s.queue = st.get("scheduler.envelope").map(|&n| QueueCounts {
                    deferred: Some(n),
                    method: "smtpctl show stats".into(),
                    ..Default::default()
                });
            }
            Ok(out) => {
                s.running = false;
                s.notes.push(format!(
                    "mail system is down: smtpctl show stats: {}",
                    out.error_line()
                ));
            }
            Err(e) => s.notes.push(e),
        }
        if let Ok((total, free, inodes, free_inodes)) =
            crate::host::statvfs(&self.queue_dir.to_string_lossy())
        {
            s.queue_fs = Some(QueueFs {
                path: self.queue_dir.display().to_string(),
                total_bytes: total,
                free_bytes: free,
                total_inodes: inodes,
                free_inodes,
            });
        }
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
}

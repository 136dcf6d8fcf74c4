//! What the checks are about, when the configuration does not say: our outbound
//! addresses (Postfix `smtp_bind_address`/`smtp_bind_address6`, else the source
//! address of the default routes), the HELO name (`smtp_helo_name`, Exim
//! `primary_hostname`) and the sending domains (`mydomain`, Exim `qualify_domain`).
//! Commands run without a shell, with a deadline and bounded output.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt;

use crate::config::{Config, MtaChoice, MtaConfig};

const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_OUTPUT: u64 = 256 * 1024;

/// Runs `program args…` and returns its stdout; `Err` says what went wrong.
pub(super) async fn run(program: &Path, args: &[&str]) -> Result<String, String> {
    let shown = format!("{} {}", program.display(), args.join(" "));
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("{shown}: {e}"))?;
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(format!("{shown}: no output pipes"));
    };
    let work = async {
        let mut out = Vec::new();
        let mut err = Vec::new();
        let mut stdout = stdout.take(MAX_OUTPUT);
        let mut stderr = stderr.take(16 * 1024);
        let (a, b) = tokio::join!(stdout.read_to_end(&mut out), stderr.read_to_end(&mut err));
        a.and(b).map_err(|e| e.to_string())?;
        let status = child.wait().await.map_err(|e| e.to_string())?;
        Ok::<_, String>((status, out, err))
    };
    match tokio::time::timeout(COMMAND_TIMEOUT, work).await {
        Err(_) => Err(format!(
            "{shown} did not finish within {} s",
            COMMAND_TIMEOUT.as_secs()
        )),
        Ok(Err(e)) => Err(format!("{shown}: {e}")),
        Ok(Ok((status, out, _))) if status.success() => {
            Ok(String::from_utf8_lossy(&out).into_owned())
        }
        Ok(Ok((status, _, err))) => Err(format!(
            "{shown} failed ({status}): {}",
            String::from_utf8_lossy(&err).lines().next().unwrap_or("")
        )),
    }
}

/// The MTA whose settings fill in what `[dns]` leaves out.
#[derive(Debug, Clone, PartialEq)]
pub enum Mta {
    Postfix {
        postconf: PathBuf,
        config_dir: Option<PathBuf>,
    },
    Exim {
        binary: PathBuf,
        config: Option<PathBuf>,
    },
}

fn first_file(candidates: &[&str]) -> Option<PathBuf> {
    candidates.iter().map(PathBuf::from).find(|p| p.is_file())
}

impl Mta {
    /// The configured MTA (`[mta] kind`), or for `auto` the one installed here.
    pub fn from_config(c: &MtaConfig) -> Option<Mta> {
        let postfix = || {
            Some(Mta::Postfix {
                postconf: first_file(&["/usr/sbin/postconf", "/usr/local/sbin/postconf"])?,
                config_dir: c.config_dir.clone(),
            })
        };
        let exim = || {
            Some(Mta::Exim {
                binary: first_file(&["/usr/sbin/exim4", "/usr/sbin/exim", "/usr/local/sbin/exim"])?,
                config: c.config_dir.clone(),
            })
        };
        match c.kind {
            MtaChoice::Postfix => postfix(),
            MtaChoice::Exim => exim(),
            MtaChoice::Auto => postfix().or_else(exim),
            MtaChoice::Opensmtpd | MtaChoice::Sendmail | MtaChoice::None => None,
        }
    }

    /// Values of main.cf parameters (`postconf -x`) or Exim options (`exim -bP`).
    pub async fn settings(&self, names: &[&str]) -> Result<Vec<(String, String)>, String> {
        let text = match self {
            Mta::Postfix {
                postconf,
                config_dir,
            } => {
                let dir = config_dir.as_ref().map(|d| d.display().to_string());
                let mut args: Vec<&str> = Vec::new();
                if let Some(d) = &dir {
                    args.extend(["-c", d.as_str()]);
                }
                args.push("-x");
                args.extend(names);
                run(postconf, &args).await?
            }
            Mta::Exim { binary, config } => {
                let file = config.as_ref().map(|d| d.display().to_string());
                let mut args: Vec<&str> = Vec::new();
                if let Some(f) = &file {
                    args.extend(["-C", f.as_str()]);
                }
                args.push("-bP");
                args.extend(names);
                run(binary, &args).await?
            }
        };
        Ok(name_values(&text))
    }
}

/// `name = value` lines.
pub fn name_values(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once('=')?;
            Some((k.trim().to_string(), v.trim().to_string()))
        })
        .collect()
}

/// What the checks look at, with why a part is missing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Subjects {
    pub outbound: Vec<IpAddr>,
    /// Why `outbound` is empty or partial (an address behind NAT, no default route).
    pub outbound_note: Option<String>,
    pub helo: Option<String>,
    pub domains: Vec<String>,
    pub domains_note: Option<String>,
}

impl Subjects {
    /// The configured values, with the MTA's settings and the routing table filling in
    /// what the configuration leaves out.
    pub async fn discover(cfg: &Config) -> Subjects {
        let d = &cfg.dns;
        let mta = Mta::from_config(&cfg.mta);
        let mut s = Subjects {
            outbound: d.outbound.clone(),
            helo: d.helo.clone(),
            domains: d.domains.clone(),
            ..Subjects::default()
        };
        let needs_mta = s.outbound.is_empty() || s.helo.is_none() || s.domains.is_empty();
        let settings = match (&mta, needs_mta) {
            (Some(m @ Mta::Postfix { .. }), true) => m
                .settings(&[
                    "smtp_bind_address",
                    "smtp_bind_address6",
                    "smtp_helo_name",
                    "myhostname",
                    "mydomain",
                ])
                .await
                .ok(),
            (Some(m @ Mta::Exim { .. }), true) => m
                .settings(&["primary_hostname", "qualify_domain"])
                .await
                .ok(),
            _ => None,
        }
        .unwrap_or_default();
        let get = |name: &str| {
            settings
                .iter()
                .find(|(k, v)| k == name && !v.is_empty())
                .map(|(_, v)| v.clone())
        };
        if s.helo.is_none() {
            s.helo = get("smtp_helo_name")
                .or_else(|| get("myhostname"))
                .or_else(|| get("primary_hostname"))
                .filter(|h| h.contains('.'));
        }
        if s.domains.is_empty() {
            match get("mydomain").or_else(|| get("qualify_domain")) {
                Some(dom) if dom.contains('.') && dom != "localdomain" => s.domains.push(dom),
                _ => {
                    s.domains_note = Some(
                        "no sending domain: set [dns] domains (Postfix mydomain is not a public domain here)"
                            .into(),
                    )
                }
            }
        }
        if s.outbound.is_empty() {
            let bound: Vec<IpAddr> = ["smtp_bind_address", "smtp_bind_address6"]
                .iter()
                .filter_map(|n| get(n)?.parse().ok())
                .collect();
            let (addrs, note) = if bound.is_empty() {
                route_sources()
            } else {
                (bound, None)
            };
            s.outbound = addrs;
            s.outbound_note = note;
        }
        s
    }
}

/// The source addresses the kernel would pick for the default IPv4 and IPv6 routes
/// (a UDP "connect" sends nothing). Private addresses are left out with a note: a
/// blocklist knows only the public address a NAT sends from.
fn route_sources() -> (Vec<IpAddr>, Option<String>) {
    let mut addrs = Vec::new();
    let mut private = Vec::new();
    for (bind, to) in [
        (
            IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
        ),
        (
            IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
        ),
    ] {
        let Ok(sock) = UdpSocket::bind((bind, 0)) else {
            continue;
        };
        if sock.connect((to, 25)).is_err() {
            continue;
        }
        if let Ok(local) = sock.local_addr() {
            let ip = local.ip();
            if is_public(ip) {
                addrs.push(ip);
            } else {
                private.push(ip.to_string());
            }
        }
    }
    let note = if !private.is_empty() {
        Some(format!(
            "mail leaves from {}, which is not a public address (behind NAT?): set [dns] outbound to the public address receivers see",
            private.join(", ")
        ))
    } else if addrs.is_empty() {
        Some("no outbound address: no default route here; set [dns] outbound".into())
    } else {
        None
    };
    (addrs, note)
}

/// Whether an address can be seen on the Internet (so a blocklist could list it).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => {
            let o = a.octets();
            !(a.is_private()
                || a.is_loopback()
                || a.is_link_local()
                || a.is_unspecified()
                || a.is_documentation()
                || (o[0] == 100 && (64..128).contains(&o[1])))
        }
        IpAddr::V6(a) => {
            let s = a.segments();
            !(a.is_loopback()
                || a.is_unspecified()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] == 0x2001 && s[1] == 0x0db8))
        }
    }
}

/// Whether `host` is this machine: a loopback or local address, `localhost`, or its
/// host name. Only then is the certificate on disk the one the listener should serve.
pub fn is_this_host(host: &str) -> bool {
    let h = host.trim_matches(['[', ']']).trim_end_matches('.');
    if let Ok(ip) = h.parse::<IpAddr>() {
        // Binding succeeds only for addresses this host has.
        return ip.is_loopback() || UdpSocket::bind((ip, 0)).is_ok();
    }
    if h.eq_ignore_ascii_case("localhost") {
        return true;
    }
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|n| {
            let n = n.trim();
            h.eq_ignore_ascii_case(n)
                || h.split('.')
                    .next()
                    .is_some_and(|l| l.eq_ignore_ascii_case(n))
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_internet_addresses_are_public() {
        for a in [
            "10.1.2.3",
            "192.168.1.1",
            "172.16.0.1",
            "100.64.0.1",
            "127.0.0.1",
            "192.0.2.1",
            "fd00::1",
            "fe80::1",
            "2001:db8::1",
            "::1",
        ] {
            assert!(!is_public(a.parse().expect("ip")), "{a}");
        }
        for a in ["203.0.114.7", "8.8.8.8", "2a00:1450::1"] {
            assert!(is_public(a.parse().expect("ip")), "{a}");
        }
    }

    #[test]
    fn loopback_and_localhost_are_this_host_and_a_foreign_address_is_not() {
        assert!(is_this_host("127.0.0.1"));
        assert!(is_this_host("localhost"));
        assert!(!is_this_host("192.0.2.77"));
        assert!(!is_this_host("mail.example.org"));
    }

    #[tokio::test]
    async fn a_command_that_fails_says_so_and_one_that_works_gives_its_output() {
        let out = run(Path::new("/bin/echo"), &["a = b"]).await.expect("echo");
        assert_eq!(name_values(&out), [("a".to_string(), "b".to_string())]);
        let e = run(Path::new("/bin/false"), &[]).await.expect_err("false");
        assert!(e.contains("failed"), "{e}");
        let e = run(Path::new("/nonexistent/postconf"), &[])
            .await
            .expect_err("missing");
        assert!(e.contains("/nonexistent/postconf"), "{e}");
    }
}

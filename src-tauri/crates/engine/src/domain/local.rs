//! What the checks are about, when the configuration does not say: our outbound
//! addresses (Postfix `smtp_bind_address`/`smtp_bind_address6`, Exim's smtp
//! transports' `interface`, else the source address of the default routes; none when
//! Postfix hands all mail to a `relayhost`), the HELO name (`smtp_helo_name`, Exim
//! `primary_hostname`) and the sending domains (`mydomain`, Exim `qualify_domain`).
//! The mail server is read through [`MtaSettings`] (engine tests fake it); commands
//! run without a shell, with a deadline and bounded output.

use std::future::Future;
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

/// Which mail server's settings these are: it decides which names are asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Postfix,
    Exim,
}

/// What the checks read from the mail server. [`Mta`] runs `postconf` and `exim -bP`;
/// the engine tests answer from a table.
pub trait MtaSettings: Sync {
    fn flavor(&self) -> Flavor;
    /// `name = value` of these main settings (`postconf -x`, `exim -bP`).
    fn settings(
        &self,
        names: &[&str],
    ) -> impl Future<Output = Result<Vec<(String, String)>, String>> + Send;
    /// Exim: every transport with its options (`exim -bP transports`).
    fn transports(&self) -> impl Future<Output = Result<String, String>> + Send;
}

impl MtaSettings for Mta {
    fn flavor(&self) -> Flavor {
        match self {
            Mta::Postfix { .. } => Flavor::Postfix,
            Mta::Exim { .. } => Flavor::Exim,
        }
    }

    async fn settings(&self, names: &[&str]) -> Result<Vec<(String, String)>, String> {
        Mta::settings(self, names).await
    }

    async fn transports(&self) -> Result<String, String> {
        match self {
            Mta::Exim { binary, config } => {
                let file = config.as_ref().map(|d| d.display().to_string());
                let mut args: Vec<&str> = Vec::new();
                if let Some(f) = &file {
                    args.extend(["-C", f.as_str()]);
                }
                args.extend(["-bP", "transports"]);
                run(binary, &args).await
            }
            Mta::Postfix { .. } => Err("Postfix has no Exim transports".into()),
        }
    }
}

/// The addresses Exim's smtp transports send from (their `interface` option), and
/// the transports whose interface is expanded per message (`$…`), which cannot be
/// read from here. Other drivers (appendfile, pipe …) never face a receiver.
pub fn exim_interfaces(transports: &str) -> (Vec<IpAddr>, Vec<String>) {
    let mut addrs: Vec<IpAddr> = Vec::new();
    let mut expanded = Vec::new();
    let mut block: Option<(String, bool, Option<String>)> = None;
    let mut finish = |b: Option<(String, bool, Option<String>)>| {
        let Some((name, true, Some(iface))) = b else {
            return;
        };
        if iface.contains('$') {
            expanded.push(name);
            return;
        }
        for item in exim_list(&iface) {
            if let Ok(ip) = item.parse::<IpAddr>() {
                if !addrs.contains(&ip) {
                    addrs.push(ip);
                }
            }
        }
    };
    for line in text_lines(transports) {
        if let Some(name) = line.strip_suffix(" transport:") {
            finish(block.take());
            block = Some((name.trim().to_string(), false, None));
            continue;
        }
        let Some((_, smtp, iface)) = block.as_mut() else {
            continue;
        };
        if let Some((k, v)) = line.split_once('=') {
            match k.trim() {
                "driver" => *smtp = v.trim() == "smtp",
                "interface" if !v.trim().is_empty() => *iface = Some(v.trim().to_string()),
                _ => {}
            }
        }
    }
    finish(block.take());
    (addrs, expanded)
}

fn text_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().map(str::trim).filter(|l| !l.is_empty())
}

/// The items of an Exim list: `:`-separated (a doubled separator is a literal one,
/// so IPv6 is written `2001::db8::::7`), or with another separator named after `<`
/// (`<; 192.0.2.7 ; 2001:db8::7`).
pub fn exim_list(value: &str) -> Vec<String> {
    let v = value.trim();
    let (sep, body) = match v.strip_prefix('<') {
        Some(rest) => match rest.chars().next() {
            Some(c) if !c.is_whitespace() => (c, &rest[c.len_utf8()..]),
            _ => (':', v),
        },
        None => (':', v),
    };
    let mut items = Vec::new();
    let mut cur = String::new();
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if c == sep {
            if chars.peek() == Some(&sep) {
                chars.next();
                cur.push(sep);
            } else {
                items.push(std::mem::take(&mut cur));
            }
        } else {
            cur.push(c);
        }
    }
    items.push(cur);
    items
        .into_iter()
        .map(|i| i.trim().to_string())
        .filter(|i| !i.is_empty())
        .collect()
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
        let mta = Mta::from_config(&cfg.mta);
        Subjects::discover_with(cfg, mta.as_ref(), route_sources).await
    }

    /// [`Subjects::discover`] with this mail server and this routing table.
    pub async fn discover_with<M: MtaSettings>(
        cfg: &Config,
        mta: Option<&M>,
        routes: fn() -> (Vec<IpAddr>, Option<String>),
    ) -> Subjects {
        let d = &cfg.dns;
        let mut s = Subjects {
            outbound: d.outbound.clone(),
            helo: d.helo.clone(),
            domains: d.domains.clone(),
            ..Subjects::default()
        };
        let needs_mta = s.outbound.is_empty() || s.helo.is_none() || s.domains.is_empty();
        let settings = match mta.filter(|_| needs_mta) {
            Some(m) if m.flavor() == Flavor::Postfix => m
                .settings(&[
                    "smtp_bind_address",
                    "smtp_bind_address6",
                    "smtp_helo_name",
                    "myhostname",
                    "mydomain",
                    "relayhost",
                ])
                .await
                .ok(),
            Some(m) => m
                .settings(&["primary_hostname", "qualify_domain"])
                .await
                .ok(),
            None => None,
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
            let (addrs, note) = match get("relayhost") {
                // Receivers see the relay's address: this host's is nobody's business.
                Some(relay) => (
                    Vec::new(),
                    Some(format!(
                        "mail leaves through relayhost {relay}: receivers and blocklists see the relay's address, not this host's; check the relay, or set [dns] outbound if some mail goes out directly"
                    )),
                ),
                None => {
                    let mut bound: Vec<IpAddr> = ["smtp_bind_address", "smtp_bind_address6"]
                        .iter()
                        .filter_map(|n| get(n)?.parse().ok())
                        .collect();
                    let mut note = None;
                    if let Some(m) = mta.filter(|m| m.flavor() == Flavor::Exim) {
                        if let Ok(text) = m.transports().await {
                            let (addrs, expanded) = exim_interfaces(&text);
                            bound = addrs;
                            if bound.is_empty() && !expanded.is_empty() {
                                note = Some(format!(
                                    "Exim transport {} picks its interface per message (an expansion): set [dns] outbound",
                                    expanded.join(", ")
                                ));
                            }
                        }
                    }
                    if bound.is_empty() {
                        let (addrs, route_note) = routes();
                        (addrs, note.or(route_note))
                    } else {
                        public_only(bound)
                    }
                }
            };
            s.outbound = addrs;
            s.outbound_note = note;
        }
        s
    }
}

/// The public ones of addresses the MTA binds to, with a note naming the others: a
/// blocklist knows only the public address a NAT sends from.
fn public_only(addrs: Vec<IpAddr>) -> (Vec<IpAddr>, Option<String>) {
    let (public, private): (Vec<IpAddr>, Vec<IpAddr>) =
        addrs.into_iter().partition(|ip| is_public(*ip));
    let note = (!private.is_empty()).then(|| {
        let (which, what) = if private.len() == 1 {
            ("is", "a public address")
        } else {
            ("are", "public addresses")
        };
        format!(
            "mail leaves from {}, which {which} not {what} (behind NAT?): set [dns] outbound to the public address receivers see",
            private.iter().map(IpAddr::to_string).collect::<Vec<_>>().join(", ")
        )
    });
    (public, note)
}

/// The source addresses the kernel would pick for the default IPv4 and IPv6 routes
/// (a UDP "connect" sends nothing). Private addresses are left out with a note: a
/// blocklist knows only the public address a NAT sends from.
fn route_sources() -> (Vec<IpAddr>, Option<String>) {
    let mut found = Vec::new();
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
            found.push(local.ip());
        }
    }
    if found.is_empty() {
        return (
            Vec::new(),
            Some("no outbound address: no default route here; set [dns] outbound".into()),
        );
    }
    public_only(found)
}

/// Whether an address can be seen on the Internet (so a blocklist could list it).
pub fn is_public(ip: IpAddr) -> bool {
    let documentation = match ip {
        IpAddr::V4(a) => a.is_documentation(),
        IpAddr::V6(a) => {
            let s = a.segments();
            s[0] == 0x2001 && s[1] == 0x0db8
        }
    };
    !is_private_or_local(ip) && !documentation
}

/// Addresses of a private network or of this host: loopback, RFC 1918 and unique
/// local (fc00::/7), link-local, shared (100.64.0.0/10, carrier NAT), unspecified. No
/// blocklist lists them, and looking them up would tell a list's operator about the
/// network, so they are never looked up, even when configured. (The documentation
/// ranges are not here: they stand in for public addresses in examples and tests.)
pub fn is_private_or_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => {
            let o = a.octets();
            a.is_private()
                || a.is_loopback()
                || a.is_link_local()
                || a.is_unspecified()
                || (o[0] == 100 && (64..128).contains(&o[1]))
        }
        IpAddr::V6(a) => {
            let s = a.segments();
            a.is_loopback()
                || a.is_unspecified()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || a.to_ipv4_mapped()
                    .is_some_and(|v4| is_private_or_local(IpAddr::V4(v4)))
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

    /// A mail server answering from a table.
    struct FakeMta {
        flavor: Flavor,
        settings: Vec<(&'static str, &'static str)>,
        transports: &'static str,
    }

    impl MtaSettings for FakeMta {
        fn flavor(&self) -> Flavor {
            self.flavor
        }

        async fn settings(&self, names: &[&str]) -> Result<Vec<(String, String)>, String> {
            Ok(self
                .settings
                .iter()
                .filter(|(k, _)| names.contains(k))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect())
        }

        async fn transports(&self) -> Result<String, String> {
            match self.flavor {
                Flavor::Exim => Ok(self.transports.to_string()),
                Flavor::Postfix => Err("not Exim".into()),
            }
        }
    }

    /// What `exim -bP transports` prints (abridged): each transport's name, then its
    /// options one a line.
    const EXIM_TRANSPORTS: &str = "
remote_smtp transport:
no_body_only
driver = smtp
helo_data = mail.example.org
interface = <; 203.0.114.7 ; 2a00:1450::7
port = 25

address_file transport:
driver = appendfile
interface = 198.51.100.99

remote_smtp_smarthost transport:
driver = smtp
interface = 
";

    fn routes() -> (Vec<IpAddr>, Option<String>) {
        (vec!["203.0.114.99".parse().expect("ip")], None)
    }

    fn no_routes() -> (Vec<IpAddr>, Option<String>) {
        panic!("the routing table is not asked when the MTA names its addresses")
    }

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|a| a.parse().expect("ip")).collect()
    }

    fn exim(transports: &'static str) -> FakeMta {
        FakeMta {
            flavor: Flavor::Exim,
            settings: vec![
                ("primary_hostname", "mail.example.org"),
                ("qualify_domain", "example.org"),
            ],
            transports,
        }
    }

    #[test]
    fn exim_lists_split_on_their_separator_and_doubled_colons_are_literal() {
        assert_eq!(
            exim_list("<; 192.0.2.7 ; 2001:db8::7"),
            ["192.0.2.7", "2001:db8::7"]
        );
        assert_eq!(
            exim_list("192.0.2.7 : 2001::db8::::7"),
            ["192.0.2.7", "2001:db8::7"]
        );
        assert_eq!(exim_list("192.0.2.7"), ["192.0.2.7"]);
        assert!(exim_list("  ").is_empty());
    }

    #[test]
    fn exim_interfaces_come_from_smtp_transports_only() {
        let (addrs, expanded) = exim_interfaces(EXIM_TRANSPORTS);
        assert_eq!(addrs, ips(&["203.0.114.7", "2a00:1450::7"]));
        assert!(expanded.is_empty());
        let (addrs, expanded) = exim_interfaces(
            "remote_smtp transport:\ndriver = smtp\ninterface = ${if eq{$sender_address_domain}{a.example}{203.0.114.1}{203.0.114.2}}\n",
        );
        assert!(addrs.is_empty());
        assert_eq!(expanded, ["remote_smtp"]);
    }

    #[tokio::test]
    async fn exim_sends_from_its_transports_interface_else_from_the_default_route() {
        let cfg = Config::default();
        let s = Subjects::discover_with(&cfg, Some(&exim(EXIM_TRANSPORTS)), no_routes).await;
        assert_eq!(s.outbound, ips(&["203.0.114.7", "2a00:1450::7"]));
        assert_eq!(s.outbound_note, None);
        assert_eq!(s.helo.as_deref(), Some("mail.example.org"));
        assert_eq!(s.domains, ["example.org"]);

        let plain = "remote_smtp transport:\ndriver = smtp\ninterface = \n";
        let s = Subjects::discover_with(&cfg, Some(&exim(plain)), routes).await;
        assert_eq!(s.outbound, ips(&["203.0.114.99"]));

        let per_message = "remote_smtp transport:\ndriver = smtp\ninterface = ${lookup{$sender_address_domain}lsearch{/etc/exim4/ips}}\n";
        let s = Subjects::discover_with(&cfg, Some(&exim(per_message)), routes).await;
        assert_eq!(s.outbound, ips(&["203.0.114.99"]));
        assert!(
            s.outbound_note
                .as_deref()
                .is_some_and(|n| n.contains("remote_smtp")),
            "{s:?}"
        );
    }

    #[tokio::test]
    async fn postfix_binds_public_addresses_and_a_relayhost_means_none_of_ours() {
        let cfg = Config::default();
        let postfix = |settings: Vec<(&'static str, &'static str)>| FakeMta {
            flavor: Flavor::Postfix,
            settings,
            transports: "",
        };
        let m = postfix(vec![
            ("smtp_bind_address", "203.0.114.7"),
            ("smtp_bind_address6", "fd00::7"),
            ("myhostname", "mail.example.org"),
            ("mydomain", "example.org"),
        ]);
        let s = Subjects::discover_with(&cfg, Some(&m), no_routes).await;
        assert_eq!(s.outbound, ips(&["203.0.114.7"]));
        assert!(
            s.outbound_note
                .as_deref()
                .is_some_and(|n| n.contains("fd00::7")),
            "{s:?}"
        );
        let m = postfix(vec![
            ("relayhost", "[smtp.provider.example]:587"),
            ("myhostname", "laptop.example.org"),
        ]);
        let s = Subjects::discover_with(&cfg, Some(&m), no_routes).await;
        assert!(s.outbound.is_empty());
        assert!(
            s.outbound_note
                .as_deref()
                .is_some_and(|n| n.contains("relayhost [smtp.provider.example]:587")),
            "{s:?}"
        );
        // Configured addresses win over everything.
        let mut cfg = Config::default();
        cfg.dns.outbound = ips(&["192.0.2.7"]);
        let s = Subjects::discover_with(&cfg, Some(&m), no_routes).await;
        assert_eq!(s.outbound, ips(&["192.0.2.7"]));
    }

    #[test]
    fn private_and_local_addresses_are_never_looked_up_but_documentation_ones_are() {
        for a in [
            "10.1.2.3",
            "127.0.0.1",
            "100.64.0.1",
            "fd00::1",
            "fe80::1",
            "::ffff:192.168.1.1",
        ] {
            assert!(is_private_or_local(a.parse().expect("ip")), "{a}");
        }
        for a in ["192.0.2.7", "2001:db8::7", "203.0.114.7"] {
            assert!(!is_private_or_local(a.parse().expect("ip")), "{a}");
        }
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

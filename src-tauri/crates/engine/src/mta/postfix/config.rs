//! Postfix's own limits, read with `postconf` (`-c DIR` for another instance): main.cf
//! parameters with `postconf -x`, smtpd and postscreen services of master.cf with
//! `postconf -F`. Nothing here guesses a default: what postconf does not say is `None`.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::mta::{command, CommandError, Limit, MtaError, QueueSpaceLimit};

/// main.cf parameters Headroom reads.
pub const PARAMS: &[&str] = &[
    "mail_version",
    "queue_directory",
    "default_process_limit",
    "smtpd_client_connection_count_limit",
    "smtpd_client_connection_rate_limit",
    "smtpd_client_event_limit_exceptions",
    "queue_minfree",
    "message_size_limit",
    "qmgr_message_active_limit",
    "maximal_queue_lifetime",
    "inet_interfaces",
    "postscreen_client_connection_count_limit",
    "postscreen_pre_queue_limit",
];

const POSTCONF_TIMEOUT: Duration = Duration::from_secs(10);

/// One master.cf service that accepts SMTP.
#[derive(Debug, Clone, PartialEq)]
pub struct MasterService {
    /// The service name as written in master.cf ("smtp", "127.0.0.1:2525", "smtpd").
    pub name: String,
    /// inet or pass.
    pub kind: String,
    /// smtpd or postscreen.
    pub command: String,
    /// `None` when maxproc is 0 (no limit) or could not be read.
    pub process_limit: Option<u64>,
    pub limit_source: String,
    /// maxproc as master uses it for the listen backlog: max(maxproc, default_process_limit).
    pub backlog_request: Option<u64>,
    /// Listen address and port of an inet service, resolved once when the configuration
    /// is read (a service name like "smtp" is looked up in /etc/services).
    pub address: Option<IpAddr>,
    pub port: Option<u16>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct PostfixConfig {
    pub params: BTreeMap<String, String>,
    pub services: Vec<MasterService>,
    /// "postconf -c /tmp/x/etc" or "postconf".
    pub source: String,
}

impl PostfixConfig {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }
    pub fn number(&self, name: &str) -> Option<u64> {
        self.get(name)?.trim().parse().ok()
    }
    pub fn version(&self) -> Option<String> {
        self.get("mail_version").map(str::to_string)
    }
    pub fn queue_directory(&self) -> Option<PathBuf> {
        self.get("queue_directory").map(PathBuf::from)
    }

    /// max(queue_minfree, 1.5 × message_size_limit): below this much free space smtpd
    /// answers `452 4.3.1 Insufficient system storage`.
    pub fn queue_space_threshold(&self) -> Option<u64> {
        let minfree = self.number("queue_minfree")?;
        let size = self.number("message_size_limit")?;
        Some(minfree.max(size.saturating_mul(3) / 2))
    }

    /// [`Self::queue_space_threshold`] with the parameters it comes from.
    pub fn queue_space(&self) -> QueueSpaceLimit {
        QueueSpaceLimit {
            bytes: self.queue_space_threshold(),
            parameters: vec!["queue_minfree".into(), "message_size_limit".into()],
            rule: "max(queue_minfree, 1.5 × message_size_limit); below it smtpd answers 452 4.3.1"
                .into(),
        }
    }

    /// The per-client connection limit of a service running `command` (smtpd or
    /// postscreen); 0 switches it off.
    pub fn per_client_limit(&self, command: &str) -> Limit {
        let parameter = if command == "postscreen" {
            "postscreen_client_connection_count_limit"
        } else {
            "smtpd_client_connection_count_limit"
        };
        Limit::new(self.number(parameter), parameter)
    }

    /// maximal_queue_lifetime in seconds (a bare number means days).
    pub fn maximal_queue_lifetime_s(&self) -> Option<u64> {
        parse_time(self.get("maximal_queue_lifetime")?, 'd')
    }

    /// The limits object of `check --json`.
    pub fn limits(&self) -> BTreeMap<String, Option<u64>> {
        let mut m = BTreeMap::new();
        for s in &self.services {
            m.insert(format!("{}_process_limit", s.name), s.process_limit);
        }
        for p in [
            "default_process_limit",
            "smtpd_client_connection_count_limit",
            "smtpd_client_connection_rate_limit",
            "queue_minfree",
            "message_size_limit",
            "qmgr_message_active_limit",
        ] {
            m.insert(p.to_string(), self.number(p));
        }
        if self.services.iter().any(|s| s.command == "postscreen") {
            for p in [
                "postscreen_client_connection_count_limit",
                "postscreen_pre_queue_limit",
            ] {
                m.insert(p.to_string(), self.number(p));
            }
        }
        m.insert("queue_space_threshold".into(), self.queue_space_threshold());
        m.insert(
            "maximal_queue_lifetime".into(),
            self.maximal_queue_lifetime_s(),
        );
        m
    }

    /// Networks exempt from the per-client connection limits (literal addresses and
    /// CIDR blocks of `smtpd_client_event_limit_exceptions`; tables are not expanded).
    pub fn limit_exceptions(&self) -> Vec<(IpAddr, u8)> {
        self.get("smtpd_client_event_limit_exceptions")
            .map(parse_networks)
            .unwrap_or_default()
    }
}

/// Reads everything Headroom needs with two postconf runs.
pub fn read(postconf: &Path, config_dir: Option<&Path>) -> Result<PostfixConfig, MtaError> {
    let mut base: Vec<String> = Vec::new();
    if let Some(d) = config_dir {
        base.push("-c".into());
        base.push(d.display().to_string());
    }
    let source = format!("{} {}", postconf.display(), base.join(" "))
        .trim_end()
        .to_string();
    let mut args: Vec<&str> = base.iter().map(String::as_str).collect();
    args.push("-x");
    args.extend(PARAMS);
    let out = command::run(postconf, &args, POSTCONF_TIMEOUT)?;
    if !out.success() {
        return Err(CommandError::Failed {
            command: source,
            why: out.error_line(),
        }
        .into());
    }
    let params: BTreeMap<String, String> = command::name_values(&out.stdout).collect();

    let mut args: Vec<&str> = base.iter().map(String::as_str).collect();
    args.push("-F");
    args.extend([
        "*/inet/process_limit",
        "*/inet/command",
        "*/pass/process_limit",
        "*/pass/command",
    ]);
    let out = command::run(postconf, &args, POSTCONF_TIMEOUT)?;
    if !out.success() {
        return Err(CommandError::Failed {
            command: format!("{source} -F"),
            why: out.error_line(),
        }
        .into());
    }
    let default_limit = params
        .get("default_process_limit")
        .and_then(|v| v.trim().parse().ok());
    let mut services = parse_services(&out.stdout, default_limit);
    for svc in services.iter_mut().filter(|s| s.kind == "inet") {
        (svc.address, svc.port) = super::endpoint(&svc.name);
    }
    Ok(PostfixConfig {
        params,
        services,
        source,
    })
}

/// `postconf -F` output → smtpd and postscreen services with their process limits.
pub fn parse_services(text: &str, default_limit: Option<u64>) -> Vec<MasterService> {
    // (name, type) → (process_limit, command).
    let mut fields: BTreeMap<(String, String), (Option<String>, Option<String>)> = BTreeMap::new();
    for (key, value) in command::name_values(text) {
        // Service names may contain '/' in principle; the type and field are the last two.
        let mut parts = key.rsplitn(3, '/');
        let (Some(field), Some(kind), Some(name)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let e = fields
            .entry((name.to_string(), kind.to_string()))
            .or_default();
        match field {
            "process_limit" => e.0 = Some(value),
            "command" => e.1 = Some(value),
            _ => {}
        }
    }
    // The map is sorted by name; keep master.cf order as postconf printed it.
    let printed: Vec<(String, String)> = text
        .lines()
        .filter_map(|l| {
            let key = l.split_once(" =")?.0.trim();
            let mut parts = key.rsplitn(3, '/');
            let (_f, kind, name) = (parts.next()?, parts.next()?, parts.next()?);
            Some((name.to_string(), kind.to_string()))
        })
        .collect();
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for k in printed {
        if !seen.insert(k.clone()) {
            continue;
        }
        let Some((limit, cmd)) = fields.get(&k) else {
            continue;
        };
        let command = cmd
            .as_deref()
            .and_then(|c| c.split_whitespace().next())
            .unwrap_or("")
            .to_string();
        if command != "smtpd" && command != "postscreen" {
            continue;
        }
        let (process_limit, limit_source, maxproc) = match limit.as_deref().map(str::trim) {
            Some("-") => (
                default_limit.filter(|&l| l > 0),
                "default_process_limit (maxproc '-' in master.cf)".to_string(),
                default_limit,
            ),
            Some(v) => match v.parse::<u64>() {
                Ok(0) => (None, "maxproc 0 in master.cf (no limit)".into(), Some(0)),
                Ok(n) => (Some(n), "maxproc in master.cf".into(), Some(n)),
                Err(_) => (None, format!("unreadable maxproc {v:?}"), None),
            },
            None => (None, "maxproc not printed by postconf -F".into(), None),
        };
        let backlog_request = match (maxproc, default_limit) {
            (Some(m), Some(d)) => Some(m.max(d)),
            _ => None,
        };
        out.push(MasterService {
            name: k.0.clone(),
            kind: k.1.clone(),
            command,
            process_limit,
            limit_source,
            backlog_request,
            address: None,
            port: None,
        });
    }
    out
}

/// "5d", "3600s", "2h", bare numbers in `default_unit`.
pub fn parse_time(v: &str, default_unit: char) -> Option<u64> {
    let v = v.trim();
    let (num, unit) = match v.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => (&v[..i], v[i..].chars().next()?),
        None => (v, default_unit),
    };
    let n: u64 = num.parse().ok()?;
    let mult = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86400,
        'w' => 7 * 86400,
        _ => return None,
    };
    Some(n * mult)
}

/// Literal networks of a Postfix address list ("127.0.0.0/8 [::1]/128, 10.1.2.3").
pub fn parse_networks(list: &str) -> Vec<(IpAddr, u8)> {
    list.split(|c: char| c.is_whitespace() || c == ',')
        .filter(|s| !s.is_empty())
        .filter_map(|item| {
            let (addr, prefix) = match item.rsplit_once('/') {
                Some((a, p)) if !a.contains(':') || a.starts_with('[') || a.contains("::") => {
                    (a, p.parse::<u8>().ok())
                }
                _ => (item, None),
            };
            let addr = addr.trim_start_matches('[').trim_end_matches(']');
            let ip: IpAddr = addr.parse().ok()?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            Some((ip, prefix.unwrap_or(max).min(max)))
        })
        .collect()
}

pub fn network_contains(net: &(IpAddr, u8), ip: &IpAddr) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(*ip),
        v4 => *v4,
    };
    let net_ip = match net.0 {
        IpAddr::V6(v6) if net.1 >= 96 => match v6.to_ipv4_mapped() {
            Some(v4) => return network_contains(&(IpAddr::V4(v4), net.1 - 96), &ip),
            None => net.0,
        },
        a => a,
    };
    match (net_ip, ip) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let mask = if net.1 == 0 {
                0
            } else {
                u32::MAX << (32 - net.1)
            };
            u32::from(n) & mask == u32::from(a) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let mask = if net.1 == 0 {
                0
            } else {
                u128::MAX << (128 - net.1)
            };
            u128::from(n) & mask == u128::from(a) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_take_default_process_limit_for_a_dash() {
        let text = "\
smtp/inet/process_limit = -
smtp/inet/command = postscreen
smtpd/pass/process_limit = -
smtpd/pass/command = smtpd
127.0.0.1:2525/inet/process_limit = 7
127.0.0.1:2525/inet/command = smtpd -o smtpd_tls_security_level=none
tlsproxy/inet/process_limit = 0
tlsproxy/inet/command = tlsproxy
submission/inet/process_limit = 0
submission/inet/command = smtpd
";
        let s = parse_services(text, Some(100));
        let names: Vec<_> = s
            .iter()
            .map(|s| (s.name.as_str(), s.process_limit))
            .collect();
        assert_eq!(
            names,
            [
                ("smtp", Some(100)),
                ("smtpd", Some(100)),
                ("127.0.0.1:2525", Some(7)),
                ("submission", None)
            ]
        );
        assert_eq!(s[0].command, "postscreen");
        assert_eq!(s[2].backlog_request, Some(100));
    }

    #[test]
    fn queue_space_threshold_is_the_larger_of_minfree_and_one_and_a_half_messages() {
        let mut c = PostfixConfig::default();
        c.params.insert("queue_minfree".into(), "0".into());
        c.params
            .insert("message_size_limit".into(), "10240000".into());
        assert_eq!(c.queue_space_threshold(), Some(15_360_000));
        c.params.insert("queue_minfree".into(), "20000000".into());
        assert_eq!(c.queue_space_threshold(), Some(20_000_000));
        c.params.remove("message_size_limit");
        assert_eq!(c.queue_space_threshold(), None);
    }

    #[test]
    fn times_use_postfix_units() {
        assert_eq!(parse_time("5d", 'd'), Some(432_000));
        assert_eq!(parse_time("5", 'd'), Some(432_000));
        assert_eq!(parse_time("3600s", 'd'), Some(3600));
        assert_eq!(parse_time("x", 'd'), None);
    }

    #[test]
    fn exception_networks_match_their_clients() {
        let nets = parse_networks("127.0.0.0/8 [::ffff:127.0.0.0]/104 [::1]/128, 192.0.2.7");
        assert_eq!(nets.len(), 4);
        let has = |ip: &str| {
            let ip: IpAddr = ip.parse().expect("test value");
            nets.iter().any(|n| network_contains(n, &ip))
        };
        assert!(has("127.0.0.1"));
        assert!(has("::1"));
        assert!(has("192.0.2.7"));
        assert!(!has("192.0.2.8"));
        assert!(!has("10.0.0.1"));
    }
}

//! Exim's lists as `exim -bP` prints them (as written in the configuration): items
//! separated by `:` or by the separator named after `<`, and the smtp transports'
//! `interface` lists in `exim -bP transports`. The Exim adapter, the domain checks'
//! outbound addresses and the TLS check's `tls_certificate` all read lists here, so a
//! doubled colon or a `<;` means the same everywhere.

use std::net::IpAddr;

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

#[cfg(test)]
pub mod tests {
    use super::*;

    /// What `exim -bP transports` prints (abridged): each transport's name, then its
    /// options one a line. The domain checks' tests read it too.
    pub const EXIM_TRANSPORTS: &str = "
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

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|a| a.parse().expect("ip")).collect()
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
}

//! Public resolvers: Spamhaus refuses every query that reaches it through one (it
//! answers 127.255.255.254, "public/open resolver", which a naive check reads as a
//! listing). The checks name the resolver instead of asking through it, so the
//! `dnsbl` item is unknown with the fix rather than a false "listed".
//!
//! The table holds the big anycast services; many ISPs' and hosters' shared resolvers
//! are refused too and are not in it — for them the 127.255.255.254 answer itself
//! says the same thing (see `dnsbl::classify`).

use std::net::IpAddr;
use std::path::Path;

use crate::config::ResolverAddr;

/// Well-known public resolvers, by address.
const PUBLIC: &[(&str, &str)] = &[
    ("8.8.8.8", "Google Public DNS"),
    ("8.8.4.4", "Google Public DNS"),
    ("2001:4860:4860::8888", "Google Public DNS"),
    ("2001:4860:4860::8844", "Google Public DNS"),
    ("1.1.1.1", "Cloudflare"),
    ("1.0.0.1", "Cloudflare"),
    ("1.1.1.2", "Cloudflare"),
    ("1.0.0.2", "Cloudflare"),
    ("1.1.1.3", "Cloudflare"),
    ("1.0.0.3", "Cloudflare"),
    ("2606:4700:4700::1111", "Cloudflare"),
    ("2606:4700:4700::1001", "Cloudflare"),
    ("9.9.9.9", "Quad9"),
    ("149.112.112.112", "Quad9"),
    ("9.9.9.10", "Quad9"),
    ("149.112.112.10", "Quad9"),
    ("9.9.9.11", "Quad9"),
    ("149.112.112.11", "Quad9"),
    ("2620:fe::fe", "Quad9"),
    ("2620:fe::9", "Quad9"),
    ("2620:fe::10", "Quad9"),
    ("2620:fe::11", "Quad9"),
    ("208.67.222.222", "OpenDNS"),
    ("208.67.220.220", "OpenDNS"),
    ("208.67.222.123", "OpenDNS"),
    ("208.67.220.123", "OpenDNS"),
    ("2620:119:35::35", "OpenDNS"),
    ("2620:119:53::53", "OpenDNS"),
    ("94.140.14.14", "AdGuard DNS"),
    ("94.140.15.15", "AdGuard DNS"),
    ("185.228.168.9", "CleanBrowsing"),
    ("185.228.169.9", "CleanBrowsing"),
    ("76.76.2.0", "Control D"),
    ("76.76.10.0", "Control D"),
    ("77.88.8.8", "Yandex DNS"),
    ("77.88.8.1", "Yandex DNS"),
    ("4.2.2.1", "Level 3"),
    ("4.2.2.2", "Level 3"),
    ("4.2.2.3", "Level 3"),
    ("4.2.2.4", "Level 3"),
    ("4.2.2.5", "Level 3"),
    ("4.2.2.6", "Level 3"),
    ("64.6.64.6", "Verisign Public DNS"),
    ("64.6.65.6", "Verisign Public DNS"),
    ("8.26.56.26", "Comodo Secure DNS"),
    ("8.20.247.20", "Comodo Secure DNS"),
];

/// The public service at `ip`, if it is one.
pub fn public_service(ip: IpAddr) -> Option<&'static str> {
    PUBLIC
        .iter()
        .find(|(a, _)| a.parse::<IpAddr>().is_ok_and(|p| p == ip))
        .map(|(_, name)| *name)
}

/// systemd-resolved's stub: the real upstreams are in [`RESOLVED_UPSTREAMS`].
const RESOLVED_STUB: &str = "127.0.0.53";
const RESOLVED_UPSTREAMS: &str = "/run/systemd/resolve/resolv.conf";

/// The `nameserver` addresses of a resolv.conf text.
pub fn nameservers(resolv_conf: &str) -> Vec<IpAddr> {
    resolv_conf
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            (w.next() == Some("nameserver")).then(|| w.next())?
        })
        // A scoped IPv6 address (`fe80::1%eth0`) keeps its address.
        .filter_map(|a| a.split('%').next()?.parse().ok())
        .collect()
}

/// The resolvers the checks' queries may reach: the configured one, or the system's
/// (behind systemd-resolved's stub, its upstreams too).
fn reached(addr: ResolverAddr, read: &dyn Fn(&Path) -> Option<String>) -> Vec<IpAddr> {
    match addr {
        ResolverAddr::Server(sa) => vec![sa.ip()],
        ResolverAddr::System => {
            let mut ns = nameservers(&read(Path::new("/etc/resolv.conf")).unwrap_or_default());
            if ns.iter().any(|ip| ip.to_string() == RESOLVED_STUB) {
                ns.extend(nameservers(
                    &read(Path::new(RESOLVED_UPSTREAMS)).unwrap_or_default(),
                ));
            }
            ns
        }
    }
}

/// "the system resolver 8.8.8.8 (Google Public DNS)" when a query of the checks may
/// go through a public resolver, else `None`.
pub fn public_resolver(addr: ResolverAddr) -> Option<String> {
    public_resolver_with(addr, &|p| std::fs::read_to_string(p).ok())
}

fn public_resolver_with(
    addr: ResolverAddr,
    read: &dyn Fn(&Path) -> Option<String>,
) -> Option<String> {
    let whose = match addr {
        ResolverAddr::Server(_) => "the configured resolver",
        ResolverAddr::System => "the system resolver",
    };
    reached(addr, read)
        .into_iter()
        .find_map(|ip| public_service(ip).map(|name| format!("{whose} {ip} ({name})")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nameservers_are_read_from_resolv_conf() {
        let text = "# generated\nsearch example.org\nnameserver 10.0.0.53\nnameserver  8.8.8.8 \nnameserver fe80::1%eth0\noptions edns0\n";
        let want: Vec<IpAddr> = ["10.0.0.53", "8.8.8.8", "fe80::1"]
            .iter()
            .map(|a| a.parse().expect("ip"))
            .collect();
        assert_eq!(nameservers(text), want);
    }

    #[test]
    fn a_public_resolver_is_named_whether_configured_or_the_systems() {
        let files = |resolv: &'static str, upstream: &'static str| {
            move |p: &Path| {
                Some(
                    if p == Path::new("/etc/resolv.conf") {
                        resolv
                    } else {
                        upstream
                    }
                    .to_string(),
                )
            }
        };
        let read = files("nameserver 10.0.0.53\nnameserver 1.1.1.1\n", "");
        assert_eq!(
            public_resolver_with(ResolverAddr::System, &read).as_deref(),
            Some("the system resolver 1.1.1.1 (Cloudflare)")
        );
        let read = files("nameserver 10.0.0.53\n", "");
        assert_eq!(public_resolver_with(ResolverAddr::System, &read), None);
        // Behind systemd-resolved's stub, its upstreams are what Spamhaus sees.
        let read = files("nameserver 127.0.0.53\n", "nameserver 9.9.9.9\n");
        assert_eq!(
            public_resolver_with(ResolverAddr::System, &read).as_deref(),
            Some("the system resolver 9.9.9.9 (Quad9)")
        );
        let server = ResolverAddr::Server("8.8.8.8:53".parse().expect("addr"));
        assert_eq!(
            public_resolver_with(server, &read).as_deref(),
            Some("the configured resolver 8.8.8.8 (Google Public DNS)")
        );
        let local = ResolverAddr::Server("127.0.0.1:53".parse().expect("addr"));
        assert_eq!(public_resolver_with(local, &read), None);
    }

    #[test]
    fn every_table_entry_is_an_address() {
        for (a, _) in PUBLIC {
            assert!(a.parse::<IpAddr>().is_ok(), "{a}");
        }
    }
}

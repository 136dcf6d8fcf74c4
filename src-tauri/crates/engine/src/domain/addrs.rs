//! Which addresses the domain checks may look at and for what: public ones (a
//! blocklist can list only those), private or local ones (never looked up), and this
//! host's own (only then is the certificate on disk the one a listener serves).

use std::net::{IpAddr, UdpSocket};

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
}

//! TCP sockets from /proc/net/tcp{,6}: the fallback of [`super::tcp_sockets_on`] where
//! netlink is not allowed. Costly on hosts with a large established hash table: every
//! read walks all of it (see [`super::sockdiag`]).

use std::net::IpAddr;

use super::TcpSocket;
use crate::mta::procfs::read_into;

/// All TCP sockets of this network namespace (IPv4 and IPv6) from /proc/net/tcp{,6}.
/// Costly on hosts with a large established hash table (see [`crate::mta::sockdiag`]):
/// the fallback of [`tcp_sockets_on`].
pub fn tcp_sockets() -> Vec<TcpSocket> {
    let mut out = Vec::new();
    let mut buf = Vec::with_capacity(16 * 1024);
    for path in ["/proc/net/tcp", "/proc/net/tcp6"] {
        if read_into(path, &mut buf).is_ok() {
            out.extend(parse_net_tcp(&String::from_utf8_lossy(&buf)));
        }
    }
    out
}

pub fn parse_net_tcp(text: &str) -> Vec<TcpSocket> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let mut f = line.split_whitespace();
            let _sl = f.next()?;
            let (local, local_port) = parse_endpoint(f.next()?)?;
            let (remote, remote_port) = parse_endpoint(f.next()?)?;
            let state = u8::from_str_radix(f.next()?, 16).ok()?;
            let (_tx, rx) = f.next()?.split_once(':')?;
            // tr:tm->when, retrnsmt, uid, timeout, then the inode.
            let inode = f.nth(4)?.parse().ok()?;
            Some(TcpSocket {
                local,
                local_port,
                remote,
                remote_port,
                state,
                rx_queue: u64::from_str_radix(rx, 16).ok()?,
                inode,
            })
        })
        .collect()
}

/// "0100007F:0A28" → 127.0.0.1:2600. The kernel prints each 32-bit word of the address
/// in host byte order (little-endian here).
fn parse_endpoint(s: &str) -> Option<(IpAddr, u16)> {
    let (addr, port) = s.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let words: Vec<u32> = (0..addr.len() / 8)
        .map(|i| u32::from_str_radix(addr.get(i * 8..i * 8 + 8)?, 16).ok())
        .collect::<Option<_>>()?;
    let ip = match words.as_slice() {
        [w] => IpAddr::from(w.swap_bytes().to_be_bytes()),
        [a, b, c, d] => {
            let mut bytes = [0u8; 16];
            for (i, w) in [a, b, c, d].iter().enumerate() {
                bytes[i * 4..i * 4 + 4].copy_from_slice(&w.swap_bytes().to_be_bytes());
            }
            let v6 = std::net::Ipv6Addr::from(bytes);
            // IPv4 clients of a dual-stack listener appear as ::ffff:a.b.c.d.
            match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6(v6),
            }
        }
        _ => return None,
    };
    Some((ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_mapped_peers_of_tcp6_become_ipv4() {
        let line = "  sl header\n   0: 0000000000000000FFFF00000100007F:0019 0000000000000000FFFF00000200007F:D431 01 00000000:00000000 00:00000000 00000000 0 0 1 1 0\n";
        let s = parse_net_tcp(line);
        assert_eq!(
            s[0].remote,
            "127.0.0.2".parse::<IpAddr>().expect("test value")
        );
        assert_eq!(s[0].local_port, 25);
    }
}

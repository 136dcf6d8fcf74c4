//! The TCP sockets of a mail server's own ports: listening sockets with their accept
//! queue, and established connections grouped by peer. Two backends give the same
//! [`TcpSocket`]s: the kernel's sock_diag netlink interface ([`sockdiag`], filtered in
//! the kernel, cheap) and /proc/net/tcp{,6} ([`proc_net`], the fallback where netlink
//! is not allowed).

pub mod proc_net;
pub mod sockdiag;

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::mta::procfs::read_into;

/// One row of /proc/net/tcp or tcp6.
#[derive(Debug, Clone, PartialEq)]
pub struct TcpSocket {
    pub local: IpAddr,
    pub local_port: u16,
    pub remote: IpAddr,
    pub remote_port: u16,
    /// Kernel TCP state: 0x0A listen, 0x01 established.
    pub state: u8,
    /// For a listening socket: connections completed and waiting for `accept()`.
    pub rx_queue: u64,
    /// The socket's inode: what `/proc/PID/fd/N` links to (`socket:[inode]`), so an
    /// established connection can be tied to the process that serves it.
    pub inode: u64,
}

pub const TCP_ESTABLISHED: u8 = 0x01;
pub const TCP_LISTEN: u8 = 0x0A;

/// Listening sockets on `ports` and, when `established` is set, established connections
/// whose local port is one of them: from sock_diag (filtered in the kernel), or from
/// /proc/net/tcp{,6} where netlink is not allowed.
pub fn tcp_sockets_on(ports: &[u16], established: bool) -> Vec<TcpSocket> {
    if ports.is_empty() {
        return Vec::new();
    }
    match sockdiag::sockets_on(ports, established) {
        Ok(v) => v,
        Err(_) => {
            let mut v = proc_net::tcp_sockets();
            v.retain(|s| {
                ports.contains(&s.local_port)
                    && (s.state == TCP_LISTEN || (established && s.state == TCP_ESTABLISHED))
            });
            v
        }
    }
}

/// What the sockets say about one listening endpoint.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EndpointUse {
    pub listening: bool,
    /// Sum of the accept queues of the matching listening sockets.
    pub backlog: u64,
    pub established: u64,
    /// Established connections per peer address, largest first.
    pub peers: Vec<(IpAddr, u64)>,
}

/// Sockets whose local port is `port` and, when `addr` is given, whose local address is
/// `addr` (a listener on the wildcard address matches any).
pub fn endpoint_use(sockets: &[TcpSocket], addr: Option<IpAddr>, port: u16) -> EndpointUse {
    let mut u = EndpointUse::default();
    let mut peers: BTreeMap<IpAddr, u64> = BTreeMap::new();
    for s in sockets.iter().filter(|s| s.local_port == port) {
        let addr_ok = match addr {
            None => true,
            Some(a) => s.local == a || s.local.is_unspecified(),
        };
        if !addr_ok {
            continue;
        }
        match s.state {
            TCP_LISTEN => {
                u.listening = true;
                u.backlog += s.rx_queue;
            }
            TCP_ESTABLISHED => {
                u.established += 1;
                *peers.entry(s.remote).or_default() += 1;
            }
            _ => {}
        }
    }
    let mut peers: Vec<_> = peers.into_iter().collect();
    peers.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    u.peers = peers;
    u
}

/// net.core.somaxconn: the kernel's cap on every listen backlog.
pub fn somaxconn() -> Option<u64> {
    let mut buf = Vec::with_capacity(16);
    read_into("/proc/sys/net/core/somaxconn", &mut buf).ok()?;
    String::from_utf8_lossy(&buf).trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proc_net::parse_net_tcp;

    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:0A28 00000000:0000 0A 00000000:00000003 00:00000000 00000000     0        0 17447 1 0 100 0 0 10 0
   2: 0100007F:81C2 0100007F:0A28 01 00000000:00000000 00:00000000 00000000     0        0 17525 2 0 20 4 30 10 -1
   6: 0100007F:0A28 0100007F:81C2 01 00000000:00000000 02:000AFC1D 00000000   102        0 17561 2 0 20 0 0 11 -1
   7: 0100007F:0A28 0200007F:81C3 01 00000000:00000000 02:000AFC1D 00000000   102        0 17562 2 0 20 0 0 11 -1
   8: 0100007F:0A28 0100007F:81C4 01 00000000:00000000 02:000AFC1D 00000000   102        0 17563 2 0 20 0 0 11 -1
";

    #[test]
    fn listen_backlog_and_peers_of_one_port() {
        let s = parse_net_tcp(TCP);
        assert_eq!(s.len(), 5);
        assert_eq!(
            s[0].local,
            "127.0.0.1".parse::<IpAddr>().expect("test value")
        );
        assert_eq!(s[0].local_port, 2600);
        let u = endpoint_use(&s, Some("127.0.0.1".parse().expect("test value")), 2600);
        assert!(u.listening);
        assert_eq!(u.backlog, 3);
        assert_eq!(u.established, 3);
        assert_eq!(u.peers[0], ("127.0.0.1".parse().expect("test value"), 2));
        assert_eq!(u.peers[1], ("127.0.0.2".parse().expect("test value"), 1));
    }
}

//! TCP sockets from the kernel's sock_diag netlink interface (what `ss` uses), asked
//! only for the states and local ports a mail server listens on.
//!
//! Why not /proc/net/tcp: every `read()` of it walks the whole established hash table
//! (hundreds of thousands of buckets on a host with a lot of memory), and reading the
//! two files costs milliseconds per tick even when there is one socket. A dump of
//! listening sockets walks only the listening hash; established connections are asked
//! for only when a server may hold some, filtered by port in the kernel.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use rustix::net::{self as rnet, AddressFamily, RecvFlags, SendFlags, SocketType};

use super::{TcpSocket, TCP_ESTABLISHED, TCP_LISTEN};

const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLM_F_REQUEST: u16 = 0x01;
const NLM_F_DUMP: u16 = 0x300;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const IPPROTO_TCP: u8 = 6;
const INET_DIAG_REQ_BYTECODE: u16 = 1;
const INET_DIAG_BC_JMP: u8 = 1;
const INET_DIAG_BC_S_GE: u8 = 2;
const INET_DIAG_BC_S_LE: u8 = 3;
const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;
/// struct inet_diag_msg: family, state, timer, retrans, sockid (48), expires, rqueue,
/// wqueue, uid, inode.
const DIAG_MSG_LEN: usize = 72;
const NLMSG_HDR_LEN: usize = 16;

/// Bit of a TCP state in `idiag_states`.
pub const fn state_bit(state: u8) -> u32 {
    1 << state
}

/// Listening sockets of both address families whose local port is one of `ports` and,
/// when `established` is set, established connections on those ports. The established
/// hash is walked once per address family that has such a listener (an IPv4-only
/// server costs one walk, not two). For a listening socket `rx_queue` is the accept
/// queue, as in /proc/net/tcp.
pub fn sockets_on(ports: &[u16], established: bool) -> io::Result<Vec<TcpSocket>> {
    let mut listeners: Vec<(u8, TcpSocket)> = Vec::new();
    for family in [AF_INET, AF_INET6] {
        match dump(family, state_bit(TCP_LISTEN), ports) {
            Ok(v) => listeners.extend(v),
            // A kernel without IPv6 has no handler for the family: no IPv6 sockets.
            Err(e) if family == AF_INET6 && is_missing_family(&e) => {}
            Err(e) => return Err(e),
        }
    }
    let mut families: Vec<u8> = listeners.iter().map(|(f, _)| *f).collect();
    families.sort_unstable();
    families.dedup();
    if families.is_empty() {
        // No listener (a stopped server): connections it accepted may still be open.
        families = vec![AF_INET, AF_INET6];
    }
    let mut out: Vec<TcpSocket> = listeners.into_iter().map(|(_, s)| s).collect();
    if established {
        for family in families {
            match dump(family, state_bit(TCP_ESTABLISHED), ports) {
                Ok(v) => out.extend(v.into_iter().map(|(_, s)| s)),
                Err(e) if family == AF_INET6 && is_missing_family(&e) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(out)
}

fn is_missing_family(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(c) if c == rustix::io::Errno::NOENT.raw_os_error()
            || c == rustix::io::Errno::AFNOSUPPORT.raw_os_error()
            || c == rustix::io::Errno::INVAL.raw_os_error()
    )
}

/// The request: nlmsghdr, inet_diag_req_v2, and a bytecode filter on the local port.
pub fn request(family: u8, states: u32, ports: &[u16], seq: u32) -> Vec<u8> {
    let bytecode = port_filter(ports);
    let mut body = Vec::with_capacity(56 + 4 + bytecode.len());
    body.extend([family, IPPROTO_TCP, 0, 0]);
    body.extend(states.to_ne_bytes());
    body.extend([0u8; 48]); // inet_diag_sockid: no particular socket
    if !bytecode.is_empty() {
        body.extend(((4 + bytecode.len()) as u16).to_ne_bytes());
        body.extend(INET_DIAG_REQ_BYTECODE.to_ne_bytes());
        body.extend(&bytecode);
    }
    let mut msg = Vec::with_capacity(NLMSG_HDR_LEN + body.len());
    msg.extend(((NLMSG_HDR_LEN + body.len()) as u32).to_ne_bytes());
    msg.extend(SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    msg.extend((NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    msg.extend(seq.to_ne_bytes());
    msg.extend(0u32.to_ne_bytes());
    msg.extend(body);
    msg
}

/// inet_diag bytecode for "local port is one of `ports`", as `ss` compiles
/// `sport = :a or sport = :b`: per port `sport >= p && sport <= p`, where a failed
/// test jumps to the next port's test (or 4 bytes past the end: reject), and a JMP
/// after each match jumps to the end (accept).
pub fn port_filter(ports: &[u16]) -> Vec<u8> {
    let mut ports: Vec<u16> = ports.to_vec();
    ports.sort_unstable();
    ports.dedup();
    let mut out = Vec::new();
    for (i, &p) in ports.iter().enumerate() {
        let last = i + 1 == ports.len();
        // The later ports' tests: 20 bytes each (16 of tests and a JMP), the last 16.
        let rest: usize = ((ports.len() - i - 1) * 20).saturating_sub(4);
        let op = |code: u8, yes: u8, no: u16| {
            let mut b = vec![code, yes];
            b.extend(no.to_ne_bytes());
            b
        };
        let port = |p: u16| {
            let mut b = vec![0u8, 0];
            b.extend(p.to_ne_bytes());
            b
        };
        // From the GE op, the next port's tests start 16 + 4 bytes on (past the JMP);
        // for the last port that is 4 bytes past the end: reject.
        out.extend(op(INET_DIAG_BC_S_GE, 8, 20));
        out.extend(port(p));
        out.extend(op(INET_DIAG_BC_S_LE, 8, 12));
        out.extend(port(p));
        if !last {
            out.extend(op(INET_DIAG_BC_JMP, 4, (4 + rest) as u16));
        }
    }
    out
}

fn dump(family: u8, states: u32, ports: &[u16]) -> io::Result<Vec<(u8, TcpSocket)>> {
    let fd = rnet::socket(
        AddressFamily::NETLINK,
        SocketType::DGRAM,
        Some(rnet::netlink::SOCK_DIAG),
    )?;
    // A dump is answered at once; a kernel that never answers must not hang the tick.
    rnet::sockopt::set_socket_timeout(
        &fd,
        rnet::sockopt::Timeout::Recv,
        Some(Duration::from_secs(2)),
    )?;
    let seq = 1;
    rnet::send(
        &fd,
        &request(family, states, ports, seq),
        SendFlags::empty(),
    )?;
    let mut buf = vec![0u8; 32 * 1024];
    let mut out = Vec::new();
    loop {
        let (n, _) = rnet::recv(&fd, &mut buf[..], RecvFlags::empty())?;
        if n == 0 {
            return Ok(out);
        }
        match parse_messages(&buf[..n], seq, &mut out)? {
            true => return Ok(out),
            false => continue,
        }
    }
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}
fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Parses one datagram of netlink messages into `out`; true once NLMSG_DONE is seen.
pub fn parse_messages(mut b: &[u8], seq: u32, out: &mut Vec<(u8, TcpSocket)>) -> io::Result<bool> {
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "malformed sock_diag reply");
    while b.len() >= NLMSG_HDR_LEN {
        let len = u32_at(b, 0).ok_or_else(bad)? as usize;
        let kind = u16_at(b, 4).ok_or_else(bad)?;
        let msg_seq = u32_at(b, 8).ok_or_else(bad)?;
        if len < NLMSG_HDR_LEN || len > b.len() {
            return Err(bad());
        }
        let payload = &b[NLMSG_HDR_LEN..len];
        if msg_seq == seq {
            match kind {
                NLMSG_DONE => return Ok(true),
                NLMSG_ERROR => {
                    let errno = u32_at(payload, 0).ok_or_else(bad)? as i32;
                    return Err(if errno == 0 {
                        bad()
                    } else {
                        io::Error::from_raw_os_error(-errno)
                    });
                }
                SOCK_DIAG_BY_FAMILY => out.extend(parse_diag_msg(payload).map(|s| (payload[0], s))),
                _ => {}
            }
        }
        // Messages are aligned to 4 bytes.
        let next = (len + 3) & !3;
        b = b.get(next..).unwrap_or(&[]);
    }
    Ok(false)
}

/// One struct inet_diag_msg (its attributes, none asked for, are ignored).
pub fn parse_diag_msg(p: &[u8]) -> Option<TcpSocket> {
    if p.len() < DIAG_MSG_LEN {
        return None;
    }
    let family = p[0];
    let state = p[1];
    // sockid: sport and dport in network order, then src[4] and dst[4] (be32 words).
    let sport = u16::from_be_bytes([p[4], p[5]]);
    let dport = u16::from_be_bytes([p[6], p[7]]);
    let addr = |at: usize| -> Option<IpAddr> {
        match family {
            AF_INET => Some(IpAddr::V4(Ipv4Addr::new(
                p[at],
                p[at + 1],
                p[at + 2],
                p[at + 3],
            ))),
            AF_INET6 => {
                let bytes: [u8; 16] = p.get(at..at + 16)?.try_into().ok()?;
                let v6 = Ipv6Addr::from(bytes);
                // IPv4 clients of a dual-stack listener appear as ::ffff:a.b.c.d.
                Some(match v6.to_ipv4_mapped() {
                    Some(v4) => IpAddr::V4(v4),
                    None => IpAddr::V6(v6),
                })
            }
            _ => None,
        }
    };
    let local = addr(8)?;
    let remote = addr(24)?;
    let rqueue = u32_at(p, 56)?;
    let inode = u32_at(p, 68)?;
    Some(TcpSocket {
        local,
        local_port: sport,
        remote,
        remote_port: dport,
        state,
        rx_queue: rqueue as u64,
        inode: inode as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the filter as the kernel's inet_diag_bc_run does.
    fn accepts(bc: &[u8], sport: u16) -> bool {
        let mut at = 0usize;
        let mut len = bc.len() as i64;
        while len > 0 {
            let code = bc[at];
            let yes_step = bc[at + 1] as usize;
            let no_step = u16::from_ne_bytes([bc[at + 2], bc[at + 3]]) as usize;
            let port = || u16::from_ne_bytes([bc[at + 6], bc[at + 7]]);
            let yes = match code {
                INET_DIAG_BC_S_GE => sport >= port(),
                INET_DIAG_BC_S_LE => sport <= port(),
                INET_DIAG_BC_JMP => false,
                _ => true,
            };
            let step = if yes { yes_step } else { no_step };
            len -= step as i64;
            at += step;
        }
        len == 0
    }

    /// Checks the filter as the kernel's inet_diag_bc_audit does: every jump lands on
    /// an op reachable along the `yes` chain, the end, or 4 bytes past it.
    fn audit(bc: &[u8]) -> bool {
        let valid_cc = |cc: i64| {
            let mut len = bc.len() as i64;
            let mut at = 0usize;
            while len >= 0 {
                if cc > len {
                    return false;
                }
                if cc == len {
                    return true;
                }
                let yes = bc[at + 1] as i64;
                if yes < 4 || yes & 3 != 0 {
                    return false;
                }
                len -= yes;
                at += yes as usize;
            }
            false
        };
        let mut len = bc.len() as i64;
        let mut at = 0usize;
        while len > 0 {
            let code = bc[at];
            let min = if code == INET_DIAG_BC_JMP { 4 } else { 8 };
            let yes = bc[at + 1] as i64;
            let no = u16::from_ne_bytes([bc[at + 2], bc[at + 3]]) as i64;
            if no < min || no > len + 4 || no & 3 != 0 {
                return false;
            }
            if no < len && !valid_cc(len - no) {
                return false;
            }
            if yes < min || yes > len + 4 || yes & 3 != 0 {
                return false;
            }
            at += yes as usize;
            len -= yes;
        }
        len == 0
    }

    #[test]
    fn the_port_filter_accepts_exactly_its_ports_and_passes_the_kernel_audit() {
        for ports in [vec![25], vec![25, 587], vec![2600, 25, 465, 587]] {
            let bc = port_filter(&ports);
            assert!(audit(&bc), "{ports:?}");
            for p in [1, 24, 25, 26, 464, 465, 466, 586, 587, 588, 2600, 65535] {
                assert_eq!(accepts(&bc, p), ports.contains(&p), "{ports:?} port {p}");
            }
        }
        assert!(port_filter(&[]).is_empty());
    }

    #[test]
    fn diag_messages_parse_into_sockets() {
        let mut m = vec![AF_INET, TCP_LISTEN, 0, 0];
        m.extend(2600u16.to_be_bytes());
        m.extend(0u16.to_be_bytes());
        m.extend([127, 0, 0, 1]);
        m.extend([0u8; 12]);
        m.extend([0u8; 16]);
        m.extend([0u8; 12]); // if, cookie
        m.extend(0u32.to_ne_bytes()); // expires
        m.extend(3u32.to_ne_bytes()); // rqueue: accept queue
        m.extend(100u32.to_ne_bytes()); // wqueue: backlog limit
        m.extend([0u8; 8]);
        let s = parse_diag_msg(&m).expect("parses");
        assert_eq!(s.local, IpAddr::from([127, 0, 0, 1]));
        assert_eq!((s.local_port, s.state, s.rx_queue), (2600, TCP_LISTEN, 3));

        let mut v6 = m.clone();
        v6[0] = AF_INET6;
        v6[1] = TCP_ESTABLISHED;
        v6[24..40].copy_from_slice(&"::ffff:192.0.2.7".parse::<Ipv6Addr>().expect("v6").octets());
        let s = parse_diag_msg(&v6).expect("parses");
        assert_eq!(s.remote, IpAddr::from([192, 0, 2, 7]));
    }

    #[test]
    fn a_live_dump_sees_our_own_listener() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().expect("addr").port();
        let c = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let socks = match sockets_on(&[port], true) {
            Ok(s) => s,
            // Sandboxes may forbid netlink; the caller falls back to /proc then.
            Err(e) => return eprintln!("sock_diag unavailable here: {e}"),
        };
        drop(c);
        let listen: Vec<_> = socks.iter().filter(|s| s.state == TCP_LISTEN).collect();
        assert_eq!(listen.len(), 1, "{socks:?}");
        assert_eq!(listen[0].rx_queue, 1, "the connection waits to be accepted");
        assert_eq!(
            socks.iter().filter(|s| s.state == TCP_ESTABLISHED).count(),
            1,
            "{socks:?}"
        );
        assert!(socks.iter().all(|s| s.local_port == port));
    }
}

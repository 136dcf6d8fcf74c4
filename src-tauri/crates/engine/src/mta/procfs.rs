//! What /proc says about mail server processes and sockets: processes by name with their
//! parent and argv, listening sockets with their accept queue, and established
//! connections grouped by peer. Read-only and cheap: a daemon's children rather than
//! every process, and sockets of the server's own ports only.

use std::collections::BTreeMap;
use std::net::IpAddr;

#[derive(Debug, Clone, PartialEq)]
pub struct Process {
    pub pid: u32,
    pub ppid: u32,
    pub comm: String,
    pub argv: Vec<String>,
}

/// Processes whose command name (`/proc/PID/stat` comm) is one of `names`; argv is read
/// only for those, so a busy host costs one small read per process. For detection and
/// fallbacks: per-tick reads of a known daemon use [`children_named`].
pub fn processes_named(names: &[&str]) -> Vec<Process> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut buf = Vec::with_capacity(1024);
    dir.flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| process(pid, names, &mut buf))
        .collect()
}

/// Children of `parent` whose command name is one of `names`, from the kernel's lists of
/// each thread's children (`/proc/PID/task/TID/children`): a daemon's handful of
/// children is read, not every process of the host. Falls back to a scan of /proc
/// where those lists do not exist (kernels without CONFIG_PROC_CHILDREN).
pub fn children_named(parent: u32, names: &[&str]) -> Vec<Process> {
    let mut buf = Vec::with_capacity(1024);
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{parent}/task")) else {
        return Vec::new();
    };
    let mut pids: Vec<u32> = Vec::new();
    for task in tasks.flatten() {
        let path = format!(
            "/proc/{parent}/task/{}/children",
            task.file_name().to_string_lossy()
        );
        if read_into(&path, &mut buf).is_err() {
            let mut v = processes_named(names);
            v.retain(|p| p.ppid == parent);
            return v;
        }
        pids.extend(
            String::from_utf8_lossy(&buf)
                .split_whitespace()
                .filter_map(|p| p.parse::<u32>().ok()),
        );
    }
    pids.into_iter()
        .filter_map(|pid| process(pid, names, &mut buf))
        // A pid may have been reused between the two reads.
        .filter(|p| p.ppid == parent)
        .collect()
}

/// Process `pid` when it lives and its comm is one of `names`.
pub fn process_named(pid: u32, names: &[&str]) -> Option<Process> {
    process(pid, names, &mut Vec::with_capacity(1024))
}

/// One process when its comm is one of `names` (all when `names` is empty).
fn process(pid: u32, names: &[&str], buf: &mut Vec<u8>) -> Option<Process> {
    read_into(&format!("/proc/{pid}/stat"), buf).ok()?;
    let (comm, ppid) = parse_stat(&String::from_utf8_lossy(buf))?;
    if !names.is_empty() && !names.contains(&comm.as_str()) {
        return None;
    }
    let argv = match read_into(&format!("/proc/{pid}/cmdline"), buf) {
        Ok(()) => buf
            .split(|&c| c == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect(),
        Err(_) => Vec::new(),
    };
    Some(Process {
        pid,
        ppid,
        comm,
        argv,
    })
}

/// Reads a small /proc file into `buf` (replacing its contents) with plain reads:
/// `std::fs::read` would first stat the file for a size that /proc reports as 0.
pub fn read_into(path: &str, buf: &mut Vec<u8>) -> std::io::Result<()> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    buf.clear();
    let mut chunk = [0u8; 4096];
    loop {
        match f.read(&mut chunk) {
            Ok(0) => return Ok(()),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// (comm, ppid) from /proc/PID/stat; comm may contain spaces and parentheses.
pub fn parse_stat(stat: &str) -> Option<(String, u32)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?.to_string();
    let mut rest = stat.get(close + 1..)?.split_whitespace();
    let _state = rest.next()?;
    let ppid = rest.next()?.parse().ok()?;
    Some((comm, ppid))
}

/// Whether `pid` is alive and its command name is `comm`.
pub fn pid_is(pid: u32, comm: &str) -> bool {
    let mut buf = Vec::with_capacity(512);
    read_into(&format!("/proc/{pid}/stat"), &mut buf).is_ok()
        && parse_stat(&String::from_utf8_lossy(&buf)).is_some_and(|(c, _)| c == comm)
}

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
}

pub const TCP_ESTABLISHED: u8 = 0x01;
pub const TCP_LISTEN: u8 = 0x0A;

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

/// Listening sockets on `ports` and, when `established` is set, established connections
/// whose local port is one of them: from sock_diag (filtered in the kernel), or from
/// /proc/net/tcp{,6} where netlink is not allowed.
pub fn tcp_sockets_on(ports: &[u16], established: bool) -> Vec<TcpSocket> {
    if ports.is_empty() {
        return Vec::new();
    }
    match crate::mta::sockdiag::sockets_on(ports, established) {
        Ok(v) => v,
        Err(_) => {
            let mut v = tcp_sockets();
            v.retain(|s| {
                ports.contains(&s.local_port)
                    && (s.state == TCP_LISTEN || (established && s.state == TCP_ESTABLISHED))
            });
            v
        }
    }
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
            Some(TcpSocket {
                local,
                local_port,
                remote,
                remote_port,
                state,
                rx_queue: u64::from_str_radix(rx, 16).ok()?,
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

    #[test]
    fn children_of_a_process_are_found_without_a_full_scan() {
        let mut child = std::process::Command::new("/bin/sleep")
            .arg("30")
            .spawn()
            .expect("sleep starts");
        // Just after spawn the child may still be inside execve, its argv not yet set.
        let mut found = Vec::new();
        for _ in 0..200 {
            found = children_named(std::process::id(), &["sleep"]);
            if found
                .iter()
                .any(|p| p.pid == child.id() && !p.argv.is_empty())
            {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let _ = child.kill();
        let _ = child.wait();
        assert!(
            found
                .iter()
                .any(|p| p.pid == child.id() && p.argv == ["/bin/sleep", "30"]),
            "{found:?}"
        );
        assert!(children_named(std::process::id(), &["no-such-comm"]).is_empty());
    }

    #[test]
    fn stat_with_odd_comm_parses() {
        assert_eq!(
            parse_stat("42 (a) b) S 7 42 42 0"),
            Some(("a) b".to_string(), 7))
        );
    }
}

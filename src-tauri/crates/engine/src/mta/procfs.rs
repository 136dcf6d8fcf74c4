//! What /proc says about mail server processes: processes by name with their parent
//! and argv. Read-only and cheap: a daemon's children rather than every process.

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

/// The socket inodes `pid` holds open (`/proc/PID/fd/N -> socket:[inode]`); `None`
/// when its descriptors cannot be read (not root, or the process is gone).
pub fn socket_inodes(pid: u32) -> Option<Vec<u64>> {
    let dir = match std::fs::read_dir(format!("/proc/{pid}/fd")) {
        Ok(d) => d,
        // Gone since it was listed: it serves nobody.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Some(Vec::new()),
        Err(_) => return None,
    };
    Some(
        dir.flatten()
            .filter_map(|e| std::fs::read_link(e.path()).ok())
            .filter_map(|l| {
                let l = l.to_string_lossy();
                l.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok()
            })
            .collect(),
    )
}

/// Whether `pid` is alive and its command name is `comm`.
pub fn pid_is(pid: u32, comm: &str) -> bool {
    let mut buf = Vec::with_capacity(512);
    read_into(&format!("/proc/{pid}/stat"), &mut buf).is_ok()
        && parse_stat(&String::from_utf8_lossy(&buf)).is_some_and(|(c, _)| c == comm)
}

#[cfg(test)]
mod tests {
    use super::*;

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

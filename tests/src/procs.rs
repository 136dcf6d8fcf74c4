//! CPU and memory of a process tree, read from /proc, for the benchmarks.

/// One process of a tree: its name (`comm`), CPU seconds (user + system) and RSS (KiB).
#[derive(Debug, Clone)]
pub struct ProcUsage {
    pub pid: u32,
    pub name: String,
    pub cpu_s: f64,
    pub rss_kib: u64,
}

/// `root` and all its descendants.
fn tree_pids(root: u32) -> Vec<u32> {
    let mut pids = vec![root];
    let mut i = 0;
    while i < pids.len() {
        let parent = pids[i];
        if let Ok(dir) = std::fs::read_dir("/proc") {
            for e in dir.flatten() {
                let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
                    continue;
                };
                let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                    continue;
                };
                let Some(rest) = stat.rsplit_once(')').map(|x| x.1) else {
                    continue;
                };
                let f: Vec<&str> = rest.split_whitespace().collect();
                if f.get(1).and_then(|p| p.parse::<u32>().ok()) == Some(parent)
                    && !pids.contains(&pid)
                {
                    pids.push(pid);
                }
            }
        }
        i += 1;
    }
    pids
}

/// Each process of the tree under `root`.
pub fn tree_processes(root: u32) -> Vec<ProcUsage> {
    let tick = 100.0; // USER_HZ on Linux
    tree_pids(root)
        .into_iter()
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let (head, rest) = stat.rsplit_once(')')?;
            let name = head.split_once('(').map(|x| x.1).unwrap_or("").to_string();
            let f: Vec<&str> = rest.split_whitespace().collect();
            let cpu_s = (f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?) / tick;
            let rss_kib = std::fs::read_to_string(format!("/proc/{pid}/status"))
                .ok()
                .and_then(|s| {
                    s.lines()
                        .find(|l| l.starts_with("VmRSS:"))
                        .and_then(|l| l.split_whitespace().nth(1))
                        .and_then(|v| v.parse::<u64>().ok())
                })
                .unwrap_or(0);
            Some(ProcUsage {
                pid,
                name,
                cpu_s,
                rss_kib,
            })
        })
        .collect()
}

/// CPU seconds and RSS (KiB) of a process and all its descendants.
pub fn tree_usage(root: u32) -> (f64, u64) {
    tree_processes(root)
        .iter()
        .fold((0.0, 0), |(c, r), p| (c + p.cpu_s, r + p.rss_kib))
}

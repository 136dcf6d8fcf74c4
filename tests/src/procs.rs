//! CPU and memory of a process tree, read from /proc, for the benchmarks.

/// CPU seconds and RSS (KiB) of a process and all its descendants.
pub fn tree_usage(root: u32) -> (f64, u64) {
    let tick = 100.0; // USER_HZ on Linux
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
    let (mut cpu, mut rss) = (0.0, 0u64);
    for pid in pids {
        if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            if let Some(rest) = stat.rsplit_once(')').map(|x| x.1) {
                let f: Vec<&str> = rest.split_whitespace().collect();
                cpu += (f[11].parse::<f64>().unwrap_or(0.0) + f[12].parse::<f64>().unwrap_or(0.0))
                    / tick;
            }
        }
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            rss += status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    (cpu, rss)
}

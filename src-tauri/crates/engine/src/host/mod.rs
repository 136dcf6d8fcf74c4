//! Host resources: CPU, load, memory, swap (sysinfo), free space and inodes of each
//! mounted filesystem (statvfs), and disk I/O utilisation per device (/proc/diskstats).

mod diskstats;
mod filesystems;
mod sample;

pub use diskstats::{parse_diskstats, DiskCounters, DiskIoTracker};
pub use filesystems::{parse_mounts, statvfs, MountEntry};
pub use sample::{DiskIoSample, FilesystemSample, HostSample, MemorySample};

use std::time::Instant;

use sysinfo::{CpuRefreshKind, MemoryRefreshKind, RefreshKind, System};

/// Reads the host. Implemented by [`SysHost`] for the real machine and by fakes in
/// tests; `sample` may block briefly (statvfs), so the monitor calls it off the runtime.
pub trait HostSource: Send {
    /// Takes the first reading that later CPU and I/O deltas are measured against.
    fn prime(&mut self);
    fn sample(&mut self) -> Result<HostSample, HostError>;
}

/// Why the host could not be read this time (the real host degrades to empty parts
/// instead; other sources, and fakes, may fail whole).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HostError {
    #[error("{0}")]
    Unreadable(String),
}

/// The real host, read through one long-lived `sysinfo::System` that refreshes only
/// what it reports.
pub struct SysHost {
    system: System,
    disk_io: DiskIoTracker,
    cores: usize,
}

impl Default for SysHost {
    fn default() -> Self {
        Self::new()
    }
}

impl SysHost {
    pub fn new() -> Self {
        let system = System::new_with_specifics(
            RefreshKind::nothing()
                .with_cpu(CpuRefreshKind::nothing().with_cpu_usage())
                .with_memory(MemoryRefreshKind::everything()),
        );
        let cores = system.cpus().len().max(1);
        SysHost {
            system,
            disk_io: DiskIoTracker::default(),
            cores,
        }
    }
}

impl HostSource for SysHost {
    fn prime(&mut self) {
        self.system.refresh_cpu_usage();
        if let Ok(text) = std::fs::read_to_string("/proc/diskstats") {
            self.disk_io.update(&parse_diskstats(&text), Instant::now());
        }
    }

    fn sample(&mut self) -> Result<HostSample, HostError> {
        self.system.refresh_cpu_usage();
        self.system
            .refresh_memory_specifics(MemoryRefreshKind::everything());
        let cpu = self.system.global_cpu_usage() as f64;
        let load = System::load_average();
        let total = self.system.total_memory();
        let memory = (total > 0).then(|| MemorySample {
            total_bytes: total,
            used_bytes: total.saturating_sub(self.system.available_memory()),
            swap_total_bytes: self.system.total_swap(),
            swap_used_bytes: self.system.used_swap(),
        });
        let filesystems = match std::fs::read_to_string("/proc/self/mounts") {
            Ok(text) => filesystems::sample_all(&parse_mounts(&text)),
            Err(_) => Vec::new(),
        };
        let disks = match std::fs::read_to_string("/proc/diskstats") {
            Ok(text) => self.disk_io.update(&parse_diskstats(&text), Instant::now()),
            Err(_) => Vec::new(),
        };
        Ok(HostSample {
            cpu_percent: Some(cpu.clamp(0.0, 100.0)),
            cores: self.cores,
            load: Some([load.one, load.five, load.fifteen]),
            memory,
            filesystems,
            disks,
        })
    }
}

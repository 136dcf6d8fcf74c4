//! Plain data the host source produces each tick (part of [`crate::snapshot::Snapshot`]).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, ts_rs::TS)]
#[ts(export)]
pub struct HostSample {
    /// Whole-machine CPU busy percentage since the previous sample (0–100).
    pub cpu_percent: Option<f64>,
    pub cores: usize,
    /// 1, 5 and 15 minute load averages.
    pub load: Option<[f64; 3]>,
    pub memory: Option<MemorySample>,
    pub filesystems: Vec<FilesystemSample>,
    pub disks: Vec<DiskIoSample>,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, ts_rs::TS)]
#[ts(export)]
pub struct MemorySample {
    pub total_bytes: u64,
    /// Total minus available (what the kernel could not hand out without swapping).
    pub used_bytes: u64,
    pub swap_total_bytes: u64,
    pub swap_used_bytes: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, ts_rs::TS)]
#[ts(export)]
pub struct FilesystemSample {
    pub mount_point: String,
    pub device: String,
    pub fs_type: String,
    pub total_bytes: u64,
    /// Bytes available to unprivileged users (statvfs `f_bavail`), which is what
    /// Postfix's queue_minfree check compares against.
    pub free_bytes: u64,
    pub total_inodes: u64,
    pub free_inodes: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, ts_rs::TS)]
#[ts(export)]
pub struct DiskIoSample {
    pub device: String,
    /// Share of wall time the device had I/O in flight since the previous sample (0–100).
    pub util_percent: f64,
}

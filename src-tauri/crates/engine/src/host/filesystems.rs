//! Mounted filesystems and their free space and inodes.

use super::FilesystemSample;

#[derive(Debug, Clone, PartialEq)]
pub struct MountEntry {
    pub device: String,
    pub mount_point: String,
    pub fs_type: String,
}

/// Pseudo filesystems that hold no mail and network filesystems whose statvfs can hang
/// for minutes when the server is away; neither is sampled.
const SKIPPED_TYPES: &[&str] = &[
    "proc",
    "sysfs",
    "devtmpfs",
    "devpts",
    "cgroup",
    "cgroup2",
    "securityfs",
    "pstore",
    "debugfs",
    "tracefs",
    "configfs",
    "fusectl",
    "mqueue",
    "hugetlbfs",
    "bpf",
    "autofs",
    "binfmt_misc",
    "rpc_pipefs",
    "nsfs",
    "efivarfs",
    "squashfs",
    "ramfs",
    "nfs",
    "nfs4",
    "cifs",
    "smb3",
    "smbfs",
    "9p",
    "sshfs",
    "fuse.sshfs",
    "ceph",
    "glusterfs",
];

/// Parses /proc/self/mounts, keeping filesystems that can hold a mail queue, one entry
/// per device (bind mounts of the same device would otherwise repeat it).
pub fn parse_mounts(text: &str) -> Vec<MountEntry> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for line in text.lines() {
        let mut f = line.split_whitespace();
        let (Some(device), Some(mount), Some(fs_type)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        let mount_point = unescape_octal(mount);
        if SKIPPED_TYPES.contains(&fs_type) || fs_type.starts_with("fuse.") {
            continue;
        }
        // The kernel calls it "overlay". On a container host every container's root
        // is one (sharing the host's disk, already sampled); inside a container the
        // root is one too, and there it is the disk the queue lives on.
        if fs_type == "overlay" && mount_point != "/" {
            continue;
        }
        // tmpfs is kept (a queue may live there) except the kernel's own run-time mounts.
        if fs_type == "tmpfs"
            && ["/run", "/dev", "/sys", "/proc"]
                .iter()
                .any(|p| mount_point == *p || mount_point.starts_with(&format!("{p}/")))
        {
            continue;
        }
        let key = if device.starts_with('/') {
            device.to_string()
        } else {
            format!("{device}@{mount_point}")
        };
        if !seen.insert(key) {
            continue;
        }
        out.push(MountEntry {
            device: unescape_octal(device),
            mount_point,
            fs_type: fs_type.to_string(),
        });
    }
    out
}

/// /proc/mounts writes space, tab, newline and backslash as `\040` and friends.
fn unescape_octal(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// statvfs of one path: (total, available-to-users bytes, total inodes, free inodes).
pub fn statvfs(path: &str) -> std::io::Result<(u64, u64, u64, u64)> {
    let s = rustix::fs::statvfs(path)?;
    let frsize = if s.f_frsize > 0 {
        s.f_frsize
    } else {
        s.f_bsize
    };
    Ok((
        s.f_blocks.saturating_mul(frsize),
        s.f_bavail.saturating_mul(frsize),
        s.f_files,
        s.f_favail,
    ))
}

pub fn sample_all(mounts: &[MountEntry]) -> Vec<FilesystemSample> {
    mounts
        .iter()
        .filter_map(|m| {
            let (total, free, inodes, free_inodes) = statvfs(&m.mount_point).ok()?;
            (total > 0).then(|| FilesystemSample {
                mount_point: m.mount_point.clone(),
                device: m.device.clone(),
                fs_type: m.fs_type.clone(),
                total_bytes: total,
                free_bytes: free,
                total_inodes: inodes,
                free_inodes,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTS: &str = "\
/dev/vda / ext4 rw,relatime 0 0
proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0
tmpfs /run tmpfs rw,nosuid,nodev 0 0
tmpfs /run/user/0 tmpfs rw 0 0
tmpfs /var/spool/postfix tmpfs rw,size=20m 0 0
/dev/vda /srv/bind ext4 rw 0 0
server:/export /mnt/nfs nfs4 rw 0 0
/dev/sdb1 /mnt/with\\040space xfs rw 0 0
";

    #[test]
    fn keeps_mail_capable_filesystems_once_per_device() {
        let m = parse_mounts(MOUNTS);
        let points: Vec<_> = m.iter().map(|m| m.mount_point.as_str()).collect();
        assert_eq!(points, ["/", "/var/spool/postfix", "/mnt/with space"]);
        assert_eq!(m[2].fs_type, "xfs");
    }

    #[test]
    fn container_roots_on_a_docker_host_are_not_filesystems_to_watch() {
        let host = "\
/dev/vda / ext4 rw 0 0
overlay /var/lib/docker/overlay2/0a1b/merged overlay rw,lowerdir=/l1,upperdir=/u1,workdir=/w1 0 0
overlay /var/lib/docker/overlay2/2c3d/merged overlay rw,lowerdir=/l2,upperdir=/u2,workdir=/w2 0 0
";
        let points: Vec<_> = parse_mounts(host)
            .into_iter()
            .map(|m| m.mount_point)
            .collect();
        assert_eq!(points, ["/"]);
        // Inside a container, its overlay root is where the queue is.
        let inside = "overlay / overlay rw,lowerdir=/l,upperdir=/u,workdir=/w 0 0\n";
        assert_eq!(parse_mounts(inside)[0].fs_type, "overlay");
    }

    #[test]
    fn statvfs_of_root_reports_space_and_inodes() {
        let (total, free, _inodes, _free_inodes) = statvfs("/").expect("statvfs /");
        assert!(total > 0 && free <= total);
    }
}

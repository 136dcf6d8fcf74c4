//! Host items: cpu, memory, swap, load and disk_io.

use super::ItemInput;
use crate::item::ItemId;
use crate::snapshot::Snapshot;

pub fn items(snap: &Snapshot) -> Vec<ItemInput> {
    let Some(h) = &snap.host else {
        let why = snap
            .problems
            .iter()
            .find(|p| p.source == "host")
            .map(|p| p.message.clone())
            .unwrap_or_else(|| "host not sampled".into());
        return [ItemId::Cpu, ItemId::Memory, ItemId::Load]
            .into_iter()
            .map(|id| ItemInput {
                id,
                used: None,
                limit: None,
                detail: why.clone(),
            })
            .collect();
    };
    let mut out = vec![ItemInput {
        id: ItemId::Cpu,
        used: h.cpu_percent,
        limit: Some(100.0),
        detail: format!("{} cores", h.cores),
    }];
    match h.memory {
        Some(m) => {
            out.push(ItemInput {
                id: ItemId::Memory,
                used: Some(m.used_bytes as f64),
                limit: Some(m.total_bytes as f64),
                detail: String::new(),
            });
            // A host without swap has nothing to run out of there.
            if m.swap_total_bytes > 0 {
                out.push(ItemInput {
                    id: ItemId::Swap,
                    used: Some(m.swap_used_bytes as f64),
                    limit: Some(m.swap_total_bytes as f64),
                    detail: String::new(),
                });
            }
        }
        None => out.push(ItemInput {
            id: ItemId::Memory,
            used: None,
            limit: None,
            detail: "memory figures unavailable".into(),
        }),
    }
    // The mail server's own refusal point when it has one (Exim smtp_load_reserve,
    // Sendmail RefuseLA), else one runnable task per core.
    let (load_limit, against) = match snap.mta.as_ref().and_then(|m| m.refuse_load.clone()) {
        Some((l, param)) if l > 0.0 => (
            l,
            format!("{param} = {l}: above it the server refuses mail"),
        ),
        _ => (h.cores as f64, format!("{} cores", h.cores)),
    };
    out.push(ItemInput {
        id: ItemId::Load,
        used: h.load.map(|l| l[0]),
        limit: Some(load_limit),
        detail: match h.load {
            Some(l) => format!("1-min load; 5/15 min {:.2}/{:.2}; {against}", l[1], l[2]),
            None => "load average unavailable".into(),
        },
    });
    // The disk under the mail queue when it can be named; otherwise the busiest one.
    let queue_disk = queue_device(snap).and_then(|d| h.disks.iter().find(|s| s.device == d));
    let busiest = h
        .disks
        .iter()
        .max_by(|a, b| a.util_percent.total_cmp(&b.util_percent));
    if let Some(d) = queue_disk {
        out.push(ItemInput {
            id: ItemId::DiskIo,
            used: Some(d.util_percent),
            limit: Some(100.0),
            detail: format!("queue device {}", d.device),
        });
    } else if let Some(d) = busiest {
        out.push(ItemInput {
            id: ItemId::DiskIo,
            used: Some(d.util_percent),
            limit: Some(100.0),
            detail: format!("busiest device {}", d.device),
        });
    }
    out
}

/// The /proc/diskstats name of the disk holding the mail queue: the filesystem with
/// the longest mount point above the queue directory, its device with any partition
/// number taken off (`/dev/vda1` → `vda`, `/dev/nvme0n1p2` → `nvme0n1`). `None` for a
/// queue on tmpfs or a device that cannot be named from the path alone (LVM).
pub fn queue_device(snap: &Snapshot) -> Option<String> {
    let queue = &snap.mta.as_ref()?.queue_fs.as_ref()?.path;
    let fs = snap
        .host
        .as_ref()?
        .filesystems
        .iter()
        .filter(|f| {
            queue == &f.mount_point
                || f.mount_point == "/"
                || queue.starts_with(&format!("{}/", f.mount_point.trim_end_matches('/')))
        })
        .max_by_key(|f| f.mount_point.len())?;
    let name = fs.device.strip_prefix("/dev/")?;
    if name.starts_with("mapper/") || name.contains('/') {
        return None;
    }
    Some(whole_disk(name).to_string())
}

fn whole_disk(name: &str) -> &str {
    if name.starts_with("nvme") || name.starts_with("mmcblk") {
        // nvme0n1p2 → nvme0n1
        if let Some(i) = name.rfind('p') {
            let (head, tail) = name.split_at(i);
            if !tail[1..].is_empty()
                && tail[1..].bytes().all(|c| c.is_ascii_digit())
                && head.bytes().last().is_some_and(|c| c.is_ascii_digit())
            {
                return head;
            }
        }
        return name;
    }
    name.trim_end_matches(|c: char| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mta::{MtaSample, QueueFs};
    use crate::snapshot::{DiskIoSample, FilesystemSample, HostSample};

    fn snap(queue: &str, mounts: &[(&str, &str)]) -> Snapshot {
        Snapshot {
            host: Some(HostSample {
                cores: 2,
                load: Some([1.0, 1.0, 1.0]),
                filesystems: mounts
                    .iter()
                    .map(|(m, d)| FilesystemSample {
                        mount_point: m.to_string(),
                        device: d.to_string(),
                        ..Default::default()
                    })
                    .collect(),
                disks: vec![
                    DiskIoSample {
                        device: "sda".into(),
                        util_percent: 90.0,
                    },
                    DiskIoSample {
                        device: "nvme0n1".into(),
                        util_percent: 5.0,
                    },
                ],
                ..Default::default()
            }),
            mta: Some(MtaSample {
                queue_fs: Some(QueueFs {
                    path: queue.into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn disk_io(s: &Snapshot) -> ItemInput {
        items(s)
            .into_iter()
            .find(|i| i.id == "disk_io")
            .expect("disk_io")
    }

    #[test]
    fn disk_io_follows_the_queue_device_not_the_busiest() {
        let s = snap(
            "/var/spool/postfix",
            &[("/", "/dev/sda1"), ("/var/spool", "/dev/nvme0n1p2")],
        );
        assert_eq!(queue_device(&s).as_deref(), Some("nvme0n1"));
        let i = disk_io(&s);
        assert_eq!(i.used, Some(5.0));
        assert_eq!(i.detail, "queue device nvme0n1");
    }

    #[test]
    fn a_queue_on_tmpfs_or_lvm_falls_back_to_the_busiest_disk() {
        let s = snap(
            "/var/spool/postfix",
            &[("/", "/dev/sda1"), ("/var/spool/postfix", "tmpfs")],
        );
        assert_eq!(queue_device(&s), None);
        assert_eq!(disk_io(&s).detail, "busiest device sda");
        let s = snap("/var/spool/postfix", &[("/", "/dev/mapper/vg-root")]);
        assert_eq!(queue_device(&s), None);
    }

    #[test]
    fn load_is_judged_against_the_servers_refusal_point_when_it_has_one() {
        let mut s = snap("/var/spool/postfix", &[("/", "/dev/sda1")]);
        let load = |s: &Snapshot| items(s).into_iter().find(|i| i.id == "load").expect("load");
        assert_eq!(load(&s).limit, Some(2.0));
        if let Some(m) = s.mta.as_mut() {
            m.refuse_load = Some((3.5, "smtp_load_reserve".into()));
        }
        let l = load(&s);
        assert_eq!(l.limit, Some(3.5));
        assert!(l.detail.contains("smtp_load_reserve = 3.5"), "{}", l.detail);
    }
}

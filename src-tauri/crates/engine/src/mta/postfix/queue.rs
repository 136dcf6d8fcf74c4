//! Queue counts by directory entries: `readdir` only, with the entry type the kernel
//! returns alongside the name, so no queue file is opened or stat-ed. Hashed queues
//! (`hash_queue_names`, one level of one-letter subdirectories by default) are walked
//! to any depth. Needs root or the postfix user: the queue directories are mode 0700.

use std::io;
use std::path::Path;

use crate::mta::{CountMethod, MtaError, QueueCounts};

pub const QUEUES: [&str; 5] = ["maildrop", "incoming", "active", "deferred", "hold"];

/// Files below `dir`, recursing into subdirectories.
pub fn count_entries(dir: &Path) -> io::Result<u64> {
    let mut n = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        // DirEntry::file_type comes from readdir's d_type on Linux; it stats only on
        // filesystems that do not fill d_type in.
        if entry.file_type()?.is_dir() {
            // A hashed subdirectory may vanish while Postfix cleans up: skip it.
            match count_entries(&entry.path()) {
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        } else {
            n += 1;
        }
    }
    Ok(n)
}

/// Counts every queue of `queue_directory`; the error names the first unreadable one.
pub fn count_queues(queue_directory: &Path) -> Result<QueueCounts, MtaError> {
    let mut c = QueueCounts {
        method: CountMethod::Directory,
        ..Default::default()
    };
    for name in QUEUES {
        let dir = queue_directory.join(name);
        let n = match count_entries(&dir) {
            Ok(n) => n,
            // hold appears on first use in old installations.
            Err(e) if e.kind() == io::ErrorKind::NotFound && name == "hold" => 0,
            Err(e) => {
                return Err(MtaError::Unreadable(format!(
                    "cannot count {}: {e}",
                    dir.display()
                )))
            }
        };
        let slot = match name {
            "maildrop" => &mut c.maildrop,
            "incoming" => &mut c.incoming,
            "active" => &mut c.active,
            "deferred" => &mut c.deferred,
            _ => &mut c.hold,
        };
        *slot = Some(n);
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_files_in_hashed_subdirectories() {
        let tmp = tempfile::tempdir().expect("tempdir");
        for q in QUEUES {
            std::fs::create_dir(tmp.path().join(q)).expect("mkdir");
        }
        for (sub, id) in [("A", "A1B2C3"), ("A", "A9"), ("F", "F00")] {
            let d = tmp.path().join("deferred").join(sub);
            std::fs::create_dir_all(&d).expect("mkdir");
            std::fs::write(d.join(id), b"x").expect("write");
        }
        std::fs::create_dir_all(tmp.path().join("deferred/B")).expect("empty hash dir");
        std::fs::write(tmp.path().join("active/ABC"), b"x").expect("write");
        let c = count_queues(tmp.path()).expect("counts");
        assert_eq!(c.deferred, Some(3));
        assert_eq!(c.active, Some(1));
        assert_eq!(c.maildrop, Some(0));
        assert_eq!(c.total(), 4);
    }

    #[test]
    fn a_missing_queue_directory_is_an_error_that_names_it() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let e = count_queues(tmp.path()).expect_err("an error");
        assert!(e.to_string().contains("maildrop"), "{e}");
    }
}

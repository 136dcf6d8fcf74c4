//! Debian packages run beside the installed system for tests: `apt-get download`
//! (cached under target/NAME-debs) and `dpkg -x` into target/NAME-unpacked, so a second
//! MTA never replaces the installed Postfix.

use std::path::PathBuf;
use std::process::Command;

use crate::bins::target_dir;
use crate::postfix::run;

/// Downloads Debian `packages` (apt-get download, cached under target/NAME-debs) and
/// unpacks them into target/NAME-unpacked; returns that root once `check` exists in it.
pub fn unpack(name: &str, packages: &[&str], check: &str) -> Result<PathBuf, String> {
    let root = target_dir().join(format!("{name}-unpacked"));
    if root.join(check).exists() {
        return Ok(root);
    }
    let debs = target_dir().join(format!("{name}-debs"));
    std::fs::create_dir_all(&debs).map_err(|e| e.to_string())?;
    let out = Command::new("apt-get")
        .arg("download")
        .args(packages)
        .current_dir(&debs)
        .output()
        .map_err(|e| format!("apt-get download: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "apt-get download {} failed: {}",
            packages.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    for e in std::fs::read_dir(&debs)
        .map_err(|e| e.to_string())?
        .flatten()
    {
        if e.path().extension().is_some_and(|x| x == "deb") {
            run(
                "/usr/bin/dpkg",
                &["-x", &e.path().to_string_lossy(), &root.to_string_lossy()],
            )?;
        }
    }
    root.join(check)
        .exists()
        .then_some(root.clone())
        .ok_or_else(|| format!("dpkg -x did not produce {check}"))
}

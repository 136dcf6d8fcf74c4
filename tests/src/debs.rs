//! Debian packages run beside the installed system for tests: `apt-get download`
//! (cached under target/NAME-debs) and `dpkg -x` into target/NAME-unpacked, so a second
//! MTA never replaces the installed Postfix. `dpkg -x` brings a package's files but not
//! its dependencies, so the shared libraries and tools its `Depends`/`Pre-Depends` name
//! are installed with apt, minus the packages of a mail server (plan.rs says which) and
//! never at the cost of removing anything.

mod control;
mod plan;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use crate::bins::target_dir;
use crate::postfix::{is_root, run};
use control::parse_stanzas;
use plan::{Available, Control};

/// How long apt waits for another apt or dpkg (a parallel `make test`) to let go.
const APT_LOCK_WAIT_S: u32 = 600;

/// Unpacked roots by name: the tests of one binary run in parallel threads and must not
/// download, unpack or install at the same time.
static UNPACKED: Mutex<BTreeMap<String, PathBuf>> = Mutex::new(BTreeMap::new());

/// Downloads Debian `packages` (apt-get download, cached under target/NAME-debs),
/// unpacks them into target/NAME-unpacked and installs their runtime dependencies;
/// returns that root once `check` exists in it.
pub fn unpack(name: &str, packages: &[&str], check: &str) -> Result<PathBuf, String> {
    let mut done = UNPACKED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(root) = done.get(name) {
        return Ok(root.clone());
    }
    let root = target_dir().join(format!("{name}-unpacked"));
    let debs = target_dir().join(format!("{name}-debs"));
    let unpacked = root.join(check).exists();
    if !unpacked || deb_files(&debs).is_empty() {
        download(&debs, packages)?;
    }
    let files = deb_files(&debs);
    if !unpacked {
        for f in &files {
            run(
                "/usr/bin/dpkg",
                &["-x", &f.to_string_lossy(), &root.to_string_lossy()],
            )?;
        }
        if !root.join(check).exists() {
            return Err(format!("dpkg -x did not produce {check}"));
        }
    }
    install_dependencies(name, &files)?;
    done.insert(name.to_string(), root.clone());
    Ok(root)
}

fn download(debs: &Path, packages: &[&str]) -> Result<(), String> {
    std::fs::create_dir_all(debs).map_err(|e| e.to_string())?;
    let out = Command::new("/usr/bin/apt-get")
        .arg("download")
        .args(packages)
        .current_dir(debs)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("apt-get download: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "apt-get download {} failed: {}",
            packages.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

fn deb_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new(); // not downloaded yet
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "deb"))
        .collect();
    files.sort();
    files
}

/// Reads the .debs' own control data, and installs what their dependencies need and
/// this system lacks. When nothing is missing, it needs neither root nor apt.
fn install_dependencies(name: &str, files: &[PathBuf]) -> Result<(), String> {
    let unpacked = files
        .iter()
        .map(|f| read_control(f))
        .collect::<Result<Vec<_>, _>>()?;
    let installed = installed()?;
    let unmet = plan::unmet(&unpacked, &installed);
    if unmet.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = unmet
        .iter()
        .flat_map(|u| u.group.iter().map(|d| d.name.as_str()))
        .collect();
    let plan = plan::choose(&unmet, &candidates(&names)?, &unpacked)?;
    for l in &plan.left_out {
        eprintln!("{name}: not installing {l}");
    }
    if plan.install.is_empty() {
        return Ok(());
    }
    let pkgs: Vec<&str> = plan.install.iter().map(String::as_str).collect();
    if !is_root() {
        return Err(format!(
            "the unpacked {name} needs {list} (from its packages' Depends): run the tests as root \
             or `apt-get install --no-install-recommends {list}`",
            list = pkgs.join(" ")
        ));
    }
    eprintln!(
        "{name}: installing the unpacked packages' dependencies: {}",
        pkgs.join(" ")
    );
    apt_install(&pkgs)
}

fn read_control(deb: &Path) -> Result<Control, String> {
    let text = run(
        "/usr/bin/dpkg-deb",
        &[
            "-f",
            &deb.to_string_lossy(),
            "Package",
            "Source",
            "Version",
            "Provides",
            "Pre-Depends",
            "Depends",
        ],
    )?;
    let fields = parse_stanzas(&text)
        .into_iter()
        .next()
        .ok_or_else(|| format!("{}: no control fields", deb.display()))?;
    Control::from_fields(&fields).map_err(|e| format!("{}: {e}", deb.display()))
}

/// What is installed (status `installed`, not merely unpacked or config-files).
fn installed() -> Result<Available, String> {
    let text = run(
        "/usr/bin/dpkg-query",
        &[
            "-W",
            "-f",
            "Package: ${Package}\nVersion: ${Version}\nStatus: ${Status}\nProvides: ${Provides}\n\n",
        ],
    )?;
    let mut controls = Vec::new();
    for f in parse_stanzas(&text) {
        if f.get("Status").is_some_and(|s| s.ends_with(" installed")) {
            controls.push(Control::from_fields(&f)?);
        }
    }
    Ok(Available::of(&controls))
}

/// apt's candidate of each name; virtual and unknown names are simply absent.
fn candidates(names: &[&str]) -> Result<BTreeMap<String, Control>, String> {
    let mut args = vec!["show", "--no-all-versions"];
    args.extend(names);
    let out = Command::new("/usr/bin/apt-cache")
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("apt-cache show: {e}"))?;
    let mut map = BTreeMap::new();
    for f in parse_stanzas(&String::from_utf8_lossy(&out.stdout)) {
        let c = Control::from_fields(&f)?;
        map.entry(c.package.clone()).or_insert(c);
    }
    Ok(map)
}

/// `apt-get install --no-remove`, after a simulation that must remove nothing: the
/// installed Postfix (or anything else) is never traded for a test's library.
fn apt_install(pkgs: &[&str]) -> Result<(), String> {
    let lock = format!("DPkg::Lock::Timeout={APT_LOCK_WAIT_S}");
    let apt = |simulate: bool| -> Result<String, String> {
        let mut cmd = Command::new("/usr/bin/apt-get");
        if simulate {
            cmd.arg("-s");
        }
        let out = cmd
            .args(["-o", &lock, "install", "-y", "-q"])
            .args(["--no-install-recommends", "--no-remove"])
            .args(pkgs)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("apt-get install: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        if out.status.success() {
            Ok(text)
        } else {
            Err(format!(
                "apt-get install {} failed (it may not remove packages): {text}",
                pkgs.join(" ")
            ))
        }
    };
    let simulation = apt(true)?;
    let removed: Vec<&str> = simulation
        .lines()
        .filter(|l| l.starts_with("Remv "))
        .collect();
    if !removed.is_empty() {
        return Err(format!(
            "apt-get install {} would remove packages; refusing: {}",
            pkgs.join(" "),
            removed.join("; ")
        ));
    }
    apt(false).map(|_| ())
}

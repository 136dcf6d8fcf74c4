//! A private desktop session for one test: an Xvfb display and a D-Bus session bus of
//! its own, with the environment WebKitGTK needs to render there as root.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::bins::wait_for;

pub struct Desktop {
    pub display: String,
    pub bus_address: String,
    dir: tempfile::TempDir,
    children: Vec<Child>,
}

impl Desktop {
    /// Starts Xvfb on a free display and a session bus. Panics with the reason when the
    /// programs are missing (`make test` installs them).
    pub fn start() -> Desktop {
        let dir = tempfile::Builder::new()
            .prefix("headroom-desktop-")
            .tempdir()
            .expect("temp dir");
        let runtime = dir.path().join("runtime");
        std::fs::create_dir_all(&runtime).expect("runtime dir");
        set_mode_700(&runtime);
        let mut children = Vec::new();
        let (display, xvfb) = start_xvfb(dir.path());
        children.push(xvfb);
        let socket = dir.path().join("bus");
        let bus_address = format!("unix:path={}", socket.display());
        // A bus without service directories: nothing is started by D-Bus activation
        // (the system's dunst or portals), so each test decides which servers exist.
        let bus_config = dir.path().join("session.conf");
        std::fs::write(&bus_config, bus_config_xml(&bus_address)).expect("bus config");
        let dbus = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", bus_config.display()))
            .args(["--nofork", "--nopidfile"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon (package dbus) must be installed");
        children.push(dbus);
        wait_for(Duration::from_secs(10), || socket.exists().then_some(()))
            .expect("session bus socket did not appear within 10 s");
        Desktop {
            display,
            bus_address,
            dir,
            children,
        }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The environment for programs that should live in this desktop.
    pub fn env(&self) -> Vec<(String, String)> {
        let home = self.dir.path().join("home");
        let _ = std::fs::create_dir_all(home.join(".config"));
        let _ = std::fs::create_dir_all(home.join(".local/share"));
        vec![
            ("DISPLAY".into(), self.display.clone()),
            ("DBUS_SESSION_BUS_ADDRESS".into(), self.bus_address.clone()),
            (
                "XDG_RUNTIME_DIR".into(),
                path(&self.dir.path().join("runtime")),
            ),
            ("HOME".into(), path(&home)),
            ("XDG_CONFIG_HOME".into(), path(&home.join(".config"))),
            ("XDG_DATA_HOME".into(), path(&home.join(".local/share"))),
            ("WEBKIT_DISABLE_COMPOSITING_MODE".into(), "1".into()),
            ("WEBKIT_DISABLE_DMABUF_RENDERER".into(), "1".into()),
            ("NO_AT_BRIDGE".into(), "1".into()),
            ("GDK_BACKEND".into(), "x11".into()),
            ("HEADROOM_LOG".into(), "info".into()),
        ]
    }

    /// A command that runs inside this desktop.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        c.envs(self.env());
        c
    }

    /// Keeps a child alive for the life of the desktop and kills it on drop.
    pub fn adopt(&mut self, child: Child) {
        self.children.push(child);
    }

    /// Starts the dunst notification server on this desktop's bus and waits until it
    /// owns org.freedesktop.Notifications.
    pub fn start_notification_server(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("dunst.log")).expect("log file");
        let child = self
            .command("dunst")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("dunst (package dunst) must be installed");
        self.adopt(child);
        assert!(
            self.name_owned("org.freedesktop.Notifications"),
            "dunst did not take org.freedesktop.Notifications within 15 s"
        );
    }

    /// Waits up to 15 s for `name` to have an owner on this desktop's bus.
    fn name_owned(&self, name: &str) -> bool {
        wait_for(Duration::from_secs(15), || {
            let out = self
                .command("dbus-send")
                .args([
                    "--session",
                    "--print-reply",
                    "--dest=org.freedesktop.DBus",
                    "/org/freedesktop/DBus",
                    "org.freedesktop.DBus.NameHasOwner",
                ])
                .arg(format!("string:{name}"))
                .output()
                .ok()?;
            String::from_utf8_lossy(&out.stdout)
                .contains("boolean true")
                .then_some(())
        })
        .is_some()
    }

    /// Starts a Secret Service (gnome-keyring, secrets only) on this desktop's bus with
    /// a new login keyring unlocked, so the app can read the tokens stored in it.
    pub fn start_keyring(&mut self) {
        use std::io::Write;
        let log = std::fs::File::create(self.dir.path().join("keyring.log")).expect("log file");
        let mut child = self
            .command("gnome-keyring-daemon")
            .args(["--foreground", "--unlock", "--components=secrets"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("gnome-keyring-daemon (package gnome-keyring) must be installed");
        // --unlock reads the new keyring's password from stdin until it closes.
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all(b"headroom-test");
        }
        self.adopt(child);
        assert!(
            self.name_owned("org.freedesktop.secrets"),
            "gnome-keyring did not take org.freedesktop.secrets within 15 s"
        );
    }

    /// `headroom-cli server store-token NAME` in this desktop: the token goes into the
    /// keyring started by [`Desktop::start_keyring`].
    pub fn store_token(&self, name: &str, token: &str) {
        use std::io::Write;
        let mut child = self
            .command(crate::bins::bin("headroom-cli"))
            .args(["server", "store-token", name])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("headroom-cli");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(token.as_bytes())
            .expect("token written");
        let out = child.wait_with_output().expect("store-token ends");
        assert!(
            out.status.success(),
            "store-token {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Counts `Notify` calls from Headroom seen on the bus so far.
pub struct BusWatch {
    child: Child,
    log: std::path::PathBuf,
}

impl BusWatch {
    pub fn start(desktop: &Desktop) -> BusWatch {
        let log = desktop.dir().join("dbus-monitor.log");
        let out = std::fs::File::create(&log).expect("log");
        let child = desktop
            .command("dbus-monitor")
            .args([
                "--session",
                "type='method_call',interface='org.freedesktop.Notifications',member='Notify'",
            ])
            .stdout(out)
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-monitor (package dbus) must be installed");
        // dbus-monitor prints its own NameAcquired signal once it is listening.
        wait_for(Duration::from_secs(10), || {
            std::fs::read_to_string(&log)
                .ok()
                .filter(|s| s.contains("NameAcquired") || s.contains("signal"))
        });
        BusWatch { child, log }
    }

    /// Each Notify call: (summary, body) of calls whose app name is Headroom.
    pub fn headroom_notifications(&self) -> Vec<String> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.split("method call")
            .skip(1)
            .filter(|call| call.contains("member=Notify"))
            .filter(|call| call.contains("string \"Headroom\""))
            .map(|call| call.to_string())
            .collect()
    }
}

impl Drop for BusWatch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Desktop {
    fn drop(&mut self) {
        for c in self.children.iter_mut().rev() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn bus_config_xml(address: &str) -> String {
    format!(
        r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>{address}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#
    )
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

fn set_mode_700(p: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o700));
}

/// Starts Xvfb on a display it picks itself (`-displayfd`): the X server takes the
/// lock atomically, so tests starting at the same moment can never share a display
/// (and one test's teardown can never take another's display away).
fn start_xvfb(dir: &Path) -> (String, Child) {
    use std::io::BufRead;
    let log = std::fs::File::create(dir.join("xvfb.log")).expect("log");
    let mut child = Command::new("Xvfb")
        .args([
            "-displayfd",
            "1",
            "-screen",
            "0",
            "1280x900x24",
            "-nolisten",
            "tcp",
            "-ac",
        ])
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("Xvfb (package xvfb) must be installed");
    let stdout = child.stdout.take().expect("Xvfb stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let n: u32 = rx
        .recv_timeout(Duration::from_secs(15))
        .ok()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or_else(|| {
            let _ = child.kill();
            panic!(
                "Xvfb did not report a display within 15 s (see {})",
                dir.join("xvfb.log").display()
            )
        });
    let socket = PathBuf::from(format!("/tmp/.X11-unix/X{n}"));
    wait_for(Duration::from_secs(10), || socket.exists().then_some(()))
        .expect("the X socket appears");
    (format!(":{n}"), child)
}

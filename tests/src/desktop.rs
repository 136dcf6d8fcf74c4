//! A private desktop session for one test: an Xvfb display and a D-Bus session bus of
//! its own, with the environment WebKitGTK needs to render there as root.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::bins::wait_for;

/// CPU is always at or above a warning ratio of 0 and can never reach 2.0; every other
/// item gets limits it cannot reach and a forecast horizon too short to watch, and no
/// mail server is read (a stopped one is critical whatever the ratios), so the only
/// thing to announce is the CPU warning.
pub const CPU_ALWAYS_WARNING: &str = "\
[monitor]
interval_secs = 0.5

[mta]
kind = \"none\"

[thresholds]
warn_ratio = 50.0
crit_ratio = 100.0
forecast_horizon_mins = 0.0001

[thresholds.items.cpu]
warn_ratio = 0.0
crit_ratio = 2.0
";

pub struct Desktop {
    pub display: String,
    pub bus_address: String,
    dir: tempfile::TempDir,
    children: Vec<Child>,
    /// Variables a test adds to the environment (`$APPIMAGE`, say).
    extra_env: Vec<(String, String)>,
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
            extra_env: Vec::new(),
        }
    }

    /// Adds `name=value` to the environment of every program started from now on.
    pub fn set_env(&mut self, name: &str, value: &str) {
        self.extra_env.push((name.into(), value.into()));
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The environment for programs that should live in this desktop.
    pub fn env(&self) -> Vec<(String, String)> {
        let home = self.dir.path().join("home");
        let _ = std::fs::create_dir_all(home.join(".config"));
        let _ = std::fs::create_dir_all(home.join(".local/share"));
        let mut env = vec![
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
        ];
        env.extend(self.extra_env.iter().cloned());
        env
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

    /// Starts a window manager (JWM, with a configuration of our own: no panel and no
    /// tray of its own), so windows are closed and minimized as a user's are, and waits
    /// until it manages the screen.
    pub fn start_window_manager(&mut self) {
        let rc = self.dir.path().join("jwmrc");
        std::fs::write(
            &rc,
            "<?xml version=\"1.0\"?>\n<JWM><Group><Option>tiled</Option></Group></JWM>\n",
        )
        .expect("jwm configuration");
        let log = std::fs::File::create(self.dir.path().join("jwm.log")).expect("log file");
        let child = self
            .command("jwm")
            .arg("-f")
            .arg(&rc)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("jwm (package jwm) must be installed");
        self.adopt(child);
        let managed = wait_for(Duration::from_secs(15), || {
            let out = self
                .command("xprop")
                .args(["-root", "_NET_SUPPORTING_WM_CHECK"])
                .output()
                .ok()?;
            String::from_utf8_lossy(&out.stdout)
                .contains("window id")
                .then_some(())
        });
        assert!(
            managed.is_some(),
            "jwm did not manage the screen within 15 s"
        );
    }

    /// Starts a StatusNotifier tray as a desktop panel is one: gtk-sni-tray-standalone
    /// with a watcher of its own. Waits until its host is registered on the bus.
    pub fn start_tray_host(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("tray-host.log")).expect("log");
        let child = self
            .command("gtk-sni-tray-standalone")
            .arg("--watcher")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect(
                "gtk-sni-tray-standalone (package haskell-gtk-sni-tray-utils) must be installed",
            );
        self.adopt(child);
        let registered = wait_for(Duration::from_secs(20), || {
            let out = self
                .command("gdbus")
                .args([
                    "call",
                    "--session",
                    "--dest",
                    "org.kde.StatusNotifierWatcher",
                    "--object-path",
                    "/StatusNotifierWatcher",
                    "--method",
                    "org.freedesktop.DBus.Properties.Get",
                    "org.kde.StatusNotifierWatcher",
                    "IsStatusNotifierHostRegistered",
                ])
                .output()
                .ok()?;
            String::from_utf8_lossy(&out.stdout)
                .contains("<true>")
                .then_some(())
        });
        assert!(
            registered.is_some(),
            "no StatusNotifier host registered within 20 s (see {})",
            self.dir.path().join("tray-host.log").display()
        );
    }

    /// The X windows the window manager lists under exactly this title.
    pub fn windows_titled(&self, title: &str) -> Vec<String> {
        let Ok(out) = self.command("wmctrl").arg("-l").output() else {
            return Vec::new();
        };
        // Each line: id, desktop, host, then the title (which may hold spaces).
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|line| {
                let mut rest = line;
                let mut fields = Vec::with_capacity(3);
                for _ in 0..3 {
                    rest = rest.trim_start();
                    let end = rest.find(char::is_whitespace)?;
                    fields.push(&rest[..end]);
                    rest = &rest[end..];
                }
                (rest.trim() == title).then(|| fields[0].to_string())
            })
            .collect()
    }

    /// An X property of a window as xprop prints it (`WM_STATE`, `_NET_WM_PID`).
    pub fn window_property(&self, id: &str, name: &str) -> String {
        self.command("xprop")
            .args(["-id", id, name])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    /// Whether the window is minimized (ICCCM `WM_STATE` Iconic).
    pub fn is_minimized(&self, id: &str) -> bool {
        self.window_property(id, "WM_STATE")
            .contains("window state: Iconic")
    }

    /// The process that made the window (`_NET_WM_PID`, set by GTK).
    pub fn window_pid(&self, id: &str) -> Option<u32> {
        self.window_property(id, "_NET_WM_PID")
            .rsplit(' ')
            .next()?
            .trim()
            .parse()
            .ok()
    }

    /// Closes the window titled `title` as its close button does: the window manager
    /// sends it WM_DELETE_WINDOW, and the app decides what closing means.
    pub fn close_window(&self, title: &str) {
        let status = self
            .command("wmctrl")
            .args(["-F", "-c", title])
            .status()
            .expect("wmctrl (package wmctrl) must be installed");
        assert!(status.success(), "wmctrl found no window titled {title}");
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

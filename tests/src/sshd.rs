//! A private `sshd` on a loopback port for one test: its own host key, config and
//! authorized_keys whose only key is restricted to a forced command (the agent, as
//! README's authorized_keys line shows), and a client key and known_hosts to reach it
//! with the real `ssh` client. Stopped on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::bins::{free_port, wait_for};

pub struct Sshd {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Why a private sshd cannot run here, if it cannot.
pub fn unavailable() -> Option<String> {
    for p in ["/usr/sbin/sshd", "/usr/bin/ssh", "/usr/bin/ssh-keygen"] {
        if !Path::new(p).exists() {
            return Some(format!(
                "{p} is missing (packages openssh-server, openssh-client)"
            ));
        }
    }
    // sshd logs in as the test's own user; it must be able to become it.
    let uid = Command::new("/usr/bin/id").arg("-u").output().ok()?;
    (String::from_utf8_lossy(&uid.stdout).trim() != "0")
        .then(|| "the private sshd needs root to start sessions".to_string())
}

fn keygen(path: &Path) {
    let out = Command::new("/usr/bin/ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "headroom-test", "-f"])
        .arg(path)
        .output()
        .expect("run ssh-keygen");
    assert!(out.status.success(), "ssh-keygen: {out:?}");
}

impl Sshd {
    /// Starts sshd whose one authorized key may run `forced_command` only.
    pub fn start(forced_command: &str) -> Sshd {
        let dir = tempfile::Builder::new()
            .prefix("hr-sshd-")
            .tempdir()
            .expect("temp dir");
        let d = dir.path();
        keygen(&d.join("host_key"));
        keygen(&d.join("client_key"));
        let client_pub = std::fs::read_to_string(d.join("client_key.pub")).expect("client key");
        std::fs::write(
            d.join("authorized_keys"),
            format!(
                "command=\"{forced_command}\",no-port-forwarding,no-X11-forwarding,no-agent-forwarding,no-pty {}",
                client_pub.trim()
            ),
        )
        .expect("authorized_keys");
        let port = free_port();
        std::fs::write(
            d.join("sshd_config"),
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nAuthorizedKeysFile {}\n\
                 PidFile {}\nPermitRootLogin prohibit-password\nPasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nLogLevel VERBOSE\n",
                d.join("host_key").display(),
                d.join("authorized_keys").display(),
                d.join("sshd.pid").display()
            ),
        )
        .expect("sshd_config");
        // sshd's privilege-separation directory; Debian's service makes it at boot.
        let _ = std::fs::create_dir_all("/run/sshd");
        let child = Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f"])
            .arg(d.join("sshd_config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(d.join("sshd.log")).expect("log"))
            .spawn()
            .expect("start sshd");
        let host_pub = std::fs::read_to_string(d.join("host_key.pub")).expect("host key");
        let known_hosts = d.join("known_hosts");
        let sshd = Sshd { child, port, dir };
        wait_for(Duration::from_secs(10), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).ok()
        })
        .unwrap_or_else(|| panic!("sshd did not listen: {}", sshd.log()));
        std::fs::write(
            known_hosts,
            format!("[127.0.0.1]:{port} {}", host_pub.trim()),
        )
        .expect("known_hosts");
        sshd
    }

    /// Stops listening (the listener only: sessions it started go on, as with a real
    /// sshd), keeping the keys and client configuration.
    pub fn stop_listening(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }

    pub fn client_key(&self) -> PathBuf {
        self.dir.path().join("client_key")
    }

    pub fn known_hosts(&self) -> PathBuf {
        self.dir.path().join("known_hosts")
    }

    /// An ssh client configuration (`ssh -F`) that reaches this sshd with the client
    /// key, checking the host key against its known_hosts.
    pub fn client_config(&self) -> PathBuf {
        let path = self.dir.path().join("ssh_config");
        std::fs::write(
            &path,
            format!(
                "Host 127.0.0.1\n  Port {}\n  IdentityFile {}\n  IdentitiesOnly yes\n  UserKnownHostsFile {}\n  StrictHostKeyChecking yes\n",
                self.port,
                self.client_key().display(),
                self.known_hosts().display()
            ),
        )
        .expect("ssh_config");
        path
    }
}

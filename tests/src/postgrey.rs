//! postgrey, the greylisting policy server, on a loopback TCP port for the probe's
//! greylisting test; stopped on drop.

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::bins::{free_port, wait_for};

pub struct Postgrey {
    pub port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Postgrey {
    pub fn start() -> Result<Postgrey, String> {
        let bin = Path::new("/usr/sbin/postgrey");
        if !bin.exists() {
            return Err("postgrey is not installed (apt-get install postgrey)".into());
        }
        let dir = tempfile::Builder::new()
            .prefix("hr-grey-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        // postgrey drops to its own user, which must own the database directory.
        crate::postfix::run(
            "/usr/bin/chown",
            &["postgrey", &dir.path().to_string_lossy()],
        )?;
        let port = free_port();
        let child = Command::new(bin)
            .arg(format!("--inet=127.0.0.1:{port}"))
            .arg(format!("--dbdir={}", dir.path().display()))
            .arg(format!("--pidfile={}/postgrey.pid", dir.path().display()))
            .arg("--delay=300")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("postgrey: {e}"))?;
        let mut g = Postgrey {
            port,
            child,
            _dir: dir,
        };
        let up = wait_for(Duration::from_secs(15), || {
            TcpStream::connect(("127.0.0.1", port)).ok().map(|_| ())
        });
        if up.is_none() {
            let _ = g.child.kill();
            return Err(format!("postgrey did not listen on 127.0.0.1:{port}"));
        }
        Ok(g)
    }
}

impl Drop for Postgrey {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

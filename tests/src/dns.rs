//! A real authoritative DNS server for the domain-health tests: NSD (Debian `nsd`) on
//! 127.0.0.1 and a port of its own, serving zone files the test writes, stopped on
//! drop.
//!
//! Why NSD: it is an authoritative-only server that reads the same RFC 1035 zone
//! files admins publish (so the test zones read like real ones), answers NXDOMAIN and
//! NODATA with the zone's SOA as real servers do (the negative TTL the cache keeps),
//! REFUSES names outside its zones (a resolver failure, which must stay "unknown"),
//! needs no root and no network, starts in about 0.2 s in the foreground (`-d`),
//! and counts the queries it answers (`nsd-control stats_noreset`), which the
//! benchmark uses. Knot would do as well; unbound's local-data is a resolver feature
//! and would not show what an authoritative answer looks like.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::bins::{free_port, wait_for};

const NSD: &str = "/usr/sbin/nsd";
const NSD_CONTROL: &str = "/usr/sbin/nsd-control";

/// A zone: its name and its records in zone-file syntax, relative to `$ORIGIN`. The
/// SOA (negative TTL 60 s) and NS records are added.
pub struct Zone {
    pub name: String,
    pub records: String,
}

impl Zone {
    pub fn new(name: &str, records: &str) -> Zone {
        Zone {
            name: name.trim_end_matches('.').to_string(),
            records: records.to_string(),
        }
    }
}

pub struct Nsd {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Child,
}

/// Why NSD cannot run here, or `None`.
pub fn unavailable() -> Option<String> {
    if !Path::new(NSD).exists() {
        return Some("NSD is not installed (apt-get install nsd)".into());
    }
    None
}

impl Nsd {
    pub fn start(zones: &[Zone]) -> Result<Nsd, String> {
        let mut last = String::new();
        // The free port is found for TCP; UDP on it is taken now and then: try again.
        for _ in 0..3 {
            match Self::try_start(zones) {
                Ok(n) => return Ok(n),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn try_start(zones: &[Zone]) -> Result<Nsd, String> {
        let dir = tempfile::Builder::new()
            .prefix("hr-nsd-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let d = dir.path();
        let port = free_port();
        let mut conf = format!(
            "server:\n\
             \x20   ip-address: 127.0.0.1@{port}\n\
             \x20   port: {port}\n\
             \x20   do-ip6: no\n\
             \x20   username: \"\"\n\
             \x20   chroot: \"\"\n\
             \x20   zonesdir: \"{d}\"\n\
             \x20   database: \"\"\n\
             \x20   zonelistfile: \"{d}/zone.list\"\n\
             \x20   xfrdfile: \"{d}/xfrd.state\"\n\
             \x20   xfrdir: \"{d}\"\n\
             \x20   pidfile: \"{d}/nsd.pid\"\n\
             \x20   logfile: \"{d}/nsd.log\"\n\
             \x20   server-count: 1\n\
             \x20   verbosity: 1\n\
             \x20   hide-version: yes\n\
             remote-control:\n\
             \x20   control-enable: yes\n\
             \x20   control-interface: \"{d}/nsd.sock\"\n",
            d = d.display()
        );
        for z in zones {
            let file = format!("{}.zone", z.name);
            std::fs::write(
                d.join(&file),
                format!(
                    "$ORIGIN {name}.\n$TTL 300\n\
                     @ IN SOA ns.{name}. hostmaster.{name}. 1 3600 600 86400 60\n\
                     @ IN NS ns.{name}.\n{}\n",
                    z.records,
                    name = z.name
                ),
            )
            .map_err(|e| e.to_string())?;
            conf.push_str(&format!(
                "zone:\n    name: \"{}\"\n    zonefile: \"{file}\"\n",
                z.name
            ));
        }
        let conf_path = d.join("nsd.conf");
        std::fs::write(&conf_path, conf).map_err(|e| e.to_string())?;
        let child = Command::new(NSD)
            .args(["-d", "-c"])
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("{NSD}: {e}"))?;
        let mut nsd = Nsd { port, dir, child };
        let log = nsd.dir.path().join("nsd.log");
        let started = wait_for(Duration::from_secs(10), || {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if text.contains("nsd started") {
                return Some(Ok(()));
            }
            match nsd.child.try_wait() {
                Ok(Some(st)) => Some(Err(format!("nsd exited ({st}): {text}"))),
                _ => None,
            }
        });
        match started {
            Some(Ok(())) => {}
            Some(Err(e)) => return Err(e),
            None => return Err(format!("nsd did not start on port {port}")),
        }
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("error") {
            return Err(format!("nsd reported errors:\n{text}"));
        }
        Ok(nsd)
    }

    /// `127.0.0.1:PORT`, for `[dns] resolver`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn conf(&self) -> PathBuf {
        self.dir.path().join("nsd.conf")
    }

    /// Queries answered so far, from NSD's own statistics.
    pub fn queries(&self) -> Result<u64, String> {
        let out = Command::new(NSD_CONTROL)
            .arg("-c")
            .arg(self.conf())
            .arg("stats_noreset")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("{NSD_CONTROL}: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout);
        text.lines()
            .find_map(|l| l.strip_prefix("num.queries="))
            .and_then(|n| n.trim().parse().ok())
            .ok_or_else(|| format!("no num.queries in: {text}"))
    }
}

impl Drop for Nsd {
    fn drop(&mut self) {
        // SIGTERM lets the main process stop its server and xfrd children; a SIGKILL
        // would leave them behind.
        let _ = Command::new("/bin/kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let gone = wait_for(Duration::from_secs(5), || {
            matches!(self.child.try_wait(), Ok(Some(_))).then_some(())
        });
        if gone.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The test world, `headroom.test` (RFC 2606 reserves .test), as zone files:
///
/// - sending domains: `good` (MX, SPF within the limit, DMARC), `broken` (an MX
///   host without an address, SPF needing 11 look-ups, DMARC `p=block`, an MTA-STS
///   record whose policy host does not exist) and `missing` (an A record only);
/// - our outbound addresses and their PTRs in 2.0.192.in-addr.arpa and
///   8.b.d.0.1.0.0.2.ip6.arpa: 192.0.2.10 and 2001:db8::10 → `mail` (forward-
///   confirmed, the HELO name), 192.0.2.11 without PTR, 192.0.2.12 → `other`
///   (which points elsewhere), 192.0.2.13 → `out1` (confirmed, but not the HELO
///   name, and `mail` does not point at .13);
/// - the blocklist `bl.headroom.test`: its RFC 5782 test entry, 192.0.2.10 listed
///   (127.0.0.2 with a TXT reason), 192.0.2.11 answered 127.255.255.254 (Spamhaus'
///   "public resolver refused"), 192.0.2.12 answered 10.0.0.1 (rewritten), the rest
///   NXDOMAIN; and `nolist.headroom.test`, a zone that lists nothing, not even its
///   test entry (as an unregistered user sees a list that needs registration).
pub fn test_zones() -> Vec<Zone> {
    // 2001:db8::10 reversed: 0.1.0.0 then twenty zero nibbles, under 8.b.d.0.1.0.0.2.
    let v6_ptr = format!("0.1.0.0{}", ".0".repeat(20));
    vec![
        Zone::new(
            "headroom.test",
            r#"
ns              A     127.0.0.1
good            MX    10 mx.good
mx.good         A     192.0.2.25
good            TXT   "v=spf1 mx include:_spf.good.headroom.test -all"
_spf.good       TXT   "v=spf1 ip4:192.0.2.0/24 -all"
_dmarc.good     TXT   "v=DMARC1; p=reject; rua=mailto:dmarc@good.headroom.test"
broken          A     192.0.2.27
broken          MX    10 mx.broken
broken          TXT   "v=spf1 a mx include:s1.broken.headroom.test include:s2.broken.headroom.test include:s3.broken.headroom.test -all"
s1.broken       TXT   "v=spf1 a mx -all"
s2.broken       TXT   "v=spf1 a mx -all"
s3.broken       TXT   "v=spf1 a mx -all"
_dmarc.broken   TXT   "v=DMARC1; p=block"
_mta-sts.broken TXT   "v=STSv1; id=20260101;"
missing         A     192.0.2.26
mail            A     192.0.2.10
mail            AAAA  2001:db8::10
other           A     192.0.2.99
out1            A     192.0.2.13
"#,
        ),
        Zone::new(
            "2.0.192.in-addr.arpa",
            "10 PTR mail.headroom.test.\n12 PTR other.headroom.test.\n13 PTR out1.headroom.test.\n",
        ),
        Zone::new(
            "8.b.d.0.1.0.0.2.ip6.arpa",
            &format!("{v6_ptr} PTR mail.headroom.test.\n"),
        ),
        Zone::new(
            "bl.headroom.test",
            r#"
2.0.0.127       A     127.0.0.2
10.2.0.192      A     127.0.0.2
10.2.0.192      TXT   "Listed by the headroom test list: https://bl.headroom.test/lookup?ip=192.0.2.10"
11.2.0.192      A     127.255.255.254
12.2.0.192      A     10.0.0.1
"#,
        ),
        Zone::new("nolist.headroom.test", ""),
    ]
}

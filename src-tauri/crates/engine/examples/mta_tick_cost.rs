//! Where the time of one MTA tick goes (not a test):
//!
//!   mta_tick_cost [CONFIG_DIR] [ROUNDS]
//!
//! Times each part of a Postfix sample on this host, `ROUNDS` times each (default 200),
//! and prints the mean per call: the whole `sample()` (limits cached after the first),
//! the /proc scans and socket reads it uses, and the older ways they replaced (a scan of
//! every process, /proc/net/tcp{,6}) for comparison.

use std::path::PathBuf;
use std::time::Instant;

use headroom_engine::mta::postfix::{queue, Postfix};
use headroom_engine::mta::MtaSource;
use headroom_engine::mta::{procfs, sockets};

fn time(name: &str, rounds: u32, mut f: impl FnMut() -> usize) {
    let mut n = 0;
    let t = Instant::now();
    for _ in 0..rounds {
        n = f();
    }
    let us = t.elapsed().as_secs_f64() * 1e6 / rounds as f64;
    println!("{name:<58} {us:>9.1} µs   ({n} items)");
}

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().filter(|d| !d.is_empty()).map(PathBuf::from);
    let rounds: u32 = args.next().and_then(|r| r.parse().ok()).unwrap_or(200);
    let mut pf = Postfix::new(dir);
    let t = Instant::now();
    let first = match pf.sample() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("mta_tick_cost: {e}");
            std::process::exit(1);
        }
    };
    println!(
        "{:<58} {:>9.1} µs   (runs postconf twice)",
        "first sample()",
        t.elapsed().as_secs_f64() * 1e6
    );
    let ports: Vec<u16> = first.services.iter().filter_map(|s| s.port).collect();
    let queue_dir = pf
        .config()
        .ok()
        .and_then(|c| c.queue_directory())
        .unwrap_or_default();
    let master = std::fs::read_to_string(queue_dir.join("pid/master.pid"))
        .ok()
        .and_then(|p| p.trim().parse::<u32>().ok());
    println!(
        "running: {}, services: {}, ports: {ports:?}, master: {master:?}\n",
        first.is_running(),
        first.services.len()
    );

    time("sample() (cached limits)", rounds, || {
        pf.sample().map(|s| s.services.len()).unwrap_or(0)
    });
    time(
        "  config() cache check (stat main.cf, master.cf, postconf)",
        rounds,
        || pf.config().map(|c| c.services.len()).unwrap_or(0),
    );
    if let Some(m) = master {
        time(
            "  children of the master (smtpd, postscreen)",
            rounds,
            || procfs::children_named(m, &["smtpd", "postscreen"]).len(),
        );
    }
    time(
        "  sock_diag: listeners on the service ports",
        rounds,
        || sockets::tcp_sockets_on(&ports, false).len(),
    );
    time(
        "  sock_diag: listeners + established on the ports",
        rounds,
        || sockets::tcp_sockets_on(&ports, true).len(),
    );
    time("  queue directory counts", rounds, || {
        queue::count_queues(&queue_dir)
            .map(|q| q.total() as usize)
            .unwrap_or(0)
    });
    time("  statvfs of the queue directory", rounds, || {
        headroom_engine::host::statvfs(&queue_dir.to_string_lossy())
            .map(|_| 1)
            .unwrap_or(0)
    });
    println!("\nreplaced:");
    time(
        "  scan of every process for master/smtpd/postscreen",
        rounds,
        || procfs::processes_named(&["master", "smtpd", "postscreen"]).len(),
    );
    time("  /proc/net/tcp + tcp6, every socket", rounds, || {
        sockets::proc_net::tcp_sockets().len()
    });
}

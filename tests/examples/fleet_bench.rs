//! Fleet benchmark (bench/fleet.sh): the desktop app watching 50 agents on loopback
//! (`headroom-cli serve`, `[mta] kind = "none"`, no probes, ticking every second), in a
//! private desktop under Xvfb with the tokens in gnome-keyring:
//! - the app's CPU and memory over 60 s with its window closed (`--hidden`);
//! - the time from a transition on an agent (its `transition` event read by this
//!   program's own event client) to the desktop's notification (the `Notify` call seen
//!   on the session bus by dbus-monitor), over transitions made by turning a probed SMTP
//!   responder off and on behind four of the agents.
//!
//! Prints the body of the "## Fleet" section of BENCHMARKS.md.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use headroom_tests::agent::{Agent, Events};
use headroom_tests::bins::bin;
use headroom_tests::desktop::{BusWatch, Desktop};

const AGENTS: usize = 50;
/// Agents whose probe target the benchmark turns off and on.
const FLAPPING: usize = 4;
const CYCLES: usize = 3;

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// A minimal SMTP responder that answers while `up`, and closes at once otherwise.
fn responder(up: Arc<AtomicBool>) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            if !up.load(Ordering::SeqCst) {
                continue; // dropped: closed before any banner
            }
            std::thread::spawn(move || {
                let mut w = s.try_clone().unwrap();
                let _ = w.write_all(b"220 bench ESMTP\r\n");
                for line in BufReader::new(s).lines().map_while(Result::ok) {
                    let reply: &[u8] = if line.to_ascii_uppercase().starts_with("QUIT") {
                        b"221 bye\r\n"
                    } else {
                        b"250 ok\r\n"
                    };
                    if w.write_all(reply).is_err() || reply.starts_with(b"221") {
                        break;
                    }
                }
            });
        }
    });
    port
}

fn agent_config(probe_port: Option<u16>) -> String {
    let probes = match probe_port {
        Some(p) => format!(
            "[[probe]]\nname = \"bench\"\nhost = \"127.0.0.1\"\nport = {p}\ninterval_secs = 1\ntimeout_secs = 2\n"
        ),
        None => "probe = []\n".to_string(),
    };
    // No dwell before a level falls: every recovery is a transition to time (the
    // default 60 s of anti-flap dwell would swallow the short cycles here).
    format!("{probes}[monitor]\ninterval_secs = 1\n[mta]\nkind = \"none\"\n[history]\nenabled = false\n[thresholds]\nmin_dwell_secs = 0\n")
}

fn percentile(v: &[f64], p: f64) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

/// dbus-monitor's `time=SECONDS` of each Headroom notification about probe failures
/// whose summary starts with `name: `.
fn notify_times(watch: &BusWatch, name: &str) -> Vec<f64> {
    watch
        .headroom_notifications()
        .iter()
        .filter(|n| n.contains(&format!("string \"{name}: ")))
        .filter(|n| n.to_lowercase().contains("probe failures"))
        .filter_map(|n| {
            n.split("time=")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse::<f64>()
                .ok()
        })
        .collect()
}

fn main() {
    let mut desktop = Desktop::start();
    desktop.start_notification_server();
    desktop.start_keyring();
    let watch = BusWatch::start(&desktop);

    let switches: Vec<Arc<AtomicBool>> = (0..FLAPPING)
        .map(|_| Arc::new(AtomicBool::new(true)))
        .collect();
    let ports: Vec<u16> = switches.iter().map(|s| responder(s.clone())).collect();
    let mut agents = Vec::new();
    for i in 0..AGENTS {
        let a = Agent::start(&agent_config(ports.get(i).copied()), &[]);
        desktop.store_token(&format!("mx{i}"), &a.token);
        agents.push(a);
    }
    let mut cfg = String::from("[local]\nenabled = false\n[notifications]\nmin_repeat_mins = 0\n");
    for (i, a) in agents.iter().enumerate() {
        cfg.push_str(&format!(
            "[[server]]\nname = \"mx{i}\"\nurl = \"http://127.0.0.1:{}\"\n",
            a.port
        ));
    }
    let cfg_path = desktop.dir().join("fleet.toml");
    std::fs::write(&cfg_path, cfg).unwrap();
    let log = std::fs::File::create(desktop.dir().join("app.log")).unwrap();
    let mut app = desktop
        .command(bin("headroom"))
        .args(["--hidden", "--config"])
        .arg(&cfg_path)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    // Settle: every agent connected (the app's log says nothing per agent; give it time).
    std::thread::sleep(Duration::from_secs(20));
    let (c0, _) = headroom_tests::procs::tree_usage(app.id());
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(60));
    let (c1, rss) = headroom_tests::procs::tree_usage(app.id());
    let idle_cpu = (c1 - c0) / t0.elapsed().as_secs_f64() * 100.0;
    let agent_ticks = AGENTS as f64 * t0.elapsed().as_secs_f64();

    // Transitions: each flapping agent's probe target goes away (probe_failures climbs
    // to critical) and comes back (recovery), CYCLES times; this program's own event
    // client notes when each transition left the agent.
    let sent: Arc<Mutex<Vec<(usize, f64)>>> = Arc::default();
    for (i, agent) in agents.iter().enumerate().take(FLAPPING) {
        let mut ev = Events::open(agent.port, &agent.token).unwrap();
        let sent = sent.clone();
        std::thread::spawn(move || {
            while let Ok((kind, data)) = ev.next_event() {
                if kind == "transition" && data.contains("probe_failures") {
                    sent.lock().unwrap().push((i, now()));
                }
            }
        });
    }
    std::thread::sleep(Duration::from_secs(2));
    for _ in 0..CYCLES {
        for s in &switches {
            s.store(false, Ordering::SeqCst);
        }
        std::thread::sleep(Duration::from_secs(10));
        for s in &switches {
            s.store(true, Ordering::SeqCst);
        }
        std::thread::sleep(Duration::from_secs(15));
    }
    std::thread::sleep(Duration::from_secs(3));
    let sent = sent.lock().unwrap().clone();
    let mut latencies = Vec::new();
    for i in 0..FLAPPING {
        let notified = notify_times(&watch, &format!("mx{i}"));
        let mut left: Vec<f64> = sent
            .iter()
            .filter(|(a, _)| *a == i)
            .map(|(_, t)| *t)
            .collect();
        left.sort_by(f64::total_cmp);
        // Each notification answers the latest transition that left before it.
        for n in notified {
            if let Some(t) = left.iter().rev().find(|t| **t <= n) {
                latencies.push((n - t) * 1000.0);
            }
        }
    }
    let _ = app.kill();
    let _ = app.wait();
    let transitions = sent.len();
    assert!(
        !latencies.is_empty(),
        "no notification matched a transition ({transitions} transitions)"
    );
    println!(
        "`bench/fleet.sh` (`tests/examples/fleet_bench.rs`): the release app with `--hidden` (window closed) watching {AGENTS} agents on loopback (`headroom-cli serve`, `[mta] kind = \"none\"`, ticking every 1 s, so {agent_ticks:.0} agent ticks arrived in the measured minute), tokens in gnome-keyring, notifications to dunst on a private session bus. Same machine as the agents."
    );
    println!();
    println!("| measure | value | goal |");
    println!("|---|---:|---:|");
    println!("| app CPU over 60 s, window closed | {idle_cpu:.2} % of a core | ≤ 2 % |");
    println!("| app RSS | {:.1} MiB | |", rss as f64 / 1024.0);
    println!(
        "| transition on an agent → desktop notification, median | {:.0} ms | |",
        percentile(&latencies, 0.5)
    );
    println!(
        "| same, p95 ({} notifications of {transitions} transitions on {FLAPPING} agents) | {:.0} ms | |",
        latencies.len(),
        percentile(&latencies, 0.95)
    );
    drop(agents);
}

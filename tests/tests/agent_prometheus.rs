//! A real Prometheus (Debian's, started here on loopback with its own config and data
//! directory) scrapes an agent that watches a private Postfix, with the token and the
//! shipped alert rules; pushing Postfix to its smtpd process limit makes
//! `HeadroomItemCritical` fire for `smtpd_processes`, read from Prometheus' own API.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use headroom_tests::agent::{get, postfix_agent_config, Agent, Events};
use headroom_tests::bins::{free_port, wait_for};
use headroom_tests::load::hold_sessions;
use headroom_tests::postfix::{unavailable, Instance, Options};
use serde_json::Value;

const MAXPROC: usize = 6;

struct Prometheus {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    fn start(agent_port: u16, token_file: &Path) -> Prometheus {
        let dir = tempfile::Builder::new()
            .prefix("hr-prom-")
            .tempdir()
            .expect("temp dir");
        let rules = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../contrib/prometheus/headroom.rules.yml")
            .canonicalize()
            .expect("shipped rules");
        let config = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             rule_files:\n  - {}\n\
             scrape_configs:\n  - job_name: headroom\n    authorization:\n      type: Bearer\n      credentials_file: {}\n    static_configs:\n      - targets: ['127.0.0.1:{agent_port}']\n",
            rules.display(),
            token_file.display()
        );
        let path = dir.path().join("prometheus.yml");
        std::fs::write(&path, config).expect("prometheus config");
        let port = free_port();
        let child = Command::new("/usr/bin/prometheus")
            .arg(format!("--config.file={}", path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("log")).expect("log"))
            .spawn()
            .expect("start prometheus");
        let p = Prometheus {
            child,
            port,
            _dir: dir,
        };
        assert!(
            wait_for(Duration::from_secs(30), || get(port, "/-/ready", None)
                .ok()
                .filter(|r| r.status == 200))
            .is_some(),
            "prometheus never got ready"
        );
        p
    }

    fn api(&self, path: &str) -> Value {
        get(self.port, path, None)
            .expect("prometheus answers")
            .json()
    }
}

#[test]
fn prometheus_fires_the_shipped_critical_rule_when_postfix_reaches_its_process_limit() {
    if let Some(why) = unavailable() {
        headroom_tests::skip_or_fail(why);
        return;
    }
    if !Path::new("/usr/bin/prometheus").exists() {
        headroom_tests::skip_or_fail("Prometheus is not installed (apt-get install prometheus)");
        return;
    }
    let maxproc = MAXPROC.to_string();
    let pf = Instance::start(&Options {
        maxproc: &maxproc,
        ..Default::default()
    })
    .expect("private postfix starts");
    let agent = Agent::start(&postfix_agent_config(&pf.etc, pf.port, 1.0), &[]);
    let token_file = agent.dir.path().join("data/headroom/agent/token");
    let prom = Prometheus::start(agent.port, &token_file);

    // Prometheus scrapes the agent with the token: the target is up and the level is ok.
    let scraped = wait_for(Duration::from_secs(30), || {
        let v =
            prom.api("/api/v1/query?query=headroom_item_level%7Bitem%3D%22smtpd_processes%22%7D");
        let r = v["data"]["result"].as_array()?.first()?.clone();
        Some(r["value"][1].as_str()?.to_string())
    });
    assert_eq!(
        scraped.as_deref(),
        Some("0"),
        "scraped smtpd_processes level"
    );
    let none_yet = prom.api("/api/v1/alerts");
    assert!(
        !none_yet.to_string().contains("HeadroomItemCritical"),
        "an alert before any load: {none_yet}"
    );

    // A desktop's view of the same change: the agent's event stream.
    let mut events = Events::open(agent.port, &agent.token).expect("event stream");

    // Hold every smtpd process of the instance (bounded: MAXPROC + 2 attempts).
    let held = hold_sessions(pf.port, MAXPROC + 2);
    assert!(
        held.len() >= MAXPROC - 1,
        "held only {} sessions",
        held.len()
    );
    let t0 = Instant::now();
    let fired = wait_for(Duration::from_secs(120), || {
        let v = prom.api("/api/v1/alerts");
        v["data"]["alerts"]
            .as_array()?
            .iter()
            .find(|a| {
                a["labels"]["alertname"] == "HeadroomItemCritical"
                    && a["labels"]["item"] == "smtpd_processes"
                    && a["state"] == "firing"
            })
            .cloned()
    });
    let Some(alert) = fired else {
        panic!(
            "HeadroomItemCritical never fired; alerts: {}\nagent state: {}",
            prom.api("/api/v1/alerts"),
            agent.get("/api/v1/state").body
        );
    };
    eprintln!(
        "HeadroomItemCritical fired {:.1} s after {} sessions were held: {alert}",
        t0.elapsed().as_secs_f64(),
        held.len()
    );
    assert_eq!(alert["labels"]["severity"], "critical");
    assert!(alert["annotations"]["summary"]
        .as_str()
        .is_some_and(|s| s.contains("smtpd_processes")));
    // The event stream carried the transition, as `watch --json` prints it.
    let transition = (0..2000)
        .map_while(|_| events.next_event().ok())
        .filter(|(name, _)| name == "transition")
        .filter_map(|(_, data)| serde_json::from_str::<Value>(&data).ok())
        .find(|t| t["item"] == "smtpd_processes" && t["level"] == "critical");
    let Some(t) = transition else {
        panic!("no transition of smtpd_processes to critical on the event stream");
    };
    assert!(t["message"].as_str().is_some_and(|m| !m.is_empty()), "{t}");
    assert!(t["ts"].is_number(), "{t}");
    drop(held);
}

//! `headroom-cli serve`: the agent. A thin host like `watch`: it builds the engine
//! through the runtime, adds one sink that broadcasts events, and serves what the
//! monitor holds over HTTP(S) or, with `--stdio`, as JSON lines (for ssh). The API is
//! the contract of DESIGN.md ("`headroom-cli serve` (the agent) and its API").

mod args;
mod deadline;
mod events;
mod listener;
mod metrics;
mod routes;
mod sse;
mod stdio;
mod tls;
mod token;

use std::sync::Arc;

use headroom_engine::history::History;
use headroom_engine::monitor::MonitorHandle;
use headroom_engine::runtime;
use headroom_engine::tick::Tick;
use serde_json::Value;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

pub use args::ServeArgs;

/// What every request handler reads. Cheap to clone.
#[derive(Clone)]
pub struct Agent {
    pub monitor: MonitorHandle,
    pub history: History,
    pub events: broadcast::Sender<events::Event>,
    /// `None` only for the stdio transport, where ssh authenticated the user.
    pub token: Option<Arc<token::Token>>,
    pub metrics_public: bool,
    /// The configured probe targets' names: what `POST /api/v1/probe` waits for.
    pub probe_names: Arc<Vec<String>>,
    pub latest_probes: events::LatestProbes,
}

pub async fn run(args: ServeArgs) -> u8 {
    if args.new_token {
        let path = args.token_path();
        return match token::write_new(&path) {
            Ok(_) => {
                println!("{}", path.display());
                eprintln!(
                    "headroom-cli: wrote a new token to {} (mode 0600); give it to the desktop",
                    path.display()
                );
                0
            }
            Err(e) => {
                eprintln!("headroom-cli: {e}");
                crate::EXIT_UNKNOWN
            }
        };
    }
    let config = match crate::load_config(args.config.as_deref()) {
        Ok(c) => c,
        Err(code) => return code,
    };
    // Everything that can refuse the start is decided before the monitor runs.
    let transport = if args.stdio {
        Transport::Stdio
    } else {
        match prepare_listener(&args) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("headroom-cli: {e}");
                return crate::EXIT_UNKNOWN;
            }
        }
    };
    let mut engine = crate::build_recording(&config);
    let (tx, _) = broadcast::channel(events::CAPACITY);
    let latest_probes = events::LatestProbes::default();
    engine.monitor.add_sink(Box::new(events::Broadcast::new(
        tx.clone(),
        latest_probes.clone(),
    )));
    let cancel = CancellationToken::new();
    let failed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = failed.clone();
    let stop = cancel.clone();
    let (handle, supervised) = runtime::supervise(engine.monitor, cancel.clone(), move |why| {
        eprintln!("headroom-cli: {why}");
        flag.store(true, std::sync::atomic::Ordering::SeqCst);
        stop.cancel();
    });
    let monitor_task = tokio::spawn(supervised);
    let agent = Agent {
        monitor: handle,
        history: engine.history,
        events: tx,
        token: None,
        metrics_public: config.agent.metrics_public,
        probe_names: Arc::new(config.probes.iter().map(|p| p.name.clone()).collect()),
        latest_probes,
    };
    let signal = cancel.clone();
    tokio::spawn(async move {
        crate::watch::wait_for_signal().await;
        signal.cancel();
    });
    let result = match transport {
        Transport::Stdio => stdio::serve(agent, cancel.clone()).await,
        Transport::Listen(l) => {
            let agent = Agent {
                token: Some(Arc::new(l.token.clone())),
                ..agent
            };
            listener::serve(l, agent, cancel.clone()).await
        }
    };
    cancel.cancel();
    let _ = monitor_task.await;
    match result {
        Err(e) => {
            eprintln!("headroom-cli: {e}");
            crate::EXIT_UNKNOWN
        }
        Ok(()) if failed.load(std::sync::atomic::Ordering::SeqCst) => crate::EXIT_UNKNOWN,
        Ok(()) => 0,
    }
}

enum Transport {
    Stdio,
    Listen(listener::Prepared),
}

/// The token, TLS and socket, or why the agent must not start as asked.
fn prepare_listener(args: &ServeArgs) -> Result<Transport, String> {
    let addr = args.listen_addr();
    let path = args.token_path();
    let mut token = token::read(&path)?;
    let local = addr.ip().is_loopback();
    if token.is_none() && args.token_file.is_some() {
        return Err(format!(
            "no token file at {} (make one with `headroom-cli serve --new-token --token-file {}`)",
            path.display(),
            path.display()
        ));
    }
    // On loopback a first start makes its own token; a wider listener needs one made
    // on purpose, before it starts.
    let has_tls = args.tls_cert.is_some() || !local;
    args::check_exposure(addr, token.is_some(), has_tls)?;
    if token.is_none() {
        token = Some(token::write_new(&path)?);
        eprintln!(
            "headroom-cli: made a token in {} (mode 0600)",
            path.display()
        );
    }
    let tls = if has_tls {
        let given = args.tls_cert.as_deref().zip(args.tls_key.as_deref());
        let t = tls::load(given, &args.data_dir())?;
        if t.created {
            eprintln!(
                "headroom-cli: made a self-signed certificate {}",
                t.cert_path.display()
            );
        }
        eprintln!(
            "headroom-cli: TLS certificate SHA-256 fingerprint {}",
            t.fingerprint
        );
        Some(t.config)
    } else {
        None
    };
    let socket = std::net::TcpListener::bind(addr)
        .and_then(|s| s.set_nonblocking(true).map(|_| s))
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let bound = socket.local_addr().unwrap_or(addr);
    eprintln!(
        "headroom-cli: serving on {}://{bound}",
        if tls.is_some() { "https" } else { "http" }
    );
    Ok(Transport::Listen(listener::Prepared {
        socket,
        tls,
        token: token.ok_or("no token")?,
    }))
}

/// The state object of `/api/v1/state` and `tick` events: `check --json`'s object
/// plus `host`, `ts` and `version`.
pub fn state_of(tick: &Tick) -> Value {
    let mut v = crate::state::state_object(&tick.snapshot, &tick.assessment);
    if let Value::Object(m) = &mut v {
        m.insert("hostname".into(), Value::from(hostname()));
        m.insert("ts".into(), Value::from(tick.snapshot.ts));
        m.insert("version".into(), Value::from(env!("CARGO_PKG_VERSION")));
        // The mail server as the engine holds it, for a desktop's Mail server panel
        // (`mta` above is the `check --json` summary scripts read).
        if let Ok(sample) = serde_json::to_value(&tick.snapshot.mta) {
            m.insert("mta_sample".into(), sample);
        }
    }
    v
}

/// This machine's name, for the state object and the self-signed certificate (read
/// once: it is in every tick event).
pub fn hostname() -> String {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "localhost".into())
    })
    .clone()
}

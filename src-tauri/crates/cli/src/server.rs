//! `headroom-cli server`: what the desktop's `[[server]]` entries need from the shell —
//! the agent's token put into the OS keyring (account `agent@NAME`, never the config
//! file), and a connection test that shows the certificate fingerprint to pin.

use std::io::Read;
use std::path::{Path, PathBuf};

use clap::Subcommand;
use headroom_engine::config::{token_account, ServerEntry};
use headroom_engine::fleet::{self, FleetEvent};
use headroom_engine::probe::secret;
use serde_json::json;

use crate::EXIT_UNKNOWN;

#[derive(Subcommand)]
pub enum ServerCommand {
    /// Store an agent's token in the OS keyring for server NAME; the token is read from
    /// standard input (or --token-file, e.g. the agent's own token file copied over).
    StoreToken {
        name: String,
        #[arg(long)]
        token_file: Option<PathBuf>,
    },
    /// Connect to server NAME of the configuration as the desktop would, and say what
    /// answered (or which fingerprint to pin).
    Test {
        name: String,
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Follow server NAME's agent as the desktop does, one JSON line per event
    /// (`state`, `transition`, `probe`, `up`, `down` with its reason), until interrupted.
    Watch {
        name: String,
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

pub async fn run(cmd: ServerCommand) -> u8 {
    match cmd {
        ServerCommand::StoreToken { name, token_file } => {
            store_token(&name, token_file.as_deref()).await
        }
        ServerCommand::Test { name, config } => test(&name, config.as_deref()).await,
        ServerCommand::Watch { name, config } => watch(&name, config.as_deref()).await,
    }
}

async fn store_token(name: &str, file: Option<&Path>) -> u8 {
    let mut text = String::new();
    let read = match file {
        Some(f) => std::fs::read_to_string(f).map(|t| text = t),
        None => std::io::stdin()
            .take(64 * 1024)
            .read_to_string(&mut text)
            .map(|_| ()),
    };
    if let Err(e) = read {
        eprintln!("headroom-cli: cannot read the token: {e}");
        return EXIT_UNKNOWN;
    }
    let token = text.trim();
    if token.is_empty() || token.chars().any(|c| c.is_control() || c == ' ') {
        eprintln!("headroom-cli: the token must be one word (what `serve --new-token` wrote)");
        return EXIT_UNKNOWN;
    }
    let account = token_account(name);
    match secret::store(&account, token).await {
        Ok(()) => {
            println!("stored the token of server {name} in the OS keyring as {account}");
            0
        }
        Err(e) => {
            eprintln!("headroom-cli: {e}");
            EXIT_UNKNOWN
        }
    }
}

/// The `[[server]]` called `name`, or why not (said on stderr).
fn entry(name: &str, config: Option<&Path>) -> Option<ServerEntry> {
    let config = match headroom_engine::config::load(config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("headroom-cli: {e}");
            return None;
        }
    };
    let found = config.servers.into_iter().find(|s| s.name == name);
    if found.is_none() {
        eprintln!("headroom-cli: no [[server]] named {name} in the configuration");
    }
    found
}

async fn watch(name: &str, config: Option<&Path>) -> u8 {
    let Some(entry) = entry(name, config) else {
        return EXIT_UNKNOWN;
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel(256);
    let cancel = tokio_util::sync::CancellationToken::new();
    let _handle = fleet::spawn(&entry, fleet::token_of(&entry).await, tx, cancel.clone());
    loop {
        let next = tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            n = rx.recv() => n,
        };
        let Some((server, ev)) = next else { break };
        let line = match ev {
            FleetEvent::Up => json!({"server": server, "event": "up"}),
            FleetEvent::Down(reason) => {
                json!({"server": server, "event": "down", "reason": reason})
            }
            FleetEvent::State(s) => json!({
                "server": server, "event": "state", "status": s.status, "ts": s.ts,
                "hostname": s.hostname, "items": s.items.len(),
                "mta": s.mta.as_ref().map(|m| m.kind),
            }),
            FleetEvent::Transition(t) => {
                json!({"server": server, "event": "transition", "transition": t})
            }
            FleetEvent::Probe(p) => json!({"server": server, "event": "probe", "probe": p}),
        };
        println!("{line}");
    }
    cancel.cancel();
    0
}

async fn test(name: &str, config: Option<&Path>) -> u8 {
    let Some(entry) = entry(name, config) else {
        return EXIT_UNKNOWN;
    };
    let token = fleet::token_of(&entry).await.ok().filter(|t| !t.is_empty());
    let t = headroom_engine::fleet::test_connection(&entry, token).await;
    println!("{}", headroom_engine::sanitize::for_terminal(&t.message));
    if let Some(f) = &t.fingerprint_to_accept {
        println!("fingerprint = \"{f}\"");
    }
    if t.ok {
        0
    } else {
        2
    }
}

//! `headroom-cli`: Headroom without a desktop. The contracts of every subcommand
//! (arguments, JSON fields, exit codes) are in DESIGN.md; users' scripts depend on them.

mod check;
mod classify;
mod dns;
mod docs;
mod explain;
mod output;
mod probe;
mod serve;
mod server;
mod state;
mod watch;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "headroom-cli",
    version,
    about = "Headroom: warn before the mail server says 421"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// One-shot check with Nagios exit codes (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).
    Check {
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long)]
        json: bool,
        /// Skip SMTP probes.
        #[arg(long)]
        no_probe: bool,
    },
    /// One SMTP probe with per-phase timings (exit 0 ok, 1 on 4xx, 2 on 5xx or no answer).
    Probe(probe::ProbeArgs),
    /// Classify the mail-log lines that record SMTP failures (who defers our mail, and why).
    Classify {
        /// The log to read; `-` or nothing reads standard input.
        file: Option<PathBuf>,
        /// One JSON object per failure line.
        #[arg(long)]
        json: bool,
        /// Counts per (domain, class) instead of one line per failure.
        #[arg(long)]
        summary: bool,
    },
    /// Explain a reply code: meaning, likely causes, fixes (e.g. `explain 421 4.3.0`).
    Explain {
        /// The reply code, e.g. 421.
        code: String,
        /// The enhanced status code, e.g. 4.3.0.
        enhanced: Option<String>,
    },
    /// Domain health once: blocklists, reverse DNS, MX/SPF/DMARC/MTA-STS, TLS
    /// certificates (exit codes as `check`).
    Dns {
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Run the monitor loop and print every change of an item's level.
    Watch {
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// The agent: run the monitor headless and serve it (HTTP API, SSE, Prometheus metrics).
    Serve(serve::ServeArgs),
    /// The desktop's servers: store an agent's token in the keyring, test a connection.
    #[command(subcommand)]
    Server(server::ServerCommand),
    /// Print a shell completion script (bash, zsh or fish) to standard output.
    Completions {
        #[arg(value_enum)]
        shell: docs::CompletionShell,
    },
    /// Write the man pages into a directory (the packages are built with it).
    #[command(hide = true)]
    ManPages {
        /// Where to write headroom-cli.1 and one page per subcommand.
        dir: PathBuf,
    },
}

/// Nagios UNKNOWN: bad usage or unreadable configuration.
pub const EXIT_UNKNOWN: u8 = 3;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("HEADROOM_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(EXIT_UNKNOWN)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    // One thread runs the async work (blocking reads go to tokio's blocking pool as
    // before): the resident `watch` and agent wait on I/O almost all the time, and each
    // extra worker cost a stack and a malloc arena (peak RSS 10.4 → 9.9 MiB with the
    // release-cli build, `python3 bench/host_cost.py`).
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("headroom-cli: cannot start the runtime: {e}");
            return ExitCode::from(EXIT_UNKNOWN);
        }
    };
    let code = runtime.block_on(async {
        match cli.command {
            Command::Check {
                config,
                json,
                no_probe,
            } => check::run(config.as_deref(), json, no_probe).await,
            Command::Watch { config, json } => watch::run(config.as_deref(), json).await,
            Command::Dns { config, json } => dns::run(config.as_deref(), json).await,
            Command::Probe(args) => probe::run(args).await,
            Command::Serve(args) => serve::run(args).await,
            Command::Server(cmd) => server::run(cmd).await,
            Command::Classify {
                file,
                json,
                summary,
            } => classify::run(file.as_deref(), json, summary),
            Command::Explain { code, enhanced } => explain::run_explain(&code, enhanced.as_deref()),
            Command::Completions { shell } => docs::completions(shell),
            Command::ManPages { dir } => docs::man_pages(&dir),
        }
    });
    ExitCode::from(code)
}

/// Loads the configuration or says why not (file, line, column) on stderr.
/// The engine with every source, the history and the `[[notify.webhook]]` alert
/// routes, as the long-running hosts (`watch`, `serve`) start it; what cannot be set up
/// is said once on stderr.
pub fn build_recording(
    config: &headroom_engine::config::Config,
) -> headroom_engine::runtime::Engine {
    let mut engine = headroom_engine::runtime::build(
        config,
        headroom_engine::runtime::Options {
            history: true,
            no_probes: false,
        },
    );
    // No tray here to snooze from: the snooze stays off.
    let (webhooks, problems) = headroom_engine::alerts::webhook::sinks(
        config,
        &headroom_engine::alerts::Snooze::default(),
        &serve::hostname(),
    );
    for sink in webhooks {
        engine.monitor.add_sink(Box::new(sink));
    }
    engine.problems.extend(problems);
    for p in &engine.problems {
        eprintln!("headroom-cli: warning: {p}");
    }
    engine
}

pub fn load_config(path: Option<&std::path::Path>) -> Result<headroom_engine::config::Config, u8> {
    headroom_engine::config::load(path).map_err(|e| {
        eprintln!("headroom-cli: {e}");
        EXIT_UNKNOWN
    })
}

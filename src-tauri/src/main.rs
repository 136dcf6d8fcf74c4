// No console window on Windows release builds; harmless elsewhere.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use std::path::PathBuf;

use clap::Parser;

/// Headroom: a tray monitor that warns before the mail server says 421.
#[derive(Parser)]
#[command(name = "headroom", version)]
struct Args {
    /// Configuration file (default: $XDG_CONFIG_HOME/headroom/config.toml).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Start in the tray without opening the window (for autostart).
    #[arg(long)]
    hidden: bool,
}

fn main() {
    let args = Args::parse();
    headroom_app::run(headroom_app::Options {
        config_path: args.config,
        hidden: args.hidden,
    });
}

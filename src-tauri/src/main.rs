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
    /// Start in the tray without opening the window (for autostart); where no tray
    /// icon can be seen, the window opens minimized instead.
    #[arg(long)]
    hidden: bool,
}

/// WebKitGTK reports the process locale as `navigator.language`. Under the C or POSIX
/// locale (or none, as in many services and CI jobs) that is "C", which is not a BCP 47
/// tag: every `Intl` call then throws RangeError, and the charting library fails at
/// load, leaving a blank window. Give the webview a real language in that case only;
/// a user's own locale is never overridden.
fn ensure_webview_language() {
    let effective = ["LC_ALL", "LC_MESSAGES", "LANG"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()));
    let is_c = match effective
        .as_deref()
        .map(|l| l.split(['.', '@']).next().unwrap_or(""))
    {
        None => true,
        Some(base) => base == "C" || base == "POSIX",
    };
    if is_c {
        // Before any thread exists: nothing else reads the environment yet.
        std::env::remove_var("LC_ALL");
        std::env::remove_var("LC_MESSAGES");
        std::env::set_var("LANG", "en_US.UTF-8");
    }
}

/// WebKitGTK's DMA-BUF renderer paints nothing (a blank or black window) with the NVIDIA
/// driver under Wayland and in some VMs; the shared-memory path it falls back to costs
/// little for a dashboard. The setting to make, when any: a user's own value, even
/// `0` to ask for DMA-BUF, always wins.
fn dmabuf_default(current: Option<&std::ffi::OsStr>) -> Option<(&'static str, &'static str)> {
    match current {
        Some(_) => None,
        None => Some(("WEBKIT_DISABLE_DMABUF_RENDERER", "1")),
    }
}

fn main() {
    ensure_webview_language();
    // Before any thread exists, like the language above.
    if let Some((name, value)) =
        dmabuf_default(std::env::var_os("WEBKIT_DISABLE_DMABUF_RENDERER").as_deref())
    {
        std::env::set_var(name, value);
    }
    let args = Args::parse();
    headroom_app::run(headroom_app::Options {
        config_path: args.config,
        hidden: args.hidden,
    });
}

#[cfg(test)]
mod tests {
    use super::dmabuf_default;
    use std::ffi::OsStr;

    #[test]
    fn the_dmabuf_renderer_is_turned_off_when_the_user_said_nothing() {
        assert_eq!(
            dmabuf_default(None),
            Some(("WEBKIT_DISABLE_DMABUF_RENDERER", "1"))
        );
    }

    #[test]
    fn a_users_own_dmabuf_setting_wins_even_to_turn_it_back_on() {
        for own in ["0", "1", ""] {
            assert_eq!(dmabuf_default(Some(OsStr::new(own))), None, "{own:?}");
        }
    }
}

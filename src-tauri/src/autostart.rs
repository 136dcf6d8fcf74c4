//! "Start Headroom when I log in": an XDG autostart entry,
//! `$XDG_CONFIG_HOME/autostart/headroom.desktop`, that runs `headroom --hidden`.
//!
//! The file is the setting: it is read back every time, never mirrored in the
//! configuration, so removing it by hand (or with GNOME Tweaks) turns the setting off.
//! An entry marked `Hidden=true` or `X-GNOME-Autostart-enabled=false` is off too, as
//! the session manager reads it.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The entry's file name inside the autostart directory.
const FILE_NAME: &str = "headroom.desktop";

/// The argument that makes the app start in the tray.
const HIDDEN: &str = "--hidden";

#[derive(Debug, thiserror::Error)]
pub enum AutostartError {
    #[error("no configuration directory for the autostart entry (set HOME or XDG_CONFIG_HOME)")]
    NoDirectory,
    #[error("cannot tell which program to start at login: {0}")]
    NoProgram(std::io::Error),
    #[error("cannot start {0} at login: a desktop entry holds UTF-8 paths only")]
    NotUtf8(PathBuf),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot remove {path}: {source}")]
    Remove {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Where the entry lives: `autostart/headroom.desktop` in the user's configuration
/// directory (`$XDG_CONFIG_HOME`, else `~/.config`).
pub fn entry_path() -> Result<PathBuf, AutostartError> {
    headroom_engine::config::config_home()
        .map(|d| d.join("autostart").join(FILE_NAME))
        .ok_or(AutostartError::NoDirectory)
}

/// Whether Headroom starts at login: the entry exists and is not switched off inside.
pub fn enabled(path: &Path) -> Result<bool, AutostartError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(entry_is_on(&text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(source) => Err(AutostartError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Turns starting at login on (writes the entry for this program, atomically) or off
/// (removes it), and says what the file says now.
pub fn set(path: &Path, on: bool) -> Result<bool, AutostartError> {
    if on {
        let program = program(std::env::var_os("APPIMAGE"), std::env::current_exe())?;
        let text = desktop_entry(&program)?;
        headroom_engine::settings::write_atomically(path, text.as_bytes()).map_err(|source| {
            AutostartError::Write {
                path: path.to_path_buf(),
                source,
            }
        })?;
    } else {
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(AutostartError::Remove {
                    path: path.to_path_buf(),
                    source,
                })
            }
        }
    }
    enabled(path)
}

/// The program to start at login. From an AppImage that is the image itself
/// (`$APPIMAGE`): the running executable sits in a mount that is gone once it exits.
/// Otherwise the running executable, as the kernel resolved it (`/usr/bin/headroom`
/// for the package), without the ` (deleted)` Linux adds after an upgrade replaced it.
fn program(
    appimage: Option<OsString>,
    current_exe: std::io::Result<PathBuf>,
) -> Result<PathBuf, AutostartError> {
    if let Some(image) = appimage.filter(|a| Path::new(a).is_absolute()) {
        return Ok(PathBuf::from(image));
    }
    let exe = current_exe.map_err(AutostartError::NoProgram)?;
    let replaced = exe
        .to_str()
        .and_then(|s| s.strip_suffix(" (deleted)"))
        .map(PathBuf::from)
        .filter(|p| !exe.exists() && p.exists());
    Ok(replaced.unwrap_or(exe))
}

/// The autostart entry that runs `program --hidden`.
fn desktop_entry(program: &Path) -> Result<String, AutostartError> {
    let program = program
        .to_str()
        .ok_or_else(|| AutostartError::NotUtf8(program.to_path_buf()))?;
    let exec = format!("{} {HIDDEN}", exec_argument(program));
    Ok(format!(
        "[Desktop Entry]\n\
         Type=Application\n\
         Name=Headroom\n\
         Comment=Warns before a mail server answers 421\n\
         Exec={}\n\
         Icon=headroom\n\
         Terminal=false\n\
         X-GNOME-Autostart-enabled=true\n",
        escape_string_value(&exec)
    ))
}

/// One argument of an `Exec` key, quoted as the Desktop Entry spec asks: in double
/// quotes when it holds a reserved character, with `"`, `` ` ``, `$` and `\` escaped
/// by a backslash inside them; `%` is doubled everywhere (it starts a field code).
fn exec_argument(arg: &str) -> String {
    const RESERVED: &[char] = &[
        ' ', '\t', '\n', '"', '\'', '\\', '>', '<', '~', '|', '&', ';', '$', '*', '?', '#', '(',
        ')', '`',
    ];
    let arg = arg.replace('%', "%%");
    if !arg.contains(RESERVED) && !arg.is_empty() {
        return arg;
    }
    let mut quoted = String::with_capacity(arg.len() + 2);
    quoted.push('"');
    for c in arg.chars() {
        if matches!(c, '"' | '`' | '$' | '\\') {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    quoted
}

/// The escapes of a `string` value, which the spec applies before the quoting above
/// is undone: so a backslash inside a quoted argument is written `\\\\`.
fn escape_string_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

/// Whether a session manager starts this entry: `Hidden=true` means deleted, and
/// GNOME's own switch may say off. Keys are read in the `[Desktop Entry]` group only.
fn entry_is_on(text: &str) -> bool {
    let mut in_entry = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_entry = line == "[Desktop Entry]";
            continue;
        }
        if !in_entry {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        match (key.trim(), value.trim()) {
            ("Hidden", "true") | ("X-GNOME-Autostart-enabled", "false") => return false,
            _ => {}
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exec_line(text: &str) -> &str {
        text.lines()
            .find_map(|l| l.strip_prefix("Exec="))
            .expect("an Exec line")
    }

    #[test]
    fn a_plain_path_is_written_as_it_is_with_hidden() {
        let text = desktop_entry(Path::new("/usr/bin/headroom")).expect("entry");
        assert!(
            text.starts_with("[Desktop Entry]\nType=Application\n"),
            "{text}"
        );
        assert_eq!(exec_line(&text), "/usr/bin/headroom --hidden");
        assert!(entry_is_on(&text));
    }

    #[test]
    fn a_path_with_spaces_is_quoted_whole() {
        let text = desktop_entry(Path::new("/home/ann/My Apps/Headroom.AppImage")).expect("entry");
        assert_eq!(
            exec_line(&text),
            "\"/home/ann/My Apps/Headroom.AppImage\" --hidden"
        );
    }

    #[test]
    fn quotes_dollars_backticks_backslashes_and_percents_are_escaped() {
        let text =
            desktop_entry(Path::new("/opt/a \"b\" $HOME `x` c\\d 100%/headroom")).expect("entry");
        // Inside quotes: \" \$ \` and \\ (written \\\\ after the string escapes); % is %%.
        assert_eq!(
            exec_line(&text),
            r#""/opt/a \\"b\\" \\$HOME \\`x\\` c\\\\d 100%%/headroom" --hidden"#
        );
    }

    #[test]
    fn a_percent_alone_is_doubled_without_quotes() {
        assert_eq!(exec_argument("/opt/100%/headroom"), "/opt/100%%/headroom");
    }

    #[test]
    fn an_appimage_is_started_from_the_image_not_from_its_mount() {
        let mount = Ok(PathBuf::from("/tmp/.mount_HeadroXXXXXX/usr/bin/headroom"));
        let chosen =
            program(Some("/home/ann/Apps/Headroom.AppImage".into()), mount).expect("a program");
        assert_eq!(chosen, PathBuf::from("/home/ann/Apps/Headroom.AppImage"));
    }

    #[test]
    fn without_an_appimage_the_running_executable_is_started() {
        let chosen = program(None, Ok(PathBuf::from("/usr/bin/headroom"))).expect("a program");
        assert_eq!(chosen, PathBuf::from("/usr/bin/headroom"));
        // A relative $APPIMAGE is no image path a session could start.
        let chosen = program(
            Some("Headroom.AppImage".into()),
            Ok("/usr/bin/headroom".into()),
        )
        .expect("a program");
        assert_eq!(chosen, PathBuf::from("/usr/bin/headroom"));
    }

    #[test]
    fn a_program_replaced_by_an_upgrade_is_started_under_its_own_name() {
        let dir = tempfile::tempdir().expect("tmp");
        let installed = dir.path().join("headroom");
        std::fs::write(&installed, b"").expect("file");
        let seen = PathBuf::from(format!("{} (deleted)", installed.display()));
        assert_eq!(program(None, Ok(seen)).expect("a program"), installed);
    }

    #[test]
    fn an_entry_switched_off_inside_is_off() {
        let base = "[Desktop Entry]\nType=Application\nExec=headroom --hidden\n";
        assert!(entry_is_on(base));
        assert!(!entry_is_on(&format!("{base}Hidden=true\n")));
        assert!(!entry_is_on(&format!(
            "{base}X-GNOME-Autostart-enabled=false\n"
        )));
        // Keys of another group say nothing about the entry.
        assert!(entry_is_on(&format!(
            "{base}[Desktop Action x]\nHidden=true\n"
        )));
    }

    #[test]
    fn on_writes_the_entry_and_off_removes_it() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("autostart").join(FILE_NAME);
        assert!(!enabled(&path).expect("read"));
        assert!(set(&path, true).expect("on"));
        let text = std::fs::read_to_string(&path).expect("written");
        assert!(exec_line(&text).ends_with(" --hidden"), "{text}");
        assert!(!set(&path, false).expect("off"));
        assert!(!path.exists());
        // Off when already off is no error.
        assert!(!set(&path, false).expect("off again"));
    }
}

//! "Start Headroom when I log in" in the real window: the setting writes and removes
//! the XDG autostart entry of a private `$XDG_CONFIG_HOME`, the entry is what the
//! setting shows, and GLib (what GNOME's and XFCE's session managers use) starts the
//! program it names.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use headroom_tests::bins::{bin, wait_for};
use headroom_tests::desktop::Desktop;
use headroom_tests::webdriver::Driver;

const QUIET: &str = "[monitor]\ninterval_secs = 1\n\n[mta]\nkind = \"none\"\n";

fn write_config(desktop: &Desktop) -> String {
    let p = desktop.dir().join("config.toml");
    std::fs::write(&p, QUIET).expect("write config");
    p.display().to_string()
}

/// Where the app under test keeps its entry: the desktop's own XDG_CONFIG_HOME.
fn entry_path(desktop: &Desktop) -> PathBuf {
    desktop
        .dir()
        .join("home/.config/autostart/headroom.desktop")
}

fn checkbox(d: &Driver) -> String {
    wait_for(Duration::from_secs(60), || {
        d.find("[data-testid=setting-autostart]")
    })
    .expect("the autostart setting")
}

fn checked(d: &Driver) -> Option<bool> {
    d.property(&checkbox(d), "checked")?.as_bool()
}

/// Sets the box as a user does (with the keyboard, when it differs) and saves.
fn set_and_save(d: &Driver, on: bool) {
    if checked(d) != Some(on) {
        d.press(&checkbox(d), " ").expect("toggle the setting");
    }
    let set = wait_for(Duration::from_secs(5), || {
        (checked(d) == Some(on)).then_some(())
    });
    assert!(set.is_some(), "the box is set to {on}");
    d.press(&d.find("[data-testid=settings-save]").expect("save"), " ")
        .expect("press save");
    d.wait_text(
        "[data-testid=settings-saved]",
        Duration::from_secs(20),
        |t| t.contains("Saved"),
    )
    .unwrap_or_else(|| {
        let err = d
            .find("[data-testid=settings-error]")
            .and_then(|e| d.text(&e));
        panic!("saving the settings: {err:?}")
    });
}

fn exec_line(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("the entry exists");
    text.lines()
        .find_map(|l| l.strip_prefix("Exec="))
        .unwrap_or_else(|| panic!("an Exec line in\n{text}"))
        .to_string()
}

/// `desktop-file-validate` (desktop-file-utils) finds nothing wrong with the entry.
fn assert_valid(path: &Path) {
    let out = Command::new("desktop-file-validate")
        .arg(path)
        .output()
        .expect("desktop-file-validate (package desktop-file-utils) must be installed");
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && !said.contains("error"),
        "the entry is valid: {said}\n{}",
        std::fs::read_to_string(path).unwrap_or_default()
    );
}

#[test]
fn the_login_setting_writes_and_removes_the_autostart_entry() {
    let desktop = Desktop::start();
    let cfg = write_config(&desktop);
    let d = Driver::start(&desktop, &bin("headroom"), &["--config", &cfg]);
    let entry = entry_path(&desktop);
    assert_eq!(checked(&d), Some(false), "off while there is no entry");

    set_and_save(&d, true);
    let exec = exec_line(&entry);
    let program = bin("headroom").canonicalize().expect("the app's path");
    assert_eq!(exec, format!("{} --hidden", program.display()));
    assert_valid(&entry);

    // The file is the setting: removed by hand, the window shows it off.
    std::fs::remove_file(&entry).expect("remove the entry");
    d.press(
        &d.find("[data-testid=settings-discard]").expect("discard"),
        " ",
    )
    .expect("press discard");
    let off = wait_for(Duration::from_secs(10), || {
        (checked(&d) == Some(false)).then_some(())
    });
    assert!(off.is_some(), "the setting follows the file");

    set_and_save(&d, true);
    assert!(entry.exists(), "on again");
    set_and_save(&d, false);
    assert!(!entry.exists(), "off removes the entry");
}

#[test]
fn from_an_appimage_the_entry_starts_the_image_by_a_path_with_spaces() {
    let mut desktop = Desktop::start();
    // An "AppImage" where users keep them, under a name that needs quoting: a link to
    // the real app, so the program the entry names can be started. (Not a `%`: GLib
    // looks for the program before it undoes `%%`, so it would find none.)
    let apps = desktop.dir().join("My Apps");
    std::fs::create_dir_all(&apps).expect("apps dir");
    let image = apps.join("Headroom's $HOME.AppImage");
    std::os::unix::fs::symlink(bin("headroom"), &image).expect("link");
    desktop.set_env("APPIMAGE", image.to_str().expect("utf-8 path"));
    let cfg = write_config(&desktop);
    let d = Driver::start(&desktop, &bin("headroom"), &["--config", &cfg]);

    set_and_save(&d, true);
    let entry = entry_path(&desktop);
    let exec = exec_line(&entry);
    assert!(
        exec.starts_with('"') && exec.ends_with("\" --hidden"),
        "{exec}"
    );
    assert!(
        exec.contains("My Apps"),
        "the image, not the running binary: {exec}"
    );
    assert_valid(&entry);

    // GLib reads Exec as a session manager does and starts the image: a second
    // Headroom, which hands over to this one and exits.
    let out = desktop
        .command("gio")
        .arg("launch")
        .arg(&entry)
        .output()
        .expect("gio (package libglib2.0-bin) must be installed");
    assert!(
        out.status.success(),
        "GLib starts the program the entry names: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let handed_over = wait_for(Duration::from_secs(30), || {
        std::fs::read_dir(desktop.dir())
            .ok()?
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("tauri-driver-"))
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .any(|log| log.contains("launched again"))
            .then_some(())
    });
    assert!(
        handed_over.is_some(),
        "the running Headroom heard from the one the entry started"
    );
}

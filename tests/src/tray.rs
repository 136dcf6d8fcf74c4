//! The app's tray icon as a tray host sees it: the StatusNotifierItem registered with
//! the desktop's watcher, its menu read over D-Bus (`com.canonical.dbusmenu`) and its
//! entries clicked, as a panel does when the user picks one. Through `gdbus`, the
//! same GLib D-Bus client the panels use.

use std::time::Duration;

use crate::bins::wait_for;
use crate::desktop::Desktop;

/// One entry of the tray menu.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub id: i32,
    pub label: String,
    pub enabled: bool,
}

/// Where an app's menu is on the bus.
struct Menu {
    service: String,
    path: String,
}

fn gdbus(desktop: &Desktop, dest: &str, path: &str, method: &str, args: &[&str]) -> Option<String> {
    let out = desktop
        .command("gdbus")
        .args(["call", "--session", "--timeout", "5", "--dest", dest])
        .args(["--object-path", path, "--method", method, "--"])
        .args(args)
        .output()
        .expect("gdbus (package libglib2.0-bin) must be installed");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The single-quoted strings of a GVariant text, unescaped.
fn quoted(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\'' {
            continue;
        }
        let mut s = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => s.extend(chars.next()),
                '\'' => break,
                c => s.push(c),
            }
        }
        found.push(s);
    }
    found
}

/// The menu of the first item registered with the watcher. Watchers list items as
/// `service` or `service/path`, so the item's object is found by introspection.
fn find_menu(desktop: &Desktop) -> Option<Menu> {
    let items = gdbus(
        desktop,
        "org.kde.StatusNotifierWatcher",
        "/StatusNotifierWatcher",
        "org.freedesktop.DBus.Properties.Get",
        &[
            "org.kde.StatusNotifierWatcher",
            "RegisteredStatusNotifierItems",
        ],
    )?;
    let item = quoted(&items).into_iter().next()?;
    let service = item.split('/').next()?.to_string();
    let tree = desktop
        .command("gdbus")
        .args(["introspect", "--session", "--recurse", "--dest", &service])
        .args(["--object-path", "/"])
        .output()
        .ok()?;
    let tree = String::from_utf8_lossy(&tree.stdout);
    let mut node = None;
    let mut item_path = None;
    for line in tree.lines().map(str::trim) {
        if let Some(p) = line.strip_prefix("node ") {
            node = p.strip_suffix(" {").map(str::to_string);
        } else if line == "interface org.kde.StatusNotifierItem {" {
            item_path = node.clone();
            break;
        }
    }
    let item_path = item_path?;
    let menu = gdbus(
        desktop,
        &service,
        &item_path,
        "org.freedesktop.DBus.Properties.Get",
        &["org.kde.StatusNotifierItem", "Menu"],
    )?;
    let path = menu
        .split("objectpath ")
        .nth(1)
        .and_then(|rest| quoted(rest).into_iter().next())?;
    Some(Menu { service, path })
}

/// The entries of the app's tray menu (separators left out), waiting up to `timeout`
/// for the app to register its icon.
pub fn menu(desktop: &Desktop, timeout: Duration) -> Option<Vec<Entry>> {
    wait_for(timeout, || {
        let m = find_menu(desktop)?;
        let layout = gdbus(
            desktop,
            &m.service,
            &m.path,
            "com.canonical.dbusmenu.GetLayout",
            &["0", "-1", "[]"],
        )?;
        let entries = parse_layout(&layout);
        (!entries.is_empty()).then_some(entries)
    })
}

/// Each child `<(id, {props}, @av [])>` of the root, as `gdbus` prints GetLayout.
fn parse_layout(text: &str) -> Vec<Entry> {
    text.split("<(")
        .skip(1)
        .filter_map(|child| {
            let (id, rest) = child.split_once(',')?;
            let props = rest.split("}, ").next()?;
            let label = props
                .split_once("'label': <")
                .and_then(|(_, v)| quoted(v).into_iter().next())?;
            Some(Entry {
                id: id.trim().parse().ok()?,
                label,
                enabled: !props.contains("'enabled': <false>"),
            })
        })
        .collect()
}

/// Clicks the menu entry whose label starts with `label`, as a panel does.
pub fn click(desktop: &Desktop, label: &str) {
    let m = find_menu(desktop).expect("the app's tray menu is on the bus");
    let entries = menu(desktop, Duration::from_secs(5)).unwrap_or_default();
    let entry = entries
        .iter()
        .find(|e| e.label.starts_with(label))
        .unwrap_or_else(|| panic!("no tray menu entry {label:?} in {entries:?}"));
    let id = entry.id.to_string();
    gdbus(
        desktop,
        &m.service,
        &m.path,
        "com.canonical.dbusmenu.Event",
        &[&id, "clicked", "<0>", "0"],
    )
    .unwrap_or_else(|| panic!("the menu did not take the click on {label:?}"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_layout_as_gdbus_prints_it_gives_the_labelled_entries() {
        let text = "(uint32 2, (0, {'children-display': <'submenu'>}, [<(2, {'enabled': <false>, \
            'label': <'Headroom ok: it\\'s fine'>}, @av [])>, <(3, {'enabled': <true>, 'type': \
            <'separator'>}, @av [])>, <(4, {'label': <'Probe now'>}, @av [])>]))";
        assert_eq!(
            parse_layout(text),
            vec![
                Entry {
                    id: 2,
                    label: "Headroom ok: it's fine".into(),
                    enabled: false
                },
                Entry {
                    id: 4,
                    label: "Probe now".into(),
                    enabled: true
                },
            ]
        );
    }
}

//! Whether anything on this desktop shows our tray icon.
//!
//! On Linux the icon is a StatusNotifierItem: libayatana registers it with the
//! `org.kde.StatusNotifierWatcher` on the session bus, and a host (KDE's panel, GNOME's
//! AppIndicator extension, XFCE's and MATE's panels, waybar…) draws it. Stock GNOME has
//! neither, so the icon is made without an error and never seen. This asks the bus —
//! does the watcher have an owner, and has a host registered with it — and follows the
//! answer: the watcher's owner changing and hosts registering make it ask again.

use std::sync::mpsc;
use std::time::Duration;

use zbus::blocking::{fdo::DBusProxy, Connection, MessageIterator};
use zbus::message::Type;
use zbus::names::BusName;
use zbus::MatchRule;

const WATCHER: &str = "org.kde.StatusNotifierWatcher";
const WATCHER_PATH: &str = "/StatusNotifierWatcher";
/// A bus that does not answer within this is treated as having no host.
const CALL_TIMEOUT: Duration = Duration::from_secs(2);

/// What the window says when no host shows the icon, with the fix.
pub const NO_HOST: &str = "no StatusNotifier host is on the session bus to show it. On \
    GNOME, install and enable the AppIndicator extension (Debian and Ubuntu: apt install \
    gnome-shell-extension-appindicator, then log out and in, or gnome-extensions enable \
    ubuntu-appindicators@ubuntu.com)";

/// Whether a StatusNotifier host is registered with a watcher on `conn`'s bus.
fn host_present(conn: &Connection) -> zbus::Result<bool> {
    let bus = DBusProxy::new(conn)?;
    if !bus.name_has_owner(BusName::try_from(WATCHER)?)? {
        return Ok(false);
    }
    let reply = conn.call_method(
        Some(WATCHER),
        WATCHER_PATH,
        Some("org.freedesktop.DBus.Properties"),
        "Get",
        &(WATCHER, "IsStatusNotifierHostRegistered"),
    )?;
    let value: zbus::zvariant::OwnedValue = reply.body().deserialize()?;
    Ok(bool::try_from(value)?)
}

/// Looks at the session bus on a thread of its own and keeps following it. Returns
/// the first answer (or `None` when the bus gave none within `first_within`); each
/// later change goes to `on_change`. Without a session bus the answer is `false`,
/// and nothing is followed.
pub fn follow(
    first_within: Duration,
    mut on_change: impl FnMut(bool) + Send + 'static,
) -> Option<bool> {
    let (first_tx, first_rx) = mpsc::sync_channel(1);
    let spawned = std::thread::Builder::new()
        .name("tray-host".into())
        .spawn(move || {
            let (conn, messages) = match subscribe() {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!("cannot ask the session bus for a tray host: {e}");
                    let _ = first_tx.send(false);
                    return;
                }
            };
            let mut last = ask(&conn);
            let _ = first_tx.send(last);
            for message in messages {
                let Ok(message) = message else { continue };
                if message.message_type() != Type::Signal {
                    continue;
                }
                let now = ask(&conn);
                if now != last {
                    tracing::info!("tray host {}", if now { "appeared" } else { "went away" });
                    last = now;
                    on_change(now);
                }
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("no thread to look for a tray host: {e}");
        return None;
    }
    first_rx.recv_timeout(first_within).ok()
}

/// A connection of our own with the signals that can change the answer routed to it:
/// the watcher's owner changing and the watcher's own signals (hosts registering).
/// Only signals matter, so one stream of everything the connection gets will do.
fn subscribe() -> zbus::Result<(Connection, MessageIterator)> {
    let conn = zbus::blocking::connection::Builder::session()?
        .method_timeout(CALL_TIMEOUT)
        .build()?;
    // Listening before the first question, so nothing between the two is missed.
    let messages = MessageIterator::from(&conn);
    let bus = DBusProxy::new(&conn)?;
    bus.add_match_rule(
        MatchRule::builder()
            .msg_type(Type::Signal)
            .sender("org.freedesktop.DBus")?
            .interface("org.freedesktop.DBus")?
            .member("NameOwnerChanged")?
            .add_arg(WATCHER)?
            .build(),
    )?;
    bus.add_match_rule(
        MatchRule::builder()
            .msg_type(Type::Signal)
            .interface(WATCHER)?
            .build(),
    )?;
    Ok((conn, messages))
}

/// The answer, with a failed question (a watcher that does not answer) as no host.
fn ask(conn: &Connection) -> bool {
    host_present(conn).unwrap_or_else(|e| {
        tracing::debug!("no answer about a tray host: {e}");
        false
    })
}

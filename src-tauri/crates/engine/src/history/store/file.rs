//! The history file as a file: whose it is, who writes it, and who may read it.
//!
//! - **Whose**: Headroom stamps its databases with `PRAGMA application_id` ("HdRm").
//!   `[history] path` may point anywhere, so before SQLite writes a byte the file is
//!   identified: a missing or empty file becomes a new history; a file with our id (or a
//!   Headroom file from before the id, recognised by having exactly our tables) is
//!   opened; anything else — another program's database, a text file, a directory, a
//!   FIFO — is refused and left untouched. Only Headroom's own files are ever moved
//!   aside as damaged.
//! - **Who writes**: one process at a time. A second Headroom on the same file (the CLI's
//!   `watch` beside the app) could otherwise judge the file damaged and rename it from
//!   under the first one's open connection. An advisory `flock` on `<file>.lock`, held
//!   for the life of the store, makes the second one run without history and say why.
//! - **Who reads**: the owner only. The directory Headroom creates is 0700, the database
//!   and its `-wal`/`-shm` 0600, set explicitly so the umask does not decide.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use super::HistoryError;

/// `PRAGMA application_id` of Headroom's history: ASCII "HdRm".
pub const APPLICATION_ID: i32 = 0x4864_526d;

const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// What is at the configured path.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Identity {
    /// Nothing, an empty file, or an SQLite database with no schema at all (what an
    /// interrupted first start of Headroom leaves): a new history goes here.
    New,
    /// A Headroom history (our application id).
    Ours,
    /// A Headroom history from before the application id: exactly our tables. Opening
    /// stamps it.
    Legacy,
    /// Not Headroom's: the reason, for the user.
    Foreign(String),
}

impl Identity {
    /// Headroom's own file: damage found in it may be moved aside.
    pub(super) fn is_ours(&self) -> bool {
        matches!(self, Identity::Ours | Identity::Legacy)
    }
}

/// Looks at `path` without writing to it. `expected` is the schema's objects
/// (`type name` lines, sorted), to recognise a legacy Headroom file.
pub(super) fn identify(path: &Path, expected: &[String]) -> Result<Identity, HistoryError> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Identity::New),
        Err(source) => {
            return Err(HistoryError::Io {
                context: format!("cannot look at the history {}", path.display()),
                source,
            })
        }
    };
    if !meta.is_file() {
        return Ok(Identity::Foreign(format!(
            "is not a regular file (it is {})",
            kind_of(&meta)
        )));
    }
    let wal_len = std::fs::metadata(side_file(path, "-wal")).map_or(0, |m| m.len());
    if meta.len() == 0 && wal_len == 0 {
        return Ok(Identity::New);
    }
    let mut header = [0u8; 100];
    let read = File::open(path)
        .and_then(|mut f| read_up_to(&mut f, &mut header))
        .map_err(|source| HistoryError::Io {
            context: format!("cannot read the history {}", path.display()),
            source,
        })?;
    if meta.len() > 0 && (read < header.len() || &header[..16] != SQLITE_MAGIC) {
        return Ok(Identity::Foreign("is not an SQLite database".into()));
    }
    if read == header.len() && header_app_id(&header) == APPLICATION_ID {
        return Ok(Identity::Ours);
    }
    // The id may be in the WAL still (a Headroom that was killed before its first
    // checkpoint), and a legacy file is told by its tables: ask SQLite, read-only.
    let looked = (|| -> rusqlite::Result<(i32, i64, Vec<String>)> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        let id: i32 = conn.query_row("PRAGMA application_id", [], |r| r.get(0))?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        Ok((id, version, schema_objects(&conn)?))
    })();
    Ok(match looked {
        Ok((APPLICATION_ID, _, _)) => Identity::Ours,
        Ok((0, 0, objects)) if objects.is_empty() => Identity::New,
        Ok((0, _, objects)) if objects == expected => Identity::Legacy,
        Ok((0, _, objects)) => Identity::Foreign(format!(
            "is another program's SQLite database (it holds {})",
            summarize(&objects)
        )),
        Ok((id, _, _)) => Identity::Foreign(format!(
            "is another program's SQLite database (application_id {id:#010x})"
        )),
        Err(e) => Identity::Foreign(format!(
            "is an SQLite database Headroom cannot identify ({e})"
        )),
    })
}

/// A database's schema objects as sorted `type name` lines (SQLite's own excluded).
pub(super) fn schema_objects(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare(
        "SELECT type || ' ' || name FROM sqlite_master
         WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY 1",
    )?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    rows.collect()
}

fn summarize(objects: &[String]) -> String {
    let tables: Vec<&str> = objects
        .iter()
        .filter_map(|o| o.strip_prefix("table "))
        .take(5)
        .collect();
    if tables.is_empty() {
        format!("{} schema objects and no tables", objects.len())
    } else {
        format!("tables {}", tables.join(", "))
    }
}

fn header_app_id(header: &[u8; 100]) -> i32 {
    i32::from_be_bytes([header[68], header[69], header[70], header[71]])
}

fn read_up_to(f: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else {
        "not a file"
    }
}

/// `<path><suffix>`: the `-wal`, `-shm` and `.lock` files beside the database.
pub(super) fn side_file(path: &Path, suffix: &str) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(suffix);
    PathBuf::from(p)
}

/// Creates `dir` and any missing parents, each 0700 whatever the umask. Directories
/// that already exist are left as they are (the user's own choice, or `/tmp`).
pub(super) fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut missing = Vec::new();
    let mut at = Some(dir);
    while let Some(d) = at.filter(|d| !d.as_os_str().is_empty()) {
        match std::fs::symlink_metadata(d) {
            Ok(_) => break,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => missing.push(d),
            Err(e) => return Err(e),
        }
        at = d.parent();
    }
    for d in missing.into_iter().rev() {
        match std::fs::create_dir(d) {
            Ok(()) => std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700))?,
            // Another process made it in the meantime: it is theirs to have chosen.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    if std::fs::metadata(dir)?.is_dir() {
        Ok(())
    } else {
        Err(std::io::Error::from(std::io::ErrorKind::NotADirectory))
    }
}

/// Creates the empty database file 0600 (or makes an existing empty one 0600) before
/// SQLite opens it; SQLite gives `-wal` and `-shm` the database file's mode.
pub(super) fn create_private_file(path: &Path) -> std::io::Result<()> {
    let f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)?;
    f.set_permissions(std::fs::Permissions::from_mode(0o600))
}

/// Makes the database and its `-wal`/`-shm` 0600 where they exist and are ours to
/// change; a failure (a file owned by someone else) is not worth stopping for.
pub(super) fn make_private(path: &Path) {
    for p in [
        path.to_path_buf(),
        side_file(path, "-wal"),
        side_file(path, "-shm"),
    ] {
        if let Ok(m) = std::fs::metadata(&p) {
            if m.permissions().mode() & 0o777 != 0o600 {
                let _ = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600));
            }
        }
    }
}

/// The advisory lock of the one process that writes a history, held until dropped
/// (the kernel drops it too when the process dies, `kill -9` included).
#[derive(Debug)]
pub(super) struct WriterLock {
    _file: File,
}

impl WriterLock {
    /// Takes `<path>.lock` without waiting. When another process holds it the error
    /// names that process (its pid is written in the lock file).
    pub(super) fn acquire(path: &Path) -> Result<WriterLock, HistoryError> {
        let lock_path = side_file(path, ".lock");
        let io = |source: std::io::Error| HistoryError::Io {
            context: format!("cannot lock the history with {}", lock_path.display()),
            source,
        };
        let mut file = match OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&lock_path)
        {
            Ok(f) => f,
            // A read-only filesystem or directory: a lock file made earlier can still
            // be locked (flock needs no write access) and SQLite will say the rest.
            Err(e) if lock_path.is_file() => File::open(&lock_path).map_err(|_| io(e))?,
            Err(e) => return Err(io(e)),
        };
        match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(e) if e == rustix::io::Errno::WOULDBLOCK => {
                let mut text = String::new();
                let _ = (&file).take(32).read_to_string(&mut text);
                return Err(HistoryError::Locked {
                    path: path.to_path_buf(),
                    pid: text.trim().parse().ok(),
                });
            }
            Err(e) => return Err(io(e.into())),
        }
        // Ours now: say who holds it, for the message the next one prints.
        let _ = file
            .set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| writeln!(file, "{}", std::process::id()));
        let _ = file.set_permissions(std::fs::Permissions::from_mode(0o600));
        Ok(WriterLock { _file: file })
    }
}

//! Follows a log file like `tail -F`: across rotation by rename (the old file is read
//! to its end, then the new one from its start) and by copytruncate (the file shrinks:
//! read again from the start). Rotated, compressed files are never opened. Starts at
//! the end, or backfills the last minutes.
//!
//! Only regular files are followed: a FIFO, a terminal or `/dev/stdout` (Postfix's
//! `maillog_file` in containers) would block `open` or `read` forever, so
//! [`check_followable`] refuses them from their metadata before anything is opened.
//! Reading happens on the blocking pool, and lines are parsed before the aggregator's
//! lock is taken, so a slow disk never stalls the runtime or the readers of the lock.
//!
//! Long (~520 lines): rotation by rename and by copytruncate, backfill, and the refusal
//! of FIFOs and devices are one state machine over one open file.

use std::fs::{File, Metadata};
use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::aggregate::Observed;
use super::lines::{Line, LineSplitter, Skip};
use super::timestamp;
use super::MaillogError as Error;
use super::SharedAggregator;
use crate::time::Ts;

/// Bytes read per poll at most, so one poll of a huge backlog stays short.
const MAX_READ_PER_POLL: u64 = 64 * 1024 * 1024;
/// How far back a backfill looks at most.
const MAX_BACKFILL_BYTES: u64 = 64 * 1024 * 1024;
const CHUNK: usize = 256 * 1024;

/// Where following starts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StartAt {
    End,
    Beginning,
    /// The lines of the last so many seconds (by the log's own timestamps), then on.
    Backfill(Duration),
}

pub struct FileTail {
    path: PathBuf,
    file: Option<File>,
    /// (device, inode) of the open file.
    id: (u64, u64),
    pos: u64,
    splitter: LineSplitter,
    buf: Vec<u8>,
    /// Backfilled lines end here; their times are placed relative to `last_ts`.
    backfill: Option<Backfill>,
}

#[derive(Debug, Clone, Copy)]
struct Backfill {
    end: u64,
    last_ts: f64,
    opened_at: Ts,
    year: i64,
}

fn io_err(context: String) -> impl FnOnce(std::io::Error) -> Error {
    move |source| Error::Io { context, source }
}

/// What a path is when it is not a regular file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Fifo,
    CharDevice,
    BlockDevice,
    Socket,
    Directory,
    Other,
}

impl FileKind {
    fn of(meta: &Metadata) -> Option<FileKind> {
        let t = meta.file_type();
        Some(if t.is_file() {
            return None;
        } else if t.is_fifo() {
            FileKind::Fifo
        } else if t.is_char_device() {
            FileKind::CharDevice
        } else if t.is_block_device() {
            FileKind::BlockDevice
        } else if t.is_socket() {
            FileKind::Socket
        } else if t.is_dir() {
            FileKind::Directory
        } else {
            FileKind::Other
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            FileKind::Fifo => "a pipe (FIFO)",
            FileKind::CharDevice => "a character device",
            FileKind::BlockDevice => "a block device",
            FileKind::Socket => "a socket",
            FileKind::Directory => "a directory",
            FileKind::Other => "not a regular file",
        }
    }
}

/// Why a path cannot be followed.
#[derive(Debug, thiserror::Error)]
pub enum NotFollowable {
    #[error("cannot follow {}: {source}", path.display())]
    Stat {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}", not_a_file(path, *kind))]
    NotAFile { path: PathBuf, kind: FileKind },
}

impl From<NotFollowable> for Error {
    fn from(e: NotFollowable) -> Self {
        match e {
            NotFollowable::Stat { path, source } => Error::Io {
                context: format!("stat {}", path.display()),
                source,
            },
            e @ NotFollowable::NotAFile { .. } => Error::Unfollowable(e.to_string()),
        }
    }
}

fn not_a_file(path: &Path, kind: FileKind) -> String {
    // What containers make of Postfix's `maillog_file = /dev/stdout`.
    let stream = [
        "/dev/stdout",
        "/dev/stderr",
        "/dev/fd/1",
        "/dev/fd/2",
        "/proc/self/fd/1",
        "/proc/self/fd/2",
        "/dev/console",
    ]
    .iter()
    .any(|s| path == Path::new(s));
    let advice = if stream {
        "Postfix writes its log to the container's output; set [[maillog]] path to a file \
         or use journald"
    } else {
        "set [[maillog]] path to a log file, or leave path out to read journald"
    };
    format!(
        "{} is {}, not a log file: {advice}",
        path.display(),
        kind.as_str()
    )
}

/// Whether `path` is a regular file a follower can read without blocking forever:
/// decided from its metadata alone (symlinks followed), never by opening it, since
/// `open` of a FIFO blocks until a writer comes.
pub fn check_followable(path: &Path) -> Result<(), NotFollowable> {
    let meta = std::fs::metadata(path).map_err(|source| NotFollowable::Stat {
        path: path.to_path_buf(),
        source,
    })?;
    match FileKind::of(&meta) {
        None => Ok(()),
        Some(kind) => Err(NotFollowable::NotAFile {
            path: path.to_path_buf(),
            kind,
        }),
    }
}

/// Opens a log file that [`check_followable`] accepts. O_NONBLOCK keeps `open` from
/// blocking should the path turn into a FIFO between the check and the open (it
/// changes nothing for reads of a regular file), and the open file is checked again.
fn open_log(path: &Path) -> Result<(File, Metadata), Error> {
    use rustix::fs::{Mode, OFlags};
    check_followable(path)?;
    let fd = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| io_err(format!("open {}", path.display()))(e.into()))?;
    let file = File::from(fd);
    let meta = file
        .metadata()
        .map_err(io_err(format!("stat {}", path.display())))?;
    if let Some(kind) = FileKind::of(&meta) {
        return Err(NotFollowable::NotAFile {
            path: path.to_path_buf(),
            kind,
        }
        .into());
    }
    Ok((file, meta))
}

impl FileTail {
    /// Opens `path`; an unreadable file, or one that is not a regular file, is an error
    /// the caller reports as a source problem. `now` is the wall-clock time backfilled
    /// lines are placed before.
    pub fn open(path: &Path, start: StartAt, now: Ts) -> Result<Self, Error> {
        let (file, meta) = open_log(path)?;
        let len = meta.len();
        let mut tail = FileTail {
            path: path.to_path_buf(),
            file: Some(file),
            id: (meta.dev(), meta.ino()),
            pos: 0,
            splitter: LineSplitter::new(),
            buf: vec![0; CHUNK],
            backfill: None,
        };
        match start {
            StartAt::Beginning => {}
            StartAt::End => tail.pos = len,
            StartAt::Backfill(d) => {
                let year = timestamp::year_of(now);
                match tail.backfill_start(len, d.as_secs_f64(), year)? {
                    Some((pos, last_ts)) => {
                        tail.pos = pos;
                        tail.backfill = Some(Backfill {
                            end: len,
                            last_ts,
                            opened_at: now,
                            year,
                        });
                    }
                    None => tail.pos = len,
                }
            }
        }
        Ok(tail)
    }

    /// The offset of the first line within `secs` of the last line's time, and that time.
    fn backfill_start(
        &mut self,
        len: u64,
        secs: f64,
        year: i64,
    ) -> Result<Option<(u64, f64)>, Error> {
        let mut last_ts = None;
        self.scan_lines(len.saturating_sub(64 * 1024), len, year, &mut |_, ts| {
            if ts.is_some() {
                last_ts = ts;
            }
            false
        })?;
        let Some(last_ts) = last_ts else {
            return Ok(None);
        };
        let cutoff = last_ts - secs;
        let mut start = None;
        self.scan_lines(
            len.saturating_sub(MAX_BACKFILL_BYTES),
            len,
            year,
            &mut |pos, ts| {
                if ts.is_some_and(|t| t >= cutoff) {
                    start = Some(pos);
                    return true;
                }
                false
            },
        )?;
        Ok(start.map(|s| (s, last_ts)))
    }

    /// Calls `f(line_start, timestamp)` for each complete line in `from..to` (a partial
    /// first line is skipped) until `f` returns true. Only a line's first bytes are kept.
    fn scan_lines(
        &mut self,
        from: u64,
        to: u64,
        year: i64,
        f: &mut dyn FnMut(u64, Option<f64>) -> bool,
    ) -> Result<(), Error> {
        const HEAD: usize = 64;
        let ctx = format!("read {}", self.path.display());
        let Some(file) = self.file.as_mut() else {
            return Ok(());
        };
        file.seek(SeekFrom::Start(from))
            .map_err(io_err(ctx.clone()))?;
        let mut in_partial = from > 0;
        let mut head: Vec<u8> = Vec::with_capacity(HEAD);
        let mut line_start = from;
        let mut offset = from;
        while offset < to {
            let want = (self.buf.len() as u64).min(to - offset) as usize;
            let n = file
                .read(&mut self.buf[..want])
                .map_err(io_err(ctx.clone()))?;
            if n == 0 {
                break;
            }
            let mut rest = &self.buf[..n];
            let mut at = offset;
            while let Some(nl) = memchr::memchr(b'\n', rest) {
                if !in_partial {
                    let take = (HEAD - head.len()).min(nl);
                    head.extend_from_slice(&rest[..take]);
                    let text = match std::str::from_utf8(&head) {
                        Ok(t) => t,
                        Err(e) => std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or(""),
                    };
                    if f(line_start, timestamp::parse(text, year)) {
                        return Ok(());
                    }
                }
                in_partial = false;
                head.clear();
                at += nl as u64 + 1;
                line_start = at;
                rest = &rest[nl + 1..];
            }
            if !in_partial {
                let take = (HEAD - head.len()).min(rest.len());
                head.extend_from_slice(&rest[..take]);
            }
            offset += n as u64;
        }
        Ok(())
    }

    /// Reads what was appended since the last poll and hands out each complete line
    /// with the time it is placed at (`now` for live lines).
    pub fn poll(&mut self, now: Ts, f: &mut dyn FnMut(Ts, Line<'_>)) -> Result<(), Error> {
        self.read_available(now, f)?;
        let meta = match std::fs::metadata(&self.path) {
            Ok(m) => m,
            // Renamed away, the new file not created yet: keep the old one.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_err(format!("stat {}", self.path.display()))(e)),
        };
        if (meta.dev(), meta.ino()) != self.id {
            // Rotated by rename: the old file was read to its end above.
            let mut g = |l: Line<'_>| f(now, l);
            self.splitter.finish(&mut g);
            let (file, meta) = open_log(&self.path)?;
            self.file = Some(file);
            self.id = (meta.dev(), meta.ino());
            self.pos = 0;
            self.backfill = None;
            self.read_available(now, f)?;
        } else if meta.len() < self.pos {
            // Copytruncate: start again at the beginning.
            self.splitter.reset();
            self.pos = 0;
            self.backfill = None;
            self.read_available(now, f)?;
        }
        Ok(())
    }

    fn read_available(&mut self, now: Ts, f: &mut dyn FnMut(Ts, Line<'_>)) -> Result<(), Error> {
        let ctx = format!("read {}", self.path.display());
        let Some(file) = self.file.as_mut() else {
            return Ok(());
        };
        let len = file.metadata().map_err(io_err(ctx.clone()))?.len();
        if len < self.pos {
            return Ok(()); // truncated: poll() decides
        }
        file.seek(SeekFrom::Start(self.pos))
            .map_err(io_err(ctx.clone()))?;
        let mut budget = MAX_READ_PER_POLL;
        loop {
            let n = file.read(&mut self.buf).map_err(io_err(ctx.clone()))?;
            if n == 0 || budget == 0 {
                break;
            }
            budget = budget.saturating_sub(n as u64);
            let start = self.pos;
            self.pos += n as u64;
            let backfill = self.backfill.filter(|b| start < b.end);
            let splitter = &mut self.splitter;
            match backfill {
                Some(b) => splitter.feed(&self.buf[..n], &mut |l| {
                    let ts = match l {
                        Line::Text(t) => timestamp::parse(t, b.year).map_or(b.opened_at, |t| {
                            b.opened_at - (b.last_ts - t).clamp(0.0, 86400.0)
                        }),
                        Line::Skipped(_) => b.opened_at,
                    };
                    f(ts, l)
                }),
                None => splitter.feed(&self.buf[..n], &mut |l| f(now, l)),
            }
        }
        if self.backfill.is_some_and(|b| self.pos >= b.end) {
            self.backfill = None;
        }
        Ok(())
    }
}

/// Follows `path` into `agg` every `interval` until cancelled. Problems after the
/// start (a file that cannot be reopened) are retried; the first open's error is
/// returned so the caller can report the source as unreadable, and so is a path that
/// stops being a regular file (a FIFO rotated into place).
pub async fn follow_file(
    path: PathBuf,
    start: StartAt,
    interval: Duration,
    agg: SharedAggregator,
    cancel: CancellationToken,
) -> Result<(), Error> {
    let p = path.clone();
    let mut tail = blocking(move || FileTail::open(&p, start, now())).await??;
    loop {
        let a = agg.clone();
        let (t, result) = blocking(move || {
            let r = poll_into(&mut tail, &a);
            (tail, r)
        })
        .await?;
        tail = t;
        if let Err(e) = result {
            if let Err(e @ NotFollowable::NotAFile { .. }) = check_followable(&path) {
                return Err(e.into());
            }
            tracing::warn!("maillog {}: {e}", path.display());
        }
        tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            _ = tokio::time::sleep(interval) => {}
        }
    }
}

/// Runs file work on the blocking pool, off the async runtime's threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, Error> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Unfollowable(format!("the mail log reader stopped: {e}")))
}

/// Lines handed over to the aggregator at once at most, and their bytes, so the lock
/// is held briefly and a backlog is never held in memory whole.
const BATCH_LINES: usize = 4096;
const BATCH_BYTES: usize = 1024 * 1024;

/// Lines read but not yet handed over: their text in one buffer.
#[derive(Default)]
struct Batch {
    text: String,
    lines: Vec<(Ts, Result<Range<usize>, Skip>)>,
}

impl Batch {
    fn push(&mut self, ts: Ts, line: Line<'_>) {
        let l = match line {
            Line::Text(t) => {
                let start = self.text.len();
                self.text.push_str(t);
                Ok(start..self.text.len())
            }
            Line::Skipped(s) => Err(s),
        };
        self.lines.push((ts, l));
    }

    fn full(&self) -> bool {
        self.lines.len() >= BATCH_LINES || self.text.len() >= BATCH_BYTES
    }

    /// Parses every line, then takes the lock only to count the results.
    fn hand_over(&mut self, agg: &SharedAggregator) {
        if self.lines.is_empty() {
            return;
        }
        let parsed: Vec<(Ts, Observed<'_>)> = self
            .lines
            .iter()
            .map(|(ts, l)| {
                let o = match l {
                    Ok(r) => Observed::Parsed(super::parse(&self.text[r.clone()])),
                    Err(s) => Observed::Skipped(*s),
                };
                (*ts, o)
            })
            .collect();
        {
            let mut guard = agg.lock().unwrap_or_else(|p| p.into_inner());
            for (ts, o) in &parsed {
                guard.observe_parsed(*ts, o);
            }
        }
        drop(parsed);
        self.lines.clear();
        self.text.clear();
    }
}

/// One poll of the tail, its lines handed to `agg` in batches.
fn poll_into(tail: &mut FileTail, agg: &SharedAggregator) -> Result<(), Error> {
    let mut batch = Batch::default();
    let result = tail.poll(now(), &mut |ts, l| {
        batch.push(ts, l);
        if batch.full() {
            batch.hand_over(agg);
        }
    });
    batch.hand_over(agg);
    result
}

pub(super) use crate::time::unix_now as now;

#[cfg(test)]
mod tests;

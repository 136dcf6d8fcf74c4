//! Follows a log file like `tail -F`: across rotation by rename (the old file is read
//! to its end, then the new one from its start) and by copytruncate (the file shrinks:
//! read again from the start). Rotated, compressed files are never opened. Starts at
//! the end, or backfills the last minutes.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::lines::{Line, LineSplitter};
use super::timestamp;
use super::SharedAggregator;
use crate::error::Error;
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

impl FileTail {
    /// Opens `path`; an unreadable file is an error the caller reports as a source
    /// problem. `now` is the wall-clock time backfilled lines are placed before.
    pub fn open(path: &Path, start: StartAt, now: Ts) -> Result<Self, Error> {
        let file = File::open(path).map_err(io_err(format!("open {}", path.display())))?;
        let meta = file
            .metadata()
            .map_err(io_err(format!("stat {}", path.display())))?;
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
            let file =
                File::open(&self.path).map_err(io_err(format!("open {}", self.path.display())))?;
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
/// returned so the caller can report the source as unreadable.
pub async fn follow_file(
    path: PathBuf,
    start: StartAt,
    interval: Duration,
    agg: SharedAggregator,
    cancel: CancellationToken,
) -> Result<(), Error> {
    let mut tail = FileTail::open(&path, start, now())?;
    loop {
        let result = {
            let mut guard = agg.lock().unwrap_or_else(|p| p.into_inner());
            tail.poll(now(), &mut |ts, l| guard.observe(ts, l))
        };
        if let Err(e) = result {
            tracing::warn!("maillog {}: {e}", path.display());
        }
        tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            _ = tokio::time::sleep(interval) => {}
        }
    }
}

pub(super) fn now() -> Ts {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

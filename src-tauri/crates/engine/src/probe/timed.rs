//! A TCP stream that notes when the probe writes and how much the peer sends.
//!
//! lettre drives the dialogue over this stream. Some of its calls span two phases
//! (the banner and the EHLO that follows it; STARTTLS, the handshake and the second
//! EHLO), so the stream records when each *burst* of writes starts — a burst being
//! writes with no read in between, which is one command or one TLS flight — and the
//! dialogue splits a call's time at those points.
//!
//! It also bounds what the peer can make us hold: a plaintext line longer than
//! [`MAX_LINE_BYTES`] or more than [`MAX_REPLY_BYTES`] between two of our writes is an
//! error at once, so a 1 MB banner without CRLF neither grows memory nor waits for the
//! timeout. (lettre checks its own limits only after a whole line has arrived.)

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Instant;

use lettre::transport::smtp::client::AsyncTokioStream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// RFC 5321 allows 512 bytes per reply line; real servers stay far below this.
pub const MAX_LINE_BYTES: usize = 4096;
/// What the peer may send between two of our writes: a reply, or a TLS flight with its
/// certificate chain.
pub const MAX_REPLY_BYTES: usize = 256 * 1024;
/// Bursts kept per dialogue; a probe has a dozen, the cap only guards against a peer
/// that makes rustls chatter.
const MAX_BURSTS: usize = 256;

#[derive(Debug, Default)]
struct Log {
    burst_starts: Vec<Instant>,
    /// A read happened since the last write: the next write starts a new burst.
    read_since_write: bool,
    bytes_since_write: usize,
    line_len: usize,
    /// Line lengths mean something only while the bytes are plaintext SMTP.
    plaintext: bool,
    overflow: Option<String>,
}

/// Shared view of what the stream saw; the dialogue keeps one while lettre owns the
/// stream, and can still read it after a timeout dropped the dialogue.
#[derive(Debug, Clone)]
pub struct Recorder(Arc<Mutex<Log>>);

impl Recorder {
    pub fn new() -> Self {
        Recorder(Arc::new(Mutex::new(Log {
            plaintext: true,
            read_since_write: true,
            ..Log::default()
        })))
    }

    fn log(&self) -> MutexGuard<'_, Log> {
        // A poisoned lock only means a panic elsewhere mid-update; the data is still
        // a usable record of timestamps.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Start times of the write bursts that began at or after `since`.
    pub fn bursts_since(&self, since: Instant) -> Vec<Instant> {
        self.log()
            .burst_starts
            .iter()
            .copied()
            .filter(|t| *t >= since)
            .collect()
    }

    /// From here on the bytes are TLS records, not SMTP lines.
    pub fn set_encrypted(&self) {
        self.log().plaintext = false;
    }

    /// Why the stream cut the peer off, if it did.
    pub fn overflow(&self) -> Option<String> {
        self.log().overflow.clone()
    }

    fn on_write(&self, at: Instant) {
        let mut log = self.log();
        if log.read_since_write && log.burst_starts.len() < MAX_BURSTS {
            log.burst_starts.push(at);
        }
        log.read_since_write = false;
        log.bytes_since_write = 0;
    }

    /// Accounts for bytes read; an error when the peer exceeded a bound.
    fn on_read(&self, bytes: &[u8]) -> Result<(), Overflow> {
        let mut log = self.log();
        log.read_since_write = true;
        log.bytes_since_write += bytes.len();
        if log.bytes_since_write > MAX_REPLY_BYTES {
            let why = Overflow::Reply;
            log.overflow = Some(why.to_string());
            return Err(why);
        }
        if log.plaintext {
            for &b in bytes {
                if b == b'\n' {
                    log.line_len = 0;
                } else {
                    log.line_len += 1;
                }
            }
            if log.line_len > MAX_LINE_BYTES {
                let why = Overflow::Line;
                log.overflow = Some(why.to_string());
                return Err(why);
            }
        }
        Ok(())
    }
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

/// The stream handed to lettre.
pub struct TimedStream<S> {
    inner: S,
    peer: SocketAddr,
    recorder: Recorder,
}

impl<S> TimedStream<S> {
    pub fn new(inner: S, peer: SocketAddr, recorder: Recorder) -> Self {
        TimedStream {
            inner,
            peer,
            recorder,
        }
    }
}

impl<S> fmt::Debug for TimedStream<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimedStream")
            .field("peer", &self.peer)
            .finish()
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for TimedStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let res = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = res {
            let new = &buf.filled()[before..];
            if !new.is_empty() {
                if let Err(why) = self.recorder.on_read(new) {
                    buf.set_filled(before);
                    return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, why)));
                }
            }
        }
        res
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for TimedStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let at = Instant::now();
        let res = Pin::new(&mut self.inner).poll_write(cx, data);
        if let Poll::Ready(Ok(n)) = res {
            if n > 0 {
                self.recorder.on_write(at);
            }
        }
        res
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl<S> AsyncTokioStream for TimedStream<S>
where
    S: AsyncRead + AsyncWrite + Send + Sync + Unpin,
{
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.peer)
    }
}

/// A peer that sent more than an SMTP server would before it is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
enum Overflow {
    #[error("the server sent more than {MAX_REPLY_BYTES} bytes without waiting for a command")]
    Reply,
    #[error("reply line longer than {MAX_LINE_BYTES} bytes without CRLF (not SMTP?)")]
    Line,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_long_line_without_crlf_is_cut_off() {
        let (client, mut server) = tokio::io::duplex(64 * 1024);
        let rec = Recorder::new();
        let mut s = TimedStream::new(client, "127.0.0.1:25".parse().unwrap(), rec.clone());
        server
            .write_all(&[b'x'; MAX_LINE_BYTES + 10])
            .await
            .unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0;
        let err = loop {
            match s.read(&mut buf).await {
                Ok(n) => total += n,
                Err(e) => break e,
            }
        };
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(total <= MAX_LINE_BYTES);
        assert!(rec.overflow().is_some());
    }

    #[tokio::test]
    async fn writes_separated_by_reads_are_separate_bursts() {
        let (client, mut server) = tokio::io::duplex(1024);
        let rec = Recorder::new();
        let t0 = Instant::now();
        let mut s = TimedStream::new(client, "127.0.0.1:25".parse().unwrap(), rec.clone());
        s.write_all(b"EHLO a\r\n").await.unwrap();
        s.write_all(b"MAIL FROM:<>\r\n").await.unwrap();
        server.write_all(b"250 ok\r\n").await.unwrap();
        let mut buf = [0u8; 64];
        let _ = s.read(&mut buf).await.unwrap();
        s.write_all(b"QUIT\r\n").await.unwrap();
        assert_eq!(rec.bursts_since(t0).len(), 2);
    }
}

//! One probe dialogue: connect, then lettre's async SMTP connection over the timed
//! stream, phase by phase, the whole of it bounded by the target's timeout.
//!
//! Long (~630 lines): every phase of the dialogue with its timing and its mapping of
//! lettre's errors to outcomes, in the order they happen on the wire.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use lettre::message::{header::ContentType, Mailbox, Message};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt, Rset};
use lettre::transport::smtp::response::Response;
use lettre::Address;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_util::compat::{Compat, FuturesAsyncReadCompatExt};

use super::auth::auth_channel;
use super::reply;
use super::spec::{Host, Probe};
use super::timed::{Recorder, TimedStream};
use super::TlsMode;
use super::{Outcome, Phase, ProbeResult, Timings};
use crate::classify::{classify, Class, Reply};

/// After a failure the probe still says QUIT, but waits no longer than this for it.
const QUIT_GRACE: Duration = Duration::from_millis(500);

type SmtpError = lettre::transport::smtp::Error;

/// How the dialogue ended (before timings are attached).
struct End {
    outcome: Outcome,
    reply: Option<Reply>,
    class: Class,
    detail: Option<String>,
}

impl End {
    fn new(outcome: Outcome, class: Class, detail: impl Into<String>) -> Self {
        End {
            outcome,
            reply: None,
            class,
            detail: Some(detail.into()),
        }
    }
}

/// lettre calls that span two phases; their time is split where the second phase's
/// first command was written (see `timed`).
#[derive(Clone, Copy, PartialEq)]
enum Bundle {
    /// `connect_with_transport`: banner, then EHLO.
    BannerEhlo,
    /// `starttls`: STARTTLS and the handshake, then EHLO again.
    StarttlsEhlo,
}

struct Run<'a> {
    probe: &'a Probe,
    rec: Recorder,
    timings: Timings,
    phase: Phase,
    phase_start: Instant,
    bundle: Option<Bundle>,
    last_reply: Option<Reply>,
    notes: Vec<String>,
    /// A connection to close politely once the verdict is in.
    leftover: Option<AsyncSmtpConnection>,
    /// Every address the host resolved to: AUTH without verified TLS needs them all
    /// to be loopback.
    resolved: Vec<IpAddr>,
}

pub(super) async fn run(probe: &Probe) -> ProbeResult {
    let ts = crate::time::unix_now();
    let mut notes = Vec::new();
    // The keyring is asked before the clock starts: its latency is not the server's.
    let creds = match &probe.spec.username {
        Some(user) => {
            let pw = match &probe.spec.password {
                Some(p) => Ok(p.clone()),
                None => super::secret::password(user, &probe.spec.host).await,
            };
            match pw {
                Ok(p) => Some(Credentials::new(user.clone(), p)),
                Err(why) => {
                    notes.push(format!("AUTH not attempted: {why}"));
                    None
                }
            }
        }
        None => None,
    };
    let start = Instant::now();
    let mut run = Run {
        probe,
        rec: Recorder::new(),
        timings: Timings::default(),
        phase: Phase::Connect,
        phase_start: start,
        bundle: None,
        last_reply: None,
        notes,
        leftover: None,
        resolved: Vec::new(),
    };
    let end = match tokio::time::timeout(probe.spec.timeout, run.dialogue(creds.as_ref())).await {
        Ok(end) => end,
        Err(_) => run.timed_out(),
    };
    let total_ms = ms(start.elapsed());
    if let Some(mut conn) = run.leftover.take() {
        let _ = tokio::time::timeout(QUIT_GRACE, conn.abort()).await;
    }
    let mut detail = run.notes;
    detail.extend(end.detail);
    ProbeResult {
        target: probe.target.clone(),
        outcome: end.outcome,
        phase: run.phase,
        reply: end.reply,
        class: end.class,
        timings_ms: run.timings,
        total_ms,
        name: probe.spec.name.clone(),
        ts,
        // Errors can quote the server (lettre puts its reply in them): bounded too.
        detail: if detail.is_empty() {
            None
        } else {
            Some(crate::sanitize::for_storage(&detail.join("; ")))
        },
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

impl Run<'_> {
    async fn dialogue(&mut self, creds: Option<&Credentials>) -> End {
        let probe = self.probe;
        let (tcp, peer) = match self.connect().await {
            Ok(c) => c,
            Err(end) => return self.fail(end),
        };
        let timed = TimedStream::new(tcp, peer, self.rec.clone());
        let stream: Box<dyn AsyncTokioStream> = match (&probe.spec.tls, &probe.tls) {
            (TlsMode::Implicit, Some(params)) => {
                self.rec.set_encrypted();
                match implicit_tls(timed, peer, params.clone()).await {
                    Ok(s) => Box::new(s),
                    Err(e) => return self.fail(tls_failure(&e)),
                }
            }
            _ => Box::new(timed),
        };
        self.close_phase(false);

        self.begin_bundle(Bundle::BannerEhlo);
        let mut conn = match AsyncSmtpConnection::connect_with_transport(stream, &probe.helo).await
        {
            Ok(c) => c,
            Err(e) => return self.fail_smtp(e, None),
        };
        self.close_phase(true);

        if let (TlsMode::Starttls, Some(params)) = (&probe.spec.tls, &probe.tls) {
            self.phase = Phase::Starttls;
            if !conn.can_starttls() {
                let end = End::new(
                    Outcome::TlsError,
                    Class::Tls,
                    "STARTTLS was asked for but the server does not offer it: its EHLO reply \
                     lists no STARTTLS (Postfix: set smtpd_tls_security_level = may and a \
                     certificate), or probe with tls = none / --tls none",
                );
                return self.fail_with(end, conn);
            }
            self.begin_bundle(Bundle::StarttlsEhlo);
            // The STARTTLS reply is the last plaintext; after it come TLS records.
            self.rec.set_encrypted();
            match conn.starttls(params.clone(), &probe.helo).await {
                Ok(()) => self.close_phase(true),
                // lettre has already closed the connection here.
                Err(e) => return self.fail_smtp(e, None),
            }
        }

        if let Some(creds) = creds {
            if let Err(why) = auth_channel(probe.spec.tls, probe.spec.verify_tls, &self.resolved) {
                let e = probe.spec.auth_refused(why);
                self.notes.push(format!("AUTH not attempted: {e}"));
            } else {
                self.begin(Phase::Auth);
                match conn
                    .auth(&[Mechanism::Plain, Mechanism::Login], creds)
                    .await
                {
                    Ok(r) => self.passed(&r),
                    Err(e) => return self.fail_smtp(e, Some(conn)),
                }
            }
        }

        self.begin(Phase::Mail);
        match conn.command(Mail::new(probe.from.clone(), vec![])).await {
            Ok(r) => self.passed(&r),
            Err(e) => return self.fail_smtp(e, Some(conn)),
        }

        if let Some(rcpt) = &probe.rcpt {
            self.begin(Phase::Rcpt);
            match conn.command(Rcpt::new(rcpt.clone(), vec![])).await {
                Ok(r) => self.passed(&r),
                Err(e) => return self.fail_smtp(e, Some(conn)),
            }
        }

        if probe.spec.send {
            self.begin(Phase::Data);
            let sent = match conn.command(Data).await {
                Ok(_) => conn.message(&test_message(probe)).await,
                Err(e) => Err(e),
            };
            match sent {
                Ok(r) => self.passed(&r),
                Err(e) => return self.fail_smtp(e, Some(conn)),
            }
        } else {
            self.begin(Phase::Rset);
            match conn.command(Rset).await {
                Ok(r) => self.passed(&r),
                Err(e) => return self.fail_smtp(e, Some(conn)),
            }
        }

        self.begin(Phase::Quit);
        match conn.quit().await {
            Ok(r) => {
                self.passed(&r);
                End {
                    outcome: Outcome::Ok,
                    reply: self.last_reply.take(),
                    class: Class::Ok,
                    detail: None,
                }
            }
            Err(e) if e.status().is_none() => {
                // Closing without a 221 is rude but the server did its work.
                self.close_phase(false);
                End {
                    outcome: Outcome::Ok,
                    reply: self.last_reply.take(),
                    class: Class::Ok,
                    detail: Some(format!("the server closed without answering QUIT ({e})")),
                }
            }
            Err(e) => self.fail_smtp(e, None),
        }
    }

    async fn connect(&mut self) -> Result<(TcpStream, SocketAddr), End> {
        let port = self.probe.spec.port;
        let addrs: Vec<SocketAddr> = match &self.probe.host {
            Host::Ip(ip) => vec![SocketAddr::new(*ip, port)],
            Host::Name(name) => match tokio::net::lookup_host((name.as_str(), port)).await {
                Ok(a) => a.collect(),
                Err(e) => {
                    return Err(End::new(
                        Outcome::DnsError,
                        Class::Dns,
                        format!("cannot resolve {name}: {e}"),
                    ))
                }
            },
        };
        self.resolved = addrs.iter().map(SocketAddr::ip).collect();
        if addrs.is_empty() {
            return Err(End::new(
                Outcome::DnsError,
                Class::Dns,
                "the name resolves to no address",
            ));
        }
        let mut last: Option<(SocketAddr, io::Error)> = None;
        for addr in addrs {
            match TcpStream::connect(addr).await {
                Ok(s) => {
                    // Commands are small and each waits for its reply: no Nagle delay.
                    let _ = s.set_nodelay(true);
                    return Ok((s, addr));
                }
                Err(e) => last = Some((addr, e)),
            }
        }
        let Some((addr, e)) = last else {
            return Err(End::new(
                Outcome::Unreachable,
                Class::Network,
                "no address to connect to",
            ));
        };
        let outcome = match e.kind() {
            io::ErrorKind::ConnectionRefused => Outcome::Refused,
            io::ErrorKind::TimedOut => Outcome::Timeout,
            _ => Outcome::Unreachable,
        };
        let class = if outcome == Outcome::Timeout {
            Class::Timeout
        } else {
            Class::Network
        };
        Err(End::new(outcome, class, format!("connect to {addr}: {e}")))
    }

    fn begin(&mut self, phase: Phase) {
        self.phase = phase;
        self.phase_start = Instant::now();
        self.bundle = None;
    }

    fn begin_bundle(&mut self, bundle: Bundle) {
        self.begin(match bundle {
            Bundle::BannerEhlo => Phase::Banner,
            Bundle::StarttlsEhlo => Phase::Starttls,
        });
        self.bundle = Some(bundle);
    }

    /// Records the time of the current phase up to now. For a bundle, `second_half`
    /// says whether the call got as far as its second phase (EHLO); the split point is
    /// the start of the last write burst.
    fn close_phase(&mut self, second_half: bool) {
        let now = Instant::now();
        let start = self.phase_start;
        match self.bundle.take() {
            None => self.timings.add(self.phase, ms(now - start)),
            Some(bundle) => {
                let bursts = self.rec.bursts_since(start);
                let split = match bundle {
                    // The first write after the banner is EHLO.
                    Bundle::BannerEhlo => bursts.first().copied(),
                    Bundle::StarttlsEhlo if second_half => bursts.last().copied(),
                    Bundle::StarttlsEhlo => None,
                };
                match split {
                    Some(at) => {
                        self.timings.add(self.phase, ms(at - start));
                        self.timings.add(Phase::Ehlo, ms(now - at));
                        self.phase = Phase::Ehlo;
                    }
                    _ => self.timings.add(self.phase, ms(now - start)),
                }
            }
        }
        self.phase_start = now;
    }

    fn passed(&mut self, r: &Response) {
        self.close_phase(false);
        self.last_reply = Some(reply::from_response(r));
    }

    fn fail(&mut self, end: End) -> End {
        self.close_phase(false);
        end
    }

    fn fail_with(&mut self, end: End, conn: AsyncSmtpConnection) -> End {
        self.leftover = Some(conn);
        self.fail(end)
    }

    /// Maps a lettre error to the verdict, closing the current phase.
    fn fail_smtp(&mut self, e: SmtpError, conn: Option<AsyncSmtpConnection>) -> End {
        self.leftover = conn;
        // Inside `starttls`, only the EHLO after the handshake can send a reply once
        // two bursts (STARTTLS, the TLS flights) have gone out.
        let second = self.bundle == Some(Bundle::StarttlsEhlo)
            && e.status().is_some()
            && self.rec.bursts_since(self.phase_start).len() >= 2;
        self.close_phase(second);
        self.verdict(e)
    }

    fn verdict(&mut self, e: SmtpError) -> End {
        if let Some(code) = e.status() {
            let code = u16::from(code);
            let text = std::error::Error::source(&e)
                .map(|s| s.to_string())
                .unwrap_or_default();
            let r = reply::from_error_text(code, &text);
            let class = classify(r.code, r.enhanced.as_deref(), &r.text);
            return End {
                outcome: if code >= 500 {
                    Outcome::Permfail
                } else {
                    Outcome::Tempfail
                },
                reply: Some(r),
                class,
                detail: None,
            };
        }
        if let Some(why) = self.rec.overflow() {
            return End::new(Outcome::ProtocolError, Class::Other, why);
        }
        if self.phase == Phase::Starttls {
            return tls_failure(&e);
        }
        let msg = error_chain(&e);
        if let Some(kind) = io_kind(&e) {
            return match kind {
                io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::BrokenPipe => End::new(
                    Outcome::ProtocolError,
                    Class::Network,
                    format!(
                        "the server reset the connection during {}: {msg}",
                        self.phase
                    ),
                ),
                io::ErrorKind::TimedOut => End::new(Outcome::Timeout, Class::Timeout, msg),
                io::ErrorKind::UnexpectedEof => self.lost(),
                _ => End::new(Outcome::ProtocolError, Class::Network, msg),
            };
        }
        if e.is_response() && msg.contains("incomplete response") {
            return self.lost();
        }
        if e.is_tls() {
            return tls_failure(&e);
        }
        let what = if e.is_response() {
            format!(
                "the server's answer during {} is not SMTP: {msg}",
                self.phase
            )
        } else {
            msg
        };
        End::new(Outcome::ProtocolError, Class::Other, what)
    }

    /// The server closed the connection without a reply.
    fn lost(&self) -> End {
        End::new(
            Outcome::ProtocolError,
            Class::Timeout,
            format!(
                "the server closed the connection during {} without a reply",
                self.phase
            ),
        )
    }

    fn timed_out(&mut self) -> End {
        self.close_phase(false);
        End::new(
            Outcome::Timeout,
            Class::Timeout,
            format!(
                "no answer within {} s (stopped in {})",
                fmt_secs(self.probe.spec.timeout),
                self.phase
            ),
        )
    }
}

fn fmt_secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0}")
    } else {
        format!("{s}")
    }
}

fn tls_failure(e: &SmtpError) -> End {
    End::new(
        Outcome::TlsError,
        Class::Tls,
        format!("TLS handshake failed: {}", error_chain(e)),
    )
}

/// The error and its sources, for a detail line ("Connection error: invalid peer
/// certificate: NotValidForName").
fn error_chain(e: &SmtpError) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        let t = inner.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        src = inner.source();
    }
    s
}

fn io_kind(e: &SmtpError) -> Option<io::ErrorKind> {
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        if let Some(io) = inner.downcast_ref::<io::Error>() {
            return Some(io.kind());
        }
        src = inner.source();
    }
    None
}

/// The small, clearly labelled message of `--send`.
fn test_message(probe: &Probe) -> Vec<u8> {
    let from_addr = probe
        .from
        .clone()
        .or_else(|| Address::new("headroom-probe", helo_domain(probe)).ok());
    let to = probe.rcpt.clone();
    let (Some(from_addr), Some(to)) = (from_addr, to) else {
        return fallback_message();
    };
    let built = Message::builder()
        .from(Mailbox::new(Some("Headroom probe".into()), from_addr))
        .to(Mailbox::new(None, to))
        .subject("Headroom SMTP probe (test message, safe to delete)")
        .header(ContentType::TEXT_PLAIN)
        .body(String::from(
            "This is a test message sent by Headroom, a mail server monitor, to check that\n\
             this server accepts mail. It can be deleted. Stop it with send = false in the\n\
             [[probe]] section of Headroom's configuration.\n",
        ));
    match built {
        Ok(m) => m.formatted(),
        Err(_) => fallback_message(),
    }
}

fn helo_domain(probe: &Probe) -> String {
    match &probe.helo {
        lettre::transport::smtp::extension::ClientId::Domain(d) if d.contains('.') => d.clone(),
        _ => "localhost.localdomain".into(),
    }
}

fn fallback_message() -> Vec<u8> {
    b"Subject: Headroom SMTP probe (test message, safe to delete)\r\n\r\nHeadroom probe.\r\n"
        .to_vec()
}

/// Implicit TLS (port 465): lettre's TLS upgrade over our timed stream, then handed
/// back to lettre as a plain transport. lettre can only start a connection on a
/// `Box<dyn AsyncTokioStream>` and reads the banner at once, so the handshake must
/// happen first; its `AsyncNetworkStream` (public but deprecated since 0.11.14) is the
/// only way to reuse lettre's TLS setup instead of configuring rustls twice.
#[allow(deprecated)]
async fn implicit_tls(
    timed: TimedStream<TcpStream>,
    peer: SocketAddr,
    params: TlsParameters,
) -> Result<ImplicitTls, SmtpError> {
    use lettre::transport::smtp::client::AsyncNetworkStream;
    let mut s = AsyncNetworkStream::use_existing_tokio1(Box::new(timed));
    s.upgrade_tls(params).await?;
    Ok(ImplicitTls {
        inner: s.compat(),
        peer,
    })
}

#[allow(deprecated)]
struct ImplicitTls {
    inner: Compat<lettre::transport::smtp::client::AsyncNetworkStream>,
    peer: SocketAddr,
}

impl std::fmt::Debug for ImplicitTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImplicitTls")
            .field("peer", &self.peer)
            .finish()
    }
}

impl AsyncRead for ImplicitTls {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for ImplicitTls {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl AsyncTokioStream for ImplicitTls {
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.peer)
    }
}

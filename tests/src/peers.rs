//! Adversarial SMTP peers for probe tests: small servers on loopback that behave the
//! way broken, overloaded or hostile mail servers do.
//!
//! Each [`Peer`] listens on 127.0.0.1 (or ::1) on a free port, serves a bounded number
//! of connections in its own tokio task, and stops when dropped. Every wait inside a
//! peer is bounded, so a test can never hang on one.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

/// How a peer misbehaves (or behaves).
#[derive(Clone)]
pub enum Behaviour {
    /// A well-behaved server: banner, EHLO (with STARTTLS when it has a certificate),
    /// MAIL, RCPT, DATA, RSET, QUIT.
    Normal,
    /// Accepts the connection and never says a word.
    Silent,
    /// Sends its banner one byte a second.
    DripBanner,
    /// Answers like something that is not a mail server.
    Garbage,
    /// `421 4.3.2 …` at the banner, then closes.
    Banner421,
    /// Banner, reads EHLO, then resets the connection (RST).
    ResetAfterEhlo,
    /// Offers STARTTLS, says 220 to it, then answers the TLS ClientHello in plaintext.
    StarttlsNoTls,
    /// A banner line of 1 MB with no CRLF.
    HugeBanner,
    /// A multi-line 421 in reply to MAIL FROM, then closes.
    MultiLine421AtMail,
    /// A 421 at MAIL FROM whose text is hostile: a terminal hyperlink (OSC 8), a
    /// clear-screen sequence, notification markup, a bidi override and a `|` that
    /// would start Nagios perfdata.
    Hostile421AtMail,
}

/// The text of [`Behaviour::Hostile421AtMail`]'s reply lines (after `421-4.3.0 `).
pub const HOSTILE_REPLY: [&str; 2] = [
    "\x1b]8;;http://evil.example/\x07renew your quota\x1b]8;;\x07 <a href=\"http://x.example\">here</a>",
    "\x1b[2J\u{202e}yzub | fake_perf=1;2;3 <img src='http://x.example/t.png'>",
];

/// TLS for a [`Behaviour::Normal`] peer.
#[derive(Clone)]
pub enum PeerTls {
    None,
    /// Offer STARTTLS with this certificate.
    Starttls(TlsAcceptor),
    /// TLS from the first byte (port 465 style).
    Implicit(TlsAcceptor),
}

/// A running peer; dropping it stops the server.
pub struct Peer {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Connections one peer serves before it stops accepting (bounds every test loop).
const MAX_CONNECTIONS: usize = 64;
/// No peer keeps a connection open longer than this.
const MAX_HOLD: Duration = Duration::from_secs(30);

impl Peer {
    /// Starts a peer on 127.0.0.1.
    pub async fn start(b: Behaviour) -> Peer {
        Peer::start_on("127.0.0.1:0", b, PeerTls::None).await
    }

    /// Starts a peer on the given address (`[::1]:0` for IPv6) with optional TLS.
    pub async fn start_on(bind: &str, b: Behaviour, tls: PeerTls) -> Peer {
        let listener = TcpListener::bind(bind).await.expect("bind a loopback port");
        let addr = listener.local_addr().expect("local address");
        let task = tokio::spawn(async move {
            for _ in 0..MAX_CONNECTIONS {
                let Ok((sock, _)) = listener.accept().await else {
                    return;
                };
                let (b, tls) = (b.clone(), tls.clone());
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(MAX_HOLD, serve(sock, b, tls)).await;
                });
            }
        });
        Peer { addr, task }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }
}

async fn serve(sock: TcpStream, b: Behaviour, tls: PeerTls) -> std::io::Result<()> {
    let _ = sock.set_nodelay(true);
    match b {
        Behaviour::Normal => match tls {
            PeerTls::Implicit(acc) => {
                let s = acc.accept(sock).await?;
                dialogue(BufReader::new(s), None).await
            }
            PeerTls::Starttls(acc) => starttls_dialogue(sock, acc).await,
            PeerTls::None => dialogue(BufReader::new(sock), None).await,
        },
        Behaviour::Silent => {
            let mut s = BufReader::new(sock);
            let mut line = String::new();
            // Wait for the client to give up; never answer.
            let _ = s.read_line(&mut line).await;
            Ok(())
        }
        Behaviour::DripBanner => {
            let mut sock = sock;
            for b in b"220 drip.example ESMTP\r\n" {
                sock.write_all(&[*b]).await?;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            hold(sock).await
        }
        Behaviour::Garbage => {
            let mut sock = sock;
            sock.write_all(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")
                .await?;
            hold(sock).await
        }
        Behaviour::Banner421 => {
            let mut sock = sock;
            sock.write_all(
                b"421 4.3.2 mx.example Service not available, closing transmission channel\r\n",
            )
            .await?;
            Ok(())
        }
        Behaviour::ResetAfterEhlo => {
            let mut s = BufReader::new(sock);
            s.get_mut()
                .write_all(b"220 reset.example ESMTP\r\n")
                .await?;
            let mut line = String::new();
            s.read_line(&mut line).await?;
            // SO_LINGER 0 makes close() send RST: the way a crashed or killed smtpd
            // looks from outside. (Deprecated because a non-zero linger blocks on drop.)
            #[allow(deprecated)]
            s.get_ref().set_linger(Some(Duration::ZERO))?;
            Ok(())
        }
        Behaviour::StarttlsNoTls => {
            let mut s = BufReader::new(sock);
            s.get_mut()
                .write_all(b"220 notls.example ESMTP\r\n")
                .await?;
            let mut line = String::new();
            loop {
                line.clear();
                if s.read_line(&mut line).await? == 0 {
                    return Ok(());
                }
                let cmd = line.trim().to_ascii_uppercase();
                if cmd.starts_with("EHLO") {
                    s.get_mut()
                        .write_all(b"250-notls.example\r\n250-PIPELINING\r\n250 STARTTLS\r\n")
                        .await?;
                } else if cmd == "STARTTLS" {
                    s.get_mut()
                        .write_all(b"220 2.0.0 Ready to start TLS\r\n")
                        .await?;
                    // Read (some of) the ClientHello, answer in plaintext.
                    let mut buf = [0u8; 512];
                    let _ = tokio::io::AsyncReadExt::read(&mut s, &mut buf).await?;
                    s.get_mut().write_all(b"250 ok\r\n").await?;
                    return hold(s.into_inner()).await;
                } else {
                    s.get_mut().write_all(b"250 ok\r\n").await?;
                }
            }
        }
        Behaviour::HugeBanner => {
            let mut sock = sock;
            let mut chunk = vec![b'x'; 64 * 1024];
            chunk[..4].copy_from_slice(b"220 ");
            for _ in 0..16 {
                sock.write_all(&chunk).await?;
                chunk[..4].copy_from_slice(b"xxxx");
            }
            hold(sock).await
        }
        Behaviour::Hostile421AtMail => {
            let mut s = BufReader::new(sock);
            s.get_mut()
                .write_all(b"220 hostile.example ESMTP\r\n")
                .await?;
            let mut line = String::new();
            loop {
                line.clear();
                if s.read_line(&mut line).await? == 0 {
                    return Ok(());
                }
                let cmd = line.trim().to_ascii_uppercase();
                if cmd.starts_with("EHLO") {
                    s.get_mut()
                        .write_all(b"250-hostile.example\r\n250 PIPELINING\r\n")
                        .await?;
                } else if cmd.starts_with("MAIL") {
                    let reply = format!(
                        "421-4.3.0 {}\r\n421 4.3.0 {}\r\n",
                        HOSTILE_REPLY[0], HOSTILE_REPLY[1]
                    );
                    s.get_mut().write_all(reply.as_bytes()).await?;
                    return Ok(());
                } else {
                    s.get_mut().write_all(b"250 ok\r\n").await?;
                }
            }
        }
        Behaviour::MultiLine421AtMail => {
            let mut s = BufReader::new(sock);
            s.get_mut().write_all(b"220 busy.example ESMTP\r\n").await?;
            let mut line = String::new();
            loop {
                line.clear();
                if s.read_line(&mut line).await? == 0 {
                    return Ok(());
                }
                let cmd = line.trim().to_ascii_uppercase();
                if cmd.starts_with("EHLO") {
                    s.get_mut()
                        .write_all(b"250-busy.example\r\n250 PIPELINING\r\n")
                        .await?;
                } else if cmd.starts_with("MAIL") {
                    s.get_mut()
                        .write_all(
                            b"421-4.3.0 busy.example Server busy\r\n\
                              421-4.3.0 short of resources\r\n\
                              421 4.3.0 try again later\r\n",
                        )
                        .await?;
                    return Ok(());
                } else {
                    s.get_mut().write_all(b"250 ok\r\n").await?;
                }
            }
        }
    }
}

/// Keeps a connection open until the client closes it (bounded by MAX_HOLD).
async fn hold<S: AsyncRead + Unpin>(s: S) -> std::io::Result<()> {
    let mut s = BufReader::new(s);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        if s.read_until(b'\n', &mut buf).await? == 0 {
            return Ok(());
        }
        if buf.len() > 64 * 1024 {
            return Ok(());
        }
    }
}

/// Plaintext banner and EHLO offering STARTTLS; after STARTTLS, the rest over TLS.
async fn starttls_dialogue(sock: TcpStream, acc: TlsAcceptor) -> std::io::Result<()> {
    let mut s = BufReader::new(sock);
    s.get_mut().write_all(b"220 tls.example ESMTP\r\n").await?;
    let mut line = String::new();
    loop {
        line.clear();
        if s.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let cmd = line.trim().to_ascii_uppercase();
        if cmd.starts_with("EHLO") {
            s.get_mut()
                .write_all(b"250-tls.example\r\n250-PIPELINING\r\n250 STARTTLS\r\n")
                .await?;
        } else if cmd == "STARTTLS" {
            s.get_mut()
                .write_all(b"220 2.0.0 Ready to start TLS\r\n")
                .await?;
            let tls = acc.accept(s.into_inner()).await?;
            return dialogue(BufReader::new(tls), Some(())).await;
        } else if cmd == "QUIT" {
            s.get_mut().write_all(b"221 2.0.0 Bye\r\n").await?;
            return Ok(());
        } else {
            s.get_mut()
                .write_all(b"503 5.5.1 STARTTLS first\r\n")
                .await?;
        }
    }
}

/// The well-behaved part: after the banner (or after TLS when `after_tls`).
async fn dialogue<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: BufReader<S>,
    after_tls: Option<()>,
) -> std::io::Result<()> {
    if after_tls.is_none() {
        s.get_mut().write_all(b"220 peer.example ESMTP\r\n").await?;
    }
    let mut line = String::new();
    let mut in_data = false;
    loop {
        line.clear();
        if s.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        if in_data {
            if line == ".\r\n" {
                in_data = false;
                s.get_mut()
                    .write_all(b"250 2.0.0 Ok: queued as TEST\r\n")
                    .await?;
            }
            continue;
        }
        let cmd = line.trim().to_ascii_uppercase();
        let reply: &[u8] = if cmd.starts_with("EHLO") {
            b"250-peer.example\r\n250-PIPELINING\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n"
        } else if cmd.starts_with("AUTH PLAIN") {
            b"235 2.7.0 Authentication successful\r\n"
        } else if cmd.starts_with("MAIL") || cmd.starts_with("RCPT") || cmd == "RSET" {
            b"250 2.1.0 Ok\r\n"
        } else if cmd == "DATA" {
            in_data = true;
            b"354 End data with <CR><LF>.<CR><LF>\r\n"
        } else if cmd == "QUIT" {
            s.get_mut().write_all(b"221 2.0.0 Bye\r\n").await?;
            return Ok(());
        } else {
            b"502 5.5.2 Error: command not recognized\r\n"
        };
        s.get_mut().write_all(reply).await?;
    }
}

/// A test CA and server certificates it signs, for TLS peers.
pub struct TestPki {
    /// The CA certificate in PEM, for the probe's `ca_file`.
    pub ca_pem: String,
    ca: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
}

impl TestPki {
    pub fn new() -> TestPki {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Headroom test CA");
        let key = rcgen::KeyPair::generate().expect("CA key");
        let ca = rcgen::CertifiedIssuer::self_signed(params, key).expect("CA certificate");
        TestPki {
            ca_pem: ca.pem(),
            ca,
        }
    }

    /// A TLS acceptor whose certificate, signed by this CA, is valid for `names`
    /// (DNS names or IP addresses).
    pub fn acceptor(&self, names: &[&str]) -> TlsAcceptor {
        let params =
            rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .expect("leaf params");
        let key = rcgen::KeyPair::generate().expect("leaf key");
        let cert = params.signed_by(&key, &self.ca).expect("leaf certificate");
        let chain = vec![cert.der().clone()];
        let key_der =
            rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).expect("leaf key DER");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(chain, key_der)
            .expect("server config");
        TlsAcceptor::from(Arc::new(config))
    }

    /// Writes the CA certificate to `dir/ca.pem` and returns the path.
    pub fn write_ca(&self, dir: &std::path::Path) -> std::path::PathBuf {
        let p = dir.join("ca.pem");
        std::fs::write(&p, &self.ca_pem).expect("write ca.pem");
        p
    }
}

impl Default for TestPki {
    fn default() -> Self {
        Self::new()
    }
}

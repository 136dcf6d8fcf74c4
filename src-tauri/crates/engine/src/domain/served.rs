//! Reading the chain a TLS listener serves, for `tls_cert_expiry`: connect, the minimal
//! SMTP exchange before STARTTLS (banner, EHLO, STARTTLS, each reply bounded and
//! untrusted) when the target says so, then a handshake that accepts any certificate
//! so an expired or untrusted one can still be read ([`ReadAny`] still checks the
//! handshake signatures). Judging the chain is [`super::tls`]'s.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::config::{ProbeTarget, TlsMode};

/// SMTP lines longer than this are not SMTP.
const MAX_LINE: u64 = 2048;
const MAX_REPLY_LINES: usize = 100;

pub(super) enum Failure {
    /// We could not look (connection refused, timeout): unknown.
    Unknown(String),
    /// The server does not do what its target says (no STARTTLS, handshake refused).
    Broken(String),
}

pub(super) async fn served_chain(
    t: &ProbeTarget,
    name: &ServerName<'static>,
    helo: Option<&str>,
) -> Result<Vec<CertificateDer<'static>>, Failure> {
    let host = t.host.trim_matches(['[', ']']);
    let tcp = TcpStream::connect((host, t.port))
        .await
        .map_err(|e| Failure::Unknown(format!("cannot connect to {host}:{}: {e}", t.port)))?;
    let tcp = match t.tls {
        TlsMode::Implicit => tcp,
        TlsMode::Starttls => starttls(tcp, helo.unwrap_or("headroom.invalid")).await?,
        TlsMode::None => return Err(Failure::Unknown("the target does not use TLS".into())),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Failure::Unknown(format!("TLS setup: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(ReadAny(provider)))
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let mut tls = connector
        .connect(name.clone(), tcp)
        .await
        .map_err(|e| Failure::Broken(format!("TLS handshake failed: {e}")))?;
    let chain = tls
        .get_ref()
        .1
        .peer_certificates()
        .map(|c| c.iter().map(|c| c.clone().into_owned()).collect())
        .unwrap_or_default();
    // Leave politely; the answer does not matter.
    if t.tls == TlsMode::Starttls || t.tls == TlsMode::Implicit {
        let _ = tls.write_all(b"QUIT\r\n").await;
        let _ = tls.shutdown().await;
    }
    Ok(chain)
}

/// Banner, EHLO, STARTTLS: the minimal exchange before the handshake.
async fn starttls(tcp: TcpStream, helo: &str) -> Result<TcpStream, Failure> {
    let mut r = BufReader::new(tcp);
    let (code, text) = reply(&mut r).await?;
    if code != 220 {
        return Err(Failure::Unknown(format!(
            "the server greeted with {code} {text}"
        )));
    }
    r.get_mut()
        .write_all(format!("EHLO {helo}\r\n").as_bytes())
        .await
        .map_err(|e| Failure::Unknown(format!("EHLO: {e}")))?;
    let (code, text) = reply(&mut r).await?;
    if code != 250 {
        return Err(Failure::Unknown(format!("EHLO answered {code} {text}")));
    }
    if !text
        .split(" | ")
        .any(|l| l.trim().eq_ignore_ascii_case("STARTTLS"))
    {
        return Err(Failure::Broken(
            "the server does not offer STARTTLS: senders deliver in clear text".into(),
        ));
    }
    r.get_mut()
        .write_all(b"STARTTLS\r\n")
        .await
        .map_err(|e| Failure::Unknown(format!("STARTTLS: {e}")))?;
    let (code, text) = reply(&mut r).await?;
    if code != 220 {
        return Err(Failure::Broken(format!("STARTTLS answered {code} {text}")));
    }
    // Bytes after the 220 would be read as TLS by us and as plain text by the server
    // (the STARTTLS injection of CVE-2011-0411): refuse them.
    if !r.buffer().is_empty() {
        return Err(Failure::Broken(
            "the server sent data after its STARTTLS reply".into(),
        ));
    }
    Ok(r.into_inner())
}

/// One SMTP reply: its code and its lines joined with " | " (bounded, untrusted).
async fn reply(r: &mut BufReader<TcpStream>) -> Result<(u16, String), Failure> {
    let mut lines = Vec::new();
    loop {
        let mut buf = Vec::new();
        let n = (&mut *r)
            .take(MAX_LINE)
            .read_until(b'\n', &mut buf)
            .await
            .map_err(|e| Failure::Unknown(format!("reading the reply: {e}")))?;
        if n == 0 {
            return Err(Failure::Unknown("the server closed the connection".into()));
        }
        if !buf.ends_with(b"\n") {
            return Err(Failure::Unknown("a reply line is too long".into()));
        }
        let line = String::from_utf8_lossy(&buf).trim_end().to_string();
        let code = line
            .get(..3)
            .and_then(|c| c.parse::<u16>().ok())
            .ok_or_else(|| {
                Failure::Unknown(format!("not an SMTP reply: {}", super::clean(&line, 80)))
            })?;
        let more = line.as_bytes().get(3) == Some(&b'-');
        lines.push(super::clean(line.get(4..).unwrap_or(""), 200));
        if !more {
            return Ok((code, lines.join(" | ")));
        }
        if lines.len() > MAX_REPLY_LINES {
            return Err(Failure::Unknown("a reply has too many lines".into()));
        }
    }
}

/// Accepts any certificate so it can be read, but checks the handshake signatures.
#[derive(Debug)]
struct ReadAny(Arc<CryptoProvider>);

impl ServerCertVerifier for ReadAny {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

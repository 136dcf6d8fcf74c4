//! An agent over HTTP(S): one connection for the event stream, short-lived ones for
//! `POST /api/v1/probe`, `GET /api/v1/history` and "Test connection". Every step has a
//! timeout; every body read is bounded.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::pin::{self, Pinned};
use super::sse::{SseItem, SseParser};
use super::{FleetError, RawEvent};
use crate::config::{display_fingerprint, AgentUrl};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A request that is not the event stream answers within this (a probe may take long:
/// its own timeout bounds it, plus this margin).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
const PROBE_TIMEOUT: Duration = Duration::from_secs(180);
/// The agent sends a heartbeat every 15 s: three missed and the stream is dead.
pub const STREAM_IDLE: Duration = Duration::from_secs(45);
/// Largest body read from a request that is not the event stream.
const MAX_BODY: usize = 16 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct HttpAgent {
    pub url: AgentUrl,
    /// Pinned fingerprint, upper-case hex.
    pub fingerprint: Option<String>,
    pub token: Option<String>,
    /// The keyring account of the token, for the 401 message.
    pub account: String,
}

impl HttpAgent {
    fn addr(&self) -> String {
        self.url.to_string()
    }

    async fn connect(&self) -> Result<SendRequest<Empty<Bytes>>, FleetError> {
        let addr = self.addr();
        let tcp = match tokio::time::timeout(
            CONNECT_TIMEOUT,
            TcpStream::connect((self.url.host.as_str(), self.url.port)),
        )
        .await
        {
            Err(_) => {
                return Err(FleetError::Timeout {
                    addr,
                    secs: CONNECT_TIMEOUT.as_secs(),
                })
            }
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                return Err(FleetError::Refused { addr })
            }
            Ok(Err(e)) => {
                return Err(FleetError::Connect {
                    addr,
                    reason: e.to_string(),
                })
            }
            Ok(Ok(s)) => s,
        };
        let _ = tcp.set_nodelay(true);
        if !self.url.tls {
            return handshake(tcp).await;
        }
        let verifier = Arc::new(Pinned::new(self.fingerprint.clone()));
        let served = verifier.served.clone();
        let config = pin::client_config(verifier).map_err(|e| FleetError::Tls(e.to_string()))?;
        let name = rustls::pki_types::ServerName::try_from(self.url.host.clone())
            .map_err(|e| FleetError::Tls(format!("{}: {e}", self.url.host)))?;
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        match tokio::time::timeout(CONNECT_TIMEOUT, connector.connect(name, tcp)).await {
            Err(_) => Err(FleetError::Timeout {
                addr,
                secs: CONNECT_TIMEOUT.as_secs(),
            }),
            Ok(Ok(s)) => handshake(s).await,
            Ok(Err(e)) => {
                let seen = crate::lock::lock(&served).clone();
                Err(match (seen, &self.fingerprint) {
                    (Some(s), None) => FleetError::NotPinned {
                        served: display_fingerprint(&s),
                    },
                    (Some(s), Some(p)) if s != *p => FleetError::FingerprintChanged {
                        pinned: display_fingerprint(p),
                        served: display_fingerprint(&s),
                    },
                    _ => FleetError::Tls(e.to_string()),
                })
            }
        }
    }

    fn request(&self, method: Method, path: &str) -> Result<Request<Empty<Bytes>>, FleetError> {
        let mut b = Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, self.url.host.as_str());
        if let Some(t) = &self.token {
            b = b.header(hyper::header::AUTHORIZATION, format!("Bearer {t}"));
        }
        b.body(Empty::new())
            .map_err(|e| FleetError::Protocol(e.to_string()))
    }

    fn check_status(&self, status: StatusCode, body: &[u8]) -> Result<(), FleetError> {
        if status == StatusCode::UNAUTHORIZED {
            return Err(FleetError::Unauthorized {
                account: self.account.clone(),
            });
        }
        if !status.is_success() {
            let text = String::from_utf8_lossy(&body[..body.len().min(300)]);
            return Err(FleetError::Status {
                status: status.as_u16(),
                body: crate::sanitize::for_terminal(&text),
            });
        }
        Ok(())
    }

    /// One request answered with JSON (state, history, probe).
    pub async fn json(&self, method: Method, path: &str) -> Result<Value, FleetError> {
        let limit = if method == Method::POST {
            PROBE_TIMEOUT
        } else {
            REQUEST_TIMEOUT
        };
        let fut = async {
            let mut sender = self.connect().await?;
            let resp = sender
                .send_request(self.request(method, path)?)
                .await
                .map_err(|e| FleetError::Closed(e.to_string()))?;
            let status = resp.status();
            let body = http_body_util::Limited::new(resp.into_body(), MAX_BODY)
                .collect()
                .await
                .map_err(|e| FleetError::Closed(e.to_string()))?
                .to_bytes();
            self.check_status(status, &body)?;
            serde_json::from_slice(&body)
                .map_err(|e| FleetError::Protocol(format!("{path} is not JSON: {e}")))
        };
        tokio::time::timeout(limit, fut)
            .await
            .map_err(|_| FleetError::Timeout {
                addr: self.addr(),
                secs: limit.as_secs(),
            })?
    }

    /// Follows `/api/v1/events` until it ends, handing each event to `on_event`.
    /// `on_open` is called once the agent accepted the subscription.
    pub async fn events(
        &self,
        mut on_open: impl FnMut(),
        mut on_event: impl FnMut(RawEvent),
    ) -> Result<(), FleetError> {
        let mut sender = self.connect().await?;
        let mut req = self.request(Method::GET, "/api/v1/events")?;
        req.headers_mut().insert(
            hyper::header::ACCEPT,
            hyper::header::HeaderValue::from_static("text/event-stream"),
        );
        let resp = tokio::time::timeout(REQUEST_TIMEOUT, sender.send_request(req))
            .await
            .map_err(|_| FleetError::Timeout {
                addr: self.addr(),
                secs: REQUEST_TIMEOUT.as_secs(),
            })?
            .map_err(|e| FleetError::Closed(e.to_string()))?;
        let status = resp.status();
        let mut body = resp.into_body();
        if !status.is_success() {
            let mut first = Vec::new();
            if let Ok(Some(Ok(f))) = tokio::time::timeout(REQUEST_TIMEOUT, body.frame()).await {
                if let Some(d) = f.data_ref() {
                    first.extend_from_slice(&d[..d.len().min(300)]);
                }
            }
            self.check_status(status, &first)?;
        }
        on_open();
        let mut parser = SseParser::default();
        loop {
            let frame = match tokio::time::timeout(STREAM_IDLE, body.frame()).await {
                Err(_) => {
                    return Err(FleetError::Timeout {
                        addr: self.addr(),
                        secs: STREAM_IDLE.as_secs(),
                    })
                }
                Ok(None) => return Err(FleetError::Closed("the agent ended the stream".into())),
                Ok(Some(Err(e))) => return Err(FleetError::Closed(e.to_string())),
                Ok(Some(Ok(f))) => f,
            };
            let Some(data) = frame.data_ref() else {
                continue;
            };
            for item in parser.feed(data).map_err(FleetError::Protocol)? {
                if let SseItem::Event { kind, data } = item {
                    match serde_json::from_str(&data) {
                        Ok(data) => on_event(RawEvent { kind, data }),
                        Err(e) => tracing::debug!("{}: skipped a {kind} event: {e}", self.addr()),
                    }
                }
            }
        }
    }
}

async fn handshake<T>(io: T) -> Result<SendRequest<Empty<Bytes>>, FleetError>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| FleetError::Protocol(e.to_string()))?;
    // The connection task ends when the sender and the response body are dropped.
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// What "Test connection" found: the agent's own name and version, and the
/// certificate's fingerprint to accept when it is not pinned yet.
#[derive(Debug, Clone, PartialEq, serde::Serialize, ts_rs::TS)]
#[ts(export)]
pub struct Tested {
    pub ok: bool,
    pub message: String,
    /// `AB:CD:…` when the agent presented a certificate that is not pinned.
    pub fingerprint_to_accept: Option<String>,
    pub hostname: Option<String>,
    pub version: Option<String>,
}

/// Asks an agent for its state once, as the settings' "Test connection" does.
pub async fn test_connection(entry: &crate::config::ServerEntry, token: Option<String>) -> Tested {
    let transport = match entry.transport() {
        Ok(t) => t,
        Err((_, m)) => return failed(m),
    };
    let state = match transport {
        crate::config::Transport::Http { url, fingerprint } => {
            let agent = HttpAgent {
                url,
                fingerprint,
                token,
                account: entry.token_account(),
            };
            agent.json(Method::GET, "/api/v1/state").await
        }
        crate::config::Transport::Ssh { .. } => {
            super::ssh::state_once(&super::ssh::SshAgent::new(entry)).await
        }
    };
    match state {
        Ok(v) => match super::AgentState::from_value(v) {
            Ok(s) => Tested {
                ok: true,
                message: format!(
                    "connected: {} reports {}",
                    s.hostname.as_deref().unwrap_or("the agent"),
                    s.status
                ),
                fingerprint_to_accept: None,
                hostname: s.hostname,
                version: s.version,
            },
            Err(e) => failed(FleetError::Protocol(e).to_string()),
        },
        Err(FleetError::NotPinned { served }) => Tested {
            ok: false,
            message: format!("the agent presents a certificate with SHA-256 {served}; accept it if it matches what the agent printed at its first start"),
            fingerprint_to_accept: Some(served),
            hostname: None,
            version: None,
        },
        Err(e) => failed(e.to_string()),
    }
}

fn failed(message: String) -> Tested {
    Tested {
        ok: false,
        message,
        fingerprint_to_accept: None,
        hostname: None,
        version: None,
    }
}

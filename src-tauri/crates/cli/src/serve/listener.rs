//! The accept loop: our own, so every resource a client can hold is bounded. At most
//! [`MAX_CONNECTIONS`] connections are served normally; up to [`OVERFLOW`] more get a
//! short deadline for their request and no keep-alive, so a crowd of idle connections
//! cannot keep `/healthz` (or anyone) out; beyond that a connection is closed at once.
//! Request heads are limited in size (431) and in the time they may take to arrive.

use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::token::Token;
use super::Agent;

pub const MAX_CONNECTIONS: usize = 256;
pub const OVERFLOW: usize = 256;
/// hyper's read buffer, which bounds a request head: larger heads get 431.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Time for a request head to arrive (also how long a kept-alive connection may idle).
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
const OVERFLOW_HEAD_TIMEOUT: Duration = Duration::from_secs(1);
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

pub struct Prepared {
    pub socket: std::net::TcpListener,
    pub tls: Option<Arc<rustls::ServerConfig>>,
    pub token: Token,
}

pub async fn serve(p: Prepared, agent: Agent, cancel: CancellationToken) -> Result<(), String> {
    let listener = tokio::net::TcpListener::from_std(p.socket)
        .map_err(|e| format!("cannot use the listening socket: {e}"))?;
    let acceptor = p.tls.map(tokio_rustls::TlsAcceptor::from);
    let router = super::routes::router(agent);
    let normal = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let overflow = Arc::new(Semaphore::new(OVERFLOW));
    loop {
        let (stream, _) = tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            r = listener.accept() => match r {
                Ok(s) => s,
                Err(e) => {
                    // Out of file descriptors and the like: pause instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let (permit, crowded) = match normal.clone().try_acquire_owned() {
            Ok(p) => (p, false),
            Err(_) => match overflow.clone().try_acquire_owned() {
                Ok(p) => (p, true),
                Err(_) => continue, // dropped: closed at once
            },
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let acceptor = acceptor.clone();
        let cancel = cancel.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let service = TowerToHyperService::new(router);
            match acceptor {
                None => connection(stream, service, crowded, cancel).await,
                Some(a) => {
                    let limit = if crowded {
                        OVERFLOW_HEAD_TIMEOUT
                    } else {
                        TLS_HANDSHAKE_TIMEOUT
                    };
                    if let Ok(Ok(tls)) = tokio::time::timeout(limit, a.accept(stream)).await {
                        connection(tls, service, crowded, cancel).await;
                    }
                }
            }
        });
    }
}

async fn connection<S>(
    stream: S,
    service: TowerToHyperService<axum::Router>,
    crowded: bool,
    cancel: CancellationToken,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .max_buf_size(MAX_HEAD_BYTES)
        .header_read_timeout(if crowded {
            OVERFLOW_HEAD_TIMEOUT
        } else {
            HEAD_TIMEOUT
        })
        .keep_alive(!crowded);
    let stream = super::deadline::WriteDeadline::new(stream, super::deadline::WRITE_STALL);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = cancel.cancelled() => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(Duration::from_secs(2), conn).await;
        }
    }
}

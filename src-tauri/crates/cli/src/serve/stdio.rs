//! `serve --stdio`: the same API as JSON lines on stdin/stdout, for
//! `ssh -T user@host headroom-cli serve --stdio` (ssh authenticated the user, so no
//! token). A request `{"id":1,"method":"GET","path":"/api/v1/state"}` is answered by
//! `{"id":1,"status":200,"body":…}` through the very router the HTTP listener uses;
//! `GET /api/v1/events` subscribes, after which events arrive as
//! `{"event":"tick","data":…}` lines. Lines are bounded ([`MAX_LINE`]); so is what
//! waits to be written, and a subscriber that falls behind is unsubscribed and told.

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::sync::{broadcast::error::RecvError, mpsc, Semaphore};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use super::Agent;

/// Longest request line accepted.
pub const MAX_LINE: usize = 64 * 1024;
/// Largest response body passed on (a year of history for a few series fits).
const MAX_RESPONSE: usize = 16 * 1024 * 1024;
/// Requests served at once; more wait their turn.
const CONCURRENT: usize = 8;

#[derive(Deserialize)]
struct Req {
    id: Value,
    #[serde(default = "get")]
    method: String,
    path: String,
}

fn get() -> String {
    "GET".into()
}

pub async fn serve(agent: Agent, cancel: CancellationToken) -> Result<(), String> {
    let (out_tx, mut out_rx) = mpsc::channel::<String>(256);
    let writer = tokio::spawn(async move {
        let mut stdout = tokio::io::stdout();
        while let Some(line) = out_rx.recv().await {
            if stdout.write_all(line.as_bytes()).await.is_err()
                || stdout.write_all(b"\n").await.is_err()
                || stdout.flush().await.is_err()
            {
                break;
            }
        }
    });
    let router = super::routes::router(agent.clone());
    let slots = Arc::new(Semaphore::new(CONCURRENT));
    let mut lines = BoundedLines::new(tokio::io::stdin());
    let mut subscribed = false;
    loop {
        let line = tokio::select! {
            _ = cancel.cancelled() => break,
            l = lines.next_line() => l,
        };
        let line = match line {
            None => break, // stdin closed: the ssh session ended
            Some(Ok(Line::Text(l))) => l,
            Some(Ok(Line::TooLong)) => {
                let _ = out_tx
                    .send(reply(
                        &Value::Null,
                        413,
                        json!({"error": format!("request line longer than {MAX_LINE} bytes")}),
                    ))
                    .await;
                continue;
            }
            Some(Err(e)) => return Err(format!("reading stdin: {e}")),
        };
        if line.trim().is_empty() {
            continue;
        }
        let req: Req = match serde_json::from_str(&line) {
            Ok(r) => r,
            Err(e) => {
                let _ = out_tx
                    .send(reply(
                        &Value::Null,
                        400,
                        json!({"error": format!("not a request: {e}")}),
                    ))
                    .await;
                continue;
            }
        };
        if req.method.eq_ignore_ascii_case("GET") && req.path == "/api/v1/events" {
            if !subscribed {
                subscribed = true;
                tokio::spawn(forward_events(agent.clone(), out_tx.clone()));
            }
            let _ = out_tx
                .send(reply(&req.id, 200, json!({"subscribed": true})))
                .await;
            continue;
        }
        let Ok(permit) = slots.clone().acquire_owned().await else {
            break;
        };
        let router = router.clone();
        let out = out_tx.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let line = call(router, &req).await;
            let _ = out.send(line).await;
        });
    }
    drop(out_tx);
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), writer).await;
    Ok(())
}

fn reply(id: &Value, status: u16, body: Value) -> String {
    json!({"id": id, "status": status, "body": body}).to_string()
}

async fn call(router: axum::Router, req: &Req) -> String {
    let request = Request::builder()
        .method(req.method.to_ascii_uppercase().as_str())
        .uri(req.path.as_str())
        .body(Body::empty());
    let request = match request {
        Ok(r) => r,
        Err(e) => return reply(&req.id, 400, json!({"error": e.to_string()})),
    };
    let response = match router.oneshot(request).await {
        Ok(r) => r,
        Err(e) => match e {},
    };
    let status = response.status().as_u16();
    let limited = http_body_util::Limited::new(response.into_body(), MAX_RESPONSE);
    let body = match limited.collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return reply(&req.id, 500, json!({"error": e.to_string()})),
    };
    let body = serde_json::from_slice::<Value>(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    reply(&req.id, status, body)
}

async fn forward_events(agent: Agent, out: mpsc::Sender<String>) {
    let mut rx = agent.events.subscribe();
    if let Some(t) = agent.monitor.latest() {
        let line = json!({"event": "tick", "data": super::state_of(&t)}).to_string();
        if out.send(line).await.is_err() {
            return;
        }
    }
    loop {
        match rx.recv().await {
            Ok(e) => {
                let data: Value = serde_json::from_str(&e.data).unwrap_or(Value::Null);
                let line = json!({"event": e.kind.as_str(), "data": data}).to_string();
                if out.send(line).await.is_err() {
                    return;
                }
            }
            Err(RecvError::Lagged(n)) => {
                let line = json!({"event": "error", "data": format!("fell {n} events behind and was unsubscribed; subscribe again")}).to_string();
                let _ = out.send(line).await;
                return;
            }
            Err(RecvError::Closed) => return,
        }
    }
}

enum Line {
    Text(String),
    /// A line over [`MAX_LINE`], skipped to its end.
    TooLong,
}

/// Lines of at most [`MAX_LINE`] bytes; a longer one is skipped (never held whole) and
/// reported, and reading goes on with the next.
struct BoundedLines<R> {
    reader: BufReader<R>,
}

impl<R: AsyncRead + Unpin> BoundedLines<R> {
    fn new(r: R) -> Self {
        BoundedLines {
            reader: BufReader::new(r),
        }
    }

    async fn next_line(&mut self) -> Option<std::io::Result<Line>> {
        let mut line = Vec::new();
        let mut too_long = false;
        loop {
            let buf = match self.reader.fill_buf().await {
                Ok(b) => b,
                Err(e) => return Some(Err(e)),
            };
            if buf.is_empty() {
                // End of input: a last line without its newline still counts.
                return match (too_long, line.is_empty()) {
                    (true, _) => Some(Ok(Line::TooLong)),
                    (false, true) => None,
                    (false, false) => {
                        Some(Ok(Line::Text(String::from_utf8_lossy(&line).into_owned())))
                    }
                };
            }
            let (chunk, done) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (&buf[..i], Some(i + 1)),
                None => (buf, None),
            };
            if !too_long {
                if line.len() + chunk.len() > MAX_LINE {
                    too_long = true;
                    line = Vec::new();
                } else {
                    line.extend_from_slice(chunk);
                }
            }
            let used = done.unwrap_or(buf.len());
            self.reader.consume(used);
            if done.is_some() {
                return Some(Ok(if too_long {
                    Line::TooLong
                } else {
                    Line::Text(String::from_utf8_lossy(&line).into_owned())
                }));
            }
        }
    }
}

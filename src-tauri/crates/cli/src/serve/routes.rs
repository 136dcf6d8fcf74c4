//! The HTTP API: routes, the bearer-token check, and the bounds every request gets
//! (body size, time). Unknown paths are 404 without asking for a token (a 404 says
//! nothing about the server); known ones answer 401 without the token, and no data.

use std::collections::BTreeSet;
use std::time::Duration;

use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::events::Kind;
use super::Agent;

/// Request bodies: the API takes none worth more than this.
pub const MAX_BODY_BYTES: u64 = 64 * 1024;
/// A request's answer must start within this (a probe run included).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How long `POST /api/v1/probe` waits for the targets' results.
const PROBE_WAIT: Duration = Duration::from_secs(45);
/// `/api/v1/history` bounds: names per request, a name's length, the span.
const MAX_NAMES: usize = 32;
const MAX_NAME_LEN: usize = 64;
const MAX_SPAN_S: f64 = 400.0 * 86_400.0;

pub fn router(agent: Agent) -> Router {
    let protected = Router::new()
        .route("/api/v1/state", get(state))
        .route("/api/v1/probe", post(probe))
        .route("/api/v1/history", get(history))
        .route("/api/v1/events", get(super::sse::events))
        .route("/metrics", get(super::metrics::serve))
        .route_layer(middleware::from_fn_with_state(agent.clone(), auth));
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .merge(protected)
        .layer(middleware::from_fn(bounds))
        .with_state(agent)
}

/// 413 for a body over the limit (or one of unknown length: the API streams none in),
/// and a deadline for the answer to start.
async fn bounds(req: Request, next: Next) -> Response {
    let h = req.headers();
    let length = h
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if length.is_some_and(|l| l > MAX_BODY_BYTES) || h.contains_key(header::TRANSFER_ENCODING) {
        return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n").into_response();
    }
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(req)).await {
        Ok(r) => r,
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "timed out\n").into_response(),
    }
}

async fn auth(State(agent): State<Agent>, req: Request, next: Next) -> Response {
    let public = agent.metrics_public && req.uri().path() == "/metrics";
    // The stdio transport has no token: ssh authenticated the user.
    let ok = match &agent.token {
        None => true,
        Some(t) => {
            public
                || t.accepts(
                    req.headers()
                        .get(header::AUTHORIZATION)
                        .map(|v| v.as_bytes()),
                )
        }
    };
    if ok {
        next.run(req).await
    } else {
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "",
        )
            .into_response()
    }
}

fn not_yet() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, "5")],
        Json(json!({"error": "the monitor has not finished its first reading yet"})),
    )
        .into_response()
}

async fn state(State(agent): State<Agent>) -> Response {
    match agent.monitor.latest() {
        Some(tick) => Json(super::state_of(&tick)).into_response(),
        None => not_yet(),
    }
}

/// Probe now on the agent: start every target (unless just probed, or probing) and
/// answer the results that arrive, one per target, within [`PROBE_WAIT`].
async fn probe(State(agent): State<Agent>) -> Response {
    use headroom_engine::probe::ProbeNow;
    // Subscribe first: a fast result must not slip by before we listen.
    let mut rx = agent.events.subscribe();
    // Targets that probed less than the debounce ago are not probed again: their
    // result is the answer. Looked at before asking; our clock for a result starts
    // after the scheduler's, so every target not counted fresh here does probe anew
    // and is waited for (one counted fresh may probe too; its answer is < 2 s old).
    let mut probes = Vec::new();
    let mut waiting: BTreeSet<&str> = BTreeSet::new();
    {
        let latest = headroom_engine::lock::lock(&agent.latest_probes);
        for name in agent.probe_names.iter() {
            match latest.get(name) {
                Some((at, data)) if at.elapsed() < headroom_engine::probe::DEBOUNCE => {
                    if let Ok(v) = serde_json::from_str::<Value>(data) {
                        probes.push(v);
                    }
                }
                _ => {
                    waiting.insert(name);
                }
            }
        }
    }
    let started = agent.monitor.probe_now();
    if matches!(started, ProbeNow::NoTargets) {
        return Json(json!({"started": "no_targets", "probes": []})).into_response();
    }
    let deadline = tokio::time::Instant::now() + PROBE_WAIT;
    while !waiting.is_empty() {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Ok(e)) if e.kind == Kind::Probe => {
                // One result per target: one already answered above is not repeated.
                let wanted = e.probe_name.as_deref().is_some_and(|n| waiting.remove(n));
                if wanted {
                    if let Ok(v) = serde_json::from_str::<Value>(&e.data) {
                        probes.push(v);
                    }
                }
            }
            Ok(Ok(_)) | Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {}
            Ok(Err(_)) | Err(_) => break,
        }
    }
    let started = match started {
        ProbeNow::AlreadyRunning => "already_running",
        ProbeNow::Debounced => "debounced",
        _ => "started",
    };
    Json(json!({
        "started": started,
        "probes": probes,
        "missing": waiting,
    }))
    .into_response()
}

#[derive(Deserialize)]
struct HistoryQuery {
    names: Option<String>,
    from: Option<f64>,
    to: Option<f64>,
}

fn bad_request(msg: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": msg}))).into_response()
}

async fn history(
    State(agent): State<Agent>,
    q: Result<Query<HistoryQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(q)) = q else {
        return bad_request("names=a,b&from=TS&to=TS (Unix seconds) expected".into());
    };
    let now = headroom_engine::time::unix_now();
    let to = q.to.unwrap_or(now);
    let from = q.from.unwrap_or(to - 3600.0);
    if !from.is_finite() || !to.is_finite() || from > to {
        return bad_request("from and to must be Unix seconds with from <= to".into());
    }
    if to - from > MAX_SPAN_S {
        return bad_request(format!(
            "the span may be at most {} days",
            MAX_SPAN_S / 86_400.0
        ));
    }
    let names: Vec<String> = q
        .names
        .as_deref()
        .unwrap_or("")
        .split(',')
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .collect();
    if names.len() > MAX_NAMES {
        return bad_request(format!("at most {MAX_NAMES} names"));
    }
    if let Some(n) = names.iter().find(|n| {
        n.len() > MAX_NAME_LEN
            || !n
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.:-".contains(&b))
    }) {
        return bad_request(format!(
            "not a metric name: {:?}",
            n.chars().take(MAX_NAME_LEN).collect::<String>()
        ));
    }
    let history = agent.history.clone();
    let job = tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        history.range(from, to, &refs)
    });
    match job.await {
        Ok(Ok(batch)) => Json(batch).into_response(),
        Ok(Err(e)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"error": e.to_string()})),
        )
            .into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"error": e.to_string()})),
        )
            .into_response(),
    }
}

/// Whether the scraper asked for OpenMetrics.
pub fn wants_openmetrics(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/openmetrics-text"))
}

//! `GET /api/v1/events`: Server-Sent Events. The current state first, then every
//! `tick`, `transition` and `probe` as it happens, and a comment every 15 s so proxies
//! and clients see the connection is alive. Each client reads from the bounded
//! broadcast; one that falls behind by [`super::events::CAPACITY`] events (it stopped
//! reading, its network is too slow) is disconnected rather than buffered for.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use tokio::sync::broadcast::error::RecvError;

use super::Agent;

pub const HEARTBEAT: Duration = Duration::from_secs(15);

pub async fn events(
    State(agent): State<Agent>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let rx = agent.events.subscribe();
    let first = agent.monitor.latest().map(|t| {
        Event::default()
            .event("tick")
            .data(super::state_of(&t).to_string())
    });
    let live = stream::unfold(rx, |mut rx| async move {
        match rx.recv().await {
            Ok(e) => {
                let ev = Event::default().event(e.kind.as_str()).data(&*e.data);
                Some((Ok(ev), rx))
            }
            Err(RecvError::Lagged(n)) => {
                tracing::info!("an event client fell {n} events behind; disconnecting it");
                None
            }
            Err(RecvError::Closed) => None,
        }
    });
    let head = stream::iter(first.map(Ok));
    Sse::new(futures_util::StreamExt::chain(head, live))
        .keep_alive(KeepAlive::new().interval(HEARTBEAT).text("heartbeat"))
}

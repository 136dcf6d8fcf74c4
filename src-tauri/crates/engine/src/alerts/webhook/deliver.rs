//! Delivery off the monitor's thread: one worker thread per webhook drives its
//! [`Outbox`] — it sends with a [`Transport`], waits out the backoff, and logs an
//! outage once when it starts and once when it ends. The notifier side only queues.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::outbox::{Event, Next, Outbox, Retry};
use super::payload::Request;
use crate::lock::lock;

/// Sends one request; an error is a sentence without the URL's path (which may be a
/// credential) and without the token.
pub trait Transport: Send + 'static {
    fn send(&mut self, request: &Request) -> Result<(), String>;
}

struct State {
    outbox: Outbox<Request>,
    closed: bool,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

/// The queue's producer side; dropping it ends the worker (what is still queued is
/// dropped with the process).
pub struct Queue {
    shared: Arc<Shared>,
}

impl Queue {
    /// Starts the worker thread for the webhook called `name` at `origin`.
    pub fn spawn(
        name: String,
        origin: String,
        transport: impl Transport,
        capacity: usize,
        retry: Retry,
    ) -> std::io::Result<Queue> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                outbox: Outbox::new(capacity, retry),
                closed: false,
            }),
            wake: Condvar::new(),
        });
        let worker = shared.clone();
        std::thread::Builder::new()
            .name(format!("webhook {name}"))
            .spawn(move || run(&worker, transport, &name, &origin))?;
        Ok(Queue { shared })
    }

    pub fn push(&self, request: Request) {
        lock(&self.shared.state).outbox.push(request);
        self.shared.wake.notify_one();
    }
}

impl Drop for Queue {
    fn drop(&mut self) {
        lock(&self.shared.state).closed = true;
        self.shared.wake.notify_one();
    }
}

fn run(shared: &Shared, mut transport: impl Transport, name: &str, origin: &str) {
    loop {
        let pending = {
            let mut st = lock(&shared.state);
            loop {
                if st.closed {
                    return;
                }
                match st.outbox.next(Instant::now()) {
                    Next::Send(p) => break p,
                    Next::Wait(d) => {
                        st = shared
                            .wake
                            .wait_timeout(st, d)
                            .map(|(g, _)| g)
                            .unwrap_or_else(|e| e.into_inner().0);
                    }
                    Next::Idle => {
                        st = shared.wake.wait(st).unwrap_or_else(|e| e.into_inner());
                    }
                }
            }
        };
        let result = transport.send(&pending.item);
        let event = lock(&shared.state)
            .outbox
            .report(pending, result, Instant::now());
        match event {
            Some(Event::Down { reason }) => tracing::warn!(
                "webhook {name} ({origin}): cannot deliver an alert ({reason}); retrying with backoff until it answers"
            ),
            Some(Event::Up {
                failed_tries,
                down_for,
                dropped,
            }) => tracing::warn!(
                "webhook {name} ({origin}): delivering again after {} s and {failed_tries} failed tries{}",
                down_for.as_secs(),
                if dropped > 0 {
                    format!("; {dropped} alert(s) were dropped meanwhile")
                } else {
                    String::new()
                }
            ),
            None => {}
        }
    }
}

/// The real transport: ureq, with a timeout on the whole request, no redirects, and
/// the bearer token read from the OS keyring when the webhook asks for one.
pub struct Http {
    agent: ureq::Agent,
    url: String,
    origin: String,
    token: Token,
}

/// Where the bearer token comes from.
pub enum Token {
    None,
    /// Looked up (through the host's tokio runtime) until found, then kept.
    Keyring {
        account: String,
        runtime: Option<tokio::runtime::Handle>,
        found: Option<String>,
    },
}

impl Http {
    pub fn new(url: String, origin: String, timeout: Duration, token: Token) -> Http {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .max_redirects(0)
            .http_status_as_error(false)
            .user_agent(concat!("headroom/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        Http {
            agent,
            url,
            origin,
            token,
        }
    }

    fn bearer(&mut self) -> Result<Option<String>, String> {
        match &mut self.token {
            Token::None => Ok(None),
            Token::Keyring { found: Some(t), .. } => Ok(Some(t.clone())),
            Token::Keyring {
                account,
                runtime,
                found,
            } => {
                let Some(rt) = runtime else {
                    return Err("no runtime to read the OS keyring with".into());
                };
                let t = rt
                    .block_on(crate::probe::secret::lookup(account))
                    .map_err(|e| e.to_string())?;
                *found = Some(t.clone());
                Ok(Some(t))
            }
        }
    }
}

impl Transport for Http {
    fn send(&mut self, r: &Request) -> Result<(), String> {
        let token = self.bearer()?;
        let mut req = self.agent.post(&r.url);
        for (k, v) in &r.headers {
            req = req.header(k, v);
        }
        if let Some(t) = token {
            req = req.header("Authorization", &format!("Bearer {t}"));
        }
        match req.send(&r.body[..]) {
            Ok(resp) if resp.status().is_success() => Ok(()),
            Ok(resp) => Err(format!("HTTP {}", resp.status().as_u16())),
            // ureq's errors may quote the URL; only its origin is said.
            Err(e) => Err(e.to_string().replace(&self.url, &self.origin)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// Fails the first `fail` sends, then records what it is given.
    struct Flaky {
        fail: u32,
        tries: Arc<Mutex<Vec<Instant>>>,
        delivered: mpsc::Sender<Vec<u8>>,
    }

    impl Transport for Flaky {
        fn send(&mut self, r: &Request) -> Result<(), String> {
            lock(&self.tries).push(Instant::now());
            if self.fail > 0 {
                self.fail -= 1;
                return Err("connection refused".into());
            }
            let _ = self.delivered.send(r.body.clone());
            Ok(())
        }
    }

    fn req(body: &str) -> Request {
        Request {
            url: "http://127.0.0.1:9/x".into(),
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn the_worker_retries_with_backoff_and_delivers_in_order() {
        let (tx, rx) = mpsc::channel();
        let tries = Arc::new(Mutex::new(Vec::new()));
        let retry = Retry {
            first: Duration::from_millis(20),
            max_delay: Duration::from_millis(80),
            max_tries: 10,
        };
        let q = Queue::spawn(
            "t".into(),
            "http://127.0.0.1:9".into(),
            Flaky {
                fail: 4,
                tries: tries.clone(),
                delivered: tx,
            },
            8,
            retry,
        )
        .expect("worker");
        let t0 = Instant::now();
        q.push(req("a"));
        q.push(req("b"));
        let got: Vec<Vec<u8>> = (0..2)
            .map(|_| rx.recv_timeout(Duration::from_secs(5)).expect("delivered"))
            .collect();
        assert_eq!(got, [b"a".to_vec(), b"b".to_vec()]);
        let tries = lock(&tries).clone();
        assert_eq!(tries.len(), 6, "4 failures, then a and b");
        // Waits of 20, 40, 80, 80 ms between the failed tries (at least).
        let gaps: Vec<Duration> = tries.windows(2).map(|w| w[1] - w[0]).collect();
        for (gap, want) in gaps.iter().zip([20, 40, 80, 80]) {
            assert!(*gap >= Duration::from_millis(want), "{gaps:?}");
        }
        assert!(t0.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn a_request_to_a_closed_port_fails_fast_with_only_the_origin() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        let url = format!("http://127.0.0.1:{port}/secret-topic");
        let mut h = Http::new(
            url.clone(),
            format!("http://127.0.0.1:{port}"),
            Duration::from_secs(2),
            Token::None,
        );
        let t0 = Instant::now();
        let err = h.send(&req("x")).expect_err("nothing listens");
        assert!(t0.elapsed() < Duration::from_secs(3));
        assert!(!err.contains("secret-topic"), "{err}");
    }

    #[test]
    fn a_silent_endpoint_times_out() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().expect("addr").port();
        // Accepts (the kernel's backlog) and never answers.
        let mut h = Http::new(
            format!("http://127.0.0.1:{port}/"),
            String::new(),
            Duration::from_millis(500),
            Token::None,
        );
        let t0 = Instant::now();
        assert!(h.send(&req("x")).is_err());
        let took = t0.elapsed();
        assert!(took < Duration::from_secs(3), "{took:?}");
        drop(l);
    }
}

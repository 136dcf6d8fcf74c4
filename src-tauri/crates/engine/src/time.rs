//! Time as the engine sees it: Unix seconds ([`Ts`]), the one `unix_now()`, and the
//! [`Clock`] the monitor reads (tests pass [`TokioClock`] so paused time is coherent).
//! A leaf module: every other module may use it.

/// Unix time in seconds.
pub type Ts = f64;

/// Now, in Unix seconds (0 if the system clock is before 1970).
pub fn unix_now() -> Ts {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Wall-clock time for snapshots.
pub trait Clock: Send + Sync {
    fn now(&self) -> Ts;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Ts {
        unix_now()
    }
}

/// Unix time derived from tokio's clock, which follows `tokio::time::pause`/`advance`.
pub struct TokioClock {
    base: Ts,
    start: tokio::time::Instant,
}

impl TokioClock {
    pub fn starting_at(base: Ts) -> Self {
        TokioClock {
            base,
            start: tokio::time::Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> Ts {
        self.base + self.start.elapsed().as_secs_f64()
    }
}

//! Wall time for the scheduler, injectable so tests can run years of schedule on tokio's
//! paused clock.
//!
//! Schedules are wall times (UTC instants from the schedule module), but tokio sleeps on the
//! monotonic clock, which stops while the machine is suspended and does not follow NTP steps.
//! So the daemon never sleeps longer than [`MAX_NAP`] at a time and looks at the wall clock
//! again after each nap: a deadline passed during a suspend fires at most a nap late.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// Longest single sleep before the wall clock is read again.
pub const MAX_NAP: Duration = Duration::from_secs(30);

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// The real wall clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Wall time that follows tokio's clock from a chosen start: with a paused runtime,
/// `tokio::time::advance` (or auto-advance while every task sleeps) moves it too.
pub struct TokioClock {
    start_wall: DateTime<Utc>,
    start: tokio::time::Instant,
}

impl TokioClock {
    pub fn starting_at(start_wall: DateTime<Utc>) -> TokioClock {
        TokioClock {
            start_wall,
            start: tokio::time::Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed = chrono::TimeDelta::from_std(self.start.elapsed()).unwrap_or_default();
        self.start_wall + elapsed
    }
}

/// Sleeps until the wall clock reaches `deadline`, in naps of at most [`MAX_NAP`].
pub async fn sleep_until(clock: &dyn Clock, deadline: DateTime<Utc>) {
    loop {
        let Ok(left) = (deadline - clock.now()).to_std() else {
            return;
        };
        if left.is_zero() {
            return;
        }
        tokio::time::sleep(left.min(MAX_NAP)).await;
    }
}

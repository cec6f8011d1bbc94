//! The daemon's heartbeat: once a minute, the daemon's clock goes into
//! `state_dir/daemon.heartbeat` and the metrics file is rewritten, so `backup_daemon_heartbeat_timestamp_seconds` ages when the
//! daemon dies, even though the metrics file it left behind is still scraped.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::{Interval, MissedTickBehavior};

use super::clock::Clock;
use super::context::Shared;
use super::runner::Runner;
use crate::config::Config;
use crate::report::{heartbeat, metrics};

pub const EVERY: Duration = Duration::from_secs(60);

/// Ticks at once, then every [`EVERY`]; a tick missed while the machine slept is not repeated.
pub fn interval() -> Interval {
    let mut i = tokio::time::interval(EVERY);
    i.set_missed_tick_behavior(MissedTickBehavior::Delay);
    i
}

pub fn beat<R: Runner, C: Clock>(sh: &Shared<R, C>, config: Arc<Config>) {
    let (dir, now) = (sh.state_dir.clone(), sh.clock.now());
    // Not awaited: the state file's flock and the fsyncs run on the blocking pool, never on a
    // worker thread the timers and signals need; metrics::write orders concurrent writers.
    drop(tokio::task::spawn_blocking(move || {
        if let Err(e) = heartbeat::write(&dir, now) {
            tracing::warn!("{e}");
        }
        metrics::refresh(&config, &dir);
    }));
}

/// [`metrics::refresh`] on the blocking pool, not awaited (see [`beat`]).
pub fn refresh_metrics(config: Arc<Config>, dir: PathBuf) {
    drop(tokio::task::spawn_blocking(move || {
        metrics::refresh(&config, &dir)
    }));
}

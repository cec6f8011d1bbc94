//! What every job timer shares: the runner, the clock, the concurrency slots, each job's turn
//! (a run and a verification of one job never overlap), the state file, the status board, and
//! the two stop signals (stop starting runs; cancel running ones).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::sync::{Semaphore, watch};

use super::board::Board;
use super::clock::Clock;
use super::runner::Runner;
use crate::config::Config;
use crate::report::files::off_runtime;
use crate::report::metrics;

pub struct Shared<R, C> {
    pub runner: R,
    pub clock: C,
    /// `max_concurrent_jobs` permits.
    pub slots: Arc<Semaphore>,
    /// Per job: held by its run or its verification.
    pub turns: Mutex<BTreeMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Fixed at start-up: moving the state under a running daemon would split its history.
    pub state_dir: PathBuf,
    pub board: Board,
    /// true: start no new run (jitter, slot and retry waits end at once).
    pub stopping: watch::Receiver<bool>,
    /// true: cancel runs in progress (shutdown_timeout is over).
    pub cancel: watch::Receiver<bool>,
}

impl<R: Runner, C: Clock> Shared<R, C> {
    pub fn is_stopping(&self) -> bool {
        *self.stopping.borrow()
    }

    /// Resolves once the daemon is stopping.
    pub async fn stopped(&self) {
        let mut rx = self.stopping.clone();
        let _ = rx.wait_for(|s| *s).await;
    }

    /// Resolves once running jobs must be cancelled.
    pub async fn cancelled(&self) {
        let mut rx = self.cancel.clone();
        let _ = rx.wait_for(|c| *c).await;
    }

    /// The job's turn, to lock before taking a slot.
    pub fn gate(&self, job: &str) -> Arc<tokio::sync::Mutex<()>> {
        // Poisoning cannot leave the map inconsistent (an insert is the only change).
        let mut turns = self.turns.lock().unwrap_or_else(|p| p.into_inner());
        turns.entry(job.to_string()).or_default().clone()
    }

    /// Writes the state file with `update`, then (given a config) the metrics from it, on the
    /// blocking pool: the state file's flock and fsyncs must not stall the timers, heartbeat
    /// and signals on this runtime. Logged, never fatal: a full disk must not stop backups.
    pub async fn record(
        &self,
        metrics_of: Option<Arc<Config>>,
        update: impl FnOnce(&Path) -> Result<(), String> + Send + 'static,
    ) {
        let dir = self.state_dir.clone();
        let done = off_runtime(move || {
            update(&dir)?;
            if let Some(cfg) = metrics_of {
                metrics::refresh(&cfg, &dir);
            }
            Ok(())
        })
        .await;
        if let Err(e) = done.and_then(|r| r) {
            tracing::warn!("could not update the state file: {e}");
        }
    }
}

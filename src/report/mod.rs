//! What happened, told to the operator: the state file (last results, last scheduled runs)
//! that `backup status` reads and the daemon's catch-up relies on; Prometheus metrics rendered
//! from it; notifications (healthcheck pings, webhooks) about each run; and the ownership of
//! the files it and the job locks write under `state_dir`; the daemon's heartbeat file. It reads a run's result from
//! `crate::outcome` and never imports `job`.

pub mod deliver;
pub mod destinations;
pub mod files;
pub mod heartbeat;
pub mod metrics;
pub mod notify;
pub mod state;

pub use state::{JobState, LastRun, State, Trigger};

/// Records how many committed snapshots a listing or prune found (it feeds
/// `backup_snapshots_total`). A state file problem is logged, never fatal: it must not hide the
/// listing or undo the prune.
pub fn snapshots_seen(cfg: &crate::config::Config, job: &str, count: u64) {
    match state::record_snapshots(&cfg.agent.state_dir, job, count) {
        Ok(()) => metrics::refresh(cfg, &cfg.agent.state_dir),
        Err(e) => tracing::warn!("could not update the state file: {e}"),
    }
}

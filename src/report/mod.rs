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

/// Updates the state file with `update`, then rewrites the metrics from it, both on the
/// blocking pool ([`files::off_runtime`]: the state file's flock and fsyncs). A state file
/// problem is logged, never fatal: it must not fail a backup, hide a listing or undo a prune.
pub async fn record(
    cfg: &crate::config::Config,
    update: impl FnOnce(&std::path::Path) -> Result<(), String> + Send + 'static,
) {
    let cfg = cfg.clone();
    let done = files::off_runtime(move || {
        let r = update(&cfg.agent.state_dir);
        if r.is_ok() {
            metrics::refresh(&cfg, &cfg.agent.state_dir);
        }
        r
    })
    .await;
    if let Err(e) = done.and_then(|r| r) {
        tracing::warn!("could not update the state file: {e}");
    }
}

/// Records how many committed snapshots a listing or prune found (it feeds
/// `backup_snapshots_total`).
pub async fn snapshots_seen(cfg: &crate::config::Config, job: &str, count: u64) {
    let job = job.to_string();
    record(cfg, move |d| state::record_snapshots(d, &job, count)).await;
}

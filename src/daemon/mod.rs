//! `backup daemon`: runs every job on its schedule until SIGTERM.
//!
//! - [`supervisor`]: the main loop (start-up catch-up, reload, shutdown, watchdog);
//! - [`timer`]: one task per job, sleeping until its next scheduled time;
//! - [`fire`]: one scheduled run (jitter, concurrency slot, retries, state file);
//! - [`verify`]: a job's `verify_schedule`; [`heartbeat`]: the once-a-minute sign of life;
//! - [`instance`]: one daemon per `state_dir`;
//! - [`catchup`]: the pure start-up rules; [`clock`]: injectable wall time;
//! - [`runner`]: the seam between the scheduler and `job::run`;
//! - [`board`]: systemd notifications; [`signals`]: SIGHUP/SIGTERM/SIGINT;
//! - [`metrics_http`]: `GET /metrics` on `agent.metrics_listen`.

mod board;
pub mod catchup;
pub mod clock;
mod context;
mod fire;
mod heartbeat;
pub mod instance;
mod metrics_http;
pub mod runner;
mod signals;
pub mod supervisor;
#[cfg(test)]
mod tests;
mod timer;
mod verify;

use std::path::Path;

use crate::config::{self, Config};

pub use clock::{Clock, SystemClock, TokioClock};
pub use runner::{JobRunner, Runner};
pub use signals::listen as listen_for_signals;
pub use supervisor::{Control, serve};

/// Runs the scheduler with the real clock and `job::run` until `control` says stop.
pub async fn run(
    config_path: &Path,
    config: Config,
    control: tokio::sync::mpsc::Receiver<Control>,
) {
    let path = config_path.to_path_buf();
    serve(
        config,
        move || config::load(&path),
        JobRunner,
        SystemClock,
        control,
    )
    .await;
}

//! `backup daemon`: the scheduler in the foreground until SIGTERM/SIGINT; exit 0 when stopped,
//! exit 1 at once when another daemon holds the same `state_dir`.

use std::path::Path;

use super::CliError;
use crate::config::Config;
use crate::daemon::{self, instance};
use crate::report::files::off_runtime;

pub async fn daemon(path: &Path, cfg: Config) -> Result<i32, CliError> {
    // The claim's flock and file writes go to the blocking pool, like every state_dir lock.
    let dir = cfg.agent.state_dir.clone();
    let _instance = off_runtime(move || instance::claim(&dir))
        .await
        .map_err(CliError::Failed)?
        .map_err(|r| CliError::Hinted {
            code: 1,
            message: r.message,
            hint: r.hint,
        })?;
    let control = daemon::listen_for_signals()
        .map_err(|e| CliError::Failed(format!("cannot install signal handlers: {e}")))?;
    daemon::run(path, cfg, control).await;
    Ok(0)
}

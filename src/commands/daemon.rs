//! `backup daemon`: the scheduler in the foreground until SIGTERM/SIGINT; exit 0 when stopped.

use std::path::Path;

use super::CliError;
use crate::config::Config;
use crate::daemon;

pub async fn daemon(path: &Path, cfg: Config) -> Result<i32, CliError> {
    let control = daemon::listen_for_signals()
        .map_err(|e| CliError::Failed(format!("cannot install signal handlers: {e}")))?;
    daemon::run(path, cfg, control).await;
    Ok(0)
}

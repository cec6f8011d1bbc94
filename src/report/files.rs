//! Ownership of the files the agent writes under `state_dir` (state file, metrics, locks), so
//! that whichever user wrote one last, the service user can still open it; making a rename
//! into a directory durable; and doing that file work off the async runtime's worker threads.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// When root writes into the state directory (an operator's `sudo backup run`), the files it
/// creates are given to the directory's owner, so the daemon running as the service user can
/// still open them afterwards. Best effort: an error here only matters later, and says so then.
pub fn adopt_owner(path: &Path, state_dir: &Path) {
    if !nix::unistd::geteuid().is_root() {
        return;
    }
    let Ok(dir) = std::fs::metadata(state_dir) else {
        return;
    };
    if dir.uid() == 0 {
        return;
    }
    let _ = std::os::unix::fs::chown(path, Some(dir.uid()), Some(dir.gid()));
}

/// fsyncs `dir` after a file was renamed into it: the rename lives in the directory, and
/// without this a power cut may bring the old file back although the rename returned.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    fs_err::File::open(dir)?.sync_all()
}

/// Runs `f` on tokio's blocking pool. The flocks (a job's lock, the state file's) may wait for
/// another process and fsync waits for the disk: on a runtime worker thread either would stall
/// every task scheduled there (the daemon's timers, heartbeat, signals, a run's lock refresh).
pub async fn off_runtime<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| format!("a blocking file operation did not finish: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_dir_syncs_a_directory_and_names_one_it_cannot_open() {
        let d = tempfile::tempdir().unwrap();
        sync_dir(d.path()).unwrap();
        let gone = d.path().join("gone");
        let e = sync_dir(&gone).unwrap_err();
        assert!(e.to_string().contains(&*gone.to_string_lossy()), "{e}");
    }
}

//! Ownership of the files the agent writes under `state_dir` (state file, metrics, locks), so
//! that whichever user wrote one last, the service user can still open it.

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

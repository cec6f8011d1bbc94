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

/// Whether [`replace`] waits for the disk.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Durable {
    /// File and directory fsynced: after a power cut the new content or the old, never none.
    Yes,
    /// Left to the kernel: for a file rewritten every minute whose loss a minute repairs.
    No,
}

/// Replaces `target` by a file holding `bytes`, mode `mode` less the umask, owned as [`adopt_owner`] says:
/// written under a name of its own in the same directory and renamed over `target`, so a
/// reader sees the old file or the new one, never half of one, and two writers in one process
/// (a finished run and the heartbeat) never write into each other's temporary file.
pub fn replace(target: &Path, bytes: &[u8], mode: u32, durable: Durable) -> std::io::Result<()> {
    write_then_rename(target, bytes, mode, durable).map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("cannot replace {}: {e}", target.display()),
        )
    })
}

fn write_then_rename(
    target: &Path,
    bytes: &[u8],
    mode: u32,
    durable: Durable,
) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::PermissionsExt;
    let dir = target.parent().unwrap_or(Path::new("."));
    let name = target.file_name().unwrap_or_default().to_string_lossy();
    // A leading dot and no `.prom` end: node_exporter's textfile collector ignores it meanwhile.
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode & !umask()))?;
    if durable == Durable::Yes {
        tmp.as_file().sync_all()?;
    }
    adopt_owner(tmp.path(), dir);
    tmp.persist(target).map_err(|e| e.error)?;
    if durable == Durable::Yes {
        sync_dir(dir)?;
    }
    Ok(())
}

/// The process's umask, read where Linux shows it: setting it to read it back would race with
/// the other threads creating files. 0o077 (the service unit's) when it cannot be read.
fn umask() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("Umask:"))?;
            u32::from_str_radix(line["Umask:".len()..].trim(), 8).ok()
        })
        .unwrap_or(0o077)
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

    #[test]
    fn replace_swaps_the_whole_file_and_leaves_no_temporary_behind() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let target = d.path().join("m.prom");
        std::fs::write(&target, "old").unwrap();
        replace(&target, b"new\n", 0o644, Durable::Yes).unwrap();
        replace(&target, b"newer\n", 0o644, Durable::No).unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "newer\n");
        let mode = std::fs::metadata(&target).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644 & !umask());
        let names: Vec<_> = std::fs::read_dir(d.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn umask_is_the_one_the_process_creates_files_with() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("f");
        std::fs::write(&f, "").unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o666 & !umask());
    }

    #[test]
    fn replace_into_a_missing_directory_fails_and_names_nothing_written() {
        let d = tempfile::tempdir().unwrap();
        let target = d.path().join("no/such/m.prom");
        let e = replace(&target, b"x", 0o644, Durable::Yes).unwrap_err();
        assert!(e.to_string().contains(&*target.to_string_lossy()), "{e}");
        assert!(!target.exists());
    }
}

//! One lock per job in `state_dir/locks/`, shared by the daemon, `backup run` and
//! `backup prune`, so a job never overlaps itself; and the flock-with-holder-file mechanism
//! itself, which the daemon's one-per-state_dir lock (`daemon::instance`) uses too. flock
//! releases the lock when its process dies, so a lock file whose holder is gone is simply
//! taken over (with a warning).

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

use crate::report::files::{adopt_owner, off_runtime};

/// A held lock file; its content names the holder (`pid=... since=... cmd=...`).
pub struct HeldFile {
    lock: Flock<File>,
    pub path: PathBuf,
}

pub struct JobLock {
    _held: HeldFile,
    pub path: PathBuf,
}

#[derive(Debug)]
pub enum LockError {
    /// Another live process holds it; the text says who.
    Held(String),
    Io(String),
}

fn lock_path(state_dir: &Path, job: &str) -> PathBuf {
    state_dir.join("locks").join(format!("{job}.lock"))
}

/// Who holds the lock file at `path` now (its content), if anyone.
pub fn holder_of(path: &Path) -> Option<String> {
    let file = File::open(path).ok()?;
    match Flock::lock(file, FlockArg::LockSharedNonblock) {
        Ok(_) => None,
        Err((mut f, _)) => {
            let mut s = String::new();
            let _ = f.read_to_string(&mut s);
            Some(s.trim().to_string())
        }
    }
}

/// Who holds the job's lock now, if anyone (for `backup status`).
pub fn holder(state_dir: &Path, job: &str) -> Option<String> {
    holder_of(&lock_path(state_dir, job))
}

/// One `key=value` word of a holder text (`pid`, `since`, `cmd`).
pub fn holder_field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.split_whitespace()
        .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
}

/// Takes the exclusive flock on `path` (created as needed, owned like `state_dir`) and writes
/// this process into it. `Err(Held(holder text))` when another live process has it.
pub fn lock_file(path: &Path, state_dir: &Path, wait: bool) -> Result<HeldFile, LockError> {
    // fs-err's errors name the path and the operation.
    let io = |e: std::io::Error| LockError::Io(e.to_string());
    if let Some(dir) = path.parent() {
        fs_err::create_dir_all(dir).map_err(io)?;
        adopt_owner(dir, state_dir);
    }
    let file = fs_err::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(io)?
        .into_file();
    adopt_owner(path, state_dir);
    let arg = if wait {
        FlockArg::LockExclusive
    } else {
        FlockArg::LockExclusiveNonblock
    };
    let mut lock = match Flock::lock(file, arg) {
        Ok(l) => l,
        Err((mut f, _)) => {
            let mut s = String::new();
            let _ = f.read_to_string(&mut s);
            let s = s.trim();
            return Err(LockError::Held(if s.is_empty() {
                "holder unknown".to_string()
            } else {
                s.to_string()
            }));
        }
    };
    let mut previous = String::new();
    let _ = lock.read_to_string(&mut previous);
    if let Some(pid) = holder_field(&previous, "pid").and_then(|p| p.parse::<i32>().ok())
        && pid as u32 != std::process::id()
    {
        tracing::warn!(
            "taking over the lock left by pid {pid}, which is gone ({})",
            path.display()
        );
    }
    let me = format!(
        "pid={} since={} cmd={}\n",
        std::process::id(),
        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        std::env::args().take(3).collect::<Vec<_>>().join(" ")
    );
    let write = |f: &mut File| -> std::io::Result<()> {
        f.set_len(0)?;
        f.rewind()?;
        f.write_all(me.as_bytes())?;
        f.flush()
    };
    write(&mut lock).map_err(io)?;
    Ok(HeldFile {
        lock,
        path: path.to_path_buf(),
    })
}

pub fn acquire(state_dir: &Path, job: &str, wait: bool) -> Result<JobLock, LockError> {
    let path = lock_path(state_dir, job);
    let held = lock_file(&path, state_dir, wait).map_err(|e| match e {
        LockError::Held(who) => LockError::Held(format!(
            "job {job} is already running ({who}); lock file {}",
            path.display()
        )),
        e => e,
    })?;
    Ok(JobLock { _held: held, path })
}

/// [`acquire`] on the blocking pool: flock waits for the holder with `wait`, and even a
/// non-blocking try touches the disk; neither may stall a runtime worker thread that the
/// daemon's timers (or this run's remote-lock refresh) are scheduled on.
pub async fn acquire_off_runtime(
    state_dir: &Path,
    job: &str,
    wait: bool,
) -> Result<JobLock, LockError> {
    let (dir, name) = (state_dir.to_path_buf(), job.to_string());
    off_runtime(move || acquire(&dir, &name, wait))
        .await
        .map_err(LockError::Io)?
}

impl Drop for HeldFile {
    fn drop(&mut self) {
        // An empty file after a clean release: only a crashed holder leaves its pid behind.
        let _ = self.lock.set_len(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    /// flock with `wait` on a runtime thread would stop every other task on it (the daemon's
    /// timers and heartbeat) until the holder lets go.
    #[test]
    fn waiting_for_a_held_job_lock_leaves_the_runtime_free() {
        let dir = tempfile::tempdir().unwrap();
        let held = acquire(dir.path(), "db", false).unwrap();
        let (tx, rx) = mpsc::channel();
        let d = dir.path().to_path_buf();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let waiter =
                    tokio::spawn(async move { acquire_off_runtime(&d, "db", true).await.is_ok() });
                tokio::time::sleep(Duration::from_millis(100)).await;
                tx.send("timer ran").unwrap();
                let got = waiter.await.unwrap();
                tx.send(if got { "locked" } else { "failed" }).unwrap();
            });
        });
        let timeout = Duration::from_secs(10);
        assert_eq!(
            rx.recv_timeout(timeout),
            Ok("timer ran"),
            "the lock wait blocked the runtime's only thread"
        );
        drop(held);
        assert_eq!(rx.recv_timeout(timeout), Ok("locked"));
    }
}

//! A lock on the server for runs and prunes of one history, so two agents with different state
//! directories (two hosts, or two configs on one) never remove each other's `.partial` or race
//! a prune. The lock is `.lock`, created exclusively, holding who took it; the holder rewrites
//! it every minute. It is stale, and taken over with a warning, when it was not refreshed for
//! ten minutes (by this machine's clock: keep clocks within that of each other), or when it was
//! taken on this machine by a process that is gone.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Owner, RepoError, Repository, escape};
use crate::layout;
use crate::remote::{ErrorKind, Remote, read_small, write_small};

const REFRESH_EVERY: Duration = Duration::from_secs(60);
/// `.lock` + this + a unique tail: a stale lock moved aside while it is taken over.
pub(super) const STALE_SUFFIX: &str = ".stale.";
const STALE_AFTER: chrono::TimeDelta = chrono::TimeDelta::minutes(10);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct LockInfo {
    host: String,
    #[serde(default)]
    machine_id: String,
    pid: u32,
    started_at: DateTime<Utc>,
    refreshed_at: DateTime<Utc>,
}

impl LockInfo {
    fn describe(&self) -> String {
        format!(
            "host {} pid {} (since {}, refreshed {})",
            escape(&self.host),
            self.pid,
            self.started_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            self.refreshed_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )
    }

    fn to_json(&self) -> Vec<u8> {
        (serde_json::to_string(self).unwrap_or_default() + "\n").into_bytes()
    }

    /// Why this lock no longer holds, if it does not.
    fn stale(&self, me: &Owner, now: DateTime<Utc>) -> Option<String> {
        if now - self.refreshed_at > STALE_AFTER {
            return Some(format!(
                "not refreshed for over {} minutes",
                STALE_AFTER.num_minutes()
            ));
        }
        let here = me.host == self.host && me.machine_id == self.machine_id;
        if here && (self.pid == std::process::id() || !alive(self.pid)) {
            return Some(format!("its process {} on this machine is gone", self.pid));
        }
        None
    }
}

fn alive(pid: u32) -> bool {
    use nix::sys::signal::kill;
    use nix::unistd::Pid;
    match i32::try_from(pid) {
        Ok(p) if p > 0 => !matches!(kill(Pid::from_raw(p), None), Err(nix::errno::Errno::ESRCH)),
        _ => false,
    }
}

/// Held while a run or prune changes the history; [`RemoteLock::release`] removes it.
pub struct RemoteLock {
    remote: Arc<dyn Remote>,
    path: String,
    refresher: tokio::task::JoinHandle<()>,
    released: bool,
}

impl RemoteLock {
    async fn acquire(repo: &Repository, me: &Owner) -> Result<RemoteLock, RepoError> {
        let remote = repo.remote.clone();
        let path = repo.dir.child(layout::LOCK_FILE);
        let now = Utc::now();
        let info = LockInfo {
            host: me.host.clone(),
            machine_id: me.machine_id.clone(),
            pid: std::process::id(),
            started_at: now,
            refreshed_at: now,
        };
        for _ in 0..3 {
            match remote.create_new(&path, &info.to_json()).await {
                Ok(()) => {
                    let refresher = tokio::spawn(refresh(remote.clone(), path.clone(), info));
                    return Ok(RemoteLock {
                        remote,
                        path,
                        refresher,
                        released: false,
                    });
                }
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                    take_if_stale(repo, remote.as_ref(), &path, me).await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(RepoError::Locked {
            dir: repo.describe(),
            holder: "another agent that keeps taking it".into(),
        })
    }

    /// Removes the lock.
    pub async fn release(mut self) {
        self.refresher.abort();
        self.released = true;
        if let Err(e) = self.remote.remove_file(&self.path).await {
            tracing::warn!(
                "could not remove the lock {}: {e}; it expires by itself",
                self.path
            );
        }
    }
}

impl Drop for RemoteLock {
    fn drop(&mut self) {
        self.refresher.abort();
        // A run cancelled mid-way (timeout, shutdown) drops its lock without releasing it.
        if !self.released
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            let (remote, path) = (self.remote.clone(), self.path.clone());
            rt.spawn(async move {
                let _ = remote.remove_file(&path).await;
            });
        }
    }
}

async fn refresh(remote: Arc<dyn Remote>, path: String, mut info: LockInfo) {
    loop {
        tokio::time::sleep(REFRESH_EVERY).await;
        info.refreshed_at = Utc::now();
        if let Err(e) = write_small(remote.as_ref(), &path, &info.to_json()).await {
            tracing::debug!("refreshing the lock {path} failed: {e}");
        }
    }
}

/// Returns when the lock at `path` was stale and is gone now (or was gone already); fails with
/// `Locked` when someone holds it.
async fn take_if_stale(
    repo: &Repository,
    remote: &dyn Remote,
    path: &str,
    me: &Owner,
) -> Result<(), RepoError> {
    let held = match read_small(remote, path, 64 * 1024).await {
        Ok(b) => b,
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let why = match serde_json::from_slice::<LockInfo>(&held) {
        Ok(info) => match info.stale(me, Utc::now()) {
            Some(why) => format!("held by {}: {why}", info.describe()),
            None => {
                return Err(RepoError::Locked {
                    dir: repo.describe(),
                    holder: info.describe(),
                });
            }
        },
        // Not written by this program (or cut short by a crash): judge it by its age alone.
        Err(_) => match remote.stat(path).await? {
            Some(e)
                if e.mtime
                    .is_some_and(|t| Utc::now().timestamp() - t > STALE_AFTER.num_seconds()) =>
            {
                "an unreadable lock older than ten minutes".to_string()
            }
            Some(_) => {
                return Err(RepoError::Locked {
                    dir: repo.describe(),
                    holder: "an unreadable lock file".into(),
                });
            }
            None => return Ok(()),
        },
    };
    // Move it aside under a name of our own, so that of two agents taking over the same stale
    // lock only one removes it, and neither removes a fresh lock the other made meanwhile.
    let aside = format!(
        "{path}{STALE_SUFFIX}{}.{}",
        std::process::id(),
        Utc::now().timestamp_micros()
    );
    match remote.rename(path, &aside).await {
        Ok(()) => {}
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) => return Err(e.into()),
    }
    let moved = read_small(remote, &aside, 64 * 1024)
        .await
        .unwrap_or_default();
    if moved != held {
        // We moved a fresh lock someone made after our look: put it back.
        let _ = remote.rename(&aside, path).await;
        return Err(RepoError::Locked {
            dir: repo.describe(),
            holder: "another agent that took it a moment ago".into(),
        });
    }
    tracing::warn!("taking over the stale lock {path} ({why})");
    let _ = remote.remove_file(&aside).await;
    Ok(())
}

impl Repository {
    /// Prepares this history to be changed by this machine: refuses when another machine owns
    /// it (unless `take_over`), takes the lock, and records this machine as the owner if none
    /// is. Nothing is written before the ownership check passed.
    pub async fn lock_for_write(
        &self,
        me: &Owner,
        take_over: bool,
    ) -> Result<RemoteLock, RepoError> {
        self.check_owner(me, take_over).await?;
        crate::remote::mkdir_all(self.remote.as_ref(), self.dir.path()).await?;
        let lock = RemoteLock::acquire(self, me).await?;
        match self.claim(me, take_over).await {
            Ok(()) => Ok(lock),
            Err(e) => {
                lock.release().await;
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(host: &str, pid: u32, refreshed: DateTime<Utc>) -> LockInfo {
        LockInfo {
            host: host.into(),
            machine_id: "m".into(),
            pid,
            started_at: refreshed,
            refreshed_at: refreshed,
        }
    }

    #[test]
    fn a_lock_is_stale_when_not_refreshed_or_its_process_is_gone() {
        let me = Owner {
            host: "a".into(),
            machine_id: "m".into(),
            since: None,
            took_over_from: None,
        };
        let now = Utc::now();
        let parent = std::os::unix::process::parent_id();
        // Fresh, on another host: held, whatever its pid.
        assert_eq!(info("b", 1, now).stale(&me, now), None);
        // Fresh, here, by a live process (our parent): held.
        assert_eq!(info("a", parent, now).stale(&me, now), None);
        // Here, by a process that is gone, or by this very process (a dropped run).
        assert!(info("a", u32::MAX - 1, now).stale(&me, now).is_some());
        assert!(info("a", std::process::id(), now).stale(&me, now).is_some());
        // Anywhere, not refreshed for too long.
        let old = now - chrono::TimeDelta::minutes(11);
        assert!(info("b", 1, old).stale(&me, now).is_some());
    }
}

//! One destination of a run: its connection, the history's lock, the pending snapshot, and
//! what became of it. A destination that fails leaves the run with its error; the others go
//! on, and each verifies, commits and prunes on its own.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use super::JobError;
use crate::config::{JobConfig, VerifyMode};
use crate::layout::SnapshotId;
use crate::outcome::DestinationResult;
use crate::remote::{self, Counted, Progressed, Remote};
use crate::repository::{
    Cleared, HashSupport, Owner, Pending, RemoteLock, Repository, next_second, probe_hash,
};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Cleanup {
    /// Nothing failed.
    None,
    /// Remove the `.partial` directory now.
    Remove,
    /// Leave it for inspection (a failed verification).
    Inspect,
    /// The connection is gone or stalled: cleaning up would only wait for timeouts.
    Unreachable,
}

pub(super) struct Target {
    /// The job as seen at this destination (its remote and retention).
    pub job: JobConfig,
    pub repo: Option<Repository>,
    lock: Option<RemoteLock>,
    cleared: Option<Cleared>,
    pub pending: Option<Pending>,
    pub failed: Option<JobError>,
    /// How a failure here is cleaned up (kept apart from `failed`, which the run's error may take).
    cleanup: Cleanup,
    pub result: DestinationResult,
    /// What this destination adds to the run's warnings.
    pub warnings: Vec<String>,
}

impl Target {
    pub fn name(&self) -> &str {
        &self.job.remote.name
    }

    pub fn is_in(&self) -> bool {
        self.failed.is_none()
    }

    pub fn fail(&mut self, e: JobError) {
        if self.failed.is_none() {
            tracing::error!(job = %self.job.name, remote = %self.name(), "{e}");
            self.result.error = Some(e.to_string());
            self.cleanup = match &e {
                JobError::Verify(_) => Cleanup::Inspect,
                e if e.is_transient() => Cleanup::Unreachable,
                _ => Cleanup::Remove,
            };
            self.failed = Some(e);
        }
    }

    /// The repository and pending snapshot of a destination still in the run.
    pub fn writing(&self) -> Option<(&Repository, &Pending)> {
        match (self.is_in(), &self.repo, &self.pending) {
            (true, Some(r), Some(p)) => Some((r, p)),
            _ => None,
        }
    }
}

/// Connects to the destination, takes its lock and clears what crashed runs left there. A
/// failure is kept in the target, not returned.
pub(super) async fn open(
    job: JobConfig,
    me: &Owner,
    counted: Arc<Counted>,
    take_over: bool,
) -> Target {
    let mut t = Target {
        result: DestinationResult {
            remote: job.remote.name.clone(),
            committed: false,
            error: None,
            verified_by: None,
            snapshots: None,
        },
        job,
        repo: None,
        lock: None,
        cleared: None,
        pending: None,
        failed: None,
        cleanup: Cleanup::None,
        warnings: Vec::new(),
    };
    if let Err(e) = connect(&mut t, me, counted, take_over).await {
        t.fail(e);
    }
    t
}

async fn connect(
    t: &mut Target,
    me: &Owner,
    counted: Arc<Counted>,
    take_over: bool,
) -> Result<(), JobError> {
    let remote: Arc<dyn Remote> =
        Arc::new(Progressed::new(remote::open(&t.job.remote).await?, counted));
    let append_only = t.job.remote.append_only;
    let repo = t.repo.insert(
        Repository::new(remote, &t.job.remote.path, &t.job.name).with_append_only(append_only),
    );
    if append_only {
        // No lock: it could not be removed again; the id's mkdir is what two runs race for.
        repo.claim_append(me, take_over).await?;
    } else {
        t.lock = Some(repo.lock_for_write(me, take_over).await?);
        require_remote_hash(&t.job, repo).await?;
    }
    t.cleared = Some(repo.clear().await?);
    Ok(())
}

/// One id free on every destination still in the run, so the copies are recognisably the same
/// snapshot; then each destination's `.partial` directory for it.
pub(super) async fn begin(targets: &mut [Target]) {
    let mut id = SnapshotId::from_time(Utc::now());
    'search: loop {
        for t in targets.iter_mut() {
            let (Some(repo), Some(cleared), true) = (&t.repo, &t.cleared, t.failed.is_none())
            else {
                continue;
            };
            match repo.is_free(cleared, id).await {
                Ok(true) => {}
                Ok(false) => {
                    id = next_second(id).await;
                    continue 'search;
                }
                Err(e) => t.fail(e.into()),
            }
        }
        break;
    }
    for t in targets.iter_mut() {
        let (Some(repo), Some(cleared), true) = (&t.repo, t.cleared.take(), t.failed.is_none())
        else {
            continue;
        };
        match repo.open_pending(cleared, id).await {
            Ok(p) => {
                t.warnings.extend(p.warnings.iter().cloned());
                t.pending = Some(p);
            }
            Err(e) => t.fail(e.into()),
        }
    }
}

/// After the run: a failed destination's `.partial` is removed (or left where that helps or
/// cannot be helped), the lock released and the connection closed.
pub(super) async fn close(t: Target) {
    let Some(repo) = t.repo else { return };
    if let Some(pending) = &t.pending {
        match t.cleanup {
            Cleanup::None => {}
            Cleanup::Inspect => tracing::error!(
                "left {} on the server for inspection; {}",
                pending.path,
                who_cleans(&repo)
            ),
            Cleanup::Unreachable => tracing::warn!(
                "{} stays on the server; {}",
                pending.path,
                who_cleans(&repo)
            ),
            Cleanup::Remove => repo.abandon(pending).await,
        }
    }
    // A lost connection cannot release the lock; it expires (see repository/lock.rs).
    if let Some(lock) = t.lock {
        let _ = tokio::time::timeout(Duration::from_secs(10), lock.release()).await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), repo.remote().close()).await;
}

fn who_cleans(repo: &Repository) -> &'static str {
    if repo.is_append_only() {
        "the server's vault removes it after its grace period"
    } else {
        "the next run removes it"
    }
}

/// `verify = "remote-hash"` on an account that cannot hash would fail only after the whole
/// upload: ask the server first.
async fn require_remote_hash(job: &JobConfig, repo: &Repository) -> Result<(), JobError> {
    if job.verify != VerifyMode::RemoteHash {
        return Ok(());
    }
    match probe_hash(repo.remote().as_ref(), repo.dir().path()).await? {
        HashSupport::Works => Ok(()),
        HashSupport::Unsupported(why) => Err(JobError::CannotHash {
            message: format!(
                "verify = \"remote-hash\", but {} cannot hash files on the server ({why}); nothing was uploaded",
                job.remote.display_addr()
            ),
            hint: format!(
                "set verify = \"auto\" (it reads the files back instead) or \"readback\" for job {} in {}, or allow this account to run openssl or sha256sum on the server",
                job.name,
                job.defined_in.display()
            ),
        }),
    }
}

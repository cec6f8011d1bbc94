//! One job's history on a remote, `<path>/<job>/`: which snapshots are committed (and which are
//! damaged), `latest`, beginning and committing a new snapshot, deleting one, verifying one,
//! who owns the history, and the lock that keeps two agents from changing it at once. Every
//! name read from the server goes through `gate.rs` before it becomes a path.
//!
//! What lives in the job directory:
//! ```text
//! <id>/                 a committed snapshot (holds manifest.json)
//! .<id>.partial/        a run in progress, or left by a crashed one (the next run removes it)
//! .<id>.deleting/       a removal in progress (the next prune finishes it)
//! .owner                which machine writes this history (owner.rs)
//! .lock                 held while a run or prune changes the history (lock.rs)
//! .backup-agent-probe-* a moment before a `remote-hash` run uploads (hash_probe.rs)
//!                       (on an append-only remote, `check --connect`'s scratch directory
//!                       in the base path: append_probe.rs; the vault removes it)
//! ```

mod append;
mod append_probe;
pub mod audit;
mod commit;
mod delete;
mod error;
mod gate;
mod hash_probe;
mod lock;
mod owner;
mod snapshots;
pub mod verify;

use std::sync::Arc;

use crate::layout::{JobDir, Manifest, SnapshotId};
use crate::remote::Remote;

pub use append_probe::{AppendProbe, probe_append_only};
pub use audit::{Audit, Found, Opener, Which};
pub use commit::{Cleared, Pending, next_second};
pub use error::RepoError;
pub use gate::escape;
pub use hash_probe::{HashSupport, probe_hash};
pub use lock::RemoteLock;
pub use owner::Owner;
pub use verify::{FileCheck, SnapshotCheck};

/// A committed snapshot: its id (from its directory name, never from the manifest) and its
/// manifest, which agrees with the id and the job.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub id: SnapshotId,
    pub manifest: Manifest,
}

/// A directory named by an id whose manifest cannot be trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damaged {
    pub id: SnapshotId,
    pub problem: String,
}

/// Everything under `<path>/<job>/` that claims to be a snapshot, oldest first.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    pub snapshots: Vec<Snapshot>,
    pub damaged: Vec<Damaged>,
}

pub struct Repository {
    remote: Arc<dyn Remote>,
    dir: JobDir,
    job: String,
    /// The remote is `append_only` (append.rs): commit in place, remove nothing.
    append_only: bool,
}

impl Repository {
    pub fn new(remote: Arc<dyn Remote>, base: &str, job: &str) -> Repository {
        Repository {
            remote,
            dir: JobDir::new(base, job),
            job: job.to_string(),
            append_only: false,
        }
    }

    /// The history of `job` in the directory `dir` itself, whatever its name: the vault reads
    /// a repository through a directory it holds open (`/proc/self/fd/N`), so nothing the
    /// client renames or links in the meantime changes what is read.
    pub fn pinned(remote: Arc<dyn Remote>, dir: &str, job: &str) -> Repository {
        Repository {
            remote,
            dir: JobDir::at(dir),
            job: job.to_string(),
            append_only: true,
        }
    }

    /// This history is on an `append_only` remote: runs write `<id>/` in place and never
    /// remove or rename; the server's vault seals and rotates (append.rs).
    pub fn with_append_only(mut self, on: bool) -> Repository {
        self.append_only = on;
        self
    }

    pub fn is_append_only(&self) -> bool {
        self.append_only
    }

    pub fn remote(&self) -> &Arc<dyn Remote> {
        &self.remote
    }

    pub fn dir(&self) -> &JobDir {
        &self.dir
    }

    pub fn job(&self) -> &str {
        &self.job
    }

    /// Where the history is, for messages: `user@host:port:/srv/backups/db01/db`.
    pub fn describe(&self) -> String {
        format!("{}:{}", self.remote.describe(), self.dir.path())
    }
}

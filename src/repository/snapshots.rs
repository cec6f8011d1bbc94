//! Which snapshots a history holds: a directory named by an id that holds a manifest which
//! describes that very directory. Shared by `list`, `verify`, `restore`, `cat` and `prune`, so
//! every command agrees on what a snapshot is, on what is damaged, and on what `latest` means.

use super::gate::{check_manifest, escape};
use super::{Damaged, Listing, RepoError, Repository, Snapshot};
use crate::layout::{self, Entry, Manifest, SnapshotId};
use futures::StreamExt;

use crate::remote::{DirEntry, EntryKind, ErrorKind, read_small};

/// Largest manifest we read; anything bigger was not written by this program.
pub(super) const MAX_MANIFEST: u64 = 16 * 1024 * 1024;

/// Manifests read at once: each is three requests on the first channel, pipelined; 16 bound
/// the memory (16 x [`MAX_MANIFEST`] at the very worst) and the server's open handles.
const MANIFESTS_IN_FLIGHT: usize = 16;

impl Repository {
    /// Every directory that claims to be a snapshot, intact or damaged, oldest first. A
    /// directory named by an id without a manifest is not committed and is not listed;
    /// `.partial` and `.deleting` directories are never snapshots. One damaged snapshot does not
    /// hide the others.
    pub async fn listing(&self) -> Result<Listing, RepoError> {
        self.listing_among(self.entries().await?).await
    }

    /// [`listing`](Self::listing) from the history's entries as already listed. The manifests
    /// are read [`MANIFESTS_IN_FLIGHT`] at a time: one after another, a history of 30
    /// snapshots cost 90 round trips after every run (4.5 s at 50 ms).
    pub async fn listing_among(&self, entries: Vec<DirEntry>) -> Result<Listing, RepoError> {
        let mut out = Listing::default();
        let mut dirs = Vec::new();
        for e in entries {
            let id = match Entry::classify(&e.name) {
                Entry::Snapshot(id) => id,
                Entry::Other if !is_bookkeeping(&e.name) => {
                    tracing::warn!(
                        "ignoring \"{}\" in {}: not a name this program writes",
                        escape(&e.name),
                        self.describe()
                    );
                    continue;
                }
                _ => continue,
            };
            if e.kind != EntryKind::Dir {
                out.damaged.push(Damaged {
                    id,
                    problem: format!(
                        "{id} is a {} on the server, not a directory; it is left alone",
                        e.kind.as_str()
                    ),
                });
                continue;
            }
            dirs.push(id);
        }
        let mut read = futures::stream::iter(dirs)
            .map(|id| async move { (id, self.manifest_of(id).await) })
            .buffered(MANIFESTS_IN_FLIGHT);
        while let Some((id, manifest)) = read.next().await {
            match manifest? {
                None => {}
                Some(Ok(manifest)) => out.snapshots.push(Snapshot { id, manifest }),
                Some(Err(problem)) => out.damaged.push(Damaged { id, problem }),
            }
        }
        out.damaged.sort_by_key(|d| d.id);
        for d in &out.damaged {
            tracing::warn!(job = %self.job, "snapshot {} is damaged: {}", d.id, d.problem);
        }
        Ok(out)
    }

    /// The snapshot in `<id>/`: `None` without a manifest (not committed), `Some(Err)` with
    /// the reason its manifest cannot be trusted.
    pub async fn snapshot_at(
        &self,
        id: SnapshotId,
    ) -> Result<Option<Result<Snapshot, String>>, RepoError> {
        Ok(self
            .manifest_of(id)
            .await?
            .map(|m| m.map(|manifest| Snapshot { id, manifest })))
    }

    /// `None`: no manifest (not committed). `Some(Err)`: a manifest that cannot be trusted.
    async fn manifest_of(
        &self,
        id: SnapshotId,
    ) -> Result<Option<Result<Manifest, String>>, RepoError> {
        let path = format!("{}/{}", self.dir.snapshot(id), layout::MANIFEST_FILE);
        // The read looks (no-follow) before it opens, and reads only a regular file.
        let bytes = match read_small(self.remote.as_ref(), &path, MAX_MANIFEST).await {
            Ok(b) => b,
            Err(e) if e.is_transient() => return Err(e.into()),
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Ok(Some(Err(format!("its manifest cannot be read: {e}")))),
        };
        Ok(Some(match Manifest::from_json(&bytes) {
            Ok(m) => check_manifest(&m, &self.job, id).map(|()| m),
            Err(e) => Err(escape(&e)),
        }))
    }

    /// The intact committed snapshots, oldest first (damaged ones are logged).
    pub async fn committed(&self) -> Result<Vec<Snapshot>, RepoError> {
        Ok(self.listing().await?.snapshots)
    }

    /// The id `which` names, `None` for `latest`.
    fn wanted(&self, which: &str) -> Result<Option<SnapshotId>, RepoError> {
        if which == "latest" {
            return Ok(None);
        }
        SnapshotId::parse(which)
            .map(Some)
            .ok_or_else(|| RepoError::NoSnapshot {
                message: format!(
                    "\"{}\" is not a snapshot id (YYYYMMDDTHHMMSSZ) nor `latest`",
                    escape(which)
                ),
                hint: format!("`backup list {}` shows the snapshots", self.job),
            })
    }

    /// The committed snapshot `which` names: an id, or `latest` (the newest intact one; when
    /// newer snapshots are damaged, it says so before using an older one).
    pub async fn resolve(&self, which: &str) -> Result<Snapshot, RepoError> {
        // A name that is no id fails before anything is asked of the server.
        self.wanted(which)?;
        self.resolve_among(which, self.listing().await?)
    }

    /// [`resolve`](Self::resolve) in a listing already made.
    pub fn resolve_among(&self, which: &str, listing: Listing) -> Result<Snapshot, RepoError> {
        let job = &self.job;
        let wanted = self.wanted(which)?;
        let Listing {
            mut snapshots,
            damaged,
        } = listing;
        match wanted {
            None => {
                let found = snapshots.pop().ok_or_else(|| match damaged.last() {
                    // Snapshots exist but none can be trusted: a failure, not a usage error.
                    Some(newest) => RepoError::Refused(format!(
                        "job {job} has no intact snapshot in {}: all {} are damaged, the newest {}: {}",
                        self.describe(),
                        damaged.len(),
                        newest.id,
                        newest.problem
                    )),
                    None => RepoError::NoSnapshot {
                        message: format!(
                            "job {job} has no committed snapshot in {}",
                            self.describe()
                        ),
                        hint: format!("run `backup run {job}` first"),
                    },
                })?;
                for d in damaged.iter().filter(|d| d.id > found.id) {
                    tracing::warn!(
                        "the newest snapshot {} is damaged ({}); using {}, the newest intact one",
                        d.id,
                        d.problem,
                        found.id
                    );
                }
                Ok(found)
            }
            Some(id) => {
                if let Some(d) = damaged.iter().find(|d| d.id == id) {
                    return Err(RepoError::Refused(format!(
                        "snapshot {id} of job {job} is damaged: {}",
                        d.problem
                    )));
                }
                snapshots
                    .into_iter()
                    .find(|s| s.id == id)
                    .ok_or_else(|| RepoError::NoSnapshot {
                        message: format!(
                            "job {job} has no committed snapshot {id} in {}",
                            self.describe()
                        ),
                        hint: format!("`backup list {job}` shows the snapshots"),
                    })
            }
        }
    }
}

/// The job directory's own files (owner record, lock, and their temporary names).
fn is_bookkeeping(name: &str) -> bool {
    name == layout::OWNER_FILE
        || name == layout::LOCK_FILE
        || name == super::owner::OWNER_TMP
        || name
            .strip_prefix(layout::LOCK_FILE)
            .is_some_and(|rest| rest.starts_with(super::lock::STALE_SUFFIX))
}

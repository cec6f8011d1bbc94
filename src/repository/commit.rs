//! Making a snapshot: `begin` cleans up what crashed runs left and opens `.<id>.partial/`;
//! the caller streams its files into it and verifies them; `commit` writes `SHA256SUMS`, then
//! `manifest.json` last, then renames the directory to `<id>`. Where the server cannot rename a
//! directory, the files are moved one by one into `<id>/` and the manifest is written there
//! last: either way a directory named by an id that holds `manifest.json` is complete. (A
//! crash while files are moved leaves `<id>/` without a manifest beside `.<id>.partial/`; the
//! next `begin` removes both.)

use std::time::Duration;

use chrono::Utc;

use super::delete::remove_tree;
use super::{RepoError, Repository};
use crate::layout::{self, Entry, Manifest, SnapshotId};
use crate::remote::{EntryKind, ErrorKind, mkdir_all, write_small};

/// A snapshot being written: its id and its `.partial` directory.
#[derive(Debug, Clone)]
pub struct Pending {
    pub id: SnapshotId,
    pub path: String,
    /// What `begin` found and left alone (a symlink where a `.partial` should be).
    pub warnings: Vec<String>,
}

impl Pending {
    /// Where a stored file of this snapshot goes while it is written.
    pub fn file(&self, name: &str) -> String {
        format!("{}/{name}", self.path)
    }
}

/// What [`Repository::clear`] found: ids in use, and what it left alone.
#[derive(Debug)]
pub struct Cleared {
    pub(super) taken: Vec<SnapshotId>,
    pub(super) warnings: Vec<String>,
}

/// The id of the next second, once the clock has reached it: ids stay plain UTC times.
pub async fn next_second(id: SnapshotId) -> SnapshotId {
    let wait = (id.next().time() - Utc::now())
        .to_std()
        .unwrap_or(Duration::ZERO);
    tokio::time::sleep(wait + Duration::from_millis(5)).await;
    SnapshotId::from_time(Utc::now())
}

impl Repository {
    /// Removes `.partial` directories that crashed runs left behind and opens a new one with a
    /// fresh id. Two runs in the same second wait for the next second, so ids stay plain UTC
    /// times. The caller holds the history's lock.
    pub async fn begin(&self) -> Result<Pending, RepoError> {
        let cleared = self.clear().await?;
        let mut id = SnapshotId::from_time(Utc::now());
        while !self.is_free(&cleared, id).await? {
            id = next_second(id).await;
        }
        self.open_pending(cleared, id).await
    }

    /// The first half of [`begin`](Self::begin), for a run that picks one id free on several
    /// histories: removes what crashed runs left and says which ids are taken here.
    pub async fn clear(&self) -> Result<Cleared, RepoError> {
        if self.append_only {
            return self.survey().await;
        }
        // The listing goes out with the look at the directory, not a round trip after it, and
        // is used only once that look found a directory (or made it: then it listed nothing).
        let (made, listed) = tokio::join!(
            mkdir_all(self.remote.as_ref(), self.dir.path()),
            self.entries()
        );
        made?;
        let (mut taken, mut removed) = (Vec::new(), Vec::new());
        let mut warnings = Vec::new();
        for e in listed? {
            match Entry::classify(&e.name) {
                Entry::Partial(id) => {
                    tracing::info!(
                        "removing {} left by an earlier run that did not finish",
                        self.dir.partial(id)
                    );
                    // First: without its `.partial` beside it, nothing would tell it apart.
                    if self.remove_unfinished(id).await? {
                        removed.push(id);
                    }
                    match self.remove_partial(id).await {
                        Ok(()) => {}
                        // Not ours to remove: say so, and back up all the same.
                        Err(RepoError::Refused(why)) => {
                            tracing::warn!("{why}");
                            warnings.push(why);
                            taken.push(id);
                        }
                        Err(e) => return Err(e),
                    }
                }
                Entry::Snapshot(id) if removed.contains(&id) => {}
                Entry::Snapshot(id) | Entry::Deleting(id) => taken.push(id),
                Entry::Other => {}
            }
        }
        Ok(Cleared { taken, warnings })
    }

    /// Whether a snapshot `id` may be opened here.
    pub async fn is_free(&self, cleared: &Cleared, id: SnapshotId) -> Result<bool, RepoError> {
        Ok(!cleared.taken.contains(&id)
            && self.remote.stat(&self.dir.snapshot(id)).await?.is_none())
    }

    /// The second half of [`begin`](Self::begin): the `.partial` directory of snapshot `id`.
    pub async fn open_pending(
        &self,
        cleared: Cleared,
        id: SnapshotId,
    ) -> Result<Pending, RepoError> {
        let path = if self.append_only {
            self.dir.snapshot(id)
        } else {
            self.dir.partial(id)
        };
        self.remote.mkdir(&path).await?;
        Ok(Pending {
            id,
            path,
            warnings: cleared.warnings,
        })
    }

    /// Commits a verified upload: checksums, the manifest last, then the rename.
    pub async fn commit(&self, pending: &Pending, manifest: &Manifest) -> Result<(), RepoError> {
        let sums: Vec<(String, String)> = manifest
            .files
            .iter()
            .map(|f| (f.name.clone(), f.sha256.clone()))
            .collect();
        let remote = self.remote.as_ref();
        let text = layout::sums::render(&sums);
        write_small(remote, &pending.file(layout::SUMS_FILE), text.as_bytes()).await?;
        let json = manifest.to_json();
        write_small(
            remote,
            &pending.file(layout::MANIFEST_FILE),
            json.as_bytes(),
        )
        .await?;
        if self.append_only {
            // Written in place: the manifest just written is the commit (append.rs).
            return Ok(());
        }
        let target = self.dir.snapshot(pending.id);
        match remote.rename(&pending.path, &target).await {
            Ok(()) => Ok(()),
            // Whether a lost answer means the rename happened is unknown: the next run lists.
            Err(e) if e.is_transient() => Err(e.into()),
            Err(e) => {
                tracing::info!(
                    "the server cannot rename the snapshot directory ({e}); moving its files one by one instead"
                );
                self.move_files(pending, &target, json.as_bytes()).await
            }
        }
    }

    async fn move_files(
        &self,
        pending: &Pending,
        target: &str,
        manifest: &[u8],
    ) -> Result<(), RepoError> {
        let remote = self.remote.as_ref();
        remote.mkdir(target).await?;
        for e in remote.list(&pending.path).await? {
            if e.name == layout::MANIFEST_FILE {
                continue;
            }
            if layout::StoredFile::parse(&e.name).is_none() && e.name != layout::SUMS_FILE {
                return Err(super::RepoError::Refused(format!(
                    "{} holds \"{}\", which this run did not write",
                    pending.path,
                    super::escape(&e.name)
                )));
            }
            remote
                .rename(&pending.file(&e.name), &format!("{target}/{}", e.name))
                .await?;
        }
        let tmp = format!("{target}/.{}.tmp", layout::MANIFEST_FILE);
        write_small(remote, &tmp, manifest).await?;
        remote
            .rename(&tmp, &format!("{target}/{}", layout::MANIFEST_FILE))
            .await?;
        remove_tree(remote, &pending.path).await
    }

    /// A commit that moved its files one by one into `<id>/` and stopped before its manifest
    /// was in place leaves `<id>/` without `manifest.json` beside `.<id>.partial/`: not a
    /// snapshot, and holding only that run's files. True if there was one (removed now).
    async fn remove_unfinished(&self, id: SnapshotId) -> Result<bool, RepoError> {
        let dir = self.dir.snapshot(id);
        match self.remote.stat(&dir).await? {
            Some(e) if e.kind == EntryKind::Dir => {}
            _ => return Ok(false),
        }
        let manifest = format!("{dir}/{}", layout::MANIFEST_FILE);
        if self.remote.stat(&manifest).await?.is_some() {
            return Ok(false);
        }
        tracing::info!("removing {dir}, which an earlier run began to commit file by file");
        remove_tree(self.remote.as_ref(), &dir).await?;
        Ok(true)
    }

    /// Best effort after a failed run: a connection that is gone cannot clean up; the next run
    /// will.
    pub async fn abandon(&self, pending: &Pending) {
        if self.append_only {
            tracing::warn!(
                "left {} (no manifest, so not a snapshot) on the append-only remote: this key may not remove it; the server's vault does after its grace period",
                pending.path
            );
            return;
        }
        let removal = tokio::time::timeout(Duration::from_secs(20), async {
            self.remove_unfinished(pending.id).await?;
            self.remove_partial(pending.id).await
        });
        match removal.await {
            Ok(Ok(())) => tracing::info!("removed {} after the failed run", pending.path),
            Ok(Err(RepoError::Remote(e))) if e.kind() == ErrorKind::NotFound => {}
            _ => tracing::warn!(
                "could not remove {} after the failed run; the next run removes it",
                pending.path
            ),
        }
    }
}

//! Removing what this program wrote: a snapshot is deleted by renaming `<id>` to
//! `.<id>.deleting` (after which it no longer lists as a snapshot), then removing what is
//! really inside it; a `.deleting` left by an interrupted prune is finished by the next one.
//! A symlink, or anything that is not a plain directory, where one of these directories should
//! be is reported and left alone: removal never follows a link off the job directory.

use super::{RepoError, Repository};
use crate::layout::{Entry, SnapshotId};
use crate::remote::{DirEntry, EntryKind, Remote};

/// Deeper than this is not a tree this program wrote (a snapshot is flat).
const MAX_DEPTH: usize = 8;

impl Repository {
    /// Deletes the committed snapshot `id`.
    pub async fn delete(&self, id: SnapshotId) -> Result<(), RepoError> {
        let dir = self.dir.snapshot(id);
        self.expect_dir(&dir).await?;
        let deleting = self.dir.deleting(id);
        self.remote.rename(&dir, &deleting).await?;
        remove_tree(self.remote.as_ref(), &deleting).await
    }

    /// Finishes removals that an interrupted prune began; returns their ids, and what it found
    /// and left alone (a symlink where a `.deleting` directory should be).
    pub async fn finish_deletions(&self) -> Result<(Vec<SnapshotId>, Vec<String>), RepoError> {
        self.finish_deletions_among(&self.entries().await?).await
    }

    /// [`finish_deletions`](Self::finish_deletions) among the history's entries as listed.
    pub async fn finish_deletions_among(
        &self,
        entries: &[DirEntry],
    ) -> Result<(Vec<SnapshotId>, Vec<String>), RepoError> {
        let (mut done, mut left) = (Vec::new(), Vec::new());
        for e in entries {
            if let Entry::Deleting(id) = Entry::classify(&e.name) {
                tracing::info!(
                    "finishing the removal of snapshot {id}, which an earlier prune began"
                );
                let path = self.dir.deleting(id);
                match self.expect_dir(&path).await {
                    Ok(()) => {}
                    Err(RepoError::Refused(why)) => {
                        tracing::warn!("{why}");
                        left.push(why);
                        continue;
                    }
                    Err(e) => return Err(e),
                }
                remove_tree(self.remote.as_ref(), &path).await?;
                done.push(id);
            }
        }
        Ok((done, left))
    }

    /// Removes a `.partial` directory (after a failed run, or one a crashed run left).
    pub async fn remove_partial(&self, id: SnapshotId) -> Result<(), RepoError> {
        let path = self.dir.partial(id);
        self.expect_dir(&path).await?;
        remove_tree(self.remote.as_ref(), &path).await
    }

    /// The history directory's entries; none when it does not exist yet.
    pub async fn entries(&self) -> Result<Vec<DirEntry>, RepoError> {
        match self.remote.list(self.dir.path()).await {
            Ok(e) => Ok(e),
            Err(e) if e.is_not_found() => Ok(Vec::new()),
            Err(e) => Err(e.into()),
        }
    }

    async fn expect_dir(&self, path: &str) -> Result<(), RepoError> {
        match self.remote.stat(path).await? {
            Some(e) if e.kind == EntryKind::Dir => Ok(()),
            Some(e) => Err(RepoError::Refused(format!(
                "{path} is a {} on the server, not a directory this program wrote; it is left alone",
                e.kind.as_str()
            ))),
            None => Err(RepoError::Refused(format!("{path} vanished on the server"))),
        }
    }
}

/// Removes the directory `path` and what is inside it: files and symlinks are unlinked (a link
/// is removed, never followed), directories emptied first.
pub(super) async fn remove_tree(remote: &dyn Remote, path: &str) -> Result<(), RepoError> {
    // (directory, depth, listed already)
    let mut stack = vec![(path.to_string(), 0usize, false)];
    while let Some((dir, depth, listed)) = stack.pop() {
        if listed {
            remote.remove_dir(&dir).await?;
            continue;
        }
        if depth > MAX_DEPTH {
            return Err(RepoError::Refused(format!(
                "{dir} is nested deeper than anything this program writes; it is left alone"
            )));
        }
        stack.push((dir.clone(), depth, true));
        for e in remote.list(&dir).await? {
            if e.name.contains('/') || e.name == "." || e.name == ".." || e.name.is_empty() {
                return Err(RepoError::Refused(format!(
                    "the server listed an entry named \"{}\" in {dir}; nothing more is removed there",
                    super::escape(&e.name)
                )));
            }
            let p = format!("{dir}/{}", e.name);
            match e.kind {
                EntryKind::Dir => stack.push((p, depth + 1, false)),
                _ => remote.remove_file(&p).await?,
            }
        }
    }
    Ok(())
}

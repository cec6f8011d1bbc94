//! A history on an `append_only` remote (DESIGN.md principle 7). The key that writes there
//! must not be able to remove, rename or change a committed snapshot, so a run needs none of
//! that: it claims `<id>/` with a mkdir (which fails when the id is taken, so two agents never
//! share one), writes its files there under their final names, verifies them, and writes
//! `SHA256SUMS` and then `manifest.json` last (commit.rs), which keeps the layout's rule "a
//! snapshot exists iff its directory holds a manifest" without a rename. No remote lock (it
//! could not be removed again) and no prune: the server's `backup vault` seals, checks and
//! rotates, and cleans what a failed run left (`<id>/` without a manifest) after its grace.

use super::{Cleared, Owner, RepoError, Repository};
use crate::layout::Entry;
use crate::remote::{ErrorKind, mkdir_all};

impl Repository {
    /// [`clear`](Self::clear) for an append-only history: which ids are in use. Nothing is
    /// removed; a `.partial` or a manifest-less `<id>/` is the vault's to clean.
    pub(super) async fn survey(&self) -> Result<Cleared, RepoError> {
        let (made, listed) = tokio::join!(
            mkdir_all(self.remote.as_ref(), self.dir.path()),
            self.entries()
        );
        made?;
        let taken = listed?
            .iter()
            .filter_map(|e| match Entry::classify(&e.name) {
                Entry::Snapshot(id) | Entry::Partial(id) | Entry::Deleting(id) => Some(id),
                Entry::Other => None,
            })
            .collect();
        Ok(Cleared {
            taken,
            warnings: Vec::new(),
        })
    }

    /// Prepares an append-only history for a run by `me`: refuses when another machine owns
    /// it, and records `me` as the owner the first time with a create-only write (`.owner`
    /// cannot be replaced there, so `--take-over` is refused with what to do instead).
    pub async fn claim_append(&self, me: &Owner, take_over: bool) -> Result<(), RepoError> {
        let recorded = self.recorded_owner().await?;
        let previous = match self.judge(recorded, me, take_over)? {
            None => return Ok(()),
            Some(previous) => previous,
        };
        if let Some(previous) = previous {
            return Err(RepoError::AppendOnly {
                message: format!(
                    "{} is on an append-only remote and belongs to {previous}: this key may not replace its .owner; nothing was written",
                    self.describe()
                ),
                hint: format!(
                    "on the backup server, the vault's operator replaces {} (or gives this host its own path with {{host}})",
                    self.owner_path()
                ),
            });
        }
        mkdir_all(self.remote.as_ref(), self.dir.path()).await?;
        tracing::info!(
            "recording host {} as the owner of {}",
            me.host,
            self.describe()
        );
        let record = Owner {
            since: Some(chrono::Utc::now()),
            took_over_from: None,
            ..me.clone()
        };
        let json = serde_json::to_string_pretty(&record).unwrap_or_default() + "\n";
        match self
            .remote
            .create_new(&self.owner_path(), json.as_bytes())
            .await
        {
            Ok(()) => Ok(()),
            // Another run recorded itself a moment ago: it must be this machine.
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                match self.judge(self.recorded_owner().await?, me, false)? {
                    None => Ok(()),
                    Some(_) => Err(RepoError::Refused(format!(
                        "{} appeared while this run recorded its owner; nothing was written",
                        self.owner_path()
                    ))),
                }
            }
            Err(e) => Err(e.into()),
        }
    }
}

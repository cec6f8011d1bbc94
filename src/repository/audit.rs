//! One verification of a job's stored history, for `backup verify` and the daemon's
//! `verify_schedule` alike: which snapshots it covers (one, the latest, or all), each checked
//! by [`Repository::check`], and every problem found. What it sees is handed to the caller as
//! it goes (the CLI prints a report line per file; the daemon only logs the verdict).

use super::{Damaged, RepoError, Repository, Snapshot, SnapshotCheck};
use crate::config::VerifyMode;

/// A closer look at an encrypted snapshot than its checksums, by a caller that holds its
/// identity: every file read once, hashed, decrypted and decompressed.
#[async_trait::async_trait]
pub trait Opener: Send + Sync {
    /// Records in `check` (whose sizes and checksum list are checked) every file that does not
    /// open; `Err` when the identity cannot open the snapshot at all.
    async fn open(
        &self,
        repo: &Repository,
        snap: &Snapshot,
        check: &mut SnapshotCheck,
    ) -> Result<(), RepoError>;
}

/// Which snapshots to verify.
#[derive(Debug, Clone, Copy)]
pub enum Which<'a> {
    /// What `latest` would restore, and any damaged snapshot newer than it.
    Latest,
    One(&'a str),
    All,
}

/// What the verification saw, in order.
pub enum Found<'a> {
    Damaged(&'a Damaged),
    Checked(&'a SnapshotCheck),
    /// The job has no snapshot at all on this remote (described).
    Nothing(String),
}

/// The verdict: the snapshots checked and every problem, each prefixed with its snapshot.
#[derive(Debug, Clone, Default)]
pub struct Audit {
    pub checked: Vec<String>,
    pub problems: Vec<String>,
}

impl Repository {
    /// `Err` only when the server cannot be asked (or the snapshot named does not exist);
    /// every finding about stored data is in the [`Audit`].
    pub async fn audit(
        &self,
        which: Which<'_>,
        read: bool,
        opener: Option<&dyn Opener>,
        seen: &mut (dyn FnMut(Found<'_>) + Send),
    ) -> Result<Audit, RepoError> {
        let mut out = Audit::default();
        let mut damaged = |list: &[Damaged], out: &mut Audit| {
            for d in list {
                seen(Found::Damaged(d));
                out.problems.push(format!("{}: {}", d.id, d.problem));
            }
        };
        let snapshots = match which {
            Which::All => {
                let listing = self.listing().await?;
                damaged(&listing.damaged, &mut out);
                listing.snapshots
            }
            Which::One(id) if id != "latest" => vec![self.resolve(id).await?],
            // The newest snapshot is what `latest` would restore: if it is damaged, that is the
            // finding, whatever an older one says.
            _ => {
                let listing = self.listing().await?;
                let all_damaged = listing.damaged.clone();
                let newest = self.resolve_among("latest", listing)?;
                let newer: Vec<_> = all_damaged
                    .into_iter()
                    .filter(|d| d.id > newest.id)
                    .collect();
                damaged(&newer, &mut out);
                vec![newest]
            }
        };
        if snapshots.is_empty() && out.problems.is_empty() {
            seen(Found::Nothing(self.describe()));
        }
        for s in &snapshots {
            let check = match opener {
                // Opening reads (and hashes) every byte: the sizes are all that is left to ask.
                Some(o) if read && s.manifest.is_encrypted() => {
                    let mut check = self.check_by(s, VerifyMode::Size).await?;
                    o.open(self, s, &mut check).await?;
                    check
                }
                _ => self.check(s, read).await?,
            };
            seen(Found::Checked(&check));
            out.checked.push(check.id.clone());
            if !check.is_ok() {
                out.problems.extend(
                    check
                        .problems
                        .iter()
                        .chain(check.files.iter().filter_map(|f| f.problem.as_ref()))
                        .map(|p| format!("{}/{p}", check.id)),
                );
            }
        }
        Ok(out)
    }
}

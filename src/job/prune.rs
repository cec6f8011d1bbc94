//! Applying a retention policy to a history, for `backup prune` and after each successful run:
//! finish removals an interrupted prune began, decide over the intact committed snapshots, and
//! delete what the policy does not keep. Damaged snapshots are listed, never decided on and
//! never deleted by retention. The caller holds the history's lock.

use chrono_tz::Tz;

use super::JobError;
use crate::config::JobConfig;
use crate::layout::SnapshotId;
use crate::outcome::RunReport;
use crate::repository::{Damaged, Repository};
use crate::retention::{self, Decision, Policy};

/// What a prune decided and did.
#[derive(Debug, Default)]
pub struct Pruned {
    /// Newest first, one per intact committed snapshot.
    pub decisions: Vec<Decision>,
    /// Snapshots whose manifest cannot be trusted: kept, and reported.
    pub damaged: Vec<Damaged>,
    /// Leftover `.deleting` directories finished (or, in a dry run, found).
    pub finished: Vec<SnapshotId>,
    /// What was found and left alone: not a directory this program wrote.
    pub warnings: Vec<String>,
    pub removed: usize,
    /// Intact committed snapshots left afterwards (in a dry run: that would be left).
    pub remaining: usize,
}

/// Decides with `policy` over the committed snapshots of `repo` and removes what it does not
/// keep (a dry run hands in a repository over a dry-run remote: the same steps, nothing
/// changed). `protect` is never removed whatever the policy says (the snapshot a run just made,
/// in case a clock skew put a newer id on the server).
pub async fn prune(
    repo: &Repository,
    policy: &Policy,
    tz: Tz,
    protect: Option<SnapshotId>,
) -> Result<Pruned, JobError> {
    // One listing for both: the `.deleting` directories finished are not snapshots.
    let entries = repo.entries().await?;
    let (finished, warnings) = repo.finish_deletions_among(&entries).await?;
    let mut out = Pruned {
        finished,
        warnings,
        ..Pruned::default()
    };
    let listing = repo.listing_among(entries).await?;
    let names: Vec<String> = listing.snapshots.iter().map(|s| s.id.to_string()).collect();
    out.damaged = listing.damaged;
    out.decisions = retention::apply(&names, policy, tz);
    for d in &mut out.decisions {
        if !d.keep && Some(d.id) == protect {
            d.keep = true;
            d.reasons.push("just made".into());
        }
    }
    out.remaining = out.decisions.iter().filter(|d| d.keep).count();
    for d in out.decisions.iter().filter(|d| !d.keep) {
        repo.delete(d.id).await?;
        tracing::info!(snapshot = %d.id, "removed by retention");
        out.removed += 1;
    }
    Ok(out)
}

/// After a committed run: prune when the job has a policy. A failure here does not undo the
/// commit; it becomes a warning, and the next prune finishes the work.
pub async fn after_run(
    repo: &Repository,
    job: &JobConfig,
    tz: Tz,
    made: SnapshotId,
    report: &mut RunReport,
) {
    let policy = &job.retention;
    if policy.is_empty() {
        return;
    }
    match prune(repo, policy, tz, Some(made)).await {
        Ok(p) => {
            if p.removed > 0 {
                tracing::info!(job = %job.name, "retention removed {} snapshot(s), {} remain", p.removed, p.remaining);
            }
            report.snapshots = Some(p.remaining as u64);
            report.warnings.extend(p.warnings);
        }
        Err(e) => report.warnings.push(format!(
            "applying the retention policy after the run failed: {e}; the snapshot is committed, and the next prune or run retries"
        )),
    }
}

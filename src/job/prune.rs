//! Applying a retention policy on the server, for `backup prune` and after each successful run.
//! A snapshot is deleted by first renaming `<id>` to `.<id>.deleting` (after which it no longer
//! lists as a snapshot), then removing its files and directory; a `.deleting` directory left by
//! an interrupted prune is finished by the next one. The caller holds the job's lock.

use chrono_tz::Tz;

use super::JobError;
use super::snapshots::committed;
use crate::config::JobConfig;
use crate::layout::{Entry, JobDir, SnapshotId};
use crate::outcome::RunReport;
use crate::remote::Sftp;
use crate::retention::{self, Decision, Policy};

/// What a prune decided and did.
#[derive(Debug, Default)]
pub struct Pruned {
    /// Newest first, one per committed snapshot.
    pub decisions: Vec<Decision>,
    /// Leftover `.deleting` directories finished (or, in a dry run, found).
    pub finished: Vec<SnapshotId>,
    pub removed: usize,
    /// Committed snapshots left afterwards (in a dry run: that would be left).
    pub remaining: usize,
}

/// Decides with `policy` over the committed snapshots in `dir` and, unless `dry_run`, removes
/// what it does not keep. `protect` is never removed whatever the policy says (the snapshot a
/// run just made, in case a clock skew put a newer id on the server).
pub async fn prune(
    sftp: &Sftp,
    dir: &JobDir,
    policy: &Policy,
    tz: Tz,
    dry_run: bool,
    protect: Option<SnapshotId>,
) -> Result<Pruned, JobError> {
    let mut out = Pruned::default();
    let entries = match sftp.list(dir.path()).await {
        Ok(e) => e,
        Err(e) if e.is_not_found() => return Ok(out),
        Err(e) => return Err(e.into()),
    };
    for e in &entries {
        if let Entry::Deleting(id) = Entry::classify(&e.name) {
            if !dry_run {
                tracing::info!(
                    "finishing the removal of snapshot {id}, which an earlier prune began"
                );
                sftp.remove_tree(&dir.deleting(id)).await?;
            }
            out.finished.push(id);
        }
    }
    let names: Vec<String> = committed(sftp, dir)
        .await?
        .into_iter()
        .map(|m| m.snapshot)
        .collect();
    out.decisions = retention::apply(&names, policy, tz);
    for d in &mut out.decisions {
        if !d.keep && Some(d.id) == protect {
            d.keep = true;
            d.reasons.push("just made".into());
        }
    }
    out.remaining = out.decisions.iter().filter(|d| d.keep).count();
    if dry_run {
        return Ok(out);
    }
    for d in out.decisions.iter().filter(|d| !d.keep) {
        let deleting = dir.deleting(d.id);
        sftp.rename(&dir.snapshot(d.id), &deleting).await?;
        sftp.remove_tree(&deleting).await?;
        tracing::info!(snapshot = %d.id, "removed by retention");
        out.removed += 1;
    }
    Ok(out)
}

/// After a committed run: prune when the job has a policy. A failure here does not undo the
/// commit; it becomes a warning, and the next prune finishes the work.
pub async fn after_run(
    sftp: &Sftp,
    dir: &JobDir,
    job: &JobConfig,
    tz: Tz,
    made: SnapshotId,
    report: &mut RunReport,
) {
    let policy = &job.retention;
    if policy.is_empty() {
        return;
    }
    match prune(sftp, dir, policy, tz, false, Some(made)).await {
        Ok(p) => {
            if p.removed > 0 {
                tracing::info!(job = %job.name, "retention removed {} snapshot(s), {} remain", p.removed, p.remaining);
            }
            report.snapshots = Some(p.remaining as u64);
        }
        Err(e) => report.warnings.push(format!(
            "applying the retention policy after the run failed: {e}; the snapshot is committed, and the next prune or run retries"
        )),
    }
}

//! `backup prune JOB... | --all [--dry-run]`: a table of every committed snapshot with its
//! verdict and the rules behind it, then the removals. Takes each job's local lock and the
//! history's lock on the server, so it never races a run of the same job from any agent, and
//! refuses a history another machine owns. A dry run goes through the same steps over a
//! remote that changes nothing.

use std::sync::Arc;

use super::out::outln;
use super::{CliError, select_jobs};
use crate::config::{Config, JobConfig};
use crate::job::lock::{self, LockError};
use crate::job::prune::{Pruned, prune as prune_job};
use crate::remote::{self, DryRun, Remote, RetryReads};
use crate::repository::{Owner, Repository};
use crate::retention::Policy;

pub async fn prune(
    cfg: &Config,
    names: &[String],
    all: bool,
    dry_run: bool,
    remote: Option<&str>,
) -> Result<i32, CliError> {
    let mut views = Vec::new();
    for j in select_jobs(cfg, names, all)? {
        let label = |r: &str| {
            if j.destinations.len() > 1 {
                format!("{} at {r}", j.name)
            } else {
                j.name.clone()
            }
        };
        match remote {
            None => views.extend(
                j.destinations
                    .iter()
                    .map(|d| (label(&d.remote.name), j.at(d))),
            ),
            Some(r) => match j.at_remote(r) {
                Some(v) => views.push((label(r), v)),
                // `--all --remote nas`: the jobs that write there.
                None if all => {}
                None => {
                    return Err(CliError::Usage(format!(
                        "job {} has no destination {r:?}; its destinations: {}",
                        j.name,
                        j.destination_names().join(", ")
                    )));
                }
            },
        }
    }
    let mut failures = Vec::new();
    let mut hint = None;
    let mut warned = false;
    for (label, j) in &views {
        match one(cfg, j, label, dry_run).await {
            Ok(w) => warned |= w,
            // stdout is gone: nobody is left to read the rest.
            Err(e @ CliError::Silent(_)) => return Err(e),
            Err(e) => {
                failures.push(format!("job {label}: {e}"));
                if let Some(h) = e.hint() {
                    hint.get_or_insert_with(|| h.to_string());
                }
            }
        }
    }
    if failures.is_empty() {
        // Like a run: done, but something needs a look (exit 3).
        Ok(if warned { 3 } else { 0 })
    } else {
        Err(CliError::failed(
            format!(
                "prune failed for {} job(s):\n  {}",
                failures.len(),
                failures.join("\n  ")
            ),
            hint,
        ))
    }
}

/// Prunes one job; `Ok(true)` when something on the server was found and left alone.
async fn one(cfg: &Config, j: &JobConfig, label: &str, dry_run: bool) -> Result<bool, CliError> {
    if j.remote.append_only {
        outln!(
            "job {label}: remote {} is append_only: the backup server's vault rotates it (backup vault run); nothing to prune from here",
            j.remote.name
        )?;
        return Ok(false);
    }
    let policy: Policy = j.retention.clone();
    let _lock = match lock::acquire_off_runtime(&cfg.agent.state_dir, &j.name, false).await {
        Ok(l) => l,
        Err(LockError::Held(who)) => {
            return Err(CliError::failed(
                who,
                Some("prune again when the run has finished".into()),
            ));
        }
        Err(LockError::Io(e)) => {
            return Err(CliError::failed(
                e,
                Some("check that state_dir is writable".into()),
            ));
        }
    };
    let real: Arc<dyn Remote> = Arc::new(RetryReads(remote::open(&j.remote).await?));
    let remote: Arc<dyn Remote> = if dry_run {
        Arc::new(DryRun::new(real.clone()))
    } else {
        real.clone()
    };
    let repo = Repository::new(remote, &j.remote.path, &j.name);
    let tz = cfg.agent.timezone;
    let me = Owner::this_machine(&cfg.agent.host_name);
    let result = async {
        let held = repo.lock_for_write(&me, false).await?;
        let pruned = prune_job(&repo, &policy, tz, None).await;
        held.release().await;
        pruned.map_err(CliError::from)
    }
    .await;
    real.close().await;
    let p = result?;
    if !dry_run {
        crate::report::snapshots_seen(cfg, &j.name, p.remaining as u64).await;
    }
    print_table(label, &p, &policy, tz, dry_run)?;
    for w in &p.warnings {
        super::out::eprint_line(&format!("warning: job {label}: {w}"));
    }
    Ok(!p.warnings.is_empty())
}

fn print_table(
    label: &str,
    p: &Pruned,
    policy: &Policy,
    tz: chrono_tz::Tz,
    dry_run: bool,
) -> Result<(), CliError> {
    let remove = p.decisions.iter().filter(|d| !d.keep).count();
    outln!(
        "job {}: {} snapshot(s), keep {}, {} {}{}",
        label,
        p.decisions.len(),
        p.remaining,
        if dry_run { "would remove" } else { "removed" },
        remove,
        if policy.is_empty() {
            " (no retention policy: everything is kept)"
        } else {
            ""
        }
    )?;
    for d in &p.damaged {
        outln!("  {}  DAMAGED, kept and not counted: {}", d.id, d.problem)?;
    }
    for id in &p.finished {
        outln!(
            "  {id}  {}: an interrupted removal",
            if dry_run { "to finish" } else { "finished" }
        )?;
    }
    if p.decisions.is_empty() {
        return Ok(());
    }
    outln!(
        "  {:<16}  {:<25}  {:<6}  REASONS",
        "ID",
        format!("TIME ({tz})"),
        "ACTION"
    )?;
    for d in &p.decisions {
        outln!(
            "  {:<16}  {:<25}  {:<6}  {}",
            d.id.to_string(),
            d.id.time()
                .with_timezone(&tz)
                .format("%Y-%m-%d %H:%M:%S %Z")
                .to_string(),
            if d.keep { "keep" } else { "remove" },
            d.reasons.join(", ")
        )?;
    }
    Ok(())
}

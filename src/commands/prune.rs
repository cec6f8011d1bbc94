//! `backup prune JOB... | --all [--dry-run]`: a table of every committed snapshot with its
//! verdict and the rules behind it, then the removals. Takes each job's lock, so it never
//! races a run of the same job.

use super::{CliError, select_jobs};
use crate::config::{Config, JobConfig};
use crate::job::lock::{self, LockError};
use crate::job::prune::{Pruned, prune as prune_job};
use crate::layout::JobDir;
use crate::remote::Connection;
use crate::retention::Policy;

pub async fn prune(
    cfg: &Config,
    names: &[String],
    all: bool,
    dry_run: bool,
) -> Result<i32, CliError> {
    let jobs = select_jobs(cfg, names, all)?;
    let mut failures = Vec::new();
    for j in jobs {
        if let Err(e) = one(cfg, j, dry_run).await {
            eprintln!("error: job {}: {e}", j.name);
            failures.push(format!("job {}: {e}", j.name));
        }
    }
    if failures.is_empty() {
        Ok(0)
    } else {
        Err(CliError::Failed(format!(
            "prune failed for {} job(s):\n  {}",
            failures.len(),
            failures.join("\n  ")
        )))
    }
}

async fn one(cfg: &Config, j: &JobConfig, dry_run: bool) -> Result<(), CliError> {
    let policy: Policy = j.retention.clone();
    let _lock = match lock::acquire(&cfg.agent.state_dir, &j.name, false) {
        Ok(l) => l,
        Err(LockError::Held(who)) => {
            return Err(CliError::Failed(format!(
                "{who}\nhint: prune again when the run has finished"
            )));
        }
        Err(LockError::Io(e)) => {
            return Err(CliError::Failed(format!(
                "{e}\nhint: check that state_dir is writable"
            )));
        }
    };
    let conn = Connection::open(&j.remote).await?;
    let sftp = conn.sftp().await?;
    let dir = JobDir::new(&j.remote.path, &j.name);
    let tz = cfg.agent.timezone;
    let result = prune_job(&sftp, &dir, &policy, tz, dry_run, None).await;
    conn.close().await;
    let p = result?;
    if !dry_run {
        crate::report::snapshots_seen(cfg, &j.name, p.remaining as u64);
    }
    print_table(j, &p, &policy, tz, dry_run);
    Ok(())
}

fn print_table(j: &JobConfig, p: &Pruned, policy: &Policy, tz: chrono_tz::Tz, dry_run: bool) {
    let remove = p.decisions.len() - p.remaining;
    println!(
        "job {}: {} snapshot(s), keep {}, {} {}{}",
        j.name,
        p.decisions.len(),
        p.remaining,
        if dry_run { "would remove" } else { "removed" },
        remove,
        if policy.is_empty() {
            " (no retention policy: everything is kept)"
        } else {
            ""
        }
    );
    for id in &p.finished {
        println!(
            "  {id}  {}: an interrupted removal",
            if dry_run { "to finish" } else { "finished" }
        );
    }
    if p.decisions.is_empty() {
        return;
    }
    println!(
        "  {:<16}  {:<25}  {:<6}  REASONS",
        "ID",
        format!("TIME ({tz})"),
        "ACTION"
    );
    for d in &p.decisions {
        println!(
            "  {:<16}  {:<25}  {:<6}  {}",
            d.id.to_string(),
            d.id.time()
                .with_timezone(&tz)
                .format("%Y-%m-%d %H:%M:%S %Z")
                .to_string(),
            if d.keep { "keep" } else { "remove" },
            d.reasons.join(", ")
        );
    }
}

//! `backup run`: jobs one after another in the foreground; the exit code is the worst outcome.

use super::{CliError, select_jobs};
use crate::config::Config;
use crate::job::{self, RunOptions};
use crate::outcome::{Outcome, RunReport};
use crate::report::state;

pub async fn run(
    cfg: &Config,
    names: &[String],
    all: bool,
    opts: &RunOptions,
) -> Result<i32, CliError> {
    let jobs = select_jobs(cfg, names, all)?;
    let dry_run = opts.dry_run;
    let mut worst = 0;
    let mut failures = Vec::new();
    let mut hints = Vec::new();
    for j in jobs {
        let (report, err) = job::run_observed(cfg, j, opts).await;
        if dry_run && err.is_none() {
            continue;
        }
        if !dry_run {
            record(cfg, &report, &err).await;
        }
        // The summary line itself is logged by `run_observed`.
        if matches!(report.outcome, Outcome::Failed | Outcome::Partial) {
            failures.push(format!(
                "job {}: {}",
                j.name,
                report.error.clone().unwrap_or_default()
            ));
            if let Some(h) = err.as_ref().and_then(|e| e.hint())
                && !hints.contains(&h)
            {
                hints.push(h);
            }
        }
        worst = worse(worst, report.outcome.exit_code());
    }
    if !failures.is_empty() {
        let hint = (!hints.is_empty()).then(|| hints.join("\nhint: "));
        return Err(CliError::failed(failures.join("\n"), hint));
    }
    Ok(worst)
}

/// A manual run goes into the state file like a scheduled one, so `backup status` tells the
/// whole story; a refused run (lock held) did nothing and is not recorded.
async fn record(cfg: &Config, report: &RunReport, err: &Option<job::JobError>) {
    if matches!(err, Some(job::JobError::Locked(_))) {
        return;
    }
    let report = report.clone();
    crate::report::record(cfg, move |d| {
        state::record_run(d, &report, state::Trigger::Manual)
    })
    .await;
}

/// 1 (failed) outranks 3 (warnings) outranks 0.
fn worse(a: i32, b: i32) -> i32 {
    let rank = |c: i32| match c {
        1 => 3,
        3 => 2,
        0 => 0,
        _ => 1,
    };
    if rank(b) > rank(a) { b } else { a }
}

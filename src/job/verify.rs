//! A verification of one job's stored snapshots as `backup verify` and the daemon's
//! `verify_schedule` both run it: connect (reads retried), [`Repository::audit`], disconnect;
//! and its result as the state file and metrics record it.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::JobError;
use crate::config::JobConfig;
use crate::outcome::VerifyReport;
use crate::remote::{self, Remote, RetryReads};
use crate::repository::{Audit, Found, Opener, Repository, Which};

/// Problems kept in the state file: enough to name what is wrong, bounded for a big history.
const KEPT_PROBLEMS: usize = 20;

pub async fn audit(
    job: &JobConfig,
    which: Which<'_>,
    read: bool,
    opener: Option<&dyn Opener>,
    seen: &mut (dyn FnMut(Found<'_>) + Send),
) -> Result<Audit, JobError> {
    let remote: Arc<dyn Remote> = Arc::new(RetryReads(remote::open(&job.remote).await?));
    let repo = Repository::new(remote.clone(), &job.remote.path, &job.name);
    let result = repo.audit(which, read, opener, seen).await;
    remote.close().await;
    Ok(result?)
}

/// The daemon's `verify_schedule`: [`audit`] at every destination of the job. With several,
/// each finding is prefixed with its destination, and one that cannot be reached is a problem
/// (the others are still checked), so a copy that went bad or away is reported.
pub async fn audit_every_destination(
    job: &JobConfig,
    which: Which<'_>,
    read: bool,
    seen: &mut (dyn FnMut(Found<'_>) + Send),
) -> Result<Audit, JobError> {
    if job.destinations.len() == 1 {
        return audit(job, which, read, None, seen).await;
    }
    let mut all = Audit::default();
    for d in &job.destinations {
        let name = &d.remote.name;
        match audit(&job.at(d), which, read, None, seen).await {
            Ok(a) => {
                all.checked
                    .extend(a.checked.iter().map(|c| format!("{name}:{c}")));
                all.problems
                    .extend(a.problems.iter().map(|p| format!("{name}: {p}")));
            }
            Err(e) => all.problems.push(format!("{name}: {e}")),
        }
    }
    Ok(all)
}

/// The record of one verification that started at `started_at`.
pub fn report(
    job: &str,
    scheduled: bool,
    all: bool,
    started_at: DateTime<Utc>,
    result: &Result<Audit, JobError>,
) -> VerifyReport {
    let (snapshots, mut problems, error) = match result {
        Ok(a) if a.checked.is_empty() && a.problems.is_empty() => (
            Vec::new(),
            Vec::new(),
            Some(format!("no snapshots of job {job} to verify")),
        ),
        Ok(a) => (a.checked.clone(), a.problems.clone(), None),
        Err(e) => (Vec::new(), Vec::new(), Some(e.to_string())),
    };
    if problems.len() > KEPT_PROBLEMS {
        let more = problems.len() - KEPT_PROBLEMS;
        problems.truncate(KEPT_PROBLEMS);
        problems.push(format!("... and {more} more"));
    }
    VerifyReport {
        job: job.to_string(),
        scheduled,
        started_at,
        finished_at: Utc::now(),
        all,
        snapshots,
        problems,
        error,
    }
}

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

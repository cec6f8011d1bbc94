//! What the scheduler calls to run or verify a job: the real `job::run` and `job::verify`, or
//! a fake in tests.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use crate::config::{Config, VerifyMode};
use crate::job::lock::{self, JobLock, LockError};
use crate::job::{self, JobError, RunOptions, verify};
use crate::outcome::{RunReport, VerifyReport};
use crate::repository::{Found, Which};

/// How often a verification waiting for a job held by `backup run`/`prune` looks again.
const LOCK_POLL: Duration = Duration::from_secs(5);

pub trait Runner: Send + Sync + 'static {
    /// Runs job `name` of `config` once; the error says whether a retry may help.
    fn run(
        &self,
        config: Arc<Config>,
        name: String,
    ) -> impl Future<Output = (RunReport, Option<JobError>)> + Send;

    /// Verifies job `name`'s stored snapshots (`verify_all`: all, else the latest).
    fn verify(
        &self,
        config: Arc<Config>,
        name: String,
    ) -> impl Future<Output = VerifyReport> + Send;
}

/// Runs jobs for real, never waiting for a lock: a job held by `backup run` skips this tick.
/// A verification waits for the lock instead: it has no schedule slot to lose.
pub struct JobRunner;

impl Runner for JobRunner {
    async fn run(&self, config: Arc<Config>, name: String) -> (RunReport, Option<JobError>) {
        let opts = RunOptions {
            dry_run: false,
            wait_for_lock: false,
            progress_bar: false,
            take_over: false,
        };
        match config.job(&name) {
            Some(job) => job::run_observed(&config, job, &opts).await,
            None => failed(
                &name,
                JobError::Local(format!("job {name} is not in the config")),
            ),
        }
    }

    async fn verify(&self, config: Arc<Config>, name: String) -> VerifyReport {
        let started = Utc::now();
        let Some(job) = config.job(&name) else {
            let e = JobError::Local(format!("job {name} is not in the config"));
            return verify::report(&name, true, false, started, &Err(e));
        };
        let which = if job.verify_all {
            Which::All
        } else {
            Which::Latest
        };
        let result = match job_lock(&config.agent.state_dir, &name).await {
            Ok(_lock) => {
                let read = job.verify == VerifyMode::Readback;
                let mut seen = |f: Found<'_>| {
                    if let Found::Checked(c) = f {
                        tracing::debug!(job = %name, "snapshot {} checked: {} problem(s)", c.id, c.problems.len());
                    }
                };
                // The daemon runs where backups are made, which holds no identity: encrypted
                // snapshots are checked by their hashes.
                verify::audit_every_destination(job, which, read, &mut seen).await
            }
            Err(e) => Err(JobError::Local(e)),
        };
        verify::report(&name, true, job.verify_all, started, &result)
    }
}

/// The job's lock, waited for: a verification must not read a history a run or prune of the
/// same job is changing.
async fn job_lock(state_dir: &Path, name: &str) -> Result<JobLock, String> {
    let mut told = false;
    loop {
        match lock::acquire_off_runtime(state_dir, name, false).await {
            Ok(l) => return Ok(l),
            Err(LockError::Held(who)) => {
                if !told {
                    tracing::info!(job = name, "the verification waits: {who}");
                    told = true;
                }
                tokio::time::sleep(LOCK_POLL).await;
            }
            Err(LockError::Io(e)) => return Err(e),
        }
    }
}

/// A report for a run that did not get to do anything (or was cut short).
pub fn failed(name: &str, err: JobError) -> (RunReport, Option<JobError>) {
    let mut report = RunReport::started(name, Utc::now());
    report.error = Some(err.to_string());
    (report, Some(err))
}

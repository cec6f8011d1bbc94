//! What the scheduler calls to run a job: the real `job::run`, or a fake in tests.

use std::future::Future;
use std::sync::Arc;

use chrono::Utc;

use crate::config::Config;
use crate::job::{self, JobError, RunOptions};
use crate::outcome::{Outcome, RunReport};

pub trait Runner: Send + Sync + 'static {
    /// Runs job `name` of `config` once; the error says whether a retry may help.
    fn run(
        &self,
        config: Arc<Config>,
        name: String,
    ) -> impl Future<Output = (RunReport, Option<JobError>)> + Send;
}

/// Runs jobs for real, never waiting for a lock: a job held by `backup run` skips this tick.
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
}

/// A report for a run that did not get to do anything (or was cut short).
pub fn failed(name: &str, err: JobError) -> (RunReport, Option<JobError>) {
    let now = Utc::now();
    let report = RunReport {
        job: name.to_string(),
        outcome: Outcome::Failed,
        snapshot: None,
        started_at: now,
        finished_at: now,
        files: 0,
        bytes_read: 0,
        bytes_stored: 0,
        warnings: Vec::new(),
        skipped_sources: Vec::new(),
        error: Some(err.to_string()),
        verified_by: None,
        snapshots: None,
    };
    (report, Some(err))
}

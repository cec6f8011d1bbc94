//! A run as the operator sees it: the healthcheck start ping, the run, one structured summary
//! log line, then the result ping and the webhook. `backup run` and the daemon both go
//! through here, so they notify and log alike. A dry run sends nothing.

use super::JobError;
use super::lock;
use super::run::{RunOptions, run};
use crate::config::{Config, JobConfig};
use crate::outcome::{Outcome, RunReport};
use crate::report::notify::{Notifier, RunSummary};

pub async fn run_observed(
    config: &Config,
    job: &JobConfig,
    opts: &RunOptions,
) -> (RunReport, Option<JobError>) {
    if opts.dry_run {
        return run(config, job, opts).await;
    }
    let notifier = Notifier::new(job.notify.as_ref());
    // A run refused for the lock did nothing: it must not open a healthcheck "run" either.
    let refused = !opts.wait_for_lock && lock::holder(&config.agent.state_dir, &job.name).is_some();
    let started = notifier
        .as_ref()
        .filter(|_| !refused)
        .and_then(|n| n.start());
    let (report, err) = run(config, job, opts).await;
    if matches!(err, Some(JobError::Locked(_))) {
        return (report, err);
    }
    let summary = RunSummary::new(&report);
    log_summary(&summary, report.outcome);
    if let Some(n) = notifier {
        n.finish(started, &summary).await;
    }
    (report, err)
}

/// One line with the webhook's fields, at a level that matches the outcome.
fn log_summary(s: &RunSummary, outcome: Outcome) {
    macro_rules! summary_event {
        ($level:expr) => {
            tracing::event!(
                $level,
                job = %s.job,
                outcome = s.outcome,
                exit_code = s.exit_code,
                snapshot = s.snapshot.as_deref().unwrap_or(""),
                duration_seconds = s.duration_seconds,
                files = s.files,
                bytes_read = s.bytes_read,
                bytes_stored = s.bytes_stored,
                warnings = s.warnings,
                error = s.error.as_deref().unwrap_or(""),
                "{}",
                s.summary
            )
        };
    }
    match outcome {
        Outcome::Success => summary_event!(tracing::Level::INFO),
        // Each warning was logged where it happened, by the snapshot producer.
        Outcome::Warnings => summary_event!(tracing::Level::WARN),
        Outcome::Failed | Outcome::Partial => summary_event!(tracing::Level::ERROR),
    }
}

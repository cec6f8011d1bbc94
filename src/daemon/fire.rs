//! One scheduled run of a job: jitter, a concurrency slot, the run, its record in the state
//! file, and retries of transient failures with a doubling delay.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::clock::Clock;
use super::context::Shared;
use super::runner::{self, Runner};
use crate::config::Config;
use crate::job::JobError;
use crate::report::state::{self, Trigger};

/// Runs `name` for its scheduled time `at`. Returns when the run (and its retries) are done,
/// or at once when the daemon stops before the run started.
pub async fn fire<R: Runner, C: Clock>(
    sh: &Shared<R, C>,
    config: Arc<Config>,
    name: &str,
    mut trigger: Trigger,
    at: DateTime<Utc>,
) {
    let Some(job) = config.job(name) else { return };
    let delay = jitter(job.jitter);
    if !delay.is_zero() {
        tracing::info!(
            job = name,
            "run for {at} starts after a jitter of {}",
            fmt(delay)
        );
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = sh.stopped() => return,
        }
    }
    let mut attempt = 0u32;
    loop {
        let Some((report, err)) = run_in_slot(sh, &config, name).await else {
            return;
        };
        if let Some(JobError::Locked(who)) = &err {
            tracing::warn!(job = name, "skipped the run scheduled for {at}: {who}");
            return;
        }
        let done = report.clone();
        sh.record(Some(config.clone()), move |d| {
            state::record_run(d, &done, trigger)
        })
        .await;
        // The summary line itself is logged by `job::run_observed`.
        let Some(err) = err else { return };
        if report.outcome == crate::outcome::Outcome::Partial {
            tracing::error!(
                job = name,
                "{err}; not retried: the other destinations hold the snapshot, and the next scheduled run brings the missing copies"
            );
            return;
        }
        if !err.is_transient() {
            tracing::error!(
                job = name,
                "run failed ({err}); not retried: this error does not pass by itself"
            );
            return;
        }
        if attempt >= job.retry_attempts {
            tracing::error!(
                job = name,
                "run failed ({err}); no retries left (retry_attempts = {})",
                job.retry_attempts
            );
            return;
        }
        let wait = job.retry_delay.saturating_mul(1 << attempt.min(20));
        attempt += 1;
        tracing::warn!(
            job = name,
            "run failed ({err}); retry {attempt} of {} in {}",
            job.retry_attempts,
            fmt(wait)
        );
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = sh.stopped() => return,
        }
        trigger = Trigger::Retry;
    }
}

/// Waits for a slot, then runs; `None` when the daemon stopped first. A run cancelled at the
/// end of shutdown_timeout is reported as failed: its `.partial` stays on the server and the
/// next run removes it.
async fn run_in_slot<R: Runner, C: Clock>(
    sh: &Shared<R, C>,
    config: &Arc<Config>,
    name: &str,
) -> Option<(crate::outcome::RunReport, Option<JobError>)> {
    // The job's turn before a slot: a run waiting for its own verification holds no slot.
    let gate = sh.gate(name);
    let _turn = match gate.clone().try_lock_owned() {
        Ok(t) => t,
        Err(_) => {
            tracing::info!(
                job = name,
                "waiting for the verification of this job to finish"
            );
            tokio::select! {
                t = gate.lock_owned() => t,
                () = sh.stopped() => return None,
            }
        }
    };
    let permit = match sh.slots.clone().try_acquire_owned() {
        Ok(p) => p,
        Err(_) => {
            tracing::info!(
                job = name,
                "waiting for a free slot (max_concurrent_jobs = {})",
                config.agent.max_concurrent_jobs
            );
            tokio::select! {
                p = sh.slots.clone().acquire_owned() => p.ok()?,
                () = sh.stopped() => return None,
            }
        }
    };
    if sh.is_stopping() {
        return None;
    }
    sh.board.running(name, true);
    let result = tokio::select! {
        r = sh.runner.run(config.clone(), name.to_string()) => r,
        () = sh.cancelled() => runner::failed(name, JobError::Local(format!(
            "cancelled: the daemon was stopping and the run did not finish within shutdown_timeout ({}); \
             the next run removes what it left on the server",
            fmt(config.agent.shutdown_timeout)
        ))),
    };
    sh.board.running(name, false);
    drop(permit);
    Some(result)
}

/// A uniformly random delay in `[0, max]`, drawn per run.
pub fn jitter(max: Duration) -> Duration {
    let ms = u64::try_from(max.as_millis()).unwrap_or(u64::MAX);
    if ms == 0 {
        return Duration::ZERO;
    }
    Duration::from_millis(rand::random_range(0..=ms))
}

pub fn fmt(d: Duration) -> humantime::FormattedDuration {
    humantime::format_duration(d)
}
